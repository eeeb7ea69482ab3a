#!/usr/bin/env bash
# scripts/bench-browse.sh: the price of browsing safely, side by side in one run
# (run by scripts/bench.sh with BENCH_BROWSE=1; no ratio, so no rounds). One point: an MBR disk with one
# ext4 partition holding a 100 MiB file and 1000 small ones in its root. For
# each way of parsing it -- userspace (fuse2fs, the default), the host kernel
# (--kernel-mount), a throw-away VM (--vm: libguestfs' appliance, TCG when KVM
# does not run guests here) -- the time to set the browse up, to list the root
# (cold) and to read the 100 MiB file (cold: every browse has a fresh view).
# No target: the figures say what safety costs.
# Environment: BENCH_DIR (default /var/tmp), HOTSPARE (binary to measure),
# BENCH_BROWSE_VM=0 skips the VM row.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
log() { printf 'bench-browse: %s\n' "$*" >&2; }
export HOTSPARE_WORK_DIR=$T/work
mkdir "$T/work" "$T/b" "$T/root"

log "a disk with a 100 MiB file and 1000 small ones, and its snapshot"
head -c $((100 << 20)) /dev/urandom >"$T/root/big.bin"
for i in $(seq 1 1000); do echo "file $i" >"$T/root/f$i.txt"; done
sum=$(sha256sum <"$T/root/big.bin")
truncate -s 160M "$T/p1.img"
mkfs.ext4 -q -F -L bench -d "$T/root" "$T/p1.img"
truncate -s 161M "$T/disk.img"
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$T/disk.img"
dd if="$T/p1.img" of="$T/disk.img" bs=1M seek=1 conv=notrunc,sparse status=none
rm -rf "$T/root" "$T/p1.img"
"$HS" init "$T/store" >/dev/null
"$HS" snapshot "$T/store" bench "$T/disk.img" >/dev/null
on_exit "'$HS' umount '$T/b'"

s_since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
printf '%-34s %10s %10s %14s %10s\n' "browse of one ext4 partition" "setup s" "ls root s" "read 100MiB s" "MB/s"
measure() { # LABEL [browse options...]
	local label=$1 t0 setup ls rd; shift
	t0=$(date +%s%N)
	"$HS" browse "$T/store" bench "$T/b" "$@" >/dev/null 2>"$T/err" || { log "$label: $(cat "$T/err")"; return 1; }
	setup=$(s_since "$t0")
	t0=$(date +%s%N)
	ls -la "$T/b/p1" >/dev/null
	ls=$(s_since "$t0")
	t0=$(date +%s%N)
	[ "$(sha256sum <"$T/b/p1/big.bin")" = "$sum" ] || { log "$label: wrong bytes"; return 1; }
	rd=$(s_since "$t0")
	"$HS" umount "$T/b"
	printf '%-34s %10s %10s %14s %10s\n' "$label" "$setup" "$ls" "$rd" "$(awk -v s="$rd" 'BEGIN { printf "%.0f", 104.8576 / s }')"
}
measure "userspace (fuse2fs, default)"
measure "host kernel (--kernel-mount)" --kernel-mount
if [[ ${BENCH_BROWSE_VM:-1} == 1 ]] && command -v guestmount >/dev/null; then
	measure "throw-away VM (--vm)" --vm
fi
echo "  (reads through the point's read-only view; the VM is libguestfs' appliance over direct QEMU)"

#!/bin/bash
# The project's test disk (scripts/make-test-disk.sh) is a real bootable system: QEMU boots it off
# virtio-blk with cache=none to the marker and the data checksum, again after a "day"
# (scripts/test-disk-day.sh), and as a SATA (AHCI) disk with an e1000 NIC (the Windows-like profile).
# Every wait is bounded (HS_BOOT_TIMEOUT, default 120 s per boot). HS_TEST_ACCEL=kvm|tcg forces the
# accelerator; otherwise KVM when /dev/kvm is usable, falling back to TCG if KVM fails to run.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root (loop devices)"; exit 77; }
losetup -f >/dev/null 2>&1 || { echo "skip - no loop devices"; exit 77; }

if ! command -v qemu-system-x86_64 >/dev/null; then
	dpkg-query -W -f='${Status}' qemu-system-x86 2>/dev/null | grep -q 'install ok installed' || {
		echo "# installing qemu-system-x86" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2
		apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
	}
fi

TIMEOUT=${HS_BOOT_TIMEOUT:-120}
if [ -n "${HS_TEST_ACCEL:-}" ]; then ACCEL=$HS_TEST_ACCEL
elif [ -r /dev/kvm ] && [ -w /dev/kvm ]; then ACCEL=kvm
else ACCEL=tcg; fi
# cache=none opens the image with O_DIRECT: not every filesystem (tmpfs) supports it.
CACHE_MODE=none
dd if=/dev/zero of="$T/.odirect" bs=4096 count=1 oflag=direct status=none 2>/dev/null || {
	CACHE_MODE=writeback; echo "# $T does not support O_DIRECT: cache=writeback"; }
rm -f "$T/.odirect"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

QPID=
stop_qemu() {
	[ -n "$QPID" ] || return 0
	kill -9 "$QPID" 2>/dev/null || true
	wait "$QPID" 2>/dev/null || true
	QPID=
}
on_exit stop_qemu

# boot NAME EXPECTED_SHA QEMU_ARGS...: boot until the serial console shows the data checksum
# EXPECTED_SHA and a login prompt, then kill QEMU. Sets BOOT_SECONDS; the console is $T/NAME.serial.
boot() {
	local name=$1 sha=$2 log=$T/$1.serial err=$T/$1.stderr start result deadline; shift 2
	while :; do
		: >"$log"
		start=$(now)
		qemu-system-x86_64 -accel "$ACCEL" -m 256 -display none -vga none -monitor none \
			-no-reboot -serial "file:$log" "$@" </dev/null >"$err" 2>&1 &
		QPID=$!
		result=timeout
		deadline=$((SECONDS + TIMEOUT))
		while [ $SECONDS -lt $deadline ]; do
			if grep -q 'HOTSPARE-DATA-SHA256' "$log" && grep -q 'login:' "$log"; then
				if grep -q "HOTSPARE-DATA-SHA256 $sha" "$log"; then result=ok; else result=wrong-checksum; fi
				break
			fi
			grep -q 'HOTSPARE-BOOT-FAILED' "$log" && { sleep 1; result=no-root; break; }
			if [ "$ACCEL" = kvm ] && grep -Eqi 'KVM internal error|failed to initialize kvm|Could not access KVM' "$err"; then
				result=kvm-broken; break
			fi
			kill -0 "$QPID" 2>/dev/null || { result=qemu-exited; break; }
			sleep 0.2
		done
		BOOT_SECONDS=$(elapsed "$start")
		stop_qemu
		[ "$result" = kvm-broken ] || break
		echo "# KVM does not run guests here: falling back to TCG"
		ACCEL=tcg
	done
	if [ "$result" != ok ]; then
		echo "--- serial console ($name):" >&2; tail -n 30 "$log" >&2
		echo "--- qemu stderr:" >&2; tail -n 20 "$err" >&2
		fail "$name: $result after $BOOT_SECONDS s"
	fi
	[ "$(grep -c '^HOTSPARE-BOOT-OK' "$log")" -eq 1 ] || fail "$name: HOTSPARE-BOOT-OK not printed exactly once"
}
marker() { grep -a "^$2 " "$T/$1.serial" | head -n1 | tr -d '\r' | cut -d' ' -f2-; } # NAME KEY

# Run CMD in the image's root filesystem, mounted read-only through a read-only loop device at the
# partition's offset. Whatever happens, nothing stays mounted or attached at exit.
MNT=$T/mnt
detach_all() {
	local f
	if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" || umount -l "$MNT"; fi
	for f in "$T"/*.img; do losetup -j "$f" | cut -d: -f1 | xargs -r -n1 losetup -d; done
}
on_exit detach_all
disk_cmd() { # IMG CMD...
	local img=$1 dev rc=0; shift
	mkdir -p "$MNT"
	dev=$(losetup -f --show -r -o 1048576 "$img")
	if mount -t ext4 -o ro,noload "$dev" "$MNT"; then
		(cd "$MNT" && "$@") || rc=$?
		umount "$MNT"
	else rc=1; fi
	losetup -d "$dev"
	return $rc
}
fsck_disk() { # IMG
	local img=$1 dev rc=0
	dev=$(losetup -f --show -r -o 1048576 "$img")
	e2fsck -fn "$dev" >"$T/fsck.out" 2>&1 || rc=$?
	losetup -d "$dev"
	[ $rc -eq 0 ] || { cat "$T/fsck.out" >&2; return 1; }
}

# --- the disk ---------------------------------------------------------------------------------
start=$(now)
sha0=$("$ROOT/scripts/make-test-disk.sh" "$T/disk.img")
build_s=$(elapsed "$start")
start=$(now)
[ "$("$ROOT/scripts/make-test-disk.sh" "$T/again.img")" = "$sha0" ] || fail "the cached disk differs"
cached_s=$(elapsed "$start")
cmp -s "$T/disk.img" "$T/again.img" || fail "two copies of the cached disk differ"
rm -f "$T/again.img"
size=$(stat -c %s "$T/disk.img")
[ "$size" -le $((128 * 1048576)) ] || fail "test disk is $size bytes, over 128 MiB"
[ "$(od -An -tx1 -j510 -N2 "$T/disk.img" | tr -d ' ')" = 55aa ] || fail "no MBR signature"
sfdisk --dump "$T/disk.img" | grep -Eq 'start= *2048,.*type=83, bootable' || fail "no bootable Linux partition at 1 MiB"
[ "$(disk_cmd "$T/disk.img" sha256sum srv/data.bin | cut -d' ' -f1)" = "$sha0" ] ||
	fail "make-test-disk.sh printed a checksum that is not the data file's"
fsck_disk "$T/disk.img" || fail "e2fsck of the new disk's filesystem"
pass "test disk built in $build_s s (cached: $cached_s s), $((size / 1048576)) MiB, $(( $(stat -c %b "$T/disk.img") * 512 / 1048576 )) MiB allocated"

# --- virtio -----------------------------------------------------------------------------------
boot virtio "$sha0" -nic none -drive "file=$T/disk.img,format=raw,if=virtio,cache=$CACHE_MODE"
[ "$(marker virtio HOTSPARE-BOOT-COUNT)" = 1 ] || fail "virtio: boot count is not 1"
marker virtio HOTSPARE-DEVICES | grep -q '^root=/dev/vda1 ' || fail "virtio: root is not /dev/vda1"
pass "boots off virtio-blk (cache=$CACHE_MODE, $ACCEL): marker and checksum after $BOOT_SECONDS s"
# The guest wrote to its disk and left the filesystem clean.
[ "$(disk_cmd "$T/disk.img" cat var/lib/hotspare/boot-count)" = 1 ] || fail "the guest's boot count did not reach the disk"
fsck_disk "$T/disk.img" || fail "e2fsck after the guest ran"
pass "the guest's write reached the disk and its filesystem is clean"

# --- a day ------------------------------------------------------------------------------------
cp --sparse=always "$T/disk.img" "$T/day.img"
sha1=$("$ROOT/scripts/test-disk-day.sh" "$T/day.img" 1)
[[ $sha1 =~ ^[0-9a-f]{64}$ ]] || fail "test-disk-day.sh printed '$sha1'"
[ "$sha1" != "$sha0" ] || fail "a day did not change the data"
[ "$(disk_cmd "$T/day.img" sha256sum srv/data.bin | cut -d' ' -f1)" = "$sha1" ] || fail "a day's checksum is not the data file's"
cmp -s "$T/disk.img" "$T/day.img" && fail "a day left the image unchanged"
boot day "$sha1" -nic none -drive "file=$T/day.img,format=raw,if=virtio,cache=$CACHE_MODE"
[ "$(marker day HOTSPARE-BOOT-COUNT)" = 2 ] || fail "day: boot count is not 2"
pass "after a day: the new checksum after $BOOT_SECONDS s"

# --- Windows-like profile: SATA (AHCI) disk, e1000 NIC on nothing -----------------------------
boot sata "$sha1" -drive "if=none,id=d,file=$T/day.img,format=raw,cache=$CACHE_MODE" \
	-device ahci,id=ahci -device ide-hd,drive=d,bus=ahci.0 \
	-netdev user,id=n,restrict=on -device e1000,netdev=n
devs=$(marker sata HOTSPARE-DEVICES)
[[ $devs == "root=/dev/sda1 "* ]] || fail "sata: root is not /dev/sda1 ($devs)"
[[ $devs == *:e1000* ]] || fail "sata: no e1000 NIC in the guest ($devs)"
[ "$(marker sata HOTSPARE-BOOT-COUNT)" = 3 ] || fail "sata: boot count is not 3"
pass "boots off SATA (AHCI) with an e1000 NIC: marker and checksum after $BOOT_SECONDS s"

[ -z "$(losetup -j "$T/disk.img")$(losetup -j "$T/day.img")" ] || fail "loop devices left behind"

#!/bin/bash
# browse: a point's ext4 and NTFS partitions mounted read-only from its
# sources (checksums of known files) by userspace drivers (fuse2fs, ntfs-3g:
# no loop device, no ext4/ntfs3 mount in the host kernel), also with a dirty
# ext4 journal and an NTFS volume marked dirty (nothing replayed, the point
# unchanged), with --kernel-mount as before, and while the same server's spare
# is mounted and written beside it; umount DIR leaves no loop device, mount,
# driver process or state, also after kill -9 of a driver. A fuzzed ext4 is
# browsed without one ext4 error in the kernel's log, and an XFS partition is
# read through a throw-away VM (libguestfs; about a minute under TCG).
# test-browse.sh [fs|vm]: fs (the default) runs all but the VM path; vm runs
# only the VM path (XFS, LVM), in the normal tree only (minutes under TCG).
. "$(dirname "$0")/../lib.sh"
PART=${1:-fs}
losetup -f >/dev/null 2>&1 || { echo "skip - no loop devices"; exit 77; }
command -v mkntfs >/dev/null && command -v ntfs-3g >/dev/null || { echo "skip - no mkntfs/ntfs-3g"; exit 77; }
export HOTSPARE_WORK_DIR=$T/work
mkdir "$T/work"

# A 64 MiB disk: MBR, p1 ext4 (24 MiB, sector 2048), p2 NTFS (the rest).
P1=2048 P1N=49152 P2=51200
truncate -s 64M "$T/disk.img"
printf 'label: dos\nstart=%d, size=%d, type=83\nstart=%d, type=7\n' $P1 $P1N $P2 | sfdisk -q "$T/disk.img"
P2N=$(( 64 * 2048 - P2 ))
head -c 300000 /dev/urandom >"$T/ext.bin"
head -c 200000 /dev/urandom >"$T/ntfs.bin"
mkdir -p "$T/root/srv" "$T/m"
cp "$T/ext.bin" "$T/root/srv/known.bin"
truncate -s $((P1N * 512)) "$T/p1.img"
mkfs.ext4 -q -F -L hsroot -d "$T/root" "$T/p1.img"
truncate -s $((P2N * 512)) "$T/p2.img"
mkntfs -Q -q -F -L hsdata -p $P2 -H 16 -S 63 "$T/p2.img" >/dev/null 2>&1 || fail "mkntfs"
ntfs-3g "$T/p2.img" "$T/m"; on_exit umount "$T/m"
mkdir "$T/m/Data"; cp "$T/ntfs.bin" "$T/m/Data/known.bin"
umount "$T/m"
dd if="$T/p1.img" of="$T/disk.img" bs=512 seek=$P1 conv=notrunc,sparse status=none
dd if="$T/p2.img" of="$T/disk.img" bs=512 seek=$P2 conv=notrunc,sparse status=none
sum_ext=$(sha256sum <"$T/ext.bin") sum_ntfs=$(sha256sum <"$T/ntfs.bin")

"$HS" init "$T/store" --chunk-size 64K >/dev/null
"$HS" snapshot --ship "$T/usb" "$T/store" mail01 "$T/disk.img" >/dev/null
# ntfs_mark_dirty IMAGE BYTE_OFFSET: set VOLUME_IS_DIRTY in the NTFS volume's
# $Volume record (and its $MFTMirr copy), as a crash of Windows leaves it.
ntfs_mark_dirty() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
path, base = sys.argv[1], int(sys.argv[2])
f = open(path, 'r+b'); f.seek(base); boot = f.read(512)
bps = struct.unpack_from('<H', boot, 0x0B)[0]; spc = boot[0x0D]
mft, mirr = struct.unpack_from('<QQ', boot, 0x30); cpr = struct.unpack_from('<b', boot, 0x40)[0]
rec = cpr * bps * spc if cpr > 0 else 1 << -cpr
off = base + mft * bps * spc + 3 * rec
f.seek(off); r = bytearray(f.read(rec))
a = struct.unpack_from('<H', r, 0x14)[0]
while True:
    t, l = struct.unpack_from('<II', r, a)
    if t == 0xFFFFFFFF: sys.exit('no $VOLUME_INFORMATION')
    if t == 0x70:
        p = a + struct.unpack_from('<H', r, a + 0x14)[0] + 0x0A
        assert p % bps < bps - 2, 'flags at a fixup position'
        struct.pack_into('<H', r, p, struct.unpack_from('<H', r, p)[0] | 1)
        break
    a += l
for o in (off, base + mirr * bps * spc + 3 * rec):
    f.seek(o); f.write(r)
PY
}
sources_sum() { find "$T/store" "$T/usb" -type f | sort | xargs sha256sum | sha256sum; }
before=$(sources_sum)

# no_kernel_fs DIR: every filesystem mounted under DIR is a FUSE one (no
# ext4/ntfs3/xfs in the host kernel) and no loop device holds a view's image.
no_kernel_fs() {
	local types
	types=$(awk -v d="$1/" 'index($5, d) == 1 { split($0, a, " - "); split(a[2], f, " "); print f[1] }' \
		/proc/self/mountinfo | sort -u | tr '\n' ' ')
	[ -n "$types" ] || fail "nothing mounted under $1"
	for t in $types; do [[ $t == fuse* ]] || fail "a $t filesystem of the image is in the host kernel"; done
	[[ "$(losetup -a)" != *"$T/"* ]] || fail "a loop device holds the image: $(losetup -a)"
}
# gone RECORD: the record's driver processes, the view's daemon, mounts and work are gone.
gone() {
	local pid
	for pid in "$@"; do ! proc_running "$pid" || fail "process $pid ($(cat /proc/$pid/comm 2>/dev/null)) is left"; done
	! grep -q "$T/" /proc/self/mountinfo || fail "mounts left: $(grep "$T/" /proc/self/mountinfo)"
	[[ "$(losetup -a)" != *"$T/"* ]] || fail "loop device left"
	[ -z "$(ls -A "$T/work")" ] || fail "work files left: $(ls -A "$T/work")"
	! pgrep -f "$T/" >/dev/null || fail "processes left: $(pgrep -af "$T/")"
}
rec_pids() { python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(" ".join(str(p) for p in [d["pid"], d["slices_pid"]] + [q["pid"] for q in d["partitions"]] if p))' "$1"; }

rec=$T/b/.hotspare-browse.json
if [ "$PART" = fs ]; then
# Bad input: one line each.
mkdir "$T/full"; : >"$T/full/x"; : >"$T/afile"
expect_fail 'is not empty' "$HS" browse "$T/store" mail01 "$T/full" --seed "$T/usb"
expect_fail 'is not a directory' "$HS" browse "$T/store" mail01 "$T/afile" --seed "$T/usb"
expect_fail 'No such file' "$HS" browse "$T/store" mail01 "$T/missing" --seed "$T/usb"
expect_fail 'no points|not found|unknown' "$HS" browse "$T/store" nosuch "$T/work" 
expect_fail 'is not mounted' "$HS" umount "$T/full"
expect_fail 'exclude each other' "$HS" browse "$T/store" mail01 "$T/work" --vm --kernel-mount
[ -z "$(ls -A "$T/work")" ] || fail "a refused browse left $(ls "$T/work")"
pass "bad input refused in one line, nothing left behind"

mkdir "$T/b"
on_exit "'$HS' umount '$T/b'"
"$HS" browse "$T/store" mail01 "$T/b" --seed "$T/usb" >"$T/out.txt" || fail "browse"
cat "$T/out.txt"
grep -Eq '^ +p1 .*ext4 +hsroot +fuse2fs +.*/b/p1$' "$T/out.txt" || fail "browse did not report p1 as ext4 hsroot by fuse2fs"
grep -Eq '^ +p2 .*ntfs +hsdata +ntfs-3g +.*/b/p2$' "$T/out.txt" || fail "browse did not report p2 as ntfs hsdata by ntfs-3g"
[ "$(sha256sum <"$T/b/p1/srv/known.bin")" = "$sum_ext" ] || fail "ext4 file checksum"
[ "$(sha256sum <"$T/b/p2/Data/known.bin")" = "$sum_ntfs" ] || fail "NTFS file checksum"
for p in p1 p2; do
	o=$(findmnt -no OPTIONS "$T/b/$p")
	for w in ro nosuid nodev noexec; do [[ ",$o," == *",$w,"* ]] || fail "$p mounted without $w ($o)"; done
done
touch "$T/b/p1/new" 2>/dev/null && fail "p1 is writable"
touch "$T/b/p2/new" 2>/dev/null && fail "p2 is writable"
no_kernel_fs "$T/b"
rec=$T/b/.hotspare-browse.json
pid=$(json_get "$rec" pid) work=$(json_get "$rec" work) pids=$(rec_pids "$rec")
[ "$(json_get "$rec" partitions 1 type)" = ntfs ] && [ "$(json_get "$rec" partitions 1 via)" = ntfs-3g ] ||
	fail "record: $(cat "$rec")"
[ "$(findmnt -no OPTIONS "$(json_get "$rec" fuse_mountpoint)" | cut -d, -f1)" = ro ] || fail "the FUSE view is not ro"
pass "browse finds p1 (ext4, fuse2fs) and p2 (ntfs, ntfs-3g), read-only nosuid,nodev,noexec, only FUSE mounts, no loop device; checksums match"

"$HS" umount "$T/b" || fail "umount of the browse"
[ -z "$(ls -A "$T/b")" ] || fail "umount left $(ls -A "$T/b")"
gone $pids
[ ! -e "$work" ] || fail "the throw-away state is left"
[ "$(sources_sum)" = "$before" ] || fail "browse changed the store or the seed"
expect_fail 'is not mounted' "$HS" umount "$T/b"
pass "umount DIR: no FUSE mount, loop device, driver or daemon, no temp state; store and seed unchanged"

# kill -9 of the userspace drivers: the dead endpoints are detached by umount.
"$HS" browse "$T/store" mail01 "$T/b" --seed "$T/usb" >"$T/out.txt" || fail "browse (for kill -9)"
pids=$(rec_pids "$rec")
kill -9 "$(json_get "$rec" partitions 0 pid)" "$(json_get "$rec" partitions 1 pid)"
wait_for 10 sh -c "! ls '$T/b/p1' >/dev/null 2>&1" || fail "p1 still answers after kill -9 of fuse2fs"
"$HS" umount "$T/b" || fail "umount after kill -9 of the drivers"
[ -z "$(ls -A "$T/b")" ] || fail "umount left $(ls -A "$T/b")"
gone $pids
pass "kill -9 of fuse2fs and ntfs-3g: umount DIR detaches their dead mounts, nothing is left"

# A snapshot taken while the server ran: ext4 mounted, so its journal needs recovery.
# In a mount namespace of its own: a QEMU that libvirt starts meanwhile (another
# test's) copies the host's mounts into its namespace and would keep this ext4
# mounted (and dirty) after our umount.
dev=$(losetup -f --show "$T/p1.img"); on_exit losetup -d "$dev"
unshare -m --propagation private sh -ec "
	mount '$dev' '$T/m'
	echo 'written while running' >'$T/m/srv/late.txt'; sync
	dd if='$T/p1.img' of='$T/disk.img' bs=512 seek=$P1 conv=notrunc status=none
	umount '$T/m'" || fail "the live copy"
losetup -d "$dev"
# (grep -q under pipefail would fail the pipe when the writer gets SIGPIPE: read whole outputs.)
[[ "$(dumpe2fs -h "$T/p1.img" 2>/dev/null)" != *needs_recovery* ]] || fail "the live copy should be dirty, not the clean one"
ntfs_mark_dirty "$T/disk.img" $((P2 * 512))
"$HS" backup "$T/store" mail01 "$T/disk.img" >/dev/null
id=$("$HS" points "$T/store" mail01 --json | json_get - 1 id)
dd if="$T/disk.img" of="$T/dirty-p1.img" bs=512 skip=$P1 count=$P1N status=none
[[ "$(dumpe2fs -h "$T/dirty-p1.img" 2>/dev/null)" == *needs_recovery* ]] || fail "the test image's journal is not dirty"
dd if="$T/disk.img" of="$T/dirty-p2.img" bs=512 skip=$P2 count=$P2N status=none
[[ "$(ntfsinfo -m -f "$T/dirty-p2.img" 2>/dev/null)" == *"Volume Flags:"*DIRTY* ]] || fail "the test image's NTFS is not dirty"
before=$(sources_sum)
"$HS" browse "$T/store" "mail01@$id" "$T/b" --seed "$T/usb" >"$T/out.txt" || fail "browse of a dirty journal"
grep -Eq '^ +p1 .*ext4 .*/b/p1$' "$T/out.txt" || { cat "$T/out.txt"; fail "dirty ext4 not mounted"; }
grep -Eq '^ +p2 .*ntfs .*/b/p2$' "$T/out.txt" || { cat "$T/out.txt"; fail "dirty NTFS not mounted"; }
[ "$(sha256sum <"$T/b/p1/srv/known.bin")" = "$sum_ext" ] || fail "ext4 file checksum (dirty journal)"
[ "$(sha256sum <"$T/b/p2/Data/known.bin")" = "$sum_ntfs" ] || fail "NTFS file checksum (dirty volume)"
no_kernel_fs "$T/b"
"$HS" umount "$T/b"
[ "$(sources_sum)" = "$before" ] || fail "browse of a dirty journal changed the store or seed"
pass "userspace drivers read the dirty ext4 journal and the dirty NTFS volume read-only"

# --kernel-mount: today's loop device and host kernel mounts, with a warning.
"$HS" browse "$T/store" "mail01@$id" "$T/b" --seed "$T/usb" --kernel-mount >"$T/out.txt" 2>"$T/err.txt" ||
	fail "browse --kernel-mount: $(cat "$T/err.txt")"
[ "$(wc -l <"$T/err.txt")" -eq 1 ] && grep -q 'warning: --kernel-mount' "$T/err.txt" || fail "no one-line warning: $(cat "$T/err.txt")"
grep -Eq '^ +p1 .*ext4 +hsroot +kernel +.*/b/p1$' "$T/out.txt" || { cat "$T/out.txt"; fail "--kernel-mount: p1 not mounted by the kernel"; }
grep -Eq '^ +p2 .*ntfs +hsdata +kernel +.*/b/p2$' "$T/out.txt" || { cat "$T/out.txt"; fail "--kernel-mount: p2 not mounted"; }
[ "$(findmnt -no FSTYPE "$T/b/p1")" = ext4 ] || fail "--kernel-mount: p1 is $(findmnt -no FSTYPE "$T/b/p1")"
[ "$(sha256sum <"$T/b/p1/srv/known.bin")" = "$sum_ext" ] || fail "ext4 file checksum (--kernel-mount)"
[ "$(sha256sum <"$T/b/p2/Data/known.bin")" = "$sum_ntfs" ] || fail "NTFS file checksum (--kernel-mount)"
for p in p1 p2; do
	o=$(findmnt -no OPTIONS "$T/b/$p")
	for w in ro nosuid nodev noexec; do [[ ",$o," == *",$w,"* ]] || fail "$p mounted without $w ($o)"; done
done
loop=$(json_get "$rec" loop) pids=$(rec_pids "$rec")
[ "$(cat /sys/block/${loop#/dev/}/ro)" = 1 ] || fail "the loop device is writable"
"$HS" umount "$T/b" || fail "umount of a --kernel-mount browse"
gone $pids
[ "$(sources_sum)" = "$before" ] || fail "browse --kernel-mount changed the store or seed"
"$HS" verify "$T/store" "mail01@$id" --seed "$T/usb" >/dev/null || fail "verify after the browse"
"$HS" restore "$T/store" "mail01@$id" "$T/restored.img" --seed "$T/usb" >/dev/null
cmp "$T/restored.img" "$T/disk.img" || fail "the point changed"
pass "a dirty ext4 journal and an NTFS volume marked dirty browse read-only: nothing replayed, the point verifies and restores unchanged"

# Beside a running spare of the same server that is being written.
mkdir "$T/spare"
hs_mount_at "$T/spare" "$T/store" mail01 "$T/spare" --state "$T/state" --seed "$T/usb"
( for i in $(seq 1 40); do
	dd if=/dev/urandom of="$T/spare/mail01.img" bs=64K count=16 seek=$(( (P1 * 512 + (i % 24) * 1048576) / 65536 )) \
		conv=notrunc,fsync status=none
  done ) &
writer=$!
on_exit "kill $writer"
"$HS" browse "$T/store" mail01 "$T/b" --seed "$T/usb" >"$T/out.txt" || fail "browse beside a spare"
no_kernel_fs "$T/b"
[ "$(sha256sum <"$T/b/p1/srv/known.bin")" = "$sum_ext" ] || fail "ext4 checksum beside a written spare"
[ "$(sha256sum <"$T/b/p2/Data/known.bin")" = "$sum_ntfs" ] || fail "NTFS checksum beside a written spare"
wait $writer || fail "the spare's writer failed"
"$HS" umount "$T/b" || fail "umount of the browse beside a spare"
[ "$(json_get "$T/spare/.hotspare-status" chunks_written)" -gt 0 ] || fail "the spare was not written"
[ "$(json_get "$T/spare/.hotspare-status" errors)" -eq 0 ] || fail "the spare has errors"
cmp -s -n $((P1 * 512)) "$T/spare/mail01.img" "$T/disk.img" || fail "the spare's MBR changed"
"$HS" umount "$T/spare"
[ -z "$(ls -A "$T/work")" ] && [[ "$(losetup -a)" != *"$T/"* ]] || fail "state or loop device left"
pass "browse beside a mounted spare being written: the point's files, the spare untouched and still served"

# A fuzzed ext4 (superblock and inode table, fixed seed): fuse2fs fails or
# shows what it can, in one line each; the host kernel's ext4 never sees it.
truncate -s 16M "$T/fz.img"
mkdir -p "$T/fzroot/d"
for i in $(seq 1 40); do head -c $((i * 1000)) /dev/zero | tr '\0' x >"$T/fzroot/d/f$i"; done
mkfs.ext4 -q -F -O ^metadata_csum -L fuzzed -d "$T/fzroot" "$T/fz.img"
itable=$(dumpe2fs "$T/fz.img" 2>/dev/null | sed -n 's/.*Inode table at \([0-9]*\)-.*/\1/p' | head -n1)
fzbs=$(dumpe2fs -h "$T/fz.img" 2>/dev/null | awk '/^Block size:/ { print $3 }')
python3 - "$T/fz.img" "$itable" "$fzbs" <<'PY'
import random, sys
path, itable, bs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(22)
f = open(path, 'r+b')
for _ in range(24):   # the superblock (1024..2047): magic and feature flags kept so parsers go on
    off = 1024 + rng.randrange(1024)
    if 0x38 <= off - 1024 < 0x3a or 0x5c <= off - 1024 < 0x68: continue
    f.seek(off); f.write(bytes([rng.randrange(256)]))
for _ in range(2000): # the first 64 KiB of group 0's inode table
    f.seek(itable * bs + rng.randrange(65536)); f.write(bytes([rng.randrange(256)]))
PY
"$HS" snapshot "$T/store" fuzz01 "$T/fz.img" >/dev/null
# Any word of the host's ext4 driver about a filesystem (other work's plain
# mounts and unmounts aside) means the customer's bytes reached it.
ext4_errors() { dmesg 2>/dev/null | grep 'EXT4-fs' | grep -vcE 'mounted filesystem|unmounting filesystem' || true; }
e0=$(ext4_errors)
rc=0
"$HS" browse "$T/store" fuzz01 "$T/b" >"$T/out.txt" 2>"$T/err.txt" || rc=$?
cat "$T/out.txt" "$T/err.txt"
if [ $rc -eq 0 ]; then
	grep -Eq '^ +disk .*ext4' "$T/out.txt" || fail "the fuzzed ext4 is not listed"
	if [ -d "$T/b/disk" ]; then
		no_kernel_fs "$T/b"
		timeout 60 find "$T/b/disk" -type f -exec cat {} + >/dev/null 2>"$T/find.err" || true
	fi
	"$HS" umount "$T/b" || fail "umount of the fuzzed browse"
else
	[ "$(wc -l <"$T/err.txt")" -eq 1 ] || fail "the fuzzed ext4's error is not one line"
	[ ! -e "$T/b/.hotspare-browse.json" ] || fail "a failed browse left its record"
fi
gone
[ "$(ext4_errors)" = "$e0" ] || fail "the host kernel's ext4 saw the image: $(dmesg | grep 'EXT4-fs' | tail -n 3)"
pass "a fuzzed ext4 (exit $rc): one-line errors, no EXT4-fs line in the kernel's log, nothing left"

fi

if [ "$PART" = vm ]; then
mkdir "$T/b"
on_exit "'$HS' umount '$T/b'"
# An XFS partition goes to a throw-away VM (libguestfs' appliance).
if ! command -v guestmount >/dev/null || ! command -v mkfs.xfs >/dev/null; then
	echo "skip - XFS through a VM: no guestmount/mkfs.xfs (libguestfs-tools, xfsprogs)"
	exit 0
fi
X1=2048
truncate -s 320M "$T/x.img"
printf 'label: dos\nstart=%d, type=83\n' $X1 | sfdisk -q "$T/x.img"
xdev=$(losetup -f --show -o $((X1 * 512)) "$T/x.img"); on_exit "losetup -d $xdev"
mkfs.xfs -q -f -L hsxfs "$xdev"
mkdir -p "$T/xm"; mount "$xdev" "$T/xm"; on_exit umount "$T/xm"
mkdir -p "$T/xm/etc/app" "$T/xm/var/data"
head -c 500000 /dev/urandom >"$T/xm/var/data/blob.bin"
echo "listen 8080" >"$T/xm/etc/app/app.conf"
ln -s ../data/blob.bin "$T/xm/etc/app/link"
(cd "$T/xm" && find . -type f -exec sha256sum {} + | sort -k2) >"$T/x.sums"
umount "$T/xm"; losetup -d "$xdev"
"$HS" snapshot "$T/store" xfs01 "$T/x.img" >/dev/null
start=$(date +%s.%N)
HOTSPARE_VM_TIMEOUT=400 "$HS" browse "$T/store" xfs01 "$T/b" >"$T/out.txt" 2>"$T/err.txt" || fail "browse of XFS: $(cat "$T/err.txt")"
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
cat "$T/out.txt"
grep -Eq '^ +p1 .*xfs +hsxfs +vm +.*/b/p1$' "$T/out.txt" || fail "p1 (xfs) not mounted through the VM"
(cd "$T/b/p1" && find . -type f -exec sha256sum {} + | sort -k2) >"$T/b.sums"
cmp -s "$T/x.sums" "$T/b.sums" || { diff "$T/x.sums" "$T/b.sums"; fail "XFS files differ through the VM"; }
[ "$(readlink "$T/b/p1/etc/app/link")" = ../data/blob.bin ] || fail "XFS symlink"
no_kernel_fs "$T/b"
o=$(findmnt -no OPTIONS "$T/b/p1")
for w in ro nosuid nodev noexec; do [[ ",$o," == *",$w,"* ]] || fail "p1 mounted without $w ($o)"; done
pids=$(rec_pids "$rec")
"$HS" umount "$T/b" || fail "umount of the XFS browse"
gone $pids
pass "XFS read in a throw-away VM in $secs s: every file's checksum and a symlink match; umount leaves no VM, mount or process"

# LVM inside the image (built in a libguestfs appliance: this host's kernel
# may have no device-mapper): a VM lists the volumes, VMs mount each.
truncate -s 64M "$T/lvm.img"
head -c 300000 /dev/urandom >"$T/lv.bin"
LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg timeout 300 \
	guestfish --format=raw -a "$T/lvm.img" >"$T/gf.log" 2>&1 <<GF || { cat "$T/gf.log"; fail "guestfish (the LVM fixture)"; }
run
part-disk /dev/sda mbr
pvcreate /dev/sda1
vgcreate hsvg /dev/sda1
lvcreate root hsvg 24
lvcreate data hsvg 16
mkfs ext4 /dev/hsvg/root label:lvroot
mkfs vfat /dev/hsvg/data
mount /dev/hsvg/root /
mkdir /srv
upload $T/lv.bin /srv/known.bin
umount-all
GF
"$HS" snapshot "$T/store" lvm01 "$T/lvm.img" >/dev/null
start=$(date +%s.%N)
HOTSPARE_VM_TIMEOUT=400 "$HS" browse "$T/store" lvm01 "$T/b" >"$T/out.txt" 2>"$T/err.txt" || fail "browse of LVM: $(cat "$T/err.txt")"
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
cat "$T/out.txt"
grep -Eq '^ +p1 .*LVM2_member .*LVM: 2 logical volumes' "$T/out.txt" || fail "the LVM partition's volumes are not listed"
grep -Eq '^ +p1-hsvg-root .*ext4 +lvroot +vm +.*/b/p1-hsvg-root$' "$T/out.txt" || fail "hsvg/root not mounted through the VM"
grep -Eq '^ +p1-hsvg-data .*vfat .*vm +.*/b/p1-hsvg-data$' "$T/out.txt" || fail "hsvg/data not mounted through the VM"
[ "$(sha256sum <"$T/b/p1-hsvg-root/srv/known.bin")" = "$(sha256sum <"$T/lv.bin")" ] || fail "LVM file checksum"
no_kernel_fs "$T/b"
pids=$(rec_pids "$rec")
"$HS" umount "$T/b" || fail "umount of the LVM browse"
gone $pids
pass "LVM inside the image: a VM lists its volumes, VMs mount them ($secs s); the file matches; nothing left"
fi

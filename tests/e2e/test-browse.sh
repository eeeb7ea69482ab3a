#!/bin/bash
# browse: a point's ext4 and NTFS partitions mounted read-only from its
# sources (checksums of known files), also with a dirty ext4 journal and an
# NTFS volume marked dirty (nothing replayed, the point unchanged), and while
# the same server's spare is mounted and written beside it; umount DIR leaves
# no loop device, mount or state.
. "$(dirname "$0")/../lib.sh"
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

# Bad input: one line each.
mkdir "$T/full"; : >"$T/full/x"; : >"$T/afile"
expect_fail 'is not empty' "$HS" browse "$T/store" mail01 "$T/full" --seed "$T/usb"
expect_fail 'is not a directory' "$HS" browse "$T/store" mail01 "$T/afile" --seed "$T/usb"
expect_fail 'No such file' "$HS" browse "$T/store" mail01 "$T/missing" --seed "$T/usb"
expect_fail 'no points|not found|unknown' "$HS" browse "$T/store" nosuch "$T/work" 
expect_fail 'is not mounted' "$HS" umount "$T/full"
[ -z "$(ls -A "$T/work")" ] || fail "a refused browse left $(ls "$T/work")"
pass "bad input refused in one line, nothing left behind"

mkdir "$T/b"
on_exit "'$HS' umount '$T/b'"
"$HS" browse "$T/store" mail01 "$T/b" --seed "$T/usb" >"$T/out.txt" || fail "browse"
cat "$T/out.txt"
grep -Eq '^ +p1 .*ext4 +hsroot +.*/b/p1$' "$T/out.txt" || fail "browse did not report p1 as ext4 hsroot"
grep -Eq '^ +p2 .*ntfs +hsdata +.*/b/p2$' "$T/out.txt" || fail "browse did not report p2 as ntfs hsdata"
[ "$(sha256sum <"$T/b/p1/srv/known.bin")" = "$sum_ext" ] || fail "ext4 file checksum"
[ "$(sha256sum <"$T/b/p2/Data/known.bin")" = "$sum_ntfs" ] || fail "NTFS file checksum"
for p in p1 p2; do
	o=$(findmnt -no OPTIONS "$T/b/$p")
	for w in ro nosuid nodev noexec; do [[ ",$o," == *",$w,"* ]] || fail "$p mounted without $w ($o)"; done
done
touch "$T/b/p1/new" 2>/dev/null && fail "p1 is writable"
touch "$T/b/p2/new" 2>/dev/null && fail "p2 is writable"
rec=$T/b/.hotspare-browse.json
loop=$(json_get "$rec" loop) pid=$(json_get "$rec" pid) work=$(json_get "$rec" work)
[ "$(json_get "$rec" partitions 1 type)" = ntfs ] || fail "record: $(cat "$rec")"
[ "$(findmnt -no OPTIONS "$(json_get "$rec" fuse_mountpoint)" | cut -d, -f1)" = ro ] || fail "the FUSE view is not ro"
[ "$(cat /sys/block/${loop#/dev/}/ro)" = 1 ] || fail "the loop device is writable"
pass "browse finds p1 (ext4) and p2 (ntfs), both read-only nosuid,nodev,noexec, known files' checksums match"

"$HS" umount "$T/b" || fail "umount of the browse"
[ -z "$(ls -A "$T/b")" ] || fail "umount left $(ls -A "$T/b")"
[ -z "$(losetup -j "$T/work/${work##*/}/mnt/mail01.img" 2>/dev/null)" ] && [[ "$(losetup -a)" != *"${work##*/}"* ]] || fail "loop device left"
! grep -q "$T/" /proc/self/mountinfo || fail "mounts left: $(grep "$T/" /proc/self/mountinfo)"
! kill -0 "$pid" 2>/dev/null || fail "the view's daemon still runs"
[ ! -e "$work" ] && [ -z "$(ls -A "$T/work")" ] || fail "the throw-away state is left"
[ "$(sources_sum)" = "$before" ] || fail "browse changed the store or the seed"
expect_fail 'is not mounted' "$HS" umount "$T/b"
pass "umount DIR: no loop device, no mount, no daemon, no temp state; store and seed unchanged"

# A snapshot taken while the server ran: ext4 mounted, so its journal needs recovery.
dev=$(losetup -f --show "$T/p1.img"); on_exit losetup -d "$dev"
mount "$dev" "$T/m"
echo "written while running" >"$T/m/srv/late.txt"; sync
dd if="$T/p1.img" of="$T/disk.img" bs=512 seek=$P1 conv=notrunc status=none
umount "$T/m"; losetup -d "$dev"
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
"$HS" umount "$T/b"
[ "$(sources_sum)" = "$before" ] || fail "browse of a dirty journal changed the store or seed"
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

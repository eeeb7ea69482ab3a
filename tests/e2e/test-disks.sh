#!/bin/bash
# A server with two disks: the system disk (the bootable test disk) and a data
# disk (make-data-disk.sh) with a filesystem of its own. One point holds both
# at the same moment: shipped snapshot, a day on both, a backup, restores of
# both (cmp), one disk alone, a data disk that grew, and every bad input of
# the disk syntax refused with one line and the store left byte-identical.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root (the test disk is made through a loop device)"; exit 77; }

S=$T/store
sha0=$("$ROOT/scripts/make-test-disk.sh" "$T/sys.img")
dsha0=$("$ROOT/scripts/make-data-disk.sh" "$T/data.img" 1 32)
cp --sparse=always "$T/sys.img" "$T/sys0.img"
cp --sparse=always "$T/data.img" "$T/data0.img"
"$HS" init "$S" >/dev/null
"$HS" snapshot --ship "$T/usb" "$S" win01 sys="$T/sys.img" data="$T/data.img" --json >"$T/snap.json" ||
	fail "snapshot of two disks"
[ "$(json_get "$T/snap.json" disks 0 name)" = sys ] && [ "$(json_get "$T/snap.json" disks 1 name)" = data ] ||
	fail "the snapshot's disks: $(cat "$T/snap.json")"
pass "a shipped snapshot of two disks in one point"

sha1=$("$ROOT/scripts/test-disk-day.sh" "$T/sys.img" 1)
dsha1=$("$ROOT/scripts/make-data-disk.sh" "$T/data.img" 2)
[ "$sha1" != "$sha0" ] && [ "$dsha1" != "$dsha0" ] || fail "the day changed nothing"
cp --sparse=always "$T/sys.img" "$T/sys1.img"
cp --sparse=always "$T/data.img" "$T/data1.img"
"$HS" backup "$S" win01 sys="$T/sys.img" data="$T/data.img" --json >"$T/backup.json" || fail "backup of two disks"
stored=$(json_get "$T/backup.json" bytes_stored)
# 4 MiB changed on the system disk and 3 MiB on the data disk (random data).
[ "$stored" -gt 7000000 ] && [ "$stored" -lt 12000000 ] || fail "the backup stored $stored bytes for 7 MiB of change"
[ "$(json_get "$T/backup.json" disks 1 bytes_new)" -gt 3000000 ] || fail "the data disk's change was not stored"
pass "a backup of both disks stores the day's change of each ($stored bytes)"

"$HS" points "$S" win01 --json >"$T/points.json"
python3 - "$T/points.json" "$(stat -c %s "$T/sys.img")" "$(stat -c %s "$T/data.img")" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert len(p) == 2, p
for x in p:
    assert [d["name"] for d in x["disks"]] == ["sys", "data"], x
    assert [d["size"] for d in x["disks"]] == [int(sys.argv[2]), int(sys.argv[3])], x
    assert x["size"] == int(sys.argv[2]) + int(sys.argv[3]), x
    assert all(isinstance(d["new_bytes"], int) for d in x["disks"]), x
assert p[1]["disks"][1]["new_bytes"] > 3000000, p
PY
"$HS" points "$S" win01 | grep -q "sys=.*data=" || fail "points does not show the disks"
pass "points --json lists each point's disks with their sizes and new bytes"

"$HS" restore "$S" win01 sys="$T/r-sys.img" data="$T/r-data.img" --seed "$T/usb" >/dev/null || fail "restore of both disks"
cmp "$T/r-sys.img" "$T/sys1.img" && cmp "$T/r-data.img" "$T/data1.img" || fail "the restored disks differ"
snap=$(json_get "$T/snap.json" point)
"$HS" restore "$S" "win01@$snap:data" "$T/r-data0.img" --seed "$T/usb" >/dev/null || fail "restore of one disk"
cmp "$T/r-data0.img" "$T/data0.img" || fail "the data disk of the snapshot differs"
"$HS" verify "$S" --seed "$T/usb" >/dev/null || fail "verify of both points"
"$HS" verify "$S" "win01:data" --seed "$T/usb" --json >"$T/vd.json" || fail "verify of one disk"
"$HS" verify "$S" "win01" --seed "$T/usb" --json >"$T/va.json"
[ "$(json_get "$T/vd.json" bytes)" -lt "$(json_get "$T/va.json" bytes)" ] || fail "verify :data checked every disk"
pass "restores of both disks and of one disk alone equal each day's disks (cmp); verify passes"

# The data disk grows: each disk of the next point restores at its own size.
truncate -s 48M "$T/data.img"
"$HS" backup "$S" win01 sys="$T/sys.img" data="$T/data.img" >/dev/null || fail "backup after the data disk grew"
"$HS" restore "$S" win01 sys="$T/r2-sys.img" data="$T/r2-data.img" --seed "$T/usb" >/dev/null || fail "restore after growth"
[ "$(stat -c %s "$T/r2-data.img")" -eq $((48 << 20)) ] && cmp "$T/r2-data.img" "$T/data.img" || fail "the grown disk"
cmp "$T/r2-sys.img" "$T/sys.img" || fail "the system disk after the data disk grew"
pass "a disk that grew between points restores at its new size"

# Bad input: one line each, and the store exactly as it was.
sum_store() { (cd "$S" && find . -type f -print0 | sort -z | xargs -0 sha256sum; find . | sort) | sha256sum; }
before=$(sum_store)
expect_fail "disk sys is named twice" "$HS" backup "$S" win01 sys="$T/sys.img" sys="$T/data.img"
expect_fail "disk sys has no SOURCE" "$HS" backup "$S" win01 sys= data="$T/data.img"
expect_fail "cannot read $T/nosuch" "$HS" backup "$S" win01 sys="$T/sys.img" data="$T/nosuch"
expect_fail "disk name 'a/b' contains '/'" "$HS" backup "$S" win01 a/b="$T/sys.img" data="$T/data.img"
expect_fail "is not DISK=SOURCE" "$HS" backup "$S" win01 "$T/sys.img" data="$T/data.img"
args=(); for i in $(seq 65); do args+=("d$i=$T/sys.img"); done
expect_fail "65 disks given; a server has at most 64" "$HS" backup "$S" win01 "${args[@]}"
expect_fail "has no disk nosuch" "$HS" restore "$S" win01:nosuch "$T/x.img"
expect_fail "no point of win01 has a disk nosuch" "$HS" verify "$S" win01:nosuch
expect_fail "no TARGET for disk data" "$HS" restore "$S" win01 sys="$T/x.img"
expect_fail "has 2 disks" "$HS" restore "$S" win01 "$T/x.img"
expect_fail "has no disk other" "$HS" restore "$S" win01 sys="$T/x.img" data="$T/y.img" other="$T/z.img"
expect_fail "have the same TARGET" "$HS" restore "$S" win01 sys="$T/x.img" data="$T/./x.img"
ln -s x.img "$T/x-link.img"
expect_fail "have the same TARGET" "$HS" restore "$S" win01 sys="$T/x.img" data="$T/x-link.img"
rm "$T/x-link.img"
[ ! -e "$T/x.img" ] && [ ! -e "$T/y.img" ] || fail "a refused restore left a target"
[ "$(sum_store)" = "$before" ] || fail "a refused command changed the store"
pass "bad disk arguments: one-line errors, the store byte-identical, no target left"

# The spare of both disks: one daemon, SERVER-DISK.img each, writes to either,
# a checkpoint of both, restored equal to the images (the writes land outside
# the filesystems: in the MBR gap, past the data partition); a kill -9 and remount
# keep both disks' writes.
mkdir "$T/mnt"
hs_mount_at "$T/mnt" "$S" win01 "$T/mnt" --state "$T/state" --seed "$T/usb"
cmp "$T/mnt/win01-sys.img" "$T/sys.img" && cmp "$T/mnt/win01-data.img" "$T/data.img" || fail "the spare's images"
printf 'sys write' | dd of="$T/mnt/win01-sys.img" bs=1 seek=$((512 << 10)) conv=notrunc status=none
printf 'data write' | dd of="$T/mnt/win01-data.img" bs=1 seek=$((47 << 20)) conv=notrunc status=none
sync "$T/mnt/win01-sys.img" "$T/mnt/win01-data.img"
pid=$("$HS" status "$T/mnt" --json | json_get - pid)
kill -9 "$pid"
"$HS" umount "$T/mnt" >/dev/null 2>&1 || umount -l "$T/mnt"
hs_mount_at "$T/mnt" "$S" win01 "$T/mnt" --state "$T/state" --seed "$T/usb"
[ "$(dd if="$T/mnt/win01-data.img" bs=1 skip=$((47 << 20)) count=10 status=none)" = "data write" ] &&
	[ "$(dd if="$T/mnt/win01-sys.img" bs=1 skip=$((512 << 10)) count=9 status=none)" = "sys write" ] ||
	fail "a flushed write was lost across kill -9"
"$HS" checkpoint "$T/mnt" --json >"$T/cp.json" || fail "checkpoint of both disks"
[ "$(json_get "$T/cp.json" disks 1 chunks_read)" -ge 1 ] || fail "the data disk's write was not read: $(cat "$T/cp.json")"
cp --sparse=always "$T/mnt/win01-sys.img" "$T/m-sys.img"
cp --sparse=always "$T/mnt/win01-data.img" "$T/m-data.img"
"$HS" umount "$T/mnt"
"$HS" restore "$S" "win01@$(json_get "$T/cp.json" point)" sys="$T/c-sys.img" data="$T/c-data.img" \
	--seed "$T/usb" >/dev/null || fail "restore of the checkpoint"
cmp "$T/c-sys.img" "$T/m-sys.img" && cmp "$T/c-data.img" "$T/m-data.img" || fail "the checkpoint differs from the images"
# Home: the server's own disks (as of the point the spare was mounted from) get only what changed.
"$HS" restore "$S" "win01@$(json_get "$T/cp.json" point)" sys="$T/sys.img" data="$T/data.img" --json \
	>"$T/home.json" || fail "restore home of both disks"
cmp "$T/sys.img" "$T/m-sys.img" && cmp "$T/data.img" "$T/m-data.img" || fail "the home disks differ from the spare"
python3 - "$T/home.json" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
# One chunk changed on each disk (256 KiB chunks).
assert [d["bytes_written"] for d in h["disks"]] == [262144, 262144], h["disks"]
PY
pass "a spare of both disks: writes to each survive kill -9; a checkpoint of both restores equal (cmp); restore home writes one chunk a disk"

# Browse: every disk under DIR/DISK/, or one disk by SERVER@POINT:DISK; umount undoes all.
mkdir "$T/b"
"$HS" browse "$S" win01 "$T/b" --seed "$T/usb" >"$T/browse.out" || { cat "$T/browse.out"; fail "browse of both disks"; }
on_exit "'$HS' umount '$T/b' 2>/dev/null"
grep -q "sys/p1 .*ext4" "$T/browse.out" && grep -q "data/p1 .*ext4" "$T/browse.out" || { cat "$T/browse.out"; fail "browse output"; }
[ "$(sha256sum <"$T/b/data/p1/data.bin" | cut -d' ' -f1)" = "$dsha1" ] || fail "the data disk's file through browse"
[ -f "$T/b/sys/p1/srv/data.bin" ] || fail "the system disk's files through browse"
"$HS" umount "$T/b" || fail "umount of the browse"
[ -z "$(ls -A "$T/b")" ] || fail "umount left $(ls -A "$T/b")"
! grep -q "$T/b" /proc/mounts || fail "umount left a mount"
"$HS" browse "$S" "win01:data" "$T/b" --seed "$T/usb" >"$T/browse1.out" || fail "browse of one disk"
[ "$(sha256sum <"$T/b/p1/data.bin" | cut -d' ' -f1)" = "$dsha1" ] || fail "the data disk's file through browse :data"
"$HS" umount "$T/b"
pass "browse of both disks under DIR/sys and DIR/data, of one disk by :data; umount leaves nothing"

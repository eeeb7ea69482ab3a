#!/bin/bash
# What a command writes stays apart from what it reads. A restore TARGET, an
# export FILE, a browse DIR, a replica or a shipped drive inside the store or
# a seed (by name, through a symlink, through a bind mount), a spare's state
# that is its own mountpoint or lies under any FUSE mount (the daemon would
# wait on itself for ever), a mountpoint inside the state or over the store:
# each is refused up front with one line, and nothing is created, not even a
# lock file.
. "$(dirname "$0")/../lib.sh"

truncate -s 8M "$T/a.img"; head -c 2M /dev/urandom | dd of="$T/a.img" conv=notrunc status=none
S=$T/store
"$HS" init "$S" --chunk-size 64K >/dev/null
"$HS" snapshot "$S" mail01 "$T/a.img" --ship "$T/usb" >/dev/null
id=$("$HS" points "$S" mail01 --json | json_get - 0 id)
mkdir "$T/mnt" "$T/mnt2" "$T/st"
ln -s "$S" "$T/link"
before=$(tree_sum "$S" "$T/usb")

expect_fail "TARGET .*/hotspare-store.json is inside the store" "$HS" restore "$S" mail01 "$S/hotspare-store.json"
expect_fail "TARGET .*\.idx is inside the store" "$HS" restore "$S" mail01 "$T/usb/../store/points/mail01/$id.idx"
expect_fail "TARGET .*/link/new.img is inside the store" "$HS" restore "$S" mail01 "$T/link/new.img"
expect_fail "TARGET .*/store is the store itself" "$HS" restore "$S" mail01 "$S"
expect_fail "TARGET .*/usb/x.img is inside the seed" "$HS" restore "$S" mail01 "$T/usb/x.img" --seed "$T/usb"
mkdir "$T/bind"
if mount --bind "$S" "$T/bind" 2>/dev/null; then
	on_exit umount "$T/bind"
	expect_fail "TARGET .*/bind/x.img is inside the store" "$HS" restore "$S" mail01 "$T/bind/x.img"
	umount "$T/bind"
	# A bind mount of a directory in the store: its points/, a chunk directory.
	mount --bind "$S/points" "$T/bind"
	expect_fail "TARGET .*/bind/x.img is inside the store" "$HS" restore "$S" mail01 "$T/bind/x.img"
	expect_fail "FILE .*/bind/x.img is inside the store" "$HS" export "$S" mail01 "$T/bind/x.img"
	expect_fail "DEST .*/bind/rep is inside the store" "$HS" replicate "$S" "$T/bind/rep"
	expect_fail "--ship .*/bind/usb2 is inside the store" "$HS" snapshot "$S" mail02 "$T/a.img" --ship "$T/bind/usb2"
	expect_fail "state .*/bind/st is inside the store" "$HS" mount "$S" mail01 "$T/mnt" --state "$T/bind/st"
	umount "$T/bind"
	sub=$(find "$T/usb/chunks" -mindepth 1 -maxdepth 1 -type d | head -1)
	mount --bind "$sub" "$T/bind"
	expect_fail "TARGET .*/bind/x.img is inside the seed" "$HS" restore "$S" mail01 "$T/bind/x.img" --seed "$T/usb"
	umount "$T/bind"
fi
# A hard link to a file of the store, or the file bind-mounted onto the
# TARGET: a restore would write through it; so would a loop device on either.
ln "$S/points/mail01/$id.idx" "$T/hl"
expect_fail "/hl has 2 names \(hard links\)" "$HS" restore "$S" mail01 "$T/hl"
if losetup -f >/dev/null 2>&1; then
	loop=$(losetup -f --show "$T/hl" 2>/dev/null); on_exit "losetup -d $loop 2>/dev/null || true"
	expect_fail "$loop writes to .*/hl, which has 2 names" "$HS" restore "$S" mail01 "$loop"
	losetup -d "$loop"
fi
rm "$T/hl"
touch "$T/over.img"
if mount --bind "$S/points/mail01/$id.idx" "$T/over.img" 2>/dev/null; then
	on_exit "umount '$T/over.img' 2>/dev/null || true"
	expect_fail "over.img is a mount point" "$HS" restore "$S" mail01 "$T/over.img"
	umount "$T/over.img"
fi
# Block devices: one carrying the store's filesystem, a loop device whose file is in the store.
if losetup -f >/dev/null 2>&1 && command -v mkfs.ext4 >/dev/null; then
	truncate -s 64M "$T/fs.img"; mkfs.ext4 -q "$T/fs.img"
	dev=$(losetup -f --show "$T/fs.img"); on_exit losetup -d "$dev"
	mkdir "$T/fs"; mount "$dev" "$T/fs"; on_exit umount "$T/fs"
	"$HS" init "$T/fs/store" --chunk-size 64K >/dev/null
	expect_fail "TARGET $dev holds the store .*/fs/store" "$HS" restore "$T/fs/store" mail01 "$dev" --seed "$S"
	truncate -s 8M "$S/loop.img"; loop=$(losetup -f --show "$S/loop.img"); on_exit losetup -d "$loop"
	expect_fail "TARGET $loop writes to .*/store/loop.img, inside the store" "$HS" restore "$S" mail01 "$loop"
	losetup -d "$loop"; rm "$S/loop.img"
fi
expect_fail "FILE .*/x.qcow2 is inside the store" "$HS" export "$S" mail01 "$S/x.qcow2" --format qcow2
expect_fail "DIR .* is inside the seed" "$HS" browse "$S" mail01 "$T/usb/points" --seed "$T/usb"
expect_fail "DEST .*/replica is inside the store" "$HS" replicate "$S" "$S/replica"
expect_fail "DEST .* holds the store" "$HS" replicate "$S" "$T"
pass "restore, export, browse and replicate refuse a target in the store or a seed"

expect_fail "--ship .*/store is the store itself" "$HS" snapshot "$S" mail01 "$T/a.img" --ship "$S"
expect_fail "--ship .*/link/ is the store itself" "$HS" snapshot "$S" mail01 "$T/a.img" --ship "$T/link/"
expect_fail "--ship .*/drive is inside the store" "$HS" snapshot "$S" mail01 "$T/a.img" --ship "$S/drive"
expect_fail "--ship .* holds the store" "$HS" snapshot "$S" mail01 "$T/a.img" --ship "$T"
expect_fail "--ship .*/a.img is the SOURCE itself" "$HS" snapshot "$S" mail01 "$T/a.img" --ship "$T/a.img"
pass "a shipped drive that is, lies in or holds the store is refused"

# A spare whose state is its own mountpoint used to hang for ever: bounded here.
on_exit fuse_abort "$T/mnt"
rc=0; timeout -s KILL 20 "$HS" mount "$S" mail01 "$T/mnt" --state "$T/mnt" >/dev/null 2>"$T/err" || rc=$?
[ $rc -ne 137 ] || fail "mount with the state at its own mountpoint hung"
[ $rc -ne 0 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "MOUNTPOINT .*/mnt is the state itself" "$T/err" ||
	{ cat "$T/err"; fail "mount with the state at its mountpoint was not refused with one line"; }
! mountpoint -q "$T/mnt" || fail "a refused mount left a mount"
expect_fail "MOUNTPOINT .*/st/m is inside the state" "$HS" mount "$S" mail01 "$T/st/m" --state "$T/st"
expect_fail "the state .*/store/state is inside the store" "$HS" mount "$S" mail01 "$T/mnt" --state "$S/state"
expect_fail "the state .* is inside the seed" "$HS" mount "$S" mail01 "$T/mnt" --state "$T/usb/st" --seed "$T/usb"
expect_fail "MOUNTPOINT .*/store is the store itself" "$HS" mount "$S" mail01 "$S" --state "$T/st2"
expect_fail "MOUNTPOINT .* holds the (store|state)" "$HS" mount "$S" mail01 "$T" --state "$T/st2"
[ ! -e "$T/st2" ] && [ -z "$(ls -A "$T/st")" ] || fail "a refused mount made a state"
# Under another spare's live mount, and under that spare's own.
hs_mount_at "$T/mnt" "$S" mail01 "$T/mnt" --state "$T/live" --seed "$T/usb" --hydrate-threads 0
rc=0; timeout -s KILL 20 "$HS" mount "$S" mail01 "$T/mnt2" --state "$T/mnt/st" >/dev/null 2>"$T/err" || rc=$?
[ $rc -ne 137 ] || fail "mount with the state under another spare's mount hung"
grep -q "the state .*/mnt/st is on the FUSE mount .*/mnt" "$T/err" || { cat "$T/err"; fail "a state under a FUSE mount was not refused"; }
expect_fail "is on the FUSE mount" "$HS" mount "$S" mail01 "$T/mnt2" --state "$T/mnt"
expect_fail "--work-dir .* is on the FUSE mount" "$HS" drill "$S" mail01 --report "$T/rep" --work-dir "$T/mnt"
expect_fail "--report .*/rep is inside the store" "$HS" drill "$S" mail01 --report "$S/rep"
expect_fail "the state .* is inside the store" "$HS" failover "$S" mail01 --state "$S/st" --mountpoint "$T/fmnt"
expect_fail "MOUNTPOINT .*/live/m is inside the state" "$HS" failover "$S" mail01 --state "$T/live" --mountpoint "$T/live/m"
[ ! -e "$T/fmnt" ] && [ ! -e "$T/live/m" ] && [ ! -e "$T/rep" ] || fail "a refused failover or drill made a directory"
cmp "$T/mnt/mail01.img" "$T/a.img" || fail "the live spare was disturbed"
"$HS" umount "$T/mnt"
pass "states at their mountpoint or under a FUSE mount, mountpoints in the state or over the store: refused at once"

# The live spare above recorded its lease (removed at its unmount); its
# directory is the one trace it leaves, and no refused command's.
[ -z "$(ls -A "$S/leases")" ] || fail "the unmounted spare left its lease: $(ls "$S/leases")"
rmdir "$S/leases"
[ "$before" = "$(tree_sum "$S" "$T/usb")" ] || fail "a refused command changed the store or the drive"
pass "the store and the drive are unchanged, not even a lock file"

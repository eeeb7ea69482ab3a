#!/bin/bash
# mount refuses bad input with one line and changes nothing: a state of another
# server or point, a state in use, a mountpoint in use, a seed that is not a
# store, a missing or corrupt index.
. "$(dirname "$0")/../lib.sh"

truncate -s 8M "$T/a.img"; head -c 2M /dev/urandom | dd of="$T/a.img" conv=notrunc status=none
cp "$T/a.img" "$T/b.img"; head -c 1M /dev/urandom | dd of="$T/b.img" bs=1M seek=4 conv=notrunc status=none
S=$T/store
"$HS" init "$S" --chunk-size 64K >/dev/null
"$HS" snapshot "$S" mail01 "$T/a.img" >/dev/null
sleep 1
"$HS" backup "$S" mail01 "$T/b.img" >/dev/null
"$HS" snapshot "$S" web02 "$T/b.img" >/dev/null
first=$("$HS" points "$S" mail01 --json | json_get - 0 id)
mkdir "$T/mnt" "$T/mnt2"
snap() { find "$1" -type f -not -name daemon.log -not -name lock -print0 | sort -z | xargs -0 sha256sum; }

# A state made for mail01's latest point.
"$HS" mount "$S" mail01 "$T/mnt" --state "$T/state" --hydrate-threads 0 >"$T/mount.out"
on_exit "'$HS' umount '$T/mnt' || umount -l '$T/mnt'"
cmp "$T/mnt/mail01.img" "$T/b.img" || fail "latest point"
# The lock names the daemon itself (not the parent that forked it and exited).
pid=$("$HS" status "$T/mnt" --json | json_get - pid)
grep -q "daemon pid $pid," "$T/mount.out" || fail "mount printed another pid than the daemon's: $(cat "$T/mount.out")"
[ "$(cat "$T/state/lock")" = "$pid" ] || fail "the state's lock holds $(cat "$T/state/lock"), not the daemon's pid $pid"
expect_fail "state .* is in use by another hotspare daemon \(pid $pid\)" "$HS" mount "$S" mail01 "$T/mnt2" --state "$T/state"
expect_fail "mountpoint .*/mnt is in use" "$HS" mount "$S" web02 "$T/mnt" --state "$T/state-web"
[ ! -e "$T/state-web" ] || fail "a refused mount created a state"
# A user may not unmount root's spare: fusermount3's reason, not "busy".
if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	chmod 711 "$T"
	expect_fail "cannot unmount .*/mnt: fusermount3: entry for .*/mnt not found" \
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$HS" umount "$T/mnt"
	mountpoint -q "$T/mnt" || fail "a user's refused umount unmounted root's spare"
	chmod 700 "$T"
fi
"$HS" umount "$T/mnt"
before=$(snap "$T/state")
expect_fail "state .*/state belongs to mail01@.*, not mail01@$first" "$HS" mount "$S" "mail01@$first" "$T/mnt" --state "$T/state"
expect_fail "state .*/state belongs to mail01@.*, not web02@" "$HS" mount "$S" web02 "$T/mnt" --state "$T/state"
[ "$before" = "$(snap "$T/state")" ] || fail "a refused mount changed the state"
! mountpoint -q "$T/mnt" || fail "a refused mount left a mount"
pass "states of another point or server, a state in use (named by the daemon's own pid), a mountpoint in use"

# umount of a mount whose daemon died: exit 0, and nothing in another command's name.
"$HS" mount "$S" mail01 "$T/mnt" --state "$T/state" --hydrate-threads 0 >/dev/null
kill -9 "$("$HS" status "$T/mnt" --json | json_get - pid)"
wait_for 10 sh -c "! '$HS' status '$T/mnt' >/dev/null 2>&1" || fail "the killed daemon still answers"
"$HS" umount "$T/mnt" >"$T/umount.out" 2>&1 || fail "umount of a dead mount failed: $(cat "$T/umount.out")"
! grep -q "hotspare status" "$T/umount.out" || fail "umount spoke as another command: $(cat "$T/umount.out")"
grep -q "daemon had died" "$T/umount.out" || fail "umount did not say the daemon had died: $(cat "$T/umount.out")"
! mountpoint -q "$T/mnt" || fail "the dead mount is still there"
pass "umount of a dead spare detaches it and says so in its own name"

mkdir "$T/notstore" "$T/full"; echo x >"$T/full/file"
expect_fail "seed .*/notstore: .*is not a hotspare store" "$HS" mount "$S" mail01 "$T/mnt" --state "$T/s2" --seed "$T/notstore"
expect_fail "seed .*/nope: store .*/nope does not exist" "$HS" mount "$S" mail01 "$T/mnt" --state "$T/s2" --seed "$T/nope"
expect_fail "is not empty and holds no hotspare state" "$HS" mount "$S" mail01 "$T/mnt" --state "$T/full"
expect_fail "--readahead 'lots' is not a number of MiB from 0 to 1024" "$HS" mount "$S" mail01 "$T/mnt" --state "$T/s2" --readahead lots
expect_fail "--readahead '-1' is not a number" "$HS" mount "$S" mail01 "$T/mnt" --state "$T/s2" --readahead -1
expect_fail "--readahead '4096' is not a number" "$HS" mount "$S" mail01 "$T/mnt" --state "$T/s2" --readahead 4096
# A user's own disk.img in a directory that never was a state is not mistaken for an unfinished one.
mkdir "$T/user"; cp "$T/a.img" "$T/user/disk.img"
expect_fail "is not empty and holds no hotspare state" "$HS" mount "$S" mail01 "$T/mnt" --state "$T/user"
cmp "$T/user/disk.img" "$T/a.img" && [ "$(ls -A "$T/user")" = disk.img ] || fail "a refused mount touched a user's directory"
# A state directory every user may write to: anyone could swap the image a VM boots.
mkdir "$T/open"; chmod 777 "$T/open"
expect_fail "state directory .*/open is writable by every user" "$HS" mount "$S" mail01 "$T/mnt" --state "$T/open"
[ -z "$(ls -A "$T/open")" ] || fail "a refused mount wrote into a world-writable directory: $(ls -A "$T/open")"
# One in a directory every user may write to without the sticky bit: anyone
# could move the state away and put theirs in its place. By its name too (a
# symlink in such a directory), and not at all with the sticky bit (/tmp's).
mkdir "$T/loose" "$T/real"; chmod 777 "$T/loose"; ln -s "$T/real" "$T/loose/link"
expect_fail "state directory .*/loose/st lies in .*/loose, which every user may write to" "$HS" mount "$S" mail01 "$T/mnt" --state "$T/loose/st"
[ ! -e "$T/loose/st" ] || fail "a refused mount left the state directory it made"
expect_fail "state directory .*/loose/link/st lies in .*/loose, which every user may write to" "$HS" mount "$S" mail01 "$T/mnt" --state "$T/loose/link/st"
[ -z "$(ls -A "$T/real")" ] || fail "a refused mount through a symlink made $(ls -A "$T/real")"
chmod 1777 "$T/loose"
"$HS" mount "$S" mail01 "$T/mnt" --state "$T/loose/st" --hydrate-threads 0 >/dev/null || fail "a state in a sticky directory was refused"
"$HS" umount "$T/mnt" || fail "umount of the state in a sticky directory"
truncate -s 8M "$T/d1.img" "$T/d2.img"
"$HS" snapshot "$S" two vda="$T/d1.img" vdb="$T/d2.img" >/dev/null || fail "snapshot of two disks"
expect_fail "state directory .*/open is writable by every user" "$HS" mount "$S" two "$T/mnt" --state "$T/open"
[ -z "$(ls -A "$T/open")" ] || fail "a refused mount of two disks wrote into a world-writable directory"
mkdir -p "$T/two/disks"; chmod 777 "$T/two/disks"
expect_fail "state directory .*/two/disks is writable by every user" "$HS" mount "$S" two "$T/mnt" --state "$T/two"
[ -z "$(ls -A "$T/two/disks")" ] || fail "a refused mount wrote into a world-writable disks/"
expect_fail "point mail01@20200101T000000Z does not exist" "$HS" mount "$S" mail01@20200101T000000Z "$T/mnt" --state "$T/s2"
expect_fail "mountpoint .*/nomnt: No such file" "$HS" mount "$S" mail01 "$T/nomnt" --state "$T/s2"
idx=$(ls "$S/points/web02/"*.idx)
printf 'XXXX' | dd of="$idx" bs=1 seek=300 conv=notrunc status=none
expect_fail "point web02@.* is corrupt" "$HS" mount "$S" web02 "$T/mnt" --state "$T/s2"
[ ! -e "$T/s2" ] || fail "a refused mount created a state"
! mountpoint -q "$T/mnt" || fail "a refused mount left a mount"
pass "a seed that is not a store, a non-state directory, missing and corrupt indexes"

# Two mounts at one mountpoint at the same moment: one is made, the other is
# refused (before, both found it free and were stacked one over the other).
for round in 1 2 3; do
	rm -rf "$T/c1" "$T/c2"
	for k in 1 2; do
		(rc=0; "$HS" mount "$S" mail01 "$T/mnt" --state "$T/c$k" --hydrate-threads 0 >"$T/c$k.out" 2>&1 || rc=$?
		 echo $rc >"$T/c$k.rc") &
	done
	wait
	ok=0
	for k in 1 2; do [ "$(cat "$T/c$k.rc")" != 0 ] || ok=$((ok + 1)); done
	[ "$ok" -eq 1 ] || fail "round $round: $ok of two concurrent mounts at one mountpoint were made: $(cat "$T/c1.out" "$T/c2.out")"
	grep -q "mountpoint .*/mnt is in use" "$T/c1.out" "$T/c2.out" || fail "round $round: the refused mount said: $(cat "$T/c1.out" "$T/c2.out")"
	n=$(awk -v m="$T/mnt" '$5 == m' /proc/self/mountinfo | wc -l)
	[ "$n" -eq 1 ] || fail "round $round: $n mounts at the mountpoint"
	"$HS" umount "$T/mnt" || fail "round $round: umount"
	! mountpoint -q "$T/mnt" || fail "round $round: a second mount was hidden under the first"
done
pass "two mounts at one mountpoint at once: one is made, the other refused"

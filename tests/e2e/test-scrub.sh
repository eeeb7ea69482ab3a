#!/bin/bash
# A spare's state damaged on disk is never served as data. disk.img cut
# short under a live mount: reads fail with EIO (never a short or zero
# reply), writes too, and the error is counted; the damaged state is refused
# at the next mount until 'hotspare scrub STATE' grows it back and fetches
# what was lost. A present chunk overwritten or punched (and garbage in a
# zero chunk's hole) while unmounted: 'hotspare scrub STATE' finds and
# replaces them. After an unclean stop (kill -9) the next mount checks what
# it reads, and scrubs the rest. A running spare is scrubbed through its
# mountpoint; written chunks are reported as not checkable.
. "$(dirname "$0")/../lib.sh"

truncate -s 16M "$T/a.img"; head -c 8M /dev/urandom | dd of="$T/a.img" conv=notrunc status=none
S=$T/store
"$HS" init "$S" --chunk-size 64K >/dev/null
"$HS" snapshot "$S" mail01 "$T/a.img" >/dev/null
mkdir "$T/mnt"
ST=$T/state
hydrated() { "$HS" status "$T/mnt" --json | grep -q '"hydrated":true'; }
# dread OFFSET_KIB: read 64 KiB at OFFSET_KIB through the mount, past the page cache.
dread() { dd if="$T/mnt/mail01.img" of="$T/got" bs=64K count=1 skip=$(($1 / 64)) iflag=direct status=none; }
status() { "$HS" status "$T/mnt" --json | json_get - "$1"; }

# 1. disk.img cut short under a live mount.
hs_mount_at "$T/mnt" "$S" mail01 "$T/mnt" --state "$ST" --hydrate-threads 2
wait_for 30 hydrated || fail "hydration did not complete"
# ... and durable: the map vouches for the 128 data chunks (the flusher runs each second).
wait_for 10 python3 -c "import sys; sys.exit(open('$ST/map', 'rb').read().count(1) != 128)" || fail "the map was not flushed"
cmp "$T/mnt/mail01.img" "$T/a.img" || fail "the spare differs before the damage"
truncate -s 0 "$ST/disk.img"
dread 1024 && fail "a read of a cut state did not fail (got $(stat -c %s "$T/got") bytes)"
dread 4096 && fail "a second read of a cut state did not fail"
python3 - "$T/mnt/mail01.img" <<'PY' && fail "a write into a cut state succeeded"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_DIRECT)
import mmap
buf = mmap.mmap(-1, 4096)
try:
    os.pwrite(fd, buf, 8192); os.fsync(fd)
except OSError:
    sys.exit(1)
PY
[ "$(status errors)" -ge 2 ] || fail "the failed reads were not counted"
status last_error | grep -q "disk.img was cut to 0 of" || fail "last_error: $(status last_error)"
# umount unmounts, and says (failing) that the state could not be closed cleanly.
expect_fail "could not close its state cleanly: .*disk.img was cut to 0 of .*hotspare scrub" "$HS" umount "$T/mnt"
! grep -q " $T/mnt " /proc/self/mountinfo || fail "umount of a damaged state left it mounted"
[ ! -e "$ST/clean" ] || fail "a damaged state was marked as cleanly closed"
expect_fail "state .* is damaged: disk.img is 0 bytes.*hotspare scrub" "$HS" mount "$S" mail01 "$T/mnt" --state "$ST"
"$HS" scrub "$ST" --json >"$T/scrub.json" || fail "scrub of the cut state"
[ "$(json_get "$T/scrub.json" chunks_bad)" -eq 128 ] && [ "$(json_get "$T/scrub.json" chunks_failed)" -eq 0 ] ||
	fail "scrub of the cut state: $(cat "$T/scrub.json")"
hs_mount_at "$T/mnt" "$S" mail01 "$T/mnt" --state "$ST" --hydrate-threads 0
cmp "$T/mnt/mail01.img" "$T/a.img" || fail "the spare differs after the scrub"
"$HS" umount "$T/mnt"
pass "a state cut under a live mount gives EIO (reads and writes, counted); scrub grows it back"

# 2. Damage while unmounted (after a clean stop): 4 KiB overwritten, a hole
# punched into present chunks, garbage in a zero chunk's hole.
dd if=/dev/urandom of="$ST/disk.img" bs=4K count=1 seek=$((3 * 16 + 2)) conv=notrunc status=none
fallocate -p -o $((7 * 65536 + 4096)) -l 8192 "$ST/disk.img"
dd if=/dev/urandom of="$ST/disk.img" bs=4K count=1 seek=$((200 * 16)) conv=notrunc status=none
"$HS" scrub "$ST" --json >"$T/scrub.json" || fail "scrub of the damaged state"
[ "$(json_get "$T/scrub.json" chunks_bad)" -eq 3 ] && [ "$(json_get "$T/scrub.json" chunks_repaired)" -eq 3 ] &&
	[ "$(json_get "$T/scrub.json" chunks_checked)" -eq 256 ] || fail "scrub: $(cat "$T/scrub.json")"
"$HS" scrub "$ST" | grep -q "checked 256 chunks (16.0 MiB): 0 did not match" || fail "a second scrub found damage"
hs_mount_at "$T/mnt" "$S" mail01 "$T/mnt" --state "$ST" --hydrate-threads 0
cmp "$T/mnt/mail01.img" "$T/a.img" || fail "the spare differs after scrubbing the damage"
[ "$(status errors)" -eq 0 ] || fail "errors after the scrub"
pass "damage done while unmounted (overwrite, hole, garbage in a zero chunk) is found and replaced by scrub"

# 3. An unclean stop: the next mount checks every chunk before it is read.
pid=$(status pid)
kill -9 "$pid"
wait_for 10 eval "! proc_running $pid" || fail "the daemon did not die"
dd if=/dev/urandom of="$ST/disk.img" bs=4K count=1 seek=$((5 * 16)) conv=notrunc status=none
fallocate -p -o $((9 * 65536)) -l 65536 "$ST/disk.img"
hs_mount_at "$T/mnt" "$S" mail01 "$T/mnt" --state "$ST" --hydrate-threads 0
cmp "$T/mnt/mail01.img" "$T/a.img" || fail "damage after an unclean stop was served"
wait_for 30 sh -c "[ \$('$HS' status '$T/mnt' --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"chunks_unchecked\"])') -eq 0 ]" ||
	fail "the scrub after the unclean stop did not finish"
[ "$(status chunks_repaired)" -eq 2 ] || fail "status says $(status chunks_repaired) chunks were replaced, not 2"
grep -q "was not closed cleanly" "$ST/daemon.log" || fail "the daemon did not say the stop was unclean"
pass "after kill -9, damaged chunks are checked before they are read and replaced"

# 4. A running spare scrubbed through its mountpoint; written chunks reported.
dd if=/dev/urandom of="$ST/disk.img" bs=4K count=1 seek=$((11 * 16 + 3)) conv=notrunc status=none
printf 'guest data' | dd of="$T/mnt/mail01.img" bs=1 seek=$((100 * 65536)) conv=notrunc status=none
"$HS" scrub "$T/mnt" --json >"$T/scrub.json" || fail "scrub through the mountpoint"
[ "$(json_get "$T/scrub.json" chunks_repaired)" -eq 1 ] && [ "$(json_get "$T/scrub.json" chunks_written)" -eq 1 ] ||
	fail "live scrub: $(cat "$T/scrub.json")"
printf 'guest data' | dd of="$T/a.img" bs=1 seek=$((100 * 65536)) conv=notrunc status=none
cmp <(dd if="$T/mnt/mail01.img" bs=1M iflag=direct status=none) "$T/a.img" || fail "the spare differs after a live scrub"
"$HS" scrub "$ST" --json >"$T/scrub2.json" || fail "scrub of a state in use, by its directory"
[ "$(json_get "$T/scrub2.json" chunks_bad)" -eq 0 ] || fail "a second live scrub found damage"
"$HS" umount "$T/mnt"
[ -e "$ST/clean" ] || fail "a clean unmount did not mark the state clean"
pass "a running spare is scrubbed through its mountpoint or its state; written chunks are counted as not checkable"

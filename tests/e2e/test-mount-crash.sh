#!/bin/bash
# Acknowledged writes survive kill -9 of the daemon: a writer records each
# block it wrote once fdatasync returned; after the kill and a remount every
# acknowledged block reads back exactly, and every untouched block still
# reads as the point. Hydration and demand fetches run during the writes.
. "$(dirname "$0")/../lib.sh"

make_ext4 "$T/disk.img" 64
"$HS" init "$T/store" --chunk-size 64K >/dev/null
"$HS" snapshot "$T/store" mail01 "$T/disk.img" >/dev/null
mkdir "$T/mnt"

writer() {
	python3 - "$T/mnt/mail01.img" "$T/acked" "$1" <<'PY'
import os, random, sys
img, log, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rnd = random.Random(seed)
fd = os.open(img, os.O_RDWR)
size = os.fstat(fd).st_size
slots = list(range(size // 4096))
rnd.shuffle(slots)
out = open(log, "a")
batch = []
try:
    for n, s in enumerate(slots):
        block = (b"%08d:%06d:" % (s, seed)) * 256
        os.pwrite(fd, block[:4096], s * 4096)
        batch.append(s)
        if len(batch) == 16:
            os.fdatasync(fd)
            out.write("".join("%d %d\n" % (b, seed) for b in batch)); out.flush(); os.fsync(out.fileno())
            batch = []
except OSError:
    pass
PY
}

: >"$T/acked"
for round in 1 2 3; do
	hs_mount_at "$T/mnt" "$T/store" mail01 "$T/mnt" --state "$T/state" --hydrate-threads 2
	pid=$("$HS" status "$T/mnt" --json | json_get - pid)
	before=$(wc -l <"$T/acked")
	writer $round & wpid=$!
	# Killed at a random moment once the writer got going (python starts
	# slowly on a loaded machine).
	wait_for 20 sh -c "[ \$(wc -l <'$T/acked') -gt $before ]" ||
		fail "round $round: the writer acknowledged nothing in 20 s"
	sleep 0.$((1 + RANDOM % 6))
	kill -9 "$pid"
	wait $wpid || true
	"$HS" status "$T/mnt" >/dev/null 2>&1 && fail "status answered from a killed daemon"
done

# Remount over the dead endpoint and check.
hs_mount_at "$T/mnt" "$T/store" mail01 "$T/mnt" --state "$T/state"
python3 - "$T/mnt/mail01.img" "$T/disk.img" "$T/acked" <<'PY'
import os, sys
img, orig, log = sys.argv[1:4]
fd, od = os.open(img, os.O_RDONLY), os.open(orig, os.O_RDONLY)
acked = {}
for line in open(log):
    s, seed = map(int, line.split())
    acked.setdefault(s, set()).add(seed)
size = os.fstat(fd).st_size
touched = 0
for s in range(size // 4096):
    got = os.pread(fd, 4096, s * 4096)
    if s in acked:
        # The latest acknowledged round wins, or a later unacknowledged one.
        seeds = [int(got[9:15])] if got[8:9] == b":" and got[:8] == b"%08d" % s else []
        assert seeds and seeds[0] >= max(acked[s]), "acknowledged block %d lost: %r" % (s, got[:20])
        touched += 1
    else:
        want = os.pread(od, 4096, s * 4096)
        if got != want:
            # Only unacknowledged writes of the writer may differ from the point.
            assert got[:8] == b"%08d" % s and got[8:9] == b":", "block %d holds neither the point nor a write" % s
print("checked %d acknowledged blocks" % touched)
PY
[ "$("$HS" status "$T/mnt" --json | json_get - errors)" -eq 0 ] || fail "errors after remount"
pass "three kill -9 rounds during writes: every acknowledged block survived, the rest reads as the point"

# A daemon killed while umount waits for its flush: umount says so, in one
# line, and fails. The fault layer stalls each sync of the image for 5 s, so
# the kill lands inside the flush.
LIB=${HSFAULT:-$(dirname "$HS")/../tests/hsfault.so}
[ -f "$LIB" ] || fail "the fault layer is not built ($LIB; set HSFAULT)"
"$HS" umount "$T/mnt"
on_exit "umount -l '$T/mnt' 2>/dev/null"
env LD_PRELOAD="$LIB" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" HSFAULT_OPS=fsync \
	HSFAULT_PATH="$T/state/disk.img" HSFAULT_NTH=1 HSFAULT_TIMES=0 HSFAULT_ERR=stall HSFAULT_STALL_MS=5000 \
	HSFAULT_LOG="$T/stall.log" "$HS" mount "$T/store" mail01 "$T/mnt" --state "$T/state" >/dev/null
pid=$("$HS" status "$T/mnt" --json | json_get - pid)
on_exit "kill -9 $pid 2>/dev/null"
dd if=/dev/urandom of="$T/mnt/mail01.img" bs=64K count=16 conv=notrunc status=none
"$HS" umount "$T/mnt" >"$T/umount.out" 2>&1 &
upid=$!
# Neither check touches the mount: a stat of it would wait for the daemon.
wait_for 20 sh -c "! grep -q ' $T/mnt ' /proc/self/mountinfo" || fail "umount did not detach the mount"
wait_for 20 grep -q stall "$T/stall.log" || fail "the flush did not reach the stalled fsync"
proc_running "$upid" || fail "umount did not wait for the daemon's flush: $(cat "$T/umount.out")"
# A FIFO planted where the record goes: umount must not wait on it.
rm -f "$T/state/daemon.exit"
mkfifo "$T/state/daemon.exit"
kill -9 "$pid"
gone() { ! proc_running "$1"; }
wait_for 20 gone "$upid" || { kill "$upid"; fail "umount hangs on a FIFO as the record"; }
if wait "$upid"; then fail "umount exited 0 after its daemon was killed in its flush"; fi
grep -q "left no record that it closed the state" "$T/umount.out" || fail "umount's message: $(cat "$T/umount.out")"
[ "$(wc -l <"$T/umount.out")" = 1 ] || fail "umount said more than one line: $(cat "$T/umount.out")"
seen=$(wc -l <"$T/state/daemon.log")
hs_mount_at "$T/mnt" "$T/store" mail01 "$T/mnt" --state "$T/state"
wait_for 10 sh -c "tail -n +$((seen + 1)) '$T/state/daemon.log' | grep -q 'was not closed cleanly'" ||
	fail "the next mount did not check the state"
"$HS" umount "$T/mnt" || fail "umount of a daemon that closed its state cleanly failed"
# A flush that fails (the image's sync: EIO): umount says what the daemon said.
env LD_PRELOAD="$LIB" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" HSFAULT_OPS=fsync \
	HSFAULT_PATH="$T/state/disk.img" HSFAULT_NTH=1 HSFAULT_TIMES=0 HSFAULT_ERR=EIO \
	"$HS" mount "$T/store" mail01 "$T/mnt" --state "$T/state" >/dev/null
dd if=/dev/urandom of="$T/mnt/mail01.img" bs=64K count=16 conv=notrunc status=none
if "$HS" umount "$T/mnt" >"$T/umount.out" 2>&1; then fail "umount exited 0 after its daemon's flush failed"; fi
grep -q "could not close its state cleanly: .*Input/output error" "$T/umount.out" || fail "umount's message: $(cat "$T/umount.out")"
[ "$(wc -l <"$T/umount.out")" = 1 ] || fail "umount said more than one line: $(cat "$T/umount.out")"
pass "umount fails, in one line, when its daemon is killed in its flush or its flush fails"

# A copy of the mount in another mount namespace (what a QEMU that libvirt
# starts gets): nobody using it, umount aborts its connection and is done in
# seconds, the state flushed (it waited for the copy's end, up to 10 min);
# a process there with the image open refuses the unmount in one line.
hs_mount_at "$T/mnt" "$T/store" mail01 "$T/mnt" --state "$T/ns-state"
unshare -m --propagation private sleep 60 &
copy=$!
on_exit "kill $copy"
wait_for 10 sh -c "grep -q ' $T/mnt ' /proc/$copy/mountinfo" || fail "the namespace has no copy of the mount"
start=$(date +%s)
timeout 60 "$HS" umount "$T/mnt" || fail "umount with an idle copy in another namespace"
[ $(($(date +%s) - start)) -le 20 ] || fail "umount waited $(($(date +%s) - start)) s for an idle copy"
grep -q "state flushed" "$T/ns-state/daemon.log" || fail "the daemon did not flush: $(tail -n 3 "$T/ns-state/daemon.log")"
kill "$copy"
hs_mount_at "$T/mnt" "$T/store" mail01 "$T/mnt" --state "$T/ns-state"
unshare -m --propagation private sh -c "exec 3<'$T/mnt/mail01.img'; exec sleep 60" &
user=$!
on_exit "kill $user"
wait_for 10 sh -c "ls -l /proc/$user/fd 2>/dev/null | grep -q mail01.img" || fail "the namespace's process did not open the image"
expect_fail "busy: pid $user \(sleep\) has its files open in another mount namespace" timeout 60 "$HS" umount "$T/mnt"
[ "$("$HS" status "$T/mnt" --json | json_get - pid)" -gt 0 ] || fail "a refused umount left no mount"
kill "$user"
wait_for 10 eval "! proc_running $user" || fail "the namespace's process did not end"
"$HS" umount "$T/mnt" || fail "umount once the copy's user ended"
pass "umount aborts a copy of its mount in another namespace that nobody uses; one in use refuses it"

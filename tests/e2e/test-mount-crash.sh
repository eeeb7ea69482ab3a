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

for round in 1 2 3; do
	hs_mount_at "$T/mnt" "$T/store" mail01 "$T/mnt" --state "$T/state" --hydrate-threads 2
	pid=$("$HS" status "$T/mnt" --json | json_get - pid)
	writer $round & wpid=$!
	sleep 0.$((3 + RANDOM % 6))
	kill -9 "$pid"
	wait $wpid || true
	[ -s "$T/acked" ] || fail "round $round: the writer acknowledged nothing before the kill"
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

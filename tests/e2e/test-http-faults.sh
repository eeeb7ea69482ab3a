#!/bin/bash
# A flaky network under a spare whose store is on a web server:
# - nginx stopped for a few seconds during cold reads: the reads wait, then
#   return exactly the point's bytes;
# - nginx stopped past a short --deadline: EIO, the daemon stays up, and reads
#   work again once nginx is back; hydration resumes by itself;
# - a proxy that corrupts, truncates or shortens bodies: never wrong bytes
#   (retried, else EIO, counted in status);
# - an upload that fails half-way leaves no point, and the next run finishes
#   it without sending again what arrived.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root"; exit 77; }
. "$(dirname "$0")/../http.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

PORT=$(free_port)
nginx_conf web "$T/www" "$PORT"
nginx_up web "$PORT"
URL=http://127.0.0.1:$PORT/store
make_ext4 "$T/disk.img" 48
"$HS" init "$URL" >/dev/null
"$HS" snapshot "$URL" mail01 "$T/disk.img" >/dev/null || fail "snapshot"
CS=262144
mkdir "$T/mnt"
# chunk_of K: the K-th chunk of the image (what a read of it must return).
chunk_of() { dd if="$T/disk.img" bs=$CS skip="$1" count=1 status=none; }
# read_chunk K: read the K-th chunk through the mount (O_DIRECT: no page cache).
read_chunk() { dd if="$T/mnt/mail01.img" bs=$CS skip="$1" count=1 iflag=direct status=none; }
st() { "$HS" status "$T/mnt" --json | json_get - "$1"; }
# A chunk with data: not a hole of the image (reads of zero chunks need no fetch).
K=$(python3 - "$T/disk.img" $CS <<'PY'
import sys
f = open(sys.argv[1], "rb"); cs = int(sys.argv[2]); k = 0
while True:
    b = f.read(cs)
    if not b: break
    if b.count(0) < len(b) and k > 4: print(k); break
    k += 1
PY
)

# 1. An outage during cold reads: the reads wait and then succeed.
hs_mount_at "$T/mnt" "$URL" mail01 "$T/mnt" --state "$T/s1" --hydrate-threads 0 --deadline 60
nginx_down web
start=$(date +%s.%N)
(cmp "$T/mnt/mail01.img" "$T/disk.img" && echo same >"$T/cmp1") &
CMP=$!
sleep 3
kill -0 $CMP 2>/dev/null || fail "the reads did not wait for the server (cmp ended at once)"
nginx_up web "$PORT"
wait $CMP || true
[ -f "$T/cmp1" ] || fail "reads across an outage returned other bytes or failed"
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
[ "$(st errors)" -eq 0 ] || fail "errors counted for reads that succeeded: $(st last_error)"
"$HS" umount "$T/mnt"
pass "cold reads wait out a 3 s outage and return the exact bytes ($took s)"

# 2. An outage past the deadline: EIO, the daemon stays up, reads recover.
hs_mount_at "$T/mnt" "$URL" mail01 "$T/mnt" --state "$T/s2" --hydrate-threads 0 --deadline 2
nginx_down web
start=$SECONDS
rc=0; read_chunk "$K" >"$T/got" 2>"$T/dd.err" || rc=$?
[ "$rc" -ne 0 ] || fail "a read past the deadline succeeded"
grep -q "Input/output error" "$T/dd.err" || { cat "$T/dd.err"; fail "a read past the deadline did not fail with EIO"; }
[ $((SECONDS - start)) -lt 20 ] || fail "a read with a 2 s deadline took $((SECONDS - start)) s"
[ "$(st errors)" -ge 1 ] || fail "the failed read is not counted in status"
st last_error | grep -q "cannot reach" || fail "status last_error: $(st last_error)"
nginx_up web "$PORT"
read_chunk "$K" >"$T/got" || fail "reads did not recover once the server was back"
cmp "$T/got" <(chunk_of "$K") || fail "the read after the outage returned other bytes"
"$HS" umount "$T/mnt"
pass "a read past a 2 s deadline fails with EIO; the daemon stays up and recovers"

# The proxy for what follows: it damages what passes through it on command.
PPORT=$(free_port)
echo pass >"$T/mode"
python3 "$HERE/../proxy.py" fault "$PPORT" "$PORT" "$T/mode" "$T/proxy.log" &
PROXY=$!
on_exit "kill $PROXY"
wait_for 10 port_open "$PPORT" || fail "the proxy did not start"
PURL=http://127.0.0.1:$PPORT/store

# 3. Hydration pauses while the server is away and finishes by itself. (The
# mount itself needs the server, to read the index: the proxy drops only the
# chunk requests, from before the mount until 3 s after it.)
echo drop-chunks >"$T/mode"
hs_mount_at "$T/mnt" "$PURL" mail01 "$T/mnt" --state "$T/s3" --hydrate-threads 2
sleep 3
[ "$(st hydrated)" = false ] || fail "hydrated while the chunks were unreachable"
echo pass >"$T/mode"
wait_for 120 sh -c "'$HS' status '$T/mnt' --json | grep -q '\"hydrated\":true'" || fail "hydration did not resume"
cmp "$T/mnt/mail01.img" "$T/disk.img" || fail "the hydrated image differs"
"$HS" umount "$T/mnt"
pass "hydration pauses while chunks are unreachable and resumes by itself"

# 4. Bodies damaged in transit: never wrong bytes.
for m in "corrupt-every 2" "truncate-every 2" "short-every 3"; do
	echo "$m" >"$T/mode"
	rm -rf "$T/s4"
	hs_mount_at "$T/mnt" "$PURL" mail01 "$T/mnt" --state "$T/s4" --hydrate-threads 0 --deadline 30
	cmp "$T/mnt/mail01.img" "$T/disk.img" || fail "$m: wrong bytes or a failed read"
	grep -q " ${m%%-*}\$" "$T/proxy.log" || fail "$m: the proxy damaged nothing"
	"$HS" umount "$T/mnt"
done
echo corrupt-all >"$T/mode"
rm -rf "$T/s4"
hs_mount_at "$T/mnt" "$PURL" mail01 "$T/mnt" --state "$T/s4" --hydrate-threads 0 --deadline 5
rc=0; read_chunk "$K" >"$T/got" 2>"$T/dd.err" || rc=$?
[ "$rc" -ne 0 ] && grep -q "Input/output error" "$T/dd.err" || fail "a chunk corrupt at every fetch was not EIO"
[ "$(st errors)" -ge 1 ] || fail "the corrupt chunk is not counted in status"
st last_error | grep -q "corrupt" || fail "status last_error: $(st last_error)"
echo pass >"$T/mode"
read_chunk "$K" >"$T/got" || fail "reads did not recover once bodies were intact"
cmp "$T/got" <(chunk_of "$K") || fail "wrong bytes after corrupt fetches"
"$HS" umount "$T/mnt"
pass "corrupt, truncated and short bodies: refetched or EIO, never wrong bytes"

# 5. An upload that fails half-way, then runs again (another server whose
# disk has 3 MB the store does not hold yet).
cp --sparse=always "$T/disk.img" "$T/disk2.img"
head -c 3000000 /dev/urandom >"$T/new.bin"
ext4_write "$T/disk2.img" /srv/data/new.bin "$T/new.bin"
: >"$T/proxy.log"
echo "put-fail-after 6" >"$T/mode"
rc=0; "$HS" snapshot "$PURL" mail02 "$T/disk2.img" >/dev/null 2>"$T/snap.err" || rc=$?
[ "$rc" -ne 0 ] || fail "a snapshot whose uploads were refused succeeded"
grep -q "access denied (HTTP 403)" "$T/snap.err" || { cat "$T/snap.err"; fail "the failed upload's message"; }
[ ! -e "$T/www/store/points/mail02" ] || [ -z "$(ls "$T/www/store/points/mail02")" ] || fail "a failed snapshot left an index"
[ -z "$(find "$T/www/store/locks" -type f)" ] || fail "a failed snapshot left its lock object"
"$HS" verify "$URL" >/dev/null || fail "verify after a failed upload"
grep '^PUT .*/chunks/.* 20[14] ' "$T/proxy.log" | cut -d' ' -f2 | sort >"$T/first"
[ "$(wc -l <"$T/first")" -ge 1 ] || fail "no chunk arrived in the first run"
: >"$T/proxy.log"
echo pass >"$T/mode"
"$HS" snapshot "$PURL" mail02 "$T/disk2.img" >/dev/null || fail "the second run failed"
grep '^PUT .*/chunks/' "$T/proxy.log" | cut -d' ' -f2 | sort >"$T/second"
[ -z "$(comm -12 "$T/first" "$T/second")" ] || fail "the second run sent again chunks that had arrived"
"$HS" restore "$URL" mail02 "$T/r.img" >/dev/null && cmp "$T/r.img" "$T/disk2.img" || fail "restore after the resumed upload"
pass "a half-failed upload leaves no point; the rerun sends only what was missing ($(wc -l <"$T/first") chunks not sent again)"

# 6. Writers: a lock object held by a process elsewhere refuses a second
# writer (one line naming it); one left by a dead process on this host is taken over.
printf 'hotspare-lock\nhost elsewhere\npid 4242\ntime %s\nnonce 1\n' "$(date +%s)" >"$T/lock"
curl -s -f -T "$T/lock" "$URL/locks/mail01.lock" || fail "cannot place a lock object"
expect_fail "mail01 is busy: another hotspare process \(pid 4242 on elsewhere, since .*\) .*locks/mail01.lock" \
	"$HS" backup "$URL" mail01 "$T/disk.img"
dead=$(sh -c 'echo $$') # a process that has exited
printf 'hotspare-lock\nhost %s\npid %s\ntime %s\nnonce 2\n' "$(hostname)" "$dead" "$(date +%s)" >"$T/lock"
curl -s -f -T "$T/lock" "$URL/locks/mail01.lock" || fail "cannot place a lock object"
"$HS" backup "$URL" mail01 "$T/disk.img" >/dev/null || fail "a dead process's lock was not taken over"
[ ! -e "$T/www/store/locks/mail01.lock" ] || fail "the lock object was not removed"
pass "a second writer is refused by the lock object; a dead process's lock is taken over"

# 7. A 404 for a chunk the point names: EIO at once (no waiting for the deadline), in status.
hs_mount_at "$T/mnt" "$URL" mail01 "$T/mnt" --state "$T/s7" --hydrate-threads 0 --deadline 60
key=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' <(chunk_of "$K"))
mv "$T/www/store/chunks/${key:0:2}/$key.zst" "$T/held.zst"
start=$SECONDS
rc=0; read_chunk "$K" >/dev/null 2>"$T/dd.err" || rc=$?
[ "$rc" -ne 0 ] && grep -q "Input/output error" "$T/dd.err" || fail "a chunk missing on the server was not EIO"
[ $((SECONDS - start)) -lt 10 ] || fail "a missing chunk waited like a network fault"
st last_error | grep -q "missing" || fail "status last_error: $(st last_error)"
mv "$T/held.zst" "$T/www/store/chunks/${key:0:2}/$key.zst"
"$HS" umount "$T/mnt"
pass "a chunk the server does not have (404): EIO at once, reported in status"

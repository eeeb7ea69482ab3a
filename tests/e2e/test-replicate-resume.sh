#!/bin/bash
# A replicate into a directory killed with -9 half-way resumes: what it sent
# before the kill is durable (chunks are renamed into place every second, not
# only per 128 MiB batch), the rerun sends exactly the chunks still missing,
# and it removes the dead run's temporary files. The source is a store on
# nginx behind a proxy that delays every packet, so the run takes seconds.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../http.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
count() { find "$1" -name "$2" -type f 2>/dev/null | wc -l; }

# 40 MiB of incompressible data in 64 KiB chunks: 640 chunks.
head -c $((40 << 20)) /dev/urandom >"$T/disk.img"
mkdir -p "$T/www"
"$HS" init "$T/www/store" --chunk-size 64K >/dev/null
"$HS" snapshot "$T/www/store" web01 "$T/disk.img" >/dev/null
TOTAL=$(count "$T/www/store/chunks" '*.zst')
[ "$TOTAL" -ge 600 ] || fail "the source holds only $TOTAL chunks"
PORT=$(free_port)
nginx_conf web "$T/www" "$PORT"
nginx_up web "$PORT"
DPORT=$(free_port)
python3 "$HERE/../proxy.py" delay "$DPORT" "$PORT" 40 &
on_exit "kill $!"
wait_for 10 port_open "$DPORT" || fail "the delay proxy did not start"
SRC=http://127.0.0.1:$DPORT/store

"$HS" replicate "$SRC" "$T/replica" >"$T/run1.out" 2>&1 &
pid=$!
on_exit "kill -9 $pid"
# Kill it once some chunks are in place (a run that shows none before it ends
# made no durable progress along the way).
for ((i = 0; i < 600; i++)); do
	[ "$(count "$T/replica/chunks" '*.zst')" -lt 20 ] || break
	kill -0 $pid 2>/dev/null || { cat "$T/run1.out"; fail "replicate ended before any chunk was in place mid-run"; }
	sleep 0.1
done
kill -9 $pid
wait $pid 2>/dev/null || true
DONE=$(count "$T/replica/chunks" '*.zst')
TMP=$(count "$T/replica/chunks" '.tmp.*')
[ "$DONE" -ge 20 ] && [ "$DONE" -lt "$TOTAL" ] || fail "killed with $DONE of $TOTAL chunks in place"
[ -z "$(ls "$T/replica/points/web01" 2>/dev/null)" ] || fail "a killed run left an index"
pass "killed with $DONE of $TOTAL chunks in place and $TMP temporary files"
# One more, of a process known to be gone (whatever the kill left).
sh -c 'exit 0' & dead=$!; wait $dead
mkdir -p "$T/replica/chunks/ff"; head -c 1000 /dev/urandom >"$T/replica/chunks/ff/.tmp.$dead.9"

"$HS" replicate "$SRC" "$T/replica" --json >"$T/r2.json" || fail "the rerun failed"
[ "$(json_get "$T/r2.json" chunks_sent)" -eq $((TOTAL - DONE)) ] &&
	[ "$(json_get "$T/r2.json" chunks_present)" -eq "$DONE" ] ||
	fail "the rerun: $(cat "$T/r2.json"); $((TOTAL - DONE)) chunks were missing"
[ "$(count "$T/replica" '.tmp.*')" -eq 0 ] || fail "the dead run's temporary files are still there"
"$HS" verify "$T/replica" >/dev/null || fail "the resumed replica does not verify"
"$HS" restore "$T/replica" web01 "$T/r.img" >/dev/null && cmp "$T/r.img" "$T/disk.img" || fail "restore from the resumed replica"
pass "the rerun sent only the $((TOTAL - DONE)) missing chunks and removed the temporary files"

# Temporary files of a live writer stay.
mkdir -p "$T/replica/chunks/00"
: >"$T/replica/chunks/00/.tmp.$$.1"
"$HS" replicate "$SRC" "$T/replica" >/dev/null
[ -e "$T/replica/chunks/00/.tmp.$$.1" ] || fail "a live process's temporary file was removed"
pass "a live writer's temporary files are left alone"

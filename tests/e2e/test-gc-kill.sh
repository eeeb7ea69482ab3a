#!/bin/bash
# gc killed with SIGKILL at random moments, 20 rounds: each round a day's
# backup (8 MiB of 32 rewritten), prune --keep-last 2, and a gc killed 0-60 ms
# after it starts (in odd rounds beside a backup of another server, so its
# batches wait for that writer). After every kill every remaining point
# verifies; at the end one gc completes what the killed ones began: nothing
# named by no point is left, in the store or its trash, no temporary file,
# and every point restores exactly.
. "$(dirname "$0")/../lib.sh"
S=$T/store
ROUNDS=${GC_KILL_ROUNDS:-20}
head -c $((32 << 20)) /dev/urandom >"$T/disk.img"
head -c $((16 << 20)) /dev/urandom >"$T/other.img"
"$HS" init "$S" --chunk-size 64K >/dev/null
"$HS" snapshot "$S" web01 "$T/disk.img" --json >"$T/p.json"
sha256sum <"$T/disk.img" | cut -c1-64 >"$T/sum-web01@$(json_get "$T/p.json" point)"
killed=0
for r in $(seq 1 "$ROUNDS"); do
	sleep 1 # one point a second: ids are times
	head -c $((8 << 20)) /dev/urandom | dd of="$T/disk.img" bs=1M seek=$(((r % 4) * 8)) conv=notrunc status=none
	"$HS" backup "$S" web01 "$T/disk.img" --json >"$T/p.json" || fail "backup, round $r"
	sha256sum <"$T/disk.img" | cut -c1-64 >"$T/sum-web01@$(json_get "$T/p.json" point)"
	"$HS" prune "$S" --keep-last 2 >/dev/null || fail "prune, round $r"
	bk=
	if [ $((r % 2)) -eq 1 ]; then
		head -c $((4 << 20)) /dev/urandom | dd of="$T/other.img" bs=1M seek=$((r % 4)) conv=notrunc status=none
		"$HS" backup "$S" db01 "$T/other.img" --json >"$T/o.json" 2>"$T/o.err" &
		bk=$!
	fi
	"$HS" gc "$S" --grace 0 >/dev/null 2>&1 &
	gc=$!
	sleep "0.0$((RANDOM % 60))"
	kill -9 "$gc" 2>/dev/null && killed=$((killed + 1))
	wait "$gc" 2>/dev/null || true
	if [ -n "$bk" ]; then
		wait "$bk" || fail "the backup beside a killed gc failed: $(cat "$T/o.err")"
		sha256sum <"$T/other.img" | cut -c1-64 >"$T/sum-db01@$(json_get "$T/o.json" point)"
	fi
	"$HS" verify "$S" >"$T/verify.out" 2>&1 || { cat "$T/verify.out"; fail "verify after gc was killed, round $r"; }
done
[ "$killed" -ge $((ROUNDS / 4)) ] || fail "only $killed of $ROUNDS gc runs were still running when killed"
pass "$ROUNDS rounds, gc killed in $killed of them at random moments: every point verifies after each"

"$HS" gc "$S" --grace 0 --json >"$T/gc.json" || fail "the gc after the kills"
"$HS" gc "$S" --grace 0 --json >"$T/gc2.json" || fail "a second gc"
[ "$(json_get "$T/gc2.json" chunks_freed)" -eq 0 ] || fail "the gc after the kills left chunks to free: $(cat "$T/gc2.json")"
"$HS" du "$S" --json >"$T/du.json"
[ "$(json_get "$T/du.json" unnamed_chunks)" -eq 0 ] || fail "chunks no point names are left: $(cat "$T/du.json")"
[ "$(json_get "$T/du.json" pruned_chunks)" -eq 0 ] || fail "chunks of pruned points are left: $(cat "$T/du.json")"
[ -z "$(find "$S/trash" -type f)" ] || fail "the trash is not empty: $(find "$S/trash" -type f | head -3)"
[ -z "$(find "$S" -name '.tmp.*')" ] || fail "temporary files are left: $(find "$S" -name '.tmp.*' | head -3)"
"$HS" verify "$S" >/dev/null || fail "verify at the end"
n=0
for srv in web01 db01; do
	for id in $("$HS" points "$S" $srv --json | python3 -c 'import json,sys; print(" ".join(p["id"] for p in json.load(sys.stdin)))'); do
		"$HS" restore "$S" "$srv@$id" "$T/r.img" >/dev/null || fail "restore $srv@$id"
		[ "$(sha256sum <"$T/r.img" | cut -c1-64)" = "$(cat "$T/sum-$srv@$id")" ] || fail "$srv@$id restores otherwise"
		rm -f "$T/r.img"
		n=$((n + 1))
	done
done
pass "the next gc completes: nothing unnamed left, trash empty, no temporary file; all $n points restore exactly"

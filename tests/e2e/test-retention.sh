#!/bin/bash
# test-retention.sh KIND: prune, gc and du on a store of KIND (dir, or s3:
# s3rver behind the SigV4-checking proxy, listings in pages of 3 keys).
# - du: per server its bytes, what only it names, its dedup factor;
# - bad input refused in one line with the store byte-identical: no rule, a
#   rule of 0, a negative one, an unknown server; --dry-run of prune and gc
#   changes nothing either;
# - prune keeps what the rules say plus the newest snapshot, says why, names
#   the drive no kept point needs; gc frees exactly the chunks only the pruned
#   points named (du agrees), every kept point verifies and restores exactly;
# - (dir) an encrypted store is pruned and collected without its key, a web
#   server's store is refused in one line naming the directory to run on.
. "$(dirname "$0")/../lib.sh"
KIND=${1:-}
CS=65536
case $KIND in
dir)
	S=$T/store BACKING=$T/store ;;
s3)
	. "$(dirname "$0")/../http.sh"
	s3rver_up
	export HOTSPARE_S3_ENDPOINT=$S3_ENDPOINT AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
	export AWS_REGION=us-east-1 HOTSPARE_S3_MAX_KEYS=3
	unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 HOTSPARE_S3_PATH_STYLE
	S=s3://hotspare-test/ret BACKING=$T/s3rver ;;
*) fail "usage: test-retention.sh dir|s3" ;;
esac
sum() { tree_sum "$BACKING"; }
# chunks: the chunk objects under the store (s3rver keeps each in a file NAME._S3rver_object).
chunks() { find "$BACKING" -path '*/chunks/*' -not -path '*/trash/*' -type f \( -name '*.zst' -o -name '*.zst._S3rver_object' \) | wc -l; }

# web01: 4 MiB, a snapshot shipped to a drive, then 5 days each rewriting
# the same 1 MiB (16 chunks), so each day's chunks are its own. mail01 shares
# web01's first MiB (dedup across servers) and has one point.
head -c $((4 << 20)) /dev/urandom >"$T/web.img"
cp "$T/web.img" "$T/mail.img"; head -c $((3 << 20)) /dev/urandom | dd of="$T/mail.img" bs=1M seek=1 conv=notrunc status=none
"$HS" init "$S" --chunk-size 64K >/dev/null
"$HS" snapshot "$S" web01 "$T/web.img" --ship "$T/usb" >/dev/null
"$HS" snapshot "$S" mail01 "$T/mail.img" >/dev/null
for d in 1 2 3 4 5; do
	head -c $((1 << 20)) /dev/urandom | dd of="$T/web.img" bs=1M seek=2 conv=notrunc status=none
	"$HS" backup "$S" web01 "$T/web.img" --json >"$T/b$d.json"
	cp "$T/web.img" "$T/web-$(json_get "$T/b$d.json" point).img"
	sleep 1
done
snap=$("$HS" points "$S" web01 --json | json_get - 0 id)
[ "$("$HS" points "$S" web01 --json | json_get - 3 drive)" = "$snap" ] || fail "points does not name the drive a backup needs"
"$HS" points "$S" web01 | grep -q "NEEDS DRIVE" || fail "points has no drive column"
pass "points says which drive each point needs"

"$HS" du "$S" --json >"$T/du0.json" || fail "du"
python3 - "$T/du0.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = {x["server"]: x for x in d["servers"]}
assert set(s) == {"mail01", "web01"}, s
w, m = s["web01"], s["mail01"]
assert w["points"] == 6 and m["points"] == 1, (w, m)
assert w["image_bytes"] == 6 * 4 * 2**20 and m["image_bytes"] == 4 * 2**20, (w, m)
# In the store, web01's points name its 5 days (80 chunks, its own) and its
# first MiB (16 chunks: mail01's snapshot stored them; web01's snapshot went to
# the drive, which holds the rest).
assert w["chunks"] == 96 and w["unique_chunks"] == 80 and w["elsewhere_chunks"] > 0, w
assert m["chunks"] == 64 and m["unique_chunks"] == 48, m
assert 3.9 < w["dedup"] < 4.1, w   # 6 points of 4 MiB, 6 MiB stored
assert d["unnamed_chunks"] == 0 and d["chunks"] == 144, d
PY
"$HS" du "$S" web01 | grep -Eq '^web01 ' || fail "du of one server"
expect_fail "server nosuch has no points" "$HS" du "$S" nosuch
pass "du: per server its points, stored and unique bytes, dedup"

before=$(sum)
expect_fail "no rule given" "$HS" prune "$S"
expect_fail "--keep-daily '0' is not a number from 1 to" "$HS" prune "$S" --keep-daily 0
expect_fail "--keep-last '-1' is not a number from 1 to" "$HS" prune "$S" --keep-last -1
expect_fail "server nosuch has no points" "$HS" prune "$S" web01 nosuch --keep-last 1
expect_fail "invalid|not a valid|server name" "$HS" prune "$S" ../x --keep-last 1
expect_fail "--grace '1e3' is not a number" "$HS" gc "$S" --grace 1e3
"$HS" prune "$S" --keep-last 2 --dry-run --json >"$T/dry.json" || fail "prune --dry-run"
"$HS" prune "$S" --keep-last 2 --dry-run >"$T/dry.txt" || fail "prune --dry-run (text)"
grep -q "would remove" "$T/dry.txt" || fail "the dry run does not say what would go: $(cat "$T/dry.txt")"
"$HS" gc "$S" --dry-run --grace 0 --json >"$T/gcdry.json" || fail "gc --dry-run"
[ "$before" = "$(sum)" ] || fail "a refusal or a dry run changed the store"
[ "$(json_get "$T/gcdry.json" chunks_freed)" -eq 0 ] || fail "gc would free chunks every point names"
pass "bad input refused in one line; prune and gc --dry-run leave the store byte-identical"

"$HS" prune "$S" --keep-last 2 --json >"$T/prune.json" || fail "prune"
cmp <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("seconds"); d.pop("dry_run"); print(json.dumps(d, sort_keys=True))' "$T/dry.json") \
    <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("seconds"); d.pop("dry_run"); print(json.dumps(d, sort_keys=True))' "$T/prune.json") ||
	fail "prune did otherwise than its dry run said"
python3 - "$T/prune.json" "$snap" <<'PY'
import json, sys
d, snap = json.load(open(sys.argv[1])), sys.argv[2]
s = {x["server"]: x for x in d["servers"]}
w = s["web01"]["points"]
keep = [p["id"] for p in w if p["keep"]]
assert len(w) == 6 and len(keep) == 3 and keep[0] == snap, keep
assert w[0]["reasons"] == ["newest snapshot"], w[0]
assert w[5]["reasons"] == ["last", "newest"] and w[4]["reasons"] == ["last"], w
assert all(p["drive"] == snap for p in w), w
assert s["mail01"]["removed"] == 0 and s["mail01"]["points"][0]["reasons"] == ["last", "newest", "newest snapshot"]
assert d["removed"] == 3 and d["kept"] == 4, d
assert d["drives_freed"] == [], d   # the kept backups still need the drive
PY
[ "$("$HS" points "$S" web01 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -eq 3 ] ||
	fail "points still lists the pruned points"
pass "prune keeps the last 2 and the newest snapshot, says why, and did what its dry run said"

n0=$(chunks)
"$HS" gc "$S" --json >"$T/gc-young.json" || fail "gc"
[ "$(json_get "$T/gc-young.json" chunks_freed)" -eq 0 ] || fail "gc took chunks younger than its grace"
[ "$(json_get "$T/gc-young.json" points_deleted)" -eq 3 ] || fail "gc did not delete the pruned points"
"$HS" gc "$S" --grace 0 --json >"$T/gc.json" || fail "gc --grace 0"
freed=$(json_get "$T/gc.json" chunks_freed)
[ "$freed" -eq 48 ] || fail "gc freed $freed chunks, not the 48 only the 3 pruned days named"
[ "$(json_get "$T/gc.json" bytes_freed)" -gt $((48 * 60000)) ] || fail "gc's bytes freed: $(cat "$T/gc.json")"
[ "$(chunks)" -eq $((n0 - 48)) ] || fail "$(chunks) chunk objects left of $n0, not $((n0 - 48))"
"$HS" gc "$S" --grace 0 --json >"$T/gc2.json" || fail "gc again"
[ "$(json_get "$T/gc2.json" chunks_freed)" -eq 0 ] || fail "a second gc found more to free"
"$HS" du "$S" --json >"$T/du1.json"
[ "$(json_get "$T/du1.json" unnamed_chunks)" -eq 0 ] && [ "$(json_get "$T/du1.json" trash_chunks)" -eq 0 ] ||
	fail "du after gc: $(cat "$T/du1.json")"
"$HS" verify "$S" --seed "$T/usb" >/dev/null || fail "verify after prune and gc"
for id in $("$HS" points "$S" web01 --json | python3 -c 'import json,sys; print(" ".join(p["id"] for p in json.load(sys.stdin)[1:]))'); do
	"$HS" restore "$S" "web01@$id" "$T/r.img" --seed "$T/usb" >/dev/null || fail "restore web01@$id"
	cmp "$T/r.img" "$T/web-$id.img" || fail "web01@$id restores otherwise"
	rm -f "$T/r.img"
done
"$HS" restore "$S" mail01 "$T/r.img" >/dev/null && cmp "$T/r.img" "$T/mail.img" || fail "mail01 restores otherwise"
pass "gc frees the 48 chunks only the pruned points named (not before its grace), and nothing else: every kept point restores exactly"

# The last snapshot's drive: freed once no kept backup needs it.
"$HS" snapshot "$S" web01 "$T/web.img" >/dev/null
sleep 1
"$HS" backup "$S" web01 "$T/web.img" >/dev/null
"$HS" prune "$S" web01 --keep-last 1 --json >"$T/prune2.json" || fail "prune after a new snapshot"
[ "$(json_get "$T/prune2.json" drives_freed 0 drive)" = "$snap" ] || fail "prune does not say the old drive may be wiped: $(cat "$T/prune2.json")"
"$HS" prune "$S" web01 --keep-last 1 | grep -q "no kept point needs drive" && fail "a second prune names the drive again"
pass "prune says when an old drive is no longer needed by any kept point"

if [ "$KIND" = dir ]; then
	# No key needed: an encrypted store is pruned and collected as it is.
	head -c 32 /dev/urandom >/dev/null
	"$HS" key create "$T/k.key" >/dev/null
	"$HS" init "$T/enc" --chunk-size 64K --encrypt "$T/k.key" >/dev/null
	for d in 1 2 3; do
		head -c $((1 << 20)) /dev/urandom | dd of="$T/web.img" bs=1M seek=2 conv=notrunc status=none
		HOTSPARE_KEYFILE=$T/k.key "$HS" backup "$T/enc" web01 "$T/web.img" >/dev/null
		sleep 1
	done
	"$HS" prune "$T/enc" --keep-last 1 >/dev/null || fail "prune of an encrypted store without its key"
	"$HS" gc "$T/enc" --grace 0 --json >"$T/gce.json" || fail "gc of an encrypted store without its key"
	[ "$(json_get "$T/gce.json" chunks_freed)" -eq 32 ] || fail "gc of the encrypted store: $(cat "$T/gce.json")"
	HOTSPARE_KEYFILE=$T/k.key "$HS" restore "$T/enc" web01 "$T/r.img" >/dev/null && cmp "$T/r.img" "$T/web.img" ||
		fail "the encrypted store's kept point"
	pass "an encrypted store is pruned and collected without its key"

	. "$(dirname "$0")/../http.sh"
	PORT=$(free_port)
	nginx_conf web "$T" "$PORT"
	nginx_up web "$PORT"
	before=$(sum)
	expect_fail "run prune on the directory it serves" "$HS" prune "http://127.0.0.1:$PORT/store" --keep-last 1
	expect_fail "run gc on the directory it serves" "$HS" gc "http://127.0.0.1:$PORT/store"
	expect_fail "directory it serves" "$HS" du "http://127.0.0.1:$PORT/store"
	[ "$before" = "$(sum)" ] || fail "a refusal over HTTP changed the store"
	pass "prune, gc and du of a web server's store are refused, naming the directory to run them on"

	# The manifest a web server lists points by. A prune killed between its
	# moves and its manifest (a point moved to the trash by hand here): gc
	# lists what is left. A backup beside a prune slowed in its manifest's
	# rename (strace): both rewrite it under one lock, so neither undoes the
	# other's point.
	M=$T/man
	"$HS" init "$M" --chunk-size 64K >/dev/null
	for d in 1 2 3; do
		head -c $((1 << 20)) /dev/urandom >"$T/m.img"
		"$HS" backup "$M" man01 "$T/m.img" >/dev/null
		sleep 1
	done
	first=$(head -1 "$M/points/man01/.points")
	mkdir -p "$M/trash/points/man01"
	mv "$M/points/man01/$first.idx" "$M/trash/points/man01/"
	"$HS" gc "$M" --grace 0 >/dev/null || fail "gc after a killed prune"
	[ "$(ls "$M/points/man01" | grep -c '\.idx$')" -eq 2 ] && [ "$(grep -c . "$M/points/man01/.points")" -eq 2 ] &&
		! grep -q "$first" "$M/points/man01/.points" || fail "gc left the manifest listing a pruned point: $(cat "$M/points/man01/.points")"
	"$HS" verify "http://127.0.0.1:$PORT/man" >/dev/null || fail "verify over http after gc"
	# (LeakSanitizer cannot run under ptrace: no leak check for this one run.)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -o /dev/null -e trace=rename,renameat,renameat2 -e inject=rename,renameat,renameat2:delay_enter=700000 \
		"$HS" prune "$M" --keep-last 1 >/dev/null &
	p=$!
	sleep 0.5
	head -c $((1 << 20)) /dev/urandom >"$T/m.img"
	"$HS" backup "$M" man01 "$T/m.img" --json >"$T/mb.json" || fail "a backup beside prune"
	wait $p || fail "prune beside a backup"
	new=$(json_get "$T/mb.json" point)
	diff <(ls "$M/points/man01" | sed -n 's/\.idx$//p') "$M/points/man01/.points" >/dev/null ||
		fail "the manifest is not the listing: $(cat "$M/points/man01/.points")"
	"$HS" restore "http://127.0.0.1:$PORT/man" man01 "$T/mr.img" >/dev/null && cmp "$T/mr.img" "$T/m.img" ||
		fail "the latest point over http is not the newest backup"
	pass "the manifest a web server lists by: gc mends one a killed prune left, a backup beside prune keeps its point"

	# A FIFO planted where records are read: one line, no hang.
	mkdir -p "$M/leases"
	mkfifo "$M/leases/planted.json"
	expect_fail "leases/planted.json is not a regular file" timeout 20 "$HS" prune "$M" --keep-last 1 --dry-run
	expect_fail "leases/planted.json is not a regular file" timeout 20 "$HS" gc "$M" --dry-run
	rm "$M/leases/planted.json"
	mkfifo "$M/points/man01/20200101T000000Z.idx"
	rc=0; timeout 20 "$HS" points "$M" man01 >"$T/pts" 2>&1 || rc=$?
	[ $rc -eq 1 ] && grep -q "not a regular file" "$T/pts" || fail "points over a FIFO: rc $rc, $(cat "$T/pts")"
	rm "$M/points/man01/20200101T000000Z.idx"
	pass "a FIFO in the store is refused in one line, never waited on"

	# A live writer registered by a host whose clock is ahead (more than
	# hosts may differ): its start cannot be placed against gc's moves, so
	# gc keeps the trash while it lives, and says why.
	"$HS" prune "$M" --keep-last 1 >/dev/null
	ahead=$(($(date +%s) + 1000))
	printf '{"format":"hotspare-writer","host":"elsewhere","pid":7,"what":"backup","started":%d,"renewed":%d}\n' \
		"$ahead" "$ahead" >"$M/writers/elsewhere-7-1.json"
	"$HS" gc "$M" --grace 0 >"$T/gc.txt" || fail "gc beside a writer from the future"
	grep -q "1 live writer registered with a clock more than 300 s ahead" "$T/gc.txt" || fail "gc said: $(cat "$T/gc.txt")"
	"$HS" gc "$M" --grace 0 --json >"$T/gc.json"
	[ "$(json_get "$T/gc.json" chunks_freed)" -eq 0 ] && [ "$(json_get "$T/gc.json" writers_ahead)" -eq 1 ] &&
		[ "$(json_get "$T/gc.json" chunks_waiting)" -gt 0 ] || fail "gc beside a writer from the future: $(cat "$T/gc.json")"
	rm "$M/writers/elsewhere-7-1.json"
	"$HS" gc "$M" --grace 0 --json >"$T/gc.json"
	[ "$(json_get "$T/gc.json" chunks_freed)" -gt 0 ] || fail "gc once that writer is gone: $(cat "$T/gc.json")"
	"$HS" verify "$M" >/dev/null || fail "verify after gc"
	pass "a writer registered with a clock ahead keeps the trash, with a warning"

	# A writer killed on this host (kill -9: its registration is left) is dead
	# at once for gc, not 15 minutes later; so is one whose pid now names
	# another process. A live one here still keeps the trash.
	truncate -s 512M "$T/kw.img"
	head -c $((256 << 20)) /dev/urandom | dd of="$T/kw.img" conv=notrunc status=none
	"$HS" snapshot "$M" kw01 "$T/kw.img" >/dev/null 2>&1 &
	kw=$!
	for i in $(seq 200); do ls "$M/writers/"*.json >/dev/null 2>&1 && break; sleep 0.05; done
	kill -9 $kw
	wait $kw 2>/dev/null || true
	ls "$M/writers/"*.json >/dev/null 2>&1 || fail "the killed snapshot left no registration (it ended first?)"
	cp "$M/writers/"*.json "$T/killed.json"
	sleep 300 &
	sl=$!
	on_exit "kill $sl 2>/dev/null"
	sl_start=$(awk '{ print $22 }' "/proc/$sl/stat")
	# rec FILE PID [START]: the killed writer's record as another pid's
	rec() { python3 - "$T/killed.json" "$2" "${3:-}" >"$M/writers/$1.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d.get("proc") and d.get("pid_start"), d
d["pid"] = int(sys.argv[2])
if sys.argv[3]:
    d["pid_start"] = int(sys.argv[3])
print(json.dumps(d))
PY
	}
	rec reused "$sl"
	trash() { # a pruned point's chunks for gc to take
		head -c $((1 << 20)) /dev/urandom >"$T/kt.img"
		"$HS" snapshot "$M" kt01 "$T/kt.img" >/dev/null
		"$HS" prune "$M" kt01 --keep-last 1 >/dev/null
	}
	trash; sleep 1; trash
	"$HS" gc "$M" --grace 0 --json >"$T/gc.json" || fail "gc beside a killed writer"
	[ "$(json_get "$T/gc.json" writers_live)" -eq 0 ] && [ "$(json_get "$T/gc.json" writers_removed)" -eq 2 ] &&
		[ "$(json_get "$T/gc.json" chunks_waiting)" -eq 0 ] && [ "$(json_get "$T/gc.json" chunks_freed)" -gt 0 ] ||
		fail "gc beside a writer killed here and one whose pid was reused: $(cat "$T/gc.json")"
	rec alive "$sl" "$sl_start"
	sleep 1; trash
	"$HS" gc "$M" --grace 0 --json >"$T/gc.json"
	[ "$(json_get "$T/gc.json" writers_live)" -eq 1 ] && [ "$(json_get "$T/gc.json" chunks_waiting)" -gt 0 ] ||
		fail "gc beside a live writer of this host: $(cat "$T/gc.json")"
	kill $sl
	wait $sl 2>/dev/null || true
	"$HS" gc "$M" --grace 0 --json >"$T/gc.json"
	[ "$(json_get "$T/gc.json" writers_removed)" -eq 1 ] && [ "$(json_get "$T/gc.json" chunks_freed)" -gt 0 ] ||
		fail "gc once that writer's process ended: $(cat "$T/gc.json")"
	"$HS" verify "$M" >/dev/null || fail "verify after gc"
	pass "a writer killed here, or whose pid was reused, is dead for gc at once; a live one keeps the trash"

	# A damaged registration may be a live writer's: it keeps the trash until
	# it has gone a writer's dead time (15 minutes) unrewritten, then goes.
	printf '{"format":"hotspare-wri' >"$M/writers/torn.json"
	sleep 1; trash
	"$HS" gc "$M" --grace 0 --json >"$T/gc.json"
	[ "$(json_get "$T/gc.json" writers_live)" -eq 1 ] && [ "$(json_get "$T/gc.json" chunks_waiting)" -gt 0 ] &&
		[ -e "$M/writers/torn.json" ] || fail "gc beside a damaged registration: $(cat "$T/gc.json")"
	touch -d '20 minutes ago' "$M/writers/torn.json"
	"$HS" gc "$M" --grace 0 --json >"$T/gc.json"
	[ "$(json_get "$T/gc.json" writers_removed)" -eq 1 ] && [ "$(json_get "$T/gc.json" chunks_freed)" -gt 0 ] &&
		[ ! -e "$M/writers/torn.json" ] || fail "gc once the damaged registration is 20 minutes old: $(cat "$T/gc.json")"
	pass "a damaged registration keeps the trash as a live writer's would, until 15 minutes unrewritten"
else
	! grep -q REFUSED "$S3_LOG" || { grep REFUSED "$S3_LOG" | head -3; fail "the proxy refused a signature"; }
	grep -q "continuation-token" "$S3_LOG" || fail "no listing was paginated"
	grep -q "PUT .*/trash/chunks/" "$S3_LOG" || fail "gc did not move chunks to the trash"
	pass "every request signed; listings paginated; moves are server-side copies"
fi

#!/bin/bash
# Replication's cost per point and its manifests (how kinds that cannot list
# know their points):
# - 20 one-chunk servers replicated to s3rver (behind the SigV4-checking
#   proxy) take at most 19 requests a point (manifests are rewritten once per
#   server and the list of servers once per run, not per point under a store
#   lock; each server's rewrite takes the short manifest lock that keeps a
#   prune beside it from undoing it: about 18 a point here); the manifests
#   list every server and point;
# - to nginx through a proxy that refuses uploads half-way: the points that
#   arrived are listed and verify, no point names a missing chunk; the rerun
#   completes the lot;
# - a point whose index arrived but whose manifest entries were lost (a run
#   killed between the two) is listed again by the next run.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../http.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
ids() { "$HS" points "$1" "$2" --json | python3 -c 'import json,sys; print(" ".join(p["id"] for p in json.load(sys.stdin)))'; }

"$HS" init "$T/store" >/dev/null
for i in $(seq -w 1 20); do
	head -c 200000 /dev/urandom >"$T/d.img"
	"$HS" snapshot "$T/store" "srv$i" "$T/d.img" >/dev/null
done
# One server with three points.
head -c 2000000 /dev/urandom >"$T/m.img"
"$HS" snapshot "$T/store" multi "$T/m.img" >/dev/null
for d in 1 2; do
	head -c 100000 /dev/urandom | dd of="$T/m.img" bs=100000 seek=$d conv=notrunc status=none
	"$HS" backup "$T/store" multi "$T/m.img" >/dev/null
done

# ---- S3: requests per point ----
s3rver_up
export HOTSPARE_S3_ENDPOINT=$S3_ENDPOINT AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 HOTSPARE_S3_PATH_STYLE HOTSPARE_S3_MAX_KEYS
"$HS" init s3://bkt/site2 >/dev/null
: >"$S3_LOG"
"$HS" replicate "$T/store" s3://bkt/site2 $(for i in $(seq -w 1 20); do echo "srv$i"; done) --json >"$T/s3.json"
[ "$(json_get "$T/s3.json" points)" -eq 20 ] || fail "replicated $(json_get "$T/s3.json" points) points"
n=$(wc -l <"$S3_LOG")
[ "$n" -le $((19 * 20)) ] || { awk '{ print $2 }' "$S3_LOG" | sort | uniq -c >&2; fail "$n requests for 20 one-chunk points"; }
! grep -q REFUSED "$S3_LOG" || fail "a request was refused"
"$HS" replicate "$T/store" s3://bkt/site2 multi >/dev/null
B=$T/s3rver/bkt/site2/points
[ "$(sort "$B/.servers._S3rver_object" | tr '\n' ' ')" = "multi $(for i in $(seq -w 1 20); do printf 'srv%s ' "$i"; done)" ] ||
	fail "the list of servers: $(cat "$B/.servers._S3rver_object")"
for s in srv01 srv20 multi; do
	[ "$(sort "$B/$s/.points._S3rver_object" | tr '\n' ' ')" = "$(ids "$T/store" "$s") " ] || fail "the manifest of $s"
done
"$HS" verify s3://bkt/site2 >/dev/null || fail "the S3 replica does not verify"
pass "20 one-chunk points to S3 in $n requests ($((n / 20)) a point); manifests list every point"

# ---- HTTP: an interrupted run leaves listed, complete points ----
PORT=$(free_port)
nginx_conf web "$T/www" "$PORT"
nginx_up web "$PORT"
PPORT=$(free_port)
echo "put-fail-after 10" >"$T/mode"
python3 "$HERE/../proxy.py" fault "$PPORT" "$PORT" "$T/mode" "$T/proxy.log" &
on_exit "kill $!"
wait_for 10 port_open "$PPORT" || fail "the proxy did not start"
R=http://127.0.0.1:$PPORT/site3
expect_fail "access denied \(HTTP 403\)" "$HS" replicate "$T/store" "$R"
listed=0
for idx in "$T"/www/site3/points/*/*.idx; do
	s=$(basename "$(dirname "$idx")") id=$(basename "$idx" .idx)
	grep -qx "$s" "$T/www/site3/points/.servers" && grep -qx "$id" "$T/www/site3/points/$s/.points" ||
		fail "$s@$id arrived but is not listed"
	listed=$((listed + 1))
done
[ "$listed" -ge 1 ] || fail "no point arrived before the refusal"
"$HS" verify "http://127.0.0.1:$PORT/site3" >/dev/null || fail "a point that arrived names a missing chunk"
echo pass >"$T/mode"
"$HS" replicate "$T/store" "$R" --json >"$T/h.json" || fail "the rerun failed"
for s in srv01 srv20 multi; do [ "$(ids "$R" "$s")" = "$(ids "$T/store" "$s")" ] || fail "$s over HTTP after the rerun"; done
pass "an interrupted run to HTTP leaves $listed listed, complete points; the rerun completes"

# ---- a point whose manifest entries were lost is listed again ----
sed -i '/^srv05$/d' "$T/www/site3/points/.servers"
: >"$T/www/site3/points/srv05/.points"
sed -i '2d' "$T/www/site3/points/multi/.points"
[ -z "$(ids "$R" srv05)" ] && [ "$(ids "$R" multi | wc -w)" -eq 2 ] || fail "the manifests were not damaged"
"$HS" replicate "$T/store" "$R" --json >"$T/h2.json" 2>"$T/h2.err" || { cat "$T/h2.err"; fail "replicate over unlisted points"; }
[ "$(json_get "$T/h2.json" points)" -eq 0 ] || fail "points written again: $(cat "$T/h2.json")"
grep -qx srv05 "$T/www/site3/points/.servers" || fail "srv05 is not listed again"
for s in srv05 multi; do [ "$(ids "$R" "$s")" = "$(ids "$T/store" "$s")" ] || fail "$s is not listed again"; done
pass "points whose manifest entries were lost are listed again by the next run"

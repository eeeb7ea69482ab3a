#!/bin/bash
# test-flow.sh KIND: the whole product flow against one kind of store, the
# same steps for every kind (dir, http, https, s3): init, a snapshot shipped
# to a local drive, a day, a backup that stores only the day's chunks, an
# unchanged backup that stores nothing, a second server, points --json,
# verify with and without the drive, restores of both points (cmp), a spare
# mounted with the drive as seed and hydrated (cmp of the whole image), and
# a replica at a second location of the same kind that verifies and restores
# alone. Then what only that kind has:
#   dir    a progress bar on a terminal and a one-line summary off one
#   http   QEMU boots the cold spare over the network (nginx with WebDAV PUT)
#   https  the same over TLS with a test CA made here; untrusted certificates refused
#   s3     s3rver behind a proxy that checks every SigV4 signature, listings in
#          pages of 2 keys, the bucket made by init, wrong credentials refused
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KIND=${1:-}
case $KIND in dir | http | https | s3) ;; *) fail "usage: test-flow.sh dir|http|https|s3" ;; esac
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root (the test disk is made through a loop device)"; exit 77; }
[ "$KIND" = dir ] || . "$(dirname "$0")/../http.sh"

# BACKING: the directory that holds the store's objects (where its chunks can be counted).
case $KIND in
dir)
	URL=$T/store REPLICA=$T/replica BACKING=$T/store ;;
http | https)
	PORT=$(free_port)
	if [ "$KIND" = https ]; then
		make_ca "$T/ca"
		nginx_conf web "$T/www" "$PORT" ssl "$T/ca/server.pem" "$T/ca/server.key"
		export HOTSPARE_CA_FILE=$T/ca/ca.pem
	else
		nginx_conf web "$T/www" "$PORT"
	fi
	nginx_up web "$PORT"
	URL=$KIND://127.0.0.1:$PORT/stores/main REPLICA=$KIND://127.0.0.1:$PORT/stores/replica
	BACKING=$T/www/stores/main ;;
s3)
	s3rver_up
	export HOTSPARE_S3_ENDPOINT=$S3_ENDPOINT AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
	export AWS_REGION=us-east-1 HOTSPARE_S3_MAX_KEYS=2
	unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 HOTSPARE_S3_PATH_STYLE
	URL=s3://hotspare-test/stores/site1 REPLICA=s3://hotspare-test/stores/site2
	BACKING=$T/s3rver/hotspare-test/stores/site1 ;;
esac

# ---- the flow, the same for every kind ----
sha0=$("$ROOT/scripts/make-test-disk.sh" "$T/disk.img")
cp --sparse=always "$T/disk.img" "$T/day0.img"
SIZE=$(stat -c %s "$T/disk.img")
"$HS" init "$URL" >"$T/init.out" || fail "init ($KIND)"
grep -q "initialised store $URL" "$T/init.out" || fail "init output: $(cat "$T/init.out")"
expect_fail "already a hotspare store" "$HS" init "$URL"
"$HS" snapshot --ship "$T/usb" "$URL" mail01 "$T/disk.img" --json >"$T/snap.json" || fail "snapshot ($KIND)"
[ "$(json_get "$T/snap.json" kind)" = snapshot ] || fail "snapshot kind"
[ -f "$T/usb/hotspare-store.json" ] || fail "the ship drive is not a store"
[ "$("$HS" points "$T/usb" mail01 --json | json_get - 0 id)" = "$(json_get "$T/snap.json" point)" ] ||
	fail "the drive does not hold a copy of the snapshot's index"
[ "$(json_get "$T/snap.json" bytes_stored)" -gt 0 ] || fail "the snapshot shipped nothing"
[ -z "$(find "$BACKING" -path '*chunks*' -type f 2>/dev/null)" ] || fail "a shipped snapshot put chunks in the store"
pass "init and a shipped snapshot over $KIND"

sha1=$("$ROOT/scripts/test-disk-day.sh" "$T/disk.img" 1) # a day: 4 MiB of new data
[ "$sha1" != "$sha0" ] || fail "the day did not change the data"
cp --sparse=always "$T/disk.img" "$T/day1.img"
"$HS" backup "$URL" mail01 "$T/disk.img" --json >"$T/backup.json" || fail "backup ($KIND)"
stored=$(json_get "$T/backup.json" bytes_stored)
[ "$stored" -gt 4000000 ] || fail "the backup stored only $stored bytes of a 4 MiB change"
[ "$stored" -lt 10000000 ] || fail "the backup stored $stored bytes for a 4 MiB change (not deduplicated)"
[ -n "$(find "$BACKING" -path '*chunks*' -type f 2>/dev/null)" ] || fail "no chunk reached the store's directory"
[ "$(json_get "$T/backup.json" base)" = "$(json_get "$T/snap.json" point)" ] || fail "the backup's base is not the snapshot"
"$HS" backup "$URL" mail01 "$T/disk.img" --json >"$T/backup2.json" || fail "second backup"
[ "$(json_get "$T/backup2.json" bytes_stored)" -eq 0 ] || fail "an unchanged disk uploaded chunks again"
pass "backups over $KIND: $stored bytes for a 4 MiB change, none for no change"

snap=$(json_get "$T/snap.json" point)
"$HS" points "$URL" mail01 --json >"$T/points.json"
python3 - "$T/points.json" "$SIZE" "$snap" "$(json_get "$T/backup.json" point)" "$(json_get "$T/backup2.json" point)" <<'PY'
import json, re, sys
p = json.load(open(sys.argv[1]))
assert [x["id"] for x in p] == sys.argv[3:6], p
assert [x["kind"] for x in p] == ["snapshot", "backup", "backup"], p
for x in p:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", x["time"]), x
    assert x["size"] == int(sys.argv[2]), x
    assert isinstance(x["new_bytes"], int), x
assert p[0]["new_bytes"] == 0 and p[1]["new_bytes"] > 4000000 and p[2]["new_bytes"] == 0, p
PY
"$HS" points "$URL" mail01 | grep -q backup || fail "points table"
pass "points --json over $KIND: oldest first, with the contract's fields"

rc=0; "$HS" verify "$URL" mail01 2>"$T/verr" >/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "verify without the drive passed although the snapshot's chunks are on it"
grep -q "missing.*breaks mail01@$snap" "$T/verr" || { cat "$T/verr"; fail "verify does not name the broken point"; }
# A second server, snapshotted without a drive (its chunks are mail01's day 0: all deduplicated later).
"$HS" snapshot "$URL" files02 "$T/day0.img" >/dev/null || fail "a second server's snapshot"
"$HS" verify "$URL" --seed "$T/usb" >"$T/verify.out" || fail "verify with the drive ($KIND)"
grep -q "4 points" "$T/verify.out" || { cat "$T/verify.out"; fail "verify did not see both servers' points"; }
"$HS" verify "$URL" "mail01@$snap" --seed "$T/usb" >/dev/null || fail "verify of one point"
pass "verify over $KIND: names missing chunks and broken points without the drive; passes with it, over two servers"

"$HS" restore "$URL" "mail01@$snap" "$T/r0.img" --seed "$T/usb" >/dev/null || fail "restore of the snapshot"
cmp "$T/r0.img" "$T/day0.img" || fail "the restore of the snapshot differs"
"$HS" restore "$URL" mail01 "$T/r1.img" --seed "$T/usb" --json >"$T/restore.json" || fail "restore of the backup"
cmp "$T/r1.img" "$T/day1.img" || fail "the restore of the backup differs"
[ "$(json_get "$T/restore.json" bytes_from_seed)" -gt 0 ] || fail "the restore used no seed"
[ "$(json_get "$T/restore.json" bytes_from_store)" -gt 0 ] || fail "the restore fetched nothing from the store"
# A restored file stays sparse where the point has zero chunks.
[ "$(du -k "$T/r1.img" | cut -f1)" -lt $((SIZE / 1024 * 3 / 4)) ] || fail "the restored image is not sparse"
"$HS" restore "$URL" files02 "$T/r2.img" >/dev/null && cmp "$T/r2.img" "$T/day0.img" || fail "restore of files02"
rm -f "$T/r0.img" "$T/r1.img" "$T/r2.img"
pass "restores over $KIND equal the disk on each day (cmp), sparse"

mkdir "$T/mnt"
chmod 755 "$T"
hs_mount_at "$T/mnt" "$URL" mail01 "$T/mnt" --state "$T/state" --seed "$T/usb" --hydrate-threads 4
wait_for 120 sh -c "'$HS' status '$T/mnt' --json | grep -q '\"hydrated\":true'" || fail "hydration over $KIND did not complete"
cmp "$T/mnt/mail01.img" "$T/day1.img" || fail "the hydrated spare differs from the day's image"
"$HS" status "$T/mnt" --json >"$T/st.json"
[ "$(json_get "$T/st.json" errors)" -eq 0 ] || fail "errors while hydrating: $(json_get "$T/st.json" last_error)"
[ "$(json_get "$T/st.json" bytes_from_store)" -gt 0 ] || fail "nothing came from the store"
[ "$(json_get "$T/st.json" store)" = "$URL" ] || fail "status names the store as $(json_get "$T/st.json" store)"
"$HS" umount "$T/mnt"
cmp "$T/state/disk.img" "$T/day1.img" || fail "the hydrated state differs from the day's image"
pass "a spare over $KIND with the drive as seed hydrates to the day's image (cmp)"

# The second site: replicate (the drive as seed), a second run sends nothing,
# and the replica verifies and restores with no seed.
"$HS" replicate "$URL" "$REPLICA" --seed "$T/usb" --json >"$T/rep.json" || fail "replicate ($KIND)"
[ "$(json_get "$T/rep.json" points)" -eq 4 ] || fail "replicate copied $(json_get "$T/rep.json" points) points"
"$HS" replicate "$URL" "$REPLICA" --json >"$T/rep2.json" || fail "second replicate"
[ "$(json_get "$T/rep2.json" chunks_sent)" -eq 0 ] || fail "a second replication sent chunks again"
"$HS" verify "$REPLICA" >/dev/null || fail "the replica does not verify without a seed"
"$HS" restore "$REPLICA" mail01 "$T/r3.img" >/dev/null && cmp "$T/r3.img" "$T/day1.img" || fail "restore from the replica"
rm -f "$T/r3.img"
pass "replicate over $KIND: the replica verifies and restores alone; a rerun sends nothing"

# ---- what only this kind has ----
case $KIND in
dir)
	# On a terminal, long work shows a progress bar (bytes, rate, ETA); off one, only the summary.
	script -qec "'$HS' verify '$URL' --seed '$T/usb'" /dev/null >"$T/tty.out" </dev/null
	grep -q "verify .*\[.*\] .*%.*B / .*B/s  ETA" "$T/tty.out" || { cat -v "$T/tty.out"; fail "no progress bar on a terminal"; }
	"$HS" verify "$URL" --seed "$T/usb" >"$T/notty.out" 2>&1
	! grep -q "ETA" "$T/notty.out" || fail "a progress bar when not on a terminal"
	[ "$(wc -l <"$T/notty.out")" -eq 1 ] || fail "more than the summary line off a terminal"
	pass "a progress bar on a terminal, a one-line summary off one"
	;;
http | https)
	[ -z "$(find "$T/www/stores/main/locks" -type f 2>/dev/null)" ] || fail "a lock object was left behind"
	# The spare, cold: the drive as seed, no background hydration, so every
	# block the boot reads that the drive lacks is a demand read over the network.
	. "$(dirname "$0")/../qemu.sh"
	hs_mount_at "$T/mnt" "$URL" mail01 "$T/mnt" --state "$T/state2" --seed "$T/usb" --hydrate-threads 0
	boot qemu "$sha1" -nic none -drive "file=$T/mnt/mail01.img,format=raw,if=virtio,cache=$CACHE_MODE"
	"$HS" status "$T/mnt" --json >"$T/st.json"
	seed=$(json_get "$T/st.json" bytes_from_seed) store=$(json_get "$T/st.json" bytes_from_store)
	[ "$seed" -gt 0 ] && [ "$store" -gt 0 ] || fail "the boot read $seed bytes from the seed and $store over $KIND"
	[ "$(json_get "$T/st.json" errors)" -eq 0 ] || fail "errors during the boot: $(json_get "$T/st.json" last_error)"
	"$HS" umount "$T/mnt"
	pass "QEMU ($ACCEL) boots the cold spare over $KIND in $BOOT_SECONDS s: $seed bytes from the drive, $store over the network"
	if [ "$KIND" = https ]; then
		# Without the test CA, the same server is refused: one line, saying why.
		expect_fail "certificate is not trusted.*HOTSPARE_CA_FILE" env -u HOTSPARE_CA_FILE "$HS" points "$URL" mail01
		# A server with a certificate no CA vouches for is refused even with the CA.
		PORT2=$(free_port)
		nginx_conf rogue "$T/www" "$PORT2" ssl "$T/ca/rogue.pem" "$T/ca/rogue.key"
		nginx_up rogue "$PORT2"
		expect_fail "certificate is not trusted" "$HS" points "https://127.0.0.1:$PORT2/stores/main" mail01
		expect_fail "certificate is not trusted" "$HS" restore "https://127.0.0.1:$PORT2/stores/main" mail01 "$T/x.img"
		[ ! -e "$T/x.img" ] || fail "a refused restore left a target behind"
		pass "untrusted certificates are refused with a one-line error"
	fi
	;;
s3)
	[ -d "$T/s3rver/hotspare-test" ] || fail "init did not make the bucket"
	grep -q "continuation-token=" "$S3_LOG" || fail "listings never needed a second page"
	! grep -q REFUSED "$S3_LOG" || { grep REFUSED "$S3_LOG" | head -3; fail "requests with bad signatures"; }
	pass "ListObjectsV2 in pages of 2 keys; every signature checked"
	AWS_SECRET_ACCESS_KEY=not-the-secret-4242 expect_fail "access denied \(HTTP 403\): SignatureDoesNotMatch" \
		"$HS" points "$URL" mail01
	! grep -q "not-the-secret-4242" "$T/.stderr" || fail "the secret is in the message"
	AWS_ACCESS_KEY_ID=NOBODY expect_fail "access denied \(HTTP 403\)" "$HS" points "$URL" mail01
	expect_fail "bucket no-such-bucket does not exist" "$HS" points s3://no-such-bucket/x mail01
	pass "wrong credentials and a missing bucket: one-line errors, no secret"
	;;
esac

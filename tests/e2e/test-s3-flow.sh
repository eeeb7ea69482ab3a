#!/bin/bash
# The flow with the store in an S3 bucket: s3rver (npm) on 127.0.0.1 behind a
# proxy that checks every request's Signature Version 4. init (making the
# bucket), a shipped snapshot, a day, backups, a second server, points
# (listed with ListObjectsV2 in pages of 2 keys), verify, restore + cmp, and a
# spare mounted from s3:// and hydrated: cmp of the whole image; replication
# to another prefix. Wrong
# credentials get a one-line error that never shows the secret.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root"; exit 77; }
. "$(dirname "$0")/../http.sh"

s3rver_up
export HOTSPARE_S3_ENDPOINT=$S3_ENDPOINT AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
export AWS_REGION=us-east-1 HOTSPARE_S3_MAX_KEYS=2
unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 HOTSPARE_S3_PATH_STYLE
URL=s3://hotspare-test/stores/site1

make_ext4 "$T/disk.img" 48
cp --sparse=always "$T/disk.img" "$T/day0.img"
"$HS" init "$URL" >/dev/null || fail "init over S3"
[ -d "$T/s3rver/hotspare-test" ] || fail "init did not make the bucket"
expect_fail "already a hotspare store" "$HS" init "$URL"
"$HS" snapshot --ship "$T/usb" "$URL" mail01 "$T/disk.img" --json >"$T/snap.json" || fail "snapshot over S3"
head -c 2000000 /dev/urandom >"$T/new.bin"
ext4_write "$T/disk.img" /srv/data/report.bin "$T/new.bin"
cp --sparse=always "$T/disk.img" "$T/day1.img"
"$HS" backup "$URL" mail01 "$T/disk.img" --json >"$T/backup.json" || fail "backup over S3"
stored=$(json_get "$T/backup.json" bytes_stored)
[ "$stored" -gt 1900000 ] && [ "$stored" -lt 6000000 ] || fail "backup stored $stored bytes for a 2 MB change"
"$HS" backup "$URL" mail01 "$T/disk.img" --json >"$T/backup2.json" || fail "second backup"
[ "$(json_get "$T/backup2.json" bytes_stored)" -eq 0 ] || fail "an unchanged disk uploaded chunks again"
"$HS" snapshot "$URL" files02 "$T/day0.img" >/dev/null || fail "a second server's snapshot"
pass "init (bucket made), shipped snapshot, backups and a second server over S3"

"$HS" points "$URL" mail01 --json >"$T/points.json"
python3 - "$T/points.json" "$(json_get "$T/snap.json" point)" "$(json_get "$T/backup.json" point)" \
	"$(json_get "$T/backup2.json" point)" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert [x["id"] for x in p] == sys.argv[2:5], p
assert [x["kind"] for x in p] == ["snapshot", "backup", "backup"], p
assert p[1]["new_bytes"] > 1900000, p
PY
grep -q "continuation-token=" "$S3_LOG" || fail "listings never needed a second page"
! grep -q REFUSED "$S3_LOG" || { grep REFUSED "$S3_LOG" | head -3; fail "requests with bad signatures"; }
pass "points --json over ListObjectsV2 pages of 2 keys; every signature checked"

"$HS" verify "$URL" --seed "$T/usb" >"$T/verify.out" || fail "verify over S3"
grep -q "4 points" "$T/verify.out" || { cat "$T/verify.out"; fail "verify did not see both servers' points"; }
snap=$(json_get "$T/snap.json" point)
"$HS" restore "$URL" "mail01@$snap" "$T/r0.img" --seed "$T/usb" >/dev/null && cmp "$T/r0.img" "$T/day0.img" ||
	fail "restore of the snapshot"
"$HS" restore "$URL" mail01 "$T/r1.img" --seed "$T/usb" >/dev/null && cmp "$T/r1.img" "$T/day1.img" ||
	fail "restore of the backup"
"$HS" restore "$URL" files02 "$T/r2.img" >/dev/null && cmp "$T/r2.img" "$T/day0.img" || fail "restore of files02"
pass "verify and restores (cmp) over S3"

mkdir "$T/mnt"
hs_mount_at "$T/mnt" "$URL" mail01 "$T/mnt" --state "$T/state" --seed "$T/usb" --hydrate-threads 4
wait_for 120 sh -c "'$HS' status '$T/mnt' --json | grep -q '\"hydrated\":true'" || fail "hydration over S3 did not complete"
cmp "$T/mnt/mail01.img" "$T/day1.img" || fail "the spare differs from the day's image"
"$HS" status "$T/mnt" --json >"$T/st.json"
[ "$(json_get "$T/st.json" errors)" -eq 0 ] || fail "errors: $(json_get "$T/st.json" last_error)"
[ "$(json_get "$T/st.json" bytes_from_store)" -gt 0 ] || fail "nothing came from the bucket"
"$HS" umount "$T/mnt"
pass "a spare mounted from s3:// and hydrated equals the day's image (cmp)"

# The second site is another prefix of the bucket: replicate there (the drive
# as seed), then a second run sends nothing; restore from it without a seed.
"$HS" replicate "$URL" s3://hotspare-test/stores/site2 --seed "$T/usb" --json >"$T/rep.json" || fail "replicate over S3"
[ "$(json_get "$T/rep.json" points)" -eq 4 ] || fail "replicate copied $(json_get "$T/rep.json" points) points"
"$HS" replicate "$URL" s3://hotspare-test/stores/site2 --json >"$T/rep2.json"
[ "$(json_get "$T/rep2.json" chunks_sent)" -eq 0 ] || fail "a second replication sent chunks again"
"$HS" verify s3://hotspare-test/stores/site2 >/dev/null || fail "the replica does not verify without a seed"
"$HS" restore s3://hotspare-test/stores/site2 mail01 "$T/r3.img" >/dev/null && cmp "$T/r3.img" "$T/day1.img" ||
	fail "restore from the replica"
! grep -q REFUSED "$S3_LOG" || fail "replication made requests with bad signatures"
pass "replicate to another prefix over S3; the replica verifies and restores alone"

# Wrong credentials: one line, no secret.
AWS_SECRET_ACCESS_KEY=not-the-secret-4242 expect_fail "access denied \(HTTP 403\): SignatureDoesNotMatch" \
	"$HS" points "$URL" mail01
! grep -q "not-the-secret-4242" "$T/.stderr" || fail "the secret is in the message"
AWS_ACCESS_KEY_ID=NOBODY expect_fail "access denied \(HTTP 403\)" "$HS" points "$URL" mail01
expect_fail "bucket no-such-bucket does not exist" "$HS" points s3://no-such-bucket/x mail01
pass "wrong credentials and a missing bucket: one-line errors, no secret"

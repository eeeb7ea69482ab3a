#!/bin/bash
# S3 prefixes with '.', '..' or empty segments (s3://bkt/a/../b) are refused
# with one line before anything is sent or created: HTTP layers resolve dot
# segments after a request is signed (403), and S3 would keep them in the keys.
# Plain prefixes, dots inside a segment and trailing slashes work, against
# s3rver behind the SigV4-checking proxy.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../http.sh"
s3rver_up
export HOTSPARE_S3_ENDPOINT=$S3_ENDPOINT AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 HOTSPARE_S3_PATH_STYLE

head -c 3000000 /dev/urandom >"$T/disk.img"
"$HS" init "$T/store" >/dev/null
"$HS" snapshot "$T/store" web01 "$T/disk.img" >/dev/null
for p in a/../b a/./b ./b .. a//b a/b/.. ../x; do
	expect_fail "store s3://bkt2/.*: a prefix with '\.', '\.\.' or empty segments is refused" "$HS" init "s3://bkt2/$p"
	expect_fail "a prefix with '\.', '\.\.' or empty segments is refused" "$HS" replicate "$T/store" "s3://bkt2/$p"
done
[ ! -e "$T/s3rver/bkt2" ] || fail "a refused prefix created the bucket"
! grep -q REFUSED "$S3_LOG" || fail "a refused prefix sent a request"
pass "prefixes with dot or empty segments refused with one line, nothing sent"

for p in a/b v1..2/x.y/ "a/b/"; do
	"$HS" replicate "$T/store" "s3://bkt2/$p" >/dev/null || fail "replicate to s3://bkt2/$p"
	"$HS" verify "s3://bkt2/$p" >/dev/null || fail "verify of s3://bkt2/$p"
done
[ -n "$(find "$T/s3rver/bkt2/v1..2/x.y/chunks" -type f)" ] || fail "the dotted prefix is not where its name says"
! grep -q REFUSED "$S3_LOG" || fail "a request was refused: $(grep REFUSED "$S3_LOG" | head -n 1)"
pass "plain prefixes, dots inside segments and trailing slashes work"

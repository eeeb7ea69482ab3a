#!/bin/bash
# test-replicate-repair.sh KIND: a damaged replica (KIND dir, or s3: s3rver
# behind the SigV4-checking proxy) is repaired, never trusted blindly.
# - replicate --verify-dest reads back every chunk it would skip (the points
#   the replica already has included): a corrupt one is replaced, a missing
#   one sent again; the replica then verifies; a second run finds it whole;
# - a plain replicate that finds a chunk of the replica's newest point
#   missing says so in one line and checks everything as --verify-dest does;
# - verify of a damaged replica names the repair.
. "$(dirname "$0")/../lib.sh"
KIND=${1:-}
case $KIND in
dir)
	REPLICA=$T/replica
	obj() { echo "$T/replica/chunks/${1:0:2}/$1.zst"; } ;;
s3)
	. "$(dirname "$0")/../http.sh"
	s3rver_up
	export HOTSPARE_S3_ENDPOINT=$S3_ENDPOINT AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
	export AWS_REGION=us-east-1
	unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 HOTSPARE_S3_PATH_STYLE HOTSPARE_S3_MAX_KEYS
	REPLICA=s3://hotspare-test/site2
	obj() { echo "$T/s3rver/hotspare-test/site2/chunks/${1:0:2}/$1.zst._S3rver_object"; } ;;
*) fail "usage: test-replicate-repair.sh dir|s3" ;;
esac
CS=262144

# chunk POS: the name (SHA-256) of the image's chunk at POS, as it is now.
chunk() { dd if="$T/disk.img" bs=$CS skip="$1" count=1 status=none | sha256sum | cut -c1-64; }
flip() { # flip HEX: change one byte of the replica's copy of the chunk
	local f; f=$(obj "$1"); [ -f "$f" ] || fail "no replica copy of chunk $1"
	python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(40); b=f.read(1); f.seek(40); f.write(bytes([b[0]^0xff]))' "$f"
}
drop() { # drop HEX: remove the replica's copy of the chunk
	local f; f=$(obj "$1"); [ -f "$f" ] || fail "no replica copy of chunk $1"
	rm -f "$f" "$f".* "${f%._S3rver_object}._S3rver_metadata.json"
}
day() { # day N: change 1 MiB of the image at MiB N and back it up
	head -c 1048576 /dev/urandom | dd of="$T/disk.img" bs=1M seek="$1" conv=notrunc status=none
	"$HS" backup "$T/store" web01 "$T/disk.img" --json >"$T/b$1.json"
}

# Site 1: a snapshot and a backup of an 8 MiB server (32 chunks, so that
# replicate's look at the newest point covers every chunk), replicated.
head -c $((8 << 20)) /dev/urandom >"$T/disk.img"
"$HS" init "$T/store" >/dev/null
"$HS" snapshot "$T/store" web01 "$T/disk.img" >/dev/null
day 1
"$HS" replicate "$T/store" "$REPLICA" >/dev/null
"$HS" verify "$REPLICA" >/dev/null || fail "the fresh replica does not verify"

# Damage the replica: a flipped byte in one chunk, another chunk gone. Both are
# named by every point.
A=$(chunk 2) B=$(chunk 9)
flip "$A"; drop "$B"
rc=0; "$HS" verify "$REPLICA" >/dev/null 2>"$T/verify.err" || rc=$?
[ "$rc" -ne 0 ] || fail "verify did not notice the damage"
tail -n 1 "$T/verify.err" | grep -Eq "verify failed: 2 of [0-9]+ chunks bad, 2 of 2 points broken; run hotspare replicate $T/store $REPLICA --verify-dest to repair$" ||
	{ cat "$T/verify.err"; fail "verify of the damaged replica does not name the repair"; }
pass "verify of a damaged $KIND replica names the repair"

day 3
"$HS" replicate "$T/store" "$REPLICA" --verify-dest --json >"$T/r1.json" 2>"$T/r1.err" || { cat "$T/r1.err"; fail "replicate --verify-dest"; }
[ "$(json_get "$T/r1.json" checked)" = true ] && [ "$(json_get "$T/r1.json" points)" -eq 1 ] &&
	[ "$(json_get "$T/r1.json" chunks_repaired)" -eq 2 ] &&
	[ "$(json_get "$T/r1.json" chunks_sent)" -eq $(($(json_get "$T/b3.json" chunks_new) + 2)) ] ||
	fail "replicate --verify-dest: $(cat "$T/r1.json"); the backup added $(json_get "$T/b3.json" chunks_new)"
"$HS" verify "$REPLICA" >/dev/null || fail "the repaired replica does not verify"
"$HS" replicate "$T/store" "$REPLICA" --verify-dest --json >"$T/r2.json"
[ "$(json_get "$T/r2.json" chunks_sent)" -eq 0 ] && [ "$(json_get "$T/r2.json" chunks_repaired)" -eq 0 ] &&
	[ "$(json_get "$T/r2.json" chunks_checked)" -ge 32 ] || fail "a second --verify-dest: $(cat "$T/r2.json")"
pass "replicate --verify-dest replaced a corrupt chunk, resent a missing one; the $KIND replica verifies"

# Without the flag: a chunk of the newest point is missing (and another corrupt).
C=$(chunk 26) D=$(chunk 29)
drop "$C"; flip "$D"
day 5
"$HS" replicate "$T/store" "$REPLICA" --json >"$T/r3.json" 2>"$T/r3.err" || { cat "$T/r3.err"; fail "replicate after a loss"; }
[ "$(wc -l <"$T/r3.err")" -eq 1 ] && grep -Eq "^hotspare replicate: .*chunk $C of web01@[0-9TZ]+ is missing .*checking every chunk" "$T/r3.err" ||
	{ cat "$T/r3.err"; fail "replicate did not say it fell back to checking"; }
[ "$(json_get "$T/r3.json" chunks_repaired)" -eq 2 ] || fail "the fallback: $(cat "$T/r3.json")"
"$HS" verify "$REPLICA" >/dev/null || fail "the replica does not verify after the fallback"
"$HS" replicate "$T/store" "$REPLICA" --json >"$T/r4.json" 2>"$T/r4.err"
[ ! -s "$T/r4.err" ] && [ "$(json_get "$T/r4.json" checked)" = false ] || fail "a whole replica still made replicate check"
pass "a plain replicate that finds a chunk missing checks everything and repairs the $KIND replica"

"$HS" restore "$REPLICA" web01 "$T/r.img" >/dev/null && cmp "$T/r.img" "$T/disk.img" || fail "restore from the repaired replica"
pass "the repaired $KIND replica restores byte for byte"

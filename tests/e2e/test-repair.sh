#!/bin/bash
# A chunk known bad is repaired by the next capture that has its content, on
# every kind of store (dir, HTTP, S3): verify finds a copy that does not match
# its digest, lists it as bad in the store, and the next snapshot (which used
# to skip it as present: stored 0 B) or backup (which skipped it as held by
# the newest point) stores a good copy over it; then verify passes and the
# points restore exactly. Mounting, restoring and a failing verify's readers
# change nothing else. A chunk merely missing from the store (on a drive that
# was not given) is not listed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../http.sh"

truncate -s 8M "$T/a.img"; head -c 3M /dev/urandom | dd of="$T/a.img" conv=notrunc status=none
cp "$T/a.img" "$T/b.img"; head -c 1M /dev/urandom | dd of="$T/b.img" bs=1M seek=5 conv=notrunc status=none

# The stored file of a chunk (by the SHA-256 of chunk k of IMAGE) in BACKING.
chunk_file() {
	local d
	d=$(python3 -c 'import hashlib,sys
data=open(sys.argv[1],"rb").read(); cs=65536; k=int(sys.argv[2])
print(hashlib.sha256(data[k*cs:(k+1)*cs]).hexdigest())' "$1" "$2")
	# s3rver keeps an object's bytes in KEY._S3rver_object (beside its md5 and metadata).
	find "$BACKING/chunks/${d:0:2}" -type f \( -name "$d.zst" -o -name "$d.zst._S3rver_object" \) | head -1
}

# damage FILE: same size, other bytes (object stores keep their own size record).
damage() {
	local size; size=$(stat -c %s "$1")
	head -c "$size" /dev/urandom >"$T/junk" && cat "$T/junk" >"$1"
}

PORT=$(free_port)
nginx_conf web "$T/www" "$PORT"
nginx_up web "$PORT"
s3rver_up
export HOTSPARE_S3_ENDPOINT=$S3_ENDPOINT AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 HOTSPARE_S3_PATH_STYLE

for KIND in dir http s3; do
	case $KIND in
	dir) URL=$T/store BACKING=$T/store ;;
	http) URL=http://127.0.0.1:$PORT/stores/main BACKING=$T/www/stores/main ;;
	s3) URL=s3://hotspare-test/stores/main BACKING=$T/s3rver/hotspare-test/stores/main ;;
	esac
	"$HS" init "$URL" --chunk-size 64K >/dev/null || fail "init ($KIND)"
	"$HS" snapshot "$URL" mail01 "$T/a.img" >/dev/null || fail "snapshot ($KIND)"
	f=$(chunk_file "$T/a.img" 0)
	[ -n "$f" ] || fail "cannot find chunk 0's file in $BACKING"
	damage "$f"
	rc=0; "$HS" verify "$URL" 2>"$T/err" >/dev/null || rc=$?
	[ $rc -ne 0 ] && grep -q "corrupt in" "$T/err" || { cat "$T/err"; fail "verify missed the corrupt chunk ($KIND)"; }
	grep -q "1 damaged chunk listed as bad" "$T/err" || { cat "$T/err"; fail "verify did not list the chunk as bad ($KIND)"; }
	"$HS" restore "$URL" mail01 "$T/r.img" >/dev/null 2>&1 && fail "a restore read the corrupt chunk ($KIND)"
	"$HS" snapshot "$URL" mail01 "$T/a.img" --json >"$T/snap.json" || fail "the second snapshot ($KIND)"
	[ "$(json_get "$T/snap.json" chunks_repaired)" -eq 1 ] && [ "$(json_get "$T/snap.json" bytes_stored)" -gt 0 ] ||
		fail "the second snapshot did not store the bad chunk again ($KIND): $(cat "$T/snap.json")"
	"$HS" verify "$URL" >/dev/null 2>"$T/err" || { cat "$T/err"; fail "verify after the repair ($KIND)"; }
	"$HS" restore "$URL" mail01 "$T/r.img" >/dev/null && cmp "$T/r.img" "$T/a.img" || fail "restore after the repair ($KIND)"
	rm -f "$T/r.img"
	pass "$KIND: a corrupt chunk listed by verify is stored again by the next snapshot"

	# A backup holds the content as its newest point: it must not skip the bad copy.
	f=$(chunk_file "$T/a.img" 1)
	damage "$f"
	rc=0; "$HS" verify "$URL" >/dev/null 2>"$T/err" || rc=$?
	[ $rc -ne 0 ] && grep -q "1 damaged chunk listed as bad" "$T/err" || { cat "$T/err"; fail "verify did not list the second corrupt chunk ($KIND)"; }
	"$HS" backup "$URL" mail01 "$T/b.img" --json >"$T/backup.json" || fail "backup ($KIND)"
	[ "$(json_get "$T/backup.json" chunks_repaired)" -eq 1 ] || fail "the backup did not repair the chunk ($KIND)"
	"$HS" verify "$URL" >/dev/null 2>"$T/err" || { cat "$T/err"; fail "verify after the backup's repair ($KIND)"; }
	"$HS" backup "$URL" mail01 "$T/b.img" --json >"$T/backup2.json" || fail "second backup ($KIND)"
	[ "$(json_get "$T/backup2.json" chunks_repaired)" -eq 0 ] && [ "$(json_get "$T/backup2.json" bytes_stored)" -eq 0 ] ||
		fail "the list was not cleared: the next backup stored chunks again ($KIND)"
	pass "$KIND: a backup that holds the bad chunk's content stores it again; the list is cleared"
done

# Missing is not damaged: a snapshot shipped to a drive, verified without it.
"$HS" init "$T/s2" --chunk-size 64K >/dev/null
"$HS" snapshot "$T/s2" mail01 "$T/a.img" --ship "$T/usb" >/dev/null
"$HS" verify "$T/s2" >/dev/null 2>&1 && fail "verify without the drive passed"
[ ! -s "$T/s2/bad-chunks" ] || fail "chunks merely missing (on the drive) were listed as bad"
"$HS" backup "$T/s2" mail01 "$T/a.img" --json >"$T/b.json"
[ "$(json_get "$T/b.json" bytes_stored)" -eq 0 ] || fail "a backup after a verify without the drive uploaded the snapshot"
pass "chunks missing from the store but on a drive are not listed as bad"

#!/bin/bash
# The whole product flow with the store on a web server (nginx with WebDAV
# PUT on 127.0.0.1): init, a snapshot shipped to a local drive, a day, a
# backup, points, verify with the drive, restore + cmp, then the spare
# mounted over HTTP with the drive as seed: QEMU boots it cold (every block
# not on the drive comes over HTTP), and a second, hydrated spare equals the
# day's image byte for byte. With HS_TEST_SCHEME=https (test-https-flow.sh)
# the same runs over TLS with a test CA made here, and certificates no one
# trusts are refused.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root"; exit 77; }
. "$(dirname "$0")/../http.sh"
. "$(dirname "$0")/../qemu.sh"
SCHEME=${HS_TEST_SCHEME:-http}

PORT=$(free_port)
if [ "$SCHEME" = https ]; then
	make_ca "$T/ca"
	nginx_conf web "$T/www" "$PORT" ssl "$T/ca/server.pem" "$T/ca/server.key"
	export HOTSPARE_CA_FILE=$T/ca/ca.pem
else
	nginx_conf web "$T/www" "$PORT"
fi
nginx_up web "$PORT"
URL=$SCHEME://127.0.0.1:$PORT/stores/main

sha0=$("$ROOT/scripts/make-test-disk.sh" "$T/disk.img")
"$HS" init "$URL" >"$T/init.out" || fail "init over $SCHEME"
grep -q "initialised store $URL" "$T/init.out" || fail "init output"
[ -f "$T/www/stores/main/hotspare-store.json" ] || fail "init wrote no description on the server"
expect_fail "already a hotspare store" "$HS" init "$URL"
"$HS" snapshot --ship "$T/usb" "$URL" srv1 "$T/disk.img" --json >"$T/snap.json" || fail "snapshot over $SCHEME"
[ -z "$(find "$T/www/stores/main/chunks" -type f 2>/dev/null)" ] || fail "a shipped snapshot put chunks on the server"
cp --sparse=always "$T/disk.img" "$T/day0.img"
sha1=$("$ROOT/scripts/test-disk-day.sh" "$T/disk.img" 1)
[ "$sha1" != "$sha0" ] || fail "the day did not change the data"
"$HS" backup "$URL" srv1 "$T/disk.img" --json >"$T/backup.json" || fail "backup over $SCHEME"
stored=$(json_get "$T/backup.json" bytes_stored)
nchunks=$(find "$T/www/stores/main/chunks" -type f -name '*.zst' | wc -l)
[ "$stored" -gt 0 ] && [ "$nchunks" -gt 0 ] || fail "the backup uploaded nothing"
[ -z "$(find "$T/www/stores/main/locks" -type f 2>/dev/null)" ] || fail "a lock object was left behind"
pass "init, shipped snapshot and backup over $SCHEME ($nchunks chunks, $stored bytes uploaded)"

"$HS" points "$URL" srv1 --json >"$T/points.json"
python3 - "$T/points.json" "$(json_get "$T/snap.json" point)" "$(json_get "$T/backup.json" point)" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert [x["id"] for x in p] == sys.argv[2:4], p
assert [x["kind"] for x in p] == ["snapshot", "backup"], p
assert p[1]["new_bytes"] > 0, p
PY
"$HS" verify "$URL" --seed "$T/usb" >/dev/null || fail "verify over $SCHEME with the drive"
rc=0; "$HS" verify "$URL" srv1 >/dev/null 2>"$T/verr" || rc=$?
[ "$rc" -ne 0 ] && grep -q "missing" "$T/verr" || fail "verify without the drive passed"
snap=$(json_get "$T/snap.json" point)
"$HS" restore "$URL" "srv1@$snap" "$T/r0.img" --seed "$T/usb" >/dev/null || fail "restore of the snapshot"
cmp "$T/r0.img" "$T/day0.img" || fail "restore of the snapshot differs"
"$HS" restore "$URL" srv1 "$T/r1.img" --seed "$T/usb" --json >"$T/restore.json" || fail "restore of the backup"
cmp "$T/r1.img" "$T/disk.img" || fail "restore of the backup differs"
[ "$(json_get "$T/restore.json" bytes_from_store)" -gt 0 ] || fail "restore fetched nothing over $SCHEME"
rm -f "$T/r0.img" "$T/r1.img" "$T/day0.img"
pass "points --json, verify and restore (cmp) over $SCHEME"

# The spare, cold: the drive as seed, no background hydration, so every block
# the boot reads that the drive lacks is a demand read over the network.
chmod 755 "$T"
mkdir "$T/mnt"
hs_mount_at "$T/mnt" "$URL" srv1 "$T/mnt" --state "$T/state" --seed "$T/usb" --hydrate-threads 0
boot qemu "$sha1" -nic none -drive "file=$T/mnt/srv1.img,format=raw,if=virtio,cache=$CACHE_MODE"
"$HS" status "$T/mnt" --json >"$T/st.json"
seed=$(json_get "$T/st.json" bytes_from_seed); store=$(json_get "$T/st.json" bytes_from_store)
[ "$seed" -gt 0 ] && [ "$store" -gt 0 ] || fail "boot read $seed bytes from the seed and $store over $SCHEME"
[ "$(json_get "$T/st.json" errors)" -eq 0 ] || fail "errors during the boot: $(json_get "$T/st.json" last_error)"
[ "$(json_get "$T/st.json" store)" = "$URL" ] || fail "status names the store as $(json_get "$T/st.json" store)"
"$HS" umount "$T/mnt"
pass "QEMU ($ACCEL) boots the cold spare over $SCHEME in $BOOT_SECONDS s: $seed bytes from the drive, $store over the network"

# A fresh spare hydrated in the background over the network: the whole image, exactly.
hs_mount_at "$T/mnt" "$URL" srv1 "$T/mnt" --state "$T/state2" --seed "$T/usb" --hydrate-threads 4
wait_for 120 sh -c "'$HS' status '$T/mnt' --json | grep -q '\"hydrated\":true'" || fail "hydration over $SCHEME did not complete"
cmp "$T/mnt/srv1.img" "$T/disk.img" || fail "the hydrated spare differs from the day's image"
[ "$(json_get <("$HS" status "$T/mnt" --json) errors)" -eq 0 ] || fail "errors while hydrating"
"$HS" umount "$T/mnt"
cmp "$T/state2/disk.img" "$T/disk.img" || fail "the hydrated state differs from the day's image"
pass "a spare hydrated over $SCHEME equals the day's image (cmp of the whole image)"

if [ "$SCHEME" = https ]; then
	# Without the test CA, the same server is refused: one line, saying why.
	expect_fail "certificate is not trusted.*HOTSPARE_CA_FILE" env -u HOTSPARE_CA_FILE "$HS" points "$URL" srv1
	# A server with a certificate no CA vouches for is refused even with the CA.
	PORT2=$(free_port)
	nginx_conf rogue "$T/www" "$PORT2" ssl "$T/ca/rogue.pem" "$T/ca/rogue.key"
	nginx_up rogue "$PORT2"
	expect_fail "certificate is not trusted" "$HS" points "https://127.0.0.1:$PORT2/stores/main" srv1
	expect_fail "certificate is not trusted" "$HS" restore "https://127.0.0.1:$PORT2/stores/main" srv1 "$T/x.img"
	[ ! -e "$T/x.img" ] || fail "a refused restore left a target behind"
	pass "untrusted certificates are refused with a one-line error"
fi

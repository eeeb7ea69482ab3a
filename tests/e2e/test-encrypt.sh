#!/bin/bash
# test-encrypt.sh KIND: encryption at rest on one kind of store (dir, http, s3).
#   The flow on an encrypted store: snapshot shipped to a drive, a day, a
#   backup, restores (cmp), a spare mounted with the drive as seed and
#   hydrated (cmp), a checkpoint of a write, restore home, export.
#   No plaintext: the test disk carries a 64 KiB random marker file; no file
#   of the store or the drive holds any 32-byte window of it (a plain store
#   of the same disk does: the search works).
#   Two keys share no chunk id; without the key points, verify --no-key and
#   replicate work, and the replica mounts with the key; key recover with the
#   master key gives a key that restores.
#   Bad keys and tampering (dir): one-line errors, nothing written, never
#   wrong bytes.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KIND=${1:-}
case $KIND in dir | http | s3) ;; *) fail "usage: test-encrypt.sh dir|http|s3" ;; esac
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root (the test disk is made through a loop device)"; exit 77; }
[ -x "${HS_FINDWIN:-}" ] || fail "HS_FINDWIN (tests/tools/findwin) is not set"
[ "$KIND" = dir ] || . "$(dirname "$0")/../http.sh"
. "$(dirname "$0")/../qemu.sh" # detach_all: no loop device stays behind

case $KIND in
dir)
	URL=$T/store URL2=$T/store2 REPLICA=$T/replica BACKING=$T/store ;;
http)
	PORT=$(free_port)
	nginx_conf web "$T/www" "$PORT"
	nginx_up web "$PORT"
	URL=http://127.0.0.1:$PORT/stores/main URL2=http://127.0.0.1:$PORT/stores/other
	REPLICA=http://127.0.0.1:$PORT/stores/replica BACKING=$T/www/stores/main ;;
s3)
	s3rver_up
	export HOTSPARE_S3_ENDPOINT=$S3_ENDPOINT AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
	export AWS_REGION=us-east-1
	unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 HOTSPARE_S3_PATH_STYLE
	URL=s3://hotspare-test/stores/site1 URL2=s3://hotspare-test/stores/other
	REPLICA=s3://hotspare-test/stores/site2 BACKING=$T/s3rver/hotspare-test/stores/site1 ;;
esac
BACKING2=${BACKING%/*}/$(basename "$URL2")
unset HOTSPARE_KEYFILE HOTSPARE_PASSPHRASE_FILE

# ---- keys ----
openssl genrsa -out "$T/master.pem" 2048 2>/dev/null
openssl rsa -in "$T/master.pem" -pubout -out "$T/master.pub" 2>/dev/null
"$HS" key create "$T/k1.key" --master-pubkey "$T/master.pub" >/dev/null || fail "key create"
[ "$(stat -c %a "$T/k1.key")" = 600 ] || fail "the key file's mode is $(stat -c %a "$T/k1.key")"
echo "correct horse battery staple" >"$T/pass"
"$HS" key create "$T/k2.key" --passphrase-file "$T/pass" >/dev/null || fail "key create with a passphrase"
! grep -q "$(head -c 64 "$T/k1.key" | tail -c 20)" "$T/k2.key" || fail "two keys look alike"

# ---- the test disk with a marker file, and a plain store as the control ----
"$ROOT/scripts/make-test-disk.sh" "$T/disk.img" >/dev/null
head -c 65536 /dev/urandom >"$T/marker"
# In a mount namespace of its own: a QEMU that libvirt starts meanwhile
# (lane vm's) would copy the mount and keep it, and write the image when it
# goes.
put_marker() { # IMG: copy the marker into the root filesystem as /srv/marker
	local dev
	mkdir -p "$T/m"
	dev=$(losetup -f --show -o 1048576 "$1")
	unshare -m --propagation private sh -ec "mount -t ext4 '$dev' '$T/m'; cp '$T/marker' '$T/m/srv/marker'; umount '$T/m'"
	losetup -d "$dev"
}
put_marker "$T/disk.img"
cp --sparse=always "$T/disk.img" "$T/day0.img"
"$HS" init "$T/plain" >/dev/null
"$HS" snapshot "$T/plain" srv "$T/disk.img" >/dev/null
"$HS_FINDWIN" "$T/marker" $(find "$T/plain" -type f) >/dev/null &&
	fail "the control failed: the plain store does not hold the marker"
pass "control: the marker is found in a plain store of the disk"

# ---- the flow on an encrypted store ----
export HOTSPARE_KEYFILE=$T/k1.key
"$HS" init "$URL" --encrypt "$T/k1.key" >"$T/init.out" || fail "init --encrypt ($KIND)"
grep -q "encrypted with AES-256-GCM" "$T/init.out" || fail "init output: $(cat "$T/init.out")"
"$HS" snapshot --ship "$T/usb" "$URL" srv "$T/disk.img" --json >"$T/snap.json" || fail "snapshot --ship ($KIND)"
snap=$(json_get "$T/snap.json" point)
sha1=$("$ROOT/scripts/test-disk-day.sh" "$T/disk.img" 1)
cp --sparse=always "$T/disk.img" "$T/day1.img"
"$HS" backup "$URL" srv "$T/disk.img" --json >"$T/backup.json" || fail "backup ($KIND)"
stored=$(json_get "$T/backup.json" bytes_stored)
[ "$stored" -gt 4000000 ] && [ "$stored" -lt 10000000 ] || fail "the backup stored $stored bytes for a 4 MiB change"
"$HS" backup "$URL" srv "$T/disk.img" --json >"$T/backup2.json"
[ "$(json_get "$T/backup2.json" bytes_stored)" -eq 0 ] || fail "an unchanged disk stored chunks again"
n=$(find "$BACKING" "$T/usb" -type f | wc -l)
[ "$n" -gt 20 ] || fail "only $n files in the store and the drive"
found=$("$HS_FINDWIN" "$T/marker" $(find "$BACKING" "$T/usb" -type f)) || fail "plaintext of the marker in: $found"
[ -z "$(find "$BACKING/chunks" "$T/usb/chunks" -name '*.zst')" ] || fail "plain chunks in an encrypted store"
pass "an encrypted store over $KIND: snapshot --ship, backup ($stored bytes), no 32-byte window of the marker in $n files"

"$HS" restore "$URL" "srv@$snap" "$T/r0.img" --seed "$T/usb" >/dev/null && cmp "$T/r0.img" "$T/day0.img" ||
	fail "restore of the snapshot"
"$HS" restore "$URL" srv "$T/r1.img" --seed "$T/usb" >/dev/null && cmp "$T/r1.img" "$T/day1.img" ||
	fail "restore of the backup"
"$HS" verify "$URL" --seed "$T/usb" >/dev/null || fail "verify with the key"
rm -f "$T/r0.img"
mkdir "$T/mnt"
hs_mount_at "$T/mnt" "$URL" srv "$T/mnt" --state "$T/state" --seed "$T/usb" --hydrate-threads 4
wait_for 120 sh -c "'$HS' status '$T/mnt' --json | grep -q '\"hydrated\":true'" || fail "hydration did not complete"
cmp "$T/mnt/srv.img" "$T/day1.img" || fail "the hydrated spare differs"
secret=$(json_get "$T/k1.key" key)
[ ${#secret} -ge 40 ] || fail "no key in the key file"
! grep -rqF "$secret" "$T/state" "$T/mnt/.hotspare-status" || fail "the key is in the state or the status"
! grep -qF "$secret" /proc/$("$HS" status "$T/mnt" --json | json_get - pid)/cmdline || fail "the key is in argv"
printf 'written on the spare' | dd of="$T/mnt/srv.img" bs=1 seek=$((30 << 20)) conv=notrunc status=none
"$HS" checkpoint "$T/mnt" --json >"$T/cp.json" || fail "checkpoint"
[ "$(json_get "$T/cp.json" added)" = true ] || fail "the write made no point"
cp --sparse=always "$T/mnt/srv.img" "$T/spare.img"
"$HS" umount "$T/mnt"
cp --sparse=always "$T/day1.img" "$T/home.img"
"$HS" restore "$URL" "srv@$(json_get "$T/cp.json" point)" "$T/home.img" --json >"$T/home.json" || fail "restore home"
cmp "$T/home.img" "$T/spare.img" || fail "the home disk differs from the spare after restore home"
[ "$(json_get "$T/home.json" bytes_written)" -le $((1 << 20)) ] ||
	fail "restore home wrote $(json_get "$T/home.json" bytes_written) bytes for one changed chunk"
"$HS" export "$URL" srv "$T/spare.qcow2" --format qcow2 --seed "$T/usb" >/dev/null || fail "export"
qemu-img compare -q -f raw -F qcow2 "$T/spare.img" "$T/spare.qcow2" || fail "the export differs"
rm -f "$T/spare.qcow2" "$T/home.img"
pass "restores, a hydrated spare, a checkpoint, restore home and export on the encrypted store (cmp)"

# ---- a second key: the same disk shares no chunk id ----
HOTSPARE_KEYFILE=$T/k2.key HOTSPARE_PASSPHRASE_FILE=$T/pass "$HS" init "$URL2" --encrypt "$T/k2.key" >/dev/null ||
	fail "init with a wrapped key"
HOTSPARE_KEYFILE=$T/k2.key HOTSPARE_PASSPHRASE_FILE=$T/pass "$HS" snapshot "$URL2" srv "$T/day1.img" >/dev/null ||
	fail "snapshot with a wrapped key"
ids() { find "$1" -path '*chunks/*' -type f -printf '%f\n' | sed 's/\..*//' | sort -u; }
ids "$BACKING" >"$T/ids1"; ids "$BACKING2" >"$T/ids2"; ids "$T/plain" >"$T/ids0"
[ -s "$T/ids1" ] && [ -s "$T/ids2" ] || fail "no chunk ids to compare"
[ -z "$(comm -12 "$T/ids1" "$T/ids2")" ] && [ -z "$(comm -12 "$T/ids1" "$T/ids0")" ] ||
	fail "stores with different keys (or none) share chunk ids"
pass "two keys (one wrapped with a passphrase) and a plain store share no chunk id for the same disk"

# ---- without the key ----
unset HOTSPARE_KEYFILE
"$HS" points "$URL" srv --json >"$T/points.json" || fail "points without the key"
[ "$(json_get "$T/points.json" 0 id)" = "$snap" ] || fail "points without the key: $(cat "$T/points.json")"
expect_fail "is encrypted: give its key" "$HS" restore "$URL" srv "$T/x.img"
[ ! -e "$T/x.img" ] || fail "a refused restore left its target"
"$HS" verify "$URL" --no-key --seed "$T/usb" >"$T/v.out" || fail "verify --no-key"
grep -q "content not checked" "$T/v.out" || fail "verify --no-key does not say what it checked"
env -i PATH="$PATH" HOTSPARE_S3_ENDPOINT="${HOTSPARE_S3_ENDPOINT:-}" AWS_ACCESS_KEY_ID=S3RVER \
	AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 \
	"$HS" replicate "$URL" "$REPLICA" --seed "$T/usb" --json >"$T/rep.json" || fail "replicate without the key"
[ "$(json_get "$T/rep.json" points)" -eq 4 ] || fail "replicate copied $(json_get "$T/rep.json" points) points"
"$HS" verify "$REPLICA" --no-key >/dev/null || fail "the replica, without the key"
export HOTSPARE_KEYFILE=$T/k1.key
"$HS" verify "$REPLICA" >/dev/null || fail "the replica does not verify with the key"
hs_mount_at "$T/mnt" "$REPLICA" srv "$T/mnt" --state "$T/rstate" --read-only
cmp "$T/mnt/srv.img" "$T/spare.img" || fail "the replica's spare differs"
"$HS" umount "$T/mnt"
pass "without the key: points, verify --no-key and replicate; the replica mounts with the key (cmp)"

"$HS" key recover "$URL" --master-key "$T/master.pem" "$T/recovered.key" >/dev/null || fail "key recover"
HOTSPARE_KEYFILE=$T/recovered.key "$HS" restore "$URL" srv "$T/r2.img" --seed "$T/usb" >/dev/null &&
	cmp "$T/r2.img" "$T/spare.img" || fail "the recovered key does not restore"
rm -f "$T/r2.img"
pass "key recover with the master key gives a key that restores"

# ---- bad keys: one line, nothing written ----
sum_store() { (cd "$BACKING" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum; }
before=$(sum_store)
HOTSPARE_KEYFILE=$T/k2.key HOTSPARE_PASSPHRASE_FILE=$T/pass expect_fail "the key is not" \
	"$HS" backup "$URL" srv "$T/disk.img"
echo wrong >"$T/wrongpass"
HOTSPARE_KEYFILE=$T/k2.key HOTSPARE_PASSPHRASE_FILE=$T/wrongpass expect_fail "wrong passphrase" \
	"$HS" backup "$URL" srv "$T/disk.img"
cp "$T/k1.key" "$T/open.key"; chmod 644 "$T/open.key"
HOTSPARE_KEYFILE=$T/open.key expect_fail "may be read by group or others" "$HS" backup "$URL" srv "$T/disk.img"
head -c 60 "$T/k1.key" >"$T/short.key"; chmod 600 "$T/short.key"
HOTSPARE_KEYFILE=$T/short.key expect_fail "not a hotspare key file" "$HS" backup "$URL" srv "$T/disk.img"
expect_fail "no-such.key" "$HS" backup "$URL" srv "$T/disk.img" --keyfile "$T/no-such.key"
expect_fail "already a hotspare store" "$HS" init "$T/plain" --encrypt "$T/k1.key"
[ "$(sum_store)" = "$before" ] || fail "a refused command changed the store"
! grep -q '"encryption":"aes' "$T/plain/hotspare-store.json" || fail "--encrypt changed a plain store"
pass "wrong key, wrong passphrase, an open or truncated key file, a missing one, --encrypt on a plain store: one line each, nothing written"

[ "$KIND" = dir ] || exit 0

# ---- tampering (dir): EIO or one line, never wrong bytes ----
flip() { # FILE OFFSET: flip one bit
	python3 - "$1" "$2" <<'PY'
import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 4])); f.close()
PY
}
# A chunk of the day's data (in the store, not on the drive): restore fails, a spare read is EIO.
chunk=$(find "$BACKING/chunks" -type f -size +100k | head -n1)
cp "$chunk" "$T/chunk.bak"
flip "$chunk" 100
rc=0; "$HS" restore "$URL" srv "$T/x.img" --seed "$T/usb" 2>"$T/err" >/dev/null || rc=$?
[ $rc -ne 0 ] && [ ! -e "$T/x.img" ] || fail "restore over a damaged chunk succeeded or left its target"
[ "$(wc -l <"$T/err")" -le 2 ] && grep -qi "corrupt\|authenticat\|bad" "$T/err" || { cat "$T/err"; fail "the damaged chunk's error"; }
hs_mount_at "$T/mnt" "$URL" srv "$T/mnt" --state "$T/tstate" --seed "$T/usb" --hydrate-threads 0 --read-only
rc=0; dd if="$T/mnt/srv.img" of=/dev/null bs=1M iflag=direct 2>"$T/dd.err" || rc=$?
[ $rc -ne 0 ] && grep -q "Input/output error" "$T/dd.err" || fail "a read over the damaged chunk did not fail with EIO"
"$HS" umount "$T/mnt"
cp "$T/chunk.bak" "$chunk"
pass "a flipped bit in a chunk: restore fails without a target, a spare read is EIO"

idx=$(ls "$BACKING"/points/srv/*.idx | tail -n1)
cp "$idx" "$T/idx.bak"
flip "$idx" $(($(stat -c %s "$idx") - 10))
expect_fail "is corrupt" "$HS" restore "$URL" srv "$T/x.img" --seed "$T/usb"
cp "$T/idx.bak" "$idx"
a=$(ls "$BACKING"/points/srv/*.idx | head -n1) b=$(ls "$BACKING"/points/srv/*.idx | sed -n 2p)
mv "$a" "$T/a.idx"; mv "$b" "$a"; mv "$T/a.idx" "$b"
expect_fail "is corrupt \(it names another point\)" "$HS" restore "$URL" "srv@$(basename "$a" .idx)" "$T/x.img" --seed "$T/usb"
mv "$a" "$T/a.idx"; mv "$b" "$a"; mv "$T/a.idx" "$b"
cp "$BACKING/hotspare-store.json" "$T/desc.bak"
sed -i 's/"chunk_size":262144/"chunk_size":524288/' "$BACKING/hotspare-store.json"
expect_fail "does not authenticate" "$HS" points "$URL" srv
cp "$T/desc.bak" "$BACKING/hotspare-store.json"
# One character of the key itself changed (still valid base64).
python3 - "$T/k1.key" "$T/flipped.key" <<'PY'
import json, sys
k = json.load(open(sys.argv[1])); v = k["key"]
k["key"] = ("B" if v[5] == "A" else "A").join([v[:5], v[6:]])
open(sys.argv[2], "w").write(json.dumps(k))
PY
chmod 600 "$T/flipped.key"
HOTSPARE_KEYFILE=$T/flipped.key expect_fail "key file .* is corrupt" "$HS" restore "$URL" srv "$T/x.img" --seed "$T/usb"
[ ! -e "$T/x.img" ] || fail "a refused restore left its target"
"$HS" verify "$URL" --seed "$T/usb" >/dev/null || fail "the store is not whole again"
pass "a flipped bit in an index, swapped indexes, an edited description, a flipped key file: one-line errors"

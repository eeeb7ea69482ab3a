#!/bin/bash
# The whole foundation flow on a real ext4 image: a shipped snapshot, a day
# of changes, a daily backup that stores only new chunks, restores of both
# points (cmp, e2fsck), verify with and without the shipped drive.
. "$(dirname "$0")/../lib.sh"

make_ext4 "$T/disk.img" 48
cp --sparse=always "$T/disk.img" "$T/day0.img"
"$HS" init "$T/store" --chunk-size 256K >/dev/null
"$HS" snapshot --ship "$T/usb" "$T/store" mail01 "$T/disk.img" --json >"$T/snap.json"
[ "$(json_get "$T/snap.json" kind)" = snapshot ] || fail "snapshot kind"
[ -f "$T/usb/hotspare-store.json" ] || fail "the ship drive is not a store"
[ -z "$(find "$T/store/chunks" -type f 2>/dev/null)" ] || fail "a shipped snapshot put chunks in the store"
pass "shipped snapshot: chunks on the drive, index in the store"

# A day: one file rewritten, one added; about 2 MiB of a 48 MiB disk.
head -c 2000000 /dev/urandom >"$T/new.bin"
ext4_write "$T/disk.img" /srv/data/report.bin "$T/new.bin"
seq 1 500 | sed 's/^/changed /' >"$T/hostname"
ext4_write "$T/disk.img" /etc/hostname "$T/hostname"
cp --sparse=always "$T/disk.img" "$T/day1.img"
"$HS" backup "$T/store" mail01 "$T/disk.img" --json >"$T/backup.json"
stored=$(json_get "$T/backup.json" bytes_stored)
[ "$stored" -gt 1900000 ] || fail "backup stored only $stored bytes of a 2 MB change"
[ "$stored" -lt 6000000 ] || fail "backup stored $stored bytes for a 2 MB change (not deduplicated)"
[ "$(json_get "$T/backup.json" base)" = "$(json_get "$T/snap.json" point)" ] || fail "backup base"
pass "backup stored $stored bytes for a 2 MB change"

"$HS" points "$T/store" mail01 --json >"$T/points.json"
python3 - "$T/points.json" "$(json_get "$T/snap.json" point)" "$(json_get "$T/backup.json" point)" <<'PY'
import json, sys, re
p = json.load(open(sys.argv[1]))
assert [x["id"] for x in p] == sys.argv[2:4], p
assert [x["kind"] for x in p] == ["snapshot", "backup"], p
for x in p:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", x["time"]), x
    assert x["size"] == 48 * 1024 * 1024, x
    assert isinstance(x["new_bytes"], int), x
assert p[0]["new_bytes"] == 0 and p[1]["new_bytes"] > 1900000, p
PY
"$HS" points "$T/store" mail01 | grep -q backup || fail "points table"
pass "points --json: both points, oldest first, with the contract's fields"

snap=$(json_get "$T/snap.json" point)
"$HS" restore "$T/store" "mail01@$snap" "$T/r0.img" --seed "$T/usb" >/dev/null
cmp "$T/r0.img" "$T/day0.img" || fail "restore of the snapshot differs"
"$HS" restore "$T/store" mail01 "$T/r1.img" --seed "$T/usb" --json >"$T/restore.json"
cmp "$T/r1.img" "$T/day1.img" || fail "restore of the backup differs"
e2fsck -fn "$T/r1.img" >/dev/null 2>&1 || fail "e2fsck on the restored image"
[ "$(json_get "$T/restore.json" bytes_from_seed)" -gt 0 ] || fail "restore used no seed"
# A restored file stays sparse where the point has zero chunks.
[ "$(du -k "$T/r1.img" | cut -f1)" -lt $((40 * 1024)) ] || fail "restored image is not sparse"
pass "restores of both points equal the disk on each day (cmp, e2fsck)"

"$HS" verify "$T/store" --seed "$T/usb" >/dev/null || fail "verify with the drive"
"$HS" verify "$T/store" "mail01@$snap" --seed "$T/usb" >/dev/null || fail "verify one point"
rc=0; "$HS" verify "$T/store" mail01 2>"$T/verr" >/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "verify without the drive passed although the snapshot's chunks are on it"
grep -q "missing.*breaks mail01@$snap" "$T/verr" || fail "verify does not name the broken point"
pass "verify: passes with the drive, names missing chunks and broken points without it"

# On a terminal, long work shows a progress bar (bytes, rate, ETA); off one, only the summary.
script -qec "'$HS' verify '$T/store' --seed '$T/usb'" /dev/null >"$T/tty.out" </dev/null
grep -q "verify .*\[.*\] .*%.*B / .*B/s  ETA" "$T/tty.out" || { cat -v "$T/tty.out"; fail "no progress bar on a terminal"; }
"$HS" verify "$T/store" --seed "$T/usb" >"$T/notty.out" 2>&1
! grep -q "ETA" "$T/notty.out" || fail "a progress bar when not on a terminal"
[ "$(wc -l <"$T/notty.out")" -eq 1 ] || fail "more than the summary line off a terminal"
pass "a progress bar on a terminal, a one-line summary off one"

#!/bin/bash
# Restore onto a target that already holds data writes only what differs:
# an interrupted restore resumes, a restore onto the old disk sends only changes.
. "$(dirname "$0")/../lib.sh"

make_ext4 "$T/disk.img" 32
"$HS" init "$T/store" --chunk-size 64K >/dev/null
"$HS" snapshot "$T/store" mail01 "$T/disk.img" >/dev/null
cp --sparse=always "$T/disk.img" "$T/old.img"
head -c 1000000 /dev/urandom >"$T/new.bin"
ext4_write "$T/disk.img" /srv/data/new.bin "$T/new.bin"
"$HS" backup "$T/store" mail01 "$T/disk.img" >/dev/null

# Onto the old disk: only the chunks that changed are written.
"$HS" restore "$T/store" mail01 "$T/old.img" --json >"$T/r.json"
cmp "$T/old.img" "$T/disk.img" || fail "restore onto the old disk differs"
written=$(json_get "$T/r.json" bytes_written)
[ "$written" -ge 1000000 ] && [ "$written" -lt 2500000 ] || fail "restore onto the old disk wrote $written bytes for a 1 MB change"
[ "$(json_get "$T/r.json" bytes_same)" -gt 5000000 ] || fail "restore did not reuse what the target held"
pass "restore onto the old disk wrote $written bytes for a 1 MB change"

# Again: nothing to write.
"$HS" restore "$T/store" mail01 "$T/old.img" --json >"$T/r2.json"
[ "$(json_get "$T/r2.json" bytes_written)" -eq 0 ] || fail "a repeated restore wrote data"
pass "a repeated restore writes nothing"

# An interrupted restore (killed half-way) resumes where it stopped.
"$HS" restore "$T/store" mail01 "$T/full.img" --threads 1 >/dev/null
cp --sparse=always "$T/full.img" "$T/part.img"
# Damage the second half as a killed restore would leave it: zeroed blocks.
dd if=/dev/zero of="$T/part.img" bs=1M seek=16 count=16 conv=notrunc status=none
"$HS" restore "$T/store" mail01 "$T/part.img" --json >"$T/r3.json"
cmp "$T/part.img" "$T/disk.img" || fail "resumed restore differs"
w=$(json_get "$T/r3.json" bytes_written); s=$(json_get "$T/r3.json" bytes_same)
[ "$w" -gt 0 ] && [ "$w" -le $((16 * 1048576)) ] || fail "resume wrote $w bytes"
[ "$s" -gt 0 ] || fail "resume rewrote the intact first half"
pass "an interrupted restore resumes (wrote $w, kept $s)"

# A real kill -9 in the middle, then a second run finishes it.
rm -f "$T/k.img"
( "$HS" restore "$T/store" mail01 "$T/k.img" --threads 1 >/dev/null 2>&1 & pid=$!; sleep 0.05; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null ) || true
"$HS" restore "$T/store" mail01 "$T/k.img" >/dev/null
cmp "$T/k.img" "$T/disk.img" || fail "restore after kill -9 differs"
pass "restore after kill -9 completes"

#!/bin/bash
# Bad input: each case gets one clear line naming the problem, a non-zero exit,
# and leaves nothing half written.
. "$(dirname "$0")/../lib.sh"

truncate -s 8M "$T/disk.img"
head -c 3M /dev/urandom | dd of="$T/disk.img" conv=notrunc status=none
S=$T/store
"$HS" init "$S" --chunk-size 64K >/dev/null

# Stores.
expect_fail "store .*/nope does not exist" "$HS" snapshot "$T/nope" mail01 "$T/disk.img"
mkdir "$T/empty"
expect_fail "is not a hotspare store" "$HS" points "$T/empty" mail01
expect_fail "already a hotspare store" "$HS" init "$S"
expect_fail "store/points/inner would lie inside the store .*/store$" "$HS" init "$S/points/inner"
[ ! -e "$S/points/inner" ] || fail "a refused init made a store inside the store"
mkdir "$T/future" && printf '{"format":"hotspare-store","version":99,"chunk_size":65536,"compression":"zstd"}' >"$T/future/hotspare-store.json"
expect_fail "store format version 99" "$HS" points "$T/future" mail01
printf '{"format":"hotspare-store",' >"$T/empty/hotspare-store.json"
expect_fail "not a valid store description" "$HS" points "$T/empty" mail01
# A valid description with something after it, and a chunk size that is not a whole number.
{ cat "$S/hotspare-store.json"; echo ' {"chunk_size":1048576}'; } >"$T/empty/hotspare-store.json"
expect_fail "not a valid store description" "$HS" points "$T/empty" mail01
sed 's/"chunk_size":65536/"chunk_size":65536.5/' "$S/hotspare-store.json" >"$T/empty/hotspare-store.json"
grep -q '65536.5' "$T/empty/hotspare-store.json" || fail "the test could not write a fractional chunk size"
expect_fail "invalid chunk size" "$HS" points "$T/empty" mail01
rm "$T/empty/hotspare-store.json"
# A path with a newline and a byte that is not UTF-8: still one line, shown escaped.
expect_fail 'store .*/x\\x0aFAKE: fine\\xff does not exist' "$HS" points "$T/x"$'\nFAKE: fine\xff' mail01
pass "missing, uninitialised, future-version and corrupt stores"

# Chunk sizes.
for cs in 3M 32K 8M 100000 abc -1M; do
	expect_fail "chunk size '$cs' is not a power of two" "$HS" init "$T/cs" --chunk-size "$cs"
	[ ! -e "$T/cs" ] || fail "init with chunk size $cs left $T/cs behind"
done
pass "chunk sizes that are not powers of two from 64K to 4M"

# Server names.
for name in 'a/b' '..' '../x' '.hidden' 'a..b' "$(printf 'a\tb')" "$(printf 'a\033b')" 'a b' '' "$(printf 'x%.0s' $(seq 1 65))"; do
	expect_fail "server name|SERVER is empty" "$HS" snapshot "$S" "$name" "$T/disk.img"
done
[ ! -e "$S/points" ] || fail "a rejected server name left points behind"
pass "server names with '/', '..', a leading '.', control characters"

# Sources.
expect_fail "cannot read .*/missing.img: No such file" "$HS" snapshot "$S" mail01 "$T/missing.img"
: >"$T/zero.img"
expect_fail "zero.img is empty" "$HS" snapshot "$S" mail01 "$T/zero.img"
expect_fail "not a raw image file or a block device" "$HS" snapshot "$S" mail01 "$T"
# A FIFO: refused at once, not waited on for a writer that never comes.
mkfifo "$T/fifo"
expect_fail "fifo is not a raw image file or a block device" timeout 20 "$HS" backup "$S" mail01 "$T/fifo"
expect_fail "fifo is not a raw image file or a block device" timeout 20 "$HS" snapshot "$S" two vda="$T/disk.img" vdb="$T/fifo"
# ... nor where a directory is expected (a drive, a replica, a state).
expect_fail "fifo is not a directory" timeout 20 "$HS" replicate "$S" "$T/fifo"
expect_fail "fifo" timeout 20 "$HS" snapshot "$S" mail01 "$T/disk.img" --ship "$T/fifo"
expect_fail "key file .*/fifo is not a regular file" timeout 20 "$HS" init "$T/enc" --encrypt "$T/fifo"
rm "$T/fifo"
if [ "$(id -u)" -ne 0 ]; then
	cp "$T/disk.img" "$T/noread.img"; chmod 000 "$T/noread.img"
	expect_fail "cannot read .*noread.img" "$HS" snapshot "$S" mail01 "$T/noread.img"
fi
[ ! -e "$S/points" ] || fail "a failed snapshot left a point"
[ ! -e "$S/locks" ] || fail "a refused snapshot left $(find "$S/locks") in the store"
pass "unreadable, empty and non-image sources (the store untouched, not even a lock)"

# Points.
"$HS" snapshot "$S" mail01 "$T/disk.img" --json >"$T/snap.json"
id=$(json_get "$T/snap.json" point)
expect_fail "point mail01@20200101T000000Z does not exist" "$HS" restore "$S" mail01@20200101T000000Z "$T/out.img"
expect_fail "server nobody has no points" "$HS" restore "$S" nobody "$T/out.img"
expect_fail "is not a point id" "$HS" restore "$S" 'mail01@../../etc' "$T/out.img"
[ ! -e "$T/out.img" ] || fail "a failed restore left its target"
pass "points that do not exist"

# Indexes: truncated, corrupted, wrong magic, future version.
idx=$S/points/mail01/$id.idx
cp "$idx" "$T/idx.good"
size=$(stat -c %s "$idx")
head -c $((size - 7)) "$T/idx.good" >"$idx"
expect_fail "is truncated" "$HS" restore "$S" mail01 "$T/out.img"
head -c 100 "$T/idx.good" >"$idx"
rc=0; "$HS" verify "$S" mail01 >/dev/null 2>"$T/err" || rc=$?
[ $rc -ne 0 ] && grep -q "is truncated" "$T/err" || { cat "$T/err"; fail "verify of a truncated index"; }
cp "$T/idx.good" "$idx"; printf '\x42' | dd of="$idx" bs=1 seek=$((size - 40)) conv=notrunc status=none
expect_fail "is corrupt \(disk disk0's table checksum mismatch\)" "$HS" restore "$S" mail01 "$T/out.img"
cp "$T/idx.good" "$idx"; printf '\x42' | dd of="$idx" bs=1 seek=100 conv=notrunc status=none
expect_fail "is corrupt \(header checksum mismatch\)" "$HS" restore "$S" mail01 "$T/out.img"
cp "$T/idx.good" "$idx"; printf 'XX' | dd of="$idx" bs=1 seek=0 conv=notrunc status=none
rc=0; "$HS" verify "$S" >/dev/null 2>"$T/err" || rc=$?
[ $rc -ne 0 ] && grep -q "not a hotspare point (wrong magic)" "$T/err" || { cat "$T/err"; fail "verify of a wrong-magic point"; }
cp "$T/idx.good" "$idx"; printf '\x07' | dd of="$idx" bs=1 seek=8 conv=notrunc status=none
expect_fail "point format version 7" "$HS" restore "$S" mail01 "$T/out.img"
cp "$T/idx.good" "$idx"
[ ! -e "$T/out.img" ] || fail "a failed restore left its target"
pass "truncated, corrupted, wrong-magic and future-version indexes"

# A chunk whose content does not match its name.
chunk=$(find "$S/chunks" -name '*.zst' -print -quit)
cp "$chunk" "$T/chunk.good"
printf 'hello' | zstd -q -c >"$chunk"
name=$(basename "$chunk" .zst)
rc=0; "$HS" verify "$S" 2>"$T/err" >/dev/null || rc=$?
[ $rc -ne 0 ] || fail "verify passed a corrupt chunk"
grep -q "chunk $name: corrupt in $S; breaks mail01@$id" "$T/err" || { cat "$T/err"; fail "verify does not name the chunk and point"; }
expect_fail "chunk $name in .* is corrupt" "$HS" restore "$S" mail01 "$T/out.img"
[ ! -e "$T/out.img" ] || fail "a restore that met a corrupt chunk left its new target"
cp "$T/chunk.good" "$chunk"
"$HS" verify "$S" >/dev/null || fail "verify after repair"
pass "a chunk whose content does not match its name"

# Targets: a block device smaller than the image, a full disk.
if losetup -f >/dev/null 2>&1; then
	truncate -s 4M "$T/small.dev"
	dev=$(losetup -f --show "$T/small.dev"); on_exit losetup -d "$dev"
	expect_fail "smaller than the image" "$HS" restore "$S" mail01 "$dev"
	mkdir "$T/full"
	mount -t tmpfs -o size=2M tmpfs "$T/full"; on_exit umount "$T/full"
	expect_fail "not enough space for .*/full/out.img: it needs 3.0 MiB, the filesystem has" "$HS" restore "$S" mail01 "$T/full/out.img"
	# Room by the numbers but not in fact (a file grows meanwhile): ENOSPC mid-way removes the new file too.
	mkdir "$T/full2"; mount -t tmpfs -o size=4M tmpfs "$T/full2"; on_exit umount "$T/full2"
	rc=0; ( sleep 0.01; head -c 3M /dev/zero >"$T/full2/filler" 2>/dev/null ) & "$HS" restore "$S" mail01 "$T/full2/out.img" >/dev/null 2>&1 || rc=$?; wait
	[ $rc -eq 0 ] || [ ! -e "$T/full2/out.img" ] || fail "a restore that ran out of space left its target"
	[ -z "$(ls -A "$T/full")" ] || fail "a restore onto a full disk left $(ls "$T/full")"
	pass "a target device smaller than the image, a full disk"
else
	echo "skip - no loop devices or tmpfs mounts here"
fi

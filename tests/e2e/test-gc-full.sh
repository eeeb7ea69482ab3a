#!/bin/bash
# A full disk during prune and gc: one-line errors, no kept point damaged,
# and once there is room again the next gc completes.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root (a small tmpfs)"; exit 77; }
mkdir "$T/fs"
mount -t tmpfs -o size=24m tmpfs "$T/fs" || { echo "skip - cannot mount a tmpfs"; exit 77; }
on_exit umount -l "$T/fs"
S=$T/fs/store
head -c $((4 << 20)) /dev/urandom >"$T/disk.img"
"$HS" init "$S" --chunk-size 64K >/dev/null
"$HS" snapshot "$S" web01 "$T/disk.img" >/dev/null
for d in 1 2 3; do
	sleep 1
	head -c $((2 << 20)) /dev/urandom | dd of="$T/disk.img" bs=1M seek=2 conv=notrunc status=none
	"$HS" backup "$S" web01 "$T/disk.img" >/dev/null
done
cp "$T/disk.img" "$T/last.img"
"$HS" prune "$S" --keep-last 1 >/dev/null
# Fill the disk to the last byte.
dd if=/dev/zero of="$T/fs/filler" bs=64k status=none 2>/dev/null || true
dd if=/dev/zero of="$T/fs/filler2" bs=1 status=none 2>/dev/null || true
expect_fail "No space left|cannot" "$HS" gc "$S" --grace 0
expect_fail "No space left|cannot" "$HS" backup "$S" web01 "$T/disk.img"
"$HS" verify "$S" >/dev/null || fail "verify on the full disk"
"$HS" restore "$S" web01 "$T/r.img" >/dev/null && cmp "$T/r.img" "$T/last.img" || fail "the kept point on the full disk"
pass "gc on a full disk fails with one line; every kept point verifies and restores"

rm -f "$T/fs/filler" "$T/fs/filler2"
"$HS" gc "$S" --grace 0 --json >"$T/gc.json" || fail "gc once there is room"
[ "$(json_get "$T/gc.json" chunks_freed)" -eq 64 ] || fail "gc freed $(json_get "$T/gc.json" chunks_freed), not the pruned days' 64"
"$HS" du "$S" --json >"$T/du.json"
[ "$(json_get "$T/du.json" unnamed_chunks)" -eq 0 ] && [ "$(json_get "$T/du.json" trash_chunks)" -eq 0 ] ||
	fail "after gc: $(cat "$T/du.json")"
[ -z "$(find "$S" -name '.tmp.*')" ] || fail "temporary files are left"
"$HS" restore "$S" web01 "$T/r.img" >/dev/null && cmp "$T/r.img" "$T/last.img" || fail "the kept point after gc"
pass "with room again, gc completes: the pruned points' chunks freed, nothing left in the trash"

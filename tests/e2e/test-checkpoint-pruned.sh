#!/bin/bash
# A spare's last checkpoint pruned (a newer point came, then prune) and its
# chunks collected by gc: the next checkpoint must not build on it. Its base
# is kept in the state (STATE/checkpoint.digests), so the checkpoint sees the
# point is gone, drops that base and reads every chunk the guest wrote, as a
# first checkpoint does: the new point names no missing chunk and restores
# to what the guest wrote; the checkpoint after it is incremental again.
. "$(dirname "$0")/../lib.sh"
S=$T/store
head -c $((8 << 20)) /dev/urandom >"$T/disk.img"
"$HS" init "$S" --chunk-size 64K >/dev/null
"$HS" snapshot "$S" web01 "$T/disk.img" >/dev/null
p0=$("$HS" points "$S" web01 --json | json_get - 0 id)
mkdir "$T/mnt"
hs_mount_at "$T/mnt" "$S" "web01@$p0" "$T/mnt" --state "$T/st" --hydrate-threads 0

# guest_write MIB: 128 KiB of new random bytes at MIB MiB, through the mount
# (synced) and into disk.img, the disk the guest should now have.
guest_write() {
	head -c $((128 << 10)) /dev/urandom >"$T/w"
	dd if="$T/w" of="$T/mnt/web01.img" bs=64K seek=$(($1 * 16)) conv=notrunc,fsync status=none
	dd if="$T/w" of="$T/disk.img" bs=64K seek=$(($1 * 16)) conv=notrunc status=none
}
guest_write 1
"$HS" checkpoint "$T/mnt" --json >"$T/cp1.json"
cp1=$(json_get "$T/cp1.json" point)
[ -f "$T/st/checkpoint.digests" ] || fail "the checkpoint's base is not in the state"

# A newer point, then prune and gc: cp1 goes, and with it the chunks only it
# named (the guest's first write).
sleep 1
head -c $((8 << 20)) /dev/urandom >"$T/other.img"
"$HS" backup "$S" web01 "$T/other.img" >/dev/null
"$HS" prune "$S" --keep-last 1 >/dev/null
! "$HS" points "$S" web01 --json | grep -q "\"$cp1\"" || fail "prune kept $cp1"
"$HS" gc "$S" --grace 0 --json >"$T/gc.json"
[ "$(json_get "$T/gc.json" chunks_freed)" -ge 2 ] || fail "gc freed no chunk of $cp1"

guest_write 3
"$HS" checkpoint "$T/mnt" --json >"$T/cp2.json" || fail "the checkpoint after its base was pruned failed"
[ "$(json_get "$T/cp2.json" incremental)" = false ] || fail "the checkpoint built on a pruned point"
[ "$(json_get "$T/cp2.json" chunks_read)" -eq 4 ] || fail "the checkpoint did not read every chunk the guest wrote"
cp2=$(json_get "$T/cp2.json" point)
"$HS" verify "$S" "web01@$cp2" >/dev/null || fail "the checkpoint's point names missing chunks"
"$HS" restore "$S" "web01@$cp2" "$T/back.img" >/dev/null
cmp "$T/back.img" "$T/disk.img" || fail "the checkpoint's point is not what the guest wrote"

# Its base is in the state again: the next checkpoint is incremental.
guest_write 5
"$HS" checkpoint "$T/mnt" --json >"$T/cp3.json"
[ "$(json_get "$T/cp3.json" incremental)" = true ] || fail "the next checkpoint was not incremental"
[ "$(json_get "$T/cp3.json" chunks_read)" -eq 2 ] || fail "the next checkpoint read more than the changed chunks"
"$HS" restore "$S" "web01@$(json_get "$T/cp3.json" point)" "$T/back3.img" >/dev/null
cmp "$T/back3.img" "$T/disk.img" || fail "the third checkpoint's point is not what the guest wrote"
"$HS" umount "$T/mnt"
pass "a checkpoint whose base was pruned and collected starts over from the mounted point"

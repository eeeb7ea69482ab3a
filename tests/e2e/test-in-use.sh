#!/bin/bash
# A SOURCE someone writes while it is read would give a torn point: a block device mounted
# read-write (itself or a partition of it) and an image a QEMU holds open for writing are refused
# in one line naming the safe options, the store left byte-identical; --allow-torn takes them
# and records "torn". Mounted read-only, unmounted, or an image no VM writes: crash-consistent.
source "$(dirname "$0")/../lib.sh"
S=$T/store
"$HS" init "$S" >/dev/null
consistency() { "$HS" points "$S" "$1" --json | json_get - -1 consistency; }

# A partitioned disk on a loop device, its partition's ext4 mounted read-write (a kernel that
# scans no partitions here: the whole device's).
losetup -f >/dev/null 2>&1 || { echo "skip - no loop devices"; exit 77; }
truncate -s 64M "$T/disk.img"
echo "start=2048, type=83" | sfdisk -q --label dos "$T/disk.img"
LOOP=$(losetup -f --show -P "$T/disk.img")
on_exit "losetup -d $LOOP"
FS=${LOOP}p1
if ! wait_for 3 test -b "$FS"; then
	echo "# no partition devices for $LOOP here: a filesystem on the whole device"
	FS=$LOOP
fi
mkfs.ext4 -q -F "$FS"
mkdir "$T/mnt"
mount "$FS" "$T/mnt"
on_exit "umount -l '$T/mnt'"
echo hello >"$T/mnt/file"

sum=$(tree_sum "$S")
expect_fail "$LOOP is mounted read-write at $T/mnt: a copy would be torn; .*--lvm-snapshot.*--allow-torn" \
	"$HS" snapshot "$S" srv "$LOOP"
expect_fail "$FS is mounted read-write at $T/mnt: .*--domain NAME" "$HS" backup "$S" srv "$FS"
expect_fail "is mounted read-write" "$HS" snapshot "$S" srv sys="$T/disk.img" data="$LOOP"
[ "$(tree_sum "$S")" = "$sum" ] || fail "a refused capture changed the store"
pass "a device mounted read-write (or its partition) is refused; the store is unchanged"

"$HS" snapshot "$S" torn "$LOOP" --allow-torn >/dev/null || fail "--allow-torn"
[ "$(consistency torn)" = torn ] || fail "a capture with --allow-torn of a device in use is not torn"
[ "$("$HS" snapshot "$S" torn "$LOOP" --allow-torn --json | json_get - consistency)" = torn ] ||
	fail "the summary does not say torn"
pass "--allow-torn takes it and records torn"

mount -o remount,ro "$T/mnt"
"$HS" snapshot "$S" ro "$LOOP" >/dev/null || fail "a device mounted read-only is refused"
[ "$(consistency ro)" = crash-consistent ] || fail "a device mounted read-only is not crash-consistent"
umount "$T/mnt"
"$HS" backup "$S" ro "$LOOP" --allow-torn >/dev/null || fail "an unmounted device is refused"
[ "$(consistency ro)" = crash-consistent ] || fail "--allow-torn of a device nobody uses recorded torn"
pass "mounted read-only or unmounted: crash-consistent"

# An image a QEMU holds open for writing (qemu-io keeps it open while it sleeps).
truncate -s 16M "$T/vm.img"
qemu-io -f raw -c 'sleep 20000' "$T/vm.img" >/dev/null 2>&1 &
QIO=$!
on_exit "kill $QIO"
wait_for 10 sh -c "grep -q vm.img /proc/$QIO/maps 2>/dev/null || ls -l /proc/$QIO/fd 2>/dev/null | grep -q vm.img" ||
	fail "qemu-io did not open the image"
sum=$(tree_sum "$S")
expect_fail "vm.img is open for writing by a virtual machine" "$HS" backup "$S" vm "$T/vm.img"
[ "$(tree_sum "$S")" = "$sum" ] || fail "a refused capture changed the store"
kill "$QIO"
wait "$QIO" 2>/dev/null || true
"$HS" backup "$S" vm "$T/vm.img" >/dev/null || fail "the image is refused once QEMU let it go"
[ "$(consistency vm)" = crash-consistent ] || fail "an image nobody writes is not crash-consistent"
pass "an image QEMU writes is refused; once it is closed, crash-consistent"

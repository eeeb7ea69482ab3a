#!/bin/bash
# The project's test disk (scripts/make-test-disk.sh) is a real bootable system: QEMU boots it off
# virtio-blk with cache=none to the marker and the data checksum, again after a "day"
# (scripts/test-disk-day.sh), and as a SATA (AHCI) disk with an e1000 NIC (the Windows-like profile).
# Every wait is bounded (HS_BOOT_TIMEOUT, default 120 s per boot). HS_TEST_ACCEL=kvm|tcg forces the
# accelerator; otherwise KVM when /dev/kvm is usable, falling back to TCG if KVM fails to run.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root (loop devices)"; exit 77; }
losetup -f >/dev/null 2>&1 || { echo "skip - no loop devices"; exit 77; }

. "$(dirname "$0")/../qemu.sh"

# --- the disk ---------------------------------------------------------------------------------
start=$(now)
sha0=$("$ROOT/scripts/make-test-disk.sh" "$T/disk.img")
build_s=$(elapsed "$start")
start=$(now)
[ "$("$ROOT/scripts/make-test-disk.sh" "$T/again.img")" = "$sha0" ] || fail "the cached disk differs"
cached_s=$(elapsed "$start")
cmp -s "$T/disk.img" "$T/again.img" || fail "two copies of the cached disk differ"
rm -f "$T/again.img"
size=$(stat -c %s "$T/disk.img")
[ "$size" -le $((128 * 1048576)) ] || fail "test disk is $size bytes, over 128 MiB"
[ "$(od -An -tx1 -j510 -N2 "$T/disk.img" | tr -d ' ')" = 55aa ] || fail "no MBR signature"
sfdisk --dump "$T/disk.img" | grep -Eq 'start= *2048,.*type=83, bootable' || fail "no bootable Linux partition at 1 MiB"
[ "$(disk_cmd "$T/disk.img" sha256sum srv/data.bin | cut -d' ' -f1)" = "$sha0" ] ||
	fail "make-test-disk.sh printed a checksum that is not the data file's"
fsck_disk "$T/disk.img" || fail "e2fsck of the new disk's filesystem"
pass "test disk built in $build_s s (cached: $cached_s s), $((size / 1048576)) MiB, $(( $(stat -c %b "$T/disk.img") * 512 / 1048576 )) MiB allocated"

# --- virtio -----------------------------------------------------------------------------------
boot virtio "$sha0" -nic none -drive "file=$T/disk.img,format=raw,if=virtio,cache=$CACHE_MODE"
[ "$(marker virtio HOTSPARE-BOOT-COUNT)" = 1 ] || fail "virtio: boot count is not 1"
marker virtio HOTSPARE-DEVICES | grep -q '^root=/dev/vda1 ' || fail "virtio: root is not /dev/vda1"
pass "boots off virtio-blk (cache=$CACHE_MODE, $ACCEL): marker and checksum after $BOOT_SECONDS s"
# The guest wrote to its disk and left the filesystem clean.
[ "$(disk_cmd "$T/disk.img" cat var/lib/hotspare/boot-count)" = 1 ] || fail "the guest's boot count did not reach the disk"
fsck_disk "$T/disk.img" || fail "e2fsck after the guest ran"
pass "the guest's write reached the disk and its filesystem is clean"

# --- a day ------------------------------------------------------------------------------------
cp --sparse=always "$T/disk.img" "$T/day.img"
sha1=$("$ROOT/scripts/test-disk-day.sh" "$T/day.img" 1)
[[ $sha1 =~ ^[0-9a-f]{64}$ ]] || fail "test-disk-day.sh printed '$sha1'"
[ "$sha1" != "$sha0" ] || fail "a day did not change the data"
[ "$(disk_cmd "$T/day.img" sha256sum srv/data.bin | cut -d' ' -f1)" = "$sha1" ] || fail "a day's checksum is not the data file's"
cmp -s "$T/disk.img" "$T/day.img" && fail "a day left the image unchanged"
boot day "$sha1" -nic none -drive "file=$T/day.img,format=raw,if=virtio,cache=$CACHE_MODE"
[ "$(marker day HOTSPARE-BOOT-COUNT)" = 2 ] || fail "day: boot count is not 2"
pass "after a day: the new checksum after $BOOT_SECONDS s"

# --- Windows-like profile: SATA (AHCI) disk, e1000 NIC on nothing -----------------------------
boot sata "$sha1" -drive "if=none,id=d,file=$T/day.img,format=raw,cache=$CACHE_MODE" \
	-device ahci,id=ahci -device ide-hd,drive=d,bus=ahci.0 \
	-netdev user,id=n,restrict=on -device e1000,netdev=n
devs=$(marker sata HOTSPARE-DEVICES)
[[ $devs == "root=/dev/sda1 "* ]] || fail "sata: root is not /dev/sda1 ($devs)"
[[ $devs == *:e1000* ]] || fail "sata: no e1000 NIC in the guest ($devs)"
[ "$(marker sata HOTSPARE-BOOT-COUNT)" = 3 ] || fail "sata: boot count is not 3"
pass "boots off SATA (AHCI) with an e1000 NIC: marker and checksum after $BOOT_SECONDS s"

[ -z "$(losetup -j "$T/disk.img")$(losetup -j "$T/day.img")" ] || fail "loop devices left behind"

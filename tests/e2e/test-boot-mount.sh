#!/bin/bash
# The product's promise: a spare boots straight off the mount. The test disk
# is snapshotted to a shipped drive, changed for a day and backed up; the
# spare is mounted cold with the drive as seed, and QEMU (directly, then
# through libvirt's qemu:///system, which chowns the image to its QEMU user)
# boots it with cache=none to the marker and the day's checksum.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root"; exit 77; }
. "$(dirname "$0")/../qemu.sh"
chmod 755 "$T" # libvirt's QEMU user must reach the mount and the console file

sha0=$("$ROOT/scripts/make-test-disk.sh" "$T/disk.img")
"$HS" init "$T/store" >/dev/null
"$HS" snapshot --ship "$T/usb" "$T/store" srv1 "$T/disk.img" >/dev/null
sha1=$("$ROOT/scripts/test-disk-day.sh" "$T/disk.img" 1)
[ "$sha1" != "$sha0" ] || fail "the day did not change the data"
"$HS" backup "$T/store" srv1 "$T/disk.img" >/dev/null
mkdir "$T/mnt"

# Cold: nothing local but the seed; no background hydration, so every block the boot reads is a demand read.
hs_mount_at "$T/mnt" "$T/store" srv1 "$T/mnt" --state "$T/state" --seed "$T/usb" --hydrate-threads 0
boot qemu "$sha1" -nic none -drive "file=$T/mnt/srv1.img,format=raw,if=virtio,cache=$CACHE_MODE"
"$HS" status "$T/mnt" --json >"$T/st.json"
seed=$(json_get "$T/st.json" bytes_from_seed); store=$(json_get "$T/st.json" bytes_from_store)
[ "$seed" -gt 0 ] && [ "$store" -gt 0 ] || fail "boot read $seed bytes from the seed and $store from the store"
[ "$(json_get "$T/st.json" errors)" -eq 0 ] || fail "errors during the boot"
[ "$(json_get "$T/st.json" chunks_written)" -gt 0 ] || fail "the guest's writes did not reach the spare"
[ "$(marker qemu HOTSPARE-BOOT-COUNT)" = 1 ] || fail "boot count"
pass "QEMU ($ACCEL, cache=$CACHE_MODE) boots the cold spare in $BOOT_SECONDS s: $seed bytes from the seed, $store from the store"

# Through libvirt: qemu:///system runs QEMU as its own user and chowns the image.
libvirt_up
libvirt_boot libvirt "$T/mnt/srv1.img" "$sha1"
[ "$LIBVIRT_OWNER" != root ] || fail "libvirt did not chown the image to its QEMU user"
[ "$(marker libvirt HOTSPARE-BOOT-COUNT)" = 2 ] || fail "libvirt boot count (the first boot's write was lost?)"
pass "libvirt ($LIBVIRT_URI) boots the spare as $LIBVIRT_OWNER in $BOOT_SECONDS s"

# Hydrate, unmount: the state's image is a complete, clean raw disk with the guest's writes.
"$HS" umount "$T/mnt"
hs_mount_at "$T/mnt" "$T/store" srv1 "$T/mnt" --state "$T/state" --seed "$T/usb" --hydrate-threads 4
wait_for 120 sh -c "'$HS' status '$T/mnt' --json | grep -q '\"hydrated\":true'" || fail "hydration did not complete"
"$HS" umount "$T/mnt"
fsck_disk "$T/state/disk.img" || fail "e2fsck of the hydrated state"
[ "$(disk_cmd "$T/state/disk.img" sha256sum srv/data.bin | cut -d' ' -f1)" = "$sha1" ] || fail "data file in the hydrated state"
[ "$(disk_cmd "$T/state/disk.img" cat var/lib/hotspare/boot-count)" = 2 ] || fail "boot count in the hydrated state"
pass "hydrated state: a clean raw image with the day's data and both boots' writes"

#!/bin/bash
# SOURCE and TARGET as block devices: the size comes from the device.
. "$(dirname "$0")/../lib.sh"
losetup -f >/dev/null 2>&1 || { echo "skip - no loop devices"; exit 77; }

make_ext4 "$T/disk.img" 24
# The device is a 20 MiB window of a bigger file: stat of the file says 24 MiB.
dev=$(losetup -f --show --sizelimit $((20 * 1048576)) "$T/disk.img"); on_exit losetup -d "$dev"
"$HS" init "$T/store" --chunk-size 64K >/dev/null
"$HS" snapshot "$T/store" mail01 "$dev" --json >"$T/s.json"
[ "$(json_get "$T/s.json" size)" -eq $((20 * 1048576)) ] || fail "size not taken from the device"
truncate -s 20M "$T/target.img"
tdev=$(losetup -f --show "$T/target.img"); on_exit losetup -d "$tdev"
"$HS" restore "$T/store" mail01 "$tdev" >/dev/null
cmp -n $((20 * 1048576)) "$tdev" "$T/disk.img" || fail "restore onto a block device differs"
pass "snapshot from and restore onto block devices"

#!/bin/bash
# A Windows-like server of two disks as a spare: the system disk (the bootable
# test disk) and a data disk (make-data-disk.sh, ext4 the guest mounts and
# checksums). One daemon serves both images; QEMU boots with both and the
# guest reads the day's data disk; a drill attaches both and waits for the
# data disk's checksum; failover with the windows profile boots both on SATA;
# a checkpoint makes one point of both disks, which restores to the spare's
# images; failback makes the final point of both; export takes the data disk by
# SERVER@POINT:DISK. The store is encrypted: every step works
# with the key (HOTSPARE_KEYFILE), the daemons' children included.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root"; exit 77; }
. "$(dirname "$0")/../qemu.sh"
chmod 755 "$T"
libvirt_up
V() { virsh -c "$LIBVIRT_URI" "$@"; }
NAME=win$$
on_exit "V destroy $NAME; V undefine $NAME"

S=$T/store
"$HS" key create "$T/k.key" >/dev/null
export HOTSPARE_KEYFILE=$T/k.key
"$ROOT/scripts/make-test-disk.sh" "$T/sys.img" >/dev/null
"$ROOT/scripts/make-data-disk.sh" "$T/data.img" 1 32 >/dev/null
"$HS" init "$S" --encrypt "$T/k.key" >/dev/null
"$HS" snapshot --ship "$T/usb" "$S" $NAME sys="$T/sys.img" data="$T/data.img" >/dev/null || fail "snapshot"
sha1=$("$ROOT/scripts/test-disk-day.sh" "$T/sys.img" 1)
dsha1=$("$ROOT/scripts/make-data-disk.sh" "$T/data.img" 2)
"$HS" backup "$S" $NAME sys="$T/sys.img" data="$T/data.img" >/dev/null || fail "backup"
mkdir "$T/mnt"

# Cold, nothing local but the seed: one daemon, two images, two state directories.
hs_mount_at "$T/mnt" "$S" $NAME "$T/mnt" --state "$T/state" --seed "$T/usb" --hydrate-threads 0
[ "$(ls "$T/mnt")" = "$NAME-data.img
$NAME-sys.img" ] || fail "the mount shows: $(ls "$T/mnt")"
[ -f "$T/state/disks/sys/state.json" ] && [ -f "$T/state/disks/data/state.json" ] || fail "no per-disk state: $(ls "$T/state")"
[ "$(stat -c %s "$T/mnt/$NAME-data.img")" -eq "$(stat -c %s "$T/data.img")" ] || fail "the data image's size"
boot qemu "$sha1" -nic none -drive "file=$T/mnt/$NAME-sys.img,format=raw,if=virtio,cache=$CACHE_MODE" \
	-drive "file=$T/mnt/$NAME-data.img,format=raw,if=virtio,cache=$CACHE_MODE"
[ "$(marker qemu HOTSPARE-DATADISK)" = "/dev/vdb1 $dsha1" ] ||
	fail "the guest read the data disk as '$(marker qemu HOTSPARE-DATADISK)', not /dev/vdb1 $dsha1"
"$HS" status "$T/mnt" --json >"$T/st.json"
python3 - "$T/st.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
d = {x["name"]: x for x in s["disks"]}
assert list(d) == ["sys", "data"], s["disks"]
assert d["data"]["bytes_from_store"] + d["data"]["bytes_from_seed"] > 0, d["data"]
assert s["bytes_from_store"] + s["bytes_from_seed"] == sum(x["bytes_from_store"] + x["bytes_from_seed"] for x in d.values()), s
assert s["errors"] == 0 and s["rss_bytes"] > 0, s
PY
"$HS" status "$T/mnt" | grep -q "disk data" || fail "status does not show the data disk"
pass "QEMU ($ACCEL) boots a cold spare of two disks in $BOOT_SECONDS s; the guest reads the day's data disk"

# A checkpoint is one point of both disks; it restores to the spare's two images.
"$HS" checkpoint "$T/mnt" --json >"$T/cp.json" || fail "checkpoint"
[ "$(json_get "$T/cp.json" added)" = true ] || fail "the boot's writes made no point"
[ "$(json_get "$T/cp.json" disks 0 name)" = sys ] && [ "$(json_get "$T/cp.json" disks 1 name)" = data ] ||
	fail "the checkpoint's disks: $(cat "$T/cp.json")"
cpoint=$(json_get "$T/cp.json" point)
"$HS" umount "$T/mnt"
"$HS" restore "$S" "$NAME@$cpoint" sys="$T/r-sys.img" data="$T/r-data.img" --seed "$T/usb" >/dev/null ||
	fail "restore of the checkpoint"
hs_mount_at "$T/mnt" "$S" "$NAME@$cpoint" "$T/mnt" --state "$T/state2" --seed "$T/usb" --read-only
cmp "$T/r-sys.img" "$T/mnt/$NAME-sys.img" && cmp "$T/r-data.img" "$T/mnt/$NAME-data.img" ||
	fail "the checkpoint's restore differs from its spare"
"$HS" umount "$T/mnt"
fsck_disk "$T/r-sys.img" || fail "e2fsck of the restored system disk"
[ "$(disk_cmd "$T/r-sys.img" cat var/lib/hotspare/boot-count)" = 1 ] || fail "the boot's write is not in the point"
pass "a checkpoint is one point of both disks ($cpoint); its restore equals both images (cmp)"

# A drill attaches every disk and waits for the data disk's checksum on the console.
"$HS" drill "$S" "$NAME@$cpoint" --seed "$T/usb" --report "$T/report" --timeout 200 \
	--expect "HOTSPARE-DATADISK /dev/vdb1 $dsha1" >"$T/drill.out" 2>&1 ||
	{ cat "$T/drill.out"; fail "the drill of two disks failed"; }
python3 - "$T/report/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["passed"] is True, r["errors"]
d = r["boot_reads"]["disks"]
assert [x["name"] for x in d] == ["sys", "data"], d
assert d[1]["bytes"] > 0, d
assert r["verify"]["bad_chunks"] == 0
PY
pass "a drill boots both disks, sees the data disk's checksum, and reports boot reads per disk"

# Failover, windows profile: both images on SATA (the guest names them in the order it probes them).
mkdir "$T/fomnt"
on_exit "'$HS' umount '$T/fomnt' || umount -l '$T/fomnt'"
"$HS" failover "$S" "$NAME@$cpoint" --state "$T/fostate" --seed "$T/usb" --memory 256 --vcpus 1 \
	--profile windows --mountpoint "$T/fomnt" >"$T/fo.out" || fail "failover"
console=$T/fostate/console.log
wait_for "$TIMEOUT" grep -q "HOTSPARE-DATADISK" "$console" 2>/dev/null || { tail -20 "$console" >&2; fail "failover did not boot"; }
grep -Eq "HOTSPARE-DATADISK /dev/sd[ab]1 $dsha1" "$console" || { grep HOTSPARE "$console" >&2; fail "failover's data disk"; }
[ "$(V domblklist $NAME | grep -c "$T/fomnt/")" -eq 2 ] || fail "the domain does not use both images"
pass "failover (windows profile) boots both disks on SATA; the guest reads the data disk"

# Failback: the domain shut down, a final point of both disks that restores to the spare's images.
"$HS" failback "$T/fomnt" --shutdown-timeout 5 --json >"$T/fb.json" || fail "failback"
[ "$(json_get "$T/fb.json" domain_was_running)" = true ] || fail "failback did not find the domain"
[ "$(json_get "$T/fb.json" pass2 disks 1 name)" = data ] || fail "failback's disks: $(cat "$T/fb.json")"
fpoint=$(json_get "$T/fb.json" point)
cp --sparse=always "$T/fomnt/$NAME-sys.img" "$T/f-sys.img"
cp --sparse=always "$T/fomnt/$NAME-data.img" "$T/f-data.img"
"$HS" umount "$T/fomnt"
"$HS" restore "$S" "$NAME@$fpoint" sys="$T/fr-sys.img" data="$T/fr-data.img" --seed "$T/usb" >/dev/null ||
	fail "restore of the failback point"
cmp "$T/fr-sys.img" "$T/f-sys.img" && cmp "$T/fr-data.img" "$T/f-data.img" || fail "the failback point differs from the spare"
pass "failback of two disks: the final point restores to both of the spare's images (cmp)"

# Export of one disk; a point of two disks needs the disk named.
expect_fail "has 2 disks" "$HS" export "$S" "$NAME@$cpoint" "$T/x.qcow2" --format qcow2
"$HS" export "$S" "$NAME@$cpoint:data" "$T/data.qcow2" --format qcow2 --seed "$T/usb" >/dev/null || fail "export of one disk"
qemu-img compare -q -f raw -F qcow2 "$T/r-data.img" "$T/data.qcow2" || fail "the exported data disk differs"
[ ! -e "$T/x.qcow2" ] || fail "a refused export left its file"
pass "export of SERVER@POINT:DISK; a point of two disks without one is refused"

#!/bin/bash
# checkpoint and failback against what can go wrong around them, with a
# libvirt domain that runs off the mount (no guest OS: QEMU holds the image
# open for writing, which is what matters here; it ignores ACPI, so it is
# destroyed after the shutdown timeout):
# - both commands name themselves in their errors;
# - a checkpoint with nothing written since the last point adds none; a
#   read-only mount refuses checkpoint and failback;
# - a libvirt connection that fails, a --domain that does not exist or does
#   not use the mount, and a writer that is no running domain are refused
#   before the first checkpoint: no point is added;
# - with the domain running and another writer, the second pass is refused
#   (not called final); without --domain, failback finds the domain by its
#   disk in libvirt's XML, stops it, and says which point to restore;
# - failback with no domain labels its passes so, and adds no empty points.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root"; exit 77; }
. "$(dirname "$0")/../qemu.sh"
chmod 755 "$T"
libvirt_up
V() { virsh -c "$LIBVIRT_URI" "$@"; }
DOM=fbdom$$ OTHER=fbother$$
on_exit "V destroy $DOM; V undefine $DOM; V undefine $OTHER"

make_ext4 "$T/disk.img" 16
"$HS" init "$T/store" >/dev/null
"$HS" snapshot "$T/store" fb01 "$T/disk.img" >/dev/null
npoints() { "$HS" points "$T/store" fb01 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
latest() { "$HS" points "$T/store" fb01 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])'; }
mkdir "$T/mnt" "$T/ro" "$T/plain"
hs_mount_at "$T/mnt" "$T/store" fb01 "$T/mnt" --state "$T/state" --hydrate-threads 0
IMG=$T/mnt/fb01.img
writes() { dd if=/dev/urandom of="$IMG" bs=64k count=4 seek="$1" conv=notrunc,fsync status=none; }

expect_fail "^hotspare checkpoint: $T/plain is not a hotspare mount$" "$HS" checkpoint "$T/plain"
expect_fail "^hotspare failback: $T/plain is not a hotspare mount$" "$HS" failback "$T/plain" --connect "$LIBVIRT_URI"
pass "checkpoint and failback name themselves"

n0=$(npoints)
p0=$(latest)
"$HS" checkpoint "$T/mnt" >"$T/cp.out" || fail "checkpoint with nothing written"
grep -q "^checkpoint: nothing written since point $p0; no point added$" "$T/cp.out" || { cat "$T/cp.out"; fail "checkpoint output"; }
[ "$(npoints)" -eq "$n0" ] || fail "a checkpoint with nothing written added a point"
hs_mount_at "$T/ro" "$T/store" fb01 "$T/ro" --state "$T/rostate" --read-only --hydrate-threads 0
expect_fail "^hotspare checkpoint: $T/ro is a read-only mount of fb01@$p0" "$HS" checkpoint "$T/ro"
expect_fail "^hotspare failback: $T/ro is a read-only mount of fb01@$p0" "$HS" failback "$T/ro" --connect "$LIBVIRT_URI"
[ "$(npoints)" -eq "$n0" ] || fail "a read-only mount added a point"
"$HS" umount "$T/ro"
pass "nothing written: no point; a read-only mount refuses checkpoint and failback"

# No domain anywhere uses the mount, nothing written: passes labelled so, no empty points.
"$HS" failback "$T/mnt" --connect "$LIBVIRT_URI" >"$T/fb0.out" || fail "failback with no domain"
grep -q "^failback pass 1 (no domain uses the image): nothing written since point $p0, no point added" "$T/fb0.out" ||
	{ cat "$T/fb0.out"; fail "pass 1 of a failback with no domain"; }
grep -q "^final point fb01@$p0;" "$T/fb0.out" || { cat "$T/fb0.out"; fail "the final point of an unchanged spare"; }
[ "$(npoints)" -eq "$n0" ] || fail "failback with no domain and nothing written added points"
pass "failback with no domain: labelled so, no empty points"

# Refusals before the first checkpoint, with something to checkpoint.
writes 8
expect_fail "^hotspare failback: cannot connect to libvirt at qemu:///nonexistent" \
	"$HS" failback "$T/mnt" --connect qemu:///nonexistent
[ "$(npoints)" -eq "$n0" ] || fail "a failback that cannot reach libvirt added a point"
cat >"$T/dom.xml" <<XML
<domain type='qemu'>
  <name>$DOM</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$IMG'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
XML
truncate -s 16M "$T/other.img"
sed -e "s|<name>$DOM</name>|<name>$OTHER</name>|" -e "s|$IMG|$T/other.img|" "$T/dom.xml" >"$T/other.xml"
V define "$T/dom.xml" >/dev/null && V define "$T/other.xml" >/dev/null || fail "cannot define the test domains"
exec 3<>"$IMG" # a writer libvirt knows nothing of
expect_fail "^hotspare failback: $IMG is open for writing \(1 handle\) and no running domain at $LIBVIRT_URI uses it" \
	"$HS" failback "$T/mnt" --connect "$LIBVIRT_URI"
exec 3>&-
V start "$DOM" >/dev/null || fail "cannot start $DOM"
wait_for 10 sh -c "'$HS' status '$T/mnt' --json | grep -q '\"open_writers\":[1-9]'" || fail "status does not count QEMU's handle"
expect_fail "^hotspare failback: domain nosuch$$ does not exist at $LIBVIRT_URI$" \
	"$HS" failback "$T/mnt" --connect "$LIBVIRT_URI" --domain nosuch$$
expect_fail "^hotspare failback: domain $OTHER does not use $T/mnt \(its disks: $T/other.img\)$" \
	"$HS" failback "$T/mnt" --connect "$LIBVIRT_URI" --domain $OTHER
[ "$(npoints)" -eq "$n0" ] || fail "a refused failback added a point"
[ "$(V domstate "$DOM")" = running ] || fail "a refused failback stopped the domain"
pass "refused before any checkpoint: no libvirt, a writer that is no domain, a missing domain, a domain not using the mount"

# Another writer besides the domain: pass 1 is taken, the second is not called final.
exec 3<>"$IMG"
expect_fail "^hotspare failback: $IMG is still open for writing \(1 handle\) with its domain shut off: the second pass would not be final \(pass 1 made point fb01@" \
	"$HS" failback "$T/mnt" --connect "$LIBVIRT_URI" --shutdown-timeout 1
exec 3>&-
[ "$(V domstate "$DOM")" = "shut off" ] || fail "the domain still runs"
[ "$(npoints)" -eq $((n0 + 1)) ] || fail "pass 1 made no point"
pass "a writer beside the domain: the second pass is refused, not called final"

# The real thing: the domain found by its disk, stopped, two passes, the final point.
writes 40
V start "$DOM" >/dev/null || fail "cannot start $DOM"
"$HS" failback "$T/mnt" --connect "$LIBVIRT_URI" --shutdown-timeout 2 --json >"$T/fb.json" || fail "failback"
[ "$(json_get "$T/fb.json" domain)" = "$DOM" ] || fail "failback did not find $DOM"
[ "$(json_get "$T/fb.json" domain_was_running)" = true ] || fail "failback did not see $DOM running"
[ "$(json_get "$T/fb.json" pass1 added)" = true ] || fail "pass 1 added no point"
[ "$(json_get "$T/fb.json" pass1 chunks_read)" -gt 0 ] || fail "pass 1 read nothing"
[ "$(V domstate "$DOM")" = "shut off" ] || fail "the domain still runs after failback"
point=$(json_get "$T/fb.json" point)
[ "$point" = "$(latest)" ] || fail "the final point $point is not the newest"
"$HS" restore "$T/store" "fb01@$point" "$T/back.img" >/dev/null || fail "restore of the final point"
cmp "$T/back.img" "$IMG" || fail "the final point does not restore to the spare's image"
pass "failback finds $DOM by its disk, stops it, and its final point restores to the spare's image"

"$HS" failback "$T/mnt" --connect "$LIBVIRT_URI" >"$T/fb2.out" || fail "failback once more"
grep -q "^failback pass 1 (its domain is shut off): nothing written since point $point, no point added" "$T/fb2.out" ||
	{ cat "$T/fb2.out"; fail "the second failback's pass 1"; }
[ "$(latest)" = "$point" ] || fail "a failback with nothing written added a point"
pass "failback again: nothing written, no point, labelled with the domain shut off"

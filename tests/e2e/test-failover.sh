#!/bin/bash
# Failover for real on an isolated libvirt network (no <ip>: no address on the
# host, no DHCP, no route), surviving a kill -9 of the daemon (remount, domain
# restarted, the flushed boot-count write is there) and a libvirtd restart;
# then failback: two checkpoints, a point whose restore equals the spare's
# image, and a restore onto the original disk that writes only what changed.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root"; exit 77; }
. "$(dirname "$0")/../qemu.sh"
chmod 755 "$T"
libvirt_up
V() { virsh -c "$LIBVIRT_URI" "$@"; }
NAME=fo$$
NET=hs-iso-$$
cat >"$T/net.xml" <<XML
<network><name>$NET</name><bridge name='hsiso$(($$ % 10000))' stp='off'/></network>
XML
V net-create "$T/net.xml" >/dev/null
on_exit "V net-destroy $NET"
on_exit "V destroy $NAME; V undefine $NAME"

sha0=$("$ROOT/scripts/make-test-disk.sh" "$T/disk.img")
cp --sparse=always "$T/disk.img" "$T/original.img"
"$HS" init "$T/store" >/dev/null
"$HS" snapshot --ship "$T/usb" "$T/store" $NAME "$T/disk.img" >/dev/null
mkdir "$T/mnt" "$T/other"
on_exit "'$HS' umount '$T/mnt' || umount -l '$T/mnt'"

# Refusals first: a network or bridge that does not exist.
expect_fail "libvirt network nonet-$$ does not exist" "$HS" failover "$T/store" $NAME --state "$T/state" \
	--seed "$T/usb" --network nonet-$$ --mountpoint "$T/mnt"
expect_fail "bridge nobr$$ does not exist" "$HS" failover "$T/store" $NAME --state "$T/state" \
	--seed "$T/usb" --bridge nobr$$ --mountpoint "$T/mnt"
! mountpoint -q "$T/mnt" || fail "a refused failover mounted the spare"

console=$T/state/console.log
wait_console() { # N: the boot count the console must show
	wait_for "$TIMEOUT" grep -q "HOTSPARE-BOOT-COUNT $1" "$console" 2>/dev/null ||
		{ tail -20 "$console" >&2; fail "boot $1 did not reach its marker"; }
}
"$HS" failover "$T/store" $NAME --state "$T/state" --seed "$T/usb" --network $NET --memory 256 --vcpus 1 \
	--mountpoint "$T/mnt" >"$T/fo.out"
grep -q "domain $NAME started" "$T/fo.out" || fail "failover did not say what it started"
wait_console 1
grep -q "HOTSPARE-DATA-SHA256 $sha0" "$console" || fail "wrong data checksum"
[ "$(V domstate $NAME)" = running ] || fail "the domain is not running"
[[ $(V dumpxml $NAME) == *"<source network='$NET'"* ]] || fail "the domain is not on $NET"
expect_fail "domain $NAME is already running" "$HS" failover "$T/store" $NAME --state "$T/state" \
	--network $NET --mountpoint "$T/other"
pass "failover boots the spare as persistent domain $NAME on isolated network $NET; a second is refused"

# libvirtd restarts: the domain goes on.
stop_daemon libvirtd; libvirtd -d
wait_for 30 V version >/dev/null 2>&1 || fail "libvirtd did not come back"
[ "$(V domstate $NAME)" = running ] || fail "the domain did not survive a libvirtd restart"
pass "the domain survives a libvirtd restart"

# kill -9 of the daemon: the domain is stopped, the spare remounted, the domain restarted.
pid=$("$HS" status "$T/mnt" --json | json_get - pid)
kill -9 "$pid"
V destroy $NAME >/dev/null
: >"$console"
"$HS" failover "$T/store" $NAME --state "$T/state" --seed "$T/usb" --network $NET --memory 256 --vcpus 1 \
	--mountpoint "$T/mnt" >/dev/null
wait_console 2
pass "after kill -9 of the daemon: remounted, restarted, and the first boot's flushed write is there (count 2)"

# Failback: a checkpoint while running, then the domain shut down and a second one.
"$HS" failback "$T/mnt" --shutdown-timeout 5 --json >"$T/fb.json"
[ "$(json_get "$T/fb.json" domain_was_running)" = true ] || fail "failback did not find the running domain"
[ "$(json_get "$T/fb.json" pass1 chunks_read)" -gt 0 ] || fail "pass 1 read nothing"
[ "$(V domstate $NAME)" = "shut off" ] || fail "the domain is still up after failback"
point=$(json_get "$T/fb.json" point)
cp --sparse=always "$T/mnt/$NAME.img" "$T/spare.img"
"$HS" umount "$T/mnt"
"$HS" restore "$T/store" "$NAME@$point" "$T/restored.img" --seed "$T/usb" >/dev/null
cmp "$T/restored.img" "$T/spare.img" || fail "the failback point does not restore to the spare's image"
"$HS" restore "$T/store" "$NAME@$point" "$T/original.img" --json >"$T/home.json"
cmp "$T/original.img" "$T/spare.img" || fail "the original disk after restore differs from the spare"
written=$(json_get "$T/home.json" bytes_written)
changed=$(( $(json_get "$T/fb.json" pass1 chunks_read) * 262144 ))
[ "$written" -le "$changed" ] && [ "$written" -gt 0 ] || fail "restore home wrote $written bytes for $changed changed"
pass "failback: point $point restores to the spare's image; restoring home wrote $written bytes (changed chunks only)"

# The Windows profile boots the failback point (a new spare of it) as SATA with an e1000 NIC.
V undefine $NAME >/dev/null
console=$T/state2/console.log
"$HS" failover "$T/store" "$NAME@$point" --state "$T/state2" --seed "$T/usb" --network $NET --memory 256 \
	--vcpus 1 --profile windows --mountpoint "$T/mnt" >/dev/null
wait_console 3
grep -q "HOTSPARE-DEVICES root=/dev/sda1 nics=eth0:e1000" "$console" || { grep HOTSPARE "$console"; fail "windows profile devices"; }
xml=$(V dumpxml $NAME)
[[ $xml == *"bus='sata'"* && $xml == *"<model type='e1000'/>"* && $xml == *"<clock offset='localtime'"* && $xml == *"<hyperv"* ]] ||
	fail "the windows profile's domain lacks SATA, e1000, localtime or Hyper-V"
V destroy $NAME >/dev/null
pass "the windows profile boots the disk from SATA with an e1000 NIC, localtime clock, Hyper-V enlightenments"

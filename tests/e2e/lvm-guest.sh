#!/bin/sh
# Runs inside the test guest as its hook disk's /run (scripts/make-hook-disk.sh), for
# test-lvm-snapshot.sh: real LVM (the guest's kernel has device-mapper; the host's may not) on a
# loop device over /hook/pv.img, an ext4 volume mounted read-write and written to continuously
# (numbered, checksummed, fsynced records in /records, as tests/e2e/live-guest.sh writes them),
# captured with hotspare snapshot|backup --lvm-snapshot into /hook/store: refused without it,
# taken twice with it, failing (a lock it cannot take; a snapshot that overflows), stopped by
# SIGTERM and killed with -9; after each, the test asks LVM whether a snapshot volume is left.
# Prints HOTSPARE-LVM lines and ends with HOTSPARE-LVM-DONE ok (or fail: why), then powers off.
# (busybox runs its own applets before PATH: programs it also has are called by their path.)
export PATH=/hook/bin:/bin
H="hotspare"
S=/hook/store
V=/dev/hsvg/data
say() { echo "HOTSPARE-LVM $*  (at $(cut -d' ' -f1 /proc/uptime) s)"; }
finish() { echo "HOTSPARE-LVM-DONE $*"; sync; poweroff -f; sleep 60; }
fail() { finish "fail: $*"; }
for m in $(cat /hook/modules/load); do insmod "/hook/modules/$m" 2>/dev/null; done

# LVM without udev: device-mapper makes its own nodes; no metadata backups.
export DM_DISABLE_UDEV=1 LVM_SUPPRESS_FD_WARNINGS=1
mkdir -p /run/lock/lvm /etc/lvm /mnt/lv
cat >/etc/lvm/lvm.conf <<'EOF'
activation { udev_sync = 0 udev_rules = 0 }
devices { obtain_device_list_from_udev = 0 }
backup { backup = 0 archive = 0 }
EOF
rm -f /hook/pv.img && dd if=/dev/zero of=/hook/pv.img bs=1M count=0 seek=128 2>/dev/null
L=$(losetup -f) && losetup "$L" /hook/pv.img || fail "no loop device"
pvcreate -q "$L" >/dev/null && vgcreate -q hsvg "$L" >/dev/null && lvcreate -q -L 32M -n data hsvg >/dev/null ||
	fail "cannot make the volume group"
/hook/bin/mke2fs -q -t ext4 "$V" && mount -t ext4 "$V" /mnt/lv || fail "cannot make the filesystem"
# Data to read (a capture that lasts), then the writer.
dd if=/dev/urandom of=/mnt/lv/fill bs=1M count=16 conv=fsync 2>/dev/null
(
	f=/mnt/lv/records
	n=0
	while :; do
		n=$((n + 1))
		num=$(printf %08d "$n")
		body="record $num $(printf %s "$num" | sha256sum | cut -c1-32)"
		sum=$(printf '%s\n' "$body" | sha256sum | cut -c1-16)
		printf '%s %s\n' "$body" "$sum" >>"$f"
		sync "$f" 2>/dev/null || sync
	done
) &
WRITER=$!
snapshots() { lvs --noheadings -o lv_name @hotspare_snapshot 2>/dev/null | tr -d ' '; }
# stop_at_snapshot PID: SIGSTOP the capture as soon as its snapshot's node
# appears, before it reads (lvs takes long enough in this guest for a whole
# capture to end first): no sleep, no process per look. True if LVM then
# lists the snapshot.
stop_at_snapshot() {
	i=0
	while [ ! -e "/dev/hsvg/data-hotspare-$1" ] && kill -0 "$1" 2>/dev/null && [ $i -lt 300000 ]; do i=$((i + 1)); done
	kill -STOP "$1" 2>/dev/null
	[ -n "$(snapshots)" ]
}
$H init "$S" >/dev/null || fail "hotspare init"
sleep 2

# The origin is mounted read-write: refused without a snapshot, nothing written.
$H snapshot "$S" lv "$V" 2>/tmp/err && fail "a mounted volume was captured without --lvm-snapshot"
say "refused: $(cat /tmp/err)"
$H points "$S" lv 2>&1 | grep -q 'has no points' || fail "a refused capture wrote a point"

$H snapshot "$S" lv "$V" --lvm-snapshot 32M --threads 1 >/tmp/out 2>&1 || fail "snapshot --lvm-snapshot: $(cat /tmp/out)"
[ -z "$(snapshots)" ] || fail "a snapshot is left after a snapshot: $(snapshots)"
$H backup "$S" lv "$V" --lvm-snapshot=32M --threads 1 >/tmp/out 2>&1 || fail "backup --lvm-snapshot: $(cat /tmp/out)"
[ -z "$(snapshots)" ] || fail "a snapshot is left after a backup: $(snapshots)"
say "captured twice, no snapshot left"

# Failures after the snapshot was made: a lock it cannot take, a snapshot that overflows.
mkdir -p "$S/locks" && ln -s /nowhere "$S/locks/lv.lock"
$H backup "$S" lv "$V" --lvm-snapshot 32M >/tmp/out 2>&1 && fail "a backup without its lock succeeded"
say "failed: $(tail -n1 /tmp/out)"
rm -f "$S/locks/lv.lock"
[ -z "$(snapshots)" ] || fail "a snapshot is left after a failure: $(snapshots)"
$H backup "$S" lv "$V" --lvm-snapshot 4M --threads 1 >/tmp/out 2>&1 &
P=$!
stop_at_snapshot $P || fail "no snapshot appeared"
dd if=/dev/urandom of=/mnt/lv/burst bs=1M count=8 conv=fsync 2>/dev/null
kill -CONT $P
wait $P && fail "a capture from an overflowed snapshot succeeded"
grep -q 'overflowed' /tmp/out || fail "the overflow is not named: $(cat /tmp/out)"
say "failed: $(tail -n1 /tmp/out)"
rm -f /mnt/lv/burst
[ -z "$(snapshots)" ] || fail "a snapshot is left after it overflowed: $(snapshots)"

# Stopped by SIGTERM in the middle: it removes its snapshot.
$H backup "$S" lv "$V" --lvm-snapshot 32M --threads 1 >/tmp/out 2>&1 &
P=$!
stop_at_snapshot $P || fail "no snapshot appeared (SIGTERM)"
kill -TERM $P
kill -CONT $P
wait $P && fail "a capture stopped by SIGTERM succeeded"
[ -z "$(snapshots)" ] || fail "a snapshot is left after SIGTERM: $(snapshots)"
say "stopped by SIGTERM: $(tail -n1 /tmp/out)"

# Killed with -9: its snapshot stays, tagged; the next capture removes it.
$H backup "$S" lv "$V" --lvm-snapshot 32M --threads 1 >/dev/null 2>&1 &
P=$!
stop_at_snapshot $P || fail "no snapshot appeared (kill -9)"
kill -9 $P
wait $P
[ -n "$(snapshots)" ] || fail "kill -9 left no snapshot (the test caught nothing)"
say "killed: left $(snapshots)"
$H backup "$S" lv "$V" --lvm-snapshot 32M --threads 1 >/tmp/out 2>&1 || fail "backup after kill -9: $(cat /tmp/out)"
[ -z "$(snapshots)" ] || fail "a snapshot is left after the next capture: $(snapshots)"
say "the next capture removed it"

kill $WRITER
$H points "$S" lv --json >/hook/points.json || fail "points"
umount /mnt/lv
sync
finish ok

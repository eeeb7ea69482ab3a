#!/bin/bash
# backup|snapshot --lvm-snapshot: a physical Linux server's logical volume, mounted read-write and
# written to continuously, captured from a temporary LVM snapshot. LVM runs inside the test guest
# (real device-mapper on a loop device, whatever the host's kernel has; tests/e2e/lvm-guest.sh
# with hotspare, LVM and e2fsprogs from the host on a hook disk). Without --lvm-snapshot the
# mounted volume is refused; with it every point fscks clean with a complete prefix of records,
# and no snapshot volume is left after a success, a failure (a lock it cannot take, a snapshot
# that overflows: named), SIGTERM, or kill -9 (the next capture removes that one).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../qemu.sh"
source "$(dirname "$0")/../live.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export HS

"$ROOT/scripts/make-test-disk.sh" "$T/root.img" >/dev/null
"$ROOT/scripts/make-hook-disk.sh" "$T/hook.img" 512 "$ROOT/tests/e2e/lvm-guest.sh" --bin "$HS=hotspare" \
	--bin /sbin/lvm=lvm --bin /sbin/lvm=lvs --bin /sbin/lvm=lvcreate --bin /sbin/lvm=lvremove \
	--bin /sbin/lvm=pvcreate --bin /sbin/lvm=vgcreate --bin /sbin/mke2fs=mke2fs \
	--modules dm_mod,dm_snapshot,loop
LOG=$T/lvm.serial
# Boot the guest and wait for its scenario's end (KVM when it runs guests here, else TCG).
result=
while [ -z "$result" ]; do
	: >"$LOG"
	qemu-system-x86_64 -accel "$ACCEL" -smp 2 -m 512 -display none -vga none -monitor none -no-reboot \
		-serial "file:$LOG" -drive "file=$T/root.img,format=raw,if=virtio,snapshot=on" \
		-drive "file=$T/hook.img,format=raw,if=virtio,cache=unsafe" </dev/null >"$T/qemu.err" 2>&1 &
	QPID=$!
	deadline=$((SECONDS + 480))
	while [ $SECONDS -lt $deadline ]; do
		grep -aq 'HOTSPARE-LVM-DONE' "$LOG" && { result=done; break; }
		if [ "$ACCEL" = kvm ] && grep -Eqi 'KVM internal error|failed to initialize kvm' "$T/qemu.err"; then
			result=kvm-broken; break
		fi
		kill -0 "$QPID" 2>/dev/null || { result=qemu-exited; break; }
		sleep 1
	done
	[ -n "$result" ] || result=timeout
	if [ "$result" = kvm-broken ]; then
		stop_qemu
		echo "# KVM does not run guests here: TCG"
		ACCEL=tcg result=
	fi
done
[ "$result" = done ] || { tail -n 40 "$LOG" >&2; tail -n 5 "$T/qemu.err" >&2; fail "the guest's scenario: $result"; }
wait_for 30 sh -c "! kill -0 $QPID 2>/dev/null" || stop_qemu
QPID=
grep -a 'HOTSPARE-LVM' "$LOG" | tr -d '\r' | sed 's/^/# /'
grep -aq 'HOTSPARE-LVM-DONE ok' "$LOG" || fail "$(grep -a 'HOTSPARE-LVM-DONE' "$LOG" | tr -d '\r')"
grep -aq 'HOTSPARE-LVM refused: .*is mounted read-write.*--lvm-snapshot' "$LOG" || fail "the refusal does not name --lvm-snapshot"
pass "refused without --lvm-snapshot; no snapshot volume left after successes, failures, SIGTERM and kill -9"

# The store, out of the hook disk (no mount needed), and each point restored and checked.
debugfs -R "rdump /store $T" "$T/hook.img" >/dev/null 2>&1
debugfs -R "dump /points.json $T/points.json" "$T/hook.img" >/dev/null 2>&1
ids=$(python3 -c 'import json,sys; print(" ".join(p["id"] for p in json.load(open(sys.argv[1]))))' "$T/points.json")
[ "$(echo $ids | wc -w)" -eq 3 ] || fail "expected three points, got: $ids"
prev=0
for id in $ids; do
	[ "$("$HS" points "$T/store" lv --json | python3 -c 'import json,sys
print([p for p in json.load(sys.stdin) if p["id"]==sys.argv[1]][0]["consistency"])' "$id")" = crash-consistent ] ||
		fail "lv@$id is not crash-consistent"
	"$HS" restore "$T/store" "lv@$id" "$T/lv.img" >/dev/null || fail "restore lv@$id"
	# A snapshot of a mounted ext4 is taken with the filesystem frozen: clean as it is.
	e2fsck -fn "$T/lv.img" >"$T/fsck.out" 2>&1 || { cat "$T/fsck.out" >&2; fail "e2fsck -fn of lv@$id"; }
	debugfs -R "dump /records $T/records" "$T/lv.img" >/dev/null 2>&1 || fail "no records in lv@$id"
	n=$(live_check_records "$T/records") || fail "the records of lv@$id are torn"
	[ "$n" -gt "$prev" ] || fail "lv@$id has $n records, not more than the point before ($prev)"
	prev=$n
	rm -f "$T/lv.img"
done
pass "every --lvm-snapshot point fscks clean with a growing, complete prefix of records"

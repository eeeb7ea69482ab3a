# QEMU helpers for the end-to-end tests (source after lib.sh): the accelerator
# (KVM when it really runs guests, else TCG), cache=none when the test
# directory supports O_DIRECT, and boot(), which waits for the test disk's
# marker and data checksum on the serial console. Every wait is bounded
# (HS_BOOT_TIMEOUT, default 120 s per boot); QEMU is killed on exit.
if ! command -v qemu-system-x86_64 >/dev/null; then
	dpkg-query -W -f='${Status}' qemu-system-x86 2>/dev/null | grep -q 'install ok installed' || {
		echo "# installing qemu-system-x86" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2
		apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
	}
fi

TIMEOUT=${HS_BOOT_TIMEOUT:-120}
if [ -n "${HS_TEST_ACCEL:-}" ]; then ACCEL=$HS_TEST_ACCEL
elif [ -r /dev/kvm ] && [ -w /dev/kvm ]; then ACCEL=kvm
else ACCEL=tcg; fi
# cache=none opens the image with O_DIRECT: not every filesystem (tmpfs) supports it.
CACHE_MODE=none
dd if=/dev/zero of="$T/.odirect" bs=4096 count=1 oflag=direct status=none 2>/dev/null || {
	CACHE_MODE=writeback; echo "# $T does not support O_DIRECT: cache=writeback"; }
rm -f "$T/.odirect"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

QPID=
stop_qemu() {
	[ -n "$QPID" ] || return 0
	kill -9 "$QPID" 2>/dev/null || true
	wait "$QPID" 2>/dev/null || true
	QPID=
}
on_exit stop_qemu

# boot NAME EXPECTED_SHA QEMU_ARGS...: boot until the serial console shows the data checksum
# EXPECTED_SHA and a login prompt, then kill QEMU. Sets BOOT_SECONDS; the console is $T/NAME.serial.
boot() {
	local name=$1 sha=$2 log=$T/$1.serial err=$T/$1.stderr start result deadline; shift 2
	while :; do
		: >"$log"
		start=$(now)
		qemu-system-x86_64 -accel "$ACCEL" -m 256 -display none -vga none -monitor none \
			-no-reboot -serial "file:$log" "$@" </dev/null >"$err" 2>&1 &
		QPID=$!
		result=timeout
		deadline=$((SECONDS + TIMEOUT))
		while [ $SECONDS -lt $deadline ]; do
			if grep -q 'HOTSPARE-DATA-SHA256' "$log" && grep -q 'login:' "$log"; then
				if grep -q "HOTSPARE-DATA-SHA256 $sha" "$log"; then result=ok; else result=wrong-checksum; fi
				break
			fi
			grep -q 'HOTSPARE-BOOT-FAILED' "$log" && { sleep 1; result=no-root; break; }
			if [ "$ACCEL" = kvm ] && grep -Eqi 'KVM internal error|failed to initialize kvm|Could not access KVM' "$err"; then
				result=kvm-broken; break
			fi
			kill -0 "$QPID" 2>/dev/null || { result=qemu-exited; break; }
			sleep 0.2
		done
		BOOT_SECONDS=$(elapsed "$start")
		stop_qemu
		[ "$result" = kvm-broken ] || break
		echo "# KVM does not run guests here: falling back to TCG"
		ACCEL=tcg
	done
	if [ "$result" != ok ]; then
		echo "--- serial console ($name):" >&2; tail -n 30 "$log" >&2
		echo "--- qemu stderr:" >&2; tail -n 20 "$err" >&2
		fail "$name: $result after $BOOT_SECONDS s"
	fi
	[ "$(grep -c '^HOTSPARE-BOOT-OK' "$log")" -eq 1 ] || fail "$name: HOTSPARE-BOOT-OK not printed exactly once"
}
marker() { grep -a "^$2 " "$T/$1.serial" | head -n1 | tr -d '\r' | cut -d' ' -f2-; } # NAME KEY

# Run CMD in the image's root filesystem, mounted read-only through a read-only loop device at the
# partition's offset. Whatever happens, nothing stays mounted or attached at exit.
MNT=$T/.diskmnt
detach_all() {
	local f
	if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" || umount -l "$MNT"; fi
	for f in "$T"/*.img; do losetup -j "$f" | cut -d: -f1 | xargs -r -n1 losetup -d; done
}
on_exit detach_all
disk_cmd() { # IMG CMD...
	local img=$1 dev rc=0; shift
	mkdir -p "$MNT"
	dev=$(losetup -f --show -r -o 1048576 "$img")
	if mount -t ext4 -o ro,noload "$dev" "$MNT"; then
		(cd "$MNT" && "$@") || rc=$?
		umount "$MNT"
	else rc=1; fi
	losetup -d "$dev"
	return $rc
}
fsck_disk() { # IMG
	local img=$1 dev rc=0
	dev=$(losetup -f --show -r -o 1048576 "$img")
	e2fsck -fn "$dev" >"$T/fsck.out" 2>&1 || rc=$?
	losetup -d "$dev"
	[ $rc -eq 0 ] || { cat "$T/fsck.out" >&2; return 1; }
}


# libvirt: start virtlogd and libvirtd when they are not running (stopped
# again on exit if this test started them), and boot a transient domain.
LIBVIRT_URI=${HS_LIBVIRT_URI:-qemu:///system}
stop_daemon() {
	pkill -x "$1" || return 0
	wait_for 20 sh -c "! pgrep -x $1 >/dev/null" || pkill -9 -x "$1"
}
libvirt_up() {
	command -v libvirtd >/dev/null || {
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq --no-install-recommends libvirt-daemon-system libvirt-clients >/dev/null
	}
	# Stopped again on exit, and waited for: the next test must not find a dying daemon.
	if ! pgrep -x virtlogd >/dev/null; then virtlogd -d; on_exit "stop_daemon virtlogd"; fi
	if ! pgrep -x libvirtd >/dev/null; then libvirtd -d; on_exit "stop_daemon libvirtd"; fi
	wait_for 30 virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1 || fail "libvirtd did not answer"
}

# libvirt_boot NAME IMG EXPECTED_SHA: boot IMG as a transient domain (virtio
# disk, cache=none, no network) until the console shows the checksum and a
# login prompt. Sets BOOT_SECONDS; the console is $T/NAME.serial.
libvirt_boot() {
	local name=hs-test-$1-$$ img=$2 sha=$3 log=$T/$1.serial type=qemu start result=timeout
	[ "$ACCEL" = kvm ] && type=kvm
	: >"$log"
	cat >"$T/$1.xml" <<XML
<domain type='$type'>
  <name>$name</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <on_reboot>destroy</on_reboot>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' cache='$CACHE_MODE'/>
      <source file='$img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'><source path='$log'/><target port='0'/></serial>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
XML
	on_exit "virsh -c '$LIBVIRT_URI' destroy '$name'"
	start=$(now)
	virsh -c "$LIBVIRT_URI" create "$T/$1.xml" >/dev/null || fail "virsh create $name"
	local deadline=$((SECONDS + TIMEOUT))
	while [ $SECONDS -lt $deadline ]; do
		if grep -q 'HOTSPARE-DATA-SHA256' "$log" && grep -q 'login:' "$log"; then
			grep -q "HOTSPARE-DATA-SHA256 $sha" "$log" && result=ok || result=wrong-checksum
			break
		fi
		virsh -c "$LIBVIRT_URI" domstate "$name" >/dev/null 2>&1 || { result=domain-gone; break; }
		sleep 0.2
	done
	BOOT_SECONDS=$(elapsed "$start")
	LIBVIRT_OWNER=$(stat -c %U "$img")
	virsh -c "$LIBVIRT_URI" destroy "$name" >/dev/null 2>&1 || true
	if [ "$result" != ok ]; then
		echo "--- serial console ($name):" >&2; tail -n 30 "$log" >&2
		fail "libvirt $name: $result after $BOOT_SECONDS s"
	fi
}

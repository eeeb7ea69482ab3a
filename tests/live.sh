# The running guest of the live-capture tests and benchmarks (source after lib.sh and qemu.sh):
# the test disk, a hook disk running the guest agent and a record writer (tests/e2e/live-guest.sh)
# and a data disk, each a qcow2 image (libvirt keeps dirty bitmaps only in those), as one
# persistent libvirt domain, undefined with its checkpoints on exit.
LIVE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LV() { virsh -c "$LIBVIRT_URI" "$@"; }

# live_disks DATA_MIB: $T/root.qcow2, $T/hook.qcow2 and $T/data.qcow2 (DATA_MIB of random
# data); the raw images stay as $T/root.img, hook.img and data.img when LIVE_KEEP_RAW=1.
live_disks() {
	"$LIVE_ROOT/scripts/make-test-disk.sh" "$T/root.img" >/dev/null
	"$LIVE_ROOT/scripts/make-hook-disk.sh" "$T/hook.img" 64 "$LIVE_ROOT/tests/e2e/live-guest.sh" \
		--bin /usr/sbin/qemu-ga --modules virtio_console
	openssl enc -aes-128-ctr -nosalt -pass pass:hotspare-live -in <(head -c $(($1 << 20)) /dev/zero) \
		-out "$T/data.img" 2>/dev/null
	local d
	for d in root hook data; do
		qemu-img convert -O qcow2 "$T/$d.img" "$T/$d.qcow2"
		[ "${LIVE_KEEP_RAW:-0}" = 1 ] || rm -f "$T/$d.img"
	done
}

live_xml() { # NAME TYPE
	local d
	cat <<XML
<domain type='$2'>
  <name>$1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <on_reboot>destroy</on_reboot>
  <devices>
XML
	for d in root:vda hook:vdb data:vdc; do
		printf "    <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='%s'/>" "$CACHE_MODE"
		printf "<source file='%s/%s.qcow2'/><target dev='%s' bus='virtio'/></disk>\n" "$T" "${d%:*}" "${d#*:}"
	done
	cat <<XML
    <serial type='file'><source path='$T/console.log'/><target port='0'/></serial>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
XML
}

# live_start NAME: define and start the guest (KVM when it runs guests here: a guest it cannot
# run stops on an internal error at once; else TCG), wait for its writer and agent.
live_start() {
	local name=$1 type=qemu try
	[ "$ACCEL" = kvm ] && [ ! -e /run/hotspare/kvm-unusable ] && type=kvm
	on_exit "virsh -c '$LIBVIRT_URI' destroy $name; virsh -c '$LIBVIRT_URI' undefine $name --checkpoints-metadata"
	for try in 1 2; do
		live_xml "$name" "$type" >"$T/$name.xml"
		LV define "$T/$name.xml" >/dev/null
		LV start "$name" >/dev/null || fail "cannot start the guest"
		[ "$type" = kvm ] || break
		sleep 5
		if [ "$(LV domstate "$name")" != running ] ||
			grep -q 'KVM internal error' "/var/log/libvirt/qemu/$name.log" 2>/dev/null; then
			LV destroy "$name" >/dev/null 2>&1
			# Defined again as TCG: a definition of the same name with another uuid is refused.
			LV undefine "$name" --checkpoints-metadata >/dev/null 2>&1
			echo "# KVM does not run guests here: TCG"
			type=qemu
			continue
		fi
		break
	done
	# The hook's lines share the console with the getty: not always at a line's start.
	wait_for "$TIMEOUT" sh -c "grep -aq 'HOTSPARE-RECORD 20' '$T/console.log'" || {
		tail -n 30 "$T/console.log" >&2; fail "the guest's writer did not start"; }
	grep -aq 'HOTSPARE-AGENT /dev/' "$T/console.log" || { tail -n 30 "$T/console.log" >&2; fail "no guest agent"; }
	wait_for 30 sh -c "virsh -c '$LIBVIRT_URI' qemu-agent-command $name '{\"execute\":\"guest-ping\"}' >/dev/null 2>&1" ||
		fail "the guest agent does not answer"
}

# live_records: the last record number the guest's writer printed.
live_records() { grep -ao 'HOTSPARE-RECORD [0-9]*' "$T/console.log" | tail -n1 | cut -d' ' -f2; }

# live_exec NAME PATH ARGS-as-a-JSON-array: run a program in the guest through its agent; fail
# unless it exits 0.
live_exec() {
	local pid out i
	out=$(LV qemu-agent-command "$1" "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"$2\",\"arg\":$3}}") ||
		fail "guest-exec $2"
	pid=$(echo "$out" | json_get - return pid)
	# The agent forgets a command once it has told that it exited.
	for ((i = 0; i < 3000; i++)); do
		out=$(LV qemu-agent-command "$1" "{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":$pid}}")
		echo "$out" | grep -q '"exited":true' && break
		sleep 0.1
	done
	echo "$out" | grep -q '"exitcode":0' || fail "guest-exec $2 $3: $out"
}

# live_check_records FILE: the records are a complete prefix (no torn or missing one); prints
# their number.
live_check_records() {
	python3 - "$1" <<'EOF'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
assert data.endswith(b"\n") or not data, "a partial last record"
n = 0
for line in data.decode().splitlines():
    n += 1
    body, _, s = line.rpartition(" ")
    num = "%08d" % n
    assert body == "record %s %s" % (num, hashlib.sha256(num.encode()).hexdigest()[:32]), line
    assert s == hashlib.sha256((body + "\n").encode()).hexdigest()[:16], line
print(n)
EOF
}

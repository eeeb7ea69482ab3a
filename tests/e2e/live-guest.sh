#!/bin/sh
# Runs inside the test guest as its hook disk's /run (scripts/make-hook-disk.sh), for the live
# capture tests: starts the guest agent (qemu-ga, on the virtio-serial port libvirt names
# org.qemu.guest_agent.0) and a writer that appends numbered, checksummed records to
# /hook/records, each made durable (fsync) before the next:
#   record NNNNNNNN <32 hex of sha256("NNNNNNNN")> <16 hex of sha256 of what precedes, with "\n">
# Prints HOTSPARE-AGENT <port>|none, then HOTSPARE-RECORD <n> every 10 records.
export PATH=/hook/bin:/bin
for m in $(cat /hook/modules/load 2>/dev/null); do insmod "/hook/modules/$m" 2>/dev/null; done

port=
i=0
while [ -z "$port" ] && [ $i -lt 50 ]; do
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/${p##*/}
	done
	[ -n "$port" ] || sleep 0.1
	i=$((i + 1))
done
if [ -n "$port" ] && [ -c "$port" ]; then
	mkdir -p /tmp/qga
	qemu-ga -m virtio-serial -p "$port" -t /tmp/qga >/tmp/qga/log 2>&1 &
	echo $! >/tmp/qga/pid
	echo "HOTSPARE-AGENT $port"
else
	echo "HOTSPARE-AGENT none"
fi

f=/hook/records
: >"$f"
sync
n=0
while :; do
	n=$((n + 1))
	num=$(printf %08d "$n")
	body="record $num $(printf %s "$num" | sha256sum | cut -c1-32)"
	sum=$(printf '%s\n' "$body" | sha256sum | cut -c1-16)
	printf '%s %s\n' "$body" "$sum" >>"$f"
	sync "$f" 2>/dev/null || sync
	[ $((n % 10)) -ne 0 ] || echo "HOTSPARE-RECORD $n"
done

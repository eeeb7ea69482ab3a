#!/bin/bash
# Live capture of a running libvirt domain (backup --domain): one TCG guest, booted once, with
# three qcow2 disks: the test disk (vda), a hook disk (vdb: the guest agent and a writer that
# appends numbered, checksummed, fsynced records; tests/e2e/live-guest.sh) and 256 MiB of data
# (vdc). While the writer runs, each point restores to filesystems that pass e2fsck -fn (after the
# journal replay a boot would do, for a crash-consistent point; without, for a quiesced one) and
# whose records are a complete prefix that grows from point to point. --quiesce records
# "quiesced"; without an agent it fails in one line leaving no job, checkpoint, socket or store
# change. After 3% of vdc changed, the backup reads at most that plus a chunk per changed region,
# and restores byte-identical to a whole read of the same moment (a deleted checkpoint: a warning
# and a whole read). A capture killed with -9 or stopped by SIGTERM leaves nothing the next one
# does not clear, and only the newest point's checkpoint stays.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../qemu.sh"
source "$(dirname "$0")/../live.sh"
export HS
chmod 755 "$T"
libvirt_up
V() { virsh -c "$LIBVIRT_URI" "$@"; }
export HOTSPARE_WORK_DIR=$T/work
mkdir -p "$HOTSPARE_WORK_DIR"
DOM=hs-test-live-$$
CS=262144

live_disks 256
live_start "$DOM"
records() { live_records; }
pass "the guest runs its writer and agent"

"$HS" init "$T/store" >/dev/null
backup() { "$HS" backup "$T/store" live --domain "$DOM" --json "$@"; }
field() { json_get "$1" "${@:2}"; }
disk_field() { # JSON DISK KEY
	python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print([x for x in d["disks"] if x["name"]==sys.argv[2]][0][sys.argv[3]])' "$@"
}
checkpoints() { V checkpoint-list "$DOM" --name | sed '/^$/d' | sort | tr '\n' ' '; }
# The domain's job: None, Unbounded... (read whole: a grep -q leaving early would make virsh
# die of SIGPIPE, and pipefail fail the check).
job() { V domjobinfo "$DOM" | awk '/^Job type:/ { print $3 }'; }

# --- crash-consistent and quiesced points while the writer runs -------------------------------
before=$(records)
backup >"$T/p1.json" || fail "first backup"
backup >"$T/p2.json" || fail "second backup"
backup --quiesce >"$T/p3.json" || fail "backup --quiesce"
[ "$(V domstate "$DOM")" = running ] || fail "the guest stopped"
wait_for 30 sh -c "[ \$(grep -ao 'HOTSPARE-RECORD [0-9]*' '$T/console.log' | tail -n1 | cut -d' ' -f2) -gt $((before + 20)) ]" ||
	fail "the guest's writer did not go on across the backups"
[ "$(field "$T/p1.json" since)" = None ] || fail "the first point is not a whole read"
[ "$(field "$T/p2.json" since)" = "$(field "$T/p1.json" point)" ] || fail "the second backup was not incremental"
[ "$(field "$T/p2.json" consistency)" = crash-consistent ] || fail "a live backup is not crash-consistent"
[ "$(field "$T/p3.json" consistency)" = quiesced ] || fail "backup --quiesce is not quiesced"
[ "$(field "$T/p3.json" frozen_filesystems)" -ge 1 ] || fail "--quiesce froze nothing"
echo "# guest frozen for $(field "$T/p3.json" freeze_seconds) s"
python3 - "$T/store" <<'EOF' || fail "points --json does not say how each point was taken"
import json, subprocess, sys, os
pts = json.loads(subprocess.check_output([os.environ["HS"], "points", sys.argv[1], "live", "--json"]))
assert [p["consistency"] for p in pts] == ["crash-consistent", "crash-consistent", "quiesced"], pts
inc = [p["incremental"] for p in pts]
assert inc[0]["read_bytes"] == inc[0]["size"] == pts[0]["size"], inc
assert inc[1]["read_bytes"] < inc[1]["size"] // 10, inc
EOF
pass "backups of the running guest: crash-consistent, incremental, quiesced; the writer went on"

# check_point ID: the hook disk's filesystem passes e2fsck -fn (a crash-consistent one after the
# journal replay a boot would do) and its records are a complete prefix; prints their number.
check_point() {
	local id=$1 img=$T/vdb-$1.img c
	"$HS" restore "$T/store" "live@$id:vdb" "$img" >/dev/null || fail "restore live@$id:vdb"
	c=$(python3 -c 'import json,subprocess,sys,os
print([p for p in json.loads(subprocess.check_output([os.environ["HS"],"points",sys.argv[1],"live","--json"])) if p["id"]==sys.argv[2]][0]["consistency"])' "$T/store" "$id")
	[ "$c" = quiesced ] || e2fsck -E journal_only -y "$img" >/dev/null 2>&1 || fail "journal replay of live@$id"
	e2fsck -fn "$img" >"$T/fsck.out" 2>&1 || { cat "$T/fsck.out" >&2; fail "e2fsck -fn of live@$id ($c)"; }
	debugfs -R "dump /records $T/records-$id" "$img" >/dev/null 2>&1 || fail "no records in live@$id"
	live_check_records "$T/records-$id" || fail "the records of live@$id are torn"
	rm -f "$img"
}
n1=$(check_point "$(field "$T/p1.json" point)")
n2=$(check_point "$(field "$T/p2.json" point)")
n3=$(check_point "$(field "$T/p3.json" point)")
[ "$n1" -gt 0 ] && [ "$n1" -lt "$n2" ] && [ "$n2" -lt "$n3" ] || fail "records per point: $n1 $n2 $n3"
"$HS" restore "$T/store" "live@$(field "$T/p3.json" point):vda" "$T/vda.img" >/dev/null && fsck_disk "$T/vda.img" ||
	fail "the root disk of the quiesced point"
rm -f "$T/vda.img"
pass "every point fscks clean with a complete prefix of records ($n1, $n2, $n3)"

# --- 3% of vdc changes: the backup reads that, no more ----------------------------------------
# Six regions of 1.25 MiB (2.9% of the disk), none aligned to a chunk.
for k in 0 1 2 3 4 5; do
	live_exec "$DOM" /bin/dd "[\"if=/dev/urandom\",\"of=/dev/vdc\",\"bs=4096\",\"seek=$((k * 10000 + 37))\",\"count=320\",\"oflag=direct\",\"conv=fsync,notrunc\"]"
done
changed=$((6 * 320 * 4096))
V suspend "$DOM" >/dev/null   # one moment for the incremental and the whole read
backup >"$T/p4.json" 2>"$T/p4.err" || fail "incremental backup"
[ "$(field "$T/p4.json" since)" = "$(field "$T/p3.json" point)" ] || fail "the backup after the change was not incremental"
read_vdc=$(disk_field "$T/p4.json" vdc read_bytes)
[ "$read_vdc" -gt 0 ] && [ "$read_vdc" -le $((changed + 6 * CS)) ] ||
	fail "vdc: read $read_vdc bytes for $changed changed in 6 regions"
nbd=$(field "$T/p4.json" nbd_bytes)
others=$(($(disk_field "$T/p4.json" vda read_bytes) + $(disk_field "$T/p4.json" vdb read_bytes)))
[ "$nbd" -le $((read_vdc + others)) ] || fail "read $nbd bytes over NBD, more than the changed chunks"
echo "# vdc: $changed bytes changed, $read_vdc read; $nbd read over NBD in all"
V checkpoint-delete "$DOM" "hotspare-live-$(field "$T/p4.json" point)" >/dev/null
backup >"$T/p5.json" 2>"$T/p5.err" || fail "backup after the checkpoint was deleted"
V resume "$DOM" >/dev/null
[ "$(wc -l <"$T/p5.err")" -eq 1 ] && grep -q 'warning: domain .* has no checkpoint of the newest point .*reading every disk whole' "$T/p5.err" ||
	{ cat "$T/p5.err" >&2; fail "no one-line warning for the missing checkpoint"; }
[ "$(field "$T/p5.json" since)" = None ] && [ "$(disk_field "$T/p5.json" vdc read_bytes)" -eq $((256 << 20)) ] ||
	fail "the backup without a checkpoint did not read whole"
for d in vda vdb vdc; do
	"$HS" restore "$T/store" "live@$(field "$T/p4.json" point):$d" "$T/inc-$d.img" >/dev/null || fail "restore $d"
	"$HS" restore "$T/store" "live@$(field "$T/p5.json" point):$d" "$T/full-$d.img" >/dev/null || fail "restore $d"
	cmp "$T/inc-$d.img" "$T/full-$d.img" || fail "$d: the incremental point differs from the whole read"
	rm -f "$T/inc-$d.img" "$T/full-$d.img"
done
pass "incremental read of 3% changed: $read_vdc bytes; byte-identical to a whole read; a deleted checkpoint warns and reads whole"

# --- killed and interrupted captures leave nothing behind -------------------------------------
# Each capture is caught once its backup job runs (a whole read: its checkpoint deleted).
stop_mid() { # SIGNAL: stopped while it reads, signalled there, let go
	V checkpoint-delete "$DOM" "$(checkpoints | tr ' ' '\n' | grep hotspare-live- | tail -n1)" >/dev/null
	"$HS" backup "$T/store" live --domain "$DOM" --threads 1 >/dev/null 2>"$T/stop.err" &
	local pid=$!
	wait_for 30 sh -c "virsh -c '$LIBVIRT_URI' domjobinfo $DOM 2>/dev/null | grep -q Backup" || fail "no backup job to stop"
	# Past the call that starts the job (libvirt undoes a job whose caller
	# is gone before it answered), well before the end of the read.
	sleep 0.3
	kill -STOP "$pid"
	kill "-$1" "$pid"
	kill -CONT "$pid" 2>/dev/null || true
	wait "$pid" && fail "a capture stopped by SIG$1 succeeded"
	return 0
}
npoints=$("$HS" points "$T/store" live --json | json_get - -1 id)
stop_mid TERM
[ "$(job)" = None ] || fail "SIGTERM left a backup job"
[ -z "$(ls -A "$HOTSPARE_WORK_DIR")" ] || fail "SIGTERM left $(ls "$HOTSPARE_WORK_DIR")"
[ -z "$(checkpoints)" ] || fail "SIGTERM left checkpoints: $(checkpoints)"
[ "$("$HS" points "$T/store" live --json | json_get - -1 id)" = "$npoints" ] || fail "SIGTERM left a point"
pass "a capture stopped by SIGTERM ends its job and leaves no checkpoint, socket or point"
backup >/dev/null || fail "backup after SIGTERM"
stop_mid KILL
[ "$(job)" != None ] || fail "kill -9 left no job (the test caught nothing)"
backup >"$T/p6.json" 2>"$T/p6.err" || { cat "$T/p6.err" >&2; fail "the capture after kill -9 did not clear what it left"; }
[ "$(job)" = None ] || fail "a backup job still runs"
[ -z "$(ls -A "$HOTSPARE_WORK_DIR")" ] || fail "left in the work directory: $(ls "$HOTSPARE_WORK_DIR")"
[ "$(checkpoints)" = "hotspare-live-$(field "$T/p6.json" point) " ] || fail "checkpoints left: $(checkpoints)"
pass "after kill -9 the next capture ends the stale job and keeps only the newest point's checkpoint"

# --- a store that fails once every disk is read -----------------------------------------------
# The job ends beside the store's final sync: when that sync fails, the capture still ends its
# job, deletes the checkpoint it made and keeps the previous point's, so the next backup is
# incremental from there.
LIB=${HSFAULT:-$(dirname "$HS")/../tests/hsfault.so}
[ -f "$LIB" ] || fail "the fault layer is not built ($LIB; set HSFAULT)"
cks=$(checkpoints)
newest=$("$HS" points "$T/store" live --json | json_get - -1 id)
rm -f "$T/fault.log"
env LD_PRELOAD="$LIB" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	HSFAULT_OPS=fsync HSFAULT_PATH="$T/store" HSFAULT_NTH=1 HSFAULT_ERR=EIO \
	HSFAULT_LOG="$T/fault.log" "$HS" backup "$T/store" live --domain "$DOM" >/dev/null 2>"$T/sync.err" &&
	fail "a backup whose store could not sync succeeded"
grep -Eq "^(fsync|syncfs) $T/store EIO" "$T/fault.log" || { cat "$T/sync.err" >&2; fail "the fault did not fire: $(cat "$T/fault.log" 2>/dev/null)"; }
[ "$(wc -l <"$T/sync.err")" = 1 ] && grep -q "cannot sync $T/store: Input/output error" "$T/sync.err" ||
	{ cat "$T/sync.err" >&2; fail "the failed sync is not said in one line"; }
[ "$(job)" = None ] || fail "a failed sync left a backup job"
[ "$(checkpoints)" = "$cks" ] || fail "a failed sync changed the checkpoints: $cks -> $(checkpoints)"
[ "$("$HS" points "$T/store" live --json | json_get - -1 id)" = "$newest" ] || fail "a failed sync left a point"
[ -z "$(ls -A "$HOTSPARE_WORK_DIR")" ] || fail "a failed sync left $(ls "$HOTSPARE_WORK_DIR")"
backup >"$T/p7.json" || fail "the backup after a failed sync"
[ "$(field "$T/p7.json" since)" = "$(field "$T/p6.json" point)" ] || fail "the backup after a failed sync was not incremental"
pass "a store failing after the reads: one line, the job ended, the previous checkpoint kept, no point"

# --- --quiesce without an agent ---------------------------------------------------------------
V qemu-agent-command "$DOM" '{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","sleep 1; kill $(cat /tmp/qga/pid)"]}}' >/dev/null
wait_for 30 sh -c "! virsh -c '$LIBVIRT_URI' qemu-agent-command $DOM '{\"execute\":\"guest-ping\"}' >/dev/null 2>&1" ||
	fail "the guest agent did not stop"
sum=$(tree_sum "$T/store")
cks=$(checkpoints)
expect_fail 'cannot quiesce domain .*agent' "$HS" backup "$T/store" live --domain "$DOM" --quiesce
[ "$(tree_sum "$T/store")" = "$sum" ] || fail "a refused --quiesce changed the store"
[ "$(checkpoints)" = "$cks" ] || fail "a refused --quiesce changed the checkpoints"
[ "$(job)" = None ] || fail "a refused --quiesce left a job"
[ -z "$(ls -A "$HOTSPARE_WORK_DIR")" ] || fail "a refused --quiesce left $(ls "$HOTSPARE_WORK_DIR")"
[ "$(V domstate "$DOM")" = running ] || fail "the guest stopped"
pass "--quiesce without an agent fails in one line; no job, checkpoint, socket or store change"

# --- what is refused before anything is done --------------------------------------------------
expect_fail 'no domain nosuchdomain' "$HS" backup "$T/store" live --domain nosuchdomain
expect_fail 'takes no SOURCE' "$HS" backup "$T/store" live /dev/null --domain "$DOM"
expect_fail '--quiesce goes with --domain' "$HS" backup "$T/store" live "$T/p1.json" --quiesce
expect_fail '--lvm-snapshot is for SOURCE' "$HS" backup "$T/store" live --domain "$DOM" --lvm-snapshot
[ "$(tree_sum "$T/store")" = "$sum" ] || fail "a refused command changed the store"
pass "refusals: unknown domain, SOURCE with --domain, --quiesce without it"

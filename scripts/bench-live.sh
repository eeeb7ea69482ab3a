#!/usr/bin/env bash
# scripts/bench-live.sh: live capture's figures, measured interleaved (scripts/bench-lib.sh: a
# warm-up round, then BENCH_PAIRS rounds; medians and min-max), on a running guest
# (tests/live.sh: the test disk, a hook disk whose writer appends records, and a data disk of
# BENCH_LIVE_MB of random data, as qcow2 images):
#   daily backup after 3% of the data disk changed, each round a new 3% with the guest suspended
#   for the three reads of that moment:
#     the changed bytes over the NBD socket alone: starting libvirt's backup job, reading its dirty
#       ranges (tests/bench/nbdread.c, 8 connections per CPU, at most 64: hotspare reads with 2
#       per CPU, and never with more than this), ending it
#     hotspare backup: incremental (dirty bitmap); target <= 1.1x the NBD read
#     hotspare backup with the checkpoint deleted: a whole live read; target >= 10x slower
#   a live full snapshot through libvirt and NBD against hotspare snapshot of the same disks as
#     image files, each into an empty store (target: 0.8x the speed or better)
#   how long --quiesce keeps the guest frozen (target: under 1 s; the worst of three)
# Environment: BENCH_DIR (default /var/tmp), BENCH_LIVE_MB (default 4096), BENCH_PAIRS, HOTSPARE.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
. "$REPO/tests/qemu.sh"
. "$REPO/tests/live.sh"
MB=${BENCH_LIVE_MB:-4096}
REGIONS=30
NBDREAD=$REPO/build/tests/bench/hs-nbdread
[ -x "$NBDREAD" ] || hs_build "$REPO/build"
log() { printf 'bench-live: %s\n' "$*" >&2; }
secs() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
DOM=hs-bench-live-$$
libvirt_up

log "disks: the test disk, the hook disk, $MB MiB of data"
LIVE_KEEP_RAW=1 live_disks "$MB"
log "the guest"
live_start "$DOM"
# Both full snapshots with the guest running (its CPU is part of the scene) and nothing cached:
# QEMU reads its images with O_DIRECT.
cold() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
snap_file() {
	rm -rf "$T/fstore"
	"$HS" init "$T/fstore" >/dev/null
	cold
	local s=$(date +%s%N)
	"$HS" snapshot "$T/fstore" ref vda="$T/root.img" vdb="$T/hook.img" vdc="$T/data.img" >/dev/null
	V=$(secs "$s")
}
snap_live() {
	rm -rf "$T/lstore"
	"$HS" init "$T/lstore" >/dev/null
	cold
	local s=$(date +%s%N)
	"$HS" snapshot "$T/lstore" live --domain "$DOM" --json >"$T/snap.json"
	V=$(secs "$s")
}
rounds snap write snap_live snap_file
rm -rf "$T/fstore" "$T/lstore" "$T/data.img" "$T/root.img" "$T/hook.img"

"$HS" init "$T/store" >/dev/null
"$HS" snapshot "$T/store" live --domain "$DOM" >/dev/null
CS=$(json_get "$T/store/hotspare-store.json" chunk_size)
region=$(((MB << 20) * 3 / 100 / REGIONS / 4096))
threads=$((8 * $(nproc) < 64 ? 8 * $(nproc) : 64))
pid=$(pgrep -f "guest=$DOM," | head -n1)
mkdir "$T/nbd"
chown "$(stat -c %u:%g "/proc/$pid")" "$T/nbd"
on_exit "virsh -c '$LIBVIRT_URI' resume $DOM"
day=0
# Step 1 of a round: the guest's day (untimed): REGIONS regions of new data, 3% of the data disk,
# at other places each day; then the guest is suspended, one moment for the three reads. Timed:
# only the changed bytes over NBD (job started, dirty ranges read, job ended).
daily_nbd() {
	local k s ck
	day=$((day + 1))
	LV resume "$DOM" >/dev/null 2>&1 || true
	for ((k = 0; k < REGIONS; k++)); do
		live_exec "$DOM" /bin/dd "[\"if=/dev/urandom\",\"of=/dev/vdc\",\"bs=4096\",\"seek=$((k * ((MB << 8) / REGIONS) + day * 2 * region))\",\"count=$region\",\"oflag=direct\",\"conv=fsync,notrunc\"]"
	done
	LV suspend "$DOM" >/dev/null
	ck=$(LV checkpoint-list "$DOM" --name | grep hotspare-live- | tail -n1)
	cat >"$T/job.xml" <<XML
<domainbackup mode='pull'>
  <server transport='unix' socket='$T/nbd/sock'/>
  <disks>
    <disk name='vda' backup='no'/><disk name='vdb' backup='no'/>
    <disk name='vdc' backup='yes' type='file' backupmode='incremental' incremental='$ck'><scratch file='$T/nbd/vdc.scratch'/></disk>
  </disks>
</domainbackup>
XML
	rm -f "$T/nbd/sock" "$T/nbd/vdc.scratch"
	s=$(date +%s%N)
	LV backup-begin "$DOM" "$T/job.xml" >/dev/null
	read -r nbd_bytes nbd_read_s < <("$NBDREAD" "$T/nbd/sock" vdc qemu:dirty-bitmap:backup-vdc "$threads")
	LV domjobabort "$DOM" >/dev/null
	V=$(secs "$s")
	READ_ALONE+=" $nbd_read_s"
}
# Step 2: hotspare's incremental backup of that moment.
daily_inc() {
	local s=$(date +%s%N)
	"$HS" backup "$T/store" live --domain "$DOM" --json >"$T/inc.json"
	V=$(secs "$s")
	[ "$(json_get "$T/inc.json" since)" != None ] || fail "the backup was not incremental"
	local p
	for p in setup start capture finish; do PHASE[$p]+=" $(json_get "$T/inc.json" phase_seconds $p)"; done
}
# Step 3: a whole live read of the same moment (its checkpoint deleted: the next day's base is
# the checkpoint this one leaves).
daily_full() {
	LV checkpoint-delete "$DOM" "hotspare-live-$(json_get "$T/inc.json" point)" >/dev/null
	local s=$(date +%s%N)
	"$HS" backup "$T/store" live --domain "$DOM" --json >"$T/full.json" 2>/dev/null
	V=$(secs "$s")
	[ "$(json_get "$T/full.json" since)" = None ] || fail "the backup without a checkpoint was incremental"
	LV resume "$DOM" >/dev/null
}
declare -A PHASE
READ_ALONE=
rounds daily write daily_nbd daily_inc daily_full

log "--quiesce, three times"
worst=0
for i in 1 2 3; do
	"$HS" backup "$T/store" live --domain "$DOM" --quiesce --json >"$T/q.json"
	worst=$(max "$worst" "$(json_get "$T/q.json" freeze_seconds)")
done
worst=$(awk -v w="$worst" 'BEGIN { printf "%.3f", w }')

echo
echo "live capture figures: a running guest ($( [ "$(LV dumpxml "$DOM" | grep -c "type='kvm'")" -gt 0 ] && echo KVM || echo TCG)), data disk $MB MiB, chunk size $((CS >> 10)) KiB, each day $REGIONS regions of $((region * 4)) KiB written ($((region * 4096 * REGIONS >> 20)) MiB), $PAIRS rounds"
echo
table_head
speedup_row "incremental backup (3%)" daily 2 3 s "whole live read" ">=" 10 2 x
pair_row "incremental backup (3%)" daily 2 1 s "NBD read of $((nbd_bytes >> 20)) MiB changed" "<=" 1.1 2
row "  the NBD read alone" "$(fmt "$(median "$READ_ALONE")" 3) s" "(job start and end aside)" - - - info
for p in setup start capture finish; do
	row "  incremental: $p" "$(fmt "$(median "${PHASE[$p]}")" 3) s" "median of the rounds" - - - info
done
speedup_row "live full snapshot (speed)" snap 1 2 s "snapshot of the image files" ">=" 0.8 2
value_row "guest frozen (--quiesce)" "$worst s" "worst of 3" "<=" 0.999
echo
echo "rounds (s):"
fig_runs "NBD read of the changes" daily 1
fig_runs "incremental backup" daily 2
fig_runs "whole live read" daily 3
fig_runs "live full snapshot" snap 1
fig_runs "image-file snapshot" snap 2

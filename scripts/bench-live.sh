#!/usr/bin/env bash
# scripts/bench-live.sh: live capture's figures, side by side in one run (also run at the end of
# scripts/bench.sh), on a running guest (tests/live.sh: the test disk, a hook disk whose writer
# appends records, and a data disk of BENCH_LIVE_MB of random data, as qcow2 images):
#   daily backup after 3% of the data disk changed: incremental (dirty bitmap) against a whole
#     live read of the same moment (target: 10x faster or better)
#   the same incremental backup against only reading the changed bytes over the NBD socket:
#     starting libvirt's backup job, reading its dirty ranges (tests/bench/nbdread.c, as many
#     connections as hotspare reads with), ending the job (target: within 1.1x)
#   a live full snapshot through libvirt and NBD against hotspare snapshot of the same disks as
#     image files, each into an empty store (target: 0.8x the speed or better)
#   how long --quiesce keeps the guest frozen (target: under 1 s; the worst of three)
# Environment: BENCH_DIR (default /var/tmp), BENCH_LIVE_MB (default 4096), HOTSPARE.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
. "$REPO/tests/qemu.sh"
. "$REPO/tests/live.sh"
MB=${BENCH_LIVE_MB:-4096}
REGIONS=30
NBDREAD=$REPO/build/tests/bench/hs-nbdread
[ -x "$NBDREAD" ] || hs_build "$REPO/build"
log() { printf 'bench-live: %s\n' "$*" >&2; }
secs() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
DOM=hs-bench-live-$$
libvirt_up

log "disks: the test disk, the hook disk, $MB MiB of data"
LIVE_KEEP_RAW=1 live_disks "$MB"
log "the guest"
live_start "$DOM"
# Both full snapshots with the guest running (its CPU is part of the scene) and nothing cached:
# QEMU reads its images with O_DIRECT.
cold() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
log "the same disks as image files: hotspare snapshot into an empty store"
"$HS" init "$T/fstore" >/dev/null
cold
s=$(date +%s%N)
"$HS" snapshot "$T/fstore" ref vda="$T/root.img" vdb="$T/hook.img" vdc="$T/data.img" >/dev/null
file_s=$(secs "$s")
rm -rf "$T/fstore" "$T/data.img" "$T/root.img" "$T/hook.img"
"$HS" init "$T/store" >/dev/null
log "live full snapshot through libvirt and NBD into an empty store"
cold
s=$(date +%s%N)
"$HS" snapshot "$T/store" live --domain "$DOM" --json >"$T/snap.json"
live_s=$(secs "$s")
CS=$(json_get "$T/store/hotspare-store.json" chunk_size)

log "the guest's day: $REGIONS regions of new data, 3% of the data disk"
region=$(((MB << 20) * 3 / 100 / REGIONS / 4096))
changed=0
for ((k = 0; k < REGIONS; k++)); do
	live_exec "$DOM" /bin/dd "[\"if=/dev/urandom\",\"of=/dev/vdc\",\"bs=4096\",\"seek=$((k * ((MB << 8) / REGIONS) + 7))\",\"count=$region\",\"oflag=direct\",\"conv=fsync,notrunc\"]"
	changed=$((changed + region * 4096))
done
LV suspend "$DOM" >/dev/null # one moment for every read below
on_exit "virsh -c '$LIBVIRT_URI' resume $DOM"

log "reference: only the changed bytes over NBD (job started, dirty ranges read, job ended)"
ck=$(LV checkpoint-list "$DOM" --name | grep hotspare-live- | tail -n1)
pid=$(pgrep -f "guest=$DOM," | head -n1)
mkdir "$T/nbd"
chown "$(stat -c %u:%g "/proc/$pid")" "$T/nbd"
cat >"$T/job.xml" <<XML
<domainbackup mode='pull'>
  <server transport='unix' socket='$T/nbd/sock'/>
  <disks>
    <disk name='vda' backup='no'/><disk name='vdb' backup='no'/>
    <disk name='vdc' backup='yes' type='file' backupmode='incremental' incremental='$ck'><scratch file='$T/nbd/vdc.scratch'/></disk>
  </disks>
</domainbackup>
XML
threads=$((8 * $(nproc) < 64 ? 8 * $(nproc) : 64))
s=$(date +%s%N)
LV backup-begin "$DOM" "$T/job.xml" >/dev/null
read -r nbd_bytes nbd_read_s < <("$NBDREAD" "$T/nbd/sock" vdc qemu:dirty-bitmap:backup-vdc "$threads")
LV domjobabort "$DOM" >/dev/null
nbd_s=$(secs "$s")

log "incremental backup"
s=$(date +%s%N)
"$HS" backup "$T/store" live --domain "$DOM" --json >"$T/inc.json"
inc_s=$(secs "$s")
[ "$(json_get "$T/inc.json" since)" != None ] || fail "the backup was not incremental"
log "whole live read of the same moment (its checkpoint deleted)"
LV checkpoint-delete "$DOM" "hotspare-live-$(json_get "$T/inc.json" point)" >/dev/null
s=$(date +%s%N)
"$HS" backup "$T/store" live --domain "$DOM" --json >"$T/full.json" 2>/dev/null
full_s=$(secs "$s")
LV resume "$DOM" >/dev/null

log "--quiesce, three times"
worst=0
for i in 1 2 3; do
	"$HS" backup "$T/store" live --domain "$DOM" --quiesce --json >"$T/q.json"
	worst=$(max "$worst" "$(json_get "$T/q.json" freeze_seconds)")
done
worst=$(awk -v w="$worst" 'BEGIN { printf "%.3f", w }')

echo
echo "live capture figures: a running guest ($( [ "$(LV dumpxml "$DOM" | grep -c "type='kvm'")" -gt 0 ] && echo KVM || echo TCG)), data disk $MB MiB, chunk size $((CS >> 10)) KiB, $REGIONS regions of $((region * 4)) KiB written ($((changed >> 20)) MiB)"
echo
row figure value reference ratio target result
r=$(ratio "$full_s" "$inc_s")
row "incremental backup (3%)" "$inc_s s" "whole live read: $full_s s" "${r}x" ">= 10x" "$(verdict "$r" ">=" 10)"
r=$(ratio "$inc_s" "$nbd_s")
row "incremental backup (3%)" "$inc_s s" "NBD read of $((nbd_bytes >> 20)) MiB changed: $nbd_s s" "${r}x" "<= 1.1x" \
	"$(verdict "$r" "<=" 1.1)"
row "  of which the read alone" "-" "$nbd_read_s s (job start and end aside)" "$(ratio "$inc_s" "$nbd_read_s")x" "-" info
r=$(ratio "$file_s" "$live_s")
row "live full snapshot" "$live_s s" "snapshot of the image files: $file_s s" "$r" ">= 0.8" "$(verdict "$r" ">=" 0.8)"
row "guest frozen (--quiesce)" "$worst s" "worst of 3" "-" "< 1 s" "$(verdict "$worst" "<=" 0.999)"

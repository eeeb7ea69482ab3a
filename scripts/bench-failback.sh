#!/usr/bin/env bash
# scripts/bench-failback.sh: failback's figures (scripts/bench-lib.sh: the
# method; also run by scripts/bench.sh).
#   checkpoint of a spare with 3% of the image newly written, interleaved with
#     a full `backup` of the same image (target: 10x faster or better)
#   bytes a failback restore writes onto the original disk, against the bytes
#     the guest changed (target: within 1.1x plus one chunk per changed region)
#   failback downtime: the second pass, after more writes
# Environment: BENCH_DIR (default /var/tmp), BENCH_FAILBACK_MB (default 512),
# BENCH_PAIRS (default 5), HOTSPARE (binary to measure).
set -euo pipefail
log() { printf 'bench-failback: %s\n' "$*" >&2; }
START_S=$(date +%s)
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
MB=${BENCH_FAILBACK_MB:-512}
REGIONS=30

log "a $MB MiB image, its snapshot, and a spare of it"
openssl enc -aes-128-ctr -nosalt -pass pass:hotspare-failback -in <(head -c $((MB << 20)) /dev/zero) \
	-out "$T/img" 2>/dev/null
"$HS" init "$T/store" >/dev/null
"$HS" snapshot "$T/store" fb "$T/img" >/dev/null
CS=$(json_get "$T/store/hotspare-store.json" chunk_size)
mkdir "$T/m"
on_exit "! mountpoint -q '$T/m' || fuse_abort '$T/m'"
"$HS" mount "$T/store" fb "$T/m" --state "$T/state" --hydrate-threads 2 >/dev/null
# The guest's day: REGIONS regions, 3% of the disk in all, new data.
region=$(( (MB << 20) * 3 / 100 / REGIONS / 4096 * 4096 ))
changed=0
write_regions() { # N SEED
	local k off
	for ((k = 0; k < $1; k++)); do
		off=$(( (RANDOM * 32768 + RANDOM) % ((MB << 20) / 4096 - region / 4096) * 4096 ))
		head -c "$region" /dev/urandom | dd of="$T/m/fb.img" bs=4096 seek=$((off / 4096)) conv=notrunc \
			oflag=direct status=none
		changed=$((changed + region))
	done
	sync "$T/m/fb.img"
}
RANDOM=7
checkpoint() { # the day's writes (not timed), then the checkpoint
	write_regions $REGIONS
	local a
	a=$(now_ns)
	"$HS" checkpoint "$T/m" --json >"$T/cp.json"
	V=$(ms_since "$a")
}
full_backup() {
	local a
	a=$(now_ns)
	"$HS" backup "$T/store" fb "$T/m/fb.img" >/dev/null
	V=$(ms_since "$a")
}
log "checkpoints of 3% written, interleaved with full backups of the same image"
rounds checkpoint write full_backup checkpoint

log "a little more, then failback (no domain: pass 2 follows at once)"
write_regions 3
"$HS" failback "$T/m" --json >"$T/fb.json"
point=$(json_get "$T/fb.json" point)
down=$(awk -v d="$(json_get "$T/fb.json" downtime_seconds)" 'BEGIN { printf "%.2f", d }')
hs_umount "$T/m"
log "restore home onto the original disk"
"$HS" restore "$T/store" "fb@$point" "$T/img" --json >"$T/home.json"
written=$(json_get "$T/home.json" bytes_written)
# Every region written since the snapshot (each round's, then 3): what the restore must carry.
nregions=$((REGIONS * (PAIRS + 1) + 3))
bound=$(awk -v c="$changed" -v n=$nregions -v cs="$CS" 'BEGIN { printf "%.0f", 1.1 * c + n * cs }')

echo
echo "failback figures: $MB MiB image, chunk size $((CS / 1024)) KiB, $nregions regions of $((region >> 10)) KiB written;" \
	"$PAIRS rounds after a warm-up"
echo
table_head
pair_row "full backup / checkpoint (ms)" checkpoint 1 2 ms "checkpoint of 3% written" ">=" 10
r=$(awk -v a="$written" -v b="$changed" 'BEGIN { printf "%.2f", a / b }')
row "restore home: bytes written" "$((written >> 20)) MiB" "bytes changed: $((changed >> 20)) MiB" "$r" - \
	"<= $((bound >> 20)) MiB" "$(verdict "$written" "<=" "$bound")"
value_row "failback downtime (pass 2)" "$down s" "3 regions written since pass 1" - -
echo
echo "rounds (ms):"
fig_runs "full backup" checkpoint 1
fig_runs "checkpoint" checkpoint 2
log "done in $(($(date +%s) - START_S)) s"

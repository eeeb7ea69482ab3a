#!/usr/bin/env bash
# scripts/bench-failback.sh: failback's figures, side by side in one run (also
# run at the end of scripts/bench.sh).
#   checkpoint of a spare with 3% of a 1 GiB image written, against a full
#     `backup` of the same image (target: 10x faster or better)
#   bytes a failback restore writes onto the original disk, against the bytes
#     the guest changed (target: within 1.1x plus one chunk per changed region)
#   failback downtime: the second pass, after more writes
# Environment: BENCH_DIR (default /var/tmp), BENCH_FAILBACK_MB (default 1024),
# HOTSPARE (binary to measure).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
MB=${BENCH_FAILBACK_MB:-1024}
REGIONS=30
log() { printf 'bench-failback: %s\n' "$*" >&2; }

log "a $MB MiB image, its snapshot, and a spare of it"
openssl enc -aes-128-ctr -nosalt -pass pass:hotspare-failback -in <(head -c $((MB << 20)) /dev/zero) \
	-out "$T/img" 2>/dev/null
"$HS" init "$T/store" >/dev/null
"$HS" snapshot "$T/store" fb "$T/img" >/dev/null
CS=$(json_get "$T/store/hotspare-store.json" chunk_size)
mkdir "$T/m"
hs_mount_at "$T/m" "$T/store" fb "$T/m" --state "$T/state" --hydrate-threads 2
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
write_regions $REGIONS
log "checkpoint of $((changed >> 20)) MiB written"
s=$(date +%s%N)
"$HS" checkpoint "$T/m" --json >"$T/cp.json"
cp_ms=$(ms_since "$s")
log "full backup of the same image, the reference"
s=$(date +%s%N)
"$HS" backup "$T/store" fb "$T/m/fb.img" >/dev/null
full_ms=$(ms_since "$s")

log "a little more, then failback (no domain: pass 2 follows at once)"
write_regions 3
"$HS" failback "$T/m" --json >"$T/fb.json"
point=$(json_get "$T/fb.json" point)
down=$(awk -v d="$(json_get "$T/fb.json" downtime_seconds)" 'BEGIN { printf "%.2f", d }')
"$HS" umount "$T/m"
log "restore home onto the original disk"
"$HS" restore "$T/store" "fb@$point" "$T/img" --json >"$T/home.json"
written=$(json_get "$T/home.json" bytes_written)
bound=$(awk -v c="$changed" -v n=$((REGIONS + 3)) -v cs="$CS" 'BEGIN { printf "%.0f", 1.1 * c + n * cs }')

echo
echo "failback figures: $MB MiB image, chunk size $((CS / 1024)) KiB, $((REGIONS + 3)) regions of $((region >> 10)) KiB written"
echo
row figure value reference ratio target result
r=$(awk -v a="$full_ms" -v b="$cp_ms" 'BEGIN { printf "%.1f", a / b }')
row "checkpoint (3% written)" "$cp_ms ms" "full backup of the image: $full_ms ms" "${r}x" ">= 10x" \
	"$(verdict "$r" ">=" 10)"
r=$(awk -v a="$written" -v b="$changed" 'BEGIN { printf "%.2f", a / b }')
row "restore home: bytes written" "$((written >> 20)) MiB" "bytes changed: $((changed >> 20)) MiB" "$r" \
	"<= $((bound >> 20)) MiB" "$(verdict "$written" "<=" "$bound")"
row "failback downtime (pass 2)" "$down s" "3 regions written since pass 1" "-" "-" "info"

#!/usr/bin/env bash
# scripts/bench-memory.sh: what mounted spares cost a hypervisor host in
# memory (also run by scripts/bench.sh).
#
#   the daemon's resident memory (VmRSS, and Pss: shared library pages
#     divided among the processes that map them) for a 1 TiB point at the
#     store's default chunk size: mounted; after a boot-like read of its
#     first data; after hydration of its data (a part of the disk: the rest
#     is zero chunks); against the target of 16 MiB plus the per-chunk
#     arrays (map, durable map, touched, suspect: a byte a chunk; the zero
#     map and the digest table's block sums: a quarter of a byte)
#   fifty 1 TiB spares of that point mounted at once on this host, each
#     read and hydrated (default hydration): the sum of their daemons' RSS
#     and Pss, and the largest
#
# Environment: BENCH_DIR (scratch, default /var/tmp), BENCH_MEMORY_SPARES
# (default 50), BENCH_MEMORY_DATA_MB (data in the 1 TiB image, default 64),
# BENCH_TIMEOUT (seconds a hydration may take, default 300), HOTSPARE (binary).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
NSPARES=${BENCH_MEMORY_SPARES:-50}
DATA_MB=${BENCH_MEMORY_DATA_MB:-64}
STEP_TIMEOUT=${BENCH_TIMEOUT:-300}
log() { printf 'bench-memory: %s\n' "$*" >&2; }
[[ $NSPARES =~ ^[0-9]+$ ]] && ((NSPARES >= 1)) || { log "BENCH_MEMORY_SPARES must be >= 1"; exit 1; }
[[ $DATA_MB =~ ^[0-9]+$ ]] && ((DATA_MB >= 4)) || { log "BENCH_MEMORY_DATA_MB must be >= 4"; exit 1; }

# rss PID / pss PID: KiB
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
pss() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"; }
# daemon MNT: the daemon's pid from its status. Once, in a run of this
# script, the status read did not parse ("Extra data" after its first line):
# the raw status is then logged, for whoever looks into it, and read again.
daemon() {
	local s k
	for k in 1 2 3; do
		s=$("$HS" status "$1" --json) && json_get - pid <<<"$s" 2>/dev/null && return 0
		log "status of $1 did not parse (try $k): $s"
		sleep 0.5
	done
	return 1
}
hydrated() { "$HS" status "$1" --json | grep -q '"hydrated": *true'; }

# --- a 1 TiB point: DATA_MB of data in 4 MiB regions spread over it -----------------
log "a 1 TiB image with $DATA_MB MiB of data, and its snapshot"
truncate -s 1T "$T/tib.img"
nreg=$((DATA_MB / 4))
for ((k = 0; k < nreg; k++)); do
	openssl enc -aes-128-ctr -nosalt -pass "pass:mem$k" -in <(head -c $((4 << 20)) /dev/zero) 2>/dev/null |
		dd of="$T/tib.img" bs=1M seek=$((k * (1048576 / nreg))) conv=notrunc status=none
done
"$HS" init "$T/store" >/dev/null
"$HS" snapshot "$T/store" tib "$T/tib.img" >/dev/null
rm -f "$T/tib.img"
CS=$(json_get "$T/store/hotspare-store.json" chunk_size)
NCHUNKS=$(((1 << 40) / CS))
PER_CHUNK_KIB=$(((NCHUNKS * 4 + NCHUNKS / 4) >> 10))
BOUND_KIB=$((16384 + PER_CHUNK_KIB))

log "one spare: mounted, read, hydrated"
mkdir "$T/m"
on_exit "'$HS' umount '$T/m' || umount -l '$T/m'"
s=$(date +%s%N)
"$HS" mount "$T/store" tib "$T/m" --state "$T/state" --hydrate-threads 0 >/dev/null
FIRST_MS=$(ms_since "$s")
pid=$(daemon "$T/m")
R_MOUNT=$(rss "$pid") P_MOUNT=$(pss "$pid")
# A boot's reads: 16 MiB of the data, demand reads and read-ahead.
for ((k = 0; k < nreg && k < 4; k++)); do
	dd if="$T/m/tib.img" of=/dev/null bs=1M skip=$((k * (1048576 / nreg))) count=4 status=none
done
R_READ=$(rss "$pid") P_READ=$(pss "$pid")
hs_umount "$T/m"
s=$(date +%s%N)
"$HS" mount "$T/store" tib "$T/m" --state "$T/state" --hydrate-threads 2 >/dev/null
AGAIN_MS=$(ms_since "$s")
pid=$(daemon "$T/m")
wait_for "$STEP_TIMEOUT" hydrated "$T/m" || { log "hydration did not finish"; exit 1; }
R_HYD=$(rss "$pid") P_HYD=$(pss "$pid")
sleep 3 # the idle fetch buffers go at the flusher's next tick
R_IDLE=$(rss "$pid") P_IDLE=$(pss "$pid")
hs_umount "$T/m"
rm -rf "$T/state"

# --- fifty spares of the point at once -------------------------------------------------
log "$NSPARES spares of the 1 TiB point at once"
declare -a PIDS
s=$(date +%s%N)
for ((n = 0; n < NSPARES; n++)); do
	mkdir "$T/m$n"
	on_exit "'$HS' umount '$T/m$n' || umount -l '$T/m$n'"
	"$HS" mount "$T/store" tib "$T/m$n" --state "$T/s$n" --hydrate-threads 2 >/dev/null
	PIDS[n]=$(daemon "$T/m$n")
	dd if="$T/m$n/tib.img" of=/dev/null bs=1M count=4 status=none
done
MOUNTS_S=$(awk -v ms="$(ms_since "$s")" 'BEGIN { printf "%.1f", ms / 1000 }')
for ((n = 0; n < NSPARES; n++)); do
	wait_for "$STEP_TIMEOUT" hydrated "$T/m$n" || { log "spare $n did not hydrate"; exit 1; }
done
sleep 3
SUM_RSS=0 SUM_PSS=0 MAX_RSS=0
for ((n = 0; n < NSPARES; n++)); do
	r=$(rss "${PIDS[n]}") p=$(pss "${PIDS[n]}")
	SUM_RSS=$((SUM_RSS + r)) SUM_PSS=$((SUM_PSS + p))
	((r > MAX_RSS)) && MAX_RSS=$r
done
for ((n = 0; n < NSPARES; n++)); do
	hs_umount "$T/m$n"
	rm -rf "$T/s$n"
done

mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
BOUND=$(awk -v k="$BOUND_KIB" 'BEGIN { printf "%.1f", k / 1024 }')
echo
echo "memory figures: a 1 TiB point, $DATA_MB MiB of data in $nreg regions, chunk size $((CS >> 10)) KiB" \
	"($NCHUNKS chunks: per-chunk arrays $(mib "$PER_CHUNK_KIB")); Pss shares library pages among processes"
table_head
value_row "daemon RSS, 1 TiB, mounted" "$(mib "$R_MOUNT")" "Pss $(mib "$P_MOUNT")" "<=" "$BOUND"
value_row "daemon RSS, 1 TiB, boot reads" "$(mib "$R_READ")" "Pss $(mib "$P_READ")" "<=" "$BOUND"
value_row "daemon RSS, 1 TiB, hydrated" "$(mib "$R_HYD")" "Pss $(mib "$P_HYD")" "<=" "$BOUND"
value_row "daemon RSS, 1 TiB, idle 3 s" "$(mib "$R_IDLE")" "Pss $(mib "$P_IDLE")" "<=" "$BOUND"
value_row "mount of a 1 TiB point" "$FIRST_MS ms" "again (table reused): $AGAIN_MS ms" - -
value_row "$NSPARES spares: sum of RSS" "$(mib "$SUM_RSS")" "sum of Pss $(mib "$SUM_PSS")" - -
value_row "$NSPARES spares: largest RSS" "$(mib "$MAX_RSS")" "$NSPARES mounted in $MOUNTS_S s" "<=" "$BOUND"

#!/usr/bin/env bash
# scripts/bench-gc.sh: retention's figures, side by side in one run (also run
# at the end of scripts/bench.sh).
#   gc of a directory store holding 1,000,000 small synthetic chunks and 100
#     points (a third of the chunks named by no point: gc takes them): seconds
#     (target <= 60) and peak memory per chunk (target <= 100 bytes), beside
#     `find STORE -type f | wc -l` on the same tree, the floor (listing the
#     files at all); then a second gc with nothing to take
#   30 days of a 3% change (snapshot on day 1, a backup a day, prune
#     --keep-daily 7 and gc after each): the store's bytes against the bytes
#     the kept points name (target <= 1.1: what gc leaves that nothing needs)
# Environment: BENCH_DIR (default /var/tmp), BENCH_GC_CHUNKS (1000000),
# BENCH_GC_POINTS (100), BENCH_GC_SPAN (chunks a point names, 20000),
# BENCH_GC_DAYS_MB (the daily image, 256), HOTSPARE (binary to measure).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
hs_install_deps faketime
SYNTH=$REPO/build/tests/bench/hs-synth-store
[ -x "$SYNTH" ] || hs_build "$REPO/build"
CHUNKS=${BENCH_GC_CHUNKS:-1000000} POINTS=${BENCH_GC_POINTS:-100} SPAN=${BENCH_GC_SPAN:-20000}
DAYS_MB=${BENCH_GC_DAYS_MB:-256}
log() { printf 'bench-gc: %s\n' "$*" >&2; }

# run_peak OUT CMD...: run CMD with stdout to OUT; prints "SECONDS PEAK_RSS_BYTES".
run_peak() {
	python3 - "$@" <<'PY'
import resource, subprocess, sys, time
out = open(sys.argv[1], "wb")
t = time.monotonic()
rc = subprocess.run(sys.argv[2:], stdout=out).returncode
dt = time.monotonic() - t
if rc:
    sys.exit(f"{sys.argv[2:]} failed ({rc})")
print(f"{dt:.2f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}")
PY
}

log "a store of $CHUNKS synthetic chunks and $POINTS points"
"$SYNTH" "$T/big" "$CHUNKS" "$POINTS" "$SPAN" >&2
sync
s=$(date +%s%N)
files=$(find "$T/big" -type f | wc -l)
find_ms=$(ms_since "$s")
log "gc (it takes the third no point names)"
read -r gc_s gc_rss < <(run_peak "$T/gc.json" "$HS" gc "$T/big" --grace 0 --json)
freed=$(json_get "$T/gc.json" chunks_freed)
read -r gc2_s gc2_rss < <(run_peak "$T/gc2.json" "$HS" gc "$T/big" --grace 0 --json)
per_chunk=$(awk -v r="$gc_rss" -v n="$CHUNKS" 'BEGIN { printf "%.0f", r / n }')
rm -rf "$T/big"

log "30 days of a 3% change, prune --keep-daily 7 and gc each day"
openssl enc -aes-128-ctr -nosalt -pass pass:hotspare-gc -in <(head -c $((DAYS_MB << 20)) /dev/zero) \
	-out "$T/img" 2>/dev/null
"$HS" init "$T/days" >/dev/null
faketime "2026-01-01 02:00:00" "$HS" snapshot "$T/days" srv "$T/img" >/dev/null
region=$(((DAYS_MB << 20) * 3 / 100 / 30 / 4096 * 4096))
RANDOM=11
for d in $(seq 2 30); do
	for k in $(seq 30); do
		off=$(((RANDOM * 32768 + RANDOM) % ((DAYS_MB << 20) / 4096 - region / 4096)))
		head -c "$region" /dev/urandom | dd of="$T/img" bs=4096 seek="$off" conv=notrunc status=none
	done
	faketime "$(printf '2026-01-%02d 02:00:00' "$d")" "$HS" backup "$T/days" srv "$T/img" >/dev/null
	"$HS" prune "$T/days" --keep-daily 7 >/dev/null
	"$HS" gc "$T/days" --grace 0 >/dev/null
done
"$HS" du "$T/days" --json >"$T/du.json"
kept=$("$HS" points "$T/days" srv --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
store=$(json_get "$T/du.json" bytes)
named=$(json_get "$T/du.json" servers 0 stored_bytes)
days_ratio=$(ratio "$store" "$named")

echo
row "figure" "value" "reference" "ratio" "target" "verdict"
row "gc of $((CHUNKS / 1000))k chunks, $POINTS points" "${gc_s} s" "find | wc -l ($files files): $(awk -v m="$find_ms" 'BEGIN { printf "%.2f", m / 1000 }') s" \
	"$(ratio "$gc_s" "$(awk -v m="$find_ms" 'BEGIN { print m / 1000 }')")" "<= 60 s" "$(verdict "$gc_s" "<=" 60)"
row "  chunks it freed" "$freed" "named by no point: $((CHUNKS - CHUNKS * 2 / 3))" "-" "-" "info"
row "  peak memory per chunk" "$per_chunk B" "$((gc_rss >> 20)) MiB peak" "-" "<= 100 B" "$(verdict "$per_chunk" "<=" 100)"
row "gc again, nothing to take" "${gc2_s} s" "$((gc2_rss >> 20)) MiB peak" "-" "-" "info"
row "30 days of 3%, keep-daily 7" "$((store >> 20)) MiB" "named by the $kept kept points: $((named >> 20)) MiB" \
	"$days_ratio" "<= 1.1" "$(verdict "$days_ratio" "<=" 1.1)"

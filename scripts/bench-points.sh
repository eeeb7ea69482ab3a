#!/usr/bin/env bash
# scripts/bench-points.sh: listing a server's points at fleet scale (also run
# at the end of scripts/bench.sh). 100 points of a 1 TiB server (written by
# tests/bench/points.c: each with a digest table as large as a real 1 TiB
# point's) in a local store; `hotspare points` (and --json) must read each
# point's fixed-size header, never its table: target <= 0.2 s, best of
# BENCH_RUNS, warm page cache.
# Environment: BENCH_DIR (default /var/tmp), BENCH_RUNS (default 3),
# BENCH_POINTS_N (default 100), BENCH_POINTS_GIB (image size, default 1024),
# HOTSPARE (binary to measure).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
log() { printf 'bench-points: %s\n' "$*" >&2; }
RUNS=${BENCH_RUNS:-3}
N=${BENCH_POINTS_N:-100}
GIB=${BENCH_POINTS_GIB:-1024}
GEN=$REPO/build/tests/bench/hs-bench-points
[[ -x $GEN ]] || hs_build "$REPO/build"

log "writing $N points of a $GIB GiB server"
"$HS" init "$T/store" >/dev/null
t0=$(date +%s%N)
"$GEN" "$T/store" mail01 "$N" "$GIB"
gen_s=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
[ "$("$HS" points "$T/store" mail01 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -eq "$N" ] ||
	{ log "points does not list $N points"; exit 1; }

# best_of CMD...: sets BEST, the shortest wall time of RUNS runs (after one
# untimed) in s, and ALL, every run's in ms.
best_of() {
	local best="" t0 ms i
	ALL=""
	"$@" >/dev/null
	for ((i = 0; i < RUNS; i++)); do
		t0=$(date +%s%N)
		"$@" >/dev/null
		ms=$(ms_since "$t0")
		ALL+="$ms "
		best=$(min "$ms" "$best")
	done
	BEST=$(awk -v m="$best" 'BEGIN { printf "%.3f", m / 1000 }')
}
best_of "$HS" points "$T/store" mail01
plain=$BEST plain_all=$ALL
best_of "$HS" points "$T/store" mail01 --json
json=$BEST json_all=$ALL
tables=$(du -sm "$T/store/points" | cut -f1)

row figure value reference ratio target result
row "points, $N x $GIB GiB" "$plain s" "$tables MiB of points in the store" "-" "<= 0.2 s" "$(verdict "$plain" "<=" 0.2)"
row "points --json, $N x $GIB GiB" "$json s" "(the points were written in $gen_s s)" "-" "<= 0.2 s" \
	"$(verdict "$json" "<=" 0.2)"
echo "  timed runs (ms): points $plain_all; --json $json_all"

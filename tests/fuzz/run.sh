#!/bin/bash
# Run one libFuzzer harness: run.sh HARNESS CORPUS SECONDS [--expect-crash CLEAN]
# from the seeds in CORPUS (read only: what the run finds goes to a scratch
# directory). Fails on a crash, a leak, a timeout or an out-of-memory, with
# the input saved under $FUZZ_ARTIFACTS (default: the build's fuzz-artifacts/)
# to add to CORPUS once fixed. With --expect-crash, HARNESS is built on a copy
# of the code with a bug planted in it: passes only when it crashes within
# SECONDS on an input that CLEAN (the same harness on the real code) passes,
# so the harness reaches the code it fuzzes.
set -euo pipefail
harness=$1 corpus=$2 seconds=$3 expect=${4:-} clean=${5:-}
name=$(basename "$harness")
art=${FUZZ_ARTIFACTS:-$(dirname "$harness")/fuzz-artifacts}
mkdir -p "$art"
work=$(mktemp -d "${TMPDIR:-/tmp}/hs-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Inputs up to 64 KiB: a point object's header alone is 8.5 KiB.
# FUZZ_SEED: the random seed (0, the default: a new one each run).
opts=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
      -seed="${FUZZ_SEED:-0}" -artifact_prefix="$work/")
[ -d "$corpus" ] || { echo "no corpus at $corpus" >&2; exit 1; }
mkdir "$work/new"
rc=0
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
	"$harness" "${opts[@]}" "$work/new" "$corpus" >"$work/log" 2>&1 || rc=$?
found=$(find "$work" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | head -1)
if [ "$expect" = --expect-crash ]; then
	# The planted overrun may be seen where it happens or where the heap it
	# broke is next used (the write is in uninstrumented zstd): any crash counts.
	if [ $rc -ne 0 ] && [ -n "$found" ]; then
		"$clean" "$found" >"$work/clean.log" 2>&1 || { tail -20 "$work/clean.log"; echo "FAIL: $name's input crashes the real code too" >&2; exit 1; }
		echo "ok - $name: the planted bug was found ($(grep -m1 -o -E 'AddressSanitizer: [a-zA-Z -]+|deadly signal' "$work/log" || echo crash)); the real code passes that input"
		exit 0
	fi
	tail -20 "$work/log"
	echo "FAIL: $name did not find its planted bug in $seconds s" >&2
	exit 1
fi
if [ $rc -ne 0 ] || [ -n "$found" ]; then
	tail -60 "$work/log"
	if [ -n "$found" ]; then
		cp "$found" "$art/$name-$(basename "$found")"
		cp "$work/log" "$art/$name-$(basename "$found").log"
		echo "FAIL: $name: input kept as $art/$name-$(basename "$found") (and its .log)" >&2
	else
		echo "FAIL: $name exited with $rc" >&2
	fi
	exit 1
fi
grep -E '^stat::(number_of_executed_units|new_units_added)' "$work/log" | tr '\n' ' '
echo
echo "ok - $name: $seconds s, no crash ($(ls "$work/new" | wc -l) new inputs)"

#!/bin/bash
# scripts/fuzz.sh [SECONDS]: run every libFuzzer harness (tests/fuzz/) for
# SECONDS each (default 60) from its seed corpus, with ASan and UBSan, and
# end with one line: "fuzz: N harnesses, N failed". A crash, leak, timeout
# or out-of-memory fails its harness and keeps the input under
# build/tests/fuzz/fuzz-artifacts/ (with its log): fix the code, then add the
# input to tests/fuzz/corpus/NAME/ as regress-WHAT. The test suite runs each
# for 5 seconds (meson test -C build --suite fuzz).
#   FUZZ_SEED=N   the random seed (default: a new one each run)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
[[ $seconds =~ ^[0-9]+$ ]] && ((seconds > 0)) || { echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2; }
. scripts/deps.sh
hs_install_deps
hs_build build -Dtests=true
meson compile -C build fuzzers >/dev/null ||
	{ echo "fuzz: the harnesses did not build (is clang installed?)" >&2; exit 1; }
failed=0 n=0
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	name=${name//_/-}
	corpus=tests/fuzz/corpus/${name#fuzz-}
	n=$((n + 1))
	echo "== $name ($seconds s)"
	tests/fuzz/run.sh "build/tests/fuzz/$name" "$corpus" "$seconds" || failed=$((failed + 1))
done
echo "fuzz: $n harnesses, $failed failed"
[ "$failed" -eq 0 ]

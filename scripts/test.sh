#!/bin/bash
# Install what the build and tests need (Debian 12, as root), build a normal
# and an ASan+UBSan tree, and run every test in both.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
hs_install_deps

run_suite() {
	local dir=$1; shift
	echo "== build $dir $*"
	hs_build "$dir" "$@"
	echo "== test $dir"
	meson test -C "$dir" --print-errorlogs --num-processes 2
}

run_suite build -Dtests=true
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
echo "== all tests passed"

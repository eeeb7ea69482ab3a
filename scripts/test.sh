#!/bin/bash
# Install what the build and tests need (Debian 12, as root), build a normal
# and an ASan+UBSan tree, run every test in both, and end with one line:
# "tests: N passed, N failed, N skipped" over both trees.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
hs_install_deps # apt-get install of every missing package (the list is in scripts/deps.sh)

rc=0
run_suite() {
	local dir=$1; shift
	echo "== build $dir $*"
	hs_build "$dir" "$@"
	echo "== test $dir"
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" --print-errorlogs --num-processes 2 || rc=1
}

run_suite build -Dtests=true
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, sys
n = {"OK": 0, "FAIL": 0, "SKIP": 0}
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)["result"]
        key = "OK" if r in ("OK", "EXPECTEDFAIL") else "SKIP" if r == "SKIP" else "FAIL"
        n[key] += 1
print("tests: %d passed, %d failed, %d skipped" % (n["OK"], n["FAIL"], n["SKIP"]))
PY
exit $rc

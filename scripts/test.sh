#!/bin/bash
# Install what the build and tests need (Debian 12, as root), build a normal
# and an ASan+UBSan tree, run every test in both, and end with one line:
# "tests: N passed, N failed, N skipped" over both trees.
#
# The tests run in two lanes at once (tests/meson.build says which test is
# in which): lane "vm" one test at a time, the other lane two at a time. Each
# lane runs the normal tree's tests, then the sanitizer tree's. A test that
# boots QEMU leaves a core to the rest, which mostly wait on I/O.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
hs_install_deps # apt-get install of every missing package (the list is in scripts/deps.sh)

echo "== build build"
hs_build build -Dtests=true
echo "== build build-asan"
hs_build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

# lane NAME MESON-TEST-ARGS...: both trees' tests of the lane.
lane() {
	local name=$1 dir; shift
	for dir in build build-asan; do
		if [ "$dir" = build-asan ]; then
			export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
		fi
		echo "== test $dir, lane $name"
		# --no-rebuild: both lanes use the trees at once; they were built above.
		meson test -C "$dir" --no-rebuild --print-errorlogs --logbase "lane-$name" "$@" || true
	done
}
rm -f build*/meson-logs/lane-*.json
lane vm --suite vm --num-processes 1 2>&1 | sed -u 's/^/[vm] /' &
lane rest --no-suite vm --num-processes 2 2>&1 | sed -u 's/^/[rest] /' &
wait

# The count comes from the lanes' logs: a failed test, or a lane that left
# no log, fails the run.
python3 - {build,build-asan}/meson-logs/lane-{vm,rest}.json <<'PY'
import json, os, sys
n = {"OK": 0, "FAIL": 0, "SKIP": 0}
for path in sys.argv[1:]:
    if not os.path.exists(path):
        print("no test log %s: its lane did not run" % path)
        n["FAIL"] += 1
        continue
    for line in open(path):
        r = json.loads(line)["result"]
        key = "OK" if r in ("OK", "EXPECTEDFAIL") else "SKIP" if r == "SKIP" else "FAIL"
        n[key] += 1
print("tests: %d passed, %d failed, %d skipped" % (n["OK"], n["FAIL"], n["SKIP"]))
sys.exit(1 if n["FAIL"] else 0)
PY

# Sourced by scripts/bench-spare.sh, bench-remote.sh and bench-failback.sh:
# packages, a build (unless HOTSPARE names a binary), a scratch directory
# under BENCH_DIR (default /var/tmp) removed on exit (tests/lib.sh: $HS, $T,
# on_exit, wait_for, json_get), and the table's helpers.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/scripts/deps.sh"
hs_install_deps
if [[ -z ${HOTSPARE:-} || ! -x $REPO/build/tests/bench/hs-passthrough ]]; then
	hs_build "$REPO/build"
fi
export HOTSPARE=${HOTSPARE:-$REPO/build/tools/hotspare}
TMPDIR=${BENCH_DIR:-/var/tmp}
. "$REPO/tests/lib.sh"
chmod 755 "$T" # libvirt's QEMU user and nginx reach files in it

row() { printf '%-30s %-14s %-36s %-8s %-8s %s\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# verdict VALUE >=|<= TARGET: PASS or MISS
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = op == ">=" ? v + 0 >= t + 0 : v + 0 <= t + 0; print ok ? "PASS" : "MISS" }'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }
# ms_since START_NS: milliseconds since a `date +%s%N` reading
ms_since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

# shellcheck shell=bash
# Sourced by scripts/bench.sh and its helpers (bench-spare.sh, bench-remote.sh,
# bench-failback.sh, bench-browse.sh): packages, a build (unless HOTSPARE names
# a binary and the helpers are built), a scratch directory under BENCH_DIR
# (default /var/tmp) removed on exit (tests/lib.sh: $HS, $T, on_exit, wait_for,
# json_get), the interleaved method and the table's helpers.
#
# The method. A figure is a ratio of hotspare against a reference measured on
# the same machine; a shared machine's load moves both by far more than the
# code does, so they are measured interleaved: one untimed warm-up round, then
# BENCH_PAIRS (at least 5) rounds of A (hotspare) then B (the reference) (A B,
# A B, ...; a third step C rides in the same rounds when it compares with A,
# as the encrypted store does), each round's ratio taken, and the table
# reports the median ratio with the rounds' min-max. Steps that write run
# after `sync` and a settle (the page cache's dirty and writeback bytes
# drained, then a pause), so no step pays for the previous one's writeback. A
# round more than 10% off the median (+-0.1 at a ratio of 1) marks the row
# "noisy": the figure is then as trustworthy as its spread says, and the
# table says so rather than reporting one lucky run.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/scripts/deps.sh"
hs_install_deps
if [[ -z ${HOTSPARE:-} || ! -x $REPO/build/tests/bench/hs-passthrough || ! -x $REPO/build/tests/bench/hs-bench-gen ]]; then
	hs_build "$REPO/build"
fi
export HOTSPARE=${HOTSPARE:-$REPO/build/tools/hotspare}
PT=$REPO/build/tests/bench/hs-passthrough
GEN=$REPO/build/tests/bench/hs-bench-gen
TMPDIR=${BENCH_DIR:-/var/tmp}
. "$REPO/tests/lib.sh"
chmod 755 "$T" # libvirt's QEMU user and nginx reach files in it

PAIRS=${BENCH_PAIRS:-5}
[[ $PAIRS =~ ^[0-9]+$ ]] && ((PAIRS >= 5)) || { echo "bench: BENCH_PAIRS must be a whole number >= 5" >&2; exit 1; }
SETTLE=${BENCH_SETTLE:-1}
DROP=${BENCH_DROP:-1}
[[ $DROP == [01] ]] || { echo "bench: BENCH_DROP must be 0 or 1" >&2; exit 1; }
[[ $SETTLE =~ ^[0-9.]+$ ]] || { echo "bench: BENCH_SETTLE must be a number of seconds" >&2; exit 1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# verdict VALUE >=|<= TARGET: PASS or MISS
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = op == ">=" ? v + 0 >= t + 0 : v + 0 <= t + 0; print ok ? "PASS" : "MISS" }'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }
# ms_since START_NS: milliseconds since a `date +%s%N` reading
ms_since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }
now_ns() { date +%s%N; }
# rate BYTES START_NS END_NS: MB/s (10^6 bytes)
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", n / ((b - a) / 1e9) / 1e6 }'; }
# secs START_NS END_NS
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

# Unmounting on a shared machine: a QEMU that libvirt starts while a FUSE
# mount exists may get a copy of it in its own mount namespace, and that copy
# keeps the FUSE connection alive after our unmount, so the daemon never
# learns the mount is gone. An unmount that has not let its daemon go within
# 20 s has its connection aborted (the daemon then ends as after an unmount).
# fuse_conn MOUNTPOINT: the FUSE connection number of the mount there, or ""
fuse_conn() { awk -v m="$1" '$5 == m && / - fuse/ { split($3, d, ":"); c = d[2] } END { print c }' /proc/self/mountinfo; }
# fuse_release MOUNTPOINT PID CMD...: run CMD (an unmount) and wait for it and
# for PID (the daemon; "" if CMD waits for it itself), aborting the connection
# after 20 s.
fuse_release() {
	local mnt=$1 pid=$2 conn c i; shift 2
	conn=$(fuse_conn "$mnt")
	"$@" &
	c=$!
	for ((i = 0; i < 200; i++)); do
		if ! kill -0 "$c" 2>/dev/null && { [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; }; then break; fi
		sleep 0.1
	done
	if ((i == 200)) && [[ -n $conn ]]; then
		log "$mnt: the daemon outlives its unmount (a copy of the mount in another namespace?): aborting its connection"
		[ -e /sys/fs/fuse/connections/"$conn" ] || mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null || true
		echo 1 >/sys/fs/fuse/connections/"$conn"/abort 2>/dev/null || true
	fi
	wait "$c"
	[[ -z $pid ]] || wait "$pid" 2>/dev/null || true
}
# hs_umount MOUNTPOINT: hotspare umount (it waits for the daemon), as above
hs_umount() { fuse_release "$1" "" "$HS" umount "$1"; }

# settle: write back what the page cache holds dirty (sync, then wait until
# dirty + writeback are under 32 MiB, 30 s at most), drop the clean page cache
# (BENCH_DROP=1), then pause BENCH_SETTLE s. Why drop: on a virtual machine
# whose host backs guest memory lazily (this one), a write into page-cache
# pages the guest never used before runs at a tenth of the speed of one into
# pages it used and freed: a new 512 MiB file took 2.4 GB/s after a drop and
# 0.15 GB/s once the cache had grown by a few GiB. Without the drop the cache
# grows every round, and the later rounds of whichever step writes more files
# pay for it (seen: snapshot 500 then 250 MB/s, a spare's cold read 926 then
# 300 MB/s, while their references stayed put). Each step reads its sources
# into the cache again before its clock starts.
settle() {
	sync
	local i
	for ((i = 0; i < 300; i++)); do
		awk '/^(Dirty|Writeback):/ { kb += $2 } END { exit !(kb < 32768) }' /proc/meminfo && break
		sleep 0.1
	done
	[[ $DROP != 1 ]] || echo 1 >/proc/sys/vm/drop_caches
	sleep "$SETTLE"
}

# rounds KEY write|- STEP...: the interleaved method (see the top of this
# file) over two or more steps: one untimed warm-up round, then BENCH_PAIRS
# rounds, each running every STEP in turn (A B, A B, ... or A B C, A B C, ...).
# A STEP is a command (a shell function) that runs once and sets V to its
# figure. write: settle before each step. Step k's figures are recorded in
# FIG[KEY.k] (k from 1), in round order, so any two steps of a key make a
# ratio per round (pair_row).
declare -A FIG
rounds() {
	local key=$1 w=$2 k s n step; shift 2
	n=$#
	for ((s = 1; s <= n; s++)); do FIG[$key.$s]=; done
	for ((k = 0; k <= PAIRS; k++)); do
		if ((k == 0)); then log "$key: warm-up round"; else log "$key: round $k of $PAIRS"; fi
		s=0
		for step in "$@"; do
			s=$((s + 1))
			[[ $w != write ]] || settle
			V=
			$step
			[[ -n $V ]] || { log "$key: $step gave no figure"; exit 1; }
			((k == 0)) || FIG[$key.$s]+=" $V"
		done
	done
}

# ratios KEY A B: per-round ratios of step A's figures to step B's
ratios() {
	paste -d' ' <(tr ' ' '\n' <<<"${FIG[$1.$2]}" | awk 'NF') <(tr ' ' '\n' <<<"${FIG[$1.$3]}" | awk 'NF') |
		awk '{ printf " %.4f", ($2 > 0 ? $1 / $2 : 0) }'
}

# median LIST / lo LIST / hi LIST: of a space-separated list of numbers
median() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { printf "%.6g", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
lo() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | head -n 1; }
hi() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | tail -n 1; }
# noisy LIST MEDIAN: true when a value is more than 10% off the median
noisy() { tr ' ' '\n' <<<"$1" | awk -v m="$2" 'NF { d = ($1 - m) / m; if (d > 0.1 || d < -0.1) n++ } END { exit !n }'; }
fmt() { awk -v v="$1" -v p="${2:-2}" 'BEGIN { printf "%.*f", p, v }'; }

# The table: one row per figure.
row() { printf '%-34s %-15s %-40s %-6s %-11s %-8s %s\n' "$@"; }
table_head() { row figure value reference ratio "pairs" target result; }
# ratio_row LABEL KEY A B N D UNIT REFERENCE OP TARGET DECIMALS SUFFIX: the row
# of steps A (value) and B (reference) of KEY: their median figures, the
# median of the rounds' ratios of step N to step D and their min-max, the
# verdict on that median (OP TARGET; OP "-": information only), and "noisy"
# as above; SUFFIX follows the ratio and the target.
ratio_row() {
	local label=$1 key=$2 a=$3 b=$4 n=$5 d=$6 unit=$7 ref=$8 op=$9 target=${10} p=${11} x=${12} r m res
	r=$(ratios "$key" "$n" "$d")
	m=$(median "$r")
	if [[ $op == - ]]; then res=info; else res=$(verdict "$m" "$op" "$target"); fi
	if noisy "$r" "$m"; then res+=" noisy"; fi
	row "$label" "$(fmt "$(median "${FIG[$key.$a]}")" "$p") $unit" \
		"$ref: $(fmt "$(median "${FIG[$key.$b]}")" "$p") $unit" "$(fmt "$m")$x" \
		"$(fmt "$(lo "$r")")-$(fmt "$(hi "$r")")" "$([[ $op == - ]] && echo - || echo "$op $target$x")" "$res"
}
# pair_row LABEL KEY A B UNIT REFERENCE OP TARGET [DECIMALS]: the ratio of
# step A to step B (rates: how A compares with its reference).
pair_row() { ratio_row "$1" "$2" "$3" "$4" "$3" "$4" "$5" "$6" "$7" "$8" "${9:-0}" ""; }
# speedup_row LABEL KEY A B UNIT REFERENCE OP TARGET [DECIMALS] [SUFFIX]: for
# figures that are times, the ratio the other way up: step B's time over step
# A's (how many times faster A is).
speedup_row() { ratio_row "$1" "$2" "$3" "$4" "$4" "$3" "$5" "$6" "$7" "$8" "${9:-0}" "${10:-}"; }
# fig_runs LABEL KEY K: step K's figures, for the record below a table
fig_runs() { printf '  %-34s%s\n' "$1" "${FIG[$2.$3]}"; }
# A row for a figure that is not a ratio (a time, a size, a count).
value_row() { # LABEL VALUE REFERENCE OP TARGET (OP "-": info)
	local res=info
	[[ $4 == - ]] || res=$(verdict "${2%% *}" "$4" "$5")
	row "$1" "$2" "$3" - - "$([[ $4 == - ]] && echo - || echo "$4 $5")" "$res"
}

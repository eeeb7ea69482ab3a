#!/usr/bin/env bash
# scripts/bench-disks.sh: servers of several disks, each figure measured in
# interleaved pairs (A B A B ..., BENCH_PAIRS pairs, default 5) and reported as
# the median ratio with its min-max:
#   snapshot of two disks in one run (DISK=SOURCE twice) against one disk of
#     the same bytes (the two concatenated): rate ratio, target >= 0.95 (the
#     disks are read side by side, not one after the other)
#   cold boot of a two-disk spare (the test disk and a data disk the guest
#     mounts), every chunk over loopback nginx, against the same two disks as
#     local files: time ratio, target <= 1.05
# Environment: BENCH_PAIRS=5, BENCH_DISK_MB=512 (each disk of the snapshot
# pair), BENCH_DISKS_BOOT=0 skips the boots, BENCH_DIR, HOTSPARE (binary).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
. "$REPO/tests/http.sh"
. "$REPO/tests/qemu.sh"
PAIRS=${BENCH_PAIRS:-5}
MB=${BENCH_DISK_MB:-512}
[[ $PAIRS =~ ^[0-9]+$ ]] && ((PAIRS >= 1)) || { echo "BENCH_PAIRS must be >= 1" >&2; exit 1; }
[[ $MB =~ ^[0-9]+$ ]] && ((MB >= 16)) || { echo "BENCH_DISK_MB must be >= 16" >&2; exit 1; }
log() { printf 'bench-disks: %s\n' "$*" >&2; }
now_ns() { date +%s%N; }
# stats RATIO...: "median min max" of the ratios
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f %.2f %.2f\n", m, v[1], v[NR] }'; }
spread_note() { awk -v lo="$2" -v hi="$3" -v m="$1" 'BEGIN { print (hi - m > 0.1 || m - lo > 0.1) ? "spread > 0.1" : "" }'; }

# --- snapshot: two disks in one run against one disk of the same bytes ------------------
# Each disk: three quarters text-like data (base64 of a keyed stream: compresses about 4:3),
# one quarter zeros; the single disk is the two concatenated.
mkdisk() { # FILE SEED
	{ openssl enc -aes-128-ctr -nosalt -pass "pass:hotspare-disks-$2" -in <(head -c $((MB * 3 << 18)) /dev/zero) \
		2>/dev/null | base64 -w 76 | head -c $((MB * 3 << 18)) || true; head -c $((MB << 18)) /dev/zero; } >"$1"
	# (head ends the stream early on purpose: the SIGPIPE upstream is not a failure)
	[ "$(stat -c %s "$1")" -eq $((MB << 20)) ] || { log "could not make $1"; exit 1; }
}
log "two $MB MiB disks and their concatenation"
mkdisk "$T/c.img" 1
mkdisk "$T/d.img" 2
cat "$T/c.img" "$T/d.img" >"$T/one.img"
cat "$T/c.img" "$T/d.img" "$T/one.img" >/dev/null # all three in the page cache
snap() { # STORE SOURCES...: seconds of one snapshot into a fresh store
	local s=$1 t0; shift
	rm -rf "$s"; "$HS" init "$s" >/dev/null; sync
	t0=$(now_ns)
	"$HS" snapshot "$s" bench "$@" >/dev/null
	awk -v a="$t0" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}
R=() T1=() T2=()
for i in $(seq "$PAIRS"); do
	log "snapshot pair $i of $PAIRS"
	a=$(snap "$T/s1" "$T/one.img")
	b=$(snap "$T/s2" c="$T/c.img" d="$T/d.img")
	T1+=("$a") T2+=("$b")
	R+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", a / b }')") # rate(two) / rate(one)
done
"$HS" restore "$T/s2" bench c="$T/rc.img" d="$T/rd.img" >/dev/null
cmp "$T/rc.img" "$T/c.img" && cmp "$T/rd.img" "$T/d.img" || { log "the two-disk snapshot does not restore"; exit 1; }
rm -rf "$T/s1" "$T/s2" "$T/rc.img" "$T/rd.img" "$T/one.img"
read -r med lo hi < <(stats "${R[@]}")
read -r t1 _ _ < <(stats "${T1[@]}")
read -r t2 _ _ < <(stats "${T2[@]}")
row figure value reference ratio target result
row "snapshot of 2 x $MB MiB disks" "$t2 s (median)" "one $((2 * MB)) MiB disk: $t1 s" "$med ($lo-$hi)" ">= 0.95" \
	"$(verdict "$med" ">=" 0.95) $(spread_note "$med" "$lo" "$hi")"

# --- cold boot of a two-disk spare over loopback nginx, against local files -------------
if [[ ${BENCH_DISKS_BOOT:-1} == 1 ]]; then
	PORT=$(free_port)
	nginx_conf web "$T/www" "$PORT"
	nginx_up web "$PORT"
	mkdir -p "$T/m"
	on_exit "stop_qemu; ! mountpoint -q '$T/m' || '$HS' umount '$T/m' || umount -l '$T/m'"
	sha=$("$REPO/scripts/make-test-disk.sh" "$T/sys.img")
	dsha=$("$REPO/scripts/make-data-disk.sh" "$T/data.img" 1 64)
	"$HS" init "$T/www/store" >/dev/null
	"$HS" snapshot "$T/www/store" win sys="$T/sys.img" data="$T/data.img" >/dev/null
	R=() TL=() TS=()
	for i in $(seq "$PAIRS"); do
		log "boot pair $i of $PAIRS: local files"
		boot local "$sha" -nic none -drive "file=$T/sys.img,format=raw,if=virtio,cache=$CACHE_MODE" \
			-drive "file=$T/data.img,format=raw,if=virtio,cache=$CACHE_MODE"
		[ "$(marker local HOTSPARE-DATADISK)" = "/dev/vdb1 $dsha" ] || { log "the local boot did not read the data disk"; exit 1; }
		a=$BOOT_SECONDS
		log "boot pair $i of $PAIRS: the cold spare over nginx"
		rm -rf "$T/state"
		"$HS" mount "http://127.0.0.1:$PORT/store" win "$T/m" --state "$T/state" >/dev/null
		boot spare "$sha" -nic none -drive "file=$T/m/win-sys.img,format=raw,if=virtio,cache=$CACHE_MODE" \
			-drive "file=$T/m/win-data.img,format=raw,if=virtio,cache=$CACHE_MODE"
		[ "$(marker spare HOTSPARE-DATADISK)" = "/dev/vdb1 $dsha" ] || { log "the spare's boot did not read the data disk"; exit 1; }
		b=$BOOT_SECONDS
		"$HS" umount "$T/m"
		TL+=("$a") TS+=("$b")
		R+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", b / a }')")
		# The local boot wrote its boot count: start the next pair from the same disk.
		"$REPO/scripts/make-test-disk.sh" "$T/sys.img" >/dev/null
	done
	read -r med lo hi < <(stats "${R[@]}")
	read -r tl _ _ < <(stats "${TL[@]}")
	read -r ts _ _ < <(stats "${TS[@]}")
	row "cold boot, 2-disk spare (nginx)" "$ts s (median)" "same disks local: $tl s ($ACCEL)" "$med ($lo-$hi)" "<= 1.05" \
		"$(verdict "$med" "<=" 1.05) $(spread_note "$med" "$lo" "$hi")"
fi

#!/usr/bin/env bash
# scripts/bench.sh: hotspare's figures, each measured interleaved with the
# tool that bounds it on this machine (scripts/bench-lib.sh: the method), on
# one realistic disk image, in one run.
#
#   snapshot MB/s      vs  zstd -T0 -3 of the image (target >= 1.0)
#   restore MB/s       vs  cp + sync of the image (target >= 1.0; restore fsyncs too)
#   restore's ceiling: the cores over the CPU that decoding, hashing and writing this image take
#     (informational: what any restore that checks every byte could reach here)
#   encrypted store    vs  the plain one, same image: snapshot and restore (>= 0.9),
#                          with `openssl speed -evp aes-256-gcm` printed as the ceiling
#   store size         vs  zstd -3 of the whole image
#   backup after a 3% change: bytes stored / image size (target < 4%)
#   a chunk-size sweep (64K 256K 1M 4M) with BENCH_SWEEP=1
#   then scripts/bench-spare.sh: the mounted spare's figures (BENCH_SPARE=0 skips)
#   then scripts/bench-remote.sh: the remote store's figures (BENCH_REMOTE=0 skips)
#   then scripts/bench-failback.sh: failback's figures (BENCH_FAILBACK=0 skips)
#   then scripts/bench-browse.sh: browse's figures (BENCH_BROWSE=1 adds them)
#   then scripts/bench-disks.sh: servers of several disks, interleaved pairs (BENCH_DISKS=0 skips)
#   then scripts/bench-points.sh: points over 100 points of a 1 TiB server (BENCH_POINTS=0 skips)
#   then scripts/bench-gc.sh: gc of 1,000,000 chunks, and 30 days of keep-daily 7 (BENCH_GC=0 skips)
#   then scripts/bench-live.sh: live capture of a running VM: incremental by dirty bitmap vs a
#     whole read and vs reading the changed bytes, live vs image-file snapshot, --quiesce's freeze
#     (BENCH_LIVE=0 skips)
#   then scripts/bench-memory.sh: daemon RSS of a 1 TiB spare, fifty at once (BENCH_MEMORY=0 skips)
# Each helper runs alone too, and names its own options (BENCH_BOOT=1 adds the
# QEMU boots, BENCH_PEERS=1 the peers casync and nbdkit, and so on).
#
# Environment:
#   BENCH_DIR=/var/tmp      where the scratch directory goes (~12x the image)
#   BENCH_SIZE_MB=512       image size in MiB (at least 64)
#   BENCH_PAIRS=5           interleaved rounds per figure (at least 5)
#   BENCH_SETTLE=1          seconds of pause after writeback drains, between steps that write
#   BENCH_DROP=1            0 keeps the page cache between steps that write (bench-lib.sh: why)
#   BENCH_SWEEP=0           1 adds the chunk-size sweep
#   BENCH_SWEEP_SIZES="64K 256K 1M 4M"
#   BENCH_SEED=1            the image's seed (same seed, same image)
#   HOTSPARE=PATH           measure this binary (the helpers are built in build/)
# The tables go to stdout, progress to stderr. Exit 0 when everything ran (a
# missed target shows as MISS), non-zero when something broke.
set -euo pipefail
log() { printf 'bench: %s\n' "$*" >&2; }
START_S=$(date +%s)
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"

SIZE_MB=${BENCH_SIZE_MB:-512}
SWEEP=${BENCH_SWEEP:-0}
SWEEP_SIZES=${BENCH_SWEEP_SIZES:-64K 256K 1M 4M}
SEED=${BENCH_SEED:-1}
CHANGE_REGIONS=30 # each 0.1% of the image: 3% in all
[[ $SIZE_MB =~ ^[0-9]+$ ]] && ((SIZE_MB >= 64)) || { log "BENCH_SIZE_MB must be a whole number >= 64"; exit 1; }
[[ $SEED =~ ^[0-9]+$ ]] || { log "BENCH_SEED must be a whole number"; exit 1; }

# Room for two images, a restored one, a copy and the rounds' stores (kept
# until their section ends: ext4 skips inodes freed in the last minutes when it
# allocates new ones, so a snapshot right after an rm -rf of the previous store
# would pay for that search, seen as recently_deleted() in perf).
need_kb=$((SIZE_MB * 1024 * (5 + 2 * (PAIRS + 1)) + 200 * 1024))
have_kb=$(df -Pk "$T" | awk 'NR == 2 { print $4 }')
((have_kb >= need_kb)) || { log "$TMPDIR has $((have_kb / 1024)) MiB free; the bench needs about $((need_kb / 1024)) MiB"; exit 1; }

SIZE=$((SIZE_MB << 20))
mbs() { awk -v n="$SIZE" -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", n / ((b - a) / 1e9) / 1e6 }'; }
mib() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1048576 }'; }
hs() { "$HS" "$@" || { log "hotspare $* failed (exit $?)"; exit 1; }; }
warm() { cat "$@" >/dev/null; } # sources come from the page cache, for every side alike

# --- the image -------------------------------------------------------------------
IMG=$T/image.img
CHG=$T/changed.img
log "making a $SIZE_MB MiB image (random, text and zero regions, seed $SEED)"
read -r P_RAND P_TEXT P_ZERO < <("$GEN" image "$IMG" "$SIZE" "$SEED")
log "making the changed image: $CHANGE_REGIONS regions of 0.1% each, new random data"
cp --sparse=always "$IMG" "$CHG"
CHANGED=$("$GEN" change "$CHG" "$SIZE" $((SEED + 1000)) "$CHANGE_REGIONS")
ZSIZE=$(zstd -q -3 -c "$IMG" | wc -c)
"$HS" key create "$T/key" >/dev/null
export HOTSPARE_KEYFILE=$T/key # read by hotspare only where a store is encrypted

# --- snapshot: plain, zstd, encrypted ---------------------------------------------
NSTORE=0
LAST_PLAIN= LAST_ENC=
snap() { # INIT_OPTION...: snapshot the image into a new store, which STORE names
	STORE=$T/st-$((NSTORE += 1))
	local a b
	hs init "$STORE" "$@" >/dev/null
	warm "$IMG"
	a=$(now_ns)
	hs snapshot "$STORE" bench "$IMG" >/dev/null
	b=$(now_ns)
	V=$(mbs "$a" "$b")
}
snap_plain() { snap; LAST_PLAIN=$STORE; }
snap_enc() { snap --encrypt "$T/key"; LAST_ENC=$STORE; }
zstd_ref() {
	local a b
	warm "$IMG"
	a=$(now_ns)
	zstd -q -T0 -3 -c "$IMG" >/dev/null
	b=$(now_ns)
	V=$(mbs "$a" "$b")
}
log "snapshot, interleaved with zstd -T0 -3 and the encrypted snapshot"
rounds snap write snap_plain zstd_ref snap_enc
ST_APP=$(du -s -B1 --apparent-size "$LAST_PLAIN/chunks" | cut -f1)
ST_DU=$(du -s -B1 "$LAST_PLAIN/chunks" | cut -f1)
NCHUNKS=$(find "$LAST_PLAIN/chunks" -type f | wc -l)

# --- restore: plain, cp + sync, encrypted -----------------------------------------
OUT=$T/restored.img
rest() { # STORE
	local a b
	rm -f "$OUT"
	find "$1" -type f -exec cat {} + >/dev/null # the store from the page cache, as cp's image is
	a=$(now_ns)
	hs restore "$1" bench "$OUT" >/dev/null
	b=$(now_ns)
	V=$(mbs "$a" "$b")
}
rest_plain() { rest "$LAST_PLAIN"; }
rest_enc() { rest "$LAST_ENC"; }
cp_ref() {
	local a b
	rm -f "$OUT"
	warm "$IMG"
	a=$(now_ns)
	cp --sparse=auto "$IMG" "$OUT" && sync "$OUT"
	b=$(now_ns)
	V=$(mbs "$a" "$b")
}
for s in "$LAST_PLAIN" "$LAST_ENC"; do
	rm -f "$OUT"
	hs restore "$s" bench "$OUT" >/dev/null
	cmp -s "$IMG" "$OUT" || { log "the restore of $s does not match the image"; exit 1; }
done
log "restore, interleaved with cp + sync and the encrypted restore"
rounds rest write rest_plain cp_ref rest_enc
rm -f "$OUT"

# --- backup after a 3% change -------------------------------------------------------
log "backup of the changed image"
hs backup "$LAST_PLAIN" bench "$CHG" --json >"$T/backup.json"
BK_STORED=$(json_get "$T/backup.json" bytes_stored)
hs points "$LAST_PLAIN" bench --json >"$T/points.json"
BK_POINTS=$(json_get "$T/points.json" 1 new_bytes)
hs restore "$LAST_PLAIN" bench "$OUT" >/dev/null
cmp -s "$CHG" "$OUT" || { log "the restore of the backup does not match the changed image"; exit 1; }
rm -f "$OUT"

# The ceilings on this machine: AES-256-GCM and SHA-256, one core, 256 KiB blocks.
speed() { openssl speed -evp "$1" -bytes 262144 -seconds 1 2>/dev/null | awk 'END { printf "%.0f", $NF / 1000 }'; }
AES_MBS=$(speed aes-256-gcm)
SHA_MBS=$(speed sha256)

# Restore's ceiling: the work no restore that checks every byte can skip, in
# CPU seconds for this image, over the cores: decoding every stored chunk
# once (zstd -t of all chunk files), SHA-256 of every byte decoded (one core's
# rate, above), and writing the image's non-zero bytes to a new file with an
# fdatasync (dd, its user + sys). Optimistic: a chunk that occurs twice is
# decoded and hashed once, and the cores are taken to be busy with nothing else.
find "$LAST_PLAIN/chunks" -type f -exec cat {} + >"$T/allz"
PLAIN=$(zstd -q -d -c "$T/allz" | wc -c)
/usr/bin/time -f '%U %S' -o "$T/cpu" zstd -q -t "$T/allz" # decodes, writes nothing
DEC_S=$(awk '{ printf "%.4f", $1 + $2 }' "$T/cpu")
rm -f "$T/allz"
SHA_S=$(awk -v n="$PLAIN" -v r="$SHA_MBS" 'BEGIN { printf "%.4f", n / (r * 1e6) }')
WR=
for _ in 1 2 3; do
	rm -f "$T/wr"
	/usr/bin/time -f '%U %S' -o "$T/cpu" dd if=/dev/zero of="$T/wr" bs=256K \
		count="$(awk -v z="$SIZE" -v p="$P_ZERO" 'BEGIN { printf "%d", z * (100 - p) / 100 / 262144 }')" \
		conv=fdatasync status=none
	WR+=" $(awk '{ printf "%.4f", $1 + $2 }' "$T/cpu")"
done
rm -f "$T/wr"
WR_S=$(median "$WR")
REST_CEIL=$(awk -v n="$(nproc)" -v a="$DEC_S" -v b="$SHA_S" -v c="$WR_S" -v z="$SIZE" \
	'BEGIN { printf "%.1f", z / ((a + b + c) / n) / 1e6 }')

# --- the chunk-size sweep (BENCH_SWEEP=1) ----------------------------------------------
declare -A SW_APP SW_BK
SW_STEPS=()
if [[ $SWEEP == 1 ]]; then
	for c in $SWEEP_SIZES; do
		eval "sweep_snap_$c() { snap --chunk-size $c; SW_STORE_$c=\$STORE; }"
		eval "sweep_rest_$c() { rest \"\$SW_STORE_$c\"; }"
		SW_STEPS+=("$c")
	done
	log "sweep: snapshot at each chunk size, interleaved with zstd -T0 -3"
	rounds sweep-snap write $(printf 'sweep_snap_%s ' "${SW_STEPS[@]}") zstd_ref
	log "sweep: restore at each chunk size, interleaved with cp + sync"
	rounds sweep-rest write $(printf 'sweep_rest_%s ' "${SW_STEPS[@]}") cp_ref
	for c in "${SW_STEPS[@]}"; do
		s=SW_STORE_$c
		SW_APP[$c]=$(du -s -B1 --apparent-size "${!s}/chunks" | cut -f1)
		hs backup "${!s}" bench "$CHG" --json >"$T/backup.json"
		SW_BK[$c]=$(json_get "$T/backup.json" bytes_stored)
	done
fi
rm -rf "$T"/st-*[0-9] # the stores (LAST_* are among them)

# --- the table ---------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $rev != unknown && -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
	rev+="-dirty"
fi
bk_pct=$(awk -v a="$BK_STORED" -v b="$SIZE" 'BEGIN { printf "%.2f", 100 * a / b }')
echo
echo "hotspare bench: $SIZE_MB MiB image, ${P_RAND}% random, ${P_TEXT}% text, ${P_ZERO}% zero (holes);" \
	"zstd -3 makes it $(ratio "$SIZE" "$ZSIZE")x smaller"
echo "hotspare $rev; ${cpu:-unknown CPU}, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end;"
echo "$PAIRS interleaved rounds per figure after a warm-up (median, and the rounds' ratios min-max);" \
	"MB = 10^6 bytes; sources in the page cache"
echo
table_head
pair_row "snapshot (fresh store)" snap 1 2 MB/s "zstd -T0 -3" ">=" 1.0
pair_row "restore (new file, fsync)" rest 1 2 MB/s "cp + sync" ">=" 1.0
pair_row "encrypted snapshot" snap 3 1 MB/s "the plain snapshot" ">=" 0.9
pair_row "encrypted restore" rest 3 1 MB/s "the plain restore" ">=" 0.9
value_row "AES-256-GCM, one core (ceiling)" "$AES_MBS MB/s" "openssl speed -evp aes-256-gcm, 256 KiB" - -
value_row "SHA-256, one core" "$SHA_MBS MB/s" "openssl speed -evp sha256, 256 KiB" - -
row "restore's ceiling" "$(fmt "$REST_CEIL" 0) MB/s" "cp + sync $(fmt "$(median "${FIG[rest.2]}")" 0) MB/s" \
	"$(ratio "$REST_CEIL" "$(median "${FIG[rest.2]}")")" - - info
row "store size (apparent)" "$(mib "$ST_APP") MiB" "zstd -3 of the image: $(mib "$ZSIZE") MiB" \
	"$(ratio "$ST_APP" "$ZSIZE")" - - info
row "store size (du, disk blocks)" "$(mib "$ST_DU") MiB" "$NCHUNKS chunk files" "$(ratio "$ST_DU" "$ZSIZE")" - - info
value_row "backup after a 3% change" "${bk_pct}%" "$(mib "$BK_STORED") MiB of $SIZE_MB MiB; $(mib "$CHANGED") MiB changed" "<=" 4
if [[ $BK_POINTS != "$BK_STORED" ]]; then
	echo "note: points --json says the backup added $BK_POINTS bytes, backup --json said $BK_STORED"
fi
if ((${#SW_STEPS[@]})); then
	echo
	echo "chunk-size sweep (same image, same change; each size interleaved with the reference)"
	n=${#SW_STEPS[@]}
	printf '%-6s %10s %14s %10s %14s %10s %8s %10s\n' chunk "snap MB/s" "/ zstd (pairs)" "rest MB/s" \
		"/ cp (pairs)" "store MiB" "/ zstd" "backup %"
	for ((k = 1; k <= n; k++)); do
		c=${SW_STEPS[k - 1]}
		rs=$(ratios sweep-snap "$k" $((n + 1)))
		rr=$(ratios sweep-rest "$k" $((n + 1)))
		printf '%-6s %10s %14s %10s %14s %10s %8s %10s\n' "$c" "$(fmt "$(median "${FIG[sweep-snap.$k]}")" 0)" \
			"$(fmt "$(median "$rs")") ($(fmt "$(lo "$rs")")-$(fmt "$(hi "$rs")"))" \
			"$(fmt "$(median "${FIG[sweep-rest.$k]}")" 0)" \
			"$(fmt "$(median "$rr")") ($(fmt "$(lo "$rr")")-$(fmt "$(hi "$rr")"))" \
			"$(mib "${SW_APP[$c]}")" "$(ratio "${SW_APP[$c]}" "$ZSIZE")" \
			"$(awk -v a="${SW_BK[$c]}" -v b="$SIZE" 'BEGIN { printf "%.2f", 100 * a / b }')"
	done
fi
echo "  restore's ceiling: $(nproc) cores / (zstd -t $(fmt "$DEC_S") + SHA-256 $(fmt "$SHA_S") + writing" \
	"$(fmt "$WR_S") CPU s for this image) = $(fmt "$REST_CEIL" 0) MB/s, $(ratio "$REST_CEIL" "$(median "${FIG[rest.2]}")")" \
	"of cp + sync's; the restore reached $(ratio "$(median "${FIG[rest.1]}")" "$REST_CEIL") of it"
echo
echo "rounds (MB/s):"
fig_runs "snapshot" snap 1
fig_runs "zstd -T0 -3" snap 2
fig_runs "encrypted snapshot" snap 3
fig_runs "restore" rest 1
fig_runs "cp + sync" rest 2
fig_runs "encrypted restore" rest 3
log "done in $(($(date +%s) - START_S)) s"

# The helpers' figures, each its own table, in the same run.
for part in spare:1 remote:1 failback:1 browse:0 disks:1 points:1 gc:1 live:1 memory:1; do
	name=${part%:*}
	var=BENCH_${name^^}
	[[ ${!var:-${part#*:}} == 1 ]] || continue
	echo
	HOTSPARE=$HS "$REPO/scripts/bench-$name.sh"
done
log "all done in $(($(date +%s) - START_S)) s"
exit 0

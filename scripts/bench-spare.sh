#!/usr/bin/env bash
# scripts/bench-spare.sh: the spare's figures, side by side in one run (also
# run at the end of scripts/bench.sh).
#
#   reads through the mount of a hydrated spare (fio, O_DIRECT, iodepth 16):
#     sequential 1M and random 4k, against the state's plain file and against
#     a minimal pass-through FUSE file over the same file (the cost of FUSE
#     itself; targets: sequential >= 90%, random 4k IOPS >= 80% of it)
#   cold sequential reads (nothing in the state) from a seed on the same disk
#   a cold QEMU boot off the mount (seed + store) against the same boot off a
#     local copy of the image (target: within 1.05x)
#   mount time of a 1 TiB sparse point and the daemon's memory (RSS)
#
# Environment: BENCH_DIR (scratch, default /var/tmp), BENCH_SPARE_MB (image for
# the read figures, default 512), BENCH_RUNS (best of, default 3),
# BENCH_FIO_SECONDS (per fio run, default 4), HOTSPARE (binary to measure).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
. "$REPO/tests/qemu.sh"  # accelerator, cache mode, boot()
PT=$REPO/build/tests/bench/hs-passthrough
MB=${BENCH_SPARE_MB:-512}
RUNS=${BENCH_RUNS:-3}
FIO_S=${BENCH_FIO_SECONDS:-4}
log() { printf 'bench-spare: %s\n' "$*" >&2; }

# fio FILE MODE -> MB/s (read) or IOPS (randread)
fio_run() {
	local out
	out=$(timeout $((FIO_S + 60)) fio --name=b --filename="$1" --readonly --direct=1 --ioengine=libaio \
		--iodepth=16 --rw="$2" --bs="$([[ $2 == read ]] && echo 1M || echo 4k)" --runtime="$FIO_S" \
		--time_based --output-format=json 2>/dev/null)
	python3 -c 'import json,sys; j=json.loads(sys.argv[1])["jobs"][0]["read"]
print("%.0f" % (j["bw_bytes"] / 1e6 if sys.argv[2] == "read" else j["iops"]))' "$out" "$2"
}

# --- a hydrated spare, its plain state file, and the pass-through file --------
log "making a $MB MiB image and a spare of it"
openssl enc -aes-128-ctr -nosalt -pass pass:hotspare-bench -in <(head -c $((MB << 20)) /dev/zero) \
	-out "$T/img" 2>/dev/null
"$HS" init "$T/store" >/dev/null
"$HS" snapshot --ship "$T/seed" "$T/store" bench "$T/img" >/dev/null
mkdir "$T/m" "$T/p"
on_exit "'$HS' umount '$T/m' || umount -l '$T/m'"
"$HS" mount "$T/store" bench "$T/m" --state "$T/state" --seed "$T/seed" --hydrate-threads 4 >/dev/null
wait_for 300 sh -c "'$HS' status '$T/m' --json | grep -q '\"hydrated\":true'" || { log "hydration did not finish"; exit 1; }
on_exit "umount -l '$T/p'"
"$PT" "$T/state/disk.img" "$T/p" &
wait_for 10 test -e "$T/p/file" || { log "pass-through did not mount"; exit 1; }
declare -A BEST
for mode in read randread; do
	for r in $(seq "$RUNS"); do
		log "fio $mode, round $r"
		for what in mount pt plain; do
			case $what in
				mount) f=$T/m/bench.img ;;
				pt) f=$T/p/file ;;
				plain) f=$T/state/disk.img ;;
			esac
			v=$(fio_run "$f" $mode)
			BEST[$what-$mode]=$(max "$v" "${BEST[$what-$mode]:-0}")
		done
	done
done
"$HS" umount "$T/m"
umount "$T/p"

# --- cold sequential reads from the seed ------------------------------------------
log "cold reads from the seed"
for r in $(seq "$RUNS"); do
	rm -rf "$T/cold"
	"$HS" mount "$T/store" bench "$T/m" --state "$T/cold" --seed "$T/seed" --hydrate-threads 0 >/dev/null
	s=$(date +%s%N)
	dd if="$T/m/bench.img" of=/dev/null bs=1M iflag=direct status=none
	ms=$(ms_since "$s")
	"$HS" umount "$T/m"
	COLD=$(max "$(awk -v n=$((MB << 20)) -v ms="$ms" 'BEGIN { printf "%.0f", n / ms / 1e3 }')" "${COLD:-0}")
	rm -f "$T/rest.img"
	s=$(date +%s%N)
	"$HS" restore "$T/store" bench "$T/rest.img" --seed "$T/seed" >/dev/null
	ms=$(ms_since "$s")
	REST=$(max "$(awk -v n=$((MB << 20)) -v ms="$ms" 'BEGIN { printf "%.0f", n / ms / 1e3 }')" "${REST:-0}")
done
rm -rf "$T/cold" "$T/rest.img" "$T/state"

# --- cold boot off the mount against a local copy ---------------------------------------
log "boot: the test disk, shipped, a day, a backup"
sha0=$("$REPO/scripts/make-test-disk.sh" "$T/disk.img")
"$HS" init "$T/bstore" >/dev/null
"$HS" snapshot --ship "$T/busb" "$T/bstore" srv "$T/disk.img" >/dev/null
sha1=$("$REPO/scripts/test-disk-day.sh" "$T/disk.img" 1)
"$HS" backup "$T/bstore" srv "$T/disk.img" >/dev/null
for r in $(seq "$RUNS"); do
	log "boot round $r: local copy"
	cp --sparse=always "$T/disk.img" "$T/local.img"
	boot local "$sha1" -nic none -drive "file=$T/local.img,format=raw,if=virtio,cache=$CACHE_MODE"
	LOCAL=$(min "$BOOT_SECONDS" "${LOCAL:-}")
	log "boot round $r: cold spare"
	rm -rf "$T/bstate"
	"$HS" mount "$T/bstore" srv "$T/m" --state "$T/bstate" --seed "$T/busb" >/dev/null
	boot spare "$sha1" -nic none -drive "file=$T/m/srv.img,format=raw,if=virtio,cache=$CACHE_MODE"
	SPARE=$(min "$BOOT_SECONDS" "${SPARE:-}")
	"$HS" umount "$T/m"
done

# --- a 1 TiB sparse point: mount time and memory -------------------------------------
log "1 TiB sparse point"
truncate -s 1T "$T/tib.img"
printf 'boot sector' | dd of="$T/tib.img" conv=notrunc status=none
"$HS" init "$T/tstore" >/dev/null
"$HS" snapshot "$T/tstore" tib "$T/tib.img" >/dev/null
for r in $(seq "$RUNS"); do
	rm -rf "$T/tstate"
	s=$(date +%s%N)
	"$HS" mount "$T/tstore" tib "$T/m" --state "$T/tstate" --hydrate-threads 0 >/dev/null
	head -c 11 "$T/m/tib.img" >/dev/null
	MOUNT_MS=$(min "$(ms_since "$s")" "${MOUNT_MS:-}")
	pid=$("$HS" status "$T/m" --json | json_get - pid)
	RSS=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
	"$HS" umount "$T/m"
done

echo
echo "spare figures: $MB MiB incompressible image, chunk size $(($(json_get "$T/store/hotspare-store.json" chunk_size) / 1024)) KiB;" \
	"fio $FIO_S s runs, O_DIRECT, iodepth 16; best of $RUNS; QEMU accelerator $ACCEL"
echo
row figure value reference ratio target result
r=$(ratio "${BEST[mount-read]}" "${BEST[pt-read]}")
row "hydrated seq read (mount)" "${BEST[mount-read]} MB/s" "pass-through FUSE: ${BEST[pt-read]} MB/s" "$r" ">= 0.90" "$(verdict "$r" ">=" 0.90)"
row "hydrated seq read (mount)" "${BEST[mount-read]} MB/s" "state file, no FUSE: ${BEST[plain-read]} MB/s" "$(ratio "${BEST[mount-read]}" "${BEST[plain-read]}")" "-" "info"
r=$(ratio "${BEST[mount-randread]}" "${BEST[pt-randread]}")
row "hydrated 4k random (mount)" "${BEST[mount-randread]} IOPS" "pass-through FUSE: ${BEST[pt-randread]} IOPS" "$r" ">= 0.80" "$(verdict "$r" ">=" 0.80)"
row "hydrated 4k random (mount)" "${BEST[mount-randread]} IOPS" "state file, no FUSE: ${BEST[plain-randread]} IOPS" "$(ratio "${BEST[mount-randread]}" "${BEST[plain-randread]}")" "-" "info"
row "cold seq read from the seed" "$COLD MB/s" "restore from the same seed: $REST MB/s" "$(ratio "$COLD" "$REST")" "-" "info"
r=$(ratio "$SPARE" "$LOCAL")
row "cold boot off the mount" "$SPARE s" "same boot off a local copy: $LOCAL s" "$r" "<= 1.05" "$(verdict "$r" "<=" 1.05)"
row "mount of a 1 TiB point" "$MOUNT_MS ms" "to the first byte read" "-" "< 1000" "$(verdict "$MOUNT_MS" "<=" 1000)"
row "daemon RSS, 1 TiB point" "$((RSS / 1024)) MiB" "index + map of 4 Mi chunks" "-" "-" "info"

#!/usr/bin/env bash
# scripts/bench-spare.sh: the mounted spare's figures, each interleaved with
# its reference (scripts/bench-lib.sh: the method; also run by scripts/bench.sh).
#
#   reads through the mount of a hydrated spare (fio, O_DIRECT, iodepth 16),
#     sequential 1M and random 4k, against tests/bench/passthrough.c serving
#     the state's own file (the cost of FUSE itself; target >= 0.95), and the
#     hydrated spare of an encrypted store against the plain one (>= 0.95: the
#     state holds plaintext)
#   writes on a freshly hydrated spare (every step starts from a copy of the
#     same hydrated state: the first write into each chunk pays for the map's
#     durability order) against the pass-through writing a copy of the same
#     file: 4k random writes, fsync every 64 (>= 0.8), and the whole image in
#     1 MiB sequential writes, fsync at the end (>= 0.9)
#   a cold sequential read (dd, 1 MiB O_DIRECT) of a spare whose chunks are all
#     on the seed, against a restore from the same seed (>= 0.9)
#   instructions per FUSE read and write request (valgrind --tool=callgrind:
#     hotspare's daemon and the pass-through, the same requests)
#   mount of a 1 TiB sparse point: time to the first byte, the daemon's RSS
#   with BENCH_BOOT=1: a cold QEMU boot off the mount (seed + store) against
#     the same boot off a local copy (target: within 1.05x)
#
# Environment: BENCH_DIR (scratch, default /var/tmp), BENCH_SPARE_MB (image,
# default 512), BENCH_PAIRS (default 5), BENCH_FIO_SECONDS (per read run,
# default 3), BENCH_WRITE_MB (random-write volume per step, default 64),
# BENCH_CALLGRIND_REQUESTS (default 2000), BENCH_BOOT (default 0),
# BENCH_SPARE_PARTS (default "reads callgrind writes cold tib": the sections
# to run; the table shows what ran), HOTSPARE.
set -euo pipefail
log() { printf 'bench-spare: %s\n' "$*" >&2; }
START_S=$(date +%s)
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
hs_install_deps valgrind
MB=${BENCH_SPARE_MB:-512}
FIO_S=${BENCH_FIO_SECONDS:-3}
WMB=${BENCH_WRITE_MB:-64}
NREQ=${BENCH_CALLGRIND_REQUESTS:-2000}
PARTS=" ${BENCH_SPARE_PARTS:-reads callgrind writes cold tib} "
part() { [[ $PARTS == *" $1 "* ]]; }
for v in MB FIO_S WMB NREQ; do
	[[ ${!v} =~ ^[0-9]+$ ]] && ((${!v} > 0)) || { log "$v must be a whole number > 0"; exit 1; }
done

# fio_json ARGS...: run fio (bounded), print its JSON
fio_json() { timeout 300 fio --name=b --ioengine=libaio --direct=1 --iodepth=16 --output-format=json "$@" 2>/dev/null; }
# fio_get JSON read|write bw|iops: MB/s or IOPS
fio_get() {
	python3 -c 'import json,sys; j=json.loads(sys.argv[1])["jobs"][0][sys.argv[2]]
print("%.1f" % (j["bw_bytes"] / 1e6 if sys.argv[3] == "bw" else j["iops"]))' "$1" "$2" "$3"
}
# pt_up FILE DIR / pt_down DIR: the pass-through over FILE, mounted on DIR
PT_PID=
pt_up() {
	"$PT" "$1" "$2" &
	PT_PID=$!
	wait_for 10 test -e "$2/file" || { log "the pass-through did not mount"; exit 1; }
}
pt_down() { fuse_release "$1" "$PT_PID" umount "$1"; PT_PID=; }
mount_spare() { # STORE STATE [options]: mount on $T/m
	local store=$1 state=$2; shift 2
	"$HS" mount "$store" bench "$T/m" --state "$state" "$@" >/dev/null
}
umount_spare() { hs_umount "$T/m"; }
wait_hydrated() { # the status file, read without forking (a poll costs the daemon nothing but a read)
	local s=
	for ((i = 0; i < 6000; i++)); do
		read -r -d '' s <"$T/m/.hotspare-status" || true
		[[ $s == *'"hydrated":true'* ]] && return 0
		sleep 0.05
	done
	log "hydration did not finish"
	exit 1
}

# --- a point, its seed, and hydrated states: plain and encrypted --------------------
log "a $MB MiB incompressible image, snapshotted with --ship into a plain and an encrypted store"
openssl enc -aes-128-ctr -nosalt -pass pass:hotspare-bench -in <(head -c $((MB << 20)) /dev/zero) \
	-out "$T/img" 2>/dev/null
"$HS" key create "$T/key" >/dev/null
export HOTSPARE_KEYFILE=$T/key
"$HS" init "$T/store" >/dev/null
"$HS" snapshot --ship "$T/seed" "$T/store" bench "$T/img" >/dev/null
"$HS" init "$T/estore" --encrypt "$T/key" >/dev/null
"$HS" snapshot --ship "$T/eseed" "$T/estore" bench "$T/img" >/dev/null
CS=$(json_get "$T/store/hotspare-store.json" chunk_size)
mkdir "$T/m" "$T/m2" "$T/p"
for d in m m2 p; do on_exit "! mountpoint -q '$T/$d' || fuse_abort '$T/$d'"; done
for kind in plain enc; do
	log "hydrating the $kind spare from its seed"
	if [ $kind = plain ]; then store=$T/store seed=$T/seed; else store=$T/estore seed=$T/eseed; fi
	mount_spare "$store" "$T/hyd-$kind" --seed "$seed" --hydrate-threads 4
	wait_hydrated
	umount_spare
done
cmp "$T/hyd-plain/disk.img" "$T/img" && cmp "$T/hyd-enc/disk.img" "$T/img" ||
	{ log "a hydrated state differs from the image"; exit 1; }

# --- reads of the hydrated spares ---------------------------------------------------------
if part reads; then
	mount_spare "$T/store" "$T/hyd-plain"
	"$HS" mount "$T/estore" bench "$T/m2" --state "$T/hyd-enc" >/dev/null
	pt_up "$T/hyd-plain/disk.img" "$T/p"
	MODE= UNIT=
	read_step() { # FILE
		local out
		out=$(fio_json --filename="$1" --readonly --rw="$MODE" --bs="$([[ $MODE == read ]] && echo 1M || echo 4k)" \
			--runtime="$FIO_S" --time_based)
		V=$(fio_get "$out" read "$UNIT")
	}
	rd_mount() { read_step "$T/m/bench.img"; }
	rd_pt() { read_step "$T/p/file"; }
	rd_enc() { read_step "$T/m2/bench.img"; }
	MODE=read UNIT=bw
	rounds seqread - rd_mount rd_pt rd_enc
	MODE=randread UNIT=iops
	rounds randread - rd_mount rd_pt rd_enc
	pt_down "$T/p"
	umount_spare
	hs_umount "$T/m2"
fi

# --- instructions per FUSE request (callgrind) ------------------------------------------
if part callgrind; then
	# The daemon runs in the foreground under callgrind; its counters are zeroed,
	# NREQ requests of 4 KiB are made with O_DIRECT (one FUSE request each), and
	# the counters dumped: every instruction the process ran for them, its
	# threads, libfuse and libc included, divided by NREQ. The kernel's share is
	# not counted (the same for both).
	CG=$T/cg
	mkdir "$CG"
	cg_pid() { # PATTERN: the valgrind process running it (valgrind runs the program in its own process)
		local p
		for ((i = 0; i < 600; i++)); do
			p=$(pgrep -f "valgrind.*$1" | head -n 1 || true)
			[[ -n $p ]] && { echo "$p"; return 0; }
			sleep 0.1
		done
		return 1
	}
	cg_measure() { # PID CMD...: instructions per request of CMD (NREQ requests)
	local pid=$1 out n; shift
	n=$(ls "$CG" | wc -l)
	callgrind_control -z "$pid" >/dev/null
	"$@"
	callgrind_control --dump "$pid" >/dev/null
	for ((i = 0; i < 300; i++)); do # the dump is a new file out.PID.N
		out=$(ls -t "$CG"/out.* 2>/dev/null | head -n 1)
		(($(ls "$CG" | wc -l) > n)) && grep -q '^totals:' "$out" && break
		sleep 0.1
	done
	awk -v n="$NREQ" '/^totals:/ { printf "%.0f", $2 / n; ok = 1 } END { if (!ok) print "-" }' "$out"
}
# FILE OFFSET_MIB: NREQ requests of 4 KiB, one at a time (psync), from OFFSET_MIB on;
	# stride: one request per chunk (each the first write into its chunk)
	req4k() { # FILE read|write OFFSET [STRIDE]
		timeout 600 fio --name=cg --filename="$1" --ioengine=psync --direct=1 --bs=4k --number_ios="$NREQ" \
			--rw="$2${4:+:$4}" --offset="$3" --size=$(((MB << 20) - $3)) --output=/dev/null
	}
	cg_run() { # FILE PID: sets CG_READ CG_WRITE CG_FIRST ("-" where not asked)
		local file=$1 pid=$2 used=$((NREQ * 4096 / CS + 1))
		req4k "$file" read 0
		req4k "$file" write 0
		CG_READ=$(cg_measure "$pid" req4k "$file" read 0)
		CG_WRITE=$(cg_measure "$pid" req4k "$file" write 0)
		CG_FIRST=-
		# First writes: one per chunk past the ones written above, if the image has NREQ of them.
		if [[ $file == "$T/m/bench.img" ]] && ((MB * 1048576 / CS >= used + NREQ)); then
			CG_FIRST=$(cg_measure "$pid" req4k "$file" write $((used * CS)) $((CS - 4096)))
		fi
		rm -f "$CG"/out.*
	}
	log "callgrind: $NREQ reads and writes of 4 KiB through the mount and through the pass-through"
	rm -rf "$T/cgstate"
	cp -a "$T/hyd-plain" "$T/cgstate"
	valgrind --tool=callgrind --callgrind-out-file="$CG/out.%p" "$HS" mount "$T/store" bench "$T/m" \
		--state "$T/cgstate" --foreground --hydrate-threads 0 2>"$CG/hs.log" &
	wait_for 120 test -e "$T/m/bench.img" || { cat "$CG/hs.log" >&2; log "the daemon did not mount under valgrind"; exit 1; }
	pid=$(cg_pid "mount $T/store") || { log "no valgrind process"; exit 1; }
	cg_run "$T/m/bench.img" "$pid"
	HS_READ=$CG_READ HS_WRITE=$CG_WRITE HS_FIRST=$CG_FIRST
	fuse_release "$T/m" "$pid" umount "$T/m"
	cp "$T/hyd-plain/disk.img" "$T/cg.img"
	valgrind --tool=callgrind --callgrind-out-file="$CG/out.%p" "$PT" "$T/cg.img" "$T/p" 2>"$CG/pt.log" &
	wait_for 120 test -e "$T/p/file" || { cat "$CG/pt.log" >&2; log "the pass-through did not mount under valgrind"; exit 1; }
	pid=$(cg_pid "$PT") || { log "no valgrind process"; exit 1; }
	cg_run "$T/p/file" "$pid"
	PT_READ=$CG_READ PT_WRITE=$CG_WRITE
	fuse_release "$T/p" "$pid" umount "$T/p"
	rm -rf "$T/cgstate" "$T/cg.img" "$CG"
fi

# --- writes on a freshly hydrated spare ---------------------------------------------------
if part writes; then
	# Each step starts from a copy of the hydrated state (or of its file, for the
	# pass-through): the same bytes, the same blocks allocated, nothing written yet.
	WMODE=
	write_fio() { # FILE
		if [[ $WMODE == rand ]]; then
			local out
			out=$(fio_json --filename="$1" --rw=randwrite --bs=4k --fsync=64 --io_size=$((WMB << 20)) \
				--randrepeat=1 --random_generator=tausworthe64)
			V=$(fio_get "$out" write iops)
		else
			local a b
			a=$(now_ns)
			fio_json --filename="$1" --rw=write --bs=1M --end_fsync=1 >/dev/null
			b=$(now_ns)
			V=$(rate $((MB << 20)) "$a" "$b")
		fi
	}
	wr_mount() {
		rm -rf "$T/ws"
		cp -a "$T/hyd-plain" "$T/ws"
		settle
		mount_spare "$T/store" "$T/ws" # the default: hydration (nothing left to do) and its flusher
		write_fio "$T/m/bench.img"
		umount_spare
	}
	wr_pt() {
		rm -f "$T/wp.img"
		cp "$T/hyd-plain/disk.img" "$T/wp.img"
		settle
		pt_up "$T/wp.img" "$T/p"
		write_fio "$T/p/file"
		pt_down "$T/p"
	}
	WMODE=rand
	rounds randwrite - wr_mount wr_pt
	WMODE=seq
	rounds seqwrite - wr_mount wr_pt
	rm -rf "$T/ws" "$T/wp.img"
fi

# --- a cold sequential read from the seed, against a restore from it ---------------------
if part cold; then
	warm_seed() { find "$T/seed/chunks" -type f -exec cat {} + >/dev/null; }
	cold_read() {
		rm -rf "$T/cold"
		mount_spare "$T/store" "$T/cold" --seed "$T/seed" --hydrate-threads 0
		warm_seed
		local a b
		a=$(now_ns)
		dd if="$T/m/bench.img" of=/dev/null bs=1M iflag=direct status=none
		b=$(now_ns)
		umount_spare
		V=$(rate $((MB << 20)) "$a" "$b")
	}
	restore_seed() {
		rm -f "$T/rest.img"
		warm_seed
		local a b
		a=$(now_ns)
		"$HS" restore "$T/store" bench "$T/rest.img" --seed "$T/seed" >/dev/null
		b=$(now_ns)
		V=$(rate $((MB << 20)) "$a" "$b")
	}
	rounds cold write cold_read restore_seed
	rm -rf "$T/cold" "$T/rest.img"
fi

# --- cold boot off the mount against a local copy (BENCH_BOOT=1) ----------------------------
if [[ ${BENCH_BOOT:-0} == 1 ]]; then
	. "$REPO/tests/qemu.sh" # accelerator, cache mode, boot()
	log "boot: the test disk, shipped, a day, a backup"
	"$REPO/scripts/make-test-disk.sh" "$T/disk.img" >/dev/null
	"$HS" init "$T/bstore" >/dev/null
	"$HS" snapshot --ship "$T/busb" "$T/bstore" srv "$T/disk.img" >/dev/null
	sha1=$("$REPO/scripts/test-disk-day.sh" "$T/disk.img" 1)
	"$HS" backup "$T/bstore" srv "$T/disk.img" >/dev/null
	boot_local() {
		cp --sparse=always "$T/disk.img" "$T/local.img"
		boot local "$sha1" -nic none -drive "file=$T/local.img,format=raw,if=virtio,cache=$CACHE_MODE"
		V=$BOOT_SECONDS
	}
	boot_spare() {
		rm -rf "$T/bstate"
		"$HS" mount "$T/bstore" srv "$T/m" --state "$T/bstate" --seed "$T/busb" >/dev/null
		boot spare "$sha1" -nic none -drive "file=$T/m/srv.img,format=raw,if=virtio,cache=$CACHE_MODE"
		V=$BOOT_SECONDS
		umount_spare
	}
	rounds boot - boot_spare boot_local
fi

# --- a 1 TiB sparse point: mount time and memory -------------------------------------------
if part tib; then
	log "1 TiB sparse point"
	truncate -s 1T "$T/tib.img"
	printf 'boot sector' | dd of="$T/tib.img" conv=notrunc status=none
	"$HS" init "$T/tstore" >/dev/null
	"$HS" snapshot "$T/tstore" tib "$T/tib.img" >/dev/null
	MOUNTS=
	for r in 1 2 3; do
		rm -rf "$T/tstate"
		s=$(now_ns)
		"$HS" mount "$T/tstore" tib "$T/m" --state "$T/tstate" --hydrate-threads 0 >/dev/null
		head -c 11 "$T/m/tib.img" >/dev/null
		MOUNTS+=" $(ms_since "$s")"
		pid=$("$HS" status "$T/m" --json | json_get - pid)
		RSS=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
		umount_spare
	done
fi


echo
echo "spare figures: $MB MiB incompressible image, chunk size $((CS / 1024)) KiB; fio O_DIRECT, iodepth 16" \
	"(reads $FIO_S s, random writes $WMB MiB a step); $PAIRS rounds after a warm-up"
echo
table_head
if part reads; then
	pair_row "hydrated seq read 1M (mount)" seqread 1 2 MB/s "pass-through FUSE" ">=" 0.95
	pair_row "hydrated 4k random read (mount)" randread 1 2 IOPS "pass-through FUSE" ">=" 0.95
	pair_row "encrypted store: seq read 1M" seqread 3 1 MB/s "the plain store's spare" ">=" 0.95
	pair_row "encrypted store: 4k random read" randread 3 1 IOPS "the plain store's spare" ">=" 0.95
fi
if part writes; then
	pair_row "4k random write, fsync/64" randwrite 1 2 IOPS "pass-through, plain file" ">=" 0.8
	pair_row "1M sequential write + fsync" seqwrite 1 2 MB/s "pass-through, plain file" ">=" 0.9
fi
if part cold; then
	pair_row "cold seq read from the seed" cold 1 2 MB/s "restore from the same seed" ">=" 0.9
fi
if [[ ${BENCH_BOOT:-0} == 1 ]]; then
	pair_row "cold boot off the mount (s)" boot 1 2 s "same boot off a local copy" "<=" 1.05 1
fi
if part tib; then
	value_row "mount of a 1 TiB point" "$(fmt "$(median "$MOUNTS")" 0) ms" "to the first byte read (median of 3)" "<=" 1000
	value_row "daemon RSS, 1 TiB point" "$((RSS / 1024)) MiB" "index + map of 4 Mi chunks" - -
fi
if part callgrind; then
	echo
	echo "instructions per FUSE request (callgrind; the daemon's user space: engine, libfuse, libc):"
	printf '  %-44s %12s %14s\n' "" hotspare pass-through
	printf '  %-44s %12s %14s\n' "4 KiB O_DIRECT read, hydrated" "$HS_READ" "$PT_READ"
	printf '  %-44s %12s %14s\n' "4 KiB O_DIRECT write, chunk already written" "$HS_WRITE" "$PT_WRITE"
	printf '  %-44s %12s %14s\n' "4 KiB O_DIRECT write, first into its chunk" "$HS_FIRST" "-"
fi
echo
echo "rounds:"
for f in "seqread 1 seq read: mount, MB/s" "seqread 2 seq read: pass-through" "seqread 3 seq read: encrypted" \
	"randread 1 4k random read: mount, IOPS" "randread 2 4k random read: pass-through" \
	"randread 3 4k random read: encrypted" "randwrite 1 4k random write: mount, IOPS" \
	"randwrite 2 4k random write: pass-through" "seqwrite 1 1M seq write: mount, MB/s" \
	"seqwrite 2 1M seq write: pass-through" "cold 1 cold read from seed, MB/s" "cold 2 restore from seed, MB/s" \
	"boot 1 boot off the mount, s" "boot 2 boot off a local copy, s"; do
	read -r key k label <<<"$f"
	[[ -n ${FIG[$key.$k]:-} ]] && fig_runs "$label" "$key" "$k"
done
log "done in $(($(date +%s) - START_S)) s"

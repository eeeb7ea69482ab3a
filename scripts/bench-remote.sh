#!/usr/bin/env bash
# scripts/bench-remote.sh: the remote store's figures, side by side in one run
# (also run at the end of scripts/bench.sh).
#
#   hydration of a point from nginx on 127.0.0.1 (every chunk over HTTP,
#     decompressed, checked, written to the state) against curl fetching the
#     same chunk files in parallel (xargs -P, output to /dev/null): the
#     transfer limit of this machine (target >= 0.6)
#   the same hydration against `casync extract` of the same image from a casync
#     store (default chunk sizes) on the same nginx, the peer a user might pick
#     instead: MB/s of image bytes on both sides (target >= 8)
#   replication of that point to a second store on the same nginx against curl
#     uploading the same chunk files in parallel (curl -T, xargs -P)
#   the cost of a point when replicating to S3: BENCH_POINTS one-chunk servers
#     replicated to s3rver behind the SigV4-checking proxy (tests/proxy.py),
#     seconds and requests per point
#   a cold sequential read of a point through a delaying TCP proxy with 20 ms
#     of round-trip time (this machine has no netem), read-ahead on and off
#   a cold QEMU boot off a spare whose chunks are all remote (no seed) against
#     the same boot off a local copy, on loopback and through the same proxy
#   the same boot through nbdfuse + `nbdkit --filter=cow curl` on the raw image
#     served by the same nginx (the lazy-boot peer), on loopback and through the
#     same proxy: against the local boot and against hotspare's (no target)
#
# Environment: BENCH_DIR (scratch, default /var/tmp), BENCH_REMOTE_MB (image for
# the hydration figure, default 1024), BENCH_RA_MB (the read-ahead figure's,
# default 128), BENCH_RUNS (best of, default 3),
# BENCH_POINTS (one-chunk servers for the per-point figure, default 100),
# BENCH_REMOTE_BOOT=0 (skip the boots), HOTSPARE (binary to measure).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
. "$REPO/tests/http.sh"  # nginx on a free port
. "$REPO/tests/qemu.sh"  # accelerator, cache mode, boot()
hs_install_deps casync nbdkit libnbd-bin # the peers (not needed by the tests)
MB=${BENCH_REMOTE_MB:-1024}
RUNS=${BENCH_RUNS:-3}
log() { printf 'bench-remote: %s\n' "$*" >&2; }
now_ns() { date +%s%N; }
# bench-lib.sh's row() with room for the peers' longer figure names
row() { printf '%-46s %-14s %-38s %-8s %-8s %s\n' "$@"; }
mbps() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / ((b - a) / 1e9) / 1e6 }'; }

PORT=$(free_port)
nginx_conf web "$T/www" "$PORT"
nginx_up web "$PORT"
mkdir "$T/m"
# A run that fails (a boot that times out, say) must not leave the spare mounted.
on_exit "stop_qemu; ! mountpoint -q '$T/m' || '$HS' umount '$T/m' || umount -l '$T/m'"

# --- hydration of a point over HTTP against parallel curl ---------------------------
log "a $MB MiB incompressible image, snapshotted into the directory nginx serves"
openssl enc -aes-128-ctr -nosalt -pass pass:hotspare-bench -in <(head -c $((MB << 20)) /dev/zero) \
	-out "$T/img" 2>/dev/null
"$HS" init "$T/www/store" >/dev/null
"$HS" snapshot "$T/www/store" bench "$T/img" >/dev/null
URL=http://127.0.0.1:$PORT/store
(cd "$T/www" && find store/chunks -name '*.zst' | sed "s|^|http://127.0.0.1:$PORT/|") >"$T/urls"
NCHUNKS=$(wc -l <"$T/urls")
CSK=$(($(json_get "$T/www/store/hotspare-store.json" chunk_size) / 1024))
ZBYTES=$(find "$T/www/store/chunks" -name '*.zst' -printf '%s\n' | awk '{ s += $1 } END { print s }')
# Warm the server's page cache, so both sides read the same cached files.
cat "$T/www/store/chunks"/*/* >/dev/null

fetch_all() { # P: curl the chunk URLs, P processes at a time, 64 URLs (one connection) each
	xargs -P "$1" -n 64 sh -c 'a=; for u; do a="$a -o /dev/null $u"; done; exec curl -s -f $a' sh <"$T/urls"
}
fetch_to_files() { # P: the same, each chunk written to a file, then synced
	mkdir -p "$T/cf"
	xargs -P "$1" -n 64 sh -c 'd=$1; shift; a=; for u; do a="$a -o $d/${u##*/} $u"; done; exec curl -s -f $a' sh "$T/cf" <"$T/urls"
	sync -f "$T/cf"
}
for r in $(seq "$RUNS"); do
	for p in 4 8; do
		log "curl -P $p, round $r"
		s=$(now_ns); fetch_all $p; e=$(now_ns)
		CURL=$(max "$(mbps "$ZBYTES" "$s" "$e")" "${CURL:-0}")
		rm -rf "$T/cf"
		s=$(now_ns); fetch_to_files $p; e=$(now_ns)
		CURLF=$(max "$(mbps "$ZBYTES" "$s" "$e")" "${CURLF:-0}")
	done
	for th in 4 8; do
		log "hydration, $th threads, round $r"
		rm -rf "$T/state"
		"$HS" mount "$URL" bench "$T/m" --state "$T/state" --hydrate-threads $th >/dev/null
		s=$(now_ns)
		until [[ $("$HS" status "$T/m" --json) == *'"hydrated":true'* ]]; do
			[ $(($(now_ns) - s)) -lt $(((60 + MB) * 1000000000)) ] || { log "hydration took over $((60 + MB)) s"; exit 1; }
			sleep 0.05
		done
		e=$(now_ns)
		errors=$("$HS" status "$T/m" --json | json_get - errors)
		"$HS" umount "$T/m"
		[ "$errors" -eq 0 ] || { log "hydration had $errors errors"; exit 1; }
		HYDI=$(max "$(mbps $((MB << 20)) "$s" "$e")" "${HYDI:-0}") # image bytes, for casync
		v=$(mbps "$ZBYTES" "$s" "$e")
		[ "$(max "$v" "${HYD:-0}")" = "$v" ] && HYD_THREADS=$th
		HYD=$(max "$v" "${HYD:-0}")
	done
done
cmp "$T/state/disk.img" "$T/img" || { log "the hydrated image differs"; exit 1; }
rm -rf "$T/state" "$T/cf"

# --- replication of the same point to a second store on nginx, against curl -T ------
# replicate reads each chunk from the local store, checks it, asks whether the replica
# has it (HEAD) and PUTs it; curl PUTs the same files, 8 processes at once.
log "replicate: the point to a replica on nginx, against curl uploading its chunk files"
(cd "$T/www/store" && find chunks -name '*.zst') >"$T/keys"
upload_all() { # P: PUT every chunk file into $T/www/up, P curl processes of 64 files each
	(cd "$T/www/store" && xargs -P "$1" -n 64 sh -c 'a=; for k; do a="$a -T $k http://127.0.0.1:'"$PORT"'/up/$k"; done; exec curl -s -f $a' sh) <"$T/keys"
}
for r in $(seq "$RUNS"); do
	log "curl -T -P 8, round $r"
	rm -rf "$T/www/up"
	s=$(now_ns); upload_all 8; e=$(now_ns)
	[ "$(find "$T/www/up" -name '*.zst' | wc -l)" -eq "$NCHUNKS" ] || { log "curl uploaded other files"; exit 1; }
	UP=$(max "$(mbps "$ZBYTES" "$s" "$e")" "${UP:-0}")
	log "replicate, round $r"
	rm -rf "$T/www/replica"
	s=$(now_ns)
	timeout $((120 + MB)) "$HS" replicate "$T/www/store" "http://127.0.0.1:$PORT/replica" >/dev/null
	e=$(now_ns)
	REP=$(max "$(mbps "$ZBYTES" "$s" "$e")" "${REP:-0}")
done
"$HS" verify "http://127.0.0.1:$PORT/replica" >/dev/null || { log "the replica does not verify"; exit 1; }
rm -rf "$T/www/up" "$T/www/replica" "$T/www/store" "$T/keys"

# --- the cost of a point replicated to S3 ------------------------------------------
# Each point costs round trips whatever its size (the server's lock object, its
# listing, the index, its manifest): many one-chunk servers show that cost alone.
NPOINTS=${BENCH_POINTS:-100}
log "per point: $NPOINTS one-chunk servers replicated to s3rver behind the SigV4 proxy"
s3rver_up
"$HS" init "$T/small" >/dev/null
for i in $(seq "$NPOINTS"); do
	head -c 100000 /dev/urandom >"$T/one.img"
	"$HS" snapshot "$T/small" "srv$i" "$T/one.img" >/dev/null
done
for r in $(seq "$RUNS"); do
	log "replicate $NPOINTS points to S3, round $r"
	: >"$S3_LOG"
	s=$(now_ns)
	HOTSPARE_S3_ENDPOINT=$S3_ENDPOINT AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 \
		timeout 900 "$HS" replicate "$T/small" "s3://bench/run$r" >/dev/null
	e=$(now_ns)
	PERPOINT=$(min "$(awk -v a="$s" -v b="$e" -v n="$NPOINTS" 'BEGIN { printf "%.3f", (b - a) / 1e9 / n }')" "${PERPOINT:-}")
	REQS=$(awk -v n="$NPOINTS" 'END { printf "%.1f", NR / n }' "$S3_LOG")
done
rm -rf "$T/small"

# --- the same image through casync extract, from a casync store on the same nginx ----
# casync's default chunk sizes (16/64/256 KiB) and compression (zstd); the index is
# fetched over HTTP too, as hotspare fetches its point. The output is removed before
# each run, and --seed-output=no says it anyway: casync must not seed from a previous
# output. casync does not fsync its output; nothing is added for that.
log "casync make: the same image into a chunk store and index in the directory nginx serves"
mkdir "$T/www/casync"
casync make --store="$T/www/casync/img.castr" "$T/www/casync/img.caibx" "$T/img" >/dev/null
CA_NCHUNKS=$(find "$T/www/casync/img.castr" -name '*.cacnk' | wc -l)
find "$T/www/casync/img.castr" -name "*.cacnk" -exec cat {} + >/dev/null # warm the page cache, as for ours
for r in $(seq "$RUNS"); do
	log "casync extract, round $r"
	rm -f "$T/casync.img"
	s=$(now_ns)
	timeout $((120 + MB)) casync extract --seed-output=no --store="http://127.0.0.1:$PORT/casync/img.castr" \
		"http://127.0.0.1:$PORT/casync/img.caibx" "$T/casync.img" ||
		{ log "casync extract failed or took longer than $((120 + MB)) s"; exit 1; }
	e=$(now_ns)
	cmp "$T/casync.img" "$T/img" || { log "casync extract's output differs from the image"; exit 1; }
	CASYNC=$(max "$(mbps $((MB << 20)) "$s" "$e")" "${CASYNC:-0}")
done
rm -rf "$T/casync.img" "$T/www/casync" "$T/img"

# The delay proxy: 10 ms each way, 20 ms of round-trip time in front of nginx.
DPORT=$(free_port)
python3 "$REPO/tests/proxy.py" delay "$DPORT" "$PORT" 10 &
on_exit "kill $!"
wait_for 10 port_open "$DPORT" || { log "the delay proxy did not start"; exit 1; }

# --- a cold sequential read through the proxy, read-ahead on and off -----------------
# 1 MiB O_DIRECT reads, as a guest with cache=none reads, no hydration: only the reader
# and read-ahead fetch.
RAMB=${BENCH_RA_MB:-128}
log "read-ahead: a $RAMB MiB point read cold and sequentially through the 20 ms RTT proxy"
openssl enc -aes-128-ctr -nosalt -pass pass:hotspare-ra -in <(head -c $((RAMB << 20)) /dev/zero) \
	-out "$T/ra.img" 2>/dev/null
"$HS" init "$T/www/ra" >/dev/null
"$HS" snapshot "$T/www/ra" ra "$T/ra.img" >/dev/null
for r in $(seq "$RUNS"); do
	for mib in 8 0; do
		log "sequential read, --readahead $mib, round $r"
		rm -rf "$T/rstate"
		"$HS" mount "http://127.0.0.1:$DPORT/ra" ra "$T/m" --state "$T/rstate" --hydrate-threads 0 \
			--readahead $mib >/dev/null
		s=$(now_ns)
		timeout 600 dd if="$T/m/ra.img" of=/dev/null bs=1M iflag=direct status=none
		e=$(now_ns)
		cmp "$T/m/ra.img" "$T/ra.img" || { log "the read-ahead mount read other bytes"; exit 1; }
		"$HS" umount "$T/m"
		v=$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
		if [ $mib = 0 ]; then RA_OFF=$(min "$v" "${RA_OFF:-}"); else RA_ON=$(min "$v" "${RA_ON:-}"); fi
	done
done
rm -rf "$T/rstate" "$T/www/ra" "$T/ra.img"

# --- cold boot, all chunks remote ------------------------------------------------------
if [[ ${BENCH_REMOTE_BOOT:-1} == 1 ]]; then
	log "boot: the test disk in a store served by nginx (no seed)"
	sha0=$("$REPO/scripts/make-test-disk.sh" "$T/disk.img")
	"$HS" init "$T/www/boot" >/dev/null
	"$HS" snapshot "$T/www/boot" srv "$T/disk.img" >/dev/null
	# The lazy-boot peer: nbdkit's curl plugin reading the raw image from the same nginx
	# (through the proxy too), its cow filter taking the guest's writes, on a unix socket
	# (so nbdfuse may open several connections: multi-conn), presented as a file by nbdfuse.
	cp --sparse=always "$T/disk.img" "$T/www/raw.img"
	mkdir "$T/nbd"
	NBDKIT_PID= NBDFUSE_PID=
	stop_pid() { # PID SECONDS: wait for a child to exit, kill it after SECONDS, reap it
		local i
		for ((i = 0; i < $2 * 10; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
	}
	peer_up() { # HTTP_PORT: nbdkit on it, nbdfuse presenting $T/nbd/disk.img
		rm -f "$T/nbdkit.sock" "$T/nbdkit.pid" "$T/nbdfuse.pid"
		nbdkit -f --exit-with-parent -U "$T/nbdkit.sock" -P "$T/nbdkit.pid" \
			--filter=cow curl "url=http://127.0.0.1:$1/raw.img" 2>>"$T/nbdkit.log" &
		NBDKIT_PID=$!
		wait_for 10 test -s "$T/nbdkit.pid" || { cat "$T/nbdkit.log" >&2; log "nbdkit did not start"; exit 1; }
		nbdfuse -P "$T/nbdfuse.pid" "$T/nbd/disk.img" --unix "$T/nbdkit.sock" 2>>"$T/nbdfuse.log" &
		NBDFUSE_PID=$!
		wait_for 10 test -s "$T/nbdfuse.pid" || { cat "$T/nbdfuse.log" >&2; log "nbdfuse did not start"; exit 1; }
	}
	peer_down() { # unmount (nbdfuse then exits) and stop nbdkit; QEMU first, it holds the file
		stop_qemu
		if [ -n "$NBDFUSE_PID" ]; then
			fusermount3 -u "$T/nbd" 2>/dev/null || fusermount3 -uz "$T/nbd" 2>/dev/null || true
			stop_pid "$NBDFUSE_PID" 10
			NBDFUSE_PID=
		fi
		if [ -n "$NBDKIT_PID" ]; then
			kill -TERM "$NBDKIT_PID" 2>/dev/null || true
			stop_pid "$NBDKIT_PID" 10
			NBDKIT_PID=
		fi
	}
	on_exit peer_down
	for r in $(seq "$RUNS"); do
		log "boot round $r: local copy"
		cp --sparse=always "$T/disk.img" "$T/local.img"
		boot local "$sha0" -nic none -drive "file=$T/local.img,format=raw,if=virtio,cache=$CACHE_MODE"
		LOCAL=$(min "$BOOT_SECONDS" "${LOCAL:-}")
		for net in loop rtt20; do
			log "boot round $r: cold spare over HTTP ($net)"
			p=$PORT; [ $net = rtt20 ] && p=$DPORT
			rm -rf "$T/bstate"
			"$HS" mount "http://127.0.0.1:$p/boot" srv "$T/m" --state "$T/bstate" >/dev/null
			boot "spare-$net" "$sha0" -nic none -drive "file=$T/m/srv.img,format=raw,if=virtio,cache=$CACHE_MODE"
			"$HS" umount "$T/m"
			if [ $net = loop ]; then LOOP=$(min "$BOOT_SECONDS" "${LOOP:-}"); else RTT=$(min "$BOOT_SECONDS" "${RTT:-}"); fi
		done
		for net in loop rtt20; do
			log "boot round $r: nbdfuse + nbdkit cow/curl ($net)"
			p=$PORT; [ $net = rtt20 ] && p=$DPORT
			peer_up $p
			boot "peer-$net" "$sha0" -nic none -drive "file=$T/nbd/disk.img,format=raw,if=virtio,cache=$CACHE_MODE"
			peer_down
			if [ $net = loop ]; then PLOOP=$(min "$BOOT_SECONDS" "${PLOOP:-}"); else PRTT=$(min "$BOOT_SECONDS" "${PRTT:-}"); fi
		done
	done
fi

echo
echo "remote figures: $MB MiB incompressible point, $NCHUNKS chunks of $CSK KiB," \
	"nginx on 127.0.0.1; best of $RUNS; QEMU accelerator $ACCEL"
echo
row figure value reference ratio target result
r=$(ratio "$HYD" "$CURL")
row "hydration over HTTP" "$HYD MB/s" "curl, parallel (xargs -P): $CURL MB/s" "$r" ">= 0.60" "$(verdict "$r" ">=" 0.60)"
row "hydration over HTTP" "$HYD MB/s" "curl -P to files + sync: $CURLF MB/s" "$(ratio "$HYD" "$CURLF")" "-" "info"
echo "  (hydration: best with $HYD_THREADS threads; MB/s of stored bytes, as curl moves them; the hydration"
echo "   also decompresses, checks SHA-256, writes the state and makes it durable every second)"
r=$(ratio "$HYDI" "$CASYNC")
row "hydration vs casync extract" "$HYDI MB/s" "casync extract, same nginx: $CASYNC MB/s" "$r" ">= 8" "$(verdict "$r" ">=" 8)"
echo "  (MB/s of image bytes on both sides; casync: $CA_NCHUNKS chunks, default sizes (64 KiB average),"
echo "   zstd; its HTTP helper fetches one chunk at a time and it does not fsync its output)"
row "replication to nginx (PUT)" "$REP MB/s" "curl -T, 8 in parallel: $UP MB/s" "$(ratio "$REP" "$UP")" "-" "info"
echo "  (MB/s of stored bytes; replicate also reads each chunk, checks its digest and asks the replica for it)"
row "replication to S3, per point" "$PERPOINT s" "$REQS requests a point" "-" "-" "info"
echo "  ($NPOINTS one-chunk servers to s3rver on 127.0.0.1 behind the SigV4-checking proxy, one point each;"
echo "   measured before manifests were batched: 0.39 s and 19 requests a point)"
row "cold sequential read, 20ms RTT" "$RA_ON s" "the same, --readahead 0: $RA_OFF s" "$(ratio "$RA_OFF" "$RA_ON")x" "-" "info"
echo "  ($RAMB MiB point, 1 MiB O_DIRECT reads, no hydration; read-ahead's largest window 8 MiB)"
if [[ ${BENCH_REMOTE_BOOT:-1} == 1 ]]; then
	r=$(ratio "$LOOP" "$LOCAL")
	row "cold boot, all remote, loopback" "$LOOP s" "same boot off a local copy: $LOCAL s" "$r" "<= 1.05" "$(verdict "$r" "<=" 1.05)"
	r=$(ratio "$RTT" "$LOCAL")
	row "cold boot, all remote, 20ms RTT" "$RTT s" "same boot off a local copy: $LOCAL s" "$r" "<= 1.30" "$(verdict "$r" "<=" 1.30)"
	row "cold boot, nbdfuse + nbdkit cow/curl, loopback" "$PLOOP s" "same boot off a local copy: $LOCAL s" "$(ratio "$PLOOP" "$LOCAL")" "-" "info"
	row "cold boot, nbdfuse + nbdkit cow/curl, 20ms RTT" "$PRTT s" "same boot off a local copy: $LOCAL s" "$(ratio "$PRTT" "$LOCAL")" "-" "info"
	row "cold boot, hotspare / peer, loopback" "$LOOP s" "nbdfuse + nbdkit cow/curl: $PLOOP s" "$(ratio "$LOOP" "$PLOOP")" "-" "info"
	row "cold boot, hotspare / peer, 20ms RTT" "$RTT s" "nbdfuse + nbdkit cow/curl: $PRTT s" "$(ratio "$RTT" "$PRTT")" "-" "info"
	echo "  (peer: nbdkit $(nbdkit --version | cut -d' ' -f2) curl plugin + cow filter on the raw image (same nginx, same proxy)"
	echo "   on a unix socket, nbdfuse $(nbdfuse --version | awk 'NR == 1 { print $2 }') with multi-conn; measured elsewhere: 1.5x local on loopback, 10.5x at 20 ms)"
fi

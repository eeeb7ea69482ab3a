#!/bin/bash
# A mounted spare's daemon holds no digest table: 1 TiB and 3 TiB sparse
# points (256 KiB chunks) keep their daemon's resident memory, read from
# /proc, under 16 MiB plus the per-chunk arrays (map, durable map, touched,
# suspect: a byte each; the zero map and the table's block sums: a bit and
# an eighth of a byte), through demand reads, writes, checkpoints, kill -9
# and remount, hydration. The table lives in STATE/digests: reused by the
# next mount, made again when damaged, and a block of it damaged under a
# running daemon never gives a wrong chunk.
. "$(dirname "$0")/../lib.sh"

# meson's MALLOC_PERTURB_ makes malloc write every page it hands out,
# arrays the daemon leaves untouched included: measure what runs in production.
unset MALLOC_PERTURB_
TIB=$((1 << 40))
CS=$((256 << 10))
# Under AddressSanitizer (the sanitizer tree runs this test too) shadow
# memory and the quarantine make RSS meaningless: the bound is not checked
# there, everything else is.
sanitized=false
case $(ldd "$HS" 2>/dev/null) in *libasan*) sanitized=true ;; esac
# kill9 MNT: kill -9 the mount's daemon and wait until it is gone (a
# process of an ASan build takes a while to die).
kill9() {
	local pid
	pid=$("$HS" status "$1" --json | json_get - pid)
	kill -9 "$pid"
	wait_for 60 eval "! proc_running $pid" || fail "daemon $pid did not die of kill -9"
}
# rss_ok MNT WHAT: the daemon's VmRSS is within the bound for its chunks.
rss_ok() {
	local pid size rss nchunks bound
	pid=$("$HS" status "$1" --json | json_get - pid)
	size=$("$HS" status "$1" --json | json_get - size)
	rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$pid/status")
	nchunks=$(((size + CS - 1) / CS))
	bound=$(((16 << 20) + nchunks * 4 + nchunks / 8 + nchunks / 8))
	echo "$2: daemon RSS $((rss >> 10)) KiB (bound $((bound >> 10)) KiB for $nchunks chunks$($sanitized && echo '; not checked under ASan'))"
	$sanitized || [ "$rss" -le "$bound" ] || fail "$2: daemon RSS $((rss >> 10)) KiB is over $((bound >> 10)) KiB"
}

# A 1 TiB image: 8 regions of 4 MiB of data across it, the rest holes.
truncate -s 1T "$T/one.img"
for k in 0 1 2 3 4 5 6 7; do
	head -c 4M /dev/urandom | dd of="$T/one.img" bs=1M seek=$((k * 131072 + 7)) conv=notrunc status=none
done
"$HS" init "$T/store" >/dev/null
"$HS" snapshot "$T/store" one "$T/one.img" >/dev/null
id=$("$HS" points "$T/store" one --json | json_get - 0 id)
mkdir "$T/mnt"
# cmp_at OFFSET LEN: the mount reads the image's bytes there.
cmp_at() {
	cmp <(dd if="$T/mnt/one.img" bs=1M iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none) \
		<(dd if="$T/one.img" bs=1M iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none) ||
		fail "the mount does not read the image's bytes at $1"
}

hs_mount_at "$T/mnt" "$T/store" "one@$id" "$T/mnt" --state "$T/state" --hydrate-threads 0
[ -f "$T/state/digests" ] || fail "no STATE/digests"
rss_ok "$T/mnt" "1 TiB, mounted"
cmp_at $((7 << 20)) $((4 << 20))
cmp_at $((3 * 131072 << 20)) $((12 << 20))
rss_ok "$T/mnt" "1 TiB, after demand reads and read-ahead"

# Writes and two checkpoints: the base of the second is kept in the state.
# guest_write TEXT OFFSET: written through the mount (synced), and into the
# image as what the spare's disk should read from now on.
guest_write() {
	printf '%s' "$1" | dd of="$T/mnt/one.img" bs=1 seek="$2" conv=notrunc,fsync status=none
	printf '%s' "$1" | dd of="$T/one.img" bs=1 seek="$2" conv=notrunc status=none
}
guest_write 'written by the guest' $((5 * 131072 << 20))
"$HS" checkpoint "$T/mnt" --json >"$T/cp1.json"
[ "$(json_get "$T/cp1.json" added)" = true ] || fail "the first checkpoint added no point"
[ -f "$T/state/checkpoint.digests" ] || fail "the checkpoint's base is not in the state"
guest_write 'written again' $((6 * 131072 << 20))
"$HS" checkpoint "$T/mnt" --json >"$T/cp2.json"
[ "$(json_get "$T/cp2.json" incremental)" = true ] || fail "the second checkpoint was not incremental"
[ "$(json_get "$T/cp2.json" chunks_read)" -eq 1 ] || fail "the second checkpoint read more than the changed chunk"
rss_ok "$T/mnt" "1 TiB, after two checkpoints"
# The second point is the spare's disk: read back through a view of it.
cp2=$(json_get "$T/cp2.json" point)
mkdir "$T/view"
hs_mount_at "$T/view" "$T/store" "one@$cp2" "$T/view" --state "$T/vstate" --read-only --hydrate-threads 0
python3 - "$T/view/one.img" "$T/one.img" <<'PY'
import os, sys
v, o = os.open(sys.argv[1], os.O_RDONLY), os.open(sys.argv[2], os.O_RDONLY)
G = 128 << 30
assert os.pread(v, 20, 5 * G) == b"written by the guest"
assert os.pread(v, 13, 6 * G) == b"written again"
assert os.pread(v, 4 << 20, 7 << 20) == os.pread(o, 4 << 20, 7 << 20)
assert os.pread(v, 4096, 5 * G + 4096) == bytes(4096)
assert os.pread(v, 4 << 20, 5 * G) == os.pread(o, 4 << 20, 5 * G)
PY
"$HS" umount "$T/view"

# kill -9, then a remount checks what the state holds (after an unclean
# stop) and hydrates: still within the bound, still the right bytes.
kill9 "$T/mnt"
hs_mount_at "$T/mnt" "$T/store" "one@$id" "$T/mnt" --state "$T/state" --hydrate-threads 2
[ ! -f "$T/state/checkpoint.digests" ] || fail "a dead daemon's checkpoint base was kept"
rss_ok "$T/mnt" "1 TiB, remounted after kill -9"
wait_for 120 sh -c "'$HS' status '$T/mnt' --json | grep -q '\"hydrated\": *true'" || fail "hydration did not end"
rss_ok "$T/mnt" "1 TiB, hydrated"
cmp_at $((7 << 20)) $((4 << 20))
cmp_at $((5 * 131072 << 20)) $((4 << 20))
"$HS" scrub "$T/mnt" >/dev/null
rss_ok "$T/mnt" "1 TiB, after a scrub"
"$HS" umount "$T/mnt"

# The table is reused by the next mount: not written again.
ino=$(stat -c %i "$T/state/digests")
hs_mount_at "$T/mnt" "$T/store" "one@$id" "$T/mnt" --state "$T/state" --hydrate-threads 0
[ "$(stat -c %i "$T/state/digests")" = "$ino" ] || fail "the table was written again by a remount"
"$HS" umount "$T/mnt"

# A state written before tables were kept has the same files but no
# STATE/digests: it mounts, the table is made then (no word of damage), and
# what the guest wrote is still read; also after an unclean stop.
for stop in clean kill; do
	if [ $stop = kill ]; then
		hs_mount_at "$T/mnt" "$T/store" "one@$id" "$T/mnt" --state "$T/state" --hydrate-threads 0
		kill9 "$T/mnt"
		"$HS" umount "$T/mnt" 2>/dev/null || umount -l "$T/mnt"
	fi
	rm "$T/state/digests"
	"$HS" mount "$T/store" "one@$id" "$T/mnt" --state "$T/state" --hydrate-threads 0 >/dev/null 2>"$T/err" ||
		{ cat "$T/err"; fail "$stop: a state without digests does not mount"; }
	on_exit "'$HS' umount '$T/mnt' || umount -l '$T/mnt'"
	! grep -q damaged "$T/err" || { cat "$T/err"; fail "$stop: a missing table was called damage"; }
	[ -f "$T/state/digests" ] || fail "$stop: the table was not made"
	cmp_at $((5 * 131072 << 20)) $((4 << 20))
	cmp_at $((6 * 131072 << 20)) $((4 << 20))
	cmp_at $((7 << 20)) $((4 << 20))
	rss_ok "$T/mnt" "1 TiB, a state without digests (after a $stop stop)"
	"$HS" umount "$T/mnt"
done

# Damaged at rest (a flipped header byte; the zero map's bits of chunks
# 24-31, data chunks among them, flipped: they would read as zeros; a cut):
# made again at mount, and the mount says so in one line.
for damage in flip map cut; do
	case $damage in
	flip) printf 'X' | dd of="$T/state/digests" bs=1 seek=100 conv=notrunc status=none ;;
	map)
		[ "$(od -An -tx1 -j 4099 -N1 "$T/state/digests" | tr -d ' ')" = 0f ] || fail "chunks 24-31 are not 4 zero, 4 data"
		printf '\xff' | dd of="$T/state/digests" bs=1 seek=4099 conv=notrunc status=none
		;;
	cut) truncate -s 100000 "$T/state/digests" ;;
	esac
	"$HS" mount "$T/store" "one@$id" "$T/mnt" --state "$T/state" --hydrate-threads 0 >/dev/null 2>"$T/err"
	on_exit "'$HS' umount '$T/mnt' || umount -l '$T/mnt'"
	grep -q "digests is damaged.*made again from the store" "$T/err" || { cat "$T/err"; fail "$damage: no word of the damage"; }
	[ "$(stat -c %s "$T/state/digests")" -gt 100000 ] || fail "$damage: the table was not made again"
	cmp_at $((7 << 20)) $((4 << 20))
	"$HS" umount "$T/mnt"
done

# A block damaged under a running daemon, in a way only its checksum sees:
# two real digests of the same block swapped (chunks 28 and 29: data of the
# first region, not fetched yet in this new state).
hs_mount_at "$T/mnt" "$T/store" "one@$id" "$T/mnt" --state "$T/fresh" --hydrate-threads 0 --readahead 0
python3 - "$T/fresh/digests" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
n = (1 << 40) // (256 << 10)
at = lambda i: os.fstat(fd).st_size - (n - i) * 32
a, b = os.pread(fd, 32, at(28)), os.pread(fd, 32, at(29))
assert a != b and a != bytes(32) and b != bytes(32)
os.pwrite(fd, b, at(28)); os.pwrite(fd, a, at(29))
PY
cmp_at $((28 * CS)) $((2 * CS))
grep -q "digests is damaged (block 0 of its digests fails its checksum): 1 blocks rewritten from the store" \
	"$T/fresh/daemon.log" || { cat "$T/fresh/daemon.log"; fail "the damaged block was not rewritten"; }
[ "$("$HS" status "$T/mnt" --json | json_get - errors)" -eq 0 ] || fail "errors counted for a repaired table"
"$HS" umount "$T/mnt"

# The table cannot be written (a full disk, a failing sync or rename, by
# the fault layer): the mount fails in one line and leaves neither the table
# nor its temporary; the next mount makes it.
if [ -n "${HSFAULT:-}" ]; then
	for c in write:ENOSPC fsync:EIO rename:EIO; do
		rm -f "$T/fault.log"
		rc=0
		env LD_PRELOAD="$HSFAULT" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
			HSFAULT_OPS="${c%%:*}" HSFAULT_PATH='*digests*' HSFAULT_NTH=1 HSFAULT_ERR="${c##*:}" \
			HSFAULT_LOG="$T/fault.log" "$HS" mount "$T/store" "one@$id" "$T/mnt" --state "$T/fs-$c" \
			--hydrate-threads 0 >/dev/null 2>"$T/err" || rc=$?
		on_exit "'$HS' umount '$T/mnt' 2>/dev/null || umount -l '$T/mnt' 2>/dev/null || true"
		[ -s "$T/fault.log" ] || fail "$c: the fault was never injected"
		[ "$rc" -ne 0 ] || fail "$c: the mount succeeded without its table"
		[ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "cannot write .*digests" "$T/err" || { cat "$T/err"; fail "$c: not a one-line error"; }
		! ls -a "$T/fs-$c" | grep -q digests || fail "$c: a table or its temporary was left"
		hs_mount_at "$T/mnt" "$T/store" "one@$id" "$T/mnt" --state "$T/fs-$c" --hydrate-threads 0
		cmp_at $((7 << 20)) $((4 << 20))
		"$HS" umount "$T/mnt"
	done
fi

# 3 TiB (12 Mi chunks): mounted, read at its far end, within the bound.
truncate -s 3T "$T/three.img"
printf 'the very end' | dd of="$T/three.img" bs=1 seek=$((3 * TIB - 12)) conv=notrunc status=none
"$HS" snapshot "$T/store" three "$T/three.img" >/dev/null
rm -f "$T/one.img"
mkdir "$T/mnt3"
hs_mount_at "$T/mnt3" "$T/store" three "$T/mnt3" --state "$T/state3" --hydrate-threads 2
python3 -c "
import os
fd = os.open('$T/mnt3/three.img', os.O_RDONLY)
assert os.pread(fd, 12, 3 * (1 << 40) - 12) == b'the very end'
assert os.pread(fd, 4096, 2 * (1 << 40)) == bytes(4096)
"
wait_for 120 sh -c "'$HS' status '$T/mnt3' --json | grep -q '\"hydrated\": *true'" || fail "3 TiB: hydration did not end"
rss_ok "$T/mnt3" "3 TiB, hydrated"
pass "1 TiB and 3 TiB points: daemon RSS within 16 MiB + per-chunk arrays; the table in the state is reused, made again and repaired"

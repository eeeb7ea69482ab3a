#!/bin/bash
# The spare on a FUSE mount: exact bytes from seed + store, hydration into a
# complete raw image, writes through O_DIRECT (fio --verify), discard,
# SEEK_DATA/SEEK_HOLE, chmod/chown kept, and umount waiting for the daemon.
. "$(dirname "$0")/../lib.sh"

make_ext4 "$T/disk.img" 48
"$HS" init "$T/store" --chunk-size 256K >/dev/null
"$HS" snapshot --ship "$T/usb" "$T/store" mail01 "$T/disk.img" >/dev/null
head -c 3000000 /dev/urandom >"$T/new.bin"
ext4_write "$T/disk.img" /srv/data/new.bin "$T/new.bin"
"$HS" backup "$T/store" mail01 "$T/disk.img" >/dev/null
mkdir "$T/mnt"

# Cold, with no hydration: every byte read on demand from the seed and the store.
hs_mount_at "$T/mnt" "$T/store" mail01 "$T/mnt" --state "$T/state" --seed "$T/usb" --hydrate-threads 0
[ "$(ls "$T/mnt")" = mail01.img ] || fail "mount shows $(ls "$T/mnt")"
cmp "$T/mnt/mail01.img" "$T/disk.img" || fail "the image differs from the disk"
"$HS" status "$T/mnt" --json >"$T/st.json"
for k in size chunk_size chunks_total chunks_present chunks_written bytes_from_seed bytes_from_store hydrate_bytes_per_s errors; do
	json_get "$T/st.json" "$k" >/dev/null || fail "status has no $k"
done
[ "$(json_get "$T/st.json" size)" -eq $((48 * 1048576)) ] || fail "status size"
[ "$(json_get "$T/st.json" bytes_from_seed)" -gt 0 ] && [ "$(json_get "$T/st.json" bytes_from_store)" -gt 2900000 ] || fail "bytes from seed/store: $(cat "$T/st.json")"
[ "$(json_get "$T/st.json" errors)" -eq 0 ] || fail "errors in status"
"$HS" status "$T/mnt" | grep -q "hydration" || fail "status for people"
e2fsck -fn "$T/mnt/mail01.img" >/dev/null 2>&1 || fail "e2fsck through the mount"
pass "cold reads through the mount equal the disk (cmp, e2fsck); status has the contract's fields"

# O_DIRECT (QEMU cache=none) reads and verified writes.
dd if="$T/mnt/mail01.img" of=/dev/null bs=1M iflag=direct status=none || fail "O_DIRECT read"
timeout 120 fio --name=verify --filename="$T/mnt/mail01.img" --direct=1 --ioengine=libaio --iodepth=16 \
	--rw=randwrite --bs=4k --offset=16M --size=8M --verify=crc32c --do_verify=1 --verify_state_save=0 --output="$T/fio.txt" \
	|| { cat "$T/fio.txt"; fail "fio --verify through the mount"; }
grep -q "err= 0" "$T/fio.txt" || fail "fio reported errors"
timeout 120 fio --name=seqv --filename="$T/mnt/mail01.img" --direct=1 --ioengine=libaio --iodepth=8 \
	--rw=write --bs=1M --offset=32M --size=4M --verify=sha256 --do_verify=1 --verify_state_save=0 --output="$T/fio2.txt" \
	|| { cat "$T/fio2.txt"; fail "fio sequential verify"; }
[ "$("$HS" status "$T/mnt" --json | json_get - chunks_written)" -ge 40 ] || fail "chunks_written after fio"
pass "O_DIRECT reads and fio --verify writes (random 4k and sequential 1M)"

# Discard reads back as zeros; SEEK_DATA/SEEK_HOLE follow the point and the writes.
python3 - "$T/mnt/mail01.img" <<'PY'
import ctypes, ctypes.util, os, sys
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
fd = os.open(sys.argv[1], os.O_RDWR)
cs = 256 * 1024
# Whole chunk and a partial range.
for off, n in ((40 * 1024 * 1024, cs), (41 * 1024 * 1024 + 1000, 5000)):
    if libc.fallocate(fd, 3, off, n) != 0:  # PUNCH_HOLE | KEEP_SIZE
        raise SystemExit("fallocate failed: %d" % ctypes.get_errno())
    assert os.pread(fd, n, off) == b"\0" * n, "discarded range is not zeros"
os.fsync(fd)
size = os.fstat(fd).st_size
d = os.lseek(fd, 0, os.SEEK_DATA)
h = os.lseek(fd, d, os.SEEK_HOLE)
assert d < size and d < h <= size, (d, h)
# Walk all data/hole extents: every hole must read as zeros.
off = 0
while off < size:
    try:
        d = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        d = size
    if d > off:
        step = 1 << 20
        for p in range(off, d, step):
            assert os.pread(fd, min(step, d - p), p).count(0) == min(step, d - p), "hole with data at %d" % p
    if d >= size:
        break
    off = os.lseek(fd, d, os.SEEK_HOLE)
PY
pass "discard reads as zeros; SEEK_DATA/SEEK_HOLE extents are exact"

# chmod/chown are kept in the state across remounts.
chown 4242:4343 "$T/mnt/mail01.img"
chmod 0640 "$T/mnt/mail01.img"
cp --sparse=always "$T/mnt/mail01.img" "$T/expected.img"
pid=$("$HS" status "$T/mnt" --json | json_get - pid)
"$HS" umount "$T/mnt"
! proc_running "$pid" || fail "umount returned before the daemon exited"
[ -e "$T/state/clean" ] || fail "umount returned before the daemon had flushed its state (no clean mark)"
! mountpoint -q "$T/mnt" || fail "still mounted after umount"
hs_mount_at "$T/mnt" "$T/store" mail01 "$T/mnt" --state "$T/state" --seed "$T/usb" --hydrate-threads 0
# One open of the status file reads one document, however the spare moves
# between its reads: here the image is opened for writing in the middle.
python3 - "$T/mnt" <<'PY' || fail "a status read in pieces is not one document"
import json, os, sys
mnt = sys.argv[1]
fd = os.open(mnt + "/.hotspare-status", os.O_RDONLY)
head = os.read(fd, 40)
img = os.open(mnt + "/mail01.img", os.O_RDWR)
rest = b""
while True:
    b = os.read(fd, 40)
    if not b:
        break
    rest += b
os.close(fd)
doc = json.loads(head + rest)
assert doc["open_writers"] == 0, "the status read in pieces mixes two moments"
fd = os.open(mnt + "/.hotspare-status", os.O_RDONLY)
assert json.loads(os.read(fd, 65536))["open_writers"] == 1, "a new open does not see the writer"
os.close(img)
PY
# Readers of the status file killed mid-read: the daemon's copy of a closed
# open is gone when a late read of it runs, and it stays up.
for i in $(seq 40); do
	pids=
	for k in 1 2 3 4; do
		python3 -c '
import os, sys
while True:
    fd = os.open(sys.argv[1], os.O_RDONLY)
    while os.read(fd, 1):
        pass
    os.close(fd)' "$T/mnt/.hotspare-status" &
		pids+=" $!"
	done
	sleep 0.$((RANDOM % 3 + 1))
	kill -9 $pids; wait $pids 2>/dev/null || true
	"$HS" status "$T/mnt" >/dev/null || fail "the daemon died after a status reader was killed (round $i)"
done
"$HS" umount "$T/mnt"
# Two umounts at once: each one either waits for the daemon like the other
# and succeeds, or finds nothing mounted; neither reports a busy mount or a
# failed detach.
for i in $(seq 8); do
	hs_mount_at "$T/mnt" "$T/store" mail01 "$T/mnt" --state "$T/state" --seed "$T/usb" --hydrate-threads 0
	"$HS" umount "$T/mnt" >"$T/u1" 2>&1 & u1=$!
	"$HS" umount "$T/mnt" >"$T/u2" 2>&1 & u2=$!
	rc1=0 rc2=0
	wait $u1 || rc1=$?
	wait $u2 || rc2=$?
	for k in 1 2; do
		rc=rc$k
		[ "${!rc}" = 0 ] || grep -q "is not mounted$" "$T/u$k" || fail "concurrent umount (round $i): $(cat "$T/u$k")"
	done
	[ "$rc1" = 0 ] || [ "$rc2" = 0 ] || fail "neither of two concurrent umounts succeeded (round $i)"
	! grep -q " $T/mnt " /proc/self/mountinfo || fail "still mounted after two umounts (round $i)"
done
hs_mount_at "$T/mnt" "$T/store" mail01 "$T/mnt" --state "$T/state" --seed "$T/usb"
[ "$(stat -c '%u:%g %a' "$T/mnt/mail01.img")" = "4242:4343 640" ] || fail "owner/mode after remount: $(stat -c '%u:%g %a' "$T/mnt/mail01.img")"
cmp "$T/mnt/mail01.img" "$T/expected.img" || fail "the image changed across a remount"
pass "umount waits for the daemon; owner, mode and writes survive a remount"

# Hydration completes: the state's file is then a complete raw image.
wait_for 60 sh -c "'$HS' status '$T/mnt' --json | grep -q '\"hydrated\":true'" || fail "hydration did not complete"
"$HS" umount "$T/mnt"
cmp "$T/state/disk.img" "$T/expected.img" || fail "the hydrated state file is not the image"
pass "hydration completes; the state's disk.img is a complete raw image"

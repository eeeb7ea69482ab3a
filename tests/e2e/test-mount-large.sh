#!/bin/bash
# Big images: a sparse 3 TiB point (beyond 2 TiB: 64-bit offsets everywhere)
# mounts at once, reads and writes at its far end, and seeks over its holes.
. "$(dirname "$0")/../lib.sh"

truncate -s 3T "$T/big.img"
printf 'start of the disk' | dd of="$T/big.img" conv=notrunc status=none
printf 'near 2.5 TiB' | dd of="$T/big.img" bs=1 seek=$((2560 * 1024 * 1024 * 1024)) conv=notrunc status=none
printf 'the very end' | dd of="$T/big.img" bs=1 seek=$((3 * 1024 * 1024 * 1024 * 1024 - 12)) conv=notrunc status=none
"$HS" init "$T/store" --chunk-size 4M >/dev/null
"$HS" snapshot "$T/store" big01 "$T/big.img" --json >"$T/s.json"
[ "$(json_get "$T/s.json" size)" -eq $((3 << 40)) ] || fail "snapshot size"
mkdir "$T/mnt"
start=$(date +%s%N)
hs_mount_at "$T/mnt" "$T/store" big01 "$T/mnt" --state "$T/state" --hydrate-threads 0
secs=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
echo "mount of a 3 TiB point took $secs s"
[ "$(stat -c %s "$T/mnt/big01.img")" -eq $((3 << 40)) ] || fail "image size"
python3 - "$T/mnt/big01.img" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
T = 1 << 40
assert os.pread(fd, 17, 0) == b"start of the disk"
assert os.pread(fd, 12, 2560 << 30) == b"near 2.5 TiB"
assert os.pread(fd, 12, 3 * T - 12) == b"the very end"
assert os.pread(fd, 100, 3 * T) == b""
os.pwrite(fd, b"written past 2 TiB", 2 * T + 12345)
os.fsync(fd)
assert os.pread(fd, 18, 2 * T + 12345) == b"written past 2 TiB"
d = os.lseek(fd, 4 << 20, os.SEEK_DATA)
assert 2 * T <= d <= 2 * T + 12345, d  # inside the written chunk, at or before the write
h = os.lseek(fd, 0, os.SEEK_HOLE)
assert h == 4 << 20, h
try:
    os.pwrite(fd, b"x", 3 * T)
    raise SystemExit("a write past the end succeeded")
except OSError:
    pass
PY
"$HS" umount "$T/mnt"
hs_mount_at "$T/mnt" "$T/store" big01 "$T/mnt" --state "$T/state" --hydrate-threads 0
python3 -c "
import os,sys
fd=os.open('$T/mnt/big01.img',os.O_RDONLY)
assert os.pread(fd,18,(2<<40)+12345)==b'written past 2 TiB'
"
awk -v s="$secs" 'BEGIN { exit !(s < 5) }' || fail "mounting a 3 TiB point took $secs s"
pass "a 3 TiB sparse point mounts in $secs s; reads, writes and seeks past 2 TiB"

#!/bin/bash
# make-data-disk.sh OUT.img [SEED] [MIB]: a test server's data disk (D:), for the tests of servers
# with several disks: an MBR partition table with one partition holding ext4 (label hsdata) with
# /.hotspare-data-disk and /data.bin (3 MiB of deterministic pseudo-random data from SEED, default
# 1), made without mounting anything (mkfs.ext4 -d at the partition's offset). The test disk's init
# mounts it read-only at boot and prints "HOTSPARE-DATADISK <device> <sha256 of data.bin>".
# Rerunning with another SEED over the same file is "a day" on the data disk. MIB (default 32) is
# the disk's size; an existing larger file keeps its size. Prints the sha256 of data.bin.
set -euo pipefail
PROG=make-data-disk
die() { echo "$PROG: $*" >&2; exit 1; }
[ $# -ge 1 ] && [ $# -le 3 ] || die "usage: $0 OUT.img [SEED] [MIB]"
OUT=$1 SEED=${2:-1} MIB=${3:-32}
[[ $SEED =~ ^[A-Za-z0-9._-]+$ ]] || die "bad seed: $SEED"
[[ $MIB =~ ^[0-9]+$ ]] && [ "$MIB" -ge 8 ] && [ "$MIB" -le 65536 ] || die "bad size: $MIB MiB"
for t in sfdisk mkfs.ext4 openssl; do command -v "$t" >/dev/null || die "$t is missing (fdisk, e2fsprogs, openssl)"; done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hs-data.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/root"
key=$(printf 'hotspare-data-disk-%s' "$SEED" | sha256sum | cut -c1-64)
head -c $((3 * 1024 * 1024)) /dev/zero |
	openssl enc -aes-256-ctr -nosalt -K "$key" -iv 00000000000000000000000000000000 >"$WORK/root/data.bin"
echo "hotspare data disk $SEED" >"$WORK/root/.hotspare-data-disk"
size=$((MIB * 1024 * 1024))
[ -f "$OUT" ] && [ "$(stat -c %s "$OUT")" -gt "$size" ] && size=$(stat -c %s "$OUT")
truncate -s "$size" "$OUT"
# The table once (rewriting it over the filesystem only makes sfdisk warn).
sfdisk --dump "$OUT" 2>/dev/null | grep -q 'start= *2048' || echo "start=2048, type=83" | sfdisk -q --label dos "$OUT"
# A fixed UUID and time: the same seed gives the same filesystem, so a day changes few chunks.
E2FSPROGS_FAKE_TIME=1700000000 mkfs.ext4 -q -F -L hsdata -U 6d8f0c1e-5a5b-4c3d-9e2f-0a1b2c3d4e5f \
	-E offset=1048576,lazy_itable_init=0,lazy_journal_init=0 -d "$WORK/root" "$OUT" $(((size - 1048576) / 1024))k
sha256sum "$WORK/root/data.bin" | cut -d' ' -f1

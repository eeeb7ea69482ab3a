#!/bin/bash
# test-disk-day.sh IMG [SEED]: "a day" on a test disk made by make-test-disk.sh: replace
# /srv/data.bin in the image's first partition with new deterministic content (seeded by SEED,
# default 1; seed 0 is the content of a fresh disk), through a loop device at the partition's
# offset. Prints the new sha256 of the data file (just the hex) on stdout.
# Needs root (loop device, mount); installs the packages it needs.
set -euo pipefail

PROG=test-disk-day
die() { echo "$PROG: $*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 IMG [SEED]"
IMG=$1
SEED=${2:-1}
DATA_BYTES=$((4 * 1024 * 1024))   # as in make-test-disk.sh
[ -f "$IMG" ] || [ -b "$IMG" ] || die "no such image: $IMG"
[[ $SEED =~ ^[A-Za-z0-9._-]+$ ]] || die "bad seed: $SEED"
[ "$(id -u)" -eq 0 ] || die "must run as root (loop device, mount)"

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for p in fdisk e2fsprogs util-linux mount openssl; do pkg_installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
	echo "$PROG: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Same generator as make-test-disk.sh: AES-256-CTR keystream, key from the seed.
gen_data() { # SEED BYTES
	local key
	key=$(printf 'hotspare-test-data-%s' "$1" | sha256sum | cut -c1-64)
	head -c "$2" /dev/zero | openssl enc -aes-256-ctr -nosalt -K "$key" -iv 00000000000000000000000000000000
}

read -r start size < <(sfdisk --dump "$IMG" 2>/dev/null |
	sed -n 's/.*start= *\([0-9]*\), *size= *\([0-9]*\).*/\1 \2/p' | head -n1) || true
[ -n "${start:-}" ] && [ -n "${size:-}" ] || die "no partition table in $IMG"

MNT=$(mktemp -d "${TMPDIR:-/tmp}/hs-day.XXXXXX")
LOOP=
cleanup() {
	local rc=$?
	if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" 2>/dev/null || umount -l "$MNT" || true; fi
	[ -z "$LOOP" ] || losetup -d "$LOOP" 2>/dev/null || true
	rmdir "$MNT" 2>/dev/null || rm -rf "$MNT"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

LOOP=$(losetup -f --show -o $((start * 512)) --sizelimit $((size * 512)) "$IMG")
mount -t ext4 "$LOOP" "$MNT" || die "cannot mount the filesystem of $IMG"
[ -e "$MNT/.hotspare-test-disk" ] || die "$IMG is not a hotspare test disk"
gen_data "$SEED" "$DATA_BYTES" >"$MNT/srv/data.bin.new"
sync "$MNT/srv/data.bin.new"
mv -f "$MNT/srv/data.bin.new" "$MNT/srv/data.bin"
umount "$MNT"
# Read back from the device after the umount: what a reader of the image will see.
mount -t ext4 -o ro "$LOOP" "$MNT"
SUM=$(sha256sum "$MNT/srv/data.bin" | cut -d' ' -f1)
umount "$MNT"
losetup -d "$LOOP"; LOOP=
echo "$SUM"

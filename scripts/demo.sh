#!/bin/bash
# The main job on an embedded default: a demo server disk (MBR partition table
# and an ext4 root with data), a snapshot shipped to a "USB drive" store, a day
# of changes, a daily backup to a local directory store, then the points, a
# verify and a restore of the latest point compared with the disk.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
hs_install_deps
hs_build build
HS=$PWD/build/tools/hotspare
D=${DEMO_DIR:-/var/tmp/hotspare-demo}
rm -rf "$D"; mkdir -p "$D"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "making the demo server disk (mail01: 256 MiB, MBR, ext4 root with mail and data)"
root=$D/rootfs
mkdir -p "$root/etc" "$root/var/mail" "$root/srv/data" "$root/var/log"
echo mail01 >"$root/etc/hostname"
for u in alice bob carol; do seq 1 4000 | sed "s/^/From: $u@example.com message /" >"$root/var/mail/$u"; done
head -c 48M /dev/urandom >"$root/srv/data/accounts.db"
seq 1 50000 | sed 's/^/Nov 25 12:00:00 mail01 postfix[42]: queued message /' >"$root/var/log/mail.log"
truncate -s 255M "$D/part.img"
mkfs.ext4 -q -F -L root -d "$root" "$D/part.img"
truncate -s 256M "$D/mail01.img"
echo 'start=2048, type=83, bootable' | sfdisk -q "$D/mail01.img"
dd if="$D/part.img" of="$D/mail01.img" bs=1M seek=1 conv=notrunc,sparse status=none
rm -rf "$root"

step "hotspare init: a local directory store"
"$HS" init "$D/store"
step "hotspare snapshot --ship: the full disk to the USB drive, its index to the store"
"$HS" snapshot --ship "$D/usb" "$D/store" mail01 "$D/mail01.img"
cp --sparse=always "$D/mail01.img" "$D/mail01-day0.img"

step "a day of work: new mail, a grown database"
seq 1 3000 | sed 's/^/From: dave@example.com new message /' >"$D/dave"
head -c 4M /dev/urandom >"$D/new.db"
debugfs -w -R "write $D/dave /var/mail/dave" "$D/part.img" >/dev/null 2>&1
debugfs -w -R "write $D/new.db /srv/data/ledger-2026-11.db" "$D/part.img" >/dev/null 2>&1
dd if="$D/part.img" of="$D/mail01.img" bs=1M seek=1 conv=notrunc,sparse status=none
rm -f "$D/dave" "$D/new.db" "$D/part.img"

step "hotspare backup: only chunks that neither the store nor the snapshot holds"
"$HS" backup "$D/store" mail01 "$D/mail01.img"

step "hotspare points"
"$HS" points "$D/store" mail01

step "hotspare verify (the shipped drive is a seed)"
"$HS" verify "$D/store" mail01 --seed "$D/usb"

step "hotspare restore of the latest point, with the drive as seed"
"$HS" restore "$D/store" mail01 "$D/restored.img" --seed "$D/usb"
cmp "$D/restored.img" "$D/mail01.img" && echo "restored image is identical to the server's disk (cmp)"

step "result"
printf '%-34s %s\n' "server disk" "$(du -h --apparent-size "$D/mail01.img" | cut -f1) ($D/mail01.img)"
printf '%-34s %s\n' "USB drive (snapshot chunks)" "$(du -sh "$D/usb" | cut -f1) ($D/usb)"
printf '%-34s %s\n' "store (daily backup + indexes)" "$(du -sh "$D/store" | cut -f1) ($D/store)"
echo "Try: $HS points $D/store mail01 --json"

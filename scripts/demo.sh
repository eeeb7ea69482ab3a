#!/bin/bash
# The main job on an embedded default: a bootable demo server disk, a snapshot
# shipped to a "USB drive" store, a day of changes, a daily backup to a local
# directory store, then the hot spare: mounted with the drive as seed and
# booted by QEMU straight off the mount while it hydrates in the background.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/deps.sh
hs_install_deps
hs_build build
export HOTSPARE=$ROOT/build/tools/hotspare
. tests/lib.sh   # $HS, a temporary directory and clean-up on exit
. tests/qemu.sh  # the accelerator (KVM if it works, else TCG) and boot()
D=${DEMO_DIR:-/var/tmp/hotspare-demo}
if mountpoint -q "$D/spares" 2>/dev/null; then "$HS" umount "$D/spares" || umount -l "$D/spares"; fi
rm -rf "$D"; mkdir -p "$D/spares"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "the demo server disk: mail01 (MBR, ext4 root, Linux kernel, a data file)"
sha0=$(scripts/make-test-disk.sh "$D/mail01.img")
echo "$D/mail01.img: $(du -h --apparent-size "$D/mail01.img" | cut -f1), data checksum $sha0"

step "hotspare init: a local directory store"
"$HS" init "$D/store"
step "hotspare snapshot --ship: the whole disk to the USB drive, its index to the store"
"$HS" snapshot --ship "$D/usb" "$D/store" mail01 "$D/mail01.img"

step "a day of work on the server: its data file changes"
sha1=$(scripts/test-disk-day.sh "$D/mail01.img" 1)
echo "new data checksum $sha1"
step "hotspare backup: only chunks that neither the store nor the snapshot holds"
"$HS" backup "$D/store" mail01 "$D/mail01.img"
step "hotspare points"
"$HS" points "$D/store" mail01
step "hotspare verify (the shipped drive is a seed)"
"$HS" verify "$D/store" mail01 --seed "$D/usb"

step "disaster: mount the hot spare (drive as seed, the rest from the store on demand)"
on_exit "'$HS' umount '$D/spares' || umount -l '$D/spares'"
"$HS" mount "$D/store" mail01 "$D/spares" --state "$D/state" --seed "$D/usb"
step "boot it with QEMU straight off the mount (cache=none)"
boot demo "$sha1" -nic none -drive "file=$D/spares/mail01.img,format=raw,if=virtio,cache=$CACHE_MODE"
grep -a '^HOTSPARE-' "$T/demo.serial" | tr -d '\r'
echo "booted in $BOOT_SECONDS s ($ACCEL): the marker and the day's data checksum are on the console"
step "hotspare status"
"$HS" status "$D/spares"
wait_for 60 sh -c "'$HS' status '$D/spares' --json | grep -q '\"hydrated\":true'" || true
"$HS" status "$D/spares" | grep hydration
"$HS" umount "$D/spares"

step "hotspare drill: boot the point in isolation, check its web server, verify it, report"
libvirt_up
HOTSPARE_TRACE_DIR=$D/boot-traces "$HS" drill "$D/store" mail01 --seed "$D/usb" --report "$D/drill" \
	--check-tcp 80 --timeout 300 --work-dir "$D"

step "result"
printf '%-36s %s\n' "server disk" "$(du -h --apparent-size "$D/mail01.img" | cut -f1) ($D/mail01.img)"
printf '%-36s %s\n' "USB drive (snapshot chunks)" "$(du -sh "$D/usb" | cut -f1) ($D/usb)"
printf '%-36s %s\n' "store (daily backup + indexes)" "$(du -sh "$D/store" | cut -f1) ($D/store)"
printf '%-36s %s\n' "spare state (hydrated image)" "$(du -sh "$D/state" | cut -f1) ($D/state/disk.img)"
printf '%-36s %s s\n' "boot off the cold spare" "$BOOT_SECONDS"
printf '%-36s %s\n' "drill report (for the customer)" "$D/drill/report.html"
echo "Mount it again: $HS mount $D/store mail01 $D/spares --state $D/state --seed $D/usb"

#!/bin/bash
# make-test-disk.sh OUT.img: a small bootable raw disk image built from Debian packages, for the
# end-to-end tests (a real guest that boots off hotspare's image).
#
#   MBR (syslinux-common's mbr.bin) | one bootable Linux partition at 1 MiB: ext4, holding
#   /boot/vmlinuz (Debian kernel), /boot/initrd.img (busybox-static + modules), extlinux,
#   /srv/data.bin (4 MiB of deterministic pseudo-random data), /etc/passwd.
#
# The guest's /init loads the disk/NIC modules (virtio, AHCI/SATA, e1000 ...), finds and mounts the
# root read-write, increments /var/lib/hotspare/boot-count, syncs, remounts the root read-only
# (so a guest killed afterwards leaves a clean filesystem), then prints on the serial console
#   HOTSPARE-BOOT-OK
#   HOTSPARE-DATA-SHA256 <sha256 of /srv/data.bin>
#   HOTSPARE-BOOT-COUNT <n>
#   HOTSPARE-DEVICES root=<device> nics=<if>:<driver>,... (or none)
#   HOTSPARE-HTTP <if>:80 (busybox httpd at 10.0.2.15, QEMU user networking's guest address) or none
#   HOTSPARE-DATADISK <device> <sha256 of its data.bin> (a data disk made by make-data-disk.sh) or none none
#   HOTSPARE-HOOK <device> (a hook disk made by make-hook-disk.sh, whose /run it starts), if one is attached
# and runs busybox init with a getty on ttyS0 (a "login:" prompt; root has no password). The VGA
# console (tty1) shows a banner (HOTSPARE-SCREEN, the boot count and the data checksum) and a getty
# of its own, for drills that take screenshots.
# If no root disk shows up within 30 s it prints HOTSPARE-BOOT-FAILED and powers off.
#
# Prints the sha256 of /srv/data.bin on stdout. The image is cached in ${HS_CACHE:-/var/cache/
# hotspare-test}, keyed by this script and the package versions it is made of; a cached image is
# just copied (sparse). Needs root (loop devices, mount); installs the packages it needs.
#
# Environment: HS_CACHE (cache directory), HS_TEST_KERNEL_PKG (default linux-image-amd64: the
# generic kernel, the Debian kernel that has both the virtio and the AHCI/e1000 drivers a
# Windows-like QEMU profile needs; linux-image-cloud-amd64 boots virtio only: it has no AHCI nor
# e1000 driver).
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
PROG=make-test-disk
die() { echo "$PROG: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUT.img"
OUT=$1
[ "$(id -u)" -eq 0 ] || die "must run as root (loop devices, mount)"
[ -d "$(dirname -- "$OUT")" ] || die "directory of $OUT does not exist"

CACHE=${HS_CACHE:-/var/cache/hotspare-test}
KPKG=${HS_TEST_KERNEL_PKG:-linux-image-amd64}
DISK_MIB=64          # whole image
DATA_BYTES=$((4 * 1024 * 1024))
PART_START=2048      # sectors: 1 MiB

# Whatever happens: unmount, detach the loop device, remove the temporary files.
WORK='' MNT='' LOOP='' OUT_TMP=''
cleanup() {
	local rc=$?
	if [ -n "$MNT" ] && mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" 2>/dev/null || umount -l "$MNT" || true; fi
	[ -z "$LOOP" ] || losetup -d "$LOOP" 2>/dev/null || true
	[ -z "$WORK" ] || rm -rf "$WORK"
	[ -z "$OUT_TMP" ] || rm -f "$OUT_TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- packages -------------------------------------------------------------------------------
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
ensure_pkgs() {
	local missing=() p
	for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "$PROG: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
ensure_pkgs "$KPKG" busybox-static extlinux syslinux-common kmod cpio gzip openssl \
	fdisk e2fsprogs util-linux mount coreutils

# The versioned kernel package behind a metapackage (linux-image-amd64 -> linux-image-6.1.0-N-amd64).
KIMG=$KPKG
if ! [[ $KIMG =~ ^linux-image-[0-9] ]]; then
	KIMG=$(dpkg-query -W -f='${Depends}' "$KPKG" | tr ',|' '\n\n' | sed 's/^ *//; s/ .*//' |
		grep -m1 '^linux-image-[0-9]') || die "cannot find the kernel package behind $KPKG"
	pkg_installed "$KIMG" || ensure_pkgs "$KIMG"
fi
KVER=${KIMG#linux-image-}
VMLINUZ=/boot/vmlinuz-$KVER
MODDIR=/lib/modules/$KVER
[ -r "$VMLINUZ" ] || VMLINUZ=$(dpkg -L "$KIMG" | grep -m1 '/vmlinuz-') || true
[ -r "$VMLINUZ" ] || die "no kernel image in package $KIMG"
[ -r "$MODDIR/modules.dep" ] || die "no $MODDIR/modules.dep (package $KIMG)"
BUSYBOX=$(dpkg -L busybox-static | grep -m1 -E '/bin/busybox$') || die "no busybox in busybox-static"
MBR=/usr/lib/syslinux/mbr/mbr.bin
[ -r "$MBR" ] || die "no $MBR (syslinux-common)"

# --- cache ----------------------------------------------------------------------------------
pkgver() { dpkg-query -W -f='${Package}=${Version}\n' "$@"; }
KEY=$({ cat "$SELF"; echo "kernel=$KPKG"; pkgver "$KIMG" busybox-static extlinux syslinux-common; } |
	sha256sum | cut -c1-16)
CACHED=$CACHE/test-disk-$KEY.img

deliver() {
	OUT_TMP=$(mktemp "$OUT.tmp.XXXXXX")
	cp --sparse=always "$CACHED" "$OUT_TMP"
	chmod 644 "$OUT_TMP"
	mv -f "$OUT_TMP" "$OUT"
	OUT_TMP=
	cat "$CACHED.sha256"
}
if [ -f "$CACHED" ] && [ -f "$CACHED.sha256" ]; then touch "$CACHED" 2>/dev/null || true; deliver; exit 0; fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 600 9 || die "timed out waiting for the cache lock $CACHE/.lock"
if [ -f "$CACHED" ] && [ -f "$CACHED.sha256" ]; then deliver; exit 0; fi   # built meanwhile

# --- build ----------------------------------------------------------------------------------
T0=$(date +%s.%N)
WORK=$(mktemp -d "$CACHE/.build.XXXXXX")
MNT=$WORK/mnt

# Deterministic pseudo-random data: AES-256-CTR keystream, key from the seed.
gen_data() { # SEED BYTES
	local key
	key=$(printf 'hotspare-test-data-%s' "$1" | sha256sum | cut -c1-64)
	head -c "$2" /dev/zero | openssl enc -aes-256-ctr -nosalt -K "$key" -iv 00000000000000000000000000000000
}

# The initramfs: busybox, the modules in load order, /init, inittab, passwd.
IRD=$WORK/initramfs
mkdir -p "$IRD"/{bin,dev,proc,sys,etc,root,tmp,run,mnt/root,lib/modules/"$KVER"}
ln -s bin "$IRD/sbin"; mkdir -p "$IRD/usr"; ln -s ../bin "$IRD/usr/bin"; ln -s ../bin "$IRD/usr/sbin"
cp "$BUSYBOX" "$IRD/bin/busybox"
for a in $("$IRD/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$IRD/bin/$a"; done
mknod -m 600 "$IRD/dev/console" c 5 1
mknod -m 666 "$IRD/dev/null" c 1 3

# Required: the virtio disk and ext4. Optional (warned about when the kernel lacks them): the rest.
REQUIRED=(virtio_pci virtio_blk ext4)
OPTIONAL=(virtio_net virtio_scsi sd_mod ahci ata_piix nvme e1000 e1000e)
declare -A SEEN=()
: >"$IRD/etc/modules.load"
add_module() { # NAME REQUIRED(0|1)
	local out line path base
	if ! out=$(modprobe -S "$KVER" --show-depends "$1" 2>/dev/null); then
		[ "$2" = 1 ] && die "kernel $KVER has no module $1"
		echo "$PROG: warning: kernel $KVER has no module $1" >&2
		return 0
	fi
	while read -r line; do
		case $line in
		insmod\ *) path=${line#insmod }; path=${path%% *} ;;
		*) continue ;;   # "builtin NAME"
		esac
		base=$(basename "$path"); base=${base%.xz}; base=${base%.zst}; base=${base%.gz}
		[ -z "${SEEN[$base]:-}" ] || continue
		SEEN[$base]=1
		case $path in
		*.ko.xz) xz -dc "$path" >"$IRD/lib/modules/$KVER/$base" ;;
		*.ko.zst) zstd -qdc "$path" >"$IRD/lib/modules/$KVER/$base" ;;
		*.ko.gz) gzip -dc "$path" >"$IRD/lib/modules/$KVER/$base" ;;
		*) cp "$path" "$IRD/lib/modules/$KVER/$base" ;;
		esac
		echo "$base" >>"$IRD/etc/modules.load"
	done <<<"$out"
}
if grep -q '\.ko\.xz' "$MODDIR/modules.dep"; then ensure_pkgs xz-utils; fi
if grep -q '\.ko\.zst' "$MODDIR/modules.dep"; then ensure_pkgs zstd; fi
for m in "${REQUIRED[@]}"; do add_module "$m" 1; done
for m in "${OPTIONAL[@]}"; do add_module "$m" 0; done

cat >"$IRD/etc/passwd" <<'EOF'
root::0:0:root:/root:/bin/sh
EOF
cat >"$IRD/etc/group" <<'EOF'
root:x:0:
EOF
echo hotspare-test >"$IRD/etc/hostname"
cat >"$IRD/etc/inittab" <<'EOF'
::sysinit:/bin/hostname -F /etc/hostname
ttyS0::respawn:/bin/getty -L 115200 ttyS0 vt100
tty1::respawn:/bin/getty 38400 tty1 linux
::ctrlaltdel:/bin/reboot
::shutdown:/bin/umount -a -r
::shutdown:/bin/sync
EOF
cat >"$IRD/init" <<'EOF'
#!/bin/sh
# hotspare test disk: load drivers, find and mount the root, count the boot, print the markers.
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
exec </dev/console >/dev/console 2>&1
out() { if [ -c /dev/ttyS0 ]; then printf "$@" >/dev/ttyS0; else printf "$@"; fi; }
fatal() {
	out 'HOTSPARE-BOOT-FAILED %s\n' "$*"
	cat /proc/partitions
	sync
	poweroff -f
}
kver=$(uname -r)
while read -r m; do insmod "/lib/modules/$kver/$m" 2>/dev/null; done </etc/modules.load
echo 3 >/proc/sys/kernel/printk

# hsroot=DEV on the kernel command line, else the first partition of the usual disks.
cands=
for a in $(cat /proc/cmdline); do case $a in hsroot=*) cands=${a#hsroot=} ;; esac; done
# The root is the one with the marker: with several SATA disks the kernel may
# name them in any order. Tried read-only first: another disk is not written.
[ -n "$cands" ] || cands="/dev/vda1 /dev/sda1 /dev/nvme0n1p1 /dev/hda1 /dev/xvda1 /dev/vdb1 /dev/sdb1 /dev/sdc1"
root=
i=0
while [ -z "$root" ] && [ $i -lt 300 ]; do
	for d in $cands; do
		[ -b "$d" ] || continue
		if mount -t ext4 -o ro "$d" /mnt/root 2>/dev/null; then
			if [ -e /mnt/root/.hotspare-test-disk ] && mount -o remount,rw /mnt/root; then root=$d; break; fi
			umount /mnt/root
		fi
	done
	[ -n "$root" ] || { sleep 0.1; i=$((i + 1)); }
done
[ -n "$root" ] || fatal "no root disk among: $cands"

# Write to the disk like a real system, make it durable, then leave the filesystem clean.
mkdir -p /mnt/root/var/lib/hotspare
n=$(cat /mnt/root/var/lib/hotspare/boot-count 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >/mnt/root/var/lib/hotspare/boot-count.tmp
mv /mnt/root/var/lib/hotspare/boot-count.tmp /mnt/root/var/lib/hotspare/boot-count
sync
mount -o remount,ro /mnt/root
sync
sum=$(sha256sum /mnt/root/srv/data.bin) || fatal "cannot read /srv/data.bin on $root"
sum=${sum%% *}
nics=
for c in /sys/class/net/*; do
	[ -e "$c/device/driver" ] || continue
	drv=$(readlink "$c/device/driver"); nics="$nics${nics:+,}${c##*/}:${drv##*/}"
done
# A service for drills to check: HTTP on port 80 of the first NIC, at QEMU
# user networking's guest address (the host reaches it only through a forward).
http=none
for c in /sys/class/net/eth*; do
	[ -e "$c" ] || continue
	if ifconfig "${c##*/}" 10.0.2.15 netmask 255.255.255.0 up 2>/dev/null; then
		mkdir -p /www && echo "hotspare test disk" >/www/index.html
		httpd -p 80 -h /www && http=${c##*/}:80
	fi
	break
done
# A data disk (scripts/make-data-disk.sh: ext4 with /.hotspare-data-disk on
# the second disk, partitioned or not): its data file's checksum.
ddisk=none dsum=none
mkdir -p /mnt/data
i=0
while [ "$ddisk" = none ] && [ $i -lt 20 ]; do
	for d in /dev/vd?1 /dev/vd? /dev/sd?1 /dev/sd?; do
		[ -b "$d" ] && [ "$d" != "$root" ] && [ "$d" != "${root%1}" ] || continue
		if mount -t ext4 -o ro "$d" /mnt/data 2>/dev/null; then
			if [ -e /mnt/data/.hotspare-data-disk ]; then
				ddisk=$d
				dsum=$(sha256sum /mnt/data/data.bin) || dsum="unreadable "
				dsum=${dsum%% *}
				break
			fi
			umount /mnt/data
		fi
	done
	# Wait for a second disk only while one seems to be coming.
	[ "$ddisk" = none ] && { [ -b /dev/vdb ] || [ -b /dev/sdb ]; } || break
	sleep 0.1; i=$((i + 1))
done
out 'HOTSPARE-BOOT-OK\nHOTSPARE-DATA-SHA256 %s\nHOTSPARE-BOOT-COUNT %s\nHOTSPARE-DEVICES root=%s nics=%s\nHOTSPARE-HTTP %s\nHOTSPARE-DATADISK %s %s\n' \
	"$sum" "$n" "$root" "${nics:-none}" "$http" "$ddisk" "$dsum"
# The screen (VGA text console) says the same, for a guest checked by its screen.
if [ -c /dev/tty1 ]; then
	printf '\033[2J\033[H\n  HOTSPARE-SCREEN hotspare test disk is up\n\n  boot %s, root %s\n  data %s\n\n' \
		"$n" "$root" "$sum" >/dev/tty1
fi
# A hook disk (scripts/make-hook-disk.sh: ext4 on a whole virtio disk, with
# /.hotspare-hook-disk): mounted read-write at /hook, its /hook/run started
# in the background with its output on the console (what the live-capture
# tests run inside the guest).
mkdir -p /hook
for d in /dev/vd[b-z]; do
	[ -b "$d" ] && [ "$d" != "$ddisk" ] || continue
	mount -t ext4 -o ro "$d" /hook 2>/dev/null || continue
	if [ -e /hook/.hotspare-hook-disk ] && mount -o remount,rw /hook; then
		out 'HOTSPARE-HOOK %s\n' "$d"
		setsid /hook/run </dev/null >/dev/ttyS0 2>&1 &
		break
	fi
	umount /hook
done
exec /bin/init
EOF
chmod 755 "$IRD/init"
(cd "$IRD" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet --reproducible) |
	gzip -9n >"$WORK/initrd.img"

# The disk: MBR partition table + boot code, ext4 through a loop device at the partition.
IMG=$WORK/disk.img
truncate -s "${DISK_MIB}M" "$IMG"
echo "start=$PART_START, type=83, bootable" | sfdisk -q --label dos "$IMG"
dd if="$MBR" of="$IMG" bs=440 count=1 conv=notrunc status=none
read -r start size < <(sfdisk --dump "$IMG" | sed -n 's/.*start= *\([0-9]*\), *size= *\([0-9]*\).*/\1 \2/p' | head -n1)
[ "$start" = "$PART_START" ] || die "unexpected partition start $start"
LOOP=$(losetup -f --show -o $((start * 512)) --sizelimit $((size * 512)) "$IMG")
UUID=$(echo "$KEY" | sha256sum | sed 's/^\(.\{8\}\)\(.\{4\}\)\(.\{4\}\)\(.\{4\}\)\(.\{12\}\).*/\1-\2-\3-\4-\5/')
mkfs.ext4 -q -F -L hsroot -U "$UUID" -E lazy_itable_init=0,lazy_journal_init=0 "$LOOP"
mkdir -p "$MNT"
mount -t ext4 "$LOOP" "$MNT"
mkdir -p "$MNT"/{boot/extlinux,srv,etc,root,var/lib/hotspare}
cp "$VMLINUZ" "$MNT/boot/vmlinuz"
cp "$WORK/initrd.img" "$MNT/boot/initrd.img"
cp "$IRD/etc/passwd" "$IRD/etc/group" "$IRD/etc/hostname" "$MNT/etc/"
cat >"$MNT/boot/extlinux/extlinux.conf" <<'EOF'
SERIAL 0 115200
DEFAULT linux
PROMPT 0
LABEL linux
  KERNEL /boot/vmlinuz
  INITRD /boot/initrd.img
  APPEND console=ttyS0,115200 quiet panic=-1 no_timer_check
EOF
extlinux --install "$MNT/boot/extlinux" >/dev/null 2>&1 || die "extlinux --install failed"
printf 'hotspare test disk %s\nkernel %s (%s)\n' "$KEY" "$KVER" "$(pkgver "$KIMG")" >"$MNT/.hotspare-test-disk"
gen_data 0 "$DATA_BYTES" >"$MNT/srv/data.bin"
SUM=$(sha256sum "$MNT/srv/data.bin" | cut -d' ' -f1)
umount "$MNT"
fsck_out=$(e2fsck -fn "$LOOP" 2>&1) || { echo "$fsck_out" >&2; die "e2fsck of the new filesystem failed"; }
losetup -d "$LOOP"; LOOP=

# Publish atomically (image first, then the checksum that marks it complete).
echo "$SUM" >"$WORK/disk.img.sha256"
mv -f "$IMG" "$CACHED"
mv -f "$WORK/disk.img.sha256" "$CACHED.sha256"
# Forget images of other versions of this script not used for two weeks.
find "$CACHE" -maxdepth 1 -name 'test-disk-*.img' -mtime +14 -printf '%p\n' |
	while read -r f; do rm -f "$f" "$f.sha256"; done
echo "$PROG: built $CACHED (kernel $KVER) in $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s" >&2
deliver

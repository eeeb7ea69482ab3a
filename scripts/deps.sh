# Sourced by scripts/*.sh: install the Debian packages hotspare builds and
# runs its tests with, when they are missing (Debian 12, as root).
HS_PKGS=(meson ninja-build pkg-config gcc libzstd-dev libssl-dev libjson-c-dev libcmocka-dev
	 libfuse3-dev libcurl4-openssl-dev fuse3 zstd e2fsprogs fdisk util-linux mount python3 openssl fio
	 linux-image-amd64 busybox-static extlinux syslinux-common kmod cpio gzip
	 qemu-system-x86 libvirt-daemon-system libvirt-clients libvirt-dev libxml2-dev chromium python3-pil
	 nginx-light curl nodejs
	 qemu-utils ntfs-3g fuse2fs xfsprogs libguestfs-tools libguestfs-xfs
	 libpng-dev faketime
	 libinih-dev debhelper dpkg-dev scdoc man-db systemd
	 clang libclang-rt-14-dev faketime
	 libnbd-dev qemu-guest-agent lvm2 strace)

hs_install_deps() {
	local missing=() p
	for p in "${HS_PKGS[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "== installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Configure (once) and build a tree: hs_build DIR [meson options...]
hs_build() {
	local dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null
	else meson setup "$dir" "$@" >/dev/null; fi
	ninja -C "$dir" >/dev/null
}

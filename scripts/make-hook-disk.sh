#!/bin/bash
# make-hook-disk.sh OUT.img MIB RUN [--bin PATH[=NAME]]... [--modules M,M...] [--file SRC=DEST]...
#
# A hook disk for the test disk (scripts/make-test-disk.sh): ext4 on the whole image (no partition
# table, label hshook) with /.hotspare-hook-disk and RUN as /run, which the test disk's init
# mounts read-write at /hook and starts in the background at boot, its output on the console.
#
#   --bin PATH[=NAME]  a host program, runnable in the guest as /hook/bin/NAME (default: its
#                      basename) with the host's shared libraries copied along (/hook/lib, run
#                      through their loader; NAME is the argv[0] it sees, for multi-call programs)
#   --modules M,...    kernel modules of the test disk's kernel (with their dependencies), listed
#                      in load order in /hook/modules/load for RUN to insmod from /hook/modules
#   --file SRC=DEST    a host file copied to /hook/DEST
#
# Made without mounting anything (mkfs.ext4 -d). The guest's busybox has no dynamic loader of its
# own: programs run through /hook/lib/ld-linux-x86-64.so.2.
set -euo pipefail
PROG=make-hook-disk
die() { echo "$PROG: $*" >&2; exit 1; }
[ $# -ge 3 ] || die "usage: $0 OUT.img MIB RUN [--bin PATH[=NAME]]... [--modules M,...] [--file SRC=DEST]..."
OUT=$1 MIB=$2 RUN=$3; shift 3
[[ $MIB =~ ^[0-9]+$ ]] && [ "$MIB" -ge 8 ] || die "bad size: $MIB MiB"
[ -r "$RUN" ] || die "cannot read $RUN"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hs-hook.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
R=$WORK/root
mkdir -p "$R/bin" "$R/libexec" "$R/lib" "$R/modules"
echo "hotspare hook disk" >"$R/.hotspare-hook-disk"
install -m 755 "$RUN" "$R/run"

# A program and every shared library it loads, run through the copied loader.
add_bin() { # PATH NAME
	local path name real lib
	path=$(readlink -f "$(command -v "$1" || echo "$1")") name=$2
	[ -x "$path" ] || die "no program $1"
	real=$(basename "$path")
	[ -e "$R/libexec/$real" ] || cp "$path" "$R/libexec/$real"
	for lib in $(ldd "$path" | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }'); do
		[ -e "$R/lib/$(basename "$lib")" ] || cp -L "$lib" "$R/lib/$(basename "$lib")"
	done
	[ -e "$R/lib/ld-linux-x86-64.so.2" ] || die "no dynamic loader found for $path"
	cat >"$R/bin/$name" <<EOF
#!/bin/sh
exec /hook/lib/ld-linux-x86-64.so.2 --argv0 $name --library-path /hook/lib /hook/libexec/$real "\$@"
EOF
	chmod 755 "$R/bin/$name"
}

# The test disk's kernel: the package behind HS_TEST_KERNEL_PKG, as make-test-disk.sh picks it.
kernel_version() {
	local kpkg=${HS_TEST_KERNEL_PKG:-linux-image-amd64} kimg
	kimg=$kpkg
	if ! [[ $kimg =~ ^linux-image-[0-9] ]]; then
		kimg=$(dpkg-query -W -f='${Depends}' "$kpkg" | tr ',|' '\n\n' | sed 's/^ *//; s/ .*//' |
			grep -m1 '^linux-image-[0-9]') || die "cannot find the kernel package behind $kpkg"
	fi
	echo "${kimg#linux-image-}"
}

add_modules() { # M,M,...
	local kver m out line path base
	kver=$(kernel_version)
	declare -A seen=()
	: >"$R/modules/load"
	for m in ${1//,/ }; do
		out=$(modprobe -S "$kver" --show-depends "$m" 2>/dev/null) || die "kernel $kver has no module $m"
		while read -r line; do
			case $line in insmod\ *) path=${line#insmod }; path=${path%% *} ;; *) continue ;; esac
			base=$(basename "$path"); base=${base%.xz}; base=${base%.zst}; base=${base%.gz}
			[ -z "${seen[$base]:-}" ] || continue
			seen[$base]=1
			case $path in
			*.ko.xz) xz -dc "$path" >"$R/modules/$base" ;;
			*.ko.zst) zstd -qdc "$path" >"$R/modules/$base" ;;
			*.ko.gz) gzip -dc "$path" >"$R/modules/$base" ;;
			*) cp "$path" "$R/modules/$base" ;;
			esac
			echo "$base" >>"$R/modules/load"
		done <<<"$out"
	done
}

while [ $# -gt 0 ]; do
	case $1 in
	--bin) [ $# -ge 2 ] || die "--bin needs PATH"; p=${2%%=*}; n=${2#*=}; [ "$n" != "$2" ] || n=$(basename "$p")
		add_bin "$p" "$n"; shift 2 ;;
	--modules) [ $# -ge 2 ] || die "--modules needs a list"; add_modules "$2"; shift 2 ;;
	--file) [ $# -ge 2 ] && [[ $2 == *=* ]] || die "--file needs SRC=DEST"
		mkdir -p "$(dirname "$R/${2#*=}")"; cp "${2%%=*}" "$R/${2#*=}"; shift 2 ;;
	*) die "unknown argument $1" ;;
	esac
done

rm -f "$OUT"
truncate -s "${MIB}M" "$OUT"
mkfs.ext4 -q -F -L hshook -E lazy_itable_init=0,lazy_journal_init=0 -d "$R" "$OUT"

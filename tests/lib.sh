# Shared helpers for the end-to-end tests: each test sources this, gets its
# own temporary directory (removed on exit, whatever happens) and the binary
# under test as $HS.
set -euo pipefail

HS=${HOTSPARE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/tools/hotspare}
[ -x "$HS" ] || { echo "hotspare binary not found at $HS (set HOTSPARE)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/hs-test.XXXXXX")
# No host configuration (/etc/hotspare/hotspare.conf) reaches a test: the
# tests that check the configuration name their own file.
export HOTSPARE_CONFIG=""
CLEANUPS=()
# Run cleanup steps (newest first), then remove the temporary directory.
hs_cleanup() {
	local i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[$i]}" >/dev/null 2>&1 || true; done
	rm -rf "$T" ${PYBIN:+"$PYBIN"}
}
trap hs_cleanup EXIT
# Register a command to run on exit (e.g. detaching a loop device).
on_exit() { CLEANUPS+=("$*"); }
# python3 is Debian's (scripts/deps.sh installs it), not a version manager's
# shim first in PATH: pyenv's runs a few bash scripts per call, over a second
# for each json_get on a busy machine. A directory beside $T puts it first.
PYBIN=
if [ -x /usr/bin/python3 ] && [ "$(command -v python3)" != /usr/bin/python3 ]; then
	PYBIN=$T.bin
	mkdir "$PYBIN" && ln -s /usr/bin/python3 "$PYBIN/python3" && PATH=$PYBIN:$PATH
fi

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

# expect_fail PATTERN CMD...: CMD must exit non-zero with exactly one line on
# stderr that matches PATTERN (extended regex).
expect_fail() {
	local pattern=$1; shift
	local err=$T/.stderr rc=0
	"$@" >/dev/null 2>"$err" || rc=$?
	[ "$rc" -ne 0 ] || fail "expected failure: $*"
	[ "$(wc -l <"$err")" -eq 1 ] || { cat "$err" >&2; fail "expected one line of error from: $*"; }
	grep -Eq -- "$pattern" "$err" || { cat "$err" >&2; fail "error of '$*' does not match /$pattern/"; }
}

# json_get FILE|- KEY...: print a field of a JSON document (python3 is on every Debian).
json_get() {
	local src=$1; shift
	python3 -c 'import json,sys
d=json.load(open(sys.argv[1]) if sys.argv[1]!="-" else sys.stdin)
for k in sys.argv[2:]:
    d=d[int(k)] if isinstance(d,list) else d[k]
print(d if not isinstance(d,bool) else str(d).lower())' "$src" "$@"
}

# make_ext4 IMAGE SIZE_MB: an ext4 image holding a realistic tree of files
# (text, binary, a big file, an empty one) made without mounting anything.
make_ext4() {
	local img=$1 mb=$2 root=$T/.root.$$
	rm -rf "$root"; mkdir -p "$root/etc" "$root/var/log" "$root/srv/data" "$root/home/user"
	seq 1 20000 | sed 's/^/log line /' >"$root/var/log/syslog"
	printf 'hostname mail01\n' >"$root/etc/hostname"
	head -c $((mb * 1024 * 1024 / 8)) /dev/urandom >"$root/srv/data/blob.bin"
	for i in $(seq 1 50); do head -c $((RANDOM * 4)) /dev/urandom >"$root/home/user/file$i"; done
	: >"$root/home/user/empty"
	truncate -s "${mb}M" "$img"
	mkfs.ext4 -q -F -L hsroot -d "$root" "$img"
	rm -rf "$root"
}

# ext4_write IMAGE PATH_IN_FS LOCAL_FILE: replace a file inside an ext4 image.
ext4_write() {
	debugfs -w -R "rm $2" "$1" >/dev/null 2>&1 || true
	debugfs -w -R "write $3 $2" "$1" >/dev/null 2>&1
}

# hs_mount_at MOUNTPOINT ARGS...: hotspare mount ARGS; unmounted on exit.
hs_mount_at() {
	local mnt=$1; shift
	on_exit "'$HS' umount '$mnt' || umount -l '$mnt'"
	"$HS" mount "$@" >/dev/null
}

# wait_for SECONDS CMD...: poll until CMD succeeds; fail after SECONDS.
wait_for() {
	local limit=$1 i; shift
	for ((i = 0; i < limit * 10; i++)); do "$@" && return 0; sleep 0.1; done
	return 1
}

# proc_running PID: the process runs: neither gone nor exited (a zombie its
# parent, maybe an init that reaps a second later, has not reaped yet).
proc_running() {
	local st f
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	read -r -a f <<<"${st##*) }"
	! [[ (${f[0]} == Z || ${f[0]} == X) && ${f[17]} -le 1 ]]
}

# fuse_abort MOUNTPOINT: abort the FUSE connection mounted there (a daemon
# stuck on its own mount is freed: its requests fail) and detach the mount.
# For clean-ups after a hang; never waits on the mount itself.
fuse_abort() {
	local dev
	dev=$(awk -v m="$1" '$5 == m && $0 ~ / - fuse/ { split($3, d, ":"); print d[2] }' /proc/self/mountinfo | tail -1)
	if [ -n "$dev" ]; then
		[ -e /sys/fs/fuse/connections/"$dev" ] || mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null
		echo 1 >"/sys/fs/fuse/connections/$dev/abort" 2>/dev/null
	fi
	umount -l "$1" 2>/dev/null || true
}

# tree_sum DIR...: a digest of every path (directories too) and file content
# under DIR, so "nothing changed, not even a lock file" can be asserted.
tree_sum() {
	(cd / && find "$@" -print0 | sort -z | xargs -0 -I{} sh -c 'if [ -f "$1" ]; then sha256sum "$1"; else echo "$1"; fi' _ {}) | sha256sum
}

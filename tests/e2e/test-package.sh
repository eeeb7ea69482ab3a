#!/bin/bash
# The Debian package, as a provider gets it: scripts/package.sh builds
# hotspare_*.deb from a clean copy of the tree; apt-get installs it; the
# installed binary runs the README demo's flow (snapshot shipped to a drive,
# a day's backup, points, verify) with its defaults in the installed
# /etc/hotspare/hotspare.conf, the spare is mounted by the installed unit's
# own command line (stopped as systemd stops it, by SIGTERM) and QEMU boots
# off it; `man hotspare` renders when the package has pages;
# systemd-analyze verify passes on the installed units, none of which is
# enabled; apt-get purge leaves no file of the package behind.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root"; exit 77; }
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export DEBIAN_FRONTEND=noninteractive
purge() { apt-get purge -y -qq hotspare >/dev/null 2>&1 || dpkg --purge hotspare >/dev/null 2>&1 || true; }
if dpkg-query -W -f='${Status}' hotspare 2>/dev/null | grep -q 'install ok installed'; then
	echo "# hotspare was installed (left by an earlier run?): purging it first"
	purge
fi

"$SRC/scripts/package.sh" "$T/dist" >"$T/package.log" 2>&1 || { tail -n 30 "$T/package.log"; fail "scripts/package.sh"; }
DEB=$(ls "$T"/dist/hotspare_*.deb)
[ "$(echo "$DEB" | wc -l)" -eq 1 ] || fail "package.sh made $(echo "$DEB" | wc -l) packages"
dpkg-deb -f "$DEB" Depends | grep -q 'libfuse3' || fail "Depends has no libfuse3 (shlibs): $(dpkg-deb -f "$DEB" Depends)"
for p in qemu-system-x86 libvirt-daemon-system ntfs-3g qemu-utils; do
	dpkg-deb -f "$DEB" Recommends | grep -qw "$p" || fail "Recommends lacks $p"
done
pass "scripts/package.sh builds $(basename "$DEB") (Depends from shlibs, Recommends)"

on_exit purge
apt-get install -y -qq --no-install-recommends "$DEB" >"$T/apt.log" 2>&1 || { cat "$T/apt.log"; fail "apt-get install"; }
dpkg -L hotspare | sort >"$T/files"
H=/usr/bin/hotspare
[ "$(command -v hotspare)" = "$H" ] || fail "hotspare on PATH is $(command -v hotspare), not $H"
"$H" --version | grep -q "^hotspare " || fail "the installed binary does not run"
for f in /usr/bin/hotspare /etc/hotspare/hotspare.conf /usr/share/bash-completion/completions/hotspare \
	/usr/share/doc/hotspare/examples/hotspare.conf; do
	grep -qx "$f" "$T/files" || fail "the package lacks $f"
done
grep -qx /etc/hotspare/hotspare.conf /var/lib/dpkg/info/hotspare.conffiles || fail "hotspare.conf is no conffile"
pass "apt-get install: $(grep -c . "$T/files") paths, the binary on PATH, hotspare.conf a conffile"

UNITS=$(grep -E '^/(usr/)?lib/systemd/system/.+\.(service|timer|socket|path)$' "$T/files")
[ -n "$UNITS" ] || fail "the package has no systemd unit"
for u in $UNITS; do
	systemd-analyze verify "$u" >"$T/verify" 2>&1 || { cat "$T/verify"; fail "systemd-analyze verify $u"; }
	name=$(basename "$u")
	# Not enabled: no link to it anywhere in /etc/systemd.
	! find /etc/systemd -lname "*$name" 2>/dev/null | grep -q . || fail "$name is enabled by the package"
done
pass "systemd-analyze verify passes on $(echo "$UNITS" | wc -l) installed unit(s), none enabled"

PAGES=$(grep -E '^/usr/share/man/man[1-9]/' "$T/files" | grep -E '\.[1-9](\.gz)?$' || true)
if [ -z "$PAGES" ]; then
	echo "# no manual pages in the package (tools/man has none): man hotspare not checked"
else
	for p in $PAGES; do
		MANWIDTH=80 man --warnings -l "$p" >"$T/man.out" 2>"$T/man.err" || fail "man -l $p"
		[ ! -s "$T/man.err" ] || { cat "$T/man.err"; fail "man -l $p warns"; }
	done
	MANWIDTH=80 man -P cat hotspare 2>&1 | grep -q "hotspare" || fail "man hotspare does not render"
	pass "man hotspare renders; $(echo "$PAGES" | wc -l) page(s) without warnings"
fi

# The README demo's flow with the installed binary and configuration file.
. "$(dirname "$0")/../qemu.sh"
SHA0=$("$SRC/scripts/make-test-disk.sh" "$T/mail01.img")
unset HOTSPARE_CONFIG # the installed file, as on a host (lib.sh keeps other tests from it)
cat >/etc/hotspare/hotspare.conf <<EOF
store = $T/store
seed = $T/usb
state-dir = $T/state
mount-dir = $T/spares
EOF
"$H" init >/dev/null || fail "init of the configured store"
"$H" snapshot --ship "$T/usb" mail01 "$T/mail01.img" >/dev/null || fail "snapshot --ship"
SHA1=$("$SRC/scripts/test-disk-day.sh" "$T/mail01.img" 1)
[ "$SHA1" != "$SHA0" ] || fail "the day changed nothing"
"$H" backup mail01 "$T/mail01.img" >/dev/null || fail "backup"
[ "$("$H" points mail01 --json | json_get - 1 kind)" = backup ] || fail "points: no backup point"
"$H" verify mail01 >/dev/null || fail "verify (the drive from the configuration)"
# The spare, started as systemd starts hotspare-spare@mail01 (instance mail01, no env file).
UNIT=$(grep -E '/hotspare-spare@\.service$' "$T/files")
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT")
EXEC=${EXEC//\$POINT/mail01}
EXEC=${EXEC//\$OPTIONS/}
case $EXEC in "$H "*) ;; *) fail "the unit runs '$EXEC'" ;; esac
$EXEC >"$T/unit.log" 2>&1 &
DAEMON=$!
on_exit "kill $DAEMON; '$H' umount '$T/spares/mail01' || umount -l '$T/spares/mail01'"
wait_for 30 test -e "$T/spares/mail01/mail01.img" || { cat "$T/unit.log"; fail "the unit's command mounts no spare"; }
boot package "$SHA1" -nic none -drive "file=$T/spares/mail01/mail01.img,format=raw,if=virtio,cache=$CACHE_MODE"
stop_qemu
kill -TERM "$DAEMON"
wait "$DAEMON" || { cat "$T/unit.log"; fail "the unit's daemon did not exit cleanly on SIGTERM"; }
! mountpoint -q "$T/spares/mail01" || fail "the spare is still mounted after SIGTERM"
[ -e "$T/state/mail01/clean" ] || fail "the state was not closed cleanly"
pass "the demo flow with the installed binary and hotspare.conf; the unit's spare boots in $BOOT_SECONDS s ($ACCEL), stops on SIGTERM"

apt-get purge -y -qq hotspare >"$T/purge.log" 2>&1 || { cat "$T/purge.log"; fail "apt-get purge"; }
left=
while read -r f; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	# A directory others put things in (/usr/bin, /etc) is no file of the package: one left empty is.
	if [ -d "$f" ] && [ -n "$(ls -A "$f")" ]; then continue; fi
	left+=" $f"
done <"$T/files"
[ -z "$left" ] || fail "apt-get purge left:$left"
[ ! -e /etc/hotspare ] || fail "apt-get purge left /etc/hotspare: $(ls -A /etc/hotspare)"
[ -d "$T/store/points/mail01" ] || fail "apt-get purge touched the store"
pass "apt-get purge leaves no file of the package (dpkg -L before vs the filesystem after); the store stays"

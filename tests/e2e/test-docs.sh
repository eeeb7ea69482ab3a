#!/bin/bash
# The manual pages and the systemd units. Every command of `hotspare --help`
# has its page (tools/man/hotspare-COMMAND.1.scd), listed in hotspare(1), that
# names every option its --help shows; meson built every page (when scdoc is
# there); each renders with `man -l` without a warning at 80 columns. Every
# unit and timer of tools/systemd passes `systemd-analyze verify` with
# @bindir@ made this build's binary directory (as meson install does), each
# timer has its service, and every hotspare command line in a unit parses.
. "$(dirname "$0")/../lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "$(dirname "$HS")/.." && pwd)
for t in scdoc man systemd-analyze; do
	command -v "$t" >/dev/null || { echo "skip - $t is not installed (scripts/deps.sh)"; exit 77; }
done
MAN=$SRC/tools/man

# Pages and options work in progress owes ("CMD" or "CMD:--option"): noted,
# not failed. Empty: every command and option has its page.
OWED=""
owed() { echo "$OWED" | tr ' ' '\n' | grep -qx -- "$1"; }
cmds=$("$HS" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[ "$(echo "$cmds" | wc -l)" -ge 20 ] || fail "hotspare --help lists $(echo "$cmds" | wc -l) commands"
for c in $cmds; do
	page=$MAN/hotspare-$c.1.scd
	if owed "$c" && [ ! -f "$page" ]; then
		echo "# owed: no manual page for $c yet"
		continue
	fi
	[ -f "$page" ] || fail "no manual page for $c ($page)"
	grep -q "hotspare-$c\*(1)" "$MAN/hotspare.1.scd" || fail "hotspare(1) does not list hotspare-$c(1)"
	# key prints its usage as an error without a subcommand: its options from both forms.
	{ "$HS" "$c" --help 2>&1 || true; } | { grep -o -- '--[a-z][a-z-]*' || true; } | sort -u | { grep -vx -- --help || true; } | while read -r o; do
		grep -q -- "\*$o\*" "$page" || owed "$c:$o" || fail "hotspare-$c(1) does not document $o"
	done
done
for page in "$MAN"/*.scd; do
	name=$(basename "$page" .1.scd)
	[ "$name" = hotspare ] || [[ $'\n'$cmds$'\n' == *$'\n'"${name#hotspare-}"$'\n'* ]] ||
		fail "$page is for no command of hotspare --help"
done
pass "every command of $(echo "$cmds" | wc -l) has its page, listed in hotspare(1), naming every option of its --help"

n=0
for page in "$MAN"/*.scd; do
	name=$(basename "$page" .scd)
	built=$BUILD/tools/$name
	[ -f "$built" ] || fail "meson did not build $name (scdoc is installed)"
	# (The .TH line carries the day scdoc ran: a build of yesterday is not stale.)
	cmp -s <(scdoc <"$page" | sed '/^\.TH /d') <(sed '/^\.TH /d' "$built") ||
		fail "$built is not what scdoc makes of $page (stale build?)"
	MANWIDTH=80 man --warnings -l "$built" >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "man -l $name"; }
	[ ! -s "$T/err" ] || { cat "$T/err"; fail "man -l $name warns"; }
	head -c 4096 "$T/out" | grep -q "${name%.1}" || fail "man -l $name renders no name"
	n=$((n + 1))
done
pass "$n pages built by meson render with man -l without warnings"

mkdir "$T/units"
bindir=$(dirname "$HS")
for u in "$SRC"/tools/systemd/*; do
	name=$(basename "$u")
	sed "s|@bindir@|$bindir|g" "$u" >"$T/units/$name"
	! grep -q '@bindir@' "$T/units/$name" || fail "$name: @bindir@ left"
	case $name in
	*.timer) [ -f "$SRC/tools/systemd/${name%.timer}.service" ] || fail "$name has no service" ;;
	esac
done
for u in "$T"/units/*; do
	systemd-analyze verify --man=no "$u" >"$T/verify" 2>&1 || { cat "$T/verify"; fail "systemd-analyze verify $(basename "$u")"; }
	[ ! -s "$T/verify" ] || { cat "$T/verify"; fail "systemd-analyze verify $(basename "$u") warns"; }
done
pass "$(ls "$T/units" | wc -l) units and timers pass systemd-analyze verify"

# The units' hotspare command lines, with their variables as an example
# configuration would set them, parse: the store and seeds come from
# hotspare.conf (a refusal is then about the store, never the usage).
head -c 1M /dev/zero >"$T/disk.img"
printf 'store = %s/nostore\nreport-dir = %s/drills\nstate-dir = %s/state\nmount-dir = %s/mnt\n' "$T" "$T" "$T" "$T" >"$T/hotspare.conf"
# The units' variables, as /etc/hotspare/*.env would set them.
subst() {
	local l=$1
	l=${l//%i/mail01}
	l=${l//'${SOURCES}'/c=$T/disk.img}
	l=${l//'$SOURCES'/c=$T/disk.img}
	l=${l//'${OPTIONS}'/}
	l=${l//'$OPTIONS'/}
	l=${l//'${DRILLS}'/$T/drills}
	l=${l//'${TEXTFILE_DIR}'/$T/prom}
	l=${l//'$POINT'/mail01}
	echo "$l"
}
mkdir -p "$T/prom"
for u in "$T"/units/*.service; do
	grep -q '^ExecStart=.*hotspare ' "$u" || continue
	line=$(subst "$(sed -n 's/^ExecStart=//p' "$u")")
	[[ $line != *'$'* ]] || fail "$(basename "$u"): a variable the test does not know in '$line'"
	rc=0
	# shellcheck disable=SC2086
	HOTSPARE_CONFIG=$T/hotspare.conf timeout 20 $line >"$T/run.out" 2>"$T/run.err" </dev/null || rc=$?
	[ $rc -ne 2 ] || { cat "$T/run.err"; fail "$(basename "$u"): '$line' is refused as bad usage"; }
	grep -q "$T/nostore" "$T/run.err" || { cat "$T/run.err"; fail "$(basename "$u"): '$line' did not use the configured store"; }
done
pass "every unit's hotspare command line parses and takes the configured store"

#!/bin/bash
# Bash completion (tools/completion/hotspare.bash, installed as
# bash-completion/completions/hotspare): defined once sourced; completes
# commands, options, option values, server names and SERVER@POINT ids of the
# configured store (or of the STORE on the line).
. "$(dirname "$0")/../lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
COMPLETION=$SRC/tools/completion/hotspare.bash
export PATH=$(dirname "$HS"):$PATH # "hotspare" on the line is the binary under test
head -c 1M /dev/urandom >"$T/disk.img"
"$HS" init "$T/store" >/dev/null
"$HS" init "$T/other" >/dev/null
"$HS" snapshot "$T/store" mail01 "$T/disk.img" --json >"$T/p1.json"
"$HS" snapshot "$T/store" mars02 "$T/disk.img" >/dev/null
"$HS" snapshot "$T/other" web01 "$T/disk.img" >/dev/null
ID=$(json_get "$T/p1.json" point)
printf 'store = %s\n' "$T/store" >"$T/hotspare.conf"
export HOTSPARE_CONFIG=$T/hotspare.conf
mkdir "$T/cwd" && cd "$T/cwd" # no file names to mix in

# complete WORD...: what completing the last word offers, one a line, sorted.
complete_words() {
	bash -c '. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_hotspare; printf "%s\n" "${COMPREPLY[@]}" | sort' bash "$COMPLETION" "$@"
}
expect() { # WANT WORD...: the offers, joined by spaces
	local want=$1 got; shift
	got=$(complete_words "$@" | paste -sd ' ')
	[ "$got" = "$want" ] || fail "completing '$*' gave '$got', not '$want'"
}

bash -c '. "$1"; complete -p hotspare' bash "$COMPLETION" | grep -q -- '-F _hotspare hotspare$' ||
	fail "complete -p hotspare is not defined after sourcing"
expect "mount" hotspare mo
expect "checkpoint config" hotspare c
complete_words hotspare '' | grep -qx scrub || fail "the commands do not include scrub"
pass "complete -p hotspare is defined; 'hotspare mo' completes to mount"

expect "--state" hotspare mount --sta
expect "--keyfile" hotspare restore --keyf
expect "windows" hotspare drill --profile w
expect "qcow2" hotspare export --format q
pass "options and option values"

expect "mail01 mars02" hotspare mount ma
expect "mail01" hotspare verify --seed /x mai
expect "web01" hotspare points "$T/other" w
expect "mail01@$ID mail01@latest" hotspare restore mail01@
expect "mail01@$ID" hotspare mount "$T/store" "mail01@2"
[ -z "$(complete_words hotspare snapshot mail01@)" ] || fail "snapshot takes a SERVER, not a point"
HOTSPARE_CONFIG= expect "" hotspare mount ma
pass "server names and point ids from points --json of the configured store, or of the STORE given"

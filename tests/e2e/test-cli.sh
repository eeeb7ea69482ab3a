#!/bin/bash
# The command line: every numeric option of every command goes through one
# strict parser with a range ('', 'abc', '1e308', signs, blanks, overflow and
# out-of-range values are refused with one line naming the option and the
# range); bad usage is one line pointing at --help while --help prints the
# usage; empty arguments are named; non-ASCII names are escaped, never cut
# into broken UTF-8. Nothing is created by a refused command.
. "$(dirname "$0")/../lib.sh"

truncate -s 4M "$T/a.img"; head -c 1M /dev/urandom | dd of="$T/a.img" conv=notrunc status=none
S=$T/store
"$HS" init "$S" --chunk-size 64K >/dev/null
"$HS" snapshot "$S" mail01 "$T/a.img" >/dev/null
mkdir "$T/mnt"
before=$(tree_sum "$S")

# check_number CMD OPTION LO HI ARGS...: OPTION must refuse every bad value.
check_number() {
	local cmd=$1 opt=$2 lo=$3 hi=$4 v; shift 4
	for v in abc 1e308 -1 +1 ' 1' '1 ' 1x 0x10 1.5 99999999999999999999999 18446744073709551616 $((hi + 1)); do
		expect_fail "^hotspare $cmd: $opt '.*' is not a number( of [a-zA-Z]+)? from $lo to $hi\$" "$HS" "$cmd" "$@" "$opt" "$v"
	done
	[ "$lo" -eq 0 ] || expect_fail "^hotspare $cmd: $opt '$((lo - 1))' is not a number" "$HS" "$cmd" "$@" "$opt" "$((lo - 1))"
	expect_fail "^hotspare $cmd: option '$opt' is empty" "$HS" "$cmd" "$@" "$opt" ""
}
check_number mount --deadline 1 86400 "$S" mail01 "$T/mnt" --state "$T/st"
check_number mount --hydrate-threads 0 16 "$S" mail01 "$T/mnt" --state "$T/st"
check_number mount --readahead 0 1024 "$S" mail01 "$T/mnt" --state "$T/st"
check_number restore --threads 1 256 "$S" mail01 "$T/out.img"
check_number snapshot --threads 1 256 "$S" mail01 "$T/a.img"
check_number backup --threads 1 256 "$S" mail01 "$T/a.img"
check_number drill --timeout 1 86400 "$S" mail01 --report "$T/rep"
check_number drill --check-tcp 1 65535 "$S" mail01 --report "$T/rep"
check_number drill --memory 64 1048576 "$S" mail01 --report "$T/rep"
check_number drill --vcpus 1 64 "$S" mail01 --report "$T/rep"
check_number failover --memory 64 1048576 "$S" mail01 --state "$T/st"
check_number failover --vcpus 1 64 "$S" mail01 --state "$T/st"
check_number failback --shutdown-timeout 1 86400 "$T/mnt"
for cs in '' abc 1e308 -64K 99999999999999999999T 3M; do
	expect_fail "chunk size '.*' is not a power of two|option '--chunk-size' is empty" "$HS" init "$T/cs" --chunk-size "$cs"
done
[ ! -e "$T/st" ] && [ ! -e "$T/out.img" ] && [ ! -e "$T/rep" ] && [ ! -e "$T/cs" ] || fail "a refused command created something"
! mountpoint -q "$T/mnt" || fail "a refused mount mounted"
pass "every numeric option refuses '', words, exponents, signs, blanks, overflow and out-of-range values"

# Usage: one line and a pointer to --help; --help itself prints the usage.
for cmd in init snapshot backup points verify restore replicate mount status umount drill failover checkpoint failback browse export; do
	expect_fail "^hotspare $cmd: unknown option '--bogus' \(see 'hotspare $cmd --help'\)$" "$HS" $cmd --bogus
	"$HS" $cmd --help >"$T/help" 2>&1 || fail "$cmd --help failed"
	grep -q "^usage: hotspare $cmd " "$T/help" || fail "$cmd --help does not print the usage"
done
expect_fail "^hotspare mount: option '--state' needs a value \(see" "$HS" mount "$S" mail01 "$T/mnt" --state
expect_fail "^hotspare points: wrong arguments; usage: hotspare points STORE SERVER" "$HS" points "$S" mail01 extra
expect_fail "^hotspare mount: wrong arguments; usage: hotspare mount STORE SERVER\[@POINT\] MOUNTPOINT --state DIR" "$HS" mount "$S"
expect_fail "^hotspare mount: --state DIR is missing" "$HS" mount "$S" mail01 "$T/mnt"
expect_fail "^hotspare: unknown command 'bogus'" "$HS" bogus
pass "bad usage is one line pointing at --help; --help prints the usage"

# Empty arguments are named, whatever their place.
expect_fail "^hotspare points: STORE is empty" "$HS" points "" mail01
expect_fail "^hotspare points: SERVER is empty" "$HS" points "$S" ""
expect_fail "^hotspare restore: TARGET is empty" "$HS" restore "$S" mail01 ""
expect_fail "^hotspare mount: MOUNTPOINT is empty" "$HS" mount "$S" mail01 "" --state "$T/st"
expect_fail "^hotspare restore: option '--seed' is empty" "$HS" restore "$S" mail01 "$T/out.img" --seed ""
expect_fail "^hotspare umount: MOUNTPOINT is empty" "$HS" umount ""
expect_fail "^hotspare replicate: DEST is empty" "$HS" replicate "$S" ""
pass "empty STORE, SERVER, TARGET, MOUNTPOINT, DEST and option values are named"

# Names a user typed are echoed escaped: valid text, one line.
expect_fail "server name 'caf\\\\xc3\\\\xa9' contains '\\\\xc3\\\\xa9'" "$HS" snapshot "$S" "café" "$T/a.img"
expect_fail "point '2\\\\xc3\\\\xa9' is not a point id" "$HS" restore "$S" "mail01@2é" "$T/out.img"
expect_fail "unknown command '\\\\xc3\\\\xa9'" "$HS" "é"
expect_fail "unknown option '--\\\\xc3\\\\xa9'" "$HS" points "$S" mail01 "--é"
LC_ALL=C.UTF-8 iconv -f UTF-8 -t UTF-8 "$T/.stderr" >/dev/null || fail "a message is not valid UTF-8"
pass "non-ASCII names are escaped in messages"

[ "$before" = "$(tree_sum "$S")" ] || fail "a refused command changed the store"

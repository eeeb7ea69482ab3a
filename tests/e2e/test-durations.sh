#!/bin/bash
# The seconds verify and replicate print are the whole command's (listing the
# points, reading their indexes, opening the stores), not one phase's: against
# a store on nginx behind a proxy that delays every packet, with 20 servers,
# each printed duration is at least the wall time the test measured less a
# small margin for starting and ending the process.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../http.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
MARGIN=0.5

mkdir -p "$T/www"
"$HS" init "$T/www/store" >/dev/null
for i in $(seq -w 1 20); do
	head -c 300000 /dev/urandom >"$T/d.img"
	"$HS" snapshot "$T/www/store" "srv$i" "$T/d.img" >/dev/null
done
PORT=$(free_port)
nginx_conf web "$T/www" "$PORT"
nginx_up web "$PORT"
DPORT=$(free_port)
python3 "$HERE/../proxy.py" delay "$DPORT" "$PORT" 50 &
on_exit "kill $!"
wait_for 10 port_open "$DPORT" || fail "the delay proxy did not start"
URL=http://127.0.0.1:$DPORT/store

# timed OUT CMD...: run CMD (stdout to OUT); WALL gets its wall time in seconds.
timed() {
	local out=$1 s e; shift
	s=$(date +%s%N)
	"$@" >"$out" || fail "$* failed"
	e=$(date +%s%N)
	WALL=$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
}
at_least() { # at_least SECONDS WHAT: SECONDS >= WALL - MARGIN
	awk -v s="$1" -v w="$WALL" -v m="$MARGIN" 'BEGIN { exit !(s >= w - m) }' ||
		fail "$2 printed $1 s for a command that took $WALL s"
}

timed "$T/v.json" "$HS" verify "$URL" --json
[ "$(json_get "$T/v.json" points)" -eq 20 ] || fail "verify saw $(json_get "$T/v.json" points) points"
at_least "$(json_get "$T/v.json" seconds)" "verify --json"
timed "$T/v.out" "$HS" verify "$URL"
at_least "$(sed -E 's/.* ([0-9.]+) s$/\1/' "$T/v.out")" "verify"
pass "verify's seconds cover the whole command ($WALL s)"

timed "$T/r.json" "$HS" replicate "$URL" "$T/replica" --json
[ "$(json_get "$T/r.json" points)" -eq 20 ] || fail "replicate copied $(json_get "$T/r.json" points) points"
at_least "$(json_get "$T/r.json" seconds)" "replicate --json"
timed "$T/r.out" "$HS" replicate "$URL" "$T/replica"
at_least "$(sed -E 's/.* ([0-9.]+) s$/\1/' "$T/r.out")" "replicate"
pass "replicate's seconds cover the whole command ($WALL s)"

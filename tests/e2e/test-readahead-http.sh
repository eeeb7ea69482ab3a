#!/bin/bash
# Read-ahead over HTTP, counted in nginx's own access log: a cold sequential
# read fetches every chunk once (reader and read-ahead never both fetch one),
# most of them ahead of the reader; a random read fetches its chunk and the
# small window after it, nothing more; --readahead 0 turns it off.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../http.sh"

PORT=$(free_port)
nginx_conf web "$T/www" "$PORT" log
nginx_up web "$PORT"
URL=http://127.0.0.1:$PORT/store

# 24 MiB of random bytes in 64 KiB chunks: 384 chunks, none zero, none alike.
head -c $((24 << 20)) /dev/urandom >"$T/img"
"$HS" init "$URL" --chunk-size 64K >/dev/null
"$HS" snapshot "$URL" web01 "$T/img" >/dev/null
N=384
gets() { grep -c '"GET /store/chunks/' "$T/web/access.log" || true; }
dups() { awk '/"GET \/store\/chunks\// { n[$7]++ } END { d = 0; for (k in n) if (n[k] > 1) d++; print d }' "$T/web/access.log"; }
status() { "$HS" status "$T/m" --json | json_get - "$1"; }
mkdir "$T/m"

# Cold sequential read, no hydration: only the reader and read-ahead fetch.
: >"$T/web/access.log"
hs_mount_at "$T/m" "$URL" web01 "$T/m" --state "$T/s1" --hydrate-threads 0
dd if="$T/m/web01.img" of="$T/out" bs=128k iflag=direct status=none
cmp "$T/out" "$T/img" || fail "the sequential read differs from the image"
ahead=$(status bytes_read_ahead)
[ "$(gets)" -eq $N ] || fail "a sequential read made $(gets) chunk requests for $N chunks"
[ "$(dups)" -eq 0 ] || fail "$(dups) chunks were fetched twice"
[ "$ahead" -gt $((12 << 20)) ] || fail "read-ahead fetched only $ahead bytes of 24 MiB"
"$HS" umount "$T/m"
pass "cold sequential read: $N chunks fetched once each, $ahead bytes by read-ahead"

# A random read: its chunk and the first window (8 MiB / 16 = 8 chunks).
: >"$T/web/access.log"
hs_mount_at "$T/m" "$URL" web01 "$T/m" --state "$T/s2" --hydrate-threads 0
dd if="$T/m/web01.img" of="$T/one" bs=4k skip=$((200 * 16)) count=1 iflag=direct status=none
cmp "$T/one" <(tail -c +$((200 * 65536 + 1)) "$T/img" | head -c 4096) || fail "the random read differs"
# (a function: wait_for must count the requests again at each try)
window_fetched() { [ "$(gets)" -ge 9 ]; }
wait_for 20 window_fetched || fail "the random read's window was not fetched: $(gets) requests"
sleep 1
[ "$(gets)" -eq 9 ] || fail "a random 4k read made $(gets) chunk requests, expected 9"
# Which chunks: the digests of chunks 200..208 of the image, and no other.
want=$(python3 -c '
import hashlib, sys
f = open(sys.argv[1], "rb"); f.seek(200 * 65536)
print(" ".join(sorted(hashlib.sha256(f.read(65536)).hexdigest() for _ in range(9))))' "$T/img")
got=$(awk '/"GET \/store\/chunks\// { n = split($7, p, "/"); sub(/\.zst$/, "", p[n]); print p[n] }' \
	"$T/web/access.log" | sort | tr '\n' ' ' | sed 's/ $//')
[ "$got" = "$want" ] || fail "the random read fetched other chunks than 200..208"
[ "$(status bytes_read_ahead)" -eq $((8 * 65536)) ] || fail "bytes_read_ahead is $(status bytes_read_ahead)"
"$HS" umount "$T/m"
pass "a random read fetched its chunk and the 8 after it"

# Off: the same sequential read, nothing ahead, still every chunk once.
: >"$T/web/access.log"
hs_mount_at "$T/m" "$URL" web01 "$T/m" --state "$T/s3" --hydrate-threads 0 --readahead 0
dd if="$T/m/web01.img" of="$T/out" bs=128k iflag=direct status=none
cmp "$T/out" "$T/img" || fail "the read without read-ahead differs"
[ "$(status bytes_read_ahead)" -eq 0 ] || fail "--readahead 0 still read ahead"
[ "$(gets)" -eq $N ] || fail "without read-ahead: $(gets) chunk requests for $N chunks"
"$HS" umount "$T/m"
pass "--readahead 0: no read-ahead"

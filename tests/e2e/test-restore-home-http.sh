#!/bin/bash
# Failback's last leg over the network: restoring a point onto the server's
# old disk fetches from the store only the chunks whose content differs on
# the disk, counted in nginx's own access log.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../http.sh"

PORT=$(free_port)
nginx_conf web "$T/www" "$PORT" log
nginx_up web "$PORT"
URL=http://127.0.0.1:$PORT/store

make_ext4 "$T/disk.img" 48
"$HS" init "$URL" --chunk-size 64K >/dev/null
"$HS" snapshot "$URL" home01 "$T/disk.img" >/dev/null
cp --sparse=always "$T/disk.img" "$T/old.img"
# Days on the spare: a file rewritten and one added.
head -c 700000 /dev/urandom >"$T/a.bin"; ext4_write "$T/disk.img" /srv/data/a.bin "$T/a.bin"
seq 1 30000 | sed 's/^/spare line /' >"$T/b.txt"; ext4_write "$T/disk.img" /home/user/b.txt "$T/b.txt"
"$HS" backup "$URL" home01 "$T/disk.img" >/dev/null

# Which chunks differ between the old disk and the point (non-zero ones need a fetch)?
want=$(python3 - "$T/old.img" "$T/disk.img" <<'PY'
import sys
cs = 65536
a, b = (open(p, "rb") for p in sys.argv[1:3])
n = 0
while True:
    x, y = a.read(cs), b.read(cs)
    if not y:
        break
    if x != y and y.count(0) != len(y):
        n += 1
print(n)
PY
)
[ "$want" -gt 0 ] || fail "the day changed no chunk"
: >"$T/web/access.log"
"$HS" restore "$URL" home01 "$T/old.img" --json >"$T/r.json"
cmp "$T/old.img" "$T/disk.img" || fail "the old disk after restore differs from the point"
got=$(grep -c '"GET /store/chunks/' "$T/web/access.log" || true)
[ "$got" -eq "$want" ] || fail "restore fetched $got chunks from nginx; $want differ on the old disk"
served=$(awk '/"GET \/store\/chunks\// { s += $10 } END { print s + 0 }' "$T/web/access.log")
pass "restoring home fetched exactly the $got differing chunks ($served bytes served by nginx)"

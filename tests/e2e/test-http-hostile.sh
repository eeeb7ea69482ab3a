#!/bin/bash
# Web servers that misbehave, on 127.0.0.1 (tests/proxy.py fault in front of nginx):
# - a server that accepts chunk GETs and never answers, or answers a byte at a
#   time: a demand read of a cold block fails with EIO within --deadline plus a
#   second, and the mount reads again once the server behaves;
# - bodies with no end (no length, or a huge Content-Length) for chunks, an
#   index or the store description: the command fails with one line, and its
#   memory stays bounded (peak RSS from /proc);
# - TLS: a certificate for another host name, a HOTSPARE_CA_FILE that does not
#   exist and an untrusted certificate each get a message saying what is wrong.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root"; exit 77; }
. "$(dirname "$0")/../http.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

PORT=$(free_port)
nginx_conf web "$T/www" "$PORT"
nginx_up web "$PORT"
URL=http://127.0.0.1:$PORT/store
make_ext4 "$T/disk.img" 48
"$HS" init "$URL" >/dev/null
"$HS" snapshot "$URL" mail01 "$T/disk.img" >/dev/null || fail "snapshot"
CS=262144
PPORT=$(free_port)
echo pass >"$T/mode"
python3 "$HERE/../proxy.py" fault "$PPORT" "$PORT" "$T/mode" "$T/proxy.log" &
PROXY=$!
on_exit "kill $PROXY"
wait_for 10 port_open "$PPORT" || fail "the proxy did not start"
PURL=http://127.0.0.1:$PPORT/store
# Chunks with data (reads of zero chunks need no fetch), far apart.
read -r K1 K2 K3 < <(python3 - "$T/disk.img" $CS <<'PY'
import sys
f = open(sys.argv[1], "rb"); cs = int(sys.argv[2]); k = 0; found = []
while len(found) < 3:
    b = f.read(cs)
    if not b: break
    if b.count(0) < len(b) and k > 8 and (not found or k > found[-1] + 40): found.append(k)
    k += 1
print(*found)
PY
)
[ -n "$K3" ] || fail "the test image has too few data chunks"
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
under() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# 1. A server that stalls on chunk GETs, then one that trickles: EIO within
# the deadline (5 s) plus a second, through the page cache (the kernel reads
# a page again when its read-ahead failed) as the issue's user did.
mkdir "$T/mnt"
hs_mount_at "$T/mnt" "$PURL" mail01 "$T/mnt" --state "$T/s1" --deadline 5 --hydrate-threads 0
for m in stall trickle; do
	K=$K1; [ $m = trickle ] && K=$K2
	echo "$m chunks" >"$T/mode"
	start=$(now)
	rc=0; timeout 120 dd if="$T/mnt/mail01.img" of=/dev/null bs=64k count=1 skip=$((K * 4)) 2>"$T/dd.err" || rc=$?
	took=$(since "$start")
	[ "$rc" -ne 0 ] && grep -q "Input/output error" "$T/dd.err" || { cat "$T/dd.err"; fail "$m: the read did not fail with EIO (rc $rc)"; }
	under "$took" 7 || fail "$m: a read with --deadline 5 failed after $took s"
	grep -q " - $m\$" "$T/proxy.log" || fail "$m: the proxy did not misbehave"
	pass "a server that ${m}s on chunk GETs: EIO after $took s (--deadline 5)"
done
[ "$("$HS" status "$T/mnt" --json | json_get - errors)" -ge 1 ] || fail "the failed reads are not counted in status"
echo pass >"$T/mode"
for K in $K1 $K2; do
	dd if="$T/mnt/mail01.img" bs=$CS skip=$K count=1 status=none >"$T/got" || fail "no read after the server recovered"
	cmp "$T/got" <(dd if="$T/disk.img" bs=$CS skip=$K count=1 status=none) || fail "wrong bytes after the server recovered"
done
"$HS" umount "$T/mnt"
pass "once the server answers again, the same blocks read right"

# 2. Bodies with no end: one line, bounded memory. rss_run LIMIT_BYTES CMD...:
# run CMD (stderr to $T/run.err), kill it past LIMIT bytes of RSS or 60 s;
# prints "EXIT PEAK_BYTES".
rss_run() {
	python3 - "$T/run.err" "$@" <<'PY'
import resource, subprocess, sys, time
err, limit, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(err, "w"))
peak, end = 0, time.monotonic() + 60
while p.poll() is None:
    try:
        with open(f"/proc/{p.pid}/status") as f:
            rss = int(next(l for l in f if l.startswith("VmRSS")).split()[1]) * 1024
    except (OSError, StopIteration):
        rss = 0
    peak = max(peak, rss)
    if rss > limit or time.monotonic() > end:
        p.kill()
    time.sleep(0.01)
peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
print(p.returncode, peak)
PY
}
LIMIT=$((200 << 20))
for m in "endless chunks" "huge chunks" "endless index" "huge index" "endless description"; do
	echo "$m" >"$T/mode"
	rm -f "$T/r.img"
	read -r rc peak < <(rss_run $LIMIT "$HS" restore "$PURL" mail01 "$T/r.img")
	[ "$peak" -lt $LIMIT ] || fail "$m: restore grew to $((peak >> 20)) MiB of memory"
	[ "$rc" -ne 0 ] || fail "$m: restore succeeded"
	[ "$rc" -gt 0 ] && [ "$rc" -lt 128 ] || fail "$m: restore did not end by itself (exit $rc)"
	[ "$(wc -l <"$T/run.err")" -eq 1 ] || { cat "$T/run.err"; fail "$m: not one line of error"; }
	# A range read (an index, the description) takes the start of a whole
	# body and stops: the error is then about what that start holds.
	grep -Eq "larger than [0-9]+ bytes|is not a hotspare point|more than a store description can be" "$T/run.err" || { cat "$T/run.err"; fail "$m: the error does not say the body is too large or not what it should be"; }
	[ ! -e "$T/r.img" ] || fail "$m: a failed restore left its target"
	pass "$m body: one line ($(cut -c1-90 "$T/run.err")...), peak RSS $((peak >> 20)) MiB"
done
echo "endless manifest" >"$T/mode"
expect_fail "larger than [0-9]+ bytes" "$HS" points "$PURL" mail01
echo pass >"$T/mode"
"$HS" restore "$PURL" mail01 "$T/r.img" >/dev/null && cmp "$T/r.img" "$T/disk.img" || fail "restore once the server behaves"
pass "an endless manifest is refused too; restore works once the server behaves"

# A reply that begins with a folded header line (libcurl 7.88 fails such a
# transfer with "bad argument"): a malformed reply, tried again like a cut
# one, never a damaged chunk.
echo "fold-once chunks" >"$T/mode"
rm -f "$T/r.img"
"$HS" restore "$PURL" mail01 "$T/r.img" >/dev/null && cmp "$T/r.img" "$T/disk.img" ||
	fail "a folded reply once per chunk: restore failed or differs"
grep -q " - fold-once\$" "$T/proxy.log" || fail "fold-once: the proxy did not misbehave"
"$HS" verify "$PURL" >"$T/v.out" 2>&1 || { cat "$T/v.out"; fail "verify after folded replies"; }
echo "fold any" >"$T/mode"
rm -f "$T/r.img"
expect_fail "reply is malformed" "$HS" restore "$PURL" mail01 "$T/r.img"
[ ! -e "$T/r.img" ] || fail "a malformed reply left the restore's target"
echo "fold chunks" >"$T/mode"
expect_fail "reply is malformed" "$HS" verify "$PURL"
echo pass >"$T/mode"
"$HS" verify "$PURL" >/dev/null || fail "verify listed chunks as bad after malformed replies"
pass "a folded header line: retried (restore exact once it passes), else one line naming a malformed reply; no chunk called bad"

# 3. TLS: say what is wrong.
make_ca "$T/ca"
openssl req -newkey rsa:2048 -nodes -subj "/CN=elsewhere.invalid" -keyout "$T/ca/other.key" -out "$T/ca/other.csr" 2>/dev/null
printf 'subjectAltName=DNS:elsewhere.invalid\n' >"$T/ca/other.cnf"
openssl x509 -req -in "$T/ca/other.csr" -CA "$T/ca/ca.pem" -CAkey "$T/ca/ca.key" -CAcreateserial -days 2 \
	-extfile "$T/ca/other.cnf" -out "$T/ca/other.pem" 2>/dev/null
SPORT=$(free_port)
nginx_conf tls "$T/www" "$SPORT" ssl "$T/ca/other.pem" "$T/ca/other.key"
nginx_up tls "$SPORT"
SURL=https://127.0.0.1:$SPORT/store
HOTSPARE_CA_FILE=$T/ca/ca.pem expect_fail "TLS certificate is for another host name than the URL.s .*127.0.0.1" \
	"$HS" points "$SURL" mail01
! grep -q "set HOTSPARE_CA_FILE" "$T/.stderr" || fail "a host name mismatch suggests HOTSPARE_CA_FILE"
HOTSPARE_CA_FILE=$T/nowhere.pem expect_fail "^hotspare points: HOTSPARE_CA_FILE $T/nowhere.pem: no such file$" \
	"$HS" points "$SURL" mail01
expect_fail "CURL_CA_BUNDLE $T/nowhere.pem: no such file" \
	env -u HOTSPARE_CA_FILE CURL_CA_BUNDLE="$T/nowhere.pem" "$HS" points "$SURL" mail01
echo "not a certificate" >"$T/junk.pem"
HOTSPARE_CA_FILE=$T/junk.pem expect_fail "HOTSPARE_CA_FILE $T/junk.pem cannot be used as a CA bundle" \
	"$HS" points "$SURL" mail01
expect_fail "certificate is not trusted.*set HOTSPARE_CA_FILE" env -u HOTSPARE_CA_FILE "$HS" points "$SURL" mail01
pass "TLS: host name mismatch, a missing or unusable CA file and an untrusted certificate each say what is wrong"

# A static web server that ignores Range (Python's http.server sends every
# object whole, 200) and refuses PUT (501): points, restore and verify work,
# reading only the start of each index they need; the lease it cannot take is
# one warning, not retried as if the server were down.
HPORT=$(free_port)
(cd "$T/www" && exec python3 -m http.server --bind 127.0.0.1 "$HPORT") >"$T/pyhttp.log" 2>&1 &
PYHTTP=$!
on_exit "kill $PYHTTP"
wait_for 10 port_open "$HPORT" || fail "python's http.server did not start"
HURL=http://127.0.0.1:$HPORT/store
"$HS" points "$HURL" mail01 >"$T/points.out" || fail "points over a server that ignores Range: $(cat "$T/points.out")"
grep -q "^20" "$T/points.out" || fail "points over a server that ignores Range listed no point"
"$HS" restore "$HURL" mail01 "$T/py.img" >/dev/null 2>"$T/py.err" || fail "restore over a server that ignores Range: $(cat "$T/py.err")"
cmp "$T/py.img" "$T/disk.img" || fail "the restore over a server that ignores Range differs"
"$HS" verify "$HURL" mail01 >/dev/null 2>"$T/py.err" || fail "verify over a server that ignores Range: $(cat "$T/py.err")"
! grep -q "tried [0-9]* times" "$T/py.err" || fail "a 501 to PUT was retried: $(cat "$T/py.err")"
kill "$PYHTTP"
pass "a static server that ignores Range and refuses PUT: points, restore and verify"

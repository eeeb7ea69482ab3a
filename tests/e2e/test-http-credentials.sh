#!/bin/bash
# Credentials for a store behind HTTP basic auth (nginx auth_basic) never show:
# not in the process arguments (ps) of the commands or the mount daemon, not
# in any output, error message, status, state.json or daemon.log; a URL's
# user and password show as "***" whatever their length. Wrong or missing
# credentials get a one-line "access denied". The user and password may also
# come from --credentials-file (mode 0600; refused otherwise) or
# HOTSPARE_HTTP_USER / HOTSPARE_HTTP_PASSWORD: then a poller reading every
# process's /proc/PID/cmdline never sees the password.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root"; exit 77; }
. "$(dirname "$0")/../http.sh"

PASS=Sup3r-s3cret-pw9
printf 'backup:%s\n' "$(openssl passwd -apr1 "$PASS")" >"$T/htpasswd"
PORT=$(free_port)
nginx_conf web "$T/www" "$PORT" auth "$T/htpasswd"
nginx_up web "$PORT"
URL="http://backup:$PASS@127.0.0.1:$PORT/store"
CLEAN="http://127.0.0.1:$PORT/store"
OUT=$T/all-output
make_ext4 "$T/disk.img" 32

"$HS" init "$URL" >>"$OUT" 2>&1 || fail "init with credentials"
grep -q "initialised store $CLEAN " "$OUT" || { cat "$OUT"; fail "init does not name the store without its credentials"; }
"$HS" snapshot --ship "$T/usb" "$URL" mail01 "$T/disk.img" >>"$OUT" 2>&1 || fail "snapshot"
"$HS" backup "$URL" mail01 "$T/disk.img" >>"$OUT" 2>&1 || fail "backup"
"$HS" points "$URL" mail01 --json >>"$OUT" 2>&1 || fail "points"
"$HS" points "$URL" nobody >>"$OUT" 2>&1 && fail "points of a server without points passed"
grep -q "no points in $CLEAN" "$OUT" || fail "points does not name the store"
"$HS" verify "$URL" --seed "$T/usb" >>"$OUT" 2>&1 || fail "verify"
"$HS" verify "$URL" nobody >>"$OUT" 2>&1 && fail "verify of a server without points passed"
"$HS" restore "$URL" mail01 "$T/r.img" --seed "$T/usb" >>"$OUT" 2>&1 || fail "restore"
cmp "$T/r.img" "$T/disk.img" || fail "restore differs"
pass "init, snapshot, backup, points, verify and restore with credentials in the URL"

# The daemon: its arguments, status, state and log.
mkdir "$T/mnt"
on_exit "'$HS' umount '$T/mnt' || umount -l '$T/mnt'"
"$HS" mount "$URL" mail01 "$T/mnt" --state "$T/state" --seed "$T/usb" >>"$OUT" 2>&1 || fail "mount"
pid=$("$HS" status "$T/mnt" --json | json_get - pid)
tr '\0' ' ' <"/proc/$pid/cmdline" >"$T/cmdline"
grep -q "$PORT/store" "$T/cmdline" || { cat "$T/cmdline"; fail "the daemon's arguments do not show the store"; }
# Exactly the arguments, the credentials as "***": nothing tells their length.
python3 - "/proc/$pid/cmdline" "$HS" "http://***@127.0.0.1:$PORT/store" "$T/mnt" "$T/state" "$T/usb" <<'PY' ||
import sys
got = open(sys.argv[1], "rb").read()
hs, url, mnt, state, usb = sys.argv[2:]
want = "\0".join([hs, "mount", url, "mail01", mnt, "--state", state, "--seed", usb]).encode() + b"\0"
sys.exit(0 if got == want else f"cmdline {got!r}\nwanted  {want!r}")
PY
	fail "the daemon's arguments are not exactly the masked command"
ps -eo args >"$T/ps"
"$HS" status "$T/mnt" >>"$OUT" 2>&1
"$HS" status "$T/mnt" --json >"$T/st.json"
cat "$T/st.json" >>"$OUT"
[ "$(json_get "$T/st.json" store)" = "$CLEAN" ] || fail "status names the store as $(json_get "$T/st.json" store)"
wait_for 60 sh -c "'$HS' status '$T/mnt' --json | grep -q '\"hydrated\":true'" || fail "hydration"
cmp "$T/mnt/mail01.img" "$T/disk.img" || fail "the spare differs"
# A long-running command's own arguments, seen from outside while it runs.
nginx_down web
("$HS" points "$URL" mail01 >>"$T/late" 2>&1 &)
sleep 0.5
ps -eo args >>"$T/ps"
sleep 3
"$HS" umount "$T/mnt"
for f in "$OUT" "$T/cmdline" "$T/ps" "$T/state/state.json" "$T/state/daemon.log" "$T/late"; do
	! grep -q -- "$PASS" "$f" || { grep -- "$PASS" "$f" | head -3; fail "the password is in $f"; }
done
grep -q "hotspare points http://\*\*\*@127.0.0.1:$PORT/store mail01" "$T/ps" || { grep hotspare "$T/ps"; fail "ps did not see the masked command"; }
grep -q "cannot reach $CLEAN/hotspare-store.json" "$T/late" || { cat "$T/late"; fail "the unreachable store's message"; }
nginx_up web "$PORT"
pass "no password in ps, cmdline, output, errors, status, state.json or daemon.log"

# Wrong and missing credentials: one line, access denied, no password.
expect_fail "access denied \(HTTP 401\)" "$HS" points "http://backup:wrong-pw-77@127.0.0.1:$PORT/store" mail01
! grep -q "wrong-pw-77" "$T/.stderr" || fail "the wrong password is in the message"
expect_fail "access denied \(HTTP 401\)" "$HS" points "$CLEAN" mail01
HOTSPARE_HTTP_USER=backup HOTSPARE_HTTP_PASSWORD=$PASS "$HS" points "$CLEAN" mail01 >/dev/null ||
	fail "credentials from HOTSPARE_HTTP_USER / HOTSPARE_HTTP_PASSWORD"
pass "wrong or missing credentials: one-line access denied; credentials from the environment work"

# Credentials from a file: refused unless only its owner may read it; then
# neither the file's nor the environment's password is ever in any process's
# arguments (a poller reads every /proc/PID/cmdline while commands run).
printf 'backup:%s\n' "$PASS" >"$T/cred"
chmod 644 "$T/cred"
expect_fail "^hotspare points: credentials file $T/cred may be read by others \(mode 0644\): chmod 600 it$" \
	"$HS" points "$CLEAN" mail01 --credentials-file "$T/cred"
expect_fail "^hotspare points: credentials file $T/nocred: No such file" \
	"$HS" --credentials-file "$T/nocred" points "$CLEAN" mail01
chmod 600 "$T/cred"
python3 - "$PASS" "$T/poll" <<'PY' &
import os, sys
pw, out = sys.argv[1].encode(), sys.argv[2]
seen = hits = 0
while not os.path.exists(out + ".stop"):
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                c = open(f"/proc/{pid}/cmdline", "rb").read()
            except OSError:
                continue
            if b"hotspare" in c and b"python3" not in c:
                seen += 1
                hits += pw in c
    if not os.path.exists(out + ".ready"):
        open(out + ".ready", "w").close()
open(out, "w").write(f"{seen} {hits}\n")
PY
POLLER=$!
on_exit "touch '$T/poll.stop'; kill $POLLER"
# The commands start once the poller has gone through /proc once (python
# starts slowly on a loaded machine: it once saw none of them).
wait_for 60 test -e "$T/poll.ready" || fail "the poller did not start"
rm -rf "$T/r.img" "$T/state"
"$HS" points "$CLEAN" mail01 --credentials-file "$T/cred" >/dev/null || fail "points with --credentials-file"
"$HS" --credentials-file="$T/cred" restore "$CLEAN" mail01 "$T/r.img" --seed "$T/usb" >/dev/null || fail "restore with --credentials-file"
cmp "$T/r.img" "$T/disk.img" || fail "restore with --credentials-file differs"
"$HS" mount "$CLEAN" mail01 "$T/mnt" --state "$T/state" --seed "$T/usb" --credentials-file "$T/cred" >/dev/null || fail "mount with --credentials-file"
cmp "$T/mnt/mail01.img" "$T/disk.img" || fail "the spare read with --credentials-file differs"
"$HS" umount "$T/mnt"
for i in 1 2 3; do
	HOTSPARE_HTTP_USER=backup HOTSPARE_HTTP_PASSWORD=$PASS "$HS" points "$CLEAN" mail01 >/dev/null || fail "points with the environment"
	"$HS" points "$CLEAN" mail01 --credentials-file "$T/cred" >/dev/null || fail "points with --credentials-file"
done
touch "$T/poll.stop"
wait $POLLER
read -r seen hits <"$T/poll"
[ "$seen" -gt 0 ] || fail "the poller saw no hotspare process"
[ "$hits" -eq 0 ] || fail "the password was in a process's arguments $hits times"
! grep -q -- "$PASS" "$T/state/daemon.log" "$T/state/state.json" || fail "the password is in the state"
pass "--credentials-file (0600) and the environment: the password never in /proc/PID/cmdline ($seen looks)"

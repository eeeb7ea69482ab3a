#!/bin/bash
# The configuration file (HOTSPARE_CONFIG here; /etc/hotspare/hotspare.conf
# on a host): every setting is used when its option is absent and loses to
# the option (and the environment) when present; a [server NAME] section
# overrides the top of the file for that server; `hotspare config` says
# where each value came from; a malformed file is refused by every command
# with one line naming the file and the line.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root"; exit 77; }
. "$(dirname "$0")/../http.sh"
C=$T/hotspare.conf
export HOTSPARE_CONFIG=$C
conf() { cat >"$C"; chmod 644 "$C"; }
cd "$T" # no file here is named like a server

head -c 3M /dev/urandom >"$T/disk.img"
head -c 1M /dev/urandom >"$T/data.img"
HOTSPARE_CONFIG= "$HS" init "$T/store" >/dev/null
HOTSPARE_CONFIG= "$HS" init "$T/other" >/dev/null
HOTSPARE_CONFIG= "$HS" init "$T/empty-drive" >/dev/null
HOTSPARE_CONFIG= "$HS" snapshot --ship "$T/usb" "$T/store" mail01 "$T/disk.img" >/dev/null

# store and seed: the snapshot's chunks are on the drive only.
conf <<EOF
# the store of this test
store = $T/store
   seed = $T/usb   ; indented, with a comment
[server web01]
store = $T/other
EOF
"$HS" points mail01 | grep -q snapshot || fail "points SERVER does not use the configured store"
"$HS" points --json | grep -q '"server":"mail01"' || fail "points without STORE does not list the configured store's servers"
expect_fail "no points in $T/other" "$HS" points "$T/other" mail01
expect_fail "no points in $T/other" "$HS" points web01
"$HS" restore mail01 "$T/r1.img" >/dev/null || fail "restore with the configured store and seed"
cmp "$T/r1.img" "$T/disk.img" || fail "restore differs"
"$HS" restore mail01 "$T/r2.img" --seed "$T/empty-drive" >/dev/null 2>&1 &&
	fail "--seed on the line did not replace the configured seed"
[ ! -e "$T/r2.img" ] || fail "a refused restore left its target"
# STORE left out with several DISK=SOURCE: db01 names nothing here, so it is the server.
"$HS" snapshot db01 a="$T/disk.img" b="$T/data.img" >/dev/null || fail "snapshot without STORE, two disks"
"$HS" points db01 | grep -q 'a=3.0 MiB b=1.0 MiB' || fail "the two-disk snapshot is not in the configured store"
# A path is always the STORE, even one that does not exist: never taken for a server.
expect_fail "$T/nowhere" "$HS" verify "$T/nowhere"
expect_fail "$T/nowhere" "$HS" points "$T/nowhere" mail01
pass "store and seed: used when absent, the command line wins, [server] overrides, STORE may be left out"

# The key file and its passphrase file; the environment and the option win.
printf 'correct horse\n' >"$T/pw"
HOTSPARE_CONFIG= "$HS" key create "$T/k.key" --passphrase-file "$T/pw" >/dev/null
HOTSPARE_CONFIG= "$HS" key create "$T/other.key" >/dev/null
HOTSPARE_CONFIG= "$HS" init "$T/enc" --encrypt "$T/k.key" --passphrase-file "$T/pw" >/dev/null
conf <<EOF
store = $T/enc
keyfile = $T/k.key
passphrase-file = $T/pw
[server web01]
keyfile = $T/other.key
EOF
"$HS" snapshot mail01 "$T/data.img" >/dev/null || fail "snapshot with the configured key and passphrase"
"$HS" restore mail01 "$T/r3.img" >/dev/null || fail "restore with the configured key"
cmp "$T/r3.img" "$T/data.img" || fail "encrypted restore differs"
expect_fail "the key is not" "$HS" restore mail01 "$T/r4.img" --keyfile "$T/other.key"
HOTSPARE_KEYFILE=$T/other.key expect_fail "the key is not" "$HS" restore mail01 "$T/r4.img"
expect_fail "the key is not" "$HS" snapshot web01 "$T/data.img"
"$HS" snapshot web01 "$T/data.img" --keyfile "$T/k.key" --passphrase-file "$T/pw" >/dev/null ||
	fail "--keyfile does not win over [server web01] keyfile"
[ ! -e "$T/r4.img" ] || fail "a refused restore left its target"
pass "keyfile and passphrase-file: used when absent, the environment and the option win, [server] overrides"

# The credentials file, against a store behind basic auth.
PASS=s3cret-pass
printf 'backup:%s\n' "$(openssl passwd -apr1 "$PASS")" >"$T/htpasswd"
PORT=$(free_port)
nginx_conf web "$T/www" "$PORT" auth "$T/htpasswd"
nginx_up web "$PORT"
printf 'backup:%s\n' "$PASS" >"$T/cred"
printf 'backup:wrong\n' >"$T/badcred"
chmod 600 "$T/cred" "$T/badcred"
conf <<EOF
store = http://127.0.0.1:$PORT/store
credentials-file = $T/cred
EOF
"$HS" init >/dev/null || fail "init of the configured store with the configured credentials"
"$HS" snapshot mail01 "$T/data.img" >/dev/null || fail "snapshot with the configured credentials"
"$HS" points mail01 | grep -q snapshot || fail "points with the configured credentials"
"$HS" points mail01 --credentials-file "$T/badcred" >/dev/null 2>&1 && fail "--credentials-file does not win"
HOTSPARE_CREDENTIALS_FILE=$T/badcred "$HS" points mail01 >/dev/null 2>&1 && fail "HOTSPARE_CREDENTIALS_FILE does not win"
chmod 644 "$T/cred"
expect_fail "^hotspare points: credentials file $T/cred may be read by others .*\(credentials-file on line 2 of $C\)$" \
	"$HS" points mail01
pass "credentials-file: used when absent, the option and the environment win"

# state-dir and mount-dir: mount SERVER alone.
conf <<EOF
store = $T/store
seed = $T/usb
state-dir = $T/states
mount-dir = $T/spares/
EOF
on_exit "'$HS' umount '$T/spares/mail01' || umount -l '$T/spares/mail01'"
"$HS" mount mail01 >/dev/null || fail "mount SERVER with the configured directories"
"$HS" status "$T/spares/mail01" --json >"$T/st.json" || fail "no spare at mount-dir/SERVER"
[ "$(json_get "$T/st.json" state)" = "$T/states/mail01" ] || fail "the state is $(json_get "$T/st.json" state)"
cmp <(head -c 3M "$T/spares/mail01/mail01.img") "$T/disk.img" || fail "the configured spare differs from the point's disk"
"$HS" umount "$T/spares/mail01"
mkdir "$T/m2"
on_exit "'$HS' umount '$T/m2' || umount -l '$T/m2'"
"$HS" mount mail01 "$T/m2" --state "$T/s2" >/dev/null || fail "mount with MOUNTPOINT and --state"
"$HS" status "$T/m2" --json | grep -q "\"state\":\"$T/s2\"" || fail "--state on the line does not win"
"$HS" umount "$T/m2"
pass "state-dir and mount-dir: used when absent, the command line wins"

# connect, profile and report-dir, against libvirt's in-process test driver.
conf <<EOF
store = $T/store
seed = $T/usb
state-dir = $T/states
mount-dir = $T/spares
connect = qemu:///hotspare-no-such-uri
report-dir = $T/reports
[server mail01]
profile = windows
EOF
expect_fail "libvirt at qemu:///hotspare-no-such-uri" "$HS" failover mail01
"$HS" failover mail01 --connect test:///default >"$T/fo" 2>&1 || { cat "$T/fo"; fail "failover --connect"; }
grep -q "windows profile" "$T/fo" || { cat "$T/fo"; fail "[server mail01] profile is not used"; }
"$HS" umount "$T/spares/mail01"
"$HS" failover mail01 --connect test:///default --profile linux >"$T/fo" 2>&1 || fail "failover --profile"
grep -q "linux profile" "$T/fo" || fail "--profile does not win"
"$HS" umount "$T/spares/mail01"
# The drill cannot boot in the test driver: it fails, with its report where it belongs.
"$HS" drill mail01 --connect test:///default --timeout 1 --work-dir "$T" >/dev/null 2>&1 && fail "a drill passed in the test driver"
[ -s "$T/reports/mail01/report.json" ] || fail "no report in report-dir/SERVER"
"$HS" drill mail01 --connect test:///default --timeout 1 --work-dir "$T" --report "$T/rep2" >/dev/null 2>&1 || true
[ -s "$T/rep2/report.json" ] || fail "--report does not win"
pass "connect, profile and report-dir: used when absent, the command line wins"

# hotspare config: the value and the source of each setting.
"$HS" config mail01 --keyfile /etc/some.key >"$T/cfg"
grep -Eq "^store +$T/store +$C line 1$" "$T/cfg" || { cat "$T/cfg"; fail "config: store"; }
grep -Eq "^profile +windows +$C line 8, \[server mail01\]$" "$T/cfg" || { cat "$T/cfg"; fail "config: profile"; }
grep -Eq "^keyfile +/etc/some.key +command line \(--keyfile\)$" "$T/cfg" || { cat "$T/cfg"; fail "config: keyfile"; }
HOTSPARE_PASSPHRASE_FILE=/etc/p "$HS" config | grep -Eq "^passphrase-file +/etc/p +environment \(HOTSPARE_PASSPHRASE_FILE\)$" ||
	fail "config: passphrase-file from the environment"
"$HS" config web01 | grep -Eq "^profile +linux +built-in default$" || fail "config: a default"
"$HS" config --json | json_get - settings connect line | grep -qx 5 || fail "config --json: the line"
HOTSPARE_CONFIG= "$HS" config | grep -q "^configuration file: none" || fail "config: HOTSPARE_CONFIG empty"
pass "hotspare config names each setting's source (option, environment, file line and section, default)"

# A malformed file: every command refuses it in one line naming the line.
bad() { # LINE PATTERN: the file (from stdin) is refused at LINE
	conf
	expect_fail "^hotspare points: $C line $1: $2" "$HS" points mail01
	expect_fail "^hotspare status: $C line $1: $2" "$HS" status "$T"
}
printf 'store = /srv/s\n\nstor = /srv/t\n' | bad 3 "unknown setting 'stor'$"
printf '# comment\nstore /srv/s\n' | bad 2 "not 'NAME = VALUE'"
printf 'seed = usb\n' | bad 1 "seed 'usb' is not an absolute path or an http://, https:// or s3:// URL$"
printf 'store = /a\nprofile = linux\nstore = /b\n' | bad 3 "store is set twice \(first on line 1\)$"
printf 'profile = macos\n' | bad 1 "profile 'macos' is not linux or windows$"
printf '\n[server mail/01]\n' | bad 2 "\[server mail/01\]: server name"
printf '[servers mail01]\n' | bad 1 "unknown section \[servers mail01\]"
printf '[server a]\nprofile = linux\n[server a]\n' | bad 3 "\[server a\] again \(first on line 1\)$"
printf '[server a\n' | bad 1 "a section header without"
printf 'store =\n' | bad 1 "store has no value$"
{ printf 'store = /a\nseed = /'; head -c 300 /dev/zero | tr '\0' x; echo; } | bad 2 "longer than [0-9]+ characters$"
printf 'store = /a\nseed = /b\0c\n' | bad 2 "a NUL byte$"
conf </dev/null
chmod 666 "$C"
expect_fail "^hotspare points: configuration file $C may be written by group or others" "$HS" points mail01
chmod 644 "$C"
chown nobody "$C"
expect_fail "^hotspare points: configuration file $C belongs to user [0-9]+, neither root nor you$" "$HS" points mail01
mkfifo "$T/fifo"
HOTSPARE_CONFIG=$T/fifo timeout 20 "$HS" points mail01 2>"$T/err" && fail "a FIFO as configuration was read"
grep -q "configuration file $T/fifo is not a regular file" "$T/err" || { cat "$T/err"; fail "a FIFO as configuration"; }
HOTSPARE_CONFIG=$T/none.conf expect_fail "^hotspare points: configuration file $T/none.conf: No such file" \
	"$HS" points mail01
pass "a malformed configuration is refused by every command, naming its line"

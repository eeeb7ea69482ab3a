#!/bin/bash
# A drill's checks beyond the console line, all in one boot: an HTTP page
# through the isolated forward; files read from a read-only browse of the
# spare's own disk after the boot (one as the point holds it, one the guest
# itself rewrote during the drill, one the point holds changed since the
# check was written, one missing); a script on the host told the forwarded
# ports and the browse directory; and a screen that must settle and not be
# blank. The report lists every check with its verdict and the script's
# output; the changed and the missing file fail the drill (exit 1), the
# others pass. libvirtd's socket appears only after the drill started (as
# while libvirtd restarts): the drill waits for it. Nothing is left behind
# and the store is unchanged.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root"; exit 77; }
. "$(dirname "$0")/../qemu.sh"
chmod 755 "$T"
libvirt_up
export HOTSPARE_TRACE_DIR=$T/traces HOTSPARE_WORK_DIR=$T/bwork
mkdir "$T/bwork" "$T/work"

sha0=$("$ROOT/scripts/make-test-disk.sh" "$T/disk.img")
# The point holds a boot count of 41 and a hostname renamed since the check
# below was written for the original one.
echo 41 >"$T/count"
echo renamed-host >"$T/hostname"
dev=$(losetup -f --show -o 1048576 "$T/disk.img")
on_exit "losetup -d $dev"
ext4_write "$dev" /var/lib/hotspare/boot-count "$T/count"
ext4_write "$dev" /etc/hostname "$T/hostname"
losetup -d "$dev"
"$HS" init "$T/store" >/dev/null
"$HS" snapshot --ship "$T/usb" "$T/store" web01 "$T/disk.img" >/dev/null
sums() { find "$T/store" "$T/usb" -type f -not -path '*/locks/*' -print0 | sort -z | xargs -0 sha256sum; }
before=$(sums)

sum() { printf '%s' "$1" | sha256sum | cut -c1-64; }
cat >"$T/check.sh" <<EOF
#!/bin/sh
# The service answers through its forward, and the disk's data is in the browse.
set -e
echo "ports: \$HOTSPARE_PORTS; server \$HOTSPARE_SERVER@\$HOTSPARE_POINT"
curl -sf --noproxy '*' "http://\$HOTSPARE_HOST:\$HOTSPARE_PORT_80/" | grep -q "hotspare test disk"
test "\$(sha256sum <"\$HOTSPARE_BROWSE/disk0/p1/srv/data.bin" | cut -c1-64)" = "$sha0"
echo "script saw the page and the data"
EOF
chmod 755 "$T/check.sh"

# libvirtd restarting as the drill starts (a package upgrade, another test
# stopping the daemon it started): its socket appears only after a while,
# and the drill waits for it instead of failing its boot.
[ "$LIBVIRT_URI" = qemu:///system ] || { echo "skip - the socket wait needs qemu:///system"; exit 77; }
(sleep 12; ln -s /run/libvirt/libvirt-sock "$T/libvirt-sock") & on_exit "kill $!"
rc=0
"$HS" drill "$T/store" web01 --seed "$T/usb" --report "$T/rep" --timeout 240 --work-dir "$T/work" \
	--connect "qemu:///system?socket=$T/libvirt-sock" \
	--expect-screen --expect "login:" \
	--check-http "80/index.html=hotspare test disk" \
	--check-file "disk0:p1:/srv/data.bin=$sha0" \
	--check-file "disk0:p1:/var/lib/hotspare/boot-count=$(sum $'42\n')" \
	--check-file "disk0:p1:/etc/hostname=$(sum $'hotspare-test\n')" \
	--check-file "disk0:p1:/no/such/file" \
	--check-script "$T/check.sh" >"$T/drill.out" 2>&1 & pd=$!
on_exit "kill $pd"
wait $pd || rc=$?
[ $rc -eq 1 ] || { cat "$T/drill.out"; fail "the drill exited $rc, not 1"; }
grep -q "^hotspare drill: checks: 2 of 6 checks failed$" "$T/drill.out" || { cat "$T/drill.out"; fail "the drill's one line"; }

python3 - "$T/rep/report.json" "$T/check.sh" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
checks = [(c["kind"], c["name"], c["ok"]) for c in r["checks"]]
want = [
    ("screen", "screen", True),
    ("http", "HTTP port 80 /index.html", True),
    ("file", "file disk0:p1:/srv/data.bin", True),
    ("file", "file disk0:p1:/var/lib/hotspare/boot-count", True),
    ("file", "file disk0:p1:/etc/hostname", False),
    ("file", "file disk0:p1:/no/such/file", False),
    ("script", "script " + sys.argv[2], True),
]
assert checks == want, checks
c = {x["name"]: x for x in r["checks"]}
assert all(x["run"] for x in r["checks"])
assert c["file disk0:p1:/etc/hostname"]["detail"].startswith("changed"), c["file disk0:p1:/etc/hostname"]
assert c["file disk0:p1:/no/such/file"]["detail"] == "no such file"
# The boot count the guest wrote during the drill: the data it would see.
assert c["file disk0:p1:/var/lib/hotspare/boot-count"]["sha256"]
out = c["script " + sys.argv[2]]["output"]
assert "script saw the page and the data" in out and "ports: 80=" in out, out
assert r["passed"] is False
assert [s["name"] for s in r["steps"] if not s["ok"]] == ["checks"], r["steps"]
assert r["errors"][0] == "checks: 2 of 6 checks failed", r["errors"]
# Up, and restored; never online (checks failed).
assert r["startup_seconds"] > 0 and r["restore_seconds"] >= r["startup_seconds"]
assert r["online_seconds"] is None
assert r["expect_screen"] is True and r["screenshot"]["width"] > 0
PY
grep -q '<span class="bad-t">failed</span> changed' "$T/rep/report.html" || fail "the HTML does not show the changed file failing"
grep -q 'script saw the page and the data' "$T/rep/report.html" || fail "the HTML does not show the script's output"
pass "HTTP, file (kept, rewritten by the guest, changed, missing), script and screen checks: each with its verdict; the failing files fail the drill"

[ -z "$(virsh -c "$LIBVIRT_URI" list --all --name | grep -x "hotspare-drill-web01-$pd" || true)" ] || fail "a domain was left"
! grep -q "$T/" /proc/mounts || fail "a mount was left: $(grep "$T/" /proc/mounts)"
[ -z "$(ls -A "$T/work")" ] || fail "the drill left $(ls "$T/work")"
[ -z "$(ls -A "$T/bwork")" ] || fail "the browse left $(ls "$T/bwork")"
[ "$before" = "$(sums)" ] || fail "the drill changed the store or the seed"
pass "no domain, browse, mount or work directory left; store and seed unchanged"

# Arguments are checked before anything boots.
expect_fail "--check-file 'x' is not DISK:PART:PATH" "$HS" drill "$T/store" web01 --report "$T/r2" --check-file x
expect_fail "--check-http: '0' is not a port" "$HS" drill "$T/store" web01 --report "$T/r2" --check-http 0/
expect_fail "--check-script .* is not executable" "$HS" drill "$T/store" web01 --report "$T/r2" --check-script "$T/count"
expect_fail "the point has no disk d9|web01@.* has no disk d9" "$HS" drill "$T/store" web01 --seed "$T/usb" \
	--report "$T/r2" --work-dir "$T/work" --check-file d9:p1:/etc/hostname
expect_fail "--skip-proved needs --drills" "$HS" drill "$T/store" web01 --report "$T/r2" --skip-proved
expect_fail "--report DIR or --drills DIR is missing" "$HS" drill "$T/store" web01
[ ! -e "$T/r2" ] || fail "a refused drill wrote a report"
[ -z "$(ls -A "$T/work")" ] || fail "a refused drill left $(ls "$T/work")"
pass "malformed checks, a disk the point lacks and missing places are refused before anything boots"

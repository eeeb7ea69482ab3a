#!/bin/bash
# Drills: a good point passes with a report whose timings add up (drilled
# with relative paths for the store, seed, drills directory and work
# directory: libvirt gets absolute ones), the three times (start-up, restore,
# online) and a screenshot of the guest's screen (a PNG that decodes and is
# not blank), while an unbootable point (MBR boot code wiped by a later
# backup) of another server is drilled at the same time and fails within its
# timeout, naming the step. The good point is recorded as proved: a drill
# with --skip-proved does not boot it again.
# Neither leaves a domain, a mount or a work directory behind; store and seeds
# are byte-for-byte unchanged; the boot trace makes the next mount hydrate
# the boot's chunks first; the HTML report renders in headless Chromium.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root"; exit 77; }
. "$(dirname "$0")/../qemu.sh"
chmod 755 "$T"
libvirt_up
export HOTSPARE_TRACE_DIR=$T/traces

sha0=$("$ROOT/scripts/make-test-disk.sh" "$T/good.img")
cp --sparse=always "$T/good.img" "$T/bad.img"
"$HS" init "$T/store" >/dev/null
"$HS" snapshot --ship "$T/usb" "$T/store" good01 "$T/good.img" >/dev/null
"$HS" snapshot --ship "$T/usb" "$T/store" bad02 "$T/bad.img" >/dev/null
dd if=/dev/zero of="$T/bad.img" bs=440 count=1 conv=notrunc status=none
"$HS" backup "$T/store" bad02 "$T/bad.img" >/dev/null
sums() { find "$T/store" "$T/usb" -type f -not -path '*/locks/*' -print0 | sort -z | xargs -0 sha256sum; }
before=$(sums)
mkdir "$T/work"

cd "$T"
"$HS" drill store good01 --seed usb --drills drills --skip-proved --timeout 180 --check-tcp 80 \
	--work-dir work >"$T/good.out" 2>&1 & pg=$!
"$HS" drill "$T/store" bad02 --seed "$T/usb" --report "$T/rbad" --timeout 25 \
	--work-dir "$T/work" >"$T/bad.out" 2>&1 & pb=$!
on_exit "kill $pg $pb"
rg=0; wait $pg || rg=$?
rb=0; wait $pb || rb=$?
[ $rg -eq 0 ] || { cat "$T/good.out"; fail "the good drill failed"; }
[ $rb -eq 1 ] || { cat "$T/bad.out"; fail "the unbootable drill exited $rb, not 1"; }
gpoint=$("$HS" points "$T/store" good01 --json | json_get - 0 id)
ln -s "drills/good01/$gpoint" "$T/rgood"
[ -s "$T/drills/good01/$gpoint/report.json" ] || fail "no report in the drills directory"

python3 - "$T/rgood/report.json" "$T/rbad/report.json" <<'PY'
import json, sys
g, b = (json.load(open(p)) for p in sys.argv[1:3])
for r in (g, b):
    for k in ("server", "point", "passed", "boot_seconds", "verify_seconds", "total_seconds", "steps", "errors"):
        assert k in r, k
    for s in r["steps"]:
        assert set(("name", "seconds", "ok")) <= set(s), s
    total = sum(s["seconds"] for s in r["steps"])
    # The steps run one after another: they add up to the whole drill.
    assert abs(total - r["total_seconds"]) < 0.5, (total, r["total_seconds"])
    ends = [s["start"] + s["seconds"] for s in r["steps"]]
    assert all(a <= s["start"] + 1e-6 for a, s in zip(ends, r["steps"][1:])), "steps overlap"
assert g["passed"] is True and g["errors"] == [], g["errors"]
assert g["consistency"] == "crash-consistent" and b["consistency"] == "crash-consistent", g["consistency"]
assert [s["name"] for s in g["steps"]] == ["mount", "first byte", "boot", "checks", "shutdown", "verify", "restore", "teardown"], g["steps"]
assert all(s["ok"] for s in g["steps"])
assert g["checks"][0]["ok"] and g["checks"][0]["name"] == "TCP port 80" and g["checks"][0]["kind"] == "tcp"
# The three times, in order: up, every check passed; the restore after the boot.
st, rs, on = g["startup_seconds"], g["restore_seconds"], g["online_seconds"]
assert 0 < st <= on <= g["total_seconds"], (st, on)
assert st <= rs <= g["total_seconds"], (st, rs)
assert abs(g["rpo_seconds"] - g["point_age_seconds"]) <= 1 and g["rpo_seconds"] >= 0
assert g["restore"]["complete"] is True
assert g["restore"]["bytes_from_seed"] + g["restore"]["bytes_from_store"] > g["boot_reads"]["bytes"]
assert g["screenshot"]["file"] == "screenshot.png" and g["screenshot"]["width"] > 0, g["screenshot"]
# The unbootable guest's screen is kept too (what its firmware said).
assert b["screenshot"] is not None and b["startup_seconds"] is None and b["online_seconds"] is None
assert g["boot_reads"]["bytes"] > 0 and g["boot_reads"]["chunks"] > 0
assert g["verify"]["bad_chunks"] == 0 and g["verify"]["chunks"] > 0
assert abs(g["boot_seconds"] - [s for s in g["steps"] if s["name"] == "boot"][0]["seconds"]) < 1e-6
assert b["passed"] is False
assert "crash-consistent: every disk at one instant" in open(sys.argv[1].replace("report.json", "report.html")).read()
failed = [s["name"] for s in b["steps"] if not s["ok"]]
assert failed == ["boot"], failed
assert b["total_seconds"] < 25 + 20, b["total_seconds"]
assert b["errors"] and b["errors"][0].startswith("boot: "), b["errors"]
PY
/usr/bin/python3 -c 'import PIL' 2>/dev/null || apt-get install -y -qq --no-install-recommends python3-pil >/dev/null
/usr/bin/python3 - "$T/rgood/screenshot.png" <<'PY'
import sys
from PIL import Image
img = Image.open(sys.argv[1]).convert("RGB")
img.load()
hist = img.getcolors(1 << 24)
top = max(c for c, _ in hist)
ink = 1 - top / (img.width * img.height)
assert ink > 0.001, ("the screenshot is blank", ink)
PY
pass "a good drill passes (timings add up, three times, a screenshot that is not blank) while an unbootable one fails at its boot step, at once"

# Proved: the next scheduled drill of the same point skips it without booting.
"$HS" drill store good01 --seed usb --drills drills --skip-proved --work-dir work >"$T/skip.out" 2>&1 ||
	{ cat "$T/skip.out"; fail "a drill of a proved point failed"; }
grep -q "^drill good01@$gpoint: already proved by the drill of .*; skipped$" "$T/skip.out" || { cat "$T/skip.out"; fail "not skipped"; }
grep -q "^$gpoint " "$T/drills/good01/proved" || fail "the point is not in the record of proved points"
pass "a proved point is skipped by --skip-proved (recorded in DRILLS/SERVER/proved)"

# Domains are named for the drill's pid: other work on this host drills too.
[ -z "$(virsh -c "$LIBVIRT_URI" list --all --name | grep -E "^hotspare-drill-(good01-$pg|bad02-$pb)\$" || true)" ] ||
	fail "a drill left a domain"
! grep -q "$T/work" /proc/mounts || fail "a drill left a mount"
[ -z "$(ls -A "$T/work")" ] || fail "a drill left $(ls "$T/work")"
[ "$before" = "$(sums)" ] || fail "a drill changed the store or the seed"
pass "no domain, mount or work directory left; store and seed unchanged"

# The boot trace: the next mount of good01 hydrates those chunks first.
trace=$T/traces/good01.trace
[ -s "$trace" ] || fail "no boot trace saved"
n=$(($(wc -l <"$trace") - 4))
[ "$n" -eq "$(json_get "$T/rgood/report.json" boot_reads chunks)" ] || fail "trace of $n chunks"
mkdir "$T/mnt"
hs_mount_at "$T/mnt" "$T/store" good01 "$T/mnt" --state "$T/state" --seed "$T/usb" --hydrate-threads 1
grep -q "hydrating the $n chunks of boot trace $trace first" "$T/state/daemon.log" || fail "mount ignored the boot trace"
"$HS" umount "$T/mnt"
pass "the boot trace ($n chunks) is hydrated first by the next mount"

# The customer's page renders: verdict and timeline, in headless Chromium.
command -v chromium >/dev/null || apt-get install -y -qq --no-install-recommends chromium >/dev/null
/usr/bin/python3 -c 'import PIL' 2>/dev/null || apt-get install -y -qq --no-install-recommends python3-pil >/dev/null
for which in good bad; do
	chromium_run() {
		timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
			--disable-component-update --disable-sync --no-first-run --user-data-dir="$T/chrome-$which" \
			--window-size=1000,1400 "$@" "file://$T/r$which/report.html" 2>/dev/null
	}
	chromium_run --dump-dom >"$T/$which.dom"
	chromium_run --screenshot="$T/$which.png" >/dev/null
	[ -s "$T/$which.png" ] || fail "no screenshot of the $which report"
	/usr/bin/python3 - "$T/$which.dom" "$T/$which.png" "$which" "$T/r$which/report.json" <<'PY'
import json, sys
from PIL import Image
dom, png, which, rep = sys.argv[1:5]
html = open(dom).read()
r = json.load(open(rep))
want = "Recovery drill passed" if which == "good" else "Recovery drill FAILED"
assert want in html, "verdict missing"
assert html.count('<rect class="step') == len(r["steps"]), "timeline bars"
import re
# The three times at the top, as numbers for the good drill.
for k in ("startup", "restore", "online", "rpo"):
    m = re.search('id="%s">([^<]*)<' % k, html)
    assert m, k
    if which == "good":
        assert re.match(r"[0-9]", m.group(1)), (k, m.group(1))
if which == "bad":
    assert re.search('id="online">not reached<', html)
assert html.index('id="startup"') < html.index("<table>"), "the times are not at the top"
# The guest's screen, inline: the page needs no other file.
m = re.search('<img id="screen"[^>]* src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
assert m, "no inline screenshot"
import base64, io
shot = Image.open(io.BytesIO(base64.b64decode(m.group(1))))
assert shot.size[0] > 0
img = Image.open(png).convert("RGB")
px = img.getpixel((40, 40))  # inside the verdict banner
green, red = (0x1a, 0x7f, 0x37), (0xcf, 0x22, 0x2e)
exp = green if which == "good" else red
assert all(abs(a - b) < 40 for a, b in zip(px, exp)), ("banner colour", px)
# The timeline was drawn: bar colours appear in the picture.
colours = set(img.getdata())
assert any(abs(c[0] - 0x2d) < 20 and abs(c[1] - 0xa4) < 20 and abs(c[2] - 0x4e) < 20 for c in colours), "no green bars"
# The screenshot was drawn: a dark block (the guest's screen) in the white page.
dark = sum(1 for p in img.getdata() if max(p) < 40)
assert dark > 50000, ("no screenshot in the page", dark)
PY
done
pass "both reports render in Chromium: verdict banner colour, the three times at the top, the screenshot, one timeline bar per step"

# Ctrl-C (then SIGTERM) in the middle of the boot: everything is torn down,
# the exit status is the signal's (128+N: no verdict), and the report says
# "interrupted", not FAILED.
for sig in INT TERM; do
	rm -rf "$T/rint"
	"$HS" drill "$T/store" good01 --seed "$T/usb" --report "$T/rint" --timeout 120 --work-dir "$T/work" \
		--expect "a line this disk never prints" \
		>"$T/int.out" 2>&1 & pi=$!
	wait_for 60 sh -c "virsh -c '$LIBVIRT_URI' list --name | grep -qx hotspare-drill-good01-$pi" || fail "the drill's domain did not start"
	kill -$sig $pi
	ri=0; wait $pi || ri=$?
	want=$((128 + $(kill -l $sig)))
	[ $ri -eq $want ] || { cat "$T/int.out"; fail "a drill stopped by SIG$sig exited $ri, not $want"; }
	grep -q "^hotspare drill: interrupted by SIG$sig before a verdict$" "$T/int.out" || { cat "$T/int.out"; fail "SIG$sig: the message"; }
	grep -q '"boot: interrupted"' "$T/rint/report.json" || fail "the report does not say the drill was interrupted"
	[ "$(json_get "$T/rint/report.json" interrupted)" = true ] && [ "$(json_get "$T/rint/report.json" passed)" = false ] ||
		fail "SIG$sig: report.json is not marked interrupted"
	[ "$(json_get "$T/rint/report.json" signal)" = "SIG$sig" ] || fail "SIG$sig: report.json names another signal"
	grep -q "Recovery drill interrupted" "$T/rint/report.html" || fail "SIG$sig: the HTML does not say interrupted"
	! grep -q "FAILED" "$T/rint/report.html" || fail "SIG$sig: the HTML says FAILED"
	[ -z "$(virsh -c "$LIBVIRT_URI" list --all --name | grep -x "hotspare-drill-good01-$pi" || true)" ] ||
		fail "an interrupted drill left a domain"
	! grep -q "$T/work" /proc/mounts || fail "an interrupted drill left a mount"
	[ -z "$(ls -A "$T/work")" ] || fail "an interrupted drill left $(ls "$T/work")"
done
pass "SIGINT and SIGTERM during the boot: torn down, exit 128+N, a report that says interrupted, not FAILED"

#!/bin/bash
# The morning view over a store of three servers: fresh01 backed up today
# and drilled (passed) with its spare mounted here, stale02 whose newest
# point is three days old, failed03 whose last drill failed. fleet puts the
# two that need attention first (in red on a terminal and in the page) and
# exits 1; --json says the same in the same order; the HTML page is
# self-contained and renders in Chromium. metrics prints the same facts in
# Prometheus' text format: promtool (from Debian's prometheus package)
# accepts it, and a parser here checks it line by line. The drills are
# real: libvirt's test driver (test:///default) runs their domains, so no
# guest boots.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "skip - needs root"; exit 77; }
command -v faketime >/dev/null || apt-get install -y -qq --no-install-recommends faketime >/dev/null
export HOTSPARE_TRACE_DIR=$T/traces

for s in fresh01 stale02 failed03; do
	truncate -s 8M "$T/$s.img"
	head -c 3M /dev/urandom | dd of="$T/$s.img" conv=notrunc status=none
done
S=$T/store
"$HS" init "$S" --chunk-size 64K >/dev/null
"$HS" snapshot "$S" fresh01 "$T/fresh01.img" >/dev/null
# (libfaketime is preloaded before an ASan build's runtime: tell ASan that is fine)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	faketime -f '-3d' "$HS" snapshot "$S" stale02 "$T/stale02.img" >/dev/null
"$HS" snapshot "$S" failed03 "$T/failed03.img" >/dev/null
mkdir "$T/work"
# Scheduled drills write DRILLS/SERVER/POINT; one passes, one cannot reach its libvirt.
"$HS" drill "$S" fresh01 --drills "$T/drills" --connect test:///default --screenshot-after 1 \
	--work-dir "$T/work" >"$T/d1.out" 2>&1 || { cat "$T/d1.out"; fail "fresh01's drill failed"; }
rc=0
"$HS" drill "$S" failed03 --drills "$T/drills" --connect "test://$T/no-such-node.xml" --work-dir "$T/work" \
	>"$T/d3.out" 2>&1 || rc=$?
[ $rc -eq 1 ] || { cat "$T/d3.out"; fail "failed03's drill exited $rc, not 1"; }
# An older drill of stale02 that passed, filed by hand elsewhere in the directory.
mkdir -p "$T/drills/manual"
"$HS" drill "$S" stale02 --report "$T/drills/manual/stale02" --connect test:///default --screenshot-after 1 \
	--work-dir "$T/work" >/dev/null 2>&1 || fail "stale02's drill failed"
# The next scheduled run skips fresh01's proved point, and neither it nor a
# refused drill leaves a lease in the store (retention would keep the point).
"$HS" drill "$S" fresh01 --drills "$T/drills" --skip-proved --connect test:///default --work-dir "$T/work" \
	>"$T/skip.out" 2>&1 || { cat "$T/skip.out"; fail "the drill of a proved point failed"; }
grep -q "already proved by the drill of .*; skipped$" "$T/skip.out" || { cat "$T/skip.out"; fail "not skipped"; }
expect_fail "has no disk d9" "$HS" drill "$S" fresh01 --report "$T/r9" --check-file d9:p1:/x \
	--connect test:///default --work-dir "$T/work"
[ -z "$(ls -A "$S/leases" 2>/dev/null)" ] || fail "a skipped or refused drill left a lease: $(ls "$S/leases")"
# fresh01's spare, mounted here, not hydrated yet.
mkdir "$T/mnt"
hs_mount_at "$T/mnt" "$S" fresh01 "$T/mnt" --state "$T/state" --hydrate-threads 0
dd if="$T/mnt/fresh01.img" bs=64K count=4 of=/dev/null status=none

rc=0
"$HS" fleet "$S" --drills "$T/drills" --max-age 26 --html "$T/fleet.html" >"$T/fleet.txt" 2>&1 || rc=$?
[ $rc -eq 1 ] || { cat "$T/fleet.txt"; fail "fleet exited $rc, not 1"; }
cat "$T/fleet.txt"
[ "$(awk 'NR > 1 && NR <= 4 { print $1 }' "$T/fleet.txt" | tr '\n' ' ')" = "failed03 stale02 fresh01 " ] ||
	fail "rows are not in the order failed03 stale02 fresh01"
grep -q "^! failed03: last drill failed: boot: cannot connect to libvirt" "$T/fleet.txt" || fail "failed03's problem"
grep -q "^! stale02: newest point is 3.0 days old (more than 26 h)" "$T/fleet.txt" || fail "stale02's problem"
! grep -q "^! fresh01" "$T/fleet.txt" || fail "fresh01 needs no attention"
grep -q "^2 of\|^3 servers, 2 need attention" "$T/fleet.txt" || fail "the summary line"
! grep -q $'\033' "$T/fleet.txt" || fail "colours in output that is not a terminal"
# On a terminal the rows that need attention are red, the others not.
script -qec "NO_COLOR= '$HS' fleet '$S' --drills '$T/drills'" /dev/null >"$T/tty.txt" || true
grep -a $'\033\[31mfailed03 ' "$T/tty.txt" >/dev/null || fail "failed03 is not red on a terminal"
grep -a $'\033\[31mstale02 ' "$T/tty.txt" >/dev/null || fail "stale02 is not red on a terminal"
grep -a '^fresh01 ' "$T/tty.txt" >/dev/null || fail "fresh01 is coloured on a terminal"
pass "fleet: the stale and the failed server first, in red on a terminal; exit 1"

rc=0
"$HS" fleet "$S" --drills "$T/drills" --json >"$T/fleet.json" || rc=$?
[ $rc -eq 1 ] || fail "fleet --json exited $rc, not 1"
python3 - "$T/fleet.json" "$T/fleet.txt" "$T/mnt" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
rows = f["servers"]
assert [r["server"] for r in rows] == ["failed03", "stale02", "fresh01"], [r["server"] for r in rows]
assert f["attention"] == 2 and f["max_age_hours"] == 26
v = {r["server"]: r for r in rows}
assert v["failed03"]["ok"] is False and v["failed03"]["drill_failed"] is True and v["failed03"]["stale"] is False
assert v["failed03"]["drill"]["passed"] is False and v["failed03"]["drill"]["startup_seconds"] is None
assert v["stale02"]["ok"] is False and v["stale02"]["stale"] is True and v["stale02"]["drill_failed"] is False
assert 3 * 86400 - 600 < v["stale02"]["newest"]["age_seconds"] < 3 * 86400 + 600
assert v["stale02"]["drill"]["passed"] is True and v["stale02"]["drill"]["report"].endswith("manual/stale02/report.json")
g = v["fresh01"]
assert g["ok"] is True and g["problem"] is None
assert g["newest"]["age_seconds"] < 3600 and g["newest"]["consistency"] == "crash-consistent"
assert g["drill"]["passed"] is True and g["drill"]["of_newest_point"] is True
for k in ("startup_seconds", "restore_seconds", "online_seconds"):
    assert g["drill"][k] > 0, k
assert g["unique_bytes_estimate"] > 0
sp = g["spare"]
assert sp["mountpoint"] == sys.argv[3], sp
assert 0 < sp["hydration"] < 1 and sp["bytes_remote"] > 0 and sp["errors"] == 0, sp
assert v["stale02"]["spare"] is None
# The text says the same as the JSON, row by row.
text = [l.split()[0] for l in open(sys.argv[2]).read().splitlines()[1:4]]
assert text == [r["server"] for r in rows], text
PY
pass "fleet --json: the same rows in the same order; the times of the last drill; the mounted spare's hydration"

# The page: self-contained (no outside assets), rows in red, rendered by Chromium.
! grep -Eqi '<(link|script|img)[^>]*(src|href)=|url\(' "$T/fleet.html" || fail "the page loads outside assets"
python3 - "$T/fleet.html" <<'PY'
import re, sys
html = open(sys.argv[1]).read()
rows = re.findall(r'<tr class="(bad|ok)" id="row-([^"]+)">', html)
assert rows == [("bad", "failed03"), ("bad", "stale02"), ("ok", "fresh01")], rows
assert re.search(r"tr\.bad td\{background:#ffebe9;color:#cf222e\}", html)
assert "2 of 3 servers need attention" in html
PY
command -v chromium >/dev/null || apt-get install -y -qq --no-install-recommends chromium >/dev/null
/usr/bin/python3 -c 'import PIL' 2>/dev/null || apt-get install -y -qq --no-install-recommends python3-pil >/dev/null
timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
	--disable-sync --no-first-run --user-data-dir="$T/chrome" --window-size=1600,600 \
	--screenshot="$T/fleet.png" "file://$T/fleet.html" >/dev/null 2>&1
/usr/bin/python3 - "$T/fleet.png" <<'PY'
import sys
from PIL import Image
img = Image.open(sys.argv[1]).convert("RGB")
near = lambda p, c: all(abs(a - b) < 12 for a, b in zip(p, c))
px = list(img.getdata())
assert sum(1 for p in px if near(p, (0xff, 0xeb, 0xe9))) > 5000, "no red rows drawn"
assert sum(1 for p in px if near(p, (0xcf, 0x22, 0x2e))) > 2000, "no red summary drawn"
PY
pass "fleet --html: a self-contained page, the two rows in red, rendered by Chromium"

# Metrics: the same facts, in Prometheus' text format.
"$HS" metrics "$S" --drills "$T/drills" >"$T/metrics.prom" || fail "metrics failed"
python3 - "$T/metrics.prom" <<'PY'
import math, re, sys
lines = open(sys.argv[1]).read().splitlines()
name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
helps, types, samples = {}, {}, {}
for l in lines:
    m = re.fullmatch(r"# HELP (%s) (.+)" % name_re, l)
    if m:
        assert m.group(1) not in helps, "HELP twice: " + l
        helps[m.group(1)] = m.group(2)
        continue
    m = re.fullmatch(r"# TYPE (%s) (counter|gauge|histogram|summary|untyped)" % name_re, l)
    if m:
        assert m.group(1) in helps and m.group(1) not in types and m.group(1) not in samples, "TYPE order: " + l
        types[m.group(1)] = m.group(2)
        continue
    m = re.fullmatch(r'(%s)(\{server="([^"\\]*)"\})? (-?[0-9.]+(e[+-]?[0-9]+)?)' % name_re, l)
    assert m, "not a sample line: %r" % l
    name = m.group(1)
    assert name.startswith("hotspare_"), name
    assert name in types, "sample before its TYPE: " + l
    assert not math.isnan(float(m.group(4)))
    if types[name] == "counter":
        assert name.endswith("_total"), name
    samples.setdefault(name, {})[m.group(3)] = float(m.group(4))
# Samples of a family are together: no family seen again after another one.
order = [re.match(name_re, l).group(0) for l in lines if not l.startswith("#")]
seen = []
for n in order:
    if not seen or seen[-1] != n:
        assert n not in seen, "family split: " + n
        seen.append(n)
for unit in ("_seconds", "_bytes", "_ratio"):
    assert any(n.endswith(unit) for n in samples), unit
assert samples["hotspare_up"][None] == 1
assert samples["hotspare_drill_success"] == {"fresh01": 1, "stale02": 1, "failed03": 0}
assert samples["hotspare_attention"] == {"fresh01": 0, "stale02": 1, "failed03": 1}
assert samples["hotspare_point_age_seconds"]["stale02"] > 2.9 * 86400
assert samples["hotspare_point_age_seconds"]["fresh01"] < 3600
assert "failed03" not in samples["hotspare_drill_startup_seconds"]  # not reached: no sample
assert samples["hotspare_drill_restore_seconds"]["fresh01"] > 0
assert 0 < samples["hotspare_spare_hydration_ratio"]["fresh01"] < 1
assert samples["hotspare_spare_remote_bytes"]["fresh01"] > 0
assert samples["hotspare_spare_errors_total"]["fresh01"] == 0
assert set(samples["hotspare_errors"]) == {"fresh01", "stale02", "failed03"}
PY
# promtool, from Debian's prometheus package (unpacked, not installed: its
# server would start on a host with systemd).
PROMTOOL=$(command -v promtool || true)
if [ -z "$PROMTOOL" ]; then
	cache=${HS_CACHE:-/var/cache/hotspare-test}/promtool
	if [ ! -x "$cache/usr/bin/promtool" ]; then
		mkdir -p "$T/deb" && (cd "$T/deb" && chmod 777 . && timeout 300 apt-get download -qq prometheus >/dev/null 2>&1) &&
			mkdir -p "$cache" && dpkg-deb -x "$T"/deb/prometheus_*.deb "$cache" || true
	fi
	[ -x "$cache/usr/bin/promtool" ] && PROMTOOL=$cache/usr/bin/promtool
fi
if [ -n "$PROMTOOL" ]; then
	"$PROMTOOL" check metrics <"$T/metrics.prom" >"$T/promtool.out" 2>&1 || { cat "$T/promtool.out"; fail "promtool refused the metrics"; }
	pass "metrics: promtool check metrics accepts them; the line-by-line parser too; the values agree with fleet"
else
	pass "metrics: (promtool not available) the line-by-line parser accepts them; the values agree with fleet"
fi

# A store that cannot be read: hotspare_up 0 and one line of error.
rc=0
"$HS" metrics "$T/no-store" >"$T/down.prom" 2>"$T/down.err" || rc=$?
[ $rc -eq 1 ] && grep -qx "hotspare_up 0" "$T/down.prom" && [ "$(wc -l <"$T/down.err")" -eq 1 ] ||
	fail "metrics of a store that cannot be read"
# --output: the same text into a file replaced whole; an unreadable store replaces it with hotspare_up 0.
mkdir "$T/prom"
"$HS" metrics "$S" --drills "$T/drills" --output "$T/prom/hotspare.prom" >"$T/out.stdout" || fail "metrics --output failed"
[ ! -s "$T/out.stdout" ] || fail "metrics --output printed too"
grep -v '_age_seconds\|hotspare_drill_rpo' "$T/metrics.prom" >"$T/a"; grep -v '_age_seconds\|hotspare_drill_rpo' "$T/prom/hotspare.prom" >"$T/b"
cmp -s "$T/a" "$T/b" || { diff "$T/a" "$T/b"; fail "metrics --output wrote other metrics than it prints"; }
rc=0
"$HS" metrics "$T/no-store" --output "$T/prom/hotspare.prom" 2>/dev/null || rc=$?
[ $rc -eq 1 ] && grep -qx "hotspare_up 0" "$T/prom/hotspare.prom" || fail "metrics --output of a store that cannot be read"
[ "$(ls "$T/prom")" = hotspare.prom ] || fail "metrics --output left $(ls "$T/prom")"
expect_fail "--output .* is inside the store" "$HS" metrics "$S" --output "$S/x.prom"
expect_fail "cannot write $T/nodir/x.prom: No such file or directory" "$HS" metrics "$S" --output "$T/nodir/x.prom"
# The configured store and report-dir stand for STORE and --drills.
printf 'store = %s\nreport-dir = %s\n' "$S" "$T/drills" >"$T/hotspare.conf"
HOTSPARE_CONFIG=$T/hotspare.conf "$HS" fleet --json --max-age 0 >"$T/cfg.json" || true
"$HS" fleet "$S" --drills "$T/drills" --json --max-age 0 >"$T/arg.json" || true
python3 - "$T/cfg.json" "$T/arg.json" <<'PY' || fail "fleet with the configured store and report-dir differs"
import json, sys
def strip(o):  # ages and the time of the listing move on between the two runs
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if "age" not in k and k != "generated"}
    return [strip(v) for v in o] if isinstance(o, list) else o
a, b = (strip(json.load(open(f))) for f in sys.argv[1:3])
assert a == b and a["servers"], (a, b)
PY
expect_fail "^hotspare fleet: " "$HS" fleet "$T/no-store"
expect_fail "--max-age '-1' is not a number" "$HS" fleet "$S" --max-age -1
expect_fail "--html .* is inside the store" "$HS" fleet "$S" --html "$S/page.html"
[ ! -e "$S/page.html" ] || fail "a refused fleet wrote its page"
# Without an age limit and with no failed drill, nothing needs attention.
rm -rf "$T/drills/failed03"
"$HS" fleet "$S" --drills "$T/drills" --max-age 0 >"$T/ok.txt" || { cat "$T/ok.txt"; fail "fleet with nothing wrong exited non-zero"; }
pass "an unreadable store is hotspare_up 0 and an error (--output too, replaced whole); the configured store and report-dir; bad options are refused; nothing wrong is exit 0"

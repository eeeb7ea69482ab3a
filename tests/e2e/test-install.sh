#!/bin/bash
# meson install puts every file in its place and nothing else: the binary,
# the systemd units and timers of tools/systemd (naming the installed
# binary), the bash completion, the manual pages of tools/man when scdoc is
# there, the example configuration and the README; under DESTDIR for this
# build's prefix, and (as meson plans it) for another --prefix. The installed
# unit passes systemd-analyze verify, and the example configuration is valid
# as shipped and with every setting uncommented.
. "$(dirname "$0")/../lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "$(dirname "$HS")/.." && pwd)
[ -f "$BUILD/build.ninja" ] || { echo "skip - $HS is not in a meson build directory"; exit 77; }

# The files a build configured with OPTIONS (JSON of meson's build options) installs, one a line.
manifest() { # OPTIONS_JSON
	python3 - "$1" "$SRC" <<'PY'
import json, os, shutil, sys
opts = {o["name"]: o["value"] for o in json.load(open(sys.argv[1]))}
for k in ("systemdunitdir", "bashcompletiondir"):
    opts.setdefault(k, "")
opts.setdefault("man", "auto")
src = sys.argv[2]
p = opts["prefix"]
def under(d):
    return d if os.path.isabs(d) else os.path.join(p, d)
out = [os.path.join(under(opts["bindir"]), "hotspare")]
units = opts["systemdunitdir"] or os.path.join(p, "lib/systemd/system")
out += [os.path.join(units, u) for u in os.listdir(os.path.join(src, "tools/systemd"))]
out.append(os.path.join(opts["bashcompletiondir"] or os.path.join(under(opts["datadir"]), "bash-completion/completions"),
                        "hotspare"))
doc = os.path.join(under(opts["datadir"]), "doc/hotspare")
out += [os.path.join(doc, "README.md"), os.path.join(doc, "examples/hotspare.conf")]
man = os.path.join(src, "tools/man")
if opts["man"] != "disabled" and shutil.which("scdoc") and os.path.isdir(man):
    for page in os.listdir(man):
        if page.endswith(".scd"):
            name = page[:-4]
            out.append(os.path.join(under(opts["mandir"]), "man" + name.rsplit(".", 1)[1], name))
print("\n".join(sorted(out)))
PY
}

meson introspect "$BUILD" --buildoptions >"$T/opts.json"
PREFIX=$(python3 -c 'import json,sys; print([o["value"] for o in json.load(open(sys.argv[1])) if o["name"]=="prefix"][0])' "$T/opts.json")
manifest "$T/opts.json" >"$T/want"
meson install -C "$BUILD" --destdir "$T/root" --no-rebuild >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "meson install"; }
(cd "$T/root" && find . ! -type d | sed 's/^\.//' | sort) >"$T/got"
diff -u "$T/want" "$T/got" || fail "meson install --destdir: the files differ from the manifest"
UNITDIR=$(python3 -c 'import json,sys
o={o["name"]: o["value"] for o in json.load(open(sys.argv[1]))}
print(o.get("systemdunitdir") or o["prefix"] + "/lib/systemd/system")' "$T/opts.json")
for u in "$SRC"/tools/systemd/*; do
	name=$(basename "$u") unit=$T/root$UNITDIR/$(basename "$u")
	! grep -q '@bindir@' "$unit" || fail "$name still says @bindir@"
	if grep -E '^Exec[A-Za-z]*=.*hotspare( |$)' "$unit" | grep -vq "=$PREFIX/bin/hotspare "; then
		fail "$name runs another hotspare than $PREFIX/bin/hotspare"
	fi
	# systemd-analyze checks the binary too: point it at the one under DESTDIR.
	sed "s|$PREFIX/bin/hotspare|$T/root$PREFIX/bin/hotspare|g" "$unit" >"$T/$name"
	systemd-analyze verify "$T/$name" >"$T/verify" 2>&1 || { cat "$T/verify"; fail "systemd-analyze verify $name"; }
done
cmp "$T/root$PREFIX/bin/hotspare" "$HS" || fail "the installed binary is not the built one"
pass "meson install --destdir installs exactly the manifest ($(wc -l <"$T/want") files) for prefix $PREFIX"

# Another prefix, as meson plans it (no build needed): every path moves with it.
meson setup "$T/b2" "$SRC" --prefix=/opt/hs -Dtests=false >"$T/setup.log" 2>&1 || { tail "$T/setup.log"; fail "meson setup --prefix"; }
meson introspect "$T/b2" --buildoptions >"$T/opts2.json"
manifest "$T/opts2.json" >"$T/want2"
meson introspect "$T/b2" --installed | python3 -c 'import json,sys; print("\n".join(sorted(json.load(sys.stdin).values())))' >"$T/got2"
diff -u "$T/want2" "$T/got2" || fail "--prefix /opt/hs: the planned files differ from the manifest"
grep -q "^ExecStart=/opt/hs/bin/hotspare " "$T/b2/tools/hotspare-spare@.service" || fail "the unit does not follow --prefix"
pass "--prefix moves every installed path (units and completion included)"

# The example configuration: valid as shipped (all comments) and uncommented.
EX=$T/root$PREFIX/share/doc/hotspare/examples/hotspare.conf
HOTSPARE_CONFIG=$EX "$HS" config >/dev/null || fail "the example configuration is refused as shipped"
sed -E 's/^#([a-z-]+ = |\[server )/\1/' "$EX" >"$T/all.conf"
[ "$(grep -Ec '^[a-z-]+ = ' "$T/all.conf")" -ge 10 ] || fail "the example does not show every setting"
HOTSPARE_CONFIG=$T/all.conf "$HS" config win01 >"$T/cfg" || fail "the example configuration is refused uncommented"
grep -Eq "^profile +windows +$T/all.conf line [0-9]+, \[server win01\]$" "$T/cfg" || { cat "$T/cfg"; fail "the example's [server win01]"; }
pass "the example configuration is valid, as shipped and uncommented"

#!/usr/bin/env python3
"""Build the libFuzzer harnesses with clang.

The project is compiled by meson's C compiler (gcc); libFuzzer needs the code
under test compiled by clang with coverage instrumentation. This script writes
a small build.ninja of its own (so every engine source is compiled once, with
header dependencies, and rebuilt only when it changes) and runs ninja on it:
the engine's lower layers into one archive, each harness linked against it.

usage: build.py --probe CLANG                 exit 0 when CLANG links a fuzzer
       build.py --cc CLANG --root SRC --out DIR HARNESS...
           builds DIR/HARNESS for each name: tests/fuzz/HARNESS.c (fuzz-point:
           fuzz_point.c) linked with the engine. NAME-planted is harness NAME
           linked with a copy of an engine file that has a bug planted in it
           (PLANTS below), to show that the harness finds it.
"""
import argparse
import glob
import os
import shlex
import subprocess
import sys
import tempfile

SANITIZE = "-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS = "-std=gnu11 -g -O1 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra"
# Engine files: coverage for libFuzzer; clang flags the scoped locks of
# basics/cleanup.h as unused variables (gcc, which builds them -Werror, does not).
ENGINE = "-fsanitize=fuzzer-no-link -Wno-unused-variable"
PKGS = ["libzstd", "libcrypto", "json-c", "libcurl", "fuse3", "inih"]
# The layers the harnesses reach (the upper ones need libvirt and are not parsers).
LAYERS = ["basics", "store", "jobs", "spare"]

# A planted bug: a copy of an engine file with one check taken out, to show a
# harness reaches the code it is meant to (its test expects a crash). Each is
# (engine file, text that must be there, what it becomes).
PLANTS = {
    "fuzz-point-planted": (
        "fs/store/point.c",
        # A disk name given twice in one point goes through (restore's
        # DISK=TARGET would write one disk twice): the check asks whether the
        # name is known at all, not whether its first slot is this one. Only
        # a header whose checksum holds gets there (the harness's fix-ups),
        # and the harness's property "disk names are distinct" catches it.
        "hs_point_disk_find(out, d->name) != (int)k",
        "hs_point_disk_find(out, d->name) < 0",
    ),
}


def pkg_config(*args):
    pkgs = [p for p in PKGS if subprocess.run(["pkg-config", "--exists", p]).returncode == 0]
    return subprocess.run(["pkg-config", *args, *pkgs], check=True, capture_output=True, text=True).stdout.strip()


def probe(cc):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "p.c")
        with open(src, "w") as f:
            f.write("#include <stdint.h>\n#include <stddef.h>\n"
                    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n")
        r = subprocess.run([cc, "-fsanitize=fuzzer,address,undefined", src, "-o", os.path.join(d, "p")],
                           capture_output=True)
        return r.returncode


def plant(root, name, out):
    path, *pairs = PLANTS[name]
    text = open(os.path.join(root, path), encoding="utf-8").read()
    for old, new in zip(pairs[::2], pairs[1::2]):
        if text.count(old) != 1:
            raise SystemExit("build.py: cannot plant %s: %r is not once in %s (update PLANTS)" % (name, old, path))
        text = text.replace(old, new)
    new_text = "/* PLANTED BUG (tests/fuzz/build.py): do not use */\n#line 1 \"%s\"\n%s" % (path, text)
    if not os.path.exists(out) or open(out, encoding="utf-8").read() != new_text:
        with open(out, "w", encoding="utf-8") as f:
            f.write(new_text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe")
    ap.add_argument("--cc")
    ap.add_argument("--root")
    ap.add_argument("--out")
    ap.add_argument("harnesses", nargs="*")
    a = ap.parse_args()
    if a.probe:
        sys.exit(probe(a.probe))
    root, out = os.path.abspath(a.root), os.path.abspath(a.out)
    work = os.path.join(out, "fuzz-build")
    os.makedirs(work, exist_ok=True)
    inc = "-I%s -I%s" % (os.path.join(root, "include"), os.path.join(root, "tools"))
    cflags = "%s %s %s %s" % (CFLAGS, SANITIZE, inc, pkg_config("--cflags"))
    libs = pkg_config("--libs") + " -lpthread"
    q = shlex.quote
    lines = [
        "cc = %s" % q(a.cc),
        "cflags = %s" % cflags,
        "rule cc",
        "  command = $cc $cflags $extra -MMD -MF $out.d -c $in -o $out",
        "  depfile = $out.d",
        "  deps = gcc",
        "  description = CC(fuzz) $in",
        "rule ar",
        "  command = rm -f $out && ar crs $out $in",
        "  description = AR $out",
        "rule link",
        "  command = $cc %s -fsanitize=fuzzer -o $out $in %s" % (SANITIZE, libs),
        "  description = LINK(fuzz) $out",
    ]
    objs = []
    for layer in LAYERS:
        for src in sorted(glob.glob(os.path.join(root, "fs", layer, "*.c"))):
            o = "obj/%s_%s.o" % (layer, os.path.basename(src)[:-2])
            lines.append("build %s: cc %s\n  extra = %s" % (o, q(src), ENGINE))
            objs.append(o)
    # The command line's shared helpers (cli.c and what it calls: the
    # configuration, key options), an archive of their own linked first.
    tools = []
    for src in sorted(glob.glob(os.path.join(root, "tools", "*.c"))):
        name = os.path.basename(src)
        if name == "hotspare.c" or name.startswith("cmd_"):
            continue
        o = "obj/tools_%s.o" % name[:-2]
        lines.append("build %s: cc %s\n  extra = %s" % (o, q(src), ENGINE))
        tools.append(o)
    lines.append("build libhs_fuzz_tools.a: ar %s" % " ".join(tools))
    cli = "libhs_fuzz_tools.a"
    lines.append("build libhs_fuzz.a: ar %s" % " ".join(objs))
    for name in a.harnesses:
        base = name[: -len("-planted")] if name.endswith("-planted") else name
        src = os.path.join(root, "tests", "fuzz", base.replace("-", "_") + ".c")
        ho = "obj/%s.o" % name.replace("-", "_")
        lines.append("build %s: cc %s\n  extra = -Werror" % (ho, q(src)))
        extra = []
        if name in PLANTS:
            planted = os.path.join(work, "planted_%s.c" % name.replace("-", "_"))
            plant(root, name, planted)
            po = "obj/planted_%s.o" % name.replace("-", "_")
            lines.append("build %s: cc %s\n  extra = %s" % (po, q(planted), ENGINE))
            extra.append(po)
        lines.append("build %s: link %s %s %s libhs_fuzz.a" % (os.path.join(out, name), ho, " ".join(extra), cli))
    text = "\n".join(lines) + "\n"
    path = os.path.join(work, "build.ninja")
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)
    r = subprocess.run(["ninja", "-C", work, "--quiet"] if ninja_has_quiet() else ["ninja", "-C", work])
    sys.exit(r.returncode)


def ninja_has_quiet():
    r = subprocess.run(["ninja", "--version"], capture_output=True, text=True)
    try:
        major, minor = (int(x) for x in r.stdout.strip().split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (1, 11)


if __name__ == "__main__":
    main()

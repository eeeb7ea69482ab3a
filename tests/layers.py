#!/usr/bin/env python3
"""The engine's layering, checked from its #include lines.

The layers and their order come from the table under "## Layers" in
fs/README.md (first column: the folder, bottom layer first), so the picture
for the next engineer and the rule the build enforces cannot drift apart.
A file in fs/L/ or include/L/ may include "M/x.h" only when M is L or a layer
below it; every project include names its layer; the folders are exactly the
layers of the table; and no two modules (fs/L/x.c with include/L/x.h) include
each other, directly or round a longer cycle. tools/ and tests/ sit on top.

usage: layers.py [ROOT]        check the tree at ROOT (default: this checkout)
       layers.py --self-test   prove the checks fail on planted violations
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_order(root):
    """Folder names of the table under '## Layers' in fs/README.md, bottom first."""
    path = os.path.join(root, "fs", "README.md")
    order, in_section = [], False
    for line in open(path, encoding="utf-8"):
        if line.startswith("## "):
            in_section = line.strip() == "## Layers"
            continue
        m = re.match(r"\|\s*`([a-z0-9_]+)/?`\s*\|", line) if in_section else None
        if m:
            order.append(m.group(1))
    if not order:
        raise SystemExit("%s has no layer table under '## Layers'" % path)
    return order


def sources(root, layers):
    """(path relative to root, layer, module) of every engine file."""
    for top, ext in (("fs", ".c"), ("include", ".h")):
        for layer in layers:
            d = os.path.join(root, top, layer)
            if not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                if name.endswith(ext):
                    yield "%s/%s/%s" % (top, layer, name), layer, "%s/%s" % (layer, name[: -len(ext)])


def check(root):
    """A list of one-line problems (empty when the layering holds)."""
    order = layer_order(root)
    rank = {name: i for i, name in enumerate(order)}
    problems = []
    for top in ("fs", "include"):
        present = {d for d in os.listdir(os.path.join(root, top)) if os.path.isdir(os.path.join(root, top, d))}
        for extra in sorted(present - set(order)):
            problems.append("%s/%s/ is not a layer in fs/README.md's table" % (top, extra))
        if top == "fs":
            for missing in sorted(set(order) - present):
                problems.append("fs/%s/ is in fs/README.md's table but not in the tree" % missing)
    edges = {}
    for path, layer, module in sources(root, order):
        text = open(os.path.join(root, path), encoding="utf-8").read()
        edges.setdefault(module, set())
        for inc in INCLUDE.findall(text):
            parts = inc.split("/")
            if len(parts) != 2 or parts[0] not in rank or ".." in parts:
                problems.append('%s: #include "%s" does not name a layer (write "LAYER/NAME.h")' % (path, inc))
                continue
            if rank[parts[0]] > rank[layer]:
                problems.append('%s: #include "%s" reaches up from %s to %s' % (path, inc, layer, parts[0]))
            if not os.path.isfile(os.path.join(root, "include", inc)):
                problems.append('%s: #include "%s": no such header in include/' % (path, inc))
            target = inc[: -len(".h")] if inc.endswith(".h") else inc
            if target != module:
                edges[module].add(target)
    problems += cycles(edges)
    return problems


def cycles(edges):
    """One problem line per cycle found by a depth-first walk."""
    found, state, stack = [], {}, []

    def walk(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(edges.get(m, ())):
            if state.get(n) == 1:
                loop = stack[stack.index(n):] + [n]
                found.append("include cycle: " + " -> ".join(loop))
            elif n not in state:
                walk(n)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            walk(m)
    return found


def self_test():
    """Plant an upward include, a cycle, a stray folder and an unnamed layer:
    each must be reported; the clean tree must pass."""
    def tree(files):
        d = tempfile.mkdtemp(prefix="hs-layers.")
        for path, text in files.items():
            full = os.path.join(d, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            open(full, "w").write(text)
        return d

    readme = "# x\n\n## Layers\n\n| folder | owns |\n|---|---|\n| `low` | a |\n| `high` | b |\n\n## Other\n| `no` | x |\n"
    clean = {
        "fs/README.md": readme,
        "fs/low/a.c": '#include "low/a.h"\n',
        "include/low/a.h": "",
        "fs/high/b.c": '#include "high/b.h"\n#include "low/a.h"\n',
        "include/high/b.h": '#include "low/a.h"\n',
    }
    cases = [
        ("clean tree", {}, None),
        ("upward include", {"fs/low/a.c": '#include "low/a.h"\n#include "high/b.h"\n'},
         'fs/low/a.c: #include "high/b.h" reaches up from low to high'),
        ("cycle", {"fs/low/c.c": '#include "low/d.h"\n', "include/low/c.h": "",
                   "fs/low/d.c": '#include "low/c.h"\n', "include/low/d.h": ""},
         "include cycle: low/c -> low/d -> low/c"),
        ("include without a layer", {"fs/high/b.c": '#include "a.h"\n'},
         'fs/high/b.c: #include "a.h" does not name a layer'),
        ("folder not in the table", {"fs/extra/e.c": ""}, "fs/extra/ is not a layer"),
        ("missing header", {"fs/high/b.c": '#include "low/zz.h"\n'}, 'no such header'),
    ]
    bad = 0
    for name, change, expect in cases:
        files = dict(clean)
        files.update(change)
        got = check(tree(files))
        ok = (not got) if expect is None else any(expect in p for p in got)
        print("%s - %s%s" % ("ok" if ok else "FAIL", name, "" if ok else ": got %r" % got))
        bad += not ok
    return 1 if bad else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print("layering: %d problem(s); see the table in fs/README.md" % len(problems))
        return 1
    print("layering: %s, no upward include, no cycle" % " < ".join(layer_order(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/bin/bash
# Build the Debian package from a clean copy of the tree:
#   scripts/package.sh [OUTDIR]      (default: dist/)
# Copies the files git tracks (as they are in the work tree, so uncommitted
# edits count; build directories and other untracked files do not) into a
# temporary directory, runs dpkg-buildpackage -us -uc -b there (debian/rules:
# meson without the tests) and leaves hotspare_VERSION_ARCH.deb in OUTDIR.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:-$ROOT/dist}" && cd "${1:-$ROOT/dist}" && pwd)
. "$ROOT/scripts/deps.sh"
hs_install_deps

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hotspare-package.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/hotspare"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Tracked files that still exist (a deletion not committed yet is a deletion).
	(cd "$ROOT" && git ls-files -z | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf -) | tar -C "$WORK/hotspare" -xf -
else
	tar -C "$ROOT" --exclude='./build*' --exclude=./dist -cf - . | tar -C "$WORK/hotspare" -xf -
fi
cd "$WORK/hotspare"
dpkg-checkbuilddeps
# No debug-symbol package and no test run (debian/rules skips the tests anyway).
export DEB_BUILD_OPTIONS="noddebs nocheck parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}"
dpkg-buildpackage -us -uc -b >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; exit 1; }
cp "$WORK"/hotspare_*.deb "$OUT"/
ls "$OUT"/hotspare_*.deb

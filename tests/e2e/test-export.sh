#!/bin/bash
# export: raw (sparse, through the restore engine), qcow2, vmdk and vhdx (by
# qemu-img from a read-only view) each compare equal to the point; an
# existing FILE is refused unless --force; a failed export leaves nothing.
. "$(dirname "$0")/../lib.sh"
command -v qemu-img >/dev/null || { echo "skip - no qemu-img"; exit 77; }
export HOTSPARE_WORK_DIR=$T/work
mkdir "$T/work" "$T/out"

make_ext4 "$T/disk.img" 32
truncate -s 48M "$T/disk.img" # a tail of zero chunks: holes in a raw export
"$HS" init "$T/store" --chunk-size 64K >/dev/null
"$HS" snapshot --ship "$T/usb" "$T/store" mail01 "$T/disk.img" >/dev/null
head -c 1000000 /dev/urandom >"$T/new.bin"
ext4_write "$T/disk.img" /srv/data/new.bin "$T/new.bin"
"$HS" backup "$T/store" mail01 "$T/disk.img" >/dev/null
sources_sum() { find "$T/store" "$T/usb" -type f | sort | xargs sha256sum | sha256sum; }
before=$(sources_sum)

for f in raw qcow2 vmdk vhdx; do
	"$HS" export "$T/store" mail01 "$T/out/mail01.$f" --format $f --seed "$T/usb" >"$T/msg" || fail "export $f"
	grep -q "$f" "$T/msg" || fail "export $f says: $(cat "$T/msg")"
	[ "$(qemu-img info --output=json "$T/out/mail01.$f" | json_get - format)" = $f ] || fail "$f: wrong format"
	qemu-img compare -q -f raw -F $f "$T/disk.img" "$T/out/mail01.$f" || fail "$f export differs from the point"
done
[ "$(stat -c %s "$T/out/mail01.raw")" -eq $((48 * 1048576)) ] || fail "raw size"
[ $(( $(stat -c %b "$T/out/mail01.raw") * 512 )) -lt $((40 * 1048576)) ] || fail "raw export is not sparse"
cmp "$T/out/mail01.raw" "$T/disk.img" || fail "raw export differs (cmp)"
[ "$(sources_sum)" = "$before" ] || fail "export changed the store or the seed"
[ -z "$(ls -A "$T/work")" ] && ! grep -q "$T/" /proc/self/mountinfo || fail "a view was left behind"
[ "$(ls -A "$T/out" | wc -l)" -eq 4 ] || fail "temporary files left: $(ls -A "$T/out")"
pass "raw (sparse), qcow2, vmdk and vhdx each compare equal to the point; no view or temp file left"

# The first point, by id, without the seed (every chunk from the store).
id=$("$HS" points "$T/store" mail01 --json | json_get - 0 id)
"$HS" restore "$T/store" "mail01@$id" "$T/first.img" --seed "$T/usb" >/dev/null
"$HS" export "$T/store" "mail01@$id" "$T/out/first.qcow2" --format qcow2 --seed "$T/usb" >/dev/null || fail "export of the first point"
qemu-img compare -q -f raw -F qcow2 "$T/first.img" "$T/out/first.qcow2" || fail "first point's qcow2 differs"
pass "an earlier point (SERVER@POINT) exports equal to its restore"

# Bad input and refusals: one line, nothing written.
sum=$(sha256sum <"$T/out/mail01.qcow2")
expect_fail 'exists \(--force replaces it\)' "$HS" export "$T/store" mail01 "$T/out/mail01.qcow2" --format qcow2 --seed "$T/usb"
expect_fail 'exists \(--force replaces it\)' "$HS" export "$T/store" mail01 "$T/out/mail01.raw" --seed "$T/usb"
expect_fail "unknown --format 'vdi'" "$HS" export "$T/store" mail01 "$T/out/x.vdi" --format vdi
expect_fail 'no points|not found' "$HS" export "$T/store" nosuch "$T/out/x.raw"
expect_fail 'not a regular file' "$HS" export "$T/store" mail01 "$T/out" --force
[ "$(sha256sum <"$T/out/mail01.qcow2")" = "$sum" ] || fail "a refused export changed the existing file"
"$HS" export "$T/store" mail01 "$T/out/mail01.qcow2" --format vmdk --force --seed "$T/usb" >/dev/null || fail "--force"
[ "$(qemu-img info --output=json "$T/out/mail01.qcow2" | json_get - format)" = vmdk ] || fail "--force did not replace"
pass "existing FILE refused (replaced with --force), unknown format, unknown server: one line each"

# A chunk missing everywhere: the export fails and leaves no file, view or mount.
cp -a "$T/store" "$T/broken"
rm -rf "$T/usb2"; cp -a "$T/usb" "$T/usb2"
victim=$(find "$T/broken/chunks" -name '*.zst' | head -1)
name=${victim##*/}
rm -f "$victim"; find "$T/usb2" -name "$name" -delete
for f in raw qcow2; do
	rc=0; timeout 300 "$HS" export "$T/broken" mail01 "$T/out/bad.$f" --format $f --seed "$T/usb2" >/dev/null 2>"$T/err" || rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "export $f with a missing chunk: rc $rc"
	[ "$(wc -l <"$T/err")" -eq 1 ] || { cat "$T/err"; fail "$f: expected one line of error"; }
	[ ! -e "$T/out/bad.$f" ] && [ -z "$(ls -A "$T/out" | grep -v '^mail01\.\|^first\.')" ] || fail "$f: partial file left: $(ls -A "$T/out")"
done
[ -z "$(ls -A "$T/work")" ] && ! grep -q "$T/" /proc/self/mountinfo || fail "a failed export left a view behind"
pass "a missing chunk fails the export in one line; no partial file, view or mount left"

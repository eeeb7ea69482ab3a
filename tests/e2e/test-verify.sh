#!/bin/bash
# verify and points go on past what is broken: an index overwritten with
# random bytes is listed (and reported) as unreadable while every other point
# is still listed and verified; a chunk whose path is a directory is
# reported, not the end of the run; a corrupt chunk is one line, not two;
# every case ends with a non-zero exit.
. "$(dirname "$0")/../lib.sh"

truncate -s 8M "$T/a.img"; head -c 3M /dev/urandom | dd of="$T/a.img" conv=notrunc status=none
cp "$T/a.img" "$T/b.img"; head -c 1M /dev/urandom | dd of="$T/b.img" bs=1M seek=5 conv=notrunc status=none
S=$T/store
"$HS" init "$S" --chunk-size 64K >/dev/null
"$HS" snapshot "$S" mail01 "$T/a.img" >/dev/null
sleep 1
"$HS" backup "$S" mail01 "$T/b.img" >/dev/null
sleep 1
"$HS" backup "$S" mail01 "$T/b.img" >/dev/null
ids=($("$HS" points "$S" mail01 --json | python3 -c 'import json,sys; print(" ".join(p["id"] for p in json.load(sys.stdin)))'))
[ ${#ids[@]} -eq 3 ] || fail "expected 3 points"

# The oldest index overwritten with random bytes.
head -c 2000 /dev/urandom >"$S/points/mail01/${ids[0]}.idx"
rc=0; "$HS" points "$S" mail01 >"$T/points.out" 2>"$T/err" || rc=$?
[ $rc -ne 0 ] || fail "points exited 0 with a damaged index"
grep -q "^${ids[0]} .*BAD" "$T/points.out" || { cat "$T/points.out"; fail "the damaged point is not listed as such"; }
grep -q "^${ids[1]} .*backup" "$T/points.out" && grep -q "^${ids[2]} .*backup" "$T/points.out" ||
	{ cat "$T/points.out"; fail "points stopped at the damaged index"; }
[ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "1 of 3 points of mail01 cannot be read" "$T/err" || { cat "$T/err"; fail "points' error line"; }
rc=0; "$HS" points "$S" mail01 --json >"$T/points.json" 2>/dev/null || rc=$?
[ $rc -ne 0 ] || fail "points --json exited 0 with a damaged index"
python3 - "$T/points.json" "${ids[@]}" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert [x["id"] for x in p] == sys.argv[2:5], p
assert "error" in p[0] and p[1]["kind"] == "backup" and p[2]["kind"] == "backup", p
PY
rc=0; "$HS" verify "$S" >"$T/out" 2>"$T/err" || rc=$?
[ $rc -ne 0 ] || fail "verify exited 0 with a damaged index"
grep -q "point mail01@${ids[0]} cannot be read" "$T/err" || { cat "$T/err"; fail "verify does not name the damaged point"; }
grep -q "verify failed: 0 of [1-9][0-9]* chunks bad, 1 of 3 points broken" "$T/err" || { cat "$T/err"; fail "verify did not go on with the other points"; }
pass "a damaged index is listed and reported; the other points are still listed and verified"

# A corrupt chunk (one line), and a chunk path that is a directory (reported, and the run goes on).
# Two chunks of b.img (the latest point's image), by the SHA-256 of their content.
read -r c0 c1 < <(python3 -c 'import hashlib,sys
d=open(sys.argv[1],"rb").read(); cs=65536
h=[hashlib.sha256(d[i:i+cs]).hexdigest() for i in range(0,len(d),cs) if any(d[i:i+cs])]
print(h[0], h[1])' "$T/b.img")
printf 'hello' | zstd -q -c >"$S/chunks/${c0:0:2}/$c0.zst"
rm "$S/chunks/${c1:0:2}/$c1.zst"; mkdir "$S/chunks/${c1:0:2}/$c1.zst"
rc=0; "$HS" verify "$S" mail01@"${ids[2]}" >"$T/out" 2>"$T/err" || rc=$?
[ $rc -ne 0 ] || fail "verify exited 0 with a corrupt chunk and a directory"
[ "$(grep -c "$c0" "$T/err")" -eq 1 ] || { cat "$T/err"; fail "the corrupt chunk is not reported exactly once"; }
grep -q "chunk $c0: corrupt in $S; breaks" "$T/err" || { cat "$T/err"; fail "the corrupt chunk's line"; }
grep -q "chunk $c1: unreadable in $S (.*is not a regular file); breaks" "$T/err" || { cat "$T/err"; fail "the directory is not reported as an unreadable chunk"; }
grep -q "verify failed: 2 of [0-9]* chunks bad" "$T/err" || { cat "$T/err"; fail "verify's summary"; }
pass "a corrupt chunk is reported once; a directory in a chunk's place is reported and the run goes on"

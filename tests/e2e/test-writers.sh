#!/bin/bash
# Two writers on one store: different servers both succeed; a second writer
# of the same server is refused with a clear message and changes nothing.
. "$(dirname "$0")/../lib.sh"

make_ext4 "$T/a.img" 32
make_ext4 "$T/b.img" 32
cp "$T/a.img" "$T/common.img"
"$HS" init "$T/store" --chunk-size 64K >/dev/null
"$HS" snapshot "$T/store" mail01 "$T/a.img" >"$T/a.out" 2>&1 & pa=$!
"$HS" snapshot "$T/store" files02 "$T/b.img" >"$T/b.out" 2>&1 & pb=$!
"$HS" snapshot "$T/store" web03 "$T/common.img" >"$T/c.out" 2>&1 & pc=$!
wait $pa || { cat "$T/a.out"; fail "mail01 snapshot"; }
wait $pb || { cat "$T/b.out"; fail "files02 snapshot"; }
wait $pc || { cat "$T/c.out"; fail "web03 snapshot"; }
"$HS" verify "$T/store" >/dev/null || fail "verify after concurrent snapshots"
for s in mail01 files02 web03; do
	"$HS" restore "$T/store" $s "$T/$s.out.img" >/dev/null
done
cmp "$T/mail01.out.img" "$T/a.img" && cmp "$T/files02.out.img" "$T/b.img" && cmp "$T/web03.out.img" "$T/common.img" || fail "restores after concurrent snapshots"
pass "three servers written at once (two with identical disks) all restore exactly"

# Hold mail01's writer lock as a running backup would, then try a second writer.
exec 9>>"$T/store/locks/mail01.lock"
flock -n 9 || fail "could not take the lock for the test"
before=$(find "$T/store" -type f | sort | xargs sha256sum | sha256sum)
expect_fail "mail01 is busy: another hotspare process .*is writing it" "$HS" backup "$T/store" mail01 "$T/a.img" 9>&-
after=$(find "$T/store" -type f | sort | xargs sha256sum | sha256sum)
[ "$before" = "$after" ] || fail "a refused writer changed the store"
"$HS" backup "$T/store" files02 "$T/b.img" >/dev/null 9>&- || fail "another server's backup while mail01 is locked"
exec 9>&-
pass "a second writer of one server is refused and changes nothing"

# Two real backups of one server at once: one may be refused, none corrupts.
"$HS" backup "$T/store" mail01 "$T/a.img" >/dev/null 2>&1 & p1=$!
"$HS" backup "$T/store" mail01 "$T/a.img" >/dev/null 2>"$T/p2.err" & p2=$!
r1=0; r2=0; wait $p1 || r1=$?; wait $p2 || r2=$?
[ $r1 -eq 0 ] || [ $r2 -eq 0 ] || fail "both concurrent backups failed"
[ $r2 -eq 0 ] || grep -q "is busy" "$T/p2.err" || fail "second backup failed for another reason: $(cat "$T/p2.err")"
"$HS" verify "$T/store" >/dev/null || fail "verify after racing backups"
pass "racing backups of one server: one wins, the store verifies"

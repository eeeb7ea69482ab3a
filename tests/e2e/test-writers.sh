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

# A link planted as a lock file: refused, and its target is not truncated.
echo "precious" >"$T/victim"
ln -sfn "$T/victim" "$T/store/locks/web03.lock"
rc=0; "$HS" backup "$T/store" web03 "$T/common.img" >/dev/null 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "a backup took a lock that is a symlink"
[ "$(cat "$T/victim")" = precious ] || fail "the lock's symlink target was overwritten"
rm "$T/store/locks/web03.lock"
pass "a symlink planted as a lock file is refused and its target left alone"

# A writer that lets go removes its lock file: nothing is left in locks/.
[ -z "$(find "$T/store/locks" -type f)" ] || fail "lock files left after the writers finished: $(ls "$T/store/locks")"
pass "no lock file is left once the writers are done"

# A capture killed mid-way leaves temporary chunk files: verify reports them,
# another server's capture leaves them alone, the next capture of the same
# server removes them.
head -c 160M /dev/urandom >"$T/big.img"
"$HS" snapshot "$T/store" big04 "$T/big.img" >/dev/null 2>&1 & pk=$!
wait_for 30 sh -c "[ \$(find '$T/store/chunks' -name '.tmp.*' | wc -l) -ge 20 ]" || fail "no temporary files appeared"
kill -9 $pk; wait $pk 2>/dev/null || true
n=$(find "$T/store" -name '.tmp.*' | wc -l)
bytes=$(find "$T/store" -name '.tmp.*' -printf '%s\n' | awk '{ s += $1 } END { print s }')
[ "$n" -gt 0 ] || fail "the killed snapshot left no temporary file to test with"
"$HS" verify "$T/store" --json >"$T/v.json" || fail "verify with leftovers"
[ "$(json_get "$T/v.json" leftover_files)" -eq "$n" ] && [ "$(json_get "$T/v.json" leftover_bytes)" -eq "$bytes" ] ||
	fail "verify reported $(json_get "$T/v.json" leftover_files) files of $(json_get "$T/v.json" leftover_bytes) bytes, not $n of $bytes"
"$HS" verify "$T/store" | grep -q "$n temporary files (.*) left by killed writers in $T/store" || fail "verify's summary does not report the leftovers"
"$HS" backup "$T/store" files02 "$T/b.img" >/dev/null || fail "another server's backup"
[ "$(find "$T/store" -name '.tmp.*' | wc -l)" -eq "$n" ] || fail "another server's capture removed the killed capture's files"
"$HS" snapshot "$T/store" big04 "$T/a.img" >/dev/null || fail "the next snapshot of the killed capture's server"
[ -z "$(find "$T/store" -name '.tmp.*')" ] || fail "the next capture of the server left its killed capture's files"
[ "$("$HS" verify "$T/store" --json | json_get - leftover_files)" -eq 0 ] || fail "verify still reports leftovers"
pass "a killed capture's $n temporary files ($bytes bytes): reported by verify, removed by its server's next capture"

# The next capture killed while it removes them: the lock still names the
# first killed writer, so the capture after it removes the rest (before, the
# lock named the second one, and the rest stayed for good).
"$HS" snapshot "$T/store" big04 "$T/big.img" >/dev/null 2>&1 & pk=$!
wait_for 30 sh -c "[ \$(find '$T/store/chunks' -name '.tmp.*' | wc -l) -ge 20 ]" || fail "no temporary files appeared"
kill -9 $pk; wait $pk 2>/dev/null || true
owner=$(head -n 1 "$T/store/locks/big04.lock")
[ -n "$owner" ] || fail "the killed capture's lock names no owner"
dir=$(find "$T/store/chunks" -mindepth 1 -maxdepth 1 -type d -print -quit)
(cd "$dir" && seq -f ".tmp.$owner.planted%g" 40000 | xargs touch)
"$HS" snapshot "$T/store" big04 "$T/a.img" >/dev/null 2>&1 & pk=$!
wait_for 30 sh -c "[ \$(find '$dir' -name '.tmp.*.planted*' | wc -l) -lt 40000 ]" || fail "the sweep did not start"
kill -9 $pk; wait $pk 2>/dev/null || true
left=$(find "$dir" -name '.tmp.*.planted*' | wc -l)
[ "$left" -eq 0 ] || [ "$(head -n 1 "$T/store/locks/big04.lock")" = "$owner" ] ||
	fail "a capture killed while sweeping put its own name in the lock ($left files of the first left)"
"$HS" snapshot "$T/store" big04 "$T/a.img" >/dev/null || fail "the capture after one killed while sweeping"
[ -z "$(find "$T/store" -name '.tmp.*')" ] || fail "$(find "$T/store" -name '.tmp.*' | wc -l) temporaries outlived the capture after a sweep was killed ($left planted ones were left by it)"
pass "a capture killed while sweeping a killed one's files ($left of 40000 left): the next capture removes the rest"

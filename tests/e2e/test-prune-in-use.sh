#!/bin/bash
# A point in use is never pruned, whatever the rules say, and its chunks stay
# readable through gc; once it is no longer in use the next prune takes it.
# - an old point mounted as a spare (no hydration, so every read after gc is
#   a cold fetch) is kept by prune --keep-last 1 ("in use: mount on HOST"),
#   gc frees the rest, and the whole image then reads back exactly; after
#   umount the lease is gone and the next prune and gc take the point;
# - a spare whose daemon is killed (kill -9) stops renewing its lease: prune
#   keeps the point until the lease expires (HOTSPARE_LEASE_SECONDS=3), then
#   takes it;
# - a backup of the same server runs beside prune and gc and never fails.
. "$(dirname "$0")/../lib.sh"
S=$T/store
head -c $((8 << 20)) /dev/urandom >"$T/disk.img"
"$HS" init "$S" --chunk-size 64K >/dev/null
"$HS" snapshot "$S" web01 "$T/disk.img" >/dev/null
for d in 1 2 3 4; do
	sleep 1
	head -c $((2 << 20)) /dev/urandom | dd of="$T/disk.img" bs=1M seek=4 conv=notrunc status=none
	"$HS" backup "$S" web01 "$T/disk.img" --json >"$T/b$d.json"
	cp "$T/disk.img" "$T/day$d.img"
done
p1=$(json_get "$T/b1.json" point) p2=$(json_get "$T/b2.json" point) p3=$(json_get "$T/b3.json" point)

mkdir "$T/mnt" "$T/mnt2"
hs_mount_at "$T/mnt" "$S" "web01@$p1" "$T/mnt" --state "$T/st" --hydrate-threads 0 --readahead 0
ls "$S/leases/"*.json >/dev/null 2>&1 || fail "the mount recorded no lease"
"$HS" prune "$S" --keep-last 1 --json >"$T/prune.json" || fail "prune beside the spare"
python3 - "$T/prune.json" "$p1" <<'PY'
import json, sys
d, p1 = json.load(open(sys.argv[1])), sys.argv[2]
pts = {p["id"]: p for p in d["servers"][0]["points"]}
assert pts[p1]["keep"] and pts[p1]["reasons"] == ["in use"], pts[p1]
assert pts[p1]["in_use_by"].startswith("mount on "), pts[p1]
assert d["removed"] == 2, d   # days 2 and 3; the snapshot and day 4 stay
PY
"$HS" prune "$S" --keep-last 1 | grep -q "^  keep .*$p1 .*in use (mount on " || fail "prune's text does not say the point is in use"
"$HS" gc "$S" --grace 0 --json >"$T/gc.json" || fail "gc beside the spare"
[ "$(json_get "$T/gc.json" chunks_freed)" -eq 64 ] || fail "gc freed $(json_get "$T/gc.json" chunks_freed) chunks, not days 2 and 3's 64"
cmp "$T/mnt/web01.img" "$T/day1.img" || fail "the spare of the point in use reads otherwise after prune and gc"
pass "a mounted point is kept by prune (in use), its chunks by gc; its cold reads are exact"

"$HS" umount "$T/mnt"
[ -z "$(ls -A "$S/leases")" ] || fail "umount left the lease: $(ls "$S/leases")"
"$HS" prune "$S" --keep-last 1 --json >"$T/prune2.json" || fail "prune after umount"
[ "$(json_get "$T/prune2.json" removed)" -eq 1 ] || fail "the unmounted point was not pruned: $(cat "$T/prune2.json")"
"$HS" gc "$S" --grace 0 --json >"$T/gc2.json"
[ "$(json_get "$T/gc2.json" chunks_freed)" -eq 32 ] || fail "gc after umount: $(cat "$T/gc2.json")"
"$HS" verify "$S" >/dev/null || fail "verify"
pass "once unmounted, the next prune and gc take it"

# A daemon killed: its lease is not renewed, and expires.
sleep 1
"$HS" backup "$S" web01 "$T/disk.img" --json >"$T/b5.json"
p4=$(json_get "$T/b4.json" point)
HOTSPARE_LEASE_SECONDS=3 hs_mount_at "$T/mnt2" "$S" "web01@$p4" "$T/mnt2" --state "$T/st2" --hydrate-threads 0
pid=$(cat "$T/st2/lock" | tr -dc 0-9)
[ -n "$pid" ] && kill -0 "$pid" || fail "no daemon pid in the state's lock"
kill -9 "$pid"
"$HS" prune "$S" --keep-last 1 --json >"$T/prune3.json" || fail "prune while the lease lives"
[ "$(json_get "$T/prune3.json" removed)" -eq 0 ] || fail "a point was pruned while its lease lived"
sleep 4
"$HS" prune "$S" --keep-last 1 --json >"$T/prune4.json" || fail "prune after the lease expired"
[ "$(json_get "$T/prune4.json" removed)" -eq 1 ] || fail "the point of the dead spare was kept after its lease expired"
"$HS" umount "$T/mnt2" >/dev/null 2>&1 || umount -l "$T/mnt2"
lease2=$(grep -l "\"pid\":$pid," "$S/leases/"*.json) || fail "the killed spare's lease is gone"
"$HS" gc "$S" --grace 0 --json >"$T/gc3.json"
[ "$(json_get "$T/gc3.json" leases_removed)" -eq 0 ] && [ -e "$lease2" ] ||
	fail "gc removed a lease expired only 4 s ago (clocks may disagree by minutes)"
pass "a killed spare's lease expires by itself; then the point is pruned"

# A lease claiming a time ten years away (a clock far ahead, a hand-made
# object) keeps its point only while it is being rewritten: a day after its
# last write it names nothing. Objects under leases/ that are not leases
# keep nothing, gc names them and removes them a day after their write.
sleep 1
"$HS" backup "$S" web01 "$T/disk.img" --json >"$T/b6.json"
sleep 1
"$HS" backup "$S" web01 "$T/disk.img" >/dev/null
p6=$(json_get "$T/b6.json" point)
now=$(date +%s)
printf '{"format":"hotspare-lease","host":"elsewhere","pid":7,"what":"drill","started":%d,"expires":%d,"points":["web01@%s"]}' \
	"$now" $((now + 10 * 365 * 86400)) "$p6" >"$S/leases/elsewhere-7-far.json"
"$HS" prune "$S" --keep-last 1 --dry-run --json >"$T/prune5.json" || fail "prune beside a far lease"
python3 - "$T/prune5.json" "$p6" <<'PY'
import json, sys
d, p6 = json.load(open(sys.argv[1])), sys.argv[2]
pts = {p["id"]: p for p in d["servers"][0]["points"]}
assert pts[p6]["keep"] and pts[p6]["in_use_by"] == "drill on elsewhere (pid 7)", pts[p6]
PY
touch -d '2 days ago' "$S/leases/elsewhere-7-far.json"
"$HS" prune "$S" --keep-last 1 --json >"$T/prune6.json" || fail "prune beside a far lease not rewritten for 2 days"
python3 - "$T/prune6.json" "$p6" <<'PY'
import json, sys
d, p6 = json.load(open(sys.argv[1])), sys.argv[2]
pts = {p["id"]: p for p in d["servers"][0]["points"]}
assert not pts[p6]["keep"], pts[p6]
PY
rm "$S/leases/elsewhere-7-far.json"
pass "a lease claiming ten years keeps its point while rewritten, and names nothing a day after its last write"

printf 'not a lease' >"$S/leases/junk.json"
: >"$S/leases/empty.json"
"$HS" gc "$S" --grace 0 >"$T/gc4.txt" || fail "gc beside objects that are not leases"
grep -q "^note: 2 objects under leases/ not a lease" "$T/gc4.txt" || fail "gc does not name the objects that are not leases: $(cat "$T/gc4.txt")"
[ -e "$S/leases/junk.json" ] && [ -e "$S/leases/empty.json" ] || fail "gc removed a fresh object under leases/"
touch -d '2 days ago' "$S/leases/junk.json" "$S/leases/empty.json"
"$HS" gc "$S" --grace 0 --json >"$T/gc5.json" || fail "gc of old objects that are not leases"
[ "$(json_get "$T/gc5.json" leases_removed)" -ge 2 ] && [ "$(json_get "$T/gc5.json" leases_unreadable)" -eq 0 ] ||
	fail "gc of objects under leases/ written 2 days ago: $(cat "$T/gc5.json")"
[ ! -e "$S/leases/junk.json" ] && [ ! -e "$S/leases/empty.json" ] || fail "left under leases/: $(ls "$S/leases")"
pass "objects under leases/ that are not leases are named by gc, and removed a day after their write"

# A lease's life out of range is named, not replaced by the default.
for v in abc 1 86401 -5; do
	HOTSPARE_LEASE_SECONDS=$v expect_fail "HOTSPARE_LEASE_SECONDS=$v: not a whole number of seconds from 2 to 86400" \
		"$HS" restore "$S" web01 "$T/lease.img"
	[ ! -e "$T/lease.img" ] || fail "a refused restore made its target"
done
pass "HOTSPARE_LEASE_SECONDS out of range is refused in one line"

# A backup of the same server beside prune and gc (a large one: 256 MiB).
truncate -s 256M "$T/big.img"; head -c $((64 << 20)) /dev/urandom | dd of="$T/big.img" conv=notrunc status=none
"$HS" backup "$S" web01 "$T/big.img" >/dev/null 2>"$T/bk.err" &
bk=$!
ok=0
for i in 1 2 3 4 5; do
	"$HS" prune "$S" --keep-last 1 >/dev/null 2>>"$T/pg.err" && "$HS" gc "$S" --grace 0 >/dev/null 2>>"$T/pg.err" || fail "prune or gc beside a backup: $(cat "$T/pg.err")"
	ok=$((ok + 1))
done
wait $bk || fail "the backup beside prune and gc failed: $(cat "$T/bk.err")"
"$HS" verify "$S" >/dev/null || fail "verify after the backup"
"$HS" restore "$S" web01 "$T/r.img" >/dev/null && cmp "$T/r.img" "$T/big.img" || fail "the backup made beside prune and gc restores otherwise"
pass "a backup beside $ok prune and gc runs neither waits nor fails, and restores exactly"

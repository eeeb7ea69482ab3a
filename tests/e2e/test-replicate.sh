#!/bin/bash
# Two sites: `replicate` copies points to another store, only the chunks it
# lacks, each checked before it is sent, indexes last.
# - a store whose snapshot was shipped on a drive: refused without the drive
#   (one line naming the missing chunk), complete with it as --seed; the
#   replica verifies and restores byte for byte without any seed;
# - the next day's replication sends exactly the chunks the backup added;
# - to a web server through a proxy that refuses uploads half-way: no point
#   appears; the rerun finishes without sending again what arrived;
# - a corrupt chunk in the source is never propagated; a replica with another
#   chunk size is refused.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../http.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
ids() { "$HS" points "$1" "$2" --json | python3 -c 'import json,sys; print(" ".join(p["id"] for p in json.load(sys.stdin)))'; }

# Site 1: a shipped snapshot and two daily backups, with copies of each day's disk.
make_ext4 "$T/disk.img" 32
"$HS" init "$T/store" >/dev/null
"$HS" snapshot "$T/store" web01 "$T/disk.img" --ship "$T/usb" >/dev/null
cp --sparse=always "$T/disk.img" "$T/day0.img"
for d in 1 2; do
	head -c 900000 /dev/urandom >"$T/f$d"; ext4_write "$T/disk.img" "/srv/day$d.bin" "$T/f$d"
	"$HS" backup "$T/store" web01 "$T/disk.img" >/dev/null
	cp --sparse=always "$T/disk.img" "$T/day$d.img"
done
make_ext4 "$T/other.img" 16
"$HS" snapshot "$T/store" db01 "$T/other.img" >/dev/null
read -r -a P <<<"$(ids "$T/store" web01)"
[ ${#P[@]} -eq 3 ] || fail "site 1 has ${#P[@]} points of web01"

# Without the drive the snapshot's chunks are nowhere: refused, no point copied.
expect_fail "replicate: web01@${P[0]}: chunk [0-9a-f]{64} is missing .*give the drive with --seed" \
	"$HS" replicate "$T/store" "$T/site2"
# (db01, complete in the store, went first and is complete at site 2.)
[ -z "$(ids "$T/site2" web01 2>/dev/null)" ] || fail "a refused replication left points of web01"
"$HS" replicate "$T/store" "$T/site2" --seed "$T/usb" --json >"$T/r1.json"
[ "$(json_get "$T/r1.json" points)" -eq 3 ] && [ "$(json_get "$T/r1.json" points_present)" -eq 1 ] ||
	fail "the replication with the drive: $(cat "$T/r1.json")"
[ "$(ids "$T/site2" web01)" = "${P[*]}" ] || fail "the replica's points differ: $(ids "$T/site2" web01)"
"$HS" verify "$T/site2" >/dev/null || fail "the replica does not verify without a seed"
for d in 0 1 2; do
	"$HS" restore "$T/site2" "web01@${P[$d]}" "$T/r$d.img" >/dev/null
	cmp "$T/r$d.img" "$T/day$d.img" || fail "day $d restored from the replica differs"
done
"$HS" restore "$T/site2" db01 "$T/rdb.img" >/dev/null && cmp "$T/rdb.img" "$T/other.img" || fail "db01 from the replica"
"$HS" replicate "$T/store" "$T/site2" --json >"$T/r1b.json"
[ "$(json_get "$T/r1b.json" points)" -eq 0 ] && [ "$(json_get "$T/r1b.json" chunks_sent)" -eq 0 ] ||
	fail "a second run copied again: $(cat "$T/r1b.json")"
pass "shipped snapshot + backups replicated with the drive as seed; the replica verifies and restores alone"

# Day 3: only what the backup added crosses.
head -c 700000 /dev/urandom >"$T/f3"; ext4_write "$T/disk.img" /srv/day3.bin "$T/f3"
"$HS" backup "$T/store" web01 "$T/disk.img" --json >"$T/b3.json"
"$HS" replicate "$T/store" "$T/site2" web01 --json >"$T/r2.json"
[ "$(json_get "$T/r2.json" points)" -eq 1 ] || fail "day 3 copied $(json_get "$T/r2.json" points) points"
[ "$(json_get "$T/r2.json" chunks_sent)" -eq "$(json_get "$T/b3.json" chunks_new)" ] ||
	fail "day 3 sent $(json_get "$T/r2.json" chunks_sent) chunks; the backup added $(json_get "$T/b3.json" chunks_new)"
[ "$(json_get "$T/r2.json" bytes_sent)" -eq "$(json_get "$T/b3.json" bytes_stored)" ] || fail "day 3 sent other bytes than the backup stored"
# The replica's newest point says which chunks it holds: none is looked up one by one.
[ "$(json_get "$T/r2.json" chunks_present)" -eq 0 ] || fail "day 3 looked up $(json_get "$T/r2.json" chunks_present) chunks the replica has"
"$HS" restore "$T/site2" web01 "$T/r3.img" >/dev/null && cmp "$T/r3.img" "$T/disk.img" || fail "day 3 from the replica"
pass "the next day sends only the $(json_get "$T/r2.json" chunks_sent) chunks the backup added"

# To a web server, through a proxy that refuses chunk uploads after the 10th.
PORT=$(free_port)
nginx_conf web "$T/www" "$PORT"
nginx_up web "$PORT"
PPORT=$(free_port)
echo "put-fail-after 10" >"$T/mode"
python3 "$HERE/../proxy.py" fault "$PPORT" "$PORT" "$T/mode" "$T/proxy.log" &
on_exit "kill $!"
wait_for 10 port_open "$PPORT" || fail "the proxy did not start"
rc=0; "$HS" replicate "$T/site2" "http://127.0.0.1:$PPORT/site3" web01 >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] && grep -q "access denied (HTTP 403)" "$T/err" || { cat "$T/err"; fail "a refused upload did not fail the replication"; }
[ -z "$(ls "$T/www/site3/points/web01" 2>/dev/null)" ] || fail "an interrupted replication left an index"
grep '^PUT .*/chunks/.* 20[14] ' "$T/proxy.log" | cut -d' ' -f2 | sort >"$T/first"
[ "$(wc -l <"$T/first")" -ge 1 ] || fail "no chunk arrived before the refusal"
: >"$T/proxy.log"; echo pass >"$T/mode"
"$HS" replicate "$T/site2" "http://127.0.0.1:$PPORT/site3" web01 --json >"$T/r3.json" || fail "the rerun failed"
grep '^PUT .*/chunks/' "$T/proxy.log" | cut -d' ' -f2 | sort >"$T/second"
[ -z "$(comm -12 "$T/first" "$T/second")" ] || fail "the rerun sent again chunks that had arrived"
[ "$(json_get "$T/r3.json" chunks_present)" -eq "$(wc -l <"$T/first")" ] &&
	[ "$(json_get "$T/r3.json" chunks_sent)" -eq "$(wc -l <"$T/second")" ] ||
	fail "the rerun's counts: $(cat "$T/r3.json"); $(wc -l <"$T/first") had arrived, $(wc -l <"$T/second") PUT now"
"$HS" verify "http://127.0.0.1:$PORT/site3" >/dev/null || fail "the web replica does not verify"
"$HS" restore "http://127.0.0.1:$PORT/site3" web01 "$T/r4.img" >/dev/null && cmp "$T/r4.img" "$T/disk.img" ||
	fail "restore from the web replica"
pass "an upload refused half-way leaves no point; the rerun sends only the rest ($(wc -l <"$T/first") chunks not sent again)"

# A corrupt chunk at the source is never propagated.
head -c 500000 /dev/urandom >"$T/f4"; ext4_write "$T/disk.img" /srv/day4.bin "$T/f4"
"$HS" backup "$T/store" web01 "$T/disk.img" --json >"$T/b4.json"
new=$(find "$T/store/chunks" -name '*.zst' -newer "$T/b3.json" | head -n 1)
[ -n "$new" ] || fail "no chunk from day 4's backup found"
printf '\x5a' | dd of="$new" bs=1 seek=40 conv=notrunc status=none
expect_fail "replicate: .*chunk [0-9a-f]{64} in .*store is corrupt" "$HS" replicate "$T/store" "$T/site2" web01
[ "$(ids "$T/site2" web01 | wc -w)" -eq 4 ] || fail "a point with a corrupt chunk reached the replica"
"$HS" verify "$T/site2" >/dev/null || fail "the replica no longer verifies"
pass "a corrupt source chunk stops the replication before its point is written"

"$HS" init "$T/site4" --chunk-size 64K >/dev/null
expect_fail "replicate: .*site4 is a store with chunk size 65536, not 262144" \
	"$HS" replicate "$T/site2" "$T/site4"
expect_fail "replicate: .*no points" "$HS" replicate "$T/site2" "$T/site5" nosuch
expect_fail "usage" "$HS" replicate "$T/site2"
pass "another chunk size, an unknown server, missing arguments: refused"

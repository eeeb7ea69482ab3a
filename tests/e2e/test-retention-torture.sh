#!/bin/bash
# Retention beside everything else, for a bounded time (TORTURE_SECONDS,
# default 75): two servers backed up in loops whose images are made of a
# pool of blocks (so backups keep deduplicating against chunks that prune
# has just made unnamed, the race gc must win; one server's backups are
# stopped and continued all along, so each spans many gc runs; each new
# point is verified at once), replicate to a second
# store, a spare of the newest point mounted again and again and read cold
# in random order, and prune + gc in a loop on both stores. No command may
# fail (a spare mounted just as its point was pruned may be refused, and is
# counted); afterwards every point of both stores verifies and restores to
# exactly the image it was taken from, every spare read was exact, and one
# more gc leaves nothing unnamed.
. "$(dirname "$0")/../lib.sh"
S=$T/store R=$T/replica
SECONDS_=${TORTURE_SECONDS:-75}
# Images of 128 blocks from a pool of 256: a block an old point named is
# often named by no kept point, then written again by a backup.
CS=65536 NBLK=128 POOL=256
mkdir -p "$T/pool" "$T/sums" "$T/log"
for i in $(seq 0 $((POOL - 1))); do head -c $CS /dev/urandom >"$T/pool/$i"; done
"$HS" init "$S" --chunk-size 64K >/dev/null
for srv in web01 db01; do
	for b in $(seq 0 $((NBLK - 1))); do cat "$T/pool/$((RANDOM % POOL))"; done >"$T/$srv.img"
	"$HS" snapshot "$S" $srv "$T/$srv.img" --json >"$T/$srv.json"
	sha256sum <"$T/$srv.img" | cut -c1-64 >"$T/sums/$srv@$(json_get "$T/$srv.json" point)"
done
end=$(($(date +%s) + SECONDS_))
failed() { echo "$(date +%T) $*" >>"$T/failures"; }

# stutter PID: stop and continue PID until it exits, so that its run spans
# many gc runs (a backup that asked about a chunk long before it names it).
stutter() {
	while kill -STOP "$1" 2>/dev/null; do sleep 0.1; kill -CONT "$1" 2>/dev/null || break; sleep 0.02; done
}

# backups: 16 blocks a round from the pool, now and then a new one; each
# point verified as soon as it is written (before anything could prune it:
# it is its server's newest).
writer() {
	local srv=$1 img=$T/$1.img n=0 pid id
	while [ "$(date +%s)" -lt "$end" ]; do
		for k in $(seq 16); do
			if [ $((RANDOM % 8)) -eq 0 ]; then head -c $CS /dev/urandom; else cat "$T/pool/$((RANDOM % POOL))"; fi |
				dd of="$img" bs=$CS seek=$((RANDOM % NBLK)) conv=notrunc status=none
		done
		"$HS" backup "$S" "$srv" "$img" --json >"$T/log/$srv.json" 2>"$T/log/$srv.err" &
		pid=$!
		[ "$srv" = web01 ] && stutter $pid
		if wait $pid; then
			id=$(json_get "$T/log/$srv.json" point)
			sha256sum <"$img" | cut -c1-64 >"$T/sums/$srv@$id"
			"$HS" verify "$S" "$srv@$id" >"$T/log/$srv.verify" 2>&1 || failed "verify of the new $srv@$id: $(tail -3 "$T/log/$srv.verify")"
			n=$((n + 1))
		else
			failed "backup $srv: $(cat "$T/log/$srv.err")"
		fi
	done
	echo "$n" >"$T/log/$srv.count"
}

# prune + gc on both stores.
pruner() {
	local n=0
	while [ "$(date +%s)" -lt "$end" ]; do
		for st in "$S" "$R"; do
			[ -e "$st/hotspare-store.json" ] || continue
			"$HS" prune "$st" --keep-last 2 >/dev/null 2>"$T/log/prune.err" || failed "prune $st: $(cat "$T/log/prune.err")"
			"$HS" gc "$st" --grace 0 --json >"$T/log/gc.json" 2>"$T/log/gc.err" || failed "gc $st: $(cat "$T/log/gc.err")"
		done
		n=$((n + 1))
		sleep 0.1
	done
	echo "$n" >"$T/log/prune.count"
}

replicator() {
	local n=0
	while [ "$(date +%s)" -lt "$end" ]; do
		"$HS" replicate "$S" "$R" >/dev/null 2>"$T/log/repl.err" || failed "replicate: $(cat "$T/log/repl.err")"
		n=$((n + 1))
		sleep 1
	done
	echo "$n" >"$T/log/repl.count"
}

# The newest point of web01 mounted without hydration and read in random order.
reader() {
	local n=0 refused=0 id mnt=$T/mnt
	mkdir -p "$mnt"
	while [ "$(date +%s)" -lt "$end" ]; do
		id=$("$HS" points "$S" web01 --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])') || continue
		for _ in $(seq 50); do [ -e "$T/sums/web01@$id" ] && break; sleep 0.1; done
		rm -rf "$T/st"
		if ! "$HS" mount "$S" "web01@$id" "$mnt" --state "$T/st" --hydrate-threads 0 --readahead 0 >/dev/null 2>"$T/log/mount.err"; then
			# Pruned between the listing and the mount: refused, never served.
			grep -q "no longer in\|does not exist" "$T/log/mount.err" && { refused=$((refused + 1)); continue; }
			failed "mount web01@$id: $(cat "$T/log/mount.err")"
			continue
		fi
		rm -f "$T/read.img"; truncate -s $((NBLK * CS)) "$T/read.img"
		for b in $(seq 0 $((NBLK - 1)) | shuf); do
			dd if="$mnt/web01.img" of="$T/read.img" bs=$CS skip="$b" seek="$b" count=1 iflag=direct conv=notrunc status=none ||
				failed "read of block $b of web01@$id"
			sleep 0.0$((RANDOM % 3))
		done
		"$HS" umount "$mnt" >/dev/null 2>&1 || failed "umount of web01@$id"
		[ "$(sha256sum <"$T/read.img" | cut -c1-64)" = "$(cat "$T/sums/web01@$id")" ] || failed "the spare of web01@$id read otherwise"
		n=$((n + 1))
	done
	echo "$n $refused" >"$T/log/reader.count"
}

on_exit "'$HS' umount '$T/mnt' || umount -l '$T/mnt'"
writer web01 & w1=$!
writer db01 & w2=$!
pruner & p=$!
replicator & rp=$!
reader & rd=$!
wait $w1 $w2 $p $rp $rd
[ ! -s "$T/failures" ] || { cat "$T/failures" >&2; fail "$(wc -l <"$T/failures") commands failed beside prune and gc"; }
read -r reads refused <"$T/log/reader.count"
pass "$SECONDS_ s: $(cat "$T/log/web01.count") + $(cat "$T/log/db01.count") backups, $(cat "$T/log/repl.count") replicates, $reads cold spares read exactly ($refused refused as pruned), $(cat "$T/log/prune.count") prune + gc rounds: no command failed"
[ "$reads" -ge 3 ] && [ $(($(cat "$T/log/web01.count") + $(cat "$T/log/db01.count"))) -ge 20 ] || fail "too little happened to mean anything"

# Afterwards: everything that is kept is whole.
for st in "$S" "$R"; do
	"$HS" verify "$st" >"$T/verify.out" 2>&1 || { cat "$T/verify.out"; fail "verify of $st"; }
	n=0
	for srv in web01 db01; do
		for id in $("$HS" points "$st" $srv --json | python3 -c 'import json,sys; print(" ".join(p["id"] for p in json.load(sys.stdin)))'); do
			"$HS" restore "$st" "$srv@$id" "$T/r.img" >/dev/null || fail "restore $srv@$id from $st"
			[ "$(sha256sum <"$T/r.img" | cut -c1-64)" = "$(cat "$T/sums/$srv@$id")" ] || fail "$srv@$id from $st restores otherwise"
			rm -f "$T/r.img"
			n=$((n + 1))
		done
	done
	"$HS" gc "$st" --grace 0 --json >"$T/gc.json" || fail "the last gc of $st"
	"$HS" du "$st" --json >"$T/du.json"
	[ "$(json_get "$T/du.json" unnamed_chunks)" -eq 0 ] && [ "$(json_get "$T/du.json" trash_chunks)" -eq 0 ] ||
		fail "after the last gc of $st: $(cat "$T/gc.json") $(ls -R "$st/trash" "$st/writers" "$st/leases" "$st/locks") $(tr -d '\n ' <"$T/du.json")"
	pass "$st: every point ($n) verifies and restores exactly; one more gc leaves nothing unnamed"
done

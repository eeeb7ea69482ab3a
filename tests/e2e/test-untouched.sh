#!/bin/bash
# Bad input leaves the store byte-identical: every command that writes is
# refused, in one line, for each way its arguments, sources or the state of
# things can be wrong, before it writes anything at all. After each refusal a
# digest of the whole tree of every store, drive and replica (names, kinds,
# modes, sizes, contents and modification times, so even a lock file made and
# removed again shows) is what it was, and nothing new exists. Commands that
# only read (points, verify, restore, export, mount) change nothing either.
. "$(dirname "$0")/../lib.sh"

truncate -s 4M "$T/a.img"
head -c 1M /dev/urandom | dd of="$T/a.img" conv=notrunc status=none
S=$T/store U=$T/usb S2=$T/other E=$T/enc
"$HS" init "$S" --chunk-size 64K >/dev/null
"$HS" snapshot "$S" mail01 "$T/a.img" --ship "$U" >/dev/null
"$HS" backup "$S" mail01 "$T/a.img" >/dev/null
"$HS" init "$S2" --chunk-size 128K >/dev/null
"$HS" key create "$T/k.key" >/dev/null
"$HS" key create "$T/other.key" >/dev/null
"$HS" init "$E" --chunk-size 64K --encrypt "$T/k.key" >/dev/null
"$HS" snapshot "$E" mail01 "$T/a.img" --keyfile "$T/k.key" >/dev/null
: >"$T/empty.img"
mkdir "$T/mnt" "$T/dir"
id=$("$HS" points "$S" mail01 --json | json_get - 0 id)

# The digest of everything under the stores, drives and replicas.
# A point in use is recorded while the use lasts (leases/, writers/: see
# README "Leases"): those directories may appear (changing their parent's
# time), but nothing may stay in them.
state() {
	(cd "$T" && find store usb other enc \( -name leases -o -name writers \) -prune -o \
		-type d -printf '%p d %m\n' -o -printf '%p %y %m %s %T@\n' | sort &&
		find store usb other enc \( -name leases -o -name writers \) -prune -o -type f -print0 |
		sort -z | xargs -0 sha256sum &&
		find store usb other enc \( -path '*/leases/*' -o -path '*/writers/*' \) -type f) | sha256sum
}
# Paths a refused command must not make.
NEW=("$T/new" "$T/newdrive" "$T/out.img" "$T/x.raw" "$T/st" "$T/rep" "$T/k2.key")

# refused PATTERN CMD...: CMD fails with one line matching PATTERN, and
# changes nothing (the tree digest, and no new path).
refused() {
	local pattern=$1 before p
	shift
	before=$(state)
	expect_fail "$pattern" "$@"
	[ "$(state)" = "$before" ] || fail "refused, but the store changed: $*"
	for p in "${NEW[@]}"; do
		[ ! -e "$p" ] || fail "refused, but $p was made: $*"
	done
}
# reads CMD...: CMD succeeds and changes nothing in the stores.
reads() {
	local before
	before=$(state)
	"$@" >/dev/null 2>"$T/err" || { cat "$T/err" >&2; fail "failed: $*"; }
	[ "$(state)" = "$before" ] || fail "a command that only reads changed the store: $*"
}

# --- init ---
refused "already a hotspare store" "$HS" init "$S"
refused "already a hotspare store" "$HS" init "$S" --chunk-size 128K
refused "chunk size '3M' is not a power of two" "$HS" init "$S" --chunk-size 3M
refused "cannot read key file .*/nokey" "$HS" init "$T/new" --encrypt "$T/nokey"
refused "already a hotspare store" "$HS" init "$E" --encrypt "$T/k.key"
pass "init: an existing store, a bad chunk size, a missing key file"

# --- snapshot and backup ---
refused "server name 'a/b' contains '/'" "$HS" snapshot "$S" a/b "$T/a.img"
refused "server name '\.\.' starts with '.'" "$HS" backup "$S" .. "$T/a.img"
refused "cannot read .*/missing.img: No such file" "$HS" snapshot "$S" mail01 "$T/missing.img"
refused "empty.img is empty" "$HS" backup "$S" mail01 "$T/empty.img"
refused "not a raw image file or a block device" "$HS" snapshot "$S" mail01 "$T/dir"
refused "disk name a is given twice|disk a is named twice" "$HS" snapshot "$S" mail01 "a=$T/a.img" "a=$T/a.img"
refused "disk name '.b' starts with '.'" "$HS" snapshot "$S" mail01 "a=$T/a.img" ".b=$T/a.img"
refused "is not DISK=SOURCE" "$HS" snapshot "$S" mail01 "a=$T/a.img" "$T/a.img"
refused "disk b has no SOURCE" "$HS" snapshot "$S" mail01 "a=$T/a.img" "b="
refused "cannot read .*/missing.img" "$HS" snapshot "$S" mail01 "a=$T/a.img" "b=$T/missing.img"
args=(); for i in $(seq 1 65); do args+=("d$i=$T/a.img"); done
refused "65 disks given; a server has at most 64" "$HS" snapshot "$S" mail01 "${args[@]}"
refused "--threads '0' is not a number" "$HS" snapshot "$S" mail01 "$T/a.img" --threads 0
refused "--ship is for snapshots" "$HS" backup "$S" mail01 "$T/a.img" --ship "$U"
refused "--ship .*/store/drive is inside the store" "$HS" snapshot "$S" mail01 "$T/a.img" --ship "$S/drive"
refused "--ship .*/a.img is the SOURCE itself" "$HS" snapshot "$S" mail01 "$T/a.img" --ship "$T/a.img"
refused "is a store with chunk size 131072, not 65536" "$HS" snapshot "$S" mail01 "$T/a.img" --ship "$S2"
refused "cannot create store directory .*/nodir/newdrive" "$HS" snapshot "$S" mail01 "$T/a.img" --ship "$T/nodir/newdrive"
refused "store .*/new does not exist" "$HS" snapshot "$T/new" mail01 "$T/a.img"
refused "is encrypted: give its key" "$HS" snapshot "$E" mail01 "$T/a.img"
refused "the key is not" "$HS" backup "$E" mail01 "$T/a.img" --keyfile "$T/other.key"
refused "unknown option '--bogus'" "$HS" snapshot "$S" mail01 "$T/a.img" --bogus
# A server another process is writing: neither store nor a new drive is touched.
flock "$S/locks/mail01.lock" sleep 30 & holder=$!
on_exit "kill $holder"
wait_for 5 sh -c "! flock -n '$S/locks/mail01.lock' true" || fail "the lock holder did not start"
refused "mail01 is busy" "$HS" snapshot "$S" mail01 "$T/a.img" --ship "$T/newdrive"
refused "mail01 is busy" "$HS" backup "$S" mail01 "$T/a.img"
kill $holder; wait $holder 2>/dev/null || true
rm "$S/locks/mail01.lock"
pass "snapshot and backup: bad names, sources, disks, options, drives, keys and a busy server"

# --- verify, restore, export, replicate, upgrade, key ---
refused "server nobody has no points" "$HS" verify "$S" nobody
refused "point mail01@2020 does not exist" "$HS" verify "$S" mail01@2020
refused "store .*/nope does not exist" "$HS" verify "$S" mail01 --seed "$T/nope"
refused "TARGET .*/x.img is inside the store" "$HS" restore "$S" mail01 "$S/x.img"
refused "server nobody has no points" "$HS" restore "$S" nobody "$T/out.img"
refused "has no disk nodisk" "$HS" restore "$S" mail01:nodisk "$T/out.img"
refused "store .*/nope does not exist" "$HS" restore "$S" mail01 "$T/out.img" --seed "$T/nope"
refused "FILE .*/x.raw is inside the store" "$HS" export "$S" mail01 "$S/x.raw"
refused "unknown --format 'bogus'" "$HS" export "$S" mail01 "$T/x.raw" --format bogus
refused "server nobody has no points" "$HS" export "$S" nobody "$T/x.raw"
refused "DEST .*/store/rep is inside the store" "$HS" replicate "$S" "$S/rep"
refused "is a store with chunk size 131072, not 65536" "$HS" replicate "$S" "$S2"
refused "server nobody has no points" "$HS" replicate "$S" "$T/rep" nobody
refused "point mail01@2020 does not exist" "$HS" replicate "$S" "$T/rep" mail01@2020
refused "store .*/nope does not exist" "$HS" replicate "$S" "$T/rep" --seed "$T/nope"
refused "is not encrypted" "$HS" key recover "$S" --master-key "$T/nope.pem" "$T/k2.key"
refused "store .*/new does not exist" "$HS" upgrade "$T/new"
pass "verify, restore, export, replicate, key recover and upgrade: bad points, targets, seeds, stores"

# --- mount, checkpoint, failback, scrub, browse, drill ---
refused "server nobody has no points" "$HS" mount "$S" nobody "$T/mnt" --state "$T/st"
refused "point mail01@2020 does not exist" "$HS" mount "$S" mail01@2020 "$T/mnt" --state "$T/st"
refused "the state .*/store/st is inside the store" "$HS" mount "$S" mail01 "$T/mnt" --state "$S/st"
refused "MOUNTPOINT .*/store is the store itself" "$HS" mount "$S" mail01 "$S" --state "$T/st"
refused "store .*/nope does not exist" "$HS" mount "$S" mail01 "$T/mnt" --state "$T/st" --seed "$T/nope"
refused "is not a hotspare mount|not a mount" "$HS" checkpoint "$S"
refused "is not a hotspare mount|not a mount" "$HS" failback "$S"
refused "holds no hotspare state" "$HS" scrub "$S"
refused "DIR .* is inside the store" "$HS" browse "$S" mail01 "$S/b"
refused "--report .*/store/rep is inside the store" "$HS" drill "$S" mail01 --report "$S/rep"
pass "mount, checkpoint, failback, scrub, browse and drill: bad points, places and mounts"

# --- what only reads ---
reads "$HS" points "$S" mail01
reads "$HS" verify "$S" --seed "$U"
reads "$HS" verify "$E" --keyfile "$T/k.key"
reads "$HS" upgrade "$S"
reads "$HS" restore "$S" "mail01@$id" "$T/r.img" --seed "$U"
cmp "$T/r.img" "$T/a.img" || fail "the restore is not the image"
reads "$HS" export "$S" mail01 "$T/x2.raw" --seed "$U"
# A spare's whole life (its lease lives as long as the mount).
before=$(state)
hs_mount_at "$T/mnt" "$S" mail01 "$T/mnt" --state "$T/st2" --seed "$U"
cmp "$T/mnt/mail01.img" "$T/a.img" || fail "the spare is not the image"
"$HS" umount "$T/mnt" >/dev/null || fail "umount failed"
[ "$(state)" = "$before" ] || fail "a spare mounted, read and unmounted changed the store"
pass "points, verify, upgrade of a current store, restore, export and a spare's life leave the stores as they were"

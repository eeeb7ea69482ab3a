#!/bin/bash
# Injected faults: the fault layer (tests/faults/hsfault.c, preloaded) makes
# writes fail with ENOSPC or EIO, or come out short, and syncs and renames
# fail, at chosen moments of snapshot, backup, restore, replicate, checkpoint
# and the spare's state. Each time the command fails with one line (or, for
# a short write, carries on and is right), no point names a missing chunk,
# nothing half written is left (no temporary file, no new target), and the
# same command run again completes: verify passes and the data compares equal.
. "$(dirname "$0")/../lib.sh"

LIB=${HSFAULT:-$(dirname "$HS")/../tests/hsfault.so}
[ -f "$LIB" ] || fail "the fault layer is not built ($LIB; set HSFAULT)"
# An ASan build wants its runtime first in the list of libraries; the layer comes first here.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

truncate -s 8M "$T/a.img"
head -c 3M /dev/urandom | dd of="$T/a.img" conv=notrunc status=none
seq 1 100000 | dd of="$T/a.img" bs=1M seek=4 conv=notrunc status=none
cp "$T/a.img" "$T/a2.img"
head -c 512K /dev/urandom | dd of="$T/a2.img" bs=64K seek=20 conv=notrunc status=none
S=$T/store
"$HS" init "$S" --chunk-size 64K >/dev/null

# faulty OPS PATH NTH TIMES ERR CMD...: run CMD with the fault layer (see
# hsfault.c for the variables); $rc is its status, $T/err its stderr.
faulty() {
	local ops=$1 pat=$2 nth=$3 times=$4 err=$5
	shift 5
	rm -f "$T/fault.log"
	rc=0
	env LD_PRELOAD="$LIB" HSFAULT_OPS="$ops" HSFAULT_PATH="$pat" HSFAULT_NTH="$nth" HSFAULT_TIMES="$times" \
		HSFAULT_ERR="$err" HSFAULT_LOG="$T/fault.log" "$@" >"$T/out" 2>"$T/err" || rc=$?
}

# fired WHAT ERR: the fault was injected, and the command failed with one
# line; a short write may instead be carried on (the caller checks the data).
fired() {
	[ -s "$T/fault.log" ] || fail "$1: the fault was never injected"
	if [ "$rc" -eq 0 ]; then
		[ "$2" = short ] || { cat "$T/err" >&2; fail "$1: succeeded despite $(head -1 "$T/fault.log")"; }
		return 0
	fi
	[ "$(wc -l <"$T/err")" -eq 1 ] || { cat "$T/err" >&2; fail "$1: not a one-line error"; }
}

# whole STORE [SEED]: no temporary file is left, and every point verifies
# (no point names a missing or damaged chunk).
whole() {
	local left
	left=$(find "$1" -name '.tmp.*' | head -3)
	[ -z "$left" ] || fail "temporary files left in $1: $left"
	"$HS" verify "$1" ${2:+--seed "$2"} >/dev/null 2>"$T/verr" || { cat "$T/verr" >&2; fail "verify of $1 after a fault"; }
}

# npoints STORE SERVER: how many points SERVER has (0: points says it has none).
npoints() {
	local out
	if ! out=$("$HS" points "$1" "$2" --json 2>"$T/np.err"); then
		grep -q "has no points" "$T/np.err" || { cat "$T/np.err" >&2; return 1; }
		echo 0
		return
	fi
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$out"
}

# --- snapshot and backup ------------------------------------------------------
# A full disk from the first chunk on, one EIO mid-way, short writes, a failed
# batch sync, the point's own write, sync and rename, its manifest, the
# directories' syncs.
cases=(
	"write  */chunks/*/.tmp.*          1  0 ENOSPC"
	"write  */chunks/*/.tmp.*          20 1 EIO"
	"write  */chunks/*/.tmp.*          1  0 short"
	"sync   $S                         1  1 EIO"
	"write  */points/mail01/.tmp.*     1  0 ENOSPC"
	"sync   */points/mail01/.tmp.*     1  1 EIO"
	"rename */points/mail01/*.idx      1  1 EIO"
	"write  */points/mail01/.tmp.*     2  1 EIO"
	"sync   */points/mail01            1  1 EIO"
)
for kind in snapshot backup; do
	for c in "${cases[@]}"; do
		read -r ops pat nth times err <<<"$c"
		# New content (32 chunks) for the capture to write.
		head -c 2M /dev/urandom | dd of="$T/a.img" bs=1M seek=1 conv=notrunc status=none
		before=$(npoints "$S" mail01)
		faulty "$ops" "$pat" "$nth" "$times" "$err" "$HS" "$kind" "$S" mail01 "$T/a.img"
		fired "$kind with $c" "$err"
		whole "$S"
		if [ "$rc" -ne 0 ]; then
			"$HS" "$kind" "$S" mail01 "$T/a.img" >/dev/null || fail "$kind after '$c' did not complete"
			whole "$S"
		fi
		[ "$(npoints "$S" mail01)" -gt "$before" ] || fail "$kind after '$c': no new point"
	done
done
"$HS" restore "$S" mail01 "$T/back.img" >/dev/null
cmp "$T/back.img" "$T/a.img" || fail "the newest point does not restore the image"
rm "$T/back.img"
pass "snapshot and backup: each fault fails in one line, leaves no broken point, and the rerun completes"

# A shipped snapshot whose drive fills: the store gets no point, the drive no temporaries.
faulty write "$T/usb/chunks/*" 5 0 ENOSPC "$HS" snapshot "$S" mail02 "$T/a2.img" --ship "$T/usb"
fired "snapshot --ship with a full drive" ENOSPC
[ "$rc" -ne 0 ] || fail "a snapshot onto a full drive succeeded"
[ "$(npoints "$S" mail02 2>/dev/null || echo 0)" -eq 0 ] || fail "a snapshot whose drive filled left a point"
whole "$S"; whole "$T/usb"
"$HS" snapshot "$S" mail02 "$T/a2.img" --ship "$T/usb" >/dev/null
whole "$S" "$T/usb"
pass "a snapshot whose drive fills leaves no point and nothing half written; the rerun completes"

# --- restore ------------------------------------------------------------------
# A new target: full disk, EIO once, short writes, a failed final sync.
for c in "pwrite 1 0 ENOSPC" "pwrite 30 1 EIO" "pwrite 1 0 short" "fsync 1 1 EIO"; do
	read -r ops nth times err <<<"$c"
	[ "$ops" = pwrite ] && ops=write || ops=sync
	faulty "$ops" "$T/new.img" "$nth" "$times" "$err" "$HS" restore "$S" mail01 "$T/new.img"
	fired "restore to a new target with $c" "$err"
	if [ "$rc" -ne 0 ]; then
		[ ! -e "$T/new.img" ] || fail "restore with $c left a half-written new target"
		"$HS" restore "$S" mail01 "$T/new.img" >/dev/null || fail "restore after '$c' did not complete"
	fi
	cmp "$T/new.img" "$T/a.img" || fail "restore after '$c' is not the image"
	rm "$T/new.img"
done
# A flush restore makes every 64 MiB on the way fails: its error is the
# restore's (the final fsync would not report it again).
truncate -s 72M "$T/big.img"
head -c 2M /dev/urandom | dd of="$T/big.img" bs=1M seek=63 conv=notrunc status=none
"$HS" snapshot "$S" big "$T/big.img" >/dev/null
faulty sync "$T/new.img" 1 1 EIO "$HS" restore "$S" big "$T/new.img"
fired "restore whose first flush on the way fails" EIO
grep -q "cannot flush" "$T/err" || fail "restore's failed flush on the way: $(cat "$T/err")"
grep -q "^fdatasync " "$T/fault.log" || fail "the failed flush was not the one on the way: $(cat "$T/fault.log")"
[ ! -e "$T/new.img" ] || fail "a restore whose flush failed left its new target"
"$HS" restore "$S" big "$T/new.img" >/dev/null && cmp "$T/new.img" "$T/big.img" || fail "restore of big after a failed flush"
rm "$T/new.img" "$T/big.img"
# An existing target (the server's own disk, stale): EIO mid-way; the rerun finishes it.
cp "$T/a2.img" "$T/old.img"
faulty write "$T/old.img" 3 1 EIO "$HS" restore "$S" mail01 "$T/old.img"
fired "restore onto an existing target with EIO" EIO
[ "$rc" -ne 0 ] || fail "a restore whose write failed succeeded"
"$HS" restore "$S" mail01 "$T/old.img" >/dev/null
cmp "$T/old.img" "$T/a.img" || fail "the rerun of a failed restore is not the image"
pass "restore: each fault fails in one line, a new target goes, the rerun completes"

# --- replicate ----------------------------------------------------------------
R=$T/replica
for c in "write $R/chunks/*/.tmp.* 1 0 ENOSPC" "write $R/chunks/*/.tmp.* 10 1 EIO" "write $R/chunks/*/.tmp.* 1 0 short" \
	"sync $R 1 1 EIO" "rename $R/points/*/*.idx 2 1 EIO" "write $R/points/*/.tmp.* 3 1 ENOSPC"; do
	read -r ops pat nth times err <<<"$c"
	rm -rf "$R"
	faulty "$ops" "$pat" "$nth" "$times" "$err" "$HS" replicate "$S" "$R" --seed "$T/usb"
	fired "replicate with $c" "$err"
	[ ! -e "$R/hotspare-store.json" ] || whole "$R"
	"$HS" replicate "$S" "$R" --seed "$T/usb" >/dev/null || fail "replicate after '$c' did not complete"
	whole "$R"
	[ "$(npoints "$R" mail01)" -eq "$(npoints "$S" mail01)" ] || fail "replicate after '$c' misses points"
done
"$HS" restore "$R" mail02 "$T/rep.img" >/dev/null
cmp "$T/rep.img" "$T/a2.img" || fail "the replica does not restore the image"
rm "$T/rep.img"
pass "replicate: each fault fails in one line, leaves no broken point in the replica, and the rerun completes"

# --- checkpoint (written by the spare's daemon) ---------------------------------
M=$T/mnt
mkdir -p "$M"
# (A daemon lives on: its disk is full for one write, then has room again.)
for c in "write $S/chunks/*/.tmp.* 1 1 ENOSPC" "sync $S 1 1 EIO" "rename $S/points/mail01/*.idx 1 1 EIO"; do
	read -r ops pat nth times err <<<"$c"
	rm -rf "$T/st"
	on_exit "'$HS' umount '$M' || umount -l '$M'"
	faulty "$ops" "$pat" "$nth" "$times" "$err" "$HS" mount "$S" mail01 "$M" --state "$T/st" --hydrate-threads 0
	[ "$rc" -eq 0 ] || { cat "$T/err" >&2; fail "mount under the fault layer"; }
	head -c 256K /dev/urandom | dd of="$M/mail01.img" bs=64K seek=$((RANDOM % 100)) conv=notrunc,fsync status=none
	before=$(npoints "$S" mail01)
	rc=0; "$HS" checkpoint "$M" >/dev/null 2>"$T/err" || rc=$?
	fired "checkpoint with $c" "$err"
	[ "$rc" -ne 0 ] || fail "checkpoint with $c succeeded"
	whole "$S" "$T/usb"
	[ "$(npoints "$S" mail01)" -eq "$before" ] || fail "a failed checkpoint ($c) left a point"
	"$HS" checkpoint "$M" >/dev/null || { cat "$T/fault.log"; fail "checkpoint after '$c' did not complete"; }
	whole "$S" "$T/usb"
	cp "$M/mail01.img" "$T/live.img"
	"$HS" umount "$M"
	"$HS" restore "$S" mail01 "$T/cp.img" >/dev/null
	cmp "$T/cp.img" "$T/live.img" || fail "the checkpoint after '$c' is not the spare's disk"
	rm "$T/cp.img" "$T/live.img"
done
pass "checkpoint: each fault fails in one line, leaves no point, and the next checkpoint is the disk"

# --- the spare's state ------------------------------------------------------------
# A guest flush whose image sync fails, a map byte that cannot be written, a
# state.json (chmod) that cannot be renamed: each call fails, the next
# succeeds, and after a remount the disk reads what was acknowledged.
"$HS" restore "$S" mail01 "$T/want.img" >/dev/null
# (Syncs counted from 2: the first makes the new state durable.)
# A chunk written whole while absent is recorded as written at the next
# flush; one present first is recorded before the write.
for c in "sync $T/st/disk.img 2 1 EIO absent" "write $T/st/map 1 1 EIO absent" "sync $T/st/map 2 1 EIO absent" \
	"sync $T/st/disk.img 2 1 EIO present" "write $T/st/map 1 1 EIO present" "sync $T/st/map 2 1 EIO present"; do
	read -r ops pat nth times err was <<<"$c"
	rm -rf "$T/st"
	faulty "$ops" "$pat" "$nth" "$times" "$err" "$HS" mount "$S" mail01 "$M" --state "$T/st" --hydrate-threads 0
	[ "$rc" -eq 0 ] || { cat "$T/err" >&2; fail "mount under the fault layer"; }
	[ "$was" = absent ] || cat "$M/mail01.img" >/dev/null
	head -c 64K /dev/urandom >"$T/blk"
	ok=0
	for try in 1 2 3; do
		if dd if="$T/blk" of="$M/mail01.img" bs=64K seek=7 conv=notrunc,fsync status=none 2>/dev/null; then ok=1; break; fi
	done
	[ $ok -eq 1 ] || fail "the spare's writes never succeeded after '$c'"
	[ -s "$T/fault.log" ] || fail "state with $c: the fault was never injected"
	dd if="$T/blk" of="$T/want.img" bs=64K seek=7 conv=notrunc status=none
	"$HS" umount "$M"
	hs_mount_at "$M" "$S" mail01 "$M" --state "$T/st" --hydrate-threads 0
	cmp "$M/mail01.img" "$T/want.img" || fail "after '$c' and a remount the disk is not what was acknowledged"
	"$HS" umount "$M"
done
rm -rf "$T/st"
faulty rename "$T/st/state.json" 2 1 EIO "$HS" mount "$S" mail01 "$M" --state "$T/st" --hydrate-threads 0
[ "$rc" -eq 0 ] || { cat "$T/err" >&2; fail "mount under the fault layer"; }
mode=$(stat -c %a "$M/mail01.img")
! chmod 640 "$M/mail01.img" 2>/dev/null || fail "a chmod whose state.json could not be written succeeded"
[ -s "$T/fault.log" ] || fail "chmod: the fault was never injected"
[ "$(stat -c %a "$M/mail01.img")" = "$mode" ] || fail "a failed chmod changed the mode"
chmod 640 "$M/mail01.img"
"$HS" umount "$M"
hs_mount_at "$M" "$S" mail01 "$M" --state "$T/st" --hydrate-threads 0
[ "$(stat -c %a "$M/mail01.img")" = 640 ] || fail "the mode did not survive a remount"
"$HS" umount "$M"
pass "the spare's state: a failed sync, map write or state.json fails that call only; the disk reads what was acknowledged"

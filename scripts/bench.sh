#!/usr/bin/env bash
# scripts/bench.sh: hotspare's figures, measured side by side in one run on the
# same realistic disk image, against the tools that bound each pipeline here.
#
#   snapshot MB/s   vs  zstd -T0 -3 (target >= 90%) and openssl dgst -sha256
#   restore MB/s    vs  cp + sync of the copy (target >= 80%; restore fsyncs too)
#   store size      vs  zstd -3 of the whole image
#   backup after a 3% change: bytes stored / image size (target < 4%)
#   a chunk-size sweep (64K 256K 1M 4M), the evidence for the default chunk size
#   then scripts/bench-spare.sh: the mounted spare's figures (BENCH_SPARE=0 skips)
#   then scripts/bench-remote.sh: the remote store's figures (BENCH_REMOTE=0 skips)
#   then scripts/bench-browse.sh: browse's userspace vs --kernel-mount vs VM (BENCH_BROWSE=0 skips)
#   then scripts/bench-disks.sh: servers of several disks, interleaved pairs (BENCH_DISKS=0 skips)
#   then scripts/bench-points.sh: points over 100 points of a 1 TiB server (BENCH_POINTS=0 skips)
#   then scripts/bench-gc.sh: gc of 1,000,000 chunks, and 30 days of keep-daily 7 (BENCH_GC=0 skips)
#   then scripts/bench-live.sh: live capture of a running VM: incremental by dirty bitmap vs a
#     whole read and vs reading the changed bytes, live vs image-file snapshot, --quiesce's freeze
#     (BENCH_LIVE=0 skips)
#   then scripts/bench-memory.sh: daemon RSS of a 1 TiB spare, fifty at once (BENCH_MEMORY=0 skips)
#
# Environment:
#   BENCH_DIR=/var/tmp      where the scratch directory goes (~14x the image by default)
#   BENCH_SIZE_MB=1024      image size in MiB (at least 64)
#   BENCH_RUNS=3            runs of each timed command; the best counts
#   BENCH_SWEEP=1           0 skips the chunk-size sweep
#   BENCH_SWEEP_SIZES="64K 256K 1M 4M"
#   BENCH_SEED=1            the image's seed (same seed, same image)
#   BENCH_TIMEOUT=300       seconds any one step may take
#   HOTSPARE=PATH           measure this binary instead of building one
# The table goes to stdout, progress to stderr. Exit 0 when everything ran (a
# missed target shows as MISS), non-zero when something broke.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE_MB=${BENCH_SIZE_MB:-1024}
RUNS=${BENCH_RUNS:-3}
SWEEP=${BENCH_SWEEP:-1}
SWEEP_SIZES=${BENCH_SWEEP_SIZES:-64K 256K 1M 4M}
SEED=${BENCH_SEED:-1}
STEP_TIMEOUT=${BENCH_TIMEOUT:-300}
CHANGE_REGIONS=30 # each 0.1% of the image: 3% in all

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

if ! [[ $SIZE_MB =~ ^[0-9]+$ ]] || ((SIZE_MB < 64)); then die "BENCH_SIZE_MB must be a whole number >= 64"; fi
if ! [[ $RUNS =~ ^[0-9]+$ ]] || ((RUNS < 1)); then die "BENCH_RUNS must be a whole number >= 1"; fi
[[ $STEP_TIMEOUT =~ ^[0-9]+$ ]] || die "BENCH_TIMEOUT must be a number of seconds"

# --- tools -------------------------------------------------------------------
# Install what is missing with apt-get (only what is missing).
missing=()
want_cmd() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
want_cmd timeout coreutils
want_cmd zstd zstd
want_cmd openssl openssl
want_cmd cc gcc
want_cmd cmp diffutils
want_cmd awk mawk
if [[ -z ${HOTSPARE:-} ]]; then
	want_cmd meson meson
	want_cmd ninja ninja-build
	want_cmd pkg-config pkg-config
	if command -v pkg-config >/dev/null 2>&1; then
		pkg-config --exists libzstd || missing+=(libzstd-dev)
		pkg-config --exists libcrypto || missing+=(libssl-dev)
		pkg-config --exists json-c || missing+=(libjson-c-dev)
	else
		missing+=(libzstd-dev libssl-dev libjson-c-dev)
	fi
fi
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	sudo=()
	((EUID == 0)) || sudo=(sudo)
	"${sudo[@]}" timeout "$STEP_TIMEOUT" apt-get update -qq >&2 || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" timeout "$STEP_TIMEOUT" \
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		die "cannot install ${missing[*]}"
fi

# --- scratch directory ---------------------------------------------------------
base=${BENCH_DIR:-/var/tmp}
mkdir -p "$base"
W=$(mktemp -d "$base/hotspare-bench.XXXXXX")
# shellcheck disable=SC2317 # called by the trap
cleanup() { rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Room for two images, a restored image, a copy and every store. Stores are only
# removed at the end: ext4 skips inodes freed in the last minutes when it
# allocates new ones, so a snapshot right after an rm -rf of the previous store
# would pay for that search (seen as recently_deleted() in perf).
nsweep=0
[[ $SWEEP == 1 ]] && nsweep=$(wc -w <<<"$SWEEP_SIZES")
need_kb=$((SIZE_MB * 1024 * (40 + 6 * (RUNS + 1) * (1 + nsweep)) / 10 + 200 * 1024))
have_kb=$(df -Pk "$W" | awk 'NR == 2 { print $4 }')
((have_kb >= need_kb)) || die "$base has $((have_kb / 1024)) MiB free; the bench needs about $((need_kb / 1024)) MiB"

# --- the hotspare binary -------------------------------------------------------
if [[ -n ${HOTSPARE:-} ]]; then
	H=$HOTSPARE
	[[ -x $H ]] || die "HOTSPARE=$H is not an executable"
else
	log "building hotspare (meson, project default build type, no tests)"
	timeout "$STEP_TIMEOUT" meson setup "$W/build" "$REPO" -Dtests=false >"$W/build.log" 2>&1 ||
		{ cat "$W/build.log" >&2; die "meson setup failed"; }
	timeout "$STEP_TIMEOUT" ninja -C "$W/build" >>"$W/build.log" 2>&1 ||
		{ cat "$W/build.log" >&2; die "build failed"; }
	H=$W/build/tools/hotspare
fi

# --- the image generator (deterministic: same seed, same bytes, on any machine) -
cat >"$W/gen.c" <<'EOF_C'
/* bench image generator: deterministic, fast, no dependencies.
 *   gen image FILE SIZE SEED      a disk-like image: random, text and zero (hole) regions
 *   gen change FILE SIZE SEED N   overwrite N clustered regions of SIZE/1000 each with new random data
 * Prints what it made on stdout. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t s[4];
static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static inline uint64_t rnd(void) /* xoshiro256** */
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
	return r;
}
static void seed(uint64_t x)
{
	for (int i = 0; i < 4; i++) { /* splitmix64 */
		uint64_t z = (x += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		s[i] = z ^ (z >> 31);
	}
}
static inline uint32_t below(uint32_t n) { return (uint32_t)(((rnd() >> 32) * n) >> 32); }

#define BLK (4u << 20)
static char *buf;
static int fd;

static void put(uint64_t off, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = pwrite(fd, buf + done, n - done, (off_t)(off + done));
		if (w <= 0) { perror("pwrite"); exit(1); }
		done += (size_t)w;
	}
}

static void fill_random(size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rnd();
		memcpy(buf + i, &v, 8);
	}
}

/* A vocabulary of pseudo-words, picked with a Zipf-like skew, and common
 * phrases: text that zstd -3 compresses about as well as real prose (~3x). */
#define NWORDS 6000
static char words[NWORDS][16];
static unsigned char wlen[NWORDS];
static const char *syl[] = { "al", "an", "ar", "be", "ca", "co", "de", "di", "en", "er", "es", "fa",
	"ge", "ha", "in", "is", "ka", "la", "le", "li", "lo", "ma", "me", "mi", "mo", "na", "ne", "no",
	"on", "or", "pa", "pe", "po", "ra", "re", "ri", "ro", "sa", "se", "si", "so", "st", "ta", "te",
	"ti", "to", "tr", "un", "ur", "va", "ve", "vi", "wa", "we", "ya", "za", "th", "ch", "sh", "qu" };
static void make_words(void)
{
	for (int i = 0; i < NWORDS; i++) {
		int n = 1 + (int)below(i < 200 ? 2 : 4), l = 0;
		for (int k = 0; k < n; k++) {
			const char *y = syl[below(sizeof syl / sizeof *syl)];
			words[i][l++] = y[0];
			words[i][l++] = y[1];
		}
		if (below(3) == 0)
			words[i][l++] = "sntdlrye"[below(8)];
		wlen[i] = (unsigned char)l;
	}
}
#define NPHRASES 1500
static char phrases[NPHRASES][80];
static unsigned char plen[NPHRASES];
static inline int word(void);
static void make_phrases(void)
{
	for (int i = 0; i < NPHRASES; i++) {
		int l = 0;
		for (int k = 2 + (int)below(4); k > 0; k--) {
			int w = word();
			memcpy(phrases[i] + l, words[w], wlen[w]);
			l += wlen[w];
			phrases[i][l++] = ' ';
		}
		plen[i] = (unsigned char)l;
	}
}
static inline int word(void)
{
	double u = (double)(rnd() >> 11) / 9007199254740992.0;
	return (int)(u * u * u * u * u * NWORDS);
}

static const char *hosts[] = { "mail01", "mail01", "files02", "db01", "acct01" };
static const char *procs[] = { "postfix/smtpd", "postfix/qmgr", "dovecot", "sshd", "cron", "kernel",
	"smbd", "mysqld", "systemd", "CRON", "postfix/cleanup", "postfix/local" };
static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
	"Nov", "Dec" };
static uint64_t clock_s = 1700000000;

/* Text regions, like a mail server's disk: logs (~4.5x with zstd -3), mail and
 * documents (~3x), CSV exports (~4x), a little base64 (~1.3x). */
static size_t line(char *p, int style)
{
	char *q = p;
	switch (style) {
	case 0: { /* syslog */
		clock_s += below(3);
		uint64_t t = clock_s % (365 * 86400);
		q += sprintf(q, "%s %2u %02u:%02u:%02u %s %s[%u]: ", mon[(t / 86400) / 31 % 12],
			     (unsigned)(t / 86400) % 28 + 1, (unsigned)(t / 3600) % 24, (unsigned)(t / 60) % 60,
			     (unsigned)t % 60, hosts[0], procs[below(12)], 1000 + below(6) * 317);
		switch (below(4)) {
		case 0:
			{ unsigned h = below(40); q += sprintf(q, "%010llX: client=%s.example.net[203.0.%u.%u]",
				     (unsigned long long)(rnd() & 0xffffffffffull), words[h], h * 5 + 3, h * 11 % 256); }
			break;
		case 1:
			q += sprintf(q, "%010llX: to=<%s.%s@example.com>, relay=local, delay=0.%u, status=sent",
				     (unsigned long long)(rnd() & 0xffffffffffull), words[below(60)], words[below(60)],
				     below(100));
			break;
		case 2:
			{ unsigned h = below(20); q += sprintf(q, "Accepted password for %s from 10.0.%u.%u port %u ssh2", words[h],
				     h % 4, h * 13 % 256, 40000 + below(20000)); }
			break;
		default:
			for (int k = 5 + (int)below(8); k > 0; k--) {
				int w = word();
				memcpy(q, words[w], wlen[w]);
				q += wlen[w];
				*q++ = ' ';
			}
			q--;
		}
		break;
	}
	case 1: { /* prose: mail bodies, documents; common phrases recur as in real text */
		int n = 6 + (int)below(14);
		for (int k = 0; k < n; k++) {
			int w = word();
			if (k > 0 && k < n - 1 && below(3) == 0) {
				double v = (double)(rnd() >> 11) / 9007199254740992.0;
				int f = (int)(v * v * NPHRASES);
				memcpy(q, phrases[f], plen[f]);
				q += plen[f];
			}
			memcpy(q, words[w], wlen[w]);
			if (k == 0)
				*q -= 32;
			q += wlen[w];
			*q++ = k == n - 1 ? '.' : below(12) == 0 ? ',' : ' ';
			if (k < n - 1 && q[-1] == ',')
				*q++ = ' ';
		}
		break;
	}
	case 2: /* CSV export */
		{ static unsigned id = 100000; unsigned c = below(300);
		id++;
		q += sprintf(q, "%u,%s %s,%s,2023-%02u-%02u,%u.%s,%s", id,
			     words[c % 150], words[c / 2], words[c % 20], 1 + (id / 3000) % 12, 1 + (id / 100) % 28,
			     below(2000), below(4) ? "00" : "50", below(8) ? "PAID" : "OPEN"); }
		break;
	default: { /* base64 attachment lines (already compressed content) */
		static const char b64[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		for (int k = 0; k < 76; k++)
			*q++ = b64[below(64)];
	}
	}
	*q++ = '\n';
	return (size_t)(q - p);
}

static void fill_text(size_t n, int mix)
{
	size_t i = 0;
	int style = 0, left = 0;
	char tmp[1024];
	while (i < n) {
		if (left-- <= 0) { /* runs of one kind of line */
			int r = (int)below(100);
			style = r < mix ? 0 : r < 78 ? 1 : r < 98 ? 2 : 3;
			left = 20 + (int)below(200);
		}
		size_t l = line(tmp, style);
		if (l > n - i)
			l = n - i;
		memcpy(buf + i, tmp, l);
		i += l;
	}
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: gen image|change FILE SIZE SEED [N]\n");
		return 2;
	}
	uint64_t size = strtoull(argv[3], NULL, 10);
	seed(strtoull(argv[4], NULL, 10));
	buf = malloc(BLK);
	fd = open(argv[2], O_WRONLY | O_CREAT, 0644);
	if (!buf || fd < 0) {
		perror(argv[2]);
		return 1;
	}
	if (strcmp(argv[1], "image") == 0) {
		if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)size) < 0) {
			perror("ftruncate");
			return 1;
		}
		make_words();
		make_phrases();
		/* Regions of 1 to 16 MiB, 4 KiB aligned like filesystem extents; the kind is
		 * drawn 40:35:25 (random, text, hole), and a kind already ahead of its share
		 * by 0.4% of the image sits out, so every image has close to those shares. */
		static const double want[3] = { 0.40, 0.35, 0.25 };
		uint64_t done[3] = { 0 }, off = 0;
		while (off < size) {
			uint64_t len = ((1ull << 20) + below(15u << 20)) & ~4095ull;
			if (len > size - off)
				len = size - off;
			int kind;
			do {
				unsigned r = below(100);
				kind = r < 40 ? 0 : r < 75 ? 1 : 2;
			} while (off > 0 && (double)done[kind] > want[kind] * (double)(off + len) + 0.004 * (double)size);
			int mix = 20 + (int)below(40); /* share of log lines in this text region */
			for (uint64_t o = 0; o < len; o += BLK) {
				size_t n = len - o < BLK ? (size_t)(len - o) : BLK;
				if (kind == 0) {
					fill_random(n);
					put(off + o, n);
				} else if (kind == 1) {
					fill_text(n, mix);
					put(off + o, n);
				}
			}
			done[kind] += len;
			off += len;
		}
		printf("%.1f %.1f %.1f\n", 100.0 * done[0] / size, 100.0 * done[1] / size,
		       100.0 * done[2] / size);
	} else if (strcmp(argv[1], "change") == 0 && argc == 6) {
		/* N regions of 0.1% of the image each, one at a random 4 KiB-aligned
		 * place in each of N equal stretches: clustered, never overlapping. */
		unsigned n = (unsigned)atoi(argv[5]);
		uint64_t len = (size / 1000) & ~4095ull, stretch = (size / n) & ~4095ull;
		uint64_t total = 0;
		for (unsigned k = 0; k < n; k++) {
			uint64_t room = (stretch - len) / 4096;
			uint64_t off = k * stretch + (rnd() % (room + 1)) * 4096;
			for (uint64_t o = 0; o < len; o += BLK) {
				size_t m = len - o < BLK ? (size_t)(len - o) : BLK;
				fill_random(m);
				put(off + o, m);
			}
			total += len;
		}
		printf("%llu\n", (unsigned long long)total);
	} else {
		fprintf(stderr, "gen: bad arguments\n");
		return 2;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		perror("fsync");
		return 1;
	}
	return 0;
}
EOF_C
timeout "$STEP_TIMEOUT" cc -O2 -o "$W/gen" "$W/gen.c" || die "cannot compile the image generator"

# --- helpers -------------------------------------------------------------------
SIZE=$((SIZE_MB * 1048576))
T=0
# time_it CMD...: run CMD bounded by the step timeout; its wall time (s) goes to T.
time_it() {
	local t0 t1 rc=0
	t0=$(date +%s.%N)
	timeout "$STEP_TIMEOUT" "$@" || rc=$?
	t1=$(date +%s.%N)
	((rc != 124)) || die "timed out after ${STEP_TIMEOUT}s: $*"
	((rc == 0)) || die "failed (exit $rc): $*"
	T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
}
# min A B: the smaller number ("" counts as none).
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }
mbps() { awk -v n="$SIZE" -v t="$1" 'BEGIN { printf "%.1f", n / t / 1e6 }'; }
mib() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f%%", 100 * a / b }'; }
# json_num FILE KEY: the last number given for KEY in FILE.
json_num() { grep -o "\"$2\": *[0-9.]*" "$1" | tail -n 1 | sed 's/.*: *//'; }
to_bytes() {
	local v=${1%[KkMm]*}
	case $1 in
	*[Kk]*) echo $((v * 1024)) ;;
	*[Mm]*) echo $((v * 1048576)) ;;
	*) echo "$v" ;;
	esac
}
human_cs() { awk -v n="$1" 'BEGIN { if (n >= 1048576) printf "%dM", n / 1048576; else printf "%dK", n / 1024 }'; }
hs() { timeout "$STEP_TIMEOUT" "$H" "$@" || die "hotspare $* failed (exit $?)"; }
warm() { cat "$@" >/dev/null; } # the image comes from the page cache, as for zstd and cp

# --- the image -------------------------------------------------------------------
IMG=$W/image.img
CHG=$W/changed.img
log "making a $SIZE_MB MiB image (random, text and zero regions, seed $SEED)"
mix=$(timeout "$STEP_TIMEOUT" "$W/gen" image "$IMG" "$SIZE" "$SEED") || die "cannot make the image"
read -r P_RAND P_TEXT P_ZERO <<<"$mix"
log "making the changed image: $CHANGE_REGIONS regions of 0.1% each, new random data"
timeout "$STEP_TIMEOUT" cp --sparse=always "$IMG" "$CHG" || die "cannot copy the image"
CHANGED=$(timeout "$STEP_TIMEOUT" "$W/gen" change "$CHG" "$SIZE" $((SEED + 1000)) "$CHANGE_REGIONS") ||
	die "cannot change the image"
log "compressing the whole image with zstd -3 (the size reference)"
ZSIZE=$(timeout "$STEP_TIMEOUT" zstd -q -3 -c "$IMG" | wc -c) || die "zstd -3 failed"

# --- one chunk size: snapshot, restore, store size, backup ------------------------
# measure LABEL CHUNK_SIZE_OR_EMPTY REFS: REFS=1 interleaves the reference tools'
# runs with hotspare's (openssl and zstd with snapshot, cp with restore). Run 0 of
# each is an untimed warm-up; runs 1..RUNS are timed and the best counts. Each
# timed restore and cp first removes its own previous output, so both start from
# the same state of the page cache and the filesystem.
declare -A SNAP_T REST_T ST_APP ST_DU NCHUNKS BK_STORED BK_POINTS CS_OF RUNS_OF
declare -A BEST
# keep KEY: a timed run's T counts toward BEST[KEY] and its list of run times.
keep() {
	BEST[$1]=$(min "${BEST[$1]:-}" "$T")
	RUNS_OF[$1]+=" $T"
}
measure() {
	local label=$1 cs=$2 refs=$3 s out=$W/restored.img copy=$W/copy.img r
	for ((r = 0; r <= RUNS; r++)); do
		if ((refs)); then
			warm "$IMG"
			sync
			time_it openssl dgst -sha256 "$IMG" >/dev/null
			((r == 0)) || keep sha
			warm "$IMG"
			sync
			time_it zstd -q -T0 -3 -c "$IMG" >/dev/null
			((r == 0)) || keep zstd
		fi
		s=$W/store-$label-$r # a new store each time, the old ones kept (see above)
		hs init "$s" ${cs:+--chunk-size "$cs"} >/dev/null
		warm "$IMG"
		sync
		time_it "$H" snapshot "$s" bench "$IMG" --json >"$W/snap.json"
		((r == 0)) || keep "snap-$label"
	done
	SNAP_T[$label]=${BEST[snap-$label]}
	CS_OF[$label]=$(json_num "$s/hotspare-store.json" chunk_size)
	NCHUNKS[$label]=$(json_num "$W/snap.json" chunks_new)
	ST_APP[$label]=$(du -s -B1 --apparent-size "$s/chunks" | cut -f1)
	ST_DU[$label]=$(du -s -B1 "$s/chunks" | cut -f1)

	for ((r = 0; r <= RUNS; r++)); do
		rm -f "$out"
		sync
		time_it "$H" restore "$s" bench "$out" --json >/dev/null
		if ((r == 0)); then
			timeout "$STEP_TIMEOUT" cmp -s "$IMG" "$out" ||
				die "restore with chunk size ${CS_OF[$label]} does not match the image"
		else
			keep "rest-$label"
		fi
		if ((refs)); then
			rm -f "$copy"
			warm "$IMG"
			sync
			# shellcheck disable=SC2016 # $1 and $2 are sh's
			time_it sh -c 'cp --sparse=auto "$1" "$2" && sync "$2"' sh "$IMG" "$copy"
			((r == 0)) || keep cp
		fi
	done
	rm -f "$out" "$copy"
	REST_T[$label]=${BEST[rest-$label]}

	warm "$CHG"
	sync
	time_it "$H" backup "$s" bench "$CHG" --json >"$W/backup.json"
	BK_STORED[$label]=$(json_num "$W/backup.json" bytes_stored)
	hs points "$s" bench --json >"$W/points.json"
	BK_POINTS[$label]=$(json_num "$W/points.json" new_bytes)
	# The backup point must restore to the changed image.
	hs restore "$s" bench "$out" >/dev/null
	timeout "$STEP_TIMEOUT" cmp -s "$CHG" "$out" ||
		die "restore of the backup with chunk size ${CS_OF[$label]} does not match the changed image"
	rm -f "$out"
}

log "measuring at the default chunk size, side by side with openssl, zstd and cp"
measure main "" 1
DEF_CS=${CS_OF[main]}
DEF=$(human_cs "$DEF_CS")

SWEEP_LABELS=()
if [[ $SWEEP == 1 ]]; then
	for c in $SWEEP_SIZES; do
		b=$(to_bytes "$c")
		if ((b == DEF_CS)); then
			SWEEP_LABELS+=(main)
			continue
		fi
		log "sweep: chunk size $c"
		measure "cs$b" "$c" 0
		SWEEP_LABELS+=("cs$b")
	done
fi

# --- the table -------------------------------------------------------------------
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = op == ">=" ? v + 0 >= t + 0 : v + 0 < t + 0; print ok ? "PASS" : "MISS" }'; }
row() { printf '%-30s %-14s %-36s %-8s %-8s %s\n' "$@"; }

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $rev != unknown && -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
	rev+="-dirty"
fi
snap_mb=$(mbps "${SNAP_T[main]}")
zstd_mb=$(mbps "${BEST[zstd]}")
sha_mb=$(mbps "${BEST[sha]}")
rest_mb=$(mbps "${REST_T[main]}")
cp_mb=$(mbps "${BEST[cp]}")
r_snap=$(ratio "$snap_mb" "$zstd_mb")
r_rest=$(ratio "$rest_mb" "$cp_mb")
bk_pct=$(awk -v a="${BK_STORED[main]}" -v b="$SIZE" 'BEGIN { printf "%.2f", 100 * a / b }')

echo
echo "hotspare bench: $SIZE_MB MiB image, ${P_RAND}% random, ${P_TEXT}% text, ${P_ZERO}% zero (holes);" \
	"zstd -3 makes it $(ratio "$SIZE" "$ZSIZE")x smaller"
echo "hotspare $rev, default chunk size $DEF; ${cpu:-unknown CPU}, $(nproc) cores; best of $RUNS runs;" \
	"MB = 10^6 bytes; warm page cache"
echo
row figure value reference ratio target result
row "snapshot (fresh store)" "$snap_mb MB/s" "zstd -T0 -3: $zstd_mb MB/s" "$r_snap" ">= 0.90" \
	"$(verdict "$r_snap" ">=" 0.90)"
row "snapshot vs SHA-256" "$snap_mb MB/s" "openssl dgst -sha256: $sha_mb MB/s" \
	"$(ratio "$snap_mb" "$sha_mb")" "-" "info"
row "restore (new file, fsync)" "$rest_mb MB/s" "cp + sync: $cp_mb MB/s" "$r_rest" ">= 0.80" \
	"$(verdict "$r_rest" ">=" 0.80)"
row "store size (apparent)" "$(mib "${ST_APP[main]}") MiB" "zstd -3 of the image: $(mib "$ZSIZE") MiB" \
	"$(ratio "${ST_APP[main]}" "$ZSIZE")" "-" "info"
row "store size (du, disk blocks)" "$(mib "${ST_DU[main]}") MiB" "zstd -3 of the image: $(mib "$ZSIZE") MiB" \
	"$(ratio "${ST_DU[main]}" "$ZSIZE")" "-" "info"
row "backup after a 3% change" "$(mib "${BK_STORED[main]}") MiB" \
	"image $SIZE_MB MiB, $(mib "$CHANGED") MiB changed" "${bk_pct}%" "< 4%" "$(verdict "$bk_pct" "<" 4)"
if [[ ${BK_POINTS[main]} != "${BK_STORED[main]}" ]]; then
	echo "note: points --json says the backup added ${BK_POINTS[main]} bytes, backup --json said ${BK_STORED[main]}"
fi

if ((${#SWEEP_LABELS[@]})); then
	echo
	echo "chunk-size sweep (same image, same change; ratios against the references above; * = default)"
	printf '%-6s %9s %8s %9s %7s %10s %8s %8s %10s %8s\n' chunk "snap MB/s" "vs zstd" "rest MB/s" "vs cp" \
		"store MiB" "vs zstd" chunks "backup MiB" "of image"
	for l in "${SWEEP_LABELS[@]}"; do
		c=$(human_cs "${CS_OF[$l]}")
		[[ $l == main ]] && c+="*"
		s_mb=$(mbps "${SNAP_T[$l]}")
		r_mb=$(mbps "${REST_T[$l]}")
		printf '%-6s %9s %8s %9s %7s %10s %8s %8s %10s %8s\n' "$c" "$s_mb" "$(ratio "$s_mb" "$zstd_mb")" \
			"$r_mb" "$(ratio "$r_mb" "$cp_mb")" "$(mib "${ST_APP[$l]}")" "$(ratio "${ST_APP[$l]}" "$ZSIZE")" \
			"${NCHUNKS[$l]}" "$(mib "${BK_STORED[$l]}")" "$(pct "${BK_STORED[$l]}" "$SIZE")"
	done
fi

echo
echo "timed runs (s; after one untimed warm-up run each):"
printf '  %-22s%s\n' "openssl dgst -sha256" "${RUNS_OF[sha]}" "zstd -T0 -3" "${RUNS_OF[zstd]}" \
	"cp + sync" "${RUNS_OF[cp]}"
labels=(main)
for l in "${SWEEP_LABELS[@]}"; do
	[[ $l == main ]] || labels+=("$l")
done
for l in "${labels[@]}"; do
	c=$(human_cs "${CS_OF[$l]}")
	printf '  %-22s%s\n' "snapshot $c" "${RUNS_OF[snap-$l]}" "restore $c" "${RUNS_OF[rest-$l]}"
done

# The spare's figures (mount, cold reads, cold boot, 1 TiB mount) in the same run.
if [[ ${BENCH_SPARE:-1} == 1 ]]; then
	echo
	HOTSPARE=$H "$REPO/scripts/bench-spare.sh"
fi
# The remote store's figures (hydration over HTTP, cold boot with every chunk remote).
if [[ ${BENCH_REMOTE:-1} == 1 ]]; then
	echo
	HOTSPARE=$H "$REPO/scripts/bench-remote.sh"
fi
# Failback's figures (checkpoint vs full backup, restore-home bytes, downtime).
if [[ ${BENCH_FAILBACK:-1} == 1 ]]; then
	echo
	HOTSPARE=$H "$REPO/scripts/bench-failback.sh"
fi
# Browse's price of safety: userspace drivers vs the host kernel vs a throw-away VM.
if [[ ${BENCH_BROWSE:-1} == 1 ]]; then
	echo
	HOTSPARE=$H "$REPO/scripts/bench-browse.sh"
fi
# Servers of several disks: a two-disk snapshot, a two-disk spare's cold boot.
if [[ ${BENCH_DISKS:-1} == 1 ]]; then
	echo
	HOTSPARE=$H "$REPO/scripts/bench-disks.sh"
fi
# Listing at fleet scale: points reads headers, not digest tables.
if [[ ${BENCH_POINTS:-1} == 1 ]]; then
	echo
	HOTSPARE=$H "$REPO/scripts/bench-points.sh"
fi
# Retention: gc of a million chunks, and what 30 days of keep-daily 7 leave behind.
if [[ ${BENCH_GC:-1} == 1 ]]; then
	echo
	HOTSPARE=$H "$REPO/scripts/bench-gc.sh"
fi
# Live capture: a running guest's daily backup by dirty bitmap, its full snapshot over NBD, its freeze.
if [[ ${BENCH_LIVE:-1} == 1 ]]; then
	echo
	HOTSPARE=$H "$REPO/scripts/bench-live.sh"
fi
# A host of spares: one 1 TiB spare's daemon RSS, then BENCH_MEMORY_SPARES (50) at once.
if [[ ${BENCH_MEMORY:-1} == 1 ]]; then
	echo
	HOTSPARE=$H "$REPO/scripts/bench-memory.sh"
fi
exit 0

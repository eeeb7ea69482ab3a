/* The benchmarks' image generator (hs-bench-gen): deterministic, fast, no dependencies.
 *   gen image FILE SIZE SEED      a disk-like image: random, text and zero (hole) regions
 *   gen change FILE SIZE SEED N   overwrite N clustered regions of SIZE/1000 each with new random data
 * Prints what it made on stdout. (_GNU_SOURCE comes from the build.) */
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

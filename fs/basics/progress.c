/* Progress bar and unit formatting; see progress.h. */
#include "basics/progress.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static double now_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

double hs_progress_seconds(const struct hs_progress *p) { return now_since(&p->start); }

const char *hs_fmt_bytes(uint64_t n, char out[16])
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, 16, "%llu B", (unsigned long long)n);
	else
		snprintf(out, 16, "%.1f %s", v, unit[u]);
	return out;
}

static void draw(struct hs_progress *p)
{
	uint64_t done = atomic_load(&p->done);
	double secs = now_since(&p->start);
	double rate = secs > 0 ? (double)done / secs : 0;
	double frac = p->total ? (double)done / (double)p->total : 1;
	if (frac > 1)
		frac = 1;
	char bar[31], a[16], b[16], r[16], eta[32] = "--:--";
	int fill = (int)(frac * 30);
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = 0;
	if (rate > 0 && done < p->total) {
		unsigned long left = (unsigned long)((double)(p->total - done) / rate);
		snprintf(eta, sizeof eta, "%lu:%02lu", left / 60, left % 60);
	}
	fprintf(stderr, "\r%-9s [%s] %3d%% %s / %s  %s/s  ETA %s\033[K", p->label, bar,
		(int)(frac * 100), hs_fmt_bytes(done, a), hs_fmt_bytes(p->total, b),
		hs_fmt_bytes((uint64_t)rate, r), eta);
	fflush(stderr);
}

static void *drawer(void *arg)
{
	struct hs_progress *p = arg;
	while (!atomic_load(&p->stop)) {
		draw(p);
		for (int i = 0; i < 4 && !atomic_load(&p->stop); i++)
			usleep(50000);
	}
	return NULL;
}

void hs_progress_start(struct hs_progress *p, const char *label, uint64_t total, int force_tty)
{
	p->label = label;
	p->total = total;
	atomic_store(&p->done, 0);
	atomic_store(&p->stop, 0);
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->tty = force_tty || isatty(STDERR_FILENO);
	if (p->tty && pthread_create(&p->th, NULL, drawer, p) != 0)
		p->tty = 0;
}

void hs_progress_end(struct hs_progress *p)
{
	if (!p->tty)
		return;
	atomic_store(&p->stop, 1);
	pthread_join(p->th, NULL);
	fprintf(stderr, "\r\033[K");
	fflush(stderr);
	p->tty = 0;
}

int hs_parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9') /* strtoull would skip blanks and accept signs */
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -EINVAL;
	unsigned shift = 0;
	if (*end) {
		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		case 't': case 'T': shift = 40; break;
		default: return -EINVAL;
		}
		end++;
		if (strcasecmp(end, "") != 0 && strcasecmp(end, "iB") != 0 && strcasecmp(end, "B") != 0)
			return -EINVAL;
	}
	if (shift && v > (~0ull >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

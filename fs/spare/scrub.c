/* Scrubbing a spare's state; see scrub.h. */
#include "spare/scrub.h"
#include "basics/cleanup.h"
#include "basics/clock.h"
#include "basics/err.h"
#include "basics/progress.h"
#include "basics/workers.h"
#include "spare/set.h"
#include "store/store.h"
#include <dirent.h>
#include "store/sources.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job {
	struct hs_spare *sp;
	/* Bit i: chunk i is to be checked (a bit, not a list of positions: a
	 * scrub after an unclean stop checks every chunk a TiB state holds). */
	uint64_t *todo;
	atomic_int *stop;
	struct hs_progress *progress;
	atomic_uint_fast64_t bytes;
};

/* Check (and if need be fetch again) chunk i if it is to be checked: a fetch of a
 * suspect chunk checks it first (spare.c). A failure is counted afterwards
 * from what is still suspect, not an error of the scrub. */
static int check_item(void *arg, uint64_t i, void *plain, struct hs_buf *z)
{
	(void)plain;
	(void)z;
	struct job *j = arg;
	if (j->stop && atomic_load(j->stop))
		return -ECANCELED;
	if (!((j->todo[i / 64] >> (i % 64)) & 1))
		return 0;
	uint32_t len = hs_index_chunk_len(j->sp->ix, i);
	hs_err_clear();
	hs_spare_ensure_chunk(j->sp, i, HS_FETCH_SCRUB);
	atomic_fetch_add(&j->bytes, len);
	if (j->progress)
		hs_progress_add(j->progress, len);
	return 0;
}

int hs_scrub(struct hs_spare *sp, bool all, unsigned threads, atomic_int *stop, struct hs_progress *progress,
	     struct hs_scrub_stats *st)
{
	memset(st, 0, sizeof *st);
	double t0 = hs_now_s();
	struct job j = { .sp = sp, .stop = stop, .progress = progress };
	uint64_t n = sp->ix->nchunks, ntodo = 0, total = 0;
	j.todo = calloc((n + 63) / 64 ? (n + 63) / 64 : 1, sizeof *j.todo);
	if (!j.todo)
		return -ENOMEM;
	uint64_t bad0 = atomic_load(&sp->nbad), repaired0 = atomic_load(&sp->nrepaired);
	for (uint64_t i = 0; i < n; i++) {
		uint8_t s = hs_state_get(sp->state, i);
		if (s == HS_WRITTEN) {
			st->chunks_written++;
			continue;
		}
		/* Suspect from now on (or still, after an unclean stop): checked
		 * before anyone reads it. Absent chunks are checked when fetched. */
		if ((all && hs_spare_suspect(sp, i)) || __atomic_load_n(&sp->suspect[i], __ATOMIC_ACQUIRE)) {
			j.todo[i / 64] |= 1ull << (i % 64);
			ntodo++;
			total += hs_index_chunk_len(sp->ix, i);
		} else if (s == HS_ABSENT && !hs_table_zero(sp->table, i)) {
			st->chunks_absent++;
		}
	}
	if (progress)
		hs_progress_start(progress, "scrub", total, 0);
	int r = hs_parallel_each(threads ? threads : hs_ncpu(), ntodo ? n : 0, 0, check_item, &j);
	if (progress)
		hs_progress_end(progress);
	for (uint64_t i = 0; ntodo && i < n; i++)
		if ((j.todo[i / 64] >> (i % 64)) & 1)
			st->chunks_failed += __atomic_load_n(&sp->suspect[i], __ATOMIC_ACQUIRE) != 0;
	free(j.todo);
	/* The repaired bytes become durable with the map's next flush anyway;
	 * flushing now makes the result hold once scrub returns. */
	int fr = hs_spare_flush(sp);
	st->chunks_checked = ntodo;
	st->bytes_checked = j.bytes;
	st->chunks_bad = atomic_load(&sp->nbad) - bad0;
	st->chunks_repaired = atomic_load(&sp->nrepaired) - repaired0;
	/* A reader may have found a chunk bad just before the scrub began and
	 * replaced it during it: count it as found too. */
	if (st->chunks_bad < st->chunks_repaired)
		st->chunks_bad = st->chunks_repaired;
	st->seconds = hs_now_s() - t0;
	if (r < 0)
		return r;
	return fr;
}

void hs_scrub_summary(const struct hs_scrub_stats *st, char *out, size_t cap)
{
	char a[16];
	snprintf(out, cap,
		 "checked %llu chunks (%s): %llu did not match the point, %llu of them replaced%s; "
		 "%llu failed (reads of them fail); %llu written by the guest (cannot be checked); "
		 "%llu not fetched yet; %.1f s",
		 (unsigned long long)st->chunks_checked, hs_fmt_bytes(st->bytes_checked, a),
		 (unsigned long long)st->chunks_bad, (unsigned long long)st->chunks_repaired,
		 st->chunks_repaired ? " from the seeds or the store" : "",
		 (unsigned long long)st->chunks_failed, (unsigned long long)st->chunks_written,
		 (unsigned long long)st->chunks_absent, st->seconds);
}

static void stats_add(struct hs_scrub_stats *t, const struct hs_scrub_stats *d)
{
	t->chunks_checked += d->chunks_checked;
	t->bytes_checked += d->bytes_checked;
	t->chunks_bad += d->chunks_bad;
	t->chunks_repaired += d->chunks_repaired;
	t->chunks_failed += d->chunks_failed;
	t->chunks_written += d->chunks_written;
	t->chunks_absent += d->chunks_absent;
}

int hs_scrub_set(struct hs_spare_set *set, bool all, unsigned threads, atomic_int *stop,
		 struct hs_progress *progress, struct hs_scrub_stats *st)
{
	memset(st, 0, sizeof *st);
	double t0 = hs_now_s();
	int r = 0;
	for (unsigned k = 0; r == 0 && k < set->n; k++) {
		struct hs_scrub_stats d;
		r = hs_scrub(set->disk[k], all, threads, stop, progress, &d);
		stats_add(st, &d);
	}
	st->seconds = hs_now_s() - t0;
	return r;
}

/* The server and point a state directory holds: its own record (a point of
 * one disk), else the first of its disks' directories (STATE/disks/DISK). */
static int describe(const char *dir, struct hs_state_desc *desc)
{
	int r = hs_state_describe(dir, desc);
	if (r != -ENOENT)
		return r;
	char disks[4200];
	snprintf(disks, sizeof disks, "%s/disks", dir);
	DIR *d = opendir(disks);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char sub[4200 + 256];
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof sub, "%s/%s", disks, e->d_name);
		hs_err_clear();
		if (hs_state_describe(sub, desc) == 0) {
			closedir(d);
			return 0;
		}
	}
	if (d)
		closedir(d);
	hs_err_clear();
	return hs_err(ENOENT, "%s holds no hotspare state (no readable state.json)", dir);
}

int hs_scrub_state(const char *dir, const char *store, char **seeds, size_t nseeds,
		   struct hs_progress *progress, struct hs_scrub_stats *st)
{
	memset(st, 0, sizeof *st);
	struct hs_state_desc desc;
	int r = describe(dir, &desc);
	if (r < 0)
		return r;
	struct hs_store *s = NULL;
	struct hs_sources src = { 0 };
	struct hs_spare_set *set = NULL;
	_cleanup_free_ struct hs_point *p = malloc(sizeof *p);
	r = p ? hs_store_open(store ? store : desc.store, &s) : -ENOMEM;
	if (r == 0)
		r = hs_store_point_head(s, desc.server, desc.point, p);
	if (r == 0) {
		r = hs_sources_open(s, seeds, nseeds, &src);
		s = NULL;
	}
	if (r == 0) {
		r = hs_spare_set_open(&src, p, dir, src.v[src.n - 1]->be->where, true, &set);
		memset(&src, 0, sizeof src);
	}
	if (r == -EBUSY) {
		char why[512];
		snprintf(why, sizeof why, "%s", hs_err_msg() ? hs_err_msg() : "the state is in use");
		r = hs_err(EBUSY, "%s (scrub it through its mountpoint: 'hotspare scrub MOUNTPOINT')", why);
	}
	if (r == 0) {
		for (unsigned k = 0; k < set->n; k++)
			set->disk[k]->quiet = true; /* the command prints the summary */
		r = hs_scrub_set(set, true, 0, NULL, progress, st);
	}
	int cr = hs_spare_set_close(set);
	if (r == 0 && cr < 0)
		r = cr;
	hs_sources_close(&src);
	hs_store_close(s);
	free(desc.store);
	return r;
}

struct hs_scrub_bg {
	struct hs_spare *sp;
	atomic_int stop;
	pthread_t th;
};

static void *bg_main(void *arg)
{
	struct hs_scrub_bg *b = arg;
	struct hs_scrub_stats st;
	char line[512];
	int r = hs_scrub(b->sp, false, 1, &b->stop, NULL, &st);
	hs_scrub_summary(&st, line, sizeof line);
	if (r == -ECANCELED)
		hs_note("scrub stopped at unmount: %s", line);
	else if (r < 0)
		hs_note("scrub failed: %s", hs_err_msg() ? hs_err_msg() : strerror(-r));
	else
		hs_note("scrub after an unclean stop: %s", line);
	return NULL;
}

int hs_scrub_start(struct hs_spare *sp, struct hs_scrub_bg **out)
{
	struct hs_scrub_bg *b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	b->sp = sp;
	if (pthread_create(&b->th, NULL, bg_main, b) != 0) {
		free(b);
		return -EAGAIN;
	}
	*out = b;
	return 0;
}

void hs_scrub_stop(struct hs_scrub_bg *b)
{
	if (!b)
		return;
	atomic_store(&b->stop, 1);
	pthread_join(b->th, NULL);
	free(b);
}

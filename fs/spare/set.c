/* The spare of a whole point; see set.h. */
#include "spare/set.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "spare/hydrate.h"
#include "spare/readahead.h"
#include "spare/trace.h"
#include "store/store.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void hs_spare_set_disk_dir(const char *state, unsigned ndisks, const char *name, char *out, size_t cap)
{
	if (ndisks == 1)
		snprintf(out, cap, "%s", state);
	else /* under disks/: a disk may be called like a daemon's file (daemon.log, lock) */
		snprintf(out, cap, "%s/disks/%s", state, name);
}

/* A state directory for several disks holds only their directories (and the
 * daemon's files): not a state of one disk. */
static int check_top(const char *state, const struct hs_point *p)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/disks", state);
	/* Each disk's directory is checked as it opens; these hold them, and
	 * each is checked before anything is made in it. */
	const char *dirs[] = { state, path };
	for (size_t k = 0; k < 2; k++) {
		bool made = mkdir(dirs[k], 0700) == 0;
		if (!made && errno != EEXIST)
			return hs_err(errno, "cannot create state directory %s: %s", dirs[k], strerror(errno));
		_cleanup_close_ int fd = open(dirs[k], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int r = fd < 0 ? hs_err(errno, "cannot open state directory %s: %s", dirs[k], strerror(errno))
			       : hs_state_dir_check(fd, dirs[k]);
		if (r < 0 && made)
			rmdir(dirs[k]); /* a refusal leaves nothing behind */
		if (r < 0)
			return r;
	}
	snprintf(path, sizeof path, "%s/state.json", state);
	if (access(path, F_OK) == 0)
		return hs_err(EINVAL, "state %s holds a point of one disk, not %s@%s of %u disks", state, p->server,
			      p->id, p->ndisks);
	return 0;
}

int hs_spare_set_open(struct hs_sources *src, const struct hs_point *p, const char *state_dir,
		      const char *where, bool repair, struct hs_spare_set **out)
{
	struct hs_spare_set *s = calloc(1, sizeof *s);
	if (!s || !(s->state_dir = strdup(state_dir))) {
		free(s);
		hs_sources_close(src);
		return -ENOMEM;
	}
	s->src = *src;
	snprintf(s->server, sizeof s->server, "%s", p->server);
	snprintf(s->id, sizeof s->id, "%s", p->id);
	int r = p->ndisks > 1 ? check_top(state_dir, p) : 0;
	char sub[4200];
	snprintf(sub, sizeof sub, "%s/disks", state_dir);
	if (r == 0 && p->ndisks == 1 && access(sub, F_OK) == 0)
		r = hs_err(EINVAL, "state %s holds the disks of a point of several disks, not %s@%s", state_dir,
			   p->server, p->id);
	struct hs_store *st = s->src.v[s->src.n - 1];
	for (unsigned k = 0; r == 0 && k < p->ndisks; k++) {
		struct hs_index *ix = NULL;
		struct hs_state *state = NULL;
		struct hs_table *table = NULL;
		char dir[4200];
		hs_spare_set_disk_dir(state_dir, p->ndisks, p->disks[k].name, dir, sizeof dir);
		/* The state first (a refused one is left as it was), then the
		 * digests: its table, read from the store only when the state
		 * does not hold it yet. */
		r = hs_table_head_index(p, k, &ix);
		if (r == 0)
			r = repair ? hs_state_open_repair(dir, ix, where, &state) : hs_state_open(dir, ix, where, &state);
		if (r == 0 && (r = hs_table_load(state->dirfd, state->dir, st, p, k, &table)) < 0)
			hs_state_close(state);
		if (r == 0)
			r = hs_spare_open_shared(ix, table, &s->src, state, &s->disk[k]);
		else
			hs_index_free(ix);
		if (r < 0)
			break;
		s->disk[k]->demand = &s->demand;
		if (p->ndisks == 1)
			snprintf(s->image[k], sizeof s->image[k], "%s.img", p->server);
		else
			snprintf(s->image[k], sizeof s->image[k], "%s-%s.img", p->server, p->disks[k].name);
		s->n = k + 1;
	}
	if (r < 0) {
		hs_spare_set_close(s);
		return r;
	}
	*out = s;
	return 0;
}

void hs_spare_set_stop(struct hs_spare_set *s)
{
	for (unsigned k = 0; k < s->n; k++) {
		struct hs_spare *sp = s->disk[k];
		if (sp->ra) {
			sp->ra->stop(sp->ra);
			sp->ra = NULL;
		}
		if (sp->hyd) {
			sp->hyd->stop(sp->hyd);
			sp->hyd = NULL;
		}
	}
}

int hs_spare_set_close(struct hs_spare_set *s)
{
	if (!s)
		return 0;
	hs_spare_set_stop(s);
	int r = 0;
	for (unsigned k = 0; k < s->n; k++) {
		int e = hs_spare_close(s->disk[k]);
		if (r == 0)
			r = e;
	}
	hs_sources_close(&s->src);
	free(s->state_dir);
	free(s);
	return r;
}

int hs_spare_set_flush(struct hs_spare_set *s)
{
	int r = 0;
	for (unsigned k = 0; k < s->n; k++) {
		int e = hs_spare_flush(s->disk[k]);
		if (r == 0)
			r = e;
	}
	return r;
}

void hs_spare_set_deadline(struct hs_spare_set *s, int ms)
{
	for (unsigned k = 0; k < s->n; k++)
		s->disk[k]->demand_deadline_ms = ms;
}

/* The chunks of disk k to hydrate first: its boot trace, if there is one. */
static void load_trace(struct hs_spare_set *s, unsigned k, const char *path, uint64_t **v, size_t *n)
{
	struct hs_spare *sp = s->disk[k];
	char def[4096];
	if (!path) {
		hs_trace_path_disk(sp->ix->server, s->n > 1 ? sp->ix->disk : NULL, def, sizeof def);
		path = def;
	}
	*v = NULL;
	*n = 0;
	int r = hs_trace_load(path, sp->ix, v, n);
	if (r == 0)
		hs_note("hydrating the %zu chunks of boot trace %s first", *n, path);
	else if (r != -ENOENT)
		hs_note("ignoring boot trace: %s", hs_err_msg() ? hs_err_msg() : strerror(-r));
}

void hs_spare_set_start(struct hs_spare_set *s, unsigned threads, uint64_t readahead_bytes, const char *trace)
{
	for (unsigned k = 0; k < s->n; k++) {
		struct hs_spare *sp = s->disk[k];
		if (readahead_bytes && hs_readahead_start(sp, HS_READAHEAD_THREADS, readahead_bytes, &sp->ra) < 0) {
			hs_note("no read-ahead on %s: cannot start its threads", sp->ix->disk);
			sp->ra = NULL;
		}
		if (threads) {
			uint64_t *first;
			size_t nfirst;
			load_trace(s, k, s->n == 1 ? trace : NULL, &first, &nfirst);
			if (hs_hydrate_start(sp, threads, first, nfirst, &sp->hyd) < 0)
				sp->hyd = NULL;
			free(first);
		}
	}
}

void hs_spare_set_status(struct hs_spare_set *s, struct hs_spare_status *t)
{
	memset(t, 0, sizeof *t);
	t->hydrated = true;
	for (unsigned k = 0; k < s->n; k++) {
		struct hs_spare_status d;
		hs_spare_status(s->disk[k], &d);
		t->size += d.size;
		t->chunk_size = d.chunk_size;
		t->chunks_total += d.chunks_total;
		t->chunks_present += d.chunks_present;
		t->chunks_written += d.chunks_written;
		t->bytes_from_seed += d.bytes_from_seed;
		t->bytes_from_store += d.bytes_from_store;
		t->bytes_read_ahead += d.bytes_read_ahead;
		t->errors += d.errors;
		t->chunks_unchecked += d.chunks_unchecked;
		t->chunks_repaired += d.chunks_repaired;
		t->hydrate_bytes_per_s += d.hydrate_bytes_per_s;
		t->hydrated &= d.hydrated;
		if (d.last_error[0])
			snprintf(t->last_error, sizeof t->last_error, "%s", d.last_error);
	}
}

struct hs_spare *hs_spare_set_find(struct hs_spare_set *s, const char *name)
{
	for (unsigned k = 0; k < s->n; k++)
		if (strcmp(s->disk[k]->ix->disk, name) == 0)
			return s->disk[k];
	return NULL;
}

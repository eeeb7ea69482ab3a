/* A store's chunks as a sorted table; see chunklist.h. */
#include "store/chunklist.h"
#include "basics/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct listing {
	struct hs_chunk_table *t;
	const char *ext;   /* ".zst" or ".enc" */
	const char *fan;   /* the fan-out directory listed ("ab") */
	uint8_t flag, old_flag;
	int64_t old_before;
};

static int add_chunk(void *arg, const char *name, uint64_t size, int64_t mtime)
{
	struct listing *l = arg;
	struct hs_digest d;
	char hex[HS_DIGEST_HEX];
	if (strlen(name) != 2 * HS_DIGEST_LEN + 4 || strcmp(name + 2 * HS_DIGEST_LEN, l->ext) != 0 ||
	    strncmp(name, l->fan, 2) != 0)
		return 0;
	snprintf(hex, sizeof hex, "%.*s", 2 * HS_DIGEST_LEN, name);
	if (hs_digest_parse(hex, &d) < 0)
		return 0;
	struct hs_chunk_table *t = l->t;
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 4096;
		struct hs_chunk_ent *nv = realloc(t->v, nc * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		t->v = nv;
		t->cap = nc;
	}
	uint8_t flags = l->flag;
	if (mtime < l->old_before)
		flags |= l->old_flag;
	t->v[t->n++] = (struct hs_chunk_ent){ d, size > UINT32_MAX ? UINT32_MAX : (uint32_t)size, flags };
	return 0;
}

struct fanouts {
	char v[256][3];
	size_t n;
};

static int add_fanout(void *arg, const char *name)
{
	struct fanouts *f = arg;
	static const char hexd[] = "0123456789abcdef";
	if (strlen(name) == 2 && strchr(hexd, name[0]) && strchr(hexd, name[1]) && f->n < 256)
		snprintf(f->v[f->n++], 3, "%s", name);
	return 0;
}

int hs_chunk_table_list(struct hs_chunk_table *t, struct hs_store *st, const char *base, uint8_t flag,
			uint8_t old_flag, int64_t old_before)
{
	struct hs_backend *be = st->be;
	if (!be->ops->list_sized)
		return hs_err(ENOTSUP, "%s cannot list its objects (a web server): run this on the directory it serves",
			      be->where);
	struct fanouts *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	int r = be->ops->list(be, base, add_fanout, f);
	if (r == -ENOENT)
		r = 0;
	for (size_t i = 0; r == 0 && i < f->n; i++) {
		char dir[64];
		snprintf(dir, sizeof dir, "%s/%s", base, f->v[i]);
		struct listing l = { t, st->encrypted ? ".enc" : ".zst", f->v[i], flag, old_flag, old_before };
		r = be->ops->list_sized(be, dir, add_chunk, &l);
		if (r == -ENOENT)
			r = 0;
	}
	free(f);
	return r;
}

static int cmp_ent(const void *a, const void *b)
{
	return memcmp(((const struct hs_chunk_ent *)a)->d.b, ((const struct hs_chunk_ent *)b)->d.b, HS_DIGEST_LEN);
}

static uint32_t top32(const struct hs_digest *d)
{
	return (uint32_t)d->b[0] << 24 | (uint32_t)d->b[1] << 16 | (uint32_t)d->b[2] << 8 | d->b[3];
}

/* Sort in place: one American-flag pass on the first byte (a cycle of swaps
 * puts every entry in its bucket), then each bucket by qsort, whose scratch
 * copy is then a 256th of the table, not all of it (glibc's merge sort
 * allocates as much again as it sorts). */
static void sort_entries(struct hs_chunk_ent *v, size_t n)
{
	size_t count[256] = { 0 }, start[257], next[256];
	for (size_t i = 0; i < n; i++)
		count[v[i].d.b[0]]++;
	start[0] = 0;
	for (int b = 0; b < 256; b++)
		start[b + 1] = start[b] + count[b];
	memcpy(next, start, sizeof next);
	for (int b = 0; b < 256; b++) {
		while (next[b] < start[b + 1]) {
			struct hs_chunk_ent e = v[next[b]];
			int home = e.d.b[0];
			if (home == b) {
				next[b]++;
				continue;
			}
			/* Swap e to its bucket's next free place; what was there comes here. */
			struct hs_chunk_ent t = v[next[home]];
			v[next[home]++] = e;
			v[next[b]] = t;
		}
	}
	for (int b = 0; b < 256; b++)
		if (count[b] > 1)
			qsort(v + start[b], count[b], sizeof *v, cmp_ent);
}

int hs_chunk_table_index(struct hs_chunk_table *t, uint8_t prefer_flag)
{
	sort_entries(t->v, t->n);
	size_t m = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (m && !memcmp(t->v[m - 1].d.b, t->v[i].d.b, HS_DIGEST_LEN)) {
			t->v[m - 1].flags |= t->v[i].flags;
			if (t->v[i].flags & prefer_flag)
				t->v[m - 1].size = t->v[i].size;
			continue;
		}
		t->v[m++] = t->v[i];
	}
	t->n = m;
	/* About four chunks a bucket. */
	unsigned bits = 0;
	while (bits < 30 && ((size_t)1 << bits) * 4 < m)
		bits++;
	t->shift = 32 - bits;
	size_t nb = (size_t)1 << bits;
	free(t->idx);
	t->idx = malloc((nb + 1) * sizeof *t->idx);
	if (!t->idx)
		return -ENOMEM;
	size_t i = 0;
	for (size_t b = 0; b <= nb; b++) {
		while (i < m && (bits ? top32(&t->v[i].d) >> t->shift : 0) < b)
			i++;
		t->idx[b] = (uint32_t)i;
	}
	return 0;
}

struct hs_chunk_ent *hs_chunk_table_find(const struct hs_chunk_table *t, const struct hs_digest *d)
{
	if (!t->n || !t->idx)
		return NULL;
	size_t b = t->shift < 32 ? top32(d) >> t->shift : 0;
	for (uint32_t i = t->idx[b]; i < t->idx[b + 1]; i++) {
		int c = memcmp(t->v[i].d.b, d->b, HS_DIGEST_LEN);
		if (c == 0)
			return &t->v[i];
		if (c > 0)
			break;
	}
	return NULL;
}

void hs_chunk_table_free(struct hs_chunk_table *t)
{
	free(t->v);
	free(t->idx);
	memset(t, 0, sizeof *t);
}

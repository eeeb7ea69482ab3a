/* Unit tests for jobs/prune.h: thirty daily points of two servers, each with
 * two drives (shipped snapshots), written by hand with chosen times (the
 * test's clock); each rule set keeps what a table computed by hand says;
 * dry runs change nothing; leases keep points until they expire. */
#include "fixture.h"
#include "jobs/prune.h"
#include "store/lease.h"
#include <time.h>

/* UTC seconds of year-month-day hour:00:00. */
static int64_t at(int y, int m, int d, int h)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = h };
	return (int64_t)timegm(&tm);
}

/* Write a point of server at t: a snapshot (shipped to a drive when shipped)
 * or a backup on base. Its digests are its own (random). */
static void put_point(struct hs_store *st, const char *server, int64_t t, uint32_t kind, const char *base,
		      bool shipped, char id[HS_POINT_ID_LEN + 1])
{
	struct hs_index *ix;
	assert_int_equal(hs_index_new(4 * CS, CS, &ix), 0);
	snprintf(ix->server, sizeof ix->server, "%s", server);
	hs_point_id_format((time_t)t, ix->id);
	ix->kind = kind;
	ix->time = t;
	snprintf(ix->base, sizeof ix->base, "%s", base ? base : "");
	ix->ship_bytes = shipped ? 4 * CS : 0;
	ix->new_bytes = shipped ? 0 : CS;
	for (uint64_t i = 0; i < ix->nchunks; i++)
		ut_fill(&ix->digests[i], HS_DIGEST_LEN, (uint64_t)t * 16 + i + 1);
	assert_int_equal(hs_store_point_put1(st, ix), 0);
	if (id)
		memcpy(id, ix->id, HS_POINT_ID_LEN + 1);
	hs_index_free(ix);
}

/* alpha: January 1-30 2026 at 02:00, and a second point on the 30th at
 * 14:00; shipped snapshots on the 1st (drive A1) and the 16th (A2), backups
 * on the latest. beta: December 17 2025 to January 15 2026 at 03:00 (a month
 * and a year boundary); snapshots on December 17 (B1) and January 6 (B2). */
static struct hs_store *make_store(struct fx *f)
{
	assert_int_equal(hs_store_init(f->store, CS), 0);
	struct hs_store *st;
	assert_int_equal(hs_store_open(f->store, &st), 0);
	char base[HS_POINT_ID_LEN + 1] = "";
	for (int d = 1; d <= 30; d++) {
		bool snap = d == 1 || d == 16;
		char id[HS_POINT_ID_LEN + 1];
		put_point(st, "alpha", at(2026, 1, d, 2), snap ? HS_KIND_SNAPSHOT : HS_KIND_BACKUP, snap ? NULL : base,
			  snap, id);
		if (snap)
			memcpy(base, id, sizeof base);
	}
	put_point(st, "alpha", at(2026, 1, 30, 14), HS_KIND_BACKUP, base, false, NULL);
	for (int k = 0; k < 30; k++) {
		int64_t t = at(2025, 12, 17, 3) + (int64_t)k * 86400;
		bool snap = k == 0 || k == 20;
		char id[HS_POINT_ID_LEN + 1];
		put_point(st, "beta", t, snap ? HS_KIND_SNAPSHOT : HS_KIND_BACKUP, snap ? NULL : base, snap, id);
		if (snap)
			memcpy(base, id, sizeof base);
	}
	return st;
}

/* "MMDD" of a point's time, "b" added for the afternoon one. */
static void label(int64_t t, char out[8])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 8, tm.tm_hour >= 12 ? "%m%db" : "%m%d", &tm);
}

/* What a prune kept of server, and the drives it freed:
 * "0116 0129 0130 0130b | 0101". */
static void kept(const struct hs_prune_result *res, const char *server, char *out, size_t cap)
{
	out[0] = 0;
	for (size_t i = 0; i < res->nservers; i++) {
		const struct hs_prune_server *s = &res->servers[i];
		if (strcmp(s->name, server))
			continue;
		for (size_t k = 0; k < s->npoints; k++) {
			char l[8];
			if (!s->points[k].reasons)
				continue;
			label(s->points[k].time, l);
			snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? " " : "", l);
		}
		snprintf(out + strlen(out), cap - strlen(out), " |");
		for (size_t k = 0; k < s->ndrives_freed; k++) {
			time_t t;
			char l[8];
			assert_int_equal(hs_point_id_parse(s->drives_freed[k], &t), 0);
			label((int64_t)t, l);
			snprintf(out + strlen(out), cap - strlen(out), " %s", l);
		}
	}
}

/* A digest of every name and every file's content under dir. */
static struct hs_buf *tree;
static int tree_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	(void)flag;
	assert_int_equal(hs_buf_append(tree, path, strlen(path) + 1), 0);
	if (S_ISREG(st->st_mode)) {
		size_t n;
		unsigned char *data = ut_read_file(path, &n);
		struct hs_digest d;
		hs_digest_compute(data ? (const void *)data : "", data ? n : 0, &d);
		assert_int_equal(hs_buf_append(tree, d.b, sizeof d.b), 0);
		free(data);
	}
	return 0;
}

static void tree_sum(const char *dir, struct hs_digest *d)
{
	struct hs_buf b = { 0 };
	tree = &b;
	assert_int_equal(nftw(dir, tree_add, 16, FTW_PHYS), 0);
	hs_digest_compute(b.data, b.len, d);
	hs_buf_free(&b);
}

struct rules_case {
	struct hs_prune_rules rules;
	const char *alpha, *beta;
};

/* The table, computed by hand (prune.c says how the rules count). */
static const struct rules_case cases[] = {
	/* The newest three, and the newest snapshot. */
	{ { .last = 3 }, "0116 0129 0130 0130b | 0101", "0106 0113 0114 0115 | 1217" },
	/* One a day for seven days: the 30th's morning point goes. */
	{ { .daily = 7 }, "0116 0124 0125 0126 0127 0128 0129 0130b | 0101",
	  "0106 0109 0110 0111 0112 0113 0114 0115 | 1217" },
	/* Three days, then two more ISO weeks than the days' week (a Sunday
	 * each); beta's 4 January backup needs drive B1 still. */
	{ { .daily = 3, .weekly = 2 }, "0116 0118 0125 0128 0129 0130b | 0101", "0104 0106 0111 0113 0114 0115 |" },
	/* Every ISO week (five of them; Jan 1-4 2026 is week 1 of 2026), the
	 * months are all kept already. */
	{ { .weekly = 10, .monthly = 2 }, "0104 0111 0116 0118 0125 0130b |", "1221 1228 0104 0106 0111 0115 |" },
	/* Weeks, then months: ISO week 1 of 2026 keeps January 4, and December
	 * 29-31 in that week go with it, so December is kept by its newest
	 * point the weeks did not decide: the 28th. */
	{ { .weekly = 3, .monthly = 2 }, "0116 0118 0125 0130b | 0101", "1228 0104 0106 0111 0115 |" },
	/* A month, then a year: beta keeps December 31 for 2025. */
	{ { .monthly = 1, .yearly = 1 }, "0116 0130b | 0101", "1231 0106 0115 |" },
};

static void test_rules_table(void **state)
{
	struct fx *f = *state;
	struct hs_store *st = make_store(f);
	struct hs_digest before, after;
	tree_sum(f->store, &before);
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		struct hs_prune_opts o = { .store = st, .rules = cases[c].rules, .dry_run = true };
		struct hs_prune_result res;
		assert_int_equal(hs_prune(&o, &res), 0);
		char got[512];
		kept(&res, "alpha", got, sizeof got);
		if (strcmp(got, cases[c].alpha))
			fail_msg("rule set %zu, alpha: kept '%s', the table says '%s'", c, got, cases[c].alpha);
		kept(&res, "beta", got, sizeof got);
		if (strcmp(got, cases[c].beta))
			fail_msg("rule set %zu, beta: kept '%s', the table says '%s'", c, got, cases[c].beta);
		assert_int_equal(res.removed + res.kept, 61);
		hs_prune_free(&res);
	}
	/* Dry runs changed nothing, not even a lock file. */
	tree_sum(f->store, &after);
	assert_memory_equal(before.b, after.b, sizeof before.b);
	hs_store_close(st);
}

/* A real run does what the dry run said: the points that go are listed no
 * more (the manifest too) and wait in the trash, still readable. */
static void test_prune_removes(void **state)
{
	struct fx *f = *state;
	struct hs_store *st = make_store(f);
	struct hs_prune_opts o = { .store = st, .rules = cases[1].rules };
	struct hs_prune_result res;
	char *servers[] = { "alpha" };
	o.servers = servers;
	o.nservers = 1;
	assert_int_equal(hs_prune(&o, &res), 0);
	char got[512];
	kept(&res, "alpha", got, sizeof got);
	assert_string_equal(got, cases[1].alpha);
	assert_int_equal(res.nservers, 1);
	assert_int_equal(res.removed, 31 - 8);
	char **ids;
	size_t n;
	assert_int_equal(hs_store_points_list(st, "alpha", &ids, &n), 0);
	assert_int_equal(n, 8);
	hs_strv_free(ids);
	assert_int_equal(hs_store_points_list(st, "beta", &ids, &n), 0);
	assert_int_equal(n, 30); /* not named: untouched */
	hs_strv_free(ids);
	/* The manifest lists the kept ones only. */
	char *man = ut_path(f->store, "points/alpha/.points");
	size_t len;
	char *text = (char *)ut_read_file(man, &len);
	assert_non_null(text);
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	assert_int_equal(lines, 8);
	free(text);
	free(man);
	/* A removed point: in the trash, not listed, still readable. */
	char id[HS_POINT_ID_LEN + 1];
	hs_point_id_format((time_t)at(2026, 1, 2, 2), id);
	assert_int_equal(hs_store_point_exists(st, "alpha", id), 0);
	struct hs_point *p = malloc(sizeof *p);
	assert_int_equal(hs_store_point_head(st, "alpha", id, p), 0);
	free(p);
	assert_int_equal(hs_store_trash_points(st, "alpha", &ids, &n), 0);
	assert_int_equal(n, 23);
	hs_strv_free(ids);
	hs_prune_free(&res);
	/* Again: nothing more goes. */
	assert_int_equal(hs_prune(&o, &res), 0);
	assert_int_equal(res.removed, 0);
	assert_int_equal(res.kept, 8);
	hs_prune_free(&res);
	hs_store_close(st);
}

/* A lease keeps a point whatever the rules say, until it expires; an expired
 * lease keeps nothing. The test's clock moves past the live one's expiry. */
static void test_in_use(void **state)
{
	struct fx *f = *state;
	struct hs_store *st = make_store(f);
	char id5[HS_POINT_ID_LEN + 1], id6[HS_POINT_ID_LEN + 1];
	hs_point_id_format((time_t)at(2026, 1, 5, 2), id5);
	hs_point_id_format((time_t)at(2026, 1, 6, 2), id6);
	struct hs_lease *l;
	assert_int_equal(hs_lease_take1(st, "alpha", id5, "test", &l), 0);
	char text[256], *p = ut_path(f->store, "leases/old-1-00000000.json");
	snprintf(text, sizeof text,
		 "{\"format\":\"hotspare-lease\",\"host\":\"old\",\"pid\":1,\"what\":\"mount\",\"started\":1,"
		 "\"expires\":%lld,\"points\":[\"alpha@%s\"]}\n", (long long)time(NULL) - 10, id6);
	assert_int_equal(ut_write_file(p, text, strlen(text)), 0);
	free(p);

	struct hs_prune_opts o = { .store = st, .rules = { .last = 1 }, .dry_run = true };
	struct hs_prune_result res;
	assert_int_equal(hs_prune(&o, &res), 0);
	char got[512];
	kept(&res, "alpha", got, sizeof got);
	assert_string_equal(got, "0105 0116 0130b |"); /* 0105 needs drive A1 */
	for (size_t k = 0; k < res.servers[0].npoints; k++)
		if (res.servers[0].points[k].reasons & HS_KEEP_IN_USE) {
			assert_string_equal(res.servers[0].points[k].id, id5);
			assert_non_null(strstr(res.servers[0].points[k].in_use_by, "test on "));
		}
	hs_prune_free(&res);
	/* Later than the lease lives (its holder stopped renewing it). */
	o.now = (int64_t)time(NULL) + 3600;
	assert_int_equal(hs_prune(&o, &res), 0);
	kept(&res, "alpha", got, sizeof got);
	assert_string_equal(got, "0116 0130b | 0101");
	hs_prune_free(&res);
	/* For real, now: the point in use stays; released, the next prune takes it. */
	o.now = 0;
	o.dry_run = false;
	assert_int_equal(hs_prune(&o, &res), 0);
	assert_int_equal(hs_store_point_exists(st, "alpha", id5), 1);
	assert_int_equal(hs_store_point_exists(st, "alpha", id6), 0);
	hs_prune_free(&res);
	hs_lease_release(l);
	assert_int_equal(hs_prune(&o, &res), 0);
	assert_int_equal(hs_store_point_exists(st, "alpha", id5), 0);
	hs_prune_free(&res);
	/* A lease of a point pruned meanwhile is refused, leaving nothing. */
	assert_int_equal(hs_lease_take1(st, "alpha", id5, "test", &l), -ENOENT);
	assert_err_mentions("pruned meanwhile");
	struct hs_lease_info *v;
	size_t n;
	assert_int_equal(hs_leases_list(st, &v, &n), 0);
	assert_int_equal(n, 1); /* the expired one written by hand */
	hs_leases_free(v, n);
	hs_store_close(st);
}

/* Refused before anything changes: no rule, an unknown or invalid server, a
 * server written by a process that registered no writer (an older
 * hotspare). A capture beside (registered) is no reason to wait or skip; a
 * second prune of a server is skipped. */
static void test_refusals_and_busy(void **state)
{
	struct fx *f = *state;
	struct hs_store *st = make_store(f);
	struct hs_digest before, after;
	tree_sum(f->store, &before);
	struct hs_prune_opts o = { .store = st };
	struct hs_prune_result res;
	assert_int_equal(hs_prune(&o, &res), -EINVAL);
	assert_err_mentions("no retention rule");
	hs_prune_free(&res);
	o.rules.last = 1;
	char *unknown[] = { "alpha", "gamma" }, *bad[] = { "../x" };
	o.servers = unknown;
	o.nservers = 2;
	assert_int_equal(hs_prune(&o, &res), -ENOENT);
	assert_err_mentions("server gamma has no points");
	hs_prune_free(&res);
	o.servers = bad;
	o.nservers = 1;
	assert_int_equal(hs_prune(&o, &res), -EINVAL);
	hs_prune_free(&res);
	tree_sum(f->store, &after);
	assert_memory_equal(before.b, after.b, sizeof before.b);

	struct hs_store *other;
	int token;
	assert_int_equal(hs_store_open(f->store, &other), 0);
	assert_int_equal(hs_store_lock_server(other, "beta", &token), 0);
	/* Taken an hour ago: not a writer about to register. */
	char *lf = ut_path(f->store, "locks/beta.lock");
	struct timespec old_times[2] = { { time(NULL) - 3600, 0 }, { time(NULL) - 3600, 0 } };
	assert_int_equal(utimensat(AT_FDCWD, lf, old_times, 0), 0);
	free(lf);
	tree_sum(f->store, &before);
	o.servers = NULL;
	o.nservers = 0;
	assert_int_equal(hs_prune(&o, &res), -EBUSY);
	assert_err_mentions("beta is being written by a process that registered no writer");
	hs_prune_free(&res);
	tree_sum(f->store, &after);
	assert_memory_equal(before.b, after.b, sizeof before.b);
	hs_store_unlock(other, token);

	/* A registered writer of beta (a backup running): pruned beside it. */
	struct hs_writer *w;
	assert_int_equal(hs_store_lock_server(other, "beta", &token), 0);
	assert_int_equal(hs_writer_register(other, "backup", &w), 0);
	int plock;
	assert_int_equal(other->be->ops->lock(other->be, ".prune-alpha", 0, &plock), 0);
	assert_int_equal(hs_prune(&o, &res), 0);
	assert_int_equal(res.nservers, 2);
	assert_string_equal(res.servers[0].name, "alpha");
	assert_non_null(strstr(res.servers[0].skipped, "another prune of alpha"));
	assert_int_equal(res.servers[0].removed, 0);
	assert_int_equal(res.servers[1].removed, 30 - 2);
	hs_prune_free(&res);
	other->be->ops->unlock(other->be, plock);
	hs_writer_done(w);
	hs_store_unlock(other, token);
	hs_store_close(other);
	hs_store_close(st);
}

/* A point whose header cannot be read is kept and judged by no rule. */
static void test_unreadable_kept(void **state)
{
	struct fx *f = *state;
	struct hs_store *st = make_store(f);
	char id[HS_POINT_ID_LEN + 1], key[128];
	hs_point_id_format((time_t)at(2026, 1, 3, 2), id);
	snprintf(key, sizeof key, "points/alpha/%s.idx", id);
	char *p = ut_path(f->store, key);
	int fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "garbage!", 8, 100), 8);
	close(fd);
	free(p);
	struct hs_prune_opts o = { .store = st, .rules = { .last = 1 } };
	struct hs_prune_result res;
	assert_int_equal(hs_prune(&o, &res), 0);
	char got[512];
	kept(&res, "alpha", got, sizeof got);
	assert_string_equal(got, "0103 0116 0130b | 0101");
	hs_prune_free(&res);
	assert_int_equal(hs_store_point_exists(st, "alpha", id), 1);
	hs_store_close(st);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup_dirs, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_rules_table),
		T(test_prune_removes),
		T(test_in_use),
		T(test_refusals_and_busy),
		T(test_unreadable_kept),
	};
	return cmocka_run_group_tests_name("prune", tests, NULL, NULL);
}

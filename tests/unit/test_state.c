/* Unit tests for state.h: the spare's state directory (disk.img, map,
 * state.json, lock), who it belongs to, and the order in which data and map
 * bytes are made durable. Linked with the fault layer (fixture.h) to
 * see the syncs. */
#define UT_WRAP_IO
#include "fixture.h"
#include <dirent.h>
#include <json-c/json.h>
#include <sys/file.h>

/* The fixture's paths (nothing created) with the fault layer reset. */
static int setup(void **state)
{
	fault_reset();
	return fx_setup_dirs(state);
}

static int teardown(void **state)
{
	fault_reset();
	return fx_teardown(state);
}

static struct hs_state *open_ok(const char *dir, const struct hs_index *ix)
{
	struct hs_state *s = NULL;
	hs_err_clear();
	int r = hs_state_open(dir, ix, "/some/store", &s);
	if (r < 0)
		fail_msg("hs_state_open(%s) = %d (%s)", dir, r, hs_err_msg() ? hs_err_msg() : "");
	assert_non_null(s);
	return s;
}

static off_t file_size(const char *dir, const char *name)
{
	char *p = ut_path(dir, name);
	struct stat st;
	off_t n = stat(p, &st) == 0 ? st.st_size : -1;
	free(p);
	return n;
}

static unsigned char map_byte(const char *dir, uint64_t i)
{
	char *p = ut_path(dir, "map");
	int fd = open(p, O_RDONLY);
	free(p);
	assert_true(fd >= 0);
	unsigned char b = 0xff;
	assert_int_equal(pread(fd, &b, 1, (off_t)i), 1);
	close(fd);
	return b;
}

/* A listing of a directory with every file's content, to prove nothing changed. */
struct snap {
	char names[16][64];
	unsigned char *data[16];
	size_t len[16];
	int n;
};

static int cmp_names(const void *a, const void *b) { return strcmp(a, b); }

static void snap_take(const char *dir, struct snap *s)
{
	memset(s, 0, sizeof *s);
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			assert_true(s->n < 16);
			assert_true(strlen(de->d_name) < 64);
			memcpy(s->names[s->n++], de->d_name, strlen(de->d_name) + 1);
		}
	closedir(d);
	qsort(s->names, (size_t)s->n, 64, cmp_names);
	for (int k = 0; k < s->n; k++) {
		char *p = ut_path(dir, s->names[k]);
		s->data[k] = ut_read_file(p, &s->len[k]);
		free(p);
	}
}

/* What changed in dir since before (a message), or NULL. */
static const char *snap_diff(const char *dir, struct snap *before)
{
	static char why[512];
	struct snap after;
	snap_take(dir, &after);
	why[0] = 0;
	for (int k = 0; k < after.n && !why[0]; k++) {
		bool found = false;
		for (int j = 0; j < before->n; j++)
			found |= strcmp(after.names[k], before->names[j]) == 0;
		if (!found)
			snprintf(why, sizeof why, "%s/%s was created by a refused open", dir, after.names[k]);
	}
	if (!why[0] && after.n != before->n)
		snprintf(why, sizeof why, "%s: %d files before, %d after", dir, before->n, after.n);
	for (int k = 0; k < before->n && !why[0]; k++) {
		/* The lock file holds the pid of the last opener: this process either way. */
		if (strcmp(before->names[k], "lock") == 0)
			continue;
		if (after.len[k] != before->len[k] ||
		    (before->len[k] && memcmp(after.data[k], before->data[k], before->len[k])))
			snprintf(why, sizeof why, "%s/%s changed during a refused open", dir, before->names[k]);
	}
	for (int k = 0; k < after.n; k++)
		free(after.data[k]);
	return why[0] ? why : NULL;
}

static void snap_expect_same(const char *dir, struct snap *before)
{
	const char *why = snap_diff(dir, before);
	if (why)
		fail_msg("%s", why);
}

static void snap_free(struct snap *s)
{
	for (int k = 0; k < s->n; k++)
		free(s->data[k]);
}

/* ---- creation and reopening ---- */

static void test_create_fresh(void **state)
{
	struct fx *c = *state;
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *s = open_ok(c->state, ix);
	assert_int_equal(s->nchunks, NCHUNKS);
	assert_int_equal(s->image_size, IMG_SIZE);
	assert_int_equal(s->chunk_size, CS);
	assert_int_equal(s->uid, getuid());
	assert_int_equal(s->gid, getgid());
	assert_int_equal(s->mode, 0600);
	for (uint64_t i = 0; i < NCHUNKS; i++)
		assert_int_equal(hs_state_get(s, i), HS_ABSENT);
	assert_int_equal(file_size(c->state, "disk.img"), (off_t)IMG_SIZE);
	assert_int_equal(file_size(c->state, "map"), (off_t)NCHUNKS);
	assert_true(file_size(c->state, "state.json") > 0);
	/* The image is a hole, not allocated bytes. */
	char *p = ut_path(c->state, "disk.img");
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 < IMG_SIZE / 4);
	free(p);
	/* state.json names the point and the store. */
	p = ut_path(c->state, "state.json");
	size_t n;
	char *json = (char *)ut_read_file(p, &n);
	assert_non_null(json);
	json = realloc(json, n + 1);
	json[n] = 0;
	json_object *o = json_tokener_parse(json), *v;
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "server", &v));
	assert_string_equal(json_object_get_string(v), SERVER);
	assert_true(json_object_object_get_ex(o, "point", &v));
	assert_string_equal(json_object_get_string(v), ix->id);
	assert_true(json_object_object_get_ex(o, "store", &v));
	assert_string_equal(json_object_get_string(v), "/some/store");
	json_object_put(o);
	free(json);
	free(p);
	hs_state_close(s);
	hs_state_close(NULL);
	hs_index_free(ix);
}

static void test_reopen_keeps_map_and_data(void **state)
{
	struct fx *c = *state;
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *s = open_ok(c->state, ix);
	unsigned char blk[4096];
	memset(blk, 0x5a, sizeof blk);
	assert_int_equal(pwrite(s->image_fd, blk, sizeof blk, 2 * CS), (ssize_t)sizeof blk);
	assert_int_equal(hs_state_set(s, 2, HS_PRESENT), 0);
	assert_int_equal(hs_state_set(s, 7, HS_WRITTEN), 0);
	assert_int_equal(hs_state_mark_written(s, 9, true), 1);
	assert_int_equal(hs_state_flush(s), 0);
	hs_state_close(s);

	s = open_ok(c->state, ix);
	assert_int_equal(hs_state_get(s, 2), HS_PRESENT);
	assert_int_equal(hs_state_get(s, 7), HS_WRITTEN);
	assert_int_equal(hs_state_get(s, 9), HS_WRITTEN);
	assert_int_equal(hs_state_get(s, 3), HS_ABSENT);
	unsigned char got[4096];
	assert_int_equal(pread(s->image_fd, got, sizeof got, 2 * CS), (ssize_t)sizeof got);
	assert_memory_equal(got, blk, sizeof blk);
	hs_state_close(s);
	hs_index_free(ix);
}

static void test_states_only_move_forward(void **state)
{
	struct fx *c = *state;
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *s = open_ok(c->state, ix);
	assert_int_equal(hs_state_set(s, 5, HS_WRITTEN), 0);
	assert_int_equal(hs_state_set(s, 5, HS_PRESENT), 0);
	assert_int_equal(hs_state_get(s, 5), HS_WRITTEN);
	assert_int_equal(hs_state_flush(s), 0);
	assert_int_equal(map_byte(c->state, 5), HS_WRITTEN);
	/* mark_written: 1 when it changed the chunk, 0 after. */
	assert_int_equal(hs_state_mark_written(s, 6, true), 1);
	assert_int_equal(hs_state_mark_written(s, 6, true), 0);
	assert_int_equal(hs_state_mark_written(s, 5, true), 0);
	hs_state_close(s);
	hs_index_free(ix);
}

/* ---- refusals leave the state as it was ---- */

static void test_other_point_or_server_refused(void **state)
{
	struct fx *c = *state;
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *s = open_ok(c->state, ix);
	unsigned char blk[512];
	memset(blk, 0x77, sizeof blk);
	assert_int_equal(pwrite(s->image_fd, blk, sizeof blk, 0), (ssize_t)sizeof blk);
	assert_int_equal(hs_state_set(s, 0, HS_PRESENT), 0);
	assert_int_equal(hs_state_set_attr(s, 4242, 4343, 0640), 0);
	assert_int_equal(hs_state_flush(s), 0);
	hs_state_close(s);

	struct snap before;
	snap_take(c->state, &before);
	struct {
		struct hs_index *ix;
		const char *mention;
	} bad[] = {
		{ fx_index(SERVER, T0 + 86400, IMG_SIZE, CS), "belongs to" },  /* another point */
		{ fx_index("db02", T0, IMG_SIZE, CS), "belongs to" },          /* another server */
		{ fx_index(SERVER, T0, IMG_SIZE + CS, CS), "size" },           /* another image size */
		{ fx_index(SERVER, T0, IMG_SIZE, CS * 2), "size" },            /* another chunk size */
	};
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
		struct hs_state *o = (struct hs_state *)0x1;
		hs_err_clear();
		int r = hs_state_open(c->state, bad[k].ix, "/some/store", &o);
		if (r != -EINVAL)
			fail_msg("case %zu: expected -EINVAL, got %d", k, r);
		assert_ptr_equal(o, (struct hs_state *)0x1);
		assert_err_mentions(c->state);
		assert_err_mentions(bad[k].mention);
		const char *m = hs_err_msg();
		assert_null(strchr(m, '\n'));
		if (k < 2) {
			/* Says whose it is and what was asked for. */
			assert_err_mentions(ix->id);
			assert_err_mentions(bad[k].ix->server);
			assert_err_mentions(bad[k].ix->id);
		}
		snap_expect_same(c->state, &before);
		hs_index_free(bad[k].ix);
	}
	snap_free(&before);
	/* The rightful owner still opens it, with everything kept. */
	s = open_ok(c->state, ix);
	assert_int_equal(hs_state_get(s, 0), HS_PRESENT);
	assert_int_equal(s->uid, 4242);
	hs_state_close(s);
	hs_index_free(ix);
}

static void test_busy(void **state)
{
	struct fx *c = *state;
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *s = open_ok(c->state, ix);
	struct snap before;
	snap_take(c->state, &before);
	struct hs_state *o = NULL;
	hs_err_clear();
	assert_int_equal(hs_state_open(c->state, ix, "/some/store", &o), -EBUSY);
	assert_null(o);
	assert_err_mentions(c->state);
	assert_err_mentions("in use");
	char pid[16];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	assert_err_mentions(pid);
	snap_expect_same(c->state, &before);
	snap_free(&before);
	/* The first one still works; once it is closed the state opens again. */
	assert_int_equal(hs_state_set(s, 1, HS_PRESENT), 0);
	assert_int_equal(hs_state_flush(s), 0);
	hs_state_close(s);
	s = open_ok(c->state, ix);
	assert_int_equal(hs_state_get(s, 1), HS_PRESENT);
	hs_state_close(s);
	hs_index_free(ix);
}

/* A state held by another process is refused too, naming its pid. */
struct child_arg {
	int up[2], down[2];
	const char *dir;
};

static int child_holder(void *p)
{
	struct child_arg *a = p;
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *s = NULL;
	int r = hs_state_open(a->dir, ix, "/x", &s);
	char ok = r == 0 ? 'y' : 'n';
	if (write(a->up[1], &ok, 1) != 1)
		return 2;
	char b;
	if (read(a->down[0], &b, 1) != 1)
		return 3;
	hs_state_close(s);
	hs_index_free(ix);
	return r == 0 ? 0 : 1;
}

static void test_busy_other_process(void **state)
{
	struct fx *c = *state;
	struct child_arg a = { .dir = c->state };
	assert_int_equal(pipe(a.up), 0);
	assert_int_equal(pipe(a.down), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_holder(&a));
	char ok = 0;
	assert_int_equal(read(a.up[0], &ok, 1), 1);
	assert_int_equal(ok, 'y');
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *o = NULL;
	hs_err_clear();
	int r = hs_state_open(c->state, ix, "/x", &o);
	char b = 'x';
	assert_int_equal(write(a.down[1], &b, 1), 1);
	int ws;
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_int_equal(r, -EBUSY);
	char spid[16];
	snprintf(spid, sizeof spid, "pid %d", (int)pid);
	assert_err_mentions(spid);
	assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	/* Now free. */
	struct hs_state *s = open_ok(c->state, ix);
	hs_state_close(s);
	hs_index_free(ix);
	for (int k = 0; k < 2; k++) {
		close(a.up[k]);
		close(a.down[k]);
	}
}

static void test_set_attr_persists(void **state)
{
	struct fx *c = *state;
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *s = open_ok(c->state, ix);
	assert_int_equal(hs_state_set_attr(s, 107, 115, 0660), 0);
	assert_int_equal(s->uid, 107);
	assert_int_equal(s->gid, 115);
	assert_int_equal(s->mode, 0660);
	hs_state_close(s);
	s = open_ok(c->state, ix);
	assert_int_equal(s->uid, 107);
	assert_int_equal(s->gid, 115);
	assert_int_equal(s->mode, 0660);
	/* Only permission bits are kept. */
	assert_int_equal(hs_state_set_attr(s, 0, 0, S_IFREG | 04755), 0);
	hs_state_close(s);
	s = open_ok(c->state, ix);
	assert_int_equal(s->uid, 0);
	assert_int_equal(s->gid, 0);
	assert_int_equal(s->mode, 04755);
	hs_state_close(s);
	hs_index_free(ix);
}

/* A directory that is not a state (the user typed the wrong path) is refused
 * and left exactly as it was: no lock file, no state files. */
static void test_foreign_directory_untouched(void **state)
{
	struct fx *c = *state;
	assert_int_equal(mkdir(c->state, 0700), 0);
	char *p = ut_path(c->state, "important.txt");
	assert_int_equal(ut_write_file(p, "keep me\n", 8), 0);
	free(p);
	struct snap before;
	snap_take(c->state, &before);
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *s = NULL;
	hs_err_clear();
	assert_int_equal(hs_state_open(c->state, ix, "/x", &s), -EINVAL);
	assert_null(s);
	assert_err_mentions(c->state);
	assert_err_mentions("state.json");
	const char *why = snap_diff(c->state, &before);
	snap_free(&before);
	hs_index_free(ix);
	if (why)
		fail_msg("%s", why);
}

static void write_in(const char *dir, const char *name, const void *p, size_t n)
{
	char *path = ut_path(dir, name);
	assert_int_equal(ut_write_file(path, p, n), 0);
	free(path);
}

static void test_damaged_state_refused(void **state)
{
	struct fx *c = *state;
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *s = open_ok(c->state, ix);
	hs_state_close(s);
	char *mp = ut_path(c->state, "map"), *jp = ut_path(c->state, "state.json");
	size_t mn, jn;
	unsigned char *map = ut_read_file(mp, &mn), *json = ut_read_file(jp, &jn);
	assert_non_null(map);
	assert_non_null(json);

	/* A bad map entry. */
	map[5] = 7;
	write_in(c->state, "map", map, mn);
	struct snap before;
	snap_take(c->state, &before);
	hs_err_clear();
	assert_int_equal(hs_state_open(c->state, ix, "/x", &s), -EINVAL);
	assert_err_mentions("damaged");
	snap_expect_same(c->state, &before);
	snap_free(&before);
	/* A map of the wrong size. */
	map[5] = 0;
	write_in(c->state, "map", map, mn - 1);
	hs_err_clear();
	assert_int_equal(hs_state_open(c->state, ix, "/x", &s), -EINVAL);
	assert_err_mentions("damaged");
	write_in(c->state, "map", map, mn);
	/* A state.json that is not one. */
	write_in(c->state, "state.json", "garbage", 7);
	hs_err_clear();
	assert_int_equal(hs_state_open(c->state, ix, "/x", &s), -EINVAL);
	assert_err_mentions("state.json");
	/* An unknown version. */
	const char *v99 = "{\"format\":\"hotspare-state\",\"version\":99}";
	write_in(c->state, "state.json", v99, strlen(v99));
	hs_err_clear();
	assert_int_equal(hs_state_open(c->state, ix, "/x", &s), -EPROTONOSUPPORT);
	assert_err_mentions("version 99");
	/* Put back, it opens again. */
	write_in(c->state, "state.json", json, jn);
	s = open_ok(c->state, ix);
	hs_state_close(s);
	free(map);
	free(json);
	free(mp);
	free(jp);
	hs_index_free(ix);
}

/* ---- durability order ---- */

static bool log_is(const char *const *want, int n)
{
	if (fault.nlog != n)
		return false;
	for (int k = 0; k < n; k++)
		if (strcmp(fault.log[k], want[k]) != 0)
			return false;
	return true;
}

static void print_log(void)
{
	for (int k = 0; k < fault.nlog; k++)
		print_message("  sync %d: %s\n", k, fault.log[k]);
}

static void test_present_durable_only_after_data(void **state)
{
	struct fx *c = *state;
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *s = open_ok(c->state, ix);
	unsigned char blk[CS];
	memset(blk, 0x42, sizeof blk);
	assert_int_equal(pwrite(s->image_fd, blk, CS, 3 * CS), (ssize_t)CS);
	assert_int_equal(hs_state_set(s, 3, HS_PRESENT), 0);
	/* In memory at once, not in the map file before a flush. */
	assert_int_equal(hs_state_get(s, 3), HS_PRESENT);
	assert_int_equal(map_byte(c->state, 3), HS_ABSENT);
	fault.nlog = 0;
	assert_int_equal(hs_state_flush(s), 0);
	assert_int_equal(map_byte(c->state, 3), HS_PRESENT);
	/* The flush synced the image before the map. */
	const char *want[] = { "disk.img", "map" };
	if (!log_is(want, 2)) {
		print_log();
		fail_msg("flush must sync disk.img, then map");
	}
	/* A flush with nothing new writes no map. */
	fault.nlog = 0;
	assert_int_equal(hs_state_flush(s), 0);
	for (int k = 0; k < fault.nlog; k++)
		assert_string_not_equal(fault.log[k], "map");
	hs_state_close(s);
	hs_index_free(ix);
}

static void test_mark_written_order(void **state)
{
	struct fx *c = *state;
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *s = open_ok(c->state, ix);

	/* A chunk present in memory only: its data is synced before "written". */
	assert_int_equal(hs_state_set(s, 4, HS_PRESENT), 0);
	fault.nlog = 0;
	assert_int_equal(hs_state_mark_written(s, 4, true), 1);
	assert_int_equal(map_byte(c->state, 4), HS_WRITTEN);
	const char *want2[] = { "disk.img", "map" };
	if (!log_is(want2, 2)) {
		print_log();
		fail_msg("written over an undurable present chunk: sync disk.img, then map");
	}
	/* A chunk already durably present: only the map. */
	assert_int_equal(hs_state_set(s, 8, HS_PRESENT), 0);
	assert_int_equal(hs_state_flush(s), 0);
	fault.nlog = 0;
	assert_int_equal(hs_state_mark_written(s, 8, true), 1);
	assert_int_equal(map_byte(c->state, 8), HS_WRITTEN);
	const char *want1[] = { "map" };
	if (!log_is(want1, 1)) {
		print_log();
		fail_msg("written over a durable present chunk: only the map");
	}
	/* A hole (zero chunk): nothing to vouch for, only the map. */
	fault.nlog = 0;
	assert_int_equal(hs_state_mark_written(s, 12, false), 1);
	assert_int_equal(map_byte(c->state, 12), HS_WRITTEN);
	if (!log_is(want1, 1)) {
		print_log();
		fail_msg("written over a hole: only the map");
	}
	/* Written in memory (a whole-chunk write whose data is not synced yet):
	 * the data goes first. */
	assert_int_equal(hs_state_set(s, 13, HS_WRITTEN), 0);
	fault.nlog = 0;
	assert_int_equal(hs_state_mark_written(s, 13, false), 0);
	assert_int_equal(map_byte(c->state, 13), HS_WRITTEN);
	if (!log_is(want2, 2)) {
		print_log();
		fail_msg("written bit of an unsynced whole-chunk write: sync disk.img, then map");
	}
	/* Already durable: no I/O at all. */
	fault.nlog = 0;
	assert_int_equal(hs_state_mark_written(s, 13, true), 0);
	assert_int_equal(fault.nlog, 0);
	hs_state_close(s);
	hs_index_free(ix);
}

/* Many threads setting and flushing at once: every chunk ends up in the map
 * file with the highest state it was given. */
struct setter {
	struct hs_state *s;
	unsigned k;
};

static void *setter_main(void *p)
{
	struct setter *a = p;
	for (uint64_t i = a->k; i < NCHUNKS; i += 4) {
		if (hs_state_set(a->s, i, (i % 3) ? HS_PRESENT : HS_WRITTEN) != 0)
			return (void *)1;
		if (i % 5 == 0 && hs_state_flush(a->s) != 0)
			return (void *)1;
	}
	return NULL;
}

static void test_concurrent_set_and_flush(void **state)
{
	struct fx *c = *state;
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *s = open_ok(c->state, ix);
	pthread_t th[4];
	struct setter a[4];
	for (unsigned k = 0; k < 4; k++) {
		a[k] = (struct setter){ s, k };
		assert_int_equal(pthread_create(&th[k], NULL, setter_main, &a[k]), 0);
	}
	for (unsigned k = 0; k < 4; k++) {
		void *rv;
		pthread_join(th[k], &rv);
		assert_null(rv);
	}
	assert_int_equal(hs_state_flush(s), 0);
	unsigned char *m = fx_map_file(c->state);
	for (uint64_t i = 0; i < NCHUNKS; i++)
		assert_int_equal(m[i], (i % 3) ? HS_PRESENT : HS_WRITTEN);
	free(m);
	hs_state_close(s);
	hs_index_free(ix);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_create_fresh),
		T(test_reopen_keeps_map_and_data),
		T(test_states_only_move_forward),
		T(test_other_point_or_server_refused),
		T(test_busy),
		T(test_busy_other_process),
		T(test_set_attr_persists),
		T(test_foreign_directory_untouched),
		T(test_damaged_state_refused),
		T(test_present_durable_only_after_data),
		T(test_mark_written_order),
		T(test_concurrent_set_and_flush),
	};
	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}

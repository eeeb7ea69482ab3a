/* Unit tests for vm/drills.h: the record of proved points, and the newest
 * report of each server found in a drills directory. */
#include "unit.h"
#include "vm/drills.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/hs-drills-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int rm_entry(const char *p, const struct stat *st, int f, struct FTW *w)
{
	(void)st;
	(void)f;
	(void)w;
	return remove(p);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_proved(void **state)
{
	(void)state;
	char when[21];
	assert_int_equal(hs_drills_proved(dir, "mail01", "20261125T121856Z", when), 0);
	assert_int_equal(hs_drills_prove(dir, "mail01", "20261125T121856Z", 1764073136), 0);
	assert_int_equal(hs_drills_proved(dir, "mail01", "20261125T121856Z", when), 1);
	assert_string_equal(when, "2025-11-25T12:18:56Z");
	assert_int_equal(hs_drills_proved(dir, "mail01", "20261126T121856Z", when), 0);
	assert_int_equal(hs_drills_proved(dir, "web01", "20261125T121856Z", when), 0);
	/* Proved again: one line, the newer time. */
	assert_int_equal(hs_drills_prove(dir, "mail01", "20261125T121856Z", 1764073200), 0);
	assert_int_equal(hs_drills_proved(dir, "mail01", "20261125T121856Z", when), 1);
	assert_string_equal(when, "2025-11-25T12:20:00Z");
	/* The newest HS_DRILLS_PROVED_KEEP only. */
	for (int i = 0; i < HS_DRILLS_PROVED_KEEP + 10; i++) {
		char id[32];
		snprintf(id, sizeof id, "2027%04dT000000Z", i);
		assert_int_equal(hs_drills_prove(dir, "db01", id, 1800000000 + i), 0);
	}
	assert_int_equal(hs_drills_proved(dir, "db01", "20270000T000000Z", when), 0);
	assert_int_equal(hs_drills_proved(dir, "db01", "20270265T000000Z", when), 1);
	char path[400];
	snprintf(path, sizeof path, "%s/db01/proved", dir);
	FILE *f = fopen(path, "r");
	int lines = 0, c;
	while ((c = fgetc(f)) != EOF)
		lines += c == '\n';
	fclose(f);
	assert_int_equal(lines, HS_DRILLS_PROVED_KEEP);
	/* A record that is a link someone planted is not followed. */
	snprintf(path, sizeof path, "%s/evil", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/evil/proved", dir);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	hs_err_clear();
	assert_true(hs_drills_proved(dir, "evil", "x", when) < 0);
	assert_true(hs_drills_prove(dir, "evil", "20261125T121856Z", 0) < 0);
}

static void report(const char *sub, const char *server, const char *started, const char *passed,
		   const char *extra)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, sub);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
	assert_int_equal(system(cmd), 0);
	strcat(path, "/report.json");
	FILE *f = fopen(path, "w");
	fprintf(f, "{\"server\":\"%s\",\"point\":\"20261125T121856Z\",\"started\":\"%s\",\"passed\":%s,"
		   "\"startup_seconds\":12.5,\"restore_seconds\":null,\"online_seconds\":20,\"rpo_seconds\":3600,"
		   "\"checks\":[{\"ok\":true},{\"ok\":false}],\"errors\":[\"boot: no\"]%s}\n",
		server, started, passed, extra);
	fclose(f);
}

static void test_scan(void **state)
{
	(void)state;
	report("mail01/20261125T121856Z", "mail01", "2026-11-25T13:00:00Z", "false", "");
	report("mail01/20261126T121856Z", "mail01", "2026-11-26T13:00:00Z", "true", "");
	/* Newer, but interrupted: no verdict, not the last drill. */
	report("mail01/20261127T121856Z", "mail01", "2026-11-27T13:00:00Z", "false", ",\"interrupted\":true");
	report("web01-manual", "web01", "2026-11-20T08:00:00Z", "false", "");
	report("junk", "../etc", "2026-11-20T08:00:00Z", "true", "");
	char path[400];
	snprintf(path, sizeof path, "%s/broken", dir);
	mkdir(path, 0755);
	strcat(path, "/report.json");
	FILE *f = fopen(path, "w");
	fputs("{not json", f);
	fclose(f);
	/* A link to a directory elsewhere is not followed. */
	snprintf(path, sizeof path, "%s/elsewhere", dir);
	assert_int_equal(symlink("/tmp", path), 0);
	struct hs_drill_brief *v;
	size_t n;
	unsigned bad;
	assert_int_equal(hs_drills_scan(dir, &v, &n, &bad), 0);
	assert_int_equal(n, 2);
	assert_int_equal(bad, 2);
	assert_string_equal(v[0].server, "mail01");
	assert_true(v[0].passed);
	assert_int_equal(v[0].started, 1795698000);
	assert_true(v[0].startup_seconds == 12.5);
	assert_true(v[0].restore_seconds < 0);
	assert_true(v[0].online_seconds == 20);
	assert_int_equal(v[0].rpo_seconds, 3600);
	assert_int_equal(v[0].checks, 2);
	assert_int_equal(v[0].checks_failed, 1);
	assert_non_null(strstr(v[0].path, "20261126T121856Z/report.json"));
	assert_string_equal(v[1].server, "web01");
	assert_false(v[1].passed);
	assert_string_equal(v[1].error, "boot: no");
	free(v);
	hs_err_clear();
	snprintf(path, sizeof path, "%s/none", dir);
	assert_true(hs_drills_scan(path, &v, &n, &bad) < 0);
	assert_err_mentions("none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_proved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for name.h: server names, point ids, SERVER[@POINT] references. */
#include "unit.h"
#include "store/name.h"

static void expect_name_ok(const char *s)
{
	hs_err_clear();
	int r = hs_server_name_check(s);
	if (r != 0)
		fail_msg("server name '%s' rejected (%d: %s)", s, r, hs_err_msg() ? hs_err_msg() : "");
}

/* Rejected with -EINVAL and a message containing mention. */
static void expect_name_bad(const char *s, const char *mention)
{
	hs_err_clear();
	int r = hs_server_name_check(s);
	if (r != -EINVAL)
		fail_msg("server name '%s': expected -EINVAL, got %d", s, r);
	assert_err_mentions(mention);
}

static void test_server_names_accepted(void **state)
{
	(void)state;
	expect_name_ok("mail01");
	expect_name_ok("a");
	expect_name_ok("Z");
	expect_name_ok("0");
	expect_name_ok("db-01");
	expect_name_ok("file_server");
	expect_name_ok("mail.example.com");
	expect_name_ok("a.b-c_d.E9");
	expect_name_ok("trailing.");
	expect_name_ok("x-");
	expect_name_ok("_x");
	expect_name_ok("-x");
	char max[HS_SERVER_MAX + 1];
	memset(max, 'a', HS_SERVER_MAX);
	max[HS_SERVER_MAX] = 0;
	expect_name_ok(max);
}

static void test_server_names_rejected(void **state)
{
	(void)state;
	expect_name_bad("", "empty");

	char longer[HS_SERVER_MAX + 2];
	memset(longer, 'a', HS_SERVER_MAX + 1);
	longer[HS_SERVER_MAX + 1] = 0;
	expect_name_bad(longer, "longer");
	char huge[4096];
	memset(huge, 'b', sizeof huge - 1);
	huge[sizeof huge - 1] = 0;
	expect_name_bad(huge, "longer");

	expect_name_bad("a/b", "'/'");
	expect_name_bad("/etc", "'/'");
	expect_name_bad("mail01/", "'/'");
	expect_name_bad("a/../b", "");

	expect_name_bad("..", "");
	expect_name_bad("a..b", "'..'");
	expect_name_bad("mail..", "'..'");
	expect_name_bad("a...b", "'..'");

	expect_name_bad(".", "starts with '.'");
	expect_name_bad(".hidden", "starts with '.'");
	expect_name_bad(".servers", "starts with '.'");

	expect_name_bad("a\tb", "control");
	expect_name_bad("a\nb", "control");
	expect_name_bad("\x01mail", "control");
	expect_name_bad("mail\x1f", "control");
	expect_name_bad("mail\x7f", "control");
	expect_name_bad("\x1b[31m", "control");

	const char *punct = " !\"#$%&'()*+,:;<=>?@[\\]^`{|}~";
	for (const char *c = punct; *c; c++) {
		char s[8];
		snprintf(s, sizeof s, "ab%cc", *c);
		char want[4] = { '\'', *c, '\'', 0 };
		expect_name_bad(s, want);
	}
	expect_name_bad("caf\xc3\xa9", "server name");
	expect_name_bad("\xff", "server name");
}

static void test_point_id_format(void **state)
{
	(void)state;
	char id[HS_POINT_ID_LEN + 1];
	hs_point_id_format(0, id);
	assert_string_equal(id, "19700101T000000Z");
	hs_point_id_format(1795609136, id);
	assert_string_equal(id, "20261125T121856Z");
	hs_point_id_format(951868799, id);
	assert_string_equal(id, "20000229T235959Z");
	hs_point_id_format(253402300799, id);
	assert_string_equal(id, "99991231T235959Z");
	assert_int_equal(strlen(id), HS_POINT_ID_LEN);

	char iso[21];
	hs_time_iso(1795609136, iso);
	assert_string_equal(iso, "2026-11-25T12:18:56Z");
	hs_time_iso(0, iso);
	assert_string_equal(iso, "1970-01-01T00:00:00Z");
}

static void test_point_id_round_trip(void **state)
{
	(void)state;
	const time_t fixed[] = { 0, 1, 59, 60, 86399, 86400, 951868799, 951868800, 1795609136,
				 2147483647, 2147483648, 4102444799, 253402300799 };
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
		char id[HS_POINT_ID_LEN + 1];
		time_t back = -1;
		hs_point_id_format(fixed[i], id);
		assert_int_equal(hs_point_id_parse(id, &back), 0);
		assert_int_equal(back, fixed[i]);
	}
	uint64_t seed = 7;
	for (int i = 0; i < 2000; i++) {
		time_t t = (time_t)(ut_rand(&seed) % 253402300800ull);
		char id[HS_POINT_ID_LEN + 1], id2[HS_POINT_ID_LEN + 1];
		time_t back = -1;
		hs_point_id_format(t, id);
		assert_int_equal(hs_point_id_parse(id, &back), 0);
		assert_int_equal(back, t);
		hs_point_id_format(back, id2);
		assert_string_equal(id, id2);
	}
	/* Ids sort like their times. */
	char a[HS_POINT_ID_LEN + 1], b[HS_POINT_ID_LEN + 1];
	hs_point_id_format(999999999, a);
	hs_point_id_format(1000000000, b);
	assert_true(strcmp(a, b) < 0);
}

static void test_point_id_parse_rejects(void **state)
{
	(void)state;
	const char *bad[] = {
		"", "2026", "20261125T121856", "20261125T121856ZZ", "20261125T1218560Z",
		"20261125t121856Z", "20261125T121856z", "20261125 121856Z", "2026-11-25T12:1Z",
		"20261125T12185xZ", "abcdefghijklmnop", "20261301T000000Z", "20260001T000000Z",
		"20260100T000000Z", "20260132T000000Z", "20260101T240000Z", "20260101T006000Z",
		"latest", "../../etc/passwd",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		time_t t = 12345;
		int r = hs_point_id_parse(bad[i], &t);
		if (r != -EINVAL)
			fail_msg("point id '%s': expected -EINVAL, got %d", bad[i], r);
	}
}

/* A point id names exactly one time: parsing a string that is not the
 * formatted form of any time (February 31st, second 60) must fail rather than
 * silently name another point. */
static void test_point_id_parse_rejects_noncanonical(void **state)
{
	(void)state;
	const char *bad[] = { "20260231T000000Z", "20260431T120000Z", "20250229T000000Z",
			      "20260101T235960Z" };
	int failed = 0;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		time_t t = 0;
		int r = hs_point_id_parse(bad[i], &t);
		char back[HS_POINT_ID_LEN + 1] = "";
		if (r == 0)
			hs_point_id_format(t, back);
		if (r != -EINVAL) {
			print_error("point id '%s' accepted (%d) as the time whose id is '%s'\n", bad[i],
				    r, back);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void test_ref_parse_ok(void **state)
{
	(void)state;
	char server[HS_SERVER_MAX + 1], point[HS_POINT_ID_LEN + 1];
	memset(point, 'x', sizeof point);
	assert_int_equal(hs_ref_parse("mail01", server, point, NULL), 0);
	assert_string_equal(server, "mail01");
	assert_string_equal(point, "");

	assert_int_equal(hs_ref_parse("mail01@20261125T121856Z", server, point, NULL), 0);
	assert_string_equal(server, "mail01");
	assert_string_equal(point, "20261125T121856Z");

	assert_int_equal(hs_ref_parse("db.example-1@2026", server, point, NULL), 0);
	assert_string_equal(server, "db.example-1");
	assert_string_equal(point, "2026");

	assert_int_equal(hs_ref_parse("x@latest", server, point, NULL), 0);
	assert_string_equal(server, "x");
	assert_string_equal(point, "latest");

	char ref[HS_SERVER_MAX + 32];
	memset(ref, 'q', HS_SERVER_MAX);
	snprintf(ref + HS_SERVER_MAX, sizeof ref - HS_SERVER_MAX, "@20261125T1218");
	assert_int_equal(hs_ref_parse(ref, server, point, NULL), 0);
	assert_int_equal(strlen(server), HS_SERVER_MAX);
	assert_string_equal(point, "20261125T1218");
}

static void test_ref_parse_disks(void **state)
{
	(void)state;
	char server[HS_SERVER_MAX + 1], point[HS_POINT_ID_LEN + 1], disk[HS_DISK_MAX + 1];
	assert_int_equal(hs_ref_parse("mail01:sda", server, point, disk), 0);
	assert_string_equal(server, "mail01");
	assert_string_equal(point, "");
	assert_string_equal(disk, "sda");
	assert_int_equal(hs_ref_parse("mail01@20261125T121856Z:data", server, point, disk), 0);
	assert_string_equal(point, "20261125T121856Z");
	assert_string_equal(disk, "data");
	assert_int_equal(hs_ref_parse("mail01@latest", server, point, disk), 0);
	assert_string_equal(disk, "");
	/* A disk part where the command takes whole points, or a bad disk name. */
	const char *bad[][2] = {
		{ "mail01:sda", "names a disk" }, { "mail01@2026:", "disk name is empty" },
		{ "mail01:a/b", "'/'" },          { "mail01:..", "'.'" },
		{ "mail01:c:d", "':'" },          { "mail01@2026x:c", "point" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		hs_err_clear();
		int r = hs_ref_parse(bad[i][0], server, point, i == 0 ? NULL : disk);
		if (r != -EINVAL)
			fail_msg("ref '%s': expected -EINVAL, got %d", bad[i][0], r);
		assert_err_mentions(bad[i][1]);
	}
	char ref[128];
	memset(ref, 'd', sizeof ref);
	memcpy(ref, "srv:", 4);
	ref[4 + HS_DISK_MAX + 1] = 0;
	hs_err_clear();
	assert_int_equal(hs_ref_parse(ref, server, point, disk), -EINVAL);
	assert_err_mentions("longer");
	assert_int_equal(hs_disk_name_check("disk0"), 0);
	assert_int_equal(hs_disk_name_check(""), -EINVAL);
}

static void expect_ref_bad(const char *ref, const char *mention)
{
	char server[HS_SERVER_MAX + 1], point[HS_POINT_ID_LEN + 1];
	hs_err_clear();
	int r = hs_ref_parse(ref, server, point, NULL);
	if (r != -EINVAL)
		fail_msg("ref '%s': expected -EINVAL, got %d", ref, r);
	assert_err_mentions(mention);
}

static void test_ref_parse_rejects(void **state)
{
	(void)state;
	/* Bad points. */
	expect_ref_bad("mail01@", "point");
	expect_ref_bad("mail01@foo", "foo");
	expect_ref_bad("mail01@2026-11-25", "2026-11-25");
	expect_ref_bad("mail01@20261125T121856Z0", "point");
	expect_ref_bad("mail01@20261125T121856Z@x", "point");
	expect_ref_bad("mail01@../../x", "point");
	expect_ref_bad("mail01@ 2026", "point");
	/* Bad servers, with or without a point. */
	expect_ref_bad("", "empty");
	expect_ref_bad("@20261125T121856Z", "empty");
	expect_ref_bad("../etc@2026", "'.'");
	expect_ref_bad("a/b", "'/'");
	expect_ref_bad("a/b@2026", "'/'");
	expect_ref_bad("a..b@latest", "'..'");
	expect_ref_bad(".x", "'.'");
	char ref[300];
	memset(ref, 'a', 200);
	snprintf(ref + 200, sizeof ref - 200, "@2026");
	expect_ref_bad(ref, "longer");
	memset(ref, 'a', HS_SERVER_MAX + 1);
	ref[HS_SERVER_MAX + 1] = 0;
	expect_ref_bad(ref, "longer");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_names_accepted),
		cmocka_unit_test(test_server_names_rejected),
		cmocka_unit_test(test_point_id_format),
		cmocka_unit_test(test_point_id_round_trip),
		cmocka_unit_test(test_point_id_parse_rejects),
		cmocka_unit_test(test_point_id_parse_rejects_noncanonical),
		cmocka_unit_test(test_ref_parse_ok),
		cmocka_unit_test(test_ref_parse_rejects),
		cmocka_unit_test(test_ref_parse_disks),
	};
	return cmocka_run_group_tests_name("name", tests, NULL, NULL);
}

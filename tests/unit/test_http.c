/* Unit tests for the URL credential handling of http.h: credentials are split
 * off a store URL (percent-decoded) and masked in command-line arguments. */
#include "unit.h"
#include "http.h"

static void split(const char *url, const char *clean, const char *user, const char *password)
{
	char *c, *u, *p;
	assert_int_equal(hs_url_split_credentials(url, &c, &u, &p), 0);
	assert_string_equal(c, clean);
	if (user)
		assert_string_equal(u, user);
	else
		assert_null(u);
	if (password)
		assert_string_equal(p, password);
	else
		assert_null(p);
	free(c);
	free(u);
	free(p);
}

static void test_split(void **state)
{
	(void)state;
	split("http://127.0.0.1:8080/store", "http://127.0.0.1:8080/store", NULL, NULL);
	split("https://bob:s3cr%40t@host/a/b", "https://host/a/b", "bob", "s3cr@t");
	split("https://bob@host/a", "https://host/a", "bob", NULL);
	split("http://u:p@ss@host:1/x", "http://host:1/x", "u", "p@ss");
	/* An '@' after the host is part of the path, not credentials. */
	split("http://host/p@th", "http://host/p@th", NULL, NULL);
	split("/var/lib/store", "/var/lib/store", NULL, NULL);
}

static void test_scrub(void **state)
{
	(void)state;
	char arg[] = "https://bob:hunter2@host:443/store";
	char *copy = hs_url_scrub_arg(arg);
	assert_non_null(copy);
	assert_string_equal(copy, "https://bob:hunter2@host:443/store");
	assert_string_equal(arg, "https://***********@host:443/store");
	free(copy);
	char plain[] = "http://host/store", dir[] = "/srv/u:p@x", other[] = "--seed";
	assert_null(hs_url_scrub_arg(plain));
	assert_null(hs_url_scrub_arg(dir));
	assert_null(hs_url_scrub_arg(other));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_scrub),
	};
	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}

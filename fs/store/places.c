/* Keeping what a command writes apart from what it reads; see places.h. */
#include "store/places.h"
#include "basics/device.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "store/http.h"
#include "basics/path.h"
#include <limits.h>
#include <string.h>
#include <strings.h>

bool hs_place_is_url(const char *where)
{
	return strstr(where, "://") != NULL;
}

/* One place: 0, or -EINVAL with the message. */
static int check_one(const char *what, const char *path, const char *cpath, const struct hs_place *pl,
		     bool both_ways)
{
	char cplace[PATH_MAX];
	if (hs_path_canon(pl->where, cplace, sizeof cplace) < 0)
		return 0; /* cannot be resolved: the command says why when it opens it */
	int r = hs_path_inside(path, pl->where);
	if (r < 0)
		return hs_err(-r, "cannot resolve %s %s: %s", what, path, strerror(-r));
	if (r == 1) {
		if (!strcmp(cpath, cplace))
			return hs_err(EINVAL, "%s %s is %s itself", what, path, pl->what);
		return hs_err(EINVAL, "%s %s is inside %s %s", what, path, pl->what, pl->where);
	}
	/* A block device holds every place on the filesystems it carries. */
	if (hs_dev_holds(path, pl->where) == 1)
		return hs_err(EINVAL, "%s %s holds %s %s (its filesystem is on that device)", what, path,
			      pl->what, pl->where);
	if (hs_dev_holds(pl->where, path) == 1)
		return hs_err(EINVAL, "%s %s is on %s %s (its filesystem is on that device)", what, path,
			      pl->what, pl->where);
	/* A loop device writes through to its file. */
	char backing[PATH_MAX];
	if (hs_dev_loop_file(path, backing, sizeof backing) == 1 && hs_path_inside(backing, pl->where) == 1)
		return hs_err(EINVAL, "%s %s writes to %s, inside %s %s", what, path, backing, pl->what, pl->where);
	if (!both_ways)
		return 0;
	r = hs_path_inside(pl->where, path);
	if (r < 0)
		return hs_err(-r, "cannot resolve %s %s: %s", pl->what, pl->where, strerror(-r));
	if (r == 1)
		return hs_err(EINVAL, "%s %s holds %s %s", what, path, pl->what, pl->where);
	return 0;
}

/* Two store URLs: 1 if a is b or lies under it (same text, a trailing '/' aside). */
static int url_inside(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	while (na > 1 && a[na - 1] == '/')
		na--;
	while (nb > 1 && b[nb - 1] == '/')
		nb--;
	return na >= nb && strncasecmp(a, b, nb) == 0 && (na == nb || a[nb] == '/');
}

/* A URL without its credentials (compared and shown so). NULL: no memory. */
static char *clean_url(const char *url)
{
	char *clean = NULL, *user = NULL, *password = NULL;
	if (hs_url_split_credentials(url, &clean, &user, &password) < 0)
		return NULL;
	free(user);
	free(password);
	return clean;
}

/* A URL: it can only be or lie in another URL. */
static int check_url(const char *what, const char *path, const struct hs_place *places, size_t n,
		     bool both_ways)
{
	_cleanup_free_ char *a = clean_url(path);
	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct hs_place *pl = &places[i];
		if (!pl->where || !hs_place_is_url(pl->where))
			continue;
		_cleanup_free_ char *b = clean_url(pl->where);
		if (!b)
			return -ENOMEM;
		bool in = url_inside(a, b), holds = both_ways && url_inside(b, a);
		if (in && holds)
			return hs_err(EINVAL, "%s %s is %s itself", what, a, pl->what);
		if (in)
			return hs_err(EINVAL, "%s %s is inside %s %s", what, a, pl->what, b);
		if (holds)
			return hs_err(EINVAL, "%s %s holds %s %s", what, a, pl->what, b);
	}
	return 0;
}

int hs_places_check(const char *what, const char *path, const struct hs_place *places, size_t n,
		    bool both_ways)
{
	if (!path || !*path)
		return 0;
	if (hs_place_is_url(path))
		return check_url(what, path, places, n, both_ways);
	char cpath[PATH_MAX];
	int r = hs_path_canon(path, cpath, sizeof cpath);
	if (r < 0)
		return hs_err(-r, "cannot resolve %s %s: %s", what, path, strerror(-r));
	for (size_t i = 0; i < n; i++) {
		const struct hs_place *pl = &places[i];
		if (!pl->where || !*pl->where || hs_place_is_url(pl->where))
			continue;
		if ((r = check_one(what, path, cpath, pl, both_ways)) < 0)
			return r;
	}
	return 0;
}

/* What a command writes must stay apart from what it reads: a restore's
 * TARGET must not be a file of its own store, a spare's state must not lie
 * in the store or under its own mountpoint, a shipped drive must not be the
 * store itself. Checked up front, before anything is created or locked. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* A place a command reads or keeps apart: a store or seed (a directory, or a
 * URL, which holds no local path), a SOURCE image, a state directory. */
struct hs_place {
	const char *what;  /* for the message: "the store", "seed", "SOURCE", ... */
	const char *where; /* NULL or "" entries are skipped */
};

/* 0 if path (what names it in the message: "TARGET", "MOUNTPOINT") is not
 * one of the places and does not lie inside one, nor (both_ways) holds one;
 * path need not exist yet. -EINVAL with a one-line message naming both
 * otherwise; -errno if a path cannot be resolved. */
int hs_places_check(const char *what, const char *path, const struct hs_place *places, size_t n,
		    bool both_ways);

/* True if where names a store over the network (http://, https://, s3://). */
bool hs_place_is_url(const char *where);

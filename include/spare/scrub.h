/* Scrubbing a spare's state: the bytes of every chunk the state holds from
 * the point (present chunks, and the holes of zero chunks) are checked
 * against the point's digests, and the ones that do not match are fetched
 * again from the seeds or the store. Chunks the guest wrote have nothing to
 * be checked against: they are counted. Works on a running spare (through
 * its control socket, so its in-memory map changes under its own locks) and
 * on a state no daemon uses; a daemon runs it at mount after an unclean stop.
 * Readers never see an unchecked chunk meanwhile: a suspect chunk is checked
 * before it is read (see hs_spare_suspect). */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hs_spare;
struct hs_spare_set;
struct hs_progress;

struct hs_scrub_stats {
	uint64_t chunks_checked; /* present chunks and zero chunks' holes checked */
	uint64_t bytes_checked;
	uint64_t chunks_bad;     /* did not match the point */
	uint64_t chunks_repaired; /* of those, replaced by a good copy */
	uint64_t chunks_failed;  /* still unchecked or bad: reads of them fail with EIO */
	uint64_t chunks_written; /* written by the guest: cannot be checked */
	uint64_t chunks_absent;  /* not in the state yet: fetched (and checked) when read */
	double seconds;
};

/* Scrub sp on threads threads (0: one per CPU): every chunk it holds (all),
 * or only those already suspect (after an unclean stop). stop (may be NULL)
 * cuts it short when set. 0 (stats filled; failures are counted, not
 * errors), or -errno. */
int hs_scrub(struct hs_spare *sp, bool all, unsigned threads, atomic_int *stop, struct hs_progress *progress,
	     struct hs_scrub_stats *st);

/* hs_scrub on every disk of a set, one after another, the counts added up. */
int hs_scrub_set(struct hs_spare_set *set, bool all, unsigned threads, atomic_int *stop,
		 struct hs_progress *progress, struct hs_scrub_stats *st);

/* Scrub the state in dir (every disk of its point) that no daemon uses: its point is read from the
 * store it records (or store, if not NULL), chunks are fetched again from the
 * seeds first. A disk.img that something cut short is grown back and all of
 * it checked, unless chunks the guest wrote were in the part cut off (then
 * -EIO: those writes are lost). -EBUSY when a daemon uses the state. */
int hs_scrub_state(const char *dir, const char *store, char **seeds, size_t nseeds,
		   struct hs_progress *progress, struct hs_scrub_stats *st);

struct hs_scrub_bg;

/* Scrub sp in the background on one thread (a daemon whose state was not
 * closed cleanly: readers check what they read meanwhile); the summary goes
 * to stderr (the daemon's log) when done. 0 or -errno. */
int hs_scrub_start(struct hs_spare *sp, struct hs_scrub_bg **out);

/* Stop a background scrub (at unmount) and wait for it. NULL is fine. */
void hs_scrub_stop(struct hs_scrub_bg *b);

/* The one-line summary of st (for the command and the daemon's log). */
void hs_scrub_summary(const struct hs_scrub_stats *st, char *out, size_t cap);

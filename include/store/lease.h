/* What retention (jobs/prune, jobs/gc) must know of the work going on in a
 * store, on any host, kept in the store itself as small objects:
 *
 *   leases/<holder>.json    points in use (a spare, a drill, a restore, a raw
 *                           export, a replicate's source): {host, pid, what,
 *                           started, expires, points: ["SERVER@ID", ...]}.
 *                           prune keeps every point an unexpired lease names.
 *   writers/<holder>.json   a process that may name chunks it found in the
 *                           store (capture, checkpoint, replicate into it):
 *                           {host, pid, what, started, renewed}. gc deletes
 *                           nothing such a writer may have seen as present.
 *
 * <holder> is HOST-PID-NONCE. Each holder renews its object from a thread of
 * its own (a lease every fifth of its life, a writer every minute), so a
 * crashed host's objects die by themselves; releasing removes the object.
 * Times are UTC seconds of the holder's clock: hosts' clocks must agree to
 * within HS_CLOCK_SKEW_SECONDS. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/store.h"

#define HS_LEASE_SECONDS 300        /* a lease's life without renewal (HOTSPARE_LEASE_SECONDS: 2-86400) */
#define HS_LEASE_MAX_SECONDS 86400  /* the longest life a holder gives its lease */
#define HS_WRITER_RENEW_SECONDS 60  /* a writer renews its registration this often */
#define HS_WRITER_DEAD_SECONDS 900  /* not renewed for this long: the writer is dead */
#define HS_WRITER_STALE_SECONDS 300 /* a writer not renewed for this long writes no point */
#define HS_CLOCK_SKEW_SECONDS 300   /* how far hosts' clocks may disagree */

struct hs_lease;
struct hs_writer;

/* Record that the n points are in use (what says by what: "mount", "drill",
 * "restore", ...), and keep the record renewed until hs_lease_release. Then
 * check that each point is still in the store: a prune that decided before
 * the lease appeared may have removed one: with gone NULL that is -ENOENT
 * (with a message, nothing left behind), else gone[i] is set for each point
 * removed (the caller leaves it alone). A store that refuses the record
 * (read-only, unreachable) is no reason to fail the work: one warning line on
 * stderr, and the renewals keep trying. 0 with *out set, -ENOENT, -ENOMEM. */
int hs_lease_take(struct hs_store *st, const struct hs_point_ref *points, size_t n, const char *what,
		  bool *gone, struct hs_lease **out);

/* hs_lease_take of one point. */
int hs_lease_take1(struct hs_store *st, const char *server, const char *id, const char *what,
		   struct hs_lease **out);

/* hs_lease_take1 through a store handle of the lease's own (the store at
 * where, opened without needing its key), for a caller whose handle may be
 * closed before the lease ends; hs_lease_release closes it. */
int hs_lease_open(const char *where, const char *server, const char *id, const char *what,
		  struct hs_lease **out);

/* Stop renewing and remove the record (NULL is fine). The store must still be
 * open (unless the lease has its own: hs_lease_open). */
void hs_lease_release(struct hs_lease *l);

/* Register a writer in st (durably, before it asks the store whether it holds
 * any chunk) and keep the registration renewed until hs_writer_done; while
 * registered, st refuses to write a point (-ESTALE, with a message) once the
 * registration has not been renewed for HS_WRITER_STALE_SECONDS (the process
 * was stopped, the store unreachable: gc may have taken it for dead). 0 with
 * *out set, or -errno with a message (nothing is written then). */
int hs_writer_register(struct hs_store *st, const char *what, struct hs_writer **out);

/* Remove the registration (after the point is written; NULL is fine). */
void hs_writer_done(struct hs_writer *w);

/* A lease as listed. */
struct hs_lease_info {
	char name[96];      /* the object's name under leases/, without ".json" */
	char host[64];
	int pid;
	char what[32];
	int64_t started, expires;
	int64_t written;    /* the object's last write by the store's clock, or 0 */
	bool unreadable;    /* not a lease (damaged, foreign): names no point */
	struct hs_point_ref *points;
	size_t npoints;
};

/* Every lease in st, expired ones too. A lease's expires is its holder's
 * claim, but no later than HS_LEASE_MAX_SECONDS + HS_CLOCK_SKEW_SECONDS past
 * its last write in the store (by the store's clock, where the kind tells
 * it): a lease nobody rewrote for a day names nothing, whatever time it
 * claims. An object under leases/ that is not a lease is listed unreadable,
 * naming nothing and expiring as long after its write (then gc removes it).
 * Free with hs_leases_free. 0, -ENOTSUP (a kind that cannot list), -errno. */
int hs_leases_list(struct hs_store *st, struct hs_lease_info **out, size_t *n);
void hs_leases_free(struct hs_lease_info *v, size_t n);

/* True if an unexpired lease of v names server@id; by, when given, gets
 * "WHAT on HOST (pid N)" of the first such lease. */
bool hs_leases_name(const struct hs_lease_info *v, size_t n, int64_t now, const char *server, const char *id,
		    char *by, size_t cap);

/* A writer registration as listed. */
struct hs_writer_info {
	char name[96];
	char host[64];
	int pid;
	char what[32];
	int64_t started, renewed;
	char proc[200];      /* the holder's boot and pid and time namespaces, or "" */
	bool unreadable;     /* damaged: judged by its last write (renewed) alone */
	uint64_t pid_start;  /* its process's start (hs_proc_start), or 0 */
};

/* Every writer registration in st, damaged ones too (started 0, renewed
 * their last write by the store's clock). 0, -ENOTSUP, -errno. */
int hs_writers_list(struct hs_store *st, struct hs_writer_info **out, size_t *n);

/* True if w is alive at now: renewed within HS_WRITER_DEAD_SECONDS and, when
 * it runs where this process can see its pid (the same boot, pid namespace
 * and time namespace), its process still the one that registered (a writer
 * killed here is dead at once, not 15 minutes later). */
bool hs_writer_alive(const struct hs_writer_info *w, int64_t now);

/* Remove a lease or a registration by its listed name (gc: expired and
 * dead ones). 0, -ENOENT, -errno. */
int hs_lease_remove(struct hs_store *st, const char *name);
int hs_writer_remove(struct hs_store *st, const char *name);

/* A writer lock (locks/SERVER.lock) held now, as far as can be told: a lock
 * file or object whose holder runs on this host, or on another host (which
 * cannot be asked). */
struct hs_lock_info {
	char server[HS_SERVER_MAX + 1];
	char host[64];
	int pid;
	int64_t since; /* when it was taken (UTC seconds, the store's clock) */
};

/* The writer locks held in st. 0, -ENOTSUP, -errno. */
int hs_locks_held(struct hs_store *st, struct hs_lock_info **out, size_t *n);

/* True if a live registration among w (nw of them) is the lock holder's:
 * the same host and pid. A writer takes its lock, then registers: a lock
 * taken a moment ago may not be registered yet (see HS_LOCK_REGISTER_SECONDS). */
bool hs_lock_registered(const struct hs_lock_info *l, const struct hs_writer_info *w, size_t nw, int64_t now);

/* How long a writer may hold its lock before its registration appears. */
#define HS_LOCK_REGISTER_SECONDS 30

/* This host's name, as leases and registrations record it. */
const char *hs_lease_host(void);

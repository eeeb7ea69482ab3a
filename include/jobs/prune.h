/* Prune: which points of a server to keep, by retention rules that work like
 * Proxmox Backup Server's (each rule counts within its own periods: days,
 * ISO weeks, months, years, in UTC; a period already kept by an earlier rule
 * costs a later one nothing), plus what is always kept: the newest point, the
 * newest snapshot (the current drive's basis, which backups deduplicate
 * against) and every point an unexpired lease names (store/lease.h). The
 * other points go to trash/points/ (store.h), where gc deletes them.
 *
 * prune takes no writer lock, so a capture beside it never fails: a capture
 * counts on the newest point and the newest snapshot, which prune keeps (the
 * newest it sees is the capture's, or the one the capture started from),
 * and on chunks it found present, which its writer registration keeps from
 * gc (jobs/gc.h). One prune of a server at a time (locks/.prune-SERVER.lock;
 * a second is skipped and says so). A server's manifest (for stores that
 * cannot list) is rewritten from its listing; a capture writing beside may
 * leave it one point behind or ahead until the server's next write. It
 * needs no key. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/name.h"
#include "store/store.h"

struct hs_prune_rules {
	unsigned last, daily, weekly, monthly, yearly; /* 0: the rule is not given */
};

/* Why a point is kept (a bit per reason; none: it goes). */
enum {
	HS_KEEP_LAST = 1u << 0,
	HS_KEEP_DAILY = 1u << 1,
	HS_KEEP_WEEKLY = 1u << 2,
	HS_KEEP_MONTHLY = 1u << 3,
	HS_KEEP_YEARLY = 1u << 4,
	HS_KEEP_NEWEST = 1u << 5,     /* the server's newest point */
	HS_KEEP_SNAPSHOT = 1u << 6,   /* its newest snapshot */
	HS_KEEP_IN_USE = 1u << 7,     /* a lease names it */
	HS_KEEP_UNREADABLE = 1u << 8, /* its header cannot be read: never judged */
};

/* One point as prune judges it. */
struct hs_prune_point {
	char id[HS_POINT_ID_LEN + 1];
	uint32_t kind;
	int64_t time;
	char base[HS_POINT_ID_LEN + 1]; /* a backup's snapshot */
	bool shipped;                   /* a snapshot whose chunks went to a drive */
	bool unreadable;
	bool in_use;
	char in_use_by[160];            /* "mount on HOST (pid N)" */
	/* set by hs_prune_select */
	unsigned reasons;               /* HS_KEEP_*; 0: removed */
	char drive[HS_POINT_ID_LEN + 1]; /* the drive (snapshot id) whose chunks it needs, or "" */
};

/* Judge one server's points (v, oldest first; the fields above "set by"
 * filled in): set each one's reasons and the drive it needs. */
void hs_prune_select(struct hs_prune_point *v, size_t n, const struct hs_prune_rules *rules);

/* The reasons as words joined by ", " ("daily, weekly") into out. */
void hs_prune_reasons(unsigned reasons, char *out, size_t cap);

/* What prune did (or, dry run, would do) to one server. */
struct hs_prune_server {
	char name[HS_SERVER_MAX + 1];
	struct hs_prune_point *points; /* oldest first */
	size_t npoints, removed;
	char (*drives_freed)[HS_POINT_ID_LEN + 1]; /* drives no kept point needs any more */
	size_t ndrives_freed;
	char skipped[512];             /* why the server was left alone (busy), or "" */
};

struct hs_prune_opts {
	struct hs_store *store;        /* opened without its key is fine */
	char *const *servers;          /* the servers to prune; none: every server */
	size_t nservers;
	struct hs_prune_rules rules;
	bool dry_run;                  /* decide and report, change nothing (no lock either) */
	int64_t now;                   /* UTC seconds leases are judged at (0: the clock) */
};

struct hs_prune_result {
	struct hs_prune_server *servers;
	size_t nservers;
	size_t kept, removed;
	double seconds;
};

/* Prune the servers. Refused before anything changes (-EINVAL/-ENOENT/
 * -EBUSY with a message): no rule, an invalid or unknown server, a store that
 * cannot list or move objects (a web server), a server being written by a
 * process that registered no writer (an older hotspare). A server another
 * prune works on is skipped (its skipped says why). 0, or the first failure
 * (-errno with a message; res says what was done before it). Free res with
 * hs_prune_free. */
int hs_prune(const struct hs_prune_opts *o, struct hs_prune_result *res);
void hs_prune_free(struct hs_prune_result *res);

/* The drive point p needs among a server's points v (oldest first): a
 * shipped snapshot needs its own, a backup its base snapshot's when that was
 * shipped (or is not there any more to ask). "" for none. */
void hs_prune_drive(const struct hs_prune_point *v, size_t n, const struct hs_prune_point *p,
		    char out[HS_POINT_ID_LEN + 1]);

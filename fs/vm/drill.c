/* Drills; see drill.h. Every step is timed and recorded; whatever fails, the
 * domain is destroyed, the browses and the mount removed, the throw-away
 * state deleted and the report written. */
#include "vm/drill.h"
#include "basics/cleanup.h"
#include "basics/clock.h"
#include "basics/err.h"
#include "basics/mounts.h"
#include "basics/progress.h"
#include "jobs/verify.h"
#include "spare/fuse_ops.h"
#include "spare/hydrate.h"
#include "spare/readahead.h"
#include "spare/set.h"
#include "spare/trace.h"
#include "store/lease.h"
#include "store/store.h"
#include "vm/browse.h"
#include "vm/domain.h"
#include "vm/drills.h"
#include "vm/screenshot.h"
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <libvirt/virterror.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

volatile sig_atomic_t hs_drill_interrupted;

/* Hydration threads per disk: the drill's state is throw-away, and the
 * restore is timed. */
#define DRILL_HYDRATE_THREADS 2
/* A restore that made no progress this long after an error has stalled. */
#define RESTORE_STALL_S 60

struct drill {
	const struct hs_drill_opts *o;
	struct hs_report *rep;
	struct timespec t0;
	char work[4096], mnt[4200], state[4200], console[4300], browse[4300];
	char image[HS_DISKS_MAX][4300]; /* every disk's image on the mount; the first boots */
	char report_dir[4200];
	struct hs_store *store;
	struct hs_point *p;    /* the point's header */
	struct hs_spare_set *set;
	struct hs_lease *lease; /* the point is in use until the teardown */
	struct hs_fuse *fuse;
	pthread_t serve_thread;
	bool serving;
	dev_t fuse_dev;        /* the mount's device: its FUSE connection, to abort if need be */
	virConnectPtr conn;
	virDomainPtr dom;
	struct hs_domain_spec spec;
	char name[128];
	double dom_start;      /* when the domain (last) started */
	/* What the boot read, taken when it was up (or when it failed). */
	bool booted_snap;
	uint64_t *trace[HS_DISKS_MAX];
	size_t ntrace[HS_DISKS_MAX];
	/* The restore: hydration, and a thread noting when every chunk is local. */
	bool hydrating;
	pthread_t watch_thread;
	bool watching;
	atomic_bool watch_stop;
	_Atomic double restore_at; /* seconds from the start; negative: not yet */
	/* The checks' browses of the disks (WORK/browse/DISK), NULL where none. */
	struct hs_browse *browsed[HS_DISKS_MAX];
	char browse_err[HS_DISKS_MAX][256];
	struct hs_screen screen;
};

static double now_s(const struct drill *d)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - d->t0.tv_sec) + (double)(t.tv_nsec - d->t0.tv_nsec) / 1e9;
}

static struct hs_report_step *step_begin(struct drill *d, const char *name)
{
	struct hs_report *r = d->rep;
	struct hs_report_step *s = &r->steps[r->nsteps < HS_REPORT_MAX_STEPS ? r->nsteps++ : HS_REPORT_MAX_STEPS - 1];
	snprintf(s->name, sizeof s->name, "%s", name);
	s->start = now_s(d);
	s->ok = false;
	return s;
}

/* End a step: on failure its error (the engine's message, or msg) is recorded. */
static int step_end(struct drill *d, struct hs_report_step *s, int r, const char *msg)
{
	s->seconds = now_s(d) - s->start;
	s->ok = r == 0;
	if (r < 0) {
		const char *m = msg ? msg : hs_err_msg();
		snprintf(s->detail, sizeof s->detail, "%s", m ? m : strerror(-r));
		hs_report_error(d->rep, "%s: %s", s->name, s->detail);
	}
	return r;
}

static void *serve_main(void *arg)
{
	struct drill *d = arg;
	hs_fuse_serve(d->fuse, false);
	return NULL;
}

/* Which point, and whether it is to be drilled at all. 0, HS_DRILL_SKIPPED,
 * or -errno. */
static int do_resolve(struct drill *d)
{
	const struct hs_drill_opts *o = d->o;
	char server[HS_SERVER_MAX + 1], want[HS_POINT_ID_LEN + 1], id[HS_POINT_ID_LEN + 1];
	int r = hs_ref_parse(o->ref, server, want, NULL);
	if (r == 0 && !(d->p = malloc(sizeof *d->p)))
		r = -ENOMEM;
	if (r == 0)
		r = hs_store_open(o->store, &d->store);
	if (r == 0)
		r = hs_store_point_resolve(d->store, server, want, id);
	if (r == 0)
		r = hs_store_point_head(d->store, server, id, d->p);
	if (r < 0)
		return r;
	snprintf(d->rep->server, sizeof d->rep->server, "%s", d->p->server);
	snprintf(d->rep->point, sizeof d->rep->point, "%s", d->p->id);
	d->rep->point_time = d->p->time;
	d->rep->consistency = d->p->consistency;
	if (o->drills_dir && o->skip_proved) {
		r = hs_drills_proved(o->drills_dir, d->p->server, d->p->id, d->rep->proved);
		if (r < 0)
			return r;
		if (r == 1)
			return HS_DRILL_SKIPPED;
	}
	if (o->report_dir)
		snprintf(d->report_dir, sizeof d->report_dir, "%s", o->report_dir);
	else if ((r = hs_drills_report_dir(o->drills_dir, d->p->server, d->p->id, d->report_dir,
					   sizeof d->report_dir)) < 0)
		return r;
	/* The point is in use from here to the teardown (retention keeps it);
	 * a point already proved and skipped is not even leased. */
	return hs_lease_open(o->store, d->p->server, d->p->id, "drill", &d->lease);
}

/* The point's data must fit where the drill restores it. */
static int check_room(struct drill *d)
{
	uint64_t need = 0;
	for (unsigned k = 0; k < d->set->n; k++)
		need += hs_spare_data_bytes(d->set->disk[k]);
	struct statvfs sv;
	if (statvfs(d->work, &sv) < 0)
		return hs_err(errno, "%s: %s", d->work, strerror(errno));
	uint64_t room = (uint64_t)sv.f_bavail * sv.f_frsize;
	char a[16], b[16];
	if (room < need + need / 64)
		return hs_err(ENOSPC, "the work directory has %s free and the point holds %s of data: a drill restores "
				      "all of it (choose another --work-dir)", hs_fmt_bytes(room, a), hs_fmt_bytes(need, b));
	return 0;
}

/* Mount the point with a throw-away state in the work directory. */
static int do_mount(struct drill *d)
{
	const struct hs_drill_opts *o = d->o;
	struct hs_sources src;
	int r = hs_sources_open(d->store, o->seeds, o->nseeds, &src);
	d->store = NULL; /* the sources own it now, even on failure */
	if (r < 0)
		return r;
	/* Absolute: the image and console paths go to libvirt, which would
	 * resolve a relative one against its own directory. */
	const char *parent = o->work_dir ? o->work_dir : "/var/tmp";
	char abs[PATH_MAX];
	if (!realpath(parent, abs)) {
		hs_sources_close(&src);
		return hs_err(errno, "work directory %s: %s", parent, strerror(errno));
	}
	if ((size_t)snprintf(d->work, sizeof d->work, "%s/hotspare-drill-%s-XXXXXX", abs, d->p->server) >=
	    sizeof d->work) {
		hs_sources_close(&src);
		d->work[0] = 0;
		return hs_err(ENAMETOOLONG, "work directory %s: path too long", abs);
	}
	if (!mkdtemp(d->work)) {
		hs_sources_close(&src);
		d->work[0] = 0;
		return hs_err(errno, "cannot make a work directory under %s: %s", abs, strerror(errno));
	}
	/* libvirt's QEMU user must reach the image and the console file. */
	chmod(d->work, 0755);
	snprintf(d->mnt, sizeof d->mnt, "%s/mnt", d->work);
	snprintf(d->state, sizeof d->state, "%s/state", d->work);
	snprintf(d->console, sizeof d->console, "%s/console.log", d->work);
	snprintf(d->browse, sizeof d->browse, "%s/browse", d->work);
	if (mkdir(d->mnt, 0755) < 0) {
		hs_sources_close(&src);
		return hs_err(errno, "cannot create %s: %s", d->mnt, strerror(errno));
	}
	/* The store as the backend names it: credentials in a URL never reach a file. */
	char where[4096];
	snprintf(where, sizeof where, "%s", src.v[src.n - 1]->be->where);
	r = hs_spare_set_open(&src, d->p, d->state, where, false, &d->set);
	if (r < 0)
		return r;
	if ((r = check_room(d)) < 0)
		return r;
	for (unsigned k = 0; k < d->set->n; k++) {
		struct hs_spare *sp = d->set->disk[k];
		if (snprintf(d->image[k], sizeof d->image[k], "%s/%s", d->mnt, d->set->image[k]) >=
		    (int)sizeof d->image[k])
			return hs_err(ENAMETOOLONG, "the drill's mount path is too long");
		hs_spare_trace_start(sp);
	}
	/* Read-ahead makes the boot's trace and time what a mounted spare sees;
	 * hydration starts once the guest is up (hydrate_start). */
	hs_spare_set_start(d->set, 0, HS_READAHEAD_MAX_BYTES, NULL);
	struct hs_status_info info = { .store = where, .state_dir = d->state, .mountpoint = d->mnt,
				       .pid = (int)getpid() };
	r = hs_fuse_mount(d->set, &info, &d->fuse);
	if (r < 0)
		return r;
	if (pthread_create(&d->serve_thread, NULL, serve_main, d) != 0)
		return hs_err(EAGAIN, "cannot start the FUSE thread");
	d->serving = true;
	struct stat st;
	if (stat(d->mnt, &st) < 0)
		return hs_err(errno, "%s: %s", d->mnt, strerror(errno));
	d->fuse_dev = st.st_dev;
	return 0;
}

static int first_byte(struct drill *d)
{
	_cleanup_close_ int fd = open(d->image[0], O_RDONLY | O_CLOEXEC);
	char buf[4096];
	if (fd < 0 || pread(fd, buf, sizeof buf, 0) < 0)
		return hs_err(errno, "cannot read the first block of %s: %s", d->image[0], strerror(errno));
	return 0;
}

/* Keep the console's last lines for the report. */
static void console_tail(struct drill *d)
{
	_cleanup_close_ int fd = open(d->console, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return;
	size_t cap = sizeof d->rep->console_tail - 1;
	off_t from = st.st_size > (off_t)cap ? st.st_size - (off_t)cap : 0;
	ssize_t n = pread(fd, d->rep->console_tail, cap, from);
	if (n < 0)
		n = 0;
	d->rep->console_tail[n] = 0;
	/* Start at a line boundary; drop carriage returns and NULs. */
	char *s = d->rep->console_tail, *nl = from ? strchr(s, '\n') : NULL;
	if (nl)
		memmove(s, nl + 1, strlen(nl + 1) + 1);
	size_t w = 0;
	for (size_t i = 0; s[i]; i++)
		if (s[i] != '\r')
			s[w++] = s[i];
	s[w] = 0;
}

/* Does the console show text? Scans the whole file: consoles are small. */
static bool console_has(struct drill *d, const char *text)
{
	_cleanup_close_ int fd = open(d->console, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char buf[65536];
	size_t keep = 0, tl = strlen(text);
	ssize_t n;
	while ((n = read(fd, buf + keep, sizeof buf - 1 - keep)) > 0) {
		size_t len = keep + (size_t)n;
		buf[len] = 0;
		if (memmem(buf, len, text, tl))
			return true;
		keep = tl < len ? tl : len; /* a match may straddle two reads */
		memmove(buf, buf + len - keep, keep);
	}
	return false;
}

/* Other work on this host may restart libvirtd under a drill; the guest
 * runs on (libvirtd finds its QEMU again). Connect again and find the
 * domain by its name. 0, -ENOENT (the domain is gone) or -errno. */
static int reconnect(struct drill *d)
{
	if (!d->conn || virConnectIsAlive(d->conn) == 1)
		return 0;
	for (int i = 0; i < 300 && !hs_drill_interrupted; i++) {
		virConnectPtr c = virConnectOpen(d->o->uri);
		if (c) {
			virDomainPtr dom = virDomainLookupByName(c, d->name);
			if (d->dom)
				virDomainFree(d->dom);
			virConnectClose(d->conn);
			d->conn = c;
			d->dom = dom;
			return dom ? 0 : hs_err(ENOENT, "the guest is gone (libvirt restarted)");
		}
		hs_sleep_ms(100);
	}
	return hs_err(ECONNREFUSED, "lost the connection to libvirt at %s: %s", d->o->uri, hs_virt_msg());
}

/* A screenshot, once more after a reconnection if libvirt went away. */
static int screenshot(struct drill *d, struct hs_screen *s)
{
	int r = reconnect(d);
	if (r == 0 && (r = hs_screenshot(d->conn, d->dom, s)) < 0 && virConnectIsAlive(d->conn) != 1 &&
	    reconnect(d) == 0)
		r = hs_screenshot(d->conn, d->dom, s);
	return r;
}

/* Keep s as the report's screenshot, taken at t. */
static void keep_screen(struct drill *d, struct hs_screen *s, double t)
{
	hs_screen_free(&d->screen);
	d->screen = *s;
	memset(s, 0, sizeof *s);
	d->rep->screen_seconds = t;
	d->rep->screen_note[0] = 0;
}

/* Take the report's screenshot now; a failure is noted, not fatal. */
static void take_screen(struct drill *d)
{
	struct hs_screen s;
	if (!d->dom)
		return;
	if (screenshot(d, &s) == 0)
		keep_screen(d, &s, now_s(d));
	else
		snprintf(d->rep->screen_note, sizeof d->rep->screen_note, "%s", hs_err_msg() ? hs_err_msg() : "failed");
}

/* Forward each guest port the checks (and --forward) name, once. */
static int plan_forwards(struct drill *d)
{
	const struct hs_drill_opts *o = d->o;
	struct hs_domain_spec *s = &d->spec;
	s->nforwards = 0;
	for (size_t i = 0; i < o->nchecks + o->nforward; i++) {
		int port = i < o->nchecks ? o->checks[i].port : o->forward[i - o->nchecks];
		if (i < o->nchecks && o->checks[i].kind != HS_CHECK_TCP && o->checks[i].kind != HS_CHECK_HTTP)
			continue;
		bool seen = false;
		for (size_t k = 0; k < s->nforwards; k++)
			seen |= s->guest_port[k] == port;
		if (seen)
			continue;
		if (s->nforwards == HS_MAX_FORWARDS)
			return hs_err(E2BIG, "more than %d guest ports to forward", HS_MAX_FORWARDS);
		int p = hs_free_port();
		if (p < 0)
			return hs_err(-p, "cannot find a free port on 127.0.0.1");
		s->guest_port[s->nforwards] = port;
		s->host_port[s->nforwards++] = p;
	}
	return 0;
}

static int host_port(const struct drill *d, int guest)
{
	for (size_t k = 0; k < d->spec.nforwards; k++)
		if (d->spec.guest_port[k] == guest)
			return d->spec.host_port[k];
	return -1;
}

/* Copy what the boot read (counters and trace) once: at the moment it is
 * up, or when it failed; what comes after is checks, browses and hydration. */
static void snap_boot(struct drill *d)
{
	struct hs_report *rep = d->rep;
	if (d->booted_snap || !d->set)
		return;
	d->booted_snap = true;
	for (unsigned k = 0; k < d->set->n; k++) {
		struct hs_spare *sp = d->set->disk[k];
		struct hs_report_disk *rd = &rep->disks[rep->ndisks++];
		snprintf(rd->name, sizeof rd->name, "%s", sp->ix->disk);
		rd->size = sp->ix->image_size;
		rd->boot_from_seed = atomic_load(&sp->from_seed);
		rd->boot_from_store = atomic_load(&sp->from_store);
		if (hs_spare_trace_get(sp, &d->trace[k], &d->ntrace[k]) < 0) {
			d->trace[k] = NULL;
			d->ntrace[k] = 0;
		}
		rd->boot_chunks = d->ntrace[k];
		rep->boot_from_seed += rd->boot_from_seed;
		rep->boot_from_store += rd->boot_from_store;
		rep->boot_chunks += rd->boot_chunks;
	}
	rep->boot_bytes = rep->boot_from_seed + rep->boot_from_store;
}

/* Whether every chunk of every disk is local. */
static bool restored(struct drill *d)
{
	for (unsigned k = 0; k < d->set->n; k++) {
		struct hs_spare *sp = d->set->disk[k];
		if (atomic_load(&sp->nlocal) < sp->ix->nchunks)
			return false;
	}
	return true;
}

static void *watch_main(void *arg)
{
	struct drill *d = arg;
	while (!atomic_load(&d->watch_stop)) {
		if (restored(d)) {
			atomic_store(&d->restore_at, now_s(d));
			break;
		}
		hs_sleep_ms(100);
	}
	return NULL;
}

/* Hydrate every disk (the restore) and watch for its end. */
static void hydrate_start(struct drill *d)
{
	if (d->hydrating || !d->set)
		return;
	d->hydrating = true;
	for (unsigned k = 0; k < d->set->n; k++) {
		struct hs_spare *sp = d->set->disk[k];
		/* No boot trace first: the boot is over. */
		if (hs_hydrate_start(sp, DRILL_HYDRATE_THREADS, NULL, 0, &sp->hyd) < 0) {
			sp->hyd = NULL;
			hs_report_error(d->rep, "restore: cannot start hydrating %s: %s", sp->ix->disk,
					hs_err_msg() ? hs_err_msg() : "no threads");
		}
	}
	atomic_store(&d->restore_at, -1.0);
	atomic_store(&d->watch_stop, false);
	d->watching = pthread_create(&d->watch_thread, NULL, watch_main, d) == 0;
}

static void watch_stop(struct drill *d)
{
	if (!d->watching)
		return;
	atomic_store(&d->watch_stop, true);
	pthread_join(d->watch_thread, NULL);
	d->watching = false;
}

/* Start (or restart) the domain and reset what the boot watches. */
static int start_domain(struct drill *d)
{
	close(open(d->console, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	int r = hs_domain_start_transient(d->conn, &d->spec, &d->dom);
	snprintf(d->rep->accelerator, sizeof d->rep->accelerator, "%s", d->spec.kvm ? "kvm" : "tcg");
	d->dom_start = now_s(d);
	return r;
}

/* libvirtd being restarted (a package upgrade, other work on this host)
 * has no socket for a moment: wait for it as reconnect() does, 30 s at
 * most; any other refusal (a wrong URI, no rights) fails at once. */
static virConnectPtr connect_waiting(const char *uri)
{
	for (int i = 0;; i++) {
		virConnectPtr c = virConnectOpen(uri);
		if (c)
			return c;
		virErrorPtr e = virGetLastError();
		bool restarting = e && e->code == VIR_ERR_SYSTEM_ERROR && (e->int1 == ENOENT || e->int1 == ECONNREFUSED);
		if (!restarting || i >= 300 || hs_drill_interrupted)
			return NULL;
		hs_sleep_ms(100);
	}
}

static int do_boot(struct drill *d)
{
	const struct hs_drill_opts *o = d->o;
	d->conn = connect_waiting(o->uri);
	if (!d->conn)
		return hs_err(ECONNREFUSED, "cannot connect to libvirt at %s: %s", o->uri, hs_virt_msg());
	snprintf(d->name, sizeof d->name, "hotspare-drill-%s-%d", d->p->server, (int)getpid());
	struct hs_domain_spec *s = &d->spec;
	s->name = d->name;
	for (unsigned k = 0; k < d->set->n; k++)
		s->images[k] = d->image[k];
	s->nimages = d->set->n;
	s->console_log = d->console;
	s->video = true;
	s->memory_mib = o->memory_mib;
	s->vcpus = o->vcpus;
	s->windows = o->windows;
	s->kvm = true;
	s->isolated_net = true;
	int r = plan_forwards(d);
	if (r < 0)
		return r;
	/* The console file is made here, so libvirt appends to an empty one. */
	if ((r = start_domain(d)) < 0)
		return r;
	double deadline = now_s(d) + o->timeout_s;
	double text_at = o->expect ? -1 : 0, screen_at = o->expect_screen ? -1 : 0;
	double steady_since = -1, next_look = 0, last_look = -1;
	bool shot = false, blank = false;
	struct hs_screen first = { 0 }; /* the first picture of the current steady run */
	for (;;) {
		double t = now_s(d), due = d->dom_start + o->screenshot_after_s;
		if (text_at < 0 && console_has(d, o->expect))
			text_at = t;
		/* A screenshot at a set time (without a screen to wait for). */
		if (!o->expect_screen && o->screenshot_after_s && !shot && t >= due) {
			take_screen(d);
			shot = true;
		}
		/* Waiting for a steady screen: from the set time, else from the text. */
		if (screen_at < 0 && t >= next_look && (o->screenshot_after_s ? t >= due : text_at >= 0)) {
			struct hs_screen cur;
			next_look = t + 1;
			if ((r = screenshot(d, &cur)) < 0)
				break;
			last_look = t;
			blank = hs_screen_blank(&cur);
			if (first.rgb && !blank && hs_screen_diff(&first, &cur) <= HS_SCREEN_SAME) {
				if (t - steady_since >= HS_DRILL_SCREEN_STEADY_S) {
					screen_at = steady_since;
					keep_screen(d, &cur, t);
				}
				hs_screen_free(&cur);
			} else {
				hs_screen_free(&first);
				first = cur;
				steady_since = t;
			}
		}
		bool up = text_at >= 0 && screen_at >= 0;
		if (!o->expect && !o->expect_screen)
			up = shot; /* only a set time: the guest ran until then */
		if (up && (shot || !o->screenshot_after_s || o->expect_screen))
			break;
		int state, reason;
		if (hs_drill_interrupted) {
			r = hs_err(EINTR, "interrupted");
			break;
		}
		if ((r = reconnect(d)) < 0)
			break;
		if (virDomainGetState(d->dom, &state, &reason, 0) < 0)
			state = VIR_DOMAIN_SHUTOFF;
		if (state == VIR_DOMAIN_PAUSED && s->kvm) {
			/* KVM that cannot run guests here stops them on an internal
			 * error, sometimes seconds in: start over under TCG. */
			hs_domain_kill(d->dom);
			d->dom = NULL;
			s->kvm = false;
			hs_kvm_mark_unusable();
			if ((r = start_domain(d)) < 0)
				break;
			text_at = o->expect ? -1 : 0;
			screen_at = o->expect_screen ? -1 : 0;
			hs_screen_free(&first);
			steady_since = -1;
			shot = false;
			continue;
		}
		const char *what = o->expect ? o->expect : "the screen";
		if (state == VIR_DOMAIN_SHUTOFF || state == VIR_DOMAIN_CRASHED || state == VIR_DOMAIN_PAUSED) {
			r = hs_err(EIO, "the guest %s before %s%s%s appeared", state == VIR_DOMAIN_PAUSED
				   ? "was paused (an emulation or I/O error)" : "stopped", o->expect ? "\"" : "", what,
				   o->expect ? "\" on its console" : "");
			break;
		}
		if (t > deadline) {
			if (text_at < 0)
				r = hs_err(ETIMEDOUT, "\"%s\" did not appear on the console within %d s", o->expect,
					   o->timeout_s);
			else if (screen_at < 0 && last_look < 0)
				r = hs_err(ETIMEDOUT, "the screen was not looked at within %d s (--screenshot-after is "
						      "beyond --timeout)", o->timeout_s);
			else if (screen_at < 0)
				r = hs_err(ETIMEDOUT, "the screen %s within %d s", blank ? "stayed blank"
					   : "did not stay the same for " "10 s", o->timeout_s);
			else
				r = hs_err(ETIMEDOUT, "no screenshot within %d s", o->timeout_s);
			break;
		}
		hs_sleep_ms(100);
	}
	if (o->expect_screen) {
		struct hs_report_check *c = &d->rep->checks[d->rep->nchecks++];
		snprintf(c->name, sizeof c->name, "screen");
		snprintf(c->kind, sizeof c->kind, "screen");
		c->run = true;
		c->ok = screen_at >= 0;
		c->seconds = screen_at >= 0 ? screen_at : now_s(d);
		if (c->ok)
			snprintf(c->detail, sizeof c->detail, "not blank and unchanged for %d s from %.1f s on",
				 HS_DRILL_SCREEN_STEADY_S, screen_at);
		else
			snprintf(c->detail, sizeof c->detail, "%s", blank ? "blank" : last_look < 0 ? "not looked at"
				 : "still changing");
	}
	if (r == 0) {
		double at = o->expect || o->expect_screen ? (text_at > screen_at ? text_at : screen_at)
							   : d->rep->screen_seconds;
		d->rep->startup_seconds = at;
		if (!shot && !o->expect_screen)
			take_screen(d); /* the screen when it came up */
	} else if (!d->screen.rgb) {
		/* What the screen said when it failed is often why. */
		take_screen(d);
		if (!d->screen.rgb && first.rgb)
			keep_screen(d, &first, last_look);
	}
	hs_screen_free(&first);
	return r;
}

/* A TCP or HTTP check through its forward, retried until it passes or its
 * time is up. */
/* A check's detail in the report, cut to fit (it quotes the guest's and the
 * browse's words, whose length nobody bounds). */
__attribute__((format(printf, 2, 3))) static void detail(struct hs_report_check *rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rc->detail, sizeof rc->detail, fmt, ap);
	va_end(ap);
}

static void net_check(struct drill *d, const struct hs_check *c, struct hs_report_check *rc)
{
	const struct hs_drill_opts *o = d->o;
	int hp = host_port(d, c->port);
	double start = now_s(d), deadline = start + (o->timeout_s < 60 ? o->timeout_s : 60);
	char why[256] = "no answer";
	rc->run = true;
	for (;;) {
		if (c->kind == HS_CHECK_TCP)
			rc->ok = hs_check_tcp_once(hp);
		else
			rc->ok = hs_check_http_once(hp, c->path, c->text, 5000, why, sizeof why) == 0;
		if (rc->ok || now_s(d) >= deadline || hs_drill_interrupted)
			break;
		hs_sleep_ms(c->kind == HS_CHECK_TCP ? 250 : 500);
	}
	rc->seconds = now_s(d) - start;
	if (rc->ok)
		detail(rc, "%s%sanswered through 127.0.0.1:%d in %.1f s",
			 c->kind == HS_CHECK_HTTP ? why : "", c->kind == HS_CHECK_HTTP ? "; " : "", hp, rc->seconds);
	else
		detail(rc, "%s through 127.0.0.1:%d within %.0f s", why, hp, rc->seconds);
}

/* Browse disk k of the point read-only under WORK/browse/DISK (once). */
static struct hs_browse *browse_disk(struct drill *d, unsigned k)
{
	if (d->browsed[k] || d->browse_err[k][0])
		return d->browsed[k];
	char dir[4400];
	snprintf(dir, sizeof dir, "%s/%s", d->browse, d->set->disk[k]->ix->disk);
	if ((mkdir(d->browse, 0755) < 0 && errno != EEXIST) || mkdir(dir, 0755) < 0) {
		snprintf(d->browse_err[k], sizeof d->browse_err[k], "cannot make %.200s: %s", dir, strerror(errno));
		return NULL;
	}
	hs_err_clear();
	if (hs_browse_image(d->image[k], dir, HS_BROWSE_SAFE, &d->browsed[k]) < 0) {
		d->browsed[k] = NULL;
		snprintf(d->browse_err[k], sizeof d->browse_err[k], "cannot browse the disk: %s",
			 hs_err_msg() ? hs_err_msg() : "failed");
	}
	return d->browsed[k];
}

static int disk_index(const struct drill *d, const char *name)
{
	for (unsigned k = 0; k < d->set->n; k++)
		if (!strcmp(d->set->disk[k]->ix->disk, name))
			return (int)k;
	return -1;
}

/* A file of the spare's disk, read from its browse. */
static void file_check(struct drill *d, const struct hs_check *c, struct hs_report_check *rc)
{
	double start = now_s(d);
	rc->run = true;
	int k = disk_index(d, c->disk);
	struct hs_browse *b = k >= 0 ? browse_disk(d, (unsigned)k) : NULL;
	if (k < 0) {
		char names[256] = "";
		for (unsigned i = 0; i < d->set->n; i++)
			snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
				 d->set->disk[i]->ix->disk);
		detail(rc, "the point has no disk %s (its disks: %s)", c->disk, names);
	} else if (!b) {
		detail(rc, "%.250s", d->browse_err[k]);
	} else {
		const struct hs_browse_part *part = NULL;
		char name[160], have[200] = "";
		for (size_t i = 0; i < b->n; i++) {
			hs_browse_part_name(&b->parts[i], name, sizeof name);
			if (!strcmp(name, c->part))
				part = &b->parts[i];
			if (b->parts[i].mounted)
				snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", have[0] ? ", " : "", name);
		}
		if (!part)
			detail(rc, "disk %s has no filesystem %s (it has: %s)", c->disk,
				 c->part, have[0] ? have : "none");
		else if (!part->mounted)
			detail(rc, "%s of disk %s is not readable: %.160s", c->part, c->disk,
				 part->note[0] ? part->note : "not mounted");
		else
			rc->ok = hs_check_file(part->dir, c->path, c->sha256, hs_now_s() + d->o->timeout_s, &hs_drill_interrupted,
					       rc->sha256, rc->detail, sizeof rc->detail) == 0;
	}
	rc->seconds = now_s(d) - start;
}

/* A program of the operator's, told the forwards and the browse. */
static void script_check(struct drill *d, const struct hs_check *c, struct hs_report_check *rc)
{
	char vars[8 + HS_MAX_FORWARDS][4400], ports[HS_MAX_FORWARDS * 16] = "";
	char *env[8 + HS_MAX_FORWARDS + 1];
	size_t n = 0;
	snprintf(vars[n++], sizeof vars[0], "HOTSPARE_SERVER=%s", d->p->server);
	snprintf(vars[n++], sizeof vars[0], "HOTSPARE_POINT=%s", d->p->id);
	snprintf(vars[n++], sizeof vars[0], "HOTSPARE_HOST=127.0.0.1");
	snprintf(vars[n++], sizeof vars[0], "HOTSPARE_BROWSE=%s", d->browse);
	for (size_t k = 0; k < d->spec.nforwards; k++) {
		snprintf(vars[n++], sizeof vars[0], "HOTSPARE_PORT_%d=%d", d->spec.guest_port[k], d->spec.host_port[k]);
		snprintf(ports + strlen(ports), sizeof ports - strlen(ports), "%s%d=%d", k ? " " : "",
			 d->spec.guest_port[k], d->spec.host_port[k]);
	}
	snprintf(vars[n++], sizeof vars[0], "HOTSPARE_PORTS=%s", ports);
	for (size_t i = 0; i < n; i++)
		env[i] = vars[i];
	env[n] = NULL;
	double start = now_s(d);
	rc->run = true;
	int r = hs_check_script(c->path, env, d->o->timeout_s, &hs_drill_interrupted, rc->output, sizeof rc->output,
				rc->detail, sizeof rc->detail);
	rc->ok = r == 0;
	rc->seconds = now_s(d) - start;
}

static int do_checks(struct drill *d, size_t first)
{
	const struct hs_drill_opts *o = d->o;
	bool files = false, scripts = false;
	for (size_t i = 0; i < o->nchecks && !hs_drill_interrupted; i++) {
		const struct hs_check *c = &o->checks[i];
		files |= c->kind == HS_CHECK_FILE;
		scripts |= c->kind == HS_CHECK_SCRIPT;
		if (c->kind == HS_CHECK_TCP || c->kind == HS_CHECK_HTTP)
			net_check(d, c, &d->rep->checks[first + i]);
	}
	if ((files || scripts) && !hs_drill_interrupted) {
		/* The disks hold still while they are browsed: the guest is paused
		 * (what a crash would leave), and runs again for the scripts. */
		if (reconnect(d) < 0 || virDomainSuspend(d->dom) < 0)
			hs_report_error(d->rep, "checks: cannot pause the guest: %s", hs_virt_msg());
		/* Scripts see every disk; file checks browse the disks they name. */
		for (unsigned k = 0; scripts && k < d->set->n && !hs_drill_interrupted; k++)
			if (!browse_disk(d, k))
				hs_report_error(d->rep, "checks: %s", d->browse_err[k]);
		for (size_t i = 0; i < o->nchecks && !hs_drill_interrupted; i++)
			if (o->checks[i].kind == HS_CHECK_FILE)
				file_check(d, &o->checks[i], &d->rep->checks[first + i]);
		if (scripts && (reconnect(d) < 0 || virDomainResume(d->dom) < 0))
			hs_report_error(d->rep, "checks: cannot resume the guest: %s", hs_virt_msg());
		for (size_t i = 0; i < o->nchecks && !hs_drill_interrupted; i++)
			if (o->checks[i].kind == HS_CHECK_SCRIPT)
				script_check(d, &o->checks[i], &d->rep->checks[first + i]);
	}
	if (hs_drill_interrupted)
		return hs_err(EINTR, "interrupted");
	size_t failed = 0;
	for (size_t i = 0; i < o->nchecks; i++)
		failed += !d->rep->checks[first + i].ok;
	if (failed)
		return hs_err(EHOSTUNREACH, "%zu of %zu checks failed", failed, o->nchecks);
	return 0;
}

static void bad_line(void *arg, const char *line)
{
	struct drill *d = arg;
	hs_report_error(d->rep, "verify: %s", line);
}

static int do_verify(struct drill *d)
{
	/* Every disk of the point, read from the store one at a time. */
	struct hs_point_ref ref = { 0 };
	snprintf(ref.server, sizeof ref.server, "%s", d->p->server);
	snprintf(ref.id, sizeof ref.id, "%s", d->p->id);
	struct hs_verify_opts vo = { .src = &d->set->src, .refs = &ref, .npoints = 1,
				     .bad = bad_line, .bad_arg = d };
	struct hs_verify_stats vs;
	int r = hs_verify(&vo, &vs);
	d->rep->verify_chunks = vs.chunks;
	d->rep->verify_bytes = vs.bytes;
	d->rep->verify_bad = vs.bad;
	return r;
}

/* Wait until hydration has made every chunk local (the restore). */
static int do_restore(struct drill *d, bool bad_chunks)
{
	struct hs_spare_status st;
	if (bad_chunks)
		return hs_err(EIO, "the point has %llu bad chunks: its data cannot be restored whole",
			      (unsigned long long)d->rep->verify_bad);
	double start = now_s(d), deadline = start + d->o->restore_timeout_s, progress_at = start;
	uint64_t last_local = 0;
	for (;;) {
		if (atomic_load(&d->restore_at) >= 0)
			return 0;
		hs_spare_set_status(d->set, &st);
		double t = now_s(d);
		if (st.chunks_present != last_local) {
			last_local = st.chunks_present;
			progress_at = t;
		}
		if (hs_drill_interrupted)
			return hs_err(EINTR, "interrupted");
		if (st.errors && t - progress_at > RESTORE_STALL_S)
			return hs_err(EIO, "stalled with %llu of %llu chunks local: %s", (unsigned long long)st.chunks_present,
				      (unsigned long long)st.chunks_total, st.last_error[0] ? st.last_error : "fetch errors");
		if (t > deadline)
			return hs_err(ETIMEDOUT, "%llu of %llu chunks local after %d s (--restore-timeout)",
				      (unsigned long long)st.chunks_present, (unsigned long long)st.chunks_total,
				      d->o->restore_timeout_s);
		hs_sleep_ms(100);
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Undo the browses (before the mount they read goes). 0 or the first -errno. */
static int unbrowse(struct drill *d)
{
	int r = 0;
	for (unsigned k = 0; d->set && k < d->set->n; k++) {
		if (!d->browsed[k])
			continue;
		int e = hs_browse_undo(d->browsed[k]->dir);
		if (e < 0 && r == 0)
			r = e;
		free(d->browsed[k]);
		d->browsed[k] = NULL;
	}
	return r;
}

/* Undo everything, whatever state the drill reached. */
static int teardown(struct drill *d)
{
	int r = 0;
	reconnect(d);
	if (d->dom) {
		hs_domain_kill(d->dom);
		d->dom = NULL;
	}
	/* A domain whose creation was cut short is still found by its name. */
	if (d->conn && d->name[0]) {
		virDomainPtr left = virDomainLookupByName(d->conn, d->name);
		if (left)
			hs_domain_kill(left);
	}
	if (d->conn) {
		virConnectClose(d->conn);
		d->conn = NULL;
	}
	r = unbrowse(d);
	watch_stop(d);
	if (d->serving) {
		hs_fuse_stop(d->fuse);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 5;
		if (pthread_timedjoin_np(d->serve_thread, NULL, &until) != 0) {
			/* The unmount was lazy and the connection lives on: a domain
			 * started meanwhile copied the mount into its QEMU's mount
			 * namespace. Nothing may read the drill's image any more. */
			if (d->fuse_dev)
				hs_fuse_conn_abort(d->fuse_dev);
			pthread_join(d->serve_thread, NULL);
		}
		d->serving = false;
	}
	if (d->fuse) {
		hs_fuse_destroy(d->fuse);
		d->fuse = NULL;
	}
	for (unsigned k = 0; d->set && k < d->set->n; k++) {
		struct hs_spare *sp = d->set->disk[k];
		char def[4096];
		const char *path = d->set->n == 1 ? d->o->trace_path : NULL;
		if (!path) {
			hs_trace_path_disk(sp->ix->server, d->set->n > 1 ? sp->ix->disk : NULL, def, sizeof def);
			path = def;
		}
		/* The boot's reads, in order: the next mount hydrates them first. */
		if (d->rep->passed && d->ntrace[k] && hs_trace_save(path, sp->ix, d->trace[k], d->ntrace[k]) < 0)
			hs_report_error(d->rep, "boot trace: %s", hs_err_msg());
		free(d->trace[k]);
		d->trace[k] = NULL;
	}
	hs_spare_set_close(d->set); /* the throw-away state goes with the work dir */
	d->set = NULL;
	free(d->p);
	d->p = NULL;
	hs_store_close(d->store);
	d->store = NULL;
	hs_lease_release(d->lease);
	d->lease = NULL;
	if (d->work[0] && nftw(d->work, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && r == 0)
		r = hs_err(errno, "cannot remove %s: %s", d->work, strerror(errno));
	return r;
}

/* Every check as "not run" until it runs. */
static size_t list_checks(struct drill *d)
{
	struct hs_report *rep = d->rep;
	size_t first = rep->nchecks;
	for (size_t i = 0; i < d->o->nchecks && first + i < HS_REPORT_MAX_CHECKS; i++) {
		struct hs_report_check *c = &rep->checks[first + i];
		hs_check_name(&d->o->checks[i], c->name, sizeof c->name);
		snprintf(c->kind, sizeof c->kind, "%s", hs_check_kind_name(d->o->checks[i].kind));
		snprintf(c->detail, sizeof c->detail, "not run: the guest did not come up");
		rep->nchecks++;
	}
	return first;
}

int hs_drill(const struct hs_drill_opts *o, struct hs_report *rep)
{
	struct drill d = { .o = o, .rep = rep };
	memset(rep, 0, sizeof *rep);
	atomic_init(&d.restore_at, -1.0);
	clock_gettime(CLOCK_MONOTONIC, &d.t0);
	rep->started = time(NULL);
	rep->startup_seconds = rep->restore_seconds = rep->online_seconds = -1;
	snprintf(rep->expect, sizeof rep->expect, "%s", o->expect ? o->expect : "");
	rep->expect_screen = o->expect_screen;
	snprintf(rep->accelerator, sizeof rep->accelerator, "-");
	char server[HS_SERVER_MAX + 1], want[HS_POINT_ID_LEN + 1];
	if (hs_ref_parse(o->ref, server, want, NULL) == 0)
		snprintf(rep->server, sizeof rep->server, "%s", server);
	if (o->report_dir)
		snprintf(d.report_dir, sizeof d.report_dir, "%s", o->report_dir);

	struct hs_report_step *s = step_begin(&d, "mount");
	int r = do_resolve(&d);
	/* A check naming a disk the point lacks is a mistake in the arguments:
	 * refused before anything starts, with no report. */
	for (size_t i = 0; r == 0 && i < o->nchecks; i++)
		if (o->checks[i].kind == HS_CHECK_FILE && hs_point_disk_find(d.p, o->checks[i].disk) < 0) {
			char names[256] = "";
			for (unsigned k = 0; k < d.p->ndisks; k++)
				snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? ", " : "",
					 d.p->disks[k].name);
			r = hs_err(ENOENT, "--check-file: point %s@%s has no disk %s (its disks: %s)", d.p->server, d.p->id,
				   o->checks[i].disk, names);
			hs_lease_release(d.lease);
			hs_store_close(d.store);
			free(d.p);
			return r;
		}
	if (r == HS_DRILL_SKIPPED || (r < 0 && !o->report_dir)) {
		/* Skipped, or no point to file a report under: nothing was started. */
		hs_lease_release(d.lease);
		hs_store_close(d.store);
		free(d.p);
		return r;
	}
	if (r == 0)
		r = do_mount(&d);
	step_end(&d, s, r, NULL);
	if (r == 0) {
		s = step_begin(&d, "first byte");
		r = step_end(&d, s, first_byte(&d), NULL);
	}
	bool booted = false;
	if (r == 0) {
		s = step_begin(&d, "boot");
		r = step_end(&d, s, do_boot(&d), NULL);
		rep->boot_seconds = s->seconds;
		snprintf(s->detail + strlen(s->detail), sizeof s->detail - strlen(s->detail), "%s%s",
			 s->detail[0] ? "; " : "", rep->accelerator);
		booted = r == 0;
	}
	/* What the boot read; then the restore goes on in the background. */
	snap_boot(&d);
	if (booted)
		hydrate_start(&d);
	size_t first = list_checks(&d);
	if (r == 0 && o->nchecks) {
		s = step_begin(&d, "checks");
		r = step_end(&d, s, do_checks(&d, first), NULL);
	}
	rep->working_seconds = now_s(&d);
	if (booted && r == 0)
		rep->online_seconds = o->nchecks ? rep->working_seconds : rep->startup_seconds;
	if (r < 0)
		console_tail(&d);
	bool browsed = false;
	for (unsigned k = 0; d.set && k < d.set->n; k++)
		browsed |= d.browsed[k] != NULL;
	if (d.dom || browsed) {
		s = step_begin(&d, "shutdown");
		reconnect(&d);
		hs_domain_kill(d.dom);
		d.dom = NULL;
		step_end(&d, s, unbrowse(&d), NULL);
	}
	/* Verify even after a failed boot: a bad chunk is often why it failed. */
	int v = 0;
	if (d.set && !hs_drill_interrupted) {
		s = step_begin(&d, "verify");
		v = step_end(&d, s, do_verify(&d), NULL);
		rep->verify_seconds = s->seconds;
		if (r == 0)
			r = v;
	}
	if (booted && !hs_drill_interrupted) {
		s = step_begin(&d, "restore");
		int e = step_end(&d, s, do_restore(&d, rep->verify_bad > 0), NULL);
		if (r == 0)
			r = e;
	}
	watch_stop(&d);
	if (atomic_load(&d.restore_at) >= 0) {
		rep->restore_seconds = atomic_load(&d.restore_at);
		struct hs_spare_status st;
		hs_spare_set_status(d.set, &st);
		rep->restore_bytes_from_seed = st.bytes_from_seed;
		rep->restore_bytes_from_store = st.bytes_from_store;
	}
	rep->passed = r == 0 && !hs_drill_interrupted;
	s = step_begin(&d, "teardown");
	step_end(&d, s, teardown(&d), NULL);
	rep->total_seconds = now_s(&d);
	/* Stopped by a signal: no verdict on the backup either way. */
	rep->interrupted = hs_drill_interrupted;
	if (rep->interrupted && rep->nerrors == 0)
		hs_report_error(rep, "interrupted");
	if (d.screen.png.len) {
		rep->screen_png = d.screen.png.data; /* the report owns the picture now */
		rep->screen_len = d.screen.png.len;
		rep->screen_width = d.screen.width;
		rep->screen_height = d.screen.height;
		d.screen.png.data = NULL;
		d.screen.png.len = 0;
	}
	hs_screen_free(&d.screen);
	if (!o->report_dir && o->drills_dir) {
		char parent[PATH_MAX + 80];
		snprintf(parent, sizeof parent, "%s/%s", o->drills_dir, rep->server);
		if ((mkdir(o->drills_dir, 0755) < 0 && errno != EEXIST) || (mkdir(parent, 0755) < 0 && errno != EEXIST))
			return hs_err(errno, "cannot create %s: %s", parent, strerror(errno));
	}
	int w = hs_report_write(rep, d.report_dir);
	if (w < 0)
		return w;
	/* Proved only once its report is there; a record that cannot be written
	 * means the next run drills the point again, and the report says why. */
	if (rep->passed && o->drills_dir && hs_drills_prove(o->drills_dir, rep->server, rep->point, rep->started) < 0) {
		hs_report_error(rep, "record of proved points: %s", hs_err_msg());
		if ((w = hs_report_write(rep, d.report_dir)) < 0)
			return w;
	}
	return rep->interrupted ? HS_DRILL_INTERRUPTED : rep->passed ? 0 : 1;
}

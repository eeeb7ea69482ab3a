/* Drills; see drill.h. Every step is timed and recorded; whatever fails, the
 * domain is destroyed, the mount removed, the throw-away state deleted and
 * the report written. */
#include "vm/drill.h"
#include "basics/cleanup.h"
#include "vm/domain.h"
#include "basics/err.h"
#include "spare/fuse_ops.h"
#include "spare/set.h"
#include "store/lease.h"
#include "store/store.h"
#include "spare/readahead.h"
#include "spare/trace.h"
#include "jobs/verify.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

volatile sig_atomic_t hs_drill_interrupted;

struct drill {
	const struct hs_drill_opts *o;
	struct hs_report *rep;
	struct timespec t0;
	char work[4096], mnt[4200], state[4200], console[4300];
	char image[HS_DISKS_MAX][4300]; /* every disk's image on the mount; the first boots */
	struct hs_store *store;
	struct hs_point *p;    /* the point's header */
	struct hs_spare_set *set;
	struct hs_lease *lease; /* the point is in use until the teardown */
	struct hs_fuse *fuse;
	pthread_t serve_thread;
	bool serving;
	virConnectPtr conn;
	virDomainPtr dom;
	struct hs_domain_spec spec;
	char name[128];
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

/* Load the point and mount it with a throw-away state in the work directory. */
static int do_mount(struct drill *d)
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
		r = hs_lease_open(o->store, server, id, "drill", &d->lease);
	if (r == 0)
		r = hs_store_point_head(d->store, server, id, d->p);
	if (r < 0)
		return r;
	snprintf(d->rep->server, sizeof d->rep->server, "%s", d->p->server);
	snprintf(d->rep->point, sizeof d->rep->point, "%s", d->p->id);
	d->rep->point_time = d->p->time;
	d->rep->consistency = d->p->consistency;

	struct hs_sources src;
	r = hs_sources_open(d->store, o->seeds, o->nseeds, &src);
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
	for (unsigned k = 0; k < d->set->n; k++) {
		struct hs_spare *sp = d->set->disk[k];
		snprintf(d->image[k], sizeof d->image[k], "%s/%s", d->mnt, d->set->image[k]);
		hs_spare_trace_start(sp);
	}
	/* Read-ahead makes the boot's trace and time what a mounted spare sees. */
	hs_spare_set_start(d->set, 0, HS_READAHEAD_MAX_BYTES, NULL);
	struct hs_status_info info = { .store = where, .state_dir = d->state, .mountpoint = d->mnt,
				       .pid = (int)getpid() };
	r = hs_fuse_mount(d->set, &info, &d->fuse);
	if (r < 0)
		return r;
	if (pthread_create(&d->serve_thread, NULL, serve_main, d) != 0)
		return hs_err(EAGAIN, "cannot start the FUSE thread");
	d->serving = true;
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

static int do_boot(struct drill *d)
{
	const struct hs_drill_opts *o = d->o;
	d->conn = virConnectOpen(o->uri);
	if (!d->conn)
		return hs_err(ECONNREFUSED, "cannot connect to libvirt at %s: %s", o->uri, hs_virt_msg());
	snprintf(d->name, sizeof d->name, "hotspare-drill-%s-%d", d->p->server, (int)getpid());
	struct hs_domain_spec *s = &d->spec;
	s->name = d->name;
	for (unsigned k = 0; k < d->set->n; k++)
		s->images[k] = d->image[k];
	s->nimages = d->set->n;
	s->console_log = d->console;
	s->memory_mib = o->memory_mib;
	s->vcpus = o->vcpus;
	s->windows = o->windows;
	s->kvm = true;
	s->isolated_net = true;
	for (size_t i = 0; i < o->nchecks; i++) {
		int p = hs_free_port();
		if (p < 0)
			return hs_err(-p, "cannot find a free port on 127.0.0.1");
		s->guest_port[i] = o->check_port[i];
		s->host_port[i] = p;
	}
	s->nforwards = o->nchecks;
	/* The console file is made here, so libvirt appends to an empty one. */
	close(open(d->console, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	int r = hs_domain_start_transient(d->conn, s, &d->dom);
	snprintf(d->rep->accelerator, sizeof d->rep->accelerator, "%s", s->kvm ? "kvm" : "tcg");
	if (r < 0)
		return r;
	double deadline = now_s(d) + o->timeout_s;
	while (!console_has(d, o->expect)) {
		int state, reason;
		if (hs_drill_interrupted)
			return hs_err(EINTR, "interrupted");
		if (virDomainGetState(d->dom, &state, &reason, 0) < 0)
			state = VIR_DOMAIN_SHUTOFF;
		if (state == VIR_DOMAIN_PAUSED && s->kvm) {
			/* KVM that cannot run guests here stops them on an internal
			 * error, sometimes seconds in: start over under TCG. */
			hs_domain_kill(d->dom);
			d->dom = NULL;
			s->kvm = false;
			hs_kvm_mark_unusable();
			snprintf(d->rep->accelerator, sizeof d->rep->accelerator, "tcg");
			close(open(d->console, O_WRONLY | O_TRUNC | O_CLOEXEC));
			r = hs_domain_start_transient(d->conn, s, &d->dom);
			if (r < 0)
				return r;
			continue;
		}
		if (state == VIR_DOMAIN_SHUTOFF || state == VIR_DOMAIN_CRASHED || state == VIR_DOMAIN_PAUSED)
			return hs_err(EIO, "the guest %s before \"%s\" appeared on its console",
				      state == VIR_DOMAIN_PAUSED ? "was paused (an emulation or I/O error)" : "stopped",
				      o->expect);
		if (now_s(d) > deadline)
			return hs_err(ETIMEDOUT, "\"%s\" did not appear on the console within %d s", o->expect,
				      o->timeout_s);
		struct timespec ts = { 0, 100 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* A TCP service answers through its forward: the connection is accepted and
 * not closed at once (a forward to a closed guest port is closed by QEMU). */
static bool tcp_answers(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool ok = false;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, 1000);
		char c;
		/* Quiet (a server waiting for a request) or a banner: alive. EOF: closed. */
		ok = n == 0 || (n > 0 && recv(fd, &c, 1, MSG_PEEK) > 0);
	}
	close(fd);
	return ok;
}

static int do_checks(struct drill *d)
{
	const struct hs_drill_opts *o = d->o;
	int failed = 0;
	for (size_t i = 0; i < o->nchecks; i++) {
		struct hs_report_check *c = &d->rep->checks[d->rep->nchecks++];
		snprintf(c->name, sizeof c->name, "TCP port %d", o->check_port[i]);
		double start = now_s(d), deadline = start + (o->timeout_s < 60 ? o->timeout_s : 60);
		while (!(c->ok = tcp_answers(d->spec.host_port[i])) && now_s(d) < deadline && !hs_drill_interrupted) {
			struct timespec ts = { 0, 250 * 1000000 };
			nanosleep(&ts, NULL);
		}
		c->seconds = now_s(d) - start;
		if (c->ok)
			snprintf(c->detail, sizeof c->detail, "answered through 127.0.0.1:%d in %.1f s",
				 d->spec.host_port[i], c->seconds);
		else
			snprintf(c->detail, sizeof c->detail, "no answer through 127.0.0.1:%d within %.0f s",
				 d->spec.host_port[i], c->seconds);
		failed += !c->ok;
	}
	if (failed)
		return hs_err(EHOSTUNREACH, "%d of %zu service checks failed", failed, o->nchecks);
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

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Undo everything, whatever state the drill reached. */
static int teardown(struct drill *d)
{
	int r = 0;
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
	if (d->serving) {
		hs_fuse_stop(d->fuse);
		pthread_join(d->serve_thread, NULL);
		d->serving = false;
	}
	if (d->fuse) {
		hs_fuse_destroy(d->fuse);
		d->fuse = NULL;
	}
	for (unsigned k = 0; d->set && k < d->set->n; k++) {
		struct hs_spare *sp = d->set->disk[k];
		uint64_t *v;
		size_t n;
		char def[4096];
		const char *path = d->set->n == 1 ? d->o->trace_path : NULL;
		if (!path) {
			hs_trace_path_disk(sp->ix->server, d->set->n > 1 ? sp->ix->disk : NULL, def, sizeof def);
			path = def;
		}
		/* The boot's reads, in order: the next mount hydrates them first. */
		if (d->rep->passed && hs_spare_trace_get(sp, &v, &n) == 0) {
			if (n && hs_trace_save(path, sp->ix, v, n) < 0)
				hs_report_error(d->rep, "boot trace: %s", hs_err_msg());
			free(v);
		}
	}
	hs_spare_set_close(d->set); /* the throw-away state goes with the work dir */
	d->set = NULL;
	free(d->p);
	d->p = NULL;
	hs_store_close(d->store);
	d->store = NULL;
	hs_lease_release(d->lease);
	d->lease = NULL;
	if (d->work[0] && nftw(d->work, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		r = hs_err(errno, "cannot remove %s: %s", d->work, strerror(errno));
	return r;
}

int hs_drill(const struct hs_drill_opts *o, struct hs_report *rep)
{
	struct drill d = { .o = o, .rep = rep };
	memset(rep, 0, sizeof *rep);
	clock_gettime(CLOCK_MONOTONIC, &d.t0);
	rep->started = time(NULL);
	snprintf(rep->expect, sizeof rep->expect, "%s", o->expect);
	snprintf(rep->accelerator, sizeof rep->accelerator, "-");
	char server[HS_SERVER_MAX + 1], want[HS_POINT_ID_LEN + 1];
	if (hs_ref_parse(o->ref, server, want, NULL) == 0)
		snprintf(rep->server, sizeof rep->server, "%s", server);

	struct hs_report_step *s = step_begin(&d, "mount");
	int r = step_end(&d, s, do_mount(&d), NULL);
	if (r == 0) {
		s = step_begin(&d, "first byte");
		r = step_end(&d, s, first_byte(&d), NULL);
	}
	if (r == 0) {
		s = step_begin(&d, "boot");
		r = step_end(&d, s, do_boot(&d), NULL);
		rep->boot_seconds = s->seconds;
		snprintf(s->detail + strlen(s->detail), sizeof s->detail - strlen(s->detail), "%s%s",
			 s->detail[0] ? "; " : "", rep->accelerator);
	}
	if (r == 0 && o->nchecks) {
		s = step_begin(&d, "checks");
		r = step_end(&d, s, do_checks(&d), NULL);
	}
	rep->working_seconds = now_s(&d);
	if (r < 0)
		console_tail(&d);
	for (unsigned k = 0; d.set && k < d.set->n; k++) {
		struct hs_spare *sp = d.set->disk[k];
		struct hs_report_disk *rd = &rep->disks[rep->ndisks++];
		snprintf(rd->name, sizeof rd->name, "%s", sp->ix->disk);
		rd->size = sp->ix->image_size;
		rd->boot_from_seed = atomic_load(&sp->from_seed);
		rd->boot_from_store = atomic_load(&sp->from_store);
		pthread_mutex_lock(&sp->fetch_lock);
		rd->boot_chunks = sp->ntrace;
		pthread_mutex_unlock(&sp->fetch_lock);
		rep->boot_from_seed += rd->boot_from_seed;
		rep->boot_from_store += rd->boot_from_store;
		rep->boot_chunks += rd->boot_chunks;
	}
	rep->boot_bytes = rep->boot_from_seed + rep->boot_from_store;
	if (d.dom) {
		s = step_begin(&d, "shutdown");
		hs_domain_kill(d.dom);
		d.dom = NULL;
		step_end(&d, s, 0, NULL);
	}
	/* Verify even after a failed boot: a bad chunk is often why it failed. */
	if (d.set && !hs_drill_interrupted) {
		s = step_begin(&d, "verify");
		int v = step_end(&d, s, do_verify(&d), NULL);
		rep->verify_seconds = s->seconds;
		if (r == 0)
			r = v;
	}
	rep->passed = r == 0 && !hs_drill_interrupted;
	s = step_begin(&d, "teardown");
	step_end(&d, s, teardown(&d), NULL);
	rep->total_seconds = now_s(&d);
	/* Stopped by a signal: no verdict on the backup either way. */
	rep->interrupted = hs_drill_interrupted;
	if (rep->interrupted && rep->nerrors == 0)
		hs_report_error(rep, "interrupted");
	int w = hs_report_write(rep, o->report_dir);
	if (w < 0)
		return w;
	return rep->interrupted ? HS_DRILL_INTERRUPTED : rep->passed ? 0 : 1;
}

/* Leases and writer registrations; see lease.h. One kind of holder serves
 * both: an object under leases/ or writers/, put again by a renewal thread
 * until it is released. */
#include "store/lease.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "basics/run.h"
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define OBJECT_MAX ((size_t)16 << 20) /* a lease names a few points; a replicate's many */

struct holder {
	struct hs_store *st;
	bool writer;
	char key[160];
	char what[32];
	int64_t started;
	double every;          /* seconds between renewals */
	unsigned ttl;          /* a lease's life */
	char **points;         /* "SERVER@ID" */
	size_t npoints;
	pthread_t thread;
	bool running;
	/* lock protects stop and last_ok: the renewal thread and its owner */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	double last_ok;        /* CLOCK_BOOTTIME of the last renewal that was stored */
	/* the guard the writer replaced in its store (restored when done) */
	int (*prev_guard)(void *);
	void *prev_guard_arg;
};

struct hs_lease {
	struct holder h;
	struct hs_store *own; /* the store handle hs_lease_open opened, or NULL */
};
struct hs_writer {
	struct holder h;
};

static char host_name[64];
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void host_init(void)
{
	if (gethostname(host_name, sizeof host_name - 1) < 0 || !host_name[0])
		snprintf(host_name, sizeof host_name, "localhost");
}

const char *hs_lease_host(void)
{
	pthread_once(&host_once, host_init);
	return host_name;
}

/* Seconds that count a stopped process's time too (unlike CLOCK_MONOTONIC
 * across a suspend): how long a writer has gone without a renewal. */
static double boot_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_BOOTTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A lease's life: HOTSPARE_LEASE_SECONDS (2..86400) or the default; a
 * value out of range is refused where a lease is taken. */
static int lease_ttl_env(unsigned *ttl)
{
	const char *v = getenv("HOTSPARE_LEASE_SECONDS");
	*ttl = HS_LEASE_SECONDS;
	if (!v || !*v)
		return 0;
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || *end || v[0] < '0' || v[0] > '9' || n < 2 || n > HS_LEASE_MAX_SECONDS)
		return -EINVAL;
	*ttl = (unsigned)n;
	return 0;
}

static unsigned lease_ttl(void)
{
	unsigned ttl;
	return lease_ttl_env(&ttl) == 0 ? ttl : HS_LEASE_SECONDS;
}

/* What lets another process here judge this one's pid: the boot (its whole
 * random id), the pid namespace and the time namespace (start times in
 * /proc/PID/stat count from its boot time). "" when /proc cannot tell them
 * all, or is another pid namespace's (its /proc/self is not getpid()). */
static char proc_id[200];
static pthread_once_t proc_id_once = PTHREAD_ONCE_INIT;

static void proc_id_init(void)
{
	char boot[64], self[32], want[32], pidns[64], timens[64];
	hs_proc_text("/proc/sys/kernel/random/boot_id", boot, sizeof boot);
	boot[strcspn(boot, "\n")] = 0;
	hs_proc_link("/proc/self", self, sizeof self);
	snprintf(want, sizeof want, "%ld", (long)getpid());
	hs_proc_link("/proc/self/ns/pid", pidns, sizeof pidns);
	if (hs_proc_link("/proc/self/ns/time", timens, sizeof timens) == -ENOENT)
		snprintf(timens, sizeof timens, "time:none"); /* a kernel without time namespaces */
	if (strlen(boot) == 36 && !strcmp(self, want) && pidns[0] && timens[0])
		snprintf(proc_id, sizeof proc_id, "%.36s/%.63s/%.63s", boot, pidns, timens);
}

static const char *proc_identity(void)
{
	pthread_once(&proc_id_once, proc_id_init);
	return proc_id;
}

/* The object's text as of now. */
static int holder_text(const struct holder *h, char **text)
{
	json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	int64_t now = (int64_t)time(NULL);
	json_object_object_add(o, "format", json_object_new_string(h->writer ? "hotspare-writer" : "hotspare-lease"));
	json_object_object_add(o, "host", json_object_new_string(hs_lease_host()));
	json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(o, "what", json_object_new_string(h->what));
	json_object_object_add(o, "started", json_object_new_int64(h->started));
	if (h->writer) {
		json_object_object_add(o, "renewed", json_object_new_int64(now));
		/* What lets a gc on this host tell the process is gone. */
		unsigned long long start = hs_proc_start((long)getpid());
		if (proc_identity()[0] && start) {
			json_object_object_add(o, "proc", json_object_new_string(proc_identity()));
			json_object_object_add(o, "pid_start", json_object_new_int64((int64_t)start));
		}
	} else {
		json_object_object_add(o, "expires", json_object_new_int64(now + h->ttl));
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < h->npoints; i++)
			json_object_array_add(a, json_object_new_string(h->points[i]));
		json_object_object_add(o, "points", a);
	}
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	int r = s && asprintf(text, "%s\n", s) >= 0 ? 0 : -ENOMEM;
	json_object_put(o);
	return r;
}

/* Store the object as of now; 0 or -errno. */
static int holder_put(struct holder *h)
{
	_cleanup_free_ char *text = NULL;
	int r = holder_text(h, &text);
	if (r == 0)
		r = h->st->be->ops->put(h->st->be, h->key, text, strlen(text), 0);
	if (r == 0) {
		HS_LOCK_SCOPE(&h->lock);
		h->last_ok = boot_s();
	}
	return r;
}

static void *renew_main(void *arg)
{
	struct holder *h = arg;
	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		double at = (double)t.tv_sec + (double)t.tv_nsec / 1e9 + h->every;
		t.tv_sec = (time_t)at;
		t.tv_nsec = (long)((at - (double)t.tv_sec) * 1e9);
		while (!h->stop && pthread_cond_timedwait(&h->wake, &h->lock, &t) == 0)
			;
		if (h->stop)
			break;
		pthread_mutex_unlock(&h->lock);
		/* A failure is retried at the next turn; the object expires by
		 * itself if renewals never get through. */
		if (holder_put(h) < 0)
			hs_err_clear();
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static int holder_init(struct holder *h, struct hs_store *st, bool writer, const char *what, unsigned ttl)
{
	h->st = st;
	h->writer = writer;
	snprintf(h->what, sizeof h->what, "%s", what);
	h->started = (int64_t)time(NULL);
	h->ttl = ttl;
	h->every = writer ? HS_WRITER_RENEW_SECONDS : h->ttl / 5.0;
	if (h->every < 0.5)
		h->every = 0.5;
	/* Object names keep to the characters of server names. */
	char host[41];
	snprintf(host, sizeof host, "%s", hs_lease_host());
	for (char *c = host; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
		      *c == '_' || *c == '.'))
			*c = '_';
	if (host[0] == '.')
		host[0] = '_';
	uint32_t nonce = 0;
	if (getrandom(&nonce, sizeof nonce, 0) != sizeof nonce)
		nonce = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)h;
	snprintf(h->key, sizeof h->key, "%s/%s-%d-%08x.json", writer ? "writers" : "leases", host, (int)getpid(),
		 nonce);
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

static int holder_start(struct holder *h)
{
	int e = pthread_create(&h->thread, NULL, renew_main, h);
	if (e)
		return hs_err(e, "cannot start a thread to renew %s in %s: %s", h->key, h->st->be->where, strerror(e));
	h->running = true;
	return 0;
}

/* Stop the renewals, remove the object, free. */
static void holder_end(struct holder *h)
{
	if (h->running) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_signal(&h->wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
	}
	/* The caller's message (a failure that ends the work) outlives this. */
	char msg[1024] = "";
	if (hs_err_msg())
		snprintf(msg, sizeof msg, "%s", hs_err_msg());
	int r = h->st->be->ops->remove(h->st->be, h->key);
	if (r == 0)
		r = h->st->be->ops->sync(h->st->be);
	/* Left behind (the store went away): it expires by itself. */
	hs_err_clear();
	if (msg[0])
		hs_err_set_msg(msg);
	for (size_t i = 0; i < h->npoints; i++)
		free(h->points[i]);
	free(h->points);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
}

int hs_lease_take(struct hs_store *st, const struct hs_point_ref *points, size_t n, const char *what,
		  bool *gone, struct hs_lease **out)
{
	*out = NULL;
	unsigned ttl;
	if (lease_ttl_env(&ttl) < 0)
		return hs_err(EINVAL, "HOTSPARE_LEASE_SECONDS=%s: not a whole number of seconds from 2 to 86400",
			      getenv("HOTSPARE_LEASE_SECONDS"));
	struct hs_lease *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	struct holder *h = &l->h;
	holder_init(h, st, false, what, ttl);
	h->points = calloc(n ? n : 1, sizeof *h->points);
	int r = h->points ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++, h->npoints++)
		if (asprintf(&h->points[i], "%s@%s", points[i].server, points[i].id) < 0) {
			h->points[i] = NULL;
			r = -ENOMEM;
		}
	if (r < 0) {
		holder_end(h);
		free(l);
		return r;
	}
	if (holder_put(h) < 0) {
		hs_warn(NULL, "cannot record in %s that %s%s is in use (%s); a prune there would not know (retrying)",
			st->be->where, h->points[0] ? h->points[0] : "",
			n > 1 ? " and others" : "", hs_err_msg() ? hs_err_msg() : "the store refused it");
		hs_err_clear();
	}
	r = holder_start(h);
	/* A prune that decided before the lease was there may have taken a point. */
	for (size_t i = 0; r == 0 && i < n; i++) {
		int e = hs_store_point_exists(st, points[i].server, points[i].id);
		if (gone)
			gone[i] = e == 0;
		if (e == 0 && !gone)
			r = hs_err(ENOENT, "point %s@%s is no longer in %s (pruned meanwhile)", points[i].server,
				   points[i].id, st->be->where);
		else if (e < 0)
			hs_err_clear(); /* the reads that follow will tell */
	}
	if (r < 0) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", hs_err_msg() ? hs_err_msg() : strerror(-r));
		holder_end(h);
		free(l);
		hs_err_set_msg(msg);
		return r;
	}
	*out = l;
	return 0;
}

int hs_lease_take1(struct hs_store *st, const char *server, const char *id, const char *what,
		   struct hs_lease **out)
{
	struct hs_point_ref ref;
	snprintf(ref.server, sizeof ref.server, "%s", server);
	snprintf(ref.id, sizeof ref.id, "%s", id);
	return hs_lease_take(st, &ref, 1, what, NULL, out);
}

int hs_lease_open(const char *where, const char *server, const char *id, const char *what,
		  struct hs_lease **out)
{
	*out = NULL;
	struct hs_store *st;
	int r = hs_store_open_flags(where, HS_OPEN_NOKEY, &st);
	if (r == 0)
		r = hs_lease_take1(st, server, id, what, out);
	if (r < 0) {
		hs_store_close(st);
		return r;
	}
	(*out)->own = st;
	return 0;
}

void hs_lease_release(struct hs_lease *l)
{
	if (!l)
		return;
	holder_end(&l->h);
	hs_store_close(l->own);
	free(l);
}

/* The store's point guard while a writer is registered. */
static int writer_guard(void *arg)
{
	struct holder *h = arg;
	pthread_mutex_lock(&h->lock);
	double age = boot_s() - h->last_ok;
	pthread_mutex_unlock(&h->lock);
	if (age <= HS_WRITER_STALE_SECONDS)
		return 0;
	return hs_err(ESTALE, "this writer's registration in %s was not renewed for %.0f s (the process was "
			      "stopped, or the store unreachable): gc may have counted it dead, so no point is "
			      "written; run it again", h->st->be->where, age);
}

int hs_writer_register(struct hs_store *st, const char *what, struct hs_writer **out)
{
	*out = NULL;
	struct hs_writer *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	struct holder *h = &w->h;
	holder_init(h, st, true, what, lease_ttl());
	/* Visible and durable before the first question about a chunk. */
	int r = holder_put(h);
	if (r == 0)
		r = st->be->ops->sync(st->be);
	if (r == 0)
		r = holder_start(h);
	if (r < 0) {
		char msg[1024];
		snprintf(msg, sizeof msg, "cannot register as a writer in %s: %s", st->be->where,
			 hs_err_msg() ? hs_err_msg() : strerror(-r));
		holder_end(h);
		free(w);
		return hs_err(-r, "%s", msg);
	}
	h->prev_guard = st->point_guard;
	h->prev_guard_arg = st->point_guard_arg;
	st->point_guard = writer_guard;
	st->point_guard_arg = h;
	*out = w;
	return 0;
}

void hs_writer_done(struct hs_writer *w)
{
	if (!w)
		return;
	struct holder *h = &w->h;
	if (h->st->point_guard_arg == h) {
		h->st->point_guard = h->prev_guard;
		h->st->point_guard_arg = h->prev_guard_arg;
	}
	holder_end(h);
	free(w);
}

/* ---- listing ---- */

struct names {
	char **v;
	int64_t *mtime; /* each object's last write (the store's clock), 0 if unknown */
	size_t n, cap, mcap;
};

static int add_name(struct names *ns, const char *name, int64_t mtime)
{
	size_t len = strlen(name);
	if (len <= 5 || len - 5 >= 96 || strcmp(name + len - 5, ".json") != 0)
		return 0;
	if (hs_grow(&ns->v, &ns->cap, ns->n + 1, sizeof *ns->v) < 0 ||
	    hs_grow(&ns->mtime, &ns->mcap, ns->n + 1, sizeof *ns->mtime) < 0 ||
	    !(ns->v[ns->n] = strndup(name, len - 5)))
		return -ENOMEM;
	ns->mtime[ns->n++] = mtime;
	return 0;
}

static int add_json_name(void *arg, const char *name)
{
	return add_name(arg, name, 0);
}

static int add_json_name_sized(void *arg, const char *name, uint64_t size, int64_t mtime)
{
	(void)size;
	return add_name(arg, name, mtime);
}

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	free(ns->mtime);
}

/* The names (without ".json") of the objects under dir, with their times
 * where the kind tells them. */
static int list_json(struct hs_store *st, const char *dir, struct names *ns)
{
	const struct hs_backend_ops *ops = st->be->ops;
	int r = ops->list_sized ? ops->list_sized(st->be, dir, add_json_name_sized, ns)
				: ops->list(st->be, dir, add_json_name, ns);
	if (r == -ENOTSUP)
		return hs_err(ENOTSUP, "%s cannot list its objects (a web server): run this on the directory it serves",
			      st->be->where);
	return r == -ENOENT ? 0 : r;
}

/* Read and parse dir/name.json; NULL (no error) when it is gone or not ours
 * (then *foreign is set: there, but not a FORMAT object). */
static int read_json(struct hs_store *st, const char *dir, const char *name, const char *format, json_object **out,
		     bool *foreign)
{
	*out = NULL;
	*foreign = false;
	char key[160];
	snprintf(key, sizeof key, "%s/%s.json", dir, name);
	struct hs_buf b = { .max = OBJECT_MAX };
	int r = st->be->ops->get(st->be, key, &b);
	if (r == -ENOENT) {
		hs_err_clear();
		return 0;
	}
	if (r == -EFBIG) { /* over OBJECT_MAX: read as not a record */
		hs_err_clear();
		hs_buf_free(&b);
		*foreign = true;
		return 0;
	}
	if (r < 0) {
		hs_buf_free(&b);
		return r;
	}
	if (!b.len) {
		hs_buf_free(&b);
		*foreign = true;
		return 0;
	}
	json_tokener *tok = json_tokener_new();
	json_object *o = tok ? json_tokener_parse_ex(tok, (const char *)b.data, (int)b.len) : NULL;
	if (tok)
		json_tokener_free(tok);
	hs_buf_free(&b);
	json_object *f;
	if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "format", &f) &&
	    json_object_is_type(f, json_type_string) && strcmp(json_object_get_string(f), format) == 0)
		*out = o;
	else
		json_object_put(o);
	*foreign = !*out;
	return 0;
}

static void jcopy(json_object *o, const char *k, char *out, size_t cap)
{
	json_object *v;
	out[0] = 0;
	if (json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string))
		snprintf(out, cap, "%s", json_object_get_string(v));
}

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int) ? json_object_get_int64(v)
											     : 0;
}

void hs_leases_free(struct hs_lease_info *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].points);
	free(v);
}

/* How long a lease last written at written (the store's clock; 0: not
 * known) may be believed: a day past that write. A write time not known, or
 * not yet come (beyond what clocks may disagree by), leaves its claim. */
static int64_t believe_until(int64_t written, int64_t now)
{
	const int64_t day = HS_LEASE_MAX_SECONDS + HS_CLOCK_SKEW_SECONDS;
	if (!written || written > now + HS_CLOCK_SKEW_SECONDS)
		return INT64_MAX;
	return written < now - 2 * day ? now - day : written + day;
}

int hs_leases_list(struct hs_store *st, struct hs_lease_info **out, size_t *n)
{
	int64_t now = (int64_t)time(NULL);
	*out = NULL;
	*n = 0;
	struct names ns = { 0 };
	int r = list_json(st, "leases", &ns);
	struct hs_lease_info *v = NULL;
	size_t m = 0, cap = 0;
	for (size_t i = 0; r == 0 && i < ns.n; i++) {
		json_object *o;
		bool foreign;
		r = read_json(st, "leases", ns.v[i], "hotspare-lease", &o, &foreign);
		if (r < 0 || (!o && !foreign))
			continue;
		if ((r = hs_grow(&v, &cap, m + 1, sizeof *v)) < 0) {
			json_object_put(o);
			break;
		}
		struct hs_lease_info *l = &v[m++];
		memset(l, 0, sizeof *l);
		snprintf(l->name, sizeof l->name, "%s", ns.v[i]);
		l->written = ns.mtime[i];
		if (!o) {
			/* Damaged or another program's: it names nothing, and goes
			 * a day after its write (a holder rewrites its lease far
			 * more often than that). */
			l->unreadable = true;
			l->expires = believe_until(l->written, now);
			continue;
		}
		jcopy(o, "host", l->host, sizeof l->host);
		jcopy(o, "what", l->what, sizeof l->what);
		l->pid = (int)jint(o, "pid");
		l->started = jint(o, "started");
		l->expires = jint(o, "expires");
		/* No holder gives its lease more than a day, and each renews it
		 * long before the end: a claim further out than that from the
		 * last write is a clock far ahead or a hand-made object, and
		 * must not keep a point forever. */
		int64_t until = believe_until(l->written, now);
		if (l->expires > until)
			l->expires = until;
		json_object *a;
		if (json_object_object_get_ex(o, "points", &a) && json_object_is_type(a, json_type_array)) {
			size_t k = json_object_array_length(a);
			l->points = calloc(k ? k : 1, sizeof *l->points);
			if (!l->points)
				r = -ENOMEM;
			for (size_t j = 0; r == 0 && j < k; j++) {
				json_object *e = json_object_array_get_idx(a, j);
				const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : "";
				const char *at = strchr(s, '@');
				struct hs_point_ref *p = &l->points[l->npoints];
				if (!at || (size_t)(at - s) > HS_SERVER_MAX || strlen(at + 1) > HS_POINT_ID_LEN)
					continue;
				snprintf(p->server, sizeof p->server, "%.*s", (int)(at - s), s);
				snprintf(p->id, sizeof p->id, "%s", at + 1);
				l->npoints++;
			}
		}
		json_object_put(o);
	}
	names_free(&ns);
	if (r < 0) {
		hs_leases_free(v, m);
		return r;
	}
	*out = v;
	*n = m;
	return 0;
}

bool hs_leases_name(const struct hs_lease_info *v, size_t n, int64_t now, const char *server, const char *id,
		    char *by, size_t cap)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].expires <= now)
			continue;
		for (size_t j = 0; j < v[i].npoints; j++)
			if (!strcmp(v[i].points[j].server, server) && !strcmp(v[i].points[j].id, id)) {
				if (by)
					snprintf(by, cap, "%s on %s (pid %d)", v[i].what, v[i].host, v[i].pid);
				return true;
			}
	}
	return false;
}

int hs_writers_list(struct hs_store *st, struct hs_writer_info **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	struct names ns = { 0 };
	int r = list_json(st, "writers", &ns);
	struct hs_writer_info *v = NULL;
	size_t m = 0, cap = 0;
	for (size_t i = 0; r == 0 && i < ns.n; i++) {
		json_object *o;
		bool foreign;
		r = read_json(st, "writers", ns.v[i], "hotspare-writer", &o, &foreign);
		if (r < 0 || (!o && !foreign))
			continue;
		if ((r = hs_grow(&v, &cap, m + 1, sizeof *v)) < 0) {
			json_object_put(o);
			break;
		}
		struct hs_writer_info *w = &v[m++];
		memset(w, 0, sizeof *w);
		snprintf(w->name, sizeof w->name, "%s", ns.v[i]);
		if (!o) {
			/* Damaged: it may be a live writer's, whose start is not
			 * known (0: before every move in the trash). Alive until
			 * it goes a writer's dead time unrewritten. */
			w->unreadable = true;
			w->renewed = ns.mtime[i];
			continue;
		}
		jcopy(o, "host", w->host, sizeof w->host);
		jcopy(o, "what", w->what, sizeof w->what);
		w->pid = (int)jint(o, "pid");
		w->started = jint(o, "started");
		w->renewed = jint(o, "renewed");
		jcopy(o, "proc", w->proc, sizeof w->proc);
		int64_t ps = jint(o, "pid_start");
		w->pid_start = ps > 0 ? (uint64_t)ps : 0;
		json_object_put(o);
	}
	names_free(&ns);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = m;
	return 0;
}

bool hs_writer_alive(const struct hs_writer_info *w, int64_t now)
{
	if (w->renewed <= now - HS_WRITER_DEAD_SECONDS)
		return false;
	/* Another host's, boot's or namespace's (or an older hotspare's)
	 * cannot be asked. Here, a pid whose process started at another time
	 * is a reused pid; none at all (kill: ESRCH) is a writer killed. */
	if (!w->proc[0] || !w->pid_start || w->pid <= 0 || !proc_identity()[0] || strcmp(w->proc, proc_identity()) != 0)
		return true;
	if (kill(w->pid, 0) < 0 && errno == ESRCH)
		return false;
	unsigned long long start = hs_proc_start(w->pid);
	return !start || start == w->pid_start;
}

static int remove_named(struct hs_store *st, const char *dir, const char *name)
{
	char key[160];
	snprintf(key, sizeof key, "%s/%s.json", dir, name);
	return st->be->ops->remove(st->be, key);
}

int hs_lease_remove(struct hs_store *st, const char *name)
{
	return remove_named(st, "leases", name);
}

int hs_writer_remove(struct hs_store *st, const char *name)
{
	return remove_named(st, "writers", name);
}

/* ---- writer locks ---- */

struct lock_names {
	struct names ns;
	int64_t *since;
	size_t cap;
};

static int add_lock_name(void *arg, const char *name, uint64_t size, int64_t mtime)
{
	(void)size;
	struct lock_names *l = arg;
	struct names *ns = &l->ns;
	size_t len = strlen(name);
	if (len <= 5 || len - 5 > HS_SERVER_MAX || strcmp(name + len - 5, ".lock") != 0)
		return 0;
	if (hs_grow(&ns->v, &ns->cap, ns->n + 1, sizeof *ns->v) < 0 || hs_grow(&l->since, &l->cap, ns->n + 1, sizeof *l->since) < 0 ||
	    !(ns->v[ns->n] = strndup(name, len - 5)))
		return -ENOMEM;
	l->since[ns->n++] = mtime;
	return 0;
}

int hs_locks_held(struct hs_store *st, struct hs_lock_info **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!st->be->ops->list_sized)
		return -ENOTSUP;
	struct lock_names ln = { 0 };
	struct names ns = { 0 };
	int r = st->be->ops->list_sized(st->be, "locks", add_lock_name, &ln);
	ns = ln.ns;
	if (r == -ENOENT)
		r = 0;
	struct hs_lock_info *v = NULL;
	size_t m = 0, cap = 0;
	for (size_t i = 0; r == 0 && i < ns.n; i++) {
		char key[128], text[1024];
		snprintf(key, sizeof key, "locks/%s.lock", ns.v[i]);
		struct hs_buf b = { .max = 4096 };
		int e = st->be->ops->get(st->be, key, &b);
		size_t len = e == 0 && b.len < sizeof text ? b.len : 0;
		memcpy(text, b.data ? (const char *)b.data : "", len);
		text[len] = 0;
		hs_buf_free(&b);
		if (e < 0) {
			hs_err_clear();
			continue;
		}
		struct hs_lock_info li = { .since = ln.since[i] };
		snprintf(li.server, sizeof li.server, "%s", ns.v[i]);
		if (strncmp(text, "hotspare-lock\n", 14) == 0) {
			/* A lock object (store/http.h): host and pid lines. */
			for (char *line = strtok(text + 14, "\n"); line; line = strtok(NULL, "\n")) {
				if (strncmp(line, "host ", 5) == 0)
					snprintf(li.host, sizeof li.host, "%s", line + 5);
				else if (strncmp(line, "pid ", 4) == 0)
					li.pid = atoi(line + 4);
			}
		} else {
			/* A lock file: "PID-TAG" while held, on this host. */
			snprintf(li.host, sizeof li.host, "%s", hs_lease_host());
			li.pid = atoi(text);
		}
		if (li.pid <= 0)
			continue; /* released, or not a lock */
		if (!strcmp(li.host, hs_lease_host()) && kill(li.pid, 0) < 0 && errno == ESRCH)
			continue; /* left by a writer that was killed */
		if ((r = hs_grow(&v, &cap, m + 1, sizeof *v)) < 0)
			break;
		v[m++] = li;
	}
	names_free(&ns);
	free(ln.since);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = m;
	return 0;
}

bool hs_lock_registered(const struct hs_lock_info *l, const struct hs_writer_info *w, size_t nw, int64_t now)
{
	for (size_t k = 0; k < nw; k++)
		if (hs_writer_alive(&w[k], now) && w[k].pid == l->pid && !strcmp(w[k].host, l->host))
			return true;
	return false;
}

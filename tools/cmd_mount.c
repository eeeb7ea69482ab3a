/* hotspare mount STORE SERVER[@POINT] MOUNTPOINT --state DIR [--seed SEED]... [--foreground]
 * Loads the index and the state here, so bad input is reported by this
 * command; then a daemon mounts the image, signals readiness and serves. */
#include "cli.h"
#include "basics/cleanup.h"
#include "spare/control.h"
#include "basics/err.h"
#include "spare/fuse_ops.h"
#include "spare/hydrate.h"
#include "basics/mounts.h"
#include "spare/readahead.h"
#include "spare/scrub.h"
#include "spare/spare.h"
#include "store/lease.h"
#include "store/places.h"
#include "store/store.h"
#include "spare/trace.h"
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#define USAGE "STORE SERVER[@POINT] MOUNTPOINT --state DIR [--seed SEED]... [--foreground]\n" \
	      "       [--hydrate-threads N (default 2; 0: no background hydration)] [--deadline SECONDS]\n" \
	      "       [--readahead MIB (largest read-ahead window, default 8; 0: none)]\n" \
	      "       [--boot-trace FILE (default: the server's trace recorded by drills)] [--read-only]"

struct mount_args {
	const char *store, *ref, *mountpoint, *state;
	struct cli_list seeds;
	bool foreground, read_only;
	const char *boot_trace;
	unsigned hydrate_threads;
	unsigned readahead_mib;
	int deadline_s;
};

/* The chunks to hydrate first: the server's boot trace, if there is one. */
static void load_trace(struct hs_spare *sp, const char *path, uint64_t **v, size_t *n)
{
	char def[4096];
	if (!path) {
		hs_trace_path(sp->ix->server, def, sizeof def);
		path = def;
	}
	*v = NULL;
	*n = 0;
	int r = hs_trace_load(path, sp->ix, v, n);
	if (r == 0)
		fprintf(stderr, "hotspare: hydrating the %zu chunks of boot trace %s first\n", *n, path);
	else if (r != -ENOENT)
		fprintf(stderr, "hotspare: ignoring boot trace: %s\n", hs_err_msg() ? hs_err_msg() : strerror(-r));
}

/* Serve until unmounted; report readiness (or the error) on ready_fd. */
static int serve(struct hs_spare *sp, const struct hs_status_info *info, const struct mount_args *a,
		 int ready_fd)
{
	struct hs_fuse *f;
	/* The point is in use while this daemon serves it: prune keeps it. */
	struct hs_lease *lease = NULL;
	int r = hs_lease_take1(sp->src.v[sp->src.n - 1], sp->ix->server, sp->ix->id,
			       a->read_only ? "mount --read-only" : "mount", &lease);
	if (r == 0)
		r = hs_fuse_mount(sp, info, &f);
	if (r < 0) {
		if (ready_fd >= 0) {
			const char *m = hs_err_msg();
			dprintf(ready_fd, "%s", m ? m : strerror(-r));
		}
		hs_lease_release(lease);
		return r;
	}
	if (a->readahead_mib &&
	    hs_readahead_start(sp, HS_READAHEAD_THREADS, (uint64_t)a->readahead_mib << 20, &sp->ra) < 0) {
		fprintf(stderr, "hotspare: no read-ahead: cannot start its threads\n");
		sp->ra = NULL;
	}
	if (a->hydrate_threads) {
		uint64_t *first;
		size_t nfirst;
		load_trace(sp, a->boot_trace, &first, &nfirst);
		if (hs_hydrate_start(sp, a->hydrate_threads, first, nfirst, &sp->hyd) < 0)
			sp->hyd = NULL;
		free(first);
	}
	/* After an unclean stop, nothing the state holds is trusted unchecked:
	 * readers check what they read, and a scrub goes through the rest. */
	struct hs_scrub_bg *scrub = NULL;
	if (sp->state->unclean) {
		fprintf(stderr, "hotspare: %s was not closed cleanly: checking its %llu chunks against the point\n",
			info->state_dir, (unsigned long long)atomic_load(&sp->nsuspect));
		if (hs_scrub_start(sp, &scrub) < 0)
			fprintf(stderr, "hotspare: no background scrub (reads still check what they read)\n");
	}
	char sock[4200];
	struct hs_control *ctl = NULL;
	snprintf(sock, sizeof sock, "%s/control.sock", info->state_dir);
	if (hs_control_start(sp, sock, a->read_only, &ctl) < 0)
		fprintf(stderr, "hotspare: no control socket (checkpoints unavailable): %s\n", hs_err_msg());
	if (ready_fd >= 0) {
		dprintf(ready_fd, "OK");
		close(ready_fd);
	}
	fprintf(stderr, "hotspare: serving %s@%s at %s/%s (pid %d)\n", sp->ix->server, sp->ix->id,
		info->mountpoint, info->image_name, (int)getpid());
	r = hs_fuse_serve(f, true);
	hs_scrub_stop(scrub);
	hs_control_stop(ctl);
	if (sp->ra) {
		hs_readahead_stop(sp->ra);
		sp->ra = NULL;
	}
	if (sp->hyd) {
		hs_hydrate_stop(sp->hyd);
		sp->hyd = NULL;
	}
	/* Flush before the mount goes away: umount waits for this process to exit. */
	int fr = hs_spare_flush(sp);
	hs_fuse_destroy(f);
	hs_lease_release(lease);
	fprintf(stderr, "hotspare: unmounted %s; state flushed%s\n", info->mountpoint, fr < 0 ? " FAILED" : "");
	return r < 0 ? r : fr;
}

static int parse(int argc, char **argv, struct mount_args *a)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'e' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "hydrate-threads", required_argument, NULL, 'h' },
		{ "deadline", required_argument, NULL, 'd' },
		{ "readahead", required_argument, NULL, 'a' },
		{ "boot-trace", required_argument, NULL, 't' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'H' },
		{ 0 },
	};
	a->hydrate_threads = 2;
	a->readahead_mib = HS_READAHEAD_MAX_BYTES >> 20;
	a->deadline_s = 120;
	uint64_t v;
	int c;
	while ((c = cli_getopt(argc, argv, "f", opts)) != -1) {
		switch (c) {
		case 's': a->state = optarg; break;
		case 'e':
			if (cli_list_add(&a->seeds, optarg) < 0)
				return -ENOMEM;
			break;
		case 'f': a->foreground = true; break;
		case 'r': a->read_only = true; break;
		case 't': a->boot_trace = optarg; break;
		case 'h':
			if (cli_number("mount", "--hydrate-threads", optarg, 0, 16, NULL, &v))
				return -ERANGE;
			a->hydrate_threads = (unsigned)v;
			break;
		case 'a':
			if (cli_number("mount", "--readahead", optarg, 0, 1024, "MiB", &v))
				return -ERANGE;
			a->readahead_mib = (unsigned)v;
			break;
		case 'd':
			/* A day at most: the deadline is kept in milliseconds in an int. */
			if (cli_number("mount", "--deadline", optarg, 1, 86400, "seconds", &v))
				return -ERANGE;
			a->deadline_s = (int)v;
			break;
		case 'H':
			cli_help("mount", USAGE);
			return 1;
		default:
			return cli_usage("mount", USAGE) ? -EINVAL : 0;
		}
	}
	if (argc - optind != 3)
		return cli_usage("mount", USAGE) ? -EINVAL : 0;
	if (!a->state)
		return cli_failf("mount", "--state DIR is missing (see 'hotspare mount --help')") ? -EINVAL : 0;
	a->store = argv[optind];
	a->ref = argv[optind + 1];
	a->mountpoint = argv[optind + 2];
	return 0;
}

int cmd_mount(int argc, char **argv)
{
	struct mount_args a = { 0 };
	int r = parse(argc, argv, &a);
	if (r != 0) {
		cli_list_free(&a.seeds);
		return r > 0 ? 0 : r == -ERANGE ? 1 : 2;
	}
	char mnt[PATH_MAX], state_dir[PATH_MAX];
	struct hs_store *st = NULL;
	struct hs_index *ix = NULL;
	struct hs_sources src = { 0 };
	struct hs_state *state = NULL;
	struct hs_spare *sp = NULL;

	/* Before anything is created: a state or mountpoint in the wrong place
	 * would hang the daemon on its own mount or bury the store. */
	size_t nplaces;
	struct hs_place *places = cli_places(a.store, &a.seeds, &nplaces);
	r = places ? hs_state_check_place("the state", a.state, a.mountpoint, places, nplaces) : -ENOMEM;
	free(places);
	if (r == 0)
		r = hs_mount_check_free(a.mountpoint);
	if (r == 0 && !realpath(a.mountpoint, mnt))
		r = hs_err(errno, "mountpoint %s: %s", a.mountpoint, strerror(errno));
	if (r == 0)
		r = cli_load_point(a.store, a.ref, &st, &ix);
	/* The store's location as recorded in the state and the status: without credentials. */
	char store_where[PATH_MAX];
	snprintf(store_where, sizeof store_where, "%s", st ? st->be->where : a.store);
	if (r == 0) {
		r = hs_sources_open(st, a.seeds.v, a.seeds.n, &src);
		st = NULL;
	}
	if (r == 0)
		r = hs_state_open(a.state, ix, store_where, &state);
	if (r == 0 && !realpath(a.state, state_dir))
		r = -errno;
	if (r == 0) {
		r = hs_spare_open(ix, &src, state, &sp);
		ix = NULL;
		state = NULL;
		src.v = NULL;
		src.n = 0;
	}
	cli_list_free(&a.seeds);
	if (r < 0) {
		hs_index_free(ix);
		hs_sources_close(&src);
		hs_store_close(st);
		hs_state_close(state);
		return cli_fail("mount", r);
	}
	sp->demand_deadline_ms = a.deadline_s * 1000;
	char image[HS_SERVER_MAX + 8];
	snprintf(image, sizeof image, "%s.img", sp->ix->server);
	struct hs_status_info info = {
		.store = store_where, .state_dir = state_dir, .mountpoint = mnt, .image_name = image,
		.read_only = a.read_only,
	};

	if (a.foreground) {
		info.pid = (int)getpid();
		printf("%s/%s is ready\n", mnt, image);
		fflush(stdout);
		r = serve(sp, &info, &a, -1);
		int cr = hs_spare_close(sp);
		return r < 0 || cr < 0 ? cli_fail("mount", r < 0 ? r : cr) : 0;
	}

	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return cli_fail("mount", -errno);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return cli_fail("mount", -errno);
	if (pid == 0) {
		close(pipefd[0]);
		setsid();
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		char logpath[PATH_MAX + 16];
		snprintf(logpath, sizeof logpath, "%s/daemon.log", state_dir);
		int log = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		dup2(devnull, 0);
		dup2(log >= 0 ? log : devnull, 1);
		dup2(log >= 0 ? log : devnull, 2);
		if (chdir("/") < 0)
			_exit(1);
		info.pid = (int)getpid();
		/* The lock is ours now (inherited); the parent that wrote its pid exits. */
		if (hs_state_own(sp->state) < 0)
			fprintf(stderr, "hotspare: cannot record pid %d in %s/lock\n", info.pid, state_dir);
		r = serve(sp, &info, &a, pipefd[1]);
		int cr = hs_spare_close(sp);
		_exit(r < 0 || cr < 0 ? 1 : 0);
	}
	close(pipefd[1]);
	char msg[600];
	size_t n = 0;
	ssize_t k;
	while (n < sizeof msg - 1 && (k = read(pipefd[0], msg + n, sizeof msg - 1 - n)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		n += (size_t)k;
	}
	msg[n] = 0;
	close(pipefd[0]);
	if (strcmp(msg, "OK") != 0) {
		if (!msg[0])
			return cli_failf("mount", "the daemon exited before the image was ready (see %s/daemon.log)", state_dir);
		return cli_failf("mount", "%s", msg);
	}
	printf("%s/%s is ready (daemon pid %d, state %s)\n", mnt, image, (int)pid, state_dir);
	/* The daemon owns the state now; this copy only releases its memory
	 * (the state's lock stays held through the daemon's descriptor) and
	 * must not say the state was closed cleanly: the daemon says that. */
	sp->mark_clean = false;
	hs_spare_close(sp);
	return 0;
}

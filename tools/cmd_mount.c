/* hotspare mount STORE SERVER[@POINT] MOUNTPOINT --state DIR [--seed SEED]... [--foreground]
 * Loads the index and the state here, so bad input is reported by this
 * command; then a daemon mounts the image, signals readiness and serves. */
#include "cli.h"
#include "basics/run.h"
#include "config.h"
#include "basics/cleanup.h"
#include "basics/clock.h"
#include "spare/control.h"
#include "basics/err.h"
#include "spare/fuse_ops.h"
#include "spare/hydrate.h"
#include "basics/mounts.h"
#include "spare/readahead.h"
#include "spare/scrub.h"
#include "spare/set.h"
#include "store/lease.h"
#include "store/places.h"
#include "store/store.h"
#include "spare/trace.h"
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#define USAGE "STORE SERVER[@POINT] MOUNTPOINT --state DIR [--seed SEED]... [--foreground]\n" \
	      "       [--hydrate-threads N (default 2; 0: no background hydration)] [--deadline SECONDS]\n" \
	      "       [--readahead MIB (largest read-ahead window, default 8; 0: none)]\n" \
	      "       [--boot-trace FILE (default: the server's trace recorded by drills)] [--read-only]\n" \
	      "       (STORE, MOUNTPOINT, --state and --seed may come from the configuration: see 'hotspare config')"

struct mount_args {
	const char *store, *ref, *mountpoint, *state;
	struct cli_list seeds;
	bool foreground, read_only;
	const char *boot_trace;
	unsigned hydrate_threads;
	unsigned readahead_mib;
	int deadline_s;
	int mnt_lock; /* the mountpoint's directory, locked until the mount is made, or -1 */
};

/* Two mounts at one mountpoint at once would both find it free and stack
 * one over the other: the check and the mount happen under a lock on the
 * directory (a later mount opens the mounted root instead, and finds it in
 * use). The lock goes with the mount, or with the process. 0 or -errno. */
static int lock_mountpoint(const char *path, int *fd)
{
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return 0; /* a dead mount, say: the check that follows says what is wrong */
	for (int waited = 0; flock(*fd, LOCK_EX | LOCK_NB) < 0; waited += 100) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return 0; /* a filesystem without locks: checked without */
		if (waited >= 30000)
			return hs_err(EBUSY, "mountpoint %s is being mounted by another process", path);
		hs_sleep_ms(100);
	}
	return 0;
}

static void unlock_mountpoint(const struct mount_args *a)
{
	if (a->mnt_lock >= 0) {
		flock(a->mnt_lock, LOCK_UN);
		close(a->mnt_lock);
	}
}

/* Serve until unmounted; report readiness (or the error) on ready_fd. */
static int serve(struct hs_spare_set *set, const struct hs_status_info *info, const struct mount_args *a,
		 int ready_fd, bool *served)
{
	struct hs_fuse *f;
	/* The point is in use while this daemon serves it: prune keeps it. */
	struct hs_lease *lease = NULL;
	int r = hs_lease_take1(set->src.v[set->src.n - 1], set->server, set->id,
			       a->read_only ? "mount --read-only" : "mount", &lease);
	if (r == 0)
		r = hs_fuse_mount(set, info, &f);
	if (r < 0) {
		if (ready_fd >= 0) {
			const char *m = hs_err_msg();
			dprintf(ready_fd, "%s", m ? m : strerror(-r));
		}
		hs_lease_release(lease);
		return r;
	}
	*served = true;
	unlock_mountpoint(a);
	hs_spare_set_start(set, a->hydrate_threads, (uint64_t)a->readahead_mib << 20, a->boot_trace);
	/* After an unclean stop, nothing the state holds is trusted unchecked:
	 * readers check what they read, and a scrub goes through the rest. */
	struct hs_scrub_bg *scrub[HS_DISKS_MAX] = { 0 };
	for (unsigned k = 0; k < set->n; k++) {
		struct hs_spare *sp = set->disk[k];
		if (!sp->state->unclean)
			continue;
		fprintf(stderr, "hotspare: %s was not closed cleanly: checking its %llu chunks against the point\n",
			sp->state->dir, (unsigned long long)atomic_load(&sp->nsuspect));
		if (hs_scrub_start(sp, &scrub[k]) < 0)
			fprintf(stderr, "hotspare: no background scrub (reads still check what they read)\n");
	}
	char sock[4200];
	struct hs_control *ctl = NULL;
	snprintf(sock, sizeof sock, "%s/control.sock", info->state_dir);
	if (hs_control_start(set, sock, a->read_only, &ctl) < 0)
		fprintf(stderr, "hotspare: no control socket (checkpoints unavailable): %s\n", hs_err_msg());
	if (ready_fd >= 0) {
		dprintf(ready_fd, "OK");
		close(ready_fd);
	}
	for (unsigned k = 0; k < set->n; k++)
		fprintf(stderr, "hotspare: serving %s@%s%s%s at %s/%s (pid %d)\n", set->server, set->id,
			set->n > 1 ? ":" : "", set->n > 1 ? set->disk[k]->ix->disk : "", info->mountpoint,
			set->image[k], (int)getpid());
	r = hs_fuse_serve(f, true);
	for (unsigned k = 0; k < set->n; k++)
		hs_scrub_stop(scrub[k]);
	hs_control_stop(ctl);
	hs_spare_set_stop(set);
	/* Flush before the mount goes away: umount waits for this process to exit. */
	int fr = hs_spare_set_flush(set);
	hs_fuse_destroy(f);
	hs_lease_release(lease);
	fprintf(stderr, "hotspare: unmounted %s; state flushed%s\n", info->mountpoint, fr < 0 ? " FAILED" : "");
	return r < 0 ? r : fr;
}

/* Serve, close the spare, and (a daemon that served) leave the record from
 * which umount, waiting for this process to end, learns whether the state
 * was closed cleanly. 0 or the first failure. */
static int serve_then_close(struct hs_spare_set *set, const struct hs_status_info *info,
			    const struct mount_args *a, int ready_fd)
{
	bool served = false;
	int r = serve(set, info, a, ready_fd, &served);
	int cr = hs_spare_set_close(set);
	if (r == 0)
		r = cr;
	if (served && hs_status_exit_write(info, r) < 0)
		fprintf(stderr, "hotspare: %s\n", hs_err_msg());
	return r;
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
	/* The configuration's store, seeds, state and mount directories (config.h). */
	if ((c = cfg_store_arg("mount", &argc, &argv, 2, 3, 1)) >= 0)
		return c ? -ERANGE : 1;
	if (argc - optind != 3 && argc - optind != 2)
		return cli_usage("mount", USAGE) ? -EINVAL : 0;
	if (!a->state)
		a->state = cfg_server_dir(CFG_STATE_DIR);
	if (!a->state)
		return cli_failf("mount", "--state DIR is missing (see 'hotspare mount --help')") ? -EINVAL : 0;
	a->store = argv[optind];
	a->ref = argv[optind + 1];
	a->mountpoint = argc - optind == 3 ? argv[optind + 2] : cfg_server_dir(CFG_MOUNT_DIR);
	if (!a->mountpoint)
		return cli_usage("mount", USAGE) ? -EINVAL : 0;
	return cfg_seeds(&a->seeds);
}

int cmd_mount(int argc, char **argv)
{
	struct mount_args a = { .mnt_lock = -1 };
	int r = parse(argc, argv, &a);
	if (r != 0) {
		cli_list_free(&a.seeds);
		return r > 0 ? 0 : r == -ERANGE ? 1 : 2;
	}
	char mnt[PATH_MAX], state_dir[PATH_MAX];
	struct hs_store *st = NULL;
	struct hs_sources src = { 0 };
	struct hs_spare_set *set = NULL;
	struct hs_point *p = malloc(sizeof *p);
	char disk[HS_DISK_MAX + 1];

	/* Before anything is created: a state or mountpoint in the wrong place
	 * would hang the daemon on its own mount or bury the store. */
	size_t nplaces;
	struct hs_place *places = cli_places(a.store, &a.seeds, &nplaces);
	r = !p ? -ENOMEM : places ? hs_state_check_place("the state", a.state, a.mountpoint, places, nplaces) : -ENOMEM;
	free(places);
	if (r == 0 && (r = cfg_make_dirs(a.state, false)) == 0)
		r = cfg_make_dirs(a.mountpoint, true);
	if (r == 0)
		r = lock_mountpoint(a.mountpoint, &a.mnt_lock);
	if (r == 0)
		r = hs_mount_check_free(a.mountpoint);
	if (r == 0 && !realpath(a.mountpoint, mnt))
		r = hs_err(errno, "mountpoint %s: %s", a.mountpoint, strerror(errno));
	if (r == 0)
		r = cli_open_point(a.store, a.ref, &st, p, disk);
	if (r == 0 && disk[0])
		r = hs_err(EINVAL, "'%s' names a disk: a spare presents every disk of its point (give SERVER[@POINT])",
			   a.ref);
	/* The store's location as recorded in the state and the status: without credentials. */
	char store_where[PATH_MAX];
	snprintf(store_where, sizeof store_where, "%s", st ? st->be->where : a.store);
	if (r == 0) {
		r = hs_sources_open(st, a.seeds.v, a.seeds.n, &src);
		st = NULL;
	} else {
		hs_store_close(st);
	}
	if (r == 0) {
		r = hs_spare_set_open(&src, p, a.state, store_where, false, &set);
		memset(&src, 0, sizeof src);
	}
	if (r == 0 && !realpath(a.state, state_dir))
		r = -errno;
	free(p);
	cli_list_free(&a.seeds);
	if (r < 0) {
		hs_spare_set_close(set);
		return cli_fail("mount", r);
	}
	hs_spare_set_deadline(set, a.deadline_s * 1000);
	struct hs_status_info info = {
		.store = store_where, .state_dir = state_dir, .mountpoint = mnt, .read_only = a.read_only,
	};
	/* The images as the command prints them: MOUNTPOINT/IMAGE, space-separated. */
	char *images = NULL;
	size_t imlen = 0;
	FILE *ims = open_memstream(&images, &imlen);
	for (unsigned k = 0; ims && k < set->n; k++)
		fprintf(ims, "%s%s/%s", k ? " " : "", mnt, set->image[k]);
	if (!ims || fclose(ims) != 0) {
		hs_spare_set_close(set);
		return cli_fail("mount", -ENOMEM);
	}

	if (a.foreground) {
		info.pid = (int)getpid();
		info.pid_start = hs_proc_start(info.pid);
		printf("%s %s ready\n", images, set->n > 1 ? "are" : "is");
		fflush(stdout);
		free(images);
		r = serve_then_close(set, &info, &a, -1);
		return r < 0 ? cli_fail("mount", r) : 0;
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
		info.pid_start = hs_proc_start(info.pid);
		free(images);
		/* The locks are ours now (inherited); the parent that wrote its pid exits. */
		for (unsigned k = 0; k < set->n; k++)
			if (hs_state_own(set->disk[k]->state) < 0)
				fprintf(stderr, "hotspare: cannot record pid %d in %s/lock\n", info.pid,
					set->disk[k]->state->dir);
		_exit(serve_then_close(set, &info, &a, pipefd[1]) < 0 ? 1 : 0);
	}
	close(pipefd[1]);
	if (a.mnt_lock >= 0)
		close(a.mnt_lock); /* the daemon's copy holds the lock until it has mounted */
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
	printf("%s %s ready (daemon pid %d, state %s)\n", images, set->n > 1 ? "are" : "is", (int)pid, state_dir);
	free(images);
	/* The daemon owns the state now; this copy only releases its memory
	 * (the state's lock stays held through the daemon's descriptor) and
	 * must not say the state was closed cleanly: the daemon says that. */
	for (unsigned k = 0; k < set->n; k++)
		set->disk[k]->mark_clean = false;
	hs_spare_set_close(set);
	return 0;
}

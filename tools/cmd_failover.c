/* hotspare failover STORE SERVER[@POINT] --state DIR [--seed SEED]... [--connect URI]
 *                   [--network NAME | --bridge IF] [--memory MIB] [--vcpus N]
 *                   [--profile linux|windows] [--mountpoint DIR]
 * The spare runs for real: mounted (unless it already is) and started as a
 * persistent libvirt domain named after the server; hydration goes on. */
#include "cli.h"
#include "config.h"
#include "vm/domain.h"
#include "basics/err.h"
#include "basics/mounts.h"
#include "store/name.h"
#include "store/places.h"
#include "spare/state.h"
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define USAGE "STORE SERVER[@POINT] --state DIR [--seed SEED]... [--connect URI]\n" \
	      "       [--network NAME | --bridge IF] [--memory MIB] [--vcpus N] [--profile linux|windows]\n" \
	      "       [--mountpoint DIR (default /var/lib/hotspare/mnt/SERVER)]\n" \
	      "       (STORE, --state, --mountpoint, --seed, --connect and --profile may come from the configuration:\n" \
	      "        see 'hotspare config')"

#define HS_FAILOVER_MAX_SEEDS 24

/* Mount the spare with this very binary's mount command. */
static int run_mount(char **argv)
{
	pid_t p = fork();
	if (p == 0) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	int st;
	if (p < 0 || waitpid(p, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

int cmd_failover(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'e' },
		{ "connect", required_argument, NULL, 'c' },
		{ "network", required_argument, NULL, 'n' },
		{ "bridge", required_argument, NULL, 'b' },
		{ "memory", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'v' },
		{ "profile", required_argument, NULL, 'p' },
		{ "mountpoint", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *state = NULL, *uri = NULL, *network = NULL, *bridge = NULL, *mntopt = NULL, *profile = NULL;
	unsigned memory = 1024, vcpus = 2;
	uint64_t v;
	bool windows = false;
	char *mount_argv[64];
	int nm = 0, c;
	mount_argv[nm++] = "hotspare";
	mount_argv[nm++] = "mount";
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'e':
			if (nm >= 2 + 2 * HS_FAILOVER_MAX_SEEDS)
				return cli_failf("failover", "too many --seed options");
			mount_argv[nm++] = "--seed";
			mount_argv[nm++] = optarg;
			break;
		case 'c': uri = optarg; break;
		case 'n': network = optarg; break;
		case 'b': bridge = optarg; break;
		case 'm':
			if (cli_number("failover", "--memory", optarg, 64, 1u << 20, "MiB", &v))
				return 1;
			memory = (unsigned)v;
			break;
		case 'v':
			if (cli_number("failover", "--vcpus", optarg, 1, 64, NULL, &v))
				return 1;
			vcpus = (unsigned)v;
			break;
		case 'p':
			if (strcmp(optarg, "linux") && strcmp(optarg, "windows"))
				return cli_failf("failover", "--profile '%s' is not linux or windows", optarg);
			profile = optarg;
			break;
		case 'M': mntopt = optarg; break;
		default: return c == 'h' ? cli_help("failover", USAGE) : cli_usage("failover", USAGE);
		}
	}
	/* The configuration's store, state and mount directories, URI and profile (config.h). */
	if ((c = cfg_store_arg("failover", &argc, &argv, 2, 2, 1)) >= 0)
		return c;
	state = state ? state : cfg_server_dir(CFG_STATE_DIR);
	uri = uri ? uri : cfg_get(CFG_CONNECT);
	windows = !strcmp(profile ? profile : cfg_get(CFG_PROFILE), "windows");
	if (argc - optind != 2 || !state)
		return cli_usage("failover", USAGE);
	if (network && bridge)
		return cli_failf("failover", "--network and --bridge are alternatives: give one");
	const char *where = argv[optind], *ref = argv[optind + 1];
	char server[HS_SERVER_MAX + 1], want[HS_POINT_ID_LEN + 1];
	int r = hs_ref_parse(ref, server, want, NULL);
	if (r < 0)
		return cli_fail("failover", r);
	/* The mount: reuse a live mount of this server's spare, else mount it. */
	char mnt[PATH_MAX], image[PATH_MAX + 80];
	snprintf(mnt, sizeof mnt, "%s", mntopt ? mntopt : cfg_server_dir(CFG_MOUNT_DIR));
	/* Before the mountpoint is made: the state and mountpoint must be where
	 * a spare can use them (mount checks again; this keeps nothing made). */
	struct hs_place places[HS_FAILOVER_MAX_SEEDS + 1] = { { "the store", where } };
	size_t nplaces = 1;
	for (int i = 3; i < nm; i += 2)
		places[nplaces++] = (struct hs_place){ "the seed", mount_argv[i] };
	if ((r = hs_state_check_place("the state", state, mnt, places, nplaces)) < 0 ||
	    (r = cfg_make_dirs(state, false)) < 0)
		return cli_fail("failover", r);
	if (bridge) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "/sys/class/net/%s/bridge", bridge);
		if (strchr(bridge, '/') || access(path, F_OK) < 0)
			return cli_failf("failover", "bridge %s does not exist on this host", bridge);
	}
	hs_virt_quiet();
	virConnectPtr conn = virConnectOpen(uri);
	if (!conn)
		return cli_failf("failover", "cannot connect to libvirt at %s: %s", uri, hs_virt_msg());
	int status = 1;
	virDomainPtr dom = NULL;
	if (network) {
		virNetworkPtr net = virNetworkLookupByName(conn, network);
		int active = net ? virNetworkIsActive(net) : 0;
		if (net)
			virNetworkFree(net);
		if (active != 1) {
			cli_failf("failover", "libvirt network %s %s", network, net ? "is not active" : "does not exist");
			goto out;
		}
	}
	dom = virDomainLookupByName(conn, server);
	if (dom && virDomainIsActive(dom) == 1) {
		cli_failf("failover", "domain %s is already running (hotspare status shows its spare)", server);
		goto out;
	}

	if ((r = mkdir_p(mnt)) < 0) {
		cli_failf("failover", "cannot create mountpoint %s: %s", mnt, strerror(-r));
		goto out;
	}
	char type[64];
	static char st[65536];
	if (hs_mount_type(mnt, type, sizeof type) == 1 && !strcmp(type, "fuse.hotspare") &&
	    cli_read_status("failover", mnt, st, sizeof st) == 0) {
		json_object *o = json_tokener_parse(st), *v;
		bool same = o && json_object_object_get_ex(o, "server", &v) && !strcmp(json_object_get_string(v), server);
		json_object_put(o);
		if (!same) {
			cli_failf("failover", "%s already serves another server's spare", mnt);
			goto out;
		}
		printf("using the spare already mounted at %s\n", mnt);
	} else {
		mount_argv[nm++] = (char *)where;
		mount_argv[nm++] = (char *)ref;
		mount_argv[nm++] = mnt;
		mount_argv[nm++] = "--state";
		mount_argv[nm++] = (char *)state;
		mount_argv[nm] = NULL;
		if (run_mount(mount_argv) < 0)
			goto out; /* mount printed why */
	}
	char console[PATH_MAX + 32], rstate[PATH_MAX], rmnt[PATH_MAX];
	if (!realpath(state, rstate) || !realpath(mnt, rmnt)) {
		cli_failf("failover", "cannot resolve %s: %s", state, strerror(errno));
		goto out;
	}
	snprintf(console, sizeof console, "%s/console.log", rstate);
	struct hs_domain_spec spec = {
		.name = server, .console_log = console, .memory_mib = memory, .vcpus = vcpus,
		.windows = windows, .kvm = true, .network = network, .bridge = bridge,
	};
	/* Every disk of the point, in its order (the first boots), as the daemon serves them. */
	static char images[64][PATH_MAX + 80];
	if (cli_read_status("failover", mnt, st, sizeof st) < 0)
		goto out;
	json_object *so = json_tokener_parse(st), *disks, *dv;
	if (so && json_object_object_get_ex(so, "disks", &disks) && json_object_is_type(disks, json_type_array))
		for (size_t k = 0; k < json_object_array_length(disks) && k < 64; k++) {
			json_object *d = json_object_array_get_idx(disks, k);
			const char *name = json_object_object_get_ex(d, "image", &dv) ? json_object_get_string(dv) : NULL;
			if (!name || strchr(name, '/'))
				continue;
			snprintf(images[spec.nimages], sizeof images[0], "%s/%s", rmnt, name);
			spec.images[spec.nimages] = images[spec.nimages];
			spec.nimages++;
		}
	json_object_put(so);
	if (!spec.nimages) {
		cli_failf("failover", "the spare at %s names no disk image in its status", rmnt);
		goto out;
	}
	snprintf(image, sizeof image, "%s", images[0]);
	if (dom) {
		virDomainFree(dom);
		dom = NULL;
	}
	r = hs_domain_start_persistent(conn, &spec, &dom);
	if (r < 0) {
		cli_fail("failover", r);
		goto out;
	}
	printf("domain %s started (%s, %s profile, %s) off %s%s\n", server, spec.kvm ? "kvm" : "tcg",
	       windows ? "windows" : "linux", network ? network : bridge ? bridge : "no network", image,
	       spec.nimages > 1 ? " and its other disks" : "");
	printf("console: %s; hydration: hotspare status %s\n", console, rmnt);
	status = 0;
out:
	if (dom)
		virDomainFree(dom);
	virConnectClose(conn);
	return status;
}

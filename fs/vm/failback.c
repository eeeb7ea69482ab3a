/* Failback; see failback.h. Pass 1 runs while the guest works; everything
 * that could refuse the failback (libvirt, the domain, writers nobody can
 * stop) is checked before it, so a refused failback adds no point. */
#include "vm/failback.h"
#include "basics/clock.h"
#include "basics/err.h"
#include "spare/control.h"
#include "spare/status.h"
#include "vm/domain.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Does path lie under dir (both absolute)? Through symlinks when it exists. */
static bool under(const char *path, const char *dir)
{
	char real[PATH_MAX];
	const char *p = realpath(path, real) ? real : path;
	size_t n = strlen(dir);
	return strncmp(p, dir, n) == 0 && p[n] == '/';
}

/* Does dom have a disk under mnt? 1, 0, or -errno. */
static int uses(virDomainPtr dom, const char *mnt, char *disks, size_t cap)
{
	char **paths;
	int r = hs_domain_disks(dom, &paths);
	if (r < 0)
		return r;
	int found = 0;
	size_t at = 0;
	if (cap)
		disks[0] = 0;
	for (char **p = paths; *p; p++) {
		found |= under(*p, mnt);
		if (at < cap)
			at += (size_t)snprintf(disks + at, cap - at, "%s%s", at ? ", " : "", *p);
	}
	hs_domain_disks_free(paths);
	return found;
}

static bool running(virDomainPtr dom)
{
	int state, reason;
	return virDomainGetState(dom, &state, &reason, 0) == 0 && state != VIR_DOMAIN_SHUTOFF &&
	       state != VIR_DOMAIN_CRASHED;
}

/* The domain of the failback: the one named (it must use the mount), else
 * the one whose disk is under the mount (a running one first). *dom is
 * NULL when no domain uses it. */
static int find_domain(virConnectPtr conn, const struct hs_failback_opts *o, const char *mnt,
		       virDomainPtr *dom)
{
	*dom = NULL;
	char disks[1024];
	if (o->domain) {
		virDomainPtr d = virDomainLookupByName(conn, o->domain);
		if (!d)
			return hs_err(ENOENT, "domain %s does not exist at %s", o->domain, o->uri);
		int r = uses(d, mnt, disks, sizeof disks);
		if (r == 0)
			r = hs_err(EINVAL, "domain %s does not use %s (its disks: %s)", o->domain, mnt,
				   disks[0] ? disks : "none");
		if (r < 0) {
			virDomainFree(d);
			return r;
		}
		*dom = d;
		return 0;
	}
	virDomainPtr *all = NULL;
	int n = virConnectListAllDomains(conn, &all, 0);
	if (n < 0)
		return hs_err(EIO, "cannot list the domains at %s: %s", o->uri, hs_virt_msg());
	int r = 0, nrun = 0;
	char names[512] = "";
	for (int i = 0; i < n; i++) {
		int u = r == 0 ? uses(all[i], mnt, NULL, 0) : 0;
		if (u < 0)
			r = u;
		if (u != 1)
			continue;
		bool run = running(all[i]);
		if (run) {
			size_t at = strlen(names);
			snprintf(names + at, sizeof names - at, "%s%s", nrun ? ", " : "", virDomainGetName(all[i]));
			nrun++;
		}
		/* A running user beats a stopped one. */
		if (!*dom || (run && !running(*dom)))
			*dom = all[i];
	}
	if (r == 0 && nrun > 1)
		r = hs_err(EBUSY, "domains %s all run off %s: name one with --domain", names, mnt);
	for (int i = 0; i < n; i++)
		if (r < 0 || all[i] != *dom)
			virDomainFree(all[i]);
	free(all);
	if (r < 0)
		*dom = NULL;
	return r;
}

/* Wait up to timeout_s for the image's open read-write handles to go. 0
 * once none is left (or the daemon does not tell), else their number. */
static int wait_writers(const char *mountpoint, int timeout_s)
{
	double until = hs_now_s() + timeout_s;
	for (;;) {
		struct hs_status_brief st;
		int r = hs_status_read(mountpoint, NULL, &st);
		if (r < 0)
			return r;
		if (st.open_writers <= 0 || hs_now_s() >= until)
			return st.open_writers > 0 ? st.open_writers : 0;
		hs_sleep_ms(100);
	}
}

int hs_failback(const struct hs_failback_opts *o, struct hs_failback_result *res)
{
	memset(res, 0, sizeof *res);
	struct hs_status_brief st;
	int r = hs_status_read(o->mountpoint, NULL, &st);
	if (r < 0)
		return r;
	snprintf(res->server, sizeof res->server, "%s", st.server);
	snprintf(res->image, sizeof res->image, "%s", st.image);
	if (st.read_only)
		return hs_err(EROFS, "%s is a read-only mount of %s@%s: nothing of its own to fail back",
			      o->mountpoint, st.server, st.point);
	char mnt[PATH_MAX];
	snprintf(mnt, sizeof mnt, "%s", st.image);
	*strrchr(mnt, '/') = 0; /* the image is MOUNTPOINT/SERVER.img, absolute */

	hs_virt_quiet();
	virConnectPtr conn = virConnectOpen(o->uri);
	if (!conn)
		return hs_err(ECONNREFUSED, "cannot connect to libvirt at %s: %s", o->uri, hs_virt_msg());
	virDomainPtr dom = NULL;
	r = find_domain(conn, o, mnt, &dom);
	if (r == 0 && dom) {
		snprintf(res->domain, sizeof res->domain, "%s", virDomainGetName(dom));
		res->domain_was_running = running(dom);
	}
	/* Something writes the image that failback cannot stop: pass 2 could not be final. */
	if (r == 0 && !res->domain_was_running && st.open_writers > 0)
		r = hs_err(EBUSY, "%s is open for writing (%d handle%s) and no running domain at %s uses it "
			   "(%s): stop what has it open, then run failback again", st.image, st.open_writers,
			   st.open_writers == 1 ? "" : "s", o->uri,
			   res->domain[0] ? "its domain is shut off" : "no domain uses it");
	double t0 = hs_now_s();
	if (r == 0)
		r = hs_control_checkpoint(o->mountpoint, &res->pass1);
	double t1 = hs_now_s();
	res->pass1_seconds = t1 - t0;
	if (r == 0 && res->domain_was_running)
		r = hs_domain_shutdown(dom, o->shutdown_timeout_s, &res->destroyed);
	if (r == 0) {
		int w = wait_writers(o->mountpoint, o->writers_timeout_s > 0 ? o->writers_timeout_s : 10);
		if (w > 0)
			r = hs_err(EBUSY, "%s is still open for writing (%d handle%s) with %s: the second pass "
				   "would not be final (pass 1 %s point %s@%s)", st.image, w, w == 1 ? "" : "s",
				   res->domain[0] ? "its domain shut off" : "no domain running",
				   res->pass1.added ? "made" : "found nothing new since", st.server, res->pass1.id);
		else if (w < 0)
			r = w;
	}
	if (r == 0)
		r = hs_control_checkpoint(o->mountpoint, &res->pass2);
	res->downtime_seconds = hs_now_s() - t1;
	if (r == 0)
		snprintf(res->point, sizeof res->point, "%s", res->pass2.id);
	if (dom)
		virDomainFree(dom);
	virConnectClose(conn);
	return r;
}

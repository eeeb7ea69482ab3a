/* Live capture of running libvirt domains; see live.h. */
#include "vm/live.h"
#include "vm/domain.h"
#include "vm/nbd.h"
#include "basics/cleanup.h"
#include "basics/clock.h"
#include "basics/err.h"
#include "basics/interrupt.h"
#include "basics/run.h"
#include "store/point.h"
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <libvirt/virterror.h>
#include <libxml/entities.h>
#include <libxml/parser.h>

#define CK_PREFIX "hotspare-"
#define DIR_PREFIX "hotspare-live-"
#define MAX_DOMAIN_DISKS 256 /* every <disk> of the domain, the ones not captured too */

struct ldisk {
	char dev[HS_DISK_MAX + 1]; /* the target dev (vda, sda): the disk's name in the point */
	bool capture;              /* a disk, writable: not a CD-ROM, floppy or read-only disk */
	bool bitmaps;              /* qcow2: libvirt keeps dirty bitmaps in it */
	bool incremental;          /* read only what changed since the checkpoint */
	uint64_t size;
	struct hs_nbd_disk *nbd;
	char what[HS_DISK_MAX + 300]; /* "disk vda of domain web01" */
};

struct live {
	const struct hs_live_opts *o;
	struct hs_live_stats *s;
	virConnectPtr conn;
	virDomainPtr dom;
	char name[256];
	struct ldisk *d;
	unsigned nd;
	int lock;                /* the server's lock in the store, or -1 */
	char dir[PATH_MAX - 64]; /* the private directory: socket and scratch files */
	char sock[PATH_MAX];
	char newest[HS_POINT_ID_LEN + 1]; /* the store's newest point of the server, or "" */
	char id[HS_POINT_ID_LEN + 1];     /* the new point */
	char ck_base[96];        /* the checkpoint an incremental read starts from, or "" */
	char ck_new[96];         /* the checkpoint this capture made, or "" */
	bool job;                /* a backup job of ours runs */
	bool ending;             /* ender runs end_job, beside the store's final sync */
	pthread_t ender;
	int end_r;               /* ender's result, and its message */
	char end_msg[512];
	bool no_agent;           /* --quiesce found no guest agent answering */
};

static void warn(struct live *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct live *l, const char *fmt, ...)
{
	if (!l->o->warn)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	l->o->warn(line);
}

static void checkpoint_name(const char *server, const char *id, char out[96])
{
	snprintf(out, 96, CK_PREFIX "%s-%s", server, id);
}

/* ---- the domain's definition ----------------------------------------------- */

static xmlNodePtr child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

/* An attribute's value into out ("" when absent). */
static void attr(xmlNodePtr n, const char *name, char *out, size_t cap)
{
	xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;
	snprintf(out, cap, "%s", v ? (const char *)v : "");
	xmlFree(v);
}

static xmlDocPtr parse_xml(const char *xml)
{
	return xmlReadMemory(xml, (int)strlen(xml), "libvirt.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

/* The size of every captured disk: all from one statistics query (a
 * question to QEMU per disk costs more than the rest of a small backup). */
static int read_sizes(struct live *l)
{
	virDomainPtr doms[] = { l->dom, NULL };
	virDomainStatsRecordPtr *recs = NULL;
	int n = virDomainListGetStats(doms, VIR_DOMAIN_STATS_BLOCK, &recs, 0);
	for (int i = 0; i < n; i++) {
		const virTypedParameterPtr p = recs[i]->params;
		int np = recs[i]->nparams;
		for (int j = 0; j < np; j++) {
			unsigned idx;
			char key[VIR_TYPED_PARAM_FIELD_LENGTH];
			if (p[j].type != VIR_TYPED_PARAM_STRING || sscanf(p[j].field, "block.%u.name", &idx) != 1)
				continue;
			snprintf(key, sizeof key, "block.%u.capacity", idx);
			unsigned long long cap = 0;
			if (virTypedParamsGetULLong(p, np, key, &cap) != 1)
				continue;
			for (unsigned k = 0; k < l->nd; k++)
				if (strcmp(l->d[k].dev, p[j].value.s) == 0)
					l->d[k].size = cap;
		}
	}
	if (recs)
		virDomainStatsRecordListFree(recs);
	virResetLastError();
	for (unsigned k = 0; k < l->nd; k++) {
		virDomainBlockInfo bi;
		if (!l->d[k].capture || l->d[k].size)
			continue;
		if (virDomainGetBlockInfo(l->dom, l->d[k].dev, &bi, 0) < 0)
			return hs_err(EIO, "cannot get the size of %s: %s", l->d[k].what, hs_virt_msg());
		l->d[k].size = bi.capacity;
	}
	return 0;
}

/* Every <disk> of the running domain, and which are captured. */
static int read_disks(struct live *l)
{
	char *xml = virDomainGetXMLDesc(l->dom, 0);
	if (!xml)
		return hs_err(EIO, "cannot read the definition of domain %s: %s", l->name, hs_virt_msg());
	xmlDocPtr doc = parse_xml(xml);
	free(xml);
	xmlNodePtr devices = doc ? child(xmlDocGetRootElement(doc), "devices") : NULL;
	int r = devices ? 0 : hs_err(EBADMSG, "cannot read the definition of domain %s", l->name);
	unsigned ncap = 0;
	for (xmlNodePtr n = devices ? devices->children : NULL; r == 0 && n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "disk") != 0)
			continue;
		if (l->nd == MAX_DOMAIN_DISKS) {
			r = hs_err(E2BIG, "domain %s has more than %d disks", l->name, MAX_DOMAIN_DISKS);
			break;
		}
		struct ldisk *d = &l->d[l->nd++];
		char device[32], type[32], format[32];
		attr(n, "device", device, sizeof device);
		attr(n, "type", type, sizeof type);
		attr(child(n, "target"), "dev", d->dev, sizeof d->dev);
		attr(child(n, "driver"), "type", format, sizeof format);
		d->capture = (!device[0] || strcmp(device, "disk") == 0) && !child(n, "readonly");
		d->bitmaps = strcmp(format, "qcow2") == 0;
		snprintf(d->what, sizeof d->what, "disk %s of domain %s", d->dev, l->name);
		if (!d->dev[0])
			r = hs_err(EBADMSG, "domain %s has a disk without a target device", l->name);
		else if (d->capture && (r = hs_disk_name_check(d->dev)) < 0)
			break;
		if (d->capture && ++ncap > HS_DISKS_MAX)
			r = hs_err(E2BIG, "domain %s has more than %d disks to capture", l->name, HS_DISKS_MAX);
		(void)type;
	}
	if (r == 0 && ncap == 0)
		r = hs_err(ENOENT, "domain %s has no disk to capture", l->name);
	if (doc)
		xmlFreeDoc(doc);
	return r == 0 ? read_sizes(l) : r;
}

/* The uid and gid the domain's QEMU runs as (its DAC label "+UID:+GID"):
 * the private directory is its, so QEMU may put its socket there. 0, or
 * -ENOENT when there is no such label (a session QEMU runs as us). */
static int qemu_owner(struct live *l, uid_t *uid, gid_t *gid)
{
	virSecurityLabelPtr labels = NULL;
	int n = virDomainGetSecurityLabelList(l->dom, &labels);
	int r = -ENOENT;
	for (int i = 0; i < n && r < 0; i++) {
		unsigned u, g;
		if (sscanf(labels[i].label, "+%u:+%u", &u, &g) == 2) {
			*uid = (uid_t)u;
			*gid = (gid_t)g;
			r = 0;
		}
	}
	free(labels);
	return r;
}

/* ---- what a killed capture left behind ------------------------------------ */

/* The owner of a private directory named DIR_PREFIX "PID.START-XXXXXX":
 * 1 if that process still runs, 0 if it is gone, -1 if the name is not ours. */
static int owner_alive(const char *base)
{
	long pid;
	unsigned long long start;
	if (strncmp(base, DIR_PREFIX, strlen(DIR_PREFIX)) != 0 ||
	    sscanf(base + strlen(DIR_PREFIX), "%ld.%llu-", &pid, &start) != 2)
		return -1;
	return pid > 0 && hs_proc_start(pid) == start;
}

/* Whether the domain has a backup job (1), none (0). */
static int has_job(struct live *l)
{
	char *xml = virDomainBackupGetXMLDesc(l->dom, 0);
	virResetLastError();
	free(xml);
	return xml != NULL;
}

/* End the backup job and wait until it is gone (libvirt ends it
 * asynchronously): once the command returns, nothing of it runs. */
static int end_job(struct live *l)
{
	if (virDomainAbortJob(l->dom) < 0 && has_job(l))
		return hs_err(EIO, "cannot end the backup job of domain %s: %s", l->name, hs_virt_msg());
	/* The job's description goes first, its block jobs a moment later:
	 * asked again after 2, 4, 8 ... ms (it is usually gone within a few),
	 * then every 50 ms, for 10 s in all. */
	double until = hs_now_s() + 10;
	for (unsigned ms = 2;; ms = ms < 25 ? ms * 2 : 50) {
		virDomainJobInfo info;
		int busy = virDomainGetJobInfo(l->dom, &info) == 0 && info.type != VIR_DOMAIN_JOB_NONE;
		if ((!has_job(l) && !busy) || hs_now_s() > until)
			break;
		hs_sleep_ms(ms);
	}
	virResetLastError();
	return has_job(l) ? hs_err(ETIMEDOUT, "the backup job of domain %s did not end", l->name) : 0;
}

#define FROZEN_MARK "frozen" /* in the private directory while the guest may be frozen: its UUID */

/* A capture killed between freeze and thaw leaves the guest frozen, and
 * its mark in its directory: thaw it if the mark names this domain. */
static void thaw_left_frozen(struct live *l, const char *dir)
{
	char path[PATH_MAX], uuid[VIR_UUID_STRING_BUFLEN] = "", mine[VIR_UUID_STRING_BUFLEN];
	snprintf(path, sizeof path, "%s/" FROZEN_MARK, dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	bool got = fgets(uuid, sizeof uuid, f) != NULL;
	fclose(f);
	if (!got || virDomainGetUUIDString(l->dom, mine) < 0 || strncmp(uuid, mine, strlen(mine)) != 0)
		return;
	if (virDomainFSThaw(l->dom, NULL, 0, 0) >= 0)
		warn(l, "thawed the filesystems of domain %s, left frozen by a capture that was killed", l->name);
	virResetLastError();
}

/* A backup job left running by a capture that was killed is ended; one of
 * a live capture, or not ours, is refused. */
static int clear_stale_job(struct live *l)
{
	char *xml = virDomainBackupGetXMLDesc(l->dom, 0);
	if (!xml)
		return 0; /* no backup job */
	xmlDocPtr doc = parse_xml(xml);
	free(xml);
	char sock[PATH_MAX] = "";
	attr(doc ? child(xmlDocGetRootElement(doc), "server") : NULL, "socket", sock, sizeof sock);
	if (doc)
		xmlFreeDoc(doc);
	char *slash = strrchr(sock, '/');
	if (slash)
		*slash = 0;
	const char *dirname = strrchr(sock, '/') ? strrchr(sock, '/') + 1 : sock;
	int alive = slash ? owner_alive(dirname) : -1;
	if (alive < 0)
		return hs_err(EBUSY, "domain %s has a backup job running that is not hotspare's", l->name);
	if (alive > 0)
		return hs_err(EBUSY, "domain %s is being captured by another hotspare (pid %s)", l->name,
			      dirname + strlen(DIR_PREFIX));
	thaw_left_frozen(l, sock);
	int r = end_job(l);
	if (r < 0) {
		char why[512];
		snprintf(why, sizeof why, "%s", hs_err_msg() ? hs_err_msg() : strerror(-r));
		return hs_err(-r, "a capture that was killed left a backup job: %s", why);
	}
	return hs_rm_tree(sock);
}

/* Private directories of captures that were killed (thawing this domain
 * if one of them froze it). */
static void clear_stale_dirs(struct live *l, const char *base)
{
	DIR *dir = opendir(base);
	struct dirent *e;
	while (dir && (e = readdir(dir))) {
		if (owner_alive(e->d_name) != 0)
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", base, e->d_name);
		thaw_left_frozen(l, path);
		hs_rm_tree(path);
	}
	if (dir)
		closedir(dir);
}

/* ---- checkpoints ----------------------------------------------------------- */

/* The disks checkpoint name holds a bitmap of, into *names (a string of
 * " vda vdb " form); 0, -ENOENT when the domain has no such checkpoint. */
static int checkpoint_disks(struct live *l, const char *name, char *names, size_t cap)
{
	virDomainCheckpointPtr ck = virDomainCheckpointLookupByName(l->dom, name, 0);
	if (!ck) {
		virResetLastError();
		return -ENOENT;
	}
	char *xml = virDomainCheckpointGetXMLDesc(ck, VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN);
	virDomainCheckpointFree(ck);
	xmlDocPtr doc = xml ? parse_xml(xml) : NULL;
	free(xml);
	xmlNodePtr disks = doc ? child(xmlDocGetRootElement(doc), "disks") : NULL;
	snprintf(names, cap, " ");
	for (xmlNodePtr n = disks ? disks->children : NULL; n; n = n->next) {
		char dev[HS_DISK_MAX + 1], how[32];
		if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "disk") != 0)
			continue;
		attr(n, "name", dev, sizeof dev);
		attr(n, "checkpoint", how, sizeof how);
		if (strcmp(how, "bitmap") == 0 && strlen(names) + strlen(dev) + 2 < cap)
			strcat(strcat(names, dev), " ");
	}
	if (doc)
		xmlFreeDoc(doc);
	return 0;
}

/* Delete the checkpoint called name (a missing one is fine). */
static int delete_checkpoint(struct live *l, const char *name)
{
	virDomainCheckpointPtr ck = virDomainCheckpointLookupByName(l->dom, name, 0);
	if (!ck) {
		virResetLastError();
		return 0;
	}
	int r = virDomainCheckpointDelete(ck, 0) < 0
			? hs_err(EIO, "cannot delete checkpoint %s of domain %s: %s", name, l->name, hs_virt_msg())
			: 0;
	virDomainCheckpointFree(ck);
	return r;
}

/* After the point is written: the server's other checkpoints (older
 * points', and any a killed capture left) are needed by no one. */
static void delete_old_checkpoints(struct live *l)
{
	virDomainCheckpointPtr *cks = NULL;
	int n = virDomainListAllCheckpoints(l->dom, &cks, 0);
	char prefix[96];
	snprintf(prefix, sizeof prefix, CK_PREFIX "%s-", l->o->cap.server);
	for (int i = 0; i < n; i++) {
		const char *name = virDomainCheckpointGetName(cks[i]);
		/* The server's name may end like another server's prefix: the
		 * rest must be exactly a point id. */
		if (name && strncmp(name, prefix, strlen(prefix)) == 0 &&
		    strlen(name) == strlen(prefix) + HS_POINT_ID_LEN && strcmp(name, l->ck_new) != 0 &&
		    delete_checkpoint(l, name) < 0)
			warn(l, "%s", hs_err_msg());
		virDomainCheckpointFree(cks[i]);
	}
	free(cks);
}

/* Which disks can be read incrementally: the checkpoint of the store's
 * newest point is in the domain and has their bitmaps, and that point has
 * each of them at its present size. The others are read whole, and why
 * is said. */
static int plan_incremental(struct live *l, const struct hs_point *newest)
{
	const struct hs_capture_opts *c = &l->o->cap;
	if (c->kind != HS_KIND_BACKUP || !newest)
		return 0;
	char names[4096];
	checkpoint_name(c->server, newest->id, l->ck_base);
	if (checkpoint_disks(l, l->ck_base, names, sizeof names) < 0) {
		warn(l, "domain %s has no checkpoint of the newest point %s@%s (deleted, the domain re-created, or "
			"the point taken another way): reading every disk whole", l->name, c->server, newest->id);
		l->ck_base[0] = 0;
		return 0;
	}
	unsigned n = 0;
	for (unsigned k = 0; k < l->nd; k++) {
		struct ldisk *d = &l->d[k];
		char word[HS_DISK_MAX + 3];
		snprintf(word, sizeof word, " %s ", d->dev);
		int at = hs_point_disk_find(newest, d->dev);
		if (!d->capture)
			continue;
		if (!d->bitmaps)
			warn(l, "%s is not a qcow2 image (libvirt keeps dirty bitmaps only in those): reading it whole",
			     d->what);
		else if (!strstr(names, word))
			warn(l, "checkpoint %s has no bitmap of %s: reading it whole", l->ck_base, d->what);
		else if (at < 0)
			warn(l, "point %s@%s has no disk %s: reading it whole", c->server, newest->id, d->dev);
		else if (newest->disks[at].size != d->size)
			warn(l, "%s changed size since point %s@%s: reading it whole", d->what, c->server, newest->id);
		else {
			d->incremental = true;
			n++;
		}
	}
	if (!n)
		l->ck_base[0] = 0;
	return 0;
}

/* ---- the backup job -------------------------------------------------------- */

static int xml_put(struct hs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int xml_put(struct hs_buf *b, const char *fmt, ...)
{
	char tmp[PATH_MAX + 512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= sizeof tmp ? -EINVAL : hs_buf_append(b, tmp, (size_t)n);
}

/* Text for an XML attribute in double quotes. */
static char *xml_text(const char *s)
{
	return (char *)xmlEncodeSpecialChars(NULL, (const xmlChar *)s);
}

/* The backup's XML (pull mode, the socket and scratch files in the private
 * directory) and the checkpoint's (named after the new point). */
static int job_xml(struct live *l, bool incremental, struct hs_buf *bx, struct hs_buf *cx, char ck[96])
{
	_cleanup_free_ char *sock = xml_text(l->sock), *dir = xml_text(l->dir);
	if (!sock || !dir)
		return -ENOMEM;
	bx->len = cx->len = 0;
	int r = xml_put(bx, "<domainbackup mode=\"pull\">\n  <server transport=\"unix\" socket=\"%s\"/>\n  <disks>\n",
			sock);
	bool bitmaps = false;
	for (unsigned k = 0; r == 0 && k < l->nd; k++) {
		struct ldisk *d = &l->d[k];
		_cleanup_free_ char *dev = xml_text(d->dev);
		if (!dev)
			return -ENOMEM;
		bitmaps |= d->capture && d->bitmaps;
		if (!d->capture)
			r = xml_put(bx, "    <disk name=\"%s\" backup=\"no\"/>\n", dev);
		else if (incremental && d->incremental)
			r = xml_put(bx, "    <disk name=\"%s\" backup=\"yes\" type=\"file\" backupmode=\"incremental\" "
					"incremental=\"%s\"><scratch file=\"%s/%s.scratch\"/></disk>\n",
				    dev, l->ck_base, dir, dev);
		else
			r = xml_put(bx, "    <disk name=\"%s\" backup=\"yes\" type=\"file\" backupmode=\"full\">"
					"<scratch file=\"%s/%s.scratch\"/></disk>\n", dev, dir, dev);
	}
	if (r == 0)
		r = xml_put(bx, "  </disks>\n</domainbackup>\n");
	if (r == 0)
		r = hs_buf_append(bx, "", 1);
	ck[0] = 0;
	if (r < 0 || !bitmaps)
		return r; /* no disk keeps bitmaps: no checkpoint */
	checkpoint_name(l->o->cap.server, l->id, ck);
	/* The new point's id is past the newest point's: a checkpoint of that
	 * name was left by a capture killed within this same second. */
	if ((r = delete_checkpoint(l, ck)) < 0)
		return r;
	r = xml_put(cx, "<domaincheckpoint>\n  <name>%s</name>\n  <description>hotspare point %s@%s</description>\n"
			"  <disks>\n", ck, l->o->cap.server, l->id);
	for (unsigned k = 0; r == 0 && k < l->nd; k++) {
		_cleanup_free_ char *dev = xml_text(l->d[k].dev);
		if (!dev)
			return -ENOMEM;
		r = xml_put(cx, "    <disk name=\"%s\" checkpoint=\"%s\"/>\n", dev,
			    l->d[k].capture && l->d[k].bitmaps ? "bitmap" : "no");
	}
	if (r == 0)
		r = xml_put(cx, "  </disks>\n</domaincheckpoint>\n");
	if (r == 0)
		r = hs_buf_append(cx, "", 1);
	return r;
}

/* The private directory: ours by name (pid and start time, so a later run
 * knows when we are gone), QEMU's by owner, no one else's. */
static int make_dir(struct live *l)
{
	const char *base = l->o->work_dir;
	if (!base || !*base)
		base = getenv("HOTSPARE_WORK_DIR");
	if (!base || !*base)
		base = "/var/tmp";
	clear_stale_dirs(l, base);
	long pid = (long)getpid();
	snprintf(l->dir, sizeof l->dir, "%s/" DIR_PREFIX "%ld.%llu-XXXXXX", base, pid, hs_proc_start(pid));
	if (!mkdtemp(l->dir)) {
		int e = errno;
		l->dir[0] = 0;
		return hs_err(e, "cannot make a directory under %s: %s", base, strerror(e));
	}
	snprintf(l->sock, sizeof l->sock, "%s/nbd.sock", l->dir);
	if (strlen(l->sock) >= sizeof ((struct sockaddr_un *)0)->sun_path)
		return hs_err(ENAMETOOLONG, "%s is too long a path for a unix socket: set HOTSPARE_WORK_DIR to a "
					    "shorter directory", l->sock);
	uid_t uid;
	gid_t gid;
	if (qemu_owner(l, &uid, &gid) == 0 && chown(l->dir, uid, gid) < 0)
		return hs_err(errno, "cannot give %s to the domain's QEMU: %s", l->dir, strerror(errno));
	return 0;
}

/* Start the backup job; with quiesce, inside a freeze of the guest's
 * filesystems that lasts only as long as starting it. */
static int begin(struct live *l, bool incremental)
{
	struct hs_buf bx = { 0 }, cx = { 0 };
	char ck[96];
	int r = job_xml(l, incremental, &bx, &cx, ck);
	if (r < 0)
		goto out;
	char mark[PATH_MAX];
	snprintf(mark, sizeof mark, "%s/" FROZEN_MARK, l->dir);
	if (l->o->quiesce) {
		char uuid[VIR_UUID_STRING_BUFLEN];
		FILE *f = virDomainGetUUIDString(l->dom, uuid) == 0 ? fopen(mark, "we") : NULL;
		if (!f || fprintf(f, "%s\n", uuid) < 0 || fclose(f) != 0) {
			r = hs_err(EIO, "cannot write %s: %s", mark, strerror(errno));
			goto out;
		}
		int n = virDomainFSFreeze(l->dom, NULL, 0, 0);
		if (n < 0) {
			unlink(mark);
			l->no_agent = true;
			r = hs_err(EIO, "cannot quiesce domain %s: %s", l->name, hs_virt_msg());
			goto out;
		}
		l->s->frozen = (unsigned)n;
	}
	/* The guest is frozen from the agent's answer on (its filesystems
	 * were synced before that, running). */
	double t1 = hs_now_s();
	if (virDomainBackupBegin(l->dom, (const char *)bx.data, cx.len ? (const char *)cx.data : NULL, 0) < 0)
		r = hs_err(EIO, "cannot start a backup of domain %s: %s", l->name, hs_virt_msg());
	else {
		l->job = true;
		snprintf(l->ck_new, sizeof l->ck_new, "%s", ck);
	}
	l->s->begin_seconds = hs_now_s() - t1;
	if (l->o->quiesce) {
		/* The guest waits frozen: thaw whatever happened, and insist. */
		int thawed = -1;
		for (int tries = 0; tries < 5 && thawed < 0; tries++)
			if ((thawed = virDomainFSThaw(l->dom, NULL, 0, 0)) < 0)
				hs_sleep_ms(200);
		l->s->freeze_seconds = hs_now_s() - t1;
		if (thawed < 0 && r == 0)
			r = hs_err(EIO, "cannot thaw the filesystems of domain %s: %s", l->name, hs_virt_msg());
		if (thawed >= 0)
			unlink(mark);
	}
out:
	hs_buf_free(&bx);
	hs_buf_free(&cx);
	return r;
}

/* Connect to every captured disk's export. */
static int open_exports(struct live *l)
{
	for (unsigned k = 0; k < l->nd; k++) {
		struct ldisk *d = &l->d[k];
		if (!d->capture)
			continue;
		char bitmap[HS_DISK_MAX + 64];
		snprintf(bitmap, sizeof bitmap, "qemu:dirty-bitmap:backup-%s", d->dev);
		int r = hs_nbd_open(l->sock, d->dev, d->incremental ? bitmap : NULL, d->what, &d->nbd);
		if (r < 0)
			return r;
		if (hs_nbd_reader(d->nbd)->size != d->size)
			return hs_err(EIO, "%s: its export has %llu bytes, not %llu", d->what,
				      (unsigned long long)hs_nbd_reader(d->nbd)->size, (unsigned long long)d->size);
		l->s->dirty_bytes += hs_nbd_dirty_bytes(d->nbd);
	}
	return 0;
}

/* The exports' connections closed, their bytes counted. */
static void close_exports(struct live *l)
{
	for (unsigned k = 0; k < l->nd; k++)
		if (l->d[k].nbd) {
			l->s->nbd_bytes += hs_nbd_bytes_read(l->d[k].nbd);
			hs_nbd_close(l->d[k].nbd);
			l->d[k].nbd = NULL;
		}
}

static void *ender(void *arg)
{
	struct live *l = arg;
	if ((l->end_r = end_job(l)) < 0)
		snprintf(l->end_msg, sizeof l->end_msg, "%s", hs_err_msg());
	return NULL;
}

/* Every chunk is read: the job has nothing left to give, so it ends in a
 * thread of its own while the store makes the point durable (libvirt's
 * and QEMU's round trips beside the store's sync); finish() waits for it. */
static void read_all(void *arg)
{
	struct live *l = arg;
	close_exports(l);
	if (l->job && pthread_create(&l->ender, NULL, ender, l) == 0)
		l->ending = true;
}

static int capture(struct live *l)
{
	struct hs_capture_disk disks[HS_DISKS_MAX];
	unsigned n = 0;
	for (unsigned k = 0; k < l->nd; k++)
		if (l->d[k].capture)
			disks[n++] = (struct hs_capture_disk){
				.name = l->d[k].dev, .source = l->d[k].what, .reader = hs_nbd_reader(l->d[k].nbd)
			};
	/* Threads as for image files, twice the CPUs: 8 times (the earlier
	 * choice) read a whole disk no faster and an incremental's changes
	 * about 10% slower, its threads crowding QEMU off the cores. */
	struct hs_capture_opts c = l->o->cap;
	c.disks = disks;
	c.ndisks = n;
	c.consistency = l->o->quiesce && l->s->frozen ? HS_QUIESCED : HS_CRASH_CONSISTENT;
	c.id = l->id;
	c.since = l->ck_base[0] ? l->newest : NULL;
	c.locked = true;
	c.read_all = read_all;
	c.read_all_ctx = l;
	return hs_capture(&c, &l->s->cap);
}

/* End the job, and undo what a failed capture made. */
static void finish(struct live *l, bool ok)
{
	close_exports(l);
	if (l->ending) {
		pthread_join(l->ender, NULL);
		l->ending = false;
		l->job = false;
		if (l->end_r < 0)
			warn(l, "%s (the next capture ends it)", l->end_msg);
	}
	/* A pull-mode backup ends when its client says so, a moment after. */
	if (l->job && end_job(l) < 0)
		warn(l, "%s (the next capture ends it)", hs_err_msg());
	l->job = false;
	if (!ok && l->ck_new[0] && delete_checkpoint(l, l->ck_new) < 0)
		warn(l, "%s (the next capture deletes it)", hs_err_msg());
	if (ok)
		delete_old_checkpoints(l);
	if (l->dir[0] && hs_rm_tree(l->dir) < 0)
		warn(l, "%s", hs_err_msg());
	l->dir[0] = 0;
}

static int connect_domain(struct live *l)
{
	const struct hs_live_opts *o = l->o;
	hs_virt_quiet();
	l->conn = virConnectOpen(o->uri);
	if (!l->conn)
		return hs_err(EIO, "cannot connect to libvirt%s%s: %s", o->uri ? " at " : "", o->uri ? o->uri : "",
			      hs_virt_msg());
	l->dom = virDomainLookupByName(l->conn, o->domain);
	if (!l->dom)
		l->dom = virDomainLookupByUUIDString(l->conn, o->domain);
	if (!l->dom)
		return hs_err(ENOENT, "no domain %s at %s", o->domain, o->uri ? o->uri : "libvirt's default connection");
	snprintf(l->name, sizeof l->name, "%s", virDomainGetName(l->dom));
	if (virDomainIsActive(l->dom) != 1)
		return hs_err(EINVAL, "domain %s is not running (the disks of a stopped domain are read as "
				      "DISK=SOURCE files)", l->name);
	return 0;
}

/* The store's newest point of the server, and the id of the new one. */
static int points(struct live *l, struct hs_point *newest, bool *have)
{
	const struct hs_capture_opts *c = &l->o->cap;
	char **ids = NULL;
	size_t n = 0;
	int r = hs_store_points_list(c->store, c->server, &ids, &n);
	if (r == 0 && n) {
		snprintf(l->newest, sizeof l->newest, "%s", ids[n - 1]);
		r = hs_store_point_head(c->store, c->server, l->newest, newest);
		*have = r == 0;
	}
	hs_strv_free(ids);
	if (r == 0)
		r = hs_capture_next_id(c->store, c->server, l->id);
	return r;
}

int hs_live_capture(const struct hs_live_opts *o, struct hs_live_stats *s)
{
	double t0 = hs_now_s();
	memset(s, 0, sizeof *s);
	struct live l = { .o = o, .s = s, .lock = -1 };
	struct hs_point *newest = malloc(sizeof *newest);
	l.d = calloc(MAX_DOMAIN_DISKS, sizeof *l.d);
	int r = newest && l.d ? 0 : -ENOMEM;
	bool have = false;
	if (r == 0)
		r = hs_server_name_check(o->cap.server);
	if (r == 0)
		r = connect_domain(&l);
	if (r == 0)
		r = read_disks(&l);
	/* Under the server's lock from the plan to the last checkpoint deleted:
	 * two captures of one server never undo each other's checkpoints. */
	if (r == 0)
		r = hs_store_lock_server(o->cap.store, o->cap.server, &l.lock);
	if (r == 0)
		r = clear_stale_job(&l);
	if (r == 0)
		r = points(&l, newest, &have);
	if (r == 0)
		r = plan_incremental(&l, have ? newest : NULL);
	if (r == 0)
		r = make_dir(&l);
	double t = hs_now_s();
	s->setup_seconds = t - t0;
	if (r == 0 && (r = begin(&l, l.ck_base[0] != 0)) < 0 && l.ck_base[0] && !l.job && !l.no_agent &&
	    !hs_interrupted()) {
		/* A bitmap QEMU calls inconsistent (the guest crashed), or gone
		 * from the image: a whole read needs none. */
		warn(&l, "%s: reading every disk whole", hs_err_msg());
		for (unsigned k = 0; k < l.nd; k++)
			l.d[k].incremental = false;
		l.ck_base[0] = 0;
		hs_err_clear();
		r = begin(&l, false);
	}
	if (r == 0 && hs_interrupted())
		r = hs_err(EINTR, "interrupted by SIG%s", sigabbrev_np(hs_interrupted()));
	if (r == 0)
		r = open_exports(&l);
	s->start_seconds = hs_now_s() - t;
	t = hs_now_s();
	if (r == 0)
		r = capture(&l);
	s->capture_seconds = hs_now_s() - t;
	t = hs_now_s();
	if (l.conn) {
		/* The message of the failure survives the clean-up's calls. */
		char keep[1024] = "";
		if (r < 0 && hs_err_msg())
			snprintf(keep, sizeof keep, "%s", hs_err_msg());
		if (l.dom)
			finish(&l, r == 0);
		if (r < 0 && keep[0]) {
			hs_err_clear();
			hs_err(-r, "%s", keep);
		}
	}
	s->finish_seconds = hs_now_s() - t;
	if (r == 0)
		snprintf(s->checkpoint, sizeof s->checkpoint, "%s", l.ck_new);
	if (l.lock >= 0)
		hs_store_unlock(o->cap.store, l.lock);
	if (l.dom)
		virDomainFree(l.dom);
	if (l.conn)
		virConnectClose(l.conn);
	free(l.d);
	free(newest);
	return r;
}

/* libvirt domains for spares; see domain.h. */
#include "vm/domain.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

static void quiet(void *u, virErrorPtr e)
{
	(void)u;
	(void)e;
}

void hs_virt_quiet(void) { virSetErrorFunc(NULL, quiet); }

const char *hs_virt_msg(void)
{
	virErrorPtr e = virGetLastError();
	return e && e->message ? e->message : "unknown libvirt error";
}

/* Append XML-escaped text. */
static int esc(struct hs_buf *b, const char *s)
{
	int r = 0;
	for (; *s && r == 0; s++) {
		switch (*s) {
		case '&': r = hs_buf_append(b, "&amp;", 5); break;
		case '<': r = hs_buf_append(b, "&lt;", 4); break;
		case '>': r = hs_buf_append(b, "&gt;", 4); break;
		case '\'': r = hs_buf_append(b, "&apos;", 6); break;
		case '"': r = hs_buf_append(b, "&quot;", 6); break;
		default: r = hs_buf_append(b, s, 1);
		}
	}
	return r;
}

static int put(struct hs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put(struct hs_buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= sizeof tmp ? -EINVAL : hs_buf_append(b, tmp, (size_t)n);
}

int hs_domain_xml(const struct hs_domain_spec *s, struct hs_buf *b)
{
	b->len = 0;
	/* libvirt and QEMU resolve a relative path against their own working
	 * directory, not the caller's. */
	if (s->nimages < 1 || s->nimages > 26)
		return hs_err(EINVAL, "domain %s: %u disks (1 to 26 can be attached)", s->name, s->nimages);
	for (size_t i = 0; i <= s->nimages; i++) {
		const char *path = i < s->nimages ? s->images[i] : s->console_log;
		if (!path || path[0] != '/')
			return hs_err(EINVAL, "domain %s: path %s is not absolute", s->name, path ? path : "(none)");
	}
	int r = 0;
#define P(...) do { if (r == 0) r = put(b, __VA_ARGS__); } while (0)
#define E(str) do { if (r == 0) r = esc(b, str); } while (0)
	P("<domain type='%s'%s>\n  <name>", s->kvm ? "kvm" : "qemu",
	  s->isolated_net ? " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'" : "");
	E(s->name);
	P("</name>\n");
	if (s->uuid[0])
		P("  <uuid>%s</uuid>\n", s->uuid);
	P("  <memory unit='MiB'>%u</memory>\n  <vcpu>%u</vcpu>\n", s->memory_mib, s->vcpus);
	P("  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>\n");
	P("  <features><acpi/><apic/>%s</features>\n",
	  s->windows ? "<hyperv mode='custom'><relaxed state='on'/><vapic state='on'/>"
		       "<spinlocks state='on' retries='8191'/></hyperv>" : "");
	P("  <clock offset='%s'/>\n  <on_reboot>destroy</on_reboot>\n  <devices>\n", s->windows ? "localtime" : "utc");
	for (unsigned k = 0; k < s->nimages; k++) {
		P("    <disk type='file' device='disk'>\n      <driver name='qemu' type='raw' cache='none' discard='unmap'/>\n      <source file='");
		E(s->images[k]);
		P("'/>\n      <target dev='%s%c' bus='%s'/>\n    </disk>\n", s->windows ? "sd" : "vd", 'a' + k,
		  s->windows ? "sata" : "virtio");
	}
	if (s->network) {
		P("    <interface type='network'><source network='");
		E(s->network);
		P("'/><model type='%s'/></interface>\n", s->windows ? "e1000" : "virtio");
	}
	if (s->bridge) {
		P("    <interface type='bridge'><source bridge='");
		E(s->bridge);
		P("'/><model type='%s'/></interface>\n", s->windows ? "e1000" : "virtio");
	}
	P("    <serial type='file'><source path='");
	E(s->console_log);
	P("'/><target port='0'/></serial>\n");
	/* A screen only where screenshots are taken: no graphics element, so
	 * QEMU listens nowhere (-display none) and libvirt reads the screen. */
	P("    <video><model type='%s'/></video>\n    <memballoon model='none'/>\n  </devices>\n",
	  s->video ? "vga" : "none");
	if (s->isolated_net) {
		/* QEMU's own user networking (on a PCI slot libvirt does not use):
		 * restrict=on gives the guest no route to
		 * any host or network; only the forwards on 127.0.0.1 reach it. */
		P("  <qemu:commandline>\n    <qemu:arg value='-netdev'/>\n    <qemu:arg value='user,id=hsnet0,restrict=on");
		for (size_t i = 0; i < s->nforwards; i++)
			P(",hostfwd=tcp:127.0.0.1:%d-:%d", s->host_port[i], s->guest_port[i]);
		P("'/>\n    <qemu:arg value='-device'/>\n    <qemu:arg value='%s,netdev=hsnet0,addr=0x1e'/>\n  </qemu:commandline>\n",
		  s->windows ? "e1000" : "virtio-net-pci");
	}
	P("</domain>\n");
#undef P
#undef E
	return r;
}

#define KVM_UNUSABLE "/run/hotspare/kvm-unusable"

void hs_kvm_mark_unusable(void)
{
	/* Remembered until reboot, so later drills do not try KVM again. */
	mkdir("/run/hotspare", 0755);
	close(open(KVM_UNUSABLE, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
}

static bool kvm_opens(void)
{
	if (access(KVM_UNUSABLE, F_OK) == 0)
		return false;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* A KVM guest that cannot run here stops at once (paused on an internal error). */
static bool running_after(virDomainPtr dom, int ms)
{
	for (int t = 0; t < ms; t += 100) {
		int state, reason;
		if (virDomainGetState(dom, &state, &reason, 0) < 0 || state != VIR_DOMAIN_RUNNING)
			return false;
		struct timespec ts = { 0, 100 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return true;
}

/* Start spec, transient or defined for good; KVM first when asked and
 * available, TCG when a KVM guest does not keep running. */
static int start(virConnectPtr conn, struct hs_domain_spec *s, bool persistent, virDomainPtr *out)
{
	struct hs_buf xml = { 0 };
	if (s->kvm && !kvm_opens())
		s->kvm = false;
	for (;;) {
		if (persistent) {
			/* Redefining a domain of that name keeps its identity. */
			virDomainPtr old = virDomainLookupByName(conn, s->name);
			if (old) {
				virDomainGetUUIDString(old, s->uuid);
				virDomainFree(old);
			}
		}
		int r = hs_domain_xml(s, &xml);
		if (r == 0)
			r = hs_buf_append(&xml, "", 1);
		if (r < 0) {
			hs_buf_free(&xml);
			return r;
		}
		virDomainPtr dom;
		if (persistent) {
			dom = virDomainDefineXML(conn, (const char *)xml.data);
			if (dom && virDomainCreate(dom) < 0) {
				virDomainFree(dom);
				dom = NULL;
			}
		} else {
			dom = virDomainCreateXML(conn, (const char *)xml.data, 0);
		}
		/* A persistent domain is watched longer: nothing else will notice. */
		if (dom && (!s->kvm || running_after(dom, persistent ? 20000 : 1500))) {
			hs_buf_free(&xml);
			*out = dom;
			return 0;
		}
		if (!s->kvm) {
			hs_buf_free(&xml);
			return hs_err(EIO, "cannot start domain %s: %s", s->name, hs_virt_msg());
		}
		hs_domain_kill(dom);
		s->kvm = false; /* KVM does not run guests here: TCG */
		hs_kvm_mark_unusable();
	}
}

int hs_domain_start_transient(virConnectPtr conn, struct hs_domain_spec *s, virDomainPtr *out)
{
	return start(conn, s, false, out);
}

int hs_domain_start_persistent(virConnectPtr conn, struct hs_domain_spec *s, virDomainPtr *out)
{
	return start(conn, s, true, out);
}

void hs_domain_disks_free(char **paths)
{
	for (char **p = paths; p && *p; p++)
		free(*p);
	free(paths);
}

int hs_domain_disks(virDomainPtr dom, char ***paths)
{
	*paths = NULL;
	char *xml = virDomainGetXMLDesc(dom, 0);
	if (!xml)
		return hs_err(EIO, "cannot read the definition of domain %s: %s", virDomainGetName(dom),
			      hs_virt_msg());
	xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	free(xml);
	xmlXPathContextPtr ctx = doc ? xmlXPathNewContext(doc) : NULL;
	xmlXPathObjectPtr res = ctx ? xmlXPathEvalExpression(
		(const xmlChar *)"/domain/devices/disk/source/@file | /domain/devices/disk/source/@dev", ctx) : NULL;
	int r = 0;
	if (!res)
		r = hs_err(EBADMSG, "cannot read the definition of domain %s", virDomainGetName(dom));
	size_t n = res && res->nodesetval ? (size_t)res->nodesetval->nodeNr : 0;
	char **v = r == 0 ? calloc(n + 1, sizeof *v) : NULL;
	if (r == 0 && !v)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++) {
		xmlChar *s = xmlNodeGetContent(res->nodesetval->nodeTab[i]);
		if (!s || !(v[i] = strdup((const char *)s)))
			r = -ENOMEM;
		xmlFree(s);
	}
	if (res)
		xmlXPathFreeObject(res);
	if (ctx)
		xmlXPathFreeContext(ctx);
	if (doc)
		xmlFreeDoc(doc);
	if (r < 0) {
		hs_domain_disks_free(v);
		return r;
	}
	*paths = v;
	return 0;
}

int hs_domain_shutdown(virDomainPtr dom, int timeout_s, bool *destroyed)
{
	*destroyed = false;
	int state, reason;
	if (virDomainGetState(dom, &state, &reason, 0) < 0)
		return hs_err(EIO, "cannot read the state of domain %s: %s", virDomainGetName(dom), hs_virt_msg());
	if (state == VIR_DOMAIN_SHUTOFF)
		return 0;
	virDomainShutdown(dom); /* a guest without ACPI ignores it: destroyed below */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_SHUTOFF)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= timeout_s)
			break;
		struct timespec ts = { 0, 200 * 1000000 };
		nanosleep(&ts, NULL);
	}
	*destroyed = true;
	if (virDomainDestroy(dom) < 0 &&
	    !(virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_SHUTOFF))
		return hs_err(EIO, "cannot stop domain %s: %s", virDomainGetName(dom), hs_virt_msg());
	return 0;
}

void hs_domain_kill(virDomainPtr dom)
{
	if (!dom)
		return;
	int state, reason;
	/* When the state cannot be read, destroy anyway: never leave a guest behind. */
	if (virDomainGetState(dom, &state, &reason, 0) < 0 || state != VIR_DOMAIN_SHUTOFF)
		virDomainDestroy(dom);
	virDomainFree(dom);
}

int hs_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int r = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0
			? ntohs(a.sin_port) : -errno;
	close(fd);
	return r;
}

bool hs_kvm_usable(void)
{
	return kvm_opens();
}

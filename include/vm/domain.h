/* libvirt domains for spares: the XML for disk images booted with a serial
 * console captured to a file, and starting it with KVM when KVM really runs
 * guests here, else with TCG. Used by drills (transient, isolated) and
 * failover (persistent, on the operator's network). */
#pragma once
#include <stdbool.h>
#include <libvirt/libvirt.h>
#include "basics/buf.h"

#define HS_MAX_FORWARDS 16

struct hs_domain_spec {
	const char *name;
	/* Raw disk images (the spare's disks on its mount), attached in order;
	 * the first boots. virtio vda, vdb, ... (SATA sda, sdb, ... windows). */
	const char *images[64];
	unsigned nimages;
	const char *console_log; /* serial console captured to this file */
	bool video;              /* a VGA screen (for screenshots; no graphics listener), else none */
	unsigned memory_mib;
	unsigned vcpus;
	bool windows;            /* SATA disk, e1000, localtime clock, Hyper-V enlightenments */
	bool kvm;                /* domain type kvm, else qemu (TCG) */
	/* Isolated user-mode networking (restrict=on: no route anywhere) with
	 * host forwards bound to 127.0.0.1: host_port[i] -> guest_port[i]. */
	bool isolated_net;
	int guest_port[HS_MAX_FORWARDS], host_port[HS_MAX_FORWARDS];
	size_t nforwards;
	const char *network;     /* a libvirt network to attach to, or NULL */
	const char *bridge;      /* a host bridge to attach to, or NULL */
	char uuid[VIR_UUID_STRING_BUFLEN]; /* kept when a defined domain is redefined */
};

/* The domain XML for spec into out. 0, or -EINVAL for a path that is not
 * absolute (libvirt would resolve it elsewhere). */
int hs_domain_xml(const struct hs_domain_spec *spec, struct hs_buf *out);

/* Start spec as a transient domain. Tries KVM first when spec->kvm and
 * /dev/kvm opens, and falls back to TCG when the KVM guest does not run
 * (it fails to start or stops at once); spec->kvm says what was used.
 * 0, or -errno with libvirt's message. */
int hs_domain_start_transient(virConnectPtr conn, struct hs_domain_spec *spec, virDomainPtr *out);

/* Define spec as a persistent domain (replacing a stopped one of that name)
 * and start it, with the same KVM-or-TCG choice. 0 or -errno. */
int hs_domain_start_persistent(virConnectPtr conn, struct hs_domain_spec *spec, virDomainPtr *out);

/* Remember (until reboot) that KVM does not run guests on this host. */
void hs_kvm_mark_unusable(void);

/* The source paths of dom's disks (file or block device) as its XML names
 * them (the live definition of a running domain): a NULL-terminated
 * malloc'ed vector of malloc'ed strings in *paths (free with
 * hs_domain_disks_free). 0 or -errno with a message. */
int hs_domain_disks(virDomainPtr dom, char ***paths);
void hs_domain_disks_free(char **paths);

/* Shut dom down: ACPI first, destroyed if it still runs after timeout_s.
 * *destroyed says whether it had to be. 0 once it is off, or -errno. */
int hs_domain_shutdown(virDomainPtr dom, int timeout_s, bool *destroyed);

/* Whether KVM is worth trying: /dev/kvm opens and no guest has been marked
 * unusable since boot (browse's throw-away VMs ask this too). */
bool hs_kvm_usable(void);

/* Destroy (if running) and free a domain; NULL is fine. */
void hs_domain_kill(virDomainPtr dom);

/* A free TCP port on 127.0.0.1 (bound and released: pick, then use soon). */
int hs_free_port(void);

/* Silence libvirt's default error printing; messages go through hs_err. */
void hs_virt_quiet(void);

/* libvirt's last error message (or "unknown libvirt error"). */
const char *hs_virt_msg(void);

/*
 * names: what the master and the node both check about names: DNS-1123
 * labels (pod and container names) and Linux capability names.  Built
 * into vzmaster (libvz.a) and into the static vzexec, so the two can never
 * disagree about what a spec may say.  Only libc.
 */
#ifndef VZ_NAMES_H
#define VZ_NAMES_H

#include <stddef.h>

#define VZ_LABEL_MAX	63	/* DNS-1123 label */

/* s is a DNS-1123 label of at most max characters: [a-z0-9-], no '-' at
   either end. */
int	 vz_dns_label(const char *s, size_t max);

/* Capability names without "CAP_", indexed by capability number. */
extern const char *const vz_cap_names[];
#define VZ_NCAPNAMES	41

/* The number of a capability name ("NET_ADMIN", "cap_net_admin"), or -1. */
int	 vz_cap_index(const char *name);

#endif

/*
 * caps: capability names, the default set Podman and crun grant, and the
 * system calls that apply a set in the container child.  musl ships no
 * <sys/capability.h>, so the numbers and capset(2) structures are here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vzexec.h"


/* Podman's and crun's default set (containers.conf default_capabilities). */
static const int cap_default[] = {
	0 /* CHOWN */, 1 /* DAC_OVERRIDE */, 3 /* FOWNER */, 4 /* FSETID */,
	5 /* KILL */, 10 /* NET_BIND_SERVICE */, 31 /* SETFCAP */,
	6 /* SETGID */, 8 /* SETPCAP */, 7 /* SETUID */, 18 /* SYS_CHROOT */
};

int
caps_last_cap(void)
{
	static int last = -1;
	char b[16];
	ssize_t r;
	int fd;

	if (last >= 0)
		return last;
	last = VZ_NCAPNAMES - 1;
	if ((fd = open("/proc/sys/kernel/cap_last_cap",
	    O_RDONLY | O_CLOEXEC)) != -1) {
		r = read(fd, b, sizeof b - 1);
		if (r > 0) {
			b[r] = '\0';
			last = (int)strtol(b, NULL, 10);
			if (last < 0 || last > 63)
				last = VZ_NCAPNAMES - 1;
		}
		close(fd);
	}
	return last;
}

static int
caps_list(const struct json_value *a, uint64_t *mask, char *err,
    size_t errlen)
{
	size_t i;
	int c;

	*mask = 0;
	if (a == NULL || a->type != JSON_ARRAY)
		return 0;
	for (i = 0; i < a->n; i++) {
		if (strcasecmp(a->items[i]->str, "ALL") == 0) {
			*mask = ~0ULL;
			continue;
		}
		if ((c = vz_cap_index(a->items[i]->str)) < 0) {
			snprintf(err, errlen, "unknown capability '%s'",
			    a->items[i]->str);
			return -1;
		}
		*mask |= 1ULL << c;
	}
	return 0;
}

int
caps_compute(const struct json_value *cspec, uint64_t *out, char *err,
    size_t errlen)
{
	uint64_t set = 0, add, drop, all;
	size_t i;
	int last = caps_last_cap();

	all = last >= 63 ? ~0ULL : (1ULL << (last + 1)) - 1;
	for (i = 0; i < sizeof cap_default / sizeof cap_default[0]; i++)
		set |= 1ULL << cap_default[i];
	if (caps_list(json_get(cspec, "capDrop"), &drop, err, errlen) != 0 ||
	    caps_list(json_get(cspec, "capAdd"), &add, err, errlen) != 0)
		return -1;
	*out = ((set & ~drop) | add) & all;
	return 0;
}

int
caps_bound(uint64_t keep)
{
	int c, last = caps_last_cap();

	for (c = 0; c <= last; c++) {
		if (keep & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
			return -1;
	}
	return 0;
}

struct vz_cap_header {
	uint32_t	version;
	int		pid;
};
struct vz_cap_data {
	uint32_t	effective;
	uint32_t	permitted;
	uint32_t	inheritable;
};

int
caps_set(uint64_t eff)
{
	struct vz_cap_header h = { 0x20080522, 0 };	/* _LINUX_CAPABILITY_VERSION_3 */
	struct vz_cap_data d[2];

	d[0].effective = d[0].permitted = (uint32_t)eff;
	d[0].inheritable = 0;
	d[1].inheritable = 0;
	d[1].effective = d[1].permitted =
	    (uint32_t)(eff >> 32);
	return (int)syscall(SYS_capset, &h, d);
}

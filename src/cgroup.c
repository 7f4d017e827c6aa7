/*
 * cgroup: memory and pids limits per container, on cgroup v1, v2 and the
 * hybrid layout (v1 controllers plus a v2 mount without them, as on
 * RHEL/Rocky 8): whichever hierarchy holds the memory controller wins.
 * Containers live below the supervisor's own cgroup, in vz-<h>/POD.CTR,
 * where <h> is a hash of the state root so two supervisors (tests) never
 * share a directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "vzexec.h"

static int
write_str(const char *path, const char *s)
{
	int fd, rv = 0;
	size_t n = strlen(s);

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	if (write(fd, s, n) != (ssize_t)n)
		rv = -1;
	close(fd);
	return rv;
}

static int
read_small(const char *path, char *b, size_t len)
{
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	r = read(fd, b, len - 1);
	close(fd);
	if (r < 0)
		return -1;
	b[r] = '\0';
	return 0;
}

/* The supervisor's own path in the hierarchy that has controller ctl
   (ctl "" = the v2 line "0::"). */
static int
own_path(const char *ctl, char *out, size_t outlen)
{
	struct buf b = BUF_INIT;
	char *line, *save = NULL, *c1, *c2;
	int rv = -1;

	if (buf_read_file(&b, "/proc/self/cgroup", 65536) != 0)
		goto out;
	for (line = strtok_r(b.data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((c1 = strchr(line, ':')) == NULL ||
		    (c2 = strchr(c1 + 1, ':')) == NULL)
			continue;
		*c2 = '\0';
		if (ctl[0] == '\0' ? c1[1] == '\0' && line[0] == '0' :
		    strstr(c1 + 1, ctl) != NULL) {
			snprintf(out, outlen, "%s", strcmp(c2 + 1, "/") == 0 ?
			    "" : c2 + 1);
			rv = 0;
			break;
		}
	}
out:
	buf_release(&b);
	return rv;
}

static int
has_opt(const char *opts, const char *want)
{
	size_t n = strlen(want);
	const char *p = opts;

	while ((p = strstr(p, want)) != NULL) {
		if ((p == opts || p[-1] == ',') && (p[n] == ',' ||
		    p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

int
cgroup_detect(struct cg_info *cg, const char *root, int setup)
{
	struct buf b = BUF_INIT;
	char *line, *save = NULL, *f[10], *dash, *fstype, *opts, *p;
	char memmnt[200] = "", pidmnt[200] = "", v2mnt[200] = "";
	char own[256], ctl[512];
	char tag[16];
	int i;

	memset(cg, 0, sizeof *cg);
	snprintf(tag, sizeof tag, "vz-%08x",
	    (unsigned)spec_fnv(root, strlen(root), 0));
	if (buf_read_file(&b, "/proc/self/mountinfo", 1 << 20) != 0)
		goto out;
	for (line = strtok_r(b.data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((dash = strstr(line, " - ")) == NULL)
			continue;
		*dash = '\0';
		p = line;
		for (i = 0; i < 5 && p != NULL; i++) {
			f[i] = p;
			if ((p = strchr(p, ' ')) != NULL)
				*p++ = '\0';
		}
		if (i < 5)
			continue;
		fstype = dash + 3;
		if ((p = strchr(fstype, ' ')) == NULL)
			continue;
		*p++ = '\0';
		opts = strchr(p, ' ');
		opts = opts != NULL ? opts + 1 : p;
		if (strcmp(fstype, "cgroup2") == 0 && v2mnt[0] == '\0')
			snprintf(v2mnt, sizeof v2mnt, "%s", f[4]);
		else if (strcmp(fstype, "cgroup") == 0) {
			if (has_opt(opts, "memory") && memmnt[0] == '\0')
				snprintf(memmnt, sizeof memmnt, "%s", f[4]);
			if (has_opt(opts, "pids") && pidmnt[0] == '\0')
				snprintf(pidmnt, sizeof pidmnt, "%s", f[4]);
		}
	}
	if (memmnt[0] != '\0') {
		cg->mode = CG_V1;
		if (own_path("memory", own, sizeof own) != 0)
			own[0] = '\0';
		snprintf(cg->mem, sizeof cg->mem, "%s%s/%s", memmnt, own, tag);
		if (pidmnt[0] != '\0') {
			if (own_path("pids", own, sizeof own) != 0)
				own[0] = '\0';
			snprintf(cg->pids, sizeof cg->pids, "%s%s/%s", pidmnt,
			    own, tag);
		}
		if (setup) {
			mkdir(cg->mem, 0755);
			if (cg->pids[0] != '\0')
				mkdir(cg->pids, 0755);
		}
	} else if (v2mnt[0] != '\0') {
		if (own_path("", own, sizeof own) != 0)
			own[0] = '\0';
		snprintf(ctl, sizeof ctl, "%s%s/cgroup.controllers", v2mnt, own);
		if (read_small(ctl, ctl, sizeof ctl) != 0 ||
		    strstr(ctl, "memory") == NULL)
			goto out;
		/*
		 * v2 forbids controllers on a cgroup that holds processes
		 * (other than the root): move ourselves into a leaf first.
		 */
		snprintf(ctl, sizeof ctl, "%s%s/cgroup.subtree_control", v2mnt,
		    own);
		if (!setup) {
			/* status: the supervisor may have moved to a leaf */
			char *leafp = strstr(own, "/vz-supervisor");

			if (leafp != NULL)
				*leafp = '\0';
			cg->mode = CG_V2;
			snprintf(cg->mem, sizeof cg->mem, "%s%s/%s", v2mnt,
			    own, tag);
			goto out;
		}
		if (own[0] != '\0' && write_str(ctl, "+memory +pids") != 0) {
			char leaf[300];

			snprintf(leaf, sizeof leaf, "%s%s/vz-supervisor", v2mnt,
			    own);
			mkdir(leaf, 0755);
			snprintf(leaf, sizeof leaf,
			    "%s%s/vz-supervisor/cgroup.procs", v2mnt, own);
			if (write_str(leaf, "0") != 0 ||
			    write_str(ctl, "+memory +pids") != 0)
				goto out;
		}
		cg->mode = CG_V2;
		snprintf(cg->mem, sizeof cg->mem, "%s%s/%s", v2mnt, own, tag);
		mkdir(cg->mem, 0755);
		snprintf(ctl, sizeof ctl, "%s/cgroup.subtree_control", cg->mem);
		if (write_str(ctl, "+memory +pids") != 0 &&
		    write_str(ctl, "+memory") != 0)
			cg->mode = CG_NONE;
	}
out:
	buf_release(&b);
	return cg->mode == CG_NONE ? -1 : 0;
}

const char *
cgroup_mode_name(const struct cg_info *cg)
{
	return cg->mode == CG_V1 ? "v1" : cg->mode == CG_V2 ? "v2" : "none";
}

static void
cpath(char *out, size_t len, const char *base, const char *pod,
    const char *ctr, const char *file)
{
	snprintf(out, len, "%s/%s.%s%s%s", base, pod, ctr, file[0] ? "/" : "",
	    file);
}

int
cgroup_prepare(const struct cg_info *cg, const char *pod, const char *ctr,
    int64_t mem, int64_t pids, char *err, size_t errlen)
{
	char p[512], v[32];

	if (cg->mode == CG_NONE) {
		if (mem > 0 || pids > 0) {
			snprintf(err, errlen, "no usable memory cgroup for "
			    "the limits");
			return -1;
		}
		return 0;
	}
	cpath(p, sizeof p, cg->mem, pod, ctr, "");
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		goto fail;
	if (mem > 0) {
		snprintf(v, sizeof v, "%" PRId64, mem);
		cpath(p, sizeof p, cg->mem, pod, ctr, cg->mode == CG_V1 ?
		    "memory.limit_in_bytes" : "memory.max");
		if (write_str(p, v) != 0)
			goto fail;
		/* Swap must not hide an overrun: the limit is the limit. */
		cpath(p, sizeof p, cg->mem, pod, ctr, cg->mode == CG_V1 ?
		    "memory.memsw.limit_in_bytes" : "memory.swap.max");
		(void)write_str(p, cg->mode == CG_V1 ? v : "0");
	}
	if (cg->mode == CG_V2 || cg->pids[0] != '\0') {
		const char *base = cg->mode == CG_V2 ? cg->mem : cg->pids;

		cpath(p, sizeof p, base, pod, ctr, "");
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			goto fail;
		if (pids > 0) {
			snprintf(v, sizeof v, "%" PRId64, pids);
			cpath(p, sizeof p, base, pod, ctr, "pids.max");
			if (write_str(p, v) != 0)
				goto fail;
		}
	}
	return 0;
fail:
	snprintf(err, errlen, "cgroup '%s': %s", p, strerror(errno));
	return -1;
}

/* Move pid (0: the caller) into the container's cgroup(s). */
int
cgroup_attach(const struct cg_info *cg, const char *pod, const char *ctr,
    pid_t pid)
{
	char p[512], v[24];

	if (cg->mode == CG_NONE)
		return 0;
	snprintf(v, sizeof v, "%ld", (long)pid);
	cpath(p, sizeof p, cg->mem, pod, ctr, "cgroup.procs");
	if (write_str(p, v) != 0)
		return -1;
	if (cg->mode == CG_V1 && cg->pids[0] != '\0') {
		cpath(p, sizeof p, cg->pids, pod, ctr, "cgroup.procs");
		if (write_str(p, v) != 0)
			return -1;
	}
	return 0;
}

int
cgroup_enter(const struct cg_info *cg, const char *pod, const char *ctr)
{
	return cgroup_attach(cg, pod, ctr, 0);
}

int64_t
cgroup_memory(const struct cg_info *cg, const char *pod, const char *ctr)
{
	char p[512], v[64];

	if (cg->mode == CG_NONE)
		return -1;
	cpath(p, sizeof p, cg->mem, pod, ctr, cg->mode == CG_V1 ?
	    "memory.usage_in_bytes" : "memory.current");
	if (read_small(p, v, sizeof v) != 0)
		return -1;
	return strtoll(v, NULL, 10);
}

/* The kernel's count of OOM kills in the container's cgroup. */
int64_t
cgroup_oom_count(const struct cg_info *cg, const char *pod, const char *ctr)
{
	char p[512], v[512], *s;

	if (cg->mode == CG_NONE)
		return 0;
	cpath(p, sizeof p, cg->mem, pod, ctr, cg->mode == CG_V1 ?
	    "memory.oom_control" : "memory.events");
	if (read_small(p, v, sizeof v) != 0 ||
	    (s = strstr(v, "oom_kill ")) == NULL)
		return 0;
	return strtoll(s + 9, NULL, 10);
}

void
cgroup_remove(const struct cg_info *cg, const char *pod, const char *ctr)
{
	char p[512];

	if (cg->mode == CG_NONE)
		return;
	cpath(p, sizeof p, cg->mem, pod, ctr, "");
	(void)rmdir(p);
	if (cg->mode == CG_V1 && cg->pids[0] != '\0') {
		cpath(p, sizeof p, cg->pids, pod, ctr, "");
		(void)rmdir(p);
	}
}

/*
 * The supervisor records where its containers' cgroups are, because
 * `vzexec status` may run in another cgroup (an SSH session's) and would
 * compute another base.
 */
int
cgroup_save(const struct cg_info *cg, const char *root)
{
	char path[512], tmp[520];
	int fd, n, rv = -1;
	char b[600];

	n = snprintf(b, sizeof b, "%d\n%s\n%s\n", (int)cg->mode, cg->mem,
	    cg->pids);
	snprintf(path, sizeof path, "%s/run/cgroup", root);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof b)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644))
	    == -1)
		return -1;
	if (write(fd, b, (size_t)n) == n && rename(tmp, path) == 0)
		rv = 0;
	close(fd);
	return rv;
}

int
cgroup_load(struct cg_info *cg, const char *root)
{
	char path[512], b[600], *l1, *l2, *l3;

	memset(cg, 0, sizeof *cg);
	snprintf(path, sizeof path, "%s/run/cgroup", root);
	if (read_small(path, b, sizeof b) != 0 ||
	    (l1 = strchr(b, '\n')) == NULL ||
	    (l2 = strchr(l1 + 1, '\n')) == NULL ||
	    (l3 = strchr(l2 + 1, '\n')) == NULL)
		return cgroup_detect(cg, root, 0);
	*l1 = *l2 = *l3 = '\0';
	cg->mode = (enum cg_mode)strtol(b, NULL, 10);
	snprintf(cg->mem, sizeof cg->mem, "%s", l1 + 1);
	snprintf(cg->pids, sizeof cg->pids, "%s", l2 + 1);
	return 0;
}

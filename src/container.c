/*
 * container: starting one container.  The supervisor clones a child into
 * new mount, PID, UTS and IPC namespaces (host network) and moves it into
 * its cgroup while the child builds its root (overlay of the read-only
 * image rootfs with a per-container upper layer under ROOT/run, or a
 * read-only bind plus a tmpfs /tmp when overlay is refused), mounts
 * /proc, a minimal /dev and a read-only /sys, masks what runc masks,
 * binds volumes, pivots, resolves user and groups from the container's
 * own /etc files (no NSS), drops capabilities, sets no_new_privs and
 * execs the entrypoint as PID 1.  A close-on-exec pipe tells the parent
 * either nothing (exec happened) or the reason the start failed; a
 * socket the other way tells the child it is in its cgroup and may exec.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "vzexec.h"

#ifndef MS_PRIVATE
#define MS_PRIVATE (1 << 18)
#endif

int
ctr_dir(char *out, size_t len, const char *root, const char *pod,
    const char *ctr, const char *leaf)
{
	int n = snprintf(out, len, "%s/run/containers/%s/%s%s%s", root, pod,
	    ctr, leaf[0] ? "/" : "", leaf);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
mkdir_p(const char *path, mode_t mode)
{
	char p[PATH_MAX];
	char *s;

	if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* Usually the directory or its parent exists (every restart): one
	   mkdir, not one per level. */
	if (mkdir(p, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -1;
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (mkdir(p, mode) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) == 0 || errno == ENOENT ? 0 : 0;
	(void)unlink(path);
	return 0;
}

int
rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

unsigned long long
proc_starttime(pid_t pid)
{
	char path[64], b[1024], *s;
	ssize_t r;
	int fd, i;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	r = read(fd, b, sizeof b - 1);
	close(fd);
	if (r <= 0)
		return 0;
	b[r] = '\0';
	/* comm may hold spaces and parentheses: count from the last ')'. */
	if ((s = strrchr(b, ')')) == NULL)
		return 0;
	for (i = 2; i < 22 && s != NULL; i++)
		s = strchr(s + 1, ' ');
	if (s == NULL)
		return 0;
	if (s[-1] == 'Z' && s[-2] == ' ')
		return 0;
	return strtoull(s + 1, NULL, 10);
}

/* ---- the child ---- */

static int child_errfd = -1;
static int child_gofd = -1;	/* parent -> child: in the cgroup, exec */

__attribute__((noreturn)) static void
child_fail(const char *fmt, ...)
{
	char msg[160];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n > 0) {
		if ((size_t)n >= sizeof msg)
			n = sizeof msg - 1;
		if (write(child_errfd, msg, (size_t)n) < 0) {
			/* the parent will see EOF and a 127 */
		}
	}
	_exit(127);
}

static int
do_mount(const char *src, const char *dst, const char *type,
    unsigned long flags, const char *data)
{
	return mount(src, dst, type, flags, data);
}

/* Bind src onto dst read-only (a bind ignores MS_RDONLY until remount). */
static int
bind_ro(const char *src, const char *dst, int rec)
{
	if (do_mount(src, dst, NULL, MS_BIND | (rec ? MS_REC : 0), NULL) != 0)
		return -1;
	return do_mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY |
	    MS_NOSUID | MS_NODEV, NULL);
}

static void
path_in(char *out, size_t len, const char *root, const char *p)
{
	snprintf(out, len, "%s%s", root, p);
}

static void
setup_dev(const char *r)
{
	static const struct { const char *n; unsigned ma, mi; } devs[] = {
		{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
		{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 }
	};
	static const struct { const char *n, *t; } links[] = {
		{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
		{ "ptmx", "pts/ptmx" }, { "core", "/proc/kcore" }
	};
	char p[PATH_MAX], h[64];
	size_t i;
	mode_t um;
	int fd;

	/* umask 0 for the nodes, so no chmod per node; restored below
	   because the entrypoint inherits it. */
	um = umask(0);
	path_in(p, sizeof p, r, "/dev");
	mkdir(p, 0755);
	if (do_mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NOEXEC,
	    "mode=755,size=65536k") != 0)
		child_fail("cannot mount /dev: %s", strerror(errno));
	for (i = 0; i < sizeof devs / sizeof devs[0]; i++) {
		snprintf(p, sizeof p, "%s/dev/%s", r, devs[i].n);
		if (mknod(p, S_IFCHR | 0666, makedev(devs[i].ma, devs[i].mi))
		    == 0)
			continue;
		/* No mknod (devices cgroup, nested): bind the host node. */
		if ((fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0666)) != -1)
			close(fd);
		snprintf(h, sizeof h, "/dev/%s", devs[i].n);
		if (do_mount(h, p, NULL, MS_BIND, NULL) != 0)
			child_fail("cannot create /dev/%s: %s", devs[i].n,
			    strerror(errno));
	}
	for (i = 0; i < sizeof links / sizeof links[0]; i++) {
		if (strcmp(links[i].n, "core") == 0)
			continue;
		snprintf(p, sizeof p, "%s/dev/%s", r, links[i].n);
		(void)symlink(links[i].t, p);
	}
	snprintf(p, sizeof p, "%s/dev/pts", r);
	mkdir(p, 0755);
	if (do_mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC,
	    "newinstance,ptmxmode=0666,mode=0620") != 0)
		child_fail("cannot mount /dev/pts: %s", strerror(errno));
	snprintf(p, sizeof p, "%s/dev/shm", r);
	mkdir(p, 01777);
	if (do_mount("shm", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    "mode=1777,size=65536k") != 0)
		child_fail("cannot mount /dev/shm: %s", strerror(errno));
	snprintf(p, sizeof p, "%s/dev/mqueue", r);
	mkdir(p, 0755);
	umask(um);
}

/* What runc and crun mask and make read-only in every container. */
static const char *const masked[] = {
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
	"/proc/sched_debug", "/proc/scsi", "/sys/firmware",
	"/sys/devices/virtual/powercap", "/sys/dev/block"
};
static const char *const readonly[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
	"/proc/sysrq-trigger"
};

static void
setup_proc_sys(const char *r)
{
	char p[PATH_MAX], empty[PATH_MAX] = "";
	struct stat st;
	size_t i;

	path_in(p, sizeof p, r, "/proc");
	mkdir(p, 0555);
	if (do_mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    NULL) != 0)
		child_fail("cannot mount /proc: %s", strerror(errno));
	path_in(p, sizeof p, r, "/sys");
	mkdir(p, 0555);
	if (do_mount("sysfs", p, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC |
	    MS_RDONLY, NULL) != 0 && bind_ro("/sys", p, 1) != 0)
		child_fail("cannot mount /sys: %s", strerror(errno));
	/* One empty read-only tmpfs masks every directory: a bind of it
	   (read-only too) is half the cost of a new superblock each. */
	for (i = 0; i < sizeof masked / sizeof masked[0]; i++) {
		path_in(p, sizeof p, r, masked[i]);
		if (lstat(p, &st) != 0)
			continue;
		if (!S_ISDIR(st.st_mode))
			(void)do_mount("/dev/null", p, NULL, MS_BIND, NULL);
		else if (empty[0] == '\0' || do_mount(empty, p, NULL,
		    MS_BIND, NULL) != 0) {
			if (do_mount("tmpfs", p, "tmpfs", MS_RDONLY,
			    "size=0") == 0 && empty[0] == '\0')
				snprintf(empty, sizeof empty, "%s", p);
		}
	}
	for (i = 0; i < sizeof readonly / sizeof readonly[0]; i++) {
		path_in(p, sizeof p, r, readonly[i]);
		if (lstat(p, &st) != 0)
			continue;
		(void)bind_ro(p, p, 1);
	}
}

static const struct json_value *
volume_of(const struct json_value *poddoc, const char *name)
{
	const struct json_value *vols = json_get_array(poddoc, "volumes");
	size_t i;

	for (i = 0; vols != NULL && i < vols->n; i++) {
		if (strcmp(json_get_string(vols->items[i], "name"), name) == 0)
			return vols->items[i];
	}
	return NULL;
}

static void
setup_volumes(const struct launch *l, const char *r)
{
	const struct json_value *mounts = json_get_array(l->cspec,
	    "volumeMounts"), *m, *v, *ro;
	char src[PATH_MAX], dst[PATH_MAX];
	const char *hp;
	struct stat st;
	size_t i;
	int fd;

	for (i = 0; mounts != NULL && i < mounts->n; i++) {
		m = mounts->items[i];
		v = volume_of(l->poddoc, json_get_string(m, "name"));
		if (v == NULL)
			child_fail("unknown volume");
		if ((hp = json_get_string(v, "hostPath")) != NULL)
			snprintf(src, sizeof src, "%s", hp);
		else
			snprintf(src, sizeof src, "%s/run/volumes/%s/%s",
			    l->root, l->pod, json_get_string(v, "name"));
		if (stat(src, &st) != 0) {
			if (mkdir_p(src, 0755) != 0 || stat(src, &st) != 0)
				child_fail("volume '%s': %s", src,
				    strerror(errno));
		}
		path_in(dst, sizeof dst, r, json_get_string(m, "mountPath"));
		if (S_ISDIR(st.st_mode))
			(void)mkdir_p(dst, 0755);
		else if ((fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC,
		    0644)) != -1)
			close(fd);
		ro = json_get(m, "readOnly");
		if (ro != NULL && ro->type == JSON_TRUE) {
			if (bind_ro(src, dst, 1) != 0)
				goto fail;
		} else if (do_mount(src, dst, NULL, MS_BIND | MS_REC, NULL)
		    != 0)
			goto fail;
	}
	return;
fail:
	child_fail("cannot mount volume on '%s': %s", dst, strerror(errno));
}

/* Read a container file (after pivot_root) into b. */
static int
read_etc(struct buf *b, const char *path)
{
	buf_reset(b);
	return buf_read_file(b, path, 4 << 20);
}

/*
 * Look name (or a number) up in an /etc/passwd- or /etc/group-shaped
 * buffer.  Fills id (field 3), and for passwd gid (field 4) and home.
 */
static int
etc_lookup(char *data, const char *name, long want_id, long *id, long *gid,
    char *home, size_t homelen)
{
	char *line, *next, *f[7];
	int i;

	for (line = data; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		for (i = 0; i < 7; i++)
			f[i] = NULL;
		f[0] = line;
		for (i = 1; i < 7 && f[i - 1] != NULL; i++) {
			if ((f[i] = strchr(f[i - 1], ':')) != NULL)
				*f[i]++ = '\0';
		}
		if (f[2] == NULL)
			continue;
		if (name != NULL ? strcmp(f[0], name) != 0 :
		    strtol(f[2], NULL, 10) != want_id)
			continue;
		*id = strtol(f[2], NULL, 10);
		if (gid != NULL && f[3] != NULL)
			*gid = strtol(f[3], NULL, 10);
		if (home != NULL && f[5] != NULL)
			snprintf(home, homelen, "%s", f[5]);
		return 0;
	}
	return -1;
}

static int
all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
	}
	return 1;
}

struct ident {
	long	 uid, gid;
	char	 user[64];
	char	 home[256];
	gid_t	 groups[64];
	int	 ngroups;
};

static void
resolve_user(const struct launch *l, const struct json_value *img,
    struct ident *id)
{
	struct buf pw = BUF_INIT, gr = BUF_INIT;
	char spec[128], *colon, *grp = NULL, *line, *next, *members, *m;
	char *pw2;
	const char *u;
	long x, g;
	int64_t n;

	id->uid = id->gid = 0;
	id->user[0] = '\0';
	snprintf(id->home, sizeof id->home, "/");
	id->ngroups = 0;
	u = img != NULL ? json_get_string(img, "User") : NULL;
	snprintf(spec, sizeof spec, "%s", u != NULL ? u : "");
	if ((colon = strchr(spec, ':')) != NULL) {
		*colon = '\0';
		grp = colon + 1;
	}
	if (json_get_int(l->cspec, "runAsUser", &n) == 0) {
		snprintf(spec, sizeof spec, "%lld", (long long)n);
		grp = NULL;
	}
	(void)read_etc(&pw, "/etc/passwd");
	pw2 = xstrdup(pw.data != NULL ? pw.data : "");
	if (spec[0] == '\0' || all_digits(spec)) {
		id->uid = spec[0] ? strtol(spec, NULL, 10) : 0;
		g = id->uid;
		if (etc_lookup(pw.data, NULL, id->uid, &x, &g, id->home,
		    sizeof id->home) == 0)
			id->gid = g;
		else
			id->gid = 0;
		/* the name for supplementary groups, from the copy:
		   etc_lookup has split pw */
		for (line = pw2; line != NULL && *line; line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			colon = strchr(line, ':');
			if (colon == NULL || (colon = strchr(colon + 1, ':')) ==
			    NULL || strtol(colon + 1, NULL, 10) != id->uid)
				continue;
			*strchr(line, ':') = '\0';
			snprintf(id->user, sizeof id->user, "%s", line);
			break;
		}
	} else {
		if (etc_lookup(pw.data, spec, 0, &id->uid, &g, id->home,
		    sizeof id->home) != 0)
			child_fail("user '%s' not found in the image", spec);
		id->gid = g;
		snprintf(id->user, sizeof id->user, "%s", spec);
	}
	(void)read_etc(&gr, "/etc/group");
	if (grp != NULL && grp[0] != '\0') {
		if (all_digits(grp))
			id->gid = strtol(grp, NULL, 10);
		else if (etc_lookup(gr.data, grp, 0, &id->gid, NULL, NULL, 0)
		    != 0)
			child_fail("group '%s' not found in the image", grp);
		(void)read_etc(&gr, "/etc/group");
	}
	if (json_get_int(l->cspec, "runAsGroup", &n) == 0)
		id->gid = (long)n;
	/* Supplementary groups: every group listing the user by name. */
	id->groups[id->ngroups++] = (gid_t)id->gid;
	for (line = gr.data; id->user[0] && line != NULL && *line;
	    line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((colon = strchr(line, ':')) == NULL ||
		    (colon = strchr(colon + 1, ':')) == NULL ||
		    (members = strchr(colon + 1, ':')) == NULL)
			continue;
		x = strtol(colon + 1, NULL, 10);
		for (m = strtok_r(members + 1, ",", &colon); m != NULL;
		    m = strtok_r(NULL, ",", &colon)) {
			if (strcmp(m, id->user) == 0 && x != id->gid &&
			    id->ngroups < 64)
				id->groups[id->ngroups++] = (gid_t)x;
		}
	}
	buf_release(&pw);
	buf_release(&gr);
	free(pw2);
}

/* Environment: image Env, then spec env (same name replaces), defaults. */
static char **
build_env(const struct launch *l, const struct json_value *img,
    const struct ident *id)
{
	const struct json_value *ie = img ? json_get_array(img, "Env") : NULL;
	const struct json_value *se = json_get_array(l->cspec, "env");
	size_t cap = 8 + (ie ? ie->n : 0) + (se ? se->n : 0), n = 0, i, j, k;
	char **env = xcalloc(cap + 1, sizeof *env);
	struct buf b = BUF_INIT;
	const char *name, *val;
	int have_path = 0, have_home = 0;

	for (i = 0; ie != NULL && i < ie->n; i++) {
		if (ie->items[i]->type == JSON_STRING &&
		    strchr(ie->items[i]->str, '=') != NULL)
			env[n++] = xstrdup(ie->items[i]->str);
	}
	for (i = 0; se != NULL && i < se->n; i++) {
		name = json_get_string(se->items[i], "name");
		val = json_get_string(se->items[i], "value");
		buf_reset(&b);
		buf_addf(&b, "%s=%s", name, val ? val : "");
		k = strlen(name);
		for (j = 0; j < n; j++) {
			if (strncmp(env[j], name, k) == 0 && env[j][k] == '=')
				break;
		}
		if (j < n)
			free(env[j]);
		else
			j = n++;
		env[j] = xstrdup(b.data);
	}
	for (j = 0; j < n; j++) {
		if (strncmp(env[j], "PATH=", 5) == 0)
			have_path = 1;
		if (strncmp(env[j], "HOME=", 5) == 0)
			have_home = 1;
	}
	if (!have_path)
		env[n++] = xstrdup("PATH=/usr/local/sbin:/usr/local/bin:"
		    "/usr/sbin:/usr/bin:/sbin:/bin");
	buf_reset(&b);
	buf_addf(&b, "HOSTNAME=%s", l->pod);
	env[n++] = xstrdup(b.data);
	if (!have_home) {
		buf_reset(&b);
		buf_addf(&b, "HOME=%s", id->home[0] ? id->home : "/");
		env[n++] = xstrdup(b.data);
	}
	env[n] = NULL;
	buf_release(&b);
	return env;
}

static void
add_strs(char ***argv, size_t *n, const struct json_value *a)
{
	size_t i;

	for (i = 0; a != NULL && a->type == JSON_ARRAY && i < a->n; i++) {
		*argv = xreallocarray(*argv, *n + 2, sizeof **argv);
		(*argv)[(*n)++] = a->items[i]->str;
		(*argv)[*n] = NULL;
	}
}

static int
present(const struct json_value *v)
{
	return v != NULL && v->type == JSON_ARRAY;
}

/* Kubernetes: command replaces Entrypoint (and drops Cmd); args replace Cmd. */
static char **
build_argv(const struct launch *l, const struct json_value *img)
{
	const struct json_value *cmd = json_get(l->cspec, "command");
	const struct json_value *args = json_get(l->cspec, "args");
	char **argv = xcalloc(1, sizeof *argv);
	size_t n = 0;

	if (present(cmd)) {
		add_strs(&argv, &n, cmd);
		add_strs(&argv, &n, args);
	} else {
		add_strs(&argv, &n, img ? json_get(img, "Entrypoint") : NULL);
		add_strs(&argv, &n, present(args) ? args :
		    img ? json_get(img, "Cmd") : NULL);
	}
	if (n == 0)
		child_fail("no command: neither the spec nor the image names one");
	return argv;
}

static void
exec_path(char **argv, char **env)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
	    "/usr/bin:/sbin:/bin", *s, *e;
	char cand[PATH_MAX];
	int i, saw_eacces = 0;
	size_t len;

	for (i = 0; env[i] != NULL; i++) {
		if (strncmp(env[i], "PATH=", 5) == 0)
			path = env[i] + 5;
	}
	if (strchr(argv[0], '/') != NULL) {
		execve(argv[0], argv, env);
		goto fail;
	}
	for (s = path; ; s = e + 1) {
		e = strchr(s, ':');
		len = e ? (size_t)(e - s) : strlen(s);
		if (len == 0)
			snprintf(cand, sizeof cand, "./%s", argv[0]);
		else
			snprintf(cand, sizeof cand, "%.*s/%s", (int)len, s,
			    argv[0]);
		execve(cand, argv, env);
		if (errno == EACCES)
			saw_eacces = 1;
		if (e == NULL)
			break;
	}
	if (saw_eacces)
		errno = EACCES;
	else
		errno = ENOENT;
fail:
	if (errno == ENOENT || errno == ENOTDIR)
		child_fail("executable not found");
	child_fail("cannot exec '%s': %s", argv[0], strerror(errno));
}

__attribute__((noreturn)) static void
child_main(const struct launch *l, const char *rootfs, const char *cdir)
{
	char merged[PATH_MAX], upper[PATH_MAX], work[PATH_MAX], opts[3 * PATH_MAX];
	char p[PATH_MAX];
	struct buf b = BUF_INIT;
	struct json_value *imgdoc = NULL;
	const struct json_value *img, *wd, *rof;
	struct ident id;
	struct rlimit rl;
	sigset_t ss;
	uint64_t caps;
	char **argv, **env, err[160];
	const char *cwd;
	int64_t n;
	int fd, readonly_root, overlay = 0, i;
	char gobyte;

	sigemptyset(&ss);
	sigprocmask(SIG_SETMASK, &ss, NULL);
	for (i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
	setsid();

	/* stdio: output FIFOs opened read-write, so a restarting supervisor
	   never makes the container die of SIGPIPE (see supervise.c). */
	if ((fd = open("/dev/null", O_RDONLY)) != -1) {
		dup2(fd, 0);
		if (fd != 0)
			close(fd);
	}
	if (!l->nofifo) {
		snprintf(p, sizeof p, "%s/out", cdir);
		if ((fd = open(p, O_RDWR)) == -1 || dup2(fd, 1) != 1)
			child_fail("cannot open '%s': %s", p, strerror(errno));
		close(fd);
		snprintf(p, sizeof p, "%s/err", cdir);
		if ((fd = open(p, O_RDWR)) == -1 || dup2(fd, 2) != 2)
			child_fail("cannot open '%s': %s", p, strerror(errno));
		close(fd);
	}

	/*
	 * The image config of this container's own image reference, which
	 * the master puts in the spec: references whose rootfs is the same
	 * share an image id, not a config.  Only a spec of an older master
	 * has none; images/<id>/config.json is then the config of whichever
	 * reference first brought the image to this node.
	 */
	if ((img = json_get_object(l->cspec, "imageConfig")) == NULL) {
		snprintf(p, sizeof p, "%s/images/%s/config.json", l->root,
		    json_get_string(l->cspec, "image"));
		if (buf_read_file(&b, p, 1 << 20) == 0) {
			if (json_parse(b.data, b.len, &imgdoc, err,
			    sizeof err) != 0)
				child_fail("image config: %s", err);
		}
		buf_release(&b);
		img = imgdoc;
	}

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		child_fail("cannot make mounts private: %s", strerror(errno));
	rof = json_get(l->cspec, "readOnlyRootFilesystem");
	readonly_root = rof != NULL && rof->type == JSON_TRUE;
	snprintf(merged, sizeof merged, "%s/rootfs", cdir);
	snprintf(upper, sizeof upper, "%s/upper", cdir);
	snprintf(work, sizeof work, "%s/work", cdir);
	/*
	 * Overlay even for a read-only root: mount points for volumes are
	 * made in the upper layer, then / is remounted read-only.
	 *
	 * volatile: the writable layer is thrown away at the next start, so
	 * it never needs to reach the disk.  Without the option the unmount
	 * at every stop syncs the whole upper filesystem (overlayfs' sync_fs):
	 * right after an image import the old container only counted as
	 * stopped once the new image had been written out, 0.1-0.4 s of each
	 * update's switch.  Kernels before 5.10 refuse it: mount without.
	 */
	snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s,"
	    "volatile", rootfs, upper, work);
	overlay = do_mount("overlay", merged, "overlay", MS_NOSUID, opts) == 0;
	if (!overlay && errno == EINVAL) {
		opts[strlen(opts) - strlen(",volatile")] = '\0';
		overlay = do_mount("overlay", merged, "overlay", MS_NOSUID,
		    opts) == 0;
	}
	if (!overlay) {
		/* Shared image stays read-only whatever happens. */
		if (bind_ro(rootfs, merged, 0) != 0)
			child_fail("cannot mount the rootfs: %s",
			    strerror(errno));
		if (!readonly_root) {
			snprintf(p, sizeof p, "%s/tmp", merged);
			(void)do_mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV,
			    "mode=1777,size=65536k");
		}
	}
	setup_proc_sys(merged);
	setup_dev(merged);
	setup_volumes(l, merged);
	if (sethostname(l->pod, strlen(l->pod)) != 0)
		child_fail("cannot set the hostname: %s", strerror(errno));

	if (chdir(merged) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 ||
	    umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
		child_fail("cannot pivot_root: %s", strerror(errno));
	if (readonly_root && overlay && do_mount(NULL, "/", NULL, MS_BIND |
	    MS_REMOUNT | MS_RDONLY | MS_NOSUID, NULL) != 0)
		child_fail("cannot make / read-only: %s", strerror(errno));

	resolve_user(l, img, &id);
	env = build_env(l, img, &id);
	argv = build_argv(l, img);
	wd = json_get(l->cspec, "workingDir");
	cwd = wd != NULL && wd->type == JSON_STRING ? wd->str :
	    img != NULL && json_get_string(img, "WorkingDir") != NULL &&
	    json_get_string(img, "WorkingDir")[0] == '/' ?
	    json_get_string(img, "WorkingDir") : "/";
	if (chdir(cwd) != 0) {
		if (mkdir_p(cwd, 0755) != 0 || chdir(cwd) != 0)
			child_fail("cannot enter workingDir '%s': %s", cwd,
			    strerror(errno));
	}
	n = 1024;
	(void)json_get_int(l->cspec, "nofile", &n);
	rl.rlim_cur = rl.rlim_max = (rlim_t)n;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		child_fail("cannot set nofile: %s", strerror(errno));

	if (caps_compute(l->cspec, &caps, err, sizeof err) != 0)
		child_fail("%s", err);
	if (caps_bound(caps) != 0)
		child_fail("cannot trim the bounding set: %s", strerror(errno));
	if (setgroups((size_t)id.ngroups, id.groups) != 0 ||
	    setgid((gid_t)id.gid) != 0 || setuid((uid_t)id.uid) != 0)
		child_fail("cannot switch to uid %ld gid %ld: %s", id.uid,
		    id.gid, strerror(errno));
	/* Root keeps the granted set; another user gets none (as Podman). */
	if (caps_set(id.uid == 0 ? caps : 0) != 0)
		child_fail("cannot set capabilities: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		child_fail("cannot set no_new_privs: %s", strerror(errno));
	/* imgdoc is not freed: argv may point into its Entrypoint and Cmd,
	   and the exec replaces this whole process image anyway. */
	/* Nothing of the entrypoint runs outside its cgroup: wait for the
	   parent to have moved us (it kills us if it cannot). */
	if (read(child_gofd, &gobyte, 1) != 1)
		child_fail("cannot join the cgroup");
	exec_path(argv, env);
	_exit(127);
}

/*
 * 1 if path is a directory holding nothing but the names in keep (NULL:
 * nothing at all); 0 otherwise, also when it does not exist or cannot be
 * read (the caller then rebuilds it).
 */
static int
dir_only(const char *path, const char *keep)
{
	uint64_t b[64];		/* aligned for the record headers */
	struct dirent64_hdr {
		uint64_t	 ino;
		int64_t		 off;
		unsigned short	 reclen;
		unsigned char	 type;
		char		 name[];
	} *d;
	long n, i;
	int fd, ok = 1;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return 0;
	while (ok && (n = syscall(SYS_getdents64, fd, b, sizeof b)) > 0) {
		for (i = 0; i < n; i += d->reclen) {
			d = (struct dirent64_hdr *)(void *)((char *)b + i);
			if (strcmp(d->name, ".") == 0 ||
			    strcmp(d->name, "..") == 0)
				continue;
			if (keep == NULL || strcmp(d->name, keep) != 0 ||
			    d->type != DT_DIR) {
				ok = 0;
				break;
			}
		}
	}
	if (n < 0)
		ok = 0;
	close(fd);
	return ok;
}

static int
dir_empty(const char *path)
{
	return dir_only(path, NULL);
}

/* A work dir overlayfs can reuse: nothing but its own (empty) work/work. */
static int
work_clean(const char *path)
{
	char w[PATH_MAX];

	if (!dir_only(path, "work"))
		return 0;
	snprintf(w, sizeof w, "%s/work", path);
	return dir_empty(w) || access(w, F_OK) != 0;
}

/*
 * The container's PID 1 was reaped (its mounts are gone with its mount
 * namespace): drop overlayfs's scratch work/work now, while the
 * supervisor is idle, instead of at the next mount where overlayfs
 * would rmdir it on the start path (~0.2 ms on ext4).  After a volatile
 * mount it holds incompat/volatile, which would make overlayfs refuse the
 * next mount.  The upper layer stays for inspection until the next start.
 */
void
container_reaped(const char *root, const char *pod, const char *ctr)
{
	char p[PATH_MAX];

	if (ctr_dir(p, sizeof p, root, pod, ctr, "work/work") == 0 &&
	    rmdir(p) != 0 && errno != ENOENT)
		(void)rm_rf(p);
}

pid_t
container_launch(const struct launch *l, char *err, size_t errlen)
{
	char rootfs[PATH_MAX], cdir[PATH_MAX], p[PATH_MAX], cgerr[160] = "";
	struct stat st;
	int pfd[2], gfd[2], status;
	ssize_t r;
	pid_t pid;

	err[0] = '\0';
	snprintf(rootfs, sizeof rootfs, "%s/images/%s/rootfs", l->root,
	    json_get_string(l->cspec, "image"));
	if (stat(rootfs, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "image not present");
		return -1;
	}
	if (ctr_dir(cdir, sizeof cdir, l->root, l->pod, l->ctr, "") != 0 ||
	    mkdir_p(cdir, 0700) != 0) {
		snprintf(err, errlen, "cannot create '%s': %s", cdir,
		    strerror(errno));
		return -1;
	}
	/*
	 * A restart gets a fresh writable layer, as in Kubernetes.  An
	 * empty upper directory already is one, and overlayfs empties its
	 * own work/work at mount, so only a layer the last run wrote into
	 * is removed: rmdir on ext4 costs ~0.2 ms each, the largest part of
	 * a start on the host side.
	 */
	snprintf(p, sizeof p, "%s/upper", cdir);
	if (!dir_empty(p)) {
		(void)rm_rf(p);
		(void)mkdir(p, 0755);
	}
	snprintf(p, sizeof p, "%s/work", cdir);
	if (mkdir(p, 0700) != 0 && errno == EEXIST && !work_clean(p)) {
		(void)rm_rf(p);
		(void)mkdir(p, 0700);
	}
	snprintf(p, sizeof p, "%s/rootfs", cdir);
	(void)mkdir(p, 0755);

	if (pipe2(pfd, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	/* A socket, not a pipe: send(MSG_NOSIGNAL) to a child that died
	   early is EPIPE, never SIGPIPE in the caller. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gfd) != 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	/* Raw clone: fork semantics (no CLONE_VM), new namespaces. */
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWNS | CLONE_NEWPID |
	    CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD, 0, 0, 0, 0);
	if (pid == -1) {
		snprintf(err, errlen, "clone: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		close(gfd[0]);
		close(gfd[1]);
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		close(gfd[1]);
		child_errfd = pfd[1];
		child_gofd = gfd[0];
		child_main(l, rootfs, cdir);
	}
	close(pfd[1]);
	close(gfd[0]);
	/*
	 * The parent moves the child into its cgroup while the child builds
	 * its mounts.  On cgroup v1 the first migration after a quiet spell
	 * waits for an RCU grace period (cgroup_threadgroup_rwsem), ~10 ms
	 * here: done by the child it was all on the start path.  The child
	 * execs only after the go byte, so the entrypoint never runs
	 * outside its limits.
	 */
	if (cgroup_attach(l->cg, l->pod, l->ctr, pid) != 0) {
		snprintf(cgerr, sizeof cgerr, "cannot join the cgroup: %s",
		    strerror(errno));
		(void)kill(pid, SIGKILL);
	} else if (send(gfd[1], "g", 1, MSG_NOSIGNAL) != 1) {
		snprintf(cgerr, sizeof cgerr, "go pipe: %s", strerror(errno));
		(void)kill(pid, SIGKILL);
	}
	close(gfd[1]);
	do
		r = read(pfd[0], err, errlen - 1);
	while (r < 0 && errno == EINTR);
	close(pfd[0]);
	if (r > 0 || cgerr[0] != '\0') {
		/* the child's own reason first: it may have died first */
		if (r > 0)
			err[r] = '\0';
		else
			snprintf(err, errlen, "%s", cgerr);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		return -1;
	}
	err[0] = '\0';
	return pid;
}

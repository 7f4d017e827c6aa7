/*
 * supervise: the resident loop of `vzexec supervise` (and of `vzexec run`
 * for one pod in the foreground).  One self-pipe for signals, one poll(2)
 * over it, the containers' output FIFOs and the pidfds of re-adopted
 * containers; no threads.  Each container is a small state machine
 * (waiting, running, backoff, stopping, stopped, failed) whose every change
 * is written atomically to run/containers/POD/CTR/state, which is what
 * `vzexec status` reads and what a restarted supervisor re-adopts from.
 *
 * Output: a container's stdout and stderr are FIFOs under its run/ folder,
 * which the container opens read-write.  A supervisor killed with -9 thus
 * never makes its containers die of SIGPIPE; their output waits in the
 * FIFO (64 KiB, after which writes block) until the next supervisor opens
 * it again.
 *
 * Memory: the pods' parsed specs live as long as the pods; the loop itself
 * allocates nothing but the poll array, which is resized only on reload.
 *
 * Upgrade: SIGUSR2 makes the supervisor execve the vzexec on disk in its
 * own process, once no container is stopping.  The containers stay its
 * children and the new image re-adopts them as after a crash, but keeps
 * their exit codes (it can still wait for them); init sees no restart.
 *
 * Firewall: at start a child syncs the hostPorts of every installed pod
 * (firewall_restore): after a reboot the distribution has loaded its own
 * ruleset without our rules, and spec-put skips the sync while a pod's
 * ports stay the same.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "vzexec.h"

#define BACKOFF_RESET_MS	(10 * 60 * 1000)
#define BACKOFF_FACTOR_MAX	30		/* 10 s base -> 5 min */
#define ADOPT_POLL_MS		1000

static const struct vzopts *O;
static struct cg_info cg;
static struct vz_pod *pods;
static int sigpipe_fd[2] = { -1, -1 };
static volatile sig_atomic_t sig_seen;
static int shutting_down;
static int reexec_pending;	/* SIGUSR2 */
static struct buf statebuf = BUF_INIT;

struct pollref {
	struct vz_ctr	*c;
	int		 kind;	/* 0 out, 1 err, 2 pidfd */
};
static struct pollfd *pfd;
static struct pollref *pref;
static size_t npfd_cap;

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
state_name(enum ctr_state s)
{
	static const char *const n[] = { "waiting", "running", "backoff",
	    "stopping", "stopped", "failed" };

	return n[s];
}

static void
on_signal(int sig)
{
	unsigned char c = (unsigned char)sig;
	int save = errno;

	if (write(sigpipe_fd[1], &c, 1) < 0) {
		/* pipe full: a wakeup is pending anyway */
	}
	errno = save;
}

/*
 * Starting a container, reloading and adoption go deep (PATH_MAX buffers,
 * JSON parsing, nftw); the pages they touched would stay resident for the
 * supervisor's whole life.  Give back everything below the loop's frame:
 * the kernel applies the advice to what is mapped and reports ENOMEM for
 * the rest, which is harmless.
 */
static int stack_dirty;

/* noinline: `here` must sit in this small frame, not in a caller's. */
__attribute__((noinline)) static void
stack_trim(void)
{
	char here;
	uintptr_t sp = (uintptr_t)&here, hi, lo;

	if (!stack_dirty)
		return;
	stack_dirty = 0;
	hi = (sp - 1024) & ~(uintptr_t)4095;
	lo = hi > (8u << 20) ? hi - (8u << 20) : 0;
	(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* ---- state files ---- */

static void
state_write(struct vz_ctr *c)
{
	struct json_writer w;
	char path[PATH_MAX], tmp[PATH_MAX + 8], fp[20];
	int fd;

	stack_dirty = 1;
	buf_reset(&statebuf);
	json_writer_init(&w, &statebuf, 0);
	json_begin_object(&w);
	json_kv_string(&w, "pod", c->pod->name);
	json_kv_string(&w, "container", c->name);
	json_kv_string(&w, "hash", c->pod->hash);
	snprintf(fp, sizeof fp, "%016" PRIx64, c->pod->fp);
	json_kv_string(&w, "fp", fp);
	json_kv_string(&w, "image", json_get_string(c->spec, "image"));
	json_kv_string(&w, "state", state_name(c->state));
	json_key(&w, "reason");
	if (c->reason[0])
		json_string(&w, c->reason);
	else
		json_null(&w);
	json_kv_int(&w, "pid", c->state == CS_RUNNING ||
	    c->state == CS_STOPPING ? c->pid : 0);
	json_key(&w, "startTime");
	json_uint(&w, c->starttime);
	json_kv_int(&w, "startedAt", (int64_t)c->started_at);
	json_kv_int(&w, "restarts", c->restarts);
	json_key(&w, "lastExitCode");
	if (c->last_exit >= 0)
		json_int(&w, c->last_exit);
	else
		json_null(&w);
	json_kv_bool(&w, "ready", c->state == CS_RUNNING && c->ready);
	json_kv_int(&w, "backoffMs", c->backoff_ms);
	json_end_object(&w);
	buf_addc(&statebuf, '\n');

	if (ctr_dir(path, sizeof path, O->root, c->pod->name, c->name, "") != 0)
		return;
	(void)mkdir_p(path, 0700);
	if (ctr_dir(path, sizeof path, O->root, c->pod->name, c->name,
	    "state") != 0)
		return;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644))
	    == -1)
		return;
	if (write(fd, statebuf.data, statebuf.len) != (ssize_t)statebuf.len) {
		close(fd);
		unlink(tmp);
		return;
	}
	close(fd);
	(void)rename(tmp, path);
}

static void
set_state(struct vz_ctr *c, enum ctr_state s, const char *reason)
{
	c->state = s;
	if (reason != NULL)
		snprintf(c->reason, sizeof c->reason, "%s", reason);
	state_write(c);
}

/* ---- output ---- */

static void
line_emit(struct vz_ctr *c, struct linebuf *lb, int err)
{
	if (O->foreground_pod) {
		struct buf b = BUF_INIT;

		buf_addf(&b, "%s: %.*s\n", c->name, (int)lb->len, lb->data);
		if (write(err ? 2 : 1, b.data, b.len) < 0) {
			/* our own stdout is gone */
		}
		buf_release(&b);
	} else
		vzlog_line(c->pod->name, c->name, err, lb->data, lb->len);
	lb->len = 0;
}

/* Read what is there; emit whole lines (long ones in pieces). */
static void
fifo_read(struct vz_ctr *c, struct linebuf *lb, int err)
{
	char chunk[1024];
	ssize_t r, i;
	int rounds;

	for (rounds = 0; rounds < 16; rounds++) {
		r = read(lb->fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0) {
				/* every writer is gone */
				if (lb->len > 0)
					line_emit(c, lb, err);
				close(lb->fd);
				lb->fd = -1;
			}
			return;
		}
		for (i = 0; i < r; i++) {
			if (chunk[i] == '\n') {
				line_emit(c, lb, err);
				continue;
			}
			if (lb->len == sizeof lb->data)
				line_emit(c, lb, err);
			lb->data[lb->len++] = chunk[i];
		}
	}
}

static int
fifo_open(struct vz_ctr *c, struct linebuf *lb, const char *leaf)
{
	char p[PATH_MAX];

	if (lb->fd != -1)
		return 0;
	if (ctr_dir(p, sizeof p, O->root, c->pod->name, c->name, leaf) != 0)
		return -1;
	if (mkfifo(p, 0600) != 0 && errno != EEXIST)
		return -1;
	lb->fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	lb->len = 0;
	return lb->fd == -1 ? -1 : 0;
}

static void
fifo_close(struct vz_ctr *c)
{
	if (c->out.fd != -1)
		fifo_read(c, &c->out, 0);
	if (c->err.fd != -1)
		fifo_read(c, &c->err, 1);
	if (c->out.fd != -1)
		close(c->out.fd);
	if (c->err.fd != -1)
		close(c->err.fd);
	c->out.fd = c->err.fd = -1;
}

/* ---- container life ---- */

static void
probes_arm(struct vz_ctr *c, int64_t now)
{
	const struct json_value *p;
	int64_t d;

	c->ready = json_get_object(c->spec, "readinessProbe") == NULL;
	c->ready_fail = c->live_fail = 0;
	p = json_get_object(c->spec, "readinessProbe");
	d = 0;
	if (p != NULL)
		(void)json_get_int(p, "initialDelaySeconds", &d);
	c->probe_ms = p != NULL ? now + d * 1000 : 0;
	/* Until the first success: 2 ms, doubling up to periodSeconds, so
	   a waiting master hears "ready" within ms, not a period later (a
	   small server listens 3-10 ms after its exec; each probe is a
	   fork). */
	c->probe_gap_ms = p != NULL ? 2 : 0;
	p = json_get_object(c->spec, "livenessProbe");
	d = 0;
	if (p != NULL)
		(void)json_get_int(p, "initialDelaySeconds", &d);
	c->live_ms = p != NULL ? now + d * 1000 : 0;
}

static void
backoff_next(struct vz_ctr *c)
{
	int base = O->backoff_base_ms;

	c->backoff_ms = c->backoff_ms == 0 ? base :
	    c->backoff_ms >= base * BACKOFF_FACTOR_MAX / 2 ?
	    base * BACKOFF_FACTOR_MAX : c->backoff_ms * 2;
}

static void
ctr_start(struct vz_ctr *c)
{
	struct launch l;
	char err[160];
	int64_t mem = 0, pids = 0, now = now_ms();
	pid_t pid;

	if (c->attempts++ > 0)
		c->restarts++;
	stack_dirty = 1;
	(void)json_get_int(c->spec, "memoryLimit", &mem);
	(void)json_get_int(c->spec, "pidsLimit", &pids);
	memset(&l, 0, sizeof l);
	l.root = O->root;
	l.cg = &cg;
	l.pod = c->pod->name;
	l.ctr = c->name;
	l.poddoc = c->pod->doc;
	l.cspec = c->spec;
	if (cgroup_prepare(&cg, c->pod->name, c->name, mem, pids, err,
	    sizeof err) != 0)
		goto fail;
	if (ctr_dir(err, sizeof err, O->root, c->pod->name, c->name, "") != 0 ||
	    mkdir_p(err, 0700) != 0 || fifo_open(c, &c->out, "out") != 0 ||
	    fifo_open(c, &c->err, "err") != 0) {
		snprintf(err, sizeof err, "cannot create the output FIFOs: %s",
		    strerror(errno));
		goto fail;
	}
	if ((pid = container_launch(&l, err, sizeof err)) == -1)
		goto fail;
	c->pid = pid;
	c->starttime = proc_starttime(pid);
	c->started_at = time(NULL);
	c->started_ms = now;
	c->adopted = 0;
	c->oom_base = cgroup_oom_count(&cg, c->pod->name, c->name);
	probes_arm(c, now);
	vzlog(0, "%s/%s: started, pid %d", c->pod->name, c->name, (int)pid);
	set_state(c, CS_RUNNING, "");
	return;
fail:
	vzlog(1, "%s: cannot start '%s': %s", c->pod->name, c->name, err);
	fifo_close(c);
	cgroup_remove(&cg, c->pod->name, c->name);
	if (c->pod->policy == RP_NEVER || O->foreground_pod) {
		set_state(c, CS_FAILED, err);
		return;
	}
	/* Never a tight loop: a start that fails waits like a crash. */
	c->timer_ms = now + c->backoff_ms;
	vzlog(0, "%s/%s: back-off %d ms before the next start", c->pod->name,
	    c->name, c->backoff_ms);
	backoff_next(c);
	set_state(c, CS_BACKOFF, err);
}

static int
wants_restart(struct vz_ctr *c, int code)
{
	if (c->pod->removing || shutting_down)
		return 0;
	switch (c->pod->policy) {
	case RP_ALWAYS:
		return 1;
	case RP_ONFAILURE:
		return code != 0;
	default:
		return 0;
	}
}

/* The container's PID 1 is gone: status < 0 when it was not our child. */
static void
ctr_exited(struct vz_ctr *c, int status)
{
	int64_t now = now_ms();
	char reason[96];
	int code = -1;

	fifo_close(c);
	if (c->pidfd != -1) {
		close(c->pidfd);
		c->pidfd = -1;
	}
	if (status >= 0)
		code = WIFEXITED(status) ? WEXITSTATUS(status) :
		    128 + WTERMSIG(status);
	if (cgroup_oom_count(&cg, c->pod->name, c->name) > c->oom_base)
		snprintf(reason, sizeof reason, "OOMKilled");
	else if (status < 0)
		snprintf(reason, sizeof reason, "exited (code unknown: "
		    "re-adopted)");
	else
		snprintf(reason, sizeof reason, "%s", code == 0 ? "Completed" :
		    "Error");
	c->last_exit = code;
	c->pid = 0;
	cgroup_remove(&cg, c->pod->name, c->name);
	container_reaped(O->root, c->pod->name, c->name);
	vzlog(code != 0, "%s/%s: exited, code %d (%s)", c->pod->name, c->name,
	    code, reason);
	if (c->restart_after_stop && !c->pod->removing && !shutting_down) {
		c->restart_after_stop = 0;
		c->backoff_ms = 0;
		c->timer_ms = now;
		set_state(c, CS_WAITING, reason);
		return;
	}
	if (c->state == CS_STOPPING || !wants_restart(c, code)) {
		set_state(c, CS_STOPPED, reason);
		return;
	}
	if (now - c->started_ms >= BACKOFF_RESET_MS)
		c->backoff_ms = 0;
	c->timer_ms = now + c->backoff_ms;
	vzlog(0, "%s/%s: back-off %d ms before the next start", c->pod->name,
	    c->name, c->backoff_ms);
	backoff_next(c);
	set_state(c, CS_BACKOFF, reason);
}

static void
ctr_stop(struct vz_ctr *c)
{
	switch (c->state) {
	case CS_RUNNING:
		(void)kill(c->pid, SIGTERM);
		c->timer_ms = now_ms() + (int64_t)c->pod->grace * 1000;
		set_state(c, CS_STOPPING, NULL);
		break;
	case CS_WAITING:
	case CS_BACKOFF:
	case CS_FAILED:
		set_state(c, CS_STOPPED, NULL);
		break;
	default:
		break;
	}
}

static int
pod_active(const struct vz_pod *p)
{
	size_t i;

	for (i = 0; i < p->nctr; i++) {
		if (p->ctr[i].state == CS_RUNNING ||
		    p->ctr[i].state == CS_STOPPING)
			return 1;
	}
	return 0;
}

/* ---- adoption after a restart of the supervisor ---- */

static int
state_read(const char *pod, const char *ctr, struct json_value **out)
{
	struct buf b = BUF_INIT;
	char path[PATH_MAX], err[128];
	int rv = -1;

	*out = NULL;
	if (ctr_dir(path, sizeof path, O->root, pod, ctr, "state") == 0 &&
	    buf_read_file(&b, path, 65536) == 0 &&
	    json_parse(b.data, b.len, out, err, sizeof err) == 0)
		rv = 0;
	buf_release(&b);
	return rv;
}

/* A recorded pid that is still the same process (start time matches). */
static pid_t
recorded_live_pid(const struct json_value *st, unsigned long long *stt)
{
	int64_t pid;
	const struct json_value *v = json_get(st, "startTime");

	if (json_get_int(st, "pid", &pid) != 0 || pid <= 0 || v == NULL ||
	    v->type != JSON_NUMBER)
		return 0;
	*stt = strtoull(v->str, NULL, 10);
	if (*stt == 0 || proc_starttime((pid_t)pid) != *stt)
		return 0;
	return (pid_t)pid;
}

static void
ctr_adopt(struct vz_ctr *c)
{
	struct json_value *st;
	unsigned long long stt;
	const char *fp;
	char mine[20];
	int64_t n;
	pid_t pid;

	if (state_read(c->pod->name, c->name, &st) != 0)
		return;
	if ((pid = recorded_live_pid(st, &stt)) == 0)
		goto out;
	c->pid = pid;
	c->starttime = stt;
	c->started_at = json_get_int(st, "startedAt", &n) == 0 ? (time_t)n :
	    time(NULL);
	c->started_ms = now_ms();
	c->restarts = json_get_int(st, "restarts", &n) == 0 ? (int)n : 0;
	c->adopted = 1;
	c->attempts = 1;
	c->oom_base = cgroup_oom_count(&cg, c->pod->name, c->name);
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (c->pidfd != -1)
		(void)fcntl(c->pidfd, F_SETFD, FD_CLOEXEC);
	(void)fifo_open(c, &c->out, "out");
	(void)fifo_open(c, &c->err, "err");
	probes_arm(c, now_ms());
	c->ready = 1;
	c->probe_gap_ms = 0;
	vzlog(0, "%s/%s: re-adopted running pid %d", c->pod->name, c->name,
	    (int)pid);
	set_state(c, CS_RUNNING, "");
	snprintf(mine, sizeof mine, "%016" PRIx64, c->pod->fp);
	fp = json_get_string(st, "fp");
	if (fp == NULL || strcmp(fp, mine) != 0) {
		/* The spec changed while no supervisor watched. */
		c->restart_after_stop = 1;
		ctr_stop(c);
	}
out:
	json_free(st);
}

/* Kill what runs for pods that are no longer wanted (found in run/). */
static void
kill_orphans(void)
{
	char path[PATH_MAX], cpath[PATH_MAX];
	struct vz_pod *p;
	struct json_value *st;
	unsigned long long stt;
	struct dirent *d, *e;
	DIR *dp, *cp;
	pid_t pid;

	snprintf(path, sizeof path, "%s/run/containers", O->root);
	if ((dp = opendir(path)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		for (p = pods; p != NULL; p = p->next) {
			if (strcmp(p->name, d->d_name) == 0)
				break;
		}
		if (p != NULL)
			continue;
		snprintf(cpath, sizeof cpath, "%s/%s", path, d->d_name);
		if ((cp = opendir(cpath)) == NULL)
			continue;
		while ((e = readdir(cp)) != NULL) {
			if (e->d_name[0] == '.' ||
			    state_read(d->d_name, e->d_name, &st) != 0)
				continue;
			if ((pid = recorded_live_pid(st, &stt)) != 0) {
				vzlog(0, "%s/%s: not wanted any more, killing "
				    "pid %d", d->d_name, e->d_name, (int)pid);
				(void)kill(pid, SIGKILL);
			}
			json_free(st);
			cgroup_remove(&cg, d->d_name, e->d_name);
		}
		closedir(cp);
		(void)rm_rf(cpath);
	}
	closedir(dp);
}

/* ---- specs ---- */

static void
pod_add(struct vz_pod *p, int adopt)
{
	size_t i;
	char path[PATH_MAX];

	p->next = pods;
	p->seen = 1;
	pods = p;
	for (i = 0; i < p->nctr; i++) {
		p->ctr[i].timer_ms = now_ms();
		p->ctr[i].state = CS_WAITING;
		if (adopt)
			ctr_adopt(&p->ctr[i]);
		if (p->ctr[i].state == CS_WAITING)
			state_write(&p->ctr[i]);
	}
	snprintf(path, sizeof path, "%s/run/volumes/%s", O->root, p->name);
	(void)mkdir_p(path, 0755);
}

static void
pod_remove_files(struct vz_pod *p, int volumes)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/run/containers/%s", O->root, p->name);
	(void)rm_rf(path);
	if (volumes) {
		snprintf(path, sizeof path, "%s/run/volumes/%s", O->root,
		    p->name);
		(void)rm_rf(path);
	}
}

static void
pod_stop(struct vz_pod *p)
{
	size_t i;

	for (i = 0; i < p->nctr; i++)
		ctr_stop(&p->ctr[i]);
}

static void
load_specs(int adopt)
{
	char dir[PATH_MAX], path[PATH_MAX], name[VZ_NAME_MAX + 1], err[256];
	struct vz_pod *p, *old, *np, *stopping;
	struct dirent *d;
	size_t n;
	DIR *dp;

	stack_dirty = 1;
	for (p = pods; p != NULL; p = p->next)
		p->seen = 0;
	snprintf(dir, sizeof dir, "%s/pods", O->root);
	if ((dp = opendir(dir)) == NULL) {
		vzlog(1, "cannot read '%s': %s", dir, strerror(errno));
		return;
	}
	while ((d = readdir(dp)) != NULL) {
		n = strlen(d->d_name);
		if (d->d_name[0] == '.' || n < 6 || n - 5 > VZ_NAME_MAX ||
		    strcmp(d->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(name, sizeof name, "%.*s", (int)(n - 5), d->d_name);
		snprintf(path, sizeof path, "%s/%s", dir, d->d_name);
		for (old = pods; old != NULL; old = old->next) {
			if (strcmp(old->name, name) == 0 && !old->removing)
				break;
		}
		if (old == NULL) {
			/* Still stopping an earlier version of this name? */
			for (stopping = pods; stopping != NULL;
			    stopping = stopping->next)
				if (strcmp(stopping->name, name) == 0)
					break;
		} else {
			old->seen = 1;
			stopping = NULL;
		}
		if (stopping != NULL)
			stopping->seen = 1;
		if (spec_load(path, name, &np, err, sizeof err) != 0) {
			vzlog(1, "pod spec '%s': %s: pod not started%s", path,
			    err, old != NULL ? " (the running version stays)" :
			    "");
			continue;
		}
		if (old == NULL && stopping != NULL) {
			/* Never two copies at once (ports, volumes): the new
			   spec starts when the old copy has stopped. */
			if (stopping->successor != NULL &&
			    stopping->successor->fp == np->fp)
				spec_free(np);
			else {
				vzlog(0, "%s: still stopping; the new spec "
				    "starts when it has stopped", name);
				spec_free(stopping->successor);
				stopping->successor = np;
			}
		} else if (old == NULL)
			pod_add(np, adopt);
		else if (old->fp == np->fp)
			spec_free(np);
		else {
			vzlog(0, "%s: spec changed, restarting", name);
			old->removing = 1;
			spec_free(old->successor);
			old->successor = np;
			pod_stop(old);
		}
	}
	closedir(dp);
	for (p = pods; p != NULL; p = p->next) {
		if (!p->seen && p->removing && p->successor != NULL) {
			/* removed again before its successor could start */
			spec_free(p->successor);
			p->successor = NULL;
		}
		if (!p->seen && !p->removing) {
			vzlog(0, "%s: spec removed, stopping", p->name);
			p->removing = 1;
			pod_stop(p);
		}
	}
}

/* ---- firewall ---- */

/* In the restore child: one pod; a failure is a warning in the log. */
static int
firewall_restore_pod(const char *name, const char *path)
{
	struct buf b = BUF_INIT;
	struct json_value *doc = NULL;
	char err[512];
	int did = 0;

	if (path != NULL && buf_read_file(&b, path, VZ_SPEC_MAX) != 0) {
		if (errno != ENOENT)
			vzlog(1, "firewall: cannot read '%s': %s", path,
			    strerror(errno));
		goto out;
	}
	if (path != NULL && json_parse(b.data, b.len, &doc, err,
	    sizeof err) != 0) {
		vzlog(1, "firewall: '%s': %s", path, err);
		goto out;
	}
	/* No hostPorts: no rules were ever added, unless a sync failed. */
	if (firewall_same_ports(doc, NULL) && !firewall_failed(O->root, name))
		goto out;
	did = 1;
	if (firewall_sync_root(O->root, name, doc, err, sizeof err) != 0)
		vzlog(1, "firewall: '%s': %s", name, err);
out:
	json_free(doc);
	buf_release(&b);
	return did;
}

/*
 * Bring back the rules of every installed pod, and take away those of a
 * removed pod whose last sync failed.  In a child at low priority: the
 * execs of nft/iptables take over 100 ms a pod and the containers must
 * not wait for them.  The child is reaped like any other (reap() ignores
 * pids it does not know).
 */
static void
firewall_restore(void)
{
	char dir[PATH_MAX], path[PATH_MAX], name[VZ_NAME_MAX + 1];
	struct dirent *d;
	DIR *dp;
	size_t n;
	int synced = 0, i;
	pid_t pid;

	if ((pid = fork()) == -1) {
		vzlog(1, "firewall: cannot fork to restore the rules: %s",
		    strerror(errno));
		return;
	}
	if (pid > 0)
		return;
	/* The parent's handlers write to its self-pipe: not ours. */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	close(sigpipe_fd[0]);
	close(sigpipe_fd[1]);
	if (nice(10) == -1) {
		/* as urgent as the rest, then */
	}
	for (i = 0; i < 2; i++) {
		/* 0: the installed specs; 1: failed syncs of removed pods */
		snprintf(dir, sizeof dir, i == 0 ? "%s/pods" :
		    "%s/run/firewall", O->root);
		if ((dp = opendir(dir)) == NULL)
			continue;
		while ((d = readdir(dp)) != NULL) {
			const char *ext = i == 0 ? ".json" : ".error";
			size_t elen = strlen(ext);

			n = strlen(d->d_name);
			if (d->d_name[0] == '.' || n <= elen ||
			    n - elen > VZ_NAME_MAX ||
			    strcmp(d->d_name + n - elen, ext) != 0)
				continue;
			snprintf(name, sizeof name, "%.*s", (int)(n - elen),
			    d->d_name);
			if (!spec_pod_name_ok(name))
				continue;
			snprintf(path, sizeof path, "%s/pods/%s.json", O->root,
			    name);
			if (i == 1 && access(path, F_OK) == 0)
				continue;	/* done in the first pass */
			synced += firewall_restore_pod(name, i == 0 ? path :
			    NULL);
		}
		closedir(dp);
	}
	if (synced > 0)
		vzlog(0, "firewall: synced the rules of %d pod%s", synced,
		    synced == 1 ? "" : "s");
	_exit(0);
}

/* ---- probes ---- */

static void
probe_maybe(struct vz_ctr *c, int64_t now)
{
	const struct json_value *p;
	int64_t per = 10;
	int live;

	if (c->state != CS_RUNNING || c->probe_pid > 0)
		return;
	if (c->probe_ms != 0 && c->probe_ms <= now)
		live = 0;
	else if (c->live_ms != 0 && c->live_ms <= now)
		live = 1;
	else
		return;
	p = json_get_object(c->spec, live ? "livenessProbe" :
	    "readinessProbe");
	(void)json_get_int(p, "periodSeconds", &per);
	if (live)
		c->live_ms = now + per * 1000;
	else
		c->probe_ms = now + per * 1000;
	c->probe_live = live;
	c->probe_pid = probe_start(p, c->pid);
}

static void
probe_done(struct vz_ctr *c, int status)
{
	const struct json_value *p;
	int64_t thr = 3, per = 10;
	int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	c->probe_pid = 0;
	if (c->state != CS_RUNNING)
		return;
	p = json_get_object(c->spec, c->probe_live ? "livenessProbe" :
	    "readinessProbe");
	(void)json_get_int(p, "failureThreshold", &thr);
	if (!c->probe_live) {
		if (ok)
			c->probe_gap_ms = 0;
		else if (c->probe_gap_ms > 0) {
			/* probe_maybe set a whole period: come back sooner */
			(void)json_get_int(p, "periodSeconds", &per);
			c->probe_ms = now_ms() + c->probe_gap_ms;
			c->probe_gap_ms = c->probe_gap_ms >= per * 500 ?
			    (int)(per * 1000) : c->probe_gap_ms * 2;
		}
		c->ready_fail = ok ? 0 : c->ready_fail + 1;
		if (ok != c->ready && (ok || c->ready_fail >= thr)) {
			c->ready = ok;
			state_write(c);
		}
		return;
	}
	c->live_fail = ok ? 0 : c->live_fail + 1;
	if (c->live_fail >= thr) {
		vzlog(1, "%s/%s: liveness probe failed %d times, killing",
		    c->pod->name, c->name, c->live_fail);
		c->live_fail = 0;
		(void)kill(c->pid, SIGKILL);
	}
}

/* ---- the loop ---- */

static struct vz_ctr *
find_pid(pid_t pid, int *probe)
{
	struct vz_pod *p;
	size_t i;

	for (p = pods; p != NULL; p = p->next) {
		for (i = 0; i < p->nctr; i++) {
			/* an adopted container is a child after a
			   re-exec: its exit code is known */
			if (p->ctr[i].pid == pid &&
			    (p->ctr[i].state == CS_RUNNING ||
			    p->ctr[i].state == CS_STOPPING)) {
				*probe = 0;
				return &p->ctr[i];
			}
			if (p->ctr[i].probe_pid == pid) {
				*probe = 1;
				return &p->ctr[i];
			}
		}
	}
	return NULL;
}

/* An adopted container's wait status if it is our child (we re-executed),
   else -1: its exit code is lost with the supervisor that started it. */
static int
adopted_status(const struct vz_ctr *c)
{
	int status;

	if (c->pid > 0 && waitpid(c->pid, &status, WNOHANG) == c->pid)
		return status;
	return -1;
}

static void
reap(void)
{
	struct vz_ctr *c;
	int status, probe;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((c = find_pid(pid, &probe)) == NULL)
			continue;	/* an orphan we inherited as subreaper */
		if (probe)
			probe_done(c, status);
		else
			ctr_exited(c, status);
	}
}

static size_t
build_poll(void)
{
	struct vz_pod *p;
	size_t n = 1, need = 1, i;

	for (p = pods; p != NULL; p = p->next)
		need += 3 * p->nctr;
	if (need > npfd_cap) {
		pfd = xreallocarray(pfd, need, sizeof *pfd);
		pref = xreallocarray(pref, need, sizeof *pref);
		npfd_cap = need;
	}
	pfd[0].fd = sigpipe_fd[0];
	pfd[0].events = POLLIN;
	for (p = pods; p != NULL; p = p->next) {
		for (i = 0; i < p->nctr; i++) {
			struct vz_ctr *c = &p->ctr[i];

			if (c->out.fd != -1) {
				pfd[n].fd = c->out.fd;
				pfd[n].events = POLLIN;
				pref[n].c = c;
				pref[n++].kind = 0;
			}
			if (c->err.fd != -1) {
				pfd[n].fd = c->err.fd;
				pfd[n].events = POLLIN;
				pref[n].c = c;
				pref[n++].kind = 1;
			}
			if (c->pidfd != -1) {
				pfd[n].fd = c->pidfd;
				pfd[n].events = POLLIN;
				pref[n].c = c;
				pref[n++].kind = 2;
			}
		}
	}
	return n;
}

static void
timers(int64_t now, int64_t *next)
{
	struct vz_pod *p;
	size_t i;

#define AT(t) do { if ((t) != 0 && (*next == 0 || (t) < *next)) \
	*next = (t); } while (0)
	for (p = pods; p != NULL; p = p->next) {
		for (i = 0; i < p->nctr; i++) {
			struct vz_ctr *c = &p->ctr[i];

			if ((c->state == CS_WAITING || c->state == CS_BACKOFF) &&
			    !p->removing && !shutting_down) {
				if (c->timer_ms <= now)
					ctr_start(c);
				if (c->state == CS_BACKOFF ||
				    c->state == CS_WAITING)
					AT(c->timer_ms);
			}
			if (c->state == CS_STOPPING) {
				if (c->timer_ms <= now) {
					(void)kill(c->pid, SIGKILL);
					c->timer_ms = now + 5000;
				}
				AT(c->timer_ms);
			}
			if (c->state == CS_RUNNING && c->adopted &&
			    c->pidfd == -1) {
				if (proc_starttime(c->pid) != c->starttime)
					ctr_exited(c, -1);
				else
					AT(now + ADOPT_POLL_MS);
			}
			if (c->state == CS_STOPPING && c->adopted &&
			    c->pidfd == -1) {
				if (proc_starttime(c->pid) != c->starttime)
					ctr_exited(c, -1);
				else
					AT(now + 200);
			}
			probe_maybe(c, now);
			/* While a probe runs its SIGCHLD wakes us: a due time
			   in the past would only spin the loop. */
			if (c->state == CS_RUNNING && c->probe_pid == 0) {
				AT(c->probe_ms);
				AT(c->live_ms);
			}
		}
	}
#undef AT
}

/*
 * Free pods that finished stopping; start their successors.  Returns how
 * many it retired: the caller must then run the timers again, or a new
 * successor would wait for some unrelated event to be started.
 */
static int
retire(void)
{
	struct vz_pod **pp, *p, *succ;
	int retired = 0;

	for (pp = &pods; (p = *pp) != NULL; ) {
		if (!p->removing || pod_active(p) ) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		succ = p->successor;
		pod_remove_files(p, succ == NULL && !shutting_down);
		vzlog(0, "%s: stopped%s", p->name, succ ? ", starting the new "
		    "version" : "");
		spec_free(p);
		if (succ != NULL && !shutting_down)
			pod_add(succ, 0);
		else
			spec_free(succ);
		retired++;
		pp = &pods;	/* the list changed under us */
	}
	return retired;
}

static int
pidfile_write(void)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], b[32];
	int fd, n;
	pid_t other;

	if ((other = supervisor_pid(O->root)) > 0 && other != getpid()) {
		fprintf(stderr, "vzexec: supervise: already running as pid %d\n",
		    (int)other);
		return -1;
	}
	snprintf(path, sizeof path, "%s/run/supervise.pid", O->root);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	n = snprintf(b, sizeof b, "%d\n", (int)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644))
	    == -1 || write(fd, b, (size_t)n) != n || close(fd) != 0 ||
	    rename(tmp, path) != 0) {
		fprintf(stderr, "vzexec: supervise: cannot write '%s': %s\n",
		    path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Some container is between SIGTERM and its exit: its timers would be lost. */
static int
any_stopping(void)
{
	struct vz_pod *p;
	size_t i;

	for (p = pods; p != NULL; p = p->next)
		for (i = 0; i < p->nctr; i++)
			if (p->ctr[i].state == CS_STOPPING)
				return 1;
	return 0;
}

/*
 * SIGUSR2: become the vzexec on disk (an upgrade), pods untouched.  Every
 * signal is blocked across the execve: the new image unblocks them once its
 * handlers are in place, and what came meanwhile is delivered then (a
 * SIGHUP of spec-put would otherwise end the process).  What the self-pipe
 * still holds would be lost with it: a SIGHUP or SIGCHLD does not matter
 * (the new image reads every spec and waits for its children), a SIGTERM
 * does, and then there is no execve.  Returns when there was none; this
 * image then goes on.
 */
static void
reexec(void)
{
	sigset_t all, old;
	const char *self = O->argv != NULL ? O->argv[0] : NULL;
	unsigned char sigs[32];
	ssize_t r, k;
	int e, stop = 0;

	if (self == NULL || self[0] != '/') {
		vzlog(1, "SIGUSR2: cannot re-execute: started as '%s', not by "
		    "its full path", self != NULL ? self : "");
		return;
	}
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	while ((r = read(sigpipe_fd[0], sigs, sizeof sigs)) > 0)
		for (k = 0; k < r; k++) {
			if (sigs[k] == SIGTERM || sigs[k] == SIGINT)
				stop = sigs[k];
		}
	if (stop) {
		/* the loop's to handle, as if it had come after us */
		unsigned char c = (unsigned char)stop;

		if (write(sigpipe_fd[1], &c, 1) < 0) {
			/* just drained: there is room */
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		return;
	}
	vzlog(0, "SIGUSR2: re-executing %s, the pods keep running", self);
	execv(self, O->argv);
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	vzlog(1, "SIGUSR2: cannot re-execute %s: %s; going on as before", self,
	    strerror(e));
	/* it may have taken a SIGCHLD with it */
	reap();
}

static int
fg_done(int *code)
{
	struct vz_pod *p;
	size_t i;

	*code = 0;
	for (p = pods; p != NULL; p = p->next) {
		for (i = 0; i < p->nctr; i++) {
			enum ctr_state s = p->ctr[i].state;

			if (s != CS_STOPPED && s != CS_FAILED)
				return 0;
			if (p->ctr[i].last_exit != 0)
				*code = 1;
		}
	}
	return 1;
}

int
supervise_main(const struct vzopts *opts, const char *onespec)
{
	struct sigaction sa;
	sigset_t none;
	struct vz_pod *p;
	char path[PATH_MAX], err[256];
	unsigned char sigs[32];
	int64_t now, next;
	size_t n, i;
	ssize_t r;
	int timeout, code = 0, got_hup, got_chld, k;

	O = opts;
	vzlog_init(O->root, O->syslog_path);
	snprintf(path, sizeof path, "%s/run", O->root);
	if (mkdir_p(path, 0755) != 0) {
		fprintf(stderr, "vzexec: cannot create '%s': %s\n", path,
		    strerror(errno));
		return EXIT_FAIL;
	}
	/* Signals first: spec-put sends SIGHUP to the pid in the pidfile,
	   and the default action of SIGHUP would end us. */
	if (pipe2(sigpipe_fd, O_CLOEXEC | O_NONBLOCK) != 0)
		return EXIT_FAIL;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* blocked by a re-executing predecessor (reexec) */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	(void)sig_seen;
	if (onespec == NULL && pidfile_write() != 0)
		return EXIT_FAIL;
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if (cgroup_detect(&cg, O->root, 1) != 0)
		vzlog(1, "no usable memory cgroup: limits cannot be applied");
	if (onespec == NULL)
		(void)cgroup_save(&cg, O->root);

	if (onespec != NULL) {
		if (spec_load(onespec, NULL, &p, err, sizeof err) != 0) {
			fprintf(stderr, "vzexec: run: '%s': %s\n", onespec, err);
			return EXIT_USAGE;
		}
		pod_add(p, 0);
	} else {
		vzlog(0, "supervisor %s starting, pid %d, cgroup %s",
		    VZEXEC_VERSION, (int)getpid(), cgroup_mode_name(&cg));
		load_specs(1);
		/* children that ended while a predecessor re-executed */
		reap();
		kill_orphans();
		firewall_restore();
	}

	for (;;) {
		now = now_ms();
		next = 0;
		timers(now, &next);
		if (retire() > 0) {
			next = 0;
			timers(now, &next);
		}
		if (shutting_down && pods == NULL)
			break;
		if (reexec_pending && !shutting_down && !any_stopping()) {
			reexec_pending = 0;
			reexec();
		}
		if (onespec != NULL && fg_done(&code)) {
			p = pods;
			pods = NULL;
			if (p != NULL)
				pod_remove_files(p, 1);
			spec_free(p);
			break;
		}
		n = build_poll();
		stack_trim();
		now = now_ms();
		timeout = next == 0 ? -1 : next <= now ? 0 :
		    next - now > INT_MAX ? INT_MAX : (int)(next - now);
		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			break;
		got_hup = got_chld = 0;
		if (pfd[0].revents & POLLIN) {
			while ((r = read(sigpipe_fd[0], sigs, sizeof sigs)) > 0) {
				for (k = 0; k < r; k++) {
					if (sigs[k] == SIGCHLD)
						got_chld = 1;
					else if (sigs[k] == SIGHUP)
						got_hup = 1;
					else if (sigs[k] == SIGUSR2) {
						if (onespec == NULL)
							reexec_pending = 1;
					} else if (!shutting_down) {
						vzlog(0, "signal %d: stopping "
						    "every pod", sigs[k]);
						shutting_down = 1;
						for (p = pods; p != NULL;
						    p = p->next) {
							p->removing = 1;
							pod_stop(p);
						}
					}
				}
			}
		}
		for (i = 1; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pref[i].kind == 0 && pref[i].c->out.fd == pfd[i].fd)
				fifo_read(pref[i].c, &pref[i].c->out, 0);
			else if (pref[i].kind == 1 &&
			    pref[i].c->err.fd == pfd[i].fd)
				fifo_read(pref[i].c, &pref[i].c->err, 1);
			else if (pref[i].kind == 2 &&
			    pref[i].c->pidfd == pfd[i].fd)
				ctr_exited(pref[i].c, adopted_status(pref[i].c));
		}
		if (got_chld)
			reap();
		if (got_hup && !shutting_down && onespec == NULL) {
			vzlog(0, "SIGHUP: reloading pod specs");
			load_specs(0);
		}
	}
	if (onespec == NULL) {
		snprintf(path, sizeof path, "%s/run/supervise.pid", O->root);
		(void)unlink(path);
		vzlog(0, "supervisor stopped");
	}
	free(pfd);
	free(pref);
	buf_release(&statebuf);
	return onespec != NULL ? (code ? EXIT_FAIL : EXIT_DONE) : EXIT_DONE;
}

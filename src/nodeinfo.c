/*
 * nodeinfo: the node facts of `vzexec status` (OS, arch, memory, disk,
 * load, init system, supervisor) and the status verb itself, which joins
 * them with the images present, the pod specs and the state files the
 * supervisor keeps under run/.  It works whether or not a supervisor runs:
 * a recorded pid is trusted only if its start time still matches.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "buf.h"
#include "vzexec.h"

static int64_t
meminfo(const char *data, const char *key)
{
	const char *s = strstr(data, key);

	return s != NULL ? strtoll(s + strlen(key), NULL, 10) * 1024 : -1;
}

static void
osrelease(char *out, size_t len)
{
	struct buf b = BUF_INIT;
	char id[64] = "linux", ver[64] = "", *line, *next, *v;

	if (buf_read_file(&b, "/etc/os-release", 65536) == 0 ||
	    buf_read_file(&b, "/usr/lib/os-release", 65536) == 0) {
		for (line = b.data; line != NULL && *line; line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			if ((v = strchr(line, '=')) == NULL)
				continue;
			*v++ = '\0';
			if (*v == '"') {
				v++;
				if (strchr(v, '"') != NULL)
					*strchr(v, '"') = '\0';
			}
			if (strcmp(line, "ID") == 0)
				snprintf(id, sizeof id, "%s", v);
			else if (strcmp(line, "VERSION_ID") == 0)
				snprintf(ver, sizeof ver, "%s", v);
		}
	}
	snprintf(out, len, "%s%s%s", id, ver[0] ? " " : "", ver);
	buf_release(&b);
}

static const char *
init_kind(void)
{
	struct buf b = BUF_INIT;
	const char *k = "other";
	char exe[PATH_MAX];
	ssize_t r;
	struct stat st;

	r = readlink("/proc/1/exe", exe, sizeof exe - 1);
	exe[r > 0 ? r : 0] = '\0';
	if (buf_read_file(&b, "/proc/1/comm", 256) == 0 &&
	    strncmp(b.data, "systemd", 7) == 0)
		k = "systemd";
	else if (strstr(exe, "openrc") != NULL ||
	    stat("/sbin/openrc", &st) == 0)
		k = "openrc";
	else if (stat("/etc/inittab", &st) == 0)
		k = "sysv";
	buf_release(&b);
	return k;
}

int
supervisor_pid(const char *root)
{
	struct buf b = BUF_INIT;
	char path[PATH_MAX];
	long pid = 0;

	snprintf(path, sizeof path, "%s/run/supervise.pid", root);
	if (buf_read_file(&b, path, 64) == 0)
		pid = strtol(b.data, NULL, 10);
	buf_reset(&b);
	if (pid > 0) {
		/* A stale file may name a pid now used by something else. */
		snprintf(path, sizeof path, "/proc/%ld/comm", pid);
		if (buf_read_file(&b, path, 64) != 0 ||
		    strncmp(b.data, "vzexec", 6) != 0)
			pid = 0;
	}
	buf_release(&b);
	return (int)pid;
}

void
nodeinfo_write(struct json_writer *w, const char *root)
{
	struct buf b = BUF_INIT;
	struct utsname u;
	struct statfs sf;
	char os[160];
	int pid;

	json_key(w, "node");
	json_begin_object(w);
	uname(&u);
	json_kv_string(w, "hostname", u.nodename);
	osrelease(os, sizeof os);
	json_kv_string(w, "os", os);
	json_kv_string(w, "arch", u.machine);
	json_kv_string(w, "kernel", u.release);
	if (buf_read_file(&b, "/proc/meminfo", 65536) == 0) {
		json_kv_int(w, "memTotal", meminfo(b.data, "MemTotal:"));
		json_kv_int(w, "memAvailable", meminfo(b.data,
		    "MemAvailable:"));
	}
	json_key(w, "diskFree");
	if (statfs(root, &sf) == 0)
		json_uint(w, (uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize);
	else
		json_null(w);
	buf_reset(&b);
	json_key(w, "load1");
	if (buf_read_file(&b, "/proc/loadavg", 256) == 0)
		json_double(w, strtod(b.data, NULL));
	else
		json_null(w);
	json_kv_string(w, "init", init_kind());
	json_key(w, "supervisor");
	json_begin_object(w);
	pid = supervisor_pid(root);
	json_kv_bool(w, "running", pid > 0);
	json_key(w, "pid");
	if (pid > 0)
		json_int(w, pid);
	else
		json_null(w);
	json_kv_string(w, "version", VZEXEC_VERSION);
	json_end_object(w);
	json_end_object(w);
	buf_release(&b);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Sorted names in dir that end with suffix (suffix stripped); with suffix
 * NULL every name, but those with a dot only if dots is set (images/ holds
 * <id>.tar beside <id>/, while run/containers/ holds POD.next copies).
 */
static char **
list_dir(const char *dir, const char *suffix, int dots, size_t *np)
{
	char **v = NULL;
	size_t n = 0, sl = suffix ? strlen(suffix) : 0, l;
	struct dirent *d;
	DIR *dp;

	*np = 0;
	if ((dp = opendir(dir)) == NULL)
		return NULL;
	while ((d = readdir(dp)) != NULL) {
		l = strlen(d->d_name);
		if (d->d_name[0] == '.')
			continue;
		if (suffix != NULL && (l <= sl ||
		    strcmp(d->d_name + l - sl, suffix) != 0))
			continue;
		if (suffix == NULL && !dots && strchr(d->d_name, '.') != NULL)
			continue;
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = xstrndup(d->d_name, l - sl);
	}
	closedir(dp);
	if (n > 0)
		qsort(v, n, sizeof *v, cmp_str);
	*np = n;
	return v;
}

static void
free_list(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

static void
write_images(struct json_writer *w, const char *root)
{
	struct buf b = BUF_INIT;
	struct json_value *cfg;
	char dir[PATH_MAX], path[PATH_MAX], err[64];
	char **ids;
	size_t n, i;
	struct stat st;

	snprintf(dir, sizeof dir, "%s/images", root);
	ids = list_dir(dir, NULL, 0, &n);
	json_key(w, "images");
	json_begin_array(w);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s/rootfs", dir, ids[i]);
		if (!spec_image_ok(ids[i]) || stat(path, &st) != 0)
			continue;
		json_begin_object(w);
		json_kv_string(w, "id", ids[i]);
		snprintf(path, sizeof path, "%s/%s/config.json", dir, ids[i]);
		buf_reset(&b);
		json_key(w, "ref");
		if (buf_read_file(&b, path, 1 << 20) == 0 &&
		    json_parse(b.data, b.len, &cfg, err, sizeof err) == 0) {
			if (json_get_string(cfg, "ref") != NULL)
				json_string(w, json_get_string(cfg, "ref"));
			else
				json_null(w);
			json_free(cfg);
		} else
			json_null(w);
		json_end_object(w);
	}
	json_end_array(w);
	free_list(ids, n);
	buf_release(&b);
}

static void
write_ctr(struct json_writer *w, const char *root, const struct cg_info *cg,
    const struct vz_pod *p, const struct vz_ctr *c, int sup)
{
	struct buf b = BUF_INIT;
	struct json_value *st = NULL;
	const struct json_value *v;
	const char *state = "waiting", *reason = NULL;
	char path[PATH_MAX], err[64];
	unsigned long long stt = 0;
	int64_t pid = 0, n;
	int alive = 0;

	if (ctr_dir(path, sizeof path, root, p->name, c->name, "state") == 0 &&
	    buf_read_file(&b, path, 65536) == 0)
		(void)json_parse(b.data, b.len, &st, err, sizeof err);
	if (st != NULL) {
		state = json_get_string(st, "state") ? json_get_string(st,
		    "state") : "waiting";
		reason = json_get_string(st, "reason");
		(void)json_get_int(st, "pid", &pid);
		if ((v = json_get(st, "startTime")) != NULL &&
		    v->type == JSON_NUMBER)
			stt = strtoull(v->str, NULL, 10);
		alive = pid > 0 && stt != 0 && proc_starttime((pid_t)pid) == stt;
		if (pid > 0 && !alive) {
			state = "stopped";
			reason = sup ? reason : "supervisor not running";
			pid = 0;
		}
	}
	json_begin_object(w);
	json_kv_string(w, "name", c->name);
	json_kv_string(w, "image", json_get_string(c->spec, "image"));
	json_kv_string(w, "state", state);
	json_key(w, "reason");
	if (reason != NULL && reason[0] != '\0')
		json_string(w, reason);
	else
		json_null(w);
	json_key(w, "pid");
	if (pid > 0)
		json_int(w, pid);
	else
		json_null(w);
	json_key(w, "startedAt");
	if (st != NULL && json_get_int(st, "startedAt", &n) == 0 && n > 0)
		json_int(w, n);
	else
		json_null(w);
	json_kv_int(w, "restarts", st != NULL && json_get_int(st, "restarts",
	    &n) == 0 ? n : 0);
	json_key(w, "lastExitCode");
	if (st != NULL && json_get_int(st, "lastExitCode", &n) == 0)
		json_int(w, n);
	else
		json_null(w);
	v = st != NULL ? json_get(st, "ready") : NULL;
	json_kv_bool(w, "ready", alive && v != NULL && v->type == JSON_TRUE);
	json_key(w, "memoryBytes");
	if (alive && (n = cgroup_memory(cg, p->name, c->name)) >= 0)
		json_int(w, n);
	else
		json_null(w);
	json_key(w, "runningHash");
	if (st != NULL && json_get_string(st, "hash") != NULL)
		json_string(w, json_get_string(st, "hash"));
	else
		json_null(w);
	json_end_object(w);
	json_free(st);
	buf_release(&b);
}

/* A container of a pod is still alive by its state file (pid + start). */
static int
ctr_alive(const char *root, const char *pod, const char *ctr)
{
	struct buf b = BUF_INIT;
	struct json_value *st = NULL;
	const struct json_value *v;
	char path[PATH_MAX], err[64];
	int64_t pid = 0;
	int alive = 0;

	if (ctr_dir(path, sizeof path, root, pod, ctr, "state") == 0 &&
	    buf_read_file(&b, path, 65536) == 0 &&
	    json_parse(b.data, b.len, &st, err, sizeof err) == 0 &&
	    json_get_int(st, "pid", &pid) == 0 && pid > 0 &&
	    (v = json_get(st, "startTime")) != NULL && v->type == JSON_NUMBER)
		alive = proc_starttime((pid_t)pid) ==
		    strtoull(v->str, NULL, 10);
	json_free(st);
	buf_release(&b);
	return alive;
}

/*
 * Pods whose spec is gone but whose containers are still in their grace
 * period: reported with "stopping": true, so the master waits for them
 * instead of believing they are gone (their ports are still taken).
 * A side-by-side copy POD.next is a pod of its own: its folder has a dot.
 * only: just that pod (NULL: all).
 */
static void
write_stopping(struct json_writer *w, const char *root,
    const struct cg_info *cg, char **specs, size_t nspecs, int sup,
    const char *only)
{
	char dir[PATH_MAX], sub[PATH_MAX];
	char **pods, **ctrs;
	size_t np, nc, i, j;
	struct vz_pod vp;
	struct vz_ctr vc;
	int alive;

	snprintf(dir, sizeof dir, "%s/run/containers", root);
	pods = list_dir(dir, NULL, 1, &np);
	for (i = 0; i < np; i++) {
		if (only != NULL && strcmp(only, pods[i]) != 0)
			continue;
		for (j = 0; j < nspecs; j++)
			if (strcmp(specs[j], pods[i]) == 0)
				break;
		if (j < nspecs || !spec_pod_name_ok(pods[i]))
			continue;
		snprintf(sub, sizeof sub, "%s/%s", dir, pods[i]);
		ctrs = list_dir(sub, NULL, 0, &nc);
		for (alive = 0, j = 0; j < nc && !alive; j++)
			alive = ctr_alive(root, pods[i], ctrs[j]);
		if (alive) {
			memset(&vp, 0, sizeof vp);
			snprintf(vp.name, sizeof vp.name, "%s", pods[i]);
			json_begin_object(w);
			json_kv_string(w, "name", pods[i]);
			json_key(w, "hash");
			json_null(w);
			json_key(w, "error");
			json_null(w);
			json_kv_bool(w, "stopping", 1);
			json_key(w, "containers");
			json_begin_array(w);
			for (j = 0; j < nc; j++) {
				memset(&vc, 0, sizeof vc);
				vc.pod = &vp;
				snprintf(vc.name, sizeof vc.name, "%s", ctrs[j]);
				write_ctr(w, root, cg, &vp, &vc, sup);
			}
			json_end_array(w);
			json_end_object(w);
		}
		free_list(ctrs, nc);
	}
	free_list(pods, np);
}

/* The members of the "pods" array: every pod, or only the one named. */
static void
write_pods(struct json_writer *w, const char *root, const struct cg_info *cg,
    int sup, const char *only)
{
	struct vz_pod *p;
	char dir[PATH_MAX], path[PATH_MAX], err[256];
	char **names;
	size_t n, i, j;

	snprintf(dir, sizeof dir, "%s/pods", root);
	names = list_dir(dir, ".json", 0, &n);
	for (i = 0; i < n; i++) {
		if (only != NULL && strcmp(only, names[i]) != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s.json", dir, names[i]);
		json_begin_object(w);
		json_kv_string(w, "name", names[i]);
		if (spec_load(path, names[i], &p, err, sizeof err) != 0) {
			json_key(w, "hash");
			json_null(w);
			json_kv_string(w, "error", err);
			json_key(w, "containers");
			json_begin_array(w);
			json_end_array(w);
			json_end_object(w);
			continue;
		}
		json_kv_string(w, "hash", p->hash);
		json_key(w, "error");
		json_null(w);
		json_key(w, "containers");
		json_begin_array(w);
		for (j = 0; j < p->nctr; j++)
			write_ctr(w, root, cg, p, &p->ctr[j], sup);
		json_end_array(w);
		json_end_object(w);
		spec_free(p);
	}
	write_stopping(w, root, cg, names, n, sup, only);
	free_list(names, n);
}

void
status_pod_json(const char *root, const char *pod, struct buf *out)
{
	struct json_writer w;
	struct cg_info cg;

	(void)cgroup_load(&cg, root);
	buf_reset(out);
	json_writer_init(&w, out, 0);
	json_begin_array(&w);
	write_pods(&w, root, &cg, supervisor_pid(root) > 0, pod);
	json_end_array(&w);
}

int
status_print(const char *root)
{
	struct buf out = BUF_INIT;
	struct json_writer w;
	struct cg_info cg;
	int rc = EXIT_DONE;

	(void)cgroup_load(&cg, root);
	json_writer_init(&w, &out, 1);
	json_begin_object(&w);
	json_kv_int(&w, "vzstatus", 1);
	nodeinfo_write(&w, root);
	json_kv_string(&w, "cgroup", cgroup_mode_name(&cg));
	write_images(&w, root);
	json_key(&w, "pods");
	json_begin_array(&w);
	write_pods(&w, root, &cg, supervisor_pid(root) > 0, NULL);
	json_end_array(&w);
	json_end_object(&w);
	buf_addc(&out, '\n');
	if (fwrite(out.data, 1, out.len, stdout) != out.len ||
	    fflush(stdout) != 0)
		rc = EXIT_FAIL;
	buf_release(&out);
	return rc;
}

int
status_main(const struct vzopts *o)
{
	return status_print(o->root);
}

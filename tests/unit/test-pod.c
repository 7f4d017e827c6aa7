/*
 * Unit tests for the pod manifest model (pod.c, yamltree.c, quantity.c).
 *
 * Corpora under tests/pods: every file in valid/ must load without error,
 * every file in invalid/ must fail.  Both kinds list the exact diagnostics
 * they produce in comment lines at the top:
 *     # expect: LINE:COL: error: MESSAGE-PREFIX
 * (a file that cannot hold comments, such as an empty one, keeps them in
 * NAME.expect beside it).  The list must match in full and in order.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "pod.h"
#include "tap.h"

static const char *srcdir;

struct expect {
	int	 line, col;
	char	 level[16];
	char	*msg;
};

static char *
corpus(const char *rel)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, "%s/tests/pods/%s", srcdir, rel);
	return buf_detach(&b, NULL);
}

/* Read the "# expect:" lines of file (or of file.expect). */
static size_t
read_expects(const char *file, struct expect **out)
{
	struct buf b = BUF_INIT, side = BUF_INIT;
	struct expect *e = NULL;
	size_t n = 0;
	char *line, *next;

	buf_addf(&side, "%s.expect", file);
	if (buf_read_file(&b, side.data, 1 << 20) == -1)
		buf_read_file(&b, file, 1 << 20);
	buf_release(&side);
	for (line = b.data; line != NULL && *line != '\0'; line = next) {
		char *nl = strchr(line, '\n');
		struct expect x;
		int used = 0;

		next = nl != NULL ? nl + 1 : NULL;
		if (nl != NULL)
			*nl = '\0';
		if (strncmp(line, "# expect: ", 10) != 0)
			continue;
		memset(&x, 0, sizeof x);
		if (sscanf(line + 10, "%d:%d: %15[a-z]: %n", &x.line, &x.col,
		    x.level, &used) < 3 || used == 0) {
			diag_note("bad expect line in %s: %s", file, line);
			continue;
		}
		x.msg = xstrdup(line + 10 + used);
		e = xreallocarray(e, n + 1, sizeof *e);
		e[n++] = x;
	}
	buf_release(&b);
	*out = e;
	return n;
}

static void
print_diags(const struct diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		diag_note("  got %d:%d: %s: %s", d->v[i].line, d->v[i].col,
		    d->v[i].level == DIAG_ERROR ? "error" : "warning",
		    d->v[i].msg);
}

/* Load one corpus file and compare its diagnostics with its expectations. */
static void
check_file(const char *file, const char *name, int want_ok)
{
	struct pod_set set;
	struct diags d = DIAGS_INIT;
	struct expect *e;
	size_t n, i;
	int r, match = 1;

	n = read_expects(file, &e);
	r = pod_load(file, &set, &d);
	if (want_ok)
		ok(r == 0 && set.n > 0, "valid/%s loads (%zu pods)", name,
		    set.n);
	else
		ok(r == -1 && d.errors > 0, "invalid/%s is rejected", name);
	if (!want_ok && n == 0)
		ok(0, "invalid/%s states its expected diagnostics", name);
	if (d.n != n)
		match = 0;
	for (i = 0; match && i < n; i++) {
		const struct diag *g = &d.v[i];
		const char *lv = g->level == DIAG_ERROR ? "error" : "warning";

		if (g->line != e[i].line || g->col != e[i].col ||
		    strcmp(lv, e[i].level) != 0 ||
		    strncmp(g->msg, e[i].msg, strlen(e[i].msg)) != 0 ||
		    strcmp(g->file, file) != 0)
			match = 0;
	}
	if (!ok(match, "%s/%s: diagnostics match", want_ok ? "valid" :
	    "invalid", name)) {
		for (i = 0; i < n; i++)
			diag_note("  want %d:%d: %s: %s", e[i].line, e[i].col,
			    e[i].level, e[i].msg);
		print_diags(&d);
	}
	for (i = 0; i < n; i++)
		free(e[i].msg);
	free(e);
	pod_set_release(&set);
	diag_release(&d);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
check_corpus(const char *sub, int want_ok)
{
	char *dir = corpus(sub), **names = NULL;
	size_t n = 0, i;
	struct dirent *de;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL) {
		ok(0, "open corpus %s", dir);
		free(dir);
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0)
			continue;
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(dp);
	qsort(names, n, sizeof *names, str_cmp);
	ok(n >= 5, "corpus %s has cases (%zu)", sub, n);
	for (i = 0; i < n; i++) {
		struct buf f = BUF_INIT;

		buf_addf(&f, "%s/%s", dir, names[i]);
		check_file(f.data, names[i], want_ok);
		buf_release(&f);
		free(names[i]);
	}
	free(names);
	free(dir);
}

static void
test_quantities(void)
{
	static const struct {
		const char	*s;
		int64_t		 v;
	} mem[] = {
		{ "0", 0 }, { "1", 1 }, { "1048576", 1048576 },
		{ "64Mi", 64LL << 20 }, { "1G", 1000000000 },
		{ "512M", 512000000 }, { "1e3", 1000 }, { "1E3", 1000 },
		{ "1k", 1000 }, { "1Ki", 1024 }, { "1.5Gi", 3LL << 29 },
		{ "0.5Ki", 512 }, { "2Ti", 2LL << 40 }, { "1T", 1000000000000LL },
		{ "1Pi", 1LL << 50 }, { "1Ei", 1LL << 60 },
		{ "7E", 7000000000000000000LL }, { "+5", 5 },
		{ "1.1", 2 },		/* rounded up, as Kubernetes does */
		{ "12e-1", 2 }, { "1e-400", 1 },
		{ "9223372036854775807", INT64_MAX },
	};
	static const char *const bad_mem[] = { "", "-1", "1x", "1mi",
	    "64MB", "1e400", "99999999999999999999", "8Ei", "Mi", "1 Mi",
	    ".", "1e", "1e+", "100m", "0x10", "1.5.5", "9223372036854775808",
	    "1Mi ", NULL };
	static const struct {
		const char	*s;
		int64_t		 v;
	} cpu[] = {
		{ "250m", 250 }, { "0.5", 500 }, { "2", 2000 }, { "1", 1000 },
		{ "0.1", 100 }, { "0.0001", 1 }, { "1.5m", 2 }, { "1e3", 1000000 },
		{ "0", 0 },
	};
	static const char *const bad_cpu[] = { "", "-1", "1k", "1Ki", "m",
	    "250 m", "1e3m", "1e400", "two", "9223372036854775807", NULL };
	int64_t v;
	size_t i;

	for (i = 0; i < sizeof mem / sizeof mem[0]; i++) {
		v = -7;
		is_int(quantity_parse_memory(mem[i].s, &v), 0, "memory '%s' "
		    "parses", mem[i].s);
		is_int(v, mem[i].v, "memory '%s' value", mem[i].s);
	}
	for (i = 0; bad_mem[i] != NULL; i++)
		is_int(quantity_parse_memory(bad_mem[i], &v), -1,
		    "memory '%s' rejected", bad_mem[i]);
	for (i = 0; i < sizeof cpu / sizeof cpu[0]; i++) {
		v = -7;
		is_int(quantity_parse_cpu(cpu[i].s, &v), 0, "cpu '%s' parses",
		    cpu[i].s);
		is_int(v, cpu[i].v, "cpu '%s' value", cpu[i].s);
	}
	for (i = 0; bad_cpu[i] != NULL; i++)
		is_int(quantity_parse_cpu(bad_cpu[i], &v), -1,
		    "cpu '%s' rejected", bad_cpu[i]);
	is_int(quantity_parse_memory(NULL, &v), -1, "NULL memory rejected");
}

static char *
images_path(const char *rel)
{
	char *p = corpus(rel), *r = realpath(p, NULL);

	free(p);
	return r != NULL ? r : xstrdup("(missing)");
}

/* The resolved model of a few corpus files, field by field. */
static void
test_model(void)
{
	struct pod_set set;
	struct diags d = DIAGS_INIT;
	const struct pod *p;
	const struct container *c;
	char *file = corpus("valid/full.yaml"), *img;

	is_int(pod_load(file, &set, &d), 0, "full.yaml loads");
	if (d.errors)
		print_diags(&d);
	p = pod_find(&set, "full");
	ok(p != NULL, "pod 'full' found");
	if (p == NULL)
		goto out;
	ok(pod_find(&set, "nope") == NULL, "pod_find misses unknown names");
	is_str(p->kind, "Pod", "kind");
	is_int(p->replicas, 1, "a Pod has one replica");
	is_int(p->line, 3, "pod line");
	is_str(p->file, file, "pod file");
	is_int(p->labels.n, 2, "two labels");
	is_str(p->labels.v[1].value, "backend", "label value");
	is_int(p->annotations.n, 1, "one annotation");
	is_int(p->restart_policy, RESTART_ON_FAILURE, "restartPolicy");
	is_int(p->termination_grace_seconds, 10, "grace period");
	is_int(p->node_selector.n, 1, "nodeSelector");
	is_str(p->node_selector.v[0].key, "group", "nodeSelector key");
	is_int(p->host_network, 1, "hostNetwork");
	is_int(p->n_volumes, 3, "volumes");
	is_int(p->volumes[0].kind, VOLUME_EMPTY_DIR, "emptyDir");
	is_int(p->volumes[0].size_limit, 64LL << 20, "sizeLimit");
	is_str(p->volumes[0].medium, "Memory", "medium");
	is_int(p->volumes[1].kind, VOLUME_HOST_PATH, "hostPath");
	is_str(p->volumes[1].host_path, "/srv/logs", "hostPath path");
	is_str(p->volumes[1].host_path_type, "DirectoryOrCreate", "type");
	is_int(p->volumes[2].size_limit, -1, "no sizeLimit");
	is_int(p->n_containers, 2, "containers");
	c = &p->containers[0];
	is_str(c->name, "app", "container name");
	is_int(c->image.transport, IMAGE_OCI, "oci transport");
	img = images_path("images/oci");
	is_str(c->image.path, img, "oci path resolved");
	free(img);
	is_str(c->image.tag, "v1", "oci tag");
	is_str(c->image.text, "oci:../images/oci:v1", "image text kept");
	is_int(c->image.line, 21, "image line");
	is_int(c->image.col, 12, "image col");
	ok(c->command != NULL && c->command[0] != NULL &&
	    strcmp(c->command[0], "/bin/httpd") == 0 && c->command[1] == NULL,
	    "command");
	ok(c->args != NULL && c->args[0] == NULL, "empty args kept empty");
	is_int(c->n_env, 2, "env (valueFrom skipped)");
	is_str(c->env[0].value, "1", "env value");
	is_str(c->env[1].value, "", "env without value");
	is_str(c->working_dir, "/srv", "workingDir");
	is_int(c->n_ports, 2, "ports");
	is_int(c->ports[0].host_port, 8080, "hostPort");
	is_int(c->ports[1].protocol, PROTO_UDP, "UDP");
	is_int(c->ports[1].host_port, 0, "no hostPort");
	is_int(c->mem_request, 32LL << 20, "memory request");
	is_int(c->mem_limit, 64LL << 20, "memory limit");
	is_int(c->cpu_request, 250, "cpu request");
	is_int(c->cpu_limit, 500, "cpu limit");
	is_int(c->run_as_user, 1000, "runAsUser");
	is_int(c->run_as_group, 1000, "runAsGroup");
	is_int(c->run_as_non_root, 1, "runAsNonRoot");
	is_int(c->read_only_root_fs, 1, "readOnlyRootFilesystem");
	is_int(c->cap_add.n, 2, "cap add");
	is_str(c->cap_add.v[0], "NET_BIND_SERVICE", "CAP_ prefix dropped");
	is_str(c->cap_add.v[1], "CHOWN", "upper-cased");
	is_str(c->cap_drop.v[0], "ALL", "drop ALL");
	is_int(c->n_mounts, 2, "mounts");
	is_str(c->mounts[1].mount_path, "/var/log/app", "mountPath");
	is_int(c->mounts[1].read_only, 1, "readOnly");
	is_int(c->readiness.kind, PROBE_HTTP, "readiness httpGet");
	is_int(c->readiness.port, 8080, "named port resolved");
	is_str(c->readiness.port_name, "http", "port name kept");
	is_str(c->readiness.http_path, "/healthz", "http path");
	is_str(c->readiness.http_scheme, "HTTP", "scheme default");
	is_int(c->readiness.period_seconds, 5, "periodSeconds");
	is_int(c->readiness.timeout_seconds, 1, "timeoutSeconds default");
	is_int(c->liveness.kind, PROBE_TCP, "liveness tcpSocket");
	is_int(c->liveness.port, 8080, "tcp port");
	is_int(c->liveness.failure_threshold, 3, "failureThreshold default");
	is_int(c->liveness.initial_delay_seconds, 15, "initialDelay");
	c = &p->containers[1];
	ok(c->command == NULL && c->args == NULL, "absent command is NULL");
	is_int(c->image.transport, IMAGE_DIR, "dir transport");
	is_int(c->mem_request, 128LL << 20, "limit is the default request");
	is_int(c->cpu_request, -1, "cpu unset");
	is_int(c->run_as_user, -1, "runAsUser unset");
	is_int(c->readiness.kind, PROBE_NONE, "no readiness probe");
	is_int(c->liveness.kind, PROBE_EXEC, "exec probe");
	ok(c->liveness.exec != NULL && c->liveness.exec[1] != NULL &&
	    strcmp(c->liveness.exec[1], "/tmp/ready") == 0 &&
	    c->liveness.exec[2] == NULL, "exec argv");
	{
		struct buf b = BUF_INIT;
		struct json_writer w;
		struct json_value *jv = NULL;
		const struct json_value *cs;
		char err[128];

		json_writer_init(&w, &b, 0);
		pod_write_json(&w, p);
		is_int(json_parse(b.data, b.len, &jv, err, sizeof err), 0,
		    "pod_write_json output parses");
		is_str(json_get_string(jv, "name"), "full", "json name");
		cs = json_get_array(jv, "containers");
		ok(cs != NULL && cs->n == 2, "json containers");
		if (cs != NULL && cs->n == 2) {
			const struct json_value *r =
			    json_get_object(cs->items[0], "resources");
			int64_t v = 0;

			json_get_int(r, "memoryLimit", &v);
			is_int(v, 64LL << 20, "json memory limit");
			ok(json_get(cs->items[1], "command") != NULL &&
			    json_get(cs->items[1], "command")->type ==
			    JSON_NULL, "json absent command is null");
		}
		json_free(jv);
		buf_release(&b);
	}
out:
	pod_set_release(&set);
	diag_release(&d);
	free(file);

	file = corpus("valid/strategy.yaml");
	memset(&d, 0, sizeof d);
	is_int(pod_load(file, &set, &d), 0, "strategy.yaml loads");
	is_int(d.warnings, 1, "maxSurge is ignored with a warning");
	p = pod_find(&set, "quarter");
	ok(p != NULL && p->max_unavailable == 2, "25%% of 10 replicas is 2");
	p = pod_find(&set, "count3");
	ok(p != NULL && p->max_unavailable == 3, "a count is taken as is");
	p = pod_find(&set, "recreate");
	ok(p != NULL && p->max_unavailable == 4, "Recreate: all 4 at once");
	p = pod_find(&set, "zero");
	ok(p != NULL && p->max_unavailable == 1, "0%% still moves one at a time");
	pod_set_release(&set);
	diag_release(&d);
	free(file);

	file = corpus("valid/deployment.yaml");
	memset(&d, 0, sizeof d);
	is_int(pod_load(file, &set, &d), 0, "deployment.yaml loads");
	p = pod_find(&set, "api");
	ok(p != NULL && strcmp(p->kind, "Deployment") == 0, "a Deployment");
	if (p != NULL) {
		is_int(p->replicas, 2, "replicas");
		is_str(p->node_selector.v[0].value, "vz", "nodeSelector value");
		is_str(p->labels.v[0].value, "api", "template labels");
		is_int(p->containers[0].image.transport, IMAGE_OCI_ARCHIVE,
		    "oci-archive");
		is_int(p->containers[0].readiness.kind, PROBE_EXEC, "exec");
	}
	p = pod_find(&set, "worker");
	ok(p != NULL && p->replicas == 1, "replicas default to 1");
	ok(p != NULL && p->max_unavailable == 1,
	    "a rolling update takes one replica down at a time by default");
	if (p != NULL)
		is_int(p->containers[0].image.transport, IMAGE_DOCKER_ARCHIVE,
		    "docker-archive");
	pod_set_release(&set);
	diag_release(&d);
	free(file);
}

static void
test_dirs(void)
{
	struct pod_set set;
	struct diags d = DIAGS_INIT;
	char *dir = corpus("valid"), *dup = corpus("dup"), *f;
	char tmp[] = "/tmp/test-pod.XXXXXX";
	size_t i;

	/* the whole valid corpus at once: names are unique across it */
	is_int(pod_load(dir, &set, &d), 0, "the valid folder loads");
	is_int(d.errors, 0, "no errors");
	if (d.errors)
		print_diags(&d);
	ok(set.n >= 8, "many pods (%zu)", set.n);
	for (i = 1; i < set.n; i++)
		if (strcmp(set.pods[i - 1].file, set.pods[i].file) > 0)
			break;
	is_int(i, set.n, "files read in sorted name order");
	pod_set_release(&set);
	diag_release(&d);

	is_int(pod_load(dup, &set, &d), -1, "a name used in two files");
	f = corpus("dup/b.yaml");
	ok(d.n == 1 && d.v[0].line == 4 && d.v[0].col == 9 &&
	    strcmp(d.v[0].file, f) == 0 && strstr(d.v[0].msg,
	    "metadata.name: pod 'web' is already defined at ") != NULL &&
	    strstr(d.v[0].msg, "dup/a.yaml:4") != NULL,
	    "duplicate pod name across files points at both");
	if (d.n != 1)
		print_diags(&d);
	is_int(set.n, 1, "the first definition is kept");
	free(f);
	pod_set_release(&set);
	diag_release(&d);

	if (mkdtemp(tmp) == NULL) {
		ok(0, "mkdtemp");
		goto out;
	}
	is_int(pod_load(tmp, &set, &d), -1, "an empty folder is an error");
	ok(d.n == 1 && d.v[0].line == 0 && strstr(d.v[0].msg,
	    "no pod manifests") != NULL, "empty folder message");
	pod_set_release(&set);
	diag_release(&d);
	rmdir(tmp);
	is_int(pod_load("/nonexistent/pods", &set, &d), -1, "missing path");
	ok(d.n == 1 && strstr(d.v[0].msg, "No such file") != NULL,
	    "missing path message: %s", d.n ? d.v[0].msg : "");
	pod_set_release(&set);
	diag_release(&d);
out:
	free(dir);
	free(dup);
}

/*
 * The shipped examples must stay valid: load a copy of them next to a
 * stand-in for the rootfs that `make demo` builds.
 */
static void
test_examples(void)
{
	static const char *const files[] = { "web.yaml", "laravel.yaml",
	    "echo-deployment.yaml", NULL };
	char tmp[] = "/tmp/test-pod-ex.XXXXXX";
	struct pod_set set;
	struct diags d = DIAGS_INIT;
	struct buf p = BUF_INIT, img = BUF_INIT, pods = BUF_INIT;
	size_t i;

	if (mkdtemp(tmp) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	buf_addf(&pods, "%s/pods", tmp);
	buf_addf(&img, "%s/images", tmp);
	mkdir(pods.data, 0755);
	mkdir(img.data, 0755);
	buf_adds(&img, "/busybox-rootfs");
	mkdir(img.data, 0755);
	for (i = 0; files[i] != NULL; i++) {
		struct buf in = BUF_INIT;
		FILE *fp;

		buf_reset(&p);
		buf_addf(&p, "%s/examples/pods/%s", srcdir, files[i]);
		ok(buf_read_file(&in, p.data, 1 << 20) == 0, "read %s",
		    files[i]);
		buf_reset(&p);
		buf_addf(&p, "%s/%s", pods.data, files[i]);
		if ((fp = fopen(p.data, "w")) != NULL) {
			fwrite(in.data, 1, in.len, fp);
			fclose(fp);
		}
		buf_release(&in);
	}
	is_int(pod_load(pods.data, &set, &d), 0, "examples/pods validate");
	is_int(d.n, 0, "without warnings");
	print_diags(&d);
	is_int(set.n, 3, "three example pods");
	ok(pod_find(&set, "laravel") != NULL &&
	    pod_find(&set, "laravel")->n_containers == 3,
	    "laravel has three containers");
	ok(pod_find(&set, "echo") != NULL && pod_find(&set, "echo")->replicas
	    == 2, "echo has two replicas");
	pod_set_release(&set);
	diag_release(&d);
	for (i = 0; files[i] != NULL; i++) {
		buf_reset(&p);
		buf_addf(&p, "%s/%s", pods.data, files[i]);
		unlink(p.data);
	}
	rmdir(img.data);
	*strrchr(img.data, '/') = '\0';
	rmdir(img.data);
	rmdir(pods.data);
	rmdir(tmp);
	buf_release(&p);
	buf_release(&img);
	buf_release(&pods);
}

int
main(void)
{
	if ((srcdir = getenv("top_srcdir")) == NULL)
		srcdir = ".";
	test_quantities();
	check_corpus("valid", 1);
	check_corpus("invalid", 0);
	test_model();
	test_dirs();
	test_examples();
	return done_testing();
}

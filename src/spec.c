/*
 * spec: loading and validating pods/<pod>.json (doc/node-protocol.md).  A
 * spec is untrusted until its ownership is checked: a file that root does
 * not own, or that others may write, could otherwise make vzexec run
 * anything as root.  Everything the container child later relies on
 * (names, image id, types of command/args/env and of the image config,
 * volume references) is checked here, so the child only has to act.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "vzexec.h"

uint64_t
spec_fnv(const void *p, size_t len, uint64_t h)
{
	const unsigned char *s = p;
	size_t i;

	if (h == 0)
		h = 1469598103934665603ULL;
	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

int
spec_name_ok(const char *s)
{
	return vz_dns_label(s, VZ_LABEL_MAX);
}

/* A pod name on the node: a label, or a label + ".next" (see vzexec.h). */
int
spec_pod_name_ok(const char *s)
{
	char label[VZ_LABEL_MAX + 1];
	size_t n = strlen(s), sl = strlen(VZ_NEXT_SUFFIX);

	if (spec_name_ok(s))
		return 1;
	if (n <= sl || n - sl > VZ_LABEL_MAX ||
	    strcmp(s + n - sl, VZ_NEXT_SUFFIX) != 0)
		return 0;
	memcpy(label, s, n - sl);
	label[n - sl] = '\0';
	return spec_name_ok(label);
}

int
spec_image_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= '0' && s[i] <= '9')))
			return 0;
	}
	return 1;
}

static int
strarray_ok(const struct json_value *v)
{
	size_t i;

	if (v == NULL || v->type == JSON_NULL)
		return 1;
	if (v->type != JSON_ARRAY)
		return 0;
	for (i = 0; i < v->n; i++) {
		if (v->items[i]->type != JSON_STRING ||
		    strlen(v->items[i]->str) != v->items[i]->len)
			return 0;
	}
	return 1;
}

static int
optint_ok(const struct json_value *o, const char *key, int64_t min,
    int64_t max)
{
	const struct json_value *v = json_get(o, key);
	int64_t n;

	if (v == NULL || v->type == JSON_NULL)
		return 1;
	if (json_as_int(v, &n) != 0)
		return 0;
	return n >= min && n <= max;
}

static int
path_ok(const char *p)
{
	const char *s;

	if (p == NULL || p[0] != '/' || strlen(p) > 1024)
		return 0;
	/* No ".." component: a mount must not escape the rootfs. */
	for (s = p; (s = strstr(s, "..")) != NULL; s += 2) {
		if (s[-1] == '/' && (s[2] == '/' || s[2] == '\0'))
			return 0;
	}
	return 1;
}

static int
volume_find(const struct json_value *vols, const char *name)
{
	size_t i;
	const char *n;

	if (vols == NULL)
		return 0;
	for (i = 0; i < vols->n; i++) {
		n = json_get_string(vols->items[i], "name");
		if (n != NULL && strcmp(n, name) == 0)
			return 1;
	}
	return 0;
}

static int
probe_ok(const struct json_value *p)
{
	const struct json_value *h;

	if (p == NULL || p->type == JSON_NULL)
		return 1;
	if (p->type != JSON_OBJECT)
		return 0;
	if (!strarray_ok(json_get(p, "exec")))
		return 0;
	if ((h = json_get(p, "httpGet")) != NULL &&
	    (h->type != JSON_OBJECT || !optint_ok(h, "port", 1, 65535)))
		return 0;
	if ((h = json_get(p, "tcpSocket")) != NULL &&
	    (h->type != JSON_OBJECT || !optint_ok(h, "port", 1, 65535)))
		return 0;
	return optint_ok(p, "initialDelaySeconds", 0, 86400) &&
	    optint_ok(p, "periodSeconds", 1, 86400) &&
	    optint_ok(p, "timeoutSeconds", 1, 3600) &&
	    optint_ok(p, "failureThreshold", 1, 1000);
}

/* An optional string member: absent, null, or a string of at most max
   bytes without NUL. */
static int
optstr_ok(const struct json_value *o, const char *key, size_t max)
{
	const struct json_value *v = json_get(o, key);

	if (v == NULL || v->type == JSON_NULL)
		return 1;
	return v->type == JSON_STRING && strlen(v->str) == v->len &&
	    v->len <= max;
}

/*
 * imageConfig: the image config the master resolved for this container's
 * own image reference (several references may share one image id, each
 * with its own Entrypoint, Cmd, Env...).  Absent or null: a spec of an
 * older master, and the container uses images/<id>/config.json.  Members
 * the node does not use are ignored.
 */
static int
imgcfg_ok(const struct json_value *c, const char *name, char *err,
    size_t errlen)
{
	const struct json_value *ic, *a;
	const char *k, *s;
	size_t i, j;
	static const char *const argvs[] = { "Entrypoint", "Cmd" };

	ic = json_get(c, "imageConfig");
	if (ic == NULL || ic->type == JSON_NULL)
		return 0;
	if (ic->type != JSON_OBJECT) {
		snprintf(err, errlen, "'%s': 'imageConfig' is not an object",
		    name);
		return -1;
	}
	for (j = 0; j < sizeof argvs / sizeof argvs[0]; j++) {
		k = argvs[j];
		a = json_get(ic, k);
		if (!strarray_ok(a) || (a != NULL && a->type == JSON_ARRAY &&
		    a->n > VZ_IMGCFG_ITEMS_MAX)) {
			snprintf(err, errlen, "'%s': imageConfig.%s must be "
			    "null or an array of at most %d strings", name, k,
			    VZ_IMGCFG_ITEMS_MAX);
			return -1;
		}
	}
	a = json_get(ic, "Env");
	if (!strarray_ok(a) || (a != NULL && a->type == JSON_ARRAY &&
	    a->n > VZ_IMGCFG_ITEMS_MAX))
		goto badenv;
	for (i = 0; a != NULL && a->type == JSON_ARRAY && i < a->n; i++) {
		s = a->items[i]->str;
		if (s[0] == '=' || strchr(s, '=') == NULL)
			goto badenv;
	}
	if (!optstr_ok(ic, "WorkingDir", PATH_MAX - 1)) {
		snprintf(err, errlen, "'%s': imageConfig.WorkingDir must be "
		    "a string of at most %d bytes", name, PATH_MAX - 1);
		return -1;
	}
	if (!optstr_ok(ic, "User", VZ_IMGCFG_USER_MAX)) {
		snprintf(err, errlen, "'%s': imageConfig.User must be a "
		    "string of at most %d bytes", name, VZ_IMGCFG_USER_MAX);
		return -1;
	}
	return 0;
badenv:
	snprintf(err, errlen, "'%s': imageConfig.Env must be null or an array "
	    "of at most %d NAME=VALUE strings", name, VZ_IMGCFG_ITEMS_MAX);
	return -1;
}

static int
container_ok(const struct json_value *c, const struct json_value *vols,
    char *err, size_t errlen)
{
	const struct json_value *a, *e;
	const char *name, *img;
	uint64_t caps;
	size_t i;

	name = json_get_string(c, "name");
	if (name == NULL || !spec_name_ok(name)) {
		snprintf(err, errlen, "container without a valid 'name'");
		return -1;
	}
	img = json_get_string(c, "image");
	if (img == NULL || !spec_image_ok(img)) {
		snprintf(err, errlen, "'%s': 'image' is not an image id", name);
		return -1;
	}
	if (!strarray_ok(json_get(c, "command")) ||
	    !strarray_ok(json_get(c, "args")) ||
	    !strarray_ok(json_get(c, "capAdd")) ||
	    !strarray_ok(json_get(c, "capDrop"))) {
		snprintf(err, errlen, "'%s': command, args, capAdd and capDrop "
		    "must be arrays of strings", name);
		return -1;
	}
	if (!optint_ok(c, "runAsUser", 0, 0x7fffffff) ||
	    !optint_ok(c, "runAsGroup", 0, 0x7fffffff) ||
	    !optint_ok(c, "memoryLimit", 4096, INT64_MAX) ||
	    !optint_ok(c, "pidsLimit", 1, 0x7fffffff) ||
	    !optint_ok(c, "nofile", 8, 1 << 20)) {
		snprintf(err, errlen, "'%s': a numeric field is out of range",
		    name);
		return -1;
	}
	if ((e = json_get(c, "workingDir")) != NULL && e->type != JSON_NULL &&
	    (e->type != JSON_STRING || !path_ok(e->str))) {
		snprintf(err, errlen, "'%s': bad 'workingDir'", name);
		return -1;
	}
	if ((a = json_get(c, "env")) != NULL && a->type != JSON_NULL) {
		if (a->type != JSON_ARRAY)
			goto badenv;
		for (i = 0; i < a->n; i++) {
			e = a->items[i];
			if (json_get_string(e, "name") == NULL ||
			    json_get_string(e, "name")[0] == '\0' ||
			    strchr(json_get_string(e, "name"), '=') != NULL)
				goto badenv;
			if (json_get(e, "value") != NULL &&
			    json_get(e, "value")->type != JSON_NULL &&
			    json_get_string(e, "value") == NULL)
				goto badenv;
		}
	}
	if ((a = json_get(c, "volumeMounts")) != NULL && a->type != JSON_NULL) {
		if (a->type != JSON_ARRAY)
			goto badmount;
		for (i = 0; i < a->n; i++) {
			e = a->items[i];
			if (json_get_string(e, "name") == NULL ||
			    !volume_find(vols, json_get_string(e, "name")) ||
			    !path_ok(json_get_string(e, "mountPath")))
				goto badmount;
		}
	}
	if (!probe_ok(json_get(c, "readinessProbe")) ||
	    !probe_ok(json_get(c, "livenessProbe"))) {
		snprintf(err, errlen, "'%s': malformed probe", name);
		return -1;
	}
	if (imgcfg_ok(c, name, err, errlen) != 0)
		return -1;
	if (caps_compute(c, &caps, err, errlen) != 0)
		return -1;
	return 0;
badenv:
	snprintf(err, errlen, "'%s': 'env' must be a list of {name, value}",
	    name);
	return -1;
badmount:
	snprintf(err, errlen, "'%s': a volumeMount names no declared volume "
	    "or has a bad mountPath", name);
	return -1;
}

static int
pod_ok(const struct json_value *doc, const char *expect, char *err,
    size_t errlen)
{
	const struct json_value *vols, *ctrs, *v;
	const char *name, *rp, *hp;
	int64_t n;
	size_t i, j;

	if (doc->type != JSON_OBJECT) {
		snprintf(err, errlen, "not a JSON object");
		return -1;
	}
	if (json_get_int(doc, "vzspec", &n) != 0 || n != 1) {
		snprintf(err, errlen, "'vzspec' is not 1");
		return -1;
	}
	name = json_get_string(doc, "name");
	if (name == NULL || !spec_pod_name_ok(name) ||
	    (expect != NULL && strcmp(name, expect) != 0)) {
		snprintf(err, errlen, "'name' is missing, invalid or differs "
		    "from the file name");
		return -1;
	}
	rp = json_get_string(doc, "restartPolicy");
	if (rp != NULL && strcmp(rp, "Always") != 0 &&
	    strcmp(rp, "OnFailure") != 0 && strcmp(rp, "Never") != 0) {
		snprintf(err, errlen, "unknown restartPolicy '%s'", rp);
		return -1;
	}
	if (!optint_ok(doc, "terminationGracePeriodSeconds", 0, 86400)) {
		snprintf(err, errlen, "bad terminationGracePeriodSeconds");
		return -1;
	}
	vols = json_get(doc, "volumes");
	if (vols != NULL && vols->type == JSON_NULL)
		vols = NULL;
	if (vols != NULL && vols->type != JSON_ARRAY) {
		snprintf(err, errlen, "'volumes' is not an array");
		return -1;
	}
	for (i = 0; vols != NULL && i < vols->n; i++) {
		v = vols->items[i];
		name = json_get_string(v, "name");
		hp = json_get_string(v, "hostPath");
		if (name == NULL || !spec_name_ok(name) ||
		    (json_get_object(v, "emptyDir") == NULL &&
		    (hp == NULL || !path_ok(hp)))) {
			snprintf(err, errlen, "volume %zu: needs a name and "
			    "emptyDir or an absolute hostPath", i);
			return -1;
		}
	}
	ctrs = json_get_array(doc, "containers");
	if (ctrs == NULL || ctrs->n == 0 || ctrs->n > 64) {
		snprintf(err, errlen, "'containers' must list 1 to 64 "
		    "containers");
		return -1;
	}
	for (i = 0; i < ctrs->n; i++) {
		if (ctrs->items[i]->type != JSON_OBJECT) {
			snprintf(err, errlen, "container %zu is not an object",
			    i);
			return -1;
		}
		if (container_ok(ctrs->items[i], vols, err, errlen) != 0)
			return -1;
		for (j = 0; j < i; j++) {
			if (strcmp(json_get_string(ctrs->items[i], "name"),
			    json_get_string(ctrs->items[j], "name")) == 0) {
				snprintf(err, errlen, "container name '%s' "
				    "used twice", json_get_string(
				    ctrs->items[i], "name"));
				return -1;
			}
		}
	}
	return 0;
}

int
spec_load(const char *path, const char *expect, struct vz_pod **out,
    char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	struct json_value *doc = NULL;
	struct vz_pod *p;
	const struct json_value *ctrs;
	const char *s;
	struct stat st;
	char perr[160];
	int fd = -1, rv = -1;
	ssize_t r;
	int64_t n;
	size_t i;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		goto out;
	}
	if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
		snprintf(err, errlen, "refused: not owned by root or writable "
		    "by group or others");
		goto out;
	}
	if (st.st_size > VZ_SPEC_MAX) {
		snprintf(err, errlen, "larger than %d bytes", VZ_SPEC_MAX);
		goto out;
	}
	buf_grow(&b, (size_t)st.st_size + 1);
	while ((r = read(fd, b.data + b.len, b.cap - b.len - 1)) > 0) {
		b.len += (size_t)r;
		if (b.len + 1 >= b.cap)
			break;
	}
	if (r < 0) {
		snprintf(err, errlen, "read: %s", strerror(errno));
		goto out;
	}
	b.data[b.len] = '\0';
	if (json_parse(b.data, b.len, &doc, perr, sizeof perr) != 0) {
		snprintf(err, errlen, "malformed JSON: %s", perr);
		goto out;
	}
	if (pod_ok(doc, expect, err, errlen) != 0)
		goto out;

	p = xcalloc(1, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", json_get_string(doc, "name"));
	s = json_get_string(doc, "hash");
	snprintf(p->hash, sizeof p->hash, "%s", s != NULL ? s : "");
	p->fp = spec_fnv(b.data, b.len, 0);
	s = json_get_string(doc, "restartPolicy");
	p->policy = s == NULL || strcmp(s, "Always") == 0 ? RP_ALWAYS :
	    strcmp(s, "OnFailure") == 0 ? RP_ONFAILURE : RP_NEVER;
	p->grace = json_get_int(doc, "terminationGracePeriodSeconds", &n) == 0 ?
	    (int)n : 30;
	ctrs = json_get_array(doc, "containers");
	p->nctr = ctrs->n;
	p->ctr = xcalloc(p->nctr, sizeof *p->ctr);
	for (i = 0; i < p->nctr; i++) {
		p->ctr[i].pod = p;
		p->ctr[i].spec = ctrs->items[i];
		snprintf(p->ctr[i].name, sizeof p->ctr[i].name, "%s",
		    json_get_string(ctrs->items[i], "name"));
		p->ctr[i].last_exit = -1;
		p->ctr[i].pidfd = -1;
		p->ctr[i].out.fd = -1;
		p->ctr[i].err.fd = -1;
	}
	p->doc = doc;
	doc = NULL;
	*out = p;
	rv = 0;
out:
	if (fd != -1)
		close(fd);
	json_free(doc);
	buf_release(&b);
	return rv;
}

void
spec_free(struct vz_pod *p)
{
	if (p == NULL)
		return;
	json_free(p->doc);
	free(p->ctr);
	free(p);
}

/*
 * pod: reads pod manifests (YAML, through yamltree) into struct pod and
 * checks every field.  Owns the accepted Kubernetes subset, its defaults
 * and its error messages; vzmaster-pods(5) is the user's view of the same.
 *
 * Every check reports into struct diags and carries on, so one run shows
 * all the errors of a file.  A document is kept only when it produced no
 * error; warnings (unknown or unsupported fields) do not drop it.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "names.h"
#include "pod.h"
#include "yamltree.h"

/* Kubernetes itself refuses objects over ~1.5 MiB; a manifest is text. */
#define POD_MAX_FILE	(4 * 1024 * 1024)
/* Diagnostics kept per file, as a compiler stops after so many errors. */
#define POD_MAX_DIAGS	1000
/*
 * Caps on list lengths: far beyond any real pod, and they keep the checks
 * that compare items pairwise (names, host ports, mounts) cheap on hostile
 * input.
 */
#define POD_MAX_PODS		10000
#define POD_MAX_ITEMS		256	/* containers, ports, mounts, ... */
#define PATH_LEN	512

/* A pod name already taken, for the duplicate check across files. */
struct seen {
	char	*name;
	char	*file;
	int	 line;
};

struct ctx {
	const char	*file;
	char		*dir;		/* absolute folder of the manifest */
	struct diags	*d;
	struct seen	*seen;
	size_t		 n_seen;
	int		 too_many;	/* "more than POD_MAX_PODS" said */
};

/* ---------- messages ---------- */

static void
report(struct ctx *c, enum diag_level lv, const struct yt_node *n,
    const char *path, const char *fmt, va_list ap)
{
	struct buf m = BUF_INIT;

	buf_vaddf(&m, fmt, ap);
	diag_add(c->d, lv, c->file, n != NULL ? n->line : 0,
	    n != NULL ? n->col : 0, "%s: %s", path, m.data);
	buf_release(&m);
}

static void
perr(struct ctx *, const struct yt_node *, const char *, const char *, ...)
    __attribute__((format(printf, 4, 5)));
static void
pwarn(struct ctx *, const struct yt_node *, const char *, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static void
perr(struct ctx *c, const struct yt_node *n, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(c, DIAG_ERROR, n, path, fmt, ap);
	va_end(ap);
}

static void
pwarn(struct ctx *c, const struct yt_node *n, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(c, DIAG_WARNING, n, path, fmt, ap);
	va_end(ap);
}

/*
 * Append to a field path, truncating at PATH_LEN (a long path only shortens
 * the message; snprintf would have gcc warn about every call).
 */
static void
path_cat(char *dst, const char *s)
{
	size_t have = strlen(dst), add = strlen(s);

	if (add > PATH_LEN - 1 - have)
		add = PATH_LEN - 1 - have;
	memcpy(dst + have, s, add);
	dst[have + add] = '\0';
}

/* path + "." + key, or key alone at the top. */
static void
join(char *dst, const char *path, const char *key)
{
	dst[0] = '\0';
	path_cat(dst, path);
	if (*path != '\0')
		path_cat(dst, ".");
	path_cat(dst, key);
}

/* path + "[i]" */
static void
joini(char *dst, const char *path, size_t i)
{
	char ix[32];
	struct buf b = BUF_INIT;

	buf_addf(&b, "[%zu]", i);
	dst[0] = '\0';
	path_cat(dst, path);
	memcpy(ix, b.data, b.len + 1 < sizeof ix ? b.len + 1 : sizeof ix);
	ix[sizeof ix - 1] = '\0';
	path_cat(dst, ix);
	buf_release(&b);
}

/* ---------- typed access to YAML nodes ---------- */

/* Null counts as absent, as in Kubernetes' JSON. */
static int
present(const struct yt_node *n)
{
	return n != NULL && !(n->type == YT_SCALAR && n->kind == YT_NULL);
}

static int
expect_map(struct ctx *c, const struct yt_node *n, const char *path)
{
	if (n->type == YT_MAP)
		return 1;
	if (n->type != YT_BAD)
		perr(c, n, path, "expected a mapping, got %s", yt_describe(n));
	return 0;
}

static int
expect_seq(struct ctx *c, const struct yt_node *n, const char *path)
{
	if (n->type == YT_SEQ)
		return 1;
	if (n->type != YT_BAD)
		perr(c, n, path, "expected a list, got %s", yt_describe(n));
	return 0;
}

/* A list of at most POD_MAX_ITEMS entries. */
static int
expect_short_seq(struct ctx *c, const struct yt_node *n, const char *path)
{
	if (!expect_seq(c, n, path))
		return 0;
	if (n->n > POD_MAX_ITEMS) {
		perr(c, n, path, "expected at most %d entries, got %zu",
		    POD_MAX_ITEMS, n->n);
		return 0;
	}
	return 1;
}

/* A string value; NULL (after an error) when it is not one. */
static char *
get_str(struct ctx *c, const struct yt_node *n, const char *path)
{
	if (n->type == YT_SCALAR && n->kind == YT_STR) {
		if (strlen(n->str) != n->len) {
			perr(c, n, path, "string contains a NUL character");
			return NULL;
		}
		return xstrdup(n->str);
	}
	if (n->type == YT_BAD)
		return NULL;
	if (n->type == YT_SCALAR)
		perr(c, n, path, "expected a string, got %s %s (quote it: "
		    "\"%s\")", yt_describe(n), n->str, n->str);
	else
		perr(c, n, path, "expected a string, got %s", yt_describe(n));
	return NULL;
}

/* Integer in [min, max]: 0, or -1 after an error. */
static int
get_int(struct ctx *c, const struct yt_node *n, const char *path,
    int64_t min, int64_t max, int64_t *out)
{
	const char *s;
	char *end;
	long long v;
	int neg = 0, base = 10;

	if (n->type == YT_BAD)
		return -1;
	if (n->type != YT_SCALAR || n->kind != YT_INT) {
		if (n->type == YT_SCALAR && n->kind != YT_NULL)
			perr(c, n, path, "expected an integer between %lld "
			    "and %lld, got %s '%s'", (long long)min,
			    (long long)max, yt_describe(n), n->str);
		else
			perr(c, n, path, "expected an integer between %lld "
			    "and %lld, got %s", (long long)min,
			    (long long)max, yt_describe(n));
		return -1;
	}
	s = n->str;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strncmp(s, "0x", 2) == 0) {
		base = 16;
		s += 2;
	} else if (strncmp(s, "0o", 2) == 0) {
		base = 8;
		s += 2;
	} else if (s[0] == '0' && s[1] != '\0')
		base = 8;	/* YAML 1.1 octal, as kubectl reads it */
	errno = 0;
	v = strtoll(s, &end, base);
	if (*end != '\0') {
		perr(c, n, path, "expected an integer, got '%s'", n->str);
		return -1;
	}
	if (errno == ERANGE || (neg ? -v < min : v > max) ||
	    (neg ? -v > max : v < min)) {
		perr(c, n, path, "expected an integer between %lld and %lld, "
		    "got %s", (long long)min, (long long)max, n->str);
		return -1;
	}
	*out = neg ? -v : v;
	return 0;
}

static int
get_int32(struct ctx *c, const struct yt_node *n, const char *path,
    int min, int max, int *out)
{
	int64_t v;

	if (get_int(c, n, path, min, max, &v) == -1)
		return -1;
	*out = (int)v;
	return 0;
}

static int
get_bool(struct ctx *c, const struct yt_node *n, const char *path, int *out)
{
	if (n->type == YT_BAD)
		return -1;
	if (n->type != YT_SCALAR || n->kind != YT_BOOL) {
		perr(c, n, path, "expected true or false, got %s",
		    yt_describe(n));
		return -1;
	}
	*out = n->str[0] == 't' || n->str[0] == 'T' || n->str[0] == 'y' ||
	    n->str[0] == 'Y' || strcasecmp(n->str, "on") == 0;
	return 0;
}

static int
in_list(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/*
 * Warn about every key of m not in known: fields Kubernetes has but we do
 * not implement (ignored) get their own message, so a user can tell a typo
 * from a feature we lack.
 */
static void
check_fields(struct ctx *c, const struct yt_node *m, const char *path,
    const char *const *known, const char *const *ignored)
{
	char p[PATH_LEN];
	size_t i;

	for (i = 0; i < m->n; i++) {
		const char *k = m->keys[i]->str;

		if (in_list(k, known))
			continue;
		join(p, path, k);
		if (ignored != NULL && in_list(k, ignored))
			pwarn(c, m->keys[i], p, "not supported by vzmaster, "
			    "ignored");
		else
			pwarn(c, m->keys[i], p, "unknown field, ignored");
	}
}

/* ---------- names ---------- */

/* Get a required DNS-1123 label; NULL after an error. */
static char *
get_name(struct ctx *c, const struct yt_node *n, const char *path)
{
	char *s = get_str(c, n, path);

	if (s != NULL && !vz_dns_label(s, VZ_LABEL_MAX)) {
		perr(c, n, path, "'%s' is not a valid name: expected at most "
		    "63 characters a-z, 0-9 and '-', starting and ending with "
		    "a letter or digit", s);
		free(s);
		return NULL;
	}
	return s;
}

/* Kubernetes label value / name part of a key: [A-Za-z0-9][-A-Za-z0-9_.]* */
static int
qualified_part(const char *s, size_t len, int allow_empty)
{
	size_t i;

	if (len == 0)
		return allow_empty;
	if (len > 63 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[len - 1]))
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

static int
label_key(const char *k)
{
	const char *slash = strchr(k, '/');
	size_t i;

	if (slash == NULL)
		return qualified_part(k, strlen(k), 0);
	/* prefix: a DNS subdomain */
	if (slash == k || slash - k > 253)
		return 0;
	for (i = 0; k + i < slash; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' &&
		    k[i] <= '9') || k[i] == '-' || k[i] == '.'))
			return 0;
	return qualified_part(slash + 1, strlen(slash + 1), 0);
}

/* A map of string to string (labels, annotations, nodeSelector). */
static void
get_kvlist(struct ctx *c, const struct yt_node *m, const char *path,
    struct kvlist *out, int check_value)
{
	char p[PATH_LEN];
	size_t i;

	if (!expect_map(c, m, path))
		return;
	out->v = xcalloc(m->n ? m->n : 1, sizeof *out->v);
	for (i = 0; i < m->n; i++) {
		const char *k = m->keys[i]->str;
		char *v;

		join(p, path, k);
		if (!label_key(k)) {
			perr(c, m->keys[i], p, "'%s' is not a valid key: "
			    "expected [prefix/]name, name at most 63 "
			    "characters of A-Z a-z 0-9 - _ .", k);
			continue;
		}
		if (!present(m->items[i]))
			v = xstrdup("");
		else if ((v = get_str(c, m->items[i], p)) == NULL)
			continue;
		if (check_value && !qualified_part(v, strlen(v), 1)) {
			perr(c, m->items[i], p, "'%s' is not a valid label "
			    "value: expected at most 63 characters of A-Z a-z "
			    "0-9 - _ . starting and ending alphanumeric", v);
			free(v);
			continue;
		}
		out->v[out->n].key = xstrdup(k);
		out->v[out->n++].value = v;
	}
}

static const char *
kv_get(const struct kvlist *l, const char *key)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, key) == 0)
			return l->v[i].value;
	return NULL;
}

/* A list of strings as a NULL-terminated argv; NULL after an error. */
static char **
get_argv(struct ctx *c, const struct yt_node *n, const char *path)
{
	char p[PATH_LEN], **v;
	size_t i;
	int bad = 0;

	if (!expect_seq(c, n, path))
		return NULL;
	v = xcalloc(n->n + 1, sizeof *v);
	for (i = 0; i < n->n; i++) {
		joini(p, path, i);
		if ((v[i] = get_str(c, n->items[i], p)) == NULL)
			bad = 1;
	}
	if (bad) {
		for (i = 0; i < n->n; i++)
			free(v[i]);
		free(v);
		return NULL;
	}
	return v;
}

static void
argv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* ---------- images ---------- */

static const char *const transport_names[] = {
	[IMAGE_OCI] = "oci",
	[IMAGE_OCI_ARCHIVE] = "oci-archive",
	[IMAGE_DOCKER_ARCHIVE] = "docker-archive",
	[IMAGE_DIR] = "dir",
};

const char *
image_transport_name(enum image_transport t)
{
	return transport_names[t];
}

/*
 * Remove "." and ".." components from an absolute path, without looking at
 * the file system: for messages about paths that do not exist.
 */
static void
clean_path(char *p)
{
	char *r = p, *w = p;

	while (*r != '\0') {
		if (r[0] == '/' && (r[1] == '/' || r[1] == '\0')) {
			r++;
		} else if (r[0] == '/' && r[1] == '.' && (r[2] == '/' ||
		    r[2] == '\0')) {
			r += 2;
		} else if (r[0] == '/' && r[1] == '.' && r[2] == '.' &&
		    (r[3] == '/' || r[3] == '\0')) {
			r += 3;
			while (w > p && *--w != '/')
				;
		} else {
			do
				*w++ = *r++;
			while (*r != '\0' && *r != '/');
		}
	}
	if (w == p)
		*w++ = '/';
	*w = '\0';
}

static int
get_image(struct ctx *c, const struct yt_node *n, const char *path,
    struct image_ref *img)
{
	char *text, *colon, *rest, *abs = NULL, *real = NULL;
	struct buf p = BUF_INIT;
	struct stat st;
	size_t i;
	int t = -1, want_dir, r = -1;

	if ((text = get_str(c, n, path)) == NULL)
		return -1;
	img->text = text;
	img->line = n->line;
	img->col = n->col;
	if ((colon = strchr(text, ':')) != NULL) {
		for (i = 0; i < sizeof transport_names /
		    sizeof transport_names[0]; i++)
			if ((size_t)(colon - text) ==
			    strlen(transport_names[i]) && strncmp(text,
			    transport_names[i], colon - text) == 0)
				t = (int)i;
	}
	if (t == -1) {
		perr(c, n, path, "'%s' has no local transport: vzmaster has "
		    "no registry, expected oci:DIR[:TAG], "
		    "oci-archive:FILE[:TAG], docker-archive:FILE or "
		    "dir:ROOTFS", text);
		return -1;
	}
	img->transport = (enum image_transport)t;
	rest = colon + 1;
	if (t != IMAGE_DIR && (colon = strchr(rest, ':')) != NULL) {
		img->tag = xstrdup(colon + 1);
		buf_add(&p, rest, (size_t)(colon - rest));
	} else
		buf_adds(&p, rest);
	if (p.len == 0) {
		perr(c, n, path, "'%s': expected a path after '%s:'", text,
		    transport_names[t]);
		goto out;
	}
	if (img->tag != NULL && *img->tag == '\0') {
		perr(c, n, path, "'%s': empty tag after the path", text);
		goto out;
	}
	if (p.data[0] == '/')
		abs = xstrdup(p.data);
	else {
		struct buf a = BUF_INIT;

		buf_addf(&a, "%s/%s", c->dir, p.data);
		abs = buf_detach(&a, NULL);
	}
	clean_path(abs);
	want_dir = t == IMAGE_OCI || t == IMAGE_DIR;
	if (stat(abs, &st) == -1) {
		if (errno == ENOENT)
			perr(c, n, path, "image '%s' does not exist (%s)",
			    text, abs);
		else
			perr(c, n, path, "cannot use image '%s': %s (%s)",
			    text, strerror(errno), abs);
		goto out;
	}
	if (want_dir && !S_ISDIR(st.st_mode)) {
		perr(c, n, path, "image '%s' is not a directory (%s)", text,
		    abs);
		goto out;
	}
	if (!want_dir && !S_ISREG(st.st_mode)) {
		perr(c, n, path, "image '%s' is not a regular file (%s)",
		    text, abs);
		goto out;
	}
	if (t == IMAGE_OCI) {
		struct buf ix = BUF_INIT;

		buf_addf(&ix, "%s/index.json", abs);
		if (stat(ix.data, &st) == -1) {
			perr(c, n, path, "image '%s' is not an OCI image "
			    "layout, it has no index.json (%s)", text, abs);
			buf_release(&ix);
			goto out;
		}
		buf_release(&ix);
	}
	if ((real = realpath(abs, NULL)) == NULL) {
		perr(c, n, path, "cannot use image '%s': %s (%s)", text,
		    strerror(errno), abs);
		goto out;
	}
	img->path = real;
	r = 0;
out:
	free(abs);
	buf_release(&p);
	return r;
}

/* ---------- containers ---------- */

static void
get_caps(struct ctx *c, const struct yt_node *n, const char *path,
    struct strlist *out)
{
	char p[PATH_LEN];
	size_t i, j;

	if (!expect_short_seq(c, n, path))
		return;
	out->v = xcalloc(n->n ? n->n : 1, sizeof *out->v);
	for (i = 0; i < n->n; i++) {
		char *s, *name;

		joini(p, path, i);
		if ((s = get_str(c, n->items[i], p)) == NULL)
			continue;
		for (j = 0; s[j] != '\0'; j++)
			s[j] = (char)toupper((unsigned char)s[j]);
		name = strncmp(s, "CAP_", 4) == 0 ? s + 4 : s;
		if (strcmp(name, "ALL") != 0 && vz_cap_index(name) < 0) {
			perr(c, n->items[i], p, "unknown capability '%s': "
			    "expected a Linux capability such as NET_ADMIN "
			    "or NET_BIND_SERVICE, or ALL", n->items[i]->str);
			free(s);
			continue;
		}
		out->v[out->n++] = xstrdup(name);
		free(s);
	}
}

static void
get_security(struct ctx *c, const struct yt_node *m, const char *path,
    struct container *ct)
{
	static const char *const known[] = { "runAsUser", "runAsGroup",
	    "runAsNonRoot", "readOnlyRootFilesystem", "capabilities",
	    "privileged", NULL };
	static const char *const ignored[] = { "allowPrivilegeEscalation",
	    "seLinuxOptions", "seccompProfile", "appArmorProfile",
	    "procMount", "windowsOptions", NULL };
	const struct yt_node *v, *caps;
	char p[PATH_LEN], q[PATH_LEN];
	int priv;

	if (!expect_map(c, m, path))
		return;
	check_fields(c, m, path, known, ignored);
	join(p, path, "runAsUser");
	if (present(v = yt_get(m, "runAsUser")))
		get_int(c, v, p, 0, INT32_MAX, &ct->run_as_user);
	join(p, path, "runAsGroup");
	if (present(v = yt_get(m, "runAsGroup")))
		get_int(c, v, p, 0, INT32_MAX, &ct->run_as_group);
	join(p, path, "runAsNonRoot");
	if (present(v = yt_get(m, "runAsNonRoot")))
		get_bool(c, v, p, &ct->run_as_non_root);
	if (ct->run_as_non_root && ct->run_as_user == 0)
		perr(c, v, p, "runAsNonRoot is true but runAsUser is 0");
	join(p, path, "readOnlyRootFilesystem");
	if (present(v = yt_get(m, "readOnlyRootFilesystem")))
		get_bool(c, v, p, &ct->read_only_root_fs);
	join(p, path, "privileged");
	if (present(v = yt_get(m, "privileged")) &&
	    get_bool(c, v, p, &priv) == 0 && priv)
		perr(c, v, p, "privileged containers are not supported: "
		    "grant only the capabilities needed with "
		    "capabilities.add");
	join(p, path, "capabilities");
	if (present(caps = yt_get(m, "capabilities")) &&
	    expect_map(c, caps, p)) {
		static const char *const ck[] = { "add", "drop", NULL };

		check_fields(c, caps, p, ck, NULL);
		join(q, p, "add");
		if (present(v = yt_get(caps, "add")))
			get_caps(c, v, q, &ct->cap_add);
		join(q, p, "drop");
		if (present(v = yt_get(caps, "drop")))
			get_caps(c, v, q, &ct->cap_drop);
	}
}

/* One of requests/limits: fills mem and cpu (left at -1 when absent). */
static void
get_resource_list(struct ctx *c, const struct yt_node *m, const char *path,
    int64_t *mem, int64_t *cpu, const struct yt_node **mem_node,
    const struct yt_node **cpu_node)
{
	static const char *const known[] = { "memory", "cpu", NULL };
	static const char *const ignored[] = { "ephemeral-storage",
	    "hugepages-2Mi", "hugepages-1Gi", NULL };
	const struct yt_node *v;
	char p[PATH_LEN];

	if (!expect_map(c, m, path))
		return;
	check_fields(c, m, path, known, ignored);
	join(p, path, "memory");
	if (present(v = yt_get(m, "memory"))) {
		*mem_node = v;
		if (v->type != YT_SCALAR || v->kind == YT_BOOL)
			perr(c, v, p, "expected a memory quantity such as "
			    "64Mi, 1G or 512M, got %s", yt_describe(v));
		else if (quantity_parse_memory(v->str, mem) == -1)
			perr(c, v, p, "'%s' is not a memory quantity: expected "
			    "bytes with an optional suffix (Ki Mi Gi Ti, k M G "
			    "T), such as 64Mi, 1G or 512M", v->str);
	}
	join(p, path, "cpu");
	if (present(v = yt_get(m, "cpu"))) {
		*cpu_node = v;
		if (v->type != YT_SCALAR || v->kind == YT_BOOL)
			perr(c, v, p, "expected a CPU quantity such as 250m or "
			    "0.5, got %s", yt_describe(v));
		else if (quantity_parse_cpu(v->str, cpu) == -1)
			perr(c, v, p, "'%s' is not a CPU quantity: expected "
			    "cores (0.5, 2) or millicores (250m)", v->str);
	}
}

static void
get_resources(struct ctx *c, const struct yt_node *m, const char *path,
    struct container *ct)
{
	static const char *const known[] = { "requests", "limits", NULL };
	static const char *const ignored[] = { "claims", NULL };
	const struct yt_node *v, *rm = NULL, *rc = NULL, *lm = NULL,
	    *lc = NULL;
	char p[PATH_LEN];

	if (!expect_map(c, m, path))
		return;
	check_fields(c, m, path, known, ignored);
	join(p, path, "limits");
	if (present(v = yt_get(m, "limits")))
		get_resource_list(c, v, p, &ct->mem_limit, &ct->cpu_limit,
		    &lm, &lc);
	join(p, path, "requests");
	if (present(v = yt_get(m, "requests")))
		get_resource_list(c, v, p, &ct->mem_request, &ct->cpu_request,
		    &rm, &rc);
	if (ct->mem_request >= 0 && ct->mem_limit >= 0 &&
	    ct->mem_request > ct->mem_limit) {
		join(p, path, "requests.memory");
		perr(c, rm, p, "request %s is more than the limit %s",
		    rm->str, lm->str);
	}
	if (ct->cpu_request >= 0 && ct->cpu_limit >= 0 &&
	    ct->cpu_request > ct->cpu_limit) {
		join(p, path, "requests.cpu");
		perr(c, rc, p, "request %s is more than the limit %s",
		    rc->str, lc->str);
	}
	/* Kubernetes: a limit without a request is also the request. */
	if (ct->mem_request < 0 && rm == NULL)
		ct->mem_request = ct->mem_limit;
	if (ct->cpu_request < 0 && rc == NULL)
		ct->cpu_request = ct->cpu_limit;
}

/* IANA service name: what a port may be called. */
static int
port_name_ok(const char *s)
{
	size_t i, n = strlen(s);
	int letter = 0;

	if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-' ||
	    strstr(s, "--") != NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = 1;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return 0;
	}
	return letter;
}

/*
 * The container and port that already use a host port in the pod: the
 * containers before ct, and the ports of ct read so far.
 */
static const struct container_port *
host_port_user(const struct pod *pod, const struct container *ct,
    const struct container_port *pt, const char **who)
{
	size_t j, l;

	*who = ct->name != NULL ? ct->name : "?";
	for (l = 0; l < ct->n_ports; l++)
		if (ct->ports[l].host_port == pt->host_port &&
		    ct->ports[l].protocol == pt->protocol)
			return &ct->ports[l];
	for (j = 0; j < pod->n_containers; j++) {
		const struct container *o = &pod->containers[j];

		if (o == ct)
			break;
		for (l = 0; l < o->n_ports; l++) {
			if (o->ports[l].host_port == pt->host_port &&
			    o->ports[l].protocol == pt->protocol) {
				*who = o->name != NULL ? o->name : "?";
				return &o->ports[l];
			}
		}
	}
	return NULL;
}

static void
get_ports(struct ctx *c, const struct yt_node *n, const char *path,
    const struct pod *pod, struct container *ct)
{
	static const char *const known[] = { "name", "containerPort",
	    "hostPort", "protocol", NULL };
	static const char *const ignored[] = { "hostIP", NULL };
	char p[PATH_LEN], q[PATH_LEN];
	size_t i, j;

	if (!expect_short_seq(c, n, path))
		return;
	ct->ports = xcalloc(n->n ? n->n : 1, sizeof *ct->ports);
	for (i = 0; i < n->n; i++) {
		const struct yt_node *m = n->items[i], *v;
		struct container_port *pt = &ct->ports[ct->n_ports];
		int ok = 1;

		joini(p, path, i);
		if (!expect_map(c, m, p))
			continue;
		check_fields(c, m, p, known, ignored);
		pt->line = m->line;
		pt->col = m->col;
		pt->protocol = PROTO_TCP;
		join(q, p, "containerPort");
		if (!present(v = yt_get(m, "containerPort"))) {
			perr(c, m, q, "required field missing");
			ok = 0;
		} else if (get_int32(c, v, q, 1, 65535,
		    &pt->container_port) == -1)
			ok = 0;
		join(q, p, "hostPort");
		/* 0 is Kubernetes' "not set" */
		if (present(v = yt_get(m, "hostPort")) &&
		    get_int32(c, v, q, 0, 65535, &pt->host_port) == -1)
			ok = 0;
		join(q, p, "protocol");
		if (present(v = yt_get(m, "protocol"))) {
			char *s = get_str(c, v, q);

			if (s != NULL && strcmp(s, "UDP") == 0)
				pt->protocol = PROTO_UDP;
			else if (s != NULL && strcmp(s, "TCP") != 0) {
				perr(c, v, q, "expected TCP or UDP, got '%s'",
				    s);
				ok = 0;
			} else if (s == NULL)
				ok = 0;
			free(s);
		}
		join(q, p, "hostPort");
		if (ok && pt->host_port != 0) {
			const struct container_port *o;
			const char *who;

			if ((o = host_port_user(pod, ct, pt, &who)) != NULL) {
				perr(c, yt_get(m, "hostPort"), q, "hostPort "
				    "%d/%s is already used by container '%s' "
				    "(line %d)", pt->host_port,
				    pt->protocol == PROTO_TCP ? "TCP" : "UDP",
				    who, o->line);
				ok = 0;
			}
		}
		join(q, p, "name");
		if (present(v = yt_get(m, "name"))) {
			if ((pt->name = get_str(c, v, q)) == NULL)
				ok = 0;
			else if (!port_name_ok(pt->name)) {
				perr(c, v, q, "'%s' is not a valid port name: "
				    "expected at most 15 characters a-z, 0-9 "
				    "and '-', with at least one letter",
				    pt->name);
				ok = 0;
			} else {
				for (j = 0; j < ct->n_ports; j++)
					if (ct->ports[j].name != NULL &&
					    strcmp(ct->ports[j].name,
					    pt->name) == 0) {
						perr(c, v, q, "duplicate port "
						    "name '%s'", pt->name);
						ok = 0;
						break;
					}
			}
		}
		if (!ok) {
			free(pt->name);
			memset(pt, 0, sizeof *pt);
			continue;
		}
		ct->n_ports++;
	}
}

static void
get_env(struct ctx *c, const struct yt_node *n, const char *path,
    struct container *ct)
{
	static const char *const known[] = { "name", "value", "valueFrom",
	    NULL };
	char p[PATH_LEN], q[PATH_LEN];
	size_t i, j;

	if (!expect_short_seq(c, n, path))
		return;
	ct->env = xcalloc(n->n ? n->n : 1, sizeof *ct->env);
	for (i = 0; i < n->n; i++) {
		const struct yt_node *m = n->items[i], *v;
		char *name, *value = NULL;

		joini(p, path, i);
		if (!expect_map(c, m, p))
			continue;
		check_fields(c, m, p, known, NULL);
		join(q, p, "name");
		if (!present(v = yt_get(m, "name"))) {
			perr(c, m, q, "required field missing");
			continue;
		}
		if ((name = get_str(c, v, q)) == NULL)
			continue;
		if (*name == '\0' || strchr(name, '=') != NULL) {
			perr(c, v, q, "'%s' is not a valid variable name: "
			    "expected a non-empty name without '='", name);
			free(name);
			continue;
		}
		join(q, p, "valueFrom");
		if (present(v = yt_get(m, "valueFrom"))) {
			pwarn(c, v, q, "not supported by vzmaster, variable "
			    "'%s' is not set", name);
			free(name);
			continue;
		}
		join(q, p, "value");
		if (present(v = yt_get(m, "value")) &&
		    (value = get_str(c, v, q)) == NULL) {
			free(name);
			continue;
		}
		/* the last definition wins, as in Kubernetes */
		for (j = 0; j < ct->n_env; j++)
			if (strcmp(ct->env[j].name, name) == 0)
				break;
		if (j < ct->n_env) {
			free(ct->env[j].name);
			free(ct->env[j].value);
		} else
			ct->n_env++;
		ct->env[j].name = name;
		ct->env[j].value = value != NULL ? value : xstrdup("");
	}
}

static int
abs_path_ok(const char *s)
{
	return s[0] == '/';
}

static void
get_mounts(struct ctx *c, const struct yt_node *n, const char *path,
    const struct pod *pod, struct container *ct)
{
	static const char *const known[] = { "name", "mountPath", "readOnly",
	    NULL };
	static const char *const ignored[] = { "subPath", "subPathExpr",
	    "mountPropagation", "recursiveReadOnly", NULL };
	char p[PATH_LEN], q[PATH_LEN];
	size_t i, j;

	if (!expect_short_seq(c, n, path))
		return;
	ct->mounts = xcalloc(n->n ? n->n : 1, sizeof *ct->mounts);
	for (i = 0; i < n->n; i++) {
		const struct yt_node *m = n->items[i], *v;
		struct volume_mount *vm = &ct->mounts[ct->n_mounts];
		int ok = 1;

		joini(p, path, i);
		if (!expect_map(c, m, p))
			continue;
		check_fields(c, m, p, known, ignored);
		vm->line = m->line;
		vm->col = m->col;
		join(q, p, "name");
		if (!present(v = yt_get(m, "name"))) {
			perr(c, m, q, "required field missing");
			ok = 0;
		} else if ((vm->name = get_str(c, v, q)) == NULL)
			ok = 0;
		else {
			for (j = 0; j < pod->n_volumes; j++)
				if (strcmp(pod->volumes[j].name, vm->name) == 0)
					break;
			if (j == pod->n_volumes) {
				perr(c, v, q, "no volume named '%s' in the "
				    "pod's volumes", vm->name);
				ok = 0;
			}
		}
		join(q, p, "mountPath");
		if (!present(v = yt_get(m, "mountPath"))) {
			perr(c, m, q, "required field missing");
			ok = 0;
		} else if ((vm->mount_path = get_str(c, v, q)) == NULL)
			ok = 0;
		else if (!abs_path_ok(vm->mount_path)) {
			perr(c, v, q, "expected an absolute path, got '%s'",
			    vm->mount_path);
			ok = 0;
		} else {
			for (j = 0; j < ct->n_mounts; j++)
				if (strcmp(ct->mounts[j].mount_path,
				    vm->mount_path) == 0) {
					perr(c, v, q, "'%s' is already mounted "
					    "(line %d)", vm->mount_path,
					    ct->mounts[j].line);
					ok = 0;
					break;
				}
		}
		join(q, p, "readOnly");
		if (present(v = yt_get(m, "readOnly")) &&
		    get_bool(c, v, q, &vm->read_only) == -1)
			ok = 0;
		if (!ok) {
			free(vm->name);
			free(vm->mount_path);
			memset(vm, 0, sizeof *vm);
			continue;
		}
		ct->n_mounts++;
	}
}

/* A probe's port: a number or the name of one of the container's ports. */
static int
get_probe_port(struct ctx *c, const struct yt_node *v, const char *path,
    const struct container *ct, struct probe *pr)
{
	size_t i;

	if (v->type == YT_SCALAR && v->kind == YT_INT)
		return get_int32(c, v, path, 1, 65535, &pr->port);
	if (v->type == YT_SCALAR && v->kind == YT_STR) {
		for (i = 0; i < ct->n_ports; i++) {
			if (ct->ports[i].name != NULL &&
			    strcmp(ct->ports[i].name, v->str) == 0) {
				pr->port = ct->ports[i].container_port;
				pr->port_name = xstrdup(v->str);
				return 0;
			}
		}
		perr(c, v, path, "no port named '%s' in the container's ports",
		    v->str);
		return -1;
	}
	if (v->type != YT_BAD)
		perr(c, v, path, "expected a port number or a port name, got "
		    "%s", yt_describe(v));
	return -1;
}

static void
get_probe(struct ctx *c, const struct yt_node *m, const char *path,
    const struct container *ct, struct probe *pr, int liveness)
{
	static const char *const known[] = { "exec", "httpGet", "tcpSocket",
	    "grpc", "initialDelaySeconds", "periodSeconds", "timeoutSeconds",
	    "failureThreshold", "successThreshold", NULL };
	static const char *const ignored[] = {
	    "terminationGracePeriodSeconds", NULL };
	static const struct {
		const char	*name;
		int		 min;
		size_t		 off;
	} timing[] = {
		{ "initialDelaySeconds", 0,
		    offsetof(struct probe, initial_delay_seconds) },
		{ "periodSeconds", 1, offsetof(struct probe, period_seconds) },
		{ "timeoutSeconds", 1,
		    offsetof(struct probe, timeout_seconds) },
		{ "failureThreshold", 1,
		    offsetof(struct probe, failure_threshold) },
		{ "successThreshold", 1,
		    offsetof(struct probe, success_threshold) },
	};
	const struct yt_node *v, *h, *kinds[3];
	char p[PATH_LEN], q[PATH_LEN];
	size_t i, nk = 0;

	if (!expect_map(c, m, path))
		return;
	check_fields(c, m, path, known, ignored);
	pr->line = m->line;
	pr->col = m->col;
	pr->initial_delay_seconds = 0;
	pr->period_seconds = 10;
	pr->timeout_seconds = 1;
	pr->failure_threshold = 3;
	pr->success_threshold = 1;
	for (i = 0; i < sizeof timing / sizeof timing[0]; i++) {
		join(p, path, timing[i].name);
		if (present(v = yt_get(m, timing[i].name)))
			get_int32(c, v, p, timing[i].min, 86400 * 365,
			    (int *)(void *)((char *)pr + timing[i].off));
	}
	if (liveness && pr->success_threshold != 1) {
		join(p, path, "successThreshold");
		perr(c, yt_get(m, "successThreshold"), p, "must be 1 for a "
		    "liveness probe");
	}
	if (present(v = yt_get(m, "grpc"))) {
		join(p, path, "grpc");
		perr(c, v, p, "gRPC probes are not supported: expected exec, "
		    "httpGet or tcpSocket");
		return;
	}
	if (present(v = yt_get(m, "exec")))
		kinds[nk++] = v;
	if (present(v = yt_get(m, "httpGet")))
		kinds[nk++] = v;
	if (present(v = yt_get(m, "tcpSocket")))
		kinds[nk++] = v;
	if (nk != 1) {
		perr(c, nk == 0 ? m : kinds[1], path, "expected exactly one "
		    "of exec, httpGet or tcpSocket, found %zu", nk);
		pr->kind = PROBE_NONE;
		return;
	}
	join(p, path, "exec");
	if (present(v = yt_get(m, "exec")) && expect_map(c, v, p)) {
		static const char *const ek[] = { "command", NULL };

		pr->kind = PROBE_EXEC;
		check_fields(c, v, p, ek, NULL);
		join(q, p, "command");
		if (!present(h = yt_get(v, "command")))
			perr(c, v, q, "required field missing");
		else if ((pr->exec = get_argv(c, h, q)) != NULL &&
		    pr->exec[0] == NULL)
			perr(c, h, q, "expected at least one word");
	}
	join(p, path, "httpGet");
	if (present(v = yt_get(m, "httpGet")) && expect_map(c, v, p)) {
		static const char *const hk[] = { "path", "port", "host",
		    "scheme", NULL };
		static const char *const hi[] = { "httpHeaders", NULL };

		pr->kind = PROBE_HTTP;
		check_fields(c, v, p, hk, hi);
		join(q, p, "port");
		if (!present(h = yt_get(v, "port")))
			perr(c, v, q, "required field missing");
		else
			get_probe_port(c, h, q, ct, pr);
		join(q, p, "path");
		if (present(h = yt_get(v, "path"))) {
			if ((pr->http_path = get_str(c, h, q)) != NULL &&
			    pr->http_path[0] != '/')
				perr(c, h, q, "expected a path starting with "
				    "'/', got '%s'", pr->http_path);
		} else
			pr->http_path = xstrdup("/");
		join(q, p, "host");
		if (present(h = yt_get(v, "host")))
			pr->http_host = get_str(c, h, q);
		join(q, p, "scheme");
		if (present(h = yt_get(v, "scheme"))) {
			if ((pr->http_scheme = get_str(c, h, q)) != NULL &&
			    strcmp(pr->http_scheme, "HTTP") != 0 &&
			    strcmp(pr->http_scheme, "HTTPS") != 0)
				perr(c, h, q, "expected HTTP or HTTPS, got "
				    "'%s'", pr->http_scheme);
		} else
			pr->http_scheme = xstrdup("HTTP");
	}
	join(p, path, "tcpSocket");
	if (present(v = yt_get(m, "tcpSocket")) && expect_map(c, v, p)) {
		static const char *const tk[] = { "port", NULL };
		static const char *const ti[] = { "host", NULL };

		pr->kind = PROBE_TCP;
		check_fields(c, v, p, tk, ti);
		join(q, p, "port");
		if (!present(h = yt_get(v, "port")))
			perr(c, v, q, "required field missing");
		else
			get_probe_port(c, h, q, ct, pr);
	}
}

static void
get_container(struct ctx *c, const struct yt_node *m, const char *path,
    const struct pod *pod, struct container *ct)
{
	static const char *const known[] = { "name", "image", "command",
	    "args", "env", "workingDir", "ports", "resources",
	    "securityContext", "volumeMounts", "livenessProbe",
	    "readinessProbe", NULL };
	static const char *const ignored[] = { "imagePullPolicy", "stdin",
	    "stdinOnce", "tty", "terminationMessagePath",
	    "terminationMessagePolicy", "startupProbe", "lifecycle",
	    "envFrom", "volumeDevices", "resizePolicy", "restartPolicy",
	    NULL };
	const struct yt_node *v;
	char p[PATH_LEN];

	ct->line = m->line;
	ct->col = m->col;
	ct->mem_request = ct->mem_limit = -1;
	ct->cpu_request = ct->cpu_limit = -1;
	ct->run_as_user = ct->run_as_group = -1;
	check_fields(c, m, path, known, ignored);
	join(p, path, "name");
	if (!present(v = yt_get(m, "name")))
		perr(c, m, p, "required field missing");
	else
		ct->name = get_name(c, v, p);
	join(p, path, "image");
	if (!present(v = yt_get(m, "image")))
		perr(c, m, p, "required field missing");
	else
		get_image(c, v, p, &ct->image);
	join(p, path, "command");
	if (present(v = yt_get(m, "command")))
		ct->command = get_argv(c, v, p);
	join(p, path, "args");
	if (present(v = yt_get(m, "args")))
		ct->args = get_argv(c, v, p);
	join(p, path, "env");
	if (present(v = yt_get(m, "env")))
		get_env(c, v, p, ct);
	join(p, path, "workingDir");
	if (present(v = yt_get(m, "workingDir")) &&
	    (ct->working_dir = get_str(c, v, p)) != NULL &&
	    !abs_path_ok(ct->working_dir))
		perr(c, v, p, "expected an absolute path, got '%s'",
		    ct->working_dir);
	join(p, path, "ports");
	if (present(v = yt_get(m, "ports")))
		get_ports(c, v, p, pod, ct);
	join(p, path, "resources");
	if (present(v = yt_get(m, "resources")))
		get_resources(c, v, p, ct);
	join(p, path, "securityContext");
	if (present(v = yt_get(m, "securityContext")))
		get_security(c, v, p, ct);
	join(p, path, "volumeMounts");
	if (present(v = yt_get(m, "volumeMounts")))
		get_mounts(c, v, p, pod, ct);
	join(p, path, "livenessProbe");
	if (present(v = yt_get(m, "livenessProbe")))
		get_probe(c, v, p, ct, &ct->liveness, 1);
	join(p, path, "readinessProbe");
	if (present(v = yt_get(m, "readinessProbe")))
		get_probe(c, v, p, ct, &ct->readiness, 0);
}

/* ---------- volumes ---------- */

static void
get_volumes(struct ctx *c, const struct yt_node *n, const char *path,
    struct pod *pod)
{
	static const char *const host_types[] = { "", "Directory",
	    "DirectoryOrCreate", "File", "FileOrCreate", "Socket",
	    "CharDevice", "BlockDevice", NULL };
	char p[PATH_LEN], q[PATH_LEN], r[PATH_LEN];
	size_t i, j;

	if (!expect_short_seq(c, n, path))
		return;
	pod->volumes = xcalloc(n->n ? n->n : 1, sizeof *pod->volumes);
	for (i = 0; i < n->n; i++) {
		const struct yt_node *m = n->items[i], *v, *src = NULL, *h;
		struct volume *vol = &pod->volumes[pod->n_volumes];
		const char *srcname = NULL;
		int ok = 1;

		joini(p, path, i);
		if (!expect_map(c, m, p))
			continue;
		vol->line = m->line;
		vol->col = m->col;
		vol->size_limit = -1;
		join(q, p, "name");
		if (!present(v = yt_get(m, "name"))) {
			perr(c, m, q, "required field missing");
			ok = 0;
		} else if ((vol->name = get_name(c, v, q)) == NULL)
			ok = 0;
		else {
			for (j = 0; j < pod->n_volumes; j++)
				if (strcmp(pod->volumes[j].name,
				    vol->name) == 0) {
					perr(c, v, q, "duplicate volume name "
					    "'%s'", vol->name);
					free(vol->name);
					vol->name = NULL;
					ok = 0;
					break;
				}
		}
		/* every other key names a volume source */
		for (j = 0; j < m->n; j++) {
			const char *k = m->keys[j]->str;

			if (strcmp(k, "name") == 0)
				continue;
			join(q, p, k);
			if (strcmp(k, "hostPath") != 0 &&
			    strcmp(k, "emptyDir") != 0) {
				perr(c, m->keys[j], q, "volume type '%s' is "
				    "not supported: expected hostPath or "
				    "emptyDir", k);
				ok = 0;
				continue;
			}
			if (src != NULL) {
				perr(c, m->keys[j], q, "a volume has exactly "
				    "one type, '%s' is already given",
				    srcname);
				ok = 0;
				continue;
			}
			src = m->items[j];
			srcname = k;
		}
		if (src == NULL && ok) {
			perr(c, m, p, "expected a volume type: hostPath or "
			    "emptyDir");
			ok = 0;
		}
		if (src != NULL && strcmp(srcname, "hostPath") == 0) {
			static const char *const hk[] = { "path", "type",
			    NULL };

			vol->kind = VOLUME_HOST_PATH;
			join(q, p, "hostPath");
			if (!expect_map(c, src, q))
				ok = 0;
			else {
				check_fields(c, src, q, hk, NULL);
				join(r, q, "path");
				if (!present(h = yt_get(src, "path"))) {
					perr(c, src, r, "required field "
					    "missing");
					ok = 0;
				} else if ((vol->host_path = get_str(c, h,
				    r)) == NULL)
					ok = 0;
				else if (!abs_path_ok(vol->host_path)) {
					perr(c, h, r, "expected an absolute "
					    "path, got '%s'", vol->host_path);
					ok = 0;
				}
				join(r, q, "type");
				if (present(h = yt_get(src, "type"))) {
					if ((vol->host_path_type = get_str(c,
					    h, r)) == NULL)
						ok = 0;
					else if (!in_list(vol->host_path_type,
					    host_types)) {
						perr(c, h, r, "unknown type "
						    "'%s': expected Directory, "
						    "DirectoryOrCreate, File, "
						    "FileOrCreate, Socket, "
						    "CharDevice or BlockDevice",
						    vol->host_path_type);
						ok = 0;
					}
				}
				if (vol->host_path_type == NULL)
					vol->host_path_type = xstrdup("");
			}
		} else if (src != NULL) {
			static const char *const ek[] = { "medium",
			    "sizeLimit", NULL };

			vol->kind = VOLUME_EMPTY_DIR;
			join(q, p, "emptyDir");
			/* `emptyDir:` (null) reads as `emptyDir: {}` */
			if (present(src) && !expect_map(c, src, q))
				ok = 0;
			else if (present(src)) {
				check_fields(c, src, q, ek, NULL);
				join(r, q, "medium");
				if (present(h = yt_get(src, "medium"))) {
					if ((vol->medium = get_str(c, h,
					    r)) == NULL)
						ok = 0;
					else if (*vol->medium != '\0' &&
					    strcmp(vol->medium, "Memory") != 0) {
						perr(c, h, r, "expected \"\" "
						    "or Memory, got '%s'",
						    vol->medium);
						ok = 0;
					}
				}
				join(r, q, "sizeLimit");
				if (present(h = yt_get(src, "sizeLimit")) &&
				    (h->type != YT_SCALAR ||
				    quantity_parse_memory(h->str,
				    &vol->size_limit) == -1)) {
					perr(c, h, r, "expected a memory "
					    "quantity such as 64Mi");
					ok = 0;
				}
			}
			if (vol->medium == NULL)
				vol->medium = xstrdup("");
		}
		/*
		 * A volume with a valid name but a bad body stays listed, so
		 * its mounts do not get a second, misleading error; the pod is
		 * dropped for the first one anyway.
		 */
		if (vol->name == NULL || (!ok && yt_get(m, "name") == NULL)) {
			free(vol->name);
			free(vol->host_path);
			free(vol->host_path_type);
			free(vol->medium);
			memset(vol, 0, sizeof *vol);
			continue;
		}
		if (vol->host_path_type == NULL)
			vol->host_path_type = xstrdup("");
		if (vol->medium == NULL)
			vol->medium = xstrdup("");
		pod->n_volumes++;
	}
}

/* ---------- pods ---------- */

static void
probe_release(struct probe *pr)
{
	argv_free(pr->exec);
	free(pr->http_path);
	free(pr->http_host);
	free(pr->http_scheme);
	free(pr->port_name);
}

static void
kvlist_release(struct kvlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
}

static void
strlist_release(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static void
container_release(struct container *ct)
{
	size_t i;

	free(ct->name);
	free(ct->image.path);
	free(ct->image.tag);
	free(ct->image.text);
	argv_free(ct->command);
	argv_free(ct->args);
	for (i = 0; i < ct->n_env; i++) {
		free(ct->env[i].name);
		free(ct->env[i].value);
	}
	free(ct->env);
	free(ct->working_dir);
	for (i = 0; i < ct->n_ports; i++)
		free(ct->ports[i].name);
	free(ct->ports);
	strlist_release(&ct->cap_add);
	strlist_release(&ct->cap_drop);
	for (i = 0; i < ct->n_mounts; i++) {
		free(ct->mounts[i].name);
		free(ct->mounts[i].mount_path);
	}
	free(ct->mounts);
	probe_release(&ct->liveness);
	probe_release(&ct->readiness);
}

static void
pod_release(struct pod *pod)
{
	size_t i;

	free(pod->name);
	free(pod->file);
	kvlist_release(&pod->labels);
	kvlist_release(&pod->annotations);
	kvlist_release(&pod->selector);
	kvlist_release(&pod->node_selector);
	for (i = 0; i < pod->n_containers; i++)
		container_release(&pod->containers[i]);
	free(pod->containers);
	for (i = 0; i < pod->n_volumes; i++) {
		free(pod->volumes[i].name);
		free(pod->volumes[i].host_path);
		free(pod->volumes[i].host_path_type);
		free(pod->volumes[i].medium);
	}
	free(pod->volumes);
	memset(pod, 0, sizeof *pod);
}

static void
get_pod_spec(struct ctx *c, const struct yt_node *m, const char *path,
    struct pod *pod, int deployment)
{
	static const char *const known[] = { "containers", "volumes",
	    "restartPolicy", "terminationGracePeriodSeconds", "nodeSelector",
	    "hostNetwork", NULL };
	static const char *const ignored[] = { "initContainers",
	    "dnsPolicy", "dnsConfig", "serviceAccountName",
	    "serviceAccount", "automountServiceAccountToken", "hostname",
	    "subdomain", "affinity", "tolerations", "imagePullSecrets",
	    "securityContext", "priorityClassName", "priority",
	    "schedulerName", "nodeName", "hostPID", "hostIPC",
	    "shareProcessNamespace", "activeDeadlineSeconds", "hostAliases",
	    "enableServiceLinks", "topologySpreadConstraints",
	    "runtimeClassName", "overhead", "readinessGates",
	    "preemptionPolicy", "os", "setHostnameAsFQDN",
	    "ephemeralContainers", "hostUsers", "resourceClaims",
	    "schedulingGates", NULL };
	const struct yt_node *v, *cs;
	char p[PATH_LEN];
	size_t i, j;

	if (!expect_map(c, m, path))
		return;
	check_fields(c, m, path, known, ignored);
	join(p, path, "restartPolicy");
	if (present(v = yt_get(m, "restartPolicy"))) {
		char *s = get_str(c, v, p);

		if (s == NULL)
			;
		else if (strcmp(s, "Always") == 0)
			pod->restart_policy = RESTART_ALWAYS;
		else if (strcmp(s, "OnFailure") == 0)
			pod->restart_policy = RESTART_ON_FAILURE;
		else if (strcmp(s, "Never") == 0)
			pod->restart_policy = RESTART_NEVER;
		else
			perr(c, v, p, "expected Always, OnFailure or Never, "
			    "got '%s'", s);
		if (s != NULL && deployment &&
		    pod->restart_policy != RESTART_ALWAYS)
			perr(c, v, p, "a Deployment's pods must restart "
			    "Always, got '%s'", s);
		free(s);
	}
	join(p, path, "terminationGracePeriodSeconds");
	if (present(v = yt_get(m, "terminationGracePeriodSeconds")))
		get_int(c, v, p, 0, 86400, &pod->termination_grace_seconds);
	join(p, path, "nodeSelector");
	if (present(v = yt_get(m, "nodeSelector")))
		get_kvlist(c, v, p, &pod->node_selector, 1);
	join(p, path, "hostNetwork");
	if (present(v = yt_get(m, "hostNetwork")))
		get_bool(c, v, p, &pod->host_network);
	join(p, path, "volumes");
	if (present(v = yt_get(m, "volumes")))
		get_volumes(c, v, p, pod);
	join(p, path, "containers");
	if (!present(cs = yt_get(m, "containers"))) {
		perr(c, m, p, "required field missing: a pod has at least "
		    "one container");
		return;
	}
	if (!expect_short_seq(c, cs, p))
		return;
	if (cs->n == 0) {
		perr(c, cs, p, "expected at least one container");
		return;
	}
	pod->containers = xcalloc(cs->n, sizeof *pod->containers);
	for (i = 0; i < cs->n; i++) {
		struct container *ct = &pod->containers[pod->n_containers];
		char q[PATH_LEN];

		joini(q, p, i);
		if (!expect_map(c, cs->items[i], q))
			continue;
		get_container(c, cs->items[i], q, pod, ct);
		pod->n_containers++;
		/* names and host ports are per pod */
		for (j = 0; ct->name != NULL && j < pod->n_containers - 1; j++)
			if (pod->containers[j].name != NULL &&
			    strcmp(pod->containers[j].name, ct->name) == 0) {
				char r[PATH_LEN];

				join(r, q, "name");
				perr(c, yt_get(cs->items[i], "name"), r,
				    "duplicate container name '%s' (first at "
				    "line %d)", ct->name,
				    pod->containers[j].line);
			}
	}
}

static int
kind_ignorable(const char *kind)
{
	static const char *const kinds[] = { "Service", "ConfigMap",
	    "Secret", "PersistentVolumeClaim", "Ingress", "Namespace",
	    "ServiceAccount", NULL };

	return in_list(kind, kinds);
}

/* metadata of a Pod, a Deployment or a Deployment's template. */
static void
get_metadata(struct ctx *c, const struct yt_node *m, const char *path,
    struct pod *pod, int need_name, const struct yt_node **name_node)
{
	static const char *const known[] = { "name", "labels",
	    "annotations", NULL };
	static const char *const ignored[] = { "namespace", "generateName",
	    "uid", "resourceVersion", "generation", "creationTimestamp",
	    "deletionTimestamp", "ownerReferences", "finalizers",
	    "managedFields", "selfLink", NULL };
	const struct yt_node *v;
	char p[PATH_LEN];

	if (!expect_map(c, m, path))
		return;
	check_fields(c, m, path, known, ignored);
	join(p, path, "name");
	if (need_name) {
		if (!present(v = yt_get(m, "name")))
			perr(c, m, p, "required field missing");
		else {
			*name_node = v;
			pod->name = get_name(c, v, p);
		}
	}
	join(p, path, "labels");
	if (present(v = yt_get(m, "labels")))
		get_kvlist(c, v, p, &pod->labels, 1);
	join(p, path, "annotations");
	if (present(v = yt_get(m, "annotations")))
		get_kvlist(c, v, p, &pod->annotations, 0);
}

/*
 * spec.strategy: how many replicas a rolling update takes down at once.
 * RollingUpdate's maxUnavailable is a count or a percentage of replicas
 * (rounded down, as Kubernetes does); Recreate is all of them.  Unlike
 * Kubernetes, the default is one: the other replicas keep serving.  A
 * result of 0 counts as one, since a node that cannot run two copies of a
 * pod (hostPort) must stop one.  maxSurge has no meaning here (a node
 * runs a side-by-side copy only while its own switch lasts).
 */
static void
get_strategy(struct ctx *c, const struct yt_node *m, struct pod *pod)
{
	static const char *const known[] = { "type", "rollingUpdate", NULL };
	static const char *const rknown[] = { "maxUnavailable", NULL };
	static const char *const rignored[] = { "maxSurge", NULL };
	const struct yt_node *v, *ru;
	char *type = NULL, *end;
	int64_t n;
	long pct;

	if (!expect_map(c, m, "spec.strategy"))
		return;
	check_fields(c, m, "spec.strategy", known, NULL);
	if (present(v = yt_get(m, "type")) &&
	    (type = get_str(c, v, "spec.strategy.type")) != NULL) {
		if (strcmp(type, "Recreate") == 0)
			pod->max_unavailable = -1;
		else if (strcmp(type, "RollingUpdate") != 0)
			perr(c, v, "spec.strategy.type", "expected RollingUpdate "
			    "or Recreate, got '%s'", type);
	}
	if (!present(ru = yt_get(m, "rollingUpdate")))
		goto out;
	if (type != NULL && strcmp(type, "Recreate") == 0) {
		perr(c, ru, "spec.strategy.rollingUpdate", "not allowed with "
		    "type Recreate");
		goto out;
	}
	if (!expect_map(c, ru, "spec.strategy.rollingUpdate"))
		goto out;
	check_fields(c, ru, "spec.strategy.rollingUpdate", rknown, rignored);
	if (!present(v = yt_get(ru, "maxUnavailable")))
		goto out;
	if (v->type == YT_SCALAR && v->kind == YT_STR && v->len > 1 &&
	    v->str[v->len - 1] == '%') {
		errno = 0;
		pct = strtol(v->str, &end, 10);
		if (end != v->str + v->len - 1 || errno != 0 || pct < 0 ||
		    pct > 100 || !isdigit((unsigned char)v->str[0]))
			perr(c, v, "spec.strategy.rollingUpdate.maxUnavailable",
			    "expected a percentage from 0%% to 100%%, got '%s'",
			    v->str);
		else
			pod->max_unavailable_pct = (int)pct + 1;
	} else if (get_int(c, v, "spec.strategy.rollingUpdate.maxUnavailable",
	    0, 1000, &n) == 0)
		pod->max_unavailable = n > 0 ? (int)n : 1;
out:
	free(type);
}

static void
get_deployment(struct ctx *c, const struct yt_node *m, struct pod *pod)
{
	static const char *const known[] = { "replicas", "selector",
	    "template", "strategy", NULL };
	static const char *const ignored[] = { "minReadySeconds",
	    "revisionHistoryLimit", "progressDeadlineSeconds", "paused",
	    NULL };
	const struct yt_node *v, *sel, *tpl, *ml = NULL;
	int64_t r;
	size_t i;

	if (!expect_map(c, m, "spec"))
		return;
	check_fields(c, m, "spec", known, ignored);
	if (present(v = yt_get(m, "replicas")) &&
	    get_int(c, v, "spec.replicas", 0, 1000, &r) == 0)
		pod->replicas = (int)r;
	if (present(v = yt_get(m, "strategy")))
		get_strategy(c, v, pod);
	/* replicas and strategy come in any order: resolve now */
	if (pod->max_unavailable == -1)
		pod->max_unavailable = pod->replicas;
	else if (pod->max_unavailable_pct > 0)
		pod->max_unavailable = pod->replicas *
		    (pod->max_unavailable_pct - 1) / 100;
	if (pod->max_unavailable < 1)
		pod->max_unavailable = 1;
	if (!present(sel = yt_get(m, "selector")))
		perr(c, m, "spec.selector", "required field missing");
	else if (expect_map(c, sel, "spec.selector")) {
		static const char *const sk[] = { "matchLabels", NULL };
		static const char *const si[] = { "matchExpressions", NULL };

		check_fields(c, sel, "spec.selector", sk, si);
		if (!present(ml = yt_get(sel, "matchLabels")))
			perr(c, sel, "spec.selector.matchLabels",
			    "required field missing");
		else {
			get_kvlist(c, ml, "spec.selector.matchLabels",
			    &pod->selector, 1);
			if (ml->type == YT_MAP && ml->n == 0)
				perr(c, ml, "spec.selector.matchLabels",
				    "expected at least one label");
		}
	}
	if (!present(tpl = yt_get(m, "template"))) {
		perr(c, m, "spec.template", "required field missing");
		return;
	}
	if (!expect_map(c, tpl, "spec.template"))
		return;
	{
		static const char *const tk[] = { "metadata", "spec", NULL };

		check_fields(c, tpl, "spec.template", tk, NULL);
	}
	if (present(v = yt_get(tpl, "metadata")))
		get_metadata(c, v, "spec.template.metadata", pod, 0, NULL);
	for (i = 0; ml != NULL && i < pod->selector.n; i++) {
		const char *want = pod->selector.v[i].value;
		const char *got = kv_get(&pod->labels, pod->selector.v[i].key);

		if (got == NULL || strcmp(got, want) != 0)
			perr(c, ml, "spec.selector.matchLabels", "selector "
			    "does not match the template: "
			    "spec.template.metadata.labels needs '%s: %s'",
			    pod->selector.v[i].key, want);
	}
	if (!present(v = yt_get(tpl, "spec")))
		perr(c, tpl, "spec.template.spec", "required field missing");
	else
		get_pod_spec(c, v, "spec.template.spec", pod, 1);
}

static void
add_pod(struct pod_set *set, struct pod *pod)
{
	/* grow by doubling: n is a power of two exactly when full */
	if (set->n == 0 || (set->n & (set->n - 1)) == 0)
		set->pods = xreallocarray(set->pods, set->n ? set->n * 2 : 1,
		    sizeof *set->pods);
	set->pods[set->n++] = *pod;
}

static void
load_doc(struct ctx *c, const struct yt_doc *doc, struct pod_set *set)
{
	static const char *const known[] = { "apiVersion", "kind",
	    "metadata", "spec", NULL };
	static const char *const ignored[] = { "status", NULL };
	const struct yt_node *m = doc->root, *v, *kind_n, *name_n = NULL;
	struct pod pod;
	char *kind = NULL, *api = NULL;
	const char *want_api;
	int errors = c->d->errors, deployment, drop = 0;

	if (!present(m))
		return;		/* an empty document, as kubectl allows */
	if (!expect_map(c, m, "document"))
		return;
	memset(&pod, 0, sizeof pod);
	pod.line = m->line;
	pod.col = m->col;
	pod.replicas = 1;
	pod.max_unavailable = 1;
	pod.termination_grace_seconds = 30;
	pod.restart_policy = RESTART_ALWAYS;
	pod.file = xstrdup(c->file);
	if (!present(kind_n = yt_get(m, "kind"))) {
		perr(c, m, "kind", "required field missing: expected Pod or "
		    "Deployment");
		goto out;
	}
	if ((kind = get_str(c, kind_n, "kind")) == NULL)
		goto out;
	if (kind_ignorable(kind)) {
		pwarn(c, kind_n, "kind", "'%s' is not supported by vzmaster, "
		    "document ignored", kind);
		goto out;
	}
	if (strcmp(kind, "Pod") == 0) {
		pod.kind = "Pod";
		want_api = "v1";
	} else if (strcmp(kind, "Deployment") == 0) {
		pod.kind = "Deployment";
		want_api = "apps/v1";
	} else {
		perr(c, kind_n, "kind", "expected Pod or Deployment, got '%s'",
		    kind);
		goto out;
	}
	deployment = pod.kind[0] == 'D';
	check_fields(c, m, "", known, ignored);
	if (!present(v = yt_get(m, "apiVersion")))
		perr(c, m, "apiVersion", "required field missing: expected "
		    "%s", want_api);
	else if ((api = get_str(c, v, "apiVersion")) != NULL &&
	    strcmp(api, want_api) != 0)
		perr(c, v, "apiVersion", "expected %s for kind %s, got '%s'",
		    want_api, pod.kind, api);
	if (!present(v = yt_get(m, "metadata")))
		perr(c, m, "metadata.name", "required field missing");
	else if (deployment) {
		/* the Deployment's own labels stay on the Deployment */
		struct pod tmp;

		memset(&tmp, 0, sizeof tmp);
		get_metadata(c, v, "metadata", &tmp, 1, &name_n);
		pod.name = tmp.name;
		tmp.name = NULL;
		pod_release(&tmp);
	} else
		get_metadata(c, v, "metadata", &pod, 1, &name_n);
	if (pod.name != NULL && c->n_seen >= POD_MAX_PODS) {
		if (!c->too_many++)
			perr(c, name_n, "metadata.name", "more than %d pods",
			    POD_MAX_PODS);
		drop = 1;
		goto out;
	}
	if (pod.name != NULL) {
		/* seen is kept sorted by name: binary search, then insert */
		size_t lo = 0, hi = c->n_seen, mid;
		int r = 1;

		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if ((r = strcmp(c->seen[mid].name, pod.name)) == 0)
				break;
			if (r < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < hi) {
			perr(c, name_n, "metadata.name", "pod '%s' is already "
			    "defined at %s:%d", pod.name, c->seen[mid].file,
			    c->seen[mid].line);
		} else {
			c->seen = xreallocarray(c->seen, c->n_seen + 1,
			    sizeof *c->seen);
			memmove(&c->seen[lo + 1], &c->seen[lo],
			    (c->n_seen - lo) * sizeof *c->seen);
			c->seen[lo].name = xstrdup(pod.name);
			c->seen[lo].file = xstrdup(c->file);
			c->seen[lo].line = name_n->line;
			c->n_seen++;
		}
	}
	if (!present(v = yt_get(m, "spec")))
		perr(c, m, "spec", "required field missing");
	else if (deployment)
		get_deployment(c, v, &pod);
	else
		get_pod_spec(c, v, "spec", &pod, 0);
out:
	free(kind);
	free(api);
	if (c->d->errors == errors && doc->errors == 0 && !drop &&
	    pod.kind != NULL)
		add_pod(set, &pod);
	else
		pod_release(&pod);
}

/* ---------- files ---------- */

struct order {
	struct diag	d;
	size_t		i;
};

static int
order_cmp(const void *a, const void *b)
{
	const struct order *x = a, *y = b;

	if (x->d.line != y->d.line)
		return x->d.line < y->d.line ? -1 : 1;
	if (x->d.col != y->d.col)
		return x->d.col < y->d.col ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Put one file's diagnostics in line order, as a compiler prints them, and
 * keep the first POD_MAX_DIAGS: a binary file fed in by mistake must not
 * bury the terminal.
 */
static void
sort_diags(struct diags *d, size_t from)
{
	struct order *o;
	size_t i, n = d->n - from, dropped = 0;
	char *file;

	if (n < 2)
		return;
	o = xcalloc(n, sizeof *o);
	for (i = 0; i < n; i++) {
		o[i].d = d->v[from + i];
		o[i].i = i;
	}
	qsort(o, n, sizeof *o, order_cmp);
	for (i = 0; i < n; i++)
		d->v[from + i] = o[i].d;
	free(o);
	if (n <= POD_MAX_DIAGS)
		return;
	file = xstrdup(d->v[from].file);
	for (i = from + POD_MAX_DIAGS; i < d->n; i++) {
		if (d->v[i].level == DIAG_ERROR)
			d->errors--;
		else
			d->warnings--;
		free(d->v[i].file);
		free(d->v[i].msg);
		dropped++;
	}
	d->n = from + POD_MAX_DIAGS;
	diag_error(d, file, 0, 0, "too many problems: %zu more not shown",
	    dropped);
	free(file);
}

static void
load_file(struct ctx *c, const char *file, struct pod_set *set)
{
	struct buf data = BUF_INIT;
	struct yt_stream ys;
	char *slash, *dir;
	size_t i, from = c->d->n;

	c->file = file;
	if (buf_read_file(&data, file, POD_MAX_FILE) == -1) {
		if (errno == EFBIG)
			diag_error(c->d, file, 0, 0, "file is larger than %d "
			    "MiB", POD_MAX_FILE >> 20);
		else
			diag_error(c->d, file, 0, 0, "cannot read: %s",
			    strerror(errno));
		return;
	}
	dir = xstrdup(file);
	if ((slash = strrchr(dir, '/')) != NULL)
		slash[slash == dir ? 1 : 0] = '\0';
	else {
		free(dir);
		dir = xstrdup(".");
	}
	if ((c->dir = realpath(dir, NULL)) == NULL)
		c->dir = xstrdup(dir);
	free(dir);
	yt_parse(data.data, data.len, file, &ys, c->d);
	for (i = 0; i < ys.n; i++)
		load_doc(c, &ys.docs[i], set);
	if (ys.n == 0 && c->d->n == from)
		diag_warn(c->d, file, 0, 0, "no YAML documents in the file");
	yt_stream_release(&ys);
	buf_release(&data);
	free(c->dir);
	c->dir = NULL;
	sort_diags(c->d, from);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
yaml_name(const char *s)
{
	size_t n = strlen(s);

	if (s[0] == '.')
		return 0;
	return (n > 5 && strcmp(s + n - 5, ".yaml") == 0) ||
	    (n > 4 && strcmp(s + n - 4, ".yml") == 0);
}

int
pod_load(const char *path, struct pod_set *out, struct diags *d)
{
	struct ctx c;
	struct stat st;
	struct dirent *de;
	DIR *dp;
	char **names = NULL;
	size_t n = 0, i;
	int errors = d->errors;

	memset(out, 0, sizeof *out);
	memset(&c, 0, sizeof c);
	c.d = d;
	if (stat(path, &st) == -1) {
		diag_error(d, path, 0, 0, "cannot read pod manifests: %s",
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		load_file(&c, path, out);
	else {
		if ((dp = opendir(path)) == NULL) {
			diag_error(d, path, 0, 0, "cannot read pod manifests: "
			    "%s", strerror(errno));
			return -1;
		}
		while ((de = readdir(dp)) != NULL) {
			if (!yaml_name(de->d_name))
				continue;
			names = xreallocarray(names, n + 1, sizeof *names);
			names[n++] = xstrdup(de->d_name);
		}
		closedir(dp);
		if (n > 0)
			qsort(names, n, sizeof *names, name_cmp);
		for (i = 0; i < n; i++) {
			struct buf f = BUF_INIT;

			buf_addf(&f, "%s%s%s", path,
			    path[strlen(path) - 1] == '/' ? "" : "/",
			    names[i]);
			if (stat(f.data, &st) == 0 && S_ISREG(st.st_mode))
				load_file(&c, f.data, out);
			buf_release(&f);
			free(names[i]);
		}
		free(names);
	}
	if (c.n_seen == 0 && d->errors == errors)
		diag_error(d, path, 0, 0, S_ISDIR(st.st_mode) ? "no pod "
		    "manifests (*.yaml, *.yml) with a Pod or Deployment" :
		    "no Pod or Deployment in the file");
	for (i = 0; i < c.n_seen; i++) {
		free(c.seen[i].name);
		free(c.seen[i].file);
	}
	free(c.seen);
	return d->errors == errors ? 0 : -1;
}

void
pod_set_release(struct pod_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		pod_release(&set->pods[i]);
	free(set->pods);
	set->pods = NULL;
	set->n = 0;
}

const struct pod *
pod_find(const struct pod_set *set, const char *name)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (strcmp(set->pods[i].name, name) == 0)
			return &set->pods[i];
	return NULL;
}

/* ---------- JSON ---------- */

const char *
restart_policy_name(enum restart_policy r)
{
	switch (r) {
	case RESTART_ON_FAILURE:
		return "OnFailure";
	case RESTART_NEVER:
		return "Never";
	case RESTART_ALWAYS:
		break;
	}
	return "Always";
}

const char *
probe_kind_name(enum probe_kind k)
{
	switch (k) {
	case PROBE_EXEC:
		return "exec";
	case PROBE_HTTP:
		return "httpGet";
	case PROBE_TCP:
		return "tcpSocket";
	case PROBE_NONE:
		break;
	}
	return "none";
}

static void
write_kv(struct json_writer *w, const char *key, const struct kvlist *l)
{
	size_t i;

	json_key(w, key);
	json_begin_object(w);
	for (i = 0; i < l->n; i++)
		json_kv_string(w, l->v[i].key, l->v[i].value);
	json_end_object(w);
}

static void
write_argv(struct json_writer *w, const char *key, char *const *v)
{
	json_key(w, key);
	if (v == NULL) {
		json_null(w);
		return;
	}
	json_begin_array(w);
	for (; *v != NULL; v++)
		json_string(w, *v);
	json_end_array(w);
}

static void
write_strlist(struct json_writer *w, const char *key,
    const struct strlist *l)
{
	size_t i;

	json_key(w, key);
	json_begin_array(w);
	for (i = 0; i < l->n; i++)
		json_string(w, l->v[i]);
	json_end_array(w);
}

static void
write_opt_int(struct json_writer *w, const char *key, int64_t v)
{
	json_key(w, key);
	if (v < 0)
		json_null(w);
	else
		json_int(w, v);
}

static void
write_probe(struct json_writer *w, const char *key, const struct probe *pr)
{
	json_key(w, key);
	if (pr->kind == PROBE_NONE) {
		json_null(w);
		return;
	}
	json_begin_object(w);
	switch (pr->kind) {
	case PROBE_EXEC:
		json_key(w, "exec");
		json_begin_object(w);
		write_argv(w, "command", pr->exec);
		json_end_object(w);
		break;
	case PROBE_HTTP:
		json_key(w, "httpGet");
		json_begin_object(w);
		json_kv_string(w, "path", pr->http_path);
		json_kv_int(w, "port", pr->port);
		if (pr->port_name != NULL)
			json_kv_string(w, "portName", pr->port_name);
		if (pr->http_host != NULL)
			json_kv_string(w, "host", pr->http_host);
		json_kv_string(w, "scheme", pr->http_scheme);
		json_end_object(w);
		break;
	case PROBE_TCP:
		json_key(w, "tcpSocket");
		json_begin_object(w);
		json_kv_int(w, "port", pr->port);
		if (pr->port_name != NULL)
			json_kv_string(w, "portName", pr->port_name);
		json_end_object(w);
		break;
	case PROBE_NONE:
		break;
	}
	json_kv_int(w, "initialDelaySeconds", pr->initial_delay_seconds);
	json_kv_int(w, "periodSeconds", pr->period_seconds);
	json_kv_int(w, "timeoutSeconds", pr->timeout_seconds);
	json_kv_int(w, "failureThreshold", pr->failure_threshold);
	json_kv_int(w, "successThreshold", pr->success_threshold);
	json_end_object(w);
}

static void
write_container(struct json_writer *w, const struct container *ct)
{
	size_t i;

	json_begin_object(w);
	json_kv_string(w, "name", ct->name);
	json_key(w, "image");
	json_begin_object(w);
	json_kv_string(w, "ref", ct->image.text);
	json_kv_string(w, "transport",
	    image_transport_name(ct->image.transport));
	json_kv_string(w, "path", ct->image.path);
	json_key(w, "tag");
	if (ct->image.tag != NULL)
		json_string(w, ct->image.tag);
	else
		json_null(w);
	json_end_object(w);
	write_argv(w, "command", ct->command);
	write_argv(w, "args", ct->args);
	json_key(w, "env");
	json_begin_array(w);
	for (i = 0; i < ct->n_env; i++) {
		json_begin_object(w);
		json_kv_string(w, "name", ct->env[i].name);
		json_kv_string(w, "value", ct->env[i].value);
		json_end_object(w);
	}
	json_end_array(w);
	json_key(w, "workingDir");
	if (ct->working_dir != NULL)
		json_string(w, ct->working_dir);
	else
		json_null(w);
	json_key(w, "ports");
	json_begin_array(w);
	for (i = 0; i < ct->n_ports; i++) {
		const struct container_port *p = &ct->ports[i];

		json_begin_object(w);
		if (p->name != NULL)
			json_kv_string(w, "name", p->name);
		json_kv_int(w, "containerPort", p->container_port);
		if (p->host_port != 0)
			json_kv_int(w, "hostPort", p->host_port);
		json_kv_string(w, "protocol",
		    p->protocol == PROTO_TCP ? "TCP" : "UDP");
		json_end_object(w);
	}
	json_end_array(w);
	json_key(w, "resources");
	json_begin_object(w);
	write_opt_int(w, "memoryRequest", ct->mem_request);
	write_opt_int(w, "memoryLimit", ct->mem_limit);
	write_opt_int(w, "cpuRequestMillis", ct->cpu_request);
	write_opt_int(w, "cpuLimitMillis", ct->cpu_limit);
	json_end_object(w);
	json_key(w, "securityContext");
	json_begin_object(w);
	write_opt_int(w, "runAsUser", ct->run_as_user);
	write_opt_int(w, "runAsGroup", ct->run_as_group);
	json_kv_bool(w, "runAsNonRoot", ct->run_as_non_root);
	json_kv_bool(w, "readOnlyRootFilesystem", ct->read_only_root_fs);
	write_strlist(w, "capAdd", &ct->cap_add);
	write_strlist(w, "capDrop", &ct->cap_drop);
	json_end_object(w);
	json_key(w, "volumeMounts");
	json_begin_array(w);
	for (i = 0; i < ct->n_mounts; i++) {
		json_begin_object(w);
		json_kv_string(w, "name", ct->mounts[i].name);
		json_kv_string(w, "mountPath", ct->mounts[i].mount_path);
		json_kv_bool(w, "readOnly", ct->mounts[i].read_only);
		json_end_object(w);
	}
	json_end_array(w);
	write_probe(w, "livenessProbe", &ct->liveness);
	write_probe(w, "readinessProbe", &ct->readiness);
	json_end_object(w);
}

void
pod_write_json(struct json_writer *w, const struct pod *pod)
{
	size_t i;

	json_begin_object(w);
	json_kv_string(w, "name", pod->name);
	json_kv_string(w, "kind", pod->kind);
	json_kv_int(w, "replicas", pod->replicas);
	json_kv_string(w, "file", pod->file);
	json_kv_int(w, "line", pod->line);
	write_kv(w, "labels", &pod->labels);
	write_kv(w, "annotations", &pod->annotations);
	if (strcmp(pod->kind, "Deployment") == 0)
		write_kv(w, "selector", &pod->selector);
	write_kv(w, "nodeSelector", &pod->node_selector);
	json_kv_bool(w, "hostNetwork", pod->host_network);
	json_kv_string(w, "restartPolicy",
	    restart_policy_name(pod->restart_policy));
	json_kv_int(w, "terminationGracePeriodSeconds",
	    pod->termination_grace_seconds);
	json_key(w, "volumes");
	json_begin_array(w);
	for (i = 0; i < pod->n_volumes; i++) {
		const struct volume *v = &pod->volumes[i];

		json_begin_object(w);
		json_kv_string(w, "name", v->name);
		if (v->kind == VOLUME_HOST_PATH) {
			json_key(w, "hostPath");
			json_begin_object(w);
			json_kv_string(w, "path", v->host_path);
			json_kv_string(w, "type", v->host_path_type);
			json_end_object(w);
		} else {
			json_key(w, "emptyDir");
			json_begin_object(w);
			json_kv_string(w, "medium", v->medium);
			write_opt_int(w, "sizeLimit", v->size_limit);
			json_end_object(w);
		}
		json_end_object(w);
	}
	json_end_array(w);
	json_key(w, "containers");
	json_begin_array(w);
	for (i = 0; i < pod->n_containers; i++)
		write_container(w, &pod->containers[i]);
	json_end_array(w);
	json_end_object(w);
}

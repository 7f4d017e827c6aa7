/*
 * nodestate: parse and check `vzexec status` output.  Everything a node
 * sends is checked here, once, so the planner and the commands can trust
 * the structs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "nodestate.h"

#define MAX_PODS	4096
#define MAX_CONTAINERS	64
#define MAX_IMAGES	4096
#define MAX_STR		4096

static int
bad(char *err, size_t errlen, const char *what, const char *why)
{
	snprintf(err, errlen, "node status: %s: %s", what, why);
	return -1;
}

/* A name the node reports must look like the names we gave it. */
static int
valid_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '.' || s[i] == '_' || s[i] == '@'))
			return 0;
	return 1;
}

static int
valid_hex64(const char *s)
{
	size_t i;

	if (strlen(s) != 64)
		return 0;
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Optional string member: NULL/absent -> NULL; wrong type -> error. */
static int
opt_string(const struct json_value *o, const char *key, char **out,
    const char *ctx, char *err, size_t errlen)
{
	const struct json_value *v = json_get(o, key);
	char what[128];

	*out = NULL;
	if (v == NULL || v->type == JSON_NULL)
		return 0;
	snprintf(what, sizeof what, "%s.%s", ctx, key);
	if (v->type != JSON_STRING)
		return bad(err, errlen, what, "not a string");
	if (v->len > MAX_STR || strlen(v->str) != v->len)
		return bad(err, errlen, what, "too long or contains NUL");
	*out = xstrdup(v->str);
	return 0;
}

static int
opt_int(const struct json_value *o, const char *key, int64_t *out,
    int64_t dflt, const char *ctx, char *err, size_t errlen)
{
	const struct json_value *v = json_get(o, key);
	char what[128];

	*out = dflt;
	if (v == NULL || v->type == JSON_NULL)
		return 0;
	snprintf(what, sizeof what, "%s.%s", ctx, key);
	if (json_as_int(v, out) == -1)
		return bad(err, errlen, what, "not an integer");
	return 0;
}

static int
parse_container(const struct json_value *c, struct node_container *nc,
    const char *pod, char *err, size_t errlen)
{
	const struct json_value *r;
	char ctx[320];

	snprintf(ctx, sizeof ctx, "pods[%s].containers", pod);
	if (c->type != JSON_OBJECT)
		return bad(err, errlen, ctx, "not an object");
	if (opt_string(c, "name", &nc->name, ctx, err, errlen) == -1 ||
	    opt_string(c, "state", &nc->state, ctx, err, errlen) == -1 ||
	    opt_string(c, "reason", &nc->reason, ctx, err, errlen) == -1 ||
	    opt_string(c, "runningHash", &nc->running_hash, ctx, err,
	    errlen) == -1 ||
	    opt_string(c, "image", &nc->image, ctx, err, errlen) == -1 ||
	    opt_int(c, "pid", &nc->pid, 0, ctx, err, errlen) == -1 ||
	    opt_int(c, "startedAt", &nc->started_at, 0, ctx, err, errlen) == -1 ||
	    opt_int(c, "restarts", &nc->restarts, 0, ctx, err, errlen) == -1 ||
	    opt_int(c, "lastExitCode", &nc->last_exit, -1, ctx, err,
	    errlen) == -1 ||
	    opt_int(c, "memoryBytes", &nc->memory, -1, ctx, err, errlen) == -1)
		return -1;
	if (nc->name == NULL || !valid_name(nc->name))
		return bad(err, errlen, ctx, "missing or invalid name");
	if (nc->image != NULL && !valid_hex64(nc->image))
		return bad(err, errlen, ctx, "bad image id");
	if (nc->state == NULL)
		nc->state = xstrdup("unknown");
	r = json_get(c, "ready");
	nc->ready = r != NULL && r->type == JSON_TRUE;
	return 0;
}

static int
parse_pod(const struct json_value *p, struct node_pod *np, char *err,
    size_t errlen)
{
	const struct json_value *cs;
	size_t i;

	if (p->type != JSON_OBJECT)
		return bad(err, errlen, "pods[]", "not an object");
	if (opt_string(p, "name", &np->name, "pods[]", err, errlen) == -1 ||
	    opt_string(p, "hash", &np->hash, "pods[]", err, errlen) == -1 ||
	    opt_string(p, "error", &np->error, "pods[]", err, errlen) == -1)
		return -1;
	if (np->name == NULL || !valid_name(np->name))
		return bad(err, errlen, "pods[]", "missing or invalid name");
	np->stopping = json_get(p, "stopping") != NULL &&
	    json_get(p, "stopping")->type == JSON_TRUE;
	cs = json_get(p, "containers");
	if (cs == NULL || cs->type == JSON_NULL)
		return 0;
	if (cs->type != JSON_ARRAY || cs->n > MAX_CONTAINERS)
		return bad(err, errlen, np->name, "bad containers list");
	np->containers = xcalloc(cs->n, sizeof *np->containers);
	for (i = 0; i < cs->n; i++) {
		np->ncontainers = i + 1;
		if (parse_container(cs->items[i], &np->containers[i],
		    np->name, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/*
 * Compare dotted version numbers ("0.10.1" > "0.9"); a missing or
 * malformed one is the oldest.
 */
int
node_version_cmp(const char *a, const char *b)
{
	unsigned long x, y;
	char *ea, *eb;

	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	for (;;) {
		x = strtoul(a, &ea, 10);
		y = strtoul(b, &eb, 10);
		if (ea == a || eb == b)
			return (ea != a) - (eb != b);
		if (x != y)
			return x < y ? -1 : 1;
		if (*ea != '.' || *eb != '.')	/* "1.2.1" > "1.2" */
			return (*ea == '.') - (*eb == '.');
		a = ea + 1;
		b = eb + 1;
	}
}

int
node_state_parse(const char *text, size_t len, struct node_state *ns,
    char *err, size_t errlen)
{
	struct json_value *root = NULL;
	const struct json_value *node, *sup, *imgs, *pods, *v;
	char jerr[128];
	int64_t version;
	size_t i;
	int rc = -1;

	memset(ns, 0, sizeof *ns);
	if (len > NODESTATE_MAX_BYTES)
		return bad(err, errlen, "output", "too large");
	if (json_parse(text, len, &root, jerr, sizeof jerr) == -1)
		return bad(err, errlen, "not JSON", jerr);
	if (root->type != JSON_OBJECT) {
		bad(err, errlen, "output", "not a JSON object");
		goto out;
	}
	if (json_get_int(root, "vzstatus", &version) == -1) {
		bad(err, errlen, "vzstatus", "missing: not vzexec status output");
		goto out;
	}
	if (version != 1) {
		snprintf(err, errlen, "node status: version %lld, this "
		    "vzmaster speaks version 1 (upgrade vzmaster or re-run "
		    "newnode)", (long long)version);
		goto out;
	}
	ns->version = 1;
	node = json_get_object(root, "node");
	if (node != NULL) {
		if (opt_string(node, "hostname", &ns->hostname, "node", err,
		    errlen) == -1 ||
		    opt_string(node, "os", &ns->os, "node", err, errlen) == -1 ||
		    opt_string(node, "arch", &ns->arch, "node", err,
		    errlen) == -1 ||
		    opt_string(node, "init", &ns->init, "node", err,
		    errlen) == -1 ||
		    opt_int(node, "memTotal", &ns->mem_total, 0, "node", err,
		    errlen) == -1 ||
		    opt_int(node, "memAvailable", &ns->mem_available, 0, "node",
		    err, errlen) == -1 ||
		    opt_int(node, "diskFree", &ns->disk_free, 0, "node", err,
		    errlen) == -1)
			goto out;
		v = json_get(node, "load1");
		if (v != NULL && v->type == JSON_NUMBER)
			ns->load1 = v->num;
		sup = json_get_object(node, "supervisor");
		v = json_get(sup, "running");
		ns->supervisor_running = v != NULL && v->type == JSON_TRUE;
		if (sup != NULL && opt_string(sup, "version",
		    &ns->vzexec_version, "node.supervisor", err, errlen) == -1)
			goto out;
	}
	imgs = json_get(root, "images");
	if (imgs != NULL && imgs->type != JSON_NULL) {
		if (imgs->type != JSON_ARRAY || imgs->n > MAX_IMAGES) {
			bad(err, errlen, "images", "bad list");
			goto out;
		}
		ns->images = xcalloc(imgs->n, sizeof *ns->images);
		for (i = 0; i < imgs->n; i++) {
			ns->nimages = i + 1;
			if (opt_string(imgs->items[i], "id", &ns->images[i].id,
			    "images[]", err, errlen) == -1 ||
			    opt_string(imgs->items[i], "ref",
			    &ns->images[i].ref, "images[]", err, errlen) == -1)
				goto out;
			if (ns->images[i].id == NULL ||
			    !valid_hex64(ns->images[i].id)) {
				bad(err, errlen, "images[]", "bad image id");
				goto out;
			}
		}
	}
	pods = json_get(root, "pods");
	if (pods != NULL && pods->type != JSON_NULL) {
		if (pods->type != JSON_ARRAY || pods->n > MAX_PODS) {
			bad(err, errlen, "pods", "bad list");
			goto out;
		}
		ns->pods = xcalloc(pods->n, sizeof *ns->pods);
		for (i = 0; i < pods->n; i++) {
			ns->npods = i + 1;
			if (parse_pod(pods->items[i], &ns->pods[i], err,
			    errlen) == -1)
				goto out;
		}
	}
	rc = 0;
out:
	json_free(root);
	if (rc == -1)
		node_state_release(ns);
	return rc;
}

void
node_state_release(struct node_state *ns)
{
	size_t i, j;

	for (i = 0; i < ns->nimages; i++) {
		free(ns->images[i].id);
		free(ns->images[i].ref);
	}
	for (i = 0; i < ns->npods; i++) {
		struct node_pod *p = &ns->pods[i];

		for (j = 0; j < p->ncontainers; j++) {
			free(p->containers[j].name);
			free(p->containers[j].state);
			free(p->containers[j].reason);
			free(p->containers[j].running_hash);
			free(p->containers[j].image);
		}
		free(p->containers);
		free(p->name);
		free(p->hash);
		free(p->error);
	}
	free(ns->images);
	free(ns->pods);
	free(ns->hostname);
	free(ns->vzexec_version);
	free(ns->os);
	free(ns->arch);
	free(ns->init);
	memset(ns, 0, sizeof *ns);
}

const struct node_pod *
node_state_pod(const struct node_state *ns, const char *name)
{
	size_t i;

	for (i = 0; i < ns->npods; i++)
		if (strcmp(ns->pods[i].name, name) == 0)
			return &ns->pods[i];
	return NULL;
}

int
node_state_has_image(const struct node_state *ns, const char *id)
{
	size_t i;

	for (i = 0; i < ns->nimages; i++)
		if (strcmp(ns->images[i].id, id) == 0)
			return 1;
	return 0;
}

int
node_pod_healthy(const struct node_pod *p)
{
	size_t i;

	if (p == NULL || p->error != NULL || p->stopping ||
	    p->ncontainers == 0)
		return 0;
	for (i = 0; i < p->ncontainers; i++) {
		if (strcmp(p->containers[i].state, "running") != 0 ||
		    !p->containers[i].ready)
			return 0;
		if (p->hash != NULL && p->containers[i].running_hash != NULL &&
		    strcmp(p->hash, p->containers[i].running_hash) != 0)
			return 0;
	}
	return 1;
}

/*
 * markers: load, update and atomically save `.vzmaster/state.json` (see
 * markers.h).  The arrays are kept sorted by name so the file is written
 * the same way every run and a diff of it shows only real changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "markers.h"

#define MARKERS_MAX_SIZE	(16 * 1024 * 1024)

void
markers_state_path(const char *inventory_path, const char *name,
    struct buf *out)
{
	const char *slash = strrchr(inventory_path, '/');

	buf_reset(out);
	if (slash != NULL)
		buf_add(out, inventory_path, (size_t)(slash - inventory_path) + 1);
	buf_addf(out, ".vzmaster/%s", name);
}

void
markers_release(struct markers *m)
{
	size_t i;

	for (i = 0; i < m->nnodes; i++)
		free(m->nodes[i].name);
	free(m->nodes);
	for (i = 0; i < m->npods; i++)
		free(m->pods[i].name);
	free(m->pods);
	for (i = 0; i < m->ndeployed; i++) {
		free(m->deployed[i].pod);
		free(m->deployed[i].node);
		free(m->deployed[i].hash);
		free(m->deployed[i].previous);
	}
	free(m->deployed);
	memset(m, 0, sizeof(*m));
}

static size_t
node_pos(const struct markers *m, const char *name, int *found)
{
	size_t lo = 0, hi = m->nnodes;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(name, m->nodes[mid].name);

		if (r == 0) {
			*found = 1;
			return mid;
		}
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static size_t
pod_pos(const struct markers *m, const char *name, int *found)
{
	size_t lo = 0, hi = m->npods;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(name, m->pods[mid].name);

		if (r == 0) {
			*found = 1;
			return mid;
		}
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static int
dep_cmp(const char *pod, const char *node, const struct markers_deployed *d)
{
	int r = strcmp(pod, d->pod);

	return r != 0 ? r : strcmp(node, d->node);
}

static size_t
dep_pos(const struct markers *m, const char *pod, const char *node,
    int *found)
{
	size_t lo = 0, hi = m->ndeployed;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = dep_cmp(pod, node, &m->deployed[mid]);

		if (r == 0) {
			*found = 1;
			return mid;
		}
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static struct markers_node *
node_get(struct markers *m, const char *name)
{
	int found;
	size_t i = node_pos(m, name, &found);

	if (!found) {
		m->nodes = xreallocarray(m->nodes, m->nnodes + 1,
		    sizeof(*m->nodes));
		memmove(&m->nodes[i + 1], &m->nodes[i],
		    (m->nnodes - i) * sizeof(*m->nodes));
		memset(&m->nodes[i], 0, sizeof(m->nodes[i]));
		m->nodes[i].name = xstrdup(name);
		m->nnodes++;
	}
	return &m->nodes[i];
}

static struct markers_pod *
pod_get(struct markers *m, const char *name)
{
	int found;
	size_t i = pod_pos(m, name, &found);

	if (!found) {
		m->pods = xreallocarray(m->pods, m->npods + 1,
		    sizeof(*m->pods));
		memmove(&m->pods[i + 1], &m->pods[i],
		    (m->npods - i) * sizeof(*m->pods));
		memset(&m->pods[i], 0, sizeof(m->pods[i]));
		m->pods[i].name = xstrdup(name);
		m->npods++;
	}
	return &m->pods[i];
}

static struct markers_deployed *
dep_get(struct markers *m, const char *pod, const char *node)
{
	int found;
	size_t i = dep_pos(m, pod, node, &found);

	if (!found) {
		m->deployed = xreallocarray(m->deployed, m->ndeployed + 1,
		    sizeof(*m->deployed));
		memmove(&m->deployed[i + 1], &m->deployed[i],
		    (m->ndeployed - i) * sizeof(*m->deployed));
		memset(&m->deployed[i], 0, sizeof(m->deployed[i]));
		m->deployed[i].pod = xstrdup(pod);
		m->deployed[i].node = xstrdup(node);
		m->ndeployed++;
	}
	return &m->deployed[i];
}

int
markers_probe(struct markers *m, const char *node, int reachable,
    int64_t now)
{
	struct markers_node *n = node_get(m, node);
	int streak;

	if (!reachable) {
		if (n->missed < 1000000)
			n->missed++;
		return n->missed;
	}
	streak = n->missed;
	n->missed = 0;
	n->last_seen = now;
	return streak;
}

const struct markers_node *
markers_node(const struct markers *m, const char *node)
{
	int found;
	size_t i = node_pos(m, node, &found);

	return found ? &m->nodes[i] : NULL;
}

void
markers_prune_nodes(struct markers *m, const char *const *names, size_t n)
{
	size_t i, j, k = 0;

	for (i = 0; i < m->nnodes; i++) {
		int keep = 0;

		for (j = 0; j < n; j++)
			if (strcmp(names[j], m->nodes[i].name) == 0)
				keep = 1;
		if (keep)
			m->nodes[k++] = m->nodes[i];
		else
			free(m->nodes[i].name);
	}
	m->nnodes = k;
}

void
markers_kill(struct markers *m, const char *pod, int64_t now)
{
	struct markers_pod *p = pod_get(m, pod);

	p->killed = 1;
	p->killed_at = now;
}

void
markers_unkill(struct markers *m, const char *pod)
{
	int found;
	size_t i = pod_pos(m, pod, &found);

	if (!found)
		return;
	free(m->pods[i].name);
	memmove(&m->pods[i], &m->pods[i + 1],
	    (m->npods - i - 1) * sizeof(*m->pods));
	m->npods--;
}

int
markers_killed(const struct markers *m, const char *pod)
{
	int found;
	size_t i = pod_pos(m, pod, &found);

	return found && m->pods[i].killed;
}

void
markers_deployed_set(struct markers *m, const char *pod, const char *node,
    const char *hash, int64_t now)
{
	struct markers_deployed *d = dep_get(m, pod, node);

	if (d->hash == NULL || strcmp(d->hash, hash) != 0) {
		free(d->previous);
		d->previous = d->hash;
		d->hash = xstrdup(hash);
	}
	d->at = now;
}

const struct markers_deployed *
markers_deployed_get(const struct markers *m, const char *pod,
    const char *node)
{
	int found;
	size_t i = dep_pos(m, pod, node, &found);

	return found ? &m->deployed[i] : NULL;
}

void
markers_deployed_remove(struct markers *m, const char *pod, const char *node)
{
	int found;
	size_t i = dep_pos(m, pod, node, &found);
	struct markers_deployed *d;

	if (!found)
		return;
	d = &m->deployed[i];
	free(d->pod);
	free(d->node);
	free(d->hash);
	free(d->previous);
	memmove(&m->deployed[i], &m->deployed[i + 1],
	    (m->ndeployed - i - 1) * sizeof(*m->deployed));
	m->ndeployed--;
}

size_t
markers_last_known(const struct markers *m, const char *node,
    struct plan_running **out)
{
	size_t i, n = 0;

	*out = NULL;
	for (i = 0; i < m->ndeployed; i++) {
		if (strcmp(m->deployed[i].node, node) != 0)
			continue;
		*out = xreallocarray(*out, n + 1, sizeof(**out));
		(*out)[n].pod = m->deployed[i].pod;
		(*out)[n].spec_hash = m->deployed[i].hash;
		(*out)[n].healthy = 1;
		(*out)[n].mem_used = 0;
		n++;
	}
	return n;
}

/* ---- file format ---- */

void
markers_write(const struct markers *m, struct buf *out)
{
	struct json_writer w;
	size_t i;

	json_writer_init(&w, out, 1);
	json_begin_object(&w);
	json_kv_int(&w, "version", MARKERS_VERSION);
	json_key(&w, "nodes");
	json_begin_object(&w);
	for (i = 0; i < m->nnodes; i++) {
		json_key(&w, m->nodes[i].name);
		json_begin_object(&w);
		json_kv_int(&w, "missed", m->nodes[i].missed);
		json_kv_int(&w, "lastSeen", m->nodes[i].last_seen);
		json_end_object(&w);
	}
	json_end_object(&w);
	json_key(&w, "pods");
	json_begin_object(&w);
	for (i = 0; i < m->npods; i++) {
		json_key(&w, m->pods[i].name);
		json_begin_object(&w);
		json_kv_bool(&w, "killed", m->pods[i].killed);
		json_kv_int(&w, "killedAt", m->pods[i].killed_at);
		json_end_object(&w);
	}
	json_end_object(&w);
	json_key(&w, "deployed");
	json_begin_array(&w);
	for (i = 0; i < m->ndeployed; i++) {
		const struct markers_deployed *d = &m->deployed[i];

		json_begin_object(&w);
		json_kv_string(&w, "pod", d->pod);
		json_kv_string(&w, "node", d->node);
		json_kv_string(&w, "hash", d->hash);
		json_key(&w, "previous");
		if (d->previous != NULL)
			json_string(&w, d->previous);
		else
			json_null(&w);
		json_kv_int(&w, "at", d->at);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_end_object(&w);
	buf_addc(out, '\n');
}

static int
get_int(const struct json_value *o, const char *key, int64_t *v)
{
	if (json_get(o, key) == NULL) {
		*v = 0;
		return 0;
	}
	return json_get_int(o, key, v);
}

static int
bad_name(const char *s, size_t len)
{
	return len == 0 || strlen(s) != len;
}

int
markers_parse(struct markers *m, const char *text, size_t len,
    const char *what, char *err, size_t errlen)
{
	struct json_value *root = NULL;
	const struct json_value *o, *v;
	char perr[256];
	int64_t iv, iv2;
	size_t i;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	if (json_parse(text, len, &root, perr, sizeof(perr)) == -1) {
		snprintf(err, errlen, "%s: corrupt state file: %s", what,
		    perr);
		return -1;
	}
	if (root->type != JSON_OBJECT) {
		snprintf(err, errlen, "%s: corrupt state file: not an object",
		    what);
		goto out;
	}
	if (json_get_int(root, "version", &iv) == -1 ||
	    iv != MARKERS_VERSION) {
		snprintf(err, errlen, "%s: unsupported state file version",
		    what);
		goto out;
	}
	if ((o = json_get(root, "nodes")) != NULL) {
		if (o->type != JSON_OBJECT)
			goto bad;
		for (i = 0; i < o->n; i++) {
			struct markers_node *n;

			v = o->items[i];
			if (v->type != JSON_OBJECT ||
			    bad_name(o->keys[i], strlen(o->keys[i])) ||
			    get_int(v, "missed", &iv) == -1 ||
			    get_int(v, "lastSeen", &iv2) == -1 ||
			    iv < 0 || iv > 1000000)
				goto bad;
			n = node_get(m, o->keys[i]);
			n->missed = (int)iv;
			n->last_seen = iv2;
		}
	}
	if ((o = json_get(root, "pods")) != NULL) {
		if (o->type != JSON_OBJECT)
			goto bad;
		for (i = 0; i < o->n; i++) {
			const struct json_value *k;
			struct markers_pod *p;

			v = o->items[i];
			if (v->type != JSON_OBJECT ||
			    bad_name(o->keys[i], strlen(o->keys[i])) ||
			    get_int(v, "killedAt", &iv) == -1)
				goto bad;
			k = json_get(v, "killed");
			if (k != NULL && k->type != JSON_TRUE &&
			    k->type != JSON_FALSE)
				goto bad;
			p = pod_get(m, o->keys[i]);
			p->killed = k != NULL && k->type == JSON_TRUE;
			p->killed_at = iv;
		}
	}
	if ((o = json_get(root, "deployed")) != NULL) {
		if (o->type != JSON_ARRAY)
			goto bad;
		for (i = 0; i < o->n; i++) {
			const struct json_value *s[4];
			struct markers_deployed *d;
			static const char *keys[] = { "pod", "node", "hash",
			    "previous" };
			size_t j;

			v = o->items[i];
			if (v->type != JSON_OBJECT ||
			    get_int(v, "at", &iv) == -1)
				goto bad;
			for (j = 0; j < 4; j++) {
				s[j] = json_get(v, keys[j]);
				if (j == 3 && (s[j] == NULL ||
				    s[j]->type == JSON_NULL)) {
					s[j] = NULL;
					continue;
				}
				if (s[j] == NULL || s[j]->type != JSON_STRING ||
				    bad_name(s[j]->str, s[j]->len))
					goto bad;
			}
			d = dep_get(m, s[0]->str, s[1]->str);
			free(d->hash);
			free(d->previous);
			d->hash = xstrdup(s[2]->str);
			d->previous = s[3] ? xstrdup(s[3]->str) : NULL;
			d->at = iv;
		}
	}
	rc = 0;
	goto out;
bad:
	snprintf(err, errlen, "%s: corrupt state file: unexpected member "
	    "types", what);
out:
	json_free(root);
	if (rc == -1)
		markers_release(m);
	return rc;
}

int
markers_load(struct markers *m, const char *path, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	int rc;

	memset(m, 0, sizeof(*m));
	if (buf_read_file(&b, path, MARKERS_MAX_SIZE) == -1) {
		if (errno == ENOENT) {
			buf_release(&b);
			return 0;
		}
		snprintf(err, errlen, "%s: cannot read state file: %s", path,
		    strerror(errno));
		buf_release(&b);
		return -1;
	}
	rc = markers_parse(m, b.data, b.len, path, err, errlen);
	buf_release(&b);
	return rc;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
markers_save(const struct markers *m, const char *path, char *err,
    size_t errlen)
{
	struct buf data = BUF_INIT, tmp = BUF_INIT, dir = BUF_INIT;
	const char *slash;
	int fd = -1, dfd, rc = -1, saved;

	slash = strrchr(path, '/');
	if (slash != NULL)
		buf_add(&dir, path, (size_t)(slash - path));
	else
		buf_adds(&dir, ".");
	if (mkdir(dir.data, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create directory: %s",
		    dir.data, strerror(errno));
		goto out;
	}
	markers_write(m, &data);
	buf_addf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: cannot create: %s", tmp.data,
		    strerror(errno));
		goto out;
	}
	if (write_all(fd, data.data, data.len) == -1 || fsync(fd) == -1) {
		saved = errno;
		snprintf(err, errlen, "%s: cannot write: %s", tmp.data,
		    strerror(saved));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		saved = errno;
		snprintf(err, errlen, "%s: cannot write: %s", tmp.data,
		    strerror(saved));
		goto fail;
	}
	fd = -1;
	if (rename(tmp.data, path) == -1) {
		saved = errno;
		snprintf(err, errlen, "%s: cannot rename into place: %s",
		    path, strerror(saved));
		goto fail;
	}
	/* The rename is durable only once the directory is. */
	if ((dfd = open(dir.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	rc = 0;
	goto out;
fail:
	if (fd != -1)
		close(fd);
	unlink(tmp.data);
out:
	buf_release(&data);
	buf_release(&tmp);
	buf_release(&dir);
	return rc;
}

/*
 * reconcile: configuration -> plan.  Image imports are cached by a
 * fingerprint of the source (size, mtime, inode of every file) so that a
 * cron run that changes nothing costs one SSH exchange per node and no
 * re-flattening of images.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "imgutil.h"
#include "json.h"
#include "nodespec.h"
#include "reconcile.h"

/* ------------------------------------------------------ image fingerprint */

static void
fp_file(EVP_MD_CTX *md, const char *path, const struct stat *st)
{
	char line[4200];
	int n;

	n = snprintf(line, sizeof line, "%s|%o|%lld|%lld.%09ld|%llu|%u|%u\n",
	    path, (unsigned)st->st_mode, (long long)st->st_size,
	    (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
	    (unsigned long long)st->st_ino, (unsigned)st->st_uid,
	    (unsigned)st->st_gid);
	if (n > 0)
		EVP_DigestUpdate(md, line, (size_t)n < sizeof line ?
		    (size_t)n : sizeof line - 1);
}

static int
fp_walk(EVP_MD_CTX *md, const char *path, int depth)
{
	struct dirent **ents = NULL;
	struct stat st;
	char sub[4200];
	int i, n, rc = 0;

	if (lstat(path, &st) == -1)
		return -1;
	fp_file(md, path, &st);
	if (!S_ISDIR(st.st_mode) || depth > 64)
		return 0;
	if ((n = scandir(path, &ents, NULL, alphasort)) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const char *d = ents[i]->d_name;

		if (rc == 0 && strcmp(d, ".") != 0 && strcmp(d, "..") != 0) {
			snprintf(sub, sizeof sub, "%s/%s", path, d);
			rc = fp_walk(md, sub, depth + 1);
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

/* A fingerprint of everything image_import would read for ref. */
static int
image_fingerprint(const struct image_ref *r, const char *ref,
    char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0, i;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, ref, strlen(ref) + 1);
	rc = fp_walk(md, r->path, 0);
	EVP_DigestFinal_ex(md, d, &dl);
	EVP_MD_CTX_free(md);
	for (i = 0; i < dl && i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
	return rc;
}

/*
 * The imports cache: images/imports/<fingerprint> holds the image id, a
 * newline, and the image config (the vzimage JSON of image.h) of the
 * reference whose source has that fingerprint.  The config is kept per
 * reference, not per id: references with the same rootfs share an id but
 * not a config, and the store's <id>.json holds whichever was imported
 * last.  An entry without a config (from an older vzmaster), a damaged one
 * or one whose image files are gone is a miss: the reference is imported
 * again.
 */
#define CACHE_MAX	(65 + (1 << 20))

/* A vzimage config as image_import writes it: *out, or -1. */
static int
config_parse(const char *text, size_t len, struct json_value **out)
{
	char perr[200];
	int64_t v;

	*out = NULL;
	if (json_parse(text, len, out, perr, sizeof perr) == -1)
		return -1;
	if ((*out)->type != JSON_OBJECT ||
	    json_get_int(*out, "vzimage", &v) == -1 || v != 1) {
		json_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int
cache_lookup(const struct reconcile *r, const char *fp, char id[65],
    struct json_value **cfg)
{
	struct buf b = BUF_INIT;
	char path[4200];
	struct stat st;
	int ok = 0;

	*cfg = NULL;
	snprintf(path, sizeof path, "%s/images/imports/%s", r->cl.state_dir,
	    fp);
	if (buf_read_file(&b, path, CACHE_MAX) == 0 && b.len > 65 &&
	    b.data[64] == '\n') {
		memcpy(id, b.data, 64);
		id[64] = '\0';
		if (is_sha256_hex(id) &&
		    config_parse(b.data + 65, b.len - 65, cfg) == 0) {
			/* <id>.json too: pushes send it as the node's
			   config.json */
			imgstore_tar_path(&r->store, id, path, sizeof path);
			ok = stat(path, &st) == 0;
			imgstore_config_path(&r->store, id, path, sizeof path);
			ok = ok && stat(path, &st) == 0;
		}
	}
	if (!ok) {
		json_free(*cfg);
		*cfg = NULL;
	}
	buf_release(&b);
	return ok;
}

static void
cache_store(const struct reconcile *r, const char *fp, const char *id,
    const char *config_json)
{
	struct buf b = BUF_INIT;
	char dir[4200], path[4300], err[256];

	snprintf(dir, sizeof dir, "%s/images/imports", r->cl.state_dir);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return;
	snprintf(path, sizeof path, "%s/%s", dir, fp);
	buf_addf(&b, "%s\n%s", id, config_json);
	/* a cache: no fsync, a reader checks what it finds */
	(void)write_file_replace(path, b.data, b.len, err, sizeof err);
	buf_release(&b);
}

/* The reference string the store is keyed by: transport:abspath[:tag]. */
static void
ref_string(const struct image_ref *ir, struct buf *out)
{
	buf_addf(out, "%s:%s", image_transport_name(ir->transport), ir->path);
	if (ir->tag != NULL)
		buf_addf(out, ":%s", ir->tag);
}

/*
 * Import one reference (or find it in the imports cache): its image id and
 * its own image config, *cfg (caller must json_free).
 */
static int
import_one(struct reconcile *r, const struct image_ref *ir, char id[65],
    struct json_value **cfg, char *err, size_t errlen)
{
	struct buf ref = BUF_INIT;
	struct image_info info;
	char fp[65];
	int rc = -1, have_fp;

	*cfg = NULL;
	ref_string(ir, &ref);
	have_fp = image_fingerprint(ir, ref.data, fp) == 0;
	if (have_fp && cache_lookup(r, fp, id, cfg)) {
		/* unchanged since the last import: keep the version index */
		rc = imgstore_record(&r->store, ref.data, id, err, errlen);
		goto out;
	}
	memset(&info, 0, sizeof info);
	if (imgstore_import(&r->store, ref.data, &info, err, errlen) == -1)
		goto out;
	snprintf(id, 65, "%s", info.id);
	if (info.config_json == NULL || config_parse(info.config_json,
	    strlen(info.config_json), cfg) == -1) {
		snprintf(err, errlen, "image %.12s: no image config", id);
		image_info_release(&info);
		goto out;
	}
	if (have_fp)
		cache_store(r, fp, id, info.config_json);
	image_info_release(&info);
	rc = 0;
out:
	if (rc == -1) {
		json_free(*cfg);
		*cfg = NULL;
	}
	buf_release(&ref);
	return rc;
}

static void *
probe_main(void *arg)
{
	cluster_probe(arg);
	return NULL;
}

static void
probe_join(struct reconcile *r)
{
	if (r->probing) {
		pthread_join(r->probe_thread, NULL);
		r->probing = 0;
	}
}

int
reconcile_prepare(struct reconcile *r)
{
	struct buf path = BUF_INIT;
	char err[1024];
	const char **ids;
	struct json_value **cfgs;
	size_t i, j;

	buf_addf(&path, "%s/images", r->cl.state_dir);
	if (mkdir(r->cl.state_dir, 0700) == -1 && errno != EEXIST) {
		vz_error("cannot create '%s': %s", r->cl.state_dir,
		    strerror(errno));
		buf_release(&path);
		return -1;
	}
	if (imgstore_open(&r->store, path.data, 0, err, sizeof err) == -1) {
		vz_error("%s", err);
		buf_release(&path);
		return -1;
	}
	buf_reset(&path);
	buf_addf(&path, "%s/specs", r->cl.state_dir);
	r->spec_dir = buf_detach(&path, NULL);
	buf_addf(&path, "%s/uploads", r->cl.state_dir);
	r->upload_dir = buf_detach(&path, NULL);
	buf_addf(&path, "%s/state.json", r->cl.state_dir);
	r->markers_path = buf_detach(&path, NULL);

	/* Connecting and flattening images overlap: neither needs the other
	   until the plan. */
	if (pthread_create(&r->probe_thread, NULL, probe_main, &r->cl) == 0)
		r->probing = 1;
	r->ndesired = r->cl.pods.n;
	r->desired = xcalloc(r->ndesired, sizeof *r->desired);
	for (i = 0; i < r->ndesired; i++) {
		struct desired_pod *d = &r->desired[i];
		const struct pod *p = &r->cl.pods.pods[i];

		d->pod = p;
		d->image_ids = xcalloc(p->n_containers, sizeof *d->image_ids);
		d->refs = xcalloc(p->n_containers, sizeof *d->refs);
		/* each container's config is its own reference's, even
		   where two references share an image id */
		cfgs = xcalloc(p->n_containers, sizeof *cfgs);
		for (j = 0; j < p->n_containers; j++) {
			const struct image_ref *ir = &p->containers[j].image;

			ref_string(ir, &path);
			d->refs[j] = buf_detach(&path, NULL);
			if (import_one(r, ir, d->image_ids[j], &cfgs[j], err,
			    sizeof err) == -1) {
				snprintf(d->err, sizeof d->err, "%s:%d:%d: "
				    "pod '%s': image '%s': %s", p->file,
				    ir->line, ir->col, p->name, ir->text, err);
				d->failed = 1;
				break;
			}
		}
		if (d->failed) {
			for (j = 0; j < p->n_containers; j++)
				json_free(cfgs[j]);
			free(cfgs);
			vz_error("%s", d->err);
			r->import_failures++;
			continue;
		}
		ids = xcalloc(p->n_containers, sizeof *ids);
		for (j = 0; j < p->n_containers; j++)
			ids[j] = d->image_ids[j];
		nodespec_build(p, ids, (const struct json_value *const *)cfgs,
		    &d->spec, d->hash);
		free(ids);
		for (j = 0; j < p->n_containers; j++)
			json_free(cfgs[j]);
		free(cfgs);
		if (spec_store_put(r->spec_dir, d->hash, &d->spec, err,
		    sizeof err) == -1) {
			vz_error("%s", err);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ plan input */

static struct plan_kv *
new_kvs(struct reconcile *r, size_t n)
{
	r->kvs = xreallocarray(r->kvs, r->nkvs + 1, sizeof *r->kvs);
	return r->kvs[r->nkvs++] = xcalloc(n ? n : 1, sizeof **r->kvs);
}

static int *
new_ports(struct reconcile *r, size_t n)
{
	r->ports = xreallocarray(r->ports, r->nports + 1, sizeof *r->ports);
	return r->ports[r->nports++] = xcalloc(n ? n : 1, sizeof **r->ports);
}

/* For a pod whose image failed: the hash it already runs, if known. */
static const char *
deployed_hash(const struct reconcile *r, const char *pod, char *spec_dir)
{
	struct buf b = BUF_INIT;
	size_t i;
	int ok;

	for (i = 0; i < r->markers.ndeployed; i++) {
		const struct markers_deployed *d = &r->markers.deployed[i];

		if (strcmp(d->pod, pod) != 0)
			continue;
		ok = spec_store_get(spec_dir, d->hash, &b) == 0;
		buf_release(&b);
		if (ok)
			return d->hash;
	}
	return NULL;
}

int
reconcile_plan(struct reconcile *r)
{
	struct plan_input in;
	char err[1024];
	int64_t now = (int64_t)time(NULL);
	size_t i, j, k, np = 0;

	if (markers_load(&r->markers, r->markers_path, err, sizeof err) == -1) {
		vz_error("%s", err);
		probe_join(r);
		return -1;
	}
	if (r->probing)
		probe_join(r);
	else
		cluster_probe(&r->cl);

	r->ppods = xcalloc(r->ndesired ? r->ndesired : 1, sizeof *r->ppods);
	for (i = 0; i < r->ndesired; i++) {
		const struct desired_pod *d = &r->desired[i];
		const struct pod *p = d->pod;
		struct plan_pod *pp = &r->ppods[np];
		struct plan_kv *kv;
		int *ports;
		size_t nports = 0;

		pp->name = p->name;
		pp->replicas = p->replicas;
		pp->max_unavailable = p->max_unavailable;
		if (d->failed) {
			/* Keep what runs; it can still be re-placed. */
			pp->spec_hash = deployed_hash(r, p->name, r->spec_dir);
			if (pp->spec_hash == NULL)
				continue;
		} else
			pp->spec_hash = d->hash;
		for (j = 0; j < p->n_containers; j++) {
			const struct container *c = &p->containers[j];

			pp->mem_request += c->mem_request >= 0 ?
			    c->mem_request : (c->mem_limit >= 0 ?
			    c->mem_limit : 0);
			nports += c->n_ports;
		}
		kv = new_kvs(r, p->node_selector.n);
		for (j = 0; j < p->node_selector.n; j++) {
			kv[j].key = p->node_selector.v[j].key;
			kv[j].value = p->node_selector.v[j].value;
		}
		pp->node_selector = kv;
		pp->n_node_selector = p->node_selector.n;
		ports = new_ports(r, nports);
		for (j = 0; j < p->n_containers; j++)
			for (k = 0; k < p->containers[j].n_ports; k++)
				if (p->containers[j].ports[k].host_port > 0)
					ports[pp->n_host_ports++] =
					    p->containers[j].ports[k].host_port;
		pp->host_ports = ports;
		pp->killed = markers_killed(&r->markers, p->name);
		np++;
	}

	r->pnodes = xcalloc(r->cl.nnodes ? r->cl.nnodes : 1,
	    sizeof *r->pnodes);
	r->running = xcalloc(r->cl.nnodes ? r->cl.nnodes : 1,
	    sizeof *r->running);
	for (i = 0; i < r->cl.nnodes; i++) {
		struct cnode *n = &r->cl.nodes[i];
		struct plan_node *pn = &r->pnodes[i];
		struct plan_kv *kv;

		pn->name = n->host->name;
		pn->vendor = n->host->vendor;
		pn->groups = (const char *const *)n->host->groups;
		pn->ngroups = n->host->ngroups;
		kv = new_kvs(r, n->host->nvars);
		for (j = 0; j < n->host->nvars; j++) {
			kv[j].key = n->host->vars[j].key;
			kv[j].value = n->host->vars[j].value;
		}
		pn->vars = kv;
		pn->nvars = n->host->nvars;
		pn->reachable = n->reachable;
		pn->draining = n->host->drain;
		pn->missed = markers_probe(&r->markers, n->host->name,
		    n->reachable, now);
		if (!n->reachable) {
			pn->npods = markers_last_known(&r->markers,
			    n->host->name, &r->running[i]);
			pn->pods = r->running[i];
			continue;
		}
		pn->mem_total = n->st.mem_total;
		pn->mem_available = n->st.mem_available;
		r->running[i] = xcalloc(n->st.npods ? n->st.npods : 1,
		    sizeof **r->running);
		for (j = 0; j < n->st.npods; j++) {
			const struct node_pod *p = &n->st.pods[j];
			struct plan_running *pr;

			if (p->stopping)
				continue;	/* already going away */
			pr = &r->running[i][pn->npods++];

			pr->pod = p->name;
			pr->spec_hash = p->hash ? p->hash : "";
			pr->healthy = node_pod_healthy(p);
			for (k = 0; k < p->ncontainers; k++)
				if (p->containers[k].memory > 0)
					pr->mem_used += p->containers[k].memory;
		}
		pn->pods = r->running[i];
	}

	plan_input_init(&in);
	in.pods = r->ppods;
	in.npods = np;
	in.nodes = r->pnodes;
	in.nnodes = r->cl.nnodes;
	if (r->grace > 0)
		in.grace = r->grace;
	in.named = r->named;
	in.nnamed = r->nnamed;
	if (plan_compute(&in, &r->plan, err, sizeof err) == -1) {
		vz_error("cannot plan: %s", err);
		return -1;
	}
	r->have_plan = 1;
	/* A pod whose image failed and that never ran must not be stopped
	 * as "removed": it is only missing from this run's input. */
	for (i = 0; i < r->plan.n; i++) {
		struct plan_action *a = &r->plan.actions[i];

		for (j = 0; j < r->ndesired; j++)
			if (r->desired[j].failed && a->op == PLAN_STOP &&
			    a->reason == PLAN_REASON_REMOVED &&
			    strcmp(r->desired[j].pod->name, a->pod) == 0)
				a->op = PLAN_KEEP;
	}
	for (i = 0; i < r->plan.npods; i++)
		if (r->plan.pods[i].unkill)
			markers_unkill(&r->markers, r->plan.pods[i].name);
	return 0;
}

void
reconcile_apply_init(struct reconcile *r, struct apply *a, int timeout_s)
{
	memset(a, 0, sizeof *a);
	a->cl = &r->cl;
	a->store = &r->store;
	a->markers = &r->markers;
	a->desired = r->desired;
	a->ndesired = r->ndesired;
	a->spec_dir = r->spec_dir;
	a->upload_dir = r->upload_dir;
	a->timeout_s = timeout_s;
}

void
reconcile_release(struct reconcile *r)
{
	size_t i, j;

	probe_join(r);
	if (r->have_plan)
		plan_release(&r->plan);
	for (i = 0; i < r->ndesired; i++) {
		buf_release(&r->desired[i].spec);
		free(r->desired[i].image_ids);
		for (j = 0; r->desired[i].refs != NULL &&
		    j < r->desired[i].pod->n_containers; j++)
			free(r->desired[i].refs[j]);
		free(r->desired[i].refs);
	}
	free(r->desired);
	for (i = 0; i < r->nkvs; i++)
		free(r->kvs[i]);
	free(r->kvs);
	for (i = 0; i < r->nports; i++)
		free(r->ports[i]);
	free(r->ports);
	for (i = 0; i < r->cl.nnodes && r->running != NULL; i++)
		free(r->running[i]);
	free(r->running);
	free(r->pnodes);
	free(r->ppods);
	markers_release(&r->markers);
	free(r->markers_path);
	free(r->spec_dir);
	free(r->upload_dir);
	cluster_release(&r->cl);
}

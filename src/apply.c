/*
 * apply: run a plan's actions on the nodes.  See apply.h for the order.
 * Worker threads (one per node per step) share only the upload cache and
 * the result list, both under one mutex; each worker touches only its own
 * node's connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "cluster.h"
#include "fanout.h"
#include "json.h"
#include "progress.h"
#include "ssh.h"
#include "wire.h"

struct upload_cache_entry {
	char			base[65];	/* "" for full */
	char			id[65];
	struct wire_upload	up;
	int			ok;
	char			err[512];
};

struct step_job {
	struct apply		*a;
	struct cnode		*node;
	const struct plan_action **acts;
	size_t			 nacts;
};

static pthread_mutex_t apply_lock = PTHREAD_MUTEX_INITIALIZER;
static struct upload_cache_entry *cache;
static size_t ncache;

/* ---------------------------------------------------------------- specs */

int
spec_store_put(const char *dir, const char *hash, const struct buf *spec,
    char *err, size_t errlen)
{
	char path[4096], tmp[4200];
	int fd;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create '%s': %s", dir,
		    strerror(errno));
		return -1;
	}
	snprintf(path, sizeof path, "%s/%s.json", dir, hash);
	if (access(path, F_OK) == 0)
		return 0;
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 ||
	    write(fd, spec->data, spec->len) != (ssize_t)spec->len ||
	    fsync(fd) == -1 || close(fd) == -1 || rename(tmp, path) == -1) {
		snprintf(err, errlen, "cannot write '%s': %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
spec_store_get(const char *dir, const char *hash, struct buf *spec)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s.json", dir, hash);
	return buf_read_file(spec, path, 4u << 20);
}

/* The spec JSON for a hash: a desired pod's, else the stored one. */
static int
find_spec(struct apply *a, const char *hash, struct buf *out,
    const struct desired_pod **dpp)
{
	size_t i;

	*dpp = NULL;
	for (i = 0; i < a->ndesired; i++)
		if (!a->desired[i].failed &&
		    strcmp(a->desired[i].hash, hash) == 0) {
			*dpp = &a->desired[i];
			buf_add(out, a->desired[i].spec.data,
			    a->desired[i].spec.len);
			return 0;
		}
	return spec_store_get(a->spec_dir, hash, out);
}

/* Image ids a spec needs, with the reference each came from if known. */
static size_t
spec_images(const struct buf *spec, char (*ids)[65], size_t max)
{
	struct json_value *root;
	const struct json_value *cs;
	char err[128];
	size_t i, n = 0;

	if (json_parse(spec->data, spec->len, &root, err, sizeof err) == -1)
		return 0;
	cs = json_get_array(root, "containers");
	for (i = 0; cs != NULL && i < cs->n && n < max; i++) {
		const char *id = json_get_string(cs->items[i], "image");

		if (id != NULL && strlen(id) == 64)
			snprintf(ids[n++], 65, "%s", id);
	}
	json_free(root);
	return n;
}

static const char *
image_ref_of(const struct apply *a, const char *id)
{
	size_t i, j;

	for (i = 0; i < a->ndesired; i++) {
		const struct desired_pod *d = &a->desired[i];

		if (d->failed)
			continue;
		for (j = 0; j < d->pod->n_containers; j++)
			if (strcmp(d->image_ids[j], id) == 0)
				return d->refs[j];
	}
	return NULL;
}

/* ---------------------------------------------------------------- push */

static struct upload_cache_entry *
get_upload(struct apply *a, const char *base, const char *id,
    const char *ref)
{
	struct upload_cache_entry *e;
	char base_tar[4200], tar[4200], cfgpath[4200];
	struct buf cfg = BUF_INIT;
	size_t i;

	for (i = 0; i < ncache; i++)
		if (strcmp(cache[i].base, base) == 0 &&
		    strcmp(cache[i].id, id) == 0)
			return &cache[i];
	cache = xreallocarray(cache, ncache + 1, sizeof *cache);
	e = &cache[ncache++];
	memset(e, 0, sizeof *e);
	snprintf(e->base, sizeof e->base, "%s", base);
	snprintf(e->id, sizeof e->id, "%s", id);
	imgstore_tar_path(a->store, id, tar, sizeof tar);
	imgstore_config_path(a->store, id, cfgpath, sizeof cfgpath);
	if (base[0] != '\0')
		imgstore_tar_path(a->store, base, base_tar, sizeof base_tar);
	if (buf_read_file(&cfg, cfgpath, 1u << 20) == -1) {
		snprintf(e->err, sizeof e->err, "image %.12s: cannot read "
		    "'%s': %s", id, cfgpath, strerror(errno));
		return e;
	}
	if (mkdir(a->upload_dir, 0700) == -1 && errno != EEXIST) {
		snprintf(e->err, sizeof e->err, "cannot create '%s': %s",
		    a->upload_dir, strerror(errno));
		buf_release(&cfg);
		return e;
	}
	if (wire_build(base[0] ? base_tar : NULL, base[0] ? base : NULL, tar,
	    id, ref ? ref : "", cfg.data, a->upload_dir, WIRE_AUTO, &e->up,
	    e->err, sizeof e->err) == 0)
		e->ok = 1;
	buf_release(&cfg);
	return e;
}

struct upload_progress {
	struct vz_progress	*bar;
	uint64_t		 last;
};

static int
progress_cb(void *arg, uint64_t done, uint64_t total)
{
	struct upload_progress *up = arg;

	(void)total;
	if (done > up->last) {
		vz_progress_add(up->bar, done - up->last);
		up->last = done;
	}
	return 0;
}

static int
send_upload(struct apply *a, struct cnode *n, struct upload_cache_entry *e,
    int *import_status, char *err, size_t errlen)
{
	const char *args[] = { "image-import", NULL, NULL };
	char remote[4200], mpath[4200];
	struct vz_ssh_upload u;
	struct upload_progress prog = { a->progress, 0 };
	int fd, status, rc;

	*import_status = -1;
	snprintf(mpath, sizeof mpath, "%s/%s", a->upload_dir,
	    e->up.manifest_name);
	if ((fd = open(mpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || write(fd, e->up.manifest_json,
	    strlen(e->up.manifest_json)) < 0 || close(fd) == -1) {
		snprintf(err, errlen, "cannot write '%s': %s", mpath,
		    strerror(errno));
		return -1;
	}
	memset(&u, 0, sizeof u);
	snprintf(remote, sizeof remote, VZ_NODE_ROOT "/incoming/%s",
	    e->up.file);
	u.local = e->up.path;
	u.remote = remote;
	u.mode = 0600;
	if (a->progress != NULL) {
		vz_progress_add_total(a->progress, e->up.size);
		u.progress = progress_cb;
		u.progress_arg = &prog;
	}
	rc = vz_ssh_upload(n->ssh, &u);
	if (rc != VZ_SSH_OK) {
		snprintf(err, errlen, "%s: uploading image %.12s: %s",
		    n->host->name, e->id, vz_ssh_error(n->ssh));
		return -1;
	}
	memset(&u, 0, sizeof u);
	snprintf(remote, sizeof remote, VZ_NODE_ROOT "/incoming/%s",
	    e->up.manifest_name);
	u.local = mpath;
	u.remote = remote;
	u.mode = 0600;
	u.flags = VZ_SSH_UPLOAD_RESTART;
	if (vz_ssh_upload(n->ssh, &u) != VZ_SSH_OK) {
		snprintf(err, errlen, "%s: uploading manifest: %s",
		    n->host->name, vz_ssh_error(n->ssh));
		return -1;
	}
	pthread_mutex_lock(&apply_lock);
	a->bytes_sent += e->up.size;
	a->bytes_full += e->up.image_size;
	pthread_mutex_unlock(&apply_lock);
	args[1] = e->up.manifest_name;
	rc = cnode_vzexec(n, args, NULL, 0, NULL, &status, err, errlen);
	*import_status = status;
	return rc;
}

/* Make sure the node holds image id; push it if not. */
static int
push_image(struct apply *a, struct cnode *n, const char *id, char *err,
    size_t errlen)
{
	struct upload_cache_entry *e;
	const char **have;
	const char *ref;
	char base[65] = "";
	size_t i;
	int st;

	if (node_state_has_image(&n->st, id))
		return 0;
	ref = image_ref_of(a, id);
	if (ref != NULL && n->st.nimages > 0) {
		have = xcalloc(n->st.nimages, sizeof *have);
		for (i = 0; i < n->st.nimages; i++)
			have[i] = n->st.images[i].id;
		if (imgstore_pick_base(a->store, ref, have, n->st.nimages,
		    base) != 1)
			base[0] = '\0';
		free(have);
	}
	for (;;) {
		pthread_mutex_lock(&apply_lock);
		e = get_upload(a, base, id, ref);
		pthread_mutex_unlock(&apply_lock);
		if (!e->ok) {
			snprintf(err, errlen, "%s: %s", n->host->name, e->err);
			return -1;
		}
		if (send_upload(a, n, e, &st, err, errlen) == 0)
			break;
		if (st == 3 && base[0] != '\0') {
			/* The delta did not rebuild the image: send it whole. */
			struct buf ev = BUF_INIT;

			buf_addf(&ev, "%s: the delta for image %.12s did not "
			    "rebuild it (%s); sent the full image", n->host->name,
			    id, err);
			pthread_mutex_lock(&apply_lock);
			a->events = xreallocarray(a->events, a->nevents + 1,
			    sizeof *a->events);
			a->events[a->nevents++] = buf_detach(&ev, NULL);
			pthread_mutex_unlock(&apply_lock);
			base[0] = '\0';
			continue;
		}
		return -1;
	}
	return cnode_refresh(n, err, errlen);
}

/* ---------------------------------------------------------------- node */

static int
spec_put(struct cnode *n, const char *pod, const struct buf *spec, char *err,
    size_t errlen)
{
	const char *args[] = { "spec-put", pod, NULL };
	int status;

	return cnode_vzexec(n, args, spec->data, spec->len, NULL, &status, err,
	    errlen);
}

static int
spec_rm(struct cnode *n, const char *pod, char *err, size_t errlen)
{
	const char *args[] = { "spec-rm", pod, NULL };
	int status;

	return cnode_vzexec(n, args, NULL, 0, NULL, &status, err, errlen);
}

static char *
log_tail(struct cnode *n, const char *pod)
{
	const char *args[] = { "logs", "-n", "10", pod, NULL };
	struct buf out = BUF_INIT;
	char err[256];
	int status;

	if (cnode_vzexec(n, args, NULL, 0, &out, &status, err,
	    sizeof err) == -1 || out.len == 0) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out, NULL);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Wait until pod runs hash and is healthy (want_gone: until it is gone).
 * A container in backoff or failed is a crash loop: give up at once.
 */
static int
wait_pod(struct cnode *n, const char *pod, const char *hash, int want_gone,
    int timeout_s, char *err, size_t errlen)
{
	double deadline = now_s() + timeout_s;
	const struct node_pod *p;
	size_t i;

	for (;;) {
		if (cnode_refresh(n, err, errlen) == -1)
			return -1;
		p = node_state_pod(&n->st, pod);
		if (want_gone && p == NULL)
			return 0;
		if (!want_gone && p != NULL && p->hash != NULL &&
		    strcmp(p->hash, hash) == 0) {
			if (p->error != NULL) {
				snprintf(err, errlen, "%s: '%s' refused: %s",
				    n->host->name, pod, p->error);
				return -1;
			}
			if (node_pod_healthy(p))
				return 0;
			for (i = 0; i < p->ncontainers; i++) {
				const struct node_container *c =
				    &p->containers[i];

				if (strcmp(c->state, "backoff") == 0 ||
				    strcmp(c->state, "failed") == 0) {
					snprintf(err, errlen, "%s: cannot start "
					    "'%s': container '%s' %s%s%s",
					    n->host->name, pod, c->name,
					    c->state, c->reason ? ": " : "",
					    c->reason ? c->reason : "");
					return -1;
				}
			}
		}
		if (now_s() >= deadline) {
			snprintf(err, errlen, "%s: '%s' not %s after %d s",
			    n->host->name, pod, want_gone ? "stopped" :
			    "running and ready", timeout_s);
			return -1;
		}
		sleep_ms(300);
	}
}

static void
add_result(struct apply *a, const struct plan_action *act, int ok,
    int rolled_back, const char *msg, char *tail)
{
	struct apply_result *r;

	pthread_mutex_lock(&apply_lock);
	a->results = xreallocarray(a->results, a->nresults + 1,
	    sizeof *a->results);
	r = &a->results[a->nresults++];
	memset(r, 0, sizeof *r);
	r->node = xstrdup(act->node);
	r->pod = xstrdup(act->pod);
	r->op = act->op;
	r->reason = act->reason;
	r->hash = act->new_hash ? xstrdup(act->new_hash) : NULL;
	r->ok = ok;
	r->rolled_back = rolled_back;
	r->message = xstrdup(msg);
	r->log_tail = tail;
	if (!ok)
		a->failures++;
	pthread_mutex_unlock(&apply_lock);
}

static int
push_spec_images(struct apply *a, struct cnode *n, const struct buf *spec,
    char *err, size_t errlen)
{
	char ids[64][65];
	size_t i, k = spec_images(spec, ids, 64);

	for (i = 0; i < k; i++)
		if (push_image(a, n, ids[i], err, errlen) == -1)
			return -1;
	return 0;
}

static void
do_start(struct apply *a, struct cnode *n, const struct plan_action *act)
{
	const struct desired_pod *dp;
	struct buf spec = BUF_INIT;
	char err[1024], msg[1200];

	if (find_spec(a, act->new_hash, &spec, &dp) == -1) {
		snprintf(msg, sizeof msg, "%s: no spec for '%s' version %.12s",
		    n->host->name, act->pod, act->new_hash);
		add_result(a, act, 0, 0, msg, NULL);
		goto out;
	}
	if (push_spec_images(a, n, &spec, err, sizeof err) == -1 ||
	    spec_put(n, act->pod, &spec, err, sizeof err) == -1) {
		add_result(a, act, 0, 0, err, NULL);
		goto out;
	}
	if (wait_pod(n, act->pod, act->new_hash, 0, a->timeout_s, err,
	    sizeof err) == -1) {
		char *tail = log_tail(n, act->pod);
		char e2[256];

		/* Roll back: a replica that never became ready goes away,
		   and is gone before the next run may try again. */
		if (spec_rm(n, act->pod, e2, sizeof e2) == 0)
			wait_pod(n, act->pod, NULL, 1, a->timeout_s, e2,
			    sizeof e2);
		add_result(a, act, 0, 1, err, tail);
		goto out;
	}
	snprintf(msg, sizeof msg, "started (%s)",
	    plan_reason_name(act->reason));
	add_result(a, act, 1, 0, msg, NULL);
out:
	buf_release(&spec);
}

/*
 * The spec of the temporary instance POD.next: the same JSON with its
 * top-level name changed.  nodespec_build writes "name" right after
 * "vzspec", so the first "name" member is the pod's.
 */
static int
next_spec(const char *pod, const struct buf *spec, struct buf *out)
{
	struct buf from = BUF_INIT;
	const char *at;
	int rc = -1;

	buf_addf(&from, "\"name\": \"%s\"", pod);
	if ((at = strstr(spec->data, from.data)) != NULL) {
		buf_add(out, spec->data, (size_t)(at - spec->data));
		buf_addf(out, "\"name\": \"%s" VZ_NEXT_SUFFIX "\"", pod);
		buf_adds(out, at + from.len);
		rc = 0;
	}
	buf_release(&from);
	return rc;
}

/*
 * Side by side: start the new version as POD.next, wait until it is
 * ready, switch POD itself to the new version while POD.next serves, then
 * remove POD.next.  The old copy stops only once a new one is ready.
 * Returns 0, or -1 with err and *rolled_back set when the old version
 * runs again (or was never stopped).
 */
static int
update_side_by_side(struct apply *a, struct cnode *n,
    const struct plan_action *act, const struct buf *spec,
    const struct buf *old, int have_old, char *err, size_t errlen,
    int *rolled_back)
{
	struct buf nspec = BUF_INIT, next = BUF_INIT;
	char e2[512];
	int rc = -1;

	*rolled_back = 0;
	buf_addf(&next, "%s" VZ_NEXT_SUFFIX, act->pod);
	if (next_spec(act->pod, spec, &nspec) == -1) {
		snprintf(err, errlen, "%s: '%s': spec without its name",
		    n->host->name, act->pod);
		goto out;
	}
	if (spec_put(n, next.data, &nspec, err, errlen) == -1)
		goto out;
	if (wait_pod(n, next.data, act->new_hash, 0, a->timeout_s, err,
	    errlen) == -1) {
		/* The old copy was never touched. */
		if (spec_rm(n, next.data, e2, sizeof e2) == 0)
			wait_pod(n, next.data, NULL, 1, a->timeout_s, e2,
			    sizeof e2);
		*rolled_back = 1;
		goto out;
	}
	if (spec_put(n, act->pod, spec, err, errlen) == -1 ||
	    wait_pod(n, act->pod, act->new_hash, 0, a->timeout_s, err,
	    errlen) == -1) {
		if (have_old && spec_put(n, act->pod, old, e2,
		    sizeof e2) == 0 && wait_pod(n, act->pod, act->old_hash, 0,
		    a->timeout_s, e2, sizeof e2) == 0)
			*rolled_back = 1;
		if (spec_rm(n, next.data, e2, sizeof e2) == 0)
			wait_pod(n, next.data, NULL, 1, a->timeout_s, e2,
			    sizeof e2);
		goto out;
	}
	if (spec_rm(n, next.data, err, errlen) == -1 ||
	    wait_pod(n, next.data, NULL, 1, a->timeout_s, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	buf_release(&nspec);
	buf_release(&next);
	return rc;
}

static void
do_update(struct apply *a, struct cnode *n, const struct plan_action *act)
{
	const struct desired_pod *dp;
	struct buf spec = BUF_INIT, old = BUF_INIT;
	char err[1024], e2[512], msg[1200];
	int have_old;

	if (find_spec(a, act->new_hash, &spec, &dp) == -1) {
		snprintf(msg, sizeof msg, "%s: no spec for '%s' version %.12s",
		    n->host->name, act->pod, act->new_hash);
		add_result(a, act, 0, 0, msg, NULL);
		goto out;
	}
	have_old = act->old_hash != NULL &&
	    find_spec(a, act->old_hash, &old, &dp) == 0;
	/* Images first: a failed push must not touch what runs. */
	if (push_spec_images(a, n, &spec, err, sizeof err) == -1) {
		add_result(a, act, 0, 0, err, NULL);
		goto out;
	}
	if (act->mode == PLAN_SIDE_BY_SIDE) {
		int rolled;

		if (update_side_by_side(a, n, act, &spec, &old, have_old, err,
		    sizeof err, &rolled) == 0) {
			snprintf(msg, sizeof msg, "updated %.12s -> %.12s "
			    "(side by side)", act->old_hash ? act->old_hash :
			    "?", act->new_hash);
			add_result(a, act, 1, 0, msg, NULL);
		} else {
			char nextname[128];

			snprintf(nextname, sizeof nextname, "%s" VZ_NEXT_SUFFIX,
			    act->pod);
			snprintf(msg, sizeof msg, "%s; %s", err, rolled ?
			    "the old version kept serving" :
			    "rollback failed");
			add_result(a, act, 0, rolled, msg,
			    log_tail(n, nextname));
		}
		goto out;
	}
	if (spec_put(n, act->pod, &spec, err, sizeof err) == -1) {
		add_result(a, act, 0, 0, err, NULL);
		goto out;
	}
	if (wait_pod(n, act->pod, act->new_hash, 0, a->timeout_s, err,
	    sizeof err) == 0) {
		snprintf(msg, sizeof msg, "updated %.12s -> %.12s",
		    act->old_hash ? act->old_hash : "?", act->new_hash);
		add_result(a, act, 1, 0, msg, NULL);
		goto out;
	}
	{
		char *tail = log_tail(n, act->pod);
		int rolled = 0;

		if (have_old && spec_put(n, act->pod, &old, e2,
		    sizeof e2) == 0 && wait_pod(n, act->pod, act->old_hash, 0,
		    a->timeout_s, e2, sizeof e2) == 0)
			rolled = 1;
		if (rolled)
			snprintf(msg, sizeof msg, "%s; rolled back to %.12s",
			    err, act->old_hash);
		else
			snprintf(msg, sizeof msg, "%s; rollback failed: %s",
			    err, have_old ? e2 : "previous spec unknown");
		add_result(a, act, 0, rolled, msg, tail);
	}
out:
	buf_release(&spec);
	buf_release(&old);
}

static void
do_stop(struct apply *a, struct cnode *n, const struct plan_action *act)
{
	char err[1024], msg[256];

	if (spec_rm(n, act->pod, err, sizeof err) == -1 ||
	    wait_pod(n, act->pod, NULL, 1, a->timeout_s, err,
	    sizeof err) == -1) {
		add_result(a, act, 0, 0, err, NULL);
		return;
	}
	snprintf(msg, sizeof msg, "stopped (%s)", plan_reason_name(act->reason));
	add_result(a, act, 1, 0, msg, NULL);
}

static int
step_node(struct vz_fanout_job *job, void *arg)
{
	struct step_job *sj = job->arg;
	size_t i;

	(void)arg;
	for (i = 0; i < sj->nacts; i++) {
		const struct plan_action *act = sj->acts[i];

		if (sj->node->ssh == NULL) {
			add_result(sj->a, act, 0, 0, "connection lost", NULL);
			continue;
		}
		switch (act->op) {
		case PLAN_START:
			do_start(sj->a, sj->node, act);
			break;
		case PLAN_UPDATE:
			do_update(sj->a, sj->node, act);
			break;
		case PLAN_STOP:
			do_stop(sj->a, sj->node, act);
			break;
		case PLAN_KEEP:
			break;
		}
	}
	return 0;
}

/* Did any action of pod fail so far in this run? */
static int
pod_failed(const struct apply *a, const char *pod)
{
	size_t i;

	for (i = 0; i < a->nresults; i++)
		if (!a->results[i].ok && strcmp(a->results[i].pod, pod) == 0)
			return 1;
	return 0;
}

static void
run_step(struct apply *a, const struct plan *p, enum plan_phase phase,
    int wave)
{
	struct step_job *sj = xcalloc(a->cl->nnodes, sizeof *sj);
	struct vz_fanout_job *jobs = xcalloc(a->cl->nnodes, sizeof *jobs);
	size_t i, k, njobs = 0;
	char err[256];

	for (i = 0; i < p->n; i++) {
		const struct plan_action *act = &p->actions[i];
		struct cnode *n;

		if (act->phase != phase || act->wave != wave ||
		    act->op == PLAN_KEEP)
			continue;
		if (phase == PLAN_PHASE_EXTRA && pod_failed(a, act->pod))
			continue;	/* keep the old copies serving */
		if (phase == PLAN_PHASE_UPDATE && pod_failed(a, act->pod)) {
			/* A version that failed on one node is not tried on
			   the next: the rest keep the old one. */
			add_result(a, act, 0, 0, "update not attempted: it "
			    "failed on an earlier node", NULL);
			continue;
		}
		if ((n = cluster_node(a->cl, act->node)) == NULL)
			continue;
		k = (size_t)(n - a->cl->nodes);
		sj[k].a = a;
		sj[k].node = n;
		sj[k].acts = xreallocarray(sj[k].acts, sj[k].nacts + 1,
		    sizeof *sj[k].acts);
		sj[k].acts[sj[k].nacts++] = act;
	}
	for (k = 0; k < a->cl->nnodes; k++) {
		if (sj[k].nacts == 0)
			continue;
		jobs[njobs].name = sj[k].node->host->name;
		jobs[njobs].arg = &sj[k];
		njobs++;
	}
	if (njobs > 0 && vz_fanout_run(jobs, njobs, a->cl->ctx->jobs,
	    step_node, NULL, err, sizeof err) == -1) {
		/* no worker could start: every action of the step failed */
		for (k = 0; k < njobs; k++) {
			struct step_job *j = jobs[k].arg;
			size_t m;

			for (m = 0; m < j->nacts; m++)
				add_result(a, j->acts[m], 0, 0, err, NULL);
		}
	}
	for (k = 0; k < a->cl->nnodes; k++)
		free(sj[k].acts);
	free(sj);
	free(jobs);
}

/*
 * Before any wave: push, to every node in parallel, the images its starts
 * and updates will need.  The rolling switch stays one node at a time,
 * but no wave waits for a transfer.  A push that fails here is tried
 * again, and reported, by the action itself.
 */
static int
stage_node(struct vz_fanout_job *job, void *arg)
{
	struct step_job *sj = job->arg;
	const struct desired_pod *dp;
	struct buf spec = BUF_INIT;
	char err[1024];
	size_t i;

	(void)arg;
	for (i = 0; i < sj->nacts && sj->node->ssh != NULL; i++) {
		buf_reset(&spec);
		if (find_spec(sj->a, sj->acts[i]->new_hash, &spec, &dp) == 0)
			(void)push_spec_images(sj->a, sj->node, &spec, err,
			    sizeof err);
	}
	buf_release(&spec);
	return 0;
}

static void
stage_images(struct apply *a, const struct plan *p)
{
	struct step_job *sj = xcalloc(a->cl->nnodes, sizeof *sj);
	struct vz_fanout_job *jobs = xcalloc(a->cl->nnodes, sizeof *jobs);
	size_t i, k, njobs = 0;
	char err[256];

	for (i = 0; i < p->n; i++) {
		const struct plan_action *act = &p->actions[i];
		struct cnode *n;

		if ((act->op != PLAN_START && act->op != PLAN_UPDATE) ||
		    act->new_hash == NULL ||
		    (n = cluster_node(a->cl, act->node)) == NULL)
			continue;
		k = (size_t)(n - a->cl->nodes);
		sj[k].a = a;
		sj[k].node = n;
		sj[k].acts = xreallocarray(sj[k].acts, sj[k].nacts + 1,
		    sizeof *sj[k].acts);
		sj[k].acts[sj[k].nacts++] = act;
	}
	for (k = 0; k < a->cl->nnodes; k++)
		if (sj[k].nacts > 0) {
			jobs[njobs].name = sj[k].node->host->name;
			jobs[njobs].arg = &sj[k];
			njobs++;
		}
	if (njobs > 1)	/* one node: the action pushes just the same */
		(void)vz_fanout_run(jobs, njobs, a->cl->ctx->jobs, stage_node,
		    NULL, err, sizeof err);
	for (k = 0; k < a->cl->nnodes; k++)
		free(sj[k].acts);
	free(sj);
	free(jobs);
}

int
apply_plan(struct apply *a, const struct plan *p)
{
	static const enum plan_phase phases[] = {
		PLAN_PHASE_RETIRE, PLAN_PHASE_START, PLAN_PHASE_UPDATE,
		PLAN_PHASE_EXTRA
	};
	size_t i, j;
	int maxwave;

	stage_images(a, p);
	for (i = 0; i < sizeof phases / sizeof phases[0]; i++) {
		maxwave = 0;
		for (j = 0; j < p->n; j++)
			if (p->actions[j].phase == phases[i] &&
			    p->actions[j].wave > maxwave)
				maxwave = p->actions[j].wave;
		for (j = 0; j <= (size_t)maxwave; j++)
			run_step(a, p, phases[i], (int)j);
	}
	for (i = 0; i < ncache; i++) {
		unlink(cache[i].up.path);
		wire_upload_release(&cache[i].up);
	}
	free(cache);
	cache = NULL;
	ncache = 0;
	return a->failures;
}

void
apply_release(struct apply *a)
{
	size_t i;

	for (i = 0; i < a->nresults; i++) {
		free(a->results[i].node);
		free(a->results[i].pod);
		free(a->results[i].message);
		free(a->results[i].hash);
		free(a->results[i].log_tail);
	}
	free(a->results);
	a->results = NULL;
	a->nresults = 0;
	for (i = 0; i < a->nevents; i++)
		free(a->events[i]);
	free(a->events);
	a->events = NULL;
	a->nevents = 0;
}

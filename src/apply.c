/*
 * apply: run a plan's actions on the nodes.  See apply.h for the order.
 * Worker threads (one per node per step) share only the upload cache and
 * the result list, both under one mutex; each worker touches only its own
 * node's connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
	char			stream[4200];	/* manifest line + payload */
	uint64_t		stream_size;
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
static pthread_cond_t staged_cond = PTHREAD_COND_INITIALIZER;
/* Entries are allocated one by one: a thread sends from its entry
   outside apply_lock while another adds one. */
static struct upload_cache_entry **cache;
static size_t ncache;
static int *staged;		/* per node index: its images are pushed */

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

/*
 * What `vzexec image-import --stdin` reads: the manifest on one line, then
 * the payload.  Built once per upload and sent to every node that needs
 * it; the payload is copied by the kernel (copy_file_range).
 */
static int
write_stream(struct apply *a, struct upload_cache_entry *e)
{
	int in = -1, out = -1, rc = -1;
	uint64_t left = e->up.size;
	size_t mlen = strlen(e->up.manifest_json);
	ssize_t n;

	snprintf(e->stream, sizeof e->stream, "%s/%s.stream", a->upload_dir,
	    e->up.manifest_name);
	if ((in = open(e->up.path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (out = open(e->stream, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 ||
	    write(out, e->up.manifest_json, mlen) != (ssize_t)mlen ||
	    write(out, "\n", 1) != 1)
		goto fail;
	while (left > 0) {
		n = copy_file_range(in, NULL, out, NULL, left, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EXDEV || errno == ENOSYS ||
		    errno == EINVAL || errno == EOPNOTSUPP)) {
			char chunk[65536];

			n = read(in, chunk, sizeof chunk);
			if (n > 0 && write(out, chunk, (size_t)n) != n)
				goto fail;
		}
		if (n <= 0)
			goto fail;
		left -= (uint64_t)n;
	}
	if (close(out) == -1) {
		out = -1;
		goto fail;
	}
	out = -1;
	e->stream_size = mlen + 1 + e->up.size;
	/* the payload file is no longer needed: the stream holds it */
	unlink(e->up.path);
	rc = 0;
	goto out;
fail:
	snprintf(e->err, sizeof e->err, "cannot write '%s': %s", e->stream,
	    errno ? strerror(errno) : "short copy");
	unlink(e->stream);
	e->stream[0] = '\0';
out:
	if (in != -1)
		close(in);
	if (out != -1)
		close(out);
	return rc;
}

static struct upload_cache_entry *
get_upload(struct apply *a, const char *base, const char *id,
    const char *ref)
{
	struct upload_cache_entry *e;
	char base_tar[4200], tar[4200], cfgpath[4200];
	struct buf cfg = BUF_INIT;
	size_t i;

	for (i = 0; i < ncache; i++)
		if (strcmp(cache[i]->base, base) == 0 &&
		    strcmp(cache[i]->id, id) == 0)
			return cache[i];
	cache = xreallocarray(cache, ncache + 1, sizeof *cache);
	e = cache[ncache++] = xcalloc(1, sizeof *e);
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
	    e->err, sizeof e->err) == 0 && write_stream(a, e) == 0)
		e->ok = 1;
	buf_release(&cfg);
	return e;
}

/* The progress bar follows the bytes written to the node's stdin. */
struct fed_count {
	struct vz_progress	*bar;
	uint64_t		 shown;
};

static void
stream_fed(void *arg, uint64_t done, uint64_t total)
{
	struct fed_count *f = arg;

	(void)total;
	if (done > f->shown) {
		vz_progress_add(f->bar, done - f->shown);
		f->shown = done;
	}
}

/*
 * One exec: `vzexec image-import --stdin` reads the stream as it arrives,
 * so the transfer, the decompression and the unpacking overlap and the
 * node writes no payload file.
 */
static void
add_event(struct apply *a, struct buf *ev)
{
	pthread_mutex_lock(&apply_lock);
	a->events = xreallocarray(a->events, a->nevents + 1,
	    sizeof *a->events);
	a->events[a->nevents++] = buf_detach(ev, NULL);
	pthread_mutex_unlock(&apply_lock);
}

static int
send_upload(struct apply *a, struct cnode *n, struct upload_cache_entry *e,
    int *import_status, char *err, size_t errlen)
{
	/* --gc: old unused images go in the same exec (vzexec(8)) */
	static const char *const args[] = { "image-import", "--gc", "--stdin",
		NULL };
	struct fed_count fed;
	struct buf out = BUF_INIT;
	struct json_value *doc = NULL;
	const char *gcerr;
	char jerr[128];
	void *map = MAP_FAILED;
	int fd, rc = -1;

	*import_status = -1;
	if ((fd = open(e->stream, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (map = mmap(NULL, e->stream_size, PROT_READ, MAP_PRIVATE, fd,
	    0)) == MAP_FAILED) {
		snprintf(err, errlen, "cannot read '%s': %s", e->stream,
		    strerror(errno));
		goto out;
	}
	fed.bar = a->progress;
	fed.shown = 0;
	if (a->progress != NULL)
		vz_progress_add_total(a->progress, e->stream_size);
	rc = cnode_vzexec_fed(n, args, map, e->stream_size, &out,
	    import_status, 0, a->progress ? stream_fed : NULL, &fed, err,
	    errlen);
	if (rc == 0 && json_parse(out.data, out.len, &doc, jerr,
	    sizeof jerr) == 0 && (gcerr = json_get_string(doc, "gcError")) !=
	    NULL) {
		struct buf ev = BUF_INIT;

		buf_addf(&ev, "%s: old images were not removed: %s",
		    n->host->name, gcerr);
		add_event(a, &ev);
	}
	/* whatever was not acknowledged as written (a failed push) */
	if (a->progress != NULL && fed.shown < e->stream_size)
		vz_progress_add(a->progress, e->stream_size - fed.shown);
	if (rc == 0) {
		pthread_mutex_lock(&apply_lock);
		a->bytes_sent += e->up.size;
		a->bytes_full += e->up.image_size;
		pthread_mutex_unlock(&apply_lock);
	}
out:
	json_free(doc);
	buf_release(&out);
	if (map != MAP_FAILED)
		munmap(map, e->stream_size);
	if (fd != -1)
		close(fd);
	return rc;
}

/* Say something that is not a result (takes ev's text). */

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
			add_event(a, &ev);
			base[0] = '\0';
			continue;
		}
		return -1;
	}
	/* The node has it now: no status round trip to learn that. */
	n->st.images = xreallocarray(n->st.images, n->st.nimages + 1,
	    sizeof *n->st.images);
	n->st.images[n->st.nimages].id = xstrdup(id);
	n->st.images[n->st.nimages].ref = ref != NULL ? xstrdup(ref) : NULL;
	n->st.nimages++;
	return 0;
}

/* ---------------------------------------------------------------- node */

/* Exit codes of vzexec spec-put/spec-rm/wait --wait (vzexec(8)). */
#define NODE_WAIT_TIMEOUT	4
#define NODE_WAIT_FAILED	5

/* "NODE: vzexec VERB: message" -> "NODE: message" for the node's verdicts. */
static void
drop_verb(char *err, const char *verb)
{
	char pat[64];
	char *at;

	snprintf(pat, sizeof pat, ": vzexec %s: ", verb);
	if ((at = strstr(err, pat)) != NULL)
		memmove(at + 2, at + strlen(pat), strlen(at + strlen(pat)) + 1);
}

/*
 * One exec per switch: the node writes (spec-put) or removes (spec-rm) the
 * pod's spec and itself waits until the pod runs that version and is
 * ready, or is gone; it gives up at once on a crash loop.  Its status at
 * the end becomes n->st.
 */
/*
 * A switch's exec started ahead (see prestart()): the spec-put of a wave's
 * node runs on the node, waiting for its spec, while the wave before runs
 * elsewhere, so the wave costs the switch and not also the channel, sshd,
 * the shell and sudo (two round trips and about 20 ms of a small node's
 * CPU, in series, per wave).
 */
struct prestart {
	int			 active;
	const struct plan_action *act;
	struct buf		 spec;
	char			 secs[16];
	const char		*args[5];
	struct cnode_exec	 x;
};
static struct prestart *pre;	/* per node index, NULL outside apply */

static struct prestart *
prestart_of(struct apply *a, struct cnode *n)
{
	struct prestart *ps;

	if (pre == NULL)
		return NULL;
	ps = &pre[n - a->cl->nodes];
	return ps->active ? ps : NULL;
}

static int
node_run(struct apply *a, struct cnode *n, const char *verb,
    const char *pod, const struct buf *spec, char *err, size_t errlen)
{
	const char *args[] = { verb, "--wait", NULL, pod, NULL };
	struct prestart *ps = prestart_of(a, n);
	struct buf out = BUF_INIT;
	char secs[16], e2[256];
	int status, rc;

	snprintf(secs, sizeof secs, "%d", a->timeout_s);
	args[2] = secs;
	if (ps != NULL && strcmp(verb, "spec-put") == 0 && spec != NULL &&
	    strcmp(ps->act->pod, pod) == 0 && ps->spec.len == spec->len &&
	    memcmp(ps->spec.data, spec->data, spec->len) == 0) {
		ps->active = 0;
		rc = cnode_vzexec_finish(n, &ps->x, &out, &status, err,
		    errlen);
		buf_release(&ps->spec);
	} else if (ps != NULL) {
		snprintf(err, errlen, "%s: a started '%s' is pending",
		    n->host->name, ps->act->pod);
		return -1;	/* not reached: see prestart() */
	} else
		rc = cnode_vzexec_timed(n, args, spec ? spec->data : NULL,
		    spec ? spec->len : 0, &out, &status,
		    (a->timeout_s + 30) * 1000, err, errlen);
	if (out.len > 0 && cnode_take_status(n, out.data, out.len, e2,
	    sizeof e2) == -1 && rc == 0) {
		snprintf(err, errlen, "%s", e2);
		rc = -1;
	}
	if (rc == -1 && (status == NODE_WAIT_TIMEOUT ||
	    status == NODE_WAIT_FAILED))
		drop_verb(err, verb);
	buf_release(&out);
	return rc;
}

static int
put_wait(struct apply *a, struct cnode *n, const char *pod,
    const struct buf *spec, char *err, size_t errlen)
{
	return node_run(a, n, "spec-put", pod, spec, err, errlen);
}

static int
rm_wait(struct apply *a, struct cnode *n, const char *pod, char *err,
    size_t errlen)
{
	return node_run(a, n, "spec-rm", pod, NULL, err, errlen);
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
	if (push_spec_images(a, n, &spec, err, sizeof err) == -1) {
		add_result(a, act, 0, 0, err, NULL);
		goto out;
	}
	if (put_wait(a, n, act->pod, &spec, err, sizeof err) == -1) {
		char *tail = log_tail(n, act->pod);
		char e2[256];
		int rolled;

		/* Roll back: a replica that never became ready goes away,
		   and is gone before the next run may try again.  On a node
		   gone mid-way that cannot be done (nor known): the next run
		   that reaches it stops what is no longer placed there. */
		rolled = rm_wait(a, n, act->pod, e2, sizeof e2) == 0;
		if (!rolled && n->ssh != NULL) {
			snprintf(msg, sizeof msg, "%s; not removed: %s", err,
			    e2);
			add_result(a, act, 0, 0, msg, tail);
		} else
			add_result(a, act, 0, rolled, err, tail);
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
	if (put_wait(a, n, next.data, &nspec, err, errlen) == -1) {
		/* The old copy was never touched. */
		(void)rm_wait(a, n, next.data, e2, sizeof e2);
		*rolled_back = 1;
		goto out;
	}
	if (put_wait(a, n, act->pod, spec, err, errlen) == -1) {
		if (have_old && put_wait(a, n, act->pod, old, e2,
		    sizeof e2) == 0)
			*rolled_back = 1;
		(void)rm_wait(a, n, next.data, e2, sizeof e2);
		goto out;
	}
	if (rm_wait(a, n, next.data, err, errlen) == -1)
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
	if (put_wait(a, n, act->pod, &spec, err, sizeof err) == 0) {
		snprintf(msg, sizeof msg, "updated %.12s -> %.12s",
		    act->old_hash ? act->old_hash : "?", act->new_hash);
		add_result(a, act, 1, 0, msg, NULL);
		goto out;
	}
	{
		char *tail = log_tail(n, act->pod);
		int rolled = 0;

		if (have_old && put_wait(a, n, act->pod, &old, e2,
		    sizeof e2) == 0)
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

	if (rm_wait(a, n, act->pod, err, sizeof err) == -1) {
		add_result(a, act, 0, 0, err, NULL);
		return;
	}
	snprintf(msg, sizeof msg, "stopped (%s)", plan_reason_name(act->reason));
	add_result(a, act, 1, 0, msg, NULL);
}

/*
 * A node whose vzexec predates what deploy sends is left alone, with a
 * message that says how to upgrade it: half an update on a node that
 * cannot finish it would be worse.
 */
static int
node_too_old(const struct cnode *n, char *err, size_t errlen)
{
	return cnode_too_old(n, VZEXEC_NODE_MIN_VERSION, "this vzmaster", err,
	    errlen);
}

/* The node's connection is the staging thread's until its push is done. */
static void
wait_staged(struct apply *a, struct cnode *n)
{
	size_t k = (size_t)(n - a->cl->nodes);

	pthread_mutex_lock(&apply_lock);
	while (staged != NULL && !staged[k])
		pthread_cond_wait(&staged_cond, &apply_lock);
	pthread_mutex_unlock(&apply_lock);
}

static int
step_node(struct vz_fanout_job *job, void *arg)
{
	struct step_job *sj = job->arg;
	char old[512];
	size_t i;

	(void)arg;
	wait_staged(sj->a, sj->node);
	for (i = 0; i < sj->nacts; i++) {
		const struct plan_action *act = sj->acts[i];

		if (sj->node->ssh == NULL) {
			cnode_not_connected(sj->node, old, sizeof old);
			add_result(sj->a, act, 0, 0, old, NULL);
			continue;
		}
		if (node_too_old(sj->node, old, sizeof old)) {
			add_result(sj->a, act, 0, 0, old, NULL);
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

/* Does a plain spec-put start act (stop-first), with nothing pushed? */
static int
prestartable(struct apply *a, const struct plan_action *act, struct cnode *n,
    struct buf *spec)
{
	const struct desired_pod *dp;
	char ids[64][65], why[512];
	size_t i, k;
	int failed;

	pthread_mutex_lock(&apply_lock);	/* the wave adds results */
	failed = pod_failed(a, act->pod);
	pthread_mutex_unlock(&apply_lock);
	if (failed || act->op != PLAN_UPDATE ||
	    act->mode == PLAN_SIDE_BY_SIDE || act->new_hash == NULL ||
	    n->ssh == NULL || !vz_ssh_is_muxed(n->ssh) ||
	    node_too_old(n, why, sizeof why) ||
	    find_spec(a, act->new_hash, spec, &dp) == -1)
		return 0;
	k = spec_images(spec, ids, 64);
	for (i = 0; i < k; i++)
		if (!node_state_has_image(&n->st, ids[i]))
			return 0;	/* do_update pushes first */
	return 1;
}

/*
 * While wave `wave` runs, start the spec-puts of the next wave on the
 * nodes that take no part in this one, once their images are pushed and
 * on them, and that have that one action only in the next wave: nothing
 * else then uses their connections until the next wave finishes what was
 * started.  Runs in a thread of its own, beside the wave's.
 */
static void
prestart(struct apply *a, const struct plan *p, enum plan_phase phase,
    int wave)
{
	size_t i, j, k, cnt;
	struct cnode *n;
	char err[512];

	if (pre == NULL || phase != PLAN_PHASE_UPDATE)
		return;
	for (i = 0; i < p->n; i++) {
		const struct plan_action *act = &p->actions[i];
		struct prestart *ps;

		if (act->phase != phase || act->wave != wave + 1 ||
		    (n = cluster_node(a->cl, act->node)) == NULL)
			continue;
		k = (size_t)(n - a->cl->nodes);
		for (j = 0, cnt = 0; j < p->n; j++) {
			const struct plan_action *o = &p->actions[j];

			if (o->op == PLAN_KEEP || strcmp(o->node, act->node) != 0)
				continue;
			if (o->phase == phase && (o->wave == wave ||
			    o->wave == wave + 1))
				cnt++;
		}
		ps = &pre[k];
		if (cnt != 1 || ps->active)
			continue;
		wait_staged(a, n);
		buf_reset(&ps->spec);
		if (!prestartable(a, act, n, &ps->spec))
			continue;
		snprintf(ps->secs, sizeof ps->secs, "%d", a->timeout_s);
		ps->args[0] = "spec-put";
		ps->args[1] = "--wait";
		ps->args[2] = ps->secs;
		ps->args[3] = act->pod;
		ps->args[4] = NULL;
		/* it waits for its stdin through the wave before, too */
		if (cnode_vzexec_start(n, &ps->x, ps->args, ps->spec.data,
		    ps->spec.len, 3 * (a->timeout_s + 30) * 1000, err,
		    sizeof err) == 0) {
			ps->act = act;
			ps->active = 1;
		}
	}
}

/*
 * A started spec-put of wave upto or before that its wave did not use (the
 * pod failed on an earlier node): send blanks of the announced length,
 * which the node refuses as malformed JSON, changing nothing.
 */
static void
prestart_cancel(struct apply *a, int upto)
{
	struct buf out = BUF_INIT;
	char err[512], *blank;
	size_t k;
	int status;

	for (k = 0; pre != NULL && k < a->cl->nnodes; k++) {
		struct prestart *ps = &pre[k];

		if (!ps->active || ps->act->wave > upto)
			continue;
		ps->active = 0;
		blank = xmalloc(ps->spec.len + 1);
		memset(blank, ' ', ps->spec.len);
		ps->x.cmd.in = blank;
		(void)cnode_vzexec_finish(&a->cl->nodes[k], &ps->x, &out,
		    &status, err, sizeof err);
		free(blank);
		buf_reset(&out);
		buf_release(&ps->spec);
	}
	buf_release(&out);
}

struct prestart_job {
	struct apply		*a;
	const struct plan	*p;
	enum plan_phase		 phase;
	int			 wave;
};

static void *
prestart_main(void *arg)
{
	struct prestart_job *pj = arg;

	prestart(pj->a, pj->p, pj->phase, pj->wave);
	return NULL;
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
 * Before and during the waves: push, to every node in parallel, the images
 * its starts and updates will need.  The rolling switch stays one node at
 * a time, but it only waits for its own node's transfer, never for the
 * others'.  A push that fails here is tried again, and reported, by the
 * action itself.
 */
struct stage {
	struct apply		*a;
	struct step_job		*sj;
	struct vz_fanout_job	*jobs;
	size_t			 njobs;
	pthread_t		 thread;
	int			 running;
};

static void
mark_staged(struct apply *a, struct cnode *n)
{
	pthread_mutex_lock(&apply_lock);
	staged[n - a->cl->nodes] = 1;
	pthread_cond_broadcast(&staged_cond);
	pthread_mutex_unlock(&apply_lock);
}

static int
stage_node(struct vz_fanout_job *job, void *arg)
{
	struct step_job *sj = job->arg;
	const struct desired_pod *dp;
	struct buf spec = BUF_INIT;
	char err[1024];
	size_t i;

	(void)arg;
	if (node_too_old(sj->node, err, sizeof err))
		sj->nacts = 0;	/* step_node says why */
	for (i = 0; i < sj->nacts && sj->node->ssh != NULL; i++) {
		buf_reset(&spec);
		if (find_spec(sj->a, sj->acts[i]->new_hash, &spec, &dp) == 0)
			(void)push_spec_images(sj->a, sj->node, &spec, err,
			    sizeof err);
	}
	buf_release(&spec);
	mark_staged(sj->a, sj->node);
	return 0;
}

static void *
stage_main(void *arg)
{
	struct stage *st = arg;
	char err[256];
	size_t k;

	(void)vz_fanout_run(st->jobs, st->njobs, st->a->cl->ctx->jobs,
	    stage_node, NULL, err, sizeof err);
	/* whatever happened, no wave waits any longer */
	pthread_mutex_lock(&apply_lock);
	for (k = 0; k < st->a->cl->nnodes; k++)
		staged[k] = 1;
	pthread_cond_broadcast(&staged_cond);
	pthread_mutex_unlock(&apply_lock);
	return NULL;
}

static void
stage_start(struct apply *a, const struct plan *p, struct stage *st)
{
	size_t i, k;

	memset(st, 0, sizeof *st);
	st->a = a;
	staged = xcalloc(a->cl->nnodes ? a->cl->nnodes : 1, sizeof *staged);
	st->sj = xcalloc(a->cl->nnodes ? a->cl->nnodes : 1, sizeof *st->sj);
	st->jobs = xcalloc(a->cl->nnodes ? a->cl->nnodes : 1,
	    sizeof *st->jobs);
	for (i = 0; i < p->n; i++) {
		const struct plan_action *act = &p->actions[i];
		struct cnode *n;

		if ((act->op != PLAN_START && act->op != PLAN_UPDATE) ||
		    act->new_hash == NULL ||
		    (n = cluster_node(a->cl, act->node)) == NULL)
			continue;
		k = (size_t)(n - a->cl->nodes);
		st->sj[k].a = a;
		st->sj[k].node = n;
		st->sj[k].acts = xreallocarray(st->sj[k].acts,
		    st->sj[k].nacts + 1, sizeof *st->sj[k].acts);
		st->sj[k].acts[st->sj[k].nacts++] = act;
	}
	for (k = 0; k < a->cl->nnodes; k++)
		if (st->sj[k].nacts > 0) {
			st->jobs[st->njobs].name = st->sj[k].node->host->name;
			st->jobs[st->njobs].arg = &st->sj[k];
			st->njobs++;
		} else
			staged[k] = 1;
	/* One node: its actions push just the same, in order. */
	if (st->njobs > 1 &&
	    pthread_create(&st->thread, NULL, stage_main, st) == 0) {
		st->running = 1;
		return;
	}
	for (k = 0; k < a->cl->nnodes; k++)
		staged[k] = 1;
}

static void
stage_finish(struct apply *a, struct stage *st)
{
	size_t k;

	if (st->running)
		pthread_join(st->thread, NULL);
	for (k = 0; k < a->cl->nnodes; k++)
		free(st->sj[k].acts);
	free(st->sj);
	free(st->jobs);
	free(staged);
	staged = NULL;
}

int
apply_plan(struct apply *a, const struct plan *p)
{
	static const enum plan_phase phases[] = {
		PLAN_PHASE_RETIRE, PLAN_PHASE_START, PLAN_PHASE_UPDATE,
		PLAN_PHASE_EXTRA
	};
	struct stage st;
	size_t i, j;
	int maxwave;

	stage_start(a, p, &st);
	pre = xcalloc(a->cl->nnodes ? a->cl->nnodes : 1, sizeof *pre);
	for (i = 0; i < sizeof phases / sizeof phases[0]; i++) {
		maxwave = 0;
		for (j = 0; j < p->n; j++)
			if (p->actions[j].phase == phases[i] &&
			    p->actions[j].wave > maxwave)
				maxwave = p->actions[j].wave;
		for (j = 0; j <= (size_t)maxwave; j++) {
			struct prestart_job pj = { a, p, phases[i], (int)j };
			pthread_t t;
			int started = phases[i] == PLAN_PHASE_UPDATE &&
			    (int)j < maxwave &&
			    pthread_create(&t, NULL, prestart_main, &pj) == 0;

			run_step(a, p, phases[i], (int)j);
			if (started)
				pthread_join(t, NULL);
			/* what wave j did not take: only wave j + 1's remain */
			prestart_cancel(a, (int)j);
		}
		prestart_cancel(a, INT_MAX);
	}
	for (i = 0; i < a->cl->nnodes; i++)
		buf_release(&pre[i].spec);
	free(pre);
	pre = NULL;
	stage_finish(a, &st);
	for (i = 0; i < ncache; i++) {
		unlink(cache[i]->up.path);
		if (cache[i]->stream[0] != '\0')
			unlink(cache[i]->stream);
		wire_upload_release(&cache[i]->up);
		free(cache[i]);
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

/*
 * podwait: waiting on the node for a pod to be ready or gone, so that a
 * rolling switch costs the master one SSH exec (spec-put --wait) instead
 * of a spec-put followed by status polls.  It owns the verb
 *   vzexec wait [--root DIR] [--timeout S] POD HASH | POD --gone
 * and the waiting behind spec-put --wait and spec-rm --wait.
 *
 * The judge reads exactly what `vzexec status` reports for the pod (the
 * same code writes it) and applies the master's node_pod_healthy() rule,
 * stricter in one point: every container must run this very hash, since
 * right after a spec-put the old containers still run under the new
 * spec's name until the supervisor has heard the SIGHUP.
 *
 * Waking: inotify on the folders the supervisor renames its state files
 * into (and pods/), plus a fallback timer from 10 ms growing to 100 ms
 * for what inotify cannot see (a process that died, no inotify at all).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "buf.h"
#include "vzexec.h"

#define GAP_FIRST_MS	10
#define GAP_MAX_MS	100

enum verdict { V_MORE, V_DONE, V_REFUSED };

static int
streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The "hash" member of the spec file on disk, if it parses at all. */
static int
spec_file_hash_is(const char *root, const char *pod, const char *hash)
{
	struct buf b = BUF_INIT;
	struct json_value *doc = NULL;
	char path[PATH_MAX], err[64];
	int same = 0;

	snprintf(path, sizeof path, "%s/pods/%s.json", root, pod);
	if (buf_read_file(&b, path, VZ_SPEC_MAX) == 0 &&
	    json_parse(b.data, b.len, &doc, err, sizeof err) == 0)
		same = streq(json_get_string(doc, "hash"), hash);
	json_free(doc);
	buf_release(&b);
	return same;
}

/*
 * One look at the pod.  V_REFUSED leaves the message in msg: the spec of
 * this hash is refused, or one of its containers is in backoff or failed
 * (a crash loop: waiting longer only delays the bad news).
 */
static enum verdict
judge(const char *root, const char *pod, const char *hash, struct buf *tmp,
    char *msg, size_t msglen)
{
	struct json_value *doc = NULL;
	const struct json_value *p, *cs, *c, *v;
	const char *state, *reason;
	enum verdict r = V_MORE;
	char err[128];
	size_t i;
	int healthy;

	status_pod_json(root, pod, tmp);
	if (json_parse(tmp->data, tmp->len, &doc, err, sizeof err) != 0)
		return V_MORE;	/* cannot happen: we wrote it */
	p = doc->type == JSON_ARRAY && doc->n > 0 ? doc->items[0] : NULL;
	if (hash == NULL) {
		r = p == NULL ? V_DONE : V_MORE;
		goto out;
	}
	if (p == NULL || ((v = json_get(p, "stopping")) != NULL &&
	    v->type == JSON_TRUE))
		goto out;
	if (json_get_string(p, "error") != NULL) {
		/* status has no hash for a spec it cannot load: the file's */
		if (streq(json_get_string(p, "hash"), hash) ||
		    spec_file_hash_is(root, pod, hash)) {
			reason = json_get_string(p, "error");
			if (strncmp(reason, "refused: ", 9) == 0)
				reason += 9;	/* not "refused: refused: " */
			snprintf(msg, msglen, "'%s' refused: %s", pod, reason);
			r = V_REFUSED;
		}
		goto out;
	}
	if (!streq(json_get_string(p, "hash"), hash) ||
	    (cs = json_get_array(p, "containers")) == NULL)
		goto out;
	healthy = cs->n > 0;
	for (i = 0; i < cs->n; i++) {
		c = cs->items[i];
		state = json_get_string(c, "state");
		if (!streq(json_get_string(c, "runningHash"), hash)) {
			healthy = 0;
			continue;
		}
		if (streq(state, "backoff") || streq(state, "failed")) {
			reason = json_get_string(c, "reason");
			snprintf(msg, msglen, "cannot start '%s': container "
			    "'%s' %s%s%s", pod, json_get_string(c, "name"),
			    state, reason != NULL ? ": " : "",
			    reason != NULL ? reason : "");
			r = V_REFUSED;
			goto out;
		}
		v = json_get(c, "ready");
		if (!streq(state, "running") || v == NULL ||
		    v->type != JSON_TRUE)
			healthy = 0;
	}
	if (healthy)
		r = V_DONE;
out:
	json_free(doc);
	return r;
}

/* (Re)watch where the pod's state changes; folders come and go. */
static void
watch(int ifd, const char *root, const char *pod)
{
	const uint32_t dirmask = IN_CREATE | IN_DELETE | IN_MOVED_TO |
	    IN_MOVED_FROM | IN_ONLYDIR;
	char path[PATH_MAX], sub[PATH_MAX];
	struct dirent *d;
	DIR *dp;

	if (ifd == -1)
		return;
	snprintf(path, sizeof path, "%s/pods", root);
	(void)inotify_add_watch(ifd, path, dirmask);
	snprintf(path, sizeof path, "%s/run/containers", root);
	(void)inotify_add_watch(ifd, path, dirmask);
	snprintf(path, sizeof path, "%s/run/containers/%s", root, pod);
	if (inotify_add_watch(ifd, path, dirmask) == -1 ||
	    (dp = opendir(path)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof sub, "%s/%s", path, d->d_name);
		(void)inotify_add_watch(ifd, sub, dirmask);
	}
	closedir(dp);
}

static void
drain(int ifd)
{
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(ifd, ev, sizeof ev) > 0)
		;
}

int
podwait(const char *root, const char *pod, const char *hash, int timeout_s)
{
	struct buf tmp = BUF_INIT;
	struct pollfd pfd;
	char msg[512];
	int64_t deadline, now;
	enum verdict v;
	int ifd, gap = GAP_FIRST_MS, t, rc;

	if (supervisor_pid(root) <= 0) {
		fprintf(stderr, "vzexec: wait: no supervisor runs for '%s'\n",
		    root);
		return EXIT_FAIL;
	}
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	deadline = now_ms() + (int64_t)timeout_s * 1000;
	for (;;) {
		watch(ifd, root, pod);
		if ((v = judge(root, pod, hash, &tmp, msg, sizeof msg)) != V_MORE)
			break;
		if ((now = now_ms()) >= deadline) {
			snprintf(msg, sizeof msg, "'%s' not %s after %d s", pod,
			    hash != NULL ? "running and ready" : "stopped",
			    timeout_s);
			break;
		}
		if (supervisor_pid(root) <= 0) {
			fprintf(stderr, "vzexec: wait: the supervisor for '%s' "
			    "stopped\n", root);
			rc = EXIT_FAIL;
			goto out;
		}
		t = deadline - now < gap ? (int)(deadline - now) : gap;
		if (ifd != -1) {
			pfd.fd = ifd;
			pfd.events = POLLIN;
			if (poll(&pfd, 1, t) > 0)
				drain(ifd);
		} else
			(void)poll(NULL, 0, t);
		gap = gap * 3 / 2 > GAP_MAX_MS ? GAP_MAX_MS : gap * 3 / 2;
	}
	rc = v == V_DONE ? EXIT_DONE : v == V_REFUSED ? EXIT_REFUSED :
	    EXIT_TIMEOUT;
	if (status_print(root) != EXIT_DONE) {
		fprintf(stderr, "vzexec: wait: cannot write the status: %s\n",
		    strerror(errno));
		rc = EXIT_FAIL;
	} else if (rc != EXIT_DONE)
		fprintf(stderr, "%s\n", msg);
out:
	if (ifd != -1)
		close(ifd);
	buf_release(&tmp);
	return rc;
}

int
podwait_refused(const char *root, const char *pod, const char *why)
{
	if (status_print(root) != EXIT_DONE) {
		fprintf(stderr, "vzexec: cannot write the status: %s\n",
		    strerror(errno));
		return EXIT_FAIL;
	}
	fprintf(stderr, "'%s' refused: %s\n", pod, why);
	return EXIT_REFUSED;
}

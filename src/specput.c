/*
 * specput: the node verbs the master uses to change what a node runs:
 *   vzexec spec-put [--root DIR] POD   (the spec JSON on standard input)
 *   vzexec spec-rm  [--root DIR] POD
 * A new spec is checked with the same loader the supervisor uses before it
 * replaces anything (a bad spec never stops a good pod), written with
 * fsync + rename, and the supervisor is told with SIGHUP.  Then the pod's
 * hostPorts are opened (spec-put) or closed (spec-rm) in the node's
 * firewall, unless they are the installed spec's (see firewall()); a
 * firewall failure is a warning: the pod runs regardless.
 *
 * With --wait SECONDS both then wait on the node (podwait.c) until the pod
 * runs the spec just written and is ready, or is gone, and print status:
 * one SSH exec per switch for the master.  A spec refused by the loader is
 * then exit 5 with the bare reason, like a refusal seen by the waiter.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "vzexec.h"

#define SPEC_MAX	(1u << 20)

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1)
		return -1;
	fsync(fd);
	close(fd);
	return 0;
}

/*
 * Warnings of a waiting verb are held back until the wait is over: its
 * first line of stderr belongs to the waiter's verdict.
 */
static struct buf held = BUF_INIT;

static void
warn_flush(void)
{
	if (held.len > 0)
		fwrite(held.data, 1, held.len, stderr);
	buf_release(&held);
}

/*
 * After the spec changed (or was found unchanged: repairs a ruleset that
 * was reloaded meanwhile).  doc NULL: the pod is gone.  old: the spec
 * installed before (NULL: none, or not known).
 *
 * The sync is skipped when old wants the same hostPorts as the new spec
 * (for spec-rm: old wanted none) and the last sync of the pod worked: the
 * rules are in place, as a rolling update of a pod keeps its ports, and
 * the sync's execs of nft/iptables were most of the time of a switch.  A
 * ruleset reloaded without our rules (a reboot) is repaired by the
 * supervisor when it starts and by `vzexec firewall POD`; rules are only
 * ever added for hostPorts, so a spec without any left none to remove.
 */
static void
firewall(const struct vzopts *o, const char *pod, const char *text,
    size_t len, const struct buf *old)
{
	struct json_value *doc = NULL, *prev = NULL;
	char err[512];
	int bad;

	if (text != NULL && json_parse(text, len, &doc, err, sizeof err) != 0)
		bad = 1;
	else if (old != NULL && json_parse(old->data, old->len, &prev, err,
	    sizeof err) == 0 && firewall_same_ports(prev, doc) &&
	    !firewall_failed(o->root, pod))
		bad = 0;
	else
		bad = firewall_sync_root(o->root, pod, doc, err,
		    sizeof err) != 0;
	if (bad && o->wait_s >= 0)
		buf_addf(&held, "vzexec: warning: firewall: '%s': %s\n", pod,
		    err);
	else if (bad)
		fprintf(stderr, "vzexec: warning: firewall: '%s': %s\n", pod,
		    err);
	json_free(prev);
	json_free(doc);
}

static int
notify(const struct vzopts *o, const char *verb, const char *pod)
{
	int pid = supervisor_pid(o->root);

	if (pid <= 0) {
		fprintf(stderr, "vzexec: %s: '%s' saved, but no supervisor runs "
		    "for '%s' (is vzexec registered with init?)\n", verb, pod,
		    o->root);
		return 1;
	}
	if (kill(pid, SIGHUP) != 0) {
		fprintf(stderr, "vzexec: %s: cannot signal the supervisor "
		    "(pid %d): %s\n", verb, pid, strerror(errno));
		return 1;
	}
	return 0;
}

/*
 * The hash to wait for: the spec's own.  Without one the old containers,
 * hashless too, would pass for the new ones before the supervisor reloads.
 * Returns 0, or the exit code.
 */
static int
wait_hash(const char *root, const char *pod, const struct buf *in,
    char *hash, size_t hashlen)
{
	struct json_value *doc;
	const char *h;
	char err[256], why[300];

	if (json_parse(in->data, in->len, &doc, err, sizeof err) != 0) {
		snprintf(why, sizeof why, "malformed JSON: %s", err);
		return podwait_refused(root, pod, why);
	}
	h = json_get_string(doc, "hash");
	if (h == NULL || h[0] == '\0' || strlen(h) >= hashlen) {
		fprintf(stderr, "vzexec: spec-put: --wait needs a spec with a "
		    "'hash'\n");
		json_free(doc);
		return EXIT_USAGE;
	}
	snprintf(hash, hashlen, "%s", h);
	json_free(doc);
	return 0;
}

int
specput_put(const struct vzopts *o, const char *pod)
{
	struct buf in = BUF_INIT, old = BUF_INIT;
	struct vz_pod *p = NULL;
	char dir[4096], path[4200], tmp[4300], err[512], hash[80];
	ssize_t n;
	char chunk[8192];
	int fd = -1, rc = 1, have_old;

	if (!spec_pod_name_ok(pod)) {
		fprintf(stderr, "vzexec: spec-put: invalid pod name '%s'\n",
		    pod);
		return 2;
	}
	for (;;) {
		n = read(STDIN_FILENO, chunk, sizeof chunk);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "vzexec: spec-put: reading the spec: "
			    "%s\n", strerror(errno));
			goto out;
		}
		if (in.len + (size_t)n > SPEC_MAX) {
			fprintf(stderr, "vzexec: spec-put: spec larger than "
			    "%u bytes\n", SPEC_MAX);
			goto out;
		}
		buf_add(&in, chunk, (size_t)n);
	}
	if (o->wait_s >= 0 &&
	    (rc = wait_hash(o->root, pod, &in, hash, sizeof hash)) != 0)
		goto out;
	rc = 1;
	snprintf(dir, sizeof dir, "%s/pods", o->root);
	if (mkdir_p(dir, 0755) == -1) {
		fprintf(stderr, "vzexec: spec-put: cannot create '%s': %s\n",
		    dir, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof path, "%s/%s.json", dir, pod);
	have_old = buf_read_file(&old, path, SPEC_MAX) == 0;
	if (have_old && old.len == in.len &&
	    memcmp(old.data, in.data, in.len) == 0) {
		rc = 0;		/* unchanged: nothing to tell anyone */
		firewall(o, pod, in.data, in.len, NULL);	/* a repair */
		goto wait;
	}
	snprintf(tmp, sizeof tmp, "%s/.%s.json.tmp", dir, pod);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1 ||
	    fchmod(fd, 0644) == -1 ||
	    write(fd, in.data, in.len) != (ssize_t)in.len ||
	    fsync(fd) == -1) {
		fprintf(stderr, "vzexec: spec-put: cannot write '%s': %s\n",
		    tmp, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	/* The supervisor's own checks, before the file counts. */
	if (spec_load(tmp, pod, &p, err, sizeof err) == -1) {
		unlink(tmp);
		if (o->wait_s >= 0)
			rc = podwait_refused(o->root, pod, err);
		else
			fprintf(stderr, "vzexec: spec-put: '%s' refused: %s\n",
			    pod, err);
		goto out;
	}
	spec_free(p);
	if (rename(tmp, path) == -1) {
		fprintf(stderr, "vzexec: spec-put: cannot rename to '%s': %s\n",
		    path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	fsync_dir(dir);
	rc = notify(o, "spec-put", pod);
	firewall(o, pod, in.data, in.len, have_old ? &old : NULL);
wait:
	if (rc == 0 && o->wait_s >= 0)
		rc = podwait(o->root, pod, hash, o->wait_s);
out:
	warn_flush();
	if (fd != -1) {
		close(fd);
		unlink(tmp);
	}
	buf_release(&in);
	buf_release(&old);
	return rc;
}

int
specput_rm(const struct vzopts *o, const char *pod)
{
	struct buf old = BUF_INIT;
	char dir[4096], path[4200];
	int rc, have_old;

	if (!spec_pod_name_ok(pod)) {
		fprintf(stderr, "vzexec: spec-rm: invalid pod name '%s'\n", pod);
		return 2;
	}
	snprintf(dir, sizeof dir, "%s/pods", o->root);
	snprintf(path, sizeof path, "%s/%s.json", dir, pod);
	/* What it asked of the firewall, to skip closing ports it never had. */
	have_old = buf_read_file(&old, path, SPEC_MAX) == 0;
	if (unlink(path) == -1) {
		buf_release(&old);
		if (errno == ENOENT) {
			/* Already gone: idempotent, but make sure a supervisor
			   that missed the change hears of it. */
			int pid = supervisor_pid(o->root);

			if (pid > 0)
				kill(pid, SIGHUP);
			firewall(o, pod, NULL, 0, NULL);
			/* a copy may still be stopping from an earlier spec-rm */
			rc = o->wait_s >= 0 ? podwait(o->root, pod, NULL,
			    o->wait_s) : 0;
			warn_flush();
			return rc;
		}
		fprintf(stderr, "vzexec: spec-rm: cannot remove '%s': %s\n",
		    path, strerror(errno));
		return 1;
	}
	fsync_dir(dir);
	rc = notify(o, "spec-rm", pod);
	firewall(o, pod, NULL, 0, have_old ? &old : NULL);
	buf_release(&old);
	if (rc == 0 && o->wait_s >= 0)
		rc = podwait(o->root, pod, NULL, o->wait_s);
	warn_flush();
	return rc;
}

/*
 * cluster: configuration, node selection and the parallel probe shared by
 * the node-facing commands.  The probe is the only place that decides a
 * node is reachable: an SSH failure or a status that does not parse both
 * make it unreachable, with the reason kept for the report.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster.h"
#include "fanout.h"
#include "ssh.h"

static char *
dir_of(const char *path)
{
	char *copy = xstrdup(path), *d, *out;

	d = dirname(copy);
	out = xstrdup(d);
	free(copy);
	return out;
}

int
cluster_load(struct cluster *cl, struct vz_ctx *ctx, int flags)
{
	struct diags d = DIAGS_INIT;
	struct buf b = BUF_INIT;
	char *dir;
	int rc = VZ_EXIT_OK;

	memset(cl, 0, sizeof *cl);
	cl->ctx = ctx;
	cl->connect_timeout_ms = VZ_SSH_CONNECT_TIMEOUT_MS;
	if (inventory_load(ctx->inventory_path, &cl->inv, &d) == -1)
		rc = VZ_EXIT_USAGE;
	if ((flags & CLUSTER_NEED_PODS) &&
	    pod_load(ctx->pods_path, &cl->pods, &d) == -1)
		rc = VZ_EXIT_USAGE;
	diag_print(&d, stderr);
	diag_release(&d);
	if (rc != VZ_EXIT_OK) {
		/* the valid part of a bad inventory or manifest set */
		cluster_release(cl);
		return rc;
	}
	dir = dir_of(ctx->inventory_path);
	buf_addf(&b, "%s/.vzmaster", dir);
	free(dir);
	cl->state_dir = buf_detach(&b, NULL);
	buf_addf(&b, "%s/known_hosts", cl->state_dir);
	cl->known_hosts = buf_detach(&b, NULL);
	cl->persist_s = vz_ssh_persist_default();
	if (cl->persist_s > 0)
		cl->persist_dir = vz_ssh_persist_dir(cl->state_dir);
	return VZ_EXIT_OK;
}

int
cluster_select(struct cluster *cl, const char *limit)
{
	size_t *idx = NULL, n = 0, i;
	char err[512];

	if (limit == NULL) {
		cl->nnodes = cl->inv->nhosts;
		cl->nodes = xcalloc(cl->nnodes, sizeof *cl->nodes);
		for (i = 0; i < cl->nnodes; i++)
			cl->nodes[i].host = &cl->inv->hosts[i];
		return VZ_EXIT_OK;
	}
	if (inventory_match(cl->inv, limit, &idx, &n, err, sizeof err) == -1) {
		vz_error("-l '%s': %s", limit, err);
		return VZ_EXIT_USAGE;
	}
	cl->nnodes = n;
	cl->nodes = xcalloc(n, sizeof *cl->nodes);
	for (i = 0; i < n; i++)
		cl->nodes[i].host = &cl->inv->hosts[idx[i]];
	free(idx);
	return VZ_EXIT_OK;
}

struct cnode *
cluster_node(struct cluster *cl, const char *name)
{
	size_t i;

	for (i = 0; i < cl->nnodes; i++)
		if (strcmp(cl->nodes[i].host->name, name) == 0)
			return &cl->nodes[i];
	return NULL;
}

static void
ssh_log(void *arg, int level, const char *msg)
{
	struct cluster *cl = arg;

	if (cl->ctx->verbosity >= level)
		fprintf(stderr, "vzmaster: %s\n", msg);
}

static int
probe_one(struct vz_fanout_job *job, void *arg)
{
	struct cluster *cl = arg;
	struct cnode *n = job->arg;
	struct vz_ssh_opts o;
	int rc;

	memset(&o, 0, sizeof o);
	o.name = n->host->name;
	o.host = n->host->address;
	o.port = n->host->port;
	o.user = n->host->user;
	o.identity = cl->identity;
	o.known_hosts = cl->known_hosts;
	o.hostkey_policy = VZ_HOSTKEY_STRICT;
	o.connect_timeout_ms = cl->connect_timeout_ms;
	o.command_timeout_ms = 60000;
	o.log = ssh_log;
	o.log_arg = cl;
	o.persist_dir = cl->persist_dir;
	o.service = VZEXEC_NODE_PATH;
	n->ssh = vz_ssh_new(&o);
	rc = vz_ssh_connect(n->ssh);
	vz_fanout_note_ssh(job, n->ssh);
	vz_ssh_connect_times(n->ssh, &n->t_connect_start, &n->t_connect_end);
	if (rc != VZ_SSH_OK) {
		n->ssh_rc = rc;
		snprintf(n->err, sizeof n->err, "%s", vz_ssh_error(n->ssh));
		vz_ssh_free(n->ssh);
		n->ssh = NULL;
		return rc;
	}
	/*
	 * Through a holder no handshake happened, so a node cut off since
	 * shows only as a status that never comes: give it the connect
	 * timeout and a little more, not the minute an exec may take.
	 */
	if ((vz_ssh_is_muxed(n->ssh) ? cnode_refresh_timed(n,
	    cl->connect_timeout_ms + PROBE_MUX_EXTRA_MS, n->err,
	    sizeof n->err) : cnode_refresh(n, n->err, sizeof n->err)) == -1)
		return -1;
	n->reachable = 1;
	return 0;
}

void
cluster_probe(struct cluster *cl)
{
	struct vz_fanout_job *jobs;
	char err[256];
	size_t i;

	if (cl->nnodes == 0)
		return;
	jobs = xcalloc(cl->nnodes, sizeof *jobs);
	for (i = 0; i < cl->nnodes; i++) {
		jobs[i].name = cl->nodes[i].host->name;
		jobs[i].arg = &cl->nodes[i];
	}
	if (vz_fanout_run(jobs, cl->nnodes, cl->ctx->jobs, probe_one, cl, err,
	    sizeof err) == -1)
		for (i = 0; i < cl->nnodes; i++)
			snprintf(cl->nodes[i].err, sizeof cl->nodes[i].err,
			    "%s", err);
	free(jobs);
}

int
cnode_vzexec(struct cnode *n, const char *const *args, const char *in,
    size_t inlen, struct buf *out, int *status, char *err, size_t errlen)
{
	return cnode_vzexec_timed(n, args, in, inlen, out, status, 0, err,
	    errlen);
}

int
cnode_vzexec_timed(struct cnode *n, const char *const *args, const char *in,
    size_t inlen, struct buf *out, int *status, int timeout_ms, char *err,
    size_t errlen)
{
	return cnode_vzexec_fed(n, args, in, inlen, out, status, timeout_ms,
	    NULL, NULL, err, errlen);
}

/* cmd ran with rc: the caller's view of it, and cmd released. */
static int
vzexec_result(struct cnode *n, struct vz_ssh_cmd *cmd, int rc,
    const char *verb, struct buf *out, int *status, char *err, size_t errlen)
{
	if (rc != VZ_SSH_OK) {
		snprintf(err, errlen, "%s: vzexec %s: %s", n->host->name,
		    verb, vz_ssh_error(n->ssh));
		if (rc == VZ_SSH_DEAD) {
			/* what the node's later actions in this run report */
			snprintf(n->lost, sizeof n->lost, "%s",
			    vz_ssh_error(n->ssh));
			vz_ssh_free(n->ssh);
			n->ssh = NULL;
		}
		vz_ssh_cmd_release(cmd);
		return -1;
	}
	*status = cmd->status;
	if (out != NULL)
		buf_add(out, cmd->out.data, cmd->out.len);
	if (cmd->status != 0) {
		char *nl = strchr(cmd->err.data, '\n');
		int len = nl ? (int)(nl - cmd->err.data) : (int)cmd->err.len;

		if (len > 400)
			len = 400;
		snprintf(err, errlen, "%s: vzexec %s: %.*s", n->host->name,
		    verb, len, len > 0 ? cmd->err.data :
		    "failed without a message");
		vz_ssh_cmd_release(cmd);
		return -1;
	}
	vz_ssh_cmd_release(cmd);
	return 0;
}

static void
vzexec_argv(const char **argv, const char *const *args)
{
	size_t i, k = 0;

	argv[k++] = VZEXEC_NODE_PATH;
	for (i = 0; args[i] != NULL && k < 31; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
}

/* argv (32 slots) and cmd for `vzexec ARGS...`; -1 when not connected. */
static int
vzexec_prepare(struct cnode *n, const char **argv, const char *const *args,
    struct vz_ssh_cmd *cmd, char *err, size_t errlen)
{
	if (n->ssh == NULL) {
		cnode_not_connected(n, err, errlen);
		return -1;
	}
	vzexec_argv(argv, args);
	vz_ssh_cmd_init(cmd, argv);
	return 0;
}

int
cnode_vzexec_fed(struct cnode *n, const char *const *args, const char *in,
    size_t inlen, struct buf *out, int *status, int timeout_ms,
    void (*fed)(void *, uint64_t, uint64_t), void *fed_arg, char *err,
    size_t errlen)
{
	const char *argv[32];
	struct vz_ssh_cmd cmd;

	*status = -1;
	if (vzexec_prepare(n, argv, args, &cmd, err, errlen) == -1)
		return -1;
	cmd.flags = VZ_SSH_SERVICE;
	cmd.in = in;
	cmd.inlen = inlen;
	cmd.timeout_ms = timeout_ms;
	cmd.progress = fed;
	cmd.progress_arg = fed_arg;
	return vzexec_result(n, &cmd, vz_ssh_exec(n->ssh, &cmd), args[0], out,
	    status, err, errlen);
}

void
cnode_not_connected(const struct cnode *n, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: not connected%s%s", n->host->name,
	    n->lost[0] != '\0' ? ": " : "", n->lost);
}

int
cnode_too_old(const struct cnode *n, const char *min, const char *who,
    char *err, size_t errlen)
{
	const struct inv_host *h = n->host;
	char port[32] = "", user[96] = "";

	if (node_version_cmp(n->st.vzexec_version, min) >= 0)
		return 0;
	/* newnode's argument is the address; name, user and port are
	   options it would otherwise take from its defaults */
	if (h->port != 22)
		snprintf(port, sizeof port, " --port %d", h->port);
	if (h->user != NULL)
		snprintf(user, sizeof user, " --user %s", h->user);
	snprintf(err, errlen, "%s: its vzexec (%s) is older than %s, which "
	    "%s needs: run 'vzmaster newnode --name %s%s%s %s' again to "
	    "upgrade it", h->name, n->st.vzexec_version ?
	    n->st.vzexec_version : "unknown version", min, who, h->name, user,
	    port, h->address);
	return 1;
}

int
cnode_vzexec_stream(struct cnode *n, const char *const *args,
    void (*on_output)(void *, const char *, size_t), void *arg,
    const volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	const char *argv[32];
	struct vz_ssh_cmd cmd;
	int rc, status;

	if (vzexec_prepare(n, argv, args, &cmd, err, errlen) == -1)
		return -1;
	cmd.on_output = on_output;
	cmd.output_arg = arg;
	cmd.stop = stop;
	rc = vz_ssh_exec(n->ssh, &cmd);
	if (rc == VZ_SSH_OK && cmd.status == -1 && cmd.signal[0] == '\0' &&
	    stop != NULL && *stop) {
		vz_ssh_cmd_release(&cmd);	/* stopped by the caller */
		return 0;
	}
	return vzexec_result(n, &cmd, rc, args[0], NULL, &status, err,
	    errlen);
}

int
cnode_vzexec_start(struct cnode *n, struct cnode_exec *x,
    const char *const *args, const char *in, size_t inlen, int timeout_ms,
    char *err, size_t errlen)
{
	int rc, status;

	if (vzexec_prepare(n, x->argv, args, &x->cmd, err, errlen) == -1)
		return -1;
	x->cmd.flags = VZ_SSH_SERVICE;
	x->cmd.in = in;
	x->cmd.inlen = inlen;
	x->cmd.timeout_ms = timeout_ms;
	if ((rc = vz_ssh_exec_start(n->ssh, &x->cmd)) != VZ_SSH_OK)
		return vzexec_result(n, &x->cmd, rc, args[0], NULL, &status,
		    err, errlen);
	return 0;
}

int
cnode_vzexec_finish(struct cnode *n, struct cnode_exec *x, struct buf *out,
    int *status, char *err, size_t errlen)
{
	*status = -1;
	if (n->ssh == NULL) {
		cnode_not_connected(n, err, errlen);
		vz_ssh_cmd_release(&x->cmd);
		return -1;
	}
	return vzexec_result(n, &x->cmd, vz_ssh_exec_finish(n->ssh, &x->cmd),
	    x->argv[1], out, status, err, errlen);
}

int
cnode_take_status(struct cnode *n, const char *text, size_t len, char *err,
    size_t errlen)
{
	struct node_state st;
	char perr[512];

	if (node_state_parse(text, len, &st, perr, sizeof perr) == -1) {
		snprintf(err, errlen, "%s: %s", n->host->name, perr);
		return -1;
	}
	node_state_release(&n->st);
	n->st = st;
	return 0;
}

int
cnode_refresh(struct cnode *n, char *err, size_t errlen)
{
	return cnode_refresh_timed(n, 0, err, errlen);
}

int
cnode_refresh_timed(struct cnode *n, int timeout_ms, char *err,
    size_t errlen)
{
	static const char *const args[] = { "status", NULL };
	struct buf out = BUF_INIT;
	int status, rc = -1;

	if (cnode_vzexec_timed(n, args, NULL, 0, &out, &status, timeout_ms,
	    err, errlen) == 0)
		rc = cnode_take_status(n, out.data, out.len, err, errlen);
	buf_release(&out);
	return rc;
}

void
cluster_release(struct cluster *cl)
{
	struct vz_ssh **live;
	char err[512];
	size_t i, n = 0;

	/* The next run (cron's, a minute later) skips the handshakes. */
	if (cl->persist_dir != NULL && cl->nnodes > 0) {
		live = xcalloc(cl->nnodes, sizeof *live);
		for (i = 0; i < cl->nnodes; i++)
			if (cl->nodes[i].ssh != NULL)
				live[n++] = cl->nodes[i].ssh;
		if (n > 0 && vz_ssh_persist(live, n, cl->persist_dir,
		    cl->persist_s, err, sizeof err) == -1 &&
		    cl->ctx->verbosity > 0)
			fprintf(stderr, "vzmaster: connections not kept: %s\n",
			    err);
		free(live);
	}
	for (i = 0; i < cl->nnodes; i++) {
		vz_ssh_free(cl->nodes[i].ssh);
		node_state_release(&cl->nodes[i].st);
	}
	free(cl->nodes);
	if (cl->inv != NULL)
		inventory_free(cl->inv);
	pod_set_release(&cl->pods);
	free(cl->state_dir);
	free(cl->known_hosts);
	free(cl->persist_dir);
	memset(cl, 0, sizeof *cl);
}

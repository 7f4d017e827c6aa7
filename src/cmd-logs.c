/*
 * vzmaster logs: a pod's container lines from every selected node, as
 * `NODE CONTAINER | MESSAGE`.  A pod's replicas may be on any node, so
 * every node is asked (`vzexec logs`, see nodelogs.c) in parallel and the
 * answers merged by time.
 *
 * -f: after that first answer each node has a thread that follows it
 * with `vzexec logs -f --stop-on-eof`, streamed on a direct connection
 * (vz_ssh_cmd.on_output), from the last second already printed; the
 * lines of that second already printed are skipped by count (a node
 * prints them in a stable order), so nothing between the two is lost or
 * printed twice.  Lines are printed whole under one mutex as they come.
 * SIGINT stops: the channels close, which ends the node's follower.
 * A node whose vzexec predates --stop-on-eof is told to upgrade.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "fanout.h"
#include "json.h"
#include "nodelogs.h"
#include "ssh.h"

extern const struct cmd_entry cmd_logs_entry;

/* a line of the node's stream longer than this is dropped */
#define LOGS_LINE_MAX		(1024 * 1024)
/* the first vzexec whose logs takes --stop-on-eof */
#define LOGS_FOLLOW_MIN_VERSION	"0.7.0"
#define LOGS_OPT_SINCE		0x1201
#define LOGS_OPT_TIMESTAMPS	0x1202

struct logs_line {
	int64_t		 t;		/* unix seconds */
	size_t		 node;		/* index: ties sort by node */
	size_t		 seq;
	char		*ctr;
	char		*msg;
};

struct logs_node {
	struct cnode	*cn;
	struct logs_line *v;
	size_t		 n, cap;
	int64_t		 last;		/* -f: newest second seen */
	size_t		 at_last;	/* lines of that second seen */
	size_t		 skip;		/* of those, still to skip */
	struct buf	 part;		/* -f: an unfinished line */
	int		 failed;
	pthread_t	 thr;
};

struct logs {
	struct vz_ctx	*ctx;
	const char	*spec;		/* POD or POD/CONTAINER */
	long		 lines;		/* -1: all */
	int64_t		 since;		/* 0: none */
	int		 timestamps;
	int		 follow;
	struct logs_node *nodes;
	size_t		 nnodes;
	pthread_mutex_t	 out_lock;
};

static volatile sig_atomic_t logs_stop;

static void
logs_on_signal(int sig)
{
	(void)sig;
	logs_stop = 1;
}

/*
 * One line of `vzexec logs`: "YYYY-MM-DDThh:mm:ssZ CTR MSG".  The node is
 * untrusted: anything else is dropped.
 */
static int
parse_node_line(const char *line, size_t len, int64_t *t, char *ctr,
    size_t ctrlen, const char **msg, size_t *msglen)
{
	const char *sp, *sp2;
	char ts[21];
	size_t cl;

	if (len < 22 || line[19] != 'Z' || line[20] != ' ')
		return -1;
	memcpy(ts, line, 20);
	ts[20] = '\0';
	if (nodelogs_parse_since(ts, 0, t) != 0)
		return -1;
	sp = line + 21;
	if ((sp2 = memchr(sp, ' ', len - 21)) == NULL)
		sp2 = line + len;
	cl = (size_t)(sp2 - sp);
	if (cl == 0 || cl >= ctrlen)
		return -1;
	memcpy(ctr, sp, cl);
	ctr[cl] = '\0';
	if (!nodelogs_valid_name(ctr))
		return -1;
	*msg = sp2 < line + len ? sp2 + 1 : sp2;
	*msglen = (size_t)(line + len - *msg);
	return 0;
}

static void
node_add(struct logs_node *ln, size_t idx, int64_t t, const char *ctr,
    const char *msg, size_t msglen)
{
	struct logs_line *l;

	if (ln->n == ln->cap) {
		ln->cap = ln->cap ? ln->cap * 2 : 64;
		ln->v = xreallocarray(ln->v, ln->cap, sizeof *ln->v);
	}
	l = &ln->v[ln->n];
	l->t = t;
	l->node = idx;
	l->seq = ln->n;
	l->ctr = xstrdup(ctr);
	l->msg = xstrndup(msg, msglen);
	ln->n++;
}

static void
node_clear(struct logs_node *ln)
{
	size_t i;

	for (i = 0; i < ln->n; i++) {
		free(ln->v[i].ctr);
		free(ln->v[i].msg);
	}
	ln->n = 0;
}

/*
 * One line from the node, kept unless -f printed it already: older than
 * the newest second printed, or one of the at_last lines of that second
 * (ln->skip counts those down).
 */
static void
take_line(struct logs_node *ln, size_t idx, const char *p, size_t len,
    int first)
{
	char ctr[NL_NAME_MAX + 1];
	const char *msg;
	size_t msglen;
	int64_t t;

	if (parse_node_line(p, len, &t, ctr, sizeof ctr, &msg, &msglen) != 0)
		return;
	if (!first && t < ln->last)
		return;
	if (!first && t == ln->last && ln->skip > 0) {
		ln->skip--;
		return;
	}
	if (t > ln->last) {
		ln->last = t;
		ln->at_last = 0;
		ln->skip = 0;
	}
	if (t == ln->last)
		ln->at_last++;
	node_add(ln, idx, t, ctr, msg, msglen);
}

/* Ask the node once, with -n and --since as given. */
static int
node_fetch(struct logs *lg, size_t idx, char *err, size_t errlen)
{
	struct logs_node *ln = &lg->nodes[idx];
	const char *args[12];
	char nbuf[32], sbuf[32];
	struct buf out = BUF_INIT;
	const char *p, *end, *nl;
	size_t k = 0;
	int status;

	args[k++] = "logs";
	args[k++] = "-n";
	/* -f -n 0 still needs the node's newest line to follow from. */
	if (lg->lines == 0 && lg->follow)
		snprintf(nbuf, sizeof nbuf, "1");
	else if (lg->lines >= 0)
		snprintf(nbuf, sizeof nbuf, "%ld", lg->lines);
	else
		snprintf(nbuf, sizeof nbuf, "all");
	args[k++] = nbuf;
	if (lg->since > 0) {
		snprintf(sbuf, sizeof sbuf, "%lld", (long long)lg->since);
		args[k++] = "--since";
		args[k++] = sbuf;
	}
	args[k++] = "--";
	args[k++] = lg->spec;
	args[k] = NULL;
	if (cnode_vzexec(ln->cn, args, NULL, 0, &out, &status, err,
	    errlen) == -1) {
		buf_release(&out);
		return -1;
	}
	for (p = out.data, end = out.data + out.len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		take_line(ln, idx, p, (size_t)(nl - p), 1);
	}
	buf_release(&out);
	return 0;
}

static void
print_line(struct logs *lg, const struct logs_line *l)
{
	struct logs_node *ln = &lg->nodes[l->node];
	const char *node = ln->cn->host->name;
	char ts[32];

	nodelogs_fmt_time(l->t * 1000000, ts, sizeof ts);
	if (lg->ctx->json) {
		struct buf b = BUF_INIT;
		struct json_writer w;

		json_writer_init(&w, &b, 0);
		json_begin_object(&w);
		json_kv_string(&w, "node", node);
		json_kv_string(&w, "container", l->ctr);
		json_kv_string(&w, "time", ts);
		json_kv_string(&w, "message", l->msg);
		json_end_object(&w);
		printf("%s\n", b.data);
		buf_release(&b);
	} else if (lg->timestamps)
		printf("%s %s %s | %s\n", ts, node, l->ctr, l->msg);
	else
		printf("%s %s | %s\n", node, l->ctr, l->msg);
}

static int
fetch_job(struct vz_fanout_job *job, void *arg)
{
	struct logs *lg = arg;
	size_t idx = (size_t)((struct logs_node *)job->arg - lg->nodes);

	return node_fetch(lg, idx, job->err, sizeof job->err) == 0 ? 0 : 1;
}

static int
line_cmp(const void *a, const void *b)
{
	const struct logs_line *x = *(const struct logs_line *const *)a;
	const struct logs_line *y = *(const struct logs_line *const *)b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Every node's answer, merged by time, the last -n of them. */
static void
print_merged(struct logs *lg)
{
	struct logs_line **all;
	size_t i, j, n = 0, first = 0;

	for (i = 0; i < lg->nnodes; i++)
		n += lg->nodes[i].n;
	all = xcalloc(n ? n : 1, sizeof *all);
	for (n = 0, i = 0; i < lg->nnodes; i++)
		for (j = 0; j < lg->nodes[i].n; j++)
			all[n++] = &lg->nodes[i].v[j];
	qsort(all, n, sizeof *all, line_cmp);
	if (lg->lines >= 0 && n > (size_t)lg->lines)
		first = n - (size_t)lg->lines;
	for (i = first; i < n; i++)
		print_line(lg, all[i]);
	fflush(stdout);
	free(all);
	for (i = 0; i < lg->nnodes; i++)
		node_clear(&lg->nodes[i]);
}

struct follow_arg {
	struct logs	*lg;
	size_t		 idx;
};

/* A piece of the node's stream: its whole lines, printed at once. */
static void
follow_output(void *arg, const char *data, size_t len)
{
	struct follow_arg *fa = arg;
	struct logs *lg = fa->lg;
	struct logs_node *ln = &lg->nodes[fa->idx];
	const char *p, *end, *nl;
	size_t i, left;

	buf_add(&ln->part, data, len);
	for (p = ln->part.data, end = p + ln->part.len;
	    (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1)
		take_line(ln, fa->idx, p, (size_t)(nl - p), 0);
	left = (size_t)(end - p);
	/* a node that never ends its line is not kept in memory */
	if (left > LOGS_LINE_MAX)
		left = 0;
	memmove(ln->part.data, p, left);
	ln->part.len = left;
	if (ln->n == 0)
		return;
	pthread_mutex_lock(&lg->out_lock);
	for (i = 0; i < ln->n; i++)
		print_line(lg, &ln->v[i]);
	fflush(stdout);
	pthread_mutex_unlock(&lg->out_lock);
	node_clear(ln);
}

static void *
follow_run(void *arg)
{
	struct follow_arg *fa = arg;
	struct logs *lg = fa->lg;
	struct logs_node *ln = &lg->nodes[fa->idx];
	const char *args[12];
	char sbuf[32], err[1024];
	size_t k = 0;

	args[k++] = "logs";
	args[k++] = "-n";
	args[k++] = "all";
	if (ln->last > 0) {
		snprintf(sbuf, sizeof sbuf, "%lld", (long long)ln->last);
		args[k++] = "--since";
		args[k++] = sbuf;
	}
	args[k++] = "-f";
	args[k++] = "--stop-on-eof";
	args[k++] = "--";
	args[k++] = lg->spec;
	args[k] = NULL;
	ln->skip = ln->at_last;
	if (cnode_vzexec_stream(ln->cn, args, follow_output, fa, &logs_stop,
	    err, sizeof err) == -1) {
		pthread_mutex_lock(&lg->out_lock);
		vz_error("%s", err);
		pthread_mutex_unlock(&lg->out_lock);
		ln->failed = 1;
	} else if (!logs_stop) {
		pthread_mutex_lock(&lg->out_lock);
		vz_error("%s: vzexec logs -f ended", ln->cn->host->name);
		pthread_mutex_unlock(&lg->out_lock);
		ln->failed = 1;
	}
	return NULL;
}

static int
logs_exec(struct vz_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		CMD_COMMON_LONGOPTS,
		{ "follow",	no_argument,	   NULL, 'f' },
		{ "lines",	required_argument, NULL, 'n' },
		{ "since",	required_argument, NULL, LOGS_OPT_SINCE },
		{ "limit",	required_argument, NULL, 'l' },
		{ "timestamps",	no_argument,	   NULL, LOGS_OPT_TIMESTAMPS },
		{ "identity",	required_argument, NULL, 'k' },
		{ "connect-timeout", required_argument, NULL,
		    CLUSTER_OPT_CONNECT_TIMEOUT },
		{ NULL, 0, NULL, 0 }
	};
	struct cluster cl;
	struct logs lg;
	struct vz_fanout_job *jobs = NULL;
	struct follow_arg *fas = NULL;
	struct sigaction sa;
	const char *limit = NULL, *identity = NULL;
	char podbuf[2 * NL_NAME_MAX + 2], err[1024], *slash, *end;
	int opt, rc, follow = 0, connect_ms = 0, failed = 0, loaded = 0;
	size_t i;
	int64_t v;
	long n;

	memset(&cl, 0, sizeof cl);
	memset(&lg, 0, sizeof lg);
	lg.ctx = ctx;
	lg.lines = 100;
	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS "fn:l:k:",
	    longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			follow = lg.follow = 1;
			break;
		case 'n':
			if (strcmp(optarg, "all") == 0) {
				lg.lines = -1;
				break;
			}
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    n < 0 || n > 100000000)
				return cmd_usage_error(&cmd_logs_entry,
				    "bad -n '%s'", optarg);
			lg.lines = n;
			break;
		case LOGS_OPT_SINCE:
			if (nodelogs_parse_since(optarg, time(NULL), &v) != 0)
				return cmd_usage_error(&cmd_logs_entry,
				    "bad --since '%s' (10m, 2h, 1d, an ISO date "
				    "or unix seconds)", optarg);
			lg.since = v;
			break;
		case 'l':
			limit = optarg;
			break;
		case LOGS_OPT_TIMESTAMPS:
			lg.timestamps = 1;
			break;
		case 'k':
			identity = optarg;
			break;
		case CLUSTER_OPT_CONNECT_TIMEOUT:
			if ((connect_ms = vz_ssh_parse_timeout(optarg)) == -1)
				return cmd_usage_error(&cmd_logs_entry,
				    "bad --connect-timeout '%s'", optarg);
			break;
		default:
			if ((rc = cmd_common_option(ctx, &cmd_logs_entry,
			    opt)) != CMD_CONTINUE)
				return rc;
		}
	}
	if (optind + 1 != argc)
		return cmd_usage_error(&cmd_logs_entry,
		    "name one POD or POD/CONTAINER");
	lg.spec = argv[optind];
	snprintf(podbuf, sizeof podbuf, "%s", lg.spec);
	slash = strchr(podbuf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (strlen(lg.spec) >= sizeof podbuf || !nodelogs_valid_name(podbuf) ||
	    (slash != NULL && !nodelogs_valid_name(slash + 1)))
		return cmd_usage_error(&cmd_logs_entry, "'%s' is not POD or "
		    "POD/CONTAINER (DNS-1123 labels)", lg.spec);

	if ((rc = cluster_load(&cl, ctx, 0)) != VZ_EXIT_OK)
		return rc;
	loaded = 1;
	cl.identity = identity;
	if (connect_ms > 0)
		cl.connect_timeout_ms = connect_ms;
	if ((rc = cluster_select(&cl, limit)) != VZ_EXIT_OK)
		goto out;
	if (cl.nnodes == 0) {
		vz_error("no nodes selected");
		rc = VZ_EXIT_USAGE;
		goto out;
	}
	cluster_probe(&cl);
	lg.nnodes = cl.nnodes;
	lg.nodes = xcalloc(cl.nnodes, sizeof *lg.nodes);
	jobs = xcalloc(cl.nnodes, sizeof *jobs);
	for (i = 0; i < cl.nnodes; i++) {
		lg.nodes[i].cn = &cl.nodes[i];
		buf_init(&lg.nodes[i].part);
		/* A node without lines yet is followed from --since on, never
		 * from the beginning. */
		lg.nodes[i].last = lg.since;
		jobs[i].name = cl.nodes[i].host->name;
		jobs[i].arg = &lg.nodes[i];
		/* A status that did not parse still leaves a connection. */
		if (cl.nodes[i].ssh == NULL) {
			vz_error("%s: unreachable: %s", cl.nodes[i].host->name,
			    cl.nodes[i].err);
			lg.nodes[i].failed = 1;
			failed = 1;
		}
	}
	/* fanout runs every job: skip the unreachable ones by hand. */
	{
		struct vz_fanout_job *live = xcalloc(cl.nnodes, sizeof *live);
		size_t nlive = 0;

		for (i = 0; i < cl.nnodes; i++)
			if (!lg.nodes[i].failed)
				live[nlive++] = jobs[i];
		if (nlive > 0 && vz_fanout_run(live, nlive, ctx->jobs,
		    fetch_job, &lg, err, sizeof err) == -1) {
			vz_error("%s", err);
			free(live);
			rc = VZ_EXIT_FAIL;
			goto out;
		}
		for (i = 0; i < nlive; i++) {
			if (live[i].rc != 0) {
				vz_error("%s", live[i].err);
				((struct logs_node *)live[i].arg)->failed = 1;
				failed = 1;
			}
		}
		free(live);
	}
	print_merged(&lg);
	if (follow) {
		pthread_mutex_init(&lg.out_lock, NULL);
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = logs_on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		fas = xcalloc(cl.nnodes, sizeof *fas);
		for (i = 0; i < cl.nnodes; i++) {
			if (lg.nodes[i].failed)
				continue;
			if (cnode_too_old(&cl.nodes[i], LOGS_FOLLOW_MIN_VERSION,
			    "'vzmaster logs -f'", err, sizeof err)) {
				vz_error("%s", err);
				lg.nodes[i].failed = failed = 1;
				continue;
			}
			fas[i].lg = &lg;
			fas[i].idx = i;
			if (pthread_create(&lg.nodes[i].thr, NULL, follow_run,
			    &fas[i]) != 0) {
				vz_error("%s: cannot start a thread",
				    cl.nodes[i].host->name);
				lg.nodes[i].failed = failed = 1;
				continue;
			}
		}
		for (i = 0; i < cl.nnodes; i++) {
			if (fas[i].lg == NULL || lg.nodes[i].failed)
				continue;
			pthread_join(lg.nodes[i].thr, NULL);
			if (lg.nodes[i].failed)
				failed = 1;
		}
		pthread_mutex_destroy(&lg.out_lock);
	}
	rc = failed ? VZ_EXIT_FAIL : VZ_EXIT_OK;
out:
	for (i = 0; i < lg.nnodes; i++) {
		node_clear(&lg.nodes[i]);
		free(lg.nodes[i].v);
		buf_release(&lg.nodes[i].part);
	}
	free(lg.nodes);
	free(jobs);
	free(fas);
	if (loaded)
		cluster_release(&cl);
	return rc;
}

const struct cmd_entry cmd_logs_entry = {
	.name = "logs",
	.summary = "print a pod's container lines from every node",
	.usage = "[-f] [-n N] [--since T] [-l LIMIT] [--json] POD[/CONTAINER]",
	.help =
	"  -f, --follow            keep printing new lines as they come, until\n"
	"                          interrupted\n"
	"  -n, --lines N|all       the last N lines over all nodes (100)\n"
	"      --since T           none older than T: 10m, 2h, 1d, an ISO date\n"
	"                          or time, or unix seconds\n"
	"  -l, --limit PATTERN     ask only these inventory hosts/groups\n"
	"      --timestamps        start each line with its time (UTC)\n"
	"  -k, --identity FILE     SSH private key to try after the agent\n"
	"      --connect-timeout S give up on a node after S seconds (5)\n"
	"Lines are `NODE CONTAINER | MESSAGE`, merged by time; --json prints\n"
	"one {node, container, time, message} object per line.  Exit 1 when\n"
	"a node could not be asked.\n",
	.exec = logs_exec,
};

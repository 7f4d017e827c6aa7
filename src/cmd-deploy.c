/*
 * vzmaster deploy: converge the cluster to the manifests.  Configuration
 * errors stop it before any node is touched (exit 2); a pod whose image
 * fails, or a node that dies, fails alone (exit 1) while the rest deploys.
 * From cron (-q, --no-wait) it prints nothing when nothing changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "json.h"
#include "progress.h"
#include "reconcile.h"
#include "ssh.h"

extern const struct cmd_entry cmd_deploy_entry;

#define OPT_DRY_RUN	0x1201
#define OPT_GRACE	0x1202
#define OPT_TIMEOUT	0x1203
#define OPT_NO_WAIT	0x1204

static void
lock_waiting(const char *msg, void *arg)
{
	const struct vz_ctx *ctx = arg;

	vz_info(ctx, "vzmaster: %s", msg);
}

static int
parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int
deploy_exec(struct vz_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		CMD_COMMON_LONGOPTS,
		{ "dry-run",	no_argument,	   NULL, OPT_DRY_RUN },
		{ "limit",	required_argument, NULL, 'l' },
		{ "grace",	required_argument, NULL, OPT_GRACE },
		{ "timeout",	required_argument, NULL, OPT_TIMEOUT },
		{ "no-wait",	no_argument,	   NULL, OPT_NO_WAIT },
		{ "identity",	required_argument, NULL, 'k' },
		{ "connect-timeout", required_argument, NULL,
		    CLUSTER_OPT_CONNECT_TIMEOUT },
		{ NULL, 0, NULL, 0 }
	};
	struct reconcile r;
	struct apply a;
	struct vzlock lk;
	struct vz_progress bar;
	struct buf lockpath = BUF_INIT;
	const char *limit = NULL, *identity = NULL;
	char err[1024];
	int opt, rc, dry_run = 0, no_wait = 0, grace = 0, timeout_s = 120;
	int connect_ms = 0, locked = 0, have_bar = 0, i;
	size_t k;

	memset(&r, 0, sizeof r);
	memset(&a, 0, sizeof a);
	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS "l:k:",
	    longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_DRY_RUN:
			dry_run = 1;
			break;
		case 'l':
			limit = optarg;
			break;
		case 'k':
			identity = optarg;
			break;
		case OPT_GRACE:
			if (parse_int(optarg, 1, 1000, &grace) == -1)
				return cmd_usage_error(&cmd_deploy_entry,
				    "--grace wants a number from 1 to 1000");
			break;
		case OPT_TIMEOUT:
			if (parse_int(optarg, 1, 86400, &timeout_s) == -1)
				return cmd_usage_error(&cmd_deploy_entry,
				    "--timeout wants seconds from 1 to 86400");
			break;
		case OPT_NO_WAIT:
			no_wait = 1;
			break;
		case CLUSTER_OPT_CONNECT_TIMEOUT:
			if ((connect_ms = vz_ssh_parse_timeout(optarg)) == -1)
				return cmd_usage_error(&cmd_deploy_entry,
				    "bad --connect-timeout '%s'", optarg);
			break;
		default:
			if ((rc = cmd_common_option(ctx, &cmd_deploy_entry,
			    opt)) != CMD_CONTINUE)
				return rc;
		}
	}
	if ((rc = cluster_load(&r.cl, ctx, CLUSTER_NEED_PODS)) != VZ_EXIT_OK)
		return rc;
	for (i = optind; i < argc; i++)
		if (pod_find(&r.cl.pods, argv[i]) == NULL) {
			vz_error("no pod '%s' in %s", argv[i], ctx->pods_path);
			rc = VZ_EXIT_USAGE;
			goto out;
		}
	r.named = (const char *const *)argv + optind;
	r.nnamed = (size_t)(argc - optind);
	r.grace = grace;
	r.cl.identity = identity;
	if (connect_ms > 0)
		r.cl.connect_timeout_ms = connect_ms;
	if ((rc = cluster_select(&r.cl, limit)) != VZ_EXIT_OK)
		goto out;
	buf_addf(&lockpath, "%s/lock", r.cl.state_dir);
	if (!dry_run) {
		switch (lock_acquire(&lk, lockpath.data, "vzmaster deploy",
		    !no_wait, lock_waiting, ctx, err, sizeof err)) {
		case LOCK_OK:
			locked = 1;
			break;
		case LOCK_BUSY:
			vz_info(ctx, "vzmaster: %s; not waiting (--no-wait)",
			    err);
			rc = VZ_EXIT_FAIL;
			goto out;
		default:
			vz_error("%s", err);
			rc = VZ_EXIT_FAIL;
			goto out;
		}
	}
	rc = VZ_EXIT_FAIL;
	if (reconcile_prepare(&r) == -1 || reconcile_plan(&r) == -1)
		goto out;
	if (dry_run) {
		reconcile_report(ctx, &r, NULL, 1);
		rc = r.plan.nshort || r.plan.nstuck || r.import_failures ?
		    VZ_EXIT_FAIL : VZ_EXIT_OK;
		goto out;
	}
	reconcile_apply_init(&r, &a, timeout_s);
	if (ctx->tty && !ctx->json && ctx->verbosity >= 0 &&
	    isatty(STDERR_FILENO)) {
		vz_progress_init(&bar, stderr, "images", 0);
		a.progress = &bar;
		have_bar = 1;
	}
	apply_plan(&a, &r.plan);
	if (have_bar) {
		if (bar.total > 0)
			vz_progress_finish(&bar);
		vz_progress_release(&bar);
	}
	reconcile_record(&r, &a);
	if (markers_save(&r.markers, r.markers_path, err, sizeof err) == -1) {
		vz_error("%s", err);
		a.failures++;
	}
	reconcile_report(ctx, &r, &a, 0);
	rc = a.failures || r.plan.nshort || r.plan.nstuck ||
	    r.import_failures ? VZ_EXIT_FAIL : VZ_EXIT_OK;
	for (k = 0; k < r.plan.nshort; k++)
		vz_error("'%s' is short of replicas", r.plan.short_pods[k]);
out:
	apply_release(&a);
	if (locked)
		lock_release(&lk);
	buf_release(&lockpath);
	reconcile_release(&r);
	return rc;
}

const struct cmd_entry cmd_deploy_entry = {
	.name = "deploy",
	.summary = "converge the cluster to the pod manifests",
	.usage = "[--dry-run] [-l LIMIT] [--grace N] [--timeout S] [--no-wait]"
	    " [--json] [POD...]",
	.help =
	"  POD...                  converge only these pods (and un-kill them)\n"
	"      --dry-run           print the plan, change nothing\n"
	"  -l, --limit PATTERN     only the hosts matching an Ansible pattern\n"
	"      --grace N           a node is gone after N missed runs (2)\n"
	"      --timeout S         wait S seconds for a pod to be ready (120)\n"
	"      --no-wait           exit if another deploy holds the lock (cron)\n"
	"  -k, --identity FILE     SSH private key to try after the agent\n"
	"      --connect-timeout S give up on a node after S seconds (5)\n"
	"Exit status: 0 converged, 1 something failed or a pod is short of\n"
	"replicas, 2 bad configuration (no node was touched).\n",
	.exec = deploy_exec,
};

/*
 * vzmaster kill: stop pods everywhere and remember it, so that the cron
 * deploy does not bring them back until `vzmaster deploy POD` names them.
 * It runs the same reconcile as deploy and keeps only the stops of the
 * killed pods, so nothing else changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "reconcile.h"
#include "ssh.h"

extern const struct cmd_entry cmd_kill_entry;


static int
kill_exec(struct vz_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		CMD_COMMON_LONGOPTS,
		{ "identity",	required_argument, NULL, 'k' },
		{ "connect-timeout", required_argument, NULL,
		    CLUSTER_OPT_CONNECT_TIMEOUT },
		{ NULL, 0, NULL, 0 }
	};
	struct reconcile r;
	struct apply a;
	struct vzlock lk;
	struct buf lockpath = BUF_INIT;
	const char *identity = NULL;
	char err[1024];
	int opt, rc, i, locked = 0, connect_ms = 0;
	size_t k, j;

	memset(&r, 0, sizeof r);
	memset(&a, 0, sizeof a);
	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS "k:",
	    longopts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			identity = optarg;
			break;
		case CLUSTER_OPT_CONNECT_TIMEOUT:
			if ((connect_ms = vz_ssh_parse_timeout(optarg)) == -1)
				return cmd_usage_error(&cmd_kill_entry,
				    "bad --connect-timeout '%s'", optarg);
			break;
		default:
			if ((rc = cmd_common_option(ctx, &cmd_kill_entry,
			    opt)) != CMD_CONTINUE)
				return rc;
		}
	}
	if (optind >= argc)
		return cmd_usage_error(&cmd_kill_entry, "name the pods to kill");
	if ((rc = cluster_load(&r.cl, ctx, CLUSTER_NEED_PODS)) != VZ_EXIT_OK)
		return rc;
	for (i = optind; i < argc; i++)
		if (pod_find(&r.cl.pods, argv[i]) == NULL) {
			/* A pod no longer in the manifests is stopped by
			   deploy anyway; a typo must not be remembered. */
			vz_error("no pod '%s' in %s", argv[i], ctx->pods_path);
			rc = VZ_EXIT_USAGE;
			goto out;
		}
	r.cl.identity = identity;
	if (connect_ms > 0)
		r.cl.connect_timeout_ms = connect_ms;
	if ((rc = cluster_select(&r.cl, NULL)) != VZ_EXIT_OK)
		goto out;
	buf_addf(&lockpath, "%s/lock", r.cl.state_dir);
	if (lock_acquire(&lk, lockpath.data, "vzmaster kill", 1, NULL, NULL,
	    err, sizeof err) != LOCK_OK) {
		vz_error("%s", err);
		rc = VZ_EXIT_FAIL;
		goto out;
	}
	locked = 1;
	rc = VZ_EXIT_FAIL;
	if (reconcile_prepare(&r) == -1)
		goto out;
	/* Mark first: the plan then stops them (killed, not named). */
	if (markers_load(&r.markers, r.markers_path, err, sizeof err) == -1) {
		vz_error("%s", err);
		goto out;
	}
	for (i = optind; i < argc; i++)
		markers_kill(&r.markers, argv[i], (int64_t)time(NULL));
	if (markers_save(&r.markers, r.markers_path, err, sizeof err) == -1) {
		vz_error("%s", err);
		goto out;
	}
	markers_release(&r.markers);
	if (reconcile_plan(&r) == -1)
		goto out;
	/* Keep only the stops of the pods named here. */
	for (k = 0; k < r.plan.n; k++) {
		struct plan_action *act = &r.plan.actions[k];
		int named = 0;

		for (i = optind; i < argc; i++)
			if (strcmp(argv[i], act->pod) == 0)
				named = 1;
		if (!named || act->op != PLAN_STOP)
			act->op = PLAN_KEEP;
	}
	reconcile_apply_init(&r, &a, 120);
	apply_plan(&a, &r.plan);
	reconcile_record(&r, &a);
	if (markers_save(&r.markers, r.markers_path, err, sizeof err) == -1) {
		vz_error("%s", err);
		a.failures++;
	}
	reconcile_report(ctx, &r, &a, 0);
	for (j = 0; j < r.cl.nnodes; j++)
		if (!r.cl.nodes[j].reachable)
			vz_warn("%s: unreachable: its copies stop when it "
			    "answers again", r.cl.nodes[j].host->name);
	rc = a.failures ? VZ_EXIT_FAIL : VZ_EXIT_OK;
out:
	apply_release(&a);
	if (locked)
		lock_release(&lk);
	buf_release(&lockpath);
	reconcile_release(&r);
	return rc;
}

const struct cmd_entry cmd_kill_entry = {
	.name = "kill",
	.summary = "stop pods everywhere and keep them stopped",
	.usage = "[-k KEY] [--json] POD...",
	.help =
	"  -k, --identity FILE     SSH private key to try after the agent\n"
	"      --connect-timeout S give up on a node after S seconds (5)\n"
	"The pods stay stopped across cron deploys until named again in\n"
	"`vzmaster deploy POD`.\n",
	.exec = kill_exec,
};

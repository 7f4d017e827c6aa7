/*
 * report: what deploy and kill tell the user (a line per change, errors
 * with the node and the last log lines, or one JSON object), and the
 * markers update that follows what really happened on the nodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "progress.h"
#include "reconcile.h"

/* Markers follow what really happened on the nodes. */
void
reconcile_record(struct reconcile *r, const struct apply *a)
{
	int64_t now = (int64_t)time(NULL);
	size_t i;

	for (i = 0; i < a->nresults; i++) {
		const struct apply_result *res = &a->results[i];

		if (res->op == PLAN_STOP && res->ok)
			markers_deployed_remove(&r->markers, res->pod,
			    res->node);
		else if ((res->op == PLAN_START || res->op == PLAN_UPDATE) &&
		    res->ok && res->hash != NULL)
			markers_deployed_set(&r->markers, res->pod, res->node,
			    res->hash, now);
	}
}

void
reconcile_report(const struct vz_ctx *ctx, struct reconcile *r,
    const struct apply *a, int dry_run)
{
	struct buf b = BUF_INIT;
	struct json_writer w;
	char sent[32], full[32];
	size_t i;

	if (ctx->json) {
		json_writer_init(&w, &b, 1);
		json_begin_object(&w);
		json_kv_bool(&w, "dryRun", dry_run);
		json_key(&w, "plan");
		plan_write_json(&r->plan, &w);
		json_key(&w, "results");
		json_begin_array(&w);
		for (i = 0; a != NULL && i < a->nresults; i++) {
			const struct apply_result *res = &a->results[i];

			json_begin_object(&w);
			json_kv_string(&w, "node", res->node);
			json_kv_string(&w, "pod", res->pod);
			json_kv_string(&w, "op", plan_op_name(res->op));
			json_kv_string(&w, "reason",
			    plan_reason_name(res->reason));
			json_kv_bool(&w, "ok", res->ok);
			json_kv_bool(&w, "rolledBack", res->rolled_back);
			json_kv_string(&w, "message", res->message);
			json_kv_string(&w, "logTail", res->log_tail);
			json_end_object(&w);
		}
		json_end_array(&w);
		json_key(&w, "unreachable");
		json_begin_array(&w);
		for (i = 0; i < r->cl.nnodes; i++)
			if (!r->cl.nodes[i].reachable) {
				json_begin_object(&w);
				json_kv_string(&w, "node",
				    r->cl.nodes[i].host->name);
				json_kv_string(&w, "error", r->cl.nodes[i].err);
				json_end_object(&w);
			}
		json_end_array(&w);
		json_key(&w, "importFailures");
		json_begin_array(&w);
		for (i = 0; i < r->ndesired; i++)
			if (r->desired[i].failed)
				json_string(&w, r->desired[i].err);
		json_end_array(&w);
		json_key(&w, "events");
		json_begin_array(&w);
		for (i = 0; a != NULL && i < a->nevents; i++)
			json_string(&w, a->events[i]);
		json_end_array(&w);
		json_key(&w, "bytesSent");
		json_uint(&w, a ? a->bytes_sent : 0);
		json_key(&w, "bytesFull");
		json_uint(&w, a ? a->bytes_full : 0);
		json_kv_int(&w, "failed", a ? a->failures : 0);
		json_end_object(&w);
		fputs(b.data, stdout);
		buf_release(&b);
		return;
	}
	for (i = 0; i < r->cl.nnodes; i++)
		if (!r->cl.nodes[i].reachable)
			vz_warn("%s: unreachable: %s",
			    r->cl.nodes[i].host->name, r->cl.nodes[i].err);
	if (dry_run) {
		plan_format_table(&r->plan, ctx->verbosity > 0, &b);
		fputs(b.len ? b.data : "nothing to do\n", stdout);
		buf_release(&b);
		return;
	}
	for (i = 0; a != NULL && i < a->nresults; i++) {
		const struct apply_result *res = &a->results[i];

		if (res->ok) {
			if (ctx->verbosity >= 0)
				printf("%-16s %-20s %s\n", res->node, res->pod,
				    res->message);
			continue;
		}
		vz_error("%s: %s", res->pod, res->message);
		if (res->log_tail != NULL)
			fprintf(stderr, "  last log lines of '%s' on %s:\n%s",
			    res->pod, res->node, res->log_tail);
	}
	for (i = 0; a != NULL && i < a->nevents; i++)
		vz_warn("%s", a->events[i]);
	for (i = 0; i < r->plan.nproblems; i++)
		vz_warn("%s", r->plan.problems[i].text);
	if (a != NULL && a->bytes_sent > 0 && ctx->verbosity >= 0) {
		vz_human_bytes(a->bytes_sent, sent, sizeof sent);
		vz_human_bytes(a->bytes_full, full, sizeof full);
		printf("images: sent %s (full images: %s)\n", sent, full);
	}
	if (a != NULL && a->nresults == 0 && ctx->verbosity > 0)
		printf("nothing to do\n");
}


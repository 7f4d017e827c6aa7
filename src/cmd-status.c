/*
 * vzmaster status: what the nodes say they run.  One SSH exchange per node,
 * in parallel; unreachable nodes are listed as such with the reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "json.h"
#include "ssh.h"

extern const struct cmd_entry cmd_status_entry;

static void
human_bytes(int64_t v, char *out, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	int u = 0;

	if (v < 0) {
		snprintf(out, len, "-");
		return;
	}
	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(out, len, u == 0 ? "%.0f %s" : "%.1f %s", d, unit[u]);
}

static void
human_age(int64_t started, time_t now, char *out, size_t len)
{
	int64_t s = started > 0 ? (int64_t)now - started : -1;

	if (s < 0)
		snprintf(out, len, "-");
	else if (s < 120)
		snprintf(out, len, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(out, len, "%lldm", (long long)(s / 60));
	else if (s < 172800)
		snprintf(out, len, "%lldh", (long long)(s / 3600));
	else
		snprintf(out, len, "%lldd", (long long)(s / 86400));
}


static void
print_human(struct cluster *cl)
{
	time_t now = time(NULL);
	char mem[32], age[32], avail[32], disk[32], total[32];
	size_t i, j, k;
	int any = 0;

	printf("%-20s %-16s %-10s %-12s %-10s %8s %6s %10s  %s\n",
	    "POD/CONTAINER", "NODE", "VENDOR", "STATE", "READY", "RESTARTS",
	    "AGE", "MEMORY", "IMAGE");
	for (i = 0; i < cl->nnodes; i++) {
		const struct cnode *n = &cl->nodes[i];

		if (!n->reachable)
			continue;
		for (j = 0; j < n->st.npods; j++) {
			const struct node_pod *p = &n->st.pods[j];

			if (p->error != NULL) {
				printf("%-20s %-16s %-10s %-12s %s\n", p->name,
				    n->host->name, n->host->vendor ?
				    n->host->vendor : "-", "refused",
				    p->error);
				any = 1;
			}
			for (k = 0; k < p->ncontainers; k++) {
				const struct node_container *c =
				    &p->containers[k];
				char name[128];

				snprintf(name, sizeof name, "%s/%s", p->name,
				    c->name);
				human_bytes(c->memory, mem, sizeof mem);
				human_age(c->started_at, now, age, sizeof age);
				printf("%-20s %-16s %-10s %-12s %-10s %8lld "
				    "%6s %10s  %.12s%s%s\n", name,
				    n->host->name,
				    n->host->vendor ? n->host->vendor : "-",
				    c->state, c->ready ? "yes" : "no",
				    (long long)c->restarts, age, mem,
				    c->image ? c->image : "-",
				    c->reason ? "  " : "",
				    c->reason ? c->reason : "");
				any = 1;
			}
		}
	}
	if (!any)
		printf("(no pods)\n");
	printf("\n%-16s %-10s %-10s %-20s %-8s %10s %10s %10s %5s  %s\n",
	    "NODE", "VENDOR", "REACHABLE", "OS", "ARCH", "MEM", "MEM FREE",
	    "DISK FREE", "LOAD", "VZEXEC");
	for (i = 0; i < cl->nnodes; i++) {
		const struct cnode *n = &cl->nodes[i];

		if (!n->reachable) {
			printf("%-16s %-10s %-10s %s%s\n", n->host->name,
			    n->host->vendor ? n->host->vendor : "-", "no",
			    n->err, n->host->drain ? "  (draining)" : "");
			continue;
		}
		human_bytes(n->st.mem_total, total, sizeof total);
		human_bytes(n->st.mem_available, avail, sizeof avail);
		human_bytes(n->st.disk_free, disk, sizeof disk);
		printf("%-16s %-10s %-10s %-20s %-8s %10s %10s %10s %5.2f  %s"
		    "%s%s%s\n", n->host->name,
		    n->host->vendor ? n->host->vendor : "-",
		    "yes", n->st.os ? n->st.os : "-",
		    n->st.arch ? n->st.arch : "-", total, avail, disk,
		    n->st.load1, n->st.vzexec_version ? n->st.vzexec_version :
		    "-", node_version_cmp(n->st.vzexec_version,
		    VZEXEC_NODE_MIN_VERSION) < 0 ? "  (too old: run newnode "
		    "again)" : "", n->st.supervisor_running ? "" :
		    "  (supervisor not running)", n->host->drain ?
		    "  (draining)" : "");
	}
}

static void
print_json(struct cluster *cl)
{
	struct buf b = BUF_INIT;
	struct json_writer w;
	size_t i, j, k;

	json_writer_init(&w, &b, 1);
	json_begin_object(&w);
	json_key(&w, "nodes");
	json_begin_array(&w);
	for (i = 0; i < cl->nnodes; i++) {
		const struct cnode *n = &cl->nodes[i];

		json_begin_object(&w);
		json_kv_string(&w, "name", n->host->name);
		json_kv_string(&w, "address", n->host->address);
		json_kv_string(&w, "vendor", n->host->vendor);
		json_kv_bool(&w, "reachable", n->reachable);
		json_kv_bool(&w, "draining", n->host->drain);
		if (!n->reachable) {
			json_kv_string(&w, "error", n->err);
			json_end_object(&w);
			continue;
		}
		json_kv_string(&w, "os", n->st.os);
		json_kv_string(&w, "arch", n->st.arch);
		json_kv_int(&w, "memTotal", n->st.mem_total);
		json_kv_int(&w, "memAvailable", n->st.mem_available);
		json_kv_int(&w, "diskFree", n->st.disk_free);
		json_key(&w, "load1");
		json_double(&w, n->st.load1);
		json_kv_bool(&w, "supervisorRunning", n->st.supervisor_running);
		json_kv_string(&w, "vzexecVersion", n->st.vzexec_version);
		json_key(&w, "images");
		json_begin_array(&w);
		for (j = 0; j < n->st.nimages; j++)
			json_string(&w, n->st.images[j].id);
		json_end_array(&w);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_key(&w, "pods");
	json_begin_array(&w);
	for (i = 0; i < cl->nnodes; i++) {
		const struct cnode *n = &cl->nodes[i];

		for (j = 0; n->reachable && j < n->st.npods; j++) {
			const struct node_pod *p = &n->st.pods[j];

			json_begin_object(&w);
			json_kv_string(&w, "pod", p->name);
			json_kv_string(&w, "node", n->host->name);
			json_kv_string(&w, "vendor", n->host->vendor);
			json_kv_string(&w, "hash", p->hash);
			json_kv_string(&w, "error", p->error);
			json_kv_bool(&w, "healthy", node_pod_healthy(p));
			json_key(&w, "containers");
			json_begin_array(&w);
			for (k = 0; k < p->ncontainers; k++) {
				const struct node_container *c =
				    &p->containers[k];

				json_begin_object(&w);
				json_kv_string(&w, "name", c->name);
				json_kv_string(&w, "state", c->state);
				json_kv_string(&w, "image", c->image);
				json_kv_string(&w, "reason", c->reason);
				json_kv_bool(&w, "ready", c->ready);
				json_kv_int(&w, "pid", c->pid);
				json_kv_int(&w, "restarts", c->restarts);
				json_kv_int(&w, "startedAt", c->started_at);
				json_kv_int(&w, "lastExitCode", c->last_exit);
				json_kv_int(&w, "memoryBytes", c->memory);
				json_end_object(&w);
			}
			json_end_array(&w);
			json_end_object(&w);
		}
	}
	json_end_array(&w);
	json_end_object(&w);
	fputs(b.data, stdout);
	buf_release(&b);
}

static int
status_exec(struct vz_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		CMD_COMMON_LONGOPTS,
		{ "limit",	required_argument, NULL, 'l' },
		{ "identity",	required_argument, NULL, 'k' },
		{ "connect-timeout", required_argument, NULL,
		    CLUSTER_OPT_CONNECT_TIMEOUT },
		{ NULL, 0, NULL, 0 }
	};
	struct cluster cl;
	const char *limit = NULL, *identity = NULL;
	int opt, rc, timeout = 0;
	size_t i, down = 0;

	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS "l:k:",
	    longopts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			limit = optarg;
			break;
		case 'k':
			identity = optarg;
			break;
		case CLUSTER_OPT_CONNECT_TIMEOUT:
			if ((timeout = vz_ssh_parse_timeout(optarg)) == -1)
				return cmd_usage_error(&cmd_status_entry,
				    "bad --connect-timeout '%s'", optarg);
			break;
		default:
			if ((rc = cmd_common_option(ctx, &cmd_status_entry,
			    opt)) != CMD_CONTINUE)
				return rc;
		}
	}
	if (optind != argc)
		return cmd_usage_error(&cmd_status_entry, "unexpected '%s'",
		    argv[optind]);
	if ((rc = cluster_load(&cl, ctx, 0)) != VZ_EXIT_OK)
		return rc;
	cl.identity = identity;
	if (timeout > 0)
		cl.connect_timeout_ms = timeout;
	if ((rc = cluster_select(&cl, limit)) != VZ_EXIT_OK)
		goto out;
	cluster_probe(&cl);
	if (ctx->json)
		print_json(&cl);
	else
		print_human(&cl);
	for (i = 0; i < cl.nnodes; i++)
		if (!cl.nodes[i].reachable)
			down++;
	rc = down ? VZ_EXIT_FAIL : VZ_EXIT_OK;
out:
	cluster_release(&cl);
	return rc;
}

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.summary = "show pods, replicas and nodes as the nodes report them",
	.usage = "[-l LIMIT] [-k KEY] [--connect-timeout S] [--json]",
	.help =
	"  -l, --limit PATTERN     only the hosts matching an Ansible pattern\n"
	"  -k, --identity FILE     SSH private key to try after the agent\n"
	"      --connect-timeout S give up on a node after S seconds (5)\n"
	"Exit status 1 when a node did not answer.\n",
	.exec = status_exec,
};

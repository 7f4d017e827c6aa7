/*
 * vzmaster validate: load the manifests and the inventory, report every
 * problem as FILE:LINE:COL, and print what was understood: a summary, or
 * with --json the resolved model, whose "inventory" member has exactly the
 * shape of `ansible-inventory --list`.  Touches no node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "diag.h"
#include "inventory.h"
#include "json.h"
#include "pod.h"

extern const struct cmd_entry cmd_validate_entry;

static void
fmt_mem(int64_t v, char *out, size_t len)
{
	if (v < 0)
		snprintf(out, len, "-");
	else if (v % (1 << 30) == 0 && v > 0)
		snprintf(out, len, "%lldGi", (long long)(v >> 30));
	else if (v % (1 << 20) == 0 && v > 0)
		snprintf(out, len, "%lldMi", (long long)(v >> 20));
	else if (v % (1 << 10) == 0 && v > 0)
		snprintf(out, len, "%lldKi", (long long)(v >> 10));
	else
		snprintf(out, len, "%lld", (long long)v);
}

static void
print_summary(const struct pod_set *ps, const struct inventory *inv)
{
	char req[32], lim[32];
	size_t i, j;

	printf("pods (%zu):\n", ps->n);
	for (i = 0; i < ps->n; i++) {
		const struct pod *p = &ps->pods[i];

		printf("  %s  %s, %d replica%s", p->name, p->kind, p->replicas,
		    p->replicas == 1 ? "" : "s");
		for (j = 0; j < p->node_selector.n; j++)
			printf("%s%s=%s", j ? "," : ", nodeSelector ",
			    p->node_selector.v[j].key,
			    p->node_selector.v[j].value);
		printf("\n");
		for (j = 0; j < p->n_containers; j++) {
			const struct container *c = &p->containers[j];

			fmt_mem(c->mem_request, req, sizeof req);
			fmt_mem(c->mem_limit, lim, sizeof lim);
			printf("    %-16s %s  memory %s/%s\n", c->name,
			    c->image.text, req, lim);
		}
	}
	printf("hosts (%zu):\n", inv->nhosts);
	for (i = 0; i < inv->nhosts; i++) {
		const struct inv_host *h = &inv->hosts[i];

		printf("  %-16s %s", h->name, h->address);
		if (h->port != 22)
			printf(":%d", h->port);
		printf("  vendor %s  groups ", h->vendor ? h->vendor : "-");
		for (j = 0; j < h->ngroups; j++)
			printf("%s%s", j ? "," : "", h->groups[j]);
		if (h->ngroups == 0)
			printf("ungrouped");
		printf("\n");
	}
}

static int
validate_exec(struct vz_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct diags d = DIAGS_INIT;
	struct pod_set ps = { NULL, 0 };
	struct inventory *inv = NULL;
	struct json_writer w;
	struct buf b = BUF_INIT;
	int opt, rc = VZ_EXIT_OK;
	size_t i;

	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts,
	    NULL)) != -1)
		if ((rc = cmd_common_option(ctx, &cmd_validate_entry, opt)) !=
		    CMD_CONTINUE)
			return rc;
	rc = VZ_EXIT_OK;
	if (optind != argc)
		return cmd_usage_error(&cmd_validate_entry, "unexpected '%s'",
		    argv[optind]);
	if (inventory_load(ctx->inventory_path, &inv, &d) == -1)
		rc = VZ_EXIT_USAGE;
	if (pod_load(ctx->pods_path, &ps, &d) == -1)
		rc = VZ_EXIT_USAGE;
	diag_print(&d, stderr);
	if (rc != VZ_EXIT_OK) {
		fprintf(stderr, "vzmaster: %d error%s, %d warning%s\n",
		    d.errors, d.errors == 1 ? "" : "s", d.warnings,
		    d.warnings == 1 ? "" : "s");
		goto out;
	}
	if (ctx->json) {
		json_writer_init(&w, &b, 1);
		json_begin_object(&w);
		json_key(&w, "inventory");
		inventory_write_json(&w, inv);
		json_key(&w, "pods");
		json_begin_array(&w);
		for (i = 0; i < ps.n; i++)
			pod_write_json(&w, &ps.pods[i]);
		json_end_array(&w);
		json_kv_int(&w, "warnings", d.warnings);
		json_end_object(&w);
		fputs(b.data, stdout);
	} else if (ctx->verbosity >= 0)
		print_summary(&ps, inv);
out:
	buf_release(&b);
	diag_release(&d);
	pod_set_release(&ps);
	if (inv != NULL)
		inventory_free(inv);
	return rc;
}

const struct cmd_entry cmd_validate_entry = {
	.name = "validate",
	.summary = "check the pod manifests and the inventory",
	.usage = "[--json]",
	.help =
	"Every problem is printed as FILE:LINE:COLUMN: error: MESSAGE (or\n"
	"warning:).  --json prints the resolved model; its \"inventory\"\n"
	"member has the shape of `ansible-inventory --list`.\n"
	"Exit status: 0 valid, 2 errors.\n",
	.exec = validate_exec,
};

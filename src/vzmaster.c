/*
 * vzmaster: entry point.  Parses the global options, finds the command in
 * cmd_table[] by name or unique prefix, and runs it.  This is the one place
 * that decides the process exit code.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "ssh.h"

#define OPT_PERSIST	0x1100

extern const struct cmd_entry cmd_delta_entry;
extern const struct cmd_entry cmd_deploy_entry;
extern const struct cmd_entry cmd_help_entry;
extern const struct cmd_entry cmd_image_entry;
extern const struct cmd_entry cmd_kill_entry;
extern const struct cmd_entry cmd_logs_entry;
extern const struct cmd_entry cmd_newnode_entry;
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_validate_entry;

const struct cmd_entry *const cmd_table[] = {
	&cmd_delta_entry,
	&cmd_deploy_entry,
	&cmd_help_entry,
	&cmd_image_entry,
	&cmd_kill_entry,
	&cmd_logs_entry,
	&cmd_newnode_entry,
	&cmd_status_entry,
	&cmd_validate_entry,
	NULL
};

static const char global_usage[] =
"usage: vzmaster [-C DIR] [-i INVENTORY] [-f PODS] [-j N] [--persist TIME]\n"
"                [--json] [-q|-v] COMMAND [ARGS...]\n";

static const char global_help[] =
"\n"
"Global options (before the command):\n"
"  -C DIR          work in DIR, as make -C and git -C do\n"
"  -i FILE         inventory, Ansible INI format (default: hosts.ini)\n"
"  -f PATH         pod manifests: a YAML file or a folder of *.yaml/*.yml\n"
"                  (default: pods)\n"
"  -j N            talk to at most N nodes at once (default: 16)\n"
"      --persist TIME  keep SSH connections open for the next run this long\n"
"                  after it (30, 90s, 10m, 1h; 0: off; default:\n"
"                  $VZMASTER_PERSIST, else 90 s)\n"
"      --json      machine-readable output\n"
"  -q, --quiet     only errors\n"
"  -v, --verbose   more detail (repeat for more)\n"
"  -V, --version   print the version and exit\n"
"  -h, --help      this help; `vzmaster help COMMAND` for a command\n"
"\n"
"Exit status: 0 done, 1 failed or partly done, 2 bad usage or configuration.\n";

static void
vz_vmsg(const char *level, const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("vzmaster: ", stderr);
	if (level != NULL)
		fprintf(stderr, "%s: ", level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
vz_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vz_vmsg(NULL, fmt, ap);
	va_end(ap);
}

void
vz_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vz_vmsg("warning", fmt, ap);
	va_end(ap);
}

void
vz_info(const struct vz_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx != NULL && ctx->verbosity < 0)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const struct cmd_entry *
cmd_find(const char *name, int *ambiguous)
{
	const struct cmd_entry *found = NULL;
	size_t i, len = strlen(name);

	*ambiguous = 0;
	for (i = 0; cmd_table[i] != NULL; i++) {
		if (strcmp(cmd_table[i]->name, name) == 0)
			return cmd_table[i];
		if (len > 0 && strncmp(cmd_table[i]->name, name, len) == 0) {
			if (found != NULL)
				*ambiguous = 1;
			found = cmd_table[i];
		}
	}
	return *ambiguous ? NULL : found;
}

void
cmd_print_help(const struct cmd_entry *c, FILE *fp)
{
	fprintf(fp, "usage: vzmaster %s %s\n\n%s\n", c->name, c->usage,
	    c->summary);
	if (c->help != NULL && c->help[0] != '\0')
		fprintf(fp, "\n%s", c->help);
	fputs("\nCommon options:\n"
	    "  -h, --help      this help\n"
	    "      --json      machine-readable output\n"
	    "  -q, --quiet     only errors\n"
	    "  -v, --verbose   more detail\n", fp);
}

int
cmd_usage_error(const struct cmd_entry *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vz_vmsg(c->name, fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: vzmaster %s %s\n", c->name, c->usage);
	return VZ_EXIT_USAGE;
}

int
cmd_common_option(struct vz_ctx *ctx, const struct cmd_entry *c, int opt)
{
	switch (opt) {
	case 'h':
		cmd_print_help(c, stdout);
		return VZ_EXIT_OK;
	case CMD_OPT_JSON:
		ctx->json = 1;
		return CMD_CONTINUE;
	case 'q':
		ctx->verbosity = -1;
		return CMD_CONTINUE;
	case 'v':
		ctx->verbosity++;
		return CMD_CONTINUE;
	default:
		/* getopt_long already said what was wrong */
		fprintf(stderr, "usage: vzmaster %s %s\n", c->name, c->usage);
		return VZ_EXIT_USAGE;
	}
}

static void
print_overview(FILE *fp)
{
	size_t i;

	fputs(global_usage, fp);
	fputs("\nCommands:\n", fp);
	for (i = 0; cmd_table[i] != NULL; i++)
		fprintf(fp, "  %-10s %s\n", cmd_table[i]->name,
		    cmd_table[i]->summary);
	fputs(global_help, fp);
}

/* ---- vzmaster help [COMMAND] ---- */

static int
help_exec(struct vz_ctx *ctx, int argc, char **argv)
{
	const struct cmd_entry *c;
	int ambiguous;

	(void)ctx;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		print_overview(stdout);
		return VZ_EXIT_OK;
	}
	if (argc > 2)
		return cmd_usage_error(&cmd_help_entry, "too many arguments");
	if ((c = cmd_find(argv[1], &ambiguous)) == NULL) {
		vz_error("%s command: %s", ambiguous ? "ambiguous" : "unknown",
		    argv[1]);
		return VZ_EXIT_USAGE;
	}
	cmd_print_help(c, stdout);
	return VZ_EXIT_OK;
}

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.summary = "show the commands, or the options of one command",
	.usage = "[COMMAND]",
	.help = NULL,
	.exec = help_exec,
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help",	no_argument,		NULL,	'h' },
		{ "version",	no_argument,		NULL,	'V' },
		{ "json",	no_argument,		NULL,	CMD_OPT_JSON },
		{ "quiet",	no_argument,		NULL,	'q' },
		{ "verbose",	no_argument,		NULL,	'v' },
		{ "persist",	required_argument,	NULL,	OPT_PERSIST },
		{ NULL,		0,			NULL,	0 }
	};
	struct vz_ctx ctx;
	const struct cmd_entry *c;
	const char *dir = NULL;
	char *end, perr[256];
	long n;
	int opt, ambiguous, persist;

	memset(&ctx, 0, sizeof ctx);
	ctx.progname = "vzmaster";
	ctx.inventory_path = "hosts.ini";
	ctx.pods_path = "pods";
	ctx.jobs = 16;
	ctx.tty = isatty(STDOUT_FILENO);

	/* '+': stop at the command name; what follows is the command's. */
	while ((opt = getopt_long(argc, argv, "+C:i:f:j:qvVh", longopts,
	    NULL)) != -1) {
		switch (opt) {
		case 'C':
			dir = optarg;
			break;
		case 'i':
			ctx.inventory_path = optarg;
			ctx.inventory_given = 1;
			break;
		case 'f':
			ctx.pods_path = optarg;
			ctx.pods_given = 1;
			break;
		case 'j':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || n < 1 || n > 1024) {
				vz_error("-j wants a number from 1 to 1024, "
				    "not '%s'", optarg);
				return VZ_EXIT_USAGE;
			}
			ctx.jobs = (int)n;
			break;
		case CMD_OPT_JSON:
			ctx.json = 1;
			break;
		case OPT_PERSIST:
			if (vz_ssh_parse_persist(optarg, &persist, perr,
			    sizeof perr) == -1) {
				vz_error("--persist: %s", perr);
				return VZ_EXIT_USAGE;
			}
			/* the commands read it through vz_ssh_persist_default */
			snprintf(perr, sizeof perr, "%d", persist);
			setenv("VZMASTER_PERSIST", perr, 1);
			break;
		case 'q':
			ctx.verbosity = -1;
			break;
		case 'v':
			ctx.verbosity++;
			break;
		case 'V':
			printf("vzmaster %s\n", PACKAGE_VERSION);
			return VZ_EXIT_OK;
		case 'h':
			print_overview(stdout);
			return VZ_EXIT_OK;
		default:
			fputs(global_usage, stderr);
			return VZ_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(global_usage, stderr);
		fputs("Try 'vzmaster help' for the commands.\n", stderr);
		return VZ_EXIT_USAGE;
	}
	if (dir != NULL && chdir(dir) == -1) {
		vz_error("cannot change to '%s': %s", dir, strerror(errno));
		return VZ_EXIT_USAGE;
	}
	if ((c = cmd_find(argv[optind], &ambiguous)) == NULL) {
		if (ambiguous)
			vz_error("ambiguous command '%s'", argv[optind]);
		else
			vz_error("unknown command '%s' (see 'vzmaster help')",
			    argv[optind]);
		return VZ_EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: full reinitialisation for the command */
	return c->exec(&ctx, argc, argv);
}

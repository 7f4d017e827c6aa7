/*
 * cmd: the command table of vzmaster and what every command receives.
 *
 * Adding a command:
 *   1. write src/cmd-NAME.c exporting `const struct cmd_entry cmd_NAME_entry`
 *      (designated initialisers: name, summary, usage, help, flags, exec);
 *   2. add it to cmd_table[] in src/vzmaster.c and to its mk/ fragment;
 *   3. document it in man/vzmaster.1 (and its own page if it has one);
 *   4. test it under tests/.
 * The exec function gets argv with argv[0] = the command name, parses its
 * own options with getopt_long (cmd_common_option() handles --help, --json,
 * -q and -v the same way everywhere), prints its own errors, and returns an
 * exit code: VZ_EXIT_OK, VZ_EXIT_FAIL or VZ_EXIT_USAGE.
 */
#ifndef VZ_CMD_H
#define VZ_CMD_H

#include <getopt.h>
#include <stdio.h>

#define VZ_EXIT_OK	0	/* done */
#define VZ_EXIT_FAIL	1	/* failed, or only partly done */
#define VZ_EXIT_USAGE	2	/* bad usage or bad configuration */

struct vz_ctx {
	const char	*progname;
	const char	*inventory_path;	/* -i, default hosts.ini */
	const char	*pods_path;		/* -f, default pods */
	int		 inventory_given;	/* -i was on the command line */
	int		 pods_given;
	int		 jobs;			/* -j, default 16 */
	int		 json;			/* --json */
	int		 verbosity;		/* -q: -1, default 0, -v: 1.. */
	int		 tty;			/* stdout is a terminal */
};

struct cmd_entry {
	const char	*name;
	const char	*summary;	/* one line for `vzmaster help` */
	const char	*usage;		/* synopsis after "vzmaster NAME " */
	const char	*help;		/* option list for NAME --help */
	int		(*exec)(struct vz_ctx *, int argc, char **argv);
};

extern const struct cmd_entry *const cmd_table[];

const struct cmd_entry	*cmd_find(const char *name, int *ambiguous);
void	cmd_print_help(const struct cmd_entry *, FILE *);
int	cmd_usage_error(const struct cmd_entry *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Options every command accepts.  Put CMD_COMMON_LONGOPTS in the command's
 * struct option array and CMD_COMMON_SHORTOPTS in its optstring, and call
 * cmd_common_option() from the default: branch of the getopt switch.
 */
#define CMD_OPT_JSON	0x1001
#define CMD_OPT_HELP	'h'
#define CMD_COMMON_SHORTOPTS "hqv"
#define CMD_COMMON_LONGOPTS					\
	{ "help",	no_argument,	NULL,	'h' },		\
	{ "json",	no_argument,	NULL,	CMD_OPT_JSON },	\
	{ "quiet",	no_argument,	NULL,	'q' },		\
	{ "verbose",	no_argument,	NULL,	'v' }

#define CMD_CONTINUE	(-100)
/* Returns CMD_CONTINUE, or an exit code to return right away. */
int	cmd_common_option(struct vz_ctx *, const struct cmd_entry *, int opt);

/* Messages: "vzmaster: ..." on stderr.  -q silences vz_info. */
void	vz_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	vz_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	vz_info(const struct vz_ctx *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif

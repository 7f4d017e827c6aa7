/*
 * cmd-delta: `vzmaster delta encode BASE NEW DELTA` and `vzmaster delta
 * decode BASE DELTA NEW`, the VCDIFF module as a tool (like xdelta3 -e/-d
 * -s BASE), so anyone can see what an image update will cost.  The output
 * goes to a temporary file beside it and is renamed into place only when
 * complete: an error never leaves a half file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "json.h"
#include "vcdiff.h"

extern const struct cmd_entry cmd_delta_entry;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
open_in(const char *path, int *fd)
{
	if (strcmp(path, "-") == 0) {
		*fd = STDIN_FILENO;
		return 0;
	}
	if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		vz_error("cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Opens a temporary file in the directory of path (O_RDWR: the decoder
 * reads back VCD_TARGET segments). */
static int
open_tmp(const char *path, struct buf *tmp, int *fd)
{
	buf_reset(tmp);
	buf_addf(tmp, "%s.tmpXXXXXX", path);
	if ((*fd = mkstemp(tmp->data)) == -1) {
		vz_error("cannot create a temporary file for '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static void
print_summary(struct vz_ctx *ctx, int encode, const struct vcdiff_stats *st,
    double secs, FILE *fp)
{
	struct json_writer w;
	struct buf b = BUF_INIT;
	double ratio;

	ratio = st->target_len > 0 ?
	    (double)st->delta_len / (double)st->target_len : 0.0;
	if (ctx->json) {
		json_writer_init(&w, &b, 0);
		json_begin_object(&w);
		json_kv_string(&w, "operation", encode ? "encode" : "decode");
		json_key(&w, "base_bytes");
		json_uint(&w, st->source_len);
		json_key(&w, "new_bytes");
		json_uint(&w, st->target_len);
		json_key(&w, "delta_bytes");
		json_uint(&w, st->delta_len);
		json_key(&w, "ratio");
		json_double(&w, ratio);
		json_key(&w, "windows");
		json_uint(&w, st->windows);
		json_key(&w, "copy_bytes");
		json_uint(&w, st->copy_bytes);
		json_key(&w, "add_bytes");
		json_uint(&w, st->add_bytes);
		json_key(&w, "run_bytes");
		json_uint(&w, st->run_bytes);
		json_key(&w, "seconds");
		json_double(&w, secs);
		json_end_object(&w);
		fprintf(fp, "%s\n", b.data);
		buf_release(&b);
		return;
	}
	if (ctx->verbosity < 0)
		return;
	fprintf(fp, "base %llu bytes, new %llu bytes, delta %llu bytes "
	    "(%.2f%% of new), %u window%s, %.2f s\n",
	    (unsigned long long)st->source_len,
	    (unsigned long long)st->target_len,
	    (unsigned long long)st->delta_len, ratio * 100.0, st->windows,
	    st->windows == 1 ? "" : "s", secs);
	if (ctx->verbosity > 0)
		fprintf(fp, "copied %llu, added %llu, run %llu bytes\n",
		    (unsigned long long)st->copy_bytes,
		    (unsigned long long)st->add_bytes,
		    (unsigned long long)st->run_bytes);
}

static int
delta_exec(struct vz_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const struct cmd_entry *c = &cmd_delta_entry;
	struct vcdiff_stats st;
	struct buf tmp = BUF_INIT;
	const char *base, *in, *outpath;
	char err[512];
	int opt, encode, rc = VZ_EXIT_FAIL, base_fd = -1, in_fd = -1;
	int out_fd = -1, to_stdout;
	double t0;

	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if ((rc = cmd_common_option(ctx, c, opt)) != CMD_CONTINUE)
			return rc;
	}
	rc = VZ_EXIT_FAIL;
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return cmd_usage_error(c, "missing 'encode' or 'decode'");
	if (strcmp(argv[0], "encode") == 0)
		encode = 1;
	else if (strcmp(argv[0], "decode") == 0)
		encode = 0;
	else
		return cmd_usage_error(c, "unknown operation '%s'", argv[0]);
	if (argc != 4)
		return cmd_usage_error(c, "%s wants 3 arguments, not %d",
		    argv[0], argc - 1);
	base = argv[1];
	in = argv[2];
	outpath = argv[3];
	if (strcmp(base, "-") == 0)
		return cmd_usage_error(c, "the base must be a file, not stdin");
	to_stdout = strcmp(outpath, "-") == 0;

	if ((base_fd = open(base, O_RDONLY | O_CLOEXEC)) == -1) {
		vz_error("cannot open '%s': %s", base, strerror(errno));
		goto out;
	}
	if (open_in(in, &in_fd) == -1)
		goto out;
	if (to_stdout)
		out_fd = STDOUT_FILENO;
	else if (open_tmp(outpath, &tmp, &out_fd) == -1)
		goto out;

	t0 = now();
	if ((encode ? vcdiff_encode(base_fd, in_fd, out_fd, &st, err,
	    sizeof err) : vcdiff_decode(base_fd, in_fd, out_fd, &st, err,
	    sizeof err)) == -1) {
		vz_error("%s '%s': %s", encode ? "cannot encode" :
		    "cannot decode", in, err);
		goto out;
	}
	if (!to_stdout) {
		if (fchmod(out_fd, 0644) == -1 || fsync(out_fd) == -1 ||
		    close(out_fd) == -1) {
			out_fd = -1;
			vz_error("cannot write '%s': %s", outpath,
			    strerror(errno));
			goto out;
		}
		out_fd = -1;
		if (rename(tmp.data, outpath) == -1) {
			vz_error("cannot rename into '%s': %s", outpath,
			    strerror(errno));
			goto out;
		}
		buf_reset(&tmp);
	}
	print_summary(ctx, encode, &st, now() - t0,
	    to_stdout ? stderr : stdout);
	rc = VZ_EXIT_OK;
out:
	if (out_fd != -1 && !to_stdout)
		close(out_fd);
	if (tmp.len > 0)
		unlink(tmp.data);
	if (in_fd > STDIN_FILENO)
		close(in_fd);
	if (base_fd != -1)
		close(base_fd);
	buf_release(&tmp);
	return rc;
}

const struct cmd_entry cmd_delta_entry = {
	.name = "delta",
	.summary = "make or apply a VCDIFF binary delta (xdelta3-compatible)",
	.usage = "encode BASE NEW DELTA | decode BASE DELTA NEW",
	.help =
	"encode BASE NEW DELTA   write the VCDIFF delta that turns BASE into\n"
	"                        NEW (like xdelta3 -e -S none -s BASE NEW DELTA)\n"
	"decode BASE DELTA NEW   rebuild NEW from BASE and DELTA (like\n"
	"                        xdelta3 -d -s BASE DELTA NEW); also reads\n"
	"                        deltas written by xdelta3 -S none\n"
	"\n"
	"NEW (encode) and DELTA (decode) may be '-' for stdin, the output '-'\n"
	"for stdout (the summary then goes to stderr).  BASE must be a file.\n"
	"The output is written to a temporary file and renamed when complete.\n"
	"Prints base, new and delta sizes, the ratio, windows and time.\n",
	.exec = delta_exec,
};

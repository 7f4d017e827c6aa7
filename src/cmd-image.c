/*
 * cmd-image: `vzmaster image`, the user's view of the master's image store:
 *   image import [--store DIR] REF...       flatten into the store
 *   image list [--store DIR] [REF]          versions per reference
 *   image pack [--store DIR] [--base ID] [--compress auto|none|xz|zstd]
 *              ID OUTDIR                     build an upload for a node
 * `pack` writes what a push sends (see wire.h), so anyone can check what an
 * update will cost, and tests can drive the node helper without SSH.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "image.h"
#include "imgstore.h"
#include "imgutil.h"
#include "json.h"
#include "wire.h"

#define DEFAULT_STORE	".vzmaster/images"

extern const struct cmd_entry cmd_image_entry;

static int
image_import_cmd(struct vz_ctx *ctx, struct imgstore *s, int argc,
    char **argv)
{
	struct image_info info;
	struct buf out = BUF_INIT;
	struct json_writer w;
	char err[2048];
	int i, rc = VZ_EXIT_OK;

	if (argc == 0)
		return cmd_usage_error(&cmd_image_entry, "import: name an image "
		    "reference");
	json_writer_init(&w, &out, 1);
	json_begin_array(&w);
	for (i = 0; i < argc; i++) {
		if (imgstore_import(s, argv[i], &info, err, sizeof err) == -1) {
			vz_error("%s", err);
			rc = VZ_EXIT_FAIL;
			continue;
		}
		if (ctx->json) {
			json_begin_object(&w);
			json_kv_string(&w, "ref", argv[i]);
			json_kv_string(&w, "id", info.id);
			json_key(&w, "size");
			json_uint(&w, info.size);
			json_kv_int(&w, "entries", (int64_t)info.entries);
			json_kv_int(&w, "layers", info.layers);
			json_end_object(&w);
		} else
			printf("%s %s (%llu bytes, %llu entries)\n", info.id,
			    argv[i], (unsigned long long)info.size,
			    (unsigned long long)info.entries);
		image_info_release(&info);
	}
	json_end_array(&w);
	if (ctx->json)
		puts(out.data);
	buf_release(&out);
	return rc;
}

static int
image_list_cmd(struct vz_ctx *ctx, struct imgstore *s, int argc, char **argv)
{
	char ids[IMGSTORE_MAX][65], err[1024], dir[4200];
	struct buf out = BUF_INIT;
	struct json_writer w;
	size_t n, i;
	int a;

	(void)argc;
	(void)argv;
	fmtpath(dir, sizeof dir, "%s/refs", s->dir);
	json_writer_init(&w, &out, 1);
	json_begin_array(&w);
	/* the reference is the second line of each index */
	{
		DIR *d = opendir(dir);
		struct dirent *de;

		while (d != NULL && (de = readdir(d)) != NULL) {
			struct buf b = BUF_INIT;
			char path[4400], *ref, *nl;

			if (de->d_name[0] == '.')
				continue;
			fmtpath(path, sizeof path, "%s/%s", dir, de->d_name);
			if (buf_read_file(&b, path, 1 << 20) == -1 ||
			    (ref = strchr(b.data, '\n')) == NULL) {
				buf_release(&b);
				continue;
			}
			ref++;
			if ((nl = strchr(ref, '\n')) != NULL)
				*nl = '\0';
			for (a = 0; a < argc; a++)
				if (strcmp(argv[a], ref) == 0)
					break;
			if (argc > 0 && a == argc) {
				buf_release(&b);
				continue;
			}
			if (imgstore_versions(s, ref, ids, IMGSTORE_MAX, &n, err,
			    sizeof err) == -1) {
				vz_error("%s", err);
				buf_release(&b);
				continue;
			}
			if (ctx->json) {
				json_begin_object(&w);
				json_kv_string(&w, "ref", ref);
				json_key(&w, "versions");
				json_begin_array(&w);
				for (i = 0; i < n; i++)
					json_string(&w, ids[i]);
				json_end_array(&w);
				json_end_object(&w);
			} else
				for (i = 0; i < n; i++)
					printf("%s %s%s\n", ids[i], ref,
					    i == 0 ? " (newest)" : "");
			buf_release(&b);
		}
		if (d != NULL)
			closedir(d);
	}
	json_end_array(&w);
	if (ctx->json)
		puts(out.data);
	buf_release(&out);
	return VZ_EXIT_OK;
}

/* Hardlink src to dst, or copy it when they are on different file systems. */
static int
copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
	char chunk[1 << 16];
	ssize_t n;
	int in, out, rc = -1;

	unlink(dst);
	if (link(src, dst) == 0)
		return 0;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1) {
		fmtpath(err, errlen, "cannot open '%s': %s", src,
		    strerror(errno));
		return -1;
	}
	if ((out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1) {
		fmtpath(err, errlen, "cannot create '%s': %s", dst,
		    strerror(errno));
		close(in);
		return -1;
	}
	while ((n = read(in, chunk, sizeof chunk)) > 0)
		if (write_full(out, chunk, (size_t)n) == -1)
			break;
	if (n == 0 && close(out) == 0)
		rc = 0;
	else {
		fmtpath(err, errlen, "cannot copy '%s' to '%s': %s", src, dst,
		    strerror(errno));
		if (n != 0)
			close(out);
		unlink(dst);
	}
	close(in);
	return rc;
}

static int
image_pack_cmd(struct vz_ctx *ctx, struct imgstore *s, const char *base,
    const char *compress, int argc, char **argv)
{
	struct wire_upload up;
	enum wire_compress c;
	struct buf cfg = BUF_INIT, ref = BUF_INIT;
	struct json_value *doc = NULL;
	char target[4200], basetar[4200], cpath[4200], mpath[4400], err[2048];
	char perr[200];
	int rc = VZ_EXIT_FAIL;

	if (argc != 2)
		return cmd_usage_error(&cmd_image_entry, "pack: want ID OUTDIR");
	if (!is_sha256_hex(argv[0]) || (base && !is_sha256_hex(base)))
		return cmd_usage_error(&cmd_image_entry, "pack: an image id is "
		    "64 hex digits");
	if (strcmp(compress, "auto") == 0)
		c = WIRE_AUTO;
	else if (strcmp(compress, "none") == 0)
		c = WIRE_NONE;
	else if (strcmp(compress, "xz") == 0)
		c = WIRE_XZ;
	else if (strcmp(compress, "zstd") == 0)
		c = WIRE_ZSTD;
	else
		return cmd_usage_error(&cmd_image_entry, "pack: --compress is "
		    "auto, none, xz or zstd");
	imgstore_tar_path(s, argv[0], target, sizeof target);
	imgstore_config_path(s, argv[0], cpath, sizeof cpath);
	if (base)
		imgstore_tar_path(s, base, basetar, sizeof basetar);
	if (buf_read_file(&cfg, cpath, 1 << 20) == -1) {
		vz_error("image %s: cannot read '%s': %s", argv[0], cpath,
		    strerror(errno));
		goto out;
	}
	if (json_parse(cfg.data, cfg.len, &doc, perr, sizeof perr) == 0 &&
	    json_get_string(doc, "ref") != NULL)
		buf_adds(&ref, json_get_string(doc, "ref"));
	if (mkdir_p(argv[1], 0755) == -1) {
		vz_error("cannot create '%s': %s", argv[1], strerror(errno));
		goto out;
	}
	if (wire_build(base ? basetar : NULL, base, target, argv[0], ref.data,
	    cfg.data, argv[1], c, &up, err, sizeof err) == -1) {
		vz_error("image %s: %s", argv[0], err);
		goto out;
	}
	/* an uncompressed full tarball is the store's file: put it in OUTDIR */
	fmtpath(mpath, sizeof mpath, "%s/%s", argv[1], up.file);
	if (strcmp(up.path, target) == 0 && copy_file(target, mpath, err,
	    sizeof err) == -1) {
		vz_error("%s", err);
		wire_upload_release(&up);
		goto out;
	}
	fmtpath(mpath, sizeof mpath, "%s/%s", argv[1], up.manifest_name);
	if (write_file_atomic(mpath, up.manifest_json,
	    strlen(up.manifest_json), err, sizeof err) == -1) {
		vz_error("%s", err);
		wire_upload_release(&up);
		goto out;
	}
	if (ctx->json)
		printf("{\"manifest\":\"%s\",\"payload\":\"%s\",\"encoding\":"
		    "\"%s\",\"size\":%llu,\"deltaSize\":%llu,\"imageSize\":"
		    "%llu}\n", up.manifest_name, up.file, up.encoding,
		    (unsigned long long)up.size,
		    (unsigned long long)up.delta_size,
		    (unsigned long long)up.image_size);
	else
		printf("%s: %s, %llu bytes to send for a %llu byte image\n",
		    up.file, up.encoding, (unsigned long long)up.size,
		    (unsigned long long)up.image_size);
	wire_upload_release(&up);
	rc = VZ_EXIT_OK;
out:
	json_free(doc);
	buf_release(&cfg);
	buf_release(&ref);
	return rc;
}

static int
image_exec(struct vz_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		CMD_COMMON_LONGOPTS,
		{ "store",	required_argument,	NULL,	's' },
		{ "base",	required_argument,	NULL,	'b' },
		{ "compress",	required_argument,	NULL,	'c' },
		{ "keep",	required_argument,	NULL,	'k' },
		{ NULL, 0, NULL, 0 }
	};
	const char *store = DEFAULT_STORE, *base = NULL, *compress = "auto";
	const char *sub;
	struct imgstore s;
	char err[1024], *end;
	long keep = IMGSTORE_KEEP;
	int c, r;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
		    strcmp(argv[1], "--help") == 0)) {
			cmd_print_help(&cmd_image_entry, stdout);
			return VZ_EXIT_OK;
		}
		return cmd_usage_error(&cmd_image_entry, "name a subcommand: "
		    "import, list or pack");
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS "s:b:c:k:",
	    longopts, NULL)) != -1)
		switch (c) {
		case 's':
			store = optarg;
			break;
		case 'b':
			base = optarg;
			break;
		case 'c':
			compress = optarg;
			break;
		case 'k':
			errno = 0;
			keep = strtol(optarg, &end, 10);
			if (errno || *end || keep < 1 || keep > IMGSTORE_MAX)
				return cmd_usage_error(&cmd_image_entry,
				    "--keep wants 1..%d", IMGSTORE_MAX);
			break;
		default:
			if ((r = cmd_common_option(ctx, &cmd_image_entry, c)) !=
			    CMD_CONTINUE)
				return r;
		}
	if (imgstore_open(&s, store, (int)keep, err, sizeof err) == -1) {
		vz_error("%s", err);
		return VZ_EXIT_FAIL;
	}
	argc -= optind;
	argv += optind;
	if (strcmp(sub, "import") == 0)
		return image_import_cmd(ctx, &s, argc, argv);
	if (strcmp(sub, "list") == 0)
		return image_list_cmd(ctx, &s, argc, argv);
	if (strcmp(sub, "pack") == 0)
		return image_pack_cmd(ctx, &s, base, compress, argc, argv);
	return cmd_usage_error(&cmd_image_entry, "unknown subcommand '%s'", sub);
}

const struct cmd_entry cmd_image_entry = {
	.name = "image",
	.summary = "import images into the master's store, list, pack uploads",
	.usage = "import|list|pack [--store DIR] [--keep N] [--base ID] "
	    "[--compress auto|none|xz|zstd] ARGS...",
	.help =
	"  image import REF...     flatten oci:DIR[:TAG], oci-archive:FILE,\n"
	"                          docker-archive:FILE[:NAME:TAG] or dir:ROOTFS\n"
	"                          into the store; prints the image id\n"
	"  image list [REF...]     the versions kept per reference, newest first\n"
	"  image pack ID OUTDIR    write the upload a push sends: the full\n"
	"                          tarball, or with --base ID a VCDIFF delta,\n"
	"                          compressed when that helps\n"
	"  --store DIR             the store (default .vzmaster/images)\n"
	"  --keep N                versions kept per reference (default 3)\n"
	"  --json                  machine-readable output\n",
	.exec = image_exec,
};

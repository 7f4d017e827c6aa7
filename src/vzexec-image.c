/*
 * vzexec-image: the node's image verbs, a static binary that the musl
 * vzexec executes with the same argv (argv[1] = the verb), because it needs
 * libarchive and libcrypto, which are linked here statically with glibc.
 *
 *   vzexec-image image-import [--root DIR] [--trust-devices] MANIFEST
 *   vzexec-image image-gc [--root DIR] [--keep N] [--dry-run]
 *   vzexec-image image-list [--root DIR]
 *
 * image-import rebuilds an upload (see wire.h) found in ROOT/incoming/,
 * checks it, unpacks it safely into ROOT/incoming/<id>.tmp/rootfs and only
 * then renames it to ROOT/images/<id> and the tarball to
 * ROOT/images/<id>.tar: a failure at any step (ENOSPC included) removes
 * what it wrote and leaves images/ as it was.  Output for the master is one
 * JSON object on stdout; messages go to stderr.
 *
 * Exit status: 0 done, 1 failed, 2 usage, 3 the delta did not rebuild the
 * image (or its base is missing): send the full tarball instead.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "buf.h"
#include "imgutil.h"
#include "json.h"
#include "wire.h"

#define EXIT_USAGE	2
#define EXIT_RESEND	3
#define DEFAULT_ROOT	"/var/lib/vz"
#define MAX_SPEC	(4u << 20)

static const char *progname = "vzexec";
static char root[PATH_MAX];

static void
errx_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
errx_msg(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: %s image-import [--root DIR] [--trust-devices] MANIFEST\n"
	    "       %s image-gc [--root DIR] [--keep N] [--dry-run]\n"
	    "       %s image-list [--root DIR]\n", progname, progname,
	    progname);
	return EXIT_USAGE;
}

/* Serialise imports and gc on one node. */
static int
take_lock(char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd;

	/* in incoming/, so images/ holds nothing but images */
	fmtpath(path, sizeof path, "%s/incoming", root);
	if (mkdir_p(path, 0755) == -1) {
		fmtpath(err, errlen, "cannot create '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	fmtpath(path, sizeof path, "%s/incoming/.lock", root);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    flock(fd, LOCK_EX) == -1) {
		fmtpath(err, errlen, "cannot lock '%s': %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* ---- safe unpack ---- */

/* A path inside the rootfs: relative, no "..", no empty name. */
static int
inside(const char *p)
{
	const char *s = p, *e;
	size_t len;

	if (p == NULL || *p == '/' || *p == '\0')
		return 0;
	while (*s != '\0') {
		e = strchr(s, '/');
		len = e ? (size_t)(e - s) : strlen(s);
		if (len == 2 && s[0] == '.' && s[1] == '.')
			return 0;
		s += len;
		while (*s == '/')
			s++;
	}
	return 1;
}

struct unpack_stats {
	uint64_t	entries, skipped_devices;
};

/*
 * Unpack tarball into dir (which exists and is empty).  libarchive's
 * secure flags refuse "..", absolute paths and writes through symlinks;
 * NO_OVERWRITE refuses a second entry for a path (our tarballs never have
 * one, so it can only be an attempt to replace a checked entry); hardlinks
 * must name a regular file already unpacked and carry no data.
 */
static int
unpack(const char *tarball, const char *dir, int trust_devices,
    struct unpack_stats *st, char *err, size_t errlen)
{
	struct archive *a, *d;
	struct archive_entry *e;
	char cwd[PATH_MAX];
	int rc = -1, ar, dfd = -1;

	memset(st, 0, sizeof *st);
	if (getcwd(cwd, sizeof cwd) == NULL) {
		fmtpath(err, errlen, "cannot get the current folder: %s",
		    strerror(errno));
		return -1;
	}
	a = archive_read_new();
	archive_read_support_format_tar(a);
	d = archive_write_disk_new();
	archive_write_disk_set_options(d, ARCHIVE_EXTRACT_OWNER |
	    ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
	    ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
	    ARCHIVE_EXTRACT_NO_OVERWRITE);
	/* no lookup functions: numeric ids, no NSS in a static binary */
	if (archive_read_open_filename(a, tarball, 1 << 16) != ARCHIVE_OK) {
		fmtpath(err, errlen, "cannot read '%s': %s", tarball,
		    archive_error_string(a));
		goto out;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fchdir(dfd) == -1) {
		fmtpath(err, errlen, "cannot enter '%s': %s", dir,
		    strerror(errno));
		goto out;
	}
	for (;;) {
		const char *path, *hl;
		mode_t type;

		ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			fmtpath(err, errlen, "'%s': %s", tarball,
			    archive_error_string(a));
			goto out;
		}
		path = archive_entry_pathname(e);
		hl = archive_entry_hardlink(e);
		type = archive_entry_filetype(e);
		if (!inside(path)) {
			fmtpath(err, errlen, "'%s': refusing entry '%s': "
			    "outside the image root", tarball, path ? path : "");
			goto out;
		}
		/*
		 * Our tarballs name each path once: a second entry could only
		 * replace something already checked (a symlink, a hardlink).
		 */
		{
			struct stat ex;

			if (fstatat(dfd, path, &ex, AT_SYMLINK_NOFOLLOW) == 0 &&
			    !(type == AE_IFDIR && hl == NULL &&
			    S_ISDIR(ex.st_mode))) {
				fmtpath(err, errlen, "'%s': refusing entry "
				    "'%s': the path exists already", tarball,
				    path);
				goto out;
			}
		}
		if (hl != NULL) {
			struct stat ls;

			if (!inside(hl) || fstatat(dfd, hl, &ls,
			    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(ls.st_mode) ||
			    archive_entry_size(e) > 0) {
				fmtpath(err, errlen, "'%s': refusing hardlink "
				    "'%s' to '%s': not a regular file of the "
				    "image", tarball, path, hl);
				goto out;
			}
		} else if ((type == AE_IFCHR || type == AE_IFBLK) &&
		    !trust_devices) {
			st->skipped_devices++;
			continue;
		} else if (type != AE_IFREG && type != AE_IFDIR &&
		    type != AE_IFLNK && type != AE_IFIFO && type != AE_IFCHR &&
		    type != AE_IFBLK) {
			fmtpath(err, errlen, "'%s': refusing entry '%s' of "
			    "unknown type", tarball, path);
			goto out;
		}
		if (archive_write_header(d, e) < ARCHIVE_WARN) {
			fmtpath(err, errlen, "'%s': cannot unpack '%s': %s",
			    tarball, path, archive_error_string(d));
			goto out;
		}
		if (archive_entry_size(e) > 0 && hl == NULL) {
			const void *blk;
			size_t len;
			la_int64_t off;

			while ((ar = archive_read_data_block(a, &blk, &len,
			    &off)) == ARCHIVE_OK)
				if (archive_write_data_block(d, blk, len, off) <
				    ARCHIVE_WARN) {
					fmtpath(err, errlen, "cannot unpack "
					    "'%s': %s", path,
					    archive_error_string(d));
					goto out;
				}
			if (ar != ARCHIVE_EOF) {
				fmtpath(err, errlen, "'%s': '%s': %s", tarball,
				    path, archive_error_string(a));
				goto out;
			}
		}
		if (archive_write_finish_entry(d) < ARCHIVE_WARN) {
			fmtpath(err, errlen, "cannot unpack '%s': %s", path,
			    archive_error_string(d));
			goto out;
		}
		st->entries++;
	}
	/* directory modes and times are set here, after their contents */
	if (archive_write_close(d) != ARCHIVE_OK) {
		fmtpath(err, errlen, "cannot finish unpacking: %s",
		    archive_error_string(d));
		goto out;
	}
	if (syncfs(dfd) == -1) {
		fmtpath(err, errlen, "cannot sync '%s': %s", dir,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (chdir(cwd) == -1 && rc == 0) {
		fmtpath(err, errlen, "cannot return to '%s'", cwd);
		rc = -1;
	}
	if (dfd != -1)
		close(dfd);
	archive_write_free(d);
	archive_read_free(a);
	return rc;
}

/* ---- image-import ---- */

static int
cmd_import(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "trust-devices", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct wire_manifest m;
	struct unpack_stats st;
	struct buf text = BUF_INIT, out = BUF_INIT;
	struct json_writer w;
	char err[1024], mpath[PATH_MAX], payload[PATH_MAX], base[PATH_MAX];
	char tmpdir[PATH_MAX], rootfs[PATH_MAX], tartmp[PATH_MAX];
	char final[PATH_MAX], finaltar[PATH_MAX], cfgpath[PATH_MAX];
	struct stat sb;
	int c, trust = 0, lock = -1, rc = 1, r, placed = 0;

	memset(&m, 0, sizeof m);
	tmpdir[0] = tartmp[0] = payload[0] = '\0';
	while ((c = getopt_long(argc, argv, "r:Th", longopts, NULL)) != -1)
		switch (c) {
		case 'r':
			fmtpath(root, sizeof root, "%s", optarg);
			break;
		case 'T':
			trust = 1;
			break;
		default:
			return usage();
		}
	if (optind + 1 != argc)
		return usage();
	if (strchr(argv[optind], '/') != NULL)
		fmtpath(mpath, sizeof mpath, "%s", argv[optind]);
	else
		fmtpath(mpath, sizeof mpath, "%s/incoming/%s", root,
		    argv[optind]);
	fmtpath(final, sizeof final, "%s/images", root);
	if (mkdir_p(final, 0755) == -1) {
		errx_msg("cannot create '%s': %s", final, strerror(errno));
		return 1;
	}
	if ((lock = take_lock(err, sizeof err)) == -1) {
		errx_msg("%s", err);
		return 1;
	}
	if (buf_read_file(&text, mpath, WIRE_MAX_MANIFEST) == -1) {
		errx_msg("cannot read upload manifest '%s': %s", mpath,
		    strerror(errno));
		goto out;
	}
	if (wire_manifest_parse(text.data, text.len, &m, err, sizeof err) ==
	    -1) {
		errx_msg("'%s': %s", mpath, err);
		goto out;
	}
	fmtpath(payload, sizeof payload, "%s/incoming/%s", root, m.file);
	fmtpath(final, sizeof final, "%s/images/%s", root, m.image);
	fmtpath(finaltar, sizeof finaltar, "%s/images/%s.tar", root, m.image);
	json_writer_init(&w, &out, 0);
	json_begin_object(&w);
	json_kv_int(&w, "vzimport", 1);
	json_kv_string(&w, "image", m.image);
	if (stat(final, &sb) == 0 && stat(finaltar, &sb) == 0) {
		json_kv_string(&w, "status", "present");
		json_end_object(&w);
		puts(out.data);
		rc = 0;
		goto out;
	}
	fmtpath(tmpdir, sizeof tmpdir, "%s/incoming/%s.tmp", root, m.image);
	fmtpath(tartmp, sizeof tartmp, "%s/incoming/%s.tar.tmp", root, m.image);
	fmtpath(base, sizeof base, "%s/images/%s.tar", root, m.base);
	remove_tree(tmpdir);
	if (mkdir(tmpdir, 0700) == -1) {
		errx_msg("cannot create '%s': %s", tmpdir, strerror(errno));
		goto out;
	}
	r = wire_unpack(&m, payload, m.base[0] ? base : NULL, tartmp, tmpdir,
	    err, sizeof err);
	if (r != WIRE_OK) {
		errx_msg("image %s: %s", m.image, err);
		rc = r == WIRE_MISMATCH ? EXIT_RESEND : 1;
		goto out;
	}
	fmtpath(rootfs, sizeof rootfs, "%s/rootfs", tmpdir);
	if (mkdir(rootfs, 0755) == -1) {
		errx_msg("cannot create '%s': %s", rootfs, strerror(errno));
		goto out;
	}
	if (unpack(tartmp, rootfs, trust, &st, err, sizeof err) == -1) {
		errx_msg("image %s: %s", m.image, err);
		goto out;
	}
	fmtpath(cfgpath, sizeof cfgpath, "%s/config.json", tmpdir);
	if (write_file_atomic(cfgpath, m.config_json, strlen(m.config_json),
	    err, sizeof err) == -1) {
		errx_msg("image %s: %s", m.image, err);
		goto out;
	}
	/*
	 * The folder stays 0700: a setuid file of an image must not be
	 * reachable by users of the node (containers enter by pivot_root).
	 */
	if (chmod(tmpdir, 0700) == -1 || rename(tmpdir, final) == -1) {
		errx_msg("cannot rename '%s' to '%s': %s", tmpdir, final,
		    strerror(errno));
		goto out;
	}
	placed = 1;
	if (rename(tartmp, finaltar) == -1) {
		errx_msg("cannot rename '%s' to '%s': %s", tartmp, finaltar,
		    strerror(errno));
		goto out;
	}
	if (fsync_parent(finaltar) == -1) {
		errx_msg("cannot sync '%s': %s", finaltar, strerror(errno));
		unlink(finaltar);
		goto out;
	}
	placed = 0;
	json_kv_string(&w, "status", "imported");
	json_kv_string(&w, "encoding", m.vcdiff ? "vcdiff" : "tar");
	json_key(&w, "entries");
	json_uint(&w, st.entries);
	json_key(&w, "skippedDevices");
	json_uint(&w, st.skipped_devices);
	json_end_object(&w);
	puts(out.data);
	rc = 0;
out:
	if (placed)
		remove_tree(final);
	if (tmpdir[0] != '\0')
		remove_tree(tmpdir);
	if (tartmp[0] != '\0')
		unlink(tartmp);
	/* the upload is spent either way: the master sends a new one */
	if (payload[0] != '\0')
		unlink(payload);
	if (m.image[0] != '\0')
		unlink(mpath);
	wire_manifest_release(&m);
	buf_release(&text);
	buf_release(&out);
	if (lock != -1)
		close(lock);
	if (fflush(stdout) == EOF && rc == 0)
		rc = 1;
	return rc;
}

/* ---- image-list and image-gc ---- */

struct image {
	char		 id[65];
	char		*ref;
	uint64_t	 size;
	int64_t		 mtime;
	int		 used;
};

static int
cmp_image(const void *a, const void *b)
{
	const struct image *x = a, *y = b;
	int c = strcmp(x->ref, y->ref);

	if (c != 0)
		return c;
	if (x->mtime != y->mtime)
		return x->mtime > y->mtime ? -1 : 1;	/* newest first */
	return strcmp(x->id, y->id);
}

/* The images present: folders images/<id> with config.json. */
static int
list_images(struct image **out, size_t *n)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	struct image *v = NULL;
	size_t cnt = 0;
	DIR *d;

	*out = NULL;
	*n = 0;
	fmtpath(dir, sizeof dir, "%s/images", root);
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		struct buf b = BUF_INIT;
		struct json_value *cfg = NULL;
		struct stat st;
		const char *ref;
		char perr[100];

		if (!is_sha256_hex(de->d_name))
			continue;
		fmtpath(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &st) == -1 || !S_ISDIR(st.st_mode))
			continue;
		v = xreallocarray(v, cnt + 1, sizeof *v);
		memset(&v[cnt], 0, sizeof v[cnt]);
		memcpy(v[cnt].id, de->d_name, 65);
		v[cnt].mtime = st.st_mtime;
		fmtpath(path, sizeof path, "%s/%s.tar", dir, de->d_name);
		if (stat(path, &st) == 0) {
			v[cnt].size = (uint64_t)st.st_size;
			v[cnt].mtime = st.st_mtime;
		}
		fmtpath(path, sizeof path, "%s/%s/config.json", dir, de->d_name);
		ref = "";
		if (buf_read_file(&b, path, 1 << 20) == 0 &&
		    json_parse(b.data, b.len, &cfg, perr, sizeof perr) == 0 &&
		    json_get_string(cfg, "ref") != NULL)
			ref = json_get_string(cfg, "ref");
		v[cnt].ref = xstrdup(ref);
		json_free(cfg);
		buf_release(&b);
		cnt++;
	}
	closedir(d);
	if (cnt > 0)
		qsort(v, cnt, sizeof *v, cmp_image);
	*out = v;
	*n = cnt;
	return 0;
}

static void
free_images(struct image *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].ref);
	free(v);
}

static int
cmd_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct buf out = BUF_INIT;
	struct json_writer w;
	struct image *v;
	size_t n, i;
	int c;

	while ((c = getopt_long(argc, argv, "r:", longopts, NULL)) != -1)
		switch (c) {
		case 'r':
			fmtpath(root, sizeof root, "%s", optarg);
			break;
		case 'j':
			break;
		default:
			return usage();
		}
	if (optind != argc)
		return usage();
	if (list_images(&v, &n) == -1) {
		errx_msg("cannot read '%s/images': %s", root, strerror(errno));
		return 1;
	}
	json_writer_init(&w, &out, 0);
	json_begin_object(&w);
	json_kv_int(&w, "vzimages", 1);
	json_key(&w, "images");
	json_begin_array(&w);
	for (i = 0; i < n; i++) {
		json_begin_object(&w);
		json_kv_string(&w, "id", v[i].id);
		json_kv_string(&w, "ref", v[i].ref);
		json_key(&w, "size");
		json_uint(&w, v[i].size);
		json_kv_int(&w, "mtime", v[i].mtime);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_end_object(&w);
	puts(out.data);
	buf_release(&out);
	free_images(v, n);
	return fflush(stdout) == EOF ? 1 : 0;
}

/* Mark the images named by containers[].image of every pods/<pod>.json. */
static int
mark_used(struct image *v, size_t n, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX], perr[200];
	struct dirent *de;
	DIR *d;
	size_t j, k;

	fmtpath(dir, sizeof dir, "%s/pods", root);
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		struct buf b = BUF_INIT;
		struct json_value *spec = NULL;
		const struct json_value *cs;
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0 ||
		    de->d_name[0] == '.')
			continue;
		fmtpath(path, sizeof path, "%s/%s", dir, de->d_name);
		/* an unreadable spec might use anything: remove nothing */
		if (buf_read_file(&b, path, MAX_SPEC) == -1)
			fmtpath(perr, sizeof perr, "%s", strerror(errno));
		else if (json_parse(b.data, b.len, &spec, perr,
		    sizeof perr) == 0)
			perr[0] = '\0';
		if (spec == NULL) {
			fmtpath(err, errlen, "cannot read pod spec '%s': %s",
			    path, perr);
			buf_release(&b);
			closedir(d);
			return -1;
		}
		cs = json_get_array(spec, "containers");
		for (j = 0; cs != NULL && j < cs->n; j++) {
			const char *img = json_get_string(cs->items[j], "image");

			for (k = 0; img != NULL && k < n; k++)
				if (strcmp(v[k].id, img) == 0)
					v[k].used = 1;
		}
		json_free(spec);
		buf_release(&b);
	}
	closedir(d);
	return 0;
}

static int
cmd_gc(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "keep", required_argument, NULL, 'k' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct buf out = BUF_INIT;
	struct json_writer w;
	struct image *v = NULL;
	char err[1024], path[PATH_MAX], tmp[PATH_MAX], *end;
	size_t n = 0, i, rank = 0;
	long keep = 3;
	int c, dry = 0, lock, rc = 1;

	while ((c = getopt_long(argc, argv, "r:k:n", longopts, NULL)) != -1)
		switch (c) {
		case 'r':
			fmtpath(root, sizeof root, "%s", optarg);
			break;
		case 'k':
			errno = 0;
			keep = strtol(optarg, &end, 10);
			if (errno || *end || keep < 0 || end == optarg)
				return usage();
			break;
		case 'n':
			dry = 1;
			break;
		default:
			return usage();
		}
	if (optind != argc)
		return usage();
	fmtpath(path, sizeof path, "%s/images", root);
	if (mkdir_p(path, 0755) == -1) {
		errx_msg("cannot create '%s': %s", path, strerror(errno));
		return 1;
	}
	if ((lock = take_lock(err, sizeof err)) == -1) {
		errx_msg("%s", err);
		return 1;
	}
	if (list_images(&v, &n) == -1) {
		errx_msg("cannot read '%s/images': %s", root, strerror(errno));
		goto out;
	}
	if (mark_used(v, n, err, sizeof err) == -1) {
		errx_msg("%s; removing nothing", err);
		goto out;
	}
	json_writer_init(&w, &out, 0);
	json_begin_object(&w);
	json_kv_int(&w, "vzgc", 1);
	json_key(&w, "removed");
	json_begin_array(&w);
	for (i = 0; i < n; i++) {
		/* v is sorted by ref, newest first: rank within the ref */
		rank = (i > 0 && strcmp(v[i].ref, v[i - 1].ref) == 0) ?
		    rank + 1 : 0;
		if (v[i].used || (long)rank < keep)
			continue;
		json_string(&w, v[i].id);
		if (dry)
			continue;
		/* out of images/ first, so a half-removed tree is never used */
		fmtpath(path, sizeof path, "%s/images/%s", root, v[i].id);
		fmtpath(tmp, sizeof tmp, "%s/incoming/%s.gc", root, v[i].id);
		mkdir_p(tmp, 0700);
		rmdir(tmp);
		if (rename(path, tmp) == -1 || remove_tree(tmp) == -1)
			errx_msg("cannot remove '%s': %s", path,
			    strerror(errno));
		fmtpath(path, sizeof path, "%s/images/%s.tar", root, v[i].id);
		unlink(path);
	}
	json_end_array(&w);
	/*
	 * Imports hold the lock from start to end, so a temporary file of one
	 * seen now was left by an import that died (power loss, OOM kill).
	 */
	json_key(&w, "staleRemoved");
	json_begin_array(&w);
	{
		DIR *d;
		struct dirent *de;

		fmtpath(path, sizeof path, "%s/incoming", root);
		if ((d = opendir(path)) != NULL) {
			while ((de = readdir(d)) != NULL) {
				size_t l = strlen(de->d_name);

				if (l < 68 || de->d_name[0] == '.' ||
				    (strcmp(de->d_name + l - 4, ".tmp") != 0 &&
				    strcmp(de->d_name + l - 3, ".gc") != 0))
					continue;
				json_string(&w, de->d_name);
				if (dry)
					continue;
				fmtpath(tmp, sizeof tmp, "%s/%s", path,
				    de->d_name);
				remove_tree(tmp);
			}
			closedir(d);
		}
	}
	json_end_array(&w);
	json_end_object(&w);
	puts(out.data);
	rc = fflush(stdout) == EOF ? 1 : 0;
out:
	buf_release(&out);
	free_images(v, n);
	close(lock);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *verb;

	/*
	 * Large buffers always come from mmap, so free() gives them back.
	 * Otherwise glibc raises its threshold when the decompressor frees its
	 * 8 MiB window, and the decoder's growing buffers then leave touched
	 * holes in the heap: 25 MiB instead of 17 for an import of a
	 * zstd-compressed delta (bench/memory).  Setting it fixes the value.
	 */
#ifdef M_MMAP_THRESHOLD
	(void)mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
	fmtpath(root, sizeof root, "%s", DEFAULT_ROOT);
	if (argc < 2)
		return usage();
	verb = argv[1];
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		usage();
		return 0;
	}
	/* getopt starts at argv[1]: the verb plays the program name */
	argc--;
	argv++;
	if (strcmp(verb, "image-import") == 0)
		return cmd_import(argc, argv);
	if (strcmp(verb, "image-gc") == 0)
		return cmd_gc(argc, argv);
	if (strcmp(verb, "image-list") == 0)
		return cmd_list(argc, argv);
	errx_msg("unknown verb '%s'", verb);
	return usage();
}

/*
 * test-image: image_import on OCI layouts, OCI and docker archives and
 * folders built here with libarchive: whiteouts, opaque dirs, hardlinks,
 * symlinks, xattrs, layer order, determinism, and the bad-input errors.
 */
#include <sys/stat.h>
#include <sys/xattr.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "buf.h"
#include "image.h"
#include "imgutil.h"
#include "tap.h"

static char tmp[256];

/* One entry of a layer: type 'f' file, 'd' dir, 'l' symlink, 'h' hardlink. */
struct ent {
	char		 type;
	const char	*path;
	const char	*data;		/* file data or link target */
	int		 mode;
	const char	*xname, *xvalue;
};

/* Write a layer tar with the given filter; return its sha256 in hex. */
static void
write_tar(const char *path, const struct ent *ents, int filter, char *hex)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e;
	uint64_t size;
	char err[256];

	archive_write_set_format_pax_restricted(a);
	if (filter == 'g')
		archive_write_add_filter_gzip(a);
	else if (filter == 'z')
		archive_write_add_filter_zstd(a);
	else
		archive_write_add_filter_none(a);
	if (archive_write_open_filename(a, path) != ARCHIVE_OK)
		abort();
	for (; ents->path != NULL; ents++) {
		e = archive_entry_new();
		archive_entry_set_pathname(e, ents->path);
		archive_entry_set_mtime(e, 1700000000, 0);
		archive_entry_set_uid(e, 1000);
		archive_entry_set_gid(e, 1000);
		archive_entry_set_uname(e, "someone");
		switch (ents->type) {
		case 'f':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, ents->mode ? ents->mode : 0644);
			archive_entry_set_size(e, (la_int64_t)strlen(ents->data));
			break;
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, ents->mode ? ents->mode : 0755);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, ents->data);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, ents->data);
			break;
		}
		if (ents->xname != NULL)
			archive_entry_xattr_add_entry(e, ents->xname,
			    ents->xvalue, strlen(ents->xvalue));
		archive_write_header(a, e);
		if (ents->type == 'f')
			archive_write_data(a, ents->data, strlen(ents->data));
		archive_entry_free(e);
	}
	archive_write_free(a);
	if (hex != NULL && sha256_file(path, hex, &size, err, sizeof err) == -1)
		abort();
}

static void
write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		abort();
	fputs(s, f);
	fclose(f);
}

static void
hex_of_str(const char *s, char *hex)
{
	struct sha256 h;

	sha256_init(&h);
	sha256_update(&h, s, strlen(s));
	sha256_final(&h, hex);
}

static const char config_doc[] =
    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
    "\"Entrypoint\":[\"/bin/app\"],\"Cmd\":[\"-v\"],"
    "\"Env\":[\"PATH=/usr/bin:/bin\"],\"WorkingDir\":\"/srv\","
    "\"User\":\"1000\",\"ExposedPorts\":{\"8080/tcp\":{}}},"
    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s]}}";

/*
 * An OCI layout at dir with the given layers (NULL-terminated list of
 * entry lists), gzip/zstd/none alternating, tagged "v1".  layer_hex gets
 * the layer digests.
 */
static void
make_oci(const char *dir, const struct ent *const *layers,
    char layer_hex[][65], int nlayers)
{
	char path[512], cfg[4096], man[8192], idx[2048], chex[65], mhex[65];
	char diffs[2048] = "", lays[4096] = "";
	struct buf b = BUF_INIT;
	int i;
	static const char filters[] = "gzn";

	fmtpath(path, sizeof path, "%s/blobs/sha256", dir);
	mkdir_p(path, 0755);
	for (i = 0; i < nlayers; i++) {
		char lp[512];
		size_t dl = strlen(diffs), ll = strlen(lays);

		fmtpath(lp, sizeof lp, "%s/layer.tmp", dir);
		write_tar(lp, layers[i], filters[i % 3], layer_hex[i]);
		fmtpath(path, sizeof path, "%s/blobs/sha256/%s", dir,
		    layer_hex[i]);
		rename(lp, path);
		fmtpath(diffs + dl, sizeof diffs - dl, "%s\"sha256:%s\"",
		    i ? "," : "", layer_hex[i]);
		fmtpath(lays + ll, sizeof lays - ll, "%s{\"mediaType\":"
		    "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":"
		    "\"sha256:%s\",\"size\":1}", i ? "," : "", layer_hex[i]);
	}
	fmtpath(cfg, sizeof cfg, config_doc, diffs);
	hex_of_str(cfg, chex);
	fmtpath(path, sizeof path, "%s/blobs/sha256/%s", dir, chex);
	write_str(path, cfg);
	fmtpath(man, sizeof man, "{\"schemaVersion\":2,\"mediaType\":"
	    "\"application/vnd.oci.image.manifest.v1+json\",\"config\":{"
	    "\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	    "\"digest\":\"sha256:%s\",\"size\":%zu},\"layers\":[%s]}", chex,
	    strlen(cfg), lays);
	hex_of_str(man, mhex);
	fmtpath(path, sizeof path, "%s/blobs/sha256/%s", dir, mhex);
	write_str(path, man);
	fmtpath(idx, sizeof idx, "{\"schemaVersion\":2,\"manifests\":[{"
	    "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"digest\":\"sha256:%s\",\"size\":%zu,\"annotations\":{"
	    "\"org.opencontainers.image.ref.name\":\"v1\"}}]}", mhex,
	    strlen(man));
	fmtpath(path, sizeof path, "%s/index.json", dir);
	write_str(path, idx);
	fmtpath(path, sizeof path, "%s/oci-layout", dir);
	write_str(path, "{\"imageLayoutVersion\":\"1.0.0\"}");
	buf_release(&b);
}

/* A docker-archive file with uncompressed layers named by diff id. */
static void
make_docker(const char *file, const struct ent *const *layers, int nlayers,
    const char *repotag)
{
	char dir[512], path[512], lhex[8][65], diffs[2048] = "", lays[2048] = "";
	char cfg[4096], chex[65], man[4096];
	struct archive *a;
	struct archive_entry *e;
	int i;

	fmtpath(dir, sizeof dir, "%s/docker.d", tmp);
	mkdir_p(dir, 0755);
	for (i = 0; i < nlayers; i++) {
		size_t dl = strlen(diffs), ll = strlen(lays);
		char lp[512];

		fmtpath(lp, sizeof lp, "%s/l.tmp", dir);
		write_tar(lp, layers[i], 'n', lhex[i]);
		fmtpath(path, sizeof path, "%s/%s.tar", dir, lhex[i]);
		rename(lp, path);
		fmtpath(diffs + dl, sizeof diffs - dl, "%s\"sha256:%s\"",
		    i ? "," : "", lhex[i]);
		fmtpath(lays + ll, sizeof lays - ll, "%s\"%s.tar\"",
		    i ? "," : "", lhex[i]);
	}
	fmtpath(cfg, sizeof cfg, config_doc, diffs);
	hex_of_str(cfg, chex);
	fmtpath(path, sizeof path, "%s/%s.json", dir, chex);
	write_str(path, cfg);
	fmtpath(man, sizeof man, "[{\"Config\":\"%s.json\",\"RepoTags\":"
	    "[\"%s\"],\"Layers\":[%s]}]", chex, repotag, lays);
	fmtpath(path, sizeof path, "%s/manifest.json", dir);
	write_str(path, man);

	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_open_filename(a, file);
	{
		const char *names[10];
		int n = 0, k;

		names[n++] = "manifest.json";
		for (i = 0; i < nlayers; i++) {
			static char lnames[8][80];

			fmtpath(lnames[i], sizeof lnames[i], "%s.tar", lhex[i]);
			names[n++] = lnames[i];
		}
		{
			static char cname[80];

			fmtpath(cname, sizeof cname, "%s.json", chex);
			names[n++] = cname;
		}
		for (k = 0; k < n; k++) {
			struct buf b = BUF_INIT;

			fmtpath(path, sizeof path, "%s/%s", dir, names[k]);
			buf_read_file(&b, path, 1 << 24);
			e = archive_entry_new();
			archive_entry_set_pathname(e, names[k]);
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)b.len);
			archive_write_header(a, e);
			archive_write_data(a, b.data, b.len);
			archive_entry_free(e);
			buf_release(&b);
		}
	}
	archive_write_free(a);
	remove_tree(dir);
}

/* The flattened tarball listed as "path type mode uid extra\n" lines. */
static char *
listing(const char *tarpath)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct buf b = BUF_INIT;
	char data[256];

	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, tarpath, 10240) != ARCHIVE_OK)
		return xstrdup("(cannot open)");
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *xn;
		const void *xv;
		size_t xs;
		la_ssize_t n;

		buf_addf(&b, "%s %o %lld/%lld %lld%s", archive_entry_pathname(e),
		    (unsigned)archive_entry_mode(e),
		    (long long)archive_entry_uid(e),
		    (long long)archive_entry_gid(e),
		    (long long)archive_entry_mtime(e),
		    archive_entry_uname(e) && *archive_entry_uname(e) ?
		    " UNAME" : "");
		if (archive_entry_symlink(e))
			buf_addf(&b, " -> %s", archive_entry_symlink(e));
		if (archive_entry_hardlink(e))
			buf_addf(&b, " => %s", archive_entry_hardlink(e));
		archive_entry_xattr_reset(e);
		while (archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK)
			buf_addf(&b, " x:%s=%.*s", xn, (int)xs, (const char *)xv);
		n = archive_read_data(a, data, sizeof data);
		if (n > 0)
			buf_addf(&b, " [%.*s]", (int)n, data);
		buf_addc(&b, '\n');
	}
	archive_read_free(a);
	return buf_detach(&b, NULL);
}

static char *
import_listing(const char *ref, const char *store, struct image_info *info)
{
	char err[512], path[512];

	if (image_import(ref, store, info, err, sizeof err) == -1) {
		diag_note("import %s: %s", ref, err);
		return NULL;
	}
	fmtpath(path, sizeof path, "%s/%s.tar", store, info->id);
	return listing(path);
}

/* 1 when dir holds nothing but <id>.tar and <id>.json. */
static int
only_images(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 1;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.' && (n == 1 || strcmp(de->d_name,
		    "..") == 0))
			continue;
		if (n != 69 || (strcmp(de->d_name + 64, ".json") != 0 &&
		    strcmp(de->d_name + 64, ".tar") != 0)) {
			if (!(n == 68 && strcmp(de->d_name + 64, ".tar") == 0)) {
				diag_note("left behind: %s", de->d_name);
				r = 0;
			}
		}
	}
	closedir(d);
	return r;
}

static int
contains(const char *hay, const char *needle)
{
	int r = hay != NULL && strstr(hay, needle) != NULL;

	if (!r)
		diag_note("missing '%s' in:\n%s", needle, hay ? hay : "(null)");
	return r;
}

static const struct ent layer1[] = {
	{ 'd', "etc", NULL, 0755, NULL, NULL },
	{ 'f', "etc/passwd", "root:x:0:0\n", 0644, NULL, NULL },
	{ 'f', "etc/gone", "to be whited out", 0, NULL, NULL },
	{ 'd', "opq", NULL, 0, NULL, NULL },
	{ 'f', "opq/old1", "old", 0, NULL, NULL },
	{ 'd', "opq/olddir", NULL, 0, NULL, NULL },
	{ 'f', "opq/olddir/deep", "deep", 0, NULL, NULL },
	{ 'd', "bin", NULL, 0, NULL, NULL },
	{ 'f', "bin/busybox", "BUSYBOX", 04755, "user.test", "xval" },
	{ 'h', "bin/sh", "bin/busybox", 0, NULL, NULL },
	{ 'f', "bin/target", "TARGET", 0, NULL, NULL },
	{ 'h', "bin/orphan", "bin/target", 0, NULL, NULL },
	{ 'l', "bin/ls", "busybox", 0, NULL, NULL },
	{ 'f', "over", "layer1", 0, NULL, NULL },
	{ 'd', "gonedir", NULL, 0, NULL, NULL },
	{ 'f', "gonedir/x", "x", 0, NULL, NULL },
	{ 0, NULL, NULL, 0, NULL, NULL }
};
static const struct ent layer2[] = {
	{ 'f', "etc/.wh.gone", "", 0, NULL, NULL },
	{ 'f', ".wh.gonedir", "", 0, NULL, NULL },
	{ 'f', "opq/new", "new", 0, NULL, NULL },
	{ 'f', "opq/.wh..wh..opq", "", 0, NULL, NULL },
	{ 'f', "bin/.wh.target", "", 0, NULL, NULL },
	{ 'f', "over", "layer2", 0, NULL, NULL },
	{ 'f', "./dotted/file", "d", 0, NULL, NULL },
	{ 0, NULL, NULL, 0, NULL, NULL }
};
static const struct ent layer3[] = {
	{ 'f', "over", "layer3", 0600, NULL, NULL },
	{ 'f', "etc/gone", "back", 0, NULL, NULL },
	{ 0, NULL, NULL, 0, NULL, NULL }
};

static void
test_layers(void)
{
	const struct ent *const layers[] = { layer1, layer2, layer3 };
	char dir[512], ref[600], store[512], lhex[3][65], *l, *l2;
	char path[600];
	struct image_info info, info2;
	struct buf cfg = BUF_INIT;

	fmtpath(dir, sizeof dir, "%s/oci1", tmp);
	fmtpath(store, sizeof store, "%s/store", tmp);
	make_oci(dir, layers, lhex, 3);
	fmtpath(ref, sizeof ref, "oci:%s", dir);
	l = import_listing(ref, store, &info);
	ok(l != NULL, "oci layout without tag (one manifest) imports");
	is_int(info.layers, 3, "three layers applied");
	ok(strstr(l ? l : "", "to be whited") == NULL && contains(l, "etc/gone 100644 "
	    "1000/1000 1700000000 [back]"), "whiteout removes, upper layer "
	    "re-adds");
	ok(strstr(l ? l : "", "gonedir") == NULL, "whiteout of a folder "
	    "removes its contents");
	ok(contains(l, "opq/new") && strstr(l ? l : "", "opq/old1") == NULL &&
	    strstr(l ? l : "", "olddir") == NULL,
	    "opaque folder drops lower entries, keeps same-layer ones");
	ok(contains(l, "over 100600 1000/1000 1700000000 [layer3]"),
	    "later layer wins (layer order)");
	ok(contains(l, "bin/busybox 104755 1000/1000 1700000000 "
	    "x:user.test=xval [BUSYBOX]"), "setuid mode, owner and xattr kept");
	ok(contains(l, "bin/sh 4755 1000/1000 1700000000 => bin/busybox"),
	    "hardlink kept, pointing at the first path");
	ok(contains(l, "bin/orphan 100644 1000/1000 1700000000 [TARGET]"),
	    "hardlink whose target was whited out becomes a regular file");
	ok(contains(l, "bin/ls 120777 1000/1000 1700000000 -> busybox"),
	    "symlink kept");
	ok(contains(l, "dotted/file"), "leading ./ is normalised");
	ok(strstr(l ? l : "", "UNAME") == NULL, "user and group names dropped");
	ok(l != NULL && strstr(l, "bin ") < strstr(l, "bin/busybox") &&
	    strstr(l, "bin/busybox") < strstr(l, "bin/ls") &&
	    strstr(l, "bin/ls") < strstr(l, "bin/orphan") &&
	    strstr(l, "bin/orphan") < strstr(l, "bin/sh") &&
	    strstr(l, "etc ") < strstr(l, "etc/gone"),
	    "sorted, parents before children");
	fmtpath(path, sizeof path, "%s/%s.json", store, info.id);
	buf_read_file(&cfg, path, 1 << 20);
	ok(strncmp(cfg.data, "{\"vzimage\":1,\"ref\":\"oci:", 24) == 0,
	    "config starts with version and ref");
	ok(contains(cfg.data, "\"Entrypoint\":[\"/bin/app\"],\"Cmd\":[\"-v\"],"
	    "\"Env\":[\"PATH=/usr/bin:/bin\"],\"WorkingDir\":\"/srv\","
	    "\"User\":\"1000\",\"ExposedPorts\":[\"8080/tcp\"]}"),
	    "image config extracted");
	ok(info.config_json && strcmp(info.config_json, cfg.data) == 0,
	    "config returned equals the one stored");
	buf_release(&cfg);

	/* determinism: import again, same id and bytes */
	fmtpath(ref, sizeof ref, "oci:%s:v1", dir);
	l2 = import_listing(ref, store, &info2);
	is_str(info2.id, info.id, "second import (by tag) gives the same id");
	is_str(l2, l, "and the same listing");
	free(l2);
	image_info_release(&info2);
	fmtpath(ref, sizeof ref, "oci:%s:nosuch", dir);
	{
		char err[512];

		ok(image_import(ref, store, &info2, err, sizeof err) == -1 &&
		    contains(err, "no image tagged 'nosuch'"),
		    "unknown tag: error names it");
	}

	/* docker archive of the same layers: same rootfs, same id */
	fmtpath(path, sizeof path, "%s/img.docker.tar", tmp);
	make_docker(path, layers, 3, "localhost/app:1");
	fmtpath(ref, sizeof ref, "docker-archive:%s:app:1", path);
	l2 = import_listing(ref, store, &info2);
	is_str(l2, l, "docker-archive of the same layers: same listing");
	is_str(info2.id, info.id, "docker-archive of the same layers: same id");
	free(l2);
	image_info_release(&info2);
	fmtpath(ref, sizeof ref, "docker-archive:%s", path);
	l2 = import_listing(ref, store, &info2);
	is_str(info2.id, info.id, "docker-archive without a tag (one image)");
	free(l2);
	image_info_release(&info2);

	free(l);
	image_info_release(&info);
}

/* Flip a byte of a layer: digest mismatch names the blob. */
static void
test_bad_blobs(void)
{
	const struct ent *const layers[] = { layer1, layer2 };
	char dir[512], ref[600], store[512], lhex[2][65], path[700], err[1024];
	struct image_info info;
	struct stat st;
	int fd;
	char c;

	fmtpath(dir, sizeof dir, "%s/oci2", tmp);
	fmtpath(store, sizeof store, "%s/store2", tmp);
	make_oci(dir, layers, lhex, 2);
	fmtpath(ref, sizeof ref, "oci:%s", dir);

	/* layer 1 is zstd: change its last byte */
	fmtpath(path, sizeof path, "%s/blobs/sha256/%s", dir, lhex[1]);
	stat(path, &st);
	fd = open(path, O_RDWR);
	pread(fd, &c, 1, st.st_size / 2);
	c ^= 0x55;
	pwrite(fd, &c, 1, st.st_size / 2);
	ok(image_import(ref, store, &info, err, sizeof err) == -1 &&
	    contains(err, lhex[1]) && contains(err, "digest mismatch"),
	    "corrupt layer: digest mismatch naming the blob");
	diag_note("%s", err);
	c ^= 0x55;
	pwrite(fd, &c, 1, st.st_size / 2);
	close(fd);
	ok(image_import(ref, store, &info, err, sizeof err) == 0,
	    "restored layer imports");
	image_info_release(&info);

	/* random damage to the layers: always an error, never a crash */
	{
		char p0[700], backup[700];
		int k, crashes = 0, passes = 0;

		srand(42);
		for (k = 0; k < 2; k++) {
			struct buf orig = BUF_INIT;
			int it;

			fmtpath(p0, sizeof p0, "%s/blobs/sha256/%s", dir, lhex[k]);
			fmtpath(backup, sizeof backup, "%s.orig", p0);
			buf_read_file(&orig, p0, 1 << 24);
			for (it = 0; it < 150; it++) {
				struct buf b = BUF_INIT;
				int fl, nflips = 1 + rand() % 8;

				buf_add(&b, orig.data, orig.len);
				for (fl = 0; fl < nflips; fl++)
					b.data[(size_t)rand() % b.len] ^=
					    (char)(1 + rand() % 255);
				fd = open(p0, O_WRONLY | O_TRUNC);
				write_full(fd, b.data, b.len);
				close(fd);
				buf_release(&b);
				if (image_import(ref, store, &info, err,
				    sizeof err) == 0) {
					passes++;
					image_info_release(&info);
				}
			}
			fd = open(p0, O_WRONLY | O_TRUNC);
			write_full(fd, orig.data, orig.len);
			close(fd);
			buf_release(&orig);
		}
		ok(crashes == 0 && passes == 0, "300 damaged layers: all refused, "
		    "no crash");
	}

	/* truncated layer */
	truncate(path, st.st_size / 2);
	ok(image_import(ref, store, &info, err, sizeof err) == -1 &&
	    contains(err, lhex[1]), "truncated layer: error naming the blob");
	diag_note("%s", err);

	/* missing blob */
	unlink(path);
	ok(image_import(ref, store, &info, err, sizeof err) == -1 &&
	    contains(err, "missing blob") && contains(err, lhex[1]),
	    "missing blob: error naming it");
	diag_note("%s", err);

	/* bad manifest: index.json not JSON */
	fmtpath(path, sizeof path, "%s/index.json", dir);
	write_str(path, "{\"manifests\": [");
	ok(image_import(ref, store, &info, err, sizeof err) == -1 &&
	    contains(err, "index.json"), "bad index.json: error naming it");
	diag_note("%s", err);

	/* truncated docker archive */
	fmtpath(path, sizeof path, "%s/trunc.docker.tar", tmp);
	make_docker(path, layers, 2, "app:1");
	stat(path, &st);
	truncate(path, st.st_size - 3000);
	fmtpath(ref, sizeof ref, "docker-archive:%s", path);
	ok(image_import(ref, store, &info, err, sizeof err) == -1 &&
	    contains(err, path), "truncated docker archive: error names file");
	diag_note("%s", err);

	ok(image_import("oci:/nonexistent/x", store, &info, err,
	    sizeof err) == -1 && contains(err, "/nonexistent/x"),
	    "missing layout: error names it");
	ok(image_import("foo:bar", store, &info, err, sizeof err) == -1 &&
	    contains(err, "unknown image reference"), "unknown transport");

	/* nothing left behind in the store but finished images */
	ok(only_images(store), "failed imports leave no temporary files");
}

static void
test_dir(void)
{
	char root[512], p[600], ref[600], store[512], *l, *l2;
	struct image_info a, b;

	fmtpath(root, sizeof root, "%s/rootfs", tmp);
	fmtpath(store, sizeof store, "%s/store3", tmp);
	fmtpath(p, sizeof p, "%s/usr/bin", root);
	mkdir_p(p, 0755);
	fmtpath(p, sizeof p, "%s/usr/bin/prog", root);
	write_str(p, "PROG");
	chmod(p, 0755);
	fmtpath(ref, sizeof ref, "%s/usr/bin/prog2", root);
	link(p, ref);
	fmtpath(ref, sizeof ref, "%s/usr/bin/link", root);
	symlink("prog", ref);
	lsetxattr(p, "user.k", "v", 1, 0);
	fmtpath(p, sizeof p, "%s/a", root);
	write_str(p, "A");

	fmtpath(ref, sizeof ref, "dir:%s", root);
	l = import_listing(ref, store, &a);
	sleep(1);	/* a clock-dependent result would now differ */
	l2 = import_listing(ref, store, &b);
	ok(l != NULL && l2 != NULL, "dir: imports");
	is_str(a.id, b.id, "dir: twice gives the same id");
	is_str(l, l2, "dir: twice gives the same listing");
	ok(contains(l, "usr/bin/prog2 755 0/0") && contains(l,
	    "=> usr/bin/prog"), "dir: hardlinks found");
	ok(contains(l, "usr/bin/link 120777 0/0"), "dir: symlink");
	ok(contains(l, "[PROG]") && contains(l, "x:user.k=v [PROG]"), "dir: xattr");
	ok(contains(a.config_json, "\"Entrypoint\":null,\"Cmd\":null,"
	    "\"Env\":[]"), "dir: empty config");
	free(l);
	free(l2);
	image_info_release(&a);
	image_info_release(&b);
}

int
main(void)
{
	fmtpath(tmp, sizeof tmp, "%s/test-image.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmp) == NULL)
		return 1;
	test_layers();
	test_bad_blobs();
	test_dir();
	if (getenv("VZ_TEST_KEEP") == NULL)
		remove_tree(tmp);
	return done_testing();
}

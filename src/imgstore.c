/*
 * imgstore: the master's store of flattened images and, per reference,
 * its last versions (see imgstore.h).  An index file is small text:
 *   vzrefs 1
 *   <reference>
 *   <id, newest first>...
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "imgstore.h"
#include "imgutil.h"

static void
ref_path(const struct imgstore *s, const char *ref, char *out, size_t len)
{
	struct buf b = BUF_INIT;
	const unsigned char *p;

	/* readable where possible; long references are hashed */
	for (p = (const unsigned char *)ref; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		    *p == '_')
			buf_addc(&b, *p);
		else
			buf_addf(&b, "%%%02X", *p);
	}
	if (b.len > 200 || b.data[0] == '.') {
		struct sha256 h;
		char hex[65];

		sha256_init(&h);
		sha256_update(&h, ref, strlen(ref));
		sha256_final(&h, hex);
		buf_reset(&b);
		buf_addf(&b, "sha256-%s", hex);
	}
	fmtpath(out, len, "%s/refs/%s", s->dir, b.data);
	buf_release(&b);
}

void
imgstore_tar_path(const struct imgstore *s, const char *id, char *out,
    size_t len)
{
	fmtpath(out, len, "%s/%s.tar", s->dir, id);
}

void
imgstore_config_path(const struct imgstore *s, const char *id, char *out,
    size_t len)
{
	fmtpath(out, len, "%s/%s.json", s->dir, id);
}

int
imgstore_open(struct imgstore *s, const char *dir, int keep, char *err,
    size_t errlen)
{
	char refs[4200];

	memset(s, 0, sizeof *s);
	if (fmtpath(s->dir, sizeof s->dir, "%s", dir) == -1) {
		snprintf(err, errlen, "path too long: '%s'", dir);
		return -1;
	}
	s->keep = keep > 0 ? keep : IMGSTORE_KEEP;
	fmtpath(refs, sizeof refs, "%s/refs", dir);
	if (mkdir_p(refs, 0755) == -1) {
		snprintf(err, errlen, "cannot create '%s': %s", refs,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Read the index at path into ids; the reference must be ref. */
static int
read_index(const char *path, const char *ref, char (*ids)[65], size_t max,
    size_t *n, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	char *line, *next;
	int lineno = 0;

	*n = 0;
	if (buf_read_file(&b, path, 1 << 20) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot read '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	for (line = b.data; line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		if (lineno == 1 && strcmp(line, "vzrefs 1") != 0)
			goto bad;
		if (lineno == 2 && ref != NULL && strcmp(line, ref) != 0)
			goto bad;
		if (lineno <= 2)
			continue;
		if (!is_sha256_hex(line))
			goto bad;
		if (*n < max)
			memcpy(ids[(*n)++], line, 65);
	}
	buf_release(&b);
	return 0;
bad:
	snprintf(err, errlen, "'%s': bad image index (line %d)", path, lineno);
	buf_release(&b);
	return -1;
}

int
imgstore_versions(struct imgstore *s, const char *ref, char (*ids)[65],
    size_t max, size_t *n, char *err, size_t errlen)
{
	char path[4200];

	ref_path(s, ref, path, sizeof path);
	return read_index(path, ref, ids, max, n, err, errlen);
}

/* Whether any index other than skip lists id. */
static int
still_used(struct imgstore *s, const char *skip, const char *id)
{
	char dir[4200], path[4400], ids[IMGSTORE_MAX][65], err[200];
	struct dirent *de;
	size_t n, i;
	DIR *d;
	int used = 0;

	fmtpath(dir, sizeof dir, "%s/refs", s->dir);
	if ((d = opendir(dir)) == NULL)
		return 1;	/* cannot tell: keep it */
	while (!used && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		fmtpath(path, sizeof path, "%s/%s", dir, de->d_name);
		if (strcmp(path, skip) == 0)
			continue;
		if (read_index(path, NULL, ids, IMGSTORE_MAX, &n, err,
		    sizeof err) == -1) {
			used = 1;
			break;
		}
		for (i = 0; i < n; i++)
			if (strcmp(ids[i], id) == 0)
				used = 1;
	}
	closedir(d);
	return used;
}

int
imgstore_record(struct imgstore *s, const char *ref, const char *id,
    char *err, size_t errlen)
{
	char path[4200], ids[IMGSTORE_MAX][65], file[4200];
	struct buf b = BUF_INIT, old = BUF_INIT;
	size_t n, i, kept = 1;
	int rc;

	if (!is_sha256_hex(id) || strchr(ref, '\n') != NULL) {
		snprintf(err, errlen, "bad image id or reference");
		return -1;
	}
	ref_path(s, ref, path, sizeof path);
	if (read_index(path, ref, ids, IMGSTORE_MAX, &n, err, errlen) == -1)
		return -1;
	buf_addf(&b, "vzrefs 1\n%s\n%s\n", ref, id);
	for (i = 0; i < n; i++) {
		if (strcmp(ids[i], id) == 0)
			continue;
		if ((int)kept < s->keep) {
			buf_addf(&b, "%s\n", ids[i]);
			kept++;
		}
	}
	/* a deploy records an unchanged image every time: no fsync then */
	if (buf_read_file(&old, path, 1 << 20) == 0 && old.len == b.len &&
	    memcmp(old.data, b.data, b.len) == 0)
		rc = 0;
	else
		rc = write_file_atomic(path, b.data, b.len, err, errlen);
	buf_release(&old);
	buf_release(&b);
	if (rc == -1)
		return -1;
	/* prune what fell off the end, unless another reference keeps it */
	for (i = 0, kept = 1; i < n; i++) {
		if (strcmp(ids[i], id) == 0)
			continue;
		if ((int)kept++ < s->keep)
			continue;
		if (still_used(s, path, ids[i]))
			continue;
		imgstore_tar_path(s, ids[i], file, sizeof file);
		unlink(file);
		imgstore_config_path(s, ids[i], file, sizeof file);
		unlink(file);
	}
	return 0;
}

int
imgstore_import(struct imgstore *s, const char *ref, struct image_info *out,
    char *err, size_t errlen)
{
	if (image_import(ref, s->dir, out, err, errlen) == -1)
		return -1;
	if (imgstore_record(s, ref, out->id, err, errlen) == -1) {
		image_info_release(out);
		return -1;
	}
	return 0;
}

int
imgstore_pick_base(struct imgstore *s, const char *ref,
    const char *const *node_ids, size_t n, char out[65])
{
	char ids[IMGSTORE_MAX][65], err[256], path[4200];
	size_t nv, i, j;
	struct stat st;

	out[0] = '\0';
	if (imgstore_versions(s, ref, ids, IMGSTORE_MAX, &nv, err,
	    sizeof err) == -1)
		return 0;
	for (i = 0; i < nv; i++)
		for (j = 0; j < n; j++) {
			if (node_ids[j] == NULL || strcmp(ids[i], node_ids[j]))
				continue;
			imgstore_tar_path(s, ids[i], path, sizeof path);
			if (stat(path, &st) == -1)
				continue;
			memcpy(out, ids[i], 65);
			return 1;
		}
	return 0;
}

/*
 * wire: building (master) and unpacking (node) an image upload; the format
 * is described in wire.h.  Everything streams through files in chunks, so
 * memory stays small whatever the image size: compression goes through
 * libarchive's raw format with one filter, deltas through vcdiff.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "buf.h"
#include "imgutil.h"
#include "json.h"
#include "vcdiff.h"
#include "wire.h"

#define CHUNK	(1u << 16)

static const char *
comp_suffix(enum wire_compress c)
{
	return c == WIRE_XZ ? "xz" : c == WIRE_ZSTD ? "zstd" : NULL;
}

static const char *
comp_ext(enum wire_compress c)
{
	return c == WIRE_XZ ? ".xz" : c == WIRE_ZSTD ? ".zst" : "";
}

/* Compress in_path as one raw stream into out_path (fast: favour speed). */
static int
compress_file(const char *in_path, const char *out_path,
    enum wire_compress c, int fast, char *err, size_t errlen)
{
	struct archive *a;
	struct archive_entry *e;
	char *chunk = NULL;
	ssize_t n;
	int fd, rc = -1;

	if ((fd = open(in_path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot open '%s': %s", in_path,
		    strerror(errno));
		return -1;
	}
	a = archive_write_new();
	archive_write_set_format_raw(a);
	if (c == WIRE_XZ) {
		archive_write_add_filter_xz(a);
		/* preset 6: an 8 MiB dictionary, so the node decodes in ~9 MiB */
		archive_write_set_filter_option(a, "xz", "compression-level",
		    "6");
	} else {
		archive_write_add_filter_zstd(a);
		/* Level 19 keeps an 8 MiB window (small decoder memory) and is
		   what small deltas get.  A whole tarball gets level 3: a 50 MB
		   image took 44 s at 19 (bench/deploy) against about 1 s, for
		   a few percent of size. */
		archive_write_set_filter_option(a, "zstd", "compression-level",
		    fast ? "3" : "19");
	}
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_filename(a, out_path) != ARCHIVE_OK)
		goto aerr;
	e = archive_entry_new();
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_pathname(e, "payload");
	if (archive_write_header(a, e) != ARCHIVE_OK) {
		archive_entry_free(e);
		goto aerr;
	}
	archive_entry_free(e);
	chunk = xmalloc(CHUNK);
	while ((n = read(fd, chunk, CHUNK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "cannot read '%s': %s", in_path,
			    strerror(errno));
			goto out;
		}
		if (archive_write_data(a, chunk, (size_t)n) != n)
			goto aerr;
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		goto aerr;
	rc = 0;
	goto out;
aerr:
	snprintf(err, errlen, "cannot compress '%s' into '%s': %s", in_path,
	    out_path, archive_error_string(a));
out:
	free(chunk);
	archive_write_free(a);
	close(fd);
	if (rc == -1)
		unlink(out_path);
	return rc;
}

/* Decompress in_path into out_fd, refusing more than max bytes. */
static int
decompress_file(const char *in_path, int out_fd, uint64_t max, char *err,
    size_t errlen)
{
	struct archive *a;
	struct archive_entry *e;
	char *chunk;
	la_ssize_t n;
	uint64_t total = 0;
	int rc = -1;

	a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	chunk = xmalloc(CHUNK);
	if (archive_read_open_filename(a, in_path, CHUNK) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK)
		goto aerr;
	while ((n = archive_read_data(a, chunk, CHUNK)) != 0) {
		if (n < 0)
			goto aerr;
		total += (uint64_t)n;
		if (total > max) {
			snprintf(err, errlen, "'%s' decompresses to more than "
			    "the %llu bytes announced", in_path,
			    (unsigned long long)max);
			goto out;
		}
		if (write_full(out_fd, chunk, (size_t)n) == -1) {
			snprintf(err, errlen, "cannot write: %s",
			    strerror(errno));
			goto out;
		}
	}
	rc = 0;
	goto out;
aerr:
	snprintf(err, errlen, "cannot decompress '%s': %s", in_path,
	    archive_error_string(a) ? archive_error_string(a) : "bad data");
out:
	free(chunk);
	archive_read_free(a);
	return rc;
}

static uint64_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

void
wire_upload_release(struct wire_upload *up)
{
	free(up->manifest_json);
	up->manifest_json = NULL;
}

int
wire_build(const char *base_tar, const char *base_id, const char *target_tar,
    const char *target_id, const char *ref, const char *config_json,
    const char *out_dir, enum wire_compress compress, struct wire_upload *up,
    char *err, size_t errlen)
{
	char raw[4200], cand[4200], best[4200], kind[8];
	enum wire_compress tries[2], best_c = WIRE_NONE;
	uint64_t best_size;
	struct json_writer w;
	struct buf b = BUF_INIT;
	struct json_value *cfg = NULL;
	char perr[200];
	int ntries = 0, i, rc = -1, raw_is_tmp = 0;

	memset(up, 0, sizeof *up);
	best[0] = '\0';
	if (!is_sha256_hex(target_id) || (base_id && !is_sha256_hex(base_id))) {
		snprintf(err, errlen, "bad image id");
		return -1;
	}
	if (config_json != NULL && json_parse(config_json, strlen(config_json),
	    &cfg, perr, sizeof perr) == -1) {
		snprintf(err, errlen, "bad image config: %s", perr);
		return -1;
	}
	json_free(cfg);
	up->image_size = file_size(target_tar);
	if (up->image_size == UINT64_MAX) {
		snprintf(err, errlen, "cannot stat '%s': %s", target_tar,
		    strerror(errno));
		return -1;
	}
	if (base_tar != NULL) {
		int sfd, tfd, ofd;
		struct vcdiff_stats st;

		snprintf(kind, sizeof kind, "vcdiff");
		fmtpath(raw, sizeof raw, "%s/.%s.vcdiff.tmp", out_dir, target_id);
		raw_is_tmp = 1;
		sfd = open(base_tar, O_RDONLY | O_CLOEXEC);
		tfd = open(target_tar, O_RDONLY | O_CLOEXEC);
		ofd = open(raw, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (sfd == -1 || tfd == -1 || ofd == -1) {
			snprintf(err, errlen, "cannot open '%s': %s", sfd == -1 ?
			    base_tar : tfd == -1 ? target_tar : raw,
			    strerror(errno));
			rc = -1;
		} else
			rc = vcdiff_encode(sfd, tfd, ofd, &st, err, errlen);
		if (sfd != -1)
			close(sfd);
		if (tfd != -1)
			close(tfd);
		if (ofd != -1 && close(ofd) == -1 && rc == 0) {
			snprintf(err, errlen, "cannot write '%s': %s", raw,
			    strerror(errno));
			rc = -1;
		}
		if (rc == -1)
			goto out;
		rc = -1;
		up->delta_size = file_size(raw);
	} else {
		snprintf(kind, sizeof kind, "tar");
		fmtpath(raw, sizeof raw, "%s", target_tar);
	}
	best_size = file_size(raw);
	if (compress == WIRE_AUTO) {
		if (base_tar != NULL) {
			tries[ntries++] = WIRE_ZSTD;
			tries[ntries++] = WIRE_XZ;
		} else
			tries[ntries++] = WIRE_ZSTD;	/* fast, see above */
	} else if (compress != WIRE_NONE)
		tries[ntries++] = compress;
	for (i = 0; i < ntries; i++) {
		uint64_t sz;

		fmtpath(cand, sizeof cand, "%s/.%s.%s%s.tmp", out_dir,
		    target_id, kind, comp_ext(tries[i]));
		if (compress_file(raw, cand, tries[i], base_tar == NULL, err,
		    errlen) == -1)
			goto out;
		sz = file_size(cand);
		/* an explicit choice is kept even when it does not help */
		if (sz < best_size || compress != WIRE_AUTO) {
			if (best[0] != '\0')
				unlink(best);
			memcpy(best, cand, sizeof best);
			best_size = sz;
			best_c = tries[i];
		} else
			unlink(cand);
	}
	fmtpath(up->file, sizeof up->file, "%s.%s%s", target_id, kind,
	    comp_ext(best_c));
	fmtpath(up->manifest_name, sizeof up->manifest_name, "%s.upload.json",
	    target_id);
	if (best_c != WIRE_NONE || raw_is_tmp) {
		fmtpath(up->path, sizeof up->path, "%s/%s", out_dir, up->file);
		if (rename(best_c != WIRE_NONE ? best : raw, up->path) == -1) {
			snprintf(err, errlen, "cannot rename into '%s': %s",
			    up->path, strerror(errno));
			goto out;
		}
		best[0] = '\0';
		if (best_c != WIRE_NONE && raw_is_tmp)
			unlink(raw);
		raw_is_tmp = 0;
	} else
		fmtpath(up->path, sizeof up->path, "%s", target_tar);
	fmtpath(up->encoding, sizeof up->encoding, "%s%s%s", kind,
	    best_c != WIRE_NONE ? "+" : "",
	    best_c != WIRE_NONE ? comp_suffix(best_c) : "");
	if (sha256_file(up->path, up->sha256, &up->size, err, errlen) == -1)
		goto out;

	json_writer_init(&w, &b, 0);
	json_begin_object(&w);
	json_kv_int(&w, "vzupload", 1);
	json_kv_string(&w, "image", target_id);
	json_kv_string(&w, "ref", ref ? ref : "");
	json_key(&w, "base");
	if (base_id != NULL && base_tar != NULL)
		json_string(&w, base_id);
	else
		json_null(&w);
	json_kv_string(&w, "encoding", up->encoding);
	json_kv_string(&w, "file", up->file);
	json_key(&w, "size");
	json_uint(&w, up->size);
	json_kv_string(&w, "sha256", up->sha256);
	json_key(&w, "imageSize");
	json_uint(&w, up->image_size);
	json_key(&w, "config");
	if (config_json != NULL)
		json_raw(&w, config_json, strlen(config_json));
	else
		json_null(&w);
	json_end_object(&w);
	up->manifest_json = buf_detach(&b, NULL);
	rc = 0;
out:
	if (best[0] != '\0')
		unlink(best);
	if (raw_is_tmp)
		unlink(raw);
	if (rc == -1 && up->path[0] != '\0' && strcmp(up->path, target_tar))
		unlink(up->path);
	return rc;
}

/* ---- node side ---- */

void
wire_manifest_release(struct wire_manifest *m)
{
	free(m->config_json);
	m->config_json = NULL;
}

static int
get_u64(const struct json_value *o, const char *key, uint64_t *v)
{
	int64_t i;

	if (json_get_int(o, key, &i) == -1 || i < 0)
		return -1;
	*v = (uint64_t)i;
	return 0;
}

int
wire_manifest_parse(const char *text, size_t len, struct wire_manifest *m,
    char *err, size_t errlen)
{
	struct json_value *root = NULL;
	const struct json_value *cfg, *base;
	const char *s, *enc;
	char perr[200];
	int64_t ver;
	struct buf b = BUF_INIT;
	struct json_writer w;

	memset(m, 0, sizeof *m);
	if (json_parse(text, len, &root, perr, sizeof perr) == -1) {
		snprintf(err, errlen, "bad upload manifest: %s", perr);
		return -1;
	}
	if (json_get_int(root, "vzupload", &ver) == -1 || ver != 1) {
		snprintf(err, errlen, "bad upload manifest: not vzupload 1");
		goto fail;
	}
	s = json_get_string(root, "image");
	if (s == NULL || !is_sha256_hex(s)) {
		snprintf(err, errlen, "bad upload manifest: bad 'image'");
		goto fail;
	}
	memcpy(m->image, s, 65);
	base = json_get(root, "base");
	if (base != NULL && base->type == JSON_STRING) {
		if (!is_sha256_hex(base->str)) {
			snprintf(err, errlen, "bad upload manifest: bad 'base'");
			goto fail;
		}
		memcpy(m->base, base->str, 65);
	} else if (base != NULL && base->type != JSON_NULL) {
		snprintf(err, errlen, "bad upload manifest: bad 'base'");
		goto fail;
	}
	s = json_get_string(root, "ref");
	snprintf(m->ref, sizeof m->ref, "%s", s ? s : "");
	/* absent in a streamed upload (image-import --stdin): left "" */
	s = json_get_string(root, "file");
	if (s == NULL && json_get(root, "file") == NULL)
		m->file[0] = '\0';
	else if (s == NULL || *s == '\0' || strchr(s, '/') != NULL ||
	    s[0] == '.' || strlen(s) >= sizeof m->file) {
		snprintf(err, errlen, "bad upload manifest: bad 'file'");
		goto fail;
	} else
		memcpy(m->file, s, strlen(s) + 1);
	s = json_get_string(root, "sha256");
	if (s == NULL || !is_sha256_hex(s)) {
		snprintf(err, errlen, "bad upload manifest: bad 'sha256'");
		goto fail;
	}
	memcpy(m->sha256, s, 65);
	if (get_u64(root, "size", &m->size) == -1 ||
	    get_u64(root, "imageSize", &m->image_size) == -1) {
		snprintf(err, errlen, "bad upload manifest: bad 'size' or "
		    "'imageSize'");
		goto fail;
	}
	enc = json_get_string(root, "encoding");
	if (enc == NULL)
		enc = "";
	if (strncmp(enc, "vcdiff", 6) == 0) {
		m->vcdiff = 1;
		enc += 6;
	} else if (strncmp(enc, "tar", 3) == 0)
		enc += 3;
	else
		enc = "?";
	if (strcmp(enc, "") == 0)
		m->compress = WIRE_NONE;
	else if (strcmp(enc, "+xz") == 0)
		m->compress = WIRE_XZ;
	else if (strcmp(enc, "+zstd") == 0)
		m->compress = WIRE_ZSTD;
	else {
		snprintf(err, errlen, "bad upload manifest: unknown encoding "
		    "'%s'", json_get_string(root, "encoding") ?
		    json_get_string(root, "encoding") : "");
		goto fail;
	}
	if (m->vcdiff != (m->base[0] != '\0')) {
		snprintf(err, errlen, "bad upload manifest: a delta needs a "
		    "base and only a delta has one");
		goto fail;
	}
	/* Keep the config as a canonical re-serialisation of an object. */
	cfg = json_get_object(root, "config");
	json_writer_init(&w, &b, 0);
	if (cfg != NULL) {
		size_t i, j;

		json_begin_object(&w);
		for (i = 0; i < cfg->n; i++) {
			const struct json_value *v = cfg->items[i];

			json_key(&w, cfg->keys[i]);
			switch (v->type) {
			case JSON_STRING:
				json_string_len(&w, v->str, v->len);
				break;
			case JSON_NUMBER:
				json_raw(&w, v->str, strlen(v->str));
				break;
			case JSON_ARRAY:
				json_begin_array(&w);
				for (j = 0; j < v->n; j++)
					if (v->items[j]->type == JSON_STRING)
						json_string_len(&w,
						    v->items[j]->str,
						    v->items[j]->len);
				json_end_array(&w);
				break;
			case JSON_TRUE:
			case JSON_FALSE:
				json_bool(&w, v->type == JSON_TRUE);
				break;
			default:
				json_null(&w);
			}
		}
		json_end_object(&w);
	} else
		buf_adds(&b, "{\"vzimage\":1}");
	m->config_json = buf_detach(&b, NULL);
	json_free(root);
	return 0;
fail:
	json_free(root);
	return -1;
}

int
wire_unpack(const struct wire_manifest *m, const char *payload,
    const char *base_tar, const char *out_tar, const char *tmp_dir,
    char *err, size_t errlen)
{
	char hex[65], dpath[4200];
	const char *delta = payload;
	uint64_t size;
	int ofd = -1, rc = WIRE_FAIL, bad = m->vcdiff ? WIRE_MISMATCH :
	    WIRE_FAIL;

	dpath[0] = '\0';
	if (sha256_file(payload, hex, &size, err, errlen) == -1)
		return WIRE_FAIL;
	if (size != m->size || strcmp(hex, m->sha256) != 0) {
		snprintf(err, errlen, "upload '%s' is corrupt: %llu bytes with "
		    "sha256 %s, expected %llu bytes with sha256 %s", payload,
		    (unsigned long long)size, hex, (unsigned long long)m->size,
		    m->sha256);
		return bad;
	}
	if (m->vcdiff) {
		int sfd, dfd;
		uint64_t max = m->image_size + m->image_size / 4 + (1u << 20);

		if (m->compress != WIRE_NONE) {
			int tfd;

			fmtpath(dpath, sizeof dpath, "%s/.%s.vcdiff.tmp", tmp_dir,
			    m->image);
			tfd = open(dpath, O_WRONLY | O_CREAT | O_TRUNC |
			    O_CLOEXEC, 0600);
			if (tfd == -1) {
				snprintf(err, errlen, "cannot create '%s': %s",
				    dpath, strerror(errno));
				goto out;
			}
			if (decompress_file(payload, tfd, max, err,
			    errlen) == -1 || fsync(tfd) == -1) {
				if (errno == ENOSPC)
					snprintf(err, errlen, "cannot write "
					    "'%s': %s", dpath, strerror(errno));
				close(tfd);
				rc = errno == ENOSPC ? WIRE_FAIL : bad;
				goto out;
			}
			close(tfd);
			delta = dpath;
		}
		if ((sfd = open(base_tar, O_RDONLY | O_CLOEXEC)) == -1) {
			snprintf(err, errlen, "cannot open base '%s': %s",
			    base_tar, strerror(errno));
			rc = WIRE_MISMATCH;
			goto out;
		}
		if ((dfd = open(delta, O_RDONLY | O_CLOEXEC)) == -1) {
			snprintf(err, errlen, "cannot open '%s': %s", delta,
			    strerror(errno));
			close(sfd);
			goto out;
		}
		ofd = open(out_tar, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
		if (ofd == -1) {
			snprintf(err, errlen, "cannot create '%s': %s", out_tar,
			    strerror(errno));
			close(sfd);
			close(dfd);
			goto out;
		}
		errno = 0;
		if (vcdiff_decode(sfd, dfd, ofd, NULL, err, errlen) == -1) {
			int e = errno;

			close(sfd);
			close(dfd);
			rc = e == ENOSPC ? WIRE_FAIL : WIRE_MISMATCH;
			goto out;
		}
		close(sfd);
		close(dfd);
	} else {
		ofd = open(out_tar, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
		if (ofd == -1) {
			snprintf(err, errlen, "cannot create '%s': %s", out_tar,
			    strerror(errno));
			goto out;
		}
		if (m->compress != WIRE_NONE) {
			if (decompress_file(payload, ofd, m->image_size, err,
			    errlen) == -1)
				goto out;
		} else {
			char *chunk = xmalloc(CHUNK);
			int ifd = open(payload, O_RDONLY | O_CLOEXEC);
			ssize_t n = 0;

			while (ifd != -1 && (n = read(ifd, chunk, CHUNK)) > 0)
				if (write_full(ofd, chunk, (size_t)n) == -1) {
					n = -1;
					break;
				}
			if (ifd == -1 || n < 0) {
				snprintf(err, errlen, "cannot copy '%s' to "
				    "'%s': %s", payload, out_tar,
				    strerror(errno));
				free(chunk);
				if (ifd != -1)
					close(ifd);
				goto out;
			}
			free(chunk);
			close(ifd);
		}
	}
	if (fsync(ofd) == -1) {
		snprintf(err, errlen, "cannot write '%s': %s", out_tar,
		    strerror(errno));
		goto out;
	}
	close(ofd);
	ofd = -1;
	if (sha256_file(out_tar, hex, &size, err, errlen) == -1)
		goto out;
	if (strcmp(hex, m->image) != 0) {
		snprintf(err, errlen, "%s result does not match: sha256 %s, "
		    "expected image %s", m->vcdiff ? "delta" : "upload", hex,
		    m->image);
		rc = bad;
		goto out;
	}
	rc = WIRE_OK;
out:
	if (ofd != -1)
		close(ofd);
	if (dpath[0] != '\0')
		unlink(dpath);
	if (rc != WIRE_OK)
		unlink(out_tar);
	return rc;
}

/*
 * wire: building (master) and unpacking (node) an image upload; the format
 * is described in wire.h.  Everything streams through files in chunks, so
 * memory stays small whatever the image size: compression goes through
 * libarchive's raw format with one filter, deltas through vcdiff.  The
 * master compresses zstd with libzstd itself: it tells zstd the input's
 * size, so a 60 KB delta does not pay for the tables of a 60 MB input, and
 * it can run 2 worker threads.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <zstd.h>

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

/*
 * Compression levels (zstd) and why.  WIRE_AUTO makes one attempt only:
 *   a full image: level 1 on 2 threads, about 0.1 s for 50 MB where
 *     level 3 took 0.4 s and level 19 44 s, for a few percent of size;
 *   a delta up to AUTO_SMALL_DELTA: level 9, milliseconds at that size;
 *   a larger delta (many files changed): level 3.
 * xz, and zstd tried against it, cost seconds per push for a few percent:
 * only an explicit --compress xz uses it.  An explicit --compress zstd
 * keeps the levels it always had (3 full, 19 delta).  Every level here
 * keeps zstd's window at 8 MiB or less, so the node decodes in little
 * memory.
 */
#define AUTO_SMALL_DELTA	(1u << 20)
#define IN_CHUNK		(1u << 20)
/* a compressed payload must save this fraction (1/20 = 5%) to be sent */
#define AUTO_MIN_SAVING		20

struct comp_opts {
	enum wire_compress	 c;	/* WIRE_XZ or WIRE_ZSTD */
	int			 level;
	int			 threads;	/* zstd workers, 0: none */
};

static void
pick_compression(enum wire_compress asked, int delta, uint64_t raw_size,
    struct comp_opts *o)
{
	memset(o, 0, sizeof *o);
	o->c = asked == WIRE_XZ ? WIRE_XZ : WIRE_ZSTD;
	if (asked == WIRE_XZ)
		o->level = 6;	/* an 8 MiB dictionary: ~9 MiB to decode */
	else if (asked == WIRE_ZSTD)
		o->level = delta ? 19 : 3;
	else if (!delta) {
		o->level = 1;
		o->threads = 2;
	} else
		o->level = raw_size <= AUTO_SMALL_DELTA ? 9 : 3;
}

/* The payload file being written, hashed as it is written. */
struct hashed_out {
	int		 fd;
	struct sha256	 h;
	uint64_t	 bytes;
};

static la_ssize_t
hashed_write(struct archive *a, void *v, const void *p, size_t n)
{
	struct hashed_out *o = v;

	if (write_full(o->fd, p, n) == -1) {
		archive_set_error(a, errno, "%s", strerror(errno));
		return -1;
	}
	sha256_update(&o->h, p, n);
	o->bytes += n;
	return (la_ssize_t)n;
}

/*
 * compress_fd for zstd, with libzstd: in_size bytes are announced (so
 * small inputs get small tables and the frame records its size).
 */
static int
zstd_fd(int in_fd, const char *in_name, const char *out_path,
    const struct comp_opts *co, uint64_t in_size, struct sha256 *in_hash,
    char out_hex[65], uint64_t *out_size, char *err, size_t errlen)
{
	ZSTD_CCtx *z;
	ZSTD_inBuffer in;
	ZSTD_outBuffer out;
	struct hashed_out o;
	char *ibuf, *obuf;
	size_t osz = ZSTD_CStreamOutSize(), r;
	ssize_t n;
	int rc = -1, last = 0;

	o.bytes = 0;
	sha256_init(&o.h);
	if ((o.fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		snprintf(err, errlen, "cannot create '%s': %s", out_path,
		    strerror(errno));
		sha256_final(&o.h, out_hex);
		*out_size = 0;
		return -1;
	}
	if ((z = ZSTD_createCCtx()) == NULL)
		abort();
	ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, co->level);
	ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
	/* a libzstd built without threads refuses: then one thread */
	if (co->threads > 0)
		(void)ZSTD_CCtx_setParameter(z, ZSTD_c_nbWorkers, co->threads);
	ZSTD_CCtx_setPledgedSrcSize(z, in_size);
	ibuf = xmalloc(IN_CHUNK);
	obuf = xmalloc(osz);
	while (!last) {
		do
			n = read(in_fd, ibuf, IN_CHUNK);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			snprintf(err, errlen, "cannot read '%s': %s", in_name,
			    strerror(errno));
			goto out;
		}
		last = n == 0;
		if (in_hash != NULL)
			sha256_update(in_hash, ibuf, (size_t)n);
		in.src = ibuf;
		in.size = (size_t)n;
		in.pos = 0;
		do {
			out.dst = obuf;
			out.size = osz;
			out.pos = 0;
			r = ZSTD_compressStream2(z, &out, &in, last ? ZSTD_e_end :
			    ZSTD_e_continue);
			if (ZSTD_isError(r)) {
				snprintf(err, errlen, "cannot compress '%s': %s",
				    in_name, ZSTD_getErrorName(r));
				goto out;
			}
			if (out.pos > 0 && write_full(o.fd, obuf, out.pos) == -1) {
				snprintf(err, errlen, "cannot write '%s': %s",
				    out_path, strerror(errno));
				goto out;
			}
			sha256_update(&o.h, obuf, out.pos);
			o.bytes += out.pos;
		} while (last ? r != 0 : in.pos < in.size);
	}
	if (close(o.fd) == -1) {
		o.fd = -1;
		snprintf(err, errlen, "cannot write '%s': %s", out_path,
		    strerror(errno));
		goto out;
	}
	o.fd = -1;
	rc = 0;
out:
	ZSTD_freeCCtx(z);
	free(ibuf);
	free(obuf);
	if (o.fd != -1)
		close(o.fd);
	sha256_final(&o.h, out_hex);
	*out_size = o.bytes;
	if (rc == -1)
		unlink(out_path);
	return rc;
}

/*
 * Compress in_fd (named in_name) from its current offset as one raw stream
 * into out_path; the output's sha256 and size into out_hex/out_size, and
 * the input is hashed into in_hash when it is not NULL.  0, or -1 with err
 * set and out_path removed.
 */
static int
compress_fd(int in_fd, const char *in_name, const char *out_path,
    const struct comp_opts *co, struct sha256 *in_hash, char out_hex[65],
    uint64_t *out_size, char *err, size_t errlen)
{
	struct archive *a;
	struct archive_entry *e;
	struct hashed_out o;
	char *chunk = NULL, num[16];
	ssize_t n;
	int rc = -1;

	o.bytes = 0;
	sha256_init(&o.h);
	if ((o.fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		snprintf(err, errlen, "cannot create '%s': %s", out_path,
		    strerror(errno));
		sha256_final(&o.h, out_hex);
		return -1;
	}
	a = archive_write_new();
	archive_write_set_format_raw(a);
	snprintf(num, sizeof num, "%d", co->level);
	if (co->c == WIRE_XZ) {
		archive_write_add_filter_xz(a);
		archive_write_set_filter_option(a, "xz", "compression-level",
		    num);
	} else {
		archive_write_add_filter_zstd(a);
		archive_write_set_filter_option(a, "zstd", "compression-level",
		    num);
		if (co->threads > 0) {
			/* libarchive before 3.6 has no such option: then
			   one thread, same format */
			snprintf(num, sizeof num, "%d", co->threads);
			(void)archive_write_set_filter_option(a, "zstd",
			    "threads", num);
		}
	}
	archive_write_set_bytes_per_block(a, IN_CHUNK);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open(a, &o, NULL, hashed_write, NULL) != ARCHIVE_OK)
		goto aerr;
	e = archive_entry_new();
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_pathname(e, "payload");
	if (archive_write_header(a, e) != ARCHIVE_OK) {
		archive_entry_free(e);
		goto aerr;
	}
	archive_entry_free(e);
	chunk = xmalloc(IN_CHUNK);
	while ((n = read(in_fd, chunk, IN_CHUNK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "cannot read '%s': %s", in_name,
			    strerror(errno));
			goto out;
		}
		if (in_hash != NULL)
			sha256_update(in_hash, chunk, (size_t)n);
		if (archive_write_data(a, chunk, (size_t)n) != n)
			goto aerr;
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		goto aerr;
	if (close(o.fd) == -1) {
		o.fd = -1;
		snprintf(err, errlen, "cannot write '%s': %s", out_path,
		    strerror(errno));
		goto out;
	}
	o.fd = -1;
	rc = 0;
	goto out;
aerr:
	snprintf(err, errlen, "cannot compress '%s' into '%s': %s", in_name,
	    out_path, archive_error_string(a));
out:
	free(chunk);
	archive_write_free(a);
	if (o.fd != -1)
		close(o.fd);
	sha256_final(&o.h, out_hex);
	*out_size = o.bytes;
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

void
wire_upload_release(struct wire_upload *up)
{
	free(up->manifest_json);
	up->manifest_json = NULL;
}

/*
 * The store tarball path did not hash to its name (hex): a cache entry
 * damaged, e.g. by a crash before it was written back (the store does not
 * fsync).  It is removed, so that the next import rebuilds it.
 */
static int
damaged(const char *path, const char *id, const char *hex, char *err,
    size_t errlen)
{
	int gone = unlink(path) == 0 || errno == ENOENT;

	snprintf(err, errlen, "image store file '%s' is damaged: its sha256 "
	    "is %s, not %s as its name says; %s, import the image again",
	    path, hex, id, gone ? "removed it" : "could not remove it");
	return -1;
}

/*
 * vcdiff_encode_cb's sinks: the raw delta file and the target's hash.
 * Each target window is hashed on a thread while the encoder works on it
 * (a third of the time of a one-file delta was the hash).
 */
struct delta_sink {
	int		 fd;
	const char	*path;
	struct sha256	 h;		/* of the delta */
	struct sha256	 th;		/* of the target (the store tarball) */
	uint64_t	 bytes;
	const void	*win;		/* the window being hashed */
	size_t		 winlen;
	pthread_t	 thr;
	int		 running;
};

static void *
hash_window(void *v)
{
	struct delta_sink *d = v;

	sha256_update(&d->th, d->win, d->winlen);
	return NULL;
}

static int
delta_write(void *v, const void *p, size_t n, char *err, size_t errlen)
{
	struct delta_sink *d = v;

	if (write_full(d->fd, p, n) == -1) {
		snprintf(err, errlen, "cannot write '%s': %s", d->path,
		    strerror(errno));
		return -1;
	}
	sha256_update(&d->h, p, n);
	d->bytes += n;
	return 0;
}

static void
delta_target(void *v, const void *p, size_t n)
{
	struct delta_sink *d = v;

	if (p == NULL) {	/* the encoder is done with the window */
		if (d->running)
			pthread_join(d->thr, NULL);
		d->running = 0;
		return;
	}
	d->win = p;
	d->winlen = n;
	if (pthread_create(&d->thr, NULL, hash_window, d) == 0)
		d->running = 1;
	else
		hash_window(d);
}

int
wire_build(const char *base_tar, const char *base_id, const char *target_tar,
    const char *target_id, const char *ref, const char *config_json,
    const char *out_dir, enum wire_compress compress, struct wire_upload *up,
    char *err, size_t errlen)
{
	char raw[4200], cand[4200], kind[8], raw_hex[65], cand_hex[65];
	char thex[65];
	enum wire_compress used = WIRE_NONE;
	uint64_t raw_size, cand_size = 0;
	struct comp_opts co;
	struct json_writer w;
	struct buf b = BUF_INIT;
	struct json_value *cfg = NULL;
	struct stat sb;
	char perr[200];
	int rc = -1, raw_is_tmp = 0, tfd = -1;

	memset(up, 0, sizeof *up);
	raw[0] = cand[0] = '\0';
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
	if ((tfd = open(target_tar, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(tfd, &sb) == -1) {
		snprintf(err, errlen, "cannot open '%s': %s", target_tar,
		    strerror(errno));
		goto out;
	}
	up->image_size = (uint64_t)sb.st_size;
	if (base_tar != NULL) {
		struct delta_sink d;
		struct vcdiff_enc_io io = { delta_write, delta_target, &d };
		int sfd;

		snprintf(kind, sizeof kind, "vcdiff");
		fmtpath(raw, sizeof raw, "%s/.%s.vcdiff.tmp", out_dir, target_id);
		raw_is_tmp = 1;
		memset(&d, 0, sizeof d);
		d.path = raw;
		if ((sfd = open(base_tar, O_RDONLY | O_CLOEXEC)) == -1) {
			snprintf(err, errlen, "cannot open '%s': %s", base_tar,
			    strerror(errno));
			goto out;
		}
		d.fd = open(raw, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (d.fd == -1) {
			snprintf(err, errlen, "cannot create '%s': %s", raw,
			    strerror(errno));
			close(sfd);
			goto out;
		}
		sha256_init(&d.h);
		sha256_init(&d.th);
		rc = vcdiff_encode_cb(sfd, tfd, &io, NULL, err, errlen);
		close(sfd);
		sha256_final(&d.h, raw_hex);
		sha256_final(&d.th, thex);
		if (rc == 0 && strcmp(thex, target_id) != 0)
			rc = damaged(target_tar, target_id, thex, err, errlen);
		close(tfd);
		tfd = d.fd;	/* the delta is compressed from here */
		if (rc == -1)
			goto out;
		rc = -1;
		raw_size = up->delta_size = d.bytes;
		if (lseek(tfd, 0, SEEK_SET) == -1) {
			snprintf(err, errlen, "cannot read '%s': %s", raw,
			    strerror(errno));
			goto out;
		}
	} else {
		snprintf(kind, sizeof kind, "tar");
		fmtpath(raw, sizeof raw, "%s", target_tar);
		raw_size = up->image_size;
	}

	if (compress != WIRE_NONE) {
		struct sha256 th, *thp = NULL;

		pick_compression(compress, base_tar != NULL, raw_size, &co);
		fmtpath(cand, sizeof cand, "%s/.%s.%s%s.tmp", out_dir,
		    target_id, kind, comp_ext(co.c));
		if (base_tar == NULL) {
			/* the tarball is read once: compressed and checked */
			sha256_init(&th);
			thp = &th;
		}
		if (co.c == WIRE_ZSTD)
			rc = zstd_fd(tfd, raw, cand, &co, raw_size, thp,
			    cand_hex, &cand_size, err, errlen);
		else
			rc = compress_fd(tfd, raw, cand, &co, thp, cand_hex,
			    &cand_size, err, errlen);
		if (thp != NULL) {
			sha256_final(thp, raw_hex);
			if (rc == 0 && strcmp(raw_hex, target_id) != 0)
				rc = damaged(target_tar, target_id, raw_hex,
				    err, errlen);
		}
		if (rc == -1) {
			cand[0] = '\0';
			goto out;
		}
		rc = -1;
		/* an explicit choice is kept even when it does not help */
		if (compress != WIRE_AUTO ||
		    cand_size * AUTO_MIN_SAVING < raw_size *
		    (AUTO_MIN_SAVING - 1))
			used = co.c;
	} else if (base_tar == NULL) {
		if (sha256_file(target_tar, raw_hex, NULL, err, errlen) == -1)
			goto out;
		if (strcmp(raw_hex, target_id) != 0) {
			damaged(target_tar, target_id, raw_hex, err, errlen);
			goto out;
		}
	}

	fmtpath(up->file, sizeof up->file, "%s.%s%s", target_id, kind,
	    comp_ext(used));
	fmtpath(up->manifest_name, sizeof up->manifest_name, "%s.upload.json",
	    target_id);
	if (used != WIRE_NONE || raw_is_tmp) {
		fmtpath(up->path, sizeof up->path, "%s/%s", out_dir, up->file);
		if (rename(used != WIRE_NONE ? cand : raw, up->path) == -1) {
			snprintf(err, errlen, "cannot rename into '%s': %s",
			    up->path, strerror(errno));
			up->path[0] = '\0';
			goto out;
		}
		if (used != WIRE_NONE)
			cand[0] = '\0';
		else
			raw_is_tmp = 0;
	} else
		fmtpath(up->path, sizeof up->path, "%s", target_tar);
	fmtpath(up->encoding, sizeof up->encoding, "%s%s%s", kind,
	    used != WIRE_NONE ? "+" : "",
	    used != WIRE_NONE ? comp_suffix(used) : "");
	/* hashed as written: no second read of the payload */
	memcpy(up->sha256, used != WIRE_NONE ? cand_hex : raw_hex, 65);
	up->size = used != WIRE_NONE ? cand_size : raw_size;

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
	if (tfd != -1)
		close(tfd);
	if (cand[0] != '\0')
		unlink(cand);
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

/*
 * vzexec-image: the node's image verbs, a static binary that the musl
 * vzexec executes with the same argv (argv[1] = the verb), because it needs
 * libarchive and libcrypto, which are linked here statically with glibc.
 *
 *   vzexec-image image-import [--root DIR] [--trust-devices] [--gc] MANIFEST
 *   vzexec-image image-gc [--root DIR] [--keep N] [--dry-run]
 *   vzexec-image image-list [--root DIR]
 *   vzexec-image image-check [--root DIR]
 *   vzexec-image image-cat [--root DIR] ID
 *
 * image-import rebuilds an upload (see wire.h) found in ROOT/incoming/ or
 * on stdin, checks it, unpacks it safely into ROOT/incoming/<id>.tmp/rootfs
 * beside the map that keeps its tarball (tarmap.h), and only then renames
 * the folder to ROOT/images/<id>: a failure at any step (ENOSPC included)
 * removes what it wrote and leaves images/ as it was.  Output for the master is one
 * JSON object on stdout; messages go to stderr.
 *
 * Exit status: 0 done, 1 failed, 2 usage, 3 the delta did not rebuild the
 * image (or its base is missing): send the full tarball instead.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/xattr.h>

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
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "buf.h"
#include "imgutil.h"
#include "json.h"
#include "tarmap.h"
#include "vcdiff.h"
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
	    "usage: %s image-import [--root DIR] [--trust-devices] [--gc] MANIFEST\n"
	    "       %s image-import [--root DIR] [--trust-devices] [--gc] --stdin\n"
	    "       %s image-gc [--root DIR] [--keep N] [--dry-run]\n"
	    "       %s image-list [--root DIR]\n"
	    "       %s image-check [--root DIR]\n"
	    "       %s image-cat [--root DIR] ID\n", progname, progname,
	    progname, progname, progname, progname);
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

/* ---- the upload stream ---- */

#define CHUNK		(1u << 17)
/*
 * An image whose data may still be only in the page cache carries an empty
 * file images/<id>/.unsynced (".unsynced" holding "trust-devices" when it was
 * imported with --trust-devices).  See sweep_marks() and cmd_check().
 */
#define MARK		".unsynced"
#define SYNC_AGE	60
#define GC_KEEP		3	/* unused images kept per reference */

/*
 * The mark's text: the kernel's boot id (a mark of an earlier boot may
 * cover data lost in a crash: only image-check may clear it) and whether
 * the image was imported with --trust-devices (image-check unpacks it the
 * same way).
 */
static void
mark_text(int trust, char *out, size_t outlen)
{
	char id[64] = "";
	ssize_t n;
	int fd;

	if ((fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY |
	    O_CLOEXEC)) != -1) {
		n = read(fd, id, sizeof id - 1);
		id[n > 0 ? n : 0] = '\0';
		id[strcspn(id, "\n")] = '\0';
		close(fd);
	}
	fmtpath(out, outlen, "boot %s\n%s", id, trust ? "trust-devices\n" :
	    "");
}

/*
 * The payload: exactly want bytes from fd (stdin or the payload file),
 * hashed as they pass.  pre holds bytes read past the manifest's newline.
 */
struct payload {
	int		 fd;
	uint64_t	 want, got;
	struct sha256	 h;
	const char	*pre;
	size_t		 prelen;
	int		 short_read;	/* the stream ended early */
	int		 rerrno;	/* a read error */
	char		*buf;		/* CHUNK bytes for the decompressor */
	char		 hex[SHA256_HEX_LEN + 1];
};

static ssize_t
payload_read(struct payload *p, void *dst, size_t cap)
{
	uint64_t left = p->want - p->got;
	ssize_t n;

	if (left == 0)
		return 0;
	if (p->short_read || p->rerrno)
		return -1;
	if (cap > left)
		cap = (size_t)left;
	if (p->prelen > 0) {
		n = (ssize_t)(cap < p->prelen ? cap : p->prelen);
		memcpy(dst, p->pre, (size_t)n);
		p->pre += n;
		p->prelen -= (size_t)n;
	} else {
		do
			n = read(p->fd, dst, cap);
		while (n == -1 && errno == EINTR);
		if (n == 0) {
			p->short_read = 1;
			return -1;
		}
		if (n < 0) {
			p->rerrno = errno;
			return -1;
		}
	}
	sha256_update(&p->h, dst, (size_t)n);
	p->got += (uint64_t)n;
	return n;
}

/*
 * Read the rest of the payload: its sha256 then tells a corrupt upload from
 * any other failure, and a sender streaming it finishes its write.
 */
static void
payload_drain(struct payload *p)
{
	while (payload_read(p, p->buf, CHUNK) > 0)
		;
}

/* 1 when the whole payload came and is the one announced, else 0 + err. */
static int
payload_check(struct payload *p, const struct wire_manifest *m,
    const char *name, char *err, size_t errlen)
{
	if (p->h.md != NULL)
		sha256_final(&p->h, p->hex);
	if (p->rerrno) {
		fmtpath(err, errlen, "cannot read upload '%s': %s", name,
		    strerror(p->rerrno));
		return 0;
	}
	if (p->short_read) {
		fmtpath(err, errlen, "upload '%s' is corrupt: the stream ended "
		    "after %llu of %llu bytes", name,
		    (unsigned long long)p->got, (unsigned long long)m->size);
		return 0;
	}
	if (p->got == m->size && strcmp(p->hex, m->sha256) == 0)
		return 1;
	fmtpath(err, errlen, "upload '%s' is corrupt: %llu bytes with sha256 "
	    "%s, expected %llu bytes with sha256 %s", name,
	    (unsigned long long)p->got, p->hex, (unsigned long long)m->size,
	    m->sha256);
	return 0;
}

/* libarchive read callback of the decompressor. */
static la_ssize_t
payload_cb(struct archive *a, void *arg, const void **out)
{
	struct payload *p = arg;
	ssize_t n;

	if ((n = payload_read(p, p->buf, CHUNK)) < 0) {
		archive_set_error(a, EIO, "the upload ended early");
		return -1;
	}
	*out = p->buf;
	return n;
}

/* ---- an image's tarball, for reading ---- */

/*
 * Images imported by vzexec 0.4 and later keep their tarball as a map over
 * the rootfs (tarmap.h); older ones have the file images/<id>.tar, which is
 * still read (a delta's base, image-check, image-cat) until gc removes it.
 */
struct imgtar {
	int		 fd;		/* images/<id>.tar, or -1 */
	int		 mapfd, rootfd;
	struct tarmap	*map;
	uint64_t	 size;
};

/* 0; -1 with err set (errno ENOENT: the image has no tarball at all). */
static int
imgtar_open(const char *id, struct imgtar *it, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat sb;
	int e;

	memset(it, 0, sizeof *it);
	it->fd = it->mapfd = it->rootfd = -1;
	fmtpath(path, sizeof path, "%s/images/%s.tar", root, id);
	if ((it->fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		if (fstat(it->fd, &sb) == -1) {
			fmtpath(err, errlen, "cannot stat '%s': %s", path,
			    strerror(errno));
			close(it->fd);
			it->fd = -1;
			return -1;
		}
		it->size = (uint64_t)sb.st_size;
		return 0;
	}
	fmtpath(path, sizeof path, "%s/images/%s/" TARMAP_NAME, root, id);
	if ((it->mapfd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		e = errno;
		fmtpath(err, errlen, "image %s has no tarball: '%s': %s", id,
		    path, strerror(e));
		errno = e;
		return -1;
	}
	fmtpath(path, sizeof path, "%s/images/%s/rootfs", root, id);
	if ((it->rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		e = errno;
		fmtpath(err, errlen, "cannot open '%s': %s", path,
		    strerror(e));
		close(it->mapfd);
		it->mapfd = -1;
		errno = e;
		return -1;
	}
	if ((it->map = tarmap_open(it->mapfd, it->rootfd, err, errlen)) ==
	    NULL) {
		close(it->mapfd);
		close(it->rootfd);
		it->mapfd = it->rootfd = -1;
		errno = EINVAL;
		return -1;
	}
	it->size = tarmap_size(it->map);
	return 0;
}

static int
imgtar_read(struct imgtar *it, uint64_t off, void *dst, size_t n, char *err,
    size_t errlen)
{
	int r;

	if (it->map != NULL)
		return tarmap_read(it->map, off, dst, n, err, errlen);
	if ((r = pread_full(it->fd, dst, n, off)) != 1) {
		fmtpath(err, errlen, "cannot read the tarball: %s",
		    r < 0 ? strerror(errno) : "short file");
		return -1;
	}
	return 0;
}

static void
imgtar_close(struct imgtar *it)
{
	tarmap_close(it->map);
	if (it->fd != -1)
		close(it->fd);
	if (it->mapfd != -1)
		close(it->mapfd);
	if (it->rootfd != -1)
		close(it->rootfd);
	memset(it, 0, sizeof *it);
	it->fd = it->mapfd = it->rootfd = -1;
}

/* The whole tarball, hashed (and written to out when not -1). */
static int
imgtar_hash(struct imgtar *it, int out, char hex[SHA256_HEX_LEN + 1],
    char *err, size_t errlen)
{
	struct sha256 h;
	char *b = xmalloc(CHUNK * 8);
	uint64_t off = 0;
	size_t n;
	int rc = -1;

	sha256_init(&h);
	while (off < it->size) {
		n = it->size - off < CHUNK * 8 ? (size_t)(it->size - off) :
		    CHUNK * 8;
		if (imgtar_read(it, off, b, n, err, errlen) == -1)
			goto out;
		sha256_update(&h, b, n);
		if (out != -1 && write_full(out, b, n) == -1) {
			fmtpath(err, errlen, "cannot write the tarball: %s",
			    strerror(errno));
			goto out;
		}
		off += n;
	}
	rc = 0;
out:
	sha256_final(&h, hex);
	free(b);
	return rc;
}

/* The decoder's view of a mapped base. */
static int
imgtar_src_read(void *arg, uint64_t off, uint8_t *dst, size_t n, char *err,
    size_t errlen)
{
	return imgtar_read(arg, off, dst, n, err, errlen);
}

/*
 * The tarball as a stream of chunks: decompressed from the payload, or the
 * windows of a delta as the decoder makes them, or read from a file.
 * Hashed either way (its sha256 is the image id), and fed to the map that
 * keeps the tarball (tarmap.h) when one is being written.
 */
struct tarsrc {
	struct payload	*p;	/* NULL: rd, or read fd */
	struct archive	*za;	/* decompressor; NULL for a raw payload */
	struct vcdiff_reader *rd; /* a delta being decoded, or NULL */
	const uint8_t	*wp;	/* its current window */
	size_t		 wlen, wpos;
	int		 undecodable; /* rd failed (not a full disk) */
	char		 derr[400];
	int		 fd;	/* the file read when p and rd are NULL */
	struct imgtar	*it;	/* or this image's tarball */
	int		 tee;	/* the file written, or -1 */
	struct tarmap_writer *map; /* or NULL */
	struct tarmap	*bmap;	/* rd's base, read through its map, or NULL */
	const char	*name;	/* of fd or tee, for messages */
	uint64_t	 total, max;
	struct sha256	 h;
	int		 broken;
	int		 wrerr;	/* errno of a failed write (ENOSPC) */
	char		 chunk[CHUNK];
	char		 msg[600];
};

static ssize_t
tarsrc_read(struct tarsrc *s, const void **out)
{
	const void *b = s->chunk;
	ssize_t n;
	int r;

	if (s->broken)
		return -1;
	if (s->rd != NULL) {
		n = 0;
		if (s->wpos == s->wlen) {
			errno = 0;
			r = vcdiff_reader_next(s->rd, &s->wp, &s->wlen);
			s->wpos = 0;
			if (r == -1) {
				if (errno == ENOSPC)
					s->wrerr = ENOSPC;
				else
					s->undecodable = 1;
				fmtpath(s->msg, sizeof s->msg, "the delta does "
				    "not apply: %s", s->derr);
			}
			n = r;
		}
		if (n >= 0 && s->wpos < s->wlen) {
			b = s->wp + s->wpos;
			n = (ssize_t)(s->wlen - s->wpos);
			s->wpos = s->wlen;
		}
	} else if (s->it != NULL) {
		n = s->it->size - s->total < CHUNK ?
		    (ssize_t)(s->it->size - s->total) : (ssize_t)CHUNK;
		if (n > 0 && imgtar_read(s->it, s->total, s->chunk, (size_t)n,
		    s->msg, sizeof s->msg) == -1)
			n = -1;
	} else if (s->p == NULL) {
		do
			n = read(s->fd, s->chunk, CHUNK);
		while (n == -1 && errno == EINTR);
		if (n < 0)
			fmtpath(s->msg, sizeof s->msg, "cannot read '%s': %s",
			    s->name, strerror(errno));
	} else if (s->za != NULL) {
		n = archive_read_data(s->za, s->chunk, CHUNK);
		if (n < 0)
			fmtpath(s->msg, sizeof s->msg, "cannot decompress the "
			    "upload: %s", archive_error_string(s->za) ?
			    archive_error_string(s->za) : "bad data");
	} else if ((n = payload_read(s->p, s->chunk, CHUNK)) < 0)
		fmtpath(s->msg, sizeof s->msg, "the upload ended early");
	if (n < 0) {
		s->broken = 1;
		return -1;
	}
	if (n == 0)
		return 0;
	s->total += (uint64_t)n;
	if (s->total > s->max) {
		fmtpath(s->msg, sizeof s->msg, "the upload decompresses to "
		    "more than the %llu bytes announced",
		    (unsigned long long)s->max);
		s->undecodable = s->rd != NULL;
		s->broken = 1;
		return -1;
	}
	sha256_update(&s->h, b, (size_t)n);
	if (s->tee != -1 && write_full(s->tee, b, (size_t)n) == -1) {
		s->wrerr = errno;
		fmtpath(s->msg, sizeof s->msg, "cannot write '%s': %s",
		    s->name, strerror(errno));
		s->broken = 1;
		return -1;
	}
	errno = 0;
	if (s->map != NULL && tarmap_writer_feed(s->map, b, (size_t)n, s->msg,
	    sizeof s->msg) == -1) {
		s->wrerr = errno != 0 ? errno : EIO;
		s->broken = 1;
		return -1;
	}
	*out = b;
	return n;
}

static la_ssize_t
tarsrc_cb(struct archive *a, void *arg, const void **out)
{
	struct tarsrc *s = arg;
	ssize_t n;

	if ((n = tarsrc_read(s, out)) < 0) {
		archive_set_error(a, s->wrerr ? s->wrerr : EIO, "%s", s->msg);
		return -1;
	}
	return n;
}

/* Hash (and tee) what is left; 0, or -1 when the source broke. */
static int
tarsrc_drain(struct tarsrc *s)
{
	const void *b;
	ssize_t n;

	while ((n = tarsrc_read(s, &b)) > 0)
		;
	return n == 0 ? 0 : -1;
}

/* Set up the decompressor of a payload; 0, or -1 with err set. */
static int
open_decompressor(struct payload *p, enum wire_compress c,
    struct archive **zap, char *err, size_t errlen)
{
	struct archive *za;
	struct archive_entry *e;

	*zap = NULL;
	if (c == WIRE_NONE)
		return 0;
	za = archive_read_new();
	if (c == WIRE_ZSTD)
		archive_read_support_filter_zstd(za);
	else
		archive_read_support_filter_xz(za);
	archive_read_support_format_raw(za);
	if (archive_read_open(za, p, NULL, payload_cb, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(za, &e) != ARCHIVE_OK) {
		fmtpath(err, errlen, "cannot decompress the upload: %s",
		    archive_error_string(za) ? archive_error_string(za) :
		    "bad data");
		archive_read_free(za);
		return -1;
	}
	*zap = za;
	return 0;
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
	uint64_t	entries, skipped_devices, linked;
	uint64_t	compared;	/* bytes read back from the base */
};

/*
 * The base image's file at path when its metadata equals the tar entry's
 * (type, size, permissions, owner, mtime, no xattrs on either side), else -1.
 */
static int
base_candidate(int bfd, struct archive_entry *e, const char *path)
{
	struct stat sb;
	int fd;

	if (archive_entry_xattr_count(e) > 0 || !archive_entry_size_is_set(e) ||
	    !archive_entry_mtime_is_set(e))
		return -1;
	if ((fd = open_beneath(bfd, path, O_RDONLY)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size != archive_entry_size(e) ||
	    (sb.st_mode & 07777) != (archive_entry_perm(e) & 07777) ||
	    (la_int64_t)sb.st_uid != archive_entry_uid(e) ||
	    (la_int64_t)sb.st_gid != archive_entry_gid(e) ||
	    sb.st_mtim.tv_sec != archive_entry_mtime(e) ||
	    sb.st_mtim.tv_nsec != archive_entry_mtime_nsec(e) ||
	    flistxattr(fd, NULL, 0) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * 1 when the decoder made the tarball bytes at tpos (a file's bytes at
 * fpos) by copying them from the base at the same offsets, which the base's
 * map says are the same bytes of the base's file at path: then they are
 * equal to that file's without reading it again (the rebuilt tarball's
 * sha256 still covers them).
 */
static int
copied_unchanged(const struct tarsrc *s, uint64_t tpos, uint64_t fpos,
    size_t len, const char *path)
{
	const char *bpath;
	uint64_t foff;

	if (s == NULL || s->rd == NULL || s->bmap == NULL ||
	    !vcdiff_reader_same(s->rd, tpos, len))
		return 0;
	bpath = tarmap_file_at(s->bmap, tpos, len, &foff);
	return bpath != NULL && foff == fpos && strcmp(bpath, path) == 0;
}

/* 1 when len bytes at off of fd equal p. */
static int
same_bytes(int fd, uint64_t off, const void *p, size_t len, char *cmp)
{
	const char *q = p;
	size_t n;
	ssize_t r;

	while (len > 0) {
		n = len < CHUNK ? len : CHUNK;
		r = pread(fd, cmp, n, (off_t)off);
		if (r != (ssize_t)n || memcmp(cmp, q, n) != 0)
			return 0;
		q += n;
		off += n;
		len -= n;
	}
	return 1;
}

/* Hardlink the open base file sfd at path of the new rootfs dfd. */
static int
link_base(int dfd, int sfd, const char *path)
{
	char dir[PATH_MAX];
	const char *name = strrchr(path, '/');
	int pfd = dfd, rc;

	if (name != NULL) {
		if ((size_t)(name - path) >= sizeof dir || name[1] == '\0')
			return -1;
		memcpy(dir, path, (size_t)(name - path));
		dir[name - path] = '\0';
		name++;
		if ((pfd = open_beneath(dfd, dir, O_PATH | O_DIRECTORY)) == -1)
			return -1;
	} else
		name = path;
	rc = linkat(sfd, "", pfd, name, AT_EMPTY_PATH);
	if (pfd != dfd)
		close(pfd);
	return rc;
}

/* Create the entry on disk and write the first upto bytes of sfd into it. */
static int
begin_write(struct archive *d, struct archive_entry *e, const char *path,
    int sfd, uint64_t upto, char *cmp, char *err, size_t errlen)
{
	uint64_t off = 0;
	ssize_t n;

	if (archive_write_header(d, e) < ARCHIVE_WARN) {
		fmtpath(err, errlen, "cannot unpack '%s': %s", path,
		    archive_error_string(d));
		return -1;
	}
	while (off < upto) {
		n = pread(sfd, cmp, upto - off < CHUNK ? upto - off : CHUNK,
		    (off_t)off);
		if (n <= 0) {
			fmtpath(err, errlen, "cannot read the base of '%s': %s",
			    path, n < 0 ? strerror(errno) : "short file");
			return -1;
		}
		if (archive_write_data_block(d, cmp, (size_t)n, (la_int64_t)off) <
		    ARCHIVE_WARN) {
			fmtpath(err, errlen, "cannot unpack '%s': %s", path,
			    archive_error_string(d));
			return -1;
		}
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * A regular file of a delta whose entry and bytes equal the base image's
 * file at the same path is hardlinked to it instead of written, so a
 * one-file update writes about one file (plus the tarball).  Sharing inodes
 * between images is safe because an image rootfs is never written to:
 * container.c mounts it as a read-only overlay lower layer (writes go to the
 * container's upper layer under ROOT/run) or binds it read-only when overlay
 * is refused, and image-gc removes an image by unlinking, which leaves the
 * other image's links intact.  The bytes are compared as they stream; at the
 * first difference the file is written, starting with the equal prefix read
 * back from the base.  Returns 1 linked, 0 written (finish the entry), -1.
 */
static int
link_or_write(struct tarsrc *s, uint64_t dpos, struct archive *a,
    struct archive *d, struct archive_entry *e, const char *path, int sfd,
    int dfd, char *cmp, uint64_t *compared, const char *label, char *err,
    size_t errlen)
{
	const void *blk;
	size_t len;
	la_int64_t off;
	uint64_t pos = 0;
	int ar, same = 1;

	while ((ar = archive_read_data_block(a, &blk, &len, &off)) ==
	    ARCHIVE_OK) {
		if (same && (uint64_t)off == pos &&
		    copied_unchanged(s, dpos + pos, pos, len, path)) {
			pos += len;
			continue;
		}
		if (same && (uint64_t)off == pos) {
			*compared += len;
			if (same_bytes(sfd, pos, blk, len, cmp)) {
				pos += len;
				continue;
			}
		}
		if (same) {
			same = 0;
			if (begin_write(d, e, path, sfd, pos, cmp, err,
			    errlen) == -1)
				return -1;
		}
		if (archive_write_data_block(d, blk, len, off) < ARCHIVE_WARN) {
			fmtpath(err, errlen, "cannot unpack '%s': %s%s%s", path,
			    archive_error_string(d), archive_errno(d) > 0 ?
			    ": " : "", archive_errno(d) > 0 ?
			    strerror(archive_errno(d)) : "");
			return -1;
		}
	}
	if (ar != ARCHIVE_EOF) {
		fmtpath(err, errlen, "'%s': '%s': %s", label, path,
		    archive_error_string(a));
		return -1;
	}
	if (!same)
		return 0;
	if ((la_int64_t)pos == archive_entry_size(e) &&
	    link_base(dfd, sfd, path) == 0)
		return 1;
	/* equal but not linkable (no parent folder entry, EXDEV...) */
	return begin_write(d, e, path, sfd, pos, cmp, err, errlen) == -1 ?
	    -1 : 0;
}

/*
 * Unpack the tarball streamed by s into dir (which exists and is empty),
 * reading s to its end.  libarchive's secure flags refuse "..", absolute
 * paths and writes through symlinks; NO_OVERWRITE refuses a second entry
 * for a path (our tarballs never have one, so it can only be an attempt to
 * replace a checked entry); hardlinks must name a regular file already
 * unpacked and carry no data.  bfd, when not -1, is the rootfs of the delta
 * base: unchanged files are linked to it (link_or_write).  Nothing is
 * synced here: see sweep_marks().
 */
static int
unpack(struct tarsrc *s, const char *label, const char *dir, int bfd,
    int trust_devices, struct unpack_stats *st, char *err, size_t errlen)
{
	struct archive *a, *d;
	struct archive_entry *e;
	char cwd[PATH_MAX], *cmp = NULL;
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
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fchdir(dfd) == -1) {
		fmtpath(err, errlen, "cannot enter '%s': %s", dir,
		    strerror(errno));
		goto out;
	}
	if (archive_read_open(a, s, NULL, tarsrc_cb, NULL) != ARCHIVE_OK) {
		fmtpath(err, errlen, "cannot read '%s': %s", label,
		    archive_error_string(a));
		goto out;
	}
	if (bfd != -1)
		cmp = xmalloc(CHUNK);
	for (;;) {
		const char *path, *hl;
		mode_t type;
		int sfd = -1, r;

		ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			fmtpath(err, errlen, "'%s': %s", label,
			    archive_error_string(a));
			goto out;
		}
		path = archive_entry_pathname(e);
		hl = archive_entry_hardlink(e);
		type = archive_entry_filetype(e);
		if (!inside(path)) {
			fmtpath(err, errlen, "'%s': refusing entry '%s': "
			    "outside the image root", label, path ? path : "");
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
				    "'%s': the path exists already", label,
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
				    "image", label, path, hl);
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
			    "unknown type", label, path);
			goto out;
		}
		/* the map withholds a regular file's data: name its file */
		if (s->map != NULL && hl == NULL && type == AE_IFREG &&
		    archive_entry_size(e) > 0 &&
		    archive_entry_sparse_count(e) == 0 &&
		    tarmap_writer_file(s->map, (uint64_t)
		    archive_read_header_position(a), (uint64_t)
		    archive_filter_bytes(a, 0), (uint64_t)archive_entry_size(e),
		    path, err, errlen) == -1)
			goto out;
		if (hl == NULL && type == AE_IFREG && bfd != -1 &&
		    (sfd = base_candidate(bfd, e, path)) != -1) {
			/* the data's place in the tarball, for
			   copied_unchanged (not for a sparse file) */
			uint64_t dpos = archive_entry_sparse_count(e) == 0 ?
			    (uint64_t)archive_filter_bytes(a, 0) : UINT64_MAX;

			r = link_or_write(dpos != UINT64_MAX ? s : NULL, dpos,
			    a, d, e, path, sfd, dfd, cmp, &st->compared,
			    label, err, errlen);
			close(sfd);
			if (r == -1)
				goto out;
			if (r == 1) {
				st->entries++;
				st->linked++;
				continue;
			}
		} else {
			if (archive_write_header(d, e) < ARCHIVE_WARN) {
				fmtpath(err, errlen, "'%s': cannot unpack "
				    "'%s': %s", label, path,
				    archive_error_string(d));
				goto out;
			}
			if (archive_entry_size(e) > 0 && hl == NULL) {
				const void *blk;
				size_t len;
				la_int64_t off;

				while ((ar = archive_read_data_block(a, &blk,
				    &len, &off)) == ARCHIVE_OK)
					if (archive_write_data_block(d, blk,
					    len, off) < ARCHIVE_WARN) {
						fmtpath(err, errlen, "cannot "
						    "unpack '%s': %s%s%s", path,
						    archive_error_string(d),
						    archive_errno(d) > 0 ?
						    ": " : "",
						    archive_errno(d) > 0 ?
						    strerror(archive_errno(d)) :
						    "");
						goto out;
					}
				if (ar != ARCHIVE_EOF) {
					fmtpath(err, errlen, "'%s': '%s': %s",
					    label, path,
					    archive_error_string(a));
					goto out;
				}
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
	/* the padding after the end of the archive is part of the tarball */
	if (tarsrc_drain(s) == -1) {
		fmtpath(err, errlen, "%s", s->msg);
		goto out;
	}
	rc = 0;
out:
	/* libarchive may have replaced the reason with "truncated archive" */
	if (rc == -1 && s->broken)
		fmtpath(err, errlen, "%s", s->msg);
	if (chdir(cwd) == -1 && rc == 0) {
		fmtpath(err, errlen, "cannot return to '%s'", cwd);
		rc = -1;
	}
	if (dfd != -1)
		close(dfd);
	free(cmp);
	archive_write_free(d);
	archive_read_free(a);
	return rc;
}

/*
 * Give the stdin pipe 1 MiB.  sshd (OpenSSH 9.2) keeps what the pipe cannot
 * take yet in a buffer that it compacts with memmove whenever a packet does
 * not fit at its end; with the 64 KiB default pipe that buffer stays full,
 * and receiving a 42 MB image cost the node's sshd about 1 s of CPU.  With
 * 1 MiB it drains at each write and sshd spends about 0.15 s.  Best effort:
 * stdin may be a file or a socket, or the size above pipe-max-size.
 */
static void
widen_stdin_pipe(void)
{
	struct stat sb;

	if (fstat(0, &sb) == 0 && S_ISFIFO(sb.st_mode))
		(void)fcntl(0, F_SETPIPE_SZ, 1 << 20);
}

/* ---- durability marks ---- */

/*
 * Why no fsync or syncfs in an import: syncfs of the whole filesystem was
 * the largest cost of an import (0.28 s of 0.6-0.8), and with several nodes
 * (or containers) on one disk it serialises them all.  An image is content
 * addressed and the master keeps it, so losing a fresh one in a crash only
 * costs a new push, provided the node never uses or reports a damaged one.
 * So an import writes images/<id>/.unsynced inside the folder before the
 * rename that publishes it (a journaling filesystem commits the creation
 * no later than the rename), keeps the tarball whose sha256 is the id, and:
 *  - the next import, image-gc or image-list that finds marks older than
 *    SYNC_AGE seconds calls syncfs once and removes them: by then the
 *    kernel's writeback (30 s by default) has written the data, so the
 *    sync is cheap, and after it returns the marked images are durable.
 *    Only marks of the current boot: data of an earlier one was either
 *    written or lost in a crash, and only image-check can tell;
 *  - image-check, run at node boot before any container starts, checks
 *    every image still marked after a crash: tarball sha256 good, the rootfs
 *    is extracted again and the mark removed; bad, the image is removed, so
 *    `vzexec status` stops listing it and the master pushes it again.
 */
static void
sweep_marks(void)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	char (*old)[65] = NULL, boot[128];
	size_t n = 0, i;
	time_t now = time(NULL);
	DIR *d;
	int fd;

	fmtpath(dir, sizeof dir, "%s/images", root);
	if ((d = opendir(dir)) == NULL)
		return;
	mark_text(0, boot, sizeof boot);
	boot[strcspn(boot, "\n")] = '\0';
	while ((de = readdir(d)) != NULL) {
		struct buf b = BUF_INIT;
		int ours;

		if (!is_sha256_hex(de->d_name))
			continue;
		fmtpath(path, sizeof path, "%s/%s/" MARK, dir, de->d_name);
		if (lstat(path, &sb) == -1 || sb.st_mtime > now - SYNC_AGE)
			continue;
		/* written before a reboot: perhaps lost, for image-check */
		ours = buf_read_file(&b, path, 4096) == 0 && b.len > strlen(boot) &&
		    memcmp(b.data, boot, strlen(boot)) == 0 &&
		    b.data[strlen(boot)] == '\n';
		buf_release(&b);
		if (!ours)
			continue;
		old = xreallocarray(old, n + 1, sizeof *old);
		memcpy(old[n++], de->d_name, 65);
	}
	closedir(d);
	if (n > 0 && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1) {
		if (syncfs(fd) == 0)
			for (i = 0; i < n; i++) {
				fmtpath(path, sizeof path, "%s/%s/" MARK, dir,
				    old[i]);
				unlink(path);
			}
		close(fd);
	}
	free(old);
}

/* A small file, not synced (the image's mark covers it). */
static int
write_plain(const char *path, const void *p, size_t len, char *err,
    size_t errlen)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1 || write_full(fd, p, len) == -1) {
		fmtpath(err, errlen, "cannot write '%s': %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (close(fd) == -1) {
		fmtpath(err, errlen, "cannot write '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Move images/<id> out of images/ first, then remove it and its tarball. */
static void
remove_image(const char *id)
{
	char path[PATH_MAX], tmp[PATH_MAX];

	fmtpath(path, sizeof path, "%s/images/%s", root, id);
	fmtpath(tmp, sizeof tmp, "%s/incoming/%s.gc", root, id);
	remove_tree(tmp);
	if (rename(path, tmp) == 0)
		remove_tree(tmp);
	else
		remove_tree(path);
	fmtpath(path, sizeof path, "%s/images/%s.tar", root, id);
	unlink(path);
}

/* ---- image-import ---- */

/*
 * Read the manifest line of a streamed upload from fd into text; the bytes
 * read past its newline (the start of the payload) go to *rest.
 */
static int
read_manifest(int fd, struct buf *text, size_t *mlen, char *err,
    size_t errlen)
{
	char chunk[1 << 16], *nl;
	ssize_t n;

	for (;;) {
		do
			n = read(fd, chunk, sizeof chunk);
		while (n == -1 && errno == EINTR);
		if (n <= 0) {
			fmtpath(err, errlen, "cannot read the upload manifest "
			    "from stdin: %s", n == 0 ? "end of input before "
			    "its newline" : strerror(errno));
			return -1;
		}
		buf_add(text, chunk, (size_t)n);
		if ((nl = memchr(text->data, '\n', text->len)) != NULL) {
			*mlen = (size_t)(nl - text->data);
			if (*mlen <= WIRE_MAX_MANIFEST)
				return 0;
			break;
		}
		if (text->len > WIRE_MAX_MANIFEST)
			break;
	}
	fmtpath(err, errlen, "the upload manifest is longer than %u bytes",
	    WIRE_MAX_MANIFEST);
	return -1;
}

/* A temporary file for a decompressed delta: unnamed when possible. */
static int
tmp_file(const char *dir, const char *id)
{
	char path[PATH_MAX];
	int fd;

	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) != -1)
		return fd;
	fmtpath(path, sizeof path, "%s/.%s.vcdiff.tmp", dir, id);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) != -1)
		unlink(path);
	return fd;
}

struct import {
	const struct wire_manifest *m;
	struct payload	*p;
	const char	*pname;		/* the payload, for messages */
	const char	*mappath;	/* incoming/<id>.tmp/tarmap */
	const char	*rootfs;	/* incoming/<id>.tmp/rootfs */
	int		 trust;
	struct unpack_stats st;
	uint64_t	 verbatim;	/* bytes of the tarball in its map */
};

/*
 * Rebuild the tarball, unpack it into rootfs and write its map in one pass
 * over the stream: the tarball itself is never written.  Returns WIRE_OK,
 * WIRE_FAIL or WIRE_MISMATCH (a delta that did not give the image, or
 * whose base is missing: send the full image) with err set.  The caller
 * removes what was written on failure.
 */
static int
import_stream(struct import *im, char *err, size_t errlen)
{
	const struct wire_manifest *m = im->m;
	struct tarsrc *s = xcalloc(1, sizeof *s), *t = NULL;
	struct archive *za = NULL;
	struct imgtar base;
	struct vcdiff_source vsrc;
	char hex[SHA256_HEX_LEN + 1], path[PATH_MAX];
	int mapfd = -1, deltafd = -1, bfd = -1;
	int rc = WIRE_FAIL, bad = m->vcdiff ? WIRE_MISMATCH : WIRE_FAIL;

	memset(&base, 0, sizeof base);
	base.fd = base.mapfd = base.rootfd = -1;
	s->tee = -1;
	if (m->vcdiff && imgtar_open(m->base, &base, err, errlen) == -1) {
		payload_drain(im->p);
		rc = WIRE_MISMATCH;
		goto out;
	}
	mapfd = open(im->mappath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (mapfd == -1) {
		fmtpath(err, errlen, "cannot create '%s': %s", im->mappath,
		    strerror(errno));
		goto fail;
	}
	if (open_decompressor(im->p, m->compress, &za, err, errlen) == -1) {
		rc = bad;
		goto fail;
	}
	s->p = im->p;
	s->za = za;
	sha256_init(&s->h);
	if (!m->vcdiff) {
		/* payload -> decompress -> sha256 + map + unpack */
		s->map = tarmap_writer_new(mapfd);
		s->name = "the upload";
		s->max = m->image_size;
		t = s;
	} else {
		/* the delta is small: decompress it to a file, then decode */
		fmtpath(path, sizeof path, "%s/incoming", root);
		if ((deltafd = tmp_file(path, m->image)) == -1) {
			fmtpath(err, errlen, "cannot create a file in '%s': %s",
			    path, strerror(errno));
			goto fail;
		}
		s->tee = deltafd;
		s->name = "the decompressed delta";
		s->max = m->image_size + m->image_size / 4 + (1u << 20);
		if (tarsrc_drain(s) == -1) {
			fmtpath(err, errlen, "%s", s->msg);
			rc = s->wrerr == ENOSPC ? WIRE_FAIL : bad;
			goto fail;
		}
		payload_drain(im->p);
		if (!payload_check(im->p, m, im->pname, err, errlen)) {
			rc = bad;
			goto out;
		}
		/*
		 * Decode as the unpacker reads: the rebuilt tarball is never
		 * written.  No adler32 per window: the sha256 of the whole
		 * result, checked below, is the stronger check.
		 */
		t = xcalloc(1, sizeof *t);
		t->fd = -1;
		t->tee = -1;
		t->map = tarmap_writer_new(mapfd);
		t->bmap = base.map;
		t->name = "the delta's result";
		t->max = m->image_size;
		vsrc.len = base.size;
		vsrc.read = imgtar_src_read;
		vsrc.arg = &base;
		if (lseek(deltafd, 0, SEEK_SET) == -1 ||
		    (t->rd = base.fd != -1 ? vcdiff_reader_open(base.fd,
		    deltafd, -1, VCDIFF_NO_ADLER32, t->derr, sizeof t->derr) :
		    vcdiff_reader_open_src(&vsrc, deltafd, -1,
		    VCDIFF_NO_ADLER32, t->derr, sizeof t->derr)) == NULL) {
			fmtpath(err, errlen, "cannot decode the delta: %s",
			    t->rd == NULL && t->derr[0] != '\0' ? t->derr :
			    strerror(errno));
			goto out;
		}
		sha256_init(&t->h);
		fmtpath(path, sizeof path, "%s/images/%s/rootfs", root,
		    m->base);
		bfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (unpack(t, t->name, im->rootfs, bfd, im->trust, &im->st, err,
	    errlen) == -1) {
		rc = WIRE_FAIL;
		goto fail;
	}
	payload_drain(im->p);
	if (!m->vcdiff && !payload_check(im->p, m, im->pname, err, errlen)) {
		rc = bad;
		goto out;
	}
	sha256_final(&t->h, hex);
	if (strcmp(hex, m->image) != 0) {
		fmtpath(err, errlen, "%s result does not match: sha256 %s, "
		    "expected image %s", m->vcdiff ? "delta" : "upload", hex,
		    m->image);
		rc = bad;
		goto out;
	}
	if (tarmap_writer_finish(t->map, err, errlen) == -1)
		goto out;
	im->verbatim = tarmap_writer_verbatim(t->map);
	if (close(mapfd) == -1) {
		mapfd = -1;
		fmtpath(err, errlen, "cannot write '%s': %s", im->mappath,
		    strerror(errno));
		goto out;
	}
	mapfd = -1;
	rc = WIRE_OK;
	goto out;
fail:
	/*
	 * Say "corrupt" when the upload is: read the rest, and the rebuilt
	 * tarball's rest, to tell a damaged or mismatching payload (resend)
	 * from a refused tarball or a full disk.
	 */
	if (s->wrerr == ENOSPC || (t != NULL && t->wrerr == ENOSPC))
		goto out;
	if (t != NULL && t->undecodable) {
		rc = WIRE_MISMATCH;	/* not this base: send the image */
		goto out;
	}
	payload_drain(im->p);
	if (!m->vcdiff || im->p->h.md != NULL) {
		char perr[600];

		if (!payload_check(im->p, m, im->pname, perr, sizeof perr)) {
			fmtpath(err, errlen, "%s", perr);
			rc = bad;
			goto out;
		}
	}
	if (t != NULL && t->h.md != NULL) {
		t->tee = -1;
		tarmap_writer_free(t->map);
		t->map = NULL;
		if (tarsrc_drain(t) == 0) {
			sha256_final(&t->h, hex);
			if (strcmp(hex, m->image) != 0) {
				fmtpath(err, errlen, "%s result does not "
				    "match: sha256 %s, expected image %s",
				    m->vcdiff ? "delta" : "upload", hex,
				    m->image);
				rc = bad;
			}
		}
	}
out:
	if (s->h.md != NULL)
		sha256_final(&s->h, hex);
	if (t != NULL && t != s && t->h.md != NULL)
		sha256_final(&t->h, hex);
	if (t != NULL && t->rd != NULL)
		vcdiff_reader_close(t->rd, NULL);
	if (t != NULL && t != s)
		tarmap_writer_free(t->map);
	if (t != s)
		free(t);
	tarmap_writer_free(s->map);
	free(s);
	if (za != NULL)
		archive_read_free(za);
	if (mapfd != -1)
		close(mapfd);
	if (deltafd != -1)
		close(deltafd);
	imgtar_close(&base);
	if (bfd != -1)
		close(bfd);
	return rc;
}

static int	gc_images(long, int, struct json_writer *, char *, size_t);

/* images/<id>.tar, the tarball of an image imported before tarmaps. */
static int
has_legacy_tar(const char *id)
{
	char path[PATH_MAX];
	struct stat sb;

	fmtpath(path, sizeof path, "%s/images/%s.tar", root, id);
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int
cmd_import(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "trust-devices", no_argument, NULL, 'T' },
		{ "stdin", no_argument, NULL, 's' },
		{ "gc", no_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct wire_manifest m;
	struct payload p;
	struct import im;
	struct buf text = BUF_INIT, out = BUF_INIT;
	struct json_writer w;
	char err[1024], mpath[PATH_MAX], payload[PATH_MAX];
	char tmpdir[PATH_MAX], rootfs[PATH_MAX], mappath[PATH_MAX];
	char final[PATH_MAX], finaltar[PATH_MAX], cfgpath[PATH_MAX];
	char mark[128];
	struct stat sb;
	size_t mlen = 0;
	int c, trust = 0, use_stdin = 0, lock = -1, rc = 1, r;
	int gc = 0;

	memset(&m, 0, sizeof m);
	memset(&p, 0, sizeof p);
	p.fd = -1;
	tmpdir[0] = payload[0] = mpath[0] = '\0';
	while ((c = getopt_long(argc, argv, "r:Tsgh", longopts, NULL)) != -1)
		switch (c) {
		case 'r':
			fmtpath(root, sizeof root, "%s", optarg);
			break;
		case 'T':
			trust = 1;
			break;
		case 'g':
			gc = 1;
			break;
		case 's':
			use_stdin = 1;
			break;
		default:
			return usage();
		}
	if (optind + (use_stdin ? 0 : 1) != argc)
		return usage();
	if (use_stdin)
		widen_stdin_pipe();
	if (!use_stdin) {
		if (strchr(argv[optind], '/') != NULL)
			fmtpath(mpath, sizeof mpath, "%s", argv[optind]);
		else
			fmtpath(mpath, sizeof mpath, "%s/incoming/%s", root,
			    argv[optind]);
	}
	fmtpath(final, sizeof final, "%s/images", root);
	if (mkdir_p(final, 0755) == -1) {
		errx_msg("cannot create '%s': %s", final, strerror(errno));
		return 1;
	}
	if ((lock = take_lock(err, sizeof err)) == -1) {
		errx_msg("%s", err);
		return 1;
	}
	sweep_marks();
	if (use_stdin) {
		if (read_manifest(0, &text, &mlen, err, sizeof err) == -1) {
			errx_msg("%s", err);
			goto out;
		}
	} else if (buf_read_file(&text, mpath, WIRE_MAX_MANIFEST) == -1) {
		errx_msg("cannot read upload manifest '%s': %s", mpath,
		    strerror(errno));
		goto out;
	} else
		mlen = text.len;
	if (wire_manifest_parse(text.data, mlen, &m, err, sizeof err) == -1) {
		errx_msg("'%s': %s", use_stdin ? "<stdin>" : mpath, err);
		goto out;
	}
	p.want = m.size;
	p.buf = xmalloc(CHUNK);
	sha256_init(&p.h);
	if (use_stdin) {
		p.fd = 0;
		p.pre = text.data + mlen + 1;
		p.prelen = text.len - mlen - 1;
		fmtpath(payload, sizeof payload, "<stdin>");
	} else {
		if (m.file[0] == '\0') {
			errx_msg("'%s': bad upload manifest: bad 'file'",
			    mpath);
			goto out;
		}
		fmtpath(payload, sizeof payload, "%s/incoming/%s", root,
		    m.file);
		if ((p.fd = open(payload, O_RDONLY | O_CLOEXEC)) == -1) {
			errx_msg("image %s: cannot open '%s': %s", m.image,
			    payload, strerror(errno));
			goto out;
		}
	}
	fmtpath(final, sizeof final, "%s/images/%s", root, m.image);
	fmtpath(finaltar, sizeof finaltar, "%s/images/%s/" TARMAP_NAME, root,
	    m.image);
	json_writer_init(&w, &out, 0);
	json_begin_object(&w);
	json_kv_int(&w, "vzimport", 1);
	json_kv_string(&w, "image", m.image);
	if (stat(final, &sb) == 0 && (stat(finaltar, &sb) == 0 ||
	    has_legacy_tar(m.image))) {
		if (use_stdin)
			payload_drain(&p);
		json_kv_string(&w, "status", "present");
		json_end_object(&w);
		puts(out.data);
		rc = 0;
		goto out;
	}
	fmtpath(tmpdir, sizeof tmpdir, "%s/incoming/%s.tmp", root, m.image);
	fmtpath(mappath, sizeof mappath, "%s/" TARMAP_NAME, tmpdir);
	fmtpath(rootfs, sizeof rootfs, "%s/rootfs", tmpdir);
	remove_tree(tmpdir);
	if (mkdir(tmpdir, 0700) == -1 || mkdir(rootfs, 0755) == -1) {
		errx_msg("cannot create '%s': %s", rootfs, strerror(errno));
		goto out;
	}
	memset(&im, 0, sizeof im);
	im.m = &m;
	im.p = &p;
	im.pname = payload;
	im.mappath = mappath;
	im.rootfs = rootfs;
	im.trust = trust;
	r = import_stream(&im, err, sizeof err);
	if (r != WIRE_OK) {
		errx_msg("image %s: %s", m.image, err);
		rc = r == WIRE_MISMATCH ? EXIT_RESEND : 1;
		goto out;
	}
	fmtpath(cfgpath, sizeof cfgpath, "%s/config.json", tmpdir);
	if (write_plain(cfgpath, m.config_json, strlen(m.config_json), err,
	    sizeof err) == -1) {
		errx_msg("image %s: %s", m.image, err);
		goto out;
	}
	/* before the rename that publishes the image: see sweep_marks() */
	mark_text(trust, mark, sizeof mark);
	fmtpath(cfgpath, sizeof cfgpath, "%s/" MARK, tmpdir);
	if (write_plain(cfgpath, mark, strlen(mark), err, sizeof err) == -1) {
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
	json_kv_string(&w, "status", "imported");
	json_kv_string(&w, "encoding", m.vcdiff ? "vcdiff" : "tar");
	json_key(&w, "entries");
	json_uint(&w, im.st.entries);
	json_key(&w, "skippedDevices");
	json_uint(&w, im.st.skipped_devices);
	json_key(&w, "linked");
	json_uint(&w, im.st.linked);
	json_key(&w, "comparedBytes");
	json_uint(&w, im.st.compared);
	json_key(&w, "mapBytes");
	json_uint(&w, im.verbatim);
	/*
	 * --gc: the master's push is also the time to drop old images.  The
	 * new image is the newest of its reference and the running version
	 * is in use, so both stay, and so does the one before (rollback).
	 */
	if (gc && gc_images(GC_KEEP, 0, &w, err, sizeof err) != 0) {
		/* the import stands; the master reports it (a disk that
		   cannot be cleaned fills up) */
		fprintf(stderr, "vzexec: warning: image-gc: %s\n", err);
		json_kv_string(&w, "gcError", err);
	}
	json_end_object(&w);
	puts(out.data);
	rc = 0;
out:
	/* a streaming sender gets its payload read whatever happened */
	if (use_stdin && rc != 0 && p.buf != NULL)
		payload_drain(&p);
	if (tmpdir[0] != '\0')
		remove_tree(tmpdir);
	/* the upload is spent either way: the master sends a new one */
	if (!use_stdin && payload[0] != '\0')
		unlink(payload);
	if (!use_stdin && m.image[0] != '\0')
		unlink(mpath);
	if (p.fd > 0)
		close(p.fd);
	if (p.h.md != NULL)
		sha256_final(&p.h, p.hex);
	free(p.buf);
	wire_manifest_release(&m);
	buf_release(&text);
	buf_release(&out);
	if (lock != -1)
		close(lock);
	if (fflush(stdout) == EOF && rc == 0)
		rc = 1;
	return rc;
}

/* ---- image-check ---- */

/*
 * Re-verify one marked image (see sweep_marks): its tarball, read back from
 * its map (or from the legacy images/<id>.tar), is unpacked again into a
 * new rootfs beside a new map, which replace the old ones when its sha256
 * is the id.  Files whose bytes and metadata are unchanged are hardlinked
 * to the old rootfs, whose bytes the hash has just checked, so this costs
 * about a read of the image; what a crash lost or damaged (a file's bytes,
 * a folder, a device node) comes back from the tarball, or, when the bytes
 * themselves are gone, the image is removed and the master pushes it
 * again.  1 repaired, 2 removed (tarball, rootfs or config bad), -1 error
 * (left as it is).
 */
static int
check_image(const char *id, char *err, size_t errlen)
{
	struct unpack_stats st;
	struct tarsrc *t = xcalloc(1, sizeof *t);
	struct buf b = BUF_INIT;
	struct json_value *cfg = NULL;
	struct imgtar it;
	char path[PATH_MAX], tmpdir[PATH_MAX], rootfs[PATH_MAX], gc[PATH_MAX];
	char hex[SHA256_HEX_LEN + 1], perr[200], mark[128], label[PATH_MAX];
	int rc = -1, trust = 0, mapfd = -1, bfd = -1, legacy;

	memset(&it, 0, sizeof it);
	it.fd = it.mapfd = it.rootfd = -1;
	fmtpath(path, sizeof path, "%s/images/%s/" MARK, root, id);
	if (buf_read_file(&b, path, 4096) == 0 &&
	    memmem(b.data, b.len, "trust-devices", 13) != NULL)
		trust = 1;
	buf_release(&b);
	fmtpath(path, sizeof path, "%s/images/%s/config.json", root, id);
	if (buf_read_file(&b, path, 1 << 20) == -1 ||
	    json_parse(b.data, b.len, &cfg, perr, sizeof perr) == -1) {
		rc = 2;
		goto out;
	}
	legacy = has_legacy_tar(id);
	if (imgtar_open(id, &it, perr, sizeof perr) == -1) {
		rc = 2;
		goto out;
	}
	fmtpath(label, sizeof label, legacy ? "%s/images/%s.tar" :
	    "%s/images/%s/" TARMAP_NAME, root, id);
	fmtpath(tmpdir, sizeof tmpdir, "%s/incoming/%s.tmp", root, id);
	fmtpath(rootfs, sizeof rootfs, "%s/rootfs", tmpdir);
	remove_tree(tmpdir);
	if (mkdir(tmpdir, 0700) == -1 || mkdir(rootfs, 0755) == -1) {
		fmtpath(err, errlen, "cannot create '%s': %s", rootfs,
		    strerror(errno));
		goto out;
	}
	t->it = &it;
	t->fd = -1;
	t->tee = -1;
	t->name = label;
	t->max = UINT64_MAX;
	if (!legacy) {
		fmtpath(path, sizeof path, "%s/" TARMAP_NAME, tmpdir);
		if ((mapfd = open(path, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0600)) == -1) {
			fmtpath(err, errlen, "cannot create '%s': %s", path,
			    strerror(errno));
			goto out;
		}
		t->map = tarmap_writer_new(mapfd);
		fmtpath(path, sizeof path, "%s/images/%s/rootfs", root, id);
		bfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	sha256_init(&t->h);
	if (unpack(t, label, rootfs, bfd, trust, &st, err, errlen) == -1) {
		/* a damaged tarball may not even parse: hash it to know */
		tarmap_writer_free(t->map);
		t->map = NULL;
		if (t->broken || tarsrc_drain(t) == -1) {
			/* the map or a file of the rootfs is unreadable */
			if (!legacy)
				rc = 2;
			goto out;
		}
		sha256_final(&t->h, hex);
		if (strcmp(hex, id) != 0)
			rc = 2;
		goto out;
	}
	sha256_final(&t->h, hex);
	if (strcmp(hex, id) != 0) {
		rc = 2;
		goto out;
	}
	if (t->map != NULL && (tarmap_writer_finish(t->map, err, errlen) ==
	    -1 || close(mapfd) == -1)) {
		if (errno != 0 && err[0] == '\0')
			fmtpath(err, errlen, "cannot write the map: %s",
			    strerror(errno));
		mapfd = -1;
		goto out;
	}
	mapfd = -1;
	fmtpath(path, sizeof path, "%s/config.json", tmpdir);
	if (write_plain(path, b.data, b.len, err, errlen) == -1)
		goto out;
	fmtpath(path, sizeof path, "%s/" MARK, tmpdir);
	mark_text(trust, mark, sizeof mark);
	if (write_plain(path, mark, strlen(mark), err, errlen) == -1)
		goto out;
	/* the new rootfs links to the old one's inodes: close it first */
	imgtar_close(&it);
	if (bfd != -1) {
		close(bfd);
		bfd = -1;
	}
	fmtpath(path, sizeof path, "%s/images/%s", root, id);
	fmtpath(gc, sizeof gc, "%s/incoming/%s.gc", root, id);
	remove_tree(gc);
	if (rename(path, gc) == -1 || rename(tmpdir, path) == -1) {
		fmtpath(err, errlen, "cannot replace '%s': %s", path,
		    strerror(errno));
		rename(gc, path);
		goto out;
	}
	remove_tree(gc);
	rc = 1;
out:
	imgtar_close(&it);
	if (bfd != -1)
		close(bfd);
	if (mapfd != -1)
		close(mapfd);
	tarmap_writer_free(t->map);
	if (rc == 2)
		remove_image(id);
	fmtpath(tmpdir, sizeof tmpdir, "%s/incoming/%s.tmp", root, id);
	remove_tree(tmpdir);
	if (t->h.md != NULL)
		sha256_final(&t->h, hex);
	free(t);
	json_free(cfg);
	buf_release(&b);
	return rc;
}

/* Options of the verbs that take just --root: optind, or -1. */
static int
root_only(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "r:", longopts, NULL)) != -1) {
		if (c != 'r')
			return -1;
		fmtpath(root, sizeof root, "%s", optarg);
	}
	return optind;
}

static int
cmd_check(int argc, char **argv)
{
	struct buf out = BUF_INIT;
	struct json_writer w;
	char dir[PATH_MAX], path[PATH_MAX], err[1024];
	char (*ids)[65] = NULL;
	int *res = NULL;
	size_t n = 0, i;
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int lock, rc = 0, fd;

	if (root_only(argc, argv) != argc)
		return usage();
	fmtpath(dir, sizeof dir, "%s/images", root);
	if (mkdir_p(dir, 0755) == -1) {
		errx_msg("cannot create '%s': %s", dir, strerror(errno));
		return 1;
	}
	if ((lock = take_lock(err, sizeof err)) == -1) {
		errx_msg("%s", err);
		return 1;
	}
	if ((d = opendir(dir)) == NULL) {
		errx_msg("cannot read '%s': %s", dir, strerror(errno));
		close(lock);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_sha256_hex(de->d_name))
			continue;
		fmtpath(path, sizeof path, "%s/%s/" MARK, dir, de->d_name);
		if (lstat(path, &sb) == -1)
			continue;
		ids = xreallocarray(ids, n + 1, sizeof *ids);
		memcpy(ids[n++], de->d_name, 65);
	}
	closedir(d);
	res = xcalloc(n + 1, sizeof *res);
	for (i = 0; i < n; i++) {
		err[0] = '\0';
		if ((res[i] = check_image(ids[i], err, sizeof err)) == -1) {
			errx_msg("image %s: cannot check: %s", ids[i], err);
			rc = 1;
		}
	}
	/* one sync makes every repaired image durable: then unmark them */
	if (n > 0 && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1) {
		if (syncfs(fd) == 0) {
			for (i = 0; i < n; i++)
				if (res[i] == 1) {
					fmtpath(path, sizeof path, "%s/%s/"
					    MARK, dir, ids[i]);
					unlink(path);
				}
		} else {
			errx_msg("cannot sync '%s': %s", dir, strerror(errno));
			rc = 1;
		}
		close(fd);
	}
	json_writer_init(&w, &out, 0);
	json_begin_object(&w);
	json_kv_int(&w, "vzcheck", 1);
	json_key(&w, "repaired");
	json_begin_array(&w);
	for (i = 0; i < n; i++)
		if (res[i] == 1)
			json_string(&w, ids[i]);
	json_end_array(&w);
	json_key(&w, "removed");
	json_begin_array(&w);
	for (i = 0; i < n; i++)
		if (res[i] == 2)
			json_string(&w, ids[i]);
	json_end_array(&w);
	json_end_object(&w);
	puts(out.data);
	buf_release(&out);
	free(ids);
	free(res);
	close(lock);
	if (fflush(stdout) == EOF)
		rc = 1;
	return rc;
}

/* ---- image-list and image-gc ---- */

struct image {
	char		 id[65];
	char		*ref;
	uint64_t	 size;
	int64_t		 mtime;
	int64_t		 mtime_ns;	/* order: two pushes in one second */
	int		 used;
};

static int
cmp_image(const void *a, const void *b)
{
	const struct image *x = a, *y = b;
	int c = strcmp(x->ref, y->ref);

	if (c != 0)
		return c;
	if (x->mtime_ns != y->mtime_ns)
		return x->mtime_ns > y->mtime_ns ? -1 : 1;	/* newest first */
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
		struct stat st, tst;
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
		fmtpath(path, sizeof path, "%s/%s/" TARMAP_NAME, dir,
		    de->d_name);
		if (stat(path, &tst) == 0) {
			v[cnt].size = tarmap_file_size(path);
			st = tst;	/* the map's time: when it came */
		} else {
			fmtpath(path, sizeof path, "%s/%s.tar", dir,
			    de->d_name);
			if (stat(path, &tst) == 0) {
				v[cnt].size = (uint64_t)tst.st_size;
				st = tst;
			}
		}
		v[cnt].mtime = st.st_mtim.tv_sec;
		v[cnt].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
		    st.st_mtim.tv_nsec;
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
	sweep_marks();
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

/*
 * image-cat: write an image's tarball to stdout, put together from its map,
 * checked against its id as it goes out (exit 1, after the bytes, when it
 * does not match: the image is damaged).  For a look at what a node holds,
 * and for tests.
 */
static int
cmd_cat(int argc, char **argv)
{
	struct imgtar it;
	char err[600], hex[SHA256_HEX_LEN + 1];
	int rc = 1;

	if (root_only(argc, argv) != argc - 1)
		return usage();
	if (!is_sha256_hex(argv[optind])) {
		errx_msg("'%s' is not an image id (64 hex digits)",
		    argv[optind]);
		return EXIT_USAGE;
	}
	if (imgtar_open(argv[optind], &it, err, sizeof err) == -1) {
		errx_msg("%s", err);
		return 1;
	}
	if (imgtar_hash(&it, 1, hex, err, sizeof err) == -1)
		errx_msg("image %s: %s", argv[optind], err);
	else if (strcmp(hex, argv[optind]) != 0)
		errx_msg("image %s is damaged: its tarball has sha256 %s",
		    argv[optind], hex);
	else
		rc = 0;
	imgtar_close(&it);
	return rc;
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

/*
 * Remove the images no pod spec uses beyond the keep newest of each
 * reference, writing "removed": [IDS] to w.  The caller holds the lock.
 * 0, or -1 with err (nothing removed, nothing written).
 */
/* The first removal that failed goes into err; all go to stderr. */
static void
gc_failed(int *failed, const char *path, char *err, size_t errlen)
{
	errx_msg("cannot remove '%s': %s", path, strerror(errno));
	if ((*failed)++ == 0)
		fmtpath(err, errlen, "cannot remove '%s': %s", path,
		    strerror(errno));
}

/*
 * Remove the images beyond the keep newest of each reference that no pod
 * spec uses; "removed" lists them.  0 done, 1 some could not be removed
 * (err says which; the others were), -1 nothing was tried (err).
 */
static int
gc_images(long keep, int dry, struct json_writer *w, char *err,
    size_t errlen)
{
	struct image *v = NULL;
	char path[PATH_MAX], tmp[PATH_MAX];
	size_t n = 0, i, rank = 0;
	int rc = -1, failed = 0;

	if (list_images(&v, &n) == -1) {
		fmtpath(err, errlen, "cannot read '%s/images': %s", root,
		    strerror(errno));
		return -1;
	}
	if (mark_used(v, n, err, errlen) == -1)
		goto out;
	json_key(w, "removed");
	json_begin_array(w);
	for (i = 0; i < n; i++) {
		/* v is sorted by ref, newest first: rank within the ref */
		rank = (i > 0 && strcmp(v[i].ref, v[i - 1].ref) == 0) ?
		    rank + 1 : 0;
		if (v[i].used || (long)rank < keep)
			continue;
		if (dry) {
			json_string(w, v[i].id);
			continue;
		}
		/* out of images/ first, so a half-removed tree is never used */
		fmtpath(path, sizeof path, "%s/images/%s", root, v[i].id);
		fmtpath(tmp, sizeof tmp, "%s/incoming/%s.gc", root, v[i].id);
		mkdir_p(tmp, 0700);
		rmdir(tmp);
		if (rename(path, tmp) == -1) {
			/* still whole in images/: keep its tarball too */
			gc_failed(&failed, path, err, errlen);
			continue;
		}
		fmtpath(path, sizeof path, "%s/images/%s.tar", root, v[i].id);
		unlink(path);
		if (remove_tree(tmp) == -1) {
			/* out of images/, its space not all freed: the next
			   image-gc removes incoming/ *.gc leftovers */
			gc_failed(&failed, tmp, err, errlen);
			continue;
		}
		json_string(w, v[i].id);
	}
	json_end_array(w);
	if (failed > 1)
		fmtpath(err + strlen(err), errlen - strlen(err), " (and %d "
		    "more)", failed - 1);
	rc = failed > 0 ? 1 : 0;
out:
	free_images(v, n);
	return rc;
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
	char err[1024], path[PATH_MAX], tmp[PATH_MAX], *end;
	long keep = GC_KEEP;
	int c, dry = 0, lock, rc = 1, r;

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
	sweep_marks();
	json_writer_init(&w, &out, 0);
	json_begin_object(&w);
	json_kv_int(&w, "vzgc", 1);
	if ((r = gc_images(keep, dry, &w, err, sizeof err)) == -1) {
		errx_msg("%s; removing nothing", err);
		goto out;
	}
	if (r == 1)
		json_kv_string(&w, "error", err);
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
	rc = fflush(stdout) == EOF || r == 1 ? 1 : 0;
out:
	buf_release(&out);
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
	if (strcmp(verb, "image-check") == 0)
		return cmd_check(argc, argv);
	if (strcmp(verb, "image-cat") == 0)
		return cmd_cat(argc, argv);
	errx_msg("unknown verb '%s'", verb);
	return usage();
}

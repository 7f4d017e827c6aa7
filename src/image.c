/*
 * image: import of OCI layouts, OCI and docker archives and plain folders
 * into one flattened deterministic rootfs tarball (see image.h).
 *
 * How: every layer is read once, in order, through libarchive while its
 * compressed bytes are hashed.  Each path becomes a node of an in-memory
 * tree (metadata only); regular file contents are appended to a spill file
 * and the node remembers the offset.  Whiteouts remove nodes.  At the end
 * the tree is walked with sorted children and written with libarchive,
 * copying contents back from the spill file, so memory holds paths, never
 * data.  Archives (oci-archive, docker-archive) are first unpacked into a
 * temporary folder, because their index may come after the blobs.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "buf.h"
#include "image.h"
#include "imgutil.h"
#include "json.h"

#define MAX_JSON	(16u << 20)	/* manifests and configs */
#define IO_CHUNK	(1u << 16)
#define OUT_CHUNK	(1u << 20)	/* writes of the flattened tarball */

struct xattr {
	struct xattr	*next;
	char		*name;
	void		*value;
	size_t		 size;
};

/* File contents shared by the paths of a hardlink set. */
struct inode {
	int		 refs;
	off_t		 off;		/* in the spill file */
	uint64_t	 size;
	char		*disk;		/* dir: the source file instead */
	struct node	*first;		/* output: the path carrying the data */
	dev_t		 dev;		/* dir: hardlink detection */
	ino_t		 ino;
	struct inode	*hnext;
};

struct node {
	char		*path;		/* relative, no leading ./ or / */
	const char	*name;		/* last component, inside path */
	struct node	*parent, *child, *next, *prev, *hnext;
	int		 touched;	/* last layer that wrote it or below */
	mode_t		 mode;		/* type and permissions */
	int64_t		 uid, gid;
	int64_t		 mtime;
	dev_t		 rdev;
	char		*symlink;
	struct inode	*ino;
	struct xattr	*xattrs;
};

struct ctx {
	const char	*ref;
	char		*err;
	size_t		 errlen;
	char		 work[4096];	/* temporary folder in the store */
	int		 spill;
	off_t		 spill_len;
	struct node	 root;
	struct node	**hash;
	size_t		 nbuckets, nnodes;
	struct inode	*ihash[1024];	/* dir: multi-link inodes */
	char		*config_json;
	unsigned	 layers;
	uint64_t	 entries;
	const char	*arch_file;	/* oci-archive/docker-archive file */
	char		 arch_tmp[4200];	/* where it was unpacked */
};

static int
fail(struct ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	/*
	 * Name members of an archive as FILE:MEMBER, not by the temporary
	 * folder they were unpacked into.
	 */
	if (c->arch_file != NULL && c->arch_tmp[0] != '\0') {
		struct buf b = BUF_INIT;
		size_t tl = strlen(c->arch_tmp);
		const char *p = c->err, *hit;

		while ((hit = strstr(p, c->arch_tmp)) != NULL &&
		    hit[tl] == '/') {
			buf_add(&b, p, (size_t)(hit - p));
			buf_addf(&b, "%s:", c->arch_file);
			p = hit + tl + 1;
		}
		buf_adds(&b, p);
		fmtpath(c->err, c->errlen, "%s", b.data);
		buf_release(&b);
	}
	return -1;
}

/* ---- the tree ---- */

static size_t
hash_path(const char *s)
{
	size_t h = 1469598103934665603u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211u;
	return h;
}

static struct node *
lookup(struct ctx *c, const char *path)
{
	struct node *n;

	if (*path == '\0')
		return &c->root;
	for (n = c->hash[hash_path(path) % c->nbuckets]; n != NULL; n = n->hnext)
		if (strcmp(n->path, path) == 0)
			return n;
	return NULL;
}

static void
rehash(struct ctx *c)
{
	struct node **nh, *n, *next;
	size_t nb = c->nbuckets * 4, i, k;

	nh = xcalloc(nb, sizeof *nh);
	for (i = 0; i < c->nbuckets; i++)
		for (n = c->hash[i]; n != NULL; n = next) {
			next = n->hnext;
			k = hash_path(n->path) % nb;
			n->hnext = nh[k];
			nh[k] = n;
		}
	free(c->hash);
	c->hash = nh;
	c->nbuckets = nb;
}

static void
inode_unref(struct inode *i)
{
	if (i != NULL && --i->refs == 0) {
		free(i->disk);
		free(i);
	}
}

static void
node_clear(struct node *n)
{
	struct xattr *x, *next;

	free(n->symlink);
	n->symlink = NULL;
	inode_unref(n->ino);
	n->ino = NULL;
	for (x = n->xattrs; x != NULL; x = next) {
		next = x->next;
		free(x->name);
		free(x->value);
		free(x);
	}
	n->xattrs = NULL;
}

/* Unlink n and everything below it from the tree and free them. */
static void
node_remove(struct ctx *c, struct node *n)
{
	struct node **pp;

	while (n->child != NULL)
		node_remove(c, n->child);
	if (n->prev != NULL)
		n->prev->next = n->next;
	else if (n->parent != NULL)
		n->parent->child = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	for (pp = &c->hash[hash_path(n->path) % c->nbuckets]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == n) {
			*pp = n->hnext;
			break;
		}
	c->nnodes--;
	node_clear(n);
	free(n->path);
	free(n);
}

static struct node *
node_add(struct ctx *c, struct node *parent, const char *path, int layer)
{
	struct node *n;
	const char *slash;
	size_t k;

	if (c->nnodes >= c->nbuckets)
		rehash(c);
	n = xcalloc(1, sizeof *n);
	n->path = xstrdup(path);
	slash = strrchr(n->path, '/');
	n->name = slash != NULL ? slash + 1 : n->path;
	n->parent = parent;
	n->next = parent->child;
	if (n->next != NULL)
		n->next->prev = n;
	parent->child = n;
	n->touched = layer;
	n->mode = S_IFDIR | 0755;
	k = hash_path(path) % c->nbuckets;
	n->hnext = c->hash[k];
	c->hash[k] = n;
	c->nnodes++;
	return n;
}

/*
 * The directory at path, created (implicitly: 0755 root, mtime 0) where
 * missing and replacing a non-directory in the way; all of it is marked as
 * touched by this layer so an opaque marker keeps it.
 */
static struct node *
ensure_dir(struct ctx *c, const char *path, int layer)
{
	struct node *n = &c->root, *m;
	char *p = xstrdup(path), *s = p;

	while (*p != '\0') {
		char *slash = strchr(s, '/');

		if (slash != NULL)
			*slash = '\0';
		m = lookup(c, p);
		if (m != NULL && !S_ISDIR(m->mode)) {
			node_remove(c, m);
			m = NULL;
		}
		if (m == NULL)
			m = node_add(c, n, p, layer);
		m->touched = layer;
		n = m;
		if (slash == NULL)
			break;
		*slash = '/';
		s = slash + 1;
	}
	free(p);
	return n;
}

/* Opaque directory: drop what lower layers put below n. */
static void
prune_lower(struct ctx *c, struct node *n, int layer)
{
	struct node *ch, *next;

	for (ch = n->child; ch != NULL; ch = next) {
		next = ch->next;
		if (ch->touched < layer)
			node_remove(c, ch);
		else if (S_ISDIR(ch->mode))
			prune_lower(c, ch, layer);
	}
}

/*
 * Clean an archive path: drop leading "./" and "/", repeated and trailing
 * slashes and "." components.  NULL for ".." (never legitimate in a layer).
 */
static char *
clean_path(const char *in)
{
	char *out = xmalloc(strlen(in) + 1), *o = out;
	const char *p = in, *e;
	size_t len;

	while (*p != '\0') {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		e = strchr(p, '/');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len == 1 && p[0] == '.') {
			p += len;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			return NULL;
		}
		if (o != out)
			*o++ = '/';
		memcpy(o, p, len);
		o += len;
		p += len;
	}
	*o = '\0';
	return out;
}

static void
set_meta(struct node *n, struct archive_entry *e)
{
	const char *name;
	const void *value;
	size_t size;
	struct xattr **tail;

	node_clear(n);
	n->mode = archive_entry_mode(e);
	n->uid = archive_entry_uid(e);
	n->gid = archive_entry_gid(e);
	n->mtime = archive_entry_mtime(e);
	n->rdev = archive_entry_rdev(e);
	if (S_ISLNK(n->mode))
		n->symlink = xstrdup(archive_entry_symlink(e) != NULL ?
		    archive_entry_symlink(e) : "");
	tail = &n->xattrs;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		struct xattr *x;

		/* pax may carry one xattr twice (SCHILY. and LIBARCHIVE.) */
		for (x = n->xattrs; x != NULL; x = x->next)
			if (strcmp(x->name, name) == 0)
				break;
		if (x != NULL)
			continue;
		x = xcalloc(1, sizeof *x);

		x->name = xstrdup(name);
		x->value = xmalloc(size + 1);
		memcpy(x->value, value, size);
		x->size = size;
		*tail = x;
		tail = &x->next;
	}
}

/* ---- reading layers ---- */

struct blob_reader {
	int		 fd;
	struct sha256	 h;
	uint64_t	 bytes;
	int		 rerrno;
	char		 chunk[IO_CHUNK];
};

static ssize_t
blob_read(struct archive *a, void *v, const void **out)
{
	struct blob_reader *r = v;
	ssize_t n;

	do
		n = read(r->fd, r->chunk, sizeof r->chunk);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r->rerrno = errno;
		archive_set_error(a, errno, "read error");
		return -1;
	}
	sha256_update(&r->h, r->chunk, (size_t)n);
	r->bytes += (uint64_t)n;
	*out = r->chunk;
	return n;
}

/* Hash what libarchive did not need (tar padding after the end marker). */
static void
blob_drain(struct blob_reader *r)
{
	ssize_t n;

	while ((n = read(r->fd, r->chunk, sizeof r->chunk)) > 0) {
		sha256_update(&r->h, r->chunk, (size_t)n);
		r->bytes += (uint64_t)n;
	}
}

static int
spill_data(struct ctx *c, struct archive *a, struct node *n, const char *what)
{
	char chunk[IO_CHUNK];
	uint64_t total = 0;
	la_ssize_t got;
	struct inode *i;

	i = xcalloc(1, sizeof *i);
	i->refs = 1;
	i->off = c->spill_len;
	n->ino = i;
	for (;;) {
		got = archive_read_data(a, chunk, sizeof chunk);
		if (got == 0)
			break;
		if (got < 0)
			return fail(c, "%s: '%s': %s", what, n->path,
			    archive_error_string(a));
		if (write_full(c->spill, chunk, (size_t)got) == -1)
			return fail(c, "cannot write temporary file in '%s': %s",
			    c->work, strerror(errno));
		total += (uint64_t)got;
	}
	c->spill_len += (off_t)total;
	i->size = total;
	return 0;
}

/*
 * Apply one layer (path, expected sha256 hex or NULL) to the tree.  what
 * names the layer in messages.
 */
static int
apply_layer(struct ctx *c, const char *path, const char *digest,
    const char *what, int layer)
{
	struct blob_reader *r;
	struct archive *a;
	struct archive_entry *e;
	char hex[SHA256_HEX_LEN + 1], *p = NULL, *dir, *base;
	int rc = -1, ar;

	r = xcalloc(1, sizeof *r);
	if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fail(c, "%s: missing blob '%s': %s", what, path, strerror(errno));
		free(r);
		return -1;
	}
	sha256_init(&r->h);
	a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open(a, r, NULL, blob_read, NULL) != ARCHIVE_OK) {
		fail(c, "%s: '%s': %s", what, path, archive_error_string(a));
		goto out;
	}
	for (;;) {
		struct node *parent, *n;
		const char *hl;

		ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			fail(c, "%s: '%s': %s", what, path, archive_error_string(a));
			goto out;
		}
		free(p);
		p = NULL;
		/* a damaged header may come with a warning and no name */
		if (archive_entry_pathname(e) == NULL) {
			fail(c, "%s: '%s': entry without a name", what, path);
			goto out;
		}
		if ((p = clean_path(archive_entry_pathname(e))) == NULL) {
			fail(c, "%s: '%s': unsafe path '%s'", what, path,
			    archive_entry_pathname(e));
			goto out;
		}
		if (*p == '\0')
			continue;	/* the root itself */
		base = strrchr(p, '/');
		if (base != NULL) {
			*base++ = '\0';
			dir = p;
		} else {
			base = p;
			dir = "";
		}
		parent = ensure_dir(c, dir, layer);
		if (strncmp(base, ".wh.", 4) == 0) {
			if (strcmp(base, ".wh..wh..opq") == 0)
				prune_lower(c, parent, layer);
			else {
				char *victim = xmalloc(strlen(p) + strlen(base) + 2);

				fmtpath(victim, strlen(p) + strlen(base) + 2,
				    "%s%s%s", dir, *dir ? "/" : "", base + 4);
				n = lookup(c, victim);
				if (n != NULL && n->touched < layer)
					node_remove(c, n);
				free(victim);
			}
			continue;
		}
		if (base != p)
			base[-1] = '/';		/* p is the full path again */
		n = lookup(c, p);
		hl = archive_entry_hardlink(e);
		if (n != NULL && !(S_ISDIR(n->mode) && hl == NULL &&
		    archive_entry_filetype(e) == AE_IFDIR)) {
			node_remove(c, n);
			n = NULL;
		}
		if (n == NULL)
			n = node_add(c, parent, p, layer);
		n->touched = layer;
		if (hl != NULL) {
			char *t = clean_path(hl);
			struct node *tn = t != NULL ? lookup(c, t) : NULL;

			free(t);
			if (tn == NULL || tn->ino == NULL || tn == n) {
				fail(c, "%s: '%s': hardlink '%s' to '%s': no "
				    "such regular file", what, path, p, hl);
				node_remove(c, n);
				goto out;
			}
			set_meta(n, e);
			n->mode = tn->mode;
			n->uid = tn->uid;
			n->gid = tn->gid;
			n->mtime = tn->mtime;
			n->ino = tn->ino;
			n->ino->refs++;
			continue;
		}
		set_meta(n, e);
		if (S_ISREG(n->mode) && spill_data(c, a, n, what) == -1)
			goto out;
		c->entries++;
	}
	blob_drain(r);
	if (r->rerrno != 0) {
		fail(c, "%s: cannot read '%s': %s", what, path,
		    strerror(r->rerrno));
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		blob_drain(r);	/* a bad digest explains a corrupt stream */
	sha256_final(&r->h, hex);
	if (digest != NULL && strcmp(hex, digest) != 0) {
		fail(c, "%s: blob sha256:%s in '%s': digest mismatch (content "
		    "hashes to sha256:%s)", what, digest, path, hex);
		rc = -1;
	}
	archive_read_free(a);
	close(r->fd);
	free(r);
	free(p);
	return rc;
}

/* ---- writing the flattened tarball ---- */

/* libarchive hands over 10 KiB blocks: they are gathered into 1 MiB
 * writes, and hashed as they pass. */
struct out_writer {
	int		 fd;
	struct sha256	 h;
	uint64_t	 bytes;
	uint8_t		*pend;
	size_t		 npend;
};

static int
out_flush(struct out_writer *w)
{
	if (w->npend > 0 && write_full(w->fd, w->pend, w->npend) == -1)
		return -1;
	w->npend = 0;
	return 0;
}

static la_ssize_t
out_write(struct archive *a, void *v, const void *p, size_t n)
{
	struct out_writer *w = v;

	sha256_update(&w->h, p, n);
	w->bytes += n;
	if (w->npend + n > OUT_CHUNK && out_flush(w) == -1) {
		archive_set_error(a, errno, "%s", strerror(errno));
		return -1;
	}
	if (n >= OUT_CHUNK) {
		if (write_full(w->fd, p, n) == -1) {
			archive_set_error(a, errno, "%s", strerror(errno));
			return -1;
		}
	} else {
		memcpy(w->pend + w->npend, p, n);
		w->npend += n;
	}
	return (la_ssize_t)n;
}

static int
cmp_node(const void *a, const void *b)
{
	const struct node *x = *(struct node *const *)a;
	const struct node *y = *(struct node *const *)b;

	return strcmp(x->name, y->name);
}

static int
copy_data(struct ctx *c, struct archive *a, struct node *n)
{
	char chunk[IO_CHUNK];
	uint64_t left = n->ino->size;
	off_t off = n->ino->off;
	int fd = c->spill, own = 0;
	ssize_t got;

	if (n->ino->disk != NULL) {
		fd = open(n->ino->disk, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1)
			return fail(c, "cannot open '%s': %s", n->ino->disk,
			    strerror(errno));
		own = 1;
		off = 0;
	}
	while (left > 0) {
		size_t want = left < sizeof chunk ? (size_t)left : sizeof chunk;

		got = pread(fd, chunk, want, off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			fail(c, "cannot read '%s': %s", own ? n->ino->disk :
			    "temporary file", got < 0 ? strerror(errno) :
			    "file shrank during import");
			goto fail;
		}
		if (archive_write_data(a, chunk, (size_t)got) != got) {
			fail(c, "cannot write tarball: %s",
			    archive_error_string(a));
			goto fail;
		}
		left -= (uint64_t)got;
		off += got;
	}
	if (own)
		close(fd);
	return 0;
fail:
	if (own)
		close(fd);
	return -1;
}

static int
write_tree(struct ctx *c, struct archive *a, struct node *dir)
{
	struct node *n, **kids;
	struct archive_entry *e;
	struct xattr *x;
	size_t nk = 0, i;
	int rc = 0;

	for (n = dir->child; n != NULL; n = n->next)
		nk++;
	if (nk == 0)
		return 0;
	kids = xcalloc(nk, sizeof *kids);
	for (nk = 0, n = dir->child; n != NULL; n = n->next)
		kids[nk++] = n;
	qsort(kids, nk, sizeof *kids, cmp_node);
	e = archive_entry_new();
	for (i = 0; i < nk && rc == 0; i++) {
		n = kids[i];
		if (S_ISSOCK(n->mode))
			continue;	/* tar cannot carry them */
		archive_entry_clear(e);
		archive_entry_copy_pathname(e, n->path);
		archive_entry_set_mode(e, n->mode);
		archive_entry_set_uid(e, n->uid);
		archive_entry_set_gid(e, n->gid);
		archive_entry_set_mtime(e, (time_t)n->mtime, 0);
		if (S_ISLNK(n->mode))
			archive_entry_copy_symlink(e, n->symlink);
		if (S_ISCHR(n->mode) || S_ISBLK(n->mode))
			archive_entry_set_rdev(e, n->rdev);
		for (x = n->xattrs; x != NULL; x = x->next)
			archive_entry_xattr_add_entry(e, x->name, x->value,
			    x->size);
		if (S_ISREG(n->mode) && n->ino->first != NULL) {
			archive_entry_copy_hardlink(e, n->ino->first->path);
			archive_entry_set_size(e, 0);
		} else if (S_ISREG(n->mode)) {
			n->ino->first = n;
			archive_entry_set_size(e, (la_int64_t)n->ino->size);
		} else
			archive_entry_set_size(e, 0);
		if (archive_write_header(a, e) < ARCHIVE_WARN) {
			rc = fail(c, "cannot write '%s' to tarball: %s", n->path,
			    archive_error_string(a));
			break;
		}
		c->entries++;
		if (S_ISREG(n->mode) && n->ino->first == n && n->ino->size > 0)
			rc = copy_data(c, a, n);
		if (rc == 0 && S_ISDIR(n->mode))
			rc = write_tree(c, a, n);
	}
	archive_entry_free(e);
	free(kids);
	return rc;
}

/*
 * Write the tree to STORE/<id>.tar via a temporary name; fill out.
 *
 * Not fsynced: the store's tarballs are a cache, rebuilt from the image
 * source by the next import, and an fsync of 50 MB was most of the time
 * of a re-import.  The rename still means a crash can leave only whole
 * files or none under the final name as far as the process is concerned;
 * what the kernel had not written back when the machine went down is
 * caught by wire_build, which checks the tarball's sha256 (its name) in
 * the read that builds an upload, removes a damaged one and fails.
 */
static int
write_tarball(struct ctx *c, const char *store, struct image_info *out)
{
	struct out_writer w;
	struct archive *a;
	char tmp[4200], final[4200];
	int rc = -1;

	fmtpath(tmp, sizeof tmp, "%s/out.tar", c->work);
	if ((w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		return fail(c, "cannot create '%s': %s", tmp, strerror(errno));
	sha256_init(&w.h);
	w.bytes = 0;
	w.pend = xmalloc(OUT_CHUNK);
	w.npend = 0;
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	/* Names are bytes: no locale conversion that could vary or fail. */
	archive_write_set_format_option(a, "pax", "hdrcharset", "BINARY");
	/* One record per xattr, in the form GNU tar and podman read. */
	archive_write_set_format_option(a, "pax", "xattrheader", "SCHILY");
	archive_write_add_filter_none(a);
	archive_write_set_bytes_per_block(a, 10240);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open(a, &w, NULL, out_write, NULL) != ARCHIVE_OK) {
		fail(c, "cannot write '%s': %s", tmp, archive_error_string(a));
		goto out;
	}
	c->entries = 0;
	if (write_tree(c, a, &c->root) == -1)
		goto out;
	if (archive_write_close(a) != ARCHIVE_OK) {
		fail(c, "cannot write '%s': %s", tmp, archive_error_string(a));
		goto out;
	}
	if (out_flush(&w) == -1 || close(w.fd) == -1) {
		w.fd = -1;
		fail(c, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	w.fd = -1;
	sha256_final(&w.h, out->id);
	out->size = w.bytes;
	out->entries = c->entries;
	fmtpath(final, sizeof final, "%s/%s.tar", store, out->id);
	if (rename(tmp, final) == -1) {
		fail(c, "cannot rename '%s' to '%s': %s", tmp, final,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (w.h.md != NULL)
		sha256_final(&w.h, out->id);
	if (rc == -1)
		out->id[0] = '\0';
	archive_write_free(a);
	if (w.fd != -1)
		close(w.fd);
	free(w.pend);
	return rc;
}

/* ---- image configs ---- */

/* The vzimage config from an OCI/docker config document (or NULL). */
static void
make_config(struct ctx *c, const struct json_value *doc)
{
	const struct json_value *cfg = NULL, *ports;
	struct json_writer w;
	struct buf b = BUF_INIT;
	const char *s;
	size_t i;

	if (doc != NULL)
		cfg = json_get_object(doc, "config");
	json_writer_init(&w, &b, 0);
	json_begin_object(&w);
	json_kv_int(&w, "vzimage", 1);
	json_kv_string(&w, "ref", c->ref);
	json_kv_strings(&w, "Entrypoint", cfg ? json_get(cfg, "Entrypoint") :
	    NULL, 0);
	json_kv_strings(&w, "Cmd", cfg ? json_get(cfg, "Cmd") : NULL, 0);
	json_kv_strings(&w, "Env", cfg ? json_get(cfg, "Env") : NULL, 1);
	s = cfg ? json_get_string(cfg, "WorkingDir") : NULL;
	json_kv_string(&w, "WorkingDir", s ? s : "");
	s = cfg ? json_get_string(cfg, "User") : NULL;
	json_kv_string(&w, "User", s ? s : "");
	json_key(&w, "ExposedPorts");
	json_begin_array(&w);
	ports = cfg ? json_get_object(cfg, "ExposedPorts") : NULL;
	for (i = 0; ports != NULL && i < ports->n; i++)
		json_string(&w, ports->keys[i]);
	json_end_array(&w);
	json_end_object(&w);
	free(c->config_json);
	c->config_json = buf_detach(&b, NULL);
}

/* Read and parse a JSON file, checking its sha256 when digest is set. */
static int
read_json(struct ctx *c, const char *path, const char *digest,
    const char *what, struct json_value **out)
{
	struct buf b = BUF_INIT;
	struct sha256 h;
	char hex[SHA256_HEX_LEN + 1], perr[256];

	*out = NULL;
	if (buf_read_file(&b, path, MAX_JSON) == -1) {
		fail(c, "%s: %s '%s': %s", c->ref, errno == ENOENT ?
		    "missing blob" : "cannot read", path, strerror(errno));
		buf_release(&b);
		return -1;
	}
	if (digest != NULL) {
		sha256_init(&h);
		sha256_update(&h, b.data, b.len);
		sha256_final(&h, hex);
		if (strcmp(hex, digest) != 0) {
			fail(c, "%s: %s blob sha256:%s in '%s': digest mismatch "
			    "(content hashes to sha256:%s)", c->ref, what,
			    digest, path, hex);
			buf_release(&b);
			return -1;
		}
	}
	if (json_parse(b.data, b.len, out, perr, sizeof perr) == -1) {
		fail(c, "%s: bad %s '%s': %s", c->ref, what, path, perr);
		buf_release(&b);
		return -1;
	}
	buf_release(&b);
	return 0;
}

/* "sha256:HEX" -> HEX, checked (it becomes a file name). */
static const char *
digest_hex(const char *d)
{
	if (d == NULL || strncmp(d, "sha256:", 7) != 0 || !is_sha256_hex(d + 7))
		return NULL;
	return d + 7;
}

/* ---- OCI layout ---- */

static int
oci_manifest_pick(struct ctx *c, const char *dir, const struct json_value *index,
    const char *tag, const char **digest)
{
	const struct json_value *m = json_get_array(index, "manifests"), *it;
	const struct json_value *found = NULL;
	size_t i;

	if (m == NULL || m->n == 0)
		return fail(c, "%s: '%s/index.json' lists no manifests", c->ref,
		    dir);
	for (i = 0; i < m->n; i++) {
		const struct json_value *ann;
		const char *name;

		it = m->items[i];
		if (tag == NULL) {
			if (m->n > 1)
				return fail(c, "%s: '%s/index.json' holds %zu "
				    "manifests: name one as oci:DIR:TAG", c->ref,
				    dir, m->n);
			found = it;
			break;
		}
		ann = json_get_object(it, "annotations");
		name = ann ? json_get_string(ann,
		    "org.opencontainers.image.ref.name") : NULL;
		if (name != NULL && strcmp(name, tag) == 0) {
			found = it;
			break;
		}
	}
	if (found == NULL)
		return fail(c, "%s: no image tagged '%s' in '%s/index.json'",
		    c->ref, tag, dir);
	if ((*digest = digest_hex(json_get_string(found, "digest"))) == NULL)
		return fail(c, "%s: '%s/index.json': bad or unsupported "
		    "manifest digest", c->ref, dir);
	return 0;
}

static int
import_oci(struct ctx *c, const char *dir, const char *tag)
{
	struct json_value *index = NULL, *man = NULL, *cfg = NULL, *sub = NULL;
	const struct json_value *layers, *conf;
	const char *mdig, *cdig, *mt;
	char path[4200], what[160];
	size_t i;
	int rc = -1;

	fmtpath(path, sizeof path, "%s/index.json", dir);
	if (read_json(c, path, NULL, "index", &index) == -1 ||
	    oci_manifest_pick(c, dir, index, tag, &mdig) == -1)
		goto out;
	fmtpath(path, sizeof path, "%s/blobs/sha256/%s", dir, mdig);
	if (read_json(c, path, mdig, "manifest", &man) == -1)
		goto out;
	mt = json_get_string(man, "mediaType");
	if (mt != NULL && strstr(mt, "index") != NULL) {
		/* A multi-platform index: take the only or the amd64 linux one. */
		const struct json_value *m = json_get_array(man, "manifests");
		const char *d = NULL;

		for (i = 0; m != NULL && i < m->n; i++) {
			const struct json_value *pl = json_get_object(m->items[i],
			    "platform");
			const char *arch = pl ? json_get_string(pl,
			    "architecture") : NULL;

			if (m->n == 1 || (arch && strcmp(arch, "amd64") == 0))
				d = digest_hex(json_get_string(m->items[i],
				    "digest"));
		}
		if (d == NULL) {
			fail(c, "%s: image index sha256:%s has no amd64 manifest",
			    c->ref, mdig);
			goto out;
		}
		fmtpath(path, sizeof path, "%s/blobs/sha256/%s", dir, d);
		if (read_json(c, path, d, "manifest", &sub) == -1)
			goto out;
		json_free(man);
		man = sub;
		sub = NULL;
	}
	conf = json_get_object(man, "config");
	if (conf == NULL || (cdig = digest_hex(json_get_string(conf,
	    "digest"))) == NULL) {
		fail(c, "%s: bad manifest sha256:%s: no config digest", c->ref,
		    mdig);
		goto out;
	}
	fmtpath(path, sizeof path, "%s/blobs/sha256/%s", dir, cdig);
	if (read_json(c, path, cdig, "config", &cfg) == -1)
		goto out;
	if ((layers = json_get_array(man, "layers")) == NULL) {
		fail(c, "%s: bad manifest sha256:%s: no layers", c->ref, mdig);
		goto out;
	}
	for (i = 0; i < layers->n; i++) {
		const char *ld = digest_hex(json_get_string(layers->items[i],
		    "digest"));

		if (ld == NULL) {
			fail(c, "%s: bad manifest sha256:%s: layer %zu has a bad "
			    "or unsupported digest", c->ref, mdig, i);
			goto out;
		}
		fmtpath(path, sizeof path, "%s/blobs/sha256/%s", dir, ld);
		fmtpath(what, sizeof what, "%s: layer %zu (sha256:%.12s)",
		    c->ref, i, ld);
		if (apply_layer(c, path, ld, what, (int)i + 1) == -1)
			goto out;
		c->layers++;
	}
	make_config(c, cfg);
	rc = 0;
out:
	json_free(index);
	json_free(man);
	json_free(cfg);
	json_free(sub);
	return rc;
}

/* ---- docker archive (unpacked) ---- */

static int
repotag_match(const char *have, const char *want)
{
	size_t hl = strlen(have), wl = strlen(want);

	if (strcmp(have, want) == 0)
		return 1;
	/* "busybox:1" matches "localhost/busybox:1", "docker.io/library/..." */
	return hl > wl && have[hl - wl - 1] == '/' &&
	    strcmp(have + hl - wl, want) == 0;
}

/* A relative path from a manifest: no "..", not absolute. */
static int
safe_rel(const char *p)
{
	char *cp;

	if (p == NULL || *p == '/' || *p == '\0')
		return 0;
	if ((cp = clean_path(p)) == NULL)
		return 0;
	free(cp);
	return 1;
}

/* blobs/sha256/HEX or HEX.json / HEX.tar: the digest the name promises. */
static const char *
name_digest(const char *p, char hex[SHA256_HEX_LEN + 1])
{
	const char *b = strrchr(p, '/');
	size_t len;

	b = b ? b + 1 : p;
	len = strlen(b);
	if (len < SHA256_HEX_LEN)
		return NULL;
	memcpy(hex, b, SHA256_HEX_LEN);
	hex[SHA256_HEX_LEN] = '\0';
	if (!is_sha256_hex(hex))
		return NULL;
	if (len == SHA256_HEX_LEN && strstr(p, "sha256/") != NULL)
		return hex;
	if (strcmp(b + SHA256_HEX_LEN, ".json") == 0 ||
	    strcmp(b + SHA256_HEX_LEN, ".tar") == 0)
		return hex;
	return NULL;
}

static int
import_docker(struct ctx *c, const char *dir, const char *tag, const char *file)
{
	struct json_value *man = NULL, *cfg = NULL;
	const struct json_value *ent = NULL, *layers, *diffs = NULL, *rf;
	const char *cpath, *expect;
	char path[4200], what[200], hex[SHA256_HEX_LEN + 1], want[72];
	size_t i, j;
	int rc = -1;

	fmtpath(path, sizeof path, "%s/manifest.json", dir);
	if (read_json(c, path, NULL, "manifest.json of archive", &man) == -1)
		goto out;
	if (man->type != JSON_ARRAY || man->n == 0) {
		fail(c, "%s: '%s': manifest.json lists no images", c->ref, file);
		goto out;
	}
	for (i = 0; i < man->n && ent == NULL; i++) {
		const struct json_value *tags = json_get_array(man->items[i],
		    "RepoTags");

		if (tag == NULL) {
			if (man->n > 1) {
				fail(c, "%s: '%s' holds %zu images: name one as "
				    "docker-archive:FILE:NAME:TAG", c->ref, file,
				    man->n);
				goto out;
			}
			ent = man->items[i];
			break;
		}
		if (strchr(tag, ':') == NULL && strchr(tag, '@') == NULL)
			fmtpath(want, sizeof want, "%s:latest", tag);
		else
			fmtpath(want, sizeof want, "%s", tag);
		for (j = 0; tags != NULL && j < tags->n; j++)
			if (tags->items[j]->type == JSON_STRING &&
			    repotag_match(tags->items[j]->str, want))
				ent = man->items[i];
	}
	if (ent == NULL) {
		fail(c, "%s: no image tagged '%s' in '%s'", c->ref, tag, file);
		goto out;
	}
	cpath = json_get_string(ent, "Config");
	layers = json_get_array(ent, "Layers");
	if (!safe_rel(cpath) || layers == NULL) {
		fail(c, "%s: '%s': bad manifest.json (Config, Layers)", c->ref,
		    file);
		goto out;
	}
	fmtpath(path, sizeof path, "%s/%s", dir, cpath);
	if (read_json(c, path, name_digest(cpath, hex), "config", &cfg) == -1)
		goto out;
	if ((rf = json_get_object(cfg, "rootfs")) != NULL)
		diffs = json_get_array(rf, "diff_ids");
	for (i = 0; i < layers->n; i++) {
		const char *lp = layers->items[i]->type == JSON_STRING ?
		    layers->items[i]->str : NULL;

		if (!safe_rel(lp)) {
			fail(c, "%s: '%s': bad layer path in manifest.json",
			    c->ref, file);
			goto out;
		}
		/*
		 * blobs/sha256/X names the stored (maybe compressed) blob;
		 * otherwise docker save stores layers uncompressed, so the
		 * config's diff_id is the digest of the stored file.
		 */
		expect = NULL;
		if (strstr(lp, "sha256/") != NULL)
			expect = name_digest(lp, hex);
		else if (diffs != NULL && i < diffs->n &&
		    diffs->items[i]->type == JSON_STRING)
			expect = digest_hex(diffs->items[i]->str);
		else
			expect = name_digest(lp, hex);
		fmtpath(path, sizeof path, "%s/%s", dir, lp);
		fmtpath(what, sizeof what, "%s: layer %zu ('%s')", c->ref, i,
		    lp);
		if (apply_layer(c, path, expect, what, (int)i + 1) == -1)
			goto out;
		c->layers++;
	}
	make_config(c, cfg);
	rc = 0;
out:
	json_free(man);
	json_free(cfg);
	return rc;
}

/* Unpack an outer archive (oci-archive, docker-archive) into dest. */
static int
unpack_outer(struct ctx *c, const char *file, const char *dest)
{
	struct archive *a, *d;
	struct archive_entry *e;
	char *cwd = NULL;
	int rc = -1, ar;

	if (mkdir(dest, 0700) == -1)
		return fail(c, "cannot create '%s': %s", dest, strerror(errno));
	a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	d = archive_write_disk_new();
	archive_write_disk_set_options(d, ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	    ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (archive_read_open_filename(a, file, IO_CHUNK) != ARCHIVE_OK) {
		fail(c, "%s: cannot read '%s': %s", c->ref, file,
		    archive_error_string(a));
		goto out;
	}
	cwd = getcwd(NULL, 0);
	if (cwd == NULL || chdir(dest) == -1) {
		fail(c, "cannot enter '%s': %s", dest, strerror(errno));
		goto out;
	}
	for (;;) {
		ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			fail(c, "%s: '%s': %s", c->ref, file,
			    archive_error_string(a));
			goto out;
		}
		if (archive_entry_filetype(e) != AE_IFREG &&
		    archive_entry_filetype(e) != AE_IFDIR)
			continue;
		archive_entry_set_perm(e, S_ISDIR(archive_entry_mode(e)) ?
		    0700 : 0600);
		if (archive_write_header(d, e) < ARCHIVE_WARN) {
			fail(c, "%s: '%s': '%s': %s", c->ref, file,
			    archive_entry_pathname(e), archive_error_string(d));
			goto out;
		}
		if (archive_entry_size(e) > 0) {
			const void *blk;
			size_t len;
			la_int64_t off;

			while ((ar = archive_read_data_block(a, &blk, &len,
			    &off)) == ARCHIVE_OK)
				if (archive_write_data_block(d, blk, len, off) <
				    ARCHIVE_WARN) {
					ar = ARCHIVE_FATAL;
					fail(c, "%s: cannot unpack '%s': %s",
					    c->ref, file, archive_error_string(d));
					goto out;
				}
			if (ar != ARCHIVE_EOF) {
				fail(c, "%s: '%s': '%s': %s", c->ref, file,
				    archive_entry_pathname(e),
				    archive_error_string(a));
				goto out;
			}
		}
		if (archive_write_finish_entry(d) < ARCHIVE_WARN) {
			fail(c, "%s: cannot unpack '%s': %s", c->ref, file,
			    archive_error_string(d));
			goto out;
		}
	}
	rc = 0;
out:
	if (cwd != NULL && chdir(cwd) == -1 && rc == 0)
		rc = fail(c, "cannot return to '%s': %s", cwd, strerror(errno));
	free(cwd);
	archive_write_free(d);
	archive_read_free(a);
	return rc;
}

/* ---- dir: ---- */

static struct inode *
dir_inode(struct ctx *c, const char *disk, const struct stat *st)
{
	struct inode *i, **slot;

	slot = &c->ihash[(st->st_ino ^ st->st_dev) % 1024];
	if (st->st_nlink > 1)
		for (i = *slot; i != NULL; i = i->hnext)
			if (i->dev == st->st_dev && i->ino == st->st_ino) {
				i->refs++;
				return i;
			}
	i = xcalloc(1, sizeof *i);
	i->refs = 1;
	i->size = (uint64_t)st->st_size;
	i->disk = xstrdup(disk);
	i->dev = st->st_dev;
	i->ino = st->st_ino;
	if (st->st_nlink > 1) {
		i->refs++;	/* the table's reference: dropped never */
		i->hnext = *slot;
		*slot = i;
	}
	return i;
}

static int
dir_xattrs(struct ctx *c, struct node *n, const char *disk)
{
	char names[65536], *p;
	ssize_t len, vl;
	len = llistxattr(disk, names, sizeof names);
	if (len < 0)
		return errno == ENOTSUP ? 0 :
		    fail(c, "cannot list xattrs of '%s': %s", disk,
		    strerror(errno));
	/* listxattr order depends on the file system: sort by name. */
	for (p = names; p < names + len; p += strlen(p) + 1) {
		struct xattr *x, **ins;

		vl = lgetxattr(disk, p, NULL, 0);
		if (vl < 0)
			continue;
		x = xcalloc(1, sizeof *x);
		x->name = xstrdup(p);
		x->value = xmalloc((size_t)vl + 1);
		vl = lgetxattr(disk, p, x->value, (size_t)vl);
		x->size = vl < 0 ? 0 : (size_t)vl;
		for (ins = &n->xattrs; *ins != NULL &&
		    strcmp((*ins)->name, x->name) < 0; ins = &(*ins)->next)
			;
		x->next = *ins;
		*ins = x;
	}
	return 0;
}

static int
walk_dir(struct ctx *c, const char *disk, struct node *dir)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	char sub[8192], rel[8192];
	int rc = 0;

	if ((d = opendir(disk)) == NULL)
		return fail(c, "cannot read '%s': %s", disk, strerror(errno));
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct node *n;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fmtpath(sub, sizeof sub, "%s/%s", disk,
		    de->d_name) == -1) {
			rc = fail(c, "path too long: '%s'", sub);
			break;
		}
		fmtpath(rel, sizeof rel, "%s%s%s", dir->path,
		    *dir->path ? "/" : "", de->d_name);
		if (lstat(sub, &st) == -1) {
			rc = fail(c, "cannot stat '%s': %s", sub, strerror(errno));
			break;
		}
		if (S_ISSOCK(st.st_mode))
			continue;
		n = node_add(c, dir, rel, 0);
		n->mode = st.st_mode;
		n->uid = st.st_uid;
		n->gid = st.st_gid;
		n->mtime = st.st_mtime;
		n->rdev = st.st_rdev;
		if (S_ISLNK(st.st_mode)) {
			char target[4097];
			ssize_t tl = readlink(sub, target, sizeof target - 1);

			if (tl < 0) {
				rc = fail(c, "cannot read link '%s': %s", sub,
				    strerror(errno));
				break;
			}
			target[tl] = '\0';
			n->symlink = xstrdup(target);
		} else if (S_ISREG(st.st_mode))
			n->ino = dir_inode(c, sub, &st);
		rc = dir_xattrs(c, n, sub);
		if (rc == 0 && S_ISDIR(st.st_mode))
			rc = walk_dir(c, sub, n);
	}
	closedir(d);
	return rc;
}

/* ---- entry point ---- */

/*
 * Split "FILE[:TAG]": the whole text when it exists, else the shortest
 * prefix before a ':' that exists (tags such as "name:1" hold colons).
 */
static int
split_ref(const char *text, char **path, char **tag)
{
	struct stat st;
	const char *p;

	*path = *tag = NULL;
	if (stat(text, &st) == 0) {
		*path = xstrdup(text);
		return 0;
	}
	for (p = strchr(text, ':'); p != NULL; p = strchr(p + 1, ':')) {
		char *pre = xstrndup(text, (size_t)(p - text));

		if (stat(pre, &st) == 0) {
			*path = pre;
			*tag = xstrdup(p + 1);
			return 0;
		}
		free(pre);
	}
	*path = xstrdup(text);		/* for the message */
	return -1;
}

void
image_info_release(struct image_info *info)
{
	free(info->config_json);
	memset(info, 0, sizeof *info);
}

int
image_import(const char *ref, const char *store_dir, struct image_info *out,
    char *err, size_t errlen)
{
	struct ctx c;
	char *path = NULL, *tag = NULL, spill[4200], unpacked[4200];
	char jpath[4200], cerr[256];
	const char *body;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof *out);
	memset(&c, 0, sizeof c);
	c.ref = ref;
	c.err = err;
	c.errlen = errlen;
	c.spill = -1;
	c.nbuckets = 1024;
	c.hash = xcalloc(c.nbuckets, sizeof *c.hash);
	c.root.path = "";
	c.root.name = "";
	c.root.mode = S_IFDIR | 0755;

	if (mkdir_p(store_dir, 0755) == -1) {
		fail(&c, "cannot create '%s': %s", store_dir, strerror(errno));
		goto out;
	}
	if (fmtpath(c.work, sizeof c.work, "%s/.import.XXXXXX",
	    store_dir) == -1 || mkdtemp(c.work) == NULL) {
		c.work[0] = '\0';
		fail(&c, "cannot create a temporary folder in '%s': %s",
		    store_dir, strerror(errno));
		goto out;
	}
	fmtpath(spill, sizeof spill, "%s/spill", c.work);
	if ((c.spill = open(spill, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		fail(&c, "cannot create '%s': %s", spill, strerror(errno));
		goto out;
	}
	fmtpath(unpacked, sizeof unpacked, "%s/archive", c.work);

	if (strncmp(ref, "oci:", 4) == 0) {
		body = ref + 4;
		if (split_ref(body, &path, &tag) == -1) {
			fail(&c, "%s: no such OCI layout '%s'", ref, path);
			goto out;
		}
		rc = import_oci(&c, path, tag);
	} else if (strncmp(ref, "oci-archive:", 12) == 0) {
		body = ref + 12;
		if (split_ref(body, &path, &tag) == -1) {
			fail(&c, "%s: no such file '%s'", ref, path);
			goto out;
		}
		if (unpack_outer(&c, path, unpacked) == 0) {
			c.arch_file = path;
			fmtpath(c.arch_tmp, sizeof c.arch_tmp, "%s", unpacked);
			rc = import_oci(&c, unpacked, tag);
		}
	} else if (strncmp(ref, "docker-archive:", 15) == 0) {
		body = ref + 15;
		if (split_ref(body, &path, &tag) == -1) {
			fail(&c, "%s: no such file '%s'", ref, path);
			goto out;
		}
		if (unpack_outer(&c, path, unpacked) == 0) {
			c.arch_file = path;
			fmtpath(c.arch_tmp, sizeof c.arch_tmp, "%s", unpacked);
			rc = import_docker(&c, unpacked, tag, path);
		}
	} else if (strncmp(ref, "dir:", 4) == 0) {
		struct stat st;

		if (stat(ref + 4, &st) == -1 || !S_ISDIR(st.st_mode)) {
			fail(&c, "%s: no such folder '%s'", ref, ref + 4);
			goto out;
		}
		rc = walk_dir(&c, ref + 4, &c.root);
		if (rc == 0)
			make_config(&c, NULL);
	} else {
		fail(&c, "'%s': unknown image reference (want oci:DIR[:TAG], "
		    "oci-archive:FILE, docker-archive:FILE or dir:ROOTFS)", ref);
		goto out;
	}
	if (rc == -1)
		goto out;
	rc = -1;
	if (write_tarball(&c, store_dir, out) == -1)
		goto out;
	fmtpath(jpath, sizeof jpath, "%s/%s.json", store_dir, out->id);
	/* a cache like the tarball (see write_tarball) */
	if (write_file_replace(jpath, c.config_json, strlen(c.config_json),
	    cerr, sizeof cerr) == -1) {
		fail(&c, "%s", cerr);
		goto out;
	}
	out->layers = c.layers;
	out->config_json = c.config_json;
	c.config_json = NULL;
	rc = 0;
out:
	if (rc == -1)
		out->id[0] = '\0';
	while (c.root.child != NULL)
		node_remove(&c, c.root.child);
	for (i = 0; i < 1024; i++)
		while (c.ihash[i] != NULL) {
			struct inode *in = c.ihash[i];

			c.ihash[i] = in->hnext;
			inode_unref(in);
		}
	free(c.hash);
	free(c.config_json);
	if (c.spill != -1)
		close(c.spill);
	if (c.work[0] != '\0')
		remove_tree(c.work);
	free(path);
	free(tag);
	return rc;
}

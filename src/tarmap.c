/*
 * tarmap: write and read an image tarball's map (see tarmap.h): the tar
 * walker that splits the stream into verbatim bytes and regular files'
 * data, the map file, and the reader that puts the tarball together again.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "imgutil.h"
#include "tarmap.h"

#define BLOCK		512u
#define TRAILER_LEN	64u
#define TRAILER_MAGIC	"\nvztarmap 1 "
#define PAX_MAX		(64u << 10)	/* longer pax data: kept verbatim */
#define TABLE_MAX	(256u << 20)

enum walk { W_HDR, W_DATA, W_TAIL };

struct span {
	uint64_t	 off, len;
	uint64_t	 hpos;		/* a file span's header position */
	int		 file;
	char		*path;		/* a file span's, once claimed */
};

struct tarmap_writer {
	int		 fd;
	uint64_t	 off;		/* of the stream, fed so far */
	uint64_t	 verb;		/* verbatim bytes written */
	char		 wbuf[1u << 16];
	size_t		 wlen;

	enum walk	 state;
	unsigned char	 hdr[BLOCK];
	size_t		 hlen;
	uint64_t	 left;		/* W_DATA: bytes of the data area */
	uint64_t	 withheld;	/* of which file data, at its start */
	int		 in_pax;	/* the data area is a pax header's */
	uint64_t	 pax_len;	/* its length (without padding) */
	struct buf	 pax;
	/* extension headers seen for the next entry */
	int64_t		 ext_start;
	int		 have_size;
	uint64_t	 pax_size;
	int		 noref_next;	/* keep the next entry verbatim */
	int		 noref_all;	/* keep everything verbatim */

	struct span	*v;
	size_t		 n, cap;
	size_t		 claim;		/* first span not yet claimed */
};

static void *
grow(struct tarmap_writer *w)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 256;
		w->v = xreallocarray(w->v, w->cap, sizeof *w->v);
	}
	memset(&w->v[w->n], 0, sizeof w->v[w->n]);
	return &w->v[w->n++];
}

struct tarmap_writer *
tarmap_writer_new(int fd)
{
	struct tarmap_writer *w = xcalloc(1, sizeof *w);

	w->fd = fd;
	w->ext_start = -1;
	buf_init(&w->pax);
	return w;
}

void
tarmap_writer_free(struct tarmap_writer *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++)
		free(w->v[i].path);
	free(w->v);
	buf_release(&w->pax);
	free(w);
}

uint64_t
tarmap_writer_verbatim(const struct tarmap_writer *w)
{
	return w->verb;
}

static int
flush(struct tarmap_writer *w, char *err, size_t errlen)
{
	int e;

	if (w->wlen > 0 && write_full(w->fd, w->wbuf, w->wlen) == -1) {
		e = errno;
		fmtpath(err, errlen, "cannot write the tarball's map: %s",
		    strerror(e));
		errno = e;	/* ENOSPC is told apart upstream */
		return -1;
	}
	w->wlen = 0;
	return 0;
}

static int
out(struct tarmap_writer *w, const void *p, size_t n, char *err,
    size_t errlen)
{
	const char *s = p;
	size_t k;

	while (n > 0) {
		if (w->wlen == sizeof w->wbuf && flush(w, err, errlen) == -1)
			return -1;
		k = sizeof w->wbuf - w->wlen;
		if (k > n)
			k = n;
		memcpy(w->wbuf + w->wlen, s, k);
		w->wlen += k;
		s += k;
		n -= k;
	}
	return 0;
}

/* n bytes at the current offset are kept verbatim. */
static int
verbatim(struct tarmap_writer *w, const void *p, size_t n, char *err,
    size_t errlen)
{
	struct span *s;

	if (n == 0)
		return 0;
	if (out(w, p, n, err, errlen) == -1)
		return -1;
	if (w->n > 0 && !w->v[w->n - 1].file)
		w->v[w->n - 1].len += n;
	else {
		s = grow(w);
		s->off = w->off;
		s->len = n;
	}
	w->verb += n;
	w->off += n;
	return 0;
}

/* A header's numeric field (octal, or base-256): 0, or -1 unparsable. */
static int
tar_number(const unsigned char *f, size_t len, uint64_t *v)
{
	size_t i = 0;

	*v = 0;
	if (f[0] & 0x80) {
		if (f[0] != 0x80)
			return -1;	/* negative, or too large */
		for (i = 1; i < len; i++) {
			if (*v >> 56)
				return -1;
			*v = (*v << 8) | f[i];
		}
		return 0;
	}
	while (i < len && f[i] == ' ')
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (*v >> 60)
			return -1;
		*v = (*v << 3) | (uint64_t)(f[i] - '0');
	}
	for (; i < len; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return -1;
	return 0;
}

/* The pax records collected for the next entry: size, sparse. */
static void
parse_pax(struct tarmap_writer *w)
{
	const char *p = w->pax.data, *end = p + w->pax.len, *rec, *eq;
	uint64_t len, v;
	char *e;

	if (w->pax.len < w->pax_len) {
		w->noref_next = 1;	/* too long to look at */
		return;
	}
	while (p < end) {
		rec = p;
		len = 0;
		while (p < end && *p >= '0' && *p <= '9' && len < (1u << 30))
			len = len * 10 + (uint64_t)(*p++ - '0');
		if (p == rec || p >= end || *p != ' ' || len == 0 ||
		    len > (uint64_t)(end - rec) || rec[len - 1] != '\n') {
			w->noref_next = 1;
			return;
		}
		p++;
		eq = memchr(p, '=', (size_t)(rec + len - 1 - p));
		if (eq == NULL) {
			w->noref_next = 1;
			return;
		}
		if (eq - p == 4 && memcmp(p, "size", 4) == 0) {
			errno = 0;
			v = strtoull(eq + 1, &e, 10);
			if (errno != 0 || e != rec + len - 1 || e == eq + 1) {
				w->noref_next = 1;
				return;
			}
			w->have_size = 1;
			w->pax_size = v;
		} else if (eq - p >= 11 && memcmp(p, "GNU.sparse.", 11) == 0)
			w->noref_next = 1;
		p = rec + len;
	}
}

static uint64_t
padded(uint64_t n)
{
	return (n + BLOCK - 1) & ~(uint64_t)(BLOCK - 1);
}

/* The 512-byte header in w->hdr, which started at hstart. */
static void
header(struct tarmap_writer *w, uint64_t hstart)
{
	unsigned char type = w->hdr[156];
	uint64_t size;
	struct span *s;
	size_t i;

	for (i = 0; i < BLOCK && w->hdr[i] == 0; i++)
		;
	if (i == BLOCK || tar_number(w->hdr + 124, 12, &size) == -1 ||
	    size > UINT64_MAX - BLOCK) {
		/* the end, or lost: the rest is verbatim */
		w->state = W_TAIL;
		return;
	}
	if (w->ext_start < 0)
		w->ext_start = (int64_t)hstart;
	w->state = W_DATA;
	w->withheld = 0;
	switch (type) {
	case 'x':
		w->in_pax = 1;
		w->pax_len = size;
		w->pax.len = 0;
		w->left = padded(size);
		if (w->left == 0) {
			w->in_pax = 0;
			parse_pax(w);
			w->state = W_HDR;
		}
		return;
	case 'L':
	case 'K':
		w->left = padded(size);
		if (w->left == 0)
			w->state = W_HDR;
		return;
	case '0':
	case '\0':
	case '7':
		if (w->have_size)
			size = w->pax_size;
		if (size > UINT64_MAX - BLOCK) {
			w->state = W_TAIL;
			return;
		}
		w->left = padded(size);
		if (size > 0 && !w->noref_next && !w->noref_all) {
			s = grow(w);
			s->file = 1;
			s->off = hstart + BLOCK;
			s->len = size;
			s->hpos = (uint64_t)w->ext_start;
			w->withheld = size;
		}
		break;
	case '1': case '2': case '3': case '4': case '5': case '6':
		if (w->have_size)
			size = w->pax_size;
		/* data on these: how the unpacker skips it is not ours to
		   guess, so nothing after them is withheld */
		if (size != 0)
			w->noref_all = 1;
		w->left = padded(size);
		break;
	case 'g':
		/* global extensions: nothing after them is withheld */
		w->noref_all = 1;
		w->left = padded(size);
		if (w->left == 0)
			w->state = W_HDR;
		return;
	default:
		/* vendor types: verbatim from here on */
		w->state = W_TAIL;
		return;
	}
	w->ext_start = -1;
	w->have_size = 0;
	w->noref_next = 0;
	if (w->left == 0)
		w->state = W_HDR;
}

int
tarmap_writer_feed(struct tarmap_writer *w, const void *p, size_t n,
    char *err, size_t errlen)
{
	const unsigned char *s = p;
	size_t k = 0;

	while (n > 0) {
		switch (w->state) {
		case W_TAIL:
			return verbatim(w, s, n, err, errlen);
		case W_HDR:
			k = BLOCK - w->hlen < n ? BLOCK - w->hlen : n;
			memcpy(w->hdr + w->hlen, s, k);
			if (verbatim(w, s, k, err, errlen) == -1)
				return -1;
			w->hlen += k;
			if (w->hlen == BLOCK) {
				w->hlen = 0;
				header(w, w->off - BLOCK);
			}
			break;
		case W_DATA:
			if (w->withheld > 0) {
				k = w->withheld < n ? (size_t)w->withheld : n;
				w->withheld -= k;
				w->off += k;
			} else {
				k = w->left < n ? (size_t)w->left : n;
				if (w->in_pax && w->pax.len < w->pax_len &&
				    w->pax.len < PAX_MAX) {
					size_t c = k;

					if (c > w->pax_len - w->pax.len)
						c = (size_t)(w->pax_len -
						    w->pax.len);
					if (c > PAX_MAX - w->pax.len)
						c = PAX_MAX - w->pax.len;
					buf_add(&w->pax, s, c);
				}
				if (verbatim(w, s, k, err, errlen) == -1)
					return -1;
			}
			w->left -= k;
			if (w->left == 0) {
				w->state = W_HDR;
				if (w->in_pax) {
					w->in_pax = 0;
					parse_pax(w);
				}
			}
			break;
		}
		s += k;
		n -= k;
	}
	return 0;
}

int
tarmap_writer_file(struct tarmap_writer *w, uint64_t hpos, uint64_t dpos,
    uint64_t size, const char *path, char *err, size_t errlen)
{
	struct span *s;

	for (; w->claim < w->n; w->claim++) {
		s = &w->v[w->claim];
		if (!s->file)
			continue;
		if (s->hpos > hpos)
			return 0;	/* this entry was kept verbatim */
		if (s->hpos < hpos)
			break;
		if (s->off != dpos || s->len != size) {
			fmtpath(err, errlen, "cannot map the tarball: entry "
			    "'%s' at offset %" PRIu64 ": data at %" PRIu64
			    "+%" PRIu64 ", the walker found %" PRIu64 "+%"
			    PRIu64, path, hpos, dpos, size, s->off, s->len);
			return -1;
		}
		s->path = xstrdup(path);
		w->claim++;
		return 0;
	}
	if (w->claim == w->n)
		return 0;
	fmtpath(err, errlen, "cannot map the tarball: the data at offset %"
	    PRIu64 " (%" PRIu64 " bytes) is not a regular file's",
	    w->v[w->claim].off, w->v[w->claim].len);
	return -1;
}

int
tarmap_writer_finish(struct tarmap_writer *w, char *err, size_t errlen)
{
	char line[128], trailer[TRAILER_LEN + 1];
	uint64_t sum = 0;
	size_t i;
	int len;

	for (i = 0; i < w->n; i++) {
		struct span *s = &w->v[i];

		if (s->file && s->path == NULL) {
			fmtpath(err, errlen, "cannot map the tarball: the data "
			    "at offset %" PRIu64 " (%" PRIu64 " bytes) was "
			    "not unpacked as a regular file", s->off, s->len);
			return -1;
		}
		if (s->off != sum) {
			fmtpath(err, errlen, "cannot map the tarball: a gap "
			    "at offset %" PRIu64, sum);
			return -1;
		}
		sum += s->len;
		if (s->file)
			len = snprintf(line, sizeof line, "f %" PRIu64 " %zu ",
			    s->len, strlen(s->path));
		else
			len = snprintf(line, sizeof line, "v %" PRIu64 "\n",
			    s->len);
		if (out(w, line, (size_t)len, err, errlen) == -1 ||
		    (s->file && (out(w, s->path, strlen(s->path), err,
		    errlen) == -1 || out(w, "\n", 1, err, errlen) == -1)))
			return -1;
	}
	if (sum != w->off || w->state == W_DATA || w->hlen != 0) {
		fmtpath(err, errlen, "cannot map the tarball: it ends inside "
		    "an entry");
		return -1;
	}
	len = snprintf(trailer, sizeof trailer, TRAILER_MAGIC "%" PRIu64 " %"
	    PRIu64, w->verb, w->off);
	memset(trailer + len, ' ', TRAILER_LEN - 1 - (size_t)len);
	trailer[TRAILER_LEN - 1] = '\n';
	if (out(w, trailer, TRAILER_LEN, err, errlen) == -1)
		return -1;
	return flush(w, err, errlen);
}

/* ---- reading ---- */

struct rspan {
	uint64_t	 off, len;
	uint64_t	 boff;		/* verbatim: offset in the map file */
	char		*path;		/* a file's, or NULL */
};

struct tarmap {
	int		 mapfd, rootfd;
	uint64_t	 size;
	struct rspan	*v;
	size_t		 n;
	size_t		 last;		/* the span read last */
	int		 curfd;		/* open file of span curidx */
	size_t		 curidx;
};

static uint64_t
num(const char **p, const char *end, int *ok)
{
	uint64_t v = 0;
	const char *s = *p;

	while (*p < end && **p >= '0' && **p <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			*ok = 0;
		v = v * 10 + (uint64_t)(*(*p)++ - '0');
	}
	if (*p == s)
		*ok = 0;
	return v;
}

struct tarmap *
tarmap_open(int mapfd, int rootfd, char *err, size_t errlen)
{
	struct tarmap *m = NULL;
	struct stat sb;
	char trailer[TRAILER_LEN + 1], *table = NULL;
	const char *p, *end;
	uint64_t tableoff, size, boff = 0, off = 0, len, plen;
	size_t tlen, cap = 0;
	int ok = 1, r;

	if (fstat(mapfd, &sb) == -1 || sb.st_size < (off_t)TRAILER_LEN) {
		fmtpath(err, errlen, "the tarball's map is %s", sb.st_size <
		    (off_t)TRAILER_LEN ? "too short" : strerror(errno));
		return NULL;
	}
	if ((r = pread_full(mapfd, trailer, TRAILER_LEN, (uint64_t)sb.st_size -
	    TRAILER_LEN)) != 1 || memcmp(trailer, TRAILER_MAGIC,
	    strlen(TRAILER_MAGIC)) != 0 || trailer[TRAILER_LEN - 1] != '\n')
		goto bad;
	p = trailer + strlen(TRAILER_MAGIC);
	end = trailer + TRAILER_LEN - 1;
	tableoff = num(&p, end, &ok);
	if (p < end && *p == ' ')
		p++;
	else
		ok = 0;
	size = num(&p, end, &ok);
	while (p < end && *p == ' ')
		p++;
	if (!ok || p != end || tableoff > (uint64_t)sb.st_size - TRAILER_LEN ||
	    (uint64_t)sb.st_size - TRAILER_LEN - tableoff > TABLE_MAX)
		goto bad;
	tlen = (size_t)((uint64_t)sb.st_size - TRAILER_LEN - tableoff);
	table = xmalloc(tlen + 1);
	if (pread_full(mapfd, table, tlen, tableoff) != 1)
		goto bad;
	m = xcalloc(1, sizeof *m);
	m->mapfd = mapfd;
	m->rootfd = rootfd;
	m->size = size;
	m->curfd = -1;
	p = table;
	end = table + tlen;
	while (p < end) {
		struct rspan *s;
		char kind = *p++;

		if ((kind != 'v' && kind != 'f') || p >= end || *p++ != ' ')
			goto bad;
		len = num(&p, end, &ok);
		if (!ok || len == 0 || len > size - off)
			goto bad;
		if (m->n == cap) {
			cap = cap ? cap * 2 : 256;
			m->v = xreallocarray(m->v, cap, sizeof *m->v);
		}
		s = &m->v[m->n++];
		memset(s, 0, sizeof *s);
		s->off = off;
		s->len = len;
		off += len;
		if (kind == 'v') {
			if (p >= end || *p++ != '\n' || len > tableoff - boff)
				goto bad;
			s->boff = boff;
			boff += len;
			continue;
		}
		if (p >= end || *p++ != ' ')
			goto bad;
		plen = num(&p, end, &ok);
		if (!ok || p >= end || *p++ != ' ' || plen == 0 ||
		    plen >= (uint64_t)(end - p) || p[plen] != '\n' ||
		    memchr(p, '\0', (size_t)plen) != NULL)
			goto bad;
		s->path = xstrndup(p, (size_t)plen);
		p += plen + 1;
	}
	if (off != size || boff != tableoff)
		goto bad;
	free(table);
	return m;
bad:
	fmtpath(err, errlen, "the tarball's map is damaged");
	free(table);
	tarmap_close(m);
	return NULL;
}

uint64_t
tarmap_file_size(const char *path)
{
	char trailer[TRAILER_LEN];
	const char *p, *end;
	uint64_t size = 0;
	struct stat sb;
	int fd, ok = 1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (fstat(fd, &sb) == 0 && sb.st_size >= (off_t)TRAILER_LEN &&
	    pread_full(fd, trailer, TRAILER_LEN, (uint64_t)sb.st_size -
	    TRAILER_LEN) == 1 && memcmp(trailer, TRAILER_MAGIC,
	    strlen(TRAILER_MAGIC)) == 0) {
		p = trailer + strlen(TRAILER_MAGIC);
		end = trailer + TRAILER_LEN - 1;
		(void)num(&p, end, &ok);
		if (p < end && *p == ' ') {
			p++;
			size = num(&p, end, &ok);
		} else
			ok = 0;
		if (!ok)
			size = 0;
	}
	close(fd);
	return size;
}

uint64_t
tarmap_size(const struct tarmap *m)
{
	return m->size;
}

static size_t
find(struct tarmap *m, uint64_t off)
{
	size_t lo = 0, hi = m->n, mid;
	struct rspan *s = &m->v[m->last];

	if (off >= s->off && off - s->off < s->len)
		return m->last;
	if (m->last + 1 < m->n && off >= s[1].off && off - s[1].off < s[1].len)
		return m->last + 1;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (m->v[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

const char *
tarmap_file_at(struct tarmap *m, uint64_t off, uint64_t n, uint64_t *foff)
{
	const struct rspan *s;

	if (m->n == 0 || n == 0 || off >= m->size || n > m->size - off)
		return NULL;
	s = &m->v[find(m, off)];
	if (s->path == NULL || off < s->off || off + n > s->off + s->len)
		return NULL;
	*foff = off - s->off;
	return s->path;
}

int
tarmap_read(struct tarmap *m, uint64_t off, void *dst, size_t n, char *err,
    size_t errlen)
{
	char *d = dst;
	struct rspan *s;
	uint64_t k;
	size_t i;
	int r;

	if (off > m->size || n > m->size - off) {
		fmtpath(err, errlen, "read of %zu bytes at %" PRIu64 " beyond "
		    "the tarball (%" PRIu64 " bytes)", n, off, m->size);
		return -1;
	}
	while (n > 0) {
		i = find(m, off);
		m->last = i;
		s = &m->v[i];
		k = s->off + s->len - off;
		if (k > n)
			k = n;
		if (s->path == NULL)
			r = pread_full(m->mapfd, d, (size_t)k,
			    s->boff + (off - s->off));
		else {
			if (m->curfd == -1 || m->curidx != i) {
				if (m->curfd != -1)
					close(m->curfd);
				m->curidx = i;
				if ((m->curfd = open_beneath(m->rootfd,
				    s->path, O_RDONLY)) == -1) {
					fmtpath(err, errlen, "cannot open '%s' "
					    "of the image: %s", s->path,
					    strerror(errno));
					return -1;
				}
			}
			r = pread_full(m->curfd, d, (size_t)k, off - s->off);
		}
		if (r != 1) {
			if (s->path != NULL)
				fmtpath(err, errlen, "'%s' of the image is %s",
				    s->path, r == 0 ? "shorter than its "
				    "tarball says (changed on the node?)" :
				    strerror(errno));
			else
				fmtpath(err, errlen, "cannot read the "
				    "tarball's map: %s", r == 0 ?
				    "short file" : strerror(errno));
			return -1;
		}
		d += k;
		off += k;
		n -= (size_t)k;
	}
	return 0;
}

void
tarmap_close(struct tarmap *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	if (m->curfd != -1)
		close(m->curfd);
	free(m);
}

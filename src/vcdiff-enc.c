/*
 * vcdiff-enc: the VCDIFF encoder.  Writes only what `xdelta3 -d` accepts:
 * VCD_SOURCE windows of at most 8 MiB of target, COPYs that stay inside the
 * source segment or inside the target window, the default code table and
 * VCD_ADLER32 checksums.
 *
 * Matching: the whole source is indexed once (a hash of the 16 bytes at
 * every `stride`-th offset, one slot per bucket, 32 bytes apart up to a
 * 256 MiB base), and each target window gets hash chains over the 4-byte
 * prefixes of its own positions, so repeats inside the window become COPYs
 * from the target part.  At each target position the candidates are: the
 * continuation of the previous source match after a short edit or an
 * insertion (catches patched bytes and shifted code cheaply; when it runs
 * long nothing else is tried), the source block with the same hash, and
 * up to 16 earlier window positions; the longest after extending forwards
 * and backwards wins, with a one-byte lazy check for short matches.  Runs
 * of one byte become RUNs.  The source segment of a window spans the
 * matches it uses, so it may be the whole base when files moved.
 *
 * Speed (the master re-encodes a 50 MB image for a one-file change on
 * every deploy): a regular-file target is mapped, not copied; the index is
 * built with its slots prefetched a few blocks ahead; window chain heads
 * are cleared through a log of what was inserted instead of a 16 MiB
 * memset per window; long matches are extended with memcmp over 1 KiB
 * steps; a base up to ENC_KEEP_MAPPED stays mapped (its pages are the page
 * cache's anyway) instead of being dropped and faulted in again per window.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "vcdiff.h"
#include "vcdiff-int.h"

#define HASH_LEN	16	/* bytes hashed per index entry */
#define MIN_HASH_MATCH	12	/* shortest COPY found through an index */
#define MIN_REP_MATCH	5	/* shortest continuation of the last match */
#define MIN_RUN		8	/* shortest RUN split out of literal bytes */
#define MAX_SRC_BITS	24	/* source index: at most 2^24 slots, 64 MiB */
#define MIN_SRC_SHIFT	5	/* index every 32nd source offset, or sparser */
#define TGT_LOG_MAX	(1u << 16)	/* chain heads cleared one by one */
#define ENC_KEEP_MAPPED	(256ull << 20)	/* larger bases: pages dropped */
#define PREFETCH_AHEAD	8	/* index blocks hashed ahead of their store */

/* Page tables of a mapping filled in one call, not one fault per 64 KiB
 * (a fault costs several microseconds in a VM); older kernels refuse it
 * and the pages are faulted in as they are read. */
static void
prefault(const void *p, uint64_t len)
{
#ifdef MADV_POPULATE_READ
	if (len > 0 && len <= ENC_KEEP_MAPPED)
		(void)madvise((void *)p, (size_t)len, MADV_POPULATE_READ);
#else
	(void)p;
	(void)len;
#endif
}
#define TGT_BITS	20	/* window index: 2^20 chain heads, 4 MiB */
#define TGT_DEPTH	16	/* chain links followed per position */
#define LAZY_LEN	64	/* shorter matches are checked a byte later */


/*
 * The index tables (tens of MiB, touched at random): zeroed anonymous
 * memory, in huge pages where the kernel gives them, so that filling them
 * costs a few faults instead of one per 4 KiB page.
 */
#define HUGE_SZ	(2u << 20)

struct table {
	void	*base;
	size_t	 maplen;
};

/* huge: for a table filled densely; a sparse one (the window's chain
 * links, mostly untouched when the target matches the source) would have
 * every 2 MiB page it touches zeroed whole. */
static void *
table_alloc(struct table *t, size_t n, size_t size, int huge)
{
	uintptr_t p;

	t->maplen = n * size + HUGE_SZ;
	t->base = mmap(NULL, t->maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->base == MAP_FAILED) {
		t->base = NULL;
		return xcalloc(n, size);	/* aborts when memory is out */
	}
	p = ((uintptr_t)t->base + HUGE_SZ - 1) & ~(uintptr_t)(HUGE_SZ - 1);
#ifdef MADV_HUGEPAGE
	if (huge)
		(void)madvise((void *)p, n * size, MADV_HUGEPAGE);
#endif
#ifdef MADV_NOHUGEPAGE
	if (!huge)
		(void)madvise((void *)p, n * size, MADV_NOHUGEPAGE);
#endif
	return (void *)p;
}

static void
table_free(struct table *t, void *p)
{
	if (t->base != NULL)
		munmap(t->base, t->maplen);
	else
		free(p);
	t->base = NULL;
}

enum { OP_ADD, OP_RUN, OP_SCOPY, OP_TCOPY };

struct op {
	uint8_t		type;
	uint32_t	pos;	/* ADD, RUN: where in the window */
	uint32_t	len;
	uint64_t	addr;	/* SCOPY: source offset; TCOPY: window pos */
};

struct enc {
	const uint8_t	*src;
	uint64_t	 slen;
	uint32_t	*stab;		/* (block number + 1) << 8 | 8 hash bits,
					   0 = empty */
	struct table	 stab_t, ttab_t, tprev_t;
	unsigned	 sbits, sshift;	/* stride = 1 << sshift */
	uint32_t	*ttab;		/* chain heads: window position + 1 */
	uint32_t	*tprev;		/* chain links, one per position */
	uint32_t	*tlog;		/* heads set in this window ... */
	size_t		 ntlog;		/* ... how many; > TGT_LOG_MAX: memset */

	const uint8_t	*tw;		/* the window: in tbuf or in tmap */
	size_t		 tlen;
	uint8_t		*tbuf;		/* read buffer for a pipe target */
	const uint8_t	*tmap;		/* a regular-file target, mapped */
	uint64_t	 tmaplen, tmapoff;
	const struct vcdiff_enc_io *io;

	struct op	*ops;
	size_t		 nops, opcap;
	uint64_t	 rep;		/* last source match: src - tgt pos */
	uint64_t	 send;		/* and where it ended in the source */
	int		 have_rep;

	struct buf	 data, inst, addr, out;
	struct vcd_cache cache;
	int		 pend;		/* an instruction waits for a partner */
	unsigned	 pend_type, pend_size, pend_mode;

	uint8_t		 single_copy[VCD_MODES][19];
	uint8_t		 dbl_add_copy[5][7][VCD_MODES];	/* 0 = none */
	uint8_t		 dbl_copy_add[VCD_MODES];

	struct vcdiff_stats st;
};

static inline uint64_t
load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t
hash16(const uint8_t *p)
{
	uint64_t x;

	x = load64(p) * 0x9e3779b97f4a7c15ULL ^
	    load64(p + 8) * 0xc2b2ae3d27d4eb4fULL;
	return x ^ (x >> 31) * 0x165667b19e3779f9ULL;
}

/* Length of the common prefix of a and b, at most max. */
static inline size_t
match_fwd(const uint8_t *a, const uint8_t *b, size_t max)
{
	size_t n = 0;
	uint64_t x;

	/* a long match (most of an unchanged image) at memcmp's speed */
	if (max >= 64 && load64(a) == load64(b) && load64(a + 56) ==
	    load64(b + 56)) {
		while (n + 1024 <= max && memcmp(a + n, b + n, 1024) == 0)
			n += 1024;
	}
	while (n + 8 <= max) {
		x = load64(a + n) ^ load64(b + n);
		if (x != 0)
			return n + (size_t)(__builtin_ctzll(x) >> 3);
		n += 8;
	}
	while (n < max && a[n] == b[n])
		n++;
	return n;
}

static inline size_t
match_back(const uint8_t *a, const uint8_t *b, size_t max)
{
	size_t n = 0;

	while (n < max && a[-(ptrdiff_t)n - 1] == b[-(ptrdiff_t)n - 1])
		n++;
	return n;
}

static void
build_code_maps(struct enc *e)
{
	struct vcd_inst t[256];
	unsigned op;

	vcd_code_table(t);
	memset(e->single_copy, 0, sizeof e->single_copy);
	memset(e->dbl_add_copy, 0, sizeof e->dbl_add_copy);
	memset(e->dbl_copy_add, 0, sizeof e->dbl_copy_add);
	for (op = 0; op < 256; op++) {
		if (t[op].type1 == VCD_COPY && t[op].type2 == VCD_NOOP)
			e->single_copy[t[op].mode1][t[op].size1] = (uint8_t)op;
		else if (t[op].type1 == VCD_ADD && t[op].type2 == VCD_COPY)
			e->dbl_add_copy[t[op].size1][t[op].size2][t[op].mode2] =
			    (uint8_t)op;
		else if (t[op].type1 == VCD_COPY && t[op].type2 == VCD_ADD)
			e->dbl_copy_add[t[op].mode1] = (uint8_t)op;
	}
}

static void
put_int(struct buf *b, uint64_t v)
{
	uint8_t tmp[10];
	int n = 10;

	tmp[--n] = v & 0x7f;
	while ((v >>= 7) != 0)
		tmp[--n] = 0x80 | (v & 0x7f);
	buf_add(b, tmp + n, 10 - n);
}

static size_t
int_len(uint64_t v)
{
	size_t n = 1;

	while ((v >>= 7) != 0)
		n++;
	return n;
}

/* ---- instruction emission with the code table's pairs ---- */

static void
flush_single(struct enc *e, unsigned type, unsigned size, unsigned mode)
{
	unsigned op;

	switch (type) {
	case VCD_ADD:
		op = size >= 1 && size <= 17 ? 1 + size : 1;
		buf_addc(&e->inst, (int)op);
		if (op == 1)
			put_int(&e->inst, size);
		break;
	case VCD_RUN:
		buf_addc(&e->inst, 0);
		put_int(&e->inst, size);
		break;
	default:
		op = size >= 4 && size <= 18 ? e->single_copy[mode][size] :
		    e->single_copy[mode][0];
		buf_addc(&e->inst, (int)op);
		if (size < 4 || size > 18)
			put_int(&e->inst, size);
		break;
	}
}

static void
flush_pending(struct enc *e)
{
	if (e->pend)
		flush_single(e, e->pend_type, e->pend_size, e->pend_mode);
	e->pend = 0;
}

static void
emit_inst(struct enc *e, unsigned type, uint64_t size64, unsigned mode)
{
	unsigned size = size64 > 0xffffffffu ? 0 : (unsigned)size64;
	uint8_t op = 0;

	if (e->pend) {
		if (e->pend_type == VCD_ADD && type == VCD_COPY &&
		    e->pend_size <= 4 && size >= 4 && size <= 6)
			op = e->dbl_add_copy[e->pend_size][size][mode];
		else if (e->pend_type == VCD_COPY && e->pend_size == 4 &&
		    type == VCD_ADD && size == 1)
			op = e->dbl_copy_add[e->pend_mode];
		if (op != 0) {
			buf_addc(&e->inst, op);
			e->pend = 0;
			return;
		}
		flush_pending(e);
	}
	if (type == VCD_RUN || size64 > 18) {
		flush_single(e, type, (unsigned)size64, mode);
		return;
	}
	e->pend = 1;
	e->pend_type = type;
	e->pend_size = size;
	e->pend_mode = mode;
}

/* Writes the address of a COPY in the cheapest mode; returns the mode. */
static unsigned
emit_addr(struct enc *e, uint64_t a, uint64_t here)
{
	struct vcd_cache *c = &e->cache;
	unsigned mode = VCD_MODE_SELF, i, slot;
	uint64_t val = a;
	size_t best = int_len(a), l;

	slot = (unsigned)(a % (VCD_SAME * 256));
	if (c->same[slot] == a) {
		buf_addc(&e->addr, (int)(slot % 256));
		mode = 2 + VCD_NEAR + slot / 256;
		vcd_cache_update(c, a);
		return mode;
	}
	if ((l = int_len(here - a)) < best) {
		best = l;
		mode = VCD_MODE_HERE;
		val = here - a;
	}
	for (i = 0; i < VCD_NEAR; i++)
		if (a >= c->near[i] && (l = int_len(a - c->near[i])) < best) {
			best = l;
			mode = 2 + i;
			val = a - c->near[i];
		}
	put_int(&e->addr, val);
	vcd_cache_update(c, a);
	return mode;
}

/* ---- matching ---- */

static void
add_op(struct enc *e, unsigned type, uint32_t pos, uint32_t len,
    uint64_t addr)
{
	struct op *o;

	if (len == 0)
		return;
	if (e->nops == e->opcap) {
		e->opcap = e->opcap ? e->opcap * 2 : 1024;
		e->ops = xreallocarray(e->ops, e->opcap, sizeof *e->ops);
	}
	o = &e->ops[e->nops++];
	o->type = (uint8_t)type;
	o->pos = pos;
	o->len = len;
	o->addr = addr;
}

/* Literal bytes [a, b): ADDs, with long runs of one byte split out. */
static void
add_literal(struct enc *e, size_t a, size_t b)
{
	const uint8_t *t = e->tw;
	size_t j = a, start = a, r;

	while (j + MIN_RUN <= b) {
		if (t[j] != t[j + 1]) {
			j++;
			continue;
		}
		r = 1;
		while (j + r < b && t[j + r] == t[j])
			r++;
		if (r >= MIN_RUN) {
			add_op(e, OP_ADD, (uint32_t)start, (uint32_t)(j - start),
			    0);
			add_op(e, OP_RUN, (uint32_t)j, (uint32_t)r, 0);
			start = j + r;
		}
		j += r;
	}
	add_op(e, OP_ADD, (uint32_t)start, (uint32_t)(b - start), 0);
}

static inline uint32_t
hash4(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return (v * 2654435761u) >> (32 - TGT_BITS);
}

/* Inserts window position i into the chains of its 4-byte hash. */
static inline void
tgt_insert(struct enc *e, size_t i)
{
	uint32_t h = hash4(e->tw + i), *head = &e->ttab[h];

	e->tprev[i] = *head;
	*head = (uint32_t)i + 1;
	if (e->ntlog < TGT_LOG_MAX)
		e->tlog[e->ntlog] = h;
	e->ntlog++;
}

/* Empties the chain heads for the next window. */
static void
tgt_clear(struct enc *e)
{
	size_t k;

	if (e->ntlog > TGT_LOG_MAX)
		memset(e->ttab, 0, sizeof *e->ttab << TGT_BITS);
	else
		for (k = 0; k < e->ntlog; k++)
			e->ttab[e->tlog[k]] = 0;
	e->ntlog = 0;
}

/* The cheapest worthwhile COPY from the window itself, dist bytes back. */
static inline size_t
tgt_min_len(size_t dist)
{
	return dist < 128 ? 4 : dist < 16384 ? 5 : 6;
}

struct cand {
	size_t		len, fwd, back;
	uint64_t	addr;	/* source offset or window position */
	int		src;
};

static inline void
try_src(struct cand *b, const uint8_t *src, uint64_t slen, uint64_t s,
    const uint8_t *t, size_t i, size_t n, size_t maxb, size_t min)
{
	size_t fwd, back;

	if (s > slen || slen - s < 8 || load64(src + s) != load64(t + i))
		return;
	fwd = match_fwd(src + s, t + i, slen - s < n - i ? slen - s : n - i);
	back = match_back(src + s, t + i, s < maxb ? s : maxb);
	if (fwd + back > b->len && fwd + back >= min) {
		b->len = fwd + back;
		b->fwd = fwd;
		b->back = back;
		b->addr = s;
		b->src = 1;
	}
}

/* The longest match at window position i (bytes before lit are taken). */
static void
best_at(struct enc *e, size_t i, size_t lit, struct cand *b)
{
	const uint8_t *t = e->tw, *src = e->src;
	const size_t n = e->tlen, maxb = i - lit;
	const uint64_t slen = e->slen;
	const unsigned sbits = e->sbits;
	size_t fwd, back, depth, k;
	uint64_t h;
	uint32_t c;

	memset(b, 0, sizeof *b);
	if (e->have_rep) {
		/* 1. the last match continued after a small edit, or right
		 * where it stopped (bytes inserted) */
		try_src(b, src, slen, e->rep + i, t, i, n, maxb,
		    MIN_REP_MATCH);
		if (e->send != e->rep + i)
			try_src(b, src, slen, e->send, t, i, n, maxb,
			    MIN_REP_MATCH);
		/* the unchanged rest of a file, or of the image: no other
		 * candidate is worth its cache misses */
		if (b->fwd >= 256)
			return;
	}
	/* 2. a source block with the same hash */
	if (e->stab != NULL) {
		h = hash16(t + i);
		c = e->stab[h >> (64 - sbits)];
		/* the low byte holds 8 more hash bits: most misses never
		 * touch the source */
		if (c != 0 && (c & 0xff) == (h >> (56 - sbits) & 0xff))
			try_src(b, src, slen,
			    (uint64_t)((c >> 8) - 1) << e->sshift, t, i, n,
			    maxb, MIN_HASH_MATCH);
	}
	/* 3. earlier positions of this window with the same 4 bytes */
	c = e->ttab[hash4(t + i)];
	for (depth = 0; c != 0 && depth < TGT_DEPTH;
	    depth++, c = e->tprev[c - 1]) {
		k = c - 1;
		if (memcmp(t + k, t + i, 4) != 0)
			continue;
		fwd = match_fwd(t + k, t + i, n - i);
		if (fwd + 8 <= b->len)
			continue;
		back = match_back(t + k, t + i, k < maxb ? k : maxb);
		if (fwd + back > b->len + 1 &&
		    fwd + back >= tgt_min_len(i - k)) {
			b->len = fwd + back;
			b->fwd = fwd;
			b->back = back;
			b->addr = k;
			b->src = 0;
		}
		if (fwd >= 256)
			break;
	}
}

static void
find_matches(struct enc *e)
{
	const uint8_t *t = e->tw;
	const size_t n = e->tlen;
	size_t i = 0, lit = 0, fwd, k, end;
	struct cand b, b2;

	tgt_clear(e);
	e->nops = 0;
	e->have_rep = 0;
	while (i + HASH_LEN <= n) {
		best_at(e, i, lit, &b);
		tgt_insert(e, i);

		/* a run of one byte: a RUN is cheaper to write and to apply
		 * than an overlapping COPY, unless a match covers clearly
		 * more */
		if (load64(t + i) == 0x0101010101010101ULL * t[i]) {
			fwd = 8;
			while (i + fwd < n && t[i + fwd] == t[i])
				fwd++;
			if (fwd >= 2 * MIN_RUN && fwd + 8 >= b.len) {
				add_literal(e, lit, i);
				add_op(e, OP_RUN, (uint32_t)i, (uint32_t)fwd, 0);
				i += fwd;
				lit = i;
				continue;
			}
		}
		if (b.len == 0) {
			/* Deep in new bytes, probe every 3rd, 5th, 7th
			 * position: steps prime to the source stride still
			 * meet every alignment of a long match, and backward
			 * extension recovers its start. */
			k = (i - lit) >> 10;
			i += k == 0 ? 1 : k == 1 ? 3 : k == 2 ? 5 : 7;
			continue;
		}
		/* lazy: a short match loses to one that starts a byte later
		 * and reaches further */
		if (b.fwd < LAZY_LEN && i + 1 + HASH_LEN <= n) {
			best_at(e, i + 1, lit, &b2);
			if (b2.len > 0 && b2.fwd >= b.fwd + 2) {
				tgt_insert(e, i + 1);
				i++;
				b = b2;
			}
		}
		add_literal(e, lit, i - b.back);
		add_op(e, b.src ? OP_SCOPY : OP_TCOPY,
		    (uint32_t)(i - b.back), (uint32_t)b.len,
		    b.addr - b.back);
		if (b.src) {
			e->rep = b.addr - i;
			e->send = b.addr + b.fwd;
			e->have_rep = 1;
		}
		/* index the start of the match too: short repeats matter */
		end = i + b.fwd;
		for (k = i + 1; k < end && k < i + 32 && k + 4 <= n; k++)
			tgt_insert(e, k);
		i = end;
		lit = i;
	}
	add_literal(e, lit, n);
}

/* ---- windows ---- */

/* The vcdiff_encode output: a file descriptor. */
static int
fd_write(void *arg, const void *p, size_t n, char *err, size_t errlen)
{
	const uint8_t *q = p;
	int fd = *(int *)arg;
	ssize_t w;

	while (n > 0) {
		w = write(fd, q, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			snprintf(err, errlen, "cannot write the delta: %s",
			    strerror(errno));
			return -1;
		}
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
encode_window(struct enc *e, char *err, size_t errlen)
{
	uint64_t segpos = UINT64_MAX, segend = 0, seglen, here, a;
	uint32_t ck;
	size_t k, enclen;
	struct op *o;
	unsigned mode;
	uint8_t ind;

	find_matches(e);
	for (k = 0; k < e->nops; k++) {
		o = &e->ops[k];
		if (o->type != OP_SCOPY)
			continue;
		if (o->addr < segpos)
			segpos = o->addr;
		if (o->addr + o->len > segend)
			segend = o->addr + o->len;
	}
	seglen = segpos == UINT64_MAX ? 0 : segend - segpos;

	buf_reset(&e->data);
	buf_reset(&e->inst);
	buf_reset(&e->addr);
	vcd_cache_reset(&e->cache);
	e->pend = 0;
	here = seglen;
	for (k = 0; k < e->nops; k++) {
		o = &e->ops[k];
		switch (o->type) {
		case OP_ADD:
			buf_add(&e->data, e->tw + o->pos, o->len);
			emit_inst(e, VCD_ADD, o->len, 0);
			e->st.add_bytes += o->len;
			break;
		case OP_RUN:
			buf_addc(&e->data, e->tw[o->pos]);
			emit_inst(e, VCD_RUN, o->len, 0);
			e->st.run_bytes += o->len;
			break;
		default:
			a = o->type == OP_SCOPY ? o->addr - segpos :
			    seglen + o->addr;
			mode = emit_addr(e, a, here);
			emit_inst(e, VCD_COPY, o->len, mode);
			e->st.copy_bytes += o->len;
			break;
		}
		here += o->len;
	}
	flush_pending(e);
	ck = vcdiff_adler32(1, e->tw, e->tlen);

	ind = VCD_ADLER32 | (seglen > 0 ? VCD_SOURCE : 0);
	enclen = int_len(e->tlen) + 1 + int_len(e->data.len) +
	    int_len(e->inst.len) + int_len(e->addr.len) + 4 +
	    e->data.len + e->inst.len + e->addr.len;
	buf_reset(&e->out);
	buf_addc(&e->out, ind);
	if (seglen > 0) {
		put_int(&e->out, seglen);
		put_int(&e->out, segpos);
	}
	put_int(&e->out, enclen);
	put_int(&e->out, e->tlen);
	buf_addc(&e->out, 0);
	put_int(&e->out, e->data.len);
	put_int(&e->out, e->inst.len);
	put_int(&e->out, e->addr.len);
	buf_addc(&e->out, (int)(ck >> 24));
	buf_addc(&e->out, (int)(ck >> 16 & 0xff));
	buf_addc(&e->out, (int)(ck >> 8 & 0xff));
	buf_addc(&e->out, (int)(ck & 0xff));
	buf_add(&e->out, e->data.data, e->data.len);
	buf_add(&e->out, e->inst.data, e->inst.len);
	buf_add(&e->out, e->addr.data, e->addr.len);
	if (e->io->write(e->io->arg, e->out.data, e->out.len, err,
	    errlen) == -1)
		return -1;
	e->st.delta_len += e->out.len;
	e->st.windows++;
	e->st.target_len += e->tlen;
	return 0;
}

static void
index_source(struct enc *e)
{
	uint64_t nblocks, k, stride, h, hq[PREFETCH_AHEAD];
	unsigned bits, q;

	if (e->slen < HASH_LEN)
		return;
	e->sshift = MIN_SRC_SHIFT;
	while (((e->slen - HASH_LEN) >> e->sshift) + 1 >
	    ((uint64_t)1 << (MAX_SRC_BITS - 1)))
		e->sshift++;
	stride = (uint64_t)1 << e->sshift;
	nblocks = ((e->slen - HASH_LEN) >> e->sshift) + 1;
	for (bits = 10; bits < MAX_SRC_BITS &&
	    ((uint64_t)1 << bits) < nblocks * 2; bits++)
		;
	e->sbits = bits;
	e->stab = table_alloc(&e->stab_t, (size_t)1 << bits, sizeof *e->stab,
	    1);
	/* Backwards, so the first of equal blocks wins.  The table is far
	 * larger than the caches: each slot is prefetched PREFETCH_AHEAD
	 * blocks before it is stored, so the misses overlap. */
	for (q = 0; q < PREFETCH_AHEAD; q++)
		hq[q] = 0;
	for (k = nblocks + PREFETCH_AHEAD; k-- > 0;) {
		q = (unsigned)(k % PREFETCH_AHEAD);
		if (k < nblocks) {
			h = hq[q];
			e->stab[h >> (64 - bits)] = (uint32_t)(k + 1) << 8 |
			    (uint32_t)(h >> (56 - bits) & 0xff);
			if (e->slen > ENC_KEEP_MAPPED &&
			    (k * stride & ((16u << 20) - 1)) < stride)
				vcdiff_drop_pages(e->src, k * stride,
				    e->slen - k * stride);
		}
		if (k >= PREFETCH_AHEAD) {
			h = hash16(e->src + (k - PREFETCH_AHEAD) * stride);
			hq[q] = h;
			__builtin_prefetch(&e->stab[h >> (64 - bits)], 1);
		}
	}
}

static ssize_t
read_full(int fd, uint8_t *p, size_t n)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = read(fd, p + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/*
 * The next target window into e->tw/e->tlen: a slice of the mapping, or
 * read into tbuf.  0, or -1 with err set.
 */
static int
next_window(struct enc *e, int target_fd, char *err, size_t errlen)
{
	ssize_t n;

	if (e->tmap != NULL) {
		uint64_t left = e->tmaplen - e->tmapoff;

		e->tw = e->tmap + e->tmapoff;
		e->tlen = left < VCDIFF_ENC_WINDOW ? (size_t)left :
		    VCDIFF_ENC_WINDOW;
		e->tmapoff += e->tlen;
		return 0;
	}
	if ((n = read_full(target_fd, e->tbuf, VCDIFF_ENC_WINDOW)) < 0) {
		snprintf(err, errlen, "cannot read the target: %s",
		    strerror(errno));
		return -1;
	}
	e->tw = e->tbuf;
	e->tlen = (size_t)n;
	return 0;
}

/* Maps a regular-file target read from its start; else it is read. */
static void
map_target(struct enc *e, int target_fd)
{
	struct stat sb;
	void *m;

	if (fstat(target_fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size == 0 || (uint64_t)sb.st_size > SIZE_MAX ||
	    lseek(target_fd, 0, SEEK_CUR) != 0)
		return;
	m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, target_fd,
	    0);
	if (m == MAP_FAILED)
		return;
	prefault(m, (uint64_t)sb.st_size);
	e->tmap = m;
	e->tmaplen = (uint64_t)sb.st_size;
}

int
vcdiff_encode_cb(int source_fd, int target_fd, const struct vcdiff_enc_io *io,
    struct vcdiff_stats *st, char *err, size_t errlen)
{
	static const uint8_t hdr[5] = { VCD_MAGIC0, VCD_MAGIC1, VCD_MAGIC2,
	    0, 0 };
	struct enc e;
	int rc = -1, held = 0;

	memset(&e, 0, sizeof e);
	e.io = io;
	buf_init(&e.data);
	buf_init(&e.inst);
	buf_init(&e.addr);
	buf_init(&e.out);
	build_code_maps(&e);
	if (vcdiff_map_source(source_fd, &e.src, &e.slen, err, errlen) == -1)
		return -1;
	if (e.slen > 0)
		prefault(e.src, e.slen);
	index_source(&e);
	if (e.slen > ENC_KEEP_MAPPED)
		vcdiff_drop_pages(e.src, 0, e.slen);
	map_target(&e, target_fd);
	e.ttab = table_alloc(&e.ttab_t, (size_t)1 << TGT_BITS, sizeof *e.ttab,
	    1);
	e.tlog = xreallocarray(NULL, TGT_LOG_MAX, sizeof *e.tlog);
	e.tprev = table_alloc(&e.tprev_t, VCDIFF_ENC_WINDOW, sizeof *e.tprev,
	    0);
	if (e.tmap == NULL)
		e.tbuf = xmalloc(VCDIFF_ENC_WINDOW);
	if (io->write(io->arg, hdr, sizeof hdr, err, errlen) == -1)
		goto out;
	e.st.delta_len = sizeof hdr;
	for (;;) {
		if (next_window(&e, target_fd, err, errlen) == -1)
			goto out;
		/* An empty target still gets one (empty) window, as
		 * xdelta3 writes it. */
		if (e.tlen == 0 && e.st.windows > 0)
			break;
		if (io->target != NULL && e.tlen > 0) {
			io->target(io->arg, e.tw, e.tlen);
			held = 1;
		}
		if (encode_window(&e, err, errlen) == -1)
			goto out;
		if (held)
			io->target(io->arg, NULL, 0);
		held = 0;
		if (e.slen > ENC_KEEP_MAPPED)
			vcdiff_drop_pages(e.src, 0, e.slen);
		if (e.tmap != NULL && e.tmaplen > ENC_KEEP_MAPPED)
			vcdiff_drop_pages(e.tmap, 0, e.tmapoff);
		if (e.tlen < VCDIFF_ENC_WINDOW)
			break;
	}
	rc = 0;
out:
	if (held)
		io->target(io->arg, NULL, 0);
	e.st.source_len = e.slen;
	if (st != NULL)
		*st = e.st;
	if (e.src != NULL && e.slen > 0)
		munmap((void *)e.src, (size_t)e.slen);
	if (e.tmap != NULL)
		munmap((void *)e.tmap, (size_t)e.tmaplen);
	if (e.stab != NULL)
		table_free(&e.stab_t, e.stab);
	table_free(&e.ttab_t, e.ttab);
	free(e.tlog);
	table_free(&e.tprev_t, e.tprev);
	free(e.tbuf);
	free(e.ops);
	buf_release(&e.data);
	buf_release(&e.inst);
	buf_release(&e.addr);
	buf_release(&e.out);
	return rc;
}

int
vcdiff_encode(int source_fd, int target_fd, int out_fd,
    struct vcdiff_stats *st, char *err, size_t errlen)
{
	struct vcdiff_enc_io io = { fd_write, NULL, &out_fd };

	return vcdiff_encode_cb(source_fd, target_fd, &io, st, err, errlen);
}

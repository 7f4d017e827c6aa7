/*
 * vcdiff-enc: the VCDIFF encoder.  Writes only what `xdelta3 -d` accepts:
 * VCD_SOURCE windows of at most 8 MiB of target, COPYs that stay inside the
 * source segment or inside the target window, the default code table and
 * VCD_ADLER32 checksums.
 *
 * Matching: the whole source is indexed once (a hash of the 16 bytes at
 * every `stride`-th offset, one slot per bucket), and each target window
 * gets a small index of its own positions so repeats inside the window
 * become COPYs from the target part.  At each target position three
 * candidates are tried: the continuation of the previous match after a
 * short edit (catches patched bytes and shifted code cheaply), the source
 * block with the same hash, and the earlier window position with the same
 * hash; the longest after extending forwards and backwards wins (greedy).
 * The source segment of a window spans the matches it uses, so it may be
 * the whole base when files moved.
 */
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
#define TGT_BITS	22	/* window index: 2^22 chain heads, 16 MiB */
#define TGT_DEPTH	16	/* chain links followed per position */

int	vcdiff_map_source(int fd, const uint8_t **p, uint64_t *len,
	    char *err, size_t errlen);

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
	uint32_t	*stab;		/* block number + 1, 0 = empty */
	unsigned	 sbits, sshift;	/* stride = 1 << sshift */
	uint32_t	*ttab;		/* chain heads: window position + 1 */
	uint32_t	*tprev;		/* chain links, one per position */

	uint8_t		*tw;
	size_t		 tlen;

	struct op	*ops;
	size_t		 nops, opcap;

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
	const struct vcd_inst *t = vcd_code_table();
	unsigned op;

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
	uint32_t *head = &e->ttab[hash4(e->tw + i)];

	e->tprev[i] = *head;
	*head = (uint32_t)i + 1;
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

static void
find_matches(struct enc *e)
{
	const uint8_t *t = e->tw, *src = e->src;
	const size_t n = e->tlen;
	const uint64_t slen = e->slen;
	const unsigned sshift = e->sshift, sbits = e->sbits;
	size_t i = 0, lit = 0, fwd, back, maxb, depth, k, end;
	uint64_t rep = 0, send = 0;	/* rep: src pos - tgt pos */
	uint32_t c;
	int have_rep = 0;
	struct cand b;

	memset(e->ttab, 0, sizeof *e->ttab << TGT_BITS);
	e->nops = 0;
	while (i + HASH_LEN <= n) {
		memset(&b, 0, sizeof b);
		maxb = i - lit;

		if (have_rep) {
			/* 1. the last match continued after a small edit,
			 * or right where it stopped (bytes inserted) */
			try_src(&b, src, slen, rep + i, t, i, n, maxb,
			    MIN_REP_MATCH);
			if (send != rep + i)
				try_src(&b, src, slen, send, t, i, n, maxb,
				    MIN_REP_MATCH);
		}
		/* 2. a source block with the same hash */
		if (e->stab != NULL &&
		    (c = e->stab[hash16(t + i) >> (64 - sbits)]) != 0)
			try_src(&b, src, slen, (uint64_t)(c - 1) << sshift, t, i,
			    n, maxb, MIN_HASH_MATCH);
		/* 3. earlier positions of this window with the same 4 bytes */
		c = e->ttab[hash4(t + i)];
		for (depth = 0; c != 0 && depth < TGT_DEPTH;
		    depth++, c = e->tprev[c - 1]) {
			k = c - 1;
			if (memcmp(t + k, t + i, 4) != 0)
				continue;
			fwd = match_fwd(t + k, t + i, n - i);
			if (fwd + 8 <= b.len)
				continue;
			back = match_back(t + k, t + i, k < maxb ? k : maxb);
			if (fwd + back > b.len + 1 &&
			    fwd + back >= tgt_min_len(i - k)) {
				b.len = fwd + back;
				b.fwd = fwd;
				b.back = back;
				b.addr = k;
				b.src = 0;
			}
			if (fwd >= 256)
				break;
		}
		tgt_insert(e, i);

		/* 4. a run of one byte: a RUN is cheaper to write and to
		 * apply than an overlapping COPY, unless a match covers
		 * clearly more */
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
		add_literal(e, lit, i - b.back);
		add_op(e, b.src ? OP_SCOPY : OP_TCOPY,
		    (uint32_t)(i - b.back), (uint32_t)b.len,
		    b.addr - b.back);
		if (b.src) {
			rep = b.addr - i;
			send = b.addr + b.fwd;
			have_rep = 1;
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

static int
write_all(int fd, const void *p, size_t n, char *err, size_t errlen)
{
	const uint8_t *q = p;
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
encode_window(struct enc *e, int out_fd, char *err, size_t errlen)
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
	if (write_all(out_fd, e->out.data, e->out.len, err, errlen) == -1)
		return -1;
	e->st.delta_len += e->out.len;
	e->st.windows++;
	e->st.target_len += e->tlen;
	return 0;
}

static void
index_source(struct enc *e)
{
	uint64_t nblocks, k, stride;
	unsigned bits;

	if (e->slen < HASH_LEN)
		return;
	e->sshift = 4;
	while (((e->slen - HASH_LEN) >> e->sshift) + 1 >
	    ((uint64_t)1 << (MAX_SRC_BITS - 1)))
		e->sshift++;
	stride = (uint64_t)1 << e->sshift;
	nblocks = ((e->slen - HASH_LEN) >> e->sshift) + 1;
	for (bits = 10; bits < MAX_SRC_BITS &&
	    ((uint64_t)1 << bits) < nblocks * 2; bits++)
		;
	e->sbits = bits;
	e->stab = xcalloc((size_t)1 << bits, sizeof *e->stab);
	/* Backwards, so the first of equal blocks wins. */
	for (k = nblocks; k-- > 0;)
		e->stab[hash16(e->src + k * stride) >> (64 - bits)] =
		    (uint32_t)k + 1;
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

int
vcdiff_encode(int source_fd, int target_fd, int out_fd,
    struct vcdiff_stats *st, char *err, size_t errlen)
{
	static const uint8_t hdr[5] = { VCD_MAGIC0, VCD_MAGIC1, VCD_MAGIC2,
	    0, 0 };
	struct enc e;
	ssize_t n;
	int rc = -1;

	memset(&e, 0, sizeof e);
	buf_init(&e.data);
	buf_init(&e.inst);
	buf_init(&e.addr);
	buf_init(&e.out);
	build_code_maps(&e);
	if (vcdiff_map_source(source_fd, &e.src, &e.slen, err, errlen) == -1)
		return -1;
	index_source(&e);
	e.ttab = xmalloc(sizeof *e.ttab << TGT_BITS);
	e.tprev = xreallocarray(NULL, VCDIFF_ENC_WINDOW, sizeof *e.tprev);
	e.tw = xmalloc(VCDIFF_ENC_WINDOW);
	if (write_all(out_fd, hdr, sizeof hdr, err, errlen) == -1)
		goto out;
	e.st.delta_len = sizeof hdr;
	for (;;) {
		if ((n = read_full(target_fd, e.tw, VCDIFF_ENC_WINDOW)) < 0) {
			snprintf(err, errlen, "cannot read the target: %s",
			    strerror(errno));
			goto out;
		}
		/* An empty target still gets one (empty) window, as
		 * xdelta3 writes it. */
		if (n == 0 && e.st.windows > 0)
			break;
		e.tlen = (size_t)n;
		if (encode_window(&e, out_fd, err, errlen) == -1)
			goto out;
		if ((size_t)n < VCDIFF_ENC_WINDOW)
			break;
	}
	rc = 0;
out:
	e.st.source_len = e.slen;
	if (st != NULL)
		*st = e.st;
	if (e.src != NULL && e.slen > 0)
		munmap((void *)e.src, (size_t)e.slen);
	free(e.stab);
	free(e.ttab);
	free(e.tprev);
	free(e.tw);
	free(e.ops);
	buf_release(&e.data);
	buf_release(&e.inst);
	buf_release(&e.addr);
	buf_release(&e.out);
	return rc;
}

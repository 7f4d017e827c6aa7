/*
 * vcdiff: the VCDIFF decoder (RFC 3284 plus xdelta3's extensions), the
 * default code table and Adler-32.  The encoder lives in vcdiff-enc.c.
 *
 * The delta is read window by window: each window's delta encoding is read
 * whole (its length is checked first and the buffer grows only as bytes
 * actually arrive), decoded into one target buffer of at most 16 MiB, checked
 * and written out.  A source file is mapped, never copied; a source read by
 * offset (vcdiff_reader_open_src) gives each COPY exactly its bytes, read
 * straight into the target window, since a segment can be the whole base.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "buf.h"
#include "vcdiff.h"
#include "vcdiff-int.h"

/* Largest delta encoding of one window: sections can each be about as big
 * as the target window, plus a little. */
#define MAX_BODY	((uint64_t)VCDIFF_MAX_WINDOW * 4 + 4096)
/* Largest VCD_TARGET segment we read back from the output. */
#define MAX_TARGET_SEG	((uint64_t)64 << 20)

/*
 * RFC 3284 section 5.6, built the way the RFC lists it, into the caller's
 * array (no shared state: encoders and decoders may run in threads).
 */
void
vcd_code_table(struct vcd_inst t[256])
{
	unsigned i = 0, mode, size, s1, s2;

	memset(t, 0, 256 * sizeof *t);
	t[i].type1 = VCD_RUN;			/* 0: RUN, size 0 */
	i++;
	for (size = 0; size <= 17; size++, i++) {	/* 1-18: ADD 0,1..17 */
		t[i].type1 = VCD_ADD;
		t[i].size1 = size;
	}
	for (mode = 0; mode < VCD_MODES; mode++) {	/* 19-162: COPY */
		t[i].type1 = VCD_COPY;
		t[i].mode1 = mode;
		i++;
		for (size = 4; size <= 18; size++, i++) {
			t[i].type1 = VCD_COPY;
			t[i].size1 = size;
			t[i].mode1 = mode;
		}
	}
	for (mode = 0; mode < VCD_MODES; mode++)	/* 163-246: ADD+COPY */
		for (s1 = 1; s1 <= 4; s1++)
			for (s2 = 4; s2 <= (mode < 6 ? 6u : 4u); s2++, i++) {
				t[i].type1 = VCD_ADD;
				t[i].size1 = s1;
				t[i].type2 = VCD_COPY;
				t[i].size2 = s2;
				t[i].mode2 = mode;
			}
	for (mode = 0; mode < VCD_MODES; mode++, i++) {	/* 247-255: COPY+ADD */
		t[i].type1 = VCD_COPY;
		t[i].size1 = 4;
		t[i].mode1 = mode;
		t[i].type2 = VCD_ADD;
		t[i].size2 = 1;
	}
}

#define ADLER_BASE	65521u
#define ADLER_NMAX	5552	/* bytes before the sums may overflow */

#ifdef __SSE2__
/*
 * 16 bytes at a time (SSE2 is in every x86-64): for a block p[0..15]
 * entered with sums a, b: a += sum p[i], b += 16 a + sum (16 - i) p[i].
 * Over n blocks the 16 a terms add up to 16 (n a0 + the a-sums before
 * each block), kept in ps.  About 4x the scalar loop, which the encoder
 * and a decoder checking every window both run over the whole image.
 */
static void
adler_blocks(uint32_t *pa, uint32_t *pb, const uint8_t *p, size_t nblk)
{
	const __m128i zero = _mm_setzero_si128();
	const __m128i w_lo = _mm_set_epi16(9, 10, 11, 12, 13, 14, 15, 16);
	const __m128i w_hi = _mm_set_epi16(1, 2, 3, 4, 5, 6, 7, 8);
	__m128i s1 = zero, s2 = zero, ps = zero, v;
	uint32_t l1[4], l2[4], lp[4];
	uint64_t a = *pa, b = *pb;
	size_t k;

	for (k = 0; k < nblk; k++, p += 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)p);
		ps = _mm_add_epi32(ps, s1);
		s1 = _mm_add_epi32(s1, _mm_sad_epu8(v, zero));
		s2 = _mm_add_epi32(s2, _mm_madd_epi16(_mm_unpacklo_epi8(v,
		    zero), w_lo));
		s2 = _mm_add_epi32(s2, _mm_madd_epi16(_mm_unpackhi_epi8(v,
		    zero), w_hi));
	}
	_mm_storeu_si128((__m128i *)(void *)l1, s1);
	_mm_storeu_si128((__m128i *)(void *)l2, s2);
	_mm_storeu_si128((__m128i *)(void *)lp, ps);
	b += 16 * (uint64_t)nblk * a + 16 * ((uint64_t)lp[0] + lp[2]) +
	    (uint64_t)l2[0] + l2[1] + l2[2] + l2[3];
	a += (uint64_t)l1[0] + l1[2];
	*pa = (uint32_t)(a % ADLER_BASE);
	*pb = (uint32_t)(b % ADLER_BASE);
}
#endif

uint32_t
vcdiff_adler32(uint32_t adler, const uint8_t *p, size_t len)
{
	uint32_t a = adler & 0xffff, b = adler >> 16;
	size_t n, k;

#ifdef __SSE2__
	while (len >= 16) {
		n = len < ADLER_NMAX ? len / 16 : ADLER_NMAX / 16;
		adler_blocks(&a, &b, p, n);
		p += n * 16;
		len -= n * 16;
	}
#endif
	while (len > 0) {
		n = len < 5552 ? len : 5552;
		len -= n;
		for (k = 0; k + 8 <= n; k += 8) {
			a += p[0]; b += a;
			a += p[1]; b += a;
			a += p[2]; b += a;
			a += p[3]; b += a;
			a += p[4]; b += a;
			a += p[5]; b += a;
			a += p[6]; b += a;
			a += p[7]; b += a;
			p += 8;
		}
		for (; k < n; k++) {
			a += *p++;
			b += a;
		}
		a %= 65521;
		b %= 65521;
	}
	return (b << 16) | a;
}

/* ---- decoder ---- */

#define MAX_SAME	(1u << 20)	/* ranges kept; the rest: unknown */

struct dec {
	/* input: a file descriptor through rbuf, or memory */
	int		 in_fd;
	const uint8_t	*in_mem;
	size_t		 in_len, in_pos;
	uint8_t		*rbuf;
	size_t		 rpos, rlen;
	uint64_t	 consumed;

	const uint8_t	*src;		/* mapped or in memory, or NULL */
	uint64_t	 srclen;
	int		 src_mapped;	/* by us: drop pages after use */
	struct vcdiff_source cb;	/* read by offset if cb.read != NULL */

	int		 out_fd;
	struct buf	*out;
	size_t		 out_base;	/* out->len when we started */
	uint64_t	 produced;

	struct buf	 body;
	uint8_t		*tw;
	size_t		 twcap;
	uint8_t		*tseg;
	size_t		 tsegcap;

	struct vcd_inst	 table[256];
	struct vcdiff_stats st;
	uint32_t	 win;		/* current window, from 0 */
	int		 in_window;
	int		 no_adler;	/* the caller checks the whole target */
	size_t		 last_len;	/* target bytes of the last window */
	int		 cur_src;	/* this window's segment: the source */
	/* target ranges copied from the source at the same offsets, in
	   order, adjacent ones merged (vcdiff_reader_same) */
	struct vcd_same { uint64_t off, len; } *same;
	size_t		 nsame, capsame;
	char		*err;
	size_t		 errlen;
};

static int
derr(struct dec *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
derr(struct dec *d, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (d->errlen == 0)
		return -1;
	if (d->in_window)
		n = snprintf(d->err, d->errlen, "window %u: ", d->win);
	if (n < 0 || (size_t)n >= d->errlen)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(d->err + n, d->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Returns 1 with a byte, 0 at end of input, -1 on a read error. */
static int
in_fill(struct dec *d)
{
	ssize_t n;

	if (d->in_mem != NULL || d->in_fd < 0)
		return 0;
	for (;;) {
		n = read(d->in_fd, d->rbuf, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return derr(d, "cannot read the delta: %s",
			    strerror(errno));
		d->rpos = 0;
		d->rlen = (size_t)n;
		return n > 0;
	}
}

static int
in_byte(struct dec *d, uint8_t *b)
{
	int r;

	if (d->in_mem != NULL) {
		if (d->in_pos >= d->in_len)
			return 0;
		*b = d->in_mem[d->in_pos++];
		d->consumed++;
		return 1;
	}
	if (d->rpos >= d->rlen && (r = in_fill(d)) <= 0)
		return r;
	*b = d->rbuf[d->rpos++];
	d->consumed++;
	return 1;
}

static int
in_need_byte(struct dec *d, uint8_t *b, const char *what)
{
	int r;

	if ((r = in_byte(d, b)) < 0)
		return -1;
	if (r == 0)
		return derr(d, "truncated delta: end of input in %s", what);
	return 0;
}

/* RFC 3284 section 2: base 128, most significant digit first. */
static int
in_int(struct dec *d, uint64_t *v, const char *what)
{
	uint64_t x = 0;
	uint8_t b = 0;
	int i;

	for (i = 0; i < 10; i++) {
		if (in_need_byte(d, &b, what) == -1)
			return -1;
		if (x >> 57)
			break;
		x = (x << 7) | (b & 0x7f);
		if ((b & 0x80) == 0) {
			*v = x;
			return 0;
		}
	}
	return derr(d, "integer overflow in %s", what);
}

/* Appends n bytes of input to dst, growing it only as bytes arrive. */
static int
in_read(struct dec *d, struct buf *dst, uint64_t n, const char *what)
{
	size_t k;
	int r;

	if (d->in_mem != NULL) {
		if (n > d->in_len - d->in_pos)
			return derr(d, "truncated delta: %s wants %llu bytes, "
			    "%zu left", what, (unsigned long long)n,
			    d->in_len - d->in_pos);
		if (dst != NULL)
			buf_add(dst, d->in_mem + d->in_pos, (size_t)n);
		d->in_pos += (size_t)n;
		d->consumed += n;
		return 0;
	}
	while (n > 0) {
		if (d->rpos >= d->rlen) {
			if ((r = in_fill(d)) < 0)
				return -1;
			if (r == 0)
				return derr(d, "truncated delta: end of input "
				    "in %s", what);
		}
		k = d->rlen - d->rpos;
		if (k > n)
			k = (size_t)n;
		if (dst != NULL)
			buf_add(dst, d->rbuf + d->rpos, k);
		d->rpos += k;
		d->consumed += k;
		n -= k;
	}
	return 0;
}

/* A cursor over one section of a window, for the instruction loop. */
struct cur {
	const uint8_t	*p, *end;
};

static int
cur_int(struct cur *c, uint64_t *v)
{
	uint64_t x = 0;
	int i;

	for (i = 0; i < 10 && c->p < c->end; i++) {
		uint8_t b = *c->p++;

		if (x >> 57)
			return -1;
		x = (x << 7) | (b & 0x7f);
		if ((b & 0x80) == 0) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static int
out_write(struct dec *d, const uint8_t *p, size_t n)
{
	ssize_t w;

	if (d->out != NULL) {
		buf_add(d->out, p, n);
		return 0;
	}
	if (d->out_fd < 0)	/* the caller takes the windows themselves */
		return 0;
	while (n > 0) {
		w = write(d->out_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;

			derr(d, "cannot write the output: %s", strerror(e));
			errno = e;	/* ENOSPC tells a full disk */
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static const char *
type_name(int type)
{
	return type == VCD_ADD ? "ADD" : type == VCD_RUN ? "RUN" : "COPY";
}

/* n bytes of the callback source at off into dst; the caller checked the
 * range against the segment, which decode_window checked against len. */
static int
src_read(struct dec *d, uint64_t off, uint8_t *dst, size_t n)
{
	char msg[256];

	msg[0] = '\0';
	if (d->cb.read(d->cb.arg, off, dst, n, msg, sizeof msg) == 0)
		return 0;
	return derr(d, "cannot read %zu bytes of the source at offset %llu: %s",
	    n, (unsigned long long)off, msg[0] != '\0' ? msg : "read failed");
}

/* Target bytes [off, off + len) came from the source at the same offsets. */
static void
same_add(struct dec *d, uint64_t off, uint64_t len)
{
	struct vcd_same *l = d->nsame > 0 ? &d->same[d->nsame - 1] : NULL;

	if (l != NULL && l->off + l->len == off) {
		l->len += len;
		return;
	}
	if (d->nsame == MAX_SAME)
		return;
	if (d->nsame == d->capsame) {
		d->capsame = d->capsame ? d->capsame * 2 : 64;
		d->same = xreallocarray(d->same, d->capsame, sizeof *d->same);
	}
	d->same[d->nsame].off = off;
	d->same[d->nsame++].len = len;
}

/*
 * Runs the instructions of one window into d->tw.  seg/seglen is the
 * source or target segment; addresses below seglen refer to it, the rest to
 * the target window decoded so far.  seg is NULL for a segment of a callback
 * source, which starts at segpos in it.
 */
static int
run_window(struct dec *d, const uint8_t *seg, uint64_t segpos,
    uint64_t seglen, uint64_t tlen, struct cur *data, struct cur *inst,
    struct cur *addr)
{
	const struct vcd_inst *tab = d->table;
	struct vcd_cache cache;
	uint8_t *tw = d->tw;
	uint64_t tpos = 0, size, here, a, v, k;
	unsigned type, mode, half, op;

	vcd_cache_reset(&cache);
	while (inst->p < inst->end) {
		op = *inst->p++;
		for (half = 0; half < 2; half++) {
			if (half == 0) {
				type = tab[op].type1;
				size = tab[op].size1;
				mode = tab[op].mode1;
			} else {
				type = tab[op].type2;
				size = tab[op].size2;
				mode = tab[op].mode2;
			}
			if (type == VCD_NOOP)
				continue;
			if (size == 0 && cur_int(inst, &size) == -1)
				return derr(d, "bad or missing size of %s at "
				    "target offset %llu", type_name(type),
				    (unsigned long long)tpos);
			if (size > tlen - tpos)
				return derr(d, "%s of %llu bytes at target "
				    "offset %llu overruns the window (len %llu)",
				    type_name(type), (unsigned long long)size,
				    (unsigned long long)tpos,
				    (unsigned long long)tlen);
			switch (type) {
			case VCD_ADD:
				if (size > (uint64_t)(data->end - data->p))
					return derr(d, "ADD of %llu bytes "
					    "beyond the data section",
					    (unsigned long long)size);
				memcpy(tw + tpos, data->p, (size_t)size);
				data->p += size;
				d->st.add_bytes += size;
				break;
			case VCD_RUN:
				if (data->p >= data->end)
					return derr(d, "RUN beyond the data "
					    "section");
				memset(tw + tpos, *data->p++, (size_t)size);
				d->st.run_bytes += size;
				break;
			case VCD_COPY:
				here = seglen + tpos;
				if (mode >= 2 + VCD_NEAR) {
					if (addr->p >= addr->end)
						goto badaddr;
					a = cache.same[(mode - 2 - VCD_NEAR) *
					    256 + *addr->p++];
				} else {
					if (cur_int(addr, &v) == -1)
						goto badaddr;
					if (mode == VCD_MODE_SELF)
						a = v;
					else if (mode == VCD_MODE_HERE) {
						if (v > here)
							return derr(d, "COPY "
							    "offset %llu before "
							    "the segment start",
							    (unsigned long long)
							    v);
						a = here - v;
					} else {
						a = cache.near[mode - 2] + v;
						if (a < v)
							goto badaddr;
					}
				}
				if (a >= here)
					return derr(d, "COPY address %llu "
					    "beyond the current position %llu "
					    "(segment len %llu)",
					    (unsigned long long)a,
					    (unsigned long long)here,
					    (unsigned long long)seglen);
				vcd_cache_update(&cache, a);
				if (size == 0)
					break;
				if (a + size <= seglen) {
					if (seg != NULL)
						memcpy(tw + tpos, seg + a,
						    size);
					else if (src_read(d, segpos + a,
					    tw + tpos, (size_t)size) == -1)
						return -1;
					if (d->cur_src && segpos + a ==
					    d->produced + tpos)
						same_add(d, segpos + a, size);
				} else if (a >= seglen &&
				    a - seglen + size <= tpos)
					memcpy(tw + tpos, tw + (a - seglen),
					    size);
				else {
					k = 0;
					if (seg == NULL && a < seglen) {
						/* the source part in one read;
						 * the rest is in the window */
						k = seglen - a;
						if (src_read(d, segpos + a,
						    tw + tpos, (size_t)k) == -1)
							return -1;
						a = seglen;
					}
					/* overlapping or crossing: bytewise,
					 * each byte already exists */
					for (; k < size; k++, a++)
						tw[tpos + k] = a < seglen ?
						    seg[a] : tw[a - seglen];
				}
				d->st.copy_bytes += size;
				break;
			}
			tpos += size;
		}
	}
	if (tpos != tlen)
		return derr(d, "instructions produce %llu bytes, the window "
		    "header says %llu", (unsigned long long)tpos,
		    (unsigned long long)tlen);
	if (data->p != data->end || addr->p != addr->end)
		return derr(d, "%zu unused bytes in the data section, %zu in "
		    "the address section", (size_t)(data->end - data->p),
		    (size_t)(addr->end - addr->p));
	return 0;
badaddr:
	return derr(d, "COPY address missing or malformed at target offset "
	    "%llu", (unsigned long long)tpos);
}

static int
read_target_seg(struct dec *d, uint64_t pos, uint64_t len,
    const uint8_t **segp)
{
	size_t done = 0;
	ssize_t n;

	if (d->out != NULL) {
		*segp = (const uint8_t *)d->out->data + d->out_base + pos;
		return 0;
	}
	if (len > MAX_TARGET_SEG)
		return derr(d, "VCD_TARGET segment of %llu bytes is too large",
		    (unsigned long long)len);
	if (len > d->tsegcap) {
		free(d->tseg);
		d->tseg = xmalloc((size_t)len);
		d->tsegcap = (size_t)len;
	}
	while (done < len) {
		n = pread(d->out_fd, d->tseg + done, (size_t)len - done,
		    (off_t)(pos + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return derr(d, "cannot read back the output for a "
			    "VCD_TARGET window: %s", n < 0 ? strerror(errno) :
			    "short read");
		done += (size_t)n;
	}
	*segp = d->tseg;
	return 0;
}

/* Returns 1 after a window, 0 at the clean end of the delta, -1 on error. */
static int
decode_window(struct dec *d)
{
	const uint8_t *seg = NULL, *p, *end;
	uint64_t seglen = 0, segpos = 0, enclen, tlen, dlen, ilen, alen;
	uint32_t want = 0, got;
	struct cur data, inst, addr, hdr;
	uint8_t ind, dind;
	int r;

	if ((r = in_byte(d, &ind)) <= 0)
		return r;
	d->in_window = 1;
	if (ind & ~(VCD_SOURCE | VCD_TARGET | VCD_ADLER32))
		return derr(d, "unknown bits in the window indicator 0x%02x",
		    ind);
	if ((ind & VCD_SOURCE) && (ind & VCD_TARGET))
		return derr(d, "window indicator has both VCD_SOURCE and "
		    "VCD_TARGET");
	if (ind & (VCD_SOURCE | VCD_TARGET)) {
		if (in_int(d, &seglen, "the segment length") == -1 ||
		    in_int(d, &segpos, "the segment position") == -1)
			return -1;
		if (ind & VCD_SOURCE) {
			if (d->src == NULL && d->cb.read == NULL)
				return derr(d, "the delta needs a source (base) "
				    "file and none was given");
			if (segpos > d->srclen || seglen > d->srclen - segpos)
				return derr(d, "source segment %llu+%llu "
				    "beyond the source (len %llu)",
				    (unsigned long long)segpos,
				    (unsigned long long)seglen,
				    (unsigned long long)d->srclen);
			/* a callback source is read COPY by COPY */
			seg = d->src != NULL ? d->src + segpos : NULL;
		} else {
			if (segpos > d->produced ||
			    seglen > d->produced - segpos)
				return derr(d, "target segment %llu+%llu "
				    "beyond the target so far (len %llu)",
				    (unsigned long long)segpos,
				    (unsigned long long)seglen,
				    (unsigned long long)d->produced);
			if (d->out == NULL && d->out_fd < 0)
				return derr(d, "a VCD_TARGET window needs the "
				    "output file to read back, and this decode "
				    "writes none");
			if (read_target_seg(d, segpos, seglen, &seg) == -1)
				return -1;
		}
	}
	if (in_int(d, &enclen, "the delta encoding length") == -1)
		return -1;
	if (enclen > MAX_BODY)
		return derr(d, "delta encoding of %llu bytes is too large",
		    (unsigned long long)enclen);
	buf_reset(&d->body);
	if (in_read(d, &d->body, enclen, "the delta encoding") == -1)
		return -1;

	hdr.p = (const uint8_t *)d->body.data;
	hdr.end = hdr.p + d->body.len;
	if (cur_int(&hdr, &tlen) == -1)
		return derr(d, "bad target window length");
	if (tlen > VCDIFF_MAX_WINDOW)
		return derr(d, "target window of %llu bytes exceeds the "
		    "%u MiB limit", (unsigned long long)tlen,
		    VCDIFF_MAX_WINDOW >> 20);
	if (hdr.p >= hdr.end)
		return derr(d, "truncated window header");
	dind = *hdr.p++;
	if (dind & (VCD_DATACOMP | VCD_INSTCOMP | VCD_ADDRCOMP))
		return derr(d, "delta uses secondary compression (xdelta3 -S "
		    "lzma/djw/fgk); re-encode with xdelta3 -S none");
	if (dind != 0)
		return derr(d, "unknown bits in the delta indicator 0x%02x",
		    dind);
	if (cur_int(&hdr, &dlen) == -1 || cur_int(&hdr, &ilen) == -1 ||
	    cur_int(&hdr, &alen) == -1)
		return derr(d, "bad section lengths in the window header");
	if (ind & VCD_ADLER32) {
		if (hdr.end - hdr.p < 4)
			return derr(d, "truncated window checksum");
		want = (uint32_t)hdr.p[0] << 24 | (uint32_t)hdr.p[1] << 16 |
		    (uint32_t)hdr.p[2] << 8 | hdr.p[3];
		hdr.p += 4;
	}
	p = hdr.p;
	end = hdr.end;
	if (dlen > (uint64_t)(end - p) || ilen > (uint64_t)(end - p) - dlen ||
	    alen != (uint64_t)(end - p) - dlen - ilen)
		return derr(d, "section lengths %llu+%llu+%llu do not match "
		    "the %zu bytes of the window", (unsigned long long)dlen,
		    (unsigned long long)ilen, (unsigned long long)alen,
		    (size_t)(end - p));
	data.p = p;
	data.end = inst.p = p + dlen;
	inst.end = addr.p = inst.p + ilen;
	addr.end = end;

	if (tlen > d->twcap || d->tw == NULL) {
		free(d->tw);
		d->tw = xmalloc((size_t)tlen + 1);
		d->twcap = (size_t)tlen;
	}
	d->cur_src = (ind & VCD_SOURCE) != 0;
	if (run_window(d, seg, segpos, seglen, tlen, &data, &inst, &addr) ==
	    -1)
		return -1;
	if ((ind & VCD_ADLER32) && !d->no_adler) {
		got = vcdiff_adler32(1, d->tw, (size_t)tlen);
		if (got != want)
			return derr(d, "checksum mismatch: the window decodes "
			    "to adler32 %08x, the delta says %08x (wrong base "
			    "file?)", got, want);
	}
	if (out_write(d, d->tw, (size_t)tlen) == -1)
		return -1;
	if ((ind & VCD_SOURCE) && d->src_mapped && seglen > 0)
		vcdiff_drop_pages(d->src, segpos, seglen);
	d->produced += tlen;
	d->last_len = (size_t)tlen;
	d->st.target_len += tlen;
	d->st.windows++;
	d->win++;
	d->in_window = 0;
	return 1;
}

static int
decode_header(struct dec *d)
{
	uint8_t m[4], ind = 0, id;
	uint64_t len;
	int i, r;

	for (i = 0; i < 4; i++) {
		if ((r = in_byte(d, &m[i])) < 0)
			return -1;
		if (r == 0)
			return derr(d, i == 0 ? "empty delta" :
			    "truncated delta header");
	}
	if (m[0] != VCD_MAGIC0 || m[1] != VCD_MAGIC1 || m[2] != VCD_MAGIC2)
		return derr(d, "not a VCDIFF delta (bad magic)");
	if (m[3] != 0)
		return derr(d, "unsupported VCDIFF version %u", m[3]);
	if (in_need_byte(d, &ind, "the header indicator") == -1)
		return -1;
	if (ind & ~(VCD_SECONDARY | VCD_CODETABLE | VCD_APPHEADER))
		return derr(d, "unknown bits in the header indicator 0x%02x",
		    ind);
	if (ind & VCD_SECONDARY) {
		if (in_need_byte(d, &id, "the secondary compressor id") == -1)
			return -1;
		return derr(d, "delta uses secondary compression (xdelta3 -S "
		    "lzma/djw/fgk); re-encode with xdelta3 -S none");
	}
	if (ind & VCD_CODETABLE)
		return derr(d, "delta uses a custom code table, which is not "
		    "supported");
	if (ind & VCD_APPHEADER) {
		if (in_int(d, &len, "the application header length") == -1 ||
		    in_read(d, NULL, len, "the application header") == -1)
			return -1;
	}
	return 0;
}

static void
decode_finish(struct dec *d, struct vcdiff_stats *st)
{
	d->st.delta_len = d->consumed;
	d->st.source_len = d->srclen;
	if (st != NULL)
		*st = d->st;
	buf_release(&d->body);
	free(d->tw);
	free(d->tseg);
	free(d->rbuf);
	free(d->same);
	d->tw = d->tseg = d->rbuf = NULL;
	d->same = NULL;
	d->nsame = d->capsame = 0;
}

static int
decode_all(struct dec *d, struct vcdiff_stats *st)
{
	int r;

	vcd_code_table(d->table);
	if (decode_header(d) == 0)
		while ((r = decode_window(d)) == 1)
			;
	else
		r = -1;
	decode_finish(d, st);
	return r;
}

int
vcdiff_decode_mem(const uint8_t *src, size_t srclen, const uint8_t *delta,
    size_t dlen, struct buf *out, char *err, size_t errlen)
{
	static const uint8_t empty[1];
	struct dec d;

	memset(&d, 0, sizeof d);
	buf_init(&d.body);
	d.in_fd = -1;
	d.in_mem = delta != NULL ? delta : empty;
	d.in_len = dlen;
	d.src = src;
	d.srclen = src != NULL ? srclen : 0;
	d.out_fd = -1;
	d.out = out;
	d.out_base = out->len;
	d.err = err;
	d.errlen = errlen;
	return decode_all(&d, NULL);
}


void
vcdiff_drop_pages(const uint8_t *map, uint64_t off, uint64_t len)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), start;

	start = off & ~(pg - 1);
	(void)madvise((void *)(map + start), (size_t)(off + len - start),
	    MADV_DONTNEED);
}


int
vcdiff_map_source(int fd, const uint8_t **p, uint64_t *len, char *err,
    size_t errlen)
{
	static const uint8_t empty[1];
	struct stat sb;
	void *m;

	*p = NULL;
	*len = 0;
	if (fd < 0)
		return 0;
	if (fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "cannot stat the source: %s",
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "the source (base) must be a regular "
		    "file");
		return -1;
	}
	if (sb.st_size == 0) {
		*p = empty;
		return 0;
	}
	if ((uint64_t)sb.st_size > SIZE_MAX) {
		snprintf(err, errlen, "the source is too large to map");
		return -1;
	}
	m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "cannot map the source: %s",
		    strerror(errno));
		return -1;
	}
	*p = m;
	*len = (uint64_t)sb.st_size;
	return 0;
}

struct vcdiff_reader {
	struct dec	 d;
	int		 state;		/* 0 header next, 1 windows, 2 end, -1 */
};

/* What both opens share: the reader around a source the caller sets. */
static struct vcdiff_reader *
reader_new(int delta_fd, int out_fd, int flags, char *err, size_t errlen)
{
	struct vcdiff_reader *r = xcalloc(1, sizeof *r);
	struct dec *d = &r->d;

	buf_init(&d->body);
	d->in_fd = delta_fd;
	d->rbuf = xmalloc(65536);
	d->out_fd = out_fd;
	d->no_adler = (flags & VCDIFF_NO_ADLER32) != 0;
	d->err = err;
	d->errlen = errlen;
	vcd_code_table(d->table);
	return r;
}

struct vcdiff_reader *
vcdiff_reader_open(int source_fd, int delta_fd, int out_fd, int flags,
    char *err, size_t errlen)
{
	struct vcdiff_reader *r;
	const uint8_t *src;
	uint64_t srclen;

	if (vcdiff_map_source(source_fd, &src, &srclen, err, errlen) == -1)
		return NULL;
	r = reader_new(delta_fd, out_fd, flags, err, errlen);
	r->d.src = src;
	r->d.srclen = srclen;
	r->d.src_mapped = src != NULL && srclen > 0;
	return r;
}

struct vcdiff_reader *
vcdiff_reader_open_src(const struct vcdiff_source *src, int delta_fd,
    int out_fd, int flags, char *err, size_t errlen)
{
	struct vcdiff_reader *r;

	if (src != NULL && src->read == NULL) {
		snprintf(err, errlen, "the source has no read function");
		return NULL;
	}
	r = reader_new(delta_fd, out_fd, flags, err, errlen);
	if (src != NULL) {
		r->d.cb = *src;
		r->d.srclen = src->len;
	}
	return r;
}

int
vcdiff_reader_next(struct vcdiff_reader *r, const uint8_t **p, size_t *n)
{
	int x;

	*p = NULL;
	*n = 0;
	if (r->state == 0) {
		if (decode_header(&r->d) == -1) {
			r->state = -1;
			return -1;
		}
		r->state = 1;
	}
	if (r->state != 1)
		return r->state == 2 ? 0 : -1;
	/* an empty window is legal: skip to one with bytes, or the end */
	while ((x = decode_window(&r->d)) == 1 && r->d.last_len == 0)
		;
	if (x == 1) {
		*p = r->d.tw;
		*n = r->d.last_len;
		return 1;
	}
	r->state = x == 0 ? 2 : -1;
	return x;
}

int
vcdiff_reader_same(const struct vcdiff_reader *r, uint64_t off, uint64_t len)
{
	const struct dec *d = &r->d;
	size_t lo = 0, hi = d->nsame, mid;

	if (len == 0 || off + len < off || off + len > d->produced)
		return 0;
	/* the last range that starts at or before off */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (d->same[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return d->nsame > 0 && d->same[lo].off <= off &&
	    off + len <= d->same[lo].off + d->same[lo].len;
}

void
vcdiff_reader_close(struct vcdiff_reader *r, struct vcdiff_stats *st)
{
	if (r == NULL)
		return;
	decode_finish(&r->d, st);
	if (r->d.src_mapped)
		munmap((void *)r->d.src, (size_t)r->d.srclen);
	free(r);
}

int
vcdiff_decode(int source_fd, int delta_fd, int out_fd,
    struct vcdiff_stats *st, char *err, size_t errlen)
{
	struct vcdiff_reader *r;
	const uint8_t *p;
	size_t n;
	int x;

	if ((r = vcdiff_reader_open(source_fd, delta_fd, out_fd, 0, err,
	    errlen)) == NULL)
		return -1;
	while ((x = vcdiff_reader_next(r, &p, &n)) == 1)
		;
	vcdiff_reader_close(r, st);
	return x;
}

/*
 * test-vcdiff: the VCDIFF encoder and decoder on their own.  Round trips
 * through files (encoder) and memory and files (decoder), a hand-made delta
 * that uses every instruction type and address mode of the default code
 * table, xdelta3's extensions, and corrupt input (every truncation, every
 * bit flip) that must fail cleanly or decode, never crash.  A source read by
 * offset through a callback must decode every delta (ours, xdelta3's,
 * hand-made) to the same bytes as the mapped one, asking only for the bytes
 * COPY takes from it.  Run under ASan by scripts/check-all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <spawn.h>
#include <unistd.h>

#include "buf.h"
#include "imgutil.h"
#include "tap.h"
#include "vcdiff.h"
#include "randfd.h"

static void
slurp_fd(int fd, struct buf *b)
{
	char tmp[65536];
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, tmp, sizeof tmp)) > 0)
		buf_add(b, tmp, (size_t)n);
}

/*
 * A callback source over memory that keeps what it was asked for, to show
 * the decoder reads only what COPY needs and only inside [0, len).
 */
struct memsrc {
	const uint8_t	*p;
	uint64_t	 len;
	uint64_t	 calls, bytes;
	uint64_t	 lo, hi;	/* lowest offset read, highest end */
	uint64_t	 outside;	/* calls out of [0, len) or empty */
	uint64_t	 fail_at;	/* this call fails (from 1), 0 none */
};

static int
memsrc_read(void *arg, uint64_t off, uint8_t *dst, size_t n, char *err,
    size_t errlen)
{
	struct memsrc *m = arg;

	if (++m->calls == m->fail_at) {
		snprintf(err, errlen, "disk on fire at %llu",
		    (unsigned long long)off);
		return -1;
	}
	if (n == 0 || off >= m->len || n > m->len - off) {
		m->outside++;
		snprintf(err, errlen, "%zu bytes at %llu: outside the source",
		    n, (unsigned long long)off);
		return -1;
	}
	if (m->bytes == 0 || off < m->lo)
		m->lo = off;
	if (off + n > m->hi)
		m->hi = off + n;
	memcpy(dst, m->p + off, n);
	m->bytes += n;
	return 0;
}

/* Every window of r appended to out; the last vcdiff_reader_next. */
static int
read_all(struct vcdiff_reader *r, struct buf *out)
{
	const uint8_t *p;
	size_t n;
	int x;

	while ((x = vcdiff_reader_next(r, &p, &n)) == 1)
		buf_add(out, p, n);
	return x;
}

/*
 * Decodes delta against src (NULL: no source) read through memsrc_read,
 * with no output file, appending the target to out.  ms is set up here
 * but for fail_at.
 */
static int
decode_src(const uint8_t *src, size_t slen, const uint8_t *delta,
    size_t dlen, struct memsrc *ms, struct buf *out, struct vcdiff_stats *st,
    char *err, size_t errlen)
{
	struct vcdiff_source vs;
	struct vcdiff_reader *r;
	int dfd, x;

	ms->p = src;
	ms->len = slen;
	ms->calls = ms->bytes = ms->lo = ms->hi = ms->outside = 0;
	vs.len = slen;
	vs.read = memsrc_read;
	vs.arg = ms;
	dfd = mem_fd(delta, dlen);
	r = vcdiff_reader_open_src(src != NULL ? &vs : NULL, dfd, -1, 0, err,
	    errlen);
	x = r != NULL ? read_all(r, out) : -1;
	vcdiff_reader_close(r, st);
	close(dfd);
	return x;
}

static int
same(const struct buf *b, const uint8_t *p, size_t n)
{
	return b->len == n && (n == 0 || memcmp(b->data, p, n) == 0);
}

/* The fraction of the target the last check_same found claimed in place. */
static double last_cover;

/*
 * vcdiff_reader_same must only ever claim target bytes that equal the
 * source's at the same offsets: probed on every 512-byte block and on
 * random ranges (short, long, crossing windows and the end), after the
 * whole target is decoded.  Sets last_cover.
 */
static void
check_same(const char *name, const uint8_t *src, size_t slen,
    const uint8_t *delta, size_t dlen, const uint8_t *tgt, size_t tlen)
{
	struct vcdiff_source vs;
	struct vcdiff_reader *r;
	struct memsrc ms;
	struct buf out = BUF_INIT;
	char err[256] = "";
	size_t off, len, claimed = 0, bad = 0, i;
	uint64_t seed = 0x5eed5eed5eedULL;	/* its own: rnd() feeds later data */
	int dfd, x;

	memset(&ms, 0, sizeof ms);
	ms.p = src;
	ms.len = slen;
	vs.len = slen;
	vs.read = memsrc_read;
	vs.arg = &ms;
	dfd = mem_fd(delta, dlen);
	r = vcdiff_reader_open_src(src != NULL ? &vs : NULL, dfd, -1, 0, err,
	    sizeof err);
	x = r != NULL ? read_all(r, &out) : -1;
	for (off = 0; x == 0 && off < tlen; off += 512) {
		len = tlen - off < 512 ? tlen - off : 512;
		if (!vcdiff_reader_same(r, off, len))
			continue;
		claimed += len;
		if (off + len > slen || memcmp(tgt + off, src + off, len) != 0)
			bad++;
	}
	for (i = 0; x == 0 && i < 3000; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		off = (size_t)(seed % (tlen + 1));
		len = 1 + (size_t)((seed >> 20) % (i % 3 == 0 ? 9000000 :
		    70000));
		if (vcdiff_reader_same(r, off, len) && (off + len > tlen ||
		    off + len > slen || memcmp(tgt + off, src + off, len) != 0))
			bad++;
	}
	if (x == 0 && (vcdiff_reader_same(r, tlen, 1) ||
	    vcdiff_reader_same(r, 0, 0)))
		bad++;
	ok(x == 0 && bad == 0, "%s: what is claimed copied in place equals "
	    "the source there (%zu of %zu bytes)", name, claimed, tlen);
	last_cover = tlen > 0 ? (double)claimed / (double)tlen : 1.0;
	vcdiff_reader_close(r, NULL);
	close(dfd);
	buf_release(&out);
}

/*
 * The delta decoded over a callback source and over the mapped source with
 * no output file (sfd -1: no source) must give tgt; the callback reads
 * only inside the source and no more than the COPY bytes.
 */
static void
check_unwritten(const char *name, int sfd, const uint8_t *src, size_t slen,
    const uint8_t *delta, size_t dlen, const uint8_t *tgt, size_t tlen)
{
	struct vcdiff_stats st;
	struct vcdiff_reader *r;
	struct memsrc ms;
	struct buf out = BUF_INIT;
	char err[256] = "";
	int x, dfd;

	memset(&ms, 0, sizeof ms);
	memset(&st, 0, sizeof st);
	x = decode_src(src, slen, delta, dlen, &ms, &out, &st, err,
	    sizeof err);
	if (x != 0)
		diag_note("%s: by offset: %s", name, err);
	ok(x == 0 && same(&out, tgt, tlen) && ms.outside == 0 &&
	    ms.bytes <= st.copy_bytes && st.target_len == tlen,
	    "%s: source by offset gives the target (%llu reads, %llu bytes, "
	    "%llu COPY bytes)", name, (unsigned long long)ms.calls,
	    (unsigned long long)ms.bytes, (unsigned long long)st.copy_bytes);

	buf_reset(&out);
	dfd = mem_fd(delta, dlen);
	if (sfd != -1)
		lseek(sfd, 0, SEEK_SET);
	r = vcdiff_reader_open(sfd, dfd, -1, 0, err, sizeof err);
	x = r != NULL ? read_all(r, &out) : -1;
	vcdiff_reader_close(r, NULL);
	close(dfd);
	if (x != 0)
		diag_note("%s: mapped, no output: %s", name, err);
	ok(x == 0 && same(&out, tgt, tlen),
	    "%s: mapped source, no output file: windows give the target",
	    name);
	buf_release(&out);
}

/*
 * Encodes tgt against src, decodes the delta in memory and through files,
 * and checks both give tgt back.  Leaves the delta in *delta if given.
 */
static int
roundtrip(const char *name, const uint8_t *src, size_t slen,
    const uint8_t *tgt, size_t tlen, struct buf *delta,
    struct vcdiff_stats *stp)
{
	struct vcdiff_stats st, dst;
	struct buf d = BUF_INIT, out = BUF_INIT, out2 = BUF_INIT;
	char err[256] = "";
	int sfd, tfd, dfd, ofd, ok1, ok2, ok3;

	sfd = src != NULL ? mem_fd(src, slen) : -1;
	tfd = mem_fd(tgt, tlen);
	dfd = mem_fd(NULL, 0);
	ok1 = vcdiff_encode(sfd, tfd, dfd, &st, err, sizeof err) == 0;
	if (!ok1)
		diag_note("%s: encode: %s", name, err);
	slurp_fd(dfd, &d);
	ok2 = ok1 && vcdiff_decode_mem(src, slen, (uint8_t *)d.data, d.len,
	    &out, err, sizeof err) == 0 && out.len == tlen &&
	    (tlen == 0 || memcmp(out.data, tgt, tlen) == 0);
	if (ok1 && !ok2)
		diag_note("%s: decode_mem: %s (len %zu want %zu)", name, err,
		    out.len, tlen);
	ofd = mem_fd(NULL, 0);
	lseek(dfd, 0, SEEK_SET);
	ok3 = ok2 && vcdiff_decode(sfd, dfd, ofd, &dst, err, sizeof err) == 0;
	if (ok3) {
		slurp_fd(ofd, &out2);
		ok3 = out2.len == tlen && (tlen == 0 ||
		    memcmp(out2.data, tgt, tlen) == 0) &&
		    dst.target_len == tlen && dst.delta_len == d.len &&
		    st.delta_len == d.len && st.target_len == tlen;
	} else if (ok2)
		diag_note("%s: decode: %s", name, err);
	ok(ok1 && ok2 && ok3, "round trip: %s (%zu -> %zu bytes, delta %zu)",
	    name, slen, tlen, d.len);
	if (ok1) {
		check_unwritten(name, sfd, src, slen, (uint8_t *)d.data, d.len,
		    tgt, tlen);
		check_same(name, src, slen, (uint8_t *)d.data, d.len, tgt,
		    tlen);
	}
	if (delta != NULL) {
		buf_reset(delta);
		buf_add(delta, d.data, d.len);
	}
	if (stp != NULL)
		*stp = st;
	if (sfd != -1)
		close(sfd);
	close(tfd);
	close(dfd);
	close(ofd);
	buf_release(&d);
	buf_release(&out);
	buf_release(&out2);
	return ok1 && ok2 && ok3;
}

static void
test_roundtrips(void)
{
	struct vcdiff_stats st;
	struct buf delta = BUF_INIT;
	uint8_t *a, *b;
	size_t n = 1 << 20, i, j;

	a = malloc(24 << 20);
	b = malloc(24 << 20);
	fill_random(a, n);

	roundtrip("no source, empty target", NULL, 0, a, 0, NULL, NULL);
	roundtrip("empty source, empty target", a, 0, a, 0, NULL, NULL);
	roundtrip("empty source", a, 0, a, 1000, NULL, NULL);
	roundtrip("no source, random", NULL, 0, a, n, NULL, NULL);
	roundtrip("empty target", a, n, a, 0, NULL, NULL);
	roundtrip("one byte", a, 1, a + 5, 1, NULL, NULL);
	roundtrip("identical", a, n, a, n, &delta, &st);
	ok(delta.len < 200 && st.copy_bytes == n,
	    "identical: all COPY, tiny delta (%zu bytes)", delta.len);
	ok(last_cover == 1.0, "identical: every byte is known copied in "
	    "place (%.3f)", last_cover);

	fill_random(b, n);
	roundtrip("unrelated random", a, n, b, n, &delta, NULL);
	ok(delta.len < n + n / 50, "random: delta not much bigger than data "
	    "(%zu)", delta.len);

	memcpy(b, a, n);
	for (i = 0; i < 20; i++)
		b[rnd() % n] ^= 0x5a;
	roundtrip("20 byte edits", a, n, b, n, &delta, NULL);
	ok(delta.len < 1000, "20 byte edits: small delta (%zu)", delta.len);
	ok(last_cover > 0.95, "20 byte edits: nearly all known copied in "
	    "place (%.3f)", last_cover);

	/* insert 100 bytes in the middle, delete 300 further on */
	memcpy(b, a, n / 2);
	fill_random(b + n / 2, 100);
	memcpy(b + n / 2 + 100, a + n / 2, n / 4);
	memcpy(b + n / 2 + 100 + n / 4, a + n / 2 + n / 4 + 300,
	    n / 4 - 300);
	roundtrip("insert and delete", a, n, b, n - 200, &delta, NULL);
	ok(delta.len < 300, "insert and delete: small delta (%zu)", delta.len);

	/* moved blocks: the second half first */
	memcpy(b, a + n / 2, n / 2);
	memcpy(b + n / 2, a, n / 2);
	roundtrip("swapped halves", a, n, b, n, &delta, NULL);
	ok(delta.len < 100, "swapped halves: small delta (%zu)", delta.len);
	ok(last_cover == 0.0, "swapped halves: nothing is in place (%.3f)",
	    last_cover);

	/* runs and in-window repeats, no source */
	memset(b, 0, 5000);
	memset(b + 5000, 'x', 3);
	memset(b + 5003, 0xff, 100000);
	for (i = 0; i < 50; i++)
		memcpy(b + 105003 + i * 64, "a repeated phrase of text, "
		    "sixty-four bytes in all, for COPY!!!", 64);
	roundtrip("runs and repeats", NULL, 0, b, 105003 + 50 * 64, &delta,
	    &st);
	ok(st.run_bytes >= 105000 && delta.len < 300,
	    "runs become RUN, repeats COPY (run %llu, delta %zu)",
	    (unsigned long long)st.run_bytes, delta.len);

	/* 20 MiB target: three windows, edits in each, plus a shift */
	fill_random(a, 20 << 20);
	memcpy(b, a, 20 << 20);
	for (i = 0; i < 30; i++) {
		j = rnd() % (20 << 20);
		b[j] = (uint8_t)~b[j];
	}
	memmove(b + (9 << 20) + 7, b + (9 << 20), (11 << 20) - 7);
	roundtrip("20 MiB, edits and a shift", a, 20 << 20, b, 20 << 20,
	    &delta, &st);
	ok(st.windows == 3 && delta.len < 4000,
	    "20 MiB: 3 windows, small delta (%u windows, %zu bytes)",
	    st.windows, delta.len);
	/* target longer than the source, tail copied from the start */
	memcpy(b, a, 10 << 20);
	memcpy(b + (10 << 20), a, 10 << 20);
	roundtrip("target reuses source twice", a, 10 << 20, b, 20 << 20,
	    &delta, NULL);
	ok(delta.len < 1000, "reused source: small delta (%zu)", delta.len);

	buf_release(&delta);
	free(a);
	free(b);
}

/* ---- hand-made deltas ---- */

struct hb {
	struct buf	data, inst, addr;
	uint8_t		exp[4096];
	size_t		tpos;
	const uint8_t	*seg;
	size_t		seglen;
	size_t		segpos;		/* where seg starts in the source */
	size_t		srcbytes;	/* bytes COPY takes from seg */
};

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

static void
exp_add(struct hb *h, const char *s, size_t n)
{
	buf_add(&h->data, s, n);
	memcpy(h->exp + h->tpos, s, n);
	h->tpos += n;
}

static void
exp_copy(struct hb *h, size_t a, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++, a++) {
		h->exp[h->tpos + k] = a < h->seglen ? h->seg[a] :
		    h->exp[a - h->seglen];
		h->srcbytes += a < h->seglen;
	}
	h->tpos += n;
}

/* Assembles header + one window from the sections. */
static void
hb_delta(struct hb *h, struct buf *d, int win_ind, int adler)
{
	struct buf body = BUF_INIT;
	uint32_t ck = vcdiff_adler32(1, h->exp, h->tpos);

	buf_add(d, "\xd6\xc3\xc4\x00\x00", 5);
	buf_addc(d, win_ind | (adler ? 4 : 0));
	if (win_ind & 1) {
		put_int(d, h->seglen);
		put_int(d, h->segpos);
	}
	put_int(&body, h->tpos);
	buf_addc(&body, 0);
	put_int(&body, h->data.len);
	put_int(&body, h->inst.len);
	put_int(&body, h->addr.len);
	if (adler) {
		buf_addc(&body, (int)(ck >> 24));
		buf_addc(&body, (int)(ck >> 16 & 0xff));
		buf_addc(&body, (int)(ck >> 8 & 0xff));
		buf_addc(&body, (int)(ck & 0xff));
	}
	buf_add(&body, h->data.data, h->data.len);
	buf_add(&body, h->inst.data, h->inst.len);
	buf_add(&body, h->addr.data, h->addr.len);
	put_int(d, body.len);
	buf_add(d, body.data, body.len);
	buf_release(&body);
}

static void
build_every_mode(struct hb *h, uint8_t *src)
{
	size_t i;

	memset(h, 0, sizeof *h);
	buf_init(&h->data);
	buf_init(&h->inst);
	buf_init(&h->addr);
	for (i = 0; i < 1000; i++)
		src[i] = (uint8_t)(i * 7 + i / 256);
	h->seg = src;
	h->seglen = 1000;

	buf_addc(&h->inst, 3);			/* ADD 2 */
	exp_add(h, "ab", 2);
	buf_addc(&h->inst, 20);			/* COPY 4, VCD_SELF */
	put_int(&h->addr, 0);
	exp_copy(h, 0, 4);			/* near: 0 */
	buf_addc(&h->inst, 19 + 16 + 2);	/* COPY 5, VCD_HERE */
	put_int(&h->addr, 4);			/* here 1006 - 4 = 1002 */
	exp_copy(h, 1002, 5);			/* overlapping target copy */
	buf_addc(&h->inst, 19 + 32 + 1);	/* COPY 4, near 0 (=0) + 10 */
	put_int(&h->addr, 10);
	exp_copy(h, 10, 4);
	buf_addc(&h->inst, 19 + 48 + 3);	/* COPY 6, near 1 (=1002) + 2 */
	put_int(&h->addr, 2);
	exp_copy(h, 1004, 6);
	buf_addc(&h->inst, 19);			/* COPY, explicit size 300 */
	put_int(&h->inst, 300);
	put_int(&h->addr, 300);			/* SELF 300: same slot 300 */
	exp_copy(h, 300, 300);
	buf_addc(&h->inst, 19 + 64 + 1);	/* COPY 4, near 2 (=10) + 5 */
	put_int(&h->addr, 5);
	exp_copy(h, 15, 4);
	buf_addc(&h->inst, 19 + 80 + 1);	/* COPY 4, near 3 (=1004) + 0 */
	put_int(&h->addr, 0);
	exp_copy(h, 1004, 4);
	buf_addc(&h->inst, 0);			/* RUN 7 of 'z' */
	put_int(&h->inst, 7);
	buf_addc(&h->data, 'z');
	memset(h->exp + h->tpos, 'z', 7);
	h->tpos += 7;
	buf_addc(&h->inst, 19 + 96 + 1);	/* COPY 4, same 0: slot 10 */
	buf_addc(&h->addr, 10);
	exp_copy(h, 10, 4);
	buf_addc(&h->inst, 19 + 112 + 1);	/* COPY 4, same 1: 300 */
	buf_addc(&h->addr, 300 - 256);
	exp_copy(h, 300, 4);
	buf_addc(&h->inst, 19);			/* COPY 20 SELF 600 */
	put_int(&h->inst, 20);
	put_int(&h->addr, 600);
	exp_copy(h, 600, 20);
	buf_addc(&h->inst, 19 + 128 + 1);	/* COPY 4, same 2: 600 */
	buf_addc(&h->addr, 600 - 512);
	exp_copy(h, 600, 4);
	buf_addc(&h->inst, 163);		/* ADD 1 + COPY 4 SELF */
	exp_add(h, "q", 1);
	put_int(&h->addr, 5);
	exp_copy(h, 5, 4);
	buf_addc(&h->inst, 163 + 12 * 5 + 11);	/* ADD 4 + COPY 6 near 3 */
	exp_add(h, "wxyz", 4);
	put_int(&h->addr, 1);			/* near[3] = 5 -> 6 */
	exp_copy(h, 6, 6);
	buf_addc(&h->inst, 235 + 4 * 2 + 3);	/* ADD 4 + COPY 4 same 2 */
	exp_add(h, "1234", 4);
	buf_addc(&h->addr, 600 - 512);
	exp_copy(h, 600, 4);
	buf_addc(&h->inst, 247 + 1);		/* COPY 4 HERE + ADD 1 */
	put_int(&h->addr, 1);			/* here - 1: one byte run */
	exp_copy(h, 1000 + h->tpos - 1, 4);
	exp_add(h, "!", 1);
	buf_addc(&h->inst, 1);			/* ADD, explicit size 20 */
	put_int(&h->inst, 20);
	exp_add(h, "abcdefghijklmnopqrst", 20);
	buf_addc(&h->inst, 18);			/* ADD 17 */
	exp_add(h, "ABCDEFGHIJKLMNOPQ", 17);
	buf_addc(&h->inst, 19);			/* COPY 30 crossing into target */
	put_int(&h->inst, 30);
	put_int(&h->addr, 990);
	exp_copy(h, 990, 30);
}

static void
test_handmade(void)
{
	struct hb h;
	struct buf d = BUF_INIT, out = BUF_INIT;
	uint8_t src[1000];
	char err[256] = "";
	int r;

	build_every_mode(&h, src);
	hb_delta(&h, &d, 1, 1);
	r = vcdiff_decode_mem(src, sizeof src, (uint8_t *)d.data, d.len,
	    &out, err, sizeof err);
	if (r != 0)
		diag_note("%s", err);
	ok(r == 0 && out.len == h.tpos &&
	    memcmp(out.data, h.exp, h.tpos) == 0,
	    "hand-made delta: every instruction type, pair and address mode "
	    "(%zu bytes)", h.tpos);

	/* the same without the checksum, and with an application header */
	buf_reset(&d);
	buf_reset(&out);
	hb_delta(&h, &d, 1, 0);
	d.data[4] = 4;
	{
		struct buf d2 = BUF_INIT;

		buf_add(&d2, d.data, 5);
		buf_add(&d2, "\x05" "b//a/", 6);
		buf_add(&d2, d.data + 5, d.len - 5);
		r = vcdiff_decode_mem(src, sizeof src, (uint8_t *)d2.data,
		    d2.len, &out, err, sizeof err);
		ok(r == 0 && out.len == h.tpos &&
		    memcmp(out.data, h.exp, h.tpos) == 0,
		    "application header skipped, no checksum");
		buf_release(&d2);
	}

	/* a checksum mismatch is an error */
	buf_reset(&d);
	buf_reset(&out);
	hb_delta(&h, &d, 1, 1);
	src[300] ^= 1;
	r = vcdiff_decode_mem(src, sizeof src, (uint8_t *)d.data, d.len,
	    &out, err, sizeof err);
	ok(r == -1 && strstr(err, "checksum mismatch") != NULL,
	    "wrong base: checksum mismatch (%s)", err);
	src[300] ^= 1;

	/* no source given for a VCD_SOURCE window */
	r = vcdiff_decode_mem(NULL, 0, (uint8_t *)d.data, d.len, &out, err,
	    sizeof err);
	ok(r == -1 && strstr(err, "needs a source") != NULL,
	    "VCD_SOURCE without a source: %s", err);

	/* secondary compression and custom code tables are refused */
	{
		static const uint8_t sec[] = { 0xd6, 0xc3, 0xc4, 0, 5, 2, 0 };
		static const uint8_t tab[] = { 0xd6, 0xc3, 0xc4, 0, 2, 0 };
		static const uint8_t dind[] = { 0xd6, 0xc3, 0xc4, 0, 0,
		    0, 5, 1, 1, 0, 0, 0, 0 };

		r = vcdiff_decode_mem(NULL, 0, sec, sizeof sec, &out, err,
		    sizeof err);
		is_str(r == -1 ? err : "", "delta uses secondary compression "
		    "(xdelta3 -S lzma/djw/fgk); re-encode with xdelta3 -S none",
		    "secondary compression refused");
		r = vcdiff_decode_mem(NULL, 0, dind, sizeof dind, &out, err,
		    sizeof err);
		ok(r == -1 && strstr(err, "secondary compression") != NULL,
		    "compressed section refused: %s", err);
		r = vcdiff_decode_mem(NULL, 0, tab, sizeof tab, &out, err,
		    sizeof err);
		ok(r == -1 && strstr(err, "code table") != NULL,
		    "custom code table refused: %s", err);
	}

	/* a VCD_TARGET window copying from the first window's output */
	{
		static const uint8_t tw[] = {
		    0xd6, 0xc3, 0xc4, 0, 0,
		    /* window 0: ADD 5 "hello" */
		    0, 11, 5, 0, 5, 1, 0, 'h', 'e', 'l', 'l', 'o', 6,
		    /* window 1: VCD_TARGET seg 4+1 ("o"), COPY 4 */
		    2, 1, 4, 7, 4, 0, 0, 1, 1, 20, 0,
		};
		buf_reset(&out);
		r = vcdiff_decode_mem(NULL, 0, tw, sizeof tw, &out, err,
		    sizeof err);
		if (r != 0)
			diag_note("%s", err);
		ok(r == 0 && out.len == 9 && memcmp(out.data, "hellooooo",
		    9) == 0, "VCD_TARGET window");
	}

	/* out-of-range addresses and sizes */
	{
		static const uint8_t bad_addr[] = { 0xd6, 0xc3, 0xc4, 0, 0,
		    0, 7, 4, 0, 0, 1, 1, 20, 3 };
		static const uint8_t big_win[] = { 0xd6, 0xc3, 0xc4, 0, 0,
		    0, 8, 0x88, 0x80, 0x80, 0x01, 0, 0, 0, 0 };
		static const uint8_t seg[] = { 0xd6, 0xc3, 0xc4, 0, 0,
		    1, 0x81, 0, 0x10, 5, 4, 0, 0, 1, 1, 20 };

		buf_reset(&out);
		r = vcdiff_decode_mem(NULL, 0, bad_addr, sizeof bad_addr,
		    &out, err, sizeof err);
		ok(r == -1 && strstr(err, "COPY address 3 beyond") != NULL,
		    "COPY beyond the current position: %s", err);
		r = vcdiff_decode_mem(NULL, 0, big_win, sizeof big_win,
		    &out, err, sizeof err);
		ok(r == -1 && strstr(err, "16 MiB") != NULL,
		    "target window over 16 MiB: %s", err);
		r = vcdiff_decode_mem(src, 100, seg, sizeof seg,
		    &out, err, sizeof err);
		ok(r == -1 && strstr(err, "beyond the source") != NULL,
		    "source segment beyond the source: %s", err);
	}
	buf_release(&d);
	buf_release(&out);
	buf_release(&h.data);
	buf_release(&h.inst);
	buf_release(&h.addr);
}

/*
 * A source read by offset, on hand-made deltas whose reads are known: the
 * every-mode delta (its last COPY starts in the source segment and runs on
 * into the target window) with the segment in the middle of the source, a
 * tiny COPY out of a 1 MiB segment, a failing read, and the refusals of a
 * decode with no output file.
 */
static void
test_source_cb(void)
{
	struct vcdiff_stats st;
	struct vcdiff_source vs;
	struct vcdiff_reader *r;
	struct memsrc ms;
	struct hb h;
	struct buf d = BUF_INIT, out = BUF_INIT, ref = BUF_INIT;
	uint8_t seg[1000], *big;
	const uint8_t *p;
	char err[256] = "";
	size_t n, pad = 300, bigsz = (1 << 20) + 4096;
	int x, dfd, ofd;

	/* the segment at pad in a larger source, bytes around it differ */
	big = malloc(bigsz);
	fill_random(big, bigsz);
	build_every_mode(&h, seg);
	memcpy(big + pad, seg, sizeof seg);
	h.segpos = pad;
	hb_delta(&h, &d, 1, 1);
	x = vcdiff_decode_mem(big, pad + sizeof seg + 200, (uint8_t *)d.data,
	    d.len, &ref, err, sizeof err);
	ok(x == 0 && same(&ref, h.exp, h.tpos),
	    "segment at offset %zu: the memory decoder agrees (%s)", pad,
	    x == 0 ? "ok" : err);
	memset(&ms, 0, sizeof ms);
	x = decode_src(big, pad + sizeof seg + 200, (uint8_t *)d.data, d.len,
	    &ms, &out, &st, err, sizeof err);
	if (x != 0)
		diag_note("%s", err);
	ok(x == 0 && same(&out, (uint8_t *)ref.data, ref.len),
	    "every mode, crossing COPY: source by offset gives the same %zu "
	    "bytes as the memory decoder", ref.len);
	ok(ms.outside == 0 && ms.bytes == h.srcbytes && ms.lo >= pad &&
	    ms.hi <= pad + sizeof seg,
	    "every mode: reads only the COPY bytes of the segment (%llu "
	    "bytes in %llu reads, want %zu, in [%llu, %llu))",
	    (unsigned long long)ms.bytes, (unsigned long long)ms.calls,
	    h.srcbytes, (unsigned long long)ms.lo,
	    (unsigned long long)ms.hi);
	ok(st.copy_bytes > ms.bytes, "every mode: some COPY bytes came from "
	    "the window (%llu of %llu)",
	    (unsigned long long)(st.copy_bytes - ms.bytes),
	    (unsigned long long)st.copy_bytes);

	/* a read that fails fails the decode, with its message */
	buf_reset(&out);
	memset(&ms, 0, sizeof ms);
	ms.fail_at = 3;
	err[0] = '\0';
	x = decode_src(big, pad + sizeof seg + 200, (uint8_t *)d.data, d.len,
	    &ms, &out, NULL, err, sizeof err);
	ok(x == -1 && strstr(err, "disk on fire at ") != NULL &&
	    strstr(err, "cannot read") != NULL && out.len == 0,
	    "a failing read fails the decode: %s", err);
	buf_release(&h.data);
	buf_release(&h.inst);
	buf_release(&h.addr);

	/* one COPY of 4 bytes out of a 1 MiB segment: one read of 4 bytes */
	memset(&h, 0, sizeof h);
	buf_init(&h.data);
	buf_init(&h.inst);
	buf_init(&h.addr);
	h.seg = big + 4096;
	h.seglen = 1 << 20;
	h.segpos = 4096;
	buf_addc(&h.inst, 20);			/* COPY 4, VCD_SELF */
	put_int(&h.addr, 500000);
	exp_copy(&h, 500000, 4);
	buf_addc(&h.inst, 3);			/* ADD 2 */
	exp_add(&h, "ok", 2);
	buf_reset(&d);
	hb_delta(&h, &d, 1, 1);
	buf_reset(&out);
	memset(&ms, 0, sizeof ms);
	x = decode_src(big, bigsz, (uint8_t *)d.data, d.len, &ms, &out, NULL,
	    err, sizeof err);
	ok(x == 0 && same(&out, h.exp, h.tpos) && ms.calls == 1 &&
	    ms.bytes == 4 && ms.lo == 4096 + 500000,
	    "4 bytes from a 1 MiB segment: one read of 4 bytes (%llu reads, "
	    "%llu bytes)", (unsigned long long)ms.calls,
	    (unsigned long long)ms.bytes);
	buf_release(&h.data);
	buf_release(&h.inst);
	buf_release(&h.addr);

	/* a segment beyond a callback source is refused before any read */
	buf_reset(&out);
	memset(&ms, 0, sizeof ms);
	x = decode_src(big, 1000, (uint8_t *)d.data, d.len, &ms, &out, NULL,
	    err, sizeof err);
	ok(x == -1 && ms.calls == 0 && strstr(err, "beyond the source") !=
	    NULL, "segment beyond a callback source: %s", err);

	/* a callback source without a read function */
	vs.len = 10;
	vs.read = NULL;
	vs.arg = NULL;
	r = vcdiff_reader_open_src(&vs, 0, -1, 0, err, sizeof err);
	ok(r == NULL && strstr(err, "no read function") != NULL,
	    "source without a read function refused: %s", err);

	/* a VCD_TARGET window reads back the output: with none it is refused
	 * after the first window, with a file it decodes */
	{
		static const uint8_t tw[] = {
		    0xd6, 0xc3, 0xc4, 0, 0,
		    0, 11, 5, 0, 5, 1, 0, 'h', 'e', 'l', 'l', 'o', 6,
		    2, 1, 4, 7, 4, 0, 0, 1, 1, 20, 0,
		};
		int i;

		for (i = 0; i < 2; i++) {
			dfd = mem_fd(tw, sizeof tw);
			err[0] = '\0';
			r = i == 0 ? vcdiff_reader_open(-1, dfd, -1, 0, err,
			    sizeof err) : vcdiff_reader_open_src(NULL, dfd, -1,
			    0, err, sizeof err);
			x = vcdiff_reader_next(r, &p, &n);
			ok(x == 1 && n == 5 && memcmp(p, "hello", 5) == 0,
			    "%s, no output file: first window returned",
			    i == 0 ? "mapped" : "by offset");
			x = vcdiff_reader_next(r, &p, &n);
			ok(x == -1 && strstr(err, "VCD_TARGET window needs the "
			    "output file") != NULL &&
			    vcdiff_reader_next(r, &p, &n) == -1,
			    "%s, no output file: VCD_TARGET refused: %s",
			    i == 0 ? "mapped" : "by offset", err);
			vcdiff_reader_close(r, NULL);
			close(dfd);
		}
		dfd = mem_fd(tw, sizeof tw);
		ofd = mem_fd(NULL, 0);
		x = vcdiff_decode(-1, dfd, ofd, NULL, err, sizeof err);
		buf_reset(&out);
		slurp_fd(ofd, &out);
		ok(x == 0 && same(&out, (const uint8_t *)"hellooooo", 9),
		    "VCD_TARGET window read back from the output file");
		close(dfd);
		close(ofd);
	}
	buf_release(&d);
	buf_release(&out);
	buf_release(&ref);
	free(big);
}

static int
write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *fp = fopen(path, "wb");
	int r;

	if (fp == NULL)
		return -1;
	r = fwrite(p, 1, n, fp) == n ? 0 : -1;
	return fclose(fp) == 0 ? r : -1;
}

/*
 * xdelta3's own deltas over a source by offset: its source segments start
 * anywhere in the base and it copies within the target window, which our
 * encoder's deltas may not show.  Skipped without the xdelta3 tool.
 */
/* Run argv (no shell); 0 when it exited 0. */
static int
run(char *const argv[])
{
	pid_t pid;
	int st;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void
test_xdelta3(void)
{
	static const char *opts[][7] = {
		{ "-S", "none" }, { "-9", "-S", "none" },
		{ "-0", "-S", "none", "-n" },
		{ "-S", "none", "-W", "1048576", "-B", "1048576" },
	};
	const char *tmp = getenv("TMPDIR"), *x3 = getenv("XDELTA3");
	char dir[512], cmd[2048], err[256], pa[600], pb[600], pd[600];
	char *argv[16];
	struct buf delta = BUF_INIT, out = BUF_INIT;
	uint8_t *a, *b;
	size_t n = 12 << 20, tlen, i, k, m, j;
	int fd;

	if (x3 == NULL || *x3 == '\0' || access(x3, X_OK) != 0) {
		ok(1, "# SKIP xdelta3 not installed");
		return;
	}
	snprintf(dir, sizeof dir, "%s/test-vcdiff.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp %s", dir);
		return;
	}
	a = malloc(n);
	b = malloc(2 * n);
	fill_random(a, n);
	/* edits, an insert, a moved block, a repeat of the target itself */
	memcpy(b, a, 3 << 20);
	memcpy(b + (3 << 20), "inserted", 8);
	tlen = (3 << 20) + 8;
	memcpy(b + tlen, a + (7 << 20), 5 << 20);
	tlen += 5 << 20;
	memcpy(b + tlen, a + 100, 3 << 20);
	tlen += 3 << 20;
	for (i = 0; i < 40; i++)
		b[rnd() % tlen] ^= 0x21;
	memcpy(b + tlen, b + tlen - 70000, 70000);
	tlen += 70000;
	memset(b + tlen, 'r', 5000);
	tlen += 5000;
	snprintf(pa, sizeof pa, "%s/a", dir);
	snprintf(pb, sizeof pb, "%s/b", dir);
	snprintf(pd, sizeof pd, "%s/d", dir);
	if (write_file(pa, a, n) == -1 || write_file(pb, b, tlen) == -1)
		abort();
	for (k = 0; k < sizeof opts / sizeof opts[0]; k++) {
		m = 0;
		argv[m++] = (char *)x3;
		argv[m++] = (char *)"-e";
		cmd[0] = '\0';
		for (j = 0; opts[k][j] != NULL; j++) {
			argv[m++] = (char *)opts[k][j];
			snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd),
			    "%s%s", j ? " " : "", opts[k][j]);
		}
		argv[m++] = (char *)"-f";
		argv[m++] = (char *)"-s";
		argv[m++] = pa;
		argv[m++] = pb;
		argv[m++] = pd;
		argv[m] = NULL;
		if (run(argv) != 0) {
			ok(0, "xdelta3 -e %s", cmd);
			continue;
		}
		if ((fd = open(pd, O_RDONLY)) == -1)
			abort();
		buf_reset(&delta);
		slurp_fd(fd, &delta);
		close(fd);
		buf_reset(&out);
		err[0] = '\0';
		ok(vcdiff_decode_mem(a, n, (uint8_t *)delta.data, delta.len,
		    &out, err, sizeof err) == 0 && same(&out, b, tlen),
		    "xdelta3 -e %s: the memory decoder gives the target %s",
		    cmd, err);
		fd = mem_fd(a, n);
		{
			char name[2100];

			snprintf(name, sizeof name, "xdelta3 -e %s", cmd);
			check_unwritten(name, fd, a, n, (uint8_t *)delta.data,
			    delta.len, b, tlen);
			check_same(name, a, n, (uint8_t *)delta.data,
			    delta.len, b, tlen);
			/* the first 3 MiB are a's, 40 flips over b */
			ok(last_cover > 0.2, "%s: the unchanged start is "
			    "known copied in place (%.3f)", name, last_cover);
		}
		close(fd);
	}
	if (remove_tree(dir) == -1)
		diag_note("cannot remove %s", dir);
	buf_release(&delta);
	buf_release(&out);
	free(a);
	free(b);
}

/* Every prefix and every single bit flip must fail cleanly or decode. */
static void
torture(const char *name, const uint8_t *src, size_t slen,
    const uint8_t *d, size_t dlen)
{
	struct buf out = BUF_INIT;
	uint8_t *m = malloc(dlen + 1);
	char err[256];
	size_t i, fails = 0, noerr = 0, bit;
	int r;

	for (i = 0; i < dlen; i++) {
		buf_reset(&out);
		err[0] = '\0';
		r = vcdiff_decode_mem(src, slen, d, i, &out, err, sizeof err);
		if (r == -1 && err[0] != '\0')
			fails++;
		else if (r == -1)
			noerr++;
	}
	ok(noerr == 0 && fails >= dlen * 9 / 10,
	    "%s: %zu truncations, %zu rejected with a message", name, dlen,
	    fails);
	fails = noerr = 0;
	for (bit = 0; bit < dlen * 8; bit++) {
		memcpy(m, d, dlen);
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		buf_reset(&out);
		err[0] = '\0';
		r = vcdiff_decode_mem(src, slen, m, dlen, &out, err,
		    sizeof err);
		if (r == -1 && err[0] != '\0')
			fails++;
		else if (r == -1)
			noerr++;
	}
	ok(noerr == 0 && fails > 0, "%s: %zu bit flips, %zu rejected, none "
	    "crashed", name, dlen * 8, fails);
	free(m);
	buf_release(&out);
}

static void
test_corrupt(void)
{
	struct hb h;
	struct buf d = BUF_INIT;
	uint8_t src[1000], *a, *b;
	size_t n = 200000, i;

	build_every_mode(&h, src);
	hb_delta(&h, &d, 1, 1);
	torture("hand-made delta", src, sizeof src, (uint8_t *)d.data, d.len);
	buf_reset(&d);
	hb_delta(&h, &d, 1, 0);
	torture("hand-made delta without checksum", src, sizeof src,
	    (uint8_t *)d.data, d.len);

	a = malloc(n);
	b = malloc(n);
	fill_random(a, n);
	memcpy(b, a, n);
	for (i = 0; i < 10; i++)
		b[rnd() % n] ^= 1;
	memcpy(b + 1000, "inserted text", 13);
	roundtrip("small edits for the torture test", a, n, b, n, &d, NULL);
	torture("encoder's delta", a, n, (uint8_t *)d.data, d.len);
	buf_release(&d);
	buf_release(&h.data);
	buf_release(&h.inst);
	buf_release(&h.addr);
	free(a);
	free(b);
}

/* Adler-32 the way RFC 1950 defines it, one byte at a time. */
static uint32_t
adler_ref(uint32_t adler, const uint8_t *p, size_t n)
{
	uint32_t a = adler & 0xffff, b = adler >> 16;

	while (n-- > 0) {
		a = (a + *p++) % 65521;
		b = (b + a) % 65521;
	}
	return b << 16 | a;
}

/* The vectorised Adler-32 against the definition: every length around its
 * 16-byte blocks and its 5552-byte overflow limit, odd alignments, all-0xff
 * bytes (the largest sums), and a checksum carried over pieces. */
static void
test_adler32(void)
{
	static uint8_t b[70000 + 2];	/* the longest length at offset 2 */
	static const size_t lens[] = { 0, 1, 15, 16, 17, 31, 32, 33, 5551,
	    5552, 5553, 5567, 5568, 5569, 11104, 11105, 65536, 69999 };
	size_t k, off, bad = 0, bad_ff = 0, bad_split = 0;
	uint32_t h;

	fill_random(b, sizeof b);
	for (k = 0; k < sizeof lens / sizeof lens[0]; k++)
		for (off = 0; off < 3; off++)
			if (vcdiff_adler32(1, b + off, lens[k]) !=
			    adler_ref(1, b + off, lens[k]))
				bad++;
	ok(bad == 0, "adler32 equals the definition at %zu lengths and 3 "
	    "alignments (%zu wrong)", sizeof lens / sizeof lens[0], bad);
	memset(b, 0xff, sizeof b);
	for (k = 0; k < sizeof lens / sizeof lens[0]; k++)
		if (vcdiff_adler32(1, b, lens[k]) != adler_ref(1, b, lens[k]))
			bad_ff++;
	ok(bad_ff == 0, "adler32 of all-0xff bytes (largest sums): %zu wrong",
	    bad_ff);
	fill_random(b, sizeof b);
	for (k = 1; k < 40; k++) {
		h = vcdiff_adler32(1, b, k * 997);
		h = vcdiff_adler32(h, b + k * 997, sizeof b - k * 997);
		if (h != adler_ref(1, b, sizeof b))
			bad_split++;
	}
	ok(bad_split == 0, "adler32 carried over two pieces: %zu wrong",
	    bad_split);
}

int
main(void)
{
	rng = 0x12345678abcdefULL;	/* the data these tests were written on */
	test_roundtrips();
	test_handmade();
	test_source_cb();
	test_xdelta3();
	test_corrupt();
	test_adler32();
	return done_testing();
}

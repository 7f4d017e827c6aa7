/*
 * test-vcdiff-near: the encoder's fast paths on image-sized inputs, each
 * checked by a round trip through our decoder (the real xdelta3 decodes
 * the same encoder's output in t0200): matches near and far in a base of
 * several windows, continuation of the last match after edits and
 * insertions, blocks moved across the base, and vcdiff_encode_cb (same
 * bytes as vcdiff_encode, every target byte handed over once, mapped and
 * piped targets alike, a failing writer stops the encoder).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "tap.h"
#include "vcdiff.h"
#include "randfd.h"

static int
buf_write(void *arg, const void *p, size_t n, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	buf_add(arg, p, n);
	return 0;
}

struct both {
	struct buf	delta, seen;
	int		held, windows, releases, bad;
};

static int
both_write(void *arg, const void *p, size_t n, char *err, size_t errlen)
{
	return buf_write(&((struct both *)arg)->delta, p, n, err, errlen);
}

/* Each window is handed over, then released before the next one. */
static void
both_target(void *arg, const void *p, size_t n)
{
	struct both *b = arg;

	if (p == NULL) {
		b->bad += !b->held;
		b->held = 0;
		b->releases++;
		return;
	}
	b->bad += b->held;
	b->held = 1;
	b->windows++;
	buf_add(&b->seen, p, n);
}

/* Encodes tgt against src into delta (through the callback API). */
static int
encode(const uint8_t *src, size_t slen, const uint8_t *tgt, size_t tlen,
    struct buf *delta, struct vcdiff_stats *st)
{
	struct vcdiff_enc_io io = { buf_write, NULL, delta };
	char err[256];
	int sfd = mem_fd(src, slen), tfd = mem_fd(tgt, tlen), r;

	buf_reset(delta);
	r = vcdiff_encode_cb(sfd, tfd, &io, st, err, sizeof err);
	if (r == -1)
		diag_note("encode: %s", err);
	close(sfd);
	close(tfd);
	return r;
}

/* Decodes with our decoder and compares with tgt. */
static int
decodes_to(const uint8_t *src, size_t slen, const struct buf *delta,
    const uint8_t *tgt, size_t tlen)
{
	struct buf out = BUF_INIT;
	char err[256];
	int r;

	r = vcdiff_decode_mem(src, slen, (const uint8_t *)delta->data,
	    delta->len, &out, err, sizeof err) == 0 && out.len == tlen &&
	    memcmp(out.data, tgt, tlen) == 0;
	if (!r)
		diag_note("decode: %s (%zu bytes, want %zu)", err, out.len, tlen);
	buf_release(&out);
	return r;
}

#define MIB	((size_t)1 << 20)

/* A base of 20 MiB (3 windows): the target takes pieces from near its own
 * offset and from the far end of the base. */
static void
test_near_far(uint8_t *src, size_t slen)
{
	struct buf d = BUF_INIT;
	struct vcdiff_stats st;
	uint8_t *tgt = xmalloc(slen);
	size_t off, piece = 100000, k = 0;

	for (off = 0; off + piece <= slen; off += piece, k++) {
		size_t from = k % 3 == 0 ? slen - off - piece : /* far */
		    k % 3 == 1 ? off + 4096 : off;	/* near, same */

		if (from + piece > slen)
			from = slen - piece;
		memcpy(tgt + off, src + from, piece);
	}
	memset(tgt + off, 'x', slen - off);
	ok(encode(src, slen, tgt, slen, &d, &st) == 0, "near/far: encoded");
	ok(decodes_to(src, slen, &d, tgt, slen), "near/far: decodes "
	    "(%zu windows, delta %zu bytes)", (size_t)st.windows, d.len);
	ok(st.windows == 3 && d.len < slen / 1000, "near/far: %zu pieces "
	    "copied, delta %zu bytes < 0.1%%", k, d.len);
	ok(st.copy_bytes >= off - k * 64, "near/far: %llu of %zu bytes "
	    "copied", (unsigned long long)st.copy_bytes, off);
	free(tgt);
	buf_release(&d);
}

/* The base with a byte patched every 4 KiB, and with bytes inserted every
 * 64 KiB: the continuation of the last match must pick up each time. */
static void
test_continuation(uint8_t *src, size_t slen)
{
	struct buf d = BUF_INIT, t = BUF_INIT;
	struct vcdiff_stats st;
	uint8_t *tgt = xmalloc(slen);
	size_t off, edits = 0;

	memcpy(tgt, src, slen);
	for (off = 2048; off < slen; off += 4096, edits++)
		tgt[off] ^= 0x5a;
	ok(encode(src, slen, tgt, slen, &d, &st) == 0 &&
	    decodes_to(src, slen, &d, tgt, slen), "patched bytes: round trip");
	ok(d.len < edits * 12, "patched bytes: %zu edits, delta %zu bytes "
	    "(< 12 per edit)", edits, d.len);

	for (off = 0, edits = 0; off < slen; off += 65536, edits++) {
		size_t n = off + 65536 < slen ? 65536 : slen - off;

		buf_add(&t, src + off, n);
		buf_addf(&t, "inserted %zu", edits);
	}
	ok(encode(src, slen, (uint8_t *)t.data, t.len, &d, &st) == 0 &&
	    decodes_to(src, slen, &d, (uint8_t *)t.data, t.len),
	    "insertions: round trip");
	ok(d.len < edits * 40, "insertions: %zu, delta %zu bytes (< 40 each)",
	    edits, d.len);
	free(tgt);
	buf_release(&t);
	buf_release(&d);
}

/* 64 KiB blocks of the base in a shuffled order: found through the index
 * whatever their distance. */
static void
test_moved(uint8_t *src, size_t slen)
{
	struct buf d = BUF_INIT;
	struct vcdiff_stats st;
	size_t nb = slen / 65536, i, *order = xcalloc(nb, sizeof *order);
	uint8_t *tgt = xmalloc(nb * 65536);

	for (i = 0; i < nb; i++)
		order[i] = i;
	for (i = nb - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1), x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	for (i = 0; i < nb; i++)
		memcpy(tgt + i * 65536, src + order[i] * 65536, 65536);
	ok(encode(src, slen, tgt, nb * 65536, &d, &st) == 0 &&
	    decodes_to(src, slen, &d, tgt, nb * 65536), "moved blocks: "
	    "round trip");
	ok(d.len < nb * 16, "moved blocks: %zu blocks, delta %zu bytes", nb,
	    d.len);
	free(order);
	free(tgt);
	buf_release(&d);
}

/* vcdiff_encode_cb against vcdiff_encode, a mapped and a piped target,
 * the target callback, a target fd not at its start, a failing writer. */
static void
test_callback(uint8_t *src, size_t slen)
{
	struct both b = { BUF_INIT, BUF_INIT, 0, 0, 0, 0 };
	struct vcdiff_enc_io io = { both_write, both_target, &b };
	struct buf viafd = BUF_INIT, piped = BUF_INIT;
	struct vcdiff_stats st;
	char err[256], chunk[65536];
	uint8_t *tgt = xmalloc(slen);
	size_t off;
	ssize_t n;
	int sfd, tfd, dfd, p[2], status;
	pid_t pid;

	memcpy(tgt, src, slen);
	for (off = 1000; off < slen; off += 3 * MIB)
		fill_random(tgt + off, 3000);
	sfd = mem_fd(src, slen);
	tfd = mem_fd(tgt, slen);
	ok(vcdiff_encode_cb(sfd, tfd, &io, &st, err, sizeof err) == 0,
	    "callback: encoded");
	ok(b.seen.len == slen && memcmp(b.seen.data, tgt, slen) == 0,
	    "callback: the target handed over once, in order (%zu bytes)",
	    b.seen.len);
	ok(b.windows == (int)st.windows && b.releases == b.windows &&
	    b.bad == 0 && !b.held, "callback: %d windows, each released "
	    "before the next", b.windows);
	ok(decodes_to(src, slen, &b.delta, tgt, slen), "callback: decodes");

	lseek(tfd, 0, SEEK_SET);
	dfd = mem_fd(NULL, 0);
	ok(vcdiff_encode(sfd, tfd, dfd, NULL, err, sizeof err) == 0,
	    "fd form: encoded");
	lseek(dfd, 0, SEEK_SET);
	while ((n = read(dfd, chunk, sizeof chunk)) > 0)
		buf_add(&viafd, chunk, (size_t)n);
	ok(viafd.len == b.delta.len && memcmp(viafd.data, b.delta.data,
	    viafd.len) == 0, "fd form: the same bytes as the callback form");
	close(dfd);

	/* a pipe is read, not mapped: the same delta */
	if (pipe(p) == -1)
		abort();
	if ((pid = fork()) == 0) {
		close(p[0]);
		for (off = 0; off < slen; off += 100000)
			if (write(p[1], tgt + off, slen - off < 100000 ?
			    slen - off : 100000) < 0)
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	io.write = buf_write;
	io.target = NULL;
	io.arg = &piped;
	ok(vcdiff_encode_cb(sfd, p[0], &io, NULL, err, sizeof err) == 0 &&
	    piped.len == b.delta.len && memcmp(piped.data, b.delta.data,
	    piped.len) == 0, "piped target: the same delta as mapped");
	close(p[0]);
	waitpid(pid, &status, 0);

	/* a target fd past its start: encoded from there */
	lseek(tfd, 12345, SEEK_SET);
	buf_reset(&piped);
	ok(vcdiff_encode_cb(sfd, tfd, &io, NULL, err, sizeof err) == 0 &&
	    decodes_to(src, slen, &piped, tgt + 12345, slen - 12345),
	    "target read from its current offset");
	close(tfd);
	free(tgt);
	close(sfd);
	buf_release(&b.delta);
	buf_release(&b.seen);
	buf_release(&viafd);
	buf_release(&piped);
}

static int
fail_write(void *arg, const void *p, size_t n, char *err, size_t errlen)
{
	int *calls = arg;

	(void)p;
	(void)n;
	if (++*calls < 2)
		return 0;
	snprintf(err, errlen, "disk full (test)");
	return -1;
}

static void
test_failing_writer(uint8_t *src, size_t slen)
{
	int calls = 0, sfd = mem_fd(src, slen), tfd = mem_fd(src, slen);
	struct vcdiff_enc_io io = { fail_write, NULL, &calls };
	char err[256] = "";

	ok(vcdiff_encode_cb(sfd, tfd, &io, NULL, err, sizeof err) == -1 &&
	    strcmp(err, "disk full (test)") == 0 && calls == 2,
	    "a failing writer stops the encoder with its message (%s)", err);
	close(sfd);
	close(tfd);
}

int
main(void)
{
	size_t slen = 20 * MIB;
	uint8_t *src = xmalloc(slen);
	size_t i;

	/* random with some text-like stretches, as a tarball of binaries */
	fill_random(src, slen);
	for (i = 0; i + 4096 < slen; i += 1 << 18)
		memset(src + i, 'a' + (int)(i >> 18) % 26, 3000);
	test_near_far(src, slen);
	test_continuation(src, slen);
	test_moved(src, slen);
	test_callback(src, slen);
	test_failing_writer(src, slen);
	free(src);
	return done_testing();
}

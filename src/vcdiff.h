/*
 * vcdiff: an RFC 3284 (VCDIFF) delta encoder and decoder, interoperable with
 * the xdelta3 tool in both directions.  Shared by vzmaster and the static
 * node helper, so it depends on libc and buf only.
 *
 * The decoder accepts the default code table, VCD_SOURCE and VCD_TARGET
 * windows and xdelta3's extensions (VCD_ADLER32 window checksums, which it
 * verifies, and the application header, which it skips).  It refuses
 * secondary compression and custom code tables with a clear message.  Every
 * size, address and instruction is checked against the window: corrupt
 * input is an error, never a crash.  Memory is bounded by about two target
 * windows (at most 16 MiB each), whatever the size of the files.
 *
 * The encoder writes what `xdelta3 -d -s BASE` decodes: VCD_SOURCE windows
 * of at most 8 MiB of target, the default code table, VCD_ADLER32 checksums.
 *
 * All functions return 0, or -1 with a message in err.
 */
#ifndef VZ_VCDIFF_H
#define VZ_VCDIFF_H

#include <stddef.h>
#include <stdint.h>

struct buf;

struct vcdiff_stats {
	uint64_t	source_len, target_len, delta_len;
	uint32_t	windows;
	uint64_t	copy_bytes, add_bytes, run_bytes;
};

/* Largest target window accepted when decoding (xdelta3's hard limit). */
#define VCDIFF_MAX_WINDOW	(16u << 20)
/* Target window size the encoder writes. */
#define VCDIFF_ENC_WINDOW	(8u << 20)

/*
 * Encode target_fd (a file or a pipe) against source_fd (a regular file,
 * mapped; -1 for none) into out_fd.  st may be NULL.
 */
int	vcdiff_encode(int source_fd, int target_fd, int out_fd,
	    struct vcdiff_stats *st, char *err, size_t errlen);

/* Where vcdiff_encode_cb sends its output. */
struct vcdiff_enc_io {
	/* The delta, in order, in pieces of up to a window's encoding:
	   0, or -1 with err set (the encoder then stops). */
	int	(*write)(void *arg, const void *p, size_t n, char *err,
		    size_t errlen);
	/* NULL, or called with each target window, in order, before it is
	   encoded, then with (NULL, 0) once the encoder is done with it and
	   before it reads the next: the bytes stay valid in between, so a
	   caller can hash them (on another thread) in the read that
	   encodes them. */
	void	(*target)(void *arg, const void *p, size_t n);
	void	*arg;
};

/*
 * vcdiff_encode writing through io instead of into a file descriptor.  A
 * regular-file target_fd at offset 0 is mapped rather than read.
 */
int	vcdiff_encode_cb(int source_fd, int target_fd,
	    const struct vcdiff_enc_io *io, struct vcdiff_stats *st,
	    char *err, size_t errlen);

/*
 * Decode delta_fd (a file or a pipe) against source_fd (a regular file,
 * mapped; -1 for none) into out_fd (-1: decode and check, write nothing).
 * VCD_TARGET windows need out_fd to be readable with pread (a regular file
 * opened O_RDWR).  st may be NULL.
 */
int	vcdiff_decode(int source_fd, int delta_fd, int out_fd,
	    struct vcdiff_stats *st, char *err, size_t errlen);

/*
 * The decoder as a reader, for a caller that consumes the target as it is
 * made (hashes and unpacks it) instead of reading the output back.  Each
 * window is still written to out_fd, which VCD_TARGET windows read back;
 * with out_fd -1 nothing is written and a VCD_TARGET window is an error
 * (our encoder never writes one).
 * vcdiff_reader_next: 1 with *p, *n the next window's target bytes (valid
 * until the next call), 0 at the clean end, -1 with a message in the err
 * given to open (errno is that of a failed write, for ENOSPC).
 * VCDIFF_NO_ADLER32 skips the window checksums, for a caller that checks
 * a stronger hash of the whole target anyway.
 */
#define VCDIFF_NO_ADLER32	0x1
struct vcdiff_reader;
struct vcdiff_reader *vcdiff_reader_open(int source_fd, int delta_fd,
	    int out_fd, int flags, char *err, size_t errlen);
int	vcdiff_reader_next(struct vcdiff_reader *, const uint8_t **p,
	    size_t *n);
void	vcdiff_reader_close(struct vcdiff_reader *, struct vcdiff_stats *st);
/*
 * 1 when the target bytes [off, off + len), all decoded already, were
 * copied from the source at the same offsets (a COPY whose source address
 * is its target position), so they equal the source's bytes there without
 * being compared; 0 when not or not known.  For an importer that would
 * otherwise read the base again to find the files that did not change.
 */
int	vcdiff_reader_same(const struct vcdiff_reader *, uint64_t off,
	    uint64_t len);

/*
 * A source read by offset instead of mapped, for a base that is not one
 * file (assembled from many): read fills dst with the n bytes at off
 * (off + n <= len, n > 0, guaranteed by the decoder), returns 0, or -1 with
 * a message in err, which then fails the decode.  Each COPY from the source
 * reads just its bytes, straight into the target window, so the segment
 * (possibly the whole base) is never held in memory.
 */
struct vcdiff_source {
	uint64_t	 len;
	int		(*read)(void *arg, uint64_t off, uint8_t *dst, size_t n,
			    char *err, size_t errlen);
	void		*arg;
};

/* vcdiff_reader_open over a callback source (NULL for none); src is copied. */
struct vcdiff_reader *vcdiff_reader_open_src(const struct vcdiff_source *src,
	    int delta_fd, int out_fd, int flags, char *err, size_t errlen);

/* The same on memory: appends the target to out.  For tests and fuzzing. */
int	vcdiff_decode_mem(const uint8_t *src, size_t srclen,
	    const uint8_t *delta, size_t dlen, struct buf *out,
	    char *err, size_t errlen);

/* Adler-32 as xdelta3 computes it for VCD_ADLER32 (start with 1). */
uint32_t	vcdiff_adler32(uint32_t adler, const uint8_t *, size_t);

#endif

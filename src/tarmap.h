/*
 * tarmap: an image's tarball kept as its unpacked rootfs plus a map, so a
 * node stores each image once instead of twice.
 *
 * The node needs an image's exact tarball after the import only as the base
 * of a later delta and to re-check the image after a crash.  The tarball's
 * bytes are the rootfs's regular files' contents plus headers and padding,
 * so the map keeps the headers and padding verbatim (a few percent of the
 * tarball) and, for each regular file's data, the path of the file in the
 * rootfs that holds the same bytes.  Reading the map back gives the tarball
 * byte for byte, as long as the rootfs is not changed, which holds because
 * an image rootfs is only ever mounted read-only; a reader that finds a
 * file shorter than the map says fails, and the sha256 that every consumer
 * checks (the image id) catches any other change.
 *
 * Writing: the tarball's bytes are fed in order as they pass to the
 * unpacker.  A small tar walker decides, as the bytes pass, which ones are
 * a regular file's data (withheld) and which are kept verbatim; the
 * unpacker (libarchive) then names the file of each withheld range, by the
 * position of its header.  The walker is deliberately conservative: any
 * header it does not fully understand (sparse files, global or vendor
 * extensions, unparsable sizes) makes it keep the bytes verbatim, which is
 * always right.  A withheld range that the unpacker does not claim as the
 * same regular file is an error: the map would miss those bytes.
 *
 * File layout: the verbatim bytes, in order; then one record per span of
 * the tarball, in order ("v LEN\n" for verbatim bytes, "f LEN PATHLEN
 * PATH\n" for a file's data); then a 64-byte trailer "\nvztarmap 1 TABLEOFF
 * TARSIZE" padded with spaces and ended by "\n".
 *
 * Functions return 0, or -1 with a message in err.
 */
#ifndef VZ_TARMAP_H
#define VZ_TARMAP_H

#include <stddef.h>
#include <stdint.h>

#define TARMAP_NAME	"tarmap"	/* images/<id>/tarmap */

struct tarmap_writer;

/* A writer into fd (a new, empty file; not closed by the writer). */
struct tarmap_writer *tarmap_writer_new(int fd);
/* The tarball's next n bytes. */
int	tarmap_writer_feed(struct tarmap_writer *, const void *p, size_t n,
	    char *err, size_t errlen);
/*
 * The unpacker's regular file entry whose header (its first extension
 * header, if any) starts at hpos and whose data of size bytes starts at
 * dpos, unpacked at path (relative to the rootfs).  Entries the walker kept
 * verbatim are ignored; hpos must grow from call to call.
 */
int	tarmap_writer_file(struct tarmap_writer *, uint64_t hpos,
	    uint64_t dpos, uint64_t size, const char *path, char *err,
	    size_t errlen);
/* After the last byte: the table and trailer.  Not synced. */
int	tarmap_writer_finish(struct tarmap_writer *, char *err,
	    size_t errlen);
/* Bytes of the tarball kept verbatim so far. */
uint64_t tarmap_writer_verbatim(const struct tarmap_writer *);
void	tarmap_writer_free(struct tarmap_writer *);

struct tarmap;

/*
 * Open the map in mapfd, whose files are beneath the rootfs folder rootfd
 * (both stay open and owned by the caller until tarmap_close).
 */
struct tarmap *tarmap_open(int mapfd, int rootfd, char *err, size_t errlen);
/* The size of the tarball mapped by the file at path; 0 if unreadable. */
uint64_t tarmap_file_size(const char *path);
/* The tarball's size. */
uint64_t tarmap_size(const struct tarmap *);
/* The n tarball bytes at off (off + n <= size). */
int	tarmap_read(struct tarmap *, uint64_t off, void *dst, size_t n,
	    char *err, size_t errlen);
/*
 * The path (relative to the rootfs) of the file whose data holds all of
 * the n tarball bytes at off, and in *foff their offset in it; NULL when
 * they are not all one file's data.  Valid until tarmap_close.
 */
const char *tarmap_file_at(struct tarmap *, uint64_t off, uint64_t n,
	    uint64_t *foff);
void	tarmap_close(struct tarmap *);

#endif

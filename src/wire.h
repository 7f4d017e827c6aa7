/*
 * wire: the format of an image push, shared by vzmaster (wire_build) and
 * the node helper vzexec-image (wire_manifest_parse, wire_unpack).
 *
 * An upload is two files put into the node's ROOT/incoming/:
 *   <id>.<ext>        the payload: the VCDIFF delta of the image tarball
 *                     against a base the node holds, or the whole tarball;
 *                     compressed as a whole with zstd (or xz when asked;
 *                     libarchive raw filters) when that makes it smaller
 *   <id>.upload.json  the manifest below, written last
 *
 *   { "vzupload": 1,
 *     "image": "<sha256 hex of the tarball = image id>",
 *     "ref": "<image reference, informational>",
 *     "base": "<image id of the delta base>" | null,
 *     "encoding": "vcdiff+zstd" | "vcdiff+xz" | "vcdiff" |
 *                 "tar+zstd" | "tar+xz" | "tar",
 *     "file": "<payload file name in incoming/, no slash>",
 *     "size": <payload bytes>,
 *     "sha256": "<sha256 hex of the payload file as uploaded>",
 *     "imageSize": <tarball bytes>,
 *     "config": { the vzimage config of doc/node-protocol.md } }
 */
#ifndef VZ_WIRE_H
#define VZ_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAX_MANIFEST	(1u << 20)

enum wire_compress { WIRE_AUTO, WIRE_NONE, WIRE_XZ, WIRE_ZSTD };

struct wire_upload {
	char		 path[4096];	/* payload file written */
	char		 file[128];	/* its name for incoming/ */
	char		 manifest_name[128];	/* <id>.upload.json */
	char		*manifest_json;	/* caller frees (wire_upload_release) */
	char		 encoding[16];
	uint64_t	 size;		/* payload bytes */
	uint64_t	 delta_size;	/* uncompressed delta, 0 for full */
	uint64_t	 image_size;
	char		 sha256[65];
};

/*
 * Build the upload for image target_id (tarball target_tar, config JSON
 * config_json, reference ref) into out_dir.  base_tar/base_id NULL: the full
 * tarball; else a VCDIFF delta against base_tar.  compress: WIRE_AUTO makes
 * one zstd attempt (level 1 on 2 threads for a full tarball, 9 for a delta
 * up to 1 MiB, 3 for a larger one) and sends the payload raw when that
 * saves less than 5%; WIRE_XZ, WIRE_ZSTD and WIRE_NONE are kept as asked.
 * target_tar is read once, and that read checks its sha256 against
 * target_id: a damaged store file is removed and reported (err names it).
 * Returns 0, or -1 with err set; the payload file is removed on failure.
 */
int	wire_build(const char *base_tar, const char *base_id,
	    const char *target_tar, const char *target_id, const char *ref,
	    const char *config_json, const char *out_dir,
	    enum wire_compress compress, struct wire_upload *up,
	    char *err, size_t errlen);
void	wire_upload_release(struct wire_upload *);

struct wire_manifest {
	char		 image[65];
	char		 base[65];	/* "" for a full tarball */
	char		 ref[1024];
	char		 file[256];	/* "" when absent (streamed upload) */
	char		 sha256[65];
	uint64_t	 size, image_size;
	int		 vcdiff;	/* payload is a delta */
	enum wire_compress compress;
	char		*config_json;	/* caller frees */
};

/* Parse and check a manifest (untrusted): 0, or -1 with err set. */
int	wire_manifest_parse(const char *text, size_t len,
	    struct wire_manifest *m, char *err, size_t errlen);
void	wire_manifest_release(struct wire_manifest *);

#define WIRE_OK		0
#define WIRE_FAIL	(-1)	/* bad upload, I/O error */
#define WIRE_MISMATCH	(-3)	/* the delta did not give the image */

/*
 * Rebuild the tarball: check the payload's size and sha256, decompress,
 * apply the delta against base_tar (when m->vcdiff), write out_tar (created
 * 0600, fsynced) and check its sha256 against m->image.  tmp_dir holds the
 * intermediate files.  Returns WIRE_OK, WIRE_FAIL or WIRE_MISMATCH (a delta
 * upload that did not rebuild the image: the sender should send the full
 * tarball); out_tar is removed on failure.
 */
int	wire_unpack(const struct wire_manifest *m, const char *payload,
	    const char *base_tar, const char *out_tar, const char *tmp_dir,
	    char *err, size_t errlen);

#endif

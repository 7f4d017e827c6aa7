/*
 * image: master-side import of a container image into one flattened,
 * deterministic rootfs tarball whose sha256 is the image id.
 *
 * References (the transport names of containers/image):
 *   oci:DIR[:TAG]          OCI image layout; TAG matches the
 *                          org.opencontainers.image.ref.name annotation;
 *                          without TAG the layout must hold one manifest
 *   oci-archive:FILE[:TAG] a tar of an OCI image layout
 *   docker-archive:FILE[:REF]  `docker save` / `podman save --format
 *                          docker-archive`; REF picks an entry by RepoTags
 *   dir:ROOTFS             a plain root file system folder
 *
 * The tarball: pax (ustar with pax extended headers only where needed),
 * entries in depth-first order with the children of each directory sorted
 * byte-wise (so parents come before children), no entry for the root
 * itself; numeric uid/gid only (no user or group names), mtime in whole
 * seconds, modes, symlinks, hardlinks (the first path of a set in that
 * order carries the data), device nodes, fifos, and xattrs.  Layers are
 * applied in order with OCI whiteouts (.wh.NAME, .wh..wh..opq); a hardlink
 * whose target was later removed becomes a regular file.  Layer, manifest
 * and config digests are verified against the bytes stored.
 *
 * Memory: one node per path in memory; file contents of layers are spilled
 * to a temporary file in the store, never kept in memory.
 */
#ifndef VZ_IMAGE_H
#define VZ_IMAGE_H

#include <stddef.h>
#include <stdint.h>

struct image_info {
	char		 id[65];	/* sha256 hex of the tarball */
	uint64_t	 size;		/* tarball bytes */
	uint64_t	 entries;	/* entries written */
	unsigned	 layers;	/* layers applied (0 for dir:) */
	char		*config_json;	/* the vzimage config; caller frees */
};

/*
 * Import REF into STORE_DIR (created if missing), producing
 * STORE_DIR/<id>.tar and STORE_DIR/<id>.json (the image config of
 * doc/node-protocol.md, with "ref" set to REF).  Temporary files go into
 * STORE_DIR and are removed whatever happens.  Returns 0, or -1 with a
 * message naming the file and, for a bad blob, the blob.
 * Release out with image_info_release().
 */
int	image_import(const char *ref, const char *store_dir,
	    struct image_info *out, char *err, size_t errlen);
void	image_info_release(struct image_info *);

#endif

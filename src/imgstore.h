/*
 * imgstore: the master's image store, .vzmaster/images/ next to the
 * inventory.  It holds the flattened tarballs by id (<id>.tar, <id>.json
 * from image_import) and, per image reference, the ids of the last N
 * versions imported (refs/<escaped ref>, newest first, written atomically),
 * which are the delta bases for pushes.  Versions beyond N are forgotten,
 * and their files removed when no other reference keeps them.
 */
#ifndef VZ_IMGSTORE_H
#define VZ_IMGSTORE_H

#include <stddef.h>

#include "image.h"

#define IMGSTORE_KEEP	3
#define IMGSTORE_MAX	64	/* versions read from an index */

struct imgstore {
	char	dir[4096];
	int	keep;
};

/* Open (create) the store at dir keeping keep versions (<= 0: default). */
int	imgstore_open(struct imgstore *, const char *dir, int keep, char *err,
	    size_t errlen);
/* image_import into the store, then imgstore_record. */
int	imgstore_import(struct imgstore *, const char *ref,
	    struct image_info *out, char *err, size_t errlen);
/* Make id the newest version of ref; prune beyond keep. */
int	imgstore_record(struct imgstore *, const char *ref, const char *id,
	    char *err, size_t errlen);
/* The versions of ref, newest first (at most max); *n = 0 when unknown. */
int	imgstore_versions(struct imgstore *, const char *ref, char (*ids)[65],
	    size_t max, size_t *n, char *err, size_t errlen);
/*
 * The newest version of ref that the node also has (node_ids) and whose
 * tarball the store still holds, for a delta: 1 with out set, 0 none.
 */
int	imgstore_pick_base(struct imgstore *, const char *ref,
	    const char *const *node_ids, size_t n, char out[65]);
/* Paths of an image's files. */
void	imgstore_tar_path(const struct imgstore *, const char *id, char *,
	    size_t);
void	imgstore_config_path(const struct imgstore *, const char *id, char *,
	    size_t);

#endif

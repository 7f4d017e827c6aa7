/*
 * nodespec: turn one resolved pod (pod.h) plus the image ids its containers
 * were imported as into the spec a node runs (pods/<pod>.json, version 1 of
 * doc/node-protocol.md), and the hash that names that exact desired state.
 * The hash is what the planner compares: any change of spec or image makes
 * a new hash and so a rolling update.
 */
#ifndef VZ_NODESPEC_H
#define VZ_NODESPEC_H

#include "buf.h"

struct pod;

#define NODESPEC_HASH_LEN 64

/*
 * image_ids[i] is the 64-hex image id of pod->containers[i].  Writes the
 * spec JSON into out (appended) and its hash (hex, NUL-terminated) into
 * hash.  The hash covers everything but itself.
 */
void	nodespec_build(const struct pod *, const char *const *image_ids,
	    struct buf *out, char hash[NODESPEC_HASH_LEN + 1]);

#endif

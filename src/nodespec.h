/*
 * nodespec: turn one resolved pod (pod.h) plus the image ids its containers
 * were imported as, and the image config of each container's own image
 * reference, into the spec a node runs (pods/<pod>.json, version 1 of
 * doc/node-protocol.md), and the hash that names that exact desired state.
 * The hash is what the planner compares: any change of spec, image or
 * image config makes a new hash and so a rolling update.
 */
#ifndef VZ_NODESPEC_H
#define VZ_NODESPEC_H

#include "buf.h"

struct json_value;
struct pod;

#define NODESPEC_HASH_LEN 64

/*
 * image_ids[i] is the 64-hex image id of pod->containers[i], and
 * image_configs[i] (not NULL) the image config (the vzimage JSON of
 * image.h) of that container's own image reference: references whose
 * rootfs is the same share an id but not a config, so the config goes
 * into the spec as the container's imageConfig, with what the node uses
 * of it (Entrypoint, Cmd, Env, WorkingDir, User).  Writes the spec JSON
 * into out (appended) and its hash (hex, NUL-terminated) into hash.  The
 * hash covers everything but itself.
 */
void	nodespec_build(const struct pod *, const char *const *image_ids,
	    const struct json_value *const *image_configs, struct buf *out,
	    char hash[NODESPEC_HASH_LEN + 1]);

#endif

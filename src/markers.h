/*
 * markers: the master-side state that survives between `vzmaster deploy`
 * runs, in `.vzmaster/state.json` next to the inventory: per node the
 * consecutive missed probes and when it was last seen, per pod the killed
 * marker, and per pod and node the spec hash last deployed there together
 * with the one before it (what a rollback goes back to).
 *
 * Loading is tolerant of a missing file (empty state) and strict about a
 * damaged one (an error naming the file, never a crash).  Saving is atomic:
 * temp file, fsync, rename, fsync of the directory.  The update functions
 * are pure: they change the struct, never the disk.  Writers (deploy,
 * kill) hold the deploy lock (lock.h) around load-modify-save.
 *
 * The file (version 1, members sorted by name):
 *   { "version": 1,
 *     "nodes": { "web1": { "missed": 0, "lastSeen": 1700000000 } },
 *     "pods": { "api": { "killed": true, "killedAt": 1700000000 } },
 *     "deployed": [ { "pod": "web", "node": "web1", "hash": "H2",
 *                     "previous": "H1", "at": 1700000000 } ] }
 */
#ifndef VZ_MARKERS_H
#define VZ_MARKERS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "plan.h"

#define MARKERS_VERSION	1

struct markers_node {
	char	*name;
	int	 missed;	/* consecutive failed probes */
	int64_t	 last_seen;	/* unix time of the last answer, 0 never */
};

struct markers_pod {
	char	*name;
	int	 killed;
	int64_t	 killed_at;
};

struct markers_deployed {
	char	*pod;
	char	*node;
	char	*hash;		/* last deployed spec hash */
	char	*previous;	/* the one before, NULL if none */
	int64_t	 at;
};

struct markers {
	struct markers_node	*nodes;
	size_t			 nnodes;
	struct markers_pod	*pods;
	size_t			 npods;
	struct markers_deployed	*deployed;
	size_t			 ndeployed;
};

#define MARKERS_INIT { NULL, 0, NULL, 0, NULL, 0 }

/* "<dir of inventory>/.vzmaster/<name>" into out (reset first). */
void	markers_state_path(const char *inventory_path, const char *name,
	    struct buf *out);

/*
 * Load path into m (initialised here).  A missing file gives an empty
 * state and 0; an unreadable or malformed file gives -1 and a message
 * naming the file.
 */
int	markers_load(struct markers *m, const char *path, char *err,
	    size_t errlen);
/* Atomically replace path; creates its directory if missing.  0 or -1. */
int	markers_save(const struct markers *m, const char *path, char *err,
	    size_t errlen);
/* Serialise (sorted by name: the file is stable between runs). */
void	markers_write(const struct markers *m, struct buf *out);
/* Parse text as loaded from a file; `what` names it in messages. */
int	markers_parse(struct markers *m, const char *text, size_t len,
	    const char *what, char *err, size_t errlen);
void	markers_release(struct markers *m);

/*
 * Record one probe result of a node and return the value plan_node.missed
 * wants: for an unreachable node the count including this probe; for one
 * that answered, the streak this answer ended (then reset to 0, last_seen
 * set to now).
 */
int	markers_probe(struct markers *m, const char *node, int reachable,
	    int64_t now);
/* The node's entry, or NULL. */
const struct markers_node *markers_node(const struct markers *m,
	    const char *node);
/* Drop nodes that are no longer in the inventory (names[0..n)). */
void	markers_prune_nodes(struct markers *m, const char *const *names,
	    size_t n);

void	markers_kill(struct markers *m, const char *pod, int64_t now);
void	markers_unkill(struct markers *m, const char *pod);
int	markers_killed(const struct markers *m, const char *pod);

/*
 * Remember that hash now runs pod on node.  When it differs from the last
 * recorded hash, that one becomes `previous`.
 */
void	markers_deployed_set(struct markers *m, const char *pod,
	    const char *node, const char *hash, int64_t now);
const struct markers_deployed *markers_deployed_get(const struct markers *m,
	    const char *pod, const char *node);
/* The pod was stopped on the node: forget it there. */
void	markers_deployed_remove(struct markers *m, const char *pod,
	    const char *node);

/*
 * What the markers say runs on a node (its deployed records, healthy
 * assumed), for plan_node.pods of a node that did not answer: within the
 * grace its pods still count as placed.  *out (caller must free; may be
 * NULL when 0 is returned) points into m, which must outlive it.
 */
size_t	markers_last_known(const struct markers *m, const char *node,
	    struct plan_running **out);

#endif

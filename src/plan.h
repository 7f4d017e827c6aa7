/*
 * plan: the placement and action planner of `vzmaster deploy`.  A pure
 * function from (desired pods, nodes with what they report, probe markers,
 * the pods named on the command line) to an ordered list of actions plus
 * the problems found.  No I/O, no globals: the same input gives the same
 * plan whatever order the arrays come in.
 *
 * The input types are the planner's own; the deploy command fills them from
 * the parsed manifests, the inventory, `vzexec status` and the markers.  The
 * plan copies every string it keeps, so the input may go away afterwards.
 *
 * Semantics, in the order they are applied:
 *  - A node that answered this probe is UP.  A node that did not answer is
 *    in GRACE while missed < grace: the pods it lists (the caller passes
 *    what it last knew, e.g. from the markers) still count as placed there,
 *    so nothing moves during a short network cut.  With missed >= grace it
 *    is GONE: its replicas count for nothing and are placed elsewhere.
 *    Unreachable nodes never get actions.
 *  - A node that is UP again after having been GONE (missed >= grace, see
 *    plan_node.missed) is "returned": its replicas are the first to be
 *    dropped when a pod has more replicas than wanted (reason
 *    PLAN_REASON_NODE_RETURNED), since the pod was placed elsewhere while
 *    it was away.
 *  - Pods absent from the manifests are stopped where they run (reason
 *    REMOVED); pods with the killed marker are stopped everywhere and never
 *    started (reason KILLED), unless they are named, which un-kills them.
 *    When pods are named, only those are converged: other pods keep what
 *    they have (their memory and hostPorts still count) and get no action,
 *    and pods missing from the manifests are left alone.
 *  - A replica stays where it runs (UP or GRACE) while that node matches
 *    the pod's nodeSelector.  If more replicas run than wanted, the ones
 *    kept are chosen by: not on a returned node, vendor spread, UP before
 *    GRACE, healthy, already at the wanted hash, node name.
 *  - Missing replicas go to UP nodes that do not run the pod yet, match the
 *    nodeSelector, have the memory (mem_total - mem_reserve - requests of
 *    the pods planned there >= request; mem_total 0 means unknown: no
 *    check) and none of the pod's hostPorts used by another pod planned
 *    there.  Among those: the vendor with the fewest replicas of this pod
 *    first, then the node with the fewest pods, then the most free memory,
 *    then the name.  Pods are placed largest request first, then by name.
 *  - nodeSelector: the keys `group` and `vzmaster/group` match when the
 *    node is a member of the inventory group named by the value;
 *    `kubernetes.io/hostname` matches the node name; any other key matches
 *    the host variable of that name (`vendor` falls back to the node's
 *    vendor when no such variable is given).  All entries must match.
 *  - A node with `draining` set (the inventory's drain=true) gets no new
 *    replica, and its replicas are placed elsewhere like those of a gone
 *    node, then stopped (reason DRAIN, phase EXTRA: once the new ones are
 *    running and ready).  A replica no other node can take stays where it
 *    is, with a problem saying why, and counts in plan.nstuck (deploy
 *    exits 1): nothing that serves is stopped without a replacement.
 *  - A kept replica on an UP node whose hash differs from the wanted one is
 *    updated.  Updates of one pod go one node per wave (1, 2, ... in node
 *    name order).  SIDE_BY_SIDE: start the new version, wait ready, stop the
 *    old; STOP_FIRST when the pod has hostPorts (old and new would bind the
 *    same port): stop the old, start the new.
 *
 * Order for the applier (plan_action.phase): RETIRE stops (removed and
 * killed pods) can go at once; then STARTs of new replicas; then UPDATE
 * waves of each pod in wave order; then EXTRA stops of a pod, only once its
 * starts and updates are running and ready (nothing is stopped unless its
 * replacement runs).  KEEPs are no-ops, listed for reporting.  Waves of
 * different pods are independent of each other; within a wave and within
 * the START phase the nodes can be worked on in parallel.
 */
#ifndef VZ_PLAN_H
#define VZ_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "json.h"

#define PLAN_DEFAULT_GRACE	2
#define PLAN_DEFAULT_RESERVE	((int64_t)128 * 1024 * 1024)

struct plan_kv {
	const char	*key;
	const char	*value;
};

/* A desired pod: a Pod has replicas 1, a Deployment its `replicas`. */
struct plan_pod {
	const char		*name;
	int			 replicas;
	int			 max_unavailable; /* nodes updated per wave; < 2:
						   one */
	const char		*spec_hash;	/* hash of the desired node spec,
						   image ids included */
	int64_t			 mem_request;	/* bytes: requests, else limits,
						   0 if none */
	const struct plan_kv	*node_selector;
	size_t			 n_node_selector;
	const int		*host_ports;	/* ports bound on the node */
	size_t			 n_host_ports;
	int			 killed;	/* master marker: the user ran
						   kill; skipped unless named */
};

/* A pod as a node reports it (or, for an unreachable node, as last known). */
struct plan_running {
	const char	*pod;
	const char	*spec_hash;
	int		 healthy;		/* running and ready */
	int64_t		 mem_used;		/* bytes; counts for pods that
						   are not in the manifests */
};

struct plan_node {
	const char		*name;
	const char		*vendor;	/* NULL: a vendor of its own */
	const char *const	*groups;
	size_t			 ngroups;
	const struct plan_kv	*vars;
	size_t			 nvars;
	int			 reachable;	/* answered this probe */
	int			 draining;	/* inventory drain=true */
	/*
	 * Consecutive failed probes from the markers.  Unreachable node: the
	 * count including this probe.  Reachable node: the count of the
	 * streak this answer ended (0 if it answered last time too), so the
	 * planner knows a node returns from being gone.  markers_probe()
	 * returns exactly this.
	 */
	int			 missed;
	int64_t			 mem_total;	/* bytes, 0 unknown */
	int64_t			 mem_available;	/* reported only */
	const struct plan_running *pods;
	size_t			 npods;
};

struct plan_input {
	const struct plan_pod	*pods;
	size_t			 npods;
	const struct plan_node	*nodes;
	size_t			 nnodes;
	int			 grace;		/* <= 0: PLAN_DEFAULT_GRACE */
	int64_t			 mem_reserve;	/* < 0: PLAN_DEFAULT_RESERVE */
	const char *const	*named;		/* pods named on the command
						   line; none: converge all */
	size_t			 nnamed;
};

/* Zeroes and sets the defaults (grace 2, reserve 128 MiB). */
void	plan_input_init(struct plan_input *);

enum plan_op {
	PLAN_START,
	PLAN_STOP,
	PLAN_UPDATE,
	PLAN_KEEP
};

enum plan_reason {
	PLAN_REASON_NONE,
	PLAN_REASON_NEW,		/* START: a replica was missing */
	PLAN_REASON_REPLACE,		/* START: replaces one on a gone node
					   (plan_action.other) */
	PLAN_REASON_EXTRA,		/* STOP: more replicas than wanted */
	PLAN_REASON_REMOVED,		/* STOP: not in the manifests */
	PLAN_REASON_KILLED,		/* STOP: killed marker */
	PLAN_REASON_NODE_RETURNED,	/* STOP: placed elsewhere while the
					   node was gone */
	PLAN_REASON_SELECTOR,		/* STOP: node no longer matches the
					   nodeSelector; moved */
	PLAN_REASON_DRAIN		/* STOP: the node is draining; moved */
};

enum plan_mode {
	PLAN_MODE_NONE,
	PLAN_SIDE_BY_SIDE,
	PLAN_STOP_FIRST
};

enum plan_phase {
	PLAN_PHASE_RETIRE,		/* stops of removed and killed pods */
	PLAN_PHASE_START,
	PLAN_PHASE_UPDATE,
	PLAN_PHASE_EXTRA,		/* stops of extras, after the pod's
					   starts and updates are ready */
	PLAN_PHASE_KEEP
};

struct plan_action {
	enum plan_op	 op;
	enum plan_reason reason;
	enum plan_mode	 mode;		/* UPDATE only */
	enum plan_phase	 phase;
	int		 wave;		/* UPDATE: 1.. per pod, else 0 */
	char		*pod;
	char		*node;
	char		*old_hash;	/* STOP, UPDATE, KEEP: what runs */
	char		*new_hash;	/* START, UPDATE, KEEP: wanted */
	char		*other;		/* REPLACE: the gone node, else NULL */
	int64_t		 mem_request;
};

struct plan_problem {
	char		*pod;
	char		*text;		/* full message, pod name first */
};

/* One line per desired pod (sorted by name), for reports and exit codes. */
struct plan_pod_state {
	char		*name;
	int		 replicas;	/* wanted (0 for a killed pod) */
	int		 placed;	/* kept + started, GRACE nodes included */
	int		 converged;	/* named, or no pod was named */
	int		 killed;	/* killed and not named: left stopped */
	int		 unkill;	/* killed but named: the caller clears
					   the marker */
	int		 short_;	/* placed < replicas */
};

struct plan {
	struct plan_action	*actions;	/* sorted: phase, pod, wave,
						   node */
	size_t			 n;
	struct plan_problem	*problems;
	size_t			 nproblems;
	struct plan_pod_state	*pods;
	size_t			 npods;
	char			**short_pods;	/* short of replicas: deploy
						   exits 1 */
	size_t			 nshort;
	size_t			 nstuck;	/* replicas left on draining
						   nodes: deploy exits 1 */
	int			 grace;		/* effective values */
	int64_t			 mem_reserve;
};

#define PLAN_INIT { NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, 0, 0 }

/*
 * Compute the plan.  0 on success (problems and short pods are part of a
 * successful plan); -1 when the input itself is malformed (NULL or
 * duplicate names, negative replicas, missing hash), with the message in
 * err.  *out is always initialised; the caller must plan_release it.
 */
int	plan_compute(const struct plan_input *, struct plan *out, char *err,
	    size_t errlen);
void	plan_release(struct plan *);

/* Counts of actions of one op that change something. */
size_t	plan_count(const struct plan *, enum plan_op);

const char *plan_op_name(enum plan_op);		/* "start", "stop", ... */
const char *plan_reason_name(enum plan_reason);	/* "new", "extra", ... */
const char *plan_mode_name(enum plan_mode);	/* "side-by-side", ... */
const char *plan_phase_name(enum plan_phase);

/*
 * JSON: {"actions":[{"op","pod","node","reason","phase","wave","mode",
 * "oldHash","newHash","replaces","memRequest"}...],"pods":[...],
 * "problems":[{"pod","message"}],"short":[names],"stuck":N} written as
 * one value.
 */
void	plan_write_json(const struct plan *, struct json_writer *);

/*
 * Human table for `deploy --dry-run`: one line per action, grouped by node
 * (name order), then the problems.  KEEPs are left out unless verbose.
 * Hashes are shortened to 12 characters.
 */
void	plan_format_table(const struct plan *, int verbose, struct buf *out);

/* "64 MiB", "1.5 GiB", "512 KiB", "100 B": for messages. */
void	plan_format_bytes(int64_t, struct buf *out);

#endif

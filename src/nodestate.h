/*
 * nodestate: what a node says about itself (`vzexec status`, version 1 of
 * doc/node-protocol.md), parsed into plain structs.  A node's output is
 * untrusted input: sizes, counts, types and names are all checked, and a
 * node that lies gets an error naming what was wrong, never a crash.
 */
#ifndef VZ_NODESTATE_H
#define VZ_NODESTATE_H

#include <stddef.h>
#include <stdint.h>

#define NODESTATE_MAX_BYTES	(4u << 20)	/* status larger than this: lie */

struct node_container {
	char	*name;
	char	*state;		/* waiting running backoff stopped failed */
	char	*reason;	/* NULL when none */
	char	*running_hash;	/* spec hash of the copy that runs, or NULL */
	char	*image;		/* image id it runs, or NULL */
	int64_t	 pid;
	int64_t	 started_at;	/* unix seconds, 0 unknown */
	int64_t	 restarts;
	int64_t	 last_exit;	/* -1 unknown */
	int64_t	 memory;	/* bytes, -1 unknown */
	int	 ready;
};

struct node_pod {
	char			*name;
	char			*hash;		/* spec hash the node runs */
	char			*error;		/* spec refused: why */
	int			 stopping;	/* spec removed, still in its
						   grace period */
	struct node_container	*containers;
	size_t			 ncontainers;
};

struct node_image {
	char	*id;		/* 64 hex */
	char	*ref;		/* NULL when unknown */
};

struct node_state {
	int		 version;
	char		*hostname;
	char		*os;
	char		*arch;
	char		*init;
	int64_t		 mem_total, mem_available, disk_free;
	double		 load1;
	int		 supervisor_running;
	char		*vzexec_version; /* of the node's vzexec; NULL: unknown */
	struct node_image *images;
	size_t		 nimages;
	struct node_pod	*pods;
	size_t		 npods;
};

/* <0, 0, >0 as dotted version a is older, equal, newer than b; NULL or
   malformed is older than anything. */
int	 node_version_cmp(const char *a, const char *b);

/* 0, or -1 with err saying what the node got wrong.  Caller releases. */
int	 node_state_parse(const char *text, size_t len, struct node_state *,
	     char *err, size_t errlen);
void	 node_state_release(struct node_state *);
const struct node_pod *node_state_pod(const struct node_state *,
	     const char *name);
int	 node_state_has_image(const struct node_state *, const char *id);
/* A pod is healthy when every container is running and ready, and runs
 * the spec the pod reports (not an old copy still stopping). */
int	 node_pod_healthy(const struct node_pod *);

#endif

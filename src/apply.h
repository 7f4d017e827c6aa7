/*
 * apply: carry out a plan on the nodes.  Actions run phase by phase and,
 * for updates, wave by wave (one node per pod per wave), with the nodes of
 * one step in parallel.  Per action: push the images the node lacks (a
 * VCDIFF delta against a version it has, else the full tarball; a delta
 * that does not rebuild the image is replaced by the full one), install
 * the spec, wait until the pod is running and ready, and roll back when it
 * is not.  Nothing that ran is stopped before its replacement is ready,
 * except where the plan says stop-first.
 */
#ifndef VZ_APPLY_H
#define VZ_APPLY_H

#include <stdint.h>

#include "buf.h"
#include "imgstore.h"
#include "markers.h"
#include "plan.h"

/* The instance a side-by-side update starts beside POD (vzexec.h). */
#define VZ_NEXT_SUFFIX	".next"

struct cluster;
struct vz_progress;

/* One desired pod with its node spec. */
struct desired_pod {
	const struct pod	*pod;
	char			 hash[65];
	struct buf		 spec;		/* node spec JSON */
	char			(*image_ids)[65];/* per container */
	char			**refs;		/* per container: store key */
	int			 failed;	/* image import failed */
	char			 err[1024];
};

struct apply_result {
	char		*node;
	char		*pod;
	enum plan_op	 op;
	enum plan_reason reason;
	int		 ok;
	int		 rolled_back;
	char		*hash;		/* what now runs (START/UPDATE) */
	char		*message;	/* what happened, or why it failed */
	char		*log_tail;	/* last log lines of a failed pod */
};

struct apply {
	struct cluster		*cl;
	struct imgstore		*store;
	struct markers		*markers;
	struct desired_pod	*desired;
	size_t			 ndesired;
	const char		*spec_dir;	/* .vzmaster/specs */
	const char		*upload_dir;	/* .vzmaster/uploads */
	int			 timeout_s;	/* readiness deadline */
	struct vz_progress	*progress;	/* NULL: no bar */
	/* out */
	struct apply_result	*results;
	size_t			 nresults;
	uint64_t		 bytes_sent;	/* image payloads */
	uint64_t		 bytes_full;	/* what full tarballs would be */
	int			 failures;
	char			**events;	/* things worth saying that are not
					   failures ("delta did not match,
					   sent the full image") */
	size_t			 nevents;
};

/* Returns the number of failed actions. */
int	apply_plan(struct apply *, const struct plan *);
void	apply_release(struct apply *);

/* The stored spec of a hash (for rollbacks and re-placements). */
int	spec_store_put(const char *spec_dir, const char *hash,
	    const struct buf *spec, char *err, size_t errlen);
int	spec_store_get(const char *spec_dir, const char *hash,
	    struct buf *spec);

#endif

/*
 * reconcile: the steps deploy and kill share, from configuration to plan:
 * import the images (master store), build every pod's node spec and hash,
 * probe the nodes, update the probe markers, and compute the plan.  The
 * commands then apply it and report.
 */
#ifndef VZ_RECONCILE_H
#define VZ_RECONCILE_H

#include <pthread.h>

#include "apply.h"
#include "cluster.h"
#include "imgstore.h"
#include "lock.h"
#include "markers.h"
#include "plan.h"

struct reconcile {
	struct cluster		 cl;
	struct imgstore		 store;
	struct markers		 markers;
	char			*markers_path;
	char			*spec_dir;
	char			*upload_dir;
	struct desired_pod	*desired;
	size_t			 ndesired;
	int			 import_failures;
	int			 grace;
	const char *const	*named;
	size_t			 nnamed;
	struct plan		 plan;
	int			 have_plan;
	pthread_t		 probe_thread;	/* runs during the imports */
	int			 probing;
	/* plan input storage */
	struct plan_pod		*ppods;
	struct plan_node	*pnodes;
	struct plan_running	**running;
	struct plan_kv		**kvs;
	size_t			 nkvs;
	int			**ports;
	size_t			 nports;
};

/*
 * Import images and build the desired specs (after cluster_load).  The
 * nodes are probed meanwhile, in a thread: reconcile_plan waits for it.
 */
int	reconcile_prepare(struct reconcile *);
/* Probe, update markers, plan.  0, or -1 after printing why. */
int	reconcile_plan(struct reconcile *);
void	reconcile_release(struct reconcile *);
/* Point an apply at this reconcile's cluster, store, markers and specs. */
void	reconcile_apply_init(struct reconcile *, struct apply *,
	    int timeout_s);
/* Update the markers from what apply did (report.c). */
void	reconcile_record(struct reconcile *, const struct apply *);
/* Print the outcome: human lines or --json (a NULL apply: a dry run). */
void	reconcile_report(const struct vz_ctx *, struct reconcile *,
	    const struct apply *, int dry_run);

#endif

/*
 * fanout: run one function for many nodes at once, at most `jobs` at a
 * time, on POSIX threads.  A node's failure is recorded in its own job
 * (rc and err, by node name) and never stops the others.  Each job also
 * carries the wall-clock interval it ran in and, when the function fills
 * it (vz_fanout_note_ssh()), the interval of its SSH connect, so callers
 * can show that connections overlapped.
 */
#ifndef VZ_FANOUT_H
#define VZ_FANOUT_H

#include <stddef.h>

struct vz_ssh;

struct vz_fanout_job {
	const char	*name;		/* node name: in, never NULL */
	void		*arg;		/* in: the caller's per-node data */
	int		 rc;		/* out: what fn returned (0 = success) */
	char		 err[1024];	/* out: fn's message when rc != 0 */
	double		 t_start;	/* out: fn started (epoch seconds) */
	double		 t_end;		/* out: fn returned */
	double		 t_connect_start; /* out, set by fn: 0 when unset */
	double		 t_connect_end;
};

/*
 * The function runs in a worker thread.  It returns 0 on success or any
 * non-zero code (e.g. a VZ_SSH_* code) and writes a message into job->err.
 * It must not touch other jobs; shared state needs the caller's own lock.
 */
typedef int (*vz_fanout_fn)(struct vz_fanout_job *job, void *ctx);

/*
 * Run fn for jobs[0..n) with at most max_parallel (< 1: 1) at once, in
 * order of the array.  Returns the number of jobs whose rc != 0, or -1
 * (with err) when no thread could be started.
 */
int	vz_fanout_run(struct vz_fanout_job *jobs, size_t n, int max_parallel,
	    vz_fanout_fn fn, void *ctx, char *err, size_t errlen);

/* Copy a handle's connect interval into the job (see vz_ssh_connect_times). */
void	vz_fanout_note_ssh(struct vz_fanout_job *, const struct vz_ssh *);

#endif

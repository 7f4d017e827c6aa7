/*
 * fanout: a fixed pool of worker threads taking jobs from a shared index
 * (see fanout.h).  No job waits for another: a slow or dead node only
 * occupies its own worker until its own timeouts expire.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fanout.h"
#include "ssh.h"

struct pool {
	pthread_mutex_t		 lock;
	struct vz_fanout_job	*jobs;
	size_t			 n, next;
	vz_fanout_fn		 fn;
	void			*ctx;
};

static void *
worker(void *arg)
{
	struct pool *p = arg;
	struct vz_fanout_job *j;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		j = p->next < p->n ? &p->jobs[p->next++] : NULL;
		pthread_mutex_unlock(&p->lock);
		if (j == NULL)
			return NULL;
		j->err[0] = '\0';
		j->t_start = vz_ssh_now();
		j->rc = p->fn(j, p->ctx);
		j->t_end = vz_ssh_now();
		if (j->rc != 0 && j->err[0] == '\0')
			snprintf(j->err, sizeof j->err, "failed (code %d)",
			    j->rc);
	}
}

int
vz_fanout_run(struct vz_fanout_job *jobs, size_t n, int max_parallel,
    vz_fanout_fn fn, void *ctx, char *err, size_t errlen)
{
	struct pool p;
	pthread_t *tids;
	size_t nthreads, started = 0, i;
	int failed = 0, e;

	if (n == 0)
		return 0;
	nthreads = max_parallel < 1 ? 1 : (size_t)max_parallel;
	if (nthreads > n)
		nthreads = n;
	memset(&p, 0, sizeof p);
	pthread_mutex_init(&p.lock, NULL);
	p.jobs = jobs;
	p.n = n;
	p.fn = fn;
	p.ctx = ctx;
	for (i = 0; i < n; i++) {
		jobs[i].rc = 0;
		jobs[i].err[0] = '\0';
		jobs[i].t_start = jobs[i].t_end = 0;
		jobs[i].t_connect_start = jobs[i].t_connect_end = 0;
	}
	tids = xcalloc(nthreads, sizeof *tids);
	for (i = 0; i < nthreads; i++) {
		if ((e = pthread_create(&tids[i], NULL, worker, &p)) != 0)
			break;
		started++;
	}
	if (started == 0) {
		snprintf(err, errlen, "cannot start a thread: %s", strerror(e));
		free(tids);
		pthread_mutex_destroy(&p.lock);
		return -1;
	}
	/* fewer threads than asked still finish every job */
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	pthread_mutex_destroy(&p.lock);
	for (i = 0; i < n; i++)
		if (jobs[i].rc != 0)
			failed++;
	return failed;
}

void
vz_fanout_note_ssh(struct vz_fanout_job *j, const struct vz_ssh *h)
{
	vz_ssh_connect_times(h, &j->t_connect_start, &j->t_connect_end);
}

/*
 * test-fanout: the fan-out pool runs every job once, never more than -j at
 * a time, keeps each job's failure to itself, and really runs jobs
 * concurrently (their intervals overlap when -j allows it).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "fanout.h"

struct counter {
	pthread_mutex_t	lock;
	pthread_cond_t	cond;
	int		running, max, calls, waiting_for;
};

/* Each job waits (bounded) until `waiting_for` jobs run at once, so the
 * overlap is certain without depending on timing. */
static int
job(struct vz_fanout_job *j, void *arg)
{
	struct counter *c = arg;
	struct timespec ts;
	int n = *(int *)j->arg;

	pthread_mutex_lock(&c->lock);
	c->calls++;
	c->running++;
	if (c->running > c->max)
		c->max = c->running;
	pthread_cond_broadcast(&c->cond);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	while (c->running < c->waiting_for)
		if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) != 0)
			break;
	c->running--;
	pthread_mutex_unlock(&c->lock);
	if (n % 3 == 0) {
		snprintf(j->err, sizeof j->err, "%s: failed on purpose",
		    j->name);
		return -5;
	}
	return 0;
}

int
main(void)
{
	static const char *names[] = { "n0", "n1", "n2", "n3", "n4", "n5",
	    "n6", "n7", "n8", "n9" };
	struct vz_fanout_job jobs[10];
	struct counter c;
	int ids[10], i, failed, overlap;
	char err[128];

	memset(jobs, 0, sizeof jobs);
	for (i = 0; i < 10; i++) {
		ids[i] = i;
		jobs[i].name = names[i];
		jobs[i].arg = &ids[i];
	}
	memset(&c, 0, sizeof c);
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	c.waiting_for = 3;
	failed = vz_fanout_run(jobs, 10, 3, job, &c, err, sizeof err);
	is_int(c.calls, 10, "every job ran once");
	is_int(failed, 4, "failures counted (n0 n3 n6 n9)");
	ok(c.max <= 3, "never more than -j 3 at once (max %d)", c.max);
	is_int(c.max, 3, "and -j 3 at once when there is work");
	is_int(jobs[3].rc, -5, "a failure stays in its job");
	is_str(jobs[3].err, "n3: failed on purpose", "with its message");
	is_int(jobs[4].rc, 0, "a neighbour of a failure succeeds");
	is_str(jobs[4].err, "", "and has no message");
	overlap = jobs[1].t_start < jobs[2].t_end &&
	    jobs[2].t_start < jobs[1].t_end;
	ok(overlap, "intervals of concurrent jobs overlap");
	ok(jobs[0].t_end >= jobs[0].t_start && jobs[0].t_start > 0,
	    "each job has its interval");

	memset(&c, 0, sizeof c);
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	c.waiting_for = 1;
	failed = vz_fanout_run(jobs, 10, 1, job, &c, err, sizeof err);
	is_int(c.max, 1, "-j 1 runs one at a time");
	is_int(c.calls, 10, "still every job");
	is_int(vz_fanout_run(jobs, 0, 4, job, &c, err, sizeof err), 0,
	    "no jobs: nothing to do");
	return done_testing();
}

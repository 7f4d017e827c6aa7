/*
 * progress: draws `LABEL [#####.....]  45%  12.0 MiB/26.7 MiB  3.1 MiB/s`
 * with a carriage return, rate-limited (see progress.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "progress.h"
#include "ssh.h"

void
vz_human_bytes(uint64_t n, char *out, size_t outlen)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, outlen, "%llu B", (unsigned long long)n);
	else
		snprintf(out, outlen, "%.1f %s", v, unit[u]);
}

void
vz_progress_init(struct vz_progress *p, FILE *fp, const char *label,
    uint64_t total)
{
	memset(p, 0, sizeof *p);
	pthread_mutex_init(&p->lock, NULL);
	p->fp = fp;
	snprintf(p->label, sizeof p->label, "%s", label);
	p->total = total;
	p->t0 = vz_ssh_now();
}

static void
draw(struct vz_progress *p, double now)
{
	char bar[31], a[32], b[32], r[32];
	double el = now - p->t0;
	int pct = p->total > 0 ? (int)(p->done * 100 / p->total) : 100, i;

	for (i = 0; i < 30; i++)
		bar[i] = i < pct * 30 / 100 ? '#' : '.';
	bar[30] = '\0';
	vz_human_bytes(p->done, a, sizeof a);
	vz_human_bytes(p->total, b, sizeof b);
	vz_human_bytes(el > 0.1 ? (uint64_t)(p->done / el) : 0, r, sizeof r);
	fprintf(p->fp, "\r%s [%s] %3d%%  %s/%s  %s/s\033[K", p->label, bar,
	    pct, a, b, r);
	fflush(p->fp);
	p->last_draw = now;
	p->drawn = 1;
}

void
vz_progress_add_total(struct vz_progress *p, uint64_t n)
{
	pthread_mutex_lock(&p->lock);
	p->total += n;
	pthread_mutex_unlock(&p->lock);
}

void
vz_progress_add(struct vz_progress *p, uint64_t n)
{
	double now = vz_ssh_now();

	pthread_mutex_lock(&p->lock);
	p->done += n;
	if (now - p->last_draw >= 0.1)
		draw(p, now);
	pthread_mutex_unlock(&p->lock);
}

void
vz_progress_finish(struct vz_progress *p)
{
	pthread_mutex_lock(&p->lock);
	draw(p, vz_ssh_now());
	fputc('\n', p->fp);
	fflush(p->fp);
	pthread_mutex_unlock(&p->lock);
}

void
vz_progress_release(struct vz_progress *p)
{
	pthread_mutex_destroy(&p->lock);
}

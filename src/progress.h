/*
 * progress: a one-line transfer progress bar for a terminal, shared by
 * all uploads of one command (fan-out threads add to it under its lock).
 * Commands create it only when stdout is a TTY and not --json/-q.
 */
#ifndef VZ_PROGRESS_H
#define VZ_PROGRESS_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

struct vz_progress {
	pthread_mutex_t	 lock;
	FILE		*fp;
	char		 label[64];
	uint64_t	 done, total;
	double		 t0, last_draw;
	int		 drawn;
};

void	vz_progress_init(struct vz_progress *, FILE *, const char *label,
	    uint64_t total);
/* More work became known (another file to send). */
void	vz_progress_add_total(struct vz_progress *, uint64_t);
/* Bytes finished since the last call; redraws at most 10 times a second. */
void	vz_progress_add(struct vz_progress *, uint64_t);
/* Final redraw and newline. */
void	vz_progress_finish(struct vz_progress *);
void	vz_progress_release(struct vz_progress *);

/* "12.3 MiB" style, into out. */
void	vz_human_bytes(uint64_t, char *out, size_t outlen);

#endif

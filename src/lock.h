/*
 * lock: the deploy lock, `.vzmaster/lock` next to the inventory, so that
 * two `vzmaster deploy` (a user's and cron's) never apply at once.  It is
 * an flock(2) on the file: the kernel drops it when the holder dies, so a
 * stale lock of a dead process is taken over without any clean-up.  The
 * holder writes its pid and command into the file for the message the
 * others print.  The descriptor is close-on-exec; a child forked without
 * exec would hold the lock too.
 */
#ifndef VZ_LOCK_H
#define VZ_LOCK_H

#include <stddef.h>

struct vzlock {
	int	 fd;		/* -1 when not held */
};

#define VZLOCK_INIT { -1 }

enum {
	LOCK_OK = 0,
	LOCK_ERROR = -1,	/* cannot open or lock the file */
	LOCK_BUSY = -2		/* no-wait and another process holds it */
};

/*
 * Called once, before blocking, when the lock is held by someone else and
 * wait is set; msg is "waiting for the lock held by pid N (vzmaster
 * deploy)".  Library code never prints: the command does.
 */
typedef void (*lock_wait_cb)(const char *msg, void *arg);

/*
 * Take the lock at path (its directory is created if missing).  command
 * is written into the file with our pid ("vzmaster deploy").  Without
 * wait, a held lock gives LOCK_BUSY and err says who holds it.
 */
int	lock_acquire(struct vzlock *, const char *path, const char *command,
	    int wait, lock_wait_cb, void *arg, char *err, size_t errlen);
/* Release (clears the holder information).  Harmless when not held. */
void	lock_release(struct vzlock *);
/* "pid N (COMMAND)" of the current holder as written in the file. */
int	lock_holder(const char *path, char *out, size_t outlen);

#endif

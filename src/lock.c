/*
 * lock: the deploy lock (see lock.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "lock.h"

/* Holder text from an open lock file: "pid N (COMMAND)" or "". */
static void
read_holder(int fd, char *out, size_t outlen)
{
	char b[512], *nl;
	ssize_t n;
	long pid;
	char *end;

	out[0] = '\0';
	n = pread(fd, b, sizeof(b) - 1, 0);
	if (n <= 0)
		return;
	b[n] = '\0';
	/* Format: "PID\nCOMMAND\n". */
	errno = 0;
	pid = strtol(b, &end, 10);
	if (errno != 0 || end == b || *end != '\n' || pid <= 0)
		return;
	end++;
	if ((nl = strchr(end, '\n')) != NULL)
		*nl = '\0';
	if (*end != '\0')
		snprintf(out, outlen, "pid %ld (%s)", pid, end);
	else
		snprintf(out, outlen, "pid %ld", pid);
}

int
lock_holder(const char *path, char *out, size_t outlen)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	read_holder(fd, out, outlen);
	close(fd);
	return 0;
}

static int
try_lock(int fd, int block)
{
	for (;;) {
		if (flock(fd, LOCK_EX | (block ? 0 : LOCK_NB)) == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int
lock_acquire(struct vzlock *l, const char *path, const char *command,
    int wait, lock_wait_cb cb, void *arg, char *err, size_t errlen)
{
	struct buf info = BUF_INIT, dir = BUF_INIT;
	char holder[300], msg[400];
	const char *slash;
	int fd = -1, rc = LOCK_ERROR;

	l->fd = -1;
	if ((slash = strrchr(path, '/')) != NULL && slash != path) {
		buf_add(&dir, path, (size_t)(slash - path));
		if (mkdir(dir.data, 0700) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "%s: cannot create directory: "
			    "%s", dir.data, strerror(errno));
			goto out;
		}
	}
	/* No O_TRUNC: the file holds the current holder's pid. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "%s: cannot open lock: %s", path,
		    strerror(errno));
		goto out;
	}
	if (try_lock(fd, 0) == -1) {
		if (errno != EWOULDBLOCK) {
			snprintf(err, errlen, "%s: cannot lock: %s", path,
			    strerror(errno));
			goto out;
		}
		read_holder(fd, holder, sizeof(holder));
		if (holder[0] == '\0')
			snprintf(holder, sizeof(holder), "another process");
		if (!wait) {
			snprintf(err, errlen, "lock '%s' is held by %s", path,
			    holder);
			rc = LOCK_BUSY;
			goto out;
		}
		snprintf(msg, sizeof(msg), "waiting for the lock held by %s",
		    holder);
		if (cb != NULL)
			cb(msg, arg);
		if (try_lock(fd, 1) == -1) {
			snprintf(err, errlen, "%s: cannot lock: %s", path,
			    strerror(errno));
			goto out;
		}
	}
	buf_addf(&info, "%ld\n%s\n", (long)getpid(),
	    command != NULL ? command : "vzmaster");
	if (ftruncate(fd, 0) == -1 ||
	    pwrite(fd, info.data, info.len, 0) != (ssize_t)info.len) {
		snprintf(err, errlen, "%s: cannot write lock: %s", path,
		    strerror(errno));
		goto out;
	}
	l->fd = fd;
	fd = -1;
	rc = LOCK_OK;
out:
	if (fd != -1)
		close(fd);
	buf_release(&info);
	buf_release(&dir);
	return rc;
}

void
lock_release(struct vzlock *l)
{
	if (l->fd == -1)
		return;
	/* Clear the holder before unlocking, so nobody names a dead pid. */
	if (ftruncate(l->fd, 0) == -1) {
		/* only the message would suffer */
	}
	close(l->fd);
	l->fd = -1;
}

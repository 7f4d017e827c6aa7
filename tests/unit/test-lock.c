/*
 * test-lock: the deploy lock against a real second process: a forked
 * child holds it; no-wait fails naming the child's pid; waiting reports
 * the holder and gets the lock once the child dies; a lock left by a
 * process killed with SIGKILL is taken over.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "lock.h"
#include "tap.h"

static char dir[] = "/tmp/test-lock.XXXXXX";

/* Fork a child that takes the lock, says so on a pipe, then waits. */
static pid_t
holder(const char *path)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		struct vzlock l = VZLOCK_INIT;
		char err[256];

		close(p[0]);
		if (lock_acquire(&l, path, "vzmaster deploy", 0, NULL, NULL,
		    err, sizeof(err)) != LOCK_OK)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		close(p[0]);
		waitpid(pid, NULL, 0);
		return -1;
	}
	close(p[0]);
	return pid;
}

struct waited {
	int	 calls;
	char	 msg[400];
	pid_t	 kill_me;
};

static void
on_wait(const char *msg, void *arg)
{
	struct waited *w = arg;

	w->calls++;
	snprintf(w->msg, sizeof(w->msg), "%s", msg);
	/* The holder dies while we wait: the kernel frees the lock. */
	kill(w->kill_me, SIGKILL);
}

int
main(void)
{
	struct vzlock l = VZLOCK_INIT, l2 = VZLOCK_INIT;
	struct buf path = BUF_INIT, want = BUF_INIT;
	struct waited w;
	char err[512], who[300];
	pid_t child;
	int status;

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	buf_addf(&path, "%s/.vzmaster/lock", dir);

	/* Free lock: taken, holder written. */
	is_int(lock_acquire(&l, path.data, "vzmaster deploy", 0, NULL, NULL,
	    err, sizeof(err)), LOCK_OK, "free lock taken (dir created)");
	lock_holder(path.data, who, sizeof(who));
	buf_addf(&want, "pid %ld (vzmaster deploy)", (long)getpid());
	is_str(who, want.data, "holder info written");
	lock_release(&l);
	lock_holder(path.data, who, sizeof(who));
	is_str(who, "", "released: holder info cleared");
	ok(l.fd == -1, "released: fd reset");
	lock_release(&l);
	ok(1, "double release harmless");

	/* A child holds it: no-wait fails and names it. */
	child = holder(path.data);
	ok(child > 0, "child holds the lock");
	if (child <= 0)
		goto out;
	err[0] = '\0';
	is_int(lock_acquire(&l, path.data, "vzmaster deploy", 0, NULL, NULL,
	    err, sizeof(err)), LOCK_BUSY, "no-wait: busy");
	buf_reset(&want);
	buf_addf(&want, "lock '%s' is held by pid %ld (vzmaster deploy)",
	    path.data, (long)child);
	is_str(err, want.data, "no-wait: message names pid and command");
	ok(l.fd == -1, "busy: not held");

	/* Stale: the holder is killed -9, the lock is ours. */
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	ok(WIFSIGNALED(status), "holder killed -9");
	lock_holder(path.data, who, sizeof(who));
	buf_reset(&want);
	buf_addf(&want, "pid %ld (vzmaster deploy)", (long)child);
	is_str(who, want.data, "dead holder's info still in the file");
	is_int(lock_acquire(&l, path.data, "vzmaster deploy --no-wait", 0,
	    NULL, NULL, err, sizeof(err)), LOCK_OK, "stale lock taken over");
	lock_holder(path.data, who, sizeof(who));
	buf_reset(&want);
	buf_addf(&want, "pid %ld (vzmaster deploy --no-wait)",
	    (long)getpid());
	is_str(who, want.data, "new holder info");
	/* Another open file description in this process is refused too. */
	is_int(lock_acquire(&l2, path.data, "x", 0, NULL, NULL, err,
	    sizeof(err)), LOCK_BUSY, "second description: busy");
	lock_release(&l);

	/* Waiting: the callback gets the message, then the lock comes. */
	child = holder(path.data);
	ok(child > 0, "child holds the lock again");
	if (child <= 0)
		goto out;
	memset(&w, 0, sizeof(w));
	w.kill_me = child;
	is_int(lock_acquire(&l, path.data, "vzmaster deploy", 1, on_wait, &w,
	    err, sizeof(err)), LOCK_OK, "wait: lock taken after holder died");
	is_int(w.calls, 1, "wait: callback called once");
	buf_reset(&want);
	buf_addf(&want, "waiting for the lock held by pid %ld "
	    "(vzmaster deploy)", (long)child);
	is_str(w.msg, want.data, "wait: message");
	waitpid(child, NULL, 0);
	lock_release(&l);

	/* An unusable path is an error, not busy. */
	buf_reset(&want);
	buf_addf(&want, "%s/.vzmaster/lock/sub/lock", dir);
	is_int(lock_acquire(&l, want.data, "x", 0, NULL, NULL, err,
	    sizeof(err)), LOCK_ERROR, "bad path: error");
out:
	unlink(path.data);
	buf_reset(&want);
	buf_addf(&want, "%s/.vzmaster", dir);
	rmdir(want.data);
	rmdir(dir);
	buf_release(&path);
	buf_release(&want);
	return done_testing();
}

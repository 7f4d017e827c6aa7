/*
 * child: fork/execve/pipe for the node's tool runs (see child.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

extern char **environ;

const char *
vz_find_bin(const char *const *dirs, const char *name, char *out,
    size_t outlen)
{
	size_t i;

	for (i = 0; dirs[i] != NULL; i++) {
		snprintf(out, outlen, "%s/%s", dirs[i], name);
		if (access(out, X_OK) == 0)
			return out;
	}
	return NULL;
}

pid_t
vz_child_start(char *const *argv, int with_stderr, int *fdp)
{
	int p[2], nul;
	pid_t pid;

	if (pipe(p) != 0)
		return -1;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(p[1], 1);
		if (with_stderr)
			dup2(p[1], 2);
		if ((nul = open("/dev/null", O_RDWR)) != -1) {
			dup2(nul, 0);
			if (!with_stderr)
				dup2(nul, 2);
		}
		close(p[0]);
		close(p[1]);
		signal(SIGPIPE, SIG_DFL);
		execve(argv[0], argv, environ);
		_exit(127);
	}
	close(p[1]);
	(void)fcntl(p[0], F_SETFD, FD_CLOEXEC);
	*fdp = p[0];
	return pid;
}

int
vz_child_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

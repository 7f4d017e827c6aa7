/*
 * probe: readiness and liveness checks.  Each probe runs in a forked child
 * so the supervisor's loop never blocks: the child exits 0 when the probe
 * passes and is reaped like any other child.  exec probes enter the
 * container's namespaces (setns) and run as the container's uid with
 * no_new_privs; httpGet and tcpSocket connect to 127.0.0.1 (host network).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "vzexec.h"

extern char **environ;

static int
tcp_connect(int port)
{
	struct sockaddr_in sin;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
http_get(const struct json_value *h)
{
	struct buf req = BUF_INIT;
	const char *path = json_get_string(h, "path");
	char resp[64];
	int64_t port = 80;
	ssize_t r;
	size_t got = 0;
	int fd, code;

	(void)json_get_int(h, "port", &port);
	if ((fd = tcp_connect((int)port)) == -1)
		return 1;
	buf_addf(&req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
	    "User-Agent: vzexec-probe\r\n\r\n", path ? path : "/");
	if (write(fd, req.data, req.len) != (ssize_t)req.len)
		return 1;
	while (got < sizeof resp - 1 &&
	    (r = read(fd, resp + got, sizeof resp - 1 - got)) > 0)
		got += (size_t)r;
	resp[got] = '\0';
	if (strncmp(resp, "HTTP/1.", 7) != 0 || got < 12)
		return 1;
	code = (int)strtol(resp + 9, NULL, 10);
	return code >= 200 && code < 400 ? 0 : 1;
}

static long
status_id(pid_t pid, const char *key)
{
	struct buf b = BUF_INIT;
	char path[64], *s;
	long v = 0;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (buf_read_file(&b, path, 65536) == 0 &&
	    (s = strstr(b.data, key)) != NULL)
		v = strtol(s + strlen(key), NULL, 10);
	buf_release(&b);
	return v;
}

static int
exec_in(const struct json_value *cmd, pid_t ctrpid)
{
	static const char *const ns[] = { "ipc", "uts", "pid", "mnt" };
	static char *env[] = { "PATH=/usr/local/sbin:/usr/local/bin:"
	    "/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	char path[64], **argv;
	int fds[4], status;
	long uid, gid;
	size_t i;
	pid_t pid;

	uid = status_id(ctrpid, "\nUid:");
	gid = status_id(ctrpid, "\nGid:");
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)ctrpid,
		    ns[i]);
		if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			return 1;
	}
	for (i = 0; i < 4; i++) {
		if (setns(fds[i], 0) != 0)
			return 1;
		close(fds[i]);
	}
	argv = xcalloc(cmd->n + 1, sizeof *argv);
	for (i = 0; i < cmd->n; i++)
		argv[i] = cmd->items[i]->str;
	if ((pid = fork()) == -1)
		return 1;
	if (pid == 0) {
		if (chdir("/") != 0 || setgroups(0, NULL) != 0 ||
		    setgid((gid_t)gid) != 0 || setuid((uid_t)uid) != 0 ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			_exit(126);
		environ = env;
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

pid_t
probe_start(const struct json_value *probe, pid_t ctrpid)
{
	const struct json_value *v;
	int64_t timeout = 1, port = 0;
	sigset_t ss;
	pid_t pid;
	int i;

	if ((pid = fork()) != 0)
		return pid > 0 ? pid : 0;
	sigemptyset(&ss);
	sigprocmask(SIG_SETMASK, &ss, NULL);
	for (i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
	(void)json_get_int(probe, "timeoutSeconds", &timeout);
	/* The alarm survives exec: a hung exec probe dies with it. */
	alarm((unsigned)timeout);
	if ((v = json_get_array(probe, "exec")) != NULL && v->n > 0)
		_exit(exec_in(v, ctrpid));
	if ((v = json_get_object(probe, "httpGet")) != NULL)
		_exit(http_get(v));
	if ((v = json_get_object(probe, "tcpSocket")) != NULL) {
		(void)json_get_int(v, "port", &port);
		_exit(tcp_connect((int)port) == -1 ? 1 : 0);
	}
	_exit(0);
}

/*
 * session: `vzexec session`, many verbs over one SSH channel.  The master
 * starts it once per connection (through sudo) and sends each verb as a
 * framed request instead of opening a channel, a login shell and a sudo
 * for every command: on a small node those three cost about 30 ms of CPU
 * per verb, the verb itself often 1-2 ms.
 *
 * Each request runs as its own process, exec'd from the vzexec on disk
 * (not /proc/self/exe), so a verb behaves exactly as when run by itself,
 * and a vzexec upgraded while a session is open serves the next request.
 * The session only moves bytes; it never interprets a verb.
 *
 * Protocol (doc/node-protocol.md, integers big-endian):
 *   session -> master, once:  "VZSESSION 1\n"
 *   master -> session:        'R' u32 argc, argc x (u32 len, bytes),
 *                             u64 stdin length, then the stdin bytes
 *   session -> master:        'O' u32 len, bytes   (verb's stdout)
 *                             'E' u32 len, bytes   (verb's stderr)
 *                             'X' i32 status, u32 len, signal name
 *                             (the last frame of a response)
 * A request's stdin is always read whole, even when the verb does not
 * read it, so the next request starts where the master thinks it does.
 * End of input between requests ends the session (exit 0); anything
 * malformed ends it with exit 2 and a message on its stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "be32.h"
#include "vzexec.h"

#define SESSION_GREETING	"VZSESSION 1\n"
#define SESSION_MAX_ARGS	64
#define SESSION_MAX_ARGBYTES	65536
#define SESSION_CHUNK		(256 * 1024)
#define SESSION_PIPE_SZ		(1024 * 1024)
/* after the verb exits, how long a child of it may keep its output open */
#define SESSION_LINGER_MS	2000

struct request {
	char		*argv[SESSION_MAX_ARGS + 2];
	char		 args[SESSION_MAX_ARGBYTES + SESSION_MAX_ARGS];
	uint64_t	 inlen;
};

/* Exactly len bytes from fd 0: 0, 1 at end of input before any, -1. */
static int
read_exact(void *p, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = read(0, (char *)p + off, len - off);
		if (n > 0)
			off += (size_t)n;
		else if (n == 0)
			return off == 0 ? 1 : -1;
		else if (errno != EINTR)
			return -1;
	}
	return 0;
}

static int
write_all(int fd, const void *p, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = write(fd, (const char *)p + off, len - off);
		if (n > 0)
			off += (size_t)n;
		else if (n == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

/* One frame to the master; a master gone makes *out_ok 0, never fatal:
   the verb still runs to its end. */
static void
frame(int *out_ok, char type, const void *p, size_t len)
{
	unsigned char h[5];

	if (!*out_ok)
		return;
	h[0] = (unsigned char)type;
	be32_put(h + 1, (uint32_t)len);
	if (write_all(1, h, sizeof h) == -1 || write_all(1, p, len) == -1)
		*out_ok = 0;
}

/* 0 with r filled, 1 at a clean end of input, -1 malformed (printed). */
static int
read_request(struct request *r)
{
	unsigned char h[8];
	uint32_t argc, i, len;
	size_t used = 0;
	int e;

	if ((e = read_exact(h, 5)) != 0)
		return e == 1 ? 1 : (fprintf(stderr, "vzexec: session: "
		    "input ends inside a request\n"), -1);
	if (h[0] != 'R') {
		fprintf(stderr, "vzexec: session: bad request type 0x%02x\n",
		    h[0]);
		return -1;
	}
	argc = be32_get(h + 1);
	if (argc < 1 || argc > SESSION_MAX_ARGS) {
		fprintf(stderr, "vzexec: session: bad argument count %u\n",
		    (unsigned)argc);
		return -1;
	}
	for (i = 0; i < argc; i++) {
		if (read_exact(h, 4) != 0)
			goto short_;
		len = be32_get(h);
		if (len > SESSION_MAX_ARGBYTES - used) {
			fprintf(stderr, "vzexec: session: arguments longer "
			    "than %d bytes\n", SESSION_MAX_ARGBYTES);
			return -1;
		}
		if (read_exact(r->args + used + i, len) != 0)
			goto short_;
		if (memchr(r->args + used + i, '\0', len) != NULL) {
			fprintf(stderr, "vzexec: session: NUL in an "
			    "argument\n");
			return -1;
		}
		r->args[used + i + len] = '\0';
		r->argv[i + 1] = r->args + used + i;
		used += len;
	}
	r->argv[argc + 1] = NULL;
	if (read_exact(h, 8) != 0)
		goto short_;
	r->inlen = (uint64_t)be32_get(h) << 32 | be32_get(h + 4);
	return 0;
short_:
	fprintf(stderr, "vzexec: session: input ends inside a request\n");
	return -1;
}

static int
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static pid_t
start_verb(const char *self, char **argv, int p_in[2], int p_out[2],
    int p_err[2])
{
	pid_t pid;

	if ((pid = fork()) != 0)
		return pid;
	/* an ignored SIGPIPE would survive the exec */
	(void)signal(SIGPIPE, SIG_DFL);
	if (dup2(p_in[0], 0) == -1 || dup2(p_out[1], 1) == -1 ||
	    dup2(p_err[1], 2) == -1)
		_exit(127);
	close(p_in[0]);
	close(p_in[1]);
	close(p_out[0]);
	close(p_out[1]);
	close(p_err[0]);
	close(p_err[1]);
	argv[0] = (char *)self;
	execv(self, argv);
	fprintf(stderr, "vzexec: session: cannot run %s: %s\n", self,
	    strerror(errno));
	_exit(127);
}

static const char *
signame(int sig)
{
	static const struct { int n; const char *s; } t[] = {
		{ SIGABRT, "ABRT" }, { SIGALRM, "ALRM" }, { SIGBUS, "BUS" },
		{ SIGFPE, "FPE" }, { SIGHUP, "HUP" }, { SIGILL, "ILL" },
		{ SIGINT, "INT" }, { SIGKILL, "KILL" }, { SIGPIPE, "PIPE" },
		{ SIGQUIT, "QUIT" }, { SIGSEGV, "SEGV" }, { SIGTERM, "TERM" },
		{ SIGUSR1, "USR1" }, { SIGUSR2, "USR2" },
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].n == sig)
			return t[i].s;
	return "UNKNOWN";
}

/* Verbs that change the node are logged, as sudo logged each command. */
static int
changes_node(const char *verb)
{
	static const char *const quiet[] = { "status", "version", "logs",
	    "image-list", "image-cat", "wait", "--help", NULL };
	size_t i;

	for (i = 0; quiet[i] != NULL; i++)
		if (strcmp(verb, quiet[i]) == 0)
			return 0;
	return 1;
}

/* "session: spec-put --wait 60 web", as much as a log line holds */
static void
log_request(const struct request *r)
{
	char line[256];
	size_t len = 0, i;
	int n;

	for (i = 1; r->argv[i] != NULL && len < sizeof line - 1; i++) {
		n = snprintf(line + len, sizeof line - len, "%s%s",
		    i > 1 ? " " : "", r->argv[i]);
		if (n < 0)
			break;
		len += (size_t)n;
	}
	if (len >= sizeof line)
		memcpy(line + sizeof line - 4, "...", 4);
	vzlog(0, "session: %s", line);
}

/*
 * Run one request: feed its stdin, relay its output as frames, send its
 * status.  0, or -1 when the master went away (input ended inside the
 * request's stdin): the verb was still let finish.
 */
static int
serve(const char *self, struct request *r, int *out_ok)
{
	int p_in[2] = { -1, -1 }, p_out[2] = { -1, -1 }, p_err[2] = { -1, -1 };
	static char inbuf[SESSION_CHUNK], obuf[SESSION_CHUNK];
	size_t stage_off = 0, stage_len = 0;
	uint64_t left = r->inlen;
	int64_t exited_at = 0;
	int status = -1, st, in_lost = 0, reaped = 0, nfds, timeout, i;
	unsigned char x[8];
	struct pollfd pfd[4];
	const char *sig = "";
	ssize_t n;
	pid_t pid;

	if (pipe2(p_in, O_CLOEXEC) == -1 || pipe2(p_out, O_CLOEXEC) == -1 ||
	    pipe2(p_err, O_CLOEXEC) == -1) {
		n = snprintf(obuf, sizeof obuf, "vzexec: session: pipe: %s\n",
		    strerror(errno));
		frame(out_ok, 'E', obuf, (size_t)n);
		pid = -1;
		status = EXIT_FAIL;
		goto drain;
	}
	if ((pid = start_verb(self, r->argv, p_in, p_out, p_err)) == -1) {
		n = snprintf(obuf, sizeof obuf, "vzexec: session: fork: %s\n",
		    strerror(errno));
		frame(out_ok, 'E', obuf, (size_t)n);
		status = EXIT_FAIL;
		goto drain;
	}
	close(p_in[0]);
	close(p_out[1]);
	close(p_err[1]);
	p_in[0] = p_out[1] = p_err[1] = -1;
	(void)nonblock(p_in[1]);
	/* a push of 50 MB moves through here: fewer, larger hops */
	(void)fcntl(p_in[1], F_SETPIPE_SZ, SESSION_PIPE_SZ);
	if (left == 0) {
		close(p_in[1]);
		p_in[1] = -1;
	}
	while (p_out[0] != -1 || p_err[0] != -1 || left > 0 ||
	    stage_off < stage_len || !reaped) {
		nfds = 0;
		/* the request's stdin: from the master into the verb */
		if (stage_off == stage_len && left > 0 && !in_lost) {
			pfd[nfds].fd = 0;
			pfd[nfds++].events = POLLIN;
		} else if (stage_off < stage_len) {
			pfd[nfds].fd = p_in[1];
			pfd[nfds++].events = POLLOUT;
		}
		pfd[nfds].fd = p_out[0];
		pfd[nfds++].events = POLLIN;
		pfd[nfds].fd = p_err[0];
		pfd[nfds++].events = POLLIN;
		timeout = reaped ? 50 : 100;
		if (poll(pfd, (nfds_t)nfds, timeout) == -1 && errno != EINTR)
			break;
		for (i = 0; i < nfds; i++) {
			if (pfd[i].revents == 0 || pfd[i].fd == -1)
				continue;
			if (pfd[i].fd == 0) {
				n = read(0, inbuf, left < sizeof inbuf ?
				    (size_t)left : sizeof inbuf);
				if (n > 0) {
					left -= (uint64_t)n;
					stage_off = 0;
					stage_len = p_in[1] != -1 ? (size_t)n :
					    0;
				} else if (n == 0 || errno != EINTR)
					in_lost = 1;
			} else if (pfd[i].fd == p_in[1]) {
				n = write(p_in[1], inbuf + stage_off,
				    stage_len - stage_off);
				if (n > 0)
					stage_off += (size_t)n;
				else if (n == -1 && errno != EAGAIN &&
				    errno != EINTR) {
					/* the verb does not want the rest:
					   it is read and dropped */
					close(p_in[1]);
					p_in[1] = -1;
					stage_off = stage_len = 0;
				}
			} else {
				int *fdp = pfd[i].fd == p_out[0] ? &p_out[0] :
				    &p_err[0];

				n = read(*fdp, obuf, sizeof obuf);
				if (n > 0)
					frame(out_ok, fdp == &p_out[0] ? 'O' :
					    'E', obuf, (size_t)n);
				else if (n == 0 || errno != EINTR) {
					close(*fdp);
					*fdp = -1;
				}
			}
		}
		if (in_lost) {
			left = 0;
			stage_off = stage_len = 0;
		}
		if (p_in[1] != -1 && left == 0 && stage_off == stage_len) {
			close(p_in[1]);
			p_in[1] = -1;
		}
		/* nothing left to move: the verb is about to exit, if it has
		   not yet (polling for it would add a timeout's latency) */
		if (!reaped && p_out[0] == -1 && p_err[0] == -1 && left == 0 &&
		    stage_off == stage_len) {
			while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
				;
			reaped = 1;
		} else if (!reaped && waitpid(pid, &st, WNOHANG) == pid)
			reaped = 1;
		if (reaped && exited_at == 0) {
			exited_at = now_ms();
			if (WIFEXITED(st))
				status = WEXITSTATUS(st);
			else if (WIFSIGNALED(st))
				sig = signame(WTERMSIG(st));
		}
		/* a daemon the verb left behind holds its output: as when
		   the verb ran alone, its end is the answer */
		if (reaped && now_ms() - exited_at > SESSION_LINGER_MS) {
			if (p_out[0] != -1)
				close(p_out[0]);
			if (p_err[0] != -1)
				close(p_err[0]);
			p_out[0] = p_err[0] = -1;
		}
	}
drain:
	/* what the verb did not take is still part of this request */
	while (left > 0 && !in_lost) {
		n = read(0, inbuf, left < sizeof inbuf ? (size_t)left :
		    sizeof inbuf);
		if (n > 0)
			left -= (uint64_t)n;
		else if (n == 0 || errno != EINTR)
			in_lost = 1;
	}
	for (i = 0; i < 2; i++) {
		if (p_in[i] != -1)
			close(p_in[i]);
		if (p_out[i] != -1)
			close(p_out[i]);
		if (p_err[i] != -1)
			close(p_err[i]);
	}
	be32_put(x, (uint32_t)(int32_t)(sig[0] != '\0' ? -1 : status));
	be32_put(x + 4, (uint32_t)strlen(sig));
	if (*out_ok) {
		unsigned char h[5];

		h[0] = 'X';
		be32_put(h + 1, (uint32_t)(sizeof x + strlen(sig)));
		if (write_all(1, h, sizeof h) == -1 ||
		    write_all(1, x, sizeof x) == -1 ||
		    write_all(1, sig, strlen(sig)) == -1)
			*out_ok = 0;
	}
	return in_lost ? -1 : 0;
}

int
session_main(const char *self)
{
	static struct request r;
	int out_ok = 1, e;

	if (self == NULL || self[0] != '/') {
		fprintf(stderr, "vzexec: session: must be run by its full "
		    "path\n");
		return EXIT_USAGE;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	/* sshd writes a push into this pipe: let it write more at a time */
	(void)fcntl(0, F_SETPIPE_SZ, SESSION_PIPE_SZ);
	vzlog_init(VZ_DEFAULT_ROOT, NULL);
	if (write_all(1, SESSION_GREETING, strlen(SESSION_GREETING)) == -1)
		return EXIT_FAIL;
	for (;;) {
		if ((e = read_request(&r)) == 1)
			return EXIT_DONE;
		if (e == -1)
			return EXIT_USAGE;
		if (changes_node(r.argv[1]))
			log_request(&r);
		if (serve(self, &r, &out_ok) == -1 || !out_ok)
			return EXIT_FAIL;
	}
}

/*
 * sshchan: remote commands on libssh2 channels, for a direct connection and
 * for the holder that relays a run's commands (sshmux.c).
 *
 * A command runs on a channel of its own (exec: sshd's session, the login
 * shell, sudo, then the command), or, when the handle names a service
 * program (vz_ssh_opts.service: vzexec) and the command is one of its
 * verbs, as a request on that program's session channel: `sudo vzexec
 * session`, started once per connection and kept with it, runs each verb
 * as a fresh process of its own (session.c; frames in
 * doc/node-protocol.md).  On a small node the exec path costs ~30 ms of
 * CPU per command (sshd ~17, sudo ~11, sh ~2.5), the request ~1 ms; a
 * node whose vzexec has no session verb is asked again only every
 * SVC_RETRY_MS and meanwhile gets a channel per command.
 *
 * Both paths go through one pump: stdin (after a request header, for a
 * session), stdout and stderr moved together in non-blocking mode under
 * the command's deadline.  A stream (vz_ssh_cmd.on_output: logs -f) is
 * always an exec: its output goes out as it comes and its stdin stays
 * open until the caller stops, so that closing the channel tells the
 * command to end even when it has nothing to print.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh2.h>

#include "be32.h"
#include "buf.h"
#include "shquote.h"
#include "ssh.h"
#include "ssh-int.h"

#define PROGRESS_STEP		(64 * 1024)
#define SVC_GREETING		"VZSESSION 1\n"
#define SVC_FRAME_MAX		(1u << 20)	/* the node sends <= 64 KiB */
#define SVC_SIDE_MAX		4096		/* the session's own stderr */
#define SVC_RETRY_MS		(10 * 60 * 1000)

/* pump results besides VZ_SSH_* */
#define PUMP_TIMEOUT		(-101)
#define SVC_NONE		(-102)	/* no session on the node: exec */
#define PUMP_STOPPED		(-103)	/* streaming: *c->stop was set */

/* ---- commands ---- */

void
vz_ssh_cmd_init(struct vz_ssh_cmd *c, const char *const *argv)
{
	memset(c, 0, sizeof *c);
	c->argv = argv;
	buf_init(&c->out);
	buf_init(&c->err);
}

void
vz_ssh_cmd_release(struct vz_ssh_cmd *c)
{
	buf_release(&c->out);
	buf_release(&c->err);
}

/*
 * Wait until the socket is ready in the direction libssh2 is blocked on
 * (or, when infd != -1, until infd is readable), sending keepalives
 * meanwhile.  0, or -1 when the deadline passed.
 */
static int
wait_io(struct vz_ssh *h, int64_t deadline, int infd)
{
	struct pollfd pfd[2];
	int dir, next = KEEPALIVE_S, rc;
	int64_t left;

	(void)libssh2_keepalive_send(h->session, &next);
	pfd[0].fd = h->fd;
	pfd[0].events = 0;
	dir = libssh2_session_block_directions(h->session);
	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		pfd[0].events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd[0].events |= POLLOUT;
	if (pfd[0].events == 0)
		pfd[0].events = POLLIN;
	pfd[1].fd = infd;
	pfd[1].events = POLLIN;
	left = next > 0 ? next * 1000 : 1000;
	if (deadline > 0) {
		if (deadline - mono_ms() <= 0)
			return -1;
		if (deadline - mono_ms() < left)
			left = deadline - mono_ms();
	}
	rc = poll(pfd, infd != -1 ? 2 : 1, (int)left);
	if (rc == -1 && errno != EINTR)
		return -1;
	return 0;
}

static int
wait_socket(struct vz_ssh *h, int64_t deadline)
{
	return wait_io(h, deadline, -1);
}

#define NB(h, expr, deadline, rcvar) do {				\
	while (((rcvar) = (expr)) == LIBSSH2_ERROR_EAGAIN)		\
		if (wait_socket((h), (deadline)) == -1)			\
			break;						\
} while (0)

void
exec_cmdline(struct vz_ssh *h, const struct vz_ssh_cmd *c, struct buf *b)
{
	static const char *sudo[] = { "sudo", "-n", "--", NULL };

	if (!vz_ssh_is_root(h) && !(c->flags & VZ_SSH_NOSUDO)) {
		shquote_argv(b, sudo);
		buf_addc(b, ' ');
	}
	shquote_argv(b, c->argv);
}

int
exec_timeout(struct vz_ssh *h, const struct vz_ssh_cmd *c)
{
	return c->timeout_ms > 0 ? c->timeout_ms : h->command_timeout_ms;
}

/* Read and drop what is left of a holder client's stdin. */
int
drain_fd(int fd, uint64_t left, int64_t deadline)
{
	char chunk[16384];
	struct pollfd pfd;
	ssize_t n;

	pfd.fd = fd;
	pfd.events = POLLIN;
	while (left > 0) {
		n = read(fd, chunk, left < sizeof chunk ? (size_t)left :
		    sizeof chunk);
		if (n > 0) {
			left -= (uint64_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
		if (deadline - mono_ms() <= 0 ||
		    poll(&pfd, 1, (int)(deadline - mono_ms())) == 0)
			return -1;
	}
	return 0;
}

int
vz_ssh_exec(struct vz_ssh *h, struct vz_ssh_cmd *c)
{
	int opened;

	buf_reset(&c->out);
	buf_reset(&c->err);
	c->status = -1;
	c->signal[0] = '\0';
	if (h->mux_pending) {
		/* a bug of the caller: the holder waits for that one's stdin */
		seterr(h, "%s: a started command is still pending", h->name);
		return VZ_SSH_FAILED;
	}
	if (h->mux_fd != -1 && c->on_output != NULL) {
		/* a holder answers whole commands only: go direct */
		logf_(h, 1, "%s: connecting directly to stream", h->name);
		if ((opened = direct_connect(h)) != VZ_SSH_OK)
			return opened;
	}
	if (h->mux_fd != -1)
		return mux_exec(h, c);
	if (!h->connected || h->dead) {
		seterr(h, "%s: not connected", h->hostname);
		return h->dead ? VZ_SSH_DEAD : VZ_SSH_FAILED;
	}
	return run_command(h, c, NULL, c->on_output != NULL ? 0 :
	    exec_timeout(h, c), -1, &opened);
}

int
vz_ssh_exec_start(struct vz_ssh *h, struct vz_ssh_cmd *c)
{
	buf_reset(&c->out);
	buf_reset(&c->err);
	c->status = -1;
	c->signal[0] = '\0';
	if (h->mux_fd == -1 || h->mux_pending)
		return VZ_SSH_OK;	/* finish runs it whole */
	return mux_exec_start(h, c);
}

int
vz_ssh_exec_finish(struct vz_ssh *h, struct vz_ssh_cmd *c)
{
	if (h->mux_fd != -1 && h->mux_pending)
		return mux_exec_finish(h, c);
	return vz_ssh_exec(h, c);
}

/* ---- the pump ---- */

struct pump {
	struct vz_ssh_cmd *c;
	LIBSSH2_CHANNEL	*ch;
	const char	*pre;		/* sent before the stdin: a request */
	size_t		 prelen, preoff;
	int		 infd;		/* stdin from a holder's client, or -1 */
	int		 session;	/* answer framed, channel kept open */
	size_t		 max;
	uint64_t	 inoff, reported, inread;
	char		 stage[32768];
	size_t		 stage_off, stage_len;
	int		 eof_sent, in_done, infd_lost;
	struct buf	 frames;	/* session: stdout not parsed yet */
	struct buf	 side;		/* session: its own stderr */
	int		 answered;	/* session: the 'X' frame came */
};

static void
put_be32(struct buf *b, uint32_t v)
{
	unsigned char p[4];

	be32_put(p, v);
	buf_add(b, p, 4);
}

static int
too_much(struct vz_ssh *h, struct pump *p, struct buf *b, size_t n,
    const char *what)
{
	if (b->len + n <= p->max)
		return 0;
	seterr(h, "%s: %s of '%s' exceeds %zu bytes", h->hostname, what,
	    p->c->argv[0], p->max);
	return 1;
}

/* Frames of a session's answer: 0, or VZ_SSH_FAILED with err set. */
static int
take_frames(struct vz_ssh *h, struct pump *p)
{
	const unsigned char *f;
	size_t pos = 0, left;
	uint32_t len, slen;

	while (!p->answered && p->frames.len - pos >= 5) {
		f = (const unsigned char *)p->frames.data + pos;
		len = be32_get(f + 1);
		if (len > SVC_FRAME_MAX)
			goto bad;
		if (p->frames.len - pos - 5 < len)
			break;
		if (f[0] == 'O') {
			if (too_much(h, p, &p->c->out, len, "output"))
				return VZ_SSH_FAILED;
			buf_add(&p->c->out, f + 5, len);
		} else if (f[0] == 'E') {
			if (too_much(h, p, &p->c->err, len, "error output"))
				return VZ_SSH_FAILED;
			buf_add(&p->c->err, f + 5, len);
		} else if (f[0] == 'X') {
			if (len < 8 || (slen = be32_get(f + 9)) != len - 8 ||
			    slen >= sizeof p->c->signal)
				goto bad;
			p->c->status = (int32_t)be32_get(f + 5);
			memcpy(p->c->signal, f + 13, slen);
			p->c->signal[slen] = '\0';
			p->answered = 1;
		} else
			goto bad;
		pos += 5 + len;
	}
	left = p->frames.len - pos;
	if (p->answered && left > 0)
		goto bad;
	memmove(p->frames.data, p->frames.data + pos, left);
	p->frames.len = left;
	return 0;
bad:
	seterr(h, "%s: the vzexec session sent a malformed answer to '%s'",
	    h->hostname, p->c->argv[1] != NULL ? p->c->argv[1] :
	    p->c->argv[0]);
	return VZ_SSH_FAILED;
}

/* Whether all of the stdin (and the request before it) went out. */
static int
stdin_sent(const struct pump *p)
{
	const struct vz_ssh_cmd *c = p->c;

	if (p->preoff < p->prelen)
		return 0;
	if (p->infd != -1)
		return p->stage_off == p->stage_len && p->inread >= c->inlen;
	return c->in == NULL || p->inoff >= c->inlen;
}

/* Feed stdin as far as the channel takes it.  1 when something moved. */
static int
feed(struct vz_ssh *h, struct pump *p, int *want_in)
{
	struct vz_ssh_cmd *c = p->c;
	const char *src = NULL;
	size_t len = 0;
	ssize_t n;
	int moved = 0, r;

	if (p->eof_sent)
		return 0;
	if (!p->in_done && p->preoff == p->prelen && p->infd != -1 &&
	    p->stage_off == p->stage_len && p->inread < c->inlen) {
		/* a holder's client streams its stdin to us */
		n = read(p->infd, p->stage, c->inlen - p->inread <
		    sizeof p->stage ? (size_t)(c->inlen - p->inread) :
		    sizeof p->stage);
		if (n > 0) {
			p->stage_off = 0;
			p->stage_len = (size_t)n;
			p->inread += (uint64_t)n;
			moved = 1;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			seterr(h, "%s: the client went away", h->hostname);
			p->infd_lost = 1;
			return moved;
		} else
			*want_in = 1;
	}
	if (p->in_done)
		;
	else if (p->preoff < p->prelen) {
		src = p->pre + p->preoff;
		len = p->prelen - p->preoff;
	} else if (p->infd != -1) {
		src = p->stage + p->stage_off;
		len = p->stage_len - p->stage_off;
	} else if (c->in != NULL && p->inoff < c->inlen) {
		src = (const char *)c->in + p->inoff;
		len = c->inlen - p->inoff;
	}
	if (len > 0) {
		n = libssh2_channel_write(p->ch, src, len);
		if (n > 0) {
			moved = 1;
			if (p->preoff < p->prelen)
				p->preoff += (size_t)n;
			else if (p->infd != -1)
				p->stage_off += (size_t)n;
			else
				p->inoff += (uint64_t)n;
			if (c->progress != NULL && p->infd == -1 &&
			    p->preoff == p->prelen && (p->inoff - p->reported >=
			    PROGRESS_STEP || p->inoff >= c->inlen)) {
				p->reported = p->inoff;
				c->progress(c->progress_arg, p->inoff,
				    c->inlen);
			}
		} else if (n != LIBSSH2_ERROR_EAGAIN && n < 0) {
			/* the command may not read stdin (what a holder's
			   client still sends is drained at the end); a
			   session's channel that broke shows as its end */
			p->in_done = 1;
			*want_in = 0;
		}
	}
	/* a session's channel stays open for the next request; a stream's
	   stdin, to tell the command when we are gone */
	if (!p->session && c->on_output == NULL &&
	    (p->in_done || stdin_sent(p))) {
		r = libssh2_channel_send_eof(p->ch);
		if (r != LIBSSH2_ERROR_EAGAIN)
			p->eof_sent = 1;
	}
	return moved;
}

/*
 * Move bytes until the command ended (exec: the channel's EOF; session:
 * its answer).  VZ_SSH_OK, VZ_SSH_FAILED (err set), VZ_SSH_DEAD or
 * PUMP_TIMEOUT; p->infd_lost when the holder's client broke.
 */
static int
pump_run(struct vz_ssh *h, struct pump *p, int64_t deadline)
{
	struct vz_ssh_cmd *c = p->c;
	char chunk[32768];
	int progress, want_in, rc;
	int64_t dl;
	ssize_t n;

	for (;;) {
		if (c->stop != NULL && *c->stop)
			return PUMP_STOPPED;
		want_in = 0;
		progress = feed(h, p, &want_in);
		if (p->infd_lost)
			return VZ_SSH_FAILED;
		while ((n = libssh2_channel_read(p->ch, chunk,
		    sizeof chunk)) > 0) {
			progress = 1;
			if (p->session) {
				buf_add(&p->frames, chunk, (size_t)n);
				if ((rc = take_frames(h, p)) != 0)
					return rc;
			} else if (c->on_output != NULL) {
				c->on_output(c->output_arg, chunk, (size_t)n);
			} else {
				if (too_much(h, p, &c->out, (size_t)n,
				    "output"))
					return VZ_SSH_FAILED;
				buf_add(&c->out, chunk, (size_t)n);
			}
		}
		if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
			return mark_dead(h, "reading output");
		while ((n = libssh2_channel_read_stderr(p->ch, chunk,
		    sizeof chunk)) > 0) {
			progress = 1;
			if (p->session) {
				if (p->side.len < SVC_SIDE_MAX)
					buf_add(&p->side, chunk, (size_t)n);
				continue;
			}
			if (too_much(h, p, &c->err, (size_t)n,
			    "error output"))
				return VZ_SSH_FAILED;
			buf_add(&c->err, chunk, (size_t)n);
		}
		if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
			return mark_dead(h, "reading error output");
		if (p->session && p->answered) {
			if (!stdin_sent(p)) {
				seterr(h, "%s: the vzexec session answered "
				    "before taking the stdin of '%s'",
				    h->hostname, c->argv[1]);
				return VZ_SSH_FAILED;
			}
			return VZ_SSH_OK;
		}
		if (libssh2_channel_eof(p->ch) && !progress) {
			if (!p->session)
				return VZ_SSH_OK;
			seterr(h, "%s: the vzexec session ended during '%s'%s%.*s",
			    h->hostname, c->argv[1], p->side.len > 0 ?
			    ": " : "", (int)strcspn(p->side.data, "\n"),
			    p->side.data);
			return VZ_SSH_FAILED;
		}
		if (progress)
			continue;
		/* a stream wakes up to look at *c->stop */
		dl = c->on_output != NULL ? mono_ms() + VZ_SSH_STREAM_POLL_MS :
		    deadline;
		if (wait_io(h, dl, want_in ? p->infd : -1) == -1 &&
		    c->on_output == NULL)
			return PUMP_TIMEOUT;
	}
}

static void
pump_init(struct pump *p, struct vz_ssh_cmd *c, LIBSSH2_CHANNEL *ch,
    int infd)
{
	memset(p, 0, sizeof *p);
	p->c = c;
	p->ch = ch;
	p->infd = infd;
	p->max = c->max_output > 0 ? c->max_output : VZ_SSH_MAX_OUTPUT;
	buf_init(&p->frames);
	buf_init(&p->side);
}

static void
pump_release(struct pump *p)
{
	buf_release(&p->frames);
	buf_release(&p->side);
}

/*
 * What a holder's client still sends after the command ended: read and
 * dropped, since the client writes all of its stdin before it reads the
 * answer.  rc, or EXEC_CLIENT_LOST.
 */
static int
pump_finish_infd(struct vz_ssh *h, struct pump *p, int rc)
{
	if (p->infd == -1)
		return rc;
	if (!p->infd_lost && p->inread < p->c->inlen &&
	    drain_fd(p->infd, p->c->inlen - p->inread, mono_ms() + 10000) ==
	    -1) {
		if (rc == VZ_SSH_OK)
			seterr(h, "%s: the client went away", h->hostname);
		p->infd_lost = 1;
	}
	return p->infd_lost ? EXEC_CLIENT_LOST : rc;
}

/* Open a channel and start cmdline on it: VZ_SSH_OK with *chp, else the
   error (*opened: a channel was open, the command may have run). */
static int
chan_start(struct vz_ssh *h, const char *cmdline, const char *what,
    int64_t deadline, LIBSSH2_CHANNEL **chp, int *opened)
{
	LIBSSH2_CHANNEL *ch;
	struct buf wire = BUF_INIT;
	int r, rc = VZ_SSH_FAILED;

	*chp = NULL;
	while ((ch = libssh2_channel_open_session(h->session)) == NULL) {
		r = libssh2_session_last_errno(h->session);
		if (r != LIBSSH2_ERROR_EAGAIN) {
			if (session_broken(r))
				return mark_dead(h, "opening a channel");
			seterr(h, "%s: cannot open a channel: %s", h->hostname,
			    lasterr(h));
			return VZ_SSH_FAILED;
		}
		if (wait_socket(h, deadline) == -1)
			return PUMP_TIMEOUT;
	}
	*opened = 1;
	/* exec: the login shell sshd starts for the command would otherwise
	   fork it and wait (dash does not exec a -c command's last one), one
	   more process per command on a small node */
	buf_addf(&wire, "exec %s", cmdline);
	NB(h, libssh2_channel_exec(ch, wire.data), deadline, r);
	buf_release(&wire);
	if (r == LIBSSH2_ERROR_EAGAIN) {
		/* leaked with the session, which the timeout kills */
		return PUMP_TIMEOUT;
	}
	if (r != 0) {
		if (session_broken(r))
			rc = mark_dead(h, "exec");
		else
			seterr(h, "%s: cannot run '%s': %s", h->hostname,
			    what, lasterr(h));
		(void)libssh2_channel_close(ch);
		libssh2_channel_free(ch);
		return rc;
	}
	*chp = ch;
	return VZ_SSH_OK;
}

static int
timed_out(struct vz_ssh *h, const char *what, int timeout)
{
	seterr(h, "%s: '%s' did not finish within %.1f s", h->hostname, what,
	    timeout / 1000.0);
	h->dead = 1;
	return VZ_SSH_DEAD;
}

int
exec_session(struct vz_ssh *h, struct vz_ssh_cmd *c, const char *cmdline,
    int timeout, int infd, int *opened)
{
	LIBSSH2_CHANNEL *ch = NULL;
	struct pump p;
	char *sig = NULL;
	size_t siglen = 0;
	int64_t deadline = timeout > 0 ? mono_ms() + timeout : 0;
	int rc, r;

	*opened = 0;
	pump_init(&p, c, NULL, infd);
	logf_(h, 2, "%s: exec %s", h->name, cmdline);
	libssh2_session_set_blocking(h->session, 0);
	if ((rc = chan_start(h, cmdline, c->argv[0], deadline, &ch, opened)) !=
	    VZ_SSH_OK)
		goto out;
	p.ch = ch;
	if ((rc = pump_run(h, &p, deadline)) == PUMP_STOPPED) {
		/* sshd closes the command's stdin: it sees its end */
		logf_(h, 2, "%s: stopped streaming", h->name);
		deadline = mono_ms() + 2000;
		NB(h, libssh2_channel_close(ch), deadline, r);
		rc = r == 0 ? VZ_SSH_OK : mark_dead(h, "closing a channel");
		goto out;
	}
	if (rc != VZ_SSH_OK)
		goto out;
	NB(h, libssh2_channel_close(ch), deadline, r);
	if (r == LIBSSH2_ERROR_EAGAIN) {
		rc = PUMP_TIMEOUT;
		goto out;
	}
	NB(h, libssh2_channel_wait_closed(ch), deadline, r);
	if (r == LIBSSH2_ERROR_EAGAIN) {
		rc = PUMP_TIMEOUT;
		goto out;
	}
	c->status = libssh2_channel_get_exit_status(ch);
	if (libssh2_channel_get_exit_signal(ch, &sig, &siglen, NULL, NULL,
	    NULL, NULL) == 0 && sig != NULL) {
		snprintf(c->signal, sizeof c->signal, "%s", sig);
		c->status = -1;
	}
	free(sig);
	logf_(h, 2, "%s: exit %d%s%s, %zu+%zu bytes", h->name, c->status,
	    c->signal[0] ? " signal " : "", c->signal, c->out.len, c->err.len);
out:
	if (rc == PUMP_TIMEOUT) {
		rc = timed_out(h, c->argv[0], timeout);
		ch = NULL;	/* leaked with the session: freed with it */
	}
	if (ch != NULL) {
		if (rc != VZ_SSH_OK)
			(void)libssh2_channel_close(ch);
		libssh2_channel_free(ch);
	}
	if (h->session != NULL)
		libssh2_session_set_blocking(h->session, 1);
	rc = pump_finish_infd(h, &p, rc);
	pump_release(&p);
	return rc;
}

/* ---- the session channel ---- */

/* Drop the session channel (without waiting for the node). */
static void
svc_close(struct vz_ssh *h)
{
	int blocking;

	if (h->svc == NULL)
		return;
	if (h->session != NULL) {
		/* never wait here: a verb the session still runs keeps the
		   node's side open; what is not sent goes with the session */
		blocking = libssh2_session_get_blocking(h->session);
		libssh2_session_set_blocking(h->session, 0);
		if (!h->dead)
			(void)libssh2_channel_close(h->svc);
		(void)libssh2_channel_free(h->svc);
		libssh2_session_set_blocking(h->session, blocking);
	}
	h->svc = NULL;
}

/* Did the open session end (or say something) since its last answer? */
static int
svc_gone(struct vz_ssh *h)
{
	char c[256];
	ssize_t n;

	/* its own stderr (none is expected) only goes */
	while (libssh2_channel_read_stderr(h->svc, c, sizeof c) > 0)
		;
	n = libssh2_channel_read(h->svc, c, 1);
	if (n > 0 || (n < 0 && n != LIBSSH2_ERROR_EAGAIN))
		return 1;	/* bytes outside an answer: out of step */
	return libssh2_channel_eof(h->svc);
}

/*
 * Start `vzexec session` and read its greeting.  VZ_SSH_OK, SVC_NONE when
 * the node has none (logged; the command then gets a channel of its own),
 * or an error as chan_start.
 */
static int
svc_open(struct vz_ssh *h, int64_t deadline, int *opened)
{
	const char *argv[] = { h->service, "session", NULL };
	struct vz_ssh_cmd sc;
	struct buf cmdline = BUF_INIT, side = BUF_INIT;
	LIBSSH2_CHANNEL *ch = NULL;
	char greet[sizeof SVC_GREETING - 1], chunk[1024];
	size_t got = 0;
	ssize_t n;
	int rc, progress;

	vz_ssh_cmd_init(&sc, argv);
	exec_cmdline(h, &sc, &cmdline);
	logf_(h, 2, "%s: exec %s", h->name, cmdline.data);
	rc = chan_start(h, cmdline.data, h->service, deadline, &ch, opened);
	buf_release(&cmdline);
	if (rc != VZ_SSH_OK)
		goto out;
	while (got < sizeof greet) {
		progress = 0;
		n = libssh2_channel_read(ch, greet + got, sizeof greet - got);
		if (n > 0) {
			got += (size_t)n;
			progress = 1;
		} else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
			rc = mark_dead(h, "reading output");
			goto out;
		}
		while ((n = libssh2_channel_read_stderr(ch, chunk,
		    sizeof chunk)) > 0) {
			progress = 1;
			if (side.len < SVC_SIDE_MAX)
				buf_add(&side, chunk, (size_t)n);
		}
		if (libssh2_channel_eof(ch) && !progress)
			break;
		if (!progress && wait_socket(h, deadline) == -1) {
			rc = PUMP_TIMEOUT;
			goto out;
		}
	}
	if (got < sizeof greet || memcmp(greet, SVC_GREETING,
	    sizeof greet) != 0) {
		logf_(h, 1, "%s: no vzexec session on the node (%.*s): a "
		    "channel per command", h->name,
		    side.len > 0 ? (int)strcspn(side.data, "\n") : 5,
		    side.len > 0 ? side.data : "ended");
		h->svc_refused_at = mono_ms();
		(void)libssh2_channel_close(ch);
		libssh2_channel_free(ch);
		ch = NULL;
		rc = SVC_NONE;
		goto out;
	}
	logf_(h, 1, "%s: vzexec session started", h->name);
	h->svc = ch;
	ch = NULL;
out:
	if (ch != NULL && rc != PUMP_TIMEOUT) {
		(void)libssh2_channel_close(ch);
		libssh2_channel_free(ch);
	}
	buf_release(&side);
	return rc;
}

/* argv[1..] as a session request with the stdin's length. */
static void
svc_request(const struct vz_ssh_cmd *c, struct buf *b)
{
	uint64_t inlen = c->in != NULL || c->inlen > 0 ? c->inlen : 0;
	size_t argc = 0, i;

	while (c->argv[1 + argc] != NULL)
		argc++;
	buf_addc(b, 'R');
	put_be32(b, (uint32_t)argc);
	for (i = 0; i < argc; i++) {
		put_be32(b, (uint32_t)strlen(c->argv[1 + i]));
		buf_adds(b, c->argv[1 + i]);
	}
	put_be32(b, (uint32_t)(inlen >> 32));
	put_be32(b, (uint32_t)inlen);
}

/* The command as a request on the session channel (opened when needed):
   as exec_session, or SVC_NONE when the node has no session. */
static int
svc_exec(struct vz_ssh *h, struct vz_ssh_cmd *c, int timeout, int infd,
    int *opened)
{
	struct buf req = BUF_INIT;
	struct pump p;
	int64_t deadline = timeout > 0 ? mono_ms() + timeout : 0;
	int rc;

	*opened = 0;
	pump_init(&p, c, NULL, infd);
	libssh2_session_set_blocking(h->session, 0);
	if (h->svc != NULL && svc_gone(h)) {
		logf_(h, 1, "%s: the vzexec session ended: starting another",
		    h->name);
		svc_close(h);
	}
	if (h->svc == NULL && (rc = svc_open(h, deadline, opened)) !=
	    VZ_SSH_OK) {
		*opened = 0;	/* nothing of the command ran */
		goto out;
	}
	*opened = 1;
	svc_request(c, &req);
	logf_(h, 2, "%s: session request: %s %s%s", h->name, c->argv[1],
	    c->argv[2] != NULL ? c->argv[2] : "",
	    c->argv[2] != NULL && c->argv[3] != NULL ? " ..." : "");
	p.ch = h->svc;
	p.session = 1;
	p.pre = req.data;
	p.prelen = req.len;
	rc = pump_run(h, &p, deadline);
	if (rc == VZ_SSH_OK)
		logf_(h, 2, "%s: exit %d%s%s, %zu+%zu bytes", h->name,
		    c->status, c->signal[0] ? " signal " : "", c->signal,
		    c->out.len, c->err.len);
	else if (rc == VZ_SSH_FAILED)
		/* framing is lost: the next request gets a new session */
		svc_close(h);
out:
	if (rc == PUMP_TIMEOUT) {
		rc = timed_out(h, c->argv[1] != NULL ? c->argv[1] : c->argv[0],
		    timeout);
		h->svc = NULL;	/* freed with the session */
	}
	if (h->session != NULL)
		libssh2_session_set_blocking(h->session, 1);
	if (rc != SVC_NONE)
		rc = pump_finish_infd(h, &p, rc);
	pump_release(&p);
	buf_release(&req);
	return rc;
}

static int
svc_wanted(const struct vz_ssh *h, const struct vz_ssh_cmd *c)
{
	return (c->flags & VZ_SSH_SERVICE) && !(c->flags & VZ_SSH_NOSUDO) &&
	    c->on_output == NULL &&
	    h->service != NULL && c->argv[0] != NULL && c->argv[1] != NULL &&
	    strcmp(c->argv[0], h->service) == 0 && (h->svc != NULL ||
	    h->svc_refused_at == 0 || mono_ms() - h->svc_refused_at >=
	    SVC_RETRY_MS);
}

int
run_command(struct vz_ssh *h, struct vz_ssh_cmd *c, const char *cmdline,
    int timeout, int infd, int *opened)
{
	struct buf built = BUF_INIT;
	int rc;

	if (svc_wanted(h, c) &&
	    (rc = svc_exec(h, c, timeout, infd, opened)) != SVC_NONE)
		return rc;
	if (cmdline == NULL) {
		exec_cmdline(h, c, &built);
		cmdline = built.data;
	}
	rc = exec_session(h, c, cmdline, timeout, infd, opened);
	buf_release(&built);
	return rc;
}

int
vz_ssh_run(struct vz_ssh *h, const char *const *argv, const char *in,
    struct buf *out)
{
	struct vz_ssh_cmd c;
	char *nl;
	int rc;

	vz_ssh_cmd_init(&c, argv);
	if (in != NULL) {
		c.in = in;
		c.inlen = strlen(in);
	}
	if ((rc = vz_ssh_exec(h, &c)) != VZ_SSH_OK)
		goto out;
	if (c.status != 0) {
		if ((nl = strchr(c.err.data, '\n')) != NULL)
			*nl = '\0';
		if (c.signal[0] != '\0')
			seterr(h, "'%s' was killed by signal %s", argv[0],
			    c.signal);
		else
			seterr(h, "'%s' exited with status %d%s%s", argv[0],
			    c.status, c.err.len > 0 ? ": " : "", c.err.data);
		rc = VZ_SSH_FAILED;
		goto out;
	}
	if (out != NULL)
		buf_add(out, c.out.data, c.out.len);
out:
	vz_ssh_cmd_release(&c);
	return rc;
}

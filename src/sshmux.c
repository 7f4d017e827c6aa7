/*
 * sshmux: connection reuse across vzmaster runs, OpenSSH ControlPersist
 * style, on top of ssh.c: the holder process that keeps authenticated
 * libssh2 sessions after a run, its unix sockets, and the client side used
 * by vz_ssh_connect() and vz_ssh_exec().  See ssh.h for the contract.
 *
 * Why a process that inherits the sessions by fork(): the run that just
 * authenticated is the only one that can hand a session on, and fork()
 * copies libssh2's and OpenSSL's state (keys, sequence numbers) whole.
 * The parent then must never write on those sockets again (disconnect()
 * frees its copy silently).
 *
 * Trust: the folder is 0700 and ours (checked on both sides, as OpenSSH
 * does for ControlPath), the holder accepts only peers of its own uid
 * (SO_PEERCRED) and the client only a holder of its own uid; the holder
 * only ever holds sessions that passed the strict known_hosts check, and a
 * client checks the key the holder reports against known_hosts again, so a
 * key removed or revoked since is not trusted through the holder either.
 *
 * Wire format on the socket (same host, native byte order): every message
 * is a u32 length and that many bytes, the first one its type.
 *   'H' u32 version                    -> 'h' u32 alive, str user, str
 *                                         hostkey blob, str error
 *   'X' i32 timeout_ms, u64 max_output, u64 stdin length, str cmdline,
 *       str argv0, [u32 flags, u32 argc, argc x str argv], then the
 *       stdin bytes raw (the bracketed part since the session channel:
 *       a holder without it ignores it and runs cmdline)
 *                                      -> 'x' i32 rc, u32 opened, i32
 *                                         status, str signal, str error,
 *                                         str stdout, str stderr
 * (str = u32 length + bytes).  One holder thread per node serves its
 * clients one request at a time.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh2.h>
#include <openssl/evp.h>

#include "buf.h"
#include "ssh.h"
#include "ssh-int.h"

#define MUX_VERSION		1
#define MUX_MAX_CLIENTS		16
#define MUX_IO_MS		10000	/* a message must move within this */
#define MUX_GRACE_MS		10000	/* client waits timeout + this */
#define MUX_STDIN_CHUNK		(64 * 1024)
#define MUX_MAX_ARGS		64
#define MUX_SUN_LEN		(sizeof(((struct sockaddr_un *)0)->sun_path))

/* ---- settings ---- */

int
vz_ssh_parse_persist(const char *text, int *seconds, char *err,
    size_t errlen)
{
	const char *p = text;
	long v = 0, mult = 1;

	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > VZ_SSH_PERSIST_MAX)
			goto range;
	}
	if (*p == 's')
		p++;
	else if (*p == 'm') {
		mult = 60;
		p++;
	} else if (*p == 'h') {
		mult = 3600;
		p++;
	}
	if (*p != '\0')
		goto bad;
	if (v * mult > VZ_SSH_PERSIST_MAX)
		goto range;
	*seconds = (int)(v * mult);
	return 0;
bad:
	snprintf(err, errlen, "bad persist time '%s': want seconds, or a "
	    "number with s, m or h (0 turns it off)", text);
	return -1;
range:
	snprintf(err, errlen, "persist time '%s' is over 24 hours", text);
	return -1;
}

int
vz_ssh_persist_default(void)
{
	const char *e = getenv("VZMASTER_PERSIST");
	char err[256];
	int s;

	if (e != NULL && vz_ssh_parse_persist(e, &s, err, sizeof err) == 0)
		return s;
	return VZ_SSH_PERSIST_DEFAULT;
}

char *
vz_ssh_persist_dir(const char *state_dir)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, "%s/cm", state_dir);
	return buf_detach(&b, NULL);
}

int
persist_allowed(const struct vz_ssh *h)
{
	return h->policy == VZ_HOSTKEY_STRICT && h->password == NULL &&
	    !h->replace_hostkey;
}

/* ---- socket names and the folder ---- */

/*
 * DIR/user@host:port-HASH.sock, HASH covering what makes a session fit
 * this handle (login, address, known_hosts file, keys); only DIR/HASH.sock
 * when that is too long for sun_path.  -1 when even that does not fit.
 */
static int
sock_path(const struct vz_ssh *h, const char *dir, struct buf *out)
{
	struct buf key = BUF_INIT, name = BUF_INIT;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char hex[65], *kh;
	const char *p;
	size_t i;
	int rc = -1;

	kh = realpath(h->known_hosts, NULL);
	buf_addf(&key, "%s@%s:%d\n%s\n", h->user, h->hostname, h->port,
	    kh != NULL ? kh : h->known_hosts);
	free(kh);
	for (i = 0; i < h->nidentities; i++)
		buf_addf(&key, "%s\n", h->identities[i]);
	EVP_Digest(key.data, key.len, md, &mdlen, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	buf_addf(&name, "%s@%s:%d", h->user, h->hostname, h->port);
	for (p = name.data; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("@:.-_+", *p) != NULL))
			name.data[p - name.data] = '_';
	buf_reset(out);
	buf_addf(out, "%s/%s-%.12s.sock", dir, name.data, hex);
	if (out->len >= MUX_SUN_LEN) {
		buf_reset(out);
		buf_addf(out, "%s/%.32s.sock", dir, hex);
	}
	if (out->len < MUX_SUN_LEN)
		rc = 0;
	buf_release(&key);
	buf_release(&name);
	return rc;
}

/* The folder must be ours alone: a directory, our uid, no group/other. */
static int
check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(dir, &st) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %u, not by us", dir,
		    (unsigned int)st.st_uid);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: mode %03o gives others access; "
		    "want 700", dir, (unsigned int)(st.st_mode & 0777));
		return -1;
	}
	return 0;
}

static int
unix_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd, e;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int
peer_is_us(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof cr;

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 &&
	    cr.uid == geteuid();
}

/* ---- messages ---- */

static void
put_u32(struct buf *b, uint32_t v)
{
	buf_add(b, &v, sizeof v);
}

static void
put_u64(struct buf *b, uint64_t v)
{
	buf_add(b, &v, sizeof v);
}

static void
put_str(struct buf *b, const void *p, size_t len)
{
	put_u32(b, (uint32_t)len);
	buf_add(b, p, len);
}

/* Start a message: room for the length, then the type. */
/* flags and argv, for a holder that can run a verb on its session */
static void
put_argv(struct buf *b, const struct vz_ssh_cmd *c)
{
	uint32_t argc = 0, i;

	while (c->argv[argc] != NULL)
		argc++;
	put_u32(b, (uint32_t)c->flags);
	put_u32(b, argc);
	for (i = 0; i < argc; i++)
		put_str(b, c->argv[i], strlen(c->argv[i]));
}

static void
msg_begin(struct buf *b, char type)
{
	buf_reset(b);
	put_u32(b, 0);
	buf_addc(b, type);
}

static void
msg_end(struct buf *b)
{
	uint32_t len = (uint32_t)(b->len - 4);

	memcpy(b->data, &len, 4);
}

struct rd {
	const char	*p;
	size_t		 left;
	int		 bad;
};

static void
get(struct rd *r, void *v, size_t len)
{
	if (r->bad || r->left < len) {
		r->bad = 1;
		memset(v, 0, len);
		return;
	}
	memcpy(v, r->p, len);
	r->p += len;
	r->left -= len;
}

static uint32_t
get_u32(struct rd *r)
{
	uint32_t v;

	get(r, &v, sizeof v);
	return v;
}

static uint64_t
get_u64(struct rd *r)
{
	uint64_t v;

	get(r, &v, sizeof v);
	return v;
}

/* A string into b (NUL-terminated by buf). */
static void
get_str(struct rd *r, struct buf *b)
{
	uint32_t len = get_u32(r);

	buf_reset(b);
	if (r->bad || r->left < len) {
		r->bad = 1;
		return;
	}
	buf_add(b, r->p, len);
	r->p += len;
	r->left -= len;
}

/* Wait until fd is ready for events: 0, or -2 when deadline (0: none)
   passes first. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int left = -1;

	pfd.fd = fd;
	pfd.events = events;
	if (deadline > 0) {
		if (deadline - mono_ms() <= 0)
			return -2;
		left = (int)(deadline - mono_ms());
	}
	return poll(&pfd, 1, left) == 0 ? -2 : 0;
}

/* Write all of p to a non-blocking fd before deadline (0: none). */
static int
write_all(int fd, const void *p, size_t len, int64_t deadline)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p = (const char *)p + n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (wait_fd(fd, POLLOUT, deadline) == -2)
			return -2;
	}
	return 0;
}

/* Read exactly len bytes: 0, -1 on EOF or error, -2 on the deadline. */
static int
read_all(int fd, void *p, size_t len, int64_t deadline)
{
	ssize_t n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n > 0) {
			p = (char *)p + n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
		if (wait_fd(fd, POLLIN, deadline) == -2)
			return -2;
	}
	return 0;
}

/* One whole message (without its length) into b; at most max bytes. */
static int
read_msg(int fd, struct buf *b, size_t max, int64_t deadline)
{
	uint32_t len;
	int rc;

	buf_reset(b);
	if ((rc = read_all(fd, &len, sizeof len, deadline)) != 0)
		return rc;
	if (len == 0 || len > max)
		return -1;
	buf_grow(b, len);
	if ((rc = read_all(fd, b->data, len, deadline)) != 0)
		return rc;
	b->len = len;
	b->data[len] = '\0';
	return 0;
}

/* ---- client side ---- */

/* 0: h now runs its commands through a holder; -1: connect directly. */
int
mux_connect(struct vz_ssh *h)
{
	struct buf path = BUF_INIT, msg = BUF_INIT, user = BUF_INIT;
	struct buf blob = BUF_INIT, herr = BUF_INIT;
	struct rd r;
	struct stat st;
	char why[512];
	int fd = -1, rc = -1, alive;
	int64_t deadline;

	h->t_start = vz_ssh_now();
	if (check_dir(h->persist_dir, why, sizeof why) == -1) {
		if (errno != ENOENT)
			logf_(h, 1, "%s: not using a holder: %s", h->name, why);
		goto out;
	}
	if (sock_path(h, h->persist_dir, &path) == -1) {
		logf_(h, 1, "%s: not using a holder: %s: path too long",
		    h->name, h->persist_dir);
		goto out;
	}
	if (lstat(path.data, &st) == -1)
		goto out;
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		logf_(h, 1, "%s: not using a holder: %s is not our socket",
		    h->name, path.data);
		goto out;
	}
	if ((fd = unix_connect(path.data)) == -1) {
		if (errno == ECONNREFUSED) {
			/* its holder is gone */
			logf_(h, 2, "%s: removing stale %s", h->name,
			    path.data);
			(void)unlink(path.data);
		}
		goto out;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (!peer_is_us(fd)) {
		logf_(h, 1, "%s: not using a holder: %s is served by "
		    "another user", h->name, path.data);
		goto out;
	}
	deadline = mono_ms() + h->connect_timeout_ms;
	msg_begin(&msg, 'H');
	put_u32(&msg, MUX_VERSION);
	msg_end(&msg);
	if (write_all(fd, msg.data, msg.len, deadline) != 0 ||
	    read_msg(fd, &msg, 1 << 20, deadline) != 0 || msg.data[0] != 'h')
		goto out;
	r.p = msg.data + 1;
	r.left = msg.len - 1;
	r.bad = 0;
	alive = (int)get_u32(&r);
	get_str(&r, &user);
	get_str(&r, &blob);
	get_str(&r, &herr);
	if (r.bad)
		goto out;
	if (!alive) {
		logf_(h, 1, "%s: holder's session is gone (%s): connecting "
		    "directly", h->name, herr.data);
		goto out;
	}
	if (strcmp(user.data, h->user) != 0)
		goto out;
	/* known_hosts may have changed since the holder connected */
	if (check_hostkey_blob(h, (const unsigned char *)blob.data,
	    blob.len) != VZ_SSH_OK) {
		logf_(h, 1, "%s: not using a holder: %s", h->name, h->err);
		h->err[0] = '\0';
		goto out;
	}
	h->mux_fd = fd;
	fd = -1;
	h->connected = 1;
	h->err[0] = '\0';
	h->t_end = vz_ssh_now();
	logf_(h, 1, "%s: using the connection held at %s", h->name,
	    path.data);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	buf_release(&path);
	buf_release(&msg);
	buf_release(&user);
	buf_release(&blob);
	buf_release(&herr);
	return rc;
}

static void
mux_close(struct vz_ssh *h)
{
	if (h->mux_fd != -1)
		close(h->mux_fd);
	h->mux_fd = -1;
	h->mux_pending = 0;
	h->connected = 0;
}

int
mux_exec(struct vz_ssh *h, struct vz_ssh_cmd *c)
{
	int rc;

	if ((rc = mux_exec_start(h, c)) != VZ_SSH_OK)
		return rc;
	return mux_exec_finish(h, c);
}

/*
 * The request without its stdin: the holder opens the channel and starts
 * the command at once, and streams the stdin to it as it comes.
 */
int
mux_exec_start(struct vz_ssh *h, struct vz_ssh_cmd *c)
{
	struct buf cmdline = BUF_INIT, msg = BUF_INIT;
	size_t max = c->max_output > 0 ? c->max_output : VZ_SSH_MAX_OUTPUT;
	int io;

	if (h->dead) {
		seterr(h, "%s: not connected", h->hostname);
		return VZ_SSH_DEAD;
	}
	exec_cmdline(h, c, &cmdline);
	h->mux_timeout = exec_timeout(h, c);
	h->mux_deadline = h->mux_timeout > 0 ?
	    mono_ms() + h->mux_timeout + MUX_GRACE_MS : 0;
	logf_(h, 2, "%s: exec (held) %s", h->name, cmdline.data);
	msg_begin(&msg, 'X');
	put_u32(&msg, (uint32_t)h->mux_timeout);
	put_u64(&msg, max);
	put_u64(&msg, c->in != NULL ? c->inlen : 0);
	put_str(&msg, cmdline.data, cmdline.len);
	put_str(&msg, c->argv[0], strlen(c->argv[0]));
	put_argv(&msg, c);
	msg_end(&msg);
	io = write_all(h->mux_fd, msg.data, msg.len, h->mux_deadline);
	buf_release(&cmdline);
	buf_release(&msg);
	if (io != 0) {
		seterr(h, "%s: connection lost (the holder went away)",
		    h->hostname);
		h->dead = 1;
		mux_close(h);
		return VZ_SSH_DEAD;
	}
	h->mux_pending = 1;
	return VZ_SSH_OK;
}

/* The stdin of the request mux_exec_start sent, then its answer. */
int
mux_exec_finish(struct vz_ssh *h, struct vz_ssh_cmd *c)
{
	struct buf msg = BUF_INIT, tmp = BUF_INIT;
	size_t max = c->max_output > 0 ? c->max_output : VZ_SSH_MAX_OUTPUT;
	uint64_t off = 0;
	int64_t deadline = h->mux_deadline;
	int timeout = h->mux_timeout, rc = VZ_SSH_DEAD, io, opened;
	struct rd r;

	h->mux_pending = 0;
	while (c->in != NULL && off < c->inlen) {
		size_t n = c->inlen - off < MUX_STDIN_CHUNK ?
		    (size_t)(c->inlen - off) : MUX_STDIN_CHUNK;

		if ((io = write_all(h->mux_fd, (const char *)c->in + off, n,
		    deadline)) != 0)
			goto ioerr;
		off += n;
		if (c->progress != NULL)
			c->progress(c->progress_arg, off, c->inlen);
	}
	if ((io = read_msg(h->mux_fd, &msg, 2 * max + 65536, deadline)) != 0)
		goto ioerr;
	r.p = msg.data + 1;
	r.left = msg.len - 1;
	r.bad = msg.data[0] != 'x';
	rc = (int32_t)get_u32(&r);
	opened = (int)get_u32(&r);
	c->status = (int32_t)get_u32(&r);
	get_str(&r, &tmp);
	snprintf(c->signal, sizeof c->signal, "%s", tmp.data);
	get_str(&r, &tmp);
	get_str(&r, &c->out);
	get_str(&r, &c->err);
	if (r.bad || rc > VZ_SSH_OK || rc < VZ_SSH_FAILED) {
		io = -1;
		goto ioerr;
	}
	if (rc != VZ_SSH_OK)
		seterr(h, "%s", tmp.data);
	if (rc == VZ_SSH_DEAD && !opened) {
		/* nothing ran: the holder lost its session before */
		logf_(h, 1, "%s: held connection lost (%s): connecting "
		    "directly", h->name, tmp.data);
		mux_close(h);
		if ((rc = direct_connect(h)) != VZ_SSH_OK) {
			h->dead = 1;
			rc = VZ_SSH_DEAD;
		} else
			rc = vz_ssh_exec(h, c);
		goto out;
	}
	if (rc == VZ_SSH_DEAD) {
		h->dead = 1;
		mux_close(h);
	}
	goto out;
ioerr:
	if (io == -2)
		seterr(h, "%s: '%s' did not finish within %.1f s (holder "
		    "does not answer)", h->hostname, c->argv[0],
		    timeout / 1000.0);
	else
		seterr(h, "%s: connection lost (the holder went away)",
		    h->hostname);
	h->dead = 1;
	mux_close(h);
	rc = VZ_SSH_DEAD;
out:
	buf_release(&msg);
	buf_release(&tmp);
	return rc;
}

/* ---- the holder ---- */

struct held {
	struct vz_ssh	*h;
	int		 lfd;
	char		*path;
	dev_t		 dev;
	ino_t		 ino;
	int		 seconds;
	int		 clients[MUX_MAX_CLIENTS];
	int		 nclients;
	int64_t		 pumped;	/* when we last read stray packets */
	pthread_t	 tid;
};

/*
 * Let libssh2 read what the server sent while no command ran (a rekey, a
 * keepalive of its own, the keepalive replies of the run that connected):
 * it only reads while it does something, so open and close a channel.
 */
static void
pump(struct held *n)
{
	struct vz_ssh *h = n->h;
	LIBSSH2_CHANNEL *ch;
	int64_t deadline = mono_ms() + MUX_IO_MS;
	struct pollfd pfd;
	int r;

	n->pumped = mono_ms();
	libssh2_session_set_blocking(h->session, 0);
	while ((ch = libssh2_channel_open_session(h->session)) == NULL) {
		r = libssh2_session_last_errno(h->session);
		if (r != LIBSSH2_ERROR_EAGAIN) {
			if (session_broken(r))
				h->dead = 1;
			goto out;
		}
		if (mono_ms() >= deadline) {
			h->dead = 1;
			goto out;
		}
		pfd.fd = h->fd;
		pfd.events = POLLIN;
		if (libssh2_session_block_directions(h->session) &
		    LIBSSH2_SESSION_BLOCK_OUTBOUND)
			pfd.events |= POLLOUT;
		(void)poll(&pfd, 1, 100);
	}
	libssh2_session_set_blocking(h->session, 1);
	libssh2_session_set_timeout(h->session, MUX_IO_MS);
	if (libssh2_channel_close(ch) != 0 &&
	    session_broken(libssh2_session_last_errno(h->session)))
		h->dead = 1;
	libssh2_channel_free(ch);
out:
	libssh2_session_set_blocking(h->session, 1);
	libssh2_session_set_timeout(h->session, IO_TIMEOUT_MS);
}

/* Is the session still there, as far as can be told without a round
 * trip?  (A node that vanished silently shows up at the next exec.) */
static int
alive(struct held *n)
{
	char c;
	ssize_t r;

	if (n->h->dead)
		return 0;
	r = recv(n->h->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR))
		n->h->dead = 1;
	else if (r > 0 && mono_ms() - n->pumped > 1000)
		pump(n);
	return !n->h->dead;
}

static int
send_hello(struct held *n, int fd)
{
	struct buf msg = BUF_INIT;
	const char *blob;
	size_t len = 0;
	int type, ok = alive(n), rc;

	blob = ok ? libssh2_session_hostkey(n->h->session, &len, &type) : NULL;
	msg_begin(&msg, 'h');
	put_u32(&msg, ok && blob != NULL);
	put_str(&msg, n->h->user, strlen(n->h->user));
	put_str(&msg, blob != NULL ? blob : "", blob != NULL ? len : 0);
	put_str(&msg, ok ? "" : "connection lost", ok ? 0 : 15);
	msg_end(&msg);
	rc = write_all(fd, msg.data, msg.len, mono_ms() + MUX_IO_MS);
	buf_release(&msg);
	return rc == 0 ? 0 : -1;
}

static int
serve_exec(struct held *n, int fd, struct rd *r)
{
	struct vz_ssh *h = n->h;
	struct vz_ssh_cmd c;
	struct buf cmdline = BUF_INIT, argv0 = BUF_INIT, msg = BUF_INIT;
	struct buf args[MUX_MAX_ARGS];
	const char *argv[MUX_MAX_ARGS + 1];
	uint32_t argc = 0, i;
	int timeout, rc, opened = 0, ret = -1;

	timeout = (int)get_u32(r);
	vz_ssh_cmd_init(&c, argv);
	c.max_output = (size_t)get_u64(r);
	c.inlen = (size_t)get_u64(r);
	get_str(r, &cmdline);
	get_str(r, &argv0);
	argv[0] = argv0.data;
	argv[1] = NULL;
	if (r->left > 0) {
		c.flags = (int)get_u32(r);
		argc = get_u32(r);
		if (argc < 1 || argc > MUX_MAX_ARGS)
			r->bad = 1;
		for (i = 0; i < argc && !r->bad; i++) {
			buf_init(&args[i]);
			get_str(r, &args[i]);
			argv[i] = args[i].data;
		}
		argc = i;
		argv[argc] = NULL;
	}
	if (r->bad)
		goto out;
	if (!alive(n)) {
		seterr(h, "%s: connection lost", h->hostname);
		rc = VZ_SSH_DEAD;
		if (drain_fd(fd, c.inlen, mono_ms() + MUX_IO_MS) == -1)
			goto out;
	} else {
		h->err[0] = '\0';
		rc = run_command(h, &c, cmdline.data, timeout, fd, &opened);
		if (rc == EXEC_CLIENT_LOST)
			goto out;
	}
	msg_begin(&msg, 'x');
	put_u32(&msg, (uint32_t)rc);
	put_u32(&msg, (uint32_t)opened);
	put_u32(&msg, (uint32_t)c.status);
	put_str(&msg, c.signal, strlen(c.signal));
	put_str(&msg, h->err, rc == VZ_SSH_OK ? 0 : strlen(h->err));
	put_str(&msg, c.out.data, c.out.len);
	put_str(&msg, c.err.data, c.err.len);
	msg_end(&msg);
	if (write_all(fd, msg.data, msg.len, mono_ms() + MUX_IO_MS) == 0)
		ret = 0;
out:
	vz_ssh_cmd_release(&c);
	for (i = 0; i < argc; i++)
		buf_release(&args[i]);
	buf_release(&cmdline);
	buf_release(&argv0);
	buf_release(&msg);
	return ret;
}

/* One request of a client: 0, or -1 to drop the client. */
static int
serve(struct held *n, int fd)
{
	struct buf msg = BUF_INIT;
	struct rd r;
	int rc = -1;

	if (read_msg(fd, &msg, 1 << 20, mono_ms() + MUX_IO_MS) != 0)
		goto out;
	r.p = msg.data + 1;
	r.left = msg.len - 1;
	r.bad = 0;
	if (msg.data[0] == 'H') {
		if (get_u32(&r) == MUX_VERSION)
			rc = send_hello(n, fd);
	} else if (msg.data[0] == 'X')
		rc = serve_exec(n, fd, &r);
out:
	buf_release(&msg);
	return rc;
}

static void
drop_client(struct held *n, int i)
{
	close(n->clients[i]);
	n->clients[i] = n->clients[--n->nclients];
}

static void *
held_main(void *arg)
{
	struct held *n = arg;
	struct vz_ssh *h = n->h;
	struct pollfd pfd[2 + MUX_MAX_CLIENTS];
	struct stat st;
	int64_t idle_since = mono_ms(), left;
	int i, fd, next, timeout, nfds;

	while (!h->dead) {
		if (n->nclients == 0 &&
		    mono_ms() - idle_since >= (int64_t)n->seconds * 1000)
			break;
		next = KEEPALIVE_S;
		libssh2_session_set_blocking(h->session, 0);
		(void)libssh2_keepalive_send(h->session, &next);
		libssh2_session_set_blocking(h->session, 1);
		timeout = (next > 0 ? next : 1) * 1000;
		if (n->nclients == 0) {
			left = (int64_t)n->seconds * 1000 -
			    (mono_ms() - idle_since);
			if (left < timeout)
				timeout = left > 0 ? (int)left : 0;
		}
		pfd[0].fd = n->lfd;
		pfd[0].events = POLLIN;
		/* after a pump that read nothing, look again a bit later */
		pfd[1].fd = mono_ms() - n->pumped > 1000 ? h->fd : -1;
		pfd[1].events = POLLIN;
		if (pfd[1].fd == -1 && timeout > 1000)
			timeout = 1000;
		for (i = 0; i < n->nclients; i++) {
			pfd[2 + i].fd = n->clients[i];
			pfd[2 + i].events = POLLIN;
		}
		nfds = 2 + n->nclients;
		if (poll(pfd, (nfds_t)nfds, timeout) <= 0)
			continue;
		if (pfd[1].revents != 0 && !alive(n))
			break;
		for (i = n->nclients - 1; i >= 0; i--) {
			if (pfd[2 + i].revents == 0)
				continue;
			if (serve(n, n->clients[i]) == -1)
				drop_client(n, i);
			idle_since = mono_ms();
			if (h->dead)
				break;
		}
		if (pfd[0].revents & POLLIN) {
			fd = accept4(n->lfd, NULL, NULL, SOCK_CLOEXEC |
			    SOCK_NONBLOCK);
			if (fd != -1 && (!peer_is_us(fd) ||
			    n->nclients == MUX_MAX_CLIENTS))
				close(fd);
			else if (fd != -1)
				n->clients[n->nclients++] = fd;
			idle_since = mono_ms();
		}
	}
	/* the socket goes first, so no new client finds a dying holder;
	 * only ours: a later run may have put a new holder's in its place */
	if (stat(n->path, &st) == 0 && st.st_dev == n->dev &&
	    st.st_ino == n->ino)
		(void)unlink(n->path);
	close(n->lfd);
	while (n->nclients > 0)
		drop_client(n, n->nclients - 1);
	if (!h->dead) {
		libssh2_session_set_timeout(h->session, 2000);
		libssh2_session_disconnect(h->session, "idle");
	}
	libssh2_session_free(h->session);
	h->session = NULL;
	close(h->fd);
	h->fd = -1;
	return NULL;
}

static int
keep_fd(int fd, struct held *nodes, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fd == nodes[i].lfd || fd == nodes[i].h->fd)
			return 1;
	return 0;
}

/* Close every descriptor the run had open (its lock file above all). */
static void
close_others(struct held *nodes, size_t n)
{
	int fds[1024], nf = 0, i, fd;
	struct dirent *de;
	DIR *d;

	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL && nf < 1024) {
			fd = (int)strtol(de->d_name, NULL, 10);
			if (de->d_name[0] != '.' && fd > 2 && fd != dirfd(d))
				fds[nf++] = fd;
		}
		closedir(d);
		for (i = 0; i < nf; i++)
			if (!keep_fd(fds[i], nodes, n))
				close(fds[i]);
		if (nf < 1024)
			return;
	}
	for (fd = 3; fd < 65536; fd++)
		if (!keep_fd(fd, nodes, n))
			close(fd);
}

static void
holder_main(struct held *nodes, size_t n)
{
	pthread_attr_t attr;
	sigset_t all;
	size_t i;
	int fd;

	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGINT, SIG_DFL);
	(void)signal(SIGTERM, SIG_DFL);
	(void)signal(SIGCHLD, SIG_DFL);
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	(void)chdir("/");
	close_others(nodes, n);
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(fd, 0);
		(void)dup2(fd, 1);
		(void)dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 512 * 1024);
	for (i = 0; i < n; i++) {
		nodes[i].h->log = NULL;
		/* replies would pile up unread between requests */
		libssh2_keepalive_config(nodes[i].h->session, 0, KEEPALIVE_S);
		if (pthread_create(&nodes[i].tid, &attr, held_main,
		    &nodes[i]) != 0) {
			(void)unlink(nodes[i].path);
			nodes[i].h = NULL;
		}
	}
	for (i = 0; i < n; i++)
		if (nodes[i].h != NULL)
			pthread_join(nodes[i].tid, NULL);
}

/* Is a live holder answering at path already? */
static int
held_elsewhere(const char *path)
{
	int fd;

	if ((fd = unix_connect(path)) != -1) {
		close(fd);
		return 1;
	}
	if (errno == ECONNREFUSED)
		(void)unlink(path);	/* stale */
	return 0;
}

/*
 * Listen on path (its stale socket, if any, is gone already).  Bound under
 * its final name, so that /proc/net/unix and ss show it; when two runs
 * race, the second bind fails and that run keeps its session.
 */
static int
listen_at(const char *path, struct held *n)
{
	struct sockaddr_un sun;
	struct stat st;
	size_t len = strlen(path);
	int fd;

	if (len >= sizeof sun.sun_path)
		return -1;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		close(fd);
		return -1;
	}
	if (chmod(path, 0600) == -1 || listen(fd, MUX_MAX_CLIENTS) == -1 ||
	    stat(path, &st) == -1) {
		(void)unlink(path);
		close(fd);
		return -1;
	}
	n->lfd = fd;
	n->path = xstrdup(path);
	n->dev = st.st_dev;
	n->ino = st.st_ino;
	return 0;
}

static int
can_hand_over(const struct vz_ssh *h)
{
	return h != NULL && h->connected && !h->dead && h->mux_fd == -1 &&
	    h->session != NULL && h->persist_ok && persist_allowed(h);
}

int
vz_ssh_persist(struct vz_ssh **handles, size_t n, const char *dir,
    int seconds, char *err, size_t errlen)
{
	struct held *nodes = NULL;
	struct buf abs = BUF_INIT, path = BUF_INIT;
	char cwd[PATH_MAX];
	size_t i, k = 0;
	pid_t pid;
	int st, rc = -1, want = 0;

	for (i = 0; i < n; i++)
		want += can_hand_over(handles[i]);
	if (seconds <= 0 || want == 0)
		return 0;
	if (dir[0] != '/') {
		/* the holder runs in / */
		if (getcwd(cwd, sizeof cwd) == NULL) {
			snprintf(err, errlen, "cannot get the current "
			    "directory: %s", strerror(errno));
			return -1;
		}
		buf_addf(&abs, "%s/", cwd);
	}
	buf_adds(&abs, dir);
	if (mkdir(abs.data, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", abs.data,
		    strerror(errno));
		goto out;
	}
	if (check_dir(abs.data, err, errlen) == -1)
		goto out;
	nodes = xcalloc(n, sizeof *nodes);
	for (i = 0; i < n; i++) {
		struct vz_ssh *h = handles[i];

		if (!can_hand_over(h) || sock_path(h, abs.data, &path) == -1 ||
		    held_elsewhere(path.data))
			continue;
		if (h->sftp != NULL) {
			/* the holder relays commands only */
			libssh2_session_set_timeout(h->session, 2000);
			if (libssh2_sftp_shutdown(h->sftp) != 0)
				continue;
			h->sftp = NULL;
			libssh2_session_set_timeout(h->session,
			    IO_TIMEOUT_MS);
		}
		if (listen_at(path.data, &nodes[k]) == -1)
			continue;
		nodes[k].h = h;
		nodes[k].seconds = seconds;
		k++;
	}
	if (k == 0) {
		rc = 0;
		goto out;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "cannot start a holder: fork: %s",
		    strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* detach twice so the holder is nobody's child and never
		 * gets a terminal */
		(void)setsid();
		if ((pid = fork()) != 0)
			_exit(pid == -1 ? 1 : 0);
		holder_main(nodes, k);
		_exit(0);
	}
	st = 0;
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	/* (ECHILD when SIGCHLD is ignored: it was reaped for us) */
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(err, errlen, "cannot start a holder: fork failed");
		goto fail;
	}
	for (i = 0; i < k; i++) {
		nodes[i].h->handed_over = 1;
		nodes[i].h->connected = 0;
	}
	rc = (int)k;
	goto done;
fail:
	for (i = 0; i < k; i++)
		(void)unlink(nodes[i].path);
done:
	for (i = 0; i < k; i++) {
		close(nodes[i].lfd);
		free(nodes[i].path);
	}
out:
	free(nodes);
	buf_release(&abs);
	buf_release(&path);
	return rc;
}

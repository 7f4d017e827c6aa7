/*
 * ssh: connections, host key checks, authentication, remote commands and
 * SFTP uploads on libssh2 (see ssh.h for the contract).
 *
 * Timeouts: the TCP connect is non-blocking and polled against the connect
 * deadline; the SSH handshake runs in libssh2's blocking mode with
 * libssh2_session_set_timeout() set to what is left of it.  An open
 * connection sends libssh2 keepalives and has TCP keepalive plus
 * TCP_USER_TIMEOUT, so unacknowledged data on a vanished node turns into a
 * socket error within seconds instead of the kernel's ~127 s.  Commands
 * run in non-blocking mode so stdout, stderr and stdin are served together
 * and the per-command deadline is enforced in one poll loop.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <openssl/evp.h>

#include "buf.h"
#include "knownhosts.h"
#include "ssh.h"
#include "ssh-int.h"
#include "sshconfig.h"

#define AUTH_TIMEOUT_MS		30000	/* auth after the handshake */
#define UPLOAD_CHUNK		(256 * 1024)


static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;
static int ssh_init_rc;

static void
ssh_global_init(void)
{
	ssh_init_rc = libssh2_init(0);
}

double
vz_ssh_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
vz_ssh_parse_timeout(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 3600)
		return -1;
	return (int)(v * 1000 + 0.5) > 0 ? (int)(v * 1000 + 0.5) : 1;
}

void
seterr(struct vz_ssh *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->err, sizeof h->err, fmt, ap);
	va_end(ap);
}

void
logf_(struct vz_ssh *h, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (h->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	h->log(h->log_arg, level, msg);
}

const char *
lasterr(struct vz_ssh *h)
{
	char *msg = NULL;

	if (h->session == NULL)
		return "no session";
	libssh2_session_last_error(h->session, &msg, NULL, 0);
	return msg != NULL && msg[0] != '\0' ? msg : "unknown error";
}

static char *
local_user(void)
{
	struct passwd *pw;
	const char *u;

	if ((pw = getpwuid(geteuid())) != NULL && pw->pw_name != NULL)
		return xstrdup(pw->pw_name);
	if ((u = getenv("USER")) != NULL && u[0] != '\0')
		return xstrdup(u);
	return xstrdup("root");
}

static void
add_identity(struct vz_ssh *h, const char *path)
{
	size_t i;

	for (i = 0; i < h->nidentities; i++)
		if (strcmp(h->identities[i], path) == 0)
			return;
	h->identities = xreallocarray(h->identities, h->nidentities + 1,
	    sizeof *h->identities);
	h->identities[h->nidentities++] = xstrdup(path);
}

struct vz_ssh *
vz_ssh_new(const struct vz_ssh_opts *o)
{
	struct vz_ssh *h = xcalloc(1, sizeof *h);
	struct ssh_config_host ch;
	char *cfgpath, err[512];
	static const char *defaults[] = { "id_ed25519", "id_ecdsa", "id_rsa" };
	size_t i;

	h->fd = -1;
	h->mux_fd = -1;
	h->persist_dir = o->persist_dir != NULL ? xstrdup(o->persist_dir) :
	    NULL;
	h->host = xstrdup(o->host != NULL ? o->host : "");
	h->name = xstrdup(o->name != NULL ? o->name : h->host);
	h->known_hosts = xstrdup(o->known_hosts != NULL ? o->known_hosts :
	    ".vzmaster/known_hosts");
	h->policy = o->hostkey_policy;
	h->replace_hostkey = o->replace_hostkey;
	h->connect_timeout_ms = o->connect_timeout_ms > 0 ?
	    o->connect_timeout_ms : VZ_SSH_CONNECT_TIMEOUT_MS;
	h->command_timeout_ms = o->command_timeout_ms;
	h->no_pubkey = o->no_pubkey;
	h->password = o->password;
	h->log = o->log;
	h->log_arg = o->log_arg;
	h->service = o->service != NULL ? xstrdup(o->service) : NULL;

	memset(&ch, 0, sizeof ch);
	if (o->ssh_config == NULL || o->ssh_config[0] != '\0') {
		cfgpath = o->ssh_config != NULL ? xstrdup(o->ssh_config) :
		    ssh_config_default_path();
		if (ssh_config_lookup(cfgpath, h->host, &ch, err,
		    sizeof err) == -1)
			seterr(h, "%s", err);	/* reported by connect */
		free(cfgpath);
	}
	h->hostname = xstrdup(ch.hostname != NULL ? ch.hostname : h->host);
	h->port = o->port > 0 ? o->port : ch.port > 0 ? ch.port : 22;
	h->user = o->user != NULL ? xstrdup(o->user) :
	    ch.user != NULL ? xstrdup(ch.user) : local_user();
	if (o->identity != NULL)
		add_identity(h, o->identity);
	for (i = 0; i < ch.nidentity; i++)
		add_identity(h, ch.identity[i]);
	if (ch.nidentity == 0) {
		for (i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
			struct buf p = BUF_INIT;

			buf_addf(&p, "%s/.ssh/%s", vz_home_dir(), defaults[i]);
			add_identity(h, p.data);
			buf_release(&p);
		}
	}
	ssh_config_host_release(&ch);
	return h;
}

void
disconnect(struct vz_ssh *h)
{
	if (h->mux_fd != -1) {
		close(h->mux_fd);
		h->mux_fd = -1;
	}
	if (h->handed_over && h->session != NULL) {
		/* A holder owns this session now: free our copy without a
		 * word on the wire.  Any send libssh2 still tries goes to an
		 * unconnected socket put in place of the shared one (a
		 * shutdown() would cut the holder's connection too). */
		int dummy = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (dummy != -1) {
			(void)dup2(dummy, h->fd);
			close(dummy);
		}
		h->sftp = NULL;
		h->svc = NULL;
		libssh2_session_free(h->session);
		h->session = NULL;
		h->handed_over = 0;
	}
	if (h->sftp != NULL) {
		libssh2_session_set_blocking(h->session, 1);
		libssh2_session_set_timeout(h->session, 2000);
		if (!h->dead)
			libssh2_sftp_shutdown(h->sftp);
		h->sftp = NULL;
	}
	if (h->session != NULL) {
		libssh2_session_set_blocking(h->session, 1);
		libssh2_session_set_timeout(h->session, 2000);
		if (!h->dead)
			libssh2_session_disconnect(h->session, "bye");
		else if (h->fd != -1)
			/* nothing more to say: make every send fail at once,
			 * or libssh2 would wait to close channels */
			(void)shutdown(h->fd, SHUT_RDWR);
		libssh2_session_free(h->session);	/* and h->svc */
		h->session = NULL;
		h->svc = NULL;
	}
	if (h->fd != -1) {
		close(h->fd);
		h->fd = -1;
	}
	h->connected = 0;
	h->persist_ok = 0;
}

void
vz_ssh_free(struct vz_ssh *h)
{
	size_t i;

	if (h == NULL)
		return;
	disconnect(h);
	for (i = 0; i < h->nidentities; i++)
		free(h->identities[i]);
	free(h->identities);
	free(h->name);
	free(h->host);
	free(h->hostname);
	free(h->user);
	free(h->known_hosts);
	free(h->persist_dir);
	free(h->service);
	free(h);
}

const char *vz_ssh_error(const struct vz_ssh *h) { return h->err; }
const char *vz_ssh_name(const struct vz_ssh *h) { return h->name; }
const char *vz_ssh_user(const struct vz_ssh *h) { return h->user; }
const char *vz_ssh_hostname(const struct vz_ssh *h) { return h->hostname; }
int vz_ssh_port(const struct vz_ssh *h) { return h->port; }

int
vz_ssh_is_muxed(const struct vz_ssh *h)
{
	return h->mux_fd != -1;
}

int
vz_ssh_is_root(const struct vz_ssh *h)
{
	return strcmp(h->user, "root") == 0;
}

void
vz_ssh_hostkey_info(const struct vz_ssh *h, struct vz_ssh_hostkey *k)
{
	*k = h->hk;
}

void
vz_ssh_connect_times(const struct vz_ssh *h, double *start, double *end)
{
	*start = h->t_start;
	*end = h->t_end;
}

static void
tune_socket(int fd, int user_timeout_ms)
{
	int on = 1, idle = KEEPALIVE_S, intvl = 2, cnt = 3;
	unsigned int uto = (unsigned int)user_timeout_ms;

	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
#ifdef TCP_USER_TIMEOUT
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof uto);
#endif
}

/* Non-blocking connect to each address in turn, all within deadline. */
static int
tcp_connect(struct vz_ssh *h, int64_t deadline)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16], addr[NI_MAXHOST];
	int rc, fd = -1, soerr, timedout = 0, last_errno = 0;
	socklen_t sl;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(portstr, sizeof portstr, "%d", h->port);
	if ((rc = getaddrinfo(h->hostname, portstr, &hints, &res)) != 0) {
		seterr(h, "cannot resolve '%s': %s", h->hostname,
		    gai_strerror(rc));
		return rc == EAI_AGAIN ? VZ_SSH_RETRY : VZ_SSH_FAILED;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		int64_t left;

		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr,
		    NULL, 0, NI_NUMERICHOST) != 0)
			snprintf(addr, sizeof addr, "?");
		logf_(h, 2, "%s: connecting to %s port %d", h->name, addr,
		    h->port);
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			last_errno = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			last_errno = errno;
			goto next;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		for (;;) {
			left = deadline - mono_ms();
			if (left <= 0) {
				timedout = 1;
				goto next;
			}
			rc = poll(&pfd, 1, (int)left);
			if (rc == -1 && errno == EINTR)
				continue;
			if (rc == 0) {
				timedout = 1;
				goto next;
			}
			break;
		}
		sl = sizeof soerr;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
			soerr = errno;
		if (soerr == 0)
			break;
		last_errno = soerr;
next:
		close(fd);
		fd = -1;
		if (timedout)
			break;	/* the whole budget is spent */
	}
	freeaddrinfo(res);
	if (fd == -1) {
		if (timedout)
			seterr(h, "cannot connect to %s port %d: timed out "
			    "after %.1f s", h->hostname, h->port,
			    h->connect_timeout_ms / 1000.0);
		else
			seterr(h, "cannot connect to %s port %d: %s",
			    h->hostname, h->port, strerror(last_errno));
		return VZ_SSH_RETRY;
	}
	tune_socket(fd, h->connect_timeout_ms * 3 > 15000 ?
	    h->connect_timeout_ms * 3 : 15000);
	h->fd = fd;
	return VZ_SSH_OK;
}

static int
alg_supported(const char **algs, int nalgs, const char *a, size_t alen)
{
	int i;

	for (i = 0; i < nalgs; i++)
		if (strlen(algs[i]) == alen && strncmp(algs[i], a, alen) == 0)
			return 1;
	return 0;
}

static void
set_hostkey_pref(struct vz_ssh *h)
{
	static const char *all = "ssh-ed25519,ecdsa-sha2-nistp256,"
	    "ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,"
	    "rsa-sha2-256,ssh-rsa";
	const char **algs = NULL;
	struct buf want = BUF_INIT, pref = BUF_INIT;
	char known[512];
	const char *p, *e;
	int nalgs;

	/* Like OpenSSH: ask for the key type we already know, so a server
	 * with several host keys is not mistaken for a changed one; for a new
	 * host, prefer ed25519 as OpenSSH does. */
	kh_known_algs(h->known_hosts, h->hostname, h->port, known,
	    sizeof known);
	buf_addf(&want, "%s%s%s", known, known[0] ? "," : "", all);
	nalgs = libssh2_session_supported_algs(h->session,
	    LIBSSH2_METHOD_HOSTKEY, &algs);
	if (nalgs <= 0)
		goto out;
	/* libssh2 1.10 corrupts the list (overlapping memcpy) when it has
	 * to drop an unsupported name itself: hand it only supported ones,
	 * each once. */
	for (p = want.data; *p != '\0'; p = *e ? e + 1 : e) {
		size_t n;

		e = p + strcspn(p, ",");
		n = (size_t)(e - p);
		if (n == 0 || !alg_supported(algs, nalgs, p, n))
			continue;
		{
			struct buf one = BUF_INIT;
			const char *q;
			int dup = 0;

			buf_add(&one, p, n);
			for (q = pref.data; (q = strstr(q, one.data)) != NULL;
			    q += n)
				if ((q == pref.data || q[-1] == ',') &&
				    (q[n] == ',' || q[n] == '\0'))
					dup = 1;
			if (!dup) {
				if (pref.len > 0)
					buf_addc(&pref, ',');
				buf_add(&pref, p, n);
			}
			buf_release(&one);
		}
	}
	if (pref.len > 0)
		(void)libssh2_session_method_pref(h->session,
		    LIBSSH2_METHOD_HOSTKEY, pref.data);
out:
	if (algs != NULL)
		libssh2_free(h->session, algs);
	buf_release(&want);
	buf_release(&pref);
}

/* Check (and under TOFU or replace_hostkey record) the server's key blob. */
int
check_hostkey_blob(struct vz_ssh *h, const unsigned char *blob, size_t len)
{
	struct kh_result r;
	int removed;
	char err[512];

	kh_fingerprint(blob, len, h->hk.fingerprint, sizeof h->hk.fingerprint);
	snprintf(h->hk.label, sizeof h->hk.label, "%s",
	    kh_key_label(blob, len));
	if (kh_check(h->known_hosts, h->hostname, h->port, blob, len, &r, err,
	    sizeof err) == -1) {
		seterr(h, "%s", err);
		return VZ_SSH_FAILED;
	}
	switch (r.status) {
	case KH_MATCH:
		logf_(h, 2, "%s: host key %s matches %s:%d", h->name,
		    h->hk.fingerprint, h->known_hosts, r.line);
		return VZ_SSH_OK;
	case KH_REVOKED:
		seterr(h, "%s: host key %s (%s) is marked @revoked in %s:%d",
		    h->hostname, h->hk.fingerprint, h->hk.label,
		    h->known_hosts, r.line);
		return VZ_SSH_HOSTKEY;
	case KH_MISMATCH:
		if (h->replace_hostkey) {
			if (kh_remove(h->known_hosts, h->hostname, h->port,
			    &removed, err, sizeof err) == -1 ||
			    kh_add(h->known_hosts, h->hostname, h->port, blob,
			    len, err, sizeof err) == -1) {
				seterr(h, "%s", err);
				return VZ_SSH_FAILED;
			}
			h->hk.replaced = 1;
			return VZ_SSH_OK;
		}
		seterr(h, "%s: host key changed: the server offers %s (%s), "
		    "but %s:%d has %s (%s) for it; if the node was really "
		    "reinstalled, remove that line (ssh-keygen -R '%s%s%s%.0d' "
		    "-f %s) or rerun 'vzmaster newnode --replace-host-key'",
		    h->hostname, h->hk.fingerprint, h->hk.label,
		    h->known_hosts, r.line, r.known_fp, r.known_label,
		    h->port != 22 ? "[" : "", h->hostname,
		    h->port != 22 ? "]:" : "", h->port != 22 ? h->port : 0,
		    h->known_hosts);
		return VZ_SSH_HOSTKEY;
	case KH_NOTFOUND:
		if (h->policy == VZ_HOSTKEY_TOFU) {
			if (kh_add(h->known_hosts, h->hostname, h->port, blob,
			    len, err, sizeof err) == -1) {
				seterr(h, "%s", err);
				return VZ_SSH_FAILED;
			}
			h->hk.recorded = 1;
			return VZ_SSH_OK;
		}
		seterr(h, "%s: unknown host key %s (%s): not in %s; adopt the "
		    "node with 'vzmaster newnode %s' first", h->hostname,
		    h->hk.fingerprint, h->hk.label, h->known_hosts, h->host);
		return VZ_SSH_HOSTKEY;
	}
	return VZ_SSH_FAILED;
}

static int
check_hostkey(struct vz_ssh *h)
{
	const unsigned char *blob;
	size_t len;
	int type;

	blob = (const unsigned char *)libssh2_session_hostkey(h->session,
	    &len, &type);
	if (blob == NULL) {
		seterr(h, "%s: no host key from server", h->hostname);
		return VZ_SSH_FAILED;
	}
	return check_hostkey_blob(h, blob, len);
}

static int
is_encrypted_key(const char *path)
{
	struct buf b = BUF_INIT;
	const char *p, *e;
	unsigned char *raw = NULL;
	struct buf b64 = BUF_INIT;
	long n;
	int enc = 0;

	if (buf_read_file(&b, path, 1024 * 1024) == -1)
		goto out;
	if (strstr(b.data, "ENCRYPTED") != NULL) {	/* PEM */
		enc = 1;
		goto out;
	}
	if ((p = strstr(b.data, "-----BEGIN OPENSSH PRIVATE KEY-----")) == NULL)
		goto out;
	p = strchr(p, '\n');
	e = strstr(b.data, "-----END");
	if (p == NULL || e == NULL || e < p)
		goto out;
	for (; p < e; p++)
		if (*p != '\n' && *p != '\r' && *p != ' ')
			buf_addc(&b64, *p);
	if ((n = kh_base64_decode(b64.data, b64.len, &raw)) < 15 + 4 + 4)
		goto out;
	/* "openssh-key-v1\0" string ciphername */
	enc = memcmp(raw, "openssh-key-v1", 15) == 0 &&
	    !(raw[15] == 0 && raw[16] == 0 && raw[17] == 0 && raw[18] == 4 &&
	    memcmp(raw + 19, "none", 4) == 0);
out:
	free(raw);
	buf_release(&b64);
	buf_release(&b);
	return enc;
}

static void
kbd_callback(const char *name, int name_len, const char *instruction,
    int instruction_len, int num_prompts,
    const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts,
    LIBSSH2_USERAUTH_KBDINT_RESPONSE *responses, void **abstract)
{
	struct vz_ssh *h = *abstract;
	int i;

	(void)name;
	(void)name_len;
	(void)instruction;
	(void)instruction_len;
	(void)prompts;
	for (i = 0; i < num_prompts; i++) {
		/* libssh2 frees responses with its allocator: plain malloc */
		responses[i].text = strdup(h->password != NULL ?
		    h->password : "");
		responses[i].length = responses[i].text != NULL ?
		    (unsigned int)strlen(responses[i].text) : 0;
	}
}

int
session_broken(int rc)
{
	return rc == LIBSSH2_ERROR_SOCKET_SEND ||
	    rc == LIBSSH2_ERROR_SOCKET_RECV ||
	    rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
	    rc == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
	    rc == LIBSSH2_ERROR_TIMEOUT;
}

static int
authenticate(struct vz_ssh *h)
{
	LIBSSH2_AGENT *agent = NULL;
	struct libssh2_agent_publickey *id, *prev = NULL;
	struct buf tried = BUF_INIT, hint = BUF_INIT;
	unsigned int ulen = (unsigned int)strlen(h->user);
	char *methods;
	size_t i;
	int rc = VZ_SSH_AUTH, r, nagent = 0;

	methods = libssh2_userauth_list(h->session, h->user, ulen);
	if (methods == NULL) {
		if (libssh2_userauth_authenticated(h->session))
			return VZ_SSH_OK;
		r = libssh2_session_last_errno(h->session);
		seterr(h, "%s: cannot list authentication methods: %s",
		    h->hostname, lasterr(h));
		return session_broken(r) ? VZ_SSH_RETRY : VZ_SSH_FAILED;
	}
	logf_(h, 2, "%s: server offers %s", h->name, methods);
	if (!h->no_pubkey && strstr(methods, "publickey") != NULL) {
		if (getenv("SSH_AUTH_SOCK") != NULL &&
		    (agent = libssh2_agent_init(h->session)) != NULL &&
		    libssh2_agent_connect(agent) == 0 &&
		    libssh2_agent_list_identities(agent) == 0) {
			while (libssh2_agent_get_identity(agent, &id, prev) ==
			    0) {
				prev = id;
				nagent++;
				if (libssh2_agent_userauth(agent, h->user, id) ==
				    0) {
					logf_(h, 1, "%s: authenticated as %s "
					    "with agent key %s", h->name,
					    h->user, id->comment);
					rc = VZ_SSH_OK;
					goto out;
				}
				r = libssh2_session_last_errno(h->session);
				if (session_broken(r))
					goto broken;
			}
			buf_addf(&tried, "agent (%d key%s)", nagent,
			    nagent == 1 ? "" : "s");
		}
		for (i = 0; i < h->nidentities; i++) {
			const char *f = h->identities[i];

			if (access(f, R_OK) == -1)
				continue;
			if (tried.len > 0)
				buf_adds(&tried, ", ");
			buf_adds(&tried, f);
			if (is_encrypted_key(f)) {
				buf_addf(&hint, "; key '%s' is encrypted: load "
				    "it into ssh-agent (ssh-add '%s')", f, f);
				continue;
			}
			r = libssh2_userauth_publickey_fromfile_ex(h->session,
			    h->user, ulen, NULL, f, NULL);
			if (r == 0) {
				logf_(h, 1, "%s: authenticated as %s with %s",
				    h->name, h->user, f);
				rc = VZ_SSH_OK;
				goto out;
			}
			if (session_broken(r))
				goto broken;
			logf_(h, 2, "%s: key %s refused: %s", h->name, f,
			    lasterr(h));
		}
	}
	if (h->password != NULL && strstr(methods, "password") != NULL) {
		if (tried.len > 0)
			buf_adds(&tried, ", ");
		buf_adds(&tried, "password");
		r = libssh2_userauth_password_ex(h->session, h->user, ulen,
		    h->password, (unsigned int)strlen(h->password), NULL);
		if (r == 0) {
			rc = VZ_SSH_OK;
			goto out;
		}
		if (session_broken(r))
			goto broken;
	}
	if (h->password != NULL &&
	    strstr(methods, "keyboard-interactive") != NULL &&
	    !libssh2_userauth_authenticated(h->session)) {
		if (tried.len > 0)
			buf_adds(&tried, ", ");
		buf_adds(&tried, "keyboard-interactive");
		r = libssh2_userauth_keyboard_interactive_ex(h->session,
		    h->user, ulen, kbd_callback);
		if (r == 0) {
			rc = VZ_SSH_OK;
			goto out;
		}
		if (session_broken(r))
			goto broken;
	}
	seterr(h, "authentication failed for %s@%s (tried: %s)%s", h->user,
	    h->hostname, tried.len > 0 ? tried.data : "nothing usable",
	    hint.data);
	rc = VZ_SSH_AUTH;
	goto out;
broken:
	seterr(h, "%s: connection lost during authentication: %s",
	    h->hostname, lasterr(h));
	rc = VZ_SSH_RETRY;
out:
	if (agent != NULL) {
		libssh2_agent_disconnect(agent);
		libssh2_agent_free(agent);
	}
	buf_release(&tried);
	buf_release(&hint);
	return rc;
}

int
vz_ssh_connect(struct vz_ssh *h)
{
	pthread_once(&ssh_once, ssh_global_init);
	if (ssh_init_rc != 0) {
		seterr(h, "libssh2 initialisation failed");
		return VZ_SSH_FAILED;
	}
	if (h->err[0] != '\0')	/* a bad ~/.ssh/config from vz_ssh_new */
		return VZ_SSH_FAILED;
	disconnect(h);
	h->dead = 0;
	if (h->persist_dir != NULL && persist_allowed(h) &&
	    mux_connect(h) == 0)
		return VZ_SSH_OK;
	return direct_connect(h);
}

/* A new SSH connection of our own, ignoring any holder. */
int
direct_connect(struct vz_ssh *h)
{
	int64_t deadline;
	int rc, left;

	disconnect(h);
	h->dead = 0;
	memset(&h->hk, 0, sizeof h->hk);
	h->t_start = vz_ssh_now();
	deadline = mono_ms() + h->connect_timeout_ms;
	logf_(h, 2, "%s: connect start %.6f", h->name, h->t_start);
	if ((rc = tcp_connect(h, deadline)) != VZ_SSH_OK)
		goto out;
	h->session = libssh2_session_init_ex(NULL, NULL, NULL, h);
	if (h->session == NULL) {
		seterr(h, "cannot create an ssh session");
		rc = VZ_SSH_FAILED;
		goto out;
	}
	libssh2_session_set_blocking(h->session, 1);
	left = (int)(deadline - mono_ms());
	libssh2_session_set_timeout(h->session, left > 1 ? left : 1);
	set_hostkey_pref(h);
	if ((rc = libssh2_session_handshake(h->session, h->fd)) != 0) {
		if (rc == LIBSSH2_ERROR_TIMEOUT)
			seterr(h, "%s port %d: ssh handshake timed out after "
			    "%.1f s", h->hostname, h->port,
			    h->connect_timeout_ms / 1000.0);
		else
			seterr(h, "%s port %d: ssh handshake failed: %s",
			    h->hostname, h->port, lasterr(h));
		rc = session_broken(rc) || rc == LIBSSH2_ERROR_BANNER_RECV ?
		    VZ_SSH_RETRY : VZ_SSH_FAILED;
		goto out;
	}
	if ((rc = check_hostkey(h)) != VZ_SSH_OK)
		goto out;
	libssh2_session_set_timeout(h->session, AUTH_TIMEOUT_MS);
	if ((rc = authenticate(h)) != VZ_SSH_OK)
		goto out;
	libssh2_keepalive_config(h->session, 1, KEEPALIVE_S);
	libssh2_session_set_timeout(h->session, IO_TIMEOUT_MS);
	h->connected = 1;
	h->persist_ok = persist_allowed(h) && !h->hk.recorded &&
	    !h->hk.replaced;
	h->err[0] = '\0';
out:
	h->t_end = vz_ssh_now();
	logf_(h, 2, "%s: connect end %.6f (%s)", h->name, h->t_end,
	    rc == VZ_SSH_OK ? "ok" : h->err);
	if (rc != VZ_SSH_OK)
		disconnect(h);
	return rc;
}

int
mark_dead(struct vz_ssh *h, const char *what)
{
	seterr(h, "%s: connection lost (%s): %s", h->hostname, what,
	    lasterr(h));
	h->dead = 1;
	return VZ_SSH_DEAD;
}

/* ---- SFTP ---- */

static int
sftp_fail(struct vz_ssh *h, const char *what, const char *path)
{
	int r = libssh2_session_last_errno(h->session);
	unsigned long fx;

	if (session_broken(r))
		return mark_dead(h, what);
	if (r == LIBSSH2_ERROR_SFTP_PROTOCOL && h->sftp != NULL) {
		fx = libssh2_sftp_last_error(h->sftp);
		seterr(h, "%s: cannot %s '%s': %s", h->hostname, what, path,
		    fx == LIBSSH2_FX_PERMISSION_DENIED ? "permission denied" :
		    fx == LIBSSH2_FX_NO_SUCH_FILE ? "no such file" :
		    fx == LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM ? "no space left" :
		    fx == LIBSSH2_FX_QUOTA_EXCEEDED ? "quota exceeded" :
		    "sftp failure");
	} else
		seterr(h, "%s: cannot %s '%s': %s", h->hostname, what, path,
		    lasterr(h));
	return VZ_SSH_FAILED;
}

static int
sftp_start(struct vz_ssh *h)
{
	if (h->sftp != NULL)
		return VZ_SSH_OK;
	libssh2_session_set_blocking(h->session, 1);
	if ((h->sftp = libssh2_sftp_init(h->session)) == NULL)
		return sftp_fail(h, "start sftp on", h->hostname);
	return VZ_SSH_OK;
}

/* sha256 hex of the first len bytes of fd */
static int
local_prefix_sha256(int fd, uint64_t len, char hex[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32], *chunk = xmalloc(UPLOAD_CHUNK);
	unsigned int mdlen;
	uint64_t off = 0;
	ssize_t n;
	int i, rc = -1;

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while (off < len) {
		size_t want = len - off > UPLOAD_CHUNK ? UPLOAD_CHUNK :
		    (size_t)(len - off);
		n = pread(fd, chunk, want, (off_t)off);
		if (n <= 0)
			goto out;
		EVP_DigestUpdate(ctx, chunk, (size_t)n);
		off += (uint64_t)n;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(chunk);
	return rc;
}

/* How much of part may be kept: its size if its content is our prefix. */
static uint64_t
resumable(struct vz_ssh *h, int fd, const char *part, uint64_t partsize)
{
	static const char script[] =
	    "head -c \"$1\" -- \"$2\" | sha256sum";
	char n[32], hex[65];
	const char *argv[] = { "sh", "-c", script, "sh", n, part, NULL };
	struct vz_ssh_cmd c;
	uint64_t keep = 0;

	snprintf(n, sizeof n, "%llu", (unsigned long long)partsize);
	if (local_prefix_sha256(fd, partsize, hex) == -1)
		return 0;
	vz_ssh_cmd_init(&c, argv);
	c.flags = VZ_SSH_NOSUDO;
	if (vz_ssh_exec(h, &c) == VZ_SSH_OK && c.status == 0 &&
	    c.out.len >= 64 && strncmp(c.out.data, hex, 64) == 0)
		keep = partsize;
	logf_(h, 1, "%s: %s holds %llu bytes: %s", h->name, part,
	    (unsigned long long)partsize, keep ? "resuming" : "restarting");
	vz_ssh_cmd_release(&c);
	return keep;
}

int
vz_ssh_upload(struct vz_ssh *h, struct vz_ssh_upload *u)
{
	LIBSSH2_SFTP_HANDLE *fh = NULL;
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	struct buf part = BUF_INIT;
	const char *slash;
	struct stat st;
	char *chunk = NULL;
	uint64_t off = 0;
	ssize_t n, w;
	size_t done;
	unsigned long oflags;
	int fd = -1, rc = VZ_SSH_FAILED, r;

	u->resumed_from = 0;
	if (h->mux_fd != -1) {
		/* SFTP is never relayed by a holder: go direct for it */
		logf_(h, 1, "%s: connecting directly for an upload", h->name);
		if ((rc = direct_connect(h)) != VZ_SSH_OK)
			return rc;
		rc = VZ_SSH_FAILED;
	}
	if (!h->connected || h->dead) {
		seterr(h, "%s: not connected", h->hostname);
		return h->dead ? VZ_SSH_DEAD : VZ_SSH_FAILED;
	}
	if ((slash = strrchr(u->remote, '/')) == NULL || slash[1] == '\0') {
		seterr(h, "bad remote path '%s'", u->remote);
		return VZ_SSH_FAILED;
	}
	buf_add(&part, u->remote, (size_t)(slash - u->remote) + 1);
	buf_addf(&part, ".%s.part", slash + 1);
	if ((fd = open(u->local, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		seterr(h, "cannot read '%s': %s", u->local, strerror(errno));
		goto out;
	}
	u->size = (uint64_t)st.st_size;
	if ((rc = sftp_start(h)) != VZ_SSH_OK)
		goto out;
	rc = VZ_SSH_FAILED;

	if (!(u->flags & VZ_SSH_UPLOAD_RESTART) &&
	    libssh2_sftp_stat(h->sftp, part.data, &attrs) == 0 &&
	    (attrs.flags & LIBSSH2_SFTP_ATTR_SIZE) && attrs.filesize > 0 &&
	    attrs.filesize <= u->size) {
		off = resumable(h, fd, part.data, attrs.filesize);
		if (h->dead) {
			rc = VZ_SSH_DEAD;
			goto out;
		}
		libssh2_session_set_blocking(h->session, 1);
	}
	oflags = LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT;
	if (off == 0)
		oflags |= LIBSSH2_FXF_TRUNC;
	fh = libssh2_sftp_open(h->sftp, part.data, oflags, 0600);
	if (fh == NULL) {
		rc = sftp_fail(h, "create", part.data);
		goto out;
	}
	u->resumed_from = off;
	libssh2_sftp_seek64(fh, off);
	if (u->progress != NULL && u->progress(u->progress_arg, off, u->size)) {
		seterr(h, "%s: upload of '%s' interrupted", h->hostname,
		    u->remote);
		goto out;
	}
	chunk = xmalloc(UPLOAD_CHUNK);
	while (off < u->size) {
		n = pread(fd, chunk, UPLOAD_CHUNK, (off_t)off);
		if (n <= 0) {
			seterr(h, "cannot read '%s': %s", u->local,
			    n == 0 ? "file shrank" : strerror(errno));
			goto out;
		}
		for (done = 0; done < (size_t)n; done += (size_t)w) {
			w = libssh2_sftp_write(fh, chunk + done,
			    (size_t)n - done);
			if (w < 0) {
				rc = sftp_fail(h, "write", part.data);
				goto out;
			}
		}
		off += (uint64_t)n;
		if (u->progress != NULL &&
		    u->progress(u->progress_arg, off, u->size)) {
			seterr(h, "%s: upload of '%s' interrupted",
			    h->hostname, u->remote);
			goto out;
		}
	}
	r = libssh2_sftp_fsync(fh);
	if (r != 0 && (libssh2_session_last_errno(h->session) !=
	    LIBSSH2_ERROR_SFTP_PROTOCOL || libssh2_sftp_last_error(h->sftp) !=
	    LIBSSH2_FX_OP_UNSUPPORTED)) {
		rc = sftp_fail(h, "fsync", part.data);
		goto out;
	}
	memset(&attrs, 0, sizeof attrs);
	attrs.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
	attrs.permissions = (unsigned long)(u->mode & 07777);
	if (libssh2_sftp_fsetstat(fh, &attrs) != 0) {
		rc = sftp_fail(h, "set the mode of", part.data);
		goto out;
	}
	if (libssh2_sftp_close(fh) != 0) {
		fh = NULL;
		rc = sftp_fail(h, "close", part.data);
		goto out;
	}
	fh = NULL;
	if (libssh2_sftp_rename_ex(h->sftp, part.data,
	    (unsigned int)part.len, u->remote, (unsigned int)strlen(u->remote),
	    LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC |
	    LIBSSH2_SFTP_RENAME_NATIVE) != 0) {
		/* OpenSSH's v3 rename refuses an existing target */
		const char *mv[] = { "mv", "-f", "--", part.data, u->remote,
		    NULL };
		struct vz_ssh_cmd c;

		if (session_broken(libssh2_session_last_errno(h->session))) {
			rc = mark_dead(h, "rename");
			goto out;
		}
		vz_ssh_cmd_init(&c, mv);
		c.flags = VZ_SSH_NOSUDO;
		rc = vz_ssh_exec(h, &c);
		if (rc == VZ_SSH_OK && c.status != 0) {
			char *nl = strchr(c.err.data, '\n');

			if (nl != NULL)
				*nl = '\0';
			seterr(h, "%s: cannot rename '%s' to '%s': %s",
			    h->hostname, part.data, u->remote, c.err.data);
			rc = VZ_SSH_FAILED;
		}
		vz_ssh_cmd_release(&c);
		if (rc != VZ_SSH_OK)
			goto out;
	}
	rc = VZ_SSH_OK;
out:
	if (fh != NULL)
		libssh2_sftp_close(fh);
	if (fd != -1)
		close(fd);
	free(chunk);
	buf_release(&part);
	return rc;
}

/* ---- public keys for authorized_keys ---- */

static void
add_key_line(struct buf *lines, const char *line, size_t len, int *n)
{
	const char *sp, *sp2;
	struct buf blob = BUF_INIT;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0 || (sp = memchr(line, ' ', len)) == NULL)
		return;
	sp2 = memchr(sp + 1, ' ', len - (size_t)(sp + 1 - line));
	buf_add(&blob, sp + 1, sp2 != NULL ? (size_t)(sp2 - sp - 1) :
	    len - (size_t)(sp + 1 - line));
	if (blob.len > 0 && strstr(lines->data, blob.data) == NULL) {
		buf_add(lines, line, len);
		buf_addc(lines, '\n');
		(*n)++;
	}
	buf_release(&blob);
}

int
vz_ssh_public_keys(const char *identity, struct buf *lines)
{
	LIBSSH2_SESSION *s;
	LIBSSH2_AGENT *agent;
	struct libssh2_agent_publickey *id, *prev = NULL;
	struct buf path = BUF_INIT, f = BUF_INIT;
	glob_t g;
	char type[64], *b64;
	int n = 0;
	size_t i;

	pthread_once(&ssh_once, ssh_global_init);
	if (getenv("SSH_AUTH_SOCK") != NULL &&
	    (s = libssh2_session_init()) != NULL) {
		if ((agent = libssh2_agent_init(s)) != NULL) {
			if (libssh2_agent_connect(agent) == 0 &&
			    libssh2_agent_list_identities(agent) == 0) {
				while (libssh2_agent_get_identity(agent, &id,
				    prev) == 0) {
					struct buf l = BUF_INIT;

					prev = id;
					if (kh_key_type(id->blob, id->blob_len,
					    type, sizeof type) == -1)
						continue;
					b64 = kh_base64_encode(id->blob,
					    id->blob_len);
					buf_addf(&l, "%s %s %s", type, b64,
					    id->comment != NULL ?
					    id->comment : "");
					add_key_line(lines, l.data, l.len, &n);
					free(b64);
					buf_release(&l);
				}
				libssh2_agent_disconnect(agent);
			}
			libssh2_agent_free(agent);
		}
		libssh2_session_free(s);
	}
	if (n > 0)
		return n;
	if (identity != NULL) {
		buf_addf(&path, "%s.pub", identity);
		if (buf_read_file(&f, path.data, 65536) == 0)
			add_key_line(lines, f.data, f.len, &n);
	}
	buf_reset(&path);
	buf_addf(&path, "%s/.ssh/*.pub", vz_home_dir());
	if (glob(path.data, 0, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc; i++) {
			buf_reset(&f);
			if (buf_read_file(&f, g.gl_pathv[i], 65536) == 0)
				add_key_line(lines, f.data, f.len, &n);
		}
		globfree(&g);
	}
	buf_release(&path);
	buf_release(&f);
	return n;
}

char *
vz_ssh_known_hosts_path(const char *inventory)
{
	struct buf b = BUF_INIT;
	const char *slash = strrchr(inventory, '/');

	if (slash != NULL)
		buf_add(&b, inventory, (size_t)(slash - inventory) + 1);
	buf_adds(&b, ".vzmaster/known_hosts");
	return buf_detach(&b, NULL);
}

/*
 * ssh: the one SSH transport of vzmaster, on libssh2.  A `struct vz_ssh` is
 * one authenticated connection to one node; every command (newnode,
 * deploy, status...) talks to nodes only through it.
 *
 * Errors are graded like libarchive's, so a caller can tell "try this node
 * again later" from "this connection is gone" from "this step failed":
 *
 *   VZ_SSH_OK       done
 *   VZ_SSH_RETRY    transient, nothing happened: connect timed out, refused,
 *                   unreachable, name lookup failed temporarily
 *   VZ_SSH_AUTH     the node refused every credential we have
 *   VZ_SSH_HOSTKEY  the host key is unknown (strict mode), changed or revoked
 *   VZ_SSH_DEAD     the connection broke or a command hit its overall
 *                   timeout: the handle is unusable, connect again
 *   VZ_SSH_FAILED   this operation failed, the connection is still good
 *
 * The text of the last error is kept in the handle (vz_ssh_error()); it
 * names the node's address but not the node name, which callers prefix.
 * Library code never prints: diagnostics go to an optional log callback.
 *
 * Threads: one handle must be used by one thread at a time; different
 * handles may be used by different threads at once (libssh2 with OpenSSL 3).
 *
 * Connection reuse (like OpenSSH's ControlMaster/ControlPersist): at the
 * end of a run, vz_ssh_persist() hands the live sessions to one detached
 * holder process that listens on a unix socket per node in a 0700 folder
 * (the state folder's cm/).  A later vz_ssh_connect() with persist_dir set
 * finds the holder, checks the host key it reports against known_hosts
 * again, and runs its execs through it without any SSH handshake.  Uploads
 * (SFTP) always use a direct session: a handle served by a holder connects
 * directly when asked to upload.  Password, TOFU and replace-host-key
 * connections are never handed over.
 */
#ifndef VZ_SSH_H
#define VZ_SSH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define VZ_SSH_OK	0
#define VZ_SSH_RETRY	(-1)
#define VZ_SSH_AUTH	(-2)
#define VZ_SSH_HOSTKEY	(-3)
#define VZ_SSH_DEAD	(-4)
#define VZ_SSH_FAILED	(-5)

#define VZ_SSH_CONNECT_TIMEOUT_MS	5000
#define VZ_SSH_MAX_OUTPUT		(16u * 1024 * 1024)
#define VZ_SSH_STREAM_POLL_MS		250

enum vz_hostkey_policy {
	VZ_HOSTKEY_STRICT,	/* unknown host: refuse (every command but newnode) */
	VZ_HOSTKEY_TOFU		/* unknown host: record its key (newnode) */
};

struct vz_ssh_opts {
	const char	*name;		/* node name for logs; NULL: host */
	const char	*host;		/* address, DNS name or ~/.ssh/config alias */
	int		 port;		/* 0: ~/.ssh/config Port, else 22 */
	const char	*user;		/* NULL: config User, else local login */
	const char	*identity;	/* -k FILE: tried right after the agent */
	const char	*known_hosts;	/* .vzmaster/known_hosts; required */
	const char	*ssh_config;	/* NULL: ~/.ssh/config; "": none */
	enum vz_hostkey_policy hostkey_policy;
	int		 replace_hostkey; /* a changed key replaces the entry */
	int		 connect_timeout_ms; /* TCP + SSH handshake; 0: 5 s */
	int		 command_timeout_ms; /* per exec; 0: no overall limit */
	int		 no_pubkey;	/* skip agent and key files */
	/* Password (and keyboard-interactive with it): only newnode sets it.
	 * The handle does not copy it: it must outlive vz_ssh_connect(). */
	const char	*password;
	/* Optional debug log (level 1: -v, 2: -vv); called from the thread
	 * that uses the handle. */
	void		(*log)(void *arg, int level, const char *msg);
	void		*log_arg;
	/* Folder of holder sockets (vz_ssh_persist_dir()); NULL: always
	 * connect directly.  Ignored for password, TOFU and replace_hostkey
	 * connections. */
	const char	*persist_dir;
	/* Full path of a program on the node with a `session` verb (vzexec):
	 * commands flagged VZ_SSH_SERVICE run as requests on one session of
	 * it per connection, kept by a holder too, instead of a channel, a
	 * shell and a sudo each.  NULL: every command gets its channel. */
	const char	*service;
};

struct vz_ssh;

/* A handle for opts (copied, except password).  Never NULL. */
struct vz_ssh	*vz_ssh_new(const struct vz_ssh_opts *);
/* Resolve, connect, check the host key, authenticate.  VZ_SSH_* code. */
int		 vz_ssh_connect(struct vz_ssh *);
/* Disconnect politely if connected, and free. NULL is fine. */
void		 vz_ssh_free(struct vz_ssh *);

const char	*vz_ssh_error(const struct vz_ssh *);	/* "" when none */
const char	*vz_ssh_name(const struct vz_ssh *);	/* opts name or host */
const char	*vz_ssh_user(const struct vz_ssh *);	/* login user in use */
const char	*vz_ssh_hostname(const struct vz_ssh *);/* after ~/.ssh/config */
int		 vz_ssh_port(const struct vz_ssh *);
int		 vz_ssh_is_root(const struct vz_ssh *);

/*
 * The server's host key after connect: fingerprint "SHA256:...", label
 * "ED25519", and whether this connection recorded it for the first time
 * (TOFU) or replaced a changed one (replace_hostkey).
 */
struct vz_ssh_hostkey {
	char	fingerprint[64];
	char	label[16];
	int	recorded;
	int	replaced;
};
void	vz_ssh_hostkey_info(const struct vz_ssh *, struct vz_ssh_hostkey *);

/* Wall-clock times (seconds since the epoch) of the last connect's start
 * and end (end: authenticated, or failed). */
void	vz_ssh_connect_times(const struct vz_ssh *, double *start,
	    double *end);

/* ---- remote commands ---- */

#define VZ_SSH_NOSUDO	0x1	/* do not wrap in `sudo -n` for a non-root user */
/* argv is `SERVICE VERB ARGS...` (vz_ssh_opts.service): run it as a request
   on the node's session channel when there is one (see sshchan.c) */
#define VZ_SSH_SERVICE	0x2

struct vz_ssh_cmd {
	/* in */
	const char *const *argv;	/* quoted by shquote; NULL-terminated */
	const void	*in;		/* stdin data, then EOF; NULL: none */
	size_t		 inlen;
	size_t		 max_output;	/* per stream; 0: VZ_SSH_MAX_OUTPUT */
	int		 timeout_ms;	/* 0: the handle's command timeout */
	int		 flags;
	/* Optional: called as stdin is sent (about every 64 KiB and once at
	 * the end with done == total), directly or through a holder. */
	void		(*progress)(void *arg, uint64_t done, uint64_t total);
	void		*progress_arg;
	/*
	 * Streaming (logs -f), when on_output is set: stdout goes to it as
	 * it comes, not to out; stdin stays open, so the command sees its
	 * end only when the channel closes; no overall timeout.  The command
	 * ends when it exits, or when *stop (if set; looked at at least
	 * every VZ_SSH_STREAM_POLL_MS) becomes non-zero: the channel is then
	 * closed and the result is VZ_SSH_OK with status -1 and no signal.
	 * It always runs on a channel of a direct connection: a handle
	 * served by a holder connects directly first.
	 */
	void		(*on_output)(void *arg, const char *data, size_t len);
	void		*output_arg;
	const volatile sig_atomic_t *stop;
	/* out: valid when vz_ssh_exec returned VZ_SSH_OK */
	struct buf	 out;
	struct buf	 err;
	int		 status;	/* exit status; -1 when killed by a signal */
	char		 signal[32];	/* "KILL" etc. when killed, else "" */
};

void	vz_ssh_cmd_init(struct vz_ssh_cmd *, const char *const *argv);
void	vz_ssh_cmd_release(struct vz_ssh_cmd *);

/*
 * Run argv on the node (through `sudo -n --` when the login user is not
 * root, unless VZ_SSH_NOSUDO).  VZ_SSH_OK means it ran, whatever its exit
 * status; output beyond max_output is VZ_SSH_FAILED; hitting the timeout
 * is VZ_SSH_DEAD (the session may still be busy with the command).
 */
int	vz_ssh_exec(struct vz_ssh *, struct vz_ssh_cmd *);

/*
 * vz_ssh_exec in two steps, for a command whose stdin (c->in, c->inlen)
 * is known now but is to be sent later: over a held connection,
 * vz_ssh_exec_start has the holder open the channel and start the command
 * at once (it then waits for its stdin on the node), so that
 * vz_ssh_exec_finish, which sends the stdin and collects the result, only
 * costs the command itself.  On a direct connection start does nothing
 * and finish is vz_ssh_exec.  c stays the caller's in between, and
 * nothing else may use the handle until finish.  Results as vz_ssh_exec.
 */
int	vz_ssh_exec_start(struct vz_ssh *, struct vz_ssh_cmd *);
int	vz_ssh_exec_finish(struct vz_ssh *, struct vz_ssh_cmd *);

/*
 * Shorthand: run argv, want exit status 0.  stdout is appended to out
 * (may be NULL).  A non-zero exit is VZ_SSH_FAILED with "'ARGV0' exited
 * with status N: FIRST LINE OF STDERR" as the error.
 */
int	vz_ssh_run(struct vz_ssh *, const char *const *argv, const char *in,
	    struct buf *out);

/* ---- SFTP upload ---- */

/* Return non-zero to abort the transfer (it then fails with VZ_SSH_FAILED
 * and "upload interrupted", leaving the .part file for a later resume). */
typedef int (*vz_ssh_progress_fn)(void *arg, uint64_t done, uint64_t total);

#define VZ_SSH_UPLOAD_RESTART	0x1	/* never resume a .part */

struct vz_ssh_upload {
	const char	*local;		/* file to send */
	const char	*remote;	/* final absolute path on the node */
	int		 mode;		/* permissions of the result, e.g. 0755 */
	int		 flags;
	vz_ssh_progress_fn progress;	/* optional */
	void		*progress_arg;
	uint64_t	 resumed_from;	/* out: bytes kept from a .part */
	uint64_t	 size;		/* out: file size */
};

/*
 * Upload by SFTP (as the login user: sudo does not apply) to
 * DIR/.NAME.part, fsync it (fsync@openssh.com when offered), set mode, and
 * rename it over DIR/NAME (SFTP rename; when the server refuses to replace
 * an existing file, `mv -f`, which is rename(2) on the same file system).
 * The final name therefore only ever holds a complete file.
 *
 * Resume: when DIR/.NAME.part exists and is not longer than the local
 * file, the sha256 of that many leading bytes is computed on the node
 * (`head -c N | sha256sum`) and compared with the local prefix; if equal
 * the upload continues from there, otherwise (or if the node cannot
 * compute it) it restarts from byte 0.
 */
int	vz_ssh_upload(struct vz_ssh *, struct vz_ssh_upload *);

/*
 * The public keys the user logs in with, as authorized_keys lines
 * ("TYPE BASE64 COMMENT\n"): the ssh-agent's identities when it has any,
 * else identity.pub (when identity is given) and every .pub file in ~/.ssh.
 * Returns the number of keys (0: none found).
 */
int	vz_ssh_public_keys(const char *identity, struct buf *lines);

/*
 * The known_hosts file of the state folder next to the inventory:
 * "DIR/.vzmaster/known_hosts" for "DIR/hosts.ini", ".vzmaster/known_hosts"
 * for "hosts.ini".  Caller must free.
 */
char	*vz_ssh_known_hosts_path(const char *inventory_path);

/* Parse "--connect-timeout" values: seconds, fractions allowed ("2.5").
 * Returns milliseconds, or -1 when not a number in (0, 3600]. */
int	vz_ssh_parse_timeout(const char *);

/* ---- connection reuse ---- */

#define VZ_SSH_PERSIST_DEFAULT	90	/* s: cron runs every 60 s, plus slack */
#define VZ_SSH_PERSIST_MAX	86400

/*
 * Hand the live, directly connected sessions among handles[0..n) to one
 * new detached holder process (setsid, stdio on /dev/null, SIGHUP and
 * SIGPIPE ignored, cwd /) serving them on DIR/<user>@<host>:<port>-<hash>
 * (or DIR/<hash>.sock when that is too long for a unix socket).  Call it
 * single-threaded, before vz_ssh_free(): in this process the free then
 * only drops the local copy, without SSH_MSG_DISCONNECT.  A node's socket
 * goes away when its session has had no client for `seconds` (each request
 * and each connected client renews it) or when the session dies; the
 * holder exits when it serves no node any more.
 *
 * Skipped, and freed as usual: NULL, dead, not connected, served by a
 * holder already, password/TOFU/replace_hostkey handles, and nodes whose
 * socket has a live holder already.  DIR is created 0700 if missing, and
 * refused unless it is a directory owned by us with no group/other access.
 * Returns the number of sessions handed over (0 when seconds <= 0), or -1
 * with err set (the handles are then untouched).
 */
int	vz_ssh_persist(struct vz_ssh **handles, size_t n, const char *dir,
	    int seconds, char *err, size_t errlen);

/* STATE_DIR/cm: the holder sockets of one cluster.  Caller must free. */
char	*vz_ssh_persist_dir(const char *state_dir);

/* "0" (off), "90", "90s", "10m", "1h": seconds in [0, 86400].  0, or -1
 * with err set. */
int	vz_ssh_parse_persist(const char *text, int *seconds, char *err,
	    size_t errlen);

/* $VZMASTER_PERSIST when valid, else VZ_SSH_PERSIST_DEFAULT. */
int	vz_ssh_persist_default(void);

/* Whether h runs its commands through a holder (after connect). */
int	vz_ssh_is_muxed(const struct vz_ssh *h);

/* Wall clock in seconds (CLOCK_REALTIME) for logs and JSON timestamps. */
double	vz_ssh_now(void);

#endif

/*
 * ssh-int: what ssh.c (connections, SFTP), sshchan.c (remote commands)
 * and sshmux.c (holder process and its clients) share.  Not for any other
 * file.
 */
#ifndef VZ_SSH_INT_H
#define VZ_SSH_INT_H

#include <stdint.h>

#include <libssh2.h>
#include <libssh2_sftp.h>

#include "ssh.h"

#define IO_TIMEOUT_MS		60000	/* one blocking SFTP step without progress */
#define KEEPALIVE_S		5

struct vz_ssh {
	char		*name;
	char		*host;		/* as given */
	char		*hostname;	/* after ~/.ssh/config */
	char		*user;
	int		 port;
	char		*known_hosts;
	char		**identities;	/* key files to try, in order */
	size_t		 nidentities;
	enum vz_hostkey_policy policy;
	int		 replace_hostkey;
	int		 connect_timeout_ms;
	int		 command_timeout_ms;
	int		 no_pubkey;
	const char	*password;
	void		(*log)(void *, int, const char *);
	void		*log_arg;
	char		*persist_dir;

	int		 fd;
	LIBSSH2_SESSION	*session;
	LIBSSH2_SFTP	*sftp;
	int		 connected;
	int		 dead;
	struct vz_ssh_hostkey hk;
	double		 t_start, t_end;
	char		 err[1024];

	char		*service;	/* opts service: its verbs' program */
	LIBSSH2_CHANNEL	*svc;		/* its open `session`, or NULL */
	int64_t		 svc_refused_at; /* when a node had none; 0 */

	int		 mux_fd;	/* to a holder; -1: direct (or none) */
	int		 mux_pending;	/* a request started, its stdin not sent */
	int		 mux_timeout;	/* of that request, ms */
	int64_t		 mux_deadline;
	int		 persist_ok;	/* direct session a holder may take */
	int		 handed_over;	/* a holder took it: free silently */
};

int64_t		 mono_ms(void);
void		 seterr(struct vz_ssh *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 logf_(struct vz_ssh *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
const char	*lasterr(struct vz_ssh *);
int		 session_broken(int);
int		 mark_dead(struct vz_ssh *, const char *);
void		 disconnect(struct vz_ssh *);
int		 direct_connect(struct vz_ssh *);
int		 check_hostkey_blob(struct vz_ssh *, const unsigned char *,
		    size_t);
void		 exec_cmdline(struct vz_ssh *, const struct vz_ssh_cmd *,
		    struct buf *);
int		 drain_fd(int fd, uint64_t left, int64_t deadline);
int		 exec_timeout(struct vz_ssh *, const struct vz_ssh_cmd *);
/*
 * Run cmdline on h's own session.  stdin is c->in, or, when infd != -1,
 * c->inlen bytes read from infd (all of them are read even when the
 * command does not want them).  *opened says whether a channel was open,
 * i.e. whether the command may have run.  VZ_SSH_* as vz_ssh_exec(), or
 * EXEC_CLIENT_LOST when infd broke (the holder then drops that client).
 */
#define EXEC_CLIENT_LOST	(-100)
int		 exec_session(struct vz_ssh *, struct vz_ssh_cmd *,
		    const char *cmdline, int timeout, int infd, int *opened);
/*
 * Run c through the session channel when it is a verb of the service
 * program and the node has a session, else as exec_session (cmdline NULL:
 * built from c's argv).  Results as exec_session.
 */
int		 run_command(struct vz_ssh *, struct vz_ssh_cmd *,
		    const char *cmdline, int timeout, int infd, int *opened);

/* sshmux.c */
int		 persist_allowed(const struct vz_ssh *);
int		 mux_connect(struct vz_ssh *);	/* 0: served by a holder */
int		 mux_exec(struct vz_ssh *, struct vz_ssh_cmd *);
int		 mux_exec_start(struct vz_ssh *, struct vz_ssh_cmd *);
int		 mux_exec_finish(struct vz_ssh *, struct vz_ssh_cmd *);

#endif

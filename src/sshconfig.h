/*
 * sshconfig: the few ~/.ssh/config keywords users expect vzmaster to honour
 * for a host alias: HostName, User, Port and IdentityFile.  Host blocks
 * with patterns (* ? and !negation) are matched like OpenSSH does, and the
 * first value obtained for a keyword wins (IdentityFile accumulates).
 * Match and Include blocks, and every other keyword, are ignored.
 */
#ifndef VZ_SSHCONFIG_H
#define VZ_SSHCONFIG_H

#include <stddef.h>

struct ssh_config_host {
	char	*hostname;	/* NULL: not set (%h expanded) */
	char	*user;		/* NULL: not set */
	int	 port;		/* 0: not set */
	char	**identity;	/* IdentityFile values, ~ and %d %u %h expanded */
	size_t	 nidentity;
};

/*
 * Fill *out with what path says for host.  A missing file is not an error.
 * Returns 0, or -1 with err set ("FILE:LINE: ...") on a bad value.
 * Caller must ssh_config_host_release(out).
 */
int	ssh_config_lookup(const char *path, const char *host,
	    struct ssh_config_host *out, char *err, size_t errlen);
void	ssh_config_host_release(struct ssh_config_host *);

/* The default ~/.ssh/config ($HOME first, then the password database). */
char	*ssh_config_default_path(void);	/* caller must free */
/* $HOME, else the password database's home, else "/". */
const char *vz_home_dir(void);

#endif

/*
 * child: run a node tool (nft, iptables, journalctl, logread) with fork,
 * execve and a pipe, for the node code that must need nothing but libc
 * (firewall.c, nodelogs.c).  Built into libvz.a and the static vzexec.
 */
#ifndef VZ_CHILD_H
#define VZ_CHILD_H

#include <stddef.h>
#include <sys/types.h>

/* The first of dirs (NULL-terminated) holding an executable name, as a
   path in out; NULL when none does. */
const char	*vz_find_bin(const char *const *dirs, const char *name,
		     char *out, size_t outlen);
/* Start argv (argv[0] a full path) with its stdout, and its stderr too
   when with_stderr, on a pipe whose read end goes to *fdp (close-on-exec);
   stdin and an unwanted stderr are /dev/null.  The pid, or -1. */
pid_t		 vz_child_start(char *const *argv, int with_stderr, int *fdp);
/* Reap pid: its exit status, or -1 (killed by a signal, or an error). */
int		 vz_child_wait(pid_t pid);

#endif

/*
 * cluster: what every node-facing command (deploy, status, kill, logs)
 * shares.  Loads the configuration (errors printed once, exit 2), knows
 * where the state folder is, selects nodes with -l, and probes them all in
 * parallel: one SSH connection per node, kept open for the command's later
 * work, and one `vzexec status` whose answer is parsed into nodestate.
 */
#ifndef VZ_CLUSTER_H
#define VZ_CLUSTER_H

#include <signal.h>
#include <stdint.h>

#include "buf.h"
#include "cmd.h"
#include "diag.h"
#include "inventory.h"
#include "nodestate.h"
#include "pod.h"
#include "ssh.h"

/* Where vzexec lives on a node (newnode installs it there). */
#define VZEXEC_NODE_PATH	"/usr/local/sbin/vzexec"
#define VZ_NODE_ROOT		"/var/lib/vz"
/* A probe through a held connection: connect timeout + this for status. */
#define PROBE_MUX_EXTRA_MS	5000
/* The oldest node vzexec that speaks what deploy sends (spec-put --wait,
   image-import --stdin); older nodes are upgraded by re-running newnode.
   0.2.0 ignores a spec's imageConfig and uses the config.json of the
   image id, as every version before did: not refused for that alone. */
#define VZEXEC_NODE_MIN_VERSION	"0.2.0"

struct cnode {
	const struct inv_host	*host;
	struct vz_ssh		*ssh;		/* open after a good probe */
	int			 reachable;	/* answered with a status */
	int			 ssh_rc;	/* VZ_SSH_* of the failure */
	char			 err[1024];	/* why not reachable */
	char			 lost[512];	/* why the connection went */
	struct node_state	 st;
	double			 t_connect_start, t_connect_end;
};

struct cluster {
	struct vz_ctx		*ctx;
	struct inventory	*inv;
	struct pod_set		 pods;
	char			*state_dir;	/* .vzmaster next to inventory */
	char			*known_hosts;
	const char		*identity;	/* -k FILE or NULL */
	int			 connect_timeout_ms;
	int			 persist_s;	/* hand sessions to a holder */
	char			*persist_dir;	/* state_dir/cm; NULL: off */
	struct cnode		*nodes;		/* the selected nodes */
	size_t			 nnodes;
};

#define CLUSTER_NEED_PODS	0x1

/*
 * Load the inventory (and the pods with CLUSTER_NEED_PODS), printing every
 * diagnostic.  Returns VZ_EXIT_OK or VZ_EXIT_USAGE (configuration error).
 */
int	 cluster_load(struct cluster *, struct vz_ctx *, int flags);
/* Select the nodes matching limit (NULL: all).  VZ_EXIT_* code. */
int	 cluster_select(struct cluster *, const char *limit);
/* Connect to every selected node and read its status, in parallel. */
void	 cluster_probe(struct cluster *);
void	 cluster_release(struct cluster *);

struct cnode *cluster_node(struct cluster *, const char *name);

/*
 * Run `vzexec VERB ARGS...` on the node (through sudo when needed), with
 * optional stdin.  Returns 0 when it exited 0; else -1 with err holding
 * "NODE: vzexec VERB: <first line of its stderr or the SSH error>" and
 * *status the exit status (-1 when it did not run).
 */
int	 cnode_vzexec(struct cnode *, const char *const *args, const char *in,
	     size_t inlen, struct buf *out, int *status, char *err,
	     size_t errlen);
/* The same with its own time limit in ms (0: the connection's). */
int	 cnode_vzexec_timed(struct cnode *, const char *const *args,
	     const char *in, size_t inlen, struct buf *out, int *status,
	     int timeout_ms, char *err, size_t errlen);
/* The same, calling fed(fed_arg, done, total) as stdin is written (a
   progress bar for a large stdin). */
int	 cnode_vzexec_fed(struct cnode *, const char *const *args,
	     const char *in, size_t inlen, struct buf *out, int *status,
	     int timeout_ms, void (*fed)(void *, uint64_t, uint64_t),
	     void *fed_arg, char *err, size_t errlen);
/*
 * cnode_vzexec_timed in two steps (vz_ssh_exec_start/finish): start has the
 * node run the command now, finish sends its stdin (given to start) and
 * collects the result.  args and in must live until finish; every started
 * x must be finished, and nothing else may run on the node in between.
 */
struct cnode_exec {
	const char		*argv[32];
	struct vz_ssh_cmd	 cmd;
};
int	 cnode_vzexec_start(struct cnode *, struct cnode_exec *x,
	     const char *const *args, const char *in, size_t inlen,
	     int timeout_ms, char *err, size_t errlen);
int	 cnode_vzexec_finish(struct cnode *, struct cnode_exec *x,
	     struct buf *out, int *status, char *err, size_t errlen);
/* "NODE: not connected[: why it was lost]" into err. */
void	 cnode_not_connected(const struct cnode *, char *err, size_t errlen);
/*
 * Whether the node's vzexec is older than min: 1 with err saying so and
 * how to upgrade (`newnode` again), "... which WHO needs".
 */
int	 cnode_too_old(const struct cnode *, const char *min, const char *who,
	     char *err, size_t errlen);
/*
 * Run `vzexec VERB ARGS...` streaming its stdout to on_output until it
 * exits or *stop is set (vz_ssh_cmd.on_output), on a direct connection.
 * 0 when it exited 0 or was stopped; else -1 with err as cnode_vzexec.
 */
int	 cnode_vzexec_stream(struct cnode *, const char *const *args,
	     void (*on_output)(void *, const char *, size_t), void *arg,
	     const volatile sig_atomic_t *stop, char *err, size_t errlen);
/* Re-read the node's status into n->st.  0 or -1 with err. */
int	 cnode_refresh(struct cnode *, char *err, size_t errlen);
/* The same within timeout_ms (0: the connection's command timeout). */
int	 cnode_refresh_timed(struct cnode *, int timeout_ms, char *err,
	     size_t errlen);
/* Make text (a `vzexec status` output) n->st.  0 or -1 with err. */
int	 cnode_take_status(struct cnode *, const char *text, size_t len,
	     char *err, size_t errlen);

/* "--connect-timeout S" and "-k FILE" are parsed by several commands. */
#define CLUSTER_OPT_CONNECT_TIMEOUT	0x1101

#endif

/*
 * vzexec.h: the internal interfaces of the static node binary.  One header
 * for the modules of vzexec (spec, container, cgroup, caps, vzlog, probe,
 * supervise, nodeinfo, status): they are built only with musl, into one
 * program, and never linked into vzmaster.
 */
#ifndef VZ_VZEXEC_H
#define VZ_VZEXEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "json.h"
#include "names.h"

struct buf;

#define VZEXEC_VERSION		"0.7.0"
#define VZ_DEFAULT_ROOT		"/var/lib/vz"
/* A pod instance name: a label, or a label + ".next" (the new version
 * of a pod started beside the old one during a side-by-side update). */
#define VZ_NEXT_SUFFIX		".next"
#define VZ_NAME_MAX		(VZ_LABEL_MAX + 5)
#define VZ_SPEC_MAX		(1024 * 1024)
/* A spec's imageConfig: items of Entrypoint, Cmd and Env each, and the
   bytes of User (container.c resolves it in a 128-byte buffer). */
#define VZ_IMGCFG_ITEMS_MAX	4096
#define VZ_IMGCFG_USER_MAX	127

/* Exit codes of every verb; the last two only of the waiting ones. */
#define EXIT_DONE	0
#define EXIT_FAIL	1
#define EXIT_USAGE	2
#define EXIT_TIMEOUT	4	/* not ready (or not gone) in time */
#define EXIT_REFUSED	5	/* spec refused, or the pod crash-loops */

/* Options shared by the verbs. */
struct vzopts {
	const char	*root;
	const char	*syslog_path;	/* NULL: $VZEXEC_SYSLOG or /dev/log */
	int		 backoff_base_ms;
	int		 foreground_pod; /* `run`: stop when the pod is done */
	int		 wait_s;	/* --wait / --timeout seconds; -1 none */
	int		 gone;		/* wait --gone */
	char *const	*argv;		/* main's: supervise re-executes it */
};

/* ---- spec.c: pods/<pod>.json ---- */

enum restart_policy { RP_ALWAYS, RP_ONFAILURE, RP_NEVER };

enum ctr_state {
	CS_WAITING,	/* not started yet */
	CS_RUNNING,
	CS_BACKOFF,	/* exited or failed to start, restart pending */
	CS_STOPPING,	/* SIGTERM sent, SIGKILL at kill_at */
	CS_STOPPED,	/* exited, not to be restarted */
	CS_FAILED	/* cannot be started until the spec changes */
};

/* One line of a container's output being assembled. */
#define VZ_LINE_MAX	512
struct linebuf {
	int	 fd;
	size_t	 len;
	char	 data[VZ_LINE_MAX];
};

struct vz_pod;

struct vz_ctr {
	struct vz_pod		*pod;
	const struct json_value	*spec;
	char			 name[VZ_NAME_MAX + 1];
	enum ctr_state		 state;
	char			 reason[96];
	pid_t			 pid;
	unsigned long long	 starttime;	/* /proc/PID/stat field 22 */
	time_t			 started_at;
	int64_t			 started_ms;
	int			 restarts;
	int			 attempts;	/* starts tried by this supervisor */
	int			 last_exit;	/* -1: none yet */
	int			 backoff_ms;
	int64_t			 timer_ms;	/* restart or SIGKILL time */
	int			 pidfd;		/* adopted: exit notification */
	int			 adopted;
	int			 restart_after_stop;
	int			 ready;
	int64_t			 oom_base;
	pid_t			 probe_pid;
	int			 probe_live;	/* probe_pid is a liveness one */
	int			 live_fail;
	int			 ready_fail;
	int64_t			 probe_ms;	/* next readiness probe */
	int			 probe_gap_ms;	/* until the first success; 0 after */
	int64_t			 live_ms;	/* next liveness probe */
	struct linebuf		 out;
	struct linebuf		 err;
};

struct vz_pod {
	struct vz_pod		*next;
	char			 name[VZ_NAME_MAX + 1];
	char			 hash[80];
	uint64_t		 fp;		/* FNV-1a of the file bytes */
	enum restart_policy	 policy;
	int			 grace;		/* seconds */
	struct json_value	*doc;
	size_t			 nctr;
	struct vz_ctr		*ctr;
	int			 removing;	/* stop, then free */
	int			 seen;		/* still in pods/ at reload */
	struct vz_pod		*successor;	/* changed: start when stopped */
};

/*
 * Load and validate one spec file.  The file must be a regular file owned
 * by root and not writable by group or others.  On success *out is a new
 * pod (caller frees with spec_free) whose containers are allocated but
 * zeroed beyond their name and spec.  Returns -1 with err set otherwise.
 */
int	 spec_load(const char *path, const char *expect_name,
	    struct vz_pod **out, char *err, size_t errlen);
void	 spec_free(struct vz_pod *);
int	 spec_name_ok(const char *);
int	 spec_pod_name_ok(const char *);
int	 spec_image_ok(const char *);
uint64_t spec_fnv(const void *, size_t, uint64_t);

/* ---- caps.c ---- */

int	 caps_last_cap(void);
/* Default set minus drop plus add; -1 and err on an unknown name. */
int	 caps_compute(const struct json_value *cspec, uint64_t *out,
	    char *err, size_t errlen);
/* In the container's child: trim the bounding set, set the sets. */
int	 caps_bound(uint64_t keep);
int	 caps_set(uint64_t eff);

/* ---- cgroup.c ---- */

enum cg_mode { CG_NONE, CG_V1, CG_V2 };

struct cg_info {
	enum cg_mode	 mode;
	char		 mem[256];	/* v1 memory or v2 base directory */
	char		 pids[256];	/* v1 pids directory ("" if none) */
};

int	 cgroup_detect(struct cg_info *, const char *root, int setup);
/* Create (fresh) the cgroup of one container and write its limits. */
int	 cgroup_prepare(const struct cg_info *, const char *pod,
	    const char *ctr, int64_t mem, int64_t pids, char *err,
	    size_t errlen);
/* Move the calling process in: used by the container child. */
int	 cgroup_enter(const struct cg_info *, const char *pod, const char *ctr);
int	 cgroup_attach(const struct cg_info *, const char *pod,
	    const char *ctr, pid_t);
int64_t	 cgroup_memory(const struct cg_info *, const char *pod,
	    const char *ctr);
int64_t	 cgroup_oom_count(const struct cg_info *, const char *pod,
	    const char *ctr);
void	 cgroup_remove(const struct cg_info *, const char *pod,
	    const char *ctr);
const char *cgroup_mode_name(const struct cg_info *);
int	 cgroup_save(const struct cg_info *, const char *root);
int	 cgroup_load(struct cg_info *, const char *root);

/* ---- vzlog.c ---- */

extern int vzlog_echo;
void	 vzlog_init(const char *root, const char *sockpath);
/* One line, tag "vz/POD/CTR" (or "vzexec" when pod is NULL). */
void	 vzlog_line(const char *pod, const char *ctr, int err,
	    const char *msg, size_t len);
void	 vzlog(int err, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* ---- container.c ---- */

struct launch {
	const char		*root;
	const struct cg_info	*cg;
	const char		*pod;
	const char		*ctr;
	const struct json_value	*poddoc;
	const struct json_value	*cspec;
	int			 nofifo;	/* keep stdout/stderr (bench) */
};

/*
 * Start one container.  Returns its pid once its entrypoint has been
 * exec'd inside its namespaces, or -1 with a short reason in err
 * ("image not present", "executable not found", ...); the failed child
 * is already reaped then.
 */
pid_t	 container_launch(const struct launch *, char *err, size_t errlen);
void	 container_reaped(const char *root, const char *pod, const char *ctr);
int	 ctr_dir(char *, size_t, const char *root, const char *pod,
	    const char *ctr, const char *leaf);
int	 mkdir_p(const char *, mode_t);
int	 rm_rf(const char *);
unsigned long long proc_starttime(pid_t);

/* ---- probe.c ---- */

/* Fork a child that runs one probe and exits 0 when it passes. */
pid_t	 probe_start(const struct json_value *probe, pid_t ctrpid);

/* ---- supervise.c / status.c / nodeinfo.c ---- */

int	 supervise_main(const struct vzopts *, const char *onespec);
/* specput.c: spec-put (spec on stdin) and spec-rm; exit codes. */
int	 specput_put(const struct vzopts *, const char *pod);
int	 specput_rm(const struct vzopts *, const char *pod);
int	 status_main(const struct vzopts *);
/* The whole `vzexec status` JSON on stdout; EXIT_FAIL if it cannot. */
int	 status_print(const char *root);
/* A JSON array with status's entry for pod (empty if it has none). */
void	 status_pod_json(const char *root, const char *pod, struct buf *out);
/*
 * podwait.c: wait until pod runs hash and every container is running and
 * ready (hash NULL: until the pod is gone from status, stopping copy
 * included), at most timeout_s seconds.  Prints the status JSON on
 * stdout and, unless ready, the reason as the first line of stderr.
 * Returns EXIT_DONE, EXIT_TIMEOUT, EXIT_REFUSED or EXIT_FAIL.
 */
int	 podwait(const char *root, const char *pod, const char *hash,
	    int timeout_s);
/* The same message and output for a spec refused before it was saved. */
int	 podwait_refused(const char *root, const char *pod, const char *why);
/*
 * firewall.c: make the node's active firewalls (nftables input chains with
 * policy drop, iptables/ip6tables INPUT with policy DROP) accept exactly
 * the pod's hostPorts, in rules tagged "vz:POD"; spec NULL: the pod is
 * gone, remove them.  No active firewall: 0, nothing changed.
 */
int	 firewall_sync(const char *pod, const struct json_value *spec,
	    char *err, size_t errlen);
/* firewall_sync, noting a failure in ROOT/run/firewall/POD.error. */
int	 firewall_sync_root(const char *root, const char *pod,
	    const struct json_value *spec, char *err, size_t errlen);
/* 1 when the last sync of POD failed (or may have): do not skip one. */
int	 firewall_failed(const char *root, const char *pod);
/*
 * 1 when specs a and b (NULL: no spec) want the same set of hostPorts
 * (port and protocol); 0 when not, or when either has a bad one.
 */
int	 firewall_same_ports(const struct json_value *a,
	    const struct json_value *b);
/* Hidden verb `firewall [--root DIR] POD`: sync from ROOT/pods/POD.json. */
int	 firewall_main(const struct vzopts *, const char *pod);

/* ---- session.c: `vzexec session`, verbs framed over one channel ---- */

/* self: the full path vzexec was run by (each verb is exec'd from it). */
int	 session_main(const char *self);
void	 nodeinfo_write(struct json_writer *, const char *root);
int	 supervisor_pid(const char *root);
int64_t	 now_ms(void);

#endif

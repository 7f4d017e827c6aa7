/*
 * pod: the pod manifest model.  Reads Kubernetes-style YAML manifests
 * (kind Pod, apiVersion v1; kind Deployment, apiVersion apps/v1), checks
 * them field by field and resolves them into struct pod, the one model the
 * rest of vzmaster plans and deploys from.  The accepted subset is
 * documented in vzmaster-pods(5).  Every problem goes into a struct diags
 * as FILE:LINE:COLUMN: error: FIELD.PATH: message; unknown fields are
 * warnings (so Kubernetes manifests load), wrong types and values errors.
 *
 * Conventions of the model: strings are NUL-terminated and owned by the
 * pod_set; an absent optional string is NULL; an unset number is -1 unless
 * said otherwise; Kubernetes defaults are applied (so a consumer never has
 * to know them).
 */
#ifndef VZ_POD_H
#define VZ_POD_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "quantity.h"

struct json_writer;

/* A key: value pair of labels, annotations, nodeSelector. */
struct kv {
	char	*key;
	char	*value;
};

struct kvlist {
	struct kv	*v;
	size_t		 n;
};

/* A list of strings (capabilities). */
struct strlist {
	char	**v;
	size_t	  n;
};

enum image_transport {
	IMAGE_OCI,		/* oci:DIR[:TAG]          OCI image layout */
	IMAGE_OCI_ARCHIVE,	/* oci-archive:FILE[:TAG] tar of a layout */
	IMAGE_DOCKER_ARCHIVE,	/* docker-archive:FILE    docker save output */
	IMAGE_DIR		/* dir:ROOTFS             plain rootfs folder */
};

struct image_ref {
	enum image_transport	 transport;
	char			*path;	/* absolute, symlinks resolved; it
					   existed (with the right file type)
					   when the manifest was loaded */
	char			*tag;	/* oci/oci-archive tag or NULL */
	char			*text;	/* the image: value as written */
	int			 line, col;	/* of the image: value */
};

struct env_var {
	char	*name;
	char	*value;		/* "" when the manifest has no value */
};

enum port_protocol { PROTO_TCP, PROTO_UDP };

struct container_port {
	char			*name;		/* NULL when unnamed */
	int			 container_port;/* 1..65535 */
	int			 host_port;	/* 1..65535, 0 when not set */
	enum port_protocol	 protocol;	/* default TCP */
	int			 line, col;
};

struct volume_mount {
	char	*name;		/* a volume of the pod (checked) */
	char	*mount_path;	/* absolute */
	int	 read_only;
	int	 line, col;
};

enum probe_kind { PROBE_NONE, PROBE_EXEC, PROBE_HTTP, PROBE_TCP };

struct probe {
	enum probe_kind	  kind;		/* PROBE_NONE: no probe declared */
	char		**exec;		/* PROBE_EXEC: argv, NULL-terminated,
					   at least one element */
	char		 *http_path;	/* PROBE_HTTP: default "/" */
	char		 *http_host;	/* PROBE_HTTP: NULL = the pod's IP
					   (for us: 127.0.0.1 on the node) */
	char		 *http_scheme;	/* PROBE_HTTP: "HTTP" or "HTTPS" */
	int		  port;		/* PROBE_HTTP, PROBE_TCP: 1..65535,
					   named ports already resolved */
	char		 *port_name;	/* the port's name when written by
					   name, else NULL */
	int		  initial_delay_seconds;	/* default 0 */
	int		  period_seconds;		/* default 10 */
	int		  timeout_seconds;		/* default 1 */
	int		  failure_threshold;		/* default 3 */
	int		  success_threshold;		/* default 1 */
	int		  line, col;
};

struct container {
	char			 *name;		/* DNS-1123 label, unique in
						   the pod */
	struct image_ref	  image;
	char			**command;	/* NULL-terminated; NULL when
						   absent, { NULL } when
						   written as []: kept apart
						   for --json, but Kubernetes
						   runs the image Entrypoint
						   for both */
	char			**args;		/* same rules (image Cmd; not
						   used when command is set) */
	struct env_var		 *env;
	size_t			  n_env;
	char			 *working_dir;	/* NULL when absent */
	struct container_port	 *ports;
	size_t			  n_ports;
	int64_t			  mem_request;	/* bytes, -1 unset */
	int64_t			  mem_limit;	/* bytes, -1 unset */
	int64_t			  cpu_request;	/* millicores, -1 unset */
	int64_t			  cpu_limit;	/* millicores, -1 unset */
	/* securityContext */
	int64_t			  run_as_user;	/* -1 unset */
	int64_t			  run_as_group;	/* -1 unset */
	int			  run_as_non_root;	/* 0/1 */
	int			  read_only_root_fs;	/* 0/1 */
	struct strlist		  cap_add;	/* upper case, no CAP_ prefix;
						   "ALL" allowed */
	struct strlist		  cap_drop;
	struct volume_mount	 *mounts;
	size_t			  n_mounts;
	struct probe		  liveness;
	struct probe		  readiness;
	int			  line, col;	/* the container's mapping */
};

enum volume_kind { VOLUME_HOST_PATH, VOLUME_EMPTY_DIR };

struct volume {
	char			*name;		/* DNS-1123 label */
	enum volume_kind	 kind;
	char			*host_path;	/* VOLUME_HOST_PATH: absolute
						   path on the node */
	char			*host_path_type;/* "" (no check) or the k8s
						   type: Directory,
						   DirectoryOrCreate, File,
						   FileOrCreate, Socket,
						   CharDevice, BlockDevice */
	char			*medium;	/* VOLUME_EMPTY_DIR: "" or
						   "Memory" */
	int64_t			 size_limit;	/* VOLUME_EMPTY_DIR: bytes, -1
						   unset */
	int			 line, col;
};

enum restart_policy { RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER };

struct pod {
	char			*name;		/* metadata.name: DNS-1123
						   label, unique in the set */
	const char		*kind;		/* "Pod" or "Deployment"
						   (static string) */
	int			 replicas;	/* 1 for a Pod; >= 0 */
	int			 max_unavailable; /* replicas a rolling update
						   takes down at once, >= 1 */
	int			 max_unavailable_pct; /* parsing: percent + 1 */
	char			*file;		/* manifest path as given */
	int			 line, col;	/* the document's top mapping */
	struct kvlist		 labels;	/* Pod: metadata.labels;
						   Deployment: the template's */
	struct kvlist		 annotations;	/* likewise */
	struct kvlist		 selector;	/* Deployment:
						   selector.matchLabels */
	struct container	*containers;	/* at least one */
	size_t			 n_containers;
	struct volume		*volumes;
	size_t			 n_volumes;
	enum restart_policy	 restart_policy;	/* default Always */
	int64_t			 termination_grace_seconds; /* default 30 */
	struct kvlist		 node_selector;
	int			 host_network;	/* as written; the node always
						   uses the host network */
};

struct pod_set {
	struct pod	*pods;
	size_t		 n;
};

/*
 * Load path: one manifest file, or a directory whose *.yaml and *.yml files
 * (not hidden, not recursive) are read in sorted name order.  Pods that
 * are fully valid are stored in out in file order, including when other
 * documents have errors.  Returns 0 when d holds no errors, else -1; out is
 * always valid to release.
 */
int		 pod_load(const char *path, struct pod_set *out,
		     struct diags *d);
void		 pod_set_release(struct pod_set *);
const struct pod *pod_find(const struct pod_set *, const char *name);

/* The full resolved model of one pod as one JSON object. */
void		 pod_write_json(struct json_writer *, const struct pod *);

const char	*image_transport_name(enum image_transport);
const char	*restart_policy_name(enum restart_policy);
const char	*probe_kind_name(enum probe_kind);

#endif

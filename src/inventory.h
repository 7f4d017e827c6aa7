/*
 * inventory: the Ansible INI inventory (hosts.ini), read exactly the way
 * `ansible-inventory -i FILE --list` reads it (ansible-core 2.14): groups,
 * :vars and :children sections, ranges, host[:port], Python-literal
 * values, Ansible's variable precedence; host patterns for -l/--limit;
 * the --list JSON shape; and the one edit vzmaster makes to the file
 * (newnode adds a host, keeping every other byte).
 *
 * Errors in the file go into struct diags as FILE:LINE:COL.  Where
 * ansible-inventory would crash on a value (a set, a complex number) we
 * report an error instead.
 */
#ifndef VZ_INVENTORY_H
#define VZ_INVENTORY_H

#include <stddef.h>

#include "diag.h"
#include "json.h"

/*
 * A variable.  When is_string is set, value is the string itself (not
 * quoted or escaped); otherwise value is JSON text for a number, true,
 * false, null, a list or an object, ready for json_raw().
 */
struct inv_var {
	char	*key;
	char	*value;
	int	 is_string;
};

struct inv_host {
	char		*name;
	char		*address;	/* ansible_host, else name */
	int		 port;		/* ansible_port, else 22 */
	char		*user;		/* ansible_user or NULL */
	char		*vendor;	/* vendor or NULL */
	int		 drain;		/* drain=true: move its pods away */
	struct inv_var	*vars;		/* resolved with precedence, by key */
	size_t		 nvars;
	char		**groups;	/* every group it is in, parents too,
					   not all; lowest precedence first */
	size_t		 ngroups;
	int		 line;		/* where it first appears */
};

struct inv_group {
	char		*name;
	char		**hosts;	/* direct members, in file order */
	size_t		 nhosts;
	char		**children;	/* child groups, in file order */
	size_t		 nchildren;
	struct inv_var	*vars;		/* the group's own :vars */
	size_t		 nvars;
};

/* hosts in file order; groups: all, ungrouped, then in file order. */
struct inventory {
	char		*path;
	struct inv_host	*hosts;
	size_t		 nhosts;
	struct inv_group *groups;
	size_t		 ngroups;
};

/*
 * Read path.  Returns 0 when there were no errors (warnings allowed) and
 * -1 otherwise; every problem is added to d.  *out is set on success and
 * left NULL on failure.  Caller must inventory_free() it.
 */
int	 inventory_load(const char *path, struct inventory **out,
	    struct diags *d);
/* Same, from memory; path only names the file in diagnostics. */
int	 inventory_load_mem(const char *path, const char *text, size_t len,
	    struct inventory **out, struct diags *d);
void	 inventory_free(struct inventory *);

const struct inv_host	*inventory_host(const struct inventory *,
			    const char *name);
const struct inv_group	*inventory_group(const struct inventory *,
			    const char *name);
/* Resolved value as text (strings bare, other values as JSON), or NULL. */
const char	*inv_host_var(const struct inv_host *, const char *key);

/*
 * Hosts selected by an Ansible host pattern (-l/--limit): names, groups,
 * all or *, fnmatch wildcards, ~regex (POSIX extended, anchored at the
 * start as Python's re.match), group[N] / group[N:M] subscripts, ',' or
 * ':' union, '&' intersection, '!' exclusion, applied as Ansible does:
 * unions, then intersections, then exclusions.  On success *idx holds *n
 * indexes into inv->hosts in inventory order (caller frees).  A term that
 * names no known host or group, or a pattern that selects nothing, is an
 * error: -1 and a message in err.
 */
int	 inventory_match(const struct inventory *, const char *pattern,
	    size_t **idx, size_t *n, char *err, size_t errlen);

/* The object `ansible-inventory --list` prints. */
void	 inventory_write_json(struct json_writer *, const struct inventory *);

/*
 * Add host to group in the inventory file at path, keeping every other
 * byte: the section is appended when missing and the file created when
 * missing.  When the host already has a line in that group, vars are
 * merged into it: a key in vars replaces the same key where it stands,
 * keys the line lacks are appended (before a trailing comment, which
 * stays), and everything else on the line -- the user's own vars, in
 * their own quoting and spacing -- is kept byte for byte, except keys
 * named in drop (NULL-terminated, or NULL) that vars lack: those the
 * caller owns and they go (with a :port on the host when drop or vars
 * name ansible_port).  When that changes nothing Ansible would read,
 * nothing is written and *changed is 0.  vars with is_string set are
 * written so that Ansible reads them back as strings.  The file is
 * replaced atomically, keeping its mode.  -1 with a message in err on
 * failure.
 */
int	 inventory_add_host(const char *path, const char *group,
	    const char *host, const struct inv_var *vars, size_t nvars,
	    const char *const *drop, int *changed, char *err, size_t errlen);

#endif

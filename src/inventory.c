/*
 * inventory: loading an Ansible INI inventory into struct inventory, the
 * way ansible-core 2.14's ini plugin and InventoryData build it (section
 * states, pending group declarations, reconcile of all/ungrouped, group
 * depth and priority for variable precedence), and writing the
 * `ansible-inventory --list` JSON.  Host patterns live in hostpattern.c,
 * the file edit for newnode in inv-edit.c, the Python look-alikes in
 * inv-lex.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "diag.h"
#include "inv-lex.h"
#include "inventory.h"
#include "json.h"

#define INV_MAX_FILE	(64u << 20)	/* bigger is not a hosts file */
#define INV_MAX_HOSTS	100000		/* what one range may expand to */

/* ------------------------------------------------------------- name map */

struct nmap {
	char	**keys;
	size_t	 *vals;
	size_t	  cap, n;
};

static uint64_t
nhash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static long
nmap_get(const struct nmap *m, const char *k)
{
	size_t i;

	if (m->cap == 0)
		return -1;
	for (i = nhash(k) & (m->cap - 1); m->keys[i] != NULL;
	    i = (i + 1) & (m->cap - 1))
		if (strcmp(m->keys[i], k) == 0)
			return (long)m->vals[i];
	return -1;
}

static void
nmap_put(struct nmap *m, char *k, size_t v)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		struct nmap nm;
		size_t j;

		nm.cap = m->cap ? m->cap * 2 : 64;
		nm.n = 0;
		nm.keys = xcalloc(nm.cap, sizeof *nm.keys);
		nm.vals = xcalloc(nm.cap, sizeof *nm.vals);
		for (j = 0; j < m->cap; j++)
			if (m->keys[j] != NULL)
				nmap_put(&nm, m->keys[j], m->vals[j]);
		free(m->keys);
		free(m->vals);
		*m = nm;
	}
	for (i = nhash(k) & (m->cap - 1); m->keys[i] != NULL;
	    i = (i + 1) & (m->cap - 1))
		;
	m->keys[i] = k;
	m->vals[i] = v;
	m->n++;
}

static void
nmap_free(struct nmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------- parse state */

struct vlist {
	struct inv_var	*v;
	size_t		 n;
};

struct pgroup {
	char		*name;
	size_t		*hosts, nhosts;
	size_t		*kids, nkids;
	size_t		*parents, nparents;
	struct vlist	 vars;
	long		 priority;
	int		 depth;		/* -1: not computed */
};

struct phost {
	char		*name;
	size_t		*groups, ngroups;	/* direct */
	struct vlist	 vars;
	int		 line;
};

struct pending {
	char	*name;
	int	 state;		/* 'c' children, 'v' vars */
	int	 line, col;
	char	*parent;	/* first parent naming it */
	size_t	*parents, nparents;
};

struct parser {
	const char	*file;
	struct diags	*d;
	struct pgroup	*g;
	size_t		 ng;
	struct phost	*h;
	size_t		 nh;
	struct nmap	 gmap, hmap;
	struct pending	*pend;
	size_t		 npend;
	int		 line;
};

static void
vlist_set(struct vlist *l, const char *k, const char *v, int is_string)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, k) == 0) {
			free(l->v[i].value);
			l->v[i].value = xstrdup(v);
			l->v[i].is_string = is_string;
			return;
		}
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n].key = xstrdup(k);
	l->v[l->n].value = xstrdup(v);
	l->v[l->n].is_string = is_string;
	l->n++;
}

static void
vlist_free(struct vlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static const struct inv_var *
vlist_get(const struct vlist *l, const char *k)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, k) == 0)
			return &l->v[i];
	return NULL;
}

static void
push_idx(size_t **v, size_t *n, size_t x)
{
	if (*n == 0 || (*n & (*n - 1)) == 0)
		*v = xreallocarray(*v, *n ? *n * 2 : 1, sizeof **v);
	(*v)[(*n)++] = x;
}

/* drain's value: 1 true, 0 false, -1 neither (Ansible's boolean words;
   True and False arrive as the JSON true and false) */
static int
inv_bool(const char *v)
{
	static const char *const yes[] = { "true", "yes", "on", "1", NULL };
	static const char *const no[] = { "false", "no", "off", "0", NULL };
	size_t i;

	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	return -1;
}

static int
has_idx(const size_t *v, size_t n, size_t x)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == x)
			return 1;
	return 0;
}

static long
group_find(struct parser *p, const char *name)
{
	return nmap_get(&p->gmap, name);
}

static size_t
group_add(struct parser *p, const char *name)
{
	long i = group_find(p, name);
	struct pgroup *g;

	if (i >= 0)
		return (size_t)i;
	if (p->ng == 0 || (p->ng & (p->ng - 1)) == 0)
		p->g = xreallocarray(p->g, p->ng ? p->ng * 2 : 1,
		    sizeof *p->g);
	g = &p->g[p->ng];
	memset(g, 0, sizeof *g);
	g->name = xstrdup(name);
	g->priority = 1;
	g->depth = -1;
	nmap_put(&p->gmap, g->name, p->ng);
	return p->ng++;
}

/* Is a an ancestor of g (or g itself)?  Each group visited once, so
 * stacked diamonds stay linear. */
static int
is_ancestor(struct parser *p, size_t a, size_t g)
{
	char *seen = xcalloc(p->ng, 1);
	size_t *stack = xcalloc(p->ng, sizeof *stack), ns = 0, i;
	int found = 0;

	stack[ns++] = g;
	seen[g] = 1;
	while (ns > 0 && !found) {
		size_t x = stack[--ns];

		if (x == a) {
			found = 1;
			break;
		}
		for (i = 0; i < p->g[x].nparents; i++)
			if (!seen[p->g[x].parents[i]]) {
				seen[p->g[x].parents[i]] = 1;
				stack[ns++] = p->g[x].parents[i];
			}
	}
	free(seen);
	free(stack);
	return found;
}

/* Group.add_child_group(), with the loop checks as diagnostics. */
static void
group_add_child(struct parser *p, size_t parent, size_t child, int line,
    int col)
{
	struct pgroup *pg = &p->g[parent], *cg = &p->g[child];

	if (parent == child) {
		diag_error(p->d, p->file, line, col,
		    "group '%s' cannot be a child of itself", pg->name);
		return;
	}
	if (has_idx(pg->kids, pg->nkids, child))
		return;
	if (is_ancestor(p, child, parent)) {
		diag_error(p->d, p->file, line, col, "adding group '%s' as a "
		    "child of '%s' creates a dependency loop", cg->name,
		    pg->name);
		return;
	}
	push_idx(&pg->kids, &pg->nkids, child);
	if (!has_idx(cg->parents, cg->nparents, parent))
		push_idx(&cg->parents, &cg->nparents, parent);
}

static size_t
host_add(struct parser *p, const char *name, size_t group, long port)
{
	long i = nmap_get(&p->hmap, name);
	struct phost *h;
	struct pgroup *g;
	size_t hi;

	if (i < 0) {
		if (p->nh == 0 || (p->nh & (p->nh - 1)) == 0)
			p->h = xreallocarray(p->h, p->nh ? p->nh * 2 : 1,
			    sizeof *p->h);
		h = &p->h[p->nh];
		memset(h, 0, sizeof *h);
		h->name = xstrdup(name);
		h->line = p->line;
		if (port >= 0) {
			char num[32];

			snprintf(num, sizeof num, "%ld", port);
			vlist_set(&h->vars, "ansible_port", num, 0);
		}
		nmap_put(&p->hmap, h->name, p->nh);
		hi = p->nh++;
	} else
		hi = (size_t)i;
	h = &p->h[hi];
	g = &p->g[group];
	/* a host is in few groups, a group may hold many hosts */
	if (!has_idx(h->groups, h->ngroups, group)) {
		push_idx(&g->hosts, &g->nhosts, hi);
		push_idx(&h->groups, &h->ngroups, group);
	}
	return hi;
}

static struct pending *
pending_find(struct parser *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->npend; i++)
		if (p->pend[i].name != NULL && strcmp(p->pend[i].name,
		    name) == 0)
			return &p->pend[i];
	return NULL;
}

static void
pending_del(struct pending *q)
{
	free(q->name);
	free(q->parent);
	free(q->parents);
	memset(q, 0, sizeof *q);
}

static void
add_pending_children(struct parser *p, const char *name, int depth)
{
	struct pending *q = pending_find(p, name);
	size_t i, child = (size_t)group_find(p, name), *parents, np;
	int line, col;

	if (q == NULL || depth > 1000)
		return;
	parents = q->parents;
	np = q->nparents;
	line = q->line;
	col = q->col;
	q->parents = NULL;
	q->nparents = 0;
	pending_del(q);
	for (i = 0; i < np; i++) {
		struct pending *pp;

		group_add_child(p, parents[i], child, line, col);
		pp = pending_find(p, p->g[parents[i]].name);
		if (pp != NULL && pp->state == 'c')
			add_pending_children(p, p->g[parents[i]].name,
			    depth + 1);
	}
	free(parents);
}

/* ----------------------------------------------------- line parsing */

static int
word_cp(unsigned cp)
{
	return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
	    (cp >= '0' && cp <= '9') || cp == '_' ||
	    (cp >= 0x80 && !inv_py_space(cp));
}

/* Code point at s[i] (valid UTF-8 is guaranteed by the caller). */
static size_t
cp_at(const char *s, size_t n, size_t i, unsigned *cp)
{
	size_t l = inv_utf8_len((const unsigned char *)s + i, n - i, cp);

	if (l == 0) {
		*cp = (unsigned char)s[i];
		l = 1;
	}
	return l;
}

/* Name run of the 'section'/'groupname' regexes: [^:\]\s]+ */
static size_t
name_run(const char *s, size_t n, size_t i)
{
	size_t st = i, l;
	unsigned cp;

	while (i < n) {
		l = cp_at(s, n, i, &cp);
		if (cp == ':' || cp == ']' || inv_py_space(cp))
			break;
		i += l;
	}
	return i - st;
}

static size_t
skip_space(const char *s, size_t n, size_t i)
{
	size_t l;
	unsigned cp;

	while (i < n) {
		l = cp_at(s, n, i, &cp);
		if (!inv_py_space(cp))
			break;
		i += l;
	}
	return i;
}

/*
 * to_safe_group_name() as the INI plugin calls it: with the default
 * TRANSFORM_INVALID_GROUP_CHARS=never the name is kept and only a
 * warning says it is not a valid variable name.
 */
static int
unsafe_group_name(const char *s, size_t n)
{
	size_t i = 0, l;
	unsigned cp;

	while (i < n) {
		l = cp_at(s, n, i, &cp);
		if (!word_cp(cp) || (i == 0 && cp >= '0' && cp <= '9'))
			return 1;
		i += l;
	}
	return 0;
}

/* Does [..] at the start of s look like a host range rather than a
 * section header? */
static int
looks_like_range(const char *s, size_t n)
{
	size_t i = 1, a = 0, b = 0;

	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, a++;
	if (a == 0 && i < n && ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z'))
		i++, a = 1;
	if (i >= n || s[i] != ':')
		return 0;
	i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, b++;
	if (b == 0 && i < n && ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z'))
		i++, b = 1;
	return b > 0 && i < n && (s[i] == ']' || s[i] == ':');
}

/* Is the first word an address such as [2001:db8::1]:22? */
static int
first_word_is_address(const char *s, size_t n)
{
	size_t i = 0, hoff, hlen;
	long port;

	while (i < n && s[i] != ' ' && s[i] != '\t')
		i++;
	return inv_parse_address(s, i, &hoff, &hlen, &port);
}

enum { ST_HOSTS = 'h', ST_CHILDREN = 'c', ST_VARS = 'v' };

struct linectx {
	const char	*s;	/* whole line */
	size_t		 b, e;	/* stripped content */
};

/* 1-based byte column of an offset in the line */
#define COL(off) ((int)(off) + 1)

static void
set_value(struct parser *p, struct vlist *vl, const char *key,
    const char *v, size_t vn, int col, long *priority)
{
	struct buf json = BUF_INIT, str = BUF_INIT;
	const char *why = NULL;
	int is_string = 0;
	enum inv_lit r;
	char *raw;

	r = inv_literal(v, vn, &json, &str, &is_string, &why);
	if (r == INV_LIT_UNSUPPORTED) {
		diag_error(p->d, p->file, p->line, col, "value of '%s' is a "
		    "Python literal ansible-inventory cannot output (%s)",
		    key, why);
		goto out;
	}
	if (r == INV_LIT_STRING) {
		raw = xstrndup(v, vn);
		buf_reset(&str);
		buf_adds(&str, raw);
		free(raw);
		is_string = 1;
	}
	if (strcmp(key, "ansible_port") == 0) {
		/* Ansible would fail only when it connects; we say so now */
		const char *t = is_string ? str.data : json.data;
		char *end;
		long pt;

		errno = 0;
		pt = strtol(t, &end, 10);
		if (t[0] == '\0' || *end != '\0' || errno != 0 || pt < 1 ||
		    pt > 65535) {
			diag_error(p->d, p->file, p->line, col, "ansible_port "
			    "must be a port number (1-65535), got '%s'", t);
			goto out;
		}
	}
	if (strcmp(key, "drain") == 0 &&
	    inv_bool(is_string ? str.data : json.data) == -1) {
		diag_error(p->d, p->file, p->line, col, "drain must be true or "
		    "false (yes/no, on/off, 1/0), got '%s'", is_string ?
		    str.data : json.data);
		goto out;
	}
	if (priority != NULL && strcmp(key, "ansible_group_priority") == 0) {
		/* Group.set_priority(int(value)): not a variable */
		const char *t = is_string ? str.data : json.data;
		char *end;
		long v2;

		errno = 0;
		v2 = strtol(t, &end, 10);
		if (strcmp(t, "true") == 0)
			v2 = 1, end = (char *)t + 4;
		else if (strcmp(t, "false") == 0)
			v2 = 0, end = (char *)t + 5;
		else if (!is_string && *end == '.')
			end += strspn(end + 1, "0123456789") + 1;
		if (t[0] == '\0' || *end != '\0' || errno != 0)
			diag_error(p->d, p->file, p->line, col,
			    "ansible_group_priority must be an integer, got "
			    "'%s'", t);
		else
			*priority = v2;
		goto out;
	}
	vlist_set(vl, key, is_string ? str.data : json.data, is_string);
out:
	buf_release(&json);
	buf_release(&str);
}

static void
parse_hosts_line(struct parser *p, const char *s, size_t b, size_t e,
    size_t group)
{
	struct inv_tok *toks = NULL;
	size_t ntoks = 0, erroff = 0, i, j, hoff, hlen, nnames = 0;
	const char *msg = NULL;
	char **names = NULL, *pat = NULL, err[256];
	long port;
	struct vlist vars = { NULL, 0 };
	size_t *hidx = NULL, nh = 0;
	int bad = 0;

	if (inv_shlex(s + b, e - b, &toks, &ntoks, NULL, &msg,
	    &erroff) == -1) {
		diag_error(p->d, p->file, p->line, COL(b + erroff),
		    "%s in host line", msg);
		return;
	}
	if (ntoks == 0)
		goto out;
	pat = toks[0].text;
	inv_parse_address(pat, strlen(pat), &hoff, &hlen, &port);
	{
		size_t pb = 0, pe = strlen(pat);

		inv_py_strip(pat, &pb, &pe);
		if (port < 0 && pe > pb && pat[pe - 1] == ':') {
			diag_error(p->d, p->file, p->line,
			    COL(b + toks[0].off), "host '%s' ends in ':', "
			    "which is reserved for a port number", pat);
			goto out;
		}
	}
	if (port == 0 || port > 65535) {
		diag_error(p->d, p->file, p->line, COL(b + toks[0].off),
		    "port of '%s' must be 1-65535", pat);
		goto out;
	}
	{
		char *h = xstrndup(pat + hoff, hlen);
		int rc = inv_expand_range(h, &names, &nnames, INV_MAX_HOSTS,
		    err, sizeof err);

		free(h);
		if (rc == -1) {
			diag_error(p->d, p->file, p->line,
			    COL(b + toks[0].off), "bad host range in '%s': "
			    "%s", pat, err);
			goto out;
		}
	}
	for (i = 0; i < nnames; i++) {
		if (strcmp(names[i], "---") == 0) {
			diag_error(p->d, p->file, p->line,
			    COL(b + toks[0].off), "'---' is not a host "
			    "name: is this a YAML file?");
			goto out;
		}
		if (names[i][0] == '\0') {
			diag_error(p->d, p->file, p->line,
			    COL(b + toks[0].off), "empty host name");
			goto out;
		}
	}
	for (j = 1; j < ntoks; j++) {
		char *eq = strchr(toks[j].text, '='), *key;

		if (eq == NULL) {
			diag_error(p->d, p->file, p->line,
			    COL(b + toks[j].off), "expected key=value "
			    "host variable, got '%s'", toks[j].text);
			bad = 1;
			continue;
		}
		key = xstrndup(toks[j].text, (size_t)(eq - toks[j].text));
		set_value(p, &vars, key, eq + 1, strlen(eq + 1),
		    COL(b + toks[j].off), NULL);
		free(key);
	}
	if (bad)
		goto out;
	if (nnames == 0)
		diag_warn(p->d, p->file, p->line, COL(b + toks[0].off),
		    "range in '%s' expands to no host", pat);
	for (i = 0; i < nnames; i++) {
		size_t hi = host_add(p, names[i], group, port);

		push_idx(&hidx, &nh, hi);
		for (j = 0; j < vars.n; j++)
			vlist_set(&p->h[hi].vars, vars.v[j].key,
			    vars.v[j].value, vars.v[j].is_string);
	}
out:
	free(hidx);
	vlist_free(&vars);
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	inv_toks_free(toks, ntoks);
}

static void
parse_line(struct parser *p, const char *s, size_t n, int *state,
    size_t *group)
{
	size_t b = 0, e = n, i, l;
	unsigned cp;

	inv_py_strip(s, &b, &e);
	if (b == e || s[b] == '#' || s[b] == ';')
		return;
	if (s[b] == '[') {
		/* ^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$ */
		size_t nb = b + 1, nl = name_run(s, e, nb), tb = 0, tl = 0;

		i = nb + nl;
		if (nl > 0 && i < e && s[i] == ':') {
			tb = ++i;
			while (i < e) {
				l = cp_at(s, e, i, &cp);
				if (!word_cp(cp))
					break;
				i += l;
			}
			tl = i - tb;
		}
		if (nl > 0 && (tb == 0 || tl > 0) && i < e && s[i] == ']') {
			size_t k = skip_space(s, e, i + 1);

			if (k == e || s[k] == '#') {
				char *name = xstrndup(s + nb, nl);
				int st;
				struct pending *q;

				if (unsafe_group_name(s + nb, nl))
					diag_warn(p->d, p->file, p->line,
					    COL(nb), "group name '%s' has "
					    "characters other than letters, "
					    "digits and '_' (Ansible warns "
					    "too)", name);
				if (tb == 0 || (tl == 5 && memcmp(s + tb,
				    "hosts", 5) == 0))
					st = ST_HOSTS;
				else if (tl == 8 && memcmp(s + tb, "children",
				    8) == 0)
					st = ST_CHILDREN;
				else if (tl == 4 && memcmp(s + tb, "vars",
				    4) == 0)
					st = ST_VARS;
				else {
					diag_error(p->d, p->file, p->line,
					    COL(tb), "section [%.*s] has "
					    "unknown type '%.*s' (expected "
					    "hosts, children or vars)",
					    (int)(i - nb), s + nb, (int)tl,
					    s + tb);
					free(name);
					/* skip the section's lines */
					*state = 0;
					return;
				}
				if (group_find(p, name) < 0) {
					if (st == ST_VARS &&
					    pending_find(p, name) == NULL) {
						p->pend = xreallocarray(p->pend,
						    p->npend + 1,
						    sizeof *p->pend);
						q = &p->pend[p->npend++];
						memset(q, 0, sizeof *q);
						q->name = xstrdup(name);
						q->state = 'v';
						q->line = p->line;
						q->col = COL(b);
					}
					group_add(p, name);
				}
				q = pending_find(p, name);
				if (q != NULL && st != ST_VARS) {
					if (q->state == 'c')
						add_pending_children(p, name,
						    0);
					else
						pending_del(q);
				}
				*group = (size_t)group_find(p, name);
				*state = st;
				free(name);
				return;
			}
		}
		if (s[e - 1] == ']' || (memchr(s + b, ']', e - b) != NULL &&
		    !looks_like_range(s + b, e - b) &&
		    !first_word_is_address(s + b, e - b))) {
			diag_error(p->d, p->file, p->line, COL(b),
			    "invalid section header '%.*s': a group name "
			    "without spaces, an optional :vars or :children, "
			    "then only a '#' comment", (int)(e - b), s + b);
			*state = 0;
			return;
		}
		if (memchr(s + b, ']', e - b) == NULL) {
			diag_error(p->d, p->file, p->line, COL(b),
			    "unterminated section header: missing ']'");
			*state = 0;
			return;
		}
	}
	switch (*state) {
	case 0:
		return;		/* inside a section already reported */
	case ST_HOSTS:
		parse_hosts_line(p, s, b, e, *group);
		return;
	case ST_VARS: {
		const char *eq = memchr(s + b, '=', e - b);
		size_t kb = b, ke, vb, ve = e;
		char *key;

		if (eq == NULL) {
			diag_error(p->d, p->file, p->line, COL(b),
			    "expected key=value in [%s:vars], got '%.*s'",
			    p->g[*group].name, (int)(e - b), s + b);
			return;
		}
		ke = (size_t)(eq - s);
		vb = ke + 1;
		inv_py_strip(s, &kb, &ke);
		inv_py_strip(s, &vb, &ve);
		key = xstrndup(s + kb, ke - kb);
		set_value(p, &p->g[*group].vars, key, s + vb, ve - vb,
		    COL(vb), &p->g[*group].priority);
		free(key);
		return;
	}
	case ST_CHILDREN: {
		/* ^([^:\]\s]+)\s*(?:#.*)?$ */
		size_t nl = name_run(s, e, b), k;
		char *child;
		long ci;

		k = skip_space(s, e, b + nl);
		if (nl == 0 || (k < e && s[k] != '#')) {
			diag_error(p->d, p->file, p->line, COL(b),
			    "expected a group name in [%s:children], got "
			    "'%.*s'", p->g[*group].name, (int)(e - b), s + b);
			return;
		}
		child = xstrndup(s + b, nl);
		ci = group_find(p, child);
		if (ci < 0) {
			struct pending *q = pending_find(p, child);

			if (q == NULL) {
				p->pend = xreallocarray(p->pend, p->npend + 1,
				    sizeof *p->pend);
				q = &p->pend[p->npend++];
				memset(q, 0, sizeof *q);
				q->name = xstrdup(child);
				q->state = 'c';
				q->line = p->line;
				q->col = COL(b);
				q->parent = xstrdup(p->g[*group].name);
			}
			if (!has_idx(q->parents, q->nparents, *group))
				push_idx(&q->parents, &q->nparents, *group);
		} else
			group_add_child(p, *group, (size_t)ci, p->line,
			    COL(b));
		free(child);
		return;
	}
	}
}

/* ------------------------------------------------------ resolution */

static int
group_depth(struct parser *p, size_t gi, int guard)
{
	struct pgroup *g = &p->g[gi];
	size_t i;
	int d = 0;

	if (g->depth >= 0)
		return g->depth;
	if (guard > 10000)
		return 0;
	for (i = 0; i < g->nparents; i++) {
		int pd = group_depth(p, g->parents[i], guard + 1) + 1;

		if (pd > d)
			d = pd;
	}
	g->depth = d;
	return d;
}

static void
closure(struct parser *p, size_t gi, char *mark)
{
	size_t i;

	if (mark[gi])
		return;
	mark[gi] = 1;
	for (i = 0; i < p->g[gi].nparents; i++)
		closure(p, p->g[gi].parents[i], mark);
}

/* sort_groups(): depth, then ansible_group_priority, then name. */
static int
group_cmp(const void *a, const void *b, void *ctx)
{
	const struct parser *p = ctx;
	const struct pgroup *x = &p->g[*(const size_t *)a];
	const struct pgroup *y = &p->g[*(const size_t *)b];

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
var_cmp(const void *a, const void *b)
{
	return strcmp(((const struct inv_var *)a)->key,
	    ((const struct inv_var *)b)->key);
}

/* Every group host hi is in (parents too), all excluded, sorted. */
static size_t *
host_groups(struct parser *p, size_t hi, size_t *n, char *mark)
{
	size_t i, *v = NULL;

	*n = 0;
	memset(mark, 0, p->ng);
	for (i = 0; i < p->h[hi].ngroups; i++)
		closure(p, p->h[hi].groups[i], mark);
	for (i = 1; i < p->ng; i++)
		if (mark[i])
			push_idx(&v, n, i);
	return v;
}

static void
copy_vars(struct inv_var **dst, size_t *dn, const struct vlist *src)
{
	size_t i;

	*dst = xcalloc(src->n ? src->n : 1, sizeof **dst);
	for (i = 0; i < src->n; i++) {
		(*dst)[i].key = xstrdup(src->v[i].key);
		(*dst)[i].value = xstrdup(src->v[i].value);
		(*dst)[i].is_string = src->v[i].is_string;
	}
	*dn = src->n;
}

static void
finish(struct parser *p, struct inventory *inv)
{
	size_t i, j, k, *gl, ngl;
	char *mark = xcalloc(p->ng ? p->ng : 1, 1);

	/* reconcile_inventory(): parentless groups go under all ... */
	for (i = 1; i < p->ng; i++)
		if (p->g[i].nparents == 0)
			group_add_child(p, 0, i, 0, 0);
	/* ... and ungrouped keeps only the hosts in no other group */
	for (i = 0; i < p->nh; i++) {
		size_t other = 0, in_all = 0;

		memset(mark, 0, p->ng);
		for (j = 0; j < p->h[i].ngroups; j++)
			closure(p, p->h[i].groups[j], mark);
		for (j = 0; j < p->ng; j++)
			if (mark[j] && j != 0 && j != 1)
				other++;
		in_all = mark[0];
		if (mark[1]) {
			if (other > 0) {
				struct pgroup *u = &p->g[1];

				for (k = 0; k < u->nhosts; k++)
					if (u->hosts[k] == i) {
						memmove(&u->hosts[k],
						    &u->hosts[k + 1],
						    (u->nhosts - k - 1) *
						    sizeof *u->hosts);
						u->nhosts--;
						break;
					}
				for (k = 0; k < p->h[i].ngroups; k++)
					if (p->h[i].groups[k] == 1) {
						memmove(&p->h[i].groups[k],
						    &p->h[i].groups[k + 1],
						    (p->h[i].ngroups - k - 1) *
						    sizeof *p->h[i].groups);
						p->h[i].ngroups--;
						break;
					}
			}
		} else if (other == 0 && (p->h[i].ngroups == 0 || in_all)) {
			push_idx(&p->g[1].hosts, &p->g[1].nhosts, i);
			push_idx(&p->h[i].groups, &p->h[i].ngroups, 1);
		}
	}
	p->g[0].depth = 0;
	for (i = 0; i < p->ng; i++)
		group_depth(p, i, 0);
	/* a pattern naming it would select the whole group */
	for (i = 0; i < p->nh; i++)
		if (group_find(p, p->h[i].name) >= 0)
			diag_warn(p->d, p->file, p->h[i].line, 0, "'%s' is both "
			    "a host and a group (Ansible warns too)",
			    p->h[i].name);

	inv->ngroups = p->ng;
	inv->groups = xcalloc(p->ng ? p->ng : 1, sizeof *inv->groups);
	for (i = 0; i < p->ng; i++) {
		struct inv_group *og = &inv->groups[i];
		struct pgroup *g = &p->g[i];

		og->name = xstrdup(g->name);
		og->nhosts = g->nhosts;
		og->hosts = xcalloc(g->nhosts ? g->nhosts : 1,
		    sizeof *og->hosts);
		for (j = 0; j < g->nhosts; j++)
			og->hosts[j] = xstrdup(p->h[g->hosts[j]].name);
		og->nchildren = g->nkids;
		og->children = xcalloc(g->nkids ? g->nkids : 1,
		    sizeof *og->children);
		for (j = 0; j < g->nkids; j++)
			og->children[j] = xstrdup(p->g[g->kids[j]].name);
		copy_vars(&og->vars, &og->nvars, &g->vars);
	}

	inv->nhosts = p->nh;
	inv->hosts = xcalloc(p->nh ? p->nh : 1, sizeof *inv->hosts);
	for (i = 0; i < p->nh; i++) {
		struct inv_host *oh = &inv->hosts[i];
		struct vlist r = { NULL, 0 };
		const struct inv_var *v;

		gl = host_groups(p, i, &ngl, mark);
		qsort_r(gl, ngl, sizeof *gl, group_cmp, p);
		for (j = 0; j < p->g[0].vars.n; j++)
			vlist_set(&r, p->g[0].vars.v[j].key,
			    p->g[0].vars.v[j].value,
			    p->g[0].vars.v[j].is_string);
		for (k = 0; k < ngl; k++)
			for (j = 0; j < p->g[gl[k]].vars.n; j++)
				vlist_set(&r, p->g[gl[k]].vars.v[j].key,
				    p->g[gl[k]].vars.v[j].value,
				    p->g[gl[k]].vars.v[j].is_string);
		for (j = 0; j < p->h[i].vars.n; j++)
			vlist_set(&r, p->h[i].vars.v[j].key,
			    p->h[i].vars.v[j].value,
			    p->h[i].vars.v[j].is_string);
		oh->name = xstrdup(p->h[i].name);
		oh->line = p->h[i].line;
		oh->ngroups = ngl;
		oh->groups = xcalloc(ngl ? ngl : 1, sizeof *oh->groups);
		for (k = 0; k < ngl; k++)
			oh->groups[k] = xstrdup(p->g[gl[k]].name);
		free(gl);
		v = vlist_get(&r, "ansible_host");
		oh->address = xstrdup(v != NULL ? v->value : oh->name);
		oh->port = 22;
		if ((v = vlist_get(&r, "ansible_port")) != NULL) {
			char *end;
			long pt;

			errno = 0;
			pt = strtol(v->value, &end, 10);
			/* checked where it was set */
			if (*end == '\0' && errno == 0 && pt >= 1 &&
			    pt <= 65535)
				oh->port = (int)pt;
		}
		v = vlist_get(&r, "ansible_user");
		oh->user = v != NULL ? xstrdup(v->value) : NULL;
		v = vlist_get(&r, "vendor");
		oh->vendor = v != NULL ? xstrdup(v->value) : NULL;
		v = vlist_get(&r, "drain");
		oh->drain = v != NULL && inv_bool(v->value) == 1;
		copy_vars(&oh->vars, &oh->nvars, &r);
		qsort(oh->vars, oh->nvars, sizeof *oh->vars, var_cmp);
		vlist_free(&r);
	}
	free(mark);
}

static void
parser_free(struct parser *p)
{
	size_t i;

	for (i = 0; i < p->ng; i++) {
		free(p->g[i].name);
		free(p->g[i].hosts);
		free(p->g[i].kids);
		free(p->g[i].parents);
		vlist_free(&p->g[i].vars);
	}
	free(p->g);
	for (i = 0; i < p->nh; i++) {
		free(p->h[i].name);
		free(p->h[i].groups);
		vlist_free(&p->h[i].vars);
	}
	free(p->h);
	for (i = 0; i < p->npend; i++)
		pending_del(&p->pend[i]);
	free(p->pend);
	nmap_free(&p->gmap);
	nmap_free(&p->hmap);
}

int
inventory_load_mem(const char *path, const char *text, size_t len,
    struct inventory **out, struct diags *d)
{
	struct parser p;
	struct inventory *inv;
	size_t i, ls, bad, lb;
	int errors0 = d->errors, state = ST_HOSTS, utf8ok;
	size_t group;

	*out = NULL;
	memset(&p, 0, sizeof p);
	p.file = path;
	p.d = d;
	group_add(&p, "all");
	group_add(&p, "ungrouped");
	group_add_child(&p, 0, 1, 0, 0);
	group = 1;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		diag_error(d, path, 1, 1, "byte order mark at the start of "
		    "the file (ansible-inventory cannot read it either)");
		text += 3;
		len -= 3;
	}
	utf8ok = inv_utf8_check(text, len) == len;
	/* str.splitlines(); when the file is not UTF-8, Ansible splits the
	 * bytes on \n and \r only and blanks comment lines. */
	for (ls = 0, p.line = 1; ls < len; p.line++) {
		size_t end = ls;

		for (;;) {
			if (end >= len) {
				lb = 0;
				break;
			}
			if (utf8ok)
				lb = inv_py_linebreak(text + end, len - end);
			else if (text[end] == '\n')
				lb = 1;
			else if (text[end] == '\r')
				lb = end + 1 < len && text[end + 1] == '\n' ?
				    2 : 1;
			else
				lb = 0;
			if (lb > 0)
				break;
			end++;
		}
		if (!utf8ok && end > ls && (text[ls] == '#' || text[ls] ==
		    ';')) {
			/* a comment: anything goes */
		} else if ((bad = inv_utf8_check(text + ls, end - ls)) !=
		    end - ls)
			diag_error(d, path, p.line, (int)bad + 1,
			    "invalid UTF-8");
		else if (memchr(text + ls, '\0', end - ls) != NULL)
			diag_error(d, path, p.line, (int)((const char *)
			    memchr(text + ls, '\0', end - ls) - (text + ls)) +
			    1, "NUL byte in the inventory");
		else
			parse_line(&p, text + ls, end - ls, &state, &group);
		ls = end + lb;
	}
	for (i = 0; i < p.npend; i++) {
		struct pending *q = &p.pend[i];

		if (q->name == NULL)
			continue;
		if (q->state == 'v')
			diag_error(d, path, q->line, q->col, "[%s:vars] for "
			    "group '%s', which is never defined with [%s] or "
			    "[%s:children]", q->name, q->name, q->name,
			    q->name);
		else
			diag_error(d, path, q->line, q->col, "group '%s' in "
			    "[%s:children] is never defined", q->name,
			    q->parent);
	}
	inv = xcalloc(1, sizeof *inv);
	inv->path = xstrdup(path);
	finish(&p, inv);
	parser_free(&p);
	if (d->errors > errors0) {
		inventory_free(inv);
		return -1;
	}
	*out = inv;
	return 0;
}

int
inventory_load(const char *path, struct inventory **out, struct diags *d)
{
	struct buf b = BUF_INIT;
	int rc;

	*out = NULL;
	if (buf_read_file(&b, path, INV_MAX_FILE) == -1) {
		if (errno == EFBIG)
			diag_error(d, path, 0, 0, "inventory larger than %u "
			    "MiB", INV_MAX_FILE >> 20);
		else
			diag_error(d, path, 0, 0, "cannot read inventory: %s",
			    strerror(errno));
		buf_release(&b);
		return -1;
	}
	rc = inventory_load_mem(path, b.data, b.len, out, d);
	buf_release(&b);
	return rc;
}

static void
free_vars(struct inv_var *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
inventory_free(struct inventory *inv)
{
	size_t i;

	if (inv == NULL)
		return;
	for (i = 0; i < inv->nhosts; i++) {
		struct inv_host *h = &inv->hosts[i];

		free(h->name);
		free(h->address);
		free(h->user);
		free(h->vendor);
		free_vars(h->vars, h->nvars);
		free_strv(h->groups, h->ngroups);
	}
	free(inv->hosts);
	for (i = 0; i < inv->ngroups; i++) {
		struct inv_group *g = &inv->groups[i];

		free(g->name);
		free_strv(g->hosts, g->nhosts);
		free_strv(g->children, g->nchildren);
		free_vars(g->vars, g->nvars);
	}
	free(inv->groups);
	free(inv->path);
	free(inv);
}

const struct inv_host *
inventory_host(const struct inventory *inv, const char *name)
{
	size_t i;

	for (i = 0; i < inv->nhosts; i++)
		if (strcmp(inv->hosts[i].name, name) == 0)
			return &inv->hosts[i];
	return NULL;
}

const struct inv_group *
inventory_group(const struct inventory *inv, const char *name)
{
	size_t i;

	for (i = 0; i < inv->ngroups; i++)
		if (strcmp(inv->groups[i].name, name) == 0)
			return &inv->groups[i];
	return NULL;
}

const char *
inv_host_var(const struct inv_host *h, const char *key)
{
	size_t lo = 0, hi = h->nvars;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(h->vars[mid].key, key);

		if (c == 0)
			return h->vars[mid].value;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ------------------------------------------------------------- JSON */

static void
write_value(struct json_writer *w, const struct inv_var *v)
{
	if (v->is_string)
		json_string(w, v->value);
	else
		json_raw(w, v->value, strlen(v->value));
}

/* InventoryCLI.json_inventory(): format_group() from all down. */
static void
write_group(struct json_writer *w, const struct inventory *inv, size_t gi,
    char *seen)
{
	const struct inv_group *g = &inv->groups[gi];
	size_t i;
	int has_hosts = gi != 0 && g->nhosts > 0;

	if (has_hosts || g->nchildren > 0) {
		json_key(w, g->name);
		json_begin_object(w);
		if (has_hosts) {
			json_key(w, "hosts");
			json_begin_array(w);
			for (i = 0; i < g->nhosts; i++)
				json_string(w, g->hosts[i]);
			json_end_array(w);
		}
		if (g->nchildren > 0) {
			json_key(w, "children");
			json_begin_array(w);
			for (i = 0; i < g->nchildren; i++)
				json_string(w, g->children[i]);
			json_end_array(w);
		}
		json_end_object(w);
	}
	for (i = 0; i < g->nchildren; i++) {
		const struct inv_group *c = inventory_group(inv,
		    g->children[i]);
		size_t ci = (size_t)(c - inv->groups);

		if (c != NULL && !seen[ci]) {
			seen[ci] = 1;
			write_group(w, inv, ci, seen);
		}
	}
}

void
inventory_write_json(struct json_writer *w, const struct inventory *inv)
{
	char *seen = xcalloc(inv->ngroups ? inv->ngroups : 1, 1);
	size_t i, j;

	json_begin_object(w);
	if (inv->ngroups > 0) {
		seen[0] = 1;
		write_group(w, inv, 0, seen);
	}
	json_key(w, "_meta");
	json_begin_object(w);
	json_key(w, "hostvars");
	json_begin_object(w);
	for (i = 0; i < inv->nhosts; i++) {
		const struct inv_host *h = &inv->hosts[i];

		if (h->nvars == 0)
			continue;
		json_key(w, h->name);
		json_begin_object(w);
		for (j = 0; j < h->nvars; j++) {
			json_key(w, h->vars[j].key);
			write_value(w, &h->vars[j]);
		}
		json_end_object(w);
	}
	json_end_object(w);
	json_end_object(w);
	json_end_object(w);
	free(seen);
}

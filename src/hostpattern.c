/*
 * hostpattern: Ansible host patterns (-l/--limit) over a loaded inventory,
 * following ansible-core 2.14's InventoryManager: split_host_pattern(),
 * order_patterns(), _evaluate_patterns(), _match_one_pattern() with its
 * subscripts, and _enumerate_matches().  One difference on purpose: a term
 * that matches nothing is an error, not a warning, because a typo in
 * --limit must not silently select a different set of servers.
 */
#include <fnmatch.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "inv-lex.h"
#include "inventory.h"

struct hset {
	size_t	*v;
	size_t	 n;
};

static int
hset_has(const struct hset *s, size_t x)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == x)
			return 1;
	return 0;
}

static void
hset_add(struct hset *s, size_t x)
{
	s->v = xreallocarray(s->v, s->n + 1, sizeof *s->v);
	s->v[s->n++] = x;
}

static long
host_index(const struct inventory *inv, const char *name)
{
	const struct inv_host *h = inventory_host(inv, name);

	return h != NULL ? (long)(h - inv->hosts) : -1;
}

/* Group.get_hosts(): hosts of the group and its descendants, breadth
 * first, without duplicates. */
static void
group_hosts(const struct inventory *inv, size_t gi, struct hset *out)
{
	size_t *queue, nq = 0, qi, i;
	char *seen = xcalloc(inv->ngroups ? inv->ngroups : 1, 1);

	queue = xcalloc(inv->ngroups ? inv->ngroups : 1, sizeof *queue);
	queue[nq++] = gi;
	seen[gi] = 1;
	for (qi = 0; qi < nq; qi++) {
		const struct inv_group *g = &inv->groups[queue[qi]];

		for (i = 0; i < g->nchildren; i++) {
			const struct inv_group *c = inventory_group(inv,
			    g->children[i]);
			size_t ci;

			if (c == NULL)
				continue;
			ci = (size_t)(c - inv->groups);
			if (!seen[ci]) {
				seen[ci] = 1;
				queue[nq++] = ci;
			}
		}
	}
	for (qi = 0; qi < nq; qi++) {
		const struct inv_group *g = &inv->groups[queue[qi]];

		for (i = 0; i < g->nhosts; i++) {
			long hi = host_index(inv, g->hosts[i]);

			if (hi >= 0 && !hset_has(out, (size_t)hi))
				hset_add(out, (size_t)hi);
		}
	}
	free(queue);
	free(seen);
}

struct matcher {
	int	 is_re;
	regex_t	 re;
	const char *glob;
};

static int
matcher_init(struct matcher *m, const char *pat, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	if (pat[0] == '~') {
		if (regcomp(&m->re, pat + 1, REG_EXTENDED) != 0) {
			snprintf(err, errlen, "invalid host pattern regex "
			    "'%s'", pat);
			return -1;
		}
		m->is_re = 1;
	} else
		m->glob = pat;
	return 0;
}

static int
matcher_match(struct matcher *m, const char *s)
{
	regmatch_t pm;

	if (m->is_re)
		return regexec(&m->re, s, 1, &pm, 0) == 0 && pm.rm_so == 0;
	return fnmatch(m->glob, s, FNM_NOESCAPE) == 0;
}

static void
matcher_free(struct matcher *m)
{
	if (m->is_re)
		regfree(&m->re);
}

/* PATTERN_WITH_SUBSCRIPT: (.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$ */
static int
split_subscript(char *pat, long *start, long *end, int *has)
{
	size_t n = strlen(pat), i, j;
	char *lb;

	*has = 0;
	if (pat[0] == '~' || n < 4 || pat[n - 1] != ']')
		return 0;
	lb = strrchr(pat, '[');
	if (lb == NULL || lb == pat)
		return 0;
	i = (size_t)(lb - pat) + 1;
	j = i;
	if (pat[j] == '-')
		j++;
	while (j < n - 1 && pat[j] >= '0' && pat[j] <= '9')
		j++;
	if (j == n - 1 && j > i + (pat[i] == '-')) {
		*start = strtol(pat + i, NULL, 10);
		*end = 0;
		*has = 1;
		*lb = '\0';
		return 0;
	}
	j = i;
	while (j < n - 1 && pat[j] >= '0' && pat[j] <= '9')
		j++;
	if (j == i || (pat[j] != ':' && pat[j] != '-'))
		return 0;
	*start = strtol(pat + i, NULL, 10);
	i = ++j;
	while (j < n - 1 && pat[j] >= '0' && pat[j] <= '9')
		j++;
	if (j != n - 1)
		return 0;
	*end = j > i ? strtol(pat + i, NULL, 10) : -1;
	*has = 2;
	*lb = '\0';
	return 0;
}

/* _match_one_pattern() */
static int
match_one(const struct inventory *inv, const char *term, struct hset *out,
    char *err, size_t errlen)
{
	char *pat = xstrdup(term[0] == '&' || term[0] == '!' ? term + 1 :
	    term);
	struct matcher m;
	struct hset r = { NULL, 0 };
	long start = 0, end = 0;
	int has, ngroups = 0, rc = -1;
	size_t i;

	split_subscript(pat, &start, &end, &has);
	if (pat[0] == '\0') {
		snprintf(err, errlen, "empty host pattern in '%s'", term);
		goto out;
	}
	if (matcher_init(&m, pat, err, errlen) == -1)
		goto out;
	for (i = 0; i < inv->ngroups; i++)
		if (matcher_match(&m, inv->groups[i].name)) {
			ngroups++;
			group_hosts(inv, i, &r);
		}
	if (ngroups == 0 || pat[0] == '~' || strpbrk(pat, ".?*[") != NULL)
		for (i = 0; i < inv->nhosts; i++)
			if (matcher_match(&m, inv->hosts[i].name))
				hset_add(&r, i);
	matcher_free(&m);
	if (r.n == 0 && ngroups == 0 && strcmp(pat, "all") != 0) {
		snprintf(err, errlen, "host pattern '%s' matches no host or "
		    "group", pat);
		goto out;
	}
	if (has && r.n > 0) {
		/* _apply_subscript(), Python slicing included */
		long n = (long)r.n;

		if (has == 2 && end != 0) {
			long s = start, e;

			if (end == -1)
				end = n - 1;
			e = end + 1;
			if (s > n)
				s = n;
			if (e > n)
				e = n;
			if (e < s)
				e = s;
			memmove(r.v, r.v + s, (size_t)(e - s) * sizeof *r.v);
			r.n = (size_t)(e - s);
		} else {
			long k = start < 0 ? n + start : start;

			if (k < 0 || k >= n) {
				snprintf(err, errlen, "no hosts matched the "
				    "subscripted pattern '%s'", term);
				goto out;
			}
			r.v[0] = r.v[k];
			r.n = 1;
		}
	}
	*out = r;
	r.v = NULL;
	rc = 0;
out:
	free(r.v);
	free(pat);
	return rc;
}

/* split_host_pattern() */
static char **
split_pattern(const char *pattern, size_t *n)
{
	char **v = NULL;
	size_t i, hoff, hlen;
	long port;

	*n = 0;
	if (strchr(pattern, ',') != NULL) {
		const char *s = pattern;

		for (;;) {
			const char *c = strchr(s, ',');
			size_t len = c ? (size_t)(c - s) : strlen(s), b = 0,
			    e = len;

			inv_py_strip(s, &b, &e);
			if (e > b) {
				v = xreallocarray(v, *n + 1, sizeof *v);
				v[(*n)++] = xstrndup(s + b, e - b);
			}
			if (c == NULL)
				break;
			s = c + 1;
		}
		return v;
	}
	if (inv_parse_address(pattern, strlen(pattern), &hoff, &hlen,
	    &port)) {
		size_t b = 0, e = strlen(pattern);

		inv_py_strip(pattern, &b, &e);
		if (e > b) {
			v = xcalloc(1, sizeof *v);
			v[(*n)++] = xstrndup(pattern + b, e - b);
		}
		return v;
	}
	/* (?:[^\s:\[\]]|\[[^\]]*\])+ */
	for (i = 0; pattern[i] != '\0';) {
		size_t st = i;

		for (;;) {
			char c = pattern[i];

			if (c == '[') {
				const char *rb = strchr(pattern + i, ']');

				if (rb == NULL)
					break;
				i = (size_t)(rb - pattern) + 1;
			} else if (c != '\0' && c != ':' && c != ']' &&
			    c != ' ' && c != '\t' && c != '\n' && c != '\r' &&
			    c != '\f' && c != '\v')
				i++;
			else
				break;
		}
		if (i > st) {
			v = xreallocarray(v, *n + 1, sizeof *v);
			v[(*n)++] = xstrndup(pattern + st, i - st);
		} else
			i++;
	}
	return v;
}

static int
cmp_idx(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

int
inventory_match(const struct inventory *inv, const char *pattern,
    size_t **idx, size_t *n, char *err, size_t errlen)
{
	char **terms, **ordered;
	size_t nterms, i, k, no = 0;
	struct hset hosts = { NULL, 0 };
	int rc = -1, nregular = 0, pass;

	*idx = NULL;
	*n = 0;
	terms = split_pattern(pattern, &nterms);
	ordered = xcalloc(nterms + 1, sizeof *ordered);
	/* order_patterns(): plain terms, then &, then ! */
	for (pass = 0; pass < 3; pass++)
		for (i = 0; i < nterms; i++) {
			int kind = terms[i][0] == '!' ? 2 : terms[i][0] ==
			    '&' ? 1 : 0;

			if (kind != pass)
				continue;
			if (pass == 0)
				nregular++;
			else if (nregular == 0 && no == 0)
				ordered[no++] = "all";
			ordered[no++] = terms[i];
		}
	if (no == 0) {
		snprintf(err, errlen, "empty host pattern");
		goto out;
	}
	for (i = 0; i < no; i++) {
		const char *p = ordered[i];
		struct hset that = { NULL, 0 };
		long hi = host_index(inv, p);

		if (hi >= 0) {
			if (!hset_has(&hosts, (size_t)hi))
				hset_add(&hosts, (size_t)hi);
			continue;
		}
		if (match_one(inv, p, &that, err, errlen) == -1)
			goto out;
		if (p[0] == '!' || p[0] == '&') {
			size_t w = 0;

			for (k = 0; k < hosts.n; k++)
				if (hset_has(&that, hosts.v[k]) == (p[0] ==
				    '&'))
					hosts.v[w++] = hosts.v[k];
			hosts.n = w;
		} else
			for (k = 0; k < that.n; k++)
				if (!hset_has(&hosts, that.v[k]))
					hset_add(&hosts, that.v[k]);
		free(that.v);
	}
	if (hosts.n == 0) {
		snprintf(err, errlen, "host pattern '%s' selects no hosts",
		    pattern);
		goto out;
	}
	qsort(hosts.v, hosts.n, sizeof *hosts.v, cmp_idx);
	*idx = hosts.v;
	*n = hosts.n;
	hosts.v = NULL;
	rc = 0;
out:
	free(hosts.v);
	for (i = 0; i < nterms; i++)
		free(terms[i]);
	free(terms);
	free(ordered);
	return rc;
}

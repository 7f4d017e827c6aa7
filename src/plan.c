/*
 * plan: placement, re-placement, removal of extras and rolling order for
 * `vzmaster deploy`, as a pure function (see plan.h for the semantics).
 * Everything is sorted by name before it is looked at, so the result does
 * not depend on the order of the input arrays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

enum nstate { N_UP, N_GRACE, N_GONE };

/* A replica on a draining node: to be moved, or kept for want of room. */
#define DRAIN_NO	0
#define DRAIN_MOVE	1
#define DRAIN_STUCK	2

struct pnode {
	const struct plan_node	*in;
	enum nstate		 state;
	int			 returned;
	const char		*vendor;	/* vendor, or the node name */
	int64_t			 committed;	/* requests planned here */
	int			 npods;		/* pods planned here */
	int			*ports;		/* hostPorts planned here */
	size_t			 nports;
};

/* One replica of a converged pod, found running on an UP or GRACE node. */
struct existing {
	size_t			 node;		/* index into sorted nodes */
	const struct plan_running *run;
};

struct ppod {
	const struct plan_pod	*in;
	int			 named;
	int			 converge;
	int			 killed;	/* killed and not named */
	struct existing		*ex;
	size_t			 nex;
	unsigned char		*drain;		/* per ex: DRAIN_* */
	size_t			*chosen;	/* nodes kept or started */
	size_t			 nchosen;
	int			 kept_on_up;	/* for the phase of updates */
	const char		*gone_node;	/* a GONE node that listed it */
};

struct ctx {
	const struct plan_input	*in;
	struct plan		*out;
	struct pnode		*nodes;		/* sorted by name */
	size_t			 nnodes;
	struct ppod		*pods;		/* sorted by name */
	size_t			 npods;
	int			 grace;
	int64_t			 reserve;
	size_t			 acap, pcap;
};

void
plan_input_init(struct plan_input *in)
{
	memset(in, 0, sizeof(*in));
	in->grace = PLAN_DEFAULT_GRACE;
	in->mem_reserve = PLAN_DEFAULT_RESERVE;
}

static int
cmp_node(const void *a, const void *b)
{
	const struct pnode *x = a, *y = b;

	return strcmp(x->in->name, y->in->name);
}

static int
cmp_pod(const void *a, const void *b)
{
	const struct ppod *x = a, *y = b;

	return strcmp(x->in->name, y->in->name);
}

static struct ppod *
find_pod(struct ctx *c, const char *name)
{
	size_t lo = 0, hi = c->npods;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(name, c->pods[mid].in->name);

		if (r == 0)
			return &c->pods[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int
is_named(const struct plan_input *in, const char *pod)
{
	size_t i;

	for (i = 0; i < in->nnamed; i++)
		if (in->named[i] != NULL && strcmp(in->named[i], pod) == 0)
			return 1;
	return 0;
}

static const char *
node_var(const struct plan_node *n, const char *key)
{
	size_t i;

	for (i = 0; i < n->nvars; i++)
		if (n->vars[i].key != NULL && strcmp(n->vars[i].key, key) == 0)
			return n->vars[i].value;
	return NULL;
}

static int
selector_match(const struct plan_pod *p, const struct pnode *pn)
{
	const struct plan_node *n = pn->in;
	size_t i, j;

	for (i = 0; i < p->n_node_selector; i++) {
		const char *k = p->node_selector[i].key;
		const char *v = p->node_selector[i].value;
		const char *have;
		int found = 0;

		if (k == NULL || v == NULL)
			return 0;
		if (strcmp(k, "group") == 0 ||
		    strcmp(k, "vzmaster/group") == 0) {
			for (j = 0; j < n->ngroups; j++)
				if (n->groups[j] != NULL &&
				    strcmp(n->groups[j], v) == 0)
					found = 1;
			if (!found)
				return 0;
			continue;
		}
		if (strcmp(k, "kubernetes.io/hostname") == 0) {
			if (strcmp(n->name, v) != 0)
				return 0;
			continue;
		}
		have = node_var(n, k);
		if (have == NULL && strcmp(k, "vendor") == 0)
			have = n->vendor;
		if (have == NULL || strcmp(have, v) != 0)
			return 0;
	}
	return 1;
}

static int
has_port(const struct pnode *pn, int port)
{
	size_t i;

	for (i = 0; i < pn->nports; i++)
		if (pn->ports[i] == port)
			return 1;
	return 0;
}

/* The first of the pod's hostPorts already taken on the node, or 0. */
static int
port_conflict(const struct plan_pod *p, const struct pnode *pn)
{
	size_t i;

	for (i = 0; i < p->n_host_ports; i++)
		if (has_port(pn, p->host_ports[i]))
			return p->host_ports[i];
	return 0;
}

static void
commit(struct pnode *pn, const struct plan_pod *p, int64_t mem)
{
	size_t i;

	pn->committed += mem;
	pn->npods++;
	if (p == NULL)
		return;
	for (i = 0; i < p->n_host_ports; i++) {
		if (has_port(pn, p->host_ports[i]))
			continue;
		pn->ports = xreallocarray(pn->ports, pn->nports + 1,
		    sizeof(*pn->ports));
		pn->ports[pn->nports++] = p->host_ports[i];
	}
}

static int64_t
node_free(const struct ctx *c, const struct pnode *pn)
{
	return pn->in->mem_total - c->reserve - pn->committed;
}

static int
mem_fits(const struct ctx *c, const struct pnode *pn, int64_t req)
{
	if (pn->in->mem_total <= 0 || req <= 0)
		return 1;
	return node_free(c, pn) >= req;
}

static char *
dupnull(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

static struct plan_action *
add_action(struct ctx *c, enum plan_op op, enum plan_reason reason,
    enum plan_phase phase, const char *pod, const char *node)
{
	struct plan *o = c->out;
	struct plan_action *a;

	if (o->n == c->acap) {
		c->acap = c->acap ? c->acap * 2 : 16;
		o->actions = xreallocarray(o->actions, c->acap,
		    sizeof(*o->actions));
	}
	a = &o->actions[o->n++];
	memset(a, 0, sizeof(*a));
	a->op = op;
	a->reason = reason;
	a->phase = phase;
	a->mode = PLAN_MODE_NONE;
	a->pod = xstrdup(pod);
	a->node = xstrdup(node);
	return a;
}

static void
add_problem(struct ctx *c, const char *pod, const char *text)
{
	struct plan *o = c->out;

	if (o->nproblems == c->pcap) {
		c->pcap = c->pcap ? c->pcap * 2 : 8;
		o->problems = xreallocarray(o->problems, c->pcap,
		    sizeof(*o->problems));
	}
	o->problems[o->nproblems].pod = dupnull(pod);
	o->problems[o->nproblems].text = xstrdup(text);
	o->nproblems++;
}

void
plan_format_bytes(int64_t v, struct buf *out)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int64_t div = 1;
	int u = 0;

	if (v < 0) {
		buf_addc(out, '-');
		v = -v;
	}
	while (u < 4 && v >= div * 1024) {
		div *= 1024;
		u++;
	}
	if (v % div == 0)
		buf_addf(out, "%lld %s", (long long)(v / div), unit[u]);
	else
		buf_addf(out, "%.1f %s", (double)v / (double)div, unit[u]);
}

/* ---- validation and setup ---- */

static int
setup(struct ctx *c, char *err, size_t errlen)
{
	const struct plan_input *in = c->in;
	size_t i, j;

	c->grace = in->grace > 0 ? in->grace : PLAN_DEFAULT_GRACE;
	c->reserve = in->mem_reserve >= 0 ? in->mem_reserve :
	    PLAN_DEFAULT_RESERVE;
	c->out->grace = c->grace;
	c->out->mem_reserve = c->reserve;

	if ((in->nnodes > 0 && in->nodes == NULL) ||
	    (in->npods > 0 && in->pods == NULL)) {
		snprintf(err, errlen, "plan input without its arrays");
		return -1;
	}
	c->nnodes = in->nnodes;
	c->nodes = xcalloc(c->nnodes ? c->nnodes : 1, sizeof(*c->nodes));
	for (i = 0; i < in->nnodes; i++) {
		const struct plan_node *n = &in->nodes[i];

		if (n->name == NULL) {
			snprintf(err, errlen, "node %zu has no name", i);
			return -1;
		}
		for (j = 0; j < n->npods; j++)
			if (n->pods == NULL || n->pods[j].pod == NULL) {
				snprintf(err, errlen, "%s: running pod %zu "
				    "has no name", n->name, j);
				return -1;
			}
		c->nodes[i].in = n;
		c->nodes[i].vendor = n->vendor != NULL ? n->vendor : n->name;
		if (n->reachable) {
			c->nodes[i].state = N_UP;
			c->nodes[i].returned = n->missed >= c->grace;
		} else if (n->missed < c->grace)
			c->nodes[i].state = N_GRACE;
		else
			c->nodes[i].state = N_GONE;
	}
	if (c->nnodes > 1)
		qsort(c->nodes, c->nnodes, sizeof(*c->nodes), cmp_node);
	for (i = 1; i < c->nnodes; i++)
		if (strcmp(c->nodes[i - 1].in->name, c->nodes[i].in->name)
		    == 0) {
			snprintf(err, errlen, "node '%s' listed twice",
			    c->nodes[i].in->name);
			return -1;
		}

	c->npods = in->npods;
	c->pods = xcalloc(c->npods ? c->npods : 1, sizeof(*c->pods));
	for (i = 0; i < in->npods; i++) {
		const struct plan_pod *p = &in->pods[i];
		struct ppod *pp = &c->pods[i];

		if (p->name == NULL) {
			snprintf(err, errlen, "pod %zu has no name", i);
			return -1;
		}
		if (p->replicas < 0) {
			snprintf(err, errlen, "%s: negative replicas (%d)",
			    p->name, p->replicas);
			return -1;
		}
		if (p->spec_hash == NULL) {
			snprintf(err, errlen, "%s: no spec hash", p->name);
			return -1;
		}
		if ((p->n_node_selector > 0 && p->node_selector == NULL) ||
		    (p->n_host_ports > 0 && p->host_ports == NULL)) {
			snprintf(err, errlen, "%s: selector or ports missing",
			    p->name);
			return -1;
		}
		pp->in = p;
		pp->named = is_named(in, p->name);
		pp->converge = in->nnamed == 0 || pp->named;
		pp->killed = p->killed && !pp->named;
	}
	if (c->npods > 1)
		qsort(c->pods, c->npods, sizeof(*c->pods), cmp_pod);
	for (i = 1; i < c->npods; i++)
		if (strcmp(c->pods[i - 1].in->name, c->pods[i].in->name) ==
		    0) {
			snprintf(err, errlen, "pod '%s' listed twice",
			    c->pods[i].in->name);
			return -1;
		}
	return 0;
}

/* Was this pod already seen on this node (a node listing it twice)? */
static int
seen_on(const struct ppod *pp, size_t node)
{
	size_t i;

	for (i = 0; i < pp->nex; i++)
		if (pp->ex[i].node == node)
			return 1;
	return 0;
}

/*
 * Walk what every node runs: retire removed and killed pods, count the
 * memory and ports of pods that are left alone, and collect the replicas
 * of the pods being converged.
 */
static void
collect(struct ctx *c)
{
	size_t i, j;

	for (i = 0; i < c->nnodes; i++) {
		struct pnode *pn = &c->nodes[i];
		const struct plan_node *n = pn->in;

		for (j = 0; j < n->npods; j++) {
			const struct plan_running *r = &n->pods[j];
			struct ppod *pp = find_pod(c, r->pod);
			struct plan_action *a;

			if (pn->state == N_GONE) {
				if (pp != NULL && pp->gone_node == NULL)
					pp->gone_node = n->name;
				continue;
			}
			if (pp == NULL || (pp->killed && pp->converge)) {
				if (c->in->nnamed == 0 && pn->state == N_UP) {
					a = add_action(c, PLAN_STOP, pp == NULL
					    ? PLAN_REASON_REMOVED :
					    PLAN_REASON_KILLED,
					    PLAN_PHASE_RETIRE, r->pod,
					    n->name);
					a->old_hash = dupnull(r->spec_hash);
					continue;
				}
				/* Left alone: it keeps its memory. */
				commit(pn, pp ? pp->in : NULL,
				    pp ? pp->in->mem_request : r->mem_used);
				continue;
			}
			if (!pp->converge || pp->killed) {
				commit(pn, pp->in, pp->in->mem_request);
				continue;
			}
			if (seen_on(pp, i))
				continue;
			pp->ex = xreallocarray(pp->ex, pp->nex + 1,
			    sizeof(*pp->ex));
			pp->ex[pp->nex].node = i;
			pp->ex[pp->nex].run = r;
			pp->nex++;
		}
	}
}

static int
vendor_count(const struct ctx *c, const struct ppod *pp, const char *vendor)
{
	size_t i;
	int k = 0;

	for (i = 0; i < pp->nchosen; i++)
		if (strcmp(c->nodes[pp->chosen[i]].vendor, vendor) == 0)
			k++;
	return k;
}

static int
is_chosen(const struct ppod *pp, size_t node)
{
	size_t i;

	for (i = 0; i < pp->nchosen; i++)
		if (pp->chosen[i] == node)
			return 1;
	return 0;
}

static void
choose(struct ppod *pp, size_t node)
{
	pp->chosen = xreallocarray(pp->chosen, pp->nchosen + 1,
	    sizeof(*pp->chosen));
	pp->chosen[pp->nchosen++] = node;
}

/* Lexicographic comparison of ranking keys, lower is better. */
static int
better(const long long *a, const long long *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i];
	return 0;
}

/*
 * Keep up to `replicas` of the running replicas of a converged pod; the
 * rest are stopped once the pod is complete elsewhere.
 */
static void
keep_existing(struct ctx *c, struct ppod *pp)
{
	const struct plan_pod *p = pp->in;
	int *used;
	size_t i, k;

	used = xcalloc(pp->nex ? pp->nex : 1, sizeof(*used));
	pp->drain = xcalloc(pp->nex ? pp->nex : 1, sizeof(*pp->drain));
	/* Replicas on nodes the selector no longer allows, or that drain,
	   are moved; their memory counts until they are stopped. */
	for (i = 0; i < pp->nex; i++) {
		struct pnode *pn = &c->nodes[pp->ex[i].node];

		if (selector_match(p, pn) && !pn->in->draining)
			continue;
		used[i] = 1;
		commit(pn, p, p->mem_request);
		if (pn->in->draining && selector_match(p, pn)) {
			/* stopped by place_new, once placed elsewhere */
			pp->drain[i] = DRAIN_MOVE;
			continue;
		}
		if (pn->state == N_UP) {
			struct plan_action *a = add_action(c, PLAN_STOP,
			    PLAN_REASON_SELECTOR, PLAN_PHASE_EXTRA, p->name,
			    pn->in->name);

			a->old_hash = dupnull(pp->ex[i].run->spec_hash);
			a->mem_request = p->mem_request;
		}
	}
	for (k = 0; k < (size_t)p->replicas; k++) {
		long long best[6] = { 0 }, key[6];
		size_t bi = (size_t)-1;

		for (i = 0; i < pp->nex; i++) {
			const struct pnode *pn = &c->nodes[pp->ex[i].node];
			const struct plan_running *r = pp->ex[i].run;

			if (used[i])
				continue;
			key[0] = pn->returned;
			key[1] = vendor_count(c, pp, pn->vendor);
			key[2] = pn->state != N_UP;
			key[3] = !r->healthy;
			key[4] = r->spec_hash == NULL ||
			    strcmp(r->spec_hash, p->spec_hash) != 0;
			key[5] = (long long)pp->ex[i].node;
			if (bi == (size_t)-1 || better(key, best, 6)) {
				bi = i;
				memcpy(best, key, sizeof(best));
			}
		}
		if (bi == (size_t)-1)
			break;
		used[bi] = 2;
		choose(pp, pp->ex[bi].node);
		commit(&c->nodes[pp->ex[bi].node], p, p->mem_request);
	}
	/* The extras still run until the end: their memory counts. */
	for (i = 0; i < pp->nex; i++) {
		struct pnode *pn = &c->nodes[pp->ex[i].node];
		struct plan_action *a;

		if (used[i] != 0)
			continue;
		commit(pn, p, p->mem_request);
		if (pn->state != N_UP)
			continue;
		a = add_action(c, PLAN_STOP, pn->returned ?
		    PLAN_REASON_NODE_RETURNED : PLAN_REASON_EXTRA,
		    PLAN_PHASE_EXTRA, p->name, pn->in->name);
		a->old_hash = dupnull(pp->ex[i].run->spec_hash);
		a->mem_request = p->mem_request;
	}
	free(used);
}

static int
hosts_pod(const struct ppod *pp, size_t node)
{
	return seen_on(pp, node) || is_chosen(pp, node);
}

static void
add_selector_text(const struct plan_pod *p, struct buf *b)
{
	size_t i;

	if (p->n_node_selector == 0)
		return;
	buf_adds(b, " matching nodeSelector ");
	for (i = 0; i < p->n_node_selector; i++)
		buf_addf(b, "%s%s=%s", i ? "," : "",
		    p->node_selector[i].key, p->node_selector[i].value);
}

/* Why no further node could take the pod, appended to b. */
static void
why_no_node(struct ctx *c, const struct ppod *pp, struct buf *b)
{
	const struct plan_pod *p = pp->in;
	size_t i, others = 0, sel_ok = 0, mem_bad = 0, port_bad = 0, down = 0;
	size_t draining = 0;
	int port = 0;

	for (i = 0; i < c->nnodes; i++) {
		const struct pnode *pn = &c->nodes[i];
		int pc;

		if (pn->state != N_UP) {
			down++;
			continue;
		}
		if (hosts_pod(pp, i))
			continue;
		if (pn->in->draining) {
			draining++;
			continue;
		}
		others++;
		if (!selector_match(p, pn))
			continue;
		sel_ok++;
		if (!mem_fits(c, pn, p->mem_request))
			mem_bad++;
		if ((pc = port_conflict(p, pn)) != 0) {
			port_bad++;
			if (port == 0)
				port = pc;
		}
	}
	if (others == 0)
		buf_adds(b, "no other reachable node");
	else if (sel_ok == 0) {
		buf_adds(b, "no other node");
		add_selector_text(p, b);
	} else {
		buf_adds(b, "no other node with ");
		if (mem_bad > 0) {
			plan_format_bytes(p->mem_request, b);
			buf_adds(b, port_bad > 0 ? " and " : "");
		}
		if (port_bad > 0)
			buf_addf(b, "hostPort %d", port);
		buf_adds(b, " free");
		add_selector_text(p, b);
	}
	if (down > 0)
		buf_addf(b, " (%zu node%s unreachable)", down,
		    down == 1 ? "" : "s");
	if (draining > 0)
		buf_addf(b, " (%zu node%s draining)", draining,
		    draining == 1 ? "" : "s");
}

/* The problem of a pod short of replicas. */
static void
explain_short(struct ctx *c, const struct ppod *pp)
{
	const struct plan_pod *p = pp->in;
	struct buf b = BUF_INIT;

	if (pp->nchosen == 0)
		buf_addf(&b, "%s: none of %d replica%s placed: ", p->name,
		    p->replicas, p->replicas == 1 ? "" : "s");
	else
		buf_addf(&b, "%s: only %zu of %d replicas placed: ", p->name,
		    pp->nchosen, p->replicas);
	why_no_node(c, pp, &b);
	add_problem(c, p->name, b.data);
	buf_release(&b);
}

/*
 * No node can take a replica: keep one on a draining node instead, if
 * there is one, and say why.  1 when one was kept.
 */
static int
keep_drained(struct ctx *c, struct ppod *pp)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < pp->nex; i++)
		if (pp->drain[i] == DRAIN_MOVE)
			break;
	if (i == pp->nex)
		return 0;
	buf_addf(&b, "%s: a replica stays on draining node %s: ",
	    pp->in->name, c->nodes[pp->ex[i].node].in->name);
	why_no_node(c, pp, &b);
	pp->drain[i] = DRAIN_STUCK;
	choose(pp, pp->ex[i].node);	/* its memory is committed */
	add_problem(c, pp->in->name, b.data);
	c->out->nstuck++;
	buf_release(&b);
	return 1;
}

/* Start the missing replicas of a pod on the best nodes left. */
static void
place_new(struct ctx *c, struct ppod *pp)
{
	const struct plan_pod *p = pp->in;
	size_t i;

	while (pp->nchosen < (size_t)p->replicas) {
		long long best[4] = { 0 }, key[4];
		size_t bi = (size_t)-1;
		struct plan_action *a;

		for (i = 0; i < c->nnodes; i++) {
			const struct pnode *pn = &c->nodes[i];
			int64_t freemem;

			if (pn->state != N_UP || hosts_pod(pp, i) ||
			    pn->in->draining || !selector_match(p, pn) ||
			    !mem_fits(c, pn, p->mem_request) ||
			    port_conflict(p, pn) != 0)
				continue;
			freemem = pn->in->mem_total > 0 ? node_free(c, pn) : 0;
			key[0] = vendor_count(c, pp, pn->vendor);
			key[1] = pn->npods;
			key[2] = -(long long)freemem;
			key[3] = (long long)i;
			if (bi == (size_t)-1 || better(key, best, 4)) {
				bi = i;
				memcpy(best, key, sizeof(best));
			}
		}
		if (bi == (size_t)-1) {
			if (keep_drained(c, pp))
				continue;
			explain_short(c, pp);
			break;
		}
		choose(pp, bi);
		commit(&c->nodes[bi], p, p->mem_request);
		a = add_action(c, PLAN_START, pp->gone_node != NULL ?
		    PLAN_REASON_REPLACE : PLAN_REASON_NEW, PLAN_PHASE_START,
		    p->name, c->nodes[bi].in->name);
		a->new_hash = xstrdup(p->spec_hash);
		a->other = dupnull(pp->gone_node);
		a->mem_request = p->mem_request;
	}
	/* What is placed elsewhere now leaves the draining nodes. */
	for (i = 0; i < pp->nex; i++) {
		const struct pnode *pn = &c->nodes[pp->ex[i].node];
		struct plan_action *a;

		if (pp->drain[i] != DRAIN_MOVE || pn->state != N_UP)
			continue;
		a = add_action(c, PLAN_STOP, PLAN_REASON_DRAIN,
		    PLAN_PHASE_EXTRA, p->name, pn->in->name);
		a->old_hash = dupnull(pp->ex[i].run->spec_hash);
		a->mem_request = p->mem_request;
	}
}

/*
 * Updates in waves of max_unavailable nodes (one by default), in node name
 * order; KEEPs for the rest.
 */
static void
roll(struct ctx *c, struct ppod *pp)
{
	const struct plan_pod *p = pp->in;
	size_t i, j;
	int nup = 0, per = p->max_unavailable > 1 ? p->max_unavailable : 1;

	/* ex[] is in node order: nodes were walked in sorted order. */
	for (i = 0; i < pp->nex; i++) {
		const struct pnode *pn = &c->nodes[pp->ex[i].node];
		const struct plan_running *r = pp->ex[i].run;
		struct plan_action *a;
		int kept = 0;

		for (j = 0; j < pp->nchosen; j++)
			if (pp->chosen[j] == pp->ex[i].node)
				kept = 1;
		if (!kept || pn->state != N_UP)
			continue;
		if (r->spec_hash != NULL &&
		    strcmp(r->spec_hash, p->spec_hash) == 0) {
			a = add_action(c, PLAN_KEEP, PLAN_REASON_NONE,
			    PLAN_PHASE_KEEP, p->name, pn->in->name);
		} else {
			a = add_action(c, PLAN_UPDATE, PLAN_REASON_NONE,
			    PLAN_PHASE_UPDATE, p->name, pn->in->name);
			a->wave = 1 + nup++ / per;
			a->mode = p->n_host_ports > 0 ? PLAN_STOP_FIRST :
			    PLAN_SIDE_BY_SIDE;
		}
		a->old_hash = dupnull(r->spec_hash);
		a->new_hash = xstrdup(p->spec_hash);
		a->mem_request = p->mem_request;
	}
}

static int
cmp_by_request(const void *a, const void *b)
{
	const struct ppod *x = *(const struct ppod *const *)a;
	const struct ppod *y = *(const struct ppod *const *)b;

	if (x->in->mem_request != y->in->mem_request)
		return x->in->mem_request > y->in->mem_request ? -1 : 1;
	return strcmp(x->in->name, y->in->name);
}

static int
cmp_action(const void *a, const void *b)
{
	const struct plan_action *x = a, *y = b;
	int r;

	if (x->phase != y->phase)
		return x->phase < y->phase ? -1 : 1;
	if ((r = strcmp(x->pod, y->pod)) != 0)
		return r;
	if (x->wave != y->wave)
		return x->wave < y->wave ? -1 : 1;
	if ((r = strcmp(x->node, y->node)) != 0)
		return r;
	return (int)x->op - (int)y->op;
}

static void
summarise(struct ctx *c)
{
	struct plan *o = c->out;
	size_t i, ns = 0;

	o->pods = xcalloc(c->npods ? c->npods : 1, sizeof(*o->pods));
	o->npods = c->npods;
	o->short_pods = xcalloc(c->npods ? c->npods : 1,
	    sizeof(*o->short_pods));
	for (i = 0; i < c->npods; i++) {
		const struct ppod *pp = &c->pods[i];
		struct plan_pod_state *s = &o->pods[i];

		s->name = xstrdup(pp->in->name);
		s->converged = pp->converge;
		s->killed = pp->killed;
		s->unkill = pp->in->killed && pp->named;
		s->replicas = pp->killed ? 0 : pp->in->replicas;
		s->placed = (int)pp->nchosen;
		if (pp->converge && !pp->killed &&
		    pp->nchosen < (size_t)pp->in->replicas) {
			s->short_ = 1;
			o->short_pods[ns++] = xstrdup(pp->in->name);
		}
	}
	o->nshort = ns;
}

int
plan_compute(const struct plan_input *in, struct plan *out, char *err,
    size_t errlen)
{
	struct ctx c;
	struct ppod **order = NULL;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.in = in;
	c.out = out;
	if (setup(&c, err, errlen) == -1)
		goto out;
	collect(&c);
	for (i = 0; i < in->nnamed; i++) {
		char msg[512];

		if (in->named[i] == NULL || find_pod(&c, in->named[i]) != NULL)
			continue;
		snprintf(msg, sizeof(msg), "%s: no such pod in the manifests",
		    in->named[i]);
		add_problem(&c, in->named[i], msg);
	}
	/* Every kept replica is counted before anything new is placed. */
	for (i = 0; i < c.npods; i++)
		if (c.pods[i].converge && !c.pods[i].killed)
			keep_existing(&c, &c.pods[i]);
	order = xcalloc(c.npods ? c.npods : 1, sizeof(*order));
	for (i = 0; i < c.npods; i++)
		order[i] = &c.pods[i];
	if (c.npods > 1)
		qsort(order, c.npods, sizeof(*order), cmp_by_request);
	for (i = 0; i < c.npods; i++)
		if (order[i]->converge && !order[i]->killed)
			place_new(&c, order[i]);
	for (i = 0; i < c.npods; i++)
		if (c.pods[i].converge && !c.pods[i].killed)
			roll(&c, &c.pods[i]);
	summarise(&c);
	if (out->n > 1)
		qsort(out->actions, out->n, sizeof(*out->actions),
		    cmp_action);
	rc = 0;
out:
	free(order);
	for (i = 0; i < c.nnodes; i++)
		free(c.nodes[i].ports);
	free(c.nodes);
	for (i = 0; i < c.npods; i++) {
		free(c.pods[i].ex);
		free(c.pods[i].drain);
		free(c.pods[i].chosen);
	}
	free(c.pods);
	if (rc == -1)
		plan_release(out);
	return rc;
}

void
plan_release(struct plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		free(p->actions[i].pod);
		free(p->actions[i].node);
		free(p->actions[i].old_hash);
		free(p->actions[i].new_hash);
		free(p->actions[i].other);
	}
	free(p->actions);
	for (i = 0; i < p->nproblems; i++) {
		free(p->problems[i].pod);
		free(p->problems[i].text);
	}
	free(p->problems);
	for (i = 0; i < p->npods; i++)
		free(p->pods[i].name);
	free(p->pods);
	for (i = 0; i < p->nshort; i++)
		free(p->short_pods[i]);
	free(p->short_pods);
	memset(p, 0, sizeof(*p));
}

size_t
plan_count(const struct plan *p, enum plan_op op)
{
	size_t i, k = 0;

	for (i = 0; i < p->n; i++)
		if (p->actions[i].op == op)
			k++;
	return k;
}

const char *
plan_op_name(enum plan_op op)
{
	switch (op) {
	case PLAN_START:
		return "start";
	case PLAN_STOP:
		return "stop";
	case PLAN_UPDATE:
		return "update";
	case PLAN_KEEP:
		return "keep";
	}
	return "?";
}

const char *
plan_reason_name(enum plan_reason r)
{
	switch (r) {
	case PLAN_REASON_NONE:
		return "";
	case PLAN_REASON_NEW:
		return "new";
	case PLAN_REASON_REPLACE:
		return "replace";
	case PLAN_REASON_EXTRA:
		return "extra";
	case PLAN_REASON_REMOVED:
		return "removed";
	case PLAN_REASON_KILLED:
		return "killed";
	case PLAN_REASON_NODE_RETURNED:
		return "node-returned";
	case PLAN_REASON_SELECTOR:
		return "selector";
	case PLAN_REASON_DRAIN:
		return "drain";
	}
	return "?";
}

const char *
plan_mode_name(enum plan_mode m)
{
	switch (m) {
	case PLAN_MODE_NONE:
		return "";
	case PLAN_SIDE_BY_SIDE:
		return "side-by-side";
	case PLAN_STOP_FIRST:
		return "stop-first";
	}
	return "?";
}

const char *
plan_phase_name(enum plan_phase ph)
{
	switch (ph) {
	case PLAN_PHASE_RETIRE:
		return "retire";
	case PLAN_PHASE_START:
		return "start";
	case PLAN_PHASE_UPDATE:
		return "update";
	case PLAN_PHASE_EXTRA:
		return "extra";
	case PLAN_PHASE_KEEP:
		return "keep";
	}
	return "?";
}

/* ---- output ---- */

static void
kv_opt(struct json_writer *w, const char *k, const char *v)
{
	json_key(w, k);
	if (v != NULL)
		json_string(w, v);
	else
		json_null(w);
}

void
plan_write_json(const struct plan *p, struct json_writer *w)
{
	size_t i;

	json_begin_object(w);
	json_key(w, "actions");
	json_begin_array(w);
	for (i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->actions[i];

		json_begin_object(w);
		json_kv_string(w, "op", plan_op_name(a->op));
		json_kv_string(w, "pod", a->pod);
		json_kv_string(w, "node", a->node);
		kv_opt(w, "reason", a->reason == PLAN_REASON_NONE ? NULL :
		    plan_reason_name(a->reason));
		json_kv_string(w, "phase", plan_phase_name(a->phase));
		json_kv_int(w, "wave", a->wave);
		kv_opt(w, "mode", a->mode == PLAN_MODE_NONE ? NULL :
		    plan_mode_name(a->mode));
		kv_opt(w, "oldHash", a->old_hash);
		kv_opt(w, "newHash", a->new_hash);
		kv_opt(w, "replaces", a->other);
		json_kv_int(w, "memRequest", a->mem_request);
		json_end_object(w);
	}
	json_end_array(w);
	json_key(w, "pods");
	json_begin_array(w);
	for (i = 0; i < p->npods; i++) {
		const struct plan_pod_state *s = &p->pods[i];

		json_begin_object(w);
		json_kv_string(w, "name", s->name);
		json_kv_int(w, "replicas", s->replicas);
		json_kv_int(w, "placed", s->placed);
		json_kv_bool(w, "converged", s->converged);
		json_kv_bool(w, "killed", s->killed);
		json_kv_bool(w, "unkill", s->unkill);
		json_kv_bool(w, "short", s->short_);
		json_end_object(w);
	}
	json_end_array(w);
	json_key(w, "problems");
	json_begin_array(w);
	for (i = 0; i < p->nproblems; i++) {
		json_begin_object(w);
		kv_opt(w, "pod", p->problems[i].pod);
		json_kv_string(w, "message", p->problems[i].text);
		json_end_object(w);
	}
	json_end_array(w);
	json_key(w, "short");
	json_begin_array(w);
	for (i = 0; i < p->nshort; i++)
		json_string(w, p->short_pods[i]);
	json_end_array(w);
	json_kv_int(w, "stuck", (int64_t)p->nstuck);
	json_end_object(w);
}

static void
short_hash(struct buf *b, const char *h)
{
	size_t n;

	if (h == NULL) {
		buf_adds(b, "-");
		return;
	}
	if (strncmp(h, "sha256:", 7) == 0)
		h += 7;
	n = strlen(h);
	buf_add(b, h, n > 12 ? 12 : n);
}

static void
action_detail(const struct plan_action *a, struct buf *b)
{
	switch (a->op) {
	case PLAN_START:
		short_hash(b, a->new_hash);
		if (a->other != NULL)
			buf_addf(b, " (replaces %s)", a->other);
		else
			buf_adds(b, " (new replica)");
		break;
	case PLAN_STOP:
		short_hash(b, a->old_hash);
		switch (a->reason) {
		case PLAN_REASON_REMOVED:
			buf_adds(b, " (not in the manifests)");
			break;
		case PLAN_REASON_KILLED:
			buf_adds(b, " (killed)");
			break;
		case PLAN_REASON_NODE_RETURNED:
			buf_adds(b, " (node returned, placed elsewhere)");
			break;
		case PLAN_REASON_SELECTOR:
			buf_adds(b, " (node no longer matches nodeSelector)");
			break;
		case PLAN_REASON_DRAIN:
			buf_adds(b, " (node draining, placed elsewhere)");
			break;
		default:
			buf_adds(b, " (extra replica)");
			break;
		}
		break;
	case PLAN_UPDATE:
		short_hash(b, a->old_hash);
		buf_adds(b, " -> ");
		short_hash(b, a->new_hash);
		buf_addf(b, " (wave %d, %s)", a->wave,
		    plan_mode_name(a->mode));
		break;
	case PLAN_KEEP:
		short_hash(b, a->old_hash);
		buf_adds(b, " (unchanged)");
		break;
	}
}

static int
cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
plan_format_table(const struct plan *p, int verbose, struct buf *out)
{
	const char **nodes;
	size_t i, j, nn = 0, wn = 4, wp = 3, shown = 0;
	struct buf d = BUF_INIT;

	nodes = xcalloc(p->n ? p->n : 1, sizeof(*nodes));
	for (i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->actions[i];

		if (a->op == PLAN_KEEP && !verbose)
			continue;
		nodes[nn++] = a->node;
		if (strlen(a->node) > wn)
			wn = strlen(a->node);
		if (strlen(a->pod) > wp)
			wp = strlen(a->pod);
	}
	if (nn > 1)
		qsort(nodes, nn, sizeof(*nodes), cmp_str_ptr);
	if (nn > 0)
		buf_addf(out, "%-*s  %-*s  %-6s  %s\n", (int)wn, "NODE",
		    (int)wp, "POD", "ACTION", "DETAIL");
	for (i = 0; i < nn; i++) {
		if (i > 0 && strcmp(nodes[i], nodes[i - 1]) == 0)
			continue;
		/* Actions are in apply order already; keep it per node. */
		for (j = 0; j < p->n; j++) {
			const struct plan_action *a = &p->actions[j];

			if (strcmp(a->node, nodes[i]) != 0 ||
			    (a->op == PLAN_KEEP && !verbose))
				continue;
			buf_reset(&d);
			action_detail(a, &d);
			buf_addf(out, "%-*s  %-*s  %-6s  %s\n", (int)wn,
			    a->node, (int)wp, a->pod, plan_op_name(a->op),
			    d.data);
			shown++;
		}
	}
	if (shown == 0)
		buf_adds(out, "nothing to change\n");
	for (i = 0; i < p->nproblems; i++)
		buf_addf(out, "problem: %s\n", p->problems[i].text);
	buf_release(&d);
	free(nodes);
}

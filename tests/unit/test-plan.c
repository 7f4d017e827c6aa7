/*
 * test-plan: the planner, table by table.  Every case is also checked for
 * determinism (the input shuffled several ways gives the same plan, byte
 * for byte) and for convergence (the plan applied to the observed state
 * and planned again gives only KEEPs).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "markers.h"
#include "plan.h"
#include "tap.h"

/* NODE() sets defaults that a case then overrides, on purpose. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define MiB ((int64_t)1024 * 1024)
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define RUNS(...) .pods = (struct plan_running[]){ __VA_ARGS__ },	\
	.npods = NELEM(((struct plan_running[]){ __VA_ARGS__ }))
#define GROUPS(...) .groups = (const char *const[]){ __VA_ARGS__ },	\
	.ngroups = NELEM(((const char *const[]){ __VA_ARGS__ }))
#define VARS(...) .vars = (struct plan_kv[]){ __VA_ARGS__ },		\
	.nvars = NELEM(((struct plan_kv[]){ __VA_ARGS__ }))
#define SEL(...) .node_selector = (struct plan_kv[]){ __VA_ARGS__ },	\
	.n_node_selector = NELEM(((struct plan_kv[]){ __VA_ARGS__ }))
#define PORTS(...) .host_ports = (const int[]){ __VA_ARGS__ },		\
	.n_host_ports = NELEM(((const int[]){ __VA_ARGS__ }))
#define NODE(n, v, ...) { .name = n, .vendor = v, .reachable = 1,	\
	.mem_total = 512 * MiB, __VA_ARGS__ }
#define POD(n, r, h, ...) { .name = n, .replicas = r, .spec_hash = h,	\
	__VA_ARGS__ }
/* healthy replica at hash h */
#define R(p, h) { p, h, 1, 0 }

struct opts {
	const char *const	*named;
	size_t			 nnamed;
	int			 grace;
	int64_t			 reserve;	/* -1: default */
};

static const struct opts defopts = { NULL, 0, 0, -1 };

/* "op pod node [reason] [wN mode]" joined by "; ", KEEPs left out. */
static void
canon(const struct plan *p, int keeps, struct buf *b)
{
	size_t i;

	buf_reset(b);
	for (i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->actions[i];

		if (a->op == PLAN_KEEP && !keeps)
			continue;
		if (b->len > 0)
			buf_adds(b, "; ");
		buf_addf(b, "%s %s %s", plan_op_name(a->op), a->pod, a->node);
		if (a->reason != PLAN_REASON_NONE)
			buf_addf(b, " %s", plan_reason_name(a->reason));
		if (a->op == PLAN_UPDATE)
			buf_addf(b, " w%d %s", a->wave,
			    plan_mode_name(a->mode));
	}
}

static void
shorts(const struct plan *p, struct buf *b)
{
	size_t i;

	buf_reset(b);
	for (i = 0; i < p->nshort; i++)
		buf_addf(b, "%s%s", i ? " " : "", p->short_pods[i]);
}

static void
whole(const struct plan *p, struct buf *b)
{
	struct json_writer w;

	buf_reset(b);
	json_writer_init(&w, b, 0);
	plan_write_json(p, &w);
	plan_format_table(p, 1, b);
}

static void
fill(struct plan_input *in, const struct plan_pod *pods, size_t npods,
    const struct plan_node *nodes, size_t nnodes, const struct opts *o)
{
	plan_input_init(in);
	in->pods = pods;
	in->npods = npods;
	in->nodes = nodes;
	in->nnodes = nnodes;
	in->named = o->named;
	in->nnamed = o->nnamed;
	if (o->grace > 0)
		in->grace = o->grace;
	if (o->reserve >= 0)
		in->mem_reserve = o->reserve;
}

static unsigned long rng = 12345;

static size_t
rnd(size_t n)
{
	rng = rng * 6364136223846793005UL + 1442695040888963407UL;
	return (size_t)((rng >> 33) % n);
}

#define SHUFFLE(a, n) do {						\
	size_t i_;							\
	for (i_ = (n); i_ > 1; i_--) {					\
		size_t j_ = rnd(i_);					\
		__typeof__((a)[0]) t_ = (a)[i_ - 1];			\
		(a)[i_ - 1] = (a)[j_];					\
		(a)[j_] = t_;						\
	}								\
} while (0)

/* The same input in other orders must give the very same plan. */
static void
check_shuffled(const char *name, const struct plan_pod *pods, size_t npods,
    const struct plan_node *nodes, size_t nnodes, const struct opts *o,
    const char *want)
{
	struct plan_pod *sp = xcalloc(npods + 1, sizeof(*sp));
	struct plan_node *sn = xcalloc(nnodes + 1, sizeof(*sn));
	struct plan_running **runs = xcalloc(nnodes + 1, sizeof(*runs));
	struct buf got = BUF_INIT;
	int round, same = 1;
	size_t i;

	for (round = 0; round < 6; round++) {
		struct plan_input in;
		struct plan p;
		char err[256];

		memcpy(sp, pods, npods * sizeof(*sp));
		memcpy(sn, nodes, nnodes * sizeof(*sn));
		SHUFFLE(sp, npods);
		SHUFFLE(sn, nnodes);
		for (i = 0; i < nnodes; i++) {
			runs[i] = xcalloc(sn[i].npods + 1, sizeof(**runs));
			if (sn[i].npods > 0)
				memcpy(runs[i], sn[i].pods,
				    sn[i].npods * sizeof(**runs));
			SHUFFLE(runs[i], sn[i].npods);
			sn[i].pods = runs[i];
		}
		fill(&in, sp, npods, sn, nnodes, o);
		if (plan_compute(&in, &p, err, sizeof(err)) == -1)
			same = 0;
		else {
			whole(&p, &got);
			if (strcmp(got.data, want) != 0)
				same = 0;
		}
		plan_release(&p);
		for (i = 0; i < nnodes; i++)
			free(runs[i]);
	}
	ok(same, "%s: same plan for shuffled input", name);
	buf_release(&got);
	free(runs);
	free(sn);
	free(sp);
}

/*
 * Apply the plan to what the nodes run (reachable ones only), clear the
 * "returned" state, plan again: nothing but KEEPs may come out.
 */
static void
check_converged(const char *name, const struct plan_pod *pods, size_t npods,
    const struct plan_node *nodes, size_t nnodes, const struct opts *o,
    const struct plan *p)
{
	struct plan_node *sn = xcalloc(nnodes + 1, sizeof(*sn));
	struct plan_running **runs = xcalloc(nnodes + 1, sizeof(*runs));
	struct plan_input in;
	struct plan p2;
	struct buf got = BUF_INIT, s1 = BUF_INIT, s2 = BUF_INIT;
	char err[256];
	size_t i, j, k;

	memcpy(sn, nodes, nnodes * sizeof(*sn));
	for (i = 0; i < nnodes; i++) {
		size_t n = sn[i].npods;

		runs[i] = xcalloc(n + p->n + 1, sizeof(**runs));
		if (n > 0)
			memcpy(runs[i], sn[i].pods, n * sizeof(**runs));
		for (j = 0; j < p->n; j++) {
			const struct plan_action *a = &p->actions[j];

			if (strcmp(a->node, sn[i].name) != 0)
				continue;
			for (k = 0; k < n; k++)
				if (strcmp(runs[i][k].pod, a->pod) == 0)
					break;
			switch (a->op) {
			case PLAN_START:
				runs[i][n].pod = a->pod;
				runs[i][n].spec_hash = a->new_hash;
				runs[i][n].healthy = 1;
				n++;
				break;
			case PLAN_UPDATE:
				if (k < n)
					runs[i][k].spec_hash = a->new_hash;
				break;
			case PLAN_STOP:
				if (k < n) {
					runs[i][k] = runs[i][n - 1];
					n--;
				}
				break;
			case PLAN_KEEP:
				break;
			}
		}
		sn[i].pods = runs[i];
		sn[i].npods = n;
		if (sn[i].reachable)
			sn[i].missed = 0;
	}
	fill(&in, pods, npods, sn, nnodes, o);
	if (plan_compute(&in, &p2, err, sizeof(err)) == -1) {
		ok(0, "%s: replan: %s", name, err);
		goto out;
	}
	canon(&p2, 0, &got);
	is_str(got.data, "", "%s: applied plan converges (only keeps)", name);
	shorts(p, &s1);
	shorts(&p2, &s2);
	is_str(s2.data, s1.data, "%s: same short pods after applying", name);
	plan_release(&p2);
out:
	for (i = 0; i < nnodes; i++)
		free(runs[i]);
	free(runs);
	free(sn);
	buf_release(&got);
	buf_release(&s1);
	buf_release(&s2);
}

/*
 * Plan, compare with the expected actions, short pods and (a substring of)
 * the problems, then the generic determinism and convergence checks.  The
 * plan is returned for extra checks when p is not NULL.
 */
static void
check_full(const char *name, const struct plan_pod *pods, size_t npods,
    const struct plan_node *nodes, size_t nnodes, const struct opts *o,
    const char *want, const char *want_short, const char *want_problem,
    struct plan *keep)
{
	struct plan_input in;
	struct plan p, again;
	struct buf got = BUF_INIT, j1 = BUF_INIT, j2 = BUF_INIT;
	char err[256];
	size_t i;
	int found = 0;

	fill(&in, pods, npods, nodes, nnodes, o);
	if (plan_compute(&in, &p, err, sizeof(err)) == -1) {
		ok(0, "%s: plan_compute failed: %s", name, err);
		return;
	}
	canon(&p, 0, &got);
	is_str(got.data, want, "%s: actions", name);
	shorts(&p, &got);
	is_str(got.data, want_short, "%s: short pods", name);
	if (want_problem != NULL) {
		for (i = 0; i < p.nproblems; i++)
			if (strstr(p.problems[i].text, want_problem) != NULL)
				found = 1;
		ok(found, "%s: problem '%s'", name, want_problem);
		if (!found)
			for (i = 0; i < p.nproblems; i++)
				diag_note("problem: %s", p.problems[i].text);
	} else
		is_int(p.nproblems, 0, "%s: no problems", name);

	/* Same input, same output: run twice. */
	whole(&p, &j1);
	if (plan_compute(&in, &again, err, sizeof(err)) == 0) {
		whole(&again, &j2);
		is_str(j2.data, j1.data, "%s: repeated run identical", name);
		plan_release(&again);
	}
	check_shuffled(name, pods, npods, nodes, nnodes, o, j1.data);
	check_converged(name, pods, npods, nodes, nnodes, o, &p);
	if (keep != NULL)
		*keep = p;
	else
		plan_release(&p);
	buf_release(&got);
	buf_release(&j1);
	buf_release(&j2);
}

#define CHECK(name, pods, nodes, o, want, sh, prob)			\
	check_full(name, pods, NELEM(pods), nodes, NELEM(nodes), o,	\
	    want, sh, prob, NULL)
#define CHECKP(name, pods, nodes, o, want, sh, prob, p)			\
	check_full(name, pods, NELEM(pods), nodes, NELEM(nodes), o,	\
	    want, sh, prob, p)

static const struct plan_action *
find(const struct plan *p, enum plan_op op, const char *pod,
    const char *node)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->actions[i].op == op &&
		    strcmp(p->actions[i].pod, pod) == 0 &&
		    strcmp(p->actions[i].node, node) == 0)
			return &p->actions[i];
	return NULL;
}

static void
test_first_placement(void)
{
	struct plan_node nodes[] = {
		NODE("a1", "A"), NODE("a2", "A"), NODE("b1", "B"),
	};
	struct plan_pod two[] = { POD("web", 2, "h1") };
	struct plan_pod three[] = { POD("web", 3, "h1") };
	struct plan_pod four[] = { POD("web", 4, "h1") };
	struct plan_pod one[] = { POD("web", 1, "h1") };
	struct plan p;

	CHECKP("spread: 2 replicas on 2 vendors", two, nodes, &defopts,
	    "start web a1 new; start web b1 new", "", NULL, &p);
	ok(p.actions[0].phase == PLAN_PHASE_START, "starts are phase start");
	is_str(p.actions[0].new_hash, "h1", "start carries the new hash");
	is_int(p.npods, 1, "one pod state");
	is_int(p.pods[0].placed, 2, "2 placed");
	is_int(p.pods[0].short_, 0, "not short");
	plan_release(&p);
	CHECK("more replicas than vendors", three, nodes, &defopts,
	    "start web a1 new; start web a2 new; start web b1 new", "", NULL);
	CHECKP("more replicas than nodes", four, nodes, &defopts,
	    "start web a1 new; start web a2 new; start web b1 new", "web",
	    "web: only 3 of 4 replicas placed: no other reachable node", &p);
	is_int(p.pods[0].short_, 1, "pod state says short");
	is_int(p.pods[0].placed, 3, "3 placed");
	plan_release(&p);
	CHECK("single replica on first node", one, nodes, &defopts,
	    "start web a1 new", "", NULL);
}

static void
test_vendor_spread_four(void)
{
	/* 4 replicas over 2 vendors with 3 nodes each: 2 + 2. */
	struct plan_node nodes[] = {
		NODE("a1", "A"), NODE("a2", "A"), NODE("a3", "A"),
		NODE("b1", "B"), NODE("b2", "B"), NODE("b3", "B"),
	};
	struct plan_pod pods[] = { POD("web", 4, "h1") };
	/* Vendorless nodes are vendors of their own. */
	struct plan_node own[] = {
		NODE("a1", "A"), NODE("a2", "A"), NODE("x1", NULL),
	};
	struct plan_pod two[] = { POD("web", 2, "h1") };

	CHECK("4 replicas over 2 vendors: 2 each", pods, nodes, &defopts,
	    "start web a1 new; start web a2 new; start web b1 new; "
	    "start web b2 new", "", NULL);
	CHECK("vendorless node is its own vendor", two, own, &defopts,
	    "start web a1 new; start web x1 new", "", NULL);
}

static void
test_selector(void)
{
	struct plan_node nodes[] = {
		NODE("a1", "A", GROUPS("db")),
		NODE("a2", "A", GROUPS("web", "all")),
		NODE("b1", "B", GROUPS("web"), VARS({ "role", "front" })),
	};
	struct plan_pod bygroup[] = {
		POD("web", 2, "h1", SEL({ "group", "web" })),
	};
	struct plan_pod byvzgroup[] = {
		POD("db", 2, "h1", SEL({ "vzmaster/group", "db" })),
	};
	struct plan_pod byvar[] = {
		POD("web", 1, "h1", SEL({ "role", "front" })),
	};
	struct plan_pod byvendor[] = {
		POD("web", 2, "h1", SEL({ "vendor", "A" })),
	};
	struct plan_pod byhost[] = {
		POD("web", 1, "h1", SEL({ "kubernetes.io/hostname", "a2" })),
	};
	struct plan_pod both[] = {
		POD("web", 1, "h1", SEL({ "group", "web" },
		    { "role", "front" })),
	};
	struct plan_pod none[] = {
		POD("gpu", 1, "h1", SEL({ "role", "gpu" })),
	};

	CHECK("nodeSelector by group", bygroup, nodes, &defopts,
	    "start web a2 new; start web b1 new", "", NULL);
	CHECK("nodeSelector by vzmaster/group", byvzgroup, nodes, &defopts,
	    "start db a1 new", "db",
	    "db: only 1 of 2 replicas placed: no other node matching "
	    "nodeSelector vzmaster/group=db");
	CHECK("nodeSelector by host var", byvar, nodes, &defopts,
	    "start web b1 new", "", NULL);
	CHECK("nodeSelector vendor falls back to the vendor", byvendor,
	    nodes, &defopts, "start web a1 new; start web a2 new", "", NULL);
	CHECK("nodeSelector by hostname", byhost, nodes, &defopts,
	    "start web a2 new", "", NULL);
	CHECK("nodeSelector: all entries must match", both, nodes, &defopts,
	    "start web b1 new", "", NULL);
	CHECK("nodeSelector matching nothing", none, nodes, &defopts, "",
	    "gpu", "gpu: none of 1 replica placed: no other node matching "
	    "nodeSelector role=gpu");
}

static void
test_capacity(void)
{
	struct plan_node nodes[] = {
		NODE("a1", "A"), NODE("a2", "A"), NODE("b1", "B"),
	};
	struct plan_pod pods[] = {
		POD("small", 3, "h1", .mem_request = 100 * MiB),
		POD("big", 2, "h2", .mem_request = 300 * MiB),
	};
	struct opts noreserve = { NULL, 0, 0, 0 };
	struct plan_node one[] = { NODE("n1", "A") };
	struct plan_pod exact[] = {
		POD("fit", 1, "h1", .mem_request = 384 * MiB),
	};
	struct plan_pod over[] = {
		POD("fit", 1, "h1", .mem_request = 385 * MiB),
	};
	struct plan_pod sum[] = {
		POD("p1", 1, "h1", .mem_request = 200 * MiB),
		POD("p2", 1, "h1", .mem_request = 200 * MiB),
	};
	struct plan_node web[] = {
		NODE("n1", "A", VARS({ "role", "web" })),
		NODE("n2", "B", VARS({ "role", "web" }),
		    .mem_total = 160 * MiB),
		NODE("n3", "B"),
	};
	struct plan_pod webpod[] = {
		POD("web", 2, "h1", .mem_request = 64 * MiB,
		    SEL({ "role", "web" })),
	};
	/* Running pods count with their manifest request. */
	struct plan_node busy[] = {
		NODE("n1", "A", RUNS(R("p1", "h1"))),
		NODE("n2", "A"),
	};

	CHECK("capacity: largest first, the rest short", pods, nodes,
	    &defopts, "start big a1 new; start big b1 new; start small a2 new",
	    "small", "small: only 1 of 3 replicas placed: no other node with "
	    "100 MiB free");
	CHECK("capacity without reserve", pods, nodes, &noreserve,
	    "start big a1 new; start big b1 new; start small a1 new; "
	    "start small a2 new; start small b1 new", "", NULL);
	CHECK("request equal to memory minus reserve fits", exact, one,
	    &defopts, "start fit n1 new", "", NULL);
	CHECK("one byte more does not", over, one, &defopts, "", "fit",
	    "fit: none of 1 replica placed: no other node with 385 MiB free");
	CHECK("sum of requests on one node", sum, one, &defopts,
	    "start p1 n1 new", "p2", "p2: none of 1 replica placed");
	CHECK("the issue's message", webpod, web, &defopts,
	    "start web n1 new", "web",
	    "web: only 1 of 2 replicas placed: no other node with 64 MiB "
	    "free matching nodeSelector role=web");
	CHECK("running pods' requests count", sum, busy, &defopts,
	    "start p2 n2 new", "", NULL);
}

static void
test_balance(void)
{
	struct plan_node nodes[] = { NODE("a1", "A"), NODE("b1", "B") };
	struct plan_pod pods[] = { POD("api", 1, "h1"), POD("web", 1, "h1") };
	struct plan_node big[] = {
		NODE("a1", "A"), NODE("b1", "B", .mem_total = 1024 * MiB),
	};
	struct plan_pod one[] = { POD("web", 1, "h1") };

	CHECK("balance: fewest pods", pods, nodes, &defopts,
	    "start api a1 new; start web b1 new", "", NULL);
	CHECK("balance: most free memory", one, big, &defopts,
	    "start web b1 new", "", NULL);
}

static void
test_stability(void)
{
	struct plan_node nodes[] = {
		NODE("a1", "A"),
		NODE("a2", "A", RUNS(R("web", "h1"))),
		NODE("b1", "B", RUNS(R("web", "h1"))),
	};
	struct plan_node samevendor[] = {
		NODE("a1", "A", RUNS(R("web", "h1"))),
		NODE("a2", "A", RUNS(R("web", "h1"))),
		NODE("b1", "B"),
	};
	struct plan_pod pods[] = { POD("web", 2, "h1") };
	struct plan_node unhealthy[] = {
		NODE("a1", "A", RUNS({ "web", "h1", 0, 0 })),
		NODE("b1", "B"),
	};
	struct plan_pod one[] = { POD("web", 1, "h1") };
	struct plan p;
	struct buf b = BUF_INIT;

	CHECKP("stable: kept although a1 sorts first", pods, nodes,
	    &defopts, "", "", NULL, &p);
	canon(&p, 1, &b);
	is_str(b.data, "keep web a2; keep web b1", "stable: keeps listed");
	plan_release(&p);
	CHECK("stable: no churn for better spread", pods, samevendor,
	    &defopts, "", "", NULL);
	CHECK("stable: unhealthy replica stays (supervisor restarts it)",
	    one, unhealthy, &defopts, "", "", NULL);
	buf_release(&b);
}

static void
test_grace(void)
{
	struct plan_node cut[] = {
		NODE("a1", "A", RUNS(R("web", "h1"))),
		NODE("a2", "A"),
		NODE("b1", "B", RUNS(R("web", "h1")), .reachable = 0,
		    .missed = 1),
		NODE("b2", "B"),
	};
	struct plan_node gone[] = {
		NODE("a1", "A", RUNS(R("web", "h1"))),
		NODE("a2", "A"),
		NODE("b1", "B", RUNS(R("web", "h1")), .reachable = 0,
		    .missed = 2),
		NODE("b2", "B"),
	};
	struct plan_node gone_novendor[] = {
		NODE("a1", "A", RUNS(R("web", "h1"))),
		NODE("a2", "A"),
		NODE("b1", "B", RUNS(R("web", "h1")), .reachable = 0,
		    .missed = 5),
	};
	struct plan_pod pods[] = { POD("web", 2, "h1") };
	struct opts grace3 = { NULL, 0, 3, -1 };
	struct plan p;

	CHECKP("grace: missed 1 < 2: nothing moves", pods, cut, &defopts,
	    "", "", NULL, &p);
	ok(find(&p, PLAN_KEEP, "web", "b1") == NULL,
	    "grace: no action at all on the unreachable node");
	is_int(p.pods[0].placed, 2, "grace: its replica counts as placed");
	plan_release(&p);
	CHECKP("gone: missed 2 >= 2: re-placed on the other vendor", pods,
	    gone, &defopts, "start web b2 replace", "", NULL, &p);
	is_str(find(&p, PLAN_START, "web", "b2")->other, "b1",
	    "gone: start names the gone node");
	plan_release(&p);
	CHECK("grace 3: missed 2 still within", pods, gone, &grace3, "", "",
	    NULL);
	CHECK("gone: only one vendor left", pods, gone_novendor, &defopts,
	    "start web a2 replace", "", NULL);
}

static void
test_node_returns(void)
{
	/* b1 was gone (3 misses), web moved to b2; b1 answers again. */
	struct plan_node back[] = {
		NODE("a1", "A", RUNS(R("web", "h1"))),
		NODE("b1", "B", RUNS(R("web", "h1"), R("api", "h1")),
		    .missed = 3),
		NODE("b2", "B", RUNS(R("web", "h1"))),
		NODE("c1", "C", RUNS(R("api", "h1"))),
	};
	struct plan_pod pods[] = { POD("web", 2, "h1"), POD("api", 1, "h1") };
	struct plan_pod web[] = { POD("web", 2, "h1") };
	/* Back after a short cut: nothing was moved, nothing is stopped. */
	struct plan_node shortcut[] = {
		NODE("a1", "A", RUNS(R("web", "h1"))),
		NODE("b1", "B", RUNS(R("web", "h1")), .missed = 1),
	};
	/* Back, but its copy is still needed: kept. */
	struct plan_node needed[] = {
		NODE("a1", "A", RUNS(R("web", "h1"))),
		NODE("b1", "B", RUNS(R("web", "h1")), .missed = 4),
	};
	struct plan p;

	CHECKP("node returns: its extras are stopped", pods, back, &defopts,
	    "stop api b1 node-returned; stop web b1 node-returned", "", NULL,
	    &p);
	ok(p.actions[0].phase == PLAN_PHASE_EXTRA,
	    "node returns: stops are in the last phase");
	is_str(p.actions[0].old_hash, "h1", "stop carries the old hash");
	plan_release(&p);
	CHECK("node back within grace: nothing stopped", web, shortcut,
	    &defopts, "", "", NULL);
	CHECK("returned node's replica still needed: kept", web, needed,
	    &defopts, "", "", NULL);
}

static void
test_scale_down(void)
{
	struct plan_node nodes[] = {
		NODE("a1", "A", RUNS(R("web", "h1"))),
		NODE("a2", "A", RUNS(R("web", "h1"))),
		NODE("b1", "B", RUNS(R("web", "h1"))),
	};
	struct plan_pod two[] = { POD("web", 2, "h1") };
	struct plan_pod zero[] = { POD("web", 0, "h1") };
	struct plan_node sick[] = {
		NODE("a1", "A", RUNS({ "web", "h1", 0, 0 })),
		NODE("a2", "A", RUNS(R("web", "h1"))),
		NODE("b1", "B", RUNS(R("web", "h1"))),
	};
	struct plan_node grace[] = {
		NODE("a1", "A", RUNS(R("web", "h1")), .reachable = 0,
		    .missed = 1),
		NODE("b1", "B", RUNS(R("web", "h1"))),
	};
	struct plan_pod one[] = { POD("web", 1, "h1") };

	CHECK("replicas reduced: extra removed keeping spread", two, nodes,
	    &defopts, "stop web a2 extra", "", NULL);
	CHECK("replicas 0: all stopped", zero, nodes, &defopts,
	    "stop web a1 extra; stop web a2 extra; stop web b1 extra", "",
	    NULL);
	CHECK("replicas reduced: the unhealthy one goes", two, sick,
	    &defopts, "stop web a1 extra", "", NULL);
	CHECK("replicas reduced: keep the reachable one, no action on the "
	    "other", one, grace, &defopts, "", "", NULL);
}

static void
test_removed_killed(void)
{
	struct plan_node nodes[] = {
		NODE("a1", "A", RUNS(R("old", "h0"), R("web", "h1"))),
		NODE("b1", "B", RUNS(R("web", "h1"))),
	};
	struct plan_pod pods[] = { POD("web", 2, "h1") };
	struct plan_pod killed[] = {
		POD("web", 2, "h1", .killed = 1), POD("api", 1, "h1"),
	};
	struct plan_node empty[] = { NODE("a1", "A"), NODE("b1", "B") };
	static const char *const named_web[] = { "web" };
	static const char *const named_ghost[] = { "ghost" };
	struct opts named = { named_web, 1, 0, -1 };
	struct opts ghost = { named_ghost, 1, 0, -1 };
	struct plan_node mixed[] = {
		NODE("a1", "A", RUNS(R("old", "h0"), R("api", "h0"))),
		NODE("b1", "B"),
	};
	struct plan p;

	CHECKP("pod removed from the manifests is stopped", pods, nodes,
	    &defopts, "stop old a1 removed", "", NULL, &p);
	ok(p.actions[0].phase == PLAN_PHASE_RETIRE, "removal phase retire");
	plan_release(&p);
	CHECKP("killed pod is stopped everywhere", killed, nodes, &defopts,
	    "stop old a1 removed; stop web a1 killed; stop web b1 killed; "
	    "start api a1 new", "", NULL, &p);
	is_int(p.pods[1].killed, 1, "pod state: killed");
	is_int(p.pods[1].replicas, 0, "pod state: killed wants 0");
	plan_release(&p);
	CHECK("killed pod is not started", killed, empty, &defopts,
	    "start api a1 new", "", NULL);
	CHECKP("killed + named: started again", killed, empty, &named,
	    "start web a1 new; start web b1 new", "", NULL, &p);
	is_int(p.pods[1].unkill, 1, "pod state: unkill for the caller");
	plan_release(&p);
	/* Named: api and old are left alone; old keeps its memory. */
	CHECK("named: only the named pods converge", killed, mixed, &named,
	    "start web a1 new; start web b1 new", "", NULL);
	CHECK("named pod missing from the manifests", pods, empty, &ghost,
	    "", "", "ghost: no such pod in the manifests");
}

static void
test_rolling(void)
{
	struct plan_node nodes[] = {
		NODE("a1", "A", RUNS(R("web", "h1"))),
		NODE("a2", "A", RUNS(R("web", "h1"))),
		NODE("b1", "B", RUNS(R("web", "h1"))),
		NODE("b2", "B"),
	};
	struct plan_pod side[] = { POD("web", 3, "h2") };
	struct plan_pod grow[] = { POD("web", 4, "h2") };
	struct plan_pod ports[] = { POD("web", 3, "h2", PORTS(80)) };
	struct plan_node cut[] = {
		NODE("a1", "A", RUNS(R("web", "h1"))),
		NODE("b1", "B", RUNS(R("web", "h1")), .reachable = 0,
		    .missed = 1),
	};
	struct plan_pod two[] = { POD("web", 2, "h2") };
	struct plan p;

	CHECKP("rolling: one wave per node, side by side", side, nodes,
	    &defopts, "update web a1 w1 side-by-side; update web a2 w2 "
	    "side-by-side; update web b1 w3 side-by-side", "", NULL, &p);
	is_str(p.actions[0].old_hash, "h1", "update: old hash");
	is_str(p.actions[0].new_hash, "h2", "update: new hash");
	plan_release(&p);
	CHECK("rolling: new replica first, then the waves", grow, nodes,
	    &defopts, "start web b2 new; update web a1 w1 side-by-side; "
	    "update web a2 w2 side-by-side; update web b1 w3 side-by-side",
	    "", NULL);
	CHECK("rolling: hostPort means stop first", ports, nodes, &defopts,
	    "update web a1 w1 stop-first; update web a2 w2 stop-first; "
	    "update web b1 w3 stop-first", "", NULL);
	CHECK("rolling: unreachable node not updated", two, cut, &defopts,
	    "update web a1 w1 side-by-side", "", NULL);
	{
		struct plan_pod two_at_once[] = { POD("web", 3, "h2",
		    .max_unavailable = 2) };
		struct plan_pod all_at_once[] = { POD("web", 3, "h2",
		    PORTS(80), .max_unavailable = 3) };

		CHECK("rolling: maxUnavailable 2 updates two nodes a wave",
		    two_at_once, nodes, &defopts, "update web a1 w1 "
		    "side-by-side; update web a2 w1 side-by-side; update web "
		    "b1 w2 side-by-side", "", NULL);
		CHECK("rolling: Recreate (all replicas) is one wave",
		    all_at_once, nodes, &defopts, "update web a1 w1 "
		    "stop-first; update web a2 w1 stop-first; update web b1 "
		    "w1 stop-first", "", NULL);
	}
}

static void
test_unreachable(void)
{
	struct plan_node nodes[] = {
		NODE("a1", "A"),
		NODE("x1", "X", RUNS(R("old", "h0"), R("dead", "h1"),
		    R("web", "h0")), .reachable = 0, .missed = 1),
		NODE("x2", "X", RUNS(R("old", "h0")), .reachable = 0,
		    .missed = 9),
	};
	struct plan_pod pods[] = {
		POD("web", 1, "h1"), POD("dead", 1, "h1", .killed = 1),
	};
	struct plan p;
	size_t i;
	int none = 1;

	CHECKP("unreachable nodes get no actions", pods, nodes, &defopts,
	    "", "", NULL, &p);
	for (i = 0; i < p.n; i++)
		if (strcmp(p.actions[i].node, "a1") != 0)
			none = 0;
	ok(none, "unreachable: no action names x1 or x2");
	plan_release(&p);
}

static void
test_ports_and_selector_change(void)
{
	struct plan_node nodes[] = {
		NODE("a1", "A", RUNS(R("proxy", "h1"))),
		NODE("a2", "A"),
		NODE("b1", "B"),
	};
	struct plan_pod pods[] = {
		POD("proxy", 1, "h1", PORTS(80)),
		POD("web", 3, "h1", PORTS(80, 443)),
	};
	struct plan_node moved[] = {
		NODE("a1", "A", RUNS(R("web", "h1"))),
		NODE("b1", "B", VARS({ "role", "web" })),
	};
	struct plan_pod sel[] = { POD("web", 1, "h1", SEL({ "role", "web" })) };

	CHECK("hostPort used by another pod", pods, nodes, &defopts,
	    "start web a2 new; start web b1 new", "web",
	    "web: only 2 of 3 replicas placed: no other node with hostPort 80 "
	    "free");
	CHECK("selector no longer matches: moved", sel, moved, &defopts,
	    "start web b1 new; stop web a1 selector", "", NULL);
}

static void
test_drain(void)
{
	struct plan_node move[] = {
		NODE("a1", "A", .draining = 1, RUNS(R("web", "h1"))),
		NODE("a2", "A"),
		NODE("b1", "B", RUNS(R("web", "h1"))),
	};
	struct plan_node fresh[] = {
		NODE("a1", "A", .draining = 1),
		NODE("b1", "B"),
	};
	struct plan_node stuck[] = {
		NODE("a1", "A", .draining = 1, RUNS(R("web", "h1"))),
		NODE("b1", "B", RUNS(R("web", "h1"))),
	};
	struct plan_node full[] = {
		NODE("a1", "A", .draining = 1, RUNS(R("big", "h1"))),
		NODE("b1", "B", .mem_total = 256 * MiB),
	};
	struct plan_node away[] = {
		NODE("a1", "A", .draining = 1, .reachable = 0, .missed = 1,
		    RUNS(R("web", "h1"))),
		NODE("a2", "A"),
	};
	struct plan_pod web2[] = { POD("web", 2, "h1") };
	struct plan_pod web1[] = { POD("web", 1, "h1") };
	struct plan_pod big[] = { POD("big", 1, "h1", .mem_request =
	    300 * MiB) };
	struct plan p;
	struct buf t = BUF_INIT;

	CHECKP("draining: replaced elsewhere, then stopped", web2, move,
	    &defopts, "start web a2 new; stop web a1 drain", "", NULL, &p);
	ok(find(&p, PLAN_STOP, "web", "a1")->phase == PLAN_PHASE_EXTRA &&
	    p.nstuck == 0, "drain: the stop waits for the replacement");
	plan_format_table(&p, 0, &t);
	ok(strstr(t.data, "(node draining, placed elsewhere)") != NULL,
	    "drain: the table says why");
	plan_release(&p);
	CHECK("draining: no new replica there", web2, fresh, &defopts,
	    "start web b1 new", "web",
	    "web: only 1 of 2 replicas placed: no other reachable node "
	    "(1 node draining)");
	CHECKP("draining, no room elsewhere: it stays, stuck", web2, stuck,
	    &defopts, "", "",
	    "web: a replica stays on draining node a1: no other reachable "
	    "node", &p);
	is_int((long long)p.nstuck, 1, "drain: stuck counted");
	ok(find(&p, PLAN_KEEP, "web", "a1") != NULL,
	    "drain: the stuck replica is kept");
	plan_release(&p);
	CHECK("draining, too little memory elsewhere: it stays", big, full,
	    &defopts, "", "",
	    "big: a replica stays on draining node a1: no other node with "
	    "300 MiB free");
	CHECK("draining node unreachable: replaced, stopped when back", web1,
	    away, &defopts, "start web a2 new", "", NULL);
	buf_release(&t);
}

static void
test_bad_input(void)
{
	struct plan_node dup[] = { NODE("a1", "A"), NODE("a1", "B") };
	struct plan_pod pods[] = { POD("web", 1, "h1") };
	struct plan_pod neg[] = { POD("web", -1, "h1") };
	struct plan_pod nohash[] = { POD("web", 1, NULL) };
	struct plan_pod duppod[] = { POD("web", 1, "h"), POD("web", 2, "h") };
	struct plan_input in;
	struct plan p;
	char err[256];

	fill(&in, pods, 1, dup, 2, &defopts);
	is_int(plan_compute(&in, &p, err, sizeof(err)), -1, "duplicate node");
	is_str(err, "node 'a1' listed twice", "duplicate node message");
	ok(p.n == 0 && p.actions == NULL, "failed plan is empty");
	plan_release(&p);
	fill(&in, neg, 1, dup, 1, &defopts);
	is_int(plan_compute(&in, &p, err, sizeof(err)), -1, "negative");
	is_str(err, "web: negative replicas (-1)", "negative message");
	fill(&in, nohash, 1, dup, 1, &defopts);
	is_int(plan_compute(&in, &p, err, sizeof(err)), -1, "no hash");
	fill(&in, duppod, 2, dup, 1, &defopts);
	is_int(plan_compute(&in, &p, err, sizeof(err)), -1, "duplicate pod");
	is_str(err, "pod 'web' listed twice", "duplicate pod message");
	fill(&in, NULL, 0, NULL, 0, &defopts);
	is_int(plan_compute(&in, &p, err, sizeof(err)), 0, "empty input");
	is_int(p.n, 0, "empty input: no actions");
	plan_release(&p);
	plan_input_init(&in);
	in.grace = 0;
	in.mem_reserve = -1;
	is_int(plan_compute(&in, &p, err, sizeof(err)), 0, "defaults");
	is_int(p.grace, 2, "grace default 2");
	is_int(p.mem_reserve, 128 * MiB, "reserve default 128 MiB");
	plan_release(&p);
}

static void
test_output(void)
{
	struct plan_node nodes[] = {
		NODE("a1", "A", RUNS(R("web", "sha256:0123456789abcdef"),
		    R("old", "h0"))),
		NODE("b1", "B"),
	};
	struct plan_pod pods[] = {
		POD("web", 2, "sha256:fedcba9876543210"),
		POD("big", 1, "h", .mem_request = 4096 * MiB),
	};
	struct plan_input in;
	struct plan p;
	struct json_writer w;
	struct json_value *v = NULL;
	struct buf b = BUF_INIT;
	char err[256];

	fill(&in, pods, NELEM(pods), nodes, NELEM(nodes), &defopts);
	if (plan_compute(&in, &p, err, sizeof(err)) == -1) {
		ok(0, "output: %s", err);
		return;
	}
	plan_format_table(&p, 0, &b);
	is_str(b.data,
	    "NODE  POD  ACTION  DETAIL\n"
	    "a1    old  stop    h0 (not in the manifests)\n"
	    "a1    web  update  0123456789ab -> fedcba987654 (wave 1, "
	    "side-by-side)\n"
	    "b1    web  start   fedcba987654 (new replica)\n"
	    "problem: big: none of 1 replica placed: no other node with "
	    "4 GiB free\n", "table");
	buf_reset(&b);
	json_writer_init(&w, &b, 0);
	plan_write_json(&p, &w);
	ok(json_parse(b.data, b.len, &v, err, sizeof(err)) == 0,
	    "json parses back");
	if (v != NULL) {
		const struct json_value *a = json_get_array(v, "actions");
		const struct json_value *s = json_get_array(v, "short");

		ok(a != NULL && a->n == 3, "json: 3 actions");
		if (a != NULL && a->n == 3) {
			is_str(json_get_string(a->items[0], "op"), "stop",
			    "json: op");
			is_str(json_get_string(a->items[0], "reason"),
			    "removed", "json: reason");
			is_str(json_get_string(a->items[2], "mode"),
			    "side-by-side", "json: mode");
		}
		ok(s != NULL && s->n == 1 && strcmp(s->items[0]->str, "big")
		    == 0, "json: short pods");
		json_free(v);
	}
	plan_release(&p);
	buf_reset(&b);
	plan_format_bytes(1536 * 1024, &b);
	is_str(b.data, "1.5 MiB", "bytes: fraction");
	buf_release(&b);
}

/*
 * The story over several cron runs, with the markers counting the
 * probes: deploy, a node vanishes (first within grace, then gone),
 * re-placement, the node returns, extras removed, quiet again.
 */
struct world {
	const char	*name[3], *vendor[3];
	int		 up[3];
	struct plan_running run[3][4];
	size_t		 nrun[3];
};

static void
story_step(struct world *wd, struct markers *m, const struct plan_pod *pods,
    size_t npods, int64_t now, const char *want, const char *step)
{
	struct plan_node nodes[3];
	struct plan_running *known[3] = { NULL, NULL, NULL };
	struct plan_input in;
	struct plan p;
	struct buf got = BUF_INIT;
	char err[256];
	size_t i, j, k;

	memset(nodes, 0, sizeof(nodes));
	for (i = 0; i < 3; i++) {
		nodes[i].name = wd->name[i];
		nodes[i].vendor = wd->vendor[i];
		nodes[i].reachable = wd->up[i];
		nodes[i].mem_total = 512 * MiB;
		nodes[i].missed = markers_probe(m, wd->name[i], wd->up[i], now);
		if (wd->up[i]) {
			nodes[i].pods = wd->run[i];
			nodes[i].npods = wd->nrun[i];
		} else {
			nodes[i].npods = markers_last_known(m, wd->name[i],
			    &known[i]);
			nodes[i].pods = known[i];
		}
	}
	plan_input_init(&in);
	in.pods = pods;
	in.npods = npods;
	in.nodes = nodes;
	in.nnodes = 3;
	if (plan_compute(&in, &p, err, sizeof(err)) == -1) {
		ok(0, "%s: %s", step, err);
		return;
	}
	canon(&p, 0, &got);
	is_str(got.data, want, "story: %s", step);
	/* Apply on the reachable nodes and record it in the markers. */
	for (j = 0; j < p.n; j++) {
		const struct plan_action *a = &p.actions[j];

		for (i = 0; i < 3; i++)
			if (strcmp(a->node, wd->name[i]) == 0)
				break;
		if (i == 3 || !wd->up[i])
			continue;
		for (k = 0; k < wd->nrun[i]; k++)
			if (strcmp(wd->run[i][k].pod, a->pod) == 0)
				break;
		if (a->op == PLAN_START && wd->nrun[i] < 4) {
			wd->run[i][wd->nrun[i]].pod = pods[0].name;
			wd->run[i][wd->nrun[i]].spec_hash = pods[0].spec_hash;
			wd->run[i][wd->nrun[i]].healthy = 1;
			wd->nrun[i]++;
			markers_deployed_set(m, a->pod, a->node, a->new_hash,
			    now);
		} else if (a->op == PLAN_STOP && k < wd->nrun[i]) {
			wd->run[i][k] = wd->run[i][--wd->nrun[i]];
			markers_deployed_remove(m, a->pod, a->node);
		}
	}
	plan_release(&p);
	for (i = 0; i < 3; i++)
		free(known[i]);
	buf_release(&got);
}

static void
test_story(void)
{
	struct world wd = {
		{ "a1", "a2", "b1" }, { "A", "A", "B" }, { 1, 1, 1 },
		{ { { NULL, NULL, 0, 0 } } }, { 0, 0, 0 }
	};
	struct markers m = MARKERS_INIT;
	struct plan_pod pods[] = { POD("web", 2, "h1") };

	story_step(&wd, &m, pods, 1, 100, "start web a1 new; start web b1 new",
	    "first deploy, one per vendor");
	story_step(&wd, &m, pods, 1, 160, "", "second deploy changes nothing");
	wd.up[2] = 0;		/* b1 vanishes; its process state stays */
	story_step(&wd, &m, pods, 1, 220, "", "cut shorter than grace: "
	    "nothing moves");
	story_step(&wd, &m, pods, 1, 280, "start web a2 replace",
	    "gone after 2 probes: re-placed on a survivor");
	story_step(&wd, &m, pods, 1, 340, "", "survivors stable");
	wd.up[2] = 1;		/* b1 is back, still running web */
	story_step(&wd, &m, pods, 1, 400, "stop web b1 node-returned",
	    "node returns: its extra removed");
	story_step(&wd, &m, pods, 1, 460, "", "quiet again");
	ok(markers_deployed_get(&m, "web", "b1") == NULL &&
	    markers_deployed_get(&m, "web", "a2") != NULL,
	    "story: markers follow the pods");
	markers_release(&m);
}

int
main(void)
{
	test_first_placement();
	test_vendor_spread_four();
	test_selector();
	test_capacity();
	test_balance();
	test_stability();
	test_grace();
	test_node_returns();
	test_scale_down();
	test_removed_killed();
	test_rolling();
	test_unreachable();
	test_ports_and_selector_change();
	test_drain();
	test_bad_input();
	test_output();
	test_story();
	return done_testing();
}

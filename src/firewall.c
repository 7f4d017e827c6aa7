/*
 * firewall: opens a pod's hostPorts in the node's firewall while the pod is
 * installed, and closes them when it goes (firewall_sync), plus the hidden
 * verb `vzexec firewall [--root DIR] POD` that does the same from the pod's
 * spec file.  Every rule added carries the comment "vz:POD": that tag is
 * how later runs find their own rules, and nothing without it is touched.
 *
 * A packet to the node must pass every filter that is active, so each one
 * is handled on its own:
 *  - nftables: every base chain with hook input and policy drop (in ip,
 *    ip6 or inet tables) gets an accept rule per port at its top;
 *  - iptables and ip6tables: when `-S INPUT` shows policy DROP.  With the
 *    nf_tables backend their tables also appear in `nft list ruleset`
 *    (ip/ip6 table filter, chain INPUT); those chains are left to iptables,
 *    as native nft rules would make them unreadable to iptables.  The
 *    legacy backend is also looked at when its filter table is loaded
 *    (/proc/net/ip*_tables_names), as it filters independently of nft.
 * Tagged rules in chains that no longer drop are removed too.
 * Built into the static vzexec (libc, buf.c, json.c): the tools are run
 * with fork/execve and a pipe (child.c).
 *
 * A sync costs a few execs of those tools (over 100 ms), so the verbs skip
 * it when the pod's hostPorts did not change (firewall_same_ports).  That
 * is only safe while the last sync worked: firewall_sync_root keeps
 * ROOT/run/firewall/POD.error (the error text) from a failed sync until
 * one succeeds, and firewall_failed tells the verbs not to skip then.
 * Syncs under one ROOT take turns (flock of ROOT/run/firewall/lock): two
 * at once could both insert the same missing rule.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "child.h"
#include "json.h"
#include "vzexec.h"

#define FW_OUT_MAX	(64u << 20)	/* a ruleset larger than this: refuse */
#define FW_TAG_MAX	(VZ_NAME_MAX + 8)

static const char *const fw_bindirs[] = {
	"/usr/sbin", "/sbin", "/usr/bin", "/bin", NULL
};

struct fw_port {
	int		 port;
	const char	*proto;		/* "tcp", "udp" or "sctp" */
	int		 seen;		/* a rule for it is already there */
};

struct fw_want {
	struct fw_port	*v;
	size_t		 n;
};

struct fw_ctx {
	const char	*pod;
	char		 tag[FW_TAG_MAX];	/* vz:POD */
	struct fw_want	*want;
	char		*err;
	size_t		 errlen;
	int		 failed;
};

static void
fw_fail(struct fw_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fw_fail(struct fw_ctx *c, const char *fmt, ...)
{
	va_list ap;

	/* The first failure is the one reported; the others still run. */
	if (c->failed++ == 0) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
}

/*
 * Run argv (argv[0] a full path) to completion.  Its stdout goes to out;
 * its stderr too when with_stderr (for messages), else to /dev/null (for
 * output that is parsed).  Returns the exit status, or -1.
 */
static int
fw_run(char *const *argv, struct buf *out, int with_stderr)
{
	char tmp[16384];
	ssize_t n;
	pid_t pid;
	int fd, st;

	if ((pid = vz_child_start(argv, with_stderr, &fd)) == -1)
		return -1;
	for (;;) {
		n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out->len + (size_t)n <= FW_OUT_MAX)
			buf_add(out, tmp, (size_t)n);
	}
	close(fd);
	st = vz_child_wait(pid);
	if (out->len > 0 && out->data[out->len - 1] == '\n')
		out->len--;
	buf_addc(out, '\0');
	out->len--;
	return st;
}

/* Run a command that changes the ruleset; on failure say which. */
static int
fw_change(struct fw_ctx *c, char *const *argv)
{
	struct buf out = BUF_INIT;
	int rc;

	rc = fw_run(argv, &out, 1);
	if (rc != 0) {
		struct buf cmd = BUF_INIT;
		size_t i;

		for (i = 0; argv[i] != NULL; i++)
			buf_addf(&cmd, "%s%s", i ? " " : "", argv[i]);
		fw_fail(c, "'%s' failed: %s", cmd.data,
		    out.len ? out.data : rc == -1 ? strerror(errno) :
		    "non-zero exit");
		buf_release(&cmd);
	}
	buf_release(&out);
	return rc == 0 ? 0 : -1;
}

/* The hostPorts of a spec (deduplicated).  -1 and err on a bad entry. */
static int
fw_want_from_spec(const struct json_value *spec, struct fw_want *w,
    char *err, size_t errlen)
{
	const struct json_value *ctrs, *ports, *p;
	const char *proto;
	int64_t hp;
	size_t i, j, k;

	w->v = NULL;
	w->n = 0;
	if (spec == NULL || (ctrs = json_get_array(spec, "containers")) == NULL)
		return 0;
	for (i = 0; i < ctrs->n; i++) {
		if ((ports = json_get_array(ctrs->items[i], "ports")) == NULL)
			continue;
		for (j = 0; j < ports->n; j++) {
			p = ports->items[j];
			if (json_get(p, "hostPort") == NULL)
				continue;
			if (json_get_int(p, "hostPort", &hp) != 0 || hp < 1 ||
			    hp > 65535) {
				snprintf(err, errlen, "bad hostPort in "
				    "container %zu", i);
				return -1;
			}
			proto = json_get_string(p, "protocol");
			if (proto == NULL || strcasecmp(proto, "TCP") == 0)
				proto = "tcp";
			else if (strcasecmp(proto, "UDP") == 0)
				proto = "udp";
			else if (strcasecmp(proto, "SCTP") == 0)
				proto = "sctp";
			else {
				snprintf(err, errlen, "hostPort %d: unknown "
				    "protocol '%s'", (int)hp, proto);
				return -1;
			}
			for (k = 0; k < w->n; k++) {
				if (w->v[k].port == hp &&
				    strcmp(w->v[k].proto, proto) == 0)
					break;
			}
			if (k < w->n)
				continue;
			w->v = xreallocarray(w->v, w->n + 1, sizeof *w->v);
			w->v[w->n].port = (int)hp;
			w->v[w->n].proto = proto;
			w->v[w->n].seen = 0;
			w->n++;
		}
	}
	return 0;
}

/* A wanted port not yet seen: mark and return 1; else 0. */
static int
fw_claim(struct fw_want *w, const char *proto, int64_t port)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		if (!w->v[i].seen && w->v[i].port == port &&
		    strcmp(w->v[i].proto, proto) == 0) {
			w->v[i].seen = 1;
			return 1;
		}
	}
	return 0;
}

static void
fw_unsee(struct fw_want *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		w->v[i].seen = 0;
}

/* ---- nftables ---- */

/* Names passed to nft on its command line: plain identifiers only. */
static int
fw_nft_name_ok(const char *s)
{
	if (s == NULL || *s == '\0' || !isalpha((unsigned char)*s))
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("_-./", *s) == NULL)
			return 0;
	}
	return 1;
}

static int
fw_str_is(const struct json_value *o, const char *key, const char *want)
{
	const char *s = json_get_string(o, key);

	return s != NULL && strcmp(s, want) == 0;
}

/* Our rule shape: [match PROTO dport == PORT, accept]; 0, or -1. */
static int
fw_nft_rule_port(const struct json_value *rule, const char **proto,
    int64_t *port)
{
	const struct json_value *expr, *m, *left, *pl, *right;

	if ((expr = json_get_array(rule, "expr")) == NULL || expr->n != 2 ||
	    json_get(expr->items[1], "accept") == NULL ||
	    (m = json_get_object(expr->items[0], "match")) == NULL ||
	    !fw_str_is(m, "op", "==") ||
	    (left = json_get_object(m, "left")) == NULL ||
	    (pl = json_get_object(left, "payload")) == NULL ||
	    !fw_str_is(pl, "field", "dport") ||
	    (*proto = json_get_string(pl, "protocol")) == NULL ||
	    (right = json_get(m, "right")) == NULL ||
	    json_as_int(right, port) != 0)
		return -1;
	return 0;
}

/* Is (family, table, chain) one of the filtering chains? */
static int
fw_nft_is_active(const struct json_value **act, size_t nact,
    const struct json_value *rule)
{
	size_t i;

	for (i = 0; i < nact; i++) {
		if (fw_str_is(rule, "family", json_get_string(act[i],
		    "family")) &&
		    fw_str_is(rule, "table", json_get_string(act[i], "table")) &&
		    fw_str_is(rule, "chain", json_get_string(act[i], "name")))
			return 1;
	}
	return 0;
}

static void
fw_nft_delete(struct fw_ctx *c, const char *nft, const struct json_value *r)
{
	const char *fam = json_get_string(r, "family");
	const char *tab = json_get_string(r, "table");
	const char *ch = json_get_string(r, "chain");
	char handle[32];
	int64_t h;

	if (!fw_nft_name_ok(fam) || !fw_nft_name_ok(tab) ||
	    !fw_nft_name_ok(ch) || json_get_int(r, "handle", &h) != 0) {
		fw_fail(c, "nft: cannot remove a '%s' rule: odd names", c->tag);
		return;
	}
	snprintf(handle, sizeof handle, "%lld", (long long)h);
	{
		char *const argv[] = { (char *)nft, "delete", "rule",
		    (char *)fam, (char *)tab, (char *)ch, "handle", handle,
		    NULL };

		(void)fw_change(c, argv);
	}
}

static void
fw_nft_insert(struct fw_ctx *c, const char *nft, const struct json_value *ch,
    const struct fw_port *p)
{
	const char *fam = json_get_string(ch, "family");
	const char *tab = json_get_string(ch, "table");
	const char *name = json_get_string(ch, "name");
	char port[16], comment[FW_TAG_MAX + 2];

	if (!fw_nft_name_ok(fam) || !fw_nft_name_ok(tab) ||
	    !fw_nft_name_ok(name)) {
		fw_fail(c, "nft: cannot open port %d in chain '%s': odd names",
		    p->port, name ? name : "?");
		return;
	}
	snprintf(port, sizeof port, "%d", p->port);
	/* nft joins its argv and parses the line: the comment needs quotes
	   of its own (a bare "vz:web" is a syntax error at the colon). */
	snprintf(comment, sizeof comment, "\"%s\"", c->tag);
	{
		char *const argv[] = { (char *)nft, "insert", "rule",
		    (char *)fam, (char *)tab, (char *)name, (char *)p->proto,
		    "dport", port, "accept", "comment", comment, NULL };

		(void)fw_change(c, argv);
	}
}

/*
 * skip4/skip6: leave ip/ip6 "filter" "INPUT" chains alone (they belong to
 * an iptables/ip6tables with the nf_tables backend, handled elsewhere).
 */
static void
fw_nft(struct fw_ctx *c, const char *nft, int skip4, int skip6)
{
	struct buf out = BUF_INIT;
	struct json_value *doc = NULL;
	const struct json_value *items, *o, *ch, **act = NULL;
	const char *fam, *proto, *comment;
	char perr[256];
	size_t i, j, nact = 0;
	int64_t port;
	int rc;

	{
		char *const argv[] = { (char *)nft, "-j", "list", "ruleset",
		    NULL };

		rc = fw_run(argv, &out, 0);
	}
	/* A kernel without nf_tables (OpenVZ and some LXC VPSes) makes the
	   listing fail: nothing filters through nftables there, and a
	   warning on every deploy would only be noise. */
	if (rc != 0)
		goto out;
	if (out.len == 0)	/* no tables at all: some versions print "" */
		goto out;
	if (json_parse(out.data, out.len, &doc, perr, sizeof perr) != 0) {
		fw_fail(c, "cannot read 'nft -j list ruleset': %s", perr);
		goto out;
	}
	if ((items = json_get_array(doc, "nftables")) == NULL) {
		fw_fail(c, "'nft -j list ruleset': no \"nftables\" array");
		goto out;
	}
	act = xcalloc(items->n + 1, sizeof *act);
	for (i = 0; i < items->n; i++) {
		if ((ch = json_get_object(items->items[i], "chain")) == NULL ||
		    !fw_str_is(ch, "hook", "input") ||
		    !fw_str_is(ch, "policy", "drop") ||
		    (fam = json_get_string(ch, "family")) == NULL)
			continue;
		if (strcmp(fam, "ip") != 0 && strcmp(fam, "ip6") != 0 &&
		    strcmp(fam, "inet") != 0)
			continue;
		if (fw_str_is(ch, "table", "filter") &&
		    fw_str_is(ch, "name", "INPUT") &&
		    ((skip4 && strcmp(fam, "ip") == 0) ||
		    (skip6 && strcmp(fam, "ip6") == 0)))
			continue;
		act[nact++] = ch;
	}
	/* Our rules first: stale, duplicate or in a chain that no longer
	   drops go; the rest mark their port as present. */
	for (j = 0; j < nact; j++) {
		fw_unsee(c->want);
		for (i = 0; i < items->n; i++) {
			o = json_get_object(items->items[i], "rule");
			if (o == NULL || (comment = json_get_string(o,
			    "comment")) == NULL || strcmp(comment, c->tag) != 0 ||
			    !fw_nft_is_active(&act[j], 1, o))
				continue;
			if (fw_nft_rule_port(o, &proto, &port) == 0 &&
			    fw_claim(c->want, proto, port))
				continue;
			fw_nft_delete(c, nft, o);
		}
		for (i = 0; i < c->want->n; i++) {
			if (!c->want->v[i].seen)
				fw_nft_insert(c, nft, act[j], &c->want->v[i]);
		}
	}
	for (i = 0; i < items->n; i++) {
		o = json_get_object(items->items[i], "rule");
		if (o != NULL && (comment = json_get_string(o, "comment")) !=
		    NULL && strcmp(comment, c->tag) == 0 &&
		    !fw_nft_is_active(act, nact, o))
			fw_nft_delete(c, nft, o);
	}
out:
	free(act);
	json_free(doc);
	buf_release(&out);
}

/* ---- iptables / ip6tables ---- */

/* Split an `iptables -S` line into words, taking off double quotes. */
static size_t
fw_words(char *line, char **w, size_t max)
{
	size_t n = 0;
	char *s = line, *d;

	while (*s != '\0' && n + 1 < max) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		w[n++] = d = s;
		while (*s != '\0' && *s != ' ') {
			if (*s == '"') {
				for (s++; *s != '\0' && *s != '"'; s++) {
					if (*s == '\\' && s[1] != '\0')
						s++;
					*d++ = *s;
				}
				if (*s == '"')
					s++;
			} else
				*d++ = *s++;
		}
		if (*s == ' ')
			s++;
		*d = '\0';
	}
	w[n] = NULL;
	return n;
}

/* Our shape: -A INPUT -p P -m P --dport N -m comment --comment TAG -j ACCEPT */
static int
fw_xt_rule_port(char **w, size_t n, const char **proto, int64_t *port)
{
	char *end;
	long v;

	if (n != 14 || strcmp(w[2], "-p") != 0 || strcmp(w[3], w[5]) != 0 ||
	    strcmp(w[4], "-m") != 0 || strcmp(w[6], "--dport") != 0 ||
	    strcmp(w[8], "-m") != 0 || strcmp(w[9], "comment") != 0 ||
	    strcmp(w[10], "--comment") != 0 || strcmp(w[12], "-j") != 0 ||
	    strcmp(w[13], "ACCEPT") != 0)
		return -1;
	errno = 0;
	v = strtol(w[7], &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return -1;
	*proto = w[3];
	*port = v;
	return 0;
}

static void
fw_xt(struct fw_ctx *c, const char *bin)
{
	struct buf out = BUF_INIT;
	char *line, *next, *w[64];
	const char *proto;
	int64_t port;
	size_t i, n;
	int rc, drop = 0, hit;

	{
		char *const argv[] = { (char *)bin, "-w", "5", "-S", "INPUT",
		    NULL };

		rc = fw_run(argv, &out, 0);
	}
	if (rc != 0)		/* no such kernel support: not filtering */
		goto out;
	fw_unsee(c->want);
	for (line = out.data; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strcmp(line, "-P INPUT DROP") == 0)
			drop = 1;
	}
	/* The buffer now holds NUL-separated lines: walk them again. */
	for (line = out.data; line < out.data + out.len;
	    line += strlen(line) + 1) {
		if (strncmp(line, "-A INPUT ", 9) != 0 ||
		    strstr(line, c->tag) == NULL)
			continue;
		n = fw_words(line, w, sizeof w / sizeof w[0]);
		hit = 0;
		for (i = 0; i + 1 < n; i++) {
			if (strcmp(w[i], "--comment") == 0 &&
			    strcmp(w[i + 1], c->tag) == 0)
				hit = 1;
		}
		if (!hit)
			continue;
		if (drop && fw_xt_rule_port(w, n, &proto, &port) == 0 &&
		    fw_claim(c->want, proto, port))
			continue;
		/* The same words with -D delete exactly this rule. */
		{
			char *argv[70];
			size_t k = 0;

			argv[k++] = (char *)bin;
			argv[k++] = "-w";
			argv[k++] = "5";
			argv[k++] = "-D";
			for (i = 1; i < n; i++)
				argv[k++] = w[i];
			argv[k] = NULL;
			(void)fw_change(c, argv);
		}
	}
	for (i = 0; drop && i < c->want->n; i++) {
		char portstr[16];
		char *const argv[] = { (char *)bin, "-w", "5", "-I", "INPUT",
		    "-p", (char *)c->want->v[i].proto, "-m",
		    (char *)c->want->v[i].proto, "--dport", portstr, "-m",
		    "comment", "--comment", c->tag, "-j", "ACCEPT", NULL };

		if (c->want->v[i].seen)
			continue;
		snprintf(portstr, sizeof portstr, "%d", c->want->v[i].port);
		(void)fw_change(c, argv);
	}
out:
	buf_release(&out);
}

/* 1 when `BIN -V` names the nf_tables backend. */
static int
fw_xt_is_nft(const char *bin)
{
	struct buf out = BUF_INIT;
	char *const argv[] = { (char *)bin, "-V", NULL };
	int r;

	r = fw_run(argv, &out, 0) == 0 && strstr(out.data, "nf_tables") != NULL;
	buf_release(&out);
	return r;
}

/* 1 when the legacy x_tables filter table exists in this namespace. */
static int
fw_legacy_loaded(const char *procfile)
{
	struct buf b = BUF_INIT;
	char *line, *next;
	int r = 0;

	if (buf_read_file(&b, procfile, 65536) != 0)
		return 0;
	buf_addc(&b, '\0');
	for (line = b.data; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strcmp(line, "filter") == 0)
			r = 1;
	}
	buf_release(&b);
	return r;
}

int
firewall_sync(const char *pod, const struct json_value *spec, char *err,
    size_t errlen)
{
	static const struct {
		const char	*bin, *legacy, *proc;
	} xt[2] = {
		{ "iptables", "iptables-legacy", "/proc/net/ip_tables_names" },
		{ "ip6tables", "ip6tables-legacy",
		    "/proc/net/ip6_tables_names" },
	};
	struct fw_want want;
	struct fw_ctx c;
	char path[2][256], legacy[256], nft[256];
	int isnft[2] = { 0, 0 }, have[2] = { 0, 0 };
	size_t i;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (!spec_pod_name_ok(pod)) {
		snprintf(err, errlen, "invalid pod name '%s'", pod);
		return -1;
	}
	if (fw_want_from_spec(spec, &want, err, errlen) != 0) {
		free(want.v);
		return -1;
	}
	memset(&c, 0, sizeof c);
	c.pod = pod;
	snprintf(c.tag, sizeof c.tag, "vz:%s", pod);
	c.want = &want;
	c.err = err;
	c.errlen = errlen;

	for (i = 0; i < 2; i++) {
		if (vz_find_bin(fw_bindirs, xt[i].bin, path[i],
		    sizeof path[i]) == NULL)
			continue;
		have[i] = 1;
		isnft[i] = fw_xt_is_nft(path[i]);
	}
	if (vz_find_bin(fw_bindirs, "nft", nft, sizeof nft) != NULL)
		fw_nft(&c, nft, isnft[0], isnft[1]);
	for (i = 0; i < 2; i++) {
		if (have[i])
			fw_xt(&c, path[i]);
		/* Legacy tables filter on their own, beside nf_tables;
		   asking an absent one would load it: only when present. */
		if (isnft[i] && fw_legacy_loaded(xt[i].proc) &&
		    vz_find_bin(fw_bindirs, xt[i].legacy, legacy,
		    sizeof legacy) != NULL)
			fw_xt(&c, legacy);
	}
	free(want.v);
	return c.failed ? -1 : 0;
}

int
firewall_same_ports(const struct json_value *a, const struct json_value *b)
{
	struct fw_want wa, wb;
	char err[128];
	size_t i, j;
	int same = 0;

	if (fw_want_from_spec(a, &wa, err, sizeof err) != 0) {
		free(wa.v);
		return 0;
	}
	if (fw_want_from_spec(b, &wb, err, sizeof err) != 0)
		goto out;
	/* Both are deduplicated: the same size, and every port of a in b. */
	if (wa.n != wb.n)
		goto out;
	for (i = 0; i < wa.n; i++) {
		for (j = 0; j < wb.n; j++) {
			if (wa.v[i].port == wb.v[j].port &&
			    strcmp(wa.v[i].proto, wb.v[j].proto) == 0)
				break;
		}
		if (j == wb.n)
			goto out;
	}
	same = 1;
out:
	free(wa.v);
	free(wb.v);
	return same;
}

static void
fw_error_path(char *out, size_t outlen, const char *root, const char *pod)
{
	snprintf(out, outlen, "%s/run/firewall/%s.error", root, pod);
}

int
firewall_failed(const char *root, const char *pod)
{
	char path[4200];

	fw_error_path(path, sizeof path, root, pod);
	/* Anything but a clear "no such file" counts as failed: then the
	   caller syncs, which is never wrong, only slower. */
	return access(path, F_OK) == 0 || errno != ENOENT;
}

int
firewall_sync_root(const char *root, const char *pod,
    const struct json_value *spec, char *err, size_t errlen)
{
	char dir[4096], path[4200], tmp[4300];
	int lock = -1, fd, rc;

	if (!spec_pod_name_ok(pod))
		return firewall_sync(pod, spec, err, errlen);
	snprintf(dir, sizeof dir, "%s/run/firewall", root);
	if (mkdir_p(dir, 0755) == 0) {
		snprintf(path, sizeof path, "%s/lock", dir);
		if ((lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600))
		    != -1) {
			while (flock(lock, LOCK_EX) == -1 && errno == EINTR)
				;
		}
	}
	rc = firewall_sync(pod, spec, err, errlen);
	fw_error_path(path, sizeof path, root, pod);
	if (rc == 0)
		(void)unlink(path);
	else {
		/* Best effort: without the file (read-only root?) a later
		   verb may skip a sync it needed; the warning was printed. */
		snprintf(tmp, sizeof tmp, "%s.tmp", path);
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644)) != -1) {
			if (write(fd, err, strlen(err)) < 0 ||
			    write(fd, "\n", 1) < 0) {
				/* the file's existence is what counts */
			}
			close(fd);
			(void)rename(tmp, path);
		}
	}
	if (lock != -1)
		close(lock);
	return rc;
}

/*
 * Hidden verb: firewall [--root DIR] POD.  Syncs from ROOT/pods/POD.json;
 * no such file closes the pod's ports.
 */
int
firewall_main(const struct vzopts *o, const char *pod)
{
	struct buf b = BUF_INIT;
	struct json_value *doc = NULL;
	char path[4200], err[512];
	int rc = EXIT_FAIL;

	if (!spec_pod_name_ok(pod)) {
		fprintf(stderr, "vzexec: firewall: invalid pod name '%s'\n",
		    pod);
		return EXIT_USAGE;
	}
	snprintf(path, sizeof path, "%s/pods/%s.json", o->root, pod);
	if (buf_read_file(&b, path, VZ_SPEC_MAX) != 0) {
		if (errno != ENOENT) {
			fprintf(stderr, "vzexec: firewall: cannot read '%s': "
			    "%s\n", path, strerror(errno));
			goto out;
		}
	} else if (json_parse(b.data, b.len, &doc, err, sizeof err) != 0) {
		fprintf(stderr, "vzexec: firewall: '%s': %s\n", path, err);
		goto out;
	}
	if (firewall_sync_root(o->root, pod, doc, err, sizeof err) != 0) {
		fprintf(stderr, "vzexec: firewall: '%s': %s\n", pod, err);
		goto out;
	}
	rc = EXIT_DONE;
out:
	json_free(doc);
	buf_release(&b);
	return rc;
}

/*
 * test-inventory: unit tests of the inventory module -- parsing, typed
 * values, ranges, precedence, host patterns, the invalid corpus with its
 * exact FILE:LINE:COL diagnostics, garbage input, and the newnode edit.
 * Parity with ansible-inventory itself is t0100-inventory-parity.sh.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "diag.h"
#include "inventory.h"
#include "json.h"
#include "tap.h"

#ifndef INV_SRCDIR
#define INV_SRCDIR "tests/inventory"
#endif

static struct inventory *
load(const char *text, struct diags *d)
{
	struct inventory *inv = NULL;

	inventory_load_mem("t.ini", text, strlen(text), &inv, d);
	return inv;
}

/* Load text that must be valid. */
static struct inventory *
good(const char *text)
{
	struct diags d = DIAGS_INIT;
	struct inventory *inv = load(text, &d);

	if (inv == NULL || d.errors)
		diag_print(&d, stdout);
	diag_release(&d);
	return inv;
}

/* All diagnostics of text, one "LINE:COL: level: msg" a line. */
static char *
diags_of(const char *text)
{
	struct diags d = DIAGS_INIT;
	struct inventory *inv = load(text, &d);
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < d.n; i++)
		buf_addf(&b, "%d:%d: %s: %s\n", d.v[i].line, d.v[i].col,
		    d.v[i].level == DIAG_ERROR ? "error" : "warning",
		    d.v[i].msg);
	inventory_free(inv);
	diag_release(&d);
	return buf_detach(&b, NULL);
}

static char *
match(const struct inventory *inv, const char *pat)
{
	struct buf b = BUF_INIT;
	size_t *idx, n, i;
	char err[256];

	if (inventory_match(inv, pat, &idx, &n, err, sizeof err) == -1) {
		buf_addf(&b, "ERR %s", err);
		return buf_detach(&b, NULL);
	}
	for (i = 0; i < n; i++)
		buf_addf(&b, "%s%s", i ? " " : "", inv->hosts[idx[i]].name);
	free(idx);
	return buf_detach(&b, NULL);
}

static char *
join_groups(const struct inv_host *h)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < h->ngroups; i++)
		buf_addf(&b, "%s%s", i ? " " : "", h->groups[i]);
	return buf_detach(&b, NULL);
}

static void
test_basic(void)
{
	struct inventory *inv = good(
	    "# comment\n"
	    "; other comment\n"
	    "solo\n"
	    "[vz]\n"
	    "fra1 ansible_host=203.0.113.10 vendor=hetzner\n"
	    "fra2:2222 ansible_user=admin vendor=hetzner  # trailing\n"
	    "ams1 ansible_host=198.51.100.7 ansible_port=2200 vendor=ovh\n"
	    "[db]\n"
	    "fra2\n");
	const struct inv_host *h;
	const struct inv_group *g;
	char *s;

	ok(inv != NULL, "basic inventory loads");
	if (inv == NULL)
		return;
	is_int(inv->nhosts, 4, "four hosts");
	is_str(inv->hosts[0].name, "solo", "hosts in file order");
	h = inventory_host(inv, "fra1");
	is_str(h->address, "203.0.113.10", "ansible_host is the address");
	is_int(h->port, 22, "default port 22");
	is_str(h->user, NULL, "no user");
	is_str(h->vendor, "hetzner", "vendor var");
	is_int(h->line, 5, "line of the host");
	h = inventory_host(inv, "fra2");
	is_str(h->address, "fra2", "address defaults to the name");
	is_int(h->port, 2222, "host:port sets the port");
	is_str(h->user, "admin", "ansible_user");
	s = join_groups(h);
	is_str(s, "db vz", "groups of a host in two groups");
	free(s);
	h = inventory_host(inv, "ams1");
	is_int(h->port, 2200, "ansible_port");
	is_str(inv_host_var(h, "ansible_port"), "2200", "port is an int");
	is_str(inv_host_var(h, "vendor"), "ovh", "vendor text");
	is_str(inv_host_var(h, "nope"), NULL, "missing var");
	s = join_groups(inventory_host(inv, "solo"));
	is_str(s, "ungrouped", "ungrouped host");
	free(s);
	g = inventory_group(inv, "all");
	ok(g != NULL && g->nchildren == 3, "all has ungrouped, vz, db");
	is_str(inv->groups[0].name, "all", "all first");
	is_str(inv->groups[1].name, "ungrouped", "ungrouped second");
	ok(inventory_host(inv, "nosuch") == NULL, "unknown host is NULL");
	inventory_free(inv);
}

static void
test_values(void)
{
	struct inventory *inv = good(
	    "h i=42 hex=0x1f f=1.5 e=1e3 t=True n=None l=\"[1,'a']\" "
	    "s=\"'quoted'\" w=\"a b\" z=010 tup=1,2 neg=-(5) "
	    "d=\"{'k': [True, None]}\" big=123456789012345678901234567890\n"
	    "[g]\nh\n"
	    "[g:vars]\n"
	    "vs=hello world\n"
	    "vi=23\n"
	    "vc=5 # literal_eval drops this comment\n"
	    "vk=x # but not this one\n");
	const struct inv_host *h;
	const struct inv_var *v;
	size_t i;

	ok(inv != NULL, "value inventory loads");
	if (inv == NULL)
		return;
	h = inventory_host(inv, "h");
	is_str(inv_host_var(h, "i"), "42", "int");
	is_str(inv_host_var(h, "hex"), "31", "hex int");
	is_str(inv_host_var(h, "f"), "1.5", "float");
	is_str(inv_host_var(h, "e"), "1000.0", "float repr as Python");
	is_str(inv_host_var(h, "t"), "true", "True is a boolean");
	is_str(inv_host_var(h, "n"), "null", "None is null");
	is_str(inv_host_var(h, "l"), "[1,\"a\"]", "list");
	is_str(inv_host_var(h, "s"), "quoted", "quoted string");
	is_str(inv_host_var(h, "w"), "a b", "shlex quotes");
	is_str(inv_host_var(h, "z"), "010", "010 is no literal: text");
	is_str(inv_host_var(h, "tup"), "[1,2]", "a tuple is a list");
	is_str(inv_host_var(h, "neg"), "-5", "-(5)");
	is_str(inv_host_var(h, "d"), "{\"k\":[true,null]}", "dict");
	is_str(inv_host_var(h, "big"), "123456789012345678901234567890",
	    "big int kept exact");
	is_str(inv_host_var(h, "vs"), "hello world", ":vars string");
	is_str(inv_host_var(h, "vi"), "23", ":vars int");
	is_str(inv_host_var(h, "vc"), "5", ":vars comment after literal");
	is_str(inv_host_var(h, "vk"), "x # but not this one",
	    ":vars comment after text kept");
	for (i = 0; i < h->nvars; i++) {
		v = &h->vars[i];
		if (strcmp(v->key, "i") == 0)
			is_int(v->is_string, 0, "int is not a string");
		if (strcmp(v->key, "s") == 0)
			is_int(v->is_string, 1, "string is a string");
		if (strcmp(v->key, "z") == 0)
			is_int(v->is_string, 1, "010 is a string");
	}
	for (i = 1; i < h->nvars; i++)
		ok(strcmp(h->vars[i - 1].key, h->vars[i].key) < 0,
		    "vars sorted by key (%s)", h->vars[i].key);
	inventory_free(inv);
}

/* drain: Ansible's boolean words, from group vars too; host lines win. */
static void
test_drain(void)
{
	struct inventory *inv = good(
	    "[old]\n"
	    "o1\n"
	    "o2 drain=no\n"
	    "[vz]\n"
	    "n1 drain=True\n"
	    "n2 drain=yes\n"
	    "n3 drain=Off\n"
	    "n4\n"
	    "[old:vars]\n"
	    "drain=on\n");
	char *s;

	ok(inv != NULL, "drain inventory loads");
	if (inv == NULL)
		return;
	is_int(inventory_host(inv, "o1")->drain, 1, "drain from group vars");
	is_int(inventory_host(inv, "o2")->drain, 0, "host line overrides");
	is_int(inventory_host(inv, "n1")->drain, 1, "Python True");
	is_int(inventory_host(inv, "n2")->drain, 1, "yes");
	is_int(inventory_host(inv, "n3")->drain, 0, "Off");
	is_int(inventory_host(inv, "n4")->drain, 0, "unset: not draining");
	inventory_free(inv);
	/* Ansible takes any value; a typo here would silently not drain */
	s = diags_of("[web]\nh1 drain=maybe\nh2 drain=2\n[web:vars]\n"
	    "drain=[1]\n");
	is_str(s,
	    "2:4: error: drain must be true or false (yes/no, on/off, 1/0), "
	    "got 'maybe'\n"
	    "3:4: error: drain must be true or false (yes/no, on/off, 1/0), "
	    "got '2'\n"
	    "5:7: error: drain must be true or false (yes/no, on/off, 1/0), "
	    "got '[1]'\n", "a drain that is not a boolean is an error");
	free(s);
}

static void
test_ranges(void)
{
	struct inventory *inv = good(
	    "[w]\n"
	    "web[01:03].example.com\n"
	    "db-[a:c]\n"
	    "x[1:10:4]\n"
	    "r[1:2]u[1:2]\n");
	char *s;

	ok(inv != NULL, "ranges load");
	if (inv == NULL)
		return;
	s = match(inv, "w");
	is_str(s, "web01.example.com web02.example.com web03.example.com "
	    "db-a db-b db-c x1 x5 x9 r1u1 r1u2 r2u1 r2u2",
	    "zero padding, letters, stride, two ranges");
	free(s);
	inventory_free(inv);
	s = diags_of("h[1:100000000]\n");
	ok(strstr(s, "expands to more than") != NULL, "huge range refused: %s",
	    s);
	free(s);
}

static void
test_precedence(void)
{
	struct inventory *inv = good(
	    "[all:vars]\nv=all\nonly_all=1\n"
	    "[parent:children]\nchild\n"
	    "[parent:vars]\nv=parent\np=1\n"
	    "[child]\nh1\nh2 v=host\n"
	    "[child:vars]\nv=child\n"
	    "[aaa]\nh3\n[zzz]\nh3\n"
	    "[aaa:vars]\ntie=aaa\n[zzz:vars]\ntie=zzz\n"
	    "[p1]\nh4\n[p2]\nh4\n"
	    "[p1:vars]\nansible_group_priority=10\nprio=p1\n"
	    "[p2:vars]\nprio=p2\n");
	char *s;

	ok(inv != NULL, "precedence loads");
	if (inv == NULL)
		return;
	is_str(inv_host_var(inventory_host(inv, "h1"), "v"), "child",
	    "child group over parent");
	is_str(inv_host_var(inventory_host(inv, "h2"), "v"), "host",
	    "host var over groups");
	is_str(inv_host_var(inventory_host(inv, "h1"), "p"), "1",
	    "parent var inherited");
	is_str(inv_host_var(inventory_host(inv, "h1"), "only_all"), "1",
	    "all:vars inherited");
	is_str(inv_host_var(inventory_host(inv, "h3"), "tie"), "zzz",
	    "equal depth: later name wins");
	is_str(inv_host_var(inventory_host(inv, "h4"), "prio"), "p1",
	    "ansible_group_priority wins over the name");
	is_str(inv_host_var(inventory_host(inv, "h4"),
	    "ansible_group_priority"), NULL, "priority is not a variable");
	s = join_groups(inventory_host(inv, "h1"));
	is_str(s, "parent child", "groups lowest precedence first");
	free(s);
	inventory_free(inv);
}

static void
test_children(void)
{
	struct inventory *inv = good(
	    "[prod:children]\nweb\n[web]\nw1\n[empty]\n");
	const struct inv_group *g;

	ok(inv != NULL, "child declared later");
	if (inv == NULL)
		return;
	g = inventory_group(inv, "prod");
	ok(g && g->nchildren == 1 && strcmp(g->children[0], "web") == 0,
	    "prod has child web");
	g = inventory_group(inv, "all");
	ok(g && g->nchildren == 3 && strcmp(g->children[2], "empty") == 0,
	    "parentless groups under all in file order");
	inventory_free(inv);
}

static void
test_patterns(void)
{
	struct inventory *inv = good(
	    "solo\n"
	    "[web]\nweb[1:3].example.com\n"
	    "[db]\ndb1\ndb2\nweb1.example.com\n"
	    "[eu:children]\nweb\n"
	    "[prod:children]\neu\ndb\n");
	static const struct { const char *pat, *want; } t[] = {
		{ "all", "solo web1.example.com web2.example.com "
		    "web3.example.com db1 db2" },
		{ "*", "solo web1.example.com web2.example.com "
		    "web3.example.com db1 db2" },
		{ "solo", "solo" },
		{ "web", "web1.example.com web2.example.com "
		    "web3.example.com" },
		{ "eu", "web1.example.com web2.example.com "
		    "web3.example.com" },
		{ "web:db", "web1.example.com web2.example.com "
		    "web3.example.com db1 db2" },
		{ "web,solo", "solo web1.example.com web2.example.com "
		    "web3.example.com" },
		{ "web:&db", "web1.example.com" },
		{ "web:!db", "web2.example.com web3.example.com" },
		{ "all:!prod", "solo" },
		{ "!web", "solo db1 db2" },
		{ "&db", "web1.example.com db1 db2" },
		{ "db:!db1:web", "web1.example.com web2.example.com "
		    "web3.example.com db2" },
		{ "web*.com", "web1.example.com web2.example.com "
		    "web3.example.com" },
		{ "*2*", "web2.example.com db2" },
		{ "db?", "db1 db2" },
		{ "d?[12]", "ERR no hosts matched the subscripted pattern "
		    "'d?[12]'" },
		{ "~web[23]", "web2.example.com web3.example.com" },
		{ "db[0]", "db1" },
		{ "db[-1]", "web1.example.com" },
		{ "web[1:]", "web2.example.com web3.example.com" },
		{ "nosuch", "ERR host pattern 'nosuch' matches no host or "
		    "group" },
		{ "web:nosuch", "ERR host pattern 'nosuch' matches no host or "
		    "group" },
		{ "solo:&db", "ERR host pattern 'solo:&db' selects no hosts" },
		{ "db[9]", "ERR no hosts matched the subscripted pattern "
		    "'db[9]'" },
		{ "", "ERR empty host pattern" },
	};
	size_t i;

	ok(inv != NULL, "pattern inventory loads");
	if (inv == NULL)
		return;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		char *s = match(inv, t[i].pat);

		is_str(s, t[i].want, "pattern '%s'", t[i].pat);
		free(s);
	}
	inventory_free(inv);
}

static void
test_json(void)
{
	struct inventory *inv = good(
	    "solo\n[g]\nh x=1\n[e]\n[p:children]\ng\n");
	struct buf b = BUF_INIT;
	struct json_writer w;

	ok(inv != NULL, "json inventory loads");
	if (inv == NULL)
		return;
	json_writer_init(&w, &b, 0);
	inventory_write_json(&w, inv);
	is_str(b.data, "{\"all\":{\"children\":[\"ungrouped\",\"e\",\"p\"]},"
	    "\"ungrouped\":{\"hosts\":[\"solo\"]},"
	    "\"p\":{\"children\":[\"g\"]},\"g\":{\"hosts\":[\"h\"]},"
	    "\"_meta\":{\"hostvars\":{\"h\":{\"x\":1}}}}",
	    "ansible-inventory --list shape, empty group left out");
	buf_release(&b);
	inventory_free(inv);
}

static void
test_warnings(void)
{
	char *s = diags_of("[web-x]\nh1\n");

	is_str(s, "1:2: warning: group name 'web-x' has characters other "
	    "than letters, digits and '_' (Ansible warns too)\n",
	    "odd group name is a warning");
	free(s);
	s = diags_of("web\n[web]\nh1\n");
	is_str(s, "1:0: warning: 'web' is both a host and a group (Ansible "
	    "warns too)\n", "host and group of one name: a warning");
	free(s);
}

/* Lines "# expect: LINE:COL: level: msg" against what we report. */
static void
test_invalid_corpus(void)
{
	const char *dir = INV_SRCDIR "/invalid";
	struct dirent **ents;
	int n, i;

	n = scandir(dir, &ents, NULL, alphasort);
	ok(n > 2, "invalid corpus found in %s", dir);
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		struct buf path = BUF_INIT, text = BUF_INIT, want = BUF_INIT,
		    got = BUF_INIT;
		struct diags d = DIAGS_INIT;
		struct inventory *inv = NULL;
		size_t k;
		char *p;
		int rc;

		if (strlen(name) < 5 || strcmp(name + strlen(name) - 4,
		    ".ini") != 0) {
			free(ents[i]);
			continue;
		}
		buf_addf(&path, "%s/%s", dir, name);
		if (buf_read_file(&text, path.data, 1 << 20) == -1) {
			ok(0, "%s: %s", path.data, strerror(errno));
			goto next;
		}
		/* the file may hold NULs: walk it by length */
		for (k = 0; k < text.len;) {
			char *e = memchr(text.data + k, '\n', text.len - k);
			size_t end = e ? (size_t)(e - text.data) : text.len;

			p = text.data + k;
			if (end - k > 10 && memcmp(p, "# expect: ", 10) == 0)
				buf_addf(&want, "%s:%.*s\n", path.data,
				    (int)(end - k - 10), p + 10);
			k = end + 1;
		}
		rc = inventory_load(path.data, &inv, &d);
		for (k = 0; k < d.n; k++) {
			buf_addf(&got, "%s:%d", d.v[k].file, d.v[k].line);
			if (d.v[k].col > 0)
				buf_addf(&got, ":%d", d.v[k].col);
			buf_addf(&got, ": %s: %s\n", d.v[k].level ==
			    DIAG_ERROR ? "error" : "warning", d.v[k].msg);
		}
		ok(rc == -1 && inv == NULL, "%s is rejected", name);
		ok(want.len > 0, "%s has expectations", name);
		is_str(got.data, want.data, "%s diagnostics", name);
		inventory_free(inv);
next:
		diag_release(&d);
		buf_release(&path);
		buf_release(&text);
		buf_release(&want);
		buf_release(&got);
		free(ents[i]);
	}
	free(ents);
}

static void
test_valid_corpus(void)
{
	const char *dir = INV_SRCDIR "/valid";
	struct dirent **ents;
	int n, i;

	n = scandir(dir, &ents, NULL, alphasort);
	ok(n > 12, "valid corpus found in %s", dir);
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		struct buf path = BUF_INIT;
		struct diags d = DIAGS_INIT;
		struct inventory *inv = NULL;

		if (strlen(name) > 4 && strcmp(name + strlen(name) - 4,
		    ".ini") == 0) {
			buf_addf(&path, "%s/%s", dir, name);
			ok(inventory_load(path.data, &inv, &d) == 0 &&
			    d.errors == 0, "%s loads without errors", name);
			if (d.errors)
				diag_print(&d, stdout);
			inventory_free(inv);
		}
		diag_release(&d);
		buf_release(&path);
		free(ents[i]);
	}
	free(ents);
}

/* Garbage must give diagnostics, never a crash or a hang. */
static void
test_garbage(void)
{
	static const char *pieces[] = {
		"[", "]", ":", "=", "\"", "'", "\\", "#", ";", " ", "\n",
		"\r", "\t", "[a:b]", "[1:3]", "children", "vars", "x", "0x",
		"1e", "\xff", "\xc3", "\xe2\x80\xa8", "\x0c", "\0", "(",
		")", "{", "}", ",", "---", "j", "True", "...", "b'",
	};
	unsigned long seed = 12345;
	struct buf b = BUF_INIT;
	int i, j, survived = 0;

	for (i = 0; i < 3000; i++) {
		struct diags d = DIAGS_INIT;
		struct inventory *inv = NULL;

		buf_reset(&b);
		for (j = 0; j < 40; j++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			if ((seed >> 60) < 2)
				buf_addc(&b, (int)(seed >> 33) & 0xff);
			else {
				const char *pc = pieces[(seed >> 33) %
				    (sizeof pieces / sizeof pieces[0])];

				buf_add(&b, pc, *pc ? strlen(pc) : 1);
			}
		}
		inventory_load_mem("g.ini", b.data, b.len, &inv, &d);
		if (inv != NULL) {
			struct buf o = BUF_INIT;
			struct json_writer w;
			size_t *idx, n;
			char err[128];

			json_writer_init(&w, &o, 0);
			inventory_write_json(&w, inv);
			if (inventory_match(inv, "all:!x*", &idx, &n, err,
			    sizeof err) == 0)
				free(idx);
			buf_release(&o);
		}
		inventory_free(inv);
		diag_release(&d);
		survived++;
	}
	is_int(survived, 3000, "3000 random inventories: no crash");
	/* deep nesting and long lines */
	buf_reset(&b);
	buf_adds(&b, "h x=");
	for (i = 0; i < 100000; i++)
		buf_addc(&b, '[');
	buf_addc(&b, '\n');
	{
		struct diags d = DIAGS_INIT;
		struct inventory *inv = NULL;

		ok(inventory_load_mem("deep.ini", b.data, b.len, &inv, &d) == 0,
		    "100000 open brackets: just a string");
		if (inv != NULL)
			ok(strlen(inv_host_var(&inv->hosts[0], "x")) == 100000,
			    "kept as text");
		inventory_free(inv);
		diag_release(&d);
	}
	/* Python's tokenizer allows 200 nested brackets, not 201 */
	for (i = 200; i <= 201; i++) {
		struct diags d = DIAGS_INIT;
		struct inventory *inv = NULL;

		buf_reset(&b);
		buf_adds(&b, "h x=");
		for (j = 0; j < i; j++)
			buf_addc(&b, '[');
		for (j = 0; j < i; j++)
			buf_addc(&b, ']');
		buf_addc(&b, '\n');
		inventory_load_mem("n.ini", b.data, b.len, &inv, &d);
		ok(inv != NULL && inv->hosts[0].vars[0].is_string == (i == 201),
		    "%d nested lists: %s", i, i == 201 ? "text" : "a list");
		inventory_free(inv);
		diag_release(&d);
	}
	buf_release(&b);
}

static char *
slurp(const char *path)
{
	struct buf b = BUF_INIT;

	if (buf_read_file(&b, path, 1 << 20) == -1) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

static void
spit(const char *path, const char *s)
{
	FILE *fp = fopen(path, "w");

	if (fp != NULL) {
		fputs(s, fp);
		fclose(fp);
	}
}

static void
test_add_host(void)
{
	char dir[] = "/tmp/test-inventory.XXXXXX", path[128], err[256];
	struct inv_var v[3] = {
		{ "ansible_host", "10.0.0.5", 1 },
		{ "ansible_user", "vz", 1 },
		{ "vendor", "hetzner", 1 },
	};
	const char *orig =
	    "# my cloud\n"
	    "; keep me\n"
	    "\n"
	    "[vz]\n"
	    "old1 ansible_host=10.0.0.1   # first node\n"
	    "\n"
	    "# db nodes follow\n"
	    "[db]\n"
	    "db1\n";
	char *s;
	int changed = -1;
	struct stat st, st2;
	struct diags d = DIAGS_INIT;
	struct inventory *inv = NULL;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof path, "%s/hosts.ini", dir);

	/* a missing file is created, 0666 less the umask */
	umask(027);
	ok(inventory_add_host(path, "vz", "n1", v, 3, NULL, &changed, err,
	    sizeof err) == 0, "add to a missing file: %s", err);
	is_int(changed, 1, "changed");
	stat(path, &st);
	is_int(st.st_mode & 07777, 0640, "new file mode from the umask");
	umask(022);
	s = slurp(path);
	is_str(s, "[vz]\nn1 ansible_host=10.0.0.5 ansible_user=vz "
	    "vendor=hetzner\n", "new file content");
	free(s);
	unlink(path);

	/* comments and order kept, host added after the last host line */
	spit(path, orig);
	chmod(path, 0640);
	ok(inventory_add_host(path, "vz", "n1", v, 3, NULL, &changed, err,
	    sizeof err) == 0, "add to existing section: %s", err);
	is_int(changed, 1, "changed");
	s = slurp(path);
	is_str(s, "# my cloud\n; keep me\n\n[vz]\n"
	    "old1 ansible_host=10.0.0.1   # first node\n"
	    "n1 ansible_host=10.0.0.5 ansible_user=vz vendor=hetzner\n"
	    "\n# db nodes follow\n[db]\ndb1\n",
	    "every other byte kept");
	free(s);
	stat(path, &st);
	is_int(st.st_mode & 07777, 0640, "mode kept");

	/* the same again: nothing written */
	ok(inventory_add_host(path, "vz", "n1", v, 3, NULL, &changed, err,
	    sizeof err) == 0, "add again");
	is_int(changed, 0, "unchanged");
	stat(path, &st2);
	ok(st.st_ino == st2.st_ino, "file not replaced");

	/* other vars: that one line is rewritten */
	v[0].value = "10.0.0.6";
	ok(inventory_add_host(path, "vz", "n1", v, 3, NULL, &changed, err,
	    sizeof err) == 0, "update vars");
	is_int(changed, 1, "changed");
	s = slurp(path);
	ok(s != NULL && strstr(s, "n1 ansible_host=10.0.0.6 ansible_user=vz "
	    "vendor=hetzner\n\n# db nodes follow") != NULL &&
	    strstr(s, "10.0.0.5") == NULL, "line updated in place");
	free(s);

	/* a trailing comment on the rewritten line stays */
	ok(inventory_add_host(path, "vz", "old1", v, 2, NULL, &changed, err,
	    sizeof err) == 0 && changed == 1, "update a commented line");
	s = slurp(path);
	ok(s != NULL && strstr(s, "\nold1 ansible_host=10.0.0.6 "
	    "ansible_user=vz   # first node\n") != NULL, "comment kept");
	free(s);

	/* a new group is appended as a section */
	ok(inventory_add_host(path, "web", "w1", v, 1, NULL, &changed, err,
	    sizeof err) == 0, "add to a new group");
	s = slurp(path);
	ok(s != NULL && strlen(s) > 20 && strcmp(s + strlen(s) - 36,
	    "db1\n\n[web]\nw1 ansible_host=10.0.0.6\n") == 0,
	    "section appended after a blank line");
	free(s);

	/* values needing quotes read back as the same strings */
	{
		struct inv_var q[3] = {
			{ "motd", "it's a \"test\" # not a comment", 1 },
			{ "num_as_text", "22", 1 },
			{ "port", "2222", 0 },
		};
		const struct inv_host *h;

		ok(inventory_add_host(path, "web", "w2", q, 3, NULL, &changed,
		    err, sizeof err) == 0, "add with quoted values: %s", err);
		ok(inventory_load(path, &inv, &d) == 0, "edited file loads");
		diag_print(&d, stdout);
		h = inv ? inventory_host(inv, "w2") : NULL;
		ok(h != NULL, "w2 is there");
		if (h != NULL) {
			is_str(inv_host_var(h, "motd"), q[0].value,
			    "quoted string round trip");
			is_str(inv_host_var(h, "num_as_text"), "22",
			    "numeric text stays text");
			ok(h->nvars > 0, "has vars");
		}
		inventory_free(inv);
		inv = NULL;
		diag_release(&d);
		ok(inventory_add_host(path, "web", "w2", q, 3, NULL, &changed,
		    err, sizeof err) == 0 && changed == 0,
		    "quoted values compare equal: unchanged");
	}

	/* CRLF files get CRLF lines */
	spit(path, "[vz]\r\na1\r\n\r\n[db]\r\nd1\r\n");
	ok(inventory_add_host(path, "vz", "a2", NULL, 0, NULL, &changed, err,
	    sizeof err) == 0, "add to a CRLF file");
	s = slurp(path);
	is_str(s, "[vz]\r\na1\r\na2\r\n\r\n[db]\r\nd1\r\n",
	    "CRLF kept");
	free(s);
	ok(inventory_add_host(path, "web", "w9", NULL, 0, NULL, &changed, err,
	    sizeof err) == 0, "new section in a CRLF file");
	s = slurp(path);
	is_str(s, "[vz]\r\na1\r\na2\r\n\r\n[db]\r\nd1\r\n\r\n"
	    "[web]\r\nw9\r\n", "CRLF section");
	free(s);

	ok(inventory_add_host(path, "bad group", "x", NULL, 0, NULL, &changed,
	    err, sizeof err) == -1, "bad group name refused");
	ok(inventory_add_host(path, "vz", "a b", NULL, 0, NULL, &changed, err,
	    sizeof err) == -1, "bad host name refused");
	unlink(path);
	rmdir(dir);
}

/* A host already in the group: vars merge into its line. */
static void
test_add_host_merge(void)
{
	char dir[] = "/tmp/test-inventory.XXXXXX", path[128], err[256];
	static const char *const drop[] = { "ansible_port", NULL };
	struct inv_var v[3] = {
		{ "ansible_host", "10.0.0.5", 1 },
		{ "ansible_user", "vz", 1 },
		{ "ansible_port", "2222", 0 },
	};
	struct inv_var w[3] = {
		{ "ansible_host", "10.0.0.9", 1 },
		{ "ansible_user", "vz", 1 },
		{ "vendor", "acme", 1 },
	};
	const char *orig =
	    "[vz]\n"
	    "  n1   ansible_host=10.0.0.5  ansible_user='vz' vendor=hetzner"
	    "\tmotd=\"a b # c\"   # mine\n"
	    "n2 role=db\n"
	    "\n"
	    "[db]\n"
	    "d1\n";
	const char *moved =
	    "[vz]\n"
	    "  n1   ansible_host=10.0.0.6  ansible_user='vz' vendor=hetzner"
	    "\tmotd=\"a b # c\"   # mine\n"
	    "n2 role=db\n"
	    "\n"
	    "[db]\n"
	    "d1\n";
	const struct inv_host *h;
	struct diags d = DIAGS_INIT;
	struct inventory *inv = NULL;
	struct stat st, st2;
	int changed = -1;
	char *s;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof path, "%s/hosts.ini", dir);

	/* a re-run without vendor, on port 22: nothing to do */
	spit(path, orig);
	stat(path, &st);
	ok(inventory_add_host(path, "vz", "n1", v, 2, drop, &changed, err,
	    sizeof err) == 0, "merge, same vars: %s", err);
	is_int(changed, 0, "merge, same vars: unchanged");
	stat(path, &st2);
	ok(st.st_ino == st2.st_ino, "merge, same vars: file not replaced");
	s = slurp(path);
	is_str(s, orig, "merge, same vars: every byte kept");
	free(s);

	/* a changed ansible_host is replaced where it stands; the rest of
	 * the line, its spacing and its comment stay */
	v[0].value = "10.0.0.6";
	ok(inventory_add_host(path, "vz", "n1", v, 2, drop, &changed, err,
	    sizeof err) == 0, "merge a new ansible_host: %s", err);
	is_int(changed, 1, "merge a new ansible_host: changed");
	s = slurp(path);
	is_str(s, moved, "ansible_host replaced in place, vendor, motd kept");
	free(s);
	ok(inventory_load(path, &inv, &d) == 0, "merged file loads");
	diag_print(&d, stdout);
	h = inv != NULL ? inventory_host(inv, "n1") : NULL;
	ok(h != NULL, "n1 is there");
	if (h != NULL) {
		is_str(h->address, "10.0.0.6", "merged ansible_host");
		is_str(h->vendor, "hetzner", "vendor kept");
		is_str(inv_host_var(h, "motd"), "a b # c",
		    "quoted var kept as the same string");
	}
	inventory_free(inv);
	inv = NULL;
	diag_release(&d);

	/* a new key goes at the end, before the comment */
	ok(inventory_add_host(path, "vz", "n1", v, 3, drop, &changed, err,
	    sizeof err) == 0 && changed == 1, "merge an ansible_port: %s",
	    err);
	s = slurp(path);
	ok(s != NULL && strstr(s, "\n  n1   ansible_host=10.0.0.6  "
	    "ansible_user='vz' vendor=hetzner\tmotd=\"a b # c\" "
	    "ansible_port=2222   # mine\nn2 role=db\n") != NULL,
	    "ansible_port appended before the comment");
	free(s);

	/* not given and not dropped: kept */
	ok(inventory_add_host(path, "vz", "n1", v, 2, NULL, &changed, err,
	    sizeof err) == 0 && changed == 0,
	    "an ansible_port the caller does not own stays");

	/* back on port 22: the old ansible_port goes */
	ok(inventory_add_host(path, "vz", "n1", v, 2, drop, &changed, err,
	    sizeof err) == 0 && changed == 1, "drop ansible_port: %s", err);
	s = slurp(path);
	is_str(s, moved, "ansible_port dropped, the line as before");
	free(s);

	/* a line with none of the vars: they are appended, role stays */
	ok(inventory_add_host(path, "vz", "n2", w, 3, drop, &changed, err,
	    sizeof err) == 0 && changed == 1, "merge into a bare line: %s",
	    err);
	s = slurp(path);
	ok(s != NULL && strstr(s, "# mine\nn2 role=db ansible_host=10.0.0.9 "
	    "ansible_user=vz vendor=acme\n\n[db]\n") != NULL,
	    "vars appended after the user's own");
	free(s);

	/* the caller's port replaces a host:port; a token without '=' and a
	 * key given twice */
	spit(path, "[vz]\nn3:2200 stray vendor=a role=x vendor=b\n");
	ok(inventory_add_host(path, "vz", "n3", w, 3, drop, &changed, err,
	    sizeof err) == 0 && changed == 1, "merge into odd line: %s", err);
	s = slurp(path);
	is_str(s, "[vz]\nn3 stray vendor=acme role=x ansible_host=10.0.0.9 "
	    "ansible_user=vz\n", "port off the host, stray token kept, one "
	    "vendor where the first stood");
	free(s);
	spit(path, "[vz]\nn3:2200 role=x\n");
	ok(inventory_add_host(path, "vz", "n3", w, 0, NULL, &changed, err,
	    sizeof err) == 0 && changed == 0,
	    "a host:port the caller does not own stays");

	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	test_basic();
	test_drain();
	test_values();
	test_ranges();
	test_precedence();
	test_children();
	test_patterns();
	test_json();
	test_warnings();
	test_invalid_corpus();
	test_valid_corpus();
	test_garbage();
	test_add_host();
	test_add_host_merge();
	return done_testing();
}

/*
 * test-markers: state.json round trip, damaged files, probe counters,
 * killed markers and deployed hashes.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "markers.h"
#include "tap.h"

static char dir[] = "/tmp/test-markers.XXXXXX";

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return;
	fputs(text, f);
	fclose(f);
}

static void
test_counters(void)
{
	struct markers m = MARKERS_INIT;
	const char *keep[] = { "n1" };

	is_int(markers_probe(&m, "n1", 0, 100), 1, "first miss: 1");
	is_int(markers_probe(&m, "n1", 0, 160), 2, "second miss: 2");
	is_int(markers_node(&m, "n1")->missed, 2, "stored 2");
	is_int(markers_node(&m, "n1")->last_seen, 0, "never seen");
	is_int(markers_probe(&m, "n1", 1, 220), 2,
	    "answer returns the streak it ended");
	is_int(markers_node(&m, "n1")->missed, 0, "reset to 0");
	is_int(markers_node(&m, "n1")->last_seen, 220, "last seen set");
	is_int(markers_probe(&m, "n1", 1, 280), 0, "answer again: 0");
	is_int(markers_probe(&m, "n0", 1, 280), 0, "new node answering: 0");
	ok(markers_node(&m, "zz") == NULL, "unknown node: NULL");
	is_str(m.nodes[0].name, "n0", "nodes kept sorted");
	markers_prune_nodes(&m, keep, 1);
	is_int(m.nnodes, 1, "prune: one left");
	is_str(m.nodes[0].name, "n1", "prune: the right one");
	markers_release(&m);
}

static void
test_roundtrip(void)
{
	struct markers m = MARKERS_INIT, l;
	struct buf path = BUF_INIT, a = BUF_INIT, b = BUF_INIT;
	const struct markers_deployed *d;
	char err[512];
	struct stat st;

	markers_probe(&m, "web2", 0, 10);
	markers_probe(&m, "web1", 1, 20);
	markers_kill(&m, "api", 30);
	markers_kill(&m, "cron", 31);
	markers_unkill(&m, "cron");
	ok(markers_killed(&m, "api"), "api killed");
	ok(!markers_killed(&m, "cron"), "cron un-killed");
	ok(!markers_killed(&m, "web"), "web never killed");
	markers_deployed_set(&m, "web", "web1", "h1", 40);
	d = markers_deployed_get(&m, "web", "web1");
	ok(d != NULL && d->previous == NULL, "first deploy: no previous");
	markers_deployed_set(&m, "web", "web1", "h2", 50);
	markers_deployed_set(&m, "web", "web1", "h2", 55);
	d = markers_deployed_get(&m, "web", "web1");
	is_str(d->hash, "h2", "hash updated");
	is_str(d->previous, "h1", "previous kept (same hash twice keeps it)");
	is_int(d->at, 55, "time updated");
	markers_deployed_set(&m, "web", "web2", "h1", 60);
	markers_deployed_set(&m, "api", "web2", "\"quoted\\\n", 61);
	markers_deployed_set(&m, "gone", "web2", "x", 62);
	markers_deployed_remove(&m, "gone", "web2");
	ok(markers_deployed_get(&m, "gone", "web2") == NULL, "removed");
	{
		struct plan_running *r;
		size_t n = markers_last_known(&m, "web2", &r);

		is_int(n, 2, "last known on web2: 2 pods");
		if (n == 2) {
			is_str(r[0].pod, "api", "last known: api first");
			is_str(r[1].pod, "web", "last known: web");
			is_str(r[1].spec_hash, "h1", "last known: hash");
			is_int(r[1].healthy, 1, "last known: healthy assumed");
		}
		free(r);
		is_int(markers_last_known(&m, "nowhere", &r), 0,
		    "last known: none");
		ok(r == NULL, "last known: NULL when none");
	}

	/* The state lives in .vzmaster next to the inventory. */
	buf_addf(&a, "%s/hosts.ini", dir);
	markers_state_path(a.data, "state.json", &path);
	buf_reset(&a);
	buf_addf(&a, "%s/.vzmaster/state.json", dir);
	is_str(path.data, a.data, "state path next to the inventory");
	markers_state_path("hosts.ini", "lock", &b);
	is_str(b.data, ".vzmaster/lock", "state path, relative inventory");

	is_int(markers_save(&m, path.data, err, sizeof(err)), 0,
	    "save (creates .vzmaster)");
	ok(stat(path.data, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "saved with mode 0600");
	buf_reset(&a);
	buf_addf(&a, "%s/.vzmaster", dir);
	ok(stat(a.data, &st) == 0 && S_ISDIR(st.st_mode), "dir created");

	is_int(markers_load(&l, path.data, err, sizeof(err)), 0, "load");
	buf_reset(&a);
	buf_reset(&b);
	markers_write(&m, &a);
	markers_write(&l, &b);
	is_str(b.data, a.data, "round trip is identical");
	ok(markers_killed(&l, "api"), "loaded: api killed");
	is_int(markers_node(&l, "web2")->missed, 1, "loaded: missed");
	is_int(markers_node(&l, "web1")->last_seen, 20, "loaded: last seen");
	d = markers_deployed_get(&l, "web", "web1");
	ok(d != NULL && strcmp(d->previous, "h1") == 0, "loaded: previous");
	d = markers_deployed_get(&l, "api", "web2");
	ok(d != NULL && strcmp(d->hash, "\"quoted\\\n") == 0,
	    "loaded: escaped hash");
	markers_release(&l);

	/* Saving again replaces atomically: no temp file left. */
	markers_probe(&m, "web2", 0, 70);
	is_int(markers_save(&m, path.data, err, sizeof(err)), 0, "save 2");
	buf_reset(&a);
	buf_addf(&a, "%s.tmp.%ld", path.data, (long)getpid());
	ok(access(a.data, F_OK) == -1, "no temp file left");
	is_int(markers_load(&l, path.data, err, sizeof(err)), 0, "load 2");
	is_int(markers_node(&l, "web2")->missed, 2, "second save seen");
	markers_release(&l);
	markers_release(&m);
	buf_release(&path);
	buf_release(&a);
	buf_release(&b);
}

static void
test_damaged(void)
{
	static const struct {
		const char *name, *text, *msg;
	} cases[] = {
		{ "truncated", "{\"version\":1,\"nodes\":{", "corrupt state" },
		{ "garbage", "\x01\x02 not json", "corrupt state" },
		{ "array", "[1,2]", "not an object" },
		{ "version", "{\"version\":7}", "unsupported state file" },
		{ "no version", "{}", "unsupported state file" },
		{ "nodes type", "{\"version\":1,\"nodes\":[]}", "corrupt" },
		{ "missed type", "{\"version\":1,\"nodes\":{\"a\":"
		    "{\"missed\":\"x\"}}}", "corrupt" },
		{ "missed negative", "{\"version\":1,\"nodes\":{\"a\":"
		    "{\"missed\":-1}}}", "corrupt" },
		{ "killed type", "{\"version\":1,\"pods\":{\"a\":"
		    "{\"killed\":1}}}", "corrupt" },
		{ "deployed no hash", "{\"version\":1,\"deployed\":"
		    "[{\"pod\":\"a\",\"node\":\"b\"}]}", "corrupt" },
		{ "deployed empty pod", "{\"version\":1,\"deployed\":"
		    "[{\"pod\":\"\",\"node\":\"b\",\"hash\":\"h\"}]}",
		    "corrupt" },
	};
	struct buf path = BUF_INIT;
	struct markers m;
	char err[512];
	size_t i;

	buf_addf(&path, "%s/bad.json", dir);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_text(path.data, cases[i].text);
		err[0] = '\0';
		is_int(markers_load(&m, path.data, err, sizeof(err)), -1,
		    "damaged %s: refused", cases[i].name);
		ok(strncmp(err, path.data, path.len) == 0 &&
		    strstr(err, cases[i].msg) != NULL,
		    "damaged %s: message names the file (%s)", cases[i].name,
		    err);
		ok(m.nnodes == 0 && m.nodes == NULL, "damaged %s: empty",
		    cases[i].name);
	}
	write_text(path.data, "{\"version\":1}");
	is_int(markers_load(&m, path.data, err, sizeof(err)), 0,
	    "minimal file loads");
	markers_release(&m);
	buf_reset(&path);
	buf_addf(&path, "%s/missing.json", dir);
	is_int(markers_load(&m, path.data, err, sizeof(err)), 0,
	    "missing file: empty state");
	is_int(m.nnodes + m.npods + m.ndeployed, 0, "missing: nothing");
	buf_reset(&path);
	buf_addf(&path, "%s", dir);
	is_int(markers_load(&m, path.data, err, sizeof(err)), -1,
	    "a directory: error");
	ok(strstr(err, "cannot read state file") != NULL, "read error: %s",
	    err);
	buf_reset(&path);
	buf_addf(&path, "%s/nodir/x/state.json", dir);
	m = (struct markers)MARKERS_INIT;
	is_int(markers_save(&m, path.data, err, sizeof(err)), -1,
	    "save into a missing parent: error");
	buf_release(&path);
}

int
main(void)
{
	struct buf cmd = BUF_INIT;

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_counters();
	test_roundtrip();
	test_damaged();
	/* Clean the scratch dir without a shell. */
	buf_addf(&cmd, "%s/.vzmaster/state.json", dir);
	unlink(cmd.data);
	buf_reset(&cmd);
	buf_addf(&cmd, "%s/.vzmaster", dir);
	rmdir(cmd.data);
	buf_reset(&cmd);
	buf_addf(&cmd, "%s/bad.json", dir);
	unlink(cmd.data);
	rmdir(dir);
	buf_release(&cmd);
	return done_testing();
}

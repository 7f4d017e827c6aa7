/*
 * test-ssh: unit tests of the pure parts of the SSH transport: known_hosts
 * parsing and matching, fingerprints (against ssh-keygen -l), ~/.ssh/config
 * lookups, and shquote round trips through /bin/sh.
 */
#include "config.h"

#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "buf.h"
#include "knownhosts.h"
#include "shquote.h"
#include "ssh.h"
#include "sshconfig.h"

static char tmpdir[] = "/tmp/test-ssh.XXXXXX";

/* Run argv with stdout into *out (may be NULL); returns the exit status. */
static int
run(const char *const *argv, const char *in, struct buf *out)
{
	int op[2], ip[2], st;
	pid_t pid;
	char chunk[4096];
	ssize_t n;

	if (pipe(op) == -1 || pipe(ip) == -1)
		return -1;
	if ((pid = fork()) == 0) {
		dup2(ip[0], 0);
		dup2(op[1], 1);
		close(ip[1]);
		close(op[0]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(ip[0]);
	close(op[1]);
	if (in != NULL && write(ip[1], in, strlen(in)) < 0)
		perror("write");
	close(ip[1]);
	while ((n = read(op[0], chunk, sizeof chunk)) > 0)
		if (out != NULL)
			buf_add(out, chunk, (size_t)n);
	close(op[0]);
	if (waitpid(pid, &st, 0) == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		return;
	fputs(text, fp);
	fclose(fp);
}

/* keygen a key; return its .pub line (type b64 comment) in *line */
static int
keygen(const char *type, const char *name, struct buf *publine,
    unsigned char **blob, long *bloblen)
{
	struct buf path = BUF_INIT;
	const char *argv[] = { "ssh-keygen", "-q", "-t", type, "-N", "", "-C",
	    "test", "-f", NULL, NULL };
	char *sp, *sp2;
	int rc;

	buf_addf(&path, "%s/%s", tmpdir, name);
	argv[9] = path.data;
	rc = run(argv, NULL, NULL);
	buf_adds(&path, ".pub");
	if (rc != 0 || buf_read_file(publine, path.data, 65536) == -1) {
		buf_release(&path);
		return -1;
	}
	sp = strchr(publine->data, ' ');
	sp2 = sp != NULL ? strchr(sp + 1, ' ') : NULL;
	if (sp2 == NULL)
		return -1;
	*bloblen = kh_base64_decode(sp + 1, (size_t)(sp2 - sp - 1), blob);
	buf_release(&path);
	return *bloblen > 0 ? 0 : -1;
}

static void
test_fingerprints(void)
{
	static const char *types[] = { "ed25519", "ecdsa", "rsa" };
	static const char *labels[] = { "ED25519", "ECDSA", "RSA" };
	size_t i;

	for (i = 0; i < 3; i++) {
		struct buf pub = BUF_INIT, path = BUF_INIT, out = BUF_INIT,
		    want = BUF_INIT;
		unsigned char *blob = NULL;
		long len = 0;
		char fp[64];
		const char *argv[] = { "ssh-keygen", "-lf", NULL, NULL };

		if (keygen(types[i], types[i], &pub, &blob, &len) == -1) {
			ok(0, "ssh-keygen -t %s", types[i]);
			continue;
		}
		buf_addf(&path, "%s/%s.pub", tmpdir, types[i]);
		argv[2] = path.data;
		run(argv, NULL, &out);
		kh_fingerprint(blob, (size_t)len, fp, sizeof fp);
		buf_addf(&want, "%d %s test (%s)\n", kh_key_bits(blob,
		    (size_t)len), fp, kh_key_label(blob, (size_t)len));
		is_str(want.data, out.data, "%s fingerprint line as ssh-keygen -l",
		    types[i]);
		is_str(kh_key_label(blob, (size_t)len), labels[i], "%s label",
		    types[i]);
		free(blob);
		buf_release(&pub);
		buf_release(&path);
		buf_release(&out);
		buf_release(&want);
	}
}

static void
test_patterns(void)
{
	ok(kh_match_pattern("web1.example.com", "*.example.com", 13),
	    "* matches a prefix");
	ok(kh_match_pattern("WEB1", "web?", 4), "? and case folding");
	ok(!kh_match_pattern("web12", "web?", 4), "? is one character");
	ok(kh_match_pattern("[10.0.0.1]:2222", "[10.0.0.1]:2222", 15),
	    "brackets are literal");
	ok(kh_match_hostfield("a,b,c", 5, "b"), "comma list");
	ok(!kh_match_hostfield("*.x,!bad.x", 10, "bad.x"), "negation vetoes");
	ok(kh_match_hostfield("*.x,!bad.x", 10, "good.x"),
	    "negation only vetoes its own match");
}

static void
test_known_hosts(void)
{
	struct buf pub = BUF_INIT, pub2 = BUF_INIT, text = BUF_INIT,
	    path = BUF_INIT, hashed = BUF_INIT;
	unsigned char *k1 = NULL, *k2 = NULL;
	long l1 = 0, l2 = 0;
	struct kh_result r;
	char err[256], *sp, algs[256];
	int removed;

	if (keygen("ed25519", "h1", &pub, &k1, &l1) == -1 ||
	    keygen("ecdsa", "h2", &pub2, &k2, &l2) == -1) {
		ok(0, "host keys generated");
		return;
	}
	/* "type b64 comment" -> "type b64" */
	sp = strrchr(pub.data, ' ');
	*sp = '\0';
	sp = strrchr(pub2.data, ' ');
	*sp = '\0';
	buf_addf(&path, "%s/known_hosts", tmpdir);
	buf_addf(&text,
	    "# a comment line\n"
	    "\n"
	    "plain.example,10.0.0.9 %s\n"
	    "[port.example]:2222 %s\n"
	    "@cert-authority *.example %s\n"
	    "*.wild,!not.wild %s\n"
	    "@revoked revoked.example %s\n"
	    "garbage line\n",
	    pub.data, pub.data, pub2.data, pub.data, pub.data);
	write_file(path.data, text.data);

	kh_check(path.data, "plain.example", 22, k1, (size_t)l1, &r, err,
	    sizeof err);
	is_int(r.status, KH_MATCH, "plain entry matches");
	is_int(r.line, 3, "at its line");
	kh_check(path.data, "10.0.0.9", 0, k1, (size_t)l1, &r, err, sizeof err);
	is_int(r.status, KH_MATCH, "second name of a comma list");
	kh_check(path.data, "plain.example", 22, k2, (size_t)l2, &r, err,
	    sizeof err);
	is_int(r.status, KH_MISMATCH, "other key for a known host: mismatch");
	is_int(r.line, 3, "mismatch names the line");
	ok(strncmp(r.known_fp, "SHA256:", 7) == 0, "and the known fingerprint");
	is_str(r.known_label, "ED25519", "and its type");
	kh_check(path.data, "port.example", 2222, k1, (size_t)l1, &r, err,
	    sizeof err);
	is_int(r.status, KH_MATCH, "[host]:port entry");
	kh_check(path.data, "port.example", 22, k1, (size_t)l1, &r, err,
	    sizeof err);
	is_int(r.status, KH_NOTFOUND, "[host]:port does not match port 22");
	kh_check(path.data, "a.example", 22, k2, (size_t)l2, &r, err,
	    sizeof err);
	is_int(r.status, KH_NOTFOUND, "@cert-authority lines are skipped");
	kh_check(path.data, "x.wild", 22, k1, (size_t)l1, &r, err, sizeof err);
	is_int(r.status, KH_MATCH, "wildcard entry");
	kh_check(path.data, "not.wild", 22, k1, (size_t)l1, &r, err,
	    sizeof err);
	is_int(r.status, KH_NOTFOUND, "negated wildcard");
	kh_check(path.data, "revoked.example", 22, k1, (size_t)l1, &r, err,
	    sizeof err);
	is_int(r.status, KH_REVOKED, "@revoked key");
	kh_check("/nonexistent/kh", "x", 22, k1, (size_t)l1, &r, err,
	    sizeof err);
	is_int(r.status, KH_NOTFOUND, "missing file: not found");

	kh_known_algs(path.data, "plain.example", 22, algs, sizeof algs);
	is_str(algs, "ssh-ed25519", "known algorithms of a host");

	/* hashed entries made by ssh-keygen -H */
	{
		const char *argv[] = { "ssh-keygen", "-q", "-H", "-f", NULL,
		    NULL };
		struct buf hp = BUF_INIT;

		buf_addf(&hp, "%s/hashed", tmpdir);
		buf_reset(&text);
		buf_addf(&text, "hashed.example %s\n[hp.example]:2200 %s\n",
		    pub.data, pub.data);
		write_file(hp.data, text.data);
		argv[4] = hp.data;
		run(argv, NULL, NULL);
		buf_read_file(&hashed, hp.data, 65536);
		ok(strncmp(hashed.data, "|1|", 3) == 0, "ssh-keygen hashed it");
		kh_check(hp.data, "hashed.example", 22, k1, (size_t)l1, &r,
		    err, sizeof err);
		is_int(r.status, KH_MATCH, "hashed entry matches");
		kh_check(hp.data, "hp.example", 2200, k1, (size_t)l1, &r, err,
		    sizeof err);
		is_int(r.status, KH_MATCH, "hashed [host]:port entry");
		kh_check(hp.data, "other.example", 22, k1, (size_t)l1, &r,
		    err, sizeof err);
		is_int(r.status, KH_NOTFOUND, "hashed entry, other host");
		is_int(kh_remove(hp.data, "hashed.example", 22, &removed, err,
		    sizeof err), 0, "remove a hashed entry");
		is_int(removed, 1, "one removed");
		kh_check(hp.data, "hp.example", 2200, k1, (size_t)l1, &r, err,
		    sizeof err);
		is_int(r.status, KH_MATCH, "the other entry stays");
		buf_release(&hp);
	}

	/* add: plain forms, found by ssh-keygen -F */
	{
		struct buf np = BUF_INIT, out = BUF_INIT;
		const char *argv[] = { "ssh-keygen", "-F", "[new.example]:2022",
		    "-f", NULL, NULL };

		buf_addf(&np, "%s/sub/known_hosts", tmpdir);
		is_int(kh_add(np.data, "new.example", 2022, k2, (size_t)l2,
		    err, sizeof err), 0, "add creates folder and file");
		is_int(kh_add(np.data, "new22.example", 22, k1, (size_t)l1,
		    err, sizeof err), 0, "add a port-22 entry");
		argv[4] = np.data;
		is_int(run(argv, NULL, &out), 0, "ssh-keygen -F finds [host]:port");
		ok(strstr(out.data, "ecdsa-sha2-nistp256") != NULL,
		    "with its key type");
		buf_reset(&out);
		argv[2] = "new22.example";
		is_int(run(argv, NULL, &out), 0, "ssh-keygen -F finds host");
		kh_check(np.data, "new.example", 2022, k2, (size_t)l2, &r, err,
		    sizeof err);
		is_int(r.status, KH_MATCH, "added entry matches");
		buf_release(&np);
		buf_release(&out);
	}
	free(k1);
	free(k2);
	buf_release(&pub);
	buf_release(&pub2);
	buf_release(&text);
	buf_release(&path);
	buf_release(&hashed);
}

static void
test_ssh_config(void)
{
	struct buf path = BUF_INIT, want = BUF_INIT;
	struct ssh_config_host c;
	char err[256];

	setenv("HOME", tmpdir, 1);
	buf_addf(&path, "%s/config", tmpdir);
	write_file(path.data,
	    "# comment\n"
	    "Compression yes\n"
	    "Host web*  !web9\n"
	    "    HostName %h.example.com\n"
	    "    Port 2222\n"
	    "    IdentityFile ~/.ssh/web_key\n"
	    "Host web1\n"
	    "    HostName ignored.example\n"
	    "    User alice\n"
	    "Match host web1\n"
	    "    User matched\n"
	    "Host *\n"
	    "    User=bob\n"
	    "    Port 22\n"
	    "    IdentityFile \"%d/.ssh/all key\"\n");
	is_int(ssh_config_lookup(path.data, "web1", &c, err, sizeof err), 0,
	    "config parses");
	is_str(c.hostname, "web1.example.com", "first HostName wins, %%h expanded");
	is_str(c.user, "alice", "User from the second matching block");
	is_int(c.port, 2222, "first Port wins");
	is_int(c.nidentity, 2, "IdentityFile accumulates");
	buf_addf(&want, "%s/.ssh/web_key", tmpdir);
	is_str(c.nidentity > 0 ? c.identity[0] : NULL, want.data, "~ expanded");
	buf_reset(&want);
	buf_addf(&want, "%s/.ssh/all key", tmpdir);
	is_str(c.nidentity > 1 ? c.identity[1] : NULL, want.data,
	    "quoted value with %%d");
	ssh_config_host_release(&c);

	ssh_config_lookup(path.data, "web9", &c, err, sizeof err);
	is_str(c.hostname, NULL, "negated pattern excludes the host");
	is_str(c.user, "bob", "Keyword=value form");
	is_int(c.port, 22, "Port from Host *");
	ssh_config_host_release(&c);

	is_int(ssh_config_lookup("/nonexistent/config", "x", &c, err,
	    sizeof err), 0, "missing config is fine");
	ssh_config_host_release(&c);

	write_file(path.data, "Host *\n Port banana\n");
	is_int(ssh_config_lookup(path.data, "x", &c, err, sizeof err), -1,
	    "bad Port is an error");
	ok(strstr(err, ":2:") != NULL, "with FILE:LINE (%s)", err);
	buf_release(&path);
	buf_release(&want);
}

static void
test_shquote(void)
{
	static const char *words[] = {
		"plain", "with space", "it's", "'", "''", "$HOME", "`id`",
		"a\"b", "back\\slash", "*", "", "new\nline", "-n", "$(true)",
		"tab\there", "!", ";", "~", NULL
	};
	struct buf cmd = BUF_INIT, out = BUF_INIT, want = BUF_INIT;
	const char *argv[] = { "/bin/sh", "-c", NULL, NULL };
	size_t i;

	for (i = 0; words[i] != NULL; i++) {
		buf_reset(&cmd);
		buf_reset(&out);
		buf_adds(&cmd, "printf '%s|' ");
		shquote_word(&cmd, words[i]);
		argv[2] = cmd.data;
		run(argv, NULL, &out);
		buf_reset(&want);
		buf_addf(&want, "%s|", words[i]);
		is_str(out.data, want.data, "round trip of word %zu", i);
	}
	buf_reset(&cmd);
	buf_reset(&out);
	buf_adds(&cmd, "printf '%s|' ");
	shquote_argv(&cmd, words);
	argv[2] = cmd.data;
	run(argv, NULL, &out);
	buf_reset(&want);
	for (i = 0; words[i] != NULL; i++)
		buf_addf(&want, "%s|", words[i]);
	is_str(out.data, want.data, "round trip of a whole argv");
	buf_release(&cmd);
	buf_release(&out);
	buf_release(&want);
}

static void
test_persist(void)
{
	static const struct { const char *in; int want; } good[] = {
		{ "0", 0 }, { "60", 60 }, { "90s", 90 }, { "10m", 600 },
		{ "1h", 3600 }, { "24h", 86400 }, { "1440m", 86400 },
		{ "86400", 86400 }, { "0m", 0 },
	};
	static const char *bad[] = { "", "-1", "+5", "1.5", "10x", "m", "1hh",
	    " 5", "5 ", "25h", "86401", "1441m", "99999999999999999999" };
	char err[256], *d;
	size_t i;
	int s;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		s = -1;
		is_int(vz_ssh_parse_persist(good[i].in, &s, err, sizeof err), 0,
		    "persist '%s' parses", good[i].in);
		is_int(s, good[i].want, "persist '%s' is %d s", good[i].in,
		    good[i].want);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		s = 7;
		is_int(vz_ssh_parse_persist(bad[i], &s, err, sizeof err), -1,
		    "persist '%s' refused", bad[i]);
		ok(err[0] != '\0' && s == 7, "with a message, value untouched");
	}
	unsetenv("VZMASTER_PERSIST");
	is_int(vz_ssh_persist_default(), 90, "default persist is 90 s");
	setenv("VZMASTER_PERSIST", "5m", 1);
	is_int(vz_ssh_persist_default(), 300, "VZMASTER_PERSIST=5m");
	setenv("VZMASTER_PERSIST", "0", 1);
	is_int(vz_ssh_persist_default(), 0, "VZMASTER_PERSIST=0 turns it off");
	setenv("VZMASTER_PERSIST", "soon", 1);
	is_int(vz_ssh_persist_default(), 90, "a bad VZMASTER_PERSIST: 90 s");
	unsetenv("VZMASTER_PERSIST");
	d = vz_ssh_persist_dir("cloud/.vzmaster");
	is_str(d, "cloud/.vzmaster/cm", "holder sockets under the state dir");
	free(d);
}

int
main(void)
{
	const char *rm[] = { "rm", "-rf", tmpdir, NULL };

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	{
		char *p = vz_ssh_known_hosts_path("cloud/hosts.ini");

		is_str(p, "cloud/.vzmaster/known_hosts", "state folder beside "
		    "the inventory");
		free(p);
		p = vz_ssh_known_hosts_path("hosts.ini");
		is_str(p, ".vzmaster/known_hosts", "inventory in the cwd");
		free(p);
		is_int(vz_ssh_parse_timeout("2.5"), 2500, "timeout in seconds");
		is_int(vz_ssh_parse_timeout("0"), -1, "zero timeout refused");
		is_int(vz_ssh_parse_timeout("5s"), -1, "junk refused");
	}
	test_persist();
	test_patterns();
	test_shquote();
	test_ssh_config();
	if (access("/usr/bin/ssh-keygen", X_OK) == 0) {
		test_fingerprints();
		test_known_hosts();
	} else
		diag_note("ssh-keygen not found: key tests skipped");
	run(rm, NULL, NULL);
	return done_testing();
}

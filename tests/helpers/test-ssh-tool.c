/*
 * test-ssh-tool: exposes the ssh, knownhosts and fanout modules to the
 * shell tests (like git's test-tool).  Not installed.
 *
 *   test-ssh-tool [OPTIONS] exec HOST ARGV...
 *   test-ssh-tool [OPTIONS] upload HOST LOCAL REMOTE
 *   test-ssh-tool [OPTIONS] fanout HOST... -- ARGV...   (JSON on stdout)
 *   test-ssh-tool fingerprint FILE.pub                  (as ssh-keygen -l)
 *
 * Connection reuse: --persist-dir DIR makes connect try a holder there;
 * --persist S hands the session to a holder after exec/upload (prints
 * "test-ssh-tool: persisted N"); --report prints "test-ssh-tool: held" or
 * "test-ssh-tool: direct" after connect; --repeat N runs exec N times on
 * one handle; --progress prints "progress DONE TOTAL" for each stdin
 * progress call; --start-early MS runs exec as vz_ssh_exec_start, MS ms
 * of sleep, vz_ssh_exec_finish; --service PATH names the node's service
 * program (vz_ssh_opts.service) and flags exec VZ_SSH_SERVICE, so that
 * `exec HOST PATH VERB...` runs as a request on PATH's session.
 *
 * exec exits with the remote status; any transport error prints
 * "test-ssh-tool: CODE: message" (CODE = RETRY, AUTH, HOSTKEY, DEAD,
 * FAILED) and exits 100 + |code|.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fanout.h"
#include "json.h"
#include "knownhosts.h"
#include "ssh.h"

static struct vz_ssh_opts opts;
static uint64_t abort_at;
static const char *stdin_file;
static int verbose;
static int exec_flags;
static int persist_s = -1;
static int report;
static int repeat = 1;
static int show_progress;
static int early_ms = -1;

static const char *
code_name(int rc)
{
	switch (rc) {
	case VZ_SSH_OK: return "OK";
	case VZ_SSH_RETRY: return "RETRY";
	case VZ_SSH_AUTH: return "AUTH";
	case VZ_SSH_HOSTKEY: return "HOSTKEY";
	case VZ_SSH_DEAD: return "DEAD";
	default: return "FAILED";
	}
}

static int
fail(int rc, const char *msg)
{
	fprintf(stderr, "test-ssh-tool: %s: %s\n", code_name(rc), msg);
	return 100 - rc;
}

static void
log_cb(void *arg, int level, const char *msg)
{
	(void)arg;
	if (level <= verbose)
		fprintf(stderr, "debug%d: %s\n", level, msg);
}

static int
progress_cb(void *arg, uint64_t done, uint64_t total)
{
	(void)arg;
	(void)total;
	return abort_at > 0 && done >= abort_at;
}

static void
stdin_progress(void *arg, uint64_t done, uint64_t total)
{
	(void)arg;
	fprintf(stderr, "progress %llu %llu\n", (unsigned long long)done,
	    (unsigned long long)total);
}

static void
after_connect(struct vz_ssh *h)
{
	if (report)
		fprintf(stderr, "test-ssh-tool: %s\n",
		    vz_ssh_is_muxed(h) ? "held" : "direct");
}

/* Hand h to a holder when --persist was given. */
static int
maybe_persist(struct vz_ssh *h)
{
	char err[512];
	int n;

	if (persist_s < 0)
		return 0;
	if (opts.persist_dir == NULL) {
		fprintf(stderr, "test-ssh-tool: --persist needs --persist-dir\n");
		return -1;
	}
	if ((n = vz_ssh_persist(&h, 1, opts.persist_dir, persist_s, err,
	    sizeof err)) == -1) {
		fprintf(stderr, "test-ssh-tool: persist: %s\n", err);
		return -1;
	}
	fprintf(stderr, "test-ssh-tool: persisted %d\n", n);
	return 0;
}

static int
do_exec(int argc, char **argv)
{
	struct vz_ssh *h;
	struct vz_ssh_cmd c;
	struct buf in = BUF_INIT;
	int rc = 0, i;

	if (argc < 2)
		return 2;
	opts.host = argv[0];
	h = vz_ssh_new(&opts);
	if ((rc = vz_ssh_connect(h)) != VZ_SSH_OK) {
		rc = fail(rc, vz_ssh_error(h));
		vz_ssh_free(h);
		return rc;
	}
	after_connect(h);
	if (stdin_file != NULL &&
	    buf_read_file(&in, stdin_file, 1u << 30) == -1) {
		perror(stdin_file);
		vz_ssh_free(h);
		return 2;
	}
	for (i = 0; i < repeat; i++) {
		vz_ssh_cmd_init(&c, (const char *const *)argv + 1);
		c.flags = exec_flags;
		if (stdin_file != NULL) {
			c.in = in.data;
			c.inlen = in.len;
		}
		if (show_progress)
			c.progress = stdin_progress;
		if (early_ms >= 0) {
			/* start, wait, then send stdin and collect */
			if ((rc = vz_ssh_exec_start(h, &c)) == VZ_SSH_OK) {
				usleep((useconds_t)early_ms * 1000);
				rc = vz_ssh_exec_finish(h, &c);
			}
		} else
			rc = vz_ssh_exec(h, &c);
		if (rc != VZ_SSH_OK)
			rc = fail(rc, vz_ssh_error(h));
		else {
			fwrite(c.out.data, 1, c.out.len, stdout);
			fwrite(c.err.data, 1, c.err.len, stderr);
			if (c.signal[0] != '\0')
				fprintf(stderr, "test-ssh-tool: signal %s\n",
				    c.signal);
			rc = c.status < 0 ? 99 : c.status;
		}
		vz_ssh_cmd_release(&c);
		if (rc >= 100)
			break;
	}
	fflush(stdout);
	if (maybe_persist(h) == -1 && rc == 0)
		rc = 1;
	buf_release(&in);
	vz_ssh_free(h);
	return rc;
}

static int
do_upload(int argc, char **argv)
{
	struct vz_ssh *h;
	struct vz_ssh_upload u;
	int rc;

	if (argc != 3)
		return 2;
	opts.host = argv[0];
	h = vz_ssh_new(&opts);
	if ((rc = vz_ssh_connect(h)) != VZ_SSH_OK) {
		rc = fail(rc, vz_ssh_error(h));
		vz_ssh_free(h);
		return rc;
	}
	after_connect(h);
	memset(&u, 0, sizeof u);
	u.local = argv[1];
	u.remote = argv[2];
	u.mode = 0644;
	u.progress = progress_cb;
	rc = vz_ssh_upload(h, &u);
	printf("resumed %llu size %llu\n", (unsigned long long)u.resumed_from,
	    (unsigned long long)u.size);
	if (rc != VZ_SSH_OK)
		rc = fail(rc, vz_ssh_error(h));
	else if (report)
		after_connect(h);	/* an upload connects directly */
	fflush(stdout);
	if (maybe_persist(h) == -1 && rc == 0)
		rc = 1;
	vz_ssh_free(h);
	return rc;
}

struct fan_ctx {
	char	**argv;
};

static int
fan_one(struct vz_fanout_job *j, void *arg)
{
	struct fan_ctx *fc = arg;
	struct vz_ssh_opts o = opts;
	struct vz_ssh *h;
	struct vz_ssh_cmd c;
	int rc;

	o.host = j->name;
	h = vz_ssh_new(&o);
	rc = vz_ssh_connect(h);
	vz_fanout_note_ssh(j, h);
	if (rc == VZ_SSH_OK) {
		vz_ssh_cmd_init(&c, (const char *const *)fc->argv);
		rc = vz_ssh_exec(h, &c);
		if (rc == VZ_SSH_OK && c.status != 0)
			rc = VZ_SSH_FAILED;
		vz_ssh_cmd_release(&c);
	}
	if (rc != VZ_SSH_OK)
		snprintf(j->err, sizeof j->err, "%s", vz_ssh_error(h));
	vz_ssh_free(h);
	return rc;
}

static int
do_fanout(int argc, char **argv, int jobs)
{
	struct vz_fanout_job *j;
	struct fan_ctx fc;
	struct json_writer w;
	struct buf out = BUF_INIT;
	char err[256];
	int i, n = 0, failed;

	for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		n++;
	if (i >= argc - 1 || n == 0)
		return 2;
	fc.argv = argv + i + 1;
	j = xcalloc((size_t)n, sizeof *j);
	for (i = 0; i < n; i++)
		j[i].name = argv[i];
	failed = vz_fanout_run(j, (size_t)n, jobs, fan_one, &fc, err,
	    sizeof err);
	json_writer_init(&w, &out, 0);
	json_begin_array(&w);
	for (i = 0; i < n; i++) {
		json_begin_object(&w);
		json_kv_string(&w, "name", j[i].name);
		json_kv_int(&w, "rc", j[i].rc);
		json_kv_string(&w, "error", j[i].err);
		json_key(&w, "connectStart");
		json_double(&w, j[i].t_connect_start);
		json_key(&w, "connectEnd");
		json_double(&w, j[i].t_connect_end);
		json_end_object(&w);
	}
	json_end_array(&w);
	puts(out.data);
	buf_release(&out);
	free(j);
	return failed == 0 ? 0 : 1;
}

static int
do_fingerprint(const char *path)
{
	struct buf b = BUF_INIT;
	unsigned char *blob;
	char fp[64], *p, *e;
	long n;

	if (buf_read_file(&b, path, 1 << 20) == -1) {
		perror(path);
		return 2;
	}
	if ((p = strchr(b.data, ' ')) == NULL)
		return 2;
	p++;
	e = p + strcspn(p, " \n");
	if ((n = kh_base64_decode(p, (size_t)(e - p), &blob)) < 0)
		return 2;
	kh_fingerprint(blob, (size_t)n, fp, sizeof fp);
	printf("%d %s (%s)\n", kh_key_bits(blob, (size_t)n), fp,
	    kh_key_label(blob, (size_t)n));
	free(blob);
	buf_release(&b);
	return 0;
}

int
main(int argc, char **argv)
{
	enum { O_TOFU = 256, O_CT, O_TIMEOUT, O_ABORT, O_STDIN, O_REPLACE,
	    O_PASSENV, O_NOPUB, O_NOSUDO, O_PDIR, O_PERSIST, O_REPORT,
	    O_REPEAT, O_PROGRESS, O_EARLY, O_SERVICE };
	static const struct option lo[] = {
		{ "tofu", no_argument, NULL, O_TOFU },
		{ "replace-host-key", no_argument, NULL, O_REPLACE },
		{ "connect-timeout", required_argument, NULL, O_CT },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "abort-at", required_argument, NULL, O_ABORT },
		{ "stdin-file", required_argument, NULL, O_STDIN },
		{ "password-env", no_argument, NULL, O_PASSENV },
		{ "no-pubkey", no_argument, NULL, O_NOPUB },
		{ "nosudo", no_argument, NULL, O_NOSUDO },
		{ "persist-dir", required_argument, NULL, O_PDIR },
		{ "persist", required_argument, NULL, O_PERSIST },
		{ "report", no_argument, NULL, O_REPORT },
		{ "repeat", required_argument, NULL, O_REPEAT },
		{ "progress", no_argument, NULL, O_PROGRESS },
		{ "start-early", required_argument, NULL, O_EARLY },
		{ "service", required_argument, NULL, O_SERVICE },
		{ NULL, 0, NULL, 0 }
	};
	int opt, jobs = 16;
	char perr[256];

	opts.ssh_config = "";
	opts.log = log_cb;
	while ((opt = getopt_long(argc, argv, "+p:l:k:K:F:j:v", lo, NULL)) !=
	    -1) {
		switch (opt) {
		case 'p': opts.port = (int)strtol(optarg, NULL, 10); break;
		case 'l': opts.user = optarg; break;
		case 'k': opts.identity = optarg; break;
		case 'K': opts.known_hosts = optarg; break;
		case 'F': opts.ssh_config = optarg; break;
		case 'j': jobs = (int)strtol(optarg, NULL, 10); break;
		case 'v': verbose++; break;
		case O_TOFU: opts.hostkey_policy = VZ_HOSTKEY_TOFU; break;
		case O_REPLACE: opts.replace_hostkey = 1; break;
		case O_CT:
			opts.connect_timeout_ms = vz_ssh_parse_timeout(optarg);
			break;
		case O_TIMEOUT:
			opts.command_timeout_ms = vz_ssh_parse_timeout(optarg);
			break;
		case O_ABORT:
			abort_at = strtoull(optarg, NULL, 10);
			break;
		case O_STDIN: stdin_file = optarg; break;
		case O_PASSENV: opts.password = getenv("VZMASTER_PASSWORD"); break;
		case O_NOPUB: opts.no_pubkey = 1; break;
		case O_NOSUDO: exec_flags |= VZ_SSH_NOSUDO; break;
		case O_SERVICE:
			opts.service = optarg;
			exec_flags |= VZ_SSH_SERVICE;
			break;
		case O_PDIR: opts.persist_dir = optarg; break;
		case O_PERSIST:
			if (vz_ssh_parse_persist(optarg, &persist_s, perr,
			    sizeof perr) == -1) {
				fprintf(stderr, "test-ssh-tool: %s\n", perr);
				return 2;
			}
			break;
		case O_REPORT: report = 1; break;
		case O_REPEAT: repeat = (int)strtol(optarg, NULL, 10); break;
		case O_PROGRESS: show_progress = 1; break;
		case O_EARLY: early_ms = (int)strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return 2;
	if (strcmp(argv[0], "exec") == 0)
		return do_exec(argc - 1, argv + 1);
	if (strcmp(argv[0], "upload") == 0)
		return do_upload(argc - 1, argv + 1);
	if (strcmp(argv[0], "fanout") == 0)
		return do_fanout(argc - 1, argv + 1, jobs);
	if (strcmp(argv[0], "fingerprint") == 0 && argc == 2)
		return do_fingerprint(argv[1]);
	return 2;
}

/*
 * vzexec: the static node binary.  This file owns the verb table, option
 * parsing and usage; each verb's work lives in its module (supervise.c,
 * nodeinfo.c).  Image verbs are served by the static helper vzexec-image,
 * exec'd from the same folder so the resident supervisor never carries
 * the image code.  Exit codes: 0 done, 1 failed, 2 usage; the waiting
 * verbs (spec-put/spec-rm --wait, wait) add 4 timeout, 5 refused.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "nodelogs.h"
#include "vzexec.h"

#define WAIT_DEFAULT_S	60	/* wait without --timeout */

static const char usage_text[] =
"usage: vzexec VERB [OPTIONS]\n"
"\n"
"verbs:\n"
"  supervise [--root DIR] [--syslog PATH] [--backoff-base-ms N]\n"
"                        keep every pod in ROOT/pods running (from init)\n"
"  status [--root DIR]   node, image, pod and container state as JSON\n"
"  run [--root DIR] SPEC run one pod in the foreground; Ctrl-C stops it\n"
"  reload [--root DIR]   make the running supervisor re-read the specs\n"
"  spec-put [--root DIR] [--wait S] POD\n"
"                        install the pod spec read from stdin; --wait: then\n"
"                        wait until the pod runs it and is ready\n"
"  spec-rm [--root DIR] [--wait S] POD\n"
"                        remove a pod spec (the pod stops); --wait: until\n"
"                        it is gone\n"
"  wait [--root DIR] [--timeout S] POD HASH|--gone\n"
"                        wait until POD runs HASH and is ready, or is gone\n"
"  logs [--root DIR] [-n N] [--since T] [-f] POD[/CONTAINER]\n"
"                        the pod's log lines from syslog, journal or run/log\n"
"  session               run the verbs framed on stdin, one at a time (the\n"
"                        master's channel; see vzexec(8))\n"
"  version               print the version\n"
"  image-import, image-gc, image-list, image-check, image-cat\n"
"                        served by the helper vzexec-image\n"
"\n"
"ROOT defaults to " VZ_DEFAULT_ROOT ". Exit: 0 done, 1 failed, 2 usage;\n"
"waiting: 4 timeout, 5 refused or crash loop.\n"
"See vzexec(8).\n";

static int
usage(int code)
{
	fputs(usage_text, code == 0 ? stdout : stderr);
	return code;
}

/*
 * Options common to the verbs.  *argi is left on the first operand.
 * Returns -1 on a usage error (message printed), 1 for --help.
 */
static int
parse_opts(int argc, char **argv, int *argi, struct vzopts *o)
{
	char *end;
	long v;
	int i;

	for (i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return 1;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (strcmp(a, "--gone") == 0 && strcmp(argv[1], "wait") == 0) {
			o->gone = 1;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "vzexec: %s: option '%s' needs a "
			    "value\n", argv[1], a);
			return -1;
		}
		if (strcmp(a, "--root") == 0)
			o->root = argv[++i];
		else if (strcmp(a, "--syslog") == 0)
			o->syslog_path = argv[++i];
		else if (strcmp(a, "--backoff-base-ms") == 0) {
			errno = 0;
			v = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || v < 1 ||
			    v > 3600000) {
				fprintf(stderr, "vzexec: bad --backoff-base-ms "
				    "'%s'\n", argv[i]);
				return -1;
			}
			o->backoff_base_ms = (int)v;
		} else if ((strcmp(a, "--wait") == 0 &&
		    (strcmp(argv[1], "spec-put") == 0 ||
		    strcmp(argv[1], "spec-rm") == 0)) ||
		    (strcmp(a, "--timeout") == 0 &&
		    strcmp(argv[1], "wait") == 0)) {
			errno = 0;
			v = strtol(argv[++i], &end, 10);
			if (errno != 0 || end == argv[i] || *end != '\0' ||
			    v < 0 || v > 86400) {
				fprintf(stderr, "vzexec: %s: bad %s '%s' (whole "
				    "seconds, 0 to 86400)\n", argv[1], a,
				    argv[i]);
				return -1;
			}
			o->wait_s = (int)v;
		} else {
			fprintf(stderr, "vzexec: %s: unknown option '%s'\n",
			    argv[1], a);
			return -1;
		}
	}
	*argi = i;
	return 0;
}

static int
verb_reload(const struct vzopts *o)
{
	int pid = supervisor_pid(o->root);

	if (pid <= 0) {
		fprintf(stderr, "vzexec: reload: no supervisor runs for '%s'\n",
		    o->root);
		return EXIT_FAIL;
	}
	if (kill(pid, SIGHUP) != 0) {
		fprintf(stderr, "vzexec: reload: cannot signal pid %d: %s\n",
		    pid, strerror(errno));
		return EXIT_FAIL;
	}
	return EXIT_DONE;
}

/* Hand image verbs to vzexec-image beside /proc/self/exe, same argv. */
static int
verb_image(char **argv)
{
	char self[PATH_MAX], helper[PATH_MAX + 16], *slash;
	ssize_t r;

	if ((r = readlink("/proc/self/exe", self, sizeof self - 1)) <= 0) {
		fprintf(stderr, "vzexec: %s: cannot find my own path: %s\n",
		    argv[1], strerror(errno));
		return EXIT_FAIL;
	}
	self[r] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	snprintf(helper, sizeof helper, "%s/vzexec-image", self);
	argv[0] = helper;
	execv(helper, argv);
	fprintf(stderr, "vzexec: %s: cannot run the image helper '%s': %s\n",
	    argv[1], helper, errno == ENOENT ? "not installed beside vzexec" :
	    strerror(errno));
	return EXIT_FAIL;
}

/* wait POD HASH | wait POD --gone (--gone may come first, an option). */
static int
verb_wait(struct vzopts *o, int argc, char **argv, int argi)
{
	const char *pod, *hash = NULL;
	size_t n;

	if (argi < argc - 1 && strcmp(argv[argc - 1], "--gone") == 0) {
		o->gone = 1;
		argc--;
	}
	if (argi + (o->gone ? 1 : 2) != argc)
		return usage(EXIT_USAGE);
	pod = argv[argi];
	if (!spec_pod_name_ok(pod)) {
		fprintf(stderr, "vzexec: wait: invalid pod name '%s'\n", pod);
		return EXIT_USAGE;
	}
	if (!o->gone) {
		hash = argv[argi + 1];
		n = strlen(hash);
		if (n == 0 || n >= 80 || strspn(hash, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") != n) {
			fprintf(stderr, "vzexec: wait: invalid hash '%s'\n",
			    hash);
			return EXIT_USAGE;
		}
	}
	return podwait(o->root, pod, hash, o->wait_s >= 0 ? o->wait_s :
	    WAIT_DEFAULT_S);
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/*
 * Hidden: bench-start [--root DIR] SPEC N.  Starts the first container of
 * SPEC N times; prints the median microseconds from clone to the exec of
 * its entrypoint (container_launch returns exactly then).
 */
static int
verb_bench_start(const struct vzopts *o, const char *spec, int n)
{
	struct vz_pod *p;
	struct cg_info cg;
	struct launch l;
	struct timespec a, b;
	long long *us;
	char err[256];
	int i, status;
	pid_t pid;

	if (spec_load(spec, NULL, &p, err, sizeof err) != 0) {
		fprintf(stderr, "vzexec: bench-start: '%s': %s\n", spec, err);
		return EXIT_USAGE;
	}
	(void)cgroup_detect(&cg, o->root, 1);
	memset(&l, 0, sizeof l);
	l.root = o->root;
	l.cg = &cg;
	l.pod = p->name;
	l.ctr = p->ctr[0].name;
	l.poddoc = p->doc;
	l.cspec = p->ctr[0].spec;
	l.nofifo = 1;
	us = xcalloc((size_t)n, sizeof *us);
	for (i = 0; i < n; i++) {
		if (cgroup_prepare(&cg, l.pod, l.ctr, 0, 0, err, sizeof err)
		    != 0)
			goto fail;
		clock_gettime(CLOCK_MONOTONIC, &a);
		if ((pid = container_launch(&l, err, sizeof err)) == -1)
			goto fail;
		clock_gettime(CLOCK_MONOTONIC, &b);
		us[i] = (b.tv_sec - a.tv_sec) * 1000000LL +
		    (b.tv_nsec - a.tv_nsec) / 1000;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		/* untimed, as in the supervisor: done when it reaps */
		container_reaped(l.root, l.pod, l.ctr);
	}
	qsort(us, (size_t)n, sizeof *us, cmp_ll);
	printf("%lld\n", us[n / 2]);
	cgroup_remove(&cg, l.pod, l.ctr);
	free(us);
	spec_free(p);
	return EXIT_DONE;
fail:
	fprintf(stderr, "vzexec: bench-start: %s\n", err);
	free(us);
	spec_free(p);
	return EXIT_FAIL;
}

int
main(int argc, char **argv)
{
	struct vzopts o;
	const char *verb;
	int argi = 2, r;

	memset(&o, 0, sizeof o);
	o.root = VZ_DEFAULT_ROOT;
	o.argv = argv;
	o.backoff_base_ms = 10000;
	o.wait_s = -1;
	if (argc < 2)
		return usage(EXIT_USAGE);
	verb = argv[1];
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 ||
	    strcmp(verb, "help") == 0)
		return usage(EXIT_DONE);
	if (strcmp(verb, "image-import") == 0 || strcmp(verb, "image-gc") == 0 ||
	    strcmp(verb, "image-list") == 0 || strcmp(verb, "image-check") == 0 ||
	    strcmp(verb, "image-cat") == 0)
		return verb_image(argv);
	if (strcmp(verb, "session") == 0) {
		if (argc > 2 && strcmp(argv[2], "--help") == 0)
			return usage(EXIT_DONE);
		if (argc > 2)
			return usage(EXIT_USAGE);
		return session_main(argv[0]);
	}
	/* logs has options of its own (-n, -f, --since): before parse_opts */
	if (strcmp(verb, "logs") == 0)
		return nodelogs_main(argc, argv);
	if (strcmp(verb, "version") == 0 || strcmp(verb, "--version") == 0) {
		if (argc > 2 && strcmp(argv[2], "--help") == 0)
			return usage(EXIT_DONE);
		printf("vzexec %s\n", VZEXEC_VERSION);
		return EXIT_DONE;
	}
	r = parse_opts(argc, argv, &argi, &o);
	if (r == 1)
		return usage(EXIT_DONE);
	if (r < 0)
		return EXIT_USAGE;
	if (strcmp(verb, "supervise") == 0) {
		if (argi != argc)
			return usage(EXIT_USAGE);
		return supervise_main(&o, NULL);
	}
	if (strcmp(verb, "run") == 0) {
		if (argi + 1 != argc)
			return usage(EXIT_USAGE);
		o.foreground_pod = 1;
		vzlog_echo = 1;
		return supervise_main(&o, argv[argi]);
	}
	if (strcmp(verb, "status") == 0) {
		if (argi != argc)
			return usage(EXIT_USAGE);
		return status_main(&o);
	}
	if (strcmp(verb, "reload") == 0) {
		if (argi != argc)
			return usage(EXIT_USAGE);
		return verb_reload(&o);
	}
	if (strcmp(verb, "spec-put") == 0 || strcmp(verb, "spec-rm") == 0) {
		if (argi + 1 != argc)
			return usage(EXIT_USAGE);
		return verb[5] == 'p' ? specput_put(&o, argv[argi]) :
		    specput_rm(&o, argv[argi]);
	}
	if (strcmp(verb, "wait") == 0)
		return verb_wait(&o, argc, argv, argi);
	if (strcmp(verb, "firewall") == 0) {	/* hidden: tests, repairs */
		if (argi + 1 != argc)
			return usage(EXIT_USAGE);
		return firewall_main(&o, argv[argi]);
	}
	if (strcmp(verb, "bench-start") == 0) {
		if (argi + 2 != argc || strtol(argv[argi + 1], NULL, 10) < 1)
			return usage(EXIT_USAGE);
		return verb_bench_start(&o, argv[argi],
		    (int)strtol(argv[argi + 1], NULL, 10));
	}
	fprintf(stderr, "vzexec: unknown verb '%s'\n", verb);
	return usage(EXIT_USAGE);
}

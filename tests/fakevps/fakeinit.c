/*
 * tests/fakevps/fakeinit.c: PID 1 of a fake VPS (see tests/fakevps/README).
 *
 * Three roles, chosen by how it is started:
 *   fakeinit --pivot DIR   run by the fakevps script inside the node's fresh
 *                          namespaces once DIR holds the prepared root:
 *                          pivot_root into it and exec /sbin/init (a copy of
 *                          this program, so /proc/1/exe is /sbin/init and
 *                          /proc/1/comm is "init", like sysvinit);
 *   as PID 1               the init: starts sshd, runs /etc/inittab's sysinit,
 *                          boot, bootwait, wait, once and respawn lines, reaps
 *                          zombies, re-reads inittab on SIGHUP;
 *   otherwise              telinit: "telinit q" sends SIGHUP to PID 1, as
 *                          sysvinit's /sbin/init does when it is not PID 1;
 *                          "--version" answers like sysvinit's.
 * Logs to /var/log/fakeinit.log inside the node; the children's output goes
 * there too.  Static (musl) so it needs nothing from the node's tree.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define INITTAB		"/etc/inittab"
#define LOGFILE		"/var/log/fakeinit.log"
#define SSHD_CMD	"/usr/sbin/sshd -D -e"
#define NODE_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_ENTRIES	64
#define RESPAWN_MS	1000	/* delay before a respawn */
#define FAST_MS		1000	/* a process that lived less than this ... */
#define FAST_LIMIT	5	/* ... this many times in a row ... */
#define SLOW_MS		10000	/* ... is respawned after this long instead */
#define KILL_GRACE_MS	5000	/* SIGTERM, then SIGKILL after this long */

enum action {
	A_OTHER, A_SYSINIT, A_BOOT, A_BOOTWAIT, A_WAIT, A_ONCE, A_RESPAWN
};

struct entry {
	int		 used;
	int		 builtin;	/* sshd: not from inittab */
	int		 removed;	/* gone from inittab, waiting to die */
	char		 id[16];
	char		 levels[16];
	enum action	 action;
	char		 cmd[1024];
	pid_t		 pid;
	long long	 started;	/* ms, monotonic */
	long long	 next;		/* respawn due at (ms), 0 = not due */
	long long	 kill_at;	/* SIGKILL due at (ms), 0 = none */
	int		 fast;		/* consecutive short lives */
};

static struct entry	 entries[MAX_ENTRIES];
static char		 runlevel = '2';

static long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
logmsg(const char *fmt, ...)
{
	char		 stamp[32];
	time_t		 t = time(NULL);
	struct tm	 tm;
	va_list		 ap;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s fakeinit: ", stamp);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static enum action
parse_action(const char *s)
{
	if (strcmp(s, "sysinit") == 0)
		return (A_SYSINIT);
	if (strcmp(s, "boot") == 0)
		return (A_BOOT);
	if (strcmp(s, "bootwait") == 0)
		return (A_BOOTWAIT);
	if (strcmp(s, "wait") == 0)
		return (A_WAIT);
	if (strcmp(s, "once") == 0)
		return (A_ONCE);
	if (strcmp(s, "respawn") == 0)
		return (A_RESPAWN);
	return (A_OTHER);
}

/* Copies at most size-1 bytes of the field [s, e) into dst. */
static int
copy_field(char *dst, size_t size, const char *s, const char *e)
{
	size_t	n = (size_t)(e - s);

	if (n >= size)
		return (-1);
	memcpy(dst, s, n);
	dst[n] = '\0';
	return (0);
}

/*
 * Parses inittab into out[]; returns the number of entries, -1 if the file
 * cannot be read.  Lines are id:runlevels:action:process as in inittab(5);
 * malformed lines are logged and skipped.
 */
static int
read_inittab(struct entry *out, int max)
{
	FILE		*f;
	char		 line[1200], *p, *c1, *c2, *c3, act[16];
	int		 n = 0, lineno = 0;
	struct entry	*e;

	if ((f = fopen(INITTAB, "re")) == NULL) {
		if (errno != ENOENT)
			logmsg("cannot open %s: %s", INITTAB, strerror(errno));
		return (errno == ENOENT ? 0 : -1);
	}
	while (fgets(line, sizeof line, f) != NULL) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if ((c1 = strchr(p, ':')) == NULL ||
		    (c2 = strchr(c1 + 1, ':')) == NULL ||
		    (c3 = strchr(c2 + 1, ':')) == NULL) {
			logmsg("%s:%d: malformed line skipped", INITTAB, lineno);
			continue;
		}
		if (n == max) {
			logmsg("%s:%d: more than %d entries, rest ignored",
			    INITTAB, lineno, max);
			break;
		}
		e = &out[n];
		memset(e, 0, sizeof *e);
		if (copy_field(e->id, sizeof e->id, p, c1) != 0 ||
		    copy_field(e->levels, sizeof e->levels, c1 + 1, c2) != 0 ||
		    copy_field(act, sizeof act, c2 + 1, c3) != 0 ||
		    copy_field(e->cmd, sizeof e->cmd, c3 + 1,
		    c3 + 1 + strlen(c3 + 1)) != 0) {
			logmsg("%s:%d: field too long, line skipped", INITTAB,
			    lineno);
			continue;
		}
		e->action = parse_action(act);
		if (strcmp(act, "initdefault") == 0 && e->levels[0] != '\0')
			runlevel = e->levels[0];
		e->used = 1;
		n++;
	}
	fclose(f);
	return (n);
}

static int
in_runlevel(const struct entry *e)
{
	return (e->levels[0] == '\0' || strchr(e->levels, runlevel) != NULL);
}

static struct entry *
find_pid(pid_t pid)
{
	int	i;

	for (i = 0; i < MAX_ENTRIES; i++)
		if (entries[i].used && entries[i].pid == pid)
			return (&entries[i]);
	return (NULL);
}

static struct entry *
find_id(const char *id)
{
	int	i;

	for (i = 0; i < MAX_ENTRIES; i++)
		if (entries[i].used && !entries[i].removed &&
		    !entries[i].builtin && strcmp(entries[i].id, id) == 0)
			return (&entries[i]);
	return (NULL);
}

static struct entry *
new_slot(void)
{
	int	i;

	for (i = 0; i < MAX_ENTRIES; i++)
		if (!entries[i].used)
			return (&entries[i]);
	return (NULL);
}

/*
 * Starts e's process in its own session with the node's PATH, through
 * /bin/sh -c "exec CMD" as sysvinit does.
 */
static void
spawn(struct entry *e)
{
	char		 shcmd[1100];
	sigset_t	 all;
	pid_t		 pid;
	int		 fd;

	snprintf(shcmd, sizeof shcmd, "exec %s", e->cmd);
	pid = fork();
	if (pid == -1) {
		logmsg("%s: fork: %s", e->id, strerror(errno));
		e->next = now_ms() + RESPAWN_MS;
		return;
	}
	if (pid == 0) {
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		setsid();
		if ((fd = open("/dev/null", O_RDONLY)) != -1) {
			dup2(fd, 0);
			if (fd != 0)
				close(fd);
		}
		execl("/bin/sh", "sh", "-c", shcmd, (char *)NULL);
		logmsg("%s: cannot exec /bin/sh: %s", e->id, strerror(errno));
		_exit(127);
	}
	e->pid = pid;
	e->started = now_ms();
	e->next = 0;
	logmsg("%s: started pid %ld: %s", e->id, (long)pid, e->cmd);
}

static void
stop_entry(struct entry *e, long long now)
{
	e->removed = 1;
	e->next = 0;
	if (e->pid > 0) {
		logmsg("%s: removed from %s, stopping pid %ld", e->id, INITTAB,
		    (long)e->pid);
		kill(-e->pid, SIGTERM);
		kill(e->pid, SIGTERM);
		e->kill_at = now + KILL_GRACE_MS;
	} else
		memset(e, 0, sizeof *e);
}

/* Bookkeeping for a child that ended: log it, schedule a respawn. */
static void
child_exited(pid_t pid, int status)
{
	struct entry	*e;
	long long	 now;

	if ((e = find_pid(pid)) == NULL)
		return;
	now = now_ms();
	e->pid = 0;
	if (WIFSIGNALED(status))
		logmsg("%s: pid %ld killed by signal %d", e->id, (long)pid,
		    WTERMSIG(status));
	else
		logmsg("%s: pid %ld exited %d", e->id, (long)pid,
		    WEXITSTATUS(status));
	if (e->removed) {
		memset(e, 0, sizeof *e);
		return;
	}
	if (e->action != A_RESPAWN)
		return;
	e->fast = now - e->started < FAST_MS ? e->fast + 1 : 0;
	e->next = now + (e->fast >= FAST_LIMIT ? SLOW_MS : RESPAWN_MS);
	if (e->fast == FAST_LIMIT)
		logmsg("%s: respawning too fast, slowing down", e->id);
}

static void
reap(void)
{
	pid_t	pid;
	int	status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		child_exited(pid, status);
}

/* Runs e and waits for it (sysinit, bootwait, wait), reaping others meanwhile. */
static void
run_wait(struct entry *e)
{
	pid_t	pid;
	int	status;

	spawn(e);
	while (e->pid > 0) {
		pid = waitpid(-1, &status, 0);
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		child_exited(pid, status);
	}
}

/*
 * The initial start: sysinit and boot lines, then sshd, then the runlevel's
 * wait, once and respawn lines, each group in file order.
 */
static void
boot(void)
{
	struct entry	 tab[MAX_ENTRIES], *e, *sshd;
	int		 n, i, pass;

	if ((n = read_inittab(tab, MAX_ENTRIES - 1)) < 0)
		n = 0;
	for (i = 0; i < n; i++)
		entries[i] = tab[i];
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			e = &entries[i];
			if (pass == 0 && (e->action == A_SYSINIT ||
			    e->action == A_BOOTWAIT))
				run_wait(e);
			else if (pass == 0 && e->action == A_BOOT)
				spawn(e);
		}
		if (pass == 0) {
			sshd = new_slot();
			sshd->used = 1;
			sshd->builtin = 1;
			sshd->action = A_RESPAWN;
			snprintf(sshd->id, sizeof sshd->id, "sshd");
			snprintf(sshd->cmd, sizeof sshd->cmd, "%s", SSHD_CMD);
			spawn(sshd);
		}
		for (i = 0; pass == 1 && i < n; i++) {
			e = &entries[i];
			if (!in_runlevel(e))
				continue;
			if (e->action == A_WAIT)
				run_wait(e);
			else if (e->action == A_ONCE || e->action == A_RESPAWN)
				spawn(e);
		}
	}
}

/*
 * SIGHUP: like `telinit q`.  Entries gone from the file (or changed) are
 * stopped; new respawn and once entries of the runlevel are started.
 */
static void
reload(void)
{
	struct entry	 tab[MAX_ENTRIES], *e, *t;
	long long	 now = now_ms();
	int		 n, i, j, keep;

	logmsg("SIGHUP: re-reading %s", INITTAB);
	if ((n = read_inittab(tab, MAX_ENTRIES)) < 0)
		return;
	for (i = 0; i < MAX_ENTRIES; i++) {
		e = &entries[i];
		if (!e->used || e->builtin || e->removed)
			continue;
		keep = 0;
		for (j = 0; j < n; j++) {
			t = &tab[j];
			if (strcmp(t->id, e->id) == 0 &&
			    strcmp(t->cmd, e->cmd) == 0 &&
			    strcmp(t->levels, e->levels) == 0 &&
			    t->action == e->action)
				keep = 1;
		}
		if (!keep)
			stop_entry(e, now);
	}
	for (j = 0; j < n; j++) {
		t = &tab[j];
		if (find_id(t->id) != NULL)
			continue;
		if ((e = new_slot()) == NULL) {
			logmsg("%s: too many entries, ignored", t->id);
			continue;
		}
		*e = *t;
		if (in_runlevel(e) &&
		    (e->action == A_RESPAWN || e->action == A_ONCE))
			spawn(e);
	}
}

static void
tick(void)
{
	long long	now = now_ms();
	int		i;

	for (i = 0; i < MAX_ENTRIES; i++) {
		struct entry *e = &entries[i];

		if (!e->used)
			continue;
		if (e->removed && e->pid > 0 && e->kill_at != 0 &&
		    now >= e->kill_at) {
			logmsg("%s: pid %ld still alive, SIGKILL", e->id,
			    (long)e->pid);
			kill(-e->pid, SIGKILL);
			kill(e->pid, SIGKILL);
			e->kill_at = 0;
		}
		if (!e->removed && e->pid == 0 && e->next != 0 &&
		    now >= e->next)
			spawn(e);
	}
}

static long long
next_deadline(void)
{
	long long	d = 0;
	int		i;

	for (i = 0; i < MAX_ENTRIES; i++) {
		const struct entry *e = &entries[i];
		long long t = e->removed ? e->kill_at : e->next;

		if (e->used && t != 0 && (d == 0 || t < d))
			d = t;
	}
	return (d);
}

static void
init_main(void)
{
	sigset_t	 set;
	struct timespec	 ts;
	long long	 d, wait;
	int		 fd, sig;

	for (fd = 3; fd < 1024; fd++)
		close(fd);
	mkdir("/var/log", 0755);
	if ((fd = open(LOGFILE, O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC,
	    0644)) != -1) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	if ((fd = open("/dev/null", O_RDONLY)) != -1) {
		dup2(fd, 0);
		if (fd != 0)
			close(fd);
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	clearenv();
	setenv("PATH", NODE_PATH, 1);
	setenv("HOME", "/", 1);
	setenv("INIT_VERSION", "fakeinit", 1);
	if (chdir("/") == -1)
		logmsg("chdir /: %s", strerror(errno));
	umask(022);
	mkdir("/run/sshd", 0755);

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);

	logmsg("starting");
	boot();
	{
		char rl[2] = { runlevel, '\0' };

		setenv("RUNLEVEL", rl, 1);
	}
	for (;;) {
		reap();
		tick();
		d = next_deadline();
		wait = d == 0 ? 60000 : d - now_ms();
		if (wait < 0)
			wait = 0;
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (wait % 1000) * 1000000;
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGHUP)
			reload();
		else if (sig == SIGTERM || sig == SIGINT || sig == SIGUSR1)
			logmsg("signal %d ignored", sig);
	}
}

/* See pivot_root(2): stacking the old root under the new one and detaching it. */
static int
pivot(const char *root)
{
	if (chdir(root) == -1) {
		fprintf(stderr, "fakeinit: %s: %s\n", root, strerror(errno));
		return (-1);
	}
	if (syscall(SYS_pivot_root, ".", ".") == -1) {
		fprintf(stderr, "fakeinit: pivot_root %s: %s\n", root,
		    strerror(errno));
		return (-1);
	}
	if (umount2(".", MNT_DETACH) == -1) {
		fprintf(stderr, "fakeinit: detaching old root: %s\n",
		    strerror(errno));
		return (-1);
	}
	if (chdir("/") == -1)
		return (-1);
	return (0);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--pivot") == 0) {
		if (pivot(argv[2]) != 0)
			return (1);
		execl("/sbin/init", "init", (char *)NULL);
		fprintf(stderr, "fakeinit: exec /sbin/init: %s\n",
		    strerror(errno));
		return (1);
	}
	/* What newnode's PID-1 probe may ask; sysvinit answers the same way. */
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("SysV init version: fakeinit (vzmaster tests/fakevps)\n");
		return (0);
	}
	if (getpid() == 1) {
		init_main();
		return (0);
	}
	if (argc == 2 && (strcmp(argv[1], "q") == 0 ||
	    strcmp(argv[1], "Q") == 0)) {
		if (kill(1, SIGHUP) == -1) {
			fprintf(stderr, "telinit: cannot signal init: %s\n",
			    strerror(errno));
			return (1);
		}
		return (0);
	}
	fprintf(stderr, "usage: telinit q   (fakeinit: re-read /etc/inittab)\n");
	return (2);
}

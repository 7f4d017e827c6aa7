/*
 * cmd-newnode: `vzmaster newnode HOST` adopts a freshly bought VPS: from
 * root's password (or a key root already accepts) to a login user with
 * passwordless sudo and our keys, a static vzexec registered with the
 * node's real init and running, and the host in the inventory.
 *
 * Every step looks before it acts and reports "created", "updated" or
 * "unchanged", so a second run on an adopted node changes nothing.  All
 * refusals (unsupported init, no sudo/useradd, no vzexec for the node's
 * architecture, no public key) happen before the first change.  The
 * password is only held in memory, wiped after use, and never logged.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "cmd.h"
#include "inventory.h"
#include "json.h"
#include "progress.h"
#include "ssh.h"
#include "sshconfig.h"


#ifndef PKGLIBEXECDIR
#define PKGLIBEXECDIR "/usr/local/libexec/vzmaster"
#endif

#define NODE_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH; "
#define VZEXEC_REMOTE	"/usr/local/sbin/vzexec"
#define VZ_ROOT		"/var/lib/vz"
#define INITTAB_LINE	"vz:2345:respawn:/usr/local/sbin/vzexec supervise"
/* Once per boot, before the supervisor: images imported without a sync
   are checked (vzexec(8) image-check). */
#define INITTAB_CHECK	"vzck::bootwait:/usr/local/sbin/vzexec image-check"
#define BOOT_CHECK	"[ -e /run/vzexec-image-checked ] || " \
	"{ /usr/local/sbin/vzexec image-check; : >/run/vzexec-image-checked; }"

enum init_kind { INIT_SYSTEMD, INIT_INITTAB, INIT_OPENRC };
static const char *init_names[] = { "systemd", "sysv", "openrc" };

struct step {
	const char	*name;
	char		 result[32];	/* created, updated, unchanged, ... */
	char		 detail[256];
};

struct newnode {
	struct vz_ctx	*ctx;
	const char	*host;
	char		*name;
	char		*user;
	const char	*group;
	const char	*vendor;
	const char	*identity;
	int		 port;
	int		 harden;
	int		 connect_timeout_ms;
	int		 replace_hostkey;
	const char	*password_file;
	char		*password;
	char		*known_hosts;

	struct vz_ssh	*h;		/* the admin session */
	int		 printed_hostkey;
	struct vz_ssh_hostkey hk;

	/* probe */
	struct buf	 probe;
	char		 os[600], arch[32], pid1[600];
	long long	 mem_kb, disk_kb;
	enum init_kind	 init;
	int		 user_exists;

	char		*vzexec_local;
	char		*vzexec_image_local;
	char		 version[128];

	struct step	 steps[16];
	size_t		 nsteps;
	int		 changed;
};

static struct step *
step_add(struct newnode *n, const char *name, const char *result,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static struct step *
step_add(struct newnode *n, const char *name, const char *result,
    const char *fmt, ...)
{
	struct step *s = &n->steps[n->nsteps < 15 ? n->nsteps++ : 15];
	va_list ap;

	s->name = name;
	snprintf(s->result, sizeof s->result, "%s", result);
	s->detail[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(s->detail, sizeof s->detail, fmt, ap);
		va_end(ap);
	}
	if (strcmp(result, "unchanged") != 0 && strcmp(result, "ok") != 0 &&
	    strcmp(result, "skipped") != 0)
		n->changed++;
	if (!n->ctx->json)
		vz_info(n->ctx, "%s: %-10s %s%s%s", n->name, name, result,
		    s->detail[0] ? ": " : "", s->detail);
	return s;
}

static void
wipe(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
}

static void
log_cb(void *arg, int level, const char *msg)
{
	struct vz_ctx *ctx = arg;

	if (level <= ctx->verbosity)
		fprintf(stderr, "vzmaster: debug%d: %s\n", level, msg);
}

/* ---- password ---- */

static int
read_password(struct newnode *n)
{
	struct buf b = BUF_INIT;
	struct termios old, noecho;
	const char *env;
	char line[1024];
	size_t len;
	FILE *tty;

	if (n->password != NULL)
		return 0;
	if (n->password_file != NULL) {
		if (buf_read_file(&b, n->password_file, 4096) == -1) {
			vz_error("cannot read '%s': %s", n->password_file,
			    strerror(errno));
			buf_release(&b);
			return -1;
		}
		len = strcspn(b.data, "\r\n");
		n->password = xstrndup(b.data, len);
		explicit_bzero(b.data, b.len);
		buf_release(&b);
		return 0;
	}
	if ((env = getenv("VZMASTER_PASSWORD")) != NULL) {
		n->password = xstrdup(env);
		return 0;
	}
	if ((tty = fopen("/dev/tty", "r+")) == NULL || !isatty(fileno(tty))) {
		if (tty != NULL)
			fclose(tty);
		vz_error("%s: root password needed: give --password-file FILE "
		    "or set VZMASTER_PASSWORD (no terminal to ask on)", n->host);
		return -1;
	}
	fprintf(tty, "root@%s's password: ", n->host);
	fflush(tty);
	tcgetattr(fileno(tty), &old);
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	tcsetattr(fileno(tty), TCSAFLUSH, &noecho);
	if (fgets(line, sizeof line, tty) == NULL)
		line[0] = '\0';
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	line[strcspn(line, "\r\n")] = '\0';
	n->password = xstrdup(line);
	explicit_bzero(line, sizeof line);
	return 0;
}

/* ---- connections ---- */

static void
note_hostkey(struct newnode *n, struct vz_ssh *h)
{
	struct vz_ssh_hostkey k;

	vz_ssh_hostkey_info(h, &k);
	if (k.fingerprint[0] != '\0')
		n->hk = k;
	if (n->printed_hostkey || n->ctx->json)
		return;
	if (k.recorded) {
		fprintf(stderr, "%s: new host key %s (%s)\n", n->host,
		    k.fingerprint, k.label);
		n->printed_hostkey = 1;
	} else if (k.replaced) {
		fprintf(stderr, "%s: host key replaced by %s (%s)\n", n->host,
		    k.fingerprint, k.label);
		n->printed_hostkey = 1;
	}
}

static struct vz_ssh *
open_session(struct newnode *n, const char *user, const char *password,
    int no_pubkey, int *rc)
{
	struct vz_ssh_opts o;
	struct vz_ssh *h;

	memset(&o, 0, sizeof o);
	o.name = n->name;
	o.host = n->host;
	o.port = n->port;
	o.user = user;
	o.identity = n->identity;
	o.known_hosts = n->known_hosts;
	o.hostkey_policy = VZ_HOSTKEY_TOFU;
	o.replace_hostkey = n->replace_hostkey;
	o.connect_timeout_ms = n->connect_timeout_ms;
	o.command_timeout_ms = 300000;
	o.no_pubkey = no_pubkey;
	o.password = password;
	o.log = log_cb;
	o.log_arg = n->ctx;
	h = vz_ssh_new(&o);
	*rc = vz_ssh_connect(h);
	if (*rc == VZ_SSH_OK || *rc == VZ_SSH_AUTH)
		note_hostkey(n, h);
	return h;
}

/*
 * The admin session: the login user by key if the node is already adopted
 * (and sudo works), else root by key, else root by password.
 */
static int
connect_admin(struct newnode *n)
{
	struct vz_ssh *h;
	const char *sudo_true[] = { "true", NULL };
	int rc;

	if (strcmp(n->user, "root") != 0) {
		h = open_session(n, n->user, NULL, 0, &rc);
		if (rc == VZ_SSH_OK && vz_ssh_run(h, sudo_true, NULL, NULL) ==
		    VZ_SSH_OK) {
			n->h = h;
			return 0;
		}
		if (rc != VZ_SSH_OK && rc != VZ_SSH_AUTH)
			goto fail;
		vz_ssh_free(h);
	}
	h = open_session(n, "root", NULL, 0, &rc);
	if (rc == VZ_SSH_OK) {
		n->h = h;
		return 0;
	}
	if (rc != VZ_SSH_AUTH)
		goto fail;
	vz_ssh_free(h);
	if (read_password(n) == -1)
		return -1;
	h = open_session(n, "root", n->password, 1, &rc);
	wipe(n->password);
	if (rc == VZ_SSH_OK) {
		n->h = h;
		return 0;
	}
	if (rc == VZ_SSH_AUTH) {
		vz_error("%s: authentication failed for root@%s", n->name,
		    n->host);
		vz_ssh_free(h);
		return -1;
	}
fail:
	vz_error("%s: %s", n->name, vz_ssh_error(h));
	vz_ssh_free(h);
	return -1;
}

/* Run a fixed sh script with positional args; stdout into out. */
static int
run_script(struct newnode *n, const char *script, const char *const *args,
    const char *in, struct buf *out, struct buf *errout)
{
	const char *argv[16];
	struct vz_ssh_cmd c;
	struct buf s = BUF_INIT;
	size_t i, k = 0;
	int rc;

	buf_adds(&s, NODE_PATH);
	buf_adds(&s, script);
	argv[k++] = "sh";
	argv[k++] = "-c";
	argv[k++] = s.data;
	argv[k++] = "vzmaster";
	for (i = 0; args != NULL && args[i] != NULL && k < 15; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	vz_ssh_cmd_init(&c, argv);
	if (in != NULL) {
		c.in = in;
		c.inlen = strlen(in);
	}
	rc = vz_ssh_exec(n->h, &c);
	if (rc != VZ_SSH_OK) {
		if (errout != NULL)
			buf_adds(errout, vz_ssh_error(n->h));
		rc = -1;
	} else {
		if (out != NULL)
			buf_add(out, c.out.data, c.out.len);
		if (errout != NULL) {
			char *nl;

			while (c.err.len > 0 && c.err.data[c.err.len - 1] ==
			    '\n')
				c.err.data[--c.err.len] = '\0';
			if ((nl = strrchr(c.err.data, '\n')) != NULL)
				buf_adds(errout, nl + 1);
			else
				buf_adds(errout, c.err.data);
		}
		rc = c.status;
	}
	vz_ssh_cmd_release(&c);
	buf_release(&s);
	return rc;
}

/* "key=value" lines: value of key, or "" */
static void
kv(const struct buf *b, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key);
	const char *p = b->data;

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t l = strcspn(p + kl + 1, "\n");

			snprintf(out, outlen, "%.*s", (int)l, p + kl + 1);
			return;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
}

static const char probe_script[] =
"u=\"$1\"\n"
"echo \"uid=$(id -u)\"\n"
"if [ -r /etc/os-release ]; then . /etc/os-release;"
" echo \"os_id=$ID\"; echo \"os_version=$VERSION_ID\"; fi\n"
"echo \"kernel=$(uname -s)\"\n"
"echo \"arch=$(uname -m)\"\n"
"echo \"mem_kb=$(awk '/^MemTotal:/{print $2}' /proc/meminfo)\"\n"
"echo \"disk_kb=$(df -Pk /var/lib 2>/dev/null | awk 'NR==2{print $4}')\"\n"
"echo \"pid1_exe=$(readlink /proc/1/exe 2>/dev/null)\"\n"
"echo \"pid1_comm=$(cat /proc/1/comm 2>/dev/null)\"\n"
"for c in sudo useradd usermod visudo systemctl rc-update rc-service sshd"
" sha256sum; do echo \"have_$c=$(command -v $c 2>/dev/null)\"; done\n"
"[ -f /etc/inittab ] && echo inittab=1\n"
"[ -d /run/systemd/system ] && echo systemd_running=1\n"
"[ -e /run/openrc/softlevel ] && echo openrc_running=1\n"
"id -u \"$u\" >/dev/null 2>&1 && echo user_exists=1\n"
"exit 0\n";

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s != NULL ? s + 1 : p;
}

/* ELF e_machine of a file; 0 when it is a script (#!), -1 unknown. */
static int
file_machine(const char *path)
{
	unsigned char h[20];
	int fd;
	ssize_t r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	r = read(fd, h, sizeof h);
	close(fd);
	if (r >= 2 && h[0] == '#' && h[1] == '!')
		return 0;
	if (r < 20 || memcmp(h, "\177ELF", 4) != 0)
		return -1;
	return h[5] == 1 ? h[18] | h[19] << 8 : h[19] | h[18] << 8;
}

static int
arch_machine(const char *arch)
{
	if (strcmp(arch, "x86_64") == 0)
		return 62;
	if (strcmp(arch, "aarch64") == 0 || strcmp(arch, "arm64") == 0)
		return 183;
	if (strncmp(arch, "armv", 4) == 0)
		return 40;
	if (strcmp(arch, "riscv64") == 0)
		return 243;
	if (strcmp(arch, "i686") == 0 || strcmp(arch, "i386") == 0)
		return 3;
	return -2;
}

static char *
exe_dir(void)
{
	char p[PATH_MAX];
	ssize_t r = readlink("/proc/self/exe", p, sizeof p - 1);
	char *s;

	if (r <= 0)
		return NULL;
	p[r] = '\0';
	if ((s = strrchr(p, '/')) == NULL)
		return NULL;
	*s = '\0';
	return xstrdup(p);
}

/* Find vzexec for arch: $VZEXEC, beside vzmaster, pkglibexecdir; within
 * each, vzexec.ARCH first, then vzexec when its ELF machine matches. */
static int
find_vzexec(struct newnode *n)
{
	const char *env = getenv("VZEXEC");
	char *dirs[3] = { NULL, NULL, NULL };
	struct buf p = BUF_INIT;
	int want = arch_machine(n->arch), m, i, found = 0;

	if (env != NULL && env[0] != '\0') {
		char *s = xstrdup(env), *slash = strrchr(s, '/');

		if (slash != NULL)
			*slash = '\0';
		if ((m = file_machine(env)) == 0 || (m > 0 && m == want)) {
			n->vzexec_local = xstrdup(env);
			dirs[0] = s;
			found = 1;
		} else
			free(s);
	}
	if (!found) {
		dirs[1] = exe_dir();
		dirs[2] = xstrdup(PKGLIBEXECDIR);
		for (i = 1; i < 3 && !found; i++) {
			if (dirs[i] == NULL)
				continue;
			buf_reset(&p);
			buf_addf(&p, "%s/vzexec.%s", dirs[i], n->arch);
			m = file_machine(p.data);
			if (m < 0 || (m > 0 && m != want)) {
				buf_reset(&p);
				buf_addf(&p, "%s/vzexec", dirs[i]);
				m = file_machine(p.data);
			}
			if (m == 0 || (m > 0 && m == want)) {
				n->vzexec_local = xstrdup(p.data);
				found = 1;
				free(dirs[0]);
				dirs[0] = xstrdup(dirs[i]);
			}
		}
	}
	if (found) {
		buf_reset(&p);
		buf_addf(&p, "%s/vzexec-image", dirs[0]);
		if (access(p.data, R_OK) == 0)
			n->vzexec_image_local = xstrdup(p.data);
	}
	for (i = 0; i < 3; i++)
		free(dirs[i]);
	buf_release(&p);
	return found ? 0 : -1;
}

static int
probe(struct newnode *n)
{
	const char *args[] = { n->user, NULL };
	struct buf err = BUF_INIT;
	char v[256], v2[256], comm[64], exe[256];
	int rc = -1;

	if (run_script(n, probe_script, args, NULL, &n->probe, &err) != 0) {
		vz_error("%s: cannot inspect the node: %s", n->name, err.data);
		goto out;
	}
	kv(&n->probe, "kernel", v, sizeof v);
	if (strcmp(v, "Linux") != 0) {
		vz_error("%s: unsupported system '%s': vzexec needs Linux",
		    n->name, v);
		goto out;
	}
	kv(&n->probe, "os_id", v, sizeof v);
	kv(&n->probe, "os_version", v2, sizeof v2);
	snprintf(n->os, sizeof n->os, "%s%s%s", v[0] ? v : "unknown",
	    v2[0] ? " " : "", v2);
	kv(&n->probe, "arch", n->arch, sizeof n->arch);
	kv(&n->probe, "mem_kb", v, sizeof v);
	n->mem_kb = strtoll(v, NULL, 10);
	kv(&n->probe, "disk_kb", v, sizeof v);
	n->disk_kb = strtoll(v, NULL, 10);
	kv(&n->probe, "pid1_exe", exe, sizeof exe);
	kv(&n->probe, "pid1_comm", comm, sizeof comm);
	snprintf(n->pid1, sizeof n->pid1, "%s (%s)", exe[0] ? exe : "?",
	    comm[0] ? comm : "?");
	kv(&n->probe, "user_exists", v, sizeof v);
	n->user_exists = v[0] == '1';

	/* What PID 1 really is, not what is installed. */
	kv(&n->probe, "have_systemctl", v, sizeof v);
	if (strcmp(comm, "systemd") == 0 ||
	    strcmp(base_name(exe), "systemd") == 0) {
		if (v[0] == '\0') {
			vz_error("%s: PID 1 is systemd but systemctl is "
			    "missing", n->name);
			goto out;
		}
		n->init = INIT_SYSTEMD;
	} else {
		char orc[8], rcu[256], rcs[256], tab[8];

		kv(&n->probe, "openrc_running", orc, sizeof orc);
		kv(&n->probe, "have_rc-update", rcu, sizeof rcu);
		kv(&n->probe, "have_rc-service", rcs, sizeof rcs);
		kv(&n->probe, "inittab", tab, sizeof tab);
		if ((strcmp(base_name(exe), "openrc-init") == 0 ||
		    orc[0] == '1') && rcu[0] != '\0' && rcs[0] != '\0')
			n->init = INIT_OPENRC;
		else if (tab[0] == '1' && (strcmp(comm, "init") == 0 ||
		    strstr(base_name(exe), "init") != NULL ||
		    strcmp(base_name(exe), "busybox") == 0))
			n->init = INIT_INITTAB;
		else {
			vz_error("%s: unsupported init: PID 1 is %s, and it is "
			    "neither systemd, OpenRC nor an init reading "
			    "/etc/inittab%s; nothing was changed", n->name,
			    n->pid1, tab[0] == '1' ? "" :
			    " (no /etc/inittab)");
			goto out;
		}
	}
	if (strcmp(n->user, "root") != 0) {
		kv(&n->probe, "have_sudo", v, sizeof v);
		if (v[0] == '\0') {
			vz_error("%s: sudo is not installed on the node "
			    "(%s); install it first; nothing was changed",
			    n->name, n->os);
			goto out;
		}
		kv(&n->probe, "have_useradd", v, sizeof v);
		if (!n->user_exists && v[0] == '\0') {
			vz_error("%s: useradd is not installed on the node "
			    "(%s); nothing was changed", n->name, n->os);
			goto out;
		}
	}
	if (find_vzexec(n) == -1) {
		vz_error("%s: no vzexec for architecture '%s' (looked at "
		    "$VZEXEC, beside vzmaster and in %s); nothing was changed",
		    n->name, n->arch, PKGLIBEXECDIR);
		goto out;
	}
	rc = 0;
out:
	buf_release(&err);
	return rc;
}

/* ---- steps ---- */

/*
 * Install stdin as $1 with mode $2 unless it is there already; $3 =
 * "visudo" validates it first.  Prints created/updated/unchanged.
 */
static const char install_script[] =
"set -e\n"
"f=\"$1\"; t=\"$(dirname \"$f\")/.$(basename \"$f\").vzmaster-tmp\"\n"
"mkdir -p \"$(dirname \"$f\")\"\n"
"umask 077; cat >\"$t\"\n"
"if [ -f \"$f\" ] && cmp -s \"$t\" \"$f\" &&"
" [ \"$(stat -c %a \"$f\")\" = \"$2\" ]; then rm -f \"$t\"; echo unchanged;"
" exit 0; fi\n"
"if [ \"$3\" = visudo ] && command -v visudo >/dev/null 2>&1; then\n"
"  if ! visudo -cf \"$t\" >/dev/null 2>&1; then rm -f \"$t\";"
" echo \"visudo -c rejects the file\" >&2; exit 1; fi\n"
"fi\n"
"chmod \"$2\" \"$t\"; chown 0:0 \"$t\"\n"
"if [ -e \"$f\" ]; then r=updated; else r=created; fi\n"
"mv -f \"$t\" \"$f\"; echo $r\n";

static int
install_file(struct newnode *n, const char *stepname, const char *path,
    const char *mode, const char *check, const char *content, char *result,
    size_t resultlen)
{
	const char *args[] = { path, mode, check, NULL };
	struct buf out = BUF_INIT, err = BUF_INIT;
	int rc = 0;

	if (run_script(n, install_script, args, content, &out, &err) != 0) {
		vz_error("%s: %s: cannot install '%s': %s", n->name, stepname,
		    path, err.data);
		rc = -1;
	} else
		snprintf(result, resultlen, "%.*s",
		    (int)strcspn(out.data, "\n"), out.data);
	buf_release(&out);
	buf_release(&err);
	return rc;
}

static int
step_user(struct newnode *n)
{
	const char *args[] = { n->user, NULL };
	struct buf err = BUF_INIT;
	int rc = 0;

	if (strcmp(n->user, "root") == 0 || n->user_exists) {
		step_add(n, "user", "unchanged", "'%s' exists", n->user);
		return 0;
	}
	/* '*', not the '!' useradd leaves: sshd without PAM refuses key
	 * logins to "locked" accounts. */
	if (run_script(n, "useradd -m -s /bin/sh -- \"$1\" &&"
	    " usermod -p '*' -- \"$1\"", args, NULL, NULL, &err) != 0) {
		vz_error("%s: cannot create user '%s': %s", n->name, n->user,
		    err.data);
		rc = -1;
	} else
		step_add(n, "user", "created", "'%s'", n->user);
	buf_release(&err);
	return rc;
}

static int
step_sudo(struct newnode *n)
{
	struct buf path = BUF_INIT, content = BUF_INIT;
	char result[32];
	int rc;

	if (strcmp(n->user, "root") == 0) {
		step_add(n, "sudo", "skipped", "root needs no sudo");
		return 0;
	}
	buf_addf(&path, "/etc/sudoers.d/vzmaster-%s", n->user);
	/*
	 * !use_pty for vzexec: Debian's "Defaults use_pty" makes sudo relay
	 * the command's I/O through a pipe even without a terminal, an extra
	 * copy of every image pushed on vzexec's stdin.  No terminal is ever
	 * involved there, which is what use_pty protects.  !pam_session and
	 * !pam_setcred: a cron deploy runs vzexec through sudo several times
	 * a minute; the PAM session (limits, "session opened" lines in the
	 * auth log) was a third of sudo's 20 ms there and gives vzexec
	 * nothing.  sudo still logs each command.
	 */
	buf_addf(&content, "# written by vzmaster newnode: %s runs vzexec as "
	    "root\n%s ALL=(ALL:ALL) NOPASSWD: ALL\nDefaults:%s !requiretty\n"
	    "Defaults!" VZEXEC_REMOTE " !use_pty, !pam_session, "
	    "!pam_setcred\n",
	    n->user, n->user, n->user);
	rc = install_file(n, "sudo", path.data, "440", "visudo", content.data,
	    result, sizeof result);
	if (rc == 0)
		step_add(n, "sudo", result, "%s", path.data);
	buf_release(&path);
	buf_release(&content);
	return rc;
}

static const char keys_script[] =
"set -e\n"
"u=\"$1\"\n"
"home=$(awk -F: -v u=\"$u\" '$1==u{print $6; exit}' /etc/passwd)\n"
"[ -n \"$home\" ] || { echo \"no home folder for '$u'\" >&2; exit 1; }\n"
"grp=$(id -g \"$u\")\n"
"d=\"$home/.ssh\"; f=\"$d/authorized_keys\"; added=0; fixed=0\n"
"[ -d \"$d\" ] || { mkdir -p \"$d\"; fixed=1; }\n"
"[ -f \"$f\" ] || { : >\"$f\"; fixed=1; }\n"
"while IFS= read -r line; do\n"
"  [ -n \"$line\" ] || continue\n"
"  b=$(printf '%s\\n' \"$line\" | awk '{print $2}')\n"
"  if ! grep -qF -- \"$b\" \"$f\"; then\n"
"    printf '%s\\n' \"$line\" >>\"$f\"; added=$((added+1)); fi\n"
"done\n"
"if [ \"$(stat -c %a:%u \"$d\")\" != \"700:$(id -u \"$u\")\" ] ||"
" [ \"$(stat -c %a:%u \"$f\")\" != \"600:$(id -u \"$u\")\" ]; then\n"
"  chmod 700 \"$d\"; chmod 600 \"$f\"; chown \"$(id -u \"$u\"):$grp\" \"$d\" \"$f\";"
" fixed=1; fi\n"
"echo \"$added $fixed $f\"\n";

static int
step_keys(struct newnode *n)
{
	const char *args[] = { n->user, NULL };
	struct buf keys = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
	int added = 0, fixed = 0, rc = -1;
	char file[256];

	if (vz_ssh_public_keys(n->identity, &keys) == 0) {
		vz_error("%s: no public key to install: ssh-agent has none "
		    "and there is no ~/.ssh/*.pub (create one with ssh-keygen)",
		    n->name);
		goto out;
	}
	if (run_script(n, keys_script, args, keys.data, &out, &err) != 0) {
		vz_error("%s: cannot install keys for '%s': %s", n->name,
		    n->user, err.data);
		goto out;
	}
	file[0] = '\0';
	if (sscanf(out.data, "%d %d %255s", &added, &fixed, file) < 2)
		added = fixed = 0;
	if (added > 0)
		step_add(n, "keys", "created", "%d key%s added to %s", added,
		    added == 1 ? "" : "s", file);
	else if (fixed)
		step_add(n, "keys", "updated", "modes of %s", file);
	else
		step_add(n, "keys", "unchanged", "%s", file);
	rc = 0;
out:
	buf_release(&keys);
	buf_release(&out);
	buf_release(&err);
	return rc;
}

static int
step_dirs(struct newnode *n)
{
	/* incoming/ belongs to the login user: SFTP uploads run as it */
	static const char script[] =
	    "set -e; r=unchanged\n"
	    "[ -d " VZ_ROOT " ] || { mkdir -p -m 0755 " VZ_ROOT "; r=created; }\n"
	    "i=" VZ_ROOT "/incoming\n"
	    "[ -d \"$i\" ] || { mkdir -m 0700 \"$i\"; r=created; }\n"
	    "if [ \"$(stat -c %U:%a \"$i\")\" != \"$1:700\" ]; then\n"
	    "  chown \"$1\" \"$i\"; chmod 0700 \"$i\";"
	    " [ $r = created ] || r=updated; fi\n"
	    "echo $r\n";
	const char *args[] = { n->user, NULL };
	struct buf out = BUF_INIT, err = BUF_INIT;
	int rc = 0;

	if (run_script(n, script, args, NULL, &out, &err) != 0) {
		vz_error("%s: cannot create %s: %s", n->name, VZ_ROOT,
		    err.data);
		rc = -1;
	} else {
		out.data[strcspn(out.data, "\n")] = '\0';
		step_add(n, "root", out.data, "%s (incoming/ owned by %s)",
		    VZ_ROOT, n->user);
	}
	buf_release(&out);
	buf_release(&err);
	return rc;
}

static int
local_sha256(const char *path, char hex[65])
{
	EVP_MD_CTX *ctx;
	unsigned char md[32], chunk[65536];
	unsigned int mdlen = sizeof md;
	ssize_t r;
	int fd, i;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((r = read(fd, chunk, sizeof chunk)) > 0)
		EVP_DigestUpdate(ctx, chunk, (size_t)r);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	close(fd);
	if (r < 0)
		return -1;
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

struct upload_progress {
	struct vz_progress	 bar;
	uint64_t		 last;
	int			 on;
};

static int
progress_cb(void *arg, uint64_t done, uint64_t total)
{
	struct upload_progress *up = arg;

	(void)total;
	if (up->on && done >= up->last) {
		vz_progress_add(&up->bar, done - up->last);
		up->last = done;
	}
	return 0;
}

/* Upload one binary to /usr/local/sbin/NAME; *changed = 1 if replaced. */
static int
install_binary(struct newnode *n, const char *local, const char *remote,
    int *changed)
{
	const char *sumargs[] = { remote, NULL };
	struct buf out = BUF_INIT, err = BUF_INIT, tmp = BUF_INIT;
	struct vz_ssh_upload u;
	struct upload_progress up;
	struct stat st;
	char hex[65], label[128];
	int rc = -1;

	*changed = 0;
	memset(&up, 0, sizeof up);
	if (local_sha256(local, hex) == -1) {
		vz_error("cannot read '%s': %s", local, strerror(errno));
		goto out;
	}
	(void)run_script(n, "sha256sum -- \"$1\" 2>/dev/null || true",
	    sumargs, NULL, &out, NULL);
	if (out.len >= 64 && strncmp(out.data, hex, 64) == 0) {
		rc = 0;
		goto out;
	}
	memset(&u, 0, sizeof u);
	u.local = local;
	u.mode = 0755;
	u.progress = progress_cb;
	u.progress_arg = &up;
	/* a bar only for a person watching */
	if (n->ctx->tty && !n->ctx->json && n->ctx->verbosity >= 0 &&
	    stat(local, &st) == 0) {
		snprintf(label, sizeof label, "%s: %s", n->name,
		    strrchr(remote, '/') + 1);
		vz_progress_init(&up.bar, stderr, label, (uint64_t)st.st_size);
		up.on = 1;
	}
	if (vz_ssh_is_root(n->h)) {
		u.remote = remote;
		if (vz_ssh_upload(n->h, &u) != VZ_SSH_OK) {
			vz_error("%s: %s", n->name, vz_ssh_error(n->h));
			goto out;
		}
	} else {
		/* SFTP runs as the login user: stage in incoming/, then
		 * copy into place as root and rename atomically */
		const char *args[] = { NULL, remote, NULL };

		buf_addf(&tmp, VZ_ROOT "/incoming/%s", strrchr(remote, '/') + 1);
		u.remote = tmp.data;
		args[0] = tmp.data;
		if (vz_ssh_upload(n->h, &u) != VZ_SSH_OK) {
			vz_error("%s: %s", n->name, vz_ssh_error(n->h));
			goto out;
		}
		if (run_script(n, "set -e; cp -- \"$1\" \"$2.vzmaster-new\";"
		    " chmod 0755 \"$2.vzmaster-new\"; chown 0:0 "
		    "\"$2.vzmaster-new\"; mv -f -- \"$2.vzmaster-new\" \"$2\";"
		    " rm -f -- \"$1\"", args, NULL, NULL, &err) != 0) {
			vz_error("%s: cannot install '%s': %s", n->name,
			    remote, err.data);
			goto out;
		}
	}
	*changed = 1;
	rc = 0;
out:
	if (up.on) {
		if (rc == 0)
			vz_progress_finish(&up.bar);
		else
			fputc('\n', stderr);
		vz_progress_release(&up.bar);
	}
	buf_release(&out);
	buf_release(&err);
	buf_release(&tmp);
	return rc;
}

static int
step_vzexec(struct newnode *n, int *binary_changed)
{
	int changed = 0, ch2 = 0;

	if (install_binary(n, n->vzexec_local, VZEXEC_REMOTE, &changed) == -1)
		return -1;
	if (n->vzexec_image_local != NULL &&
	    install_binary(n, n->vzexec_image_local,
	    "/usr/local/sbin/vzexec-image", &ch2) == -1)
		return -1;
	*binary_changed = changed || ch2;
	step_add(n, "vzexec", *binary_changed ? "created" : "unchanged",
	    "%s%s", VZEXEC_REMOTE, n->vzexec_image_local != NULL ?
	    " and vzexec-image" : "");
	return 0;
}

static const char systemd_unit[] =
"# written by vzmaster newnode\n"
"[Unit]\n"
"Description=vzexec supervisor (vzmaster node agent)\n"
"After=network.target\n"
"\n"
"[Service]\n"
"ExecStartPre=-/bin/sh -c '" BOOT_CHECK "'\n"
"ExecStart=/usr/local/sbin/vzexec supervise\n"
"# the vzexec on disk, in place: the pods keep running\n"
"ExecReload=/bin/kill -USR2 $MAINPID\n"
"Restart=always\n"
"RestartSec=2\n"
"# containers outlive a supervisor restart; it re-adopts them\n"
"KillMode=process\n"
"Delegate=yes\n"
"\n"
"[Install]\n"
"WantedBy=multi-user.target\n";

static const char openrc_script[] =
"#!/sbin/openrc-run\n"
"# written by vzmaster newnode\n"
"description=\"vzexec supervisor (vzmaster node agent)\"\n"
"command=/usr/local/sbin/vzexec\n"
"command_args=supervise\n"
"supervisor=supervise-daemon\n"
"respawn_delay=2\n"
"# after, not need: Debian's OpenRC runs LSB scripts and has no localmount\n"
"depend() {\n"
"\tafter localmount net\n"
"}\n"
"start_pre() {\n"
"\t" BOOT_CHECK "\n"
"}\n";

/*
 * The pid of `vzexec supervise`, other than $2, waiting up to $1 tenths of
 * a second.  With $2 (a restart) only the pidfile counts: the new
 * supervisor writes it once it takes SIGHUP, and a deploy right after
 * newnode signals the pid it names; before that, the old one may still be
 * exiting, or init not have respawned it yet.
 */
static const char running_script[] =
"i=0\n"
"while :; do\n"
"  if [ \"$2\" != 0 ]; then\n"
"    p=$(cat " VZ_ROOT "/run/supervise.pid 2>/dev/null) || p=\n"
"    if [ -n \"$p\" ] && [ \"$p\" != \"$2\" ]; then\n"
"      c=$(tr '\\000' ' ' <\"/proc/$p/cmdline\" 2>/dev/null) &&\n"
"      case \"$c\" in *vzexec\\ supervise*) echo \"$p\"; exit 0;; esac\n"
"    fi\n"
"  else\n"
"    for p in /proc/[0-9]*; do\n"
"      c=$(tr '\\000' ' ' <\"$p/cmdline\" 2>/dev/null) || continue\n"
"      case \"$c\" in *vzexec\\ supervise*) echo \"${p#/proc/}\"; exit 0;; esac\n"
"    done\n"
"  fi\n"
"  [ $i -lt \"$1\" ] || exit 1\n"
"  sleep 0.1; i=$((i+1))\n"
"done\n";

static int
supervisor_pid(struct newnode *n, const char *tenths, int old_pid)
{
	char old[16];
	const char *args[] = { tenths, old, NULL };
	struct buf out = BUF_INIT;
	int pid = 0;

	snprintf(old, sizeof old, "%d", old_pid);

	if (run_script(n, running_script, args, NULL, &out, NULL) == 0)
		pid = (int)strtol(out.data, NULL, 10);
	buf_release(&out);
	return pid;
}

/*
 * A new vzexec on disk, the old supervisor $1 running: SIGUSR2 makes a
 * supervisor of 0.6 or later execve the new binary in place, pods kept
 * running; an older one dies of it, as of a crash, and init starts the new
 * one, which re-adopts the pods.  Prints the pid of the supervisor that
 * runs the binary on disk, waiting up to $2 tenths of a second.
 */
static const char upgrade_script[] =
"kill -USR2 \"$1\" || exit 1\n"
"i=0\n"
"while :; do\n"
"  p=$(cat " VZ_ROOT "/run/supervise.pid 2>/dev/null) || p=\n"
"  if [ -n \"$p\" ] && [ /proc/$p/exe -ef " VZEXEC_REMOTE " ]; then\n"
"    c=$(tr '\\000' ' ' <\"/proc/$p/cmdline\" 2>/dev/null) &&\n"
"    case \"$c\" in *vzexec\\ supervise*) echo \"$p\"; exit 0;; esac\n"
"  fi\n"
"  [ $i -lt \"$2\" ] || exit 1\n"
"  sleep 0.1; i=$((i+1))\n"
"done\n";

static int
supervisor_upgrade(struct newnode *n, int old_pid)
{
	char old[16];
	const char *args[] = { old, "150", NULL };
	struct buf out = BUF_INIT, err = BUF_INIT;
	int pid = 0;

	snprintf(old, sizeof old, "%d", old_pid);
	if (run_script(n, upgrade_script, args, NULL, &out, &err) == 0)
		pid = (int)strtol(out.data, NULL, 10);
	if (pid <= 0) {
		vz_error("%s: no 'vzexec supervise' runs the new %s 15 s after "
		    "SIGUSR2 to pid %d%s%.*s", n->name, VZEXEC_REMOTE, old_pid,
		    err.len > 0 ? ": " : "", err.len > 0 ?
		    (int)strcspn(err.data, "\n") : 0, err.len > 0 ? err.data :
		    "");
		pid = 0;
	}
	buf_release(&out);
	buf_release(&err);
	return pid;
}

static int
step_init(struct newnode *n, int binary_changed)
{
	struct buf err = BUF_INIT, out = BUF_INIT;
	char result[32] = "unchanged";
	const char *what = NULL;
	int rc = -1, was_running, pid, old_pid;

	old_pid = supervisor_pid(n, "0", 0);
	was_running = old_pid > 0;
	switch (n->init) {
	case INIT_SYSTEMD:
		what = "/etc/systemd/system/vzexec.service";
		if (install_file(n, "init", what, "644", "", systemd_unit,
		    result, sizeof result) == -1)
			goto out;
		if (run_script(n, "set -e\n"
		    "[ \"$1\" = unchanged ] || systemctl daemon-reload\n"
		    "r=unchanged\n"
		    "systemctl is-enabled -q vzexec.service 2>/dev/null ||"
		    " { systemctl enable -q vzexec.service; r=enabled; }\n"
		    "systemctl is-active -q vzexec.service ||"
		    " { systemctl start vzexec.service; r=started; }\n"
		    "echo $r\n", (const char *[]){ result, NULL }, NULL,
		    &out, &err) != 0)
			goto fail;
		break;
	case INIT_INITTAB:
		what = "/etc/inittab";
		if (run_script(n, "set -e\n"
		    "if grep -qxF -- \"$1\" /etc/inittab &&"
		    " grep -qxF -- \"$2\" /etc/inittab; then echo unchanged;"
		    " exit 0; fi\n"
		    "t=/etc/.inittab.vzmaster-tmp\n"
		    "grep -v -e '^vz:' -e '^vzck:' /etc/inittab >\"$t\" ||"
		    " true\n"
		    "printf '%s\\n' \"$2\" \"$1\" >>\"$t\"\n"
		    "chmod --reference=/etc/inittab \"$t\" 2>/dev/null || chmod 644 \"$t\"\n"
		    "mv -f \"$t\" /etc/inittab\n"
		    "if command -v telinit >/dev/null 2>&1; then telinit q;"
		    " else kill -HUP 1; fi\n"
		    "echo created\n", (const char *[]){ INITTAB_LINE,
		    INITTAB_CHECK, NULL },
		    NULL, &out, &err) != 0)
			goto fail;
		snprintf(result, sizeof result, "%.*s",
		    (int)strcspn(out.data, "\n"), out.data);
		buf_reset(&out);
		break;
	case INIT_OPENRC:
		what = "/etc/init.d/vzexec";
		if (install_file(n, "init", what, "755", "", openrc_script,
		    result, sizeof result) == -1)
			goto out;
		if (run_script(n, "set -e; r=unchanged\n"
		    "rc-update show default 2>/dev/null | grep -qw vzexec ||"
		    " { rc-update add vzexec default >/dev/null; r=enabled; }\n"
		    "if ! rc-service vzexec status >/dev/null 2>&1; then"
		    " rc-service vzexec start >/dev/null; r=started; fi\n"
		    "echo $r\n", (const char *[]){ NULL }, NULL, &out,
		    &err) != 0)
			goto fail;
		break;
	}
	if (out.len > 0 && strncmp(out.data, "unchanged", 9) != 0)
		snprintf(result, sizeof result, "%.*s",
		    (int)strcspn(out.data, "\n"), out.data);
	if (binary_changed && was_running) {
		if ((pid = supervisor_upgrade(n, old_pid)) == 0)
			goto out;
		snprintf(result, sizeof result, "restarted");
		step_add(n, "init", result, "%s: %s, supervise pid %d %s",
		    init_names[n->init], what, pid, pid == old_pid ?
		    "re-executed in place, pods kept running" :
		    "started again by init, pods re-adopted");
		rc = 0;
		goto out;
	}
	if ((pid = supervisor_pid(n, "100", 0)) == 0) {
		vz_error("%s: 'vzexec supervise' is not running after "
		    "registering it with %s (%s)", n->name,
		    init_names[n->init], what);
		goto out;
	}
	if (!was_running && strcmp(result, "unchanged") == 0)
		snprintf(result, sizeof result, "started");
	step_add(n, "init", result, "%s: %s, supervise pid %d",
	    init_names[n->init], what, pid);
	rc = 0;
	goto out;
fail:
	vz_error("%s: cannot register vzexec with %s: %s", n->name,
	    init_names[n->init], err.data);
out:
	buf_release(&err);
	buf_release(&out);
	return rc;
}

/* A fresh login as the user with keys only, strict host key. */
static struct vz_ssh *
user_session(struct newnode *n)
{
	struct vz_ssh_opts o;
	struct vz_ssh *h;

	memset(&o, 0, sizeof o);
	o.name = n->name;
	o.host = n->host;
	o.port = n->port;
	o.user = n->user;
	o.identity = n->identity;
	o.known_hosts = n->known_hosts;
	o.hostkey_policy = VZ_HOSTKEY_STRICT;
	o.connect_timeout_ms = n->connect_timeout_ms;
	o.command_timeout_ms = 60000;
	o.log = log_cb;
	o.log_arg = n->ctx;
	h = vz_ssh_new(&o);
	if (vz_ssh_connect(h) != VZ_SSH_OK) {
		vz_error("%s: key login as '%s' does not work: %s", n->name,
		    n->user, vz_ssh_error(h));
		vz_ssh_free(h);
		return NULL;
	}
	return h;
}

static const char harden_script[] =
"set -e\n"
"c=/etc/ssh/sshd_config\n"
"cur=$(sshd -T 2>/dev/null | awk '$1==\"passwordauthentication\"{print $2}')\n"
"[ \"$cur\" != no ] || { echo unchanged; exit 0; }\n"
"t=/etc/ssh/.sshd_config.vzmaster-tmp\n"
"{ echo '# vzmaster newnode --harden: key logins only (first value wins)';"
" echo 'PasswordAuthentication no'; echo 'KbdInteractiveAuthentication no';"
" cat \"$c\"; } >\"$t\"\n"
"if ! sshd -t -f \"$t\" 2>/dev/null; then\n"
"  { echo '# vzmaster newnode --harden: key logins only (first value wins)';"
" echo 'PasswordAuthentication no'; cat \"$c\"; } >\"$t\"\n"
"  sshd -t -f \"$t\" || { rm -f \"$t\"; echo 'sshd -t rejects the change' >&2;"
" exit 1; }\n"
"fi\n"
"chmod --reference=\"$c\" \"$t\" 2>/dev/null || chmod 644 \"$t\"\n"
"cp -p \"$c\" \"$c.vzmaster-orig\" 2>/dev/null || true\n"
"reload() {\n"
"  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then\n"
"    systemctl reload ssh 2>/dev/null || systemctl reload sshd\n"
"  elif [ -e /run/openrc/softlevel ] && command -v rc-service >/dev/null; then\n"
"    if rc-service -e sshd; then rc-service sshd reload >/dev/null;\n"
"    else rc-service ssh reload >/dev/null; fi\n"
"  elif [ -s /run/sshd.pid ]; then kill -HUP \"$(cat /run/sshd.pid)\"\n"
"  elif [ -s /var/run/sshd.pid ]; then kill -HUP \"$(cat /var/run/sshd.pid)\"\n"
"  else echo 'cannot find sshd to reload' >&2; return 1; fi\n"
"}\n"
"mv -f \"$t\" \"$c\"\n"
"if ! reload; then\n"
"  # the running sshd still has the old file: so must the disk, or the next\n"
"  # run would find it hardened and leave password login on\n"
"  [ ! -f \"$c.vzmaster-orig\" ] || cp -p \"$c.vzmaster-orig\" \"$c\"\n"
"  echo 'sshd was not reloaded; its config is as it was' >&2; exit 1\n"
"fi\n"
"[ \"$(sshd -T 2>/dev/null | awk '$1==\"passwordauthentication\"{print $2}')\" = no ]\n"
"echo updated\n";

static int
step_harden(struct newnode *n)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	const char *sudo_true[] = { "true", NULL };
	struct vz_ssh *u;
	int rc = -1;

	/* never lock ourselves out: key login as the user first */
	if ((u = user_session(n)) == NULL)
		return -1;
	if (vz_ssh_run(u, sudo_true, NULL, NULL) != VZ_SSH_OK) {
		vz_error("%s: 'sudo -n true' as '%s' fails: %s; not hardening",
		    n->name, n->user, vz_ssh_error(u));
		goto out;
	}
	if (run_script(n, harden_script, NULL, NULL, &out, &err) != 0) {
		vz_error("%s: cannot turn off password login: %s", n->name,
		    err.data);
		goto out;
	}
	out.data[strcspn(out.data, "\n")] = '\0';
	step_add(n, "harden", out.data, "PasswordAuthentication no");
	rc = 0;
out:
	vz_ssh_free(u);
	buf_release(&out);
	buf_release(&err);
	return rc;
}

static int
step_verify(struct newnode *n)
{
	const char *argv[] = { VZEXEC_REMOTE, "version", NULL };
	struct buf out = BUF_INIT;
	struct vz_ssh *u;
	int rc = -1;

	if ((u = user_session(n)) == NULL)
		return -1;
	if (vz_ssh_run(u, argv, NULL, &out) != VZ_SSH_OK) {
		vz_error("%s: '%svzexec version' as '%s' fails: %s", n->name,
		    vz_ssh_is_root(u) ? "" : "sudo -n ", n->user,
		    vz_ssh_error(u));
		goto out;
	}
	snprintf(n->version, sizeof n->version, "%.*s",
	    (int)strcspn(out.data, "\n"), out.data);
	step_add(n, "verify", "ok", "key login as %s%s: %s", n->user,
	    vz_ssh_is_root(u) ? "" : " + sudo -n", n->version);
	rc = 0;
out:
	vz_ssh_free(u);
	buf_release(&out);
	return rc;
}

static int
step_inventory(struct newnode *n)
{
	static const char *const drop[] = { "ansible_port", NULL };
	struct inv_var vars[4];
	char port[16], err[512];
	size_t nv = 0;
	int changed = 0;

	vars[nv].key = "ansible_host";
	vars[nv].value = (char *)n->host;
	vars[nv++].is_string = 1;
	if (n->port != 0 && n->port != 22) {
		snprintf(port, sizeof port, "%d", n->port);
		vars[nv].key = "ansible_port";
		vars[nv].value = port;
		vars[nv++].is_string = 0;
	}
	vars[nv].key = "ansible_user";
	vars[nv].value = n->user;
	vars[nv++].is_string = 1;
	if (n->vendor != NULL) {
		vars[nv].key = "vendor";
		vars[nv].value = (char *)n->vendor;
		vars[nv++].is_string = 1;
	}
	/* a re-run keeps the user's other vars on the line, vendor too
	 * when --vendor is not given; the port is ours: back on 22, an
	 * old ansible_port goes */
	if (inventory_add_host(n->ctx->inventory_path, n->group, n->name,
	    vars, nv, drop, &changed, err, sizeof err) == -1) {
		vz_error("%s: %s", n->name, err);
		return -1;
	}
	step_add(n, "inventory", changed ? "updated" : "unchanged",
	    "%s [%s] %s", n->ctx->inventory_path, n->group, n->name);
	return 0;
}

/* ---- names ---- */

static int
valid_user(const char *u)
{
	size_t i;

	if (u[0] == '\0' || strlen(u) > 32 || !(islower((unsigned char)u[0]) ||
	    u[0] == '_'))
		return 0;
	for (i = 1; u[i] != '\0'; i++)
		if (!islower((unsigned char)u[i]) &&
		    !isdigit((unsigned char)u[i]) && u[i] != '_' && u[i] != '-')
			return 0;
	return 1;
}

static int
valid_name(const char *s)
{
	size_t i;

	if (s[0] == '\0' || strlen(s) > 253)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* 10.1.2.3 -> node-10-1-2-3; 2001:db8::1 -> node-2001-db8--1;
 * a DNS name or alias stays itself, lower-cased. */
static char *
derive_name(const char *host)
{
	struct buf b = BUF_INIT;
	int addr = 1;
	const char *p;

	for (p = host; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p) && *p != '.' && *p != ':' &&
		    !(strchr(host, ':') != NULL && isxdigit((unsigned char)*p)))
			addr = 0;
	if (addr) {
		buf_adds(&b, "node-");
		for (p = host; *p != '\0'; p++)
			buf_addc(&b, *p == '.' || *p == ':' ? '-' :
			    tolower((unsigned char)*p));
	} else
		for (p = host; *p != '\0'; p++)
			buf_addc(&b, tolower((unsigned char)*p));
	return buf_detach(&b, NULL);
}

static void
print_json(struct newnode *n, int ok)
{
	struct json_writer w;
	struct buf out = BUF_INIT;
	size_t i;

	json_writer_init(&w, &out, 1);
	json_begin_object(&w);
	json_kv_string(&w, "host", n->host);
	json_kv_string(&w, "name", n->name);
	json_kv_string(&w, "user", n->user);
	json_kv_string(&w, "group", n->group);
	if (n->vendor != NULL)
		json_kv_string(&w, "vendor", n->vendor);
	json_kv_bool(&w, "ok", ok);
	json_kv_int(&w, "changed", n->changed);
	json_key(&w, "hostKey");
	json_begin_object(&w);
	json_kv_string(&w, "fingerprint", n->hk.fingerprint);
	json_kv_string(&w, "type", n->hk.label);
	json_kv_bool(&w, "recorded", n->hk.recorded);
	json_end_object(&w);
	json_kv_string(&w, "os", n->os);
	json_kv_string(&w, "arch", n->arch);
	json_kv_int(&w, "memTotal", n->mem_kb * 1024);
	json_kv_int(&w, "diskFree", n->disk_kb * 1024);
	json_kv_string(&w, "pid1", n->pid1);
	json_kv_string(&w, "init", n->probe.len > 0 ? init_names[n->init] : "");
	json_kv_string(&w, "vzexecVersion", n->version);
	json_key(&w, "steps");
	json_begin_array(&w);
	for (i = 0; i < n->nsteps; i++) {
		json_begin_object(&w);
		json_kv_string(&w, "step", n->steps[i].name);
		json_kv_string(&w, "result", n->steps[i].result);
		json_kv_string(&w, "detail", n->steps[i].detail);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_end_object(&w);
	puts(out.data);
	buf_release(&out);
}

enum {
	OPT_NAME = 0x2001, OPT_USER, OPT_GROUP, OPT_VENDOR, OPT_PORT,
	OPT_PASSFILE, OPT_HARDEN, OPT_CTIMEOUT, OPT_REPLACE
};

extern const struct cmd_entry cmd_newnode_entry;

static int
newnode_exec(struct vz_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name",		required_argument, NULL, OPT_NAME },
		{ "user",		required_argument, NULL, OPT_USER },
		{ "group",		required_argument, NULL, OPT_GROUP },
		{ "vendor",		required_argument, NULL, OPT_VENDOR },
		{ "port",		required_argument, NULL, OPT_PORT },
		{ "password-file",	required_argument, NULL, OPT_PASSFILE },
		{ "harden",		no_argument,	   NULL, OPT_HARDEN },
		{ "connect-timeout",	required_argument, NULL, OPT_CTIMEOUT },
		{ "replace-host-key",	no_argument,	   NULL, OPT_REPLACE },
		{ "identity",		required_argument, NULL, 'k' },
		CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const struct cmd_entry *c = &cmd_newnode_entry;
	struct newnode n;
	struct passwd *pw;
	const char *name = NULL, *user = NULL;
	char *end;
	long v;
	int opt, r, rc = VZ_EXIT_FAIL, binary_changed = 0;

	memset(&n, 0, sizeof n);
	n.ctx = ctx;
	n.group = "vz";
	buf_init(&n.probe);
	while ((opt = getopt_long(argc, argv, "k:" CMD_COMMON_SHORTOPTS,
	    longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_NAME:
			name = optarg;
			break;
		case OPT_USER:
			user = optarg;
			break;
		case OPT_GROUP:
			n.group = optarg;
			break;
		case OPT_VENDOR:
			n.vendor = optarg;
			break;
		case OPT_PORT:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
				return cmd_usage_error(c, "bad port '%s'",
				    optarg);
			n.port = (int)v;
			break;
		case OPT_PASSFILE:
			n.password_file = optarg;
			break;
		case OPT_HARDEN:
			n.harden = 1;
			break;
		case OPT_CTIMEOUT:
			if ((n.connect_timeout_ms =
			    vz_ssh_parse_timeout(optarg)) == -1)
				return cmd_usage_error(c, "bad timeout '%s': "
				    "seconds, e.g. 5 or 2.5", optarg);
			break;
		case OPT_REPLACE:
			n.replace_hostkey = 1;
			break;
		case 'k':
			n.identity = optarg;
			break;
		default:
			if ((r = cmd_common_option(ctx, c, opt)) !=
			    CMD_CONTINUE)
				return r;
		}
	}
	if (optind != argc - 1)
		return cmd_usage_error(c, optind >= argc ? "no HOST given" :
		    "only one HOST at a time");
	n.host = argv[optind];
	if (!valid_name(n.host) && strchr(n.host, ':') == NULL)
		return cmd_usage_error(c, "bad host '%s'", n.host);
	if (user == NULL) {
		if ((pw = getpwuid(geteuid())) == NULL)
			return cmd_usage_error(c, "cannot tell the local user "
			    "name: give --user");
		user = pw->pw_name;
	}
	if (!valid_user(user))
		return cmd_usage_error(c, "bad user name '%s' (lower-case "
		    "letters, digits, '_' and '-')", user);
	n.user = xstrdup(user);
	n.name = name != NULL ? xstrdup(name) : derive_name(n.host);
	if (!valid_name(n.name))
		return cmd_usage_error(c, "bad node name '%s'", n.name);
	if (!valid_name(n.group))
		return cmd_usage_error(c, "bad group name '%s'", n.group);
	n.known_hosts = vz_ssh_known_hosts_path(ctx->inventory_path);

	if (connect_admin(&n) == -1)
		goto out;
	if (probe(&n) == -1)
		goto out;
	if (!ctx->json)
		vz_info(ctx, "%s: %s %s, %lld MiB memory, %lld MiB free on "
		    "/var/lib, PID 1 %s -> %s", n.name, n.os, n.arch,
		    n.mem_kb / 1024, n.disk_kb / 1024, n.pid1,
		    init_names[n.init]);
	/* Every check is done; from here on the node changes. */
	if (step_user(&n) == -1 || step_sudo(&n) == -1 ||
	    step_keys(&n) == -1 || step_dirs(&n) == -1 ||
	    step_vzexec(&n, &binary_changed) == -1 ||
	    step_init(&n, binary_changed) == -1)
		goto out;
	if (n.harden && step_harden(&n) == -1)
		goto out;
	if (step_verify(&n) == -1 || step_inventory(&n) == -1)
		goto out;
	if (!ctx->json) {
		if (n.changed == 0)
			vz_info(ctx, "%s: already adopted, nothing changed",
			    n.name);
		else
			vz_info(ctx, "%s: adopted (%d change%s)", n.name,
			    n.changed, n.changed == 1 ? "" : "s");
	}
	rc = VZ_EXIT_OK;
out:
	if (ctx->json)
		print_json(&n, rc == VZ_EXIT_OK);
	if (n.password != NULL) {
		wipe(n.password);
		free(n.password);
	}
	vz_ssh_free(n.h);
	buf_release(&n.probe);
	free(n.user);
	free(n.name);
	free(n.known_hosts);
	free(n.vzexec_local);
	free(n.vzexec_image_local);
	return rc;
}

const struct cmd_entry cmd_newnode_entry = {
	.name = "newnode",
	.summary = "adopt a fresh VPS: user, keys, sudo, vzexec, inventory",
	.usage = "[--name NAME] [--user NAME] [--group GROUP] [--vendor NAME]\n"
	    "       [--port N] [--password-file FILE] [--harden] [-k KEY]\n"
	    "       [--connect-timeout S] [--replace-host-key] [--json] HOST",
	.help =
	    "Options:\n"
	    "      --name NAME        inventory name (default: from HOST,\n"
	    "                         10.1.2.3 -> node-10-1-2-3)\n"
	    "      --user NAME        login user to create (default: yours)\n"
	    "      --group GROUP      inventory group (default: vz)\n"
	    "      --vendor NAME      hosting company, stored as vendor=\n"
	    "      --port N           SSH port (default: ~/.ssh/config or 22)\n"
	    "      --password-file F  root password from the first line of F\n"
	    "                         (else $VZMASTER_PASSWORD, else a prompt)\n"
	    "      --harden           turn off password login once key login\n"
	    "                         works\n"
	    "  -k, --identity FILE    private key to log in with\n"
	    "      --connect-timeout S  give up connecting after S seconds (5)\n"
	    "      --replace-host-key accept a changed host key (reinstalled\n"
	    "                         node) and replace the known_hosts entry\n",
	.exec = newnode_exec,
};

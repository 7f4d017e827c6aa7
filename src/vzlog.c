/*
 * vzlog: the supervisor's only output.  Container lines and its own
 * messages go to syslog as RFC 3164 datagrams on /dev/log (or the socket
 * named by --syslog / $VZEXEC_SYSLOG), tag "vz/POD/CONTAINER" or "vzexec".
 * When no socket answers, lines go to ROOT/run/log/<tag>.log, capped at
 * VZLOG_FILE_MAX and rotated once to .1, so nothing grows without bound.
 * No heap: one static datagram buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vzexec.h"

#define VZLOG_FILE_MAX	(1024 * 1024)
#define FAC_DAEMON	3

static int	 log_fd = -1;
static char	 log_sock[108] = "/dev/log";
static char	 log_dir[512];
static char	 log_msg[VZ_LINE_MAX + 256];
int		 vzlog_echo;	/* `run`: also to stderr */

void
vzlog_init(const char *root, const char *sockpath)
{
	const char *e = getenv("VZEXEC_SYSLOG");

	if (sockpath == NULL)
		sockpath = e != NULL && e[0] != '\0' ? e : "/dev/log";
	snprintf(log_sock, sizeof log_sock, "%s", sockpath);
	snprintf(log_dir, sizeof log_dir, "%s/run/log", root);
	if (log_fd != -1) {
		close(log_fd);
		log_fd = -1;
	}
}

static int
log_connect(void)
{
	struct sockaddr_un sun;

	if (log_fd != -1)
		return 0;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", log_sock);
	log_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (log_fd == -1)
		return -1;
	if (connect(log_fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		close(log_fd);
		log_fd = -1;
		return -1;
	}
	return 0;
}

static void
log_file(const char *tag, const char *line, size_t len)
{
	char path[600], old[610], t[32];
	struct stat st;
	char *s;
	int fd;

	snprintf(path, sizeof path, "%s/%s.log", log_dir, tag);
	/* "vz/web/app" -> "vz.web.app.log": one flat folder. */
	for (s = path + strlen(log_dir) + 1; *s != '\0'; s++) {
		if (*s == '/')
			*s = '.';
	}
	(void)mkdir_p(log_dir, 0700);
	if (stat(path, &st) == 0 && st.st_size >= VZLOG_FILE_MAX) {
		snprintf(old, sizeof old, "%s.1", path);
		(void)rename(path, old);
	}
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) == -1)
		return;
	snprintf(t, sizeof t, "%lld ", (long long)time(NULL));
	if (write(fd, t, strlen(t)) < 0 || write(fd, line, len) < 0 ||
	    write(fd, "\n", 1) < 0) {
		/* nowhere left to report it */
	}
	close(fd);
}

static void
log_send(int err, const char *tag, const char *line, size_t len)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	time_t now = time(NULL);
	int n, tries;

	if (len > VZ_LINE_MAX)
		len = VZ_LINE_MAX;
	localtime_r(&now, &tm);
	n = snprintf(log_msg, sizeof log_msg, "<%d>%s %2d %02d:%02d:%02d %s: ",
	    FAC_DAEMON * 8 + (err ? 3 : 6), mon[tm.tm_mon], tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, tag);
	if (n < 0 || (size_t)n >= sizeof log_msg - len)
		return;
	memcpy(log_msg + n, line, len);
	for (tries = 0; tries < 2; tries++) {
		if (log_connect() != 0)
			break;
		if (send(log_fd, log_msg, (size_t)n + len, MSG_NOSIGNAL) >= 0)
			return;
		if (errno == EAGAIN)
			return;		/* syslog is behind: drop, never block */
		close(log_fd);
		log_fd = -1;
	}
	log_file(tag, line, len);
}

void
vzlog_line(const char *pod, const char *ctr, int err, const char *msg,
    size_t len)
{
	char tag[2 * VZ_NAME_MAX + 8];

	if (pod == NULL)
		snprintf(tag, sizeof tag, "vzexec");
	else
		snprintf(tag, sizeof tag, "vz/%s/%s", pod, ctr);
	log_send(err, tag, msg, len);
}

void
vzlog(int err, const char *fmt, ...)
{
	char line[VZ_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	log_send(err, "vzexec", line, (size_t)n);
	if (vzlog_echo || isatty(2)) {
		if (write(2, line, (size_t)n) < 0 || write(2, "\n", 1) < 0) {
			/* terminal gone */
		}
	}
}

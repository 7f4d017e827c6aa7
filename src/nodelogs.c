/*
 * nodelogs: `vzexec logs`, the node side of `vzmaster logs`.  Owns the
 * reading of every place a container line can land on a node (see
 * vzlog.c for how they get there):
 *   - the journal, through journalctl (preferred when journald runs);
 *   - else syslog files (/var/log/syslog, /var/log/messages, and their
 *     plain .1 predecessors) written by rsyslog or busybox syslogd;
 *   - else busybox logread's circular buffer;
 *   - always vzlog's fallback files ROOT/run/log/vz.POD.CTR.log and the
 *     one rotated .log.1, used only while no syslog socket answered, so
 *     they never repeat a line of the other sources.
 * Only one of the first three is read, as they usually hold the same lines
 * (journald forwards to rsyslog).  Children are run with fork/execve and a
 * pipe (child.c): this is built into the static musl vzexec, no threads,
 * no popen.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "child.h"
#include "json.h"
#include "names.h"
#include "nodelogs.h"

#define NL_DEFAULT_ROOT		"/var/lib/vz"
#define NL_DEFAULT_LINES	100
#define NL_FOLLOW_MS		500
#define NL_CHILD_MAX		(256u * 1024 * 1024)

static const char *const nl_syslog_files[] = {
	"/var/log/syslog.1", "/var/log/syslog",
	"/var/log/messages.1", "/var/log/messages", NULL
};
static const char *const nl_bindirs[] = {
	"/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin", NULL
};

static const char usage_text[] =
"usage: vzexec logs [--root DIR] [-n N|all] [--since UNIXTIME]\n"
"                   [-f [--stop-on-eof]]\n"
"                   [--syslog-file PATH | --logread PATH] POD[/CONTAINER]\n"
"Print the pod's container lines, oldest first, as\n"
"\"TIME CONTAINER MESSAGE\" (TIME in UTC).  -n: the last N (100);\n"
"--since: none older; -f: keep printing new lines until killed, or with\n"
"--stop-on-eof until stdin ends (vzmaster keeps it open while it follows).\n"
"--syslog-file: read only this syslog file (repeatable), not the journal,\n"
"the system's syslog files or logread; --logread: only this logread.\n";

int
nodelogs_valid_name(const char *s)
{
	return vz_dns_label(s, NL_NAME_MAX);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
nodelogs_fmt_time(int64_t usec, char *out, size_t outlen)
{
	time_t t = (time_t)(usec / 1000000);
	struct tm tm;

	if (usec < 0)
		t = 0;
	gmtime_r(&t, &tm);
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

static int
digits(const char *s, size_t len, size_t at, int n, int *v)
{
	int i;

	*v = 0;
	if (at + (size_t)n > len)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[at + i] < '0' || s[at + i] > '9')
			return -1;
		*v = *v * 10 + (s[at + i] - '0');
	}
	return 0;
}

/* "YYYY-MM-DDThh:mm:ss[.frac][Z|+hh:mm|+hhmm]" at s; *used set. */
static int
parse_iso(const char *s, size_t len, int64_t *usec, size_t *used)
{
	int y, mo, d, h, mi, se, oh, om, sign;
	int64_t frac = 0, scale = 1000000, secs;
	size_t i;

	if (digits(s, len, 0, 4, &y) || len < 19 || s[4] != '-' ||
	    digits(s, len, 5, 2, &mo) || s[7] != '-' ||
	    digits(s, len, 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') ||
	    digits(s, len, 11, 2, &h) || s[13] != ':' ||
	    digits(s, len, 14, 2, &mi) || s[16] != ':' ||
	    digits(s, len, 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    se > 60)
		return -1;
	i = 19;
	if (i < len && (s[i] == '.' || s[i] == ',')) {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			if (scale > 1) {
				scale /= 10;
				frac += (s[i] - '0') * scale;
			}
		}
	}
	secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	if (i < len && s[i] == 'Z')
		i++;
	else if (i < len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '-' ? -1 : 1;
		if (digits(s, len, i + 1, 2, &oh))
			return -1;
		i += 3;
		if (i < len && s[i] == ':')
			i++;
		if (digits(s, len, i, 2, &om))
			return -1;
		i += 2;
		secs -= sign * (oh * 3600 + om * 60);
	} else {
		/* No zone: local time. */
		struct tm tm;

		memset(&tm, 0, sizeof tm);
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = se;
		tm.tm_isdst = -1;
		secs = (int64_t)mktime(&tm);
	}
	*usec = secs * 1000000 + frac;
	*used = i;
	return 0;
}

int
nodelogs_parse_since(const char *s, time_t now, int64_t *secs)
{
	char iso[64];
	int64_t v = 0, unit;
	size_t i, len = strlen(s), used;

	for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > 1000000000000LL)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (i > 0 && i == len) {
		*secs = v;
		return 0;
	}
	if (i > 0 && i + 1 == len && len < 12) {
		switch (s[i]) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		default: return -1;
		}
		*secs = (int64_t)now - v * unit;
		return *secs < 0 ? -1 : 0;
	}
	/* A date, or a date and a time without seconds: fill in zeros. */
	if (len == 10)
		snprintf(iso, sizeof iso, "%sT00:00:00", s);
	else if (len >= 16 && (len == 16 || s[16] != ':'))
		snprintf(iso, sizeof iso, "%.16s:00%s", s, s + 16);
	else
		snprintf(iso, sizeof iso, "%s", s);
	if (len >= sizeof iso - 4 ||
	    parse_iso(iso, strlen(iso), &v, &used) != 0 || used != strlen(iso))
		return -1;
	*secs = v / 1000000;
	return *secs < 0 ? -1 : 0;
}

/* "Nov 23 16:50:56" (day may be space-padded), local time. */
static int
parse_rfc3164_time(const char *s, size_t len, time_t now, int64_t *usec,
    size_t *used)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm, nowtm;
	const char *m;
	int d, h, mi, se;
	size_t i = 4;
	time_t t;

	if (len < 15 || s[3] != ' ')
		return -1;
	for (m = months; *m != '\0'; m += 3)
		if (strncmp(m, s, 3) == 0)
			break;
	if (*m == '\0')
		return -1;
	if (s[i] == ' ') {
		if (digits(s, len, i + 1, 1, &d))
			return -1;
	} else if (digits(s, len, i, 2, &d))
		return -1;
	i += 2;
	if (s[i] != ' ' || digits(s, len, i + 1, 2, &h) || s[i + 3] != ':' ||
	    digits(s, len, i + 4, 2, &mi) || s[i + 6] != ':' ||
	    digits(s, len, i + 7, 2, &se))
		return -1;
	if (d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	localtime_r(&now, &nowtm);
	memset(&tm, 0, sizeof tm);
	tm.tm_year = nowtm.tm_year;
	tm.tm_mon = (int)(m - months) / 3;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t > now + 86400) {
		/* December's lines read in January. */
		memset(&tm, 0, sizeof tm);
		tm.tm_year = nowtm.tm_year - 1;
		tm.tm_mon = (int)(m - months) / 3;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = se;
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	*usec = (int64_t)t * 1000000;
	*used = i + 9;
	return 0;
}

/* Copy a tag token, dropping a "[pid]" suffix.  -1 when empty/too long. */
static int
set_tag(struct nl_sysline *out, const char *tok, size_t n)
{
	const char *br = memchr(tok, '[', n);

	if (br != NULL)
		n = (size_t)(br - tok);
	if (n == 0 || n >= sizeof out->tag)
		return -1;
	memcpy(out->tag, tok, n);
	out->tag[n] = '\0';
	return 0;
}

int
nodelogs_parse_syslog(const char *line, size_t len, time_t now,
    struct nl_sysline *out)
{
	size_t i = 0, used, tok, k;
	int rfc5424 = 0, field;

	memset(out, 0, sizeof *out);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len > 0 && line[0] == '<') {
		for (i = 1; i < len && i < 5 && line[i] >= '0' &&
		    line[i] <= '9'; i++)
			;
		if (i >= len || line[i] != '>')
			return -1;
		i++;
		if (i + 1 < len && line[i] == '1' && line[i + 1] == ' ') {
			rfc5424 = 1;
			i += 2;
		}
	}
	if (parse_iso(line + i, len - i, &out->usec, &used) == 0)
		i += used;
	else if (!rfc5424 && parse_rfc3164_time(line + i, len - i, now,
	    &out->usec, &used) == 0)
		i += used;
	else
		return -1;
	if (rfc5424) {
		/* HOST APP PROCID MSGID SD MSG */
		for (field = 0; field < 4; field++) {
			while (i < len && line[i] == ' ')
				i++;
			tok = i;
			while (i < len && line[i] != ' ')
				i++;
			if (i == tok)
				return -1;
			if (field == 1 && set_tag(out, line + tok, i - tok))
				return -1;
		}
		while (i < len && line[i] == ' ')
			i++;
		if (i < len && line[i] == '[') {
			int inq = 0, depth = 0;

			for (; i < len; i++) {
				if (inq && line[i] == '\\')
					i++;
				else if (line[i] == '"')
					inq = !inq;
				else if (!inq && line[i] == '[')
					depth++;
				else if (!inq && line[i] == ']' &&
				    --depth == 0 &&
				    (i + 1 >= len || line[i + 1] != '['))
					break;
			}
			i++;
		} else if (i < len && line[i] == '-')
			i++;
		else
			return -1;
		if (i < len && line[i] == ' ')
			i++;
		if (i + 3 <= len && memcmp(line + i, "\xef\xbb\xbf", 3) == 0)
			i += 3;
		if (i > len)
			i = len;
		out->msg = line + i;
		out->msglen = len - i;
		return 0;
	}
	/* [host] [fac.prio] tag[pid]: msg -- the tag is the first of the next
	 * three words that ends in ':'. */
	for (k = 0; k < 3; k++) {
		while (i < len && line[i] == ' ')
			i++;
		tok = i;
		while (i < len && line[i] != ' ')
			i++;
		if (i == tok)
			return -1;
		if (line[i - 1] == ':') {
			if (set_tag(out, line + tok, i - 1 - tok))
				return -1;
			if (i < len)
				i++;
			out->msg = line + i;
			out->msglen = len - i;
			return 0;
		}
	}
	return -1;
}

int
nodelogs_match_tag(const char *tag, const char *pod, const char *ctr,
    char *out, size_t outlen)
{
	size_t pl = strlen(pod);
	const char *c;

	if (strncmp(tag, "vz/", 3) != 0 || strncmp(tag + 3, pod, pl) != 0 ||
	    tag[3 + pl] != '/')
		return 0;
	c = tag + 4 + pl;
	if (!nodelogs_valid_name(c))
		return 0;
	if (ctr != NULL && strcmp(c, ctr) != 0)
		return 0;
	snprintf(out, outlen, "%s", c);
	return 1;
}

int
nodelogs_parse_journal(const char *line, size_t len, int64_t *usec,
    char *tag, size_t taglen, char **msg, size_t *msglen)
{
	struct json_value *root = NULL;
	const struct json_value *m;
	const char *ts, *id;
	char err[128], *end;
	struct buf b = BUF_INIT;
	long long v;
	size_t i;
	int rc = -1;

	*msg = NULL;
	*msglen = 0;
	if (json_parse(line, len, &root, err, sizeof err) != 0)
		return -1;
	if ((ts = json_get_string(root, "__REALTIME_TIMESTAMP")) == NULL ||
	    (id = json_get_string(root, "SYSLOG_IDENTIFIER")) == NULL)
		goto out;
	errno = 0;
	v = strtoll(ts, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		goto out;
	*usec = v;
	snprintf(tag, taglen, "%s", id);
	m = json_get(root, "MESSAGE");
	if (m != NULL && m->type == JSON_STRING)
		buf_add(&b, m->str, m->len);
	else if (m != NULL && m->type == JSON_ARRAY) {
		/* Not UTF-8: journalctl gives the bytes as numbers. */
		for (i = 0; i < m->n; i++) {
			int64_t c;

			if (json_as_int(m->items[i], &c) == 0 && c >= 0 &&
			    c < 256)
				buf_addc(&b, (int)c);
		}
	}
	buf_addc(&b, '\0');
	*msglen = b.len - 1;
	*msg = buf_detach(&b, NULL);
	rc = 0;
out:
	buf_release(&b);
	json_free(root);
	return rc;
}

int
nodelogs_parse_fallback(const char *line, size_t len, int64_t *usec,
    const char **msg, size_t *msglen)
{
	int64_t t = 0;
	size_t i;

	while (len > 0 && line[len - 1] == '\n')
		len--;
	for (i = 0; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		if (t > (INT64_MAX / 1000000 - 9) / 10)
			return -1;
		t = t * 10 + (line[i] - '0');
	}
	if (i == 0 || i >= len || line[i] != ' ')
		return -1;
	*usec = t * 1000000;
	*msg = line + i + 1;
	*msglen = len - i - 1;
	return 0;
}

/* One entry, one output line: the master splits on newlines. */
static void
one_line(char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

void
nl_list_add(struct nl_list *l, int64_t usec, const char *ctr,
    const char *msg, size_t msglen)
{
	struct nl_entry *e;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = xreallocarray(l->v, l->cap, sizeof *l->v);
	}
	e = &l->v[l->n];
	e->usec = usec;
	e->seq = l->n;
	e->ctr = xstrdup(ctr);
	e->msg = xstrndup(msg, msglen);
	one_line(e->msg);
	l->n++;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct nl_entry *x = a, *y = b;

	if (x->usec != y->usec)
		return x->usec < y->usec ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

size_t
nl_list_select(struct nl_list *l, int64_t since_usec, long n)
{
	size_t first = 0;

	if (l->n > 1)
		qsort(l->v, l->n, sizeof *l->v, entry_cmp);
	while (first < l->n && l->v[first].usec < since_usec)
		first++;
	if (n >= 0 && l->n - first > (size_t)n)
		first = l->n - (size_t)n;
	return first;
}

void
nl_list_release(struct nl_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].ctr);
		free(l->v[i].msg);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* ---- the run ---- */

enum nl_source { SRC_NONE, SRC_JOURNAL, SRC_FILES, SRC_LOGREAD };

/* A file read incrementally; fd follows it across vzlog's rename. */
struct nl_file {
	char		*path;
	char		 ctr[NL_NAME_MAX + 1];	/* fallback: its container */
	int		 fallback;
	int		 fd;
	struct buf	 part;			/* an unfinished last line */
};

struct nl_run {
	const char	*root;
	const char	*pod;
	const char	*ctr;		/* NULL: every container */
	long		 lines;
	int64_t		 since;		/* usec */
	int		 follow;
	int		 stop_on_eof;	/* -f ends with stdin */
	time_t		 now;
	enum nl_source	 src;
	const char	*jbin, *lbin;	/* journalctl, logread */
	const char	**sysfiles;
	size_t		 nsysfiles;
	struct nl_file	*files;
	size_t		 nfiles;
	struct nl_list	 list;
	int		 printing;	/* -f phase: print lines as they come */
	int		 failed;
};

static void
emit(struct nl_run *r, int64_t usec, const char *ctr, const char *msg,
    size_t msglen)
{
	char t[32], *m;

	if (!r->printing) {
		nl_list_add(&r->list, usec, ctr, msg, msglen);
		return;
	}
	nodelogs_fmt_time(usec, t, sizeof t);
	m = xstrndup(msg, msglen);
	one_line(m);
	printf("%s %s %s\n", t, ctr, m);
	fflush(stdout);
	free(m);
}

static void
take_sysline(struct nl_run *r, const char *line, size_t len)
{
	struct nl_sysline sl;
	char ctr[NL_NAME_MAX + 1];

	if (nodelogs_parse_syslog(line, len, r->now, &sl) != 0)
		return;
	if (!nodelogs_match_tag(sl.tag, r->pod, r->ctr, ctr, sizeof ctr))
		return;
	emit(r, sl.usec, ctr, sl.msg, sl.msglen);
}

static void
take_journal(struct nl_run *r, const char *line, size_t len)
{
	char tag[NL_TAG_MAX], ctr[NL_NAME_MAX + 1], *msg;
	size_t msglen;
	int64_t usec;

	if (nodelogs_parse_journal(line, len, &usec, tag, sizeof tag, &msg,
	    &msglen) != 0)
		return;
	if (nodelogs_match_tag(tag, r->pod, r->ctr, ctr, sizeof ctr))
		emit(r, usec, ctr, msg, msglen);
	free(msg);
}

static void
take_line(struct nl_run *r, struct nl_file *f, const char *line, size_t len)
{
	const char *msg;
	size_t msglen;
	int64_t usec;

	if (!f->fallback) {
		take_sysline(r, line, len);
		return;
	}
	if (nodelogs_parse_fallback(line, len, &usec, &msg, &msglen) == 0)
		emit(r, usec, f->ctr, msg, msglen);
}

/* Feed the complete lines of part[0..) to fn; keep the rest. */
static void
split_lines(struct nl_run *r, struct buf *part, int eof,
    void (*fn)(struct nl_run *, void *, const char *, size_t), void *arg)
{
	size_t start = 0;
	char *nl;

	while (start < part->len && (nl = memchr(part->data + start, '\n',
	    part->len - start)) != NULL) {
		fn(r, arg, part->data + start, (size_t)(nl - part->data) - start);
		start = (size_t)(nl - part->data) + 1;
	}
	if (eof && start < part->len) {
		fn(r, arg, part->data + start, part->len - start);
		start = part->len;
	}
	memmove(part->data, part->data + start, part->len - start);
	part->len -= start;
}

static void
file_line(struct nl_run *r, void *arg, const char *line, size_t len)
{
	take_line(r, arg, line, len);
}

/* Read what f has beyond its offset. */
static void
file_drain(struct nl_run *r, struct nl_file *f)
{
	char tmp[65536];
	ssize_t n;

	if (f->fd == -1)
		return;
	while ((n = read(f->fd, tmp, sizeof tmp)) > 0) {
		buf_add(&f->part, tmp, (size_t)n);
		split_lines(r, &f->part, 0, file_line, f);
	}
}

static struct nl_file *
file_add(struct nl_run *r, const char *path, const char *ctr)
{
	struct nl_file *f;

	r->files = xreallocarray(r->files, r->nfiles + 1, sizeof *r->files);
	f = &r->files[r->nfiles++];
	memset(f, 0, sizeof *f);
	f->path = xstrdup(path);
	f->fallback = ctr != NULL;
	if (ctr != NULL)
		snprintf(f->ctr, sizeof f->ctr, "%s", ctr);
	buf_init(&f->part);
	f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	return f;
}

/* Read a whole file once (the rotated .1 ones). */
static void
file_once(struct nl_run *r, const char *path, const char *ctr)
{
	struct nl_file *f = file_add(r, path, ctr);

	file_drain(r, f);
	split_lines(r, &f->part, 1, file_line, f);
	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
	r->nfiles--;
	free(f->path);
	buf_release(&f->part);
}

/*
 * -f: the path now names another file (rotated) or a shorter one
 * (truncated): finish the old one, start the new one from its beginning.
 */
static void
file_check(struct nl_run *r, struct nl_file *f)
{
	struct stat st, fst;

	if (stat(f->path, &st) != 0)
		return;
	if (f->fd != -1 && fstat(f->fd, &fst) == 0 && fst.st_dev == st.st_dev &&
	    fst.st_ino == st.st_ino) {
		if (st.st_size < lseek(f->fd, 0, SEEK_CUR))
			(void)lseek(f->fd, 0, SEEK_SET);
		return;
	}
	if (f->fd != -1) {
		file_drain(r, f);
		split_lines(r, &f->part, 1, file_line, f);
		close(f->fd);
	}
	f->fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
}

static int
have_file(struct nl_run *r, const char *path)
{
	size_t i;

	for (i = 0; i < r->nfiles; i++)
		if (strcmp(r->files[i].path, path) == 0)
			return 1;
	return 0;
}

/*
 * The fallback files of the pod: ROOT/run/log/vz.POD.CTR.log (+ .1).
 * once: also read the .1 files first (not when rescanning under -f).
 */
static void
scan_fallback(struct nl_run *r, int once)
{
	char dir[PATH_MAX], path[PATH_MAX + 300], prefix[NL_NAME_MAX + 8];
	char ctr[NL_NAME_MAX + 1];
	struct dirent *de;
	size_t pl, nl;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/run/log", r->root);
	if ((d = opendir(dir)) == NULL)
		return;
	pl = (size_t)snprintf(prefix, sizeof prefix, "vz.%s.", r->pod);
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		size_t len = strlen(n);

		if (strncmp(n, prefix, pl) != 0 || len < pl + 5 ||
		    strcmp(n + len - 4, ".log") != 0)
			continue;
		nl = len - pl - 4;
		if (nl > NL_NAME_MAX)
			continue;
		memcpy(ctr, n + pl, nl);
		ctr[nl] = '\0';
		if (!nodelogs_valid_name(ctr) ||
		    (r->ctr != NULL && strcmp(ctr, r->ctr) != 0))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, n);
		if (have_file(r, path))
			continue;
		if (once) {
			char old[sizeof path + 2];

			snprintf(old, sizeof old, "%s.1", path);
			file_once(r, old, ctr);
		}
		file_drain(r, file_add(r, path, ctr));
	}
	closedir(d);
}

struct child_sink {
	void	(*line)(struct nl_run *, const char *, size_t);
};

static void
sink_line(struct nl_run *r, void *arg, const char *line, size_t len)
{
	struct child_sink *s = arg;

	s->line(r, line, len);
}

/* Run argv to completion, feeding each stdout line to fn. */
static int
child_run(struct nl_run *r, char *const *argv,
    void (*fn)(struct nl_run *, const char *, size_t), struct buf *raw)
{
	struct child_sink s = { fn };
	struct buf part = BUF_INIT;
	char tmp[65536];
	size_t total = 0;
	ssize_t n;
	pid_t pid;
	int fd, st;

	if ((pid = vz_child_start(argv, 0, &fd)) == -1) {
		fprintf(stderr, "vzexec: logs: cannot run '%s': %s\n", argv[0],
		    strerror(errno));
		return -1;
	}
	for (;;) {
		n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
		if (total > NL_CHILD_MAX)
			break;
		if (raw != NULL) {
			buf_add(raw, tmp, (size_t)n);
			continue;
		}
		buf_add(&part, tmp, (size_t)n);
		split_lines(r, &part, 0, sink_line, &s);
	}
	if (raw == NULL)
		split_lines(r, &part, 1, sink_line, &s);
	close(fd);
	if (total > NL_CHILD_MAX)
		kill(pid, SIGTERM);
	st = vz_child_wait(pid);
	buf_release(&part);
	if (st != 0) {
		fprintf(stderr, "vzexec: logs: '%s' exited with status %d\n",
		    argv[0], st);
		return -1;
	}
	return 0;
}

static void
add_id(char ***ids, size_t *nids, const char *pod, const char *ctr)
{
	struct buf id = BUF_INIT;
	size_t i;

	buf_addf(&id, "SYSLOG_IDENTIFIER=vz/%s/%s", pod, ctr);
	for (i = 0; i < *nids; i++) {
		if (strcmp((*ids)[i], id.data) == 0) {
			buf_release(&id);
			return;
		}
	}
	*ids = xreallocarray(*ids, *nids + 1, sizeof **ids);
	(*ids)[(*nids)++] = buf_detach(&id, NULL);
}

/*
 * journalctl cannot match a prefix, so the pod's identifiers are gathered
 * first, from its spec (containers that have not logged yet) and from
 * `journalctl -F SYSLOG_IDENTIFIER` (containers since removed), and
 * matched one by one (journalctl ORs matches of one field).
 */
static void
journal_identifiers(struct nl_run *r, char ***ids, size_t *nids)
{
	char *argv[] = { (char *)r->jbin, "-q", "-F", "SYSLOG_IDENTIFIER",
	    NULL };
	char path[PATH_MAX], err[128], ctr[NL_NAME_MAX + 1], *line, *nl;
	struct buf b = BUF_INIT;
	struct json_value *doc = NULL;
	const struct json_value *cs;
	size_t i;

	if (r->ctr != NULL) {
		add_id(ids, nids, r->pod, r->ctr);
		return;
	}
	snprintf(path, sizeof path, "%s/pods/%s.json", r->root, r->pod);
	if (buf_read_file(&b, path, 1024 * 1024) == 0 &&
	    json_parse(b.data, b.len, &doc, err, sizeof err) == 0 &&
	    (cs = json_get_array(doc, "containers")) != NULL) {
		for (i = 0; i < cs->n; i++) {
			const char *n = json_get_string(cs->items[i], "name");

			if (n != NULL && nodelogs_valid_name(n))
				add_id(ids, nids, r->pod, n);
		}
	}
	json_free(doc);
	buf_reset(&b);
	if (child_run(r, argv, NULL, &b) == 0) {
		buf_addc(&b, '\0');
		for (line = b.data; line < b.data + b.len - 1; line = nl + 1) {
			if ((nl = strchr(line, '\n')) == NULL)
				nl = b.data + b.len - 1;
			*nl = '\0';
			if (nodelogs_match_tag(line, r->pod, NULL, ctr,
			    sizeof ctr))
				add_id(ids, nids, r->pod, ctr);
		}
	}
	buf_release(&b);
}

/* Build a journalctl argv; argv strings in *keep are the caller's to free. */
static char **
journal_argv(struct nl_run *r, int follow, const char *cursor, char **ids,
    size_t nids, struct buf *nbuf, struct buf *sbuf, struct buf *cbuf)
{
	char **argv = xcalloc(nids + 16, sizeof *argv);
	size_t k = 0, i;

	argv[k++] = (char *)r->jbin;
	argv[k++] = "-q";
	argv[k++] = "--no-pager";
	argv[k++] = "-o";
	argv[k++] = "json";
	if (follow) {
		argv[k++] = "-f";
		if (cursor != NULL) {
			buf_addf(cbuf, "--after-cursor=%s", cursor);
			argv[k++] = cbuf->data;
		} else {
			argv[k++] = "-n";
			argv[k++] = "0";
		}
	} else {
		argv[k++] = "-n";
		if (r->lines < 0)
			buf_adds(nbuf, "all");
		else
			buf_addf(nbuf, "%ld", r->lines);
		argv[k++] = nbuf->data;
		if (r->since > 0) {
			buf_addf(sbuf, "--since=@%lld",
			    (long long)(r->since / 1000000));
			argv[k++] = sbuf->data;
		}
	}
	for (i = 0; i < nids; i++)
		argv[k++] = ids[i];
	argv[k] = NULL;
	return argv;
}

static char *journal_cursor;

static void
journal_line_cursor(struct nl_run *r, const char *line, size_t len)
{
	struct json_value *root = NULL;
	const char *c;
	char err[64];

	take_journal(r, line, len);
	if (json_parse(line, len, &root, err, sizeof err) == 0 &&
	    (c = json_get_string(root, "__CURSOR")) != NULL) {
		free(journal_cursor);
		journal_cursor = xstrdup(c);
	}
	json_free(root);
}

static void
logread_line(struct nl_run *r, const char *line, size_t len)
{
	take_sysline(r, line, len);
}

static int
pick_source(struct nl_run *r, char *jb, size_t jblen, char *lb, size_t lblen)
{
	struct stat st;
	size_t i;

	if (r->lbin != NULL)
		return SRC_LOGREAD;
	if (r->nsysfiles > 0)
		return SRC_FILES;
	if (stat("/run/systemd/journal/socket", &st) == 0 &&
	    (r->jbin = vz_find_bin(nl_bindirs, "journalctl", jb, jblen)) != NULL)
		return SRC_JOURNAL;
	for (i = 0; nl_syslog_files[i] != NULL; i++) {
		if (stat(nl_syslog_files[i], &st) == 0 && S_ISREG(st.st_mode)) {
			r->sysfiles = xreallocarray(r->sysfiles,
			    r->nsysfiles + 1, sizeof *r->sysfiles);
			r->sysfiles[r->nsysfiles++] = nl_syslog_files[i];
		}
	}
	if (r->nsysfiles > 0)
		return SRC_FILES;
	if ((r->lbin = vz_find_bin(nl_bindirs, "logread", lb, lblen)) != NULL)
		return SRC_LOGREAD;
	return SRC_NONE;
}

static volatile sig_atomic_t nl_stop;

static void
on_signal(int sig)
{
	(void)sig;
	nl_stop = 1;
}

static void
child_line(struct nl_run *r, void *arg, const char *line, size_t len)
{
	void (*fn)(struct nl_run *, const char *, size_t) =
	    *(void (**)(struct nl_run *, const char *, size_t))arg;

	fn(r, line, len);
}

/* -f: print new lines until a signal (or stdout goes away). */
static int
follow(struct nl_run *r, char **ids, size_t nids)
{
	void (*fn)(struct nl_run *, const char *, size_t) = NULL;
	struct buf nb = BUF_INIT, sb = BUF_INIT, cb = BUF_INIT, part = BUF_INIT;
	char **argv = NULL, *lrargv[4], tmp[65536];
	struct sigaction sa;
	struct pollfd pfd[2];
	pid_t pid = -1;
	int fd = -1, in = r->stop_on_eof ? STDIN_FILENO : -1;
	size_t i;
	ssize_t n;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	r->printing = 1;
	if (r->src == SRC_JOURNAL) {
		/* With no match at all (a pod without lines yet), filter here
		 * so containers that start later are seen. */
		argv = journal_argv(r, 1, journal_cursor, ids,
		    r->ctr != NULL ? nids : 0, &nb, &sb, &cb);
		fn = take_journal;
		pid = vz_child_start(argv, 0, &fd);
	} else if (r->src == SRC_LOGREAD) {
		lrargv[0] = (char *)r->lbin;
		lrargv[1] = "-f";	/* new lines only (-F would repeat) */
		lrargv[2] = NULL;
		fn = logread_line;
		pid = vz_child_start(lrargv, 0, &fd);
	}
	if ((r->src == SRC_JOURNAL || r->src == SRC_LOGREAD) && pid == -1)
		fprintf(stderr, "vzexec: logs: cannot follow: %s\n",
		    strerror(errno));
	while (!nl_stop) {
		/* [0]: the journal's or logread's output; [1]: stdin, whose
		   end (the master closed its channel) ends the follow even
		   when nothing is printed that would hit a closed stdout */
		pfd[0].fd = fd;
		pfd[1].fd = in;
		pfd[0].events = pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (poll(pfd, 2, NL_FOLLOW_MS) > 0) {
			if (pfd[0].revents != 0) {
				n = read(fd, tmp, sizeof tmp);
				if (n <= 0) {
					close(fd);
					fd = -1;
				} else {
					buf_add(&part, tmp, (size_t)n);
					split_lines(r, &part, 0, child_line,
					    &fn);
				}
			}
			if (pfd[1].revents != 0 &&
			    ((n = read(in, tmp, sizeof tmp)) == 0 || (n < 0 &&
			    errno != EINTR && errno != EAGAIN)))
				break;
		}
		scan_fallback(r, 0);
		for (i = 0; i < r->nfiles; i++) {
			file_check(r, &r->files[i]);
			file_drain(r, &r->files[i]);
		}
		if (ferror(stdout))
			break;
	}
	if (pid != -1) {
		kill(pid, SIGTERM);
		if (fd != -1)
			close(fd);
		(void)vz_child_wait(pid);
	}
	free(argv);
	buf_release(&nb);
	buf_release(&sb);
	buf_release(&cb);
	buf_release(&part);
	return 0;
}

static int
usage(int code)
{
	fputs(usage_text, code == 0 ? stdout : stderr);
	return code;
}

static int
parse_long(const char *s, long long lo, long long hi, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno != 0 || end == s || *end != '\0' || *v < lo || *v > hi ?
	    -1 : 0;
}

int
nodelogs_main(int argc, char **argv)
{
	struct nl_run r;
	struct buf nb = BUF_INIT, sb = BUF_INIT, cb = BUF_INIT;
	char jb[PATH_MAX], lb[PATH_MAX], podbuf[2 * NL_NAME_MAX + 2], t[32];
	char **ids = NULL, **jargv = NULL, *slash;
	const char *spec;
	long long v;
	size_t i, first, nids = 0;
	int rc = 1;

	memset(&r, 0, sizeof r);
	r.root = NL_DEFAULT_ROOT;
	r.lines = NL_DEFAULT_LINES;
	r.now = time(NULL);
	for (i = 2; i < (size_t)argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			rc = usage(0);
			goto out;
		}
		if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
			r.follow = 1;
			continue;
		}
		if (strcmp(a, "--stop-on-eof") == 0) {
			r.stop_on_eof = 1;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (i + 1 >= (size_t)argc) {
			fprintf(stderr, "vzexec: logs: option '%s' needs a "
			    "value\n", a);
			rc = 2;
			goto out;
		}
		if (strcmp(a, "--root") == 0)
			r.root = argv[++i];
		else if (strcmp(a, "-n") == 0 || strcmp(a, "--lines") == 0) {
			if (strcmp(argv[++i], "all") == 0)
				r.lines = -1;
			else if (parse_long(argv[i], 0, 100000000, &v) != 0) {
				fprintf(stderr, "vzexec: logs: bad -n '%s'\n",
				    argv[i]);
				rc = 2;
				goto out;
			} else
				r.lines = (long)v;
		} else if (strcmp(a, "--since") == 0) {
			if (parse_long(argv[++i], 0, 253402300799LL, &v) != 0) {
				fprintf(stderr, "vzexec: logs: bad --since "
				    "'%s' (unix seconds)\n", argv[i]);
				rc = 2;
				goto out;
			}
			r.since = (int64_t)v * 1000000;
		} else if (strcmp(a, "--logread") == 0) {
			r.lbin = argv[++i];
		} else if (strcmp(a, "--syslog-file") == 0) {
			r.sysfiles = xreallocarray(r.sysfiles, r.nsysfiles + 1,
			    sizeof *r.sysfiles);
			r.sysfiles[r.nsysfiles++] = argv[++i];
		} else {
			fprintf(stderr, "vzexec: logs: unknown option '%s'\n",
			    a);
			rc = 2;
			goto out;
		}
	}
	if (i + 1 != (size_t)argc) {
		rc = usage(2);
		goto out;
	}
	spec = argv[i];
	snprintf(podbuf, sizeof podbuf, "%s", spec);
	if ((slash = strchr(podbuf, '/')) != NULL) {
		*slash = '\0';
		r.ctr = slash + 1;
	}
	r.pod = podbuf;
	if (strlen(spec) >= sizeof podbuf || !nodelogs_valid_name(r.pod) ||
	    (r.ctr != NULL && !nodelogs_valid_name(r.ctr))) {
		fprintf(stderr, "vzexec: logs: '%s' is not POD or POD/CONTAINER "
		    "(lower-case letters, digits and '-', at most 63)\n", spec);
		rc = 2;
		goto out;
	}
	r.src = pick_source(&r, jb, sizeof jb, lb, sizeof lb);

	/* Everything there is, then sort, cut and print. */
	scan_fallback(&r, 1);
	if (r.src == SRC_FILES) {
		for (i = 0; i < r.nsysfiles; i++) {
			const char *p = r.sysfiles[i];
			size_t pl = strlen(p);

			if (pl > 2 && strcmp(p + pl - 2, ".1") == 0)
				file_once(&r, p, NULL);
			else
				file_drain(&r, file_add(&r, p, NULL));
		}
	} else if (r.src == SRC_JOURNAL) {
		journal_identifiers(&r, &ids, &nids);
		if (nids > 0) {
			jargv = journal_argv(&r, 0, NULL, ids, nids, &nb, &sb,
			    &cb);
			if (child_run(&r, jargv, journal_line_cursor,
			    NULL) != 0)
				r.failed = 1;
		}
	} else if (r.src == SRC_LOGREAD) {
		char *lrargv[] = { (char *)r.lbin, NULL };

		/* No buffer (syslogd not in -C mode) is not an error here. */
		(void)child_run(&r, lrargv, logread_line, NULL);
	}
	first = nl_list_select(&r.list, r.since, r.lines);
	for (i = first; i < r.list.n; i++) {
		nodelogs_fmt_time(r.list.v[i].usec, t, sizeof t);
		printf("%s %s %s\n", t, r.list.v[i].ctr, r.list.v[i].msg);
	}
	if (fflush(stdout) != 0) {
		rc = 1;
		goto out;
	}
	nl_list_release(&r.list);
	if (r.follow)
		follow(&r, ids, nids);
	rc = r.failed ? 1 : 0;
out:
	for (i = 0; i < r.nfiles; i++) {
		if (r.files[i].fd != -1)
			close(r.files[i].fd);
		free(r.files[i].path);
		buf_release(&r.files[i].part);
	}
	free(r.files);
	for (i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
	free(jargv);
	free(r.sysfiles);
	free(journal_cursor);
	journal_cursor = NULL;
	nl_list_release(&r.list);
	buf_release(&nb);
	buf_release(&sb);
	buf_release(&cb);
	return rc;
}

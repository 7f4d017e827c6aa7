/*
 * inv-edit: the one change vzmaster makes to a user's hosts.ini -- newnode
 * adding (or updating) a host line under a group.  Every other byte of the
 * file is kept; the new file replaces the old one with rename(2) after an
 * fsync, so a crash leaves either the old or the new inventory.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "inv-lex.h"
#include "inventory.h"

struct line {
	size_t	b, e;		/* content, without the line break */
	size_t	next;		/* start of the next line */
};

static struct line *
split_lines(const char *s, size_t n, size_t *nl)
{
	struct line *v = NULL;
	size_t i = 0;

	*nl = 0;
	while (i < n) {
		size_t e = i;

		while (e < n && s[e] != '\n')
			e++;
		v = xreallocarray(v, *nl + 1, sizeof *v);
		v[*nl].b = i;
		v[*nl].e = e > i && s[e - 1] == '\r' && e < n ? e - 1 : e;
		v[*nl].next = e < n ? e + 1 : e;
		(*nl)++;
		i = e < n ? e + 1 : e;
	}
	return v;
}

/* The group a section header names and its type, or NULL. */
static char *
section_of(const char *s, size_t b, size_t e, int *is_hosts)
{
	size_t nb, i;

	inv_py_strip(s, &b, &e);
	if (b == e || s[b] != '[')
		return NULL;
	nb = b + 1;
	for (i = nb; i < e && s[i] != ':' && s[i] != ']' && s[i] != ' ' &&
	    s[i] != '\t'; i++)
		;
	if (i == nb)
		return NULL;
	*is_hosts = 1;
	if (i < e && s[i] == ':') {
		size_t t = i + 1;

		while (i < e && s[i] != ']')
			i++;
		*is_hosts = i - t == 5 && memcmp(s + t, "hosts", 5) == 0;
		if (i >= e)
			return NULL;
		return xstrndup(s + nb, t - 1 - nb);
	}
	if (i >= e || s[i] != ']')
		return NULL;
	return xstrndup(s + nb, i - nb);
}

static int
valid_name(const char *s, const char *bad)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || strchr(bad, *s))
			return 0;
	return 1;
}

/* Text for one key=value token that Ansible reads back as the same value. */
static int
format_var(struct buf *b, const struct inv_var *v, char *err, size_t errlen)
{
	const char *s = v->value;
	size_t i;

	if (!valid_name(v->key, "=#'\"\\[]")) {
		snprintf(err, errlen, "invalid variable name '%s'", v->key);
		return -1;
	}
	buf_adds(b, v->key);
	buf_addc(b, '=');
	if (!v->is_string) {
		if (strcmp(s, "true") == 0)
			buf_adds(b, "True");
		else if (strcmp(s, "false") == 0)
			buf_adds(b, "False");
		else if (strcmp(s, "null") == 0)
			buf_adds(b, "None");
		else if (s[0] != '\0' && strspn(s, "-+.0123456789eE") ==
		    strlen(s))
			buf_adds(b, s);
		else {
			snprintf(err, errlen, "cannot write the value of '%s' "
			    "to an inventory line", v->key);
			return -1;
		}
		return 0;
	}
	/* Bare when Ansible would read the bare text back as this string */
	{
		struct buf json = BUF_INIT, str = BUF_INIT;
		const char *why;
		int is_string;
		enum inv_lit r;
		int bare = s[0] != '\0' && strpbrk(s, " \t\r\n#'\"\\") == NULL;

		if (bare) {
			r = inv_literal(s, strlen(s), &json, &str, &is_string,
			    &why);
			bare = r == INV_LIT_STRING;
		}
		buf_release(&json);
		buf_release(&str);
		if (bare) {
			buf_adds(b, s);
			return 0;
		}
	}
	/* A Python string literal inside shlex double quotes. */
	buf_adds(b, "\"'");
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\')
			buf_adds(b, "\\\\\\\\");	/* \\ for Python, x2 */
		else if (c == '\'')
			buf_adds(b, "\\\\'");
		else if (c == '"')
			buf_adds(b, "\\\"");
		else if (c < 0x20 || c == 0x7f)
			buf_addf(b, "\\\\x%02x", c);
		else
			buf_addc(b, c);
	}
	buf_adds(b, "'\"");
	return 0;
}

/* Does the text of a value on a host line read back as v's value? */
static int
same_value(const char *text, const struct inv_var *v)
{
	struct buf json = BUF_INIT, str = BUF_INIT;
	const char *why;
	int is_string = 0, same;
	enum inv_lit r;

	r = inv_literal(text, strlen(text), &json, &str, &is_string, &why);
	if (r == INV_LIT_STRING) {
		buf_reset(&str);
		buf_adds(&str, text);
		is_string = 1;
	}
	same = r != INV_LIT_UNSUPPORTED && v->is_string == is_string &&
	    strcmp(v->value, is_string ? str.data : json.data) == 0;
	buf_release(&json);
	buf_release(&str);
	return same;
}

/* The index of the var named by the first kl bytes of key, or -1. */
static long
find_var(const struct inv_var *vars, size_t nvars, const char *key, size_t kl)
{
	size_t j;

	for (j = 0; j < nvars; j++)
		if (strlen(vars[j].key) == kl && memcmp(vars[j].key, key,
		    kl) == 0)
			return (long)j;
	return -1;
}

static int
in_list(const char *const *list, const char *key, size_t kl)
{
	for (; list != NULL && *list != NULL; list++)
		if (strlen(*list) == kl && memcmp(*list, key, kl) == 0)
			return 1;
	return 0;
}

/*
 * The existing host line s (its tokens toks, the first the host, which
 * had port in it or -1) merged with vars into out: a var replaces the
 * same key where it stands, the others are appended; keys named in drop
 * that vars lack go; every other token is copied as it was written, with
 * the blanks before it.  Returns 1 when the result differs from the line
 * in what Ansible reads, 0 when not, -1 with a message in err.
 */
static int
merge_line(struct buf *out, const char *s, const struct inv_tok *toks,
    size_t ntoks, long port, const char *host, const struct inv_var *vars,
    size_t nvars, const char *const *drop, char *err, size_t errlen)
{
	char *used = xcalloc(nvars + 1, 1);
	size_t i, j;
	int differs = 0, rc = -1;
	long k;

	/* a port on the host token goes when the caller owns the port */
	if (port >= 0 && (find_var(vars, nvars, "ansible_port", 12) != -1 ||
	    in_list(drop, "ansible_port", 12))) {
		buf_adds(out, host);
		differs = 1;
	} else
		buf_add(out, s + toks[0].off, toks[0].end - toks[0].off);
	for (i = 1; i < ntoks; i++) {
		const char *text = toks[i].text, *eq = strchr(text, '=');
		size_t kl = eq != NULL ? (size_t)(eq - text) : 0;

		k = eq != NULL ? find_var(vars, nvars, text, kl) : -1;
		if (k == -1 && eq != NULL && in_list(drop, text, kl)) {
			differs = 1;
			continue;
		}
		if (k != -1 && used[k]) {
			/* a key twice: Ansible takes the last one; it is
			 * set where the first one stands */
			differs = 1;
			continue;
		}
		buf_add(out, s + toks[i - 1].end, toks[i].off -
		    toks[i - 1].end);
		if (k == -1 || same_value(eq + 1, &vars[k]))
			buf_add(out, s + toks[i].off, toks[i].end -
			    toks[i].off);
		else {
			if (format_var(out, &vars[k], err, errlen) == -1)
				goto out;
			differs = 1;
		}
		if (k != -1)
			used[k] = 1;
	}
	for (j = 0; j < nvars; j++) {
		if (used[j])
			continue;
		buf_addc(out, ' ');
		if (format_var(out, &vars[j], err, errlen) == -1)
			goto out;
		differs = 1;
	}
	rc = differs;
out:
	free(used);
	return rc;
}

/*
 * Write data to path through a temporary file in the same folder, fsync,
 * rename.  mode < 0: a new file, created 0666 less the umask by open(2)
 * itself (umask(2) cannot be read without changing it, and other threads
 * may be creating files meanwhile).
 */
static int
write_atomic(const char *path, const char *data, size_t len, long mode,
    char *err, size_t errlen)
{
	char *dup = xstrdup(path), *dir = dirname(dup);
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct buf t = BUF_INIT;
	int fd = -1, dfd, rc = -1, try;
	size_t off = 0;
	struct timespec ts;

	for (try = 0; try < 100; try++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		buf_reset(&t);
		buf_addf(&t, "%s/.%s.%ld.%ld.tmp", dir, base, (long)getpid(),
		    (long)(ts.tv_nsec + try));
		fd = open(t.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0666);
		if (fd != -1 || errno != EEXIST)
			break;
	}
	if (fd == -1) {
		snprintf(err, errlen, "%s: cannot create a temporary file: %s",
		    path, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "%s: write: %s", t.data,
			    strerror(errno));
			goto fail;
		}
		off += (size_t)w;
	}
	if ((mode >= 0 && fchmod(fd, (mode_t)mode) == -1) || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: %s", t.data, strerror(errno));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		snprintf(err, errlen, "%s: close: %s", t.data,
		    strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(t.data, path) == -1) {
		snprintf(err, errlen, "cannot replace %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	rc = 0;
	goto out;
fail:
	if (fd != -1)
		close(fd);
	unlink(t.data);
out:
	buf_release(&t);
	free(dup);
	return rc;
}

int
inventory_add_host(const char *path, const char *group, const char *host,
    const struct inv_var *vars, size_t nvars, const char *const *drop,
    int *changed, char *err, size_t errlen)
{
	struct buf old = BUF_INIT, nb = BUF_INIT, hl = BUF_INIT;
	struct line *lines = NULL;
	struct inv_tok *ftoks = NULL;
	size_t nl = 0, i, found_line = (size_t)-1, last_content = (size_t)-1;
	size_t section = (size_t)-1, found_comment = 0, fntoks = 0, fb = 0;
	const char *eol = "\n";
	struct stat st;
	long mode = -1, fport = -1;
	int rc = -1, in_group = 0, is_hosts = 0;

	*changed = 0;
	if (!valid_name(group, "[]:#;=\"'\\") || group[0] == '-' ||
	    (group[0] >= '0' && group[0] <= '9') ||
	    strspn(group, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_") != strlen(group)) {
		snprintf(err, errlen, "invalid group name '%s'", group);
		goto out;
	}
	if (!valid_name(host, "[]#;=\"'\\,") || strcmp(host, "---") == 0 ||
	    host[strlen(host) - 1] == ':') {
		snprintf(err, errlen, "invalid host name '%s'", host);
		goto out;
	}
	/* the line for a new host; formatting every var checks them all */
	buf_adds(&hl, host);
	for (i = 0; i < nvars; i++) {
		buf_addc(&hl, ' ');
		if (format_var(&hl, &vars[i], err, errlen) == -1)
			goto out;
	}
	if (stat(path, &st) == -1) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
	} else {
		mode = st.st_mode & 07777;
		if (buf_read_file(&old, path, 64u << 20) == -1) {
			snprintf(err, errlen, "cannot read %s: %s", path,
			    strerror(errno));
			goto out;
		}
	}
	lines = split_lines(old.data, old.len, &nl);
	/* new lines end the way the file's lines do */
	if (nl > 0 && lines[0].e < lines[0].next - 1)
		eol = "\r\n";
	for (i = 0; i < nl; i++) {
		size_t b = lines[i].b, e = lines[i].e;
		char *sec;

		inv_py_strip(old.data, &b, &e);
		if (b == e || old.data[b] == '#' || old.data[b] == ';')
			continue;
		if ((sec = section_of(old.data, b, e, &is_hosts)) != NULL) {
			in_group = is_hosts && strcmp(sec, group) == 0;
			if (in_group) {
				section = i;
				last_content = i;
			}
			free(sec);
			continue;
		}
		if (!in_group)
			continue;
		last_content = i;
		if (found_line == (size_t)-1) {
			struct inv_tok *toks;
			size_t ntoks, eo, ho, hlen, cm;
			const char *msg;
			long port;

			if (inv_shlex(old.data + b, e - b, &toks, &ntoks, &cm,
			    &msg, &eo) == -1)
				continue;
			if (ntoks == 0) {
				inv_toks_free(toks, ntoks);
				continue;
			}
			inv_parse_address(toks[0].text, strlen(toks[0].text),
			    &ho, &hlen, &port);
			if (strcmp(toks[0].text, host) != 0 &&
			    (strlen(host) != hlen || memcmp(toks[0].text + ho,
			    host, hlen) != 0)) {
				inv_toks_free(toks, ntoks);
				continue;
			}
			found_line = i;
			ftoks = toks;
			fntoks = ntoks;
			fb = b;
			fport = port;
			/* keep a trailing comment, and the blanks before it */
			found_comment = b + cm;
			while (found_comment > b && found_comment < e &&
			    (old.data[found_comment - 1] == ' ' ||
			    old.data[found_comment - 1] == '\t'))
				found_comment--;
		}
	}
	if (found_line != (size_t)-1) {
		/* merge into that line, keeping its indentation, trailing
		 * comment and break */
		size_t e = lines[found_line].e;
		int r;

		buf_add(&nb, old.data, fb);
		r = merge_line(&nb, old.data + fb, ftoks, fntoks, fport, host,
		    vars, nvars, drop, err, errlen);
		if (r == -1)
			goto out;
		if (r == 0) {
			rc = 0;
			goto out;
		}
		if (found_comment < e)
			buf_add(&nb, old.data + found_comment, e -
			    found_comment);
		buf_add(&nb, old.data + e, old.len - e);
	} else if (section != (size_t)-1) {
		size_t at = lines[last_content].next;

		buf_add(&nb, old.data, at);
		if (at > 0 && old.data[at - 1] != '\n')
			buf_adds(&nb, eol);
		buf_add(&nb, hl.data, hl.len);
		buf_adds(&nb, eol);
		buf_add(&nb, old.data + at, old.len - at);
	} else {
		buf_add(&nb, old.data, old.len);
		if (old.len > 0 && old.data[old.len - 1] != '\n')
			buf_adds(&nb, eol);
		if (nl > 0 && lines[nl - 1].e > lines[nl - 1].b)
			buf_adds(&nb, eol);
		buf_addf(&nb, "[%s]%s", group, eol);
		buf_add(&nb, hl.data, hl.len);
		buf_adds(&nb, eol);
	}
	if (write_atomic(path, nb.data, nb.len, mode, err, errlen) == -1)
		goto out;
	*changed = 1;
	rc = 0;
out:
	inv_toks_free(ftoks, fntoks);
	free(lines);
	buf_release(&old);
	buf_release(&nb);
	buf_release(&hl);
	return rc;
}

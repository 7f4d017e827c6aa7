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

/* Are the vars on this host line exactly vars? */
static int
same_vars(const struct inv_tok *toks, size_t ntoks, const struct inv_var *vars,
    size_t nvars)
{
	size_t i, j;

	if (ntoks - 1 != nvars)
		return 0;
	for (i = 1; i < ntoks; i++) {
		const char *eq = strchr(toks[i].text, '=');
		struct buf json = BUF_INIT, str = BUF_INIT;
		const char *why;
		int is_string = 0, found = 0;
		enum inv_lit r;

		if (eq == NULL)
			return 0;
		r = inv_literal(eq + 1, strlen(eq + 1), &json, &str,
		    &is_string, &why);
		if (r == INV_LIT_STRING) {
			buf_reset(&str);
			buf_adds(&str, eq + 1);
			is_string = 1;
		}
		for (j = 0; j < nvars; j++) {
			size_t kl = (size_t)(eq - toks[i].text);

			if (strlen(vars[j].key) != kl || memcmp(vars[j].key,
			    toks[i].text, kl) != 0)
				continue;
			found = r != INV_LIT_UNSUPPORTED &&
			    vars[j].is_string == is_string &&
			    strcmp(vars[j].value, is_string ? str.data :
			    json.data) == 0;
		}
		buf_release(&json);
		buf_release(&str);
		if (!found)
			return 0;
	}
	return 1;
}

static int
write_atomic(const char *path, const char *data, size_t len, mode_t mode,
    char *err, size_t errlen)
{
	char *dup = xstrdup(path), *dir = dirname(dup), *tmp;
	struct buf t = BUF_INIT;
	int fd = -1, dfd, rc = -1;
	size_t off = 0;

	buf_addf(&t, "%s/.%s.XXXXXX", dir, strrchr(path, '/') ?
	    strrchr(path, '/') + 1 : path);
	tmp = t.data;
	if ((fd = mkstemp(tmp)) == -1) {
		snprintf(err, errlen, "%s: cannot create a temporary file: %s",
		    path, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "%s: write: %s", tmp,
			    strerror(errno));
			goto fail;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		snprintf(err, errlen, "%s: close: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
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
	unlink(tmp);
out:
	buf_release(&t);
	free(dup);
	return rc;
}

int
inventory_add_host(const char *path, const char *group, const char *host,
    const struct inv_var *vars, size_t nvars, int *changed, char *err,
    size_t errlen)
{
	struct buf old = BUF_INIT, nb = BUF_INIT, hl = BUF_INIT;
	struct line *lines = NULL;
	size_t nl = 0, i, found_line = (size_t)-1, last_content = (size_t)-1;
	size_t section = (size_t)-1;
	struct stat st;
	mode_t mode;
	int exists = 1, rc = -1, in_group = 0, is_hosts = 0;
	mode_t um;

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
		exists = 0;
		um = umask(0);
		umask(um);
		mode = 0666 & ~um;
	} else {
		mode = st.st_mode & 07777;
		if (buf_read_file(&old, path, 64u << 20) == -1) {
			snprintf(err, errlen, "cannot read %s: %s", path,
			    strerror(errno));
			goto out;
		}
	}
	lines = split_lines(old.data, old.len, &nl);
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
			size_t ntoks, eo, ho, hlen;
			const char *msg;
			long port;

			if (inv_shlex(old.data + b, e - b, &toks, &ntoks, &msg,
			    &eo) == -1 || ntoks == 0)
				continue;
			inv_parse_address(toks[0].text, strlen(toks[0].text),
			    &ho, &hlen, &port);
			if (strcmp(toks[0].text, host) == 0 ||
			    (strlen(host) == hlen && memcmp(toks[0].text + ho,
			    host, hlen) == 0)) {
				found_line = i;
				if (port < 0 && same_vars(toks, ntoks, vars,
				    nvars)) {
					inv_toks_free(toks, ntoks);
					rc = 0;
					goto out;
				}
			}
			inv_toks_free(toks, ntoks);
		}
	}
	if (found_line != (size_t)-1) {
		/* rewrite that line, keeping its indentation and break */
		size_t b = lines[found_line].b, e = lines[found_line].e;

		while (b < e && (old.data[b] == ' ' || old.data[b] == '\t'))
			b++;
		buf_add(&nb, old.data, b);
		buf_add(&nb, hl.data, hl.len);
		buf_add(&nb, old.data + e, old.len - e);
	} else if (section != (size_t)-1) {
		size_t at = lines[last_content].next;

		buf_add(&nb, old.data, at);
		if (at > 0 && old.data[at - 1] != '\n')
			buf_addc(&nb, '\n');
		buf_add(&nb, hl.data, hl.len);
		buf_addc(&nb, '\n');
		buf_add(&nb, old.data + at, old.len - at);
	} else {
		buf_add(&nb, old.data, old.len);
		if (old.len > 0 && old.data[old.len - 1] != '\n')
			buf_addc(&nb, '\n');
		if (nl > 0 && lines[nl - 1].e > lines[nl - 1].b)
			buf_addc(&nb, '\n');
		buf_addf(&nb, "[%s]\n", group);
		buf_add(&nb, hl.data, hl.len);
		buf_addc(&nb, '\n');
	}
	(void)exists;
	if (write_atomic(path, nb.data, nb.len, mode, err, errlen) == -1)
		goto out;
	*changed = 1;
	rc = 0;
out:
	free(lines);
	buf_release(&old);
	buf_release(&nb);
	buf_release(&hl);
	return rc;
}

/*
 * sshconfig: a reader for the ~/.ssh/config keywords we honour (see
 * sshconfig.h).  Lines are `Keyword value` or `Keyword=value`, keywords
 * case-insensitive, values optionally double-quoted.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "knownhosts.h"
#include "sshconfig.h"

const char *
vz_home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h != NULL && h[0] != '\0')
		return h;
	if ((pw = getpwuid(getuid())) != NULL && pw->pw_dir != NULL)
		return pw->pw_dir;
	return "/";
}

char *
ssh_config_default_path(void)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, "%s/.ssh/config", vz_home_dir());
	return buf_detach(&b, NULL);
}

void
ssh_config_host_release(struct ssh_config_host *c)
{
	size_t i;

	free(c->hostname);
	free(c->user);
	for (i = 0; i < c->nidentity; i++)
		free(c->identity[i]);
	free(c->identity);
	memset(c, 0, sizeof *c);
}

static char *
expand(const char *v, const char *host)
{
	struct buf b = BUF_INIT;
	struct passwd *pw;
	const char *user = getenv("USER");

	if (user == NULL && (pw = getpwuid(getuid())) != NULL)
		user = pw->pw_name;
	if (v[0] == '~' && (v[1] == '/' || v[1] == '\0')) {
		buf_adds(&b, vz_home_dir());
		v++;
	}
	for (; *v != '\0'; v++) {
		if (*v != '%' || v[1] == '\0') {
			buf_addc(&b, *v);
			continue;
		}
		v++;
		switch (*v) {
		case 'd':
			buf_adds(&b, vz_home_dir());
			break;
		case 'h':
			buf_adds(&b, host);
			break;
		case 'u':
			buf_adds(&b, user != NULL ? user : "");
			break;
		case '%':
			buf_addc(&b, '%');
			break;
		default:
			buf_addc(&b, '%');
			buf_addc(&b, *v);
			break;
		}
	}
	return buf_detach(&b, NULL);
}

/* Split the next word off *p: whitespace-separated, "quoted" allowed. */
static char *
next_word(char **p)
{
	char *s = *p, *w;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	if (*s == '"') {
		w = ++s;
		while (*s != '\0' && *s != '"')
			s++;
	} else {
		w = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
	}
	if (*s != '\0')
		*s++ = '\0';
	*p = s;
	return w;
}

static int
host_matches(char *patterns, const char *host)
{
	char *w;
	int match = 0;

	while ((w = next_word(&patterns)) != NULL) {
		if (*w == '!') {
			if (kh_match_pattern(host, w + 1, strlen(w + 1)))
				return 0;
		} else if (kh_match_pattern(host, w, strlen(w)))
			match = 1;
	}
	return match;
}

int
ssh_config_lookup(const char *path, const char *host,
    struct ssh_config_host *c, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	char *line, *nl, *p, *kw, *val, *end;
	int lineno = 0, active = 1, rc = -1;
	long port;

	memset(c, 0, sizeof *c);
	if (buf_read_file(&b, path, 1024 * 1024) == -1) {
		if (errno == ENOENT || errno == ENOTDIR) {
			buf_release(&b);
			return 0;
		}
		snprintf(err, errlen, "cannot read '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	for (line = b.data; line < b.data + b.len; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			nl = b.data + b.len;
		*nl = '\0';
		lineno++;
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		kw = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '=')
			p++;
		if (*p != '\0')
			*p++ = '\0';
		while (*p == ' ' || *p == '\t' || *p == '=')
			p++;
		/* trailing blanks */
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (strcasecmp(kw, "Host") == 0) {
			active = host_matches(p, host);
			continue;
		}
		if (strcasecmp(kw, "Match") == 0) {
			active = 0;	/* not supported: never applies */
			continue;
		}
		if (!active)
			continue;
		val = next_word(&p);
		if (val == NULL)
			continue;
		if (strcasecmp(kw, "HostName") == 0) {
			if (c->hostname == NULL)
				c->hostname = expand(val, host);
		} else if (strcasecmp(kw, "User") == 0) {
			if (c->user == NULL)
				c->user = xstrdup(val);
		} else if (strcasecmp(kw, "Port") == 0) {
			if (c->port != 0)
				continue;
			errno = 0;
			port = strtol(val, &end, 10);
			if (errno != 0 || *end != '\0' || port < 1 ||
			    port > 65535) {
				snprintf(err, errlen, "%s:%d: bad port '%s'",
				    path, lineno, val);
				goto out;
			}
			c->port = (int)port;
		} else if (strcasecmp(kw, "IdentityFile") == 0) {
			c->identity = xreallocarray(c->identity,
			    c->nidentity + 1, sizeof *c->identity);
			c->identity[c->nidentity++] = expand(val, host);
		}
	}
	rc = 0;
out:
	if (rc != 0)
		ssh_config_host_release(c);
	buf_release(&b);
	return rc;
}

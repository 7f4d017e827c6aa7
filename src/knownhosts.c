/*
 * knownhosts: reading and writing OpenSSH known_hosts files, and key
 * fingerprints (see knownhosts.h).  Writers take an flock on the file so
 * that concurrent vzmaster processes (or fan-out threads) never interleave
 * lines; readers take a shared lock.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "knownhosts.h"

#define KH_MAX_FILE	(16 * 1024 * 1024)

char *
kh_base64_encode(const unsigned char *in, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

long
kh_base64_decode(const char *in, size_t len, unsigned char **out)
{
	unsigned char *o;
	size_t pad = 0;
	int n;

	*out = NULL;
	if (len == 0 || len % 4 != 0 || len > KH_MAX_FILE)
		return -1;
	o = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(o, (const unsigned char *)in, (int)len);
	if (n < 0) {
		free(o);
		return -1;
	}
	if (in[len - 1] == '=')
		pad++;
	if (len > 1 && in[len - 2] == '=')
		pad++;
	*out = o;
	return n - (long)pad;
}

/* Read an SSH "string" at *off; 0 on success. */
static int
get_string(const unsigned char *b, size_t len, size_t *off,
    const unsigned char **s, size_t *slen)
{
	uint32_t n;

	if (len - *off < 4)
		return -1;
	n = (uint32_t)b[*off] << 24 | (uint32_t)b[*off + 1] << 16 |
	    (uint32_t)b[*off + 2] << 8 | b[*off + 3];
	*off += 4;
	if (n > len - *off)
		return -1;
	*s = b + *off;
	*slen = n;
	*off += n;
	return 0;
}

int
kh_key_type(const unsigned char *blob, size_t len, char *out, size_t outlen)
{
	const unsigned char *s;
	size_t off = 0, n;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	if (get_string(blob, len, &off, &s, &n) == -1 || n >= outlen)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

const char *
kh_key_label(const unsigned char *blob, size_t len)
{
	char t[64];

	if (kh_key_type(blob, len, t, sizeof t) == -1)
		return "UNKNOWN";
	if (strcmp(t, "ssh-ed25519") == 0)
		return "ED25519";
	if (strncmp(t, "ecdsa-sha2-", 11) == 0)
		return "ECDSA";
	if (strcmp(t, "ssh-rsa") == 0)
		return "RSA";
	if (strcmp(t, "ssh-dss") == 0)
		return "DSA";
	return "UNKNOWN";
}

int
kh_key_bits(const unsigned char *blob, size_t len)
{
	const unsigned char *s;
	size_t off = 0, n;
	char t[64];
	int bits;

	if (kh_key_type(blob, len, t, sizeof t) == -1)
		return 0;
	if (strcmp(t, "ssh-ed25519") == 0)
		return 256;
	if (strcmp(t, "ecdsa-sha2-nistp256") == 0)
		return 256;
	if (strcmp(t, "ecdsa-sha2-nistp384") == 0)
		return 384;
	if (strcmp(t, "ecdsa-sha2-nistp521") == 0)
		return 521;
	if (strcmp(t, "ssh-rsa") != 0 && strcmp(t, "ssh-dss") != 0)
		return 0;
	/* type, then e (RSA) or p (DSA): the second mpint is n / the first p */
	(void)get_string(blob, len, &off, &s, &n);
	if (get_string(blob, len, &off, &s, &n) == -1)
		return 0;
	if (strcmp(t, "ssh-rsa") == 0 &&
	    get_string(blob, len, &off, &s, &n) == -1)
		return 0;
	while (n > 0 && *s == 0) {
		s++;
		n--;
	}
	if (n == 0)
		return 0;
	bits = (int)(n - 1) * 8;
	for (unsigned v = *s; v != 0; v >>= 1)
		bits++;
	return bits;
}

void
kh_fingerprint(const unsigned char *blob, size_t len, char *out,
    size_t outlen)
{
	unsigned char md[32];
	unsigned int mdlen = sizeof md;
	char *b64;
	size_t n;

	EVP_Digest(blob, len, md, &mdlen, EVP_sha256(), NULL);
	b64 = kh_base64_encode(md, mdlen);
	n = strlen(b64);
	while (n > 0 && b64[n - 1] == '=')
		b64[--n] = '\0';
	snprintf(out, outlen, "SHA256:%s", b64);
	free(b64);
}

int
kh_match_pattern(const char *s, const char *p, size_t plen)
{
	for (;;) {
		if (plen == 0)
			return *s == '\0';
		if (*p == '*') {
			while (plen > 0 && *p == '*') {
				p++;
				plen--;
			}
			if (plen == 0)
				return 1;
			for (; *s != '\0'; s++)
				if (kh_match_pattern(s, p, plen))
					return 1;
			return 0;
		}
		if (*s == '\0')
			return 0;
		if (*p != '?' && tolower((unsigned char)*p) !=
		    tolower((unsigned char)*s))
			return 0;
		s++;
		p++;
		plen--;
	}
}

static int
match_hashed(const char *h, size_t hlen, const char *name)
{
	const char *sep;
	unsigned char *salt = NULL, *want = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	long saltlen, wantlen;
	int match = 0;

	/* |1|salt|hash */
	h += 3;
	hlen -= 3;
	if ((sep = memchr(h, '|', hlen)) == NULL)
		return 0;
	saltlen = kh_base64_decode(h, (size_t)(sep - h), &salt);
	wantlen = kh_base64_decode(sep + 1, hlen - (size_t)(sep - h) - 1,
	    &want);
	if (saltlen != 20 || wantlen != 20)
		goto out;
	if (HMAC(EVP_sha1(), salt, (int)saltlen, (const unsigned char *)name,
	    strlen(name), md, &mdlen) == NULL)
		goto out;
	match = mdlen == 20 && memcmp(md, want, 20) == 0;
out:
	free(salt);
	free(want);
	return match;
}

int
kh_match_hostfield(const char *f, size_t flen, const char *name)
{
	const char *end = f + flen, *c;
	int match = 0;

	if (flen > 3 && strncmp(f, "|1|", 3) == 0)
		return match_hashed(f, flen, name);
	while (f < end) {
		size_t n;
		int neg = 0;

		c = memchr(f, ',', (size_t)(end - f));
		n = c != NULL ? (size_t)(c - f) : (size_t)(end - f);
		if (n > 0 && *f == '!') {
			neg = 1;
			f++;
			n--;
		}
		if (n > 0 && kh_match_pattern(name, f, n)) {
			if (neg)
				return 0;	/* a negated match vetoes */
			match = 1;
		}
		f += n + (c != NULL);
	}
	return match;
}

static void
lookup_name(char *out, size_t outlen, const char *host, int port)
{
	if (port == 0 || port == 22)
		snprintf(out, outlen, "%s", host);
	else
		snprintf(out, outlen, "[%s]:%d", host, port);
}

/*
 * One parsed line.  Fields point into the line; the key blob is decoded.
 */
struct kh_line {
	int		 marker;	/* 0, 'r' revoked, 'c' cert-authority */
	const char	*hosts;
	size_t		 hostslen;
	char		 type[64];
	unsigned char	*blob;
	long		 bloblen;
};

static const char *
next_field(const char *p, const char *end, const char **f, size_t *flen)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	*f = p;
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	*flen = (size_t)(p - *f);
	return p;
}

/* 0 parsed, 1 blank/comment/unusable line. */
static int
parse_line(const char *p, const char *end, struct kh_line *l)
{
	const char *f;
	size_t n;

	memset(l, 0, sizeof *l);
	p = next_field(p, end, &f, &n);
	if (n == 0 || *f == '#')
		return 1;
	if (*f == '@') {
		if (n == 8 && strncmp(f, "@revoked", 8) == 0)
			l->marker = 'r';
		else
			l->marker = 'c';	/* cert-authority or unknown */
		p = next_field(p, end, &f, &n);
		if (n == 0)
			return 1;
	}
	l->hosts = f;
	l->hostslen = n;
	p = next_field(p, end, &f, &n);
	if (n == 0 || n >= sizeof l->type)
		return 1;
	memcpy(l->type, f, n);
	l->type[n] = '\0';
	p = next_field(p, end, &f, &n);
	if (n == 0)
		return 1;
	l->bloblen = kh_base64_decode(f, n, &l->blob);
	if (l->bloblen < 0)
		return 1;
	return 0;
}

static int
read_locked(const char *path, struct buf *b, int *missing, char *err,
    size_t errlen)
{
	int fd;

	*missing = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			*missing = 1;
			return 0;
		}
		snprintf(err, errlen, "cannot open '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	(void)flock(fd, LOCK_SH);
	close(fd);	/* the lock only orders us after a writer's rename */
	if (buf_read_file(b, path, KH_MAX_FILE) == -1) {
		if (errno == ENOENT) {
			*missing = 1;
			return 0;
		}
		snprintf(err, errlen, "cannot read '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
kh_check(const char *path, const char *host, int port,
    const unsigned char *blob, size_t len, struct kh_result *r, char *err,
    size_t errlen)
{
	struct buf b = BUF_INIT;
	struct kh_line l;
	char name[1100], type[64];
	const char *p, *end, *nl;
	int lineno = 0, missing, first_any = 0, first_type = 0;
	unsigned char *first_blob = NULL;
	long first_len = 0;

	memset(r, 0, sizeof *r);
	r->status = KH_NOTFOUND;
	lookup_name(name, sizeof name, host, port);
	if (kh_key_type(blob, len, type, sizeof type) == -1)
		type[0] = '\0';
	if (read_locked(path, &b, &missing, err, errlen) == -1)
		return -1;
	for (p = b.data, end = b.data + b.len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		lineno++;
		if (parse_line(p, nl, &l) != 0)
			goto next;
		if (l.marker == 'c' ||
		    !kh_match_hostfield(l.hosts, l.hostslen, name))
			goto next;
		if ((size_t)l.bloblen == len && memcmp(l.blob, blob, len) == 0) {
			if (l.marker == 'r') {
				r->status = KH_REVOKED;
				r->line = lineno;
				free(l.blob);
				break;
			}
			if (r->status != KH_MATCH) {
				r->status = KH_MATCH;
				r->line = lineno;
			}
		} else if (l.marker == 0) {
			if (first_any == 0 || (first_type == 0 &&
			    strcmp(l.type, type) == 0)) {
				if (first_type == 0 && strcmp(l.type, type) == 0)
					first_type = lineno;
				first_any = lineno;
				free(first_blob);
				first_blob = l.blob;
				first_len = l.bloblen;
				l.blob = NULL;
			}
		}
next:
		free(l.blob);
		l.blob = NULL;
	}
	if (r->status == KH_NOTFOUND && first_any != 0) {
		r->status = KH_MISMATCH;
		r->line = first_any;
		kh_fingerprint(first_blob, (size_t)first_len, r->known_fp,
		    sizeof r->known_fp);
		snprintf(r->known_label, sizeof r->known_label, "%s",
		    kh_key_label(first_blob, (size_t)first_len));
	}
	free(first_blob);
	buf_release(&b);
	return 0;
}

static int
ensure_parent(const char *path, char *err, size_t errlen)
{
	char *dir = xstrdup(path), *slash;
	int rc = 0;

	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create '%s': %s", dir,
			    strerror(errno));
			rc = -1;
		}
	}
	free(dir);
	return rc;
}

int
kh_add(const char *path, const char *host, int port,
    const unsigned char *blob, size_t len, char *err, size_t errlen)
{
	struct buf line = BUF_INIT;
	char name[1100], type[64], *b64;
	struct stat st;
	int fd = -1, rc = -1;
	char last;

	if (kh_key_type(blob, len, type, sizeof type) == -1) {
		snprintf(err, errlen, "malformed host key");
		return -1;
	}
	if (ensure_parent(path, err, errlen) == -1)
		return -1;
	lookup_name(name, sizeof name, host, port);
	b64 = kh_base64_encode(blob, len);
	if ((fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) == -1) {
		snprintf(err, errlen, "cannot open '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	(void)flock(fd, LOCK_EX);
	/* never glue our line to a last line without newline */
	if (fstat(fd, &st) == 0 && st.st_size > 0 &&
	    pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
		buf_addc(&line, '\n');
	buf_addf(&line, "%s %s %s\n", name, type, b64);
	if (write(fd, line.data, line.len) != (ssize_t)line.len ||
	    fsync(fd) == -1) {
		snprintf(err, errlen, "cannot write '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(b64);
	buf_release(&line);
	return rc;
}

int
kh_remove(const char *path, const char *host, int port, int *removed,
    char *err, size_t errlen)
{
	struct buf in = BUF_INIT, out = BUF_INIT, tmp = BUF_INIT;
	struct kh_line l;
	char name[1100];
	const char *p, *end, *nl;
	int fd = -1, tfd = -1, rc = -1;

	*removed = 0;
	lookup_name(name, sizeof name, host, port);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot open '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	(void)flock(fd, LOCK_EX);
	if (buf_read_file(&in, path, KH_MAX_FILE) == -1) {
		snprintf(err, errlen, "cannot read '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	for (p = in.data, end = in.data + in.len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (parse_line(p, nl, &l) == 0 && l.marker == 0 &&
		    kh_match_hostfield(l.hosts, l.hostslen, name)) {
			(*removed)++;
		} else {
			buf_add(&out, p, (size_t)(nl - p));
			buf_addc(&out, '\n');
		}
		free(l.blob);
	}
	if (*removed == 0) {
		rc = 0;
		goto out;
	}
	buf_addf(&tmp, "%s.tmp%ld", path, (long)getpid());
	if ((tfd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || write(tfd, out.data, out.len) !=
	    (ssize_t)out.len || fsync(tfd) == -1 ||
	    rename(tmp.data, path) == -1) {
		snprintf(err, errlen, "cannot rewrite '%s': %s", path,
		    strerror(errno));
		(void)unlink(tmp.data);
		goto out;
	}
	rc = 0;
out:
	if (tfd != -1)
		close(tfd);
	close(fd);
	buf_release(&in);
	buf_release(&out);
	buf_release(&tmp);
	return rc;
}

static void
add_alg(char *out, size_t outlen, const char *alg)
{
	size_t n = strlen(out), al = strlen(alg);
	const char *p = out;

	/* already listed? */
	while ((p = strstr(p, alg)) != NULL) {
		if ((p == out || p[-1] == ',') && (p[al] == ',' || p[al] == '\0'))
			return;
		p += al;
	}
	if (n + al + 2 > outlen)
		return;
	if (n > 0)
		out[n++] = ',';
	memcpy(out + n, alg, al + 1);
}

void
kh_known_algs(const char *path, const char *host, int port, char *out,
    size_t outlen)
{
	struct buf b = BUF_INIT;
	struct kh_line l;
	char name[1100], err[256];
	const char *p, *end, *nl;
	int missing;

	if (outlen > 0)
		out[0] = '\0';
	lookup_name(name, sizeof name, host, port);
	if (read_locked(path, &b, &missing, err, sizeof err) == -1)
		return;
	for (p = b.data, end = b.data + b.len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (parse_line(p, nl, &l) == 0 && l.marker == 0 &&
		    kh_match_hostfield(l.hosts, l.hostslen, name)) {
			if (strcmp(l.type, "ssh-rsa") == 0) {
				add_alg(out, outlen, "rsa-sha2-512");
				add_alg(out, outlen, "rsa-sha2-256");
			}
			add_alg(out, outlen, l.type);
		}
		free(l.blob);
	}
	buf_release(&b);
}

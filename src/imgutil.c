/*
 * imgutil: file and hash helpers for the image code on both sides (see
 * imgutil.h).  Kept free of buf/json so the node helper stays small.
 */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <openssl/evp.h>

#include "imgutil.h"

void
sha256_init(struct sha256 *h)
{
	EVP_MD_CTX *c;

	if ((c = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		abort();
	h->md = c;
}

void
sha256_update(struct sha256 *h, const void *p, size_t n)
{
	if (n != 0 && EVP_DigestUpdate(h->md, p, n) != 1)
		abort();
}

void
sha256_final(struct sha256 *h, char hex[SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	if (h->md == NULL) {
		hex[0] = '\0';
		return;
	}
	EVP_DigestFinal_ex(h->md, md, &len);
	EVP_MD_CTX_free(h->md);
	h->md = NULL;
	for (i = 0; i < len && i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * i] = '\0';
}

int
sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1], uint64_t *sizep,
    char *err, size_t errlen)
{
	struct sha256 h;
	char chunk[1 << 16];
	uint64_t size = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot open '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	sha256_init(&h);
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "cannot read '%s': %s", path,
			    strerror(errno));
			sha256_final(&h, hex);
			close(fd);
			return -1;
		}
		sha256_update(&h, chunk, (size_t)n);
		size += (uint64_t)n;
	}
	close(fd);
	sha256_final(&h, hex);
	if (sizep != NULL)
		*sizep = size;
	return 0;
}

int
is_sha256_hex(const char *s)
{
	size_t i;

	for (i = 0; i < SHA256_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

int
write_full(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int
pread_full(int fd, void *dst, size_t n, uint64_t off)
{
	char *d = dst;
	ssize_t r;

	while (n > 0) {
		r = pread(fd, d, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? 0 : -1;
		d += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 1;
}

int
fsync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd, r = -1;

	if (copy == NULL)
		return -1;
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		r = fsync(fd);
		close(fd);
	}
	free(copy);
	return r;
}

static int
write_replace(const char *path, const void *p, size_t n, int sync,
    char *err, size_t errlen)
{
	char tmp[4096];
	int fd, saved;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
		snprintf(err, errlen, "path too long: '%s'", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		goto fail;
	if (write_full(fd, p, n) == -1 || (sync && fsync(fd) == -1)) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1)
		goto fail;
	if (sync)
		fsync_parent(path);
	return 0;
fail:
	saved = errno;
	unlink(tmp);
	snprintf(err, errlen, "cannot write '%s': %s", path, strerror(saved));
	errno = saved;
	return -1;
}

int
write_file_atomic(const char *path, const void *p, size_t n, char *err,
    size_t errlen)
{
	return write_replace(path, p, n, 1, err, errlen);
}

int
write_file_replace(const char *path, const void *p, size_t n, char *err,
    size_t errlen)
{
	return write_replace(path, p, n, 0, err, errlen);
}

static int
remove_at(int dfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0, saved;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (remove_at(dirfd(d), de->d_name) == -1)
			r = -1;
	}
	saved = errno;
	closedir(d);
	if (r == -1) {
		errno = saved;
		return -1;
	}
	if (unlinkat(dfd, name, AT_REMOVEDIR) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

int
remove_tree(const char *path)
{
	return remove_at(AT_FDCWD, path);
}

int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096], *p;
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, len + 1);
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

int
fmtpath(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(dst, n, fmt, ap);
	va_end(ap);
	return r < 0 || (size_t)r >= n ? -1 : 0;
}

/*
 * openat2 beneath dirfd without following any symlink: the base image's
 * path and the new image's parent folders are resolved by the kernel, so a
 * symlink of either image can never send a hardlink outside them.
 */
int
open_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how;

	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/*
 * imgutil: small file helpers shared by the master-side image code and the
 * static node helper vzexec-image: sha256 of files and streams (libcrypto
 * EVP), full writes, durable renames, recursive removal.  No printing; errors
 * go into the caller's buffer.
 */
#ifndef VZ_IMGUTIL_H
#define VZ_IMGUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SHA256_HEX_LEN 64

struct sha256 {
	void	*md;		/* EVP_MD_CTX */
};

void	sha256_init(struct sha256 *);
void	sha256_update(struct sha256 *, const void *, size_t);
/* Writes 64 hex digits + NUL into hex[65] and frees the context. */
void	sha256_final(struct sha256 *, char hex[SHA256_HEX_LEN + 1]);
/* sha256 of a whole file; also its size.  0, or -1 with err set. */
int	sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1],
	    uint64_t *sizep, char *err, size_t errlen);
/* 1 when s is exactly 64 lower-case hex digits. */
int	is_sha256_hex(const char *s);

/* write(2) until done, retrying EINTR. 0 or -1 with errno. */
int	write_full(int fd, const void *, size_t);
/* pread(2) of exactly n bytes at off: 1, 0 when the file ends first, or
   -1 with errno. */
int	pread_full(int fd, void *, size_t n, uint64_t off);
/* Write a small file atomically: PATH.tmp, fsync, rename, fsync dir. */
int	write_file_atomic(const char *path, const void *, size_t,
	    char *err, size_t errlen);
/*
 * The same without any fsync, for caches that can be rebuilt: a crash may
 * lose the file or, on some file systems, leave it short, but a reader
 * never sees it half written by a live process.
 */
int	write_file_replace(const char *path, const void *, size_t,
	    char *err, size_t errlen);
/* fsync the directory holding path (after a rename into it). */
int	fsync_parent(const char *path);
/* rm -rf without following symlinks; ENOENT is not an error. */
int	remove_tree(const char *path);
/*
 * snprintf for paths and other bounded text: 0, or -1 when the result did
 * not fit (it is then truncated, still NUL-terminated).
 */
int	fmtpath(char *, size_t, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/*
 * open path beneath dirfd (openat2 RESOLVE_BENEATH) without following any
 * symlink, adding O_CLOEXEC | O_NOFOLLOW to flags; -1 with errno.
 */
int	open_beneath(int dirfd, const char *path, int flags);
/* mkdir -p with mode for the missing parts. */
int	mkdir_p(const char *path, mode_t mode);

#endif

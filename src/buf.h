/*
 * buf: the one growable byte buffer of the project, shared by vzmaster and
 * vzexec.  Invariant: data is never NULL and is always NUL-terminated, so a
 * buf can be handed to anything that wants a C string.
 */
#ifndef VZ_BUF_H
#define VZ_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

#define BUF_INIT { buf_empty, 0, 0 }
extern char buf_empty[];

void	 buf_init(struct buf *);
void	 buf_release(struct buf *);		/* frees, leaves an empty buf */
void	 buf_reset(struct buf *);		/* len = 0, keeps memory */
void	 buf_grow(struct buf *, size_t extra);
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_adds(struct buf *, const char *);
void	 buf_addc(struct buf *, int);
void	 buf_addf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_vaddf(struct buf *, const char *, va_list);
char	*buf_detach(struct buf *, size_t *lenp);	/* caller must free */
int	 buf_read_file(struct buf *, const char *path, size_t max);

/* Memory exhaustion is not an error anyone can handle here: abort loudly. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);

#endif

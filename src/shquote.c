/*
 * shquote: POSIX single-quote quoting of remote argv (see shquote.h).
 * Inside single quotes every byte is literal except the quote itself, which
 * is closed, escaped and reopened.
 */
#include "config.h"

#include <string.h>

#include "shquote.h"

void
shquote_word(struct buf *b, const char *s)
{
	buf_addc(b, '\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			buf_adds(b, "'\\''");
		else
			buf_addc(b, *s);
	}
	buf_addc(b, '\'');
}

void
shquote_argv(struct buf *b, const char *const *argv)
{
	size_t i;

	for (i = 0; argv[i] != NULL; i++) {
		if (i > 0)
			buf_addc(b, ' ');
		shquote_word(b, argv[i]);
	}
}

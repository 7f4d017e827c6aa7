/*
 * shquote: the one place where an argv becomes a POSIX shell command line
 * for a remote exec channel.  Every word is single-quoted, so nothing in it
 * is ever expanded by the remote shell.
 */
#ifndef VZ_SHQUOTE_H
#define VZ_SHQUOTE_H

#include "buf.h"

/* Append one word, quoted: abc -> 'abc', it's -> 'it'\''s', "" -> ''. */
void	shquote_word(struct buf *, const char *);
/* Append argv[0..] (NULL-terminated) quoted and separated by spaces. */
void	shquote_argv(struct buf *, const char *const *argv);

#endif

/*
 * inv-lex: the pieces of Python that Ansible's INI inventory plugin leans
 * on, redone in C so that we read a hosts.ini exactly as ansible-inventory
 * does: str.splitlines()/str.strip() line handling, shlex.split() of host
 * lines, ast.literal_eval() of variable values, and parse_address() of
 * host[:port] tokens.  Internal to the inventory module.
 */
#ifndef VZ_INV_LEX_H
#define VZ_INV_LEX_H

#include <stddef.h>

#include "buf.h"

/* Length of the UTF-8 sequence at s (1..4), or 0 when invalid. */
size_t	 inv_utf8_len(const unsigned char *s, size_t n, unsigned *cp);
/* First invalid UTF-8 byte offset, or n when all valid. */
size_t	 inv_utf8_check(const char *s, size_t n);
/* Python's str.isspace() for one code point. */
int	 inv_py_space(unsigned cp);
/* Trim Python whitespace from both ends of [*b, *e). */
void	 inv_py_strip(const char *s, size_t *b, size_t *e);
/*
 * A line break in the sense of str.splitlines() at s: returns its length
 * (1..3, or 2 for \r\n) or 0.
 */
size_t	 inv_py_linebreak(const char *s, size_t n);

struct inv_tok {
	char	*text;		/* unquoted token */
	size_t	 off;		/* where it starts in the line */
	size_t	 end;		/* just past its last byte, quotes included */
};

/*
 * shlex.split(line, comments=True): tokens into *toks (caller frees with
 * inv_toks_free).  *comment (when not NULL) is the offset of the '#' that
 * starts a comment, or n.  -1 with *errmsg and *erroff on an unclosed
 * quote or a trailing backslash.
 */
int	 inv_shlex(const char *s, size_t n, struct inv_tok **toks, size_t *ntoks,
	    size_t *comment, const char **errmsg, size_t *erroff);
void	 inv_toks_free(struct inv_tok *, size_t);

enum inv_lit {
	INV_LIT_VALUE,		/* a Python literal: json holds it */
	INV_LIT_STRING,		/* not a literal: the text stays a string */
	INV_LIT_UNSUPPORTED	/* a literal Ansible itself cannot output */
};

/*
 * ast.literal_eval(text) as the INI plugin applies it.  On INV_LIT_VALUE,
 * *is_string says whether the value is a str (then str holds its text)
 * or something else (then json holds its JSON text).  On
 * INV_LIT_UNSUPPORTED, *why names the offending type.
 */
enum inv_lit inv_literal(const char *s, size_t n, struct buf *json,
	    struct buf *str, int *is_string, const char **why);

/*
 * parse_address(token, allow_ranges=True) plus the INI plugin's own use of
 * it: returns the host part length in *hlen, its offset in *hoff and the
 * port (or -1).  When the token is not a recognisable address, the whole
 * token is the host and there is no port, as in Ansible, and 0 is
 * returned (1 when it was an address).
 */
int	 inv_parse_address(const char *s, size_t n, size_t *hoff, size_t *hlen,
	    long *port);

/*
 * expand_hostname_range(): every name a pattern with [a:b(:s)] ranges
 * stands for.  -1 with a message in err when the range is invalid or
 * expands to more than max names.
 */
int	 inv_expand_range(const char *pat, char ***names, size_t *n, size_t max,
	    char *err, size_t errlen);

/* Python float repr() of v into b. */
void	 inv_py_float_repr(struct buf *b, double v);

#endif

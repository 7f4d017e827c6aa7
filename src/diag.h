/*
 * diag: configuration diagnostics in the gcc form
 *     FILE:LINE:COLUMN: error: MESSAGE
 * collected while parsing (every error of a file, not just the first) and
 * printed in one place by the command that asked for them.
 */
#ifndef VZ_DIAG_H
#define VZ_DIAG_H

#include <stdio.h>

enum diag_level { DIAG_WARNING, DIAG_ERROR };

struct diag {
	enum diag_level	 level;
	char		*file;
	int		 line;		/* 1-based; 0 when not known */
	int		 col;		/* 1-based; 0 when not known */
	char		*msg;
};

struct diags {
	struct diag	*v;
	size_t		 n, cap;
	int		 errors;
	int		 warnings;
};

#define DIAGS_INIT { NULL, 0, 0, 0, 0 }

void	diag_add(struct diags *, enum diag_level, const char *file, int line,
	    int col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
#define diag_error(d, f, l, c, ...) diag_add(d, DIAG_ERROR, f, l, c, __VA_ARGS__)
#define diag_warn(d, f, l, c, ...) diag_add(d, DIAG_WARNING, f, l, c, __VA_ARGS__)
/* Print all, in the order found, as FILE:LINE:COL: level: msg. */
void	diag_print(const struct diags *, FILE *);
void	diag_release(struct diags *);

#endif

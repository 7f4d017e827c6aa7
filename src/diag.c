/* diag: collect and print gcc-style configuration diagnostics. */
#include <stdarg.h>
#include <stdlib.h>

#include "buf.h"
#include "diag.h"

void
diag_add(struct diags *d, enum diag_level level, const char *file, int line,
    int col, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	struct diag *g;
	va_list ap;

	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->v = xreallocarray(d->v, d->cap, sizeof *d->v);
	}
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	g = &d->v[d->n++];
	g->level = level;
	g->file = xstrdup(file != NULL ? file : "<input>");
	g->line = line;
	g->col = col;
	g->msg = buf_detach(&b, NULL);
	if (level == DIAG_ERROR)
		d->errors++;
	else
		d->warnings++;
}

void
diag_print(const struct diags *d, FILE *fp)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct diag *g = &d->v[i];
		const char *lv = g->level == DIAG_ERROR ? "error" : "warning";

		if (g->line > 0 && g->col > 0)
			fprintf(fp, "%s:%d:%d: %s: %s\n", g->file, g->line,
			    g->col, lv, g->msg);
		else if (g->line > 0)
			fprintf(fp, "%s:%d: %s: %s\n", g->file, g->line, lv,
			    g->msg);
		else
			fprintf(fp, "%s: %s: %s\n", g->file, lv, g->msg);
	}
}

void
diag_release(struct diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
	d->errors = d->warnings = 0;
}

/*
 * yamltree: a small YAML document tree built from libyaml's event parser,
 * for configuration files that must be diagnosed precisely.  Every node
 * keeps the 1-based line and column where it starts.  Problems are reported
 * into a struct diags as they are found: duplicate mapping keys (an error
 * at the second key), anchors and aliases (rejected: a manifest means what
 * it says, without indirection), nesting deeper than YT_MAX_DEPTH, tabs,
 * invalid UTF-8, control characters and any other syntax error libyaml
 * finds.  Input is untrusted: nothing here recurses on the input's shape
 * except yt_node_free, which is bounded by YT_MAX_DEPTH.
 */
#ifndef VZ_YAMLTREE_H
#define VZ_YAMLTREE_H

#include <stddef.h>

#include "diag.h"

#define YT_MAX_DEPTH	64

enum yt_type {
	YT_SCALAR,
	YT_SEQ,
	YT_MAP,
	YT_BAD		/* an alias or other node already reported as an
			   error: consumers skip it without a new message */
};

/*
 * What a plain scalar resolves to (YAML 1.1 as Kubernetes' YAML reader
 * does): quoted and block scalars, and anything tagged !!str, are always
 * YT_STR.
 */
enum yt_kind { YT_STR, YT_NULL, YT_BOOL, YT_INT, YT_FLOAT };

struct yt_node {
	enum yt_type	  type;
	int		  line;		/* 1-based */
	int		  col;		/* 1-based, in characters */
	/* YT_SCALAR */
	char		 *str;		/* NUL-terminated; may hold NULs */
	size_t		  len;
	enum yt_kind	  kind;
	/* YT_SEQ: n items.  YT_MAP: n keys (always scalars) and n values. */
	size_t		  n, cap;
	struct yt_node	**items;
	struct yt_node	**keys;
};

struct yt_doc {
	struct yt_node	*root;		/* NULL for an empty document */
	int		 line, col;	/* where the document starts */
	int		 errors;	/* errors reported inside it: its
					   tree is incomplete, do not trust */
};

struct yt_stream {
	struct yt_doc	*docs;
	size_t		 n;
};

/*
 * Parse len bytes of file (the name is used in diagnostics only).  Every
 * document completed before a fatal syntax error is kept in out, so the
 * caller can still check them.  Returns 0 when no error was added to d,
 * -1 otherwise; out is always valid to release.
 */
int	yt_parse(const char *data, size_t len, const char *file,
	    struct yt_stream *out, struct diags *d);
void	yt_stream_release(struct yt_stream *);

/* Value of key in a mapping, or NULL (also when m is not a mapping). */
const struct yt_node	*yt_get(const struct yt_node *m, const char *key);
/* Name of a node's type for messages: "a string", "an integer", ... */
const char		*yt_describe(const struct yt_node *);

#endif

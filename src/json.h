/*
 * json: the one JSON writer (for --json output, node specs and vzexec
 * status) and a small DOM parser for what we read back (node status, OCI
 * manifests and configs).  Shared by vzmaster and the static vzexec, so it
 * depends on libc and buf only.  Input to the parser is untrusted: depth,
 * size and number syntax are all checked.
 */
#ifndef VZ_JSON_H
#define VZ_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* ---- writer ---- */

#define JSON_MAX_DEPTH 64

struct json_writer {
	struct buf	*out;
	int		 pretty;		/* indent with two spaces */
	int		 depth;
	int		 count[JSON_MAX_DEPTH];	/* members written per level */
	int		 after_key;
};

void	json_writer_init(struct json_writer *, struct buf *out, int pretty);
void	json_begin_object(struct json_writer *);
void	json_end_object(struct json_writer *);
void	json_begin_array(struct json_writer *);
void	json_end_array(struct json_writer *);
void	json_key(struct json_writer *, const char *);
void	json_string(struct json_writer *, const char *);
void	json_string_len(struct json_writer *, const char *, size_t);
void	json_int(struct json_writer *, int64_t);
void	json_uint(struct json_writer *, uint64_t);
void	json_double(struct json_writer *, double);
void	json_bool(struct json_writer *, int);
void	json_null(struct json_writer *);
/* Append text that is already JSON (a value), e.g. a stored config. */
void	json_raw(struct json_writer *, const char *, size_t);
/* Escaped string body, no quotes: for callers that build JSON by hand. */
void	json_escape(struct buf *, const char *, size_t);

/* key + value shorthands */
void	json_kv_string(struct json_writer *, const char *, const char *);
void	json_kv_int(struct json_writer *, const char *, int64_t);
void	json_kv_bool(struct json_writer *, const char *, int);

/* ---- parser ---- */

enum json_type {
	JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING,
	JSON_ARRAY, JSON_OBJECT
};

struct json_value {
	enum json_type		 type;
	char			*str;	/* STRING: NUL-terminated (may hold NULs:
					   see len); NUMBER: the literal text */
	size_t			 len;
	double			 num;
	size_t			 n;	/* ARRAY and OBJECT: number of items */
	char			**keys;	/* OBJECT: n keys */
	struct json_value	**items;/* ARRAY and OBJECT: n values */
};

/*
 * Parse len bytes.  On success *out is the root (caller must json_free it)
 * and 0 is returned.  On failure -1 is returned and err holds a message with
 * the byte offset.  Duplicate object keys are rejected.
 */
int	 json_parse(const char *text, size_t len, struct json_value **out,
	     char *err, size_t errlen);
void	 json_free(struct json_value *);

/* Lookups return NULL when absent or of another type. */
const struct json_value	*json_get(const struct json_value *, const char *key);
const char		*json_get_string(const struct json_value *,
			    const char *key);
const struct json_value	*json_get_array(const struct json_value *,
			    const char *key);
const struct json_value	*json_get_object(const struct json_value *,
			    const char *key);
/* Integer member: 0 and *v set when present and integral, else -1. */
int	 json_get_int(const struct json_value *, const char *key, int64_t *v);
int	 json_as_int(const struct json_value *, int64_t *v);

/*
 * key: the string items of v, an array (other items skipped); when v is
 * not an array, null, or [] when empty_if_absent.  Copies a config's
 * string lists (Entrypoint, Cmd, Env) into a document being written.
 */
void	json_kv_strings(struct json_writer *, const char *key,
	    const struct json_value *v, int empty_if_absent);

#endif

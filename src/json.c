/*
 * json: writer and parser.  The parser builds a small DOM; it is used on
 * input we do not trust (a node's status, an image's manifest), so it has a
 * depth limit, rejects duplicate keys and invalid UTF-8 escapes, and never
 * reads past len.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* ---------------------------------------------------------------- writer */

void
json_writer_init(struct json_writer *w, struct buf *out, int pretty)
{
	memset(w, 0, sizeof *w);
	w->out = out;
	w->pretty = pretty;
}

static void
newline(struct json_writer *w)
{
	int i;

	if (!w->pretty)
		return;
	buf_addc(w->out, '\n');
	for (i = 0; i < w->depth; i++)
		buf_adds(w->out, "  ");
}

/* Called before every value and every key. */
static void
separate(struct json_writer *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->depth == 0)
		return;
	if (w->count[w->depth]++ > 0)
		buf_addc(w->out, ',');
	newline(w);
}

static void
open_level(struct json_writer *w, int c)
{
	separate(w);
	buf_addc(w->out, c);
	if (w->depth + 1 < JSON_MAX_DEPTH)
		w->depth++;
	w->count[w->depth] = 0;
}

static void
close_level(struct json_writer *w, int c)
{
	int had = w->count[w->depth];

	if (w->depth > 0)
		w->depth--;
	if (had)
		newline(w);
	buf_addc(w->out, c);
	if (w->depth == 0 && w->pretty)
		buf_addc(w->out, '\n');
}

void json_begin_object(struct json_writer *w) { open_level(w, '{'); }
void json_end_object(struct json_writer *w) { close_level(w, '}'); }
void json_begin_array(struct json_writer *w) { open_level(w, '['); }
void json_end_array(struct json_writer *w) { close_level(w, ']'); }

void
json_escape(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':  buf_adds(b, "\\\""); break;
		case '\\': buf_adds(b, "\\\\"); break;
		case '\n': buf_adds(b, "\\n"); break;
		case '\r': buf_adds(b, "\\r"); break;
		case '\t': buf_adds(b, "\\t"); break;
		case '\b': buf_adds(b, "\\b"); break;
		case '\f': buf_adds(b, "\\f"); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				buf_adds(b, "\\u00");
				buf_addc(b, hex[c >> 4]);
				buf_addc(b, hex[c & 15]);
			} else
				buf_addc(b, c);
		}
	}
}

void
json_key(struct json_writer *w, const char *k)
{
	separate(w);
	buf_addc(w->out, '"');
	json_escape(w->out, k, strlen(k));
	buf_adds(w->out, w->pretty ? "\": " : "\":");
	w->after_key = 1;
}

void
json_string_len(struct json_writer *w, const char *s, size_t n)
{
	separate(w);
	buf_addc(w->out, '"');
	json_escape(w->out, s, n);
	buf_addc(w->out, '"');
}

void
json_string(struct json_writer *w, const char *s)
{
	if (s == NULL)
		json_null(w);
	else
		json_string_len(w, s, strlen(s));
}

void
json_int(struct json_writer *w, int64_t v)
{
	separate(w);
	buf_addf(w->out, "%lld", (long long)v);
}

void
json_uint(struct json_writer *w, uint64_t v)
{
	separate(w);
	buf_addf(w->out, "%llu", (unsigned long long)v);
}

void
json_double(struct json_writer *w, double v)
{
	separate(w);
	if (!isfinite(v))
		buf_adds(w->out, "null");
	else
		buf_addf(w->out, "%.17g", v);
}

void
json_bool(struct json_writer *w, int v)
{
	separate(w);
	buf_adds(w->out, v ? "true" : "false");
}

void
json_null(struct json_writer *w)
{
	separate(w);
	buf_adds(w->out, "null");
}

void
json_raw(struct json_writer *w, const char *s, size_t n)
{
	separate(w);
	buf_add(w->out, s, n);
}

void
json_kv_string(struct json_writer *w, const char *k, const char *v)
{
	json_key(w, k);
	json_string(w, v);
}

void
json_kv_int(struct json_writer *w, const char *k, int64_t v)
{
	json_key(w, k);
	json_int(w, v);
}

void
json_kv_bool(struct json_writer *w, const char *k, int v)
{
	json_key(w, k);
	json_bool(w, v);
}

/* ---------------------------------------------------------------- parser */

struct parser {
	const char	*p, *start, *end;
	char		*err;
	size_t		 errlen;
	int		 depth;
};

static int
perr(struct parser *ps, const char *msg)
{
	if (ps->err != NULL && ps->errlen > 0 && ps->err[0] == '\0')
		snprintf(ps->err, ps->errlen, "%s at byte %zu", msg,
		    (size_t)(ps->p - ps->start));
	return -1;
}

static void
skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
	    *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static struct json_value *
new_value(enum json_type t)
{
	struct json_value *v = xcalloc(1, sizeof *v);

	v->type = t;
	return v;
}

static int parse_value(struct parser *, struct json_value **);

static int
hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;
	int i;

	if (ps->end - ps->p < 4)
		return perr(ps, "truncated \\u escape");
	for (i = 0; i < 4; i++) {
		char c = *ps->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return perr(ps, "bad \\u escape");
	}
	*out = v;
	return 0;
}

static void
put_utf8(struct buf *b, unsigned cp)
{
	if (cp < 0x80)
		buf_addc(b, (int)cp);
	else if (cp < 0x800) {
		buf_addc(b, 0xc0 | (cp >> 6));
		buf_addc(b, 0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		buf_addc(b, 0xe0 | (cp >> 12));
		buf_addc(b, 0x80 | ((cp >> 6) & 0x3f));
		buf_addc(b, 0x80 | (cp & 0x3f));
	} else {
		buf_addc(b, 0xf0 | (cp >> 18));
		buf_addc(b, 0x80 | ((cp >> 12) & 0x3f));
		buf_addc(b, 0x80 | ((cp >> 6) & 0x3f));
		buf_addc(b, 0x80 | (cp & 0x3f));
	}
}

static int
parse_string(struct parser *ps, char **out, size_t *lenp)
{
	struct buf b = BUF_INIT;
	unsigned cp, lo;

	ps->p++;	/* opening quote */
	for (;;) {
		unsigned char c;

		if (ps->p >= ps->end) {
			buf_release(&b);
			return perr(ps, "unterminated string");
		}
		c = (unsigned char)*ps->p++;
		if (c == '"')
			break;
		if (c < 0x20) {
			buf_release(&b);
			return perr(ps, "control character in string");
		}
		if (c != '\\') {
			buf_addc(&b, c);
			continue;
		}
		if (ps->p >= ps->end) {
			buf_release(&b);
			return perr(ps, "unterminated string");
		}
		switch (*ps->p++) {
		case '"':  buf_addc(&b, '"'); break;
		case '\\': buf_addc(&b, '\\'); break;
		case '/':  buf_addc(&b, '/'); break;
		case 'b':  buf_addc(&b, '\b'); break;
		case 'f':  buf_addc(&b, '\f'); break;
		case 'n':  buf_addc(&b, '\n'); break;
		case 'r':  buf_addc(&b, '\r'); break;
		case 't':  buf_addc(&b, '\t'); break;
		case 'u':
			if (hex4(ps, &cp) == -1)
				goto fail;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (ps->end - ps->p < 6 || ps->p[0] != '\\' ||
				    ps->p[1] != 'u') {
					perr(ps, "lone surrogate");
					goto fail;
				}
				ps->p += 2;
				if (hex4(ps, &lo) == -1)
					goto fail;
				if (lo < 0xdc00 || lo > 0xdfff) {
					perr(ps, "bad surrogate pair");
					goto fail;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				perr(ps, "lone surrogate");
				goto fail;
			}
			put_utf8(&b, cp);
			break;
		default:
			perr(ps, "bad escape");
			goto fail;
		}
	}
	*lenp = b.len;
	*out = buf_detach(&b, NULL);
	return 0;
fail:
	buf_release(&b);
	return -1;
}

static int
parse_number(struct parser *ps, struct json_value **out)
{
	const char *s = ps->p;
	struct json_value *v;
	char *end;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p >= ps->end)
		return perr(ps, "bad number");
	if (*ps->p == '0')
		ps->p++;
	else if (*ps->p >= '1' && *ps->p <= '9')
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	else
		return perr(ps, "bad number");
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return perr(ps, "bad number");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return perr(ps, "bad number");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p - s > 64)
		return perr(ps, "number too long");
	v = new_value(JSON_NUMBER);
	v->str = xstrndup(s, (size_t)(ps->p - s));
	v->len = (size_t)(ps->p - s);
	errno = 0;
	v->num = strtod(v->str, &end);
	*out = v;
	return 0;
}

static int
literal(struct parser *ps, const char *word, enum json_type t,
    struct json_value **out)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return perr(ps, "unexpected character");
	ps->p += n;
	*out = new_value(t);
	return 0;
}

static void
push_item(struct json_value *v, char *key, struct json_value *item)
{
	if ((v->n & (v->n - 1)) == 0) {		/* 0, 1, 2, 4, 8, ... */
		size_t cap = v->n ? v->n * 2 : 1;

		v->items = xreallocarray(v->items, cap, sizeof *v->items);
		if (v->type == JSON_OBJECT)
			v->keys = xreallocarray(v->keys, cap, sizeof *v->keys);
	}
	if (v->type == JSON_OBJECT)
		v->keys[v->n] = key;
	v->items[v->n++] = item;
}

static int
parse_container(struct parser *ps, struct json_value **out)
{
	int is_obj = *ps->p == '{';
	char close = is_obj ? '}' : ']';
	struct json_value *v = new_value(is_obj ? JSON_OBJECT : JSON_ARRAY);
	struct json_value *item;
	char *key = NULL;
	size_t klen, i;

	if (++ps->depth > JSON_MAX_DEPTH) {
		json_free(v);
		return perr(ps, "nesting too deep");
	}
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		goto done;
	}
	for (;;) {
		skip_ws(ps);
		if (is_obj) {
			if (ps->p >= ps->end || *ps->p != '"') {
				perr(ps, "expected object key");
				goto fail;
			}
			if (parse_string(ps, &key, &klen) == -1)
				goto fail;
			if (strlen(key) != klen) {
				perr(ps, "NUL in object key");
				goto fail;
			}
			for (i = 0; i < v->n; i++)
				if (strcmp(v->keys[i], key) == 0) {
					perr(ps, "duplicate object key");
					goto fail;
				}
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				perr(ps, "expected ':'");
				goto fail;
			}
			ps->p++;
		}
		if (parse_value(ps, &item) == -1)
			goto fail;
		push_item(v, key, item);
		key = NULL;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			break;
		}
		perr(ps, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
		goto fail;
	}
done:
	ps->depth--;
	*out = v;
	return 0;
fail:
	free(key);
	json_free(v);
	return -1;
}

static int
parse_value(struct parser *ps, struct json_value **out)
{
	struct json_value *v;

	*out = NULL;
	skip_ws(ps);
	if (ps->p >= ps->end)
		return perr(ps, "unexpected end of input");
	switch (*ps->p) {
	case '{':
	case '[':
		return parse_container(ps, out);
	case '"':
		v = new_value(JSON_STRING);
		if (parse_string(ps, &v->str, &v->len) == -1) {
			free(v);
			return -1;
		}
		*out = v;
		return 0;
	case 't':
		return literal(ps, "true", JSON_TRUE, out);
	case 'f':
		return literal(ps, "false", JSON_FALSE, out);
	case 'n':
		return literal(ps, "null", JSON_NULL, out);
	default:
		return parse_number(ps, out);
	}
}

int
json_parse(const char *text, size_t len, struct json_value **out, char *err,
    size_t errlen)
{
	struct parser ps;
	struct json_value *v;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	ps.p = ps.start = text;
	ps.end = text + len;
	ps.err = err;
	ps.errlen = errlen;
	ps.depth = 0;
	if (parse_value(&ps, &v) == -1)
		return -1;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		json_free(v);
		return perr(&ps, "trailing data");
	}
	*out = v;
	return 0;
}

void
json_free(struct json_value *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++) {
		if (v->keys != NULL)
			free(v->keys[i]);
		json_free(v->items[i]);
	}
	free(v->keys);
	free(v->items);
	free(v->str);
	free(v);
}

const struct json_value *
json_get(const struct json_value *o, const char *key)
{
	size_t i;

	if (o == NULL || o->type != JSON_OBJECT)
		return NULL;
	for (i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return o->items[i];
	return NULL;
}

const char *
json_get_string(const struct json_value *o, const char *key)
{
	const struct json_value *v = json_get(o, key);

	return v != NULL && v->type == JSON_STRING ? v->str : NULL;
}

const struct json_value *
json_get_array(const struct json_value *o, const char *key)
{
	const struct json_value *v = json_get(o, key);

	return v != NULL && v->type == JSON_ARRAY ? v : NULL;
}

const struct json_value *
json_get_object(const struct json_value *o, const char *key)
{
	const struct json_value *v = json_get(o, key);

	return v != NULL && v->type == JSON_OBJECT ? v : NULL;
}

int
json_as_int(const struct json_value *v, int64_t *out)
{
	char *end;
	long long n;

	if (v == NULL || v->type != JSON_NUMBER)
		return -1;
	errno = 0;
	n = strtoll(v->str, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = n;
	return 0;
}

int
json_get_int(const struct json_value *o, const char *key, int64_t *out)
{
	return json_as_int(json_get(o, key), out);
}

void
json_kv_strings(struct json_writer *w, const char *key,
    const struct json_value *v, int empty_if_absent)
{
	size_t i;

	json_key(w, key);
	if (v == NULL || v->type != JSON_ARRAY) {
		if (!empty_if_absent) {
			json_null(w);
			return;
		}
		json_begin_array(w);
		json_end_array(w);
		return;
	}
	json_begin_array(w);
	for (i = 0; i < v->n; i++)
		if (v->items[i]->type == JSON_STRING)
			json_string_len(w, v->items[i]->str, v->items[i]->len);
	json_end_array(w);
}

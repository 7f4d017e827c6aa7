/*
 * yamltree: builds a positioned YAML tree from libyaml events and reports
 * everything a configuration reader must not accept silently.  See
 * yamltree.h for the contract.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "buf.h"
#include "yamltree.h"

struct frame {
	struct yt_node	*node;
	struct yt_node	*key;		/* map: key waiting for its value */
	int		 key_bad;	/* that key was rejected */
};

struct builder {
	const char	*file;
	const char	*data;
	size_t		 len;
	struct diags	*d;
	struct yt_stream *out;
	struct yt_doc	 cur;
	int		 in_doc;
	struct frame	 stack[YT_MAX_DEPTH + 1];
	int		 depth;
	int		 errors;
	int		 doc_errors;	/* b.errors when the document began */
	int		 fatal;
};

static void
yt_node_free(struct yt_node *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++) {
		yt_node_free(n->items[i]);
		if (n->keys != NULL)
			yt_node_free(n->keys[i]);
	}
	free(n->items);
	free(n->keys);
	free(n->str);
	free(n);
}

void
yt_stream_release(struct yt_stream *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		yt_node_free(s->docs[i].root);
	free(s->docs);
	s->docs = NULL;
	s->n = 0;
}

static void
err_at(struct builder *b, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
err_at(struct builder *b, int line, int col, const char *fmt, ...)
{
	struct buf m = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&m, fmt, ap);
	va_end(ap);
	diag_error(b->d, b->file, line, col, "%s", m.data);
	buf_release(&m);
	b->errors++;
}

static struct yt_node *
node_new(enum yt_type type, const yaml_mark_t *mark)
{
	struct yt_node *n = xcalloc(1, sizeof *n);

	n->type = type;
	n->line = (int)mark->line + 1;
	n->col = (int)mark->column + 1;
	return n;
}

static int
is_one_of(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

static int
all_digits(const char *s, const char *set)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (strchr(set, *s) == NULL)
			return 0;
	return 1;
}

static int
looks_float(const char *s)
{
	static const char *const special[] = { ".inf", ".Inf", ".INF",
	    "-.inf", "-.Inf", "-.INF", "+.inf", "+.Inf", "+.INF", ".nan",
	    ".NaN", ".NAN", NULL };
	int digits = 0;

	if (is_one_of(s, special))
		return 1;
	if (*s == '-' || *s == '+')
		s++;
	while (*s >= '0' && *s <= '9') {
		s++;
		digits++;
	}
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			s++;
			digits++;
		}
	}
	if (digits == 0)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* YAML 1.1 resolution of a plain scalar, as go-yaml (and so kubectl) does. */
static enum yt_kind
resolve_plain(const char *s, size_t len)
{
	static const char *const nulls[] = { "~", "null", "Null", "NULL",
	    NULL };
	static const char *const bools[] = { "true", "True", "TRUE", "false",
	    "False", "FALSE", "yes", "Yes", "YES", "no", "No", "NO", "on",
	    "On", "ON", "off", "Off", "OFF", NULL };
	const char *p = s;

	if (len == 0 || is_one_of(s, nulls))
		return YT_NULL;
	if (strlen(s) != len)
		return YT_STR;
	if (is_one_of(s, bools))
		return YT_BOOL;
	if (*p == '-' || *p == '+')
		p++;
	if (all_digits(p, "0123456789"))
		return YT_INT;
	if ((strncmp(p, "0x", 2) == 0 && all_digits(p + 2,
	    "0123456789abcdefABCDEF")) || (strncmp(p, "0o", 2) == 0 &&
	    all_digits(p + 2, "01234567")))
		return YT_INT;
	if (looks_float(s))
		return YT_FLOAT;
	return YT_STR;
}

static void
node_free_frame(struct frame *f)
{
	yt_node_free(f->node);
	yt_node_free(f->key);
	f->node = f->key = NULL;
}

static int
key_cmp(const struct yt_node *a, const struct yt_node *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int r = memcmp(a->str, b->str, n);

	if (r != 0)
		return r;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* qsort order for duplicate detection: by key, then by position. */
static struct yt_node **sort_keys;

static int
index_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int r = key_cmp(sort_keys[x], sort_keys[y]);

	if (r != 0)
		return r;
	return x < y ? -1 : x > y;
}

/*
 * Report every key that repeats an earlier one of the same mapping, at the
 * repeat, and drop the repeats: sorting keeps this O(n log n) however many
 * keys a hostile file puts in one mapping.
 */
static void
drop_duplicate_keys(struct builder *b, struct yt_node *m)
{
	size_t *ix, i, first, w;
	char *dup;

	if (m->n < 2)
		return;
	ix = xreallocarray(NULL, m->n, sizeof *ix);
	dup = xcalloc(m->n, 1);
	for (i = 0; i < m->n; i++)
		ix[i] = i;
	sort_keys = m->keys;
	qsort(ix, m->n, sizeof *ix, index_cmp);
	sort_keys = NULL;
	for (first = 0, i = 1; i < m->n; i++) {
		if (key_cmp(m->keys[ix[first]], m->keys[ix[i]]) != 0) {
			first = i;
			continue;
		}
		dup[ix[i]] = 1;
		err_at(b, m->keys[ix[i]]->line, m->keys[ix[i]]->col,
		    "duplicate key '%s' (first at line %d)",
		    m->keys[ix[i]]->str, m->keys[ix[first]]->line);
	}
	for (i = w = 0; i < m->n; i++) {
		if (dup[i]) {
			yt_node_free(m->keys[i]);
			yt_node_free(m->items[i]);
			continue;
		}
		m->keys[w] = m->keys[i];
		m->items[w++] = m->items[i];
	}
	m->n = w;
	free(ix);
	free(dup);
}

static void
append(struct yt_node *p, struct yt_node *key, struct yt_node *v)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 4;
		p->items = xreallocarray(p->items, p->cap, sizeof *p->items);
		if (p->type == YT_MAP)
			p->keys = xreallocarray(p->keys, p->cap,
			    sizeof *p->keys);
	}
	if (p->type == YT_MAP)
		p->keys[p->n] = key;
	p->items[p->n++] = v;
}

/* A node is complete: hang it under the open container or the document. */
static void
attach(struct builder *b, struct yt_node *n)
{
	struct frame *f;
	struct yt_node *p;

	if (b->depth == 0) {
		if (b->cur.root != NULL)	/* cannot happen with libyaml */
			yt_node_free(b->cur.root);
		b->cur.root = n;
		return;
	}
	f = &b->stack[b->depth - 1];
	p = f->node;
	if (p->type == YT_SEQ) {
		append(p, NULL, n);
		return;
	}
	if (f->key == NULL && !f->key_bad) {
		if (n->type == YT_BAD) {
			f->key_bad = 1;
			yt_node_free(n);
		} else if (n->type != YT_SCALAR) {
			err_at(b, n->line, n->col,
			    "mapping keys must be plain strings");
			f->key_bad = 1;
			yt_node_free(n);
		} else
			f->key = n;
		return;
	}
	if (f->key_bad) {
		f->key_bad = 0;
		yt_node_free(n);
		return;
	}
	append(p, f->key, n);
	f->key = NULL;
}

static void
check_anchor(struct builder *b, const yaml_char_t *anchor,
    const struct yt_node *n)
{
	if (anchor != NULL)
		err_at(b, n->line, n->col, "anchors are not supported "
		    "('&%s'): write the value out in full", anchor);
}

static int
std_tag(const char *tag, const char *name)
{
	static const char prefix[] = "tag:yaml.org,2002:";

	return strncmp(tag, prefix, sizeof prefix - 1) == 0 &&
	    strcmp(tag + sizeof prefix - 1, name) == 0;
}

static void
scalar(struct builder *b, const yaml_event_t *ev)
{
	struct yt_node *n = node_new(YT_SCALAR, &ev->start_mark);
	const char *tag = (const char *)ev->data.scalar.tag;

	n->len = ev->data.scalar.length;
	n->str = xmalloc(n->len + 1);
	memcpy(n->str, ev->data.scalar.value, n->len);
	n->str[n->len] = '\0';
	check_anchor(b, ev->data.scalar.anchor, n);
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		n->kind = YT_STR;
	else
		n->kind = resolve_plain(n->str, n->len);
	if (tag != NULL) {
		if (strcmp(tag, "!") == 0 || std_tag(tag, "str"))
			n->kind = YT_STR;
		else if (std_tag(tag, "int") || std_tag(tag, "float") ||
		    std_tag(tag, "bool") || std_tag(tag, "null")) {
			/* the plain resolution already agrees or is wrong */
		} else
			err_at(b, n->line, n->col, "unsupported tag '%s'",
			    tag);
	}
	attach(b, n);
}

static void
push(struct builder *b, enum yt_type type, const yaml_event_t *ev,
    const yaml_char_t *anchor, const yaml_char_t *tag)
{
	struct yt_node *n = node_new(type, &ev->start_mark);
	const char *t = (const char *)tag;

	check_anchor(b, anchor, n);
	if (t != NULL && !std_tag(t, "seq") && !std_tag(t, "map"))
		err_at(b, n->line, n->col, "unsupported tag '%s'", t);
	if (b->depth >= YT_MAX_DEPTH) {
		err_at(b, n->line, n->col, "nesting deeper than %d levels",
		    YT_MAX_DEPTH);
		yt_node_free(n);
		b->fatal = 1;
		return;
	}
	b->stack[b->depth].node = n;
	b->stack[b->depth].key = NULL;
	b->stack[b->depth].key_bad = 0;
	b->depth++;
}

static void
pop(struct builder *b)
{
	struct frame *f = &b->stack[--b->depth];
	struct yt_node *n = f->node;

	f->node = NULL;
	yt_node_free(f->key);	/* a key without value cannot happen */
	f->key = NULL;
	if (n->type == YT_MAP)
		drop_duplicate_keys(b, n);
	attach(b, n);
}

/* Line and column (1-based, in characters) of a byte offset of the input. */
static void
offset_to_pos(const struct builder *b, size_t off, int *line, int *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	if (off > b->len)
		off = b->len;
	for (i = 0; i < off; i++) {
		unsigned char c = (unsigned char)b->data[i];

		if (c == '\n') {
			(*line)++;
			*col = 1;
		} else if ((c & 0xc0) != 0x80)
			(*col)++;
	}
}

/* Byte offset of the start of a 1-based line, or len. */
static size_t
line_start(const struct builder *b, int line)
{
	size_t i = 0;
	int l = 1;

	while (l < line && i < b->len) {
		if (b->data[i++] == '\n')
			l++;
	}
	return i;
}

static void
syntax_error(struct builder *b, const yaml_parser_t *p)
{
	int line, col;
	size_t i, s;

	if (p->error == YAML_READER_ERROR) {
		offset_to_pos(b, p->problem_offset, &line, &col);
		if (p->problem == NULL)
			err_at(b, line, col, "invalid input");
		else if (p->problem_value != -1 && strstr(p->problem,
		    "control characters") != NULL)
			err_at(b, line, col, "control character 0x%02x is not "
			    "allowed in YAML", (unsigned)p->problem_value);
		else
			err_at(b, line, col, "invalid UTF-8: %s",
			    p->problem);
		return;
	}
	if (p->error == YAML_MEMORY_ERROR) {
		err_at(b, 0, 0, "out of memory while parsing YAML");
		return;
	}
	line = (int)p->problem_mark.line + 1;
	col = (int)p->problem_mark.column + 1;
	/*
	 * libyaml's message for a tab is cryptic ("found character that
	 * cannot start any token"); the user's mistake is the tab.
	 */
	s = line_start(b, line);
	for (i = s; i < b->len && b->data[i] != '\n'; i++) {
		if (b->data[i] == '\t') {
			int tl, tc;

			offset_to_pos(b, i, &tl, &tc);
			if (tc <= col) {
				err_at(b, tl, tc, "tab character in YAML: "
				    "indent with spaces only");
				return;
			}
		}
		if (b->data[i] != ' ' && b->data[i] != '\t')
			break;
	}
	/* an unterminated quote or bracket: point at where it opens */
	if (p->problem == NULL)
		err_at(b, line, col, "invalid YAML");
	else if (p->context != NULL && strstr(p->problem, "end of stream") !=
	    NULL)
		err_at(b, (int)p->context_mark.line + 1,
		    (int)p->context_mark.column + 1, "invalid YAML: %s %s "
		    "that starts here", p->problem, p->context);
	else if (p->context != NULL)
		err_at(b, line, col, "invalid YAML: %s %s (line %d column %d)",
		    p->problem, p->context, (int)p->context_mark.line + 1,
		    (int)p->context_mark.column + 1);
	else
		err_at(b, line, col, "invalid YAML: %s", p->problem);
}

static void
end_doc(struct builder *b)
{
	struct yt_stream *o = b->out;

	b->cur.errors = b->errors - b->doc_errors;
	o->docs = xreallocarray(o->docs, o->n + 1, sizeof *o->docs);
	o->docs[o->n++] = b->cur;
	memset(&b->cur, 0, sizeof b->cur);
	b->in_doc = 0;
}

int
yt_parse(const char *data, size_t len, const char *file,
    struct yt_stream *out, struct diags *d)
{
	struct builder b;
	yaml_parser_t p;
	yaml_event_t ev;
	int done = 0, i;

	memset(out, 0, sizeof *out);
	memset(&b, 0, sizeof b);
	b.file = file;
	b.data = data;
	b.len = len;
	b.d = d;
	b.out = out;
	if (!yaml_parser_initialize(&p)) {
		err_at(&b, 0, 0, "cannot initialise the YAML parser");
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	while (!done && !b.fatal) {
		if (!yaml_parser_parse(&p, &ev)) {
			syntax_error(&b, &p);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			memset(&b.cur, 0, sizeof b.cur);
			b.cur.line = (int)ev.start_mark.line + 1;
			b.cur.col = (int)ev.start_mark.column + 1;
			b.in_doc = 1;
			b.doc_errors = b.errors;
			break;
		case YAML_DOCUMENT_END_EVENT:
			end_doc(&b);
			break;
		case YAML_ALIAS_EVENT: {
			struct yt_node *n = node_new(YT_BAD, &ev.start_mark);

			err_at(&b, n->line, n->col, "aliases are not supported "
			    "('*%s'): write the value out in full",
			    ev.data.alias.anchor);
			attach(&b, n);
			break;
		}
		case YAML_SCALAR_EVENT:
			scalar(&b, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			push(&b, YT_SEQ, &ev, ev.data.sequence_start.anchor,
			    ev.data.sequence_start.tag);
			break;
		case YAML_MAPPING_START_EVENT:
			push(&b, YT_MAP, &ev, ev.data.mapping_start.anchor,
			    ev.data.mapping_start.tag);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			pop(&b);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	/* An unfinished document is dropped: its errors are reported. */
	for (i = b.depth - 1; i >= 0; i--)
		node_free_frame(&b.stack[i]);
	yt_node_free(b.cur.root);
	yaml_parser_delete(&p);
	return b.errors ? -1 : 0;
}

const struct yt_node *
yt_get(const struct yt_node *m, const char *key)
{
	size_t i, kl;

	if (m == NULL || m->type != YT_MAP)
		return NULL;
	kl = strlen(key);
	for (i = 0; i < m->n; i++)
		if (m->keys[i]->len == kl && memcmp(m->keys[i]->str, key,
		    kl) == 0)
			return m->items[i];
	return NULL;
}

const char *
yt_describe(const struct yt_node *n)
{
	switch (n->type) {
	case YT_SEQ:
		return "a list";
	case YT_MAP:
		return "a mapping";
	case YT_BAD:
		return "an invalid value";
	case YT_SCALAR:
		break;
	}
	switch (n->kind) {
	case YT_NULL:
		return "null";
	case YT_BOOL:
		return "a boolean";
	case YT_INT:
		return "an integer";
	case YT_FLOAT:
		return "a number";
	case YT_STR:
		break;
	}
	return "a string";
}

/*
 * inv-lex: Python behaviour the Ansible INI inventory plugin depends on,
 * redone in C (see inv-lex.h).  Each function names the Python original it
 * mirrors; where we cannot mirror it exactly the comment says how we differ.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inv-lex.h"

/* ---------------------------------------------------------------- UTF-8 */

size_t
inv_utf8_len(const unsigned char *s, size_t n, unsigned *cp)
{
	unsigned c, v;
	size_t len, i;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 ||
	    v > 0x10ffff)) || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

size_t
inv_utf8_check(const char *s, size_t n)
{
	size_t i = 0, l;
	unsigned cp;

	while (i < n) {
		if ((l = inv_utf8_len((const unsigned char *)s + i, n - i,
		    &cp)) == 0)
			return i;
		i += l;
	}
	return n;
}

int
inv_py_space(unsigned cp)
{
	return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) ||
	    cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
	    (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
	    cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Code point ending just before e (s..e valid UTF-8), its length in *l. */
static unsigned
cp_before(const char *s, size_t b, size_t e, size_t *l)
{
	size_t i = e - 1;
	unsigned cp = 0;

	/* back over at most three continuation bytes */
	while (i > b && e - i < 4 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i--;
	if (inv_utf8_len((const unsigned char *)s + i, e - i, &cp) != e - i) {
		*l = 1;
		return (unsigned char)s[e - 1];
	}
	*l = e - i;
	return cp;
}

void
inv_py_strip(const char *s, size_t *b, size_t *e)
{
	unsigned cp;
	size_t l;

	while (*b < *e) {
		l = inv_utf8_len((const unsigned char *)s + *b, *e - *b, &cp);
		if (l == 0 || !inv_py_space(cp))
			break;
		*b += l;
	}
	while (*e > *b) {
		cp = cp_before(s, *b, *e, &l);
		if (!inv_py_space(cp))
			break;
		*e -= l;
	}
}

size_t
inv_py_linebreak(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	if (n == 0)
		return 0;
	switch (u[0]) {
	case '\r':
		return n > 1 && u[1] == '\n' ? 2 : 1;
	case '\n': case 0x0b: case 0x0c: case 0x1c: case 0x1d: case 0x1e:
		return 1;
	case 0xc2:
		return n > 1 && u[1] == 0x85 ? 2 : 0;
	case 0xe2:
		return n > 2 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9) ?
		    3 : 0;
	}
	return 0;
}

/* ---------------------------------------------------------------- shlex */

/*
 * shlex.shlex(posix=True) with whitespace_split=True and commenters '#',
 * the state machine of CPython 3.11's read_token().  Every special
 * character is ASCII, so walking bytes gives the same tokens as walking
 * code points.
 */
int
inv_shlex(const char *s, size_t n, struct inv_tok **toksp, size_t *ntoksp,
    size_t *comment, const char **errmsg, size_t *erroff)
{
	struct inv_tok *toks = NULL;
	size_t ntoks = 0, i = 0, start = 0;
	struct buf tok = BUF_INIT;
	int state = ' ', escapedstate = ' ', quoted = 0, have = 0;
	int c;

	*toksp = NULL;
	*ntoksp = 0;
	if (comment != NULL)
		*comment = n;
	for (;;) {
		c = i < n ? (unsigned char)s[i] : -1;
		if (state == ' ') {
			if (c == -1)
				break;
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
				i++;
				continue;
			}
			if (c == '#') {
				if (comment != NULL)
					*comment = i;
				i = n;
				continue;
			}
			start = i;
			have = 1;
			quoted = 0;
			buf_reset(&tok);
			if (c == '\\') {
				escapedstate = 'a';
				state = '\\';
			} else if (c == '\'' || c == '"')
				state = c;
			else {
				buf_addc(&tok, c);
				state = 'a';
			}
			i++;
		} else if (state == '\'' || state == '"') {
			quoted = 1;
			if (c == -1) {
				*errmsg = "no closing quotation";
				*erroff = start;
				goto fail;
			}
			if (c == state)
				state = 'a';
			else if (c == '\\' && state == '"') {
				escapedstate = state;
				state = '\\';
			} else
				buf_addc(&tok, c);
			i++;
		} else if (state == '\\') {
			if (c == -1) {
				*errmsg = "no escaped character";
				*erroff = i - 1;
				goto fail;
			}
			if ((escapedstate == '\'' || escapedstate == '"') &&
			    c != '\\' && c != escapedstate)
				buf_addc(&tok, '\\');
			buf_addc(&tok, c);
			state = escapedstate;
			i++;
		} else {	/* 'a' */
			if (c == -1 || c == ' ' || c == '\t' || c == '\r' ||
			    c == '\n' || c == '#') {
				size_t end = i;

				if (c == '#') {
					if (comment != NULL)
						*comment = i;
					i = n;
				}
				else if (c != -1)
					i++;
				state = ' ';
				if (have && (tok.len > 0 || quoted)) {
					toks = xreallocarray(toks, ntoks + 1,
					    sizeof *toks);
					toks[ntoks].text = xstrndup(tok.data,
					    tok.len);
					toks[ntoks].off = start;
					toks[ntoks].end = end;
					ntoks++;
				}
				have = 0;
				if (c == -1)
					break;
				continue;
			}
			if (c == '\'' || c == '"')
				state = c;
			else if (c == '\\') {
				escapedstate = 'a';
				state = '\\';
			} else
				buf_addc(&tok, c);
			i++;
		}
	}
	buf_release(&tok);
	*toksp = toks;
	*ntoksp = ntoks;
	return 0;
fail:
	buf_release(&tok);
	inv_toks_free(toks, ntoks);
	return -1;
}

void
inv_toks_free(struct inv_tok *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(t[i].text);
	free(t);
}

/* ------------------------------------------------------- float repr() */

void
inv_py_float_repr(struct buf *b, double v)
{
	char tmp[64], digits[32], *p;
	int prec, exp, nd, i, decpt;

	if (isinf(v)) {
		/* Python prints Infinity, which is not JSON; 1e999 reads back
		 * as the same float in every JSON reader that has one. */
		buf_adds(b, v < 0 ? "-1e999" : "1e999");
		return;
	}
	if (isnan(v)) {
		buf_adds(b, "null");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	/* tmp: [-]d[.ddd]e[+-]XX */
	p = tmp;
	if (*p == '-') {
		buf_addc(b, '-');
		p++;
	}
	nd = 0;
	for (; *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	exp = (int)strtol(p + 1, NULL, 10);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	decpt = exp + 1;
	if (decpt > -4 && decpt <= 16) {
		if (decpt <= 0) {
			buf_adds(b, "0.");
			for (i = 0; i < -decpt; i++)
				buf_addc(b, '0');
			buf_add(b, digits, nd);
		} else {
			for (i = 0; i < decpt; i++)
				buf_addc(b, i < nd ? digits[i] : '0');
			buf_addc(b, '.');
			if (nd > decpt)
				buf_add(b, digits + decpt, nd - decpt);
			else
				buf_addc(b, '0');
		}
	} else {
		buf_addc(b, digits[0]);
		if (nd > 1) {
			buf_addc(b, '.');
			buf_add(b, digits + 1, nd - 1);
		}
		buf_addf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	}
}

/* --------------------------------------------------------- literal_eval */

enum lt {
	T_NONE, T_BOOL, T_INT, T_FLOAT, T_COMPLEX, T_STR, T_BYTES, T_LIST,
	T_TUPLE, T_DICT, T_SET, T_ELLIPSIS, T_BAD
};

struct lp {
	const char	*s;
	size_t		 n, i;
	int		 syntax;	/* a SyntaxError: the value stays text */
	int		 conv;		/* first conversion problem: 1 ValueError,
					   2 Ansible cannot output it */
	const char	*why;
	int		 depth;
};

static void
conv_fail(struct lp *p, int kind, const char *why)
{
	if (p->conv == 0) {
		p->conv = kind;
		p->why = why;
	}
}

static int
id_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

static void
skip_ws(struct lp *p)
{
	while (p->i < p->n) {
		char c = p->s[p->i];

		if (c == ' ' || c == '\t' || c == '\f')
			p->i++;
		else if (c == '#')
			p->i = p->n;
		else
			break;
	}
}

static int
peek(struct lp *p)
{
	skip_ws(p);
	return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

/* Decimal text of an integer given in base 2..16, kept exact at any size. */
static void
int_to_decimal(struct buf *out, const char *d, size_t n, int base)
{
	uint32_t *limb = NULL;		/* base 1e9, little endian */
	size_t nl = 0, i, k;

	for (i = 0; i < n; i++) {
		uint64_t carry;
		int v;

		if (d[i] == '_')
			continue;
		v = d[i] <= '9' ? d[i] - '0' : (d[i] | 0x20) - 'a' + 10;
		carry = (uint64_t)v;
		for (k = 0; k < nl; k++) {
			uint64_t x = (uint64_t)limb[k] * (uint64_t)base + carry;

			limb[k] = (uint32_t)(x % 1000000000u);
			carry = x / 1000000000u;
		}
		while (carry) {
			limb = xreallocarray(limb, nl + 1, sizeof *limb);
			limb[nl++] = (uint32_t)(carry % 1000000000u);
			carry /= 1000000000u;
		}
	}
	if (nl == 0)
		buf_addc(out, '0');
	else {
		buf_addf(out, "%u", limb[nl - 1]);
		for (k = nl - 1; k-- > 0;)
			buf_addf(out, "%09u", limb[k]);
	}
	free(limb);
}

/* Digits with single underscores between them, as the tokenizer wants. */
static size_t
scan_digits(const char *s, size_t n, size_t i, int base)
{
	size_t start = i;

	for (;;) {
		int c = i < n ? (unsigned char)s[i] : -1, ok;

		if (c == -1)
			break;
		if (base == 16)
			ok = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' &&
			    (c | 0x20) <= 'f');
		else
			ok = c >= '0' && c < '0' + base;
		if (ok) {
			i++;
			continue;
		}
		if (c == '_' && i > start && i + 1 < n) {
			int d = (unsigned char)s[i + 1];

			if (base == 16 ? ((d >= '0' && d <= '9') ||
			    ((d | 0x20) >= 'a' && (d | 0x20) <= 'f')) :
			    (d >= '0' && d < '0' + base)) {
				i++;
				continue;
			}
		}
		break;
	}
	return i - start;
}

/* A number token: int, float or imaginary.  Writes JSON text. */
static enum lt
lit_number(struct lp *p, struct buf *out)
{
	const char *s = p->s;
	size_t n = p->n, i = p->i, st = i, l;
	int isfloat = 0, base = 10;

	if (s[i] == '0' && i + 1 < n && strchr("xXoObB", s[i + 1]) != NULL) {
		base = strchr("xX", s[i + 1]) ? 16 : strchr("oO", s[i + 1]) ?
		    8 : 2;
		i += 2;
		if (i < n && s[i] == '_')
			i++;
		if ((l = scan_digits(s, n, i, base)) == 0)
			goto bad;
		i += l;
		if (i < n && id_char((unsigned char)s[i]))
			goto bad;
		p->i = i;
		st += 2;
		if (i - st > 4300) {
			conv_fail(p, 2, "integer too large");
			buf_addc(out, '0');
			return T_INT;
		}
		int_to_decimal(out, s + st, i - st, base);
		return T_INT;
	}
	l = scan_digits(s, n, i, 10);
	i += l;
	if (i < n && s[i] == '.') {
		isfloat = 1;
		i++;
		i += scan_digits(s, n, i, 10);
	}
	if (l == 0 && !isfloat)
		goto bad;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1, el;

		if (j < n && (s[j] == '+' || s[j] == '-'))
			j++;
		if ((el = scan_digits(s, n, j, 10)) == 0)
			goto bad;
		i = j + el;
		isfloat = 1;
	}
	if (i < n && (s[i] == 'j' || s[i] == 'J')) {
		i++;
		if (i < n && id_char((unsigned char)s[i]))
			goto bad;
		p->i = i;
		buf_addc(out, '0');
		return T_COMPLEX;
	}
	if (i < n && id_char((unsigned char)s[i]))
		goto bad;
	if (!isfloat) {
		size_t k;

		/* "leading zeros in decimal integer literals are not
		 * permitted", but 0, 00 and 0_0 are fine */
		if (s[st] == '0')
			for (k = st; k < i; k++)
				if (s[k] != '0' && s[k] != '_')
					goto bad;
		if (i - st > 4300) {
			/* int() refuses: ValueError, the text stays */
			conv_fail(p, 1, NULL);
			buf_addc(out, '0');
			p->i = i;
			return T_INT;
		}
		p->i = i;
		int_to_decimal(out, s + st, i - st, 10);
		return T_INT;
	} else {
		char *t = xmalloc(i - st + 1), *q = t;
		size_t k;

		for (k = st; k < i; k++)
			if (s[k] != '_')
				*q++ = s[k];
		*q = '\0';
		p->i = i;
		inv_py_float_repr(out, strtod(t, NULL));
		free(t);
		return T_FLOAT;
	}
bad:
	p->syntax = 1;
	p->i = n;
	return T_BAD;
}

static void
add_utf8(struct buf *b, unsigned cp)
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
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * One string literal (prefix already read: raw, bytes, fmt) appended to
 * val.  The body runs from the quote at p->i.
 */
static void
lit_string_body(struct lp *p, struct buf *val, int raw, int bytes)
{
	const char *s = p->s;
	size_t n = p->n, i = p->i, j;
	char q = s[i];
	int triple = 0;

	if (i + 2 < n && s[i + 1] == q && s[i + 2] == q) {
		triple = 1;
		i += 3;
	} else
		i++;
	for (;;) {
		unsigned char c;

		if (i >= n) {
			p->syntax = 1;
			p->i = n;
			return;
		}
		c = (unsigned char)s[i];
		if (c == (unsigned char)q) {
			if (!triple) {
				i++;
				break;
			}
			if (i + 2 < n && s[i + 1] == q && s[i + 2] == q) {
				i += 3;
				break;
			}
		}
		if (bytes && c >= 0x80) {
			p->syntax = 1;
			p->i = n;
			return;
		}
		if (c != '\\') {
			buf_addc(val, c);
			i++;
			continue;
		}
		if (i + 1 >= n) {
			p->syntax = 1;
			p->i = n;
			return;
		}
		if (raw) {
			buf_addc(val, '\\');
			buf_addc(val, s[i + 1]);
			i += 2;
			continue;
		}
		c = (unsigned char)s[++i];
		i++;
		switch (c) {
		case '\\': case '\'': case '"': buf_addc(val, c); break;
		case 'a': buf_addc(val, 7); break;
		case 'b': buf_addc(val, 8); break;
		case 'f': buf_addc(val, 12); break;
		case 'n': buf_addc(val, 10); break;
		case 'r': buf_addc(val, 13); break;
		case 't': buf_addc(val, 9); break;
		case 'v': buf_addc(val, 11); break;
		case '0': case '1': case '2': case '3':
		case '4': case '5': case '6': case '7': {
			unsigned v = c - '0';

			for (j = 0; j < 2 && i < n && s[i] >= '0' &&
			    s[i] <= '7'; j++)
				v = v * 8 + (unsigned)(s[i++] - '0');
			if (bytes)
				buf_addc(val, (int)(v & 0xff));
			else
				add_utf8(val, v);
			break;
		}
		case 'x': case 'u': case 'U': {
			size_t want = c == 'x' ? 2 : c == 'u' ? 4 : 8;
			unsigned v = 0;

			if (bytes && c != 'x') {
				buf_addc(val, '\\');
				buf_addc(val, c);
				break;
			}
			for (j = 0; j < want; j++) {
				int h = i + j < n ? hexval((unsigned char)s[i + j])
				    : -1;

				if (h < 0) {
					p->syntax = 1;
					p->i = n;
					return;
				}
				v = v * 16 + (unsigned)h;
			}
			i += want;
			if (bytes)
				buf_addc(val, (int)v);
			else if (v > 0x10ffff) {
				p->syntax = 1;
				p->i = n;
				return;
			} else if (v >= 0xd800 && v <= 0xdfff)
				conv_fail(p, 2, "lone surrogate");
			else
				add_utf8(val, v);
			break;
		}
		case 'N':
			if (!bytes) {
				conv_fail(p, 2, "\\N{...} escape");
				while (i < n && s[i] != '}' && s[i] != q)
					i++;
				if (i < n && s[i] == '}')
					i++;
				break;
			}
			/* FALLTHROUGH */
		default:
			/* unknown escapes keep their backslash */
			buf_addc(val, '\\');
			buf_addc(val, c);
		}
	}
	p->i = i;
}

static enum lt lit_expr(struct lp *, struct buf *, int *plain);
static enum lt lit_tuple(struct lp *, struct buf *, int *plain);

static void
json_str(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	buf_addc(out, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			buf_addc(out, '\\');
			buf_addc(out, c);
		} else if (c < 0x20 || c == 0x7f) {
			buf_adds(out, "\\u00");
			buf_addc(out, hex[c >> 4]);
			buf_addc(out, hex[c & 15]);
		} else
			buf_addc(out, c);
	}
	buf_addc(out, '"');
}

/* Adjacent string literals, concatenated as the compiler does. */
static enum lt
lit_strings(struct lp *p, struct buf *out, struct buf *val)
{
	int kind = -1;		/* 0 str, 1 bytes */

	for (;;) {
		size_t i, st;
		int raw = 0, bytes = 0, fmt = 0, c;

		c = peek(p);
		if (c == -1)
			break;
		st = i = p->i;
		while (i < p->n && i - st < 2 && strchr("rRbBuUfF",
		    p->s[i]) != NULL && p->s[i] != '\0')
			i++;
		if (i >= p->n || (p->s[i] != '\'' && p->s[i] != '"'))
			break;
		for (; st < i; st++) {
			switch (p->s[st] | 0x20) {
			case 'r': raw++; break;
			case 'b': bytes++; break;
			case 'f': fmt++; break;
			case 'u': if (i - p->i != 1) p->syntax = 1; break;
			}
		}
		if (raw > 1 || bytes > 1 || fmt > 1 || (bytes && fmt))
			p->syntax = 1;
		if (kind != -1 && kind != bytes && !fmt)
			p->syntax = 1;	/* cannot mix bytes and str */
		if (kind == -1)
			kind = bytes;
		if (fmt)
			conv_fail(p, 1, NULL);	/* JoinedStr: not a literal */
		p->i = i;
		lit_string_body(p, val, raw, bytes);
		if (p->syntax)
			return T_BAD;
	}
	if (kind == 1 && inv_utf8_check(val->data, val->len) != val->len)
		conv_fail(p, 2, "bytes that are not UTF-8");
	json_str(out, val->data, val->len);
	return kind == 1 ? T_BYTES : T_STR;
}

static int
starts_string(struct lp *p)
{
	size_t i = p->i;

	while (i < p->n && i - p->i < 2 && strchr("rRbBuUfF", p->s[i]) != NULL &&
	    p->s[i] != '\0')
		i++;
	return i < p->n && (p->s[i] == '\'' || p->s[i] == '"');
}

/* Display-style containers: [..], (..), {..}. */
static enum lt
lit_display(struct lp *p, struct buf *out, int *plain)
{
	int open = (unsigned char)p->s[p->i], close, c, first = 1, isdict = -1;
	int dummy, trailing = 0;
	enum lt t;

	close = open == '[' ? ']' : open == '(' ? ')' : '}';
	p->i++;
	if (++p->depth > 200) {
		/* "too many nested parentheses" */
		p->syntax = 1;
		p->i = p->n;
		return T_BAD;
	}
	*plain = 0;
	if (open == '(') {
		/* (x) is x; (x,) and () are tuples */
		if (peek(p) == ')') {
			p->i++;
			p->depth--;
			buf_adds(out, "[]");
			return T_TUPLE;
		}
		t = lit_tuple(p, out, plain);
		if (peek(p) != ')') {
			p->syntax = 1;
			p->i = p->n;
			return T_BAD;
		}
		p->i++;
		p->depth--;
		return t;
	}
	buf_addc(out, open == '[' ? '[' : '{');
	for (;;) {
		c = peek(p);
		if (c == close) {
			p->i++;
			break;
		}
		if (!first && !trailing) {
			p->syntax = 1;
			break;
		}
		if (!first)
			buf_addc(out, ',');
		first = 0;
		if (open == '{') {
			struct buf key = BUF_INIT;

			t = lit_expr(p, &key, &dummy);
			if (p->syntax) {
				buf_release(&key);
				break;
			}
			if (isdict == -1)
				isdict = peek(p) == ':';
			if (isdict) {
				if (peek(p) != ':') {
					p->syntax = 1;
					buf_release(&key);
					break;
				}
				p->i++;
				switch (t) {
				case T_STR: case T_BYTES:
					if (t == T_BYTES)
						conv_fail(p, 2, "bytes key");
					buf_add(out, key.data, key.len);
					break;
				case T_INT: case T_FLOAT: case T_BOOL:
				case T_NONE:
					buf_addc(out, '"');
					buf_add(out, key.data, key.len);
					buf_addc(out, '"');
					break;
				case T_LIST: case T_DICT: case T_SET:
					conv_fail(p, 2, "unhashable key");
					break;
				default:
					conv_fail(p, 2, "key type");
				}
				buf_addc(out, ':');
				t = lit_expr(p, out, &dummy);
			} else {
				if (t == T_LIST || t == T_DICT || t == T_SET)
					conv_fail(p, 2, "unhashable item");
			}
			buf_release(&key);
		} else
			t = lit_expr(p, out, &dummy);
		if (p->syntax)
			break;
		if (t == T_BYTES)
			conv_fail(p, 2, "bytes inside a container");
		trailing = 0;
		if (peek(p) == ',') {
			p->i++;
			trailing = 1;
		}
	}
	p->depth--;
	if (p->syntax) {
		p->i = p->n;
		return T_BAD;
	}
	buf_addc(out, open == '[' ? ']' : '}');
	if (open == '[')
		return T_LIST;
	if (isdict == 0) {
		conv_fail(p, 2, "set");
		return T_SET;
	}
	return T_DICT;
}

/* atom: number, string, name constant, display, set(). */
static enum lt
lit_atom(struct lp *p, struct buf *out, int *plain)
{
	int c = peek(p);
	size_t st;

	*plain = 0;
	if (c == -1) {
		p->syntax = 1;
		return T_BAD;
	}
	if ((c >= '0' && c <= '9') || (c == '.' && p->i + 1 < p->n &&
	    p->s[p->i + 1] >= '0' && p->s[p->i + 1] <= '9')) {
		enum lt t = lit_number(p, out);

		*plain = 1;
		return t;
	}
	if (c == '.' && p->i + 2 < p->n && p->s[p->i + 1] == '.' &&
	    p->s[p->i + 2] == '.') {
		p->i += 3;
		conv_fail(p, 2, "Ellipsis");
		buf_adds(out, "null");
		return T_ELLIPSIS;
	}
	if (c == '[' || c == '(' || c == '{')
		return lit_display(p, out, plain);
	if (starts_string(p)) {
		struct buf val = BUF_INIT;
		enum lt t = lit_strings(p, out, &val);

		buf_release(&val);
		return t;
	}
	if (id_char(c) && !(c >= '0' && c <= '9')) {
		size_t len;

		st = p->i;
		while (p->i < p->n && id_char((unsigned char)p->s[p->i]))
			p->i++;
		len = p->i - st;
		if (len == 4 && memcmp(p->s + st, "True", 4) == 0) {
			buf_adds(out, "true");
			return T_BOOL;
		}
		if (len == 5 && memcmp(p->s + st, "False", 5) == 0) {
			buf_adds(out, "false");
			return T_BOOL;
		}
		if (len == 4 && memcmp(p->s + st, "None", 4) == 0) {
			buf_adds(out, "null");
			return T_NONE;
		}
		if (len == 3 && memcmp(p->s + st, "set", 3) == 0 &&
		    peek(p) == '(') {
			p->i++;
			if (peek(p) == ')') {
				p->i++;
				conv_fail(p, 2, "set");
				buf_adds(out, "[]");
				return T_SET;
			}
		}
		/* any other name or call: syntax may be fine, but it is no
		 * literal; either way the value stays text */
		conv_fail(p, 1, NULL);
		p->syntax = 1;
		p->i = p->n;
		return T_BAD;
	}
	p->syntax = 1;
	p->i = p->n;
	return T_BAD;
}

/* A signed number, a complex sum, or any other atom. */
static enum lt
lit_expr(struct lp *p, struct buf *out, int *plain)
{
	int c = peek(p), sign = 0, pl;
	struct buf tmp = BUF_INIT;
	enum lt t;

	*plain = 0;
	if (c == '-' || c == '+') {
		sign = c;
		p->i++;
		c = peek(p);
		if (c == '-' || c == '+' || c == '~') {
			/* --1 parses, but is no literal */
			conv_fail(p, 1, NULL);
			p->syntax = 1;
			p->i = p->n;
			return T_BAD;
		}
		t = lit_atom(p, &tmp, &pl);
		if (p->syntax) {
			buf_release(&tmp);
			return T_BAD;
		}
		if (!pl || (t != T_INT && t != T_FLOAT && t != T_COMPLEX)) {
			conv_fail(p, 1, NULL);
			buf_add(out, tmp.data, tmp.len);
		} else if (sign == '-' && tmp.data[0] != '-' &&
		    !(t == T_INT && strcmp(tmp.data, "0") == 0)) {
			buf_addc(out, '-');
			buf_add(out, tmp.data, tmp.len);
		} else if (sign == '-' && tmp.data[0] == '-')
			buf_add(out, tmp.data + 1, tmp.len - 1);
		else
			buf_add(out, tmp.data, tmp.len);
		buf_release(&tmp);
	} else {
		t = lit_atom(p, out, &pl);
		if (p->syntax)
			return T_BAD;
	}
	c = peek(p);
	if (c == '+' || c == '-') {
		/* only int/float +- imaginary is a literal */
		int pl2;
		enum lt t2;

		p->i++;
		t2 = lit_atom(p, &tmp, &pl2);
		buf_release(&tmp);
		if (p->syntax)
			return T_BAD;
		if ((t == T_INT || t == T_FLOAT) && (sign || pl) &&
		    t2 == T_COMPLEX && pl2)
			conv_fail(p, 2, "complex number");
		else
			conv_fail(p, 1, NULL);
		c = peek(p);
		if (c == '+' || c == '-')
			conv_fail(p, 1, NULL);
		return T_COMPLEX;
	}
	if (t == T_COMPLEX)
		conv_fail(p, 2, "complex number");
	*plain = pl && !sign;
	return t;
}

/* expr (, expr)* [,] : a tuple as soon as there is a comma. */
static enum lt
lit_tuple(struct lp *p, struct buf *out, int *plain)
{
	struct buf first = BUF_INIT;
	enum lt t;
	int dummy;

	t = lit_expr(p, &first, plain);
	if (p->syntax || peek(p) != ',') {
		buf_add(out, first.data, first.len);
		buf_release(&first);
		return t;
	}
	*plain = 0;
	if (t == T_BYTES)
		conv_fail(p, 2, "bytes inside a container");
	buf_addc(out, '[');
	buf_add(out, first.data, first.len);
	buf_release(&first);
	while (peek(p) == ',') {
		int c;

		p->i++;
		c = peek(p);
		if (c == -1 || c == ')' || c == ']' || c == '}')
			break;
		buf_addc(out, ',');
		t = lit_expr(p, out, &dummy);
		if (p->syntax)
			return T_BAD;
		if (t == T_BYTES)
			conv_fail(p, 2, "bytes inside a container");
	}
	buf_addc(out, ']');
	return T_TUPLE;
}

enum inv_lit
inv_literal(const char *s, size_t n, struct buf *json, struct buf *str,
    int *is_string, const char **why)
{
	struct lp p;
	enum lt t;
	int plain;
	struct buf tmp = BUF_INIT;

	memset(&p, 0, sizeof p);
	/* literal_eval strips leading spaces and tabs only */
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (memchr(s, '\0', n) != NULL)
		return INV_LIT_STRING;
	p.s = s;
	p.n = n;
	*is_string = 0;
	*why = NULL;
	t = lit_tuple(&p, &tmp, &plain);
	if (!p.syntax && peek(&p) != -1)
		p.syntax = 1;
	if (p.syntax || p.conv == 1) {
		buf_release(&tmp);
		return INV_LIT_STRING;
	}
	if (p.conv == 2) {
		*why = p.why;
		buf_release(&tmp);
		return INV_LIT_UNSUPPORTED;
	}
	if (t == T_STR || t == T_BYTES) {
		/* re-read the string body: tmp holds it JSON-escaped */
		struct lp q;

		memset(&q, 0, sizeof q);
		q.s = s;
		q.n = n;
		buf_reset(str);
		{
			struct buf junk = BUF_INIT;

			lit_strings(&q, &junk, str);
			buf_release(&junk);
		}
		*is_string = 1;
	}
	buf_add(json, tmp.data, tmp.len);
	buf_release(&tmp);
	return INV_LIT_VALUE;
}

/* -------------------------------------------------------- parse_address */

/* alphanumeric_range at s[i]: \[([a-z]:[a-z]|[0-9]+:[0-9]+)(:[0-9]+)?\] */
static size_t
alnum_range(const char *s, size_t n, size_t i, int numeric_only, int hex)
{
	size_t j = i + 1, k;

	if (i >= n || s[i] != '[')
		return 0;
#define ALPHA(c) (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'z')
#define DIGIT(c) ((c) >= '0' && (c) <= '9')
#define HEXD(c) (DIGIT(c) || (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'f'))
	if (!numeric_only && j + 3 < n && ALPHA(s[j]) && s[j + 1] == ':' &&
	    ALPHA(s[j + 2]))
		j += 3;
	else {
		for (k = j; k < n && (hex ? HEXD(s[k]) : DIGIT(s[k])); k++)
			;
		if (k == j || k >= n || s[k] != ':')
			return 0;
		j = k + 1;
		for (k = j; k < n && (hex ? HEXD(s[k]) : DIGIT(s[k])); k++)
			;
		if (k == j)
			return 0;
		j = k;
	}
	if (j < n && s[j] == ':') {
		for (k = j + 1; k < n && DIGIT(s[k]); k++)
			;
		if (k == j + 1)
			return 0;
		j = k;
	}
	if (j >= n || s[j] != ']')
		return 0;
	return j + 1 - i;
}

static int
word_byte(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

/* The 'hostname' pattern: labels of \w, [_-] and ranges. */
static int
is_hostname(const char *s, size_t n)
{
	size_t i = 0;

	for (;;) {
		size_t st = i, r;
		int last = 0;

		while (i < n && s[i] != '.') {
			unsigned char c = (unsigned char)s[i];

			if ((r = alnum_range(s, n, i, 0, 0)) > 0) {
				i += r;
				last = ']';
				continue;
			}
			if (word_byte(c) || (i > st && c == '-')) {
				i++;
				last = c;
				continue;
			}
			return 0;
		}
		if (i == st || last == '_' || last == '-')
			return 0;
		if (i == n)
			return 1;
		i++;	/* '.' */
	}
}

/* The 'ipv6' pattern, ranges standing in for hex components. */
static int
is_ipv6(const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	struct in6_addr a;
	size_t i = 0, r;
	int ok;

	if (memchr(s, ':', n) == NULL)
		return 0;
	while (i < n) {
		if ((r = alnum_range(s, n, i, 1, 1)) > 0) {
			buf_addc(&b, '0');
			i += r;
		} else
			buf_addc(&b, s[i++]);
	}
	ok = inet_pton(AF_INET6, b.data, &a) == 1;
	buf_release(&b);
	return ok;
}

static int
is_address(const char *s, size_t n)
{
	return is_hostname(s, n) || is_ipv6(s, n);
}

int
inv_parse_address(const char *s, size_t n, size_t *hoff, size_t *hlen,
    long *port)
{
	size_t off = 0, len = n, i, j;
	long pt = -1;

	/* bracketed_hostport: ^\[(.+)\]:([0-9]+)$ */
	if (len > 0 && s[0] == '[') {
		for (j = len; j > 0 && DIGIT(s[j - 1]); j--)
			;
		if (j < len && j >= 4 && s[j - 1] == ':' && s[j - 2] == ']' &&
		    len - j < 20) {
			pt = strtol(s + j, NULL, 10);
			off = 1;
			len = j - 3;
		}
	}
	/* hostport: ^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$ */
	for (j = off + len; j > off && DIGIT(s[j - 1]); j--)
		;
	if (j < off + len && j > off && s[j - 1] == ':' &&
	    off + len - j < 20) {
		int ok = 1;

		for (i = off; i < j - 1 && ok; i++) {
			if (s[i] == '[') {
				while (i < j - 1 && s[i] != ']')
					i++;
				if (i >= j - 1)
					ok = 0;
			} else if (s[i] == ':' || s[i] == ']')
				ok = 0;
		}
		if (ok) {
			pt = strtol(s + j, NULL, 10);
			len = j - 1 - off;
		}
	}
	if (len == 0 || !is_address(s + off, len)) {
		*hoff = 0;
		*hlen = n;
		*port = -1;
		return 0;
	}
	*hoff = off;
	*hlen = len;
	*port = pt;
	return 1;
}

/* ------------------------------------------------ expand_hostname_range */

static const char ascii_letters[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* Python int() of a short decimal string (whitespace and _ allowed). */
static int
py_int(const char *s, size_t n, long *v)
{
	size_t b = 0, e = n, i;
	long x = 0;
	int neg = 0, nd = 0;

	inv_py_strip(s, &b, &e);
	if (b < e && (s[b] == '-' || s[b] == '+'))
		neg = s[b++] == '-';
	for (i = b; i < e; i++) {
		if (s[i] == '_' && i > b && i + 1 < e && DIGIT(s[i + 1]) &&
		    DIGIT(s[i - 1]))
			continue;
		if (!DIGIT(s[i]))
			return -1;
		if (x > 100000000L)
			return -1;
		x = x * 10 + (s[i] - '0');
		nd++;
	}
	if (nd == 0)
		return -1;
	*v = neg ? -x : x;
	return 0;
}

static void
add_name(char ***names, size_t *n, char *s)
{
	/* capacity doubles at each power of two: no quadratic copying */
	if (*n == 0 || (*n & (*n - 1)) == 0)
		*names = xreallocarray(*names, *n ? *n * 2 : 1,
		    sizeof **names);
	(*names)[(*n)++] = s;
}

static int
expand1(const char *line, char ***names, size_t *n, size_t max, char *err,
    size_t errlen, int depth)
{
	const char *lb, *rb, *c1, *c2;
	char *head = NULL, *tail = NULL, *beg = NULL, *end = NULL;
	long step = 1, ib, ie, v;
	int rc = -1, alpha = 0, width = 0;
	const char *pb, *pe;
	struct buf name = BUF_INIT;

	if (depth > 32) {
		snprintf(err, errlen, "too many ranges in one host name");
		return -1;
	}
	lb = strchr(line, '[');
	/* Python replaces the first '[' and the first ']' with '|' and
	 * unpacks exactly three parts out of a split on '|'. */
	rb = strchr(line, ']');
	if (rb == NULL || rb < lb || strchr(line, '|') != NULL) {
		snprintf(err, errlen, "invalid range in '%s'", line);
		return -1;
	}
	head = xstrndup(line, (size_t)(lb - line));
	tail = xstrdup(rb + 1);
	c1 = memchr(lb + 1, ':', (size_t)(rb - lb - 1));
	if (c1 == NULL) {
		snprintf(err, errlen, "host range must be begin:end or "
		    "begin:end:step");
		goto out;
	}
	c2 = memchr(c1 + 1, ':', (size_t)(rb - c1 - 1));
	if (c2 != NULL && memchr(c2 + 1, ':', (size_t)(rb - c2 - 1)) != NULL) {
		snprintf(err, errlen, "host range must be begin:end or "
		    "begin:end:step");
		goto out;
	}
	beg = xstrndup(lb + 1, (size_t)(c1 - lb - 1));
	end = xstrndup(c1 + 1, (size_t)((c2 ? c2 : rb) - c1 - 1));
	if (c2 != NULL && py_int(c2 + 1, (size_t)(rb - c2 - 1), &step) == -1) {
		snprintf(err, errlen, "invalid range step '%.*s'",
		    (int)(rb - c2 - 1), c2 + 1);
		goto out;
	}
	if (*beg == '\0') {
		free(beg);
		beg = xstrdup("0");
	}
	if (*end == '\0') {
		snprintf(err, errlen, "host range must specify end value");
		goto out;
	}
	if (beg[0] == '0' && strlen(beg) > 1) {
		width = (int)strlen(beg);
		if (strlen(end) != (size_t)width) {
			snprintf(err, errlen, "host range must specify "
			    "equal-length begin and end formats");
			goto out;
		}
	}
	pb = strstr(ascii_letters, beg);
	pe = strstr(ascii_letters, end);
	if (pb != NULL && pe != NULL) {
		alpha = 1;
		ib = pb - ascii_letters;
		ie = pe - ascii_letters;
		if (ib > ie) {
			snprintf(err, errlen, "host range must have begin <= "
			    "end");
			goto out;
		}
	} else if (py_int(beg, strlen(beg), &ib) == -1 ||
	    py_int(end, strlen(end), &ie) == -1) {
		snprintf(err, errlen, "invalid range '[%.*s]'",
		    (int)(rb - lb - 1), lb + 1);
		goto out;
	}
	if (step == 0) {
		snprintf(err, errlen, "range step must not be zero");
		goto out;
	}
	if (step < 0 && alpha) {
		/* letters[b:e+1:-s] with b <= e is empty */
		rc = 0;
		goto out;
	}
	if ((step > 0 && ie >= ib && (unsigned long)((ie - ib) / step) >=
	    max) || (step < 0 && ib > ie + 1 && (unsigned long)((ib - ie) /
	    -step) >= max)) {
		snprintf(err, errlen, "range expands to more than %zu hosts",
		    max);
		goto out;
	}
	for (v = ib; step > 0 ? v <= ie : v > ie + 1; v += step) {
		buf_reset(&name);
		buf_adds(&name, head);
		if (alpha)
			buf_addc(&name, ascii_letters[v]);
		else
			buf_addf(&name, "%0*ld", width, v);
		buf_adds(&name, tail);
		if (strchr(name.data, '[') != NULL) {
			if (expand1(name.data, names, n, max, err, errlen,
			    depth + 1) == -1)
				goto out;
		} else {
			if (*n >= max) {
				snprintf(err, errlen, "range expands to more "
				    "than %zu hosts", max);
				goto out;
			}
			add_name(names, n, xstrdup(name.data));
		}
	}
	rc = 0;
out:
	buf_release(&name);
	free(head);
	free(tail);
	free(beg);
	free(end);
	return rc;
}

int
inv_expand_range(const char *pat, char ***names, size_t *n, size_t max,
    char *err, size_t errlen)
{
	*names = NULL;
	*n = 0;
	if (strchr(pat, '[') == NULL) {
		add_name(names, n, xstrdup(pat));
		return 0;
	}
	if (expand1(pat, names, n, max, err, errlen, 0) == -1) {
		size_t i;

		for (i = 0; i < *n; i++)
			free((*names)[i]);
		free(*names);
		*names = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

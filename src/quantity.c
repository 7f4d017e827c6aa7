/*
 * quantity: parse Kubernetes resource quantities into bytes and
 * millicores with exact integer arithmetic (no floating point, so
 * "1.1Gi" is the same number everywhere) and overflow checks.
 */
#include <stdint.h>
#include <string.h>

#include "quantity.h"

/*
 * A quantity is held as n / 10^scale times mult: "1.5Gi" is n = 15,
 * scale = 1, mult = 2^30.  "1e3" is n = 1, scale = -3.
 */
struct q {
	int64_t	n;
	int	scale;
	int64_t	mult;
};

static int
parse(const char *s, struct q *q, int allow_milli, int *milli)
{
	static const struct {
		const char	*sfx;
		int64_t		 mult;
	} sfx[] = {
		{ "Ki", INT64_C(1) << 10 }, { "Mi", INT64_C(1) << 20 },
		{ "Gi", INT64_C(1) << 30 }, { "Ti", INT64_C(1) << 40 },
		{ "Pi", INT64_C(1) << 50 }, { "Ei", INT64_C(1) << 60 },
		{ "k", INT64_C(1000) }, { "M", INT64_C(1000000) },
		{ "G", INT64_C(1000000000) }, { "T", INT64_C(1000000000000) },
		{ "P", INT64_C(1000000000000000) },
		{ "E", INT64_C(1000000000000000000) },
	};
	int digits = 0, e, esign;
	size_t i;

	q->n = 0;
	q->scale = 0;
	q->mult = 1;
	*milli = 0;
	if (*s == '+')
		s++;
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		if (q->n > (INT64_MAX - (*s - '0')) / 10)
			return -1;
		q->n = q->n * 10 + (*s - '0');
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
			if (q->n > (INT64_MAX - (*s - '0')) / 10)
				return -1;
			q->n = q->n * 10 + (*s - '0');
			q->scale++;
		}
	}
	if (digits == 0)
		return -1;
	if (*s == '\0')
		return 0;
	/* "1E3" is an exponent, "1Ei" and "1E" suffixes */
	if ((s[0] == 'e' || s[0] == 'E') && ((s[1] >= '0' && s[1] <= '9') ||
	    ((s[1] == '+' || s[1] == '-') && s[2] >= '0' && s[2] <= '9'))) {
		s++;
		esign = 1;
		if (*s == '+' || *s == '-')
			esign = *s++ == '-' ? -1 : 1;
		if (!(*s >= '0' && *s <= '9'))
			return -1;
		for (e = 0; *s >= '0' && *s <= '9'; s++) {
			if (e > 1000)
				return -1;
			e = e * 10 + (*s - '0');
		}
		if (*s != '\0')
			return -1;
		q->scale -= esign * e;
		return 0;
	}
	if (allow_milli && strcmp(s, "m") == 0) {
		*milli = 1;
		return 0;
	}
	for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		if (strcmp(s, sfx[i].sfx) == 0) {
			q->mult = sfx[i].mult;
			return 0;
		}
	}
	return -1;
}

/* ceil(q * unit_mult), or -1 when it does not fit in int64. */
static int
scale(const struct q *q, int64_t unit_mult, int64_t *out)
{
	int64_t v, p;
	int s = q->scale, i;

	if (__builtin_mul_overflow(q->n, q->mult, &v) ||
	    __builtin_mul_overflow(v, unit_mult, &v))
		return -1;
	if (v == 0) {
		*out = 0;
		return 0;
	}
	if (s < 0) {
		for (i = 0; i < -s; i++)
			if (__builtin_mul_overflow(v, 10, &v))
				return -1;
		*out = v;
		return 0;
	}
	/* v <= INT64_MAX < 10^19: any larger divisor leaves a fraction. */
	if (s > 18) {
		*out = 1;
		return 0;
	}
	for (p = 1, i = 0; i < s; i++)
		p *= 10;
	*out = v / p + (v % p != 0);
	return 0;
}

int
quantity_parse_memory(const char *s, int64_t *bytes)
{
	struct q q;
	int milli;

	if (s == NULL || parse(s, &q, 0, &milli) == -1)
		return -1;
	return scale(&q, 1, bytes);
}

int
quantity_parse_cpu(const char *s, int64_t *millicores)
{
	struct q q;
	int milli;

	if (s == NULL || parse(s, &q, 1, &milli) == -1)
		return -1;
	/* only m or no suffix make sense for CPUs */
	if (q.mult != 1)
		return -1;
	return scale(&q, milli ? 1 : 1000, millicores);
}

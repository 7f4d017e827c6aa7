/*
 * tap.h: a tiny TAP producer for the C unit tests.  Each check prints
 * "ok N - name" or "not ok N - name" with the place and the values that
 * differed; done_testing() prints the plan and returns the exit status.
 * The automake TAP driver counts every check in `make check`'s summary.
 */
#ifndef VZ_TAP_H
#define VZ_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

/* The description is a printf format: the compiler checks it ("25%%"). */
static inline int
tap_result(int pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline int
tap_result(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	printf("%sok %d - ", pass ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!pass) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return pass;
}

#define ok(cond, ...) tap_result(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...) do {					\
	long long g_ = (long long)(got), w_ = (long long)(want);	\
	if (!tap_result(g_ == w_, __FILE__, __LINE__, __VA_ARGS__))	\
		printf("#   got %lld, want %lld\n", g_, w_);		\
} while (0)

#define is_str(got, want, ...) do {					\
	const char *g_ = (got), *w_ = (want);				\
	int p_ = (g_ == NULL && w_ == NULL) ||				\
	    (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0);		\
	if (!tap_result(p_, __FILE__, __LINE__, __VA_ARGS__))		\
		printf("#   got  '%s'\n#   want '%s'\n",			\
		    g_ ? g_ : "(null)", w_ ? w_ : "(null)");		\
} while (0)

#define diag_note(...) do { printf("# "); printf(__VA_ARGS__);		\
	putchar('\n'); } while (0)

static inline int
done_testing(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif

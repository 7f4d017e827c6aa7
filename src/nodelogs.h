/*
 * nodelogs: the node side of `vzmaster logs`, the verb `vzexec logs`.
 * Finds a pod's container lines wherever this node keeps them (the
 * journal, a syslog file, busybox logread, and vzlog's fallback files
 * under ROOT/run/log) and prints them oldest first, one line each:
 *
 *     2026-11-23T16:50:56Z CONTAINER MESSAGE
 *
 * (UTC, seconds).  Built into the static vzexec with musl (libc, buf.c
 * and json.c only, no threads) and, for the unit tests, with the normal CC.
 * The parsing and selection helpers are exported for those tests.
 */
#ifndef VZ_NODELOGS_H
#define VZ_NODELOGS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* vzexec dispatch: `vzexec logs ...`, argv[1] == "logs".  Exit 0/1/2. */
int	nodelogs_main(int argc, char **argv);

#define NL_NAME_MAX	63
#define NL_TAG_MAX	160

/* 1 when s is a DNS-1123 label (lower-case alnum and '-', 1..63). */
int	nodelogs_valid_name(const char *s);

/*
 * One parsed line of a syslog file or of logread: RFC 3164
 * "MMM dd hh:mm:ss host [fac.prio] tag[pid]: msg" (busybox's
 * "MMM dd hh:mm:ss tag: msg" too), rsyslog's ISO variant
 * "2026-11-23T16:50:56.123+01:00 host tag: msg", and RFC 5424
 * "<pri>1 ISO host app procid msgid SD msg".  RFC 3164 times are local
 * time in the year of `now` (the previous year when that would put them
 * more than a day in the future).  msg points into the line.
 */
struct nl_sysline {
	int64_t		 usec;		/* since the epoch */
	char		 tag[NL_TAG_MAX];	/* without "[pid]" */
	const char	*msg;
	size_t		 msglen;
};
int	nodelogs_parse_syslog(const char *line, size_t len, time_t now,
	    struct nl_sysline *out);

/*
 * If tag is "vz/POD/CTR" for this pod (and this container when ctr is not
 * NULL), copy CTR into out and return 1; else 0.
 */
int	nodelogs_match_tag(const char *tag, const char *pod, const char *ctr,
	    char *out, size_t outlen);

/* One journal entry in `journalctl -o json` form: 0, or -1 when it is not
 * one (no timestamp, no identifier).  msg is malloc'd: caller must free. */
int	nodelogs_parse_journal(const char *line, size_t len, int64_t *usec,
	    char *tag, size_t taglen, char **msg, size_t *msglen);

/* A fallback file line "UNIXTIME msg": 0 with *t and msg, or -1. */
int	nodelogs_parse_fallback(const char *line, size_t len, int64_t *usec,
	    const char **msg, size_t *msglen);

/* The collected lines of one run. */
struct nl_entry {
	int64_t		 usec;
	size_t		 seq;		/* arrival order: keeps ties stable */
	char		*ctr;
	char		*msg;
};
struct nl_list {
	struct nl_entry	*v;
	size_t		 n, cap;
};
void	nl_list_add(struct nl_list *, int64_t usec, const char *ctr,
	    const char *msg, size_t msglen);
/*
 * Sort oldest first (stable), drop lines older than since_usec, then keep
 * only the last n (n < 0: all).  Returns the index of the first line kept;
 * lines [first, l->n) are the answer.
 */
size_t	nl_list_select(struct nl_list *, int64_t since_usec, long n);
void	nl_list_release(struct nl_list *);

/*
 * A --since value for vzmaster logs: unix seconds ("1795452656"), an age
 * before now ("30s", "10m", "2h", "1d", "1w"), or an ISO date or time
 * ("2026-11-23", "2026-11-23T16:50", "2026-11-23 16:50:56+01:00"; local
 * time without a zone).  0 and *secs, or -1.
 */
int	nodelogs_parse_since(const char *s, time_t now, int64_t *secs);

/* "2026-11-23T16:50:56Z" for usec (UTC). */
void	nodelogs_fmt_time(int64_t usec, char *out, size_t outlen);

#endif

/*
 * test-nodelogs: the parsing of syslog, journal and fallback lines and the
 * tail/since selection of `vzexec logs` (src/nodelogs.c, built here with
 * the normal CC).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "nodelogs.h"
#include "tap.h"

/* Local time -> usec, as the parser must compute it. */
static int64_t
local_usec(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm) * 1000000;
}

static int
msg_is(const struct nl_sysline *sl, const char *want)
{
	return sl->msg != NULL && sl->msglen == strlen(want) &&
	    memcmp(sl->msg, want, sl->msglen) == 0;
}

static void
test_rfc3164(void)
{
	struct nl_sysline sl;
	time_t now = (time_t)(local_usec(2026, 11, 23, 17, 0, 0) / 1000000);
	const char *l;

	l = "Nov 23 16:50:56 web1 vz/shop/app[123]: GET / 200\n";
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), 0,
	    "3164 with host and pid");
	is_str(sl.tag, "vz/shop/app", "tag without [pid]");
	ok(msg_is(&sl, "GET / 200"), "message, newline dropped");
	is_int(sl.usec, local_usec(2026, 11, 23, 16, 50, 56),
	    "local time in the current year");

	l = "Nov  3 01:02:03 web1 daemon.info vz/shop/db: ready";
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), 0,
	    "busybox: space-padded day, facility.priority word");
	is_str(sl.tag, "vz/shop/db", "busybox tag");
	ok(msg_is(&sl, "ready"), "busybox message");
	is_int(sl.usec, local_usec(2026, 11, 3, 1, 2, 3), "padded day time");

	l = "Nov 23 16:50:56 vz/shop/app: no host: colons kept";
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), 0,
	    "busybox -S: no host");
	is_str(sl.tag, "vz/shop/app", "tag right after the time");
	ok(msg_is(&sl, "no host: colons kept"), "colons in the message");

	l = "Dec 31 23:59:59 web1 vz/shop/app: last year";
	now = (time_t)(local_usec(2027, 1, 1, 0, 0, 30) / 1000000);
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), 0,
	    "december line read in january");
	is_int(sl.usec, local_usec(2026, 12, 31, 23, 59, 59),
	    "is put in the previous year");

	l = "Nov 23 16:50:56 web1 vz/shop/app:";
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), 0,
	    "empty message");
	is_int(sl.msglen, 0, "empty message length");

	l = "Foo 23 16:50:56 web1 vz/shop/app: x";
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), -1,
	    "bad month refused");
	l = "Nov 23 16:50 web1 vz/shop/app: x";
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), -1,
	    "short time refused");
	l = "Nov 23 16:50:56 a b c d: x";
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), -1,
	    "no tag in the first three words");
	l = "";
	is_int(nodelogs_parse_syslog(l, 0, now, &sl), -1, "empty line");
}

static void
test_iso(void)
{
	struct nl_sysline sl;
	time_t now = 1795000000;
	const char *l;

	l = "2026-11-23T16:50:56.250+01:00 web1 vz/shop/app[9]: hello";
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), 0,
	    "rsyslog file format");
	is_int(sl.usec, 1795452656LL * 1000000 - 3600LL * 1000000 + 250000,
	    "offset and fraction applied");
	is_str(sl.tag, "vz/shop/app", "iso tag");
	ok(msg_is(&sl, "hello"), "iso message");

	l = "2026-11-23T16:50:56Z web1 vz/shop/app: z";
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), 0, "Z zone");
	is_int(sl.usec, 1795452656LL * 1000000, "Z is UTC");

	l = "2026-11-23T16:50:56.123456789-0230 web1 vz/shop/app: q";
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), 0,
	    "nanoseconds, offset without colon");
	is_int(sl.usec, (1795452656LL + 9000) * 1000000 + 123456,
	    "fraction cut to microseconds, negative offset");

	l = "<30>1 2026-11-23T16:50:56.003Z web1 vz/shop/app 77 - - five424";
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), 0, "RFC 5424");
	is_str(sl.tag, "vz/shop/app", "5424 APP-NAME is the tag");
	ok(msg_is(&sl, "five424"), "5424 message after nil SD");
	is_int(sl.usec, 1795452656LL * 1000000 + 3000, "5424 time");

	l = "<30>1 2026-11-23T16:50:56Z web1 vz/shop/app - ID [x@1 a=\"] [\"]"
	    "[y@2 b=\"c\"] sd msg";
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), 0,
	    "5424 structured data with brackets in quotes");
	ok(msg_is(&sl, "sd msg"), "message after structured data");

	l = "<30>1 2026-11-23T16:50:56Z web1 vz/shop/app - -";
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), -1,
	    "5424 without SD refused");
	l = "2026-13-23T16:50:56Z web1 vz/shop/app: bad month";
	is_int(nodelogs_parse_syslog(l, strlen(l), now, &sl), -1,
	    "iso month 13 refused");
}

static void
test_tags(void)
{
	char c[64];

	is_int(nodelogs_match_tag("vz/shop/app", "shop", NULL, c, sizeof c), 1,
	    "pod matches");
	is_str(c, "app", "container extracted");
	is_int(nodelogs_match_tag("vz/shop/app", "shop", "db", c, sizeof c), 0,
	    "other container");
	is_int(nodelogs_match_tag("vz/shop/app", "sho", NULL, c, sizeof c), 0,
	    "pod prefix is not the pod");
	is_int(nodelogs_match_tag("vz/shopx/app", "shop", NULL, c, sizeof c), 0,
	    "longer pod");
	is_int(nodelogs_match_tag("vz/shop/a/b", "shop", NULL, c, sizeof c), 0,
	    "not a label");
	is_int(nodelogs_match_tag("vzexec", "shop", NULL, c, sizeof c), 0,
	    "the supervisor's own tag");

	ok(nodelogs_valid_name("web-1"), "label");
	ok(!nodelogs_valid_name("../x"), "../x refused");
	ok(!nodelogs_valid_name("Web"), "upper case refused");
	ok(!nodelogs_valid_name("-a"), "leading dash refused");
	ok(!nodelogs_valid_name("a-"), "trailing dash refused");
	ok(!nodelogs_valid_name(""), "empty refused");
	ok(!nodelogs_valid_name("a.b"), "dot refused");
	ok(nodelogs_valid_name("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaa"), "63 characters");
	ok(!nodelogs_valid_name("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaa"), "64 refused");
}

static void
test_journal_fallback(void)
{
	const char *l, *m;
	char tag[160], *msg;
	size_t len;
	int64_t t;

	l = "{\"__CURSOR\":\"s=1\",\"__REALTIME_TIMESTAMP\":\"1795452656123456\","
	    "\"SYSLOG_IDENTIFIER\":\"vz/shop/app\",\"MESSAGE\":\"hi \\\"x\\\"\"}";
	is_int(nodelogs_parse_journal(l, strlen(l), &t, tag, sizeof tag, &msg,
	    &len), 0, "journal json");
	is_int(t, 1795452656123456LL, "journal timestamp in usec");
	is_str(tag, "vz/shop/app", "journal identifier");
	is_str(msg, "hi \"x\"", "journal message unescaped");
	free(msg);
	l = "{\"__REALTIME_TIMESTAMP\":\"5\",\"SYSLOG_IDENTIFIER\":\"vz/a/b\","
	    "\"MESSAGE\":[104,105,255]}";
	is_int(nodelogs_parse_journal(l, strlen(l), &t, tag, sizeof tag, &msg,
	    &len), 0, "binary message");
	is_int(len, 3, "three bytes");
	ok(memcmp(msg, "hi\xff", 3) == 0, "bytes kept");
	free(msg);
	l = "{\"__REALTIME_TIMESTAMP\":\"5\",\"MESSAGE\":\"x\"}";
	is_int(nodelogs_parse_journal(l, strlen(l), &t, tag, sizeof tag, &msg,
	    &len), -1, "no identifier: not ours");
	l = "not json";
	is_int(nodelogs_parse_journal(l, strlen(l), &t, tag, sizeof tag, &msg,
	    &len), -1, "garbage");

	l = "1795452656 a line with 2 numbers\n";
	is_int(nodelogs_parse_fallback(l, strlen(l), &t, &m, &len), 0,
	    "fallback line");
	is_int(t, 1795452656LL * 1000000, "fallback time");
	ok(len == 21 && memcmp(m, "a line with 2 numbers", 21) == 0,
	    "fallback message");
	l = "17959x31456 x";
	is_int(nodelogs_parse_fallback(l, strlen(l), &t, &m, &len), -1,
	    "fallback bad time");
	l = "99999999999999999999999 x";
	is_int(nodelogs_parse_fallback(l, strlen(l), &t, &m, &len), -1,
	    "fallback overflow");
}

static void
test_select(void)
{
	struct nl_list l;
	char t[32];
	size_t first;

	memset(&l, 0, sizeof l);
	nl_list_add(&l, 30, "a", "third", 5);
	nl_list_add(&l, 10, "b", "first", 5);
	nl_list_add(&l, 20, "a", "second-1", 8);
	nl_list_add(&l, 20, "b", "second-2", 8);
	nl_list_add(&l, 40, "a", "fourth", 6);
	first = nl_list_select(&l, 0, -1);
	is_int(first, 0, "all kept");
	is_str(l.v[0].msg, "first", "sorted oldest first");
	is_str(l.v[1].msg, "second-1", "ties keep arrival order");
	is_str(l.v[2].msg, "second-2", "ties keep arrival order (2)");
	is_str(l.v[4].msg, "fourth", "newest last");
	first = nl_list_select(&l, 0, 2);
	is_int(l.n - first, 2, "-n 2 keeps two");
	is_str(l.v[first].msg, "third", "the last two");
	first = nl_list_select(&l, 20, -1);
	is_int(l.n - first, 4, "since keeps lines at the instant");
	first = nl_list_select(&l, 25, 10);
	is_int(l.n - first, 2, "since then n");
	first = nl_list_select(&l, 0, 0);
	is_int(l.n - first, 0, "-n 0 keeps none");
	first = nl_list_select(&l, 1000, 5);
	is_int(l.n - first, 0, "since after the last");
	nl_list_release(&l);
	nl_list_add(&l, 1, "a", "two\nlines\rx", 100);
	is_str(l.v[0].msg, "two lines x", "newlines become spaces");
	nl_list_release(&l);
	first = nl_list_select(&l, 0, 5);
	is_int(first, 0, "empty list");

	nodelogs_fmt_time(1795452656LL * 1000000 + 999999, t, sizeof t);
	is_str(t, "2026-11-23T16:50:56Z", "UTC, seconds");
}

static void
test_since(void)
{
	time_t now = 1795452656;
	int64_t v;

	is_int(nodelogs_parse_since("1795000000", now, &v), 0, "unix seconds");
	is_int(v, 1795000000, "unix seconds value");
	is_int(nodelogs_parse_since("10m", now, &v), 0, "10m");
	is_int(v, now - 600, "10m ago");
	is_int(nodelogs_parse_since("2h", now, &v), 0, "2h");
	is_int(v, now - 7200, "2h ago");
	is_int(nodelogs_parse_since("1d", now, &v), 0, "1d");
	is_int(v, now - 86400, "1d ago");
	is_int(nodelogs_parse_since("30s", now, &v), 0, "30s");
	is_int(v, now - 30, "30s ago");
	is_int(nodelogs_parse_since("2026-11-23T16:50:56Z", now, &v), 0,
	    "ISO UTC");
	is_int(v, 1795452656, "ISO UTC value");
	is_int(nodelogs_parse_since("2026-11-23T17:50+01:00", now, &v), 0,
	    "ISO without seconds, with offset");
	is_int(v, 1795452600, "offset applied");
	is_int(nodelogs_parse_since("2026-11-23", now, &v), 0, "a date");
	is_int(v, local_usec(2026, 11, 23, 0, 0, 0) / 1000000,
	    "a date is local midnight");
	is_int(nodelogs_parse_since("2026-11-23 16:50", now, &v), 0,
	    "date space time");
	is_int(v, local_usec(2026, 11, 23, 16, 50, 0) / 1000000,
	    "local time without a zone");
	is_int(nodelogs_parse_since("10x", now, &v), -1, "bad unit");
	is_int(nodelogs_parse_since("m", now, &v), -1, "unit alone");
	is_int(nodelogs_parse_since("", now, &v), -1, "empty");
	is_int(nodelogs_parse_since("2026-11-23T", now, &v), -1, "cut ISO");
	is_int(nodelogs_parse_since("2026-11-23Tzz", now, &v), -1,
	    "garbage after date");
	is_int(nodelogs_parse_since("2026-11-23T16:50:56Zjunk", now, &v), -1,
	    "trailing junk");
	is_int(nodelogs_parse_since("99999999999999999999", now, &v), -1,
	    "overflow");
}

int
main(void)
{
	test_since();
	test_rfc3164();
	test_iso();
	test_tags();
	test_journal_fallback();
	test_select();
	return done_testing();
}

#!/bin/sh
# t0800-logs: `vzexec logs` (nodelogs_main, through tests/unit/nodelogs-driver
# until the verb is in the static vzexec) on a temporary ROOT holding
# vzlog's fallback files (one rotated to .1) and a syslog file in the
# formats rsyslog and busybox write: merge order, -n, --since, the
# container filter, -f across a rotation, and refused names.
. "$top_srcdir/tests/lib.sh"

DRV=$top_builddir/tests/unit/nodelogs-driver
[ -x "$DRV" ] || skip_all "tests/unit/nodelogs-driver is not built"
ROOT=$TEST_TMP/root
SYSLOG=$TEST_TMP/syslog
mkdir -p "$ROOT/run/log"

# Fixed instants (UTC); RFC 3164 lines carry local time, so run in UTC.
TZ=UTC
export TZ
T0=1795452600	# 2026-11-23T16:50:00Z
L=$ROOT/run/log
printf '%s app rotated 1\n%s app rotated 2\n' $((T0 + 1)) $((T0 + 3)) >"$L/vz.shop.app.log.1"
printf '%s app current\n' $((T0 + 7)) >"$L/vz.shop.app.log"
printf '%s db fallback\n' $((T0 + 5)) >"$L/vz.shop.db.log"
printf '%s other pod\n' $((T0 + 4)) >"$L/vz.shopx.app.log"
printf '%s supervisor\n' $((T0 + 4)) >"$L/vzexec.log"
cat >"$SYSLOG" <<'EOT'
Nov 23 16:50:02 node1 vz/shop/app[41]: syslog 3164
Nov 23 16:50:04 node1 daemon.info vz/shop/db: busybox db
Nov 23 16:50:04 node1 vz/shopx/app: not this pod
Nov 23 16:50:04 node1 vzexec: supervisor line
2026-11-23T16:50:06.500000+00:00 node1 vz/shop/app: rsyslog iso
<30>1 2026-11-23T17:50:08+01:00 node1 vz/shop/db - - - five424
this line is not syslog at all
EOT

logs() { "$DRV" logs --root "$ROOT" --syslog-file "$SYSLOG" "$@"; }

test_expect_success 'whole pod, oldest first, all sources merged' '
	logs shop >out &&
	cat >want <<-EOT &&
	2026-11-23T16:50:01Z app app rotated 1
	2026-11-23T16:50:02Z app syslog 3164
	2026-11-23T16:50:03Z app app rotated 2
	2026-11-23T16:50:04Z db busybox db
	2026-11-23T16:50:05Z db db fallback
	2026-11-23T16:50:06Z app rsyslog iso
	2026-11-23T16:50:07Z app app current
	2026-11-23T16:50:08Z db five424
	EOT
	diff -u want out
'

test_expect_success '-n keeps the last N' '
	logs -n 3 shop >out &&
	printf "%s\n" "2026-11-23T16:50:06Z app rsyslog iso" \
	    "2026-11-23T16:50:07Z app app current" \
	    "2026-11-23T16:50:08Z db five424" >want &&
	diff -u want out
'

test_expect_success '-n 0 prints nothing, -n all everything' '
	logs -n 0 shop >out && test ! -s out &&
	logs -n all shop >out && test $(wc -l <out) -eq 8
'

test_expect_success 'default is the last 100' '
	i=0; while [ $i -lt 150 ]; do echo "$((T0 + 100 + i)) many $i"; i=$((i + 1)); done \
	    >"$L/vz.bulk.app.log" &&
	"$DRV" logs --root "$ROOT" --syslog-file /dev/null bulk >out &&
	test $(wc -l <out) -eq 100 && head -n 1 out | grep -q " app many 50\$" &&
	tail -n 1 out | grep -q " app many 149\$"
'

test_expect_success '--since drops older lines, keeps the instant' '
	logs --since $((T0 + 5)) shop >out &&
	head -n 1 out | grep -q "^2026-11-23T16:50:05Z db db fallback\$" &&
	test $(wc -l <out) -eq 4
'

test_expect_success '--since and -n together' '
	logs --since $((T0 + 2)) -n 2 shop >out &&
	test $(wc -l <out) -eq 2 && tail -n 1 out | grep -q five424
'

test_expect_success 'POD/CONTAINER keeps one container' '
	logs shop/db >out &&
	printf "%s\n" "2026-11-23T16:50:04Z db busybox db" \
	    "2026-11-23T16:50:05Z db db fallback" \
	    "2026-11-23T16:50:08Z db five424" >want &&
	diff -u want out
'

test_expect_success 'a pod without lines prints nothing and succeeds' '
	logs nosuch >out && test ! -s out
'

for bad in ../x shop/../db Shop "shop/" "/db" "a/b/c" "-x" \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; do
	test_expect_failure_code 2 "refuses the name '$bad'" "
		logs -- '$bad' >out 2>err; st=\$?; test ! -s out &&
		grep -q 'not POD or POD/CONTAINER' err && exit \$st
	"
done

test_expect_failure_code 2 'bad -n is a usage error' 'logs -n x shop'
test_expect_failure_code 2 'bad --since is a usage error' 'logs --since 10m shop'
test_expect_failure_code 2 'no operand is a usage error' 'logs'
test_expect_failure_code 2 'two operands are a usage error' 'logs shop db'
test_expect_success '--help' '"$DRV" logs --help | grep -q "usage: vzexec logs"'

# -f: the last lines, then lines appended to the fallback file, across a
# vzlog-style rotation (rename to .1, new file), and to the syslog file.
wait_for() {	# PATTERN FILE: up to 20 s
	n=0
	while ! grep -q "$1" "$2"; do
		n=$((n + 1)); [ $n -lt 200 ] || return 1; sleep 0.1
	done
}
test_expect_success '-f follows appends, a rotation and the syslog file' '
	"$DRV" logs --root "$ROOT" --syslog-file "$SYSLOG" -f -n 1 shop \
	    >fout 2>ferr &
	pid=$!	# the driver itself, not a subshell: SIGTERM must end it
	if wait_for "five424" fout &&
	echo "$((T0 + 20)) appended" >>"$L/vz.shop.app.log" &&
	wait_for " app appended\$" fout &&
	echo "$((T0 + 21)) before rotation" >>"$L/vz.shop.app.log" &&
	mv "$L/vz.shop.app.log" "$L/vz.shop.app.log.1" &&
	echo "$((T0 + 22)) after rotation" >"$L/vz.shop.app.log" &&
	wait_for " app after rotation\$" fout &&
	echo "$((T0 + 23)) new container" >"$L/vz.shop.cache.log" &&
	wait_for " cache new container\$" fout &&
	echo "Nov 23 16:51:00 node1 vz/shop/db: followed syslog" >>"$SYSLOG" &&
	wait_for "16:51:00Z db followed syslog\$" fout
	then ok=0; else ok=1; fi
	kill $pid; st=0; wait $pid || st=$?
	cat fout
	test $ok -eq 0 && test $st -eq 0 &&
	test $(wc -l <fout) -eq 6 &&
	grep -q " app before rotation\$" fout &&
	test $(grep -c rotated fout) -eq 0 &&
	test ! -s ferr
'

# --stop-on-eof: vzmaster keeps the follower's stdin open and closes its
# channel to stop it; the follower must end then even with nothing to
# print (a write to the closed stdout would end it only at the next line).
# Without the option, the end of stdin changes nothing (ssh -n, cron).
test_expect_success '-f --stop-on-eof ends when stdin ends, not before' '
	mkfifo in
	timeout 20 "$DRV" logs --root "$ROOT" --syslog-file "$SYSLOG" -f \
	    --stop-on-eof -n 1 shop <in >sout 2>serr &
	pid=$!
	exec 9>in &&
	echo "$((T0 + 100)) while open" >>"$L/vz.shop.app.log" &&
	wait_for " app while open\$" sout &&
	exec 9>&- &&
	st=0 && { wait $pid || st=$?; } &&
	cat sout serr && test $st -eq 0 && test ! -s serr
'
test_expect_success '-f without --stop-on-eof keeps following after stdin ends' '
	st=0; timeout 2 "$DRV" logs --root "$ROOT" --syslog-file "$SYSLOG" \
	    -f -n 1 shop </dev/null >nout 2>&1 || st=$?
	test $st -eq 124 && grep -q " app while open\$" nout
'

test_done

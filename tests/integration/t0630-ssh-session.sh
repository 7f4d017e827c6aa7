#!/bin/sh
# t0630: the session channel (vz_ssh_opts.service, VZ_SSH_SERVICE) against
# a real, throwaway sshd on 127.0.0.1 and the real vzexec: a run's verbs go
# as requests on one `vzexec session` (one exec at sshd, not one per
# verb), with their stdin, stdout, stderr, exit status and signal; other
# commands still get a channel each; a holder keeps the session for later
# runs (the same process answers), a session that died is replaced, a
# node without the verb falls back to a channel per command and is asked
# once, a session that answers garbage fails that command, and the
# command timeout holds.
. "$top_srcdir/tests/lib.sh"
need_root
. "$top_srcdir/tests/integration/sshd-lib.sh"
[ -x "$VZEXEC" ] || skip_all "vzexec not built"
command -v pgrep >/dev/null || skip_all "no pgrep"
unset VZMASTER_PERSIST
export VZEXEC_SYSLOG=$TEST_TMP/no-syslog.sock
kill_holders() {
	[ -f "$TEST_TMP/holders" ] || return 0
	for p in $(sort -u "$TEST_TMP/holders"); do kill -9 "$p" 2>/dev/null; done
}
sshd_up "$D/host_ed25519" VERBOSE
KH="$D/kh"
CM="$TEST_TMP/state/cm"
mkdir -p "$TEST_TMP/state"
R=$TEST_TMP/root		# no supervisor: spec-put says so, exit 1
RW=$TEST_TMP/rootw	# a supervisor runs: `wait` waits
mkdir -p "$R/pods" "$R/run" "$RW/pods" "$RW/run"
"$VZEXEC" supervise --root "$RW" >"$TEST_TMP/supervise.out" 2>&1 &
SUP_PID=$!
test_at_exit "kill $SUP_PID 2>/dev/null; kill_holders; stop_sshd"
V=$VZEXEC
FAKE=$top_srcdir/tests/integration/fake-vzexec
# direct connections, and ones through a holder
T() { "$TOOL" -K "$KH" -p $PORT --report "$@"; }
TH() { "$TOOL" -K "$KH" -p $PORT --persist-dir "$CM" --report "$@"; }
# sshd's own count of channels that ran a command
sessions() { grep -c "Starting session: command" "$D/log"; }
# the pids of `vzexec session` processes
spids() { pgrep -f -x "$V session" | sort | tr '\n' ' '; }
ver=$("$V" version)
mkspec() {	# mkspec POD: a pod spec on stdout
	printf "{\"vzspec\":1,\"name\":\"%s\",\"hash\":\"h1\",\"restartPolicy\":\"Always\",\"containers\":[{\"name\":\"c\",\"image\":\"%s\",\"command\":[\"/bin/true\"]}]}" "$1" "$(printf "%064d" 0 | tr 0 a)"
}

test_expect_success 'verbs run as requests on one session: one command at sshd' '
	before=$(sessions) &&
	T -vv --service "$V" --repeat 3 exec 127.0.0.1 "$V" version >o 2>e &&
	test "$(sort -u o)" = "$ver" && test $(wc -l <o) -eq 3 &&
	test $(grep -c "vzexec session started" e) -eq 1 &&
	test $(grep -c "session request: version" e) -eq 3 &&
	test $(grep -c ": exec " e) -eq 1 &&
	test "$(sessions)" -eq $((before + 1))
'

test_expect_success 'other commands still get a channel each' '
	before=$(sessions) &&
	T -vv --service "$V" --repeat 2 exec 127.0.0.1 echo hi >o 2>e &&
	test "$(sort -u o)" = hi && ! grep -q "session" e &&
	test "$(sessions)" -eq $((before + 2))
'

test_expect_success 'stdin, stdout, stderr and exit status through the session' '
	mkspec web >spec &&
	st=0; T -vv --service "$V" --stdin-file spec exec 127.0.0.1 "$V" spec-put --root "$R" web >o 2>e || st=$?
	test $st -eq 1 && grep -q "session request: spec-put" e &&
	cmp spec "$R/pods/web.json" && grep -q "no supervisor runs" e &&
	st=0; T --service "$V" exec 127.0.0.1 "$V" no-such-verb >o 2>e || st=$?
	test $st -eq 2 && grep -q "unknown verb .no-such-verb." e && test ! -s o
'

# kill_sessions: no `vzexec session` left from earlier steps (a verb that
# outlived its connection keeps its session until it ends)
kill_sessions() {
	pkill -9 -f -x "$V session"
	i=0; while [ $i -lt 50 ] && pgrep -f -x "$V session" >/dev/null; do
		sleep 0.1; i=$((i + 1)); done
	! pgrep -f -x "$V session" >/dev/null
}

test_expect_success 'a verb killed by a signal is reported as such' '
	test -f "$RW/run/supervise.pid" &&
	{ T --service "$V" exec 127.0.0.1 "$V" wait --root "$RW" --timeout 60 nosuchpod h1 >o 2>e & } &&
	i=0; while [ $i -lt 100 ] && ! p=$(pgrep -f -x "$V wait --root $RW --timeout 60 nosuchpod h1"); do
		sleep 0.1; i=$((i + 1)); done
	kill -9 $p && st=0; wait $! || st=$?
	test $st -eq 99 && grep -q "signal KILL" e
'

test_expect_failure_code 104 'the command timeout holds on the session (DEAD)' '
	st=0; T --timeout 1 --service "$V" exec 127.0.0.1 "$V" wait --root "$RW" --timeout 30 nosuchpod h1 2>e || st=$?
	grep -q "did not finish within 1.0 s" e && exit $st
'

test_expect_success 'no session verb on the node: a channel per command, asked once' '
	before=$(sessions) &&
	T -v --service "$FAKE" --repeat 3 exec 127.0.0.1 "$FAKE" version >o 2>e &&
	test "$(sort -u o)" = "vzexec 0.0.0-fake (test stand-in)" &&
	test $(grep -c "no vzexec session on the node (fake vzexec: .session. is not implemented)" e) -eq 1 &&
	test "$(sessions)" -eq $((before + 4))
'

test_expect_failure_code 105 'a session that answers garbage fails the command (FAILED)' '
	cat >bad <<-\EOF &&
	#!/bin/sh
	printf "VZSESSION 1\n"
	head -c 5 >/dev/null
	printf "Q\000\000\000\001x"
	cat >/dev/null
	EOF
	chmod 755 bad &&
	st=0; T --service "$PWD/bad" exec 127.0.0.1 "$PWD/bad" version 2>e || st=$?
	grep -q "malformed answer" e && exit $st
'

test_expect_success 'a holder keeps the session: later runs use the same one' '
	kill_sessions &&
	TH --service "$V" --persist 30 exec 127.0.0.1 "$V" version >o 2>e &&
	grep -q direct e && grep -q "persisted 1" e &&
	s=$(ls "$CM"/*.sock) && p=$(ss -xlpn | awk -v p="$s" "\$5 == p" | sed -n "s/.*pid=\([0-9]*\).*/\1/p" | head -1) &&
	echo $p >>"$TEST_TMP/holders" &&
	first=$(spids) && test $(echo $first | wc -w) -eq 1 &&
	before=$(sessions) &&
	TH --service "$V" --repeat 3 exec 127.0.0.1 "$V" version >o 2>e &&
	grep -q held e && test "$(sort -u o)" = "$ver" &&
	mkspec web2 >spec2 &&
	st=0; TH --service "$V" --stdin-file spec2 exec 127.0.0.1 "$V" spec-put --root "$R" web2 2>e || st=$?
	test $st -eq 1 && grep -q "no supervisor" e && cmp spec2 "$R/pods/web2.json" &&
	test "$(spids)" = "$first" && test "$(sessions)" -eq "$before"
'

test_expect_success 'a started request runs before its stdin comes, through the holder' '
	mkspec web3 >spec3 &&
	{ TH --service "$V" --start-early 3000 --stdin-file spec3 exec 127.0.0.1 "$V" spec-put --root "$R" web3 >o 2>e & } &&
	i=0; while [ $i -lt 30 ] && ! pgrep -f -x "$V spec-put --root $R web3" >/dev/null; do
		sleep 0.1; i=$((i + 1)); done
	pgrep -f -x "$V spec-put --root $R web3" >/dev/null && test ! -e "$R/pods/web3.json" &&
	st=0; wait $! || st=$?
	test $st -eq 1 && cmp spec3 "$R/pods/web3.json"
'

test_expect_success 'a session that died is replaced by the next request' '
	first=$(spids) && kill -9 $first && sleep 0.3 &&
	TH -v --service "$V" exec 127.0.0.1 "$V" version >o 2>e &&
	test "$(cat o)" = "$ver" && grep -q held e &&
	now=$(spids) && test -n "$now" && test "$now" != "$first"
'

test_done

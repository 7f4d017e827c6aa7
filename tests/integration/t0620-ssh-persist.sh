#!/bin/sh
# t0620: connection reuse (ControlPersist style) against a real, throwaway
# sshd on 127.0.0.1: a run hands its session to a holder, the next run
# reuses it without a new SSH login (counted in sshd's own log), idle
# expiry, a killed holder (stale socket), a killed sshd connection, folder
# and socket permissions, another uid, stdin progress, timeouts, uploads.
. "$top_srcdir/tests/lib.sh"
need_root
. "$top_srcdir/tests/integration/sshd-lib.sh"
unset VZMASTER_PERSIST
kill_holders() {
	[ -f "$TEST_TMP/holders" ] || return 0
	for p in $(sort -u "$TEST_TMP/holders"); do kill -9 "$p" 2>/dev/null; done
}
test_at_exit 'kill_holders; stop_sshd'
sshd_up "$D/host_ed25519" INFO	# INFO: logins() counts its log lines
KH="$D/kh"
CM="$TEST_TMP/state/cm"
mkdir -p "$TEST_TMP/state"
T() { "$TOOL" -K "$KH" -p $PORT --persist-dir "$CM" --report "$@"; }
logins() { grep -c "Accepted publickey" "$D/log"; }
# the pid of the process listening on socket $1 (a holder)
sock_pid() {
	ss -xlpn 2>/dev/null | awk -v p="$1" '$5 == p' |
		sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1 | grep .
}
# gone: no such process, or a zombie nobody reaps in this container
gone() { st=$(ps -o stat= -p "$1" 2>/dev/null); case "$st" in ""|Z*) return 0;; esac; return 1; }
remember_holder() { p=$(sock_pid "$1") && echo "$p" >>"$TEST_TMP/holders"; echo "$p"; }

test_expect_success 'first run connects directly and hands over its session' '
	T --persist 30 exec 127.0.0.1 echo one >o 2>e &&
	grep -q "test-ssh-tool: direct" e && grep -q "persisted 1" e &&
	test "$(cat o)" = one &&
	test "$(stat -c %a "$CM")" = 700 &&
	s=$(ls "$CM"/*.sock) && test -S "$s" &&
	test "$(stat -c %a "$s")" = 600 &&
	case "$s" in *root@127.0.0.1:$PORT-*.sock) ;; *) exit 1;; esac &&
	remember_holder "$s" >/dev/null
'

test_expect_success 'the holder is detached: own session, stdio on /dev/null' '
	s=$(ls "$CM"/*.sock) && p=$(sock_pid "$s") &&
	test "$(ps -o sid= -p $p | tr -d " ")" != "$(ps -o sid= -p $$ | tr -d " ")" &&
	test "$(ps -o ppid= -p $p | tr -d " ")" != "$$" &&
	test "$(readlink /proc/$p/fd/0)" = /dev/null &&
	test "$(readlink /proc/$p/fd/2)" = /dev/null &&
	test "$(readlink /proc/$p/cwd)" = /
'

test_expect_success 'later runs reuse it: no new SSH login at sshd' '
	before=$(logins) &&
	T --persist 30 exec 127.0.0.1 echo two >o 2>e &&
	st=0; T exec 127.0.0.1 sh -c "echo out; echo err >&2; exit 7" >o2 2>e2 || st=$?
	test $st -eq 7 &&
	grep -q "test-ssh-tool: held" e && grep -q "persisted 0" e &&
	test "$(cat o)" = two && test "$(cat o2)" = out && grep -q "^err$" e2 &&
	test "$(logins)" -eq "$before" &&
	test $(ls "$CM"/*.sock | wc -l) -eq 1
'

test_expect_success 'argv, stdin and big output through the holder' '
	before=$(logins) &&
	T exec 127.0.0.1 printf "%s|" "a b" "\$HOME" "it'\''s" "*" "" >o &&
	test "$(cat o)" = "a b|\$HOME|it'\''s|*||" &&
	seq 1 20000 >in &&
	T --stdin-file in exec 127.0.0.1 sha256sum >o &&
	test "$(cut -d" " -f1 o)" = "$(sha256sum <in | cut -d" " -f1)" &&
	T exec 127.0.0.1 sh -c "head -c 10485760 /dev/zero | tr \"\\\\0\" x" >o &&
	test $(wc -c <o) -eq 10485760 &&
	test "$(logins)" -eq "$before"
'

test_expect_success 'a command that does not read its stdin, then the next one' '
	head -c 3000000 /dev/urandom >big &&
	T --stdin-file big exec 127.0.0.1 true &&
	T exec 127.0.0.1 echo after >o && test "$(cat o)" = after
'

test_expect_success 'stdin progress: increasing, ending at the total (held and direct)' '
	head -c 1000000 /dev/urandom >mb &&
	T --progress --stdin-file mb exec 127.0.0.1 sha256sum >o 2>e &&
	grep -q held e && test "$(cut -d" " -f1 o)" = "$(sha256sum <mb | cut -d" " -f1)" &&
	grep "^progress " e | awk "BEGIN{l=0} {if (\$2 <= l || \$3 != 1000000) exit 1; l=\$2} END{if (l != 1000000 || NR < 5) exit 1}" &&
	"$TOOL" -K "$KH" -p $PORT --progress --stdin-file mb exec 127.0.0.1 sha256sum >o 2>e &&
	grep "^progress " e | awk "BEGIN{l=0} {if (\$2 <= l || \$3 != 1000000) exit 1; l=\$2} END{if (l != 1000000 || NR < 5) exit 1}"
'

# vz_ssh_exec_start / _finish: through a holder the command runs as soon
# as it is started (it leaves a mark) and gets its stdin at finish, 4 s
# later; directly, start does nothing and finish runs it whole.  (The
# mark, not a clock: root's shell may take a while to start here.)
early() {	# HELD(1|0) TOOL ARGS...: the mark while the tool sleeps?
	held=$1; shift
	rm -f mark got && echo the-spec >spec &&
	{ "$@" --start-early 4000 --stdin-file spec exec 127.0.0.1 sh -c \
		"touch $PWD/mark; cat >$PWD/got" >o 2>e & } &&
	i=0; while [ $i -lt 30 ] && [ ! -e mark ]; do sleep 0.1; i=$((i + 1)); done
	if [ -e mark ]; then seen=1; test ! -s got || seen=late; else seen=0; fi
	wait $! && cat e && test "$(cat got)" = the-spec && test -e mark &&
	echo "mark during the sleep: $seen" && test "$seen" = "$held"
}
test_expect_success 'a started command runs before its stdin comes (held), at finish (direct)' '
	early 1 T && grep -q held e &&
	early 0 "$TOOL" -K "$KH" -p $PORT && ! grep -q held e
'

test_expect_failure_code 105 'output beyond the cap is FAILED through the holder too' '
	st=0; T exec 127.0.0.1 sh -c "head -c 17000000 /dev/zero" >o 2>e || st=$?
	grep -q exceeds e && grep -q held e && exit $st
'

test_expect_success 'an upload on a held handle connects directly' '
	mkdir -p "$TEST_TMP/remote" && before=$(logins) &&
	T upload 127.0.0.1 mb "$TEST_TMP/remote/mb" >o 2>e &&
	cmp mb "$TEST_TMP/remote/mb" &&
	grep -q "test-ssh-tool: held" e && grep -q "test-ssh-tool: direct" e &&
	test "$(logins)" -eq $((before + 1))
'

test_expect_failure_code 104 'the command timeout holds through the holder (DEAD)' '
	st=0; T --timeout 1 exec 127.0.0.1 sleep 30 2>e || st=$?
	grep -q held e && grep -q "did not finish within 1.0 s" e && exit $st
'

test_expect_success 'a holder whose session timed out is gone: next run is direct' '
	T --persist 30 exec 127.0.0.1 echo back >o 2>e &&
	grep -q "test-ssh-tool: direct" e && grep -q "persisted 1" e &&
	s=$(ls "$CM"/*.sock) && remember_holder "$s" >/dev/null &&
	T exec 127.0.0.1 true 2>e && grep -q held e
'

test_expect_success 'a killed holder leaves a stale socket: removed, direct, no error' '
	s=$(ls "$CM"/*.sock) && p=$(sock_pid "$s") && kill -9 $p &&
	while ! gone $p; do sleep 0.05; done
	test -S "$s" &&
	T exec 127.0.0.1 echo ok >o 2>e &&
	cat e && test "$(cat o)" = ok && grep -q direct e && ! grep -v "test-ssh-tool: direct" e &&
	test ! -e "$s"
'

test_expect_success 'a killed sshd connection: the holder drops it, the next run falls back' '
	T --persist 30 exec 127.0.0.1 true 2>e && grep -q "persisted 1" e &&
	s=$(ls "$CM"/*.sock) && p=$(remember_holder "$s") &&
	T exec 127.0.0.1 true 2>e && grep -q held e &&
	for c in $(pgrep -P $SSHD_PID); do kill -9 $c; done
	T exec 127.0.0.1 echo fine >o 2>e &&
	test "$(cat o)" = fine && grep -q direct e &&
	i=0; while ! gone $p && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
	gone $p && test ! -e "$s"
'

test_expect_success 'idle expiry removes the socket and the holder exits' '
	T --persist 2 exec 127.0.0.1 true 2>e && grep -q "persisted 1" e &&
	s=$(ls "$CM"/*.sock) && p=$(remember_holder "$s") &&
	sleep 1 && T exec 127.0.0.1 true 2>e && grep -q held e &&
	sleep 1.2 && ! gone $p && test -S "$s" &&
	i=0; while ! gone $p && [ $i -lt 40 ]; do sleep 0.1; i=$((i+1)); done
	gone $p && test ! -e "$s" &&
	test "$(ls "$CM")" = ""
'

test_expect_success 'a folder others can enter is not used (and not trusted)' '
	T --persist 30 exec 127.0.0.1 true 2>e && grep -q "persisted 1" e &&
	s=$(ls "$CM"/*.sock) && remember_holder "$s" >/dev/null &&
	chmod 755 "$CM" && st=0 &&
	T --persist 30 exec 127.0.0.1 true 2>e || st=$?
	chmod 700 "$CM"
	test $st -eq 1 && grep -q direct e && grep -q "persist: .*mode 755" e
'

test_expect_success 'another uid cannot use a holder, even with the folder open' '
	chmod 711 "$TEST_TMP" "$TEST_TMP/state" "$CM" &&
	s=$(ls "$CM"/*.sock) && chmod 666 "$s" &&
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c "
import socket, struct, sys
c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[1])
try:
    c.sendall(struct.pack(\"=IcI\", 5, b\"H\", 1))
    r = c.recv(100)
except (BrokenPipeError, ConnectionResetError):
    r = b\"\"
print(\"closed\" if r == b\"\" else repr(r))" "$s" 2>&1); st=$?
	chmod 700 "$TEST_TMP" "$TEST_TMP/state" "$CM"; chmod 600 "$s"
	echo "$out" && test $st -eq 0 && test "$out" = closed &&
	T exec 127.0.0.1 true 2>e && grep -q held e
'

test_expect_success 'a host key no longer in known_hosts is not trusted via the holder' '
	cp "$KH" kh.save && : >"$KH" && st=0 &&
	T exec 127.0.0.1 true 2>e || st=$?
	cp kh.save "$KH"
	test $st -eq 103 && grep -q "unknown host key" e
'

test_expect_success 'TOFU connections are never handed over' '
	T --tofu --persist 30 -K kh2 exec 127.0.0.1 true 2>e &&
	grep -q "persisted 0" e
'

test_done

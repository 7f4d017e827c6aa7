#!/bin/sh
# t0610: `vzmaster newnode` on three fake VPSes (tests/fakevps): adoption by
# root password, key-only login as the new user with sudo, vzexec started
# and kept alive by the node's init across a kill and a reboot, inventory
# entries with vendor, a second run that changes nothing, a run without
# --vendor that keeps the host's vars, --harden, and the failures the
# issue names: wrong password, unreachable node, changed host key.  A
# fan-out over all nodes shows overlapping SSH connections.
. "$top_srcdir/tests/lib.sh"
need_root
FAKEVPS=${FAKEVPS:-$top_srcdir/tests/fakevps/fakevps}
[ -f "$FAKEVPS" ] || skip_all "tests/fakevps/fakevps not in this tree yet"
for t in ip nsenter unshare nft ssh-keygen; do
	command -v $t >/dev/null 2>&1 || skip_all "needs $t"
done
TOOL="$top_builddir/tests/helpers/test-ssh-tool"
: "${FAKEINIT:=$top_builddir/tests/fakevps/fakeinit}"
export FAKEINIT
FAKEVPS_DIR=$TEST_TMP/fv
export FAKEVPS_DIR
fv() { bash "$FAKEVPS" "$@"; }
test_at_exit 'FAKEVPS_DIR=$TEST_TMP/fv bash "$FAKEVPS" down >/dev/null 2>&1'

# The real vzexec when it is built here, else the labelled stand-in.
if [ -x "$VZEXEC" ] && "$VZEXEC" version >/dev/null 2>&1; then
	echo "# using the real vzexec: $VZEXEC"
else
	VZEXEC="$top_srcdir/tests/integration/fake-vzexec"
	echo "# using the FAKE vzexec stand-in: $VZEXEC"
fi
export VZEXEC

export HOME="$TEST_TMP/home"
mkdir -p "$HOME/.ssh"
unset SSH_AUTH_SOCK VZMASTER_PASSWORD
ssh-keygen -q -t ed25519 -N '' -C vzmaster-test -f "$HOME/.ssh/id_ed25519"
CLOUD="$TEST_TMP/cloud"
mkdir -p "$CLOUD"
KH="$CLOUD/.vzmaster/known_hosts"
U=vzadmin

fv up n1 n2 n3 >"$TEST_TMP/up.log" 2>&1 ||
	skip_all "fake VPSes do not start here: $(tail -n 3 "$TEST_TMP/up.log")"
IP1=$(fv ip n1) IP2=$(fv ip n2) IP3=$(fv ip n3)
for n in n1 n2 n3; do fv password $n >"$TEST_TMP/pw-$n"; done
echo wrong-password >"$TEST_TMP/pw-wrong"

nn() { "$VZMASTER" -C "$CLOUD" newnode --user $U "$@"; }
until_true() {
	n=$(($1 * 5)); shift
	while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
	return 1
}
supervise_pid() {
	fv exec $1 sh -c 'for p in /proc/[0-9]*; do
		case "$(tr "\000" " " <$p/cmdline 2>/dev/null)" in
		*vzexec\ supervise*) echo ${p#/proc/}; exit 0;; esac; done; exit 1'
}

# pid_changed NODE OLDPID: a supervise runs again, under another pid
pid_changed() { p2=$(supervise_pid $1) && [ -n "$p2" ] && [ "$p2" != "$2" ]; }

test_expect_failure_code 1 'wrong password: exit 1, nothing changed on the node' '
	nn --password-file "$TEST_TMP/pw-wrong" --vendor acme $IP1 2>err; st=$?
	cat err; grep -q "authentication failed for root@$IP1" err || exit 9
	! fv exec n1 id $U >/dev/null 2>&1 || exit 9
	! fv exec n1 test -e /usr/local/sbin/vzexec || exit 9
	test ! -e "$CLOUD/hosts.ini" || exit 9
	exit $st
'

test_expect_success 'newnode by password on n1 (file), n2 (env), n3' '
	nn --password-file "$TEST_TMP/pw-n1" --vendor acme $IP1 2>o1 &&
	( VZMASTER_PASSWORD=$(cat "$TEST_TMP/pw-n2"); export VZMASTER_PASSWORD
	  nn --vendor acme --name web2 $IP2 ) 2>o2 &&
	grep -q "^$IP2: new host key SHA256:[A-Za-z0-9+/]* (ED25519)\$" o2 &&
	nn --password-file "$TEST_TMP/pw-n3" --vendor zeta --json $IP3 >j3 2>o3 &&
	grep -q "\"ok\": true" j3 && grep -q "\"init\": \"sysv\"" j3
'
cat "$TEST_TMP/o1" | sed 's/^/# /'

test_expect_success 'the host key is in known_hosts, as ssh-keygen -F sees it' '
	for ip in $IP1 $IP2 $IP3; do
		ssh-keygen -F $ip -f "$KH" | grep -q ssh-ed25519 || exit 1
	done
	fp=$(fv exec n2 ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | cut -d" " -f2) &&
	grep -q "$fp" o2
'

test_expect_success 'key-only login as the new user, and sudo -n true' '
	for ip in $IP1 $IP2 $IP3; do
		"$TOOL" -K "$KH" -l $U --nosudo exec $ip id -un >o && test "$(cat o)" = $U || exit 1
		# the tool wraps in sudo -n for a non-root user
		"$TOOL" -K "$KH" -l $U exec $ip id -u >o && test "$(cat o)" = 0 || exit 1
		"$TOOL" -K "$KH" -l $U --nosudo exec $ip sudo -n true || exit 1
	done
'

test_expect_success 'sudoers file is 0440 and passes visudo -c' '
	fv exec n1 stat -c %a /etc/sudoers.d/vzmaster-$U >m && test "$(cat m)" = 440 &&
	fv exec n1 visudo -cf /etc/sudoers.d/vzmaster-$U &&
	fv exec n1 grep -qx "Defaults!/usr/local/sbin/vzexec !use_pty, !pam_session, !pam_setcred" /etc/sudoers.d/vzmaster-$U
'

test_expect_success 'vzexec is installed and started by the node'"'"'s init' '
	fv exec n1 cmp /usr/local/sbin/vzexec /dev/stdin <"$VZEXEC" &&
	fv exec n1 grep -qx "vz:2345:respawn:/usr/local/sbin/vzexec supervise" /etc/inittab &&
	fv exec n1 grep -qx "vzck::bootwait:/usr/local/sbin/vzexec image-check" /etc/inittab &&
	for n in n1 n2 n3; do supervise_pid $n >/dev/null || exit 1; done &&
	fv exec n1 test -d /var/lib/vz
'

test_expect_success 'killed, vzexec supervise is started again by init' '
	p=$(supervise_pid n2) && fv exec n2 kill -9 $p &&
	until_true 10 pid_changed n2 $p
'

test_expect_success 'after a reboot of the node vzexec supervise is back' '
	fv reboot n3 >/dev/null 2>&1 &&
	until_true 30 supervise_pid n3 &&
	"$TOOL" -K "$KH" -l $U exec $IP3 /usr/local/sbin/vzexec version
'

test_expect_success 'the inventory lists the nodes with vendor' '
	cat "$CLOUD/hosts.ini" &&
	grep -q "^\[vz\]" "$CLOUD/hosts.ini" &&
	grep -q "^node-$(echo $IP1 | tr . -) .*ansible_host=$IP1" "$CLOUD/hosts.ini" &&
	grep -q "^web2 .*vendor=acme" "$CLOUD/hosts.ini" &&
	grep -q "ansible_user=$U" "$CLOUD/hosts.ini" &&
	grep -q "vendor=zeta" "$CLOUD/hosts.ini" &&
	if [ -n "$ANSIBLE_INVENTORY" ]; then
		"$ANSIBLE_INVENTORY" -i "$CLOUD/hosts.ini" --list >inv.json &&
		grep -q "\"vendor\": \"zeta\"" inv.json
	fi
'

test_expect_success 'a second newnode run is a no-op and says so' '
	cp "$CLOUD/hosts.ini" before.ini && cp "$KH" before.kh &&
	nn --password-file "$TEST_TMP/pw-wrong" --vendor acme $IP1 2>o &&
	grep -q "already adopted, nothing changed" o &&
	! grep -E "(created|updated|started|restarted)$" o | grep -v "^#" | grep -q . &&
	cmp before.ini "$CLOUD/hosts.ini" && cmp before.kh "$KH" &&
	nn --vendor acme --name web2 --json $IP2 >j &&
	grep -q "\"changed\": 0" j
'

# newnode again is how a node gets a new vzexec: without --vendor it must
# not take vendor= off the line, nor the vars the user added there
test_expect_success 'newnode again without --vendor keeps vendor and the user'"'"'s vars' '
	sed -i "s/^web2 .*/& role=db/" "$CLOUD/hosts.ini" &&
	grep "^web2 " "$CLOUD/hosts.ini" >line.before && cat line.before &&
	grep -q " vendor=acme role=db\$" line.before &&
	cp "$CLOUD/hosts.ini" before.ini &&
	nn --name web2 $IP2 2>o && cat o &&
	grep -q "^web2: inventory  *unchanged" o &&
	grep "^web2 " "$CLOUD/hosts.ini" >line && cat line &&
	grep -q " vendor=acme" line && grep -q " role=db" line &&
	cmp before.ini "$CLOUD/hosts.ini" &&
	if [ -n "$ANSIBLE_INVENTORY" ]; then
		"$ANSIBLE_INVENTORY" -i "$CLOUD/hosts.ini" --host web2 >h.json &&
		grep -q "\"role\": \"db\"" h.json &&
		grep -q "\"vendor\": \"acme\"" h.json
	fi
'

test_expect_success '--harden turns off password login, key login still works' '
	nn --vendor acme --harden $IP1 2>o && grep -q "harden.*updated" o &&
	fv exec n1 sshd -T | grep -qx "passwordauthentication no" &&
	st=0; ( VZMASTER_PASSWORD=$(cat "$TEST_TMP/pw-n1"); export VZMASTER_PASSWORD
	  exec "$TOOL" -K "$KH" -l root --no-pubkey --password-env exec $IP1 true ) 2>e || st=$?
	grep -q "authentication failed for root@$IP1" e &&
	test $st -eq 102 &&
	"$TOOL" -K "$KH" -l $U exec $IP1 true &&
	nn --vendor acme --harden $IP1 2>o && grep -q "nothing changed" o
'

test_expect_success 'fan-out to all nodes: the SSH connections overlap in time' '
	"$TOOL" -K "$KH" -l $U -j 3 fanout $IP1 $IP2 $IP3 -- sleep 1 >f.json &&
	cat f.json &&
	tr "{" "\n" <f.json | sed -n "s/.*\"connectStart\":\([0-9.e+]*\),\"connectEnd\":\([0-9.e+]*\).*/\1 \2/p" >iv &&
	test $(wc -l <iv) -eq 3 &&
	awk "{ if (NR == 1 || \$1 > ms) ms = \$1; if (NR == 1 || \$2 < me) me = \$2 }
	     END { exit !(ms < me) }" iv
'

# keepalives + TCP_USER_TIMEOUT: an open session to a node that vanished
# fails as DEAD instead of hanging (timeout(1) is only a safety net)
test_expect_success 'an open session notices a vanished node' '
	timeout 100 "$TOOL" -K "$KH" -l $U exec $IP2 sleep 600 >/dev/null 2>e &
	tp=$!
	until_true 20 supervise_pid n2 >/dev/null; sleep 2
	fv vanish n2 >/dev/null 2>&1 || echo "vanish failed"
	st=0; wait $tp || st=$?
	fv boot n2 >/dev/null 2>&1 || echo "boot failed"
	cat e; echo "exit $st"
	test $st -eq 104 && grep -q "connection lost" e
'

test_expect_failure_code 1 'unreachable (cut) node fails within the connect timeout' '
	fv cut n2 >/dev/null &&
	st=0; nn --connect-timeout 2 --vendor acme $IP2 2>e || st=$?
	fv heal n2 >/dev/null
	cat e; grep -q "timed out after 2.0 s" e && exit $st
'

test_expect_failure_code 1 'changed host key: refused with both fingerprints and the line' '
	old=$(fv exec n3 ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | cut -d" " -f2) &&
	fv exec n3 sh -c "rm -f /etc/ssh/ssh_host_*; ssh-keygen -A" >/dev/null &&
	fv reboot n3 >/dev/null 2>&1 &&
	new=$(fv exec n3 ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | cut -d" " -f2) &&
	cp "$KH" kh.before &&
	st=0; nn --vendor zeta $IP3 2>e || st=$?
	cat e
	grep -q "host key changed" e && grep -q "$old" e && grep -q "$new" e &&
	grep -q "known_hosts:3" e && cmp kh.before "$KH" || exit 9
	st2=0; "$TOOL" -K "$KH" -l $U exec $IP3 true 2>e2 || st2=$?
	test $st2 -eq 103 || exit 9
	exit $st
'

test_expect_success '--replace-host-key accepts the new key, then all is well' '
	nn --vendor zeta --replace-host-key $IP3 2>e && grep -q "host key replaced" e &&
	"$TOOL" -K "$KH" -l $U exec $IP3 true
'

# newnode is how a node gets a new vzexec: the supervisor runs it in its own
# process (SIGUSR2), so inittab's respawn never sees it go
test_expect_success 'a new vzexec: run in place by the same supervisor process' '
	{ cat "$VZEXEC"; echo "# t0610 upgrade"; } >vzexec.new && chmod 755 vzexec.new &&
	p=$(supervise_pid n1) &&
	VZEXEC=$PWD/vzexec.new nn --vendor acme $IP1 2>o && cat o &&
	grep -q "^node-[0-9-]*: vzexec  *created" o &&
	grep -q "init  *restarted: sysv: .*, supervise pid $p re-executed in place" o &&
	test "$(supervise_pid n1)" = "$p" &&
	fv exec n1 test /proc/$p/exe -ef /usr/local/sbin/vzexec &&
	fv exec n1 cmp /usr/local/sbin/vzexec /dev/stdin <vzexec.new
'

test_done

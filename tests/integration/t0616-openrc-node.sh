#!/bin/bash
# t0616: nodes whose PID 1 is sysvinit running OpenRC (fakevps up --init
# openrc: Debian's sysvinit-core and openrc booted by systemd-nspawn).
# newnode registers /etc/init.d/vzexec in the default runlevel under
# supervise-daemon, which restarts it after a kill; it starts again at
# boot; deploy runs pods under their memory limit; logs find their lines;
# an upgrade runs the new vzexec in place; --harden reloads sshd through
# rc-service, and when that fails puts sshd_config back as it was.
. "$top_srcdir/tests/lib.sh"
need_root
INIT=openrc PORT=8092 MEM=40
. "$top_srcdir/tests/integration/initnode-lib.sh"
TOOL="$top_builddir/tests/helpers/test-ssh-tool"
# the supervisor's parent is OpenRC's supervise-daemon for vzexec
under_supervise_daemon() {
	local p pp
	p=$(supervise_pid "$1") && pp=$(on "$1" ps -o ppid= -p "$p" | tr -d " ") &&
	on "$1" ps -o args= -p "$pp" | grep -q "^supervise-daemon vzexec "
}
nn() {	# nn NODE [ARGS]: newnode by root password
	local node=$1; shift
	VZMASTER_PASSWORD=$("$FAKEVPS" password "$node") VZEXEC="${NEW_VZEXEC:-$VZEXEC}" \
	    vz newnode --name "$node" --user vz "$@" "$(ip_of "$node")"
}
initnode_setup o1 o2

test_expect_success 'the nodes boot sysvinit running OpenRC, ssh started by it' '
	for n in o1 o2; do
		test "$(on $n cat /proc/1/comm)" = init &&
		on $n test -e /run/openrc/softlevel &&
		on $n rc-service ssh status >/dev/null || exit 1
	done
'

test_expect_success 'newnode registers vzexec in the default runlevel, under supervise-daemon' '
	for n in o1 o2; do
		nn $n --vendor v$n --json >nn-$n.json 2>nn-$n.err || { cat nn-$n.err; exit 1; }
		grep -q "\"init\": \"openrc\"" nn-$n.json || exit 1
		on $n rc-update show default | grep -q "^ *vzexec |" &&
		on $n rc-service vzexec status >/dev/null &&
		under_supervise_daemon $n || exit 1
	done &&
	on o1 head -n 1 /etc/init.d/vzexec | grep -qx "#!/sbin/openrc-run"
'

test_expect_success 'killed, the supervisor is started again by supervise-daemon' '
	p=$(supervise_pid o2) && on o2 kill -9 $p &&
	until_true 15 pid_changed o2 $p &&
	under_supervise_daemon o2
'

test_expect_success 'deploy: one replica per node, served, under its memory limit' '
	vz deploy --timeout 60 &&
	for n in o1 o2; do
		pods_on $n >$n.pods && grep -qx "web:running" $n.pods || { cat $n.pods; exit 1; }
		until_true 10 serves $n || exit 1
		p=$(httpd_pid $n) && test -n "$p" || exit 1
		in_memory_limit $n $p 41943040 || exit 1
	done
'

test_expect_success 'logs: the pods lines from both nodes' '
	until_true 10 eval "vz logs web >logs 2>&1 && grep -qx \"o1 httpd | hello from web\" logs && grep -qx \"o2 httpd | hello from web\" logs" ||
	    { cat logs; exit 1; }
'

test_expect_success 'a crash reboot: OpenRC starts vzexec at boot, the pod comes back alone' '
	"$FAKEVPS" reboot o1 >/dev/null 2>&1 &&
	until_true 30 serves o1 &&
	on o1 rc-service vzexec status >/dev/null &&
	under_supervise_daemon o1 &&
	pods_on o1 | grep -qx "web:running" &&
	deploy_noop
'

test_expect_success 'newnode with a new vzexec: run in place, supervise-daemon sees no restart' '
	new_vzexec vzexec.new &&
	old=$(supervise_pid o1) && pod=$(httpd_pid o1) &&
	NEW_VZEXEC=$PWD/vzexec.new nn o1 2>o && cat o &&
	grep -q "^o1: init  *restarted: .* re-executed in place, pods kept running" o &&
	test "$(supervise_pid o1)" = "$old" &&
	on o1 test /proc/$old/exe -ef /usr/local/sbin/vzexec &&
	on o1 cmp /usr/local/sbin/vzexec /dev/stdin <vzexec.new &&
	under_supervise_daemon o1 &&
	test "$(httpd_pid o1)" = "$pod" && serves o1
'

# Debian's OpenRC runs the LSB script "ssh"; Alpine's service is "sshd"
test_expect_success '--harden: a failed reload puts sshd_config back, then it works' '
	on o2 cat /etc/ssh/sshd_config >before.cfg &&
	on o2 mv /etc/init.d/ssh /etc/init.d/ssh.away &&
	st=0; nn o2 --harden 2>e || st=$?
	on o2 mv /etc/init.d/ssh.away /etc/init.d/ssh
	cat e; test $st -ne 0 && grep -q "sshd was not reloaded; its config is as it was" e &&
	on o2 cat /etc/ssh/sshd_config | cmp - before.cfg &&
	on o2 sshd -T | grep -qx "passwordauthentication yes" &&
	nn o2 --harden 2>o && cat o && grep -q "harden.*updated" o &&
	on o2 sshd -T | grep -qx "passwordauthentication no" &&
	st=0; VZMASTER_PASSWORD=$("$FAKEVPS" password o2) "$TOOL" -K "$C/.vzmaster/known_hosts" \
	    -l root --no-pubkey --password-env exec "$(ip_of o2)" true 2>e2 || st=$?
	cat e2; test $st -eq 102 && grep -q "authentication failed for root@" e2
'

test_expect_success 'kill stops the pods on both nodes; the service stays' '
	vz kill web &&
	for n in o1 o2; do
		until_true 10 eval "! httpd_pid $n >/dev/null" || exit 1
		on $n rc-service vzexec status >/dev/null || exit 1
	done
'

test_done

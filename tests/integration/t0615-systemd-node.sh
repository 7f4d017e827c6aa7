#!/bin/bash
# t0615: nodes whose PID 1 is real systemd, as on most VPSes (fakevps up
# --init systemd: Debian's systemd booted by systemd-nspawn).  newnode
# registers vzexec.service, which systemd starts, restarts after a kill and
# starts again at boot; an upgrade runs the new vzexec in the supervisor's
# own process, the pods untouched; deploy runs pods under it with their memory limit; `vzmaster logs`
# reads them from journald; --harden reloads sshd through systemctl.  Every
# step checks the node itself (systemctl, /proc, cgroups, the journal).
. "$top_srcdir/tests/lib.sh"
need_root
INIT=systemd PORT=8091 MEM=48
. "$top_srcdir/tests/integration/initnode-lib.sh"
main_pid() { on "$1" systemctl show -p MainPID --value vzexec.service; }
initnode_setup s1 s2

test_expect_success 'the nodes boot systemd as PID 1, sshd started by it' '
	for n in s1 s2; do
		test "$(on $n cat /proc/1/comm)" = systemd &&
		on $n systemctl is-active -q ssh.service || exit 1
	done
'

test_expect_success 'newnode registers vzexec.service: enabled, active, its MainPID the supervisor' '
	for n in s1 s2; do
		VZMASTER_PASSWORD=$("$FAKEVPS" password $n) VZEXEC="$VZEXEC" \
		    vz --json newnode --name $n --vendor v$n --user vz \
		    "$("$FAKEVPS" ip $n)" >nn-$n.json 2>nn-$n.err || { cat nn-$n.err; exit 1; }
		grep -q "\"init\": \"systemd\"" nn-$n.json || exit 1
		on $n systemctl is-enabled -q vzexec.service &&
		on $n systemctl is-active -q vzexec.service || exit 1
		test "$(main_pid $n)" = "$(supervise_pid $n)" || exit 1
	done &&
	on s1 grep -qx "ExecStart=/usr/local/sbin/vzexec supervise" /etc/systemd/system/vzexec.service
'

test_expect_success 'a second newnode changes nothing' '
	VZMASTER_PASSWORD=$("$FAKEVPS" password s1) VZEXEC="$VZEXEC" \
	    vz newnode --name s1 --user vz "$("$FAKEVPS" ip s1)" 2>o && cat o &&
	grep -q "already adopted, nothing changed" o
'

test_expect_success 'killed, the supervisor is started again by systemd' '
	p=$(supervise_pid s2) && on s2 kill -9 $p &&
	until_true 15 pid_changed s2 $p &&
	until_true 5 on s2 systemctl is-active -q vzexec.service
'

test_expect_success 'deploy: one replica per node, served, in the unit and its memory limit' '
	vz deploy --timeout 60 &&
	for n in s1 s2; do
		pods_on $n >$n.pods && grep -qx "web:running" $n.pods || { cat $n.pods; exit 1; }
		until_true 10 serves $n || exit 1
		p=$(httpd_pid $n) && test -n "$p" || exit 1
		on $n cat /proc/$p/cgroup >$n.cg &&
		# systemd tracks units on the v2 hierarchy (the "0::" line)
		grep -q "^0::.*/system.slice/vzexec.service\$" $n.cg &&
		grep -q "^[0-9]*:memory:.*/web.httpd\$" $n.cg || { cat $n.cg; exit 1; }
		in_memory_limit $n $p 50331648 || exit 1
	done
'

test_expect_success 'logs: the pods lines, from each node journal' '
	for n in s1 s2; do
		until_true 10 eval "on $n journalctl --no-pager -o cat | grep -qx \"hello from web\"" ||
		    { on $n journalctl --no-pager | tail -n 20; exit 1; }
	done &&
	vz logs web >logs && cat logs &&
	grep -qx "s1 httpd | hello from web" logs &&
	grep -qx "s2 httpd | hello from web" logs
'

test_expect_success 'a crash reboot: systemd starts vzexec at boot, the pod comes back alone' '
	"$FAKEVPS" reboot s1 >/dev/null 2>&1 &&
	until_true 30 serves s1 &&
	test "$(on s1 cat /proc/1/comm)" = systemd &&
	on s1 systemctl is-active -q vzexec.service &&
	pods_on s1 | grep -qx "web:running" &&
	deploy_noop
'

# a new vzexec: the same program with bytes appended, so its digest differs;
# the supervisor runs it in its own process (SIGUSR2), systemd sees no stop
test_expect_success 'newnode with a new vzexec: the supervisor runs it in place, the pod keeps running' '
	new_vzexec vzexec.new &&
	old=$(supervise_pid s1) && pod=$(httpd_pid s1) &&
	VZMASTER_PASSWORD=$("$FAKEVPS" password s1) VZEXEC=$PWD/vzexec.new \
	    vz newnode --name s1 --user vz "$("$FAKEVPS" ip s1)" 2>o && cat o &&
	grep -q "^s1: init  *restarted: .* re-executed in place, pods kept running" o &&
	on s1 cmp /usr/local/sbin/vzexec /dev/stdin <vzexec.new &&
	test "$(supervise_pid s1)" = "$old" &&
	on s1 test /proc/$old/exe -ef /usr/local/sbin/vzexec &&
	test "$(main_pid s1)" = "$old" &&
	on s1 systemctl is-active -q vzexec.service &&
	{ test "$(httpd_pid s1)" = "$pod" || { echo "pod $pod now $(httpd_pid s1)"; exit 1; }; } &&
	serves s1 &&
	deploy_noop
'

test_expect_success '--harden reloads sshd through systemctl: passwords refused' '
	VZEXEC="$VZEXEC" vz newnode --name s2 --user vz --harden "$("$FAKEVPS" ip s2)" 2>o &&
	cat o && grep -q "harden.*updated" o &&
	on s2 sshd -T | grep -qx "passwordauthentication no" &&
	on s2 systemctl is-active -q ssh.service &&
	st=0; VZMASTER_PASSWORD=$("$FAKEVPS" password s2) VZEXEC="$VZEXEC" \
	    vz newnode --name s2b --user vz2 "$("$FAKEVPS" ip s2)" 2>e || st=$?
	cat e; test $st -ne 0 && grep -q "authentication failed for root@" e
'

test_expect_success 'kill stops the pods on both nodes; the unit stays' '
	vz kill web &&
	for n in s1 s2; do
		until_true 10 eval "! httpd_pid $n >/dev/null" || exit 1
		on $n systemctl is-active -q vzexec.service || exit 1
		pods_on $n >$n.pods; ! grep -q "^web:" $n.pods || exit 1
	done
'

test_done

#!/bin/sh
# tests/integration/t0500-fakevps.sh: the fake VPS cluster every other
# integration test stands on: real sshd on port 22 of each node, password
# login, isolation, inittab respawn, vanish/boot with the same disk and host
# key, cut/heal as a drop (timeout, not refusal), and nothing left after down.
. "$top_srcdir/tests/lib.sh"
need_root
for t in ip nsenter unshare ssh ssh-keyscan nft; do
	command -v $t >/dev/null 2>&1 || skip_all "needs $t"
done

FAKEVPS=${FAKEVPS:-$top_srcdir/tests/fakevps/fakevps}
: "${FAKEINIT:=$top_builddir/tests/fakevps/fakeinit}"
export FAKEINIT
FAKEVPS_DIR=$TEST_TMP/fv
export FAKEVPS_DIR
fv() { bash "$FAKEVPS" "$@"; }
test_at_exit 'FAKEVPS_DIR=$TEST_TMP/fv fv down >/dev/null 2>&1; FAKEVPS_DIR=$TEST_TMP/fv2 fv down >/dev/null 2>&1'

SSHOPTS="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
-o PubkeyAuthentication=no -o LogLevel=ERROR -o ConnectTimeout=5"

# connect IP: 0 connected, 124 timed out (dropped), other: refused/unreachable.
connect() { timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/22"' "$1" 2>/dev/null; }

# until_true SECONDS CMD...: poll for a state change (no timing asserted).
until_true() {
	n=$(($1 * 5)); shift
	while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
	return 1
}

# pids_in_ns NSLINK: the host PIDs of the processes in that PID namespace.
pids_in_ns() {
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$1" ] && echo ${p#/proc/}
	done
	return 0
}

# none_left NSLINK PID...: none of these processes is still in that namespace
# (namespace inode numbers are recycled, so each process is checked by PID).
none_left() {
	ns=$1; shift
	for p; do
		[ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" = "$ns" ] && return 1
	done
	return 0
}

test_expect_success 'up brings three nodes up' '
	fv up n1 n2 n3 &&
	fv list >list &&
	test $(grep -c " running " list) -eq 3 &&
	fv list --json | grep -q "\"name\":\"n2\",\"address\":\"10\.213\.[0-9]*\.12\",\"state\":\"running\""
'
fv env >"$TEST_TMP/env" 2>/dev/null
. "$TEST_TMP/env"
IP1=$(fv ip n1) IP2=$(fv ip n2) IP3=$(fv ip n3)

test_expect_success 'up again is a no-op' '
	p=$(fv pid n1) && fv up n1 && test "$(fv pid n1)" = "$p"
'

test_expect_success 'every node answers SSH on port 22 with its own host key' '
	for ip in $IP1 $IP2 $IP3; do
		ssh-keyscan -T 3 -t ed25519 $ip 2>/dev/null | grep "^$ip ssh-ed25519 " >>keys || exit 1
	done &&
	test $(cut -d" " -f3 keys | sort -u | wc -l) -eq 3
'

if command -v sshpass >/dev/null 2>&1; then
	test_expect_success 'root password login works, hostname is the node name' '
		for n in n1 n2 n3; do
			SSHPASS=$(fv password $n) sshpass -e ssh $SSHOPTS root@$(fv ip $n) \
			    "hostname; id -u" >out || exit 1
			printf "%s\n0\n" $n | cmp - out || exit 1
		done
	'
	test_expect_success 'a wrong password is refused' '
		! SSHPASS=wrong sshpass -e ssh $SSHOPTS root@$IP1 true
	'
else
	ok 0 "root password login works # SKIP sshpass not installed"
	ok 0 "a wrong password is refused # SKIP sshpass not installed"
fi

test_expect_success 'exec runs inside the node: hostname, PID 1 is init' '
	test "$(fv exec n2 hostname)" = n2 &&
	test "$(fv exec n2 cat /proc/1/comm)" = init &&
	test "$(fv exec n2 readlink /proc/1/exe)" = /usr/sbin/init &&
	fv exec n2 /sbin/init --version | grep -q "^SysV init version" &&
	fv exec n2 test -f /etc/inittab
'

test_expect_success 'no route out of a node: only the bridge subnet' '
	fv exec n1 ip -4 route >routes &&
	! grep -q default routes &&
	test $(wc -l <routes) -eq 1 &&
	grep -q "^${SUBNET%.0/24}\.0/24 dev eth0" routes &&
	! fv exec n1 bash -c "exec 3<>/dev/tcp/192.0.2.1/80" 2>err &&
	grep -qi "unreachable" err
'

test_expect_success 'processes of one node are invisible in another' '
	fv exec n1 sh -c "sleep 1001 >/dev/null 2>&1 &" &&
	fv exec n1 ps -eo args | grep -q "^sleep 1001" &&
	! fv exec n2 ps -eo args | grep -q "^sleep 1001" &&
	test $(fv exec n2 ps -eo pid= | wc -l) -lt 8
'

test_expect_success 'an inittab respawn line runs after telinit q and comes back when killed' '
	fv exec n2 sh -c "echo t1:2345:respawn:/bin/sleep 1000 >>/etc/inittab && telinit q" &&
	until_true 5 fv exec n2 pgrep -fx "/bin/sleep 1000" >/dev/null &&
	p1=$(fv exec n2 pgrep -fx "/bin/sleep 1000") &&
	fv exec n2 kill $p1 &&
	until_true 10 sh -c "p=\$(bash \"$FAKEVPS\" exec n2 pgrep -fx \"/bin/sleep 1000\") && test \"\$p\" != $p1"
'

test_expect_success 'an inittab line removed then kill -HUP 1 stops its process' '
	fv exec n2 sh -c "sed -i /^t1:/d /etc/inittab && kill -HUP 1" &&
	until_true 10 sh -c "! bash \"$FAKEVPS\" exec n2 pgrep -fx \"/bin/sleep 1000\"" &&
	fv exec n2 grep -q "t1: removed from /etc/inittab" /var/log/fakeinit.log
'

test_expect_success 'vanish: port 22 stops answering (dropped), every process dies' '
	fv exec n3 sh -c "echo before >/root/marker" &&
	ssh-keyscan -T 3 -t ed25519 $IP3 2>/dev/null | grep ssh-ed25519 >"$TEST_TMP/key3" &&
	pid=$(fv pid n3) && ns=$(readlink /proc/$pid/ns/pid) && echo $pid >"$TEST_TMP/pid3" &&
	pids=$(pids_in_ns "$ns") && test $(echo $pids | wc -w) -ge 2 &&
	fv vanish n3 &&
	none_left "$ns" $pids &&
	{ connect $IP3; test $? -eq 124; } &&
	fv list | grep -q "^n3 .* vanished "
'

test_expect_success 'boot: the node comes back with the same disk and host key' '
	fv boot n3 &&
	connect $IP3 &&
	test "$(fv exec n3 cat /root/marker)" = before &&
	ssh-keyscan -T 3 -t ed25519 $IP3 2>/dev/null | grep ssh-ed25519 | cmp - "$TEST_TMP/key3" &&
	test "$(fv pid n3)" != "$(cat "$TEST_TMP/pid3")"
'

test_expect_success 'reboot = vanish + boot; sysinit, once, respawn lines run at boot' '
	fv exec n3 sh -c "cat >>/etc/inittab" <<-\EOF &&
	s1::sysinit:/bin/sh -c "echo sysinit >>/root/boots"
	o1:2:once:/bin/sh -c "echo once >>/root/boots"
	o2:3:once:/bin/sh -c "echo other-runlevel >>/root/boots"
	t2:2:respawn:/bin/sleep 1002
	EOF
	p=$(fv pid n3) &&
	fv reboot n3 &&
	test "$(fv pid n3)" != "$p" &&
	until_true 5 fv exec n3 pgrep -fx "/bin/sleep 1002" >/dev/null &&
	until_true 5 fv exec n3 grep -qx once /root/boots &&
	printf "sysinit\nonce\n" | fv exec n3 cmp - /root/boots &&
	test "$(fv exec n3 cat /root/marker)" = before
'

test_expect_success 'cut: connects time out (dropped, not refused); heal restores' '
	connect $IP2 &&
	fv cut n2 &&
	{ connect $IP2; test $? -eq 124; } &&
	fv list | grep -q "^n2 .* cut " &&
	fv heal n2 &&
	connect $IP2 &&
	connect $IP1
'

test_expect_success 'a second cluster gets its own bridge and subnet' '
	FAKEVPS_DIR=$TEST_TMP/fv2 fv up m1 &&
	FAKEVPS_DIR=$TEST_TMP/fv2 fv env >env2 &&
	! grep -qx "BRIDGE=$BRIDGE" env2 &&
	! grep -qx "SUBNET=$SUBNET" env2 &&
	connect $(FAKEVPS_DIR=$TEST_TMP/fv2 fv ip m1) &&
	FAKEVPS_DIR=$TEST_TMP/fv2 fv down &&
	test ! -e "$TEST_TMP/fv2"
'

test_expect_success 'down of one node leaves the others running' '
	fv down n1 &&
	! fv ip n1 2>/dev/null &&
	connect $IP2 &&
	! ip netns list | grep -q "^${NETNS_PREFIX}n1 "
'

test_expect_success 'down removes everything: processes, netns, bridge, mounts, folder' '
	pid=$(fv pid n2) && ns=$(readlink /proc/$pid/ns/pid) && pids=$(pids_in_ns "$ns") &&
	test -n "$pids" &&
	fv down &&
	none_left "$ns" $pids &&
	! ip netns list | grep -q "^$NETNS_PREFIX" &&
	! ip link show "$BRIDGE" 2>/dev/null &&
	! ip -br link | grep -q "^vzv$ID" &&
	! grep -q "$TEST_TMP/fv" /proc/mounts &&
	test ! -e "$FAKEVPS_DIR"
'

test_done

#!/bin/sh
# t0430-vzexec-firewall: a pod's hostPorts opened and closed inns the node's
# firewall (nftables, iptables with the nf_tables backend, ip6tables,
# iptables-legacy), through the hidden verb `vzexec firewall` and through
# spec-put / spec-rm.  Everything happens inns network namespaces made here:
# the host's own ruleset is never touched.
. "$top_srcdir/tests/lib.sh"

need_root
[ -x "$VZEXEC" ] || skip_all "vzexec not built"
command -v ip >/dev/null 2>&1 || skip_all "iproute2 not installed"
command -v nft >/dev/null 2>&1 || skip_all "nftables not installed"
command -v iptables >/dev/null 2>&1 || skip_all "iptables not installed"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"

NS=vzfw$$a
NS2=vzfw$$b
ip netns add "$NS" || skip_all "cannot create a network namespace"
test_at_exit 'ip netns del "$NS" 2>/dev/null; ip netns del "$NS2" 2>/dev/null'
test_at_exit stop_listener
ip netns add "$NS2" || skip_all "cannot create a network namespace"
inns() { ip netns exec "$NS" "$@"; }
# wait_until SECONDS COMMAND...: poll until COMMAND succeeds (a generous
# bound so a broken setup fails instead of hanging; not a timing check).
wait_until() {
	_t=$(($1 * 10)); shift
	while [ $_t -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		_t=$((_t - 1))
	done
	return 1
}
stop_listener() {
	[ -n "${LPID:-}" ] && kill "$LPID" 2>/dev/null && wait "$LPID" 2>/dev/null
	LPID=
}

R=$TEST_TMP/root
mkdir -p "$R/pods"
IMG=$(printf '%064d' 0)
export R IMG NS NS2

# spec PORTS-JSON: the pod web with one container exposing PORTS
spec() {
	printf '{"vzspec":1,"name":"web","containers":[{"name":"c","image":"%s","ports":%s}]}\n' \
	    "$IMG" "$1"
}
put() {		# put PORTS-JSON: write ROOT/pods/web.json directly
	spec "$1" >"$R/pods/web.json"
}
fw() { inns "$VZEXEC" firewall --root "$R" web; }
# nft rules tagged vz:web, one per line, handles dropped
nft_vz() { inns nft list ruleset | grep 'comment "vz:web"' | sed 's/^[[:space:]]*//' | sort; }
xt_vz() { inns "${1:-iptables}" -S INPUT | grep 'vz:web' | sort; }
P2='[{"containerPort":80,"hostPort":8090,"protocol":"TCP"},{"containerPort":53,"hostPort":5353,"protocol":"UDP"},{"containerPort":9000}]'
P3='[{"containerPort":80,"hostPort":8091,"protocol":"TCP"},{"containerPort":53,"hostPort":5353,"protocol":"UDP"}]'

# ---- no firewall ----

test_expect_success 'no firewall: the verb changes nothing' '
	put "$P2" &&
	inns nft list ruleset >before.out &&
	! test -s before.out &&
	fw &&
	inns nft list ruleset >after.out &&
	! test -s after.out &&
	inns iptables -S INPUT >ipt.out &&
	test "$(cat ipt.out)" = "-P INPUT ACCEPT" &&
	inns nft list ruleset >after2.out &&
	! test -s after2.out
'

test_expect_success 'no firewall: an input chain with policy accept is left alone' '
	inns nft add table inet open &&
	inns nft add chain inet open input "{ type filter hook input priority 0; policy accept; }" &&
	inns nft list ruleset >before.out &&
	fw &&
	inns nft list ruleset >after.out &&
	cmp before.out after.out &&
	inns nft delete table inet open
'

# ---- nftables ----

test_expect_success 'nft: a drop input chain gets one rule per hostPort' '
	inns nft add table inet filter &&
	inns nft add chain inet filter input "{ type filter hook input priority 0; policy drop; }" &&
	inns nft add rule inet filter input tcp dport 22 accept &&
	inns nft add rule inet filter input tcp dport 7777 accept comment "\"vz:other\"" &&
	put "$P2" &&
	fw &&
	nft_vz >vz.out && cat vz.out &&
	test "$(wc -l <vz.out)" -eq 2 &&
	grep -qx "tcp dport 8090 accept comment \"vz:web\"" vz.out &&
	grep -qx "udp dport 5353 accept comment \"vz:web\"" vz.out
'

test_expect_success 'nft: the rules come first in the chain' '
	inns nft list chain inet filter input >chain.out &&
	test "$(grep dport chain.out | head -2 | grep -c vz:web)" -eq 2
'

test_expect_success 'nft: a second run changes nothing (same handles)' '
	inns nft -a list ruleset >before.out &&
	fw &&
	inns nft -a list ruleset >after.out &&
	cmp before.out after.out
'

test_expect_success 'nft: a changed port replaces only its rule' '
	inns nft -a list chain inet filter input | grep "udp dport 5353" >udp1.out &&
	put "$P3" &&
	fw &&
	nft_vz >vz.out && cat vz.out &&
	test "$(wc -l <vz.out)" -eq 2 &&
	grep -qx "tcp dport 8091 accept comment \"vz:web\"" vz.out &&
	! grep -q 8090 vz.out &&
	inns nft -a list chain inet filter input | grep "udp dport 5353" >udp2.out &&
	cmp udp1.out udp2.out
'

test_expect_success 'nft: other rules are untouched' '
	inns nft list chain inet filter input >chain.out &&
	grep -q "tcp dport 22 accept$" chain.out &&
	grep -q "tcp dport 7777 accept comment \"vz:other\"" chain.out
'

test_expect_success 'nft: every drop input chain gets the rules (two tables)' '
	inns nft add table ip other &&
	inns nft add chain ip other inp "{ type filter hook input priority 10; policy drop; }" &&
	fw &&
	inns nft list chain ip other inp >other.out &&
	test "$(grep -c "comment \"vz:web\"" other.out)" -eq 2 &&
	inns nft list chain inet filter input >chain.out &&
	test "$(grep -c "comment \"vz:web\"" chain.out)" -eq 2
'

test_expect_success 'nft: a chain that stops dropping loses the rules' '
	inns nft chain ip other inp "{ policy accept; }" &&
	fw &&
	inns nft list chain ip other inp >other.out &&
	! grep -q "vz:web" other.out &&
	inns nft delete table ip other &&
	test "$(nft_vz | wc -l)" -eq 2
'

# A real connection from a second namespace over a veth.
veth_up() {
	ip link add "vf$$a" type veth peer name "vf$$b" &&
	ip link set "vf$$a" netns "$NS" &&
	ip link set "vf$$b" netns "$NS2" &&
	inns ip addr add 10.231.0.1/24 dev "vf$$a" &&
	inns ip link set "vf$$a" up &&
	ip netns exec "$NS2" ip addr add 10.231.0.2/24 dev "vf$$b" &&
	ip netns exec "$NS2" ip link set "vf$$b" up &&
	inns ip link set lo up
}
connects() {	# connects PORT: a TCP connection from NS2 gets "hi"
	ip netns exec "$NS2" python3 -c '
import socket, sys
s = socket.create_connection(("10.231.0.1", int(sys.argv[1])), timeout=3)
sys.exit(0 if s.recv(2) == b"hi" else 1)' "$1" 2>/dev/null
}
listening() { inns ss -ltn | grep -q ":$1 "; }

if veth_up; then
	# not through inns: $! must be the listener itself (ip execs it)
	ip netns exec "$NS" python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8091)); s.listen(8)
while True:
    c, _ = s.accept(); c.sendall(b"hi"); c.close()' </dev/null >/dev/null 2>&1 &
	LPID=$!
	wait_until 10 listening 8091 || stop_listener
	test_expect_success 'nft: the opened port accepts connections' '
		connects 8091
	'
fi

test_expect_success 'nft: spec removed: the rules are gone, others stay' '
	rm -f "$R/pods/web.json" &&
	fw &&
	test "$(nft_vz | wc -l)" -eq 0 &&
	inns nft list chain inet filter input >chain.out &&
	grep -q "tcp dport 22 accept$" chain.out &&
	grep -q "vz:other" chain.out
'

if [ -n "${LPID:-}" ]; then
	test_expect_success 'nft: the closed port refuses connections (dropped)' '
		! connects 8091
	'
fi

# No supervisor runs here: spec-put and spec-rm exit 1 saying so, after
# doing their work; what is checked is the firewall and the warning line.
test_expect_success 'spec-put opens the ports, spec-rm closes them' '
	spec "$P2" | inns "$VZEXEC" spec-put --root "$R" web 2>put.err || :;
	cat put.err;
	! grep -q "warning" put.err &&
	test -f "$R/pods/web.json" &&
	test "$(nft_vz | wc -l)" -eq 2 &&
	inns "$VZEXEC" spec-rm --root "$R" web 2>rm.err || :;
	cat rm.err;
	! grep -q "warning" rm.err &&
	! test -e "$R/pods/web.json" &&
	test "$(nft_vz | wc -l)" -eq 0
'

test_expect_success 'spec-put of an unchanged spec repairs lost rules' '
	spec "$P2" | inns "$VZEXEC" spec-put --root "$R" web 2>/dev/null || :;
	test "$(nft_vz | wc -l)" -eq 2 &&
	h=$(inns nft -a list chain inet filter input | sed -n "s/.*dport 8090 .*# handle //p") &&
	inns nft delete rule inet filter input handle "$h" &&
	test "$(nft_vz | wc -l)" -eq 1 &&
	spec "$P2" | inns "$VZEXEC" spec-put --root "$R" web 2>/dev/null || :;
	test "$(nft_vz | wc -l)" -eq 2 &&
	inns "$VZEXEC" spec-rm --root "$R" web 2>/dev/null || :;
	test "$(nft_vz | wc -l)" -eq 0
'

test_expect_success 'spec-put: a firewall error is a warning, the spec is installed' '
	spec "[{\"containerPort\":80,\"hostPort\":70000}]" |
	    inns "$VZEXEC" spec-put --root "$R" web 2>put.err || :;
	cat put.err;
	grep -q "^vzexec: warning: firewall: .web.: bad hostPort" put.err &&
	test -f "$R/pods/web.json" &&
	rm -f "$R/pods/web.json"
'

test_expect_failure_code 2 'firewall verb: an invalid pod name is a usage error' '
	inns "$VZEXEC" firewall --root "$R" "../x"
'

# ---- when spec-put / spec-rm skip the sync, and the supervisor's restore ----

# The sync is skipped when the hostPorts stay the same.  Proof that the
# firewall tools did not run: a tagged rule deleted by hand stays deleted.
# specv VERSION PORTS-JSON: a spec of web that differs by VERSION only
specv() {
	printf '{"vzspec":1,"name":"web","hash":"h%s","containers":[{"name":"c","image":"%s","ports":%s}]}\n' \
	    "$1" "$IMG" "$2"
}
sput() { inns "$VZEXEC" spec-put --root "$R" web 2>>"$TEST_TMP/sput.err" || :; }
del_rule() {	# del_rule PORT: delete web's nft rule for PORT by hand
	_h=$(inns nft -a list chain inet filter input |
	    sed -n "s/.*dport $1 .*comment \"vz:web\" # handle //p") &&
	[ -n "$_h" ] && inns nft delete rule inet filter input handle "$_h"
}
# P2 reordered, the container without a hostPort gone: the same set
P2R='[{"containerPort":53,"hostPort":5353,"protocol":"UDP"},{"containerPort":81,"hostPort":8090}]'
FWERR=$R/run/firewall/web.error

test_expect_success 'a failed sync is remembered in run/firewall/POD.error' '
	test -s "$FWERR" &&
	grep -q "bad hostPort" "$FWERR" &&
	fw &&
	! test -e "$FWERR"
'

test_expect_success 'spec-put: same hostPorts in a changed spec: no sync' '
	specv 1 "$P2" | sput &&
	test "$(nft_vz | wc -l)" -eq 2 &&
	del_rule 8090 &&
	test "$(nft_vz | wc -l)" -eq 1 &&
	specv 2 "$P2R" | sput &&
	grep -q "\"hash\":\"h2\"" "$R/pods/web.json" &&
	nft_vz >vz.out && cat vz.out &&
	test "$(wc -l <vz.out)" -eq 1 &&
	grep -qx "udp dport 5353 accept comment \"vz:web\"" vz.out
'

test_expect_success 'spec-put: changed hostPorts: synced (the lost rule too)' '
	specv 3 "$P3" | sput &&
	nft_vz >vz.out && cat vz.out &&
	test "$(wc -l <vz.out)" -eq 2 &&
	grep -qx "tcp dport 8091 accept comment \"vz:web\"" vz.out &&
	grep -qx "udp dport 5353 accept comment \"vz:web\"" vz.out &&
	! grep -q 8090 vz.out
'

test_expect_success 'the firewall verb repairs what a skipped sync left' '
	del_rule 8091 &&
	specv 4 "$P3" | sput &&
	grep -q "\"hash\":\"h4\"" "$R/pods/web.json" &&
	test "$(nft_vz | wc -l)" -eq 1 &&
	fw &&
	test "$(nft_vz | wc -l)" -eq 2
'

test_expect_success 'spec-put: same hostPorts after a failed sync: synced' '
	del_rule 8091 &&
	echo "an earlier failure" >"$FWERR" &&
	specv 5 "$P3" | sput &&
	test "$(nft_vz | wc -l)" -eq 2 &&
	! test -e "$FWERR"
'

test_expect_success 'spec-rm of a spec with hostPorts closes them' '
	inns "$VZEXEC" spec-rm --root "$R" web 2>>"$TEST_TMP/sput.err" || :;
	! test -e "$R/pods/web.json" &&
	test "$(nft_vz | wc -l)" -eq 0
'

# A tagged rule put there by hand stands for "the tools would change
# something": spec-rm of a spec that never had hostPorts does not look.
test_expect_success 'spec-rm of a spec without hostPorts: no sync' '
	specv 6 "[{\"containerPort\":9000}]" | sput &&
	test "$(nft_vz | wc -l)" -eq 0 &&
	inns nft insert rule inet filter input tcp dport 8099 accept comment "\"vz:web\"" &&
	inns "$VZEXEC" spec-rm --root "$R" web 2>>"$TEST_TMP/sput.err" || :;
	! test -e "$R/pods/web.json" &&
	test "$(nft_vz | wc -l)" -eq 1 &&
	fw &&
	test "$(nft_vz | wc -l)" -eq 0
'

test_expect_success 'spec-put --wait keeps its first stderr line for the verdict' '
	specv 7 "[{\"containerPort\":80,\"hostPort\":70000}]" |
	    inns "$VZEXEC" spec-put --root "$R" --wait 1 web 2>wait.err ||
	    echo "exit $?";
	cat wait.err &&
	head -1 wait.err | grep -q "no supervisor" &&
	grep -q "^vzexec: warning: firewall: .web.: bad hostPort" wait.err &&
	rm -f "$R/pods/web.json" && fw && ! test -e "$FWERR"
'

# The supervisor (in the namespace: its child syncs that firewall) brings
# back rules lost since, as after a reboot.  Its containers cannot start
# (no image here), which does not matter to the firewall.
start_sup() {
	ip netns exec "$NS" "$VZEXEC" supervise --root "$R" \
	    --syslog "$TEST_TMP/no.sock" >>"$TEST_TMP/sup.out" 2>&1 &
	SUP=$!
	wait_until 10 test -f "$R/run/supervise.pid"
}
# By its pidfile: start_sup runs inside a test's subshell, so $SUP is
# gone by the next test and at exit (a supervisor outlived the test).
stop_sup() {
	_p=$(cat "$R/run/supervise.pid" 2>/dev/null) || _p=
	if [ -n "$_p" ] && kill -TERM "$_p" 2>/dev/null; then
		wait_until 10 sh -c "! kill -0 $_p"
	fi
	SUP=
	rm -f "$R/run/supervise.pid"
}
test_at_exit stop_sup
nft_vz_n() { [ "$(nft_vz | wc -l)" -eq "$1" ]; }
SUPLOG=$R/run/log/vzexec.log

test_expect_success 'supervisor start: restores a pod'"'"'s lost rules' '
	specv 8 "$P2" >"$R/pods/web.json" &&
	fw &&
	del_rule 8090 && del_rule 5353 &&
	nft_vz_n 0 &&
	start_sup &&
	wait_until 10 nft_vz_n 2 &&
	nft_vz >vz.out && cat vz.out &&
	grep -qx "tcp dport 8090 accept comment \"vz:web\"" vz.out &&
	wait_until 10 grep -q "firewall: synced the rules of 1 pod$" "$SUPLOG"
'

test_expect_success 'supervisor restart: restores them again; a bad pod is a warning' '
	stop_sup &&
	del_rule 8090 &&
	nft_vz_n 1 &&
	printf "{\"vzspec\":1,\"name\":\"bad\",\"containers\":[{\"name\":\"c\",\"image\":\"%s\",\"ports\":[{\"containerPort\":1,\"hostPort\":70000}]}]}\n" \
	    "$IMG" >"$R/pods/bad.json" &&
	start_sup &&
	wait_until 10 nft_vz_n 2 &&
	wait_until 10 grep -q "firewall: .bad.: bad hostPort" "$SUPLOG" &&
	kill -0 "$SUP" &&
	stop_sup &&
	rm -f "$R/pods/bad.json" "$R/pods/web.json" "$R/run/firewall/bad.error" &&
	fw && nft_vz_n 0
'

# ---- iptables (nf_tables backend here) and ip6tables ----

test_expect_success 'iptables: a DROP INPUT policy gets one rule per hostPort' '
	inns nft flush ruleset &&
	inns iptables -P INPUT DROP &&
	inns iptables -A INPUT -p tcp --dport 22 -j ACCEPT &&
	put "$P2" &&
	fw &&
	xt_vz >vz.out && cat vz.out &&
	test "$(wc -l <vz.out)" -eq 2 &&
	grep -q -- "-p tcp -m tcp --dport 8090 -m comment --comment \"*vz:web\"* -j ACCEPT" vz.out &&
	grep -q -- "-p udp -m udp --dport 5353 -m comment --comment \"*vz:web\"* -j ACCEPT" vz.out
'

test_expect_success 'iptables: no native nft rules were added to its table' '
	inns iptables -S INPUT >/dev/null &&
	test "$(nft_vz | wc -l)" -eq 0
'

# (the nf_tables backend: nft shows its rule handles, which a delete and
# re-insert would change)
test_expect_success 'iptables: a second run changes nothing (same handles)' '
	inns iptables -S INPUT >before.out &&
	inns nft -a list table ip filter >hbefore.out &&
	fw &&
	inns iptables -S INPUT >after.out &&
	inns nft -a list table ip filter >hafter.out &&
	cmp before.out after.out &&
	cmp hbefore.out hafter.out
'

test_expect_success 'iptables: a changed port replaces only its rule' '
	put "$P3" &&
	fw &&
	xt_vz >vz.out && cat vz.out &&
	test "$(wc -l <vz.out)" -eq 2 &&
	grep -q -- "--dport 8091 " vz.out &&
	! grep -q 8090 vz.out &&
	inns iptables -S INPUT | grep -qx -- "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"
'

test_expect_success 'ip6tables: opened only once its policy is DROP' '
	test "$(xt_vz ip6tables | wc -l)" -eq 0 &&
	inns ip6tables -P INPUT DROP &&
	fw &&
	test "$(xt_vz ip6tables | wc -l)" -eq 2 &&
	test "$(xt_vz iptables | wc -l)" -eq 2
'

if [ -n "${LPID:-}" ]; then
	test_expect_success 'iptables: the opened port accepts connections' '
		connects 8091
	'
fi

test_expect_success 'iptables: spec removed: the rules are gone, others stay' '
	rm -f "$R/pods/web.json" &&
	fw &&
	test "$(xt_vz | wc -l)" -eq 0 &&
	test "$(xt_vz ip6tables | wc -l)" -eq 0 &&
	inns iptables -S INPUT | grep -qx -- "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"
'

if [ -n "${LPID:-}" ]; then
	test_expect_success 'iptables: the closed port refuses connections' '
		! connects 8091
	'
fi

# ---- iptables-legacy beside the nf_tables backend ----

if command -v iptables-legacy >/dev/null 2>&1 &&
    iptables -V | grep -q nf_tables; then
	test_expect_success 'iptables-legacy: a loaded legacy DROP table is opened too' '
		inns iptables -P INPUT ACCEPT &&
		inns iptables -F INPUT &&
		inns ip6tables -P INPUT ACCEPT &&
		inns iptables-legacy -P INPUT DROP &&
		put "$P3" &&
		fw &&
		xt_vz iptables-legacy >vz.out && cat vz.out &&
		test "$(wc -l <vz.out)" -eq 2 &&
		grep -q -- "--dport 8091 " vz.out &&
		test "$(xt_vz iptables | wc -l)" -eq 0
	'
	if [ -n "${LPID:-}" ]; then
		test_expect_success 'iptables-legacy: the opened port accepts connections' '
			connects 8091
		'
	fi
	test_expect_success 'iptables-legacy: spec removed: the rules are gone' '
		rm -f "$R/pods/web.json" &&
		fw &&
		test "$(xt_vz iptables-legacy | wc -l)" -eq 0
	'
fi

test_done

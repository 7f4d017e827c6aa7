#!/bin/sh
# t0820-logs-cluster: `vzmaster logs` over real SSH on two fake VPSes
# (tests/fakevps) adopted with newnode: lines of both nodes merged by time
# and prefixed NODE CONTAINER |, -n over all nodes, --since, -l, --json, a
# vanished node reported with exit 1 while the other's lines still print,
# and -f streaming new lines, ended by SIGINT, which ends the followers on
# the nodes too; a node whose vzexec cannot stream is told to upgrade.
# The node lines are vzlog fallback files written on the nodes.  A vzexec
# built without its logs verb is wrapped on the nodes: `logs` goes to the
# static test driver (tests/unit/nodelogs-static), the rest to vzexec.
. "$top_srcdir/tests/lib.sh"
need_root
FAKEVPS=${FAKEVPS:-$top_srcdir/tests/fakevps/fakevps}
[ -f "$FAKEVPS" ] || skip_all "tests/fakevps/fakevps not in this tree"
for t in ip nsenter unshare nft ssh-keygen; do
	command -v $t >/dev/null 2>&1 || skip_all "needs $t"
done
[ -x "$VZEXEC" ] && "$VZEXEC" version >/dev/null 2>&1 || skip_all "vzexec not built"
STATIC=$top_builddir/tests/unit/nodelogs-static
[ -x "$STATIC" ] || skip_all "tests/unit/nodelogs-static not built"
: "${FAKEINIT:=$top_builddir/tests/fakevps/fakeinit}"
export FAKEINIT VZEXEC
FAKEVPS_DIR=$TEST_TMP/fv
export FAKEVPS_DIR
fv() { bash "$FAKEVPS" "$@"; }
test_at_exit 'FAKEVPS_DIR=$TEST_TMP/fv bash "$FAKEVPS" down >/dev/null 2>&1'

export HOME="$TEST_TMP/home"
mkdir -p "$HOME/.ssh"
unset SSH_AUTH_SOCK VZMASTER_PASSWORD
ssh-keygen -q -t ed25519 -N '' -C vzmaster-test -f "$HOME/.ssh/id_ed25519"
CLOUD="$TEST_TMP/cloud"
mkdir -p "$CLOUD"

fv up n1 n2 >"$TEST_TMP/up.log" 2>&1 ||
	skip_all "fake VPSes do not start here: $(tail -n 3 "$TEST_TMP/up.log")"
IP1=$(fv ip n1) IP2=$(fv ip n2)
for n in n1 n2; do fv password $n >"$TEST_TMP/pw-$n"; done
vz() { "$VZMASTER" -C "$CLOUD" "$@"; }
vz newnode --user vzadmin --password-file "$TEST_TMP/pw-n1" --vendor acme \
    --name a1 $IP1 >"$TEST_TMP/nn.log" 2>&1 &&
vz newnode --user vzadmin --password-file "$TEST_TMP/pw-n2" --vendor zeta \
    --name z1 $IP2 >>"$TEST_TMP/nn.log" 2>&1 ||
	{ sed 's/^/# /' "$TEST_TMP/nn.log"; echo "not ok 1 - newnode"; exit 1; }

if ! "$VZEXEC" logs --help 2>/dev/null | grep -q "usage: vzexec logs"; then
	echo "# vzexec has no logs verb yet: wrapping it on the nodes"
	for n in n1 n2; do
		fv exec $n sh -c 'cat >/usr/local/sbin/vzexec-logs &&
		    chmod 755 /usr/local/sbin/vzexec-logs &&
		    cp /usr/local/sbin/vzexec /usr/local/sbin/vzexec.real &&
		    printf "%s\n" "#!/bin/sh" \
		      "case \"\$1\" in logs) exec /usr/local/sbin/vzexec-logs \"\$@\";; esac" \
		      "exec /usr/local/sbin/vzexec.real \"\$@\"" >/usr/local/sbin/.vzx &&
		    chmod 755 /usr/local/sbin/.vzx &&
		    mv /usr/local/sbin/.vzx /usr/local/sbin/vzexec' <"$STATIC"
	done
fi

T0=1795452600	# 2026-11-23T16:50:00Z
put() {	# NODE FILE LINES...: (TIME-OFFSET TEXT) pairs into the node's file
	_n=$1 _f=$2; shift 2
	: >"$TEST_TMP/put"
	while [ $# -gt 0 ]; do echo "$((T0 + $1)) $2" >>"$TEST_TMP/put"; shift 2; done
	fv exec $_n sh -c "mkdir -p /var/lib/vz/run/log &&
	    cat >>/var/lib/vz/run/log/$_f" <"$TEST_TMP/put"
}
put n1 vz.shop.app.log 1 "a1 one" 5 "a1 five"
put n1 vz.shop.db.log 3 "a1 db three"
put n2 vz.shop.app.log 2 "z1 two" 4 "z1 four" 6 "z1 six"
put n2 vz.other.app.log 3 "not this pod"

test_expect_success 'both nodes, merged by time, prefixed NODE CONTAINER |' '
	vz logs shop >out 2>err &&
	cat >want <<-EOT &&
	a1 app | a1 one
	z1 app | z1 two
	a1 db | a1 db three
	z1 app | z1 four
	a1 app | a1 five
	z1 app | z1 six
	EOT
	diff -u want out && test ! -s err
'

test_expect_success '-n counts over all nodes, --since, POD/CONTAINER' '
	vz logs -n 2 shop >out && printf "%s\n" "a1 app | a1 five" \
	    "z1 app | z1 six" >want && diff -u want out &&
	vz logs --since $((T0 + 4)) shop/app >out &&
	printf "%s\n" "z1 app | z1 four" "a1 app | a1 five" "z1 app | z1 six" \
	    >want && diff -u want out &&
	vz logs shop/db >out && test "$(cat out)" = "a1 db | a1 db three"
'

test_expect_success '--since accepts an ISO time; --timestamps' '
	vz logs --timestamps --since 2026-11-23T16:50:05Z shop >out &&
	printf "%s\n" "2026-11-23T16:50:05Z a1 app | a1 five" \
	    "2026-11-23T16:50:06Z z1 app | z1 six" >want && diff -u want out
'

test_expect_success '-l asks only the matching hosts' '
	vz logs -l z1 shop >out && test $(wc -l <out) -eq 3 &&
	! grep -q "^a1 " out
'

test_expect_success '--json: one object per line' '
	vz logs --json -n 1 shop >out && test $(wc -l <out) -eq 1 &&
	python3 -c "
import json
d = json.loads(open(\"out\").read())
assert d == {\"node\": \"z1\", \"container\": \"app\",
    \"time\": \"2026-11-23T16:50:06Z\", \"message\": \"z1 six\"}, d
"
'

test_expect_failure_code 2 'a bad pod name is refused before any node' \
	'vz logs ../x'
test_expect_failure_code 2 'a bad --since is refused' 'vz logs --since 5x shop'

wait_for() {	# PATTERN FILE: up to 30 s
	_i=0
	while ! grep -q "$1" "$2"; do
		_i=$((_i + 1)); [ $_i -lt 300 ] || return 1; sleep 0.1
	done
}
test_expect_success '-f prints new lines of both nodes, SIGINT ends it' '
	"$VZMASTER" -C "$CLOUD" logs -f -n 1 shop >fout 2>ferr &
	pid=$!	# vzmaster itself: a function would be a subshell ignoring SIGINT
	wait_for "z1 six" fout || :
	put n1 vz.shop.app.log 100 "a1 later"
	put n2 vz.shop.db.log 101 "z1 db later"
	wait_for "a1 later" fout && wait_for "z1 db later" fout || :
	for n in n1 n2; do fv exec $n pgrep -fl "vzexec logs" >>running || :; done
	kill -INT $pid; st=0; wait $pid || st=$?
	cat fout ferr running
	test $st -eq 0 && test $(wc -l <fout) -eq 3 &&
	grep -q "^a1 app | a1 later\$" fout && grep -q "^z1 db | z1 db later\$" fout &&
	test $(wc -l <running) -eq 2
'
# The channel closed, each node's follower sees the end of its stdin and
# ends, though it has nothing to print that would hit a closed stdout.
test_expect_success 'after SIGINT no follower is left on the nodes' '
	i=0; while :; do
		: >left
		for n in n1 n2; do fv exec $n pgrep -fl "vzexec logs" >>left || :; done
		test -s left || break
		i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1
	done
	cat left; test ! -s left
'

test_expect_success '-f --since: a node with no line that recent never replays older ones' '
	"$VZMASTER" -C "$CLOUD" logs -f --since $((T0 + 101)) shop >f2 2>&1 &
	pid=$!
	wait_for "z1 db later" f2 || :
	put n1 vz.shop.app.log 102 "a1 newest"
	wait_for "a1 newest" f2 || :
	sleep 4	# a while: nothing may be repeated
	kill -INT $pid; st=0; wait $pid || st=$?
	cat f2
	printf "%s\n" "z1 db | z1 db later" "a1 app | a1 newest" >want2 &&
	test $st -eq 0 && diff -u want2 f2
'

# A node whose vzexec predates --stop-on-eof (its status says 0.6.0) is
# named with the command that upgrades it; the other is still followed.
cat >"$TEST_TMP/oldwrap" <<'EOF'
#!/bin/sh
[ "$1" = status ] || exec /usr/local/sbin/vzexec.real "$@"
/usr/local/sbin/vzexec.real status | sed 's/"version": *"[0-9.]*"/"version": "0.6.0"/'
EOF
test_expect_success '-f names a node too old to stream and follows the other' '
	fv exec n2 mv /usr/local/sbin/vzexec /usr/local/sbin/vzexec.real &&
	fv exec n2 sh -c "cat >/usr/local/sbin/vzexec && chmod 755 /usr/local/sbin/vzexec" \
	    <"$TEST_TMP/oldwrap"
	"$VZMASTER" -C "$CLOUD" logs -f -n 0 shop >f3 2>e3 &
	pid=$!
	wait_for "z1" e3 || :
	put n1 vz.shop.app.log 103 "a1 still followed"
	wait_for "a1 still followed" f3 || :
	kill -INT $pid; st=0; wait $pid || st=$?
	fv exec n2 mv /usr/local/sbin/vzexec.real /usr/local/sbin/vzexec
	cat f3 e3
	test $st -eq 1 && grep -qx "a1 app | a1 still followed" f3 &&
	grep -q "z1: its vzexec (0.6.0) is older than 0.7.0, which .vzmaster logs -f. needs: run .vzmaster newnode --name z1 --user vzadmin $IP2. again" e3
'

test_expect_success 'a vanished node is named, exit 1, the other still prints' '
	fv vanish n2 &&
	st=0; vz logs --connect-timeout 2 shop >out 2>err || st=$?
	cat err
	test $st -eq 1 && grep -q "z1" err && grep -q "^a1 app | a1 later\$" out &&
	! grep -q "^z1 " out
'

test_done

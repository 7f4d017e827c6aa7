#!/bin/sh
# t0600: the SSH transport against a real, throwaway sshd on 127.0.0.1 (as
# OpenSSH's regress/ does): exec with stdout/stderr/status, stdin, big
# output, atomic and resumable SFTP upload, strict and changed host keys,
# ssh-agent and key-file auth, and a connect timeout against an address
# that silently drops packets inside a network namespace of our own.
. "$top_srcdir/tests/lib.sh"
need_root
. "$top_srcdir/tests/integration/sshd-lib.sh"
test_at_exit 'stop_sshd'
sshd_up "$D/host_ed25519" ERROR
KH="$TEST_TMP/.vzmaster/known_hosts"
T() { "$TOOL" -K "$KH" -p $PORT "$@"; }

test_expect_failure_code 103 'strict mode refuses a host not in known_hosts' '
	st=0; T exec 127.0.0.1 true 2>err || st=$?
	grep "unknown host key SHA256:" err && grep "newnode" err &&
	test ! -e "$KH" && exit $st
'

test_expect_success 'TOFU records the key, readable by ssh-keygen -F' '
	T --tofu exec 127.0.0.1 true &&
	ssh-keygen -F "[127.0.0.1]:$PORT" -f "$KH" | grep -q ssh-ed25519 &&
	ssh-keygen -lf "$D/host_ed25519.pub" | awk "{print \$2}" >want &&
	awk "{print \$3}" "$KH" >/dev/null &&
	grep -q "^\[127.0.0.1\]:$PORT ssh-ed25519 " "$KH"
'

test_expect_success 'exec: stdout, stderr and exit status are separate' '
	st=0; T exec 127.0.0.1 sh -c "echo out; echo err >&2; exit 7" >o 2>e || st=$?
	test $st -eq 7 && test "$(cat o)" = out && test "$(cat e)" = err
'

test_expect_success 'exec: argv words reach the node unexpanded' '
	T exec 127.0.0.1 printf "%s|" "a b" "\$HOME" "it'\''s" "*" "" >o &&
	test "$(cat o)" = "a b|\$HOME|it'\''s|*||"
'

test_expect_success 'exec: stdin is passed and closed' '
	seq 1 20000 >in &&
	T --stdin-file in exec 127.0.0.1 sha256sum >o &&
	test "$(cut -d" " -f1 o)" = "$(sha256sum <in | cut -d" " -f1)"
'

test_expect_success 'exec: 10 MiB of output arrives whole' '
	T exec 127.0.0.1 sh -c "head -c 10485760 /dev/zero | tr \"\\\\0\" x; echo done >&2" >o 2>e &&
	test $(wc -c <o) -eq 10485760 && grep -q done e
'

test_expect_failure_code 105 'exec: output beyond the cap is an error' '
	st=0; T exec 127.0.0.1 sh -c "head -c 17000000 /dev/zero" >o 2>e || st=$?
	grep -q exceeds e && exit $st
'

test_expect_success 'exec: a command killed by a signal is reported' '
	st=0; T exec 127.0.0.1 sh -c "kill -TERM \$\$" 2>e || st=$?
	test $st -eq 99 && grep -q "signal TERM" e
'

test_expect_failure_code 104 'exec: the per-command timeout ends a hung command' '
	st=0; T --timeout 1 exec 127.0.0.1 sleep 30 2>e || st=$?
	grep -q "did not finish" e && exit $st
'

test_expect_success 'upload: file lands whole with the mode, no .part left' '
	mkdir -p "$TEST_TMP/remote" &&
	head -c 3000000 /dev/urandom >big &&
	T upload 127.0.0.1 big "$TEST_TMP/remote/big" >o &&
	cmp big "$TEST_TMP/remote/big" &&
	test "$(stat -c %a "$TEST_TMP/remote/big")" = 644 &&
	test ! -e "$TEST_TMP/remote/.big.part" && grep -q "resumed 0" o
'

test_expect_success 'upload: replacing an existing file is atomic rename' '
	echo old >"$TEST_TMP/remote/rep" &&
	ino=$(stat -c %i "$TEST_TMP/remote/rep") &&
	T upload 127.0.0.1 big "$TEST_TMP/remote/rep" &&
	cmp big "$TEST_TMP/remote/rep" &&
	test "$(stat -c %i "$TEST_TMP/remote/rep")" != "$ino"
'

test_expect_success 'upload: an interrupted upload leaves no file in place' '
	head -c 5000000 /dev/urandom >big2 &&
	echo keep >"$TEST_TMP/remote/big2-old" &&
	{ T --abort-at 1000000 upload 127.0.0.1 big2 "$TEST_TMP/remote/big2"; test $? -eq 105; } &&
	test ! -e "$TEST_TMP/remote/big2" &&
	test -s "$TEST_TMP/remote/.big2.part"
'

test_expect_success 'upload: the next upload resumes the matching .part' '
	T upload 127.0.0.1 big2 "$TEST_TMP/remote/big2" >o &&
	cmp big2 "$TEST_TMP/remote/big2" &&
	! grep -q "resumed 0 " o && test ! -e "$TEST_TMP/remote/.big2.part"
'

test_expect_success 'upload: a .part that does not match restarts from 0' '
	head -c 100000 /dev/urandom >"$TEST_TMP/remote/.big2.part" &&
	T upload 127.0.0.1 big2 "$TEST_TMP/remote/big2" >o &&
	grep -q "resumed 0 " o && cmp big2 "$TEST_TMP/remote/big2"
'

test_expect_success 'upload: a killed connection leaves no file in place' '
	head -c 20000000 /dev/urandom >big3 &&
	( T upload 127.0.0.1 big3 "$TEST_TMP/remote/big3" >/dev/null 2>&1 & echo $! >tpid; wait ) &
	i=0; while [ ! -s "$TEST_TMP/remote/.big3.part" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
	kill -9 $(cat tpid); wait
	test ! -e "$TEST_TMP/remote/big3"
'

test_expect_success 'auth by ssh-agent' '
	eval "$(ssh-agent -s)" >/dev/null &&
	mkdir -p "$TEST_TMP/agenthome/.ssh" &&
	ssh-add -q "$HOME/.ssh/id_ed25519" 2>/dev/null &&
	st=0; HOME="$TEST_TMP/agenthome" T -v exec 127.0.0.1 true 2>e || st=$?
	ssh-agent -k >/dev/null
	test $st -eq 0 && grep -q "with agent key" e
'

test_expect_success 'an encrypted key is named as such when auth fails' '
	mkdir -p "$TEST_TMP/enc/.ssh" &&
	ssh-keygen -q -t ed25519 -N secret -f "$TEST_TMP/enc/.ssh/id_ed25519" &&
	st=0; HOME="$TEST_TMP/enc" T exec 127.0.0.1 true 2>e || st=$?
	test $st -eq 102 && grep -q "authentication failed for root@127.0.0.1" e &&
	grep -q "is encrypted" e
'

test_expect_success '~/.ssh/config: HostName, Port and IdentityFile of an alias' '
	mv "$HOME/.ssh/id_ed25519" "$HOME/.ssh/other_key" &&
	cat >"$HOME/.ssh/config" <<EOC &&
Host nothere
  Port 1
Host lo*
  HostName 127.0.0.1
  Port $PORT
  IdentityFile ~/.ssh/other_key
Host *
  Port 2
  User nobody
EOC
	st=0; "$TOOL" -K "$KH" -l root -F "$HOME/.ssh/config" exec loopy echo hi >o || st=$?
	mv "$HOME/.ssh/other_key" "$HOME/.ssh/id_ed25519"; rm "$HOME/.ssh/config"
	test $st -eq 0 && test "$(cat o)" = hi
'

stop_sshd
n=0
until start_sshd "$D/host2_ed25519" ERROR; do
	n=$((n + 1)); [ $n -lt 5 ] || break; stop_sshd
done
# the old key was recorded for the old port: record it for the new one too
sed -n "s/^\[127.0.0.1\]:[0-9]* /[127.0.0.1]:$PORT /p" "$KH" >>"$KH"

test_expect_success 'a changed host key is refused with both fingerprints' '
	st=0; T --tofu exec 127.0.0.1 true 2>e || st=$?
	old=$(ssh-keygen -lf "$D/host_ed25519.pub" | cut -d" " -f2) &&
	new=$(ssh-keygen -lf "$D/host2_ed25519.pub" | cut -d" " -f2) &&
	test $st -eq 103 && grep -q "host key changed" e &&
	grep -q "$old" e && grep -q "$new" e && grep -q "known_hosts:2" e &&
	test "$(ssh-keygen -lf "$KH" | sed -n 2p | cut -d" " -f2)" = "$old"
'

test_expect_success '--replace-host-key replaces it (and only then)' '
	T --replace-host-key exec 127.0.0.1 true &&
	T exec 127.0.0.1 true &&
	test $(grep -c "^\[127.0.0.1\]:$PORT " "$KH") -eq 1
'

test_expect_success 'hashed known_hosts entries are understood' '
	cp "$KH" kh2 && ssh-keygen -H -f kh2 >/dev/null 2>&1 &&
	grep -q "^|1|" kh2 &&
	"$TOOL" -K kh2 -p $PORT exec 127.0.0.1 true
'

test_expect_success 'fanout: every node gets a result, failures by name' '
	st=0; "$TOOL" -K "$KH" -p $PORT -j 4 fanout 127.0.0.1 127.0.0.1 localhost -- true >o || st=$?
	test $st -eq 1 && grep -q "\"name\":\"localhost\",\"rc\":-3" o &&
	test $(grep -o "\"rc\":0" o | wc -l) -eq 2
'

test_expect_success 'newnode --help, and usage errors exit 2' '
	"$VZMASTER" newnode --help | grep -q -- "--password-file" &&
	st=0; "$VZMASTER" newnode 2>e || st=$?; test $st -eq 2 &&
	st=0; "$VZMASTER" newnode --port 0 h 2>e || st=$?; test $st -eq 2 &&
	st=0; "$VZMASTER" newnode --user "Bad User" h 2>e || st=$?; test $st -eq 2 &&
	st=0; "$VZMASTER" newnode --connect-timeout x h 2>e || st=$?; test $st -eq 2 &&
	st=0; "$VZMASTER" newnode a b 2>e || st=$?; test $st -eq 2
'

# No key at all (empty $HOME, no agent): newnode can never log in to this
# machine's loopback sshd, so it cannot change anything here.
test_expect_success 'newnode: no password and no terminal is a clear error' '
	mkdir -p cl nokeys && st=0
	HOME="$TEST_TMP/nokeys" env -u VZMASTER_PASSWORD setsid "$VZMASTER" \
		-C cl newnode --user vzt --port $PORT 127.0.0.1 </dev/null >o 2>e || st=$?
	test $st -eq 1 && grep -q "password needed" e
'

# A connect timeout against an address that drops everything: inside a
# network namespace of our own, 10.201.3.4 sits behind a veth pair whose
# far end has no such address, and a permanent neighbour entry with a
# foreign MAC address makes the far end discard the SYNs without answer.
NS=vzt0600-$$
if ip netns add $NS 2>/dev/null; then
	test_at_exit "ip netns del $NS 2>/dev/null"
	ip -n $NS link set lo up &&
	ip -n $NS link add vzda type veth peer name vzdb &&
	ip -n $NS addr add 10.201.0.1/16 dev vzda &&
	ip -n $NS link set vzda up && ip -n $NS link set vzdb up &&
	ip -n $NS neigh add 10.201.3.4 lladdr 02:00:00:00:02:01 dev vzda nud permanent
	test_expect_failure_code 101 'connect to a silent address fails within the timeout' '
		st=0; ip netns exec '$NS' "$TOOL" -K "$KH" --connect-timeout 1 exec 10.201.3.4 true 2>e || st=$?
		grep -q "timed out after 1.0 s" e && exit $st
	'
	test_expect_failure_code 101 'a refused port is a retryable error' '
		st=0; ip netns exec '$NS' "$TOOL" -K "$KH" -p 9 exec 127.0.0.1 true 2>e || st=$?
		grep -q "refused" e && exit $st
	'
else
	test_expect_success 'network namespaces (skipped: ip netns add failed)' 'true'
fi

test_done

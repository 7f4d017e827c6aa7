#!/bin/sh
# t0460-vzexec-session: `vzexec session`, the master's one channel per
# node, spoken to locally by vzsession.py: the greeting, verbs answered
# with their own stdout, stderr and exit status, stdin given to a verb
# (spec-put) and stdin a verb does not read (drained, the next request
# still in step), output over many frames, a verb killed by a signal, a
# verb run from the vzexec on disk (an upgrade while the session is
# open), malformed requests and input that ends mid-request.
. "$top_srcdir/tests/lib.sh"
need_root
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
[ -x "$VZEXEC" ] || skip_all "vzexec not built"

SESS="python3 $top_srcdir/tests/integration/vzsession.py"
R=$TEST_TMP/root
mkdir -p "$R/pods" "$R/run"
# the verbs log to this socket-less path: nothing reaches the host's syslog
export VZEXEC_SYSLOG=$TEST_TMP/no-syslog.sock

# field LINE KEY: a member of the JSON object on line LINE of out
field() {
	sed -n "${1}p" out | python3 -c '
import json, sys
v = json.load(sys.stdin)[sys.argv[1]]
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$2"
}

test_expect_success 'greeting, then verbs with their output and exit status' '
	cat >s.json <<-EOF &&
	[{"argv": ["version"]},
	 {"argv": ["no-such-verb"]},
	 {"argv": ["status", "--root", "$R"]}]
	EOF
	$SESS s.json -- "$VZEXEC" session >out &&
	test "$(field 1 greeting)" = "VZSESSION 1" &&
	test "$(field 2 out)" = "vzexec $("$VZEXEC" version | cut -d" " -f2)" &&
	test "$(field 2 status)" = 0 &&
	test "$(field 3 status)" = 2 &&
	field 3 err | grep -q "unknown verb .no-such-verb." &&
	test -z "$(field 3 out)" &&
	field 4 out | python3 -c "import json,sys; assert json.load(sys.stdin)[\"vzstatus\"] == 1" &&
	test "$(field 5 session_exit)" = 0 && test -z "$(field 5 session_stderr)"
'

test_expect_success 'stdin reaches the verb: spec-put installs the spec' '
	img=$(printf "%064d" 0 | tr 0 a) &&
	spec="{\"vzspec\":1,\"name\":\"web\",\"hash\":\"h1\",\"restartPolicy\":\"Always\",\"containers\":[{\"name\":\"c\",\"image\":\"$img\",\"command\":[\"/bin/true\"]}]}" &&
	python3 -c "import json,sys; print(json.dumps([{\"argv\": [\"spec-put\", \"--root\", sys.argv[1], \"web\"], \"stdin\": sys.argv[2]}, {\"argv\": [\"version\"]}]))" "$R" "$spec" >s.json &&
	$SESS s.json -- "$VZEXEC" session >out &&
	test "$(cat "$R/pods/web.json")" = "$spec" &&
	field 2 err | grep -q "no supervisor" &&
	test "$(field 3 status)" = 0
'

test_expect_success 'stdin a verb does not read is drained; the next request is in step' '
	head -c 3000000 /dev/urandom >big &&
	cat >s.json <<-EOF &&
	[{"argv": ["version"], "stdin_file": "big"},
	 {"argv": ["version"], "stdin_file": "big"},
	 {"argv": ["no-such-verb"], "stdin_file": "big"},
	 {"argv": ["version"]}]
	EOF
	$SESS s.json -- "$VZEXEC" session >out &&
	for l in 2 3 5; do test "$(field $l status)" = 0 || exit 1; done &&
	test "$(field 4 status)" = 2 && field 5 out | grep -q "^vzexec " &&
	test "$(field 6 session_exit)" = 0
'

test_expect_success 'output larger than a frame arrives whole, in order' '
	i=0; while [ $i -lt 1200 ]; do
		printf "{\"vzspec\":1,\"name\":\"p%d\",\"hash\":\"h%d\",\"restartPolicy\":\"Always\",\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"command\":[\"/bin/true\"]}]}\n" $i $i >"$R/pods/p$i.json"
		i=$((i + 1))
	done &&
	"$VZEXEC" status --root "$R" >direct.json &&
	test $(wc -c <direct.json) -gt 140000 &&
	printf "[{\"argv\": [\"status\", \"--root\", \"%s\"]}]\n" "$R" >s.json &&
	$SESS s.json -- "$VZEXEC" session >out &&
	test "$(field 2 out_frames)" -ge 3 &&
	field 2 out >via.json &&
	python3 -c "
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for d in (a, b):
    for k in (\"node\",):
        d.pop(k, None)
assert a == b, \"status through the session differs\"
" direct.json via.json
'

# a supervisor, so that `wait` waits (without one it exits at once)
RW=$TEST_TMP/rootw
mkdir -p "$RW/pods" "$RW/run"
"$VZEXEC" supervise --root "$RW" >"$TEST_TMP/supervise.out" 2>&1 &
SUP_PID=$!
test_at_exit "kill $SUP_PID 2>/dev/null"

test_expect_success 'a verb killed by a signal is answered as such' '
	i=0; while [ $i -lt 100 ] && [ ! -f "$RW/run/supervise.pid" ]; do
		sleep 0.1; i=$((i + 1)); done
	cat >s.json <<-EOF &&
	[{"signal_child": "KILL"},
	 {"argv": ["wait", "--root", "$RW", "--timeout", "60", "nosuchpod", "h1"]},
	 {"argv": ["version"]}]
	EOF
	$SESS s.json -- "$VZEXEC" session >out &&
	test "$(field 2 status)" = -1 && test "$(field 2 signal)" = KILL &&
	test "$(field 3 status)" = 0
'

test_expect_success 'each verb runs the vzexec on disk (an upgrade mid-session)' '
	mkdir -p bin && cp "$VZEXEC" bin/vzexec && : >up.out &&
	mkfifo go || exit 1
	# (its own list: a trailing & would run the lines above with it)
	( python3 - "$PWD/bin/vzexec" "$PWD/go" <<-\EOP
	import struct, subprocess, sys
	p = subprocess.Popen([sys.argv[1], "session"], stdin=subprocess.PIPE,
	                     stdout=subprocess.PIPE)
	def ask(verb):
	    v = verb.encode()
	    p.stdin.write(b"R" + struct.pack(">II", 1, len(v)) + v +
	                  struct.pack(">Q", 0))
	    p.stdin.flush()
	    out = b""
	    while True:
	        h = p.stdout.read(5)
	        body = p.stdout.read(struct.unpack(">I", h[1:])[0])
	        if h[:1] == b"O":
	            out += body
	        if h[:1] == b"X":
	            return out.decode().strip(), struct.unpack(">i", body[:4])[0]
	assert p.stdout.read(12) == b"VZSESSION 1\n"
	print(ask("version"), flush=True)
	open(sys.argv[2]).read()		# the test replaces the binary
	print(ask("version"))
	p.stdin.close()
	print(p.wait())
	EOP
	) >up.out &
	pid=$! &&
	i=0; while [ "$(wc -l <up.out)" -lt 1 ] && [ $i -lt 300 ]; do
		sleep 0.1; i=$((i + 1)); done
	test "$(wc -l <up.out)" -eq 1 || { kill $pid; exit 1; }
	printf "#!/bin/sh\necho vzexec 9.9.9-upgraded\n" >bin/vzexec.new &&
	chmod 755 bin/vzexec.new && mv bin/vzexec.new bin/vzexec &&
	echo go >go &&
	wait $pid &&
	sed -n 1p up.out | grep -q "vzexec 0\." &&
	sed -n 2p up.out | grep -q "vzexec 9.9.9-upgraded" &&
	test "$(sed -n 3p up.out)" = 0
'

test_expect_success 'malformed requests end the session with exit 2 and a message' '
	for raw in 5800000001 5200000000 52000000ff 52000000010000ffff; do
		printf "[{\"raw\": \"%s\"}]\n" $raw >s.json &&
		$SESS s.json -- "$VZEXEC" session >out || exit 1
		test "$(field 2 session_exit)" = 2 || { cat out; exit 1; }
		field 2 session_stderr | grep -q "^vzexec: session: " || exit 1
	done
'

test_expect_success 'input ending inside a request ends the session with an error' '
	printf "[{\"raw\": \"52000000010000000776657273696f6e\"}]\n" >s.json &&
	$SESS s.json -- "$VZEXEC" session >out &&
	test "$(field 2 session_exit)" = 2 &&
	field 2 session_stderr | grep -q "input ends inside a request" &&
	printf "[{\"raw\": \"520000000100000007766572736f6e30000000000000000a6162\"}]\n" >s.json &&
	$SESS s.json -- "$VZEXEC" session >out &&
	test "$(field 2 session_exit)" = 1
'

test_expect_success 'session: usage' '
	"$VZEXEC" session --help | grep -q "session" &&
	st=0; "$VZEXEC" session extra 2>err || st=$?
	test $st -eq 2 &&
	st=0; (cd bin && ln -sf "$VZEXEC" vz && PATH=$PWD "vz" session </dev/null 2>../err) || st=$?
	test $st -eq 2 && grep -q "full path" err
'

test_done

#!/bin/bash
# deploy, kill and self-healing on three fake VPSes of two vendors: every
# step checks what really runs on the nodes (processes in the node's PID
# namespace, `vzexec status` there), not only what vzmaster prints.
. "$top_srcdir/tests/lib.sh"
need_root
[ -n "${FAKEVPS:-}" ] || FAKEVPS="$top_srcdir/tests/fakevps/fakevps"
[ -x "$VZEXEC" ] || skip_all "vzexec not built"
command -v sshpass >/dev/null 2>&1 || true

export FAKEVPS_DIR="$TEST_TMP/nodes"
C="$TEST_TMP/cloud"
test_at_exit '"$FAKEVPS" down >/dev/null 2>&1; [ -n "${SSH_AGENT_PID:-}" ] && kill "$SSH_AGENT_PID" 2>/dev/null'

vz() { "$VZMASTER" -C "$C" "$@"; }
on() { local node=$1; shift; "$FAKEVPS" exec "$node" "$@"; }
# pods NODE: "pod:hash8:state" lines from the node's own vzexec status
pods_on() {
	on "$1" /usr/local/sbin/vzexec status | python3 -c '
import json, sys
for p in json.load(sys.stdin)["pods"]:
    st = ",".join(c["state"] for c in p["containers"])
    print("%s:%s:%s" % (p["name"], (p["hash"] or "")[:8], st))'
}
count_procs() { on "$1" ps -eo args | grep -c -- "$2" || true; }

mkdir -p "$C/pods" "$C/images/v1/bin" "$C/images/v1/www" "$C/images/v1/etc"
cp /bin/busybox "$C/images/v1/bin/busybox"
for a in sh httpd sleep cat; do ln -s busybox "$C/images/v1/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$C/images/v1/etc/passwd"
echo 'v1' >"$C/images/v1/www/index.html"
head -c 3000000 /dev/urandom >"$C/images/v1/www/blob"
cat >"$C/pods/hello.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 2
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: httpd
        image: dir:../images/v1
        command: [/bin/busybox, httpd, -f, -p, "8090", -h, /www]
        env: [{name: GREETING, value: one}]
        ports: [{containerPort: 8090, hostPort: 8090}]
        readinessProbe:
          httpGet: {path: /, port: 8090}
          periodSeconds: 1
YAML
cat >"$C/pods/solo.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: sleeper
    image: dir:../images/v1
    command: [/bin/busybox, sleep, "100000"]
YAML

"$FAKEVPS" up n1 n2 n3 >/dev/null || skip_all "fake VPSes did not start"
ssh-keygen -q -t ed25519 -N '' -f "$TEST_TMP/id" </dev/null
eval "$(ssh-agent -s)" >/dev/null
ssh-add -q "$TEST_TMP/id"
for n in n1 n2 n3; do
	v=alpha; [ $n = n3 ] && v=beta
	VZMASTER_PASSWORD=$("$FAKEVPS" password $n) VZEXEC="$VZEXEC" \
	    vz newnode --name $n --vendor $v --user vz "$("$FAKEVPS" ip $n)" \
	    >"$TEST_TMP/newnode-$n.log" 2>&1 || skip_all "newnode $n failed"
done

test_expect_success 'first deploy converges (exit 0)' '
	vz -q deploy --timeout 60
'
test_expect_success 'hello runs on two nodes of two vendors, solo on one' '
	a=0; b=0; s=0
	for n in n1 n2 n3; do
		pods_on $n >$n.pods
		grep -q "^hello:.*:running$" $n.pods && { [ $n = n3 ] && b=1 || a=$((a+1)); }
		grep -q "^solo:.*:running$" $n.pods && s=$((s+1))
	done
	[ $((a + b)) -eq 2 ] && [ $b -eq 1 ] && [ $s -eq 1 ]
'
test_expect_success 'the processes run in the nodes PID namespaces, once each' '
	total=0
	for n in n1 n2 n3; do total=$((total + $(count_procs $n "httpd -f -p 8090"))); done
	[ $total -eq 2 ]
'
test_expect_success 'a second deploy changes nothing' '
	vz --json deploy >again.json &&
	python3 -c "import json; r = json.load(open(\"again.json\")); assert r[\"results\"] == [], r[\"results\"]; assert r[\"bytesSent\"] == 0"
'

# sessions NODE: pids of the node's `vzexec session` processes
sessions() {
	on "$1" ps -eo pid=,args= |
	    awk '$2 == "/usr/local/sbin/vzexec" && $3 == "session" { print $1 }'
}
test_expect_success 'the verbs ran on one vzexec session per node, kept for later runs' '
	for n in n1 n2 n3; do
		sessions $n >$n.sess &&
		test $(wc -l <$n.sess) -eq 1 || { echo "$n: $(cat $n.sess)"; exit 1; }
	done &&
	vz status >/dev/null &&
	for n in n1 n2 n3; do
		sessions $n >$n.sess2 && cmp $n.sess $n.sess2 || exit 1
		! pods_on $n | grep -q "^hello:" ||
		    on $n cat /var/lib/vz/run/log/vzexec.log |
		    grep -q "session: spec-put --wait [0-9]* hello$" || exit 1
	done
'

hello_nodes() { for n in n1 n2 n3; do pods_on $n | grep -q "^hello:" && echo $n; done; }
sed -i 's/value: one/value: two/' "$C/pods/hello.yaml"
echo v2 >"$C/images/v1/www/index.html"
test_expect_success 'an update (spec and image) rolls out, one node at a time' '
	vz --json deploy --timeout 60 >upd.json &&
	python3 -c "
import json
r = json.load(open(\"upd.json\"))
ups = [a for a in r[\"plan\"][\"actions\"] if a[\"op\"] == \"update\" and a[\"pod\"] == \"hello\"]
assert len(ups) == 2, ups
assert sorted(a[\"wave\"] for a in ups) == [1, 2], ups
assert all(x[\"ok\"] for x in r[\"results\"]), r[\"results\"]
print(\"sent\", r[\"bytesSent\"], \"full\", r[\"bytesFull\"])
assert 0 < r[\"bytesSent\"] < r[\"bytesFull\"] / 10, (r[\"bytesSent\"], r[\"bytesFull\"])
"
'
test_expect_success 'solo (no hostPort) was updated side by side, one copy left' '
	python3 -c "
import json
r = json.load(open(\"upd.json\"))
s = [x for x in r[\"results\"] if x[\"pod\"] == \"solo\"]
assert len(s) == 1 and s[0][\"ok\"] and \"side by side\" in s[0][\"message\"], s
" &&
	total=0 &&
	for n in n1 n2 n3; do
		! pods_on $n | grep -q "^solo.next:" &&
		total=$((total + $(count_procs $n "sleep 100000")))
	done && [ $total -eq 1 ]
'
test_expect_success 'the new version answers on both nodes' '
	for n in $(hello_nodes); do
		curl -sS --max-time 5 "http://$("$FAKEVPS" ip $n):8090/" | grep -qx v2
	done
'

cp "$C/pods/hello.yaml" "$TEST_TMP/hello.good"
sed -i "s|command: \[/bin/busybox, httpd|command: [/bin/no-such-httpd, httpd|" "$C/pods/hello.yaml"
echo v2b >"$C/images/v1/www/index.html"	# the broken version has a new image too
images_on() { on "$1" /usr/local/sbin/vzexec status | python3 -c '
import json, sys
print(" ".join(i["id"] for i in json.load(sys.stdin)["images"]))'; }
test_expect_failure_code 1 'a broken update fails' '
	vz -vv deploy --timeout 30 2>broken.err
'
test_expect_success 'it names the pod and the node, and rolled back' '
	grep -q "hello: n[123]: cannot start .hello.*executable not found" broken.err &&
	grep -q "rolled back" broken.err
'
test_expect_success 'the failed version was not tried on the second node' '
	test $(grep -c "executable not found" broken.err) -eq 1 &&
	grep -q "hello: update not attempted: it failed on an earlier node" broken.err
'
# The second node's spec-put was started while the first node switched
# (held connections): unused, it was sent blanks, which changed nothing
# (the test after next).
test_expect_success 'the second wave'"'"'s spec-put was started ahead, then not used' '
	a=$(sed -n "s/.*hello: \(n[123]\): cannot start.*/\1/p" broken.err | head -1) &&
	b=$(hello_nodes | grep -vx "$a") && [ -n "$a" ] && [ -n "$b" ] &&
	grep -q "^vzmaster: $b: exec (held) .*spec-put" broken.err &&
	test $(grep -c "^vzmaster: $b: exec (held) .*spec-put" broken.err) -eq 1 || {
		echo "a=$a b=$b"; grep -v "host key\|using the conn" broken.err; false; }
'
test_expect_success 'images were staged on every node before the waves' '
	# the second node never switched, yet holds the broken version image
	set -- $(hello_nodes) && a=$(images_on $1) && b=$(images_on $2) &&
	test $(echo $a | wc -w) -ge 3 && test $(echo $b | wc -w) -ge 3
'
test_expect_success 'the old version still serves everywhere' '
	for n in $(hello_nodes); do
		pods_on $n | grep -q "^hello:.*:running$" &&
		curl -sS --max-time 5 "http://$("$FAKEVPS" ip $n):8090/" | grep -qx v2
	done
'
cp "$TEST_TMP/hello.good" "$C/pods/hello.yaml"
echo v2 >"$C/images/v1/www/index.html"

# A node whose delta base is damaged: the delta cannot rebuild the image,
# the node refuses it (digest check) and the full image goes instead.
image_of() {	# NODE: image id the hello container runs
	on "$1" /usr/local/sbin/vzexec status | python3 -c '
import json, sys
for p in json.load(sys.stdin)["pods"]:
    if p["name"] == "hello": print(p["containers"][0]["image"])'
}
bad=$(hello_nodes | head -n1)
test_expect_success 'a damaged delta base: the full image is sent instead' '
	old=$(image_of $bad) && [ -n "$old" ] &&
	for t in $(images_on $bad); do	# whichever one serves as the base
		on $bad dd if=/dev/urandom of=/var/lib/vz/images/$t/tarmap bs=1 \
		    count=64 seek=100 conv=notrunc status=none
	done &&
	echo v3 >"$C/images/v1/www/index.html" &&
	vz --json deploy --timeout 60 >fb.json 2>fb.err &&
	python3 -c "
import json
r = json.load(open(\"fb.json\"))
ev = [e for e in r[\"events\"] if \"did not rebuild\" in e]
assert len(ev) == 1 and ev[0].startswith(\"$bad:\"), r[\"events\"]
assert all(x[\"ok\"] for x in r[\"results\"]), r[\"results\"]
"
'
test_expect_success 'every node holds the new image with the right digest' '
	id=$(image_of $bad) && [ "$id" != "$old" ] &&
	for n in $(hello_nodes); do
		[ "$(image_of $n)" = "$id" ] &&
		[ "$(on $n /usr/local/sbin/vzexec image-cat $id | sha256sum | cut -d" " -f1)" = "$id" ] &&
		curl -sS --max-time 5 "http://$("$FAKEVPS" ip $n):8090/" | grep -qx v3
	done
'
# vzmaster status against what the nodes themselves report.
test_expect_success 'status: every replica with node, vendor, state and image; every node' '
	ver=$("$VZEXEC" version | cut -d" " -f2) &&
	vz --json status >st.json && vz status >st.txt && cat st.txt &&
	for n in $(hello_nodes); do echo "$n $(image_of $n)"; done >want.txt &&
	python3 -c "
import json
r = json.load(open(\"st.json\"))
nodes = {n[\"name\"]: n for n in r[\"nodes\"]}
assert sorted(nodes) == [\"n1\", \"n2\", \"n3\"], nodes
for n in nodes.values():
    assert n[\"reachable\"] and n[\"supervisorRunning\"] and n[\"os\"], n
    assert n[\"memTotal\"] > 0 and n[\"diskFree\"] > 0, n
    assert n[\"vzexecVersion\"] == \"$ver\", n
want = dict(l.split() for l in open(\"want.txt\"))
got = {}
for p in r[\"pods\"]:
    if p[\"pod\"] == \"hello\":
        c = p[\"containers\"][0]
        assert c[\"name\"] == \"httpd\" and c[\"state\"] == \"running\" and c[\"ready\"], p
        got[p[\"node\"]] = c[\"image\"]
assert got == want, (got, want)
assert len({nodes[n][\"vendor\"] for n in got}) == 2, got
" &&
	grep -Eq "^POD/CONTAINER .* MEMORY +IMAGE$" st.txt &&
	while read -r n id; do
		grep -Eq "^hello/httpd +$n +[a-z]+ +running +yes .* ${id%${id#????????????}}$" st.txt || exit 1
	done <want.txt &&
	for n in n1 n2 n3; do
		grep -Eq "^$n +[a-z]+ +yes .* $ver$" st.txt || exit 1
	done
'
test_expect_success 'nodes that got images dropped unused old ones (image-gc)' '
	# v1, v2, v2b and v3 of one reference: v1, the oldest and unused,
	# went with the push of v3 (not checked on $bad, whose tarballs the
	# test above rewrote, so their times no longer tell their age)
	for n in $(hello_nodes); do
		[ $n = $bad ] && continue
		test $(images_on $n | wc -w) -eq 3 &&
		images_on $n | grep -q "$(image_of $n)" || {
			cat fb.json; on $n /usr/local/sbin/vzexec image-list
			exit 1
		}
	done
'
# A node that cannot remove an old image (a mount point here) still takes
# the update, and the deploy says the disk was not cleaned.
stuck=$(hello_nodes | grep -vx "$bad" | head -n1)
test_expect_success 'an old image the node cannot remove is reported by deploy' '
	for t in $(images_on $stuck); do
		on $stuck mount --bind /var/lib/vz/images/$t /var/lib/vz/images/$t || exit 1
	done &&
	echo v4 >"$C/images/v1/www/index.html" &&
	st=0; vz --json deploy --timeout 60 >gc.json 2>gc.err || st=$?
	for t in $(images_on $stuck); do
		on $stuck umount /var/lib/vz/images/$t 2>/dev/null || :
	done
	test $st -eq 0 && python3 -c "
import json
r = json.load(open(\"gc.json\"))
ev = [e for e in r[\"events\"] if \"old images were not removed\" in e]
assert len(ev) == 1 and ev[0].startswith(\"$stuck: \") and \"busy\" in ev[0], r[\"events\"]
assert all(x[\"ok\"] for x in r[\"results\"]), r[\"results\"]
" && curl -sS --max-time 5 "http://$("$FAKEVPS" ip $stuck):8090/" | grep -qx v4
'

test_expect_failure_code 2 'kill of a pod not in the manifests is refused' '
	vz kill sollo
'
test_expect_success 'kill stops solo everywhere' '
	vz -q kill solo &&
	for n in n1 n2 n3; do ! pods_on $n | grep -q "^solo:"; done &&
	for n in n1 n2 n3; do [ "$(count_procs $n "sleep 100000")" -eq 0 ]; done
'
# The line of scripts/cron/vzmaster.crontab, run as cron runs it: a bare
# environment (no ssh-agent: the key in ~/.ssh), output through the real
# logger(1) into a syslog socket of the test's.  A run with nothing to do
# logs nothing; one that failed says so there.
CRON_HOME=$TEST_TMP/cronhome
mkdir -p "$CRON_HOME/.ssh" "$TEST_TMP/cronbin"
cp "$TEST_TMP/id" "$CRON_HOME/.ssh/id_ed25519"
ln -s "$C" "$CRON_HOME/mycloud"
ln -s "$VZMASTER" "$TEST_TMP/cronbin/vzmaster"
printf '#!/bin/sh\nexec %s -u %s "$@"\n' "$(command -v logger)" "$TEST_TMP/cron.sock" \
    >"$TEST_TMP/cronbin/logger"
chmod 755 "$TEST_TMP/cronbin/logger"
python3 "$top_srcdir/tests/integration/syslog-listen.py" "$TEST_TMP/cron.sock" \
    "$TEST_TMP/cron.log" &
test_at_exit "kill $! 2>/dev/null"
cron_line() {
	env -i HOME="$CRON_HOME" LOGNAME=root SHELL=/bin/sh \
	    PATH="$TEST_TMP/cronbin:/usr/bin:/bin" /bin/sh -c \
	    "$(grep -v "^#" "$top_srcdir/scripts/cron/vzmaster.crontab" | grep . |
	    sed "s/^\([^ ]* \)\{5\}//")"
}
# the holders of the runs before go first: this run logs in by itself
holders_stop() {
	for s in "$C"/.vzmaster/cm/*; do
		p=$(ss -xlpn 2>/dev/null | awk -v p="$s" '$5 == p' |
		    sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1)
		[ -z "$p" ] || kill "$p" 2>/dev/null
	done
	sleep 0.5
}
test_expect_success 'the crontab line, as cron runs it, does not bring it back' '
	for i in 1 2 3 4 5 6 7 8 9 10; do test -S "$TEST_TMP/cron.sock" && break; sleep 0.2; done &&
	holders_stop &&
	cron_line && sleep 0.5 &&
	for n in n1 n2 n3; do ! pods_on $n | grep -q "^solo:"; done &&
	! test -s "$TEST_TMP/cron.log"
'
test_expect_success 'a failing cron run reaches syslog, tagged vzmaster' '
	printf "kind: Pod\nmetadata: [\n" >"$C/pods/broken.yaml" &&
	cron_line; sleep 0.5
	rm -f "$C/pods/broken.yaml"
	cat "$TEST_TMP/cron.log" &&
	grep -q " vzmaster: .*pods/broken.yaml:[0-9]*:[0-9]*" "$TEST_TMP/cron.log"
'
test_expect_success 'naming it in deploy does' '
	vz -q deploy solo &&
	n=0; for x in n1 n2 n3; do pods_on $x | grep -q "^solo:.*:running$" && n=$((n+1)); done; [ $n -eq 1 ]
'

# a network cut shorter than the grace moves nothing
victim=$(hello_nodes | head -n1)
test_expect_success 'a short network cut moves nothing' '
	"$FAKEVPS" cut $victim &&
	vz --json deploy --connect-timeout 2 >cut.json; rc=$?
	"$FAKEVPS" heal $victim
	python3 -c "
import json
r = json.load(open(\"cut.json\"))
assert [a for a in r[\"plan\"][\"actions\"] if a[\"op\"] != \"keep\"] == [], r[\"plan\"][\"actions\"]
" && vz --json deploy >healed.json &&
	python3 -c "import json; assert json.load(open(\"healed.json\"))[\"results\"] == []"
'

survivors_vendor_ok() {	# hello on two nodes again, of two vendors
	a=0; b=0
	for n in n1 n2 n3; do
		[ $n = $victim ] && continue
		pods_on $n | grep -q "^hello:.*:running$" && { [ $n = n3 ] && b=1 || a=1; }
	done
	[ $a -eq 1 ] && [ $b -eq 1 ]
}
# An image the node imported but never synced (marked), whose rootfs a
# crash damaged without losing bytes (a mode, a stray file): the boot-time
# image-check (inittab bootwait) unpacks it again from its tarball, read
# back through its map.  The one hello runs: its tarball is intact (the
# delta-base test above corrupted the others on this node, and image-check
# rightly removes those).
P=/var/lib/vz/images
test_expect_success 'plant an unsynced, damaged image on the victim' '
	planted=$(image_of $victim) && [ -n "$planted" ] &&
	[ "$(on $victim /usr/local/sbin/vzexec image-cat $planted | sha256sum | cut -d" " -f1)" = "$planted" ] &&
	echo "$planted" >planted.id &&
	on $victim stat -c %a $P/$planted/rootfs/www/index.html >planted.mode &&
	on $victim sh -c "echo boot before-the-crash >$P/$planted/.unsynced &&
	    chmod 0 $P/$planted/rootfs/www/index.html &&
	    echo stray >$P/$planted/rootfs/www/stray"
'
test_expect_success 'a vanished node: nothing moves within the grace' '
	"$FAKEVPS" vanish $victim &&
	vz --json deploy --connect-timeout 2 >v1.json;
	python3 -c "
import json
r = json.load(open(\"v1.json\"))
assert [a for a in r[\"plan\"][\"actions\"] if a[\"op\"] == \"start\"] == [], r[\"plan\"]
"
'
test_expect_success 'after the grace its pods come back on the survivors, vendors spread' '
	vz -q deploy --connect-timeout 2 --timeout 60; survivors_vendor_ok
'
test_expect_success 'the node returns: its extra copies are removed' '
	"$FAKEVPS" boot $victim >/dev/null &&
	for i in 1 2 3 4 5 6 7 8 9 10; do on $victim true 2>/dev/null && break; sleep 1; done;
	sleep 2; vz --json deploy --timeout 60 >ret.json &&
	! pods_on $victim | grep -q "^hello:" &&
	for i in 1 2 3 4 5 6 7 8 9 10; do	# what the kernel has not reaped yet
		total=0 && for n in n1 n2 n3; do total=$((total + $(count_procs $n "httpd -f -p 8090"))); done
		[ $total -eq 2 ] && break; sleep 1
	done && [ $total -eq 2 ] || {
		cat ret.json; for n in n1 n2 n3; do echo "$n:"; pods_on $n
			on $n ps -eo pid,ppid,stat,etimes,args | grep -v " ps -eo"; done
		on $victim cat /var/log/fakeinit.log /var/lib/vz/run/log/vzexec.log
		false
	}
'
test_expect_success 'its boot checked the unsynced image and repaired it' '
	planted=$(cat planted.id) && [ -n "$planted" ] &&
	! on $victim test -e $P/$planted/.unsynced &&
	[ "$(on $victim stat -c %a $P/$planted/rootfs/www/index.html)" = "$(cat planted.mode)" ] &&
	! on $victim test -e $P/$planted/rootfs/www/stray &&
	on $victim test -s $P/$planted/rootfs/www/index.html &&
	[ "$(on $victim /usr/local/sbin/vzexec image-cat $planted | sha256sum | cut -d" " -f1)" = "$planted" ] || {
		on $victim sh -c "cat /etc/inittab /var/log/fakeinit.log;
		    ls -la /var/lib/vz/images /var/lib/vz/images/$planted"
		false
	}
'

# A node whose vzexec is too old for this vzmaster (a wrapper makes its
# status say 0.1.0) is not touched, and the message says how to upgrade.
cat >"$TEST_TMP/oldwrap" <<'EOF'
#!/bin/sh
[ "$1" = status ] || exec /usr/local/sbin/vzexec.real "$@"
/usr/local/sbin/vzexec.real status | sed 's/"version": *"[0-9.]*"/"version": "0.1.0"/'
EOF
old=$(hello_nodes | head -n1)
test_expect_success 'a node with an old vzexec is left alone and told to upgrade' '
	pods_on $old | grep "^hello:" >before &&
	on $old mv /usr/local/sbin/vzexec /usr/local/sbin/vzexec.real &&
	on $old sh -c "cat >/usr/local/sbin/vzexec && chmod 755 /usr/local/sbin/vzexec" \
	    <oldwrap &&
	on $old /usr/local/sbin/vzexec status >st.json && grep -q "\"version\": *\"0.1.0\"" st.json &&
	sed -i "s/value: two/value: three/" "$C/pods/hello.yaml" &&
	{ vz deploy --timeout 30 2>old.err; test $? -eq 1; } &&
	ip=$("$FAKEVPS" ip $old) &&
	grep -q "$old: its vzexec (0.1.0) is older than .*run '\''vzmaster newnode --name $old --user vz $ip'\'' again" old.err &&
	pods_on $old | grep "^hello:" | cmp -s - before || {
		cat old.err before; pods_on $old; on $old /usr/local/sbin/vzexec status
		false
	}
'
# The message's own command upgrades the node (and keeps its vendor).
test_expect_success 'upgraded with the command the message gives, the node takes the update' '
	cmd=$(sed -n "s/.*run '\''vzmaster \(newnode [^'\'']*\)'\'' again.*/\1/p" old.err) &&
	test -n "$cmd" &&
	VZEXEC="$VZEXEC" vz -q $cmd &&
	on $old cmp /usr/local/sbin/vzexec /dev/stdin <"$VZEXEC" &&
	on $old rm -f /usr/local/sbin/vzexec.real &&
	grep -Eq "^$old .*vendor=(alpha|beta)" "$C/hosts.ini" &&
	vz -q deploy --timeout 60 &&
	! pods_on $old | grep "^hello:" | cmp -s - before
'
# The push progress bar: drawn on a terminal (script(1) gives one), at
# least its first and its final frame; never in a cron-style run.
test_expect_success 'a push draws a progress bar on a terminal, none without' '
	echo v5 >"$C/images/v1/www/index.html" &&
	script -qec "$VZMASTER -C $C deploy --timeout 60" /dev/null >tty.out &&
	tr "\r" "\n" <tty.out >tty.lines && cat tty.lines &&
	grep -Eq "^images \[#{30}\] 100%  [0-9.]+ (B|KiB|MiB)/[0-9.]+ (B|KiB|MiB)  " tty.lines &&
	echo v6 >"$C/images/v1/www/index.html" &&
	vz deploy --timeout 60 >notty.out 2>&1 && cat notty.out &&
	grep -q "updated" notty.out && ! grep -q "images \[" notty.out
'
# Bad input.  A manifest error stops deploy before any node is touched
# (exit 2, FILE:LINE:COL); an image that cannot be imported fails its own
# pod (exit 1, named with its FILE:LINE:COL) while the other pods deploy.
test_expect_failure_code 2 'a manifest error: exit 2 at FILE:LINE:COL, no node touched' '
	for n in n1 n2 n3; do pods_on $n; done >before.cfg &&
	sed -i "s/value: three/value: four/" "$C/pods/hello.yaml" &&
	printf "apiVersion: v1\nkind: Pod\nmetadata: {name: broken}\nspec:\n  containers:\n  - name: c\n    image: [oops\n" \
	    >"$C/pods/broken.yaml" &&
	st=0; vz deploy --timeout 30 2>cfg.err || st=$?
	rm -f "$C/pods/broken.yaml"; cat cfg.err
	for n in n1 n2 n3; do pods_on $n; done >after.cfg
	grep -Eq "broken\.yaml:[0-9]+:[0-9]+: error" cfg.err &&
	cmp -s before.cfg after.cfg && exit $st; exit 99
'
cat >"$TEST_TMP/noimg.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: noimg}
spec:
  containers:
  - name: c
    image: oci-archive:../images/damaged.tar
    command: [/bin/busybox, sleep, "100000"]
YAML
# it exists (so the manifest is valid) but is no archive: the import fails
head -c 20000 /dev/urandom >"$C/images/damaged.tar"
test_expect_success 'an image that cannot be imported fails its pod alone; the others deploy' '
	cp noimg.yaml "$C/pods/noimg.yaml" &&
	st=0; vz --json deploy --timeout 60 >imp.json 2>imp.err || st=$?
	rm -f "$C/pods/noimg.yaml"; cat imp.err
	test $st -eq 1 && python3 -c "
import json
r = json.load(open(\"imp.json\"))
f = r[\"importFailures\"]
assert len(f) == 1 and \"noimg.yaml:7:\" in f[0] and \"noimg\" in f[0], f
hello = [x for x in r[\"results\"] if x[\"pod\"] == \"hello\"]
assert len(hello) == 2 and all(x[\"ok\"] and x[\"op\"] == \"update\" for x in hello), r[\"results\"]
assert not [x for x in r[\"results\"] if x[\"pod\"] == \"noimg\"], r[\"results\"]
" &&
	for n in n1 n2 n3; do ! pods_on $n | grep -q "^noimg:" || exit 1; done &&
	grep -q "noimg" imp.err
'
# Retiring a VPS: drain=true in the inventory moves its pods to the other
# nodes, each stopped there only once its replacement runs and is ready
# (phase extra); a replica with nowhere else to go stays, named, exit 1.
drained=$(hello_nodes | grep -v n3 | head -n1)
test_expect_success 'drain=true moves every pod off the node, replacements first' '
	pods_on $drained | cut -d: -f1 | sort >drained.pods
	grep -q "^hello$" drained.pods
	sed -i "s/^$drained .*/& drain=true/" "$C/hosts.ini"
	vz --json deploy --timeout 60 >drain.json
	python3 - "$drained" <<-EOF
	import json, sys
	node = sys.argv[1]
	r = json.load(open("drain.json"))
	acts = [a for a in r["plan"]["actions"] if a["op"] != "keep"]
	stops = [a for a in acts if a["op"] == "stop"]
	starts = [a for a in acts if a["op"] == "start"]
	assert stops and all(a["node"] == node and a["reason"] == "drain" and
	    a["phase"] == "extra" for a in stops), acts
	assert sorted(a["pod"] for a in starts) == sorted(a["pod"] for a in stops), acts
	assert all(a["node"] != node for a in starts), acts
	assert all(x["ok"] for x in r["results"]), r["results"]
	assert r["plan"]["stuck"] == 0, r["plan"]
	EOF
	test -z "$(pods_on $drained)"
	while read -r pod; do
		k=0
		for n in n1 n2 n3; do
			pods_on $n | grep -q "^$pod:[0-9a-f]*:running$" && k=$((k + 1))
		done
		[ $pod = hello ] && want=2 || want=1
		test $k -eq $want
	done <drained.pods
	test $(count_procs $drained "httpd -f -p 8090") -eq 0
'
stuck=n3
test_expect_success 'a replica with nowhere else to go stays on a draining node, exit 1' '
	for n in n1 n2 n3; do pods_on $n; done >stuck.before
	sed -i "s/^$stuck .*/& drain=true/" "$C/hosts.ini"
	st=0; vz deploy --timeout 60 >stuck.out 2>stuck.err || st=$?
	cat stuck.out stuck.err
	for n in n1 n2 n3; do pods_on $n; done >stuck.after
	test $st -eq 1
	grep -q "hello: a replica stays on draining node $stuck: no other reachable node" stuck.err
	cmp stuck.before stuck.after
	pods_on $stuck | grep -q "^hello:[0-9a-f]*:running$"
	vz status >stuck.status
	grep -Eq "^$stuck .*\(draining\)$" stuck.status
	test $(grep -c "(draining)" stuck.status) -eq 2
	vz status --json | python3 -c "
import json, sys
d = {n[\"name\"]: n[\"draining\"] for n in json.load(sys.stdin)[\"nodes\"]}
assert sum(d.values()) == 2 and d[\"$stuck\"], d
"
'
test_expect_success 'drain removed: nothing moves back' '
	sed -i "s/ drain=true//" "$C/hosts.ini"
	! grep -q drain "$C/hosts.ini"
	vz --json deploy --timeout 60 >undrain.json
	python3 -c "
import json
r = json.load(open(\"undrain.json\"))
assert [a for a in r[\"plan\"][\"actions\"] if a[\"op\"] != \"keep\"] == [], r[\"plan\"]
"
'
# A node that dies mid-deploy: a new pod with a replica on every node
# becomes ready only after some seconds; while deploy waits for that, one
# node vanishes.  The deploy goes on with the others, reports that node and
# exits 1; the other replicas run, and what ran before (hello) still runs.
# (The deploy of a node gone for good is the vanish story above.)
cat >"$C/pods/slow.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: slow}
spec:
  replicas: 3
  selector: {matchLabels: {app: slow}}
  template:
    metadata: {labels: {app: slow}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: dir:../images/v1
        command: [/bin/busybox, sh, -c, "sleep 5; echo ok >/ready; exec sleep 100000"]
        readinessProbe:
          exec: {command: [/bin/busybox, cat, /ready]}
          periodSeconds: 1
YAML
dying=$(hello_nodes | head -n1)
test_expect_success 'a node that dies mid-deploy is reported; the others converge' '
	for n in n1 n2 n3; do
		[ $n = $dying ] || pods_on $n | grep "^hello:" || :
	done >hello.before
	test $(wc -l <hello.before) -eq 1
	vz --json deploy --timeout 60 >mid.json 2>mid.err &
	dpid=$!
	i=0; until pods_on $dying 2>/dev/null | grep -q "^slow:"; do
		i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.2; done
	"$FAKEVPS" vanish $dying
	st=0; wait $dpid || st=$?
	cat mid.err
	test $st -eq 1 && python3 - "$dying" <<-EOF &&
	import json, sys
	dying = sys.argv[1]
	r = json.load(open("mid.json"))
	slow = {x["node"]: x for x in r["results"] if x["pod"] == "slow"}
	assert len(slow) == 3, r["results"]
	assert all(x["ok"] for n, x in slow.items() if n != dying), slow
	d = slow[dying]
	assert not d["ok"] and not d["rolledBack"], d
	assert d["message"].startswith(dying + ": ") and \
	    "connection lost" in d["message"], d
	assert r["failed"] == 1, r
	EOF
	for n in n1 n2 n3; do
		[ $n = $dying ] && continue
		pods_on $n | grep -q "^slow:[0-9a-f]*:running$" || exit 1
		pods_on $n | grep "^hello:" || :
	done >hello.after &&
	grep -q ":running$" hello.after && cmp hello.before hello.after
'
test_done

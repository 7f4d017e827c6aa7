# initnode-lib.sh: what t0615 (systemd) and t0616 (OpenRC) share: two fake
# VPSes booting a real init under systemd-nspawn, a cluster folder with a
# busybox web Deployment of two replicas, an agent with the key, and the
# helpers that look at the nodes.  Source it after tests/lib.sh with
#   INIT=systemd|openrc PORT=N MEM=MiB initnode_setup NODE1 NODE2
[ -n "${FAKEVPS:-}" ] || FAKEVPS="$top_srcdir/tests/fakevps/fakevps"
[ -x "$VZEXEC" ] || skip_all "vzexec not built"
command -v systemd-nspawn >/dev/null 2>&1 ||
	skip_all "needs systemd-nspawn (Debian package systemd-container)"

export FAKEVPS_DIR="$TEST_TMP/nodes"
C="$TEST_TMP/cloud"
test_at_exit '"$FAKEVPS" down >/dev/null 2>&1; [ -n "${SSH_AGENT_PID:-}" ] && kill "$SSH_AGENT_PID" 2>/dev/null'

vz() { "$VZMASTER" -C "$C" "$@"; }
on() { local node=$1; shift; "$FAKEVPS" exec "$node" "$@"; }
ip_of() { "$FAKEVPS" ip "$1"; }
until_true() {
	local n=$(($1 * 5)); shift
	while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
	return 1
}
# pods_on NODE: "pod:state" lines from the node's own vzexec status
pods_on() {
	on "$1" /usr/local/sbin/vzexec status | python3 -c '
import json, sys
for p in json.load(sys.stdin)["pods"]:
    print("%s:%s" % (p["name"], ",".join(c["state"] for c in p["containers"])))'
}
supervise_pid() { on "$1" pgrep -xf '/usr/local/sbin/vzexec supervise'; }
httpd_pid() { on "$1" pgrep -f "httpd -f -p $PORT"; }
pid_changed() { local p; p=$(supervise_pid "$1") && [ -n "$p" ] && [ "$p" != "$2" ]; }
serves() { curl -sf --max-time 2 "http://$(ip_of "$1"):$PORT/" | grep -qx v1; }
# the container's memory cgroup holds its pid and has the pod's limit
in_memory_limit() {	# NODE PID BYTES
	on "$1" sh -c "cat /sys/fs/cgroup/memory/vz-*/web.httpd/cgroup.procs" >"$1.procs" &&
	grep -qx "$2" "$1.procs" &&
	on "$1" sh -c "cat /sys/fs/cgroup/memory/vz-*/web.httpd/memory.limit_in_bytes" >"$1.lim" &&
	test "$(cat "$1.lim")" = "$3" || { cat "$1.procs" "$1.lim"; return 1; }
}
# a deploy that changes nothing
deploy_noop() {
	vz --json deploy >again.json &&
	python3 -c "import json; r = json.load(open(\"again.json\")); assert r[\"results\"] == [], r[\"results\"]"
}
# new_vzexec FILE: the same program with bytes appended (another digest)
new_vzexec() { { cat "$VZEXEC"; printf '\n# %s upgrade\n' "$INIT"; } >"$1" && chmod 755 "$1"; }

initnode_setup() {
	mkdir -p "$C/pods" "$C/images/v1/bin" "$C/images/v1/www" "$C/images/v1/etc"
	cp /bin/busybox "$C/images/v1/bin/busybox"
	ln -s busybox "$C/images/v1/bin/sh"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$C/images/v1/etc/passwd"
	echo v1 >"$C/images/v1/www/index.html"
	cat >"$C/pods/web.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: httpd
        image: dir:../images/v1
        command: [/bin/sh, -c, 'echo "hello from web"; exec /bin/busybox httpd -f -p $PORT -h /www']
        ports: [{containerPort: $PORT, hostPort: $PORT}]
        resources:
          limits: {memory: ${MEM}Mi}
        readinessProbe:
          httpGet: {path: /, port: $PORT}
          periodSeconds: 1
YAML
	"$FAKEVPS" up --init "$INIT" "$@" >"$TEST_TMP/up.log" 2>&1 ||
		skip_all "$INIT fake VPSes did not start: $(tail -n 3 "$TEST_TMP/up.log")"
	ssh-keygen -q -t ed25519 -N '' -f "$TEST_TMP/id" </dev/null
	eval "$(ssh-agent -s)" >/dev/null
	ssh-add -q "$TEST_TMP/id"
}

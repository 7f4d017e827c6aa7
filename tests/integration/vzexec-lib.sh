# vzexec-lib.sh: helpers shared by the t04xx vzexec tests (sourced after
# tests/lib.sh).  Builds a busybox-only image from Debian's busybox-static
# and lays it out as ROOT/images/<id>/{rootfs,config.json}.

need_root
command -v busybox >/dev/null 2>&1 || skip_all "busybox-static not installed"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
[ -x "$VZEXEC" ] || skip_all "vzexec not built"
unshare --mount --pid --fork true 2>/dev/null || skip_all "no namespaces here"

VZROOT=$TEST_TMP/root
IMG=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa$(printf %04x $(($$ % 65536)))
BUSYBOX=$(command -v busybox)

# make_rootfs DIR: busybox + its applets, a passwd with user app (1000).
make_rootfs() {
	mkdir -p "$1/bin" "$1/etc" "$1/tmp" "$1/proc" "$1/sys" "$1/dev" \
	    "$1/home/app" "$1/root"
	cp "$BUSYBOX" "$1/bin/busybox"
	"$1/bin/busybox" --install -s "$1/bin" 2>/dev/null ||
	    for a in $("$1/bin/busybox" --list); do
		ln -sf busybox "$1/bin/$a"; done
	# --install -s links to the absolute busybox path: make them relative
	for l in "$1"/bin/*; do
		[ -L "$l" ] && ln -sf busybox "$l"
	done
	chmod 1777 "$1/tmp"
	cat >"$1/etc/passwd" <<EOP
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
EOP
	cat >"$1/etc/group" <<EOP
root:x:0:
app:x:1000:
extra:x:2000:app
EOP
	chown 1000:1000 "$1/home/app"
}

# make_image ROOT ID [USER]
make_image() {
	mkdir -p "$1/images/$2" "$1/pods" "$1/run"
	make_rootfs "$1/images/$2/rootfs"
	cat >"$1/images/$2/config.json" <<EOC
{ "vzimage": 1, "ref": "dir:busybox", "Entrypoint": null,
  "Cmd": ["/bin/sh"], "Env": ["PATH=/bin", "IMGVAR=fromimage"],
  "WorkingDir": "", "User": "${3:-}" }
EOC
}

# write_spec ROOT NAME JSON: atomically, owned by root, 0644
write_spec() {
	printf '%s\n' "$3" >"$1/pods/.$2.json.tmp"
	chmod 0644 "$1/pods/.$2.json.tmp"
	mv "$1/pods/.$2.json.tmp" "$1/pods/$2.json"
}

# wait_until SECONDS COMMAND...: poll until COMMAND succeeds (not a timing
# assertion: a generous bound so a broken build fails instead of hanging).
wait_until() {
	_t=$(($1 * 10)); shift
	while [ $_t -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		_t=$((_t - 1))
	done
	echo "timed out waiting for: $*" >&2
	return 1
}

# jq-less JSON query: ctr_field ROOT POD CTR FIELD (from vzexec status)
ctr_field() {
	"$VZEXEC" status --root "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for p in d["pods"]:
    if p["name"] == sys.argv[1]:
        for c in p["containers"]:
            if c["name"] == sys.argv[2]:
                v = c.get(sys.argv[3])
                print("null" if v is None else v)
' "$2" "$3" "$4"
}

field_is() {	# field_is ROOT POD CTR FIELD VALUE
	[ "$(ctr_field "$1" "$2" "$3" "$4")" = "$5" ]
}

count() {	# processes whose command line holds $1
	n=0
	for f in /proc/[0-9]*/cmdline; do
		tr '\0' ' ' <"$f" 2>/dev/null | grep -q -- "$1" && n=$((n + 1))
	done
	echo $n
}

start_syslog() {	# start_syslog SOCK OUT
	python3 "$top_srcdir/tests/integration/syslog-listen.py" "$1" "$2" &
	SYSLOG_PID=$!
	test_at_exit "kill $SYSLOG_PID 2>/dev/null"
	wait_until 10 test -S "$1"
}

start_supervisor() {	# start_supervisor ROOT [ARGS]: sets SUP_PID
	_r=$1; shift
	"$VZEXEC" supervise --root "$_r" --syslog "$TEST_TMP/log.sock" "$@" \
	    >>"$TEST_TMP/supervise.out" 2>&1 &
	SUP_PID=$!
	wait_until 10 test -f "$_r/run/supervise.pid"
}

stop_all() {	# kill supervisor and anything of ROOT left over
	# a supervisor restarted inside a test subshell is known by its pid file
	[ -f "$VZROOT/run/supervise.pid" ] && SUP_PID=$(cat "$VZROOT/run/supervise.pid")
	[ -n "${SUP_PID:-}" ] && kill -TERM "$SUP_PID" 2>/dev/null
	for f in "$VZROOT"/run/containers/*/*/state; do
		[ -f "$f" ] || continue
		p=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$f")
		[ -n "$p" ] && [ "$p" != 0 ] && kill -9 "$p" 2>/dev/null
	done
	sleep 0.3
	[ -n "${SUP_PID:-}" ] && kill -9 "$SUP_PID" 2>/dev/null
	true
}

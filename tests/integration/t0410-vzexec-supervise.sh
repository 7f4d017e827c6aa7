#!/bin/sh
# t0410-vzexec-supervise: the resident supervisor with real namespaces and
# cgroups: syslog, OOM kill and growing back-off, restartPolicy Never,
# bad specs, SIGHUP add/remove/change, kill -9 and re-adoption, SIGUSR2
# (the binary on disk run in place), SIGTERM.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/vzexec-lib.sh"

make_image "$VZROOT" "$IMG"
test_at_exit stop_all
M=$$
LOG=$TEST_TMP/syslog.txt
start_syslog "$TEST_TMP/log.sock" "$LOG" || skip_all "cannot start the syslog listener"

count_is() { [ "$(count "$1")" -eq "$2" ]; }
late_pid_not() { p=$(ctr_field "$VZROOT" late c pid) && [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$1" ]; }
restarts_ge() { [ "$(ctr_field "$VZROOT" "$1" "$2" restarts)" -ge "$3" ]; }

spec() {	# spec NAME POLICY CONTAINERS-JSON [EXTRA]
	write_spec "$VZROOT" "$1" "{\"vzspec\":1,\"name\":\"$1\",\"hash\":\"h-$1\",
	 \"restartPolicy\":\"$2\",\"terminationGracePeriodSeconds\":1 $4,
	 \"containers\":$3}"
}
sh_ctr() {	# sh_ctr NAME SCRIPT
	printf '{"name":"%s","image":"%s","command":["/bin/sh","-c","%s"]}' \
	    "$1" "$IMG" "$2"
}

spec web Always "[$(sh_ctr app "echo hello from app; exec sleep 1000$M")]"
spec talker Always "[$(sh_ctr c "while :; do echo tick; sleep 1; done")]"
spec never Never "[$(sh_ctr c "echo bye; exit 3")]"
spec hog Always '[{"name":"m","image":"'"$IMG"'","memoryLimit":16777216,
 "command":["/bin/sh","-c","x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done"]}]'
spec nox Always '[{"name":"n","image":"'"$IMG"'","command":["/no/such/binary"]}]'
spec noimg Always '[{"name":"n","image":"bbbbbbbb","command":["/bin/true"]}]'
spec shared Always "[$(sh_ctr writer "echo data >/shared/x; exec sleep 2000$M"),
 $(sh_ctr reader "while ! test -f /shared/x; do sleep 0.2; done; echo saw \$(cat /shared/x); exec sleep 3000$M"),
 $(sh_ctr third "exec sleep 4000$M")]" \
 ',"volumes":[{"name":"s","emptyDir":{}}]'
# the three containers mount the same emptyDir
sed -i 's|"command"|"volumeMounts":[{"name":"s","mountPath":"/shared"}],"command"|g' \
    "$VZROOT/pods/shared.json"
spec probed Always '[{"name":"c","image":"'"$IMG"'",
 "command":["/bin/sh","-c","sleep 1; touch /tmp/ready; exec sleep 8000'"$M"'"],
 "readinessProbe":{"exec":["test","-f","/tmp/ready"],"periodSeconds":1,"failureThreshold":1}}]'
spec lively Always '[{"name":"c","image":"'"$IMG"'",
 "command":["/bin/sleep","9000'"$M"'"],
 "livenessProbe":{"tcpSocket":{"port":1},"periodSeconds":1,"failureThreshold":2}}]'
printf '{"vzspec":1,"name":"broken",' >"$VZROOT/pods/broken.json"
spec notroot Always "[$(sh_ctr c "exec sleep 5000$M")]"
chown 1000 "$VZROOT/pods/notroot.json"

start_supervisor "$VZROOT" --backoff-base-ms 200

test_expect_success 'supervise starts the pods and reports them running' '
	wait_until 20 field_is "$VZROOT" web app state running &&
	wait_until 20 count_is "sleep 1000$M" 1 &&
	pid=$(ctr_field "$VZROOT" web app pid) && [ "$pid" -gt 1 ] &&
	[ "$(ctr_field "$VZROOT" web app restarts)" = 0 ] &&
	mem=$(ctr_field "$VZROOT" web app memoryBytes) && [ "$mem" -gt 0 ]
'

test_expect_success 'status is valid versioned JSON with node facts' '
	"$VZEXEC" status --root "$VZROOT" >st.json &&
	python3 -c "
import json,sys
d=json.load(open(\"st.json\"))
assert d[\"vzstatus\"]==1
n=d[\"node\"]
assert n[\"memTotal\"]>0 and n[\"diskFree\"]>0 and n[\"arch\"]
assert n[\"supervisor\"][\"running\"] is True
assert any(i[\"id\"]==\"$IMG\" for i in d[\"images\"])
assert {p[\"name\"] for p in d[\"pods\"]}>={\"web\",\"never\",\"hog\",\"broken\",\"notroot\"}
"
'

test_expect_success 'container output reaches syslog, tagged vz/POD/CTR' '
	wait_until 20 grep -q "vz/web/app: hello from app" "$LOG" &&
	grep -q "^<30>[A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]* vz/web/app: hello from app" "$LOG"
'

test_expect_success 'three containers share one emptyDir' '
	wait_until 20 grep -q "vz/shared/reader: saw data" "$LOG" &&
	wait_until 20 count_is "sleep 4000$M" 1
'

test_expect_success 'restartPolicy Never: exits once and stays down' '
	wait_until 20 field_is "$VZROOT" never c state stopped &&
	[ "$(ctr_field "$VZROOT" never c lastExitCode)" = 3 ] &&
	sleep 1 &&
	[ "$(ctr_field "$VZROOT" never c restarts)" = 0 ] &&
	[ $(grep -c "vz/never/c: bye" "$LOG") -eq 1 ]
'

test_expect_success 'memory hog is OOM-killed and restarted with growing delays' '
	wait_until 60 field_is "$VZROOT" hog m reason OOMKilled &&
	wait_until 60 sh -c "[ \$(grep -c \"hog/m: back-off\" \"$LOG\") -ge 4 ]" &&
	[ "$(ctr_field "$VZROOT" hog m lastExitCode)" = 137 ] &&
	r=$(ctr_field "$VZROOT" hog m restarts) && [ "$r" -ge 2 ] &&
	grep "hog/m: back-off" "$LOG" | sed "s/.*back-off \([0-9]*\) ms.*/\1/" >delays &&
	cat delays && python3 -c "
d=[int(x) for x in open(\"delays\").read().split()]
assert all(b>a or a==b==6000 for a,b in zip(d,d[1:])) and d[1:3]==[200,400], d
"
'

test_expect_success 'missing executable: reason and back-off, no tight loop' '
	wait_until 30 field_is "$VZROOT" nox n reason "executable not found" &&
	st=$(ctr_field "$VZROOT" nox n state) && [ "$st" = backoff ] &&
	grep "nox/n: back-off" "$LOG" | sed "s/.*back-off \([0-9]*\) ms.*/\1/" >nd &&
	python3 -c "
d=[int(x) for x in open(\"nd\").read().split()]
assert len(d)>=2 and all(b>a or a==b==6000 for a,b in zip(d,d[1:])), d
"
'

test_expect_success 'missing image: the reason is in status' '
	wait_until 20 field_is "$VZROOT" noimg n reason "image not present"
'

test_expect_success 'readiness exec probe (inside the container) turns ready' '
	wait_until 30 field_is "$VZROOT" probed c ready True &&
	field_is "$VZROOT" probed c state running
'

test_expect_success 'failing liveness probe restarts the container' '
	wait_until 30 grep -q "lively/c: liveness probe failed" "$LOG" &&
	wait_until 30 restarts_ge lively c 1 &&
	r=$(ctr_field "$VZROOT" lively c restarts) && [ "$r" -ge 1 ]
'

test_expect_success 'malformed and non-root specs: refused, logged, others run' '
	"$VZEXEC" status --root "$VZROOT" >st2.json &&
	python3 -c "
import json
d={p[\"name\"]:p for p in json.load(open(\"st2.json\"))[\"pods\"]}
assert \"malformed\" in d[\"broken\"][\"error\"], d[\"broken\"]
assert \"not owned by root\" in d[\"notroot\"][\"error\"], d[\"notroot\"]
" &&
	grep -q "pods/broken.json.*malformed" "$LOG" &&
	grep -q "pods/notroot.json.*not owned by root" "$LOG" &&
	[ "$(count "sleep 5000$M")" -eq 0 ]
'

test_expect_success 'kill -9 of the supervisor, new start re-adopts, no duplicates' '
	old=$(ctr_field "$VZROOT" web app pid) &&
	kill -9 "$SUP_PID" && sleep 0.5 &&
	count_is "sleep 1000$M" 1 &&
	start_supervisor "$VZROOT" --backoff-base-ms 200 &&
	wait_until 20 grep -q "web/app: re-adopted running pid $old" "$LOG" &&
	sleep 1 &&
	count_is "sleep 1000$M" 1 && count_is "sleep 2000$M" 1 &&
	count_is "sleep 3000$M" 1 && count_is "sleep 4000$M" 1 &&
	[ "$(ctr_field "$VZROOT" web app pid)" = "$old" ] &&
	field_is "$VZROOT" web app state running
'

test_expect_success 're-adopted container output still reaches syslog' '
	n=$(grep -c "vz/talker/c: tick" "$LOG") &&
	wait_until 20 sh -c "[ \$(grep -c \"vz/talker/c: tick\" \"$LOG\") -gt $((n + 1)) ]"
'

test_expect_success 'SIGHUP: adds, removes and changes pods, leaves the rest' '
	webpid=$(ctr_field "$VZROOT" web app pid) &&
	talkpid=$(ctr_field "$VZROOT" talker c pid) &&
	spec added Always "[$(sh_ctr c "exec sleep 6000$M")]" &&
	rm "$VZROOT/pods/shared.json" &&
	spec talker Always "[$(sh_ctr c "echo changed; exec sleep 7000$M")]" &&
	"$VZEXEC" reload --root "$VZROOT" &&
	wait_until 20 count_is "sleep 6000$M" 1 &&
	wait_until 20 count_is "sleep 4000$M" 0 &&
	wait_until 20 count_is "sleep 2000$M" 0 &&
	wait_until 20 count_is "sleep 7000$M" 1 &&
	wait_until 20 grep -q "vz/talker/c: changed" "$LOG" &&
	[ "$(ctr_field "$VZROOT" talker c pid)" != "$talkpid" ] &&
	[ "$(ctr_field "$VZROOT" web app pid)" = "$webpid" ] &&
	count_is "sleep 1000$M" 1 &&
	! test -d "$VZROOT/run/volumes/shared"
'

test_expect_success 'reload with no supervisor fails' '
	! "$VZEXEC" reload --root "$TEST_TMP/nowhere" 2>/dev/null
'

# An upgrade: the supervisor runs from a copy, the copy is replaced (a new
# inode, as newnode installs it), and SIGUSR2 makes the same process run it.
test_expect_success 'SIGUSR2: the vzexec on disk in place, same pid, pods kept' '
	mkdir -p bin && cp "$VZEXEC" bin/vzexec &&
	kill -9 "$(cat "$VZROOT/run/supervise.pid")" && sleep 0.3 &&
	rm "$VZROOT/run/supervise.pid" &&
	VZEXEC=$PWD/bin/vzexec start_supervisor "$VZROOT" --backoff-base-ms 200 &&
	sup=$(cat "$VZROOT/run/supervise.pid") &&
	wait_until 20 field_is "$VZROOT" web app state running &&
	webpid=$(ctr_field "$VZROOT" web app pid) &&
	spec late Always "[$(sh_ctr c "exec sleep 8800$M")]" &&
	"$VZEXEC" reload --root "$VZROOT" &&
	wait_until 20 field_is "$VZROOT" late c state running &&
	latepid=$(ctr_field "$VZROOT" late c pid) &&
	{ cat "$VZEXEC"; echo "# t0410 upgrade"; } >bin/vzexec.new &&
	chmod 755 bin/vzexec.new && mv bin/vzexec.new bin/vzexec &&
	! [ /proc/$sup/exe -ef bin/vzexec ] &&
	kill -USR2 "$sup" &&
	wait_until 20 test /proc/$sup/exe -ef bin/vzexec &&
	wait_until 20 grep -q "SIGUSR2: re-executing $PWD/bin/vzexec" "$LOG" &&
	wait_until 20 grep -q "web/app: re-adopted running pid $webpid" "$LOG" &&
	[ "$(cat "$VZROOT/run/supervise.pid")" = "$sup" ] &&
	wait_until 20 grep -q "late/c: re-adopted running pid $latepid" "$LOG" &&
	[ "$(ctr_field "$VZROOT" web app pid)" = "$webpid" ] &&
	[ "$(ctr_field "$VZROOT" late c pid)" = "$latepid" ] &&
	count_is "sleep 1000$M" 1 && count_is "sleep 6000$M" 1 &&
	count_is "sleep 8800$M" 1
'

# a container it started is still its child: a crash is reaped with its
# code, not "code unknown" as after a supervisor that was killed
test_expect_success 'after the re-exec a container exit keeps its code and restarts' '
	latepid=$(ctr_field "$VZROOT" late c pid) &&
	kill -9 "$latepid" &&
	wait_until 20 grep -q "late/c: exited, code 137 (Error)" "$LOG" &&
	wait_until 20 late_pid_not "$latepid" &&
	wait_until 20 field_is "$VZROOT" late c state running &&
	count_is "sleep 8800$M" 1 &&
	[ "$(ctr_field "$VZROOT" late c lastExitCode)" = 137 ]
'

# an upgrade asked for just before: the stop is not lost with it
test_expect_success 'SIGTERM (after a SIGUSR2) stops every container and the supervisor' '
	sup=$(cat "$VZROOT/run/supervise.pid") &&
	kill -USR2 "$sup" && kill -TERM "$sup" &&
	wait_until 30 sh -c "! kill -0 $sup 2>/dev/null" &&
	count_is "sleep 1000$M" 0 && count_is "sleep 6000$M" 0 &&
	count_is "sleep 7000$M" 0 && count_is "sleep 8800$M" 0 &&
	! test -f "$VZROOT/run/supervise.pid"
'

test_done

#!/bin/sh
# t0440-vzexec-wait: waiting on the node (spec-put --wait, spec-rm --wait,
# wait POD HASH|--gone) against a real supervisor with real containers:
# ready (through a readiness probe whose period is longer than the wait),
# never ready, crash loops, refused specs, gone (a POD.next copy too),
# usage errors and no supervisor.  Exit codes 0/1/2/4/5, the bare first
# stderr line and the status JSON on stdout.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/vzexec-lib.sh"

make_image "$VZROOT" "$IMG"
test_at_exit stop_all
M=$$
start_syslog "$TEST_TMP/log.sock" "$TEST_TMP/syslog.txt" ||
    skip_all "cannot start the syslog listener"

# mkspec NAME HASH POLICY CONTAINERS-JSON [GRACE]: a spec on stdout
mkspec() {
	printf '{"vzspec":1,"name":"%s","hash":"%s","restartPolicy":"%s",
	 "terminationGracePeriodSeconds":%s,"containers":%s}\n' \
	    "$1" "$2" "$3" "${5:-1}" "$4"
}
sh_ctr() {	# sh_ctr NAME SCRIPT [EXTRA-MEMBERS]
	printf '{"name":"%s","image":"%s","command":["/bin/sh","-c","%s"]%s}' \
	    "$1" "$IMG" "$2" "${3:-}"
}
put() {		# put NAME HASH POLICY CONTAINERS WAIT [GRACE]: spec-put --wait
	mkspec "$1" "$2" "$3" "$4" "${6:-1}" |
	    "$VZEXEC" spec-put --root "$VZROOT" --wait "$5" "$1" >out 2>err
}
first_err() { head -n 1 err; }

# check_status FILE POD HASH: FILE is the status JSON, POD runs HASH,
# every container running and ready under HASH
check_ready() {
	python3 - "$1" "$2" "$3" <<'EOP'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["vzstatus"] == 1 and d["node"]["supervisor"]["running"], d["node"]
p = [x for x in d["pods"] if x["name"] == sys.argv[2]]
assert len(p) == 1, p
p = p[0]
assert p["hash"] == sys.argv[3] and p["error"] is None, p
assert p["containers"], p
for c in p["containers"]:
    assert c["state"] == "running" and c["ready"] is True, c
    assert c["runningHash"] == sys.argv[3], c
EOP
}
pod_absent() {	# pod_absent FILE POD: status JSON FILE has no POD
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["vzstatus"] == 1
assert all(p["name"] != sys.argv[2] for p in d["pods"]), d["pods"]
' "$1" "$2"
}

start_supervisor "$VZROOT" --backoff-base-ms 200

# Ready only after 1 s; the probe's period (60 s) is longer than the wait
# (30 s): only the fast first probes can make it ready in time.
PROBE=',"readinessProbe":{"exec":["test","-f","/tmp/ready"],"periodSeconds":60,"failureThreshold":1}'

test_expect_success 'spec-put --wait: exit 0 once ready, status JSON on stdout' '
	put web h1 Always "[$(sh_ctr app "sleep 1; touch /tmp/ready; exec sleep 1000$M" "$PROBE")]" 30 &&
	check_ready out web h1 &&
	! test -s err &&
	"$VZEXEC" status --root "$VZROOT" >now.json &&
	check_ready now.json web h1
'

test_expect_success 'spec-put --wait: a switch to a new hash waits for the new containers' '
	old=$(ctr_field "$VZROOT" web app pid) &&
	put web h2 Always "[$(sh_ctr app "sleep 1; touch /tmp/ready; exec sleep 2000$M" "$PROBE"),
	    $(sh_ctr side "exec sleep 2100$M")]" 30 &&
	check_ready out web h2 &&
	new=$(ctr_field "$VZROOT" web app pid) && [ "$new" != "$old" ] &&
	[ "$(count "sleep 1000$M")" -eq 0 ] && [ "$(count "sleep 2000$M")" -eq 1 ]
'

test_expect_success 'spec-put --wait with the same spec again: exit 0 at once' '
	put web h2 Always "[$(sh_ctr app "sleep 1; touch /tmp/ready; exec sleep 2000$M" "$PROBE"),
	    $(sh_ctr side "exec sleep 2100$M")]" 5 &&
	check_ready out web h2
'

test_expect_success 'wait POD HASH: ready pod, exit 0' '
	"$VZEXEC" wait --root "$VZROOT" --timeout 5 web h2 >out &&
	check_ready out web h2
'

test_expect_failure_code 4 'wait POD HASH: another hash never comes, exit 4' '
	"$VZEXEC" wait --root "$VZROOT" --timeout 1 web h9 >out 2>err; rc=$?
	[ "$(first_err)" = "'"'web' not running and ready after 1 s"'" ] &&
	check_ready out web h2 && exit $rc
	exit 99
'

test_expect_failure_code 4 'never ready: exit 4, message, status shows not ready' '
	put slow s1 Always "[$(sh_ctr c "exec sleep 3000$M" \
	    ",\"readinessProbe\":{\"exec\":[\"test\",\"-f\",\"/nope\"],\"periodSeconds\":1}")]" 2
	rc=$?
	cat err
	[ "$(first_err)" = "'"'slow' not running and ready after 2 s"'" ] &&
	python3 -c "
import json
d = {p[\"name\"]: p for p in json.load(open(\"out\"))[\"pods\"]}
c = d[\"slow\"][\"containers\"][0]
assert c[\"state\"] == \"running\" and c[\"ready\"] is False, c
" && exit $rc
	exit 99
'

test_expect_failure_code 5 'crash loop: exit 5 long before the timeout, names the container' '
	mkspec crash c1 Always "[$(sh_ctr ok "exec sleep 4000$M"), $(sh_ctr bad "echo dying; exit 1")]" |
	    timeout 30 "$VZEXEC" spec-put --root "$VZROOT" --wait 120 crash >out 2>err
	rc=$?
	cat err
	[ "$(first_err)" = "'"cannot start 'crash': container 'bad' backoff: Error"'" ] &&
	python3 -c "
import json
d = {p[\"name\"]: p for p in json.load(open(\"out\"))[\"pods\"]}
assert d[\"crash\"][\"hash\"] == \"c1\"
" && exit $rc
	exit 99
'

test_expect_failure_code 5 'missing image: exit 5 with the reason' '
	mkspec noimg n1 Always "[{\"name\":\"n\",\"image\":\"bbbbbbbb\",\"command\":[\"/bin/true\"]}]" |
	    timeout 30 "$VZEXEC" spec-put --root "$VZROOT" --wait 120 noimg >out 2>err
	rc=$?
	cat err
	[ "$(first_err)" = "'"cannot start 'noimg': container 'n' backoff: image not present"'" ] &&
	exit $rc
	exit 99
'

test_expect_failure_code 5 'restartPolicy Never, no executable: failed, exit 5' '
	mkspec nox x1 Never "[{\"name\":\"n\",\"image\":\"$IMG\",\"command\":[\"/no/such\"]}]" |
	    timeout 30 "$VZEXEC" spec-put --root "$VZROOT" --wait 120 nox >out 2>err
	rc=$?
	cat err
	[ "$(first_err)" = "'"cannot start 'nox': container 'n' failed: executable not found"'" ] &&
	exit $rc
	exit 99
'

test_expect_failure_code 5 'spec-put --wait of a refused spec: exit 5, nothing saved' '
	mkspec bad b1 Sometimes "[$(sh_ctr c "exec sleep 5000$M")]" |
	    "$VZEXEC" spec-put --root "$VZROOT" --wait 10 bad >out 2>err
	rc=$?
	cat err
	[ "$(first_err)" = "'"'bad' refused: unknown restartPolicy 'Sometimes'"'" ] &&
	! test -e "$VZROOT/pods/bad.json" && pod_absent out bad && exit $rc
	exit 99
'

test_expect_failure_code 1 'spec-put without --wait: refusal unchanged (exit 1, prefixed)' '
	mkspec bad b1 Sometimes "[$(sh_ctr c "exec sleep 5000$M")]" |
	    "$VZEXEC" spec-put --root "$VZROOT" bad >out 2>err
	rc=$?
	cat err
	grep -q "^vzexec: spec-put: '"'bad'"' refused: unknown restartPolicy" err &&
	! test -s out && exit $rc
	exit 99
'

test_expect_failure_code 5 'wait POD HASH on a spec the supervisor refuses: exit 5' '
	mkspec notroot n1 Always "[$(sh_ctr c "exec sleep 5000$M")]" >"$VZROOT/pods/notroot.json" &&
	chown 1000 "$VZROOT/pods/notroot.json" &&
	"$VZEXEC" reload --root "$VZROOT" &&
	"$VZEXEC" wait --root "$VZROOT" --timeout 10 notroot n1 >out 2>err
	rc=$?
	cat err
	[ "$(first_err)" = "'"'notroot' refused: not owned by root or writable by group or others"'" ] &&
	exit $rc
	exit 99
'

test_expect_failure_code 4 'a refused spec of another hash is not this hash refused' '
	"$VZEXEC" wait --root "$VZROOT" --timeout 1 notroot n2 >out 2>err
	rc=$?
	[ "$(first_err)" = "'"'notroot' not running and ready after 1 s"'" ] && exit $rc
	exit 99
'

# A container that ignores SIGTERM: it stops only at the SIGKILL after
# its 2 s grace period, so "gone" must wait through "stopping".
STUBBORN="trap \\\"\\\" TERM; exec sleep 6000$M"

test_expect_success 'spec-rm --wait: exit 0 only once the stopping copy is gone' '
	put stub t1 Always "[$(sh_ctr c "$STUBBORN")]" 30 "2" &&
	check_ready out stub t1 &&
	"$VZEXEC" spec-rm --root "$VZROOT" --wait 30 stub >out 2>err &&
	! test -s err && pod_absent out stub &&
	[ "$(count "sleep 6000$M")" -eq 0 ]
'

test_expect_success 'POD.next: its stopping copy is its own pod; wait --gone' '
	put stub.next t2 Always "[$(sh_ctr c "$STUBBORN")]" 30 "2" &&
	check_ready out stub.next t2 &&
	"$VZEXEC" spec-rm --root "$VZROOT" stub.next &&
	"$VZEXEC" status --root "$VZROOT" >st.json &&
	python3 -c "
import json
d = {p[\"name\"]: p for p in json.load(open(\"st.json\"))[\"pods\"]}
assert d[\"stub.next\"].get(\"stopping\") is True, d.get(\"stub.next\")
" &&
	"$VZEXEC" wait --root "$VZROOT" --timeout 30 stub.next --gone >out &&
	pod_absent out stub.next &&
	[ "$(count "sleep 6000$M")" -eq 0 ]
'

test_expect_success 'wait --gone: a pod that is not there, exit 0 at once' '
	"$VZEXEC" wait --root "$VZROOT" --gone --timeout 0 never-was >out &&
	pod_absent out never-was
'

test_expect_failure_code 4 'wait --gone on a running pod: exit 4, message' '
	"$VZEXEC" wait --root "$VZROOT" --timeout 1 web --gone >out 2>err
	rc=$?
	[ "$(first_err)" = "'"'web' not stopped after 1 s"'" ] &&
	check_ready out web h2 && exit $rc
	exit 99
'

test_expect_success 'usage errors: exit 2' '
	for args in "wait" "wait --root $VZROOT web" "wait --timeout -1 web h" \
	    "wait --timeout x web h" "wait --root $VZROOT web h extra" \
	    "wait --root $VZROOT Bad_Name h" "wait --root $VZROOT web bad/hash" \
	    "wait --wait 3 web h" "spec-rm --timeout 3 web" \
	    "spec-put --wait abc web" "spec-rm --wait -2 web" \
	    "wait --root $VZROOT --gone web h"; do
		set +e
		"$VZEXEC" $args </dev/null >/dev/null 2>&1
		rc=$?
		set -e
		echo "$args: $rc"
		[ $rc -eq 2 ]
	done
'

test_expect_failure_code 2 'spec-put --wait needs a hash in the spec; nothing saved' '
	printf "{\"vzspec\":1,\"name\":\"nohash\",\"containers\":[$(sh_ctr c "exec sleep 5000$M")]}" |
	    "$VZEXEC" spec-put --root "$VZROOT" --wait 5 nohash 2>err
	rc=$?
	cat err
	! test -e "$VZROOT/pods/nohash.json" && exit $rc
	exit 99
'

test_expect_failure_code 1 'no supervisor: wait exits 1' '
	mkdir -p "$TEST_TMP/idle/pods" &&
	"$VZEXEC" wait --root "$TEST_TMP/idle" --timeout 5 web h1 >out 2>err
	rc=$?
	cat err
	grep -q "no supervisor" err && ! test -s out && exit $rc
	exit 99
'

test_expect_failure_code 1 'no supervisor: spec-put --wait saves, then exits 1' '
	mkspec idle i1 Always "[$(sh_ctr c "exec sleep 5000$M")]" |
	    "$VZEXEC" spec-put --root "$TEST_TMP/idle" --wait 5 idle >out 2>err
	rc=$?
	cat err
	test -f "$TEST_TMP/idle/pods/idle.json" && grep -q "no supervisor" err &&
	exit $rc
	exit 99
'

test_expect_failure_code 1 'the supervisor stops during a wait: exit 1' '
	sup=$(cat "$VZROOT/run/supervise.pid") &&
	( sleep 1; kill -TERM "$sup" ) &
	"$VZEXEC" wait --root "$VZROOT" --timeout 60 web h9 >out 2>err
	rc=$?
	cat err
	grep -q "supervisor.*stopped" err && exit $rc
	exit 99
'

test_done

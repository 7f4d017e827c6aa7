#!/bin/sh
# t0450-vzexec-image-config: the image config comes from the spec.  Two
# image references whose rootfs is byte-identical share one image id but
# not a config (app:web and app:worker built with different CMD), so the
# master puts each container's own config in the spec as "imageConfig";
# images/<id>/config.json is the config of whichever reference brought the
# image first, and only a spec without imageConfig (of an older master)
# may use it.  Real containers, through `vzexec run` and a supervisor.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/vzexec-lib.sh"

# The image's own config.json says LEGACY: a container that prints it
# ran with the node's config.json, not with its spec's imageConfig.
make_image "$VZROOT" "$IMG"
cat >"$VZROOT/images/$IMG/config.json" <<'EOC'
{ "vzimage": 1, "ref": "oci:/src/app:web", "Entrypoint": ["/bin/sh", "-c"],
  "Cmd": ["echo LEGACY IMGVAR=$IMGVAR; pwd"],
  "Env": ["PATH=/bin", "IMGVAR=legacy"], "WorkingDir": "/home", "User": "" }
EOC
test_at_exit stop_all
M=$$

# Two references of the same rootfs: web (Entrypoint + Cmd, user app, a
# working directory, its own variable) and worker (Cmd only, root).
WEB_CFG='{"Entrypoint":["/bin/sh","-c"],"Cmd":["echo WHO=web IMGVAR=$IMGVAR ONLY=$WEBONLY; id -un; pwd"],"Env":["PATH=/bin","IMGVAR=web","WEBONLY=1"],"WorkingDir":"/srv/web","User":"app"}'
WORKER_CFG='{"Entrypoint":null,"Cmd":["/bin/sh","-c","echo WHO=worker IMGVAR=$IMGVAR ONLY=$WEBONLY; id -un; pwd"],"Env":["PATH=/bin","IMGVAR=worker"],"WorkingDir":"","User":""}'

# spec NAME CONTAINERS-JSON
spec() {
	printf '{"vzspec":1,"name":"%s","hash":"h-%s","restartPolicy":"Never","terminationGracePeriodSeconds":1,"containers":%s}' \
	    "$1" "$1" "$2"
}
# ctr NAME IMAGE-CONFIG [EXTRA-MEMBERS]: a container of $IMG
ctr() {
	printf '{"name":"%s","image":"%s","imageConfig":%s%s}' "$1" "$IMG" "$2" "${3:-}"
}
run() {		# run NAME: vzexec run of pods/NAME.json into NAME.out
	"$VZEXEC" run --root "$VZROOT" "$VZROOT/pods/$1.json" >"$1.out" 2>&1
	st=$?
	cat "$1.out"
	return $st
}

test_expect_success 'two pods on one image id run their own Cmd, Env, User, WorkingDir' '
	write_spec "$VZROOT" web "$(spec web "[$(ctr c "$WEB_CFG")]")" &&
	write_spec "$VZROOT" worker "$(spec worker "[$(ctr c "$WORKER_CFG")]")" &&
	run web && run worker &&
	grep -qx "c: WHO=web IMGVAR=web ONLY=1" web.out &&
	grep -qx "c: app" web.out && grep -qx "c: /srv/web" web.out &&
	grep -qx "c: WHO=worker IMGVAR=worker ONLY=" worker.out &&
	grep -qx "c: root" worker.out && grep -qx "c: /" worker.out &&
	! grep -q LEGACY web.out worker.out
'

test_expect_success 'two containers of one pod on one image id, each its own config' '
	write_spec "$VZROOT" both "$(spec both "[$(ctr web "$WEB_CFG"),$(ctr worker "$WORKER_CFG")]")" &&
	run both &&
	grep -qx "web: WHO=web IMGVAR=web ONLY=1" both.out &&
	grep -qx "worker: WHO=worker IMGVAR=worker ONLY=" both.out
'

test_expect_success 'Kubernetes rules over imageConfig: args, command, env' '
	write_spec "$VZROOT" k8s "$(spec k8s "[$(ctr args "$WEB_CFG" \
	    ",\"args\":[\"echo ARGS IMGVAR=\$IMGVAR ONLY=\$WEBONLY\"],\"env\":[{\"name\":\"IMGVAR\",\"value\":\"spec\"}]"),
	    $(ctr cmd "$WEB_CFG" ",\"command\":[\"/bin/sh\",\"-c\",\"echo CMD \$WEBONLY; pwd\"],\"workingDir\":\"/tmp\"")]")" &&
	run k8s &&
	grep -qx "args: ARGS IMGVAR=spec ONLY=1" k8s.out &&
	grep -qx "cmd: CMD 1" k8s.out && grep -qx "cmd: /tmp" k8s.out &&
	! grep -q "WHO=" k8s.out
'

test_expect_success 'imageConfig is the whole config: no fallback to config.json for what it lacks' '
	write_spec "$VZROOT" bare "$(spec bare "[$(ctr c "{}")]")" &&
	! run bare && grep -q "no command" bare.out && ! grep -q LEGACY bare.out
'

test_expect_success 'a spec without imageConfig (older master) uses images/<id>/config.json' '
	write_spec "$VZROOT" old "{\"vzspec\":1,\"name\":\"old\",\"restartPolicy\":\"Never\",
	 \"containers\":[{\"name\":\"c\",\"image\":\"$IMG\"}]}" &&
	run old &&
	grep -qx "c: LEGACY IMGVAR=legacy" old.out && grep -qx "c: /home" old.out &&
	write_spec "$VZROOT" oldnull "{\"vzspec\":1,\"name\":\"oldnull\",\"restartPolicy\":\"Never\",
	 \"containers\":[{\"name\":\"c\",\"image\":\"$IMG\",\"imageConfig\":null}]}" &&
	run oldnull && grep -qx "c: LEGACY IMGVAR=legacy" oldnull.out
'
rm -f "$VZROOT"/pods/*.json

start_syslog "$TEST_TMP/log.sock" "$TEST_TMP/syslog.txt" ||
    skip_all "cannot start the syslog listener"
start_supervisor "$VZROOT" --backoff-base-ms 200

# environ PID NAME: the value of NAME in the process's environment
environ() { tr '\0' '\n' <"/proc/$1/environ" | sed -n "s/^$2=//p"; }

test_expect_success 'supervised: spec-put of two pods on one image id, each runs its own' '
	spec web "[$(ctr c "{\"Cmd\":[\"/bin/sh\",\"-c\",\"exec sleep 3001$M\"],\"Env\":[\"PATH=/bin\",\"IMGVAR=web\"]}")]" |
	    "$VZEXEC" spec-put --root "$VZROOT" --wait 30 web >/dev/null &&
	spec worker "[$(ctr c "{\"Cmd\":[\"/bin/sh\",\"-c\",\"exec sleep 3002$M\"],\"Env\":[\"PATH=/bin\",\"IMGVAR=worker\"],\"User\":\"app\"}")]" |
	    "$VZEXEC" spec-put --root "$VZROOT" --wait 30 worker >/dev/null &&
	[ "$(count "sleep 3001$M")" -eq 1 ] && [ "$(count "sleep 3002$M")" -eq 1 ] &&
	p1=$(ctr_field "$VZROOT" web c pid) && p2=$(ctr_field "$VZROOT" worker c pid) &&
	[ "$(environ "$p1" IMGVAR)" = web ] && [ "$(environ "$p2" IMGVAR)" = worker ] &&
	[ "$(stat -c %u "/proc/$p1")" = 0 ] && [ "$(stat -c %u "/proc/$p2")" = 1000 ]
'

test_expect_success 'supervised: a change of imageConfig alone restarts with the new config' '
	old=$(ctr_field "$VZROOT" web c pid) &&
	printf "%s" "$(spec web "[$(ctr c "{\"Cmd\":[\"/bin/sh\",\"-c\",\"exec sleep 3001$M\"],\"Env\":[\"PATH=/bin\",\"IMGVAR=web2\"]}")]")" |
	    sed "s/\"h-web\"/\"h-web2\"/" |
	    "$VZEXEC" spec-put --root "$VZROOT" --wait 30 web >/dev/null &&
	new=$(ctr_field "$VZROOT" web c pid) && [ "$new" != "$old" ] &&
	[ "$(environ "$new" IMGVAR)" = web2 ]
'

test_expect_failure_code 1 'spec-put refuses a malformed imageConfig with a clear message' '
	spec bad "[$(ctr c "{\"Cmd\":\"sleep 1\"}")]" |
	    "$VZEXEC" spec-put --root "$VZROOT" bad 2>err;
	st=$?; cat err
	grep -q "refused: .c.: imageConfig.Cmd must be null or an array" err &&
	! test -e "$VZROOT/pods/bad.json" && exit $st
'

test_expect_failure_code 5 'spec-put --wait: the same refusal, exit 5' '
	spec bad "[$(ctr c "{\"Env\":[\"NOEQUALS\"]}")]" |
	    "$VZEXEC" spec-put --root "$VZROOT" --wait 5 bad >out 2>err;
	st=$?; cat err
	head -n 1 err | grep -q "^.bad. refused: .c.: imageConfig.Env" && exit $st
'

test_done

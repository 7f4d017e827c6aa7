#!/bin/sh
# t0400-vzexec-basic: the static binary and one container's isolation,
# driven through `vzexec run` on a busybox-only image (real namespaces).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/vzexec-lib.sh"

make_image "$VZROOT" "$IMG"
export VZROOT IMG

test_expect_success 'vzexec is statically linked' '
	file -L "$VZEXEC" >file.out &&
	grep -q "statically linked" file.out &&
	! grep -q "dynamically" file.out
'

test_expect_success 'it runs inside a busybox-only chroot' '
	make_rootfs chroot &&
	cp "$VZEXEC" chroot/vzexec &&
	chroot chroot /vzexec version >v.out &&
	grep -q "^vzexec " v.out
'

test_expect_success 'every verb has --help' '
	for v in supervise status run reload version; do
		"$VZEXEC" $v --help >h.out && grep -q "usage:" h.out || exit 1
	done
'

test_expect_failure_code 2 'unknown verb is a usage error' '
	"$VZEXEC" frobnicate
'

test_expect_failure_code 1 'image verbs report a missing helper' '
	cp "$VZEXEC" ./lonely && ./lonely image-list 2>err.out;
	st=$?; grep -q "vzexec-image" err.out && exit $st
'

write_spec "$VZROOT" iso '{"vzspec":1,"name":"iso","restartPolicy":"Never",
 "containers":[{"name":"c","image":"'"$IMG"'","command":["/bin/sh","-c",
 "echo PID=$$; echo HOST=$(hostname); echo NPROC=$(ls -d /proc/[0-9]* | wc -l); echo COMMS $(cat /proc/[0-9]*/comm); grep -E \"^(CapEff|CapBnd|NoNewPrivs)\" /proc/self/status; id; echo IMGVAR=$IMGVAR HOME=$HOME; pwd; touch /written && echo WROTE"]}]}'

test_expect_success 'run: isolation as seen from inside' '
	"$VZEXEC" run --root "$VZROOT" "$VZROOT/pods/iso.json" >iso.out 2>&1 &&
	cat iso.out &&
	grep -q "^c: PID=1$" iso.out &&
	grep -q "^c: HOST=iso$" iso.out &&
	n=$(sed -n "s/^c: NPROC=//p" iso.out) && [ "$n" -le 5 ] &&
	grep -q "NoNewPrivs:	1" iso.out &&
	grep -q "CapEff:	00000000800405fb" iso.out &&
	grep -q "CapBnd:	00000000800405fb" iso.out &&
	grep -q "uid=0(root) gid=0(root)" iso.out &&
	grep -q "IMGVAR=fromimage HOME=/root" iso.out &&
	grep -q "^c: WROTE" iso.out
'

test_expect_success 'the image rootfs stays untouched (overlay layer)' '
	! test -e "$VZROOT/images/$IMG/rootfs/written"
'

write_spec "$VZROOT" vol '{"vzspec":1,"name":"vol","restartPolicy":"Never",
 "containers":[{"name":"c","image":"'"$IMG"'","command":["/bin/sh","-c",
 "grep \" / / \" /proc/self/mountinfo; echo hi >/scratch"]}]}'

# A stop must not sync the whole disk (overlayfs does at unmount unless
# volatile); a volatile work dir must not block the next start.
test_expect_success 'the writable layer is a volatile overlay, mounted again on rerun' '
	"$VZEXEC" run --root "$VZROOT" "$VZROOT/pods/vol.json" >vol1.out 2>&1 &&
	cat vol1.out &&
	grep -q "^c: .* / / .* - overlay overlay .*volatile" vol1.out &&
	"$VZEXEC" run --root "$VZROOT" "$VZROOT/pods/vol.json" >vol2.out 2>&1 &&
	grep -q "^c: .* / / .* - overlay overlay .*volatile" vol2.out &&
	! test -e "$VZROOT/run/containers/vol/c/work/work"
'

test_expect_success 'host processes are invisible: no supervisor pid inside' '
	grep "^c: COMMS" iso.out >comms &&
	! grep -qE "vzexec|systemd|init|sshd|python" comms &&
	[ $(ls -d /proc/[0-9]* | wc -l) -gt 5 ]
'

write_spec "$VZROOT" caps '{"vzspec":1,"name":"caps","restartPolicy":"Never",
 "containers":[{"name":"c","image":"'"$IMG"'",
 "capDrop":["CHOWN","NET_BIND_SERVICE"],"capAdd":["NET_ADMIN"],
 "command":["/bin/grep","-E","^Cap(Eff|Bnd)","/proc/self/status"]},
 {"name":"all","image":"'"$IMG"'","capDrop":["ALL"],"capAdd":["KILL"],
 "command":["/bin/grep","-E","^Cap(Eff|Bnd)","/proc/self/status"]}]}'

test_expect_success 'capDrop and capAdd (and ALL) shape CapEff and CapBnd' '
	"$VZEXEC" run --root "$VZROOT" "$VZROOT/pods/caps.json" >caps.out 2>&1 &&
	cat caps.out &&
	grep -q "^c: CapEff:	00000000800411fa" caps.out &&
	grep -q "^c: CapBnd:	00000000800411fa" caps.out &&
	grep -q "^all: CapEff:	0000000000000020" caps.out &&
	grep -q "^all: CapBnd:	0000000000000020" caps.out
'

write_spec "$VZROOT" user '{"vzspec":1,"name":"user","restartPolicy":"Never",
 "containers":[{"name":"byid","image":"'"$IMG"'","runAsUser":1000,
 "workingDir":"/home/app",
 "command":["/bin/sh","-c","id; pwd; echo HOME=$HOME; grep -E \"^Cap(Eff|Bnd)\" /proc/self/status"]},
 {"name":"grp","image":"'"$IMG"'","runAsUser":1000,"runAsGroup":2000,
 "command":["/bin/id"]}]}'

test_expect_success 'runAsUser: user, groups from the image /etc files' '
	"$VZEXEC" run --root "$VZROOT" "$VZROOT/pods/user.json" >user.out 2>&1 &&
	cat user.out &&
	grep -q "^byid: uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)" user.out &&
	grep -q "^byid: /home/app" user.out &&
	grep -q "^byid: HOME=/home/app" user.out &&
	grep -q "^byid: CapEff:	0000000000000000" user.out &&
	grep -q "^byid: CapBnd:	00000000800405fb" user.out &&
	grep -q "^grp: uid=1000(app) gid=2000(extra)" user.out
'

test_expect_success 'image User by name, env order and args (k8s rules)' '
	img2=${IMG%????}beef &&
	make_image "$VZROOT" "$img2" app &&
	write_spec "$VZROOT" named "{\"vzspec\":1,\"name\":\"named\",\"restartPolicy\":\"Never\",
	 \"containers\":[{\"name\":\"c\",\"image\":\"$img2\",
	 \"env\":[{\"name\":\"IMGVAR\",\"value\":\"fromspec\"}],
	 \"command\":[\"sh\"],\"args\":[\"-c\",\"id -un; echo \$IMGVAR \$HOSTNAME\"]}]}" &&
	"$VZEXEC" run --root "$VZROOT" "$VZROOT/pods/named.json" >named.out 2>&1 &&
	cat named.out &&
	grep -q "^c: app$" named.out &&
	grep -q "^c: fromspec named$" named.out
'

write_spec "$VZROOT" ro '{"vzspec":1,"name":"ro","restartPolicy":"Never",
 "volumes":[{"name":"v","emptyDir":{}},{"name":"h","hostPath":"'"$TEST_TMP"'/hp"}],
 "containers":[{"name":"c","image":"'"$IMG"'","readOnlyRootFilesystem":true,
 "nofile":333,
 "volumeMounts":[{"name":"v","mountPath":"/data"},{"name":"h","mountPath":"/host","readOnly":true}],
 "command":["/bin/sh","-c","touch /x 2>/dev/null && echo ROOTRW; touch /data/y && echo DATARW; cat /host/f; touch /host/z 2>/dev/null && echo HOSTRW; ulimit -n; echo x > /proc/sysrq-trigger 2>/dev/null && echo SYSRQ; ls /sys/firmware | wc -l"]}]}'

test_expect_success 'readOnlyRootFilesystem, volumes, nofile, masked paths' '
	mkdir -p hp && echo hostfile >hp/f &&
	"$VZEXEC" run --root "$VZROOT" "$VZROOT/pods/ro.json" >ro.out 2>&1 &&
	cat ro.out &&
	! grep -q ROOTRW ro.out && grep -q "^c: DATARW" ro.out &&
	grep -q "^c: hostfile" ro.out && ! grep -q HOSTRW ro.out &&
	grep -q "^c: 333$" ro.out && ! grep -q SYSRQ ro.out &&
	grep -q "^c: 0$" ro.out
'

test_expect_failure_code 2 'run refuses a spec not owned by root' '
	cp "$VZROOT/pods/iso.json" "$VZROOT/pods/bad.json" &&
	chown 1000 "$VZROOT/pods/bad.json" &&
	"$VZEXEC" run --root "$VZROOT" "$VZROOT/pods/bad.json" 2>bad.err;
	st=$?; cat bad.err; grep -q "not owned by root" bad.err && exit $st
'

test_expect_failure_code 2 'run refuses a group-writable spec' '
	cp "$VZROOT/pods/iso.json" "$VZROOT/pods/gw.json" &&
	chmod 664 "$VZROOT/pods/gw.json" &&
	"$VZEXEC" run --root "$VZROOT" "$VZROOT/pods/gw.json" 2>gw.err;
	st=$?; cat gw.err; grep -q "refused" gw.err && exit $st
'
rm -f "$VZROOT/pods/bad.json" "$VZROOT/pods/gw.json"

test_expect_success 'run exits 1 when the container fails' '
	write_spec "$VZROOT" fail "{\"vzspec\":1,\"name\":\"fail\",\"restartPolicy\":\"Never\",
	 \"containers\":[{\"name\":\"c\",\"image\":\"$IMG\",\"command\":[\"/bin/false\"]}]}" &&
	if "$VZEXEC" run --root "$VZROOT" "$VZROOT/pods/fail.json"; then
		exit 1
	else
		test $? -eq 1
	fi
'

test_done

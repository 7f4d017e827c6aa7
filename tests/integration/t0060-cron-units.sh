#!/bin/sh
# scripts/cron: the systemd user timer and service pass systemd-analyze
# verify, and the command lines of the three files are ones vzmaster takes.
# (t0700 runs the crontab line itself against fake VPSes.)
. "$top_srcdir/tests/lib.sh"
command -v systemd-analyze >/dev/null 2>&1 || skip_all "needs systemd-analyze"
S="$top_srcdir/scripts/cron"

# The units name /usr/local/bin/vzmaster: verify checks that ExecStart is
# executable, so the copy names the vzmaster built here.
cd "$TEST_TMP" && mkdir -p units xdg && chmod 700 xdg
cp "$S/vzmaster-deploy.timer" units/
sed "s|/usr/local/bin/vzmaster|$VZMASTER|" "$S/vzmaster-deploy.service" \
    >units/vzmaster-deploy.service

test_expect_success 'the timer and its service pass systemd-analyze verify --user' '
	st=0; XDG_RUNTIME_DIR=$PWD/xdg systemd-analyze verify --user \
	    units/vzmaster-deploy.timer units/vzmaster-deploy.service >out 2>&1 ||
	    st=$?
	cat out; test $st -eq 0 && test ! -s out
'

test_expect_failure_code 1 'verify does refuse a broken timer (the check can fail)' '
	printf "[Timer]\nOnBogusSec=1min\n" >units/broken.timer &&
	XDG_RUNTIME_DIR=$PWD/xdg systemd-analyze verify --user units/broken.timer
'

test_expect_success 'the timer fires every minute, the service is a oneshot deploy' '
	grep -qx "OnUnitActiveSec=1min" "$S/vzmaster-deploy.timer" &&
	grep -qx "Type=oneshot" "$S/vzmaster-deploy.service"
'

# vzmaster's options as written there: in a folder without a cluster they
# get as far as the missing inventory (exit 2), not a usage error
for f in vzmaster-deploy.service vzmaster.crontab; do
	test_expect_success "the vzmaster options in $f are known" '
		case '"$f"' in
		*.service) line=$(sed -n "s/^ExecStart=[^ ]* //p" "$S/'"$f"'") ;;
		*) line=$(grep -v "^#" "$S/'"$f"'" | grep . |
		    sed "s/.*vzmaster \([^|&;]*\).*/\1/") ;;
		esac
		echo "# $line"; test -n "$line" &&
		mkdir -p empty && st=0 && (cd empty && "$VZMASTER" $line) 2>err || st=$?
		cat err; test $st -eq 2 && grep -q "cannot read inventory" err &&
		! grep -q "unrecognized option\|usage:" err
	'
done

test_done

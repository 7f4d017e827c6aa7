#!/bin/sh
# t0810-logs-node: `vzexec logs` (nodelogs_main through the test driver)
# reading what the real supervisor wrote through real syslog daemons:
# busybox syslogd writing a file, then no daemon (vzlog's fallback files),
# then busybox syslogd's circular buffer read with the real logread,
# including -f.  Each daemon runs in its own mount (and IPC) namespace so
# the machine's /dev/log and shared memory are never touched.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/vzexec-lib.sh"

DRV=$top_builddir/tests/unit/nodelogs-driver
[ -x "$DRV" ] || skip_all "tests/unit/nodelogs-driver is not built"
command -v nsenter >/dev/null 2>&1 || skip_all "nsenter not installed"
unshare --mount --ipc true 2>/dev/null || skip_all "no mount/IPC namespaces"

make_image "$VZROOT" "$IMG"
test_at_exit stop_all
MSGS=$TEST_TMP/messages
SOCK=$TEST_TMP/log.sock		# a symlink to the daemon of the moment

# start_syslogd DIR ARGS...: busybox syslogd whose /dev is DIR; sets SD_PID
start_syslogd() {
	_d=$1; shift
	mkdir -p "$_d"
	unshare --mount --ipc --propagation private sh -c \
	    'mount --bind "$0" /dev && exec busybox syslogd -n "$@"' \
	    "$_d" "$@" >/dev/null 2>&1 &
	SD_PID=$!
	test_at_exit "kill $SD_PID 2>/dev/null"
	wait_until 10 test -S "$_d/log"
}

start_syslogd "$TEST_TMP/dev1" -O "$MSGS" || skip_all "cannot start busybox syslogd"
FILE_PID=$SD_PID
ln -s "$TEST_TMP/dev1/log" "$SOCK"

write_spec "$VZROOT" chat '{"vzspec":1,"name":"chat","hash":"h1",
 "restartPolicy":"Always","terminationGracePeriodSeconds":1,
 "containers":[
  {"name":"a","image":"'"$IMG"'","command":["/bin/sh","-c",
   "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done"]},
  {"name":"b","image":"'"$IMG"'","command":["/bin/sh","-c",
   "echo hello from b; exec sleep 100'"$$"'"]}]}'
start_supervisor "$VZROOT"

logs() { "$DRV" logs --root "$VZROOT" "$@"; }

test_expect_success 'lines written by syslogd to a file are found' '
	wait_until 20 grep -q "vz/chat/a: tick 5\$" "$MSGS" &&
	wait_until 20 grep -q "vz/chat/b: hello from b" "$MSGS" &&
	logs --syslog-file "$MSGS" -n all chat >out &&
	grep -q "^20[0-9-]*T[0-9:]*Z a tick 1\$" out &&
	grep -q "^20[0-9-]*T[0-9:]*Z b hello from b\$" out &&
	sort -s -c -k1,1 out
'

test_expect_success 'POD/CONTAINER and -n on the syslog file' '
	logs --syslog-file "$MSGS" -n all chat/b >out &&
	test "$(cut -d" " -f2- out)" = "b hello from b" &&
	logs --syslog-file "$MSGS" -n 3 chat/a >out &&
	test $(wc -l <out) -eq 3 && ! grep -q " b " out
'

test_expect_success 'no syslog daemon: the fallback file, merged in order' '
	kill $FILE_PID && wait_until 10 sh -c "! kill -0 $FILE_PID" &&
	wait_until 20 test -s "$VZROOT/run/log/vz.chat.a.log" &&
	wait_until 20 sh -c "test \$(wc -l <$VZROOT/run/log/vz.chat.a.log) -ge 3" &&
	last=$(sed -n "s/.*vz\/chat\/a: tick //p" "$MSGS" | tail -n 1) &&
	first=$(sed -n "1s/^[0-9]* tick //p" "$VZROOT/run/log/vz.chat.a.log") &&
	test "$first" -gt "$last" &&
	logs --syslog-file "$MSGS" -n all chat/a >out &&
	grep -q " a tick $last\$" out && grep -q " a tick $first\$" out &&
	sort -s -c -k1,1 out
'

# The circular buffer: a second daemon with -C; logread must see its
# shared memory, so it runs inside that daemon's IPC namespace.
start_syslogd "$TEST_TMP/dev2" -C64 || skip_all "cannot start syslogd -C"
BUF_PID=$SD_PID
mkdir -p "$TEST_TMP/bin"
cat >"$TEST_TMP/bin/logread" <<EOT
#!/bin/sh
exec nsenter --ipc --target $BUF_PID busybox logread "\$@"
EOT
chmod +x "$TEST_TMP/bin/logread"
ln -sfn "$TEST_TMP/dev2/log" "$SOCK"

test_expect_success 'lines in busybox logread are found' '
	wait_until 20 sh -c "\"$TEST_TMP/bin/logread\" | grep -q vz/chat/a:" &&
	logs --logread "$TEST_TMP/bin/logread" -n all chat >out &&
	grep -q "^20[0-9-]*T[0-9:]*Z a tick [0-9]*\$" out &&
	fb=$(tail -n 1 "$VZROOT/run/log/vz.chat.a.log" | sed "s/^[0-9]* tick //") &&
	grep -q " a tick $fb\$" out &&
	sort -s -c -k1,1 out
'

test_expect_success '-f follows logread -f' '
	"$DRV" logs --root "$VZROOT" --logread "$TEST_TMP/bin/logread" -f -n 0 \
	    chat/a >fout 2>ferr &
	fpid=$!
	st=0; wait_until 20 sh -c "test \$(wc -l <fout) -ge 3" || st=$?
	kill $fpid; fst=0; wait $fpid || fst=$?
	test $st -eq 0 && test $fst -eq 0 &&
	! grep -qv "^20[0-9-]*T[0-9:]*Z a tick [0-9]*\$" fout &&
	test ! -s ferr
'


# The journal: a real systemd-journald in a mount namespace whose /run is
# a folder of ours (its syslog socket is run/systemd/journal/dev-log, its
# files run/log/journal); `vzexec logs` runs in that namespace (nsenter)
# so it finds the journal socket and journalctl reads those files.
JD=$(command -v systemd-journald || ls /lib/systemd/systemd-journald 2>/dev/null)
if [ -x "$JD" ] && command -v journalctl >/dev/null 2>&1; then
	mkdir -p "$TEST_TMP/jrun" "$TEST_TMP/jvar"
	unshare --mount --propagation private sh -c '
	    mount --bind "$0/jrun" /run &&
	    { ! test -d /var/log/journal || mount --bind "$0/jvar" /var/log/journal; } &&
	    mkdir -p /run/systemd/journal && exec "$1"' "$TEST_TMP" "$JD" \
	    >"$TEST_TMP/journald.out" 2>&1 &
	JPID=$!
	test_at_exit "kill $JPID 2>/dev/null"
	JSOCK=$TEST_TMP/jrun/systemd/journal/dev-log
	if wait_until 10 test -S "$JSOCK"; then
		# vzlog keeps its connection: the old daemon must go first.
		ln -sfn "$JSOCK" "$SOCK"
		kill $BUF_PID 2>/dev/null
		jlogs() { nsenter --mount --target $JPID "$DRV" logs --root "$VZROOT" "$@"; }
		test_expect_success 'the journal is read through journalctl' '
			wait_until 20 sh -c "nsenter --mount --target $JPID journalctl -q -t vz/chat/a | grep -q tick" &&
			jlogs -n all chat >out &&
			grep -q "^20[0-9-]*T[0-9:]*Z a tick [0-9]*\$" out &&
			sort -s -c -k1,1 out &&
			jlogs -n 2 chat/a >out && test $(wc -l <out) -eq 2 &&
			! grep -qv " a tick " out
		'
		test_expect_success 'the journal and the fallback file together' '
			fb=$(tail -n 1 "$VZROOT/run/log/vz.chat.a.log" | sed "s/^[0-9]* tick //") &&
			j=$(nsenter --mount --target $JPID journalctl -q -t vz/chat/a -o cat | tail -n 1) &&
			jlogs -n all chat/a >out &&
			grep -q " a tick $fb\$" out &&
			grep -q " a $j\$" out
		'
		test_expect_success '-f follows journalctl -f' '
			nsenter --mount --target $JPID "$DRV" logs --root "$VZROOT" -f -n 0 chat/a >jf 2>jferr &
			fpid=$!
			st=0; wait_until 20 sh -c "test \$(wc -l <jf) -ge 3" || st=$?
			kill $fpid; fst=0; wait $fpid || fst=$?
			cat jf jferr
			test $st -eq 0 && test $fst -eq 0 && ! grep -qv "^20[0-9-]*T[0-9:]*Z a tick [0-9]*\$" jf &&
			test ! -s jferr
		'
	else
		echo "# systemd-journald does not start here: journal not tested"
	fi
else
	echo "# no systemd-journald/journalctl: journal not tested"
fi

test_done

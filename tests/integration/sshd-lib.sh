# sshd-lib.sh: a real, throwaway sshd on 127.0.0.1 for the SSH transport
# tests (t0600, t0620), as OpenSSH's regress/ does.  Sourced after
# tests/lib.sh.  Sets up a fresh $HOME with a client key (nothing of the
# real user's ~/.ssh or agent is used) and $D, the server's folder, with
# host keys host_ed25519 and host2_ed25519 and the authorized key.
#   sshd_up HOSTKEY LOGLEVEL   start it (5 tries, else skip_all): $PORT,
#                              $SSHD_PID, its log in $D/log, and $D/kh a
#                              known_hosts that holds its key
#   stop_sshd
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || skip_all "no sshd"
command -v ssh-keygen >/dev/null || skip_all "no ssh-keygen"
TOOL="$top_builddir/tests/helpers/test-ssh-tool"
[ -x "$TOOL" ] || skip_all "test-ssh-tool not built"

export HOME="$TEST_TMP/home"
mkdir -p "$HOME/.ssh"
unset SSH_AUTH_SOCK
ssh-keygen -q -t ed25519 -N '' -f "$HOME/.ssh/id_ed25519"
D="$TEST_TMP/sshd"
mkdir -p "$D"
ssh-keygen -q -t ed25519 -N '' -f "$D/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -f "$D/host2_ed25519"
cp "$HOME/.ssh/id_ed25519.pub" "$D/authorized_keys"
chmod 600 "$D/authorized_keys"
[ -d /run/sshd ] || mkdir -p /run/sshd

start_sshd() {	# HOSTKEY LOGLEVEL: 0 once it answers a login
	PORT=$(( 20000 + ($$ * 7 + $(date +%N | sed 's/^0*//;s/^$/0/') ) % 30000 ))
	cat >"$D/sshd_config" <<EOC
Port $PORT
ListenAddress 127.0.0.1
HostKey $1
AuthorizedKeysFile $D/authorized_keys
StrictModes no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile $D/sshd.pid
Subsystem sftp internal-sftp
LogLevel $2
EOC
	"$SSHD" -f "$D/sshd_config" -D -E "$D/log" &
	SSHD_PID=$!
	rm -f "$D/kh"
	i=0
	while [ $i -lt 50 ]; do
		"$TOOL" -K "$D/kh" --tofu -p $PORT exec 127.0.0.1 true \
			>/dev/null 2>&1 && return 0
		kill -0 $SSHD_PID 2>/dev/null || return 1
		sleep 0.1; i=$((i + 1))
	done
	return 1
}
stop_sshd() { kill $SSHD_PID 2>/dev/null; wait $SSHD_PID 2>/dev/null; }
sshd_up() {	# HOSTKEY LOGLEVEL; a random port may be taken: try again
	n=0
	until start_sshd "$1" "$2"; do
		n=$((n + 1))
		[ $n -lt 5 ] || skip_all "cannot start sshd: $(tail -3 "$D/log")"
		stop_sshd
	done
}

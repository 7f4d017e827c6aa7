# tests/lib.sh: sourced by every shell test.  Prints TAP: one
# "ok N - description" per check, the plan at the end, and exits 1 if any
# check failed.  Tests that cannot run here (not root, no namespaces) call
# skip_all with the reason, which TAP reports as a skip, never a pass.
#
#   . "$top_srcdir/tests/lib.sh"
#   test_expect_success 'deploy twice is a no-op' '
#       "$VZMASTER" deploy && "$VZMASTER" deploy --json >out &&
#       grep -q "\"changed\":0" out
#   '
#   test_done

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${VZMASTER:=$top_builddir/src/vzmaster}"
: "${VZEXEC:=$top_builddir/src/vzexec}"
export top_srcdir top_builddir VZMASTER VZEXEC

# distcheck re-runs the suite from the tarball; the integration tests have
# already run against the same code in the main pass.
if [ -n "${VZ_SKIP_INTEGRATION:-}" ]; then
	echo "1..0 # SKIP integration tests run in the main pass of scripts/check-all"
	exit 0
fi

test_count=0
test_failed=0
# Each test script gets its own scratch folder, removed at the end unless
# VZ_TEST_KEEP is set (to look at what a failing test left behind).
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vztest.XXXXXX")
test_cleanup_hooks=""

test_at_exit() { test_cleanup_hooks="$1
$test_cleanup_hooks"; }

test_run_cleanup() {
	eval "$test_cleanup_hooks"
	[ -n "${VZ_TEST_KEEP:-}" ] || rm -rf "$TEST_TMP"
}
trap test_run_cleanup EXIT

ok() {		# ok STATUS DESCRIPTION
	test_count=$((test_count + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $test_count - $2"
	else
		echo "not ok $test_count - $2"
		test_failed=$((test_failed + 1))
	fi
}

test_expect_success() {	# DESCRIPTION SCRIPT
	( set -e; cd "$TEST_TMP"; eval "$2" ) >"$TEST_TMP/.out" 2>&1
	st=$?
	ok $st "$1"
	[ $st -eq 0 ] || sed 's/^/#   /' "$TEST_TMP/.out"
}

test_expect_failure_code() {	# CODE DESCRIPTION SCRIPT: SCRIPT must exit CODE
	( cd "$TEST_TMP"; eval "$3" ) >"$TEST_TMP/.out" 2>&1
	st=$?
	if [ $st -eq "$1" ]; then ok 0 "$2"; else
		ok 1 "$2 (exit $st, want $1)"
		sed 's/^/#   /' "$TEST_TMP/.out"
	fi
}

skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

need_root() { [ "$(id -u)" -eq 0 ] || skip_all "needs root"; }

test_done() {
	echo "1..$test_count"
	[ $test_failed -eq 0 ]
}

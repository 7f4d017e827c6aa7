#!/bin/sh
# t0100-inventory-parity: every inventory of the valid corpus (and
# examples/hosts.ini) must give exactly what `ansible-inventory -i FILE
# --list` gives: same groups, hosts, children and typed host variables.
# Every inventory of the invalid corpus must be refused by both tools.
. "$top_srcdir/tests/lib.sh"

: "${ANSIBLE_INVENTORY:=$(command -v ansible-inventory 2>/dev/null)}"
[ -n "$ANSIBLE_INVENTORY" ] && [ -x "$ANSIBLE_INVENTORY" ] ||
	skip_all "ansible-inventory not installed (Debian package ansible)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
DUMP="$top_builddir/tests/unit/inventory-dump"
[ -x "$DUMP" ] || skip_all "tests/unit/inventory-dump not built (make check builds it)"

# Keep ansible away from ~/.ansible and from any ansible.cfg around.
ANSIBLE_HOME="$TEST_TMP/ansible-home"
ANSIBLE_LOCAL_TEMP="$TEST_TMP/ansible-tmp"
ANSIBLE_CONFIG="$TEST_TMP/ansible.cfg"
ANSIBLE_INVENTORY_UNPARSED_FAILED=1
ANSIBLE_NOCOLOR=1
export ANSIBLE_HOME ANSIBLE_LOCAL_TEMP ANSIBLE_CONFIG \
	ANSIBLE_INVENTORY_UNPARSED_FAILED ANSIBLE_NOCOLOR
: >"$ANSIBLE_CONFIG"
CMP="$top_srcdir/tests/integration/inventory-jsoncmp.py"

for f in "$top_srcdir"/tests/inventory/valid/*.ini "$top_srcdir/examples/hosts.ini"; do
	name=$(basename "$f")
	test_expect_success "same as ansible-inventory: $name" '
		"$ANSIBLE_INVENTORY" -i "$f" --list >ansible.json 2>ansible.err ||
			{ cat ansible.err; exit 1; }
		"$DUMP" "$f" >mine.json
		python3 "$CMP" mine.json ansible.json
	'
done

# The invalid corpus: we refuse every file (exit 2); ansible refuses the
# same files, except where we are stricter on purpose: an ansible_port
# that is no port, and host names with NUL bytes or invalid UTF-8.
for f in "$top_srcdir"/tests/inventory/invalid/*.ini; do
	name=$(basename "$f")
	test_expect_failure_code 2 "refused: $name" '"$DUMP" "$f" >/dev/null'
	case $name in
	bad-port.ini|invalid-utf8.ini|nul-byte.ini) continue ;;
	esac
	test_expect_success "ansible-inventory refuses it too: $name" '
		! "$ANSIBLE_INVENTORY" -i "$f" --list >/dev/null 2>&1
	'
done

# Host patterns (-l): the same hosts as `ansible PATTERN --list-hosts`.
ANSIBLE=$(dirname "$ANSIBLE_INVENTORY")/ansible
if [ -x "$ANSIBLE" ]; then
	inv="$top_srcdir/tests/inventory/valid/18-patterns.ini"
	for pat in all '*' web db 'web:db' 'web,db' 'web:&db' 'web:!db' \
	    'all:!web' 'prod:&eu' '~web[12].*' 'web*.com' '*1*' 'db[0]' \
	    'web[1:2]' 'web[-1]' 'eu:us:!db2' '!web' '&db' solo ungrouped \
	    x-1 'w?b*' '[dw]*' 'all:&db:!db1' 'web[1:]' 'web , db' \
	    'eu,!web2.example.com' '*.com:!*3*' '&web,db' 'prod:!us'; do
		test_expect_success "pattern '$pat' selects what ansible selects" '
			"$ANSIBLE" "$pat" -i "$inv" --list-hosts >ansible.out 2>/dev/null
			sed -n "s/^    //p" ansible.out | sort >want
			"$DUMP" -l "$pat" "$inv" | sort >got
			test -s want && diff -u want got
		'
	done
fi

test_done

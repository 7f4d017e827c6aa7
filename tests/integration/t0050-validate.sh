#!/bin/sh
# vzmaster validate: a good cluster folder, a broken one, and the
# ansible-inventory parity of --json's "inventory" member.
. "$top_srcdir/tests/lib.sh"

mkdir -p "$TEST_TMP/c/images/busybox-rootfs" "$TEST_TMP/c/pods"
cp "$top_srcdir"/examples/pods/*.yaml "$TEST_TMP/c/pods/"
cp "$top_srcdir/examples/hosts.ini" "$TEST_TMP/c/hosts.ini"

test_expect_success 'examples validate with exit 0 and a summary' '
	"$VZMASTER" -C c validate >out 2>err &&
	grep -q "^pods (3):" out && grep -q "laravel" out &&
	grep -q "vendor ovh" out && test ! -s err
'

test_expect_success '--json has the pods and the inventory' '
	"$VZMASTER" -C c --json validate >v.json &&
	python3 -c "
import json, sys
v = json.load(open(\"v.json\"))
assert sorted(p[\"name\"] for p in v[\"pods\"]) == [\"echo\", \"laravel\", \"web\"], v[\"pods\"]
assert \"_meta\" in v[\"inventory\"] and \"all\" in v[\"inventory\"]
"
'

if [ -n "${ANSIBLE_INVENTORY:-}" ] && [ -x "$ANSIBLE_INVENTORY" ]; then
	test_expect_success 'inventory member equals ansible-inventory --list' '
		ANSIBLE_HOME="$TEST_TMP/ansible" ANSIBLE_LOCAL_TEMP="$TEST_TMP/ansible/tmp" \
		    "$ANSIBLE_INVENTORY" -i c/hosts.ini --list >a.json 2>/dev/null &&
		python3 -c "
import json
a = json.load(open(\"a.json\"))
v = json.load(open(\"v.json\"))[\"inventory\"]
assert a == v, (a, v)
"
	'
fi

cat >"$TEST_TMP/c/pods/bad.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: Bad_Name
spec:
  containers:
    - name: app
      image: dir:../images/busybox-rootfs
      ports:
        - containerPort: 70000
YAML
test_expect_failure_code 2 'a broken manifest exits 2' '
	"$VZMASTER" -C c validate
'
test_expect_success 'errors name file, line and column' '
	! "$VZMASTER" -C c validate 2>err >/dev/null &&
	grep -E "pods/bad.yaml:4:9: error: metadata.name" err &&
	grep -E "pods/bad.yaml:10:26: error: spec.containers\[0\].ports\[0\].containerPort" err
'
printf '[vz\nweb1\n' >"$TEST_TMP/c/broken.ini"
test_expect_failure_code 2 'a broken inventory exits 2' '
	"$VZMASTER" -C c -i broken.ini validate
'
test_done

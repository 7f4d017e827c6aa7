#!/bin/sh
# t0710-deploy-image-config: the master resolves the image config per
# reference, not per image id.  One OCI layout with two tags (web, worker)
# built on the same layer but with different configs, and a dir: copy of
# the same rootfs, are one image id with three configs: each pod's spec
# (the spec store that `deploy --dry-run` fills) carries its own, from a
# real import, from the imports cache, and from a stale or damaged cache
# entry; the store's <id>.json (last import wins) is never what a spec
# holds; and a change of config alone changes only that pod's hash.
. "$top_srcdir/tests/lib.sh"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"

C=$TEST_TMP/cloud
SPECS=$C/.vzmaster/specs
mkdir -p "$C/pods" "$TEST_TMP/rootfs/bin" "$TEST_TMP/rootfs/etc"
printf '#!/bin/sh\necho app\n' >"$TEST_TMP/rootfs/bin/app"
chmod 0755 "$TEST_TMP/rootfs/bin/app"
echo 'root:x:0:0:root:/root:/bin/sh' >"$TEST_TMP/rootfs/etc/passwd"
touch -d '2024-01-02 03:04:05' "$TEST_TMP/rootfs/bin/app" "$TEST_TMP/rootfs/etc/passwd"

# mkoci LAYOUT TAG=CONFIG...: an OCI layout whose manifests, one per TAG,
# share one layer (a tar of the rootfs); CONFIG is the OCI "config" member.
mkoci() {
	python3 - "$@" <<'EOP'
import hashlib, io, json, os, shutil, sys, tarfile
layout, rootfs = sys.argv[1], os.environ["TEST_TMP"] + "/rootfs"
shutil.rmtree(layout, ignore_errors=True)
os.makedirs(layout + "/blobs/sha256")
def blob(data, media):
    d = hashlib.sha256(data).hexdigest()
    with open("%s/blobs/sha256/%s" % (layout, d), "wb") as f:
        f.write(data)
    return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for name in sorted(os.listdir(rootfs)):
        t.add(os.path.join(rootfs, name), arcname=name)
layer = buf.getvalue()
ld = blob(layer, "application/vnd.oci.image.layer.v1.tar")
manifests = []
for arg in sys.argv[2:]:
    tag, cfg = arg.split("=", 1)
    config = {"architecture": "amd64", "os": "linux", "config": json.loads(cfg),
              "rootfs": {"type": "layers",
                         "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}
    cd = blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
    man = {"schemaVersion": 2, "config": cd, "layers": [ld],
           "mediaType": "application/vnd.oci.image.manifest.v1+json"}
    md = blob(json.dumps(man).encode(), "application/vnd.oci.image.manifest.v1+json")
    md["annotations"] = {"org.opencontainers.image.ref.name": tag}
    manifests.append(md)
json.dump({"imageLayoutVersion": "1.0.0"}, open(layout + "/oci-layout", "w"))
json.dump({"schemaVersion": 2, "manifests": manifests}, open(layout + "/index.json", "w"))
EOP
}
export TEST_TMP

WEB='{"Entrypoint":["/bin/app"],"Cmd":["serve"],"Env":["PATH=/bin","ROLE=web"],"WorkingDir":"/srv","User":"app","ExposedPorts":{"80/tcp":{}}}'
WORKER='{"Cmd":["/bin/app","work"],"Env":["PATH=/bin","ROLE=worker"]}'
mkoci "$TEST_TMP/app" "web=$WEB" "worker=$WORKER"

cat >"$C/hosts.ini" <<'EOF'
[vz]
n1 ansible_host=127.0.0.1 ansible_port=1 vendor=a
EOF
pod() {		# pod NAME IMAGE...: a pod with one container per image
	_f=$C/pods/$1.yaml
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  containers:\n' "$1" >"$_f"
	shift
	i=0
	for img; do
		i=$((i + 1))
		printf '  - name: c%s\n    image: %s\n' $i "$img" >>"$_f"
	done
}
pod web "oci:$TEST_TMP/app:web"
pod worker "oci:$TEST_TMP/app:worker"
pod plain "dir:$TEST_TMP/rootfs"
pod duo "oci:$TEST_TMP/app:worker" "oci:$TEST_TMP/app:web"

# dry: a dry run that builds every spec afresh (the node is unreachable,
# so the plan is short: exit 1), no import failure
dry() {
	rm -rf "$SPECS"
	"$VZMASTER" -C "$C" --json deploy --dry-run >dry.json 2>dry.err
	st=$?
	[ $st -le 1 ] || { cat dry.err; return 1; }
	python3 -c '
import json, sys
d = json.load(open("dry.json"))
assert d["importFailures"] == [], d["importFailures"]'
}
# specs OUT: "POD CTR ID HASH IMAGECONFIG" lines from the spec store
specs() {
	python3 - "$SPECS" >"$1" <<'EOP'
import json, os, sys
for f in sorted(os.listdir(sys.argv[1])):
    s = json.load(open(os.path.join(sys.argv[1], f)))
    for c in s["containers"]:
        print(s["name"], c["name"], c["image"], s["hash"],
              json.dumps(c.get("imageConfig"), separators=(",", ":")))
EOP
}
field() { awk -v p="$2" -v c="$3" -v n="$4" '$1 == p && $2 == c { print $n }' "$1"; }
config() { awk -v p="$2" -v c="$3" '$1 == p && $2 == c { $1 = $2 = $3 = $4 = ""; sub(/^ */, ""); print }' "$1"; }

WEB_IC='{"Entrypoint":["/bin/app"],"Cmd":["serve"],"Env":["PATH=/bin","ROLE=web"],"WorkingDir":"/srv","User":"app"}'
WORKER_IC='{"Entrypoint":null,"Cmd":["/bin/app","work"],"Env":["PATH=/bin","ROLE=worker"],"WorkingDir":"","User":""}'
DIR_IC='{"Entrypoint":null,"Cmd":null,"Env":[],"WorkingDir":"","User":""}'

# check OUT: every container carries its own reference's config
check() {
	id=$(field "$1" web c1 3) && [ ${#id} -eq 64 ] &&
	[ "$(field "$1" worker c1 3)" = "$id" ] &&
	[ "$(field "$1" plain c1 3)" = "$id" ] &&
	[ "$(field "$1" duo c1 3)" = "$id" ] && [ "$(field "$1" duo c2 3)" = "$id" ] &&
	[ "$(config "$1" web c1)" = "$WEB_IC" ] &&
	[ "$(config "$1" worker c1)" = "$WORKER_IC" ] &&
	[ "$(config "$1" plain c1)" = "$DIR_IC" ] &&
	[ "$(config "$1" duo c1)" = "$WORKER_IC" ] &&
	[ "$(config "$1" duo c2)" = "$WEB_IC" ] ||
	{ cat "$1"; return 1; }
}
# hashes OUT: "POD HASH" lines
hashes() { awk '{ print $1, $4 }' "$1" | sort -u; }

test_expect_success 'one image id, each pod spec with its own reference config' '
	dry && specs s1 && cat s1 && check s1 &&
	hashes s1 >h1 && [ $(wc -l <h1) -eq 4 ] &&
	[ $(cut -d" " -f2 h1 | sort -u | wc -l) -eq 4 ]
'

test_expect_success 'the imports cache keeps the id and config per reference' '
	id=$(field s1 web c1 3) &&
	n=$(ls "$C/.vzmaster/images/imports" | wc -l) && [ "$n" -eq 3 ] &&
	for f in "$C"/.vzmaster/images/imports/*; do
		head -n 1 "$f" | grep -qx "$id" &&
		tail -n +2 "$f" | python3 -c "import json, sys; assert json.load(sys.stdin)[\"vzimage\"] == 1" ||
		exit 1
	done
'

test_expect_success 'from the cache, whatever <id>.json holds: the same specs' '
	id=$(field s1 web c1 3) &&
	echo "{\"vzimage\":1,\"ref\":\"bogus\",\"Entrypoint\":null,\"Cmd\":[\"BOGUS\"],\"Env\":[],\"WorkingDir\":\"\",\"User\":\"\",\"ExposedPorts\":[]}" \
	    >"$C/.vzmaster/images/$id.json" &&
	touch -d "2020-01-01" "$C/.vzmaster/images/$id.json" &&
	dry && specs s2 && check s2 && hashes s2 >h2 && cmp h1 h2 &&
	! grep -q BOGUS "$SPECS"/* &&
	grep -q BOGUS "$C/.vzmaster/images/$id.json"
'

test_expect_success 'a cache entry of an older vzmaster (id only) is imported again' '
	id=$(field s1 web c1 3) &&
	for f in "$C"/.vzmaster/images/imports/*; do printf %s "$id" >"$f"; done &&
	dry && specs s3 && check s3 && hashes s3 >h3 && cmp h1 h3 &&
	for f in "$C"/.vzmaster/images/imports/*; do
		[ $(wc -l <"$f") -ge 1 ] && tail -n +2 "$f" | grep -q vzimage || exit 1
	done
'

test_expect_success 'a damaged cache entry is imported again' '
	for f in "$C"/.vzmaster/images/imports/*; do
		head -c 100 "$f" >"$f.cut" && mv "$f.cut" "$f"
	done &&
	dry && specs s4 && check s4 && hashes s4 >h4 && cmp h1 h4
'

test_expect_success 'a change of config alone: same id, a new hash for that pod only' '
	mkoci "$TEST_TMP/app" "web=$WEB" \
	    "worker={\"Cmd\":[\"/bin/app\",\"work\",\"--fast\"],\"Env\":[\"PATH=/bin\",\"ROLE=worker\"]}" &&
	dry && specs s5 && cat s5 &&
	[ "$(field s5 worker c1 3)" = "$(field s1 worker c1 3)" ] &&
	[ "$(config s5 worker c1)" = "{\"Entrypoint\":null,\"Cmd\":[\"/bin/app\",\"work\",\"--fast\"],\"Env\":[\"PATH=/bin\",\"ROLE=worker\"],\"WorkingDir\":\"\",\"User\":\"\"}" ] &&
	[ "$(config s5 web c1)" = "$WEB_IC" ] &&
	hashes s5 >h5 && cat h1 h5 &&
	[ "$(grep "^web " h5)" = "$(grep "^web " h1)" ] &&
	[ "$(grep "^plain " h5)" = "$(grep "^plain " h1)" ] &&
	[ "$(grep "^worker " h5)" != "$(grep "^worker " h1)" ] &&
	[ "$(grep "^duo " h5)" != "$(grep "^duo " h1)" ]
'

test_done

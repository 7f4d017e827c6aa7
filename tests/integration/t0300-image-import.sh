#!/bin/sh
# t0300-image-import: real OCI and docker archives made offline by podman
# and umoci from a busybox-static rootfs flatten to the same rootfs as the
# folder they came from; the config (Cmd, Env) is carried over.
. "$top_srcdir/tests/lib.sh"

BUSYBOX=$(command -v busybox 2>/dev/null || echo /bin/busybox)
[ -x "$BUSYBOX" ] || skip_all "busybox-static is not installed"
file -L "$BUSYBOX" | grep -q 'statically linked' || skip_all "busybox is not static"

STORE=$TEST_TMP/store
mkdir -p "$TEST_TMP/rootfs/bin" "$TEST_TMP/rootfs/etc" "$TEST_TMP/rootfs/srv/app"
cp "$BUSYBOX" "$TEST_TMP/rootfs/bin/busybox"
ln -s busybox "$TEST_TMP/rootfs/bin/sh"
ln "$TEST_TMP/rootfs/bin/busybox" "$TEST_TMP/rootfs/bin/ls"
echo "hello" >"$TEST_TMP/rootfs/etc/motd"
chmod 0640 "$TEST_TMP/rootfs/etc/motd"
echo "#!/bin/sh" >"$TEST_TMP/rootfs/srv/app/run"
chmod 0755 "$TEST_TMP/rootfs/srv/app/run"
touch -d '2024-01-02 03:04:05' "$TEST_TMP/rootfs/etc/motd"

import() {	# REF: prints the image id
	"$VZMASTER" image import --store "$STORE" --json "$1" >"$TEST_TMP/imp.json" &&
	sed -n 's/.*"id": *"\([0-9a-f]*\)".*/\1/p' "$TEST_TMP/imp.json"
}

# The file list with types, modes, owners, link targets and content sums.
listing() {	# TARBALL OUT
	rm -rf "$TEST_TMP/x" && mkdir "$TEST_TMP/x" &&
	tar -C "$TEST_TMP/x" -xpf "$1" &&
	(cd "$TEST_TMP/x" && find . -mindepth 1 | LC_ALL=C sort | while read -r f; do
		if [ -L "$f" ]; then echo "$f link $(readlink "$f")"
		elif [ -f "$f" ]; then echo "$f $(stat -c '%a %u:%g' "$f") $(sha256sum <"$f" | cut -c1-16)"
		else echo "$f $(stat -c '%F %a %u:%g' "$f")"; fi
	done) >"$2"
}

test_expect_success 'dir: import of the rootfs' '
	id=$(import "dir:$TEST_TMP/rootfs") && test ${#id} -eq 64 &&
	echo "$id" >dir.id && listing "$STORE/$id.tar" dir.list &&
	grep -q "^./bin/sh link busybox" dir.list &&
	grep -q "^./etc/motd 640 0:0" dir.list
'

test_expect_success 'dir: the tarball hashes to its id' '
	id=$(cat dir.id) && echo "$id  $STORE/$id.tar" | sha256sum -c -
'

test_expect_success 'dir: a second import gives the same id' '
	id=$(import "dir:$TEST_TMP/rootfs") && test "$id" = "$(cat dir.id)"
'

PODMAN="podman --storage-driver=vfs --root $TEST_TMP/storage --runroot $TEST_TMP/run"
if command -v podman >/dev/null &&
   tar -C "$TEST_TMP/rootfs" -cf "$TEST_TMP/rootfs.tar" . &&
   $PODMAN import --change 'CMD ["/bin/sh","-c","echo hi"]' \
	--change 'ENV GREETING=hello' "$TEST_TMP/rootfs.tar" \
	localhost/vztest:1 >"$TEST_TMP/podman.log" 2>&1 &&
   $PODMAN save --format oci-archive -o "$TEST_TMP/img.oci.tar" \
	localhost/vztest:1 >>"$TEST_TMP/podman.log" 2>&1 &&
   $PODMAN save --format docker-archive -o "$TEST_TMP/img.docker.tar" \
	localhost/vztest:1 >>"$TEST_TMP/podman.log" 2>&1; then

	test_expect_success 'oci-archive (podman save): same files as the folder' '
		id=$(import "oci-archive:$TEST_TMP/img.oci.tar") && echo "$id" >oci.id &&
		listing "$STORE/$id.tar" oci.list && diff dir.list oci.list
	'
	test_expect_success 'oci-archive: config carries Cmd and Env' '
		id=$(cat oci.id) &&
		grep -q "\"Cmd\":\[\"/bin/sh\",\"-c\",\"echo hi\"\]" "$STORE/$id.json" &&
		grep -q "GREETING=hello" "$STORE/$id.json"
	'
	test_expect_success 'docker-archive (podman save): same files, same id' '
		id=$(import "docker-archive:$TEST_TMP/img.docker.tar") &&
		listing "$STORE/$id.tar" docker.list && diff dir.list docker.list &&
		test "$id" = "$(cat oci.id)"
	'
	test_expect_success 'docker-archive: picked by its tag' '
		id=$(import "docker-archive:$TEST_TMP/img.docker.tar:vztest:1") &&
		test "$id" = "$(cat oci.id)"
	'
	test_expect_failure_code 1 'docker-archive: unknown tag is an error' '
		"$VZMASTER" image import --store "$STORE" \
			"docker-archive:$TEST_TMP/img.docker.tar:nosuch:2" 2>err;
		st=$?; grep -q "no image tagged .nosuch:2." err && exit $st; exit 99
	'
	test_expect_success 'oci-archive: a corrupted blob is named in the error' '
		mkdir -p bad && tar -C bad -xf "$TEST_TMP/img.oci.tar" &&
		blob=$(ls -S bad/blobs/sha256 | head -n1) &&
		printf "CORRUPTED-BYTES!" | dd of="bad/blobs/sha256/$blob" bs=1 seek=5000 conv=notrunc 2>/dev/null &&
		(cd bad && tar -cf ../bad.oci.tar .) &&
		! "$VZMASTER" image import --store "$STORE" "oci-archive:$TEST_TMP/bad.oci.tar" 2>err &&
		cat err && grep -q "bad.oci.tar:blobs/sha256/$blob" err
	'
else
	echo "# podman could not build archives here (skipping its checks):"
	sed 's/^/#   /' "$TEST_TMP/podman.log" 2>/dev/null | tail -5
fi

if command -v umoci >/dev/null &&
   umoci init --layout "$TEST_TMP/layout" >"$TEST_TMP/umoci.log" 2>&1 &&
   umoci new --image "$TEST_TMP/layout:v1" >>"$TEST_TMP/umoci.log" 2>&1 &&
   umoci unpack --image "$TEST_TMP/layout:v1" "$TEST_TMP/bundle" >>"$TEST_TMP/umoci.log" 2>&1 &&
   cp -a "$TEST_TMP/rootfs/." "$TEST_TMP/bundle/rootfs/" &&
   umoci repack --image "$TEST_TMP/layout:v1" "$TEST_TMP/bundle" >>"$TEST_TMP/umoci.log" 2>&1 &&
   umoci config --image "$TEST_TMP/layout:v1" --config.cmd /bin/sh >>"$TEST_TMP/umoci.log" 2>&1; then

	test_expect_success 'oci: layout made by umoci, by tag' '
		id=$(import "oci:$TEST_TMP/layout:v1") &&
		listing "$STORE/$id.tar" umoci.list &&
		diff dir.list umoci.list &&
		grep -q "\"Cmd\":\[\"/bin/sh\"\]" "$STORE/$id.json"
	'
	test_expect_success 'oci: second layer with a whiteout (umoci rm)' '
		umoci unpack --image "$TEST_TMP/layout:v1" "$TEST_TMP/b2" >/dev/null 2>&1 &&
		rm "$TEST_TMP/b2/rootfs/etc/motd" && rm -r "$TEST_TMP/b2/rootfs/srv" &&
		umoci repack --image "$TEST_TMP/layout:v2" "$TEST_TMP/b2" >/dev/null 2>&1 &&
		id=$(import "oci:$TEST_TMP/layout:v2") &&
		listing "$STORE/$id.tar" v2.list &&
		! grep -q "etc/motd" v2.list && ! grep -q "srv" v2.list &&
		grep -q "bin/busybox" v2.list
	'
	test_expect_failure_code 1 'oci: several manifests and no tag is an error' '
		"$VZMASTER" image import --store "$STORE" "oci:$TEST_TMP/layout" 2>err;
		st=$?; grep -q "holds 2 manifests" err && exit $st; exit 99
	'
else
	echo "# umoci could not build a layout here (skipping its checks):"
	sed 's/^/#   /' "$TEST_TMP/umoci.log" 2>/dev/null | tail -5
fi

test_expect_success 'the store keeps the versions per reference' '
	"$VZMASTER" image list --store "$STORE" --json >list.json &&
	grep -q "dir:$TEST_TMP/rootfs" list.json
'

test_done

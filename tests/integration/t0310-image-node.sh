#!/bin/sh
# t0310-image-node: vzexec-image on a node ROOT in a temp folder: full and
# delta imports built by `vzmaster image pack`, corrupt and mismatching
# uploads (exit 1 / exit 3, images/ unchanged), a full disk (a small
# tmpfs), image-gc and image-list, and a corpus of hostile tarballs that
# must not write anything outside the image root.
. "$top_srcdir/tests/lib.sh"
need_root

VZIMG=$top_builddir/src/vzexec-image
BUSYBOX=$(command -v busybox 2>/dev/null || echo /bin/busybox)
[ -x "$BUSYBOX" ] || skip_all "busybox-static is not installed"
command -v python3 >/dev/null || skip_all "python3 is needed for the hostile tarballs"

STORE=$TEST_TMP/store
ROOT=$TEST_TMP/node
OUT=$TEST_TMP/out
mkdir -p "$ROOT" "$OUT"

# Three versions of one image: v2 changes a file, v3 adds one.
mkroot() {	# DIR VERSION
	mkdir -p "$1/bin" "$1/etc" &&
	cp "$BUSYBOX" "$1/bin/busybox" && ln -sf busybox "$1/bin/sh" &&
	echo "version $2" >"$1/etc/motd" &&
	head -c 300000 /dev/urandom >"$1/etc/blob" 2>/dev/null || true
}
mkroot "$TEST_TMP/v1" 1
cp -a "$TEST_TMP/v1" "$TEST_TMP/v2" && echo "version 2" >"$TEST_TMP/v2/etc/motd"
cp -a "$TEST_TMP/v2" "$TEST_TMP/v3" && echo "new" >"$TEST_TMP/v3/etc/new"
# one reference for all versions, as a user rebuilding the same folder
mkdir -p "$TEST_TMP/app"
import() {	# VERSION: copy it to the folder of the reference, import
	rm -rf "$TEST_TMP/app/rootfs" && cp -a "$TEST_TMP/$1" "$TEST_TMP/app/rootfs" &&
	"$VZMASTER" image import --store "$STORE" --json "dir:$TEST_TMP/app/rootfs" |
	sed -n 's/.*"id": *"\([0-9a-f]*\)".*/\1/p'
}
V1=$(import v1) V2=$(import v2) V3=$(import v3)

pack() {	# ID [BASE] [COMPRESS]: pack into $OUT, copy to incoming/
	rm -rf "$OUT" && mkdir -p "$OUT" "$ROOT/incoming" &&
	"$VZMASTER" image pack --store "$STORE" --json ${2:+--base "$2"} \
		${3:+--compress "$3"} "$1" "$OUT" >"$TEST_TMP/pack.json" &&
	test "$(ls "$OUT" | wc -l)" -eq 2 && cp "$OUT"/* "$ROOT/incoming/"
}
# the sha256 of an image's tarball as the node puts it together again
tarsum() { "$VZIMG" image-cat --root "$ROOT" "$1" | sha256sum | cut -d" " -f1; }
snapshot() { (cd "$ROOT" && find images pods 2>/dev/null | LC_ALL=C sort | xargs -r ls -ld --time-style=+%s | md5sum); }
incoming_clean() { test -z "$(ls -A "$ROOT/incoming" | grep -v '^\.lock$')"; }

test_expect_success 'vzexec-image is statically linked' '
	file "$VZIMG" | grep -q "statically linked"
'

test_expect_success 'three versions imported on the master' '
	test ${#V1} -eq 64 && test ${#V2} -eq 64 && test ${#V3} -eq 64 &&
	test "$V1" != "$V2" && test "$V2" != "$V3"
'

test_expect_success 'full import of v1 (tar+zstd)' '
	pack $V1 && grep -q "\"encoding\":\"tar+zstd\"" pack.json &&
	"$VZIMG" image-import --root "$ROOT" $V1.upload.json >imp.json &&
	grep -q "\"status\":\"imported\"" imp.json &&
	"$ROOT/images/$V1/rootfs/bin/busybox" true &&
	test "$(cat "$ROOT/images/$V1/rootfs/etc/motd")" = "version 1" &&
	test "$(tarsum $V1)" = $V1 &&
	grep -q "\"ref\":\"dir:$TEST_TMP/app/rootfs\"" "$ROOT/images/$V1/config.json" &&
	test "$(stat -c %a "$ROOT/images/$V1")" = 700 &&
	incoming_clean
'

test_expect_success 'the node keeps no tarball, only a map of a few percent' '
	test ! -e "$ROOT/images/$V1.tar" && test -f "$ROOT/images/$V1/tarmap" &&
	full=$(sed -n "s/.*\"imageSize\":\([0-9]*\).*/\1/p" pack.json) &&
	map=$(stat -c %s "$ROOT/images/$V1/tarmap") && echo "map $map of $full" &&
	test $((map * 20)) -lt $full &&
	grep -q "\"mapBytes\":" imp.json
'

test_expect_failure_code 1 'image-cat of a damaged image fails after the bytes' '
	cp -a "$ROOT/images/$V1" "$ROOT/images/$(printf %064d 9)" &&
	"$VZIMG" image-cat --root "$ROOT" $(printf %064d 9) >/dev/null 2>err; st=$?
	cat err; rm -rf "$ROOT/images/$(printf %064d 9)"
	grep -q "is damaged" err && exit $st; exit 99
'

test_expect_success 'importing what is present sends nothing and changes nothing' '
	before=$(snapshot) && pack $V1 &&
	"$VZIMG" image-import --root "$ROOT" $V1.upload.json >imp.json &&
	grep -q "\"status\":\"present\"" imp.json &&
	test "$before" = "$(snapshot)" && incoming_clean
'

test_expect_failure_code 1 'a corrupted full upload is rejected' '
	before=$(snapshot) && pack $V2 "" zstd &&
	f=$(ls "$ROOT/incoming" | grep "\.zst$") &&
	printf "CORRUPTED-BYTES!" | dd of="$ROOT/incoming/$f" bs=1 seek=1000 conv=notrunc 2>/dev/null &&
	"$VZIMG" image-import --root "$ROOT" $V2.upload.json 2>err; st=$?
	cat err; grep -q "is corrupt" err &&
	test "$before" = "$(snapshot)" && incoming_clean && exit $st; exit 99
'

test_expect_failure_code 1 'an upload that is not the image it claims is rejected' '
	before=$(snapshot) && pack $V2 "" none &&
	sed "s/\"image\":\"$V2\"/\"image\":\"$V3\"/" "$ROOT/incoming/$V2.upload.json" \
		>"$ROOT/incoming/x.upload.json" && rm "$ROOT/incoming/$V2.upload.json" &&
	"$VZIMG" image-import --root "$ROOT" x.upload.json 2>err; st=$?
	cat err; grep -q "upload result does not match" err &&
	test ! -e "$ROOT/images/$V3" && test "$before" = "$(snapshot)" &&
	incoming_clean && exit $st; exit 99
'

test_expect_failure_code 2 'usage errors exit 2' '
	"$VZIMG" image-import --root "$ROOT"
'

if "$VZMASTER" image pack --store "$STORE" --base $V1 $V2 "$TEST_TMP/probe" \
	>/dev/null 2>"$TEST_TMP/probe.err"; then
	test_expect_success 'delta import of v2 against v1' '
		pack $V2 $V1 && grep -q "\"encoding\":\"vcdiff" pack.json &&
		full=$(sed -n "s/.*\"imageSize\":\([0-9]*\).*/\1/p" pack.json) &&
		sent=$(sed -n "s/.*\"size\":\([0-9]*\).*/\1/p" pack.json) &&
		echo "sent $sent bytes for $full" && test $((sent * 20)) -lt $full &&
		"$VZIMG" image-import --root "$ROOT" $V2.upload.json &&
		test "$(tarsum $V2)" = $V2 &&
		test "$(cat "$ROOT/images/$V2/rootfs/etc/motd")" = "version 2" &&
		incoming_clean
	'
	test_expect_failure_code 3 'a delta whose result mismatches exits 3' '
		before=$(snapshot) && pack $V3 $V2 &&
		V4=$(printf %064d 4) &&
		sed "s/\"image\":\"$V3\"/\"image\":\"$V4\"/" "$ROOT/incoming/$V3.upload.json" \
			>"$ROOT/incoming/y.upload.json" && rm "$ROOT/incoming/$V3.upload.json" &&
		"$VZIMG" image-import --root "$ROOT" y.upload.json 2>err; st=$?
		cat err; grep -q "delta result does not match" err &&
		test "$before" = "$(snapshot)" && incoming_clean && exit $st; exit 99
	'
	test_expect_failure_code 3 'a corrupted delta upload exits 3 (send the full image)' '
		before=$(snapshot) && pack $V3 $V2 &&
		f=$(ls "$ROOT/incoming" | grep vcdiff) &&
		printf "CORRUPTED-BYTES!" | dd of="$ROOT/incoming/$f" bs=1 seek=20 conv=notrunc 2>/dev/null &&
		"$VZIMG" image-import --root "$ROOT" $V3.upload.json 2>err; st=$?
		cat err; test "$before" = "$(snapshot)" && incoming_clean && exit $st; exit 99
	'
	test_expect_failure_code 3 'a delta against a base the node lacks exits 3' '
		before=$(snapshot) && pack $V3 $V2 && mv "$ROOT/images/$V2/tarmap" base.map &&
		"$VZIMG" image-import --root "$ROOT" $V3.upload.json 2>err; st=$?
		mv base.map "$ROOT/images/$V2/tarmap"; cat err;
		test ! -e "$ROOT/images/$V3" && incoming_clean && exit $st; exit 99
	'
	test_expect_success 'a delta against a legacy base (images/ID.tar, vzexec < 0.4)' '
		"$VZIMG" image-cat --root "$ROOT" $V2 >legacy.tar && mv legacy.tar "$ROOT/images/$V2.tar" &&
		mv "$ROOT/images/$V2/tarmap" base.map && pack $V3 $V2 &&
		"$VZIMG" image-import --root "$ROOT" $V3.upload.json >imp.json &&
		cat imp.json && grep -q "\"encoding\":\"vcdiff\"" imp.json &&
		test "$(tarsum $V3)" = $V3 && test "$(tarsum $V2)" = $V2 &&
		"$VZIMG" image-list --root "$ROOT" | grep -q "\"id\":\"$V2\"" &&
		rm -rf "$ROOT/images/$V3" "$ROOT/images/$V2.tar" &&
		mv base.map "$ROOT/images/$V2/tarmap" && test "$(tarsum $V2)" = $V2
	'
	test_expect_failure_code 3 'a delta against a base whose rootfs changed exits 3' '
		before=$(snapshot) && pack $V3 $V2 &&
		b=$ROOT/images/$V2/rootfs/etc/blob && cp -p "$b" blob.keep &&
		printf XXXX | dd of="$b" bs=1 seek=100 conv=notrunc 2>/dev/null &&
		"$VZIMG" image-import --root "$ROOT" $V3.upload.json 2>err; st=$?
		cp -p blob.keep "$b"; cat err; grep -q "delta result does not match" err &&
		test "$before" = "$(snapshot)" && incoming_clean && exit $st; exit 99
	'
else
	echo "# delta encoding not built in (vcdiff not merged yet): $(cat "$TEST_TMP/probe.err")"
	test_expect_success 'without vcdiff a delta upload asks for the full image' '
		pack $V2 && sed -e "s/\"base\":null/\"base\":\"$V1\"/" \
			-e "s/\"encoding\":\"tar+xz\"/\"encoding\":\"vcdiff+xz\"/" \
			"$ROOT/incoming/$V2.upload.json" >"$ROOT/incoming/z.upload.json" &&
		rm "$ROOT/incoming/$V2.upload.json" &&
		{ "$VZIMG" image-import --root "$ROOT" z.upload.json; test $? -eq 3; } &&
		incoming_clean
	'
	pack $V2 && "$VZIMG" image-import --root "$ROOT" $V2.upload.json >/dev/null
fi

test_expect_success 'a full disk: clear error, no partial files (tmpfs ROOT)' '
	small=$TEST_TMP/small && mkdir -p "$small" && pack $V3 "" xz &&
	kb=$(( $(cat "$OUT"/*.xz | wc -c) / 1024 + 300 )) &&
	unshare -m sh -c "
		mount -t tmpfs -o size=${kb}k vzt$$ \"$small\" &&
		mkdir \"$small/incoming\" && cp \"$OUT\"/* \"$small/incoming/\" &&
		{ \"$VZIMG\" image-import --root \"$small\" $V3.upload.json 2>\"$TEST_TMP/enospc.err\";
		  echo \$? >\"$TEST_TMP/enospc.rc\"; } ;
		find \"$small\" | sort >\"$TEST_TMP/enospc.find\"" &&
	cat enospc.err enospc.find &&
	test "$(cat enospc.rc)" = 1 && grep -q "No space left on device" enospc.err &&
	test "$(cat enospc.find)" = "$small
$small/images
$small/incoming
$small/incoming/.lock"
'

test_expect_success 'image-list shows the images with their reference' '
	"$VZIMG" image-list --root "$ROOT" >list.json && cat list.json &&
	grep -q "\"id\":\"$V1\",\"ref\":\"dir:$TEST_TMP/app/rootfs\"" list.json &&
	grep -q "\"id\":\"$V2\"" list.json
'

test_expect_success 'image-gc keeps the images pods use and the newest N' '
	pack $V3 && "$VZIMG" image-import --root "$ROOT" $V3.upload.json &&
	touch -d "2020-01-01" "$ROOT/images/$V1/tarmap" &&
	touch -d "2021-01-01" "$ROOT/images/$V2/tarmap" &&
	touch -d "2022-01-01" "$ROOT/images/$V3/tarmap" &&
	mkdir -p "$ROOT/pods" &&
	echo "{\"vzspec\":1,\"name\":\"web\",\"containers\":[{\"name\":\"a\",\"image\":\"$V1\"}]}" \
		>"$ROOT/pods/web.json" &&
	"$VZIMG" image-gc --root "$ROOT" --keep 1 >gc.json && cat gc.json &&
	grep -q "\"removed\":\[\"$V2\"\]" gc.json &&
	test -d "$ROOT/images/$V1" && test -d "$ROOT/images/$V3" &&
	test ! -e "$ROOT/images/$V2" && test ! -e "$ROOT/images/$V2.tar"
'

test_expect_success 'image-gc removes what a dead import left in incoming/' '
	id=$(printf %064d 7) && mkdir -p "$ROOT/incoming/$id.tmp/rootfs" &&
	echo x >"$ROOT/incoming/$id.tar.tmp" && echo keep >"$ROOT/incoming/upload.part" &&
	"$VZIMG" image-gc --root "$ROOT" --keep 1 >gc.json && cat gc.json &&
	grep -q "\"staleRemoved\":\[\"$id.t" gc.json &&
	test ! -e "$ROOT/incoming/$id.tmp" && test ! -e "$ROOT/incoming/$id.tar.tmp" &&
	test -f "$ROOT/incoming/upload.part" && rm "$ROOT/incoming/upload.part"
'

test_expect_success 'image-gc removes nothing when a pod spec is unreadable' '
	echo "{broken" >"$ROOT/pods/bad.json" &&
	! "$VZIMG" image-gc --root "$ROOT" --keep 0 2>err && grep -q "removing nothing" err &&
	test -d "$ROOT/images/$V3" && rm "$ROOT/pods/bad.json"
'

# ---- hostile tarballs ----
H=$TEST_TMP/hostile
HROOT=$TEST_TMP/hnode
SENT=$TEST_TMP/sentinel
mkdir -p "$H" "$HROOT/incoming" "$SENT"
echo "original" >"$SENT/victim"
python3 "$top_srcdir/tests/integration/hostile-tars.py" "$H" "$SENT" \
	"$HROOT/incoming/x.tmp/rootfs" >"$H/cases"
sent_state() { (cd "$SENT" && find . -exec ls -ld --time-style=+%s {} + | sort; cat victim) | md5sum; }
sent_before=$(sent_state)

upload_tar() {	# TAR: put it in incoming/ as a plain "tar" upload; prints the id
	id=$(sha256sum <"$1" | cut -c1-64) && size=$(stat -c %s "$1") &&
	cp "$1" "$HROOT/incoming/$id.tar" &&
	printf '{"vzupload":1,"image":"%s","ref":"hostile","base":null,"encoding":"tar","file":"%s.tar","size":%s,"sha256":"%s","imageSize":%s,"config":{"vzimage":1,"ref":"hostile"}}' \
		"$id" "$id" "$size" "$id" "$size" >"$HROOT/incoming/$id.upload.json" &&
	echo "$id"
}

while read -r case expect; do
	if [ "$expect" = refuse ]; then
		test_expect_success "hostile tar '$case' is refused, nothing written outside" '
			id=$(upload_tar "$H/$case.tar") &&
			! "$VZIMG" image-import --root "$HROOT" $id.upload.json 2>err &&
			cat err && test -z "$(ls -A "$HROOT/images")" &&
			test -z "$(ls -A "$HROOT/incoming" | grep -v "^\.lock$")" &&
			test "$(sent_state)" = "$sent_before" &&
			test -z "$(ls -d /escape* /pwned* 2>/dev/null)" &&
			test -z "$(find "$TEST_TMP" -name "escape-*" -o -name "pwned*")"
		'
	fi
done <"$H/cases"

test_expect_success 'hostile devices are skipped unless trusted' '
	id=$(upload_tar "$H/devices.tar") &&
	"$VZIMG" image-import --root "$HROOT" $id.upload.json >out.json &&
	grep -q "\"skippedDevices\":2" out.json &&
	test ! -e "$HROOT/images/$id/rootfs/dev/mem2" &&
	test -f "$HROOT/images/$id/rootfs/dev/ok" &&
	rm -rf "$HROOT/images/$id" "$HROOT/images/$id.tar" &&
	id=$(upload_tar "$H/devices.tar") &&
	"$VZIMG" image-import --root "$HROOT" --trust-devices $id.upload.json &&
	test -c "$HROOT/images/$id/rootfs/dev/mem2" &&
	test -b "$HROOT/images/$id/rootfs/dev/sda9"
'

test_expect_success 'a setuid file is kept, behind a 0700 image folder' '
	id=$(upload_tar "$H/setuid.tar") &&
	"$VZIMG" image-import --root "$HROOT" $id.upload.json &&
	test "$(stat -c %a "$HROOT/images/$id/rootfs/bin/su")" = 4755 &&
	test "$(stat -c %a "$HROOT/images/$id")" = 700 &&
	test "$(sent_state)" = "$sent_before"
'

test_done

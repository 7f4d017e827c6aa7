#!/bin/sh
# t0320-image-stdin: `vzexec-image image-import --stdin` (manifest line +
# payload on stdin, as the master streams it over an SSH exec channel) gives
# the same images as the file form, full and delta; truncated, corrupt and
# baseless streams and the hostile-tar corpus leave images/ unchanged; a
# delta hardlinks the files it did not change to the base image; the
# .unsynced marks are swept by a later syncfs; image-check unpacks a marked
# image again from its tarball read back through its map (or from a legacy
# images/ID.tar), putting back what a crash lost, and removes it when a
# byte of the tarball is wrong.
. "$top_srcdir/tests/lib.sh"
need_root

VZIMG=$top_builddir/src/vzexec-image
BUSYBOX=$(command -v busybox 2>/dev/null || echo /bin/busybox)
[ -x "$BUSYBOX" ] || skip_all "busybox-static is not installed"
command -v python3 >/dev/null || skip_all "python3 is needed for the hostile tarballs"

STORE=$TEST_TMP/store
SROOT=$TEST_TMP/snode	# imports through --stdin
FROOT=$TEST_TMP/fnode	# the same imports through the file form
mkdir -p "$SROOT" "$FROOT/incoming"

# v2 changes one small file of v1 and adds one; the rest is unchanged.
mkroot() {	# DIR VERSION
	mkdir -p "$1/bin" "$1/etc" "$1/usr/lib" &&
	cp "$BUSYBOX" "$1/bin/busybox" && ln -sf busybox "$1/bin/sh" &&
	ln "$1/bin/busybox" "$1/bin/ls" &&
	echo "version $2" >"$1/etc/motd" && chmod 640 "$1/etc/motd" &&
	head -c 300000 /dev/urandom >"$1/etc/blob" &&
	for i in 1 2 3 4 5 6 7 8; do
		head -c $((i * 5000)) /dev/urandom >"$1/usr/lib/lib$i.so" || return 1
	done && : >"$1/etc/empty"
}
mkroot "$TEST_TMP/v1" 1
cp -a "$TEST_TMP/v1" "$TEST_TMP/v2" && echo "version 2" >"$TEST_TMP/v2/etc/motd" &&
	echo "new" >"$TEST_TMP/v2/etc/new"
import() {	# VERSION (one reference each: the store keeps every tarball)
	"$VZMASTER" image import --store "$STORE" --json "dir:$TEST_TMP/$1" |
	sed -n 's/.*"id": *"\([0-9a-f]*\)".*/\1/p'
}
V1=$(import v1) V2=$(import v2)

OUT=$TEST_TMP/out
pack() {	# ID [BASE] [COMPRESS]: the upload into $OUT
	rm -rf "$OUT" && mkdir -p "$OUT" &&
	"$VZMASTER" image pack --store "$STORE" --json ${2:+--base "$2"} \
		${3:+--compress "$3"} "$1" "$OUT" >"$TEST_TMP/pack.json" &&
	MAN=$(ls "$OUT"/*.upload.json) && PAY=$(ls "$OUT"/* | grep -v '\.upload\.json$')
}
# The stream: the manifest on one line, then the payload.
stream() {	# [MANIFEST [PAYLOAD]]
	tr -d '\n' <"${1:-$MAN}" && printf '\n' && cat "${2:-$PAY}"
}
simport() {	# [vzexec-image options]: stream $MAN/$PAY into SROOT
	stream | "$VZIMG" image-import --root "$SROOT" "$@" --stdin
}
fimport() {	# the file form into FROOT
	cp "$OUT"/* "$FROOT/incoming/" &&
	"$VZIMG" image-import --root "$FROOT" "$(basename "$MAN")"
}
tree() {	# DIR: types, modes, owners, sizes, times, targets and sums
	(cd "$1" && find . -mindepth 1 -printf '%y %m %U %G %s %T@ %l %n %p\n' | LC_ALL=C sort &&
	 find . -type f -exec md5sum {} + | LC_ALL=C sort)
}
snapshot() { (cd "$SROOT" && find images 2>/dev/null | LC_ALL=C sort | xargs -r ls -ld --time-style=+%s | md5sum); }
incoming_clean() { test -z "$(ls -A "$SROOT/incoming" | grep -v '^\.lock$')"; }
ino() { stat -c %i "$1"; }
# the sha256 of an image's tarball as the node puts it together again
tarsum() { "$VZIMG" image-cat --root "$1" "$2" | sha256sum | cut -d" " -f1; }

test_expect_success 'two versions imported on the master' '
	test ${#V1} -eq 64 && test ${#V2} -eq 64 && test "$V1" != "$V2"
'

for comp in zstd xz none; do
	test_expect_success "full import through --stdin ($comp) equals the file form" '
		rm -rf "$SROOT/images" "$FROOT/images" &&
		pack $V1 "" '$comp' && simport >imp.json && cat imp.json &&
		grep -q "\"status\":\"imported\"" imp.json &&
		grep -q "\"image\":\"$V1\"" imp.json &&
		fimport >/dev/null &&
		test "$(tarsum "$SROOT" $V1)" = $V1 &&
		cmp "$SROOT/images/$V1/tarmap" "$FROOT/images/$V1/tarmap" &&
		cmp "$SROOT/images/$V1/config.json" "$FROOT/images/$V1/config.json" &&
		tree "$SROOT/images/$V1/rootfs" >s.tree &&
		tree "$FROOT/images/$V1/rootfs" >f.tree && diff s.tree f.tree &&
		"$SROOT/images/$V1/rootfs/bin/busybox" true &&
		test "$(stat -c %a "$SROOT/images/$V1")" = 700 &&
		test "$(ino "$SROOT/images/$V1/rootfs/bin/ls")" = \
			"$(ino "$SROOT/images/$V1/rootfs/bin/busybox")" &&
		incoming_clean
	'
done

test_expect_success 'vzexec image-import --stdin hands the stream to the helper' '
	rm -rf "$SROOT/images" && pack $V1 &&
	stream | "$VZEXEC" image-import --root "$SROOT" --stdin >imp.json &&
	grep -q "\"status\":\"imported\"" imp.json &&
	test "$(tarsum "$SROOT" $V1)" = $V1
'

test_expect_success 'a fresh image is marked unsynced, a present one reads the whole stream' '
	test -f "$SROOT/images/$V1/.unsynced" && before=$(snapshot) &&
	pack $V1 && stream >s.bin && printf TRAILER >>s.bin &&
	"$VZIMG" image-import --root "$SROOT" --stdin <s.bin >imp.json &&
	grep -q "\"status\":\"present\"" imp.json && test "$before" = "$(snapshot)"
'

for comp in zstd xz none; do
	test_expect_success "delta import through --stdin ($comp) equals the file form, links what did not change" '
		rm -rf "$FROOT/images/$V2" "$FROOT/images/$V2.tar" \
			"$SROOT/images/$V2" "$SROOT/images/$V2.tar" &&
		pack $V2 $V1 '$comp' && grep -q "\"encoding\":\"vcdiff" pack.json &&
		simport >imp.json && cat imp.json &&
		grep -q "\"encoding\":\"vcdiff\"" imp.json &&
		fimport >/dev/null &&
		test "$(tarsum "$SROOT" $V2)" = $V2 &&
		tree "$SROOT/images/$V2/rootfs" | sed "s/ [0-9]* \./ N ./" >s.tree &&
		tree "$FROOT/images/$V2/rootfs" | sed "s/ [0-9]* \./ N ./" >f.tree &&
		diff s.tree f.tree &&
		b=$SROOT/images/$V1/rootfs n=$SROOT/images/$V2/rootfs &&
		for f in bin/busybox bin/ls etc/blob etc/empty usr/lib/lib1.so usr/lib/lib8.so; do
			test "$(ino "$b/$f")" = "$(ino "$n/$f")" || { echo "$f not linked"; exit 1; }
		done &&
		test "$(ino "$b/etc/motd")" != "$(ino "$n/etc/motd")" &&
		test "$(cat "$n/etc/motd")" = "version 2" && test "$(cat "$b/etc/motd")" = "version 1" &&
		test "$(stat -c %a "$n/etc/motd")" = 640 && test "$(cat "$n/etc/new")" = new &&
		grep -q "\"linked\":1[0-9]" imp.json && incoming_clean
	'
done

test_expect_success 'a linked file is not linked when its owner or mode changed' '
	cp -a "$TEST_TMP/v2" "$TEST_TMP/v3" && chmod 600 "$TEST_TMP/v3/etc/blob" &&
	chown 123:456 "$TEST_TMP/v3/usr/lib/lib2.so" && V3=$(import v3) &&
	pack $V3 $V2 && simport >imp.json && cat imp.json &&
	b=$SROOT/images/$V2/rootfs n=$SROOT/images/$V3/rootfs &&
	test "$(ino "$b/etc/blob")" != "$(ino "$n/etc/blob")" &&
	test "$(stat -c %a "$n/etc/blob")" = 600 &&
	test "$(ino "$b/usr/lib/lib2.so")" != "$(ino "$n/usr/lib/lib2.so")" &&
	test "$(stat -c %u:%g "$n/usr/lib/lib2.so")" = 123:456 &&
	test "$(ino "$b/usr/lib/lib3.so")" = "$(ino "$n/usr/lib/lib3.so")" &&
	rm -rf "$SROOT/images/$V3" "$SROOT/images/$V3.tar"
'

test_expect_success 'a base file with the same metadata but other bytes is written' '
	cp -a "$TEST_TMP/v2" "$TEST_TMP/v4" && f=$TEST_TMP/v4/usr/lib/lib5.so &&
	t=$(stat -c %y "$f") && printf X | dd of="$f" bs=1 seek=24000 conv=notrunc 2>/dev/null &&
	touch -d "$t" "$f" && V4=$(import v4) &&
	pack $V4 $V2 && simport >imp.json && cat imp.json &&
	b=$SROOT/images/$V2/rootfs n=$SROOT/images/$V4/rootfs &&
	test "$(ino "$b/usr/lib/lib5.so")" != "$(ino "$n/usr/lib/lib5.so")" &&
	cmp "$f" "$n/usr/lib/lib5.so" && ! cmp -s "$b/usr/lib/lib5.so" "$n/usr/lib/lib5.so" &&
	rm -rf "$SROOT/images/$V4" "$SROOT/images/$V4.tar"
'

# v5: one byte of etc/blob changed in place.  Every other file's bytes the
# decoder copies from the base at the same offsets of the same file: they
# are linked without being read again; only the changed file is compared.
test_expect_success 'files a delta copied in place are linked without reading them again' '
	cp -a "$TEST_TMP/v2" "$TEST_TMP/v5" && f=$TEST_TMP/v5/etc/blob &&
	t=$(stat -c %y "$f") && printf Y | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null &&
	touch -d "$t" "$f" && V5=$(import v5) &&
	pack $V5 $V2 none && simport >imp.json && cat imp.json &&
	b=$SROOT/images/$V2/rootfs n=$SROOT/images/$V5/rootfs &&
	test "$(tarsum "$SROOT" $V5)" = $V5 && cmp "$f" "$n/etc/blob" &&
	test "$(ino "$b/etc/blob")" != "$(ino "$n/etc/blob")" &&
	for g in bin/busybox usr/lib/lib1.so usr/lib/lib8.so etc/motd etc/new; do
		test "$(ino "$b/$g")" = "$(ino "$n/$g")" || { echo "$g not linked"; exit 1; }
	done &&
	c=$(sed -n "s/.*\"comparedBytes\":\([0-9]*\).*/\1/p" imp.json) &&
	test -n "$c" && test "$c" -le 300000 &&
	rm -rf "$SROOT/images/$V5"
'

rm -rf "$SROOT/images/$V2" "$SROOT/images/$V2.tar"

test_expect_failure_code 1 'a truncated full stream is refused, images/ unchanged' '
	before=$(snapshot) && pack $V2 "" zstd &&
	size=$(stat -c %s "$PAY") && head -c $((size / 2)) "$PAY" >half &&
	stream "$MAN" half | "$VZIMG" image-import --root "$SROOT" --stdin 2>err; st=$?
	cat err; grep -q "is corrupt: the stream ended" err &&
	test "$before" = "$(snapshot)" && incoming_clean && exit $st; exit 99
'

test_expect_failure_code 1 'a stream with a wrong sha256 is refused, images/ unchanged' '
	before=$(snapshot) && pack $V2 "" none &&
	sed "s/\"sha256\":\"[0-9a-f]*\"/\"sha256\":\"$(printf %064d 5)\"/" "$MAN" >bad.json &&
	stream bad.json | "$VZIMG" image-import --root "$SROOT" --stdin 2>err; st=$?
	cat err; grep -q "is corrupt" err &&
	test "$before" = "$(snapshot)" && incoming_clean && exit $st; exit 99
'

test_expect_failure_code 1 'a corrupted compressed stream is refused as corrupt' '
	before=$(snapshot) && pack $V2 "" zstd && cp "$PAY" damaged &&
	printf "CORRUPTED-BYTES!" | dd of=damaged bs=1 seek=1000 conv=notrunc 2>/dev/null &&
	stream "$MAN" damaged | "$VZIMG" image-import --root "$SROOT" --stdin 2>err; st=$?
	cat err; grep -q "is corrupt" err &&
	test "$before" = "$(snapshot)" && incoming_clean && exit $st; exit 99
'

test_expect_failure_code 1 'a stream that ends inside the manifest line is refused' '
	printf "{\"vzupload\":1}" | "$VZIMG" image-import --root "$SROOT" --stdin 2>err; st=$?
	cat err; grep -q "before its newline" err && exit $st; exit 99
'

test_expect_failure_code 1 'a manifest line longer than 1 MiB is refused' '
	head -c 1100000 /dev/zero | tr "\\0" x | "$VZIMG" image-import --root "$SROOT" --stdin 2>err; st=$?
	cat err; grep -q "longer than" err && incoming_clean && exit $st; exit 99
'

test_expect_failure_code 3 'a delta against a missing base exits 3, images/ unchanged' '
	pack $V2 $V1 && mv "$SROOT/images/$V1/tarmap" base.map && before=$(snapshot) &&
	simport 2>err; st=$?
	after=$(snapshot); mv base.map "$SROOT/images/$V1/tarmap"; cat err;
	grep -q "has no tarball" err &&
	test "$before" = "$after" && test ! -e "$SROOT/images/$V2" &&
	incoming_clean && exit $st; exit 99
'

test_expect_failure_code 3 'a corrupted delta stream exits 3, images/ unchanged' '
	before=$(snapshot) && pack $V2 $V1 none && cp "$PAY" damaged &&
	printf "CORRUPTED-BYTES!" | dd of=damaged bs=1 seek=20 conv=notrunc 2>/dev/null &&
	stream "$MAN" damaged | "$VZIMG" image-import --root "$SROOT" --stdin 2>err; st=$?
	cat err; test "$before" = "$(snapshot)" && incoming_clean && exit $st; exit 99
'

test_expect_failure_code 3 'a delta whose result is not the image exits 3, images/ unchanged' '
	before=$(snapshot) && pack $V2 $V1 &&
	sed "s/\"image\":\"$V2\"/\"image\":\"$(printf %064d 4)\"/" "$MAN" >y.json &&
	stream y.json | "$VZIMG" image-import --root "$SROOT" --stdin 2>err; st=$?
	cat err; grep -q "delta result does not match" err &&
	test "$before" = "$(snapshot)" && incoming_clean && exit $st; exit 99
'

# An intact upload (its sha256 matches) that the decoder refuses, or that
# rebuilds more than the image: the master must send the full image.
test_expect_failure_code 3 'an intact upload that is not VCDIFF exits 3, images/ unchanged' '
	before=$(snapshot) && pack $V2 $V1 none &&
	head -c 5000 /dev/urandom >garbage &&
	sum=$(sha256sum <garbage | cut -d" " -f1) &&
	sed -e "s/\"size\":[0-9]*/\"size\":5000/" \
	    -e "s/\"sha256\":\"[0-9a-f]*\"/\"sha256\":\"$sum\"/" "$MAN" >g.json &&
	stream g.json garbage | "$VZIMG" image-import --root "$SROOT" --stdin 2>err; st=$?
	cat err; grep -q "the delta does not apply" err &&
	test "$before" = "$(snapshot)" && incoming_clean && exit $st; exit 99
'

test_expect_failure_code 3 'a delta that rebuilds more than the announced size exits 3' '
	before=$(snapshot) && pack $V2 $V1 &&
	sed "s/\"imageSize\":[0-9]*/\"imageSize\":10240/" "$MAN" >s.json &&
	stream s.json | "$VZIMG" image-import --root "$SROOT" --stdin 2>err; st=$?
	cat err; grep -q "more than the 10240 bytes announced" err &&
	test "$before" = "$(snapshot)" && incoming_clean && exit $st; exit 99
'

# ---- durability marks ----
test_expect_success 'image-list syncs and clears marks older than a minute only' '
	pack $V2 $V1 && simport >/dev/null &&
	test -f "$SROOT/images/$V1/.unsynced" && test -f "$SROOT/images/$V2/.unsynced" &&
	touch -d "-2 minutes" "$SROOT/images/$V1/.unsynced" &&
	"$VZIMG" image-list --root "$SROOT" >list.json &&
	test ! -e "$SROOT/images/$V1/.unsynced" && test -f "$SROOT/images/$V2/.unsynced"
'

test_expect_success 'a mark of an earlier boot is left for image-check' '
	grep -q "^boot $(cat /proc/sys/kernel/random/boot_id)\$" "$SROOT/images/$V2/.unsynced" &&
	cp "$SROOT/images/$V2/.unsynced" mark.keep &&
	echo "boot 00000000-0000-0000-0000-000000000000" >"$SROOT/images/$V2/.unsynced" &&
	touch -d "-2 minutes" "$SROOT/images/$V2/.unsynced" &&
	"$VZIMG" image-list --root "$SROOT" >list.json &&
	test -f "$SROOT/images/$V2/.unsynced" &&
	cp mark.keep "$SROOT/images/$V2/.unsynced"
'

# image-check repaired V2: its tree is good.tree again, unmarked, its
# tarball and V1's whole.
check_repaired() {
	"$VZIMG" image-check --root "$SROOT" >check.json && cat check.json &&
	grep -q "\"repaired\":\[\"$V2\"\]" check.json &&
	grep -q "\"removed\":\[\]" check.json &&
	tree "$n" | sed "s/ [0-9]* \./ N ./" >new.tree &&
	sed "s/ [0-9]* \./ N ./" good.tree | diff - new.tree &&
	test ! -e "$SROOT/images/$V2/.unsynced" &&
	grep -q "\"vzimage\":1" "$SROOT/images/$V2/config.json" &&
	test "$(stat -c %a "$SROOT/images/$V2")" = 700 &&
	test "$(tarsum "$SROOT" $V2)" = $V2 && test "$(tarsum "$SROOT" $V1)" = $V1 &&
	incoming_clean
}

# What a crash can lose without losing bytes (a symlink, an empty file, a
# mode): unpacked again.  Files of V2 that did not change are V1's inodes:
# the damage is to V2's own.
test_expect_success 'image-check puts back what a crash lost from a marked image' '
	n=$SROOT/images/$V2/rootfs && tree "$n" >good.tree &&
	test -f "$SROOT/images/$V2/.unsynced" &&
	rm "$n/bin/sh" "$n/etc/empty" && chmod 600 "$n/etc/motd" &&
	echo extra >"$n/etc/extra" && check_repaired &&
	test "$(ino "$n/etc/blob")" = "$(ino "$SROOT/images/$V1/rootfs/etc/blob")"
'

test_expect_success 'image-check re-extracts a damaged rootfs of a marked legacy image (ID.tar)' '
	n=$SROOT/images/$V2/rootfs && tree "$n" >good.tree &&
	"$VZIMG" image-cat --root "$SROOT" $V2 >legacy.tar && mv legacy.tar "$SROOT/images/$V2.tar" &&
	rm "$SROOT/images/$V2/tarmap" && echo "boot $(cat /proc/sys/kernel/random/boot_id)" >"$SROOT/images/$V2/.unsynced" &&
	rm "$n/usr/lib/lib3.so" && echo garbage >"$n/etc/motd" &&
	rm "$n/etc/blob" && : >"$n/etc/blob" && echo extra >"$n/etc/extra" &&
	check_repaired
'

test_expect_success 'image-check removes a marked image whose bytes a crash damaged' '
	rm -rf "$SROOT/images/$V2" "$SROOT/images/$V2.tar" && pack $V2 $V1 &&
	simport >/dev/null && test -f "$SROOT/images/$V2/.unsynced" &&
	echo garbage >"$SROOT/images/$V2/rootfs/etc/motd" &&
	"$VZIMG" image-check --root "$SROOT" >check.json && cat check.json &&
	grep -q "\"removed\":\[\"$V2\"\]" check.json &&
	test ! -e "$SROOT/images/$V2" && test "$(tarsum "$SROOT" $V1)" = $V1 &&
	incoming_clean
'

test_expect_success 'image-check removes a marked image whose map is corrupt' '
	pack $V2 $V1 && simport >/dev/null && test -f "$SROOT/images/$V2/.unsynced" &&
	printf "CORRUPTED-BYTES!" | dd of="$SROOT/images/$V2/tarmap" bs=1 seek=100 conv=notrunc 2>/dev/null &&
	"$VZIMG" image-check --root "$SROOT" >check.json && cat check.json &&
	grep -q "\"removed\":\[\"$V2\"\]" check.json &&
	test ! -e "$SROOT/images/$V2" &&
	"$VZIMG" image-list --root "$SROOT" >list.json && ! grep -q "$V2" list.json &&
	test -d "$SROOT/images/$V1/rootfs" && incoming_clean
'

test_expect_success 'image-check removes a marked image whose map is missing' '
	pack $V2 $V1 && simport >/dev/null && rm "$SROOT/images/$V2/tarmap" &&
	"$VZIMG" image-check --root "$SROOT" >check.json && cat check.json &&
	grep -q "\"removed\":\[\"$V2\"\]" check.json && test ! -e "$SROOT/images/$V2"
'

test_expect_success 'image-check leaves unmarked images alone' '
	"$VZIMG" image-check --root "$SROOT" >check.json && cat check.json &&
	grep -q "\"repaired\":\[\],\"removed\":\[\]" check.json &&
	test -d "$SROOT/images/$V1/rootfs"
'

test_expect_success 'vzexec image-check is served by the helper' '
	"$VZEXEC" image-check --root "$SROOT" >check.json && grep -q vzcheck check.json
'

# ---- hostile tarballs, streamed ----
H=$TEST_TMP/hostile
HROOT=$TEST_TMP/hnode
SENT=$TEST_TMP/sentinel
mkdir -p "$H" "$HROOT/images" "$SENT"
echo "original" >"$SENT/victim"
python3 "$top_srcdir/tests/integration/hostile-tars.py" "$H" "$SENT" \
	"$HROOT/incoming/x.tmp/rootfs" >"$H/cases"
sent_state() { (cd "$SENT" && find . -exec ls -ld --time-style=+%s {} + | sort; cat victim) | md5sum; }
sent_before=$(sent_state)
stream_tar() {	# TAR: a plain "tar" upload on stdout
	id=$(sha256sum <"$1" | cut -c1-64) && size=$(stat -c %s "$1") &&
	printf '{"vzupload":1,"image":"%s","ref":"hostile","base":null,"encoding":"tar","size":%s,"sha256":"%s","imageSize":%s,"config":{"vzimage":1,"ref":"hostile"}}\n' \
		"$id" "$size" "$id" "$size" && cat "$1"
}

while read -r case expect; do
	[ "$expect" = refuse ] || continue
	test_expect_success "hostile tar '$case' is refused through --stdin, nothing written outside" '
		stream_tar "$H/$case.tar" >s.bin &&
		! "$VZIMG" image-import --root "$HROOT" --stdin <s.bin 2>err &&
		cat err && test -z "$(ls -A "$HROOT/images")" &&
		test -z "$(ls -A "$HROOT/incoming" | grep -v "^\.lock$")" &&
		test "$(sent_state)" = "$sent_before" &&
		test -z "$(ls -d /escape* /pwned* 2>/dev/null)" &&
		test -z "$(find "$TEST_TMP" -name "escape-*" -o -name "pwned*")"
	'
done <"$H/cases"

test_expect_success 'hostile devices are skipped through --stdin unless trusted' '
	stream_tar "$H/devices.tar" >s.bin &&
	"$VZIMG" image-import --root "$HROOT" --stdin <s.bin >out.json &&
	grep -q "\"skippedDevices\":2" out.json &&
	id=$(sed -n "s/.*\"image\":\"\([0-9a-f]*\)\".*/\1/p" out.json) &&
	test ! -e "$HROOT/images/$id/rootfs/dev/mem2" &&
	rm -rf "$HROOT/images/$id" "$HROOT/images/$id.tar" &&
	"$VZIMG" image-import --root "$HROOT" --trust-devices --stdin <s.bin &&
	test -c "$HROOT/images/$id/rootfs/dev/mem2" &&
	grep -q trust-devices "$HROOT/images/$id/.unsynced" &&
	rm "$HROOT/images/$id/rootfs/dev/mem2" "$HROOT/images/$id/rootfs/dev/sda9" &&
	"$VZIMG" image-check --root "$HROOT" >check.json &&
	test -c "$HROOT/images/$id/rootfs/dev/mem2"
'


# --gc: a push also drops the unused images of its reference beyond the
# three newest; an image a pod spec uses stays, however old.
GROOT=$TEST_TMP/gnode
mkdir -p "$GROOT/pods"
cp -a "$TEST_TMP/v1" "$TEST_TMP/g"
for i in 1 2 3 4 5 6; do	# streams made at once: the store keeps three
	echo "gc $i" >"$TEST_TMP/g/etc/motd"
	eval "G$i=\$(import g)"
	eval "pack \$G$i" && stream >"$TEST_TMP/g$i.stream"
done
test_expect_success 'image-import --gc keeps the three newest of a reference and what is used' '
	test $(printf "%s\n" $G1 $G2 $G3 $G4 $G5 | sort -u | wc -l) -eq 5 &&
	for i in 1 2; do
		"$VZIMG" image-import --root "$GROOT" --gc --stdin <g$i.stream >/dev/null || exit 1
	done &&
	printf "{\"containers\":[{\"name\":\"c\",\"image\":\"%s\"}]}\n" $G1 >"$GROOT/pods/old.json" &&
	for i in 3 4 5; do
		"$VZIMG" image-import --root "$GROOT" --gc --stdin <g$i.stream >gc.json || exit 1
	done &&
	cat gc.json && grep -q "\"removed\":\[\"$G2\"\]" gc.json &&
	for g in $G1 $G3 $G4 $G5; do test -d "$GROOT/images/$g" && test -f "$GROOT/images/$g/tarmap" || exit 1; done &&
	test ! -e "$GROOT/images/$G2" && test ! -e "$GROOT/images/$G2.tar"
'
test_expect_success 'without --gc an import removes nothing' '
	"$VZIMG" image-import --root "$GROOT" --stdin <g2.stream >imp.json &&
	! grep -q removed imp.json && test $(ls -d "$GROOT"/images/*/ | wc -l) -eq 5
'
# An image gc cannot move (a mount point: EBUSY) stays whole and is named
# in the import's JSON, which the master reports; the others still go.
test_expect_success 'an image --gc cannot remove: import done, gcError names it' '
	mount --bind "$GROOT/images/$G3" "$GROOT/images/$G3" &&
	st=0; "$VZIMG" image-import --root "$GROOT" --gc --stdin <g6.stream >imp6.json 2>imp6.err || st=$?
	umount "$GROOT/images/$G3"; cat imp6.json imp6.err; test $st -eq 0 &&
	grep -q "\"status\":\"imported\"" imp6.json &&
	grep -q "\"removed\":\[\"$G4\"\]" imp6.json &&
	grep -q "\"gcError\":\"cannot remove .*$G3.*busy" imp6.json &&
	test -d "$GROOT/images/$G3/rootfs" && test -f "$GROOT/images/$G3/tarmap" &&
	test ! -e "$GROOT/images/$G4" && test -d "$GROOT/images/$G6"
'
test_expect_success 'image-gc exits 1 and says so in its JSON when one cannot go' '
	mount --bind "$GROOT/images/$G3" "$GROOT/images/$G3" &&
	st=0; "$VZIMG" image-gc --root "$GROOT" --keep 1 >gc1.json 2>gc1.err || st=$?
	umount "$GROOT/images/$G3"; cat gc1.json gc1.err; test $st -eq 1 &&
	grep -q "\"error\":\"cannot remove .*$G3" gc1.json &&
	test -d "$GROOT/images/$G3/rootfs"
'

test_done

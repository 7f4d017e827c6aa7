#!/bin/sh
# t0200: `vzmaster delta` against the real xdelta3, both ways: our deltas
# decode with `xdelta3 -d -s BASE`, xdelta3's (-S none, with several option
# sets) decode with ours; on random data, patched copies of real binaries
# and tarball pairs.  Secondary compression is refused with a clear message,
# and a failed decode leaves no output file behind.
. "$top_srcdir/tests/lib.sh"

[ -n "${XDELTA3:-}" ] && [ -x "$XDELTA3" ] || XDELTA3=$(command -v xdelta3)
[ -n "$XDELTA3" ] || skip_all "xdelta3 not installed"

cd "$TEST_TMP" || exit 1

# both_ways NAME BASE NEW: ours -> xdelta3 -d, xdelta3 -e (variants) -> ours
both_ways() {
	test_expect_success "$1: our delta decodes with xdelta3" "
		\"\$VZMASTER\" -q delta encode '$2' '$3' '$1.ours.vcd' &&
		\"\$XDELTA3\" -d -f -s '$2' '$1.ours.vcd' '$1.x.out' &&
		cmp '$3' '$1.x.out'
	"
	for opts in '-S none' '-9 -S none' '-0 -S none' '-S none -A' \
	    '-S none -n' '-9 -S none -n -A='; do
		tag=$(echo "$opts" | tr -d ' =-')
		test_expect_success "$1: xdelta3 -e $opts decodes with ours" "
			\"\$XDELTA3\" -e $opts -f -s '$2' '$3' '$1.$tag.vcd' &&
			\"\$VZMASTER\" -q delta decode '$2' '$1.$tag.vcd' \
			    '$1.$tag.out' &&
			cmp '$3' '$1.$tag.out'
		"
	done
}

# random data with edits, inserts and a moved block; > 8 MiB: many windows
head -c 20000000 /dev/urandom >rand.a
{ head -c 3000000 rand.a; printf 'inserted'; tail -c +3000100 rand.a |
    head -c 9000000; head -c 500000 rand.a; tail -c 7000000 rand.a; } >rand.b
both_ways random rand.a rand.b
test_expect_success 'random: our delta has several windows and is small' '
	"$VZMASTER" delta encode --json rand.a rand.b r.vcd >r.json &&
	grep -q "\"windows\":3" r.json &&
	test $(stat -c %s r.vcd) -lt 10000
'
head -c 1000 /dev/urandom >small.a
both_ways 'unrelated' small.a rand.a

# real binaries with a few patched bytes
n=0
for f in /usr/bin/xdelta3 /usr/bin/tar /bin/ls; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	cp "$f" "bin$n.a"
	cp "$f" "bin$n.b"
	printf 'PATCHED' | dd of="bin$n.b" bs=1 seek=4000 conv=notrunc 2>/dev/null
	printf 'X' | dd of="bin$n.b" bs=1 seek=20011 conv=notrunc 2>/dev/null
	both_ways "binary $(basename "$f")" "bin$n.a" "bin$n.b"
done

# tarball pair: a directory before and after adding a file, editing another
mkdir -p tree/etc tree/lib
cp /usr/bin/xdelta3 tree/lib/
cp -r /usr/share/doc/xdelta3 tree/doc 2>/dev/null || true
seq 1 20000 >tree/etc/numbers
tar cf tar.a --sort=name --mtime=@0 -C tree .
cp /bin/ls tree/lib/ls
sed -i 's/^1234$/changed line/' tree/etc/numbers
tar cf tar.b --sort=name --mtime=@0 -C tree .
both_ways tarball tar.a tar.b
test_expect_success 'tarball: delta smaller than the added file' '
	"$VZMASTER" -q delta encode tar.a tar.b t.vcd &&
	test $(stat -c %s t.vcd) -lt $(stat -c %s /bin/ls)
'

# empty files
: >empty
both_ways 'empty target' rand.a empty
both_ways 'empty base' empty small.a

# secondary compression: xdelta3's default (lzma in Debian's build), djw
test_expect_success 'xdelta3 -S lzma delta refused with a clear message' '
	"$XDELTA3" -e -S lzma -f -s rand.a rand.b lzma.vcd &&
	! "$VZMASTER" delta decode rand.a lzma.vcd lzma.out 2>err &&
	grep -q "delta uses secondary compression (xdelta3 -S lzma/djw/fgk); re-encode with xdelta3 -S none" err &&
	! test -e lzma.out
'
test_expect_success 'xdelta3 default (no -S) delta refused too' '
	"$XDELTA3" -e -f -s rand.a rand.b def.vcd &&
	! "$VZMASTER" delta decode rand.a def.vcd def.out 2>err &&
	grep -q "secondary compression" err
'
test_expect_success 'xdelta3 -S djw delta refused' '
	"$XDELTA3" -e -S djw -f -s rand.a rand.b djw.vcd &&
	! "$VZMASTER" delta decode rand.a djw.vcd djw.out 2>err &&
	grep -q "secondary compression" err
'

# failures and usage
test_expect_failure_code 1 'wrong base: checksum error, exit 1' '
	"$VZMASTER" delta decode small.a random.ours.vcd wrong.out
'
test_expect_success 'wrong base: no output file left behind' '
	! ls | grep -q "^wrong.out"
'
test_expect_success 'an existing output is kept when decoding fails' '
	echo keep >kept &&
	head -c 100 random.ours.vcd >trunc.vcd &&
	! "$VZMASTER" delta decode rand.a trunc.vcd kept 2>err &&
	grep -q truncated err && test "$(cat kept)" = keep &&
	! ls | grep -q "^kept.tmp"
'
test_expect_failure_code 2 'missing arguments: exit 2' '
	"$VZMASTER" delta encode rand.a
'
test_expect_failure_code 2 'unknown operation: exit 2' '
	"$VZMASTER" delta frobnicate a b c
'
test_expect_success '--help' '
	"$VZMASTER" delta --help >help && grep -q "encode BASE NEW DELTA" help
'
test_expect_success 'stdin and stdout: - works for NEW/DELTA and the output' '
	"$VZMASTER" delta encode rand.a - - <rand.b >pipe.vcd 2>summary &&
	grep -q "delta" summary &&
	cat pipe.vcd | "$VZMASTER" -q delta decode rand.a - - >pipe.out &&
	cmp rand.b pipe.out
'
test_expect_success '--json summary of a decode' '
	"$VZMASTER" delta decode --json rand.a random.ours.vcd j.out >j.json &&
	grep -q "\"operation\":\"decode\"" j.json &&
	grep -q "\"new_bytes\":$(stat -c %s rand.b)" j.json
'
test_done

#!/bin/sh
# t0210: a short libFuzzer run of the VCDIFF decoder over the committed seed
# corpus (real xdelta3 and vzmaster deltas).  Skipped when clang cannot
# build with -fsanitize=fuzzer (Debian: clang + libclang-rt-dev).
. "$top_srcdir/tests/lib.sh"

command -v "${CLANG:-clang}" >/dev/null 2>&1 || skip_all "clang not installed"
cd "$TEST_TMP" || exit 1
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' >probe.c
"${CLANG:-clang}" -fsanitize=fuzzer,address,undefined -o probe probe.c \
	>/dev/null 2>&1 || skip_all "clang has no libFuzzer here"

test_expect_success 'seed corpus decodes without a crash' '
	FUZZ_WORK="$TEST_TMP/w1" "$top_srcdir/scripts/fuzz-vcdiff" -runs=0 \
	    >log 2>&1 || { tail -40 log; false; }
'
test_expect_success 'fuzzing 20000 runs finds no crash' '
	FUZZ_WORK="$TEST_TMP/w2" "$top_srcdir/scripts/fuzz-vcdiff" -runs=20000 \
	    -seed=$$ >log 2>&1 || { tail -40 log; false; }
	grep -q "Done 20000 runs" log
'
test_done

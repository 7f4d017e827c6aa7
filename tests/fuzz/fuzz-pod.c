/*
 * fuzz-pod: libFuzzer entry for the pod manifest reader (yamltree.c,
 * quantity.c, pod.c).  Each input is written to a manifest file in a
 * private temp folder and loaded with pod_load(); the resolved model is
 * also written as JSON, so every path of the model is exercised.  Not
 * built by make; build and run by hand from a configured build dir:
 *
 *   S=/path/to/source
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -I$S/src -I. $S/tests/fuzz/fuzz-pod.c $S/src/yamltree.c \
 *     $S/src/quantity.c $S/src/pod.c $S/src/diag.c $S/src/buf.c \
 *     $S/src/json.c -lyaml -o fuzz-pod
 *   mkdir -p corpus
 *   ./fuzz-pod -max_total_time=300 -max_len=65536 corpus \
 *     $S/tests/pods/valid $S/tests/pods/invalid
 *
 * Relative image paths in the corpus do not resolve from the temp folder,
 * which only moves those inputs onto the "image does not exist" path.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "json.h"
#include "pod.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char path[64];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static char dir[] = "/tmp/fuzz-pod.XXXXXX";
	struct diags d = DIAGS_INIT;
	struct pod_set set;
	FILE *fp;
	size_t i;

	if (path[0] == '\0') {
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path, sizeof path, "%s/pod.yaml", dir);
	}
	if ((fp = fopen(path, "wb")) == NULL)
		abort();
	if (len > 0 && fwrite(data, 1, len, fp) != len)
		abort();
	fclose(fp);
	pod_load(path, &set, &d);
	for (i = 0; i < set.n; i++) {
		struct buf b = BUF_INIT;
		struct json_writer w;

		json_writer_init(&w, &b, 0);
		pod_write_json(&w, &set.pods[i]);
		buf_release(&b);
	}
	/* an error was reported, or at least one pod came out */
	if (d.errors == 0 && set.n == 0)
		abort();
	pod_set_release(&set);
	diag_release(&d);
	return 0;
}

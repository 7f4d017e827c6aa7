/* Unit tests for nodestate.c: a node's status, honest and lying. */
#include <stdlib.h>
#include <string.h>

#include "nodestate.h"
#include "tap.h"

static const char good[] =
"{\"vzstatus\":1,\"node\":{\"hostname\":\"n1\",\"os\":\"debian 12\","
"\"arch\":\"x86_64\",\"memTotal\":536870912,\"memAvailable\":300000000,"
"\"diskFree\":1000,\"load1\":0.5,\"init\":\"sysv\","
"\"supervisor\":{\"running\":true,\"pid\":12,\"version\":\"0.2.0\"}},"
"\"images\":[{\"id\":\"" "0123456789abcdef0123456789abcdef"
"0123456789abcdef0123456789abcdef" "\",\"ref\":\"oci:x\"}],"
"\"pods\":[{\"name\":\"web\",\"hash\":\"h1\",\"error\":null,"
"\"containers\":[{\"name\":\"app\",\"state\":\"running\",\"reason\":null,"
"\"pid\":99,\"startedAt\":1700000000,\"restarts\":2,\"lastExitCode\":137,"
"\"ready\":true,\"memoryBytes\":4096,\"runningHash\":\"h1\","
"\"image\":\"" "0123456789abcdef0123456789abcdef"
"0123456789abcdef0123456789abcdef" "\"}]},"
"{\"name\":\"db\",\"hash\":\"h2\",\"containers\":[{\"name\":\"pg\","
"\"state\":\"backoff\",\"reason\":\"executable not found\"}]}]}";

static int
lie(const char *text, const char *want_in_err)
{
	struct node_state ns;
	char err[256];
	int r = node_state_parse(text, strlen(text), &ns, err, sizeof err);

	if (r == 0) {
		node_state_release(&ns);
		return 0;
	}
	if (strstr(err, want_in_err) == NULL) {
		diag_note("error was: %s", err);
		return 0;
	}
	return 1;
}

int
main(void)
{
	struct node_state ns;
	const struct node_pod *p;
	char err[256], *huge;

	ok(node_state_parse(good, strlen(good), &ns, err, sizeof err) == 0,
	    "good status parses");
	is_str(ns.hostname, "n1", "hostname");
	is_int(ns.mem_total, 536870912, "memTotal");
	ok(ns.supervisor_running, "supervisor running");
	is_str(ns.vzexec_version, "0.2.0", "vzexec version");
	is_int(ns.nimages, 1, "one image");
	ok(node_state_has_image(&ns, "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef"), "has image");
	p = node_state_pod(&ns, "web");
	ok(p != NULL && p->ncontainers == 1, "pod web found");
	is_int(p->containers[0].restarts, 2, "restarts");
	is_str(p->containers[0].image, "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef", "the container's image");
	ok(node_pod_healthy(p), "web healthy");
	p = node_state_pod(&ns, "web");
	free(p->containers[0].running_hash);
	((struct node_pod *)p)->containers[0].running_hash = strdup("h0");
	ok(!node_pod_healthy(p), "an old copy still running is not healthy");
	p = node_state_pod(&ns, "db");
	ok(p != NULL && !node_pod_healthy(p), "db not healthy");
	is_str(p->containers[0].reason, "executable not found", "reason");
	is_int(p->containers[0].last_exit, -1, "absent exit code is -1");
	ok(node_state_pod(&ns, "nope") == NULL, "absent pod");
	node_state_release(&ns);

	{
		static const char stopping[] = "{\"vzstatus\":1,\"pods\":[{"
		    "\"name\":\"old\",\"hash\":null,\"stopping\":true,"
		    "\"containers\":[{\"name\":\"c\",\"state\":\"running\","
		    "\"ready\":true}]}]}";

		ok(node_state_parse(stopping, strlen(stopping), &ns, err,
		    sizeof err) == 0, "a stopping pod parses");
		p = node_state_pod(&ns, "old");
		ok(p != NULL && p->stopping, "stopping is kept");
		ok(!node_pod_healthy(p), "a stopping pod is never healthy");
		node_state_release(&ns);
	}

	ok(lie("", "not JSON"), "empty output");
	ok(lie("[]", "not a JSON object"), "array");
	ok(lie("{\"node\":{}}", "vzstatus"), "not a status");
	ok(lie("{\"vzstatus\":2}", "version 2"), "future version");
	ok(lie("{\"vzstatus\":1,\"images\":[{\"id\":\"../../etc\"}]}",
	    "bad image id"), "bad image id");
	ok(lie("{\"vzstatus\":1,\"pods\":[{\"name\":\"../x\"}]}",
	    "invalid name"), "path in pod name");
	ok(lie("{\"vzstatus\":1,\"pods\":[{\"name\":\"a\",\"containers\":"
	    "[{\"name\":\"c\",\"pid\":\"12\"}]}]}", "not an integer"),
	    "string where int");
	ok(lie("{\"vzstatus\":1,\"pods\":[{\"name\":\"a\",\"containers\":"
	    "[{\"name\":\"c\",\"image\":\"\\u001b[2J\"}]}]}", "bad image id"),
	    "an escape sequence as a container's image");
	ok(lie("{\"vzstatus\":1,\"node\":{\"os\":5}}", "not a string"),
	    "int where string");
	ok(lie("{\"vzstatus\":1,\"pods\":{}}", "bad list"), "object as list");
	ok(lie("{\"vzstatus\":1,\"node\":{\"supervisor\":{\"version\":1}}}",
	    "not a string"), "a number as version");

	ok(node_version_cmp("0.2.0", "0.2.0") == 0, "equal versions");
	ok(node_version_cmp("0.1.0", "0.2.0") < 0, "0.1.0 < 0.2.0");
	ok(node_version_cmp("0.10.0", "0.9.1") > 0, "0.10.0 > 0.9.1 (numeric)");
	ok(node_version_cmp("1.2", "1.2.1") < 0, "1.2 < 1.2.1");
	ok(node_version_cmp("1.2.1", "1.2") > 0, "1.2.1 > 1.2");
	ok(node_version_cmp(NULL, "0.0.1") < 0, "unknown is oldest");
	ok(node_version_cmp("x", "0.0.1") < 0, "malformed is oldest");
	ok(node_version_cmp(NULL, NULL) == 0, "two unknowns");
	huge = malloc(NODESTATE_MAX_BYTES + 2);
	memset(huge, ' ', NODESTATE_MAX_BYTES + 1);
	huge[NODESTATE_MAX_BYTES + 1] = '\0';
	ok(lie(huge, "too large"), "oversized output");
	free(huge);
	return done_testing();
}

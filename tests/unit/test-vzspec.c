/*
 * test-vzspec: pod spec validation and capability sets of vzexec (spec.c,
 * caps.c), built with the host compiler so the sanitizer pass covers them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "tap.h"
#include "vzexec.h"

static char dir[] = "/tmp/test-vzspec.XXXXXX";

static int
load(const char *name, const char *text, mode_t mode, char *err,
    size_t errlen)
{
	struct vz_pod *p = NULL;
	char path[256];
	FILE *f;
	int r;

	snprintf(path, sizeof path, "%s/%s.json", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return -2;
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	r = spec_load(path, name, &p, err, errlen);
	spec_free(p);
	unlink(path);
	return r;
}

#define IMG "\"image\":\"abc123\""

int
main(void)
{
	const char *good = "{\"vzspec\":1,\"name\":\"web\",\"hash\":\"h\","
	    "\"restartPolicy\":\"OnFailure\",\"volumes\":[{\"name\":\"d\","
	    "\"emptyDir\":{}}],\"containers\":[{\"name\":\"app\"," IMG ","
	    "\"command\":[\"/bin/sh\"],\"volumeMounts\":[{\"name\":\"d\","
	    "\"mountPath\":\"/data\"}],\"capAdd\":[\"NET_ADMIN\"]}]}";
	struct vz_pod *p = NULL;
	struct json_value *v;
	char err[256], path[256];
	uint64_t caps;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		return 1;

	is_int(load("web", good, 0644, err, sizeof err), 0, "a good spec loads");
	if (getuid() == 0) {
		is_int(load("web", good, 0664, err, sizeof err), -1,
		    "a group-writable spec is refused");
		ok(strstr(err, "refused") != NULL, "with a reason: %s", err);
	}
	is_int(load("web", "{\"vzspec\":1,", 0644, err, sizeof err), -1,
	    "truncated JSON is refused");
	ok(strstr(err, "malformed") != NULL, "as malformed: %s", err);
	is_int(load("other", good, 0644, err, sizeof err), -1,
	    "name must match the file name");
	is_int(load("web", "{\"vzspec\":2,\"name\":\"web\",\"containers\":[]}",
	    0644, err, sizeof err), -1, "unknown vzspec version is refused");
	is_int(load("web", "{\"vzspec\":1,\"name\":\"web\",\"containers\":"
	    "[{\"name\":\"a\",\"image\":\"NOTHEX\"}]}", 0644, err, sizeof err),
	    -1, "image must be a hex id");
	is_int(load("web", "{\"vzspec\":1,\"name\":\"web\",\"containers\":"
	    "[{\"name\":\"a\"," IMG ",\"volumeMounts\":[{\"name\":\"x\","
	    "\"mountPath\":\"/d\"}]}]}", 0644, err, sizeof err), -1,
	    "a mount of an undeclared volume is refused");
	is_int(load("web", "{\"vzspec\":1,\"name\":\"web\",\"volumes\":[{"
	    "\"name\":\"x\",\"emptyDir\":{}}],\"containers\":[{\"name\":\"a\","
	    IMG ",\"volumeMounts\":[{\"name\":\"x\",\"mountPath\":"
	    "\"/d/../../etc\"}]}]}", 0644, err, sizeof err), -1,
	    "a mountPath with .. is refused");
	is_int(load("web", "{\"vzspec\":1,\"name\":\"web\",\"containers\":"
	    "[{\"name\":\"a\"," IMG "},{\"name\":\"a\"," IMG "}]}", 0644, err,
	    sizeof err), -1, "duplicate container names are refused");
	is_int(load("web", "{\"vzspec\":1,\"name\":\"web\",\"containers\":"
	    "[{\"name\":\"a\"," IMG ",\"capAdd\":[\"NOPE\"]}]}", 0644, err,
	    sizeof err), -1, "an unknown capability is refused");
	is_int(load("web", "{\"vzspec\":1,\"name\":\"web\",\"containers\":"
	    "[{\"name\":\"a\"," IMG ",\"memoryLimit\":-5}]}", 0644, err,
	    sizeof err), -1, "a negative memoryLimit is refused");

	/* imageConfig: the config of this container's own reference */
#define ICSPEC(ic) "{\"vzspec\":1,\"name\":\"web\",\"containers\":" \
	"[{\"name\":\"a\"," IMG ",\"imageConfig\":" ic "}]}"
	is_int(load("web", ICSPEC("{\"Entrypoint\":null,\"Cmd\":[\"/bin/sh\"],"
	    "\"Env\":[\"PATH=/bin\",\"A=\"],\"WorkingDir\":\"/srv\","
	    "\"User\":\"app:app\",\"ExposedPorts\":[\"80/tcp\"]}"), 0644, err,
	    sizeof err), 0, "an imageConfig loads (unknown members ignored)");
	is_int(load("web", ICSPEC("null"), 0644, err, sizeof err), 0,
	    "a null imageConfig is an absent one");
	is_int(load("web", ICSPEC("{}"), 0644, err, sizeof err), 0,
	    "an empty imageConfig loads");
	is_int(load("web", ICSPEC("[\"/bin/sh\"]"), 0644, err, sizeof err), -1,
	    "an imageConfig that is not an object is refused");
	is_str(err, "'a': 'imageConfig' is not an object", "with a message");
	is_int(load("web", ICSPEC("{\"Cmd\":\"/bin/sh\"}"), 0644, err,
	    sizeof err), -1, "a string Cmd is refused");
	ok(strstr(err, "'a': imageConfig.Cmd must be null or an array") !=
	    NULL, "naming the container and the member: %s", err);
	is_int(load("web", ICSPEC("{\"Entrypoint\":[\"/bin/sh\",1]}"), 0644,
	    err, sizeof err), -1, "a number in Entrypoint is refused");
	ok(strstr(err, "imageConfig.Entrypoint") != NULL, "%s", err);
	is_int(load("web", ICSPEC("{\"Cmd\":[\"a\\u0000b\"]}"), 0644, err,
	    sizeof err), -1, "a NUL inside a Cmd string is refused");
	is_int(load("web", ICSPEC("{\"Env\":[\"NOVALUE\"]}"), 0644, err,
	    sizeof err), -1, "an Env entry without '=' is refused");
	ok(strstr(err, "imageConfig.Env must be null or an array") != NULL,
	    "%s", err);
	is_int(load("web", ICSPEC("{\"Env\":[\"=x\"]}"), 0644, err,
	    sizeof err), -1, "an Env entry without a name is refused");
	is_int(load("web", ICSPEC("{\"Env\":{\"A\":\"b\"}}"), 0644, err,
	    sizeof err), -1, "an Env object is refused");
	is_int(load("web", ICSPEC("{\"WorkingDir\":[]}"), 0644, err,
	    sizeof err), -1, "a WorkingDir array is refused");
	ok(strstr(err, "imageConfig.WorkingDir") != NULL, "%s", err);
	is_int(load("web", ICSPEC("{\"User\":1000}"), 0644, err, sizeof err),
	    -1, "a numeric User is refused");
	ok(strstr(err, "imageConfig.User") != NULL, "%s", err);
	{
		struct buf big = BUF_INIT;
		int i;

		buf_adds(&big, "{\"vzspec\":1,\"name\":\"web\",\"containers\":"
		    "[{\"name\":\"a\"," IMG ",\"imageConfig\":{\"User\":\"");
		for (i = 0; i < VZ_IMGCFG_USER_MAX + 1; i++)
			buf_addc(&big, 'u');
		buf_adds(&big, "\"}}]}");
		is_int(load("web", big.data, 0644, err, sizeof err), -1,
		    "a User longer than the node resolves is refused");
		buf_reset(&big);
		buf_adds(&big, "{\"vzspec\":1,\"name\":\"web\",\"containers\":"
		    "[{\"name\":\"a\"," IMG ",\"imageConfig\":{\"Cmd\":[");
		for (i = 0; i < VZ_IMGCFG_ITEMS_MAX + 1; i++)
			buf_adds(&big, i ? ",\"x\"" : "\"x\"");
		buf_adds(&big, "]}}]}");
		is_int(load("web", big.data, 0644, err, sizeof err), -1,
		    "a Cmd of too many items is refused");
		buf_release(&big);
	}

	snprintf(path, sizeof path, "%s/web.json", dir);
	f = fopen(path, "w");
	fputs(good, f);
	fclose(f);
	chmod(path, 0644);
	if (spec_load(path, "web", &p, err, sizeof err) == 0) {
		is_int((int)p->policy, RP_ONFAILURE, "restartPolicy parsed");
		is_int(p->grace, 30, "grace defaults to 30 s");
		is_int((int)p->nctr, 1, "one container");
		is_str(p->ctr[0].name, "app", "container name");
		is_int(p->ctr[0].last_exit, -1, "no exit yet");
		ok(p->fp != 0, "content fingerprint set");
		spec_free(p);
	} else
		ok(0, "reload of the good spec: %s", err);
	unlink(path);

	if (json_parse("{}", 2, &v, err, sizeof err) == 0) {
		ok(caps_compute(v, &caps, err, sizeof err) == 0 &&
		    caps == 0x800405fbULL, "default set is Podman's");
		json_free(v);
	}
	const char *cj = "{\"capDrop\":[\"ALL\"],\"capAdd\":[\"cap_kill\"]}";
	if (json_parse(cj, strlen(cj), &v, err, sizeof err) == 0) {
		ok(caps_compute(v, &caps, err, sizeof err) == 0 &&
		    caps == 0x20ULL, "drop ALL, add cap_kill");
		json_free(v);
	} else
		ok(0, "parse: %s", err);
	is_int(vz_cap_index("CAP_SYS_ADMIN"), 21, "CAP_ prefix accepted");
	ok(spec_name_ok("a-b1") && !spec_name_ok("-a") && !spec_name_ok("A"),
	    "DNS-1123 labels");
	ok(spec_pod_name_ok("web") && spec_pod_name_ok("web.next"),
	    "a pod name may carry the side-by-side suffix .next");
	ok(!spec_name_ok("web.next"), "but a container or volume name may not");
	ok(!spec_pod_name_ok("web.other") && !spec_pod_name_ok("web.next.next") &&
	    !spec_pod_name_ok(".next") && !spec_pod_name_ok("Web.next") &&
	    !spec_pod_name_ok("../x.next"), "no other dotted pod names");
	rmdir(dir);
	return done_testing();
}

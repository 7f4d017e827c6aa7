/*
 * test-nodespec: the node spec and its hash (nodespec.c).  Two references
 * whose rootfs is the same share an image id but not a config, so each
 * container's spec carries the config of its own reference, and the hash
 * changes when only a config does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "nodespec.h"
#include "pod.h"
#include "tap.h"

#define ID	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"

/* vzimage configs as image_import writes them */
static const char cfg_web[] = "{\"vzimage\":1,\"ref\":\"oci:/src/app:web\","
    "\"Entrypoint\":[\"/bin/app\"],\"Cmd\":[\"serve\",\"--port\",\"80\"],"
    "\"Env\":[\"PATH=/bin\",\"ROLE=web\"],\"WorkingDir\":\"/srv\","
    "\"User\":\"app\",\"ExposedPorts\":[\"80/tcp\"]}";
static const char cfg_worker[] = "{\"vzimage\":1,\"ref\":\"oci:/src/app:worker\","
    "\"Entrypoint\":null,\"Cmd\":[\"/bin/app\",\"work\"],"
    "\"Env\":[\"PATH=/bin\",\"ROLE=worker\"],\"WorkingDir\":\"\","
    "\"User\":\"\",\"ExposedPorts\":[]}";
/* cfg_web again, but for what the node does not use: same spec */
static const char cfg_web_other_ref[] = "{\"vzimage\":1,"
    "\"ref\":\"oci-archive:/elsewhere.tar\",\"Entrypoint\":[\"/bin/app\"],"
    "\"Cmd\":[\"serve\",\"--port\",\"80\"],"
    "\"Env\":[\"PATH=/bin\",\"ROLE=web\"],\"WorkingDir\":\"/srv\","
    "\"User\":\"app\",\"ExposedPorts\":[\"8080/tcp\",\"9090/tcp\"]}";
/* cfg_web with an Env entry the node would refuse, and one with no '=' */
static const char cfg_web_badenv[] = "{\"vzimage\":1,\"ref\":\"x\","
    "\"Entrypoint\":[\"/bin/app\"],\"Cmd\":[\"serve\",\"--port\",\"80\"],"
    "\"Env\":[\"PATH=/bin\",\"NOVALUE\",\"=nameless\",\"ROLE=web\"],"
    "\"WorkingDir\":\"/srv\",\"User\":\"app\"}";
/* a dir: image: no config at all */
static const char cfg_dir[] = "{\"vzimage\":1,\"ref\":\"dir:/src/rootfs\","
    "\"Entrypoint\":null,\"Cmd\":null,\"Env\":[],\"WorkingDir\":\"\","
    "\"User\":\"\",\"ExposedPorts\":[]}";

static struct json_value *
parse(const char *text)
{
	struct json_value *v = NULL;
	char err[200];

	if (json_parse(text, strlen(text), &v, err, sizeof err) != 0) {
		printf("# parse: %s\n", err);
		exit(1);
	}
	return v;
}

/* A pod of two containers on one image, no other settings. */
static void
make_pod(struct pod *p, struct container c[2])
{
	memset(p, 0, sizeof *p);
	memset(c, 0, 2 * sizeof *c);
	p->name = "app";
	p->kind = "Deployment";
	p->replicas = 1;
	p->restart_policy = RESTART_ALWAYS;
	p->termination_grace_seconds = 30;
	p->containers = c;
	p->n_containers = 2;
	c[0].name = "web";
	c[1].name = "worker";
	c[0].run_as_user = c[0].run_as_group = -1;
	c[1].run_as_user = c[1].run_as_group = -1;
	c[0].mem_limit = c[1].mem_limit = -1;
}

/* Build the spec of p with the two configs: hash, and the parsed spec. */
static struct json_value *
build(const struct pod *p, const char *cfg0, const char *cfg1,
    char hash[NODESPEC_HASH_LEN + 1])
{
	const char *ids[2] = { ID, ID };
	const struct json_value *cfgs[2];
	struct json_value *c0 = parse(cfg0), *c1 = parse(cfg1), *spec;
	struct buf out = BUF_INIT;

	cfgs[0] = c0;
	cfgs[1] = c1;
	nodespec_build(p, ids, cfgs, &out, hash);
	spec = parse(out.data);
	buf_release(&out);
	json_free(c0);
	json_free(c1);
	return spec;
}

/* The imageConfig of container i, written back compactly. */
static char *
image_config_of(const struct json_value *spec, size_t i)
{
	const struct json_value *cs = json_get_array(spec, "containers");
	const struct json_value *ic, *v;
	struct json_writer w;
	struct buf b = BUF_INIT;
	size_t k, n;

	if (cs == NULL || i >= cs->n ||
	    (ic = json_get_object(cs->items[i], "imageConfig")) == NULL)
		return NULL;
	json_writer_init(&w, &b, 0);
	json_begin_object(&w);
	for (k = 0; k < ic->n; k++) {
		v = ic->items[k];
		json_key(&w, ic->keys[k]);
		switch (v->type) {
		case JSON_NULL:
			json_null(&w);
			break;
		case JSON_STRING:
			json_string(&w, v->str);
			break;
		case JSON_ARRAY:
			json_begin_array(&w);
			for (n = 0; n < v->n; n++)
				json_string(&w, v->items[n]->str);
			json_end_array(&w);
			break;
		default:
			json_string(&w, "?");
		}
	}
	json_end_object(&w);
	return buf_detach(&b, NULL);
}

int
main(void)
{
	struct container c[2];
	struct pod p;
	struct json_value *spec;
	const struct json_value *cs;
	char h_ab[NODESPEC_HASH_LEN + 1], h_ab2[NODESPEC_HASH_LEN + 1];
	char h_aa[NODESPEC_HASH_LEN + 1], h[NODESPEC_HASH_LEN + 1];
	char *ic;

	make_pod(&p, c);
	spec = build(&p, cfg_web, cfg_worker, h_ab);
	cs = json_get_array(spec, "containers");
	ok(cs != NULL && cs->n == 2, "two containers");
	is_str(json_get_string(cs->items[0], "image"), ID, "web: the image id");
	is_str(json_get_string(cs->items[1], "image"), ID,
	    "worker: the same image id");
	ic = image_config_of(spec, 0);
	is_str(ic, "{\"Entrypoint\":[\"/bin/app\"],\"Cmd\":[\"serve\","
	    "\"--port\",\"80\"],\"Env\":[\"PATH=/bin\",\"ROLE=web\"],"
	    "\"WorkingDir\":\"/srv\",\"User\":\"app\"}",
	    "web: its own reference's config, what the node uses of it");
	free(ic);
	ic = image_config_of(spec, 1);
	is_str(ic, "{\"Entrypoint\":null,\"Cmd\":[\"/bin/app\",\"work\"],"
	    "\"Env\":[\"PATH=/bin\",\"ROLE=worker\"],\"WorkingDir\":\"\","
	    "\"User\":\"\"}", "worker: its own reference's config");
	free(ic);
	json_free(spec);

	spec = build(&p, cfg_web, cfg_worker, h_ab2);
	is_str(h_ab2, h_ab, "the same pod, ids and configs: the same hash");
	json_free(spec);

	spec = build(&p, cfg_web, cfg_web, h_aa);
	ok(strcmp(h_aa, h_ab) != 0, "only a config differs: another hash");
	json_free(spec);

	spec = build(&p, cfg_web, cfg_web_other_ref, h);
	is_str(h, h_aa, "ref and ExposedPorts (unused on the node) do not "
	    "change the hash");
	json_free(spec);

	spec = build(&p, cfg_worker, cfg_web, h);
	ok(strcmp(h, h_ab) != 0 && strcmp(h, h_aa) != 0,
	    "configs swapped between the containers: another hash");
	json_free(spec);

	spec = build(&p, cfg_web_badenv, cfg_dir, h);
	ic = image_config_of(spec, 0);
	ok(ic != NULL && strstr(ic, "\"Env\":[\"PATH=/bin\",\"ROLE=web\"]") !=
	    NULL, "Env keeps only NAME=VALUE entries: %s", ic ? ic : "none");
	free(ic);
	ic = image_config_of(spec, 1);
	is_str(ic, "{\"Entrypoint\":null,\"Cmd\":null,\"Env\":[],"
	    "\"WorkingDir\":\"\",\"User\":\"\"}",
	    "a dir: image: an empty config, written all the same");
	free(ic);
	json_free(spec);

	return done_testing();
}

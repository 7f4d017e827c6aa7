/*
 * nodespec: pod -> node spec JSON + hash.  The JSON is written in one fixed
 * member order so the same pod and images always give the same bytes, and
 * so the same hash: cron runs must not see changes that are not there.
 */
#include <string.h>

#include <openssl/evp.h>

#include "json.h"
#include "nodespec.h"
#include "pod.h"

static void
write_strv(struct json_writer *w, const char *key, char **v)
{
	json_key(w, key);
	if (v == NULL) {
		json_null(w);
		return;
	}
	json_begin_array(w);
	for (; *v != NULL; v++)
		json_string(w, *v);
	json_end_array(w);
}

static void
write_strlist(struct json_writer *w, const char *key, const struct strlist *l)
{
	size_t i;

	if (l->n == 0)
		return;
	json_key(w, key);
	json_begin_array(w);
	for (i = 0; i < l->n; i++)
		json_string(w, l->v[i]);
	json_end_array(w);
}

/*
 * What the node uses of an image config, always all five members, so a
 * config read back from the cache or made by a new import of the same
 * source gives the same bytes.  Env keeps only NAME=VALUE entries: the
 * node refuses others in a spec, and always skipped them in config.json.
 */
static void
write_image_config(struct json_writer *w, const struct json_value *cfg)
{
	const struct json_value *env, *e;
	const char *s;
	size_t i;

	json_key(w, "imageConfig");
	json_begin_object(w);
	json_kv_strings(w, "Entrypoint", json_get(cfg, "Entrypoint"), 0);
	json_kv_strings(w, "Cmd", json_get(cfg, "Cmd"), 0);
	json_key(w, "Env");
	json_begin_array(w);
	env = json_get_array(cfg, "Env");
	for (i = 0; env != NULL && i < env->n; i++) {
		e = env->items[i];
		if (e->type == JSON_STRING && strlen(e->str) == e->len &&
		    e->str[0] != '=' && strchr(e->str, '=') != NULL)
			json_string(w, e->str);
	}
	json_end_array(w);
	s = json_get_string(cfg, "WorkingDir");
	json_kv_string(w, "WorkingDir", s != NULL ? s : "");
	s = json_get_string(cfg, "User");
	json_kv_string(w, "User", s != NULL ? s : "");
	json_end_object(w);
}

static void
write_probe(struct json_writer *w, const char *key, const struct probe *p)
{
	if (p->kind == PROBE_NONE)
		return;
	json_key(w, key);
	json_begin_object(w);
	switch (p->kind) {
	case PROBE_EXEC:
		write_strv(w, "exec", p->exec);
		break;
	case PROBE_HTTP:
		json_key(w, "httpGet");
		json_begin_object(w);
		json_kv_string(w, "path", p->http_path ? p->http_path : "/");
		json_kv_int(w, "port", p->port);
		if (p->http_host != NULL)
			json_kv_string(w, "host", p->http_host);
		json_kv_string(w, "scheme",
		    p->http_scheme ? p->http_scheme : "HTTP");
		json_end_object(w);
		break;
	case PROBE_TCP:
		json_key(w, "tcpSocket");
		json_begin_object(w);
		json_kv_int(w, "port", p->port);
		json_end_object(w);
		break;
	case PROBE_NONE:
		break;
	}
	json_kv_int(w, "initialDelaySeconds", p->initial_delay_seconds);
	json_kv_int(w, "periodSeconds", p->period_seconds);
	json_kv_int(w, "timeoutSeconds", p->timeout_seconds);
	json_kv_int(w, "failureThreshold", p->failure_threshold);
	json_kv_int(w, "successThreshold", p->success_threshold);
	json_end_object(w);
}

static void
write_container(struct json_writer *w, const struct container *c,
    const char *image_id, const struct json_value *image_config)
{
	size_t i;

	json_begin_object(w);
	json_kv_string(w, "name", c->name);
	json_kv_string(w, "image", image_id);
	write_image_config(w, image_config);
	write_strv(w, "command", c->command);
	write_strv(w, "args", c->args);
	json_key(w, "env");
	json_begin_array(w);
	for (i = 0; i < c->n_env; i++) {
		json_begin_object(w);
		json_kv_string(w, "name", c->env[i].name);
		json_kv_string(w, "value", c->env[i].value);
		json_end_object(w);
	}
	json_end_array(w);
	if (c->working_dir != NULL)
		json_kv_string(w, "workingDir", c->working_dir);
	if (c->run_as_user >= 0)
		json_kv_int(w, "runAsUser", c->run_as_user);
	if (c->run_as_group >= 0)
		json_kv_int(w, "runAsGroup", c->run_as_group);
	json_kv_bool(w, "runAsNonRoot", c->run_as_non_root);
	json_kv_bool(w, "readOnlyRootFilesystem", c->read_only_root_fs);
	write_strlist(w, "capAdd", &c->cap_add);
	write_strlist(w, "capDrop", &c->cap_drop);
	if (c->mem_limit >= 0)
		json_kv_int(w, "memoryLimit", c->mem_limit);
	json_key(w, "ports");
	json_begin_array(w);
	for (i = 0; i < c->n_ports; i++) {
		json_begin_object(w);
		json_kv_int(w, "containerPort", c->ports[i].container_port);
		if (c->ports[i].host_port > 0)
			json_kv_int(w, "hostPort", c->ports[i].host_port);
		json_kv_string(w, "protocol",
		    c->ports[i].protocol == PROTO_UDP ? "UDP" : "TCP");
		json_end_object(w);
	}
	json_end_array(w);
	json_key(w, "volumeMounts");
	json_begin_array(w);
	for (i = 0; i < c->n_mounts; i++) {
		json_begin_object(w);
		json_kv_string(w, "name", c->mounts[i].name);
		json_kv_string(w, "mountPath", c->mounts[i].mount_path);
		json_kv_bool(w, "readOnly", c->mounts[i].read_only);
		json_end_object(w);
	}
	json_end_array(w);
	write_probe(w, "readinessProbe", &c->readiness);
	write_probe(w, "livenessProbe", &c->liveness);
	json_end_object(w);
}

/* Everything but the hash, in a fixed order. */
static void
write_body(struct json_writer *w, const struct pod *p,
    const char *const *image_ids,
    const struct json_value *const *image_configs)
{
	size_t i;

	json_kv_string(w, "restartPolicy", restart_policy_name(p->restart_policy));
	json_kv_int(w, "terminationGracePeriodSeconds",
	    p->termination_grace_seconds);
	json_key(w, "volumes");
	json_begin_array(w);
	for (i = 0; i < p->n_volumes; i++) {
		const struct volume *v = &p->volumes[i];

		json_begin_object(w);
		json_kv_string(w, "name", v->name);
		if (v->kind == VOLUME_HOST_PATH)
			json_kv_string(w, "hostPath", v->host_path);
		else {
			json_key(w, "emptyDir");
			json_begin_object(w);
			if (v->medium != NULL && v->medium[0] != '\0')
				json_kv_string(w, "medium", v->medium);
			if (v->size_limit >= 0)
				json_kv_int(w, "sizeLimit", v->size_limit);
			json_end_object(w);
		}
		json_end_object(w);
	}
	json_end_array(w);
	json_key(w, "containers");
	json_begin_array(w);
	for (i = 0; i < p->n_containers; i++)
		write_container(w, &p->containers[i], image_ids[i],
		    image_configs[i]);
	json_end_array(w);
}

static void
sha256_hex(const void *data, size_t len, char out[NODESPEC_HASH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (i = 0; i < mdlen && i < NODESPEC_HASH_LEN / 2; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * i] = '\0';
}

void
nodespec_build(const struct pod *p, const char *const *image_ids,
    const struct json_value *const *image_configs, struct buf *out,
    char hash[NODESPEC_HASH_LEN + 1])
{
	struct buf body = BUF_INIT;
	struct json_writer w;

	json_writer_init(&w, &body, 0);
	json_begin_object(&w);
	json_kv_string(&w, "name", p->name);
	write_body(&w, p, image_ids, image_configs);
	json_end_object(&w);
	sha256_hex(body.data, body.len, hash);
	buf_release(&body);

	json_writer_init(&w, out, 1);
	json_begin_object(&w);
	json_kv_int(&w, "vzspec", 1);
	json_kv_string(&w, "name", p->name);
	json_kv_string(&w, "hash", hash);
	write_body(&w, p, image_ids, image_configs);
	json_end_object(&w);
}

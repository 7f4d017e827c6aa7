/*
 * test-imgstore: the master's image store (versions per reference, pruning,
 * base choice) and the wire format (manifest checks, full round trip of
 * wire_build / wire_unpack with each compression).
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "imgstore.h"
#include "imgutil.h"
#include "tap.h"
#include "wire.h"



static char tmp[256];

static void
write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		abort();
	fputs(s, f);
	fclose(f);
}

static int
exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

/* A fake image in the store: a file named <id>.tar (content irrelevant). */
static void
fake_image(struct imgstore *s, const char *id)
{
	char p[4200];

	imgstore_tar_path(s, id, p, sizeof p);
	write_str(p, id);
	imgstore_config_path(s, id, p, sizeof p);
	write_str(p, "{}");
}

static void
test_store(void)
{
	struct imgstore s;
	char dir[300], err[512], ids[8][65], id[5][65], base[65], p[4200];
	const char *node[3];
	size_t n;
	int i;

	for (i = 0; i < 5; i++)
		snprintf(id[i], sizeof id[i], "%064d", i + 1);
	snprintf(dir, sizeof dir, "%s/.vzmaster/images", tmp);
	ok(imgstore_open(&s, dir, 3, err, sizeof err) == 0, "store opens");
	for (i = 0; i < 4; i++) {
		fake_image(&s, id[i]);
		ok(imgstore_record(&s, "oci-archive:app.tar", id[i], err,
		    sizeof err) == 0, "record version %d", i + 1);
	}
	ok(imgstore_versions(&s, "oci-archive:app.tar", ids, 8, &n, err,
	    sizeof err) == 0, "versions read");
	is_int(n, 3, "three versions kept");
	is_str(ids[0], id[3], "newest first");
	is_str(ids[2], id[1], "oldest kept is version 2");
	imgstore_tar_path(&s, id[0], p, sizeof p);
	ok(!exists(p), "version 1 pruned from the store");

	/* re-recording an existing id moves it to the front, no duplicate */
	imgstore_record(&s, "oci-archive:app.tar", id[1], err, sizeof err);
	imgstore_versions(&s, "oci-archive:app.tar", ids, 8, &n, err,
	    sizeof err);
	ok(n == 3 && strcmp(ids[0], id[1]) == 0 && strcmp(ids[1], id[3]) == 0,
	    "re-recorded version becomes newest, once");

	/* an image another reference keeps survives pruning */
	fake_image(&s, id[4]);
	imgstore_record(&s, "dir:/srv/other", id[2], err, sizeof err);
	imgstore_record(&s, "oci-archive:app.tar", id[4], err, sizeof err);
	imgstore_record(&s, "oci-archive:app.tar", id[0], err, sizeof err);
	fake_image(&s, id[0]);
	imgstore_tar_path(&s, id[2], p, sizeof p);
	ok(exists(p), "an image kept by another reference is not pruned");

	/* base choice: the newest the node has */
	imgstore_versions(&s, "oci-archive:app.tar", ids, 8, &n, err,
	    sizeof err);
	node[0] = id[3];
	node[1] = id[4];
	node[2] = "junk";
	ok(imgstore_pick_base(&s, "oci-archive:app.tar", node, 3, base) == 1,
	    "a base is found");
	is_str(base, ids[1], "the newest version the node holds");
	node[0] = id[2];
	ok(imgstore_pick_base(&s, "oci-archive:app.tar", node, 1, base) == 0,
	    "no base when the node holds none of the versions");
	ok(imgstore_pick_base(&s, "oci:nosuch", node, 1, base) == 0,
	    "no base for an unknown reference");

	/* odd reference text maps to a safe file name */
	ok(imgstore_record(&s, "oci:../../etc:x y", id[4], err,
	    sizeof err) == 0, "reference with slashes and spaces");
	snprintf(p, sizeof p, "%s/refs/oci%%3A..%%2F..%%2Fetc%%3Ax%%20y", dir);
	ok(exists(p), "escaped index name");
	ok(imgstore_versions(&s, "oci:../../etc:x y", ids, 8, &n, err,
	    sizeof err) == 0 && n == 1, "and read back");
}

static void
test_manifest(void)
{
	struct wire_manifest m;
	char err[512], good[2048];
	const char *h = "1111111111111111111111111111111111111111111111111111111111111111";

	snprintf(good, sizeof good, "{\"vzupload\":1,\"image\":\"%s\",\"ref\":"
	    "\"x\",\"base\":\"%s\",\"encoding\":\"vcdiff+zstd\",\"file\":"
	    "\"a.vcdiff.zst\",\"size\":10,\"sha256\":\"%s\",\"imageSize\":20,"
	    "\"config\":{\"vzimage\":1,\"Cmd\":[\"/bin/sh\"],\"x\":{\"y\":1}}}",
	    h, h, h);
	ok(wire_manifest_parse(good, strlen(good), &m, err, sizeof err) == 0,
	    "good manifest parses");
	ok(m.vcdiff && m.compress == WIRE_ZSTD && m.size == 10 &&
	    m.image_size == 20 && strcmp(m.file, "a.vcdiff.zst") == 0,
	    "fields read");
	is_str(m.config_json, "{\"vzimage\":1,\"Cmd\":[\"/bin/sh\"],\"x\":null}",
	    "config re-serialised, nested objects dropped");
	wire_manifest_release(&m);
#define BAD(what, from, to) do {					\
	char b_[2048], *p_;						\
	snprintf(b_, sizeof b_, "%s", good);				\
	p_ = strstr(b_, from);						\
	memcpy(p_, to, strlen(to));					\
	ok(wire_manifest_parse(b_, strlen(b_), &m, err, sizeof err) == -1, \
	    "refused: %s (%s)", what, err);				\
	wire_manifest_release(&m);					\
} while (0)
	BAD("file with a slash", "\"a.vcdiff.zst\"", "\"../etc/pas\"");
	BAD("hidden file", "\"a.vcdiff.zst\"", "\".a.vcdiff.z\"");
	BAD("unknown encoding", "vcdiff+zstd", "vcdiff+lzma");
	BAD("bad image id", "\"image\":\"1111", "\"image\":\"X111");
	BAD("negative size", "\"size\":10", "\"size\":-1");
	BAD("wrong version", "\"vzupload\":1", "\"vzupload\":2");
	BAD("a full tarball with a base", "\"vcdiff+zstd\",", "\"tar+zstd\",   ");
	BAD("file null", "\"a.vcdiff.zst\"", "null          ");
	/* a streamed upload (image-import --stdin) names no file */
	{
		char b_[2048], *p_;

		snprintf(b_, sizeof b_, "%s", good);
		p_ = strstr(b_, "\"file\"");
		memcpy(p_, "\"fil_\"", 6);
		ok(wire_manifest_parse(b_, strlen(b_), &m, err, sizeof err) ==
		    0 && m.file[0] == '\0' && m.size == 10,
		    "a manifest without 'file' parses, file empty");
		wire_manifest_release(&m);
	}
}

static void
test_roundtrip(void)
{
	static const enum wire_compress cs[] = { WIRE_NONE, WIRE_XZ, WIRE_ZSTD,
	    WIRE_AUTO };
	struct wire_upload up;
	struct wire_manifest m;
	char tar[300], id[65], err[512], out[300], rebuilt[300], *big;
	size_t i, len = (size_t)3 << 20;
	int fd;

	snprintf(tar, sizeof tar, "%s/image.tar", tmp);
	snprintf(out, sizeof out, "%s/up", tmp);
	snprintf(rebuilt, sizeof rebuilt, "%s/rebuilt.tar", tmp);
	mkdir_p(out, 0755);
	big = xmalloc(len);
	for (i = 0; i < len; i++)
		big[i] = (char)(i % 251 == 0 ? (size_t)rand() : (size_t)('a' + i % 7));
	fd = open(tar, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write_full(fd, big, len);
	close(fd);
	free(big);
	sha256_file(tar, id, NULL, err, sizeof err);
	for (i = 0; i < sizeof cs / sizeof cs[0]; i++) {
		int r;

		r = wire_build(NULL, NULL, tar, id, "dir:x", "{\"vzimage\":1}",
		    out, cs[i], &up, err, sizeof err);
		ok(r == 0, "build full, compression %d: %s", (int)cs[i],
		    r ? err : up.encoding);
		if (r != 0)
			continue;
		ok(cs[i] == WIRE_NONE || up.size < up.image_size / 3,
		    "compressed %llu -> %llu", (unsigned long long)up.image_size,
		    (unsigned long long)up.size);
		ok(wire_manifest_parse(up.manifest_json,
		    strlen(up.manifest_json), &m, err, sizeof err) == 0,
		    "own manifest parses");
		is_int(wire_unpack(&m, up.path, NULL, rebuilt, tmp, err,
		    sizeof err), WIRE_OK, "unpacks to the image");
		/* a wrong expected image id: the result is refused, removed */
		m.image[0] = m.image[0] == 'a' ? 'b' : 'a';
		ok(wire_unpack(&m, up.path, NULL, rebuilt, tmp, err,
		    sizeof err) == WIRE_FAIL && strstr(err, "does not match") &&
		    !exists(rebuilt), "mismatching result refused and removed");
		wire_manifest_release(&m);
		if (strcmp(up.path, tar) != 0)
			unlink(up.path);
		wire_upload_release(&up);
	}
}

/* A delta upload against a base, and a base that does not fit. */
static void
test_delta(void)
{
	struct wire_upload up;
	struct wire_manifest m;
	char base[300], tar[300], id[65], bid[65], err[512], out[300];
	char rebuilt[300], *data;
	size_t i, len = (size_t)2 << 20;
	int fd;

	snprintf(base, sizeof base, "%s/base.tar", tmp);
	snprintf(tar, sizeof tar, "%s/new.tar", tmp);
	snprintf(out, sizeof out, "%s/dup", tmp);
	snprintf(rebuilt, sizeof rebuilt, "%s/drebuilt.tar", tmp);
	mkdir_p(out, 0755);
	data = xmalloc(len);
	srand(7);
	for (i = 0; i < len; i++)
		data[i] = (char)rand();
	fd = open(base, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write_full(fd, data, len);
	close(fd);
	memcpy(data + 100000, "a small change", 14);
	fd = open(tar, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write_full(fd, data, len);
	close(fd);
	free(data);
	sha256_file(base, bid, NULL, err, sizeof err);
	sha256_file(tar, id, NULL, err, sizeof err);
	ok(wire_build(base, bid, tar, id, "dir:x", NULL, out, WIRE_AUTO, &up,
	    err, sizeof err) == 0, "delta built: %s", up.encoding);
	ok(strncmp(up.encoding, "vcdiff", 6) == 0 && up.size < 10000,
	    "delta of 2 MiB with one change is small (%llu bytes)",
	    (unsigned long long)up.size);
	ok(wire_manifest_parse(up.manifest_json, strlen(up.manifest_json), &m,
	    err, sizeof err) == 0 && strcmp(m.base, bid) == 0, "base named");
	is_int(wire_unpack(&m, up.path, base, rebuilt, tmp, err, sizeof err),
	    WIRE_OK, "delta rebuilds the image");
	/* applied to another base: mismatch, asking for the full image */
	fd = open(base, O_WRONLY);
	pwrite(fd, "other base", 10, 5000);
	close(fd);
	err[0] = '\0';
	is_int(wire_unpack(&m, up.path, base, rebuilt, tmp, err, sizeof err),
	    WIRE_MISMATCH, "delta on the wrong base: mismatch (%s)", err);
	ok(!exists(rebuilt), "and nothing left");
	wire_manifest_release(&m);
	unlink(up.path);
	wire_upload_release(&up);
}

int
main(void)
{
	snprintf(tmp, sizeof tmp, "%s/test-imgstore.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmp) == NULL)
		return 1;
	test_store();
	test_manifest();
	test_roundtrip();
	test_delta();
	if (getenv("VZ_TEST_KEEP") == NULL)
		remove_tree(tmp);
	return done_testing();
}

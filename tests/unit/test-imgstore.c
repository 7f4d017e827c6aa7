/*
 * test-imgstore: the master's image store (versions per reference, pruning,
 * base choice) and the wire format (manifest checks, full round trip of
 * wire_build / wire_unpack with each compression, what WIRE_AUTO picks,
 * damaged store tarballs refused and removed, imports that leave only
 * their files).
 */
#include <sys/stat.h>

#include <dirent.h>
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

/* A file of len bytes: random when rnd, else compressible text. */
static void
make_file(const char *path, size_t len, int rnd, unsigned seed)
{
	char *d = xmalloc(len);
	size_t i;
	int fd;

	srand(seed);
	for (i = 0; i < len; i++)
		d[i] = rnd ? (char)rand() : (char)("line of text\n"[i % 13]);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write_full(fd, d, len);
	close(fd);
	free(d);
}

/* The payload's sha256 and size in the manifest are those of the file. */
static int
payload_matches(const struct wire_upload *up)
{
	char hex[65], err[256];
	uint64_t size;

	return sha256_file(up->path, hex, &size, err, sizeof err) == 0 &&
	    strcmp(hex, up->sha256) == 0 && size == up->size;
}

/* WIRE_AUTO: one zstd attempt, raw when it saves less than 5%. */
static void
test_auto(void)
{
	struct wire_upload up;
	char a[300], b[300], ida[65], idb[65], out[300], err[512];
	int fd, r;

	snprintf(out, sizeof out, "%s/auto", tmp);
	mkdir_p(out, 0755);
	snprintf(a, sizeof a, "%s/rand.tar", tmp);
	make_file(a, (size_t)3 << 20, 1, 11);
	sha256_file(a, ida, NULL, err, sizeof err);
	r = wire_build(NULL, NULL, a, ida, "dir:x", NULL, out, WIRE_AUTO, &up,
	    err, sizeof err);
	ok(r == 0 && strcmp(up.encoding, "tar") == 0 &&
	    strcmp(up.path, a) == 0 && strcmp(up.sha256, ida) == 0 &&
	    up.size == up.image_size, "auto, random full image: sent raw "
	    "from the store (%s)", up.encoding);
	wire_upload_release(&up);

	snprintf(b, sizeof b, "%s/text.tar", tmp);
	make_file(b, (size_t)3 << 20, 0, 0);
	sha256_file(b, idb, NULL, err, sizeof err);
	r = wire_build(NULL, NULL, b, idb, "dir:x", NULL, out, WIRE_AUTO, &up,
	    err, sizeof err);
	ok(r == 0 && strcmp(up.encoding, "tar+zstd") == 0 &&
	    up.size < up.image_size / 20 && payload_matches(&up),
	    "auto, text full image: tar+zstd, %llu bytes, sha256 as written",
	    (unsigned long long)up.size);
	unlink(up.path);
	wire_upload_release(&up);

	/* a delta of new random bytes does not compress: raw vcdiff */
	snprintf(b, sizeof b, "%s/rand2.tar", tmp);
	make_file(b, (size_t)3 << 20, 1, 11);
	fd = open(b, O_WRONLY);
	{
		char rb[20000];
		size_t i;

		srand(99);
		for (i = 0; i < sizeof rb; i++)
			rb[i] = (char)(rand() >> 3);
		pwrite(fd, rb, sizeof rb, 70000);
	}
	close(fd);
	sha256_file(b, idb, NULL, err, sizeof err);
	r = wire_build(a, ida, b, idb, "dir:x", NULL, out, WIRE_AUTO, &up,
	    err, sizeof err);
	ok(r == 0 && strcmp(up.encoding, "vcdiff") == 0 &&
	    payload_matches(&up) && up.delta_size == up.size,
	    "auto, delta of random bytes: raw vcdiff (%s, %llu bytes)",
	    up.encoding, (unsigned long long)up.size);
	unlink(up.path);
	wire_upload_release(&up);

	/* one that does: vcdiff+zstd */
	fd = open(b, O_WRONLY);
	{
		char rb[20000];
		size_t i;

		/* text: short repeats, more than a RUN can take */
		for (i = 0; i < sizeof rb; i++)
			rb[i] = "a line of some text\n"[i % 20] ^
			    (char)(i / 997 % 3);
		pwrite(fd, rb, sizeof rb, 70000);
	}
	close(fd);
	sha256_file(b, idb, NULL, err, sizeof err);
	r = wire_build(a, ida, b, idb, "dir:x", NULL, out, WIRE_AUTO, &up,
	    err, sizeof err);
	ok(r == 0 && strcmp(up.encoding, "vcdiff+zstd") == 0 &&
	    payload_matches(&up) && up.size < up.delta_size,
	    "auto, delta of text: vcdiff+zstd (%llu -> %llu bytes)",
	    (unsigned long long)up.delta_size, (unsigned long long)up.size);
	unlink(up.path);
	wire_upload_release(&up);

	/* an explicit codec is kept even when it does not help */
	ok(wire_build(NULL, NULL, a, ida, "dir:x", NULL, out, WIRE_XZ, &up,
	    err, sizeof err) == 0 && strcmp(up.encoding, "tar+xz") == 0 &&
	    payload_matches(&up), "explicit xz kept on random data");
	unlink(up.path);
	wire_upload_release(&up);
}

/*
 * A store tarball that no longer hashes to its name (the store does not
 * fsync; a crash can leave one short or stale): every way of building an
 * upload from it fails, names the file, and removes it.
 */
static void
test_damaged(void)
{
	static const enum wire_compress cs[] = { WIRE_AUTO, WIRE_NONE,
	    WIRE_ZSTD };
	struct wire_upload up;
	char base[300], tar[300], id[65], bid[65], out[300], err[512];
	size_t i;
	int fd, delta;

	snprintf(out, sizeof out, "%s/dmg", tmp);
	mkdir_p(out, 0755);
	snprintf(base, sizeof base, "%s/dbase.tar", tmp);
	make_file(base, (size_t)1 << 20, 1, 5);
	sha256_file(base, bid, NULL, err, sizeof err);
	for (delta = 0; delta <= 1; delta++)
		for (i = 0; i < sizeof cs / sizeof cs[0]; i++) {
			snprintf(tar, sizeof tar, "%s/dmg-%d-%zu.tar", tmp,
			    delta, i);
			make_file(tar, (size_t)1 << 20, 1, 5);
			fd = open(tar, O_WRONLY);
			pwrite(fd, "new", 3, 4000);
			close(fd);
			sha256_file(tar, id, NULL, err, sizeof err);
			/* then damaged: one byte flipped, or cut short */
			fd = open(tar, O_WRONLY);
			if (i == 1)
				ftruncate(fd, 300000);
			else
				pwrite(fd, "X", 1, 800000);
			close(fd);
			err[0] = '\0';
			ok(wire_build(delta ? base : NULL, delta ? bid : NULL,
			    tar, id, "dir:x", NULL, out, cs[i], &up, err,
			    sizeof err) == -1 && strstr(err, tar) != NULL &&
			    strstr(err, "damaged") != NULL && !exists(tar),
			    "damaged store file, %s, compression %d: refused, "
			    "removed (%s)", delta ? "delta" : "full", (int)cs[i],
			    err);
		}
	ok(exists(base), "the base is left alone");
}

/* image_import writes <id>.tar by rename: nothing else is left behind. */
static void
test_import_files(void)
{
	struct imgstore s;
	struct image_info info;
	char dir[300], src[300], p[400], err[512], hex[65], ref[400];
	struct dirent *de;
	DIR *d;
	int n, others = 0;

	snprintf(dir, sizeof dir, "%s/istore", tmp);
	snprintf(src, sizeof src, "%s/rootfs", tmp);
	mkdir_p(src, 0755);
	/* more than one 1 MiB write, in files of several sizes */
	for (n = 0; n < 12; n++) {
		snprintf(p, sizeof p, "%s/f%d", src, n);
		make_file(p, (size_t)(n * 300000 + 17), n % 2, (unsigned)n);
	}
	snprintf(ref, sizeof ref, "dir:%s", src);
	ok(imgstore_open(&s, dir, 0, err, sizeof err) == 0, "store opened");
	ok(imgstore_import(&s, ref, &info, err, sizeof err) == 0,
	    "imported: %s", info.id);
	imgstore_tar_path(&s, info.id, p, sizeof p);
	ok(sha256_file(p, hex, NULL, err, sizeof err) == 0 &&
	    strcmp(hex, info.id) == 0, "the tarball hashes to its name");
	image_info_release(&info);
	ok(imgstore_import(&s, ref, &info, err, sizeof err) == 0 &&
	    strcmp(hex, info.id) == 0, "imported again: the same id");
	image_info_release(&info);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
			    strcmp(de->d_name, "..") == 0))
				continue;
			if (strcmp(de->d_name, "refs") != 0 &&
			    strncmp(de->d_name, hex, 64) != 0)
				others++;
		}
		closedir(d);
	}
	is_int(others, 0, "no temporary file or folder left in the store");
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
	test_auto();
	test_damaged();
	test_import_files();
	if (getenv("VZ_TEST_KEEP") == NULL)
		remove_tree(tmp);
	return done_testing();
}

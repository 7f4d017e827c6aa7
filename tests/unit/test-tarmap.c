/*
 * test-tarmap: an image tarball kept as rootfs + map reads back byte for
 * byte (pax as the master writes it, GNU long names, ustar, sparse files,
 * hardlinks, devices, odd sizes), whatever the chunks it was fed in; most
 * of it is withheld; reads at any offset agree; a damaged map or a changed
 * rootfs file is an error, never wrong bytes; and the writer refuses a
 * withheld range that the unpacker does not claim.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "buf.h"
#include "imgutil.h"
#include "tap.h"
#include "tarmap.h"

static char tmp[256];
static unsigned rnd = 12345;

static unsigned
next_rand(void)
{
	rnd = rnd * 1103515245u + 12345u;
	return rnd >> 8;
}

static void
add(struct archive *a, const char *path, mode_t type, size_t size,
    const char *link, int sparse)
{
	struct archive_entry *e = archive_entry_new();
	char *data = NULL;
	size_t i;

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, 1700000000, 123456789);
	if (type == AE_IFLNK)
		archive_entry_set_symlink(e, link);
	if (type == AE_IFCHR)
		archive_entry_set_rdev(e, 0x0103);
	if (type == AE_IFREG && link != NULL) {
		archive_entry_set_hardlink(e, link);
		size = 0;
	}
	if (type == AE_IFREG) {
		archive_entry_set_size(e, (la_int64_t)size);
		if (sparse) {
			archive_entry_sparse_add_entry(e, 0, 1000);
			archive_entry_sparse_add_entry(e, 8192,
			    (la_int64_t)size - 8192);
		}
	}
	if (archive_write_header(a, e) != ARCHIVE_OK)
		abort();
	if (size > 0) {
		data = malloc(size);
		for (i = 0; i < size; i++)
			data[i] = (char)(next_rand() & 0xff);
		if (archive_write_data(a, data, size) != (la_ssize_t)size)
			abort();
	}
	free(data);
	archive_entry_free(e);
}

/* A tarball in one of libarchive's formats, into b. */
static void
make_tar(struct buf *b, int format, int with_sparse)
{
	struct archive *a = archive_write_new();
	size_t used = 0;
	char *mem = malloc(8u << 20);
	char longname[300];

	if (archive_write_set_format(a, format) != ARCHIVE_OK)
		abort();
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_memory(a, mem, 8u << 20, &used) != ARCHIVE_OK)
		abort();
	add(a, "etc", AE_IFDIR, 0, NULL, 0);
	add(a, "etc/empty", AE_IFREG, 0, NULL, 0);
	add(a, "etc/one", AE_IFREG, 1, NULL, 0);
	add(a, "etc/block", AE_IFREG, 512, NULL, 0);
	add(a, "etc/block1", AE_IFREG, 513, NULL, 0);
	add(a, "etc/big", AE_IFREG, 300000, NULL, 0);
	add(a, "etc/link", AE_IFLNK, 0, "big", 0);
	add(a, "etc/hard", AE_IFREG, 0, "etc/big", 0);
	add(a, "etc/fifo", AE_IFIFO, 0, NULL, 0);
	if (format != ARCHIVE_FORMAT_TAR_USTAR) {
		/* past ustar's 100 + 155 bytes, in short components */
		memset(longname, 'n', sizeof longname - 1);
		memcpy(longname, "etc/", 4);
		longname[sizeof longname - 1] = '\0';
		for (size_t k = 80; k < sizeof longname - 1; k += 80)
			longname[k] = '/';
		add(a, longname, AE_IFREG, 777, NULL, 0);
	}
	add(a, "etc/tty", AE_IFCHR, 0, NULL, 0);
	if (with_sparse)
		add(a, "etc/sparse", AE_IFREG, 20000, NULL, 1);
	add(a, "etc/last", AE_IFREG, 4096, NULL, 0);
	if (archive_write_close(a) != ARCHIVE_OK)
		abort();
	archive_write_free(a);
	buf_reset(b);
	buf_add(b, mem, used);
	free(mem);
}

struct feed {
	const struct buf *tar;
	size_t		 pos, chunk;
	struct tarmap_writer *w;
	char		 err[300];
	int		 failed;
};

static la_ssize_t
feed_cb(struct archive *a, void *arg, const void **out)
{
	struct feed *f = arg;
	size_t n = f->tar->len - f->pos;

	(void)a;
	if (n > f->chunk)
		n = f->chunk;
	*out = f->tar->data + f->pos;
	if (n > 0 && tarmap_writer_feed(f->w, *out, n, f->err,
	    sizeof f->err) == -1) {
		f->failed = 1;
		return -1;
	}
	f->pos += n;
	return (la_ssize_t)n;
}

/*
 * What image-import does: unpack tar into dir/rootfs while feeding the
 * writer, naming each regular file; then the map in dir/map.  0 or -1.
 */
static int
unpack_mapped(const struct buf *tar, const char *dir, size_t chunk,
    uint64_t *verbatim, char *err, size_t errlen)
{
	struct archive *a = archive_read_new(), *d = archive_write_disk_new();
	struct archive_entry *e;
	struct feed f;
	char path[512], cwd[512];
	int mapfd, rc = -1, r;

	memset(&f, 0, sizeof f);
	f.tar = tar;
	f.chunk = chunk;
	snprintf(path, sizeof path, "%s/rootfs", dir);
	mkdir_p(path, 0755);
	snprintf(path, sizeof path, "%s/map", dir);
	mapfd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	f.w = tarmap_writer_new(mapfd);
	archive_read_support_format_tar(a);
	archive_write_disk_set_options(d, ARCHIVE_EXTRACT_PERM |
	    ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_OWNER);
	if (getcwd(cwd, sizeof cwd) == NULL)
		abort();
	snprintf(path, sizeof path, "%s/rootfs", dir);
	if (chdir(path) == -1 ||
	    archive_read_open(a, &f, NULL, feed_cb, NULL) != ARCHIVE_OK)
		goto out;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		if (archive_entry_filetype(e) == AE_IFREG &&
		    archive_entry_hardlink(e) == NULL &&
		    archive_entry_size(e) > 0 &&
		    archive_entry_sparse_count(e) == 0 &&
		    tarmap_writer_file(f.w, (uint64_t)
		    archive_read_header_position(a), (uint64_t)
		    archive_filter_bytes(a, 0), (uint64_t)archive_entry_size(e),
		    archive_entry_pathname(e), err, errlen) == -1)
			goto out;
		if (archive_read_extract2(a, e, d) < ARCHIVE_WARN) {
			snprintf(err, errlen, "extract: %s",
			    archive_error_string(a));
			goto out;
		}
	}
	if (r != ARCHIVE_EOF) {
		snprintf(err, errlen, "read: %s", f.failed ? f.err :
		    archive_error_string(a));
		goto out;
	}
	/* the padding after the end of the archive */
	{
		const void *p;

		while (feed_cb(a, &f, &p) > 0)
			;
	}
	if (tarmap_writer_finish(f.w, err, errlen) == -1)
		goto out;
	*verbatim = tarmap_writer_verbatim(f.w);
	rc = 0;
out:
	if (chdir(cwd) == -1)
		abort();
	tarmap_writer_free(f.w);
	close(mapfd);
	archive_write_free(d);
	archive_read_free(a);
	return rc;
}

struct opened {
	int		 mapfd, rootfd;
	struct tarmap	*m;
};

static int
open_map(const char *dir, struct opened *o, char *err, size_t errlen)
{
	char path[512];

	snprintf(path, sizeof path, "%s/map", dir);
	o->mapfd = open(path, O_RDONLY);
	snprintf(path, sizeof path, "%s/rootfs", dir);
	o->rootfd = open(path, O_PATH | O_DIRECTORY);
	o->m = tarmap_open(o->mapfd, o->rootfd, err, errlen);
	return o->m == NULL ? -1 : 0;
}

static void
close_map(struct opened *o)
{
	tarmap_close(o->m);
	close(o->mapfd);
	close(o->rootfd);
}

/* The whole tarball through the map equals tar. */
static int
reads_back(const char *dir, const struct buf *tar, char *err, size_t errlen)
{
	struct opened o;
	char *got;
	int same;

	if (open_map(dir, &o, err, errlen) == -1)
		return 0;
	got = malloc(tar->len + 1);
	same = tarmap_size(o.m) == tar->len &&
	    tarmap_read(o.m, 0, got, tar->len, err, errlen) == 0 &&
	    memcmp(got, tar->data, tar->len) == 0;
	free(got);
	close_map(&o);
	return same;
}

static uint64_t
regular_bytes(const struct buf *tar)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	uint64_t n = 0;

	archive_read_support_format_tar(a);
	archive_read_open_memory(a, tar->data, tar->len);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK)
		if (archive_entry_filetype(e) == AE_IFREG &&
		    archive_entry_hardlink(e) == NULL &&
		    archive_entry_sparse_count(e) == 0)
			n += (uint64_t)archive_entry_size(e);
	archive_read_free(a);
	return n;
}

static void
test_formats(void)
{
	static const struct {
		const char	*name;
		int		 format, sparse;
	} f[] = {
		{ "pax restricted", ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0 },
		{ "pax", ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE, 1 },
		{ "gnutar", ARCHIVE_FORMAT_TAR_GNUTAR, 0 },
		{ "ustar", ARCHIVE_FORMAT_TAR_USTAR, 0 },
	};
	static const size_t chunks[] = { 1, 7, 512, 4096, 1u << 20 };
	struct buf tar = BUF_INIT;
	char dir[400], err[400];
	uint64_t verb = 0, data;
	size_t i, j;

	for (i = 0; i < sizeof f / sizeof f[0]; i++) {
		make_tar(&tar, f[i].format, f[i].sparse);
		data = regular_bytes(&tar);
		for (j = 0; j < sizeof chunks / sizeof chunks[0]; j++) {
			snprintf(dir, sizeof dir, "%s/%zu.%zu", tmp, i, j);
			err[0] = '\0';
			if (!ok(unpack_mapped(&tar, dir, chunks[j], &verb, err,
			    sizeof err) == 0, "%s, fed %zu bytes at a time: "
			    "mapped", f[i].name, chunks[j])) {
				diag_note("%s", err);
				continue;
			}
			ok(reads_back(dir, &tar, err, sizeof err),
			    "%s, fed %zu at a time: reads back byte for byte",
			    f[i].name, chunks[j]);
			/* everything but regular files' data stays verbatim */
			is_int(verb, tar.len - data, "%s, %zu: withheld just "
			    "the regular files' data (%llu of %zu bytes)",
			    f[i].name, chunks[j], (unsigned long long)data,
			    tar.len);
		}
	}
	buf_release(&tar);
}

static void
test_random_reads(void)
{
	struct buf tar = BUF_INIT;
	struct opened o;
	char dir[400], err[400], *got;
	uint64_t verb, off;
	size_t n, i;
	int bad = 0;

	make_tar(&tar, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	snprintf(dir, sizeof dir, "%s/random", tmp);
	if (unpack_mapped(&tar, dir, 65536, &verb, err, sizeof err) == -1 ||
	    open_map(dir, &o, err, sizeof err) == -1) {
		ok(0, "random reads: %s", err);
		return;
	}
	got = malloc(tar.len);
	for (i = 0; i < 2000; i++) {
		off = next_rand() % tar.len;
		n = next_rand() % (tar.len - off < 70000 ? tar.len - off :
		    70000) + 1;
		if (off + n > tar.len)
			n = tar.len - off;
		if (tarmap_read(o.m, off, got, n, err, sizeof err) == -1 ||
		    memcmp(got, tar.data + off, n) != 0) {
			bad++;
			diag_note("read %zu at %llu: %s", n,
			    (unsigned long long)off, err);
			break;
		}
	}
	ok(bad == 0, "2000 reads at random offsets and lengths agree");
	ok(tarmap_read(o.m, tar.len - 1, got, 2, err, sizeof err) == -1 &&
	    strstr(err, "beyond") != NULL, "a read past the end is refused");
	free(got);
	close_map(&o);
	buf_release(&tar);
}

/*
 * tarmap_file_at: each regular file's data is found whole and in parts,
 * nothing else is (headers, a range that runs into the next header), and
 * whatever it names at random holds exactly the tarball's bytes there.
 */
static void
test_file_at(void)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct buf tar = BUF_INIT;
	struct opened o;
	char dir[400], err[400], path[800], *got;
	const char *p;
	uint64_t verb, dpos, size, foff, off, n;
	int bad = 0, files = 0, fd, i;

	make_tar(&tar, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	snprintf(dir, sizeof dir, "%s/fileat", tmp);
	if (unpack_mapped(&tar, dir, 4096, &verb, err, sizeof err) == -1 ||
	    open_map(dir, &o, err, sizeof err) == -1) {
		ok(0, "file_at: %s", err);
		return;
	}
	archive_read_support_format_tar(a);
	archive_read_open_memory(a, tar.data, tar.len);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		if (archive_entry_filetype(e) != AE_IFREG ||
		    archive_entry_hardlink(e) != NULL ||
		    archive_entry_size(e) == 0)
			continue;
		files++;
		dpos = (uint64_t)archive_filter_bytes(a, 0);
		size = (uint64_t)archive_entry_size(e);
		p = tarmap_file_at(o.m, dpos, size, &foff);
		if (p == NULL || strcmp(p, archive_entry_pathname(e)) != 0 ||
		    foff != 0)
			bad++;
		if (size > 1 && ((p = tarmap_file_at(o.m, dpos + 1, size - 1,
		    &foff)) == NULL || foff != 1))
			bad++;
		if (tarmap_file_at(o.m, dpos, size + 1, &foff) != NULL ||
		    tarmap_file_at(o.m, dpos - 1, 1, &foff) != NULL)
			bad++;
	}
	archive_read_free(a);
	ok(files >= 5 && bad == 0, "each of %d files' data is found whole and "
	    "in part, and nothing around it", files);
	bad = 0;
	got = malloc(70000);
	for (i = 0; i < 3000; i++) {
		off = next_rand() % (tar.len + 10);
		n = next_rand() % 70000;
		if ((p = tarmap_file_at(o.m, off, n, &foff)) == NULL)
			continue;
		snprintf(path, sizeof path, "%s/rootfs/%s", dir, p);
		if (n == 0 || off + n > tar.len || (fd = open(path,
		    O_RDONLY)) == -1) {
			bad++;
			continue;
		}
		if (pread(fd, got, (size_t)n, (off_t)foff) != (ssize_t)n ||
		    memcmp(got, tar.data + off, (size_t)n) != 0)
			bad++;
		close(fd);
	}
	ok(bad == 0, "3000 random ranges: what it names holds those bytes");
	ok(tarmap_file_at(o.m, tar.len, 1, &foff) == NULL &&
	    tarmap_file_at(o.m, 0, 0, &foff) == NULL,
	    "nothing past the end, no empty range");
	free(got);
	close_map(&o);
	buf_release(&tar);
}

static void
test_damage(void)
{
	struct buf tar = BUF_INIT, map = BUF_INIT;
	struct opened o;
	char dir[400], path[512], err[400], *got;
	uint64_t verb;
	int fd, r;

	make_tar(&tar, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	snprintf(dir, sizeof dir, "%s/damage", tmp);
	if (unpack_mapped(&tar, dir, 65536, &verb, err, sizeof err) == -1) {
		ok(0, "damage: %s", err);
		return;
	}
	snprintf(path, sizeof path, "%s/map", dir);
	buf_read_file(&map, path, 64u << 20);
	snprintf(path, sizeof path, "%s/rootfs/etc/big", dir);
	tarmap_file_size(path);
	snprintf(path, sizeof path, "%s/map", dir);
	is_int(tarmap_file_size(path), tar.len, "tarmap_file_size reads the "
	    "size from the trailer");

	/* a truncated map */
	fd = open(path, O_WRONLY | O_TRUNC);
	write_full(fd, map.data, map.len - 10);
	close(fd);
	err[0] = '\0';
	ok(open_map(dir, &o, err, sizeof err) == -1 &&
	    strstr(err, "damaged") != NULL, "a truncated map is refused (%s)",
	    err);
	close_map(&o);
	/* a record whose length runs past the tarball */
	fd = open(path, O_WRONLY | O_TRUNC);
	{
		char *p = memmem(map.data, map.len, "\nv ", 3);

		if (p != NULL)
			p[3] = '9';
	}
	write_full(fd, map.data, map.len);
	close(fd);
	ok(open_map(dir, &o, err, sizeof err) == -1, "a map whose table does "
	    "not add up is refused");
	close_map(&o);
	/* restore, then shorten a file of the rootfs */
	buf_reset(&map);
	snprintf(path, sizeof path, "%s/damage2", tmp);
	if (unpack_mapped(&tar, path, 65536, &verb, err, sizeof err) == -1) {
		ok(0, "damage2: %s", err);
		return;
	}
	snprintf(dir, sizeof dir, "%s/damage2/rootfs/etc/big", tmp);
	ok(truncate(dir, 1000) == 0, "shorten etc/big");
	if (open_map(path, &o, err, sizeof err) == -1) {
		ok(0, "open damage2: %s", err);
		return;
	}
	got = malloc(tar.len);
	r = tarmap_read(o.m, 0, got, tar.len, err, sizeof err);
	ok(r == -1 && strstr(err, "etc/big") != NULL &&
	    strstr(err, "shorter") != NULL, "a shortened rootfs file fails "
	    "the read, naming it (%s)", err);
	/* a missing one */
	snprintf(dir, sizeof dir, "%s/damage2/rootfs/etc/last", tmp);
	unlink(dir);
	r = tarmap_read(o.m, tar.len - 4096 - 2048, got, 4096 + 2048, err,
	    sizeof err);
	ok(r == -1 && strstr(err, "etc/last") != NULL, "a removed rootfs file "
	    "fails the read, naming it (%s)", err);
	free(got);
	close_map(&o);
	/* a symlink planted in place of a file is not followed */
	snprintf(dir, sizeof dir, "%s/damage2/rootfs/etc/one", tmp);
	unlink(dir);
	if (symlink("/etc/passwd", dir) == -1)
		abort();
	open_map(path, &o, err, sizeof err);
	got = malloc(tar.len);
	r = tarmap_read(o.m, 0, got, tar.len, err, sizeof err);
	ok(r == -1 && strstr(err, "etc/one") != NULL, "a symlink in place "
	    "of a rootfs file is not followed (%s)", err);
	free(got);
	close_map(&o);
	buf_release(&map);
	buf_release(&tar);
}

/*
 * A map damaged anywhere (a crash, a disk) is refused or reads back
 * something, never crashes the reader or reads outside its files: under
 * ASan in the sanitizer pass.  Flipped bytes in the verbatim part give
 * other bytes, which the sha256 of every consumer catches.
 */
static void
test_flips(void)
{
	struct buf tar = BUF_INIT, map = BUF_INIT;
	struct opened o;
	char dir[400], path[512], err[400], *got;
	uint64_t verb;
	size_t i, refused = 0, read_ok = 0, read_err = 0, pos;
	unsigned flip;
	int fd;

	make_tar(&tar, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	snprintf(dir, sizeof dir, "%s/flips", tmp);
	if (unpack_mapped(&tar, dir, 65536, &verb, err, sizeof err) == -1) {
		ok(0, "flips: %s", err);
		return;
	}
	snprintf(path, sizeof path, "%s/map", dir);
	buf_read_file(&map, path, 64u << 20);
	got = malloc(tar.len + 1);
	for (i = 0; i < 600; i++) {
		/* half in the table and trailer, where the structure is */
		pos = i % 2 ? (size_t)verb + next_rand() % (map.len - verb) :
		    next_rand() % map.len;
		flip = 1u << (next_rand() % 8);
		map.data[pos] ^= (char)flip;
		fd = open(path, O_WRONLY | O_TRUNC);
		write_full(fd, map.data, map.len);
		close(fd);
		if (open_map(dir, &o, err, sizeof err) == -1)
			refused++;
		else {
			if (tarmap_read(o.m, 0, got, tarmap_size(o.m) <
			    tar.len ? tarmap_size(o.m) : tar.len, err,
			    sizeof err) == 0)
				read_ok++;
			else
				read_err++;
			close_map(&o);
		}
		map.data[pos] ^= (char)flip;	/* one flip at a time */
	}
	diag_note("600 flips: %zu maps refused, %zu read, %zu read errors",
	    refused, read_ok, read_err);
	ok(refused > 0 && read_ok > 0 && refused + read_ok + read_err == 600,
	    "600 single bit flips: each refused or read, never a crash");
	free(got);
	buf_release(&map);
	buf_release(&tar);
}

static void
test_claims(void)
{
	struct buf tar = BUF_INIT;
	struct tarmap_writer *w;
	char err[400];
	int fd, r;

	make_tar(&tar, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, 0);
	fd = open("/dev/null", O_WRONLY);
	/* never claimed */
	w = tarmap_writer_new(fd);
	r = tarmap_writer_feed(w, tar.data, tar.len, err, sizeof err);
	err[0] = '\0';
	ok(r == 0 && tarmap_writer_finish(w, err, sizeof err) == -1 &&
	    strstr(err, "not unpacked as a regular file") != NULL,
	    "a withheld range nobody claims fails the map (%s)", err);
	tarmap_writer_free(w);
	/* claimed with the wrong data offset */
	{
		struct archive *a = archive_read_new();
		struct archive_entry *e;
		uint64_t hpos = 0, dpos = 0;

		archive_read_support_format_tar(a);
		archive_read_open_memory(a, tar.data, tar.len);
		while (archive_read_next_header(a, &e) == ARCHIVE_OK)
			if (strcmp(archive_entry_pathname(e), "etc/one") == 0) {
				hpos = (uint64_t)archive_read_header_position(a);
				dpos = (uint64_t)archive_filter_bytes(a, 0);
				break;
			}
		archive_read_free(a);
		w = tarmap_writer_new(fd);
		tarmap_writer_feed(w, tar.data, tar.len, err, sizeof err);
		ok(tarmap_writer_file(w, hpos, dpos, 1, "etc/one", err,
		    sizeof err) == 0, "the right claim of etc/one is taken");
		tarmap_writer_free(w);
		w = tarmap_writer_new(fd);
		tarmap_writer_feed(w, tar.data, tar.len, err, sizeof err);
		r = tarmap_writer_file(w, hpos, dpos + 512, 1, "etc/one", err,
		    sizeof err);
		ok(hpos > 0 && r == -1 && strstr(err, "the walker found") !=
		    NULL, "a claim with another data offset fails (%s)", err);
		tarmap_writer_free(w);
	}
	/* an entry skipped by the unpacker: later claims see it unclaimed */
	w = tarmap_writer_new(fd);
	tarmap_writer_feed(w, tar.data, tar.len, err, sizeof err);
	r = tarmap_writer_file(w, (uint64_t)tar.len - 2048, 0, 1,
	    "etc/last", err, sizeof err);
	ok(r == -1 && strstr(err, "not a regular file's") != NULL,
	    "a claim that skips withheld ranges fails (%s)", err);
	tarmap_writer_free(w);
	close(fd);
	buf_release(&tar);
}

int
main(void)
{
	snprintf(tmp, sizeof tmp, "%s/test-tarmap.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmp) == NULL)
		return 1;
	test_formats();
	test_random_reads();
	test_file_at();
	test_damage();
	test_flips();
	test_claims();
	if (getenv("VZ_TEST_KEEP") == NULL)
		remove_tree(tmp);
	return done_testing();
}

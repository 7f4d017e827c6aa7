/*
 * randfd.h: the helpers the VCDIFF unit tests share: a repeatable
 * pseudo-random stream (xorshift64; seed it by assigning rng) and a
 * regular file holding a buffer, as the encoder wants (it maps files).
 */
#ifndef VZ_TEST_RANDFD_H
#define VZ_TEST_RANDFD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static void
fill_random(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* A regular file holding p[0..n), at offset 0. */
static int
mem_fd(const void *p, size_t n)
{
	FILE *fp = tmpfile();
	int fd;

	if (fp == NULL)
		abort();
	fd = dup(fileno(fp));
	fclose(fp);
	if (n > 0 && write(fd, p, n) != (ssize_t)n)
		abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

#endif

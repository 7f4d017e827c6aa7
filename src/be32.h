/*
 * be32: 32-bit big-endian integers in byte buffers, for the frames of
 * `vzexec session` that both the node (session.c) and the master
 * (sshchan.c) read and write.  Header only: vzexec is built apart.
 */
#ifndef VZ_BE32_H
#define VZ_BE32_H

#include <stdint.h>

static inline uint32_t
be32_get(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline void
be32_put(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

#endif

/*
 * vcdiff-int: what the VCDIFF encoder and decoder share and nobody else
 * needs: the default code table of RFC 3284 section 5.6, the address cache
 * of section 5.1 and the format's constants.
 */
#ifndef VZ_VCDIFF_INT_H
#define VZ_VCDIFF_INT_H

#include <stdint.h>

#define VCD_MAGIC0	0xd6
#define VCD_MAGIC1	0xc3
#define VCD_MAGIC2	0xc4

/* Hdr_Indicator */
#define VCD_SECONDARY	0x01	/* xdelta3's name for VCD_DECOMPRESS */
#define VCD_CODETABLE	0x02
#define VCD_APPHEADER	0x04	/* xdelta3 extension */

/* Win_Indicator */
#define VCD_SOURCE	0x01
#define VCD_TARGET	0x02
#define VCD_ADLER32	0x04	/* xdelta3 extension */

/* Delta_Indicator */
#define VCD_DATACOMP	0x01
#define VCD_INSTCOMP	0x02
#define VCD_ADDRCOMP	0x04

enum { VCD_NOOP = 0, VCD_ADD = 1, VCD_RUN = 2, VCD_COPY = 3 };

#define VCD_NEAR	4
#define VCD_SAME	3
#define VCD_MODES	(2 + VCD_NEAR + VCD_SAME)
#define VCD_MODE_SELF	0
#define VCD_MODE_HERE	1

struct vcd_inst {
	uint8_t	type1, size1, mode1;
	uint8_t	type2, size2, mode2;
};

/* The default code table, built once (idempotent, no locking needed). */
const struct vcd_inst	*vcd_code_table(void);

struct vcd_cache {
	uint64_t	near[VCD_NEAR];
	uint64_t	same[VCD_SAME * 256];
	unsigned	next;
};

static inline void
vcd_cache_reset(struct vcd_cache *c)
{
	unsigned i;

	for (i = 0; i < VCD_NEAR; i++)
		c->near[i] = 0;
	for (i = 0; i < VCD_SAME * 256; i++)
		c->same[i] = 0;
	c->next = 0;
}

static inline void
vcd_cache_update(struct vcd_cache *c, uint64_t addr)
{
	c->near[c->next] = addr;
	c->next = (c->next + 1) % VCD_NEAR;
	c->same[addr % (VCD_SAME * 256)] = addr;
}

#endif

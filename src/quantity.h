/*
 * quantity: Kubernetes resource quantities, as manifests write them in
 * resources.requests and resources.limits.  A quantity is a decimal number
 * (an optional fraction, an optional exponent 1e3) with at most one suffix:
 * binary Ki Mi Gi Ti Pi Ei (powers of 1024), decimal k M G T P E (powers of
 * 1000), or m (thousandths; CPU only).  Results are rounded up to the unit,
 * as Kubernetes does.  Negative values, unknown suffixes, trailing garbage
 * and values that do not fit in int64 are rejected.
 */
#ifndef VZ_QUANTITY_H
#define VZ_QUANTITY_H

#include <stdint.h>

/* Memory in bytes: "64Mi", "1G", "512M", "1e3", "1048576".  0 ok, -1 bad. */
int	quantity_parse_memory(const char *s, int64_t *bytes);
/* CPU in millicores: "250m", "0.5", "2".  0 ok, -1 bad. */
int	quantity_parse_cpu(const char *s, int64_t *millicores);

#endif

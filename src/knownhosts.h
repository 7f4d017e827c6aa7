/*
 * knownhosts: OpenSSH-format known_hosts files (the master keeps one in
 * .vzmaster/known_hosts) and SSH key fingerprints.  Reads plain, wildcard,
 * negated, [host]:port and hashed (|1|salt|hash) entries, honours @revoked
 * and skips @cert-authority; writes plain `host` or `[host]:port` lines, so
 * `ssh-keygen -F HOST -f FILE` finds what we record.
 */
#ifndef VZ_KNOWNHOSTS_H
#define VZ_KNOWNHOSTS_H

#include <stddef.h>

enum kh_status {
	KH_NOTFOUND,	/* no entry names this host */
	KH_MATCH,	/* an entry names the host with this very key */
	KH_MISMATCH,	/* entries name the host, none with this key */
	KH_REVOKED	/* the key is marked @revoked */
};

struct kh_result {
	enum kh_status	 status;
	int		 line;		/* MATCH/MISMATCH/REVOKED: 1-based line */
	char		 known_fp[64];	/* MISMATCH: fingerprint at that line */
	char		 known_label[16];	/* MISMATCH: e.g. "ED25519" */
};

/*
 * Look the host (port 22: "host", else "[host]:port") up in path.  A missing
 * file is KH_NOTFOUND.  On MISMATCH the line reported is the first entry for
 * the host with the same key type, else the first entry for the host.
 * Returns 0, or -1 with err set when the file cannot be read.
 */
int	kh_check(const char *path, const char *host, int port,
	    const unsigned char *blob, size_t len, struct kh_result *,
	    char *err, size_t errlen);

/* Append a plain entry (creates the file 0600 and its folder 0700). */
int	kh_add(const char *path, const char *host, int port,
	    const unsigned char *blob, size_t len, char *err, size_t errlen);

/* Remove every plain or hashed entry that names the host; *removed = count. */
int	kh_remove(const char *path, const char *host, int port, int *removed,
	    char *err, size_t errlen);

/*
 * The key algorithms already known for the host, most preferred first, as
 * a comma list for libssh2_session_method_pref (empty when none).
 */
void	kh_known_algs(const char *path, const char *host, int port,
	    char *out, size_t outlen);

/* 1 when host (already in "[host]:port" form if needed) matches the
 * comma-separated pattern list of a known_hosts line, else 0. */
int	kh_match_hostfield(const char *field, size_t fieldlen, const char *name);
/* OpenSSH wildcard match, '*' and '?', case-insensitive. */
int	kh_match_pattern(const char *s, const char *pattern, size_t patlen);

/* "SHA256:<base64 without padding>" of a key blob, as ssh-keygen -l. */
void	kh_fingerprint(const unsigned char *blob, size_t len, char *out,
	    size_t outlen);
/* The key type string inside the blob ("ssh-ed25519"), into out. */
int	kh_key_type(const unsigned char *blob, size_t len, char *out,
	    size_t outlen);
/* "ED25519", "ECDSA", "RSA", "DSA" or "UNKNOWN", as ssh-keygen -l shows. */
const char *kh_key_label(const unsigned char *blob, size_t len);
/* Size in bits as ssh-keygen -l shows (RSA modulus, EC curve), 0 unknown. */
int	kh_key_bits(const unsigned char *blob, size_t len);

/* Base64 helpers (RFC 4648, with padding on output); decode returns the
 * decoded length or -1. Caller must free *out. */
char	*kh_base64_encode(const unsigned char *, size_t);
long	 kh_base64_decode(const char *, size_t, unsigned char **out);

#endif

/* identity.h — who is calling: uid → user name, primary group and supplementary groups through
 * NSS (getpwuid_r, getgrouplist), and the PAM account check of that user; both cached per uid,
 * because every FUSE request that reaches the daemon asks and a PAM check costs milliseconds.
 *
 * Cache rules (docs/security.md): a user found is kept for the positive lifetime, a user
 * that does not exist for the negative lifetime; transient NSS failures (EINTR, EIO, EMFILE,
 * ENFILE, ENOMEM, EAGAIN — an LDAP server away) are never cached, so the next request asks
 * again. PAM answers are cached for the positive lifetime whatever they were. Thread-safe:
 * one mutex around the table; NSS and PAM calls run outside it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "errbuf.h"

#define IDENTITY_NAME_MAX 256
#define IDENTITY_GROUPS_MAX 65536

struct identity {
	uid_t uid;
	gid_t gid;
	char name[IDENTITY_NAME_MAX];
	gid_t *groups; /* primary first, then supplementary; never NULL when n_groups > 0 */
	int n_groups;
};

/* Look one uid up through NSS, uncached. Returns 0, -ENOENT (no such user), or a negative
 * errno for a transient failure. */
int identity_lookup(uid_t uid, struct identity *ret, struct errbuf *err);
void identity_done(struct identity *id);
bool identity_has_gid(const struct identity *id, gid_t gid);
/* Is the user a member of the group called name (by gid, so both primary and supplementary
 * membership count)? Group names are resolved through NSS; an unknown group is no. */
bool identity_in_group(const struct identity *id, const char *name);

/* PAM account management for user, service "pcapfs" (account stack only, no authentication),
 * PAM_TTY "pcapfs", PAM_RUSER the user. confdir: a directory of PAM service files instead of
 * /etc/pam.d (tests), or NULL. Returns 0 when PAM says PAM_SUCCESS, -EACCES with PAM's reason
 * otherwise, -EIO if PAM could not be started. */
int identity_pam_account(const char *service, const char *confdir, const char *user,
			 struct errbuf *err);

struct idcache;
struct idcache_config {
	int64_t positive_ns; /* default 60 s */
	int64_t negative_ns; /* default 10 s */
	const char *pam_service; /* NULL: no PAM check; default "pcapfs" */
	const char *pam_confdir; /* NULL: /etc/pam.d */
};
struct idcache *idcache_new(const struct idcache_config *c);
void idcache_free(struct idcache *c);

/* The identity of uid (a copy the caller frees with identity_done) and whether PAM allows the
 * account (*ret_pam_ok; with its reason in err when not). Returns 0, -ENOENT for an unknown
 * uid, or a transient negative errno. */
int idcache_get(struct idcache *c, uid_t uid, struct identity *ret, bool *ret_pam_ok,
		struct errbuf *err);
/* Forget everything (SIGHUP, tests). */
void idcache_flush(struct idcache *c);

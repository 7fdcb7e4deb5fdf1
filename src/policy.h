/* policy.h — who may read which device (docs/security.md).
 *
 * Rules, first match wins:
 *   1. uid 0 reads everything;
 *   2. an account that PAM refuses (service pcapfs, account stack) reads nothing;
 *   3. members of the admin group read every device;
 *   4. a device's owner reads it: the user named as owner, or members of the owning
 *      group ("@group");
 *   5. a grant reads it: principal user:NAME (the caller) or group:NAME (a group of the
 *      caller) × target the device's name, tag:TAG (a tag of the device) or *;
 *   6. otherwise: denied (default deny).
 * The decision is made from the caller's identity as NSS gives it (identity.h) and the
 * catalogue as it is at the time of the request, so a revoked grant stops the next access. */
#pragma once

#include <stdbool.h>

#include "catalog.h"
#include "identity.h"

#define POLICY_GROUP_MAX 64
#define POLICY_REASON_MAX 256

enum policy_role {
	POLICY_ROLE_USER = 0,
	POLICY_ROLE_AUDITOR = 1,
	POLICY_ROLE_ADMIN = 2,
	POLICY_N_ROLES,
};
/* "user", "auditor", "admin"; policy_role_parse: -EINVAL for anything else. */
const char *policy_role_name(enum policy_role r);
int policy_role_parse(const char *s, enum policy_role *ret);

struct policy_config {
	char admin_group[POLICY_GROUP_MAX];   /* default "pcapfs-admin" */
	char auditor_group[POLICY_GROUP_MAX]; /* default "pcapfs-audit" */
	struct role_limits limits[POLICY_N_ROLES]; /* default: none */
};
void policy_config_default(struct policy_config *pc);
/* Root and members of the admin group are admins; members of the auditor group auditors. */
enum policy_role policy_role(const struct policy_config *pc, const struct identity *id);

struct policy_decision {
	bool allow;
	char reason[POLICY_REASON_MAX]; /* "grant group:video on tag:camera", "default deny", ... */
};

/* May a caller of this role read the window [start_ns, end_ns) at time now_ns, by the
 * role's limits (catalog_role_limits_load)? Root (uid 0) is never limited. Denied: wider
 * than max_width_ns, or starting before now_ns - max_lookback_ns. */
void policy_window(const struct policy_config *pc, const struct identity *id,
		   int64_t start_ns, int64_t end_ns, int64_t now_ns, struct policy_decision *ret);

/* May the caller read the audit log (pcapfsctl audit's rows, the mount's /audit)? uid 0,
 * admins and auditors, unless PAM refuses the account. */
void policy_audit_log(const struct policy_config *pc, const struct identity *id, bool pam_ok,
		      struct policy_decision *ret);

/* May the caller read device d? grants: every grant of the catalogue. */
void policy_device(const struct policy_config *pc, const struct identity *id, bool pam_ok,
		   const struct device *d, const struct grant *grants, size_t n_grants,
		   struct policy_decision *ret);

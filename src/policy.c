/* policy.c — the access decision (rules in policy.h). Pure: no I/O but NSS group lookups. */
#include <inttypes.h>
#include <stdio.h>

#include "policy.h"

void policy_config_default(struct policy_config *pc)
{
	*pc = (struct policy_config){0};
	snprintf(pc->admin_group, sizeof(pc->admin_group), "pcapfs-admin");
	snprintf(pc->auditor_group, sizeof(pc->auditor_group), "pcapfs-audit");
}

_Static_assert(POLICY_N_ROLES == ROLE_LIMITS_ROLES, "one limit set per role");

static const char *const role_names[POLICY_N_ROLES] = {"user", "auditor", "admin"};

const char *policy_role_name(enum policy_role r)
{
	return (unsigned)r < POLICY_N_ROLES ? role_names[r] : "?";
}

int policy_role_parse(const char *s, enum policy_role *ret)
{
	for (int i = 0; i < POLICY_N_ROLES; i++)
		if (strcmp(s, role_names[i]) == 0) {
			*ret = (enum policy_role)i;
			return 0;
		}
	return -EINVAL;
}

static void format_span(int64_t ns, char *buf, size_t size)
{
	int64_t s = ns / NS_PER_SEC;
	if (ns % NS_PER_SEC)
		snprintf(buf, size, "%.3f s", (double)ns / 1e9);
	else if (s % 86400 == 0)
		snprintf(buf, size, "%" PRId64 "d", s / 86400);
	else if (s % 3600 == 0)
		snprintf(buf, size, "%" PRId64 "h", s / 3600);
	else if (s % 60 == 0)
		snprintf(buf, size, "%" PRId64 "m", s / 60);
	else
		snprintf(buf, size, "%" PRId64 "s", s);
}

void policy_window(const struct policy_config *pc, const struct identity *id,
		   int64_t start_ns, int64_t end_ns, int64_t now_ns, struct policy_decision *ret)
{
	*ret = (struct policy_decision){.allow = true};
	if (id->uid == 0)
		return;
	enum policy_role role = policy_role(pc, id);
	const struct role_limits *l = &pc->limits[role];
	char span[32];
	if (l->max_width_ns > 0 && end_ns - start_ns > l->max_width_ns) {
		format_span(l->max_width_ns, span, sizeof(span));
		ret->allow = false;
		snprintf(ret->reason, sizeof(ret->reason), "window wider than %s, the limit of role %s",
			 span, role_names[role]);
		return;
	}
	if (l->max_lookback_ns > 0 && start_ns < now_ns - l->max_lookback_ns) {
		format_span(l->max_lookback_ns, span, sizeof(span));
		ret->allow = false;
		snprintf(ret->reason, sizeof(ret->reason),
			 "window starts more than %s ago, the look-back limit of role %s", span,
			 role_names[role]);
	}
}

enum policy_role policy_role(const struct policy_config *pc, const struct identity *id)
{
	if (id->uid == 0 || (pc->admin_group[0] && identity_in_group(id, pc->admin_group)))
		return POLICY_ROLE_ADMIN;
	if (pc->auditor_group[0] && identity_in_group(id, pc->auditor_group))
		return POLICY_ROLE_AUDITOR;
	return POLICY_ROLE_USER;
}

void policy_audit_log(const struct policy_config *pc, const struct identity *id, bool pam_ok,
		      struct policy_decision *ret)
{
	*ret = (struct policy_decision){.allow = false};
	if (id->uid == 0) {
		ret->allow = true;
		snprintf(ret->reason, sizeof(ret->reason), "uid 0");
	} else if (!pam_ok) {
		snprintf(ret->reason, sizeof(ret->reason), "PAM refuses the account");
	} else {
		enum policy_role r = policy_role(pc, id);
		ret->allow = r == POLICY_ROLE_ADMIN || r == POLICY_ROLE_AUDITOR;
		if (ret->allow)
			snprintf(ret->reason, sizeof(ret->reason), "role %s (group %s)", role_names[r],
				 r == POLICY_ROLE_ADMIN ? pc->admin_group : pc->auditor_group);
		else
			snprintf(ret->reason, sizeof(ret->reason), "neither administrator nor auditor");
	}
}

static bool principal_matches(const struct identity *id, const char *principal)
{
	if (strncmp(principal, "user:", 5) == 0)
		return strcmp(principal + 5, id->name) == 0;
	if (strncmp(principal, "group:", 6) == 0)
		return identity_in_group(id, principal + 6);
	return false;
}

static bool target_matches(const struct device *d, const char *target)
{
	if (strcmp(target, "*") == 0)
		return true;
	if (strncmp(target, "tag:", 4) == 0) {
		for (size_t i = 0; i < d->n_tags; i++)
			if (strcmp(d->tags[i], target + 4) == 0)
				return true;
		return false;
	}
	return strcmp(target, d->name) == 0;
}

void policy_device(const struct policy_config *pc, const struct identity *id, bool pam_ok,
		   const struct device *d, const struct grant *grants, size_t n_grants,
		   struct policy_decision *ret)
{
	*ret = (struct policy_decision){0};
	if (id->uid == 0) {
		ret->allow = true;
		snprintf(ret->reason, sizeof(ret->reason), "root");
		return;
	}
	if (!pam_ok) {
		snprintf(ret->reason, sizeof(ret->reason), "PAM refuses the account");
		return;
	}
	if (pc->admin_group[0] && identity_in_group(id, pc->admin_group)) {
		ret->allow = true;
		snprintf(ret->reason, sizeof(ret->reason), "admin (group %s)", pc->admin_group);
		return;
	}
	if (d->owner[0] == '@' ? identity_in_group(id, d->owner + 1)
			       : d->owner[0] && strcmp(d->owner, id->name) == 0) {
		ret->allow = true;
		snprintf(ret->reason, sizeof(ret->reason), "owner %s", d->owner);
		return;
	}
	for (size_t i = 0; i < n_grants; i++)
		if (target_matches(d, grants[i].target) && principal_matches(id, grants[i].principal)) {
			ret->allow = true;
			snprintf(ret->reason, sizeof(ret->reason), "grant %s on %s", grants[i].principal,
				 grants[i].target);
			return;
		}
	snprintf(ret->reason, sizeof(ret->reason), "no owner, admin or grant rule matches (default deny)");
}

/* policy.c — the access decision (rules in policy.h). Pure: no I/O but NSS group lookups. */
#include <stdio.h>

#include "policy.h"

void policy_config_default(struct policy_config *pc)
{
	*pc = (struct policy_config){0};
	snprintf(pc->admin_group, sizeof(pc->admin_group), "pcapfs-admin");
	snprintf(pc->auditor_group, sizeof(pc->auditor_group), "pcapfs-audit");
}

enum policy_role policy_role(const struct policy_config *pc, const struct identity *id)
{
	if (id->uid == 0 || (pc->admin_group[0] && identity_in_group(id, pc->admin_group)))
		return POLICY_ROLE_ADMIN;
	if (pc->auditor_group[0] && identity_in_group(id, pc->auditor_group))
		return POLICY_ROLE_AUDITOR;
	return POLICY_ROLE_USER;
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

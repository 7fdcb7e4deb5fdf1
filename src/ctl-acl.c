/* ctl-acl.c — pcapfsctl grant, revoke, acl list and explain: the access policy (policy.h). */
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <string.h>

#include "ctl.h"
#include "policy.h"
#include "window.h"

static const char grant_help[] =
	"Usage: pcapfsctl [--spool DIR] grant PRINCIPAL TARGET\n"
	"       pcapfsctl [--spool DIR] revoke PRINCIPAL TARGET\n"
	"       pcapfsctl [--spool DIR] [--json] acl list [--device NAME | --user NAME]\n"
	"       pcapfsctl [--spool DIR] explain --uid UID|USER PATH|DEVICE\n"
	"       pcapfsctl [--spool DIR] [--json] limits\n"
	"       pcapfsctl [--spool DIR] limits set ROLE [--max-width DURATION|none]\n"
	"                 [--max-lookback DURATION|none]\n"
	"\n"
	"Who may read a device's traffic, first rule that matches wins:\n"
	"  root; nobody whose account PAM refuses (service pcapfs); members of the admin group\n"
	"  (pcapfs-admin); the device's owner (a user, or members of an @group); holders of a\n"
	"  grant; nobody else.\n"
	"\n"
	"PRINCIPAL  user:NAME or group:NAME\n"
	"TARGET     a device name, tag:TAG (every device with the tag) or * (every device)\n"
	"\n"
	"A grant or a revocation takes effect at the next access, without a remount.\n"
	"acl list shows grants and owners, all of them or those that concern one device or one\n"
	"user (with the user's groups). explain says which rule allows or denies a user reading\n"
	"a path of the filesystem (/pcap/DEVICE/WINDOW.pcap, /pcap/DEVICE, /audit) or a device,\n"
	"with the default admin and auditor groups, as the mount would answer it; it\n"
	"exits 0 when the access is allowed and 1 when it is denied.\n"
	"\n"
	"Window limits per role (ROLE: user, auditor or admin; root has none). A caller is an\n"
	"admin (admin group), else an auditor (auditor group), else a user; owners and grant\n"
	"holders are users. --max-width: no window longer than DURATION; --max-lookback: no\n"
	"window that starts more than DURATION before now. 'none' removes a limit. A window\n"
	"beyond a limit is refused with EACCES (and audited); listings show only the hourly\n"
	"files the caller may open. Limits take effect at the next access, without a remount.\n"
	"DURATION: as in 'pcapfsctl --help' (90m, 1h, 30d); limits are whole seconds, at least 1 s.\n";

static int change(struct ctl *c, bool add, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(grant_help, stdout);
		return 0;
	}
	if (argc != 3)
		return ctl_usage(add ? "grant" : "revoke", "expected PRINCIPAL and TARGET");
	struct errbuf err = {{0}};
	if (grant_check(argv[1], argv[2], &err) < 0)
		return ctl_usage(add ? "grant" : "revoke", "%s", err.msg);
	struct spool *sp;
	if (ctl_open_spool(c, SPOOL_NO_RECOVER, &sp) < 0)
		return 1;
	int e = add ? catalog_grant_add(sp->cat, argv[1], argv[2], &err)
		    : catalog_grant_remove(sp->cat, argv[1], argv[2], &err);
	spool_close(sp);
	if (e < 0)
		return ctl_fail("%s", err.msg[0] ? err.msg : strerror(-e));
	if (add)
		ctl_warn_unknown_principal(c, argv[1]);
	return 0;
}

int cmd_grant(struct ctl *c, int argc, char **argv) { return change(c, true, argc, argv); }
int cmd_revoke(struct ctl *c, int argc, char **argv) { return change(c, false, argc, argv); }

struct owner_ctx {
	struct table *t;
	const char *device;
	const struct identity *user;
};

static int owner_row(const struct device *d, void *userdata)
{
	struct owner_ctx *o = userdata;
	if (!d->owner[0] || (o->device && strcmp(o->device, d->name) != 0))
		return 0;
	if (o->user && (d->owner[0] == '@' ? !identity_in_group(o->user, d->owner + 1)
					   : strcmp(d->owner, o->user->name) != 0))
		return 0;
	char principal[OWNER_MAX + 8];
	snprintf(principal, sizeof(principal), "%s:%s", d->owner[0] == '@' ? "group" : "user",
		 d->owner[0] == '@' ? d->owner + 1 : d->owner);
	const char *cells[] = {principal, d->name, "owner", "-"};
	return table_add(o->t, cells, NULL);
}

int cmd_acl(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"device", required_argument, NULL, 'd'},
		{"user", required_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	if (argc < 2 || strcmp(argv[1], "list") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
			fputs(grant_help, stdout);
			return 0;
		}
		return ctl_usage("acl", "expected 'acl list'");
	}
	const char *device = NULL, *user = NULL;
	int o;
	optind = 0;
	while ((o = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'd':
			device = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'h':
			fputs(grant_help, stdout);
			return 0;
		default:
			return ctl_bad_option("acl");
		}
	}
	if (device && user)
		return ctl_usage("acl", "--device and --user exclude each other");
	struct errbuf err = {{0}};
	struct identity id = {0};
	if (user) {
		struct passwd *pw = getpwnam(user);
		if (!pw)
			return ctl_fail("no user named %s", user);
		if (identity_lookup(pw->pw_uid, &id, &err) < 0)
			return ctl_fail("%s", err.msg);
	}
	struct spool *sp;
	if (ctl_open_spool(c, SPOOL_RDONLY, &sp) < 0) {
		identity_done(&id);
		return 1;
	}
	struct device d = {0};
	int e = device ? catalog_device_get(sp->cat, device, &d, &err) : 0;
	struct grant *grants = NULL;
	size_t n_grants = 0;
	if (e == 0)
		e = catalog_grants_load(sp->cat, &grants, &n_grants, &err);
	static const char *cols[] = {"principal", "target", "kind", "since"};
	struct table *t = table_new(cols, ELEMENTSOF(cols));
	for (size_t i = 0; e == 0 && i < n_grants; i++) {
		const struct grant *g = &grants[i];
		if (device) {
			bool hit = strcmp(g->target, "*") == 0 || strcmp(g->target, d.name) == 0;
			for (size_t k = 0; !hit && k < d.n_tags; k++)
				hit = strncmp(g->target, "tag:", 4) == 0 && strcmp(g->target + 4, d.tags[k]) == 0;
			if (!hit)
				continue;
		}
		if (user) {
			bool hit = strncmp(g->principal, "user:", 5) == 0
					   ? strcmp(g->principal + 5, id.name) == 0
					   : identity_in_group(&id, g->principal + 6);
			if (!hit)
				continue;
		}
		char since[48];
		fmt_time(g->created_ns, since, sizeof(since));
		const char *cells[] = {g->principal, g->target, "grant", since};
		e = table_add(t, cells, NULL);
	}
	struct owner_ctx oc = {.t = t, .device = device, .user = user ? &id : NULL};
	if (e == 0)
		e = catalog_device_foreach(sp->cat, owner_row, &oc, &err);
	if (e == 0)
		table_print(t, stdout, c->json);
	table_free(t);
	free(grants);
	device_done(&d);
	identity_done(&id);
	spool_close(sp);
	return e < 0 ? ctl_fail("%s", err.msg[0] ? err.msg : strerror(-e)) : 0;
}

/* "/pcap/DEV/WINDOW.pcap", "pcap/DEV", "/pcap/DEV/" or "DEV" -> DEV. */
static int device_of_path(const char *path, char *buf, size_t size)
{
	const char *p = path;
	while (*p == '/')
		p++;
	if (strncmp(p, "pcap/", 5) == 0)
		p += 5;
	size_t n = strcspn(p, "/");
	if (n == 0 || n >= size)
		return -EINVAL;
	memcpy(buf, p, n);
	buf[n] = 0;
	return 0;
}

/* The decision on device dev (and window win, when given) for id, as the mount makes it:
 * grants and owners, role limits, the spool's widest window. -ESRCH when the spool could
 * not be opened (said already). */
static int explain_device(struct ctl *c, const char *dev, const struct window *win,
			  const struct identity *id, bool pam_ok, struct policy_config *pc,
			  struct policy_decision *pd, struct errbuf *err)
{
	struct spool *sp;
	if (ctl_open_spool(c, SPOOL_RDONLY, &sp) < 0)
		return -ESRCH;
	struct device d = {0};
	struct grant *grants = NULL;
	size_t n_grants = 0;
	int e = catalog_device_get(sp->cat, dev, &d, err);
	if (e == 0)
		e = catalog_grants_load(sp->cat, &grants, &n_grants, err);
	if (e == 0)
		e = catalog_role_limits_load(sp->cat, pc->limits, err);
	if (e == 0)
		policy_device(pc, id, pam_ok, &d, grants, n_grants, pd);
	if (e == 0 && pd->allow && win) {
		struct policy_decision wd;
		policy_window(pc, id, win->start_ns, win->end_ns, now_ns(), &wd);
		if (!wd.allow)
			*pd = wd;
	}
	/* Wider than the spool's maximum is EFBIG for everyone. */
	if (e == 0 && pd->allow && win && win->end_ns - win->start_ns > sp->cfg.max_window_ns) {
		pd->allow = false;
		snprintf(pd->reason, sizeof(pd->reason), "the window is wider than the spool's maximum "
			 "of %" PRId64 " s (EFBIG)", sp->cfg.max_window_ns / NS_PER_SEC);
	}
	spool_close(sp);
	free(grants);
	device_done(&d);
	return e;
}

int cmd_explain(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"uid", required_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *who = NULL;
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			who = optarg;
			break;
		case 'h':
			fputs(grant_help, stdout);
			return 0;
		default:
			return ctl_bad_option("explain");
		}
	}
	if (!who || argc - optind != 1)
		return ctl_usage("explain", "expected --uid UID|USER and one PATH or DEVICE");
	char *end;
	uid_t uid;
	long v = strtol(who, &end, 10);
	if (*who && !*end && v >= 0) {
		uid = (uid_t)v;
	} else {
		struct passwd *pw = getpwnam(who);
		if (!pw)
			return ctl_fail("no user named %s", who);
		uid = pw->pw_uid;
	}
	/* /audit and its day files: admins and auditors (policy_audit_log); any other path or
	 * name is a device's, or a window file of one, also checked against the role limits. */
	const char *rel = argv[optind] + strspn(argv[optind], "/");
	bool audit = strncmp(rel, "audit", 5) == 0 && (rel[5] == 0 || rel[5] == '/');
	char dev[DEVICE_NAME_MAX + 1];
	struct window win;
	bool has_win = false;
	if (!audit) {
		if (device_of_path(argv[optind], dev, sizeof(dev)) < 0)
			return ctl_usage("explain", "'%s' names no device", argv[optind]);
		if (strncmp(rel, "pcap/", 5) == 0)
			rel += 5;
		const char *slash = strchr(rel, '/');
		if (slash && slash[1]) {
			struct errbuf werr = {{0}};
			if (window_parse(slash + 1, true, INT64_MAX, &win, &werr) < 0)
				return ctl_usage("explain", "%s: %s", slash + 1, werr.msg);
			has_win = true;
		}
	}

	struct errbuf err = {{0}};
	struct identity id;
	int e = identity_lookup(uid, &id, &err);
	if (e < 0)
		return ctl_fail("%s", err.msg);
	struct errbuf perr = {{0}};
	bool pam_ok = uid == 0 || identity_pam_account("pcapfs", NULL, id.name, &perr) == 0;
	struct policy_config pc;
	policy_config_default(&pc);
	struct policy_decision pd = {0};
	if (audit)
		policy_audit_log(&pc, &id, pam_ok, &pd);
	else
		e = explain_device(c, dev, has_win ? &win : NULL, &id, pam_ok, &pc, &pd, &err);
	if (e < 0) {
		identity_done(&id);
		return e == -ESRCH ? 1 : ctl_fail("%s", err.msg); /* -ESRCH: the spool said why */
	}
	if (c->json) {
		printf("{\"uid\": %u, \"user\": ", (unsigned)uid);
		json_string(stdout, id.name);
		printf(", \"path\": ");
		json_string(stdout, argv[optind]);
		printf(", \"allowed\": %s, \"reason\": ", pd.allow ? "true" : "false");
		json_string(stdout, pd.reason);
		printf(", \"pam\": ");
		json_string(stdout, pam_ok ? "ok" : perr.msg);
		printf("}\n");
	} else {
		printf("uid %u (%s) %s %s: %s%s%s\n", (unsigned)uid, id.name,
		       pd.allow ? "may read" : "may not read", argv[optind], pd.reason,
		       !pam_ok ? " — " : "", !pam_ok ? perr.msg : "");
	}
	identity_done(&id);
	return pd.allow ? 0 : 1;
}

static void format_limit(int64_t ns, char *buf, size_t size)
{
	if (ns <= 0)
		snprintf(buf, size, "none");
	else if (ns % (86400 * NS_PER_SEC) == 0)
		snprintf(buf, size, "%" PRId64 "d", ns / (86400 * NS_PER_SEC));
	else if (ns % (3600 * NS_PER_SEC) == 0)
		snprintf(buf, size, "%" PRId64 "h", ns / (3600 * NS_PER_SEC));
	else if (ns % (60 * NS_PER_SEC) == 0)
		snprintf(buf, size, "%" PRId64 "m", ns / (60 * NS_PER_SEC));
	else
		snprintf(buf, size, "%" PRId64 "s", ns / NS_PER_SEC);
}

int cmd_limits(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"max-width", required_argument, NULL, 'w'},
		{"max-lookback", required_argument, NULL, 'b'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int64_t width = -1, lookback = -1;
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'w':
		case 'b': {
			int64_t *dst = o == 'w' ? &width : &lookback;
			if (strcmp(optarg, "none") == 0)
				*dst = 0;
			else if (ctl_parse_duration(optarg, dst) < 0)
				return 2;
			else if (*dst < NS_PER_SEC)
				return ctl_usage("limits", "a limit must be at least 1 s (or none)");
			break;
		}
		case 'h':
			fputs(grant_help, stdout);
			return 0;
		default:
			return ctl_bad_option("limits");
		}
	}
	struct errbuf err = {{0}};
	struct spool *sp;
	if (argc - optind == 0) {
		if (width >= 0 || lookback >= 0)
			return ctl_usage("limits", "--max-width and --max-lookback go with 'limits set ROLE'");
		if (ctl_open_spool(c, SPOOL_RDONLY, &sp) < 0)
			return 1;
		struct role_limits l[ROLE_LIMITS_ROLES];
		int e = catalog_role_limits_load(sp->cat, l, &err);
		spool_close(sp);
		if (e < 0)
			return ctl_fail("%s", err.msg);
		static const char *const cols[] = {"role", "max_width", "max_lookback"};
		struct table *t = table_new(cols, ELEMENTSOF(cols));
		if (!t)
			return ctl_fail("out of memory");
		for (int r = 0; e == 0 && r < ROLE_LIMITS_ROLES; r++) {
			char wb[32], lb[32];
			format_limit(l[r].max_width_ns, wb, sizeof(wb));
			format_limit(l[r].max_lookback_ns, lb, sizeof(lb));
			const char *cells[] = {policy_role_name((enum policy_role)r), wb, lb};
			e = table_add(t, cells, NULL);
		}
		if (e == 0)
			table_print(t, stdout, c->json);
		table_free(t);
		return e < 0 ? ctl_fail("out of memory") : 0;
	}
	if (argc - optind != 2 || strcmp(argv[optind], "set") != 0)
		return ctl_usage("limits", "expected no argument, or 'set ROLE' with options");
	enum policy_role role;
	if (policy_role_parse(argv[optind + 1], &role) < 0)
		return ctl_usage("limits", "unknown role '%s' (user, auditor or admin)", argv[optind + 1]);
	if (width < 0 && lookback < 0)
		return ctl_usage("limits", "expected --max-width and/or --max-lookback");
	if (ctl_open_spool(c, SPOOL_NO_RECOVER, &sp) < 0)
		return 1;
	int e = catalog_role_limits_set(sp->cat, argv[optind + 1], width, lookback, &err);
	spool_close(sp);
	if (e < 0)
		return ctl_fail("%s", err.msg[0] ? err.msg : strerror(-e));
	return 0;
}

/* catalog-grant.c — access grants: principal (user:NAME or group:NAME) × target (a device
 * name, tag:TAG or *). The policy (policy.c) reads them; pcapfsctl grant/revoke writes them. */
#include <inttypes.h>
#include <stdio.h>

#include "catalog-internal.h"

int grant_check(const char *principal, const char *target, struct errbuf *err)
{
	const char *name;
	if (strncmp(principal, "user:", 5) == 0)
		name = principal + 5;
	else if (strncmp(principal, "group:", 6) == 0)
		name = principal + 6;
	else
		return err_set(err, EINVAL, "principal must be user:NAME or group:NAME");
	if (!*name || name[0] == '@' || owner_check(name, err) < 0)
		return err_prefix(err, EINVAL, "principal %.80s: ", principal);
	if (strcmp(target, "*") == 0)
		return 0;
	if (strncmp(target, "tag:", 4) == 0)
		return tag_check(target + 4, err) < 0 ? err_prefix(err, EINVAL, "target: ") : 0;
	return device_name_check(target, err) < 0 ? err_prefix(err, EINVAL, "target: ") : 0;
}

int catalog_grant_add(struct catalog *c, const char *principal, const char *target,
		      struct errbuf *err)
{
	static const char sql_dev[] = "SELECT 1 FROM devices WHERE name = ?1";
	static const char sql_dup[] = "SELECT 1 FROM grants WHERE principal = ?1 AND target = ?2";
	static const char sql[] = "INSERT INTO grants (principal, target, created_ns) VALUES (?1, ?2, ?3)";
	int r = grant_check(principal, target, err);
	if (r < 0)
		return r;
	bool own;
	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	_cleanup_stmt_ sqlite3_stmt *st_dev = NULL, *st_dup = NULL, *st = NULL;
	if (strcmp(target, "*") != 0 && strncmp(target, "tag:", 4) != 0) {
		r = catalog_stmt(c, sql_dev, &st_dev, err);
		if (r == 0 && catalog_bind_text(st_dev, 1, target) != SQLITE_OK)
			r = -ENOMEM;
		if (r == 0) {
			int rc = sqlite3_step(st_dev);
			if (rc == SQLITE_DONE)
				r = err_set(err, ENOENT, "no device named %s", target);
			else if (rc != SQLITE_ROW)
				r = catalog_sqlerr(c, rc, err, "looking up the device");
		}
	}
	if (r == 0)
		r = catalog_stmt(c, sql_dup, &st_dup, err);
	if (r == 0 && (catalog_bind_text(st_dup, 1, principal) != SQLITE_OK ||
		       catalog_bind_text(st_dup, 2, target) != SQLITE_OK))
		r = -ENOMEM;
	if (r == 0) {
		int rc = sqlite3_step(st_dup);
		if (rc == SQLITE_ROW)
			r = err_set(err, EEXIST, "%s already holds a grant on %s", principal, target);
		else if (rc != SQLITE_DONE)
			r = catalog_sqlerr(c, rc, err, "looking up grants");
	}
	if (r == 0)
		r = catalog_stmt(c, sql, &st, err);
	if (r == 0 && (catalog_bind_text(st, 1, principal) != SQLITE_OK ||
		       catalog_bind_text(st, 2, target) != SQLITE_OK ||
		       sqlite3_bind_int64(st, 3, now_ns()) != SQLITE_OK))
		r = -ENOMEM;
	if (r == 0)
		r = catalog_step_done(c, st, err, "adding the grant");
	return catalog_tx_leave(c, own, r, err);
}

int catalog_grant_remove(struct catalog *c, const char *principal, const char *target,
			 struct errbuf *err)
{
	static const char sql[] = "DELETE FROM grants WHERE principal = ?1 AND target = ?2";
	bool own;
	int r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	r = catalog_stmt(c, sql, &st, err);
	if (r == 0 && (catalog_bind_text(st, 1, principal) != SQLITE_OK ||
		       catalog_bind_text(st, 2, target) != SQLITE_OK))
		r = -ENOMEM;
	if (r == 0)
		r = catalog_step_done(c, st, err, "removing the grant");
	if (r == 0 && sqlite3_changes(c->db) == 0)
		r = err_set(err, ENOENT, "%.80s holds no grant on %.80s", principal, target);
	return catalog_tx_leave(c, own, r, err);
}

int catalog_grant_foreach(struct catalog *c, int (*cb)(const struct grant *g, void *userdata),
			  void *userdata, struct errbuf *err)
{
	static const char sql[] = "SELECT id, principal, target, created_ns FROM grants "
				  "ORDER BY target, principal";
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int r = catalog_stmt_private(c, sql, &st, err);
	if (r < 0)
		return r;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct grant g = {.id = sqlite3_column_int64(st, 0),
				  .created_ns = sqlite3_column_int64(st, 3)};
		r = catalog_column_copy(c, st, 1, g.principal, sizeof(g.principal), err, "grant principal", g.id);
		if (r == 0)
			r = catalog_column_copy(c, st, 2, g.target, sizeof(g.target), err, "grant target", g.id);
		if (r == 0 && grant_check(g.principal, g.target, err) < 0)
			r = err_prefix(err, EPROTO, "grant %" PRId64 " in the catalogue is invalid: ", g.id);
		if (r == 0)
			r = cb(&g, userdata);
		if (r < 0)
			return r;
	}
	return rc == SQLITE_DONE ? 0 : catalog_sqlerr(c, rc, err, "listing grants");
}

struct grant_vec {
	struct grant *v;
	size_t n, cap;
};

static int grant_push(const struct grant *g, void *userdata)
{
	struct grant_vec *l = userdata;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		struct grant *nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = *g;
	return 0;
}

int catalog_grants_load(struct catalog *c, struct grant **ret, size_t *ret_n, struct errbuf *err)
{
	struct grant_vec l = {0};
	int r = catalog_grant_foreach(c, grant_push, &l, err);
	if (r < 0) {
		free(l.v);
		return r;
	}
	*ret = l.v;
	*ret_n = l.n;
	return 0;
}

/* ---- window totals from summaries ------------------------------------------------------- */

int catalog_window_totals(struct catalog *c, int64_t device_id, int64_t from_ns, int64_t until_ns,
			  struct window_totals *ret, struct errbuf *err)
{
	static const char sql[] =
		"SELECT count(*), coalesce(sum(packets), 0), coalesce(sum(bytes), 0), "
		"coalesce(max(t_last), 0), coalesce(sum(t_first < ?2 OR t_last >= ?3), 0) "
		"FROM segment_devices WHERE device_id = ?1 AND t_last >= ?2 AND t_first < ?3 "
		/* bounds the index range: O(log n + k), see catalog-segment.c */
		"AND t_first >= ?2 - (SELECT max(0, value) FROM counters "
		"                     WHERE name = 'max_summary_span')";
	static const char sql_open[] = "SELECT count(*) FROM segments WHERE state = 0 AND t_first < ?1";
	_cleanup_stmt_ sqlite3_stmt *st = NULL, *st_open = NULL;
	int r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	if (sqlite3_bind_int64(st, 1, device_id) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, from_ns) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, until_ns) != SQLITE_OK)
		return -ENOMEM;
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, err, "summing the window");
	*ret = (struct window_totals){0};
	if (catalog_column_u64(st, 1, &ret->packets) < 0 || catalog_column_u64(st, 2, &ret->bytes) < 0)
		return err_set(err, EPROTO, "segment summaries hold negative totals");
	ret->t_last = sqlite3_column_int64(st, 3);
	ret->partial = (uint64_t)sqlite3_column_int64(st, 4);
	r = catalog_stmt(c, sql_open, &st_open, err);
	if (r < 0)
		return r;
	if (sqlite3_bind_int64(st_open, 1, until_ns) != SQLITE_OK)
		return -ENOMEM;
	rc = sqlite3_step(st_open);
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, err, "counting open segments");
	ret->open_segments = (uint64_t)sqlite3_column_int64(st_open, 0);
	return 0;
}

/* ---- per-role limits ------------------------------------------------------------------------ */

static const char *const limit_roles[ROLE_LIMITS_ROLES] = {"user", "auditor", "admin"};
#define LIMIT_MAX_NS (INT64_C(1) << 62) /* any configured limit is below this */

int catalog_role_limits_load(struct catalog *c, struct role_limits ret[ROLE_LIMITS_ROLES],
			     struct errbuf *err)
{
	for (size_t i = 0; i < ROLE_LIMITS_ROLES; i++) {
		char key[64], val[32];
		int64_t *dst[2] = {&ret[i].max_width_ns, &ret[i].max_lookback_ns};
		const char *names[2] = {"max_width_ns", "max_lookback_ns"};
		for (size_t k = 0; k < 2; k++) {
			snprintf(key, sizeof(key), "limit.%s.%s", limit_roles[i], names[k]);
			*dst[k] = 0;
			int r = catalog_meta_get(c, key, val, sizeof(val));
			if (r == -ENOENT)
				continue;
			if (r < 0)
				return err_set(err, -r, "reading %s: %s", key, strerror(-r));
			char *end;
			errno = 0;
			long long v = strtoll(val, &end, 10);
			if (errno || end == val || *end || v < 0 || v >= LIMIT_MAX_NS)
				return err_set(err, EPROTO, "catalogue: %s holds '%s', not a duration in "
					       "nanoseconds", key, val);
			*dst[k] = v;
		}
	}
	return 0;
}

int catalog_role_limits_set(struct catalog *c, const char *role, int64_t max_width_ns,
			    int64_t max_lookback_ns, struct errbuf *err)
{
	size_t i;
	for (i = 0; i < ROLE_LIMITS_ROLES; i++)
		if (strcmp(role, limit_roles[i]) == 0)
			break;
	if (i == ROLE_LIMITS_ROLES)
		return err_set(err, EINVAL, "unknown role '%s' (user, auditor or admin)", role);
	if (max_width_ns >= LIMIT_MAX_NS || max_lookback_ns >= LIMIT_MAX_NS)
		return err_set(err, EINVAL, "limit too large");
	int r = catalog_begin(c, err);
	if (r < 0)
		return r;
	int64_t v[2] = {max_width_ns, max_lookback_ns};
	const char *names[2] = {"max_width_ns", "max_lookback_ns"};
	for (size_t k = 0; r == 0 && k < 2; k++) {
		if (v[k] < 0)
			continue;
		char key[64], val[32];
		snprintf(key, sizeof(key), "limit.%s.%s", limit_roles[i], names[k]);
		snprintf(val, sizeof(val), "%" PRId64, v[k]);
		r = catalog_meta_set(c, key, val, err);
	}
	if (r == 0)
		r = catalog_commit(c, err);
	if (r < 0)
		catalog_rollback(c);
	return r;
}

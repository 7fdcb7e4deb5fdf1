/* catalog-access.c — the query log (schema v4, table access_log): one row per access that
 * the mount records, the same facts as its Linux audit record and the same event id.
 * pcapfsctl audit searches it by field, the mount serves it as /audit/<day>.csv. Rows are
 * as hostile as any other on-disk byte: every text column is length- and NUL-checked on the
 * way out. */
#include <stdio.h>

#include "catalog-internal.h"

#define DAY_NS (86400 * NS_PER_SEC)
#define PRUNE_BATCH 50000

int catalog_access_add(struct catalog *c, struct access_row *r, struct errbuf *err)
{
	static const char sql[] =
		"INSERT INTO access_log (id, ts_ns, op, allowed, uid, gid, pid, user_name, device,"
		" window_name, path, reason, bytes, duration_ns, open_id)"
		" VALUES (" CATALOG_NEXT_ID("access_log", "access_id_high") ","
		" ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	bool own;
	int e, rc = SQLITE_OK;

	if (!r->op[0])
		return err_set(err, EINVAL, "an access without an operation");
	if (catalog_check_u64(r->bytes, err, "bytes served") < 0)
		return -EOVERFLOW;
	e = catalog_tx_enter(c, &own, err);
	if (e < 0)
		return e;
	e = catalog_stmt(c, sql, &st, err);
	if (e >= 0) {
		/* Each text member up to its NUL or its size, whichever comes first. */
		const struct {
			int col;
			const char *s;
			size_t size;
		} text[] = {
			{2, r->op, sizeof(r->op)},	       {7, r->user, sizeof(r->user)},
			{8, r->device, sizeof(r->device)},     {9, r->window, sizeof(r->window)},
			{10, r->path, sizeof(r->path)},	       {11, r->reason, sizeof(r->reason)},
		};
		rc = sqlite3_bind_int64(st, 1, r->ts_ns);
		for (size_t i = 0; rc == SQLITE_OK && i < ELEMENTSOF(text); i++)
			rc = sqlite3_bind_text(st, text[i].col, text[i].s,
					       (int)strnlen(text[i].s, text[i].size), SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int(st, 3, r->allowed ? 1 : 0);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 4, r->uid);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 5, r->gid);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 6, r->pid);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 12, (sqlite3_int64)r->bytes);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 13, r->duration_ns);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 14, r->open_id);
		e = rc == SQLITE_OK ? catalog_step_done(c, st, err, "recording an access")
				    : catalog_sqlerr(c, rc, err, "binding");
		if (e >= 0)
			r->id = sqlite3_last_insert_rowid(c->db);
	}
	stmt_resetp(&st);
	return catalog_tx_leave(c, own, e, err);
}

int catalog_access_refuse(struct catalog *c, int64_t id, const char *reason, struct errbuf *err)
{
	static const char sql[] = "UPDATE access_log SET allowed = 0, reason = ?2 WHERE id = ?1";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	bool own;
	int e, rc;

	if (!reason)
		reason = "";
	e = catalog_tx_enter(c, &own, err);
	if (e < 0)
		return e;
	e = catalog_stmt(c, sql, &st, err);
	if (e >= 0) {
		rc = sqlite3_bind_int64(st, 1, id);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(st, 2, reason, (int)strnlen(reason, ACCESS_REASON_MAX),
					       SQLITE_STATIC);
		e = rc == SQLITE_OK ? catalog_step_done(c, st, err, "recording a refusal")
				    : catalog_sqlerr(c, rc, err, "binding");
		if (e >= 0 && sqlite3_changes(c->db) != 1)
			e = err_set(err, ENOENT, "no access %" PRId64 " in the query log", id);
	}
	stmt_resetp(&st);
	return catalog_tx_leave(c, own, e, err);
}

#define ROW_COLUMNS "id, ts_ns, op, allowed, uid, gid, pid, user_name, device, window_name," \
		    " path, reason, bytes, duration_ns, open_id"

static int integer_col(sqlite3_stmt *st, int col, int64_t lo, int64_t hi, int64_t *ret)
{
	if (sqlite3_column_type(st, col) != SQLITE_INTEGER)
		return -EPROTO;
	int64_t v = sqlite3_column_int64(st, col);
	if (v < lo || v > hi)
		return -EPROTO;
	*ret = v;
	return 0;
}

static int read_row(struct catalog *c, sqlite3_stmt *st, struct access_row *r, struct errbuf *err)
{
	int64_t v[9];
	static const struct {
		int col;
		int64_t lo, hi;
	} ints[] = {
		{0, 1, INT64_MAX},	   {1, INT64_MIN, INT64_MAX}, {3, 0, 1},
		{4, 0, UINT32_MAX},	   {5, 0, UINT32_MAX},	       {6, INT32_MIN, INT32_MAX},
		{12, 0, INT64_MAX},	   {13, INT64_MIN, INT64_MAX}, {14, 0, INT64_MAX},
	};
	_Static_assert(ELEMENTSOF(ints) == ELEMENTSOF(v), "one value per integer column");
	*r = (struct access_row){0};
	for (size_t i = 0; i < ELEMENTSOF(ints); i++)
		if (integer_col(st, ints[i].col, ints[i].lo, ints[i].hi, &v[i]) < 0)
			return err_set(err, EPROTO, "catalogue %s: query-log row %lld: column %d is "
				       "not a valid integer", c->path,
				       (long long)sqlite3_column_int64(st, 0), ints[i].col);
	r->id = v[0];
	r->ts_ns = v[1];
	r->allowed = v[2] == 1;
	r->uid = (uint32_t)v[3];
	r->gid = (uint32_t)v[4];
	r->pid = (int32_t)v[5];
	r->bytes = (uint64_t)v[6];
	r->duration_ns = v[7];
	r->open_id = v[8];
	struct {
		int col;
		char *buf;
		size_t size;
		const char *what;
	} texts[] = {
		{2, r->op, sizeof(r->op), "query-log operation"},
		{7, r->user, sizeof(r->user), "query-log user"},
		{8, r->device, sizeof(r->device), "query-log device"},
		{9, r->window, sizeof(r->window), "query-log window"},
		{10, r->path, sizeof(r->path), "query-log path"},
		{11, r->reason, sizeof(r->reason), "query-log reason"},
	};
	for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
		int e = catalog_column_copy(c, st, texts[i].col, texts[i].buf, texts[i].size, err,
					    texts[i].what, r->id);
		if (e < 0)
			return e;
	}
	return 0;
}

int catalog_access_foreach(struct catalog *c, const struct access_filter *f,
			   int (*cb)(const struct access_row *r, void *userdata), void *userdata,
			   struct errbuf *err)
{
	/* The query is built from fixed clauses; every value is bound. */
	char sql[1024];
	size_t o = 0;
	int n_bind = 0;
	struct bind {
		bool text;
		const char *s;
		int64_t i;
	} binds[8];
#define CLAUSE(text_) o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s", text_)
	CLAUSE("SELECT " ROW_COLUMNS " FROM access_log WHERE ts_ns >= ?");
	binds[n_bind++] = (struct bind){.i = f->since_ns};
	if (f->until_ns) {
		CLAUSE(" AND ts_ns < ?");
		binds[n_bind++] = (struct bind){.i = f->until_ns};
	}
	if (f->after_id > 0) {
		CLAUSE(" AND id > ?");
		binds[n_bind++] = (struct bind){.i = f->after_id};
	}
	if (f->user) {
		CLAUSE(" AND user_name = ?");
		binds[n_bind++] = (struct bind){.text = true, .s = f->user};
	}
	if (f->uid >= 0) {
		CLAUSE(" AND uid = ?");
		binds[n_bind++] = (struct bind){.i = f->uid};
	}
	if (f->device) {
		CLAUSE(" AND device = ?");
		binds[n_bind++] = (struct bind){.text = true, .s = f->device};
	}
	if (f->op) {
		CLAUSE(" AND op = ?");
		binds[n_bind++] = (struct bind){.text = true, .s = f->op};
	}
	if (f->allowed >= 0) {
		CLAUSE(" AND allowed = ?");
		binds[n_bind++] = (struct bind){.i = f->allowed ? 1 : 0};
	}
	CLAUSE(" ORDER BY id LIMIT ? OFFSET ?");
#undef CLAUSE
	if (o >= sizeof(sql))
		return err_set(err, EINVAL, "query-log query too long");
	if (f->limit > INT64_MAX || f->offset > INT64_MAX)
		return err_set(err, EINVAL, "query-log limit or offset out of range");

	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int e = catalog_stmt_private(c, sql, &st, err);
	if (e < 0)
		return e;
	int rc = SQLITE_OK;
	for (int i = 0; rc == SQLITE_OK && i < n_bind; i++)
		rc = binds[i].text ? catalog_bind_text(st, i + 1, binds[i].s)
				   : sqlite3_bind_int64(st, i + 1, binds[i].i);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, n_bind + 1, f->limit ? (int64_t)f->limit : -1);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, n_bind + 2, (int64_t)f->offset);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	struct access_row row;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		e = read_row(c, st, &row, err);
		if (e < 0)
			return e;
		e = cb(&row, userdata);
		if (e < 0)
			return e;
	}
	if (rc != SQLITE_DONE)
		return catalog_sqlerr(c, rc, err, "reading the query log");
	return 0;
}

int catalog_access_days(struct catalog *c, size_t max_days, int64_t **ret, size_t *ret_n,
			struct errbuf *err)
{
	/* One indexed probe per day that has rows: the first row at or after a time. */
	static const char sql[] =
		"SELECT ts_ns FROM access_log WHERE ts_ns >= ?1 ORDER BY ts_ns LIMIT 1";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int64_t *v = NULL, from = 0; /* rows before 1970 are no day's: the mount writes now */
	size_t n = 0, cap = 0;
	int e, rc;

	*ret = NULL;
	*ret_n = 0;
	e = catalog_stmt(c, sql, &st, err);
	if (e < 0)
		return e;
	while (n < max_days) {
		sqlite3_reset(st);
		rc = sqlite3_bind_int64(st, 1, from);
		if (rc != SQLITE_OK) {
			free(v);
			return catalog_sqlerr(c, rc, err, "binding");
		}
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			free(v);
			return catalog_sqlerr(c, rc, err, "listing the query log's days");
		}
		int64_t ts = sqlite3_column_int64(st, 0);
		int64_t day = ts / DAY_NS * DAY_NS; /* ts >= 0 */
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			int64_t *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = day;
		if (day > INT64_MAX - DAY_NS)
			break;
		from = day + DAY_NS;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int catalog_access_count(struct catalog *c, int64_t from_ns, int64_t until_ns, uint64_t *ret_n,
			 int64_t *ret_max_id, struct errbuf *err)
{
	static const char sql[] =
		"SELECT count(*), coalesce(max(id), 0) FROM access_log WHERE ts_ns >= ?1 AND ts_ns < ?2";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int e, rc;

	e = catalog_stmt(c, sql, &st, err);
	if (e < 0)
		return e;
	rc = sqlite3_bind_int64(st, 1, from_ns);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, until_ns);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, err, "counting query-log rows");
	*ret_n = (uint64_t)sqlite3_column_int64(st, 0);
	*ret_max_id = sqlite3_column_int64(st, 1);
	return 0;
}

int catalog_access_prune(struct catalog *c, int64_t before_ns, uint64_t max_rows,
			 uint64_t *ret_removed, struct errbuf *err)
{
	/* In batches: one long transaction would hold the write lock for every other writer. */
	static const char sql[] =
		"DELETE FROM access_log WHERE id IN (SELECT id FROM access_log WHERE ts_ns < ?1"
		" ORDER BY ts_ns LIMIT ?2)";
	uint64_t total = 0;
	int e = 0;

	for (;;) {
		_cleanup_stmt_ sqlite3_stmt *st = NULL;
		bool own;
		uint64_t n = 0;
		e = catalog_tx_enter(c, &own, err);
		if (e < 0)
			break;
		e = catalog_stmt(c, sql, &st, err);
		if (e >= 0) {
			int rc = sqlite3_bind_int64(st, 1, before_ns);
			if (rc == SQLITE_OK)
				rc = sqlite3_bind_int64(st, 2, max_rows && max_rows - total < PRUNE_BATCH
								       ? (int64_t)(max_rows - total) : PRUNE_BATCH);
			e = rc == SQLITE_OK ? catalog_step_done(c, st, err, "pruning the query log")
					    : catalog_sqlerr(c, rc, err, "binding");
			if (e >= 0)
				n = (uint64_t)sqlite3_changes(c->db);
		}
		stmt_resetp(&st);
		e = catalog_tx_leave(c, own, e, err);
		if (e < 0)
			break;
		total += n;
		if (n < PRUNE_BATCH || (max_rows && total >= max_rows))
			break;
	}
	if (ret_removed)
		*ret_removed = total;
	return e < 0 ? e : 0;
}

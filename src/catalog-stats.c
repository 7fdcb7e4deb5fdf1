/* catalog-stats.c — capture statistics in the catalogue (schema v2, table capture_stats):
 * the capture daemon samples each interface's counters periodically, pcapfsctl status shows
 * the newest sample and the rate since the one before it, and old samples are pruned by
 * time. Nothing here is on the capture hot path: one row per interface per sample. */
#include <stdio.h>

#include "catalog-internal.h"

int catalog_stats_add(struct catalog *c, const struct capture_stats *s, struct errbuf *err)
{
	static const char sql[] =
		"INSERT INTO capture_stats (interface_id, ts_ns, received, dropped, if_dropped,"
		" packets, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	const uint64_t v[] = {s->received, s->dropped, s->if_dropped, s->packets, s->bytes};
	bool own;
	int r, rc = SQLITE_OK;

	if (s->interface_id <= 0 || s->ts_ns < 0)
		return err_set(err, EINVAL, "capture statistics for interface id %" PRId64
			       " at %" PRId64 ": invalid id or time", s->interface_id, s->ts_ns);
	for (size_t i = 0; i < ELEMENTSOF(v); i++)
		if (catalog_check_u64(v[i], err, "capture counter") < 0)
			return -EOVERFLOW;
	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	r = catalog_stmt(c, sql, &st, err);
	if (r >= 0) {
		rc = sqlite3_bind_int64(st, 1, s->interface_id);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 2, s->ts_ns);
		for (size_t i = 0; rc == SQLITE_OK && i < ELEMENTSOF(v); i++)
			rc = sqlite3_bind_int64(st, (int)i + 3, (sqlite3_int64)v[i]);
		r = rc == SQLITE_OK ? catalog_step_done(c, st, err, "storing capture statistics")
				    : catalog_sqlerr(c, rc, err, "binding");
	}
	stmt_resetp(&st);
	return catalog_tx_leave(c, own, r, err);
}

/* Columns 1..6 of a capture_stats row into s; a negative counter is damage. */
static int stats_row(sqlite3_stmt *st, int col, struct capture_stats *s, struct errbuf *err)
{
	uint64_t *v[] = {&s->received, &s->dropped, &s->if_dropped, &s->packets, &s->bytes};

	if (sqlite3_column_type(st, col) != SQLITE_INTEGER)
		return err_set(err, EPROTO, "capture_stats row with a non-integer time");
	s->ts_ns = sqlite3_column_int64(st, col);
	for (size_t i = 0; i < ELEMENTSOF(v); i++)
		if (catalog_column_u64(st, col + 1 + (int)i, v[i]) < 0)
			return err_set(err, EPROTO, "capture_stats row of interface %" PRId64
				       " at %" PRId64 " holds a negative or non-integer counter",
				       s->interface_id, s->ts_ns);
	return 0;
}

static int stats_previous(struct catalog *c, const struct capture_stats *last,
			  struct capture_stats *ret, struct errbuf *err)
{
	static const char sql[] =
		"SELECT ts_ns, received, dropped, if_dropped, packets, bytes FROM capture_stats"
		" WHERE interface_id = ?1 AND ts_ns < ?2 ORDER BY ts_ns DESC LIMIT 1";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	*ret = (struct capture_stats){.interface_id = last->interface_id};
	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, last->interface_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, last->ts_ns);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, err, "reading capture statistics");
	return stats_row(st, 0, ret, err);
}

int catalog_stats_latest(struct catalog *c,
			 int (*cb)(const struct capture_stats *last, const struct capture_stats *prev,
				   void *userdata),
			 void *userdata, struct errbuf *err)
{
	/* The correlated subquery is a descending seek on the primary key per interface. */
	static const char sql[] =
		"SELECT i.id, i.name, s.ts_ns, s.received, s.dropped, s.if_dropped, s.packets,"
		" s.bytes FROM interfaces i JOIN capture_stats s ON s.interface_id = i.id"
		" WHERE s.ts_ns = (SELECT max(ts_ns) FROM capture_stats WHERE interface_id = i.id)"
		" ORDER BY i.name";
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = catalog_stmt_private(c, sql, &st, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct capture_stats last = {.interface_id = sqlite3_column_int64(st, 0)}, prev;
		r = catalog_column_copy(c, st, 1, last.interface, sizeof(last.interface), err,
					"interface name", last.interface_id);
		if (r >= 0)
			r = stats_row(st, 2, &last, err);
		if (r >= 0)
			r = stats_previous(c, &last, &prev, err);
		if (r >= 0)
			r = cb(&last, &prev, userdata);
		if (r < 0)
			return r;
	}
	if (rc != SQLITE_DONE)
		return catalog_sqlerr(c, rc, err, "reading capture statistics");
	return 0;
}

int catalog_stats_prune(struct catalog *c, int64_t before_ns, uint64_t *ret_removed,
			struct errbuf *err)
{
	static const char sql[] = "DELETE FROM capture_stats WHERE ts_ns < ?1";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	bool own;
	int r, rc;
	uint64_t n = 0;

	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	r = catalog_stmt(c, sql, &st, err);
	if (r >= 0) {
		rc = sqlite3_bind_int64(st, 1, before_ns);
		r = rc == SQLITE_OK ? catalog_step_done(c, st, err, "pruning capture statistics")
				    : catalog_sqlerr(c, rc, err, "binding");
		if (r >= 0)
			n = (uint64_t)sqlite3_changes(c->db);
	}
	stmt_resetp(&st);
	r = catalog_tx_leave(c, own, r, err);
	if (r >= 0 && ret_removed)
		*ret_removed = n;
	return r;
}

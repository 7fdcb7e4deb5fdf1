/* catalog-segment.c — interfaces, segments, per-(segment, device) summaries and imports in
 * the catalogue: what the writer records at segment open and seal, and what listings and
 * read plans ask (which segments may hold a device's packets in a time range, which hours
 * a device has packets in).
 *
 * Segment states: a segment is inserted OPEN (t_first = its window start, no summaries),
 * then sealed once with its final figures and summaries; sealing again (reindex) replaces
 * the summaries. Summaries exist only for sealed segments, so listings built from them
 * never show a segment still being written; read plans add the open segments explicitly.
 *
 * The per-device time query uses the index segment_devices (device_id, t_first, t_last)
 * and counters.max_summary_span (the longest t_last - t_first of any summary, raised at
 * seal, never lowered): a summary overlapping [from, until) has from - span <= t_first <
 * until, a range of that index, so the cost is O(log n + k) while segments stay short
 * (rotation keeps them to a minute by default). */
#include <stdio.h>

#include "catalog-internal.h"
#include "pcapio.h"

#define NS_PER_HOUR (3600 * NS_PER_SEC)
/* More than a century of hours: a hostile summary cannot make catalog_device_hours
 * allocate without bound. */
#define DEVICE_HOURS_MAX (1u << 20)

int catalog_interface_name_check(const char *name, struct errbuf *err)
{
	size_t n = name ? strnlen(name, DEVICE_NAME_MAX + 1) : 0;

	if (n == 0 || n > DEVICE_NAME_MAX)
		return err_set(err, EINVAL, "interface names are 1 to %d bytes long", DEVICE_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch < 0x20 || ch == 0x7f || ch == '/')
			return err_set(err, EINVAL, "interface name: character \\x%02x at position "
				       "%zu is not allowed", ch, i + 1);
	}
	return 0;
}

/* A segment path is relative to the spool directory and stays inside it: no leading '/',
 * no empty, "." or ".." component, no control character. "" = not named yet. */
static int segment_path_check(const char *path, struct errbuf *err)
{
	size_t n = strnlen(path, sizeof(((struct segment *)0)->path));
	const char *p = path, *slash;

	if (n >= sizeof(((struct segment *)0)->path))
		return err_set(err, ENAMETOOLONG, "segment path is longer than %zu bytes",
			       sizeof(((struct segment *)0)->path) - 1);
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)path[i];
		if (ch < 0x20 || ch == 0x7f)
			return err_set(err, EINVAL, "segment path: control character \\x%02x at "
				       "position %zu", ch, i + 1);
	}
	for (;;) {
		slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return err_set(err, EINVAL, "segment path %s must be relative to the spool "
				       "and must not contain empty, \".\" or \"..\" components", path);
		if (!slash)
			return 0;
		p = slash + 1;
	}
}

/* ---- interfaces ------------------------------------------------------------------------- */

static int interface_lookup(struct catalog *c, const char *name, int64_t *ret_id,
			    struct errbuf *err)
{
	static const char sql[] = "SELECT id FROM interfaces WHERE name = ?1";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = catalog_bind_text(st, 1, name);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, err, "looking up an interface");
	*ret_id = sqlite3_column_int64(st, 0);
	return 1;
}

static int interface_create_locked(struct catalog *c, const char *name, int64_t *ret_id,
				   struct errbuf *err)
{
	static const char sql[] = "INSERT INTO interfaces (name) VALUES (?1)";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	/* Again under the write lock: another process may have created it meanwhile. */
	r = interface_lookup(c, name, ret_id, err);
	if (r != 0)
		return r < 0 ? r : 0;
	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = catalog_bind_text(st, 1, name);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	r = catalog_step_done(c, st, err, "adding an interface");
	if (r >= 0)
		*ret_id = sqlite3_last_insert_rowid(c->db);
	return r;
}

int catalog_interface_get(struct catalog *c, const char *name, bool create, int64_t *ret_id,
			  struct errbuf *err)
{
	char esc[CATALOG_ESCAPE_BUF];
	int64_t id = 0;
	bool own;
	int r;

	r = catalog_interface_name_check(name, err);
	if (r < 0)
		return r;
	r = interface_lookup(c, name, &id, err);
	if (r < 0)
		return r;
	if (r == 0) {
		if (!create)
			return err_set(err, ENOENT, "no interface named %s",
				       catalog_escape(name, esc, sizeof(esc)));
		r = catalog_tx_enter(c, &own, err);
		if (r < 0)
			return r;
		r = interface_create_locked(c, name, &id, err);
		r = catalog_tx_leave(c, own, r, err);
		if (r < 0)
			return r;
	}
	if (ret_id)
		*ret_id = id;
	return 0;
}

/* ---- reading segments ------------------------------------------------------------------- */

#define SEGMENT_COLUMNS                                                                       \
	"s.id, s.interface_id, i.name, s.path, s.linktype, s.snaplen, s.tsprec, s.state, "    \
	"s.t_first, s.t_last, s.packets, s.bytes, s.import_id"
#define SEGMENT_FROM " FROM segments s JOIN interfaces i ON i.id = s.interface_id "

static bool column_in(sqlite3_stmt *st, int col, int64_t lo, int64_t hi, int64_t *ret)
{
	if (sqlite3_column_type(st, col) != SQLITE_INTEGER)
		return false;
	*ret = sqlite3_column_int64(st, col);
	return *ret >= lo && *ret <= hi;
}

/* Fill ret from a row of SEGMENT_COLUMNS, checking every field. */
static int fill_segment(struct catalog *c, sqlite3_stmt *st, struct segment *ret,
			struct errbuf *err)
{
	int64_t linktype, snaplen, tsprec, state;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->id = sqlite3_column_int64(st, 0);
	ret->interface_id = sqlite3_column_int64(st, 1);
	r = catalog_column_copy(c, st, 2, ret->interface, sizeof(ret->interface), err,
				"interface name of segment", ret->id);
	if (r >= 0 && catalog_interface_name_check(ret->interface, err) < 0)
		r = -EPROTO;
	if (r >= 0)
		r = catalog_column_copy(c, st, 3, ret->path, sizeof(ret->path), err,
					"path of segment", ret->id);
	if (r >= 0 && segment_path_check(ret->path, err) < 0)
		r = -EPROTO;
	if (r == -EPROTO)
		return err_prefix(err, EPROTO, "catalogue %s: segment %" PRId64 ": ", c->path,
				  ret->id);
	if (r < 0)
		return r;
	if (!column_in(st, 4, 0, UINT32_MAX, &linktype) || !column_in(st, 5, 0, UINT32_MAX, &snaplen) ||
	    !column_in(st, 6, TSPREC_US, TSPREC_NS, &tsprec) ||
	    !column_in(st, 7, SEGMENT_OPEN, SEGMENT_SEALED, &state) ||
	    catalog_column_u64(st, 10, &ret->packets) < 0 ||
	    catalog_column_u64(st, 11, &ret->bytes) < 0 ||
	    !column_in(st, 12, 0, INT64_MAX, &ret->import_id))
		return err_set(err, EPROTO, "catalogue %s: segment %" PRId64 " is malformed",
			       c->path, ret->id);
	ret->linktype = (uint32_t)linktype;
	ret->snaplen = (uint32_t)snaplen;
	ret->tsprec = (int)tsprec;
	ret->state = (int)state;
	ret->t_first = sqlite3_column_int64(st, 8);
	ret->t_last = sqlite3_column_int64(st, 9);
	return 0;
}

int catalog_segment_get(struct catalog *c, int64_t id, struct segment *ret, struct errbuf *err)
{
	static const char sql[] = "SELECT " SEGMENT_COLUMNS SEGMENT_FROM "WHERE s.id = ?1";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, id);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return err_set(err, ENOENT, "no segment with id %" PRId64, id);
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, err, "reading a segment");
	return fill_segment(c, st, ret, err);
}

/* Run a private statement (parameters bound by the caller) and call cb for each row. */
static int segment_iterate(struct catalog *c, sqlite3_stmt *st,
			   int (*cb)(const struct segment *s, void *userdata), void *userdata,
			   struct errbuf *err)
{
	int r, rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct segment s;

		r = fill_segment(c, st, &s, err);
		if (r < 0)
			return r;
		r = cb(&s, userdata);
		if (r < 0)
			return r;
	}
	return rc == SQLITE_DONE ? 0 : catalog_sqlerr(c, rc, err, "listing segments");
}

int catalog_segment_foreach(struct catalog *c, int state,
			    int (*cb)(const struct segment *s, void *userdata), void *userdata,
			    struct errbuf *err)
{
	static const char sql_all[] = "SELECT " SEGMENT_COLUMNS SEGMENT_FROM "ORDER BY s.id";
	static const char sql_state[] = "SELECT " SEGMENT_COLUMNS SEGMENT_FROM
					"WHERE s.state = ?1 ORDER BY s.id";
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = catalog_stmt_private(c, state >= 0 ? sql_state : sql_all, &st, err);
	if (r < 0)
		return r;
	if (state >= 0) {
		rc = sqlite3_bind_int(st, 1, state);
		if (rc != SQLITE_OK)
			return catalog_sqlerr(c, rc, err, "binding");
	}
	return segment_iterate(c, st, cb, userdata, err);
}

int catalog_segments_for_device(struct catalog *c, int64_t device_id, int64_t from_ns,
				int64_t until_ns, int (*cb)(const struct segment *s, void *userdata),
				void *userdata, struct errbuf *err)
{
	/* Result columns 9, 2, 1 are t_first, interface_id, id. A subtraction that overflows
	 * gives a REAL below every INTEGER, which is still a correct lower bound. */
	static const char sql[] =
		"SELECT " SEGMENT_COLUMNS " FROM segment_devices sd "
		"JOIN segments s ON s.id = sd.segment_id JOIN interfaces i ON i.id = s.interface_id "
		"WHERE sd.device_id = ?1 AND sd.t_first < ?3 AND sd.t_last >= ?2 "
		"AND sd.t_first >= ?2 - (SELECT max(0, value) FROM counters "
		"                        WHERE name = 'max_summary_span') "
		"AND s.state = 1 "
		"UNION ALL "
		/* An open segment's packets lie in [t_first, t_first + period + late), late being
		 * at most a quarter period (writer.c): within two periods of t_first. */
		"SELECT " SEGMENT_COLUMNS SEGMENT_FROM "WHERE s.state = 0 AND s.t_first < ?3 "
		"AND s.t_first > ?2 - 2 * (SELECT coalesce(max(CAST(value AS INTEGER)), "
		"                          4611686018427387903) FROM meta WHERE key = 'segment_ns') "
		"ORDER BY 9, 2, 1";
	/* Cached: every plan asks it, and preparing it costs more than running it for a short
	 * window; the callback runs no statement of its own. */
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	if (from_ns >= until_ns)
		return 0;
	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, device_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, from_ns);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, until_ns);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	return segment_iterate(c, st, cb, userdata, err);
}

int catalog_import_segments(struct catalog *c, int64_t import_id,
			    int (*cb)(const struct segment *s, void *userdata), void *userdata,
			    struct errbuf *err)
{
	static const char sql[] = "SELECT " SEGMENT_COLUMNS SEGMENT_FROM
				  "WHERE s.import_id = ?1 ORDER BY s.id";
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int r, rc;

	if (import_id <= 0) /* 0 would be every live segment */
		return err_set(err, EINVAL, "invalid import id %" PRId64, import_id);
	r = catalog_stmt_private(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, import_id);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	return segment_iterate(c, st, cb, userdata, err);
}

int catalog_interface_overlap(struct catalog *c, const char *iface, int64_t except_import,
			      int64_t t_from, int64_t t_to, uint64_t *ret_packets,
			      int64_t *ret_first_import, struct errbuf *err)
{
	static const char sql[] =
		"SELECT s.packets, s.import_id FROM segments s JOIN interfaces i ON i.id = s.interface_id "
		"WHERE i.name = ?1 AND s.import_id != ?2 AND s.state = 1 AND s.packets > 0 "
		"AND s.t_first <= ?4 AND s.t_last >= ?3 ORDER BY s.t_first";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	*ret_packets = 0;
	*ret_first_import = 0;
	int r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	int rc = catalog_bind_text(st, 1, iface);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, except_import);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, t_from);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 4, t_to);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	bool first = true;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t n = sqlite3_column_int64(st, 0);
		if (n > 0)
			*ret_packets += (uint64_t)n;
		if (first)
			*ret_first_import = sqlite3_column_int64(st, 1);
		first = false;
	}
	return rc == SQLITE_DONE ? 0 : catalog_sqlerr(c, rc, err, "finding overlapping segments");
}

/* ---- writing segments ------------------------------------------------------------------- */

static int segment_insert_locked(struct catalog *c, const struct segment *s, int64_t *ret_id,
				 struct errbuf *err)
{
	static const char sql[] = "INSERT INTO segments (id, interface_id, path, linktype, snaplen, "
				  "tsprec, state, t_first, t_last, packets, bytes, import_id) "
				  "VALUES (" CATALOG_NEXT_ID("segments", "segment_id_high") ", ?1, ?2, ?3, "
				  "?4, ?5, 0, ?6, ?7, ?8, ?9, ?10)";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, s->interface_id);
	if (rc == SQLITE_OK)
		rc = catalog_bind_text(st, 2, s->path);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, s->linktype);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 4, s->snaplen);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 5, s->tsprec);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 6, s->t_first);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 7, s->t_last);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 8, (int64_t)s->packets);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 9, (int64_t)s->bytes);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 10, s->import_id);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return err_set(err, ENOENT, "no interface with id %" PRId64, s->interface_id);
	if (rc != SQLITE_DONE)
		return catalog_sqlerr(c, rc, err, "adding a segment");
	if (ret_id)
		*ret_id = sqlite3_last_insert_rowid(c->db);
	return 0;
}

int catalog_segment_insert(struct catalog *c, const struct segment *s, int64_t *ret_id,
			   struct errbuf *err)
{
	bool own;
	int r;

	if (s->state != SEGMENT_OPEN)
		return err_set(err, EINVAL, "a segment is inserted open and sealed with "
			       "catalog_segment_seal");
	if (s->tsprec != TSPREC_US && s->tsprec != TSPREC_NS)
		return err_set(err, EINVAL, "unknown timestamp precision %d", s->tsprec);
	if (s->import_id < 0)
		return err_set(err, EINVAL, "invalid import id %" PRId64, s->import_id);
	r = segment_path_check(s->path, err);
	if (r >= 0)
		r = catalog_check_u64(s->packets, err, "packet count");
	if (r >= 0)
		r = catalog_check_u64(s->bytes, err, "byte count");
	if (r < 0)
		return r;
	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	r = segment_insert_locked(c, s, ret_id, err);
	return catalog_tx_leave(c, own, r, err);
}

/* Run a one-row UPDATE or DELETE on segment id (parameter 1); -ENOENT if no row changed. */
/* Run sql on the row id (?1; text as ?2 when given), in the caller's transaction or one of
 * its own: -ENOENT "no <row> with id N" when it changed nothing. */
static int row_change(struct catalog *c, const char *sql, int64_t id, const char *text,
		      struct errbuf *err, const char *what, const char *row)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	bool own;
	int r, rc;

	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	r = catalog_stmt(c, sql, &st, err);
	if (r >= 0) {
		rc = sqlite3_bind_int64(st, 1, id);
		if (rc == SQLITE_OK && text)
			rc = catalog_bind_text(st, 2, text);
		r = rc == SQLITE_OK ? catalog_step_done(c, st, err, what)
				    : catalog_sqlerr(c, rc, err, "binding");
	}
	if (r >= 0 && sqlite3_changes(c->db) == 0)
		r = err_set(err, ENOENT, "no %s with id %" PRId64, row, id);
	stmt_resetp(&st);
	return catalog_tx_leave(c, own, r, err);
}

int catalog_segment_set_path(struct catalog *c, int64_t id, const char *path, struct errbuf *err)
{
	static const char sql[] = "UPDATE segments SET path = ?2 WHERE id = ?1";
	int r;

	if (!path || !*path)
		return err_set(err, EINVAL, "segment path must not be empty");
	r = segment_path_check(path, err);
	if (r < 0)
		return r;
	return row_change(c, sql, id, path, err, "naming a segment", "segment");
}

int catalog_segment_delete(struct catalog *c, int64_t id, struct errbuf *err)
{
	/* Summaries go by ON DELETE CASCADE (index segment_devices_segment). */
	static const char sql[] = "DELETE FROM segments WHERE id = ?1";
	return row_change(c, sql, id, NULL, err, "deleting a segment", "segment");
}

int catalog_segment_first_linktype(struct catalog *c, uint32_t *ret, bool *ret_found,
				   struct errbuf *err)
{
	static const char sql[] = "SELECT linktype FROM segments ORDER BY id LIMIT 1";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	*ret_found = false;
	int r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, err, "reading the oldest segment");
	int64_t lt;
	if (!column_in(st, 0, 0, UINT32_MAX, &lt))
		return err_set(err, EPROTO, "catalogue %s: the oldest segment's link type is out of range",
			       c->path);
	*ret = (uint32_t)lt;
	*ret_found = true;
	return 0;
}

static int summary_check(const struct segment_device_summary *sum, struct errbuf *err)
{
	if (sum->device_id <= 0)
		return err_set(err, EINVAL, "summary for invalid device id %" PRId64, sum->device_id);
	if (sum->t_first > sum->t_last || sum->t_first < 0)
		return err_set(err, EINVAL, "summary for device %" PRId64 ": t_first %" PRId64
			       " is negative or after t_last %" PRId64,
			       sum->device_id, sum->t_first, sum->t_last);
	if (catalog_check_u64(sum->packets, err, "packet count") < 0 ||
	    catalog_check_u64(sum->bytes, err, "byte count") < 0)
		return -EOVERFLOW;
	return 0;
}

static int segment_seal_locked(struct catalog *c, const struct segment *s,
			       const struct segment_device_summary *sums, size_t n_sums,
			       struct errbuf *err)
{
	static const char sql_seg[] = "UPDATE segments SET state = 1, t_first = ?2, t_last = ?3, "
				      "packets = ?4, bytes = ?5 WHERE id = ?1";
	static const char sql_clear[] = "DELETE FROM segment_devices WHERE segment_id = ?1";
	/* A device removed while the segment was open has no summary to keep: its data is
	 * unreachable, as if it had been removed after the seal. */
	static const char sql_sum[] = "INSERT INTO segment_devices (segment_id, device_id, "
				      "t_first, t_last, packets, bytes) SELECT ?1, ?2, ?3, ?4, ?5, ?6 "
				      "WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?2)";
	static const char sql_span[] = "UPDATE counters SET value = max(value, ?1) "
				       "WHERE name = 'max_summary_span'";
	_cleanup_stmt_ sqlite3_stmt *st_seg = NULL;
	_cleanup_stmt_ sqlite3_stmt *st_clear = NULL;
	_cleanup_stmt_ sqlite3_stmt *st_sum = NULL;
	_cleanup_stmt_ sqlite3_stmt *st_span = NULL;
	int64_t span = 0;
	int r, rc;

	if ((r = catalog_stmt(c, sql_seg, &st_seg, err)) < 0 ||
	    (r = catalog_stmt(c, sql_clear, &st_clear, err)) < 0 ||
	    (r = catalog_stmt(c, sql_sum, &st_sum, err)) < 0 ||
	    (r = catalog_stmt(c, sql_span, &st_span, err)) < 0)
		return r;
	rc = sqlite3_bind_int64(st_seg, 1, s->id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st_seg, 2, s->t_first);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st_seg, 3, s->t_last);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st_seg, 4, (int64_t)s->packets);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st_seg, 5, (int64_t)s->bytes);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st_clear, 1, s->id);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	r = catalog_step_done(c, st_seg, err, "sealing a segment");
	if (r < 0)
		return r;
	if (sqlite3_changes(c->db) == 0)
		return err_set(err, ENOENT, "no segment with id %" PRId64, s->id);
	r = catalog_step_done(c, st_clear, err, "clearing summaries");
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_sums; i++) {
		const struct segment_device_summary *sum = &sums[i];

		sqlite3_reset(st_sum);
		rc = sqlite3_bind_int64(st_sum, 1, s->id);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st_sum, 2, sum->device_id);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st_sum, 3, sum->t_first);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st_sum, 4, sum->t_last);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st_sum, 5, (int64_t)sum->packets);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st_sum, 6, (int64_t)sum->bytes);
		if (rc != SQLITE_OK)
			return catalog_sqlerr(c, rc, err, "binding");
		rc = sqlite3_step(st_sum);
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return err_set(err, EINVAL, "segment %" PRId64 ": two summaries for device %"
				       PRId64, s->id, sum->device_id);
		if (rc != SQLITE_DONE)
			return catalog_sqlerr(c, rc, err, "adding a summary");
		/* t_first >= 0 (summary_check), so the difference cannot overflow. */
		span = MAX(span, sum->t_last - sum->t_first);
	}
	rc = sqlite3_bind_int64(st_span, 1, span);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	return catalog_step_done(c, st_span, err, "recording the summary span");
}

int catalog_segment_seal(struct catalog *c, const struct segment *s,
			 const struct segment_device_summary *sums, size_t n_sums,
			 struct errbuf *err)
{
	bool own;
	int r;

	if (n_sums > 0 && !sums)
		return err_set(err, EINVAL, "no summaries given");
	r = catalog_check_u64(s->packets, err, "packet count");
	if (r >= 0)
		r = catalog_check_u64(s->bytes, err, "byte count");
	for (size_t i = 0; r >= 0 && i < n_sums; i++)
		r = summary_check(&sums[i], err);
	if (r < 0)
		return r;
	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	r = segment_seal_locked(c, s, sums, n_sums, err);
	return catalog_tx_leave(c, own, r, err);
}

/* ---- per-device figures ----------------------------------------------------------------- */

int catalog_device_totals(struct catalog *c, int64_t device_id, struct device_totals *ret,
			  struct errbuf *err)
{
	/* A range of the primary key (device_id, segment_id): O(log n + k). */
	static const char sql[] = "SELECT count(*), coalesce(sum(packets), 0), "
				  "coalesce(sum(bytes), 0), coalesce(min(t_first), 0), "
				  "coalesce(max(t_last), 0) FROM segment_devices WHERE device_id = ?1";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	memset(ret, 0, sizeof(*ret));
	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, device_id);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, err, "summing a device's segments");
	if (catalog_column_u64(st, 0, &ret->segments) < 0 ||
	    catalog_column_u64(st, 1, &ret->packets) < 0 ||
	    catalog_column_u64(st, 2, &ret->bytes) < 0) {
		memset(ret, 0, sizeof(*ret));
		return err_set(err, EPROTO, "catalogue %s: negative counts in the summaries of "
			       "device %" PRId64, c->path, device_id);
	}
	if (ret->packets > 0) {
		ret->t_first = sqlite3_column_int64(st, 3);
		ret->t_last = sqlite3_column_int64(st, 4);
	}
	return 0;
}

/* The index of the hour starting at h (ns) in v[0..n), which holds it. */
static size_t hour_index(const struct device_hour *v, size_t n, int64_t h)
{
	size_t lo = 0, hi = n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].start_ns <= h)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int catalog_device_hours(struct catalog *c, int64_t device_id, struct device_hour **ret,
			 size_t *ret_n, int64_t *ret_open_from, struct errbuf *err)
{
	/* In t_first order from the index segment_devices_time, so the hours come out
	 * ascending and each is emitted once: a summary only adds hours after the last one. */
	static const char sql[] = "SELECT t_first, t_last, segment_id, packets, bytes "
				  "FROM segment_devices WHERE device_id = ?1 ORDER BY t_first";
	static const char sql_open[] = "SELECT min(t_first) FROM segments WHERE state = 0";
	_cleanup_stmt_ sqlite3_stmt *st = NULL, *st_open = NULL;
	_cleanup_free_ struct device_hour *hours = NULL;
	/* Summaries spanning several hours: +1 at the first hour's index, -1 after the last;
	 * an hour with a positive running sum is not whole. */
	_cleanup_free_ int64_t *span = NULL;
	size_t n = 0, cap = 0;
	int64_t next = 0; /* the first hour index not yet emitted */
	int r, rc;

	*ret = NULL;
	*ret_n = 0;
	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, device_id);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t t_first = sqlite3_column_int64(st, 0), t_last = sqlite3_column_int64(st, 1);
		int64_t h;
		uint64_t packets, bytes;

		/* Packet times are never before 1970, so the hour arithmetic cannot overflow. */
		if (t_first < 0 || t_last < t_first || catalog_column_u64(st, 3, &packets) < 0 ||
		    catalog_column_u64(st, 4, &bytes) < 0)
			return err_set(err, EPROTO, "catalogue %s: summary of segment %" PRId64
				       " for device %" PRId64 " is malformed",
				       c->path, (int64_t)sqlite3_column_int64(st, 2), device_id);
		h = MAX(t_first / NS_PER_HOUR, next);
		if (h <= t_last / NS_PER_HOUR &&
		    (uint64_t)(t_last / NS_PER_HOUR - h) >= DEVICE_HOURS_MAX - n)
			return err_set(err, E2BIG, "device %" PRId64 " has packets in more than %u "
				       "hours", device_id, DEVICE_HOURS_MAX);
		for (; h <= t_last / NS_PER_HOUR; h++) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct device_hour *nh = realloc(hours, ncap * sizeof(*hours));
				int64_t *ns = realloc(span, (ncap + 1) * sizeof(*span));
				if (nh)
					hours = nh;
				if (ns) {
					/* New slots start at zero; the old ones (cap + 1 of them once
					 * allocated) keep their marks: the slot just past the last
					 * hour may hold a span's end. */
					size_t old = span ? cap + 1 : 0;
					memset(ns + old, 0, (ncap + 1 - old) * sizeof(*ns));
					span = ns;
				}
				if (!nh || !ns)
					return err_set(err, ENOMEM, "out of memory");
				cap = ncap;
			}
			hours[n++] = (struct device_hour){.start_ns = h * NS_PER_HOUR, .whole = true};
		}
		next = MAX(next, h);
		size_t first = hour_index(hours, n, t_first / NS_PER_HOUR * NS_PER_HOUR);
		if (t_first / NS_PER_HOUR != t_last / NS_PER_HOUR) {
			span[first]++;
			span[hour_index(hours, n, t_last / NS_PER_HOUR * NS_PER_HOUR) + 1]--;
			continue;
		}
		struct device_hour *x = &hours[first];
		/* Sums that SQLite could not add up either (catalog_window_totals fails past
		 * INT64_MAX), or that a pcap header would carry past it: hostile, not final. */
		if (packets > (uint64_t)INT64_MAX - x->packets ||
		    bytes > (uint64_t)INT64_MAX - PCAP_GLOBAL_HDR_LEN - x->bytes)
			x->whole = false;
		else {
			x->packets += packets;
			x->bytes += bytes;
			x->t_last = MAX(x->t_last, t_last);
		}
	}
	if (rc != SQLITE_DONE)
		return catalog_sqlerr(c, rc, err, "reading summaries");
	int64_t open = 0;
	for (size_t i = 0; i < n; i++) {
		open += span[i];
		if (open > 0)
			hours[i].whole = false;
	}
	if (ret_open_from) {
		r = catalog_stmt(c, sql_open, &st_open, err);
		if (r < 0)
			return r;
		rc = sqlite3_step(st_open);
		if (rc != SQLITE_ROW)
			return catalog_sqlerr(c, rc, err, "finding open segments");
		*ret_open_from = sqlite3_column_type(st_open, 0) == SQLITE_NULL
					 ? INT64_MAX
					 : sqlite3_column_int64(st_open, 0);
	}
	*ret = hours;
	*ret_n = n;
	hours = NULL;
	return 0;
}

/* ---- imports ---------------------------------------------------------------------------- */

int catalog_import_begin(struct catalog *c, const char *source, int64_t *ret_id,
			 struct errbuf *err)
{
	static const char sql[] = "INSERT INTO imports (source, state, started_ns) "
				  "VALUES (?1, 0, ?2)";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	bool own;
	int r, rc;

	if (!source || strnlen(source, sizeof(((struct import_info *)0)->source)) >=
			       sizeof(((struct import_info *)0)->source))
		return err_set(err, EINVAL, "import source name must be shorter than %zu bytes",
			       sizeof(((struct import_info *)0)->source));
	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	r = catalog_stmt(c, sql, &st, err);
	if (r >= 0) {
		rc = catalog_bind_text(st, 1, source);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 2, now_ns());
		r = rc == SQLITE_OK ? catalog_step_done(c, st, err, "recording an import")
				    : catalog_sqlerr(c, rc, err, "binding");
	}
	if (r >= 0 && ret_id)
		*ret_id = sqlite3_last_insert_rowid(c->db);
	stmt_resetp(&st);
	return catalog_tx_leave(c, own, r, err);
}

int catalog_import_end(struct catalog *c, int64_t id, int state, uint64_t packets,
		       uint64_t bytes, struct errbuf *err)
{
	static const char sql[] = "UPDATE imports SET state = ?2, ended_ns = ?3, packets = ?4, "
				  "bytes = ?5 WHERE id = ?1 AND state = 0";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	bool own;
	int r, rc;

	if (state < IMPORT_RUNNING || state > IMPORT_INTERRUPTED)
		return err_set(err, EINVAL, "unknown import state %d", state);
	r = catalog_check_u64(packets, err, "packet count");
	if (r >= 0)
		r = catalog_check_u64(bytes, err, "byte count");
	if (r < 0)
		return r;
	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	r = catalog_stmt(c, sql, &st, err);
	if (r >= 0) {
		rc = sqlite3_bind_int64(st, 1, id);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int(st, 2, state);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 3, now_ns());
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 4, (int64_t)packets);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 5, (int64_t)bytes);
		r = rc == SQLITE_OK ? catalog_step_done(c, st, err, "ending an import")
				    : catalog_sqlerr(c, rc, err, "binding");
	}
	if (r >= 0 && sqlite3_changes(c->db) == 0)
		r = err_set(err, ENOENT, "no running import with id %" PRId64, id);
	stmt_resetp(&st);
	return catalog_tx_leave(c, own, r, err);
}

int catalog_import_removed(struct catalog *c, int64_t id, struct errbuf *err)
{
	static const char sql[] = "UPDATE imports SET state = 2 WHERE id = ?1 AND state IN (1, 3)";
	return row_change(c, sql, id, NULL, err, "removing an import",
			  "completed or interrupted import");
}

int catalog_import_foreach(struct catalog *c, int state,
			   int (*cb)(const struct import_info *i, void *userdata), void *userdata,
			   struct errbuf *err)
{
#define IMPORT_COLUMNS "SELECT id, source, state, started_ns, ended_ns, packets, bytes FROM imports "
	static const char sql_all[] = IMPORT_COLUMNS "ORDER BY id";
	static const char sql_state[] = IMPORT_COLUMNS "WHERE state = ?1 ORDER BY id";
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = catalog_stmt_private(c, state >= 0 ? sql_state : sql_all, &st, err);
	if (r < 0)
		return r;
	if (state >= 0 && (rc = sqlite3_bind_int(st, 1, state)) != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct import_info info = { .id = sqlite3_column_int64(st, 0) };
		int64_t st_state;

		r = catalog_column_copy(c, st, 1, info.source, sizeof(info.source), err,
					"source of import", info.id);
		if (r < 0)
			return r;
		if (!column_in(st, 2, IMPORT_RUNNING, IMPORT_INTERRUPTED, &st_state) ||
		    catalog_column_u64(st, 5, &info.packets) < 0 ||
		    catalog_column_u64(st, 6, &info.bytes) < 0)
			return err_set(err, EPROTO, "catalogue %s: import %" PRId64 " is malformed",
				       c->path, info.id);
		info.state = (int)st_state;
		info.started_ns = sqlite3_column_int64(st, 3);
		info.ended_ns = sqlite3_column_int64(st, 4);
		r = cb(&info, userdata);
		if (r < 0)
			return r;
	}
	return rc == SQLITE_DONE ? 0 : catalog_sqlerr(c, rc, err, "listing imports");
#undef IMPORT_COLUMNS
}

struct import_find {
	int64_t id;
	struct import_info *ret;
	bool hit;
};

static int import_find(const struct import_info *i, void *userdata)
{
	struct import_find *f = userdata;
	if (i->id == f->id) {
		*f->ret = *i;
		f->hit = true;
	}
	return 0;
}

int catalog_import_get(struct catalog *c, int64_t id, struct import_info *ret, struct errbuf *err)
{
	struct import_find f = {.id = id, .ret = ret};
	int e = catalog_import_foreach(c, -1, import_find, &f, err);
	if (e < 0)
		return e;
	return f.hit ? 0 : err_set(err, ENOENT, "no import has id %" PRId64, id);
}

int catalog_segment_summaries(struct catalog *c, int64_t segment_id,
			      struct segment_device_summary **ret, size_t *ret_n, struct errbuf *err)
{
	static const char sql[] = "SELECT device_id, t_first, t_last, packets, bytes "
				  "FROM segment_devices WHERE segment_id = ?1 ORDER BY device_id";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	if (sqlite3_bind_int64(st, 1, segment_id) != SQLITE_OK)
		return -ENOMEM;
	struct segment_device_summary *v = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct segment_device_summary *nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			cap = nc;
		}
		struct segment_device_summary *s = &v[n++];
		s->device_id = sqlite3_column_int64(st, 0);
		s->t_first = sqlite3_column_int64(st, 1);
		s->t_last = sqlite3_column_int64(st, 2);
		if (catalog_column_u64(st, 3, &s->packets) < 0 || catalog_column_u64(st, 4, &s->bytes) < 0) {
			free(v);
			return err_set(err, EPROTO, "segment %" PRId64 ": negative summary totals", segment_id);
		}
	}
	if (rc != SQLITE_DONE) {
		free(v);
		return catalog_sqlerr(c, rc, err, "reading summaries");
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int segment_list_add(const struct segment *s, void *userdata)
{
	struct segment_list *l = userdata;
	struct segment *v = array_grow(l->v, &l->cap, l->n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	l->v[l->n++] = *s;
	return 0;
}

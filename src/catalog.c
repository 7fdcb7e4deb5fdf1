/* catalog.c — opening the spool's SQLite catalogue: schema and migrations, connection
 * settings, error mapping, the statement cache, transactions and the meta table. Devices
 * and addresses are in catalog-device.c, segments and imports in catalog-segment.c; the
 * name rules of devices, tags and owners are here.
 *
 * Open sequence: the file must exist unless CATALOG_CREATE; the connection refuses
 * schema-modifying tricks of a hostile file (SQLITE_DBCONFIG_DEFENSIVE, untrusted schema);
 * the header's application_id says the file is ours; PRAGMA user_version is the schema
 * version. A read-write open switches to WAL (readers never block the writer), keeps the
 * -wal and -shm files after the last close (so that readers without write access to the
 * spool directory can still open it) and migrates: scripts version+1..latest run in one
 * BEGIN IMMEDIATE transaction, so a crash or a concurrent open leaves either the old schema
 * or the new one, never a mixture. A read-only open never writes: a catalogue that needs
 * migrating is refused. */
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "catalog-internal.h"

/* Schema version 1. Times are INTEGER nanoseconds since the epoch, TIME_INFINITY
 * (INT64_MAX) stored as is. Invariants the code relies on:
 *   - segment_devices rows exist only for sealed segments (written by catalog_segment_seal);
 *   - counters.max_summary_span >= t_last - t_first of every segment_devices row, so that
 *     the per-device time query is a range scan of (device_id, t_first);
 *   - every change of devices, device_tags or addresses bumps
 *     counters.registry_generation (triggers, so no code path can forget it);
 *   - grants.target is a device name, "tag:TAG" or "*" (device names contain no ':');
 *   - addresses.bytes holds the family's length of bytes (MAC 6, IPv4 4, IPv6 16), host bits
 *     zero, so an exact address is found by equality on (family, bytes, prefix).
 * A future migration that rebuilds a table must run with foreign_keys off, which the open
 * sequence would have to arrange (PRAGMA foreign_keys is a no-op inside a transaction). */
static const char schema_v1[] =
	"PRAGMA application_id = 1346586195;" /* CATALOG_APPLICATION_ID */
	"CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);"
	"CREATE TABLE counters (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)"
	"  WITHOUT ROWID;"
	"INSERT INTO counters VALUES ('registry_generation', 1), ('max_summary_span', 0);"
	"CREATE TABLE devices (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
	"  owner TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '',"
	"  created_ns INTEGER NOT NULL DEFAULT 0);"
	/* SMB clients compare names without case: two names differing only in case would be
	 * one directory to them. */
	"CREATE INDEX devices_name_nocase ON devices (name COLLATE NOCASE);"
	"CREATE TABLE device_tags (device_id INTEGER NOT NULL REFERENCES devices (id)"
	"  ON DELETE CASCADE, tag TEXT NOT NULL, PRIMARY KEY (device_id, tag)) WITHOUT ROWID;"
	"CREATE INDEX device_tags_tag ON device_tags (tag);"
	"CREATE TABLE addresses (id INTEGER PRIMARY KEY, device_id INTEGER NOT NULL"
	"  REFERENCES devices (id) ON DELETE CASCADE, family INTEGER NOT NULL,"
	"  bytes BLOB NOT NULL, prefix INTEGER NOT NULL, from_ns INTEGER NOT NULL,"
	"  until_ns INTEGER NOT NULL, CHECK (from_ns < until_ns));"
	"CREATE INDEX addresses_addr ON addresses (family, bytes);"
	"CREATE INDEX addresses_device ON addresses (device_id);"
	"CREATE TABLE grants (id INTEGER PRIMARY KEY, principal TEXT NOT NULL,"
	"  target TEXT NOT NULL, created_ns INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (principal, target));"
	"CREATE INDEX grants_target ON grants (target);"
	"CREATE TABLE interfaces (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);"
	"CREATE TABLE imports (id INTEGER PRIMARY KEY, source TEXT NOT NULL,"
	"  state INTEGER NOT NULL, started_ns INTEGER NOT NULL, ended_ns INTEGER NOT NULL"
	"  DEFAULT 0, packets INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE segments (id INTEGER PRIMARY KEY, interface_id INTEGER NOT NULL"
	"  REFERENCES interfaces (id), path TEXT NOT NULL DEFAULT '',"
	"  linktype INTEGER NOT NULL, snaplen INTEGER NOT NULL, tsprec INTEGER NOT NULL,"
	"  state INTEGER NOT NULL, t_first INTEGER NOT NULL, t_last INTEGER NOT NULL,"
	"  packets INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
	"  import_id INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX segments_state ON segments (state);"
	"CREATE INDEX segments_t_first ON segments (t_first);"
	"CREATE INDEX segments_import ON segments (import_id);"
	"CREATE TABLE segment_devices (segment_id INTEGER NOT NULL REFERENCES segments (id)"
	"  ON DELETE CASCADE, device_id INTEGER NOT NULL REFERENCES devices (id)"
	"  ON DELETE CASCADE, t_first INTEGER NOT NULL, t_last INTEGER NOT NULL,"
	"  packets INTEGER NOT NULL, bytes INTEGER NOT NULL,"
	"  PRIMARY KEY (device_id, segment_id)) WITHOUT ROWID;"
	"CREATE INDEX segment_devices_time ON segment_devices (device_id, t_first, t_last);"
	"CREATE INDEX segment_devices_segment ON segment_devices (segment_id);"
#define BUMP "BEGIN UPDATE counters SET value = value + 1 WHERE name = 'registry_generation'; END;"
	"CREATE TRIGGER devices_ai AFTER INSERT ON devices " BUMP
	"CREATE TRIGGER devices_au AFTER UPDATE ON devices " BUMP
	"CREATE TRIGGER devices_ad AFTER DELETE ON devices " BUMP
	"CREATE TRIGGER device_tags_ai AFTER INSERT ON device_tags " BUMP
	"CREATE TRIGGER device_tags_au AFTER UPDATE ON device_tags " BUMP
	"CREATE TRIGGER device_tags_ad AFTER DELETE ON device_tags " BUMP
	"CREATE TRIGGER addresses_ai AFTER INSERT ON addresses " BUMP
	"CREATE TRIGGER addresses_au AFTER UPDATE ON addresses " BUMP
	"CREATE TRIGGER addresses_ad AFTER DELETE ON addresses " BUMP;
#undef BUMP

/* Schema version 2: capture statistics (catalog-stats.c). One row per interface and sample
 * time; the counters are cumulative since the capture daemon's start (a restart resets them,
 * which readers detect as a decrease). Rows are pruned by time (capture_stats_time). */
static const char schema_v2[] =
	"CREATE TABLE capture_stats (interface_id INTEGER NOT NULL REFERENCES interfaces (id),"
	"  ts_ns INTEGER NOT NULL, received INTEGER NOT NULL, dropped INTEGER NOT NULL,"
	"  if_dropped INTEGER NOT NULL, packets INTEGER NOT NULL, bytes INTEGER NOT NULL,"
	"  PRIMARY KEY (interface_id, ts_ns)) WITHOUT ROWID;"
	"CREATE INDEX capture_stats_time ON capture_stats (ts_ns);";

/* Schema version 3: counters.content_generation, bumped (by triggers) by every change that
 * can alter a window that had stopped growing: a segment removed (retention, rollback), a
 * segment of an import added (imports write into the past), a live segment that starts
 * before another segment of its interface (the clock stepped back), summaries replaced
 * (reindex), an import begun or ended. Readers that cache settled windows (the mount) watch
 * it. Live capture's ordinary rotation does not bump it. */
static const char schema_v3[] =
	"INSERT INTO counters VALUES ('content_generation', 1);"
	"CREATE INDEX segments_interface_time ON segments (interface_id, t_first);"
#define BUMP "BEGIN UPDATE counters SET value = value + 1 WHERE name = 'content_generation'; END;"
	"CREATE TRIGGER segments_content_ad AFTER DELETE ON segments " BUMP
	"CREATE TRIGGER segments_content_ai AFTER INSERT ON segments WHEN NEW.import_id != 0"
	"  OR NEW.t_first < (SELECT max(t_first) FROM segments"
	"                    WHERE interface_id = NEW.interface_id AND id != NEW.id) " BUMP
	"CREATE TRIGGER segment_devices_content_ad AFTER DELETE ON segment_devices " BUMP
	"CREATE TRIGGER imports_content_ai AFTER INSERT ON imports " BUMP
	"CREATE TRIGGER imports_content_au AFTER UPDATE OF state ON imports " BUMP;
#undef BUMP

/* Schema version 4: the query log (catalog-access.c), one row per access the mount records:
 * every open and close of a file, every refusal. id is the event id that the Linux audit
 * record of the same access carries (event=); a close names its open (open_id). Text
 * columns hold what the mount saw, bounded by the ACCESS_*_MAX lengths; readers check them
 * again. Rows are pruned by time only (catalog_access_prune). */
static const char schema_v4[] =
	"CREATE TABLE access_log (id INTEGER PRIMARY KEY, ts_ns INTEGER NOT NULL,"
	"  op TEXT NOT NULL, allowed INTEGER NOT NULL, uid INTEGER NOT NULL,"
	"  gid INTEGER NOT NULL, pid INTEGER NOT NULL, user_name TEXT NOT NULL,"
	"  device TEXT NOT NULL, window_name TEXT NOT NULL, path TEXT NOT NULL,"
	"  reason TEXT NOT NULL, bytes INTEGER NOT NULL DEFAULT 0,"
	"  duration_ns INTEGER NOT NULL DEFAULT 0, open_id INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX access_log_time ON access_log (ts_ns);"
	"CREATE INDEX access_log_user ON access_log (user_name, ts_ns);"
	"CREATE INDEX access_log_uid ON access_log (uid, ts_ns);"
	"CREATE INDEX access_log_device ON access_log (device, ts_ns);";

/* Schema version 5: row ids of devices and segments are never used twice. Index files and
 * segment file names carry them: a device added after another was removed must not take the
 * removed one's id (its packets, still indexed under that id, would become the new device's),
 * and a segment must not take the name of files a lost row left behind. counters.*_id_high
 * is the highest id ever given; inserts take the next one (CATALOG_NEXT_ID). */
#define ID_HIGH(table, counter)                                                                  \
	"CREATE TRIGGER " table "_id_high AFTER INSERT ON " table " BEGIN UPDATE counters SET value = " \
	"NEW.id WHERE name = '" counter "' AND value < NEW.id; END;"
/* Also: a live segment may take packets up to a second late (writer.c), so its row starts up
 * to a second before its period; only one that starts more than a second before another of
 * its interface means the clock stepped back. */
static const char schema_v5[] =
	"INSERT INTO counters VALUES"
	"  ('device_id_high', (SELECT coalesce(max(id), 0) FROM devices)),"
	"  ('segment_id_high', (SELECT coalesce(max(id), 0) FROM segments));"
	ID_HIGH("devices", "device_id_high")
	ID_HIGH("segments", "segment_id_high")
	"DROP TRIGGER segments_content_ai;"
	"CREATE TRIGGER segments_content_ai AFTER INSERT ON segments WHEN NEW.import_id != 0"
	"  OR NEW.t_first + 1000000000 < (SELECT max(t_first) FROM segments"
	"                                 WHERE interface_id = NEW.interface_id AND id != NEW.id)"
	"  BEGIN UPDATE counters SET value = value + 1 WHERE name = 'content_generation'; END;";
/* Schema version 6: query-log ids are never used twice either. A Linux audit record names
 * its row by id (event=, open_event=): a row written after pruning emptied the log must not
 * take an id that records already name. */
static const char schema_v6[] =
	"INSERT INTO counters VALUES"
	"  ('access_id_high', (SELECT coalesce(max(id), 0) FROM access_log));"
	ID_HIGH("access_log", "access_id_high");
#undef ID_HIGH

/* migrations[v] brings a catalogue from version v - 1 to v. Append only; never edit a
 * script that has shipped. */
static const char *const migrations[] = {
	NULL,
	schema_v1,
	schema_v2,
	schema_v3,
	schema_v4,
	schema_v5,
	schema_v6,
};
_Static_assert(ELEMENTSOF(migrations) == CATALOG_SCHEMA_VERSION + 1,
	       "one migration per schema version");
_Static_assert(CATALOG_APPLICATION_ID == 1346586195, "schema_v1 spells the id in decimal");

int catalog_sqlerr(struct catalog *c, int rc, struct errbuf *err, const char *what)
{
	const char *msg = sqlite3_errmsg(c->db);
	const char *path = c->path ? c->path : "";
	int errnum;

	if (!what)
		what = "catalogue";
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return err_set(err, EBUSY, "catalogue %s is locked by another process (%s: %s)",
			       path, what, msg);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return err_set(err, EPROTO, "catalogue %s is damaged or not a database (%s: %s)",
			       path, what, msg);
	case SQLITE_READONLY:
		errnum = EROFS;
		break;
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		errnum = EACCES;
		break;
	case SQLITE_FULL:
		errnum = ENOSPC;
		break;
	case SQLITE_NOMEM:
		errnum = ENOMEM;
		break;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			errnum = EEXIST;
		else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			errnum = ENOENT;
		else
			errnum = EINVAL;
		break;
	default:
		errnum = EIO;
		break;
	}
	return err_set(err, errnum, "catalogue %s: %s: %s", path, what, msg);
}

int catalog_stmt(struct catalog *c, const char *sql, sqlite3_stmt **ret, struct errbuf *err)
{
	sqlite3_stmt *st;
	int rc;

	for (size_t i = 0; i < c->n_cached; i++)
		if (c->cache[i].sql == sql) {
			sqlite3_reset(c->cache[i].stmt);
			sqlite3_clear_bindings(c->cache[i].stmt);
			*ret = c->cache[i].stmt;
			return 0;
		}
	if (c->n_cached == CATALOG_STMT_CACHE)
		return err_set(err, EIO, "catalogue statement cache is full");
	rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "preparing a statement");
	c->cache[c->n_cached].sql = sql;
	c->cache[c->n_cached].stmt = st;
	c->n_cached++;
	*ret = st;
	return 0;
}

int catalog_stmt_private(struct catalog *c, const char *sql, sqlite3_stmt **ret,
			 struct errbuf *err)
{
	int rc = sqlite3_prepare_v2(c->db, sql, -1, ret, NULL);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "preparing a statement");
	return 0;
}

int catalog_step_done(struct catalog *c, sqlite3_stmt *st, struct errbuf *err, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return catalog_sqlerr(c, rc, err, what);
}

int catalog_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static int exec_sql(struct catalog *c, const char *sql, struct errbuf *err, const char *what)
{
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, what);
	return 0;
}

int catalog_tx_enter(struct catalog *c, bool *ret_own, struct errbuf *err)
{
	if (c->rdonly)
		return err_set(err, EROFS, "catalogue %s is open read-only", c->path);
	*ret_own = sqlite3_get_autocommit(c->db) != 0;
	if (*ret_own)
		return exec_sql(c, "BEGIN IMMEDIATE", err, "starting a transaction");
	return exec_sql(c, "SAVEPOINT catalog_op", err, "starting a savepoint");
}

int catalog_tx_leave(struct catalog *c, bool own, int r, struct errbuf *err)
{
	if (r >= 0) {
		int q = exec_sql(c, own ? "COMMIT" : "RELEASE catalog_op", err, "committing");
		if (q >= 0)
			return r;
		r = q;
	}
	/* An I/O error, a full disk or a busy COMMIT may already have ended the transaction
	 * (SQLite rolls back on its own then), so errors here are expected and ignored: the
	 * message of the first failure is the one worth keeping. */
	if (own) {
		if (!sqlite3_get_autocommit(c->db))
			sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	} else {
		sqlite3_exec(c->db, "ROLLBACK TO catalog_op; RELEASE catalog_op", NULL, NULL, NULL);
	}
	return r;
}

int catalog_column_copy(struct catalog *c, sqlite3_stmt *st, int col, char *buf, size_t size,
			struct errbuf *err, const char *what, int64_t row)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	int n = sqlite3_column_bytes(st, col);

	if (!t) {
		if (sqlite3_errcode(c->db) == SQLITE_NOMEM)
			return err_set(err, ENOMEM, "catalogue %s: out of memory", c->path);
		t = (const unsigned char *)"";
		n = 0;
	}
	if (n < 0 || (size_t)n >= size)
		return err_set(err, EPROTO, "catalogue %s: %s of row %" PRId64
			       " is %d bytes long, more than the %zu allowed",
			       c->path, what, row, n, size - 1);
	if (memchr(t, 0, (size_t)n))
		return err_set(err, EPROTO, "catalogue %s: %s of row %" PRId64
			       " holds a NUL byte", c->path, what, row);
	memcpy(buf, t, (size_t)n);
	buf[n] = 0;
	return 0;
}

int catalog_column_u64(sqlite3_stmt *st, int col, uint64_t *ret)
{
	sqlite3_int64 v;

	if (sqlite3_column_type(st, col) != SQLITE_INTEGER)
		return -EPROTO;
	v = sqlite3_column_int64(st, col);
	if (v < 0)
		return -EPROTO;
	*ret = (uint64_t)v;
	return 0;
}

int catalog_check_u64(uint64_t v, struct errbuf *err, const char *what)
{
	if (v > (uint64_t)INT64_MAX)
		return err_set(err, EOVERFLOW, "%s %" PRIu64 " does not fit the catalogue", what, v);
	return 0;
}

void catalog_format_time(int64_t ns, char *buf, size_t size)
{
	int64_t sec = ns / NS_PER_SEC, frac = ns % NS_PER_SEC;
	struct tm tm;
	time_t t;

	if (ns == TIME_INFINITY) {
		snprintf(buf, size, "forever");
		return;
	}
	if (frac < 0) {
		frac += NS_PER_SEC;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, size, "@%" PRId64 "ns", ns);
		return;
	}
	int n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n < 0 || (size_t)n >= size)
		return;
	/* The fewest of 3, 6 or 9 digits that is exact, as the window names use. */
	if (frac == 0)
		snprintf(buf + n, size - (size_t)n, "Z");
	else if (frac % 1000000 == 0)
		snprintf(buf + n, size - (size_t)n, ".%03" PRId64 "Z", frac / 1000000);
	else if (frac % 1000 == 0)
		snprintf(buf + n, size - (size_t)n, ".%06" PRId64 "Z", frac / 1000);
	else
		snprintf(buf + n, size - (size_t)n, ".%09" PRId64 "Z", frac);
}

const char *catalog_escape(const char *s, char *buf, size_t size)
{
	size_t o = 0, i;

	if (size == 0)
		return "";
	for (i = 0; s && s[i] && i < 80 && o + 5 < size; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
	}
	if (s && s[i] && o + 4 < size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = 0;
	return buf;
}

/* One integer from a PRAGMA or a single-value query. */
static int query_int(struct catalog *c, const char *sql, int64_t *ret, struct errbuf *err)
{
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = catalog_stmt_private(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, err, sql);
	*ret = sqlite3_column_int64(st, 0);
	return 0;
}

static int check_identity(struct catalog *c, int64_t app_id, int64_t version, struct errbuf *err)
{
	if (app_id != 0 && app_id != CATALOG_APPLICATION_ID)
		return err_set(err, EPROTO, "%s is an SQLite database of another application "
			       "(application_id 0x%08" PRIx64 "), not a pcapfs catalogue",
			       c->path, (uint64_t)app_id);
	if (version < 0 || (version > 0 && app_id != CATALOG_APPLICATION_ID))
		return err_set(err, EPROTO, "%s is not a pcapfs catalogue (schema version %" PRId64
			       ", no pcapfs application id)", c->path, version);
	if (version > CATALOG_SCHEMA_VERSION)
		return err_set(err, EPROTO, "catalogue schema %" PRId64
			       " is newer than this pcapfs (%d)", version, CATALOG_SCHEMA_VERSION);
	return 0;
}

static int catalog_migrate(struct catalog *c, struct errbuf *err)
{
	int64_t app_id = 0, version = 0, n_objects = 0;
	char sql[64];
	int r;

	r = exec_sql(c, "BEGIN IMMEDIATE", err, "starting the migration");
	if (r < 0)
		return r;
	/* Read again under the write lock: another process may have migrated meanwhile. */
	r = query_int(c, "PRAGMA application_id", &app_id, err);
	if (r >= 0)
		r = query_int(c, "PRAGMA user_version", &version, err);
	if (r >= 0)
		r = check_identity(c, app_id, version, err);
	if (r >= 0 && version == 0) {
		r = query_int(c, "SELECT count(*) FROM sqlite_master", &n_objects, err);
		if (r >= 0 && n_objects > 0)
			r = err_set(err, EPROTO, "%s is an SQLite database with %" PRId64
				    " tables or indexes but not a pcapfs catalogue",
				    c->path, n_objects);
	}
	for (int64_t v = version + 1; r >= 0 && v <= CATALOG_SCHEMA_VERSION; v++) {
		r = exec_sql(c, migrations[v], err, "migrating");
		if (r < 0)
			err_prefix(err, -r, "migrating to schema %" PRId64 ": ", v);
	}
	if (r >= 0 && version < CATALOG_SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", CATALOG_SCHEMA_VERSION);
		r = exec_sql(c, sql, err, "setting the schema version");
	}
	return catalog_tx_leave(c, true, r, err);
}

static int catalog_configure(struct catalog *c, int busy_timeout_ms, struct errbuf *err)
{
	int rc, r;

	sqlite3_extended_result_codes(c->db, 1);
	rc = sqlite3_busy_timeout(c->db, MAX(busy_timeout_ms, 0));
	/* The file is input like any other: no schema tricks, no functions with side effects
	 * called from its triggers or views, no extensions. */
	if (rc == SQLITE_OK)
		rc = sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_db_config(c->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "configuring the connection");
	/* Statement journals and sorts stay in memory: they are small here, and temporary files
	 * in /var/tmp would cost a write per page on every segment seal. */
	r = exec_sql(c, "PRAGMA temp_store = MEMORY", err, "setting temp_store");
	if (r == 0)
		r = exec_sql(c, "PRAGMA foreign_keys = ON", err, "enabling foreign keys");
	if (r < 0 || c->rdonly)
		return r < 0 ? r : exec_sql(c, "PRAGMA query_only = ON", err, "query_only");

	int64_t dummy;
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	r = catalog_stmt_private(c, "PRAGMA journal_mode = WAL", &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, err, "switching to WAL mode");
	const char *mode = (const char *)sqlite3_column_text(st, 0);
	if (!mode || strcmp(mode, "wal") != 0)
		return err_set(err, EIO, "catalogue %s: cannot switch to WAL mode (journal mode "
			       "stays \"%s\")", c->path, mode ? mode : "?");
	int persist = 1;
	sqlite3_file_control(c->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	r = exec_sql(c, "PRAGMA synchronous = NORMAL", err, "setting synchronous");
	if (r >= 0) /* a persistent WAL keeps its largest size otherwise */
		r = query_int(c, "PRAGMA journal_size_limit = 16777216", &dummy, err);
	return r;
}

int catalog_open(const char *path, int flags, int busy_timeout_ms, struct catalog **ret,
		 struct errbuf *err)
{
	struct catalog *c;
	struct stat sb;
	int64_t app_id = 0, version = 0;
	int oflags, rc, r;

	*ret = NULL;
	if (!path || !*path)
		return err_set(err, EINVAL, "no catalogue path given");
	if ((flags & CATALOG_RDONLY) && (flags & CATALOG_CREATE))
		return err_set(err, EINVAL, "a catalogue cannot be created read-only");
	if (stat(path, &sb) < 0) {
		if (errno != ENOENT)
			return err_set(err, errno, "%s: %s", path, strerror(errno));
		if (!(flags & CATALOG_CREATE))
			return err_set(err, ENOENT, "%s: not a pcapfs spool (no catalogue); run "
				       "pcapfsctl init", path);
	} else if (!S_ISREG(sb.st_mode)) {
		return err_set(err, EPROTO, "%s: the catalogue is not a regular file", path);
	}

	c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(err, ENOMEM, "out of memory");
	c->rdonly = flags & CATALOG_RDONLY;
	c->path = strdup(path);
	if (!c->path) {
		free(c);
		return err_set(err, ENOMEM, "out of memory");
	}
	oflags = c->rdonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	if (flags & CATALOG_CREATE)
		oflags |= SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(path, &c->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		r = catalog_sqlerr(c, rc, err, "opening");
		goto fail;
	}
	r = catalog_configure(c, busy_timeout_ms, err);
	if (r < 0)
		goto fail;
	r = query_int(c, "PRAGMA application_id", &app_id, err);
	if (r >= 0)
		r = query_int(c, "PRAGMA user_version", &version, err);
	if (r >= 0)
		r = check_identity(c, app_id, version, err);
	if (r < 0)
		goto fail;
	if (version < CATALOG_SCHEMA_VERSION) {
		if (c->rdonly) {
			r = err_set(err, EPROTO, "catalogue %s needs upgrading; run any pcapfsctl "
				    "command as its owner", path);
			goto fail;
		}
		r = catalog_migrate(c, err);
		if (r < 0)
			goto fail;
	}
	*ret = c;
	return 0;
fail:
	catalog_close(c);
	return r;
}

void catalog_set_busy_timeout(struct catalog *c, int busy_timeout_ms)
{
	sqlite3_busy_timeout(c->db, MAX(busy_timeout_ms, 0));
}

void catalog_close(struct catalog *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_cached; i++)
		sqlite3_finalize(c->cache[i].stmt);
	/* Rolls back an open transaction; closes even with a statement left unfinalized. */
	sqlite3_close_v2(c->db);
	free(c->path);
	free(c);
}

int catalog_begin(struct catalog *c, struct errbuf *err)
{
	if (!sqlite3_get_autocommit(c->db))
		return err_set(err, EINVAL, "catalogue %s: a transaction is already open "
			       "(nesting is not supported)", c->path);
	/* A read-only connection cannot take the write lock; its transaction is a consistent
	 * snapshot for several queries, taken now by reading (a deferred BEGIN alone would
	 * take it at the first query). */
	return exec_sql(c, c->rdonly ? "BEGIN; SELECT count(*) FROM sqlite_master"
				     : "BEGIN IMMEDIATE", err, "starting a transaction");
}

int catalog_commit(struct catalog *c, struct errbuf *err)
{
	int r;

	if (sqlite3_get_autocommit(c->db))
		return err_set(err, EINVAL, "catalogue %s: no transaction is open", c->path);
	/* A failed COMMIT rolls back, so that the caller never has to guess whether its
	 * transaction is still open. */
	r = exec_sql(c, "COMMIT", err, "committing");
	if (r < 0 && !sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

void catalog_rollback(struct catalog *c)
{
	if (c && !sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- names: the rules of device names, tags and owners --------------------------------- */

static bool name_char_ok(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

/* Check s + off (the part after an "@") against the name rule; kind and s (whole) are for
 * the message, positions count from 1 in the whole string. */
static int name_check(const char *kind, const char *s, size_t off, size_t max, bool no_dot,
		      struct errbuf *err)
{
	const char *p = s + off;
	size_t n = strnlen(p, max + 1);
	char esc[CATALOG_ESCAPE_BUF];

	if (n == 0)
		return err_set(err, EINVAL, "%s must not be empty", kind);
	if (n > max)
		return err_set(err, EINVAL, "%s is longer than %zu characters", kind, max);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		char what[24];

		if (name_char_ok(ch))
			continue;
		if (ch > 0x20 && ch < 0x7f)
			snprintf(what, sizeof(what), "'%c' (0x%02x)", ch, ch);
		else if (ch == 0x20)
			snprintf(what, sizeof(what), "' ' (0x20)");
		else
			snprintf(what, sizeof(what), "\\x%02x", ch);
		return err_set(err, EINVAL, "%s \"%s\": character %s at position %zu is not allowed; "
			       "use letters, digits, '.', '_' and '-'",
			       kind, catalog_escape(s, esc, sizeof(esc)), what, off + i + 1);
	}
	if (p[0] == '-' || (no_dot && p[0] == '.'))
		return err_set(err, EINVAL, "%s must not start with '%c'", kind, p[0]);
	return 0;
}

int device_name_check(const char *name, struct errbuf *err)
{
	return name_check("device name", name ? name : "", 0, DEVICE_NAME_MAX, true, err);
}

int tag_check(const char *tag, struct errbuf *err)
{
	return name_check("tag", tag ? tag : "", 0, TAG_MAX, true, err);
}

int owner_check(const char *owner, struct errbuf *err)
{
	if (!owner || !*owner)
		return 0;
	if (owner[0] == '@')
		return name_check("owner group name", owner, 1, OWNER_MAX, false, err);
	return name_check("owner", owner, 0, OWNER_MAX, false, err);
}

int catalog_description_check(const char *d, struct errbuf *err)
{
	size_t n = strnlen(d, DESCRIPTION_MAX + 1);

	if (n > DESCRIPTION_MAX)
		return err_set(err, EINVAL, "description is longer than %d bytes", DESCRIPTION_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)d[i];
		if (ch < 0x20 || ch == 0x7f)
			return err_set(err, EINVAL, "description: control character \\x%02x at "
				       "position %zu is not allowed", ch, i + 1);
	}
	return 0;
}

/* ---- meta ------------------------------------------------------------------------------ */

#define META_KEY_MAX 128
#define META_VALUE_MAX 4096

int catalog_meta_get(struct catalog *c, const char *key, char *buf, size_t size)
{
	static const char sql[] = "SELECT value FROM meta WHERE key = ?1";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = catalog_stmt(c, sql, &st, NULL);
	if (r < 0)
		return r;
	rc = catalog_bind_text(st, 1, key);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, NULL, NULL);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, NULL, NULL);
	const char *v = (const char *)sqlite3_column_text(st, 0);
	size_t n = (size_t)sqlite3_column_bytes(st, 0);
	if (!v) {
		if (sqlite3_errcode(c->db) == SQLITE_NOMEM)
			return -ENOMEM;
		v = "";
		n = 0;
	}
	if (size > 0) {
		n = MIN(n, size - 1);
		memcpy(buf, v, n);
		buf[n] = 0;
	}
	return 0;
}

static int meta_key_check(const char *key, struct errbuf *err)
{
	size_t n = key ? strnlen(key, META_KEY_MAX + 1) : 0;

	if (n == 0 || n > META_KEY_MAX)
		return err_set(err, EINVAL, "setting names are 1 to %d characters long", META_KEY_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)key[i];
		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
		    !(ch >= '0' && ch <= '9') && ch != '.' && ch != '_' && ch != '-')
			return err_set(err, EINVAL, "setting name: character 0x%02x at position %zu "
				       "is not allowed; use letters, digits, '.', '_' and '-'",
				       ch, i + 1);
	}
	return 0;
}

int catalog_meta_set(struct catalog *c, const char *key, const char *value, struct errbuf *err)
{
	static const char sql[] = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
				  "ON CONFLICT (key) DO UPDATE SET value = excluded.value";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	bool own;
	int r, rc;

	r = meta_key_check(key, err);
	if (r < 0)
		return r;
	if (!value || strnlen(value, META_VALUE_MAX + 1) > META_VALUE_MAX)
		return err_set(err, EINVAL, "setting %s: the value must be at most %d bytes",
			       key, META_VALUE_MAX);
	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	r = catalog_stmt(c, sql, &st, err);
	if (r >= 0) {
		rc = catalog_bind_text(st, 1, key);
		if (rc == SQLITE_OK)
			rc = catalog_bind_text(st, 2, value);
		r = rc == SQLITE_OK ? catalog_step_done(c, st, err, "setting a value")
				    : catalog_sqlerr(c, rc, err, "binding");
	}
	stmt_resetp(&st);
	return catalog_tx_leave(c, own, r, err);
}

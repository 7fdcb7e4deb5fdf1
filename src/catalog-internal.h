/* catalog-internal.h — what catalog.c, catalog-device.c and catalog-segment.c share: the
 * connection structure, the prepared-statement cache, the error mapping from SQLite result
 * codes to errno values, and the transaction helpers that make every write atomic.
 *
 * Invariant of the statement cache: a cached statement is stepped to completion (or reset)
 * before the function that took it returns, and is never held while a caller's callback
 * runs. Iterations that call back (the *_foreach functions) prepare a private statement, so
 * a callback may call any catalog function, including the one that is iterating. */
#pragma once

#include <inttypes.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "catalog.h"

/* "PCFS": in the database header, so that another application's SQLite file is refused
 * instead of being migrated. */
#define CATALOG_APPLICATION_ID 0x50434653

/* The id an INSERT into table gives its row (schema v5): one above the highest it ever gave,
 * so that ids of removed rows are not used again. */
#define CATALOG_NEXT_ID(table, counter)                                                     \
	"(SELECT max(value, (SELECT coalesce(max(id), 0) FROM " table ")) + 1 FROM counters " \
	"WHERE name = '" counter "')"

/* More than the number of distinct SQL texts of the three files. */
#define CATALOG_STMT_CACHE 64

struct catalog {
	sqlite3 *db;
	char *path;
	bool rdonly;
	size_t n_cached;
	struct {
		const char *sql; /* identity is the pointer: every SQL text is a static array */
		sqlite3_stmt *stmt;
	} cache[CATALOG_STMT_CACHE];
};

/* Map an SQLite result code to a negative errno and describe it in err, prefixed by what
 * (may be NULL), always including sqlite3_errmsg(). */
int catalog_sqlerr(struct catalog *c, int rc, struct errbuf *err, const char *what);

/* The cached prepared statement for sql (a static array), reset and unbound. */
int catalog_stmt(struct catalog *c, const char *sql, sqlite3_stmt **ret, struct errbuf *err);
/* A private statement for an iteration that calls back; finalize it (stmt_finalizep). */
int catalog_stmt_private(struct catalog *c, const char *sql, sqlite3_stmt **ret,
			 struct errbuf *err);

static inline void stmt_resetp(sqlite3_stmt **s)
{
	if (*s) {
		sqlite3_reset(*s);
		sqlite3_clear_bindings(*s);
	}
}
#define _cleanup_stmt_ _cleanup_(stmt_resetp)

static inline void stmt_finalizep(sqlite3_stmt **s)
{
	sqlite3_finalize(*s);
}
#define _cleanup_stmt_finalize_ _cleanup_(stmt_finalizep)

/* Run a statement that returns no row (INSERT, UPDATE, DELETE). Returns 0 or an error. */
int catalog_step_done(struct catalog *c, sqlite3_stmt *st, struct errbuf *err, const char *what);

/* Bind helpers: return an SQLite result code (checked by the caller in one place). */
int catalog_bind_text(sqlite3_stmt *st, int i, const char *s);

/* Every write runs inside catalog_tx_enter/catalog_tx_leave: BEGIN IMMEDIATE when the caller
 * has no transaction open (so the write lock is taken up front and a busy database fails
 * before anything is changed), otherwise a SAVEPOINT, so that a failed operation leaves the
 * caller's transaction as it was before the call. -EROFS on a read-only catalogue. */
int catalog_tx_enter(struct catalog *c, bool *ret_own, struct errbuf *err);
/* r < 0: undo the operation. Returns r, or the error of COMMIT/RELEASE. */
int catalog_tx_leave(struct catalog *c, bool own, int r, struct errbuf *err);

/* Copy a TEXT column into a fixed buffer. -EPROTO (with what and the row id in the
 * message) if the stored value is NULL-free but too long, or holds a NUL byte: the
 * database is as hostile as any other file. */
int catalog_column_copy(struct catalog *c, sqlite3_stmt *st, int col, char *buf, size_t size,
			struct errbuf *err, const char *what, int64_t row);

/* Read a non-negative INTEGER column as uint64 (-EPROTO for a negative or non-integer). */
int catalog_column_u64(sqlite3_stmt *st, int col, uint64_t *ret);

/* Check a counter before binding it as a signed INTEGER. */
int catalog_check_u64(uint64_t v, struct errbuf *err, const char *what);

/* RFC 3339 UTC ("2026-11-22T10:00:00Z", fraction when not whole; "forever" for
 * TIME_INFINITY), for messages. buf of CATALOG_TIME_BUF is always enough. */
#define CATALOG_TIME_BUF 48
void catalog_format_time(int64_t ns, char *buf, size_t size);

/* Interface names: 1..DEVICE_NAME_MAX bytes, no '/', no control characters (an import may
 * be named after its file, spaces included). */
int catalog_interface_name_check(const char *name, struct errbuf *err);

/* A user-supplied string made safe for a message: printable ASCII as is, anything else
 * (and '"', '\\') as \xNN, at most the first 80 bytes of s followed by "...". */
#define CATALOG_ESCAPE_BUF (80 * 4 + 4)
const char *catalog_escape(const char *s, char *buf, size_t size);

/* Descriptions: at most DESCRIPTION_MAX bytes, no control characters. */
int catalog_description_check(const char *d, struct errbuf *err);

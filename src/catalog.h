/* catalog.h — the spool's SQLite catalogue: devices and their addresses over time, tags,
 * owners, grants, interfaces, segments and per-(segment, device) summaries.
 *
 * The database is catalog.db in the spool directory, in WAL mode (readers never block the
 * writer), with a schema version in PRAGMA user_version and forward-only migrations applied
 * in one transaction at open. Everything a caller passes is bound as a parameter, never
 * formatted into SQL. A database that another process holds locked longer than the busy
 * timeout gives -EBUSY with "catalogue <path> is locked by another process". Nothing here is
 * on the capture hot path: the writer calls it at segment open and seal only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "errbuf.h"

#define CATALOG_SCHEMA_VERSION 6
#define DEVICE_NAME_MAX 64
#define TAG_MAX 64
#define OWNER_MAX 64 /* a user name or "@group" */
#define DESCRIPTION_MAX 1024
#define DEVICE_TAGS_MAX 64
#define DEVICE_ADDRS_MAX 4096

struct catalog;

enum {
	CATALOG_RDONLY = 1 << 0, /* open read-only (readers: the mount, extract) */
	CATALOG_CREATE = 1 << 1, /* create the database if missing (pcapfsctl init only) */
};

/* Open (and migrate) path. busy_timeout_ms: how long to wait for another process's lock.
 * Errors: -ENOENT (no catalogue: "not a pcapfs spool, run pcapfsctl init"), -EBUSY (locked),
 * -EPROTO (corrupt, or a schema newer than this program: "catalogue schema 7 is newer than
 * this pcapfs (1)"), -EACCES. */
int catalog_open(const char *path, int flags, int busy_timeout_ms, struct catalog **ret,
		 struct errbuf *err);
void catalog_close(struct catalog *c);
/* How long the calls that follow wait for another process's lock (as catalog_open's). */
void catalog_set_busy_timeout(struct catalog *c, int busy_timeout_ms);

/* Transactions (BEGIN IMMEDIATE: a writer takes the write lock up front so it fails early
 * with -EBUSY rather than half-way). Nesting is not supported. */
int catalog_begin(struct catalog *c, struct errbuf *err);
int catalog_commit(struct catalog *c, struct errbuf *err);
void catalog_rollback(struct catalog *c);

/* Spool-wide settings in a key/value table (precision, snaplen, segment seconds...).
 * get: -ENOENT if unset. The returned string is copied into buf (truncated to size). */
int catalog_meta_get(struct catalog *c, const char *key, char *buf, size_t size);
int catalog_meta_set(struct catalog *c, const char *key, const char *value, struct errbuf *err);

/* ---- devices ---------------------------------------------------------------------- */

/* Device names: 1..DEVICE_NAME_MAX of [A-Za-z0-9._-], not starting with '.' or '-'
 * (so never ".", "..", "/", spaces or control characters). Tags: the same rule, TAG_MAX.
 * Owner: a user name ([A-Za-z0-9._-], not starting with '-') or "@" + group name; "" = none.
 * Return 0 or -EINVAL with a message that says which character is wrong. */
int device_name_check(const char *name, struct errbuf *err);
int tag_check(const char *tag, struct errbuf *err);
int owner_check(const char *owner, struct errbuf *err);

struct device_addr {
	int64_t id;
	struct addr addr;
	int64_t from_ns;  /* inclusive */
	int64_t until_ns; /* exclusive, TIME_INFINITY = still valid */
};

struct device {
	int64_t id;
	char name[DEVICE_NAME_MAX + 1];
	char owner[OWNER_MAX + 2];
	char *description; /* malloc'd, may be "" */
	char **tags;	   /* malloc'd array of malloc'd strings, sorted */
	size_t n_tags;
	struct device_addr *addrs; /* malloc'd, ordered by (family, bytes, prefix, from) */
	size_t n_addrs;
	int64_t created_ns;
};
void device_done(struct device *d); /* frees the members, accepts zeroed structs */

/* Add a device. -EEXIST if the name is taken. ret_id may be NULL. */
int catalog_device_add(struct catalog *c, const char *name, const char *owner,
		       const char *description, int64_t *ret_id, struct errbuf *err);
/* Look up by name (-ENOENT: "no device named X") or id; fills every member. */
int catalog_device_get(struct catalog *c, const char *name, struct device *ret, struct errbuf *err);
int catalog_device_get_by_id(struct catalog *c, int64_t id, struct device *ret, struct errbuf *err);
/* By name, or by id when name is NULL, without the addresses (n_addrs 0) and, unless tags,
 * without the tags: what an access decision needs, in one or two queries instead of three. */
int catalog_device_get_brief(struct catalog *c, const char *name, int64_t id, bool tags,
			     struct device *ret, struct errbuf *err);
/* Update owner / description (NULL = leave unchanged). */
int catalog_device_update(struct catalog *c, int64_t id, const char *owner,
			  const char *description, struct errbuf *err);
/* Remove a device, its addresses, tags, grants naming it and its summaries. */
int catalog_device_remove(struct catalog *c, int64_t id, struct errbuf *err);
/* All devices ordered by name; cb returns 0 to go on or a negative errno to stop (which is
 * returned). The struct is only valid during the call. */
int catalog_device_foreach(struct catalog *c, int (*cb)(const struct device *d, void *userdata),
			   void *userdata, struct errbuf *err);

int catalog_tag_add(struct catalog *c, int64_t device_id, const char *tag, struct errbuf *err);
int catalog_tag_remove(struct catalog *c, int64_t device_id, const char *tag, struct errbuf *err);

/* Bind an address or CIDR to a device for [from_ns, until_ns). An exact address (MAC,
 * full-length IP) may be held by one device at a time: if another device (or this one) holds
 * the same address in an overlapping interval, -EEXIST with "address 10.20.1.1 is held by
 * device cam-2 from 2026-11-22T10:00:00Z until forever; release it first (device set cam-2
 * --release 10.20.1.1 --at TIME)". CIDRs may overlap anything. from_ns < until_ns. */
int catalog_address_add(struct catalog *c, int64_t device_id, const struct addr *a,
			int64_t from_ns, int64_t until_ns, struct errbuf *err);
/* End the binding of a that is valid at at_ns (its until becomes at_ns). -ENOENT if none.
 * If at_ns <= its from, the binding is deleted. */
int catalog_address_release(struct catalog *c, int64_t device_id, const struct addr *a,
			    int64_t at_ns, struct errbuf *err);

/* Build the classification tables from every address of every device. */
int catalog_load_devmap(struct catalog *c, struct devmap **ret, struct errbuf *err);
/* A number that changes whenever devices or addresses change (for cheap reload checks). */
int catalog_registry_generation(struct catalog *c, int64_t *ret);
/* counters.content_generation (changes whenever a window that had stopped growing may have
 * changed: see catalog.c) and the number of imports still running. */
int catalog_content_state(struct catalog *c, int64_t *ret_generation, int64_t *ret_imports_running);

/* ---- interfaces and segments ---------------------------------------------------------- */

/* Find or create an interface (a capture source: "eth1", or an import name). */
int catalog_interface_get(struct catalog *c, const char *name, bool create, int64_t *ret_id,
			  struct errbuf *err);

enum segment_state {
	SEGMENT_OPEN = 0,   /* being written (or orphaned by a crash until recovered) */
	SEGMENT_SEALED = 1, /* complete; index sealed; summaries present */
};

struct segment {
	int64_t id;
	int64_t interface_id;
	char interface[DEVICE_NAME_MAX + 1];
	char path[256]; /* relative to the spool directory */
	uint32_t linktype;
	uint32_t snaplen;
	int tsprec; /* enum tsprec */
	int state;  /* enum segment_state */
	int64_t t_first, t_last; /* first and last packet timestamp; t_first = window start for open */
	uint64_t packets, bytes; /* bytes = size of the file */
	int64_t import_id;	 /* 0 for live capture */
};

/* Insert a new open segment; the caller then names the file after the id (path set later
 * with catalog_segment_set_path, in the same transaction). */
int catalog_segment_insert(struct catalog *c, const struct segment *s, int64_t *ret_id,
			   struct errbuf *err);
int catalog_segment_set_path(struct catalog *c, int64_t id, const char *path, struct errbuf *err);
int catalog_segment_get(struct catalog *c, int64_t id, struct segment *ret, struct errbuf *err);

struct segment_device_summary {
	int64_t device_id;
	int64_t t_first, t_last;
	uint64_t packets, bytes; /* bytes of records incl. their 16-byte headers */
};
/* Mark sealed with its final figures and replace its per-device summaries. */
int catalog_segment_seal(struct catalog *c, const struct segment *s,
			 const struct segment_device_summary *sums, size_t n_sums,
			 struct errbuf *err);
int catalog_segment_delete(struct catalog *c, int64_t id, struct errbuf *err);
/* The link type of the oldest segment row: 0 with *ret_found, or 0 without when there is
 * none. */
int catalog_segment_first_linktype(struct catalog *c, uint32_t *ret, bool *ret_found,
				   struct errbuf *err);
/* The summaries of a sealed segment, by device id (malloc'd; *ret NULL when none). */
int catalog_segment_summaries(struct catalog *c, int64_t segment_id,
			      struct segment_device_summary **ret, size_t *ret_n, struct errbuf *err);

/* Segments in id order (all, or only those in a state when state >= 0). */
int catalog_segment_foreach(struct catalog *c, int state,
			    int (*cb)(const struct segment *s, void *userdata), void *userdata,
			    struct errbuf *err);
/* Segments that may hold packets of device_id in [from_ns, until_ns): sealed segments with a
 * summary for the device overlapping the range, plus every open segment whose t_first <
 * until_ns (open segments have no summaries yet). Ordered by (t_first, interface_id). cb
 * must not call catalog_segments_for_device itself (its statement is cached). */
int catalog_segments_for_device(struct catalog *c, int64_t device_id, int64_t from_ns,
				int64_t until_ns, int (*cb)(const struct segment *s, void *userdata),
				void *userdata, struct errbuf *err);

/* Segments collected by a walk above: segment_list_add as the callback, the list as its
 * userdata (-ENOMEM ends the walk); free(v) when done. */
struct segment_list {
	struct segment *v;
	size_t n, cap;
};
int segment_list_add(const struct segment *s, void *userdata);

/* Per-device totals over sealed segments (for device list/show). */
struct device_totals {
	uint64_t packets, bytes;
	int64_t t_first, t_last; /* 0 when no packets */
	uint64_t segments;
};
int catalog_device_totals(struct catalog *c, int64_t device_id, struct device_totals *ret,
			  struct errbuf *err);
/* The hours (UTC) in which the device has packets, ascending, from the summaries (an hour
 * is listed when any sealed segment summary overlaps it), with the totals of the summaries
 * that lie inside each. When whole, every summary overlapping the hour lies inside it, and
 * the totals are the hour's own (as catalog_window_totals would sum them). *ret malloc'd.
 * ret_open_from (unless NULL): t_first of the oldest open segment, INT64_MAX when none (an
 * open segment may still add packets to any hour that ends after it). */
struct device_hour {
	int64_t start_ns;
	uint64_t packets, bytes;
	int64_t t_last; /* latest packet of the summaries inside (0: none) */
	bool whole;
};
int catalog_device_hours(struct catalog *c, int64_t device_id, struct device_hour **ret,
			 size_t *ret_n, int64_t *ret_open_from, struct errbuf *err);

/* ---- imports ---------------------------------------------------------------------------- */

enum import_state {
	IMPORT_RUNNING = 0,
	IMPORT_DONE = 1,
	IMPORT_FAILED = 2,	/* rolled back: its segments were removed */
	IMPORT_INTERRUPTED = 3, /* the importer died; flushed data recovered and kept */
};
int catalog_import_begin(struct catalog *c, const char *source, int64_t *ret_id,
			 struct errbuf *err);
int catalog_import_end(struct catalog *c, int64_t id, int state, uint64_t packets,
		       uint64_t bytes, struct errbuf *err);
/* Segments of one import (for rollback). */
int catalog_import_segments(struct catalog *c, int64_t import_id,
			    int (*cb)(const struct segment *s, void *userdata), void *userdata,
			    struct errbuf *err);
struct import_info {
	int64_t id;
	char source[1024];
	int state;
	int64_t started_ns, ended_ns;
	uint64_t packets, bytes;
};
/* What sealed segments of interface iface, other than import except_import's, hold in
 * [t_from, t_to] (their first to last packet meeting it): their packets, and the import of
 * the first of them (0: live capture). *ret_packets 0: none. */
int catalog_interface_overlap(struct catalog *c, const char *iface, int64_t except_import,
			      int64_t t_from, int64_t t_to, uint64_t *ret_packets,
			      int64_t *ret_first_import, struct errbuf *err);
/* Mark a completed or interrupted import as rolled back (IMPORT_FAILED), its segments being
 * removed in the same transaction by the caller. -ENOENT when it is neither. */
int catalog_import_removed(struct catalog *c, int64_t id, struct errbuf *err);
/* One import by id (-ENOENT: none). */
int catalog_import_get(struct catalog *c, int64_t id, struct import_info *ret, struct errbuf *err);
/* Imports in id order (all, or those in one state when state >= 0). */
int catalog_import_foreach(struct catalog *c, int state,
			   int (*cb)(const struct import_info *i, void *userdata), void *userdata,
			   struct errbuf *err);

/* ---- grants ------------------------------------------------------------------------------ */

/* principal "user:NAME" or "group:NAME"; target a device name, "tag:TAG" or "*". */
#define GRANT_PRINCIPAL_MAX (6 + OWNER_MAX)
#define GRANT_TARGET_MAX (4 + TAG_MAX)
struct grant {
	int64_t id;
	char principal[GRANT_PRINCIPAL_MAX + 1];
	char target[GRANT_TARGET_MAX + 1];
	int64_t created_ns;
};
/* Check the syntax of a grant: -EINVAL with a message. */
int grant_check(const char *principal, const char *target, struct errbuf *err);
/* -EEXIST if held already, -ENOENT for a device target that does not exist. */
int catalog_grant_add(struct catalog *c, const char *principal, const char *target,
		      struct errbuf *err);
/* -ENOENT if there is no such grant. */
int catalog_grant_remove(struct catalog *c, const char *principal, const char *target,
			 struct errbuf *err);
/* All grants ordered by (target, principal). */
int catalog_grant_foreach(struct catalog *c, int (*cb)(const struct grant *g, void *userdata),
			  void *userdata, struct errbuf *err);
/* All grants as one malloc'd array (*ret may be NULL when there are none). */
/* Per-role limits on windows (policy.h): 0 = no limit. Stored in the meta table as
 * limit.<role>.max_width_ns and limit.<role>.max_lookback_ns. */
struct role_limits {
	int64_t max_width_ns;
	int64_t max_lookback_ns;
};
#define ROLE_LIMITS_ROLES 3 /* user, auditor, admin */
int catalog_role_limits_load(struct catalog *c, struct role_limits ret[ROLE_LIMITS_ROLES],
			     struct errbuf *err);
/* role: "user", "auditor" or "admin". A negative value leaves that limit as it is. */
int catalog_role_limits_set(struct catalog *c, const char *role, int64_t max_width_ns,
			    int64_t max_lookback_ns, struct errbuf *err);
int catalog_grants_load(struct catalog *c, struct grant **ret, size_t *ret_n, struct errbuf *err);

/* ---- window totals ------------------------------------------------------------------------ */

/* The device's totals over [from_ns, until_ns) from the per-(segment, device) summaries of
 * sealed segments: exact (equal to what a read plan gives, without reading any index) when
 * partial == 0 (every summary lies inside the window) and open_segments == 0 (no segment
 * that may still receive packets starts before until_ns). One indexed query. */
struct window_totals {
	uint64_t packets, bytes; /* bytes of records incl. their headers */
	int64_t t_last;		 /* 0 when no packet */
	uint64_t partial;	 /* summaries that straddle the window's bounds */
	uint64_t open_segments;
};
int catalog_window_totals(struct catalog *c, int64_t device_id, int64_t from_ns, int64_t until_ns,
			  struct window_totals *ret, struct errbuf *err);

/* ---- capture statistics (catalog-stats.c) ------------------------------------------------ */

/* One sample of an interface's capture counters, cumulative since the daemon started
 * capturing on it: received/dropped/if_dropped as pcap_stats reports them, packets and
 * bytes (on-wire length) as captured. */
struct capture_stats {
	int64_t interface_id;
	char interface[DEVICE_NAME_MAX + 1]; /* filled by the readers */
	int64_t ts_ns;
	uint64_t received, dropped, if_dropped;
	uint64_t packets, bytes;
};
/* Store one sample (interface_id must exist). -EEXIST for a second sample of the same
 * interface at the same ts_ns. */
int catalog_stats_add(struct catalog *c, const struct capture_stats *s, struct errbuf *err);
/* The newest sample of every interface that has one, in interface name order, with the one
 * before it (prev->ts_ns == 0 when there is none) for rates. One indexed query each. */
int catalog_stats_latest(struct catalog *c,
			 int (*cb)(const struct capture_stats *last, const struct capture_stats *prev,
				   void *userdata),
			 void *userdata, struct errbuf *err);
/* Delete the samples older than before_ns; ret_removed (may be NULL) gets their count. */
int catalog_stats_prune(struct catalog *c, int64_t before_ns, uint64_t *ret_removed,
			struct errbuf *err);

/* ---- the query log (catalog-access.c) ------------------------------------------------------ */

#define ACCESS_OP_MAX 15
#define ACCESS_USER_MAX 255
#define ACCESS_PATH_MAX 511
#define ACCESS_REASON_MAX 255
#define ACCESS_WINDOW_MAX 79

/* One access as the mount saw it: an open, a close or a refusal (allowed false). */
struct access_row {
	int64_t id; /* the event id, also in the Linux audit record (event=) */
	int64_t ts_ns;
	char op[ACCESS_OP_MAX + 1]; /* "open", "close", "lookup" */
	bool allowed;
	uint32_t uid, gid;
	int32_t pid;
	char user[ACCESS_USER_MAX + 1];	  /* "" when the uid has no user */
	char device[DEVICE_NAME_MAX + 1]; /* "" for files that are not a device's */
	char window[ACCESS_WINDOW_MAX + 1];
	char path[ACCESS_PATH_MAX + 1];
	char reason[ACCESS_REASON_MAX + 1];
	uint64_t bytes;	     /* close: bytes served */
	int64_t duration_ns; /* close: how long the file was open */
	int64_t open_id;     /* close: the event id of its open */
};
/* Append a row; its id is set in r->id. Each text member is stored up to its NUL or its
 * size (the caller cuts longer values when filling them). */
int catalog_access_add(struct catalog *c, struct access_row *r, struct errbuf *err);
/* A recorded access that was refused after all (its Linux audit record could not be
 * written): allowed becomes false, reason is replaced (cut to ACCESS_REASON_MAX). */
int catalog_access_refuse(struct catalog *c, int64_t id, const char *reason, struct errbuf *err);

/* What catalog_access_foreach selects: every member that is set narrows the selection. */
struct access_filter {
	const char *user;   /* NULL: any */
	int64_t uid;	    /* < 0: any */
	const char *device; /* NULL: any */
	const char *op;	    /* NULL: any */
	int allowed;	    /* < 0: any, 0 refused, 1 allowed */
	int64_t since_ns;   /* ts_ns >= since_ns */
	int64_t until_ns;   /* ts_ns < until_ns; 0: no bound */
	int64_t after_id;   /* id > after_id (a cursor); 0: from the start */
	uint64_t offset;    /* rows skipped first (pages) */
	uint64_t limit;	    /* 0: no limit */
};
/* Matching rows in id order (the order they were recorded). cb returns 0 to go on, or a
 * negative errno to stop (returned). */
int catalog_access_foreach(struct catalog *c, const struct access_filter *f,
			   int (*cb)(const struct access_row *r, void *userdata), void *userdata,
			   struct errbuf *err);
/* The UTC days (as the ns of their midnight) that hold rows, ascending, at most max_days of
 * them. *ret malloc'd (NULL when none). */
int catalog_access_days(struct catalog *c, size_t max_days, int64_t **ret, size_t *ret_n,
			struct errbuf *err);
/* The number of rows and the highest id in [from_ns, until_ns). */
int catalog_access_count(struct catalog *c, int64_t from_ns, int64_t until_ns, uint64_t *ret_n,
			 int64_t *ret_max_id, struct errbuf *err);
/* Delete the rows older than before_ns, oldest first, at most max_rows of them (0: all), in
 * transactions of a bounded size; ret_removed (may be NULL) gets their count. */
int catalog_access_prune(struct catalog *c, int64_t before_ns, uint64_t max_rows,
			 uint64_t *ret_removed, struct errbuf *err);

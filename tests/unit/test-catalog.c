/* test-catalog.c — the SQLite catalogue: open and migrations, locking, read-only use, the
 * name rules, devices, tags, address bindings and their conflicts, segments and summaries,
 * per-device listings, imports. Each test works in its own catalogue in a private
 * temporary directory, removed at the end. */
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>

#include "catalog.h"
#include "tests.h"

#define SEC NS_PER_SEC
#define HOUR (3600 * NS_PER_SEC)
/* 2026-11-22T10:00:00Z */
#define T0 (INT64_C(1795341600) * NS_PER_SEC)

#define OK(x) CHECK_INT((x), 0)
#define CHECK_MSG(e, s)                                                                    \
	do {                                                                               \
		if (!strstr((e).msg, (s))) {                                               \
			fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__,  \
				__LINE__, (e).msg, (s));                                   \
			tests_failed++;                                                    \
		}                                                                          \
	} while (0)

static char dir[64];

static void path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static struct catalog *open_new(const char *name)
{
	struct catalog *c = NULL;
	struct errbuf e = { "" };
	char p[128];

	path_of(p, sizeof(p), name);
	int r = catalog_open(p, CATALOG_CREATE, 1000, &c, &e);
	if (r < 0)
		fprintf(stderr, "open %s: %s\n", p, e.msg);
	CHECK_INT(r, 0);
	return c;
}

/* Run SQL on a database file with a plain SQLite connection. */
static void raw_exec(const char *name, const char *sql)
{
	sqlite3 *db = NULL;
	char p[128];

	path_of(p, sizeof(p), name);
	CHECK_INT(sqlite3_open(p, &db), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static struct addr mac(uint8_t last)
{
	struct addr a = { .family = ADDR_MAC, .prefix = 48, .bytes = { 2, 0, 0, 0, 0, last } };
	return a;
}

static struct addr ip4(uint8_t a0, uint8_t a1, uint8_t a2, uint8_t a3, uint8_t prefix)
{
	struct addr a = { .family = ADDR_IPV4, .prefix = prefix, .bytes = { a0, a1, a2, a3 } };
	return a;
}

static void test_open(void)
{
	struct catalog *c = NULL;
	struct errbuf e = { "" };
	char p[128], buf[32];

	path_of(p, sizeof(p), "missing.db");
	CHECK_INT(catalog_open(p, 0, 100, &c, &e), -ENOENT);
	CHECK(c == NULL);
	CHECK_MSG(e, "not a pcapfs spool (no catalogue); run pcapfsctl init");
	CHECK_INT(catalog_open(p, CATALOG_RDONLY, 100, &c, &e), -ENOENT);

	/* Create, then reopen: the schema is there, settings persist. */
	c = open_new("open.db");
	OK(catalog_meta_set(c, "segment_seconds", "60", &e));
	OK(catalog_meta_set(c, "segment_seconds", "30", &e));
	CHECK_INT(catalog_meta_set(c, "bad key", "1", &e), -EINVAL);
	CHECK_INT(catalog_meta_get(c, "nothing", buf, sizeof(buf)), -ENOENT);
	catalog_close(c);
	path_of(p, sizeof(p), "open.db");
	OK(catalog_open(p, 0, 100, &c, &e));
	OK(catalog_meta_get(c, "segment_seconds", buf, sizeof(buf)));
	CHECK_STR(buf, "30");
	OK(catalog_meta_get(c, "segment_seconds", buf, 2)); /* truncated to the buffer */
	CHECK_STR(buf, "3");
	catalog_close(c);
	catalog_close(NULL);

	/* An empty file is migrated from version 0. */
	path_of(p, sizeof(p), "empty.db");
	FILE *f = fopen(p, "we");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK_INT(catalog_open(p, CATALOG_RDONLY, 100, &c, &e), -EPROTO);
	CHECK_MSG(e, "needs upgrading; run any pcapfsctl command as its owner");
	OK(catalog_open(p, 0, 100, &c, &e));
	catalog_close(c);
	sqlite3 *db;
	sqlite3_stmt *st;
	CHECK_INT(sqlite3_open(p, &db), SQLITE_OK);
	CHECK_INT(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	CHECK_INT(sqlite3_column_int(st, 0), CATALOG_SCHEMA_VERSION);
	sqlite3_finalize(st);
	CHECK_INT(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* Newer than this program. */
	raw_exec("empty.db", "PRAGMA user_version = 99");
	CHECK_INT(catalog_open(p, 0, 100, &c, &e), -EPROTO);
	CHECK_MSG(e, "catalogue schema 99 is newer than this pcapfs (");
	CHECK_INT(catalog_open(p, CATALOG_RDONLY, 100, &c, &e), -EPROTO);
	CHECK(c == NULL);

	/* Another application's database is left alone. */
	raw_exec("other.db", "CREATE TABLE t (x)");
	path_of(p, sizeof(p), "other.db");
	CHECK_INT(catalog_open(p, CATALOG_CREATE, 100, &c, &e), -EPROTO);
	CHECK_MSG(e, "not a pcapfs catalogue");
	raw_exec("other.db", "PRAGMA application_id = 42");
	CHECK_INT(catalog_open(p, 0, 100, &c, &e), -EPROTO);

	/* Not a database at all. */
	path_of(p, sizeof(p), "garbage.db");
	f = fopen(p, "we");
	CHECK(f != NULL);
	if (f) {
		for (int i = 0; i < 4096; i++)
			fputc(i * 7 + 3, f);
		fclose(f);
	}
	CHECK_INT(catalog_open(p, 0, 100, &c, &e), -EPROTO);
	CHECK_INT(catalog_open(p, CATALOG_RDONLY, 100, &c, &e), -EPROTO);
	CHECK_INT(catalog_open(dir, 0, 100, &c, &e), -EPROTO); /* a directory */
}

static void test_names(void)
{
	static const char *const bad[] = {
		"a/b", "..", ".", ".hidden", "-x", "a b", "a\nb", "", "caf\xc3\xa9", "a:b", "a\\b",
		"0123456789012345678901234567890123456789012345678901234567890123x",
	};
	struct errbuf e = { "" };

	OK(device_name_check("cam-1", &e));
	OK(device_name_check("a.b_c-D9", &e));
	OK(device_name_check("0123456789012345678901234567890123456789012345678901234567890123", &e));
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		CHECK_INT(device_name_check(bad[i], &e), -EINVAL);
		CHECK_INT(tag_check(bad[i], &e), -EINVAL);
	}
	CHECK_INT(device_name_check(NULL, &e), -EINVAL);
	CHECK_INT(device_name_check("a/b", &e), -EINVAL);
	CHECK_STR(e.msg, "device name \"a/b\": character '/' (0x2f) at position 2 is not allowed; "
			 "use letters, digits, '.', '_' and '-'");
	CHECK_INT(device_name_check("a\nb", &e), -EINVAL);
	CHECK_STR(e.msg, "device name \"a\\x0ab\": character \\x0a at position 2 is not allowed; "
			 "use letters, digits, '.', '_' and '-'");
	CHECK_INT(device_name_check("a b", &e), -EINVAL);
	CHECK_MSG(e, "character ' ' (0x20) at position 2");
	CHECK_INT(device_name_check("..", &e), -EINVAL);
	CHECK_STR(e.msg, "device name must not start with '.'");
	CHECK_INT(device_name_check("-x", &e), -EINVAL);
	CHECK_STR(e.msg, "device name must not start with '-'");
	CHECK_INT(device_name_check("", &e), -EINVAL);
	CHECK_STR(e.msg, "device name must not be empty");
	CHECK_INT(device_name_check(bad[ELEMENTSOF(bad) - 1], &e), -EINVAL);
	CHECK_STR(e.msg, "device name is longer than 64 characters");
	CHECK_INT(tag_check("x y", &e), -EINVAL);
	CHECK_MSG(e, "tag \"x y\"");

	OK(owner_check("", &e));
	OK(owner_check(NULL, &e));
	OK(owner_check("alice", &e));
	OK(owner_check(".svc", &e));
	OK(owner_check("@staff", &e));
	CHECK_INT(owner_check("-alice", &e), -EINVAL);
	CHECK_INT(owner_check("al ice", &e), -EINVAL);
	CHECK_INT(owner_check("@", &e), -EINVAL);
	CHECK_INT(owner_check("@st/aff", &e), -EINVAL);
	CHECK_MSG(e, "owner group name \"@st/aff\": character '/' (0x2f) at position 4");
	CHECK_INT(owner_check("@@x", &e), -EINVAL);
}

static int count_cb(const struct device *d, void *userdata)
{
	char *names = userdata;
	strcat(names, d->name);
	strcat(names, ",");
	return 0;
}

static int stop_cb(const struct device *d, void *userdata)
{
	return -ECANCELED;
}

/* A callback may write: the iteration runs on its own statement. */
static int tag_cb(const struct device *d, void *userdata)
{
	if (d->n_tags == DEVICE_TAGS_MAX)
		return 0;
	return catalog_tag_add(userdata, d->id, "seen", NULL);
}

static void test_devices(void)
{
	struct catalog *c = open_new("devices.db");
	struct errbuf e = { "" };
	struct device d = { 0 };
	int64_t id1, id2, id3, g0, g1;
	char names[256] = "";

	if (!c)
		return;
	OK(catalog_registry_generation(c, &g0));
	OK(catalog_device_add(c, "cam-2", "alice", "lobby camera", &id2, &e));
	OK(catalog_device_add(c, "cam-1", NULL, NULL, &id1, &e));
	OK(catalog_device_add(c, "plc", "@ot", "", NULL, &e));
	OK(catalog_registry_generation(c, &g1));
	CHECK(g1 != g0);
	CHECK_INT(catalog_device_add(c, "cam-1", "", "", &id3, &e), -EEXIST);
	CHECK_STR(e.msg, "device cam-1 already exists");
	CHECK_INT(catalog_device_add(c, "CAM-1", "", "", &id3, &e), -EEXIST);
	CHECK_MSG(e, "differs only in case from device cam-1");
	CHECK_INT(catalog_device_add(c, "a/b", "", "", &id3, &e), -EINVAL);
	CHECK_INT(catalog_device_add(c, "x", "bad owner", "", &id3, &e), -EINVAL);
	CHECK_INT(catalog_device_add(c, "x", "", "line\nbreak", &id3, &e), -EINVAL);
	OK(catalog_registry_generation(c, &g0));
	CHECK_INT(g0, g1); /* failures change nothing */

	OK(catalog_device_get(c, "cam-2", &d, &e));
	CHECK_INT(d.id, id2);
	CHECK_STR(d.name, "cam-2");
	CHECK_STR(d.owner, "alice");
	CHECK_STR(d.description, "lobby camera");
	CHECK_INT(d.n_tags, 0);
	CHECK_INT(d.n_addrs, 0);
	CHECK(d.created_ns > 0);
	device_done(&d);
	device_done(&d);
	CHECK_INT(catalog_device_get(c, "nope", &d, &e), -ENOENT);
	CHECK_STR(e.msg, "no device named nope");
	CHECK_INT(catalog_device_get_by_id(c, 999, &d, &e), -ENOENT);

	OK(catalog_device_update(c, id1, "@ops", NULL, &e));
	OK(catalog_device_update(c, id1, NULL, "door", &e));
	OK(catalog_device_update(c, id1, NULL, NULL, &e));
	CHECK_INT(catalog_device_update(c, 999, "bob", NULL, &e), -ENOENT);
	CHECK_INT(catalog_device_update(c, id1, "-bob", NULL, &e), -EINVAL);
	OK(catalog_device_get_by_id(c, id1, &d, &e));
	CHECK_STR(d.owner, "@ops");
	CHECK_STR(d.description, "door");
	device_done(&d);

	/* Tags: sorted, no duplicates, bounded. */
	OK(catalog_registry_generation(c, &g0));
	OK(catalog_tag_add(c, id1, "outdoor", &e));
	OK(catalog_tag_add(c, id1, "cameras", &e));
	OK(catalog_registry_generation(c, &g1));
	CHECK(g1 != g0);
	CHECK_INT(catalog_tag_add(c, id1, "cameras", &e), -EEXIST);
	CHECK_INT(catalog_tag_add(c, id1, "bad tag", &e), -EINVAL);
	CHECK_INT(catalog_tag_add(c, 999, "x", &e), -ENOENT);
	OK(catalog_device_get(c, "cam-1", &d, &e));
	CHECK_INT(d.n_tags, 2);
	if (d.n_tags == 2) {
		CHECK_STR(d.tags[0], "cameras");
		CHECK_STR(d.tags[1], "outdoor");
	}
	/* The brief forms: the row and, when asked, the tags; never the addresses. */
	struct device brief;
	OK(catalog_device_get_brief(c, "cam-1", 0, true, &brief, &e));
	CHECK_INT(brief.id, d.id);
	CHECK_STR(brief.owner, d.owner);
	CHECK_INT(brief.n_tags, 2);
	CHECK_INT(brief.n_addrs, 0);
	device_done(&brief);
	OK(catalog_device_get_brief(c, NULL, d.id, false, &brief, &e));
	CHECK_STR(brief.name, "cam-1");
	CHECK_INT(brief.n_tags, 0);
	device_done(&brief);
	CHECK_INT(catalog_device_get_brief(c, "nope", 0, true, &brief, &e), -ENOENT);
	device_done(&d);
	OK(catalog_tag_remove(c, id1, "outdoor", &e));
	CHECK_INT(catalog_tag_remove(c, id1, "outdoor", &e), -ENOENT);
	for (int i = 1; i < DEVICE_TAGS_MAX; i++) {
		char tag[16];
		snprintf(tag, sizeof(tag), "t%02d", i);
		OK(catalog_tag_add(c, id1, tag, &e));
	}
	CHECK_INT(catalog_tag_add(c, id1, "onemore", &e), -E2BIG);
	OK(catalog_device_get(c, "cam-1", &d, &e));
	CHECK_INT(d.n_tags, DEVICE_TAGS_MAX);
	device_done(&d);

	OK(catalog_device_foreach(c, count_cb, names, &e));
	CHECK_STR(names, "cam-1,cam-2,plc,");
	CHECK_INT(catalog_device_foreach(c, stop_cb, NULL, &e), -ECANCELED);
	OK(catalog_device_foreach(c, tag_cb, c, &e));
	OK(catalog_device_get(c, "plc", &d, &e));
	CHECK_INT(d.n_tags, 1);
	if (d.n_tags == 1)
		CHECK_STR(d.tags[0], "seen");
	OK(catalog_tag_remove(c, d.id, "seen", &e));
	device_done(&d);

	/* Removal takes tags and the grants naming the device along. */
	raw_exec("devices.db", "INSERT INTO grants (principal, target) VALUES ('user:bob', 'cam-2'),"
			       " ('user:bob', 'tag:cameras')");
	OK(catalog_device_remove(c, id2, &e));
	CHECK_INT(catalog_device_remove(c, id2, &e), -ENOENT);
	CHECK_INT(catalog_device_get(c, "cam-2", &d, &e), -ENOENT);
	names[0] = 0;
	OK(catalog_device_foreach(c, count_cb, names, &e));
	CHECK_STR(names, "cam-1,plc,");
	catalog_close(c);

	sqlite3 *db;
	sqlite3_stmt *st;
	char p[128];
	path_of(p, sizeof(p), "devices.db");
	CHECK_INT(sqlite3_open(p, &db), SQLITE_OK);
	CHECK_INT(sqlite3_prepare_v2(db, "SELECT group_concat(target) FROM grants", -1, &st, NULL),
		  SQLITE_OK);
	CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(st, 0), "tag:cameras");
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* A hostile name in the file is refused, not handed to the mount as a directory. */
	raw_exec("devices.db", "UPDATE devices SET name = '../etc' WHERE name = 'plc'");
	OK(catalog_open(p, 0, 100, &c, &e));
	CHECK_INT(catalog_device_get(c, "../etc", &d, &e), -EPROTO);
	CHECK_INT(catalog_device_foreach(c, count_cb, names, &e), -EPROTO);
	catalog_close(c);
}

static void test_addresses(void)
{
	struct catalog *c = open_new("addresses.db");
	struct errbuf e = { "" };
	struct device d = { 0 };
	struct devmap *m = NULL;
	int64_t cam1, cam2, cam3, g0, g1;
	struct addr m1 = mac(1);

	if (!c)
		return;
	OK(catalog_device_add(c, "cam-1", "", "", &cam1, &e));
	OK(catalog_device_add(c, "cam-2", "", "", &cam2, &e));
	OK(catalog_device_add(c, "cam-3", "", "", &cam3, &e));

	OK(catalog_registry_generation(c, &g0));
	OK(catalog_address_add(c, cam1, &m1, T0, TIME_INFINITY, &e));
	OK(catalog_registry_generation(c, &g1));
	CHECK(g1 != g0);

	/* Same exact address, overlapping: refused for another device and for the holder. */
	CHECK_INT(catalog_address_add(c, cam2, &m1, T0 + HOUR, TIME_INFINITY, &e), -EEXIST);
	CHECK_STR(e.msg, "address 02:00:00:00:00:01 is held by device cam-1 from "
			 "2026-11-22T10:00:00Z until forever; release it first (device set cam-1 "
			 "--release 02:00:00:00:00:01 --at TIME)");
	CHECK_INT(catalog_address_add(c, cam1, &m1, T0 - HOUR, T0 + 1, &e), -EEXIST);
	OK(catalog_registry_generation(c, &g0));
	CHECK_INT(g0, g1);

	/* The reassignment: release at T1, the next holder starts at T1. */
	OK(catalog_address_release(c, cam1, &m1, T0 + HOUR, &e));
	OK(catalog_address_add(c, cam2, &m1, T0 + HOUR, TIME_INFINITY, &e));
	OK(catalog_address_add(c, cam1, &m1, T0 - HOUR, T0, &e)); /* adjacent before */
	CHECK_INT(catalog_address_add(c, cam3, &m1, T0 + 5 * SEC, T0 + 6 * SEC + 500 * NS_PER_US,
				      &e), -EEXIST);
	CHECK_MSG(e, "held by device cam-1 from 2026-11-22T10:00:00Z until 2026-11-22T11:00:00Z;");
	CHECK_INT(catalog_address_release(c, cam3, &m1, T0 + 2 * HOUR, &e), -ENOENT);
	CHECK_MSG(e, "device cam-3 holds no binding of 02:00:00:00:00:01 valid at");
	/* Released where it starts: the binding goes. */
	OK(catalog_address_release(c, cam2, &m1, T0 + HOUR, &e));
	CHECK_INT(catalog_address_release(c, cam2, &m1, T0 + HOUR, &e), -ENOENT);
	OK(catalog_address_add(c, cam3, &m1, T0 + 2 * HOUR, T0 + 3 * HOUR, &e));

	/* CIDRs overlap anything; an exact IP inside them still conflicts with itself. */
	struct addr net8 = ip4(10, 0, 0, 0, 8), net16 = ip4(10, 1, 0, 0, 16);
	struct addr host = ip4(10, 1, 1, 1, 32);
	OK(catalog_address_add(c, cam1, &net8, 0, TIME_INFINITY, &e));
	OK(catalog_address_add(c, cam2, &net8, 0, TIME_INFINITY, &e));
	OK(catalog_address_add(c, cam1, &net8, T0, TIME_INFINITY, &e));
	OK(catalog_address_add(c, cam3, &net16, 0, TIME_INFINITY, &e));
	OK(catalog_address_add(c, cam1, &host, 0, TIME_INFINITY, &e));
	CHECK_INT(catalog_address_add(c, cam2, &host, T0, T0 + 1, &e), -EEXIST);
	CHECK_MSG(e, "address 10.1.1.1 is held by device cam-1 from 1970-01-01T00:00:00Z");
	struct addr v6 = { .family = ADDR_IPV6, .prefix = 128,
			   .bytes = { 0xfd, [15] = 1 } };
	OK(catalog_address_add(c, cam2, &v6, 0, TIME_INFINITY, &e));
	CHECK_INT(catalog_address_add(c, cam3, &v6, T0, T0 + 1, &e), -EEXIST);

	/* Malformed requests. */
	struct addr hostbits = ip4(10, 0, 0, 1, 8), badmac = mac(2), badfam = { .family = 9 };
	badmac.prefix = 24;
	CHECK_INT(catalog_address_add(c, cam1, &hostbits, 0, 1, &e), -EINVAL);
	CHECK_INT(catalog_address_add(c, cam1, &badmac, 0, 1, &e), -EINVAL);
	CHECK_INT(catalog_address_add(c, cam1, &badfam, 0, 1, &e), -EINVAL);
	struct addr m9 = mac(9);
	CHECK_INT(catalog_address_add(c, cam1, &m9, T0, T0, &e), -EINVAL);
	CHECK_INT(catalog_address_add(c, cam1, &m9, T0 + 1, T0, &e), -EINVAL);
	CHECK_INT(catalog_address_add(c, 999, &m9, 0, 1, &e), -ENOENT);

	/* The device lists its bindings ordered by (family, bytes, prefix, from). */
	OK(catalog_device_get(c, "cam-1", &d, &e));
	CHECK_INT(d.n_addrs, 5);
	if (d.n_addrs == 5) {
		CHECK_INT(d.addrs[0].addr.family, ADDR_MAC);
		CHECK_INT(d.addrs[0].from_ns, T0 - HOUR);
		CHECK_INT(d.addrs[0].until_ns, T0);
		CHECK_INT(d.addrs[1].from_ns, T0);
		CHECK_INT(d.addrs[1].until_ns, T0 + HOUR);
		CHECK_INT(d.addrs[2].addr.prefix, 8);
		CHECK_INT(d.addrs[2].from_ns, 0);
		CHECK_INT(d.addrs[3].addr.prefix, 8);
		CHECK_INT(d.addrs[3].from_ns, T0);
		CHECK_INT(d.addrs[4].addr.prefix, 32);
		CHECK_INT(d.addrs[4].until_ns, TIME_INFINITY);
		CHECK(memcmp(&d.addrs[4].addr, &host, sizeof(host)) == 0);
	}
	device_done(&d);

	/* 5 (cam-1) + 2 (cam-2) + 2 (cam-3) bindings. */
	OK(catalog_load_devmap(c, &m, &e));
	CHECK(m != NULL);
	if (m)
		CHECK_INT(devmap_count(m), 9);
	devmap_free(m);

	/* The per-device cap; in a transaction, so a failure inside keeps the earlier work. */
	OK(catalog_begin(c, &e));
	CHECK_INT(catalog_begin(c, &e), -EINVAL);
	for (int i = 0; i < DEVICE_ADDRS_MAX - 2; i++) {
		struct addr a = ip4(192, 168, (uint8_t)(i >> 8), (uint8_t)i, 32);
		OK(catalog_address_add(c, cam2, &a, 0, TIME_INFINITY, &e));
	}
	struct addr extra = ip4(172, 16, 0, 1, 32);
	CHECK_INT(catalog_address_add(c, cam2, &extra, 0, TIME_INFINITY, &e), -E2BIG);
	CHECK_MSG(e, "device cam-2 already has 4096 address bindings");
	OK(catalog_device_get(c, "cam-2", &d, &e));
	CHECK_INT(d.n_addrs, DEVICE_ADDRS_MAX);
	device_done(&d);
	catalog_rollback(c);
	OK(catalog_device_get(c, "cam-2", &d, &e));
	CHECK_INT(d.n_addrs, 2);
	device_done(&d);
	CHECK_INT(catalog_commit(c, &e), -EINVAL);

	OK(catalog_begin(c, &e));
	OK(catalog_address_add(c, cam2, &extra, 0, TIME_INFINITY, &e));
	OK(catalog_commit(c, &e));
	OK(catalog_device_get(c, "cam-2", &d, &e));
	CHECK_INT(d.n_addrs, 3);
	device_done(&d);

	/* Removing a device releases its addresses. */
	OK(catalog_device_remove(c, cam1, &e));
	OK(catalog_address_add(c, cam3, &host, 0, TIME_INFINITY, &e));
	catalog_close(c);
}

struct seglist {
	int64_t ids[16];
	size_t n;
};

static int seg_cb(const struct segment *s, void *userdata)
{
	struct seglist *l = userdata;
	if (l->n < ELEMENTSOF(l->ids))
		l->ids[l->n++] = s->id;
	return 0;
}

static struct seglist for_device(struct catalog *c, int64_t dev, int64_t from, int64_t until)
{
	struct seglist l = { .n = 0 };
	struct errbuf e = { "" };
	OK(catalog_segments_for_device(c, dev, from, until, seg_cb, &l, &e));
	return l;
}

#define CHECK_LIST(l, ...)                                                        \
	do {                                                                      \
		int64_t _want[] = { __VA_ARGS__ };                                \
		CHECK_INT((l).n, ELEMENTSOF(_want));                              \
		for (size_t _i = 0; _i < (l).n && _i < ELEMENTSOF(_want); _i++) \
			CHECK_INT((l).ids[_i], _want[_i]);                        \
	} while (0)
#define CHECK_EMPTY(l) CHECK_INT((l).n, 0)

static int64_t add_segment(struct catalog *c, int64_t iface, int64_t t_first, int64_t import_id)
{
	struct segment s = { .interface_id = iface, .linktype = 1, .snaplen = 65535,
			     .t_first = t_first, .import_id = import_id };
	struct errbuf e = { "" };
	char path[64];
	int64_t id = 0;

	OK(catalog_begin(c, &e));
	OK(catalog_segment_insert(c, &s, &id, &e));
	snprintf(path, sizeof(path), "segments/%" PRId64 ".pcap", id);
	OK(catalog_segment_set_path(c, id, path, &e));
	OK(catalog_commit(c, &e));
	return id;
}

static void seal(struct catalog *c, int64_t id, int64_t t_first, int64_t t_last,
		 const struct segment_device_summary *sums, size_t n)
{
	struct segment s;
	struct errbuf e = { "" };

	OK(catalog_segment_get(c, id, &s, &e));
	s.t_first = t_first;
	s.t_last = t_last;
	s.packets = 10;
	s.bytes = 1000;
	OK(catalog_segment_seal(c, &s, sums, n, &e));
}

static void test_segments(void)
{
	struct catalog *c = open_new("segments.db");
	struct errbuf e = { "" };
	struct segment s;
	struct device_totals t;
	int64_t dev1, dev2, gone, eth0, eth1, again, g0, g1;
	struct device_hour *hours = NULL;
	size_t n_hours = 0;
	int64_t open_from = 0;

	if (!c)
		return;
	OK(catalog_device_add(c, "dev1", "", "", &dev1, &e));
	OK(catalog_device_add(c, "dev2", "", "", &dev2, &e));
	OK(catalog_device_add(c, "gone", "", "", &gone, &e));
	OK(catalog_interface_get(c, "eth0", true, &eth0, &e));
	OK(catalog_interface_get(c, "eth1", true, &eth1, &e));
	OK(catalog_interface_get(c, "eth0", false, &again, &e));
	CHECK_INT(again, eth0);
	CHECK_INT(catalog_interface_get(c, "eth9", false, &again, &e), -ENOENT);
	CHECK_INT(catalog_interface_get(c, "a/b", true, &again, &e), -EINVAL);
	OK(catalog_interface_get(c, "capture 2024.pcap", true, &again, &e));

	OK(catalog_registry_generation(c, &g0));
	int64_t a = add_segment(c, eth0, T0, 0);
	int64_t b = add_segment(c, eth1, T0, 0);
	int64_t cc = add_segment(c, eth0, T0 + 60 * SEC, 0);
	int64_t long_seg = add_segment(c, eth1, T0 + 2 * HOUR, 0);
	int64_t open_seg = add_segment(c, eth0, T0 + 120 * SEC, 0);
	OK(catalog_registry_generation(c, &g1));
	CHECK_INT(g1, g0); /* segments are not registry changes */

	OK(catalog_segment_get(c, open_seg, &s, &e));
	CHECK_INT(s.state, SEGMENT_OPEN);
	CHECK_STR(s.interface, "eth0");
	CHECK_INT(s.interface_id, eth0);
	CHECK_INT(s.snaplen, 65535);
	CHECK_INT(s.t_first, T0 + 120 * SEC);
	CHECK_INT(s.import_id, 0);
	CHECK(strstr(s.path, "segments/") == s.path);
	CHECK_INT(catalog_segment_get(c, 999, &s, &e), -ENOENT);
	CHECK_INT(catalog_segment_set_path(c, a, "../x", &e), -EINVAL);
	CHECK_INT(catalog_segment_set_path(c, a, "/etc/shadow", &e), -EINVAL);
	CHECK_INT(catalog_segment_set_path(c, a, "a//b", &e), -EINVAL);
	CHECK_INT(catalog_segment_set_path(c, 999, "x", &e), -ENOENT);
	struct segment bad = { .interface_id = 999 };
	CHECK_INT(catalog_segment_insert(c, &bad, NULL, &e), -ENOENT);
	bad.interface_id = eth0;
	bad.state = SEGMENT_SEALED;
	CHECK_INT(catalog_segment_insert(c, &bad, NULL, &e), -EINVAL);

	struct segment_device_summary sa[] = {
		{ dev1, T0 + 10 * SEC, T0 + 50 * SEC, 5, 500 },
		{ gone, T0 + 10 * SEC, T0 + 11 * SEC, 1, 100 },
	};
	struct segment_device_summary sb[] = { { dev1, T0 + 20 * SEC, T0 + 30 * SEC, 2, 200 } };
	struct segment_device_summary sc[] = { { dev2, T0 + 61 * SEC, T0 + 62 * SEC, 1, 100 } };
	/* An import-like segment spanning hours 2..4 after T0. */
	struct segment_device_summary sl[] = { { dev1, T0 + 2 * HOUR, T0 + 4 * HOUR + 5 * SEC, 3,
						 300 } };
	struct segment_device_summary dup[] = { sc[0], sc[0] };
	OK(catalog_device_remove(c, gone, &e)); /* removed while the segment was open */
	seal(c, a, T0 + 10 * SEC, T0 + 50 * SEC, sa, 2);
	seal(c, b, T0 + 20 * SEC, T0 + 30 * SEC, sb, 1);
	seal(c, cc, T0 + 61 * SEC, T0 + 62 * SEC, sc, 1);
	seal(c, long_seg, T0 + 2 * HOUR, T0 + 4 * HOUR + 5 * SEC, sl, 1);
	OK(catalog_segment_get(c, a, &s, &e));
	CHECK_INT(s.state, SEGMENT_SEALED);
	CHECK_INT(s.t_first, T0 + 10 * SEC);
	CHECK_INT(s.packets, 10);
	CHECK_INT(catalog_segment_seal(c, &s, dup, 2, &e), -EINVAL);
	struct segment_device_summary backwards[] = { { dev1, T0 + 5, T0 + 4, 1, 1 } };
	CHECK_INT(catalog_segment_seal(c, &s, backwards, 1, &e), -EINVAL);
	s.id = 999;
	CHECK_INT(catalog_segment_seal(c, &s, NULL, 0, &e), -ENOENT);

	/* Range semantics: summaries overlapping [from, until), plus open segments with
	 * t_first < until, ordered by (t_first, interface). */
	CHECK_LIST(for_device(c, dev1, T0, T0 + 60 * SEC), a, b);
	CHECK_LIST(for_device(c, dev1, T0, T0 + HOUR), a, b, open_seg);
	CHECK_LIST(for_device(c, dev1, T0 + 50 * SEC, T0 + 51 * SEC), a);
	CHECK_EMPTY(for_device(c, dev1, T0 + 51 * SEC, T0 + 100 * SEC));
	CHECK_EMPTY(for_device(c, dev1, T0, T0 + 10 * SEC));
	CHECK_LIST(for_device(c, dev1, T0, T0 + 10 * SEC + 1), a);
	CHECK_LIST(for_device(c, dev1, T0 + 3 * HOUR, T0 + 3 * HOUR + 1), open_seg, long_seg);
	CHECK_LIST(for_device(c, dev2, 0, TIME_INFINITY), cc, open_seg);
	CHECK_EMPTY(for_device(c, dev2, T0 + 61 * SEC, T0 + 61 * SEC));
	CHECK_EMPTY(for_device(c, dev2, 0, T0));
	/* With the spool's segment period known, an open segment is bounded by it (two periods
	 * from its row's start): windows after that do not depend on it (a segment stuck open by a failed recovery
	 * does not take every later window with it). */
	raw_exec("segments.db", "INSERT INTO meta VALUES ('segment_ns', '60000000000')");
	CHECK_LIST(for_device(c, dev1, T0 + 239 * SEC, T0 + 241 * SEC), open_seg);
	CHECK_EMPTY(for_device(c, dev1, T0 + 240 * SEC, T0 + 241 * SEC));
	CHECK_LIST(for_device(c, dev1, T0 + 3 * HOUR, T0 + 3 * HOUR + 1), long_seg);
	raw_exec("segments.db", "DELETE FROM meta WHERE key = 'segment_ns'");

	OK(catalog_device_totals(c, dev1, &t, &e));
	CHECK_INT(t.segments, 3);
	CHECK_INT(t.packets, 10);
	CHECK_INT(t.bytes, 1000);
	CHECK_INT(t.t_first, T0 + 10 * SEC);
	CHECK_INT(t.t_last, T0 + 4 * HOUR + 5 * SEC);
	OK(catalog_device_totals(c, 999, &t, &e));
	CHECK_INT(t.segments, 0);
	CHECK_INT(t.t_first, 0);

	/* An hour after a summary spanning hours is whole again. */
	int64_t later = add_segment(c, eth0, T0 + 5 * HOUR, 0);
	struct segment_device_summary sv[] = { { dev1, T0 + 5 * HOUR + 10 * SEC,
						 T0 + 5 * HOUR + 20 * SEC, 1, 100 } };
	seal(c, later, T0 + 5 * HOUR + 10 * SEC, T0 + 5 * HOUR + 20 * SEC, sv, 1);
	OK(catalog_device_hours(c, dev1, &hours, &n_hours, NULL, &e));
	CHECK_INT(n_hours, 5);
	if (n_hours == 5) {
		CHECK_INT(hours[4].start_ns, T0 + 5 * HOUR);
		CHECK(hours[4].whole);
		CHECK_INT(hours[4].packets, 1);
		CHECK(!hours[3].whole);
		CHECK(hours[0].whole);
	}
	free(hours);
	OK(catalog_segment_delete(c, later, &e));

	OK(catalog_device_hours(c, dev1, &hours, &n_hours, &open_from, &e));
	CHECK_INT(n_hours, 4);
	CHECK_INT(open_from, T0 + 120 * SEC);
	if (n_hours == 4) {
		CHECK_INT(hours[0].start_ns, T0);
		CHECK_INT(hours[1].start_ns, T0 + 2 * HOUR);
		CHECK_INT(hours[2].start_ns, T0 + 3 * HOUR);
		CHECK_INT(hours[3].start_ns, T0 + 4 * HOUR);
		/* Hour 0 holds the summaries of a and b whole; hours 2..4 share one summary. */
		CHECK(hours[0].whole);
		CHECK_INT(hours[0].packets, 7);
		CHECK_INT(hours[0].bytes, 700);
		CHECK_INT(hours[0].t_last, T0 + 50 * SEC);
		for (int i = 1; i < 4; i++) {
			CHECK(!hours[i].whole);
			CHECK_INT(hours[i].packets, 0);
		}
		/* The same sums as catalog_window_totals over the hour. */
		struct window_totals wt;
		OK(catalog_window_totals(c, dev1, T0, T0 + HOUR, &wt, &e));
		CHECK_INT(wt.partial, 0);
		CHECK_INT(wt.packets, hours[0].packets);
		CHECK_INT(wt.bytes, hours[0].bytes);
		CHECK_INT(wt.t_last, hours[0].t_last);
		OK(catalog_window_totals(c, dev1, T0 + 3 * HOUR, T0 + 4 * HOUR, &wt, &e));
		CHECK(wt.partial > 0);
	}
	free(hours);
	OK(catalog_device_hours(c, 999, &hours, &n_hours, NULL, &e));
	CHECK_INT(n_hours, 0);
	free(hours);

	struct seglist l = { .n = 0 };
	OK(catalog_segment_foreach(c, -1, seg_cb, &l, &e));
	CHECK_LIST(l, a, b, cc, long_seg, open_seg);
	l.n = 0;
	OK(catalog_segment_foreach(c, SEGMENT_OPEN, seg_cb, &l, &e));
	CHECK_LIST(l, open_seg);

	/* Resealing replaces the summaries; deleting a segment drops its summaries. */
	seal(c, a, T0 + 10 * SEC, T0 + 50 * SEC, sc, 1);
	CHECK_LIST(for_device(c, dev1, T0, T0 + 60 * SEC), b);
	CHECK_LIST(for_device(c, dev2, 0, T0 + 100 * SEC), a, cc);
	OK(catalog_segment_delete(c, a, &e));
	CHECK_INT(catalog_segment_delete(c, a, &e), -ENOENT);
	CHECK_LIST(for_device(c, dev2, 0, T0 + 100 * SEC), cc);
	OK(catalog_device_remove(c, dev2, &e));
	OK(catalog_device_totals(c, dev2, &t, &e));
	CHECK_INT(t.segments, 0);

	/* Ids are never given twice: index files and file names carry them. The device added
	 * after dev2's removal, and the segment inserted after the newest one was deleted, take
	 * new ids, also after a reopen. */
	int64_t dev3, dev4, next, last;
	OK(catalog_device_add(c, "dev-3", NULL, NULL, &dev3, &e));
	CHECK(dev3 > dev2);
	OK(catalog_segment_delete(c, open_seg, &e));
	next = add_segment(c, eth0, T0 + 120 * SEC, 0);
	CHECK(next > open_seg);
	OK(catalog_segment_delete(c, next, &e));
	OK(catalog_device_remove(c, dev3, &e));
	catalog_close(c);
	char p[128];
	path_of(p, sizeof(p), "segments.db");
	CHECK_INT(catalog_open(p, 0, 1000, &c, &e), 0);
	OK(catalog_device_add(c, "dev-4", NULL, NULL, &dev4, &e));
	CHECK(dev4 > dev3);
	last = add_segment(c, eth0, T0 + 120 * SEC, 0);
	CHECK(last > next);
	catalog_close(c);
}

struct importlist {
	int64_t ids[8];
	int states[8];
	size_t n;
};

static int import_cb(const struct import_info *i, void *userdata)
{
	struct importlist *l = userdata;
	if (l->n < ELEMENTSOF(l->ids)) {
		l->ids[l->n] = i->id;
		l->states[l->n++] = i->state;
	}
	return 0;
}

static void test_imports(void)
{
	struct catalog *c = open_new("imports.db");
	struct errbuf e = { "" };
	struct importlist il = { .n = 0 };
	struct seglist sl = { .n = 0 };
	int64_t i1, i2, iface;

	if (!c)
		return;
	OK(catalog_import_begin(c, "/data/a.pcap", &i1, &e));
	OK(catalog_import_begin(c, "/data/b.pcapng", &i2, &e));
	OK(catalog_interface_get(c, "import", true, &iface, &e));
	int64_t s1 = add_segment(c, iface, T0, i1);
	int64_t s2 = add_segment(c, iface, T0 + HOUR, i1);
	add_segment(c, iface, T0, i2);
	OK(catalog_import_segments(c, i1, seg_cb, &sl, &e));
	CHECK_LIST(sl, s1, s2);
	CHECK_INT(catalog_import_segments(c, 0, seg_cb, &sl, &e), -EINVAL);

	OK(catalog_import_end(c, i1, IMPORT_DONE, 100, 10000, &e));
	CHECK_INT(catalog_import_end(c, 999, IMPORT_DONE, 1, 1, &e), -ENOENT);
	/* Only a running import ends: one that finished keeps its state. */
	CHECK_INT(catalog_import_end(c, i1, IMPORT_INTERRUPTED, 0, 0, &e), -ENOENT);
	CHECK_INT(catalog_import_end(c, i2, 7, 1, 1, &e), -EINVAL);
	CHECK_INT(catalog_import_end(c, i2, IMPORT_DONE, UINT64_MAX, 1, &e), -EOVERFLOW);
	OK(catalog_import_foreach(c, -1, import_cb, &il, &e));
	CHECK_INT(il.n, 2);
	CHECK_INT(il.ids[0], i1);
	CHECK_INT(il.states[0], IMPORT_DONE);
	CHECK_INT(il.states[1], IMPORT_RUNNING);
	il.n = 0;
	OK(catalog_import_foreach(c, IMPORT_RUNNING, import_cb, &il, &e));
	CHECK_INT(il.n, 1);
	CHECK_INT(il.ids[0], i2);
	catalog_close(c);
}

/* The content generation moves with every change that can alter a settled window, and
 * with nothing that live capture does in order. */
static void test_content_generation(void)
{
	struct catalog *c = open_new("content.db");
	struct errbuf e = { "" };
	int64_t dev, eth0, imp, i1, g, g_prev, running;
	struct segment_device_summary sum = { 0 };

	if (!c)
		return;
	OK(catalog_device_add(c, "dev1", "", "", &dev, &e));
	OK(catalog_interface_get(c, "eth0", true, &eth0, &e));
	OK(catalog_interface_get(c, "import", true, &imp, &e));
	OK(catalog_content_state(c, &g_prev, &running));
	CHECK_INT(running, 0);
#define MOVED(want)                                                      \
	do {                                                             \
		OK(catalog_content_state(c, &g, &running));              \
		if (want)                                                \
			CHECK(g > g_prev);                               \
		else                                                     \
			CHECK_INT(g, g_prev);                            \
		g_prev = g;                                              \
	} while (0)
	sum = (struct segment_device_summary){ .device_id = dev, .t_first = T0 + SEC,
					       .t_last = T0 + 2 * SEC, .packets = 1, .bytes = 100 };
	int64_t a = add_segment(c, eth0, T0, 0);
	MOVED(false);
	seal(c, a, T0 + SEC, T0 + 2 * SEC, &sum, 1);
	MOVED(false);
	int64_t b = add_segment(c, eth0, T0 + 60 * SEC, 0);
	MOVED(false);
	add_segment(c, eth0, T0 + 30 * SEC, 0); /* the clock stepped back */
	MOVED(true);
	OK(catalog_import_begin(c, "/data/a.pcap", &i1, &e));
	MOVED(true);
	CHECK_INT(running, 1);
	add_segment(c, imp, T0 - HOUR, i1);
	MOVED(true);
	OK(catalog_import_end(c, i1, IMPORT_DONE, 1, 100, &e));
	MOVED(true);
	CHECK_INT(running, 0);
	seal(c, a, T0 + SEC, T0 + 2 * SEC, &sum, 1); /* reindex: summaries replaced */
	MOVED(true);
	OK(catalog_segment_delete(c, b, &e)); /* retention */
	MOVED(true);
#undef MOVED
	catalog_close(c);
}

static void test_locking_and_rdonly(void)
{
	struct catalog *c = open_new("lock.db"), *ro = NULL;
	struct errbuf e = { "" };
	struct device d = { 0 };
	sqlite3 *db = NULL;
	char p[128], buf[16];
	int64_t id;

	if (!c)
		return;
	OK(catalog_device_add(c, "cam-1", "", "", &id, &e));
	OK(catalog_meta_set(c, "precision", "us", &e));
	catalog_close(c);

	path_of(p, sizeof(p), "lock.db");
	OK(catalog_open(p, 0, 50, &c, &e));
	CHECK_INT(sqlite3_open(p, &db), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	CHECK_INT(catalog_device_add(c, "cam-2", "", "", NULL, &e), -EBUSY);
	CHECK_MSG(e, "is locked by another process");
	CHECK_INT(catalog_begin(c, &e), -EBUSY);
	/* WAL: reading is not blocked by the writer. */
	OK(catalog_device_get(c, "cam-1", &d, &e));
	device_done(&d);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	OK(catalog_device_add(c, "cam-2", "", "", NULL, &e));

	OK(catalog_open(p, CATALOG_RDONLY, 50, &ro, &e));
	if (ro) {
		OK(catalog_device_get(ro, "cam-2", &d, &e));
		device_done(&d);
		OK(catalog_meta_get(ro, "precision", buf, sizeof(buf)));
		CHECK_STR(buf, "us");
		CHECK_INT(catalog_device_add(ro, "cam-3", "", "", NULL, &e), -EROFS);
		CHECK_INT(catalog_meta_set(ro, "x", "y", &e), -EROFS);
		CHECK_INT(catalog_interface_get(ro, "eth0", true, NULL, &e), -EROFS);
		/* A read-only transaction is a snapshot. */
		OK(catalog_begin(ro, &e));
		OK(catalog_device_add(c, "cam-3", "", "", NULL, &e));
		CHECK_INT(catalog_device_get(ro, "cam-3", &d, &e), -ENOENT);
		OK(catalog_commit(ro, &e));
		OK(catalog_device_get(ro, "cam-3", &d, &e));
		device_done(&d);
		catalog_close(ro);
	}
	CHECK_INT(catalog_open(p, CATALOG_RDONLY | CATALOG_CREATE, 50, &ro, &e), -EINVAL);
	catalog_close(c);
}

struct rows {
	struct access_row r[16];
	size_t n;
};
static int row_cb(const struct access_row *r, void *userdata)
{
	struct rows *v = userdata;
	if (v->n < ELEMENTSOF(v->r))
		v->r[v->n++] = *r;
	return 0;
}
static struct rows access_select(struct catalog *c, struct access_filter f)
{
	struct rows v = {.n = 0};
	struct errbuf e = {""};
	CHECK_INT(catalog_access_foreach(c, &f, row_cb, &v, &e), 0);
	return v;
}
#define ANY (struct access_filter){.uid = -1, .allowed = -1}

/* The query log: rows come back as written, in order, each filter narrows, pages and
 * cursors walk it without overlap, over-long strings are cut, days are listed, a refusal
 * after the fact sticks, pruning goes by time, and a hostile row is refused on the way out. */
static void test_access_log(void)
{
	struct catalog *c = open_new("access.db");
	struct errbuf e = {""};
	const int64_t day = 86400 * NS_PER_SEC, t0 = 20000 * day + 3600 * NS_PER_SEC;
	char longpath[2000];
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	struct access_row in[] = {
		{.ts_ns = t0, .op = "open", .allowed = true, .uid = 1001, .gid = 100, .pid = 7,
		 .user = "alice", .device = "cam-1", .window = "w1", .path = "/pcap/cam-1/w1",
		 .reason = "owner alice"},
		{.ts_ns = t0 + 1, .op = "lookup", .allowed = false, .uid = 1002, .gid = 100, .pid = 8,
		 .user = "bob", .device = "cam-1", .path = "/pcap/cam-1", .reason = "default deny"},
		{.ts_ns = t0 + 2, .op = "close", .allowed = true, .uid = 1001, .gid = 100, .pid = 7,
		 .user = "alice", .device = "cam-1", .window = "w1", .path = "/pcap/cam-1/w1",
		 .bytes = 12345, .duration_ns = 2500000, .open_id = 1},
		{.ts_ns = t0 + day, .op = "open", .allowed = true, .uid = 0, .gid = 0, .pid = 9,
		 .user = "root", .device = "cam-2", .window = "w2"},
		{.ts_ns = t0 + 3 * day, .op = "open", .allowed = true, .uid = 1001, .gid = 100,
		 .pid = 10, .user = "alice", .device = "cam-2", .window = "w3"},
	};
	snprintf(in[4].path, sizeof(in[4].path), "%.*s", (int)sizeof(in[4].path) - 1, longpath);
	for (size_t i = 0; i < ELEMENTSOF(in); i++) {
		CHECK_INT(catalog_access_add(c, &in[i], &e), 0);
		CHECK_INT(in[i].id, (int64_t)i + 1);
	}
	struct rows v = access_select(c, ANY);
	CHECK_INT(v.n, 5);
	CHECK_STR(v.r[0].reason, "owner alice");
	CHECK_STR(v.r[0].window, "w1");
	CHECK_INT(v.r[0].uid, 1001);
	CHECK(v.r[0].allowed && !v.r[1].allowed);
	CHECK_INT(v.r[2].bytes, 12345);
	CHECK_INT(v.r[2].duration_ns, 2500000);
	CHECK_INT(v.r[2].open_id, 1);
	CHECK_INT(strlen(v.r[4].path), ACCESS_PATH_MAX);

	struct access_filter f = ANY;
	f.user = "alice";
	CHECK_INT(access_select(c, f).n, 3);
	f = ANY;
	f.uid = 0;
	CHECK_INT(access_select(c, f).n, 1);
	f = ANY;
	f.device = "cam-2";
	f.op = "open";
	CHECK_INT(access_select(c, f).n, 2);
	f = ANY;
	f.allowed = 0;
	v = access_select(c, f);
	CHECK(v.n == 1 && v.r[0].id == 2);
	f = ANY;
	f.since_ns = t0 + 1;
	f.until_ns = t0 + day + 1;
	v = access_select(c, f);
	CHECK(v.n == 3 && v.r[0].id == 2 && v.r[2].id == 4);
	/* Pages of two, and a cursor, cover every row once. */
	f = ANY;
	f.limit = 2;
	f.offset = 2;
	v = access_select(c, f);
	CHECK(v.n == 2 && v.r[0].id == 3 && v.r[1].id == 4);
	f.offset = 0;
	f.after_id = 4;
	v = access_select(c, f);
	CHECK(v.n == 1 && v.r[0].id == 5);

	int64_t *days;
	size_t n_days;
	CHECK_INT(catalog_access_days(c, 100, &days, &n_days, &e), 0);
	CHECK_INT(n_days, 3);
	if (n_days == 3) {
		CHECK_INT(days[0], 20000 * day);
		CHECK_INT(days[1], 20001 * day);
		CHECK_INT(days[2], 20003 * day);
	}
	free(days);
	/* A row from before 1970 (a tampered log) is no day's file. */
	raw_exec("access.db", "INSERT INTO access_log (ts_ns, op, allowed, uid, gid, pid, user_name,"
			      " device, window_name, path, reason) VALUES (-9223372036854775807,"
			      " 'open', 1, 0, 0, 1, 'root', 'x', 'w', '/pcap/x/w', 'r')");
	CHECK_INT(catalog_access_days(c, 100, &days, &n_days, &e), 0);
	CHECK_INT(n_days, 3);
	if (n_days)
		CHECK_INT(days[0], 20000 * day);
	free(days);
	raw_exec("access.db", "DELETE FROM access_log WHERE ts_ns < 0");
	CHECK_INT(catalog_access_days(c, 2, &days, &n_days, &e), 0);
	CHECK_INT(n_days, 2);
	free(days);
	uint64_t n;
	int64_t max_id;
	CHECK_INT(catalog_access_count(c, 20000 * day, 20001 * day, &n, &max_id, &e), 0);
	CHECK(n == 3 && max_id == 3);

	CHECK_INT(catalog_access_refuse(c, 4, "audit record not written", &e), 0);
	f = ANY;
	f.uid = 0;
	v = access_select(c, f);
	CHECK(v.n == 1 && !v.r[0].allowed);
	CHECK_STR(v.r[0].reason, "audit record not written");
	CHECK_INT(catalog_access_refuse(c, 99, "x", &e), -ENOENT);

	uint64_t removed = 0;
	CHECK_INT(catalog_access_prune(c, t0 + day, 2, &removed, &e), 0);
	CHECK_INT(removed, 2);
	CHECK_INT(catalog_access_prune(c, t0 + day, 0, &removed, &e), 0);
	CHECK_INT(removed, 1);
	CHECK_INT(access_select(c, ANY).n, 2);
	/* Ids are never given twice (Linux audit records name rows by id), not even once pruning
	 * emptied the log. */
	struct rows left = access_select(c, ANY);
	int64_t top = 0;
	for (size_t i = 0; i < left.n; i++)
		top = MAX(top, left.r[i].id);
	CHECK(top > 1);
	CHECK_INT(catalog_access_prune(c, INT64_MAX, 0, &removed, &e), 0);
	CHECK_INT(access_select(c, ANY).n, 0);
	struct access_row later = in[0];
	CHECK_INT(catalog_access_add(c, &later, &e), 0);
	CHECK(later.id > top);
	catalog_close(c);

	/* A row written by someone else: too long, or not an integer where one belongs. */
	raw_exec("access.db", "INSERT INTO access_log (ts_ns, op, allowed, uid, gid, pid, user_name,"
			      " device, window_name, path, reason) VALUES (1, 'open', 1, 0, 0, 0,"
			      " hex(zeroblob(400)), '', '', '', '')");
	c = open_new("access.db");
	CHECK_INT(catalog_access_foreach(c, &ANY, row_cb, &v, &e), -EPROTO);
	catalog_close(c);
	raw_exec("access.db", "UPDATE access_log SET user_name = 'x', uid = -5 WHERE ts_ns = 1");
	c = open_new("access.db");
	v.n = 0;
	CHECK_INT(catalog_access_foreach(c, &ANY, row_cb, &v, &e), -EPROTO);
	catalog_close(c);
}

static void remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

int main(void)
{
	test_tmp(dir, sizeof(dir), "test-catalog", 0);
	test_open();
	test_names();
	test_devices();
	test_addresses();
	test_segments();
	test_imports();
	test_content_generation();
	test_locking_and_rdonly();
	test_access_log();
	remove_dir();
	sqlite3_shutdown();
	TESTS_DONE();
}

/* catalog-device.c — the device registry of the catalogue: names, owners, descriptions,
 * tags and address bindings over time, and the classification tables built from them.
 *
 * An exact address (MAC, full-length IPv4 or IPv6) is held by at most one binding at any
 * instant: catalog_address_add refuses a second binding whose [from, until) overlaps, so a
 * packet's exact addresses name at most one device each. CIDRs may overlap anything (a
 * subnet device and a host device both get the packet, as tcpdump's "net" and "host" would).
 * Everything read back is checked as strictly as what is written: the mount turns device
 * names into directory names. */
#include <stdio.h>

#include "catalog-internal.h"

/* ---- addresses -------------------------------------------------------------------------- */

static size_t addr_len(uint8_t family)
{
	switch (family) {
	case ADDR_MAC:
		return 6;
	case ADDR_IPV4:
		return 4;
	case ADDR_IPV6:
		return 16;
	default:
		return 0;
	}
}

static bool addr_is_exact(const struct addr *a)
{
	return a->prefix == addr_len(a->family) * 8;
}

/* Family known, prefix in range (MACs have no prefixes), host bits and unused bytes zero. */
static bool addr_valid(const struct addr *a)
{
	size_t len = addr_len(a->family);

	if (len == 0 || a->prefix > len * 8 || (a->family == ADDR_MAC && a->prefix != 48))
		return false;
	for (size_t i = 0; i < sizeof(a->bytes); i++) {
		unsigned bit = (unsigned)i * 8;
		uint8_t mask;
		if (bit >= a->prefix)
			mask = 0xff;
		else if (bit + 8 <= a->prefix)
			mask = 0;
		else
			mask = (uint8_t)(0xff >> (a->prefix - bit));
		if (a->bytes[i] & mask)
			return false;
	}
	return true;
}

/* An address from (family, bytes, prefix) columns starting at col. */
static int addr_from_row(sqlite3_stmt *st, int col, struct addr *ret)
{
	sqlite3_int64 family = sqlite3_column_int64(st, col);
	sqlite3_int64 prefix = sqlite3_column_int64(st, col + 2);
	const void *b;
	int n;

	memset(ret, 0, sizeof(*ret));
	if (family < ADDR_MAC || family > ADDR_IPV6 || prefix < 0 || prefix > 128 ||
	    sqlite3_column_type(st, col + 1) != SQLITE_BLOB)
		return -EPROTO;
	b = sqlite3_column_blob(st, col + 1);
	n = sqlite3_column_bytes(st, col + 1);
	ret->family = (uint8_t)family;
	ret->prefix = (uint8_t)prefix;
	if (!b || n < 0 || (size_t)n != addr_len(ret->family))
		return -EPROTO;
	memcpy(ret->bytes, b, (size_t)n);
	return addr_valid(ret) ? 0 : -EPROTO;
}

static int bind_addr(sqlite3_stmt *st, int i, const struct addr *a)
{
	int rc = sqlite3_bind_int(st, i, a->family);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(st, i + 1, a->bytes, (int)addr_len(a->family), SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, i + 2, a->prefix);
	return rc;
}

/* ---- reading devices -------------------------------------------------------------------- */

#define DEVICE_COLUMNS "id, name, owner, description, created_ns"

void device_done(struct device *d)
{
	if (!d)
		return;
	free(d->description);
	for (size_t i = 0; i < d->n_tags; i++)
		free(d->tags[i]);
	free(d->tags);
	free(d->addrs);
	memset(d, 0, sizeof(*d));
}


static int fill_tags(struct catalog *c, struct device *d, struct errbuf *err)
{
	static const char sql[] = "SELECT tag FROM device_tags WHERE device_id = ?1 ORDER BY tag "
				  "LIMIT ?2";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int r, rc;

	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, d->id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 2, DEVICE_TAGS_MAX + 1);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char tag[TAG_MAX + 1];

		if (d->n_tags == DEVICE_TAGS_MAX)
			return err_set(err, EPROTO, "catalogue %s: device %s has more than %d tags",
				       c->path, d->name, DEVICE_TAGS_MAX);
		r = catalog_column_copy(c, st, 0, tag, sizeof(tag), err, "tag of device", d->id);
		if (r < 0)
			return r;
		if (tag_check(tag, err) < 0)
			return err_prefix(err, EPROTO, "catalogue %s: device %s: ", c->path, d->name);
		char **tags = array_grow(d->tags, &cap, d->n_tags, sizeof(char *));
		if (!tags)
			return err_set(err, ENOMEM, "out of memory");
		d->tags = tags;
		d->tags[d->n_tags] = strdup(tag);
		if (!d->tags[d->n_tags])
			return err_set(err, ENOMEM, "out of memory");
		d->n_tags++;
	}
	return rc == SQLITE_DONE ? 0 : catalog_sqlerr(c, rc, err, "reading tags");
}

static int fill_addrs(struct catalog *c, struct device *d, struct errbuf *err)
{
	static const char sql[] = "SELECT id, family, bytes, prefix, from_ns, until_ns "
				  "FROM addresses WHERE device_id = ?1 "
				  "ORDER BY family, bytes, prefix, from_ns LIMIT ?2";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int r, rc;

	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, d->id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 2, DEVICE_ADDRS_MAX + 1);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct device_addr *a;

		if (d->n_addrs == DEVICE_ADDRS_MAX)
			return err_set(err, EPROTO, "catalogue %s: device %s has more than %d "
				       "addresses", c->path, d->name, DEVICE_ADDRS_MAX);
		a = array_grow(d->addrs, &cap, d->n_addrs, sizeof(*d->addrs));
		if (!a)
			return err_set(err, ENOMEM, "out of memory");
		d->addrs = a;
		a = &d->addrs[d->n_addrs];
		a->id = sqlite3_column_int64(st, 0);
		a->from_ns = sqlite3_column_int64(st, 4);
		a->until_ns = sqlite3_column_int64(st, 5);
		if (addr_from_row(st, 1, &a->addr) < 0 || a->from_ns >= a->until_ns)
			return err_set(err, EPROTO, "catalogue %s: address %" PRId64 " of device %s "
				       "is malformed", c->path, a->id, d->name);
		d->n_addrs++;
	}
	return rc == SQLITE_DONE ? 0 : catalog_sqlerr(c, rc, err, "reading addresses");
}

/* Parts of a device beyond its row. */
#define FILL_TAGS 1
#define FILL_ADDRS 2

/* Fill ret from a row of DEVICE_COLUMNS and the parts asked for (FILL_TAGS, FILL_ADDRS). On
 * error ret is left empty. */
static int fill_device(struct catalog *c, sqlite3_stmt *st, int parts, struct device *ret,
		       struct errbuf *err)
{
	struct device d = { .id = sqlite3_column_int64(st, 0) };
	const char *desc;
	int r, n;

	r = catalog_column_copy(c, st, 1, d.name, sizeof(d.name), err, "device name", d.id);
	if (r >= 0 && device_name_check(d.name, err) < 0)
		r = err_prefix(err, EPROTO, "catalogue %s: device %" PRId64 ": ", c->path, d.id);
	if (r >= 0)
		r = catalog_column_copy(c, st, 2, d.owner, sizeof(d.owner), err, "owner", d.id);
	if (r >= 0 && owner_check(d.owner, err) < 0)
		r = err_prefix(err, EPROTO, "catalogue %s: device %s: ", c->path, d.name);
	if (r < 0)
		return r;
	desc = (const char *)sqlite3_column_text(st, 3);
	n = sqlite3_column_bytes(st, 3);
	if (!desc) {
		desc = "";
		n = 0;
	}
	if (n > DESCRIPTION_MAX || memchr(desc, 0, (size_t)n))
		return err_set(err, EPROTO, "catalogue %s: device %s: malformed description",
			       c->path, d.name);
	d.description = strndup(desc, (size_t)n);
	if (!d.description)
		return err_set(err, ENOMEM, "out of memory");
	d.created_ns = sqlite3_column_int64(st, 4);
	r = parts & FILL_TAGS ? fill_tags(c, &d, err) : 0;
	if (r >= 0 && (parts & FILL_ADDRS))
		r = fill_addrs(c, &d, err);
	if (r < 0) {
		device_done(&d);
		return r;
	}
	*ret = d;
	return 0;
}

static int device_get_by(struct catalog *c, const char *name, int64_t id, int parts,
			 struct device *ret, struct errbuf *err)
{
	static const char sql_name[] = "SELECT " DEVICE_COLUMNS " FROM devices WHERE name = ?1";
	static const char sql_id[] = "SELECT " DEVICE_COLUMNS " FROM devices WHERE id = ?1";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char esc[CATALOG_ESCAPE_BUF];
	int r, rc;

	memset(ret, 0, sizeof(*ret));
	r = catalog_stmt(c, name ? sql_name : sql_id, &st, err);
	if (r < 0)
		return r;
	rc = name ? catalog_bind_text(st, 1, name) : sqlite3_bind_int64(st, 1, id);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return name ? err_set(err, ENOENT, "no device named %s",
				      catalog_escape(name, esc, sizeof(esc)))
			    : err_set(err, ENOENT, "no device with id %" PRId64, id);
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, err, "reading a device");
	return fill_device(c, st, parts, ret, err);
}

int catalog_device_get(struct catalog *c, const char *name, struct device *ret, struct errbuf *err)
{
	if (!name)
		return err_set(err, EINVAL, "no device name given");
	return device_get_by(c, name, 0, FILL_TAGS | FILL_ADDRS, ret, err);
}

int catalog_device_get_by_id(struct catalog *c, int64_t id, struct device *ret, struct errbuf *err)
{
	return device_get_by(c, NULL, id, FILL_TAGS | FILL_ADDRS, ret, err);
}

int catalog_device_get_brief(struct catalog *c, const char *name, int64_t id, bool tags,
			     struct device *ret, struct errbuf *err)
{
	return device_get_by(c, name, name ? 0 : id, tags ? FILL_TAGS : 0, ret, err);
}

int catalog_device_foreach(struct catalog *c, int (*cb)(const struct device *d, void *userdata),
			   void *userdata, struct errbuf *err)
{
	static const char sql[] = "SELECT " DEVICE_COLUMNS " FROM devices ORDER BY name";
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = catalog_stmt_private(c, sql, &st, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct device d;

		r = fill_device(c, st, FILL_TAGS | FILL_ADDRS, &d, err);
		if (r < 0)
			return r;
		r = cb(&d, userdata);
		device_done(&d);
		if (r < 0)
			return r;
	}
	return rc == SQLITE_DONE ? 0 : catalog_sqlerr(c, rc, err, "listing devices");
}

/* The name of device id into buf (DEVICE_NAME_MAX + 1), or -ENOENT. */
static int device_name_of(struct catalog *c, int64_t id, char *buf, struct errbuf *err)
{
	static const char sql[] = "SELECT name FROM devices WHERE id = ?1";
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
		return err_set(err, ENOENT, "no device with id %" PRId64, id);
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, err, "reading a device");
	return catalog_column_copy(c, st, 0, buf, DEVICE_NAME_MAX + 1, err, "device name", id);
}

/* ---- changing devices ------------------------------------------------------------------- */

static int device_add_locked(struct catalog *c, const char *name, const char *owner,
			     const char *description, int64_t *ret_id, struct errbuf *err)
{
	static const char sql_case[] = "SELECT name FROM devices WHERE name = ?1 COLLATE NOCASE "
				       "LIMIT 1";
	static const char sql[] = "INSERT INTO devices (id, name, owner, description, created_ns) "
				  "VALUES (" CATALOG_NEXT_ID("devices", "device_id_high") ", ?1, ?2, ?3, ?4)";
	_cleanup_stmt_ sqlite3_stmt *st_case = NULL;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int64_t id;
	int r, rc;

	r = catalog_stmt(c, sql_case, &st_case, err);
	if (r < 0)
		return r;
	rc = catalog_bind_text(st_case, 1, name);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	rc = sqlite3_step(st_case);
	if (rc == SQLITE_ROW) {
		const char *other = (const char *)sqlite3_column_text(st_case, 0);
		char esc[CATALOG_ESCAPE_BUF];

		if (other && strcmp(other, name) == 0)
			return err_set(err, EEXIST, "device %s already exists", name);
		return err_set(err, EEXIST, "device name %s differs only in case from device %s "
			       "(SMB clients would see one directory)",
			       name, catalog_escape(other, esc, sizeof(esc)));
	}
	if (rc != SQLITE_DONE)
		return catalog_sqlerr(c, rc, err, "looking up a device");

	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = catalog_bind_text(st, 1, name);
	if (rc == SQLITE_OK)
		rc = catalog_bind_text(st, 2, owner);
	if (rc == SQLITE_OK)
		rc = catalog_bind_text(st, 3, description);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 4, now_ns());
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return err_set(err, EEXIST, "device %s already exists", name);
	if (rc != SQLITE_DONE)
		return catalog_sqlerr(c, rc, err, "adding a device");
	/* Classification carries device ids as uint32 (devmap_add). */
	id = sqlite3_last_insert_rowid(c->db);
	if (id <= 0 || id > (int64_t)UINT32_MAX)
		return err_set(err, EOVERFLOW, "catalogue %s: device id %" PRId64 " is out of range",
			       c->path, id);
	if (ret_id)
		*ret_id = id;
	return 0;
}

int catalog_device_add(struct catalog *c, const char *name, const char *owner,
		       const char *description, int64_t *ret_id, struct errbuf *err)
{
	bool own;
	int r;

	if (!owner)
		owner = "";
	if (!description)
		description = "";
	r = device_name_check(name, err);
	if (r >= 0)
		r = owner_check(owner, err);
	if (r >= 0)
		r = catalog_description_check(description, err);
	if (r < 0)
		return r;
	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	r = device_add_locked(c, name, owner, description, ret_id, err);
	return catalog_tx_leave(c, own, r, err);
}

static int device_update_locked(struct catalog *c, int64_t id, const char *owner,
				const char *description, struct errbuf *err)
{
	static const char sql[] = "UPDATE devices SET owner = coalesce(?2, owner), "
				  "description = coalesce(?3, description) WHERE id = ?1";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char name[DEVICE_NAME_MAX + 1];
	int r, rc;

	r = device_name_of(c, id, name, err);
	if (r < 0 || (!owner && !description))
		return r;
	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, id);
	if (rc == SQLITE_OK && owner)
		rc = catalog_bind_text(st, 2, owner);
	if (rc == SQLITE_OK && description)
		rc = catalog_bind_text(st, 3, description);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	return catalog_step_done(c, st, err, "updating a device");
}

int catalog_device_update(struct catalog *c, int64_t id, const char *owner,
			  const char *description, struct errbuf *err)
{
	bool own;
	int r = 0;

	if (owner)
		r = owner_check(owner, err);
	if (r >= 0 && description)
		r = catalog_description_check(description, err);
	if (r < 0)
		return r;
	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	r = device_update_locked(c, id, owner, description, err);
	return catalog_tx_leave(c, own, r, err);
}

static int device_remove_locked(struct catalog *c, int64_t id, struct errbuf *err)
{
	static const char sql_grants[] = "DELETE FROM grants WHERE target = ?1";
	/* Tags, addresses and summaries go by ON DELETE CASCADE. */
	static const char sql[] = "DELETE FROM devices WHERE id = ?1";
	_cleanup_stmt_ sqlite3_stmt *st_grants = NULL;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char name[DEVICE_NAME_MAX + 1];
	int r, rc;

	r = device_name_of(c, id, name, err);
	if (r < 0)
		return r;
	r = catalog_stmt(c, sql_grants, &st_grants, err);
	if (r < 0)
		return r;
	rc = catalog_bind_text(st_grants, 1, name);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	r = catalog_step_done(c, st_grants, err, "removing grants");
	if (r < 0)
		return r;
	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, id);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	return catalog_step_done(c, st, err, "removing a device");
}

int catalog_device_remove(struct catalog *c, int64_t id, struct errbuf *err)
{
	bool own;
	int r;

	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	r = device_remove_locked(c, id, err);
	return catalog_tx_leave(c, own, r, err);
}

/* ---- tags ------------------------------------------------------------------------------- */

/* One integer of a single-row query with one int64 parameter. */
static int query_count(struct catalog *c, const char *sql, int64_t id, int64_t *ret,
		       struct errbuf *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, id);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, err, "counting");
	*ret = sqlite3_column_int64(st, 0);
	return 0;
}

static int tag_change_locked(struct catalog *c, int64_t device_id, const char *tag, bool add,
			     struct errbuf *err)
{
	static const char sql_count[] = "SELECT count(*) FROM device_tags WHERE device_id = ?1";
	static const char sql_add[] = "INSERT INTO device_tags (device_id, tag) VALUES (?1, ?2)";
	static const char sql_del[] = "DELETE FROM device_tags WHERE device_id = ?1 AND tag = ?2";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char name[DEVICE_NAME_MAX + 1];
	int64_t n;
	int r, rc;

	r = device_name_of(c, device_id, name, err);
	if (r < 0)
		return r;
	if (add) {
		r = query_count(c, sql_count, device_id, &n, err);
		if (r < 0)
			return r;
		if (n >= DEVICE_TAGS_MAX)
			return err_set(err, E2BIG, "device %s already has %d tags, the most allowed",
				       name, DEVICE_TAGS_MAX);
	}
	r = catalog_stmt(c, add ? sql_add : sql_del, &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, device_id);
	if (rc == SQLITE_OK)
		rc = catalog_bind_text(st, 2, tag);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return err_set(err, EEXIST, "device %s already has tag %s", name, tag);
	if (rc != SQLITE_DONE)
		return catalog_sqlerr(c, rc, err, add ? "adding a tag" : "removing a tag");
	if (!add && sqlite3_changes(c->db) == 0)
		return err_set(err, ENOENT, "device %s has no tag %s", name, tag);
	return 0;
}

static int tag_change(struct catalog *c, int64_t device_id, const char *tag, bool add,
		      struct errbuf *err)
{
	bool own;
	int r;

	r = tag_check(tag, err);
	if (r < 0)
		return r;
	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	r = tag_change_locked(c, device_id, tag, add, err);
	return catalog_tx_leave(c, own, r, err);
}

int catalog_tag_add(struct catalog *c, int64_t device_id, const char *tag, struct errbuf *err)
{
	return tag_change(c, device_id, tag, true, err);
}

int catalog_tag_remove(struct catalog *c, int64_t device_id, const char *tag, struct errbuf *err)
{
	return tag_change(c, device_id, tag, false, err);
}

/* ---- address bindings ------------------------------------------------------------------- */

static int address_add_locked(struct catalog *c, int64_t device_id, const struct addr *a,
			      int64_t from_ns, int64_t until_ns, struct errbuf *err)
{
	static const char sql_count[] = "SELECT count(*) FROM addresses WHERE device_id = ?1";
	/* Uses addresses_addr: O(log n + bindings of this address). */
	static const char sql_conflict[] =
		"SELECT d.name, a.from_ns, a.until_ns FROM addresses a "
		"JOIN devices d ON d.id = a.device_id "
		"WHERE a.family = ?1 AND a.bytes = ?2 AND a.prefix = ?3 "
		"AND a.from_ns < ?5 AND a.until_ns > ?4 ORDER BY a.from_ns LIMIT 1";
	static const char sql[] = "INSERT INTO addresses (device_id, family, bytes, prefix, "
				  "from_ns, until_ns) VALUES (?6, ?1, ?2, ?3, ?4, ?5)";
	_cleanup_stmt_ sqlite3_stmt *st_conflict = NULL;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char name[DEVICE_NAME_MAX + 1], astr[ADDR_BUF];
	int64_t n;
	int r, rc;

	r = device_name_of(c, device_id, name, err);
	if (r < 0)
		return r;
	r = query_count(c, sql_count, device_id, &n, err);
	if (r < 0)
		return r;
	if (n >= DEVICE_ADDRS_MAX)
		return err_set(err, E2BIG, "device %s already has %d address bindings, the most "
			       "allowed", name, DEVICE_ADDRS_MAX);
	addr_format(a, astr, sizeof(astr));
	if (addr_is_exact(a)) {
		r = catalog_stmt(c, sql_conflict, &st_conflict, err);
		if (r < 0)
			return r;
		rc = bind_addr(st_conflict, 1, a);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st_conflict, 4, from_ns);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st_conflict, 5, until_ns);
		if (rc != SQLITE_OK)
			return catalog_sqlerr(c, rc, err, "binding");
		rc = sqlite3_step(st_conflict);
		if (rc == SQLITE_ROW) {
			char holder[DEVICE_NAME_MAX + 1], from[CATALOG_TIME_BUF], until[CATALOG_TIME_BUF];

			r = catalog_column_copy(c, st_conflict, 0, holder, sizeof(holder), err,
						"device name", 0);
			if (r < 0)
				return r;
			catalog_format_time(sqlite3_column_int64(st_conflict, 1), from, sizeof(from));
			catalog_format_time(sqlite3_column_int64(st_conflict, 2), until, sizeof(until));
			return err_set(err, EEXIST, "address %s is held by device %s from %s until %s; "
				       "release it first (device set %s --release %s --at TIME)",
				       astr, holder, from, until, holder, astr);
		}
		if (rc != SQLITE_DONE)
			return catalog_sqlerr(c, rc, err, "looking up an address");
	}
	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	rc = bind_addr(st, 1, a);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 4, from_ns);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 5, until_ns);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 6, device_id);
	if (rc != SQLITE_OK)
		return catalog_sqlerr(c, rc, err, "binding");
	return catalog_step_done(c, st, err, "adding an address");
}

int catalog_address_add(struct catalog *c, int64_t device_id, const struct addr *a,
			int64_t from_ns, int64_t until_ns, struct errbuf *err)
{
	char from[CATALOG_TIME_BUF], until[CATALOG_TIME_BUF];
	bool own;
	int r;

	if (!a || !addr_valid(a))
		return err_set(err, EINVAL, "malformed address (family, prefix or host bits)");
	if (from_ns >= until_ns) {
		catalog_format_time(from_ns, from, sizeof(from));
		catalog_format_time(until_ns, until, sizeof(until));
		return err_set(err, EINVAL, "an address binding must end after it starts "
			       "(from %s until %s)", from, until);
	}
	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	r = address_add_locked(c, device_id, a, from_ns, until_ns, err);
	return catalog_tx_leave(c, own, r, err);
}

static int address_release_locked(struct catalog *c, int64_t device_id, const struct addr *a,
				  int64_t at_ns, struct errbuf *err)
{
	/* The binding valid at at_ns: from <= at < until. Starting exactly at at_ns it would
	 * become empty, so it goes; otherwise it ends at at_ns. */
	static const char sql_del[] = "DELETE FROM addresses WHERE device_id = ?4 AND family = ?1 "
				      "AND bytes = ?2 AND prefix = ?3 AND from_ns = ?5 "
				      "AND until_ns > ?5";
	static const char sql_end[] = "UPDATE addresses SET until_ns = ?5 WHERE device_id = ?4 "
				      "AND family = ?1 AND bytes = ?2 AND prefix = ?3 "
				      "AND from_ns < ?5 AND until_ns > ?5";
	char name[DEVICE_NAME_MAX + 1], astr[ADDR_BUF], at[CATALOG_TIME_BUF];
	int changes = 0, r, rc;

	r = device_name_of(c, device_id, name, err);
	if (r < 0)
		return r;
	for (int i = 0; i < 2; i++) {
		_cleanup_stmt_ sqlite3_stmt *st = NULL;

		r = catalog_stmt(c, i == 0 ? sql_del : sql_end, &st, err);
		if (r < 0)
			return r;
		rc = bind_addr(st, 1, a);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 4, device_id);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 5, at_ns);
		if (rc != SQLITE_OK)
			return catalog_sqlerr(c, rc, err, "binding");
		r = catalog_step_done(c, st, err, "releasing an address");
		if (r < 0)
			return r;
		changes += sqlite3_changes(c->db);
	}
	if (changes == 0) {
		addr_format(a, astr, sizeof(astr));
		catalog_format_time(at_ns, at, sizeof(at));
		return err_set(err, ENOENT, "device %s holds no binding of %s valid at %s", name,
			       astr, at);
	}
	return 0;
}

int catalog_address_release(struct catalog *c, int64_t device_id, const struct addr *a,
			    int64_t at_ns, struct errbuf *err)
{
	bool own;
	int r;

	if (!a || !addr_valid(a))
		return err_set(err, EINVAL, "malformed address (family, prefix or host bits)");
	r = catalog_tx_enter(c, &own, err);
	if (r < 0)
		return r;
	r = address_release_locked(c, device_id, a, at_ns, err);
	return catalog_tx_leave(c, own, r, err);
}

/* ---- classification tables -------------------------------------------------------------- */

int catalog_load_devmap(struct catalog *c, struct devmap **ret, struct errbuf *err)
{
	static const char sql[] = "SELECT id, device_id, family, bytes, prefix, from_ns, until_ns "
				  "FROM addresses ORDER BY id";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct devmap *m;
	int r, rc;

	*ret = NULL;
	r = catalog_stmt(c, sql, &st, err);
	if (r < 0)
		return r;
	m = devmap_new();
	if (!m)
		return err_set(err, ENOMEM, "out of memory");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0), dev = sqlite3_column_int64(st, 1);
		int64_t from = sqlite3_column_int64(st, 5), until = sqlite3_column_int64(st, 6);
		struct addr a;

		if (dev <= 0 || dev > (int64_t)UINT32_MAX || addr_from_row(st, 2, &a) < 0 ||
		    from >= until) {
			devmap_free(m);
			return err_set(err, EPROTO, "catalogue %s: address %" PRId64 " is malformed",
				       c->path, id);
		}
		r = devmap_add(m, &a, (uint32_t)dev, from, until);
		if (r < 0) {
			devmap_free(m);
			return err_set(err, -r, "loading address %" PRId64 " of device %" PRId64
				       ": %s", id, dev, strerror(-r));
		}
	}
	if (rc != SQLITE_DONE) {
		devmap_free(m);
		return catalog_sqlerr(c, rc, err, "reading addresses");
	}
	*ret = m;
	return 0;
}

int catalog_registry_generation(struct catalog *c, int64_t *ret)
{
	static const char sql[] = "SELECT value FROM counters WHERE name = 'registry_generation'";
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r, rc;

	r = catalog_stmt(c, sql, &st, NULL);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -EPROTO;
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, NULL, NULL);
	*ret = sqlite3_column_int64(st, 0);
	return 0;
}

int catalog_content_state(struct catalog *c, int64_t *ret_generation, int64_t *ret_imports_running)
{
	static const char sql[] =
		"SELECT (SELECT value FROM counters WHERE name = 'content_generation'),"
		"       (SELECT count(*) FROM imports WHERE state = 0)"; /* IMPORT_RUNNING */
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = catalog_stmt(c, sql, &st, NULL);
	if (r < 0)
		return r;
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return catalog_sqlerr(c, rc, NULL, NULL);
	if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		return -EPROTO;
	*ret_generation = sqlite3_column_int64(st, 0);
	*ret_imports_running = sqlite3_column_int64(st, 1);
	return 0;
}

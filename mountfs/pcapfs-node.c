/* pcapfs-node.c — the filesystem's nodes (stable ids of windows), the access decision and
 * audit record of each request, and the snapshots behind window attributes and opens
 * (pcapfs.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>

#include "access-format.h"
#include "pcapfs.h"

/* ---- nodes ---------------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

static bool is_hour(const struct window *w)
{
	return w->start_ns % (3600 * NS_PER_SEC) == 0 && w->end_ns - w->start_ns == 3600 * NS_PER_SEC;
}

/* Ids are spread over the buckets: hourly ones share their low bits across devices. */
static size_t bucket(uint64_t ino)
{
	return (size_t)(mix64(ino) % WNODE_BUCKETS);
}

struct wnode *node_find_locked(struct pcapfs *fs, uint64_t ino)
{
	for (struct wnode *n = fs->nodes[bucket(ino)]; n; n = n->next)
		if (n->ino == ino)
			return n;
	return NULL;
}

uint64_t node_hour_ino(int64_t dev, const struct window *w)
{
	if (is_hour(w) && dev >= 0 && dev < (INT64_C(1) << 32) && w->start_ns >= 0 &&
	    w->start_ns / (3600 * NS_PER_SEC) < (INT64_C(1) << 24))
		return NODE_HOUR << 56 | (uint64_t)dev << 24 | (uint64_t)(w->start_ns / (3600 * NS_PER_SEC));
	return 0;
}

/* The node of (device, window), created if needed; with count, one more kernel reference
 * (a LOOKUP reply), which node_forget gives back. Returns its ino, 0 when the table is
 * full. */
uint64_t node_get(struct pcapfs *fs, int64_t dev, const struct window *w, bool count)
{
	uint64_t ino = node_hour_ino(dev, w);
	if (!ino)
		ino = NODE_WINDOW << 56 |
		      (mix64((uint64_t)dev * 31 + mix64((uint64_t)w->start_ns) * 17 + (uint64_t)w->end_ns) &
		       ((UINT64_C(1) << 56) - 1));
	pthread_mutex_lock(&fs->node_lock);
	for (;;) {
		struct wnode *n = node_find_locked(fs, ino);
		if (!n)
			break;
		if (n->device_id == dev && n->w.start_ns == w->start_ns && n->w.end_ns == w->end_ns) {
			if (count)
				n->nlookup++;
			pthread_mutex_unlock(&fs->node_lock);
			return ino;
		}
		/* Another window with the same id: probe on (within the type). */
		ino = (ino & ~((UINT64_C(1) << 56) - 1)) | (((ino & ((UINT64_C(1) << 56) - 1)) + 1) &
							     ((UINT64_C(1) << 56) - 1));
		if (NODE_TYPE(ino) == NODE_HOUR)
			ino = NODE_WINDOW << 56 | (ino & ((UINT64_C(1) << 56) - 1));
	}
	if (fs->n_nodes >= fs->max_nodes) {
		pthread_mutex_unlock(&fs->node_lock);
		return 0;
	}
	struct wnode *n = calloc(1, sizeof(*n));
	if (!n) {
		pthread_mutex_unlock(&fs->node_lock);
		return 0;
	}
	*n = (struct wnode){.ino = ino, .base = ino, .device_id = dev, .w = *w, .nlookup = count ? 1 : 0};
	n->next = fs->nodes[bucket(ino)];
	fs->nodes[bucket(ino)] = n;
	fs->n_nodes++;
	pthread_mutex_unlock(&fs->node_lock);
	return ino;
}

static int64_t plan_mtime(const struct plan *p, const struct window *w)
{
	return p->packets ? p->t_last : w->end_ns;
}

/* The snapshot nodes holding plans, in the order of their last use. */
static void held_unlink_locked(struct pcapfs *fs, struct wnode *n)
{
	*(n->held_prev ? &n->held_prev->held_next : &fs->held_first) = n->held_next;
	*(n->held_next ? &n->held_next->held_prev : &fs->held_last) = n->held_prev;
	n->held_prev = n->held_next = NULL;
}

static void held_push_locked(struct pcapfs *fs, struct wnode *n)
{
	n->held_prev = NULL;
	n->held_next = fs->held_first;
	*(fs->held_first ? &fs->held_first->held_prev : &fs->held_last) = n;
	fs->held_first = n;
}

/* A snapshot node was used: it lets go of its plan last. */
static void held_touch_locked(struct pcapfs *fs, struct wnode *n)
{
	if (n->snap && fs->held_first != n) {
		held_unlink_locked(fs, n);
		held_push_locked(fs, n);
	}
}

/* The node lets go of its plan; returns it (or NULL) for snap_unref outside the lock. */
static struct snap *held_release_locked(struct pcapfs *fs, struct wnode *n)
{
	struct snap *s = n->snap;
	if (s) {
		held_unlink_locked(fs, n);
		fs->n_snaps--;
		n->snap = NULL;
	}
	return s;
}

/* The node takes plan s; returns the plan of the least recently used node that lets go of
 * it (or NULL), for snap_unref outside the lock. */
static struct snap *held_add_locked(struct pcapfs *fs, struct wnode *n, struct snap *s)
{
	n->snap = s;
	held_push_locked(fs, n);
	return ++fs->n_snaps <= SNAP_HELD_MAX ? NULL : held_release_locked(fs, fs->held_last);
}

/* The snapshot node of window (dev, w), whose own id is base, for snapshot s (taken over):
 * a live one of the same content with one more reference, or a new one. 0 when the table
 * is full. */
static uint64_t node_snap_get(struct pcapfs *fs, uint64_t base, int64_t dev, const struct window *w,
			      struct snap *s)
{
	uint64_t digest = plan_digest(s->plan), ino = 0;
	pthread_mutex_lock(&fs->node_lock);
	struct wnode *n;
	for (n = fs->by_base[bucket(base)]; n; n = n->next_base)
		if (n->base == base && n->device_id == dev && n->w.start_ns == w->start_ns &&
		    n->w.end_ns == w->end_ns && n->digest == digest)
			break;
	if (!n && fs->n_nodes < fs->max_nodes && (n = calloc(1, sizeof(*n)))) {
		uint64_t seq = ++fs->snap_seq & ((UINT64_C(1) << 56) - 1);
		*n = (struct wnode){.ino = NODE_SNAP << 56 | seq, .base = base, .device_id = dev,
				    .w = *w, .snapshot = true, .digest = digest,
				    .size = s->plan->size, .mtime_ns = plan_mtime(s->plan, w)};
		n->next = fs->nodes[bucket(n->ino)];
		fs->nodes[bucket(n->ino)] = n;
		n->next_base = fs->by_base[bucket(base)];
		fs->by_base[bucket(base)] = n;
		fs->n_nodes++;
	}
	struct snap *drop = s;
	if (n) {
		n->nlookup++;
		ino = n->ino;
		if (!n->snap)
			drop = held_add_locked(fs, n, s);
		else
			held_touch_locked(fs, n);
	}
	pthread_mutex_unlock(&fs->node_lock);
	snap_unref(drop);
	return ino;
}

void node_forget(struct pcapfs *fs, uint64_t ino, uint64_t nlookup)
{
	struct snap *old = NULL;
	pthread_mutex_lock(&fs->node_lock);
	struct wnode **pp = &fs->nodes[bucket(ino)], *n;
	while ((n = *pp) && n->ino != ino)
		pp = &n->next;
	if (n) {
		n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
		if (n->nlookup == 0) {
			/* The kernel holds no reference: nothing can name this node until the next
			 * LOOKUP, which creates a window's own node again (same id). Open files keep
			 * their snapshots. */
			*pp = n->next;
			if (n->snapshot) {
				struct wnode **bp = &fs->by_base[bucket(n->base)];
				while (*bp != n)
					bp = &(*bp)->next_base;
				*bp = n->next_base;
			}
			fs->n_nodes--;
			old = held_release_locked(fs, n);
			free(n);
		}
	}
	pthread_mutex_unlock(&fs->node_lock);
	snap_unref(old);
}

bool node_lookup(struct pcapfs *fs, uint64_t ino, int64_t *dev, struct window *w, uint64_t *base)
{
	pthread_mutex_lock(&fs->node_lock);
	struct wnode *n = node_find_locked(fs, ino);
	if (n) {
		*dev = n->device_id;
		*w = n->w;
		if (base)
			*base = n->base;
	}
	pthread_mutex_unlock(&fs->node_lock);
	if (n)
		return true;
	/* Hourly windows decode without the table (e.g. after a restart). */
	if (NODE_TYPE(ino) == NODE_HOUR) {
		*dev = (int64_t)((ino >> 24) & 0xffffffff);
		w->start_ns = (int64_t)(ino & 0xffffff) * 3600 * NS_PER_SEC;
		w->end_ns = w->start_ns + 3600 * NS_PER_SEC;
		if (base)
			*base = ino;
		return true;
	}
	return false;
}

void pcapfs_nodes_free(struct pcapfs *fs)
{
	for (size_t b = 0; b < WNODE_BUCKETS; b++) {
		struct wnode *n = fs->nodes[b];
		while (n) {
			struct wnode *next = n->next;
			snap_unref(n->snap);
			free(n);
			n = next;
		}
		fs->nodes[b] = NULL;
		fs->by_base[b] = NULL;
	}
	fs->held_first = fs->held_last = NULL;
	fs->n_snaps = 0;
}

/* ---- access ------------------------------------------------------------------------------- */

/* May the caller of req read the device (by name, or by id when name is NULL)? Fills *ret_id.
 * Returns 0, -ENOENT (no such device, or not for this caller), -EACCES (PAM refuses the
 * account), -EIO (the user database or the catalogue failed: decided nothing, and recorded
 * like a refusal, with why, for a device that exists or may). */

/* The device a record names: by name when known, else by id (no name has '#'). */
static void name_device(struct access_info *info, const char *name, int64_t id)
{
	if (name)
		snprintf(info->device, sizeof(info->device), "%s", name);
	else
		snprintf(info->device, sizeof(info->device), "#%" PRId64, id);
}

static int check_access(struct pcapfs *fs, fuse_req_t req, const char *name, int64_t id,
			const struct window *w, int64_t *ret_id, struct access_info *info)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct identity who = {.uid = ctx->uid, .gid = ctx->gid};
	struct access_info dummy;
	if (!info)
		info = &dummy;
	*info = (struct access_info){0};
	if (ctx->uid == 0)
		snprintf(info->user, sizeof(info->user), "root");
	bool pam_ok = ctx->uid == 0;
	struct errbuf err = {{0}};
	int id_err = 0;
	if (ctx->uid != 0) {
		id_err = idcache_get(fs->ids, ctx->uid, &who, &pam_ok, &err);
		if (id_err == -ENOENT)
			return -ENOENT; /* a uid without a user reads nothing */
		if (id_err < 0) {
			pcapfs_log("uid %u: %s", (unsigned)ctx->uid, err.msg);
			snprintf(info->reason, sizeof(info->reason), "the user database failed: %.190s",
				 err.msg[0] ? err.msg : strerror(-id_err));
			pam_ok = false;
		} else {
			snprintf(info->user, sizeof(info->user), "%s", who.name);
		}
	}
	struct device d = {0};
	struct grant *grants = NULL;
	size_t n_grants = 0;
	/* Limits change without a remount, like grants: read with them. */
	struct policy_config pc = fs->pc;
	pthread_mutex_lock(&fs->cat_lock);
	/* Root's decision needs only the device's existence; others' its owner and tags. */
	struct errbuf cerr = {{0}};
	int e = catalog_device_get_brief(fs->sp->cat, name, id, ctx->uid != 0, &d, &cerr);
	if (!pam_ok) {
		/* An account PAM refuses reads nothing, whether or not the device exists; the
		 * device is still looked up, for the record. So is one whose user could not be
		 * read: its record names the device when it exists. */
		pthread_mutex_unlock(&fs->cat_lock);
		if (e == 0)
			*ret_id = d.id;
		if (id_err == 0)
			snprintf(info->reason, sizeof(info->reason), "PAM refuses the account");
		info->exists = id_err == 0 || e == 0;
		name_device(info, e == 0 ? d.name : name, id);
		device_done(&d);
		identity_done(&who);
		return id_err < 0 ? -EIO : -EACCES;
	}
	/* For a name that exists nowhere too: a device hidden from the caller and no device at
	 * all cost the same work (the refusal's record is written after the reply). */
	bool found = e == 0;
	if ((e == 0 || e == -ENOENT) && ctx->uid != 0) {
		int g = catalog_grants_load(fs->sp->cat, &grants, &n_grants, &cerr);
		if (g == 0)
			g = catalog_role_limits_load(fs->sp->cat, pc.limits, &cerr);
		if (g < 0)
			e = g;
	}
	pthread_mutex_unlock(&fs->cat_lock);
	if (e == 0) {
		struct policy_decision pd = {.allow = true, .reason = "uid 0"};
		if (ctx->uid != 0)
			policy_device(&pc, &who, pam_ok, &d, grants, n_grants, &pd);
		e = pd.allow ? 0 : -ENOENT;
		*ret_id = d.id;
		info->exists = true;
		snprintf(info->device, sizeof(info->device), "%s", d.name);
		snprintf(info->reason, sizeof(info->reason), "%s", pd.reason);
		if (e == 0 && ctx->uid != 0) {
			info->limits = pc.limits[policy_role(&pc, &who)];
			if (w) {
				struct policy_decision wd;
				policy_window(&pc, &who, w->start_ns, w->end_ns, now_ns(), &wd);
				if (!wd.allow) {
					e = -EACCES;
					snprintf(info->reason, sizeof(info->reason), "%s", wd.reason);
				}
			}
		}
	} else if (e != -ENOENT) {
		/* Decided nothing: recorded like a refusal, naming the device when known. */
		pcapfs_log("catalogue: %s", cerr.msg);
		snprintf(info->reason, sizeof(info->reason), "the catalogue failed: %.190s",
			 cerr.msg[0] ? cerr.msg : strerror(-e));
		name_device(info, found ? d.name : name, id);
		info->exists = true;
		e = -EIO;
	}
	free(grants);
	device_done(&d);
	identity_done(&who);
	return e;
}

int check_device_info(struct pcapfs *fs, fuse_req_t req, const char *name, int64_t id,
		      int64_t *ret_id, struct access_info *info)
{
	return check_access(fs, req, name, id, NULL, ret_id, info);
}

int check_window_info(struct pcapfs *fs, fuse_req_t req, int64_t id, const struct window *w,
		      int64_t *ret_id, struct access_info *info)
{
	return check_access(fs, req, NULL, id, w, ret_id, info);
}

/* ---- audit records ------------------------------------------------------------------------ */

/* A refused path walk can reach the filesystem more than once: over a directory entry that
 * another caller looked up, the kernel first revalidates the entry (a LOOKUP), finds it
 * gone and looks the name up afresh (a second LOOKUP), and concurrent walks of the same
 * name can add a third. One refused walk is one event: a refused lookup of the same path by
 * the same process (uid, pid) within REFUSAL_MERGE_NS of the one recorded is covered by
 * that record. The window is fixed from the record, not sliding, so a process that keeps
 * trying is recorded once per window. */
#define REFUSAL_MERGE_NS NS_PER_SEC
#define REFUSAL_BUCKETS 1024
#define REFUSAL_WAYS 4

/* The path of an event: its own, or /pcap/<device>[/<window>]. */
#define EVENT_PATH_BUF (DEVICE_NAME_MAX + WINDOW_NAME_BUF + 16)
static const char *event_path(const struct audit_event *ev, char *buf, size_t size)
{
	if (ev->path)
		return ev->path;
	snprintf(buf, size, "/pcap/%s%s%s", ev->device ? ev->device : "", ev->window ? "/" : "",
		 ev->window ? ev->window : "");
	return buf;
}

static bool refusal_covered(uid_t uid, pid_t pid, const char *path)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct {
		uint64_t key;
		int64_t at;
	} tab[REFUSAL_BUCKETS][REFUSAL_WAYS];
	uint64_t key = UINT64_C(1469598103934665603); /* FNV-1a of uid, pid, path */
	uint32_t ids[2] = {(uint32_t)uid, (uint32_t)pid};
	for (size_t i = 0; i < sizeof(ids); i++)
		key = (key ^ ((const uint8_t *)ids)[i]) * UINT64_C(1099511628211);
	for (const char *c = path; *c; c++)
		key = (key ^ (uint8_t)*c) * UINT64_C(1099511628211);
	key |= 1; /* 0 marks a free way */
	int64_t now = mono_ns();
	pthread_mutex_lock(&lock);
	size_t b = key % REFUSAL_BUCKETS, victim = 0;
	for (size_t i = 0; i < REFUSAL_WAYS; i++) {
		if (tab[b][i].key == key && now - tab[b][i].at < REFUSAL_MERGE_NS) {
			pthread_mutex_unlock(&lock);
			return true;
		}
		if (tab[b][i].key == key || tab[b][i].key == 0 ||
		    (tab[b][victim].key != key && tab[b][i].at < tab[b][victim].at))
			victim = i;
	}
	tab[b][victim].key = key;
	tab[b][victim].at = now;
	pthread_mutex_unlock(&lock);
	return false;
}

static int record(struct pcapfs *fs, struct audit_event *event);

int audit_refused_lookup(struct pcapfs *fs, struct audit_event *ev)
{
	if (fs->audit_mode == AUDIT_OFF)
		return 0;
	char path[EVENT_PATH_BUF];
	const char *given = ev->path;
	ev->path = event_path(ev, path, sizeof(path));
	int e = refusal_covered(ev->uid, ev->pid, ev->path) ? 0 : record(fs, ev);
	ev->path = given;
	return e;
}

int audit_access(struct pcapfs *fs, struct audit_event *ev)
{
	if (fs->audit_mode == AUDIT_OFF)
		return 0;
	char path[EVENT_PATH_BUF];
	const char *given = ev->path;
	ev->path = event_path(ev, path, sizeof(path));
	int e = record(fs, ev);
	ev->path = given;
	return e;
}

/* ---- the query log's rows kept for later ---------------------------------------------------- */

#define QLOG_PENDING_MAX 4096
/* How long a row that decides no access waits for the catalogue's lock before it is kept
 * for later: the query-log connection is one, and a granted open waiting to be recorded
 * must not queue behind refusals each waiting the full busy timeout. */
#define QLOG_DEFER_WAIT_MS 500

/* catalog_access_add or catalog_access_refuse on the query log (with fs->qlog_lock held),
 * waiting at most QLOG_DEFER_WAIT_MS for the lock unless the row decides an access. */
static int qlog_write(struct pcapfs *fs, struct access_row *row, int64_t refuse_id, bool decides,
		      struct errbuf *err)
{
	if (!decides)
		catalog_set_busy_timeout(fs->qlog, QLOG_DEFER_WAIT_MS);
	int e = refuse_id > 0 ? catalog_access_refuse(fs->qlog, refuse_id, row->reason, err)
			      : catalog_access_add(fs->qlog, row, err);
	if (!decides)
		catalog_set_busy_timeout(fs->qlog, SPOOL_DEFAULT_LOCK_TIMEOUT_MS);
	return e;
}

struct qlog_pending {
	struct qlog_pending *next;
	int64_t refuse_id; /* > 0: mark that row refused, with row.reason; 0: add row */
	struct access_row row;
};

static bool qlog_pending_any(struct pcapfs *fs)
{
	pthread_mutex_lock(&fs->pending_lock);
	bool any = fs->pending_first != NULL;
	pthread_mutex_unlock(&fs->pending_lock);
	return any;
}

/* Keep a write for qlog_flush; false when QLOG_PENDING_MAX are waiting already. */
static bool qlog_defer(struct pcapfs *fs, const struct access_row *row, int64_t refuse_id)
{
	struct qlog_pending *p = NULL;
	pthread_mutex_lock(&fs->pending_lock);
	if (fs->n_pending < QLOG_PENDING_MAX && (p = malloc(sizeof(*p)))) {
		p->next = NULL;
		p->refuse_id = refuse_id;
		p->row = *row;
		if (fs->pending_last)
			fs->pending_last->next = p;
		else
			fs->pending_first = p;
		fs->pending_last = p;
		fs->n_pending++;
	}
	pthread_mutex_unlock(&fs->pending_lock);
	return p != NULL;
}

static void qlog_log_row(const char *what, const struct qlog_pending *p)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f) {
		access_csv_row(f, &p->row);
		fclose(f);
	}
	if (text && len && text[len - 1] == '\n')
		text[len - 1] = 0;
	if (p->refuse_id > 0)
		pcapfs_log("%s: row %" PRId64 " refused (%s)", what, p->refuse_id, p->row.reason);
	else
		pcapfs_log("%s: %s", what, text ? text : p->row.path);
	free(text);
}

/* Only one thread flushes at a time: the watcher, and at unmount the main thread once the
 * watcher has stopped. Writers append meanwhile. */
void qlog_flush(struct pcapfs *fs, bool final)
{
	uint64_t written = 0;
	struct errbuf err = {{0}};
	int e = 0;
	for (;;) {
		pthread_mutex_lock(&fs->pending_lock);
		struct qlog_pending *p = fs->pending_first;
		pthread_mutex_unlock(&fs->pending_lock);
		if (!p)
			break;
		pthread_mutex_lock(&fs->qlog_lock);
		/* At unmount nothing waits on the lock: the full busy timeout. */
		e = qlog_write(fs, &p->row, p->refuse_id, final, &err);
		pthread_mutex_unlock(&fs->qlog_lock);
		/* A lock, a full disk or an I/O error pass; anything else would refuse this row
		 * every time and hold up every row behind it: it is logged in full and dropped. */
		bool passing = e == -EBUSY || e == -EAGAIN || e == -ENOSPC || e == -EDQUOT ||
			       e == -EIO || e == -ENOMEM;
		if (e < 0 && passing)
			break;
		if (e < 0) {
			char what[sizeof(err.msg) + 32];
			snprintf(what, sizeof(what), "query-log row dropped (%s)", err.msg);
			qlog_log_row(what, p);
		} else {
			written++;
		}
		e = 0;
		pthread_mutex_lock(&fs->pending_lock);
		fs->pending_first = p->next;
		if (!p->next)
			fs->pending_last = NULL;
		fs->n_pending--;
		pthread_mutex_unlock(&fs->pending_lock);
		free(p);
	}
	if (written)
		pcapfs_log("query log: %" PRIu64 " delayed row%s written", written, written == 1 ? "" : "s");
	if (e < 0 && (!fs->pending_failing || final)) {
		pthread_mutex_lock(&fs->pending_lock);
		size_t n = fs->n_pending;
		pthread_mutex_unlock(&fs->pending_lock);
		pcapfs_log("query log: %zu row%s waiting to be written: %s%s", n, n == 1 ? "" : "s",
			   err.msg, final ? "" : " (retrying every second)");
	}
	fs->pending_failing = e < 0;
	if (!final)
		return;
	pthread_mutex_lock(&fs->pending_lock);
	struct qlog_pending *p = fs->pending_first;
	fs->pending_first = fs->pending_last = NULL;
	fs->n_pending = 0;
	pthread_mutex_unlock(&fs->pending_lock);
	while (p) {
		struct qlog_pending *next = p->next;
		qlog_log_row("query-log row lost at unmount", p);
		free(p);
		p = next;
	}
}

static int record(struct pcapfs *fs, struct audit_event *event)
{
	/* A copy: a refusal decided here changes what the Linux audit record says, not the
	 * caller's event. */
	struct audit_event copy = *event, *ev = &copy;
	/* The row first: its id is the event id of the Linux audit record. */
	struct access_row row = {.ts_ns = now_ns(), .allowed = ev->granted, .uid = ev->uid,
				 .gid = ev->gid, .pid = ev->pid, .bytes = ev->bytes,
				 .duration_ns = ev->duration_ns, .open_id = ev->open_id};
	snprintf(row.op, sizeof(row.op), "%s", ev->op);
	snprintf(row.user, sizeof(row.user), "%s", ev->user ? ev->user : "");
	snprintf(row.device, sizeof(row.device), "%s", ev->device ? ev->device : "");
	snprintf(row.window, sizeof(row.window), "%s", ev->window ? ev->window : "");
	snprintf(row.path, sizeof(row.path), "%s", ev->path);
	snprintf(row.reason, sizeof(row.reason), "%s", ev->reason ? ev->reason : "");
	/* Whether the access waits on this row: a granted open (or lookup, or listing) when
	 * auditing is required. Other rows (refusals, closes, anything best-effort) that cannot
	 * be written are kept for qlog_flush, and while rows wait, new ones of that kind queue
	 * behind them instead of waiting for the catalogue's lock one after another. */
	bool decides = fs->audit_mode == AUDIT_REQUIRED && ev->granted && strcmp(ev->op, "close") != 0;
	struct errbuf qerr = {{0}}, aerr = {{0}};
	int q = -ENOTCONN;
	if (!fs->qlog) {
		snprintf(qerr.msg, sizeof(qerr.msg), "the query log is not open");
	} else if (!decides && qlog_pending_any(fs)) {
		q = -EAGAIN;
		snprintf(qerr.msg, sizeof(qerr.msg), "earlier rows are still waiting");
	} else {
		pthread_mutex_lock(&fs->qlog_lock);
		q = qlog_write(fs, &row, 0, decides, &qerr);
		pthread_mutex_unlock(&fs->qlog_lock);
	}
	event->id = ev->id = q == 0 ? row.id : 0;
	char why[ACCESS_REASON_MAX + 1];
	bool refuse = false, kept = false;
	if (q < 0) {
		if (decides) {
			/* Refused; the Linux audit record tells of the refusal and why, and so does
			 * the row once it can be written. */
			snprintf(why, sizeof(why), "query log not written: %.200s", qerr.msg);
			ev->granted = false;
			ev->reason = why;
			row.allowed = false;
			snprintf(row.reason, sizeof(row.reason), "%s", why);
			refuse = true;
		}
		kept = fs->qlog && qlog_defer(fs, &row, 0);
		if (q != -EAGAIN || !kept)
			pcapfs_log("query-log row not written (%s %s uid %u): %s%s%s", ev->op, ev->path,
				   (unsigned)ev->uid, qerr.msg, refuse ? "; access refused" : "",
				   kept ? "; kept to be written later"
					: fs->qlog ? "; too many rows waiting, this one is lost" : "");
	}
	int a = auditlog_write(fs->audit, ev, &aerr);
	if (a < 0) {
		pcapfs_log("audit record not written (%s %s uid %u): %s%s", ev->op, ev->path,
			   (unsigned)ev->uid, aerr.msg, decides && !refuse ? "; access refused" : "");
		if (decides && !refuse) {
			refuse = true;
			snprintf(why, sizeof(why), "audit record not written: %.200s", aerr.msg);
			snprintf(row.reason, sizeof(row.reason), "%s", why);
			pthread_mutex_lock(&fs->qlog_lock);
			int e = qlog_write(fs, &row, row.id, false, &qerr);
			pthread_mutex_unlock(&fs->qlog_lock);
			if (e < 0) {
				bool later = qlog_defer(fs, &row, row.id);
				pcapfs_log("query-log row %" PRId64 " not marked refused: %s%s", row.id,
					   qerr.msg, later ? "; kept to be marked later" : "");
			}
		}
	}
	if ((q == 0 || kept) && a == 0)
		return refuse ? -EACCES : 0;
	if (fs->audit_mode == AUDIT_REQUIRED)
		return refuse || !ev->granted ? -EACCES : 0;
	/* best-effort: served, and what could not be recorded goes to syslog (authpriv); a row
	 * kept for later is not lost. */
	char msg[2048];
	if (auditlog_format(ev, msg, sizeof(msg)) < 0)
		snprintf(msg, sizeof(msg), "op=%s uid=%u path=(too long)", ev->op, (unsigned)ev->uid);
	syslog(LOG_AUTHPRIV | LOG_WARNING, "%s not written (%s), access %s: %s",
	       a < 0 ? "audit record" : "query-log row", a < 0 ? aerr.msg : qerr.msg,
	       ev->granted ? "served" : "refused", msg);
	return 0;
}

int check_audit(struct pcapfs *fs, fuse_req_t req, struct access_info *info)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct identity who = {.uid = ctx->uid, .gid = ctx->gid};
	bool pam_ok = ctx->uid == 0;
	struct errbuf err = {{0}};
	*info = (struct access_info){.exists = true};
	if (ctx->uid == 0) {
		snprintf(info->user, sizeof(info->user), "root");
	} else {
		int e = idcache_get(fs->ids, ctx->uid, &who, &pam_ok, &err);
		if (e == -ENOENT) {
			info->exists = false; /* nobody to record */
			return -ENOENT;
		}
		if (e < 0) {
			pcapfs_log("uid %u: %s", (unsigned)ctx->uid, err.msg);
			return -EIO;
		}
		snprintf(info->user, sizeof(info->user), "%s", who.name);
	}
	struct policy_decision pd;
	policy_audit_log(&fs->pc, &who, pam_ok, &pd);
	identity_done(&who);
	snprintf(info->reason, sizeof(info->reason), "%s", pd.reason);
	if (pd.allow)
		return 0;
	return pam_ok ? -ENOENT : -EACCES;
}

struct csv_out {
	FILE *f;
	size_t max;
};

static int csv_row(const struct access_row *r, void *userdata)
{
	struct csv_out *o = userdata;
	access_csv_row(o->f, r);
	if (ferror(o->f))
		return -ENOMEM;
	if (ftell(o->f) > (long)o->max)
		return -EFBIG;
	return 0;
}

static void csv_size_put(struct pcapfs *fs, int64_t day, uint64_t rows, int64_t max_id,
			 uint64_t size)
{
	pthread_mutex_lock(&fs->csv_lock);
	struct csv_size *c = &fs->csv_sizes[(uint64_t)(day / AUDIT_DAY_NS) % ELEMENTSOF(fs->csv_sizes)];
	*c = (struct csv_size){.day = day, .rows = rows, .max_id = max_id, .size = size};
	pthread_mutex_unlock(&fs->csv_lock);
}

/* A day's rows as CSV through a connection of its own, read-only: a long day does not
 * hold up the requests that use the shared handle, nor the rows being recorded. */
static int csv_make(struct pcapfs *fs, int64_t day, char **ret, size_t *ret_size)
{
	char db[SPOOL_MAX_PATH + 16];
	snprintf(db, sizeof(db), "%s/catalog.db", fs->spool_path);
	struct catalog *c;
	struct errbuf err = {{0}};
	*ret = NULL;
	*ret_size = 0;
	int e = catalog_open(db, CATALOG_RDONLY, SPOOL_DEFAULT_LOCK_TIMEOUT_MS, &c, &err);
	if (e < 0) {
		pcapfs_log("/audit: %s", err.msg);
		return -EIO;
	}
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (!f) {
		catalog_close(c);
		return -ENOMEM;
	}
	uint64_t rows = 0;
	int64_t max_id = 0;
	/* Count and rows in one read transaction: the size cached is that of these rows. */
	e = catalog_begin(c, &err);
	if (e == 0)
		e = catalog_access_count(c, day, day + AUDIT_DAY_NS, &rows, &max_id, &err);
	access_csv_header(f);
	struct access_filter flt = {.uid = -1, .allowed = -1, .since_ns = day,
				    .until_ns = day + AUDIT_DAY_NS};
	struct csv_out out = {f, fs->csv_max};
	if (e == 0)
		e = catalog_access_foreach(c, &flt, csv_row, &out, &err);
	catalog_rollback(c);
	catalog_close(c);
	if (fclose(f) != 0 && e == 0)
		e = -ENOMEM;
	if (e < 0) {
		if (e == -EFBIG)
			pcapfs_log("/audit: the day's rows make more than %zu KiB of CSV (audit_csv_max); "
				   "read them with pcapfsctl audit --since --until", fs->csv_max >> 10);
		else if (e != -ENOMEM)
			pcapfs_log("/audit: %s", err.msg[0] ? err.msg : strerror(-e));
		free(buf);
		return e == -EFBIG || e == -ENOMEM ? e : -EIO;
	}
	csv_size_put(fs, day, rows, max_id, size);
	*ret = buf;
	*ret_size = size;
	return 0;
}

int audit_day_csv(struct pcapfs *fs, int64_t day, char **ret, size_t *ret_size)
{
	pthread_mutex_lock(&fs->csv_make_lock);
	int e = csv_make(fs, day, ret, ret_size);
	pthread_mutex_unlock(&fs->csv_make_lock);
	return e;
}

int audit_day_size(struct pcapfs *fs, int64_t day, uint64_t *ret)
{
	uint64_t rows;
	int64_t max_id;
	struct errbuf err = {{0}};
	pthread_mutex_lock(&fs->cat_lock);
	int e = catalog_access_count(fs->sp->cat, day, day + AUDIT_DAY_NS, &rows, &max_id, &err);
	pthread_mutex_unlock(&fs->cat_lock);
	if (e < 0) {
		pcapfs_log("/audit: %s", err.msg);
		return -EIO;
	}
	if (rows == 0)
		return -ENOENT; /* a day without rows has no file */
	pthread_mutex_lock(&fs->csv_lock);
	const struct csv_size *c = &fs->csv_sizes[(uint64_t)(day / AUDIT_DAY_NS) % ELEMENTSOF(fs->csv_sizes)];
	bool hit = c->size && c->day == day && c->rows == rows && c->max_id == max_id;
	*ret = c->size;
	pthread_mutex_unlock(&fs->csv_lock);
	if (hit)
		return 0;
	char *buf;
	size_t size;
	e = audit_day_csv(fs, day, &buf, &size);
	if (e < 0)
		return e;
	free(buf);
	*ret = size;
	return 0;
}

/* ---- attributes --------------------------------------------------------------------------- */

void dir_attr(struct pcapfs *fs, uint64_t ino, struct stat *st)
{
	*st = (struct stat){.st_ino = ino, .st_mode = S_IFDIR | 0555, .st_nlink = 2,
			    .st_blksize = 128 * 1024};
	st->st_mtim.tv_sec = fs->mounted_ns / NS_PER_SEC;
	st->st_ctim = st->st_atim = st->st_mtim;
}

void file_attr(uint64_t ino, uint64_t size, int64_t mtime_ns, struct stat *st)
{
	*st = (struct stat){.st_ino = ino, .st_mode = S_IFREG | 0444, .st_nlink = 1,
			    .st_size = (off_t)size, .st_blocks = (blkcnt_t)((size + 511) / 512),
			    .st_blksize = 128 * 1024};
	st->st_mtim.tv_sec = mtime_ns / NS_PER_SEC;
	st->st_mtim.tv_nsec = mtime_ns % NS_PER_SEC;
	st->st_ctim = st->st_atim = st->st_mtim;
}

/* Mark a window's own node final: its size and time kept, valid while the content
 * generation is gen. */
static void node_final_locked(struct wnode *n, int64_t gen, uint64_t size, int64_t mtime_ns)
{
	n->attr_known = true;
	n->attr_gen = gen;
	n->size = size;
	n->mtime_ns = mtime_ns;
}

/* Does the node's page cache hold the content (size, mtime), as far as it holds any? */
static bool cache_is(const struct wnode *n, uint64_t size, int64_t mtime_ns)
{
	return n->cache.size == size && n->cache.mtime_ns == mtime_ns;
}

/* Do open files read content other than (size, mtime) through the node's page cache? */
static bool cache_busy_locked(const struct wnode *n, uint64_t size, int64_t mtime_ns)
{
	return n->cache_opens > 0 && !cache_is(n, size, mtime_ns);
}

/* Mark a window's own node final with (size, mtime) unless open files read other bytes
 * through its page cache: the kernel would take the new size for theirs, so that content
 * goes to a snapshot node instead. */
static bool node_final_try_locked(struct wnode *n, int64_t gen, uint64_t size, int64_t mtime_ns)
{
	if (n->snapshot || cache_busy_locked(n, size, mtime_ns))
		return false;
	node_final_locked(n, gen, size, mtime_ns);
	return true;
}

/* Opens of different contents must not share a node: its page cache, nor its one size: a
 * reader would get the other's bytes, or its own cut at the other's end or padded with
 * zeros up to it. A snapshot node stands for one content, so every open of it keeps the
 * pages. A window's own node stands for its final content; pages of the same final content
 * are kept across opens (same size and last packet: what the content watcher compares too,
 * and it drops the kernel's pages of a window that changes), others dropped at the first
 * open; while files of one content are open, an open of another is stale (its lookup gets a
 * snapshot node: window_entry). */
enum cache_use node_cache_open(struct pcapfs *fs, uint64_t ino, const struct snap *s)
{
	enum cache_use u = CACHE_STALE;
	pthread_mutex_lock(&fs->node_lock);
	struct wnode *n = node_find_locked(fs, ino);
	if (n && n->snapshot) {
		u = CACHE_KEEP;
	} else if (n) {
		/* Only the content the kernel was told the size of (checked again here, with
		 * the opens, against a lookup that made it final meanwhile). */
		struct cache_key k = {.size = s->plan->size, .mtime_ns = plan_mtime(s->plan, &n->w)};
		if (n->attr_known && n->size == k.size && n->mtime_ns == k.mtime_ns &&
		    !cache_busy_locked(n, k.size, k.mtime_ns)) {
			u = n->cache_valid && cache_is(n, k.size, k.mtime_ns) ? CACHE_KEEP : CACHE_FRESH;
			n->cache = k;
			n->cache_valid = true;
			n->cache_opens++;
		}
	}
	pthread_mutex_unlock(&fs->node_lock);
	return u;
}

void node_cache_close(struct pcapfs *fs, uint64_t ino)
{
	pthread_mutex_lock(&fs->node_lock);
	struct wnode *n = node_find_locked(fs, ino);
	if (n && !n->snapshot && n->cache_opens > 0)
		n->cache_opens--;
	pthread_mutex_unlock(&fs->node_lock);
}

bool node_cache_attr(struct pcapfs *fs, uint64_t ino, uint64_t *size, int64_t *mtime_ns)
{
	pthread_mutex_lock(&fs->node_lock);
	struct wnode *n = node_find_locked(fs, ino);
	bool open = n && !n->snapshot && n->cache_opens > 0;
	if (open) {
		*size = n->cache.size;
		*mtime_ns = n->cache.mtime_ns;
	}
	pthread_mutex_unlock(&fs->node_lock);
	return open;
}

/* Did a window ending at end_ns end long enough ago that nothing more can arrive in it from
 * capture? The writers rotate at least once a segment period. */
static bool window_ended(const struct pcapfs *fs, int64_t end_ns, int64_t now)
{
	return end_ns + fs->sp->cfg.segment_ns + 5 * NS_PER_SEC < now;
}

/* Does the catalogue itself (not the watcher's view of it, up to a second old) say that no
 * import runs and that its content generation is gen? Only then may an answer be cached: an
 * import that began or ended since the watcher last looked would otherwise let a partial
 * window be cached as final. Called with cat_lock held. */
static bool catalogue_settled(struct pcapfs *fs, int64_t gen)
{
	int64_t db_gen, running;
	return catalog_content_state(fs->sp->cat, &db_gen, &running) == 0 && running == 0 &&
	       db_gen == gen;
}

static int build_snap(struct pcapfs *fs, int64_t dev, const struct window *w, struct snap **ret)
{
	struct snap *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	struct errbuf err = {{0}};
	int64_t gen = atomic_load(&fs->content_gen);
	bool ended = window_ended(fs, w->end_ns, now_ns());
	while (sem_wait(&fs->builds) != 0) /* EINTR */
		;
	int e = plan_build(fs->sp, dev, w, 0, &fs->cat_lock, &s->plan, &err);
	sem_post(&fs->builds);
	/* Asked after the plan, and only of one that could be final: the generation read
	 * before it still being current means nothing changed while it was built. */
	bool settled = false;
	if (e == 0 && ended && !s->plan->has_open) {
		pthread_mutex_lock(&fs->cat_lock);
		settled = catalogue_settled(fs, gen);
		pthread_mutex_unlock(&fs->cat_lock);
	}
	if (e < 0) {
		free(s);
		char name[WINDOW_NAME_BUF];
		window_format(w, name, sizeof(name));
		pcapfs_log("device %" PRId64 ", %s: %s", dev, name, err.msg);
		return e == -EFBIG ? -EFBIG : -EIO;
	}
	/* Nothing more can arrive when no segment involved is open and the window ended more
	 * than a segment period ago (the writers rotate at least that often), unless an import
	 * runs or the catalogue changed under the plan (content generation). */
	s->immutable = settled && !atomic_load(&fs->importing) && atomic_load(&fs->content_gen) == gen;
	s->gen = gen;
	s->refs = 1;
	*ret = s;
	return 0;
}

/* Attributes of a window: final ones from the node when it cannot change any more (or a
 * snapshot node's, which never change); else those of a fresh snapshot, handed to the
 * caller for a snapshot node when it asks. Final content that files open on the window's
 * own node do not read counts as a snapshot too (node_final_try_locked). */
int window_attr(struct pcapfs *fs, uint64_t ino, int64_t dev, const struct window *w,
		struct stat *st, bool *immutable, struct snap **ret_snap)
{
	int64_t gen = atomic_load(&fs->content_gen);
	pthread_mutex_lock(&fs->node_lock);
	struct wnode *n = node_find_locked(fs, ino);
	if (n && (n->snapshot || (n->attr_known && n->attr_gen == gen))) {
		file_attr(n->base, n->size, n->mtime_ns, st);
		pthread_mutex_unlock(&fs->node_lock);
		*immutable = true;
		return 0;
	}
	pthread_mutex_unlock(&fs->node_lock);

	/* A window that ended long enough ago and that whole sealed segments fill (every
	 * hourly file): its size is the sum of the catalogue's summaries, no index is read. */
	bool past = window_ended(fs, w->end_ns, now_ns()) &&
		    !atomic_load(&fs->importing);
	if (past) {
		struct window_totals t;
		struct errbuf err;
		pthread_mutex_lock(&fs->cat_lock);
		int r = catalog_window_totals(fs->sp->cat, dev, w->start_ns, w->end_ns, &t, &err);
		bool settled = r == 0 && t.partial == 0 && t.open_segments == 0 &&
			       catalogue_settled(fs, gen);
		pthread_mutex_unlock(&fs->cat_lock);
		if (settled) {
			uint64_t size = PCAP_GLOBAL_HDR_LEN + t.bytes;
			int64_t mtime = t.packets ? t.t_last : w->end_ns;
			/* Final only if the catalogue did not change while it was summed; checked
			 * under node_lock, which the watcher holds when it moves the generation and
			 * scans the cached nodes, so a change is either seen here or sees this
			 * node. */
			pthread_mutex_lock(&fs->node_lock);
			*immutable = atomic_load(&fs->content_gen) == gen;
			n = node_find_locked(fs, ino);
			if (n && *immutable)
				*immutable = node_final_try_locked(n, gen, size, mtime);
			pthread_mutex_unlock(&fs->node_lock);
			if (*immutable) {
				file_attr(ino, size, mtime, st);
				return 0;
			}
		}
	}

	struct snap *s;
	int e = build_snap(fs, dev, w, &s);
	if (e < 0)
		return e;
	uint64_t size = s->plan->size;
	int64_t mtime = plan_mtime(s->plan, w);
	file_attr(ino, size, mtime, st);
	pthread_mutex_lock(&fs->node_lock);
	if (atomic_load(&fs->content_gen) != s->gen)
		s->immutable = false; /* changed meanwhile (see above) */
	*immutable = s->immutable;
	n = node_find_locked(fs, ino);
	if (n && *immutable)
		*immutable = node_final_try_locked(n, s->gen, size, mtime);
	/* Final: the node keeps the plan for the open that usually follows its lookup (held
	 * like a snapshot node's, see window_open_snap), which then need not build it again;
	 * only while half the places are free, so that a sweep of stats never makes a growing
	 * window's snapshot node let go of its plan. */
	struct snap *drop = s;
	if (n && *immutable && !n->snap && !n->snapshot && fs->n_snaps < SNAP_HELD_MAX / 2)
		drop = held_add_locked(fs, n, s);
	pthread_mutex_unlock(&fs->node_lock);
	if (!*immutable && ret_snap) {
		*ret_snap = s;
		return 0;
	}
	snap_unref(drop);
	return 0;
}

int window_entry(struct pcapfs *fs, int64_t dev, const struct window *w,
		 struct fuse_entry_param *ep, bool *immutable)
{
	uint64_t ino = node_get(fs, dev, w, true);
	if (!ino)
		return -ENOMEM;
	struct snap *s = NULL;
	int e = window_attr(fs, ino, dev, w, &ep->attr, immutable, &s);
	if (e < 0 || !s) {
		if (e < 0)
			node_forget(fs, ino, 1);
		ep->ino = ino;
		return e;
	}
	/* The kernel gets the snapshot's node instead of the window's own. */
	node_forget(fs, ino, 1);
	file_attr(ino, s->plan->size, plan_mtime(s->plan, w), &ep->attr);
	ep->ino = node_snap_get(fs, ino, dev, w, s);
	return ep->ino ? 0 : -ENOMEM;
}

int device_hours_final(struct pcapfs *fs, int64_t dev, struct device_hour **ret, size_t *ret_n,
		       int64_t *ret_gen)
{
	struct errbuf err = {{0}};
	int64_t gen = atomic_load(&fs->content_gen), open_from;
	pthread_mutex_lock(&fs->cat_lock);
	int e = catalog_device_hours(fs->sp->cat, dev, ret, ret_n, &open_from, &err);
	bool settled = e == 0 && catalogue_settled(fs, gen);
	pthread_mutex_unlock(&fs->cat_lock);
	if (e < 0) {
		pcapfs_log("listing device %" PRId64 ": %s", dev, err.msg[0] ? err.msg : strerror(-e));
		return -EIO;
	}
	/* What window_attr asks of a window before it trusts the summaries: ended a segment
	 * period ago, no import running, no open segment that began before its end, every
	 * summary inside it, the catalogue unchanged. */
	int64_t now = now_ns();
	bool importing = atomic_load(&fs->importing);
	for (size_t i = 0; i < *ret_n; i++) {
		struct device_hour *h = &(*ret)[i];
		int64_t end = h->start_ns + 3600 * NS_PER_SEC;
		h->whole = h->whole && settled && !importing && end <= open_from &&
			   window_ended(fs, end, now);
	}
	*ret_gen = gen;
	return 0;
}

bool node_set_final(struct pcapfs *fs, uint64_t ino, uint64_t size, int64_t mtime_ns, int64_t gen)
{
	bool ok = false;
	pthread_mutex_lock(&fs->node_lock);
	struct wnode *n = node_find_locked(fs, ino);
	/* Under node_lock, as in window_attr: a change of generation is either seen here or
	 * sees this node. Not while open files read other bytes through its page cache: the
	 * kernel would take the new size for theirs. */
	if (n && atomic_load(&fs->content_gen) == gen)
		ok = node_final_try_locked(n, gen, size, mtime_ns);
	pthread_mutex_unlock(&fs->node_lock);
	return ok;
}

/* The snapshot an open serves. A snapshot node's: the plan it holds, or one built again
 * with the same digest. A window's own node's: its final content, built again (a window
 * that cannot change gives the same bytes whenever it is built), and only when the kernel
 * was told its final size: otherwise the kernel's attributes of the node may be out of
 * date, and ESTALE makes it look the name up again (the VFS retries an open once with
 * LOOKUP_REVAL), getting final attributes or a snapshot node. */
int window_open_snap(struct pcapfs *fs, uint64_t ino, int64_t dev, const struct window *w,
		     struct snap **ret)
{
	*ret = NULL;
	pthread_mutex_lock(&fs->node_lock);
	struct wnode *n = node_find_locked(fs, ino);
	struct snap *stale = NULL;
	if (n && n->snap) {
		struct snap *s = n->snap;
		/* A window's own node holds the plan its final attributes came from (window_attr):
		 * served while those attributes stand, unchanged by the catalogue since. */
		if (n->snapshot ||
		    (n->attr_known && n->attr_gen == s->gen && s->gen == atomic_load(&fs->content_gen) &&
		     n->size == s->plan->size && n->mtime_ns == plan_mtime(s->plan, w))) {
			__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
			held_touch_locked(fs, n);
			pthread_mutex_unlock(&fs->node_lock);
			*ret = s;
			return 0;
		}
		stale = held_release_locked(fs, n);
	}
	bool snapshot = n && n->snapshot, known = n && n->attr_known;
	uint64_t digest = snapshot ? n->digest : 0, size = known ? n->size : 0;
	int64_t mtime = known ? n->mtime_ns : 0, known_gen = known ? n->attr_gen : 0;
	pthread_mutex_unlock(&fs->node_lock);
	snap_unref(stale);
	if (!snapshot && !known)
		return -ESTALE;
	struct snap *s;
	int e = build_snap(fs, dev, w, &s);
	if (e < 0)
		return e;
	if (snapshot) {
		if (plan_digest(s->plan) != digest) {
			snap_unref(s);
			return -ESTALE; /* grown since: the next lookup gets a new snapshot node */
		}
		*ret = s;
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
		pthread_mutex_lock(&fs->node_lock);
		n = node_find_locked(fs, ino);
		if (n && !n->snap) /* for the next open too */
			s = held_add_locked(fs, n, s);
		pthread_mutex_unlock(&fs->node_lock);
		snap_unref(s);
		return 0;
	}
	if (s->plan->size != size || plan_mtime(s->plan, w) != mtime) {
		/* A disagreement is damage only while the catalogue is unchanged since the size
		 * was taken; otherwise the watcher is about to drop the kernel's stale size. The
		 * watcher's generation lags the catalogue by up to a second: asked directly, a
		 * catalogue that changed since (an import began) explains the difference. */
		bool damaged = false;
		uint64_t built = s->plan->size;
		if (s->gen == known_gen) {
			pthread_mutex_lock(&fs->cat_lock);
			damaged = catalogue_settled(fs, known_gen);
			pthread_mutex_unlock(&fs->cat_lock);
		}
		snap_unref(s);
		if (!damaged) {
			pthread_mutex_lock(&fs->node_lock);
			n = node_find_locked(fs, ino);
			if (n && n->attr_known && n->size == size && n->mtime_ns == mtime)
				n->attr_known = false;
			pthread_mutex_unlock(&fs->node_lock);
			return -ESTALE;
		}
		/* The kernel was told another size: serving this would cut or pad the file. */
		pcapfs_log("device %" PRId64 ": the catalogue's summaries (%" PRIu64 " bytes) disagree "
			   "with the index (%" PRIu64 " bytes); run pcapfsctl verify and reindex",
			   dev, size, built);
		return -EIO;
	}
	*ret = s;
	return 0;
}


/* ---- the content watcher ------------------------------------------------------------------ */

int content_state_poll(struct pcapfs *fs)
{
	int64_t gen, running;
	pthread_mutex_lock(&fs->cat_lock);
	int e = catalog_content_state(fs->sp->cat, &gen, &running);
	pthread_mutex_unlock(&fs->cat_lock);
	if (e < 0)
		return e;
	if (gen == atomic_load(&fs->content_gen) && (running > 0) == atomic_load(&fs->importing))
		return 0;

	/* Revalidate every cached size against the catalogue's summaries; drop those that
	 * changed (or cannot be summed cheaply) and the kernel's attributes and pages of them
	 * (outside the locks: the kernel may call back into the filesystem). Windows that did
	 * not change keep their caches: retention removing last month's segments does not
	 * evict this morning's windows from the page cache. */
	struct cached {
		uint64_t ino;
		int64_t dev;
		struct window w;
		uint64_t size;
		int64_t mtime_ns;
	} *c = NULL;
	size_t n_c = 0, cap = 0;
	/* The plans windows' own nodes hold for their next open (window_attr) are of the
	 * content before: let go, so that segments retention removed are not kept open. */
	struct snap *drop[SNAP_HELD_MAX];
	size_t n_drop = 0;
	pthread_mutex_lock(&fs->node_lock);
	atomic_store(&fs->importing, running > 0);
	atomic_store(&fs->content_gen, gen);
	for (struct wnode *n = fs->held_first, *next; n; n = next) {
		next = n->held_next;
		if (!n->snapshot)
			drop[n_drop++] = held_release_locked(fs, n);
	}
	for (size_t b = 0; b < WNODE_BUCKETS; b++)
		for (struct wnode *n = fs->nodes[b]; n; n = n->next) {
			if (!n->attr_known)
				continue;
			if (n_c == cap) {
				size_t nc = cap ? cap * 2 : 1024;
				struct cached *ncp = realloc(c, nc * sizeof(*ncp));
				if (!ncp) {
					n->attr_known = false; /* revalidated at its next lookup */
					continue;
				}
				c = ncp;
				cap = nc;
			}
			c[n_c++] = (struct cached){n->ino, n->device_id, n->w, n->size, n->mtime_ns};
		}
	pthread_mutex_unlock(&fs->node_lock);
	for (size_t i = 0; i < n_drop; i++)
		snap_unref(drop[i]);
	size_t n_inval = 0;
	for (size_t i = 0; i < n_c; i++) {
		struct window_totals t;
		struct errbuf err;
		pthread_mutex_lock(&fs->cat_lock);
		int r = catalog_window_totals(fs->sp->cat, c[i].dev, c[i].w.start_ns, c[i].w.end_ns, &t, &err);
		pthread_mutex_unlock(&fs->cat_lock);
		bool same = r == 0 && running == 0 && t.partial == 0 && t.open_segments == 0 &&
			    PCAP_GLOBAL_HDR_LEN + t.bytes == c[i].size &&
			    (t.packets ? t.t_last : c[i].w.end_ns) == c[i].mtime_ns;
		pthread_mutex_lock(&fs->node_lock);
		struct wnode *n = node_find_locked(fs, c[i].ino);
		if (n && n->attr_known && n->size == c[i].size && n->mtime_ns == c[i].mtime_ns) {
			if (same && n->attr_gen < gen)
				n->attr_gen = gen;
			else if (!same)
				n->attr_known = false;
		}
		pthread_mutex_unlock(&fs->node_lock);
		if (!same)
			c[n_inval++] = c[i]; /* i >= n_inval: compacts in place */
	}
	/* The entry too: a stat through a cached entry asks only for attributes, which a window
	 * that grows again answers from the snapshot of its last lookup. Only the canonical
	 * name has a cached entry (op_lookup). */
	for (size_t i = 0; i < n_inval && fs->se; i++) {
		char name[WINDOW_NAME_BUF];
		window_format(&c[i].w, name, sizeof(name));
		int r = fuse_lowlevel_notify_inval_entry(fs->se, NODE_DEVICE << 56 | (uint64_t)c[i].dev,
							 name, strlen(name));
		if (r < 0 && r != -ENOENT)
			pcapfs_log("dropping the kernel's entry %s: %s", name, strerror(-r));
		r = fuse_lowlevel_notify_inval_inode(fs->se, c[i].ino, 0, 0);
		if (r < 0 && r != -ENOENT)
			pcapfs_log("dropping the kernel's cache of node %" PRIu64 ": %s", c[i].ino,
				   strerror(-r));
	}
	free(c);
	if (fs->debug)
		pcapfs_log("catalogue content generation %" PRId64 "%s: %zu cached windows, %zu changed",
			   gen, running > 0 ? " (import running)" : "", n_c, n_inval);
	return 0;
}

/* The query log keeps audit_keep_ns of rows: pruned at start and then hourly. */
static void audit_prune(struct pcapfs *fs)
{
	int64_t now = mono_ns();
	if (!fs->qlog || fs->audit_keep_ns <= 0 ||
	    (fs->pruned_ns && now - fs->pruned_ns < 3600 * NS_PER_SEC))
		return;
	fs->pruned_ns = now;
	uint64_t n = 0, batch;
	struct errbuf err = {{0}};
	int64_t before = now_ns() - fs->audit_keep_ns;
	int e;
	/* In small batches, letting the accesses being recorded through in between. */
	do {
		pthread_mutex_lock(&fs->qlog_lock);
		e = catalog_access_prune(fs->qlog, before, 2000, &batch, &err);
		pthread_mutex_unlock(&fs->qlog_lock);
		n += e == 0 ? batch : 0;
	} while (e == 0 && batch == 2000);
	if (e < 0)
		pcapfs_log("pruning the query log: %s", err.msg);
	else if (n)
		pcapfs_log("query log: removed %" PRIu64 " rows older than audit_keep", n);
}

static void *content_watch(void *arg)
{
	struct pcapfs *fs = arg;
	bool failing = false;
	pthread_mutex_lock(&fs->watch_lock);
	while (!fs->watch_stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&fs->watch_cv, &fs->watch_lock, &until);
		if (fs->watch_stop)
			break;
		pthread_mutex_unlock(&fs->watch_lock);
		if (fs->qlog)
			qlog_flush(fs, false);
		audit_prune(fs);
		int e = content_state_poll(fs);
		if (e < 0 && !failing)
			pcapfs_log("watching the catalogue for changes: %s (retrying)", strerror(-e));
		failing = e < 0;
		pthread_mutex_lock(&fs->watch_lock);
	}
	pthread_mutex_unlock(&fs->watch_lock);
	return NULL;
}

int content_watch_start(struct pcapfs *fs)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fs->watch_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&fs->watch_lock, NULL);
	int e = pthread_create(&fs->watcher, NULL, content_watch, fs);
	if (e != 0)
		return -e;
	fs->watcher_started = true;
	return 0;
}

void content_watch_stop(struct pcapfs *fs)
{
	if (!fs->watcher_started)
		return;
	pthread_mutex_lock(&fs->watch_lock);
	fs->watch_stop = true;
	pthread_cond_signal(&fs->watch_cv);
	pthread_mutex_unlock(&fs->watch_lock);
	pthread_join(fs->watcher, NULL);
	fs->watcher_started = false;
}

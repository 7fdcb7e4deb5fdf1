/* pcapfs-ops.c — the FUSE low-level operations: namespace, attributes, access decisions at
 * every entry point that reaches the daemon, and reads served from read plans.
 *
 * Access (policy.h) is decided for the caller of each request at lookup, getattr,
 * opendir/readdir and open. Device directories have a zero entry and attribute timeout, so
 * every path walk into a device comes back here as the caller; a device the caller may not
 * read answers ENOENT, exactly like one that does not exist. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "pcapfs.h"

static const char readme[] =
	"pcapfs: captured traffic, one file per device and time window.\n"
	"\n"
	"  /pcap/<device>/<start>--<end>.pcap   the device's packets in [start, end), UTC\n"
	"\n"
	"Listed: one file per hour holding packets, e.g. 20261122T100000Z--20261122T110000Z.pcap.\n"
	"Any other window can be opened by name; times may be written as\n"
	"  20261122T101500Z or 20261122T101500.250Z   (basic ISO 8601, colon-free)\n"
	"  2026-11-22T10:15:00Z, 2026-11-22T11:15:00.25+01:00   (RFC 3339)\n"
	"  1795342500 or 1795342500.25                 (Unix epoch seconds)\n"
	"A window may be at most the spool's maximum wide (1 hour unless configured).\n";

void pcapfs_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pcapfs: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static struct pcapfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

void snap_unref(struct snap *s)
{
	if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		plan_free(s->plan);
		free(s);
	}
}

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

static struct wnode *node_find_locked(struct pcapfs *fs, uint64_t ino)
{
	for (struct wnode *n = fs->nodes[ino % WNODE_BUCKETS]; n; n = n->next)
		if (n->ino == ino)
			return n;
	return NULL;
}

/* The node of (device, window), created if needed. Returns its ino, 0 when the table is
 * full. */
static uint64_t node_get(struct pcapfs *fs, int64_t dev, const struct window *w)
{
	uint64_t ino;
	if (is_hour(w) && dev < (INT64_C(1) << 32))
		ino = NODE_HOUR << 56 | (uint64_t)dev << 24 | (uint64_t)(w->start_ns / (3600 * NS_PER_SEC));
	else
		ino = NODE_WINDOW << 56 |
		      (mix64((uint64_t)dev * 31 + mix64((uint64_t)w->start_ns) * 17 + (uint64_t)w->end_ns) &
		       ((UINT64_C(1) << 56) - 1));
	pthread_mutex_lock(&fs->node_lock);
	for (;;) {
		struct wnode *n = node_find_locked(fs, ino);
		if (!n)
			break;
		if (n->device_id == dev && n->w.start_ns == w->start_ns && n->w.end_ns == w->end_ns) {
			pthread_mutex_unlock(&fs->node_lock);
			return ino;
		}
		/* Another window with the same id: probe on (within the type). */
		ino = (ino & ~((UINT64_C(1) << 56) - 1)) | (((ino & ((UINT64_C(1) << 56) - 1)) + 1) &
							     ((UINT64_C(1) << 56) - 1));
		if (NODE_TYPE(ino) == NODE_HOUR)
			ino = NODE_WINDOW << 56 | (ino & ((UINT64_C(1) << 56) - 1));
	}
	if (fs->n_nodes >= WNODE_MAX) {
		pthread_mutex_unlock(&fs->node_lock);
		return 0;
	}
	struct wnode *n = calloc(1, sizeof(*n));
	if (!n) {
		pthread_mutex_unlock(&fs->node_lock);
		return 0;
	}
	*n = (struct wnode){.ino = ino, .device_id = dev, .w = *w};
	n->next = fs->nodes[ino % WNODE_BUCKETS];
	fs->nodes[ino % WNODE_BUCKETS] = n;
	fs->n_nodes++;
	pthread_mutex_unlock(&fs->node_lock);
	return ino;
}

static bool node_lookup(struct pcapfs *fs, uint64_t ino, int64_t *dev, struct window *w)
{
	pthread_mutex_lock(&fs->node_lock);
	struct wnode *n = node_find_locked(fs, ino);
	if (n) {
		*dev = n->device_id;
		*w = n->w;
	}
	pthread_mutex_unlock(&fs->node_lock);
	if (n)
		return true;
	/* Hourly windows decode without the table (e.g. after a restart). */
	if (NODE_TYPE(ino) == NODE_HOUR) {
		*dev = (int64_t)((ino >> 24) & 0xffffffff);
		w->start_ns = (int64_t)(ino & 0xffffff) * 3600 * NS_PER_SEC;
		w->end_ns = w->start_ns + 3600 * NS_PER_SEC;
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
	}
}

/* ---- access ------------------------------------------------------------------------------- */

/* May the caller of req read the device (by name, or by id when name is NULL)? Fills *ret_id.
 * Returns 0, -ENOENT (no such device, or not for this caller), -EACCES (PAM refuses the
 * account), -EIO. */
struct access_info {
	char user[IDENTITY_NAME_MAX];
	char device[DEVICE_NAME_MAX + 1];
	char reason[POLICY_REASON_MAX];
	bool exists; /* the device exists (a refusal of it is audited) */
};

static int check_device_info(struct pcapfs *fs, fuse_req_t req, const char *name, int64_t id,
			     int64_t *ret_id, struct access_info *info)
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
	if (ctx->uid != 0) {
		int e = idcache_get(fs->ids, ctx->uid, &who, &pam_ok, &err);
		if (e == -ENOENT)
			return -ENOENT; /* a uid without a user reads nothing */
		if (e < 0) {
			pcapfs_log("uid %u: %s", (unsigned)ctx->uid, err.msg);
			return -EIO;
		}
		snprintf(info->user, sizeof(info->user), "%s", who.name);
		if (!pam_ok) {
			snprintf(info->reason, sizeof(info->reason), "PAM refuses the account");
			info->exists = true;
			snprintf(info->device, sizeof(info->device), "%s", name ? name : "");
			identity_done(&who);
			return -EACCES;
		}
	}
	struct device d = {0};
	struct grant *grants = NULL;
	size_t n_grants = 0;
	pthread_mutex_lock(&fs->cat_lock);
	int e = name ? catalog_device_get(fs->sp->cat, name, &d, &err)
		     : catalog_device_get_by_id(fs->sp->cat, id, &d, &err);
	if (e == 0 && ctx->uid != 0)
		e = catalog_grants_load(fs->sp->cat, &grants, &n_grants, &err);
	pthread_mutex_unlock(&fs->cat_lock);
	if (e == 0) {
		struct policy_decision pd = {.allow = true};
		if (ctx->uid != 0)
			policy_device(&fs->pc, &who, pam_ok, &d, grants, n_grants, &pd);
		e = pd.allow ? 0 : -ENOENT;
		*ret_id = d.id;
		info->exists = true;
		snprintf(info->device, sizeof(info->device), "%s", d.name);
		snprintf(info->reason, sizeof(info->reason), "%s", pd.reason);
	} else if (e != -ENOENT) {
		pcapfs_log("catalogue: %s", err.msg);
		e = -EIO;
	}
	free(grants);
	device_done(&d);
	identity_done(&who);
	return e;
}

static int check_device(struct pcapfs *fs, fuse_req_t req, const char *name, int64_t id,
			int64_t *ret_id)
{
	return check_device_info(fs, req, name, id, ret_id, NULL);
}

/* Write the audit record of an access. Returns 0, or -EACCES when the record could not be
 * written and auditing is required (the access must then be refused). */
static int audit_access(struct pcapfs *fs, const char *op, uid_t uid, gid_t gid, pid_t pid,
			const char *user, const char *device, const char *window, bool granted,
			const char *reason, uint64_t bytes, int64_t duration_ns)
{
	if (fs->audit_mode == AUDIT_OFF)
		return 0;
	char path[DEVICE_NAME_MAX + WINDOW_NAME_BUF + 16];
	snprintf(path, sizeof(path), "/pcap/%s%s%s", device ? device : "", window ? "/" : "",
		 window ? window : "");
	struct audit_event ev = {.op = op, .uid = uid, .gid = gid, .pid = pid, .user = user,
				 .device = device, .window = window, .path = path, .granted = granted,
				 .reason = reason, .bytes = bytes, .duration_ns = duration_ns};
	struct errbuf err = {{0}};
	if (auditlog_write(fs->audit, &ev, &err) == 0)
		return 0;
	pcapfs_log("audit record not written (%s %s uid %u): %s%s", op, path, (unsigned)uid, err.msg,
		   fs->audit_mode == AUDIT_REQUIRED && granted ? "; access refused" : "");
	return fs->audit_mode == AUDIT_REQUIRED ? -EACCES : 0;
}

/* ---- attributes --------------------------------------------------------------------------- */

static void dir_attr(struct pcapfs *fs, uint64_t ino, struct stat *st)
{
	*st = (struct stat){.st_ino = ino, .st_mode = S_IFDIR | 0555, .st_nlink = 2,
			    .st_blksize = 128 * 1024};
	st->st_mtim.tv_sec = fs->mounted_ns / NS_PER_SEC;
	st->st_ctim = st->st_atim = st->st_mtim;
}

static void file_attr(uint64_t ino, uint64_t size, int64_t mtime_ns, struct stat *st)
{
	*st = (struct stat){.st_ino = ino, .st_mode = S_IFREG | 0444, .st_nlink = 1,
			    .st_size = (off_t)size, .st_blocks = (blkcnt_t)((size + 511) / 512),
			    .st_blksize = 128 * 1024};
	st->st_mtim.tv_sec = mtime_ns / NS_PER_SEC;
	st->st_mtim.tv_nsec = mtime_ns % NS_PER_SEC;
	st->st_ctim = st->st_atim = st->st_mtim;
}

/* Drop the snapshots held by every node but keep: they were for lookups whose opens have
 * come (or will not). Open files keep their own references. O(nodes); runs once every
 * SNAP_HELD_MAX snapshots. */
static void evict_snaps_locked(struct pcapfs *fs, struct wnode *keep)
{
	for (size_t b = 0; b < WNODE_BUCKETS; b++)
		for (struct wnode *n = fs->nodes[b]; n; n = n->next)
			if (n != keep && n->snap) {
				snap_unref(n->snap);
				n->snap = NULL;
				fs->n_snaps--;
			}
}

static int build_snap(struct pcapfs *fs, int64_t dev, const struct window *w, struct snap **ret)
{
	struct snap *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	struct errbuf err = {{0}};
	pthread_mutex_lock(&fs->cat_lock);
	int e = plan_build(fs->sp, dev, w, 0, &s->plan, &err);
	pthread_mutex_unlock(&fs->cat_lock);
	if (e < 0) {
		free(s);
		char name[WINDOW_NAME_BUF];
		window_format(w, name, sizeof(name));
		pcapfs_log("device %" PRId64 ", %s: %s", dev, name, err.msg);
		return e == -EFBIG ? -EFBIG : -EIO;
	}
	/* Nothing more can arrive when no segment involved is open and the window ended more
	 * than a segment period ago (the writers rotate at least that often). */
	s->immutable = !s->plan->has_open &&
		       w->end_ns + fs->sp->cfg.segment_ns + 5 * NS_PER_SEC < now_ns();
	s->refs = 1;
	*ret = s;
	return 0;
}

/* Attributes of a window: final ones from the node when it cannot change any more; else a
 * fresh snapshot, kept on the node for the open that follows (the size the kernel is told
 * and the bytes served then agree). */
static int window_attr(struct pcapfs *fs, uint64_t ino, int64_t dev, const struct window *w,
		       struct stat *st, bool *immutable)
{
	pthread_mutex_lock(&fs->node_lock);
	struct wnode *n = node_find_locked(fs, ino);
	if (n && n->attr_known) {
		file_attr(ino, n->size, n->mtime_ns, st);
		pthread_mutex_unlock(&fs->node_lock);
		*immutable = true;
		return 0;
	}
	pthread_mutex_unlock(&fs->node_lock);

	/* A window that ended long enough ago and that whole sealed segments fill (every
	 * hourly file): its size is the sum of the catalogue's summaries, no index is read. */
	bool past = w->end_ns + fs->sp->cfg.segment_ns + 5 * NS_PER_SEC < now_ns();
	if (past) {
		struct window_totals t;
		struct errbuf err;
		pthread_mutex_lock(&fs->cat_lock);
		int r = catalog_window_totals(fs->sp->cat, dev, w->start_ns, w->end_ns, &t, &err);
		pthread_mutex_unlock(&fs->cat_lock);
		if (r == 0 && t.partial == 0 && t.open_segments == 0) {
			uint64_t size = PCAP_GLOBAL_HDR_LEN + t.bytes;
			int64_t mtime = t.packets ? t.t_last : w->end_ns;
			file_attr(ino, size, mtime, st);
			*immutable = true;
			pthread_mutex_lock(&fs->node_lock);
			n = node_find_locked(fs, ino);
			if (n) {
				n->attr_known = true;
				n->size = size;
				n->mtime_ns = mtime;
			}
			pthread_mutex_unlock(&fs->node_lock);
			return 0;
		}
	}

	struct snap *s;
	int e = build_snap(fs, dev, w, &s);
	if (e < 0)
		return e;
	uint64_t size = s->plan->size;
	int64_t mtime = s->plan->packets ? s->plan->t_last : w->end_ns;
	file_attr(ino, size, mtime, st);
	*immutable = s->immutable;
	struct snap *old = NULL;
	pthread_mutex_lock(&fs->node_lock);
	n = node_find_locked(fs, ino);
	if (n && s->immutable) {
		n->attr_known = true;
		n->size = size;
		n->mtime_ns = mtime;
		old = n->snap;
		n->snap = NULL;
	} else if (n) {
		old = n->snap;
		n->snap = s;
		s = NULL; /* the node holds it now */
		if (!old)
			fs->n_snaps++;
		if (fs->n_snaps > SNAP_HELD_MAX)
			evict_snaps_locked(fs, n);
	}
	if (old && n && !n->snap)
		fs->n_snaps--;
	pthread_mutex_unlock(&fs->node_lock);
	snap_unref(old);
	snap_unref(s);
	return 0;
}

/* The snapshot an open serves: the one the last lookup of a growing window built, or a new
 * one (a window that cannot change gives the same bytes whenever it is built). */
static int window_open_snap(struct pcapfs *fs, uint64_t ino, int64_t dev, const struct window *w,
			    struct snap **ret)
{
	pthread_mutex_lock(&fs->node_lock);
	struct wnode *n = node_find_locked(fs, ino);
	if (n && n->snap) {
		struct snap *s = n->snap;
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
		pthread_mutex_unlock(&fs->node_lock);
		*ret = s;
		return 0;
	}
	bool known = n && n->attr_known;
	uint64_t size = known ? n->size : 0;
	pthread_mutex_unlock(&fs->node_lock);
	int e = build_snap(fs, dev, w, ret);
	if (e == 0 && known && (*ret)->plan->size != size) {
		/* The kernel was told another size: serving this would cut or pad the file. */
		pcapfs_log("device %" PRId64 ": the catalogue's summaries (%" PRIu64 " bytes) disagree "
			   "with the index (%" PRIu64 " bytes); run pcapfsctl verify and reindex",
			   dev, size, (*ret)->plan->size);
		snap_unref(*ret);
		return -EIO;
	}
	return e;
}

/* ---- operations --------------------------------------------------------------------------- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	/* Reads are served from plans; the kernel may send many at once. */
	conn->max_read = PCAPFS_MAX_READ; /* must equal -o max_read, or INIT fails */
	/* libfuse derives the kernel's max_pages, which caps READ requests too, from max_write:
	 * 1 MiB requests instead of 128 KiB. Nothing is ever written. */
	conn->max_write = PCAPFS_MAX_READ;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA; /* no GETATTR before every read */
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
}

static void reply_dir_entry(fuse_req_t req, struct pcapfs *fs, uint64_t ino, double timeout)
{
	struct fuse_entry_param e = {.ino = ino, .attr_timeout = timeout, .entry_timeout = timeout};
	dir_attr(fs, ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pcapfs *fs = fs_of(req);
	if (strlen(name) > WINDOW_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	if (parent == NODE_ROOT) {
		if (strcmp(name, "pcap") == 0) {
			reply_dir_entry(req, fs, NODE_PCAP, fs->cache_timeout);
			return;
		}
		if (strcmp(name, "README.txt") == 0) {
			struct fuse_entry_param e = {.ino = NODE_README, .attr_timeout = fs->cache_timeout,
						     .entry_timeout = fs->cache_timeout};
			file_attr(NODE_README, sizeof(readme) - 1, fs->mounted_ns, &e.attr);
			fuse_reply_entry(req, &e);
			return;
		}
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (parent == NODE_PCAP) {
		struct errbuf err;
		int64_t id;
		if (device_name_check(name, &err) < 0) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		struct access_info ai;
		int e = check_device_info(fs, req, name, 0, &id, &ai);
		if (e < 0) {
			if (ai.exists) {
				const struct fuse_ctx *ctx = fuse_req_ctx(req);
				(void)audit_access(fs, "lookup", ctx->uid, ctx->gid, ctx->pid, ai.user,
						   ai.device, NULL, false, ai.reason, 0, 0);
			}
			fuse_reply_err(req, -e);
			return;
		}
		/* Zero timeouts: every walk into a device is decided again for its caller. */
		reply_dir_entry(req, fs, NODE_DEVICE << 56 | (uint64_t)id, 0);
		return;
	}
	if (NODE_TYPE(parent) == NODE_DEVICE) {
		int64_t dev = (int64_t)(parent & ((UINT64_C(1) << 56) - 1)), id;
		struct window w;
		struct errbuf err = {{0}};
		int e = window_parse(name, true, fs->sp->cfg.max_window_ns, &w, &err);
		if (e == -ENOENT) { /* desktop.ini, .DS_Store, ...: quietly */
			fuse_reply_err(req, ENOENT);
			return;
		}
		if (e < 0) {
			pcapfs_log("refusing %s: %s", name, err.msg);
			fuse_reply_err(req, -e);
			return;
		}
		e = check_device(fs, req, NULL, dev, &id);
		if (e < 0) {
			fuse_reply_err(req, -e);
			return;
		}
		uint64_t ino = node_get(fs, dev, &w);
		if (!ino) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		struct fuse_entry_param ep = {.ino = ino};
		bool imm;
		e = window_attr(fs, ino, dev, &w, &ep.attr, &imm);
		if (e < 0) {
			fuse_reply_err(req, -e);
			return;
		}
		ep.attr_timeout = ep.entry_timeout = imm ? fs->cache_timeout : 0;
		fuse_reply_entry(req, &ep);
		return;
	}
	fuse_reply_err(req, ENOTDIR);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pcapfs *fs = fs_of(req);
	struct stat st;
	if (ino == NODE_ROOT || ino == NODE_PCAP) {
		dir_attr(fs, ino, &st);
		fuse_reply_attr(req, &st, fs->cache_timeout);
		return;
	}
	if (ino == NODE_README) {
		file_attr(ino, sizeof(readme) - 1, fs->mounted_ns, &st);
		fuse_reply_attr(req, &st, fs->cache_timeout);
		return;
	}
	int64_t dev, id;
	struct window w;
	if (NODE_TYPE(ino) == NODE_DEVICE) {
		dev = (int64_t)(ino & ((UINT64_C(1) << 56) - 1));
		int e = check_device(fs, req, NULL, dev, &id);
		if (e < 0) {
			fuse_reply_err(req, -e);
			return;
		}
		dir_attr(fs, ino, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	}
	if (!node_lookup(fs, ino, &dev, &w)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* fstat of an open file: the size of what this open serves, not of a newer snapshot
	 * (cp sizes its copy from it). */
	if (fi && fi->fh) {
		const struct ofile *of = (const struct ofile *)(uintptr_t)fi->fh;
		const struct plan *p = of->snap->plan;
		file_attr(ino, p->size, p->packets ? p->t_last : w.end_ns, &st);
		fuse_reply_attr(req, &st, of->snap->immutable ? fs->cache_timeout : 0);
		return;
	}
	int e = check_device(fs, req, NULL, dev, &id);
	bool imm;
	/* GETATTR without a path walk (fstat, the kernel checking EOF) answers from the
	 * snapshot the node holds, the one the latest open serves: a file's size does not move
	 * under its reader. Fresh data comes with the next lookup. */
	if (e == 0) {
		pthread_mutex_lock(&fs->node_lock);
		struct wnode *n = node_find_locked(fs, ino);
		if (n && n->snap) {
			const struct plan *p = n->snap->plan;
			file_attr(ino, p->size, p->packets ? p->t_last : w.end_ns, &st);
			pthread_mutex_unlock(&fs->node_lock);
			fuse_reply_attr(req, &st, 0);
			return;
		}
		pthread_mutex_unlock(&fs->node_lock);
	}
	if (e == 0)
		e = window_attr(fs, ino, dev, &w, &st, &imm);
	if (e < 0) {
		fuse_reply_err(req, -e);
		return;
	}
	fuse_reply_attr(req, &st, imm ? fs->cache_timeout : 0);
}

/* ---- directories -------------------------------------------------------------------------- */

struct dirbuf {
	char *p;
	size_t size, cap;
};

static int dirbuf_add(fuse_req_t req, struct dirbuf *b, const char *name, uint64_t ino, mode_t mode)
{
	struct stat st = {.st_ino = ino, .st_mode = mode};
	size_t need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
	if (b->size + need > b->cap) {
		size_t nc = MAX(b->cap * 2, b->size + need + 4096);
		char *np = realloc(b->p, nc);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = nc;
	}
	fuse_add_direntry(req, b->p + b->size, need, name, &st, (off_t)(b->size + need));
	b->size += need;
	return 0;
}

/* Listing /pcap: the caller's identity and the grants once, then one in-memory decision per
 * device as the catalogue hands them over: O(devices) with a single query. */
struct list_ctx {
	struct pcapfs *fs;
	fuse_req_t req;
	struct dirbuf *b;
	const struct identity *who;
	bool pam_ok;
	const struct grant *grants;
	size_t n_grants;
};

static int list_device(const struct device *d, void *userdata)
{
	struct list_ctx *l = userdata;
	struct policy_decision pd = {.allow = true};
	if (l->who->uid != 0)
		policy_device(&l->fs->pc, l->who, l->pam_ok, d, l->grants, l->n_grants, &pd);
	if (!pd.allow)
		return 0;
	return dirbuf_add(l->req, l->b, d->name, NODE_DEVICE << 56 | (uint64_t)d->id, S_IFDIR);
}

/* The listing is built at opendir, for the caller of opendir, and served from memory. */
static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pcapfs *fs = fs_of(req);
	struct dirbuf *b = calloc(1, sizeof(*b));
	int e = b ? 0 : -ENOMEM;
	if (e == 0)
		e = dirbuf_add(req, b, ".", ino, S_IFDIR);
	if (e == 0)
		e = dirbuf_add(req, b, "..", ino == NODE_ROOT || ino == NODE_PCAP ? NODE_ROOT : NODE_PCAP, S_IFDIR);
	if (e == 0 && ino == NODE_ROOT) {
		e = dirbuf_add(req, b, "README.txt", NODE_README, S_IFREG);
		if (e == 0)
			e = dirbuf_add(req, b, "pcap", NODE_PCAP, S_IFDIR);
	} else if (e == 0 && ino == NODE_PCAP) {
		const struct fuse_ctx *ctx = fuse_req_ctx(req);
		struct identity who = {.uid = ctx->uid, .gid = ctx->gid};
		bool pam_ok = ctx->uid == 0;
		struct errbuf err = {{0}};
		if (ctx->uid != 0) {
			e = idcache_get(fs->ids, ctx->uid, &who, &pam_ok, &err);
			if (e == -ENOENT) /* a uid without a user sees an empty /pcap */
				e = 1;
			else if (e < 0)
				e = -EIO;
			else if (!pam_ok) /* an account PAM refuses: EACCES, as everywhere */
				e = -EACCES;
		}
		struct grant *grants = NULL;
		size_t n_grants = 0;
		if (e == 0 && pam_ok) {
			struct list_ctx l = {.fs = fs, .req = req, .b = b, .who = &who, .pam_ok = pam_ok};
			pthread_mutex_lock(&fs->cat_lock);
			if (ctx->uid != 0)
				e = catalog_grants_load(fs->sp->cat, &grants, &n_grants, &err);
			l.grants = grants;
			l.n_grants = n_grants;
			if (e == 0)
				e = catalog_device_foreach(fs->sp->cat, list_device, &l, &err);
			pthread_mutex_unlock(&fs->cat_lock);
			if (e < 0) {
				pcapfs_log("listing /pcap: %s", err.msg[0] ? err.msg : strerror(-e));
				e = -EIO;
			}
		}
		if (e == 1)
			e = 0;
		free(grants);
		identity_done(&who);
	} else if (e == 0 && NODE_TYPE(ino) == NODE_DEVICE) {
		int64_t dev = (int64_t)(ino & ((UINT64_C(1) << 56) - 1)), id;
		e = check_device(fs, req, NULL, dev, &id);
		int64_t *hours = NULL;
		size_t n = 0;
		struct errbuf err;
		if (e == 0) {
			pthread_mutex_lock(&fs->cat_lock);
			e = catalog_device_hours(fs->sp->cat, dev, &hours, &n, &err);
			pthread_mutex_unlock(&fs->cat_lock);
			if (e < 0)
				e = -EIO;
		}
		for (size_t i = 0; e == 0 && i < n; i++) {
			struct window w = {hours[i], hours[i] + 3600 * NS_PER_SEC};
			char name[WINDOW_NAME_BUF];
			window_format(&w, name, sizeof(name));
			uint64_t wino = node_get(fs, dev, &w);
			e = dirbuf_add(req, b, name, wino ? wino : 0, S_IFREG);
		}
		free(hours);
	} else if (e == 0) {
		e = -ENOTDIR;
	}
	if (e < 0) {
		if (b)
			free(b->p);
		free(b);
		fuse_reply_err(req, -e);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)b;
	fi->cache_readdir = 0;
	fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct dirbuf *b = (struct dirbuf *)(uintptr_t)fi->fh;
	if ((size_t)off >= b->size)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, b->p + off, MIN(size, b->size - (size_t)off));
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirbuf *b = (struct dirbuf *)(uintptr_t)fi->fh;
	free(b->p);
	free(b);
	fuse_reply_err(req, 0);
}

/* ---- files -------------------------------------------------------------------------------- */

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pcapfs *fs = fs_of(req);
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (ino == NODE_README) {
		fi->fh = 0;
		fi->keep_cache = 1;
		fuse_reply_open(req, fi);
		return;
	}
	int64_t dev, id;
	struct window w;
	if (!node_lookup(fs, ino, &dev, &w)) {
		fuse_reply_err(req, NODE_TYPE(ino) == NODE_DEVICE ? EISDIR : ENOENT);
		return;
	}
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct access_info ai;
	char wname[WINDOW_NAME_BUF];
	window_format(&w, wname, sizeof(wname));
	int e = check_device_info(fs, req, NULL, dev, &id, &ai);
	if (e < 0) {
		if (ai.exists)
			(void)audit_access(fs, "open", ctx->uid, ctx->gid, ctx->pid, ai.user, ai.device,
					   wname, false, ai.reason, 0, 0);
		fuse_reply_err(req, -e);
		return;
	}
	/* No record, no open (audit=required). */
	e = audit_access(fs, "open", ctx->uid, ctx->gid, ctx->pid, ai.user, ai.device, wname, true,
			 ai.reason, 0, 0);
	struct ofile *of = NULL;
	if (e == 0) {
		of = calloc(1, sizeof(*of));
		e = of ? 0 : -ENOMEM;
	}
	/* The snapshot the kernel's attributes came from (the lookup just before): the size it
	 * believes and the bytes served agree. */
	if (e == 0)
		e = window_open_snap(fs, ino, dev, &w, &of->snap);
	if (e < 0) {
		free(of);
		fuse_reply_err(req, -e);
		return;
	}
	of->opened_ns = mono_ns();
	of->uid = ctx->uid;
	of->gid = ctx->gid;
	of->pid = ctx->pid;
	snprintf(of->user, sizeof(of->user), "%s", ai.user);
	snprintf(of->device, sizeof(of->device), "%s", ai.device);
	snprintf(of->window, sizeof(of->window), "%s", wname);
	fi->fh = (uint64_t)(uintptr_t)of;
	fi->keep_cache = of->snap->immutable;
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	if (ino == NODE_README) {
		size_t len = sizeof(readme) - 1;
		if ((size_t)off >= len)
			fuse_reply_buf(req, NULL, 0);
		else
			fuse_reply_buf(req, readme + off, MIN(size, len - (size_t)off));
		return;
	}
	struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;
	struct snap *s = of->snap;
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct errbuf err = {{0}};
	ssize_t n = plan_read(s->plan, buf, size, (uint64_t)off, &err);
	if (n < 0) {
		pcapfs_log("read ino %" PRIu64 " at %lld: %s", (uint64_t)ino, (long long)off, err.msg);
		fuse_reply_err(req, EIO);
	} else {
		__atomic_add_fetch(&of->bytes, (uint64_t)n, __ATOMIC_RELAXED);
		fuse_reply_buf(req, buf, (size_t)n);
	}
	free(buf);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != NODE_README) {
		struct pcapfs *fs = fs_of(req);
		struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;
		(void)audit_access(fs, "close", of->uid, of->gid, of->pid, of->user, of->device,
				   of->window, true, "", of->bytes, mono_ns() - of->opened_ns);
		snap_unref(of->snap);
		free(of);
	}
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st = {.f_bsize = 128 * 1024, .f_frsize = 512, .f_namemax = WINDOW_NAME_MAX};
	fuse_reply_statfs(req, &st);
}

/* Everything that would change the tree: read-only. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}
static void op_mknod(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, dev_t d) { fuse_reply_err(req, EROFS); }
static void op_mkdir(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m) { fuse_reply_err(req, EROFS); }
static void op_unlink(fuse_req_t req, fuse_ino_t p, const char *n) { fuse_reply_err(req, EROFS); }
static void op_rmdir(fuse_req_t req, fuse_ino_t p, const char *n) { fuse_reply_err(req, EROFS); }
static void op_symlink(fuse_req_t req, const char *l, fuse_ino_t p, const char *n) { fuse_reply_err(req, EROFS); }
static void op_rename(fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np, const char *nn,
		      unsigned int f)
{
	fuse_reply_err(req, EROFS);
}
static void op_link(fuse_req_t req, fuse_ino_t i, fuse_ino_t p, const char *n) { fuse_reply_err(req, EROFS); }
static void op_create(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}
static void op_write(fuse_req_t req, fuse_ino_t i, const char *b, size_t s, off_t o,
		     struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

const struct fuse_lowlevel_ops pcapfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.statfs = op_statfs,
	.setattr = op_setattr,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.create = op_create,
	.write = op_write,
};

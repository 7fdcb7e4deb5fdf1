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
#include <syslog.h>
#include <time.h>

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
	"Every name ends in .pcap. A window may be at most the spool's maximum wide (1 hour\n"
	"unless configured).\n";

static bool log_syslog;

void pcapfs_log_to_syslog(void)
{
	log_syslog = true;
}

void pcapfs_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog(LOG_DAEMON | LOG_WARNING, fmt, ap);
		va_end(ap);
		return;
	}
	fputs("pcapfs: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static struct pcapfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- /audit ---------------------------------------------------------------------------------- */

/* "2026-11-22.csv" → the ns of that day's midnight (UTC); false for anything else. */
static bool audit_day_parse(const char *name, int64_t *ret)
{
	size_t n = strlen(name);
	return n == 14 && strcmp(name + 10, ".csv") == 0 && window_parse_day(name, 10, ret) == 0;
}

static void audit_day_name(int64_t day, char *buf, size_t size)
{
	if (window_format_day(day, buf, size) > 0)
		snprintf(buf + 10, size > 10 ? size - 10 : 0, ".csv");
}

static uint64_t audit_day_ino(int64_t day)
{
	return NODE_AUDIT_DAY << 56 | (uint64_t)(day / AUDIT_DAY_NS);
}

static int64_t audit_day_of(uint64_t ino)
{
	return (int64_t)(ino & ((UINT64_C(1) << 56) - 1)) * AUDIT_DAY_NS;
}

/* The path that records name for /audit (NODE_AUDIT) or one of its day files. */
static void audit_path(uint64_t ino, char *buf, size_t size)
{
	int n = snprintf(buf, size, ino == NODE_AUDIT ? "/audit" : "/audit/");
	if (ino != NODE_AUDIT && n > 0 && (size_t)n < size)
		audit_day_name(audit_day_of(ino), buf + n, size - (size_t)n);
}

/* A day's file changes until the day is over: its mtime is the end of the day, or now. */
static int64_t audit_day_mtime(int64_t day)
{
	return MIN(now_ns(), day + AUDIT_DAY_NS);
}

/* Refuse req with errno err, then record the refusal: of the device and window in ai (window
 * may be NULL), or of path (/audit...) when it is given. A caller the policy could not name
 * (no user, no such device) is not recorded. The reply goes first: a caller must not tell a
 * device hidden from it (recorded) from a name that exists nowhere (not recorded) by how
 * long the answer takes. Lookups and attribute requests of one walk are one record
 * (audit_refused_lookup). */
static void refuse(struct pcapfs *fs, fuse_req_t req, int err, const char *op,
		   const struct access_info *ai, const char *window, const char *path)
{
	struct fuse_ctx ctx = *fuse_req_ctx(req); /* req is gone once answered */
	fuse_reply_err(req, err);
	if (!ai->exists)
		return;
	struct audit_event ev = {.op = op, .uid = ctx.uid, .gid = ctx.gid, .pid = ctx.pid,
				 .user = ai->user, .device = path ? NULL : ai->device,
				 .window = window, .path = path, .reason = ai->reason};
	if (strcmp(op, "lookup") == 0 || strcmp(op, "getattr") == 0)
		(void)audit_refused_lookup(fs, &ev);
	else
		(void)audit_access(fs, &ev);
}

/* A new open file (one reference, RELEASE's) and its caller, as its close record will name
 * it. */
static struct ofile *ofile_new(const struct fuse_ctx *ctx, const struct access_info *ai,
			       int64_t event_id)
{
	struct ofile *of = calloc(1, sizeof(*of));
	if (!of)
		return NULL;
	of->refs = 1;
	of->event_id = event_id;
	of->opened_ns = mono_ns();
	of->uid = ctx->uid;
	of->gid = ctx->gid;
	of->pid = ctx->pid;
	snprintf(of->user, sizeof(of->user), "%s", ai->user);
	return of;
}

void snap_unref(struct snap *s)
{
	if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		plan_free(s->plan);
		free(s);
	}
}

/* An /audit file holds the day's text as of its open: at most fs->csv_max bytes, and those
 * open at a time at most twice that together (a fresh open beyond it: ENOMEM, logged). */
static int csv_take(struct pcapfs *fs, int64_t day, struct ofile *of)
{
	int e = audit_day_csv(fs, day, &of->csv, &of->csv_size);
	if (e < 0)
		return e;
	uint64_t held = __atomic_load_n(&fs->csv_held, __ATOMIC_RELAXED);
	do {
		if (held + of->csv_size > 2 * (uint64_t)fs->csv_max) {
			pcapfs_log("/audit: the day files already open hold %" PRIu64 " KiB; %s "
				   "(%zu KiB) can be opened when some are closed (audit_csv_max)",
				   held >> 10, of->path, of->csv_size >> 10);
			free(of->csv);
			of->csv = NULL;
			return -ENOMEM;
		}
	} while (!__atomic_compare_exchange_n(&fs->csv_held, &held, held + of->csv_size, false,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return 0;
}

static void ofile_record_close(struct pcapfs *fs, struct ofile *of);

static void ofile_unref(struct pcapfs *fs, struct ofile *of)
{
	if (__atomic_sub_fetch(&of->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		if (of->closed)
			ofile_record_close(fs, of);
		snap_unref(of->snap);
		if (of->csv)
			__atomic_sub_fetch(&fs->csv_held, (uint64_t)of->csv_size, __ATOMIC_RELAXED);
		free(of->csv);
		free(of);
	}
}

/* An open file from its OPEN reply to its close record. */
static void ofile_list(struct pcapfs *fs, struct ofile *of)
{
	pthread_mutex_lock(&fs->open_lock);
	of->prev = NULL;
	of->next = fs->open_files;
	if (of->next)
		of->next->prev = of;
	fs->open_files = of;
	of->listed = true;
	pthread_mutex_unlock(&fs->open_lock);
}

static void ofile_unlist(struct pcapfs *fs, struct ofile *of)
{
	pthread_mutex_lock(&fs->open_lock);
	if (of->listed) {
		if (of->prev)
			of->prev->next = of->next;
		else
			fs->open_files = of->next;
		if (of->next)
			of->next->prev = of->prev;
		of->listed = false;
	}
	pthread_mutex_unlock(&fs->open_lock);
}

/* The close record of an open file, then its release: at RELEASE, when the reply to its
 * OPEN did not reach the opener (interrupted), after which no RELEASE comes, or when the
 * mount ends with it still open. The record is written once the reads still in progress
 * are done (the last reference): a reader can close the file as soon as a reply reached it,
 * before the thread that sent the reply has counted its bytes. */
static void ofile_close(struct pcapfs *fs, struct ofile *of, const char *reason)
{
	ofile_unlist(fs, of);
	snprintf(of->close_reason, sizeof(of->close_reason), "%s", reason);
	of->closed = true;
	if (of->snap)
		node_cache_close(fs, of->ino);
	ofile_unref(fs, of);
}

static void ofile_record_close(struct pcapfs *fs, struct ofile *of)
{
	bool audit_file = of->path[0]; /* /audit/<day>.csv; a window has device and window */
	struct audit_event ev = {.op = "close", .uid = of->uid, .gid = of->gid, .pid = of->pid,
				 .user = of->user, .device = audit_file ? NULL : of->device,
				 .window = audit_file ? NULL : of->window,
				 .path = audit_file ? of->path : NULL, .granted = true,
				 .reason = of->close_reason,
				 .bytes = __atomic_load_n(&of->bytes, __ATOMIC_RELAXED),
				 .duration_ns = mono_ns() - of->opened_ns, .open_id = of->event_id};
	(void)audit_access(fs, &ev);
}

void pcapfs_close_open_files(struct pcapfs *fs)
{
	for (;;) {
		pthread_mutex_lock(&fs->open_lock);
		struct ofile *of = fs->open_files;
		pthread_mutex_unlock(&fs->open_lock);
		if (!of)
			break;
		ofile_close(fs, of, "unmounted while open");
	}
}

/* ---- operations --------------------------------------------------------------------------- */

/* Set the mount's readahead (see find_readahead_knob in pcapfs-main.c) once INIT is done,
 * which any open comes after. Needs root; without it the kernel's default stays. */
static void raise_readahead(struct pcapfs *fs)
{
	if (!fs->readahead_knob[0] || __atomic_exchange_n(&fs->readahead_set, true, __ATOMIC_RELAXED))
		return;
	FILE *f = fopen(fs->readahead_knob, "we");
	if (!f)
		return;
	fprintf(f, "%u\n", PCAPFS_READAHEAD_KB);
	if (fclose(f) != 0)
		pcapfs_log("%s: %s (readahead stays at the kernel's default)", fs->readahead_knob,
			   strerror(errno));
}

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
	/* Every batch of a listing with attributes, not only the first (op_readdirplus). */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	struct pcapfs *fs = userdata;
	if (fs->splice) {
		if (conn->capable & FUSE_CAP_SPLICE_WRITE)
			conn->want |= FUSE_CAP_SPLICE_WRITE | (conn->capable & FUSE_CAP_SPLICE_MOVE);
		else
			fs->splice = false;
	}
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
}

/* The kernel keeps attributes for every caller alike, while a window's size and time are
 * only for those who may read it (a caller reaches a window's node without a walk through
 * its device directory from a directory it entered before a revocation, through an NFS
 * file handle, or past its role's limits): every stat of a window is decided for its caller
 * (op_getattr). Its pages are kept all the same: bytes are reached only through an open,
 * which is always decided. */
#define WINDOW_ATTR_TIMEOUT 0.0

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
	/* "." and ".." reach the filesystem only from an NFS export reconnecting a handle. */
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		uint64_t ino = parent;
		if (name[1])
			ino = NODE_TYPE(parent) == NODE_DEVICE ? NODE_PCAP : NODE_ROOT;
		if (NODE_TYPE(ino) == NODE_DEVICE) {
			int64_t id;
			struct access_info ai;
			int e = check_device_info(fs, req, NULL, (int64_t)(ino & ((UINT64_C(1) << 56) - 1)),
						  &id, &ai);
			if (e < 0) {
				refuse(fs, req, -e, "lookup", &ai, NULL, NULL);
				return;
			}
		}
		if (ino == NODE_AUDIT) {
			struct access_info ai;
			int e = check_audit(fs, req, &ai);
			if (e < 0) {
				refuse(fs, req, -e, "lookup", &ai, NULL, "/audit");
				return;
			}
		}
		if (ino != NODE_ROOT && ino != NODE_PCAP && ino != NODE_AUDIT && NODE_TYPE(ino) != NODE_DEVICE) {
			fuse_reply_err(req, ENOTDIR);
			return;
		}
		reply_dir_entry(req, fs, ino, NODE_TYPE(ino) == NODE_DEVICE || ino == NODE_AUDIT ? 0 : fs->cache_timeout);
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
		if (strcmp(name, "audit") == 0) {
			/* Zero timeouts: decided again for every caller, like a device. */
			struct access_info ai;
			int e = check_audit(fs, req, &ai);
			if (e < 0) {
				refuse(fs, req, -e, "lookup", &ai, NULL, "/audit");
				return;
			}
			reply_dir_entry(req, fs, NODE_AUDIT, 0);
			return;
		}
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (parent == NODE_AUDIT) {
		int64_t day;
		struct access_info ai;
		char path[64];
		if (!audit_day_parse(name, &day)) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		snprintf(path, sizeof(path), "/audit/%s", name);
		int e = check_audit(fs, req, &ai);
		if (e < 0) {
			refuse(fs, req, -e, "lookup", &ai, NULL, path);
			return;
		}
		uint64_t size;
		e = audit_day_size(fs, day, &size);
		if (e < 0) {
			fuse_reply_err(req, -e);
			return;
		}
		struct fuse_entry_param ep = {.ino = audit_day_ino(day)};
		file_attr(ep.ino, size, audit_day_mtime(day), &ep.attr);
		fuse_reply_entry(req, &ep);
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
		id = -1;
		int e = check_device_info(fs, req, name, 0, &id, &ai);
		if (e < 0) {
			refuse(fs, req, -e, "lookup", &ai, NULL, NULL);
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
			/* Who asked, and in which device (by id: its name is not the caller's to
			 * learn here, and the log is the administrator's). */
			pcapfs_log("uid %u, pid %d: refusing %s in device %" PRId64 ": %s",
				   (unsigned)fuse_req_ctx(req)->uid, (int)fuse_req_ctx(req)->pid, name, dev,
				   err.msg);
			fuse_reply_err(req, -e);
			return;
		}
		struct access_info ai;
		e = check_window_info(fs, req, dev, &w, &id, &ai);
		if (e < 0) { /* a refusal when the device exists (a walk from inside it: cwd, dirfd) */
			char wname[WINDOW_NAME_BUF];
			window_format(&w, wname, sizeof(wname));
			refuse(fs, req, -e, "lookup", &ai, wname, NULL);
			return;
		}
		struct fuse_entry_param ep = {0};
		bool imm;
		e = window_entry(fs, dev, &w, &ep, &imm);
		if (e < 0) {
			fuse_reply_err(req, -e);
			return;
		}
		/* Attributes are never kept by the kernel (WINDOW_ATTR_TIMEOUT). The entry is: a
		 * settled window's own node under its canonical name, the one the content watcher
		 * drops when the window changes after all; a snapshot node's entry goes at once,
		 * so that the next walk to the name gets the content as of then. */
		ep.attr_timeout = WINDOW_ATTR_TIMEOUT;
		char canon[WINDOW_NAME_BUF];
		ep.entry_timeout = imm && window_format(&w, canon, sizeof(canon)) > 0 &&
						   strcmp(name, canon) == 0
					   ? fs->cache_timeout
					   : 0;
		if (fuse_reply_entry(req, &ep) != 0)
			node_forget(fs, ep.ino, 1); /* the kernel did not take the reference */
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
	if (ino == NODE_AUDIT || NODE_TYPE(ino) == NODE_AUDIT_DAY) {
		struct access_info ai;
		int e = check_audit(fs, req, &ai);
		if (e < 0) {
			char path[64];
			audit_path(ino, path, sizeof(path));
			refuse(fs, req, -e, "getattr", &ai, NULL, path);
			return;
		}
		if (ino == NODE_AUDIT) {
			dir_attr(fs, ino, &st);
		} else {
			int64_t day = audit_day_of(ino);
			uint64_t size;
			const struct ofile *of = fi && fi->fh ? (const struct ofile *)(uintptr_t)fi->fh : NULL;
			if (of)
				size = of->csv_size;
			else
				e = audit_day_size(fs, day, &size);
			if (e == 0)
				file_attr(ino, size, audit_day_mtime(day), &st);
		}
		if (e < 0)
			fuse_reply_err(req, -e);
		else
			fuse_reply_attr(req, &st, 0);
		return;
	}
	int64_t dev, id;
	struct window w;
	uint64_t base;
	if (NODE_TYPE(ino) == NODE_DEVICE) {
		dev = (int64_t)(ino & ((UINT64_C(1) << 56) - 1));
		struct access_info ai;
		int e = check_device_info(fs, req, NULL, dev, &id, &ai);
		if (e < 0) { /* a directory entered or opened before a revocation */
			refuse(fs, req, -e, "getattr", &ai, NULL, NULL);
			return;
		}
		dir_attr(fs, ino, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	}
	if (!node_lookup(fs, ino, &dev, &w, &base)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* GETATTR with a file (the kernel refreshing the size of a file read past its end, or
	 * at SEEK_END): the size of what this open serves. */
	if (fi && fi->fh) {
		const struct ofile *of = (const struct ofile *)(uintptr_t)fi->fh;
		const struct plan *p = of->snap->plan;
		file_attr(base, p->size, p->packets ? p->t_last : w.end_ns, &st);
		fuse_reply_attr(req, &st, WINDOW_ATTR_TIMEOUT);
		return;
	}
	struct access_info ai;
	int e = check_window_info(fs, req, dev, &w, &id, &ai);
	if (e < 0) { /* through an entry of a walk decided before: cwd, dirfd, a file handle */
		char wname[WINDOW_NAME_BUF];
		window_format(&w, wname, sizeof(wname));
		refuse(fs, req, -e, "getattr", &ai, wname, NULL);
		return;
	}
	bool imm;
	/* Without an open file (the kernel refreshing the attributes of a node): while files
	 * are open through a window's own node, the size of what they read, which does not
	 * move under them. Fresh data comes with the next lookup. */
	uint64_t size;
	int64_t mtime;
	if (node_cache_attr(fs, ino, &size, &mtime)) {
		file_attr(base, size, mtime, &st);
		fuse_reply_attr(req, &st, WINDOW_ATTR_TIMEOUT);
		return;
	}
	e = window_attr(fs, ino, dev, &w, &st, &imm, NULL);
	if (e < 0) {
		fuse_reply_err(req, -e);
		return;
	}
	fuse_reply_attr(req, &st, WINDOW_ATTR_TIMEOUT);
}

/* ---- directories -------------------------------------------------------------------------- */

/* A listing, built at opendir for its caller and served from memory by readdir and
 * readdirplus. The offset of an entry is its index + 1. */
#define DIRENT_NAME_BUF MAX(DEVICE_NAME_MAX + 1, WINDOW_NAME_BUF)
struct dir_item {
	uint64_t ino;
	mode_t mode;
	bool final; /* an hour of a device whose size and time below are final */
	struct window w;
	uint64_t size;
	int64_t mtime_ns;
	char name[DIRENT_NAME_BUF];
};

struct dirlist {
	struct dir_item *v;
	size_t n, cap;
	int64_t dev; /* of a device directory */
	int64_t gen; /* the content generation its final attributes were read at */
};

static struct dir_item *dirlist_add(struct dirlist *b, const char *name, uint64_t ino, mode_t mode)
{
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 64;
		struct dir_item *nv = realloc(b->v, nc * sizeof(*nv));
		if (!nv)
			return NULL;
		b->v = nv;
		b->cap = nc;
	}
	struct dir_item *it = &b->v[b->n++];
	*it = (struct dir_item){.ino = ino, .mode = mode};
	snprintf(it->name, sizeof(it->name), "%s", name);
	return it;
}

static void dirlist_free(struct dirlist *b)
{
	if (b)
		free(b->v);
	free(b);
}

static int dirlist_put(struct dirlist *b, const char *name, uint64_t ino, mode_t mode)
{
	return dirlist_add(b, name, ino, mode) ? 0 : -ENOMEM;
}

/* Listing /pcap: the caller's identity and the grants once, then one in-memory decision per
 * device as the catalogue hands them over: O(devices) with a single query. */
struct list_ctx {
	struct pcapfs *fs;
	struct dirlist *b;
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
	return dirlist_put(l->b, d->name, NODE_DEVICE << 56 | (uint64_t)d->id, S_IFDIR);
}

/* The listing is built at opendir, for the caller of opendir, and served from memory. */
static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pcapfs *fs = fs_of(req);
	struct dirlist *b = calloc(1, sizeof(*b));
	int e = b ? 0 : -ENOMEM;
	if (e == 0)
		e = dirlist_put(b, ".", ino, S_IFDIR);
	if (e == 0)
		e = dirlist_put(b, "..", NODE_TYPE(ino) == NODE_DEVICE ? NODE_PCAP : NODE_ROOT, S_IFDIR);
	if (e == 0 && ino == NODE_ROOT) {
		e = dirlist_put(b, "README.txt", NODE_README, S_IFREG);
		if (e == 0)
			e = dirlist_put(b, "pcap", NODE_PCAP, S_IFDIR);
		/* /audit only for those who may read it. */
		struct access_info ai;
		if (e == 0 && fs->audit_mode != AUDIT_OFF && check_audit(fs, req, &ai) == 0)
			e = dirlist_put(b, "audit", NODE_AUDIT, S_IFDIR);
	} else if (e == 0 && ino == NODE_AUDIT) {
		struct access_info ai;
		e = check_audit(fs, req, &ai);
		if (e < 0) {
			dirlist_free(b);
			refuse(fs, req, -e, "opendir", &ai, NULL, "/audit");
			return;
		}
		int64_t *days = NULL;
		size_t n = 0;
		struct errbuf err = {{0}};
		if (e == 0) {
			pthread_mutex_lock(&fs->cat_lock);
			e = catalog_access_days(fs->sp->cat, AUDIT_DAYS_MAX, &days, &n, &err);
			pthread_mutex_unlock(&fs->cat_lock);
			if (e < 0) {
				pcapfs_log("listing /audit: %s", err.msg[0] ? err.msg : strerror(-e));
				e = -EIO;
			}
		}
		for (size_t i = 0; e == 0 && i < n; i++) {
			char name[32];
			audit_day_name(days[i], name, sizeof(name));
			e = dirlist_put(b, name, audit_day_ino(days[i]), S_IFREG);
		}
		free(days);
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
			struct list_ctx l = {.fs = fs, .b = b, .who = &who, .pam_ok = pam_ok};
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
		struct access_info ai;
		e = check_device_info(fs, req, NULL, dev, &id, &ai);
		if (e < 0) { /* through a directory opened or entered before a revocation */
			dirlist_free(b);
			refuse(fs, req, -e, "opendir", &ai, NULL, NULL);
			return;
		}
		struct device_hour *hours = NULL;
		int64_t now = now_ns();
		size_t n = 0;
		if (e == 0)
			e = device_hours_final(fs, dev, &hours, &n, &b->gen);
		b->dev = dev;
		for (size_t i = 0; e == 0 && i < n; i++) {
			struct window w = {hours[i].start_ns, hours[i].start_ns + 3600 * NS_PER_SEC};
			/* Only the files the caller's role limits let it open (policy_window). */
			if ((ai.limits.max_width_ns > 0 && 3600 * NS_PER_SEC > ai.limits.max_width_ns) ||
			    (ai.limits.max_lookback_ns > 0 && w.start_ns < now - ai.limits.max_lookback_ns))
				continue;
			char name[WINDOW_NAME_BUF];
			window_format(&w, name, sizeof(name));
			/* No node for a listing (the kernel takes no reference): hourly ids
			 * decode without the table. */
			uint64_t wino = node_hour_ino(dev, &w);
			if (!wino)
				wino = node_get(fs, dev, &w, false);
			struct dir_item *it = dirlist_add(b, name, wino, S_IFREG);
			if (!it) {
				e = -ENOMEM;
				break;
			}
			it->w = w;
			it->final = hours[i].whole && wino;
			it->size = PCAP_GLOBAL_HDR_LEN + hours[i].bytes;
			it->mtime_ns = hours[i].packets ? hours[i].t_last : w.end_ns;
		}
		free(hours);
	} else if (e == 0) {
		e = -ENOTDIR;
	}
	if (e < 0) {
		dirlist_free(b);
		fuse_reply_err(req, -e);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)b;
	fi->cache_readdir = 0;
	fuse_reply_open(req, fi);
}

/* One reply of a listing from offset off: plain entries, or (plus) entries with
 * attributes. readdirplus hands the kernel each final hour's attributes with its entry, as
 * a LOOKUP would: `ls -l` of a device directory then costs a few requests instead of one
 * per file. Every other entry goes without (node id 0): the kernel looks it up when it
 * needs it. */
static void reply_listing(fuse_req_t req, struct fuse_file_info *fi, size_t size, off_t off,
			  bool plus)
{
	struct pcapfs *fs = fs_of(req);
	const struct dirlist *b = (const struct dirlist *)(uintptr_t)fi->fh;
	char *buf = malloc(size ? size : 1);
	/* The references a plus reply hands over, given back if it does not arrive. */
	size_t max_refs = plus ? size / fuse_add_direntry_plus(req, NULL, 0, "x", NULL, 0) + 1 : 0;
	size_t n_refs = 0;
	uint64_t *refs = malloc((max_refs ? max_refs : 1) * sizeof(*refs));
	if (!buf || !refs) {
		free(buf);
		free(refs);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	bool current = atomic_load(&fs->content_gen) == b->gen;
	size_t used = 0;
	for (size_t i = off > 0 ? (size_t)off : 0; i < b->n; i++) {
		const struct dir_item *it = &b->v[i];
		struct fuse_entry_param e = {.attr = {.st_ino = it->ino, .st_mode = it->mode}};
		size_t need = plus ? fuse_add_direntry_plus(req, NULL, 0, it->name, NULL, 0)
				   : fuse_add_direntry(req, NULL, 0, it->name, NULL, 0);
		if (need > size - used)
			break;
		if (!plus) {
			fuse_add_direntry(req, buf + used, need, it->name, &e.attr, (off_t)(i + 1));
			used += need;
			continue;
		}
		uint64_t node = it->final && current && n_refs < max_refs ? node_get(fs, b->dev, &it->w, true) : 0;
		if (node && !node_set_final(fs, node, it->size, it->mtime_ns, b->gen)) {
			node_forget(fs, node, 1); /* changed meanwhile: looked up when needed */
			node = 0;
		}
		if (node) {
			refs[n_refs++] = node;
			e.ino = node;
			file_attr(node, it->size, it->mtime_ns, &e.attr);
			e.attr_timeout = WINDOW_ATTR_TIMEOUT;
			e.entry_timeout = fs->cache_timeout;
		}
		fuse_add_direntry_plus(req, buf + used, need, it->name, &e, (off_t)(i + 1));
		used += need;
	}
	if (fuse_reply_buf(req, buf, used) != 0)
		for (size_t k = 0; k < n_refs; k++)
			node_forget(fs, refs[k], 1);
	free(buf);
	free(refs);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	reply_listing(req, fi, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	reply_listing(req, fi, size, off, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	dirlist_free((struct dirlist *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* ---- files -------------------------------------------------------------------------------- */

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pcapfs *fs = fs_of(req);
	raise_readahead(fs);
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS); /* the mount is read-only: the kernel refuses first */
		return;
	}
	if (ino == NODE_README) {
		fi->fh = 0;
		fi->keep_cache = 1;
		fuse_reply_open(req, fi);
		return;
	}
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	if (NODE_TYPE(ino) == NODE_AUDIT_DAY) {
		int64_t day = audit_day_of(ino);
		char path[64];
		struct access_info ai;
		audit_path(ino, path, sizeof(path));
		int e = check_audit(fs, req, &ai);
		if (e < 0) {
			refuse(fs, req, -e, "open", &ai, NULL, path);
			return;
		}
		struct ofile *of = ofile_new(ctx, &ai, 0);
		if (!of) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		snprintf(of->path, sizeof(of->path), "%s", path);
		struct audit_event ev = {.op = "open", .uid = ctx->uid, .gid = ctx->gid, .pid = ctx->pid,
					 .user = ai.user, .path = path, .granted = true,
					 .reason = ai.reason};
		e = audit_access(fs, &ev); /* first: the file shows its own open */
		if (e < 0) {
			ofile_unref(fs, of);
			fuse_reply_err(req, -e);
			return;
		}
		of->event_id = ev.id;
		e = csv_take(fs, day, of);
		if (e < 0) {
			/* Recorded as opened: its close says what came of it. */
			char why[96];
			snprintf(why, sizeof(why), "not served: %s", strerror(-e));
			ofile_close(fs, of, why);
			fuse_reply_err(req, -e);
			return;
		}
		fi->fh = (uint64_t)(uintptr_t)of;
		/* Today's file grows: each open serves the rows as they were then, whatever size
		 * the kernel was told before. */
		fi->direct_io = 1;
		ofile_list(fs, of);
		if (fuse_reply_open(req, fi) != 0)
			ofile_close(fs, of, "not served: the open was interrupted");
		return;
	}
	if (ino == NODE_AUDIT) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	int64_t dev, id;
	struct window w;
	if (!node_lookup(fs, ino, &dev, &w, NULL)) {
		fuse_reply_err(req, NODE_TYPE(ino) == NODE_DEVICE ? EISDIR : ENOENT);
		return;
	}
	struct access_info ai;
	char wname[WINDOW_NAME_BUF];
	window_format(&w, wname, sizeof(wname));
	int e = check_window_info(fs, req, dev, &w, &id, &ai);
	if (e < 0) {
		refuse(fs, req, -e, "open", &ai, wname, NULL);
		return;
	}
	/* The snapshot the kernel's attributes came from (the lookup just before): the size it
	 * believes and the bytes served agree. Taken before the record, so that every open
	 * recorded as allowed was opened (and gets its close record): one that fails here
	 * (EIO, logged) was never open. */
	struct ofile *of = ofile_new(ctx, &ai, 0);
	e = of ? window_open_snap(fs, ino, dev, &w, &of->snap) : -ENOMEM;
	enum cache_use cu = e == 0 ? node_cache_open(fs, ino, of->snap) : CACHE_STALE;
	if (e == 0 && cu == CACHE_STALE)
		e = -ESTALE;
	/* No record, no open (audit=required). */
	struct audit_event ev = {.op = "open", .uid = ctx->uid, .gid = ctx->gid, .pid = ctx->pid,
				 .user = ai.user, .device = ai.device, .window = wname,
				 .granted = true, .reason = ai.reason};
	bool failed = e < 0; /* before the record: the open failed, not its record */
	if (e == 0) {
		ev.bytes = of->snap->plan->size; /* an open's: the size of the file it opens */
		e = audit_access(fs, &ev);
	}
	if (e < 0) {
		if (cu != CACHE_STALE)
			node_cache_close(fs, ino);
		if (of)
			snap_unref(of->snap);
		free(of);
		/* A window that cannot be served (a damaged segment or index, no memory) is a
		 * refused open, recorded with why. A stale snapshot is not: the kernel looks the
		 * name up again and retries, and that open is recorded. */
		if (failed && e != -ESTALE) {
			snprintf(ai.reason, sizeof(ai.reason), "not served: %s", strerror(-e));
			refuse(fs, req, -e, "open", &ai, wname, NULL);
		} else {
			fuse_reply_err(req, -e);
		}
		return;
	}
	of->event_id = ev.id;
	snprintf(of->device, sizeof(of->device), "%s", ai.device);
	snprintf(of->window, sizeof(of->window), "%s", wname);
	fi->fh = (uint64_t)(uintptr_t)of;
	of->ino = ino;
	/* Never direct_io: a node stands for one content, so its page cache serves every open
	 * of it (node_cache_open). */
	fi->keep_cache = cu == CACHE_KEEP;
	ofile_list(fs, of);
	if (fuse_reply_open(req, fi) != 0)
		ofile_close(fs, of, "not served: the open was interrupted");
}

/* Each session thread copies replies into a buffer of its own that stays: a fresh one of up
 * to 1 MiB per request would be fresh pages to fault in every time. Freed with the thread. */
struct copybuf {
	char *p;
	size_t cap;
};
static pthread_key_t copy_key;
static pthread_once_t copy_once = PTHREAD_ONCE_INIT;
static bool copy_key_ok;

static void copybuf_free(void *v)
{
	struct copybuf *b = v;
	free(b->p);
	free(b);
}

static void copy_key_make(void)
{
	copy_key_ok = pthread_key_create(&copy_key, copybuf_free) == 0;
}

static char *copy_buffer(size_t size)
{
	if (pthread_once(&copy_once, copy_key_make) != 0 || !copy_key_ok)
		return NULL;
	struct copybuf *b = pthread_getspecific(copy_key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || pthread_setspecific(copy_key, b) != 0) {
			free(b);
			return NULL;
		}
	}
	if (b->cap < size || !b->p) {
		size_t cap = MAX(size, (size_t)PCAPFS_MAX_READ);
		char *p = realloc(b->p, cap);
		if (!p)
			return NULL;
		b->p = p;
		b->cap = cap;
	}
	return b->p;
}

static void read_file(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct ofile *of);
static void read_ahead(struct pcapfs *fs, const struct plan *p, struct ofile *of, uint64_t off,
		       size_t size);

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
	/* A reply may still be on its way (the splice of a segment's pages, the CSV being
	 * written to the device) when the kernel sends RELEASE: the read holds the file. */
	struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;
	struct pcapfs *fs = fs_of(req); /* req is gone once answered */
	__atomic_add_fetch(&of->refs, 1, __ATOMIC_ACQ_REL);
	read_file(req, ino, size, off, of);
	/* After the reply: the reader does not wait for the advice. */
	if (!of->csv)
		read_ahead(fs, of->snap->plan, of, (uint64_t)off, size);
	ofile_unref(fs, of);
}

/* A reader going through a file sequentially (the kernel's readahead asks for the next
 * stretch while the reader consumes this one) next needs the bytes after this read: have
 * them read from the segments now, READ_AHEAD ahead, so that the next requests find them in
 * memory instead of waiting for the disk one request at a time. A read elsewhere (a seek)
 * asks for nothing; the reads that continue from it do. */
#define READ_AHEAD (16u << 20)
#define READ_AHEAD_MIN (2u << 20)
static void read_ahead(struct pcapfs *fs, const struct plan *p, struct ofile *of, uint64_t off,
		       size_t size)
{
	uint64_t mark = __atomic_load_n(&of->ahead, __ATOMIC_RELAXED), end = off + size;
	if (off > mark || off + 2 * READ_AHEAD < mark) {
		/* Elsewhere: remember where this read ends; a read that goes on from there asks. */
		if (__atomic_compare_exchange_n(&of->ahead, &mark, end, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			__atomic_store_n(&of->run_from, off, __ATOMIC_RELAXED);
		return;
	}
	/* Twice what the run has read so far, from READ_AHEAD_MIN up to READ_AHEAD: a reader
	 * that stops after its first bytes (a file manager, `file`) costs little disk. */
	uint64_t run = end - MIN(end, __atomic_load_n(&of->run_from, __ATOMIC_RELAXED));
	uint64_t window = MIN((uint64_t)READ_AHEAD, MAX((uint64_t)READ_AHEAD_MIN, 2 * run));
	if (end + window / 2 <= mark || mark >= p->size)
		return;
	uint64_t to = end + window;
	/* Concurrent reads: one of them asks. */
	if (!__atomic_compare_exchange_n(&of->ahead, &mark, to, false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return;
	uint64_t from = MAX(mark, off);
	plan_prefetch(p, from, to - from, prefetch_ask, &fs->prefetch);
}

static void read_file(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct ofile *of)
{
	if (of->csv) {
		size_t n = (size_t)off >= of->csv_size ? 0 : MIN(size, of->csv_size - (size_t)off);
		__atomic_add_fetch(&of->bytes, (uint64_t)n, __ATOMIC_RELAXED);
		fuse_reply_buf(req, n ? of->csv + off : NULL, n);
		return;
	}
	struct snap *s = of->snap;
	/* A reply whose bytes lie in few contiguous stretches of segment files goes out as
	 * file-descriptor buffers, which the kernel moves from the files' pages into the FUSE
	 * device without a copy through this process (unless -o nosplice). Scattered records
	 * are copied. */
	if (fs_of(req)->splice) {
		struct plan_run runs[SPLICE_RUNS_MAX];
		size_t n = plan_runs(s->plan, (uint64_t)off, size, runs, SPLICE_RUNS_MAX);
		/* libfuse splices through a pipe of at least this (else it copies the reply into a
		 * fresh buffer of its own, which costs more than the copying path below). */
		size_t total = 0;
		for (size_t i = 0; i < n; i++)
			total += runs[i].len;
		if (16 /* reply header */ + total + 4096 * (n + 2) > fs_of(req)->pipe_max)
			n = 0;
		/* libfuse would send a short reply for a segment shorter than its index says;
		 * such a read takes the copying path, which answers EIO. */
		int fd = -1;
		uint64_t fd_size = 0;
		for (size_t i = 0; i < n; i++) {
			if (runs[i].fd < 0)
				continue;
			struct stat st;
			if (runs[i].fd != fd) { /* one fstat per segment a run moves to */
				fd = runs[i].fd;
				fd_size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
			}
			if (fd_size < runs[i].pos + runs[i].len) {
				n = 0;
				break;
			}
		}
		/* struct fuse_bufvec ends in buf[1]: more buffers need memory past its end. */
		struct fuse_bufvec *bv = n > 0 ? calloc(1, sizeof(*bv) + (n - 1) * sizeof(struct fuse_buf)) : NULL;
		if (bv) {
			bv->count = n;
			for (size_t i = 0; i < n; i++) {
				struct fuse_buf *b = &bv->buf[i];
				*b = (struct fuse_buf){.size = runs[i].len};
				if (runs[i].fd < 0) {
					b->mem = (void *)(uintptr_t)runs[i].mem;
				} else {
					b->flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
					b->fd = runs[i].fd;
					b->pos = (off_t)runs[i].pos;
				}
			}
			/* On a failure on the way libfuse answers the request with the error. */
			if (fuse_reply_data(req, bv, FUSE_BUF_SPLICE_MOVE) == 0)
				__atomic_add_fetch(&of->bytes, (uint64_t)total, __ATOMIC_RELAXED);
			free(bv);
			return;
		}
	}
	char *buf = copy_buffer(size);
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
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != NODE_README)
		ofile_close(fs_of(req), (struct ofile *)(uintptr_t)fi->fh, "");
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

static void forget_one(struct pcapfs *fs, uint64_t ino, uint64_t nlookup)
{
	if (NODE_TYPE(ino) == NODE_HOUR || NODE_TYPE(ino) == NODE_WINDOW || NODE_TYPE(ino) == NODE_SNAP)
		node_forget(fs, ino, nlookup);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct pcapfs *fs = fs_of(req);
	for (size_t i = 0; i < count; i++)
		forget_one(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* No file here has extended attributes or ACLs, and every name says so: EOPNOTSUPP. Left
 * to the kernel (ENOSYS: no handler), it would answer other names EOPNOTSUPP itself but the POSIX
 * ACL names ENODATA, "no ACL here", which tells GNU ls -l to ask again for every file: one
 * more path walk, and so one more decided LOOKUP of the device, per file listed.
 * EOPNOTSUPP marks the file system as one without ACLs, asked once. Nothing is revealed:
 * the answer is the same for every node and caller. */
static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	fuse_reply_err(req, EOPNOTSUPP);
}

const struct fuse_lowlevel_ops pcapfs_ops = {
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.statfs = op_statfs,
	.getxattr = op_getxattr,
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

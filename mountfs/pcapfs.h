/* pcapfs.h — shared state of the pcapfs FUSE filesystem (docs/mountfs.md).
 *
 * Node ids are stable across mounts and unique (they are the inode numbers, and Samba and
 * NFS identify files by them), but for snapshot nodes (below):
 *   1 /, 2 /README.txt, 3 /pcap
 *   NODE_DEVICE << 56 | device id                          /pcap/<device>
 *   NODE_HOUR << 56 | device id << 24 | hours since epoch   canonical hourly windows
 *   NODE_WINDOW << 56 | 56-bit hash of (device, start, end) any other window; collisions
 *                                                          probe the next value
 *   4 /audit, NODE_AUDIT_DAY << 56 | days since the epoch  /audit/<YYYY-MM-DD>.csv
 * Generation is always 0.
 *
 * The kernel keeps one page cache and one size per node, so a node may only ever stand for
 * one content. A window whose content is final is its own node. A window that can still
 * grow is looked up as a snapshot node, NODE_SNAP << 56 | a sequence number: the content as
 * of that lookup, which never changes; the next lookup after the window grew gets another
 * one. Its st_ino is still the window's own id. So is a final window whose node open files
 * still read with other content (the catalogue changed under them). */
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "access-format.h"
#include "audit.h"
#include "identity.h"
#include "plan.h"
#include "policy.h"
#include "spool.h"
#include "window.h"

#define NODE_ROOT 1
#define NODE_README 2
#define NODE_PCAP 3
#define NODE_AUDIT 4
#define NODE_DEVICE UINT64_C(1)
#define NODE_HOUR UINT64_C(2)
#define NODE_WINDOW UINT64_C(3)
#define NODE_AUDIT_DAY UINT64_C(4)
#define NODE_SNAP UINT64_C(5)
#define NODE_TYPE(ino) ((ino) >> 56)

/* A read plan shared by the attributes the kernel was last given and the opens that
 * follow: st_size and the bytes served come from the same snapshot. */
struct snap {
	struct plan *plan;
	int refs;
	bool immutable; /* nothing more can arrive in the window: cache it */
	int64_t gen;	/* the catalogue's content generation when the plan was built */
};

struct wnode {
	uint64_t ino;
	uint64_t base; /* the window's own id: ino, or the one a snapshot node stands for */
	int64_t device_id;
	struct window w;
	/* A snapshot node: the content it stands for (plan_digest), its size and time below,
	 * and the plan, kept for the opens that follow its lookup while at most SNAP_HELD_MAX
	 * nodes hold one (an open of one that let it go builds it again, and serves it if the
	 * digest is the same). A window's own node may hold the plan its final attributes were
	 * taken from, for the open after its lookup (window_attr). */
	bool snapshot;
	uint64_t digest;
	struct snap *snap;
	struct wnode *held_prev, *held_next; /* in fs->held while snap is not NULL */
	struct wnode *next_base; /* in fs->by_base: the snapshot nodes of one window */
	/* A window's own node: its final size and time, once known, valid while the
	 * catalogue's content generation is attr_gen. */
	bool attr_known;
	int64_t attr_gen;
	uint64_t size;
	int64_t mtime_ns;
	uint64_t nlookup; /* the kernel's references (LOOKUP replies less FORGETs) */
	/* The kernel keeps one page cache per file, not per open: the final content that open
	 * files read through it (node_cache_open). */
	struct cache_key {
		uint64_t size;
		int64_t mtime_ns; /* the last packet's time, the window's end for none */
	} cache;
	bool cache_valid; /* cache names the content of pages the kernel may hold */
	unsigned cache_opens; /* open files reading through the page cache */
	struct wnode *next;
};

/* Read requests of up to 1 MiB less 5 pages: libfuse 3.14 splices a reply only through a
 * pipe of at least header + data + a page per buffer and two more, and an unprivileged
 * pipe grows to /proc/sys/fs/pipe-max-size (1 MiB by default); a reply of one or two
 * stretches of that size still fits. */
#define PCAPFS_MAX_READ ((1u << 20) - 5u * 4096u)
/* The kernel's readahead for the mount: requests of the largest size, several in flight,
 * answered by different threads. */
#define PCAPFS_READAHEAD_KB 1024u
#define WNODE_BUCKETS 4096
#define SPLICE_RUNS_MAX 64 /* a read reply in more stretches than this is copied */
#define WNODE_MAX_DEFAULT 1000000 /* window nodes the kernel may reference at once */
/* Snapshot nodes holding their plans (segment files open) at once; the least recently
 * looked up or opened lets go first. */
#define SNAP_HELD_MAX 64
#define BUILDS_MAX 8

/* Threads reading segment bytes ahead of sequential readers (pcapfs-prefetch.c): stretches
 * of segment files, each with its own descriptor, in a queue of at most PREFETCH_QUEUE. */
#define PREFETCH_THREADS 2
#define PREFETCH_QUEUE 64
struct prefetch_job {
	int fd;
	uint64_t off, len;
};
struct prefetcher {
	bool started; /* prefetch_start ran; prefetch_stop undoes it */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct prefetch_job queue[PREFETCH_QUEUE];
	unsigned head, tail; /* queue[tail % PREFETCH_QUEUE] is the oldest */
	bool stop;
	int devnull;
	unsigned n_threads;
	pthread_t threads[PREFETCH_THREADS];
};

struct pcapfs {
	struct spool *sp;
	/* /sys/class/bdi/<dev>/read_ahead_kb of the mount ("" when not found), and whether the
	 * first open has set it to PCAPFS_READAHEAD_KB (raise_readahead). */
	char readahead_knob[64];
	bool readahead_set;
	char spool_path[SPOOL_MAX_PATH];
	pthread_mutex_t cat_lock; /* the catalogue handle is used by one thread at a time */
	/* Plans being built at once, at most BUILDS_MAX: each holds the index and segment
	 * files of up to 64 segments open meanwhile (src/plan.c). */
	sem_t builds;
	pthread_mutex_t node_lock;
	struct wnode *nodes[WNODE_BUCKETS];
	struct wnode *by_base[WNODE_BUCKETS]; /* snapshot nodes, by the window's own id */
	size_t n_nodes, max_nodes;
	size_t n_snaps; /* snapshots held by nodes (each keeps its segments open)... */
	struct wnode *held_first, *held_last; /* ...those nodes, the latest used first */
	uint64_t snap_seq; /* the last snapshot node's sequence number */
	struct idcache *ids;
	struct policy_config pc;
	struct auditlog *audit;
	enum audit_mode audit_mode;
	/* The query log: its own read-write connection (the catalogue handle above is
	 * read-only), used by one thread at a time; NULL with audit=off. Rows older than
	 * audit_keep_ns are pruned (0: kept). */
	struct catalog *qlog;
	pthread_mutex_t qlog_lock;
	/* Query-log writes that failed (the catalogue locked longer than its busy timeout, or
	 * failing) and decide no access: kept in order, at most QLOG_PENDING_MAX, retried by
	 * the watcher every second and once more at unmount (qlog_flush). */
	pthread_mutex_t pending_lock;
	struct qlog_pending *pending_first, *pending_last;
	size_t n_pending;
	bool pending_failing; /* the last retry failed (said once, not every second) */
	int64_t audit_keep_ns;
	int64_t pruned_ns; /* when the watcher last pruned (monotonic) */
	/* Sizes of /audit/<day>.csv, valid while the day's row count and highest id stay. */
	pthread_mutex_t csv_lock;
	struct csv_size {
		int64_t day;
		uint64_t rows;
		int64_t max_id;
		uint64_t size;
	} csv_sizes[64];
	/* The text of one day's file is made by one thread at a time (csv_make_lock), at most
	 * csv_max bytes; the files open at a time hold at most 2 * csv_max together. */
	pthread_mutex_t csv_make_lock;
	/* Files opened and not yet released: the ones still open when the mount ends get their
	 * close records then (no RELEASE comes after an unmount). */
	pthread_mutex_t open_lock;
	struct ofile *open_files;
	size_t csv_max;
	uint64_t csv_held;
	double cache_timeout; /* seconds, for windows that cannot change */
	bool splice; /* replies from file-descriptor buffers where they fit (not -o nosplice) */
	size_t pipe_max; /* /proc/sys/fs/pipe-max-size: the most a splice reply may take */
	int64_t mounted_ns;
	bool debug;
	struct prefetcher prefetch;

	/* The catalogue's content generation and whether an import runs, polled by the watcher
	 * thread (catalog_content_state): a settled window is cached only while neither moves;
	 * when one does, every cached window is revalidated and the kernel's caches of it
	 * dropped. */
	struct fuse_session *se;
	_Atomic int64_t content_gen;
	_Atomic bool importing;
	pthread_t watcher;
	bool watcher_started;
	pthread_mutex_t watch_lock;
	pthread_cond_t watch_cv;
	bool watch_stop;
};

/* One open file, a window or a day of the query log: what it serves and what the close
 * record needs. */
struct ofile {
	int refs;	   /* RELEASE's, and one per read in progress */
	struct snap *snap; /* a window */
	char *csv;	   /* /audit/<day>.csv: the text as of the open */
	size_t csv_size;
	int64_t event_id; /* the open's event id */
	char path[ACCESS_PATH_MAX + 1]; /* an /audit file's path; empty for a window */
	uint64_t bytes; /* served, updated atomically by concurrent reads */
	uint64_t ahead; /* segment bytes asked for up to this offset of the file (read_ahead) */
	uint64_t run_from; /* where the sequential run that reached it began */
	int64_t opened_ns;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	uint64_t ino;	/* a window's node, whose page cache it reads through (node_cache_open) */
	bool listed;	/* in fs->open_files: opened, not yet closed */
	bool closed;	/* closed: the close record is written when the last read is done */
	char close_reason[96];
	struct ofile *prev, *next;
	char user[IDENTITY_NAME_MAX];
	char device[DEVICE_NAME_MAX + 1];
	char window[WINDOW_NAME_BUF];
};

extern const struct fuse_lowlevel_ops pcapfs_ops;
/* After the session loop: the close records of the files still open. */
void pcapfs_close_open_files(struct pcapfs *fs);

/* ---- pcapfs-node.c ---- */

/* Node of (device, window), created if needed, with count one more kernel reference; 0
 * when the table is full. node_forget gives references back and frees the node at 0. */
uint64_t node_get(struct pcapfs *fs, int64_t dev, const struct window *w, bool count);
/* How an open of node ino serving snapshot s uses the kernel's page cache, which is the
 * node's, shared by every open of it: CACHE_KEEP (keep what it holds: the same bytes),
 * CACHE_FRESH (drop what it holds first), CACHE_STALE (open files read other bytes through
 * it: the open fails with ESTALE, and the kernel looks the name up again, getting a
 * snapshot node). A window's own node counts the first two until node_cache_close. */
enum cache_use { CACHE_STALE, CACHE_FRESH, CACHE_KEEP };
enum cache_use node_cache_open(struct pcapfs *fs, uint64_t ino, const struct snap *s);
void node_cache_close(struct pcapfs *fs, uint64_t ino);
/* The size and time of the content open files read through the page cache of a window's
 * own node; false when none is open. */
bool node_cache_attr(struct pcapfs *fs, uint64_t ino, uint64_t *size, int64_t *mtime_ns);
void node_forget(struct pcapfs *fs, uint64_t ino, uint64_t nlookup);
/* The hours of a device's listing (catalog_device_hours), whole only where their
 * attributes are final as window_attr would find them; *ret_gen the content generation
 * they were read at. -EIO (logged) when the catalogue fails. */
int device_hours_final(struct pcapfs *fs, int64_t dev, struct device_hour **ret, size_t *ret_n,
		       int64_t *ret_gen);
/* Keep a window's final size and time on its node, if the content generation is still gen;
 * false otherwise (or without a node). */
bool node_set_final(struct pcapfs *fs, uint64_t ino, uint64_t size, int64_t mtime_ns, int64_t gen);
/* The id of an hourly window without the table (0 when it has none of that form). */
uint64_t node_hour_ino(int64_t dev, const struct window *w);
/* The window of a node id (hourly ids decode without the table), and its own id (ino but
 * for a snapshot node; base may be NULL). */
bool node_lookup(struct pcapfs *fs, uint64_t ino, int64_t *dev, struct window *w, uint64_t *base);
struct wnode *node_find_locked(struct pcapfs *fs, uint64_t ino);

struct access_info {
	char user[IDENTITY_NAME_MAX];
	char device[DEVICE_NAME_MAX + 1];
	char reason[POLICY_REASON_MAX];
	bool exists; /* the device exists (a refusal of it is audited) */
	struct role_limits limits; /* the caller's window limits when allowed (0: none) */
};

/* May the caller of req read the device (by name, or by id when name is NULL)? 0, -ENOENT
 * (no such device, or not for this caller), -EACCES (PAM refuses), -EIO. info may be NULL. */
int check_device_info(struct pcapfs *fs, fuse_req_t req, const char *name, int64_t id,
		      int64_t *ret_id, struct access_info *info);
/* The same for a window of device id, also by the caller's role limits: -EACCES (with the
 * reason in info) for a window wider than the role may read or reaching too far back. */
int check_window_info(struct pcapfs *fs, fuse_req_t req, int64_t id, const struct window *w,
		      int64_t *ret_id, struct access_info *info);
/* May the caller of req read the audit log (/audit)? 0, -ENOENT (not for this caller: it
 * does not exist for them), -EACCES (PAM refuses), -EIO. info gets the user and reason. */
int check_audit(struct pcapfs *fs, fuse_req_t req, struct access_info *info);
/* The record of a refused LOOKUP: one per refused path walk (see pcapfs-node.c). */
int audit_refused_lookup(struct pcapfs *fs, struct audit_event *ev);
/* Record an access: one query-log row and one Linux audit record, with the same event id
 * (set in ev->id; 0 when the row waits to be written, see qlog_flush). ev->path NULL:
 * /pcap/<device>[/<window>]. Returns 0, or -EACCES when auditing is required and either
 * could not be written: the access must be refused, and what was written says so. */
int audit_access(struct pcapfs *fs, struct audit_event *ev);
/* Write the query-log rows kept for later (see struct pcapfs). With final (at unmount),
 * what still cannot be written is logged row by row and dropped. */
void qlog_flush(struct pcapfs *fs, bool final);
/* The query log's rows of one UTC day as CSV (malloc'd), and the size alone (cached;
 * -ENOENT for a day without rows). */
int audit_day_csv(struct pcapfs *fs, int64_t day, char **ret, size_t *ret_size);
int audit_day_size(struct pcapfs *fs, int64_t day, uint64_t *ret);
#define AUDIT_DAY_NS (86400 * NS_PER_SEC)
#define AUDIT_CSV_MAX ((size_t)512 << 20) /* default of -o audit_csv_max */
#define AUDIT_DAYS_MAX 36600

void dir_attr(struct pcapfs *fs, uint64_t ino, struct stat *st);
void file_attr(uint64_t ino, uint64_t size, int64_t mtime_ns, struct stat *st);
/* Attributes of node ino of a window: final ones when it cannot change, or a snapshot
 * node's; else from a fresh snapshot, handed to the caller in *ret_snap when not NULL. */
int window_attr(struct pcapfs *fs, uint64_t ino, int64_t dev, const struct window *w,
		struct stat *st, bool *immutable, struct snap **ret_snap);
/* The node a LOOKUP of a window hands the kernel (with one reference) and its attributes
 * (ep->ino, ep->attr): the window's own when its content is final, else a snapshot node.
 * *immutable: the window's own node, final. */
int window_entry(struct pcapfs *fs, int64_t dev, const struct window *w,
		 struct fuse_entry_param *ep, bool *immutable);
/* The snapshot an open of node ino serves (a reference): a snapshot node's, or the final
 * content of a window's own node. -ESTALE when the kernel's attributes of it may be out of
 * date (it looks the name up again), -EIO when the catalogue disagrees with the index. */
int window_open_snap(struct pcapfs *fs, uint64_t ino, int64_t dev, const struct window *w,
		     struct snap **ret);

void snap_unref(struct snap *s);
/* Read the content state once (at start, before the session runs: 0 or a negative errno),
 * then watch it from a thread until content_watch_stop. */
int content_state_poll(struct pcapfs *fs);
int content_watch_start(struct pcapfs *fs);
void content_watch_stop(struct pcapfs *fs);

/* pcapfs-prefetch.c. prefetch_ask (a plan_prefetch_fn, ctx the prefetcher) queues the
 * stretch [off, off + len) of the segment file fd for reading; it may drop it. Without the
 * threads (prefetch_start failed or never ran) it asks the kernel (POSIX_FADV_WILLNEED). */
int prefetch_start(struct prefetcher *pf);
void prefetch_stop(struct prefetcher *pf);
void prefetch_ask(void *ctx, int fd, uint64_t off, uint64_t len);
void pcapfs_nodes_free(struct pcapfs *fs);
/* Log one line to stderr (the journal when run by systemd), or to syslog (facility daemon)
 * once pcapfs_log_to_syslog was called: a mount gone to the background has no stderr. */
void pcapfs_log(const char *fmt, ...) _printf_(1, 2);
void pcapfs_log_to_syslog(void);

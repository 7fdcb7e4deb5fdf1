/* captured.h — pcapfs-captured, the capture daemon: what its threads share.
 *
 * Threads and their data (one of each per interface, plus two for the whole daemon):
 *
 *   capture thread  (capture.c)  pcap handle → copies records into batch buffers → queue
 *   writer thread   (sink.c)     queue → writer_write / flush / rotate, its own spool handle
 *   housekeeping    (house.c)    registry reload, statistics rows, retention; own spool
 *   main thread     (main.c)     signals, sd_notify READY/WATCHDOG/STATUS, start and stop
 *
 * The hot path is the capture thread: it touches no SQLite, allocates nothing per packet
 * (batches are preallocated, recycled through the queue's free list) and never waits on a
 * disk. When the writer falls behind, the queue fills and the capture thread waits for a
 * free batch while the kernel ring keeps buffering; what the kernel then drops is counted
 * in pcap_stats, so the figures stay honest.
 *
 * Registry changes: the housekeeping thread loads a new devmap when
 * catalog_registry_generation changes and publishes it (reference counted); each writer
 * thread swaps it in between two batches, so no packet is lost or classified by half a
 * registry. The last reference frees the old map. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "errbuf.h"
#include "writer.h"

#define IFACE_NAME_MAX 15 /* IFNAMSIZ - 1 */

/* ---- options ----------------------------------------------------------------------------- */

struct options {
	const char *spool;
	const char *ifaces[64];
	size_t n_ifaces;
	const char *filter; /* BPF, NULL: everything */
	bool promisc;
	uint32_t snaplen;	   /* 0: the spool's */
	uint64_t buffer_bytes;	   /* kernel ring per interface */
	uint64_t queue_bytes;	   /* batches per interface, in bytes */
	uint64_t batch_bytes;	   /* one batch */
	int64_t flush_ns;	   /* visibility bound */
	int64_t stats_ns;	   /* statistics sample period */
	int64_t stats_keep_ns;	   /* statistics rows older than this are pruned */
	int64_t retention_ns;	   /* retention pass period */
	int64_t max_age_ns;	   /* 0: no age limit */
	uint64_t max_bytes;	   /* 0: no size limit */
	double min_free_pct;	   /* 0: no free-space floor */
	int64_t retry_ns;	   /* interface reopen period */
	bool durable;
	bool buffered;	   /* no O_DIRECT for segment bytes */
	const char *user;
	int lock_timeout_ms;
	int verbose;
};

/* ---- logging (system.c) ------------------------------------------------------------------ */

enum { LOG_ERR_ = 3, LOG_WARN_ = 4, LOG_NOTICE_ = 5, LOG_INFO_ = 6, LOG_DEBUG_ = 7 };
extern int log_level;
void log_msg(int prio, const char *fmt, ...) _printf_(2, 3);
#define log_err(...) log_msg(LOG_ERR_, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN_, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE_, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO_, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG_, __VA_ARGS__)

/* ---- sd_notify, privileges, parsing (system.c) ----------------------------------------- */

/* Send a notification to the service manager when NOTIFY_SOCKET is set (else a no-op).
 * Returns 1 when sent, 0 when there is no manager, or a negative errno. */
int notify_send(const char *msg);
/* The watchdog period (WATCHDOG_USEC for this pid), 0 when not requested. */
int64_t notify_watchdog_ns(void);

/* Keep CAP_NET_RAW (reopening interfaces) and drop every other capability; with user, switch
 * to that user and its groups first. Must run before any thread starts (capabilities are
 * per thread). */
int privileges_drop(const char *user, struct errbuf *err);

void format_bytes(uint64_t b, char *buf, size_t size);
void format_time(int64_t ns, char *buf, size_t size);

/* ---- batches and the queue (sink.c) ----------------------------------------------------- */

/* A batch holds records back to back, each a struct batch_rec followed by caplen bytes and
 * padded to 8; all records of a batch share one link type. */
struct batch_rec {
	int64_t ts_ns;
	uint32_t caplen, len;
};
struct batch {
	struct batch *next;
	uint32_t linktype;
	uint32_t n;
	size_t len, cap;
	uint8_t *data;
};

/* Bounded single-producer single-consumer queue of full batches plus a free list. */
struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv_full, cv_free;
	struct batch *head, *tail, *free;
	size_t n_full, n_total;
	bool producer_done;
	bool consumer_done;
	struct batch *all;
};
int queue_init(struct queue *q, size_t n, size_t batch_bytes);
void queue_done(struct queue *q);
/* Capture side: a free batch, waiting at most timeout_ns; NULL on timeout or when the
 * consumer is gone. */
struct batch *queue_get_free(struct queue *q, int64_t timeout_ns);
void queue_push(struct queue *q, struct batch *b);
void queue_producer_finish(struct queue *q);
/* Writer side: the next full batch, waiting until deadline (mono ns); NULL on timeout or
 * when the producer finished and the queue is empty (*ret_eof then true). */
struct batch *queue_pop(struct queue *q, int64_t deadline_ns, bool *ret_eof);
void queue_put_free(struct queue *q, struct batch *b);
void queue_consumer_finish(struct queue *q);

/* ---- the daemon ------------------------------------------------------------------------ */

struct mapref {
	struct devmap *m;
	atomic_int refs;
};

struct daemon;

struct iface {
	struct daemon *d;
	char name[IFACE_NAME_MAX + 1];
	struct queue q;
	pthread_t cap_thread, wr_thread;
	bool cap_started, wr_started;

	/* capture thread's own state */
	void *pcap; /* pcap_t *, opened by main before privileges drop, then the thread's */
	int ifindex;
	char last_err[512];

	/* published by the capture thread */
	_Atomic uint64_t received, dropped, if_dropped; /* pcap_stats, summed over reopenings */
	_Atomic uint64_t packets, bytes;		/* captured; bytes = on-wire length */
	_Atomic uint64_t queue_waits;			/* times the queue was full */
	_Atomic uint64_t lost;				/* given up at shutdown */
	_Atomic bool up;				/* a handle is open */
	_Atomic int64_t cap_heartbeat, wr_heartbeat;	/* mono ns of the last loop */

	/* writer thread */
	struct spool *sp;
	struct writer *w;
	struct mapref *map;
	uint64_t map_gen;
	_Atomic uint64_t written, skipped;
	_Atomic bool paused;
};

struct daemon {
	struct options o;
	struct iface *ifs;
	size_t n_ifs;
	struct spool_config cfg; /* of the spool */
	atomic_bool stop;

	pthread_mutex_t map_mu;
	struct mapref *map;
	_Atomic uint64_t map_gen;

	/* housekeeping */
	pthread_t house_thread;
	bool house_started;
	pthread_mutex_t house_mu;
	pthread_cond_t house_cv;
	bool house_kick_retention, house_kick_reload, house_stop;
	_Atomic int64_t house_heartbeat;
	_Atomic uint64_t segments_removed;
	_Atomic bool space_low;
};

/* Reference counting of published devmaps. */
struct mapref *daemon_map_get(struct daemon *d);
void mapref_put(struct mapref *r);
/* Publish m (takes ownership). */
int daemon_map_publish(struct daemon *d, struct devmap *m);

/* capture.c */
int capture_open(struct iface *it, struct errbuf *err);
void *capture_thread(void *arg);

/* sink.c */
void *writer_thread(void *arg);

/* house.c: the thread's state is set up in the main thread (catalogue handle, interface
 * ids, the first registry), so that a failure stops the start. */
struct house;
struct house *house_new(struct daemon *d, struct errbuf *err);
void house_free(struct house *h);
void *house_thread(void *arg); /* arg: struct house * */
void house_kick(struct daemon *d, bool retention, bool reload);

/* plan.h — read plans: (device, window) -> the exact bytes of the pcap file that holds the
 * device's packets in the window, ordered by timestamp and merged across interfaces.
 *
 * A plan is built once per open from the catalogue (which segments) and the index files
 * (which records): its size is exact before the first byte is read, and it is a snapshot —
 * packets appended later are not in it, and the segment files it needs stay open, so it can
 * be read at any offset and length for as long as it lives. Building costs
 * O(segments × log(devices)) index reads plus O(k) for the k packets of the window; reading
 * costs one pread per run of records that lie close together in a segment. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "errbuf.h"
#include "pcapio.h"
#include "spool.h"
#include "window.h"

#define PLAN_DEFAULT_MAX_PACKETS (64u << 20)

/* Bytes of the output [out_off, out_off + len) come from segment seg at seg_off. */
struct plan_extent {
	uint64_t out_off;
	uint64_t seg_off;
	uint32_t len;
	uint32_t seg;
};

struct plan_segment {
	int fd;
	int64_t id;
	bool sealed;
};

struct plan {
	uint8_t header[PCAP_GLOBAL_HDR_LEN];
	uint64_t size;	  /* the whole file: header + records */
	uint64_t packets;
	int64_t t_first, t_last; /* first and last packet (0 when empty) */
	bool has_open;	  /* a segment involved is still being written */
	size_t n_whole;	  /* segments taken whole, their index entries not read */
	struct plan_segment *segs;
	size_t n_segs;
	struct plan_extent *ext;
	size_t n_ext;
};

/* Build the plan of device_id over w. max_packets bounds memory (-EFBIG beyond it).
 * cat_lock, when not NULL, is held while the catalogue is asked which segments (the
 * catalogue handle is one thread's at a time), not while their files are read.
 * Errors: -EBADMSG when a segment or index is corrupt (message names it), -EPROTO when the
 * window mixes link types that one pcap cannot hold. */
int plan_build(struct spool *sp, int64_t device_id, const struct window *w, size_t max_packets,
	       pthread_mutex_t *cat_lock, struct plan **ret, struct errbuf *err);
void plan_free(struct plan *p);

/* A digest of the bytes a plan serves: its header, and where each stretch of the output
 * comes from (segment id, offset, length). The records of a segment never change once
 * written and segment ids are never used twice (catalog.c), so two plans with the same
 * digest serve the same bytes. */
uint64_t plan_digest(const struct plan *p);

/* Copy up to len bytes at off into buf. Returns the count (0 at or past the end) or a
 * negative errno (-EIO when a segment is shorter than its index said). Thread-safe: a plan
 * can be read concurrently. */
ssize_t plan_read(const struct plan *p, void *buf, size_t len, uint64_t off, struct errbuf *err);

/* The bytes [off, off + len) (cut at the end) as runs: pieces of the global header (mem,
 * fd -1) and stretches contiguous in one segment file (fd, pos), for replies that the
 * kernel copies from the files itself (splice). Returns the number of runs, 0 when there is
 * nothing to read or it would take more than max. */
struct plan_run {
	int fd;
	uint64_t pos;
	size_t len;
	const void *mem;
};
size_t plan_runs(const struct plan *p, uint64_t off, size_t len, struct plan_run *runs, size_t max);

/* The stretches of segment files behind the output [off, off + len), for reading them into
 * memory before a sequential reader asks (its next requests then find them there): each
 * stretch goes to ask(ctx, fd, pos, len) in the order the output needs them; ask NULL has
 * the kernel start reading them (POSIX_FADV_WILLNEED). Advice only: looks at a bounded number
 * of extents, reads through small gaps, never past a segment's records the plan serves. */
typedef void plan_prefetch_fn(void *ctx, int fd, uint64_t pos, uint64_t len);
void plan_prefetch(const struct plan *p, uint64_t off, uint64_t len, plan_prefetch_fn *ask, void *ctx);

/* Write the whole file to fd (extract). */
int plan_write(const struct plan *p, int fd, struct errbuf *err);

/* segment.h — segment files: one valid classic pcap per interface and time slice, with its
 * index next to it (index.h).
 *
 * State machine of a segment (catalogue state in brackets):
 *
 *   create [OPEN] --append/flush--> ... --seal--> sealed index renamed in [OPEN]
 *        --catalog_segment_seal--> [SEALED]
 *
 * The writer holds an exclusive flock on the segment file for as long as it is open; an OPEN
 * segment whose file nobody has locked is orphaned (its writer died) and is recovered:
 *   1. records are walked from the end of the index's last valid chunk; a torn or invalid
 *      last record is cut off (ftruncate) — everything before it was flushed and is kept;
 *   2. the records after the last chunk are classified with the registry and indexed;
 *   3. the index is sealed.
 * A flush writes the segment bytes first and then the index chunk that covers them, so a
 * reader that sees a chunk always finds its bytes (index.h I4). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "classify.h"
#include "errbuf.h"
#include "index.h"
#include "pcapio.h"

struct segment_params {
	enum tsprec prec;
	uint32_t snaplen;
	uint32_t linktype;
	uint64_t max_bytes;  /* rotate before exceeding this (<= SEGMENT_MAX_BYTES) */
	size_t buffer_bytes; /* write buffer: a flush happens when it is full */
	/* Write the buffer with O_DIRECT (block-aligned writes from the buffer to the disk, no
	 * copy into the page cache), the unaligned tail of each flush through the page cache so
	 * that readers see every flushed record; silently buffered I/O where the file system
	 * refuses O_DIRECT (tmpfs). Not with segment_writer_append_ref. */
	bool direct;
};

struct segment_writer;

/* Create "<relpath>.pcap" and "<relpath>.idx" under dirfd (parent directories made as
 * needed), exclusively, with their headers, and lock the segment. */
int segment_writer_create(int dirfd, const char *relpath, uint64_t segment_id,
			  const struct segment_params *p, struct segment_writer **ret,
			  struct errbuf *err);

/* Append one record that belongs to the given devices. Buffered: no I/O unless the buffer is
 * full (then it flushes). Returns 0, -EFBIG if the record would take the segment past
 * max_bytes (the caller rotates first: see segment_writer_fits), or an I/O error. */
int segment_writer_append(struct segment_writer *w, int64_t ts_ns, uint32_t caplen, uint32_t len,
			  const uint8_t *data, const uint32_t *dev_ids, size_t n_dev,
			  struct errbuf *err);
bool segment_writer_fits(const struct segment_writer *w, uint32_t caplen);

/* The same for a record whose 16 + caplen bytes, exactly as this segment would store them
 * (same byte order and precision), sit at src_off in the file src_fd: they are copied file to
 * file inside the kernel at the next flush (copy_file_range), not through user memory.
 * Consecutive records of one source coalesce into one copy. src_fd must stay open and
 * unchanged until the next flush. */
int segment_writer_append_ref(struct segment_writer *w, int64_t ts_ns, uint32_t caplen,
			      uint32_t len, const uint8_t *data, const uint32_t *dev_ids,
			      size_t n_dev, int src_fd, uint64_t src_off, struct errbuf *err);

/* Write the buffered records, then the index chunk covering them. */
int segment_writer_flush(struct segment_writer *w, struct errbuf *err);

uint64_t segment_writer_id(const struct segment_writer *w);
bool segment_writer_direct(const struct segment_writer *w); /* O_DIRECT in effect */
uint64_t segment_writer_packets(const struct segment_writer *w);
uint64_t segment_writer_bytes(const struct segment_writer *w); /* incl. buffered */

/* Figures of a sealed segment, for the catalogue. */
struct segment_result {
	int64_t t_first, t_last;
	uint64_t packets, bytes;
	struct segment_device_summary *sums; /* malloc'd */
	size_t n_sums;
};
void segment_result_done(struct segment_result *r);

/* Flush, seal the index (write to a temporary file, optionally fsync both files, rename) and
 * fill ret. Returns 0 with w freed (*ret_freed true). When the flush fails (a full disk, an
 * I/O error) the error is returned with *ret_freed false and w untouched, its records still
 * buffered: the caller retries later or gives the writer up with segment_writer_release. A
 * failure after the flush frees w (*ret_freed true): every record is then in the segment
 * file, which stays OPEN for recovery. */
int segment_writer_seal(struct segment_writer *w, bool durable, struct segment_result *ret,
			bool *ret_freed, struct errbuf *err);
/* Close and unlink both files (rollback of an import). Accepts NULL. */
void segment_writer_abort(struct segment_writer *w);
/* Close the files, keep them (an OPEN segment that recovery completes) and free w; what is
 * still buffered is dropped. Accepts NULL. */
void segment_writer_release(struct segment_writer *w);

/* Walk the records of a segment in [from, to) (to = UINT64_MAX: to the end). cb gets each
 * record; a negative return stops the walk and is returned. The walk stops at the first
 * torn or invalid record: *ret_end is then the offset of the last good record's end, and the
 * return is 0 if only a torn tail (a record cut by the end of file) was found, -EBADMSG
 * with a message if a record is invalid. */
typedef int (*segment_record_cb)(int64_t ts_ns, uint64_t off, uint32_t caplen, uint32_t len,
				 const uint8_t *data, void *userdata);
int segment_walk(int fd, const struct pcap_ghdr *g, uint64_t from, uint64_t to,
		 segment_record_cb cb, void *userdata, uint64_t *ret_end, struct errbuf *err);

/* Open "<relpath>.pcap" read-only and parse its header. */
int segment_open_read(int dirfd, const char *relpath, int *ret_fd, struct pcap_ghdr *ret_g,
		      struct errbuf *err);
/* Parse the header of an open segment file (-EBADMSG with a message naming relpath). */
int segment_read_header(int fd, const char *relpath, struct pcap_ghdr *ret_g, struct errbuf *err);
/* Open "<relpath>.idx" read-only and a reader on it (the index of segment id). */
int segment_open_index(int dirfd, const char *relpath, uint64_t id, int seg_fd,
		       struct index_reader **ret, struct errbuf *err);

/* Open both files of a segment read-only and have the kernel start reading what a reader
 * needs first (the pcap header; the index's header and directory, its first
 * SEGMENT_PREFETCH_INDEX_HEAD bytes when sealed, all of a live index, whose chunk headers are
 * spread through it) without waiting for it: a caller about to read many segments opens them
 * all first, and their disk reads overlap instead of following each other. */
#define SEGMENT_PREFETCH_INDEX_HEAD (64u * 1024)
int segment_open_prefetch(int dirfd, const char *relpath, bool sealed, int *ret_pcap,
			  int *ret_idx, struct errbuf *err);

/* Summaries of every device in an index (sealed or live), for the catalogue. */
int segment_summarize(struct index_reader *r, struct segment_result *ret, struct errbuf *err);

enum segment_recover_result {
	SEGMENT_RECOVERED = 0, /* sealed now; ret filled */
	SEGMENT_EMPTY = 1,     /* no usable data: the caller removes it */
	SEGMENT_BUSY = 2,      /* a live writer holds it */
};
/* Recover an orphaned segment (see the state machine above), classifying unindexed records
 * with m. ret_truncated: bytes cut from a torn tail. Returns enum segment_recover_result or a
 * negative errno. */
int segment_recover(int dirfd, const char *relpath, uint64_t segment_id, const struct devmap *m,
		    bool durable, struct segment_result *ret, uint64_t *ret_truncated,
		    struct errbuf *err);

/* Rebuild a segment's index from scratch by classifying every record with m (reindex).
 * The segment must not be open for writing. */
int segment_reindex(int dirfd, const char *relpath, uint64_t segment_id, const struct devmap *m,
		    bool durable, struct segment_result *ret, struct errbuf *err);

/* Remove both files of a segment. */
int segment_unlink(int dirfd, const char *relpath);

/* writer.h — the write path of one interface: classify each packet, append it to the
 * interface's open segment, rotate on wall-clock-aligned time boundaries and on size, seal
 * finished segments into the catalogue. The same code serves offline import and live
 * capture.
 *
 * Cost per packet: one classification (hash lookups), one memcpy into the segment buffer,
 * one index entry per device. The catalogue is touched only when a segment opens or seals. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "classify.h"
#include "errbuf.h"
#include "spool.h"

struct writer_opts {
	const char *iface;   /* interface (capture source) name */
	int64_t import_id;   /* 0 for live capture */
	bool durable;	     /* fsync each segment when it is sealed */
	size_t buffer_bytes; /* segment write buffer (0: 8 MiB) */
	bool direct;	     /* segment bytes with O_DIRECT (segment_params.direct) */
};

struct writer_stats {
	uint64_t packets, bytes;  /* records written, and their bytes incl. headers */
	uint64_t unclassified;	  /* packets that belong to no registered device */
	uint64_t index_entries;	  /* device-packets indexed */
	uint64_t segments_sealed; /* segments completed */
};

struct writer;

/* Take the interface's lock (-EBUSY if another writer holds it), recover its orphaned
 * segments, and get ready. m is borrowed: it must outlive the writer (or be replaced with
 * writer_set_devmap). */
int writer_open(struct spool *sp, const struct writer_opts *o, const struct devmap *m,
		struct writer **ret, struct errbuf *err);

/* Write one packet. The record is copied; data may be reused after the call. Rotation:
 * a new segment starts when ts leaves the current segment's aligned period, the segment
 * would exceed its size limit, or the link type changes. */
int writer_write(struct writer *w, uint32_t linktype, int64_t ts_ns, uint32_t caplen,
		 uint32_t len, const uint8_t *data, struct errbuf *err);

/* The same for a record stored at src_off in the regular file src_fd exactly as a segment of
 * this spool stores it (little-endian classic pcap of the spool's precision): it is copied
 * file to file in the kernel (segment_writer_append_ref). Used by import. */
int writer_write_ref(struct writer *w, uint32_t linktype, int64_t ts_ns, uint32_t caplen,
		     uint32_t len, const uint8_t *data, int src_fd, uint64_t src_off,
		     struct errbuf *err);

/* Make everything written so far visible to readers (segment bytes, then index chunk). */
int writer_flush(struct writer *w, struct errbuf *err);

/* Seal the open segment (e.g. when its period has passed with no new packet). A failure to
 * write the buffered records keeps the segment open with its records (nothing is lost; call
 * again); a failure after that leaves an OPEN segment that recovery completes.
 * writer_write and writer_write_ref rotate through this, so after any failure of theirs
 * every record accepted before is still held, and the record passed was not taken. */
int writer_rotate(struct writer *w, struct errbuf *err);

/* The aligned period [*ret_start, *ret_end) of the open segment; false when none is open. */
bool writer_open_period(const struct writer *w, int64_t *ret_start, int64_t *ret_end);

void writer_set_devmap(struct writer *w, const struct devmap *m);
const struct writer_stats *writer_stats(const struct writer *w);

/* Seal the open segment and release the interface. Frees w whatever the outcome. */
int writer_close(struct writer *w, struct errbuf *err);
/* Drop the open segment (files and row) and release the interface: used to roll an import
 * back. The segments this writer already sealed are the caller's to remove. Accepts NULL. */
void writer_abort(struct writer *w);

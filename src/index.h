/* index.h — per-segment index files: which records of a segment belong to which device.
 *
 * One index file "<id>.idx" sits next to each segment "<id>.pcap". Byte-level format in
 * docs/formats.md; in short (all integers little-endian):
 *
 *   file header (64 bytes): magic "PCFSIDX\0", version, segment id, flags (SEALED), crc
 *   chunk* : chunk header (64 bytes, crc) | directory | entries
 *     directory: one 24-byte row per device present in the chunk, ascending device id:
 *                device id, entry count, first entry, run bytes, crc of the run's entries
 *     entries:   16 bytes each, grouped in runs by device in directory order, each run
 *                ordered by timestamp: ts_ns (i64), record offset (u32), cum (u32) =
 *                record bytes of the run before this entry
 *
 * Invariants (checked by every reader, asserted by the writer):
 *   I1 a chunk covers the segment bytes [seg_start, seg_end); chunk k+1 starts where chunk k
 *      ends; the first starts at 24 (after the pcap global header);
 *   I2 every entry's record [offset, offset + len) lies inside its chunk's byte range, where
 *      len = next cum - cum (the last entry of a run: run bytes - cum), len >= 17;
 *   I3 runs are ordered by ts; cum strictly increases;
 *   I4 a live file (flags without SEALED) is header + chunks appended once per flush, each
 *      written after the segment bytes it covers; a reader stops at the first chunk that is
 *      incomplete or fails its checksum and never trusts an entry past the segment's size;
 *   I5 a sealed file holds exactly one chunk covering [24, segment size); it replaces the
 *      live file atomically (rename) when the segment is sealed.
 * Size per device-packet: 16 bytes (plus 24 per device per chunk).
 *
 * The size of any (device, time range) inside a run is cum[j] - cum[i] after two binary
 * searches: no packet data is touched. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

#define INDEX_MAGIC "PCFSIDX"
#define INDEX_VERSION 1
#define INDEX_HDR_LEN 64u
#define INDEX_CHUNK_HDR_LEN 64u
#define INDEX_DIR_LEN 24u
#define INDEX_ENTRY_LEN 16u
#define INDEX_CHUNK_MAGIC 0x4b434350u /* "PCCK" */
#define INDEX_FLAG_SEALED 1u
/* Sealed files only: in every run, record offsets increase with the entries (the segment's
 * records are in time order), so a run holding every record of the segment is the segment's
 * bytes as they lie, and index_reader_whole can say so without reading the entries. */
#define INDEX_FLAG_ORDERED 2u
/* Segments are limited to 4 GiB - 1 so that offsets and cum fit 32 bits. */
#define SEGMENT_MAX_BYTES UINT32_MAX
/* The most devices and entries one chunk may declare; bounds what a hostile file can make us
 * allocate. */
#define INDEX_MAX_DEVICES (1u << 24)
#define INDEX_MAX_ENTRIES (1ull << 32)

/* One decoded index entry (what readers work with). */
struct index_entry {
	int64_t ts_ns;
	uint32_t offset; /* of the record header in the segment */
	uint32_t len;	 /* 16 + caplen */
};

/* A device's entries pending for the next chunk (writer side). */
struct index_pending {
	uint32_t device_id;
	uint32_t seq; /* arrival order, for a stable sort */
	struct index_entry e;
};

/* ---- writing --------------------------------------------------------------------------- */

/* Write a file header; flags: 0 (live) or INDEX_FLAG_SEALED, with INDEX_FLAG_ORDERED. */
void index_put_header(uint8_t out[INDEX_HDR_LEN], uint64_t segment_id, uint32_t flags);

/* Encode one chunk from pending entries (any order: they are grouped by device and sorted by
 * (ts, seq) here, in place). seg_start/seg_end: the segment bytes the chunk covers; packets,
 * t_min, t_max: count and time range of ALL records in them (classified or not; 0 when
 * there are none). Every entry must lie inside both ranges (-EINVAL otherwise).
 * Returns a malloc'd buffer in *ret and its length, or a negative errno. O(n log n). */
int index_encode_chunk(struct index_pending *p, size_t n, uint64_t seg_start, uint64_t seg_end,
		       uint64_t packets, int64_t t_min, int64_t t_max, uint8_t **ret,
		       size_t *ret_len);

/* ---- reading --------------------------------------------------------------------------- */

struct index_chunk_info {
	uint64_t file_off; /* of the chunk header */
	uint32_t n_devices;
	uint64_t n_entries;
	uint64_t seg_start, seg_end;
	uint64_t packets; /* records in [seg_start, seg_end), classified or not */
	int64_t t_min, t_max; /* time range of those records (0, 0 when none) */
};

struct index_reader;

/* Open an index file by fd (the reader keeps its own dup). seg_fd is the segment: its size is
 * taken after the chunk headers have been read, so that every chunk seen (written after the
 * bytes it covers, I4) is checked against bytes that exist; no chunk reaching past the
 * segment's size is used. Validates the file header, which must name segment_id (an index
 * of another segment is -EBADMSG), and walks the chunk headers:
 *   - sealed file: exactly one valid chunk ending at seg_size, else -EBADMSG (corrupt) with a
 *     message saying what is wrong and where;
 *   - live file: chunks up to the first incomplete or invalid one (I4).
 * Directories are read and checked (crc) lazily, per chunk, on first use. */
int index_reader_open(int fd, int seg_fd, uint64_t segment_id, struct index_reader **ret,
		      struct errbuf *err);
/* The same with the reader taking fd itself (closed with the reader, or at once on failure). */
int index_reader_adopt(int fd, int seg_fd, uint64_t segment_id, struct index_reader **ret,
		       struct errbuf *err);
/* The segment size the reader checked against. */
uint64_t index_reader_seg_size(const struct index_reader *r);
/* The segment bytes a live index's chunks claim to cover, read from the chunk headers alone
 * (each checked by its own checksum and chained to the one before), whatever the file
 * header and the directories hold: what a writer had accepted, for a recovery that finds
 * the index otherwise unusable. PCAP_GLOBAL_HDR_LEN when none is readable. */
uint64_t index_claimed_end(int fd);
void index_reader_free(struct index_reader *r);

bool index_reader_sealed(const struct index_reader *r);
size_t index_reader_chunks(const struct index_reader *r);
const struct index_chunk_info *index_reader_chunk(const struct index_reader *r, size_t k);
/* Bytes of the segment covered by valid chunks (seg_end of the last one, or 24). */
uint64_t index_reader_covered(const struct index_reader *r);

/* Have the kernel start reading the entries index_reader_collect will want for device_id in
 * [from_ns, until_ns), without waiting for them (loads the directories it needs). */
void index_reader_prefetch(struct index_reader *r, uint32_t device_id, int64_t from_ns,
			  int64_t until_ns);

/* A device's entries that are the whole segment: every record of [seg_start, seg_end), in
 * the order they lie, all with from_ns <= ts < until_ns. */
struct index_whole {
	uint64_t seg_start, len, packets;
	int64_t t_first, t_last;
};

/* Whether the entries index_reader_collect would give for device_id in [from_ns, until_ns)
 * are the whole segment, told from the checked file header, chunk header and directory
 * alone: a sealed, ordered file whose chunk lies inside the window and whose device row
 * holds every record and every byte of it. Returns 1 and fills *ret; 0 when the entries have
 * to be read; or a negative errno (the directory does not load). */
int index_reader_whole(struct index_reader *r, uint32_t device_id, int64_t from_ns,
		       int64_t until_ns, struct index_whole *ret, struct errbuf *err);

/* Append to *vec (a growable array: *vec, *n, *cap) the entries of device_id with
 * from_ns <= ts < until_ns, from all chunks, in chunk order. Verifies the directory and run
 * checksums and every entry (I2, I3) before using them: -EBADMSG with a message otherwise.
 * max_total bounds *n (-EFBIG beyond). */
int index_reader_collect(struct index_reader *r, uint32_t device_id, int64_t from_ns,
			 int64_t until_ns, struct index_entry **vec, size_t *n, size_t *cap,
			 size_t max_total, struct errbuf *err);

/* Iterate every device of every chunk: for each (chunk, device) run, cb gets the decoded,
 * verified entries. Used by seal, verify and summaries. */
int index_reader_foreach_run(struct index_reader *r,
			     int (*cb)(size_t chunk, uint32_t device_id, const struct index_entry *e,
				       size_t n, void *userdata),
			     void *userdata, struct errbuf *err);

/* Write a sealed index for segment_id covering [24, seg_size) to fd (at offset 0) from the
 * chunks of a live reader, merging each device's runs (by ts, stable), flagged ORDERED when
 * every run's offsets increase. Memory: one device's entries at a time. Returns 0 or a
 * negative errno. */
int index_write_sealed(struct index_reader *live, uint64_t segment_id, uint64_t seg_size,
		       int out_fd, struct errbuf *err);

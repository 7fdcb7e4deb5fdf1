/* index.c — encoding, reading, verifying and sealing index files (format in index.h and
 * docs/formats.md). Everything read from an index file is checked before it is used: a
 * corrupt index is reported (-EBADMSG with what and where), never followed. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "crc32c.h"
#include "index.h"
#include "pcapio.h"

/* The end of the timestamps a pcap record holds (2^32 s), the index's too. */
#define INDEX_TS_END ((INT64_C(1) << 32) * INT64_C(1000000000))

/* Fuzzing builds accept any checksum so that the fuzzer reaches the structural checks
 * behind them; every other check stays. */
static inline bool crc_bad(uint32_t stored, uint32_t computed)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	(void)stored;
	(void)computed;
	return false;
#else
	return stored != computed;
#endif
}

struct chunk_state {
	struct index_chunk_info info;
	uint32_t dir_crc; /* from the (checked) chunk header */
	uint8_t *dir;	  /* n_devices * INDEX_DIR_LEN, verified; NULL until loaded */
};

/* The first bytes of the file are read at once: the file header, a sealed file's chunk
 * header and, for a few hundred devices, its directory. */
#define INDEX_HEAD_READ 4096u

struct index_reader {
	int fd;
	bool sealed;
	bool ordered; /* INDEX_FLAG_ORDERED: load_run checks it of every run it loads */
	uint64_t seg_size;
	struct chunk_state *chunks;
	size_t n_chunks;
	uint8_t *head; /* the file's first head_len bytes, read after its size was taken */
	size_t head_len;
};

void index_put_header(uint8_t out[INDEX_HDR_LEN], uint64_t segment_id, uint32_t flags)
{
	memset(out, 0, INDEX_HDR_LEN);
	memcpy(out, INDEX_MAGIC, 8); /* includes the NUL */
	put_le32(out + 8, INDEX_VERSION);
	put_le32(out + 12, INDEX_HDR_LEN);
	put_le64(out + 16, segment_id);
	put_le32(out + 24, flags);
	put_le32(out + 28, INDEX_ENTRY_LEN);
	put_le32(out + 60, crc32c(0, out, 60));
}

static int pending_cmp(const void *a, const void *b)
{
	const struct index_pending *x = a, *y = b;
	if (x->device_id != y->device_id)
		return x->device_id < y->device_id ? -1 : 1;
	if (x->e.ts_ns != y->e.ts_ns)
		return x->e.ts_ns < y->e.ts_ns ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Group pending entries by device, ascending, each run ordered by (ts, seq). Entries arrive
 * in time order, so a stable counting sort on the device id does it in O(n + max id); a run
 * that is not in time order (the clock stepped back) is sorted on its own. Device ids are
 * catalogue row ids, dense and small; beyond COUNTING_MAX the general sort is used. */
#define COUNTING_MAX (1u << 22)
static int group_by_device(struct index_pending *p, size_t n)
{
	uint32_t max_id = 0;
	if (n == 0)
		return 0; /* p may be NULL: nothing was ever pending */
	for (size_t i = 0; i < n; i++)
		max_id = MAX(max_id, p[i].device_id);
	if (n < 64 || max_id >= COUNTING_MAX || max_id > 16 * n + 4096) {
		qsort(p, n, sizeof(*p), pending_cmp);
		return 0;
	}
	_cleanup_free_ uint32_t *start = calloc((size_t)max_id + 2, sizeof(uint32_t));
	_cleanup_free_ struct index_pending *tmp = malloc(n * sizeof(*tmp));
	if (!start || !tmp)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		start[p[i].device_id + 1]++;
	for (uint32_t id = 1; id <= max_id + 1; id++)
		start[id] += start[id - 1];
	for (size_t i = 0; i < n; i++)
		tmp[start[p[i].device_id]++] = p[i];
	memcpy(p, tmp, n * sizeof(*p));
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		bool sorted = true;
		while (j < n && p[j].device_id == p[i].device_id) {
			if (pending_cmp(&p[j - 1], &p[j]) > 0)
				sorted = false;
			j++;
		}
		if (!sorted)
			qsort(p + i, j - i, sizeof(*p), pending_cmp);
		i = j;
	}
	return 0;
}

static void put_chunk_header(uint8_t *h, uint32_t n_devices, uint64_t n_entries, uint64_t seg_start,
			     uint64_t seg_end, int64_t t_min, int64_t t_max, uint64_t packets,
			     uint32_t dir_crc)
{
	put_le32(h, INDEX_CHUNK_MAGIC);
	put_le32(h + 4, n_devices);
	put_le64(h + 8, n_entries);
	put_le64(h + 16, seg_start);
	put_le64(h + 24, seg_end);
	put_le64(h + 32, (uint64_t)t_min);
	put_le64(h + 40, (uint64_t)t_max);
	put_le64(h + 48, packets);
	put_le32(h + 56, dir_crc);
	put_le32(h + 60, crc32c(0, h, 60));
}

int index_encode_chunk(struct index_pending *p, size_t n, uint64_t seg_start, uint64_t seg_end,
		       uint64_t packets, int64_t t_min, int64_t t_max, uint8_t **ret,
		       size_t *ret_len)
{
	if (seg_start < PCAP_GLOBAL_HDR_LEN || seg_end < seg_start || seg_end > SEGMENT_MAX_BYTES)
		return -EINVAL;
	int g = group_by_device(p, n);
	if (g < 0)
		return g;

	size_t n_dev = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || p[i].device_id != p[i - 1].device_id)
			n_dev++;
	if (n_dev > INDEX_MAX_DEVICES)
		return -E2BIG;

	size_t len = INDEX_CHUNK_HDR_LEN + n_dev * INDEX_DIR_LEN + n * INDEX_ENTRY_LEN;
	uint8_t *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	uint8_t *dir = buf + INDEX_CHUNK_HDR_LEN;
	uint8_t *ent = dir + n_dev * INDEX_DIR_LEN;
	if ((packets == 0 && (n > 0 || t_min != 0 || t_max != 0)) || t_min < 0 || t_max >= INDEX_TS_END) {
		free(buf);
		return -EINVAL;
	}

	size_t d = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		uint64_t cum = 0;
		while (j < n && p[j].device_id == p[i].device_id) {
			const struct index_entry *e = &p[j].e;
			/* I2: the writer only indexes records it has placed in [seg_start, seg_end). */
			if (e->offset < seg_start || (uint64_t)e->offset + e->len > seg_end ||
			    e->len <= PCAP_REC_HDR_LEN || e->ts_ns < t_min || e->ts_ns > t_max) {
				free(buf);
				return -EINVAL;
			}
			uint8_t *q = ent + j * INDEX_ENTRY_LEN;
			put_le64(q, (uint64_t)e->ts_ns);
			put_le32(q + 8, e->offset);
			put_le32(q + 12, (uint32_t)cum);
			cum += e->len;
			j++;
		}
		uint8_t *row = dir + d * INDEX_DIR_LEN;
		put_le32(row, p[i].device_id);
		put_le32(row + 4, (uint32_t)(j - i));
		put_le64(row + 8, i);
		put_le32(row + 16, (uint32_t)cum);
		put_le32(row + 20, crc32c(0, ent + i * INDEX_ENTRY_LEN, (j - i) * INDEX_ENTRY_LEN));
		d++;
		i = j;
	}
	put_chunk_header(buf, (uint32_t)n_dev, n, seg_start, seg_end, t_min, t_max, packets,
			 crc32c(0, dir, n_dev * INDEX_DIR_LEN));
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* ---- reading ---------------------------------------------------------------------------- */

static int parse_chunk_header(const uint8_t *h, uint64_t off, uint64_t prev_end,
			      struct index_chunk_info *ret, struct errbuf *err)
{
	if (crc_bad(le32(h + 60), crc32c(0, h, 60)))
		return err_set(err, EBADMSG, "chunk at offset %" PRIu64 ": header checksum mismatch", off);
	if (le32(h) != INDEX_CHUNK_MAGIC)
		return err_set(err, EBADMSG, "chunk at offset %" PRIu64 ": bad magic 0x%08x", off, le32(h));
	ret->file_off = off;
	ret->n_devices = le32(h + 4);
	ret->n_entries = le64(h + 8);
	ret->seg_start = le64(h + 16);
	ret->seg_end = le64(h + 24);
	ret->t_min = (int64_t)le64(h + 32);
	ret->t_max = (int64_t)le64(h + 40);
	ret->packets = le64(h + 48);
	if (ret->n_devices > INDEX_MAX_DEVICES || ret->n_entries >= INDEX_MAX_ENTRIES ||
	    ret->n_devices > ret->n_entries)
		return err_set(err, EBADMSG,
			       "chunk at offset %" PRIu64 ": implausible counts (%u devices, %" PRIu64
			       " entries)",
			       off, ret->n_devices, ret->n_entries);
	if (ret->seg_start != prev_end || ret->seg_end < ret->seg_start ||
	    ret->seg_end > SEGMENT_MAX_BYTES)
		return err_set(err, EBADMSG,
			       "chunk at offset %" PRIu64 ": covers segment bytes [%" PRIu64 ", %" PRIu64
			       ") but the previous chunk ended at %" PRIu64,
			       off, ret->seg_start, ret->seg_end, prev_end);
	if (ret->packets < ret->n_entries / INDEX_MAX_DEVICES || ret->t_min > ret->t_max ||
	    (ret->packets == 0 && (ret->n_entries || ret->t_min || ret->t_max)))
		return err_set(err, EBADMSG, "chunk at offset %" PRIu64 ": time range reversed", off);
	/* Timestamps of pcap records: unsigned 32-bit seconds (1970 to 2106). */
	if (ret->t_min < 0 || ret->t_max >= INDEX_TS_END)
		return err_set(err, EBADMSG, "chunk at offset %" PRIu64 ": time range outside "
			       "1970..2106", off);
	/* Each record is at least 17 bytes: more entries than that per device cannot be. */
	if (ret->n_entries > (ret->seg_end - ret->seg_start) / (PCAP_REC_HDR_LEN + 1) * INDEX_MAX_DEVICES)
		return err_set(err, EBADMSG, "chunk at offset %" PRIu64 ": too many entries", off);
	return 0;
}

static uint64_t chunk_len(const struct index_chunk_info *c)
{
	return INDEX_CHUNK_HDR_LEN + (uint64_t)c->n_devices * INDEX_DIR_LEN +
	       c->n_entries * INDEX_ENTRY_LEN;
}

uint64_t index_claimed_end(int fd)
{
	struct stat st;
	uint64_t off = INDEX_HDR_LEN, end = PCAP_GLOBAL_HDR_LEN;
	if (fstat(fd, &st) < 0)
		return end;
	while (off + INDEX_CHUNK_HDR_LEN <= (uint64_t)st.st_size) {
		uint8_t ch[INDEX_CHUNK_HDR_LEN];
		struct index_chunk_info info;
		struct errbuf err;
		if (pread_full(fd, ch, sizeof(ch), off) != (ssize_t)sizeof(ch) ||
		    parse_chunk_header(ch, off, end, &info, &err) < 0)
			break;
		end = info.seg_end;
		off += chunk_len(&info);
	}
	return end;
}

void index_reader_free(struct index_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_chunks; i++)
		free(r->chunks[i].dir);
	free(r->chunks);
	free(r->head);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

int index_reader_open(int fd, int seg_fd, uint64_t segment_id, struct index_reader **ret,
		      struct errbuf *err)
{
	int own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (own < 0)
		return err_set(err, errno, "dup: %s", strerror(errno));
	return index_reader_adopt(own, seg_fd, segment_id, ret, err);
}

/* Bytes [off, off + len) of the file: from the head read at open when they lie in it. */
static ssize_t read_at(const struct index_reader *r, void *buf, size_t len, uint64_t off)
{
	if (off <= r->head_len && len <= r->head_len - off) {
		memcpy(buf, r->head + off, len);
		return (ssize_t)len;
	}
	return pread_full(r->fd, buf, len, off);
}

int index_reader_adopt(int fd, int seg_fd, uint64_t segment_id, struct index_reader **ret,
		       struct errbuf *err)
{
	struct index_reader *r = calloc(1, sizeof(*r));
	if (!r) {
		close(fd);
		return -ENOMEM;
	}
	r->fd = fd;
	int e;
	struct stat st;
	if (fstat(r->fd, &st) < 0) {
		e = err_set(err, errno, "fstat: %s", strerror(errno));
		goto fail;
	}
	uint64_t file_size = (uint64_t)st.st_size;
	r->head = malloc(INDEX_HEAD_READ);
	if (!r->head) {
		e = -ENOMEM;
		goto fail;
	}
	ssize_t n = pread_full(r->fd, r->head, (size_t)MIN(file_size, (uint64_t)INDEX_HEAD_READ), 0);
	if (n < 0) {
		e = err_set(err, (int)-n, "read: %s", strerror((int)-n));
		goto fail;
	}
	r->head_len = (size_t)n;
	const uint8_t *h = r->head;
	if (n < (ssize_t)INDEX_HDR_LEN) {
		e = err_set(err, EBADMSG, "truncated file header (%zd of %u bytes)", n, INDEX_HDR_LEN);
		goto fail;
	}
	if (memcmp(h, INDEX_MAGIC, 8) != 0) {
		e = err_set(err, EBADMSG, "not a pcapfs index file (bad magic)");
		goto fail;
	}
	if (crc_bad(le32(h + 60), crc32c(0, h, 60))) {
		e = err_set(err, EBADMSG, "file header checksum mismatch");
		goto fail;
	}
	if (le32(h + 8) != INDEX_VERSION) {
		e = err_set(err, EBADMSG, "unsupported index version %u (this pcapfs reads %u)",
			    le32(h + 8), INDEX_VERSION);
		goto fail;
	}
	uint32_t flags = le32(h + 24);
	if (le32(h + 12) != INDEX_HDR_LEN || le32(h + 28) != INDEX_ENTRY_LEN ||
	    (flags & ~(INDEX_FLAG_SEALED | INDEX_FLAG_ORDERED)) ||
	    flags == INDEX_FLAG_ORDERED) {
		e = err_set(err, EBADMSG, "unsupported header layout or flags");
		goto fail;
	}
	r->sealed = flags & INDEX_FLAG_SEALED;
	r->ordered = flags & INDEX_FLAG_ORDERED;
	if (le64(h + 16) != segment_id) {
		e = err_set(err, EBADMSG, "index belongs to segment %" PRIu64 ", not %" PRIu64,
			    le64(h + 16), segment_id);
		goto fail;
	}

	size_t cap = 0;
	uint64_t off = INDEX_HDR_LEN, prev_end = PCAP_GLOBAL_HDR_LEN;
	struct errbuf chunk_err = {{0}};
	bool stopped = false;
	while (off < file_size) {
		uint8_t ch[INDEX_CHUNK_HDR_LEN];
		struct index_chunk_info info;
		n = read_at(r, ch, sizeof(ch), off);
		if (n < 0) {
			e = err_set(err, (int)-n, "read: %s", strerror((int)-n));
			goto fail;
		}
		if (n < (ssize_t)sizeof(ch)) {
			err_set(&chunk_err, EBADMSG, "truncated chunk header at offset %" PRIu64, off);
			stopped = true;
			break;
		}
		if (parse_chunk_header(ch, off, prev_end, &info, &chunk_err) < 0) {
			stopped = true;
			break;
		}
		if (off + chunk_len(&info) > file_size) {
			err_set(&chunk_err, EBADMSG,
				"chunk at offset %" PRIu64 " is truncated (%" PRIu64 " bytes, file has %" PRIu64
				")",
				off, chunk_len(&info), file_size - off);
			stopped = true;
			break;
		}
		if (r->n_chunks == cap) {
			cap = cap ? cap * 2 : 8;
			struct chunk_state *nc = realloc(r->chunks, cap * sizeof(*nc));
			if (!nc) {
				e = -ENOMEM;
				goto fail;
			}
			r->chunks = nc;
		}
		r->chunks[r->n_chunks++] = (struct chunk_state){.info = info, .dir_crc = le32(ch + 56)};
		off += chunk_len(&info);
		prev_end = info.seg_end;
	}

	if (fstat(seg_fd, &st) < 0) {
		e = err_set(err, errno, "fstat segment: %s", strerror(errno));
		goto fail;
	}
	r->seg_size = (uint64_t)st.st_size;
	/* I4: drop chunks that claim segment bytes that are not there. */
	while (r->n_chunks > 0 && r->chunks[r->n_chunks - 1].info.seg_end > r->seg_size) {
		if (r->sealed) {
			e = err_set(err, EBADMSG,
				    "index covers %" PRIu64 " segment bytes but the segment has %" PRIu64,
				    r->chunks[r->n_chunks - 1].info.seg_end, r->seg_size);
			goto fail;
		}
		r->n_chunks--;
	}
	if (r->sealed) {
		if (stopped) {
			e = err_set(err, EBADMSG, "%s", chunk_err.msg);
			goto fail;
		}
		if (r->n_chunks != 1 || r->chunks[0].info.seg_end != r->seg_size) {
			e = err_set(err, EBADMSG,
				    "sealed index must hold one chunk covering the whole segment "
				    "(%zu chunks, covering %" PRIu64 " of %" PRIu64 " bytes)",
				    r->n_chunks, index_reader_covered(r), r->seg_size);
			goto fail;
		}
	}
	*ret = r;
	return 0;
fail:
	index_reader_free(r);
	return e;
}

bool index_reader_sealed(const struct index_reader *r) { return r->sealed; }
size_t index_reader_chunks(const struct index_reader *r) { return r->n_chunks; }
uint64_t index_reader_seg_size(const struct index_reader *r) { return r->seg_size; }

const struct index_chunk_info *index_reader_chunk(const struct index_reader *r, size_t k)
{
	return k < r->n_chunks ? &r->chunks[k].info : NULL;
}

uint64_t index_reader_covered(const struct index_reader *r)
{
	return r->n_chunks ? r->chunks[r->n_chunks - 1].info.seg_end : PCAP_GLOBAL_HDR_LEN;
}

/* Load and verify a chunk's directory: checksum, ascending unique ids, runs laid out
 * contiguously in directory order and adding up to the chunk's entries. */
static int load_dir(struct index_reader *r, size_t k, struct errbuf *err)
{
	struct chunk_state *c = &r->chunks[k];
	if (c->dir)
		return 0;
	size_t len = (size_t)c->info.n_devices * INDEX_DIR_LEN;
	uint8_t *dir = malloc(len ? len : 1);
	if (!dir)
		return -ENOMEM;
	ssize_t n = read_at(r, dir, len, c->info.file_off + INDEX_CHUNK_HDR_LEN);
	if (n != (ssize_t)len) {
		free(dir);
		return n < 0 ? err_set(err, (int)-n, "read: %s", strerror((int)-n))
			     : err_set(err, EBADMSG, "chunk %zu: directory truncated", k);
	}
	if (crc_bad(c->dir_crc, crc32c(0, dir, len))) {
		free(dir);
		return err_set(err, EBADMSG, "chunk %zu: directory checksum mismatch", k);
	}
	uint64_t next = 0;
	uint64_t span = c->info.seg_end - c->info.seg_start;
	for (uint32_t i = 0; i < c->info.n_devices; i++) {
		const uint8_t *row = dir + (size_t)i * INDEX_DIR_LEN;
		uint32_t id = le32(row), count = le32(row + 4);
		if ((i > 0 && id <= le32(row - INDEX_DIR_LEN)) || id == 0 || count == 0 ||
		    le64(row + 8) != next || le32(row + 16) > span ||
		    (uint64_t)count * (PCAP_REC_HDR_LEN + 1) > le32(row + 16)) {
			free(dir);
			return err_set(err, EBADMSG, "chunk %zu: directory row %u (device %u) is inconsistent",
				       k, i, id);
		}
		next += count;
	}
	if (next != c->info.n_entries) {
		free(dir);
		return err_set(err, EBADMSG, "chunk %zu: runs add up to %" PRIu64 " entries, header says %" PRIu64,
			       k, next, c->info.n_entries);
	}
	c->dir = dir;
	return 0;
}

static const uint8_t *find_row(const struct chunk_state *c, uint32_t device_id)
{
	size_t lo = 0, hi = c->info.n_devices;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t id = le32(c->dir + mid * INDEX_DIR_LEN);
		if (id == device_id)
			return c->dir + mid * INDEX_DIR_LEN;
		if (id < device_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Where a directory row's run of entries starts in the file. */
static uint64_t run_offset(const struct index_chunk_info *c, const uint8_t *row)
{
	return c->file_off + INDEX_CHUNK_HDR_LEN + (uint64_t)c->n_devices * INDEX_DIR_LEN +
	       le64(row + 8) * INDEX_ENTRY_LEN;
}

/* Chunk k's directory row of device_id, when the chunk may hold entries in [from_ns,
 * until_ns) and has a row for it; NULL otherwise, and then *e < 0 if the directory did not
 * load. */
static const uint8_t *wanted_row(struct index_reader *r, size_t k, uint32_t device_id,
				 int64_t from_ns, int64_t until_ns, int *e, struct errbuf *err)
{
	const struct index_chunk_info *c = &r->chunks[k].info;
	*e = 0;
	if (c->n_entries == 0 || c->t_max < from_ns || c->t_min >= until_ns)
		return NULL;
	*e = load_dir(r, k, err);
	return *e < 0 ? NULL : find_row(&r->chunks[k], device_id);
}

/* Read, checksum and decode one run into out[0..count), checking I2 and I3. */
static int load_run(struct index_reader *r, size_t k, const uint8_t *row, struct index_entry *out,
		    struct errbuf *err)
{
	const struct index_chunk_info *c = &r->chunks[k].info;
	uint32_t id = le32(row), count = le32(row + 4), bytes = le32(row + 16);
	size_t len = (size_t)count * INDEX_ENTRY_LEN;
	_cleanup_free_ uint8_t *raw = malloc(len);
	if (!raw)
		return -ENOMEM;
	ssize_t n = pread_full(r->fd, raw, len, run_offset(c, row));
	if (n != (ssize_t)len)
		return n < 0 ? err_set(err, (int)-n, "read: %s", strerror((int)-n))
			     : err_set(err, EBADMSG, "chunk %zu: run of device %u truncated", k, id);
	if (crc_bad(le32(row + 20), crc32c(0, raw, len)))
		return err_set(err, EBADMSG, "chunk %zu: entries of device %u fail their checksum", k, id);
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *q = raw + (size_t)i * INDEX_ENTRY_LEN;
		int64_t ts = (int64_t)le64(q);
		uint32_t off = le32(q + 8), cum = le32(q + 12);
		uint32_t next = i + 1 < count ? le32(q + INDEX_ENTRY_LEN + 12) : bytes;
		if ((i == 0 && cum != 0) || next <= cum || next - cum <= PCAP_REC_HDR_LEN ||
		    off < c->seg_start || (uint64_t)off + (next - cum) > c->seg_end ||
		    ts < c->t_min || ts > c->t_max || (i > 0 && ts < out[i - 1].ts_ns) ||
		    (r->ordered && i > 0 && off <= out[i - 1].offset))
			return err_set(err, EBADMSG, "chunk %zu: entry %u of device %u is inconsistent", k,
				       i, id);
		out[i] = (struct index_entry){.ts_ns = ts, .offset = off, .len = next - cum};
	}
	return 0;
}

static int vec_reserve(struct index_entry **vec, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t nc = MAX(need, *cap ? *cap * 2 : 1024);
	struct index_entry *nv = realloc(*vec, nc * sizeof(**vec));
	if (!nv)
		return -ENOMEM;
	*vec = nv;
	*cap = nc;
	return 0;
}

void index_reader_prefetch(struct index_reader *r, uint32_t device_id, int64_t from_ns,
			  int64_t until_ns)
{
	struct errbuf ignored;
	for (size_t k = 0; k < r->n_chunks; k++) {
		int e; /* a directory that does not load is reported by the collect that follows */
		const uint8_t *row = wanted_row(r, k, device_id, from_ns, until_ns, &e, &ignored);
		if (row)
			(void)posix_fadvise(r->fd, (off_t)run_offset(&r->chunks[k].info, row),
					    (off_t)le32(row + 4) * INDEX_ENTRY_LEN, POSIX_FADV_WILLNEED);
	}
}

int index_reader_whole(struct index_reader *r, uint32_t device_id, int64_t from_ns,
		       int64_t until_ns, struct index_whole *ret, struct errbuf *err)
{
	if (!r->ordered) /* ORDERED only comes with SEALED: exactly one chunk */
		return 0;
	const struct index_chunk_info *c = &r->chunks[0].info;
	if (c->packets == 0 || c->t_min < from_ns || c->t_max >= until_ns)
		return 0;
	int e;
	const uint8_t *row = wanted_row(r, 0, device_id, from_ns, until_ns, &e, err);
	if (!row)
		return e;
	/* Every record (entries are distinct records, one per packet and device) and every
	 * byte: the run tiles [seg_start, seg_end), in file order since the file is ordered. */
	if (le32(row + 4) != c->packets || le32(row + 16) != c->seg_end - c->seg_start)
		return 0;
	*ret = (struct index_whole){.seg_start = c->seg_start, .len = c->seg_end - c->seg_start,
				    .packets = c->packets, .t_first = c->t_min, .t_last = c->t_max};
	return 1;
}

int index_reader_collect(struct index_reader *r, uint32_t device_id, int64_t from_ns,
			 int64_t until_ns, struct index_entry **vec, size_t *n, size_t *cap,
			 size_t max_total, struct errbuf *err)
{
	for (size_t k = 0; k < r->n_chunks; k++) {
		int e;
		const uint8_t *row = wanted_row(r, k, device_id, from_ns, until_ns, &e, err);
		if (e < 0)
			return e;
		if (!row)
			continue;
		uint32_t count = le32(row + 4);
		/* The whole run is read (its checksum covers all of it), only the window's part
		 * counts against max_total. */
		e = vec_reserve(vec, cap, *n + count);
		if (e < 0)
			return e;
		struct index_entry *run = *vec + *n;
		e = load_run(r, k, row, run, err);
		if (e < 0)
			return e;
		/* The run is sorted by ts: keep [from, until) by two binary searches. */
		size_t lo = 0, hi = count;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (run[mid].ts_ns < from_ns)
				lo = mid + 1;
			else
				hi = mid;
		}
		size_t first = lo;
		hi = count;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (run[mid].ts_ns < until_ns)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (*n + (lo - first) > max_total)
			return err_set(err, EFBIG, "more than %zu packets in the window", max_total);
		if (first > 0)
			memmove(run, run + first, (lo - first) * sizeof(*run));
		*n += lo - first;
	}
	return 0;
}

int index_reader_foreach_run(struct index_reader *r,
			     int (*cb)(size_t chunk, uint32_t device_id, const struct index_entry *e,
				       size_t n, void *userdata),
			     void *userdata, struct errbuf *err)
{
	for (size_t k = 0; k < r->n_chunks; k++) {
		int e = load_dir(r, k, err);
		if (e < 0)
			return e;
		const struct chunk_state *c = &r->chunks[k];
		for (uint32_t i = 0; i < c->info.n_devices; i++) {
			const uint8_t *row = c->dir + (size_t)i * INDEX_DIR_LEN;
			uint32_t count = le32(row + 4);
			_cleanup_free_ struct index_entry *run = malloc((size_t)count * sizeof(*run));
			if (!run)
				return -ENOMEM;
			e = load_run(r, k, row, run, err);
			if (e < 0)
				return e;
			e = cb(k, le32(row), run, count, userdata);
			if (e < 0)
				return e;
		}
	}
	return 0;
}

/* ---- sealing ----------------------------------------------------------------------------- */

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

struct seq_entry {
	struct index_entry e;
	uint64_t seq;
};

static int seq_cmp(const void *a, const void *b)
{
	const struct seq_entry *x = a, *y = b;
	if (x->e.ts_ns != y->e.ts_ns)
		return x->e.ts_ns < y->e.ts_ns ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Put a device's entries (gathered chunk by chunk) in timestamp order, stable. Runs are
 * sorted and chunks follow each other in time, so this is a linear check unless the clock
 * stepped back between two chunks. */
static int sort_stable(struct index_entry *v, size_t n)
{
	size_t i = 1;
	while (i < n && v[i].ts_ns >= v[i - 1].ts_ns)
		i++;
	if (i >= n)
		return 0;
	struct seq_entry *s = malloc(n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++)
		s[k] = (struct seq_entry){v[k], k};
	qsort(s, n, sizeof(*s), seq_cmp);
	for (size_t k = 0; k < n; k++)
		v[k] = s[k].e;
	free(s);
	return 0;
}

/* Whether offsets increase along entries (records in time order in the file). */
static bool offsets_increase(const struct index_entry *e, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (e[i].offset <= e[i - 1].offset)
			return false;
	return true;
}

static int check_order(size_t chunk, uint32_t device_id, const struct index_entry *e, size_t n,
		       void *userdata)
{
	(void)chunk;
	(void)device_id;
	bool *ordered = userdata;
	*ordered = *ordered && offsets_increase(e, n);
	return 0;
}

int index_write_sealed(struct index_reader *live, uint64_t segment_id, uint64_t seg_size,
		       int out_fd, struct errbuf *err)
{
	if (index_reader_covered(live) != seg_size)
		return err_set(err, EINVAL,
			       "index covers %" PRIu64 " of %" PRIu64 " segment bytes; cannot seal",
			       index_reader_covered(live), seg_size);

	/* One chunk already is a sealed chunk (I5): copy it verbatim, checksums included, after
	 * checking its directory. One read and one write instead of one per device. */
	if (live->n_chunks == 1) {
		const struct index_chunk_info *c = &live->chunks[0].info;
		/* Every run is checked (checksum, I2, I3) before it is sealed as it is. */
		bool ordered = true;
		int e = index_reader_foreach_run(live, check_order, &ordered, err);
		if (e < 0)
			return e;
		uint64_t len = chunk_len(c);
		_cleanup_free_ uint8_t *buf = malloc(INDEX_HDR_LEN + len);
		if (!buf)
			return -ENOMEM;
		index_put_header(buf, segment_id,
				 INDEX_FLAG_SEALED | (ordered ? INDEX_FLAG_ORDERED : 0));
		ssize_t n = pread_full(live->fd, buf + INDEX_HDR_LEN, len, c->file_off);
		if (n != (ssize_t)len)
			return n < 0 ? err_set(err, (int)-n, "read: %s", strerror((int)-n))
				     : err_set(err, EBADMSG, "chunk 0 truncated");
		e = pwrite_full(out_fd, buf, INDEX_HDR_LEN + len, 0);
		if (e == 0 && ftruncate(out_fd, (off_t)(INDEX_HDR_LEN + len)) < 0)
			e = -errno;
		return e < 0 ? err_set(err, -e, "write: %s", strerror(-e)) : 0;
	}

	/* Pass 1: the union of devices, with counts and bytes from the directories. */
	size_t n_ids = 0, cap_ids = 0;
	_cleanup_free_ uint32_t *ids = NULL;
	uint64_t packets = 0;
	int64_t t_min = INT64_MAX, t_max = INT64_MIN;
	for (size_t k = 0; k < live->n_chunks; k++) {
		int e = load_dir(live, k, err);
		if (e < 0)
			return e;
		const struct chunk_state *c = &live->chunks[k];
		packets += c->info.packets;
		if (c->info.packets) {
			t_min = MIN(t_min, c->info.t_min);
			t_max = MAX(t_max, c->info.t_max);
		}
		for (uint32_t i = 0; i < c->info.n_devices; i++) {
			if (n_ids == cap_ids) {
				cap_ids = cap_ids ? cap_ids * 2 : 256;
				uint32_t *ni = realloc(ids, cap_ids * sizeof(*ni));
				if (!ni)
					return -ENOMEM;
				ids = ni;
			}
			ids[n_ids++] = le32(c->dir + (size_t)i * INDEX_DIR_LEN);
		}
	}
	if (n_ids)
		qsort(ids, n_ids, sizeof(*ids), u32_cmp); /* ids is NULL when no chunk names a device */
	size_t n_dev = 0;
	for (size_t i = 0; i < n_ids; i++)
		if (i == 0 || ids[i] != ids[n_dev - 1])
			ids[n_dev++] = ids[i];
	if (t_min > t_max)
		t_min = t_max = 0;

	_cleanup_free_ uint8_t *dir = calloc(n_dev ? n_dev : 1, INDEX_DIR_LEN);
	if (!dir)
		return -ENOMEM;
	uint64_t entries_off = INDEX_HDR_LEN + INDEX_CHUNK_HDR_LEN + (uint64_t)n_dev * INDEX_DIR_LEN;
	uint64_t total = 0;
	struct index_entry *vec = NULL;
	size_t cap = 0;
	uint8_t *raw = NULL;
	size_t raw_cap = 0;
	int e = 0;
	bool ordered = true;

	/* Pass 2: one device at a time, gather its runs, merge, encode, write. */
	for (size_t d = 0; d < n_dev; d++) {
		size_t n = 0;
		e = index_reader_collect(live, ids[d], INT64_MIN, INT64_MAX, &vec, &n, &cap, SIZE_MAX, err);
		if (e < 0)
			goto out;
		e = sort_stable(vec, n);
		if (e < 0)
			goto out;
		ordered = ordered && offsets_increase(vec, n);
		if (n * INDEX_ENTRY_LEN > raw_cap) {
			uint8_t *nr = realloc(raw, n * INDEX_ENTRY_LEN);
			if (!nr) {
				e = -ENOMEM;
				goto out;
			}
			raw = nr;
			raw_cap = n * INDEX_ENTRY_LEN;
		}
		uint64_t cum = 0;
		for (size_t i = 0; i < n; i++) {
			uint8_t *q = raw + i * INDEX_ENTRY_LEN;
			put_le64(q, (uint64_t)vec[i].ts_ns);
			put_le32(q + 8, vec[i].offset);
			put_le32(q + 12, (uint32_t)cum);
			cum += vec[i].len;
		}
		if (cum > SEGMENT_MAX_BYTES) {
			e = err_set(err, EBADMSG, "device %u: run bytes overflow", ids[d]);
			goto out;
		}
		uint8_t *row = dir + d * INDEX_DIR_LEN;
		put_le32(row, ids[d]);
		put_le32(row + 4, (uint32_t)n);
		put_le64(row + 8, total);
		put_le32(row + 16, (uint32_t)cum);
		put_le32(row + 20, crc32c(0, raw, n * INDEX_ENTRY_LEN));
		e = pwrite_full(out_fd, raw, n * INDEX_ENTRY_LEN, entries_off + total * INDEX_ENTRY_LEN);
		if (e < 0) {
			err_set(err, -e, "write: %s", strerror(-e));
			goto out;
		}
		total += n;
	}

	uint8_t head[INDEX_HDR_LEN + INDEX_CHUNK_HDR_LEN];
	index_put_header(head, segment_id, INDEX_FLAG_SEALED | (ordered ? INDEX_FLAG_ORDERED : 0));
	put_chunk_header(head + INDEX_HDR_LEN, (uint32_t)n_dev, total, PCAP_GLOBAL_HDR_LEN, seg_size,
			 t_min, t_max, packets, crc32c(0, dir, n_dev * INDEX_DIR_LEN));
	e = pwrite_full(out_fd, dir, n_dev * INDEX_DIR_LEN, INDEX_HDR_LEN + INDEX_CHUNK_HDR_LEN);
	if (e == 0)
		e = pwrite_full(out_fd, head, sizeof(head), 0);
	if (e == 0 && ftruncate(out_fd, (off_t)(entries_off + total * INDEX_ENTRY_LEN)) < 0)
		e = -errno;
	if (e < 0)
		err_set(err, -e, "write: %s", strerror(-e));
out:
	free(vec);
	free(raw);
	return e;
}

/* segment.c — writing, walking, sealing and recovering segment files (state machine in
 * segment.h). The write path does one memcpy per record into a large buffer and one
 * write(2) per buffer; index entries go to a pending array that is encoded as one chunk per
 * flush. Nothing here allocates per packet (the pending array grows by doubling). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "segment.h"

#define WALK_BUF (4u << 20)
#define DIRECT_ALIGN 4096 /* O_DIRECT offsets, lengths and addresses */
#define REBUILD_CHUNK_BYTES (8u << 20) /* records per chunk when (re)indexing */

struct segment_writer {
	int dirfd;
	char relpath[256];
	uint64_t id;
	int fd, idx_fd;
	struct segment_params p;

	uint8_t *buf;
	size_t buf_len;
	/* Direct mode (dfd >= 0): buf[0, carry) holds the file's last carry bytes (written,
	 * from the block boundary written - carry), buf[carry, carry + buf_len) what is new, so
	 * that every O_DIRECT write starts on a block boundary from an aligned address. */
	int dfd;
	size_t carry;
	/* Records appended by reference: [ref_off, ref_off + ref_len) of ref_fd, copied into
	 * the segment at the next flush. At most one of buf_len and ref_len is non-zero. */
	int ref_fd;
	uint64_t ref_off, ref_len;
	uint64_t written;     /* segment bytes in the file */
	uint64_t idx_covered; /* segment bytes covered by index chunks in the file */

	struct index_pending *pend; /* entries of records in [idx_covered, written + buf_len) */
	size_t n_pend, cap_pend;
	uint32_t seq;
	uint64_t chunk_packets;
	int64_t chunk_tmin, chunk_tmax;

	uint64_t packets;
};

static int open_at(int dirfd, const char *relpath, const char *suffix, int flags, mode_t mode,
		   int *ret_fd)
{
	char path[300];
	if (snprintf(path, sizeof(path), "%s%s", relpath, suffix) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	int fd = openat(dirfd, path, flags | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

/* mkdir -p of the directories of relpath under dirfd. */
static int make_parents(int dirfd, const char *relpath)
{
	char tmp[256];
	if (strlen(relpath) >= sizeof(tmp))
		return -ENAMETOOLONG;
	strcpy(tmp, relpath);
	for (char *s = strchr(tmp, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdirat(dirfd, tmp, 0750) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

/* Remove "<relpath><suffix>"; 0 also when it did not exist. */
static int unlink_at(int dirfd, const char *relpath, const char *suffix)
{
	char path[300];
	if (snprintf(path, sizeof(path), "%s%s", relpath, suffix) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return unlinkat(dirfd, path, 0) < 0 && errno != ENOENT ? -errno : 0;
}

static void writer_free(struct segment_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->idx_fd >= 0)
		close(w->idx_fd);
	if (w->dfd >= 0)
		close(w->dfd);
	free(w->buf);
	free(w->pend);
	free(w);
}

int segment_writer_create(int dirfd, const char *relpath, uint64_t segment_id,
			  const struct segment_params *p, struct segment_writer **ret,
			  struct errbuf *err)
{
	if (p->max_bytes > SEGMENT_MAX_BYTES || p->max_bytes < PCAP_GLOBAL_HDR_LEN + PCAP_REC_HDR_LEN + PCAP_MAX_CAPLEN ||
	    p->buffer_bytes < PCAP_REC_HDR_LEN + PCAP_MAX_CAPLEN)
		return err_set(err, EINVAL, "segment size or buffer out of range");
	struct segment_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = w->idx_fd = w->ref_fd = w->dfd = -1;
	w->dirfd = dirfd;
	w->id = segment_id;
	w->p = *p;
	snprintf(w->relpath, sizeof(w->relpath), "%s", relpath);
	int e = make_parents(dirfd, relpath);
	if (e < 0) {
		err_set(err, -e, "%s: cannot create directory: %s", relpath, strerror(-e));
		goto fail;
	}
	/* Files that exist already are never ours to remove: a file left by a segment whose row
	 * is gone still holds packets. Only what this call created is removed on failure. */
	e = open_at(dirfd, relpath, ".pcap", O_RDWR | O_CREAT | O_EXCL, 0640, &w->fd);
	if (e < 0) {
		err_set(err, -e, "%s.pcap: cannot create segment: %s", relpath, strerror(-e));
		goto fail;
	}
	e = open_at(dirfd, relpath, ".idx", O_RDWR | O_CREAT | O_EXCL | O_APPEND, 0640, &w->idx_fd);
	if (e < 0) {
		err_set(err, -e, "%s.idx: cannot create index: %s", relpath, strerror(-e));
		(void)unlink_at(dirfd, relpath, ".pcap");
		goto fail;
	}
	if (flock(w->fd, LOCK_EX | LOCK_NB) < 0) {
		e = -errno;
		err_set(err, -e, "%s: cannot lock segment: %s", relpath, strerror(-e));
		goto fail_unlink;
	}
	if (p->direct) {
		/* A second descriptor for the aligned part; where O_DIRECT is refused, buffered. */
		if (open_at(dirfd, relpath, ".pcap", O_WRONLY | O_DIRECT, 0, &w->dfd) < 0)
			w->dfd = -1;
	}
	/* Room for a carried tail (< DIRECT_ALIGN) besides buffer_bytes of records. */
	w->buf = aligned_alloc(DIRECT_ALIGN, ((p->buffer_bytes + DIRECT_ALIGN - 1) & ~(size_t)(DIRECT_ALIGN - 1)) +
						     DIRECT_ALIGN);
	if (!w->buf) {
		e = -ENOMEM;
		goto fail_unlink;
	}
	uint8_t gh[PCAP_GLOBAL_HDR_LEN], ih[INDEX_HDR_LEN];
	pcap_put_global_header(gh, p->prec, p->snaplen, p->linktype);
	index_put_header(ih, segment_id, 0);
	e = write_full(w->fd, gh, sizeof(gh));
	if (e == 0)
		e = write_full(w->idx_fd, ih, sizeof(ih));
	if (e < 0) {
		err_set(err, -e, "%s: write: %s", relpath, strerror(-e));
		goto fail_unlink;
	}
	w->written = w->idx_covered = PCAP_GLOBAL_HDR_LEN;
	if (w->dfd >= 0) { /* the header is the first carried tail */
		memcpy(w->buf, gh, sizeof(gh));
		w->carry = sizeof(gh);
	}
	*ret = w;
	return 0;
fail_unlink:
	segment_writer_abort(w);
	return e;
fail:
	writer_free(w);
	return e;
}

uint64_t segment_writer_id(const struct segment_writer *w) { return w->id; }
bool segment_writer_direct(const struct segment_writer *w) { return w->dfd >= 0; }
uint64_t segment_writer_packets(const struct segment_writer *w) { return w->packets; }
static uint64_t pending(const struct segment_writer *w)
{
	return w->buf_len + w->ref_len;
}

uint64_t segment_writer_bytes(const struct segment_writer *w) { return w->written + pending(w); }

bool segment_writer_fits(const struct segment_writer *w, uint32_t caplen)
{
	return w->written + pending(w) + PCAP_REC_HDR_LEN + caplen <= w->p.max_bytes;
}

/* Encode the pending entries as a chunk covering [idx_covered, written) and append it. On
 * failure the index file is cut back and the entries stay pending, so a later flush covers
 * the same bytes again (I1 holds whatever fails). */
static int write_chunk(struct segment_writer *w, struct errbuf *err)
{
	if (w->idx_covered == w->written)
		return 0;
	uint8_t *chunk;
	size_t len;
	int e = index_encode_chunk(w->pend, w->n_pend, w->idx_covered, w->written, w->chunk_packets,
				   w->chunk_tmin, w->chunk_tmax, &chunk, &len);
	if (e < 0)
		return err_set(err, -e, "%s: cannot encode index chunk: %s", w->relpath, strerror(-e));
	struct stat st;
	e = fstat(w->idx_fd, &st) < 0 ? -errno : 0;
	if (e == 0) {
		e = write_full(w->idx_fd, chunk, len);
		if (e < 0 && ftruncate(w->idx_fd, st.st_size) < 0)
			e = -errno;
	}
	free(chunk);
	if (e < 0)
		return err_set(err, -e, "%s.idx: write: %s", w->relpath, strerror(-e));
	w->idx_covered = w->written;
	w->n_pend = 0;
	w->chunk_packets = 0;
	w->chunk_tmin = w->chunk_tmax = 0;
	return 0;
}

/* Copy [ref_off, ref_off + ref_len) of ref_fd to the end of the segment inside the kernel
 * (copy_file_range, or sendfile between file systems that refuse it), falling back to
 * pread/pwrite through the buffer. */
static int copy_ref(struct segment_writer *w)
{
	uint64_t src = w->ref_off, dst = w->written, left = w->ref_len;
	bool in_kernel = true;
	while (left > 0) {
		ssize_t n = -1;
		if (in_kernel) {
			loff_t so = (loff_t)src, dof = (loff_t)dst;
			n = copy_file_range(w->ref_fd, &so, w->fd, &dof, (size_t)MIN(left, (uint64_t)1 << 30), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				      errno == EOPNOTSUPP || errno == EBADF)) {
				in_kernel = false;
				continue;
			}
			if (n < 0)
				return -errno;
		} else {
			size_t m = (size_t)MIN(left, (uint64_t)w->p.buffer_bytes);
			n = pread_full(w->ref_fd, w->buf, m, src);
			if (n < 0)
				return (int)n;
			if ((size_t)n < m)
				return -EIO; /* the input shrank under us */
			int e = pwrite_full(w->fd, w->buf, m, dst);
			if (e < 0)
				return e;
		}
		if (n == 0)
			return -EIO;
		src += (uint64_t)n;
		dst += (uint64_t)n;
		left -= (uint64_t)n;
	}
	return 0;
}

/* Direct mode: the block-aligned part of buf[0, carry + buf_len) with O_DIRECT (from the
 * block boundary written - carry), the rest through the page cache; what stays of the last
 * block is carried to the front of the buffer. On failure nothing changes (the caller cuts
 * the file back to written). A file system that refuses the first O_DIRECT write turns the
 * writer buffered. */
static int flush_direct(struct segment_writer *w)
{
	uint64_t base = w->written - w->carry;
	size_t total = w->carry + w->buf_len;
	size_t aligned = total & ~(size_t)(DIRECT_ALIGN - 1);
	if (aligned > 0) {
		int e = pwrite_full(w->dfd, w->buf, aligned, base);
		if (e == -EINVAL) {
			/* O_DIRECT opened but not supported for writes here: buffered from now on. */
			close(w->dfd);
			w->dfd = -1;
			memmove(w->buf, w->buf + w->carry, w->buf_len);
			w->carry = 0;
			return 0; /* the buffered path writes buf[0, buf_len) next */
		}
		if (e < 0)
			return e;
	}
	size_t from = MAX(aligned, w->carry); /* buf[0, carry) is in the file already */
	if (total > from) {
		int e = pwrite_full(w->fd, w->buf + from, total - from, base + from);
		if (e < 0)
			return e;
	}
	memmove(w->buf, w->buf + aligned, total - aligned);
	w->carry = total - aligned;
	w->written += w->buf_len;
	w->buf_len = 0;
	return 0;
}

int segment_writer_flush(struct segment_writer *w, struct errbuf *err)
{
	if (w->ref_len) {
		int e = copy_ref(w);
		if (e < 0) {
			if (ftruncate(w->fd, (off_t)w->written) < 0)
				e = -errno;
			return err_set(err, -e, "%s.pcap: copying records: %s", w->relpath, strerror(-e));
		}
		w->written += w->ref_len;
		w->ref_len = 0;
	}
	if (w->buf_len && w->dfd >= 0) {
		int e = flush_direct(w);
		if (e < 0) {
			if (ftruncate(w->fd, (off_t)w->written) < 0)
				e = -errno;
			return err_set(err, -e, "%s.pcap: write: %s", w->relpath, strerror(-e));
		}
	}
	if (w->buf_len) {
		int e = pwrite_full(w->fd, w->buf, w->buf_len, w->written);
		if (e < 0) {
			/* Cut a partial write back so the file ends on a record boundary. */
			if (ftruncate(w->fd, (off_t)w->written) < 0)
				e = -errno;
			return err_set(err, -e, "%s.pcap: write: %s", w->relpath, strerror(-e));
		}
		w->written += w->buf_len;
		w->buf_len = 0;
	}
	return write_chunk(w, err);
}

static int append(struct segment_writer *w, int64_t ts_ns, uint32_t caplen, uint32_t len,
		  const uint8_t *data, const uint32_t *dev_ids, size_t n_dev, int src_fd,
		  uint64_t src_off, struct errbuf *err)
{
	uint32_t rec = PCAP_REC_HDR_LEN + caplen;
	if (!segment_writer_fits(w, caplen))
		return err_set(err, EFBIG, "segment full");
	bool by_ref = src_fd >= 0;
	if (by_ref && w->dfd >= 0)
		return err_set(err, EINVAL, "appending by reference to a direct-mode segment");
	if (w->carry + pending(w) + rec > w->p.buffer_bytes || (by_ref && w->buf_len) ||
	    (!by_ref && w->ref_len) ||
	    (by_ref && w->ref_len && (src_fd != w->ref_fd || src_off != w->ref_off + w->ref_len))) {
		int e = segment_writer_flush(w, err);
		if (e < 0)
			return e;
	}
	if (w->n_pend + n_dev > w->cap_pend) {
		size_t nc = MAX(w->cap_pend * 2, w->n_pend + n_dev + 4096);
		struct index_pending *np = realloc(w->pend, nc * sizeof(*np));
		if (!np)
			return -ENOMEM;
		w->pend = np;
		w->cap_pend = nc;
	}
	uint64_t off = w->written + pending(w);
	if (by_ref) {
		if (!w->ref_len) {
			w->ref_fd = src_fd;
			w->ref_off = src_off;
		}
		w->ref_len += rec;
	} else {
		uint8_t *dst = w->buf + w->carry + w->buf_len;
		pcap_put_rec_header(dst, w->p.prec, ts_ns, caplen, len);
		memcpy(dst + PCAP_REC_HDR_LEN, data, caplen);
		w->buf_len += rec;
	}
	for (size_t i = 0; i < n_dev; i++)
		w->pend[w->n_pend++] = (struct index_pending){
			.device_id = dev_ids[i],
			.seq = w->seq++,
			.e = {.ts_ns = ts_ns, .offset = (uint32_t)off, .len = rec},
		};
	if (w->chunk_packets++ == 0)
		w->chunk_tmin = w->chunk_tmax = ts_ns;
	else {
		w->chunk_tmin = MIN(w->chunk_tmin, ts_ns);
		w->chunk_tmax = MAX(w->chunk_tmax, ts_ns);
	}
	w->packets++;
	return 0;
}

int segment_writer_append(struct segment_writer *w, int64_t ts_ns, uint32_t caplen, uint32_t len,
			  const uint8_t *data, const uint32_t *dev_ids, size_t n_dev,
			  struct errbuf *err)
{
	return append(w, ts_ns, caplen, len, data, dev_ids, n_dev, -1, 0, err);
}

int segment_writer_append_ref(struct segment_writer *w, int64_t ts_ns, uint32_t caplen,
			      uint32_t len, const uint8_t *data, const uint32_t *dev_ids,
			      size_t n_dev, int src_fd, uint64_t src_off, struct errbuf *err)
{
	return append(w, ts_ns, caplen, len, data, dev_ids, n_dev, src_fd, src_off, err);
}

void segment_result_done(struct segment_result *r)
{
	if (r) {
		free(r->sums);
		r->sums = NULL;
		r->n_sums = 0;
	}
}

static int summarize_run(size_t chunk, uint32_t device_id, const struct index_entry *e, size_t n,
			 void *userdata)
{
	struct segment_result *r = userdata;
	/* Runs come per chunk in ascending device order; merge into the sorted array. */
	size_t lo = 0, hi = r->n_sums;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r->sums[mid].device_id < device_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == r->n_sums || r->sums[lo].device_id != device_id) {
		struct segment_device_summary *ns = realloc(r->sums, (r->n_sums + 1) * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		r->sums = ns;
		memmove(ns + lo + 1, ns + lo, (r->n_sums - lo) * sizeof(*ns));
		ns[lo] = (struct segment_device_summary){.device_id = device_id,
							 .t_first = INT64_MAX,
							 .t_last = INT64_MIN};
		r->n_sums++;
	}
	struct segment_device_summary *s = &r->sums[lo];
	for (size_t i = 0; i < n; i++) {
		s->bytes += e[i].len;
		s->t_first = MIN(s->t_first, e[i].ts_ns);
		s->t_last = MAX(s->t_last, e[i].ts_ns);
	}
	s->packets += n;
	return 0;
}

int segment_summarize(struct index_reader *r, struct segment_result *ret, struct errbuf *err)
{
	*ret = (struct segment_result){0};
	bool any = false;
	for (size_t k = 0; k < index_reader_chunks(r); k++) {
		const struct index_chunk_info *c = index_reader_chunk(r, k);
		ret->packets += c->packets;
		if (!c->packets)
			continue;
		ret->t_first = any ? MIN(ret->t_first, c->t_min) : c->t_min;
		ret->t_last = any ? MAX(ret->t_last, c->t_max) : c->t_max;
		any = true;
	}
	ret->bytes = index_reader_seg_size(r);
	int e = index_reader_foreach_run(r, summarize_run, ret, err);
	if (e < 0)
		segment_result_done(ret);
	return e;
}

/* Seal: write the sealed index next to the live one, make it durable if asked, rename it over
 * the live one (I5), and summarize it. */
static int seal_files(int dirfd, const char *relpath, uint64_t id, int seg_fd, int idx_fd,
		      bool durable, struct segment_result *ret, struct errbuf *err)
{
	struct index_reader *live = NULL, *sealed = NULL;
	_cleanup_close_ int tmp_fd = -1;
	char tmp[300], final[300];
	snprintf(tmp, sizeof(tmp), "%s.idx.tmp", relpath);
	snprintf(final, sizeof(final), "%s.idx", relpath);
	int e = index_reader_open(idx_fd, seg_fd, id, &live, err);
	if (e < 0)
		goto out;
	if (index_reader_sealed(live)) {
		e = segment_summarize(live, ret, err);
		goto out;
	}
	struct stat st;
	if (fstat(seg_fd, &st) < 0) {
		e = err_set(err, errno, "fstat: %s", strerror(errno));
		goto out;
	}
	tmp_fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (tmp_fd < 0) {
		e = err_set(err, errno, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	e = index_write_sealed(live, id, (uint64_t)st.st_size, tmp_fd, err);
	if (e < 0)
		goto out_unlink;
	if (!durable) {
		/* Start writeback now, without waiting: a later fsync (import does one per file at
		 * the end) then finds little left to do. */
		(void)sync_file_range(seg_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		(void)sync_file_range(tmp_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	}
	if (durable && (fsync(seg_fd) < 0 || fsync(tmp_fd) < 0)) {
		e = err_set(err, errno, "%s: fsync: %s", relpath, strerror(errno));
		goto out_unlink;
	}
	if (renameat(dirfd, tmp, dirfd, final) < 0) {
		e = err_set(err, errno, "%s: rename: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	if (durable) {
		char dir[256];
		snprintf(dir, sizeof(dir), "%s", relpath);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
		_cleanup_close_ int dfd = openat(dirfd, slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0)
			(void)fsync(dfd);
	}
	e = index_reader_open(tmp_fd, seg_fd, id, &sealed, err);
	if (e == 0)
		e = segment_summarize(sealed, ret, err);
	goto out;
out_unlink:
	unlinkat(dirfd, tmp, 0);
out:
	index_reader_free(live);
	index_reader_free(sealed);
	return e;
}

int segment_writer_seal(struct segment_writer *w, bool durable, struct segment_result *ret,
			bool *ret_freed, struct errbuf *err)
{
	int e = segment_writer_flush(w, err);
	if (e < 0) {
		*ret_freed = false; /* the records are still in w's buffer */
		return err_prefix(err, -e, "sealing %s: ", w->relpath);
	}
	e = seal_files(w->dirfd, w->relpath, w->id, w->fd, w->idx_fd, durable, ret, err);
	if (e < 0)
		err_prefix(err, -e, "sealing %s: ", w->relpath);
	writer_free(w);
	*ret_freed = true;
	return e;
}

void segment_writer_release(struct segment_writer *w)
{
	writer_free(w);
}

int segment_unlink(int dirfd, const char *relpath)
{
	int r = unlink_at(dirfd, relpath, ".pcap");
	int r2 = unlink_at(dirfd, relpath, ".idx");
	(void)unlink_at(dirfd, relpath, ".idx.tmp");
	return r2 < 0 ? r2 : r;
}

void segment_writer_abort(struct segment_writer *w)
{
	if (!w)
		return;
	segment_unlink(w->dirfd, w->relpath);
	writer_free(w);
}

/* ---- walking ------------------------------------------------------------------------------ */

int segment_walk(int fd, const struct pcap_ghdr *g, uint64_t from, uint64_t to,
		 segment_record_cb cb, void *userdata, uint64_t *ret_end, struct errbuf *err)
{
	_cleanup_free_ uint8_t *buf = malloc(WALK_BUF);
	if (!buf)
		return -ENOMEM;
	uint64_t base = from; /* file offset of buf[0] */
	size_t have = 0, pos = 0;
	bool eof = false;
	int e = 0;
	*ret_end = from;
	while (base + pos < to) {
		size_t need = PCAP_REC_HDR_LEN;
		int64_t ts;
		uint32_t caplen = 0, len;
		for (int pass = 0; pass < 2; pass++) {
			if (have - pos < need && !eof) {
				memmove(buf, buf + pos, have - pos);
				base += pos;
				have -= pos;
				pos = 0;
				ssize_t n = pread_full(fd, buf + have, WALK_BUF - have, base + have);
				if (n < 0)
					return err_set(err, (int)-n, "read: %s", strerror((int)-n));
				eof = (size_t)n < WALK_BUF - have;
				have += (size_t)n;
			}
			if (have - pos < need)
				return 0; /* torn tail (or clean end when nothing is left) */
			if (pass == 0) {
				e = pcap_parse_rec_header(buf + pos, g->prec, g->snaplen, &ts, &caplen, &len, err);
				if (e < 0)
					return err_prefix(err, EBADMSG, "record at offset %" PRIu64 ": ", base + pos);
				need = PCAP_REC_HDR_LEN + caplen;
			}
		}
		uint64_t off = base + pos;
		if (off + need > to)
			return 0;
		e = cb(ts, off, caplen, len, buf + pos + PCAP_REC_HDR_LEN, userdata);
		if (e < 0)
			return e;
		pos += need;
		*ret_end = off + need;
	}
	return 0;
}

int segment_read_header(int fd, const char *relpath, struct pcap_ghdr *ret_g, struct errbuf *err)
{
	uint8_t gh[PCAP_GLOBAL_HDR_LEN];
	ssize_t n = pread_full(fd, gh, sizeof(gh), 0);
	int e;
	if (n < 0)
		e = err_set(err, (int)-n, "%s.pcap: read: %s", relpath, strerror((int)-n));
	else if ((e = pcap_parse_global_header(gh, (size_t)n, ret_g, err)) < 0)
		err_prefix(err, EBADMSG, "%s.pcap: ", relpath);
	return e == -EBADMSG || e == -EPROTO ? -EBADMSG : e;
}

int segment_open_read(int dirfd, const char *relpath, int *ret_fd, struct pcap_ghdr *ret_g,
		      struct errbuf *err)
{
	int fd;
	int e = open_at(dirfd, relpath, ".pcap", O_RDONLY, 0, &fd);
	if (e < 0)
		return err_set(err, -e, "%s.pcap: %s", relpath, strerror(-e));
	e = segment_read_header(fd, relpath, ret_g, err);
	if (e < 0) {
		close(fd);
		return e;
	}
	*ret_fd = fd;
	return 0;
}

int segment_open_index(int dirfd, const char *relpath, uint64_t id, int seg_fd,
		       struct index_reader **ret, struct errbuf *err)
{
	int fd = -1;
	int e = open_at(dirfd, relpath, ".idx", O_RDONLY, 0, &fd);
	if (e < 0)
		return err_set(err, -e, "%s.idx: %s", relpath, strerror(-e));
	e = index_reader_adopt(fd, seg_fd, id, ret, err);
	if (e < 0)
		err_prefix(err, -e, "%s.idx: ", relpath);
	return e;
}

int segment_open_prefetch(int dirfd, const char *relpath, bool sealed, int *ret_pcap,
			  int *ret_idx, struct errbuf *err)
{
	int pfd, ifd;
	int e = open_at(dirfd, relpath, ".pcap", O_RDONLY, 0, &pfd);
	if (e < 0)
		return err_set(err, -e, "%s.pcap: %s", relpath, strerror(-e));
	e = open_at(dirfd, relpath, ".idx", O_RDONLY, 0, &ifd);
	if (e < 0) {
		close(pfd);
		return err_set(err, -e, "%s.idx: %s", relpath, strerror(-e));
	}
	/* Advice only: a failure costs speed, never correctness. */
	(void)posix_fadvise(pfd, 0, 4096, POSIX_FADV_WILLNEED);
	(void)posix_fadvise(ifd, 0, sealed ? SEGMENT_PREFETCH_INDEX_HEAD : 0, POSIX_FADV_WILLNEED);
	*ret_pcap = pfd;
	*ret_idx = ifd;
	return 0;
}

/* ---- recovery and reindexing -------------------------------------------------------------- */

struct rebuild {
	const struct devmap *m;
	uint32_t linktype;
	struct segment_writer w; /* only the index half is used: pend, chunk stats, idx_fd */
	struct errbuf *err;
};

static int rebuild_record(int64_t ts_ns, uint64_t off, uint32_t caplen, uint32_t len,
			  const uint8_t *data, void *userdata)
{
	struct rebuild *b = userdata;
	struct segment_writer *w = &b->w;
	uint32_t ids[CLASSIFY_MAX_DEVICES];
	int n = classify_packet(b->m, b->linktype, data, caplen, ts_ns, ids, ELEMENTSOF(ids));
	if (off - w->idx_covered >= REBUILD_CHUNK_BYTES) {
		w->written = off;
		int e = write_chunk(w, b->err);
		if (e < 0)
			return e;
	}
	if (w->n_pend + (size_t)n > w->cap_pend) {
		size_t nc = MAX(w->cap_pend * 2, w->n_pend + (size_t)n + 4096);
		struct index_pending *np = realloc(w->pend, nc * sizeof(*np));
		if (!np)
			return -ENOMEM;
		w->pend = np;
		w->cap_pend = nc;
	}
	for (int i = 0; i < n; i++)
		w->pend[w->n_pend++] = (struct index_pending){
			.device_id = ids[i],
			.seq = w->seq++,
			.e = {.ts_ns = ts_ns, .offset = (uint32_t)off, .len = PCAP_REC_HDR_LEN + caplen},
		};
	if (w->chunk_packets++ == 0)
		w->chunk_tmin = w->chunk_tmax = ts_ns;
	else {
		w->chunk_tmin = MIN(w->chunk_tmin, ts_ns);
		w->chunk_tmax = MAX(w->chunk_tmax, ts_ns);
	}
	return 0;
}

static int skip_record(int64_t ts_ns, uint64_t off, uint32_t caplen, uint32_t len,
			const uint8_t *data, void *userdata)
{
	return 0;
}

/* Index the records of [from, EOF) of seg_fd into the live index idx_fd (positioned at its
 * end, its chunks covering exactly [24, from)). truncate_tail: cut a torn or invalid tail
 * (recovery) instead of failing (reindex). Recovery never cuts below what a live index had
 * accepted: it starts there, or checks those records first. */
static int rebuild_tail(int dirfd, const char *relpath, int seg_fd, int idx_fd, uint64_t from,
			const struct pcap_ghdr *g, const struct devmap *m, bool truncate_tail,
			uint64_t *ret_truncated, struct errbuf *err)
{
	struct stat st;
	if (fstat(seg_fd, &st) < 0)
		return err_set(err, errno, "fstat: %s", strerror(errno));
	struct rebuild b = {.m = m, .linktype = g->linktype, .err = err};
	b.w.idx_fd = idx_fd;
	b.w.fd = -1;
	snprintf(b.w.relpath, sizeof(b.w.relpath), "%s", relpath);
	b.w.idx_covered = from;
	uint64_t end;
	int e = segment_walk(seg_fd, g, from, UINT64_MAX, rebuild_record, &b, &end, err);
	if (e == -EBADMSG && truncate_tail)
		e = 0;
	if (e < 0)
		goto out;
	if (end < (uint64_t)st.st_size) {
		if (!truncate_tail) {
			e = err_set(err, EBADMSG, "%s.pcap: torn record at offset %" PRIu64, relpath, end);
			goto out;
		}
		if (ftruncate(seg_fd, (off_t)end) < 0) {
			e = err_set(err, errno, "%s.pcap: truncate: %s", relpath, strerror(errno));
			goto out;
		}
	}
	if (ret_truncated)
		*ret_truncated = (uint64_t)st.st_size - end;
	b.w.written = end;
	e = write_chunk(&b.w, err);
out:
	free(b.w.pend);
	(void)dirfd;
	return e;
}

/* Do the records [24, accepted) that an index had accepted walk whole, each ending by
 * accepted (one that runs past it only looks like a torn tail)? 0, or -EBADMSG: damage, to
 * be reported with both files left as they are. */
static int accepted_whole(int seg_fd, const struct pcap_ghdr *g, uint64_t accepted,
			  const char *relpath, struct errbuf *err)
{
	uint64_t end = PCAP_GLOBAL_HDR_LEN;
	int e = accepted > end ? segment_walk(seg_fd, g, end, accepted, skip_record, NULL, &end, err)
			       : 0;
	if (e == 0 && end < accepted)
		e = err_set(err, EBADMSG, "the record at offset %" PRIu64 " runs past offset %" PRIu64,
			    end, accepted);
	return e < 0 ? err_prefix(err, -e, "%s: its index is damaged and so is a record the index "
				  "had accepted; both left as they are: ", relpath)
		     : 0;
}

int segment_recover(int dirfd, const char *relpath, uint64_t segment_id, const struct devmap *m,
		    bool durable, struct segment_result *ret, uint64_t *ret_truncated,
		    struct errbuf *err)
{
	_cleanup_close_ int seg_fd = -1, idx_fd = -1;
	*ret_truncated = 0;
	int e = open_at(dirfd, relpath, ".pcap", O_RDWR, 0, &seg_fd);
	if (e == -ENOENT)
		return SEGMENT_EMPTY;
	if (e < 0)
		return err_set(err, -e, "%s.pcap: %s", relpath, strerror(-e));
	if (flock(seg_fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? SEGMENT_BUSY : err_set(err, errno, "flock: %s", strerror(errno));
	struct stat st;
	if (fstat(seg_fd, &st) < 0)
		return err_set(err, errno, "fstat: %s", strerror(errno));
	if (st.st_size <= PCAP_GLOBAL_HDR_LEN)
		return SEGMENT_EMPTY;
	uint8_t gh[PCAP_GLOBAL_HDR_LEN];
	struct pcap_ghdr g;
	if (pread_full(seg_fd, gh, sizeof(gh), 0) != (ssize_t)sizeof(gh) ||
	    pcap_parse_global_header(gh, sizeof(gh), &g, err) < 0)
		return err_prefix(err, EBADMSG, "%s.pcap: ", relpath);

	e = open_at(dirfd, relpath, ".idx", O_RDWR | O_CREAT, 0640, &idx_fd);
	if (e < 0)
		return err_set(err, -e, "%s.idx: %s", relpath, strerror(-e));
	struct index_reader *r = NULL;
	struct errbuf ierr;
	uint64_t covered = PCAP_GLOBAL_HDR_LEN, idx_end = 0;
	if (index_reader_open(idx_fd, seg_fd, segment_id, &r, &ierr) == 0) {
		if (index_reader_sealed(r)) {
			/* Sealed on disk, not yet in the catalogue: nothing to rebuild. */
			e = segment_summarize(r, ret, err);
			index_reader_free(r);
			return e < 0 ? e : SEGMENT_RECOVERED;
		}
		covered = index_reader_covered(r);
		size_t k = index_reader_chunks(r);
		idx_end = INDEX_HDR_LEN;
		if (k) {
			const struct index_chunk_info *c = index_reader_chunk(r, k - 1);
			idx_end = c->file_off + INDEX_CHUNK_HDR_LEN + (uint64_t)c->n_devices * INDEX_DIR_LEN +
				  c->n_entries * INDEX_ENTRY_LEN;
		}
		index_reader_free(r);
	}
	if (idx_end == 0) {
		/* No usable header: start the index again from nothing, unless the chunk headers
		 * still tell of records accepted that do not walk whole: damage, left as it is. */
		e = accepted_whole(seg_fd, &g, index_claimed_end(idx_fd), relpath, err);
		if (e < 0)
			return e;
		uint8_t ih[INDEX_HDR_LEN];
		index_put_header(ih, segment_id, 0);
		if (ftruncate(idx_fd, 0) < 0 || pwrite_full(idx_fd, ih, sizeof(ih), 0) < 0)
			return err_set(err, errno, "%s.idx: rewrite: %s", relpath, strerror(errno));
		idx_end = INDEX_HDR_LEN;
	}
	if (ftruncate(idx_fd, (off_t)idx_end) < 0 || lseek(idx_fd, (off_t)idx_end, SEEK_SET) < 0)
		return err_set(err, errno, "%s.idx: truncate: %s", relpath, strerror(errno));
	e = rebuild_tail(dirfd, relpath, seg_fd, idx_fd, covered, &g, m, true, ret_truncated, err);
	if (e < 0)
		return e;
	if (fstat(seg_fd, &st) < 0)
		return err_set(err, errno, "fstat: %s", strerror(errno));
	if (st.st_size <= PCAP_GLOBAL_HDR_LEN)
		return SEGMENT_EMPTY;
	e = seal_files(dirfd, relpath, segment_id, seg_fd, idx_fd, durable, ret, err);
	if (e == -EBADMSG) {
		/* A live chunk whose header was intact but whose contents are not: index the whole
		 * segment again from its records, if they are whole where the index had accepted
		 * them. If not, both files stay as they are: damage to look at, not to cut away
		 * (the next recovery finds the same). */
		e = accepted_whole(seg_fd, &g, covered, relpath, err);
		if (e < 0)
			return e;
		uint8_t ih[INDEX_HDR_LEN];
		index_put_header(ih, segment_id, 0);
		if (ftruncate(idx_fd, 0) < 0 || pwrite_full(idx_fd, ih, sizeof(ih), 0) < 0 ||
		    lseek(idx_fd, INDEX_HDR_LEN, SEEK_SET) < 0)
			return err_set(err, errno, "%s.idx: rewrite: %s", relpath, strerror(errno));
		uint64_t cut = 0;
		e = rebuild_tail(dirfd, relpath, seg_fd, idx_fd, PCAP_GLOBAL_HDR_LEN, &g, m, true, &cut, err);
		*ret_truncated += cut;
		if (e == 0)
			e = seal_files(dirfd, relpath, segment_id, seg_fd, idx_fd, durable, ret, err);
	}
	return e < 0 ? e : SEGMENT_RECOVERED;
}

int segment_reindex(int dirfd, const char *relpath, uint64_t segment_id, const struct devmap *m,
		    bool durable, struct segment_result *ret, struct errbuf *err)
{
	_cleanup_close_ int seg_fd = -1, idx_fd = -1;
	struct pcap_ghdr g;
	int e = segment_open_read(dirfd, relpath, &seg_fd, &g, err);
	if (e < 0)
		return e;
	/* Exclusive: a writer, a recovery or another reindex of the segment would write the same
	 * .idx.rebuild and .idx.tmp files. */
	if (flock(seg_fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK
			       ? err_set(err, EBUSY, "%s.pcap is being written or reindexed", relpath)
			       : err_set(err, errno, "flock: %s", strerror(errno));
	char live[300];
	snprintf(live, sizeof(live), "%s.idx.rebuild", relpath);
	idx_fd = openat(dirfd, live, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
	if (idx_fd < 0)
		return err_set(err, errno, "%s: %s", live, strerror(errno));
	uint8_t ih[INDEX_HDR_LEN];
	index_put_header(ih, segment_id, 0);
	e = write_full(idx_fd, ih, sizeof(ih));
	if (e < 0)
		err_set(err, -e, "%s: write: %s", live, strerror(-e));
	if (e == 0)
		e = rebuild_tail(dirfd, relpath, seg_fd, idx_fd, PCAP_GLOBAL_HDR_LEN, &g, m, false, NULL, err);
	if (e == 0)
		e = seal_files(dirfd, relpath, segment_id, seg_fd, idx_fd, durable, ret, err);
	unlinkat(dirfd, live, 0);
	return e;
}

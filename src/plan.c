/* plan.c — read plans (plan.h). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "index.h"
#include "plan.h"
#include "segment.h"

/* Records closer than this in a segment are read with one pread, gap included: copying a
 * few KiB from the page cache costs less than another system call. */
#define PLAN_GAP_MAX 4096u
/* plan_prefetch: gaps it reads through, extents it looks at per call. */
#define PLAN_PREFETCH_GAP (64u * 1024)
#define PLAN_PREFETCH_EXTENTS 8192u
/* Segments whose files are opened, and read from, together. */
#define PLAN_OPEN_BATCH 64

struct tagged {
	int64_t ts_ns;
	uint32_t offset, len;
	uint32_t seg;
};

struct build {
	struct spool *sp;
	struct plan *p;
	int64_t device_id;
	const struct window *w;
	size_t max_packets;
	bool direct;	    /* records go straight into extents (see plan_build) */
	struct tagged *all; /* sorted: every record, to be sorted */
	size_t n_all, cap_all;
	size_t cap_ext;
	const struct segment *segs; /* from the catalogue, in its order */
	size_t n_segs;
	struct index_entry *tmp;
	size_t cap_tmp;
	uint32_t linktype;
	struct errbuf *err;
};

void plan_free(struct plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_segs; i++)
		if (p->segs[i].fd >= 0)
			close(p->segs[i].fd);
	free(p->segs);
	free(p->ext);
	free(p);
}

static uint64_t digest_step(uint64_t h, uint64_t v)
{
	h ^= v + UINT64_C(0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
	h ^= h >> 31;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	return h ^ (h >> 29);
}

uint64_t plan_digest(const struct plan *p)
{
	uint64_t h = digest_step(0, p->size);
	for (size_t i = 0; i < PCAP_GLOBAL_HDR_LEN; i += 8) {
		uint64_t v = 0;
		memcpy(&v, p->header + i, MIN((size_t)8, PCAP_GLOBAL_HDR_LEN - i));
		h = digest_step(h, v);
	}
	for (size_t i = 0; i < p->n_ext; i++) {
		const struct plan_extent *x = &p->ext[i];
		h = digest_step(h, x->out_off);
		h = digest_step(h, (uint64_t)p->segs[x->seg].id);
		h = digest_step(h, x->seg_off);
		h = digest_step(h, x->len);
	}
	return h;
}

/* A writer creates the catalogue row, then the segment file, then writes its header, then
 * the index file and its header: a reader can come in between. An open segment whose files
 * are not both there with their headers holds no packet yet. */
static bool open_segment_is_new(int dirfd, const char *relpath)
{
	char p[300];
	struct stat st;
	snprintf(p, sizeof(p), "%s.pcap", relpath);
	if (fstatat(dirfd, p, &st, 0) < 0 || st.st_size < (off_t)PCAP_GLOBAL_HDR_LEN)
		return true;
	snprintf(p, sizeof(p), "%s.idx", relpath);
	return fstatat(dirfd, p, &st, 0) < 0 || st.st_size < (off_t)INDEX_HDR_LEN;
}

/* A segment of the batch being read: its slot in p->segs, its index file (-1: nothing to
 * read), the reader on it, and the device's part of it when that is the whole segment
 * (whole.packets > 0). */
struct pending {
	const struct segment *s;
	uint32_t slot;
	int idx_fd;
	struct index_reader *r;
	struct index_whole whole;
};

static void pending_done(struct pending *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (q[i].idx_fd >= 0)
			close(q[i].idx_fd);
		index_reader_free(q[i].r);
		q[i].idx_fd = -1;
		q[i].r = NULL;
	}
}

/* Step 1 for a batch: a slot per segment, both files opened and their first reads started
 * (segment_open_prefetch), so that the disk works on all of them at once. */
static int open_segments(struct build *b, const struct segment *segs, size_t n, struct pending *q)
{
	struct plan *p = b->p;
	for (size_t i = 0; i < n; i++)
		q[i] = (struct pending){.s = &segs[i], .idx_fd = -1};
	struct plan_segment *ns = realloc(p->segs, (p->n_segs + n) * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	p->segs = ns;
	for (size_t i = 0; i < n; i++) {
		const struct segment *s = &segs[i];
		if (p->n_segs > 0 && s->linktype != b->linktype)
			return err_set(b->err, EPROTO,
				       "the window mixes link types %u and %u (segment %" PRId64
				       "); it cannot be one pcap file",
				       b->linktype, s->linktype, s->id);
		b->linktype = s->linktype;
		struct plan_segment *ps = &p->segs[p->n_segs];
		*ps = (struct plan_segment){.fd = -1, .id = s->id, .sealed = s->state == SEGMENT_SEALED};
		q[i].slot = (uint32_t)p->n_segs++;
		if (!ps->sealed)
			p->has_open = true;
		if (!ps->sealed && open_segment_is_new(b->sp->dirfd, s->path))
			continue; /* created a moment ago: nothing in it yet */
		int e = segment_open_prefetch(b->sp->dirfd, s->path, ps->sealed, &ps->fd, &q[i].idx_fd,
					      b->err);
		if (e < 0)
			return e == -ENOENT ? -EBADMSG : e;
	}
	return 0;
}

/* Step 2: headers checked, index readers opened, the entries wanted started reading, unless
 * (direct builds) the device's part is the whole segment, which needs none of them. */
static int open_indexes(struct build *b, struct pending *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (q[i].idx_fd < 0)
			continue;
		const struct segment *s = q[i].s;
		int fd = b->p->segs[q[i].slot].fd;
		struct pcap_ghdr g;
		int e = segment_read_header(fd, s->path, &g, b->err);
		if (e < 0)
			return e;
		if (g.linktype != s->linktype || g.prec != b->sp->cfg.prec)
			return err_set(b->err, EBADMSG, "%s.pcap: header disagrees with the catalogue",
				       s->path);
		e = index_reader_adopt(q[i].idx_fd, fd, (uint64_t)s->id, &q[i].r, b->err);
		q[i].idx_fd = -1; /* the reader's now */
		if (e == 0 && b->direct)
			e = index_reader_whole(q[i].r, (uint32_t)b->device_id, b->w->start_ns,
					       b->w->end_ns, &q[i].whole, b->err);
		if (e < 0)
			return err_prefix(b->err, -e, "%s.idx: ", s->path);
		if (e == 0)
			index_reader_prefetch(q[i].r, (uint32_t)b->device_id, b->w->start_ns, b->w->end_ns);
	}
	return 0;
}

/* Append records (packets of them, from t_first to t_last, len bytes at offset in segment
 * seg) to the plan's extents, growing the last one when they follow it in the same
 * segment. */
static int place_run(struct build *b, int64_t t_first, int64_t t_last, uint64_t packets,
		     uint32_t seg, uint64_t offset, uint32_t len)
{
	struct plan *p = b->p;
	struct plan_extent *last = p->n_ext ? &p->ext[p->n_ext - 1] : NULL;
	if (last && last->seg == seg && last->seg_off + last->len == offset &&
	    (uint64_t)last->len + len <= UINT32_MAX) {
		last->len += len;
	} else {
		if (p->n_ext == b->cap_ext) {
			size_t nc = b->cap_ext ? b->cap_ext * 2 : 256;
			struct plan_extent *ne = realloc(p->ext, nc * sizeof(*ne));
			if (!ne)
				return -ENOMEM;
			p->ext = ne;
			b->cap_ext = nc;
		}
		p->ext[p->n_ext++] = (struct plan_extent){p->size, offset, len, seg};
	}
	if (p->packets == 0)
		p->t_first = t_first;
	p->t_last = t_last;
	p->packets += packets;
	p->size += len;
	return 0;
}

static int place(struct build *b, int64_t ts_ns, uint32_t seg, uint32_t offset, uint32_t len)
{
	return place_run(b, ts_ns, ts_ns, 1, seg, offset, len);
}

/* Step 3: the window's entries of each segment, in catalogue order: placed at once while
 * they come in time order (direct; -EAGAIN when one does not), else gathered for sorting. */
static int collect_entries(struct build *b, struct pending *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!q[i].r)
			continue;
		if (q[i].whole.packets) {
			const struct index_whole *x = &q[i].whole;
			if (b->p->packets && x->t_first < b->p->t_last)
				return -EAGAIN;
			if (x->packets > b->max_packets - b->p->packets)
				return err_set(b->err, EFBIG, "more than %zu packets in the window",
					       b->max_packets);
			int e = place_run(b, x->t_first, x->t_last, x->packets, q[i].slot,
					  x->seg_start, (uint32_t)x->len);
			if (e < 0)
				return e;
			b->p->n_whole++;
			continue;
		}
		size_t got = 0;
		int e = index_reader_collect(q[i].r, (uint32_t)b->device_id, b->w->start_ns,
					     b->w->end_ns, &b->tmp, &got, &b->cap_tmp,
					     b->max_packets - (b->p->packets + b->n_all), b->err);
		if (e < 0)
			return e == -EFBIG ? e : err_prefix(b->err, -e, "%s.idx: ", q[i].s->path);
		if (b->direct) {
			for (size_t k = 0; k < got; k++) {
				const struct index_entry *x = &b->tmp[k];
				if (b->p->packets && x->ts_ns < b->p->t_last)
					return -EAGAIN;
				e = place(b, x->ts_ns, q[i].slot, x->offset, x->len);
				if (e < 0)
					return e;
			}
			continue;
		}
		if (b->n_all + got > b->cap_all) {
			size_t nc = MAX(b->cap_all * 2, b->n_all + got);
			struct tagged *na = realloc(b->all, nc * sizeof(*na));
			if (!na)
				return -ENOMEM;
			b->all = na;
			b->cap_all = nc;
		}
		for (size_t k = 0; k < got; k++)
			b->all[b->n_all++] = (struct tagged){b->tmp[k].ts_ns, b->tmp[k].offset,
							     b->tmp[k].len, q[i].slot};
	}
	return 0;
}

/* The segments the catalogue named, PLAN_OPEN_BATCH at a time (bounding the index files open
 * at once), each batch in three steps so that its disk reads overlap. */
static int read_segments(struct build *b)
{
	struct pending q[PLAN_OPEN_BATCH];
	for (size_t at = 0; at < b->n_segs; at += PLAN_OPEN_BATCH) {
		size_t n = MIN((size_t)PLAN_OPEN_BATCH, b->n_segs - at);
		int e = open_segments(b, b->segs + at, n, q);
		if (e == 0)
			e = open_indexes(b, q, n);
		if (e == 0)
			e = collect_entries(b, q, n);
		pending_done(q, n);
		if (e < 0)
			return e;
	}
	return 0;
}

static int tagged_cmp(const void *a, const void *b)
{
	const struct tagged *x = a, *y = b;
	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	if (x->seg != y->seg)
		return x->seg < y->seg ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The plan of the window from the segments l, into *ret: direct (records placed as they
 * come, -EAGAIN at the first one out of time order) or sorted. */
static int build(struct spool *sp, int64_t device_id, const struct window *w, size_t max_packets,
		 const struct segment_list *l, bool direct, struct plan **ret, struct errbuf *err)
{
	struct plan *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->size = PCAP_GLOBAL_HDR_LEN;
	struct build b = {.sp = sp, .p = p, .device_id = device_id, .w = w,
			  .max_packets = max_packets, .linktype = 1, .err = err, .direct = direct,
			  .segs = l->v, .n_segs = l->n};
	int e = read_segments(&b);
	if (e == 0 && !direct) {
		/* Within a segment entries are in time order; interfaces that overlap in time
		 * interleave: sort, ties broken by segment order and file position so that the
		 * result is deterministic. */
		qsort(b.all, b.n_all, sizeof(*b.all), tagged_cmp);
		for (size_t i = 0; e == 0 && i < b.n_all; i++)
			e = place(&b, b.all[i].ts_ns, b.all[i].seg, b.all[i].offset, b.all[i].len);
	}
	free(b.tmp);
	free(b.all);
	if (e < 0) {
		plan_free(p);
		return e;
	}
	pcap_put_global_header(p->header, sp->cfg.prec, sp->cfg.snaplen, b.linktype);
	*ret = p;
	return 0;
}

int plan_build(struct spool *sp, int64_t device_id, const struct window *w, size_t max_packets,
	       pthread_mutex_t *cat_lock, struct plan **ret, struct errbuf *err)
{
	if (device_id <= 0 || device_id > UINT32_MAX || w->end_ns <= w->start_ns)
		return err_set(err, EINVAL, "invalid device or window");
	if (!max_packets)
		max_packets = PLAN_DEFAULT_MAX_PACKETS;
	struct segment_list l = {0};
	if (cat_lock)
		pthread_mutex_lock(cat_lock);
	int e = catalog_segments_for_device(sp->cat, device_id, w->start_ns, w->end_ns, segment_list_add,
					    &l, err);
	if (cat_lock)
		pthread_mutex_unlock(cat_lock);
	/* Segments come ordered by (t_first, interface). Most windows' records then come in
	 * time order as they are read (one interface, or interfaces that do not overlap) and go
	 * straight into extents. Segments that overlap in time by the catalogue's account
	 * interleave: those are sorted, every record gathered first (memory and time O(records)
	 * instead of O(extents)); so is a window whose direct build meets a record out of
	 * order after all. Ties in time come out in segment order either way. */
	bool direct = true;
	int64_t last = INT64_MIN;
	for (size_t i = 0; e == 0 && direct && i < l.n; i++) {
		direct = l.v[i].t_first >= last;
		last = MAX(last, l.v[i].t_last);
	}
	if (e == 0)
		e = build(sp, device_id, w, max_packets, &l, direct, ret, err);
	if (e == -EAGAIN && direct)
		e = build(sp, device_id, w, max_packets, &l, false, ret, err);
	free(l.v);
	return e;
}

/* The extent holding output offset off (off >= 24, < size). */
static size_t find_extent(const struct plan *p, uint64_t off)
{
	size_t lo = 0, hi = p->n_ext;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->ext[mid].out_off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

ssize_t plan_read(const struct plan *p, void *buf, size_t len, uint64_t off, struct errbuf *err)
{
	uint8_t *dst = buf;
	size_t done = 0;
	if (off >= p->size || len == 0)
		return 0;
	len = (size_t)MIN((uint64_t)len, p->size - off);
	if (off < PCAP_GLOBAL_HDR_LEN) {
		size_t n = MIN(len, (size_t)(PCAP_GLOBAL_HDR_LEN - off));
		memcpy(dst, p->header + off, n);
		done = n;
	}
	size_t i = done < len ? find_extent(p, off + done) : p->n_ext;
	while (done < len) {
		const struct plan_extent *x = &p->ext[i];
		uint64_t skip = off + done - x->out_off;
		uint64_t span_start = x->seg_off + skip;
		size_t want = (size_t)MIN((uint64_t)(len - done), x->len - skip);
		/* Extend the pread over following extents of the same segment that lie close by,
		 * as long as the span (gaps included) still fits in the caller's buffer. */
		size_t j = i + 1, span = want;
		size_t useful = want;
		while (j < p->n_ext && useful < len - done) {
			const struct plan_extent *y = &p->ext[j];
			uint64_t prev_end = p->ext[j - 1].seg_off + p->ext[j - 1].len;
			if (y->seg != x->seg || y->seg_off < prev_end || y->seg_off - prev_end > PLAN_GAP_MAX)
				break;
			size_t take = (size_t)MIN((uint64_t)(len - done - useful), y->len);
			size_t new_span = (size_t)(y->seg_off + take - span_start);
			if (new_span > len - done)
				break;
			span = new_span;
			useful += take;
			j++;
			if (take < y->len)
				break;
		}
		ssize_t n = pread_full(p->segs[x->seg].fd, dst + done, span, span_start);
		if (n < 0)
			return err_set(err, (int)-n, "segment %" PRId64 ": read: %s", p->segs[x->seg].id,
				       strerror((int)-n));
		if ((size_t)n < span)
			return err_set(err, EIO,
				       "segment %" PRId64 " is shorter than its index says (offset %" PRIu64 ")",
				       p->segs[x->seg].id, span_start + (uint64_t)n);
		/* Squeeze the gaps out, front to back: each piece moves left (or stays). */
		size_t at = done + want;
		for (size_t k = i + 1; k < j; k++) {
			const struct plan_extent *y = &p->ext[k];
			size_t take = (size_t)MIN((uint64_t)(len - at), y->len);
			memmove(dst + at, dst + done + (y->seg_off - span_start), take);
			at += take;
		}
		done = at;
		i = j;
	}
	return (ssize_t)done;
}

size_t plan_runs(const struct plan *p, uint64_t off, size_t len, struct plan_run *runs, size_t max)
{
	size_t n = 0;
	if (off >= p->size || len == 0)
		return 0;
	len = (size_t)MIN((uint64_t)len, p->size - off);
	size_t done = 0;
	if (off < PCAP_GLOBAL_HDR_LEN) {
		if (max == 0)
			return 0;
		size_t k = MIN(len, (size_t)(PCAP_GLOBAL_HDR_LEN - off));
		runs[n++] = (struct plan_run){.fd = -1, .mem = p->header + off, .len = k};
		done = k;
	}
	for (size_t i = done < len ? find_extent(p, off + done) : p->n_ext; done < len; i++) {
		const struct plan_extent *x = &p->ext[i];
		uint64_t skip = off + done - x->out_off;
		size_t take = (size_t)MIN((uint64_t)(len - done), x->len - skip);
		int fd = p->segs[x->seg].fd;
		struct plan_run *last = n ? &runs[n - 1] : NULL;
		if (last && last->fd == fd && last->pos + last->len == x->seg_off + skip) {
			last->len += take; /* contiguous in the same segment: one run */
		} else {
			if (n == max)
				return 0;
			runs[n++] = (struct plan_run){.fd = fd, .pos = x->seg_off + skip, .len = take};
		}
		done += take;
	}
	return n;
}

/* plan_prefetch's ranges of segment bytes, each from the extent it began at (born). */
struct prefetch_range {
	uint32_t seg;
	uint64_t lo, hi;
	size_t born;
};

static size_t oldest_range(const struct prefetch_range *r, size_t n)
{
	size_t k = 0;
	for (size_t j = 1; j < n; j++)
		if (r[j].born < r[k].born)
			k = j;
	return k;
}

static void ask_range(const struct plan *p, const struct prefetch_range *r, plan_prefetch_fn *ask,
		      void *ctx)
{
	int fd = p->segs[r->seg].fd;
	if (ask)
		ask(ctx, fd, r->lo, r->hi - r->lo);
	else
		(void)posix_fadvise(fd, (off_t)r->lo, (off_t)(r->hi - r->lo), POSIX_FADV_WILLNEED);
}

void plan_prefetch(const struct plan *p, uint64_t off, uint64_t len, plan_prefetch_fn *ask, void *ctx)
{
	if (off < PCAP_GLOBAL_HDR_LEN)
		off = PCAP_GLOBAL_HDR_LEN;
	if (off >= p->size || len == 0)
		return;
	uint64_t end = len > p->size - off ? p->size : off + len;
	/* Stretches of one segment closer than PLAN_PREFETCH_GAP become one range; a few
	 * segments' ranges grow side by side (interfaces that interleave). A range is asked for
	 * when it is closed (its segment moves on, or the oldest range makes room), the rest at
	 * the end, oldest first: the reader needs them in the order they began. */
	struct prefetch_range r[4];
	size_t nr = 0, walked = 0;
	for (size_t i = find_extent(p, off); i < p->n_ext && p->ext[i].out_off < end &&
					      walked < PLAN_PREFETCH_EXTENTS;
	     i++, walked++) {
		const struct plan_extent *x = &p->ext[i];
		uint64_t skip = off > x->out_off ? off - x->out_off : 0;
		uint64_t lo = x->seg_off + skip, hi = x->seg_off + MIN((uint64_t)x->len, end - x->out_off);
		size_t k = 0;
		while (k < nr && r[k].seg != x->seg)
			k++;
		if (k < nr && lo >= r[k].lo && lo <= r[k].hi + PLAN_PREFETCH_GAP) {
			r[k].hi = MAX(r[k].hi, hi);
			continue;
		}
		if (k == nr && nr == ELEMENTSOF(r))
			k = oldest_range(r, nr); /* makes room */
		if (k < nr)
			ask_range(p, &r[k], ask, ctx);
		else
			nr++;
		r[k] = (struct prefetch_range){x->seg, lo, hi, walked};
	}
	while (nr > 0) {
		size_t k = oldest_range(r, nr);
		ask_range(p, &r[k], ask, ctx);
		r[k] = r[--nr];
	}
}

int plan_write(const struct plan *p, int fd, struct errbuf *err)
{
	size_t bufsize = 1u << 20;
	_cleanup_free_ uint8_t *buf = malloc(bufsize);
	if (!buf)
		return -ENOMEM;
	for (uint64_t off = 0; off < p->size;) {
		ssize_t n = plan_read(p, buf, bufsize, off, err);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return err_set(err, EIO, "short read at %" PRIu64, off);
		int e = write_full(fd, buf, (size_t)n);
		if (e < 0)
			return err_set(err, -e, "write: %s", strerror(-e));
		off += (uint64_t)n;
	}
	return 0;
}

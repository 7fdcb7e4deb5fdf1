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
	struct tagged *all;
	size_t n_all, cap_all;
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

static int add_segment(const struct segment *s, void *userdata)
{
	struct build *b = userdata;
	struct plan *p = b->p;
	if (p->n_segs > 0 && s->linktype != b->linktype)
		return err_set(b->err, EPROTO,
			       "the window mixes link types %u and %u (segment %" PRId64
			       "); it cannot be one pcap file",
			       b->linktype, s->linktype, s->id);
	b->linktype = s->linktype;
	struct plan_segment *ns = realloc(p->segs, (p->n_segs + 1) * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	p->segs = ns;
	struct plan_segment *ps = &p->segs[p->n_segs];
	*ps = (struct plan_segment){.fd = -1, .id = s->id, .sealed = s->state == SEGMENT_SEALED};
	p->n_segs++;
	if (!ps->sealed)
		p->has_open = true;

	struct pcap_ghdr g;
	if (!ps->sealed && open_segment_is_new(b->sp->dirfd, s->path))
		return 0; /* created a moment ago: nothing in it yet */
	int e = segment_open_read(b->sp->dirfd, s->path, &ps->fd, &g, b->err);
	if (e < 0)
		return e == -ENOENT ? -EBADMSG : e;
	if (g.linktype != s->linktype || g.prec != b->sp->cfg.prec)
		return err_set(b->err, EBADMSG, "%s.pcap: header disagrees with the catalogue", s->path);
	struct index_reader *r;
	e = segment_open_index(b->sp->dirfd, s->path, ps->fd, &r, b->err);
	if (e < 0)
		return e == -ENOENT ? -EBADMSG : e;
	size_t n = 0;
	e = index_reader_collect(r, (uint32_t)b->device_id, b->w->start_ns, b->w->end_ns, &b->tmp, &n,
				 &b->cap_tmp, b->max_packets - b->n_all, b->err);
	index_reader_free(r);
	if (e < 0)
		return e == -EFBIG ? e : err_prefix(b->err, -e, "%s.idx: ", s->path);
	if (b->n_all + n > b->cap_all) {
		size_t nc = MAX(b->cap_all * 2, b->n_all + n);
		struct tagged *na = realloc(b->all, nc * sizeof(*na));
		if (!na)
			return -ENOMEM;
		b->all = na;
		b->cap_all = nc;
	}
	for (size_t i = 0; i < n; i++)
		b->all[b->n_all++] = (struct tagged){b->tmp[i].ts_ns, b->tmp[i].offset, b->tmp[i].len,
						     (uint32_t)(p->n_segs - 1)};
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

int plan_build(struct spool *sp, int64_t device_id, const struct window *w, size_t max_packets,
	       struct plan **ret, struct errbuf *err)
{
	if (device_id <= 0 || device_id > UINT32_MAX || w->end_ns <= w->start_ns)
		return err_set(err, EINVAL, "invalid device or window");
	struct plan *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	struct build b = {.sp = sp, .p = p, .device_id = device_id, .w = w,
			  .max_packets = max_packets ? max_packets : PLAN_DEFAULT_MAX_PACKETS,
			  .linktype = 1, .err = err};
	int e = catalog_segments_for_device(sp->cat, device_id, w->start_ns, w->end_ns, add_segment,
					    &b, err);
	free(b.tmp);
	if (e < 0)
		goto fail;

	/* Segments come ordered by (t_first, interface); within a segment entries are in time
	 * order. Interfaces that overlap in time interleave: then sort, ties broken by segment
	 * order and file position so that the result is deterministic. */
	bool sorted = true;
	for (size_t i = 1; i < b.n_all && sorted; i++)
		sorted = b.all[i].ts_ns >= b.all[i - 1].ts_ns;
	if (!sorted)
		qsort(b.all, b.n_all, sizeof(*b.all), tagged_cmp);

	pcap_put_global_header(p->header, sp->cfg.prec, sp->cfg.snaplen, b.linktype);
	uint64_t out = PCAP_GLOBAL_HDR_LEN;
	size_t cap = 0;
	for (size_t i = 0; i < b.n_all; i++) {
		const struct tagged *t = &b.all[i];
		struct plan_extent *last = p->n_ext ? &p->ext[p->n_ext - 1] : NULL;
		if (last && last->seg == t->seg && last->seg_off + last->len == t->offset &&
		    (uint64_t)last->len + t->len <= UINT32_MAX) {
			last->len += t->len;
		} else {
			if (p->n_ext == cap) {
				cap = cap ? cap * 2 : 256;
				struct plan_extent *ne = realloc(p->ext, cap * sizeof(*ne));
				if (!ne) {
					e = -ENOMEM;
					goto fail;
				}
				p->ext = ne;
			}
			p->ext[p->n_ext++] = (struct plan_extent){out, t->offset, t->len, t->seg};
		}
		out += t->len;
	}
	p->size = out;
	p->packets = b.n_all;
	if (b.n_all) {
		p->t_first = b.all[0].ts_ns;
		p->t_last = b.all[b.n_all - 1].ts_ns;
	}
	free(b.all);
	*ret = p;
	return 0;
fail:
	free(b.all);
	plan_free(p);
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

/* writer.c — one interface's write path (writer.h). */
#include <inttypes.h>
#include <stdio.h>

#include "segment.h"
#include "writer.h"

#define WRITER_DEFAULT_BUFFER (8u << 20)

struct writer {
	struct spool *sp;
	struct writer_opts o;
	char iface[DEVICE_NAME_MAX + 1];
	int64_t iface_id;
	int lock_fd;
	const struct devmap *m;

	struct segment_writer *cur;
	struct segment cur_row;
	int64_t period_start, period_end; /* aligned period of the open segment */
	int64_t accept_from;		  /* its first timestamp: period_start less late_ns */

	struct writer_stats st;
	/* The spool's link type, once a segment's claim learned it: a packet of another is
	 * refused before anything else, without the catalogue and without sealing the segment
	 * being written. */
	bool lt_known;
	uint32_t lt;
};

int writer_open(struct spool *sp, const struct writer_opts *o, const struct devmap *m,
		struct writer **ret, struct errbuf *err)
{
	if (sp->rdonly)
		return err_set(err, EROFS, "spool opened read-only");
	struct writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->sp = sp;
	w->o = *o;
	w->m = m;
	w->lock_fd = -1;
	if (!w->o.buffer_bytes)
		w->o.buffer_bytes = WRITER_DEFAULT_BUFFER;
	snprintf(w->iface, sizeof(w->iface), "%s", o->iface);
	w->o.iface = w->iface;
	int e = device_name_check(o->iface, err);
	if (e < 0) {
		err_prefix(err, -e, "interface: ");
		goto fail;
	}
	e = spool_lock_interface(sp, w->iface, &w->lock_fd, err);
	if (e < 0)
		goto fail;
	struct spool_recovery rec;
	e = spool_recover(sp, m, w->iface, &rec, err);
	if (e < 0)
		goto fail;
	e = catalog_begin(sp->cat, err);
	if (e < 0)
		goto fail;
	e = catalog_interface_get(sp->cat, w->iface, true, &w->iface_id, err);
	if (e == 0)
		e = catalog_commit(sp->cat, err);
	if (e < 0) {
		catalog_rollback(sp->cat);
		goto fail;
	}
	*ret = w;
	return 0;
fail:
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	free(w);
	return e;
}

void writer_set_devmap(struct writer *w, const struct devmap *m) { w->m = m; }
const struct writer_stats *writer_stats(const struct writer *w) { return &w->st; }

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* How late a packet may come and still go into the segment of the period after its own: a
 * capture on several queues delivers packets a little out of time order, and around a period
 * boundary every packet from before it would otherwise start a segment of its own. A quarter
 * period at most (the segment still starts after the one before it), one second at most. */
static int64_t late_ns(const struct writer *w)
{
	return MIN(NS_PER_SEC, w->sp->cfg.segment_ns / 4);
}

/* Open a segment for the period holding ts: catalogue row first (so a crash leaves a row that
 * recovery removes), then the files. */
static int open_segment(struct writer *w, uint32_t linktype, int64_t ts, struct errbuf *err)
{
	struct spool *sp = w->sp;
	int64_t p = sp->cfg.segment_ns;
	w->period_start = floor_div(ts, p) * p;
	w->period_end = w->period_start + p;
	w->accept_from = w->period_start - late_ns(w);
	w->cur_row = (struct segment){
		.interface_id = w->iface_id,
		.linktype = linktype,
		.snaplen = sp->cfg.snaplen,
		.tsprec = sp->cfg.prec,
		.state = SEGMENT_OPEN,
		/* While open, the row spans the whole period and the late packets it may take:
		 * readers select open segments by t_first, and every packet of this segment is in
		 * [period_start - late, period_end). */
		.t_first = w->accept_from,
		.t_last = w->accept_from,
		.import_id = w->o.import_id,
	};
	snprintf(w->cur_row.interface, sizeof(w->cur_row.interface), "%s", w->iface);
	int e = catalog_begin(sp->cat, err);
	if (e < 0)
		return e;
	uint32_t spools;
	e = spool_claim_linktype(sp, linktype, &spools, err);
	if (e == 0 || e == -EINVAL) { /* learned: the spool's type, which its segments keep */
		w->lt_known = true;
		w->lt = spools;
	}
	if (e == 0)
		e = catalog_segment_insert(sp->cat, &w->cur_row, &w->cur_row.id, err);
	if (e == 0)
		e = spool_segment_relpath(w->cur_row.id, ts, w->cur_row.path, sizeof(w->cur_row.path));
	if (e == 0)
		e = catalog_segment_set_path(sp->cat, w->cur_row.id, w->cur_row.path, err);
	if (e == 0)
		e = catalog_commit(sp->cat, err);
	if (e < 0) {
		catalog_rollback(sp->cat);
		return e;
	}
	struct segment_params sp_params = {
		.prec = sp->cfg.prec,
		.snaplen = sp->cfg.snaplen,
		.linktype = linktype,
		.max_bytes = sp->cfg.segment_bytes,
		.buffer_bytes = w->o.buffer_bytes,
		.direct = w->o.direct,
	};
	e = segment_writer_create(sp->dirfd, w->cur_row.path, (uint64_t)w->cur_row.id, &sp_params,
				  &w->cur, err);
	if (e < 0) {
		struct errbuf ignore;
		if (catalog_begin(sp->cat, &ignore) == 0) {
			if (catalog_segment_delete(sp->cat, w->cur_row.id, &ignore) == 0)
				catalog_commit(sp->cat, &ignore);
			else
				catalog_rollback(sp->cat);
		}
	}
	return e;
}

int writer_rotate(struct writer *w, struct errbuf *err)
{
	if (!w->cur)
		return 0;
	struct segment_result res = {0};
	bool freed;
	int e = segment_writer_seal(w->cur, w->o.durable, &res, &freed, err);
	if (!freed)
		return e; /* nothing lost: the records stay buffered in w->cur, the next call retries */
	w->cur = NULL;
	if (e == 0)
		e = spool_segment_finish(w->sp, &w->cur_row, &res, err);
	if (e == 0 && res.packets)
		w->st.segments_sealed++;
	segment_result_done(&res);
	return e;
}

bool writer_open_period(const struct writer *w, int64_t *ret_start, int64_t *ret_end)
{
	if (!w->cur)
		return false;
	*ret_start = w->period_start;
	*ret_end = w->period_end;
	return true;
}

static int write_rec(struct writer *w, uint32_t linktype, int64_t ts_ns, uint32_t caplen,
		     uint32_t len, const uint8_t *data, int src_fd, uint64_t src_off,
		     struct errbuf *err)
{
	int e;
	if (_unlikely_(caplen == 0 || caplen > w->sp->cfg.snaplen || len < caplen))
		return err_set(err, EINVAL, "caplen %u is outside 1..%u (the spool's snaplen) or above len %u",
			       caplen, w->sp->cfg.snaplen, len);
	/* A classic pcap record holds unsigned 32-bit seconds: 1970 to early 2106. */
	if (_unlikely_(ts_ns < 0 || ts_ns / NS_PER_SEC > (int64_t)UINT32_MAX))
		return err_set(err, EINVAL, "timestamp %" PRId64 " ns is outside what a pcap record "
			       "holds (1970-01-01 to 2106-02-07)", ts_ns);
	/* The index holds what the segment stores: timestamps at the spool's precision. */
	if (w->sp->cfg.prec == TSPREC_US)
		ts_ns -= ts_ns % NS_PER_US;
	/* Every packet of a segment lies in the segment's period, or came late by at most
	 * late_ns, whatever the clock did: a packet stamped outside that (also one from before
	 * it, after a step back) starts a new segment, so that no window ever misses a segment
	 * that holds some of its packets. */
	if (_unlikely_(!w->cur || ts_ns >= w->period_end || ts_ns < w->accept_from ||
		       !segment_writer_fits(w->cur, caplen) || linktype != w->cur_row.linktype)) {
		if (w->lt_known && linktype != w->lt)
			return spool_linktype_refusal(w->lt, linktype, err);
		if ((e = writer_rotate(w, err)) < 0)
			return e;
		if ((e = open_segment(w, linktype, ts_ns, err)) < 0)
			return e;
	}
	uint32_t ids[CLASSIFY_MAX_DEVICES];
	int n = w->m ? classify_packet(w->m, linktype, data, caplen, ts_ns, ids, ELEMENTSOF(ids)) : 0;
	e = src_fd >= 0 ? segment_writer_append_ref(w->cur, ts_ns, caplen, len, data, ids, (size_t)n,
						      src_fd, src_off, err)
			: segment_writer_append(w->cur, ts_ns, caplen, len, data, ids, (size_t)n, err);
	if (_unlikely_(e < 0))
		return e;
	w->st.packets++;
	w->st.bytes += PCAP_REC_HDR_LEN + caplen;
	w->st.index_entries += (uint64_t)n;
	if (n == 0)
		w->st.unclassified++;
	return 0;
}

int writer_write(struct writer *w, uint32_t linktype, int64_t ts_ns, uint32_t caplen,
		 uint32_t len, const uint8_t *data, struct errbuf *err)
{
	return write_rec(w, linktype, ts_ns, caplen, len, data, -1, 0, err);
}

int writer_write_ref(struct writer *w, uint32_t linktype, int64_t ts_ns, uint32_t caplen,
		     uint32_t len, const uint8_t *data, int src_fd, uint64_t src_off,
		     struct errbuf *err)
{
	return write_rec(w, linktype, ts_ns, caplen, len, data, src_fd, src_off, err);
}

int writer_flush(struct writer *w, struct errbuf *err)
{
	return w->cur ? segment_writer_flush(w->cur, err) : 0;
}

int writer_close(struct writer *w, struct errbuf *err)
{
	if (!w)
		return 0;
	int e = writer_rotate(w, err);
	/* A seal that could not flush leaves the segment OPEN on disk with what reached it;
	 * the next writer of this interface recovers it. */
	segment_writer_release(w->cur);
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	free(w);
	return e;
}

void writer_abort(struct writer *w)
{
	if (!w)
		return;
	if (w->cur) {
		struct errbuf ignore;
		segment_writer_abort(w->cur);
		if (catalog_begin(w->sp->cat, &ignore) == 0) {
			if (catalog_segment_delete(w->sp->cat, w->cur_row.id, &ignore) == 0)
				catalog_commit(w->sp->cat, &ignore);
			else
				catalog_rollback(w->sp->cat);
		}
	}
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	free(w);
}

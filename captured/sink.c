/* sink.c — the batch queue between an interface's capture thread and its writer thread,
 * and the writer thread: batches → writer_write, a flush at least every flush interval
 * (live visibility), wall-clock rotation of an idle interface's segment, registry swaps
 * between batches, and a pause (never a corrupted spool) when the spool cannot be written.
 *
 * Everything that can wait on a disk or on SQLite happens here, never in the capture
 * thread: writer_write's buffer flushes, sealing (fsync with --durable), catalogue rows. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "captured.h"

/* ---- queue ------------------------------------------------------------------------------ */

int queue_init(struct queue *q, size_t n, size_t batch_bytes)
{
	*q = (struct queue){0};
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv_full, &ca);
	pthread_cond_init(&q->cv_free, &ca);
	pthread_condattr_destroy(&ca);
	q->all = calloc(n, sizeof(*q->all));
	if (!q->all)
		return -ENOMEM;
	q->n_total = n;
	/* The buffers are allocated (not touched) up front: the resident set grows to at most
	 * n * batch_bytes as the queue is used, and never beyond. */
	for (size_t i = 0; i < n; i++) {
		struct batch *b = &q->all[i];
		b->data = malloc(batch_bytes);
		if (!b->data)
			return -ENOMEM;
		b->cap = batch_bytes;
		b->next = q->free;
		q->free = b;
	}
	return 0;
}

void queue_done(struct queue *q)
{
	if (q->all)
		for (size_t i = 0; i < q->n_total; i++)
			free(q->all[i].data);
	free(q->all);
	q->all = NULL;
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv_full);
	pthread_cond_destroy(&q->cv_free);
}

static struct timespec ts_of(int64_t mono)
{
	return (struct timespec){.tv_sec = mono / NS_PER_SEC, .tv_nsec = mono % NS_PER_SEC};
}

struct batch *queue_get_free(struct queue *q, int64_t timeout_ns)
{
	struct timespec until = ts_of(mono_ns() + timeout_ns);
	struct batch *b = NULL;
	pthread_mutex_lock(&q->mu);
	while (!q->free && !q->consumer_done)
		if (pthread_cond_timedwait(&q->cv_free, &q->mu, &until) == ETIMEDOUT)
			break;
	if (q->free) {
		b = q->free;
		q->free = b->next;
		b->next = NULL;
		b->len = 0;
		b->n = 0;
	}
	pthread_mutex_unlock(&q->mu);
	return b;
}

void queue_push(struct queue *q, struct batch *b)
{
	pthread_mutex_lock(&q->mu);
	b->next = NULL;
	if (q->tail)
		q->tail->next = b;
	else
		q->head = b;
	q->tail = b;
	q->n_full++;
	pthread_cond_signal(&q->cv_full);
	pthread_mutex_unlock(&q->mu);
}

void queue_producer_finish(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->producer_done = true;
	pthread_cond_signal(&q->cv_full);
	pthread_mutex_unlock(&q->mu);
}

struct batch *queue_pop(struct queue *q, int64_t deadline_ns, bool *ret_eof)
{
	struct timespec until = ts_of(deadline_ns);
	struct batch *b = NULL;
	pthread_mutex_lock(&q->mu);
	while (!q->head && !q->producer_done)
		if (pthread_cond_timedwait(&q->cv_full, &q->mu, &until) == ETIMEDOUT)
			break;
	if (q->head) {
		b = q->head;
		q->head = b->next;
		if (!q->head)
			q->tail = NULL;
		q->n_full--;
	}
	*ret_eof = !b && q->producer_done;
	pthread_mutex_unlock(&q->mu);
	return b;
}

void queue_put_free(struct queue *q, struct batch *b)
{
	pthread_mutex_lock(&q->mu);
	b->next = q->free;
	q->free = b;
	pthread_cond_signal(&q->cv_free);
	pthread_mutex_unlock(&q->mu);
}

void queue_consumer_finish(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->consumer_done = true;
	pthread_cond_broadcast(&q->cv_free);
	pthread_mutex_unlock(&q->mu);
}

/* ---- published registry ------------------------------------------------------------------ */

struct mapref *daemon_map_get(struct daemon *d)
{
	pthread_mutex_lock(&d->map_mu);
	struct mapref *r = d->map;
	if (r)
		atomic_fetch_add(&r->refs, 1);
	pthread_mutex_unlock(&d->map_mu);
	return r;
}

void mapref_put(struct mapref *r)
{
	if (r && atomic_fetch_sub(&r->refs, 1) == 1) {
		devmap_free(r->m);
		free(r);
	}
}

int daemon_map_publish(struct daemon *d, struct devmap *m)
{
	struct mapref *r = malloc(sizeof(*r));
	if (!r) {
		devmap_free(m);
		return -ENOMEM;
	}
	r->m = m;
	atomic_init(&r->refs, 1);
	pthread_mutex_lock(&d->map_mu);
	struct mapref *old = d->map;
	d->map = r;
	pthread_mutex_unlock(&d->map_mu);
	atomic_fetch_add(&d->map_gen, 1);
	mapref_put(old);
	return 0;
}

/* ---- writer thread ------------------------------------------------------------------------ */

struct sink {
	struct iface *it;
	struct daemon *d;
	bool dirty;		 /* records written since the last flush */
	bool seal_warned;	 /* sealing the idle segment failed and is being retried */
	int64_t paused_since;	 /* mono ns, 0 when writing */
	int64_t last_try;	 /* mono ns of the last flush tried while paused */
	bool orphans;		 /* a seal may have failed: recover this interface's leftovers */
	char pause_msg[512];
};

static void swap_map(struct sink *s)
{
	struct iface *it = s->it;
	uint64_t gen = atomic_load(&s->d->map_gen);
	if (gen == it->map_gen)
		return;
	struct mapref *r = daemon_map_get(s->d);
	writer_set_devmap(it->w, r ? r->m : NULL);
	mapref_put(it->map);
	it->map = r;
	it->map_gen = gen;
	log_debug("%s: registry generation %" PRIu64 " in use", it->name, gen);
}

/* A write or flush failed: capture is paused until one reaches the disk. Said once per
 * reason (a full disk is retried every 100 ms: the log does not fill), and retention woken
 * when space is what is missing. */
static void pause_note(struct sink *s, const struct errbuf *err, int e)
{
	struct iface *it = s->it;
	if (!s->paused_since || strcmp(s->pause_msg, err->msg)) {
		log_err("%s: cannot write to the spool (%s); capture of %s is paused until this is "
			"resolved (retrying; packets wait in the writer's buffer, the queue and the "
			"kernel ring, the kernel drops and counts what does not fit)",
			it->name, err->msg[0] ? err->msg : strerror(-e), it->name);
		snprintf(s->pause_msg, sizeof(s->pause_msg), "%s", err->msg);
		if (!s->paused_since)
			s->paused_since = mono_ns();
		atomic_store(&it->paused, true);
	}
	if (e == -ENOSPC || e == -EDQUOT) {
		atomic_store(&s->d->space_low, true);
		house_kick(s->d, true, false);
	}
}

/* A flush reached the disk after a pause: said, and segments whose seal failed meanwhile
 * (left OPEN and unlocked) are recovered now rather than at the next start. */
static void pause_end(struct sink *s)
{
	struct iface *it = s->it;
	log_notice("%s: writing again after %.1f s paused", it->name,
		   (double)(mono_ns() - s->paused_since) / 1e9);
	s->paused_since = 0;
	s->pause_msg[0] = 0;
	atomic_store(&it->paused, false);
	if (s->orphans) {
		struct errbuf err = {{0}};
		struct spool_recovery rec = {0};
		/* Our own open segment is locked by the writer and skipped (busy). */
		if (spool_recover(it->sp, it->map ? it->map->m : NULL, it->name, &rec, &err) < 0)
			log_warn("%s: recovering segments whose seal failed: %s (retried at the next "
				 "start)", it->name, err.msg);
		else if (rec.recovered || rec.removed)
			log_notice("%s: recovered %" PRIu64 " segments whose seal had failed", it->name,
				   rec.recovered);
		if (rec.failed)
			log_warn("%s: %" PRIu64 " segments whose seal had failed could not be recovered "
				 "(retried at the next start); the first: %s", it->name, rec.failed,
				 rec.first_failure);
		s->orphans = false;
	}
}

/* The spool cannot take the record: pause, and retry every 100 ms while the capture thread
 * keeps filling the queue and then the kernel ring. Returns false when the daemon is
 * stopping and the record is given up. */
static bool pause_write(struct sink *s, struct errbuf *err, int e)
{
	s->orphans = true;
	pause_note(s, err, e);
	atomic_store(&s->it->wr_heartbeat, mono_ns());
	if (atomic_load(&s->d->stop))
		return false;
	struct timespec t = {0, 100 * 1000 * 1000};
	nanosleep(&t, NULL);
	return true;
}

/* Paused: the spool took records into the writer's buffer again, but only a flush that
 * reaches the disk ends the pause. */
static void resume(struct sink *s)
{
	struct errbuf err = {{0}};
	if (!s->paused_since || mono_ns() - s->last_try < 100 * 1000 * 1000)
		return;
	s->last_try = mono_ns();
	if (writer_flush(s->it->w, &err) < 0)
		return;
	s->dirty = false;
	pause_end(s);
}

/* Write the records of one batch. Returns false when the rest had to be given up. */
static bool write_batch(struct sink *s, const struct batch *b)
{
	struct iface *it = s->it;
	size_t off = 0;
	for (uint32_t i = 0; i < b->n; i++) {
		const struct batch_rec *r = (const void *)(b->data + off);
		const uint8_t *data = b->data + off + sizeof(*r);
		off += sizeof(*r) + ((r->caplen + 7u) & ~7u);
		for (;;) {
			/* A failure keeps every record the writer took before (also across a
			 * rotation whose flush fails) and did not take this one: retry it. */
			struct errbuf err = {{0}};
			int e = writer_write(it->w, b->linktype, r->ts_ns, r->caplen, r->len, data, &err);
			if (e == 0) {
				resume(s);
				break;
			}
			if (e == -EINVAL) { /* a record the spool cannot store: skip it, say why */
				uint64_t n = atomic_fetch_add(&it->skipped, 1);
				if ((n & (n + 1)) == 0) /* 1st, 2nd, 4th, 8th... */
					log_warn("%s: packet not stored (%" PRIu64 " so far): %s", it->name,
						 n + 1, err.msg);
				goto next;
			}
			if (!pause_write(s, &err, e)) {
				atomic_fetch_add(&it->lost, b->n - i);
				return false;
			}
		}
		s->dirty = true;
		atomic_fetch_add(&it->written, 1);
next:;
	}
	return true;
}

static void do_flush(struct sink *s)
{
	struct errbuf err = {{0}};
	if (!s->dirty)
		return;
	int e = writer_flush(s->it->w, &err);
	if (e < 0) { /* the bytes stay buffered; the next flush or write retries them */
		pause_note(s, &err, e);
		return;
	}
	s->dirty = false;
	if (s->paused_since)
		pause_end(s);
}

void *writer_thread(void *arg)
{
	struct iface *it = arg;
	struct daemon *d = it->d;
	struct sink s = {.it = it, .d = d};
	char name[16 + IFACE_NAME_MAX]; /* thread names: at most 15 bytes */
	snprintf(name, sizeof(name), "wr-%s", it->name);
	name[15] = 0;
	pthread_setname_np(pthread_self(), name);

	/* A packet reaches this thread at most 2.5 handover periods (each flush/10, 10..100 ms)
	 * after capture (capture.c). Flushing once the oldest unflushed batch has waited the
	 * interval less 3 handover periods bounds the capture-to-visibility time by the
	 * interval; under steady traffic that is one flush per such period. */
	int64_t period = d->o.flush_ns - 3 * MIN(MAX(d->o.flush_ns / 10, 10 * 1000 * 1000),
						   100 * 1000 * 1000);
	if (period < 5 * 1000 * 1000)
		period = 5 * 1000 * 1000;
	int64_t next_flush = INT64_MAX; /* nothing unflushed */
	bool giving_up = false;
	for (;;) {
		bool eof;
		int64_t now = mono_ns();
		struct batch *b = queue_pop(&it->q, MIN(next_flush, now + 200 * 1000 * 1000), &eof);
		atomic_store(&it->wr_heartbeat, mono_ns());
		swap_map(&s);
		if (b) {
			if (next_flush == INT64_MAX)
				next_flush = mono_ns() + period;
			if (giving_up)
				atomic_fetch_add(&it->lost, b->n);
			else if (!write_batch(&s, b))
				giving_up = true; /* stopping while the spool refuses writes */
			queue_put_free(&it->q, b);
		} else if (eof) {
			break;
		}
		now = mono_ns();
		if (now >= next_flush) {
			do_flush(&s);
			next_flush = s.dirty ? now + period / 4 : INT64_MAX; /* failed: retry soon */
		}
		/* Idle interface: seal the open segment once its period is over on the wall clock
		 * (plus the kernel's block timeout and the handover, which may still bring older
		 * packets). */
		int64_t p_start, p_end;
		if (!b && writer_open_period(it->w, &p_start, &p_end) &&
		    now_ns() >= p_end + 500 * 1000 * 1000) {
			struct errbuf err = {{0}};
			do_flush(&s);
			int e = writer_rotate(it->w, &err);
			if (e < 0 && writer_open_period(it->w, &p_start, &p_end)) {
				if (!s.seal_warned)
					log_warn("%s: sealing an idle segment: %s (retrying)", it->name,
						 err.msg);
				s.seal_warned = true;
			} else if (e < 0)
				log_err("%s: sealing an idle segment failed: %s (recovered at the next "
					"start)", it->name, err.msg);
			else
				log_debug("%s: idle segment sealed", it->name);
			if (!writer_open_period(it->w, &p_start, &p_end))
				s.dirty = s.seal_warned = false;
		}
	}
	queue_consumer_finish(&it->q);
	struct errbuf err = {{0}};
	const struct writer_stats *st = writer_stats(it->w);
	int64_t p_start, p_end;
	bool seg_open = writer_open_period(it->w, &p_start, &p_end);
	uint64_t written = st->packets, sealed = st->segments_sealed;
	int e = writer_close(it->w, &err);
	it->w = NULL;
	if (e < 0)
		log_err("%s: sealing the open segment failed: %s; the next start recovers it",
			it->name, err.msg);
	else
		log_info("%s: %" PRIu64 " packets written, %" PRIu64 " segments sealed", it->name,
			 written, sealed + (seg_open ? 1 : 0));
	return NULL;
}

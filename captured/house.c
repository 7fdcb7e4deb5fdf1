/* house.c — the housekeeping thread: registry reloads, statistics rows and retention, off
 * the hot path, on a spool handle (and so a catalogue connection) of its own.
 *
 * Retention removes sealed segments, oldest last packet first, while one of the limits is
 * exceeded: --max-age (last packet older than that), --max-size (all segment and index
 * files together), --min-free (free space of the spool's file system, in percent). An open
 * segment is never removed: only SEALED rows are candidates, and a writer's segment stays
 * OPEN until it is sealed. The catalogue row goes first (readers stop planning with it),
 * then the files; on a full disk, where even the row's deletion may not find room in the
 * WAL, the files go first and the row is retried. Every removal is logged with what it
 * held. */
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "captured.h"

struct seg_info {
	int64_t id;
	int64_t t_first, t_last;
	uint64_t packets;
	uint64_t size; /* allocated bytes of the segment and its index */
	int state;
	char iface[DEVICE_NAME_MAX + 1];
	char path[256];
};

struct house {
	struct daemon *d;
	bool full_told; /* "full and no retention limit" said, until space is seen again */
	struct spool *sp;
	int64_t gen;
	int64_t *if_ids;
	struct seg_info *v;
	size_t n, cap;
	int e; /* first error of a collection pass */
};

void house_kick(struct daemon *d, bool retention, bool reload)
{
	pthread_mutex_lock(&d->house_mu);
	d->house_kick_retention |= retention;
	d->house_kick_reload |= reload;
	pthread_cond_signal(&d->house_cv);
	pthread_mutex_unlock(&d->house_mu);
}

/* ---- registry ------------------------------------------------------------------------ */

static void reload_registry(struct house *h, bool force)
{
	int64_t gen = 0;
	struct errbuf err = {{0}};
	struct devmap *m = NULL;
	if (catalog_registry_generation(h->sp->cat, &gen) < 0) {
		log_warn("cannot read the registry generation; keeping the current registry");
		return;
	}
	if (gen == h->gen && !force)
		return;
	int e = catalog_load_devmap(h->sp->cat, &m, &err);
	if (e < 0) {
		log_err("loading the device registry failed, keeping the previous one: %s", err.msg);
		return;
	}
	size_t n = devmap_count(m);
	if (daemon_map_publish(h->d, m) < 0) {
		log_err("out of memory publishing the device registry");
		return;
	}
	if (h->gen)
		log_notice("device registry reloaded (generation %" PRId64 ", %zu address bindings)",
			   gen, n);
	h->gen = gen;
}

/* ---- statistics ---------------------------------------------------------------------- */

static void write_stats(struct house *h)
{
	struct daemon *d = h->d;
	struct errbuf err = {{0}};
	int64_t now = now_ns();
	int e = catalog_begin(h->sp->cat, &err);
	for (size_t i = 0; e == 0 && i < d->n_ifs; i++) {
		struct iface *it = &d->ifs[i];
		struct capture_stats s = {
			.interface_id = h->if_ids[i],
			.ts_ns = now,
			.received = atomic_load(&it->received),
			.dropped = atomic_load(&it->dropped),
			.if_dropped = atomic_load(&it->if_dropped),
			.packets = atomic_load(&it->packets),
			.bytes = atomic_load(&it->bytes),
		};
		e = catalog_stats_add(h->sp->cat, &s, &err);
	}
	uint64_t pruned = 0;
	if (e == 0 && d->o.stats_keep_ns)
		e = catalog_stats_prune(h->sp->cat, now - d->o.stats_keep_ns, &pruned, &err);
	if (e == 0)
		e = catalog_commit(h->sp->cat, &err);
	if (e < 0) {
		catalog_rollback(h->sp->cat);
		log_warn("writing capture statistics failed: %s", err.msg);
	}
}

/* ---- retention ------------------------------------------------------------------------- */

static uint64_t file_size(int dirfd, const char *path, const char *ext)
{
	char p[300];
	struct stat st;
	snprintf(p, sizeof(p), "%s%s", path, ext);
	if (fstatat(dirfd, p, &st, 0) < 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

static int collect(const struct segment *s, void *userdata)
{
	struct house *h = userdata;
	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 1024;
		struct seg_info *nv = realloc(h->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		h->v = nv;
		h->cap = nc;
	}
	struct seg_info *i = &h->v[h->n++];
	*i = (struct seg_info){.id = s->id, .t_first = s->t_first, .t_last = s->t_last,
			       .packets = s->packets, .state = s->state};
	snprintf(i->iface, sizeof(i->iface), "%s", s->interface);
	snprintf(i->path, sizeof(i->path), "%s", s->path);
	if (s->path[0])
		i->size = file_size(h->sp->dirfd, s->path, ".pcap") +
			  file_size(h->sp->dirfd, s->path, ".idx");
	return 0;
}

static int by_age(const void *a, const void *b)
{
	const struct seg_info *x = a, *y = b;
	if (x->t_last != y->t_last)
		return x->t_last < y->t_last ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int remove_segment(struct house *h, const struct seg_info *s, const char *reason)
{
	struct errbuf err = {{0}};
	bool files_gone = false;
	int e = catalog_segment_delete(h->sp->cat, s->id, &err);
	if (e == -ENOSPC || e == -EIO) {
		/* No room even for the deletion in the WAL: free the files' space first. */
		segment_unlink(h->sp->dirfd, s->path);
		files_gone = true;
		e = catalog_segment_delete(h->sp->cat, s->id, &err);
	}
	if (e < 0 && e != -ENOENT) {
		log_err("retention: cannot remove segment %" PRId64 " (%s): %s", s->id, s->path,
			err.msg);
		return e;
	}
	if (!files_gone)
		segment_unlink(h->sp->dirfd, s->path);
	char a[48], b[48], sz[32];
	format_time(s->t_first, a, sizeof(a));
	format_time(s->t_last, b, sizeof(b));
	format_bytes(s->size, sz, sizeof(sz));
	log_notice("retention: removed segment %" PRId64 " of %s (%s, %s .. %s, %" PRIu64
		   " packets, %s): %s",
		   s->id, s->iface, s->path, a, b, s->packets, sz, reason);
	atomic_fetch_add(&h->d->segments_removed, 1);
	return 0;
}

static bool any_paused(struct daemon *d)
{
	for (size_t i = 0; i < d->n_ifs; i++)
		if (atomic_load(&d->ifs[i].paused))
			return true;
	return false;
}

static void retention(struct house *h)
{
	struct daemon *d = h->d;
	const struct options *o = &d->o;
	struct errbuf err = {{0}};
	bool urgent = atomic_exchange(&d->space_low, false);
	if (!o->max_age_ns && !o->max_bytes && !(o->min_free_pct > 0)) {
		/* Once per episode: the writers ask at every failed flush. */
		if (urgent && !h->full_told)
			log_err("the spool's file system is full and no retention limit is set "
				"(--max-age, --max-size, --min-free): capture stays paused until space "
				"is freed");
		h->full_told = urgent || (h->full_told && any_paused(d));
		return;
	}
	h->n = 0;
	int e = catalog_segment_foreach(h->sp->cat, -1, collect, h, &err);
	if (e < 0) {
		log_warn("retention: listing segments failed: %s", err.msg);
		return;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < h->n; i++)
		total += h->v[i].size;
	struct statvfs vfs;
	double fs_total = 0, fs_free = 0;
	if (fstatvfs(h->sp->dirfd, &vfs) == 0) {
		fs_total = (double)vfs.f_blocks * (double)vfs.f_frsize;
		fs_free = (double)vfs.f_bavail * (double)vfs.f_frsize;
	}
	if (h->n > 1)
		qsort(h->v, h->n, sizeof(*h->v), by_age);
	int64_t horizon = o->max_age_ns ? now_ns() - o->max_age_ns : INT64_MIN;
	size_t removed = 0, sealed = 0;
	for (size_t i = 0; i < h->n; i++) {
		const struct seg_info *s = &h->v[i];
		char reason[160];
		if (s->state != SEGMENT_SEALED || !s->path[0])
			continue; /* never the segment being written */
		sealed++;
		double pct = fs_total > 0 ? 100.0 * fs_free / fs_total : 100;
		if (s->t_last < horizon) {
			char t[48];
			format_time(horizon, t, sizeof(t));
			snprintf(reason, sizeof(reason), "older than --max-age (horizon %s)", t);
		} else if (o->max_bytes && total > o->max_bytes) {
			char a[32], b[32];
			format_bytes(total, a, sizeof(a));
			format_bytes(o->max_bytes, b, sizeof(b));
			snprintf(reason, sizeof(reason), "spool holds %s, above --max-size %s", a, b);
		} else if (o->min_free_pct > 0 && pct < o->min_free_pct) {
			snprintf(reason, sizeof(reason), "%.1f%% free on the spool's file system, below "
				 "--min-free %.1f%%", pct, o->min_free_pct);
		} else {
			break; /* the rest is newer */
		}
		if (remove_segment(h, s, reason) < 0)
			break;
		removed++;
		total -= MIN(total, s->size);
		/* Estimated: a reader holding the file open delays the release of its blocks. */
		fs_free += (double)s->size;
	}
	if (urgent && removed == 0)
		log_err("the spool's file system is full and retention found nothing to remove "
			"(%zu sealed segments, none beyond the limits): capture stays paused until "
			"space is freed", sealed);
}

/* ---- the thread ------------------------------------------------------------------------ */

void *house_thread(void *arg)
{
	struct house *h = arg;
	struct daemon *d = h->d;
	pthread_setname_np(pthread_self(), "housekeeping");
	int64_t now = mono_ns();
	int64_t next_reg = now + NS_PER_SEC, next_stats = now + d->o.stats_ns,
		next_ret = now + MIN(d->o.retention_ns, 2 * NS_PER_SEC);
	for (;;) {
		bool kick_ret, kick_reload, stop;
		int64_t wake = MIN(next_reg, MIN(next_stats, next_ret));
		struct timespec until = {.tv_sec = wake / NS_PER_SEC, .tv_nsec = wake % NS_PER_SEC};
		pthread_mutex_lock(&d->house_mu);
		while (!d->house_stop && !d->house_kick_retention && !d->house_kick_reload &&
		       pthread_cond_timedwait(&d->house_cv, &d->house_mu, &until) != ETIMEDOUT)
			;
		kick_ret = d->house_kick_retention;
		kick_reload = d->house_kick_reload;
		stop = d->house_stop;
		d->house_kick_retention = d->house_kick_reload = false;
		pthread_mutex_unlock(&d->house_mu);
		now = mono_ns();
		atomic_store(&d->house_heartbeat, now);
		if (stop)
			break;
		if (kick_reload || now >= next_reg) {
			reload_registry(h, kick_reload);
			next_reg = now + NS_PER_SEC;
		}
		if (now >= next_stats) {
			write_stats(h);
			next_stats = now + d->o.stats_ns;
		}
		if (kick_ret || kick_reload || now >= next_ret) {
			retention(h);
			next_ret = mono_ns() + d->o.retention_ns;
		}
	}
	write_stats(h); /* the final figures */
	return NULL;
}

struct house *house_new(struct daemon *d, struct errbuf *err)
{
	struct house *h = calloc(1, sizeof(*h));
	if (!h) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	h->d = d;
	h->if_ids = calloc(d->n_ifs, sizeof(*h->if_ids));
	int e = h->if_ids ? spool_open(d->o.spool, SPOOL_NO_RECOVER, d->o.lock_timeout_ms, &h->sp, err)
			  : err_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; e == 0 && i < d->n_ifs; i++)
		e = catalog_interface_get(h->sp->cat, d->ifs[i].name, true, &h->if_ids[i], err);
	if (e == 0) {
		e = catalog_registry_generation(h->sp->cat, &h->gen);
		if (e < 0)
			err_set(err, -e, "reading the registry generation failed");
	}
	if (e == 0) {
		struct devmap *m = NULL;
		e = catalog_load_devmap(h->sp->cat, &m, err);
		if (e == 0)
			e = daemon_map_publish(d, m);
	}
	if (e < 0) {
		house_free(h);
		return NULL;
	}
	return h;
}

void house_free(struct house *h)
{
	if (!h)
		return;
	spool_close(h->sp);
	free(h->if_ids);
	free(h->v);
	free(h);
}

/* spool.c — spool directory, settings, locks and crash recovery (layout in spool.h). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "segment.h"
#include "spool.h"

void spool_config_default(struct spool_config *c)
{
	*c = (struct spool_config){
		.prec = TSPREC_US,
		.snaplen = PCAP_MAX_CAPLEN,
		.segment_ns = SPOOL_DEFAULT_SEGMENT_NS,
		.segment_bytes = SPOOL_DEFAULT_SEGMENT_BYTES,
		.max_window_ns = SPOOL_DEFAULT_MAX_WINDOW_NS,
	};
}

int spool_config_check(const struct spool_config *c, struct errbuf *err)
{
	if (c->prec != TSPREC_US && c->prec != TSPREC_NS)
		return err_set(err, EINVAL, "precision must be us or ns");
	if (c->snaplen < 64 || c->snaplen > PCAP_MAX_CAPLEN)
		return err_set(err, EINVAL, "snaplen %u is outside 64..%u", c->snaplen, PCAP_MAX_CAPLEN);
	if (c->segment_ns < SPOOL_MIN_SEGMENT_NS || c->segment_ns > SPOOL_MAX_SEGMENT_NS ||
	    (86400 * NS_PER_SEC) % c->segment_ns != 0)
		return err_set(err, EINVAL,
			       "segment period must divide a day evenly and lie between 1 s and 1 day");
	if (c->segment_bytes < SPOOL_MIN_SEGMENT_BYTES || c->segment_bytes > SEGMENT_MAX_BYTES)
		return err_set(err, EINVAL, "segment size must lie between 1 MiB and 4 GiB - 1");
	if (c->max_window_ns < NS_PER_SEC || c->max_window_ns > 31 * 86400 * NS_PER_SEC)
		return err_set(err, EINVAL, "maximum window must lie between 1 s and 31 days");
	return 0;
}

static int meta_i64(struct catalog *cat, const char *key, int64_t *v)
{
	char buf[64], *end;
	int e = catalog_meta_get(cat, key, buf, sizeof(buf));
	if (e < 0)
		return e;
	errno = 0;
	long long x = strtoll(buf, &end, 10);
	if (errno || *end || end == buf)
		return -EPROTO;
	*v = x;
	return 0;
}

static int load_config(struct spool *sp, struct errbuf *err)
{
	struct spool_config *c = &sp->cfg;
	int64_t prec, snaplen, seg_ns, seg_bytes, maxw;
	if (meta_i64(sp->cat, "precision", &prec) < 0 || meta_i64(sp->cat, "snaplen", &snaplen) < 0 ||
	    meta_i64(sp->cat, "segment_ns", &seg_ns) < 0 ||
	    meta_i64(sp->cat, "segment_bytes", &seg_bytes) < 0 ||
	    meta_i64(sp->cat, "max_window_ns", &maxw) < 0)
		return err_set(err, EPROTO, "%s: spool settings missing or invalid in the catalogue", sp->path);
	c->prec = prec == 9 ? TSPREC_NS : prec == 6 ? TSPREC_US : (enum tsprec)-1;
	c->snaplen = snaplen > 0 && snaplen <= PCAP_MAX_CAPLEN ? (uint32_t)snaplen : 0;
	c->segment_ns = seg_ns;
	c->segment_bytes = seg_bytes > 0 ? (uint64_t)seg_bytes : 0;
	c->max_window_ns = maxw;
	int e = spool_config_check(c, err);
	if (e < 0)
		return err_prefix(err, EPROTO, "%s: invalid spool settings: ", sp->path);
	return 0;
}

static int store_config(struct catalog *cat, const struct spool_config *c, struct errbuf *err)
{
	char v[32];
	int e;
	snprintf(v, sizeof(v), "%d", c->prec == TSPREC_NS ? 9 : 6);
	if ((e = catalog_meta_set(cat, "precision", v, err)) < 0)
		return e;
	snprintf(v, sizeof(v), "%u", c->snaplen);
	if ((e = catalog_meta_set(cat, "snaplen", v, err)) < 0)
		return e;
	snprintf(v, sizeof(v), "%" PRId64, c->segment_ns);
	if ((e = catalog_meta_set(cat, "segment_ns", v, err)) < 0)
		return e;
	snprintf(v, sizeof(v), "%" PRIu64, c->segment_bytes);
	if ((e = catalog_meta_set(cat, "segment_bytes", v, err)) < 0)
		return e;
	snprintf(v, sizeof(v), "%" PRId64, c->max_window_ns);
	return catalog_meta_set(cat, "max_window_ns", v, err);
}

int spool_linktype(struct spool *sp, uint32_t *ret, bool *ret_known, struct errbuf *err)
{
	return catalog_segment_first_linktype(sp->cat, ret, ret_known, err);
}

int spool_linktype_refusal(uint32_t spools, uint32_t linktype, struct errbuf *err)
{
	const char *a = classify_linktype_name(linktype), *b = classify_linktype_name(spools);
	return err_set(err, EINVAL, "link type %u (%s) differs from the spool's, %u (%s): a window "
		       "is one pcap file of one link type, so a spool stores one (use another spool "
		       "for these packets)",
		       linktype, a ? a : "?", spools, b ? b : "?");
}

int spool_claim_linktype(struct spool *sp, uint32_t linktype, uint32_t *ret_spools,
			 struct errbuf *err)
{
	bool known;
	int e = spool_linktype(sp, ret_spools, &known, err);
	if (e < 0) /* not -EINVAL, which says "refused" */
		return e == -EINVAL ? -EIO : e;
	if (!known) {
		*ret_spools = linktype;
		return 0;
	}
	return *ret_spools == linktype ? 0 : spool_linktype_refusal(*ret_spools, linktype, err);
}

static int db_path(const char *dir, char *buf, size_t size)
{
	return snprintf(buf, size, "%s/catalog.db", dir) >= (int)size ? -ENAMETOOLONG : 0;
}

int spool_init(const char *path, const struct spool_config *cfg, struct errbuf *err)
{
	int e = spool_config_check(cfg, err);
	if (e < 0)
		return e;
	if (strlen(path) >= SPOOL_MAX_PATH - 32)
		return err_set(err, ENAMETOOLONG, "spool path too long");
	if (mkdir(path, 0750) < 0 && errno != EEXIST)
		return err_set(err, errno, "%s: cannot create directory: %s", path, strerror(errno));
	char db[SPOOL_MAX_PATH];
	db_path(path, db, sizeof(db));
	if (access(db, F_OK) == 0)
		return err_set(err, EEXIST, "%s is already a pcapfs spool", path);
	for (const char *sub = "seg\0locks\0"; *sub; sub += strlen(sub) + 1) {
		char d[SPOOL_MAX_PATH];
		snprintf(d, sizeof(d), "%s/%s", path, sub);
		if (mkdir(d, 0750) < 0 && errno != EEXIST)
			return err_set(err, errno, "%s: cannot create directory: %s", d, strerror(errno));
	}
	/* 0640 whatever the umask, made here so that SQLite gives its -wal and -shm files the
	 * same mode: the catalogue holds the query log. */
	int fd = open(db, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return err_set(err, errno, "%s: %s", db, strerror(errno));
	(void)fchmod(fd, 0640);
	close(fd);
	struct catalog *cat;
	e = catalog_open(db, CATALOG_CREATE, SPOOL_DEFAULT_LOCK_TIMEOUT_MS, &cat, err);
	if (e < 0) {
		unlink(db); /* not a spool after all: init may be run again */
		return e;
	}
	e = catalog_begin(cat, err);
	if (e == 0) {
		e = store_config(cat, cfg, err);
		if (e == 0)
			e = catalog_commit(cat, err);
		else
			catalog_rollback(cat);
	}
	catalog_close(cat);
	return e;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	catalog_close(sp->cat);
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	free(sp);
}

int spool_open(const char *path, int flags, int lock_timeout_ms, struct spool **ret,
	       struct errbuf *err)
{
	if (strlen(path) >= SPOOL_MAX_PATH - 32)
		return err_set(err, ENAMETOOLONG, "spool path too long");
	struct spool *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	snprintf(sp->path, sizeof(sp->path), "%s", path);
	sp->rdonly = flags & SPOOL_RDONLY;
	sp->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int e;
	if (sp->dirfd < 0 && errno == ENOENT) {
		e = err_set(err, ENOENT, "%s: not a pcapfs spool (no such directory); create one with "
				       "'pcapfsctl --spool %s init'", path, path);
		goto fail;
	}
	if (sp->dirfd < 0) {
		e = err_set(err, errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	char db[SPOOL_MAX_PATH];
	db_path(path, db, sizeof(db));
	e = catalog_open(db, sp->rdonly ? CATALOG_RDONLY : 0, lock_timeout_ms, &sp->cat, err);
	if (e == -ENOENT) {
		e = err_set(err, ENOENT, "%s: not a pcapfs spool (no catalog.db); make one with "
				       "'pcapfsctl --spool %s init'", path, path);
		goto fail;
	}
	if (e < 0)
		goto fail;
	e = load_config(sp, err);
	if (e < 0)
		goto fail;
	if (!sp->rdonly && !(flags & SPOOL_NO_RECOVER)) {
		e = spool_recover(sp, NULL, NULL, &sp->recovery, err);
		if (e < 0)
			goto fail;
	}
	*ret = sp;
	return 0;
fail:
	spool_close(sp);
	return e;
}

static int lock_file(struct spool *sp, const char *name, int *ret_fd, struct errbuf *err)
{
	char p[300];
	if (snprintf(p, sizeof(p), "locks/%s", name) >= (int)sizeof(p))
		return err_set(err, ENAMETOOLONG, "lock name too long");
	if (mkdirat(sp->dirfd, "locks", 0750) < 0 && errno != EEXIST)
		return err_set(err, errno, "%s/locks: %s", sp->path, strerror(errno));
	int fd = openat(sp->dirfd, p, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return err_set(err, errno, "%s/%s: %s", sp->path, p, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ? -EBUSY : err_set(err, e, "%s/%s: flock: %s", sp->path, p, strerror(e));
	}
	*ret_fd = fd;
	return 0;
}

int spool_lock_interface(struct spool *sp, const char *iface, int *ret_fd, struct errbuf *err)
{
	char name[128];
	snprintf(name, sizeof(name), "if-%s.lock", iface);
	int e = lock_file(sp, name, ret_fd, err);
	if (e == -EBUSY)
		return err_set(err, EBUSY, "interface %s is being written by another process", iface);
	return e;
}

int spool_lock_import(struct spool *sp, int64_t import_id, int *ret_fd, struct errbuf *err)
{
	char name[64];
	snprintf(name, sizeof(name), "import-%" PRId64 ".lock", import_id);
	int e = lock_file(sp, name, ret_fd, err);
	if (e == -EBUSY)
		return err_set(err, EBUSY, "import %" PRId64 " is running", import_id);
	return e;
}

void spool_unlock_import(struct spool *sp, int64_t import_id, int fd)
{
	if (fd < 0)
		return;
	char name[64];
	snprintf(name, sizeof(name), "locks/import-%" PRId64 ".lock", import_id);
	unlinkat(sp->dirfd, name, 0);
	close(fd);
}

int spool_segment_relpath(int64_t id, int64_t t_ns, char *buf, size_t size)
{
	time_t secs = (time_t)(t_ns / NS_PER_SEC);
	struct tm tm;
	if (!gmtime_r(&secs, &tm))
		return -EINVAL;
	int n = snprintf(buf, size, "seg/%04d%02d%02d/%" PRId64, tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, id);
	return n >= (int)size ? -ENAMETOOLONG : 0;
}

int spool_segment_finish(struct spool *sp, const struct segment *s,
			 const struct segment_result *res, struct errbuf *err)
{
	int e = catalog_begin(sp->cat, err);
	if (e < 0)
		return e;
	if (res->packets == 0) {
		e = catalog_segment_delete(sp->cat, s->id, err);
	} else {
		struct segment done = *s;
		done.state = SEGMENT_SEALED;
		done.t_first = res->t_first;
		done.t_last = res->t_last;
		done.packets = res->packets;
		done.bytes = res->bytes;
		e = catalog_segment_seal(sp->cat, &done, res->sums, res->n_sums, err);
	}
	if (e == 0)
		e = catalog_commit(sp->cat, err);
	if (e < 0) {
		catalog_rollback(sp->cat);
		return e;
	}
	if (res->packets == 0)
		segment_unlink(sp->dirfd, s->path);
	return 0;
}

/* ---- recovery ---------------------------------------------------------------------------- */

struct import_list {
	int64_t *ids;
	size_t n, cap;
};

static int collect_import(const struct import_info *i, void *userdata)
{
	struct import_list *l = userdata;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		int64_t *nv = realloc(l->ids, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->ids = nv;
		l->cap = nc;
	}
	l->ids[l->n++] = i->id;
	return 0;
}

int spool_recover(struct spool *sp, const struct devmap *m, const char *only_iface,
		  struct spool_recovery *ret, struct errbuf *err)
{
	*ret = (struct spool_recovery){0};
	struct segment_list open = {0};
	struct devmap *own = NULL;
	int e = catalog_segment_foreach(sp->cat, SEGMENT_OPEN, segment_list_add, &open, err);
	for (size_t i = 0; e >= 0 && i < open.n; i++) {
		struct segment *s = &open.v[i];
		if (only_iface && strcmp(s->interface, only_iface) != 0)
			continue;
		int lock_fd = -1;
		if (!only_iface) {
			e = spool_lock_interface(sp, s->interface, &lock_fd, NULL);
			if (e == -EBUSY) {
				ret->busy++;
				e = 0;
				continue;
			}
			if (e < 0) {
				err_set(err, -e, "cannot lock interface %s: %s", s->interface, strerror(-e));
				break;
			}
		}
		if (!m && !own) {
			e = catalog_load_devmap(sp->cat, &own, err);
			if (e < 0) {
				if (lock_fd >= 0)
					close(lock_fd);
				break;
			}
		}
		struct segment_result res = {0};
		uint64_t cut = 0;
		e = segment_recover(sp->dirfd, s->path, (uint64_t)s->id, m ? m : own, true, &res, &cut, err);
		if (e == SEGMENT_BUSY) {
			ret->busy++;
			e = 0;
		} else if (e == SEGMENT_EMPTY) {
			res.packets = 0;
			e = spool_segment_finish(sp, s, &res, err);
			ret->removed++;
		} else if (e == SEGMENT_RECOVERED) {
			e = spool_segment_finish(sp, s, &res, err);
			ret->recovered++;
			ret->truncated_bytes += cut;
		} else {
			/* One segment that cannot be recovered (its pcap header is damaged, the disk is
			 * full) must not lock everyone out of the spool: it stays open, verify reports it,
			 * and the others go on. */
			if (ret->failed++ == 0)
				snprintf(ret->first_failure, sizeof(ret->first_failure),
					 "segment %" PRId64 " (%.100s): %.300s", s->id, s->path, err ? err->msg : "");
			e = 0;
		}
		segment_result_done(&res);
		if (lock_fd >= 0)
			close(lock_fd);
	}
	free(open.v);
	devmap_free(own);
	if (e < 0 || only_iface)
		return e;

	struct import_list running = {0};
	e = catalog_import_foreach(sp->cat, IMPORT_RUNNING, collect_import, &running, err);
	for (size_t i = 0; e >= 0 && i < running.n; i++) {
		int fd;
		e = spool_lock_import(sp, running.ids[i], &fd, NULL);
		if (e == -EBUSY) {
			e = 0;
			continue;
		}
		if (e < 0)
			break;
		/* The import may have ended between the list and the lock: then it is no longer
		 * running and keeps the state it gave itself. */
		e = catalog_import_end(sp->cat, running.ids[i], IMPORT_INTERRUPTED, 0, 0, err);
		spool_unlock_import(sp, running.ids[i], fd);
		if (e == -ENOENT)
			e = 0;
		else if (e == 0)
			ret->imports_interrupted++;
	}
	free(running.ids);
	return e < 0 ? e : 0;
}

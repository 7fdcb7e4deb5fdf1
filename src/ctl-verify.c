/* ctl-verify.c — pcapfsctl verify, reindex and status: checking and repairing the store.
 *
 * verify walks every record of every segment and checks that each index entry points at a
 * record boundary with the record's own timestamp and length, that the index covers the
 * whole segment, and that the catalogue agrees with the files. Cost: one sequential read of
 * all segments plus their indexes; memory: one segment's record table at a time. */
#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <sys/statvfs.h>

#include "ctl.h"
#include "segment.h"

struct rec_pos {
	uint64_t off;
	int64_t ts;
	uint32_t len;
};

struct verify_seg {
	struct rec_pos *v;
	size_t n, cap;
	uint64_t bad_entries;
	char first_bad[256];
};

static int note_record(int64_t ts_ns, uint64_t off, uint32_t caplen, uint32_t len,
		       const uint8_t *data, void *userdata)
{
	struct verify_seg *s = userdata;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 4096;
		struct rec_pos *nv = realloc(s->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n++] = (struct rec_pos){off, ts_ns, PCAP_REC_HDR_LEN + caplen};
	return 0;
}

static int check_run(size_t chunk, uint32_t device_id, const struct index_entry *e, size_t n,
		     void *userdata)
{
	struct verify_seg *s = userdata;
	for (size_t i = 0; i < n; i++) {
		size_t lo = 0, hi = s->n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (s->v[mid].off < e[i].offset)
				lo = mid + 1;
			else
				hi = mid;
		}
		const char *why = NULL;
		if (lo == s->n || s->v[lo].off != e[i].offset)
			why = "is not a record boundary";
		else if (s->v[lo].ts != e[i].ts_ns)
			why = "has another timestamp than the record";
		else if (s->v[lo].len != e[i].len)
			why = "has another length than the record";
		if (why && s->bad_entries++ == 0)
			snprintf(s->first_bad, sizeof(s->first_bad),
				 "entry %zu of device %u points at offset %u, which %s", i, device_id,
				 e[i].offset, why);
	}
	return 0;
}

/* Do the catalogue's per-device summaries of a sealed segment say what its index says?
 * (The mount sizes settled windows from the summaries.) 1 with why when not, 0 when they
 * do, or a negative errno. A device removed from the registry keeps no summary. */
static int summaries_disagree(struct spool *sp, const struct segment *s, struct index_reader *r,
			      char *why, size_t size, struct errbuf *err)
{
	struct segment_result res = {0};
	struct segment_device_summary *rows = NULL;
	size_t n_rows = 0;
	int e = segment_summarize(r, &res, err);
	if (e == 0)
		e = catalog_segment_summaries(sp->cat, s->id, &rows, &n_rows, err);
	size_t i = 0, j = 0;
	int out = 0;
	while (e == 0 && !out && (i < res.n_sums || j < n_rows)) {
		const struct segment_device_summary *a = i < res.n_sums ? &res.sums[i] : NULL;
		const struct segment_device_summary *b = j < n_rows ? &rows[j] : NULL;
		if (a && (!b || a->device_id < b->device_id)) {
			struct device d = {0};
			struct errbuf derr;
			if (catalog_device_get_by_id(sp->cat, a->device_id, &d, &derr) == 0) {
				snprintf(why, size, "device %s has %" PRIu64 " packets in the index but no "
					 "summary in the catalogue", d.name, a->packets);
				out = 1;
			}
			device_done(&d);
			i++;
		} else if (b && (!a || b->device_id < a->device_id)) {
			snprintf(why, size, "the catalogue summarizes %" PRIu64 " packets of device id %"
				 PRId64 " that the index does not hold", b->packets, b->device_id);
			out = 1;
		} else {
			if (a->packets != b->packets || a->bytes != b->bytes || a->t_first != b->t_first ||
			    a->t_last != b->t_last) {
				snprintf(why, size, "device id %" PRId64 ": the catalogue summarizes %" PRIu64
					 " packets, %" PRIu64 " bytes, the index holds %" PRIu64 ", %" PRIu64,
					 a->device_id, b->packets, b->bytes, a->packets, a->bytes);
				out = 1;
			}
			i++;
			j++;
		}
	}
	segment_result_done(&res);
	free(rows);
	return e < 0 ? e : out;
}

struct verify_ctx {
	struct spool *sp;
	struct ctl *c;
	int64_t only;
	uint64_t segments, packets, bytes, problems;
	uint32_t linktype; /* the spool's, when linktype_known */
	bool linktype_known;
	bool first_json;
};

static void problem(struct verify_ctx *v, const struct segment *s, const char *fmt, ...)
	_printf_(3, 4);
static void problem(struct verify_ctx *v, const struct segment *s, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->problems++;
	if (v->c->json) {
		printf("%s\n  {\"segment\": %" PRId64 ", \"path\": ", v->first_json ? "" : ",", s ? s->id : 0);
		json_string(stdout, s ? s->path : "");
		printf(", \"problem\": ");
		json_string(stdout, msg);
		printf("}");
		v->first_json = false;
	} else if (s) {
		printf("segment %" PRId64 " (%s): %s\n", s->id, s->path, msg);
	} else {
		printf("%s\n", msg);
	}
}

static int verify_one(const struct segment *s, void *userdata)
{
	struct verify_ctx *v = userdata;
	if (v->only && s->id != v->only)
		return 0;
	v->segments++;
	if (s->state == SEGMENT_OPEN) {
		/* Writers hold their open segments; recovery (at open) took the orphans. */
		return 0;
	}
	struct errbuf err = {{0}};
	if (v->linktype_known && s->linktype != v->linktype) {
		const char *a = classify_linktype_name(s->linktype), *b = classify_linktype_name(v->linktype);
		problem(v, s, "link type %u (%s) differs from the spool's, %u (%s): a window holding "
			      "packets of both cannot be one pcap file and fails (EIO, or an error from "
			      "extract)",
			s->linktype, a ? a : "?", v->linktype, b ? b : "?");
	}
	int fd;
	struct pcap_ghdr g;
	int oe = segment_open_read(v->sp->dirfd, s->path, &fd, &g, &err);
	if (oe < 0) {
		/* Gone or damaged at its start: nothing to index from. Otherwise (EACCES, EMFILE)
		 * the reason says what to do. */
		bool lost = oe == -ENOENT || oe == -EBADMSG || oe == -EPROTO;
		problem(v, s, "%s%s", err.msg,
			lost ? " (reindex cannot help: an index is rebuilt from its segment; restore the "
			       "file from a copy)"
			     : "");
		return 0;
	}
	struct verify_seg vs = {0};
	uint64_t end;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		problem(v, s, "fstat: %s", strerror(errno));
		close(fd);
		return 0;
	}
	if (g.linktype != s->linktype || (int)g.prec != s->tsprec || g.snaplen != s->snaplen)
		problem(v, s, "pcap header (link type %u, snaplen %u) disagrees with the catalogue "
			      "(link type %u, snaplen %u)",
			g.linktype, g.snaplen, s->linktype, s->snaplen);
	if ((uint64_t)st.st_size != s->bytes)
		problem(v, s, "file has %" PRIu64 " bytes, the catalogue says %" PRIu64,
			(uint64_t)st.st_size, s->bytes);
	int e = segment_walk(fd, &g, PCAP_GLOBAL_HDR_LEN, UINT64_MAX, note_record, &vs, &end, &err);
	if (e < 0)
		problem(v, s, "%s", err.msg);
	else if (end != (uint64_t)st.st_size)
		problem(v, s, "torn record at offset %" PRIu64 " (file ends at %" PRIu64 ")", end,
			(uint64_t)st.st_size);
	if (vs.n != s->packets)
		problem(v, s, "%zu records, the catalogue says %" PRIu64, vs.n, s->packets);
	v->packets += vs.n;
	v->bytes += (uint64_t)st.st_size;

	struct index_reader *r = NULL;
	err_clear(&err);
	e = segment_open_index(v->sp->dirfd, s->path, (uint64_t)s->id, fd, &r, &err);
	if (e < 0) {
		problem(v, s, "index: %s (pcapfsctl reindex repairs it)", err.msg);
	} else if (!index_reader_sealed(r)) {
		problem(v, s, "index is not sealed although the segment is (pcapfsctl reindex repairs it)");
	} else {
		const struct index_chunk_info *ci = index_reader_chunk(r, 0);
		if (ci->packets != vs.n)
			problem(v, s, "index counts %" PRIu64 " records, the segment holds %zu (pcapfsctl "
				      "reindex repairs it)",
				ci->packets, vs.n);
		e = index_reader_foreach_run(r, check_run, &vs, &err);
		if (e < 0)
			problem(v, s, "index: %s (pcapfsctl reindex repairs it)", err.msg);
		else if (vs.bad_entries)
			problem(v, s, "index: %" PRIu64 " bad entries (pcapfsctl reindex repairs it); the "
				      "first: %s",
				vs.bad_entries, vs.first_bad);
		else {
			char why[512];
			e = summaries_disagree(v->sp, s, r, why, sizeof(why), &err);
			if (e < 0)
				problem(v, s, "summaries: %s", err.msg[0] ? err.msg : strerror(-e));
			else if (e > 0)
				problem(v, s, "summaries: %s (pcapfsctl reindex repairs them)", why);
		}
	}
	index_reader_free(r);
	free(vs.v);
	close(fd);
	if (v->c->tty && !v->c->quiet && !v->c->json)
		fprintf(stderr, "\r\033[Kverified %" PRIu64 " segments", v->segments);
	return 0;
}

int cmd_verify(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"segment", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct verify_ctx v = {.c = c, .first_json = true};
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'S':
			if (ctl_parse_id(optarg, &v.only) < 0)
				return ctl_usage("verify", "--segment takes a segment id");
			break;
		case 'h':
			printf("Usage: pcapfsctl [--spool DIR] [--json] verify [--segment ID]\n\n"
			       "Check every sealed segment and its index: pcap header and every record,\n"
			       "index checksums, every index entry against the record it points at, and\n"
			       "the catalogue against the files. Segments left open by a writer that died\n"
			       "are recovered first. Prints one line per problem, saying what repairs it\n"
			       "where something can ('pcapfsctl reindex' rebuilds a damaged index); exit\n"
			       "status 1 if any. Every segment holds the spool's one link type.\n");
			return 0;
		default:
			return ctl_bad_option("verify");
		}
	}
	if (optind != argc)
		return ctl_usage("verify", "unexpected argument '%s'", argv[optind]);
	if (ctl_open_spool(c, 0, &v.sp) < 0)
		return 1;
	struct errbuf err = {{0}};
	if (c->json)
		printf("{\"problems\": [");
	if (v.sp->recovery.failed)
		problem(&v, NULL, "%" PRIu64 " open segment(s) could not be recovered; the first: %s",
			v.sp->recovery.failed, v.sp->recovery.first_failure);
	int e = spool_linktype(v.sp, &v.linktype, &v.linktype_known, &err);
	if (e < 0) {
		problem(&v, NULL, "catalogue: %s", err.msg);
		err_clear(&err);
	}
	e = catalog_segment_foreach(v.sp->cat, -1, verify_one, &v, &err);
	if (c->tty && !c->quiet && !c->json && v.segments)
		fputc('\n', stderr);
	if (e < 0)
		problem(&v, NULL, "catalogue: %s", err.msg);
	if (e == 0 && v.only && v.segments == 0)
		problem(&v, NULL, "no segment has id %" PRId64, v.only);
	if (c->json)
		printf("%s], \"segments\": %" PRIu64 ", \"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 "}\n",
		       v.first_json ? "" : "\n ", v.segments, v.packets, v.bytes);
	else if (!c->quiet) {
		char b[32];
		fmt_bytes(v.bytes, b, sizeof(b));
		printf("%" PRIu64 " segments, %" PRIu64 " packets, %s checked: %s\n", v.segments, v.packets,
		       b, v.problems ? "PROBLEMS FOUND (see above)" : "ok");
	}
	spool_close(v.sp);
	return v.problems ? 1 : 0;
}

/* ---- reindex ------------------------------------------------------------------------------ */

struct reindex_ctx {
	struct spool *sp;
	struct ctl *c;
	const struct devmap *m;
	int64_t only;
	bool all;
	struct segment *todo;
	size_t n, cap;
	uint64_t checked;
	uint64_t unreadable; /* segments with no file to index from */
};

static int pick(const struct segment *s, void *userdata)
{
	struct reindex_ctx *r = userdata;
	if (r->only && s->id != r->only)
		return 0;
	r->checked++;
	bool need = r->all || r->only;
	if (!need) {
		struct errbuf err;
		int fd;
		struct pcap_ghdr g;
		if (segment_open_read(r->sp->dirfd, s->path, &fd, &g, &err) < 0) {
			/* No segment to index from: said, and the exit status says so. */
			ctl_fail("segment %" PRId64 " (%s) cannot be reindexed: %s; an index is rebuilt "
				 "from its segment, which must be restored first",
				 s->id, s->path, err.msg);
			r->unreadable++;
			return 0;
		}
		struct index_reader *ir = NULL;
		struct verify_seg vs = {0};
		uint64_t end;
		/* The same checks as verify: checksums and structure, and every entry against the
		 * record it points at (so a walk of the segment). */
		int we = segment_walk(fd, &g, PCAP_GLOBAL_HDR_LEN, UINT64_MAX, note_record, &vs, &end, &err);
		char why[512];
		need = we == -ENOMEM ? false
				     : segment_open_index(r->sp->dirfd, s->path, (uint64_t)s->id, fd, &ir, &err) < 0 ||
					       !index_reader_sealed(ir) ||
					       index_reader_foreach_run(ir, check_run, &vs, &err) < 0 ||
					       vs.bad_entries > 0 ||
					       summaries_disagree(r->sp, s, ir, why, sizeof(why), &err) != 0;
		index_reader_free(ir);
		free(vs.v);
		close(fd);
		if (we == -ENOMEM)
			return -ENOMEM;
	}
	if (!need)
		return 0;
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 16;
		struct segment *nv = realloc(r->todo, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		r->todo = nv;
		r->cap = nc;
	}
	r->todo[r->n++] = *s;
	return 0;
}

int cmd_reindex(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"segment", required_argument, NULL, 'S'},
		{"all", no_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct reindex_ctx r = {.c = c};
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'S':
			if (ctl_parse_id(optarg, &r.only) < 0)
				return ctl_usage("reindex", "--segment takes a segment id");
			break;
		case 'a':
			r.all = true;
			break;
		case 'h':
			printf("Usage: pcapfsctl [--spool DIR] reindex [--all | --segment ID]\n\n"
			       "Rebuild segment indexes from the segment files and the device registry.\n"
			       "Without options, only indexes that are missing or fail their checks are\n"
			       "rebuilt. --all rebuilds every index, which applies the registry as it is\n"
			       "now (addresses with their validity intervals) to the data already stored.\n"
			       "A segment still being written, or being reindexed by another process, is\n"
			       "reported busy and left as it is; the exit status is then 1.\n");
			return 0;
		default:
			return ctl_bad_option("reindex");
		}
	}
	if (optind != argc)
		return ctl_usage("reindex", "unexpected argument '%s'", argv[optind]);
	if (r.all && r.only)
		return ctl_usage("reindex", "--all and --segment exclude each other");
	if (ctl_open_spool(c, 0, &r.sp) < 0)
		return 1;
	struct errbuf err = {{0}};
	struct devmap *m = NULL;
	int e = catalog_load_devmap(r.sp->cat, &m, &err);
	if (e == 0)
		e = catalog_segment_foreach(r.sp->cat, SEGMENT_SEALED, pick, &r, &err);
	uint64_t done = 0, failed = 0;
	for (size_t i = 0; e == 0 && i < r.n; i++) {
		struct segment *s = &r.todo[i];
		struct segment_result res = {0};
		err_clear(&err);
		int e2 = segment_reindex(r.sp->dirfd, s->path, (uint64_t)s->id, m, true, &res, &err);
		if (e2 == 0)
			e2 = spool_segment_finish(r.sp, s, &res, &err);
		segment_result_done(&res);
		if (e2 < 0) {
			ctl_fail("segment %" PRId64 " (%s): %s", s->id, s->path, err.msg);
			failed++;
		} else {
			done++;
		}
		if (c->tty && !c->quiet)
			fprintf(stderr, "\r\033[Kreindexed %" PRIu64 " of %zu segments", done, r.n);
	}
	if (c->tty && !c->quiet && r.n)
		fputc('\n', stderr);
	devmap_free(m);
	free(r.todo);
	spool_close(r.sp);
	if (e < 0)
		return ctl_fail("%s", err.msg[0] ? err.msg : strerror(-e));
	if (r.only && r.checked == 0)
		return ctl_fail("no sealed segment %" PRId64, r.only);
	if (!c->quiet)
		printf("%" PRIu64 " segments checked, %" PRIu64 " reindexed%s\n", r.checked, done,
		       failed || r.unreadable ? ", some could not be (see above)" : "");
	return failed || r.unreadable ? 1 : 0;
}

/* ---- status ------------------------------------------------------------------------------- */

struct status_ctx {
	uint64_t open, sealed, packets, bytes;
	int64_t first, last;
};

static int tally(const struct segment *s, void *userdata)
{
	struct status_ctx *t = userdata;
	if (s->state == SEGMENT_OPEN) {
		t->open++;
		return 0;
	}
	t->sealed++;
	t->packets += s->packets;
	t->bytes += s->bytes;
	if (!t->first || s->t_first < t->first)
		t->first = s->t_first;
	t->last = MAX(t->last, s->t_last);
	return 0;
}

static int count_device(const struct device *d, void *userdata)
{
	(*(uint64_t *)userdata)++;
	return 0;
}

/* Per-interface capture statistics (written by pcapfs-captured): the newest sample, and
 * rates against the sample before it when both come from the same daemon run. */
static int show_capture_stats(const struct capture_stats *l, const struct capture_stats *p,
			      void *userdata)
{
	bool *first = userdata, json = first[1];
	double dt = p->ts_ns ? (double)(l->ts_ns - p->ts_ns) / 1e9 : 0;
	bool rate = dt > 0 && l->packets >= p->packets && l->bytes >= p->bytes &&
		    l->received >= p->received;
	double pps = rate ? (double)(l->packets - p->packets) / dt : 0;
	double bps = rate ? (double)(l->bytes - p->bytes) * 8 / dt : 0;
	char when[48];
	fmt_time(l->ts_ns, when, sizeof(when));
	if (json) {
		printf("%s{\"interface\": ", *first ? "" : ", ");
		json_string(stdout, l->interface);
		printf(", \"at\": \"%s\", \"received\": %" PRIu64 ", \"dropped\": %" PRIu64
		       ", \"if_dropped\": %" PRIu64 ", \"packets\": %" PRIu64 ", \"bytes\": %" PRIu64
		       ", \"packets_per_second\": %.0f, \"bits_per_second\": %.0f}",
		       when, l->received, l->dropped, l->if_dropped, l->packets, l->bytes, pps, bps);
	} else {
		char pk[32], by[32], rc[32], dr[32], ifd[32];
		fmt_count(l->packets, pk, sizeof(pk));
		fmt_bytes(l->bytes, by, sizeof(by));
		fmt_count(l->received, rc, sizeof(rc));
		fmt_count(l->dropped, dr, sizeof(dr));
		fmt_count(l->if_dropped, ifd, sizeof(ifd));
		printf("%s%s: %s packets, %s captured; received %s, dropped %s by the kernel, "
		       "%s by the interface",
		       *first ? "Capture:      " : "              ", l->interface, pk, by, rc, dr, ifd);
		if (rate)
			printf("; %.0f packets/s, %.1f Mbit/s", pps, bps / 1e6);
		printf(" (at %s)\n", when);
	}
	*first = false;
	return 0;
}

int cmd_status(struct ctl *c, int argc, char **argv)
{
	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			printf("Usage: pcapfsctl [--spool DIR] [--json] status\n\n"
			       "Show the spool's settings, segments, devices, time range and disk use.\n");
			return 0;
		}
		return ctl_usage("status", "unexpected argument '%s'", argv[1]);
	}
	struct spool *sp;
	if (ctl_open_spool(c, SPOOL_RDONLY, &sp) < 0)
		return 1;
	struct status_ctx t = {0};
	uint64_t devices = 0;
	struct errbuf err = {{0}};
	int e = catalog_segment_foreach(sp->cat, -1, tally, &t, &err);
	if (e == 0)
		e = catalog_device_foreach(sp->cat, count_device, &devices, &err);
	struct statvfs vfs;
	uint64_t free_b = 0, total_b = 0;
	if (fstatvfs(sp->dirfd, &vfs) == 0) {
		free_b = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		total_b = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	}
	if (e < 0) {
		spool_close(sp);
		return ctl_fail("%s", err.msg);
	}
	char first[48], last[48];
	fmt_time(t.first, first, sizeof(first));
	fmt_time(t.last, last, sizeof(last));
	const struct spool_config *cfg = &sp->cfg;
	bool stats_first[2] = {true, c->json};
	if (c->json) {
		printf("{\"spool\": ");
		json_string(stdout, sp->path);
		printf(", \"precision\": \"%s\", \"snaplen\": %u, \"segment_seconds\": %" PRId64
		       ", \"segment_bytes\": %" PRIu64 ", \"max_window_seconds\": %" PRId64
		       ", \"devices\": %" PRIu64 ", \"segments_sealed\": %" PRIu64
		       ", \"segments_open\": %" PRIu64 ", \"packets\": %" PRIu64 ", \"bytes\": %" PRIu64
		       ", \"first\": \"%s\", \"last\": \"%s\", \"disk_free\": %" PRIu64
		       ", \"disk_total\": %" PRIu64,
		       cfg->prec == TSPREC_NS ? "ns" : "us", cfg->snaplen, cfg->segment_ns / NS_PER_SEC,
		       cfg->segment_bytes, cfg->max_window_ns / NS_PER_SEC, devices, t.sealed, t.open,
		       t.packets, t.bytes, first, last, free_b, total_b);
		printf(", \"capture\": [");
		e = catalog_stats_latest(sp->cat, show_capture_stats, stats_first, &err);
		printf("]}\n");
	} else {
		char by[32], fb[32], tb[32], pk[32], sb[32];
		fmt_bytes(t.bytes, by, sizeof(by));
		fmt_bytes(free_b, fb, sizeof(fb));
		fmt_bytes(total_b, tb, sizeof(tb));
		fmt_bytes(cfg->segment_bytes, sb, sizeof(sb));
		fmt_count(t.packets, pk, sizeof(pk));
		printf("Spool:        %s\n", sp->path);
		printf("Settings:     %s timestamps, snaplen %u, segments of %" PRId64 " s or %s, "
		       "windows up to %" PRId64 " s\n",
		       cfg->prec == TSPREC_NS ? "nanosecond" : "microsecond", cfg->snaplen,
		       cfg->segment_ns / NS_PER_SEC, sb, cfg->max_window_ns / NS_PER_SEC);
		printf("Devices:      %" PRIu64 "\n", devices);
		printf("Segments:     %" PRIu64 " sealed, %" PRIu64 " open\n", t.sealed, t.open);
		printf("Stored:       %s packets, %s\n", pk, by);
		printf("Oldest data:  %s\n", first);
		printf("Newest data:  %s\n", last);
		printf("Disk:         %s free of %s\n", fb, tb);
		e = catalog_stats_latest(sp->cat, show_capture_stats, stats_first, &err);
	}
	spool_close(sp);
	if (e < 0)
		return ctl_fail("%s", err.msg);
	return 0;
}

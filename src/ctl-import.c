/* ctl-import.c — pcapfsctl import: offline capture files into the spool through the same
 * writer as live capture. Each file is imported whole or not at all: on bad input or
 * interruption (SIGINT, SIGTERM) its segments are removed again. A SIGKILL leaves the flushed
 * part, which the next command recovers (segment.h). */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "writer.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static const char import_help[] =
	"Usage: pcapfsctl [--spool DIR] [--json] import [OPTIONS] FILE...\n"
	"       pcapfsctl [--spool DIR] [--json] import --remove ID\n"
	"\n"
	"Import capture files (classic pcap in µs or ns, either byte order, or pcapng with one\n"
	"interface; '-' reads standard input) into the spool. Packets are classified with the\n"
	"device registry as it is now, at each packet's own timestamp, and written to segments of\n"
	"the import's interface.\n"
	"\n"
	"Each FILE is imported whole or not at all: a file that turns out to be malformed\n"
	"(truncated, a packet longer than its snaplen or than 262144 bytes, a zero-length packet,\n"
	"timestamps going backwards, an unsupported link type, pcapng with several interfaces) is\n"
	"reported with the packet number and byte offset, and what was written of it is removed.\n"
	"So is a file whose link type is not the spool's (a spool stores one link type, that of\n"
	"its segments, since every window of it is one pcap file), and a file whose packets\n"
	"meet packets already stored under the same interface in the same time: the same\n"
	"traffic stored twice would be served twice. The message names the import (or live\n"
	"capture) that stored them.\n"
	"Time-order a file first with reordercap(1), split pcapng per interface with editcap(1).\n"
	"\n"
	"  -i, --interface NAME   interface the packets are filed under (default 'import')\n"
	"      --progress         show progress (default when standard error is a terminal)\n"
	"      --no-progress      do not\n"
	"  -f, --force            import although the same path was imported before or the\n"
	"                         packets meet stored ones (they are then stored twice)\n"
	"      --remove ID        remove what import ID stored (its segments), e.g. one that\n"
	"                         was interrupted, before importing the file again; never\n"
	"                         live capture's, never a running import's\n"
	"\n"
	"Exit status 0 when every file was imported, 1 otherwise.\n";

struct import_result {
	uint64_t packets, bytes, unclassified, entries, rounded;
	double seconds;
};

/* Remove every segment an import wrote and mark it rolled back (failed): the running
 * import that failed (r: its figures), or (r NULL) a completed or interrupted one that is
 * removed. The rows first, in one transaction, and the files only once that has committed
 * — a rollback that fails or is killed leaves rows with their files (recovered as an
 * interrupted import), never rows pointing at nothing. *ret_segments and *ret_packets
 * (when not NULL): what was removed. Returns 0 or a negative errno with err set. */
static int rollback(struct spool *sp, int64_t import_id, const struct import_result *r,
		    uint64_t *ret_segments, uint64_t *ret_packets, struct errbuf *err)
{
	struct segment_list l = {0};
	int e = catalog_begin(sp->cat, err);
	if (e == 0)
		e = catalog_import_segments(sp->cat, import_id, segment_list_add, &l, err);
	for (size_t i = 0; e == 0 && i < l.n; i++)
		e = catalog_segment_delete(sp->cat, l.v[i].id, err);
	if (e == 0)
		e = r ? catalog_import_end(sp->cat, import_id, IMPORT_FAILED, r->packets, r->bytes, err)
		      : catalog_import_removed(sp->cat, import_id, err);
	if (e == 0)
		e = catalog_commit(sp->cat, err);
	else
		catalog_rollback(sp->cat);
	for (size_t i = 0; e == 0 && i < l.n; i++)
		segment_unlink(sp->dirfd, l.v[i].path);
	if (e == 0 && ret_segments)
		*ret_segments = l.n;
	for (size_t i = 0; e == 0 && ret_packets && i < l.n; i++)
		*ret_packets += l.v[i].packets;
	free(l.v);
	return e;
}

static int sync_file(struct spool *sp, const char *rel, struct errbuf *err)
{
	int fd = openat(sp->dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return err_set(err, e, "fsync %s: %s", rel, strerror(e));
	}
	close(fd);
	return 0;
}

struct sync_ctx {
	struct spool *sp;
	struct errbuf *err;
};

static int sync_segment(const struct segment *s, void *userdata)
{
	struct sync_ctx *c = userdata;
	struct spool *sp = c->sp;
	struct errbuf *err = c->err;
	char rel[300];
	snprintf(rel, sizeof(rel), "%s.pcap", s->path);
	int e = sync_file(sp, rel, err);
	if (e == 0) {
		snprintf(rel, sizeof(rel), "%s.idx", s->path);
		e = sync_file(sp, rel, err);
	}
	if (e == 0) {
		/* The directory entry too (seg/YYYYMMDD/); cheap when nothing changed. */
		snprintf(rel, sizeof(rel), "%s", s->path);
		char *slash = strrchr(rel, '/');
		if (slash) {
			*slash = 0;
			e = sync_file(sp, rel, err);
		}
	}
	return e;
}

static void progress(const char *file, const struct pcapin *in, uint64_t packets, double secs,
		     bool done)
{
	uint64_t pos = pcapin_pos(in), size = pcapin_size(in);
	char b[32], pk[32];
	fmt_bytes(pos, b, sizeof(b));
	fmt_count(packets, pk, sizeof(pk));
	if (size)
		fprintf(stderr, "\r\033[K%s: %3.0f%%  %s  %s packets  %.0f packets/s", file,
			100.0 * (double)pos / (double)size, b, pk, secs > 0 ? (double)packets / secs : 0.0);
	else
		fprintf(stderr, "\r\033[K%s: %s  %s packets  %.0f packets/s", file, b, pk,
			secs > 0 ? (double)packets / secs : 0.0);
	if (done)
		fputc('\n', stderr);
}

struct prior {
	const char *source;
	struct import_info found;
	bool hit;
};

static int find_prior(const struct import_info *i, void *userdata)
{
	struct prior *p = userdata;
	if (!p->hit && strcmp(i->source, p->source) == 0) {
		p->found = *i;
		p->hit = true;
	}
	return 0;
}

static int import_file(struct spool *sp, const struct devmap *m, const char *iface,
		       const char *file, bool show_progress, bool force, struct import_result *r,
		       struct errbuf *err)
{
	*r = (struct import_result){0};
	struct pcapin *in = NULL;
	struct writer *w = NULL;
	int import_lock = -1;
	int64_t import_id = 0;
	int64_t t0 = mono_ns();
	int e = pcapin_open(file, &in, err);
	if (e < 0)
		return e;

	char source[1024];
	char *real = strcmp(file, "-") ? realpath(file, NULL) : NULL;
	snprintf(source, sizeof(source), "%s", real ? real : file);
	free(real);
	/* The same file imported twice would serve every packet twice. */
	if (!force && strcmp(file, "-") != 0) {
		struct prior pr = {.source = source};
		e = catalog_import_foreach(sp->cat, IMPORT_DONE, find_prior, &pr, err);
		if (e == 0 && pr.hit) {
			char when[48];
			fmt_time(pr.found.ended_ns, when, sizeof(when));
			e = err_set(err, EEXIST,
				    "already imported (import %" PRId64 ", %" PRIu64 " packets, %s); "
				    "use --force to import it again",
				    pr.found.id, pr.found.packets, when);
		}
		if (e < 0)
			goto out;
	}
	/* The import's lock is held before its row says RUNNING: recovery (any other command's
	 * start) takes a RUNNING import whose lock is free for an interrupted one. */
	e = catalog_begin(sp->cat, err);
	if (e == 0) {
		e = catalog_import_begin(sp->cat, source, &import_id, err);
		if (e == 0)
			e = spool_lock_import(sp, import_id, &import_lock, err);
		if (e == 0)
			e = catalog_commit(sp->cat, err);
		else
			catalog_rollback(sp->cat);
	}
	if (e < 0)
		goto out;
	struct writer_opts wo = {.iface = iface, .import_id = import_id};
	e = writer_open(sp, &wo, m, &w, err);
	if (e < 0)
		goto fail;

	int64_t prev_ts = INT64_MIN, first_ts = INT64_MIN, next_progress = t0 + NS_PER_SEC / 2;
	bool ns_to_us = sp->cfg.prec == TSPREC_US;
	/* Records already stored as the spool stores them are copied file to file. They are
	 * copied after they were checked, so the file must not change meanwhile: its identity is
	 * compared again before the import counts as done. */
	int src_fd = pcapin_record_fd(in, sp->cfg.prec);
	struct stat src_st0 = {0};
	if (src_fd >= 0 && fstat(src_fd, &src_st0) < 0)
		src_fd = -1;
	struct pcap_rec rec;
	while ((e = pcapin_next(in, &rec, err)) == 1) {
		if (rec.index == 0 || _unlikely_(!classify_linktype_supported(pcapin_linktype(in)))) {
			uint32_t lt = pcapin_linktype(in);
			if (!classify_linktype_supported(lt)) {
				e = err_set(err, EPROTONOSUPPORT,
					    "link type %u is not supported (supported: EN10MB, LINUX_SLL, "
					    "LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP)",
					    lt);
				goto fail;
			}
		}
		int64_t ts = rec.ts_ns;
		if (ns_to_us && ts % NS_PER_US) {
			ts -= ts % NS_PER_US;
			r->rounded++;
		}
		if (_unlikely_(ts < prev_ts)) {
			char a[48], b[48];
			fmt_time(ts, a, sizeof(a));
			fmt_time(prev_ts, b, sizeof(b));
			e = err_set(err, EPROTO,
				    "packet %" PRIu64 " at offset %" PRIu64 ": timestamp %s goes backwards "
				    "(previous packet: %s); order the file by time first (reordercap)",
				    rec.index + 1, rec.offset, a, b);
			goto fail;
		}
		prev_ts = ts;
		if (first_ts == INT64_MIN)
			first_ts = ts;
		if (_unlikely_(rec.caplen > sp->cfg.snaplen)) {
			e = err_set(err, EPROTO,
				    "packet %" PRIu64 " at offset %" PRIu64 ": %u bytes exceed the spool's "
				    "snaplen %u",
				    rec.index + 1, rec.offset, rec.caplen, sp->cfg.snaplen);
			goto fail;
		}
		if (src_fd >= 0)
			e = writer_write_ref(w, pcapin_linktype(in), ts, rec.caplen, rec.len, rec.data,
					     src_fd, rec.offset, err);
		else
			e = writer_write(w, pcapin_linktype(in), ts, rec.caplen, rec.len, rec.data, err);
		if (e < 0)
			goto fail;
		if (_unlikely_((rec.index & 0xffff) == 0)) {
			if (interrupted) {
				e = err_set(err, EINTR, "interrupted by signal %d", (int)interrupted);
				goto fail;
			}
			int64_t now = mono_ns();
			if (show_progress && now >= next_progress) {
				progress(file, in, rec.index + 1, (double)(now - t0) / 1e9, false);
				next_progress = now + NS_PER_SEC / 2;
			}
		}
	}
	if (e < 0)
		goto fail;
	if (interrupted) {
		e = err_set(err, EINTR, "interrupted by signal %d", (int)interrupted);
		goto fail;
	}
	const struct writer_stats *st = writer_stats(w);
	r->packets = st->packets;
	r->bytes = st->bytes;
	r->unclassified = st->unclassified;
	r->entries = st->index_entries;
	e = writer_close(w, err);
	w = NULL;
	if (e < 0)
		goto fail;
	/* The same traffic stored twice (a copy or a conversion of a file imported before, what
	 * the capture daemon recorded under this interface name, an import begun again after one
	 * that was interrupted) would serve every packet of it twice. */
	if (!force && r->packets > 0) {
		uint64_t had;
		int64_t by;
		e = catalog_interface_overlap(sp->cat, iface, import_id, first_ts, prev_ts, &had, &by, err);
		if (e < 0)
			goto fail;
		if (had > 0) {
			char a[48], b[48], who[1200];
			fmt_time(first_ts, a, sizeof(a));
			fmt_time(prev_ts, b, sizeof(b));
			struct import_info prior;
			struct errbuf ignore;
			bool known = by != 0 && catalog_import_get(sp->cat, by, &prior, &ignore) == 0;
			if (by == 0)
				snprintf(who, sizeof(who), "by live capture");
			else if (!known)
				snprintf(who, sizeof(who), "the first by import %" PRId64, by);
			else if (prior.state == IMPORT_INTERRUPTED)
				snprintf(who, sizeof(who), "the first by import %" PRId64 " (%.900s, "
					 "interrupted: 'pcapfsctl import --remove %" PRId64 "' removes what "
					 "it stored)", by, prior.source, by);
			else
				snprintf(who, sizeof(who), "the first by import %" PRId64 " (%.900s)", by,
					 prior.source);
			e = err_set(err, EEXIST,
				    "its packets, %s to %s, meet %" PRIu64 " packets stored for interface "
				    "'%s' in that time, %.900s; stored again they would be served twice. "
				    "Other traffic goes under another --interface NAME; --force imports "
				    "it all the same",
				    a, b, had, iface, who);
			goto fail;
		}
	}
	if (src_fd >= 0) {
		struct stat st1;
		if (fstat(src_fd, &st1) < 0 || st1.st_size != src_st0.st_size ||
		    st1.st_ino != src_st0.st_ino ||
		    st1.st_mtim.tv_sec != src_st0.st_mtim.tv_sec ||
		    st1.st_mtim.tv_nsec != src_st0.st_mtim.tv_nsec ||
		    st1.st_ctim.tv_sec != src_st0.st_ctim.tv_sec ||
		    st1.st_ctim.tv_nsec != src_st0.st_ctim.tv_nsec) {
			e = err_set(err, EAGAIN, "the file changed while it was being imported; import it "
						  "again once it is complete");
			goto fail;
		}
	}
	/* Make this import's files durable before it is recorded as done: one fsync per file at
	 * the end (their writeback started when each segment sealed), then their directories. */
	struct sync_ctx sc = {sp, err};
	e = catalog_import_segments(sp->cat, import_id, sync_segment, &sc, err);
	if (e == 0 && fsync(sp->dirfd) < 0)
		e = err_set(err, errno, "fsync %s: %s", sp->path, strerror(errno));
	if (e < 0)
		goto fail;
	e = catalog_begin(sp->cat, err);
	if (e == 0) {
		e = catalog_import_end(sp->cat, import_id, IMPORT_DONE, r->packets, r->bytes, err);
		if (e == 0)
			e = catalog_commit(sp->cat, err);
		else
			catalog_rollback(sp->cat);
	}
	if (e < 0)
		goto fail;
	r->seconds = (double)(mono_ns() - t0) / 1e9;
	if (show_progress)
		progress(file, in, r->packets, r->seconds, true);
	goto out;
fail:
	if (show_progress)
		fputc('\n', stderr);
	writer_abort(w);
	w = NULL;
	{
		struct errbuf rerr = {{0}};
		size_t n = strlen(err->msg);
		if (!import_id || rollback(sp, import_id, r, NULL, NULL, &rerr) == 0)
			snprintf(err->msg + n, sizeof(err->msg) - n, "; nothing of it was imported");
		else /* what was written stays, and is recovered as an interrupted import */
			snprintf(err->msg + n, sizeof(err->msg) - n,
				 "; removing what was written failed too (%.160s): the next command "
				 "recovers it as an interrupted import",
				 rerr.msg);
	}
out:
	if (w)
		writer_abort(w);
	spool_unlock_import(sp, import_id, import_lock);
	pcapin_close(in);
	return e;
}

/* Remove what import id stored: its segments (rows, then files), the import marked failed
 * (rolled back), so that the same file may be imported again. Never live capture's, never
 * a running import's. */
static int remove_import(struct ctl *c, int64_t id)
{
	struct spool *sp;
	if (ctl_open_spool(c, 0, &sp) < 0)
		return 1;
	struct errbuf err = {{0}};
	struct import_info info;
	int lock = -1, e = catalog_import_get(sp->cat, id, &info, &err);
	if (e == 0 && info.state == IMPORT_FAILED)
		e = err_set(&err, ENOENT, "import %" PRId64 " (%s) stores nothing: it was rolled back "
			    "or removed", id, info.source);
	/* A running import holds its lock; one whose importer died does not (recovery then
	 * takes it for interrupted). */
	if (e == 0 && spool_lock_import(sp, id, &lock, &err) < 0)
		e = err_set(&err, EBUSY, "import %" PRId64 " (%s) is running; stop it first (Ctrl-C "
			    "rolls it back)", id, info.source);
	uint64_t segments = 0, packets = 0;
	if (e == 0)
		e = rollback(sp, id, NULL, &segments, &packets, &err);
	spool_unlock_import(sp, id, lock);
	spool_close(sp);
	if (e < 0)
		return ctl_fail("%s", err.msg[0] ? err.msg : strerror(-e));
	if (c->json) {
		printf("{\"removed_import\": %" PRId64 ", \"source\": ", id);
		json_string(stdout, info.source);
		printf(", \"segments\": %" PRIu64 ", \"packets\": %" PRIu64 "}\n", segments, packets);
	} else if (!c->quiet) {
		fprintf(stderr, "pcapfsctl: removed import %" PRId64 " (%s): %" PRIu64 " segments, %" PRIu64
				" packets\n", id, info.source, segments, packets);
	}
	return 0;
}

int cmd_import(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"interface", required_argument, NULL, 'i'},
		{"progress", no_argument, NULL, 'p'},
		{"no-progress", no_argument, NULL, 'P'},
		{"force", no_argument, NULL, 'f'},
		{"remove", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *iface = "import";
	int64_t remove_id = 0;
	int show_progress = -1;
	bool force = false;
	int o;
	while ((o = getopt_long(argc, argv, "i:fh", opts, NULL)) != -1) {
		switch (o) {
		case 'i':
			iface = optarg;
			break;
		case 'p':
			show_progress = 1;
			break;
		case 'P':
			show_progress = 0;
			break;
		case 'f':
			force = true;
			break;
		case 'R':
			if (ctl_parse_id(optarg, &remove_id) < 0)
				return ctl_usage("import", "--remove takes an import id");
			break;
		case 'h':
			fputs(import_help, stdout);
			return 0;
		default:
			return ctl_bad_option("import");
		}
	}
	if (remove_id) {
		if (optind != argc)
			return ctl_usage("import", "--remove takes no FILE");
		return remove_import(c, remove_id);
	}
	if (optind >= argc)
		return ctl_usage("import", "no FILE given");
	struct errbuf err = {{0}};
	if (device_name_check(iface, &err) < 0) {
		/* The same rules as a device's name; said of the interface. */
		const char *what = strncmp(err.msg, "device name", 11) == 0 ? err.msg + 11 : err.msg;
		return ctl_usage("import", "interface name%s", what);
	}
	if (show_progress < 0)
		show_progress = c->tty && !c->quiet;

	struct spool *sp;
	if (ctl_open_spool(c, 0, &sp) < 0)
		return 1;
	struct devmap *m;
	int e = catalog_load_devmap(sp->cat, &m, &err);
	if (e < 0) {
		spool_close(sp);
		return ctl_fail("%s", err.msg);
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	int status = 0;
	if (c->json)
		printf("[");
	for (int i = optind; i < argc; i++) {
		struct import_result r;
		err_clear(&err);
		e = import_file(sp, m, iface, argv[i], show_progress, force, &r, &err);
		if (e < 0) {
			ctl_fail("%s: %s", argv[i],
				 err.msg[0] ? err.msg : strerror(-e));
			if (c->json) { /* every file has its element: a failure says why */
				printf("%s\n {\"file\": ", i > optind ? "," : "");
				json_string(stdout, argv[i]);
				printf(", \"error\": ");
				json_string(stdout, err.msg[0] ? err.msg : strerror(-e));
				printf("}");
			}
			status = 1;
			if (interrupted)
				break;
			continue;
		}
		if (c->json) {
			printf("%s\n {\"file\": ", i > optind ? "," : "");
			json_string(stdout, argv[i]);
			printf(", \"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"unclassified\": %" PRIu64
			       ", \"index_entries\": %" PRIu64 ", \"timestamps_rounded\": %" PRIu64
			       ", \"seconds\": %.3f}",
			       r.packets, r.bytes, r.unclassified, r.entries, r.rounded, r.seconds);
		} else if (!c->quiet) {
			char pk[32], by[32], un[32];
			fmt_count(r.packets, pk, sizeof(pk));
			fmt_bytes(r.bytes, by, sizeof(by));
			fmt_count(r.unclassified, un, sizeof(un));
			fprintf(stderr,
				"%s: imported %s packets (%s) in %.2f s, %.0f packets/s; %s belong to no "
				"registered device\n",
				argv[i], pk, by, r.seconds, r.seconds > 0 ? (double)r.packets / r.seconds : 0.0,
				un);
			if (r.rounded)
				fprintf(stderr, "%s: %" PRIu64 " nanosecond timestamps were cut to the spool's "
						"microsecond precision\n",
					argv[i], r.rounded);
		}
	}
	if (c->json)
		printf("\n]\n");
	devmap_free(m);
	spool_close(sp);
	return status;
}

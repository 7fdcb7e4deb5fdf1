/* fuzz-segment.c — segment files are on-disk bytes, hence hostile: the header reader, the
 * record walker and the recovery of an orphaned segment (which decides how much of a torn
 * segment to keep) on arbitrary bytes. Index files alone are fuzz-index's.
 *
 * An input is an 8-byte control block, the segment file, then its index file:
 *   bytes 0-3  le32: bits 0-23 the length of the segment file (clamped to what follows);
 *              bit 31: the walks read the segment with its records repeated past the
 *              walker's 4 MiB buffer, so that records straddle its refills; bit 30:
 *              recovery gets them repeated past 8 MiB, the records it indexes per chunk;
 *   bytes 4-7  le16 from, le16 len: one more walk of [24 + from, 24 + from + len) (len 0: to
 *              the end; len counts 128-byte units when the records are repeated).
 * The index's header names the segment id (1 when it is too short); an empty index part
 * means that there is no index file.
 *
 * Every walk runs in lockstep with a reference that parses the same bytes in memory: the
 * same records at the same offsets with the same bytes, the same end, and a torn tail (0)
 * told apart from an invalid record (-EBADMSG). Recovery runs on the files in a scratch
 * directory (under TMPDIR) and must keep a prefix of the segment, never less than its live
 * index had accepted. A recovered segment walks cleanly to its end from where recovery
 * checked it; its sealed index (segment_open_index) covers it; every entry recovery made is
 * a record of the segment, once per device the registry gives it, none missing; and
 * recovering it again changes nothing. A failed recovery fails the same way again. A
 * broken promise aborts. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "segment.h"

/* segment.c's read buffer, which repeated records cross, and the bytes of records recovery
 * indexes per chunk. */
#define WALK_BUF_BYTES (4u << 20)
#define REBUILD_CHUNK_BYTES (8u << 20)
#define TILE_UNIT 128u /* of the extra walk's len when the records are repeated */
#define REL "s"	       /* the segment's name in the scratch directory */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "broken promise: %s\n", what);
		abort();
	}
}

/* ---- walking in lockstep with a reference ------------------------------------------------ */

struct rec {
	uint64_t off;
	int64_t ts_ns;
	uint32_t caplen;
	uint32_t devs;	/* bit d: the registry gives device d */
	uint32_t found; /* bit d: an index entry for device d */
};

struct walk {
	const uint8_t *file; /* the bytes of the segment file */
	uint64_t size, to;
	const struct pcap_ghdr *g;
	const struct devmap *m; /* classify the records into recs (NULL: do not keep them) */
	uint64_t next;		/* where the next record must start */
	struct rec *recs;
	size_t n, cap;
};

static bool ref_header(const struct walk *w, uint64_t off, int64_t *ts, uint32_t *caplen,
		       uint32_t *len)
{
	return pcap_parse_rec_header(w->file + off, w->g->prec, w->g->snaplen, ts, caplen, len,
				     NULL) == 0;
}

static uint32_t classify_mask(const struct devmap *m, const struct pcap_ghdr *g, int64_t ts,
			      const uint8_t *pkt, uint32_t caplen)
{
	uint32_t ids[CLASSIFY_MAX_DEVICES], mask = 0;
	int n = classify_packet(m, g->linktype, pkt, caplen, ts, ids, ELEMENTSOF(ids));
	check(n >= 0 && n <= (int)ELEMENTSOF(ids), "classify count");
	for (int i = 0; i < n; i++) {
		check(ids[i] >= 1 && ids[i] < 32, "classified to a registered device");
		mask |= 1u << ids[i];
	}
	return mask;
}

static int walk_record(int64_t ts_ns, uint64_t off, uint32_t caplen, uint32_t len,
		       const uint8_t *data, void *userdata)
{
	struct walk *w = userdata;
	int64_t ts = 0;
	uint32_t c = 0, l = 0;
	check(off == w->next, "records follow each other from where the walk starts");
	check(off <= w->size && w->size - off >= PCAP_REC_HDR_LEN && ref_header(w, off, &ts, &c, &l),
	      "a record is one whose header is valid");
	check(ts == ts_ns && c == caplen && l == len, "the record's header as it is in the file");
	check(off + PCAP_REC_HDR_LEN + caplen <= MIN(w->size, w->to), "record inside file and range");
	check(memcmp(data, w->file + off + PCAP_REC_HDR_LEN, caplen) == 0, "the record's bytes");
	w->next = off + PCAP_REC_HDR_LEN + caplen;
	if (w->m) {
		if (w->n == w->cap) {
			w->cap = w->cap ? 2 * w->cap : 64;
			w->recs = realloc(w->recs, w->cap * sizeof(*w->recs));
			check(w->recs != NULL, "memory");
		}
		w->recs[w->n++] = (struct rec){
			.off = off,
			.ts_ns = ts_ns,
			.caplen = caplen,
			.devs = classify_mask(w->m, w->g, ts_ns, data, caplen),
		};
	}
	return 0;
}

/* Walk [from, to) of fd (whose bytes are file) and check it against the reference. Returns
 * whether the walk went cleanly to the end of the file. */
static bool walk_checked(int fd, struct walk *w, uint64_t from)
{
	struct errbuf err = { "" };
	uint64_t end = UINT64_MAX;
	int64_t ts;
	uint32_t caplen, len;

	w->next = from;
	w->n = 0;
	int r = segment_walk(fd, w->g, from, w->to, walk_record, w, &end, &err);
	check(end == w->next, "the end is after the last record given");
	uint64_t off = w->next;
	if (off >= w->to || off > w->size || w->size - off < PCAP_REC_HDR_LEN) {
		check(r == 0, "the walk ends at the range's or the file's end");
	} else if (!ref_header(w, off, &ts, &caplen, &len)) {
		check(r == -EBADMSG && err.msg[0], "an invalid record is -EBADMSG with a message");
	} else {
		uint64_t rec_end = off + PCAP_REC_HDR_LEN + caplen;
		check(r == 0 && (rec_end > w->size || rec_end > w->to),
		      "the walk stops early only at a torn record or the range's end");
	}
	return r == 0 && end == w->size;
}

/* The segment with its records (what follows the pcap header) repeated until the file is
 * longer than at_least (malloc'd, its length in *ret_len), or NULL when it has none. */
static uint8_t *repeat_records(const uint8_t *seg, size_t seg_len, size_t at_least,
			       size_t *ret_len)
{
	if (seg_len <= PCAP_GLOBAL_HDR_LEN)
		return NULL;
	size_t unit = seg_len - PCAP_GLOBAL_HDR_LEN;
	size_t copies = at_least / unit + 2;
	uint8_t *p = malloc(PCAP_GLOBAL_HDR_LEN + copies * unit);
	check(p != NULL, "memory");
	memcpy(p, seg, PCAP_GLOBAL_HDR_LEN);
	for (size_t i = 0; i < copies; i++)
		memcpy(p + PCAP_GLOBAL_HDR_LEN + i * unit, seg + PCAP_GLOBAL_HDR_LEN, unit);
	*ret_len = PCAP_GLOBAL_HDR_LEN + copies * unit;
	return p;
}

/* The walks of one input: all of the file, and the range the control block asks for. */
static void fuzz_walks(const uint8_t *seg, size_t seg_len, bool repeat, uint16_t from,
		       uint16_t len)
{
	size_t size = seg_len;
	uint8_t *tiled = repeat ? repeat_records(seg, seg_len, WALK_BUF_BYTES, &size) : NULL;
	const uint8_t *file = tiled ? tiled : seg;
	struct pcap_ghdr g, want;
	struct errbuf err = { "" };
	int fd = memfd_create("fuzz-segment", MFD_CLOEXEC);
	check(fd >= 0 && write_full(fd, file, size) == 0, "memfd");

	/* The header: exactly what the parser says of the first 24 bytes, or -EBADMSG naming
	 * the file. */
	int r = segment_read_header(fd, REL, &g, &err);
	if (pcap_parse_global_header(file, size, &want, NULL) < 0) {
		check(r == -EBADMSG && strncmp(err.msg, REL ".pcap: ", 7) == 0 && err.msg[7],
		      "a bad header is -EBADMSG with a message naming the file");
	} else {
		check(r == 0 && g.prec == want.prec && g.snaplen == want.snaplen &&
			      g.linktype == want.linktype,
		      "segment_read_header reads the header");
		struct walk w = { .file = file, .size = size, .to = UINT64_MAX, .g = &g };
		(void)walk_checked(fd, &w, PCAP_GLOBAL_HDR_LEN);
		if (from || len) {
			uint64_t n = (uint64_t)len * (tiled ? TILE_UNIT : 1);
			w.to = len ? PCAP_GLOBAL_HDR_LEN + from + n : UINT64_MAX;
			(void)walk_checked(fd, &w, PCAP_GLOBAL_HDR_LEN + from);
		}
	}
	free(tiled);
	close(fd);
}

/* ---- recovery ----------------------------------------------------------------------------- */

static char scratch[4096];
static int scratch_fd = -1;

static void scratch_remove(void)
{
	static const char *const names[] = { REL ".pcap", REL ".idx", REL ".idx.tmp" };
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		(void)unlinkat(scratch_fd, names[i], 0);
	close(scratch_fd);
	(void)rmdir(scratch);
}

/* The recovery's directory, made once per process and removed at exit. */
static int scratch_dir(void)
{
	if (scratch_fd >= 0)
		return scratch_fd;
	const char *t = getenv("TMPDIR");
	if (!t || !*t ||
	    (size_t)snprintf(scratch, sizeof(scratch), "%s/fuzz-segment-XXXXXX", t) >= sizeof(scratch))
		snprintf(scratch, sizeof(scratch), "/tmp/fuzz-segment-XXXXXX");
	check(mkdtemp(scratch) != NULL, "scratch directory");
	scratch_fd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	check(scratch_fd >= 0, "scratch directory");
	atexit(scratch_remove);
	return scratch_fd;
}

static void put_file(int dfd, const char *name, const uint8_t *p, size_t n)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	check(fd >= 0 && write_full(fd, p, n) == 0, "scratch file write");
	close(fd);
}

/* A file's bytes (malloc'd; NULL with *ret_n 0 when it does not exist). */
static uint8_t *get_file(int dfd, const char *name, size_t *ret_n)
{
	struct stat st;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	*ret_n = 0;
	if (fd < 0)
		return NULL;
	check(fstat(fd, &st) == 0, "fstat");
	uint8_t *p = malloc((size_t)st.st_size + 1);
	check(p != NULL && pread_full(fd, p, (size_t)st.st_size, 0) == st.st_size,
	      "scratch file read");
	close(fd);
	*ret_n = (size_t)st.st_size;
	return p;
}

/* The registry recovery classifies with: addresses of pcapfs-gen's first devices, as the
 * seeds carry them (tests/fuzz/corpus/segment/), one of them valid for a time only. */
static const struct devmap *fixed_map(void)
{
	static const struct {
		const char *addr;
		uint32_t id;
		int64_t from, until;
	} reg[] = {
		{ "02:00:00:00:00:01", 1, INT64_MIN, TIME_INFINITY },
		{ "10.20.0.2", 2, INT64_MIN, INT64_C(1795334402500000000) },
		{ "10.20.0.4", 2, INT64_C(1795334402500000000), TIME_INFINITY },
		{ "fd00::/64", 3, INT64_MIN, TIME_INFINITY },
		{ "00:00:00:00:00:02", 4, INT64_MIN, TIME_INFINITY },
	};
	static struct devmap *m;
	if (m)
		return m;
	m = devmap_new();
	check(m != NULL, "devmap");
	for (size_t i = 0; i < ELEMENTSOF(reg); i++) {
		struct addr a;
		check(addr_parse(reg[i].addr, &a, NULL) == 0 &&
			      devmap_add(m, &a, reg[i].id, reg[i].from, reg[i].until) == 0,
		      "devmap");
	}
	return m;
}

struct entries {
	struct walk *w;
	bool ok;
	uint64_t from; /* entries before this are the live index's, not recovery's */
};

static struct rec *find_rec(struct walk *w, uint64_t off)
{
	size_t lo = 0, hi = w->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (w->recs[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < w->n && w->recs[lo].off == off ? &w->recs[lo] : NULL;
}

static int check_entries(size_t chunk, uint32_t device_id, const struct index_entry *e, size_t n,
			 void *userdata)
{
	struct entries *x = userdata;
	uint32_t bit = device_id < 32 ? 1u << device_id : 0;
	for (size_t i = 0; i < n && x->ok; i++) {
		if (e[i].offset < x->from)
			continue;
		struct rec *r = find_rec(x->w, e[i].offset);
		if (!r || r->ts_ns != e[i].ts_ns || r->caplen + PCAP_REC_HDR_LEN != e[i].len ||
		    !(r->devs & bit) || (r->found & bit))
			x->ok = false;
		else
			r->found |= bit;
	}
	return 0;
}

/* Whether the entries of ir from offset from on are exactly the records of w there, each
 * once per device the registry gives it. */
static bool entries_are_records(struct index_reader *ir, struct walk *w, uint64_t from)
{
	struct entries x = { .w = w, .ok = true, .from = from };
	struct errbuf err = { "" };
	check(index_reader_foreach_run(ir, check_entries, &x, &err) == 0,
	      "a recovered segment's index reads");
	for (size_t i = 0; i < w->n && x.ok; i++)
		if (w->recs[i].off >= from && w->recs[i].found != w->recs[i].devs)
			x.ok = false;
	return x.ok;
}

/* A recovered segment (files in dfd; the segment's bytes are file) against what recovery
 * promised. */
static void check_recovered(int dfd, const uint8_t *file, size_t size, uint64_t id,
			    const struct segment_result *res, bool was_sealed, uint64_t covered)
{
	struct errbuf err = { "" };
	struct pcap_ghdr g;
	int fd = -1;

	check(segment_open_read(dfd, REL, &fd, &g, &err) == 0, "a recovered segment opens");
	check(res->bytes == size, "the result's bytes are the segment's");
	struct index_reader *ir = NULL;
	check(segment_open_index(dfd, REL, id, fd, &ir, &err) == 0 && index_reader_sealed(ir) &&
		      index_reader_seg_size(ir) == size && index_reader_covered(ir) == size,
	      "a recovered segment has a sealed index covering it");
	check(index_reader_chunk(ir, 0)->packets == res->packets,
	      "the result's packets are the index's");

	if (was_sealed) {
		/* Recovery only summarized it: its entries are its own, and read. */
		struct entries x = { .from = UINT64_MAX };
		check(index_reader_foreach_run(ir, check_entries, &x, &err) == 0,
		      "a recovered segment's index reads");
	} else {
		/* Recovery indexed the records from the live index's end or, that index's chunks
		 * being damaged, from the start: they are whole to the end of the file, and the
		 * entries from the live index's end on are exactly theirs. The walk from the start
		 * is made only when needed: the walks are most of the cost. */
		struct walk w = { .file = file, .size = size, .to = UINT64_MAX, .g = &g,
				  .m = fixed_map() };
		bool ok = walk_checked(fd, &w, covered) && entries_are_records(ir, &w, covered);
		if (!ok && covered > PCAP_GLOBAL_HDR_LEN)
			ok = walk_checked(fd, &w, PCAP_GLOBAL_HDR_LEN) &&
			     entries_are_records(ir, &w, covered);
		check(ok, "recovery keeps whole records and indexes each once per device, and "
			  "nothing else");
		free(w.recs);
	}
	index_reader_free(ir);
	close(fd);
}

static size_t file_size(int dfd, const char *name)
{
	struct stat st;
	check(fstatat(dfd, name, &st, 0) == 0, "stat");
	return (size_t)st.st_size;
}

static void fuzz_recover(const uint8_t *seg, size_t seg_len, const uint8_t *idx, size_t idx_len)
{
	int dfd = scratch_dir();
	const struct devmap *m = fixed_map();
	uint64_t id = idx_len >= 24 ? le64(idx + 16) : 1;
	struct segment_result res = { 0 };
	struct errbuf err = { "" };
	uint64_t cut = UINT64_MAX;

	put_file(dfd, REL ".pcap", seg, seg_len);
	(void)unlinkat(dfd, REL ".idx.tmp", 0);
	if (idx_len)
		put_file(dfd, REL ".idx", idx, idx_len);
	else
		(void)unlinkat(dfd, REL ".idx", 0);

	/* What the live index had accepted, which recovery must never cut away. */
	bool was_sealed = false;
	uint64_t covered = PCAP_GLOBAL_HDR_LEN;
	int sfd = openat(dfd, REL ".pcap", O_RDONLY | O_CLOEXEC),
	    ifd = openat(dfd, REL ".idx", O_RDONLY | O_CLOEXEC);
	struct index_reader *ir = NULL;
	check(sfd >= 0, "scratch file open");
	if (ifd >= 0 && index_reader_open(ifd, sfd, id, &ir, NULL) == 0) {
		was_sealed = index_reader_sealed(ir);
		covered = index_reader_covered(ir);
		index_reader_free(ir);
	}
	if (ifd >= 0)
		close(ifd);
	close(sfd);

	int r = segment_recover(dfd, REL, id, m, false, &res, &cut, &err);
	size_t size, isize;
	uint8_t *file = get_file(dfd, REL ".pcap", &size);
	check(file && size <= seg_len && memcmp(file, seg, size) == 0,
	      "recovery keeps a prefix of the segment");
	check(size >= MIN(covered, seg_len), "recovery never cuts what the live index had accepted");
	if (was_sealed)
		check(r < 0 || size == seg_len, "a sealed segment is not cut");

	if (r == SEGMENT_EMPTY) {
		check(size <= PCAP_GLOBAL_HDR_LEN && cut == seg_len - size, "an empty segment");
		segment_result_done(&res);
		free(file);
		return;
	}
	if (r < 0) {
		/* Damage is left for verify: the next recovery finds the same. */
		check(err.msg[0] != 0, "a failed recovery says why");
		struct segment_result res2 = { 0 };
		struct errbuf err2 = { "" };
		int r2 = segment_recover(dfd, REL, id, m, false, &res2, &cut, &err2);
		check(r2 == r && file_size(dfd, REL ".pcap") == size,
		      "a failed recovery fails again the same way");
		segment_result_done(&res);
		segment_result_done(&res2);
		free(file);
		return;
	}
	check(r == SEGMENT_RECOVERED, "recovery's result");
	check(cut == seg_len - size, "the bytes cut are counted");
	check_recovered(dfd, file, size, id, &res, was_sealed, covered);
	free(file);

	/* Recovering a recovered segment changes nothing. */
	uint8_t *idx_before = get_file(dfd, REL ".idx", &isize);
	struct segment_result res2 = { 0 };
	int r2 = segment_recover(dfd, REL, id, m, false, &res2, &cut, &err);
	size_t isize2;
	uint8_t *idx_after = get_file(dfd, REL ".idx", &isize2);
	check(r2 == SEGMENT_RECOVERED && cut == 0 && file_size(dfd, REL ".pcap") == size &&
		      res2.packets == res.packets && res2.bytes == res.bytes &&
		      res2.n_sums == res.n_sums,
	      "recovery is idempotent");
	check(idx_before && idx_after && isize2 == isize && memcmp(idx_before, idx_after, isize) == 0,
	      "a recovered index stays as it is");
	free(idx_before);
	free(idx_after);
	segment_result_done(&res);
	segment_result_done(&res2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	uint32_t ctl = le32(data);
	size_t seg_len = MIN((size_t)(ctl & 0xffffff), size - 8);
	const uint8_t *seg = data + 8, *idx = seg + seg_len;
	size_t idx_len = size - 8 - seg_len;

	fuzz_walks(seg, seg_len, ctl >> 31, le16(data + 4), le16(data + 6));
	/* The live index covers the same prefix of a segment whose records are repeated: the
	 * rest is a tail of several of recovery's chunks. */
	size_t long_len = 0;
	uint8_t *long_seg =
		ctl & (1u << 30) ? repeat_records(seg, seg_len, REBUILD_CHUNK_BYTES, &long_len) : NULL;
	if (long_seg)
		fuzz_recover(long_seg, long_len, idx, idx_len);
	else
		fuzz_recover(seg, seg_len, idx, idx_len);
	free(long_seg);
	return 0;
}

/* Unit tests of writer.c under write failures: when the disk refuses the bytes of a rotation
 * (a full disk; here RLIMIT_FSIZE makes every write past a size fail with EFBIG), the
 * records the writer had buffered must stay buffered, the open segment must stay open, and
 * the record that caused the rotation must be refused (not half taken). Once writes succeed
 * again, every record is in the spool, in sealed segments with the right counts.
 * The same for a failing writer_flush and writer_rotate called directly. */
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests.h"
#include "writer.h"

#define T0 (1795334400LL * NS_PER_SEC)
#define SEG_NS (10 * NS_PER_SEC)
#define FRAME_LEN 200

static char dir[96];

static void cleanup(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
}

static void fsize_limit(rlim_t lim)
{
	/* Only the soft limit moves, so that an unprivileged run can raise it back. */
	struct rlimit r;
	CHECK_INT(getrlimit(RLIMIT_FSIZE, &r), 0);
	r.rlim_cur = lim == RLIM_INFINITY ? r.rlim_max : lim;
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &r), 0);
}

static uint64_t file_size(const char *spool, const char *relpath)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s.pcap", spool, relpath);
	struct stat st;
	CHECK_INT(stat(p, &st), 0);
	return (uint64_t)st.st_size;
}

struct totals {
	uint64_t packets, sealed, open;
	int64_t last_id;
	char last_path[256];
};

static int add_segment(const struct segment *s, void *userdata)
{
	struct totals *t = userdata;
	t->packets += s->packets;
	if (s->state == SEGMENT_SEALED)
		t->sealed++;
	else
		t->open++;
	t->last_id = s->id;
	snprintf(t->last_path, sizeof(t->last_path), "%s", s->path);
	return 0;
}

static void totals(struct spool *sp, struct totals *t)
{
	struct errbuf err;
	*t = (struct totals){0};
	CHECK_INT(catalog_segment_foreach(sp->cat, -1, add_segment, t, &err), 0);
}

static int write_one(struct writer *w, int64_t ts, struct errbuf *err)
{
	uint8_t frame[FRAME_LEN];
	memset(frame, 0, sizeof(frame));
	memcpy(frame + 8, &ts, sizeof(ts));
	return writer_write(w, 1, ts, FRAME_LEN, FRAME_LEN, frame, err);
}

int main(void)
{
	signal(SIGXFSZ, SIG_IGN); /* a write past RLIMIT_FSIZE then fails with EFBIG */
	test_tmp(dir, sizeof(dir), "test-writer", 0);
	atexit(cleanup);
	char path[256];
	snprintf(path, sizeof(path), "%s/spool", dir);
	struct spool_config cfg;
	spool_config_default(&cfg);
	cfg.segment_ns = SEG_NS;
	struct errbuf err;
	CHECK_INT(spool_init(path, &cfg, &err), 0);
	struct spool *sp;
	CHECK_INT(spool_open(path, 0, 1000, &sp, &err), 0);
	struct writer *w;
	struct writer_opts o = {.iface = "eth0", .buffer_bytes = 1 << 20};
	CHECK_INT(writer_open(sp, &o, NULL, &w, &err), 0);

	/* 100 packets flushed, 50 more buffered, all in the first period. */
	int64_t ts = T0;
	for (int i = 0; i < 150; i++) {
		CHECK_INT(write_one(w, ts, &err), 0);
		ts += 10 * 1000000LL;
		if (i == 99)
			CHECK_INT(writer_flush(w, &err), 0);
	}
	struct totals t;
	totals(sp, &t);
	CHECK_INT(t.open, 1);
	uint64_t flushed = file_size(path, t.last_path);
	CHECK_INT(flushed, 24 + 100 * (16 + FRAME_LEN));

	/* The disk refuses: a packet of the next period must not be taken, and nothing buffered
	 * may be lost. Try it several times, as a paused capture does. */
	int64_t s0, e0, s1, e1;
	CHECK(writer_open_period(w, &s0, &e0));
	CHECK_INT(s0, T0);
	CHECK_INT(e0, T0 + SEG_NS);
	fsize_limit(flushed);
	for (int k = 0; k < 3; k++) {
		CHECK(write_one(w, T0 + SEG_NS + NS_PER_SEC, &err) < 0);
		CHECK(writer_open_period(w, &s1, &e1));
		CHECK_INT(s1, s0);
		CHECK(writer_flush(w, &err) < 0);
		CHECK(writer_rotate(w, &err) < 0);
		CHECK(writer_open_period(w, &s1, &e1));
	}
	CHECK_INT(file_size(path, t.last_path), flushed); /* cut back to a record boundary */
	CHECK_INT(writer_stats(w)->segments_sealed, 0);

	/* Space again: the same packet goes in, the first segment seals with all 150. */
	fsize_limit(RLIM_INFINITY);
	CHECK_INT(write_one(w, T0 + SEG_NS + NS_PER_SEC, &err), 0);
	CHECK(writer_open_period(w, &s1, &e1));
	CHECK_INT(s1, T0 + SEG_NS);
	CHECK_INT(writer_stats(w)->segments_sealed, 1);
	totals(sp, &t);
	CHECK_INT(t.sealed, 1);
	CHECK_INT(t.open, 1);
	CHECK_INT(t.packets, 150); /* the open segment's row counts nothing until it seals */

	/* A direct rotation under a refusing disk keeps the open segment too. */
	CHECK_INT(write_one(w, T0 + SEG_NS + 2 * NS_PER_SEC, &err), 0);
	totals(sp, &t);
	fsize_limit(file_size(path, t.last_path));
	CHECK(writer_rotate(w, &err) < 0);
	CHECK(writer_open_period(w, &s1, &e1));
	fsize_limit(RLIM_INFINITY);
	CHECK_INT(writer_rotate(w, &err), 0);
	CHECK(!writer_open_period(w, &s1, &e1));
	totals(sp, &t);
	CHECK_INT(t.sealed, 2);
	CHECK_INT(t.open, 0);
	CHECK_INT(t.packets, 152);
	CHECK_INT(file_size(path, t.last_path), 24 + 2 * (16 + FRAME_LEN));

	/* Timestamps a pcap record cannot hold are refused, not wrapped. */
	CHECK_INT(write_one(w, -1, &err), -EINVAL);
	CHECK_INT(write_one(w, ((int64_t)UINT32_MAX + 1) * NS_PER_SEC, &err), -EINVAL);
	CHECK(!writer_open_period(w, &s1, &e1));

	/* Around a period boundary packets come a little out of order (several queues): those
	 * up to a second late go into the next period's segment; 200 of them alternating across
	 * the boundary make two segments, not 200. A step back of more than that rotates. */
	int64_t b = T0 + 10 * SEG_NS;
	for (int i = 0; i < 200; i++)
		CHECK_INT(write_one(w, b + (i % 2 ? 1 : -1) * (1000 + i) * 1000LL, &err), 0);
	CHECK_INT(writer_rotate(w, &err), 0);
	totals(sp, &t);
	CHECK_INT(t.sealed, 4);
	CHECK_INT(t.packets, 352);
	CHECK_INT(write_one(w, b + SEG_NS, &err), 0);
	CHECK_INT(write_one(w, b + SEG_NS - 800 * 1000000LL, &err), 0); /* late: same segment */
	CHECK_INT(write_one(w, b + SEG_NS - 2 * NS_PER_SEC, &err), 0);	 /* a step back */
	CHECK(writer_open_period(w, &s1, &e1));
	CHECK_INT(s1, b);
	CHECK_INT(writer_rotate(w, &err), 0);
	totals(sp, &t);
	CHECK_INT(t.sealed, 6);
	CHECK_INT(t.packets, 355);

	/* One link type per spool: another is refused with both named, by this writer again
	 * (without the catalogue: refused even while another process holds its lock) and by a
	 * writer of another interface; the spool's own goes on being stored. */
	uint8_t raw[FRAME_LEN] = {0x45};
	CHECK_INT(writer_write(w, 101, b + 2 * SEG_NS, FRAME_LEN, FRAME_LEN, raw, &err), -EINVAL);
	CHECK(strstr(err.msg, "link type 101 (RAW) differs from the spool's, 1 (EN10MB)") != NULL);
	CHECK_INT(catalog_begin(sp->cat, &err), 0); /* as another writer holding the lock would */
	CHECK_INT(writer_write(w, 101, b + 2 * SEG_NS, FRAME_LEN, FRAME_LEN, raw, &err), -EINVAL);
	CHECK(strstr(err.msg, "differs from the spool's") != NULL);
	catalog_rollback(sp->cat);
	struct writer *w2;
	struct writer_opts o2 = {.iface = "tun0"};
	CHECK_INT(writer_open(sp, &o2, NULL, &w2, &err), 0);
	CHECK_INT(writer_write(w2, 101, b + 2 * SEG_NS, FRAME_LEN, FRAME_LEN, raw, &err), -EINVAL);
	CHECK_INT(writer_close(w2, &err), 0);
	CHECK_INT(write_one(w, b + 2 * SEG_NS, &err), 0);
	CHECK_INT(writer_rotate(w, &err), 0);
	totals(sp, &t);
	CHECK_INT(t.packets, 356);
	uint32_t lt;
	bool known;
	CHECK_INT(spool_linktype(sp, &lt, &known, &err), 0);
	CHECK(known);
	CHECK_INT(lt, 1);

	CHECK_INT(writer_close(w, &err), 0);
	spool_close(sp);
	TESTS_DONE();
}

/* Unit tests of plan.c (with spool.c, writer.c, segment.c underneath): packets of three
 * devices written on two interfaces that overlap in time, with segment rotation; plans for
 * many windows must equal a model built here independently — exact size, the records in
 * timestamp order merged across interfaces — and plan_read must return the same bytes at any
 * offset and length. Also: a live (unsealed) segment is visible up to its last flush, and a
 * plan is a snapshot. A third interface carries one device alone (its segments are taken
 * whole, without reading their entries, except one where the clock stepped back). */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "plan.h"
#include "tests.h"
#include "writer.h"

static char dir[96];

#define N_MAIN 6000 /* interfaces 0 and 1 */
#define N_SOLO 400  /* interface 2: device 3 alone, after the others */
#define N_PACKETS (N_MAIN + N_SOLO)
#define SOLO_BACK (N_MAIN + 150) /* this one is 50 ms older than the one before */
#define T0 INT64_C(1795334400000000000)

struct pkt {
	int64_t ts;
	int iface;
	uint8_t frame[200];
	uint32_t len;
	unsigned devices; /* bit d-1 for device d */
};
static struct pkt pk[N_PACKETS];
static struct pkt late; /* written after the others, later than all of them */
static bool late_written;

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Ethernet + IPv4 from src MAC/IP to dst MAC/IP; device d has MAC 02:..:0d and IP 10.0.0.d;
 * device 0 means an unregistered peer. */
static void make_frame(struct pkt *p, int src, int dst)
{
	uint8_t *f = p->frame;
	memset(f, 0, sizeof(p->frame));
	uint8_t dmac[6] = {2, 0, 0, 0, 0, (uint8_t)(dst ? dst : 0x99)};
	uint8_t smac[6] = {2, 0, 0, 0, 0, (uint8_t)(src ? src : 0x98)};
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[23] = 17;
	uint8_t sip[4] = {10, 0, src ? 0 : 9, (uint8_t)(src ? src : 1)};
	uint8_t dip[4] = {10, 0, dst ? 0 : 9, (uint8_t)(dst ? dst : 2)};
	memcpy(f + 26, sip, 4);
	memcpy(f + 30, dip, 4);
	p->len = 60 + (uint32_t)(next_rand() % 140);
	for (uint32_t i = 34; i < p->len; i++)
		f[i] = (uint8_t)next_rand();
	p->devices = (src ? 1u << (src - 1) : 0) | (dst ? 1u << (dst - 1) : 0);
}

/* The model: the records of device d with ts in [s, e), by (ts, then interface 0 before 1,
 * then arrival) — the order the plan promises for segments that start together. */
static size_t order[N_PACKETS];
static int by_ts(const void *a, const void *b)
{
	int64_t x = pk[*(const size_t *)a].ts, y = pk[*(const size_t *)b].ts;
	return x < y ? -1 : x > y;
}

static size_t model(int d, int64_t s, int64_t e, enum tsprec prec, uint8_t **ret)
{
	size_t cap = 24 + (size_t)N_PACKETS * 216, n = 24;
	uint8_t *b = malloc(cap);
	pcap_put_global_header(b, prec, PCAP_MAX_CAPLEN, 1);
	for (int pass = 0; pass < 1; pass++)
		for (size_t k = 0; k < N_PACKETS; k++) {
			/* Interfaces never share a timestamp in this test (odd/even µs), so time
			 * order alone decides. */
			const struct pkt *p = &pk[order[k]];
			if (!(p->devices & (1u << (d - 1))) || p->ts < s || p->ts >= e)
				continue;
			pcap_put_rec_header(b + n, prec, p->ts, p->len, p->len);
			memcpy(b + n + 16, p->frame, p->len);
			n += 16 + p->len;
		}
	if (late_written && (late.devices & (1u << (d - 1))) && late.ts >= s && late.ts < e) {
		pcap_put_rec_header(b + n, prec, late.ts, late.len, late.len);
		memcpy(b + n + 16, late.frame, late.len);
		n += 16 + late.len;
	}
	*ret = b;
	return n;
}

/* plan_prefetch's stretches of one call. */
static struct asked {
	int fd;
	uint64_t pos, len;
} asked[1024];
static size_t n_asked;

static void ask(void *ctx, int fd, uint64_t pos, uint64_t len)
{
	const struct plan *p = ctx;
	struct stat st;
	CHECK(len > 0);
	CHECK(fstat(fd, &st) == 0 && pos + len <= (uint64_t)st.st_size);
	bool known = false;
	for (size_t i = 0; i < p->n_segs; i++)
		known |= p->segs[i].fd == fd;
	CHECK(known);
	if (n_asked < ELEMENTSOF(asked))
		asked[n_asked++] = (struct asked){fd, pos, len};
}

/* Every segment byte behind the output [off, off + len) lies in a stretch asked for, and
 * every stretch asked for lies inside a segment file of the plan (ask). */
static void check_prefetch(const struct plan *p, uint64_t off, uint64_t len)
{
	n_asked = 0;
	plan_prefetch(p, off, len, ask, (void *)p);
	uint64_t end = len > p->size - MIN(off, p->size) ? p->size : off + len;
	for (size_t i = 0; i < p->n_ext; i++) {
		const struct plan_extent *x = &p->ext[i];
		if (x->out_off + x->len <= off || x->out_off >= end)
			continue;
		uint64_t lo = x->seg_off + (off > x->out_off ? off - x->out_off : 0);
		uint64_t hi = x->seg_off + MIN((uint64_t)x->len, end - x->out_off);
		if (lo >= hi)
			continue; /* len 0 */
		bool in = false;
		for (size_t k = 0; k < n_asked && !in; k++)
			in = asked[k].fd == p->segs[x->seg].fd && asked[k].pos <= lo &&
			     hi <= asked[k].pos + asked[k].len;
		CHECK(in);
	}
}

/* Returns how many segments the plan took whole. */
static size_t check_plan(struct spool *sp, int d, int64_t s, int64_t e)
{
	struct plan *p;
	struct errbuf err;
	struct window w = {s, e};
	int r = plan_build(sp, d, &w, 0, NULL, &p, &err);
	CHECK_INT(r, 0);
	if (r < 0) {
		fprintf(stderr, "plan_build: %s\n", err.msg);
		return 0;
	}
	uint8_t *want;
	size_t n = model(d, s, e, sp->cfg.prec, &want);
	CHECK_INT(p->size, n);
	uint8_t *got = malloc(n + 100);
	/* Whole, then random pieces. */
	CHECK_INT(plan_read(p, got, n + 100, 0, &err), n);
	CHECK(memcmp(got, want, n) == 0);
	for (int k = 0; k < 200; k++) {
		uint64_t off = next_rand() % (n + 10);
		size_t len = (size_t)(next_rand() % 5000);
		ssize_t m = plan_read(p, got, len, off, &err);
		size_t expect = off >= n ? 0 : (size_t)MIN((uint64_t)len, n - off);
		CHECK_INT(m, expect);
		if (m > 0)
			CHECK(memcmp(got, want + off, (size_t)m) == 0);
		/* Advice at any offset and length, inside or past the file, asks for the
		 * segment bytes behind it and nothing outside the segments. */
		check_prefetch(p, off, len);
		plan_prefetch(p, off, len, NULL, NULL);
	}
	check_prefetch(p, 0, UINT64_MAX - 1);
	check_prefetch(p, n, 1);
	check_prefetch(p, UINT64_MAX, UINT64_MAX);
	plan_prefetch(p, 0, UINT64_MAX - 1, NULL, NULL);
	free(got);
	free(want);
	size_t whole = p->n_whole;
	plan_free(p);
	return whole;
}

static int register_devices(struct spool *sp)
{
	struct errbuf err;
	CHECK_INT(catalog_begin(sp->cat, &err), 0);
	for (int d = 1; d <= 3; d++) {
		char name[16], mac[32];
		int64_t id;
		snprintf(name, sizeof(name), "d%d", d);
		snprintf(mac, sizeof(mac), "02:00:00:00:00:%02x", d);
		CHECK_INT(catalog_device_add(sp->cat, name, "", "", &id, &err), 0);
		CHECK_INT(id, d);
		struct addr a;
		CHECK_INT(addr_parse(mac, &a, &err), 0);
		CHECK_INT(catalog_address_add(sp->cat, id, &a, 0, TIME_INFINITY, &err), 0);
	}
	return catalog_commit(sp->cat, &err);
}

int main(void)
{
	test_tmp(dir, sizeof(dir), "test-plan", 0);
	char path[256];
	snprintf(path, sizeof(path), "%s/spool", dir);
	struct spool_config cfg;
	spool_config_default(&cfg);
	cfg.segment_ns = 10 * NS_PER_SEC;
	struct errbuf err;
	CHECK_INT(spool_init(path, &cfg, &err), 0);
	struct spool *sp;
	CHECK_INT(spool_open(path, 0, 1000, &sp, &err), 0);
	CHECK_INT(register_devices(sp), 0);
	struct devmap *m;
	CHECK_INT(catalog_load_devmap(sp->cat, &m, &err), 0);

	/* Interface 0 carries even microseconds, interface 1 odd ones; both run over ~60 s. */
	int64_t t[2] = {T0, T0 + 1000};
	for (size_t i = 0; i < N_MAIN; i++) {
		int iface = (int)(next_rand() % 2);
		t[iface] += 2000 * (int64_t)(1 + next_rand() % 10000);
		pk[i].ts = t[iface];
		pk[i].iface = iface;
		int src = (int)(next_rand() % 4), dst = (int)(next_rand() % 4);
		make_frame(&pk[i], src, dst);
	}
	/* Interface 2, from 20 s after the others, a packet every 100 ms. */
	int64_t solo = (MAX(t[0], t[1]) / (10 * NS_PER_SEC) + 3) * (10 * NS_PER_SEC);
	for (size_t i = N_MAIN; i < N_PACKETS; i++) {
		pk[i].ts = solo + (int64_t)(i - N_MAIN) * 100000000 - (i == SOLO_BACK ? 150000000 : 0);
		pk[i].iface = 2;
		make_frame(&pk[i], 3, 0);
	}
	int64_t solo_end = solo + N_SOLO * INT64_C(100000000);
	for (size_t i = 0; i < N_PACKETS; i++)
		order[i] = i;
	qsort(order, N_PACKETS, sizeof(order[0]), by_ts);
	/* Write each interface's packets in its own time order. */
	struct writer *w[3];
	for (int k = 0; k < 3; k++) {
		const char *names[] = {"eth0", "eth1", "eth2"};
		struct writer_opts o = {.iface = names[k], .buffer_bytes = 300000};
		CHECK_INT(writer_open(sp, &o, m, &w[k], &err), 0);
	}
	for (size_t i = 0; i < N_PACKETS; i++)
		CHECK_INT(writer_write(w[pk[i].iface], 1, pk[i].ts, pk[i].len, pk[i].len, pk[i].frame, &err), 0);

	/* Before sealing: the open segments are visible up to their last flush. */
	CHECK_INT(writer_flush(w[0], &err), 0);
	CHECK_INT(writer_flush(w[1], &err), 0);
	int64_t end = MAX(t[0], t[1]) + 1;
	check_plan(sp, 1, T0, end);

	/* A plan is a snapshot: packets written after it was built are not in it. */
	struct plan *snap;
	struct window all = {T0, end + 10 * NS_PER_SEC};
	CHECK_INT(plan_build(sp, 2, &all, 0, NULL, &snap, &err), 0);
	uint64_t snap_size = snap->size;
	late = (struct pkt){.ts = end + NS_PER_SEC, .iface = 0};
	make_frame(&late, 2, 0);
	CHECK_INT(writer_write(w[0], 1, late.ts, late.len, late.len, late.frame, &err), 0);
	late_written = true;
	CHECK_INT(writer_flush(w[0], &err), 0);
	CHECK_INT(snap->size, snap_size);
	struct plan *fresh;
	CHECK_INT(plan_build(sp, 2, &all, 0, NULL, &fresh, &err), 0);
	CHECK_INT(fresh->size, snap_size + 16 + late.len);
	CHECK(fresh->has_open);
	plan_free(snap);
	plan_free(fresh);

	CHECK_INT(writer_close(w[0], &err), 0);
	CHECK_INT(writer_close(w[1], &err), 0);
	CHECK_INT(writer_close(w[2], &err), 0);

	/* Sealed: every device, windows of every kind. */
	for (int d = 1; d <= 3; d++) {
		check_plan(sp, d, T0, end);
		check_plan(sp, d, T0 + 5 * NS_PER_SEC + 123456000, T0 + 25 * NS_PER_SEC + 999000);
		check_plan(sp, d, T0 + 9 * NS_PER_SEC, T0 + 11 * NS_PER_SEC); /* segment boundary */
		check_plan(sp, d, T0 - NS_PER_SEC, T0);			      /* empty */
		for (int k = 0; k < 10; k++) {
			int64_t s = T0 + (int64_t)(next_rand() % 60000) * 1000000;
			check_plan(sp, d, s, s + 1 + (int64_t)(next_rand() % 20000) * 1000000);
		}
	}
	/* Device 3 alone on interface 2 (4 segments of 10 s): its segments are taken whole
	 * but the one where the clock stepped back, and only those inside the window; a window
	 * that also covers the interleaved interfaces is sorted, nothing taken whole. */
	CHECK_INT(check_plan(sp, 3, solo, solo_end), 3);
	CHECK_INT(check_plan(sp, 3, solo + 5 * NS_PER_SEC + 50000000, solo + 35 * NS_PER_SEC), 1);
	CHECK_INT(check_plan(sp, 3, T0, solo_end), 0);
	CHECK_INT(check_plan(sp, 1, solo, solo_end), 0);
	struct plan *p;
	struct window w1 = {T0, end};
	CHECK_INT(plan_build(sp, 3, &w1, 0, NULL, &p, &err), 0);
	CHECK(!p->has_open);
	CHECK(p->t_first >= T0 && p->t_last < end);
	plan_free(p);
	/* max_packets is enforced. */
	CHECK_INT(plan_build(sp, 3, &w1, 10, NULL, &p, &err), -EFBIG);
	/* Unknown devices are just empty. */
	CHECK_INT(plan_build(sp, 99, &w1, 0, NULL, &p, &err), 0);
	CHECK_INT(p->size, 24);
	plan_free(p);

	/* A catalogue whose segment times claim that the interfaces do not overlap: the plan is
	 * first built the direct way, meets a record out of time order and is built again
	 * sorted; the bytes are the same. */
	sqlite3 *db;
	snprintf(path, sizeof(path), "%s/spool/catalog.db", dir);
	CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, "UPDATE segments SET t_last = t_first", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	for (int d = 1; d <= 3; d++)
		check_plan(sp, d, T0, end);
	check_plan(sp, 3, T0, solo_end); /* whole segments placed, then sorted after all */

	devmap_free(m);
	spool_close(sp);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	TESTS_DONE();
}

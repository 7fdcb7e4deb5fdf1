/* Unit tests of segment.c: the recovery invariant. A segment written with several flushes is
 * cut at every byte of its tail (as a crash can leave it), with the index either intact or cut
 * too; recovery must keep exactly the complete records before the cut, index each of them
 * for its devices, seal, and leave a segment that the walker and the sealed index agree on.
 * Also: reindex gives the same index as the writer did; a busy segment is left alone. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "segment.h"
#include "tests.h"

static char dir[96];
static int dirfd_;

#define N 60
static uint32_t rec_len[N];
static uint64_t rec_end[N]; /* file offset after record i */

static void frame(uint8_t *f, int i, uint32_t len)
{
	memset(f, 0, len);
	f[5] = (uint8_t)(1 + i % 3); /* dst MAC 00:00:00:00:00:0d -> device d (1..3) */
	f[11] = 0x77;		     /* src MAC unregistered */
	f[12] = 0x08;
	for (uint32_t k = 14; k < len; k++)
		f[k] = (uint8_t)(i * 31 + k);
}

static struct devmap *make_map(void)
{
	struct devmap *m = devmap_new();
	for (uint32_t d = 1; d <= 3; d++) {
		struct addr a = {.family = ADDR_MAC, .prefix = 48};
		a.bytes[5] = (uint8_t)d;
		CHECK_INT(devmap_add(m, &a, d, 0, TIME_INFINITY), 0);
	}
	return m;
}

static int count_entries(size_t chunk, uint32_t d, const struct index_entry *e, size_t n, void *u)
{
	size_t *c = u;
	c[d] += n;
	for (size_t i = 0; i < n; i++) {
		/* every entry is at a record boundary of ours, for the right device */
		int idx = -1;
		for (int k = 0; k < N; k++)
			if (rec_end[k] - rec_len[k] == e[i].offset)
				idx = k;
		CHECK(idx >= 0);
		if (idx >= 0) {
			CHECK_INT(e[i].len, rec_len[idx]);
			CHECK_INT(1 + idx % 3, d);
		}
	}
	return 0;
}

static void copy_file(const char *from, const char *to, off_t len)
{
	char a[300], b[300];
	snprintf(a, sizeof(a), "%s/%s", dir, from);
	snprintf(b, sizeof(b), "%s/%s", dir, to);
	int in = open(a, O_RDONLY), out = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint8_t *buf = malloc((size_t)len + 1);
	ssize_t n = pread(in, buf, (size_t)len, 0);
	CHECK(n == len);
	CHECK(write(out, buf, (size_t)n) == n);
	free(buf);
	close(in);
	close(out);
}

static uint8_t *slurp(const char *name, size_t *ret_len)
{
	char a[300];
	snprintf(a, sizeof(a), "%s/%s", dir, name);
	int fd = open(a, O_RDONLY);
	struct stat st;
	CHECK(fd >= 0 && fstat(fd, &st) == 0);
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	CHECK(pread(fd, buf, (size_t)st.st_size, 0) == st.st_size);
	close(fd);
	*ret_len = (size_t)st.st_size;
	return buf;
}

static void check_same(const char *a, const char *b)
{
	size_t la, lb;
	uint8_t *x = slurp(a, &la), *y = slurp(b, &lb);
	CHECK_INT(la, lb);
	CHECK(la == lb && memcmp(x, y, la) == 0);
	free(x);
	free(y);
}

/* Can this directory take O_DIRECT writes (tmpfs cannot)? */
static bool direct_supported(void)
{
	int fd = openat(dirfd_, "probe", O_WRONLY | O_CREAT | O_DIRECT, 0600);
	if (fd < 0)
		return false;
	void *b = aligned_alloc(4096, 4096);
	memset(b, 0, 4096);
	bool ok = pwrite(fd, b, 4096, 0) == 4096;
	free(b);
	close(fd);
	unlinkat(dirfd_, "probe", 0);
	return ok;
}

/* Direct mode (O_DIRECT for the aligned part, the tail through the page cache, the last
 * block carried in the buffer) writes exactly the bytes buffered mode writes: after every
 * flush the segment files agree, and so do the sealed files. A small buffer makes many
 * buffer-full flushes and carries. */
static void test_direct(void)
{
	bool supported = direct_supported();
	struct segment_params p = {
		.prec = TSPREC_NS, .snaplen = PCAP_MAX_CAPLEN, .linktype = 1,
		.max_bytes = SEGMENT_MAX_BYTES, .buffer_bytes = PCAP_REC_HDR_LEN + PCAP_MAX_CAPLEN,
	};
	struct segment_writer *wd, *wb;
	struct errbuf err;
	p.direct = true;
	CHECK_INT(segment_writer_create(dirfd_, "direct", 9, &p, &wd, &err), 0);
	p.direct = false;
	CHECK_INT(segment_writer_create(dirfd_, "buffered", 9, &p, &wb, &err), 0);
	if (supported)
		CHECK(segment_writer_direct(wd));
	CHECK(!segment_writer_direct(wb));
	static uint8_t f[9100];
	uint64_t rng = 12345;
	for (int i = 0; i < 4000; i++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t len = 60 + (uint32_t)((rng >> 33) % (i % 97 == 0 ? 9000 : 1500));
		frame(f, i, len);
		uint32_t id = (uint32_t)(1 + i % 3);
		int64_t ts = INT64_C(1795334400000000000) + i * INT64_C(1000003);
		CHECK_INT(segment_writer_append(wd, ts, len, len, f, &id, 1, &err), 0);
		CHECK_INT(segment_writer_append(wb, ts, len, len, f, &id, 1, &err), 0);
		if ((rng >> 20) % 41 == 0) {
			CHECK_INT(segment_writer_flush(wd, &err), 0);
			CHECK_INT(segment_writer_flush(wb, &err), 0);
			check_same("direct.pcap", "buffered.pcap");
		}
	}
	CHECK_INT(segment_writer_flush(wd, &err), 0);
	CHECK_INT(segment_writer_flush(wb, &err), 0);
	check_same("direct.pcap", "buffered.pcap");
	struct segment_result rd, rb;
	bool freed;
	CHECK_INT(segment_writer_seal(wd, false, &rd, &freed, &err), 0);
	CHECK_INT(segment_writer_seal(wb, false, &rb, &freed, &err), 0);
	CHECK_INT(rd.packets, 4000);
	CHECK_INT(rd.bytes, rb.bytes);
	check_same("direct.pcap", "buffered.pcap");
	check_same("direct.idx", "buffered.idx");
	segment_result_done(&rd);
	segment_result_done(&rb);

	/* Files already there are never replaced nor removed: a create over them fails. */
	struct stat before, after;
	char path[300];
	snprintf(path, sizeof(path), "%s/direct.pcap", dir);
	CHECK_INT(stat(path, &before), 0);
	CHECK_INT(segment_writer_create(dirfd_, "direct", 10, &p, &wd, &err), -EEXIST);
	CHECK_INT(stat(path, &after), 0);
	CHECK_INT(after.st_ino, before.st_ino);
	CHECK_INT(after.st_size, before.st_size);
	snprintf(path, sizeof(path), "%s/direct.idx", dir);
	CHECK_INT(stat(path, &after), 0);
	/* Only the index is left (a segment removed by hand): the create fails, both stay as
	 * they were, and nothing of its own remains. */
	snprintf(path, sizeof(path), "%s/buffered.pcap", dir);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(segment_writer_create(dirfd_, "buffered", 10, &p, &wb, &err), -EEXIST);
	CHECK(access(path, F_OK) < 0 && errno == ENOENT);
	snprintf(path, sizeof(path), "%s/buffered.idx", dir);
	CHECK_INT(stat(path, &after), 0);
	CHECK(after.st_size > 64);
	printf("direct mode %s here\n", supported ? "in effect" : "not supported (buffered fallback)");
}

int main(void)
{
	test_tmp(dir, sizeof(dir), "test-segment", 0);
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY);
	test_direct();
	struct devmap *m = make_map();
	struct errbuf err;
	struct segment_params p = {
		.prec = TSPREC_US, .snaplen = PCAP_MAX_CAPLEN, .linktype = 1,
		.max_bytes = SEGMENT_MAX_BYTES, .buffer_bytes = PCAP_REC_HDR_LEN + PCAP_MAX_CAPLEN,
	};
	struct segment_writer *w;
	CHECK_INT(segment_writer_create(dirfd_, "orig", 7, &p, &w, &err), 0);
	uint64_t off = PCAP_GLOBAL_HDR_LEN;
	uint8_t f[2000];
	for (int i = 0; i < N; i++) {
		uint32_t len = 60 + (uint32_t)(i * 37 % 1400);
		frame(f, i, len);
		uint32_t id = (uint32_t)(1 + i % 3);
		CHECK_INT(segment_writer_append(w, INT64_C(1795334400000000000) + i * INT64_C(1000000), len,
						len, f, &id, 1, &err), 0);
		rec_len[i] = PCAP_REC_HDR_LEN + len;
		off += rec_len[i];
		rec_end[i] = off;
		if (i % 10 == 9)
			CHECK_INT(segment_writer_flush(w, &err), 0);
	}
	CHECK_INT(segment_writer_flush(w, &err), 0);
	/* Keep the live files as a crash would leave them: copy before sealing. */
	struct stat st;
	char path[300];
	snprintf(path, sizeof(path), "%s/orig.idx", dir);
	stat(path, &st);
	off_t idx_len = st.st_size;
	copy_file("orig.pcap", "live.pcap", (off_t)off);
	copy_file("orig.idx", "live.idx", idx_len);
	struct segment_result res;
	bool freed;
	CHECK_INT(segment_writer_seal(w, false, &res, &freed, &err), 0);
	CHECK(freed);
	CHECK_INT(res.packets, N);
	segment_result_done(&res);

	/* Cut the segment at every byte of its last 3 records and at some earlier points; the
	 * index intact, or cut to its header. */
	for (int idx_cut = 0; idx_cut < 2; idx_cut++)
		for (uint64_t cut = PCAP_GLOBAL_HDR_LEN; cut <= off; cut += cut < rec_end[N - 4] ? 97 : 1) {
			copy_file("live.pcap", "c.pcap", (off_t)cut);
			copy_file("live.idx", "c.idx", idx_cut ? INDEX_HDR_LEN : idx_len);
			uint64_t truncated = 0;
			int r = segment_recover(dirfd_, "c", 7, m, false, &res, &truncated, &err);
			int complete = 0;
			while (complete < N && rec_end[complete] <= cut)
				complete++;
			uint64_t keep = complete ? rec_end[complete - 1] : PCAP_GLOBAL_HDR_LEN;
			if (complete == 0) {
				CHECK_INT(r, SEGMENT_EMPTY);
				continue;
			}
			CHECK_INT(r, SEGMENT_RECOVERED);
			if (r != SEGMENT_RECOVERED) {
				fprintf(stderr, "cut %llu: %s\n", (unsigned long long)cut, err.msg);
				continue;
			}
			CHECK_INT(res.packets, complete);
			CHECK_INT(res.bytes, keep);
			CHECK_INT(truncated, cut - keep);
			size_t per_dev[4] = {0};
			for (int k = 0; k < complete; k++)
				per_dev[1 + k % 3]++;
			for (size_t s = 0; s < res.n_sums; s++)
				CHECK_INT(res.sums[s].packets, per_dev[res.sums[s].device_id]);
			segment_result_done(&res);
			/* The sealed index agrees with the records. */
			int fd;
			struct pcap_ghdr g;
			CHECK_INT(segment_open_read(dirfd_, "c", &fd, &g, &err), 0);
			struct index_reader *ir;
			CHECK_INT(segment_open_index(dirfd_, "c", 7, fd, &ir, &err), 0);
			CHECK(index_reader_sealed(ir));
			size_t counts[4] = {0};
			CHECK_INT(index_reader_foreach_run(ir, count_entries, counts, &err), 0);
			for (int d = 1; d <= 3; d++)
				CHECK_INT(counts[d], per_dev[d]);
			index_reader_free(ir);
			close(fd);
			/* Recovering a sealed segment again changes nothing. */
			CHECK_INT(segment_recover(dirfd_, "c", 7, m, false, &res, &truncated, &err), SEGMENT_RECOVERED);
			CHECK_INT(res.packets, complete);
			CHECK_INT(truncated, 0);
			segment_result_done(&res);
		}

	/* A live chunk whose header is intact but whose entries are corrupt: recovery indexes the
	 * segment again from its records and loses nothing. */
	copy_file("live.pcap", "z.pcap", (off_t)off);
	copy_file("live.idx", "z.idx", idx_len);
	snprintf(path, sizeof(path), "%s/z.idx", dir);
	int zfd = open(path, O_RDWR);
	uint8_t byte;
	off_t at = INDEX_HDR_LEN + INDEX_CHUNK_HDR_LEN + 3 * INDEX_DIR_LEN + 10;
	CHECK(pread(zfd, &byte, 1, at) == 1);
	byte ^= 0x5a;
	CHECK(pwrite(zfd, &byte, 1, at) == 1);
	close(zfd);
	uint64_t zt = 0;
	CHECK_INT(segment_recover(dirfd_, "z", 7, m, false, &res, &zt, &err), SEGMENT_RECOVERED);
	CHECK_INT(res.packets, N);
	CHECK_INT(res.n_sums, 3);
	segment_result_done(&res);

	/* The same, and a record the index had accepted is damaged too (its caplen zeroed):
	 * nothing is cut, neither file changes, and recovering again finds the same. */
	copy_file("live.pcap", "y.pcap", (off_t)off);
	copy_file("live.idx", "y.idx", idx_len);
	snprintf(path, sizeof(path), "%s/y.idx", dir);
	zfd = open(path, O_RDWR);
	CHECK(pread(zfd, &byte, 1, at) == 1);
	byte ^= 0x5a;
	CHECK(pwrite(zfd, &byte, 1, at) == 1);
	close(zfd);
	snprintf(path, sizeof(path), "%s/y.pcap", dir);
	zfd = open(path, O_RDWR);
	static const uint8_t zero4[4];
	CHECK(pwrite(zfd, zero4, 4, (off_t)(rec_end[19] + 8)) == 4); /* record 20's caplen */
	close(zfd);
	for (int again = 0; again < 2; again++) {
		CHECK(segment_recover(dirfd_, "y", 7, m, false, &res, &zt, &err) == -EBADMSG);
		CHECK(strstr(err.msg, "left as they are") != NULL);
		CHECK_INT(stat(path, &st), 0);
		CHECK_INT(st.st_size, (off_t)off);
		snprintf(path, sizeof(path), "%s/y.idx", dir);
		CHECK_INT(stat(path, &st), 0);
		CHECK_INT(st.st_size, idx_len);
		snprintf(path, sizeof(path), "%s/y.pcap", dir);
	}

	/* The same with record 20's caplen (and len) grown past the end of what the index had
	 * accepted, so that the record looks like a torn tail: still damage, left as it is. */
	static const char *const past_cases[] = {"x", "w"};
	for (int c = 0; c < 2; c++) {
		char name[8];
		snprintf(name, sizeof(name), "%s.pcap", past_cases[c]);
		copy_file("live.pcap", name, (off_t)off);
		snprintf(name, sizeof(name), "%s.idx", past_cases[c]);
		copy_file("live.idx", name, idx_len);
		/* x: a directory's entries damaged; w: the index's file header damaged, so that only
		 * its chunk headers tell what was accepted. */
		off_t where = c == 0 ? at : 20;
		snprintf(path, sizeof(path), "%s/%s.idx", dir, past_cases[c]);
		zfd = open(path, O_RDWR);
		CHECK(pread(zfd, &byte, 1, where) == 1);
		byte ^= 0x5a;
		CHECK(pwrite(zfd, &byte, 1, where) == 1);
		close(zfd);
		snprintf(path, sizeof(path), "%s/%s.pcap", dir, past_cases[c]);
		zfd = open(path, O_RDWR);
		uint8_t big[8] = {0x40, 0x0d, 0x03, 0, 0x40, 0x0d, 0x03, 0}; /* 200000, 200000 */
		CHECK(pwrite(zfd, big, 8, (off_t)(rec_end[19] + 8)) == 8);
		close(zfd);
		CHECK(segment_recover(dirfd_, past_cases[c], 7, m, false, &res, &zt, &err) == -EBADMSG);
		CHECK(strstr(err.msg, "left as they are") != NULL);
		CHECK_INT(stat(path, &st), 0);
		CHECK_INT(st.st_size, (off_t)off);
		snprintf(path, sizeof(path), "%s/%s.idx", dir, past_cases[c]);
		CHECK_INT(stat(path, &st), 0);
		CHECK_INT(st.st_size, idx_len);
	}

	/* The index's file header damaged, the records whole: indexed again, nothing lost. */
	copy_file("live.pcap", "v.pcap", (off_t)off);
	copy_file("live.idx", "v.idx", idx_len);
	snprintf(path, sizeof(path), "%s/v.idx", dir);
	zfd = open(path, O_RDWR);
	CHECK(pread(zfd, &byte, 1, 20) == 1);
	byte ^= 0x5a;
	CHECK(pwrite(zfd, &byte, 1, 20) == 1);
	close(zfd);
	CHECK_INT(segment_recover(dirfd_, "v", 7, m, false, &res, &zt, &err), SEGMENT_RECOVERED);
	CHECK_INT(res.packets, N);
	segment_result_done(&res);

	/* A segment whose writer still holds it is left alone. */
	copy_file("live.pcap", "busy.pcap", (off_t)off);
	copy_file("live.idx", "busy.idx", idx_len);
	snprintf(path, sizeof(path), "%s/busy.pcap", dir);
	int holder = open(path, O_RDONLY);
	CHECK(flock(holder, LOCK_EX) == 0);
	uint64_t t;
	CHECK_INT(segment_recover(dirfd_, "busy", 7, m, false, &res, &t, &err), SEGMENT_BUSY);
	close(holder);

	/* reindex of the sealed original gives the same figures. */
	CHECK_INT(segment_reindex(dirfd_, "orig", 7, m, false, &res, &err), 0);
	CHECK_INT(res.packets, N);
	CHECK_INT(res.n_sums, 3);
	segment_result_done(&res);

	/* A missing segment is empty, not an error. */
	CHECK_INT(segment_recover(dirfd_, "nothing", 8, m, false, &res, &t, &err), SEGMENT_EMPTY);

	devmap_free(m);
	close(dirfd_);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	TESTS_DONE();
}

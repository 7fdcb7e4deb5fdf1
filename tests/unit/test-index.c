/* Unit tests of index.c: encode/read round trips, live files cut at every byte of their last
 * chunk (readers see the complete chunks only), sealing, and corruption: every single byte
 * flipped in a sealed index is detected. Whole segments: a sealed index says when a device's
 * records are the whole segment as it lies, and only when they are. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "index.h"
#include "pcapio.h"
#include "tests.h"

static char dir[96];

static int open_tmp(const char *name, int flags)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return open(p, flags | O_CREAT | O_CLOEXEC, 0600);
}

/* A fake segment: records of 100 bytes each starting at 24; record i has ts 1000 + 10*i and
 * belongs to devices (i % 3) + 1 and, when i is even, 7. */
#define REC 100u
static struct index_pending *make_pending(uint32_t first, uint32_t count, size_t *ret_n)
{
	struct index_pending *p = calloc((size_t)count * 2, sizeof(*p));
	size_t n = 0;
	uint32_t seq = 0;
	for (uint32_t i = first; i < first + count; i++) {
		struct index_entry e = {1000 + 10 * (int64_t)i, PCAP_GLOBAL_HDR_LEN + i * REC, REC};
		p[n++] = (struct index_pending){(i % 3) + 1, seq++, e};
		if (i % 2 == 0)
			p[n++] = (struct index_pending){7, seq++, e};
	}
	*ret_n = n;
	return p;
}

static void append_chunk(int fd, uint32_t first, uint32_t count)
{
	size_t n, len;
	uint8_t *buf;
	struct index_pending *p = make_pending(first, count, &n);
	int r = index_encode_chunk(p, n, PCAP_GLOBAL_HDR_LEN + first * REC,
				   PCAP_GLOBAL_HDR_LEN + (first + count) * REC, count, 1000 + 10 * (int64_t)first,
				   1000 + 10 * (int64_t)(first + count - 1), &buf, &len);
	CHECK_INT(r, 0);
	CHECK_INT(write(fd, buf, len), (long long)len);
	free(buf);
	free(p);
}

/* Expected entries of device d among records [0, total) with ts in [from, until). */
static size_t expected(uint32_t d, uint32_t total, int64_t from, int64_t until)
{
	size_t n = 0;
	for (uint32_t i = 0; i < total; i++) {
		int64_t ts = 1000 + 10 * (int64_t)i;
		bool in = d == 7 ? i % 2 == 0 : (i % 3) + 1 == d;
		if (in && ts >= from && ts < until)
			n++;
	}
	return n;
}

static void check_collect(struct index_reader *r, uint32_t total)
{
	for (uint32_t d = 1; d <= 8; d++) {
		int64_t ranges[][2] = {{INT64_MIN, INT64_MAX}, {1000, 1001}, {1055, 1555}, {0, 1000}};
		for (size_t k = 0; k < ELEMENTSOF(ranges); k++) {
			struct index_entry *v = NULL;
			size_t n = 0, cap = 0;
			struct errbuf err;
			CHECK_INT(index_reader_collect(r, d, ranges[k][0], ranges[k][1], &v, &n, &cap, SIZE_MAX, &err), 0);
			CHECK_INT(n, expected(d, total, ranges[k][0], ranges[k][1]));
			for (size_t i = 0; i < n; i++) {
				CHECK_INT(v[i].len, REC);
				CHECK_INT((v[i].offset - PCAP_GLOBAL_HDR_LEN) % REC, 0);
				CHECK_INT(v[i].ts_ns, 1000 + 10 * (int64_t)((v[i].offset - PCAP_GLOBAL_HDR_LEN) / REC));
				if (i)
					CHECK(v[i].ts_ns > v[i - 1].ts_ns);
			}
			free(v);
		}
	}
}

static int count_run(size_t chunk, uint32_t d, const struct index_entry *e, size_t n, void *u)
{
	*(size_t *)u += n;
	return 0;
}

/* A sealed index of a segment of n records of REC bytes, every one of device 5 and every
 * other one of device 6 too; record i has ts 2000 + 10 * i, except that record back (if
 * < n) has the ts of the record before it less 5 (the clock stepped back). */
static int sealed_whole(const char *name, int seg, uint32_t n, uint32_t back)
{
	struct index_pending *p = calloc((size_t)n * 2, sizeof(*p));
	size_t k = 0;
	int64_t t_min = INT64_MAX, t_max = INT64_MIN;
	for (uint32_t i = 0; i < n; i++) {
		int64_t ts = 2000 + 10 * (int64_t)i - (i == back ? 15 : 0);
		struct index_entry e = {ts, PCAP_GLOBAL_HDR_LEN + i * REC, REC};
		p[k] = (struct index_pending){5, (uint32_t)k, e};
		k++;
		if (i % 2 == 0) {
			p[k] = (struct index_pending){6, (uint32_t)k, e};
			k++;
		}
		t_min = MIN(t_min, ts);
		t_max = MAX(t_max, ts);
	}
	uint8_t h[INDEX_HDR_LEN], *buf;
	size_t len;
	index_put_header(h, 9, 0);
	CHECK_INT(index_encode_chunk(p, k, PCAP_GLOBAL_HDR_LEN, PCAP_GLOBAL_HDR_LEN + n * REC, n,
				     t_min, t_max, &buf, &len),
		  0);
	int live = open_tmp("live-whole.idx", O_RDWR | O_TRUNC);
	CHECK_INT(pwrite(live, h, sizeof(h), 0), sizeof(h));
	CHECK_INT(pwrite(live, buf, len, sizeof(h)), (long long)len);
	free(buf);
	free(p);
	struct index_reader *r;
	struct errbuf err;
	CHECK_INT(index_reader_open(live, seg, 9, &r, &err), 0);
	int fd = open_tmp(name, O_RDWR | O_TRUNC);
	CHECK_INT(index_write_sealed(r, 9, PCAP_GLOBAL_HDR_LEN + n * REC, fd, &err), 0);
	index_reader_free(r);
	close(live);
	return fd;
}

static uint32_t header_flags(int fd)
{
	uint8_t h[INDEX_HDR_LEN];
	CHECK_INT(pread(fd, h, sizeof(h), 0), sizeof(h));
	return le32(h + 24);
}

static void check_whole(int seg)
{
	const uint32_t n = 50;
	CHECK(ftruncate(seg, PCAP_GLOBAL_HDR_LEN + n * REC) == 0);
	struct index_reader *r;
	struct errbuf err;
	struct index_whole w;

	/* In file order: flagged ordered; device 5 is the whole segment in any window around
	 * its chunk; device 6, an absent device and windows that cut the chunk are not. */
	int fd = sealed_whole("whole.idx", seg, n, n);
	CHECK_INT(header_flags(fd), INDEX_FLAG_SEALED | INDEX_FLAG_ORDERED);
	CHECK_INT(index_reader_open(fd, seg, 9, &r, &err), 0);
	CHECK_INT(index_reader_whole(r, 5, INT64_MIN, INT64_MAX, &w, &err), 1);
	CHECK_INT(w.seg_start, PCAP_GLOBAL_HDR_LEN);
	CHECK_INT(w.len, n * REC);
	CHECK_INT(w.packets, n);
	CHECK_INT(w.t_first, 2000);
	CHECK_INT(w.t_last, 2000 + 10 * (n - 1));
	CHECK_INT(index_reader_whole(r, 5, 2000, 2000 + 10 * (n - 1) + 1, &w, &err), 1);
	CHECK_INT(index_reader_whole(r, 5, 2000, 2000 + 10 * (n - 1), &w, &err), 0);
	CHECK_INT(index_reader_whole(r, 5, 2001, INT64_MAX, &w, &err), 0);
	CHECK_INT(index_reader_whole(r, 6, INT64_MIN, INT64_MAX, &w, &err), 0);
	CHECK_INT(index_reader_whole(r, 4, INT64_MIN, INT64_MAX, &w, &err), 0);
	/* The entries agree with what was said without them. */
	struct index_entry *v = NULL;
	size_t got = 0, cap = 0;
	CHECK_INT(index_reader_collect(r, 5, INT64_MIN, INT64_MAX, &v, &got, &cap, SIZE_MAX, &err), 0);
	CHECK_INT(got, n);
	for (size_t i = 0; i < got; i++)
		CHECK_INT(v[i].offset, PCAP_GLOBAL_HDR_LEN + i * REC);
	index_reader_free(r);
	close(fd);

	/* The clock stepped back inside the segment: time order is not file order, so the
	 * file is not flagged and the entries have to be read. */
	fd = sealed_whole("back.idx", seg, n, 20);
	CHECK_INT(header_flags(fd), INDEX_FLAG_SEALED);
	CHECK_INT(index_reader_open(fd, seg, 9, &r, &err), 0);
	CHECK_INT(index_reader_whole(r, 5, INT64_MIN, INT64_MAX, &w, &err), 0);
	index_reader_free(r);

	/* A file that claims the order it does not have (checksum made to match) is corrupt
	 * as soon as its entries are read. */
	uint8_t h[INDEX_HDR_LEN];
	CHECK_INT(pread(fd, h, sizeof(h), 0), sizeof(h));
	put_le32(h + 24, INDEX_FLAG_SEALED | INDEX_FLAG_ORDERED);
	put_le32(h + 60, crc32c(0, h, 60));
	CHECK_INT(pwrite(fd, h, sizeof(h), 0), sizeof(h));
	CHECK_INT(index_reader_open(fd, seg, 9, &r, &err), 0);
	got = 0;
	CHECK_INT(index_reader_collect(r, 5, INT64_MIN, INT64_MAX, &v, &got, &cap, SIZE_MAX, &err),
		  -EBADMSG);
	size_t c = 0;
	CHECK_INT(index_reader_foreach_run(r, count_run, &c, &err), -EBADMSG);
	index_reader_free(r);
	/* ORDERED without SEALED is not a valid header. */
	put_le32(h + 24, INDEX_FLAG_ORDERED);
	put_le32(h + 60, crc32c(0, h, 60));
	CHECK_INT(pwrite(fd, h, sizeof(h), 0), sizeof(h));
	CHECK_INT(index_reader_open(fd, seg, 9, &r, &err), -EBADMSG);
	free(v);
	close(fd);
}

int main(void)
{
	test_tmp(dir, sizeof(dir), "test-index", 0);
	const uint32_t total = 300;

	/* A segment file of the right size. */
	int seg = open_tmp("s.pcap", O_RDWR | O_TRUNC);
	CHECK(ftruncate(seg, PCAP_GLOBAL_HDR_LEN + total * REC) == 0);

	/* Live index: header + 3 chunks. */
	int idx = open_tmp("s.idx", O_RDWR | O_TRUNC | O_APPEND);
	uint8_t h[INDEX_HDR_LEN];
	index_put_header(h, 42, 0);
	CHECK_INT(write(idx, h, sizeof(h)), sizeof(h));
	append_chunk(idx, 0, 100);
	append_chunk(idx, 100, 150);
	off_t two_chunks = lseek(idx, 0, SEEK_END);
	append_chunk(idx, 250, 50);
	off_t full = lseek(idx, 0, SEEK_END);

	struct index_reader *r;
	struct errbuf err;
	CHECK_INT(index_reader_open(idx, seg, 42, &r, &err), 0);
	CHECK(!index_reader_sealed(r));
	CHECK_INT(index_reader_chunks(r), 3);
	CHECK_INT(index_reader_covered(r), PCAP_GLOBAL_HDR_LEN + total * REC);
	check_collect(r, total);

	/* max_total is enforced. */
	struct index_entry *v = NULL;
	size_t n = 0, cap = 0;
	CHECK_INT(index_reader_collect(r, 7, INT64_MIN, INT64_MAX, &v, &n, &cap, 10, &err), -EFBIG);
	/* ...on the window's packets, not on the runs it touches: 5 of device 7's records. */
	n = 0;
	CHECK_INT(index_reader_collect(r, 7, 1000, 1100, &v, &n, &cap, 10, &err), 0);
	CHECK_INT(n, expected(7, total, 1000, 1100));
	free(v);

	/* Seal it. */
	int sealed = open_tmp("sealed.idx", O_RDWR | O_TRUNC);
	CHECK_INT(index_write_sealed(r, 42, PCAP_GLOBAL_HDR_LEN + total * REC, sealed, &err), 0);
	index_reader_free(r);
	CHECK_INT(index_reader_open(sealed, seg, 42, &r, &err), 0);
	CHECK(index_reader_sealed(r));
	CHECK_INT(index_reader_chunks(r), 1);
	CHECK_INT(index_reader_chunk(r, 0)->packets, total);
	check_collect(r, total);
	size_t all = 0;
	CHECK_INT(index_reader_foreach_run(r, count_run, &all, &err), 0);
	CHECK_INT(all, total + total / 2);
	index_reader_free(r);

	/* I4: a live file cut anywhere inside its last chunk shows the first two chunks. */
	struct stat st;
	fstat(idx, &st);
	uint8_t *copy = malloc((size_t)full);
	CHECK_INT(pread(idx, copy, (size_t)full, 0), full);
	int cut = open_tmp("cut.idx", O_RDWR | O_TRUNC);
	for (off_t len = two_chunks; len < full; len += (len < two_chunks + 200 ? 1 : 37)) {
		CHECK(ftruncate(cut, 0) == 0);
		CHECK_INT(pwrite(cut, copy, (size_t)len, 0), len);
		CHECK_INT(index_reader_open(cut, seg, 42, &r, &err), 0);
		CHECK_INT(index_reader_chunks(r), 2);
		CHECK_INT(index_reader_covered(r), PCAP_GLOBAL_HDR_LEN + 250 * REC);
		index_reader_free(r);
	}

	/* A segment shorter than the chunks claim: live readers drop those chunks. */
	int shortseg = open_tmp("short.pcap", O_RDWR | O_TRUNC);
	CHECK(ftruncate(shortseg, PCAP_GLOBAL_HDR_LEN + 260 * REC) == 0);
	CHECK_INT(index_reader_open(idx, shortseg, 42, &r, &err), 0);
	CHECK_INT(index_reader_chunks(r), 2);
	index_reader_free(r);
	CHECK_INT(index_reader_open(sealed, shortseg, 42, &r, &err), -EBADMSG);

	/* Every byte flipped in the sealed index is detected, at open or when runs are read. */
	fstat(sealed, &st);
	size_t slen = (size_t)st.st_size;
	uint8_t *orig = malloc(slen);
	CHECK_INT(pread(sealed, orig, slen, 0), (long long)slen);
	int bad = open_tmp("bad.idx", O_RDWR | O_TRUNC);
	size_t undetected = 0;
	for (size_t i = 0; i < slen; i++) {
		orig[i] ^= 0x41;
		CHECK(ftruncate(bad, 0) == 0);
		CHECK_INT(pwrite(bad, orig, slen, 0), (long long)slen);
		orig[i] ^= 0x41;
		if (index_reader_open(bad, seg, 42, &r, &err) < 0)
			continue;
		size_t c = 0;
		if (index_reader_foreach_run(r, count_run, &c, &err) == 0)
			undetected++;
		index_reader_free(r);
	}
	CHECK_INT(undetected, 0);
	/* And truncation at any length. */
	for (size_t len = 0; len < slen; len += 7) {
		CHECK(ftruncate(bad, 0) == 0);
		CHECK_INT(pwrite(bad, orig, len, 0), (long long)len);
		CHECK(index_reader_open(bad, seg, 42, &r, &err) < 0);
	}

	/* Encoding rejects entries outside the chunk's ranges. */
	struct index_pending p = {1, 0, {5, 10, 100}};
	uint8_t *buf;
	size_t blen;
	CHECK_INT(index_encode_chunk(&p, 1, 24, 124, 1, 5, 5, &buf, &blen), -EINVAL);
	p.e.offset = 24;
	CHECK_INT(index_encode_chunk(&p, 1, 24, 124, 1, 6, 9, &buf, &blen), -EINVAL);
	CHECK_INT(index_encode_chunk(&p, 1, 24, 124, 1, 5, 5, &buf, &blen), 0);
	free(buf);

	check_whole(seg);

	free(copy);
	free(orig);
	close(seg);
	close(idx);
	close(sealed);
	close(cut);
	close(bad);
	close(shortseg);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	TESTS_DONE();
}

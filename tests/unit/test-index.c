/* Unit tests of index.c: encode/read round trips, live files cut at every byte of their last
 * chunk (readers see the complete chunks only), sealing, and corruption: every single byte
 * flipped in a sealed index is detected. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index.h"
#include "pcapio.h"
#include "tests.h"

static char dir[] = "/tmp/test-index-XXXXXX";

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

int main(void)
{
	CHECK(mkdtemp(dir) != NULL);
	const uint32_t total = 300;

	/* A segment file of the right size. */
	int seg = open_tmp("s.pcap", O_RDWR | O_TRUNC);
	CHECK(ftruncate(seg, PCAP_GLOBAL_HDR_LEN + total * REC) == 0);

	/* Live index: header + 3 chunks. */
	int idx = open_tmp("s.idx", O_RDWR | O_TRUNC | O_APPEND);
	uint8_t h[INDEX_HDR_LEN];
	index_put_header(h, 42, false);
	CHECK_INT(write(idx, h, sizeof(h)), sizeof(h));
	append_chunk(idx, 0, 100);
	append_chunk(idx, 100, 150);
	off_t two_chunks = lseek(idx, 0, SEEK_END);
	append_chunk(idx, 250, 50);
	off_t full = lseek(idx, 0, SEEK_END);

	struct index_reader *r;
	struct errbuf err;
	CHECK_INT(index_reader_open(idx, seg, &r, &err), 0);
	CHECK(!index_reader_sealed(r));
	CHECK_INT(index_reader_chunks(r), 3);
	CHECK_INT(index_reader_covered(r), PCAP_GLOBAL_HDR_LEN + total * REC);
	check_collect(r, total);

	/* max_total is enforced. */
	struct index_entry *v = NULL;
	size_t n = 0, cap = 0;
	CHECK_INT(index_reader_collect(r, 7, INT64_MIN, INT64_MAX, &v, &n, &cap, 10, &err), -EFBIG);
	free(v);

	/* Seal it. */
	int sealed = open_tmp("sealed.idx", O_RDWR | O_TRUNC);
	CHECK_INT(index_write_sealed(r, 42, PCAP_GLOBAL_HDR_LEN + total * REC, sealed, &err), 0);
	index_reader_free(r);
	CHECK_INT(index_reader_open(sealed, seg, &r, &err), 0);
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
		CHECK_INT(index_reader_open(cut, seg, &r, &err), 0);
		CHECK_INT(index_reader_chunks(r), 2);
		CHECK_INT(index_reader_covered(r), PCAP_GLOBAL_HDR_LEN + 250 * REC);
		index_reader_free(r);
	}

	/* A segment shorter than the chunks claim: live readers drop those chunks. */
	int shortseg = open_tmp("short.pcap", O_RDWR | O_TRUNC);
	CHECK(ftruncate(shortseg, PCAP_GLOBAL_HDR_LEN + 260 * REC) == 0);
	CHECK_INT(index_reader_open(idx, shortseg, &r, &err), 0);
	CHECK_INT(index_reader_chunks(r), 2);
	index_reader_free(r);
	CHECK_INT(index_reader_open(sealed, shortseg, &r, &err), -EBADMSG);

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
		if (index_reader_open(bad, seg, &r, &err) < 0)
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
		CHECK(index_reader_open(bad, seg, &r, &err) < 0);
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

	free(copy);
	free(orig);
	close(seg);
	close(idx);
	close(sealed);
	close(cut);
	close(bad);
	close(shortseg);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	TESTS_DONE();
}

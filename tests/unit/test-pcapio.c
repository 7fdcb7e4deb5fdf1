/* test-pcapio.c — the capture file reader and the pcap header helpers, on files built byte
 * by byte in memory and on disk (under /tmp, removed afterwards): every format variant the
 * reader accepts, every malformation it must reject with a precise message, buffer refills
 * and growth across a file larger than the read buffer, standard input (file and pipe). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "pcapio.h"
#include "tests.h"

/* ---- a byte builder for test files ---- */

struct bld {
	uint8_t *p;
	size_t len, cap;
	bool be;
};

static void b_bytes(struct bld *b, const void *src, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void b_u16(struct bld *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	if (b->be) {
		x[0] = (uint8_t)(v >> 8);
		x[1] = (uint8_t)v;
	}
	b_bytes(b, x, 2);
}

static void b_u32(struct bld *b, uint32_t v)
{
	uint8_t x[4];
	for (int i = 0; i < 4; i++)
		x[b->be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
	b_bytes(b, x, 4);
}

static void b_u64(struct bld *b, uint64_t v)
{
	/* pcapng 64-bit option values: whole value in the section's byte order. */
	if (b->be) {
		b_u32(b, (uint32_t)(v >> 32));
		b_u32(b, (uint32_t)v);
	} else {
		b_u32(b, (uint32_t)v);
		b_u32(b, (uint32_t)(v >> 32));
	}
}

static void b_payload(struct bld *b, uint64_t seed, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)(seed * 7 + i);
		b_bytes(b, &c, 1);
	}
}

static bool payload_ok(const uint8_t *d, uint64_t seed, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (d[i] != (uint8_t)(seed * 7 + i))
			return false;
	return true;
}

static void pcap_hdr(struct bld *b, uint32_t magic, uint16_t minor, uint32_t snaplen,
		     uint32_t linktype)
{
	b_u32(b, magic);
	b_u16(b, 2);
	b_u16(b, minor);
	b_u32(b, 0);
	b_u32(b, 0);
	b_u32(b, snaplen);
	b_u32(b, linktype);
}

static void pcap_rec(struct bld *b, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len,
		     uint64_t seed)
{
	b_u32(b, sec);
	b_u32(b, frac);
	b_u32(b, caplen);
	b_u32(b, len);
	b_payload(b, seed, caplen);
}

/* pcapng blocks: body bytes are padded, the trailer repeats the length. */
static void ng_block(struct bld *b, uint32_t type, const struct bld *body)
{
	uint32_t pad = (uint32_t)((4 - body->len % 4) % 4);
	uint32_t len = (uint32_t)(12 + body->len + pad);
	static const uint8_t zero[4];
	b_u32(b, type);
	b_u32(b, len);
	b_bytes(b, body->p, body->len);
	b_bytes(b, zero, pad);
	b_u32(b, len);
}

static void ng_shb(struct bld *b, uint16_t major)
{
	struct bld x = { .be = b->be };
	b_u32(&x, 0x1a2b3c4d);
	b_u16(&x, major);
	b_u16(&x, 0);
	b_u64(&x, UINT64_MAX); /* section length unknown */
	ng_block(b, 0x0a0d0d0a, &x);
	free(x.p);
}

/* tsresol < 0: no option; tsoffset == 0: no option. */
static void ng_idb(struct bld *b, uint16_t linktype, uint32_t snaplen, int tsresol,
		   int64_t tsoffset)
{
	struct bld x = { .be = b->be };
	static const uint8_t zero[3];
	b_u16(&x, linktype);
	b_u16(&x, 0);
	b_u32(&x, snaplen);
	if (tsresol >= 0) {
		uint8_t v = (uint8_t)tsresol;
		b_u16(&x, 9);
		b_u16(&x, 1);
		b_bytes(&x, &v, 1);
		b_bytes(&x, zero, 3);
	}
	if (tsoffset) {
		b_u16(&x, 14);
		b_u16(&x, 8);
		b_u64(&x, (uint64_t)tsoffset);
	}
	b_u16(&x, 0);
	b_u16(&x, 0);
	ng_block(b, 1, &x);
	free(x.p);
}

static void ng_epb(struct bld *b, uint32_t ifid, uint64_t units, uint32_t caplen, uint32_t len,
		   uint64_t seed)
{
	struct bld x = { .be = b->be };
	b_u32(&x, ifid);
	b_u32(&x, (uint32_t)(units >> 32));
	b_u32(&x, (uint32_t)units);
	b_u32(&x, caplen);
	b_u32(&x, len);
	b_payload(&x, seed, caplen);
	ng_block(b, 6, &x);
	free(x.p);
}

static void ng_opb(struct bld *b, uint16_t ifid, uint64_t units, uint32_t caplen, uint64_t seed)
{
	struct bld x = { .be = b->be };
	b_u16(&x, ifid);
	b_u16(&x, 0);
	b_u32(&x, (uint32_t)(units >> 32));
	b_u32(&x, (uint32_t)units);
	b_u32(&x, caplen);
	b_u32(&x, caplen);
	b_payload(&x, seed, caplen);
	ng_block(b, 2, &x);
	free(x.p);
}

static void ng_raw(struct bld *b, uint32_t type, uint32_t bodylen)
{
	struct bld x = { .be = b->be };
	b_payload(&x, type, bodylen);
	ng_block(b, type, &x);
	free(x.p);
}

/* ---- helpers for reading ---- */

/* Open b in memory and expect the open to fail with errno e and a message containing msg. */
static void expect_open_error(const struct bld *b, int e, const char *msg, int line)
{
	struct pcapin *in = NULL;
	struct errbuf err = { "" };
	int r = pcapin_open_mem(b->p, b->len, &in, &err);
	if (r != -e || !strstr(err.msg, msg)) {
		fprintf(stderr, "line %d: open returned %d \"%s\", expected %d \"%s\"\n", line, r,
			err.msg, -e, msg);
		tests_failed++;
	}
	pcapin_close(in);
}

/* Read b to its end, expect `good` packets and then the error e (0 = clean end) whose
 * message contains msg; an error must then stay (same code and message). */
static void expect_read(const struct bld *b, unsigned good, int e, const char *msg, int line)
{
	struct pcapin *in = NULL;
	struct errbuf err = { "" };
	struct pcap_rec rec;
	int r = pcapin_open_mem(b->p, b->len, &in, &err);
	if (r < 0) {
		fprintf(stderr, "line %d: open failed: %s\n", line, err.msg);
		tests_failed++;
		return;
	}
	unsigned n = 0;
	while ((r = pcapin_next(in, &rec, &err)) == 1)
		n++;
	if (n != good || r != -e || (msg && !strstr(err.msg, msg))) {
		fprintf(stderr, "line %d: %u packets then %d \"%s\", expected %u then %d \"%s\"\n",
			line, n, r, err.msg, good, -e, msg ? msg : "");
		tests_failed++;
	}
	if (e) {
		struct errbuf again = { "" };
		CHECK_INT(pcapin_next(in, &rec, &again), -e);
		CHECK_STR(again.msg, err.msg);
		CHECK_INT(pcapin_next(in, &rec, NULL), -e);
	} else {
		CHECK_INT(pcapin_next(in, &rec, &err), 0);
		CHECK_INT(pcapin_pos(in), b->len);
	}
	pcapin_close(in);
}

static struct pcapin *open_mem_ok(const struct bld *b)
{
	struct pcapin *in = NULL;
	struct errbuf err = { "" };
	int r = pcapin_open_mem(b->p, b->len, &in, &err);
	if (r < 0) {
		fprintf(stderr, "open_mem: %s\n", err.msg);
		tests_failed++;
	}
	return in;
}

/* ---- classic pcap ---- */

static void test_pcap_variants(void)
{
	static const struct {
		uint32_t magic;
		bool be;
		uint16_t minor;
		enum tsprec prec;
	} v[] = {
		{ PCAP_MAGIC_US, false, 4, TSPREC_US }, { PCAP_MAGIC_NS, false, 4, TSPREC_NS },
		{ PCAP_MAGIC_US, true, 4, TSPREC_US },	{ PCAP_MAGIC_NS, true, 4, TSPREC_NS },
		{ PCAP_MAGIC_US, false, 3, TSPREC_US },
	};
	for (size_t i = 0; i < ELEMENTSOF(v); i++) {
		struct bld b = { .be = v[i].be };
		uint32_t frac = v[i].prec == TSPREC_NS ? 999999999u : 999999u;
		pcap_hdr(&b, v[i].magic, v[i].minor, 65535, 1 | 0x04000000u /* FCS flag */);
		pcap_rec(&b, 1700000000, 123, 60, 60, 1);
		pcap_rec(&b, UINT32_MAX, frac, 1, 1500, 2);
		pcap_rec(&b, 0, 0, 65535, 65535, 3);

		struct pcapin *in = open_mem_ok(&b);
		if (!in)
			continue;
		CHECK_INT(pcapin_format(in), PCAPIN_PCAP);
		CHECK_INT(pcapin_linktype(in), 1);
		CHECK_INT(pcapin_snaplen(in), 65535);
		CHECK_INT(pcapin_tsprec(in), v[i].prec);
		CHECK_INT(pcapin_size(in), b.len);
		CHECK_INT(pcapin_pos(in), 24);

		struct pcap_rec r;
		struct errbuf err;
		int64_t unit = v[i].prec == TSPREC_NS ? 1 : 1000;
		CHECK_INT(pcapin_next(in, &r, &err), 1);
		CHECK_INT(r.ts_ns, 1700000000 * NS_PER_SEC + 123 * unit);
		CHECK_INT(r.caplen, 60);
		CHECK_INT(r.len, 60);
		CHECK_INT(r.offset, 24);
		CHECK_INT(r.index, 0);
		CHECK(payload_ok(r.data, 1, 60));
		CHECK_INT(pcapin_next(in, &r, &err), 1);
		CHECK_INT(r.ts_ns, (int64_t)UINT32_MAX * NS_PER_SEC + (int64_t)frac * unit);
		CHECK_INT(r.caplen, 1);
		CHECK_INT(r.len, 1500);
		CHECK_INT(r.offset, 24 + 16 + 60);
		CHECK_INT(r.index, 1);
		CHECK(payload_ok(r.data, 2, 1));
		CHECK_INT(pcapin_next(in, &r, &err), 1);
		CHECK_INT(r.ts_ns, 0);
		CHECK(payload_ok(r.data, 3, 65535));
		CHECK_INT(pcapin_next(in, &r, &err), 0);
		CHECK_INT(pcapin_pos(in), b.len);
		pcapin_close(in);
		free(b.p);
	}

	/* snaplen 0 and oversized snaplens mean PCAP_MAX_CAPLEN. */
	for (uint32_t snap = 0; snap < 2; snap++) {
		struct bld b = { 0 };
		pcap_hdr(&b, PCAP_MAGIC_US, 4, snap ? 0xffffffffu : 0, 101);
		pcap_rec(&b, 1, 1, PCAP_MAX_CAPLEN, PCAP_MAX_CAPLEN, 9);
		struct pcapin *in = open_mem_ok(&b);
		CHECK_INT(pcapin_snaplen(in), PCAP_MAX_CAPLEN);
		CHECK_INT(pcapin_linktype(in), 101);
		pcapin_close(in);
		expect_read(&b, 1, 0, NULL, __LINE__);
		free(b.p);
	}

	/* A header and no packets is a valid, empty capture. */
	struct bld b = { 0 };
	pcap_hdr(&b, PCAP_MAGIC_NS, 4, 96, 1);
	expect_read(&b, 0, 0, NULL, __LINE__);
	free(b.p);
}

static void test_pcap_malformed(void)
{
	struct bld b = { 0 };

	expect_open_error(&b, EPROTO, "empty file", __LINE__);
	b_u16(&b, 0xc3d4);
	expect_open_error(&b, EPROTO, "only 2 bytes", __LINE__);
	b.len = 0;
	b_u32(&b, 0x464c457f); /* ELF */
	b_u32(&b, 0);
	expect_open_error(&b, EPROTO, "not a pcap or pcapng file (magic 0x7f454c46)", __LINE__);
	b.len = 0;
	b.be = true;
	b_u32(&b, 0x1f8b0800);
	expect_open_error(&b, EPROTO, "gzip", __LINE__);
	b.be = false;
	b.len = 0;
	pcap_hdr(&b, PCAP_MAGIC_US, 4, 65535, 1);
	b.len = 20;
	expect_open_error(&b, EPROTO, "truncated pcap file header (the file ends after 20 of 24 bytes)",
			  __LINE__);
	b.len = 0;
	pcap_hdr(&b, PCAP_MAGIC_US, 2, 65535, 1);
	expect_open_error(&b, EPROTO, "unsupported pcap version 2.2", __LINE__);
	b.len = 0;
	b.be = true;
	b_u32(&b, PCAP_MAGIC_US);
	b_u16(&b, 1);
	b_u16(&b, 0);
	b_bytes(&b, (uint8_t[16]){ 0 }, 16);
	expect_open_error(&b, EPROTO, "unsupported pcap version 1.0", __LINE__);
	b.be = false;

	/* Record-level errors: two good packets, then the bad one (packet 3). */
	struct {
		uint32_t magic, snaplen, frac, caplen, len;
		unsigned cut; /* bytes to remove from the end */
		const char *msg;
	} c[] = {
		{ PCAP_MAGIC_US, 65535, 0, 70000, 70000, 0,
		  "packet 3 at offset 184: caplen 70000 exceeds the snaplen 65535 of the file" },
		{ PCAP_MAGIC_US, 0, 0, 262145, 262145, 0,
		  "packet 3 at offset 184: caplen 262145 exceeds the maximum 262144" },
		{ PCAP_MAGIC_US, 65535, 0, 0, 60, 0, "packet 3 at offset 184: zero-length packet" },
		{ PCAP_MAGIC_US, 65535, 0, 0, 0, 0, "zero-length packet (caplen 0, len 0)" },
		{ PCAP_MAGIC_US, 65535, 0, 100, 99, 0,
		  "packet 3 at offset 184: caplen 100 exceeds the original length 99" },
		{ PCAP_MAGIC_US, 65535, 1000000, 60, 60, 0,
		  "packet 3 at offset 184: microsecond field 1000000 out of range" },
		{ PCAP_MAGIC_NS, 65535, 1000000000, 60, 60, 0,
		  "packet 3 at offset 184: nanosecond field 1000000000 out of range" },
		{ PCAP_MAGIC_US, 65535, 0, 60, 60, 1,
		  "packet 3 at offset 184: truncated record (caplen 60, the file ends after 59 of its "
		  "60 data bytes)" },
		{ PCAP_MAGIC_US, 65535, 0, 60, 60, 60 + 11,
		  "packet 3 at offset 184: truncated record header (the file ends after 5 of 16 bytes)" },
	};
	for (size_t i = 0; i < ELEMENTSOF(c); i++) {
		b.len = 0;
		pcap_hdr(&b, c[i].magic, 4, c[i].snaplen, 1);
		pcap_rec(&b, 10, 0, 64, 64, 1);
		pcap_rec(&b, 11, 0, 64, 64, 2);
		pcap_rec(&b, 12, c[i].frac, c[i].caplen, c[i].len, 3);
		b.len -= c[i].cut;
		expect_read(&b, 2, EPROTO, c[i].msg, __LINE__);
	}
	free(b.p);
}

/* ---- pcapng ---- */

static void test_pcapng_variants(void)
{
	static const struct {
		int tsresol;
		int64_t tsoffset;
		uint64_t units;
		int64_t ts_ns;
		enum tsprec prec;
	} v[] = {
		{ -1, 0, UINT64_C(1700000000123456), INT64_C(1700000000123456000), TSPREC_US },
		{ 6, 0, UINT64_C(1700000000123456), INT64_C(1700000000123456000), TSPREC_US },
		{ 9, 0, UINT64_C(1700000000123456789), INT64_C(1700000000123456789), TSPREC_NS },
		{ 3, 0, UINT64_C(1700000000123), INT64_C(1700000000123000000), TSPREC_US },
		{ 0, 0, UINT64_C(1700000000), INT64_C(1700000000000000000), TSPREC_US },
		{ 12, 0, UINT64_C(1700000000123456789), INT64_C(1700000000123456), TSPREC_NS },
		{ 19, 0, UINT64_MAX, INT64_C(1844674407), TSPREC_NS },
		{ 0x80 | 20, 0, UINT64_C(1) << 20 | 1 << 19, INT64_C(1500000000), TSPREC_NS },
		{ 0x80 | 19, 0, UINT64_C(3) << 18, INT64_C(1500000000), TSPREC_US },
		{ 0x80 | 32, 0, UINT64_C(1700000000) << 32 | 1u << 31,
		  INT64_C(1700000000500000000), TSPREC_NS },
		{ 0x80 | 63, 0, UINT64_MAX, INT64_C(1999999999), TSPREC_NS },
		{ 6, 1000, UINT64_C(1000001), INT64_C(1001000001000), TSPREC_US },
		{ 9, -100, UINT64_C(100000000007), INT64_C(7), TSPREC_NS },
		{ 6, 0, UINT64_C(4294967296000000) - 1, INT64_C(4294967295999999000), TSPREC_US },
	};
	for (int be = 0; be < 2; be++)
		for (size_t i = 0; i < ELEMENTSOF(v); i++) {
			struct bld b = { .be = be };
			ng_shb(&b, 1);
			ng_raw(&b, 0x0bad, 10); /* unknown block: skipped */
			ng_idb(&b, 113, 0, v[i].tsresol, v[i].tsoffset);
			ng_raw(&b, 5, 20); /* interface statistics: skipped */
			ng_epb(&b, 0, v[i].units, 61, 100, 1);
			ng_opb(&b, 0, v[i].units, 3, 2);
			ng_shb(&b, 1); /* a second section without interfaces or packets */
			ng_raw(&b, 4, 8);

			struct pcapin *in = open_mem_ok(&b);
			if (!in)
				continue;
			CHECK_INT(pcapin_format(in), PCAPIN_PCAPNG);
			CHECK_INT(pcapin_linktype(in), 113);
			CHECK_INT(pcapin_snaplen(in), PCAP_MAX_CAPLEN);
			CHECK_INT(pcapin_tsprec(in), v[i].prec);

			struct pcap_rec r;
			struct errbuf err = { "" };
			CHECK_INT(pcapin_next(in, &r, &err), 1);
			CHECK_INT(r.ts_ns, v[i].ts_ns);
			CHECK_INT(r.caplen, 61);
			CHECK_INT(r.len, 100);
			CHECK_INT(r.index, 0);
			CHECK(payload_ok(r.data, 1, 61));
			CHECK_INT(pcapin_next(in, &r, &err), 1);
			CHECK_INT(r.ts_ns, v[i].ts_ns);
			CHECK_INT(r.caplen, 3);
			CHECK_INT(r.len, 3);
			CHECK_INT(r.index, 1);
			CHECK(payload_ok(r.data, 2, 3));
			CHECK_INT(pcapin_next(in, &r, &err), 0);
			if (err.msg[0])
				fprintf(stderr, "variant %zu: %s\n", i, err.msg);
			CHECK_INT(pcapin_pos(in), b.len);
			pcapin_close(in);
			free(b.p);
		}

	/* An IDB snaplen limits caplen; an SHB alone is an empty capture. */
	struct bld b = { 0 };
	ng_shb(&b, 1);
	expect_read(&b, 0, 0, NULL, __LINE__);
	ng_idb(&b, 1, 128, -1, 0);
	ng_epb(&b, 0, 1, 128, 128, 1);
	ng_epb(&b, 0, 2, 129, 129, 1);
	expect_read(&b, 1, EPROTO, "packet 2 at offset", __LINE__);
	expect_read(&b, 1, EPROTO, "caplen 129 exceeds the snaplen 128 of the interface", __LINE__);
	free(b.p);
}

static void test_pcapng_malformed(void)
{
	struct bld b = { 0 };

	/* Errors found at open. */
	ng_shb(&b, 2);
	expect_open_error(&b, EPROTO, "unsupported pcapng version 2.0", __LINE__);
	b.len = 0;
	ng_shb(&b, 1);
	b.p[8] = 0x11;
	expect_open_error(&b, EPROTO, "bad pcapng byte-order magic", __LINE__);
	b.len = 10;
	expect_open_error(&b, EPROTO, "truncated section header (the file ends after 10 of 12", __LINE__);
	b.len = 0;
	ng_shb(&b, 1);
	b.len -= 4;
	expect_open_error(&b, EPROTO, "truncated block (the file ends after 24 of its 28 bytes)",
			  __LINE__);
	b.len = 0;
	ng_shb(&b, 1);
	b.p[b.len - 4] = 32;
	expect_open_error(&b, EPROTO, "trailing block length 32 differs from the leading 28", __LINE__);
	b.len = 0;
	b_u32(&b, 0x0a0d0d0a);
	b_u32(&b, 24);
	b_u32(&b, 0x1a2b3c4d);
	b_u32(&b, 1);
	b_u32(&b, 0);
	b_u32(&b, 24);
	expect_open_error(&b, EPROTO, "shorter than 28", __LINE__);
	b.len = 0;
	ng_shb(&b, 1);
	ng_idb(&b, 1, 0, 20, 0); /* 10^-20 */
	expect_open_error(&b, EPROTO, "block at offset 28: unsupported if_tsresol 10^-20", __LINE__);
	b.len = 0;
	ng_shb(&b, 1);
	ng_idb(&b, 1, 0, 0x80 | 64, 0);
	expect_open_error(&b, EPROTO, "unsupported if_tsresol 2^-64", __LINE__);

	/* An IDB with a two-byte if_tsresol and one with an option running past its end. */
	for (int k = 0; k < 3; k++) {
		struct bld x = { 0 };
		b.len = 0;
		ng_shb(&b, 1);
		b_u16(&x, 1);
		b_u16(&x, 0);
		b_u32(&x, 0);
		b_u16(&x, k == 2 ? 14 : 9);
		b_u16(&x, k == 0 ? 2 : k == 1 ? 200 : 4);
		b_u32(&x, 0);
		ng_block(&b, 1, &x);
		free(x.p);
		expect_open_error(&b, EPROTO,
				  k == 0	 ? "if_tsresol option of length 2 (expected 1)"
				  : k == 1 ? "interface option 9 of length 200 overruns the block"
					   : "if_tsoffset option of length 4 (expected 8)",
				  __LINE__);
	}

	/* Framing errors after good packets. */
	struct {
		int kind;
		const char *msg;
	} c[] = {
		{ 0, "pcapng file declares 2 interfaces; pcapfs imports one interface per file" },
		{ 1, "differing from the first one" },
		{ 2, "packet 2 at offset 108: trailing block length 1 differs from the leading 92" },
		{ 3, "packet 2 at offset 108: simple packet block" },
		{ 4, "packet 2 at offset 108: interface 1 is not declared (the section declares one" },
		{ 5, "packet 2 at offset 108: block length 16777220 exceeds the maximum 16777216" },
		{ 6, "packet 2 at offset 108: invalid block length 30" },
		{ 7, "packet 2 at offset 108: invalid block length 8" },
		{ 8, "block at offset 108: truncated block header (the file ends after 7 of 8 bytes)" },
		{ 9, "packet 2 at offset 108: truncated block (the file ends after 91 of its 92 bytes)" },
		{ 10, "packet 2 at offset 108: caplen 61 does not fit in its block of 92 bytes" },
		{ 11, "packet 2 at offset 108: zero-length packet" },
		{ 12, "packet 2 at offset 108: caplen 61 exceeds the original length 60" },
		{ 13, "packet 2 at offset 108: packet block of 28 bytes is shorter than 32" },
		{ 14, "interface 0 is not declared (no interface description block precedes it)" },
		{ 15, "pcapng file declares 2 interfaces" },
		{ 16, "packet 2 at offset 108: timestamp outside 1970..2106" },
		{ 17, "block at offset 108 (type 0x00000bad): trailing block length" },
		{ 18, "packet 2 at offset 108: timestamp outside 1970..2106" },
	};
	for (size_t i = 0; i < ELEMENTSOF(c); i++) {
		struct bld x = { 0 };
		b.len = 0;
		ng_shb(&b, 1);		/* 28 bytes */
		ng_idb(&b, 1, 0, -1, 0); /* 20 + 4 = 24 bytes */
		ng_epb(&b, 0, 5, 24, 24, 1); /* 56 bytes: packet 2 starts at 108 */
		switch (c[i].kind) {
		case 0:
			ng_idb(&b, 1, 0, -1, 0);
			break;
		case 1:
			ng_idb(&b, 105, 0, -1, 0);
			break;
		case 2:
			ng_epb(&b, 0, 5, 60, 60, 2);
			b.p[b.len - 4] = 1;
			b.p[b.len - 3] = 0;
			break;
		case 3:
			b_u32(&x, 60);
			b_payload(&x, 1, 60);
			ng_block(&b, 3, &x);
			break;
		case 4:
			ng_epb(&b, 1, 5, 60, 60, 2);
			break;
		case 5:
			b_u32(&b, 6);
			b_u32(&b, PCAPNG_MAX_BLOCK + 4);
			b_payload(&b, 0, 100);
			break;
		case 6:
			b_u32(&b, 6);
			b_u32(&b, 30);
			b_payload(&b, 0, 40);
			break;
		case 7:
			b_u32(&b, 6);
			b_u32(&b, 8);
			break;
		case 8:
			b_u32(&b, 6);
			b_payload(&b, 0, 3);
			break;
		case 9:
			ng_epb(&b, 0, 5, 60, 60, 2);
			b.len--;
			break;
		case 10: /* caplen 61 in a block with room for 60 */
			ng_epb(&b, 0, 5, 60, 61, 2);
			b.p[108 + 20] = 61;
			break;
		case 11:
			ng_epb(&b, 0, 5, 60, 0, 2);
			break;
		case 12:
			ng_epb(&b, 0, 5, 61, 60, 2);
			break;
		case 13:
			b_u32(&b, 6);
			b_u32(&b, 28);
			b_payload(&b, 0, 16);
			b_u32(&b, 28);
			break;
		case 14:
			ng_shb(&b, 1);
			ng_epb(&b, 0, 5, 60, 60, 2);
			break;
		case 15:
			ng_shb(&b, 1);
			ng_idb(&b, 1, 0, -1, 0);
			break;
		case 16:
			/* SHB 28, IDB with if_tsresol and if_tsoffset 44, EPB 36: the second
			 * EPB, one second before the offset of -2 s, is again at 108. */
			b.len = 0;
			ng_shb(&b, 1);
			ng_idb(&b, 1, 0, 9, -2);
			ng_epb(&b, 0, 2 * NS_PER_SEC, 4, 4, 1);
			ng_epb(&b, 0, NS_PER_SEC, 4, 4, 1);
			break;
		case 17:
			ng_raw(&b, 0xbad, 8);
			b.p[b.len - 4] = 2;
			break;
		case 18: /* 2^32 s: past what classic pcap can store */
			ng_epb(&b, 0, UINT64_C(4294967296000000), 60, 60, 2);
			break;
		}
		free(x.p);
		expect_read(&b, 1, EPROTO, c[i].msg, __LINE__);
	}

	/* A packet block before any IDB: open succeeds, the first read fails. */
	b.len = 0;
	ng_shb(&b, 1);
	ng_epb(&b, 0, 5, 60, 60, 2);
	expect_read(&b, 0, EPROTO, "packet 1 at offset 28: interface 0 is not declared", __LINE__);
	free(b.p);
}

/* ---- files on disk, standard input ---- */

static char *write_tmp(const struct bld *b)
{
	char *path = strdup("/tmp/test-pcapio-XXXXXX");
	int fd = path ? mkstemp(path) : -1;
	if (fd < 0)
		abort();
	if (write_full(fd, b->p, b->len) < 0)
		abort();
	close(fd);
	return path;
}

/* Read every packet of path, checking the sequence written by make_big(); len is the
 * file's length, size what pcapin_size() must report (0 for a pipe). */
static void check_big(const char *path, unsigned npkt, uint64_t len, uint64_t size)
{
	struct pcapin *in = NULL;
	struct errbuf err = { "" };
	struct pcap_rec r;
	int ret = pcapin_open(path, &in, &err);
	CHECK_INT(ret, 0);
	if (ret < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return;
	}
	CHECK_INT(pcapin_size(in), size);
	if (size == 0) /* a pipe: records cannot be copied from it by offset */
		CHECK_INT(pcapin_record_fd(in, TSPREC_US), -1);
	unsigned n = 0;
	bool ok = true;
	uint64_t last_pos = 0;
	while ((ret = pcapin_next(in, &r, &err)) == 1) {
		uint32_t caplen = 1 + (n * 997) % 3000;
		if (r.index != n || r.caplen != caplen || r.len != caplen + 4 ||
		    r.ts_ns != 1000 * NS_PER_SEC + (int64_t)n * 1000 || !payload_ok(r.data, n, caplen) ||
		    pcapin_pos(in) <= last_pos)
			ok = false;
		last_pos = pcapin_pos(in);
		n++;
	}
	CHECK(ok);
	CHECK_INT(ret, 0);
	if (ret < 0)
		fprintf(stderr, "%s\n", err.msg);
	CHECK_INT(n, npkt);
	CHECK_INT(pcapin_pos(in), len);
	pcapin_close(in);
}

/* Larger than the 4 MiB read buffer, with packet sizes that do not divide it, so records
 * straddle refills; the pcapng variant has a 6 MiB block in the middle (buffer growth). */
static void make_big(struct bld *b, unsigned npkt, bool pcapng)
{
	if (pcapng) {
		ng_shb(b, 1);
		ng_idb(b, 1, 0, -1, 0);
	} else {
		pcap_hdr(b, PCAP_MAGIC_US, 4, 65535, 1);
	}
	for (unsigned i = 0; i < npkt; i++) {
		uint32_t caplen = 1 + (i * 997) % 3000;
		uint64_t us = 1000 * UINT64_C(1000000) + i;
		if (pcapng) {
			ng_epb(b, 0, us, caplen, caplen + 4, i);
			if (i == npkt / 3)
				ng_raw(b, 0x40000bad, 6u << 20);
		} else {
			pcap_rec(b, (uint32_t)(us / 1000000), (uint32_t)(us % 1000000), caplen, caplen + 4, i);
		}
	}
}

static void test_disk(void)
{
	for (int ng = 0; ng < 2; ng++) {
		struct bld b = { 0 };
		unsigned npkt = 6000;
		make_big(&b, npkt, ng);
		CHECK(b.len > (5u << 20));
		char *path = write_tmp(&b);
		check_big(path, npkt, b.len, b.len);

		/* The same file as standard input (a regular file: its size is known). */
		int saved = dup(STDIN_FILENO);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		CHECK(saved >= 0 && fd >= 0);
		dup2(fd, STDIN_FILENO);
		close(fd);
		check_big("-", npkt, b.len, b.len);
		dup2(saved, STDIN_FILENO);
		close(saved);

		/* Truncated on disk: an error naming the last packet, not a crash or a hang. */
		if (truncate(path, (off_t)b.len - 1) == 0) {
			struct bld t = { .p = b.p, .len = b.len - 1 };
			expect_read(&t, npkt - 1, EPROTO, ng ? "truncated block" : "truncated record",
				    __LINE__);
			struct pcapin *in = NULL;
			struct errbuf err;
			struct pcap_rec r;
			int ret = pcapin_open(path, &in, &err);
			CHECK_INT(ret, 0);
			unsigned n = 0;
			while (in && (ret = pcapin_next(in, &r, &err)) == 1)
				n++;
			CHECK_INT(n, npkt - 1);
			CHECK_INT(ret, -EPROTO);
			char want[64];
			snprintf(want, sizeof(want), "packet %u at offset", npkt);
			CHECK(strstr(err.msg, want) != NULL);
			pcapin_close(in);
		}
		unlink(path);
		free(path);

		/* Through a pipe: size unknown (0), read in small pieces. */
		int pfd[2];
		CHECK_INT(pipe(pfd), 0);
		pid_t pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			int r = write_full(pfd[1], b.p, b.len);
			_exit(r < 0 ? 1 : 0);
		}
		close(pfd[1]);
		saved = dup(STDIN_FILENO);
		dup2(pfd[0], STDIN_FILENO);
		close(pfd[0]);
		check_big("-", npkt, b.len, 0);
		dup2(saved, STDIN_FILENO);
		close(saved);
		int status = 0;
		waitpid(pid, &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		free(b.p);
	}

	struct pcapin *in = NULL;
	struct errbuf err;
	CHECK_INT(pcapin_open("/nonexistent/x.pcap", &in, &err), -ENOENT);
	CHECK(strstr(err.msg, "/nonexistent/x.pcap") != NULL);
	CHECK_INT(pcapin_open("/tmp", &in, &err), -EISDIR);
	CHECK(in == NULL);
}

/* pcapin_record_fd(): only for regular files whose records are byte-identical to what
 * pcap_put_rec_header() writes, and rec.offset must then locate them in the file, also
 * when standard input starts in the middle of a file. */
static void test_record_fd(void)
{
	struct bld b = { 0 };
	b_payload(&b, 99, 100); /* junk before the capture, skipped with lseek below */
	pcap_hdr(&b, PCAP_MAGIC_US, 4, 65535, 1);
	for (unsigned i = 0; i < 50; i++)
		pcap_rec(&b, 1700000000 + i, i * 1000, 20 + i, 30 + i, i);
	char *path = write_tmp(&b);

	int saved = dup(STDIN_FILENO);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(saved >= 0 && fd >= 0 && lseek(fd, 100, SEEK_SET) == 100);
	dup2(fd, STDIN_FILENO);
	close(fd);

	struct pcapin *in = NULL;
	struct errbuf err;
	struct pcap_rec r;
	CHECK_INT(pcapin_open("-", &in, &err), 0);
	if (in) {
		CHECK_INT(pcapin_pos(in), 100 + PCAP_GLOBAL_HDR_LEN);
		CHECK_INT(pcapin_size(in), b.len);
		CHECK_INT(pcapin_record_fd(in, TSPREC_NS), -1);
		int rfd = pcapin_record_fd(in, TSPREC_US);
		CHECK(rfd >= 0);
		unsigned n = 0;
		while (pcapin_next(in, &r, &err) == 1) {
			uint8_t want[PCAP_REC_HDR_LEN + 100], got[sizeof(want)];
			size_t len = PCAP_REC_HDR_LEN + r.caplen;
			pcap_put_rec_header(want, TSPREC_US, r.ts_ns, r.caplen, r.len);
			memcpy(want + PCAP_REC_HDR_LEN, r.data, r.caplen);
			CHECK_INT(pread_full(rfd, got, len, r.offset), len);
			CHECK(memcmp(got, want, len) == 0);
			n++;
		}
		CHECK_INT(n, 50);
		CHECK_INT(pcapin_pos(in), b.len);
		pcapin_close(in);
	}
	dup2(saved, STDIN_FILENO);
	close(saved);
	unlink(path);
	free(path);

	/* Memory, big-endian, nanosecond and pcapng inputs: no shortcut. */
	struct bld v[4] = { { 0 }, { .be = true }, { 0 }, { 0 } };
	pcap_hdr(&v[0], PCAP_MAGIC_US, 4, 65535, 1);
	pcap_hdr(&v[1], PCAP_MAGIC_US, 4, 65535, 1);
	pcap_hdr(&v[2], PCAP_MAGIC_NS, 4, 65535, 1);
	ng_shb(&v[3], 1);
	ng_idb(&v[3], 1, 0, -1, 0);
	for (int i = 0; i < 4; i++) {
		in = open_mem_ok(&v[i]);
		CHECK_INT(pcapin_record_fd(in, TSPREC_US), -1);
		CHECK_INT(pcapin_record_fd(in, TSPREC_NS), -1);
		pcapin_close(in);
		path = write_tmp(&v[i]);
		CHECK_INT(pcapin_open(path, &in, &err), 0);
		CHECK_INT(pcapin_record_fd(in, TSPREC_US) >= 0, i == 0);
		CHECK_INT(pcapin_record_fd(in, TSPREC_NS) >= 0, i == 2);
		pcapin_close(in);
		unlink(path);
		free(path);
		free(v[i].p);
	}
	free(b.p);
}

/* ---- writers and segment header parsers ---- */

static void test_put_parse(void)
{
	uint8_t g[PCAP_GLOBAL_HDR_LEN], h[PCAP_REC_HDR_LEN];
	struct pcap_ghdr gh;
	struct errbuf err = { "" };

	for (int prec = TSPREC_US; prec <= TSPREC_NS; prec++) {
		pcap_put_global_header(g, prec, 65535, 228);
		CHECK_INT(le32(g), prec == TSPREC_NS ? PCAP_MAGIC_NS : PCAP_MAGIC_US);
		CHECK_INT(le16(g + 4), 2);
		CHECK_INT(le16(g + 6), 4);
		CHECK_INT(le32(g + 8), 0);
		CHECK_INT(le32(g + 12), 0);
		CHECK_INT(pcap_parse_global_header(g, sizeof(g), &gh, &err), 0);
		CHECK_INT(gh.prec, prec);
		CHECK_INT(gh.snaplen, 65535);
		CHECK_INT(gh.linktype, 228);

		/* The reader accepts what the writer produces. */
		struct bld b = { 0 };
		b_bytes(&b, g, sizeof(g));
		int64_t ts[] = { 0, 1, 999, 1000, NS_PER_SEC - 1, INT64_C(1795338900123456789),
				 (int64_t)UINT32_MAX * NS_PER_SEC + NS_PER_SEC - 1 };
		for (size_t i = 0; i < ELEMENTSOF(ts); i++) {
			pcap_put_rec_header(h, prec, ts[i], 10, 20);
			int64_t got;
			uint32_t caplen, len;
			CHECK_INT(pcap_parse_rec_header(h, prec, 65535, &got, &caplen, &len, &err), 0);
			int64_t want = prec == TSPREC_NS ? ts[i] : ts[i] - ts[i] % 1000;
			CHECK_INT(got, want);
			CHECK_INT(caplen, 10);
			CHECK_INT(len, 20);
			b_bytes(&b, h, sizeof(h));
			b_payload(&b, i, 10);
		}
		struct pcapin *in = open_mem_ok(&b);
		struct pcap_rec r;
		CHECK_INT(pcapin_tsprec(in), prec);
		CHECK_INT(pcapin_linktype(in), 228);
		for (size_t i = 0; i < ELEMENTSOF(ts); i++) {
			CHECK_INT(pcapin_next(in, &r, &err), 1);
			CHECK_INT(r.ts_ns, prec == TSPREC_NS ? ts[i] : ts[i] - ts[i] % 1000);
			CHECK(payload_ok(r.data, i, 10));
		}
		CHECK_INT(pcapin_next(in, &r, &err), 0);
		pcapin_close(in);
		free(b.p);
	}

	/* Negative times are floored, so the fraction stays in range. */
	pcap_put_rec_header(h, TSPREC_US, -1, 1, 1);
	CHECK_INT(le32(h), UINT32_MAX);
	CHECK_INT(le32(h + 4), 999999);

	/* Global header rejections. */
	pcap_put_global_header(g, TSPREC_US, 65535, 1);
	CHECK_INT(pcap_parse_global_header(g, 23, &gh, &err), -EPROTO);
	CHECK_STR(err.msg, "truncated pcap header (23 of 24 bytes)");
	uint8_t x[PCAP_GLOBAL_HDR_LEN];
	memcpy(x, g, sizeof(x));
	x[0] = 0xa1, x[1] = 0xb2, x[2] = 0xc3, x[3] = 0xd4;
	CHECK_INT(pcap_parse_global_header(x, sizeof(x), &gh, &err), -EPROTO);
	CHECK(strstr(err.msg, "big-endian pcap header (magic 0xd4c3b2a1") != NULL);
	x[0] = 0xa1, x[1] = 0xb2, x[2] = 0x3c, x[3] = 0x4d;
	CHECK_INT(pcap_parse_global_header(x, sizeof(x), &gh, &err), -EPROTO);
	CHECK(strstr(err.msg, "big-endian") != NULL);
	x[0] = 0x0a, x[1] = 0x0d, x[2] = 0x0d, x[3] = 0x0a;
	CHECK_INT(pcap_parse_global_header(x, sizeof(x), &gh, &err), -EPROTO);
	CHECK(strstr(err.msg, "pcapng") != NULL);
	put_le32(x, 0x12345678);
	CHECK_INT(pcap_parse_global_header(x, sizeof(x), &gh, &err), -EPROTO);
	CHECK_STR(err.msg, "not a pcap file (magic 0x12345678)");
	memcpy(x, g, sizeof(x));
	put_le16(x + 6, 3);
	CHECK_INT(pcap_parse_global_header(x, sizeof(x), &gh, &err), -EPROTO);
	CHECK_STR(err.msg, "unsupported pcap version 2.3 (expected 2.4)");

	/* Record header rejections. */
	struct {
		enum tsprec prec;
		uint32_t snaplen, frac, caplen, len;
		const char *msg;
	} c[] = {
		{ TSPREC_US, 100, 0, 101, 200, "caplen 101 exceeds the snaplen 100 of the file" },
		{ TSPREC_US, 0, 0, 262145, 262145, "caplen 262145 exceeds the maximum 262144" },
		{ TSPREC_US, 0, 0, 262144, 262144, NULL },
		{ TSPREC_US, 100, 0, 0, 10, "zero-length packet (caplen 0, len 10)" },
		{ TSPREC_US, 100, 0, 10, 0, "zero-length packet (caplen 10, len 0)" },
		{ TSPREC_US, 100, 0, 11, 10, "caplen 11 exceeds the original length 10" },
		{ TSPREC_US, 100, 1000000, 10, 10, "microsecond field 1000000 out of range" },
		{ TSPREC_US, 100, 999999, 10, 10, NULL },
		{ TSPREC_NS, 100, 1000000, 10, 10, NULL },
		{ TSPREC_NS, 100, 1000000000, 10, 10, "nanosecond field 1000000000 out of range" },
	};
	for (size_t i = 0; i < ELEMENTSOF(c); i++) {
		int64_t ts;
		uint32_t caplen, len;
		put_le32(h, 5);
		put_le32(h + 4, c[i].frac);
		put_le32(h + 8, c[i].caplen);
		put_le32(h + 12, c[i].len);
		err.msg[0] = 0;
		int r = pcap_parse_rec_header(h, c[i].prec, c[i].snaplen, &ts, &caplen, &len, &err);
		CHECK_INT(r, c[i].msg ? -EPROTO : 0);
		if (c[i].msg && !strstr(err.msg, c[i].msg)) {
			fprintf(stderr, "case %zu: \"%s\", expected \"%s\"\n", i, err.msg, c[i].msg);
			tests_failed++;
		}
	}
}

int main(void)
{
	/* A pipe reader that dies early must not kill the test with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	test_pcap_variants();
	test_pcap_malformed();
	test_pcapng_variants();
	test_pcapng_malformed();
	test_disk();
	test_record_fd();
	test_put_parse();
	TESTS_DONE();
}

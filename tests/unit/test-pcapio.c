/* test-pcapio.c — the capture file reader and the pcap header helpers, on files built byte
 * by byte in memory and on disk (under /tmp, removed afterwards): every format variant the
 * reader accepts, every malformation it must reject with a precise message, buffer refills
 * and growth across a file larger than the read buffer, standard input (file and pipe),
 * and the direct-copy shortcut pcapin_record_fd(). */
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

/* Append integers in b's byte order, one per letter of fmt: H 16, I 32, Q 64 bits (a pcapng
 * 64-bit option value: the whole value in the section's byte order). */
static void b_pack(struct bld *b, const char *fmt, const uint64_t *v)
{
	for (; *fmt; fmt++, v++) {
		unsigned n = *fmt == 'H' ? 2 : *fmt == 'I' ? 4 : 8;
		uint8_t x[8];
		for (unsigned i = 0; i < n; i++)
			x[b->be ? n - 1 - i : i] = (uint8_t)(*v >> (8 * i));
		b_bytes(b, x, n);
	}
}
#define PACK(b, fmt, ...) b_pack(b, fmt, (const uint64_t[]){ __VA_ARGS__ })

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
	PACK(b, "IHHIIII", magic, 2, minor, 0, 0, snaplen, linktype);
}

static void pcap_rec(struct bld *b, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len,
		     uint64_t seed)
{
	PACK(b, "IIII", sec, frac, caplen, len);
	b_payload(b, seed, caplen);
}

/* A pcapng block around body (padded to 4 bytes), the trailer repeating the length; the
 * body builder is freed. */
static void ng_block(struct bld *b, uint32_t type, struct bld *body)
{
	static const uint8_t zero[4];
	uint32_t pad = (uint32_t)((4 - body->len % 4) % 4);
	uint32_t len = (uint32_t)(12 + body->len + pad);
	PACK(b, "II", type, len);
	b_bytes(b, body->p, body->len);
	b_bytes(b, zero, pad);
	PACK(b, "I", len);
	free(body->p);
}

static void ng_shb(struct bld *b, uint16_t major)
{
	struct bld x = { .be = b->be };
	PACK(&x, "IHHQ", 0x1a2b3c4d, major, 0, UINT64_MAX); /* section length unknown */
	ng_block(b, 0x0a0d0d0a, &x);
}

/* tsresol < 0: no if_tsresol option; tsoffset == 0: no if_tsoffset option. */
static void ng_idb(struct bld *b, uint16_t linktype, uint32_t snaplen, int tsresol,
		   int64_t tsoffset)
{
	struct bld x = { .be = b->be };
	PACK(&x, "HHI", linktype, 0, snaplen);
	if (tsresol >= 0) {
		PACK(&x, "HH", 9, 1);
		b_bytes(&x, (uint8_t[4]){ (uint8_t)tsresol }, 4);
	}
	if (tsoffset)
		PACK(&x, "HHQ", 14, 8, (uint64_t)tsoffset);
	PACK(&x, "HH", 0, 0);
	ng_block(b, 1, &x);
}

static void ng_epb(struct bld *b, uint32_t ifid, uint64_t units, uint32_t caplen, uint32_t len,
		   uint64_t seed)
{
	struct bld x = { .be = b->be };
	PACK(&x, "IIIII", ifid, units >> 32, units & UINT32_MAX, caplen, len);
	b_payload(&x, seed, caplen);
	ng_block(b, 6, &x);
}

static void ng_opb(struct bld *b, uint16_t ifid, uint64_t units, uint32_t caplen, uint64_t seed)
{
	struct bld x = { .be = b->be };
	PACK(&x, "HHIIII", ifid, 0, units >> 32, units & UINT32_MAX, caplen, caplen);
	b_payload(&x, seed, caplen);
	ng_block(b, 2, &x);
}

static void ng_raw(struct bld *b, uint32_t type, uint32_t bodylen)
{
	struct bld x = { .be = b->be };
	b_payload(&x, type, bodylen);
	ng_block(b, type, &x);
}

/* ---- helpers for reading ---- */

/* Open b in memory and expect the open to fail with -EPROTO and a message containing msg. */
static void expect_open_error(const struct bld *b, const char *msg, int line)
{
	struct pcapin *in = NULL;
	struct errbuf err = { "" };
	int r = pcapin_open_mem(b->p, b->len, &in, &err);
	if (r != -EPROTO || !strstr(err.msg, msg)) {
		fprintf(stderr, "line %d: open returned %d \"%s\", expected -EPROTO \"%s\"\n", line, r,
			err.msg, msg);
		tests_failed++;
	}
	pcapin_close(in);
}

/* Read b to its end, expect `good` packets and then the error e (0 = clean end) whose
 * message contains msg; an error must then stay (same code and message). */
static void expect_read(const struct bld *b, unsigned good, int e, const char *msg, int line)
{
	struct pcapin *in = NULL;
	struct errbuf err = { "" }, again = { "" };
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
	CHECK_INT(pcapin_next(in, &rec, &again), -e);
	CHECK_INT(pcapin_next(in, &rec, NULL), -e);
	if (e)
		CHECK_STR(again.msg, err.msg);
	else
		CHECK_INT(pcapin_pos(in), b->len);
	pcapin_close(in);
}

static struct pcapin *open_mem_ok(const struct bld *b)
{
	struct pcapin *in = NULL;
	struct errbuf err = { "" };
	if (pcapin_open_mem(b->p, b->len, &in, &err) < 0) {
		fprintf(stderr, "open_mem: %s\n", err.msg);
		tests_failed++;
	}
	return in;
}

/* Expect the next packet to be exactly this one. */
static void expect_pkt(struct pcapin *in, int64_t ts_ns, uint32_t caplen, uint32_t len,
		       uint64_t seed, uint64_t index, uint64_t offset, int line)
{
	struct pcap_rec r;
	struct errbuf err = { "" };
	int ret = pcapin_next(in, &r, &err);
	if (ret != 1 || r.ts_ns != ts_ns || r.caplen != caplen || r.len != len ||
	    r.index != index || (offset && r.offset != offset) || !payload_ok(r.data, seed, caplen)) {
		fprintf(stderr, "line %d: packet %" PRIu64 ": got %d %s ts %" PRId64 " caplen %u len %u"
			" offset %" PRIu64 ", expected ts %" PRId64 " caplen %u len %u\n",
			line, index, ret, err.msg, r.ts_ns, r.caplen, r.len, r.offset, ts_ns, caplen, len);
		tests_failed++;
	}
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
		int64_t unit = v[i].prec == TSPREC_NS ? 1 : 1000;
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
		expect_pkt(in, 1700000000 * NS_PER_SEC + 123 * unit, 60, 60, 1, 0, 24, __LINE__);
		expect_pkt(in, (int64_t)UINT32_MAX * NS_PER_SEC + frac * unit, 1, 1500, 2, 1, 100,
			   __LINE__);
		expect_pkt(in, 0, 65535, 65535, 3, 2, 117, __LINE__);
		pcapin_close(in);
		expect_read(&b, 3, 0, NULL, __LINE__);
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

	expect_open_error(&b, "empty file", __LINE__);
	PACK(&b, "H", 0xc3d4);
	expect_open_error(&b, "only 2 bytes", __LINE__);
	b.len = 0;
	PACK(&b, "II", 0x464c457f, 0); /* ELF */
	expect_open_error(&b, "not a pcap or pcapng file (magic 0x7f454c46)", __LINE__);
	b.len = 0;
	b_bytes(&b, "\x1f\x8b\x08\x00", 4);
	expect_open_error(&b, "gzip", __LINE__);
	b.len = 0;
	pcap_hdr(&b, PCAP_MAGIC_US, 4, 65535, 1);
	b.len = 20;
	expect_open_error(&b, "truncated pcap file header (the file ends after 20 of 24 bytes)",
			  __LINE__);
	b.len = 0;
	pcap_hdr(&b, PCAP_MAGIC_US, 2, 65535, 1);
	expect_open_error(&b, "unsupported pcap version 2.2", __LINE__);
	b.len = 0;
	b.be = true;
	PACK(&b, "IHHIIII", PCAP_MAGIC_US, 1, 0, 0, 0, 0, 0);
	expect_open_error(&b, "unsupported pcap version 1.0", __LINE__);
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
			expect_pkt(in, v[i].ts_ns, 61, 100, 1, 0, 0, __LINE__);
			expect_pkt(in, v[i].ts_ns, 3, 3, 2, 1, 0, __LINE__);
			pcapin_close(in);
			expect_read(&b, 2, 0, NULL, __LINE__);
			free(b.p);
		}

	/* An IDB snaplen limits caplen; an SHB alone is an empty capture; nothing after
	 * opt_endofopt is parsed. */
	struct bld b = { 0 }, x = { 0 };
	ng_shb(&b, 1);
	expect_read(&b, 0, 0, NULL, __LINE__);
	size_t shb_len = b.len;
	PACK(&x, "HHIHHHHI", 1, 0, 0, 0, 0, 9, 200, 0);
	ng_block(&b, 1, &x);
	expect_read(&b, 0, 0, NULL, __LINE__);
	b.len = shb_len;
	ng_idb(&b, 1, 128, -1, 0);
	ng_epb(&b, 0, 1, 128, 128, 1);
	ng_epb(&b, 0, 2, 129, 129, 1);
	expect_read(&b, 1, EPROTO,
		    "packet 2 at offset 212: caplen 129 exceeds the snaplen 128 of the interface",
		    __LINE__);
	free(b.p);
}

static void test_pcapng_malformed(void)
{
	struct bld b = { 0 }, x = { 0 };

	/* Errors found at open. */
	ng_shb(&b, 2);
	expect_open_error(&b, "block at offset 0: unsupported pcapng version 2.0", __LINE__);
	b.len = 0;
	ng_shb(&b, 1);
	b.p[8] = 0x11;
	expect_open_error(&b, "bad pcapng byte-order magic 0x113c2b1a", __LINE__);
	b.len = 10;
	expect_open_error(&b, "truncated section header (the file ends after 10 of 12", __LINE__);
	b.len = 0;
	ng_shb(&b, 1);
	b.len -= 4;
	expect_open_error(&b, "truncated block (the file ends after 24 of its 28 bytes)", __LINE__);
	b.len = 0;
	ng_shb(&b, 1);
	b.p[b.len - 4] = 32;
	expect_open_error(&b, "trailing block length 32 differs from the leading 28", __LINE__);
	b.len = 0;
	PACK(&b, "IIIIII", 0x0a0d0d0a, 24, 0x1a2b3c4d, 1, 0, 24);
	expect_open_error(&b, "section header block of 24 bytes is shorter than 28", __LINE__);
	b.len = 0;
	ng_shb(&b, 1);
	PACK(&b, "IIII", 1, 16, 1, 16);
	expect_open_error(&b, "interface description block of 16 bytes is shorter than 20", __LINE__);
	b.len = 0;
	ng_shb(&b, 1);
	ng_idb(&b, 1, 0, 20, 0); /* 10^-20 */
	expect_open_error(&b, "block at offset 28: unsupported if_tsresol 10^-20", __LINE__);
	b.len = 0;
	ng_shb(&b, 1);
	ng_idb(&b, 1, 0, 0x80 | 64, 0);
	expect_open_error(&b, "unsupported if_tsresol 2^-64", __LINE__);

	/* Bad IDB options: wrong lengths, running past the block, given twice. */
	static const struct {
		uint16_t code, len1, code2;
		const char *msg;
	} o[] = {
		{ 9, 2, 0, "if_tsresol option of length 2 (expected 1)" },
		{ 9, 200, 0, "interface option 9 of length 200 overruns the block" },
		{ 14, 4, 0, "if_tsoffset option of length 4 (expected 8)" },
		{ 9, 1, 9, "more than one if_tsresol option" },
	};
	for (size_t i = 0; i < ELEMENTSOF(o); i++) {
		b.len = 0;
		ng_shb(&b, 1);
		PACK(&x, "HHIHHI", 1, 0, 0, o[i].code, o[i].len1, 6);
		if (o[i].code2)
			PACK(&x, "HHI", o[i].code2, 1, 6);
		ng_block(&b, 1, &x);
		x = (struct bld){ 0 };
		expect_open_error(&b, o[i].msg, __LINE__);
	}

	/* Errors after a good packet: SHB 28 + IDB 24 + EPB 56 bytes, so the second packet
	 * block (or whatever follows) starts at offset 108. */
	static const char *const c[] = {
		("pcapng file declares 2 interfaces; pcapfs imports one interface per file "
		 "(interface description block at offset 108, link type 1)"),
		"link type 105, differing from the first one",
		"packet 2 at offset 108: trailing block length 1 differs from the leading 92",
		"packet 2 at offset 108: simple packet block",
		"packet 2 at offset 108: interface 1 is not declared (the section declares one",
		"packet 2 at offset 108: block length 16777220 exceeds the maximum 16777216",
		"packet 2 at offset 108: invalid block length 30",
		"packet 2 at offset 108: invalid block length 8",
		"block at offset 108: truncated block header (the file ends after 7 of 8 bytes)",
		"packet 2 at offset 108: truncated block (the file ends after 91 of its 92 bytes)",
		"packet 2 at offset 108: caplen 61 does not fit in its block of 92 bytes",
		"packet 2 at offset 108: zero-length packet",
		"packet 2 at offset 108: caplen 61 exceeds the original length 60",
		"packet 2 at offset 108: packet block of 28 bytes is shorter than 32",
		("packet 2 at offset 136: interface 0 is not declared (no interface description "
		 "block precedes it)"),
		"pcapng file declares 2 interfaces",
		"packet 2 at offset 108: timestamp outside 1970..2106",
		"block at offset 108 (type 0x00000bad): trailing block length 2 differs",
		"packet 2 at offset 108: timestamp outside 1970..2106",
		"packet 2 at offset 108: caplen 262145 exceeds the maximum 262144",
	};
	for (int k = 0; k < (int)ELEMENTSOF(c); k++) {
		b.len = 0;
		ng_shb(&b, 1);
		ng_idb(&b, 1, 0, -1, 0);
		ng_epb(&b, 0, 5, 24, 24, 1);
		switch (k) {
		case 0: ng_idb(&b, 1, 0, -1, 0); break;
		case 1: ng_idb(&b, 105, 0, -1, 0); break;
		case 2: ng_epb(&b, 0, 5, 60, 60, 2); b.p[b.len - 4] = 1; break;
		case 3: PACK(&x, "I", 60); b_payload(&x, 1, 60); ng_block(&b, 3, &x); break;
		case 4: ng_epb(&b, 1, 5, 60, 60, 2); break;
		case 5: PACK(&b, "II", 6, PCAPNG_MAX_BLOCK + 4); b_payload(&b, 0, 100); break;
		case 6: PACK(&b, "II", 6, 30); b_payload(&b, 0, 40); break;
		case 7: PACK(&b, "II", 6, 8); break;
		case 8: PACK(&b, "I", 6); b_payload(&b, 0, 3); break;
		case 9: ng_epb(&b, 0, 5, 60, 60, 2); b.len--; break;
		case 10: ng_epb(&b, 0, 5, 60, 61, 2); b.p[108 + 20] = 61; break; /* room for 60 */
		case 11: ng_epb(&b, 0, 5, 60, 0, 2); break;
		case 12: ng_epb(&b, 0, 5, 61, 60, 2); break;
		case 13: PACK(&b, "II", 6, 28); b_payload(&b, 0, 16); PACK(&b, "I", 28); break;
		case 14: ng_shb(&b, 1); ng_epb(&b, 0, 5, 60, 60, 2); break;
		case 15: ng_shb(&b, 1); ng_idb(&b, 1, 0, -1, 0); break;
		case 16:
			/* SHB 28, IDB with if_tsresol and if_tsoffset 44, EPB 36: the second EPB,
			 * one second before the offset of -2 s, is again at 108. */
			b.len = 0;
			ng_shb(&b, 1);
			ng_idb(&b, 1, 0, 9, -2);
			ng_epb(&b, 0, 2 * NS_PER_SEC, 4, 4, 1);
			ng_epb(&b, 0, NS_PER_SEC, 4, 4, 1);
			break;
		case 17: ng_raw(&b, 0xbad, 8); b.p[b.len - 4] = 2; break;
		case 18: ng_epb(&b, 0, UINT64_C(4294967296000000), 60, 60, 2); break; /* 2^32 s */
		case 19: ng_epb(&b, 0, 5, PCAP_MAX_CAPLEN + 1, PCAP_MAX_CAPLEN + 1, 2); break;
		}
		x = (struct bld){ 0 };
		expect_read(&b, 1, EPROTO, c[k], __LINE__);
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
	char *path = malloc(96);
	int fd = path ? test_tmp(path, 96, "test-pcapio", 1) : -1;
	if (fd < 0 || write_full(fd, b->p, b->len) < 0)
		abort();
	close(fd);
	return path;
}

/* Make fd the standard input; returns the saved one for stdin_restore(). */
static int stdin_from(int fd)
{
	int saved = dup(STDIN_FILENO);
	if (saved < 0 || dup2(fd, STDIN_FILENO) < 0)
		abort();
	close(fd);
	return saved;
}

static void stdin_restore(int saved)
{
	dup2(saved, STDIN_FILENO);
	close(saved);
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
		int saved = stdin_from(open(path, O_RDONLY | O_CLOEXEC));
		check_big("-", npkt, b.len, b.len);
		stdin_restore(saved);

		/* Truncated on disk: an error naming the last packet, not a crash or a hang. */
		CHECK_INT(truncate(path, (off_t)b.len - 1), 0);
		struct pcapin *in = NULL;
		struct errbuf err = { "" };
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
		CHECK(strstr(err.msg, ng ? "truncated block" : "truncated record") != NULL);
		pcapin_close(in);
		unlink(path);
		free(path);

		/* Through a pipe: size unknown (0), read in small pieces. */
		int pfd[2];
		CHECK_INT(pipe(pfd), 0);
		pid_t pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			_exit(write_full(pfd[1], b.p, b.len) < 0 ? 1 : 0);
		}
		close(pfd[1]);
		saved = stdin_from(pfd[0]);
		check_big("-", npkt, b.len, 0);
		stdin_restore(saved);
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
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && lseek(fd, 100, SEEK_SET) == 100);
	int saved = stdin_from(fd);

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
	stdin_restore(saved);
	unlink(path);
	free(path);
	free(b.p);

	/* Memory, big-endian, nanosecond and pcapng inputs: no shortcut, or only for ns. */
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
}

/* ---- writers and segment header parsers ---- */

static void test_put_parse(void)
{
	uint8_t g[PCAP_GLOBAL_HDR_LEN], h[PCAP_REC_HDR_LEN], x[PCAP_GLOBAL_HDR_LEN];
	struct pcap_ghdr gh;
	struct errbuf err = { "" };
	static const int64_t ts[] = { 0, 1, 999, 1000, NS_PER_SEC - 1, INT64_C(1795338900123456789),
				      (int64_t)UINT32_MAX * NS_PER_SEC + NS_PER_SEC - 1 };

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

		/* Round trip through the record helpers, and the reader accepts the result. */
		struct bld b = { 0 };
		b_bytes(&b, g, sizeof(g));
		for (size_t i = 0; i < ELEMENTSOF(ts); i++) {
			int64_t got, want = prec == TSPREC_NS ? ts[i] : ts[i] - ts[i] % 1000;
			uint32_t caplen, len;
			pcap_put_rec_header(h, prec, ts[i], 10, 20);
			CHECK_INT(pcap_parse_rec_header(h, prec, 65535, &got, &caplen, &len, &err), 0);
			CHECK_INT(got, want);
			CHECK_INT(caplen, 10);
			CHECK_INT(len, 20);
			b_bytes(&b, h, sizeof(h));
			b_payload(&b, i, 10);
		}
		struct pcapin *in = open_mem_ok(&b);
		CHECK_INT(pcapin_tsprec(in), prec);
		CHECK_INT(pcapin_linktype(in), 228);
		for (size_t i = 0; i < ELEMENTSOF(ts); i++)
			expect_pkt(in, prec == TSPREC_NS ? ts[i] : ts[i] - ts[i] % 1000, 10, 20, i, i, 0,
				   __LINE__);
		pcapin_close(in);
		expect_read(&b, ELEMENTSOF(ts), 0, NULL, __LINE__);
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
	static const char *const magic[] = { "\xa1\xb2\xc3\xd4", "\xa1\xb2\x3c\x4d",
					     "\x0a\x0d\x0d\x0a", "\x12\x34\x56\x78" };
	static const char *const msg[] = {
		("big-endian pcap header (magic 0xd4c3b2a1 read little-endian); pcapfs segments "
		 "are always little-endian"),
		"big-endian pcap header (magic 0x4d3cb2a1",
		"pcapng file, not a pcapfs segment",
		"not a pcap file (magic 0x78563412)",
	};
	for (size_t i = 0; i < ELEMENTSOF(magic); i++) {
		memcpy(x, g, sizeof(x));
		memcpy(x, magic[i], 4);
		CHECK_INT(pcap_parse_global_header(x, sizeof(x), &gh, &err), -EPROTO);
		CHECK(strstr(err.msg, msg[i]) == err.msg);
	}
	memcpy(x, g, sizeof(x));
	put_le16(x + 6, 3);
	CHECK_INT(pcap_parse_global_header(x, sizeof(x), &gh, &err), -EPROTO);
	CHECK_STR(err.msg, "unsupported pcap version 2.3 (expected 2.4)");

	/* Record header checks. */
	static const struct {
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
		int64_t t;
		uint32_t caplen, len;
		put_le32(h, 5);
		put_le32(h + 4, c[i].frac);
		put_le32(h + 8, c[i].caplen);
		put_le32(h + 12, c[i].len);
		err.msg[0] = 0;
		int r = pcap_parse_rec_header(h, c[i].prec, c[i].snaplen, &t, &caplen, &len, &err);
		CHECK_INT(r, c[i].msg ? -EPROTO : 0);
		if (c[i].msg && !strstr(err.msg, c[i].msg)) {
			fprintf(stderr, "case %zu: \"%s\", expected \"%s\"\n", i, err.msg, c[i].msg);
			tests_failed++;
		}
	}
}

int main(void)
{
	/* A pipe reader that fails early must not kill the test with SIGPIPE. */
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

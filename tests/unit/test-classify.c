/* test-classify.c — address text forms, the header walk of every supported link type
 * (including every truncation of every frame), and device lookups with validity intervals,
 * CIDRs, deduplication and a 10 000-device registry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "tests.h"
#include "util.h"

/* ------------------------------------------------------------------------------------- */
/* Frame building                                                                         */

static const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0, 0x0b };
static const uint8_t IP4_A[4] = { 10, 0, 0, 1 };
static const uint8_t IP4_B[4] = { 10, 0, 0, 2 };
static const uint8_t IP6_A[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 };
static const uint8_t IP6_B[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02 };

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

/* Ethernet header with the given tags; returns the length written (type included). */
static size_t put_eth(uint8_t *p, const uint8_t dst[6], const uint8_t src[6],
		      const uint16_t *tags, size_t n_tags, uint16_t type)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	size_t off = 12;
	for (size_t i = 0; i < n_tags; i++) {
		put_be16(p + off, tags[i]);
		put_be16(p + off + 2, (uint16_t)(100 + i)); /* TCI: VLAN id */
		off += 4;
	}
	put_be16(p + off, type);
	return off + 2;
}

static size_t put_ipv4(uint8_t *p, const uint8_t src[4], const uint8_t dst[4])
{
	memset(p, 0, 28);
	p[0] = 0x45;
	put_be16(p + 2, 28);
	p[8] = 64;
	p[9] = 17; /* UDP, 8 bytes of header follow */
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	return 28;
}

static size_t put_ipv6(uint8_t *p, const uint8_t src[16], const uint8_t dst[16])
{
	memset(p, 0, 48);
	p[0] = 0x60;
	put_be16(p + 4, 8);
	p[6] = 17;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	return 48;
}

static size_t put_arp(uint8_t *p, const uint8_t sha[6], const uint8_t spa[4],
		      const uint8_t tpa[4])
{
	memset(p, 0, 28);
	put_be16(p, 1);
	put_be16(p + 2, 0x0800);
	p[4] = 6;
	p[5] = 4;
	put_be16(p + 6, 1); /* request */
	memcpy(p + 8, sha, 6);
	memcpy(p + 14, spa, 4);
	memcpy(p + 24, tpa, 4);
	return 28;
}

static size_t put_sll(uint8_t *p, uint16_t protocol)
{
	memset(p, 0, 16);
	put_be16(p, 4);     /* outgoing */
	put_be16(p + 2, 1); /* ARPHRD_ETHER */
	put_be16(p + 4, 6);
	memcpy(p + 6, MAC_A, 6);
	put_be16(p + 14, protocol);
	return 16;
}

static size_t put_sll2(uint8_t *p, uint16_t protocol)
{
	memset(p, 0, 20);
	put_be16(p, protocol);
	put_be32(p + 4, 2);  /* ifindex */
	put_be16(p + 8, 1);  /* ARPHRD_ETHER */
	p[10] = 0;           /* to us */
	p[11] = 6;
	memcpy(p + 12, MAC_B, 6);
	return 20;
}

/* The addresses found, formatted and joined with spaces. */
static const char *addrs_str(uint32_t linktype, const uint8_t *pkt, size_t len)
{
	static char out[8 * ADDR_BUF];
	struct addr a[CLASSIFY_MAX_ADDRS];
	int n = classify_addresses(linktype, pkt, (uint32_t)len, a, ELEMENTSOF(a));
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		char buf[ADDR_BUF];
		addr_format(&a[i], buf, sizeof(buf));
		if (i)
			strcat(out, " ");
		strcat(out, buf);
	}
	return out;
}

/* ------------------------------------------------------------------------------------- */
/* Address text                                                                           */

static void test_addr_parse(void)
{
	static const struct {
		const char *in, *out; /* out NULL: must be rejected */
	} cases[] = {
		{ "02:00:00:00:00:01", "02:00:00:00:00:01" },
		{ "02-AB-cd-00-00-FF", "02:ab:cd:00:00:ff" },
		{ "10.0.0.1", "10.0.0.1" },
		{ "10.0.0.1/32", "10.0.0.1" },
		{ "10.0.0.0/8", "10.0.0.0/8" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "192.168.1.128/25", "192.168.1.128/25" },
		{ "fd00::1", "fd00::1" },
		{ "FD00:0:0:0:0:0:0:1", "fd00::1" },
		{ "fd00::/64", "fd00::/64" },
		{ "fd00:1:2:3:4::/80", "fd00:1:2:3:4::/80" },
		{ "::/0", "::/0" },
		{ "::ffff:10.1.2.3", "::ffff:10.1.2.3" },
		{ "fd00::1/128", "fd00::1" },
		{ "", NULL },
		{ " 10.0.0.1", NULL },
		{ "10.0.0.1 ", NULL },
		{ "10.0.0.1\n", NULL },
		{ "10.0.0.1x", NULL },
		{ "10.0.0", NULL },
		{ "10.0.0.256", NULL },
		{ "010.0.0.1", NULL },
		{ "10.0.0.0/", NULL },
		{ "10.0.0.0/08", NULL },
		{ "10.0.0.0/+8", NULL },
		{ "10.0.0.0/-1", NULL },
		{ "10.0.0.0/8/8", NULL },
		{ "10.0.0.0/ 8", NULL },
		{ "10.0.0.0/33", NULL },
		{ "10.0.0.0/1000", NULL },
		{ "fd00::/129", NULL },
		{ "/8", NULL },
		{ "10.0.0.1/8", NULL },
		{ "fd00::1/64", NULL },
		{ "02:00:00:00:00:01/48", NULL },
		{ "02:00:00:00:00:01/24", NULL },
		{ "02:00:00-00:00:01", NULL },
		{ "02:00:00:00:00:0g", NULL },
		{ "02:00:00:00:00", NULL },
		{ "02:00:00:00:00:01:", NULL },
		{ "2:0:0:0:0:1", NULL },
		{ "fd00::1%eth0", NULL },
		{ "fd00:::1", NULL },
		{ "localhost", NULL },
		{ "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd", NULL },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct addr a;
		struct errbuf err = { .msg = "" };
		int r = addr_parse(cases[i].in, &a, &err);
		if (!cases[i].out) {
			if (r != -EINVAL)
				fprintf(stderr, "accepted \"%s\"\n", cases[i].in);
			CHECK_INT(r, -EINVAL);
			CHECK(err.msg[0] != 0);
			continue;
		}
		if (r != 0)
			fprintf(stderr, "rejected \"%s\": %s\n", cases[i].in, err.msg);
		CHECK_INT(r, 0);
		if (r != 0)
			continue;
		char buf[ADDR_BUF];
		int len = addr_format(&a, buf, sizeof(buf));
		CHECK_STR(buf, cases[i].out);
		CHECK_INT(len, strlen(cases[i].out));
		struct addr b;
		CHECK_INT(addr_parse(buf, &b, NULL), 0);
		CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	}

	struct errbuf err;
	struct addr a;
	CHECK_INT(addr_parse("10.1.2.3/8", &a, &err), -EINVAL);
	CHECK(strstr(err.msg, "did you mean 10.0.0.0/8?") != NULL);
	CHECK_INT(addr_parse("fd00::1:2/112", &a, &err), -EINVAL);
	CHECK(strstr(err.msg, "did you mean fd00::1:0/112?") != NULL);
	CHECK_INT(addr_parse("10.0.0.0/33", &a, &err), -EINVAL);
	CHECK(strstr(err.msg, "out of range") != NULL);
	CHECK_INT(addr_parse("bad\001\xff", &a, &err), -EINVAL);
	CHECK(strstr(err.msg, "\"bad??\"") != NULL);
	CHECK_INT(addr_parse(NULL, &a, &err), -EINVAL);
	char long_text[200];
	memset(long_text, '1', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = 0;
	CHECK_INT(addr_parse(long_text, &a, &err), -EINVAL);
	CHECK(strstr(err.msg, "...\" is too long") != NULL);
	CHECK(strlen(err.msg) < 150);

	/* Fields, not just the text. */
	CHECK_INT(addr_parse("10.128.0.0/9", &a, NULL), 0);
	CHECK_INT(a.family, ADDR_IPV4);
	CHECK_INT(a.prefix, 9);
	CHECK(a.bytes[0] == 10 && a.bytes[1] == 128 && a.bytes[4] == 0 && a.bytes[15] == 0);
	CHECK_INT(addr_parse("02:00:00:00:00:01", &a, NULL), 0);
	CHECK_INT(a.family, ADDR_MAC);
	CHECK_INT(a.prefix, 48);
	CHECK(a.bytes[5] == 1 && a.bytes[6] == 0);

	/* A short buffer truncates but still reports the full length. */
	char small[5];
	CHECK_INT(addr_parse("10.0.0.0/8", &a, NULL), 0);
	CHECK_INT(addr_format(&a, small, sizeof(small)), 10);
	CHECK_STR(small, "10.0");
	struct addr bad = { .family = 9 };
	CHECK_INT(addr_format(&bad, small, sizeof(small)), -EINVAL);
}

static struct addr A(const char *s)
{
	struct addr a = { 0 };
	struct errbuf err;
	if (addr_parse(s, &a, &err) < 0) {
		fprintf(stderr, "bad test address %s: %s\n", s, err.msg);
		exit(2);
	}
	return a;
}

/* The network of the given length that contains address s. */
static struct addr net_of(const char *s, unsigned len)
{
	struct addr a = A(s);
	a.prefix = (uint8_t)len;
	for (unsigned bit = len; bit < 128; bit++)
		a.bytes[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	return a;
}

static void test_addr_relations(void)
{
	struct addr net8 = A("10.0.0.0/8"), net16 = A("10.1.0.0/16"), host = A("10.1.2.3");
	struct addr other = A("192.168.0.0/16"), all4 = A("0.0.0.0/0"), all6 = A("::/0");
	struct addr mac = A("02:00:00:00:00:01"), mac2 = A("02:00:00:00:00:02");

	CHECK(addr_is_cidr(&net8));
	CHECK(!addr_is_cidr(&host));
	CHECK(!addr_is_cidr(&mac));
	CHECK(addr_is_cidr(&all6));
	CHECK(!addr_is_cidr(&(struct addr){ .family = ADDR_IPV6, .prefix = 128 }));

	CHECK(addr_overlaps(&net8, &net16));
	CHECK(addr_overlaps(&net16, &net8));
	CHECK(addr_overlaps(&net8, &host));
	CHECK(addr_overlaps(&host, &net16));
	CHECK(addr_overlaps(&host, &host));
	CHECK(!addr_overlaps(&net8, &other));
	CHECK(addr_overlaps(&all4, &other));
	CHECK(!addr_overlaps(&all4, &all6));
	CHECK(!addr_overlaps(&mac, &mac2));
	CHECK(addr_overlaps(&mac, &mac));
	struct addr v6a = A("fd00:1::/32"), v6b = A("fd00:1:2::1"), v6c = A("fd00:2::/32");
	CHECK(addr_overlaps(&v6a, &v6b));
	CHECK(!addr_overlaps(&v6c, &v6b));
}

static void test_linktypes(void)
{
	static const struct {
		uint32_t type;
		const char *name;
	} known[] = { { 0, "NULL" },       { 1, "EN10MB" },     { 101, "RAW" },
		      { 108, "LOOP" },     { 113, "LINUX_SLL" }, { 228, "IPV4" },
		      { 229, "IPV6" },     { 276, "LINUX_SLL2" } };
	for (size_t i = 0; i < ELEMENTSOF(known); i++) {
		CHECK(classify_linktype_supported(known[i].type));
		CHECK_STR(classify_linktype_name(known[i].type), known[i].name);
	}
	static const uint32_t unknown[] = { 2, 9, 12, 14, 105, 127, 147, 0xffffffff };
	for (size_t i = 0; i < ELEMENTSOF(unknown); i++) {
		CHECK(!classify_linktype_supported(unknown[i]));
		CHECK(classify_linktype_name(unknown[i]) == NULL);
	}
}

/* ------------------------------------------------------------------------------------- */
/* Header walk                                                                            */

#define ETH_AB "02:00:00:00:00:0b 02:00:00:00:00:0a"

struct frame {
	const char *what;
	uint32_t linktype;
	uint8_t bytes[128];
	size_t len;
	const char *expect;
};

static struct frame frames[48];
static size_t n_frames;

static struct frame *frame_new(const char *what, uint32_t linktype, const char *expect)
{
	if (n_frames == ELEMENTSOF(frames)) {
		fprintf(stderr, "too many test frames\n");
		exit(2);
	}
	struct frame *f = &frames[n_frames++];
	f->what = what;
	f->linktype = linktype;
	f->expect = expect;
	return f;
}

static void build_frames(void)
{
	static const uint16_t vlan[] = { 0x8100 };
	static const uint16_t qinq[] = { 0x88a8, 0x8100 };
	static const uint16_t qinq_old[] = { 0x9100, 0x8100 };
	static const uint16_t four[] = { 0x88a8, 0x8100, 0x9100, 0x8100 };
	static const uint16_t five[] = { 0x88a8, 0x8100, 0x9100, 0x8100, 0x8100 };
	struct frame *f;
	uint8_t *p;

	f = frame_new("eth ipv4", 1, ETH_AB " 10.0.0.1 10.0.0.2");
	f->len = put_eth(f->bytes, MAC_B, MAC_A, NULL, 0, 0x0800);
	f->len += put_ipv4(f->bytes + f->len, IP4_A, IP4_B);

	f = frame_new("eth ipv6", 1, ETH_AB " fd00::1 fd00::2");
	f->len = put_eth(f->bytes, MAC_B, MAC_A, NULL, 0, 0x86dd);
	f->len += put_ipv6(f->bytes + f->len, IP6_A, IP6_B);

	f = frame_new("eth arp", 1, ETH_AB " 10.0.0.1 10.0.0.2");
	f->len = put_eth(f->bytes, MAC_B, MAC_A, NULL, 0, 0x0806);
	f->len += put_arp(f->bytes + f->len, MAC_A, IP4_A, IP4_B);

	f = frame_new("eth rarp", 1, ETH_AB " 10.0.0.2 10.0.0.1");
	f->len = put_eth(f->bytes, MAC_B, MAC_A, NULL, 0, 0x8035);
	f->len += put_arp(f->bytes + f->len, MAC_A, IP4_B, IP4_A);

	f = frame_new("eth arp htype 6", 1, ETH_AB);
	f->len = put_eth(f->bytes, MAC_B, MAC_A, NULL, 0, 0x0806);
	p = f->bytes + f->len;
	f->len += put_arp(p, MAC_A, IP4_A, IP4_B);
	p[1] = 6;

	f = frame_new("eth arp hlen 8", 1, ETH_AB);
	f->len = put_eth(f->bytes, MAC_B, MAC_A, NULL, 0, 0x0806);
	p = f->bytes + f->len;
	f->len += put_arp(p, MAC_A, IP4_A, IP4_B);
	p[4] = 8;

	f = frame_new("eth arp plen 16", 1, ETH_AB);
	f->len = put_eth(f->bytes, MAC_B, MAC_A, NULL, 0, 0x0806);
	p = f->bytes + f->len;
	f->len += put_arp(p, MAC_A, IP4_A, IP4_B);
	p[5] = 16;

	f = frame_new("eth arp ptype ipv6", 1, ETH_AB);
	f->len = put_eth(f->bytes, MAC_B, MAC_A, NULL, 0, 0x0806);
	p = f->bytes + f->len;
	f->len += put_arp(p, MAC_A, IP4_A, IP4_B);
	put_be16(p + 2, 0x86dd);

	f = frame_new("eth ipv6 version 4", 1, ETH_AB);
	f->len = put_eth(f->bytes, MAC_B, MAC_A, NULL, 0, 0x86dd);
	p = f->bytes + f->len;
	f->len += put_ipv6(p, IP6_A, IP6_B);
	p[0] = 0x40;

	f = frame_new("eth vlan ipv4", 1, ETH_AB " 10.0.0.1 10.0.0.2");
	f->len = put_eth(f->bytes, MAC_B, MAC_A, vlan, 1, 0x0800);
	f->len += put_ipv4(f->bytes + f->len, IP4_A, IP4_B);

	f = frame_new("eth qinq ipv6", 1, ETH_AB " fd00::1 fd00::2");
	f->len = put_eth(f->bytes, MAC_B, MAC_A, qinq, 2, 0x86dd);
	f->len += put_ipv6(f->bytes + f->len, IP6_A, IP6_B);

	f = frame_new("eth qinq 0x9100 arp", 1, ETH_AB " 10.0.0.1 10.0.0.2");
	f->len = put_eth(f->bytes, MAC_B, MAC_A, qinq_old, 2, 0x0806);
	f->len += put_arp(f->bytes + f->len, MAC_A, IP4_A, IP4_B);

	f = frame_new("eth 4 tags", 1, ETH_AB " 10.0.0.1 10.0.0.2");
	f->len = put_eth(f->bytes, MAC_B, MAC_A, four, 4, 0x0800);
	f->len += put_ipv4(f->bytes + f->len, IP4_A, IP4_B);

	f = frame_new("eth 5 tags", 1, ETH_AB);
	f->len = put_eth(f->bytes, MAC_B, MAC_A, five, 5, 0x0800);
	f->len += put_ipv4(f->bytes + f->len, IP4_A, IP4_B);

	f = frame_new("eth ipv4 version 6", 1, ETH_AB);
	f->len = put_eth(f->bytes, MAC_B, MAC_A, NULL, 0, 0x0800);
	p = f->bytes + f->len;
	f->len += put_ipv4(p, IP4_A, IP4_B);
	p[0] = 0x65;

	f = frame_new("eth ipv4 ihl 4", 1, ETH_AB);
	f->len = put_eth(f->bytes, MAC_B, MAC_A, NULL, 0, 0x0800);
	p = f->bytes + f->len;
	f->len += put_ipv4(p, IP4_A, IP4_B);
	p[0] = 0x44;

	f = frame_new("eth ipx", 1, ETH_AB);
	f->len = put_eth(f->bytes, MAC_B, MAC_A, NULL, 0, 0x8137);
	f->len += put_ipv4(f->bytes + f->len, IP4_A, IP4_B);

	f = frame_new("sll ipv4", 113, "10.0.0.1 10.0.0.2");
	f->len = put_sll(f->bytes, 0x0800);
	f->len += put_ipv4(f->bytes + f->len, IP4_A, IP4_B);

	f = frame_new("sll arp", 113, "10.0.0.1 10.0.0.2");
	f->len = put_sll(f->bytes, 0x0806);
	f->len += put_arp(f->bytes + f->len, MAC_A, IP4_A, IP4_B);

	f = frame_new("sll vlan ipv6", 113, "fd00::1 fd00::2");
	f->len = put_sll(f->bytes, 0x8100);
	p = f->bytes + f->len;
	put_be16(p, 7);
	put_be16(p + 2, 0x86dd);
	f->len += 4;
	f->len += put_ipv6(f->bytes + f->len, IP6_A, IP6_B);

	f = frame_new("sll2 ipv6", 276, "fd00::1 fd00::2");
	f->len = put_sll2(f->bytes, 0x86dd);
	f->len += put_ipv6(f->bytes + f->len, IP6_A, IP6_B);

	f = frame_new("sll2 arp", 276, "10.0.0.1 10.0.0.2");
	f->len = put_sll2(f->bytes, 0x0806);
	f->len += put_arp(f->bytes + f->len, MAC_A, IP4_A, IP4_B);

	f = frame_new("raw ipv4", 101, "10.0.0.1 10.0.0.2");
	f->len = put_ipv4(f->bytes, IP4_A, IP4_B);

	f = frame_new("raw ipv6", 101, "fd00::1 fd00::2");
	f->len = put_ipv6(f->bytes, IP6_A, IP6_B);

	f = frame_new("ipv4", 228, "10.0.0.1 10.0.0.2");
	f->len = put_ipv4(f->bytes, IP4_A, IP4_B);

	f = frame_new("ipv4 carrying ipv6", 228, "");
	f->len = put_ipv6(f->bytes, IP6_A, IP6_B);

	f = frame_new("ipv6", 229, "fd00::1 fd00::2");
	f->len = put_ipv6(f->bytes, IP6_A, IP6_B);

	f = frame_new("null ipv4 little-endian", 0, "10.0.0.1 10.0.0.2");
	put_le32(f->bytes, 2);
	f->len = 4 + put_ipv4(f->bytes + 4, IP4_A, IP4_B);

	f = frame_new("null ipv6 big-endian 30", 0, "fd00::1 fd00::2");
	put_be32(f->bytes, 30);
	f->len = 4 + put_ipv6(f->bytes + 4, IP6_A, IP6_B);

	f = frame_new("null ipv6 24", 0, "fd00::1 fd00::2");
	put_le32(f->bytes, 24);
	f->len = 4 + put_ipv6(f->bytes + 4, IP6_A, IP6_B);

	f = frame_new("loop ipv6 28", 108, "fd00::1 fd00::2");
	put_be32(f->bytes, 28);
	f->len = 4 + put_ipv6(f->bytes + 4, IP6_A, IP6_B);

	f = frame_new("loop ipv4", 108, "10.0.0.1 10.0.0.2");
	put_be32(f->bytes, 2);
	f->len = 4 + put_ipv4(f->bytes + 4, IP4_A, IP4_B);

	f = frame_new("loop little-endian family", 108, "");
	put_le32(f->bytes, 2);
	f->len = 4 + put_ipv4(f->bytes + 4, IP4_A, IP4_B);

	f = frame_new("unsupported link type", 105, "");
	f->len = put_ipv4(f->bytes, IP4_A, IP4_B);
}

static void test_frames(void)
{
	for (size_t i = 0; i < n_frames; i++) {
		const struct frame *f = &frames[i];
		const char *got = addrs_str(f->linktype, f->bytes, f->len);
		if (strcmp(got, f->expect) != 0)
			fprintf(stderr, "frame \"%s\":\n", f->what);
		CHECK_STR(got, f->expect);
	}

	/* The output is capped at max, in walk order. */
	struct addr a[3];
	CHECK_INT(classify_addresses(1, frames[0].bytes, (uint32_t)frames[0].len, a, 3), 3);
	CHECK_INT(a[2].family, ADDR_IPV4);
	CHECK_INT(classify_addresses(1, frames[0].bytes, (uint32_t)frames[0].len, a, 0), 0);
	CHECK_INT(classify_addresses(1, NULL, 100, a, 3), 0);
}

static int bind(struct devmap *m, const char *addr, uint32_t id, int64_t from, int64_t until)
{
	struct addr a = A(addr);
	return devmap_add(m, &a, id, from, until);
}

/* Every truncation of every frame, from an exactly sized heap copy so that the sanitizers
 * and valgrind see any read past caplen: the result only ever grows, and is a prefix of the
 * untruncated result. */
static void test_truncation(void)
{
	struct devmap *m = devmap_new();
	CHECK(m != NULL);
	static const char *const bound[] = { "02:00:00:00:00:0a", "02:00:00:00:00:0b", "10.0.0.1",
					     "10.0.0.2", "fd00::1", "fd00::2" };
	for (size_t i = 0; i < ELEMENTSOF(bound); i++)
		CHECK_INT(bind(m, bound[i], (uint32_t)i + 1, 0, TIME_INFINITY), 0);

	for (size_t i = 0; i < n_frames; i++) {
		const struct frame *f = &frames[i];
		struct addr full[CLASSIFY_MAX_ADDRS];
		int n_full = classify_addresses(f->linktype, f->bytes, (uint32_t)f->len, full,
						ELEMENTSOF(full));
		int prev = 0, prev_ids = 0;
		for (size_t caplen = 0; caplen <= f->len; caplen++) {
			uint8_t *copy = malloc(caplen ? caplen : 1);
			CHECK(copy != NULL);
			memcpy(copy, f->bytes, caplen);
			struct addr got[CLASSIFY_MAX_ADDRS];
			int n = classify_addresses(f->linktype, copy, (uint32_t)caplen, got,
						   ELEMENTSOF(got));
			CHECK(n >= prev && n <= n_full);
			CHECK(memcmp(got, full, (size_t)n * sizeof(*got)) == 0);
			uint32_t ids[CLASSIFY_MAX_DEVICES];
			int k = classify_packet(m, f->linktype, copy, (uint32_t)caplen, 5, ids,
						ELEMENTSOF(ids));
			CHECK(k >= prev_ids);
			prev = n;
			prev_ids = k;
			free(copy);
		}
		CHECK_INT(prev, n_full);
	}
	devmap_free(m);
}

/* ------------------------------------------------------------------------------------- */
/* Device lookups                                                                         */


/* The ids a frame yields, joined with spaces. */
static const char *ids_str(const struct devmap *m, const struct frame *f, int64_t ts, size_t max)
{
	static char out[256];
	uint32_t ids[64];
	int n = classify_packet(m, f->linktype, f->bytes, (uint32_t)f->len, ts, ids,
				MIN(max, ELEMENTSOF(ids)));
	out[0] = 0;
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%u", i ? " " : "", ids[i]);
	return out;
}

static void test_validity(void)
{
	struct devmap *m = devmap_new();
	const struct frame *f = &frames[0]; /* eth ipv4 10.0.0.1 -> 10.0.0.2 */

	/* 10.0.0.1 held by 1 in [100, 200), then by 2 from 200 on. */
	CHECK_INT(bind(m, "10.0.0.1", 1, 100, 200), 0);
	CHECK_INT(bind(m, "10.0.0.1", 2, 200, TIME_INFINITY), 0);
	CHECK_STR(ids_str(m, f, 99, 16), "");
	CHECK_STR(ids_str(m, f, 100, 16), "1");
	CHECK_STR(ids_str(m, f, 199, 16), "1");
	CHECK_STR(ids_str(m, f, 200, 16), "2");
	CHECK_STR(ids_str(m, f, INT64_MAX - 1, 16), "2");
	CHECK_STR(ids_str(m, f, INT64_MIN, 16), "");

	/* A MAC binding that ends at 150. */
	CHECK_INT(bind(m, "02:00:00:00:00:0b", 3, INT64_MIN, 150), 0);
	CHECK_STR(ids_str(m, f, 149, 16), "1 3");
	CHECK_STR(ids_str(m, f, 150, 16), "1");
	CHECK_INT(devmap_count(m), 3);
	devmap_free(m);
}

static void test_cidr(void)
{
	struct devmap *m = devmap_new();
	const struct frame *f4 = &frames[0], *f6 = &frames[1];

	CHECK_INT(bind(m, "10.0.0.1", 3, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "10.0.0.0/8", 7, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "10.0.0.0/24", 9, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "10.0.0.2/31", 11, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "10.1.0.0/16", 13, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "192.168.0.0/16", 14, 0, TIME_INFINITY), 0);
	CHECK_STR(ids_str(m, f4, 1, 16), "3 7 9 11");
	CHECK_STR(ids_str(m, f6, 1, 16), "");

	CHECK_INT(bind(m, "0.0.0.0/0", 20, 0, 10), 0);
	CHECK_STR(ids_str(m, f4, 1, 16), "3 7 9 11 20");
	CHECK_STR(ids_str(m, f4, 10, 16), "3 7 9 11");

	CHECK_INT(bind(m, "fd00::/8", 30, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "fd00::/127", 31, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "fd00::2/128", 32, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "fd00:0:0:1::/64", 33, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "fd00::/65", 34, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "::/0", 35, 0, TIME_INFINITY), 0);
	CHECK_STR(ids_str(m, f6, 1, 16), "30 31 32 34 35");
	CHECK_STR(ids_str(m, f4, 1, 16), "3 7 9 11 20");
	devmap_free(m);

	/* Every prefix length of 10.0.0.1 and of fd00::2, device = 100 + length: more probes
	 * per packet than one prefetch batch holds. */
	m = devmap_new();
	for (unsigned len = 0; len <= 128; len++) {
		if (len <= 32) {
			struct addr a = net_of("10.0.0.1", len);
			CHECK_INT(devmap_add(m, &a, 100 + len, 0, TIME_INFINITY), 0);
		}
		struct addr b = net_of("fd00::2", len);
		CHECK_INT(devmap_add(m, &b, 300 + len, 0, TIME_INFINITY), 0);
	}
	char want[1024] = "";
	for (unsigned len = 0; len <= 32; len++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%u", len ? " " : "",
			 100 + len);
	CHECK_STR(ids_str(m, f4, 1, 64), want);
	want[0] = 0;
	for (unsigned len = 0; len < 50; len++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%u", len ? " " : "",
			 300 + len);
	CHECK_STR(ids_str(m, f6, 1, 50), want);
	uint32_t ids[200];
	int n = classify_packet(m, f6->linktype, f6->bytes, (uint32_t)f6->len, 1, ids, 200);
	CHECK_INT(n, 129);
	CHECK(n == 129 && ids[0] == 300 && ids[128] == 428);
	devmap_free(m);
}

static void test_dedupe_and_cap(void)
{
	struct devmap *m = devmap_new();
	const struct frame *f = &frames[0];

	/* Both MACs and both IPs belong to one device, twice over. */
	CHECK_INT(bind(m, "02:00:00:00:00:0a", 5, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "02:00:00:00:00:0b", 5, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "10.0.0.1", 5, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "10.0.0.2", 5, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "10.0.0.2", 5, 0, TIME_INFINITY), 0);
	CHECK_INT(bind(m, "10.0.0.0/8", 5, 0, TIME_INFINITY), 0);
	CHECK_STR(ids_str(m, f, 1, 16), "5");

	/* 20 more devices on the source IP, added in descending order: the cap keeps the
	 * smallest ids, ascending. */
	for (uint32_t id = 40; id > 20; id--)
		CHECK_INT(bind(m, "10.0.0.1", id, 0, TIME_INFINITY), 0);
	CHECK_STR(ids_str(m, f, 1, 16), "5 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35");
	CHECK_STR(ids_str(m, f, 1, 3), "5 21 22");
	CHECK_STR(ids_str(m, f, 1, 1), "5");
	CHECK_STR(ids_str(m, f, 1, 0), "");
	CHECK_STR(ids_str(m, f, 1, 64),
		  "5 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40");
	devmap_free(m);
}

static void test_devmap_errors(void)
{
	struct devmap *m = devmap_new();
	struct addr a = A("10.0.0.1");
	CHECK_INT(devmap_add(m, &a, 0, 0, 1), -EINVAL);
	CHECK_INT(devmap_add(m, &a, 1, 5, 5), -EINVAL);
	CHECK_INT(devmap_add(m, &a, 1, 6, 5), -EINVAL);
	CHECK_INT(devmap_add(m, NULL, 1, 0, 1), -EINVAL);
	CHECK_INT(devmap_add(NULL, &a, 1, 0, 1), -EINVAL);
	struct addr host_bits = { .family = ADDR_IPV4, .prefix = 8, .bytes = { 10, 1 } };
	CHECK_INT(devmap_add(m, &host_bits, 1, 0, 1), -EINVAL);
	struct addr tail = { .family = ADDR_IPV4, .prefix = 32, .bytes = { 10, 1, 2, 3, 4 } };
	CHECK_INT(devmap_add(m, &tail, 1, 0, 1), -EINVAL);
	struct addr mac_cidr = { .family = ADDR_MAC, .prefix = 24, .bytes = { 2 } };
	CHECK_INT(devmap_add(m, &mac_cidr, 1, 0, 1), -EINVAL);
	struct addr long4 = { .family = ADDR_IPV4, .prefix = 33 };
	CHECK_INT(devmap_add(m, &long4, 1, 0, 1), -EINVAL);
	struct addr nofam = { .family = 0, .prefix = 0 };
	CHECK_INT(devmap_add(m, &nofam, 1, 0, 1), -EINVAL);
	CHECK_INT(devmap_count(m), 0);
	CHECK_INT(devmap_add(m, &a, 1, INT64_MIN, INT64_MAX), 0);
	CHECK_INT(devmap_count(m), 1);

	uint32_t ids[4];
	CHECK_INT(classify_packet(NULL, 1, frames[0].bytes, (uint32_t)frames[0].len, 0, ids, 4), 0);
	CHECK_INT(classify_packet(m, 1, frames[0].bytes, (uint32_t)frames[0].len, 0, ids, 4), 1);
	CHECK_INT(classify_packet(m, 1, frames[0].bytes, (uint32_t)frames[0].len, 0, NULL, 4), 0);
	devmap_free(m);
	devmap_free(NULL);

	/* An empty map classifies nothing. */
	m = devmap_new();
	CHECK_INT(classify_packet(m, 1, frames[0].bytes, (uint32_t)frames[0].len, 0, ids, 4), 0);
	devmap_free(m);
}

/* 10 000 devices, each with a MAC, an IPv4 and an IPv6 address, plus a few subnets; every
 * pair lookup must come back exact. */
#define MANY 10000

static struct addr many_addr(uint8_t family, uint32_t i)
{
	struct addr a = { .family = family };
	switch (family) {
	case ADDR_MAC:
		a.prefix = 48;
		a.bytes[0] = 0x02;
		put_be32(a.bytes + 2, i * 2654435761u); /* scattered */
		break;
	case ADDR_IPV4:
		a.prefix = 32;
		put_be32(a.bytes, 0x0a000000u | i);
		break;
	default:
		a.prefix = 128;
		a.bytes[0] = 0xfd;
		put_be32(a.bytes + 12, i);
		break;
	}
	return a;
}

static void test_many(void)
{
	struct devmap *m = devmap_new();
	for (uint32_t i = 1; i <= MANY; i++) {
		struct addr mac = many_addr(ADDR_MAC, i), v4 = many_addr(ADDR_IPV4, i),
			    v6 = many_addr(ADDR_IPV6, i);
		CHECK_INT(devmap_add(m, &mac, i, 0, TIME_INFINITY), 0);
		CHECK_INT(devmap_add(m, &v4, i, 0, TIME_INFINITY), 0);
		CHECK_INT(devmap_add(m, &v6, i, 0, TIME_INFINITY), 0);
	}
	/* 10.0.0.0/18 (ids 0..16383) belongs to device 20000 until time 1000. */
	CHECK_INT(bind(m, "10.0.0.0/18", 20000, 0, 1000), 0);
	CHECK_INT(devmap_count(m), 3 * MANY + 1);

	unsigned bad = 0;
	for (uint32_t i = 1; i <= MANY; i++) {
		uint32_t j = (uint32_t)((uint64_t)i * 7919 % MANY) + 1;
		struct addr mi = many_addr(ADDR_MAC, i), mj = many_addr(ADDR_MAC, j);
		struct addr vi = many_addr(ADDR_IPV4, i), vj = many_addr(ADDR_IPV4, j);
		struct addr wi = many_addr(ADDR_IPV6, i), wj = many_addr(ADDR_IPV6, j);
		uint32_t lo = MIN(i, j), hi = MAX(i, j), ids[CLASSIFY_MAX_DEVICES];
		uint8_t pkt[128];
		size_t len;

		/* MACs of i and j carrying IPv4 of i and j, before and after the subnet ends. */
		len = put_eth(pkt, mj.bytes, mi.bytes, NULL, 0, 0x0800);
		len += put_ipv4(pkt + len, vi.bytes, vj.bytes);
		int n = classify_packet(m, 1, pkt, (uint32_t)len, 1000, ids, ELEMENTSOF(ids));
		if (n != (i == j ? 1 : 2) || ids[0] != lo || ids[n - 1] != hi)
			bad++;
		n = classify_packet(m, 1, pkt, (uint32_t)len, 999, ids, ELEMENTSOF(ids));
		if (n != (i == j ? 2 : 3) || ids[0] != lo || ids[n - 1] != 20000)
			bad++;

		/* Unknown MACs carrying IPv6 of i and an unknown destination. */
		uint8_t stranger[16] = { 0xfe, 0x80, [15] = 1 };
		len = put_eth(pkt, MAC_A, MAC_B, NULL, 0, 0x86dd);
		len += put_ipv6(pkt + len, wi.bytes, stranger);
		n = classify_packet(m, 1, pkt, (uint32_t)len, 5000, ids, ELEMENTSOF(ids));
		if (n != 1 || ids[0] != i)
			bad++;

		/* Raw IPv6 between j and i. */
		len = put_ipv6(pkt, wj.bytes, wi.bytes);
		n = classify_packet(m, 101, pkt, (uint32_t)len, 5000, ids, ELEMENTSOF(ids));
		if (n != (i == j ? 1 : 2) || ids[0] != lo || ids[n - 1] != hi)
			bad++;
	}
	CHECK_INT(bad, 0);

	/* Addresses next to the registered ones miss. */
	uint8_t pkt[128];
	uint32_t ids[CLASSIFY_MAX_DEVICES];
	uint8_t near4[4] = { 10, 0, 0x27, 0x11 }, far4[4] = { 11, 0, 0, 1 }; /* 10001 */
	size_t len = put_ipv4(pkt, near4, far4);
	CHECK_INT(classify_packet(m, 228, pkt, (uint32_t)len, 5000, ids, ELEMENTSOF(ids)), 0);
	devmap_free(m);
}

int main(void)
{
	build_frames();
	test_addr_parse();
	test_addr_relations();
	test_linktypes();
	test_frames();
	test_truncation();
	test_validity();
	test_cidr();
	test_dedupe_and_cap();
	test_devmap_errors();
	test_many();
	TESTS_DONE();
}

/* pcapfs-gen — deterministic synthetic IoT traffic for tests, benchmarks and the demo.
 *
 * It writes a classic pcap file of always-on device traffic and, optionally, the device
 * registry that explains it. It is the independent side of every comparison pcapfs is put
 * through, so it deliberately shares no code with src/: libc only.
 *
 * Determinism: the same seed and options give byte-identical output on every host. The
 * generator uses its own PRNG (xoshiro256** seeded through splitmix64), integer arithmetic
 * only (no floating point reaches the output) and writes every field little-endian
 * explicitly. Changing the order in which random numbers are drawn changes the output, so
 * treat the draw order as part of the format.
 *
 * Memory is O(devices), never O(packets): timestamps are produced in order by two
 * schedules (the even background and the bursts of one device) merged on the fly, and each
 * frame is written as soon as it is built. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__extension__ typedef unsigned __int128 u128;

#define MAX_DEVICES 65535u
#define MAX_PACKETS UINT64_C(10000000000) /* 1e10 packets: several TB, far beyond any test */
#define MIN_SNAPLEN 64u            /* every header the classifier reads is captured */
#define MAX_SNAPLEN 262144u        /* libpcap's MAXIMUM_SNAPLEN */
#define MIN_FRAME 60u
#define MAX_FRAME 9000u
#define NS_PER_SEC UINT64_C(1000000000)
#define MAX_END_SEC UINT64_C(4294967296) /* ts_sec is an unsigned 32-bit field */
#define BURSTY_DEV 3u
#define BURST_AVG 2500u  /* average packets per burst */
#define BURST_SHARE 25u  /* 1/25 of all packets belong to the bursty device */
#define POOL_SIZE 65536u /* random payload bytes; payloads are windows into it */
#define N_SERV4 64u
#define N_SERV6 16u

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* Uniform in [0, n) by multiply-shift; the bias (< n / 2^64) is irrelevant here. n > 0. */
static uint64_t rnd(struct rng *r, uint64_t n)
{
	return (uint64_t)(((u128)rng_next(r) * n) >> 64);
}

/* Uniform in [lo, hi], inclusive. */
static uint64_t rnd_in(struct rng *r, uint64_t lo, uint64_t hi)
{
	return lo + rnd(r, hi - lo + 1);
}

/* floor(a * b / c) without overflow for the sizes used here (a, b, c < 2^64). */
static uint64_t muldiv(uint64_t a, uint64_t b, uint64_t c)
{
	return (uint64_t)((u128)a * b / c);
}

struct opts {
	uint32_t devices;
	uint64_t packets;
	uint64_t start_ns;
	uint64_t duration_ns;
	uint64_t seed;
	bool nano;
	uint32_t snaplen;
	const char *out;
	const char *registry;
};

/* Per-device TCP connection to a server: a tiny state machine so that every conversation
 * looks like SYN, SYN/ACK, ACK, data, FIN, FIN/ACK, ACK with consistent sequence numbers. */
enum tcp_state { ST_NONE, ST_SYN, ST_SYNACK, ST_EST, ST_FIN, ST_FINACK };

struct device {
	uint64_t cum_weight; /* inclusive prefix sum of the selection weights */
	uint32_t seq_dev, seq_srv;
	uint16_t sport, dport;
	uint16_t icmp_seq;
	uint16_t vid;     /* 802.1Q VLAN id of the inner (or only) tag */
	uint8_t server;   /* index of the TCP peer */
	uint8_t state;    /* enum tcp_state */
	uint8_t tags;     /* 0, 1 (802.1Q) or 2 (802.1ad + 802.1Q) */
	bool v6;
};

struct gen {
	struct opts o;
	struct rng rng;
	struct device *dev;
	uint64_t total_weight;
	uint64_t res;              /* nanoseconds per tick of the output resolution */
	uint64_t start, dur, mid;  /* in ticks; mid = start of the second half */
	bool bursty, reassign, d2d;
	uint32_t spare_ipv4;       /* dev-001's address after the reassignment */
	uint16_t ip_id;
	FILE *out;
	const char *out_name;
	uint8_t pool[POOL_SIZE + MAX_FRAME];
	uint8_t frame[MAX_FRAME + 64];
};

static const uint8_t mac_gw[6] = { 0x02, 0xff, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t mac_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mac_zero[6] = { 0 };
static const uint32_t gw_ipv4 = 0x0a000001; /* 10.0.0.1, outside the device range */

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void dev_mac(uint8_t m[6], uint32_t i)
{
	m[0] = 0x02;
	m[1] = m[2] = 0;
	m[3] = (uint8_t)((i + 1) >> 16);
	m[4] = (uint8_t)((i + 1) >> 8);
	m[5] = (uint8_t)(i + 1);
}

static uint32_t dev_base_ipv4(uint32_t i)
{
	return 0x0a140000u + i + 1; /* 10.20.0.0 + i + 1 */
}

/* The IPv4 address device i holds at tick ts: dev-001's address passes to dev-002 at the
 * midpoint; dev-001 moves to a spare address, dev-002's old one falls silent. */
static uint32_t dev_ipv4(const struct gen *g, uint32_t i, uint64_t ts)
{
	if (g->reassign && ts >= g->mid) {
		if (i == 1)
			return g->spare_ipv4;
		if (i == 2)
			return dev_base_ipv4(1);
	}
	return dev_base_ipv4(i);
}

static void dev_ipv6(uint8_t a[16], uint32_t i)
{
	memset(a, 0, 16);
	a[0] = 0xfd;
	put32(a + 12, i + 1); /* fd00::<i+1> */
}

static uint32_t serv_ipv4(uint32_t k)
{
	return k < N_SERV4 / 2 ? 0xc0000200u + 10 + k          /* 192.0.2.10.. */
			       : 0xc6336400u + 10 + k - N_SERV4 / 2; /* 198.51.100.10.. */
}

static void serv_ipv6(uint8_t a[16], uint32_t k)
{
	memset(a, 0, 16);
	put32(a, 0x20010db8);
	put16(a + 6, k + 1);
	put16(a + 14, 0x53 + k); /* 2001:db8:0:<k+1>::<53+k> */
}

/* Ones' complement sum, folded at the end by csum_fold(). */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* One IP conversation leg: who sends to whom, and whose VLAN the frame travels on. */
struct flow {
	const struct device *tagdev; /* NULL: untagged */
	uint8_t smac[6], dmac[6];
	bool v6;
	uint32_t s4, d4;
	uint8_t s6[16], d6[16];
	uint8_t ttl;
};

static size_t l2_put(uint8_t *p, const struct flow *f, uint16_t ethertype)
{
	size_t off = 12;
	unsigned tags = f->tagdev ? f->tagdev->tags : 0;

	memcpy(p, f->dmac, 6);
	memcpy(p + 6, f->smac, 6);
	if (tags == 2) {
		put16(p + off, 0x88a8); /* 802.1ad service tag, S-VLAN 10 + vid % 4 */
		put16(p + off + 2, 10 + f->tagdev->vid % 4);
		off += 4;
	}
	if (tags >= 1) {
		put16(p + off, 0x8100);
		put16(p + off + 2, f->tagdev->vid);
		off += 4;
	}
	put16(p + off, ethertype);
	return off + 2;
}

/* Write the pcap record for the frame built in g->frame (len bytes, padded to 60). */
static int rec_write(struct gen *g, uint64_t ts, size_t len)
{
	uint8_t h[16];
	uint32_t caplen;
	uint64_t per_sec = NS_PER_SEC / g->res;

	if (len < MIN_FRAME) {
		memset(g->frame + len, 0, MIN_FRAME - len);
		len = MIN_FRAME;
	}
	caplen = len > g->o.snaplen ? g->o.snaplen : (uint32_t)len;
	le32(h, (uint32_t)(ts / per_sec));
	le32(h + 4, (uint32_t)(ts % per_sec));
	le32(h + 8, caplen);
	le32(h + 12, (uint32_t)len);
	if (fwrite(h, 1, 16, g->out) != 16 || fwrite(g->frame, 1, caplen, g->out) != caplen)
		return errno ? -errno : -EIO;
	return 0;
}

enum l4 { L4_TCP, L4_UDP, L4_ICMP };

struct l4hdr {
	enum l4 kind;
	uint16_t sport, dport;        /* ICMP: id, seq */
	uint32_t seq, ack;            /* TCP */
	uint8_t flags;                /* TCP flags; ICMP: type */
	bool mss;                     /* TCP: add an MSS option (SYN, SYN/ACK) */
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/* A well-formed DNS message of exactly n bytes (n >= 17) at q, so that dissectors see DNS, not
 * noise: a query for a name of labels that fills it, or a response repeating the question
 * with A records (the name takes up what the records do not). No random draws: the
 * generator's sequence stays what it was. */
static void dns_fill(uint8_t *q, size_t n, bool response, uint16_t id)
{
	size_t answers = response && n >= 116 ? (n - 116) / 16 : 0;
	size_t name = n - 12 - 4 - 16 * answers; /* bytes of the encoded name, >= 1 */
	put16(q, id);
	put16(q + 2, response ? 0x8180 : 0x0100);
	put16(q + 4, 1);
	put16(q + 6, (uint32_t)answers);
	put32(q + 8, 0);
	uint8_t *p = q + 12;
	size_t left = name - 1; /* the final zero */
	for (unsigned k = 0; left > 0; k++) {
		size_t len = left - 1 < 63 ? left - 1 : 63;
		if (left - 1 - len == 1)
			len--; /* never leave room for a label of nothing */
		*p++ = (uint8_t)len;
		for (size_t i = 0; i < len; i++)
			*p++ = (uint8_t)('a' + (k + i) % 26);
		left -= len + 1;
	}
	*p++ = 0;
	put16(p, 1); /* A, IN */
	put16(p + 2, 1);
	p += 4;
	for (size_t a = 0; a < answers; a++, p += 16) {
		put16(p, 0xc00c); /* the question's name */
		put16(p + 2, 1);
		put16(p + 4, 1);
		put32(p + 6, 300);
		put16(p + 10, 4);
		put32(p + 12, 0xc0000200u | (uint32_t)(a & 0xff)); /* 192.0.2.x */
	}
}

/* The first bytes of the other UDP services' messages, so that dissectors recognize them
 * (the rest stays pool bytes, as payloads): CoAP on 5683 (a non-confirmable POST or a 2.05
 * answer, no token, no options, then the payload marker); MQTT-SN on 1884 (PUBLISH to a
 * predefined topic); NTP on 123 (version 4 client or server, 48 bytes or cut short). */
static void udp_service_fill(uint8_t *q, size_t n, uint16_t sport, uint16_t dport)
{
	uint16_t port = sport < dport ? sport : dport;
	bool up = dport == port;
	if (port == 5683 && n >= 5) {
		q[0] = 0x50; /* version 1, non-confirmable, no token */
		q[1] = up ? 0x02 : 0x45;
		put16(q + 2, (uint32_t)(sport ^ dport));
		q[4] = 0xff;
	} else if (port == 1884 && n >= 9) {
		if (n < 256) {
			q[0] = (uint8_t)n;
			q += 1;
		} else {
			q[0] = 0x01;
			put16(q + 1, (uint32_t)(n > 0xffff ? 0xffff : n));
			q += 3;
		}
		q[0] = 0x0c; /* PUBLISH */
		q[1] = 0x01; /* QoS 0, predefined topic id */
		put16(q + 2, 1);
		put16(q + 4, 0);
	} else if (port == 123 && n >= 48) {
		q[0] = up ? 0x23 : 0x24; /* LI 0, version 4, client / server */
		q[1] = up ? 0 : 2;	 /* stratum */
		q[2] = 6;		 /* poll */
		q[3] = 0xec;		 /* precision */
	}
}

/* Build and write one IP frame of about want bytes (60..9000 including L2). The headers
 * take precedence over want; *ret_paylen gets the L4 payload length actually used (TCP
 * sequence numbers advance by it). Returns 0 or a negative errno from writing. */
static int emit_ip(struct gen *g, const struct flow *f, const struct l4hdr *h, size_t want,
		   uint64_t ts, size_t *ret_paylen)
{
	uint8_t *p = g->frame, *l3, *l4;
	size_t l2len, l3len = f->v6 ? 40 : 20, l4len, hl, pay = 0;
	uint8_t proto;
	uint64_t sum = 0;

	l2len = l2_put(p, f, f->v6 ? 0x86dd : 0x0800);
	l3 = p + l2len;
	l4 = l3 + l3len;
	switch (h->kind) {
	case L4_TCP:
		hl = h->mss ? 24 : 20;
		proto = 6;
		break;
	case L4_UDP:
		hl = 8;
		proto = 17;
		break;
	default:
		hl = 8;
		proto = f->v6 ? 58 : 1;
		break;
	}
	if (want > MAX_FRAME)
		want = MAX_FRAME;
	if (want > l2len + l3len + hl)
		pay = want - l2len - l3len - hl;
	memcpy(l4 + hl, g->pool + rnd(&g->rng, POOL_SIZE), pay);
	l4len = hl + pay;

	if (f->v6) {
		put32(l3, 0x60000000u | (uint32_t)(f->s6[15] ^ f->d6[15]) << 8);
		put16(l3 + 4, (uint32_t)l4len);
		l3[6] = proto;
		l3[7] = f->ttl;
		memcpy(l3 + 8, f->s6, 16);
		memcpy(l3 + 24, f->d6, 16);
	} else {
		l3[0] = 0x45;
		l3[1] = 0;
		put16(l3 + 2, (uint32_t)(20 + l4len));
		put16(l3 + 4, g->ip_id);
		g->ip_id = (uint16_t)(g->ip_id + 1); /* wraps, as IP ids do */
		put16(l3 + 6, proto == 6 ? 0x4000 : 0); /* DF on TCP */
		l3[8] = f->ttl;
		l3[9] = proto;
		put16(l3 + 10, 0);
		put32(l3 + 12, f->s4);
		put32(l3 + 16, f->d4);
		put16(l3 + 10, csum_fold(csum_add(0, l3, 20)));
	}

	if (h->kind == L4_TCP) {
		put16(l4, h->sport);
		put16(l4 + 2, h->dport);
		put32(l4 + 4, h->seq);
		put32(l4 + 8, h->ack);
		l4[12] = (uint8_t)((hl / 4) << 4);
		l4[13] = h->flags;
		put16(l4 + 14, h->flags & TCP_SYN ? 64240 : 502 + (h->sport & 0x3ff));
		put32(l4 + 16, 0); /* checksum, urgent pointer */
		if (h->mss)
			put32(l4 + 20, 0x02040000u | (f->v6 ? 1440 : 1460));
	} else if (h->kind == L4_UDP) {
		put16(l4, h->sport);
		put16(l4 + 2, h->dport);
		put16(l4 + 4, (uint32_t)l4len);
		put16(l4 + 6, 0);
		if ((h->sport == 53 || h->dport == 53) && pay >= 17)
			dns_fill(l4 + 8, pay, h->sport == 53, (uint16_t)(h->sport ^ h->dport));
		else
			udp_service_fill(l4 + 8, pay, h->sport, h->dport);
	} else {
		l4[0] = h->flags; /* echo request/reply type */
		l4[1] = 0;
		put16(l4 + 2, 0);
		put16(l4 + 4, h->sport);
		put16(l4 + 6, h->dport);
	}

	/* Pseudo-header: ICMPv4 has none; TCP, UDP and ICMPv6 do. */
	if (f->v6) {
		sum = csum_add(sum, l3 + 8, 32);
		sum += l4len + proto;
	} else if (proto != 1) {
		sum = csum_add(sum, l3 + 12, 8);
		sum += l4len + proto;
	}
	{
		uint16_t c = csum_fold(csum_add(sum, l4, l4len));
		size_t at = h->kind == L4_TCP ? 16 : h->kind == L4_UDP ? 6 : 2;

		if (c == 0 && h->kind == L4_UDP)
			c = 0xffff;
		put16(l4 + at, c);
	}
	if (ret_paylen)
		*ret_paylen = pay;
	return rec_write(g, ts, l2len + l3len + l4len);
}

static int emit_arp(struct gen *g, const struct flow *f, uint16_t op, const uint8_t sha[6],
		    uint32_t spa, const uint8_t tha[6], uint32_t tpa, uint64_t ts)
{
	uint8_t *a = g->frame + l2_put(g->frame, f, 0x0806);

	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	put32(a + 14, spa);
	memcpy(a + 18, tha, 6);
	put32(a + 24, tpa);
	return rec_write(g, ts, (size_t)(a + 28 - g->frame));
}

/* Fill f for device d talking to external server k (up: device -> server). */
static void flow_server(struct gen *g, uint32_t d, uint32_t k, bool up, bool v6, uint64_t ts,
			struct flow *f)
{
	uint8_t mac[6];

	dev_mac(mac, d);
	f->tagdev = &g->dev[d];
	f->v6 = v6;
	memcpy(up ? f->smac : f->dmac, mac, 6);
	memcpy(up ? f->dmac : f->smac, mac_gw, 6);
	if (v6) {
		dev_ipv6(up ? f->s6 : f->d6, d);
		serv_ipv6(up ? f->d6 : f->s6, k % N_SERV6);
	} else {
		f->s4 = up ? dev_ipv4(g, d, ts) : serv_ipv4(k % N_SERV4);
		f->d4 = up ? serv_ipv4(k % N_SERV4) : dev_ipv4(g, d, ts);
	}
	f->ttl = up ? 64 : (uint8_t)(48 + k % 16);
}

static uint16_t ephemeral(struct gen *g)
{
	return (uint16_t)rnd_in(&g->rng, 32768, 60999);
}

/* TCP payload size: many small, many 600..1500, a few jumbo. */
static size_t tcp_size(struct gen *g)
{
	uint64_t r = rnd(&g->rng, 1000);

	if (r < 350)
		return rnd_in(&g->rng, MIN_FRAME, 200);
	if (r < 550)
		return rnd_in(&g->rng, 200, 600);
	if (r < 985)
		return rnd_in(&g->rng, 600, 1514);
	return rnd_in(&g->rng, 1515, MAX_FRAME);
}

static int gen_tcp(struct gen *g, uint32_t d, uint64_t ts)
{
	static const uint16_t ports[] = { 443, 443, 443, 8883, 1883, 80, 5223, 22 };
	struct device *v = &g->dev[d];
	struct l4hdr h = { .kind = L4_TCP };
	struct flow f;
	bool up = true;
	size_t want = 0, pay = 0;
	uint64_t r;
	int rc;

	switch (v->state) {
	case ST_NONE:
		v->server = (uint8_t)rnd(&g->rng, N_SERV4);
		v->sport = ephemeral(g);
		v->dport = ports[rnd(&g->rng, sizeof(ports) / sizeof(ports[0]))];
		v->seq_dev = (uint32_t)rng_next(&g->rng);
		v->seq_srv = (uint32_t)rng_next(&g->rng);
		h.flags = TCP_SYN;
		h.mss = true;
		v->state = ST_SYN;
		break;
	case ST_SYN:
		up = false;
		h.flags = TCP_SYN | TCP_ACK;
		h.mss = true;
		v->state = ST_SYNACK;
		break;
	case ST_SYNACK:
		h.flags = TCP_ACK;
		v->state = ST_EST;
		break;
	case ST_FIN:
		up = false;
		h.flags = TCP_FIN | TCP_ACK;
		v->state = ST_FINACK;
		break;
	case ST_FINACK:
		h.flags = TCP_ACK;
		v->state = ST_NONE;
		break;
	default:
		r = rnd(&g->rng, 1000);
		up = rnd(&g->rng, 2);
		if (r < 15) {
			up = true;
			h.flags = TCP_FIN | TCP_ACK;
			v->state = ST_FIN;
		} else if (r < 20) {
			h.flags = TCP_RST | TCP_ACK;
			v->state = ST_NONE;
		} else if (r < 300) {
			h.flags = TCP_ACK;
		} else {
			h.flags = TCP_PSH | TCP_ACK;
			want = tcp_size(g);
		}
		break;
	}
	flow_server(g, d, v->server, up, false, ts, &f);
	h.sport = up ? v->sport : v->dport;
	h.dport = up ? v->dport : v->sport;
	h.seq = up ? v->seq_dev : v->seq_srv;
	h.ack = h.flags == TCP_SYN ? 0 : up ? v->seq_srv : v->seq_dev;
	rc = emit_ip(g, &f, &h, want, ts, &pay);
	/* SYN and FIN take one sequence number, data takes its length. */
	*(up ? &v->seq_dev : &v->seq_srv) += (uint32_t)pay + !!(h.flags & (TCP_SYN | TCP_FIN));
	return rc;
}

static int gen_udp(struct gen *g, uint32_t d, bool v6, uint64_t ts)
{
	struct l4hdr h = { .kind = L4_UDP };
	struct flow f;
	uint64_t r = rnd(&g->rng, 100);
	bool up = rnd(&g->rng, 2);
	uint16_t port, eph = ephemeral(g);
	size_t want;

	if (r < 40) { /* DNS: short queries, longer answers */
		port = 53;
		want = up ? rnd_in(&g->rng, 70, 130) : rnd_in(&g->rng, 90, 500);
	} else if (r < 60) { /* NTP, both ends on 123 */
		port = eph = 123;
		want = 90;
	} else if (r < 90) { /* CoAP and MQTT-SN telemetry */
		port = r & 1 ? 5683 : 1884;
		want = rnd_in(&g->rng, MIN_FRAME, 400);
	} else { /* RTP-ish media upload, a few jumbo frames */
		port = 5004;
		up = true;
		want = rnd(&g->rng, 50) ? rnd_in(&g->rng, 1000, 1400) : rnd_in(&g->rng, 1500, MAX_FRAME);
	}
	flow_server(g, d, (uint32_t)rnd(&g->rng, N_SERV4), up, v6, ts, &f);
	h.sport = up ? eph : port;
	h.dport = up ? port : eph;
	return emit_ip(g, &f, &h, want, ts, NULL);
}

static int gen_icmp(struct gen *g, uint32_t d, bool v6, uint64_t ts)
{
	struct device *v = &g->dev[d];
	struct l4hdr h = { .kind = L4_ICMP, .sport = (uint16_t)(0x1000 + d) };
	struct flow f;
	bool up = rnd(&g->rng, 2);
	size_t want = rnd(&g->rng, 10) < 7 ? (v6 ? 118 : 98) : rnd_in(&g->rng, MIN_FRAME, 1500);

	flow_server(g, d, (uint32_t)rnd(&g->rng, N_SERV4), up, v6, ts, &f);
	h.flags = v6 ? (up ? 128 : 129) : (up ? 8 : 0);
	if (up)
		v->icmp_seq = (uint16_t)(v->icmp_seq + 1);
	h.dport = v->icmp_seq;
	return emit_ip(g, &f, &h, want, ts, NULL);
}

/* ARP between a device and the gateway, in all four directions. */
static int gen_arp(struct gen *g, uint32_t d, uint64_t ts)
{
	struct flow f = { .tagdev = &g->dev[d] };
	uint8_t mac[6];
	uint32_t ip = dev_ipv4(g, d, ts);

	dev_mac(mac, d);
	switch (rnd(&g->rng, 4)) {
	case 0: /* device: who-has gateway */
		memcpy(f.smac, mac, 6);
		memcpy(f.dmac, mac_bcast, 6);
		return emit_arp(g, &f, 1, mac, ip, mac_zero, gw_ipv4, ts);
	case 1: /* gateway: is-at, to the device */
		memcpy(f.smac, mac_gw, 6);
		memcpy(f.dmac, mac, 6);
		return emit_arp(g, &f, 2, mac_gw, gw_ipv4, mac, ip, ts);
	case 2: /* gateway: who-has device address (matches only by the target address) */
		memcpy(f.smac, mac_gw, 6);
		memcpy(f.dmac, mac_bcast, 6);
		return emit_arp(g, &f, 1, mac_gw, gw_ipv4, mac_zero, ip, ts);
	default: /* device: is-at, to the gateway */
		memcpy(f.smac, mac, 6);
		memcpy(f.dmac, mac_gw, 6);
		return emit_arp(g, &f, 2, mac, ip, mac_gw, gw_ipv4, ts);
	}
}

/* Device a talks directly to device b; the frame carries a's VLAN tagging. */
static int gen_d2d(struct gen *g, uint32_t a, uint32_t b, uint64_t ts)
{
	struct flow f = { .tagdev = &g->dev[a], .ttl = 64 };
	struct l4hdr h = { .sport = ephemeral(g) };
	uint64_t r = rnd(&g->rng, 100);
	uint8_t ma[6], mb[6];

	dev_mac(ma, a);
	dev_mac(mb, b);
	memcpy(f.smac, ma, 6);
	memcpy(f.dmac, mb, 6);
	f.s4 = dev_ipv4(g, a, ts);
	f.d4 = dev_ipv4(g, b, ts);
	if (r < 10) {
		memcpy(f.dmac, mac_bcast, 6);
		return emit_arp(g, &f, 1, ma, f.s4, mac_zero, f.d4, ts);
	}
	if (r < 15)
		return emit_arp(g, &f, 2, ma, f.s4, mb, f.d4, ts);
	if (r < 35) {
		h.kind = L4_ICMP;
		h.flags = r & 1 ? 8 : 0;
		h.dport = (uint16_t)r;
		return emit_ip(g, &f, &h, 98, ts, NULL);
	}
	if (r < 65) {
		h.kind = L4_UDP;
		h.dport = 5683;
		if (g->dev[a].v6 && g->dev[b].v6 && (r & 1)) {
			f.v6 = true;
			dev_ipv6(f.s6, a);
			dev_ipv6(f.d6, b);
		}
		return emit_ip(g, &f, &h, rnd_in(&g->rng, MIN_FRAME, 300), ts, NULL);
	}
	h.kind = L4_TCP;
	h.dport = r & 1 ? 8080 : 1883;
	h.seq = (uint32_t)rng_next(&g->rng);
	h.ack = (uint32_t)rng_next(&g->rng);
	h.flags = r < 75 ? TCP_ACK : TCP_PSH | TCP_ACK;
	return emit_ip(g, &f, &h, h.flags == TCP_ACK ? 0 : tcp_size(g), ts, NULL);
}

/* Weighted choice among the devices that send background traffic (weight 0: never). */
static uint32_t dev_pick(struct gen *g)
{
	uint64_t r = rnd(&g->rng, g->total_weight);
	uint32_t lo = 0, hi = g->o.devices - 1;

	while (lo < hi) {
		uint32_t m = lo + (hi - lo) / 2;

		if (g->dev[m].cum_weight > r)
			hi = m;
		else
			lo = m + 1;
	}
	return lo;
}

static int gen_background(struct gen *g, uint64_t ts)
{
	uint32_t d = dev_pick(g), b;
	uint64_t r = rnd(&g->rng, 1000);
	bool v6 = g->dev[d].v6 && rnd(&g->rng, 10) < 4;

	if (r < 50 && g->d2d) { /* ~5% device to device */
		do
			b = dev_pick(g);
		while (b == d);
		return gen_d2d(g, d, b, ts);
	}
	if (r < 80)
		return gen_arp(g, d, ts);
	if (r < 130)
		return gen_icmp(g, d, v6, ts);
	if (r < 330)
		return gen_udp(g, d, v6, ts);
	return gen_tcp(g, d, ts);
}

/* The bursty device streams media to one server: large frames up, a few small ones down. */
static int gen_burst_packet(struct gen *g, uint64_t ts)
{
	struct l4hdr h = { .kind = L4_UDP, .sport = 40000, .dport = 5004 };
	struct flow f;
	bool up = rnd(&g->rng, 10) != 0;
	size_t want;

	flow_server(g, BURSTY_DEV, 7, up, false, ts, &f);
	if (!up) {
		h.sport = 5004;
		h.dport = 40000;
		want = rnd_in(&g->rng, MIN_FRAME, 120);
	} else {
		want = rnd(&g->rng, 50) ? rnd_in(&g->rng, 1000, 1460) : rnd_in(&g->rng, 1461, MAX_FRAME);
	}
	return emit_ip(g, &f, &h, want, ts, NULL);
}

/* Two timestamp schedules, each non-decreasing, merged by the main loop.
 * Background packet k lands in [D*k/n, D*(k+1)/n): evenly spread yet jittered, and ordered
 * by construction; about 1 in 256 repeats the previous timestamp to exercise ties.
 * Bursts: burst j sits inside slot [D*j/nb, D*(j+1)/nb), lasts 1..8 ms (at most a quarter
 * of the slot) and spreads its packets the same way inside its width. */
struct sched {
	uint64_t n, k, prev;                     /* background */
	uint64_t nburst, nb, j, base, rem;       /* bursts */
	uint64_t bsize, bm, bstart, bwidth, pending;
};

static uint64_t bg_next(struct gen *g, struct sched *s)
{
	uint64_t lo = muldiv(g->dur, s->k, s->n), hi = muldiv(g->dur, s->k + 1, s->n), t;

	t = hi > lo ? lo + rnd(&g->rng, hi - lo) : lo;
	if (s->k > 0 && rnd(&g->rng, 256) == 0)
		t = s->prev;
	s->prev = t;
	s->k++;
	return g->start + t;
}

static void burst_open(struct gen *g, struct sched *s)
{
	uint64_t lo = muldiv(g->dur, s->j, s->nb), hi = muldiv(g->dur, s->j + 1, s->nb);
	uint64_t len = hi - lo, w = rnd_in(&g->rng, 1000000, 8000000) / g->res;

	if (w > len / 4)
		w = len / 4;
	if (w == 0)
		w = 1;
	s->bwidth = w;
	s->bstart = lo + rnd(&g->rng, len - w + 1);
	s->bsize = s->base + (s->j < s->rem);
	/* Vary sizes in pairs so the total stays exact: +v for burst 2i, -v for burst 2i+1. */
	if (s->j % 2 == 0 && s->j + 1 < s->nb) {
		s->pending = rnd(&g->rng, s->base / 2 + 1);
		s->bsize += s->pending;
	} else if (s->j % 2 == 1) {
		s->bsize -= s->pending;
	}
	s->bm = 0;
}

static uint64_t burst_next(struct gen *g, struct sched *s)
{
	uint64_t lo = muldiv(s->bwidth, s->bm, s->bsize), hi = muldiv(s->bwidth, s->bm + 1, s->bsize);
	uint64_t t = s->bstart + (hi > lo ? lo + rnd(&g->rng, hi - lo) : lo);

	if (++s->bm == s->bsize && ++s->j < s->nb)
		burst_open(g, s);
	return g->start + t;
}

static int write_capture(struct gen *g)
{
	struct sched s = { 0 };
	uint8_t h[24];
	uint64_t tb = 0, tr = 0, left_b, left_r;
	int rc;

	le32(h, g->o.nano ? 0xa1b23c4d : 0xa1b2c3d4);
	h[4] = 2;
	h[5] = 0;
	h[6] = 4;
	h[7] = 0;
	memset(h + 8, 0, 8); /* thiszone, sigfigs */
	le32(h + 16, g->o.snaplen);
	le32(h + 20, 1); /* LINKTYPE_ETHERNET */
	if (fwrite(h, 1, sizeof(h), g->out) != sizeof(h))
		return errno ? -errno : -EIO;

	if (g->bursty) {
		s.nburst = g->o.packets / BURST_SHARE;
		s.nb = (s.nburst + BURST_AVG - 1) / BURST_AVG;
		if (s.nb > g->dur)
			s.nb = g->dur;
		if (s.nb > 0) {
			s.base = s.nburst / s.nb;
			s.rem = s.nburst % s.nb;
			burst_open(g, &s);
		}
	}
	s.n = g->o.packets - s.nburst;
	left_b = s.n;
	left_r = s.nburst;
	if (left_b)
		tb = bg_next(g, &s);
	if (left_r)
		tr = burst_next(g, &s);
	while (left_b || left_r) {
		if (left_b && (!left_r || tb <= tr)) {
			rc = gen_background(g, tb);
			if (--left_b)
				tb = bg_next(g, &s);
		} else {
			rc = gen_burst_packet(g, tr);
			if (--left_r)
				tr = burst_next(g, &s);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Seconds with the shortest exact fraction: 1795339800, 1795339800.5. */
static void fmt_time(char *buf, size_t size, uint64_t ns)
{
	uint64_t frac = ns % NS_PER_SEC;
	int digits = 9;

	if (!frac) {
		snprintf(buf, size, "%" PRIu64, ns / NS_PER_SEC);
		return;
	}
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(buf, size, "%" PRIu64 ".%0*" PRIu64, ns / NS_PER_SEC, digits, frac);
}

static void fmt_ipv4(char *buf, size_t size, uint32_t a)
{
	snprintf(buf, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static int write_registry(struct gen *g, FILE *f)
{
	char mid[32], a[32], b[32];
	uint32_t i;

	fmt_time(mid, sizeof(mid), g->mid * g->res);
	fprintf(f, "# pcapfs-gen registry: devices=%u packets=%" PRIu64 " seed=%" PRIu64 "\n",
		g->o.devices, g->o.packets, g->o.seed);
	fprintf(f, "# validity is half-open [from, until) in epoch seconds; '-' is unbounded\n");
	if (g->bursty)
		fprintf(f, "# bursty dev-%03u\n", BURSTY_DEV);
	if (g->reassign) {
		fmt_ipv4(a, sizeof(a), dev_base_ipv4(1));
		fprintf(f, "# reassigned %s dev-001 -> dev-002 at %s\n", a, mid);
	}
	fprintf(f, "device\tkind\taddress\tfrom\tuntil\tvlan\n");
	for (i = 0; i < g->o.devices; i++) {
		const struct device *v = &g->dev[i];
		uint8_t m[6];

		dev_mac(m, i);
		fprintf(f, "dev-%03u\tmac\t%02x:%02x:%02x:%02x:%02x:%02x\t-\t-\t%u\n", i, m[0], m[1],
			m[2], m[3], m[4], m[5], v->tags);
		fmt_ipv4(a, sizeof(a), dev_base_ipv4(i));
		if (g->reassign && (i == 1 || i == 2)) {
			fmt_ipv4(b, sizeof(b), i == 1 ? g->spare_ipv4 : dev_base_ipv4(1));
			fprintf(f, "dev-%03u\tipv4\t%s\t-\t%s\t%u\n", i, a, mid, v->tags);
			fprintf(f, "dev-%03u\tipv4\t%s\t%s\t-\t%u\n", i, b, mid, v->tags);
		} else {
			fprintf(f, "dev-%03u\tipv4\t%s\t-\t-\t%u\n", i, a, v->tags);
		}
		if (v->v6) {
			uint32_t n = i + 1;

			if (n >> 16)
				fprintf(f, "dev-%03u\tipv6\tfd00::%x:%x\t-\t-\t%u\n", i, n >> 16,
					n & 0xffff, v->tags);
			else
				fprintf(f, "dev-%03u\tipv6\tfd00::%x\t-\t-\t%u\n", i, n, v->tags);
		}
	}
	return ferror(f) ? -EIO : 0;
}

static void usage(FILE *f)
{
	fputs(
"NAME\n"
"    pcapfs-gen - write deterministic synthetic IoT traffic as a pcap file\n"
"\n"
"SYNOPSIS\n"
"    pcapfs-gen [OPTIONS] [-o FILE] [--registry FILE]\n"
"\n"
"DESCRIPTION\n"
"    Writes a classic pcap file (LINKTYPE_ETHERNET) of always-on traffic between\n"
"    registered devices, external servers and a gateway, and optionally the device\n"
"    registry that explains it. The same seed and options always give byte-identical\n"
"    output. Memory use depends on --devices only, never on --packets.\n"
"\n"
"OPTIONS\n"
"    --devices N     number of devices, 1..65535 (default 50)\n"
"    --packets N     number of packets, 0..10000000000 (default 100000)\n"
"    --start TIME    first possible timestamp, epoch seconds with an optional\n"
"                    fraction (default 1795334400 = 2026-11-22T08:00:00Z)\n"
"    --duration SEC  length of the capture in seconds, fraction allowed, > 0\n"
"                    (default 10800); every timestamp is in [start, start+duration)\n"
"                    and start+duration must not pass 4294967296\n"
"    --seed N        PRNG seed, 0..2^64-1 (default 1)\n"
"    --nanosecond    write a nanosecond pcap (magic a1b23c4d); default microsecond\n"
"    --snaplen N     snapshot length, 64..262144 (default 262144); longer frames are\n"
"                    truncated (caplen = snaplen, len = original length)\n"
"    -o, --output FILE\n"
"                    pcap output, '-' for standard output (default '-'; refused if\n"
"                    standard output is a terminal)\n"
"    --registry FILE write the device registry (TSV) to FILE\n"
"    -h, --help      show this help\n"
"\n"
"TRAFFIC\n"
"    Device i (dev-000, dev-001, ...) has MAC 02:00:00:xx:xx:xx = i+1 and IPv4 10.20.0.0 + i+1;\n"
"    every 5th (i % 5 == 0) also has IPv6 fd00::<i+1>. Devices with i % 7 == 0 send\n"
"    and receive inside one 802.1Q tag (VLAN 100 + i % 50), devices with\n"
"    i % 25 == 12 inside QinQ (802.1ad 0x88a8 outer, 802.1Q inner). Peers are servers\n"
"    in 192.0.2.0/24, 198.51.100.0/24 and 2001:db8::/32 behind the gateway MAC\n"
"    02:ff:00:00:00:01 (ARP address 10.0.0.1); about 5% of packets go from one device\n"
"    to another. The mix is mostly TCP (full handshakes, data, FIN, some RST), UDP\n"
"    (DNS, NTP, CoAP, MQTT-SN, RTP), ICMP and ICMPv6 echo, and ARP requests and\n"
"    replies naming device addresses; no ICMP errors (no nested IP headers). Frames\n"
"    are 60..9000 bytes: many small, many 600..1514, a few jumbo. Timestamps are\n"
"    non-decreasing, evenly spread with jitter, with occasional ties.\n"
"    With 4 or more devices, dev-003 is bursty: 1/25 of all packets, in bursts of\n"
"    about 2500 packets within 1..8 ms, silent in between.\n"
"    With 3 or more devices, dev-001's IPv4 address passes to dev-002 at the\n"
"    midpoint (start + duration/2): dev-001 moves to 10.20.0.0 + devices+1, and\n"
"    dev-002's own address 10.20.0.3 is not used any more.\n"
"\n"
"REGISTRY\n"
"    Tab-separated, one header line, lines starting with '#' are comments:\n"
"        device  kind  address  from  until  vlan\n"
"    kind is mac, ipv4 or ipv6; validity is [from, until) in epoch seconds with an\n"
"    optional fraction, '-' for unbounded; vlan is the number of VLAN tags the\n"
"    device's frames carry (0, 1 or 2).\n"
"\n"
"EXIT STATUS\n"
"    0 on success, 1 if writing failed, 2 on a usage error.\n"
"\n"
"EXAMPLES\n"
"    pcapfs-gen --packets 1000000 --seed 7 -o all.pcap --registry devices.tsv\n"
"    pcapfs-gen --devices 5 --packets 100 | tcpdump -nr - -e\n",
	      f);
}

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9') {
		fprintf(stderr, "pcapfs-gen: %s: '%s' is not a non-negative decimal number\n", opt, s);
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end) {
		fprintf(stderr, "pcapfs-gen: %s: '%s' is not a non-negative decimal number\n", opt, s);
		return -EINVAL;
	}
	if (errno == ERANGE || v < min || v > max) {
		fprintf(stderr, "pcapfs-gen: %s: %s is out of range (%" PRIu64 "..%" PRIu64 ")\n",
			opt, s, min, max);
		return -ERANGE;
	}
	*ret = v;
	return 0;
}

/* "SECONDS[.FRACTION]" with at most 9 fraction digits, below MAX_END_SEC, to nanoseconds. */
static int parse_time(const char *opt, const char *s, uint64_t *ret)
{
	uint64_t sec = 0, frac = 0;
	int idig = 0, fdig = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++, idig++)
		if (idig < 11)
			sec = sec * 10 + (uint64_t)(*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, fdig++)
			if (fdig < 9)
				frac = frac * 10 + (uint64_t)(*p - '0');
	if (*p || idig == 0 || (*s == '.') || (fdig == 0 && strchr(s, '.'))) {
		fprintf(stderr, "pcapfs-gen: %s: '%s' is not SECONDS[.FRACTION]\n", opt, s);
		return -EINVAL;
	}
	if (fdig > 9) {
		fprintf(stderr, "pcapfs-gen: %s: '%s' has more than 9 fraction digits\n", opt, s);
		return -EINVAL;
	}
	if (idig > 10 || sec >= MAX_END_SEC) {
		fprintf(stderr, "pcapfs-gen: %s: %s is beyond the pcap time range (< %" PRIu64 ")\n",
			opt, s, MAX_END_SEC);
		return -ERANGE;
	}
	for (; fdig < 9; fdig++)
		frac *= 10;
	*ret = sec * NS_PER_SEC + frac;
	return 0;
}

enum { OPT_DEVICES = 256, OPT_PACKETS, OPT_START, OPT_DURATION, OPT_SEED, OPT_NANO,
       OPT_SNAPLEN, OPT_REGISTRY };

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "devices", required_argument, NULL, OPT_DEVICES },
		{ "packets", required_argument, NULL, OPT_PACKETS },
		{ "start", required_argument, NULL, OPT_START },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "nanosecond", no_argument, NULL, OPT_NANO },
		{ "snaplen", required_argument, NULL, OPT_SNAPLEN },
		{ "output", required_argument, NULL, 'o' },
		{ "registry", required_argument, NULL, OPT_REGISTRY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v, res;
	int c, rc = 0;

	while (rc == 0 && (c = getopt_long(argc, argv, "o:h", lopts, NULL)) != -1) {
		switch (c) {
		case OPT_DEVICES:
			rc = parse_u64("--devices", optarg, 1, MAX_DEVICES, &v);
			o->devices = (uint32_t)v;
			break;
		case OPT_PACKETS:
			rc = parse_u64("--packets", optarg, 0, MAX_PACKETS, &o->packets);
			break;
		case OPT_START:
			rc = parse_time("--start", optarg, &o->start_ns);
			break;
		case OPT_DURATION:
			rc = parse_time("--duration", optarg, &o->duration_ns);
			break;
		case OPT_SEED:
			rc = parse_u64("--seed", optarg, 0, UINT64_MAX, &o->seed);
			break;
		case OPT_NANO:
			o->nano = true;
			break;
		case OPT_SNAPLEN:
			rc = parse_u64("--snaplen", optarg, MIN_SNAPLEN, MAX_SNAPLEN, &v);
			o->snaplen = (uint32_t)v;
			break;
		case 'o':
			o->out = optarg;
			break;
		case OPT_REGISTRY:
			o->registry = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fputs("Try 'pcapfs-gen --help'.\n", stderr);
			return -EINVAL;
		}
	}
	if (rc < 0)
		return rc;
	if (optind < argc) {
		fprintf(stderr, "pcapfs-gen: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	res = o->nano ? 1 : 1000;
	if (o->start_ns % res || o->duration_ns % res) {
		fprintf(stderr, "pcapfs-gen: --start and --duration must be whole microseconds "
				"(or use --nanosecond)\n");
		return -EINVAL;
	}
	if (o->duration_ns == 0) {
		fprintf(stderr, "pcapfs-gen: --duration must be greater than 0\n");
		return -EINVAL;
	}
	if (o->start_ns + o->duration_ns > MAX_END_SEC * NS_PER_SEC) {
		fprintf(stderr, "pcapfs-gen: --start + --duration passes %" PRIu64
				" (the end of the pcap time range)\n", MAX_END_SEC);
		return -ERANGE;
	}
	return 0;
}

static int gen_init(struct gen *g)
{
	uint64_t x = g->o.seed;
	uint32_t i;
	size_t k;

	for (k = 0; k < 4; k++)
		g->rng.s[k] = splitmix64(&x);
	for (k = 0; k < sizeof(g->pool); k += 8) {
		uint64_t r = rng_next(&g->rng);

		memcpy(g->pool + k, &r, 8 <= sizeof(g->pool) - k ? 8 : sizeof(g->pool) - k);
	}
	g->res = g->o.nano ? 1 : 1000;
	g->start = g->o.start_ns / g->res;
	g->dur = g->o.duration_ns / g->res;
	g->mid = g->start + g->dur / 2;
	g->bursty = g->o.devices > BURSTY_DEV;
	g->reassign = g->o.devices >= 3;
	g->d2d = g->o.devices - g->bursty >= 2;
	g->spare_ipv4 = dev_base_ipv4(g->o.devices);
	g->dev = calloc(g->o.devices, sizeof(*g->dev));
	if (!g->dev)
		return -ENOMEM;
	for (i = 0; i < g->o.devices; i++) {
		struct device *v = &g->dev[i];
		uint64_t w = rnd_in(&g->rng, 1, 4);

		if (g->bursty && i == BURSTY_DEV)
			w = 0;
		g->total_weight += w;
		v->cum_weight = g->total_weight;
		v->tags = i % 25 == 12 ? 2 : i % 7 == 0 ? 1 : 0;
		v->vid = (uint16_t)(100 + i % 50);
		v->v6 = i % 5 == 0;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct gen g; /* large: the payload pool and frame buffer */
	static char obuf[1 << 20];
	FILE *reg;
	int rc;

	g.o = (struct opts){ .devices = 50, .packets = 100000, .start_ns = 1795334400 * NS_PER_SEC,
			     .duration_ns = 3 * 3600 * NS_PER_SEC, .seed = 1,
			     .snaplen = MAX_SNAPLEN, .out = "-" };
	if (parse_args(argc, argv, &g.o) < 0)
		return 2;
	if (strcmp(g.o.out, "-") == 0) {
		if (isatty(STDOUT_FILENO)) {
			fprintf(stderr, "pcapfs-gen: refusing to write a pcap to a terminal; use -o FILE\n");
			return 2;
		}
		g.out = stdout;
		g.out_name = "standard output";
	} else {
		g.out = fopen(g.o.out, "wbe");
		g.out_name = g.o.out;
		if (!g.out) {
			fprintf(stderr, "pcapfs-gen: %s: %s\n", g.o.out, strerror(errno));
			return 1;
		}
	}
	if (gen_init(&g) < 0) {
		fprintf(stderr, "pcapfs-gen: out of memory for %u devices\n", g.o.devices);
		return 1;
	}
	if (g.o.registry) {
		reg = fopen(g.o.registry, "we");
		if (!reg) {
			fprintf(stderr, "pcapfs-gen: %s: %s\n", g.o.registry, strerror(errno));
			return 1;
		}
		rc = write_registry(&g, reg);
		if (fclose(reg) != 0 || rc < 0) {
			fprintf(stderr, "pcapfs-gen: %s: write failed: %s\n", g.o.registry,
				strerror(errno ? errno : EIO));
			return 1;
		}
	}
	setvbuf(g.out, obuf, _IOFBF, sizeof(obuf));
	rc = write_capture(&g);
	if (fflush(g.out) != 0 && rc == 0)
		rc = errno ? -errno : -EIO;
	if (g.out != stdout && fclose(g.out) != 0 && rc == 0)
		rc = errno ? -errno : -EIO;
	free(g.dev);
	if (rc < 0) {
		fprintf(stderr, "pcapfs-gen: %s: write failed: %s\n", g.out_name,
			strerror(-rc));
		return 1;
	}
	return 0;
}

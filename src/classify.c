/* classify.c — which registered devices a packet belongs to: the capture hot path.
 *
 * Three parts: the text form of addresses for the registry and the CLI (addr_*), the
 * header walk that pulls MAC and IP addresses out of a captured frame for every supported
 * link type (classify_addresses), and struct devmap, the read-only lookup tables built from
 * the registry (classify_packet).
 *
 * Devmap layout. Every (family, prefix length) present in the registry has its own
 * open-addressing hash table (linear probing, power-of-two capacity, load <= 1/2); exact
 * addresses are simply the full-length prefix. A slot holds a masked key and its first
 * binding (device id, [from, until)); further bindings of the same key (the address changed
 * hands, or several devices share it) form a singly linked list in one array for the whole
 * map. A packet's address is masked to each prefix length present for its family and
 * looked up once per length, so a packet costs O(addresses x (1 + distinct prefix lengths))
 * probes plus the length of those lists. All probes of a packet are prefetched before the
 * first one is made, so their cache misses overlap: with 10 000 devices the tables exceed
 * L2 and a miss, not arithmetic, is the unit of cost.
 *
 * Invariants: a slot with device id 0 is empty; every table has at least one empty slot (load
 * <= 1/2), so a probe sequence always ends; keys are stored already masked to the table's
 * prefix; once built the map is never written, so any number of threads may classify
 * against it without locks. Nothing here allocates on the per-packet path. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "classify.h"
#include "errbuf.h"
#include "util.h"

/* ------------------------------------------------------------------------------------- */
/* Addresses                                                                              */

/* Longest accepted text: an IPv6 address with an embedded IPv4 tail is at most 45
 * characters, plus "/128". Anything longer is not an address. */
#define ADDR_TEXT_MAX 63

static int addr_full_prefix(uint8_t family)
{
	switch (family) {
	case ADDR_MAC:
		return 48;
	case ADDR_IPV4:
		return 32;
	case ADDR_IPV6:
		return 128;
	default:
		return -1;
	}
}

/* Clear every bit beyond the prefix, including the unused tail of bytes[]. */
static void addr_mask(struct addr *a)
{
	unsigned p = a->prefix;
	for (unsigned i = 0; i < sizeof(a->bytes); i++) {
		if (p >= 8) {
			p -= 8;
			continue;
		}
		a->bytes[i] &= (uint8_t)(0xff00u >> p);
		p = 0;
	}
}

/* Does a satisfy the struct addr invariants (known family, prefix in range, host bits and
 * unused bytes zero)? */
static bool addr_valid(const struct addr *a)
{
	int full = addr_full_prefix(a->family);
	if (full < 0 || a->prefix > full)
		return false;
	if (a->family == ADDR_MAC && a->prefix != 48)
		return false;
	struct addr m = *a;
	addr_mask(&m);
	return memcmp(m.bytes, a->bytes, sizeof(a->bytes)) == 0;
}

/* Copy untrusted text for an error message: printable ASCII only, bounded. */
static const char *shown(const char *s, char *buf, size_t size)
{
	size_t i = 0;
	for (; s[i] && i + 4 < size; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = 0;
	return buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "xx:xx:xx:xx:xx:xx" or "xx-xx-xx-xx-xx-xx", one separator throughout. Six colon-separated
 * groups are never valid IPv6 (that needs eight groups or "::"), so trying MAC first is
 * unambiguous. */
static bool parse_mac(const char *s, size_t n, uint8_t out[6])
{
	if (n != 17 || (s[2] != ':' && s[2] != '-'))
		return false;
	for (unsigned i = 0; i < 6; i++) {
		const char *g = s + 3 * i;
		int hi = hexval(g[0]), lo = hexval(g[1]);
		if (hi < 0 || lo < 0 || (i < 5 && g[2] != s[2]))
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Decimal prefix length: 1 to 3 digits, no sign, no leading zero (as inet_pton refuses
 * "010" in a dotted quad). */
static bool parse_prefix(const char *s, unsigned *ret)
{
	size_t n = strlen(s);
	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*ret = v;
	return true;
}

int addr_parse(const char *s, struct addr *ret, struct errbuf *err)
{
	char text[ADDR_TEXT_MAX + 1], show[80];
	struct addr a = { 0 };
	unsigned prefix = 0;

	if (!s || !ret)
		return err_set(err, EINVAL, "no address given");
	size_t n = strnlen(s, ADDR_TEXT_MAX + 1);
	if (n == 0)
		return err_set(err, EINVAL, "empty address");
	if (n > ADDR_TEXT_MAX)
		return err_set(err, EINVAL, "address \"%s\" is too long (at most %d characters)",
			       shown(s, show, sizeof(show)), ADDR_TEXT_MAX);

	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	memcpy(text, s, alen);
	text[alen] = 0;
	if (slash && !parse_prefix(slash + 1, &prefix))
		return err_set(err, EINVAL, "invalid prefix length in \"%s\"",
			       shown(s, show, sizeof(show)));

	/* inet_pton accepts exactly one address with nothing around it: no whitespace, no
	 * trailing characters, no leading zeros in a dotted quad. */
	if (parse_mac(text, alen, a.bytes)) {
		a.family = ADDR_MAC;
		if (slash)
			return err_set(err, EINVAL, "MAC address \"%s\" takes no prefix length",
				       shown(s, show, sizeof(show)));
	} else if (inet_pton(AF_INET, text, a.bytes) == 1) {
		a.family = ADDR_IPV4;
	} else if (strchr(text, ':') && inet_pton(AF_INET6, text, a.bytes) == 1) {
		a.family = ADDR_IPV6;
	} else {
		return err_set(err, EINVAL, "\"%s\" is not a MAC, IPv4 or IPv6 address",
			       shown(s, show, sizeof(show)));
	}

	int full = addr_full_prefix(a.family);
	if (!slash)
		prefix = (unsigned)full;
	if (prefix > (unsigned)full)
		return err_set(err, EINVAL, "prefix length %u out of range for %s (0..%d)", prefix,
			       a.family == ADDR_IPV4 ? "IPv4" : "IPv6", full);
	a.prefix = (uint8_t)prefix;

	struct addr net = a;
	addr_mask(&net);
	if (memcmp(net.bytes, a.bytes, sizeof(a.bytes)) != 0) {
		char buf[ADDR_BUF];
		addr_format(&net, buf, sizeof(buf));
		return err_set(err, EINVAL, "host bits set in \"%s\", did you mean %s?",
			       shown(s, show, sizeof(show)), buf);
	}
	*ret = a;
	return 0;
}

int addr_format(const struct addr *a, char *buf, size_t size)
{
	char text[ADDR_BUF];
	int full = a ? addr_full_prefix(a->family) : -1;

	if (full < 0 || a->prefix > full) {
		if (buf && size > 0)
			buf[0] = 0;
		return -EINVAL;
	}
	switch (a->family) {
	case ADDR_MAC:
		snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", a->bytes[0],
			 a->bytes[1], a->bytes[2], a->bytes[3], a->bytes[4], a->bytes[5]);
		break;
	case ADDR_IPV4:
		inet_ntop(AF_INET, a->bytes, text, sizeof(text));
		break;
	default:
		inet_ntop(AF_INET6, a->bytes, text, sizeof(text));
		break;
	}
	size_t len = strlen(text);
	if (a->prefix < full)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "/%u", a->prefix);
	if (buf && size > 0) {
		size_t k = MIN(len, size - 1);
		memcpy(buf, text, k);
		buf[k] = 0;
	}
	return (int)len;
}

bool addr_is_cidr(const struct addr *a)
{
	int full = addr_full_prefix(a->family);
	return full >= 0 && a->prefix < full;
}

bool addr_overlaps(const struct addr *a, const struct addr *b)
{
	if (a->family != b->family || addr_full_prefix(a->family) < 0)
		return false;
	/* Two prefixes share an address iff they agree on the shorter one's bits. */
	struct addr x = *a, y = *b;
	x.prefix = y.prefix = MIN(a->prefix, b->prefix);
	addr_mask(&x);
	addr_mask(&y);
	return memcmp(x.bytes, y.bytes, sizeof(x.bytes)) == 0;
}

/* ------------------------------------------------------------------------------------- */
/* Header walk                                                                            */

#define LINKTYPE_NULL 0
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101
#define LINKTYPE_LOOP 108
#define LINKTYPE_LINUX_SLL 113
#define LINKTYPE_IPV4 228
#define LINKTYPE_IPV6 229
#define LINKTYPE_LINUX_SLL2 276

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_RARP 0x8035
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100

/* Deeper stacks than this are not real traffic; stopping bounds the walk. */
#define VLAN_MAX_TAGS 4

/* BSD address families as found in DLT_NULL / DLT_LOOP headers (the values libpcap's
 * "ip" and "ip6" match: AF_INET6 differs between the BSDs). */
#define BSD_AF_INET 2
#define BSD_AF_INET6_BSD 24
#define BSD_AF_INET6_FREEBSD 28
#define BSD_AF_INET6_DARWIN 30

bool classify_linktype_supported(uint32_t linktype)
{
	return classify_linktype_name(linktype) != NULL;
}

const char *classify_linktype_name(uint32_t linktype)
{
	/* The names libpcap's pcap_datalink_val_to_name() gives. */
	static const struct {
		uint32_t type;
		const char *name;
	} names[] = {
		{ LINKTYPE_NULL, "NULL" },           { LINKTYPE_ETHERNET, "EN10MB" },
		{ LINKTYPE_RAW, "RAW" },             { LINKTYPE_LOOP, "LOOP" },
		{ LINKTYPE_LINUX_SLL, "LINUX_SLL" }, { LINKTYPE_IPV4, "IPV4" },
		{ LINKTYPE_IPV6, "IPV6" },           { LINKTYPE_LINUX_SLL2, "LINUX_SLL2" },
	};
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (names[i].type == linktype)
			return names[i].name;
	return NULL;
}

/* Header walk. libpcap's "host" primitive looks only at the type field and fixed offsets;
 * here a header must also say what it is (IPv4 version 4 with IHL >= 5, IPv6 version 6,
 * ARP for Ethernet and IPv4), so a malformed packet is not attributed by the bytes that
 * happen to sit where an address would be. */

/* The output of a header walk: where in the packet each address starts and its family
 * (which fixes its length). Addresses past CLASSIFY_MAX_ADDRS are dropped, so parsers need
 * not check; each parser records an address only after checking that len covers it, and
 * len never exceeds caplen. */
struct found {
	const uint8_t *at[CLASSIFY_MAX_ADDRS];
	uint8_t family[CLASSIFY_MAX_ADDRS];
	unsigned n;
};

static inline void found_add(struct found *f, uint8_t family, const uint8_t *at)
{
	if (f->n < CLASSIFY_MAX_ADDRS) {
		f->at[f->n] = at;
		f->family[f->n] = family;
		f->n++;
	}
}

/* IPv4: source at 12, destination at 16 of the header. */
static void walk_ipv4(struct found *f, const uint8_t *p, size_t len)
{
	if (len < 1 || p[0] >> 4 != 4 || (p[0] & 0x0f) < 5)
		return;
	if (len >= 16)
		found_add(f, ADDR_IPV4, p + 12);
	if (len >= 20)
		found_add(f, ADDR_IPV4, p + 16);
}

/* IPv6: source at 8, destination at 24 of the fixed header. */
static void walk_ipv6(struct found *f, const uint8_t *p, size_t len)
{
	if (len < 1 || p[0] >> 4 != 6)
		return;
	if (len >= 24)
		found_add(f, ADDR_IPV6, p + 8);
	if (len >= 40)
		found_add(f, ADDR_IPV6, p + 24);
}

/* ARP/RARP for Ethernet and IPv4: sender protocol address at 14, target at 24. The
 * hardware addresses inside ARP are not classified, as "ether host" does not look at
 * them either. */
static void walk_arp(struct found *f, const uint8_t *p, size_t len)
{
	if (len < 6 || be16(p) != 1 || be16(p + 2) != ETHERTYPE_IPV4 || p[4] != 6 || p[5] != 4)
		return;
	if (len >= 18)
		found_add(f, ADDR_IPV4, p + 14);
	if (len >= 28)
		found_add(f, ADDR_IPV4, p + 24);
}

static void walk_ethertype(struct found *f, uint16_t type, const uint8_t *p, size_t len)
{
	switch (type) {
	case ETHERTYPE_IPV4:
		walk_ipv4(f, p, len);
		break;
	case ETHERTYPE_IPV6:
		walk_ipv6(f, p, len);
		break;
	case ETHERTYPE_ARP:
	case ETHERTYPE_RARP:
		walk_arp(f, p, len);
		break;
	default:
		break;
	}
}

/* The type field at off, then up to VLAN_MAX_TAGS tags (TCI, next type) each moving the
 * type field 4 bytes on; the payload follows the last type field. This is where libpcap
 * re-inserts tags the kernel stripped, for Ethernet and for Linux SLL alike. */
static void walk_typed(struct found *f, const uint8_t *p, size_t len, size_t off)
{
	uint16_t type;
	for (unsigned tags = 0;; tags++) {
		if (len < off + 2)
			return;
		type = be16(p + off);
		if (type != ETHERTYPE_VLAN && type != ETHERTYPE_QINQ && type != ETHERTYPE_QINQ_OLD)
			break;
		if (tags == VLAN_MAX_TAGS)
			return;
		off += 4;
	}
	walk_ethertype(f, type, p + off + 2, len - off - 2);
}

static void walk_ip(struct found *f, const uint8_t *p, size_t len)
{
	if (len < 1)
		return;
	if (p[0] >> 4 == 4)
		walk_ipv4(f, p, len);
	else if (p[0] >> 4 == 6)
		walk_ipv6(f, p, len);
}

/* DLT_NULL's family is in the capturing host's byte order, which need not be ours (a file
 * imported from another machine); the values are small, so both orders are unambiguous. */
static void walk_family(struct found *f, uint32_t family, const uint8_t *p, size_t len)
{
	switch (family) {
	case BSD_AF_INET:
		walk_ipv4(f, p, len);
		break;
	case BSD_AF_INET6_BSD:
	case BSD_AF_INET6_FREEBSD:
	case BSD_AF_INET6_DARWIN:
		walk_ipv6(f, p, len);
		break;
	default:
		break;
	}
}

/* The walk for every supported link type; an unsupported one yields nothing. */
static void walk_packet(struct found *f, uint32_t linktype, const uint8_t *pkt, size_t len)
{
	switch (linktype) {
	case LINKTYPE_ETHERNET:
		if (len >= 6)
			found_add(f, ADDR_MAC, pkt); /* destination */
		if (len >= 12)
			found_add(f, ADDR_MAC, pkt + 6); /* source */
		walk_typed(f, pkt, len, 12);
		break;
	case LINKTYPE_LINUX_SLL:
		/* packet type, ARPHRD type, address length, 8-byte address, protocol. */
		walk_typed(f, pkt, len, 14);
		break;
	case LINKTYPE_LINUX_SLL2:
		/* protocol, reserved, ifindex, ARPHRD type, packet type, address length,
		 * 8-byte address: 20 bytes. libpcap inserts no VLAN tags into SLL2. */
		if (len >= 20)
			walk_ethertype(f, be16(pkt), pkt + 20, len - 20);
		break;
	case LINKTYPE_RAW:
		walk_ip(f, pkt, len);
		break;
	case LINKTYPE_IPV4:
		walk_ipv4(f, pkt, len);
		break;
	case LINKTYPE_IPV6:
		walk_ipv6(f, pkt, len);
		break;
	case LINKTYPE_NULL:
		if (len >= 4) {
			uint32_t fam = le32(pkt);
			if (fam > 0xffff)
				fam = be32(pkt);
			walk_family(f, fam, pkt + 4, len - 4);
		}
		break;
	case LINKTYPE_LOOP:
		if (len >= 4)
			walk_family(f, be32(pkt), pkt + 4, len - 4);
		break;
	default:
		break;
	}
}

int classify_addresses(uint32_t linktype, const uint8_t *pkt, uint32_t caplen, struct addr *ret,
		       size_t max)
{
	struct found f;
	size_t n = 0;

	f.n = 0;
	if (!pkt || !ret)
		return 0;
	walk_packet(&f, linktype, pkt, caplen);
	for (; n < f.n && n < max; n++) {
		struct addr *a = &ret[n];
		memset(a, 0, sizeof(*a));
		a->family = f.family[n];
		a->prefix = (uint8_t)addr_full_prefix(a->family);
		memcpy(a->bytes, f.at[n], a->family == ADDR_MAC ? 6 : a->family == ADDR_IPV4 ? 4 : 16);
	}
	return (int)n;
}

/* ------------------------------------------------------------------------------------- */
/* Device map                                                                             */

/* Far beyond any registry (10 000 devices with a handful of addresses each), small enough
 * that every index fits in 32 bits and a hostile registry cannot exhaust memory. */
#define DEVMAP_MAX_BINDINGS (UINT32_C(1) << 22)
#define TABLE_MIN_SLOTS 16

/* Lookups are issued in batches: every slot of a batch is prefetched before the first is
 * probed, so the cache misses of a packet's addresses overlap instead of adding up. */
#define PROBE_BATCH 16

/* A binding beyond the first of its key. */
struct binding {
	int64_t from_ns;  /* inclusive */
	int64_t until_ns; /* exclusive */
	uint32_t device_id;
	uint32_t next; /* index + 1 of the next binding of the same key; 0 ends the list */
};

/* A key is the address as a 128-bit big-endian number (MAC and IPv4 in lo), masked to the
 * table's prefix. The first binding of a key lives in its slot, so the usual lookup (one
 * binding per address) touches one slot and nothing else. */
struct slot {
	uint64_t hi, lo;
	int64_t from_ns, until_ns;
	uint32_t device_id; /* 0 = empty slot (device ids are > 0) */
	uint32_t more;      /* index + 1 into devmap.bindings of the other bindings; 0 = none */
};

struct table {
	struct slot *slots;
	uint32_t mask; /* capacity - 1 */
	uint32_t used;
	uint64_t mask_hi, mask_lo; /* the prefix as a key mask */
	uint8_t prefix;
};

struct family_tables {
	struct table *by_prefix[129];
	/* The tables present, longest prefix first: what a lookup iterates. */
	struct table *present[129];
	unsigned n_present;
};

struct devmap {
	struct family_tables fam[3]; /* ADDR_MAC, ADDR_IPV4, ADDR_IPV6 */
	struct binding *bindings;    /* the second and later bindings of every key */
	size_t n_bindings, cap_bindings;
	size_t n_added; /* all bindings, in slots or not */
};

/* The key of an address of the given family starting at b (in a packet or a struct addr). */
static inline void key_at(uint8_t family, const uint8_t *b, uint64_t *hi, uint64_t *lo)
{
	switch (family) {
	case ADDR_MAC:
		*hi = 0;
		*lo = (uint64_t)be16(b) << 32 | be32(b + 2);
		break;
	case ADDR_IPV4:
		*hi = 0;
		*lo = be32(b);
		break;
	default:
		*hi = (uint64_t)be32(b) << 32 | be32(b + 4);
		*lo = (uint64_t)be32(b + 8) << 32 | be32(b + 12);
		break;
	}
}

/* The top p bits of a w-bit field, 0 <= p <= w <= 64. */
static uint64_t top_bits(unsigned p, unsigned w)
{
	if (p == 0)
		return 0;
	uint64_t field = w == 64 ? UINT64_MAX : (UINT64_C(1) << w) - 1;
	return (UINT64_MAX << (w - p)) & field;
}

static void key_mask(uint8_t family, unsigned prefix, uint64_t *hi, uint64_t *lo)
{
	switch (family) {
	case ADDR_MAC:
		*hi = 0;
		*lo = top_bits(prefix, 48);
		break;
	case ADDR_IPV4:
		*hi = 0;
		*lo = top_bits(prefix, 32);
		break;
	default:
		*hi = top_bits(MIN(prefix, 64u), 64);
		*lo = top_bits(prefix > 64 ? prefix - 64 : 0, 64);
		break;
	}
}

/* Keys are not chosen by the traffic but by the registry (the operator); a fixed mixer
 * spreads the low-entropy keys of a subnet (10.0.x.y, sequential MACs) over all slots. */
static inline uint64_t key_hash(uint64_t hi, uint64_t lo)
{
	uint64_t h = lo * UINT64_C(0x9e3779b97f4a7c15) ^ (hi + UINT64_C(0x632be59bd9b4e019));
	h ^= h >> 31;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 29;
	h *= UINT64_C(0x94d049bb133111eb);
	h ^= h >> 32;
	return h;
}

/* The slot holding the key, or the empty slot where it would go, starting at slot i (the
 * key's hash & mask). Terminates because the load is at most 1/2. */
static inline struct slot *table_probe(const struct table *t, uint32_t i, uint64_t hi,
				       uint64_t lo)
{
	for (;;) {
		struct slot *s = &t->slots[i];
		if (s->device_id == 0 || (s->hi == hi && s->lo == lo))
			return s;
		i = (i + 1) & t->mask;
	}
}

static int table_resize(struct table *t, uint32_t nslots)
{
	struct slot *slots = calloc(nslots, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	struct table n = *t;
	n.slots = slots;
	n.mask = nslots - 1;
	if (t->slots)
		for (uint32_t i = 0; i <= t->mask; i++) {
			const struct slot *old = &t->slots[i];
			if (old->device_id) {
				uint32_t h = (uint32_t)key_hash(old->hi, old->lo) & n.mask;
				*table_probe(&n, h, old->hi, old->lo) = *old;
			}
		}
	free(t->slots);
	*t = n;
	return 0;
}

static struct table *table_get(struct devmap *m, uint8_t family, uint8_t prefix)
{
	struct family_tables *ft = &m->fam[family - 1];
	if (ft->by_prefix[prefix])
		return ft->by_prefix[prefix];

	struct table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->prefix = prefix;
	key_mask(family, prefix, &t->mask_hi, &t->mask_lo);
	if (table_resize(t, TABLE_MIN_SLOTS) < 0) {
		free(t);
		return NULL;
	}
	unsigned i = ft->n_present;
	while (i > 0 && ft->present[i - 1]->prefix < prefix) {
		ft->present[i] = ft->present[i - 1];
		i--;
	}
	ft->present[i] = t;
	ft->n_present++;
	ft->by_prefix[prefix] = t;
	return t;
}

struct devmap *devmap_new(void)
{
	return calloc(1, sizeof(struct devmap));
}

void devmap_free(struct devmap *m)
{
	if (!m)
		return;
	for (unsigned f = 0; f < ELEMENTSOF(m->fam); f++)
		for (unsigned i = 0; i < m->fam[f].n_present; i++) {
			free(m->fam[f].present[i]->slots);
			free(m->fam[f].present[i]);
		}
	free(m->bindings);
	free(m);
}

int devmap_add(struct devmap *m, const struct addr *a, uint32_t device_id, int64_t from_ns,
	       int64_t until_ns)
{
	if (!m || !a || device_id == 0 || from_ns >= until_ns || !addr_valid(a))
		return -EINVAL;
	if (m->n_added >= DEVMAP_MAX_BINDINGS)
		return -ENOMEM;

	/* Reserve everything first, so that a failure leaves the map as it was (an empty new
	 * table aside, which only costs a probe). */
	if (m->n_bindings == m->cap_bindings) {
		size_t cap = m->cap_bindings ? m->cap_bindings * 2 : 16;
		struct binding *b = realloc(m->bindings, cap * sizeof(*b));
		if (!b)
			return -ENOMEM;
		m->bindings = b;
		m->cap_bindings = cap;
	}
	struct table *t = table_get(m, a->family, a->prefix);
	if (!t)
		return -ENOMEM;
	if ((size_t)(t->used + 1) * 2 > (size_t)t->mask + 1) {
		int r = table_resize(t, (t->mask + 1) * 2);
		if (r < 0)
			return r;
	}

	uint64_t hi, lo;
	key_at(a->family, a->bytes, &hi, &lo);
	struct slot *s = table_probe(t, (uint32_t)key_hash(hi, lo) & t->mask, hi, lo);
	if (s->device_id == 0) {
		*s = (struct slot){ .hi = hi, .lo = lo, .from_ns = from_ns, .until_ns = until_ns,
				    .device_id = device_id };
		t->used++;
	} else {
		uint32_t idx = (uint32_t)m->n_bindings++;
		m->bindings[idx] = (struct binding){
			.from_ns = from_ns,
			.until_ns = until_ns,
			.device_id = device_id,
			.next = s->more,
		};
		s->more = idx + 1;
	}
	m->n_added++;
	return 0;
}

size_t devmap_count(const struct devmap *m)
{
	return m ? m->n_added : 0;
}

/* Insert id into the ascending, distinct ids[0..n), capped at max: when full, the largest
 * id falls off, so the result is the max smallest ids whatever the discovery order. n is a
 * handful, so insertion sort beats anything cleverer. */
static inline size_t ids_insert(uint32_t *ids, size_t n, size_t max, uint32_t id)
{
	size_t i = n;
	while (i > 0 && ids[i - 1] > id)
		i--;
	if ((i > 0 && ids[i - 1] == id) || i == max)
		return n;
	size_t end = n < max ? n : max - 1;
	for (size_t k = end; k > i; k--)
		ids[k] = ids[k - 1];
	ids[i] = id;
	return n < max ? n + 1 : n;
}

struct probe {
	const struct table *t;
	uint64_t hi, lo;
	uint32_t start;
};

/* Probe a batch whose slots have been prefetched; returns the new id count. */
static size_t probe_batch(const struct devmap *m, const struct probe *p, unsigned n,
			  int64_t ts_ns, uint32_t *ids, size_t n_ids, size_t max)
{
	for (unsigned k = 0; k < n; k++) {
		const struct slot *s = table_probe(p[k].t, p[k].start, p[k].hi, p[k].lo);
		if (s->device_id == 0)
			continue;
		if (ts_ns >= s->from_ns && ts_ns < s->until_ns)
			n_ids = ids_insert(ids, n_ids, max, s->device_id);
		for (uint32_t b = s->more; b;) {
			const struct binding *bd = &m->bindings[b - 1];
			if (ts_ns >= bd->from_ns && ts_ns < bd->until_ns)
				n_ids = ids_insert(ids, n_ids, max, bd->device_id);
			b = bd->next;
		}
	}
	return n_ids;
}

int classify_packet(const struct devmap *m, uint32_t linktype, const uint8_t *pkt,
		    uint32_t caplen, int64_t ts_ns, uint32_t *ret_ids, size_t max)
{
	struct found f;
	struct probe batch[PROBE_BATCH];
	unsigned n_batch = 0;
	size_t n_ids = 0;

	if (!m || !pkt || !ret_ids || max == 0)
		return 0;
	max = MIN(max, (size_t)INT32_MAX);
	f.n = 0;
	walk_packet(&f, linktype, pkt, caplen);
	for (unsigned i = 0; i < f.n; i++) {
		const struct family_tables *ft = &m->fam[f.family[i] - 1];
		uint64_t hi, lo;
		key_at(f.family[i], f.at[i], &hi, &lo);
		for (unsigned k = 0; k < ft->n_present; k++) {
			struct probe *p = &batch[n_batch++];
			p->t = ft->present[k];
			p->hi = hi & p->t->mask_hi;
			p->lo = lo & p->t->mask_lo;
			p->start = (uint32_t)key_hash(p->hi, p->lo) & p->t->mask;
			__builtin_prefetch(&p->t->slots[p->start]);
			if (n_batch == PROBE_BATCH) {
				n_ids = probe_batch(m, batch, n_batch, ts_ns, ret_ids, n_ids, max);
				n_batch = 0;
			}
		}
	}
	n_ids = probe_batch(m, batch, n_batch, ts_ns, ret_ids, n_ids, max);
	return (int)n_ids;
}

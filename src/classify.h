/* classify.h — which registered devices a packet belongs to.
 *
 * A packet belongs to every device one of whose addresses, valid at the packet's capture
 * time, appears in it — the same rule as tcpdump's "ether host M or host A or net C":
 *   - Ethernet (DLT_EN10MB): source and destination MAC; after any number (up to 4) of
 *     802.1Q / 802.1ad / QinQ (0x8100, 0x88a8, 0x9100) tags: IPv4 and IPv6 source and
 *     destination, ARP (Ethernet/IPv4) sender and target protocol address;
 *   - Linux cooked SLL (113) and SLL2 (276), raw IP (101, 228 IPv4, 229 IPv6), BSD loopback
 *     (DLT_NULL 0, DLT_LOOP 108): by IP only (and ARP for SLL/SLL2).
 * Exact addresses (MAC, IPv4, IPv6) are looked up in hash tables; CIDRs in one hash table
 * per prefix length present. The hot path allocates nothing: O(number of addresses in the
 * packet × (1 + distinct CIDR prefix lengths)). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

enum addr_family {
	ADDR_MAC = 1,
	ADDR_IPV4 = 2,
	ADDR_IPV6 = 3,
};

/* An address or a CIDR prefix. For MAC, bytes[0..5] and prefix 48; IPv4 bytes[0..3],
 * prefix 0..32; IPv6 bytes[0..15], prefix 0..128. prefix < full length means a CIDR; host
 * bits beyond the prefix are always zero. Unused bytes are zero, so memcmp works. */
struct addr {
	uint8_t family;
	uint8_t prefix;
	uint8_t bytes[16];
};

/* Parse "02:00:00:00:00:01" (also '-' separated), "10.0.0.1", "fd00::1", "10.0.0.0/8",
 * "fd00::/64". A CIDR with host bits set is rejected (-EINVAL, "host bits set, did you mean
 * 10.0.0.0/8?"). Returns 0 or -EINVAL with a message. */
int addr_parse(const char *s, struct addr *ret, struct errbuf *err);
/* Format in the same notation (CIDRs with "/len", MACs lower-case colon-separated).
 * ADDR_BUF is always enough. Returns the length. */
#define ADDR_BUF 64
int addr_format(const struct addr *a, char *buf, size_t size);
bool addr_is_cidr(const struct addr *a);
/* Do the two (addresses or prefixes) share any address? (Same family and one contains the
 * other.) */
bool addr_overlaps(const struct addr *a, const struct addr *b);

/* Is this link type one we can classify? */
bool classify_linktype_supported(uint32_t linktype);
const char *classify_linktype_name(uint32_t linktype); /* "EN10MB", ... or NULL */

/* Extract the addresses a packet carries (MACs, IPs). Returns the count written (<= max);
 * never reads beyond caplen; a truncated header simply yields fewer addresses. */
#define CLASSIFY_MAX_ADDRS 8
int classify_addresses(uint32_t linktype, const uint8_t *pkt, uint32_t caplen, struct addr *ret,
		       size_t max);

/* The registry at one point in time, as lookup tables: address -> (device id, validity). */
struct devmap;
struct devmap *devmap_new(void);
void devmap_free(struct devmap *m);
/* Add one binding. from_ns inclusive, until_ns exclusive (TIME_INFINITY: open-ended).
 * Returns 0 or -ENOMEM / -EINVAL. device_id > 0. */
int devmap_add(struct devmap *m, const struct addr *a, uint32_t device_id, int64_t from_ns,
	       int64_t until_ns);
size_t devmap_count(const struct devmap *m); /* bindings added */

/* The devices a packet belongs to at time ts_ns: distinct ids, ascending, at most max
 * (CLASSIFY_MAX_DEVICES is the most a caller needs to allow; more are dropped and counted in
 * the return value being > max is NOT done — the result is simply capped). Returns the count. */
#define CLASSIFY_MAX_DEVICES 16
int classify_packet(const struct devmap *m, uint32_t linktype, const uint8_t *pkt,
		    uint32_t caplen, int64_t ts_ns, uint32_t *ret_ids, size_t max);

/* fuzz-addr.c — addresses as text and addresses in packets.
 *
 * The first byte picks the mode. Even: the rest is a string for addr_parse; whatever it
 * accepts must format and re-parse to the identical struct. Odd: the rest is a packet,
 * walked for every supported link type and classified against a small fixed registry; the
 * result must equal a brute-force scan of the registry over the addresses found. Bits 1-3
 * of the first byte pick the capture time, bits 4-7 the result cap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "util.h"

static const uint32_t linktypes[] = { 0, 1, 101, 108, 113, 228, 229, 276 };

static const struct {
	const char *addr;
	uint32_t id;
	int64_t from, until;
} registry[] = {
	{ "02:00:00:00:00:01", 1, 0, TIME_INFINITY },
	{ "02:00:00:00:00:02", 2, 0, 100 },
	{ "02:00:00:00:00:02", 3, 100, TIME_INFINITY },
	{ "ff:ff:ff:ff:ff:ff", 4, INT64_MIN, TIME_INFINITY },
	{ "10.0.0.1", 5, 0, TIME_INFINITY },
	{ "10.0.0.2", 6, 50, 150 },
	{ "10.0.0.0/8", 7, 0, TIME_INFINITY },
	{ "10.0.0.0/30", 8, 0, TIME_INFINITY },
	{ "0.0.0.0/0", 9, 0, 100 },
	{ "192.168.1.0/24", 10, 0, TIME_INFINITY },
	{ "fd00::1", 11, 0, TIME_INFINITY },
	{ "fd00::/64", 12, 0, TIME_INFINITY },
	{ "fd00::1", 13, 100, 200 },
	{ "::/0", 14, 150, TIME_INFINITY },
	{ "fe80::/10", 15, 0, TIME_INFINITY },
	{ "10.0.0.1", 16, 0, TIME_INFINITY },
	{ "10.0.0.1", 17, 0, TIME_INFINITY },
	{ "10.0.0.1", 18, 0, TIME_INFINITY },
	{ "10.0.0.1", 19, 0, TIME_INFINITY },
	{ "10.0.0.1", 20, 0, TIME_INFINITY },
	{ "10.0.0.1", 21, 0, TIME_INFINITY },
	{ "10.0.0.1", 22, 0, TIME_INFINITY },
	{ "10.0.0.1", 23, 0, TIME_INFINITY },
	{ "10.0.0.1", 24, 0, TIME_INFINITY },
};

static const int64_t times[] = { INT64_MIN, -1, 0, 49, 99, 100, 150, INT64_MAX };

static struct addr reg_addr[ELEMENTSOF(registry)];

/* Built once and never freed: it is what a capture thread would share. */
static struct devmap *fixed_map(void)
{
	static struct devmap *m;
	if (m)
		return m;
	m = devmap_new();
	if (!m)
		abort();
	for (size_t i = 0; i < ELEMENTSOF(registry); i++)
		if (addr_parse(registry[i].addr, &reg_addr[i], NULL) < 0 ||
		    devmap_add(m, &reg_addr[i], registry[i].id, registry[i].from,
			       registry[i].until) < 0)
			abort();
	return m;
}

static void fuzz_parse(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = 0;

	struct addr a, b;
	struct errbuf err;
	if (addr_parse(s, &a, &err) == 0) {
		char buf[ADDR_BUF];
		int len = addr_format(&a, buf, sizeof(buf));
		if (len <= 0 || (size_t)len >= sizeof(buf) || strlen(buf) != (size_t)len)
			abort();
		if (addr_parse(buf, &b, &err) != 0 || memcmp(&a, &b, sizeof(a)) != 0)
			abort();
		if (!addr_overlaps(&a, &b) || addr_is_cidr(&a) != (strchr(buf, '/') != NULL))
			abort();
	} else if (strnlen(err.msg, sizeof(err.msg)) == 0) {
		abort();
	}
	free(s);
}

static void fuzz_packet(uint8_t mode, const uint8_t *pkt, size_t size)
{
	struct devmap *m = fixed_map();
	int64_t ts = times[(mode >> 1) & 7];
	size_t max = 1 + (mode >> 4);
	uint32_t caplen = (uint32_t)MIN(size, (size_t)UINT32_MAX);

	for (size_t l = 0; l < ELEMENTSOF(linktypes); l++) {
		struct addr found[CLASSIFY_MAX_ADDRS];
		int n = classify_addresses(linktypes[l], pkt, caplen, found, ELEMENTSOF(found));
		if (n < 0 || n > CLASSIFY_MAX_ADDRS)
			abort();

		/* The oracle: every binding whose address contains a found one, valid at ts;
		 * distinct, ascending, the smallest max of them. */
		uint32_t want[ELEMENTSOF(registry)];
		size_t n_want = 0;
		for (int i = 0; i < n; i++) {
			if (addr_is_cidr(&found[i]))
				abort();
			for (size_t r = 0; r < ELEMENTSOF(registry); r++) {
				if (!addr_overlaps(&found[i], &reg_addr[r]) || ts < registry[r].from ||
				    ts >= registry[r].until)
					continue;
				size_t k = 0;
				while (k < n_want && want[k] != registry[r].id)
					k++;
				if (k == n_want)
					want[n_want++] = registry[r].id;
			}
		}
		for (size_t i = 1; i < n_want; i++)
			for (size_t k = i; k > 0 && want[k - 1] > want[k]; k--) {
				uint32_t t = want[k];
				want[k] = want[k - 1];
				want[k - 1] = t;
			}
		n_want = MIN(n_want, max);

		uint32_t got[CLASSIFY_MAX_DEVICES];
		int k = classify_packet(m, linktypes[l], pkt, caplen, ts, got, max);
		if (k < 0 || (size_t)k != n_want || memcmp(got, want, n_want * sizeof(*got)) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_packet(data[0], data + 1, size - 1);
	else
		fuzz_parse(data + 1, size - 1);
	return 0;
}

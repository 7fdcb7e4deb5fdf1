/* pcapio.c — reading classic pcap and pcapng capture files, writing classic pcap headers.
 *
 * The reader is the front end of `pcapfsctl import` and must outrun `tcpdump -r in -w out`,
 * so the per-packet path does no allocation, no copy and no system call: input is read with
 * read(2) into one large buffer (PCAPIN_BUFSIZE), records are returned as pointers into it,
 * and only when fewer bytes remain than the next record needs is the unread tail moved to
 * the front and the rest of the buffer refilled. A memory input is the degenerate case of a
 * buffer that already holds the whole file.
 *
 * Buffer invariant: p[start, end) are the unread bytes, base is the input offset of p[0],
 * so the read position is base + start. The buffer only grows for a pcapng block larger
 * than itself, and never beyond PCAPNG_MAX_BLOCK: memory stays bounded whatever the file.
 *
 * Packet numbers in messages count from 1, as Wireshark and capinfos number frames, so a
 * user can find "packet 12" in the tools they already use; pcap_rec.index counts from 0.
 *
 * Once pcapin_next() has failed, every later call fails again with the same error and
 * message: after a bad length the reader no longer knows where the next record starts. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "pcapio.h"

#ifndef PCAPIN_BUFSIZE
/* Big enough that a refill is one large read(2) per several thousand packets; tests and
 * fuzzing may build with a tiny buffer to exercise the refill and growth paths. */
#define PCAPIN_BUFSIZE (4u << 20)
#endif

#define PCAPNG_BT_SHB 0x0a0d0d0au /* palindrome: readable before the byte order is known */
#define PCAPNG_BT_IDB 1u
#define PCAPNG_BT_OPB 2u /* obsolete packet block */
#define PCAPNG_BT_SPB 3u /* simple packet block: no timestamp, no interface */
#define PCAPNG_BT_EPB 6u
#define PCAPNG_BOM 0x1a2b3c4du
#define PCAPNG_OPT_TSRESOL 9u
#define PCAPNG_OPT_TSOFFSET 14u

#define PCAPNG_SHB_MIN 28u /* header 8 + BOM 4 + version 4 + section length 8 + trailer 4 */
#define PCAPNG_IDB_MIN 20u /* header 8 + link type 2 + reserved 2 + snaplen 4 + trailer 4 */
#define PCAPNG_PKT_MIN 32u /* EPB and OPB: header 8 + 20 bytes of fields + trailer 4 */

/* 128-bit arithmetic keeps the pcapng timestamp conversion exact for any 64-bit count of
 * units; __extension__ tells -Wpedantic this GNU type is intended. */
__extension__ typedef __int128 int128;

/* Timestamps must fit the 32-bit seconds of the classic pcap files pcapfs stores. */
#define TS_END_NS ((int128)UINT32_MAX * NS_PER_SEC + NS_PER_SEC)

struct pcapin {
	int fd;	       /* -1 for a memory input */
	bool close_fd; /* false for standard input */
	bool eof;      /* read(2) returned 0; a memory input starts at eof */
	uint8_t *buf;  /* owned buffer of cap bytes (NULL for a memory input) */
	size_t cap;
	const uint8_t *p; /* buf, or the caller's memory */
	size_t start, end;
	uint64_t base;
	uint64_t size;

	enum pcapin_format format;
	bool be; /* the file (or the current pcapng section) is big-endian */
	enum tsprec prec;
	uint32_t linktype;
	uint32_t snaplen; /* the file's limit, 0 and oversized values mapped to PCAP_MAX_CAPLEN */
	uint64_t npackets;

	/* pcapng: interfaces declared in this section and in the whole file; the timestamp of a
	 * packet is units * ts_mul / ts_div nanoseconds plus ts_off_s seconds. */
	uint32_t section_ifs, total_ifs;
	uint64_t ts_mul, ts_div;
	int64_t ts_off_s;

	int failed; /* sticky negative errno, with its message */
	struct errbuf failmsg;
};

static inline uint16_t ld16(const struct pcapin *in, const uint8_t *p)
{
	return in->be ? be16(p) : le16(p);
}

static inline uint32_t ld32(const struct pcapin *in, const uint8_t *p)
{
	return in->be ? be32(p) : le32(p);
}

static inline uint64_t in_pos(const struct pcapin *in)
{
	return in->base + in->start;
}

static bool is_packet_block(uint32_t type)
{
	return type == PCAPNG_BT_EPB || type == PCAPNG_BT_OPB || type == PCAPNG_BT_SPB;
}

/* Slow path of in_need(): move the unread tail to the front, grow the buffer if one block
 * needs more than it holds, and read until n bytes are available or the input ends. */
static ssize_t in_fill(struct pcapin *in, size_t n, struct errbuf *err)
{
	size_t avail = in->end - in->start;

	if (in->eof)
		return (ssize_t)avail;
	if (in->start > 0) {
		memmove(in->buf, in->buf + in->start, avail);
		in->base += in->start;
		in->start = 0;
		in->end = avail;
	}
	if (n > in->cap) {
		/* Callers never ask for more than PCAPNG_MAX_BLOCK, so neither does this. */
		size_t cap = in->cap;
		while (cap < n)
			cap *= 2;
		cap = MIN(cap, MAX((size_t)PCAPNG_MAX_BLOCK, n));
		uint8_t *nb = realloc(in->buf, cap);
		if (!nb)
			return err_set(err, ENOMEM, "cannot grow the read buffer to %zu bytes", cap);
		in->buf = nb;
		in->p = nb;
		in->cap = cap;
	}
	while (in->end < n) {
		ssize_t r = read(in->fd, in->buf + in->end, in->cap - in->end);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			return err_set(err, e, "read error at offset %" PRIu64 ": %s",
				       in->base + in->end, strerror(e));
		}
		if (r == 0) {
			in->eof = true;
			break;
		}
		in->end += (size_t)r;
	}
	return (ssize_t)(in->end - in->start);
}

/* Make n bytes at the read position available. Returns how many are (>= n, or fewer only
 * at the end of the input) or a negative errno. Pointers into the buffer taken before a
 * call are invalid after it. */
static inline ssize_t in_need(struct pcapin *in, size_t n, struct errbuf *err)
{
	size_t avail = in->end - in->start;

	if (_likely_(avail >= n))
		return (ssize_t)avail;
	return in_fill(in, n, err);
}

/* The length checks shared by every record format. maxcap is the file's (or interface's)
 * snaplen after mapping 0 and oversized values to PCAP_MAX_CAPLEN. */
static int check_lengths(uint32_t caplen, uint32_t len, uint32_t maxcap, uint32_t snaplen,
			 const char *of, struct errbuf *err)
{
	if (caplen == 0 || len == 0)
		return err_set(err, EPROTO, "zero-length packet (caplen %" PRIu32 ", len %" PRIu32 ")",
			       caplen, len);
	if (caplen > PCAP_MAX_CAPLEN)
		return err_set(err, EPROTO, "caplen %" PRIu32 " exceeds the maximum %u", caplen,
			       PCAP_MAX_CAPLEN);
	if (caplen > maxcap)
		return err_set(err, EPROTO, "caplen %" PRIu32 " exceeds the snaplen %" PRIu32 " of the %s",
			       caplen, snaplen, of);
	if (caplen > len)
		return err_set(err, EPROTO, "caplen %" PRIu32 " exceeds the original length %" PRIu32,
			       caplen, len);
	return 0;
}

static uint32_t snaplen_limit(uint32_t snaplen)
{
	return snaplen == 0 || snaplen > PCAP_MAX_CAPLEN ? PCAP_MAX_CAPLEN : snaplen;
}

static int check_frac(uint32_t frac, enum tsprec prec, struct errbuf *err)
{
	if (prec == TSPREC_NS ? frac >= 1000000000u : frac >= 1000000u)
		return err_set(err, EPROTO, "%s field %" PRIu32 " out of range (must be below %s)",
			       prec == TSPREC_NS ? "nanosecond" : "microsecond", frac,
			       prec == TSPREC_NS ? "1000000000" : "1000000");
	return 0;
}

static int64_t ts_from_pcap(uint32_t sec, uint32_t frac, enum tsprec prec)
{
	/* At most (2^32 - 1) * 10^9 + 10^9 - 1 < 2^63: no overflow. */
	return (int64_t)sec * NS_PER_SEC + (prec == TSPREC_NS ? frac : (int64_t)frac * NS_PER_US);
}

/* ---- classic pcap ---- */

static int pcap_read_header(struct pcapin *in, uint32_t magic, struct errbuf *err)
{
	ssize_t avail = in_need(in, PCAP_GLOBAL_HDR_LEN, err);
	if (avail < 0)
		return (int)avail;
	if (avail < PCAP_GLOBAL_HDR_LEN)
		return err_set(err, EPROTO,
			       "truncated pcap file header (the file ends after %zd of %u bytes)",
			       avail, PCAP_GLOBAL_HDR_LEN);

	const uint8_t *h = in->p + in->start;
	in->format = PCAPIN_PCAP;
	in->be = be32(h) == magic;
	in->prec = magic == PCAP_MAGIC_NS ? TSPREC_NS : TSPREC_US;

	uint16_t major = ld16(in, h + 4), minor = ld16(in, h + 6);
	/* 2.3 has the same layout as 2.4 (only 2.2 and older swapped caplen and len). */
	if (major != 2 || (minor != 4 && minor != 3))
		return err_set(err, EPROTO, "unsupported pcap version %u.%u (expected 2.4)", major,
			       minor);
	in->snaplen = snaplen_limit(ld32(in, h + 16));
	/* The upper 16 bits carry FCS-length and reserved flags (libpcap LT_LINKTYPE()). */
	in->linktype = ld32(in, h + 20) & 0xffffu;
	in->start += PCAP_GLOBAL_HDR_LEN;
	return 0;
}

static int pcap_next_rec(struct pcapin *in, struct pcap_rec *ret, struct errbuf *err)
{
	uint64_t off = in_pos(in), num = in->npackets + 1;
	ssize_t avail = in_need(in, PCAP_REC_HDR_LEN, err);
	if (avail <= 0)
		return (int)avail;
	if (avail < PCAP_REC_HDR_LEN)
		return err_set(err, EPROTO,
			       "packet %" PRIu64 " at offset %" PRIu64
			       ": truncated record header (the file ends after %zd of %u bytes)",
			       num, off, avail, PCAP_REC_HDR_LEN);

	const uint8_t *h = in->p + in->start;
	uint32_t sec = ld32(in, h), frac = ld32(in, h + 4);
	uint32_t caplen = ld32(in, h + 8), len = ld32(in, h + 12);
	int r = check_lengths(caplen, len, in->snaplen, in->snaplen, "file", err);
	if (r >= 0)
		r = check_frac(frac, in->prec, err);
	if (r < 0)
		return err_prefix(err, -r, "packet %" PRIu64 " at offset %" PRIu64 ": ", num, off);

	size_t need = PCAP_REC_HDR_LEN + (size_t)caplen;
	avail = in_need(in, need, err);
	if (avail < 0)
		return (int)avail;
	if ((size_t)avail < need)
		return err_set(err, EPROTO,
			       "packet %" PRIu64 " at offset %" PRIu64 ": truncated record (caplen %" PRIu32
			       ", the file ends after %zd of its %u data bytes)",
			       num, off, caplen, avail - PCAP_REC_HDR_LEN, caplen);

	*ret = (struct pcap_rec){
		.ts_ns = ts_from_pcap(sec, frac, in->prec),
		.caplen = caplen,
		.len = len,
		.data = in->p + in->start + PCAP_REC_HDR_LEN,
		.offset = off,
		.index = in->npackets++,
	};
	in->start += need;
	return 1;
}

/* ---- pcapng ---- */

/* Describe where a block is, for messages: packets by number, other blocks by type. */
static const char *ng_where(const struct pcapin *in, uint32_t type, uint64_t off, char *buf,
			    size_t size)
{
	if (is_packet_block(type))
		snprintf(buf, size, "packet %" PRIu64 " at offset %" PRIu64, in->npackets + 1, off);
	else
		snprintf(buf, size, "block at offset %" PRIu64 " (type 0x%08" PRIx32 ")", off, type);
	return buf;
}

/* Bring the whole block at the read position into the buffer and check its framing: length
 * a multiple of 4, 12..PCAPNG_MAX_BLOCK, equal trailing length. An SHB sets the byte order
 * of the section it opens. Does not consume the block. Returns 1, 0 at the end of the
 * input, or a negative errno. */
static int ng_load(struct pcapin *in, uint32_t *ret_type, uint32_t *ret_len, struct errbuf *err)
{
	uint64_t off = in_pos(in);
	char where[96];
	ssize_t avail = in_need(in, 8, err);
	if (avail <= 0)
		return (int)avail;

	if (avail < 8)
		return err_set(err, EPROTO,
			       "block at offset %" PRIu64
			       ": truncated block header (the file ends after %zd of 8 bytes)",
			       off, avail);
	uint32_t type = ld32(in, in->p + in->start);
	if (type == PCAPNG_BT_SHB) {
		avail = in_need(in, 12, err);
		if (avail < 0)
			return (int)avail;
		if (avail < 12)
			return err_set(err, EPROTO,
				       "block at offset %" PRIu64
				       ": truncated section header (the file ends after %zd of 12 bytes)",
				       off, avail);
		const uint8_t *bom = in->p + in->start + 8;
		if (le32(bom) == PCAPNG_BOM)
			in->be = false;
		else if (be32(bom) == PCAPNG_BOM)
			in->be = true;
		else
			return err_set(err, EPROTO,
				       "block at offset %" PRIu64 ": bad pcapng byte-order magic 0x%08" PRIx32,
				       off, be32(bom));
	}

	uint32_t len = ld32(in, in->p + in->start + 4);
	if (len < 12 || len % 4 != 0)
		return err_set(err, EPROTO, "%s: invalid block length %" PRIu32,
			       ng_where(in, type, off, where, sizeof(where)), len);
	if (len > PCAPNG_MAX_BLOCK)
		return err_set(err, EPROTO, "%s: block length %" PRIu32 " exceeds the maximum %u",
			       ng_where(in, type, off, where, sizeof(where)), len, PCAPNG_MAX_BLOCK);
	avail = in_need(in, len, err);
	if (avail < 0)
		return (int)avail;
	if ((size_t)avail < len)
		return err_set(err, EPROTO,
			       "%s: truncated block (the file ends after %zd of its %" PRIu32 " bytes)",
			       ng_where(in, type, off, where, sizeof(where)), avail, len);
	uint32_t trailer = ld32(in, in->p + in->start + len - 4);
	if (trailer != len)
		return err_set(err, EPROTO,
			       "%s: trailing block length %" PRIu32 " differs from the leading %" PRIu32,
			       ng_where(in, type, off, where, sizeof(where)), trailer, len);
	*ret_type = type;
	*ret_len = len;
	return 1;
}

static int ng_shb(struct pcapin *in, const uint8_t *b, uint32_t len, uint64_t off,
		  struct errbuf *err)
{
	if (len < PCAPNG_SHB_MIN)
		return err_set(err, EPROTO,
			       "block at offset %" PRIu64 ": section header block of %" PRIu32
			       " bytes is shorter than %u",
			       off, len, PCAPNG_SHB_MIN);
	uint16_t major = ld16(in, b + 12), minor = ld16(in, b + 14);
	if (major != 1)
		return err_set(err, EPROTO,
			       "block at offset %" PRIu64 ": unsupported pcapng version %u.%u (expected 1.x)",
			       off, major, minor);
	/* Interface numbers restart in every section; the section length is advisory (-1 =
	 * unknown) and not needed to read sequentially. */
	in->section_ifs = 0;
	return 0;
}

/* if_tsresol: bit 7 clear = 10^-v seconds, set = 2^-(v & 0x7f). Exponents are limited so
 * that 10^e and 2^e fit 64 bits; units * ts_mul then fits easily in 128 bits. */
static int ng_tsresol(struct pcapin *in, uint8_t v, struct errbuf *err)
{
	unsigned e = v & 0x7fu;
	uint64_t p10 = 1;

	if (v & 0x80u) {
		if (e > 63)
			return err_set(err, EPROTO, "unsupported if_tsresol 2^-%u", e);
		in->ts_mul = (uint64_t)NS_PER_SEC;
		in->ts_div = UINT64_C(1) << e;
		in->prec = e <= 19 ? TSPREC_US : TSPREC_NS; /* 2^19 < 10^6 < 2^20 */
		return 0;
	}
	if (e > 19)
		return err_set(err, EPROTO, "unsupported if_tsresol 10^-%u", e);
	for (unsigned i = 0; i < (e <= 9 ? 9 - e : e - 9); i++)
		p10 *= 10;
	in->ts_mul = e <= 9 ? p10 : 1;
	in->ts_div = e <= 9 ? 1 : p10;
	in->prec = e <= 6 ? TSPREC_US : TSPREC_NS;
	return 0;
}

static int ng_idb(struct pcapin *in, const uint8_t *b, uint32_t len, uint64_t off,
		  struct errbuf *err)
{
	if (len < PCAPNG_IDB_MIN)
		return err_set(err, EPROTO,
			       "block at offset %" PRIu64 ": interface description block of %" PRIu32
			       " bytes is shorter than %u",
			       off, len, PCAPNG_IDB_MIN);
	uint32_t linktype = ld16(in, b + 8);
	uint32_t snaplen = ld32(in, b + 12);

	in->total_ifs++;
	if (in->total_ifs > 1)
		return err_set(err, EPROTO,
			       "pcapng file declares %" PRIu32 " interfaces; pcapfs imports one "
			       "interface per file (interface description block at offset %" PRIu64
			       ", link type %" PRIu32 "%s)",
			       in->total_ifs, off, linktype,
			       linktype != in->linktype ? ", differing from the first one" : "");

	bool seen_resol = false, seen_offset = false;
	int r = ng_tsresol(in, 6, err);
	if (r < 0)
		return r;
	in->ts_off_s = 0;

	const uint8_t *o = b + 16, *oend = b + len - 4;
	while (oend - o >= 4) {
		uint16_t code = ld16(in, o), olen = ld16(in, o + 2);
		size_t padded = ((size_t)olen + 3) & ~(size_t)3;
		if (code == 0) /* opt_endofopt */
			break;
		if (padded > (size_t)(oend - o) - 4)
			return err_set(err, EPROTO,
				       "block at offset %" PRIu64 ": interface option %u of length %u "
				       "overruns the block",
				       off, code, olen);
		if (code == PCAPNG_OPT_TSRESOL || code == PCAPNG_OPT_TSOFFSET) {
			bool resol = code == PCAPNG_OPT_TSRESOL;
			if (resol ? seen_resol : seen_offset)
				return err_set(err, EPROTO,
					       "block at offset %" PRIu64 ": more than one %s option", off,
					       resol ? "if_tsresol" : "if_tsoffset");
			if (olen != (resol ? 1 : 8))
				return err_set(err, EPROTO,
					       "block at offset %" PRIu64 ": %s option of length %u (expected %u)",
					       off, resol ? "if_tsresol" : "if_tsoffset", olen, resol ? 1 : 8);
			if (resol) {
				seen_resol = true;
				r = ng_tsresol(in, o[4], err);
				if (r < 0)
					return err_prefix(err, -r, "block at offset %" PRIu64 ": ", off);
			} else {
				seen_offset = true;
				/* A 64-bit value in the section's byte order. */
				uint64_t w0 = ld32(in, o + 4), w1 = ld32(in, o + 8);
				in->ts_off_s = (int64_t)(in->be ? w0 << 32 | w1 : w1 << 32 | w0);
			}
		}
		o += 4 + padded;
	}

	in->linktype = linktype;
	in->snaplen = snaplen_limit(snaplen);
	in->section_ifs++;
	return 0;
}

static int ng_packet(struct pcapin *in, uint32_t type, const uint8_t *b, uint32_t len,
		     uint64_t off, struct pcap_rec *ret, struct errbuf *err)
{
	uint64_t num = in->npackets + 1;

	if (type == PCAPNG_BT_SPB)
		return err_set(err, EPROTO,
			       "packet %" PRIu64 " at offset %" PRIu64
			       ": simple packet block (it has no timestamp, so pcapfs cannot place it)",
			       num, off);
	if (len < PCAPNG_PKT_MIN)
		return err_set(err, EPROTO,
			       "packet %" PRIu64 " at offset %" PRIu64 ": packet block of %" PRIu32
			       " bytes is shorter than %u",
			       num, off, len, PCAPNG_PKT_MIN);

	uint32_t ifid = type == PCAPNG_BT_EPB ? ld32(in, b + 8) : ld16(in, b + 8);
	if (ifid >= in->section_ifs)
		return err_set(err, EPROTO,
			       "packet %" PRIu64 " at offset %" PRIu64 ": interface %" PRIu32
			       " is not declared (%s)",
			       num, off, ifid,
			       in->section_ifs == 0 ? "no interface description block precedes it"
						    : "the section declares one interface");

	uint64_t units = (uint64_t)ld32(in, b + 12) << 32 | ld32(in, b + 16);
	uint32_t caplen = ld32(in, b + 20), wirelen = ld32(in, b + 24);
	int r = check_lengths(caplen, wirelen, in->snaplen, in->snaplen, "interface", err);
	if (r < 0)
		return err_prefix(err, -r, "packet %" PRIu64 " at offset %" PRIu64 ": ", num, off);
	if (caplen > len - PCAPNG_PKT_MIN)
		return err_set(err, EPROTO,
			       "packet %" PRIu64 " at offset %" PRIu64 ": caplen %" PRIu32
			       " does not fit in its block of %" PRIu32 " bytes",
			       num, off, caplen, len);

	int128 ns = (int128)units * in->ts_mul;
	if (in->ts_div != 1)
		ns /= in->ts_div;
	ns += (int128)in->ts_off_s * NS_PER_SEC;
	if (ns < 0 || ns >= TS_END_NS)
		return err_set(err, EPROTO,
			       "packet %" PRIu64 " at offset %" PRIu64
			       ": timestamp outside 1970..2106 (%" PRIu64 " units, if_tsoffset %" PRId64 " s)",
			       num, off, units, in->ts_off_s);

	*ret = (struct pcap_rec){
		.ts_ns = (int64_t)ns,
		.caplen = caplen,
		.len = wirelen,
		.data = b + 28,
		.offset = off,
		.index = in->npackets++,
	};
	return 1;
}

/* Interpret and consume the loaded block. Returns 1 with ret filled for a packet, 0 for
 * any other block, or a negative errno. */
static int ng_block(struct pcapin *in, uint32_t type, uint32_t len, struct pcap_rec *ret,
		    struct errbuf *err)
{
	const uint8_t *b = in->p + in->start;
	uint64_t off = in_pos(in);
	int r = 0;

	switch (type) {
	case PCAPNG_BT_SHB:
		r = ng_shb(in, b, len, off, err);
		break;
	case PCAPNG_BT_IDB:
		r = ng_idb(in, b, len, off, err);
		break;
	case PCAPNG_BT_EPB:
	case PCAPNG_BT_OPB:
	case PCAPNG_BT_SPB:
		r = ng_packet(in, type, b, len, off, ret, err);
		break;
	default: /* statistics, name resolution, custom, ...: not needed to import */
		break;
	}
	if (r >= 0)
		in->start += len;
	return r;
}

/* Read the first SHB and every block up to the first IDB, so that the link type, snaplen
 * and precision are known when open returns. A packet block is left for pcapin_next(). */
static int ng_read_header(struct pcapin *in, struct errbuf *err)
{
	struct pcap_rec unused;

	in->format = PCAPIN_PCAPNG;
	in->snaplen = PCAP_MAX_CAPLEN;
	int r = ng_tsresol(in, 6, err);
	if (r < 0)
		return r;
	for (;;) {
		uint32_t type, len;
		r = ng_load(in, &type, &len, err);
		if (r <= 0)
			return r;
		if (is_packet_block(type))
			return 0;
		r = ng_block(in, type, len, &unused, err);
		if (r < 0)
			return r;
		if (type == PCAPNG_BT_IDB)
			return 0;
	}
}

static int ng_next(struct pcapin *in, struct pcap_rec *ret, struct errbuf *err)
{
	for (;;) {
		uint32_t type, len;
		int r = ng_load(in, &type, &len, err);
		if (r <= 0)
			return r;
		r = ng_block(in, type, len, ret, err);
		if (r != 0)
			return r;
	}
}

/* ---- opening and the public reader interface ---- */

static int in_read_header(struct pcapin *in, struct errbuf *err)
{
	ssize_t avail = in_need(in, 4, err);
	if (avail < 0)
		return (int)avail;
	if (avail == 0)
		return err_set(err, EPROTO, "empty file (not a pcap or pcapng file)");
	if (avail < 4)
		return err_set(err, EPROTO, "not a pcap or pcapng file (only %zd bytes)", avail);

	const uint8_t *h = in->p + in->start;
	uint32_t m = be32(h);
	if (m == PCAPNG_BT_SHB)
		return ng_read_header(in, err);
	if (le32(h) == PCAP_MAGIC_US || le32(h) == PCAP_MAGIC_NS)
		return pcap_read_header(in, le32(h), err);
	if (m == PCAP_MAGIC_US || m == PCAP_MAGIC_NS)
		return pcap_read_header(in, m, err);
	return err_set(err, EPROTO, "not a pcap or pcapng file (magic 0x%08" PRIx32 "%s)", m,
		       (m >> 16) == 0x1f8b ? ", gzip-compressed: decompress it first" : "");
}

void pcapin_close(struct pcapin *in)
{
	if (!in)
		return;
	if (in->close_fd)
		close(in->fd);
	free(in->buf);
	free(in);
}

static void pcapin_closep(struct pcapin **in)
{
	pcapin_close(*in);
}

int pcapin_open(const char *path, struct pcapin **ret, struct errbuf *err)
{
	_cleanup_(pcapin_closep) struct pcapin *in = calloc(1, sizeof(*in));
	if (!in)
		return err_set(err, ENOMEM, "out of memory");
	in->fd = -1;

	if (strcmp(path, "-") == 0) {
		in->fd = STDIN_FILENO;
	} else {
		in->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (in->fd < 0) {
			int e = errno;
			return err_set(err, e, "cannot open %s: %s", path, strerror(e));
		}
		in->close_fd = true;
	}

	struct stat st;
	if (fstat(in->fd, &st) < 0) {
		int e = errno;
		return err_set(err, e, "cannot stat %s: %s", path, strerror(e));
	}
	if (S_ISDIR(st.st_mode))
		return err_set(err, EISDIR, "%s is a directory", path);
	if (S_ISREG(st.st_mode)) {
		/* Standard input may be a file already partly read: start counting where it
		 * stands, so that offsets in messages and records (which pcapin_record_fd()
		 * users pread from) are true file offsets. */
		off_t cur = lseek(in->fd, 0, SEEK_CUR);
		in->base = cur > 0 ? (uint64_t)cur : 0;
		in->size = (uint64_t)st.st_size;
		/* Doubles the kernel's readahead window; the file is read once, front to back. */
		(void)posix_fadvise(in->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}

	in->cap = PCAPIN_BUFSIZE;
	in->buf = malloc(in->cap);
	if (!in->buf)
		return err_set(err, ENOMEM, "cannot allocate a read buffer of %zu bytes", in->cap);
	in->p = in->buf;

	int r = in_read_header(in, err);
	if (r < 0)
		return r;
	*ret = in;
	in = NULL;
	return 0;
}

int pcapin_open_mem(const void *buf, size_t len, struct pcapin **ret, struct errbuf *err)
{
	_cleanup_(pcapin_closep) struct pcapin *in = calloc(1, sizeof(*in));
	if (!in)
		return err_set(err, ENOMEM, "out of memory");
	in->fd = -1;
	in->eof = true;
	in->p = buf;
	in->end = len;
	in->size = len;

	int r = in_read_header(in, err);
	if (r < 0)
		return r;
	*ret = in;
	in = NULL;
	return 0;
}

int pcapin_next(struct pcapin *in, struct pcap_rec *ret, struct errbuf *err)
{
	struct errbuf local;
	int r;

	if (_unlikely_(in->failed < 0)) {
		if (err)
			*err = in->failmsg;
		return in->failed;
	}
	/* Messages go to a local buffer too, so that the sticky copy exists even when the
	 * caller passes no errbuf; the copy costs nothing on the success path. */
	if (in->format == PCAPIN_PCAP)
		r = pcap_next_rec(in, ret, &local);
	else
		r = ng_next(in, ret, &local);
	if (_unlikely_(r < 0)) {
		in->failed = r;
		in->failmsg = local;
		if (err)
			*err = local;
	}
	return r;
}

enum pcapin_format pcapin_format(const struct pcapin *in)
{
	return in->format;
}

uint32_t pcapin_linktype(const struct pcapin *in)
{
	return in->linktype;
}

uint32_t pcapin_snaplen(const struct pcapin *in)
{
	return in->snaplen;
}

enum tsprec pcapin_tsprec(const struct pcapin *in)
{
	return in->prec;
}

uint64_t pcapin_pos(const struct pcapin *in)
{
	return in_pos(in);
}

uint64_t pcapin_size(const struct pcapin *in)
{
	return in->size;
}

int pcapin_record_fd(const struct pcapin *in, enum tsprec prec)
{
	/* size is only known for regular files; stdin pipes and memory inputs have none. */
	if (in->fd < 0 || in->size == 0 || in->format != PCAPIN_PCAP || in->be || in->prec != prec)
		return -1;
	return in->fd;
}

/* ---- writing and re-reading pcapfs's own little-endian classic pcap ---- */

void pcap_put_global_header(uint8_t out[PCAP_GLOBAL_HDR_LEN], enum tsprec prec, uint32_t snaplen,
			    uint32_t linktype)
{
	put_le32(out, prec == TSPREC_NS ? PCAP_MAGIC_NS : PCAP_MAGIC_US);
	put_le16(out + 4, 2);
	put_le16(out + 6, 4);
	put_le32(out + 8, 0);  /* thiszone: timestamps are UTC */
	put_le32(out + 12, 0); /* sigfigs */
	put_le32(out + 16, snaplen);
	put_le32(out + 20, linktype);
}

void pcap_put_rec_header(uint8_t out[PCAP_REC_HDR_LEN], enum tsprec prec, int64_t ts_ns,
			 uint32_t caplen, uint32_t len)
{
	/* Floor division keeps the fraction in range; the seconds of times outside
	 * 1970..2106 wrap, which callers avoid (the reader rejects such timestamps). */
	int64_t sec = ts_ns / NS_PER_SEC, frac = ts_ns % NS_PER_SEC;
	if (frac < 0) {
		frac += NS_PER_SEC;
		sec--;
	}
	put_le32(out, (uint32_t)sec);
	put_le32(out + 4, (uint32_t)(prec == TSPREC_NS ? frac : frac / NS_PER_US));
	put_le32(out + 8, caplen);
	put_le32(out + 12, len);
}

int pcap_parse_global_header(const uint8_t *buf, size_t len, struct pcap_ghdr *ret,
			     struct errbuf *err)
{
	if (len < PCAP_GLOBAL_HDR_LEN)
		return err_set(err, EPROTO, "truncated pcap header (%zu of %u bytes)", len,
			       PCAP_GLOBAL_HDR_LEN);
	uint32_t magic = le32(buf);
	if (magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS) {
		uint32_t m = be32(buf);
		if (m == PCAP_MAGIC_US || m == PCAP_MAGIC_NS)
			return err_set(err, EPROTO,
				       "big-endian pcap header (magic 0x%08" PRIx32 " read little-endian); "
				       "pcapfs segments are always little-endian",
				       magic);
		if (m == PCAPNG_BT_SHB)
			return err_set(err, EPROTO, "pcapng file, not a pcapfs segment (classic pcap)");
		return err_set(err, EPROTO, "not a pcap file (magic 0x%08" PRIx32 ")", magic);
	}
	uint16_t major = le16(buf + 4), minor = le16(buf + 6);
	if (major != 2 || minor != 4)
		return err_set(err, EPROTO, "unsupported pcap version %u.%u (expected 2.4)", major,
			       minor);
	*ret = (struct pcap_ghdr){
		.prec = magic == PCAP_MAGIC_NS ? TSPREC_NS : TSPREC_US,
		.snaplen = le32(buf + 16),
		.linktype = le32(buf + 20),
	};
	return 0;
}

int pcap_parse_rec_header(const uint8_t buf[PCAP_REC_HDR_LEN], enum tsprec prec, uint32_t snaplen,
			  int64_t *ret_ts_ns, uint32_t *ret_caplen, uint32_t *ret_len,
			  struct errbuf *err)
{
	uint32_t sec = le32(buf), frac = le32(buf + 4), caplen = le32(buf + 8), len = le32(buf + 12);
	int r = check_lengths(caplen, len, snaplen_limit(snaplen), snaplen, "file", err);
	if (r < 0)
		return r;
	r = check_frac(frac, prec, err);
	if (r < 0)
		return r;
	*ret_ts_ns = ts_from_pcap(sec, frac, prec);
	*ret_caplen = caplen;
	*ret_len = len;
	return 0;
}

/* pcapio.h — reading capture files (classic pcap in both byte orders and both precisions,
 * and pcapng) and writing classic pcap headers.
 *
 * Every byte of an input file is hostile: the reader checks every length against the file's
 * own limits and against PCAP_MAX_CAPLEN before using it, and reports precisely what is
 * wrong and where ("packet 1234 at offset 567890: caplen 70000 exceeds the file's snaplen
 * 65535"). Input is read through one large buffer (no mmap: a file truncated under us must
 * give an error, not SIGBUS); a returned record's data pointer stays valid until the next
 * call. Memory use is bounded and independent of the file size. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

#define PCAP_MAX_CAPLEN 262144u	     /* the largest record accepted, as in libpcap */
#define PCAP_GLOBAL_HDR_LEN 24u
#define PCAP_REC_HDR_LEN 16u
#define PCAPNG_MAX_BLOCK (16u << 20) /* the largest pcapng block accepted */

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du

enum tsprec {
	TSPREC_US = 0, /* classic pcap, microseconds */
	TSPREC_NS = 1, /* classic pcap, nanoseconds */
};

enum pcapin_format {
	PCAPIN_PCAP = 0,
	PCAPIN_PCAPNG = 1,
};

struct pcap_rec {
	int64_t ts_ns;	     /* nanoseconds since the epoch, UTC */
	uint32_t caplen;     /* bytes in data, 1..PCAP_MAX_CAPLEN */
	uint32_t len;	     /* original length on the wire, >= caplen */
	const uint8_t *data; /* caplen bytes, valid until the next pcapin_next() */
	uint64_t offset;     /* byte offset of the record (or block) in the input */
	uint64_t index;	     /* 0-based packet number in the input */
};

struct pcapin;

/* Open a file (or "-" for standard input) and read its header(s). Detects classic pcap
 * (0xa1b2c3d4 / 0xa1b23c4d in either byte order) and pcapng (0x0a0d0d0a). Errors:
 * -ENOENT etc. from open(2); -EPROTO for bad magic ("not a pcap or pcapng file"),
 * unsupported versions, truncated headers; -EPROTONOSUPPORT for unsupported link types is
 * NOT raised here (see classify_linktype_supported). */
int pcapin_open(const char *path, struct pcapin **ret, struct errbuf *err);
/* The same on a memory buffer (for fuzzing and tests); buf must outlive the reader. */
int pcapin_open_mem(const void *buf, size_t len, struct pcapin **ret, struct errbuf *err);
void pcapin_close(struct pcapin *in);

/* Read the next packet. Returns 1 and fills ret; 0 at a clean end of file; a negative errno
 * with a precise message otherwise:
 *   -EPROTO  truncated record or block, caplen > snaplen of the file, caplen > len,
 *            caplen > PCAP_MAX_CAPLEN, caplen == 0 or len == 0 ("zero-length packet"),
 *            microsecond/nanosecond field out of range, bad pcapng block length or trailer,
 *            a packet block naming an undeclared interface, a simple packet block (no
 *            timestamp), pcapng with more than one interface (IDB) in total ("pcapng file
 *            declares 2 interfaces; pcapfs imports one interface per file"), an IDB whose
 *            link type differs from the first one, pcapng blocks over PCAPNG_MAX_BLOCK;
 *   -EIO etc. read errors.
 * Timestamps going backwards are NOT an error here (the caller decides). Unknown pcapng
 * block types are skipped; enhanced (6) and obsolete packet blocks (2) carry packets;
 * if_tsresol (base 10 and base 2) and if_tsoffset are honoured. For pcapng the link type
 * and snaplen come from the first IDB and are valid after the first packet (or from open
 * if the IDB precedes the first packet, as it must). */
int pcapin_next(struct pcapin *in, struct pcap_rec *ret, struct errbuf *err);

enum pcapin_format pcapin_format(const struct pcapin *in);
uint32_t pcapin_linktype(const struct pcapin *in);
uint32_t pcapin_snaplen(const struct pcapin *in); /* 0 in pcapng means "no limit" -> PCAP_MAX_CAPLEN */
/* Precision of the input's timestamps: TSPREC_US for µs pcap, TSPREC_NS for ns pcap;
 * for pcapng, TSPREC_US if if_tsresol is 10^-6 or coarser, else TSPREC_NS. */
enum tsprec pcapin_tsprec(const struct pcapin *in);
/* Bytes consumed so far and total size (0 when unknown, e.g. a pipe), for progress. */
uint64_t pcapin_pos(const struct pcapin *in);
uint64_t pcapin_size(const struct pcapin *in);
/* The file descriptor of a regular-file input whose records are stored exactly as
 * pcap_put_rec_header() writes them at precision prec (little-endian classic pcap of that
 * precision), so that a record's bytes [rec.offset, rec.offset + 16 + caplen) may be copied
 * straight from the file; -1 otherwise. */
int pcapin_record_fd(const struct pcapin *in, enum tsprec prec);

/* Writing classic pcap (host = little-endian on the platforms we build for; we always write
 * little-endian explicitly). */
void pcap_put_global_header(uint8_t out[PCAP_GLOBAL_HDR_LEN], enum tsprec prec, uint32_t snaplen,
			    uint32_t linktype);
void pcap_put_rec_header(uint8_t out[PCAP_REC_HDR_LEN], enum tsprec prec, int64_t ts_ns,
			 uint32_t caplen, uint32_t len);

/* Parse the header of a classic pcap written by pcap_put_global_header (little-endian
 * only: segments are always ours). Returns 0 or -EPROTO with a message. */
struct pcap_ghdr {
	enum tsprec prec;
	uint32_t snaplen;
	uint32_t linktype;
};
int pcap_parse_global_header(const uint8_t *buf, size_t len, struct pcap_ghdr *ret,
			     struct errbuf *err);
/* Parse one little-endian record header; checks caplen (1..snaplen, <= len) and the
 * sub-second field range. Returns 0 or -EPROTO. */
int pcap_parse_rec_header(const uint8_t buf[PCAP_REC_HDR_LEN], enum tsprec prec, uint32_t snaplen,
			  int64_t *ret_ts_ns, uint32_t *ret_caplen, uint32_t *ret_len,
			  struct errbuf *err);

/* fuzz-pcapio.c — the capture file reader and the segment header parsers on hostile bytes.
 *
 * Each input is read as a capture file from memory until the end or the first error, and
 * its first bytes are parsed as a pcapfs segment's global and record headers. Every record
 * returned must keep the reader's promises (lengths in range, data inside the input,
 * numbering, offsets, sticky errors); a broken promise aborts.
 *
 * Built with -DFUZZ_PCAPIO_FD, the input is also read through a file descriptor (a memfd)
 * in lockstep with the memory reader and both must agree exactly; building pcapio.c with a
 * tiny -DPCAPIN_BUFSIZE then exercises the buffer refill and growth paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pcapio.h"

#define MAX_PACKETS 100000 /* each record takes >= 17 bytes: inputs never get near this */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "broken promise: %s\n", what);
		abort();
	}
}

static void fuzz_segment_headers(const uint8_t *data, size_t size)
{
	struct pcap_ghdr gh;
	struct errbuf err;
	int64_t ts;
	uint32_t caplen, len;

	if (pcap_parse_global_header(data, size, &gh, &err) == 0) {
		check(gh.prec == TSPREC_US || gh.prec == TSPREC_NS, "global header precision");
		if (size >= PCAP_GLOBAL_HDR_LEN + PCAP_REC_HDR_LEN &&
		    pcap_parse_rec_header(data + PCAP_GLOBAL_HDR_LEN, gh.prec, gh.snaplen, &ts, &caplen,
					  &len, &err) == 0)
			check(caplen >= 1 && caplen <= PCAP_MAX_CAPLEN && caplen <= len && ts >= 0,
			      "segment record header");
	} else {
		check(err.msg[0] != 0, "global header error message");
	}
	if (size >= PCAP_REC_HDR_LEN)
		for (int prec = TSPREC_US; prec <= TSPREC_NS; prec++) {
			int r = pcap_parse_rec_header(data, prec, size > 16 ? data[16] : 0, &ts, &caplen,
						      &len, &err);
			check(r == 0 || (r == -EPROTO && err.msg[0]), "record header result");
		}
}

#ifdef FUZZ_PCAPIO_FD
static struct pcapin *open_fd_twin(const uint8_t *data, size_t size, int *ret_r,
				   struct errbuf *err)
{
	struct pcapin *in = NULL;
	char path[64];
	int fd = memfd_create("fuzz-pcapio", MFD_CLOEXEC);

	check(fd >= 0 && write_full(fd, data, size) == 0, "memfd");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	*ret_r = pcapin_open(path, &in, err);
	close(fd);
	return in;
}

static bool same_rec(const struct pcap_rec *a, const struct pcap_rec *b)
{
	return a->ts_ns == b->ts_ns && a->caplen == b->caplen && a->len == b->len &&
	       a->offset == b->offset && a->index == b->index &&
	       memcmp(a->data, b->data, a->caplen) == 0;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcapin *in = NULL;
	struct errbuf err = { "" };
	struct pcap_rec rec;
	int r;

	fuzz_segment_headers(data, size);

	r = pcapin_open_mem(data, size, &in, &err);
#ifdef FUZZ_PCAPIO_FD
	struct errbuf err2 = { "" };
	struct pcap_rec rec2;
	int r2;
	struct pcapin *in2 = open_fd_twin(data, size, &r2, &err2);
	check(r == r2 && strcmp(err.msg, err2.msg) == 0, "fd and memory open agree");
#endif
	if (r < 0) {
		check(r == -EPROTO && err.msg[0], "open error");
		return 0;
	}
	check(pcapin_size(in) == size && pcapin_pos(in) <= size, "open position");
	check(pcapin_snaplen(in) >= 1 && pcapin_snaplen(in) <= PCAP_MAX_CAPLEN, "snaplen");

	uint64_t n = 0, last_off = 0;
	while (n < MAX_PACKETS) {
		r = pcapin_next(in, &rec, &err);
#ifdef FUZZ_PCAPIO_FD
		r2 = pcapin_next(in2, &rec2, &err2);
		check(r == r2, "fd and memory reads agree");
		check(r != 1 || same_rec(&rec, &rec2), "fd and memory records agree");
		check(r >= 0 || strcmp(err.msg, err2.msg) == 0, "fd and memory errors agree");
		check(pcapin_pos(in) == pcapin_pos(in2), "fd and memory positions agree");
#endif
		if (r <= 0)
			break;
		check(rec.caplen >= 1 && rec.caplen <= PCAP_MAX_CAPLEN, "caplen range");
		check(rec.caplen <= rec.len && rec.caplen <= pcapin_snaplen(in), "caplen limits");
		check(rec.data >= data && rec.data + rec.caplen <= data + size, "data inside input");
		check(rec.index == n && (n == 0 || rec.offset > last_off), "numbering");
		check(rec.offset < pcapin_pos(in) && pcapin_pos(in) <= size, "offsets");
		check(rec.ts_ns >= 0, "timestamp");
		last_off = rec.offset;
		n++;
	}
	if (r < 0) {
		struct errbuf again;
		check(r == -EPROTO && err.msg[0], "read error");
		check(pcapin_next(in, &rec, &again) == r && strcmp(again.msg, err.msg) == 0,
		      "sticky error");
	} else if (r == 0) {
		check(pcapin_pos(in) == size, "clean end consumes everything");
		check(pcapin_next(in, &rec, &err) == 0, "end stays");
	}
	pcapin_close(in);
#ifdef FUZZ_PCAPIO_FD
	pcapin_close(in2);
#endif
	return 0;
}

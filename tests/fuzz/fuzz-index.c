/* fuzz-index.c — index files are on-disk bytes, hence hostile: open, walk every run and
 * collect a device's entries from arbitrary bytes. The first 4 bytes give the size of the
 * segment the index is checked against; the rest is the index file. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "index.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_run(size_t chunk, uint32_t d, const struct index_entry *e, size_t n, void *u)
{
	for (size_t i = 0; i < n; i++)
		*(uint64_t *)u += e[i].len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	uint32_t seg_size = le32(data) & 0xffffff;
	int idx = memfd_create("idx", MFD_CLOEXEC), seg = memfd_create("seg", MFD_CLOEXEC);
	if (idx < 0 || seg < 0)
		abort();
	if (write_full(idx, data + 4, size - 4) < 0 || ftruncate(seg, seg_size) < 0)
		abort();
	struct index_reader *r;
	struct errbuf err;
	/* The segment id the header names, when there is one: the rest of the file is reached. */
	uint64_t id = size >= 4 + 24 ? le64(data + 4 + 16) : 0;
	if (index_reader_open(idx, seg, id, &r, &err) == 0) {
		uint64_t bytes = 0;
		(void)index_reader_foreach_run(r, count_run, &bytes, &err);
		struct index_entry *v = NULL;
		size_t n = 0, cap = 0;
		(void)index_reader_collect(r, 1, INT64_MIN, INT64_MAX, &v, &n, &cap, 1u << 20, &err);
		for (size_t i = 0; i < n; i++)
			if ((uint64_t)v[i].offset + v[i].len > index_reader_seg_size(r))
				abort(); /* an entry past the segment must never be returned */
		free(v);
		/* A whole segment is told only from checked parts, and stays inside the segment. */
		struct index_whole w;
		if (index_reader_whole(r, 1, INT64_MIN, INT64_MAX, &w, &err) == 1 &&
		    (w.seg_start + w.len > index_reader_seg_size(r) || w.packets == 0))
			abort();
		if (index_reader_chunks(r) > 0 && index_reader_covered(r) == index_reader_seg_size(r)) {
			int out = memfd_create("out", MFD_CLOEXEC);
			if (out >= 0) {
				(void)index_write_sealed(r, 1, index_reader_seg_size(r), out, &err);
				close(out);
			}
		}
		index_reader_free(r);
	}
	close(idx);
	close(seg);
	return 0;
}

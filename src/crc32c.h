/* crc32c.h — CRC-32C (Castagnoli), the checksum of index files. Uses the SSE4.2 instruction
 * when the CPU has it (about 8 bytes per cycle), a slicing-by-8 table otherwise; both give
 * identical results. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: crc32c(0, buf, len) checksums one buffer; feeding the result back in
 * checksums the concatenation. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

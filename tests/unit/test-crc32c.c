/* Unit tests of crc32c.c: known vectors, and the table and instruction paths agree on
 * every length and alignment (the instruction path is used when the CPU has SSE4.2). */
#include "crc32c.h"
#include "tests.h"

int main(void)
{
	/* RFC 3720 B.4 and the common check value. */
	CHECK_INT(crc32c(0, "123456789", 9), 0xe3069283u);
	uint8_t zeros[32] = {0}, ones[32];
	memset(ones, 0xff, sizeof(ones));
	CHECK_INT(crc32c(0, zeros, 32), 0x8a9136aau);
	CHECK_INT(crc32c(0, ones, 32), 0x62a8ab43u);
	CHECK_INT(crc32c(0, "", 0), 0);

	/* Incremental == one shot, at every split point and alignment. */
	uint8_t buf[300];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	for (size_t off = 0; off < 8; off++)
		for (size_t split = 0; split <= 100; split += 7) {
			uint32_t whole = crc32c(0, buf + off, 200);
			uint32_t part = crc32c(crc32c(0, buf + off, split), buf + off + split, 200 - split);
			CHECK_INT(part, whole);
		}
	TESTS_DONE();
}

/* Unit tests of units.c: the size and duration grammar, its exact arithmetic and its limits. */
#include <errno.h>

#include "tests.h"
#include "units.h"
#include "util.h"

static int64_t dur(const char *s, int64_t unit)
{
	int64_t v = -12345;
	int e = units_parse_duration(s, unit, &v);
	return e < 0 ? e : v;
}

static long long size_of(const char *s)
{
	uint64_t v = 12345;
	int e = units_parse_size(s, &v);
	return e < 0 ? e : (long long)v;
}

int main(void)
{
	/* Sizes. */
	CHECK_INT(size_of("0"), 0);
	CHECK_INT(size_of("4096"), 4096);
	CHECK_INT(size_of("512B"), 512);
	CHECK_INT(size_of("64M"), 64ll << 20);
	CHECK_INT(size_of("64m"), 64ll << 20);
	CHECK_INT(size_of("64MiB"), 64ll << 20);
	CHECK_INT(size_of("64MB"), 64ll << 20);
	CHECK_INT(size_of("1k"), 1024);
	CHECK_INT(size_of("1KIB"), 1024);
	CHECK_INT(size_of("1kib"), 1024);
	CHECK_INT(size_of("2G"), 2ll << 30);
	CHECK_INT(size_of("3T"), 3ll << 40);
	uint64_t big = 0;
	CHECK_INT(units_parse_size("18446744073709551615", &big), 0);
	CHECK(big == UINT64_MAX);
	CHECK_INT(units_parse_size("16777215T", &big), 0);
	CHECK(big == UINT64_C(16777215) << 40);
	CHECK_INT(size_of("16777216T"), -ERANGE);
	CHECK_INT(size_of("18446744073709551616"), -ERANGE);
	CHECK_INT(size_of("99999999999999999999999999999"), -ERANGE);
	const char *bad_sizes[] = {"", "-1", "+1", " 1", "1 ", "1.5M", "M", "1X", "1iB", "1MiBB",
				   "1Mi B", "0x10", "1e3", "nan", "inf", "1P", "1KK", NULL};
	for (size_t i = 0; bad_sizes[i]; i++) {
		uint64_t v = 777;
		if (units_parse_size(bad_sizes[i], &v) != -EINVAL || v != 777) {
			fprintf(stderr, "size \"%s\" accepted or changed the result\n", bad_sizes[i]);
			tests_failed++;
		}
	}

	/* Durations: the units, the default unit, fractions computed exactly. */
	CHECK_INT(dur("0", NS_PER_SEC), 0);
	CHECK_INT(dur("30", NS_PER_SEC), 30 * NS_PER_SEC);
	CHECK_INT(dur("30", 86400 * NS_PER_SEC), 30 * 86400 * NS_PER_SEC);
	CHECK_INT(dur("500ms", NS_PER_SEC), 500 * 1000 * 1000);
	CHECK_INT(dur("10s", 86400 * NS_PER_SEC), 10 * NS_PER_SEC);
	CHECK_INT(dur("5m", NS_PER_SEC), 300 * NS_PER_SEC);
	CHECK_INT(dur("5min", NS_PER_SEC), 300 * NS_PER_SEC);
	CHECK_INT(dur("2h", NS_PER_SEC), 7200 * NS_PER_SEC);
	CHECK_INT(dur("7d", NS_PER_SEC), 7 * 86400 * NS_PER_SEC);
	CHECK_INT(dur("1.5h", NS_PER_SEC), 5400 * NS_PER_SEC);
	CHECK_INT(dur("0.1", NS_PER_SEC), 100 * 1000 * 1000);
	CHECK_INT(dur("0.000000001", NS_PER_SEC), 1);
	CHECK_INT(dur("0.0000000019", NS_PER_SEC), 1); /* below a nanosecond: truncated */
	CHECK_INT(dur("1.0000000000000000000000009", NS_PER_SEC), NS_PER_SEC);
	CHECK_INT(dur("0.5", 86400 * NS_PER_SEC), 43200 * NS_PER_SEC);
	CHECK_INT(dur("0.333333333333333333d", NS_PER_SEC), 28799999999999);
	/* The largest duration that fits, and one nanosecond more. */
	CHECK_INT(dur("9223372036854775807", 1), INT64_MAX);
	CHECK_INT(dur("9223372036854775808", 1), -ERANGE);
	CHECK_INT(dur("9223372036.854775807s", NS_PER_SEC), INT64_MAX);
	CHECK_INT(dur("9223372036.854775808s", NS_PER_SEC), -ERANGE);
	CHECK_INT(dur("106752d", NS_PER_SEC), -ERANGE);
	CHECK_INT(dur("106751d", NS_PER_SEC), INT64_C(106751) * 86400 * NS_PER_SEC);
	CHECK_INT(dur("99999999999999999999999d", NS_PER_SEC), -ERANGE);
	const char *bad_durations[] = {"", "-1", "+1", " 1", "1 ", ".5", "5.", "5.s", "1..2", "1e3",
				       "0x10", "nan", "inf", "infinity", "1.5.5", "1w", "1 s", "1S",
				       "1hh", "1mins", "ms", "1,5", NULL};
	for (size_t i = 0; bad_durations[i]; i++) {
		int64_t v = 777;
		if (units_parse_duration(bad_durations[i], NS_PER_SEC, &v) != -EINVAL || v != 777) {
			fprintf(stderr, "duration \"%s\" accepted or changed the result\n", bad_durations[i]);
			tests_failed++;
		}
	}
	CHECK_INT(dur("1", 0), -EINVAL); /* a default unit is required */

	/* Text longer than UNITS_TEXT_MAX is refused without being read through. */
	char longtext[UNITS_TEXT_MAX + 2];
	memset(longtext, '0', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = 0;
	CHECK_INT(dur(longtext, NS_PER_SEC), -EINVAL);
	CHECK_INT(size_of(longtext), -EINVAL);
	longtext[UNITS_TEXT_MAX] = 0; /* exactly the maximum: zeros are zero */
	CHECK_INT(dur(longtext, NS_PER_SEC), 0);
	CHECK_INT(size_of(longtext), 0);
	TESTS_DONE();
}

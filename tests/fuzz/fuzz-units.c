/* fuzz-units.c — units_parse_size() and units_parse_duration() on hostile text.
 *
 * Beyond not crashing (and no undefined arithmetic under UBSan), every accepted input is
 * checked: the value printed in plain digits parses back to itself, the same text with an
 * explicit unit of the default gives the same value, and text beyond UNITS_TEXT_MAX is
 * refused. Any violation abort()s so that libFuzzer reports it. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *input)
{
	fprintf(stderr, "fuzz-units: %s (input \"%s\")\n", what, input);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[2 * UNITS_TEXT_MAX + 8], again[64];
	if (size > 2 * UNITS_TEXT_MAX)
		size = 2 * UNITS_TEXT_MAX;
	memcpy(s, data, size);
	s[size] = 0;
	bool too_long = strlen(s) > UNITS_TEXT_MAX;

	uint64_t v, w;
	int e = units_parse_size(s, &v);
	if (e == 0) {
		if (too_long)
			fail("size: over-long text accepted", s);
		snprintf(again, sizeof(again), "%" PRIu64, v);
		if (units_parse_size(again, &w) != 0 || w != v)
			fail("size: the value in digits does not parse back", s);
	} else if (e != -EINVAL && e != -ERANGE) {
		fail("size: unexpected error", s);
	}

	static const struct {
		int64_t ns;
		const char *name;
	} units[] = {{1, NULL}, {NS_PER_SEC / 1000, "ms"}, {NS_PER_SEC, "s"}, {86400 * NS_PER_SEC, "d"}};
	for (size_t i = 0; i < ELEMENTSOF(units); i++) {
		int64_t d, d2;
		e = units_parse_duration(s, units[i].ns, &d);
		if (e == 0) {
			if (too_long)
				fail("duration: over-long text accepted", s);
			if (d < 0)
				fail("duration: negative result", s);
			snprintf(again, sizeof(again), "%" PRId64, d);
			if (units_parse_duration(again, 1, &d2) != 0 || d2 != d)
				fail("duration: the value in digits does not parse back", s);
			/* Text without a unit of its own means the default; spelled out, the same. */
			size_t n = strlen(s);
			if (units[i].name && n > 0 && s[n - 1] >= '0' && s[n - 1] <= '9' &&
			    n + strlen(units[i].name) <= UNITS_TEXT_MAX) {
				char with[UNITS_TEXT_MAX + 1];
				size_t u = strlen(units[i].name);
				memcpy(with, s, n);
				memcpy(with + n, units[i].name, u + 1);
				if (units_parse_duration(with, 7, &d2) != 0 || d2 != d)
					fail("duration: the default unit spelled out gives another value", s);
			}
		} else if (e != -EINVAL && e != -ERANGE) {
			fail("duration: unexpected error", s);
		}
	}
	return 0;
}

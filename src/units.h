/* units.h — sizes and durations as people write them on command lines and in mount options.
 * One grammar for every program of pcapfs; exact integer arithmetic, no locale, no
 * whitespace, no sign, no exponents.
 *
 *   size      DIGITS [K|M|G|T [i]] [B]      binary multiples, letters in either case:
 *                                           "4096", "64M", "64MiB", "1G", "512B"
 *   duration  DIGITS [. DIGITS] [UNIT]      UNIT: ms, s, m or min, h, d; without one the
 *                                           caller's default unit: "500ms", "1.5h", "30"
 *
 * Both return 0; -ERANGE as soon as the digits make a value that does not fit (a size above
 * UINT64_MAX bytes, a duration above INT64_MAX nanoseconds, ~292 years), whatever follows;
 * otherwise -EINVAL for text outside the grammar.
 * Digits beyond the eighteenth of a fraction are read and ignored (below a nanosecond). */
#pragma once

#include <stdint.h>

#define UNITS_TEXT_MAX 64 /* longer text is refused (-EINVAL) before it is read */

int units_parse_size(const char *s, uint64_t *ret);
int units_parse_duration(const char *s, int64_t default_unit_ns, int64_t *ret);

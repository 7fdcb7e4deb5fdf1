/* units.c — see units.h. */
#include "units.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "util.h"

__extension__ typedef unsigned __int128 u128;

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Leading decimal digits of *p as an exact value, *p moved past them; -ERANGE beyond max. */
static int digits(const char **p, u128 max, u128 *ret)
{
	u128 v = 0;
	const char *s = *p;
	if (!is_digit(*s))
		return -EINVAL;
	for (; is_digit(*s); s++) {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return -ERANGE;
	}
	*p = s;
	*ret = v;
	return 0;
}

int units_parse_size(const char *s, uint64_t *ret)
{
	if (!s || strnlen(s, UNITS_TEXT_MAX + 1) > UNITS_TEXT_MAX)
		return -EINVAL;
	u128 v;
	int e = digits(&s, UINT64_MAX, &v);
	if (e < 0)
		return e;
	unsigned shift = 0;
	switch (*s) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	}
	if (shift) {
		s++;
		if (*s == 'i' || *s == 'I')
			s++;
	}
	if (*s == 'B' || *s == 'b')
		s++;
	if (*s)
		return -EINVAL;
	v <<= shift;
	if (v > UINT64_MAX)
		return -ERANGE;
	*ret = (uint64_t)v;
	return 0;
}

int units_parse_duration(const char *s, int64_t default_unit_ns, int64_t *ret)
{
	static const struct {
		const char *name;
		int64_t ns;
	} units[] = {
		{"ms", NS_PER_SEC / 1000}, {"s", NS_PER_SEC},	     {"m", 60 * NS_PER_SEC},
		{"min", 60 * NS_PER_SEC},  {"h", 3600 * NS_PER_SEC}, {"d", 86400 * NS_PER_SEC},
	};
	if (!s || default_unit_ns <= 0 || strnlen(s, UNITS_TEXT_MAX + 1) > UNITS_TEXT_MAX)
		return -EINVAL;
	u128 whole, frac = 0, scale = 1;
	int e = digits(&s, INT64_MAX, &whole);
	if (e < 0)
		return e;
	if (*s == '.') {
		s++;
		if (!is_digit(*s))
			return -EINVAL;
		for (unsigned n = 0; is_digit(*s); s++, n++)
			if (n < 18) {
				frac = frac * 10 + (unsigned)(*s - '0');
				scale *= 10;
			}
	}
	int64_t unit = default_unit_ns;
	if (*s) {
		size_t i = 0;
		while (i < ELEMENTSOF(units) && strcmp(s, units[i].name) != 0)
			i++;
		if (i == ELEMENTSOF(units))
			return -EINVAL;
		unit = units[i].ns;
	}
	u128 ns = whole * (u128)unit + frac * (u128)unit / scale;
	if (ns > INT64_MAX)
		return -ERANGE;
	*ret = (int64_t)ns;
	return 0;
}

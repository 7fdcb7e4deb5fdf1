/* window.c — the naming grammar of time windows: "<start>--<end>.pcap" (see window.h).
 *
 * Every lookup of the mount comes through window_parse(), including the names that file
 * managers probe on their own (desktop.ini, .DS_Store, "name.pcap~"), so the parser is a
 * single forward pass over at most WINDOW_NAME_MAX bytes: no allocation, no locale, no TZ,
 * no timegm(). Calendar arithmetic is done here with the proleptic Gregorian day count
 * (days_from_civil() and its inverse), exact for every year the grammar can spell.
 *
 * Error classes, which the mount turns into errnos for the kernel:
 *   -ENOENT        not in the grammar, including impossible calendar fields (2026-02-29,
 *                  hour 24, second 60): such a name does not denote any time at all;
 *   -EINVAL        a well-formed time outside [1970, 2200), or end <= start;
 *   -EFBIG         wider than the configured maximum;
 *   -ENAMETOOLONG  longer than WINDOW_NAME_MAX.
 * window_parse_time() is for the command line, where the distinction does not matter: it
 * reports every failure as -EINVAL. */
#include "window.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SEC_PER_DAY INT64_C(86400)
/* The range in whole seconds: a time is in range iff its second is, since the end is a
 * whole second. */
#define WINDOW_SEC_END (WINDOW_TIME_END_NS / NS_PER_SEC)

/* An epoch integer part of more than this many digits is certainly out of range
 * (WINDOW_SEC_END has 10); only this many are accumulated, so nothing can overflow. */
#define EPOCH_DIGITS_MAX 12
#define FRACTION_DIGITS_MAX 9

/* Messages quote at most this many bytes of a hostile name, each escaped to at most four
 * characters, so that a quoted name always fits err_prefix()'s 256-byte head. */
#define QUOTE_MAX 48
#define QUOTE_BUF (QUOTE_MAX * 4 + 8)

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Quote s for a message: printable ASCII as is (with '"' and '\' escaped), anything else as
 * \xNN, at most QUOTE_MAX bytes of s followed by "..." when longer. */
static const char *quote(const char *s, size_t len, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	buf[o++] = '"';
	for (size_t i = 0; i < len && i < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o++] = '"';
	if (len > QUOTE_MAX) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = 0;
	return buf;
}

/* Describe the byte at s[i] (or the end of the text) for "unexpected ..." messages. */
static const char *describe_at(const char *s, size_t len, size_t i, char buf[static 16])
{
	if (i >= len)
		return "end of text";
	unsigned char c = (unsigned char)s[i];
	if (c >= 0x21 && c < 0x7f && c != '\'')
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "byte 0x%02x", c);
	return buf;
}

static int unexpected(const char *s, size_t len, size_t i, const char *wanted,
		      struct errbuf *err)
{
	char what[16];
	return err_set(err, ENOENT, "%s at position %zu where %s was expected",
		       describe_at(s, len, i, what), i + 1, wanted);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil): the
 * year is shifted to start in March so that the leap day is the last day of its year, and
 * 400-year eras make the count exact for any year. m is 1..12, d 1..31. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);                  /* 0..399 */
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;      /* 0..146096 */
	return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse of days_from_civil(), for any day count an int64_t of nanoseconds reaches. */
static void civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);                          /* 0..146096 */
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
	unsigned mp = (5 * doy + 2) / 153;                                    /* 0..11 */
	unsigned m = mp < 10 ? mp + 3 : mp - 9;

	*ret_d = doy - (153 * mp + 2) / 5 + 1;
	*ret_m = m;
	*ret_y = (int64_t)yoe + era * 400 + (m <= 2);
}

static bool is_leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static const char *const month_names[12] = {
	"January", "February", "March",     "April",   "May",      "June",
	"July",    "August",   "September", "October", "November", "December",
};

/* Exactly n digits at s[*pos]; advances *pos. */
static int read_digits(const char *s, size_t len, size_t *pos, unsigned n, unsigned *ret,
		       struct errbuf *err)
{
	unsigned v = 0;
	for (unsigned k = 0; k < n; k++) {
		if (*pos >= len || !is_digit(s[*pos]))
			return unexpected(s, len, *pos, "a digit", err);
		v = v * 10 + (unsigned)(s[*pos] - '0');
		(*pos)++;
	}
	*ret = v;
	return 0;
}

static int expect_char(const char *s, size_t len, size_t *pos, char c1, char c2,
		       const char *wanted, struct errbuf *err)
{
	if (*pos >= len || (s[*pos] != c1 && s[*pos] != c2))
		return unexpected(s, len, *pos, wanted, err);
	(*pos)++;
	return 0;
}

/* An optional fraction at s[*pos]: '.' and 1..9 digits, as nanoseconds. */
static int read_fraction(const char *s, size_t len, size_t *pos, uint32_t *ret_nsec,
			 struct errbuf *err)
{
	uint32_t v = 0;
	unsigned n = 0;

	*ret_nsec = 0;
	if (*pos >= len || s[*pos] != '.')
		return 0;
	(*pos)++;
	while (*pos < len && is_digit(s[*pos])) {
		if (n == FRACTION_DIGITS_MAX)
			return err_set(err, ENOENT, "fraction of a second has more than %d digits",
				       FRACTION_DIGITS_MAX);
		v = v * 10 + (uint32_t)(s[*pos] - '0');
		n++;
		(*pos)++;
	}
	if (n == 0)
		return unexpected(s, len, *pos, "a digit after '.'", err);
	for (; n < FRACTION_DIGITS_MAX; n++)
		v *= 10;
	*ret_nsec = v;
	return 0;
}

struct civil {
	unsigned year, month, day, hour, minute, second;
};

/* Check the calendar fields and convert them to seconds since the epoch (any 4-digit year,
 * range checked by the caller). */
static int civil_to_sec(const struct civil *c, int64_t *ret_sec, struct errbuf *err)
{
	if (c->month < 1 || c->month > 12)
		return err_set(err, ENOENT, "month %02u is not 01..12", c->month);
	if (c->day < 1 || c->day > days_in_month(c->year, c->month))
		return err_set(err, ENOENT, "day %02u does not exist in %s %04u", c->day,
			       month_names[c->month - 1], c->year);
	if (c->hour > 23)
		return err_set(err, ENOENT, "hour %02u is not 00..23", c->hour);
	if (c->minute > 59)
		return err_set(err, ENOENT, "minute %02u is not 00..59", c->minute);
	if (c->second > 59)
		return err_set(err, ENOENT, "second %02u is not 00..59", c->second);
	*ret_sec = days_from_civil(c->year, c->month, c->day) * SEC_PER_DAY +
		   (int64_t)c->hour * 3600 + (int64_t)c->minute * 60 + c->second;
	return 0;
}

/* 20261122T101500Z, 20261122T101500.250Z: 8 digits and 'T' already seen. */
static int parse_basic(const char *s, size_t len, int64_t *ret_sec, uint32_t *ret_nsec,
		       struct errbuf *err)
{
	struct civil c = { 0 };
	unsigned ymd = 0;
	size_t pos = 0;
	int r;

	if ((r = read_digits(s, len, &pos, 8, &ymd, err)) < 0 ||
	    (r = expect_char(s, len, &pos, 'T', 'T', "'T'", err)) < 0 ||
	    (r = read_digits(s, len, &pos, 2, &c.hour, err)) < 0 ||
	    (r = read_digits(s, len, &pos, 2, &c.minute, err)) < 0 ||
	    (r = read_digits(s, len, &pos, 2, &c.second, err)) < 0 ||
	    (r = read_fraction(s, len, &pos, ret_nsec, err)) < 0 ||
	    (r = expect_char(s, len, &pos, 'Z', 'Z', "'Z'", err)) < 0)
		return r;
	if (pos != len)
		return unexpected(s, len, pos, "the end of the time", err);
	c.year = ymd / 10000;
	c.month = ymd / 100 % 100;
	c.day = ymd % 100;
	return civil_to_sec(&c, ret_sec, err);
}

/* 2026-11-22T10:15:00Z, 2026-11-22t10:15:00.25+01:00: 4 digits and '-' already seen. */
static int parse_extended(const char *s, size_t len, int64_t *ret_sec, uint32_t *ret_nsec,
			  struct errbuf *err)
{
	struct civil c = { 0 };
	unsigned off_h = 0, off_m = 0;
	int64_t sec;
	size_t pos = 0;
	char sign = 0;
	int r;

	if ((r = read_digits(s, len, &pos, 4, &c.year, err)) < 0 ||
	    (r = expect_char(s, len, &pos, '-', '-', "'-'", err)) < 0 ||
	    (r = read_digits(s, len, &pos, 2, &c.month, err)) < 0 ||
	    (r = expect_char(s, len, &pos, '-', '-', "'-'", err)) < 0 ||
	    (r = read_digits(s, len, &pos, 2, &c.day, err)) < 0 ||
	    (r = expect_char(s, len, &pos, 'T', 't', "'T'", err)) < 0 ||
	    (r = read_digits(s, len, &pos, 2, &c.hour, err)) < 0 ||
	    (r = expect_char(s, len, &pos, ':', ':', "':'", err)) < 0 ||
	    (r = read_digits(s, len, &pos, 2, &c.minute, err)) < 0 ||
	    (r = expect_char(s, len, &pos, ':', ':', "':'", err)) < 0 ||
	    (r = read_digits(s, len, &pos, 2, &c.second, err)) < 0 ||
	    (r = read_fraction(s, len, &pos, ret_nsec, err)) < 0)
		return r;
	if (pos < len && (s[pos] == 'Z' || s[pos] == 'z')) {
		pos++;
	} else if (pos < len && (s[pos] == '+' || s[pos] == '-')) {
		sign = s[pos++];
		if ((r = read_digits(s, len, &pos, 2, &off_h, err)) < 0 ||
		    (r = expect_char(s, len, &pos, ':', ':', "':' in the UTC offset", err)) < 0 ||
		    (r = read_digits(s, len, &pos, 2, &off_m, err)) < 0)
			return r;
		if (off_h > 23)
			return err_set(err, ENOENT, "UTC offset hour %02u is not 00..23", off_h);
		if (off_m > 59)
			return err_set(err, ENOENT, "UTC offset minute %02u is not 00..59", off_m);
	} else {
		return unexpected(s, len, pos, "'Z' or a UTC offset", err);
	}
	if (pos != len)
		return unexpected(s, len, pos, "the end of the time", err);
	if ((r = civil_to_sec(&c, &sec, err)) < 0)
		return r;
	/* Local time = UTC + offset, so UTC = local - offset. */
	int64_t off = (int64_t)off_h * 3600 + (int64_t)off_m * 60;
	*ret_sec = sign == '+' ? sec - off : sign == '-' ? sec + off : sec;
	return 0;
}

/* 1795338900, 1795338900.5: ndigits digits already seen, followed by '.' or the end. */
static int parse_epoch(const char *s, size_t len, size_t ndigits, int64_t *ret_sec,
		       uint32_t *ret_nsec, struct errbuf *err)
{
	int64_t v = 0;
	size_t pos = ndigits;
	int r;

	if (ndigits == 0)
		return unexpected(s, len, 0, "a digit", err);
	/* A leading zero is not how anything writes epoch seconds; refusing it keeps one
	 * spelling per instant and the digit bound meaningful. */
	if (ndigits > 1 && s[0] == '0')
		return err_set(err, ENOENT, "epoch seconds start with a leading zero");
	for (size_t i = 0; i < ndigits && i < EPOCH_DIGITS_MAX; i++)
		v = v * 10 + (s[i] - '0');
	if ((r = read_fraction(s, len, &pos, ret_nsec, err)) < 0)
		return r;
	if (pos != len)
		return unexpected(s, len, pos, "the end of the time", err);
	/* More digits than accumulated: certainly out of range, and reported as such. */
	*ret_sec = ndigits > EPOCH_DIGITS_MAX ? WINDOW_SEC_END : v;
	return 0;
}

/* Parse one time in any form. Returns -ENOENT when s is not in the grammar; otherwise 0 with
 * the seconds (possibly outside the range, which the caller checks) and nanoseconds. */
static int time_parse(const char *s, size_t len, int64_t *ret_sec, uint32_t *ret_nsec,
		      struct errbuf *err)
{
	size_t n = 0;

	if (len == 0)
		return err_set(err, ENOENT, "empty time");
	while (n < len && is_digit(s[n]))
		n++;
	if (n == 4 && n < len && s[n] == '-')
		return parse_extended(s, len, ret_sec, ret_nsec, err);
	if (n == 8 && n < len && s[n] == 'T')
		return parse_basic(s, len, ret_sec, ret_nsec, err);
	if (n == len || s[n] == '.')
		return parse_epoch(s, len, n, ret_sec, ret_nsec, err);
	if (n == 0)
		return unexpected(s, len, 0, "a digit", err);
	if (n == 4)
		return unexpected(s, len, n, "'-' (2026-11-22T10:15:00Z)", err);
	if (n == 8)
		return unexpected(s, len, n, "'T' (20261122T101500Z)", err);
	return unexpected(s, len, n, "'.' or the end (epoch seconds)", err);
}

static bool sec_in_range(int64_t sec)
{
	return sec >= 0 && sec < WINDOW_SEC_END;
}

int window_parse_time(const char *s, size_t len, int64_t *ret_ns, struct errbuf *err)
{
	char q[QUOTE_BUF];
	uint32_t nsec;
	int64_t sec;

	if (!s)
		return err_set(err, EINVAL, "no time given");
	if (time_parse(s, len, &sec, &nsec, err) < 0)
		return err_prefix(err, EINVAL, "time %s: ", quote(s, len, q));
	if (!sec_in_range(sec))
		return err_set(err, EINVAL, "time %s is outside 1970..2199 (UTC)", quote(s, len, q));
	*ret_ns = sec * NS_PER_SEC + nsec;
	return 0;
}

/* "1h30m", "2d0h0m5.25s": from the largest non-zero unit down to the smallest non-zero one,
 * so that the usual limits read as they are configured ("1h", "15m"). */
static void duration_format(int64_t ns, char *buf, size_t size)
{
	static const char units[4] = { 'd', 'h', 'm', 's' };
	int64_t sec = ns / NS_PER_SEC;
	int64_t frac = ns % NS_PER_SEC;
	int64_t v[4] = { sec / SEC_PER_DAY, sec / 3600 % 24, sec / 60 % 60, sec % 60 };
	int first = 0, last = 3;
	size_t o = 0;

	while (first < 3 && v[first] == 0)
		first++;
	while (last > first && v[last] == 0 && !(last == 3 && frac))
		last--;
	for (int i = first; i <= last && o < size; i++) {
		int k;
		if (i == 3 && frac) {
			char digits[9];
			int nd = 9;
			for (int64_t f = frac, j = 9; j > 0; j--, f /= 10)
				digits[j - 1] = (char)('0' + f % 10);
			while (digits[nd - 1] == '0')
				nd--;
			k = snprintf(buf + o, size - o, "%lld.%.*ss", (long long)v[i], nd, digits);
		} else {
			k = snprintf(buf + o, size - o, "%lld%c", (long long)v[i], units[i]);
		}
		if (k < 0)
			break;
		o += (size_t)k;
	}
}

/* Describe a time for messages, readably; never fails for in-range times. */
static const char *time_describe(int64_t ns, char buf[static WINDOW_TIME_BUF])
{
	if (window_format_time_rfc3339(ns, buf, WINDOW_TIME_BUF) < 0)
		buf[0] = 0;
	return buf;
}

int window_parse(const char *name, bool require_suffix, int64_t max_width_ns, struct window *ret,
		 struct errbuf *err)
{
	static const char suffix[] = ".pcap";
	const size_t suffix_len = sizeof(suffix) - 1;
	char q[QUOTE_BUF];
	size_t len, body, sep;
	int64_t sec[2];
	uint32_t nsec[2];

	if (!name)
		return err_set(err, ENOENT, "no window name");
	len = strnlen(name, WINDOW_NAME_MAX + 1);
	if (len > WINDOW_NAME_MAX)
		return err_set(err, ENAMETOOLONG, "window name %s is longer than %d bytes",
			       quote(name, len, q), WINDOW_NAME_MAX);

	body = len;
	if (len >= suffix_len && memcmp(name + len - suffix_len, suffix, suffix_len) == 0)
		body -= suffix_len;
	else if (require_suffix)
		return err_set(err, ENOENT, "%s is not a window name: it does not end in \"%s\"",
			       quote(name, len, q), suffix);

	/* Valid times neither start with '-' nor contain "--", so the first "--" is the only
	 * split that can succeed. */
	for (sep = 0; sep + 1 < body; sep++)
		if (name[sep] == '-' && name[sep + 1] == '-')
			break;
	if (sep + 1 >= body)
		return err_set(err, ENOENT,
			       "%s is not a window name: no \"--\" between start and end",
			       quote(name, len, q));

	const char *part[2] = { name, name + sep + 2 };
	const size_t part_len[2] = { sep, body - sep - 2 };
	static const char *const which[2] = { "start", "end" };

	/* Syntax of both times first: a name with a malformed end is not a window name, even
	 * when its start is merely out of range. */
	for (int i = 0; i < 2; i++)
		if (time_parse(part[i], part_len[i], &sec[i], &nsec[i], err) < 0)
			return err_prefix(err, ENOENT, "not a window name: %s time %s: ", which[i],
					  quote(part[i], part_len[i], q));
	for (int i = 0; i < 2; i++)
		if (!sec_in_range(sec[i]))
			return err_set(err, EINVAL, "%s time %s is outside 1970..2199 (UTC)",
				       which[i], quote(part[i], part_len[i], q));

	int64_t start = sec[0] * NS_PER_SEC + nsec[0];
	int64_t end = sec[1] * NS_PER_SEC + nsec[1];
	if (end <= start) {
		char a[WINDOW_TIME_BUF], b[WINDOW_TIME_BUF];
		return err_set(err, EINVAL, "window ends at %s, %s it starts at %s",
			       time_describe(end, b), end == start ? "when" : "before",
			       time_describe(start, a));
	}
	/* Both ends are in [0, WINDOW_TIME_END_NS): the width cannot overflow. */
	if (max_width_ns > 0 && end - start > max_width_ns) {
		char w[64] = "", m[64] = "";
		duration_format(end - start, w, sizeof(w));
		duration_format(max_width_ns, m, sizeof(m));
		return err_set(err, EFBIG, "window of %s exceeds the maximum of %s", w, m);
	}
	ret->start_ns = start;
	ret->end_ns = end;
	return 0;
}

/* Break ns (any int64_t, also before 1970) into civil fields and nanoseconds. */
static void time_split(int64_t ns, struct civil *c, int64_t *ret_year, uint32_t *ret_nsec)
{
	int64_t sec = ns / NS_PER_SEC, frac = ns % NS_PER_SEC;
	if (frac < 0) {
		frac += NS_PER_SEC;
		sec--;
	}
	int64_t days = sec / SEC_PER_DAY, sod = sec % SEC_PER_DAY;
	if (sod < 0) {
		sod += SEC_PER_DAY;
		days--;
	}
	civil_from_days(days, ret_year, &c->month, &c->day);
	c->hour = (unsigned)(sod / 3600);
	c->minute = (unsigned)(sod / 60 % 60);
	c->second = (unsigned)(sod % 60);
	*ret_nsec = (uint32_t)frac;
}

static size_t put_uint(char *p, unsigned v, unsigned width)
{
	for (unsigned i = width; i > 0; i--) {
		p[i - 1] = (char)('0' + v % 10);
		v /= 10;
	}
	return width;
}

/* ".250", ".000250", ".000000250": the fewest of 3, 6 or 9 digits that are exact. */
static size_t put_fraction(char *p, uint32_t nsec)
{
	if (nsec == 0)
		return 0;
	p[0] = '.';
	if (nsec % 1000000 == 0)
		return 1 + put_uint(p + 1, nsec / 1000000, 3);
	if (nsec % 1000 == 0)
		return 1 + put_uint(p + 1, nsec / 1000, 6);
	return 1 + put_uint(p + 1, nsec, 9);
}

static int time_format(int64_t ns, bool extended, char *buf, size_t size)
{
	char tmp[WINDOW_TIME_BUF];
	struct civil c;
	int64_t year;
	uint32_t nsec;
	size_t o = 0;

	time_split(ns, &c, &year, &nsec);
	/* An int64_t of nanoseconds spans 1677..2262: always four digits. */
	o += put_uint(tmp + o, (unsigned)year, 4);
	if (extended)
		tmp[o++] = '-';
	o += put_uint(tmp + o, c.month, 2);
	if (extended)
		tmp[o++] = '-';
	o += put_uint(tmp + o, c.day, 2);
	tmp[o++] = 'T';
	o += put_uint(tmp + o, c.hour, 2);
	if (extended)
		tmp[o++] = ':';
	o += put_uint(tmp + o, c.minute, 2);
	if (extended)
		tmp[o++] = ':';
	o += put_uint(tmp + o, c.second, 2);
	o += put_fraction(tmp + o, nsec);
	tmp[o++] = 'Z';
	tmp[o] = 0;
	if (!buf || o + 1 > size)
		return -ENOSPC;
	memcpy(buf, tmp, o + 1);
	return (int)o;
}

int window_format_time(int64_t ns, char *buf, size_t size)
{
	return time_format(ns, false, buf, size);
}

int window_format_time_rfc3339(int64_t ns, char *buf, size_t size)
{
	return time_format(ns, true, buf, size);
}

int window_format(const struct window *w, char *buf, size_t size)
{
	char a[WINDOW_TIME_BUF], b[WINDOW_TIME_BUF];
	int la = window_format_time(w->start_ns, a, sizeof(a));
	int lb = window_format_time(w->end_ns, b, sizeof(b));

	if (la < 0 || lb < 0)
		return -ENOSPC;
	size_t n = (size_t)la + 2 + (size_t)lb + 5;
	if (!buf || n + 1 > size)
		return -ENOSPC;
	memcpy(buf, a, (size_t)la);
	memcpy(buf + la, "--", 2);
	memcpy(buf + la + 2, b, (size_t)lb);
	memcpy(buf + la + 2 + lb, ".pcap", 6);
	return (int)n;
}

int window_parse_day(const char *s, size_t len, int64_t *ret)
{
	if (len != 10 || s[4] != '-' || s[7] != '-')
		return -EINVAL;
	int v[3] = {0, 0, 0};
	static const int start[3] = {0, 5, 8}, digits[3] = {4, 2, 2};
	for (int f = 0; f < 3; f++)
		for (int i = 0; i < digits[f]; i++) {
			char c = s[start[f] + i];
			if (c < '0' || c > '9')
				return -EINVAL;
			v[f] = v[f] * 10 + (c - '0');
		}
	/* The years of the time range (1970..2199): no overflow below. */
	if (v[0] < 1970 || v[0] > 2199 || v[1] < 1 || v[1] > 12 || v[2] < 1)
		return -EINVAL;
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0;
	if (v[2] > mdays[v[1] - 1] + (v[1] == 2 && leap))
		return -EINVAL;
	/* Days since the epoch (civil calendar; no time_t, no locale). */
	int64_t y = v[0], m = v[1], d = v[2];
	y -= m <= 2;
	int64_t era = y / 400, yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;
	int64_t ns = days * 86400 * NS_PER_SEC;
	if (ns >= WINDOW_TIME_END_NS)
		return -EINVAL;
	*ret = ns;
	return 0;
}

int window_format_day(int64_t day_ns, char *buf, size_t size)
{
	if (day_ns < 0 || day_ns >= WINDOW_TIME_END_NS)
		return -EINVAL;
	/* Civil date of a day count (the inverse of window_parse_day's). */
	int64_t z = day_ns / (86400 * NS_PER_SEC) + 719468;
	int64_t era = z / 146097, doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = yoe + era * 400 + (m <= 2);
	int n = snprintf(buf, size, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

/* window.h — the naming grammar of time windows (docs/architecture.md, "The namespace").
 *
 * A window file is named "<start>--<end>.pcap" and means the half-open interval
 * [start, end) in UTC. Each time may be written as
 *   - basic ISO 8601, colon-free (the canonical, listed form): 20261122T101500Z, with an
 *     optional fraction of up to 9 digits: 20261122T101500.250Z;
 *   - RFC 3339 / extended ISO 8601: 2026-11-22T10:15:00Z, 2026-11-22T10:15:00.25+01:00
 *     ('t' and 'z' accepted in lower case too, offsets -23:59..+23:59);
 *   - Unix epoch seconds: 1795338900, optional fraction 1795338900.5.
 * The two times of one name may use different forms. Times are limited to
 * [1970-01-01T00:00:00Z, 2200-01-01T00:00:00Z). Nothing else is accepted: no spaces, no
 * leading '+', no week dates, no leap second 60, no 24:00, no lower-case 't'/'z' in the
 * colon-free form, no leading zero in epoch seconds.
 *
 * Used by the mount (every lookup), pcapfsctl extract and the time options of pcapfsctl, so
 * it must be cheap: O(length of the name), no allocation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

#define WINDOW_NAME_MAX 255 /* the longest name accepted (NAME_MAX) */
#define WINDOW_TIME_MIN_NS INT64_C(0)
#define WINDOW_TIME_END_NS INT64_C(7258118400000000000) /* 2200-01-01T00:00:00Z */

struct window {
	int64_t start_ns; /* inclusive */
	int64_t end_ns;   /* exclusive */
};

/* Parse one time in any of the three forms; s need not be NUL-terminated. Returns 0 or
 * -EINVAL (with a message naming what is wrong). */
int window_parse_time(const char *s, size_t len, int64_t *ret_ns, struct errbuf *err);

/* Parse a window name. require_suffix: the name must end in ".pcap" (the mount); otherwise
 * the suffix is optional (the command line).
 * Returns 0 and fills ret, or:
 *   -ENOENT  the name is not in the grammar (not a window name at all: desktop.ini, ...),
 *            including impossible calendar fields (2026-02-29, hour 24);
 *   -EINVAL  in the grammar, but end <= start, or a time outside [1970, 2200);
 *   -EFBIG   in the grammar, but end - start > max_width_ns (max_width_ns <= 0: no limit);
 *   -ENAMETOOLONG  the name is longer than WINDOW_NAME_MAX.
 * err says why in every case. */
int window_parse(const char *name, bool require_suffix, int64_t max_width_ns, struct window *ret,
		 struct errbuf *err);

/* Format one time in the canonical colon-free form: "20261122T101500Z", with a fraction
 * only when the time is not a whole second, using 3, 6 or 9 digits (the fewest that are
 * exact): "20261122T101500.250Z". Returns the length written (excluding NUL) or -ENOSPC.
 * WINDOW_TIME_BUF is always enough. */
#define WINDOW_TIME_BUF 32
int window_format_time(int64_t ns, char *buf, size_t size);

/* Format "<start>--<end>.pcap" in the canonical form. Returns length or -ENOSPC.
 * WINDOW_NAME_BUF is always enough. */
#define WINDOW_NAME_BUF 80
int window_format(const struct window *w, char *buf, size_t size);

/* Human-readable RFC 3339 form "2026-11-22T10:15:00.250Z" for tables and logs. */
int window_format_time_rfc3339(int64_t ns, char *buf, size_t size);

/* A UTC day "YYYY-MM-DD" (exactly len bytes, a real date in the time range above) as the ns
 * of its midnight: 0 or -EINVAL. window_format_day writes it back (11 bytes with the NUL;
 * -ENOSPC when it does not fit). */
int window_parse_day(const char *s, size_t len, int64_t *ret);
int window_format_day(int64_t day_ns, char *buf, size_t size);

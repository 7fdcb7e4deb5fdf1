/* fuzz-window.c — window_parse() and window_parse_time() on hostile bytes.
 *
 * Beyond not crashing, every accepted input is checked for the properties the mount relies
 * on: the window lies in the documented range with start < end, formatting it canonically
 * and parsing that again gives the same window (with and without the suffix requirement),
 * the RFC 3339 form of each time parses back to the same instant, and the width limit is
 * exact. Any violation abort()s so that libFuzzer reports it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "window.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *input)
{
	fprintf(stderr, "fuzz-window: %s (input \"%s\")\n", what, input);
	abort();
}

static void check_message(const struct errbuf *err, const char *input)
{
	size_t n = strnlen(err->msg, sizeof(err->msg));
	if (n == 0 || n == sizeof(err->msg))
		fail("failure without a NUL-terminated message", input);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)err->msg[i] < 0x20 || (unsigned char)err->msg[i] >= 0x7f)
			fail("unescaped byte in a message", input);
}

static void check_time(int64_t ns, const char *input)
{
	char buf[WINDOW_TIME_BUF];
	struct errbuf err;
	int64_t again = -1;
	int len;

	if (ns < WINDOW_TIME_MIN_NS || ns >= WINDOW_TIME_END_NS)
		fail("time outside the range accepted", input);
	len = window_format_time(ns, buf, sizeof(buf));
	if (len <= 0 || (size_t)len != strlen(buf))
		fail("window_format_time failed", input);
	if (window_parse_time(buf, (size_t)len, &again, &err) != 0 || again != ns)
		fail("canonical time does not parse back", input);
	len = window_format_time_rfc3339(ns, buf, sizeof(buf));
	if (len <= 0 || (size_t)len != strlen(buf))
		fail("window_format_time_rfc3339 failed", input);
	again = -1;
	if (window_parse_time(buf, (size_t)len, &again, &err) != 0 || again != ns)
		fail("RFC 3339 time does not parse back", input);
}

static void check_window(const struct window *w, const char *input)
{
	char name[WINDOW_NAME_BUF];
	struct window again;
	struct errbuf err;
	int len;

	if (w->start_ns >= w->end_ns)
		fail("window accepted with end <= start", input);
	check_time(w->start_ns, input);
	check_time(w->end_ns, input);

	len = window_format(w, name, sizeof(name));
	if (len <= 0 || (size_t)len != strlen(name))
		fail("window_format failed", input);
	for (int req = 0; req < 2; req++) {
		again = (struct window){ -1, -1 };
		if (window_parse(name, req, 0, &again, &err) != 0 || again.start_ns != w->start_ns ||
		    again.end_ns != w->end_ns)
			fail("canonical name does not parse back to the same window", input);
	}
	/* The suffix is optional without require_suffix. */
	name[len - 5] = 0;
	again = (struct window){ -1, -1 };
	if (window_parse(name, false, 0, &again, &err) != 0 || again.start_ns != w->start_ns ||
	    again.end_ns != w->end_ns)
		fail("canonical name without suffix does not parse back", input);

	/* The width limit is inclusive: exactly the width passes, one less is -EFBIG. */
	int64_t width = w->end_ns - w->start_ns;
	if (window_parse(input, false, width, &again, &err) != 0)
		fail("window refused at exactly its width", input);
	if (width > 1 && window_parse(input, false, width - 1, &again, &err) != -EFBIG)
		fail("window wider than the limit not refused with -EFBIG", input);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Names longer than WINDOW_NAME_MAX must be refused, so keep a few bytes past it. */
	char input[WINDOW_NAME_MAX + 8];
	size_t n = size < sizeof(input) - 1 ? size : sizeof(input) - 1;
	struct window w;
	struct errbuf err;
	int64_t ns;

	memcpy(input, data, n);
	input[n] = 0;

	for (int req = 0; req < 2; req++) {
		w = (struct window){ -1, -1 };
		int r = window_parse(input, req, 0, &w, &err);
		if (r == 0)
			check_window(&w, input);
		else if (r == -ENOENT || r == -EINVAL || r == -ENAMETOOLONG)
			check_message(&err, input);
		else
			fail("unexpected errno from window_parse", input);
		if (r == -ENAMETOOLONG && strlen(input) <= WINDOW_NAME_MAX)
			fail("-ENAMETOOLONG for a short name", input);
		/* With the suffix required, nothing more is accepted than without it. */
		if (req == 1 && r == 0 && window_parse(input, false, 0, &w, &err) != 0)
			fail("accepted with the suffix required but not without", input);
	}

	/* The raw bytes, not NUL-terminated and of any length. */
	ns = -1;
	int r = window_parse_time((const char *)data, size, &ns, &err);
	if (r == 0)
		check_time(ns, input);
	else if (r == -EINVAL)
		check_message(&err, input);
	else
		fail("unexpected errno from window_parse_time", input);

	/* Days (/audit/<day>.csv): an accepted day is a midnight that formats back to itself. */
	ns = -1;
	r = window_parse_day((const char *)data, size, &ns);
	if (r == 0) {
		char day[16];
		if (ns < WINDOW_TIME_MIN_NS || ns >= WINDOW_TIME_END_NS || ns % (86400 * NS_PER_SEC))
			fail("day outside the range or not a midnight", input);
		if (window_format_day(ns, day, sizeof(day)) != 10 || memcmp(day, data, 10) != 0)
			fail("day does not format back to itself", input);
	} else if (r != -EINVAL) {
		fail("unexpected errno from window_parse_day", input);
	}
	return 0;
}

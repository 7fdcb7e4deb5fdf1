/* test-window.c — the window name grammar: every accepted form, the calendar and range
 * rules, the errno classes the mount relies on, canonical formatting, and round trips of
 * random instants checked against the C library's gmtime_r(). */
#include <errno.h>
#include <time.h>

#include "tests.h"
#include "window.h"

#define HOUR_NS (3600 * NS_PER_SEC)
#define T0 INT64_C(1795342500) /* 2026-11-22T10:15:00Z */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: reproducible, and good enough to spread instants over two centuries. */
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static int64_t parse_time(const char *s)
{
	struct errbuf err;
	int64_t ns = -1;
	int r = window_parse_time(s, strlen(s), &ns, &err);
	if (r < 0) {
		fprintf(stderr, "unexpected: window_parse_time(\"%s\"): %s\n", s, err.msg);
		return -1;
	}
	return ns;
}

static int parse_time_err(const char *s, struct errbuf *err)
{
	int64_t ns = 12345;
	int r = window_parse_time(s, strlen(s), &ns, err);
	CHECK(r < 0 || ns != 12345);
	return r;
}

static int parse(const char *name, struct window *w)
{
	struct errbuf err;
	err.msg[0] = 0;
	int r = window_parse(name, true, 0, w, &err);
	CHECK(r == 0 || err.msg[0] != 0);
	return r;
}

static void test_forms(void)
{
	int64_t t = T0 * NS_PER_SEC;

	CHECK_INT(parse_time("20261122T101500Z"), t);
	CHECK_INT(parse_time("2026-11-22T10:15:00Z"), t);
	CHECK_INT(parse_time("2026-11-22t10:15:00z"), t);
	CHECK_INT(parse_time("1795342500"), t);
	CHECK_INT(parse_time("2026-11-22T11:15:00+01:00"), t);
	CHECK_INT(parse_time("2026-11-22T04:45:00-05:30"), t);
	CHECK_INT(parse_time("2026-11-22T10:15:00+00:00"), t);
	CHECK_INT(parse_time("2026-11-22T10:15:00-00:00"), t);
	CHECK_INT(parse_time("2026-11-23T09:14:00+22:59"), t);
	CHECK_INT(parse_time("2026-11-21T10:16:00-23:59"), t);

	CHECK_INT(parse_time("20261122T101500.250Z"), t + 250000000);
	CHECK_INT(parse_time("20261122T101500.25Z"), t + 250000000);
	CHECK_INT(parse_time("20261122T101500.2Z"), t + 200000000);
	CHECK_INT(parse_time("20261122T101500.000000001Z"), t + 1);
	CHECK_INT(parse_time("2026-11-22T11:15:00.25+01:00"), t + 250000000);
	CHECK_INT(parse_time("1795342500.5"), t + 500000000);
	CHECK_INT(parse_time("1795342500.123456789"), t + 123456789);
	CHECK_INT(parse_time("0"), 0);
	CHECK_INT(parse_time("0.5"), 500000000);
	CHECK_INT(parse_time("1"), NS_PER_SEC);

	/* Not NUL-terminated: only len bytes count. */
	const char buf[] = "1795342500999";
	int64_t ns = 0;
	CHECK_INT(window_parse_time(buf, 10, &ns, NULL), 0);
	CHECK_INT(ns, t);
	CHECK_INT(window_parse_time("20261122T101500Zjunk", 16, &ns, NULL), 0);
	CHECK_INT(ns, t);

	/* The same instant in three forms, and mixed forms in one name. */
	struct window w1, w2, w3, w4;
	CHECK_INT(parse("20261122T100000Z--20261122T110000Z.pcap", &w1), 0);
	CHECK_INT(parse("2026-11-22T10:00:00Z--2026-11-22T12:00:00+01:00.pcap", &w2), 0);
	CHECK_INT(parse("1795341600--1795345200.pcap", &w3), 0);
	CHECK_INT(parse("1795341600--2026-11-22T06:00:00-05:00.pcap", &w4), 0);
	CHECK_INT(w1.start_ns, (T0 - 900) * NS_PER_SEC);
	CHECK_INT(w1.end_ns - w1.start_ns, HOUR_NS);
	CHECK(w1.start_ns == w2.start_ns && w1.end_ns == w2.end_ns);
	CHECK(w1.start_ns == w3.start_ns && w1.end_ns == w3.end_ns);
	CHECK(w1.start_ns == w4.start_ns && w1.end_ns == w4.end_ns);

	/* The suffix is optional for the command line only. */
	struct errbuf err;
	CHECK_INT(window_parse("20261122T100000Z--20261122T110000Z", false, 0, &w2, &err), 0);
	CHECK(w1.start_ns == w2.start_ns && w1.end_ns == w2.end_ns);
	CHECK_INT(window_parse("20261122T100000Z--20261122T110000Z.pcap", false, 0, &w2, &err), 0);
	CHECK(w1.start_ns == w2.start_ns && w1.end_ns == w2.end_ns);
	CHECK_INT(window_parse("20261122T100000Z--20261122T110000Z", true, 0, &w2, &err), -ENOENT);
	CHECK(strstr(err.msg, ".pcap") != NULL);
}

static void test_calendar(void)
{
	struct errbuf err;
	struct window w;

	CHECK(parse_time("2028-02-29T12:00:00Z") > 0);
	CHECK(parse_time("20000229T000000Z") > 0);
	CHECK(parse_time("2026-12-31T23:59:59Z") > 0);
	CHECK(parse_time("2026-04-30T00:00:00Z") > 0);
	CHECK_INT(parse_time("2000-03-01T00:00:00Z") - parse_time("2000-02-28T00:00:00Z"),
		  2 * 86400 * NS_PER_SEC);
	CHECK_INT(parse_time("2100-03-01T00:00:00Z") - parse_time("2100-02-28T00:00:00Z"),
		  86400 * NS_PER_SEC);

	static const char *const bad[] = {
		"2026-02-29T00:00:00Z", "21000229T000000Z",     "2100-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
		"2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z", "2026-01-01T24:00:00Z",
		"2026-01-01T23:60:00Z", "2026-12-31T23:59:60Z", "20261231T235960Z",
		"20261301T000000Z",     "20260100T000000Z",     "20260101T240000Z",
		"2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+01:60",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		char name[128];
		CHECK_INT(parse_time_err(bad[i], &err), -EINVAL);
		snprintf(name, sizeof(name), "%s--2027-01-01T00:00:00Z.pcap", bad[i]);
		CHECK_INT(window_parse(name, true, 0, &w, &err), -ENOENT);
		snprintf(name, sizeof(name), "2025-01-01T00:00:00Z--%s.pcap", bad[i]);
		CHECK_INT(window_parse(name, true, 0, &w, &err), -ENOENT);
		CHECK(strstr(err.msg, "not a window name") != NULL);
	}
	CHECK_INT(parse_time_err("2026-02-29T00:00:00Z", &err), -EINVAL);
	CHECK(strstr(err.msg, "February 2026") != NULL);
	CHECK_INT(parse_time_err("2026-13-01T00:00:00Z", &err), -EINVAL);
	CHECK(strstr(err.msg, "month 13") != NULL);
}

static void test_range(void)
{
	struct errbuf err;
	struct window w;

	CHECK_INT(parse_time("1970-01-01T00:00:00Z"), 0);
	CHECK_INT(parse_time("19700101T000000Z"), 0);
	CHECK_INT(parse_time("2199-12-31T23:59:59.999999999Z"), WINDOW_TIME_END_NS - 1);
	CHECK_INT(parse_time("21991231T235959.999999999Z"), WINDOW_TIME_END_NS - 1);
	CHECK_INT(parse_time("7258118399.999999999"), WINDOW_TIME_END_NS - 1);
	/* The offset moves an instant into the range and out of it. */
	CHECK_INT(parse_time("2200-01-01T00:30:00+01:00"), WINDOW_TIME_END_NS - 1800 * NS_PER_SEC);
	CHECK_INT(parse_time("1969-12-31T23:30:00-01:00"), 1800 * NS_PER_SEC);

	static const char *const out[] = {
		"2200-01-01T00:00:00Z", "22000101T000000Z",      "7258118400",
		"2300-01-01T00:00:00Z", "1969-12-31T23:59:59Z",  "19691231T235959.999Z",
		"0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",  "1970-01-01T00:30:00+01:00",
		"2199-12-31T23:30:00-01:00", "99999999999",      "999999999999",
		"1000000000000",        "12345678901234567890123456789",
	};
	for (size_t i = 0; i < ELEMENTSOF(out); i++) {
		char name[128];
		CHECK_INT(parse_time_err(out[i], &err), -EINVAL);
		CHECK(strstr(err.msg, "outside 1970..2199") != NULL);
		snprintf(name, sizeof(name), "%s--2100-01-01T00:00:00Z.pcap", out[i]);
		CHECK_INT(window_parse(name, true, 0, &w, &err), -EINVAL);
		CHECK(strstr(err.msg, "outside 1970..2199") != NULL);
		CHECK(strstr(err.msg, out[i]) != NULL);
		snprintf(name, sizeof(name), "1970-01-01T00:00:00Z--%s", out[i]);
		CHECK_INT(window_parse(name, false, 0, &w, &err), -EINVAL);
		CHECK(strstr(err.msg, "end time") != NULL);
	}
	/* A malformed end wins over an out-of-range start: still not a window name. */
	CHECK_INT(window_parse("2300-01-01T00:00:00Z--desktop.pcap", true, 0, &w, &err), -ENOENT);

	CHECK_INT(parse("19700101T000000Z--21991231T235959.999999999Z.pcap", &w), 0);
	CHECK_INT(w.start_ns, 0);
	CHECK_INT(w.end_ns, WINDOW_TIME_END_NS - 1);
}

static void test_not_names(void)
{
	static const char *const probes[] = {
		"",
		".pcap",
		"--.pcap",
		"desktop.ini",
		"Desktop.ini",
		".DS_Store",
		"._20261122T100000Z--20261122T110000Z.pcap",
		"Thumbs.db",
		"autorun.inf",
		".hidden",
		".directory",
		"folder.jpg",
		"20261122T100000Z--20261122T110000Z.pcap ",
		" 20261122T100000Z--20261122T110000Z.pcap",
		"20261122T100000Z --20261122T110000Z.pcap",
		"20261122T100000Z--20261122T110000Z .pcap",
		"20261122T100000Z--20261122T110000Z.pcap~",
		"20261122T100000Z--20261122T110000Z.pcap.part",
		"20261122T100000Z--20261122T110000Z.PCAP",
		"20261122T100000Z--20261122T110000Z.pcapng",
		".20261122T100000Z--20261122T110000Z.pcap.swp",
		"20261122T100000Z-20261122T110000Z.pcap",
		"20261122T100000Z---20261122T110000Z.pcap",
		"20261122T100000Z--20261122T110000Z--20261122T120000Z.pcap",
		"20261122T100000Z.pcap",
		"20261122t100000Z--20261122T110000Z.pcap",
		"20261122T100000z--20261122T110000Z.pcap",
		"20261122T100000--20261122T110000Z.pcap",
		"20261122T1000Z--20261122T110000Z.pcap",
		"2026112T100000Z--20261122T110000Z.pcap",
		"202611220T100000Z--20261122T110000Z.pcap",
		"20261122T100000.Z--20261122T110000Z.pcap",
		"20261122T100000.1234567890Z--20261122T110000Z.pcap",
		"20261122T100000,5Z--20261122T110000Z.pcap",
		"20261122T100000+01:00--20261122T110000Z.pcap",
		"20261122T100000+0100--20261122T110000Z.pcap",
		"2026-11-22T10:00:00--2026-11-22T11:00:00Z.pcap",
		"2026-11-22 10:00:00Z--2026-11-22T11:00:00Z.pcap",
		"2026-11-22_10:00:00Z--2026-11-22T11:00:00Z.pcap",
		"2026-11-22T10:00Z--2026-11-22T11:00:00Z.pcap",
		"2026-11-22T10:00:00.Z--2026-11-22T11:00:00Z.pcap",
		"2026-11-22T10:00:00+01--2026-11-22T11:00:00Z.pcap",
		"2026-11-22T10:00:00+0100--2026-11-22T11:00:00Z.pcap",
		"2026-11-22T10:00:00+01:0--2026-11-22T11:00:00Z.pcap",
		"2026-11-22T10:00:00+1:00--2026-11-22T11:00:00Z.pcap",
		"2026-11-22T10:00:00Zz--2026-11-22T11:00:00Z.pcap",
		"2026-11-22T10:00:00+01:00Z--2026-11-22T11:00:00Z.pcap",
		"2026-W47-7T10:00:00Z--2026-11-22T11:00:00Z.pcap",
		"2026-326T10:00:00Z--2026-11-22T11:00:00Z.pcap",
		"+2026-11-22T10:00:00Z--2026-11-22T11:00:00Z.pcap",
		"+1795341600--1795345200.pcap",
		"-1795341600--1795345200.pcap",
		"01795341600--1795345200.pcap",
		"1795341600.--1795345200.pcap",
		".5--1795345200.pcap",
		"1795341600.1234567890--1795345200.pcap",
		"1795341600e0--1795345200.pcap",
		"0x6b02a340--1795345200.pcap",
		"1795341600--1795345200",
		"now--1795345200.pcap",
		"1795341600--",
		"--1795345200",
	};
	struct errbuf err;
	struct window w = { 7, 8 };

	for (size_t i = 0; i < ELEMENTSOF(probes); i++) {
		err.msg[0] = 0;
		int r = window_parse(probes[i], true, HOUR_NS, &w, &err);
		if (r != -ENOENT)
			fprintf(stderr, "probe \"%s\": %d (%s)\n", probes[i], r, err.msg);
		CHECK_INT(r, -ENOENT);
		CHECK(err.msg[0] != 0);
		/* Without the suffix requirement they are still not window names, except the one
		 * whose only fault is the missing suffix. */
		r = window_parse(probes[i], false, HOUR_NS, &w, &err);
		if (strcmp(probes[i], "1795341600--1795345200") != 0)
			CHECK_INT(r, -ENOENT);
		else
			CHECK_INT(r, 0);
	}
	CHECK_INT(window_parse("x", true, 0, &w, NULL), -ENOENT);
	CHECK_INT(window_parse(NULL, true, 0, &w, &err), -ENOENT);

	/* Hostile bytes are escaped in messages. */
	CHECK_INT(window_parse("\x1b[31m\"evil\n--x.pcap", true, 0, &w, &err), -ENOENT);
	CHECK(strchr(err.msg, '\x1b') == NULL && strchr(err.msg, '\n') == NULL);
	CHECK(strstr(err.msg, "\\x1b") != NULL);

	char *s = (char *)"1795341600\0--1795345200.pcap";
	CHECK_INT(window_parse_time(s, 24, &w.start_ns, &err), -EINVAL);
	CHECK_INT(window_parse_time("", 0, &w.start_ns, &err), -EINVAL);
	CHECK_INT(window_parse_time(NULL, 0, &w.start_ns, &err), -EINVAL);
}

static void test_name_length(void)
{
	char name[WINDOW_NAME_MAX + 64];
	struct errbuf err;
	struct window w;

	/* No name in the grammar is longer than 67 bytes, so the limit shows in the errno
	 * alone: -ENOENT at WINDOW_NAME_MAX bytes, -ENAMETOOLONG one past it. */
	memset(name, 'a', sizeof(name));
	name[WINDOW_NAME_MAX] = 0;
	CHECK_INT(window_parse(name, true, 0, &w, &err), -ENOENT);
	name[WINDOW_NAME_MAX] = 'a';
	name[WINDOW_NAME_MAX + 1] = 0;
	CHECK_INT(window_parse(name, true, 0, &w, &err), -ENAMETOOLONG);
	CHECK(strstr(err.msg, "255") != NULL);
	CHECK(strlen(err.msg) < 300);
	name[sizeof(name) - 1] = 0;
	CHECK_INT(window_parse(name, false, 0, &w, &err), -ENAMETOOLONG);

	/* A long digit run is bounded, not overflowed. */
	memset(name, '9', WINDOW_NAME_MAX);
	name[WINDOW_NAME_MAX] = 0;
	CHECK_INT(window_parse_time(name, WINDOW_NAME_MAX, &w.start_ns, &err), -EINVAL);
	CHECK(strstr(err.msg, "outside") != NULL);
	CHECK(strlen(err.msg) < 300);
	memcpy(name, "1--", 3);
	CHECK_INT(window_parse(name, false, 0, &w, &err), -EINVAL);
}

static void test_order_and_width(void)
{
	struct errbuf err;
	struct window w;

	CHECK_INT(window_parse("20261122T110000Z--20261122T100000Z.pcap", true, 0, &w, &err),
		  -EINVAL);
	CHECK(strstr(err.msg, "before") != NULL);
	CHECK(strstr(err.msg, "2026-11-22T10:00:00Z") != NULL);
	CHECK(strstr(err.msg, "2026-11-22T11:00:00Z") != NULL);
	CHECK_INT(window_parse("20261122T100000Z--2026-11-22T11:00:00+01:00.pcap", true, 0, &w,
			       &err),
		  -EINVAL);
	CHECK_INT(window_parse("1795341600.5--1795341600.5", false, 0, &w, &err), -EINVAL);
	CHECK(strstr(err.msg, "2026-11-22T10:00:00.500Z") != NULL);
	CHECK_INT(window_parse("1795341600--1795341600.000000001", false, 0, &w, &err), 0);
	CHECK_INT(w.end_ns - w.start_ns, 1);

	CHECK_INT(window_parse("20261122T100000Z--20261122T120000Z.pcap", true, HOUR_NS, &w, &err),
		  -EFBIG);
	CHECK_STR(err.msg, "window of 2h exceeds the maximum of 1h");
	CHECK_INT(window_parse("20261122T100000Z--20261122T110000Z.pcap", true, HOUR_NS, &w, &err),
		  0);
	CHECK_INT(window_parse("20261122T100000Z--20261122T110000.000000001Z.pcap", true, HOUR_NS,
			       &w, &err),
		  -EFBIG);
	CHECK_STR(err.msg, "window of 1h0m0.000000001s exceeds the maximum of 1h");
	CHECK_INT(window_parse("20261122T100000Z--20261123T113005.5Z.pcap", true,
			       15 * 60 * NS_PER_SEC, &w, &err),
		  -EFBIG);
	CHECK_STR(err.msg, "window of 1d1h30m5.5s exceeds the maximum of 15m");
	CHECK_INT(window_parse("0--0.25", false, NS_PER_SEC / 10, &w, &err), -EFBIG);
	CHECK_STR(err.msg, "window of 0.25s exceeds the maximum of 0.1s");
	CHECK_INT(window_parse("0--7258118399", false, -1, &w, &err), 0);
	CHECK_INT(window_parse("0--7258118399", false, INT64_MAX, &w, &err), 0);
}

static void test_format(void)
{
	char buf[WINDOW_NAME_BUF];
	int64_t t = T0 * NS_PER_SEC;

	CHECK_INT(window_format_time(t, buf, sizeof(buf)), 16);
	CHECK_STR(buf, "20261122T101500Z");
	CHECK_INT(window_format_time(t + 250000000, buf, sizeof(buf)), 20);
	CHECK_STR(buf, "20261122T101500.250Z");
	window_format_time(t + 250000, buf, sizeof(buf));
	CHECK_STR(buf, "20261122T101500.000250Z");
	window_format_time(t + 250, buf, sizeof(buf));
	CHECK_STR(buf, "20261122T101500.000000250Z");
	window_format_time(t + 123456789, buf, sizeof(buf));
	CHECK_STR(buf, "20261122T101500.123456789Z");
	window_format_time(t + 100000, buf, sizeof(buf));
	CHECK_STR(buf, "20261122T101500.000100Z");
	window_format_time(0, buf, sizeof(buf));
	CHECK_STR(buf, "19700101T000000Z");
	window_format_time(WINDOW_TIME_END_NS - 1, buf, sizeof(buf));
	CHECK_STR(buf, "21991231T235959.999999999Z");

	CHECK_INT(window_format_time_rfc3339(t, buf, sizeof(buf)), 20);
	CHECK_STR(buf, "2026-11-22T10:15:00Z");
	window_format_time_rfc3339(t + 250000000, buf, sizeof(buf));
	CHECK_STR(buf, "2026-11-22T10:15:00.250Z");
	window_format_time_rfc3339(WINDOW_TIME_END_NS - 1, buf, sizeof(buf));
	CHECK_STR(buf, "2199-12-31T23:59:59.999999999Z");
	/* Any int64_t formats, also the sentinels (the whole range is within 1677..2262). */
	CHECK_INT(window_format_time_rfc3339(INT64_MAX, buf, sizeof(buf)), 30);
	CHECK_STR(buf, "2262-04-11T23:47:16.854775807Z");
	CHECK(window_format_time_rfc3339(INT64_MIN, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "1677-09-21T00:12:43.145224192Z");
	window_format_time(-1, buf, sizeof(buf));
	CHECK_STR(buf, "19691231T235959.999999999Z");

	struct window w = { (T0 - 900) * NS_PER_SEC, (T0 + 2700) * NS_PER_SEC };
	CHECK_INT(window_format(&w, buf, sizeof(buf)), 39);
	CHECK_STR(buf, "20261122T100000Z--20261122T110000Z.pcap");
	w.end_ns += 1;
	CHECK_INT(window_format(&w, buf, sizeof(buf)), 49);
	CHECK_STR(buf, "20261122T100000Z--20261122T110000.000000001Z.pcap");
	struct window wmax = { INT64_MIN, INT64_MAX };
	CHECK(window_format(&wmax, buf, WINDOW_NAME_BUF) > 0);

	/* -ENOSPC for every size too small, untouched buffer beyond the size given. */
	for (size_t size = 0; size <= 17; size++) {
		memset(buf, 'x', sizeof(buf));
		int r = window_format_time(t, buf, size);
		CHECK_INT(r, size < 17 ? -ENOSPC : 16);
		CHECK(buf[size] == 'x');
	}
	for (size_t size = 0; size <= 40; size++) {
		memset(buf, 'x', sizeof(buf));
		int r = window_format(&(struct window){ 0, NS_PER_SEC }, buf, size);
		CHECK_INT(r, size < 40 ? -ENOSPC : 39);
		CHECK(buf[size] == 'x');
	}
	CHECK_INT(window_format_time_rfc3339(t, buf, 20), -ENOSPC);
	CHECK_INT(window_format_time(t, NULL, 0), -ENOSPC);
}

/* gmtime_r() is an independent implementation of the civil calendar to check ours with. */
static void check_against_gmtime(int64_t ns)
{
	char buf[WINDOW_TIME_BUF], want[WINDOW_TIME_BUF];
	time_t sec = (time_t)(ns / NS_PER_SEC);
	struct tm tm;

	CHECK(gmtime_r(&sec, &tm) != NULL);
	strftime(want, sizeof(want), "%Y%m%dT%H%M%S", &tm);
	CHECK(window_format_time(ns - ns % NS_PER_SEC, buf, sizeof(buf)) > 0);
	buf[15] = 0;
	CHECK_STR(buf, want);
}

static void test_random_round_trips(void)
{
	int64_t span = WINDOW_TIME_END_NS;

	for (int i = 0; i < 200000; i++) {
		int64_t a = (int64_t)(rng() % (uint64_t)span);
		int64_t b = (int64_t)(rng() % (uint64_t)span);
		/* Mix whole seconds, milliseconds and microseconds in with arbitrary ns. */
		switch (i % 4) {
		case 0: a -= a % NS_PER_SEC; break;
		case 1: a -= a % 1000000; break;
		case 2: a -= a % 1000; break;
		default: break;
		}
		if (a == b)
			continue;
		struct window w = { a < b ? a : b, a < b ? b : a }, got = { -1, -1 };
		char name[WINDOW_NAME_BUF], t[WINDOW_TIME_BUF];
		struct errbuf err;

		int len = window_format(&w, name, sizeof(name));
		CHECK(len > 0 && (size_t)len == strlen(name));
		int r = window_parse(name, true, 0, &got, &err);
		if (r != 0 || got.start_ns != w.start_ns || got.end_ns != w.end_ns) {
			fprintf(stderr, "round trip of %s: %d %s\n", name, r, err.msg);
			tests_failed++;
			break;
		}

		/* The three forms of the same instant parse equal. */
		int64_t ns = -1;
		CHECK(window_format_time_rfc3339(a, t, sizeof(t)) > 0);
		CHECK_INT(window_parse_time(t, strlen(t), &ns, &err), 0);
		CHECK_INT(ns, a);
		snprintf(t, sizeof(t), "%lld.%09lld", (long long)(a / NS_PER_SEC),
			 (long long)(a % NS_PER_SEC));
		CHECK_INT(window_parse_time(t, strlen(t), &ns, &err), 0);
		CHECK_INT(ns, a);
		if (i % 16 == 0)
			check_against_gmtime(a);
	}

	/* Every day boundary of the range against gmtime_r. */
	for (int64_t d = 0; d < WINDOW_TIME_END_NS / NS_PER_SEC / 86400; d++)
		check_against_gmtime(d * 86400 * NS_PER_SEC + 86399 * NS_PER_SEC);
}

/* Days (/audit/<day>.csv): every day from 1970 to 2199 formats as gmtime says and parses
 * back to its midnight; impossible dates and anything not exactly YYYY-MM-DD are refused. */
static void test_days(void)
{
	char b[16], r[48];
	int wrong = 0;
	for (int64_t d = 0; d * 86400 * NS_PER_SEC < WINDOW_TIME_END_NS; d++) {
		int64_t ns = d * 86400 * NS_PER_SEC, back = -1;
		time_t t = (time_t)(d * 86400);
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(r, sizeof(r), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		if (window_format_day(ns, b, sizeof(b)) != 10 || strcmp(b, r) != 0 ||
		    window_parse_day(r, 10, &back) != 0 || back != ns)
			wrong++;
	}
	CHECK_INT(wrong, 0);
	static const char *const bad[] = {"2026-02-29", "2026-13-01", "2026-00-10", "1969-12-31",
					  "2026-1-011", "2200-01-01", "2024-02-30", "2026-11-2x",
					  "2026/11/22", "+026-11-22", "3024-02-29", "9999-12-31"};
	int64_t x;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(window_parse_day(bad[i], 10, &x), -EINVAL);
	CHECK_INT(window_parse_day("2024-02-29", 10, &x), 0);
	CHECK_INT(window_parse_day("2026-11-22x", 11, &x), -EINVAL);
	CHECK_INT(window_parse_day("2026-11-22", 9, &x), -EINVAL);
	CHECK_INT(window_format_day(0, b, 10), -ENOSPC);
}

int main(void)
{
	test_days();
	test_forms();
	test_calendar();
	test_range();
	test_not_names();
	test_name_length();
	test_order_and_width();
	test_format();
	test_random_round_trips();
	TESTS_DONE();
}

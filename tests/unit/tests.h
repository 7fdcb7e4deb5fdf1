/* tests.h — the assert macros of the unit tests: plain main(), one line per failure with
 * file and line, exit status 1 if anything failed (meson test reads it). */
#pragma once

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A test's scratch name "$TMPDIR/<name>-XXXXXX" in buf (/tmp when TMPDIR is unset, empty or
 * too long for buf), made a directory by mkdtemp (returns 0) or, with file set, a file by
 * mkstemp (returns its descriptor). Aborts on failure: a test without it has nothing to check. */
static inline int test_tmp(char *buf, size_t size, const char *name, int file)
{
	const char *t = getenv("TMPDIR");
	int fd = 0;
	if (!t || !*t || (size_t)snprintf(buf, size, "%s/%s-XXXXXX", t, name) >= size)
		snprintf(buf, size, "/tmp/%s-XXXXXX", name);
	if (file ? (fd = mkstemp(buf)) < 0 : !mkdtemp(buf)) {
		perror(buf);
		abort();
	}
	return fd;
}

static int tests_failed;

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			tests_failed++;                                                \
		}                                                                      \
	} while (0)

#define CHECK_INT(a, b)                                                                   \
	do {                                                                              \
		long long _a = (long long)(a), _b = (long long)(b);                       \
		if (_a != _b) {                                                           \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, \
				__LINE__, #a, _a, #b, _b);                                \
			tests_failed++;                                                   \
		}                                                                         \
	} while (0)

#define CHECK_STR(a, b)                                                                  \
	do {                                                                             \
		const char *_a = (a), *_b = (b);                                         \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                                 \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, \
				__LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)");   \
			tests_failed++;                                                  \
		}                                                                        \
	} while (0)

#define TESTS_DONE()                                                               \
	do {                                                                       \
		if (tests_failed) {                                                \
			fprintf(stderr, "%d check(s) failed\n", tests_failed);     \
			return 1;                                                  \
		}                                                                  \
		return 0;                                                          \
	} while (0)

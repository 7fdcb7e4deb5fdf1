/* errbuf.h — precise error messages from the library to the programs.
 *
 * Functions that can fail return a negative errno; when the caller passes a struct errbuf,
 * the failing function also describes what exactly was wrong ("packet 1234 at offset 5678:
 * caplen 70000 exceeds the file's snaplen 65535"). The library never prints; the programs
 * decide what to log. */
#pragma once

#include "util.h"

struct errbuf {
	char msg[512];
};

/* Format a message into e (if not NULL) and return -errnum, so that a failure reads
 * "return err_set(err, EINVAL, "...", ...);". errnum must be positive. */
int err_set(struct errbuf *e, int errnum, const char *fmt, ...) _printf_(3, 4);

/* Prefix the existing message: "segment 12: " + old message. Returns -errnum. */
int err_prefix(struct errbuf *e, int errnum, const char *fmt, ...) _printf_(3, 4);

static inline void err_clear(struct errbuf *e)
{
	if (e)
		e->msg[0] = 0;
}

/* audit.h — one Linux audit record (AUDIT_TRUSTED_APP) per open, refusal and close of a
 * window file, written through libaudit by one writer at a time.
 *
 * Record layout (docs/security.md): the header's pid/uid/auid are the daemon's, the caller
 * is in the message, uid= first (ausearch -ui skips an event whose uid= follows an o*=
 * field), every value that a user or a file controls hex-encoded (a path holding
 * "res=success" must not fool ausearch):
 *   uid=1001 gid=1001 acct=<hex user> caller_pid=4242 op=open device=<hex> window=<hex>
 *   path=<hex> decision=allow reason=<hex> [bytes=N duration_ms=N] res=success|failed
 *
 * libaudit returns success while logging nothing when the kernel has no audit support, the
 * process lacks CAP_AUDIT_WRITE, runs in a user namespace, or audit is disabled
 * (auditctl -e 0); auditlog_status() checks those conditions itself, asking the kernel at
 * every call (and auditlog_write before and after each record). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "errbuf.h"

enum audit_mode {
	AUDIT_REQUIRED = 0,    /* a record that cannot be written refuses the open */
	AUDIT_BEST_EFFORT = 1, /* serve anyway; the caller logs to syslog */
	AUDIT_OFF = 2,	       /* write nothing (tests, no audit wanted) */
};

struct audit_event {
	const char *op; /* "open", "close", "refuse", "lookup", "readdir" */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	const char *user;   /* may be NULL (unknown uid) */
	const char *device; /* may be NULL */
	const char *window; /* may be NULL */
	const char *path;
	bool granted;
	const char *reason;
	uint64_t bytes;	      /* close: bytes served; allowed open of a window: its size */
	int64_t duration_ns;  /* close: time the file was open */
	int64_t id;	      /* the query-log event id (event=), 0 when there is none */
	int64_t open_id;      /* close: the event id of its open (open_event=) */
};

struct auditlog;

/* Open the audit netlink socket. Never fails for lack of audit: *ret is always set when 0 is
 * returned; auditlog_status() says whether records can be written. */
int auditlog_open(enum audit_mode mode, struct auditlog **ret, struct errbuf *err);
void auditlog_close(struct auditlog *a);

/* 0 when records can be written now; -ENOSYS (no kernel audit support), -EPERM (no
 * CAP_AUDIT_WRITE), -ENODEV (audit disabled), with the reason in err. Asks the kernel for
 * the enabled state at every call. */
int auditlog_status(struct auditlog *a, struct errbuf *err);
/* The kernel's rate limit as of the last status: records a second, 0 for none.
 * auditlog_write refuses a record whose sending saw the kernel lose records (a full backlog
 * or the rate limit): -ENOBUFS. */
uint32_t auditlog_rate_limit(struct auditlog *a);

/* Format the message part of a record (for tests and the query log); returns its length or
 * -ENOSPC. */
int auditlog_format(const struct audit_event *ev, char *buf, size_t size);

/* Write one record. Returns 0 when written; otherwise a negative errno and why, and the
 * caller applies the mode: AUDIT_REQUIRED refuses, AUDIT_BEST_EFFORT serves and logs.
 * Serialized: libaudit is not thread-safe. */
int auditlog_write(struct auditlog *a, const struct audit_event *ev, struct errbuf *err);

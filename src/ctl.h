/* ctl.h — shared pieces of pcapfsctl, the administration command: global options, output
 * helpers (aligned tables, JSON, human units) and the command entry points. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "errbuf.h"
#include "spool.h"

struct ctl {
	const char *spool_path;
	bool json;
	bool quiet;
	int lock_timeout_ms;
	bool tty; /* stderr is a terminal: progress lines */
};

/* Print "pcapfsctl: <msg>" to stderr; returns the exit status to use (1). */
int ctl_fail(const char *fmt, ...) _printf_(1, 2);
/* Usage error: message plus a pointer to --help; exit status 2. */
int ctl_usage(const char *cmd, const char *fmt, ...) _printf_(2, 3);
/* After getopt said what is wrong with an option ("pcapfsctl CMD: unrecognized option..."):
 * only the pointer to --help; exit status 2. */
int ctl_bad_option(const char *cmd);

int ctl_open_spool(const struct ctl *c, int flags, struct spool **ret);
/* A user or group name (OWNER: "USER" or "@GROUP"; PRINCIPAL: "user:NAME" or "group:NAME")
 * that this system does not know now (NSS): a warning on stderr, since it may be known later
 * (a directory service) and the setting then applies. Not with --quiet. */
void ctl_warn_unknown_owner(const struct ctl *c, const char *owner);
void ctl_warn_unknown_principal(const struct ctl *c, const char *principal);
/* A segment or import id: a decimal number of 1 or more. 0, or -EINVAL (nothing said). */
int ctl_parse_id(const char *s, int64_t *ret);
/* Parse a time in any window grammar form, or "now" / "-" (open). */
int ctl_parse_time(const char *s, int64_t *ret, bool allow_open);
/* Parse "1h", "90m", "3600", "30s", "2d" into ns. */
int ctl_parse_duration(const char *s, int64_t *ret);
/* Parse "1G", "512M", "1048576" into bytes. */
int ctl_parse_size(const char *s, uint64_t *ret);

/* ---- output --------------------------------------------------------------------------- */

/* A table printed with aligned columns (people) or as a JSON array of objects (--json). */
struct table;
struct table *table_new(const char *const *columns, size_t n_columns);
/* Add a row of n_columns cells; numeric cells are right-aligned and unquoted in JSON.
 * Cells are copied. */
int table_add(struct table *t, const char *const *cells, const bool *numeric);
void table_print(struct table *t, FILE *f, bool json);
void table_free(struct table *t);

/* JSON helpers for objects written by hand. */
void json_string(FILE *f, const char *s);

void fmt_bytes(uint64_t b, char *buf, size_t size); /* "1.5 GiB" */
void fmt_count(uint64_t n, char *buf, size_t size); /* "1 234 567" -> "1234567" grouped */
void fmt_time(int64_t ns, char *buf, size_t size);  /* RFC 3339 or "-" for 0 */
void fmt_interval(int64_t from, int64_t until, char *buf, size_t size);

/* ---- commands ----------------------------------------------------------------------------- */
int cmd_init(struct ctl *c, int argc, char **argv);
int cmd_device(struct ctl *c, int argc, char **argv);
int cmd_import(struct ctl *c, int argc, char **argv);
int cmd_extract(struct ctl *c, int argc, char **argv);
int cmd_verify(struct ctl *c, int argc, char **argv);
int cmd_reindex(struct ctl *c, int argc, char **argv);
int cmd_status(struct ctl *c, int argc, char **argv);
int cmd_segments(struct ctl *c, int argc, char **argv);
int cmd_grant(struct ctl *c, int argc, char **argv);
int cmd_revoke(struct ctl *c, int argc, char **argv);
int cmd_acl(struct ctl *c, int argc, char **argv);
int cmd_explain(struct ctl *c, int argc, char **argv);
int cmd_limits(struct ctl *c, int argc, char **argv);
int cmd_audit(struct ctl *c, int argc, char **argv);

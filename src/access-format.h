/* access-format.h — query-log rows as text: the CSV that pcapfsctl audit --csv prints and
 * the mount serves as /audit/<day>.csv, one format for both (docs/security.md).
 *
 * Columns: id,time,op,result,user,uid,gid,pid,device,window,path,reason,bytes,duration_ms,
 * open_id. time is RFC 3339 UTC with nanoseconds; result is "allow" or "deny". Fields are
 * quoted as RFC 4180 says when they hold a comma, a quote or a line break; other control
 * characters are written as \xNN; a text field that a spreadsheet would take for a formula
 * (starting with = + - @) gets a leading apostrophe. */
#pragma once

#include <stdio.h>

#include "catalog.h"

void access_csv_header(FILE *f);
void access_csv_row(FILE *f, const struct access_row *r);
/* "2026-11-22T10:15:00.123456789Z" (buf of at least 40 bytes). */
void access_format_time(int64_t ns, char *buf, size_t size);

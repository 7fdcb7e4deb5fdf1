/* access-format.c — query-log rows as CSV (access-format.h). */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "access-format.h"

void access_format_time(int64_t ns, char *buf, size_t size)
{
	int64_t sec = ns / NS_PER_SEC, frac = ns % NS_PER_SEC;
	if (frac < 0) {
		frac += NS_PER_SEC;
		sec--;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, size, "@%" PRId64, ns);
		return;
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09" PRId64 "Z", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static void csv_text(FILE *f, const char *s)
{
	bool quote = strpbrk(s, ",\"\r\n") != NULL;
	if (quote)
		fputc('"', f);
	if (strchr("=+-@", s[0]) && s[0])
		fputc('\'', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"')
			fputs("\"\"", f);
		else if ((*p < 0x20 && *p != '\r' && *p != '\n') || *p == 0x7f)
			fprintf(f, "\\x%02X", *p);
		else
			fputc(*p, f);
	}
	if (quote)
		fputc('"', f);
}

void access_csv_header(FILE *f)
{
	fputs("id,time,op,result,user,uid,gid,pid,device,window,path,reason,bytes,duration_ms,"
	      "open_id\r\n", f);
}

void access_csv_row(FILE *f, const struct access_row *r)
{
	char t[48];
	access_format_time(r->ts_ns, t, sizeof(t));
	fprintf(f, "%" PRId64 ",%s,", r->id, t);
	csv_text(f, r->op);
	fprintf(f, ",%s,", r->allowed ? "allow" : "deny");
	csv_text(f, r->user);
	fprintf(f, ",%" PRIu32 ",%" PRIu32 ",%" PRId32 ",", r->uid, r->gid, r->pid);
	csv_text(f, r->device);
	fputc(',', f);
	csv_text(f, r->window);
	fputc(',', f);
	csv_text(f, r->path);
	fputc(',', f);
	csv_text(f, r->reason);
	/* Milliseconds with microseconds; the sign separately (a hostile row may hold any value). */
	uint64_t d = r->duration_ns < 0 ? (uint64_t)0 - (uint64_t)r->duration_ns : (uint64_t)r->duration_ns;
	fprintf(f, ",%" PRIu64 ",%s%" PRIu64 ".%03" PRIu64 ",%" PRId64 "\r\n", r->bytes,
		r->duration_ns < 0 ? "-" : "", d / 1000000, d % 1000000 / 1000, r->open_id);
}

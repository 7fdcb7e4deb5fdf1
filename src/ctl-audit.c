/* ctl-audit.c — pcapfsctl audit: search the query log (catalog-access.c) by field, a page
 * at a time, as a table, JSON or CSV (access-format.h). */
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "access-format.h"
#include "ctl.h"
#include "window.h"

#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX 1000000

static const char audit_help[] =
	"Usage: pcapfsctl [--spool DIR] [--json] audit [FILTERS] [--limit N] [--page N | --cursor ID]\n"
	"                 [--csv]\n"
	"\n"
	"Search the query log: every open and close of a file of the pcapfs filesystem and every\n"
	"refused access, as the mount recorded them (the same facts as its Linux audit records,\n"
	"with the same event id: event= in ausearch). Rows come oldest first.\n"
	"\n"
	"Filters (all given must match):\n"
	"  --user NAME         the caller's user name\n"
	"  --uid UID           the caller's uid\n"
	"  --device NAME       the device whose traffic was asked for\n"
	"  --op OP             open, close, lookup or opendir\n"
	"  --result R          allow or deny\n"
	"  --since TIME        at or after TIME\n"
	"  --until TIME        before TIME\n"
	"TIME: any form of the window grammar (20261122T101500Z, 2026-11-22T11:15:00+01:00, epoch\n"
	"seconds), a day (2026-11-22, its midnight UTC), 'now', or a duration before now (-1h,\n"
	"-30m, -7d).\n"
	"\n"
	"Pages:\n"
	"  --limit N           at most N rows (default 100, at most 1000000)\n"
	"  --page N            the Nth page of N rows (1 = the first)\n"
	"  --cursor ID         the rows after event ID: the cursor printed after a full page\n"
	"                      (stable while rows are being added, unlike --page)\n"
	"When a page is full, 'more: --cursor ID' is printed on standard error (the JSON output\n"
	"has it as next_cursor).\n"
	"\n"
	"Output: an aligned table; --json: {\"rows\": [...], \"next_cursor\": ID or null};\n"
	"--csv: the columns of the mount's /audit/<day>.csv files (id,time,op,result,user,uid,\n"
	"gid,pid,device,window,path,reason,bytes,duration_ms,open_id).\n"
	"\n"
	"bytes: for an allowed open of a window, the size of the file it opened; for a close,\n"
	"the bytes the filesystem served through that open (reads the kernel answers from its\n"
	"page cache, as for a file read again, are not among them); otherwise 0.\n"
	"\n"
	"Reading the query log needs read access to the catalogue (root, or the spool's group).\n"
	"Examples:\n"
	"  pcapfsctl audit --user alice --since -1d\n"
	"  pcapfsctl audit --device cam-1 --op open --since 2026-11-01 --until 2026-12-01 --csv\n"
	"  pcapfsctl audit --result deny --limit 50 --cursor 1234\n";

struct audit_out {
	enum { OUT_TABLE, OUT_JSON, OUT_CSV } mode;
	struct table *t;
	uint64_t limit, n;
	int64_t last_id;
	bool more;
};

static int audit_time(const char *s, int64_t *ret)
{
	int64_t d;
	if (s[0] == '-' && s[1]) {
		if (ctl_parse_duration(s + 1, &d) < 0)
			return -EINVAL;
		*ret = now_ns() - d;
		return 0;
	}
	/* A day: its midnight, UTC. */
	if (strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
		if (window_parse_day(s, 10, ret) < 0) {
			ctl_fail("invalid day '%s' (YYYY-MM-DD, from 1970 on)", s);
			return -EINVAL;
		}
		return 0;
	}
	return ctl_parse_time(s, ret, false);
}

static void json_row(const struct access_row *r, bool first)
{
	char t[48];
	access_format_time(r->ts_ns, t, sizeof(t));
	printf("%s\n  {\"id\": %" PRId64 ", \"time\": \"%s\", \"op\": ", first ? "" : ",", r->id, t);
	json_string(stdout, r->op);
	printf(", \"result\": \"%s\", \"user\": ", r->allowed ? "allow" : "deny");
	json_string(stdout, r->user);
	printf(", \"uid\": %" PRIu32 ", \"gid\": %" PRIu32 ", \"pid\": %" PRId32 ", \"device\": ",
	       r->uid, r->gid, r->pid);
	json_string(stdout, r->device);
	fputs(", \"window\": ", stdout);
	json_string(stdout, r->window);
	fputs(", \"path\": ", stdout);
	json_string(stdout, r->path);
	fputs(", \"reason\": ", stdout);
	json_string(stdout, r->reason);
	printf(", \"bytes\": %" PRIu64 ", \"duration_ms\": %.3f, \"open_id\": %" PRId64 "}", r->bytes,
	       (double)r->duration_ns / 1e6, r->open_id);
}

static int audit_row(const struct access_row *r, void *userdata)
{
	struct audit_out *o = userdata;
	/* One row more than a page was asked for: it only says that there is more. */
	if (o->n == o->limit) {
		o->more = true;
		return 0;
	}
	o->n++;
	o->last_id = r->id;
	if (o->mode != OUT_TABLE) {
		if (o->mode == OUT_CSV)
			access_csv_row(stdout, r);
		else
			json_row(r, o->n == 1);
		return ferror(stdout) ? -EIO : 0;
	}
	/* The table: what a person scans for; the rest is in --json and --csv. */
	char id[24], t[48], uid[16], bytes[24];
	snprintf(id, sizeof(id), "%" PRId64, r->id);
	access_format_time(r->ts_ns, t, sizeof(t));
	snprintf(uid, sizeof(uid), "%" PRIu32, r->uid);
	snprintf(bytes, sizeof(bytes), "%" PRIu64, r->bytes);
	const char *cells[] = {id, t, r->op, r->allowed ? "allow" : "deny",
			       r->user[0] ? r->user : uid, r->device[0] ? r->device : "-",
			       r->window[0] ? r->window : r->path,
			       strcmp(r->op, "close") && !(strcmp(r->op, "open") == 0 && r->allowed && r->bytes)
				       ? ""
				       : bytes,
			       r->reason};
	static const bool numeric[] = {true, false, false, false, false, false, false, true, false};
	return table_add(o->t, cells, numeric);
}

int cmd_audit(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"user", required_argument, NULL, 'u'},	  {"uid", required_argument, NULL, 'U'},
		{"device", required_argument, NULL, 'd'}, {"op", required_argument, NULL, 'o'},
		{"result", required_argument, NULL, 'r'}, {"since", required_argument, NULL, 'S'},
		{"until", required_argument, NULL, 'T'},  {"limit", required_argument, NULL, 'l'},
		{"page", required_argument, NULL, 'p'},	  {"cursor", required_argument, NULL, 'c'},
		{"csv", no_argument, NULL, 'C'},	  {"help", no_argument, NULL, 'h'},
		{0},
	};
	struct access_filter f = {.uid = -1, .allowed = -1, .since_ns = INT64_MIN};
	uint64_t limit = AUDIT_LIMIT_DEFAULT, page = 0;
	bool csv = false;
	int o;
	char *end;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			if (!*optarg || strlen(optarg) > ACCESS_USER_MAX)
				return ctl_usage("audit", "--user: a user name of 1..%d bytes", ACCESS_USER_MAX);
			f.user = optarg;
			break;
		case 'U': {
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' || v > UINT32_MAX)
				return ctl_usage("audit", "--uid: a number from 0 to %" PRIu32, UINT32_MAX);
			f.uid = (int64_t)v;
			break;
		}
		case 'd': {
			struct errbuf err;
			if (device_name_check(optarg, &err) < 0)
				return ctl_usage("audit", "--device: %s", err.msg);
			f.device = optarg;
			break;
		}
		case 'o': { /* in any case: OPEN is open */
			static const char *const ops[] = {"open", "close", "lookup", "opendir"};
			f.op = NULL;
			for (size_t i = 0; i < ELEMENTSOF(ops); i++)
				if (strcasecmp(optarg, ops[i]) == 0)
					f.op = ops[i];
			if (!f.op)
				return ctl_usage("audit", "--op: open, close, lookup or opendir");
			break;
		}
		case 'r':
			if (strcasecmp(optarg, "allow") == 0)
				f.allowed = 1;
			else if (strcasecmp(optarg, "deny") == 0)
				f.allowed = 0;
			else
				return ctl_usage("audit", "--result: allow or deny");
			break;
		case 'S':
			if (audit_time(optarg, &f.since_ns) < 0)
				return 2;
			break;
		case 'T':
			if (audit_time(optarg, &f.until_ns) < 0)
				return 2;
			break;
		case 'l':
			errno = 0;
			limit = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' || limit < 1 || limit > AUDIT_LIMIT_MAX)
				return ctl_usage("audit", "--limit: 1..%d", AUDIT_LIMIT_MAX);
			break;
		case 'p':
			errno = 0;
			page = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' || page < 1 || page > UINT32_MAX)
				return ctl_usage("audit", "--page: 1 or more");
			break;
		case 'c': {
			errno = 0;
			long long v = strtoll(optarg, &end, 10);
			if (errno || *end || !*optarg || v < 0)
				return ctl_usage("audit", "--cursor: an event id");
			f.after_id = v;
			break;
		}
		case 'C':
			csv = true;
			break;
		case 'h':
			fputs(audit_help, stdout);
			return 0;
		default:
			return ctl_bad_option("audit");
		}
	}
	if (optind < argc)
		return ctl_usage("audit", "unexpected argument '%s'", argv[optind]);
	if (page && f.after_id)
		return ctl_usage("audit", "--page and --cursor exclude each other");
	/* Rows keep the names of users removed since; a name unknown now may be a typo. */
	if (f.user && !c->quiet && !getpwnam(f.user))
		fprintf(stderr, "pcapfsctl: note: this system knows no user named '%s' now; rows of "
				"that name are shown all the same\n", f.user);
	if (csv && c->json)
		return ctl_usage("audit", "--csv and --json exclude each other");
	if (f.until_ns && f.until_ns <= f.since_ns)
		return ctl_usage("audit", "--until must be after --since");
	if (page && (page - 1) > UINT64_MAX / limit)
		return ctl_usage("audit", "--page too large");
	f.offset = page ? (page - 1) * limit : 0;
	f.limit = limit + 1; /* one more: is there a next page? */

	struct spool *sp;
	if (ctl_open_spool(c, SPOOL_RDONLY, &sp) < 0)
		return 1;
	static const char *const columns[] = {"EVENT", "TIME", "OP", "RESULT", "USER",
					      "DEVICE", "WINDOW/PATH", "BYTES", "REASON"};
	struct audit_out out = {.mode = csv ? OUT_CSV : c->json ? OUT_JSON : OUT_TABLE, .limit = limit};
	if (out.mode == OUT_TABLE) {
		out.t = table_new(columns, ELEMENTSOF(columns));
		if (!out.t) {
			spool_close(sp);
			return ctl_fail("out of memory");
		}
	} else if (out.mode == OUT_CSV) {
		access_csv_header(stdout);
	} else {
		fputs("{\"rows\": [", stdout);
	}
	struct errbuf err = {{0}};
	int e = catalog_access_foreach(sp->cat, &f, audit_row, &out, &err);
	bool more = out.more;
	spool_close(sp);
	if (out.mode == OUT_TABLE) {
		if (e == 0)
			table_print(out.t, stdout, false);
		table_free(out.t);
	} else if (out.mode == OUT_JSON) {
		if (more)
			printf("%s], \"next_cursor\": %" PRId64 "}\n", out.n ? "\n" : "", out.last_id);
		else
			printf("%s], \"next_cursor\": null}\n", out.n ? "\n" : "");
	}
	if (e < 0)
		return ctl_fail("%s", err.msg[0] ? err.msg : strerror(-e));
	if (fflush(stdout) != 0 || ferror(stdout))
		return ctl_fail("writing the output: %s", strerror(errno));
	if (more && !c->quiet)
		fprintf(stderr, "more: --cursor %" PRId64 " (or --page %" PRIu64 ")\n", out.last_id,
			page ? page + 1 : 2);
	return 0;
}

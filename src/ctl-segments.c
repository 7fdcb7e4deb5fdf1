/* ctl-segments.c — pcapfsctl segments: the segment files of the spool, one row each, as a
 * table or JSON, filtered by interface, time and import. */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "ctl.h"

static const char segments_help[] =
	"Usage: pcapfsctl [--spool DIR] [--json] segments [--interface NAME] [--from TIME]\n"
	"                 [--until TIME] [--import ID]\n"
	"\n"
	"List the spool's segments in id order: id, interface, state (open: being written;\n"
	"sealed), first and last packet, packets, bytes of the file, the import that wrote it\n"
	"(live: the capture daemon) and its file under the spool directory. The ids are those\n"
	"verify, reindex --segment and verify --segment use.\n"
	"\n"
	"  --interface NAME   only this interface's segments\n"
	"  --from TIME        only segments with packets at or after TIME\n"
	"  --until TIME       only segments with packets before TIME\n"
	"  --import ID        only the segments import ID wrote\n";

struct seg_ctx {
	struct table *t;
	const char *iface;
	int64_t from, until, import_id;
};

static int seg_row(const struct segment *s, void *userdata)
{
	struct seg_ctx *x = userdata;
	if (x->iface && strcmp(s->interface, x->iface) != 0)
		return 0;
	if (x->import_id && s->import_id != x->import_id)
		return 0;
	/* An open segment's row spans its period from t_first on: its end is not known. */
	if (s->state == SEGMENT_SEALED && s->t_last < x->from)
		return 0;
	if (s->t_first >= x->until)
		return 0;
	char id[24], first[48], last[48], pk[24], by[24], imp[24], path[300];
	snprintf(id, sizeof(id), "%" PRId64, s->id);
	fmt_time(s->t_first, first, sizeof(first));
	if (s->state == SEGMENT_SEALED)
		fmt_time(s->t_last, last, sizeof(last));
	else
		snprintf(last, sizeof(last), "-");
	snprintf(pk, sizeof(pk), "%" PRIu64, s->packets);
	snprintf(by, sizeof(by), "%" PRIu64, s->bytes);
	if (s->import_id)
		snprintf(imp, sizeof(imp), "%" PRId64, s->import_id);
	else
		snprintf(imp, sizeof(imp), "live");
	snprintf(path, sizeof(path), "%s.pcap", s->path);
	const char *cells[] = {id, s->interface, s->state == SEGMENT_SEALED ? "sealed" : "open",
			       first, last, pk, by, imp, path};
	static const bool num[] = {true, false, false, false, false, true, true, false, false};
	return table_add(x->t, cells, num);
}

int cmd_segments(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"interface", required_argument, NULL, 'i'},
		{"from", required_argument, NULL, 'F'},
		{"until", required_argument, NULL, 'U'},
		{"import", required_argument, NULL, 'I'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct seg_ctx x = {.from = INT64_MIN, .until = INT64_MAX};
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'i':
			x.iface = optarg;
			break;
		case 'F':
			if (ctl_parse_time(optarg, &x.from, false) < 0)
				return 2;
			break;
		case 'U':
			if (ctl_parse_time(optarg, &x.until, false) < 0)
				return 2;
			break;
		case 'I':
			if (ctl_parse_id(optarg, &x.import_id) < 0)
				return ctl_usage("segments", "--import takes an import id");
			break;
		case 'h':
			fputs(segments_help, stdout);
			return 0;
		default:
			return ctl_bad_option("segments");
		}
	}
	if (optind != argc)
		return ctl_usage("segments", "unexpected argument '%s'", argv[optind]);
	if (x.from >= x.until)
		return ctl_usage("segments", "--from must be before --until");
	struct spool *sp;
	if (ctl_open_spool(c, SPOOL_RDONLY, &sp) < 0)
		return 1;
	static const char *cols[] = {"id", "interface", "state", "first", "last", "packets", "bytes",
				     "import", "file"};
	x.t = table_new(cols, ELEMENTSOF(cols));
	struct errbuf err = {{0}};
	int e = x.t ? catalog_segment_foreach(sp->cat, -1, seg_row, &x, &err) : -ENOMEM;
	if (e == 0)
		table_print(x.t, stdout, c->json);
	table_free(x.t);
	spool_close(sp);
	return e < 0 ? ctl_fail("%s", err.msg[0] ? err.msg : strerror(-e)) : 0;
}

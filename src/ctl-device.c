/* ctl-device.c — pcapfsctl device add|set|list|show|rm: the device registry. */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "ctl.h"
#include "window.h"

#define MAX_ARGS_PER_KIND 256

static const char device_help[] =
	"Usage: pcapfsctl [--spool DIR] device add NAME [OPTIONS]\n"
	"       pcapfsctl [--spool DIR] device set NAME [OPTIONS]\n"
	"       pcapfsctl [--spool DIR] [--json] device list\n"
	"       pcapfsctl [--spool DIR] [--json] device show NAME\n"
	"       pcapfsctl [--spool DIR] device rm NAME\n"
	"\n"
	"A device is a name for the traffic of one host: every packet whose source or destination\n"
	"MAC, IPv4 or IPv6 address (or an address inside one of its networks) belongs to the\n"
	"device at capture time. Addresses are valid over an interval, so an address that moves to\n"
	"another host is released from one device and added to the other at the time it moved.\n"
	"Classification happens when packets are written; run 'pcapfsctl reindex --all' to apply\n"
	"registry changes to data already captured. rm removes a device with its address\n"
	"bindings, tags and grants, and says how many; its packets stay in their segments.\n"
	"\n"
	"NAME: 1-64 characters of A-Z a-z 0-9 . _ -, not starting with '.' or '-'.\n"
	"\n"
	"Options of add and set:\n"
	"  --mac MAC              a MAC address, 02:00:00:00:00:01 (repeatable)\n"
	"  --ip ADDRESS           an IPv4 or IPv6 address (repeatable)\n"
	"  --net CIDR             a network, 10.20.0.0/16 or fd00::/64 (repeatable)\n"
	"  --from TIME            the addresses given are valid from TIME (default: always)\n"
	"  --until TIME           ... until TIME, exclusive (default: forever)\n"
	"  --owner USER|@GROUP    the user or group that owns the device ('' for none)\n"
	"  --tag TAG              add a tag (repeatable)\n"
	"  --description TEXT     free text (at most 1024 bytes)\n"
	"Options of set only:\n"
	"  --untag TAG            remove a tag (repeatable)\n"
	"  --release ADDRESS      end the binding of ADDRESS (or CIDR) that is valid at --at\n"
	"  --at TIME              when released addresses stop belonging (default: now)\n"
	"\n"
	"An exact address (MAC or IP) belongs to at most one device at any time: adding one that\n"
	"another device holds over an overlapping interval is refused. Networks may overlap.\n";

struct addr_opt {
	struct addr a;
	const char *text;
};

struct device_opts {
	struct addr_opt add[MAX_ARGS_PER_KIND];
	size_t n_add;
	struct addr_opt release[MAX_ARGS_PER_KIND];
	size_t n_release;
	const char *tags[MAX_ARGS_PER_KIND];
	size_t n_tags;
	const char *untags[MAX_ARGS_PER_KIND];
	size_t n_untags;
	const char *owner, *description;
	int64_t from, until, at;
};

static int parse_addr_opt(const char *kind, const char *text, struct addr_opt *ret)
{
	struct errbuf err;
	if (addr_parse(text, &ret->a, &err) < 0)
		return ctl_usage("device", "--%s %s: %s", kind, text, err.msg);
	bool is_mac = ret->a.family == ADDR_MAC;
	if (strcmp(kind, "mac") == 0 && !is_mac)
		return ctl_usage("device", "--mac %s is not a MAC address", text);
	if (strcmp(kind, "ip") == 0 && is_mac)
		return ctl_usage("device", "--ip %s is a MAC address (use --mac)", text);
	if (strcmp(kind, "ip") == 0 && addr_is_cidr(&ret->a))
		return ctl_usage("device", "--ip %s is not a single IP address (use --net for networks)",
				 text);
	if (strcmp(kind, "net") == 0 && is_mac)
		return ctl_usage("device", "--net %s is not a network", text);
	ret->text = text;
	return 0;
}

static int parse_device_opts(int argc, char **argv, bool is_set, struct device_opts *d)
{
	static const struct option opts[] = {
		{"mac", required_argument, NULL, 'm'},	   {"ip", required_argument, NULL, 'i'},
		{"net", required_argument, NULL, 'n'},	   {"from", required_argument, NULL, 'f'},
		{"until", required_argument, NULL, 'u'},   {"owner", required_argument, NULL, 'o'},
		{"tag", required_argument, NULL, 't'},	   {"untag", required_argument, NULL, 'T'},
		{"description", required_argument, NULL, 'd'},
		{"release", required_argument, NULL, 'r'}, {"at", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},	   {0},
	};
	*d = (struct device_opts){.from = 0, .until = TIME_INFINITY, .at = now_ns()};
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (strchr("Tra", o) && !is_set)
			return ctl_usage("device", "--untag, --release and --at belong to 'device set'");
		switch (o) {
		case 'm':
		case 'i':
		case 'n':
			if (d->n_add == MAX_ARGS_PER_KIND)
				return ctl_usage("device", "too many addresses in one command");
			if (parse_addr_opt(o == 'm' ? "mac" : o == 'i' ? "ip" : "net", optarg,
					   &d->add[d->n_add++]) != 0)
				return 2;
			break;
		case 'r':
			if (d->n_release == MAX_ARGS_PER_KIND)
				return ctl_usage("device", "too many --release");
			if (parse_addr_opt("release", optarg, &d->release[d->n_release++]) != 0)
				return 2;
			break;
		case 'f':
			if (ctl_parse_time(optarg, &d->from, false) < 0)
				return 2;
			break;
		case 'u':
			if (ctl_parse_time(optarg, &d->until, true) < 0)
				return 2;
			break;
		case 'a':
			if (ctl_parse_time(optarg, &d->at, false) < 0)
				return 2;
			break;
		case 'o':
			d->owner = optarg;
			break;
		case 'd':
			d->description = optarg;
			break;
		case 't':
			if (d->n_tags == MAX_ARGS_PER_KIND)
				return ctl_usage("device", "too many --tag");
			d->tags[d->n_tags++] = optarg;
			break;
		case 'T':
			if (d->n_untags == MAX_ARGS_PER_KIND)
				return ctl_usage("device", "too many --untag");
			d->untags[d->n_untags++] = optarg;
			break;
		case 'h':
			fputs(device_help, stdout);
			return 1;
		default:
			return ctl_bad_option("device");
		}
	}
	if (d->from >= d->until)
		return ctl_usage("device", "--from must be before --until");
	return 0;
}

/* Apply everything in one transaction: all or nothing. */
static int apply(struct ctl *c, const char *name, bool create, const struct device_opts *d)
{
	struct spool *sp;
	if (ctl_open_spool(c, SPOOL_NO_RECOVER, &sp) < 0)
		return 1;
	struct catalog *cat = sp->cat;
	struct errbuf err = {{0}};
	int64_t id = 0;
	int e = catalog_begin(cat, &err);
	if (e < 0)
		goto out;
	if (create) {
		e = catalog_device_add(cat, name, d->owner ? d->owner : "",
				       d->description ? d->description : "", &id, &err);
	} else {
		struct device dev = {0};
		e = catalog_device_get(cat, name, &dev, &err);
		id = dev.id;
		device_done(&dev);
		if (e == 0 && (d->owner || d->description))
			e = catalog_device_update(cat, id, d->owner, d->description, &err);
	}
	for (size_t i = 0; e == 0 && i < d->n_release; i++)
		e = catalog_address_release(cat, id, &d->release[i].a, d->at, &err);
	for (size_t i = 0; e == 0 && i < d->n_add; i++)
		e = catalog_address_add(cat, id, &d->add[i].a, d->from, d->until, &err);
	for (size_t i = 0; e == 0 && i < d->n_tags; i++)
		e = catalog_tag_add(cat, id, d->tags[i], &err);
	for (size_t i = 0; e == 0 && i < d->n_untags; i++)
		e = catalog_tag_remove(cat, id, d->untags[i], &err);
	if (e == 0)
		e = catalog_commit(cat, &err);
	else
		catalog_rollback(cat);
out:
	spool_close(sp);
	if (e < 0)
		return ctl_fail("%s", err.msg[0] ? err.msg : strerror(-e));
	ctl_warn_unknown_owner(c, d->owner);
	return 0;
}

static void addr_summary(const struct device *d, int64_t now, char *buf, size_t size)
{
	size_t o = 0;
	buf[0] = 0;
	for (size_t i = 0; i < d->n_addrs; i++) {
		const struct device_addr *a = &d->addrs[i];
		if (a->from_ns > now || a->until_ns <= now)
			continue;
		char t[ADDR_BUF];
		addr_format(&a->addr, t, sizeof(t));
		int n = snprintf(buf + o, size - o, "%s%s", o ? "," : "", t);
		if (n < 0 || (size_t)n >= size - o) {
			snprintf(buf + (size > 4 ? size - 4 : 0), MIN(size, 4), "...");
			return;
		}
		o += (size_t)n;
	}
}

struct list_ctx {
	struct catalog *cat;
	struct table *t;
	int64_t now;
};

static int list_one(const struct device *d, void *userdata)
{
	struct list_ctx *l = userdata;
	struct device_totals tot;
	struct errbuf err;
	int e = catalog_device_totals(l->cat, d->id, &tot, &err);
	if (e < 0)
		return e;
	char tags[1024] = "", addrs[1024], pk[32], by[32], first[48], last[48];
	for (size_t i = 0, o = 0; i < d->n_tags && o < sizeof(tags); i++)
		o += (size_t)snprintf(tags + o, sizeof(tags) - o, "%s%s", i ? "," : "", d->tags[i]);
	addr_summary(d, l->now, addrs, sizeof(addrs));
	snprintf(pk, sizeof(pk), "%" PRIu64, tot.packets);
	snprintf(by, sizeof(by), "%" PRIu64, tot.bytes);
	fmt_time(tot.t_first, first, sizeof(first));
	fmt_time(tot.t_last, last, sizeof(last));
	const char *cells[] = {d->name, d->owner, tags, addrs, pk, by, first, last};
	static const bool num[] = {false, false, false, false, true, true, false, false};
	return table_add(l->t, cells, num);
}

static int cmd_list(struct ctl *c)
{
	struct spool *sp;
	if (ctl_open_spool(c, SPOOL_RDONLY, &sp) < 0)
		return 1;
	static const char *cols[] = {"name", "owner", "tags", "addresses", "packets", "bytes", "first", "last"};
	struct list_ctx l = {.cat = sp->cat, .t = table_new(cols, ELEMENTSOF(cols)), .now = now_ns()};
	struct errbuf err = {{0}};
	int e = l.t ? catalog_device_foreach(sp->cat, list_one, &l, &err) : -ENOMEM;
	if (e == 0)
		table_print(l.t, stdout, c->json);
	table_free(l.t);
	spool_close(sp);
	return e < 0 ? ctl_fail("%s", err.msg[0] ? err.msg : strerror(-e)) : 0;
}

static int cmd_show(struct ctl *c, const char *name)
{
	struct spool *sp;
	if (ctl_open_spool(c, SPOOL_RDONLY, &sp) < 0)
		return 1;
	struct device d = {0};
	struct device_totals tot = {0};
	struct errbuf err = {{0}};
	int e = catalog_device_get(sp->cat, name, &d, &err);
	if (e == 0)
		e = catalog_device_totals(sp->cat, d.id, &tot, &err);
	if (e < 0) {
		spool_close(sp);
		return ctl_fail("%s", err.msg[0] ? err.msg : strerror(-e));
	}
	char first[48], last[48], created[48];
	fmt_time(tot.t_first, first, sizeof(first));
	fmt_time(tot.t_last, last, sizeof(last));
	fmt_time(d.created_ns, created, sizeof(created));
	if (c->json) {
		printf("{\"name\": ");
		json_string(stdout, d.name);
		printf(", \"id\": %" PRId64 ", \"owner\": ", d.id);
		json_string(stdout, d.owner);
		printf(", \"description\": ");
		json_string(stdout, d.description);
		printf(", \"created\": ");
		json_string(stdout, created);
		printf(", \"tags\": [");
		for (size_t i = 0; i < d.n_tags; i++) {
			printf(i ? ", " : "");
			json_string(stdout, d.tags[i]);
		}
		printf("], \"addresses\": [");
		for (size_t i = 0; i < d.n_addrs; i++) {
			char a[ADDR_BUF], f[48], u[48];
			addr_format(&d.addrs[i].addr, a, sizeof(a));
			if (d.addrs[i].from_ns <= 0)
				snprintf(f, sizeof(f), "-");
			else
				fmt_time(d.addrs[i].from_ns, f, sizeof(f));
			if (d.addrs[i].until_ns == TIME_INFINITY)
				snprintf(u, sizeof(u), "-");
			else
				fmt_time(d.addrs[i].until_ns, u, sizeof(u));
			printf("%s{\"address\": ", i ? ", " : "");
			json_string(stdout, a);
			printf(", \"from\": ");
			json_string(stdout, f);
			printf(", \"until\": ");
			json_string(stdout, u);
			printf("}");
		}
		printf("], \"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"segments\": %" PRIu64
		       ", \"first\": ",
		       tot.packets, tot.bytes, tot.segments);
		json_string(stdout, first);
		printf(", \"last\": ");
		json_string(stdout, last);
		printf("}\n");
	} else {
		char pk[32], by[32];
		fmt_count(tot.packets, pk, sizeof(pk));
		fmt_bytes(tot.bytes, by, sizeof(by));
		printf("Device:       %s (id %" PRId64 ")\n", d.name, d.id);
		printf("Owner:        %s\n", d.owner[0] ? d.owner : "-");
		printf("Description:  %s\n", d.description[0] ? d.description : "-");
		printf("Tags:         ");
		for (size_t i = 0; i < d.n_tags; i++)
			printf("%s%s", i ? ", " : "", d.tags[i]);
		printf("%s\nCreated:      %s\n", d.n_tags ? "" : "-", created);
		printf("Traffic:      %s packets, %s in %" PRIu64 " segments\n", pk, by, tot.segments);
		printf("First, last:  %s, %s\n", first, last);
		printf("Addresses:\n");
		static const char *cols[] = {"address", "valid"};
		struct table *t = table_new(cols, 2);
		for (size_t i = 0; t && i < d.n_addrs; i++) {
			char a[ADDR_BUF], iv[128];
			addr_format(&d.addrs[i].addr, a, sizeof(a));
			fmt_interval(d.addrs[i].from_ns, d.addrs[i].until_ns, iv, sizeof(iv));
			const char *cells[] = {a, iv};
			table_add(t, cells, NULL);
		}
		if (t)
			table_print(t, stdout, false);
		table_free(t);
	}
	device_done(&d);
	spool_close(sp);
	return 0;
}

static int cmd_rm(struct ctl *c, const char *name)
{
	struct spool *sp;
	if (ctl_open_spool(c, SPOOL_NO_RECOVER, &sp) < 0)
		return 1;
	struct device d = {0};
	struct errbuf err = {{0}};
	struct device_totals tot = {0};
	struct grant *grants = NULL;
	size_t n_grants = 0, n_own = 0;
	int e = catalog_begin(sp->cat, &err);
	if (e == 0) {
		e = catalog_device_get(sp->cat, name, &d, &err);
		if (e == 0)
			e = catalog_device_totals(sp->cat, d.id, &tot, &err);
		if (e == 0)
			e = catalog_grants_load(sp->cat, &grants, &n_grants, &err);
		if (e == 0)
			e = catalog_device_remove(sp->cat, d.id, &err);
		if (e == 0)
			e = catalog_commit(sp->cat, &err);
		else
			catalog_rollback(sp->cat);
	}
	for (size_t i = 0; i < n_grants; i++)
		n_own += strcmp(grants[i].target, d.name) == 0;
	free(grants);
	/* What went with it, and what did not: its packets stay in their segments. */
	if (e == 0 && c->json)
		printf("{\"removed\": \"%s\", \"addresses\": %zu, \"tags\": %zu, \"grants\": %zu, "
		       "\"packets\": %" PRIu64 "}\n",
		       d.name, d.n_addrs, d.n_tags, n_own, tot.packets); /* names need no escaping */
	else if (e == 0 && !c->quiet)
		printf("removed device %s, with its %zu address binding(s), %zu tag(s) and %zu grant(s); "
		       "its %" PRIu64 " stored packets stay in their segments, filed under no device "
		       "until a device added for their addresses is applied to them with "
		       "'pcapfsctl reindex --all'\n",
		       d.name, d.n_addrs, d.n_tags, n_own, tot.packets);
	device_done(&d);
	spool_close(sp);
	return e < 0 ? ctl_fail("%s", err.msg[0] ? err.msg : strerror(-e)) : 0;
}

int cmd_device(struct ctl *c, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(device_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	argc--;
	argv++;
	if (strcmp(sub, "list") == 0) {
		if (argc > 1)
			return ctl_usage("device", "device list takes no arguments");
		return cmd_list(c);
	}
	bool add = strcmp(sub, "add") == 0, set = strcmp(sub, "set") == 0;
	if (!add && !set && strcmp(sub, "show") != 0 && strcmp(sub, "rm") != 0)
		return ctl_usage("device", "unknown subcommand '%s' (add, set, list, show, rm)", sub);
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
			fputs(device_help, stdout);
			return 0;
		}
		if (argc >= 2) {
			const char *what = strcmp(argv[1], "--") == 0 && argc >= 3 ? argv[2] : argv[1];
			return ctl_usage("device", "device %s needs a device NAME first, and a name does "
					 "not start with '-' ('%s')", sub, what);
		}
		return ctl_usage("device", "device %s needs a device NAME", sub);
	}
	const char *name = argv[1];
	struct errbuf err;
	if (device_name_check(name, &err) < 0)
		return ctl_usage("device", "%s", err.msg);
	if (!add && !set) {
		if (argc > 2)
			return ctl_usage("device", "unexpected argument '%s'", argv[2]);
		return strcmp(sub, "show") == 0 ? cmd_show(c, name) : cmd_rm(c, name);
	}
	/* Options follow the name: let getopt see "NAME --opt ..." as argv[0] + options, and
	 * name the command in its messages. */
	static char prog[32];
	snprintf(prog, sizeof(prog), "pcapfsctl device %s", add ? "add" : "set");
	argv[1] = prog;
	static struct device_opts d;
	optind = 0; /* 0, not 1: glibc then forgets the "+" (stop at the first non-option) of main */
	int r = parse_device_opts(argc - 1, argv + 1, set, &d);
	if (r == 1)
		return 0;
	if (r != 0)
		return r;
	if (optind != argc - 1)
		return ctl_usage("device", "unexpected argument '%s'", argv[optind + 1]);
	return apply(c, name, add, &d);
}

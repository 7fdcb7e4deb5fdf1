/* ctl.c — pcapfsctl: global options, dispatch, help, and the small commands (init, status). */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "units.h"
#include "window.h"

static const char usage_text[] =
	"Usage: pcapfsctl [--spool DIR] [--json] [--lock-timeout MS] COMMAND [ARGS...]\n"
	"\n"
	"Administer a pcapfs spool: the store of captured packets, indexed by device and time,\n"
	"that the pcapfs filesystem serves as /pcap/<device>/<start>--<end>.pcap.\n"
	"\n"
	"Commands:\n"
	"  init [--precision us|ns] [--segment-seconds N] [--segment-size SIZE]\n"
	"       [--max-window DURATION] [--snaplen N]\n"
	"      Create a new spool.\n"
	"  device add NAME [ADDRESS OPTIONS] [--owner USER|@GROUP] [--tag TAG]...\n"
	"       [--description TEXT]\n"
	"  device set NAME [ADDRESS OPTIONS] [--owner ...] [--description ...] [--tag TAG]...\n"
	"       [--untag TAG]... [--release ADDRESS [--at TIME]]...\n"
	"  device list\n"
	"  device show NAME\n"
	"  device rm NAME\n"
	"      Manage the device registry. ADDRESS OPTIONS: --mac MAC, --ip ADDRESS (IPv4 or\n"
	"      IPv6), --net CIDR, each repeatable, valid from --from TIME (default: always)\n"
	"      until --until TIME (default: forever).\n"
	"  import [--interface NAME] [--progress|--no-progress] [--force] FILE...\n"
	"  import --remove ID\n"
	"      Import pcap or pcapng files ('-' reads standard input); remove what an import\n"
	"      stored.\n"
	"  extract DEVICE WINDOW [-o FILE] [--size]\n"
	"      Write the device's packets in WINDOW as a pcap file (standard output by default).\n"
	"  verify [--segment ID]\n"
	"      Check every segment and index; report precisely what is wrong.\n"
	"  reindex [--segment ID] [--all]\n"
	"      Rebuild indexes from the segments and the current registry: the damaged ones\n"
	"      (default) or all of them (--all, after registry changes meant to apply to data\n"
	"      already captured).\n"
	"  status\n"
	"      Spool settings, segments, devices, time range and disk use.\n"
	"  segments [--interface NAME] [--from TIME] [--until TIME] [--import ID]\n"
	"      The segment files, one row each, with the ids verify and reindex use.\n"
	"  grant PRINCIPAL TARGET, revoke PRINCIPAL TARGET\n"
	"      Let user:NAME or group:NAME read a device, tag:TAG or * (or stop it).\n"
	"  acl list [--device NAME | --user NAME]\n"
	"      Grants and owners.\n"
	"  explain --uid UID|USER PATH\n"
	"      Which rule allows or denies a user reading a path or a device.\n"
	"  limits, limits set ROLE [--max-width DURATION|none] [--max-lookback DURATION|none]\n"
	"      Window limits per role (user, auditor, admin): show or set them.\n"
	"  audit [--user NAME] [--uid UID] [--device NAME] [--op OP] [--result allow|deny]\n"
	"        [--since TIME] [--until TIME] [--limit N] [--page N | --cursor ID] [--csv]\n"
	"      Search the query log: who opened which device's traffic, when, how much, and\n"
	"      who was refused.\n"
	"\n"
	"Global options:\n"
	"  -s, --spool DIR        spool directory (default: $PCAPFS_SPOOL or " PCAPFS_DEFAULT_SPOOL ")\n"
	"  -j, --json             machine-readable output for device list and show, status,\n"
	"                         segments, verify, import (a failed file too, with its error),\n"
	"                         extract --size, acl list, explain, limits and audit\n"
	"      --lock-timeout MS  how long to wait for a catalogue locked by another process\n"
	"                         (default 5000)\n"
	"  -q, --quiet            no progress or summaries, errors only\n"
	"  -h, --help             this text; 'pcapfsctl COMMAND --help' for one command\n"
	"  -V, --version          print the version\n"
	"\n"
	"TIME is any form of the window grammar: 20261122T101500Z, 2026-11-22T11:15:00+01:00 or\n"
	"epoch seconds 1795342500 (fractions allowed). WINDOW is START--END, half-open [START, END),\n"
	"at most the spool's maximum window wide (default 1 hour), with or without '.pcap'.\n"
	"DURATION is a number, fractions allowed, with an optional unit: ms, s (default), m or min,\n"
	"h, d (90m, 1.5h, 2d). SIZE is a number of bytes with an optional K, M, G or T (powers of\n"
	"1024: 512M, 1GiB).\n"
	"\n"
	"Exit status: 0 success, 1 failure, 2 usage error; verify exits 1 when it finds damage.\n"
	"See pcapfsctl(8) in docs/pcapfsctl.md.\n";

int ctl_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pcapfsctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

int ctl_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pcapfsctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'pcapfsctl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	va_end(ap);
	return 2;
}

static bool name_known(bool group, const char *name)
{
	errno = 0;
	return group ? getgrnam(name) != NULL : getpwnam(name) != NULL;
}

void ctl_warn_unknown_owner(const struct ctl *c, const char *owner)
{
	if (c->quiet || !owner || !owner[0])
		return;
	bool group = owner[0] == '@';
	const char *name = owner + group;
	if (!name_known(group, name))
		fprintf(stderr, "pcapfsctl: warning: this system knows no %s named '%s' now; the "
				"owner applies once it does\n", group ? "group" : "user", name);
}

void ctl_warn_unknown_principal(const struct ctl *c, const char *principal)
{
	if (c->quiet)
		return;
	bool group = strncmp(principal, "group:", 6) == 0;
	if (!group && strncmp(principal, "user:", 5) != 0)
		return;
	const char *name = strchr(principal, ':') + 1;
	if (!name_known(group, name))
		fprintf(stderr, "pcapfsctl: warning: this system knows no %s named '%s' now; the "
				"grant applies once it does\n", group ? "group" : "user", name);
}

int ctl_bad_option(const char *cmd)
{
	fprintf(stderr, "Try 'pcapfsctl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	return 2;
}

int ctl_open_spool(const struct ctl *c, int flags, struct spool **ret)
{
	struct errbuf err = {{0}};
	int e = spool_open(c->spool_path, flags, c->lock_timeout_ms, ret, &err);
	if (e < 0) {
		ctl_fail("%s", err.msg[0] ? err.msg : strerror(-e));
		return e;
	}
	if ((*ret)->recovery.failed)
		fprintf(stderr, "pcapfsctl: warning: %" PRIu64 " segment(s) left by a writer that died "
				"could not be recovered; the first: %s\n",
			(*ret)->recovery.failed, (*ret)->recovery.first_failure);
	return 0;
}

int ctl_parse_time(const char *s, int64_t *ret, bool allow_open)
{
	if (strcmp(s, "now") == 0) {
		*ret = now_ns();
		return 0;
	}
	if (allow_open && strcmp(s, "-") == 0) {
		*ret = TIME_INFINITY;
		return 0;
	}
	struct errbuf err;
	int e = window_parse_time(s, strlen(s), ret, &err);
	if (e < 0)
		ctl_fail("invalid time '%s': %s", s, err.msg);
	return e;
}

int ctl_parse_id(const char *s, int64_t *ret)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

int ctl_parse_duration(const char *s, int64_t *ret)
{
	int e = units_parse_duration(s, NS_PER_SEC, ret);
	if (e < 0)
		ctl_fail("invalid duration '%s' (examples: 3600, 90m, 1.5h, 2d)", s);
	return e;
}

int ctl_parse_size(const char *s, uint64_t *ret)
{
	int e = units_parse_size(s, ret);
	if (e < 0)
		ctl_fail("invalid size '%s' (examples: 1048576, 512M, 1GiB)", s);
	return e;
}

int cmd_init(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"precision", required_argument, NULL, 'p'},
		{"segment-seconds", required_argument, NULL, 't'},
		{"segment-size", required_argument, NULL, 'S'},
		{"max-window", required_argument, NULL, 'w'},
		{"snaplen", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct spool_config cfg;
	spool_config_default(&cfg);
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		switch (o) {
		case 'p':
			if (strcmp(optarg, "us") == 0)
				cfg.prec = TSPREC_US;
			else if (strcmp(optarg, "ns") == 0)
				cfg.prec = TSPREC_NS;
			else
				return ctl_usage("init", "--precision must be us or ns");
			break;
		case 't': {
			long v = strtol(optarg, &end, 10);
			if (*end || v <= 0 || v > 86400)
				return ctl_usage("init", "--segment-seconds must be 1..86400");
			cfg.segment_ns = v * NS_PER_SEC;
			break;
		}
		case 'S':
			if (ctl_parse_size(optarg, &cfg.segment_bytes) < 0)
				return 2;
			break;
		case 'w':
			if (ctl_parse_duration(optarg, &cfg.max_window_ns) < 0)
				return 2;
			break;
		case 'n': {
			long v = strtol(optarg, &end, 10);
			if (*end || v <= 0 || v > (long)PCAP_MAX_CAPLEN)
				return ctl_usage("init", "--snaplen must be 64..%u", PCAP_MAX_CAPLEN);
			cfg.snaplen = (uint32_t)v;
			break;
		}
		case 'h':
			printf("Usage: pcapfsctl [--spool DIR] init [OPTIONS]\n\n"
			       "Create a spool: the directory, its catalogue and settings.\n\n"
			       "  --precision us|ns        timestamp precision of the segment files and of\n"
			       "                           every file served (default us)\n"
			       "  --segment-seconds N      rotate segments every N seconds, aligned to the\n"
			       "                           clock; N divides a day (default 60)\n"
			       "  --segment-size SIZE      ... or when a segment reaches SIZE (default 1G,\n"
			       "                           1M to 4G - 1)\n"
			       "  --max-window DURATION    the widest window a name may ask for (default 1h,\n"
			       "                           1 s to 31 days)\n"
			       "  --snaplen N              the largest packet stored (default 262144,\n"
			       "                           64..262144)\n");
			return 0;
		default:
			return ctl_bad_option("init");
		}
	}
	if (optind != argc)
		return ctl_usage("init", "unexpected argument '%s'", argv[optind]);
	struct errbuf err = {{0}};
	if (spool_config_check(&cfg, &err) < 0) /* a value out of range is a usage error */
		return ctl_usage("init", "%s", err.msg);
	int e = spool_init(c->spool_path, &cfg, &err);
	if (e < 0)
		return ctl_fail("%s", err.msg[0] ? err.msg : strerror(-e));
	if (!c->quiet)
		fprintf(stderr, "pcapfsctl: created spool %s\n", c->spool_path);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"spool", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"lock-timeout", required_argument, NULL, 'L'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct ctl c = {
		.spool_path = getenv("PCAPFS_SPOOL") ? getenv("PCAPFS_SPOOL") : PCAPFS_DEFAULT_SPOOL,
		.lock_timeout_ms = SPOOL_DEFAULT_LOCK_TIMEOUT_MS,
		.tty = isatty(STDERR_FILENO),
	};
	argv[0] = (char *)"pcapfsctl"; /* getopt's messages name the program by it */
	int o;
	while ((o = getopt_long(argc, argv, "+s:jqhV", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			c.spool_path = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 'L': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v > 3600000)
				return ctl_usage(NULL, "--lock-timeout must be 0..3600000 ms");
			c.lock_timeout_ms = (int)v;
			break;
		}
		case 'q':
			c.quiet = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("pcapfsctl %s\n", PCAPFS_VERSION);
			return 0;
		default:
			return ctl_bad_option(NULL);
		}
	}
	if (optind >= argc)
		return ctl_usage(NULL, "no command given");
	if (!c.spool_path[0])
		return ctl_usage(NULL, "--spool must not be empty");

	static const struct {
		const char *name;
		int (*fn)(struct ctl *, int, char **);
	} cmds[] = {
		{"init", cmd_init},	  {"device", cmd_device},   {"import", cmd_import},
		{"extract", cmd_extract}, {"verify", cmd_verify},   {"reindex", cmd_reindex},
		{"status", cmd_status},	  {"segments", cmd_segments}, {"grant", cmd_grant},
		{"revoke", cmd_revoke},
		{"acl", cmd_acl},	  {"explain", cmd_explain},
		{"limits", cmd_limits},	  {"audit", cmd_audit},
	};
	const char *cmd = argv[optind];
	for (size_t i = 0; i < ELEMENTSOF(cmds); i++)
		if (strcmp(cmd, cmds[i].name) == 0) {
			/* Each command parses its own options from argv[optind..]; getopt names it
			 * by its argv[0] in its messages. */
			static char prog[32];
			snprintf(prog, sizeof(prog), "pcapfsctl %s", cmds[i].name);
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			sub_argv[0] = prog;
			/* No command has options of these names: said plainly where they go. An
			 * argument right after an option that may take it as its value is not
			 * looked at (-o --json names a file). */
			for (int k = 1; k < sub_argc && strcmp(sub_argv[k], "--") != 0; k++) {
				const char *prev = sub_argv[k - 1];
				if (k > 1 && prev[0] == '-' && !strchr(prev, '='))
					continue;
				static const char *const global[] = {"--json", "--quiet", "--spool", "--lock-timeout"};
				for (size_t g = 0; g < ELEMENTSOF(global); g++) {
					size_t n = strlen(global[g]);
					if (strncmp(sub_argv[k], global[g], n) == 0 &&
					    (sub_argv[k][n] == 0 || sub_argv[k][n] == '='))
						return ctl_usage(NULL, "%s is an option of pcapfsctl itself: give it "
								 "before the command (pcapfsctl %s ... %s ...)",
								 global[g], global[g], cmds[i].name);
				}
			}
			optind = 0; /* 0, not 1: glibc then forgets the "+" (stop at the first non-option) of main */
			return cmds[i].fn(&c, sub_argc, sub_argv);
		}
	return ctl_usage(NULL, "unknown command '%s'", cmd);
}

/* ctl-extract.c — pcapfsctl extract: one device's packets in one window as a pcap file,
 * from the same read plan the filesystem serves. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "plan.h"
#include "window.h"

static const char extract_help[] =
	"Usage: pcapfsctl [--spool DIR] extract [OPTIONS] DEVICE WINDOW\n"
	"\n"
	"Write the packets of DEVICE whose timestamps fall in WINDOW = START--END (half-open,\n"
	"optionally followed by .pcap) as a classic pcap file, ordered by time and merged across\n"
	"interfaces. The bytes are those the filesystem serves as /pcap/DEVICE/WINDOW.pcap and\n"
	"those 'tcpdump -w' would write when filtering the original capture by the device's\n"
	"addresses and the window's times. A window without packets gives a 24-byte pcap.\n"
	"\n"
	"  -o, --output FILE   write to FILE instead of standard output (replaced atomically)\n"
	"      --size          print the exact size in bytes and the packet count, write nothing\n"
	"\n"
	"Examples:\n"
	"  pcapfsctl extract cam-1 20261122T100000Z--20261122T110000Z > w.pcap\n"
	"  pcapfsctl extract cam-1 2026-11-22T10:15:00+01:00--2026-11-22T10:20:00+01:00 -o w.pcap\n"
	"  pcapfsctl extract cam-1 1795338900--1795339200.5 | tshark -r -\n";

int cmd_extract(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"size", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *out = NULL;
	bool size_only = false;
	int o;
	while ((o = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (o) {
		case 'o':
			out = optarg;
			break;
		case 'S':
			size_only = true;
			break;
		case 'h':
			fputs(extract_help, stdout);
			return 0;
		default:
			return ctl_bad_option("extract");
		}
	}
	if (argc - optind != 2)
		return ctl_usage("extract", "expected DEVICE and WINDOW");
	const char *name = argv[optind], *wname = argv[optind + 1];
	if (!out && !size_only && isatty(STDOUT_FILENO))
		return ctl_usage("extract", "refusing to write a pcap file to a terminal; use -o FILE or "
					    "redirect standard output");

	struct errbuf err = {{0}};
	if (device_name_check(name, &err) < 0)
		return ctl_fail("%s", err.msg);
	struct spool *sp;
	if (ctl_open_spool(c, SPOOL_RDONLY, &sp) < 0)
		return 1;
	struct window w;
	struct device d = {0};
	struct plan *p = NULL;
	int fd = -1, status = 1;
	char tmp[4096] = "";
	char *real = NULL;
	int e = window_parse(wname, false, sp->cfg.max_window_ns, &w, &err);
	if (e < 0) { /* a usage error (2), like any malformed argument */
		status = ctl_usage("extract", "invalid window '%s': %s", wname, err.msg);
		goto out;
	}
	e = catalog_device_get(sp->cat, name, &d, &err);
	if (e == 0)
		e = plan_build(sp, d.id, &w, 0, NULL, &p, &err);
	if (e < 0) {
		ctl_fail("%s", err.msg[0] ? err.msg : strerror(-e));
		goto out;
	}
	if (size_only) {
		if (c->json)
			printf("{\"bytes\": %" PRIu64 ", \"packets\": %" PRIu64 "}\n", p->size, p->packets);
		else
			printf("%" PRIu64 " bytes, %" PRIu64 " packets\n", p->size, p->packets);
		status = 0;
		goto out;
	}
	struct stat ost;
	if (out && stat(out, &ost) == 0 && !S_ISREG(ost.st_mode)) {
		/* A device or a FIFO (/dev/stdout, a named pipe): write to it directly. */
		fd = open(out, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			ctl_fail("%s: %s", out, strerror(errno));
			goto out;
		}
		e = plan_write(p, fd, &err);
		if (e < 0) {
			ctl_fail("%s", err.msg);
			goto out;
		}
		status = 0;
		goto out;
	}
	/* A symbolic link is followed: the file it names is replaced, never the link. */
	if (out && lstat(out, &ost) == 0 && S_ISLNK(ost.st_mode)) {
		real = realpath(out, NULL);
		if (!real && errno == ENOENT) {
			/* A link to a file not yet there: create that file. */
			char target[4096];
			ssize_t n = readlink(out, target, sizeof(target) - 1);
			if (n > 0) {
				target[n] = 0;
				const char *slash = strrchr(out, '/');
				if (target[0] == '/' || !slash)
					real = strdup(target);
				else if (asprintf(&real, "%.*s/%s", (int)(slash - out), out, target) < 0)
					real = NULL;
			}
		}
		if (!real) {
			ctl_fail("%s: %s", out, strerror(errno ? errno : ENOMEM));
			goto out;
		}
		out = real;
	}
	if (out) {
		if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", out) >= (int)sizeof(tmp)) {
			ctl_fail("%s: name too long", out);
			goto out;
		}
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0) {
			/* Named as the user named it: the temporary file is ours. */
			ctl_fail("%s: cannot be written: %s", out, strerror(errno));
			tmp[0] = 0;
			goto out;
		}
		mode_t um = umask(0);
		umask(um);
		(void)fchmod(fd, 0666 & ~um);
	}
	e = plan_write(p, out ? fd : STDOUT_FILENO, &err);
	if (e == 0 && out && (fsync(fd) < 0 || rename(tmp, out) < 0))
		e = err_set(&err, errno, "%s: %s", out, strerror(errno));
	if (e < 0) {
		ctl_fail("%s", err.msg);
		goto out;
	}
	tmp[0] = 0;
	status = 0;
out:
	free(real);
	if (tmp[0])
		unlink(tmp);
	if (fd >= 0)
		close(fd);
	plan_free(p);
	device_done(&d);
	spool_close(sp);
	return status;
}

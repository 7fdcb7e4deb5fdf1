/* main.c — pcapfs-captured: command line, start-up order, signals, sd_notify, shutdown.
 *
 * Start-up order (each step needs the one before):
 *   1. as the service user (--user; effective ids only): open the spool, recover what a
 *      previous run left open, open one writer per interface (interface locks, per-interface
 *      recovery), the housekeeping state and the first registry — so every file the daemon
 *      creates belongs to that user;
 *   2. as root again: open the capture handles (CAP_NET_RAW);
 *   3. drop everything but CAP_NET_RAW (kept to reopen interfaces that come back) and
 *      switch to the user for good;
 *   4. start the threads, tell the service manager READY=1.
 * SIGTERM/SIGINT: capture stops, the queues drain into the spool, open segments are
 * sealed, the last statistics are written. SIGHUP: reload the registry now and run
 * retention. */
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "captured.h"
#include "config.h"
#include "units.h"

static void usage(FILE *f)
{
	fprintf(f,
"Usage: pcapfs-captured [OPTIONS] -i INTERFACE [-i INTERFACE]...\n"
"\n"
"Record every packet seen on the given network interfaces into a pcapfs spool: one\n"
"capture thread per interface (libpcap, TPACKET_V3 ring), packets classified by the\n"
"spool's device registry at capture time, stored in per-interface segments that\n"
"rotate on the wall clock, indexed per device, and readable with 'pcapfsctl extract'\n"
"and the pcapfs mount within --flush-interval of their capture.\n"
"\n"
"Capture:\n"
"  -s, --spool DIR           spool directory, created with 'pcapfsctl init'\n"
"                            (default: $PCAPFS_SPOOL or %s)\n"
"  -i, --interface NAME      capture on NAME; repeat for several interfaces. An\n"
"                            interface that does not exist yet, goes down or disappears\n"
"                            is logged and retried; the others keep capturing\n"
"  -f, --filter EXPR         BPF filter (pcap-filter(7) syntax) for every interface\n"
"                            (default: everything)\n"
"  -p, --no-promiscuous      do not put the interfaces into promiscuous mode\n"
"      --snaplen N           bytes kept of each packet (default and maximum: the spool's\n"
"                            snaplen)\n"
"  -B, --buffer-size SIZE    kernel ring per interface (default 64M)\n"
"      --queue-size SIZE     memory between capture and disk per interface, in batches\n"
"                            of --batch-size (default 32M); bounds the resident memory\n"
"      --batch-size SIZE     one batch (default 1M, at least snaplen + 16 bytes)\n"
"      --flush-interval TIME packets become visible to readers within TIME (default 1s,\n"
"                            50ms..60s)\n"
"      --durable             fsync each segment and index when it is sealed\n"
"      --buffered            write segments through the page cache; by default their\n"
"                            bytes go to the disk with O_DIRECT (no copy into the page\n"
"                            cache, which capture would otherwise fill), the unaligned\n"
"                            tail of each flush through the page cache (file systems\n"
"                            without O_DIRECT, such as tmpfs, are written buffered)\n"
"      --retry-interval TIME reopen a missing or failed interface this often (default 5s)\n"
"\n"
"Retention (oldest segments first; never the segment being written; each removal is\n"
"logged):\n"
"      --max-age TIME        remove segments whose last packet is older (default: off)\n"
"      --max-size SIZE       keep all segments and indexes together below SIZE\n"
"                            (default: off)\n"
"      --min-free PERCENT    keep PERCENT of the spool's file system free (default 5;\n"
"                            0 turns it off). When the disk fills anyway, capture pauses\n"
"                            with a log line and resumes when space is available\n"
"      --retention-interval TIME  check the limits this often (default 10s)\n"
"\n"
"Statistics:\n"
"      --stats-interval TIME write pcap_stats (received, dropped by the kernel and the\n"
"                            interface) and packet and byte counts per interface to the\n"
"                            catalogue this often (default 10s); 'pcapfsctl status'\n"
"                            shows them\n"
"      --stats-keep TIME     remove statistics older than TIME (default 30d)\n"
"\n"
"Process:\n"
"  -u, --user NAME           after opening the interfaces, run as NAME with only\n"
"                            CAP_NET_RAW (the spool must be writable by NAME). Without\n"
"                            it the daemon keeps root with CAP_NET_RAW and\n"
"                            CAP_DAC_OVERRIDE only\n"
"      --lock-timeout MS     wait this long for the catalogue's lock (default 5000)\n"
"  -v, --verbose             log debug messages too\n",
		PCAPFS_DEFAULT_SPOOL);
	fputs(
"  -q, --quiet               log warnings and errors only\n"
"  -h, --help                show this help\n"
"  -V, --version             show the version\n"
"\n"
"TIME is a number, fractions allowed, with an optional unit: ms, s (default), m or min, h,\n"
"d (500ms, 1.5h, 30d). SIZE is a number of bytes with an optional K, M, G or T suffix\n"
"(powers of 1024: 64M, 1GiB).\n"
"\n"
"Signals: SIGTERM and SIGINT seal the open segments and exit; SIGHUP reloads the device\n"
"registry and runs retention now. Registry changes ('pcapfsctl device add/set/rm') are\n"
"picked up within a second without them. Under systemd (NOTIFY_SOCKET), the daemon\n"
"sends READY=1, STATUS= lines and WATCHDOG=1 when WatchdogSec= is set.\n"
"\n"
"After a crash or SIGKILL the next start recovers every segment: a torn last record is\n"
"cut, the index is rebuilt, and nothing that was flushed is lost.\n"
"\n"
"Exit status: 0 after a clean stop, 1 when the start failed, 2 for a usage error.\n"
"\n"
"Example:\n"
"  pcapfs-captured --spool /var/lib/pcapfs -i eth1 -i eth2 --max-age 14d --user pcapfs\n",
		f);
}

static int bad_usage(const char *fmt, ...) _printf_(1, 2);
static int bad_usage(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "pcapfs-captured: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'pcapfs-captured --help'.\n");
	return 2;
}

enum {
	OPT_SNAPLEN = 256, OPT_QUEUE, OPT_BATCH, OPT_FLUSH, OPT_DURABLE, OPT_BUFFERED, OPT_RETRY, OPT_MAX_AGE,
	OPT_MAX_SIZE, OPT_MIN_FREE, OPT_RET_INT, OPT_STATS_INT, OPT_STATS_KEEP, OPT_LOCK,
};

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"spool", required_argument, NULL, 's'},
		{"interface", required_argument, NULL, 'i'},
		{"filter", required_argument, NULL, 'f'},
		{"no-promiscuous", no_argument, NULL, 'p'},
		{"snaplen", required_argument, NULL, OPT_SNAPLEN},
		{"buffer-size", required_argument, NULL, 'B'},
		{"queue-size", required_argument, NULL, OPT_QUEUE},
		{"batch-size", required_argument, NULL, OPT_BATCH},
		{"flush-interval", required_argument, NULL, OPT_FLUSH},
		{"durable", no_argument, NULL, OPT_DURABLE},
		{"buffered", no_argument, NULL, OPT_BUFFERED},
		{"retry-interval", required_argument, NULL, OPT_RETRY},
		{"max-age", required_argument, NULL, OPT_MAX_AGE},
		{"max-size", required_argument, NULL, OPT_MAX_SIZE},
		{"min-free", required_argument, NULL, OPT_MIN_FREE},
		{"retention-interval", required_argument, NULL, OPT_RET_INT},
		{"stats-interval", required_argument, NULL, OPT_STATS_INT},
		{"stats-keep", required_argument, NULL, OPT_STATS_KEEP},
		{"user", required_argument, NULL, 'u'},
		{"lock-timeout", required_argument, NULL, OPT_LOCK},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	const char *env = getenv("PCAPFS_SPOOL");
	*o = (struct options){
		.spool = env && *env ? env : PCAPFS_DEFAULT_SPOOL,
		.promisc = true,
		.buffer_bytes = 64u << 20,
		.queue_bytes = 32u << 20,
		.batch_bytes = 1u << 20,
		.flush_ns = NS_PER_SEC,
		.stats_ns = 10 * NS_PER_SEC,
		.stats_keep_ns = 30 * 86400 * NS_PER_SEC,
		.retention_ns = 10 * NS_PER_SEC,
		.min_free_pct = 5,
		.retry_ns = 5 * NS_PER_SEC,
		.lock_timeout_ms = 5000,
	};
	int c;
	uint64_t u;
	int64_t t;
	char *end;
	while ((c = getopt_long(argc, argv, "s:i:f:pB:u:vqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->spool = optarg; break;
		case 'i':
			if (o->n_ifaces == ELEMENTSOF(o->ifaces))
				return bad_usage("too many interfaces (at most 64)");
			for (size_t i = 0; i < o->n_ifaces; i++)
				if (!strcmp(o->ifaces[i], optarg))
					return bad_usage("interface '%s' given twice", optarg);
			if (!*optarg || strlen(optarg) > IFACE_NAME_MAX || device_name_check(optarg, NULL) < 0)
				return bad_usage("invalid interface name '%s' (1..15 of A-Z a-z 0-9 . _ -)", optarg);
			o->ifaces[o->n_ifaces++] = optarg;
			break;
		case 'f': o->filter = optarg; break;
		case 'p': o->promisc = false; break;
		case OPT_SNAPLEN:
			errno = 0;
			u = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || u < 64 || u > 262144)
				return bad_usage("--snaplen '%s': expected 64..262144", optarg);
			o->snaplen = (uint32_t)u;
			break;
		case 'B':
			if (units_parse_size(optarg, &o->buffer_bytes) < 0 || o->buffer_bytes < (1u << 20) ||
			    o->buffer_bytes > (UINT64_C(1) << 31) - 1)
				return bad_usage("--buffer-size '%s': expected 1M..2047M", optarg);
			break;
		case OPT_QUEUE:
			if (units_parse_size(optarg, &o->queue_bytes) < 0 || o->queue_bytes < (1u << 20) ||
			    o->queue_bytes > (UINT64_C(1) << 34))
				return bad_usage("--queue-size '%s': expected 1M..16G", optarg);
			break;
		case OPT_BATCH:
			if (units_parse_size(optarg, &o->batch_bytes) < 0 || o->batch_bytes < (64u << 10) ||
			    o->batch_bytes > (64u << 20))
				return bad_usage("--batch-size '%s': expected 64K..64M", optarg);
			break;
		case OPT_FLUSH:
			if (units_parse_duration(optarg, NS_PER_SEC, &o->flush_ns) < 0 || o->flush_ns < 50 * 1000 * 1000 ||
			    o->flush_ns > 60 * NS_PER_SEC)
				return bad_usage("--flush-interval '%s': expected 50ms..60s", optarg);
			break;
		case OPT_DURABLE: o->durable = true; break;
		case OPT_BUFFERED: o->buffered = true; break;
		case OPT_RETRY:
			if (units_parse_duration(optarg, NS_PER_SEC, &o->retry_ns) < 0 || o->retry_ns < 100 * 1000 * 1000 ||
			    o->retry_ns > 3600 * NS_PER_SEC)
				return bad_usage("--retry-interval '%s': expected 100ms..1h", optarg);
			break;
		case OPT_MAX_AGE:
			if (units_parse_duration(optarg, NS_PER_SEC, &o->max_age_ns) < 0 ||
			    (o->max_age_ns && o->max_age_ns < 60 * NS_PER_SEC))
				return bad_usage("--max-age '%s': expected 0 (off) or at least 1m", optarg);
			break;
		case OPT_MAX_SIZE:
			if (units_parse_size(optarg, &o->max_bytes) < 0)
				return bad_usage("--max-size '%s': expected a size such as 500G", optarg);
			break;
		case OPT_MIN_FREE:
			errno = 0;
			o->min_free_pct = strtod(optarg, &end);
			if (errno || end == optarg || (*end && strcmp(end, "%")) ||
			    !(o->min_free_pct >= 0 && o->min_free_pct <= 90))
				return bad_usage("--min-free '%s': expected a percentage 0..90", optarg);
			break;
		case OPT_RET_INT:
			if (units_parse_duration(optarg, NS_PER_SEC, &o->retention_ns) < 0 ||
			    o->retention_ns < 100 * 1000 * 1000 || o->retention_ns > 86400 * NS_PER_SEC)
				return bad_usage("--retention-interval '%s': expected 100ms..1d", optarg);
			break;
		case OPT_STATS_INT:
			if (units_parse_duration(optarg, NS_PER_SEC, &o->stats_ns) < 0 || o->stats_ns < 100 * 1000 * 1000 ||
			    o->stats_ns > 86400 * NS_PER_SEC)
				return bad_usage("--stats-interval '%s': expected 100ms..1d", optarg);
			break;
		case OPT_STATS_KEEP:
			if (units_parse_duration(optarg, NS_PER_SEC, &t) < 0)
				return bad_usage("--stats-keep '%s': expected a duration such as 30d", optarg);
			o->stats_keep_ns = t;
			break;
		case 'u': o->user = optarg; break;
		case OPT_LOCK:
			errno = 0;
			u = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || u > 3600000)
				return bad_usage("--lock-timeout '%s': expected 0..3600000 ms", optarg);
			o->lock_timeout_ms = (int)u;
			break;
		case 'v': log_level = LOG_DEBUG_; break;
		case 'q': log_level = LOG_WARN_; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("pcapfs-captured %s (%s)\n", PCAPFS_VERSION, pcap_lib_version()); exit(0);
		default: return 2;
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (!o->n_ifaces)
		return bad_usage("no interface given: use -i NAME");
	if (o->batch_bytes > o->queue_bytes / 2)
		return bad_usage("--queue-size must hold at least two batches");
	return 0;
}

/* ---- effective ids while the spool is opened ---------------------------------------------- */

static int become_user(const char *user, struct errbuf *err)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int e = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (e || !res)
		return err_set(err, e ? e : ENOENT, "user %s: %s", user, e ? strerror(e) : "no such user");
	if (initgroups(pw.pw_name, pw.pw_gid) < 0 || setegid(pw.pw_gid) < 0 || seteuid(pw.pw_uid) < 0)
		return err_set(err, errno, "switching to user %s: %s", user, strerror(errno));
	return 0;
}

static int become_root(struct errbuf *err)
{
	if (seteuid(0) < 0 || setegid(0) < 0)
		return err_set(err, errno, "switching back to root: %s", strerror(errno));
	return 0;
}

/* ---- status ------------------------------------------------------------------------------ */

static void send_status(struct daemon *d, uint64_t *last_pk, int64_t *last_t)
{
	char msg[1024];
	size_t n = (size_t)snprintf(msg, sizeof(msg), "STATUS=");
	int64_t now = mono_ns();
	double dt = *last_t ? (double)(now - *last_t) / 1e9 : 0;
	for (size_t i = 0; i < d->n_ifs && n < sizeof(msg) - 80; i++) {
		struct iface *it = &d->ifs[i];
		uint64_t pk = atomic_load(&it->packets);
		const char *state = atomic_load(&it->paused) ? "paused (spool full)"
				    : atomic_load(&it->up) ? "capturing" : "down";
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s%s %s %.0f pkt/s %" PRIu64 " dropped",
				      i ? "; " : "", it->name, state,
				      dt > 0 ? (double)(pk - last_pk[i]) / dt : 0.0,
				      atomic_load(&it->dropped));
		last_pk[i] = pk;
	}
	*last_t = now;
	notify_send(msg);
}

/* Every thread went round its loop recently: a thread stuck in I/O for longer withholds
 * the watchdog ping, and the service manager restarts the daemon. */
static bool all_alive(struct daemon *d, int64_t limit)
{
	int64_t now = mono_ns();
	if (now - atomic_load(&d->house_heartbeat) > limit)
		return false;
	for (size_t i = 0; i < d->n_ifs; i++)
		if (now - atomic_load(&d->ifs[i].cap_heartbeat) > limit ||
		    now - atomic_load(&d->ifs[i].wr_heartbeat) > limit)
			return false;
	return true;
}

/* ---- start and stop ------------------------------------------------------------------------ */

static int start(struct daemon *d, struct spool **ret_sp, struct house **ret_h)
{
	struct options *o = &d->o;
	struct errbuf err = {{0}};
	int e = 0;

	if (o->user && geteuid() == 0 && (e = become_user(o->user, &err)) < 0)
		goto fail;
	e = spool_open(o->spool, SPOOL_NO_RECOVER, o->lock_timeout_ms, ret_sp, &err);
	if (e < 0)
		goto fail;
	/* Everything a previous run left open (SIGKILL, power loss) is recovered first. */
	struct spool_recovery rec = {0};
	e = spool_recover(*ret_sp, NULL, NULL, &rec, &err);
	if (e < 0) {
		err_prefix(&err, -e, "recovering the spool: ");
		goto fail;
	}
	if (rec.recovered || rec.removed || rec.truncated_bytes || rec.busy)
		log_notice("recovered %" PRIu64 " segments left open by a previous run (%" PRIu64
			   " torn bytes cut, %" PRIu64 " empty ones removed, %" PRIu64
			   " held by a live writer)", rec.recovered, rec.truncated_bytes, rec.removed,
			   rec.busy);
	if (rec.failed)
		log_warn("%" PRIu64 " segments left open by a previous run could not be recovered and "
			 "stay open (pcapfsctl verify reports them); the first: %s", rec.failed,
			 rec.first_failure);
	d->cfg = (*ret_sp)->cfg;
	if (o->snaplen > d->cfg.snaplen) {
		e = err_set(&err, EINVAL, "--snaplen %u is above the spool's snaplen %u", o->snaplen,
			    d->cfg.snaplen);
		goto fail;
	}
	if (o->batch_bytes < (o->snaplen ? o->snaplen : d->cfg.snaplen) + sizeof(struct batch_rec) + 8) {
		e = err_set(&err, EINVAL, "--batch-size must exceed the snaplen (%u) by 24 bytes",
			    o->snaplen ? o->snaplen : d->cfg.snaplen);
		goto fail;
	}
	*ret_h = house_new(d, &err);
	if (!*ret_h) {
		e = -EIO;
		goto fail;
	}
	for (size_t i = 0; i < d->n_ifs; i++) {
		struct iface *it = &d->ifs[i];
		struct writer_opts wo = {.iface = it->name, .durable = o->durable, .direct = !o->buffered};
		it->map = daemon_map_get(d);
		it->map_gen = atomic_load(&d->map_gen);
		e = spool_open(o->spool, SPOOL_NO_RECOVER, o->lock_timeout_ms, &it->sp, &err);
		if (e == 0)
			e = writer_open(it->sp, &wo, it->map->m, &it->w, &err);
		if (e == -EBUSY && !err.msg[0])
			err_set(&err, EBUSY, "interface %s is being written by another process", it->name);
		if (e < 0) {
			err_prefix(&err, -e, "%s: ", it->name);
			goto fail;
		}
		size_t nb = (size_t)(o->queue_bytes / o->batch_bytes);
		if ((e = queue_init(&it->q, nb, (size_t)o->batch_bytes)) < 0) {
			err_set(&err, -e, "%s: cannot allocate the queue", it->name);
			goto fail;
		}
	}
	if (o->user && geteuid() != getuid() && (e = become_root(&err)) < 0)
		goto fail;
	for (size_t i = 0; i < d->n_ifs; i++) {
		struct iface *it = &d->ifs[i];
		e = capture_open(it, &err);
		if (e == -EPERM || e == -EINVAL)
			goto fail; /* not fixed by waiting */
		if (e < 0) {
			log_warn("%s; retrying every %.0f s", err.msg, (double)o->retry_ns / 1e9);
			snprintf(it->last_err, sizeof(it->last_err), "%s", err.msg);
			e = 0;
		}
	}
	e = privileges_drop(o->user, &err);
	if (e < 0)
		goto fail;
	return 0;
fail:
	log_err("%s", err.msg[0] ? err.msg : strerror(-e));
	return e;
}

int main(int argc, char **argv)
{
	struct daemon *d = calloc(1, sizeof(*d));
	if (!d)
		return 1;
	int r = parse_args(argc, argv, &d->o);
	if (r) {
		free(d);
		return r;
	}

	/* Every thread inherits this mask; the main thread takes the signals synchronously. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	pthread_mutex_init(&d->map_mu, NULL);
	pthread_mutex_init(&d->house_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->house_cv, &ca);
	d->n_ifs = d->o.n_ifaces;
	d->ifs = calloc(d->n_ifs, sizeof(*d->ifs));
	if (!d->ifs)
		return 1;
	for (size_t i = 0; i < d->n_ifs; i++) {
		d->ifs[i].d = d;
		snprintf(d->ifs[i].name, sizeof(d->ifs[i].name), "%s", d->o.ifaces[i]);
	}

	struct spool *sp = NULL;
	struct house *h = NULL;
	int rc = 1;
	if (start(d, &sp, &h) < 0)
		goto out;

	int64_t now = mono_ns();
	atomic_store(&d->house_heartbeat, now);
	for (size_t i = 0; i < d->n_ifs; i++) {
		atomic_store(&d->ifs[i].cap_heartbeat, now);
		atomic_store(&d->ifs[i].wr_heartbeat, now);
	}
	if (pthread_create(&d->house_thread, NULL, house_thread, h) == 0)
		d->house_started = true;
	for (size_t i = 0; i < d->n_ifs; i++) {
		struct iface *it = &d->ifs[i];
		it->wr_started = pthread_create(&it->wr_thread, NULL, writer_thread, it) == 0;
		it->cap_started = it->wr_started &&
				  pthread_create(&it->cap_thread, NULL, capture_thread, it) == 0;
		if (!it->cap_started) {
			log_err("%s: cannot start threads", it->name);
			atomic_store(&d->stop, true);
		}
	}
	if (!d->house_started) {
		log_err("cannot start the housekeeping thread");
		atomic_store(&d->stop, true);
	}

	char names[1024] = "";
	for (size_t i = 0, n = 0; i < d->n_ifs && n < sizeof(names) - 20; i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "", d->ifs[i].name);
	/* Each interface says itself when it captures ("b1: capturing") or why not yet. */
	log_notice("started for %s into %s (flush every %.2f s, uid %u)", names, d->o.spool,
		   (double)d->o.flush_ns / 1e9, (unsigned)geteuid());
	notify_send("READY=1\nSTATUS=capturing");

	int64_t wd = notify_watchdog_ns();
	int64_t tick = wd ? MIN(wd / 2, NS_PER_SEC) : NS_PER_SEC;
	int64_t next_status = 0, last_t = 0;
	uint64_t *last_pk = calloc(d->n_ifs, sizeof(*last_pk));
	while (!atomic_load(&d->stop)) {
		struct timespec to = {.tv_sec = tick / NS_PER_SEC, .tv_nsec = tick % NS_PER_SEC};
		int sig = sigtimedwait(&set, NULL, &to);
		if (sig == SIGTERM || sig == SIGINT) {
			log_notice("signal %d: stopping", sig);
			break;
		}
		if (sig == SIGHUP) {
			log_notice("SIGHUP: reloading the device registry, running retention");
			house_kick(d, true, true);
		}
		if (wd && all_alive(d, MAX(wd, 60 * NS_PER_SEC)))
			notify_send("WATCHDOG=1");
		if (mono_ns() >= next_status && last_pk) {
			send_status(d, last_pk, &last_t);
			next_status = mono_ns() + 5 * NS_PER_SEC;
		}
	}
	free(last_pk);
	notify_send("STOPPING=1\nSTATUS=sealing segments");
	rc = 0;
out:
	atomic_store(&d->stop, true);
	for (size_t i = 0; i < d->n_ifs; i++)
		if (d->ifs[i].cap_started)
			pthread_join(d->ifs[i].cap_thread, NULL);
	for (size_t i = 0; i < d->n_ifs; i++) {
		struct iface *it = &d->ifs[i];
		if (it->wr_started) {
			if (!it->cap_started)
				queue_producer_finish(&it->q);
			pthread_join(it->wr_thread, NULL);
		}
	}
	if (d->house_started) {
		pthread_mutex_lock(&d->house_mu);
		d->house_stop = true;
		pthread_cond_signal(&d->house_cv);
		pthread_mutex_unlock(&d->house_mu);
		pthread_join(d->house_thread, NULL);
	}
	for (size_t i = 0; i < d->n_ifs; i++) {
		struct iface *it = &d->ifs[i];
		if (it->pcap)
			pcap_close(it->pcap);
		if (it->w) {
			struct errbuf err = {{0}};
			if (writer_close(it->w, &err) < 0)
				log_err("%s: %s", it->name, err.msg);
		}
		if (rc == 0)
			log_info("%s: %" PRIu64 " packets captured, %" PRIu64 " dropped by the kernel, %"
				 PRIu64 " by the interface, %" PRIu64 " lost at shutdown", it->name,
				 atomic_load(&it->packets), atomic_load(&it->dropped),
				 atomic_load(&it->if_dropped), atomic_load(&it->lost));
		mapref_put(it->map);
		spool_close(it->sp);
		queue_done(&it->q);
	}
	house_free(h);
	spool_close(sp);
	mapref_put(d->map);
	free(d->ifs);
	free(d);
	if (rc == 0)
		log_notice("stopped cleanly");
	return rc;
}

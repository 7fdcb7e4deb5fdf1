/* pcapfs-main.c — pcapfs SPOOL MOUNTPOINT [-o options]: command line, mount, session loop.
 * Works from the shell, from /etc/fstab (type fuse.pcapfs: mount.fuse3 runs
 * "pcapfs SPOOL MOUNTPOINT -o opts") and as "mount -t fuse.pcapfs SPOOL MOUNTPOINT". */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "pcapfs.h"
#include "units.h"

struct options {
	char *spool;
	char *cache_timeout;
	char *pam_service;
	char *admin_group;
	char *auditor_group;
	char *audit;
	char *audit_keep;
	char *audit_csv_max;
	char *id_cache;
	char *max_nodes;
	int nosplice;
	int default_permissions, rw;
	char *max_threads, *max_idle_threads; /* ours, not libfuse's: its default is not ours */
	int help, version;
};

#define OPT(t, p) {t, offsetof(struct options, p), 1}
static const struct fuse_opt option_spec[] = {
	OPT("cache_timeout=%s", cache_timeout),
	OPT("pam_service=%s", pam_service),
	OPT("id_cache=%s", id_cache),
	OPT("max_nodes=%s", max_nodes),
	OPT("nosplice", nosplice),
	OPT("default_permissions", default_permissions),
	OPT("rw", rw),
	OPT("max_threads=%s", max_threads),
	OPT("max_idle_threads=%s", max_idle_threads),
	OPT("admin_group=%s", admin_group),
	OPT("auditor_group=%s", auditor_group),
	OPT("audit=%s", audit),
	OPT("audit_keep=%s", audit_keep),
	OPT("audit_csv_max=%s", audit_csv_max),
	OPT("-h", help),
	OPT("--help", help),
	OPT("-V", version),
	OPT("--version", version),
	FUSE_OPT_END,
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct options *o = data;
	if (key == FUSE_OPT_KEY_NONOPT && !o->spool) {
		o->spool = strdup(arg);
		return 0; /* consumed: the next non-option is the mount point */
	}
	return 1;
}

static void usage(const char *prog)
{
	printf("Usage: %s SPOOL MOUNTPOINT [-o OPTION[,OPTION...]] [-f] [-d]\n"
	       "\n"
	       "Mount a pcapfs spool read-only: /pcap/<device>/<start>--<end>.pcap is the device's\n"
	       "traffic in the window [start, end), synthesized on read from the spool's segments,\n"
	       "exact in size and byte-identical to 'pcapfsctl extract'. Each device directory lists\n"
	       "one file per UTC hour holding packets; any other window is opened by name (see\n"
	       "README.txt at the top of the mount).\n"
	       "\n"
	       "Who sees and reads a device is decided for the calling user at every lookup, listing\n"
	       "and open: root, the pcapfs admin group, the device's owner and holders of a grant\n"
	       "(pcapfsctl grant); accounts that PAM (service pcapfs) refuses read nothing. A device\n"
	       "the caller may not read does not exist for them. Every open, close and refusal is\n"
	       "recorded in Linux audit and in the catalogue's query log, with one event id.\n"
	       "\n"
	       "pcapfs options:\n"
	       "  -o cache_timeout=SECONDS  how long the kernel may cache windows that can no longer\n"
	       "                            change (default 300); a growing window is looked up\n"
	       "                            again at every path walk\n"
	       "  -o pam_service=NAME       PAM service of the account check (default pcapfs)\n"
	       "  -o max_nodes=N            window files the kernel may hold at once (default\n"
	       "                            1000000, 100..100000000); a name looked up beyond it\n"
	       "                            fails with ENOMEM until the kernel forgets some\n"
	       "  -o nosplice               copy every read reply through the daemon; by default a\n"
	       "                            reply whose bytes lie in few stretches of segment\n"
	       "                            files goes out as file buffers (splice)\n"
	       "  -o id_cache=SECONDS       how long a user's groups and PAM answer are reused\n"
	       "                            (default 60, 0..3600; unknown users: at most 10);\n"
	       "                            a group change takes effect within this time\n"
	       "  -o admin_group=GROUP      members read every device (default pcapfs-admin)\n"
	       "  -o auditor_group=GROUP    the auditors' group (default pcapfs-audit)\n"
	       "  -o audit=MODE             Linux audit record of every open, refusal and close:\n"
	       "                            required (default: no record, no open), best-effort\n"
	       "                            (serve and log the failure) or off; the same facts go\n"
	       "                            to the query log in the catalogue (pcapfsctl audit),\n"
	       "                            which admins and auditors also read as\n"
	       "                            /audit/<YYYY-MM-DD>.csv, one file per UTC day\n"
	       "  -o audit_keep=DAYS        query-log rows kept this long (default 400; 0: forever)\n"
	       "  -o audit_csv_max=SIZE     largest /audit day file (default 512M, 4K..4G); the\n"
	       "                            ones open at a time hold at most twice it in memory,\n"
	       "                            one more being made\n"
	       "  -o max_threads=N          threads answering requests (default 10, 1..1024)\n"
	       "  -o max_idle_threads=N     of those, kept waiting when idle (default 4, 1..1024)\n"
	       "  -h, --help                this text\n"
	       "  -V, --version             the version\n"
	       "\n",
	       prog);
	printf("SECONDS and DAYS are numbers, fractions allowed, or durations with a unit: ms, s,\n"
	       "m or min, h, d (id_cache=2m, audit_keep=90d).\n"
	       "\n"
	       "Always in effect: ro (an rw option, which mount(8) may pass, is ignored);\n"
	       "allow_other when started by root (other users must see the mount; access is\n"
	       "decided per caller, never with default_permissions, which is refused). A mount\n"
	       "point that already holds a pcapfs mount is refused.\n"
	       "\n"
	       "Examples:\n"
	       "  pcapfs /var/lib/pcapfs /srv/pcapfs\n"
	       "  mount -t fuse.pcapfs /var/lib/pcapfs /srv/pcapfs\n"
	       "  /etc/fstab: /var/lib/pcapfs /srv/pcapfs fuse.pcapfs defaults,_netdev 0 0\n"
	       "Unmount with 'fusermount3 -u MOUNTPOINT', 'umount MOUNTPOINT' or SIGTERM.\n"
	       "\n"
	       "FUSE options:\n"
	       "  -f                        stay in the foreground (log lines on standard error)\n"
	       "  -d, -o debug              print every request (implies -f)\n"
	       "  -s                        answer requests in one thread\n"
	       "  -o clone_fd               a /dev/fuse descriptor per thread\n"
	       "  -o allow_root             started by another user than root: let root enter too\n"
	       "  -o auto_unmount           unmount when the daemon dies\n");
}

/* The size an unprivileged pipe may grow to (libfuse's splice replies go through one). */
static size_t pipe_max_size(void)
{
	size_t v = 1u << 20;
	FILE *f = fopen("/proc/sys/fs/pipe-max-size", "re");
	if (f) {
		unsigned long n;
		if (fscanf(f, "%lu", &n) == 1 && n >= 4096 && n <= (1ul << 30))
			v = n;
		fclose(f);
	}
	return v;
}

/* The query log's read-write connection (fs->qlog). */
static int qlog_open(struct pcapfs *fs, struct errbuf *err)
{
	char db[SPOOL_MAX_PATH + 16];
	snprintf(db, sizeof(db), "%s/catalog.db", fs->spool_path);
	return catalog_open(db, 0, SPOOL_DEFAULT_LOCK_TIMEOUT_MS, &fs->qlog, err);
}

/* Decode the octal escapes /proc/self/mountinfo writes for space, tab, newline and
 * backslash in paths (\040 ...), in place. */
static void mountinfo_unescape(char *s)
{
	char *o = s;
	for (; *s; s++, o++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*o = *s;
		}
	}
	*o = 0;
}

/* The mount at abs as /proc/self/mountinfo lists it: the last line (the top mount) whose
 * mount point is abs and, when dev is not 0, whose device is dev. Its device numbers and
 * file system type ("fuse.pcapfs"). */
static bool mount_at(const char *abs, dev_t dev, unsigned *ret_maj, unsigned *ret_min, char *type,
		     size_t type_size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	bool found = false;
	char *line = NULL;
	size_t cap = 0;
	while (f && getline(&line, &cap, f) > 0) {
		unsigned maj, min;
		int at = 0;
		/* "36 35 0:42 / /srv/pcapfs rw,... - fuse.pcapfs ..." (spaces in paths are \040) */
		if (sscanf(line, "%*u %*u %u:%u %*s %n", &maj, &min, &at) != 2 || !at)
			continue;
		char *mnt = line + at, *end = strchr(mnt, ' '), *sep = strstr(line, " - ");
		if (!end || !sep || (dev && makedev(maj, min) != dev))
			continue;
		*end = 0;
		mountinfo_unescape(mnt);
		if (strcmp(mnt, abs) != 0)
			continue;
		found = true;
		*ret_maj = maj;
		*ret_min = min;
		snprintf(type, type_size, "%.*s", (int)strcspn(sep + 3, " \n"), sep + 3);
	}
	free(line);
	if (f)
		fclose(f);
	return found;
}

/* FUSE mounts start with 128 KiB of readahead and INIT can only lower it; a sequential reader
 * of a pcap file gains from more. The knob is the mount's backing device info,
 * /sys/class/bdi/<major>:<minor>/read_ahead_kb, found through /proc/self/mountinfo (a stat of
 * the mount point would wait for the session loop, not running yet). The kernel applies
 * INIT's answer to it when that answer arrives, so it is raised later, at the first open
 * (raise_readahead in pcapfs-ops.c). */
static void find_readahead_knob(const char *mountpoint, char *ret, size_t size)
{
	char *abs = realpath(mountpoint, NULL), type[64];
	unsigned maj, min;
	ret[0] = 0;
	if (abs && mount_at(abs, 0, &maj, &min, type, sizeof(type)) && strncmp(type, "fuse", 4) == 0)
		snprintf(ret, size, "/sys/class/bdi/%u:%u/read_ahead_kb", maj, min);
	free(abs);
}

/* Does the mount point already hold a pcapfs mount? The mount a path walk reaches there is
 * the one whose device is the path's (stat), with the path as its mount point. A second
 * pcapfs over it would hide the first and leave two daemons. */
static bool pcapfs_mounted_at(const char *mountpoint)
{
	struct stat st;
	char *abs = realpath(mountpoint, NULL), type[64];
	unsigned maj, min;
	bool found = abs && stat(abs, &st) == 0 && mount_at(abs, st.st_dev, &maj, &min, type, sizeof(type)) &&
		     strcmp(type, "fuse.pcapfs") == 0;
	free(abs);
	return found;
}

/* A count option: digits only, lo..hi. Unset (NULL) leaves *ret as it is. False, with the
 * message printed, when malformed or out of range. */
static bool opt_count(const char *name, const char *text, unsigned lo, unsigned hi, unsigned *ret)
{
	if (!text)
		return true;
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (!*text || *text == '-' || *text == '+' || *end || errno || v < lo || v > hi) {
		fprintf(stderr, "pcapfs: %s must be %u..%u\n", name, lo, hi);
		return false;
	}
	*ret = (unsigned)v;
	return true;
}

/* A duration option: text in units.h's grammar, a bare number in unit, 0..max inclusive.
 * Unset (NULL) leaves *ret as it is. False, with the message printed, when out of range. */
static bool opt_duration(const char *name, const char *text, int64_t unit, int64_t max,
			 int64_t *ret)
{
	int64_t v;
	if (!text)
		return true;
	if (units_parse_duration(text, unit, &v) < 0 || v > max) {
		fprintf(stderr, "pcapfs: %s must be 0..%" PRId64 " %s\n", name, max / unit,
			unit == NS_PER_SEC ? "seconds" : "days");
		return false;
	}
	*ret = v;
	return true;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct options o = {0};
	struct fuse_cmdline_opts co = {0};
	struct fuse_session *se = NULL;
	struct fuse_loop_config *lc = NULL;
	struct pcapfs fs = {0};
	int ret = 1;

	if (fuse_opt_parse(&args, &o, option_spec, opt_proc) < 0)
		return 2;
	if (o.help) {
		usage(argv[0]);
		fuse_opt_free_args(&args);
		return 0;
	}
	if (o.version) {
		printf("pcapfs %s (libfuse %s)\n", PCAPFS_VERSION, fuse_pkgversion());
		fuse_opt_free_args(&args);
		return 0;
	}
	/* Read-only always; other users must be able to enter (access is ours to decide). */
	char fixed[64];
	snprintf(fixed, sizeof(fixed), "-oro,subtype=pcapfs,max_read=%u", PCAPFS_MAX_READ);
	fuse_opt_add_arg(&args, fixed);
	if (geteuid() == 0)
		fuse_opt_add_arg(&args, "-oallow_other");
	if (fuse_parse_cmdline(&args, &co) != 0)
		goto out;
	if (!o.spool || !co.mountpoint) {
		fprintf(stderr, "pcapfs: expected SPOOL and MOUNTPOINT; see 'pcapfs --help'\n");
		ret = 2;
		goto out;
	}
	/* rw (mount(8) passes it to helpers unless ro is given) is taken and ignored: the
	 * mount is read-only whatever the options say. */
	if (o.default_permissions) {
		fprintf(stderr, "pcapfs: default_permissions is not an option of pcapfs: access is decided "
				"for each caller by pcapfs itself, never by file modes\n");
		ret = 2;
		goto out;
	}
	unsigned max_threads = 10, max_idle_threads = 4;
	if (!opt_count("max_threads", o.max_threads, 1, 1024, &max_threads) ||
	    !opt_count("max_idle_threads", o.max_idle_threads, 1, 1024, &max_idle_threads)) {
		ret = 2;
		goto out;
	}
	if (pcapfs_mounted_at(co.mountpoint)) {
		fprintf(stderr, "pcapfs: %s already holds a pcapfs mount; unmount it first "
				"(fusermount3 -u %s)\n", co.mountpoint, co.mountpoint);
		ret = 1;
		goto out;
	}
	int64_t cache_ns = 300 * NS_PER_SEC;
	if (!opt_duration("cache_timeout", o.cache_timeout, NS_PER_SEC, 86400 * NS_PER_SEC, &cache_ns)) {
		ret = 2;
		goto out;
	}
	fs.cache_timeout = (double)cache_ns / 1e9;
	fs.audit_mode = AUDIT_REQUIRED;
	if (o.audit) {
		if (strcmp(o.audit, "required") == 0)
			fs.audit_mode = AUDIT_REQUIRED;
		else if (strcmp(o.audit, "best-effort") == 0)
			fs.audit_mode = AUDIT_BEST_EFFORT;
		else if (strcmp(o.audit, "off") == 0)
			fs.audit_mode = AUDIT_OFF;
		else {
			fprintf(stderr, "pcapfs: audit must be required, best-effort or off\n");
			ret = 2;
			goto out;
		}
	}
	int64_t id_cache_ns = 60 * NS_PER_SEC;
	if (!opt_duration("id_cache", o.id_cache, NS_PER_SEC, 3600 * NS_PER_SEC, &id_cache_ns)) {
		ret = 2;
		goto out;
	}
	fs.splice = !o.nosplice;
	fs.pipe_max = pipe_max_size();
	fs.max_nodes = WNODE_MAX_DEFAULT;
	if (o.max_nodes) {
		char *end;
		unsigned long long v = strtoull(o.max_nodes, &end, 10);
		if (*end || *o.max_nodes == '-' || v < 100 || v > 100000000) {
			fprintf(stderr, "pcapfs: max_nodes must be 100..100000000\n");
			ret = 2;
			goto out;
		}
		fs.max_nodes = (size_t)v;
	}
	fs.audit_keep_ns = 400 * 86400 * NS_PER_SEC;
	if (!opt_duration("audit_keep", o.audit_keep, 86400 * NS_PER_SEC,
			  INT64_C(36500) * 86400 * NS_PER_SEC, &fs.audit_keep_ns)) {
		ret = 2;
		goto out;
	}
	fs.csv_max = AUDIT_CSV_MAX;
	if (o.audit_csv_max) {
		uint64_t v;
		if (units_parse_size(o.audit_csv_max, &v) < 0 || v < 4096 || v > (UINT64_C(4) << 30)) {
			fprintf(stderr, "pcapfs: audit_csv_max must be a size of 4K..4G\n");
			ret = 2;
			goto out;
		}
		fs.csv_max = (size_t)v;
	}
	policy_config_default(&fs.pc);
	if (o.admin_group)
		snprintf(fs.pc.admin_group, sizeof(fs.pc.admin_group), "%s", o.admin_group);
	if (o.auditor_group)
		snprintf(fs.pc.auditor_group, sizeof(fs.pc.auditor_group), "%s", o.auditor_group);

	/* Check the spool before daemonizing, so that errors reach the terminal; open it again
	 * in the daemon (an SQLite handle must not cross a fork). */
	struct errbuf err = {{0}};
	/* Absolute: the daemon changes directory to / before it opens the spool again. */
	char *abs = realpath(o.spool, NULL);
	snprintf(fs.spool_path, sizeof(fs.spool_path), "%s", abs ? abs : o.spool);
	free(abs);
	/* Not a spool at all, or not readable: said as such, before the query log would say it
	 * less directly. */
	char db[SPOOL_MAX_PATH + 16];
	snprintf(db, sizeof(db), "%s/catalog.db", fs.spool_path);
	struct stat st;
	if (stat(fs.spool_path, &st) < 0) {
		if (errno == ENOENT)
			fprintf(stderr, "pcapfs: %s: not a pcapfs spool (no such directory); make one with "
					"'pcapfsctl --spool %s init'\n", o.spool, o.spool);
		else
			fprintf(stderr, "pcapfs: %s: %s\n", o.spool, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "pcapfs: %s: not a directory (a spool is one)\n", o.spool);
		goto out;
	}
	if (stat(db, &st) < 0 && errno == ENOENT) {
		fprintf(stderr, "pcapfs: %s is not a pcapfs spool (no catalog.db); make one with "
				"'pcapfsctl --spool %s init'\n", o.spool, o.spool);
		goto out;
	}
	/* As the daemon will open it (effective ids); only audit=required needs to write. */
	if (faccessat(AT_FDCWD, db, fs.audit_mode == AUDIT_REQUIRED ? R_OK | W_OK : R_OK, AT_EACCESS) < 0) {
		fprintf(stderr, "pcapfs: %s: %s (the mount reads the catalogue%s)\n", db, strerror(errno),
			fs.audit_mode == AUDIT_REQUIRED ? " and, with audit=required, writes its query log" : "");
		goto out;
	}
	/* The query log's connection writes (and brings an older catalogue up to date); with
	 * audit=off the mount only reads, but still brings the catalogue up to date when it
	 * may write it. */
	if (fs.audit_mode == AUDIT_OFF) {
		if (qlog_open(&fs, &err) == 0)
			catalog_close(fs.qlog);
		fs.qlog = NULL;
		err_clear(&err);
	} else {
		if (qlog_open(&fs, &err) < 0) {
			fprintf(stderr, "pcapfs: the query log cannot be written: %s%s\n", err.msg,
				fs.audit_mode == AUDIT_REQUIRED ? " (audit=required)" : "");
			if (fs.audit_mode == AUDIT_REQUIRED)
				goto out;
		}
		catalog_close(fs.qlog);
		fs.qlog = NULL;
	}
	if (spool_open(fs.spool_path, SPOOL_RDONLY, SPOOL_DEFAULT_LOCK_TIMEOUT_MS, &fs.sp, &err) < 0) {
		fprintf(stderr, "pcapfs: %s\n", err.msg);
		goto out;
	}
	spool_close(fs.sp);
	fs.sp = NULL;
	/* Say now, on the terminal, if audit records cannot be written. */
	if (fs.audit_mode != AUDIT_OFF) {
		struct auditlog *probe;
		struct errbuf aerr = {{0}};
		if (auditlog_open(fs.audit_mode, &probe, &aerr) == 0) {
			if (auditlog_status(probe, &aerr) < 0)
				fprintf(stderr, "pcapfs: WARNING: %s; %s\n", aerr.msg,
					fs.audit_mode == AUDIT_REQUIRED
						? "with audit=required every open will be refused"
						: "opens are served without audit records (audit=best-effort)");
			else if (auditlog_rate_limit(probe) > 0)
				fprintf(stderr, "pcapfs: WARNING: the kernel's audit rate_limit is %u "
					"records a second (auditctl -r): records past it are lost, %s\n",
					auditlog_rate_limit(probe),
					fs.audit_mode == AUDIT_REQUIRED
						? "and those opens refused (audit=required)"
						: "and those opens served with a syslog record");
			auditlog_close(probe);
		}
	}

	/* Every open window holds the segment files of its plan. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	fs.mounted_ns = now_ns();
	fs.debug = co.debug;
	pthread_mutex_init(&fs.cat_lock, NULL);
	sem_init(&fs.builds, 0, BUILDS_MAX);
	pthread_mutex_init(&fs.node_lock, NULL);
	pthread_mutex_init(&fs.qlog_lock, NULL);
	pthread_mutex_init(&fs.pending_lock, NULL);
	pthread_mutex_init(&fs.csv_lock, NULL);
	pthread_mutex_init(&fs.csv_make_lock, NULL);
	pthread_mutex_init(&fs.open_lock, NULL);
	fs.ids = idcache_new(&(struct idcache_config){
		/* 1 ns, not 0 (which means the default): id_cache=0 asks NSS and PAM every time. */
		.positive_ns = MAX(id_cache_ns, 1),
		.negative_ns = MAX(MIN(id_cache_ns, 10 * NS_PER_SEC), 1),
		.pam_service = o.pam_service ? o.pam_service : "pcapfs"});
	if (!fs.ids)
		goto out;

	/* Said on the terminal while there is one. */
	const char *svc = o.pam_service ? o.pam_service : "pcapfs";
	char pam_file[2][300];
	snprintf(pam_file[0], sizeof(pam_file[0]), "/etc/pam.d/%.250s", svc);
	snprintf(pam_file[1], sizeof(pam_file[1]), "/usr/lib/pam.d/%.250s", svc);
	if (access(pam_file[0], F_OK) != 0 && access(pam_file[1], F_OK) != 0)
		fprintf(stderr, "pcapfs: WARNING: no PAM service '%s' (%s): PAM checks accounts with "
				"its 'other' service instead, which on Debian lets nearly every account "
				"through; install systemd/pcapfs.pam as %s\n", svc, pam_file[0], pam_file[0]);
	if (!co.foreground && access("/dev/log", W_OK) != 0)
		fprintf(stderr, "pcapfs: WARNING: no syslog here (/dev/log): once in the background the "
				"mount's log lines are lost; run it with -f to keep them on standard "
				"error\n");
	se = fuse_session_new(&args, &pcapfs_ops, sizeof(pcapfs_ops), &fs);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	if (fuse_session_mount(se, co.mountpoint) != 0)
		goto out_signals;
	find_readahead_knob(co.mountpoint, fs.readahead_knob, sizeof(fs.readahead_knob));
	if (fuse_daemonize(co.foreground) != 0)
		goto out_unmount;
	/* audit=best-effort sends the records it cannot write to Linux audit here; in the
	 * background (stderr is /dev/null now) the log lines go here too. */
	openlog("pcapfs", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	if (!co.foreground)
		pcapfs_log_to_syslog();
	if (fs.audit_mode != AUDIT_OFF && qlog_open(&fs, &err) < 0) {
		pcapfs_log("the query log cannot be written: %s", err.msg);
		if (fs.audit_mode == AUDIT_REQUIRED)
			goto out_unmount;
	}
	if (spool_open(fs.spool_path, SPOOL_RDONLY, SPOOL_DEFAULT_LOCK_TIMEOUT_MS, &fs.sp, &err) < 0) {
		pcapfs_log("%s", err.msg);
		goto out_unmount;
	}
	if (auditlog_open(fs.audit_mode, &fs.audit, &err) < 0) {
		pcapfs_log("audit: %s", err.msg);
		goto out_unmount;
	}
	fs.se = se;
	if (fs.audit_mode == AUDIT_BEST_EFFORT) {
		struct errbuf aerr = {{0}};
		if (auditlog_status(fs.audit, &aerr) < 0)
			syslog(LOG_AUTHPRIV | LOG_WARNING, "%s; opens are served and recorded here "
			       "(audit=best-effort)", aerr.msg);
	}
	int e = content_state_poll(&fs);
	if (e == 0)
		e = content_watch_start(&fs);
	if (e < 0) {
		pcapfs_log("watching the catalogue for changes: %s", strerror(-e));
		goto out_unmount;
	}
	e = prefetch_start(&fs.prefetch);
	if (e < 0) /* prefetch_ask falls back to POSIX_FADV_WILLNEED */
		pcapfs_log("starting the threads that read ahead: %s (reading ahead without them)",
			   strerror(-e));
	if (co.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		lc = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(lc, co.clone_fd);
		fuse_loop_cfg_set_max_threads(lc, max_threads);
		fuse_loop_cfg_set_idle_threads(lc, max_idle_threads);
		ret = fuse_session_loop_mt(se, lc);
	}
	ret = ret < 0 ? 1 : 0; /* a signal (positive) is a clean stop */
out_unmount:
	content_watch_stop(&fs);
	prefetch_stop(&fs.prefetch);
	pcapfs_close_open_files(&fs); /* the loop's threads are gone: no RELEASE will come */
	if (fs.qlog)
		qlog_flush(&fs, true);
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	if (lc)
		fuse_loop_cfg_destroy(lc);
	closelog();
	pcapfs_nodes_free(&fs);
	idcache_free(fs.ids);
	auditlog_close(fs.audit);
	catalog_close(fs.qlog);
	spool_close(fs.sp);
	free(co.mountpoint);
	free(o.spool);
	free(o.cache_timeout);
	free(o.max_threads);
	free(o.max_idle_threads);
	free(o.pam_service);
	free(o.admin_group);
	free(o.auditor_group);
	free(o.audit);
	free(o.audit_keep);
	free(o.audit_csv_max);
	free(o.id_cache);
	free(o.max_nodes);
	fuse_opt_free_args(&args);
	return ret;
}

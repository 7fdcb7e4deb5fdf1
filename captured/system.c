/* system.c — the daemon's dealings with its environment: log lines (journald priority
 * prefixes when stderr is the journal), the sd_notify datagram protocol, dropping
 * privileges, and parsing sizes and durations from the command line. */
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>

#include "captured.h"

int log_level = LOG_INFO_;

void log_msg(int prio, const char *fmt, ...)
{
	static const char *const names[] = {"", "", "", "error", "warning", "notice", "info", "debug"};
	static int journal = -1;
	char line[2048];
	int n;
	va_list ap;

	if (prio > log_level)
		return;
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	if (journal) {
		n = snprintf(line, sizeof(line), "<%d>", prio);
	} else {
		char t[48];
		format_time(now_ns(), t, sizeof(t));
		n = snprintf(line, sizeof(line), "%s pcapfs-captured[%d]: %s: ", t, (int)getpid(),
			     names[prio]);
	}
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write(2) per line: lines of different threads never interleave. */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

/* ---- sd_notify ------------------------------------------------------------------------ */

int notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;

	if (!path || !*path)
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = 0; /* abstract namespace */
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		return -errno;
	return 1;
}

int64_t notify_watchdog_ns(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;

	if (!us)
		return 0;
	if (pid && strtol(pid, &end, 10) != (long)getpid())
		return 0;
	unsigned long long v = strtoull(us, &end, 10);
	if (*end || v == 0 || v > 86400ULL * 1000000)
		return 0;
	return (int64_t)v * NS_PER_US;
}

/* ---- privileges ----------------------------------------------------------------------- */

static int caps_set(uint64_t keep)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct c[2] = {{0}};

	c[0].effective = c[0].permitted = (uint32_t)keep;
	c[1].effective = c[1].permitted = (uint32_t)(keep >> 32);
	return syscall(SYS_capset, &h, c) < 0 ? -errno : 0;
}

int privileges_drop(const char *user, struct errbuf *err)
{
	uint64_t keep = UINT64_C(1) << CAP_NET_RAW;
	int last = CAP_LAST_CAP;

	if (geteuid() != 0) {
		if (user)
			return err_set(err, EPERM, "--user %s needs the daemon to start as root", user);
		return 0; /* started with file capabilities or as a user: nothing to give up */
	}
	if (!user)
		/* Staying root: the spool may belong to the service user. */
		keep |= UINT64_C(1) << CAP_DAC_OVERRIDE;
	/* Shrink the bounding set first: it needs CAP_SETPCAP, which goes below. */
	for (int cap = 0; cap <= last; cap++)
		if (!(keep & (UINT64_C(1) << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			return err_set(err, errno, "dropping capability %d from the bounding set: %s",
				       cap, strerror(errno));
	if (user) {
		struct passwd pw, *res = NULL;
		char buf[4096];
		int e = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
		if (e || !res)
			return err_set(err, e ? e : ENOENT, "user %s: %s", user,
				       e ? strerror(e) : "no such user");
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			return err_set(err, errno, "PR_SET_KEEPCAPS: %s", strerror(errno));
		if (initgroups(pw.pw_name, pw.pw_gid) < 0)
			return err_set(err, errno, "initgroups(%s): %s", user, strerror(errno));
		if (setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) < 0)
			return err_set(err, errno, "setresgid(%u): %s", (unsigned)pw.pw_gid,
				       strerror(errno));
		if (setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) < 0)
			return err_set(err, errno, "setresuid(%u): %s", (unsigned)pw.pw_uid,
				       strerror(errno));
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	int e = caps_set(keep);
	if (e < 0)
		return err_set(err, -e, "capset: %s", strerror(-e));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_set(err, errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return 0;
}

/* ---- formatting ------------------------------------------------------------------------- */

void format_bytes(uint64_t b, char *buf, size_t size)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)b;
	size_t i = 0;
	while (v >= 1024 && i + 1 < ELEMENTSOF(u)) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, size, "%" PRIu64 " B", b);
	else
		snprintf(buf, size, "%.1f %s", v, u[i]);
}

void format_time(int64_t ns, char *buf, size_t size)
{
	time_t t = (time_t)(ns / NS_PER_SEC);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03dZ", (int)(ns % NS_PER_SEC / 1000000));
}

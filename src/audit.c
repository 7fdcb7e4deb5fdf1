/* audit.c — Linux audit records of file accesses (audit.h). */
#include <libaudit.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "audit.h"

struct auditlog {
	enum audit_mode mode;
	int fd;	      /* audit netlink socket, -1 without kernel support */
	int open_errno;
	bool cap;     /* CAP_AUDIT_WRITE effective */
	pthread_mutex_t lock;
	int enabled;
	uint32_t daemon_pid;
	uint32_t lost; /* the kernel's count of records it lost, at the last status */
	uint32_t rate_limit;
};

static bool have_cap_audit_write(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};
	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[CAP_AUDIT_WRITE / 32].effective & (1u << (CAP_AUDIT_WRITE % 32));
}

int auditlog_open(enum audit_mode mode, struct auditlog **ret, struct errbuf *err)
{
	struct auditlog *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->mode = mode;
	a->fd = -1;
	pthread_mutex_init(&a->lock, NULL);
	if (mode != AUDIT_OFF) {
		a->fd = audit_open();
		if (a->fd < 0)
			a->open_errno = errno ? errno : ENOSYS;
		a->cap = have_cap_audit_write();
	}
	*ret = a;
	return 0;
}

void auditlog_close(struct auditlog *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		audit_close(a->fd);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* The kernel's audit status (AUDIT_GET): enabled, the audit daemon's pid. 0 or -errno. */
static int kernel_status(int fd, struct audit_status *ret)
{
	int rc = audit_request_status(fd);
	if (rc <= 0)
		return rc < 0 ? rc : -EIO;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	for (int i = 0; i < 40; i++) { /* up to 4 s */
		do
			rc = poll(&pfd, 1, 100);
		while (rc < 0 && errno == EINTR);
		struct audit_reply rep;
		rc = audit_get_reply(fd, &rep, GET_REPLY_NONBLOCKING, 0);
		if (rc <= 0)
			continue;
		if (rep.type == NLMSG_ERROR)
			return rep.error && rep.error->error ? rep.error->error : -EIO;
		if (rep.type == NLMSG_DONE)
			break;
		if (rep.type == AUDIT_GET) {
			*ret = *rep.status;
			return 0;
		}
	}
	return -ETIMEDOUT;
}

static int status_locked(struct auditlog *a, struct errbuf *err)
{
	if (a->mode == AUDIT_OFF)
		return 0;
	if (a->fd < 0)
		return err_set(err, ENOSYS, "the kernel has no audit support (audit_open: %s)",
			       strerror(a->open_errno));
	if (!a->cap)
		return err_set(err, EPERM, "no CAP_AUDIT_WRITE: audit records cannot be written");
	/* Asked of the kernel every time: it drops user records silently while auditing is
	 * disabled, and only rate-limits them into its ring buffer while no audit daemon
	 * listens, so a cached answer would let an open through unrecorded. */
	struct audit_status st;
	int e = kernel_status(a->fd, &st);
	if (e < 0)
		return err_set(err, EPERM, "cannot query the audit state (%s)", strerror(-e));
	a->enabled = (int)st.enabled;
	a->daemon_pid = st.pid;
	a->lost = st.lost;
	a->rate_limit = st.rate_limit;
	if (st.enabled == 0)
		return err_set(err, ENODEV, "kernel auditing is disabled (auditctl -e 0)");
	if (st.pid == 0)
		return err_set(err, ENOTCONN, "no audit daemon is running (start auditd): the kernel "
			       "would only put records in its ring buffer");
	return 0;
}

int auditlog_status(struct auditlog *a, struct errbuf *err)
{
	pthread_mutex_lock(&a->lock);
	int e = status_locked(a, err);
	pthread_mutex_unlock(&a->lock);
	return e;
}

uint32_t auditlog_rate_limit(struct auditlog *a)
{
	pthread_mutex_lock(&a->lock);
	uint32_t rate = a->rate_limit;
	pthread_mutex_unlock(&a->lock);
	return rate;
}

/* Upper-case hex of s, as the audit tools decode it. */
static int put_hex(char *buf, size_t size, size_t *o, const char *name, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int n = snprintf(buf + *o, size - *o, " %s=", name);
	if (n < 0 || (size_t)n >= size - *o)
		return -ENOSPC;
	*o += (size_t)n;
	if (!s || !*s) {
		/* An empty or unknown value: "?" as the audit tools write it. */
		if (*o + 2 > size)
			return -ENOSPC;
		buf[(*o)++] = '?';
		buf[*o] = 0;
		return 0;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*o + 3 > size)
			return -ENOSPC;
		buf[(*o)++] = hex[*p >> 4];
		buf[(*o)++] = hex[*p & 15];
	}
	buf[*o] = 0;
	return 0;
}

int auditlog_format(const struct audit_event *ev, char *buf, size_t size)
{
	int n = snprintf(buf, size, "uid=%u gid=%u", (unsigned)ev->uid, (unsigned)ev->gid);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	size_t o = (size_t)n;
	if (put_hex(buf, size, &o, "acct", ev->user) < 0)
		return -ENOSPC;
	n = snprintf(buf + o, size - o, " caller_pid=%d op=%s", (int)ev->pid, ev->op);
	if (n < 0 || (size_t)n >= size - o)
		return -ENOSPC;
	o += (size_t)n;
	if (ev->id > 0) {
		n = snprintf(buf + o, size - o, " event=%lld", (long long)ev->id);
		if (n < 0 || (size_t)n >= size - o)
			return -ENOSPC;
		o += (size_t)n;
	}
	if (put_hex(buf, size, &o, "device", ev->device) < 0 ||
	    put_hex(buf, size, &o, "window", ev->window) < 0 ||
	    put_hex(buf, size, &o, "path", ev->path) < 0)
		return -ENOSPC;
	n = snprintf(buf + o, size - o, " decision=%s", ev->granted ? "allow" : "deny");
	if (n < 0 || (size_t)n >= size - o)
		return -ENOSPC;
	o += (size_t)n;
	if (put_hex(buf, size, &o, "reason", ev->reason) < 0)
		return -ENOSPC;
	if (strcmp(ev->op, "open") == 0 && ev->granted && ev->bytes) {
		n = snprintf(buf + o, size - o, " size=%llu", (unsigned long long)ev->bytes);
		if (n < 0 || (size_t)n >= size - o)
			return -ENOSPC;
		o += (size_t)n;
	}
	if (strcmp(ev->op, "close") == 0) {
		n = snprintf(buf + o, size - o, " bytes=%llu duration_ms=%lld open_event=%lld",
			     (unsigned long long)ev->bytes, (long long)(ev->duration_ns / 1000000),
			     (long long)ev->open_id);
		if (n < 0 || (size_t)n >= size - o)
			return -ENOSPC;
		o += (size_t)n;
	}
	return (int)o;
}

int auditlog_write(struct auditlog *a, const struct audit_event *ev, struct errbuf *err)
{
	if (a->mode == AUDIT_OFF)
		return 0;
	char msg[4096];
	if (auditlog_format(ev, msg, sizeof(msg)) < 0)
		return err_set(err, ENOSPC, "audit record too long");
	pthread_mutex_lock(&a->lock);
	int e = status_locked(a, err);
	if (e == 0) {
		uint32_t lost = a->lost;
		/* hostname NULL: no DNS lookup; tty "": no tty probing. */
		int r = audit_log_user_message(a->fd, AUDIT_TRUSTED_APP, msg, NULL, NULL, "",
					       ev->granted ? 1 : 0);
		if (r <= 0)
			e = err_set(err, errno ? errno : EIO, "audit_log_user_message failed: %s",
				    strerror(errno ? errno : EIO));
		/* Disabled while the record was on its way: it may have been dropped. */
		else if (status_locked(a, err) < 0)
			e = -ENODEV;
		/* The kernel drops a record it cannot queue (backlog full past backlog_wait_time)
		 * or that exceeds rate_limit while the sender waits for its answer, and says so
		 * only by counting it: a count that moved may be this record (or another
		 * process's, which is taken for this one's). */
		else if (a->lost != lost)
			e = err_set(err, ENOBUFS, "the kernel lost %u audit record%s meanwhile (auditctl "
				    "-s: lost; a full backlog or the rate limit)", a->lost - lost,
				    a->lost - lost == 1 ? "" : "s");
	}
	pthread_mutex_unlock(&a->lock);
	return e;
}

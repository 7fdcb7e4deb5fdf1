/* audit.c — Linux audit records of file accesses (audit.h). */
#include <libaudit.h>
#include <linux/capability.h>
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
	 * disabled, so a cached answer would let an open through unrecorded. */
	a->enabled = audit_is_enabled(a->fd);
	if (a->enabled < 0)
		return err_set(err, EPERM, "cannot query the audit state (in a user namespace?)");
	if (a->enabled == 0)
		return err_set(err, ENODEV, "kernel auditing is disabled (auditctl -e 0)");
	return 0;
}

int auditlog_status(struct auditlog *a, struct errbuf *err)
{
	pthread_mutex_lock(&a->lock);
	int e = status_locked(a, err);
	pthread_mutex_unlock(&a->lock);
	return e;
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
		/* hostname NULL: no DNS lookup; tty "": no tty probing. */
		int r = audit_log_user_message(a->fd, AUDIT_TRUSTED_APP, msg, NULL, NULL, "",
					       ev->granted ? 1 : 0);
		if (r <= 0)
			e = err_set(err, errno ? errno : EIO, "audit_log_user_message failed: %s",
				    strerror(errno ? errno : EIO));
		/* Disabled while the record was on its way: it may have been dropped. */
		else if (status_locked(a, err) < 0)
			e = -ENODEV;
	}
	pthread_mutex_unlock(&a->lock);
	return e;
}

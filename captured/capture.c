/* capture.c — one interface's capture thread: the hot path.
 *
 * libpcap with TPACKET_V3 (a memory-mapped ring of --buffer-size, immediate mode off): the
 * kernel hands over a block when it is full or its retire timeout passes. The thread polls
 * the socket itself with a short timeout and reads in non-blocking mode, so it wakes up
 * regularly whatever the traffic: an idle interface neither hangs the thread nor delays
 * shutdown, partial batches are handed over within flush/10, and the link is checked.
 *
 * Per packet: one copy from the ring into the current batch, counters; no allocation, no
 * system call, no lock (the queue's mutex is taken once per batch). Interfaces that go
 * down stay open (the kernel rebinds the socket when they come back up); interfaces that
 * disappear or are recreated are closed and reopened every --retry-interval. */
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>

#include "captured.h"

struct cap {
	struct iface *it;
	struct daemon *d;
	struct batch *cur;
	int64_t cur_started;	 /* mono ns of the current batch's first record */
	int64_t handover_ns;	 /* hand a non-empty batch over at least this often */
	bool nano;		 /* the handle delivers nanosecond timestamps */
	uint32_t linktype;
	uint64_t base_recv, base_drop, base_ifdrop; /* pcap_stats of closed handles */
	uint64_t packets, bytes;		    /* local copies of the published counters */
	char operstate[32];
};

static int64_t handover_of(const struct daemon *d)
{
	return MIN(MAX(d->o.flush_ns / 10, 10 * 1000 * 1000), 100 * 1000 * 1000);
}

int capture_open(struct iface *it, struct errbuf *err)
{
	struct daemon *d = it->d;
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_create(it->name, ebuf);
	if (!p)
		return err_set(err, ENODEV, "%s: %s", it->name, ebuf);
	uint32_t snaplen = d->o.snaplen ? d->o.snaplen : d->cfg.snaplen;
	int timeout_ms = (int)(handover_of(d) / 1000000);
	int r = pcap_set_snaplen(p, (int)snaplen);
	if (r == 0)
		r = pcap_set_promisc(p, d->o.promisc);
	if (r == 0)
		r = pcap_set_timeout(p, timeout_ms);
	if (r == 0)
		r = pcap_set_buffer_size(p, (int)MIN(d->o.buffer_bytes, (uint64_t)INT32_MAX));
	if (r == 0)
		r = pcap_set_immediate_mode(p, 0);
	if (r == 0 && d->cfg.prec == TSPREC_NS)
		r = pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
	if (r != 0) {
		pcap_close(p);
		return err_set(err, EINVAL, "%s: cannot set capture options", it->name);
	}
	r = pcap_activate(p);
	if (r < 0) {
		int e = r == PCAP_ERROR_NO_SUCH_DEVICE ? ENODEV
			: r == PCAP_ERROR_PERM_DENIED  ? EPERM
			: r == PCAP_ERROR_IFACE_NOT_UP ? ENETDOWN
						       : EIO;
		/* libpcap's message often just repeats the status: said once. */
		const char *msg = pcap_geterr(p), *st = pcap_statustostr(r);
		bool more = *msg && strcmp(msg, st) != 0;
		err_set(err, e, "%s: %s%s%s", it->name, st, more ? ": " : "", more ? msg : "");
		pcap_close(p);
		return -e;
	}
	if (r > 0)
		log_warn("%s: %s: %s", it->name, pcap_statustostr(r), pcap_geterr(p));
	if (d->o.filter) {
		struct bpf_program prog;
		if (pcap_compile(p, &prog, d->o.filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			err_set(err, EINVAL, "%s: filter '%s': %s", it->name, d->o.filter, pcap_geterr(p));
			pcap_close(p);
			return -EINVAL;
		}
		r = pcap_setfilter(p, &prog);
		pcap_freecode(&prog);
		if (r < 0) {
			err_set(err, EINVAL, "%s: setting the filter: %s", it->name, pcap_geterr(p));
			pcap_close(p);
			return -EINVAL;
		}
	}
	if (pcap_setnonblock(p, 1, ebuf) < 0) {
		err_set(err, EIO, "%s: non-blocking mode: %s", it->name, ebuf);
		pcap_close(p);
		return -EIO;
	}
	it->pcap = p;
	it->ifindex = (int)if_nametoindex(it->name);
	atomic_store(&it->up, true);
	return 0;
}

/* The link type a pcap file records for a handle's DLT: they differ for raw IP, which
 * libpcap reports as DLT_RAW (12 on Linux) and files store as 101. */
static uint32_t linktype_of(pcap_t *p)
{
	int dlt = pcap_datalink(p);
	if (dlt == DLT_RAW)
		return 101; /* LINKTYPE_RAW */
	return (uint32_t)dlt;
}

static void hand_over(struct cap *c)
{
	if (c->cur && c->cur->n) {
		queue_push(&c->it->q, c->cur);
		c->cur = NULL;
	}
}

/* A free batch for the next record; waits while the writer is behind (the kernel ring
 * buffers meanwhile). false when stopping with no batch to be had. */
static bool next_batch(struct cap *c)
{
	hand_over(c);
	while (!c->cur) {
		c->cur = queue_get_free(&c->it->q, 100 * 1000 * 1000);
		if (c->cur)
			break;
		atomic_fetch_add(&c->it->queue_waits, 1);
		atomic_store(&c->it->cap_heartbeat, mono_ns());
		if (atomic_load(&c->d->stop))
			return false;
	}
	c->cur->linktype = c->linktype;
	c->cur_started = mono_ns();
	return true;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct cap *c = (struct cap *)user;
	uint32_t caplen = h->caplen;
	size_t need = sizeof(struct batch_rec) + ((caplen + 7u) & ~(size_t)7);
	if (_unlikely_(!c->cur || c->cur->len + need > c->cur->cap)) {
		if (!next_batch(c)) {
			atomic_fetch_add(&c->it->lost, 1);
			return;
		}
		if (_unlikely_(need > c->cur->cap)) { /* cannot happen: batch >= snaplen checked */
			atomic_fetch_add(&c->it->lost, 1);
			return;
		}
	}
	struct batch *b = c->cur;
	struct batch_rec *r = (struct batch_rec *)(b->data + b->len);
	int64_t sub = c->nano ? (int64_t)h->ts.tv_usec : (int64_t)h->ts.tv_usec * NS_PER_US;
	r->ts_ns = (int64_t)h->ts.tv_sec * NS_PER_SEC + sub;
	r->caplen = caplen;
	r->len = h->len;
	memcpy(r + 1, bytes, caplen);
	b->len += need;
	b->n++;
	c->packets++;
	c->bytes += h->len;
}

static void publish_stats(struct cap *c)
{
	struct iface *it = c->it;
	struct pcap_stat ps = {0};
	if (it->pcap && pcap_stats(it->pcap, &ps) == 0) {
		atomic_store(&it->received, c->base_recv + ps.ps_recv);
		atomic_store(&it->dropped, c->base_drop + ps.ps_drop);
		atomic_store(&it->if_dropped, c->base_ifdrop + ps.ps_ifdrop);
	}
	atomic_store(&it->packets, c->packets);
	atomic_store(&it->bytes, c->bytes);
}

static void close_handle(struct cap *c, const char *why)
{
	struct iface *it = c->it;
	struct pcap_stat ps = {0};
	hand_over(c);
	if (pcap_stats(it->pcap, &ps) == 0) {
		c->base_recv += ps.ps_recv;
		c->base_drop += ps.ps_drop;
		c->base_ifdrop += ps.ps_ifdrop;
	}
	pcap_close(it->pcap);
	it->pcap = NULL;
	atomic_store(&it->up, false);
	if (why)
		log_warn("%s: %s; capture stopped, reopening every %.0f s", it->name, why,
			 (double)c->d->o.retry_ns / 1e9);
}

/* Log link state changes (down, up, gone); close the handle when the interface it is
 * bound to no longer exists under that name. */
static void check_link(struct cap *c)
{
	struct iface *it = c->it;
	char path[64], st[32] = "absent";
	snprintf(path, sizeof(path), "/sys/class/net/%s/operstate", it->name);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, st, sizeof(st) - 1);
		st[n > 0 ? n : 0] = 0;
		st[strcspn(st, "\n")] = 0;
	}
	if (strcmp(st, c->operstate)) {
		if (c->operstate[0])
			log_notice("%s: link %s (was %s)", it->name, st, c->operstate);
		snprintf(c->operstate, sizeof(c->operstate), "%s", st);
	}
	if (it->pcap) {
		int idx = (int)if_nametoindex(it->name);
		if (idx == 0)
			close_handle(c, "the interface disappeared");
		else if (idx != it->ifindex)
			close_handle(c, "the interface was replaced by a new one of the same name");
	}
}

static void try_reopen(struct cap *c)
{
	struct iface *it = c->it;
	struct errbuf err = {{0}};
	int e = capture_open(it, &err);
	if (e < 0) {
		if (strcmp(err.msg, it->last_err))
			log_warn("%s; retrying every %.0f s", err.msg, (double)c->d->o.retry_ns / 1e9);
		snprintf(it->last_err, sizeof(it->last_err), "%s", err.msg);
		return;
	}
	it->last_err[0] = 0;
	c->linktype = linktype_of(it->pcap);
	c->nano = pcap_get_tstamp_precision(it->pcap) == PCAP_TSTAMP_PRECISION_NANO;
	log_notice("%s: capturing (link type %u)", it->name, c->linktype);
}

void *capture_thread(void *arg)
{
	struct iface *it = arg;
	struct daemon *d = it->d;
	struct cap c = {.it = it, .d = d, .handover_ns = handover_of(d)};
	char name[16 + IFACE_NAME_MAX]; /* thread names: at most 15 bytes */
	snprintf(name, sizeof(name), "cap-%s", it->name);
	name[15] = 0;
	pthread_setname_np(pthread_self(), name);

	if (it->pcap) {
		c.linktype = linktype_of(it->pcap);
		c.nano = pcap_get_tstamp_precision(it->pcap) == PCAP_TSTAMP_PRECISION_NANO;
	}
	int64_t next_check = 0, next_retry = 0, drain_until = 0;
	for (;;) {
		int64_t now = mono_ns();
		/* Stopping: what the kernel has received is still read, until two block timeouts
		 * have retired the last partly filled block. */
		if (!drain_until && atomic_load(&d->stop))
			drain_until = now + 2 * c.handover_ns + 20 * 1000 * 1000;
		if (drain_until && (now >= drain_until || !it->pcap))
			break;
		atomic_store(&it->cap_heartbeat, now);
		if (now >= next_check) {
			check_link(&c);
			publish_stats(&c);
			next_check = now + NS_PER_SEC;
		}
		if (!it->pcap) {
			if (now >= next_retry) {
				try_reopen(&c);
				next_retry = now + d->o.retry_ns;
			}
			if (!it->pcap) {
				struct timespec t = {0, 100 * 1000 * 1000};
				nanosleep(&t, NULL);
				continue;
			}
		}
		struct pollfd pfd = {.fd = pcap_get_selectable_fd(it->pcap), .events = POLLIN};
		int pr = poll(&pfd, 1, (int)(c.handover_ns / 2000000));
		if (pr < 0 && errno != EINTR) {
			close_handle(&c, strerror(errno));
			continue;
		}
		if (pr > 0 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))) {
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			getsockopt(pfd.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl); /* also clears it */
			if (soerr && soerr != ENETDOWN)
				log_warn("%s: socket error: %s", it->name, strerror(soerr));
			check_link(&c);
			if (!it->pcap)
				continue;
		}
		/* Also after a timeout: a non-blocking read takes whatever blocks are ready. */
		int n = pcap_dispatch(it->pcap, -1, on_packet, (u_char *)&c);
		if (n == PCAP_ERROR) {
			char why[PCAP_ERRBUF_SIZE + 16];
			snprintf(why, sizeof(why), "read failed: %s", pcap_geterr(it->pcap));
			close_handle(&c, why);
			next_retry = mono_ns() + d->o.retry_ns;
		}
		/* Visibility: a batch waits at most 1.5 handover periods here, after at most one
		 * block timeout (also a handover period) in the kernel. */
		if (c.cur && c.cur->n && mono_ns() - c.cur_started >= c.handover_ns)
			hand_over(&c);
	}
	if (it->pcap) {
		publish_stats(&c);
		close_handle(&c, NULL);
	}
	hand_over(&c);
	if (c.cur)
		queue_put_free(&it->q, c.cur);
	publish_stats(&c);
	queue_producer_finish(&it->q);
	return NULL;
}

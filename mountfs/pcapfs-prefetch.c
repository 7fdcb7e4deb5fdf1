/* pcapfs-prefetch.c — reading segment bytes into the page cache ahead of a sequential reader
 * (pcapfs.h).
 *
 * A few threads read the stretches that read_ahead (pcapfs-ops.c) asks for, each stretch
 * from start to end through sendfile(2) to /dev/null: the kernel reads the file as it reads
 * any file front to back (its own readahead, in folios that grow as it goes on) and copies
 * nothing, and the threads of the session loop stay free to answer requests. Stretches of
 * different segment files are read at the same time, which keeps more than one request in
 * flight to the disk. POSIX_FADV_WILLNEED, asked from the thread that served the request,
 * allocates the pages one at a time in that thread (docs/performance.md). Each stretch holds
 * its own descriptor of the file (a dup), so a plan released meanwhile closes nothing under
 * it. Advice only: a stretch that does not fit the queue, or fails to read, is dropped; the
 * read that needs the bytes reads them itself and reports any error. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "pcapfs.h"

/* Read a stretch in pieces of at most this, so that an unmount does not wait for a long
 * one. */
#define PREFETCH_PIECE (4u << 20)

static bool take(struct prefetcher *pf, struct prefetch_job *job)
{
	pthread_mutex_lock(&pf->lock);
	while (pf->head == pf->tail && !pf->stop)
		pthread_cond_wait(&pf->cond, &pf->lock);
	bool ok = !pf->stop;
	if (ok)
		*job = pf->queue[pf->tail++ % PREFETCH_QUEUE];
	pthread_mutex_unlock(&pf->lock);
	return ok;
}

static void *prefetch_thread(void *arg)
{
	struct prefetcher *pf = arg;
	struct prefetch_job job;
	while (take(pf, &job)) {
		off_t pos = (off_t)job.off;
		uint64_t left = job.len;
		while (left > 0 && !__atomic_load_n(&pf->stop, __ATOMIC_RELAXED)) {
			ssize_t n = sendfile(pf->devnull, job.fd, &pos, (size_t)MIN(left, (uint64_t)PREFETCH_PIECE));
			if (n <= 0 && !(n < 0 && errno == EINTR))
				break; /* the end of the file, or an error the reader will meet */
			if (n > 0)
				left -= (uint64_t)n;
		}
		close(job.fd);
	}
	return NULL;
}

int prefetch_start(struct prefetcher *pf)
{
	*pf = (struct prefetcher){.devnull = -1, .started = true};
	pthread_mutex_init(&pf->lock, NULL);
	pthread_cond_init(&pf->cond, NULL);
	pf->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (pf->devnull < 0)
		return -errno;
	/* Signals (SIGTERM, SIGINT: unmount) are for the main thread, not these. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = 0;
	for (; e == 0 && pf->n_threads < PREFETCH_THREADS; pf->n_threads++) {
		e = pthread_create(&pf->threads[pf->n_threads], NULL, prefetch_thread, pf);
		if (e != 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		prefetch_stop(pf);
		return -e;
	}
	return 0;
}

void prefetch_stop(struct prefetcher *pf)
{
	if (!pf->started)
		return;
	pthread_mutex_lock(&pf->lock);
	__atomic_store_n(&pf->stop, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&pf->cond);
	pthread_mutex_unlock(&pf->lock);
	for (unsigned i = 0; i < pf->n_threads; i++)
		pthread_join(pf->threads[i], NULL);
	pf->n_threads = 0;
	for (; pf->tail != pf->head; pf->tail++)
		close(pf->queue[pf->tail % PREFETCH_QUEUE].fd);
	if (pf->devnull >= 0)
		close(pf->devnull);
	pthread_cond_destroy(&pf->cond);
	pthread_mutex_destroy(&pf->lock);
	pf->started = false;
}

void prefetch_ask(void *ctx, int fd, uint64_t off, uint64_t len)
{
	struct prefetcher *pf = ctx;
	if (len == 0)
		return;
	if (pf->n_threads == 0) { /* the threads could not start: the kernel is asked instead */
		(void)posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
		return;
	}
	pthread_mutex_lock(&pf->lock);
	/* Under the lock: no descriptor is made for a stretch that has no place. */
	if (!pf->stop && pf->head - pf->tail < PREFETCH_QUEUE) {
		int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (own >= 0) {
			pf->queue[pf->head++ % PREFETCH_QUEUE] = (struct prefetch_job){own, off, len};
			pthread_cond_signal(&pf->cond);
		}
	}
	pthread_mutex_unlock(&pf->lock);
}

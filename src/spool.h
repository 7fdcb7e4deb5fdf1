/* spool.h — a spool directory: the catalogue, segment files under seg/, lock files under
 * locks/, and the spool's settings. The one place that knows the directory layout:
 *
 *   <spool>/catalog.db                      SQLite catalogue (catalog.h)
 *   <spool>/seg/YYYYMMDD/<id>.pcap, .idx    segments and their indexes (segment.h)
 *   <spool>/locks/if-<interface>.lock       held by the writer of an interface
 *   <spool>/locks/import-<id>.lock          held by a running import
 *
 * Opening a spool for writing recovers segments orphaned by a writer that died (SIGKILL,
 * power loss): see segment.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "classify.h"
#include "errbuf.h"
#include "pcapio.h"
#include "segment.h"

#define SPOOL_DEFAULT_SEGMENT_NS (60 * NS_PER_SEC)
#define SPOOL_DEFAULT_SEGMENT_BYTES (UINT64_C(1) << 30)
#define SPOOL_DEFAULT_MAX_WINDOW_NS (3600 * NS_PER_SEC)
#define SPOOL_DEFAULT_LOCK_TIMEOUT_MS 5000
#define SPOOL_MIN_SEGMENT_NS NS_PER_SEC
#define SPOOL_MAX_SEGMENT_NS (86400 * NS_PER_SEC)
#define SPOOL_MIN_SEGMENT_BYTES (UINT64_C(1) << 20)
#define SPOOL_MAX_PATH 3072

struct spool_config {
	enum tsprec prec;	    /* precision of segment files */
	uint32_t snaplen;	    /* largest caplen stored; the snaplen of every file served */
	int64_t segment_ns;	    /* rotation period, aligned to the wall clock */
	uint64_t segment_bytes;	    /* rotation size */
	int64_t max_window_ns;	    /* the widest window a name may ask for */
};

void spool_config_default(struct spool_config *c);
/* Check ranges; a message says which value is wrong. */
int spool_config_check(const struct spool_config *c, struct errbuf *err);

struct spool_recovery {
	uint64_t recovered;	  /* segments sealed by recovery */
	uint64_t removed;	  /* empty ones removed */
	uint64_t truncated_bytes; /* torn tails cut */
	uint64_t busy;		  /* skipped: their writer is alive */
	uint64_t imports_interrupted;
	uint64_t failed;	    /* segments that could not be recovered (left open) */
	char first_failure[512];    /* what went wrong with the first of them */
};

struct spool {
	char path[SPOOL_MAX_PATH];
	int dirfd;
	bool rdonly;
	struct catalog *cat;
	struct spool_config cfg;
	struct spool_recovery recovery; /* what opening for writing recovered (or could not) */
};

/* Create a new spool (the directory may exist but must not hold a catalogue: -EEXIST). */
int spool_init(const char *path, const struct spool_config *cfg, struct errbuf *err);

enum {
	SPOOL_RDONLY = 1 << 0,	   /* readers: nothing is written, nothing recovered */
	SPOOL_NO_RECOVER = 1 << 1, /* writers that recover later themselves */
};
/* Open a spool. Writers recover orphaned segments (spool_recover) unless told not to. */
int spool_open(const char *path, int flags, int lock_timeout_ms, struct spool **ret,
	       struct errbuf *err);
void spool_close(struct spool *sp);

/* Take the writer lock of an interface (non-blocking): -EBUSY "interface X is being written
 * by another process". */
int spool_lock_interface(struct spool *sp, const char *iface, int *ret_fd, struct errbuf *err);
/* Take the lock that marks an import as running. */
int spool_lock_import(struct spool *sp, int64_t import_id, int *ret_fd, struct errbuf *err);
/* Let go of it: the lock file goes, then the descriptor (fd < 0: nothing to do). */
void spool_unlock_import(struct spool *sp, int64_t import_id, int fd);

/* The link type of the spool's packets: one per spool, since a window is one pcap file with
 * one link type in its header. It is that of the spool's segments (of its oldest segment
 * row, open or sealed; writers keep them all alike). *ret_known false: no segment. */
int spool_linktype(struct spool *sp, uint32_t *ret, bool *ret_known, struct errbuf *err);
/* May a new segment of linktype be written? Inside the caller's write transaction, so that
 * two writers cannot each take an empty spool for another type. 0, or -EINVAL with why
 * (spool_linktype_refusal); *ret_spools is the spool's type either way. */
int spool_claim_linktype(struct spool *sp, uint32_t linktype, uint32_t *ret_spools,
			 struct errbuf *err);
/* The refusal of linktype by a spool of type spools: -EINVAL, both named in err. */
int spool_linktype_refusal(uint32_t spools, uint32_t linktype, struct errbuf *err);

/* Relative path (no extension) of a new segment: "seg/YYYYMMDD/<id>". */
int spool_segment_relpath(int64_t id, int64_t t_ns, char *buf, size_t size);

/* Recover every orphaned OPEN segment (of interfaces nobody holds) and mark imports whose
 * importer died as interrupted. m: the registry to classify unindexed records with (NULL:
 * loaded from the catalogue when needed). only_iface: restrict to one interface (its lock
 * must be held by the caller), or NULL for all. */
int spool_recover(struct spool *sp, const struct devmap *m, const char *only_iface,
		  struct spool_recovery *ret, struct errbuf *err);

/* Seal a segment's catalogue row with the figures of its sealed index, or delete the row and
 * files when it holds no packet. */
int spool_segment_finish(struct spool *sp, const struct segment *s,
			 const struct segment_result *res, struct errbuf *err);

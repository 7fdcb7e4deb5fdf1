/* identity.c — NSS identity and PAM account checks, cached per uid (identity.h). */
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <stdio.h>

#include "identity.h"

#define PW_BUF_MAX (1u << 20) /* getpwuid_r/getgrnam_r buffers grow to at most this */

static bool transient(int e)
{
	return e == EINTR || e == EIO || e == EMFILE || e == ENFILE || e == ENOMEM || e == EAGAIN;
}

void identity_done(struct identity *id)
{
	if (id) {
		free(id->groups);
		id->groups = NULL;
		id->n_groups = 0;
	}
}

int identity_lookup(uid_t uid, struct identity *ret, struct errbuf *err)
{
	*ret = (struct identity){.uid = uid};
	size_t size = 1024;
	char *buf = NULL;
	struct passwd pw, *res = NULL;
	int e;
	for (;;) {
		char *nb = realloc(buf, size);
		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		e = getpwuid_r(uid, &pw, buf, size, &res);
		if (e != ERANGE || size >= PW_BUF_MAX)
			break;
		size *= 2;
	}
	if (e != 0 || !res) {
		free(buf);
		/* 0 with no result, ENOENT, ESRCH, EBADF, EPERM: the user does not exist. */
		if (e != 0 && transient(e))
			return err_set(err, e, "looking up uid %u: %s", (unsigned)uid, strerror(e));
		return err_set(err, ENOENT, "no user with uid %u", (unsigned)uid);
	}
	if (strlen(pw.pw_name) >= sizeof(ret->name)) {
		free(buf);
		return err_set(err, ENAMETOOLONG, "user name of uid %u is too long", (unsigned)uid);
	}
	strcpy(ret->name, pw.pw_name);
	ret->gid = pw.pw_gid;

	int n = 32;
	gid_t *groups = NULL;
	for (;;) {
		gid_t *ng = realloc(groups, (size_t)n * sizeof(gid_t));
		if (!ng) {
			free(groups);
			free(buf);
			return -ENOMEM;
		}
		groups = ng;
		int want = n;
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &want) >= 0) {
			n = want;
			break;
		}
		if (want <= n)
			want = n * 2; /* glibc did not say how many: grow anyway */
		if (want > IDENTITY_GROUPS_MAX) {
			free(groups);
			free(buf);
			return err_set(err, E2BIG, "user %s is in more than %d groups", ret->name,
				       IDENTITY_GROUPS_MAX);
		}
		n = want;
	}
	free(buf);
	ret->groups = groups;
	ret->n_groups = n;
	return 0;
}

bool identity_has_gid(const struct identity *id, gid_t gid)
{
	if (id->gid == gid)
		return true;
	for (int i = 0; i < id->n_groups; i++)
		if (id->groups[i] == gid)
			return true;
	return false;
}

bool identity_in_group(const struct identity *id, const char *name)
{
	size_t size = 1024;
	char *buf = NULL;
	struct group gr, *res = NULL;
	int e;
	for (;;) {
		char *nb = realloc(buf, size);
		if (!nb) {
			free(buf);
			return false;
		}
		buf = nb;
		e = getgrnam_r(name, &gr, buf, size, &res);
		if (e != ERANGE || size >= PW_BUF_MAX)
			break;
		size *= 2;
	}
	bool in = e == 0 && res && identity_has_gid(id, gr.gr_gid);
	free(buf);
	return in;
}

/* PAM conversation: the account stack asks nothing of a user who is not there; answer any
 * prompt with failure. */
static int no_conversation(int n, const struct pam_message **msg, struct pam_response **resp,
			   void *data)
{
	(void)n;
	(void)msg;
	(void)data;
	*resp = NULL;
	return PAM_CONV_ERR;
}

int identity_pam_account(const char *service, const char *confdir, const char *user,
			 struct errbuf *err)
{
	struct pam_conv conv = {no_conversation, NULL};
	pam_handle_t *h = NULL;
	int r = confdir ? pam_start_confdir(service, user, &conv, confdir, &h)
			: pam_start(service, user, &conv, &h);
	if (r != PAM_SUCCESS)
		return err_set(err, EIO, "PAM service %s could not start: %s", service,
			       h ? pam_strerror(h, r) : "pam_start failed");
	r = pam_set_item(h, PAM_TTY, "pcapfs");
	if (r == PAM_SUCCESS)
		r = pam_set_item(h, PAM_RUSER, user);
	if (r == PAM_SUCCESS)
		r = pam_acct_mgmt(h, PAM_SILENT);
	int e = 0;
	if (r != PAM_SUCCESS)
		e = err_set(err, EACCES, "PAM (service %s) refuses account %s: %s", service, user,
			    pam_strerror(h, r));
	pam_end(h, r);
	return e;
}

/* ---- the cache ------------------------------------------------------------------------ */

struct entry {
	uid_t uid;
	bool exists;
	bool pam_ok;
	char pam_reason[sizeof(((struct errbuf *)0)->msg)];
	struct identity id;
	int64_t expires;
	struct entry *next;
};

#define BUCKETS 1024

struct idcache {
	struct idcache_config cfg;
	char service[64], confdir[1024];
	pthread_mutex_t lock;
	struct entry *bucket[BUCKETS];
	size_t n;
};

struct idcache *idcache_new(const struct idcache_config *c)
{
	struct idcache *ic = calloc(1, sizeof(*ic));
	if (!ic)
		return NULL;
	ic->cfg = *c;
	if (ic->cfg.positive_ns <= 0)
		ic->cfg.positive_ns = 60 * NS_PER_SEC;
	if (ic->cfg.negative_ns <= 0)
		ic->cfg.negative_ns = 10 * NS_PER_SEC;
	if (c->pam_service) {
		snprintf(ic->service, sizeof(ic->service), "%s", c->pam_service);
		ic->cfg.pam_service = ic->service;
	}
	if (c->pam_confdir) {
		snprintf(ic->confdir, sizeof(ic->confdir), "%s", c->pam_confdir);
		ic->cfg.pam_confdir = ic->confdir;
	}
	pthread_mutex_init(&ic->lock, NULL);
	return ic;
}

static void entry_free(struct entry *e)
{
	identity_done(&e->id);
	free(e);
}

void idcache_flush(struct idcache *c)
{
	pthread_mutex_lock(&c->lock);
	for (size_t b = 0; b < BUCKETS; b++) {
		struct entry *e = c->bucket[b];
		while (e) {
			struct entry *next = e->next;
			entry_free(e);
			e = next;
		}
		c->bucket[b] = NULL;
	}
	c->n = 0;
	pthread_mutex_unlock(&c->lock);
}

void idcache_free(struct idcache *c)
{
	if (!c)
		return;
	idcache_flush(c);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int copy_identity(const struct identity *from, struct identity *to)
{
	*to = *from;
	to->groups = NULL;
	if (from->n_groups > 0) {
		to->groups = malloc((size_t)from->n_groups * sizeof(gid_t));
		if (!to->groups)
			return -ENOMEM;
		memcpy(to->groups, from->groups, (size_t)from->n_groups * sizeof(gid_t));
	}
	return 0;
}

/* Under the lock: answer from a live entry. Returns 1 when answered. */
static int answer(struct idcache *c, uid_t uid, int64_t now, struct identity *ret, bool *ret_pam_ok,
		  struct errbuf *err, int *ret_e)
{
	for (struct entry *e = c->bucket[uid % BUCKETS]; e; e = e->next) {
		if (e->uid != uid || e->expires <= now)
			continue;
		if (!e->exists) {
			*ret_e = err_set(err, ENOENT, "no user with uid %u", (unsigned)uid);
			return 1;
		}
		*ret_e = copy_identity(&e->id, ret);
		*ret_pam_ok = e->pam_ok;
		if (!e->pam_ok)
			err_set(err, EACCES, "%s", e->pam_reason);
		return 1;
	}
	return 0;
}

int idcache_get(struct idcache *c, uid_t uid, struct identity *ret, bool *ret_pam_ok,
		struct errbuf *err)
{
	int64_t now = mono_ns();
	int e = 0;
	*ret_pam_ok = false;
	pthread_mutex_lock(&c->lock);
	int hit = answer(c, uid, now, ret, ret_pam_ok, err, &e);
	pthread_mutex_unlock(&c->lock);
	if (hit)
		return e;

	/* Ask NSS and PAM outside the lock: they may be slow (LDAP, sssd). */
	struct entry *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->uid = uid;
	e = identity_lookup(uid, &n->id, err);
	if (e < 0 && e != -ENOENT) {
		free(n);
		return e; /* transient: not cached */
	}
	n->exists = e == 0;
	if (n->exists) {
		struct errbuf perr = {{0}};
		n->pam_ok = !c->cfg.pam_service ||
			    identity_pam_account(c->cfg.pam_service, c->cfg.pam_confdir, n->id.name, &perr) == 0;
		snprintf(n->pam_reason, sizeof(n->pam_reason), "%s", perr.msg);
	}
	n->expires = now + (n->exists ? c->cfg.positive_ns : c->cfg.negative_ns);

	pthread_mutex_lock(&c->lock);
	/* Replace any stale entry of this uid. */
	struct entry **pp = &c->bucket[uid % BUCKETS];
	while (*pp) {
		if ((*pp)->uid == uid) {
			struct entry *old = *pp;
			*pp = old->next;
			entry_free(old);
			c->n--;
		} else {
			pp = &(*pp)->next;
		}
	}
	n->next = c->bucket[uid % BUCKETS];
	c->bucket[uid % BUCKETS] = n;
	c->n++;
	hit = answer(c, uid, now, ret, ret_pam_ok, err, &e);
	pthread_mutex_unlock(&c->lock);
	return hit ? e : -EAGAIN;
}

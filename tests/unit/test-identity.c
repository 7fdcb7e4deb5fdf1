/* Unit tests of identity.c: NSS lookups of root and of a uid nobody has, group membership by
 * name, the PAM account check against test service files (pam_start_confdir) that permit and
 * deny, and the cache: hits, negative entries, PAM answers, flush. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "identity.h"
#include "tests.h"

static char dir[96];

static void service(const char *name, const char *rule)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "we");
	fprintf(f, "account %s\n", rule);
	fclose(f);
}

int main(void)
{
	struct identity id;
	struct errbuf err;
	CHECK_INT(identity_lookup(0, &id, &err), 0);
	CHECK_STR(id.name, "root");
	CHECK_INT(id.gid, 0);
	CHECK(id.n_groups >= 1);
	CHECK(identity_has_gid(&id, 0));
	CHECK(identity_in_group(&id, "root"));
	CHECK(!identity_in_group(&id, "no-such-group-pcapfs"));
	identity_done(&id);

	/* A uid no one has. */
	uid_t nobody_uid = 3999999;
	CHECK_INT(identity_lookup(nobody_uid, &id, &err), -ENOENT);

	test_tmp(dir, sizeof(dir), "test-identity", 0);
	service("permit", "required pam_permit.so");
	service("deny", "required pam_deny.so");
	CHECK_INT(identity_pam_account("permit", dir, "root", &err), 0);
	CHECK_INT(identity_pam_account("deny", dir, "root", &err), -EACCES);
	CHECK(strstr(err.msg, "refuses account root") != NULL);

	/* The cache: a denied account is known and refused by PAM; an unknown uid is ENOENT. */
	struct idcache *c = idcache_new(&(struct idcache_config){.pam_service = "deny", .pam_confdir = dir});
	bool ok = true;
	CHECK_INT(idcache_get(c, 0, &id, &ok, &err), 0);
	CHECK(!ok);
	CHECK_STR(id.name, "root");
	identity_done(&id);
	/* Changing the service file does not change a cached answer ... */
	service("deny", "required pam_permit.so");
	CHECK_INT(idcache_get(c, 0, &id, &ok, &err), 0);
	CHECK(!ok);
	identity_done(&id);
	/* ... until the cache is flushed. */
	idcache_flush(c);
	CHECK_INT(idcache_get(c, 0, &id, &ok, &err), 0);
	CHECK(ok);
	identity_done(&id);
	CHECK_INT(idcache_get(c, nobody_uid, &id, &ok, &err), -ENOENT);
	CHECK_INT(idcache_get(c, nobody_uid, &id, &ok, &err), -ENOENT);
	idcache_free(c);

	/* Short lifetimes expire. */
	c = idcache_new(&(struct idcache_config){.positive_ns = 1000000, .pam_service = "permit",
						  .pam_confdir = dir});
	CHECK_INT(idcache_get(c, 0, &id, &ok, &err), 0);
	identity_done(&id);
	service("permit", "required pam_deny.so");
	usleep(5000);
	CHECK_INT(idcache_get(c, 0, &id, &ok, &err), 0);
	CHECK(!ok);
	identity_done(&id);
	idcache_free(c);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	TESTS_DONE();
}

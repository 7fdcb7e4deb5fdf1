/* audit-probe: write one record through auditlog_write, as the filesystem does at an open.
 * Usage: audit-probe required|best-effort UID USER DEVICE PATH allow|deny
 * Exit 0 when written, 1 when it could not be (message on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: audit-probe required|best-effort UID USER DEVICE PATH allow|deny\n");
		return 2;
	}
	struct auditlog *a;
	struct errbuf err = {{0}};
	enum audit_mode mode = strcmp(argv[1], "required") == 0 ? AUDIT_REQUIRED : AUDIT_BEST_EFFORT;
	if (auditlog_open(mode, &a, &err) < 0)
		return 1;
	struct audit_event ev = {
		.op = strcmp(argv[6], "allow") == 0 ? "open" : "refuse",
		.uid = (uid_t)atoi(argv[2]), .gid = (gid_t)atoi(argv[2]), .pid = getpid(),
		.user = argv[3], .device = argv[4], .window = "20261122T100000Z--20261122T110000Z.pcap",
		.path = argv[5], .granted = strcmp(argv[6], "allow") == 0, .reason = "probe",
	};
	int e = auditlog_write(a, &ev, &err);
	auditlog_close(a);
	if (e < 0) {
		fprintf(stderr, "audit-probe: %s\n", err.msg);
		return 1;
	}
	return 0;
}

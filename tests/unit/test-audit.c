/* Unit tests of audit.c: the record format — uid= first, every user- or file-controlled value
 * hex-encoded (a path that says "res=success" stays inert), close records carry bytes and
 * duration — and the off mode writes nothing and always succeeds. */
#include "audit.h"
#include "tests.h"

int main(void)
{
	char buf[4096];
	struct audit_event ev = {
		.op = "open", .uid = 1001, .gid = 100, .pid = 4242, .user = "alice",
		.device = "cam-1", .window = "20261122T100000Z--20261122T110000Z.pcap",
		.path = "/pcap/cam-1/x res=success", .granted = true, .reason = "owner alice",
	};
	int n = auditlog_format(&ev, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK(strncmp(buf, "uid=1001 gid=100 acct=616C696365 caller_pid=4242 op=open ", 57) == 0);
	CHECK(strstr(buf, " device=63616D2D31 ") != NULL);
	CHECK(strstr(buf, "res=") == NULL);		/* the path's text is not in clear */
	CHECK(strstr(buf, " decision=allow ") != NULL);
	CHECK(strstr(buf, "bytes=") == NULL);
	CHECK(strstr(buf, "size=") == NULL); /* an open of nothing (README.txt, a refusal) */
	CHECK(strstr(buf, "event=") == NULL); /* no query-log row: no event id */
	ev.bytes = 385479; /* an allowed open of a window: its size */
	n = auditlog_format(&ev, buf, sizeof(buf));
	CHECK(strstr(buf, " size=385479") != NULL && strstr(buf, "bytes=") == NULL);
	ev.bytes = 0;
	ev.id = 77;
	n = auditlog_format(&ev, buf, sizeof(buf));
	CHECK(strstr(buf, " op=open event=77 device=") != NULL);
	/* uid= comes before any field starting with 'o' (op=) */
	CHECK(strstr(buf, "uid=") < strstr(buf, " op="));

	ev.op = "close";
	ev.id = 78;
	ev.open_id = 77;
	ev.bytes = 123456;
	ev.duration_ns = 2500 * INT64_C(1000000);
	ev.granted = false;
	ev.user = NULL;
	ev.reason = "";
	n = auditlog_format(&ev, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK(strstr(buf, " acct=? ") != NULL);
	CHECK(strstr(buf, " reason=? ") != NULL);
	CHECK(strstr(buf, " decision=deny ") != NULL);
	CHECK(strstr(buf, " bytes=123456 duration_ms=2500 open_event=77") != NULL);
	CHECK(strstr(buf, " op=close event=78 ") != NULL);
	CHECK_INT(auditlog_format(&ev, buf, 40), -ENOSPC);

	struct auditlog *a;
	struct errbuf err;
	CHECK_INT(auditlog_open(AUDIT_OFF, &a, &err), 0);
	CHECK_INT(auditlog_status(a, &err), 0);
	CHECK_INT(auditlog_write(a, &ev, &err), 0);
	auditlog_close(a);
	TESTS_DONE();
}

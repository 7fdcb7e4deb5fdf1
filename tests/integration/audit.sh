#!/bin/bash
# Linux audit records as the filesystem writes them (audit-probe calls auditlog_write):
# found by `ausearch -m TRUSTED_APP -ui UID`, the account decoded by -i, untrusted values
# hex-encoded so that a path saying "res=success" cannot fool ausearch; with auditing
# disabled (auditctl -e 0) a record in required mode is refused with a reason.
. "$(dirname "$0")/lib.sh"
: "${AUDIT_PROBE:?}"
need auditctl ausearch
[ "$(id -u)" -eq 0 ] || skip "needs root for audit"
ensure_audit || skip "no kernel audit support or no auditd here"

uid=$((60000 + RANDOM % 5000))
start=today
"$AUDIT_PROBE" required $uid "probe user" cam-1 "/pcap/cam-1/x res=success" deny || fail "record refused"
"$AUDIT_PROBE" required $uid "probe user" cam-1 /pcap/cam-1/ok allow || fail "record refused"
sleep 1
out=$(ausearch -m TRUSTED_APP -ui $uid -ts $start -i 2>/dev/null) || fail "ausearch found no record for uid $uid"
grep -q 'acct=probe user caller_pid=' <<<"$out" || fail "acct not decoded: $out"
[ "$(echo "$out" | grep -c 'type=TRUSTED_APP')" -eq 2 ] || fail "expected 2 records: $out"
pass "two records found by ausearch -m TRUSTED_APP -ui $uid, acct decoded"
# The spoofing path: its record is a failure; ausearch --success yes does not list it.
n=$(ausearch -m TRUSTED_APP -ui $uid -ts $start --success yes 2>/dev/null | grep -c 'type=TRUSTED_APP' || true)
[ "$n" -eq 1 ] || fail "expected 1 successful record, got $n"
raw=$(ausearch -m TRUSTED_APP -ui $uid -ts $start 2>/dev/null)
grep -q 'res=success.*res=' <<<"$raw" && fail "a path was written in clear: $raw"
pass "a path holding 'res=success' does not turn a refusal into a success"

auditctl -e 0 >/dev/null
expect_fail 'auditing is disabled' "$AUDIT_PROBE" required $uid u cam-1 /pcap/cam-1/x allow
auditctl -e 1 >/dev/null

#!/bin/bash
# The query log through a real mount with auditd running: every open, close and refusal is
# one row with the facts of its Linux audit record and the same event id; pcapfsctl audit
# filters by user, uid, device, operation, result and time, pages by --page and by cursor
# without gaps or overlaps, and prints table, JSON and CSV; admins and auditors read the
# same rows as /audit/<day>.csv, nobody else sees /audit (and trying is recorded); an open
# whose Linux audit record or query-log row cannot be written is refused, and what was
# written says so (auditing disabled, no audit daemon, the catalogue locked); audit_keep
# prunes old rows; a catalogue of the previous schema is
# brought up to date by the mount.
. "$(dirname "$0")/lib.sh"
: "${PCAPFS:?PCAPFS must point at the pcapfs binary}"
need useradd groupadd userdel groupdel setpriv ausearch fusermount3 sqlite3
[ -e /dev/fuse ] || skip "no /dev/fuse"
[ "$(id -u)" -eq 0 ] || skip "needs root (users, allow_other)"
ensure_audit || skip "no kernel audit support or no auditd here"

P=pq$$
AUD_G=${P}aud
U_AUD=${P}d U_USR=${P}u U_NONE=${P}n
users=("$U_AUD" "$U_USR" "$U_NONE")
cleanup_users() {
	for u in "${users[@]}"; do userdel "$u" 2>/dev/null || true; done
	groupdel "$AUD_G" 2>/dev/null || true
	rm -f "/etc/pam.d/$P"
}
on_exit cleanup_users
groupadd "$AUD_G"
for u in "${users[@]}"; do useradd -M -N -g users "$u"; done
usermod -aG "$AUD_G" "$U_AUD"
grep -v '^#' "$TESTS_DIR/../../systemd/pcapfs.pam" >"/etc/pam.d/$P"

"$PCAPFS_GEN" --packets 5000 --devices 4 --seed 61 --duration 3600 -o "$T/c.pcap" --registry "$T/devices.tsv"
ctl --quiet init
register_devices "$T/devices.tsv"
ctl import --no-progress "$T/c.pcap" 2>/dev/null
ctl grant "user:$U_USR" dev-001
ctl grant "user:$U_USR" dev-002
H=20261122T080000Z--20261122T090000Z

# A catalogue of schema 3 (before the query log and the id counters): the mount brings it
# to 6.
sqlite3 "$SPOOL/catalog.db" "DROP TABLE access_log; DROP TRIGGER devices_id_high; DROP TRIGGER segments_id_high; DELETE FROM counters WHERE name IN ('device_id_high', 'segment_id_high', 'access_id_high'); PRAGMA user_version = 3;"
mount_fs() { mount_pcapfs "audit=required,auditor_group=$AUD_G,pam_service=$P,id_cache=1$*"; }
umount_fs() { umount_pcapfs; }
on_exit umount_pcapfs_at_exit
mount_fs
[ "$(sqlite3 "$SPOOL/catalog.db" 'PRAGMA user_version')" = 6 ] || fail "the mount did not migrate the catalogue"
[ "$(sqlite3 "$SPOOL/catalog.db" "SELECT count(*) FROM counters WHERE name = 'access_id_high'")" = 1 ] ||
	fail "the migration did not add the query log's id counter"
pass "a schema-3 catalogue is brought to schema 6 by the mount"

as() { setpriv --reuid "$1" --regid "$(id -g "$1")" --init-groups -- "${@:2}"; }
errno_of() { # user op path
	as "$1" /usr/bin/python3 -c 'import os, sys
try:
    if sys.argv[1] == "open":
        fd = os.open(sys.argv[2], os.O_RDONLY); os.read(fd, 100000); os.close(fd)
    else:
        os.listdir(sys.argv[2])
    print(0)
except OSError as e:
    print(e.errno)' "$2" "$3"
}
# How many of USER's recent Linux audit records match PATTERN (decoded), once any does or
# after 5 s: auditd writes asynchronously.
audit_records() { # USER PATTERN
	local n=0
	for _ in $(seq 1 20); do
		n=$(ausearch -m TRUSTED_APP -ui "$(id -u "$1")" -ts recent -i 2>/dev/null | grep -c "acct=$1 .*$2" || true)
		[ "$n" -gt 0 ] && break
		sleep 0.25
	done
	echo "$n"
}
# Hold the catalogue's write lock for $1 seconds from the background ($LOCKER), as another
# writer would; returns once it is held.
lock_catalogue() {
	rm -f "$T/locked"
	/usr/bin/python3 - "$SPOOL/catalog.db" "$T/locked" "$1" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
db.execute("ROLLBACK")
PY
	LOCKER=$!
	for _ in $(seq 1 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
	[ -e "$T/locked" ] || fail "the catalogue could not be locked"
}
START=$(date +%s)
START_AU=$(date '+%x %T')
sleep 1
D=$MNT/pcap
# Three opens by the user, one refused lookup of a hidden device, one open by root.
for d in dev-001 dev-002 dev-001; do
	[ "$(errno_of "$U_USR" open "$D/$d/$H.pcap")" = 0 ] || fail "$U_USR cannot open $d"
done
[ "$(errno_of "$U_USR" open "$D/dev-003/$H.pcap")" = 2 ] || fail "$U_USR opened dev-003"
cat "$D/dev-003/$H.pcap" >/dev/null
sleep 0.5

q() { ctl audit --since "$START" --limit 1000 "$@"; }
ncsv() { q --csv "$@" | tail -n +2 | wc -l; }
[ "$(ncsv --user "$U_USR")" = 7 ] || fail "rows of $U_USR: $(q --user "$U_USR")"
[ "$(ncsv --uid "$(id -u "$U_USR")")" = 7 ] || fail "rows by uid"
[ "$(ncsv --user "$U_USR" --op open)" = 3 ] || fail "open rows: $(q --user "$U_USR" --op open)"
[ "$(ncsv --user "$U_USR" --op OPEN --result ALLOW)" = 3 ] || fail "--op and --result in capitals"
[ "$(ncsv --user "$U_USR" --op close)" = 3 ] || fail "close rows"
[ "$(ncsv --user "$U_USR" --result deny)" = 1 ] || fail "refusal rows: $(q --user "$U_USR")"
[ "$(ncsv --user "$U_USR" --device dev-001)" = 4 ] || fail "dev-001 rows"
[ "$(ncsv --device dev-003)" = 3 ] || fail "dev-003 rows: $(q --device dev-003)"
[ "$(ncsv --user root --device dev-003 --result allow --op open)" = 1 ] || fail "root's open"
[ "$(ctl audit --since $((START - 3600)) --until "$START" --user "$U_USR" --csv | tail -n +2 | wc -l)" = 0 ] || fail "--until"
q --user "$U_USR" --result deny --csv | tail -1 | grep -qF ",dev-003,,/pcap/dev-003,\"no owner, admin or grant rule matches (default deny)\"," ||
	fail "the refusal row: $(q --user "$U_USR" --result deny --csv)"
q --user "$U_USR" --op close --csv | grep -Eq ",close,allow,$U_USR,.*,dev-001,$H.pcap,/pcap/dev-001/$H.pcap,,[1-9][0-9]*,[0-9.]+,[1-9][0-9]*"$'\r'"$" ||
	fail "the close row: $(q --user "$U_USR" --op close --csv)"
pass "pcapfsctl audit: filters by user, uid, device, operation, result and time"

# Every row's event id is in the Linux audit record of the same access, once.
sleep 0.5
ausearch -m TRUSTED_APP -ts $START_AU --raw 2>/dev/null >"$T/au.raw" || true
/usr/bin/python3 - "$T/au.raw" "$(q --user "$U_USR" --csv)" "$(stat -c %s "$D/dev-001/$H.pcap")" "$(stat -c %s "$D/dev-002/$H.pcap")" <<'PY' || fail "query log and Linux audit disagree"
import csv, io, re, sys
au, size = {}, {}
for line in open(sys.argv[1]):
    m = re.search(r" op=(\w+) event=(\d+) ", line)
    if m:
        au.setdefault(int(m.group(2)), []).append(m.group(1))
        s = re.search(r" size=(\d+)", line)
        size[int(m.group(2))] = int(s.group(1)) if s else None
rows = list(csv.DictReader(io.StringIO(sys.argv[2])))
assert len(rows) == 7, rows
want = {"dev-001": int(sys.argv[3]), "dev-002": int(sys.argv[4])}
for r in rows:
    got = au.get(int(r["id"]))
    assert got == [r["op"]], (r, got)
    if r["op"] == "close":
        assert int(r["open_id"]) in au and au[int(r["open_id"])] == ["open"], r
    if r["op"] == "open" and r["result"] == "allow":  # the size of the file opened
        assert int(r["bytes"]) == want[r["device"]] == size[int(r["id"])], (r, size.get(int(r["id"])))
print(f"ok - {len(rows)} rows, each with exactly one Linux audit record of the same event id; "
      "an allowed open carries the size of the file it opened (size= in Linux audit)")
PY

# Pages and cursors: all rows once, in order, whichever way they are walked.
all=$(q --csv | tail -n +2 | cut -d, -f1 | tr '\n' ' ')
n=$(echo $all | wc -w)
[ "$n" -ge 9 ] || fail "only $n rows"
paged= cursor= page=1
while :; do
	out=$(ctl audit --since "$START" --limit 2 --page $page --csv 2>"$T/more")
	ids=$(echo "$out" | tail -n +2 | cut -d, -f1 | tr '\n' ' ')
	[ -n "$(echo $ids)" ] || break
	paged="$paged$ids"
	page=$((page + 1))
done
bycursor= c=0
while :; do
	out=$(ctl audit --since "$START" --limit 2 --cursor $c --csv 2>"$T/more")
	ids=$(echo "$out" | tail -n +2 | cut -d, -f1 | tr '\n' ' ')
	bycursor="$bycursor$ids"
	grep -q 'more: --cursor' "$T/more" || break
	c=$(grep -o 'cursor [0-9]*' "$T/more" | cut -d' ' -f2)
done
[ "$(echo $paged)" = "$(echo $all)" ] || fail "pages: $paged vs $all"
[ "$(echo $bycursor)" = "$(echo $all)" ] || fail "cursor: $bycursor vs $all"
pass "$n rows: pages of 2 and a cursor walk them all once, in order"

# Formats: a table for people, JSON with next_cursor, CSV with a header.
q --user "$U_USR" | head -1 | grep -q '^EVENT  *TIME  *OP  *RESULT  *USER  *DEVICE' || fail "table header: $(q --user "$U_USR" | head -1)"
ctl --json audit --since "$START" --user "$U_USR" --limit 3 2>/dev/null | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert len(d["rows"]) == 3 and isinstance(d["next_cursor"], int), d
assert d["rows"][0]["result"] == "allow" and d["rows"][0]["uid"] > 0, d
' || fail "JSON output"
ctl --json audit --since "$START" --user nobody-at-all | grep -q '"rows": \[\], "next_cursor": null' || fail "empty JSON"
[ "$(q --csv | head -1)" = $'id,time,op,result,user,uid,gid,pid,device,window,path,reason,bytes,duration_ms,open_id\r' ] ||
	fail "CSV header"
expect_fail 'exclude each other' ctl audit --page 2 --cursor 5
expect_fail '--result: allow or deny' ctl audit --result maybe
expect_fail 'invalid time' ctl audit --since yesterday
expect_fail '--limit' ctl audit --limit 0
pass "table, JSON (next_cursor) and CSV; bad options refused"

# /audit: the auditor lists and reads the day's CSV, which holds its own open; others do
# not see it, and their attempt is recorded.
day=$(date -u +%Y-%m-%d)
[ "$(as "$U_AUD" ls "$MNT/audit")" = "$day.csv" ] || fail "auditor's /audit: $(as "$U_AUD" ls "$MNT/audit" 2>&1)"
as "$U_AUD" cat "$MNT/audit/$day.csv" >"$T/day.csv" || fail "the auditor cannot read $day.csv"
head -1 "$T/day.csv" | grep -q '^id,time,op' || fail "no CSV header in $day.csv"
grep -q ",open,allow,$U_AUD,.*,/audit/$day.csv," "$T/day.csv" || fail "$day.csv lacks the auditor's own open"
# The rows before the auditor's open are those pcapfsctl prints.
ctl audit --since "$day" --limit 1000000 --csv | head -n "$(($(wc -l <"$T/day.csv") - 1))" | cmp -s - <(head -n -1 "$T/day.csv") ||
	fail "$day.csv differs from pcapfsctl audit --csv"
ls -l "$MNT/audit/$day.csv" >/dev/null
ls "$MNT" | grep -qx audit || fail "root does not see /audit"
as "$U_USR" ls "$MNT" | grep -qx audit && fail "$U_USR sees /audit in /"
[ "$(errno_of "$U_USR" ls "$MNT/audit")" = 2 ] || fail "$U_USR lists /audit"
[ "$(errno_of "$U_USR" open "$MNT/audit/$day.csv")" = 2 ] || fail "$U_USR opens $day.csv"
sleep 0.2
[ "$(ncsv --user "$U_USR" --result deny --op lookup)" -ge 2 ] || fail "the refused /audit lookups are not recorded"
q --user "$U_USR" --result deny --csv | grep -q ",/audit,neither administrator nor auditor," || fail "no /audit refusal row"
as "$U_AUD" cat "$MNT/audit/1999-01-01.csv" 2>/dev/null && fail "a day without rows opens"
as "$U_AUD" cat "$MNT/audit/2026-02-30.csv" 2>/dev/null && fail "an invalid day opens"
pass "/audit/$day.csv: the auditor reads the rows pcapfsctl audit prints, its own open included; others get ENOENT, recorded"

# Fail closed: auditing disabled → the open is refused, and its row says why.
auditctl -e 0 >/dev/null
[ "$(errno_of "$U_USR" open "$D/dev-002/$H.pcap")" = 13 ] || { auditctl -e 1; fail "opened without an audit record"; }
auditctl -e 1 >/dev/null
q --user "$U_USR" --device dev-002 --csv | tail -1 | grep -q ",open,deny,.*audit record not written: kernel auditing is disabled" ||
	fail "the refused open's row: $(q --user "$U_USR" --device dev-002 --csv | tail -1)"
# The catalogue locked by another writer for longer than the busy timeout: no row, no open;
# the Linux audit record tells of the refusal. Rows that decide no access (a refusal, a
# close) and the refused open's own row are kept and written once the lock is gone.
as "$U_USR" /usr/bin/python3 -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY); os.read(fd, 1000)
print("open", flush=True); time.sleep(1.5); os.close(fd)' "$D/dev-002/$H.pcap" >"$T/closer" &
HOLDER=$!
for _ in $(seq 1 50); do grep -q open "$T/closer" && break; sleep 0.1; done
grep -q open "$T/closer" || fail "the window did not open"
HOLDER_OPEN=$(q --user "$U_USR" --op open --device dev-002 --csv | tail -1 | cut -d, -f1)
lock_catalogue 8
[ "$(errno_of "$U_NONE" open "$D/dev-001/$H.pcap")" = 2 ] || fail "$U_NONE opened dev-001"
[ "$(errno_of "$U_USR" open "$D/dev-001/$H.pcap")" = 13 ] || fail "opened without a query-log row"
kill -0 $LOCKER 2>/dev/null || fail "the lock ended before the refused open: the test proves nothing"
wait $HOLDER
wait $LOCKER
grep -q "query-log row not written .*locked.*access refused; kept to be written later" "$T/fs.log" ||
	fail "no log line: $(tail -3 "$T/fs.log")"
[ "$(audit_records "$U_USR" "op=open device=dev-001 .*decision=deny reason=query log not written")" -gt 0 ] ||
	fail "no Linux audit record of the refusal"
for _ in $(seq 1 30); do grep -q "query log: [0-9]* delayed rows written" "$T/fs.log" && break; sleep 0.2; done
grep -q "query log: 3 delayed rows written" "$T/fs.log" || fail "delayed rows: $(grep 'query log' "$T/fs.log")"
/usr/bin/python3 - "$(q --csv)" "$U_USR" "$U_NONE" "$HOLDER_OPEN" <<'PY' || fail "the rows kept while the catalogue was locked"
import csv, io, sys
rows, usr, none, held = list(csv.DictReader(io.StringIO(sys.argv[1]))), sys.argv[2], sys.argv[3], sys.argv[4]
def one(**kw):
    m = [r for r in rows if all(r[k] == v for k, v in kw.items())]
    assert len(m) == 1, (kw, m)
    return m[0]
r = one(user=usr, op="open", result="deny", device="dev-001")
assert r["reason"].startswith("query log not written: ") and "locked" in r["reason"], r
one(user=none, result="deny", device="dev-001")
one(user=usr, op="close", device="dev-002", open_id=held)
print("ok - the refusal, the refused open and the close written after the lock")
PY
# A row still waiting when the mount ends is written before the daemon exits (the lock gone
# within the busy timeout).
lock_catalogue 3
[ "$(errno_of "$U_NONE" open "$D/dev-002/$H.pcap")" = 2 ] || fail "$U_NONE opened dev-002"
sleep 1 # the refusal's row gives up waiting for the lock and is kept
kill -0 $LOCKER 2>/dev/null || fail "the lock ended before the unmount: the test proves nothing"
umount_fs
wait $LOCKER
[ "$(q --user "$U_NONE" --device dev-002 --result deny --csv | tail -n +2 | wc -l)" = 1 ] ||
	fail "the refusal kept at unmount: $(grep 'query' "$T/fs.log" | tail -3)"
tail -2 "$T/fs.log" | grep -q "query log: 1 delayed row written" || fail "no log line: $(tail -3 "$T/fs.log")"
pass "a row kept for later is written at unmount"
mount_fs

# An open that cannot be served (a window whose index is damaged: EIO) is a refused open,
# recorded with why: one row and one Linux audit record.
idx=$(sqlite3 "$SPOOL/catalog.db" "SELECT path FROM segments WHERE t_first >= 1795335000000000000 ORDER BY t_first LIMIT 1").idx
cp -p "$SPOOL/$idx" "$T/idx.saved"
truncate -s 100 "$SPOOL/$idx"
[ "$(errno_of "$U_USR" open "$D/dev-002/20261122T081000Z--20261122T081100Z.pcap")" = 5 ] ||
	fail "a window over a damaged index did not give EIO"
cp -p "$T/idx.saved" "$SPOOL/$idx"
sleep 0.3
/usr/bin/python3 - "$(q --csv)" "$U_USR" <<'PY' || fail "the rows of failed opens"
import csv, io, sys
rows, usr = list(csv.DictReader(io.StringIO(sys.argv[1]))), sys.argv[2]
def one(**kw):
    m = [r for r in rows if all(r[k] == v for k, v in kw.items())]
    assert len(m) == 1, (kw, m)
    return m[0]
one(user=usr, op="open", result="deny", device="dev-002", reason="not served: Input/output error",
    window="20261122T081000Z--20261122T081100Z.pcap")
print("ok - the failed open is one row")
PY
what="op=open event=[0-9]* device=dev-002 window=20261122T081000Z--20261122T081100Z.pcap .*decision=deny reason=not served"
[ "$(audit_records "$U_USR" "$what")" = 1 ] || fail "not one Linux audit record: $what"
pass "an open that cannot be served (EIO) is a refused open, recorded with why"

# A decision that cannot be made (the catalogue fails; here its grants table has gone) is
# EIO, and recorded like a refusal, with why: the walk's lookup of the device, a row and a
# Linux audit record. Served again once the catalogue is whole.
sqlite3 "$SPOOL/catalog.db" "ALTER TABLE grants RENAME TO grants_gone"
e=$(errno_of "$U_USR" open "$D/dev-001/$H.pcap")
sqlite3 "$SPOOL/catalog.db" "ALTER TABLE grants_gone RENAME TO grants"
[ "$e" = 5 ] || fail "an open whose access could not be decided gave errno $e, not EIO"
grep -q "catalogue: .*grants" "$T/fs.log" || fail "no log line: $(tail -3 "$T/fs.log")"
[ "$(q --user "$U_USR" --op lookup --result deny --device dev-001 --csv | grep -c 'the catalogue failed: ')" -ge 1 ] ||
	fail "no row: $(q --user "$U_USR" --device dev-001 --csv | tail -2)"
what="op=lookup event=[0-9]* device=dev-001 .*decision=deny reason=the catalogue failed: "
[ "$(audit_records "$U_USR" "$what")" -ge 1 ] || fail "no Linux audit record: $what"
[ "$(errno_of "$U_USR" open "$D/dev-001/$H.pcap")" = 0 ] || fail "not served once the catalogue is whole"
pass "an access that cannot be decided (the catalogue fails) is EIO, recorded with why"
pass "audit=required: no Linux audit record or no query-log row, no open; each side records the refusal"

# No audit daemon: the kernel would only put records in its ring buffer; audit=required
# refuses, says why, and serves again once auditd is back.
auditd_pid=$(auditctl -s | awk '$1 == "pid" {print $2}')
kill "$auditd_pid"
for _ in $(seq 1 50); do [ "$(auditctl -s | awk '$1 == "pid" {print $2}')" = 0 ] && break; sleep 0.1; done
on_exit "auditd"
e=$(errno_of "$U_USR" open "$D/dev-002/$H.pcap")
auditd
for _ in $(seq 1 50); do [ "$(auditctl -s | awk '$1 == "pid" {print $2}')" != 0 ] && break; sleep 0.1; done
[ "$e" = 13 ] || fail "opened while no audit daemon ran (errno $e)"
grep -q "audit record not written .*no audit daemon is running.*access refused" "$T/fs.log" ||
	fail "no log line for the refusal without auditd: $(tail -2 "$T/fs.log")"
[ "$(errno_of "$U_USR" open "$D/dev-002/$H.pcap")" = 0 ] || fail "no open once auditd runs again"
pass "audit=required refuses opens while no audit daemon runs, with a log line, and serves once it is back"

# The kernel loses records past its rate limit (or when its backlog stays full) and says so
# only by counting them: an open whose record's sending saw the count move is refused, so
# every open served has its Linux audit record.
old_r=$(auditctl -s | awk '$1 == "rate_limit" {print $2}')
on_exit "auditctl -r ${old_r:-0} >/dev/null"
sleep 1.1 # no row of the sections before in the second --since names
RSTART=$(date +%s)
RSTART_AU=$(date '+%x %T')
auditctl -r 3 >/dev/null # PAM's account check writes a record too
as "$U_USR" /usr/bin/python3 -c 'import os, sys, time
res = []
for burst in range(2):
    time.sleep(1.1)
    for i in range(4):
        try:
            fd = os.open(sys.argv[1], os.O_RDONLY); os.read(fd, 100); os.close(fd); res.append(0)
        except OSError as e:
            res.append(e.errno)
print(" ".join(map(str, res)))' "$D/dev-001/$H.pcap" >"$T/rated"
auditctl -r "${old_r:-0}" >/dev/null
grep -qw 13 "$T/rated" || fail "no open refused while the kernel lost records: $(cat "$T/rated")"
grep -qw 0 "$T/rated" || fail "no open served at all at two records a second: $(cat "$T/rated")"
grep -q "audit record not written (open .*): the kernel lost [0-9]* audit record.* meanwhile .*; access refused" "$T/fs.log" ||
	fail "no log line: $(tail -3 "$T/fs.log")"
sleep 1
ausearch -m TRUSTED_APP -ts $RSTART_AU --raw 2>/dev/null >"$T/au-rated.raw" || true
/usr/bin/python3 - "$T/au-rated.raw" "$(ctl audit --since "$RSTART" --user "$U_USR" --device dev-001 --op open --csv)" "$(cat "$T/rated")" <<'PY' ||
import csv, io, re, sys
au = set(int(m.group(1)) for m in re.finditer(r" op=open event=(\d+) ", open(sys.argv[1]).read()))
rows = list(csv.DictReader(io.StringIO(sys.argv[2])))
served = sys.argv[3].split().count("0")
allowed = [r for r in rows if r["result"] == "allow"]
assert len(allowed) == served, (served, rows)
missing = [r["id"] for r in allowed if int(r["id"]) not in au]
assert not missing, missing
refused = [r for r in rows if r["result"] == "deny"]
assert refused and all("the kernel lost" in r["reason"] for r in refused), refused
print(f"ok - {served} opens served, each with its Linux audit record; {len(refused)} refused")
PY
	fail "served opens and their Linux audit records"
pass "audit=required: an open whose record the kernel may have lost (rate limit) is refused, with a log line"

# audit_keep: rows older than it are pruned when the mount starts (and hourly).
umount_fs
old=$(( ($(date +%s) - 5 * 86400) * 1000000000 ))
sqlite3 "$SPOOL/catalog.db" "INSERT INTO access_log (ts_ns, op, allowed, uid, gid, pid, user_name, device, window_name, path, reason) VALUES ($old, 'open', 1, 0, 0, 1, 'root', 'dev-001', '', '/pcap/dev-001', 'old')"
[ "$(ctl audit --since -6d --until -4d --csv | tail -n +2 | wc -l)" = 1 ] || fail "the old row is not there"
mount_fs ",audit_keep=2"
for _ in $(seq 1 50); do grep -q "query log: removed 1 rows" "$T/fs.log" && break; sleep 0.1; done
grep -q "query log: removed 1 rows" "$T/fs.log" || fail "no prune log line: $(tail -3 "$T/fs.log")"
[ "$(ctl audit --since -6d --until -4d --csv | tail -n +2 | wc -l)" = 0 ] || fail "the old row is still there"
[ "$(ncsv --user "$U_USR")" -ge 7 ] || fail "recent rows were pruned"
umount_fs
pass "audit_keep=2 removes the rows older than two days, keeps the rest"

# audit_csv_max: a day file larger than it is refused (EFBIG, at the lookup); an open that
# would take the day files open at a time past twice it is refused (ENOMEM) until some are
# closed, and the open it was recorded as gets a close row saying why. Both are logged.
now=$(date +%s)
seed_rows() { # day-offset count
	local t=$(( (now - $1 * 86400) * 1000000000 ))
	sqlite3 "$SPOOL/catalog.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
		INSERT INTO access_log (ts_ns, op, allowed, uid, gid, pid, user_name, device, window_name, path, reason)
		SELECT $t + i, 'open', 1, 0, 0, 1, 'root', 'dev-001', '$H.pcap', '/pcap/dev-001/$H.pcap', 'seeded' FROM n"
}
seed_rows 1 24
seed_rows 2 24
seed_rows 0 60
day1=$(date -u -d "@$((now - 86400))" +%Y-%m-%d) day2=$(date -u -d "@$((now - 2 * 86400))" +%Y-%m-%d)
expect_fail 'audit_csv_max must be' "$PCAPFS" "$SPOOL" "$MNT" -o audit_csv_max=1K
expect_fail 'audit_csv_max must be' "$PCAPFS" "$SPOOL" "$MNT" -o audit_csv_max=5G
mount_fs ",audit_csv_max=5K"
s1=$(as "$U_AUD" stat -c %s "$MNT/audit/$day1.csv") s2=$(as "$U_AUD" stat -c %s "$MNT/audit/$day2.csv")
# Each fits 5K, the two together fit twice it, a second copy of the first does not.
[ "$s1" -le 5120 ] && [ "$s2" -le 5120 ] && [ $((s1 + s2)) -le 10240 ] && [ $((2 * s1 + s2)) -gt 10240 ] ||
	fail "seeded day files of $s1 and $s2 bytes do not fit the test"
opens_today() { q --user "$U_AUD" --op open --csv | grep -c ",/audit/$day.csv,"; }
before=$(opens_today)
[ "$(errno_of "$U_AUD" open "$MNT/audit/$day.csv")" = 27 ] || fail "today's file, over 5K, opened"
grep -q "KiB of CSV (audit_csv_max)" "$T/fs.log" || fail "no log line for the file too large: $(tail -2 "$T/fs.log")"
rm -f "$T/holder" # the background job creates it: nothing of an earlier one may be read
setpriv --reuid "$U_AUD" --regid "$(id -g "$U_AUD")" --init-groups -- /usr/bin/python3 -c 'import os, sys, time
fds = [os.open(p, os.O_RDONLY) for p in sys.argv[1:]]
print("open", flush=True)
time.sleep(60)' "$MNT/audit/$day1.csv" "$MNT/audit/$day2.csv" >"$T/holder" &
HOLDER=$!
for _ in $(seq 1 200); do grep -q open "$T/holder" 2>/dev/null && break; sleep 0.05; done
grep -q open "$T/holder" || fail "the two day files did not open together: $(tail -3 "$T/fs.log")"
[ "$(errno_of "$U_AUD" open "$MNT/audit/$day1.csv")" = 12 ] || fail "a third day file opened past twice audit_csv_max"
grep -q "the day files already open hold .* can be opened when some are closed" "$T/fs.log" ||
	fail "no log line for the memory of open day files: $(tail -2 "$T/fs.log")"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null || true
e=
for _ in $(seq 1 40); do # RELEASE reaches the daemon after the holder is gone
	e=$(errno_of "$U_AUD" open "$MNT/audit/$day1.csv")
	[ "$e" = 0 ] && break
	sleep 0.05
done
[ "$e" = 0 ] || fail "no open once the others are closed (errno $e)"
sleep 0.2
# Too large is known at the lookup: nothing was opened.
[ "$(opens_today)" = "$before" ] || fail "an open row for the file too large"
q --user "$U_AUD" --op close --csv | grep -q ",/audit/$day1.csv,not served: Cannot allocate memory," ||
	fail "no close row for the open past the memory limit"
umount_fs
pass "audit_csv_max: a larger day file gets EFBIG, an open past twice it ENOMEM until others close (its close row says why); both logged"

#!/bin/bash
# Audit under load: 32 concurrent readers (28 of four granted users, 4 of a user who may
# read nothing) open, read and close windows of a real mount for 60 seconds
# (PCAPFS_AUDIT_LOAD_SECONDS). Afterwards every open the readers made has exactly one
# query-log row and exactly one Linux audit record with the same event id, every close
# names its open, every refusal is there once: none lost, none duplicated.
. "$(dirname "$0")/lib.sh"
: "${PCAPFS:?PCAPFS must point at the pcapfs binary}"
need useradd userdel setpriv ausearch auditctl fusermount3
[ -e /dev/fuse ] || skip "no /dev/fuse"
[ "$(id -u)" -eq 0 ] || skip "needs root (users, allow_other)"
ensure_audit || skip "no kernel audit support or no auditd here"
SECONDS_LOAD=${PCAPFS_AUDIT_LOAD_SECONDS:-60}

P=pl$$
users=("${P}a" "${P}b" "${P}c" "${P}d" "${P}x")
cleanup_users() {
	for u in "${users[@]}"; do userdel "$u" 2>/dev/null || true; done
	rm -f "/etc/pam.d/$P"
}
on_exit cleanup_users
for u in "${users[@]}"; do useradd -M -N -g users "$u"; done
grep -v '^#' "$TESTS_DIR/../../systemd/pcapfs.pam" >"/etc/pam.d/$P"

"$PCAPFS_GEN" --packets 20000 --devices 8 --seed 71 --duration 7200 -o "$T/c.pcap" --registry "$T/devices.tsv"
ctl --quiet init
register_devices "$T/devices.tsv"
ctl import --no-progress "$T/c.pcap" 2>/dev/null
for u in "${users[@]:0:4}"; do ctl grant "user:$u" tag:generated; done

# The kernel queues records for auditd; a queue too short for the burst loses records
# (counted in auditctl -s "lost"), which this test would rightly report. Production rules
# set -b 8192 as well.
old_b=$(auditctl -s | awk '$1 == "backlog_limit" {print $2}')
on_exit "auditctl -b ${old_b:-64}"
auditctl -b 8192 >/dev/null
lost0=$(auditctl -s | awk '$1 == "lost" {print $2}')

on_exit umount_pcapfs_at_exit
mount_pcapfs "audit=required,pam_service=$P"

START=$(date +%s)
START_AU=$(date '+%x %T')
sleep 1
/usr/bin/python3 - "$MNT/pcap" "$SECONDS_LOAD" "${users[@]}" >"$T/load.json" <<'PY' || fail "the readers failed"
import errno, json, os, pwd, random, sys, time
root, seconds, users = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
granted, refused = users[:4], users[4]
devices = [f"dev-{i:03d}" for i in range(8)]
base = 1795334400  # 2026-11-22T08:00:00Z
hours = ["20261122T080000Z--20261122T090000Z", "20261122T090000Z--20261122T100000Z"]

def reader(user, seed):
    pw = pwd.getpwnam(user)
    os.setgroups(os.getgrouplist(user, pw.pw_gid))
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)
    rnd = random.Random(seed)
    deadline = time.monotonic() + seconds
    n = {"opened": 0, "refused": 0, "errors": []}
    while time.monotonic() < deadline:
        dev = rnd.choice(devices)
        if rnd.random() < 0.5:
            name = rnd.choice(hours)
        else:  # some other window: a node of its own
            a = rnd.randrange(0, 3600)
            name = f"{base + a}--{base + a + rnd.randrange(1, 3600)}"
        path = f"{root}/{dev}/{name}.pcap"
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.read(fd, 65536)
            finally:
                os.close(fd)
            n["opened"] += 1
        except OSError as e:
            if user == refused and e.errno == errno.ENOENT:
                n["refused"] += 1
            else:
                n["errors"].append(f"{user} {path}: {e}")
        # A refused reader waits out the second within which refused lookups of one path
        # by one process are one event.
        time.sleep(1.05 if user == refused else 0.15)
    return n

kids = []
for i in range(32):
    user = refused if i % 8 == 7 else granted[i % 4]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = reader(user, i)
        except Exception as e:
            out = {"opened": 0, "refused": 0, "errors": [repr(e)]}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    kids.append((pid, r))
total = {"opened": 0, "refused": 0, "errors": []}
for pid, r in kids:
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.waitpid(pid, 0)
    d = json.loads(data)
    for k in total:
        total[k] += d[k]
json.dump(total, sys.stdout)
PY
END=$(($(date +%s) + 1))
read -r opened refusedn nerr < <(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["opened"], d["refused"], len(d["errors"])); [print(e, file=sys.stderr) for e in d["errors"][:5]]' "$T/load.json")
[ "$nerr" = 0 ] || fail "$nerr unexpected errors"
[ "$opened" -gt 1000 ] || fail "only $opened opens in $SECONDS_LOAD s"
pass "32 readers for $SECONDS_LOAD s: $opened opens ($((opened / SECONDS_LOAD))/s), $refusedn refusals"

sleep 2 # auditd writes asynchronously
ctl audit --since "$START" --until "$END" --limit 1000000 --csv >"$T/qlog.csv"
ausearch -m TRUSTED_APP -ts $START_AU --raw 2>/dev/null >"$T/au.raw" || true
/usr/bin/python3 - "$T/qlog.csv" "$T/au.raw" "$opened" "$refusedn" "${users[@]}" <<'PY' || fail "the records do not match the accesses"
import collections, csv, re, sys
qlog, raw, opened, refused = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
users = sys.argv[5:]
rows = [r for r in csv.DictReader(open(qlog, newline="")) if r["user"] in users]
ops = collections.Counter((r["op"], r["result"]) for r in rows)
assert ops[("open", "allow")] == opened, (ops, opened)
assert ops[("close", "allow")] == opened, (ops, opened)
assert ops[("lookup", "deny")] == refused, (ops, refused)
assert sum(ops.values()) == 2 * opened + refused, ops
opens = {int(r["id"]) for r in rows if r["op"] == "open"}
closes = collections.Counter(int(r["open_id"]) for r in rows if r["op"] == "close")
assert set(closes) == opens and set(closes.values()) == {1}, "a close without its open, or twice"
# Linux audit: the records of these users, by event id.
hexusers = {u.encode().hex().upper() for u in users}
events = collections.Counter()
kinds = {}
for line in open(raw):
    m = re.search(r" acct=([0-9A-F]+) .* op=(\w+) event=(\d+) ", line)
    if m and m.group(1) in hexusers:
        events[int(m.group(3))] += 1
        kinds[int(m.group(3))] = m.group(2)
dup = [e for e, n in events.items() if n > 1]
assert not dup, f"{len(dup)} event ids with more than one record, e.g. {dup[:5]}"
ids = {int(r["id"]): r["op"] for r in rows}
missing = sorted(set(ids) - set(events))
assert not missing, f"{len(missing)} rows without a Linux audit record, e.g. {missing[:5]}"
extra = sorted(set(events) - set(ids))
assert not extra, f"{len(extra)} Linux audit records without a row, e.g. {extra[:5]}"
assert all(kinds[i] == op for i, op in ids.items()), "operation differs"
print(f"ok - {len(rows)} query-log rows = {len(events)} Linux audit records, one per event id: "
      f"{opened} opens, {opened} closes, {refused} refusals")
PY
lost1=$(auditctl -s | awk '$1 == "lost" {print $2}')
[ "$lost1" = "$lost0" ] || fail "the kernel lost $((lost1 - lost0)) audit records"
grep -q "not written" "$T/fs.log" && fail "records not written: $(grep 'not written' "$T/fs.log" | head -3)"
pass "every open, close and refusal has exactly one query-log row and one Linux audit record; none lost, none duplicated"

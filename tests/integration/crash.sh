#!/bin/bash
# An import killed with SIGKILL leaves a spool that the next command recovers and verify
# accepts; nothing that was flushed before the kill is lost. The recovered segments hold a
# prefix of the input, record for record, ending on a record boundary.
. "$(dirname "$0")/lib.sh"
need python3

CAP=$T/all.pcap
"$PCAPFS_GEN" --packets 1500000 --devices 20 --seed 99 -o "$CAP" --registry "$T/devices.tsv"
ctl --quiet init --segment-seconds 60
register_devices "$T/devices.tsv"

# Slow the import down only by giving it a big file; kill it once segment data has reached
# the disk, after noting how much was there.
"$PCAPFSCTL" --spool "$SPOOL" import --no-progress "$CAP" 2>/dev/null &
pid=$!
for i in $(seq 1 200); do
	n=$(find "$SPOOL/seg" -name '*.pcap' 2>/dev/null | wc -l)
	[ "$n" -ge 4 ] && break
	sleep 0.05
done
kill -0 $pid 2>/dev/null || fail "the import ended before it could be killed; use a bigger file"
flushed=$(find "$SPOOL/seg" -name '*.pcap' -printf '%s\n' | awk '{s += $1 - 24} END {print s}')
kill -9 $pid
wait $pid 2>/dev/null || true
[ "$flushed" -gt 0 ] || fail "nothing was flushed before the kill"

# The next command recovers; verify accepts the result.
ctl verify || fail "verify after SIGKILL"
status=$(ctl --json status)
echo "$status" | grep -q '"segments_open": 0' || fail "open segments left: $status"
pass "verify clean after SIGKILL"

# Everything flushed is there (less at most one torn record), and it is exactly a prefix of
# the input.
python3 - "$CAP" "$SPOOL" "$flushed" <<'PY'
import glob, os, sqlite3, struct, sys
cap, spool, flushed = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = sqlite3.connect(f'file:{spool}/catalog.db?mode=ro', uri=True)
paths = [r[0] for r in db.execute('SELECT path FROM segments ORDER BY id')]
recovered = b''.join(open(f'{spool}/{p}.pcap', 'rb').read()[24:] for p in paths)
with open(cap, 'rb') as f:
    f.seek(24)
    prefix = f.read(len(recovered))
assert recovered == prefix, 'recovered segments are not a prefix of the input'
# a record boundary: walk the prefix
off = 0
while off < len(recovered):
    caplen = struct.unpack_from('<I', recovered, off + 8)[0]
    off += 16 + caplen
assert off == len(recovered), 'recovered data does not end on a record boundary'
assert len(recovered) >= flushed - (16 + 262144), f'lost flushed data: {len(recovered)} < {flushed}'
print(f'ok - recovered {len(recovered)} bytes in {len(paths)} segments; {flushed} were on disk at the kill')
PY

# The interrupted import is recorded as such; a new import of the file works afterwards.
sqlite3 "$SPOOL/catalog.db" 'SELECT state FROM imports' 2>/dev/null | grep -qx 3 ||
	python3 -c "import sqlite3,sys; s=[r[0] for r in sqlite3.connect('$SPOOL/catalog.db').execute('SELECT state FROM imports')]; sys.exit(0 if 3 in s else 1)" ||
	fail "the import is not marked interrupted"
pass "import marked interrupted"

# SIGINT (Ctrl-C) or SIGTERM is a cancel: the import rolls back and leaves nothing behind.
before=$(ctl --json status | grep -Eo '"segments_sealed": [0-9]+')
"$PCAPFSCTL" --spool "$SPOOL" import --force --interface cancelled --no-progress "$CAP" 2>"$T/int.err" &
pid=$!
for i in $(seq 1 200); do
	n=$(sqlite3 "$SPOOL/catalog.db" "SELECT count(*) FROM segments s JOIN interfaces i ON i.id = s.interface_id WHERE i.name = 'cancelled'" 2>/dev/null || echo 0)
	[ "${n:-0}" -ge 3 ] && break
	sleep 0.05
done
kill -INT $pid
rc=0
wait $pid || rc=$?
[ $rc -ne 0 ] || fail "an interrupted import exited 0"
grep -q 'interrupted by signal 2; nothing of it was imported' "$T/int.err" || fail "message: $(cat "$T/int.err")"
[ "$(ctl --json status | grep -Eo '"segments_sealed": [0-9]+')" = "$before" ] || fail "the cancelled import left segments"
[ "$(sqlite3 "$SPOOL/catalog.db" "SELECT count(*) FROM segments s JOIN interfaces i ON i.id = s.interface_id WHERE i.name = 'cancelled'")" -eq 0 ] || fail "segment rows left"
ctl verify >/dev/null || fail "verify after a cancelled import"
pass "SIGINT cancels an import completely: $(cat "$T/int.err")"

# A file that changes while it is imported (its records are copied after they were checked)
# is refused and rolled back.
"$PCAPFS_GEN" --packets 1500000 --devices 20 --seed 5 -o "$T/moving.pcap"
"$PCAPFSCTL" --spool "$SPOOL" import --interface moving --no-progress "$T/moving.pcap" 2>"$T/mv.err" &
pid=$!
for i in $(seq 1 200); do
	n=$(sqlite3 "$SPOOL/catalog.db" "SELECT count(*) FROM segments s JOIN interfaces i ON i.id = s.interface_id WHERE i.name = 'moving'" 2>/dev/null || echo 0)
	[ "${n:-0}" -ge 2 ] && break
	sleep 0.05
done
touch "$T/moving.pcap"
rc=0
wait $pid || rc=$?
[ $rc -ne 0 ] || fail "an import of a file modified meanwhile succeeded"
grep -q 'changed while it was being imported' "$T/mv.err" || fail "message: $(cat "$T/mv.err")"
[ "$(sqlite3 "$SPOOL/catalog.db" "SELECT count(*) FROM segments s JOIN interfaces i ON i.id = s.interface_id WHERE i.name = 'moving'")" -eq 0 ] || fail "segment rows left"
pass "a file modified during its import is refused: $(cat "$T/mv.err")"

# The file imported again after the interrupted import: refused, since its first packets are
# stored, with the command that removes them; once removed, the import goes through whole.
int_id=$(sqlite3 "$SPOOL/catalog.db" "SELECT id FROM imports WHERE state = 3")
[ -n "$int_id" ] || fail "no interrupted import"
expect_fail "import $int_id \(.*, interrupted: 'pcapfsctl import --remove $int_id' removes what it stored\)" \
	ctl import --no-progress "$CAP"
ctl import --remove "$int_id" 2>/dev/null
ctl import --no-progress "$CAP" 2>/dev/null || fail "the import after removing the interrupted one"
[ "$(sqlite3 "$SPOOL/catalog.db" "SELECT sum(s.packets) FROM segments s JOIN interfaces i ON i.id = s.interface_id WHERE i.name = 'import'")" = 1500000 ] ||
	fail "packets stored under 'import' after the new import"
ctl verify >/dev/null || fail "verify after removing an import and importing again"
expect_fail "stores nothing: it was rolled back or removed" ctl import --remove "$int_id"
pass "an interrupted import is removed with import --remove, and the file imported again whole"

#!/bin/bash
# Bad input gets a precise message and a non-zero exit, never a crash and never a half-
# imported spool: malformed capture files, bad device names, conflicting addresses, a
# catalogue locked by another process, bad windows.
. "$(dirname "$0")/lib.sh"
need python3 sqlite3

ctl --quiet init
ctl device add cam-1 --mac 02:00:00:00:00:01 --ip 10.20.1.1

# Capture files made byte by byte. Each has several good packets first, so that a
# half-import would show.
python3 - "$T" <<'PY'
import struct, sys
d = sys.argv[1]
def eth(i, n=60):
    b = bytes.fromhex('020000000001') + bytes.fromhex('02ff00000001') + b'\x08\x00'
    ip = bytes([0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 10, 20, 1, 1, 192, 0, 2, 1])
    return (b + ip).ljust(n, bytes([i & 0xff]))
def ghdr(snap=262144, lt=1, magic=0xa1b2c3d4, endian='<'):
    return struct.pack(endian + 'IHHiIII', magic, 2, 4, 0, 0, snap, lt)
def rec(ts, data, caplen=None, length=None, usec=0, endian='<'):
    caplen = len(data) if caplen is None else caplen
    length = len(data) if length is None else length
    return struct.pack(endian + 'IIII', ts, usec, caplen, length) + data
good = b''.join(rec(1795334400 + i, eth(i)) for i in range(50))
def w(name, b):
    open(f'{d}/{name}', 'wb').write(b)
w('good.pcap', ghdr() + good)
# The same packets as raw IPv4 (link type 101), an hour later.
w('raw.pcap', ghdr(lt=101) + b''.join(rec(1795338000 + i, eth(i)[14:]) for i in range(50)))
w('truncated.pcap', ghdr() + good + rec(1795334500, eth(1))[:40])
w('truncated-header.pcap', ghdr()[:10])
w('magic.pcap', b'\x00\x01\x02\x03' + ghdr()[4:] + good)
w('text.pcap', b'this is not a capture file\n' * 4)
w('caplen-snaplen.pcap', ghdr(snap=100) + good + rec(1795334500, eth(1, 200)))
w('caplen-huge.pcap', ghdr() + good + rec(1795334500, b'', caplen=300000, length=300000) + b'\0' * 300000)
w('zero-length.pcap', ghdr() + good + rec(1795334500, b'', caplen=0, length=0))
w('caplen-len.pcap', ghdr() + good + rec(1795334500, eth(1), length=20))
w('usec.pcap', ghdr() + good + rec(1795334500, eth(1), usec=1000000))
w('backwards.pcap', ghdr() + good + rec(1795334400, eth(1)))
w('linktype.pcap', ghdr(lt=147) + good)
# pcapng: SHB, two IDBs, EPBs
def blk(t, body):
    body += b'\0' * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack('<II', t, n) + body + struct.pack('<I', n)
shb = blk(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1))
idb = blk(1, struct.pack('<HHI', 1, 0, 0))
def epb(ifc, ts, data):
    t = ts * 1000000
    return blk(6, struct.pack('<IIIII', ifc, t >> 32, t & 0xffffffff, len(data), len(data)) + data)
pk = b''.join(epb(0, 1795334400 + i, eth(i)) for i in range(20))
w('good.pcapng', shb + idb + pk)
w('two-if.pcapng', shb + idb + pk + idb + epb(1, 1795334500, eth(1)))
PY

for f in truncated truncated-header magic text caplen-snaplen caplen-huge zero-length caplen-len usec backwards linktype two-if; do
	file=$T/$f.pcap
	[ -e "$file" ] || file=$T/$f.pcapng
	case $f in
	truncated) re='truncated' ;;
	truncated-header) re='truncated|too short' ;;
	magic|text) re='not a pcap or pcapng file' ;;
	caplen-snaplen) re='packet 51 .*snaplen' ;;
	caplen-huge) re='packet 51 .*(262144|exceeds)' ;;
	zero-length) re='packet 51 .*zero-length' ;;
	caplen-len) re='packet 51 .*(len|length)' ;;
	usec) re='packet 51 .*(microsecond|range)' ;;
	backwards) re='packet 51 at offset [0-9]+: timestamp .* goes backwards' ;;
	linktype) re='link type 147 is not supported' ;;
	two-if) re='2 interfaces' ;;
	esac
	expect_fail "$re" ctl import "$file"
	# Nothing of it stays: no segment row, no segment file.
	[ "$(ctl --json status | grep -Eo '"segments_sealed": [0-9]+')" = '"segments_sealed": 0' ] || fail "$f left segments behind"
	[ -z "$(find "$SPOOL/seg" -name '*.pcap' -o -name '*.idx' | head -1)" ] || fail "$f left files behind"
done
ctl verify >/dev/null || fail "verify after refused imports"
pass "no refused import left anything behind"

ctl import "$T/good.pcap" 2>/dev/null
ctl import --interface ng "$T/good.pcapng" 2>/dev/null
[ "$(ctl --json device show cam-1 | grep -Eo '"packets": [0-9]+')" = '"packets": 70' ] || fail "good imports"
pass "good pcap and pcapng import after the refused ones"
# The same packets again, under another path or format: refused, naming what stored them.
cp "$T/good.pcap" "$T/copy.pcap"
expect_fail "meet 50 packets stored for interface 'import' in that time, the first by import [0-9]+ \(.*/good.pcap\); stored again they would be served twice" \
	ctl import "$T/copy.pcap"
cp "$T/good.pcapng" "$T/copy.pcapng"
expect_fail "meet 20 packets stored for interface 'ng'" ctl import --interface ng "$T/copy.pcapng"
[ "$(ctl --json device show cam-1 | grep -Eo '"packets": [0-9]+')" = '"packets": 70' ] || fail "a refused overlap stored packets"
expect_fail 'already imported \(import [0-9]+, 50 packets' ctl import "$T/good.pcap"
ctl import --force "$T/good.pcap" 2>/dev/null
[ "$(ctl --json device show cam-1 | grep -Eo '"packets": [0-9]+')" = '"packets": 120' ] || fail "import --force"
pass "import --force imports a file again"

# One link type per spool (a window is one pcap file), that of its segments: another is
# refused whole, with why, and leaves nothing; a spool whose import of another type failed
# is still free for it. verify names a segment of a second link type (as an older version
# could leave one), whose windows cannot be served.
segs=$(sqlite3 "$SPOOL/catalog.db" "SELECT count(*) FROM segments")
expect_fail "link type 101 \(RAW\) differs from the spool's, 1 \(EN10MB\)" ctl import "$T/raw.pcap"
[ "$(sqlite3 "$SPOOL/catalog.db" "SELECT count(*) FROM segments")" = "$segs" ] || fail "the refused import left segments"
ctl verify >/dev/null || fail "verify after the refused link type"
"$PCAPFSCTL" --spool "$T/rawspool" --quiet init
expect_fail 'goes backwards' "$PCAPFSCTL" --spool "$T/rawspool" import "$T/backwards.pcap"
"$PCAPFSCTL" --spool "$T/rawspool" import "$T/raw.pcap" 2>/dev/null || fail "a failed import of another link type kept the spool's type"
last=$(sqlite3 "$SPOOL/catalog.db" "SELECT max(id) FROM segments")
sqlite3 "$SPOOL/catalog.db" "UPDATE segments SET linktype = 101 WHERE id = $last"
out=$(ctl verify 2>&1) && fail "verify passed a spool of two link types"
grep -q "segment $last .*link type 101 (RAW) differs from the spool's, 1 (EN10MB)" <<<"$out" || fail "verify: $out"
sqlite3 "$SPOOL/catalog.db" "UPDATE segments SET linktype = 1 WHERE id = $last"
ctl verify >/dev/null || fail "verify once the second link type is gone: $(ctl verify 2>&1)"
pass "a second link type is refused by import and named by verify"

# Device names and addresses.
expect_fail "character '/'" ctl device add a/b
expect_fail "'\\.'|start with" ctl device add ..
expect_fail "start with" ctl device add .hidden
expect_fail "character ' '" ctl device add "a b"
expect_fail '\\x0a|control' ctl device add "$(printf 'a\nb')"
expect_fail 'longer than 64' ctl device add "$(printf 'x%.0s' $(seq 1 65))"
expect_fail 'already|exists' ctl device add cam-1
expect_fail 'held by device cam-1' ctl device add cam-2 --ip 10.20.1.1
expect_fail 'held by device cam-1' ctl device add cam-2 --mac 02:00:00:00:00:01 --from 2020-01-01T00:00:00Z
expect_fail 'not a MAC' ctl device add cam-2 --mac 10.0.0.1
expect_fail 'host bits' ctl device add cam-2 --net 10.20.1.1/16
expect_fail 'invalid time' ctl device add cam-2 --ip 10.0.0.9 --from yesterday
# The refused commands changed nothing: cam-2 does not exist.
expect_fail 'no device' ctl device show cam-2
# Reassignment: release at T, the other device takes it from T.
ctl device set cam-1 --release 10.20.1.1 --at 2026-11-22T12:00:00Z
ctl device add cam-2 --ip 10.20.1.1 --from 2026-11-22T12:00:00Z
expect_fail 'held by device cam-2' ctl device set cam-1 --ip 10.20.1.1 --from 2026-11-22T13:00:00Z
pass "address reassignment at a point in time"

# Windows.
expect_fail 'ends before|end' ctl extract cam-1 20261122T110000Z--20261122T100000Z -o "$T/x.pcap"
expect_fail 'exceeds the maximum' ctl extract cam-1 20261122T100000Z--20261122T120000Z -o "$T/x.pcap"
expect_fail 'invalid window' ctl extract cam-1 desktop.ini -o "$T/x.pcap"
expect_fail 'no device' ctl extract nobody 20261122T100000Z--20261122T110000Z -o "$T/x.pcap"
# Standard output on a terminal (script(1) provides one): refused rather than binary spew.
rc=0
out=$(script -qec "$PCAPFSCTL --spool $SPOOL extract cam-1 20261122T100000Z--20261122T110000Z" /dev/null) || rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q 'refusing to write a pcap file to a terminal' || fail "extract to a terminal: rc $rc, $out"
pass "extract refuses to write to a terminal"

# A catalogue locked by another process: a writer gives up after the lock timeout with a
# clear message, instead of hanging or corrupting anything.
( sqlite3 "$SPOOL/catalog.db" "BEGIN EXCLUSIVE; SELECT 1;" ".shell sleep 5" "COMMIT;" >/dev/null 2>&1 & )
sleep 1
expect_fail 'locked by another process' ctl --lock-timeout 500 device add cam-3 --ip 10.0.0.3
sleep 5
ctl device add cam-3 --ip 10.0.0.3
pass "after the lock is released the same command succeeds"

# Not a spool.
expect_fail 'not a pcapfs spool' "$PCAPFSCTL" --spool "$T/nothing" device list
expect_fail 'already a pcapfs spool' ctl init
# The catalogue holds the query log: 0640 like the segments, its WAL files too, whatever
# the umask.
(umask 000 && "$PCAPFSCTL" --spool "$T/modes" --quiet init && "$PCAPFSCTL" --spool "$T/modes" status >/dev/null)
[ "$(stat -c %a "$T/modes/catalog.db" "$T/modes/catalog.db-wal" "$T/modes/catalog.db-shm" | sort -u)" = 640 ] ||
	fail "catalogue modes: $(stat -c '%a %n' "$T/modes"/catalog.db*)"
pass "the catalogue and its WAL files are 0640"

# -o never replaces a symbolic link or a device: it writes to what they name.
ln -s "$T/target.pcap" "$T/link.pcap"
ctl extract cam-1 20261122T080000Z--20261122T090000Z -o "$T/link.pcap"
[ -L "$T/link.pcap" ] && [ -f "$T/target.pcap" ] || fail "-o replaced the symbolic link"
[ "$(ctl extract cam-1 20261122T080000Z--20261122T090000Z -o /dev/stdout | wc -c)" -eq "$(stat -c %s "$T/target.pcap")" ] || fail "-o /dev/stdout"
[ -L /dev/stdout ] || fail "/dev/stdout was replaced"
pass "-o follows symbolic links and writes to devices"

# Sizes and durations: one grammar for every program; text outside it is a usage error,
# never a value (NaN once reached a float-to-integer conversion).
for v in nan inf -1 +1 1e3 0x10 ' 5' '5 ' 5x 1.5.5 .5 1w 99999999999999999999d; do
	expect_fail 'invalid duration' "$PCAPFSCTL" --spool "$T/s-$RANDOM" init --max-window "$v"
	expect_fail 'invalid duration' ctl limits set admin --max-width "$v"
	if [ -n "${PCAPFS:-}" ]; then
		expect_fail 'cache_timeout must be' "$PCAPFS" "$SPOOL" "$T" -o "cache_timeout=$v"
		expect_fail 'id_cache must be' "$PCAPFS" "$SPOOL" "$T" -o "id_cache=$v"
		expect_fail 'audit_keep must be' "$PCAPFS" "$SPOOL" "$T" -o "audit_keep=$v"
	fi
	if [ -n "${PCAPFS_CAPTURED:-}" ]; then
		expect_fail 'flush-interval' "$PCAPFS_CAPTURED" --spool "$SPOOL" -i lo --flush-interval "$v"
	fi
done
for v in nan -1 1.5M 1e3 0x10 1P 1KK 1MiBB 16777216T ' 1'; do
	expect_fail 'invalid size' "$PCAPFSCTL" --spool "$T/s-$RANDOM" init --segment-size "$v"
	[ -z "${PCAPFS_CAPTURED:-}" ] ||
		expect_fail 'queue-size' "$PCAPFS_CAPTURED" --spool "$SPOOL" -i lo --queue-size "$v"
done
[ -z "$(ls -d "$T"/s-* 2>/dev/null)" ] || fail "a refused init left a spool behind"
# Units where they are meant.
"$PCAPFSCTL" --spool "$T/units" --quiet init --max-window 1.5h --segment-size 64MiB
ctl limits set auditor --max-width 90min
ctl limits | grep -Eq '^auditor +90m ' || fail "limits: $(ctl limits)"
pass "sizes and durations: fractions and units accepted, everything else refused"

# Messages that name what the user gave and say what to do.
expect_fail "--ip 02:00:00:00:00:99 is a MAC address \(use --mac\)" ctl device add cam-9 --ip 02:00:00:00:00:99
expect_fail "does not start with '-' \('-x'\)" ctl device add -- -x
expect_fail 'interface name "bad/name"' ctl import --interface bad/name "$T/good.pcap"
out=$(ctl extract cam-1 20261122T080000Z--20261122T090000Z -o /nonexistent/x.pcap 2>&1) && fail "extract into a missing directory"
[ "$out" = "pcapfsctl: /nonexistent/x.pcap: cannot be written: No such file or directory" ] || fail "extract -o message: $out"
mkdir -p "$T/empty"
expect_fail "$T/empty: not a pcapfs spool \(no catalog.db\); make one with 'pcapfsctl --spool $T/empty init'" \
	"$PCAPFSCTL" --spool "$T/empty" status
out=$(ctl --json import "$T/truncated.pcap" 2>/dev/null) && fail "a truncated file imported"
python3 -c 'import json, sys
r = json.loads(sys.argv[1])
assert len(r) == 1 and r[0]["file"].endswith("truncated.pcap") and "truncated record" in r[0]["error"], r' "$out" ||
	fail "import --json of a failed file: $out"
pass "messages name what was given and what to do"

# device rm says what went with the device and what stays.
ctl grant user:nobody cam-1
out=$(ctl device rm cam-1)
grep -q "removed device cam-1, with its 2 address binding(s), 0 tag(s) and 1 grant(s); its [0-9]* stored packets stay in their segments" <<<"$out" ||
	fail "device rm: $out"
[ "$(sqlite3 "$SPOOL/catalog.db" "SELECT count(*) FROM grants WHERE target = 'cam-1'")" = 0 ] || fail "the grant stayed"
pass "device rm says what it removed and that the packets stay"

# Malformed or out-of-range arguments are usage errors: exit status 2, whichever check finds
# them.
usage_rc() { local rc=0; "$@" >/dev/null 2>&1 || rc=$?; [ $rc = 2 ] || fail "exit status $rc, not 2: $*"; }
usage_rc "$PCAPFSCTL" --spool "$T/u1" init --snaplen 10
usage_rc "$PCAPFSCTL" --spool "$T/u1" init --snaplen 999999
usage_rc "$PCAPFSCTL" --spool "$T/u1" init --segment-seconds 7
usage_rc "$PCAPFSCTL" --spool "$T/u1" init --max-window 0
usage_rc ctl device add .bad
usage_rc ctl device add cam-9 --mac zz:00
usage_rc ctl grant nobody cam-2
usage_rc ctl extract cam-2 desktop.ini
[ ! -e "$T/u1" ] || fail "a refused init made the spool directory"
pass "malformed arguments exit 2"

#!/bin/bash
# A corrupt or truncated index is detected by verify (which names it), refused by extract
# with a clear error, and repaired by reindex; reindex --all applies registry changes to
# stored data.
. "$(dirname "$0")/lib.sh"
need python3

CAP=$T/all.pcap
"$PCAPFS_GEN" --packets 200000 --devices 20 --seed 7 --duration 3600 -o "$CAP" --registry "$T/devices.tsv"
ctl --quiet init
register_devices "$T/devices.tsv"
ctl import --no-progress "$CAP" 2>/dev/null
W=20261122T080000Z--20261122T090000Z
extract_all() { # extract every device's window into $1/, return the number of failures
	local d fails=0
	mkdir -p "$1"
	for d in $(seq -f 'dev-%03g' 0 19); do
		ctl extract "$d" $W -o "$1/$d.pcap" 2>>"$1/errors" || fails=$((fails + 1))
	done
	return $fails
}
extract_all "$T/before"
ctl extract dev-004 $W -o "$T/before.pcap"
ctl verify >/dev/null

idx=$(find "$SPOOL/seg" -name '*.idx' | sort | sed -n 3p)
seg=$(basename "$idx" .idx)
cp "$idx" "$T/idx.orig"

# Flip one byte in the middle of the index.
size=$(fsize "$idx")
printf '\xff' | dd of="$idx" bs=1 seek=$((size / 2)) conv=notrunc status=none
out=$(ctl verify 2>&1) && fail "verify missed a flipped byte"
echo "$out" | grep -Eq "segment $seg .*index: .*(checksum|inconsistent)" || fail "verify message: $out"
pass "verify detects a flipped byte: $(echo "$out" | head -1)"
# Extract refuses the damaged device's window with a message naming the index; the others
# are served.
fails=0
extract_all "$T/damaged" || fails=$?
[ "$fails" -ge 1 ] || fail "no extract noticed the damaged index"
grep -Eq "$seg\.idx: .*(checksum|inconsistent)" "$T/damaged/errors" || fail "extract message: $(cat "$T/damaged/errors")"
pass "extract refuses the damaged window ($fails device(s)): $(head -1 "$T/damaged/errors")"
ctl reindex | grep -q '1 reindexed' || fail "reindex did not repair exactly one index"
ctl verify >/dev/null || fail "verify after reindex"
extract_all "$T/after1" || fail "extract after reindex"
for f in "$T"/before/*.pcap; do cmp -s "$f" "$T/after1/${f##*/}" || fail "${f##*/} differs after reindex"; done
pass "reindex repairs it; every device's extract is identical again"

# An index that names another segment (its checksum made to match): the plan of a window
# and verify refuse it, reindex rebuilds it.
python3 - "$idx" <<'PY'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[16:24] = struct.pack('<Q', struct.unpack('<Q', b[16:24])[0] + 1)
poly, crc = 0x82F63B78, 0xFFFFFFFF  # CRC-32C of bytes 0..59
for x in b[:60]:
    crc ^= x
    for _ in range(8):
        crc = (crc >> 1) ^ (poly if crc & 1 else 0)
b[60:64] = struct.pack('<I', crc ^ 0xFFFFFFFF)
open(p, 'wb').write(b)
PY
out=$(ctl verify 2>&1) && fail "verify missed an index of another segment"
echo "$out" | grep -q "segment $seg .*index belongs to segment $((seg + 1))" || fail "verify message: $out"
fails=0
extract_all "$T/other" || fails=$?
[ "$fails" -ge 1 ] || fail "no extract noticed the index of another segment"
grep -q "$seg\.idx: index belongs to segment" "$T/other/errors" || fail "extract message: $(cat "$T/other/errors")"
ctl reindex | grep -q '1 reindexed' || fail "reindex did not rebuild the index of another segment"
ctl verify >/dev/null || fail "verify after reindex"
pass "an index naming another segment is refused by verify and extract, rebuilt by reindex"

# Truncated index.
truncate -s $((size / 3)) "$idx"
out=$(ctl verify 2>&1) && fail "verify missed a truncated index"
echo "$out" | grep -q "segment $seg" || fail "verify message: $out"
pass "verify detects a truncated index: $(echo "$out" | head -1)"
ctl reindex >/dev/null
ctl verify >/dev/null || fail "verify after reindex"
ctl extract dev-004 $W -o "$T/after.pcap"
cmp -s "$T/before.pcap" "$T/after.pcap" || fail "extract after reindex differs"
pass "reindex repairs a truncated index"

# Missing index.
rm "$idx"
ctl verify >/dev/null 2>&1 && fail "verify missed a missing index"
ctl reindex >/dev/null
ctl verify >/dev/null || fail "verify after reindex"
pass "reindex rebuilds a missing index"

# Registry changes apply to stored data after reindex --all: a network device added now sees
# nothing until then, and everything of its network after.
ctl device add lan --net 10.20.0.0/16
[ "$(ctl --json extract --size lan $W | grep -Eo '"packets": [0-9]+')" = '"packets": 0' ] || fail "a new device sees old data before reindex"
ctl reindex --all >/dev/null
n=$(ctl --json extract --size lan $W | grep -Eo '"packets": [0-9]+' | grep -Eo '[0-9]+')
[ "$n" -gt 0 ] || fail "reindex --all did not classify stored data for the new device"
ctl extract dev-004 $W -o "$T/after.pcap"
cmp -s "$T/before.pcap" "$T/after.pcap" || fail "reindex --all changed another device's data"
ctl verify >/dev/null || fail "verify after reindex --all"
pass "reindex --all applies a new device to stored data ($n packets)"

# Summaries that disagree with the index (a crash between an index rename and the catalogue
# update, a hand edit): verify names them, reindex repairs them, the window size follows.
size0=$(ctl --json extract --size dev-004 $W | grep -Eo '"bytes": [0-9]+')
dev=$(sqlite3 "$SPOOL/catalog.db" "SELECT id FROM devices WHERE name = 'dev-004'")
sqlite3 "$SPOOL/catalog.db" "UPDATE segment_devices SET packets = packets + 1, bytes = bytes + 100
	WHERE device_id = $dev AND segment_id = (SELECT min(segment_id) FROM segment_devices WHERE device_id = $dev)"
out=$(ctl verify 2>&1) && fail "verify missed summaries that disagree with the index"
echo "$out" | grep -q "summaries: device id [0-9]*: the catalogue summarizes" || fail "verify message: $out"
ctl reindex >/dev/null
ctl verify >/dev/null || fail "verify after reindex of disagreeing summaries: $(ctl verify 2>&1)"
[ "$(ctl --json extract --size dev-004 $W | grep -Eo '"bytes": [0-9]+')" = "$size0" ] || fail "window size after repair"
pass "verify reports summaries that disagree with the index; reindex repairs them"

# Concurrent reindexes of the same spool: each segment is rebuilt by one of them at a time
# (the others are told it is busy), never two writing the same temporary files; the spool
# stays consistent and every device's data unchanged.
ctl extract dev-004 $W -o "$T/before-conc.pcap"
for k in 1 2 3 4; do ctl reindex --all >"$T/ri-$k.out" 2>"$T/ri-$k.err" & done
wait
other=$(cat "$T"/ri-*.err | grep -v 'is being written or reindexed' | grep -v '^$' || true)
[ -z "$other" ] || fail "concurrent reindexes failed otherwise than busy: $other"
ctl verify >/dev/null || fail "verify after concurrent reindexes: $(ctl verify 2>&1)"
ctl extract dev-004 $W -o "$T/after-conc.pcap"
cmp -s "$T/before-conc.pcap" "$T/after-conc.pcap" || fail "concurrent reindexes changed a device's data"
pass "four concurrent reindex --all: busy segments refused, spool consistent"

# A torn segment tail is reported precisely.
pcap=$(find "$SPOOL/seg" -name '*.pcap' | sort | sed -n 2p)
truncate -s -7 "$pcap"
out=$(ctl verify 2>&1) && fail "verify missed a torn segment"
echo "$out" | grep -Eq "torn record|bytes, the catalogue says" || fail "verify message: $out"
pass "verify detects a cut segment: $(echo "$out" | head -1)"

# A segment file gone: verify says reindex cannot help, reindex says why it cannot and exits
# 1; with the file back, both are content (but for the cut segment above).
pcap=$(find "$SPOOL/seg" -name '*.pcap' | sort | sed -n 4p)
id=$(basename "$pcap" .pcap)
mv "$pcap" "$T/moved.pcap"
out=$(ctl verify 2>&1) && fail "verify missed a missing segment file"
grep -q "segment $id .*reindex cannot help" <<<"$out" || fail "verify message: $out"
rc=0
out=$(ctl reindex 2>&1) || rc=$?
[ $rc = 1 ] || fail "reindex over a missing segment file exited $rc"
grep -q "segment $id .*cannot be reindexed: .*must be restored first" <<<"$out" || fail "reindex message: $out"
mv "$T/moved.pcap" "$pcap"
out=$(ctl verify 2>&1) || true
grep -q "segment $id " <<<"$out" && fail "verify still reports the restored segment: $out"
pass "a missing segment file: verify and reindex say that only restoring it helps"

# Segment ids that do not exist, and options that exclude each other.
out=$(ctl verify --segment 999999) && fail "verify of a segment that does not exist passed"
grep -q 'no segment has id 999999' <<<"$out" || fail "verify --segment 999999: $out"
out=$(ctl --json verify --segment 999999) && fail "verify --json of a segment that does not exist passed"
python3 -c 'import json, sys
r = json.loads(sys.argv[1])
assert r["problems"][0]["problem"] == "no segment has id 999999" and r["segments"] == 0, r' "$out" ||
	fail "verify --json --segment 999999: $out"
expect_fail 'no sealed segment 999999' ctl reindex --segment 999999
expect_fail '--all and --segment exclude each other' ctl reindex --all --segment "$id"

# segments lists every segment with the id verify uses, and filters.
n=$(ctl --json segments | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
[ "$n" = "$(sqlite3 "$SPOOL/catalog.db" "SELECT count(*) FROM segments")" ] || fail "segments lists $n"
out=$(ctl segments) # whole: grep -q would stop reading early (SIGPIPE under pipefail)
grep -Eq "^ *$id +import +sealed .* seg/[0-9]+/$id\.pcap$" <<<"$out" || fail "segment $id: $(head -3 <<<"$out")"
[ "$(ctl --json segments --from 2026-11-22T08:30:00Z --until 2026-11-22T08:31:00Z | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" = 1 ] ||
	fail "segments --from --until: $(ctl segments --from 2026-11-22T08:30:00Z --until 2026-11-22T08:31:00Z)"
expect_fail '--from must be before --until' ctl segments --from 2026-11-22T09:00:00Z --until 2026-11-22T08:00:00Z
pass "segments lists the segments with their ids, by time"

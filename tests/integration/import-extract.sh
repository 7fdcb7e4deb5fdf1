#!/bin/bash
# Import a generated capture of >= 1 M packets and >= 50 devices, then check that for many
# (device, window) pairs `pcapfsctl extract` gives, byte for byte after the 24-byte header,
# what tcpdump + editcap give from the original capture (reference.sh), and that the size the
# plan computes (extract --size) is exactly the number of bytes extract writes.
. "$(dirname "$0")/lib.sh"
need tcpdump editcap python3

PACKETS=${PCAPFS_TEST_PACKETS:-1000000}
DEVICES=${PCAPFS_TEST_DEVICES:-50}
START=1795334400          # 2026-11-22T08:00:00Z
DURATION=10800            # three hours
CAP=$T/all.pcap
TSV=$T/devices.tsv

"$PCAPFS_GEN" --packets "$PACKETS" --devices "$DEVICES" --start $START --duration $DURATION \
	--seed 20261122 -o "$CAP" --registry "$TSV"
ctl --quiet init
register_devices "$TSV"
[ "$(ctl --json device list | grep -c '"name"')" -eq "$DEVICES" ] || fail "device count"

ctl import --no-progress "$CAP"
ctl verify >/dev/null || fail "verify after import"
pass "imported $PACKETS packets of $DEVICES devices; verify clean"

# The registry names the reassigned address and the bursty device in comments.
reassign_line=$(grep '^# reassigned' "$TSV" || true)
reassign_at=$(echo "$reassign_line" | grep -Eo 'at [0-9.]+' | cut -d' ' -f2)
[ -n "$reassign_at" ] || reassign_at=$((START + DURATION / 2))
bursty=$(grep -Eo '^# bursty [^ ]+' "$TSV" | cut -d' ' -f3 || true)
[ -n "$bursty" ] || bursty=dev-003

check_window() {
	local dev=$1 s=$2 e=$3 what=$4
	local out=$T/out.pcap ref=$T/ref.pcap
	ctl extract "$dev" "$s--$e" -o "$out"
	"$TESTS_DIR/reference.sh" -o "$ref" "$CAP" "$TSV" "$dev" "$s" "$e"
	same_records "$out" "$ref" || fail "$dev $s--$e ($what): extract differs from the reference ($(fsize "$out") vs $(fsize "$ref") bytes)"
	local planned
	planned=$(ctl --json extract --size "$dev" "$s--$e" | grep -Eo '"bytes": [0-9]+' | grep -Eo '[0-9]+')
	[ "$planned" -eq "$(fsize "$out")" ] || fail "$dev $s--$e: plan says $planned bytes, extract wrote $(fsize "$out")"
	# The global header: classic µs pcap, Ethernet, snaplen 262144.
	[ "$(head -c 24 "$out" | od -An -tx1 | tr -d ' \n')" = "d4c3b2a1020004000000000000000000000004000100000000" ] ||
		[ "$(head -c 24 "$out" | od -An -tx1 | tr -d ' \n')" = "d4c3b2a10200040000000000000000000000040001000000" ] ||
		fail "unexpected global header: $(head -c 24 "$out" | od -An -tx1)"
	pass "$what: $dev [$s, $e) $(( $(fsize "$out") - 24 )) bytes identical"
}

# Random pairs: a seeded shell RNG, windows that start and end inside a second.
RANDOM=4242
for i in $(seq 1 20); do
	dev=$(printf 'dev-%03d' $((RANDOM % DEVICES)))
	s=$((START + (RANDOM * 32768 + RANDOM) % (DURATION - 60)))
	w=$((1 + (RANDOM * 32768 + RANDOM) % 3599))
	check_window "$dev" "$s.$(printf %06d $((RANDOM * 30 % 1000000)))" "$((s + w)).$(printf %06d $((RANDOM * 30 % 1000000)))" "random $i"
done

h1=$((START + 3600))
check_window "$bursty" $h1 $((h1 + 3600)) "bursty device, one whole hour (60 segments)"
check_window dev-010 $((h1 - 1800)) $((h1 + 1800)) "window across an hour boundary"
check_window dev-011 $((h1 + 59)).5 $((h1 + 61)).25 "window across a segment boundary, cut inside seconds"
ra=${reassign_at%.*}
check_window dev-001 $((ra - 600)) $((ra + 600)) "reassigned address, old holder"
check_window dev-002 $((ra - 600)) $((ra + 600)) "reassigned address, new holder"
check_window dev-005 $((START - 3600)) $((START - 1800)) "empty window before the capture"
check_window dev-005 1830297600 1830301200 "empty window in the future"
check_window dev-006 $((START + 100)).000001 $((START + 100)).000002 "one-microsecond window"

# An empty window is a valid 24-byte pcap.
ctl extract dev-005 "$((START - 3600))--$((START - 1800))" -o "$T/empty.pcap"
[ "$(fsize "$T/empty.pcap")" -eq 24 ] || fail "empty window is not 24 bytes"
pass "empty window is a 24-byte pcap"

# The three name forms of one window give the same file.
ctl extract dev-007 20261122T090000Z--20261122T091500Z.pcap -o "$T/a.pcap"
ctl extract dev-007 2026-11-22T10:00:00+01:00--2026-11-22T10:15:00+01:00 -o "$T/b.pcap"
ctl extract dev-007 $h1--$((h1 + 900)) -o "$T/c.pcap"
cmp -s "$T/a.pcap" "$T/b.pcap" && cmp -s "$T/a.pcap" "$T/c.pcap" || fail "window forms differ"
pass "basic ISO, RFC 3339 with offset and epoch forms give the same file"

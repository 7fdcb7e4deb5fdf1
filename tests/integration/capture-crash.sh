#!/bin/bash
# pcapfs-captured killed with SIGKILL while capturing, three times at different moments:
# every restart recovers the segments left open (torn tail cut, index rebuilt), verify is
# clean, and every packet that was visible (flushed) before a kill is still there, record
# for record; what was stored is exactly a prefix of the replayed traffic of each device.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/capture-lib.sh"

LOG=$T/captured.log
ctl --quiet init --segment-seconds 60
"$PCAPFS_GEN" --packets 150000 --devices 20 --seed 11 --duration 30 --start $(($(date +%s) - 3600)) \
	-o "$T/gen.pcap" --registry "$T/devices.tsv"
register_devices "$T/devices.tsv" >/dev/null
read -r g0 g1 < <(gen_range "$T/gen.pcap")
devs="dev-000 dev-003 dev-005 dev-012"
for d in $devs; do "$TESTS_DIR/reference.sh" -o "$T/ref-$d.pcap" "$T/gen.pcap" "$T/devices.tsv" "$d" "$g0" "$g1"; done
veth_add 1

# About 10 s of traffic at a steady rate, while the daemon is killed and restarted.
in_a tcpreplay -q -i a1 --pps 15000 "$T/gen.pcap" >"$T/replay.log" 2>&1 &
replayer=$!
start_captured "$LOG" -i b1 --flush-interval 500ms
for round in 1 2 3; do
	sleep "1.$((RANDOM % 10))"
	# What readers can see now was flushed: it must survive the kill.
	ctl extract dev-005 "$(window)" -o "$T/before-$round.pcap"
	kill -9 "$CAPTURED_PID"
	wait "$CAPTURED_PID" 2>/dev/null || true
	pass "round $round: killed with $(npackets "$T/before-$round.pcap") packets of dev-005 visible"
	start_captured "$LOG" -i b1 --flush-interval 500ms
	# The segment left open is recovered, or removed when the kill came after a rotation
	# (at a minute boundary) and before anything was flushed into the new one.
	grep -Eq 'recovered (1 segments left open|0 segments left open by a previous run \([0-9]+ torn bytes cut, 1 empty)' "$LOG" ||
		fail "no recovery logged: $(tail -3 "$LOG")"
	sed -i -E 's/recovered (1|0) segments left open/(recovery seen)/' "$LOG"
	ctl extract dev-005 "$(window)" -o "$T/after-$round.pcap"
	# Full records (timestamps too): the visible ones are a prefix of what is there now.
	n=$(($(fsize "$T/before-$round.pcap") - 24))
	cmp -s -n "$n" <(tail -c +25 "$T/before-$round.pcap") <(tail -c +25 "$T/after-$round.pcap") ||
		fail "round $round: packets visible before the kill are missing or changed"
	pass "round $round: recovered; the $(npackets "$T/before-$round.pcap") visible packets are all there"
done
wait $replayer || { cat "$T/replay.log"; fail "tcpreplay"; }
sleep 1
stop_captured
ctl verify >/dev/null || fail "verify after the kills"
ctl --json status | grep -q '"segments_open": 0' || fail "open segments left"
pass "verify clean, no open segment"

# Packets that arrived while no daemon ran are missing, so each device's stored packets are
# the reference with gaps: check that they appear in order and unchanged (a subsequence).
for d in $devs; do
	ctl extract "$d" "$(window)" -o "$T/x-$d.pcap"
	packets_match in-order "$T/x-$d.pcap" "$T/ref-$d.pcap" || fail "$d: stored packets are not the replayed ones in order"
done

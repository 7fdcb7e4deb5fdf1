#!/bin/bash
# pcapfs-captured on two veth interfaces inside private network namespaces: generated
# traffic replayed into one end is extracted, per device, byte for byte equal to what the
# reference (tcpdump over the generated file) gives; new packets are visible within the
# flush interval while the daemon runs; registry changes are picked up live without losing
# a packet; an idle interface, a link going down and up, and an interface deleted and
# recreated while capturing are logged and survived; idle segments are sealed on the wall
# clock; SIGTERM seals and exits cleanly; statistics reach pcapfsctl status.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/capture-lib.sh"

LOG=$T/captured.log
ctl --quiet init --segment-seconds 5
# An hour back: every capture time lies after the generated registry's address handover.
"$PCAPFS_GEN" --packets 30000 --devices 20 --seed 7 --duration 10 --start $(($(date +%s) - 3600)) \
	-o "$T/gen.pcap" --registry "$T/devices.tsv"
grep -v '^dev-019' "$T/devices.tsv" >"$T/devices-18.tsv"
register_devices "$T/devices-18.tsv" >/dev/null

veth_add 1
veth_add 2 # stays idle
start_captured "$LOG" -i b1 -i b2 --flush-interval 1s --stats-interval 1s --retry-interval 1s
pass "started on b1 and b2"

# A device registered while capturing is classified from then on.
ctl device add dev-019 --mac 02:00:00:00:00:14 --ip 10.20.0.20 >/dev/null
wait_log "$LOG" 'device registry reloaded' 5
pass "registry change picked up: $(grep -o 'device registry reloaded.*' "$LOG" | tail -1)"

read -r g0 g1 < <(gen_range "$T/gen.pcap")
devs="dev-000 dev-003 dev-005 dev-007 dev-010 dev-012 dev-019"
for d in $devs; do "$TESTS_DIR/reference.sh" -o "$T/ref-$d.pcap" "$T/gen.pcap" "$T/devices.tsv" "$d" "$g0" "$g1"; done

# Replay while the registry keeps changing (an unrelated device): no packet may be lost.
(for i in $(seq 1 10); do ctl device add "churn-$i" --ip "192.168.77.$i" >/dev/null; sleep 0.1; done) &
churn=$!
replay 1 "$T/gen.pcap" --topspeed
t_sent=$(date +%s.%N)

# Live visibility: the daemon keeps running; every device's packets appear within the
# flush interval (1 s), allowing for a loaded machine.
W=$(window)
visible=
want=$(npackets "$T/ref-dev-000.pcap")
for _ in $(seq 1 200); do
	if ctl extract dev-000 "$W" --size | grep -q ", $want packets"; then
		visible=$(python3 -c "import time; print(f'{time.time() - $t_sent:.2f}')")
		break
	fi
	sleep 0.05
done
wait $churn
[ -n "$visible" ] || fail "dev-000's packets did not all become visible while capturing: $(ctl extract dev-000 "$W" --size), want $want; $(ctl status | grep -A1 Capture)"
pass "all of dev-000's packets visible while capturing, $visible s after the replay ended (flush interval 1 s)"
for d in $devs; do
	ctl extract "$d" "$W" -o "$T/x-$d.pcap"
	packets_match same "$T/x-$d.pcap" "$T/ref-$d.pcap" || fail "$d: extract differs from the reference"
	pass "$d: $(npackets "$T/x-$d.pcap") packets, byte for byte equal to the reference"
done
[ "$(npackets "$T/ref-dev-019.pcap")" -gt 0 ] || fail "dev-019 has no packets in the generated file"

# Statistics of both interfaces, the idle one included, reach the catalogue.
sleep 1.5
st=$(ctl --json status)
python3 - "$st" <<'PY' || fail "statistics: $st"
import json, sys
s = json.loads(sys.argv[1])
cap = {c['interface']: c for c in s['capture']}
assert set(cap) == {'b1', 'b2'}, cap
assert cap['b1']['packets'] >= 30000 and cap['b1']['dropped'] == 0, cap['b1']
assert cap['b2']['packets'] == 0, cap['b2']
PY
ctl status | grep -E '^ +b2:|^Capture: +b1:' | sed 's/^/  /'
pass "statistics for b1 and the idle b2 in pcapfsctl status"

# Idle: with 5-second segments, the open segments are sealed on the wall clock.
sleep 6
ctl --json status | grep -q '"segments_open": 0' || fail "idle segments not sealed: $(ctl --json status)"
pass "idle interface: segments sealed on the wall clock, nothing open"

# Link down and up: logged, capture goes on afterwards.
in_b ip link set b1 down
wait_log "$LOG" 'b1: link down' 5
in_b ip link set b1 up
wait_log "$LOG" 'b1: link up' 5
pass "link down/up logged"

# The idle interface disappears while b1 keeps capturing, then comes back.
veth_del 2
wait_log "$LOG" 'b2: the interface disappeared' 5
"$PCAPFS_GEN" --packets 2000 --devices 20 --seed 8 --duration 1 --start $(($(date +%s) - 3600)) -o "$T/gen2.pcap"
replay 1 "$T/gen2.pcap" --topspeed
veth_add 2
wait_log "$LOG" 'b2: capturing' 10
replay 2 "$T/gen2.pcap" --topspeed
pass "b2 deleted while capturing, logged, reopened when recreated: $(grep -c 'b2:' "$LOG") log lines about b2"

stop_captured
grep -q 'stopped cleanly' "$LOG" || fail "no clean stop: $(tail -5 "$LOG")"
ctl --json status | grep -q '"segments_open": 0' || fail "open segments after SIGTERM"
ctl verify >/dev/null || fail "verify after SIGTERM"
python3 - "$SPOOL" <<'PY' || { grep b2 "$LOG"; ctl status; sqlite3 "$SPOOL/catalog.db" "select * from segments"; fail "packet counts per interface"; }
import sqlite3, sys
db = sqlite3.connect(f'file:{sys.argv[1]}/catalog.db?mode=ro', uri=True)
n = dict(db.execute('SELECT i.name, sum(s.packets) FROM segments s JOIN interfaces i ON i.id = s.interface_id GROUP BY i.name'))
assert n.get('b1') == 32000, n
assert n.get('b2') == 2000, n
print(f'ok - stored per interface: {n}')
PY
pass "SIGTERM: sealed, verify clean, every replayed packet stored"

#!/bin/bash
# bench-capture.sh — pcapfs-captured against tcpdump -w in the same run, on a veth pair
# between two private network namespaces (the traffic never leaves them):
#   1. kernel drops at tcpreplay --topspeed, same kernel buffer for both;
#   2. CPU seconds (user + sys of the capturing process, /proc/PID/stat) per million packets
#      at a fixed replay rate, unpinned and pinned to the core tcpreplay runs on;
#   3. peak resident memory (VmHWM) of each;
#   4. time from capture to visibility in 'pcapfsctl extract'.
# Prints figures; asserts nothing about time. Environment: PCAPFSCTL, PCAPFS_GEN,
# PCAPFS_CAPTURED; BENCH_PACKETS (default 300000), BENCH_LOOPS (3), BENCH_PPS (100000).
set -euo pipefail
: "${PCAPFSCTL:?}" "${PCAPFS_GEN:?}"
[ -n "${PCAPFS_CAPTURED:-}" ] || { echo "SKIP: pcapfs-captured not built"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 77; }
for t in ip tcpreplay tcpdump taskset python3 awk; do
	command -v $t >/dev/null || { echo "SKIP: $t missing"; exit 77; }
done
PACKETS=${BENCH_PACKETS:-300000}
LOOPS=${BENCH_LOOPS:-3}
PPS=${BENCH_PPS:-100000}
BUF_MB=64

T=$(mktemp -d /tmp/pcapfs-bench.XXXXXX)
NS_A=pcfs-bench-$$-a NS_B=pcfs-bench-$$-b
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	ip netns del "$NS_A" 2>/dev/null || true
	ip netns del "$NS_B" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NS_A"
ip netns add "$NS_B"
for ns in "$NS_A" "$NS_B"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add "pb$$a" type veth peer name "pb$$b"
ip link set "pb$$a" netns "$NS_A"
ip link set "pb$$b" netns "$NS_B"
ip -n "$NS_A" link set "pb$$a" name a1
ip -n "$NS_B" link set "pb$$b" name b1
ip -n "$NS_A" link set a1 mtu 9500 up
ip -n "$NS_B" link set b1 mtu 9500 up
sleep 1

"$PCAPFS_GEN" --packets "$PACKETS" --devices 200 --seed 5 --duration 60 \
	--start $(($(date +%s) - 3600)) -o "$T/gen.pcap" --registry "$T/devices.tsv"
# A fresh spool per run keeps the comparison fair (same disk state, no retention); each
# with a registry of the 200 devices (their first binding each: MAC, then IP).
new_spool() {
	SPOOL=$T/spool-$1
	"$PCAPFSCTL" --spool "$SPOOL" --quiet init
	awk -F'\t' 'NR > 1 && $1 !~ /^#/ && $4 == "-" && $5 == "-" {
		opt = ($2 == "mac") ? "--mac" : (index($3, "/") ? "--net" : "--ip")
		args[$1] = args[$1] " " opt " " $3 } END { for (d in args) print d args[d] }' "$T/devices.tsv" |
		while read -r dev rest; do "$PCAPFSCTL" --spool "$SPOOL" device add "$dev" $rest >/dev/null; done
}
total=$((PACKETS * LOOPS))
REPLAY_CPU=0

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# run TOOL MODE: capture with TOOL (captured|tcpdump) while replaying; MODE topspeed|rate|pinned.
# Prints: tool mode packets kernel-drops cpu-s-per-Mpkt rss-MiB replay-pps
run() {
	local tool=$1 mode=$2 pid pin=() rargs=(--pps "$PPS")
	[ "$mode" = topspeed ] && rargs=(--topspeed)
	[ "$mode" = pinned ] && pin=(taskset -c 0)
	rm -rf "$T/out.pcap" "$T/cap.log"
	if [ "$tool" = captured ]; then
		ip netns exec "$NS_B" "${pin[@]}" "$PCAPFS_CAPTURED" --spool "$SPOOL" -i b1 \
			-B ${BUF_MB}M --stats-interval 1s >"$T/cap.log" 2>&1 &
		pid=$!
		for _ in $(seq 1 100); do grep -q 'started for' "$T/cap.log" && break; sleep 0.05; done
	else
		ip netns exec "$NS_B" "${pin[@]}" tcpdump -i b1 -n -s 262144 -B $((BUF_MB * 1024)) \
			-w "$T/out.pcap" >"$T/cap.log" 2>&1 &
		pid=$!
		for _ in $(seq 1 100); do grep -q 'listening on' "$T/cap.log" && break; sleep 0.05; done
	fi
	PIDS+=("$pid")
	sleep 0.5
	local t0 t1
	t0=$(ticks "$pid")
	ip netns exec "$NS_A" taskset -c 0 tcpreplay -q -i a1 "${rargs[@]}" --loop "$LOOPS" \
		"$T/gen.pcap" >"$T/replay.log" 2>&1
	sleep 1.5
	t1=$(ticks "$pid")
	local rss
	rss=$(hwm "$pid")
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	local got drops
	if [ "$tool" = captured ]; then
		read -r got drops < <("$PCAPFSCTL" --spool "$SPOOL" --json status | python3 -c "
import json, sys
c = json.load(sys.stdin)['capture'][0]
print(c['packets'], c['dropped'])")
	else
		got=$(grep -Eo '^[0-9]+ packets captured' "$T/cap.log" | grep -Eo '^[0-9]+')
		drops=$(grep -Eo '^[0-9]+ packets dropped by kernel' "$T/cap.log" | grep -Eo '^[0-9]+')
	fi
	local rate
	rate=$(grep -Eo 'Rated: [0-9.]+ Bps, [0-9.]+ Mbps, [0-9.]+ pps' "$T/replay.log" | awk '{print $6}')
	awk -v tool="$tool" -v mode="$mode" -v got="$got" -v drops="$drops" -v dt=$((t1 - t0)) \
		-v hz="$(getconf CLK_TCK)" -v total="$total" -v rss="$rss" -v rate="$rate" 'BEGIN {
		printf "%-16s %-9s %9s %8s %10.2f %8.1f %10.0f\n", (tool == "captured" ? "pcapfs-captured" : tool),
			mode, got, drops, dt / hz / (total / 1e6), rss / 1024, rate }'
}

echo "pcapfs-captured vs tcpdump -w: $total packets per run ($PACKETS x $LOOPS loops), kernel buffer ${BUF_MB} MiB, $(nproc) cores"
echo "fixed rate: $PPS packets/s; tcpreplay runs on core 0; 'pinned' runs the capture on core 0 too"
printf '%-16s %-9s %9s %8s %10s %8s %10s\n' tool mode captured drops 'cpu-s/Mpkt' 'rss-MiB' 'replay-pps'
for mode in topspeed rate pinned; do
	run tcpdump "$mode" | tee -a "$T/rows"
	new_spool "$mode"
	run captured "$mode" | tee -a "$T/rows"
done
# CPU per packet of pcapfs-captured over tcpdump's, per mode (below 1: cheaper).
awk '{ cpu[$1 " " $2] = $5 } END { n = split("topspeed rate pinned", ms, " ")
	for (i = 1; i <= n; i++) printf "cpu ratio pcapfs-captured/tcpdump, %s: %.2f\n", ms[i],
		cpu["pcapfs-captured " ms[i]] / cpu["tcpdump " ms[i]] }' "$T/rows"

# Visibility (on the last spool): small bursts, each polled with extract --size until all its packets show.
"$PCAPFS_GEN" --packets 200 --devices 4 --seed 9 --duration 1 --start $(($(date +%s) - 3600)) \
	-o "$T/burst.pcap" --registry "$T/burst.tsv"
ip netns exec "$NS_B" "$PCAPFS_CAPTURED" --spool "$SPOOL" -i b1 >"$T/cap.log" 2>&1 &
vpid=$!
PIDS+=($vpid)
sleep 1
W="$(($(date +%s) - 10))--$(($(date +%s) + 600))"
lat=()
for i in $(seq 1 8); do
	before=$("$PCAPFSCTL" --spool "$SPOOL" extract dev-000 "$W" --size | grep -Eo '[0-9]+ packets' | grep -Eo '[0-9]+')
	sleep "0.$((RANDOM % 9 + 1))"
	ip netns exec "$NS_A" tcpreplay -q -i a1 --topspeed "$T/burst.pcap" >/dev/null 2>&1
	t0=$(date +%s%N)
	for _ in $(seq 1 400); do
		n=$("$PCAPFSCTL" --spool "$SPOOL" extract dev-000 "$W" --size | grep -Eo '[0-9]+ packets' | grep -Eo '[0-9]+')
		[ "$n" -gt "$before" ] && break
		sleep 0.01
	done
	lat+=($(( ($(date +%s%N) - t0) / 1000000 )))
done
echo "capture-to-visibility in extract (flush interval 1 s), 8 bursts, ms: ${lat[*]}"
kill -TERM "$vpid"
wait "$vpid" || true

# capture-lib.sh — shared by the capture-*.sh tests (sourced after lib.sh; not a test).
#
# Traffic rule: generated packets are replayed only into veth pairs whose two ends live in
# network namespaces created here, and the namespaces are deleted on exit. Nothing is sent
# to any other address.

[ -n "${PCAPFS_CAPTURED:-}" ] || skip "pcapfs-captured was not built (libpcap missing)"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, packet capture)"
need ip tcpreplay tcpdump editcap python3

NS_A=pcfs-$$-a # tcpreplay side
NS_B=pcfs-$$-b # capture side
ip netns add "$NS_A" 2>/dev/null || skip "cannot create network namespaces"
on_exit "ip netns del $NS_A"
ip netns add "$NS_B" || fail "cannot create a second namespace"
on_exit "ip netns del $NS_B"
for ns in "$NS_A" "$NS_B"; do
	# No router solicitations or other noise of the namespaces' own.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done

# veth_add N: the pair aN (in NS_A) — bN (in NS_B), up, with room for jumbo frames.
veth_add() {
	ip link add "pcfs$$a$1" type veth peer name "pcfs$$b$1" || fail "cannot create a veth pair"
	ip link set "pcfs$$a$1" netns "$NS_A"
	ip link set "pcfs$$b$1" netns "$NS_B"
	ip -n "$NS_A" link set "pcfs$$a$1" name "a$1"
	ip -n "$NS_B" link set "pcfs$$b$1" name "b$1"
	ip -n "$NS_A" link set "a$1" mtu 9500 up
	ip -n "$NS_B" link set "b$1" mtu 9500 up
	# Until the carrier is up on both ends, veth drops what is sent.
	for _ in $(seq 1 100); do
		ip -n "$NS_A" link show "a$1" | grep -q 'state UP' &&
			ip -n "$NS_B" link show "b$1" | grep -q 'state UP' && return 0
		sleep 0.05
	done
	fail "veth pair $1 did not come up"
}
veth_del() { ip -n "$NS_A" link del "a$1"; }

in_a() { ip netns exec "$NS_A" "$@"; }
in_b() { ip netns exec "$NS_B" "$@"; }

# replay N FILE [tcpreplay options]: send FILE into aN (captured on bN).
replay() {
	local n=$1 f=$2
	shift 2
	in_a tcpreplay -q -i "a$n" "$@" "$f" >"$T/replay.log" 2>&1 || { cat "$T/replay.log" >&2; fail "tcpreplay"; }
}

CAPTURED_PID=
# start_captured LOG ARGS...: run the daemon in NS_B on the spool.
start_captured() {
	local log=$1 started
	shift
	started=$(grep -c 'started for' "$log" 2>/dev/null || true)
	# Not through a shell function: $! must be the daemon itself (ip netns exec execs it).
	ip netns exec "$NS_B" "$PCAPFS_CAPTURED" --spool "$SPOOL" "$@" >>"$log" 2>&1 &
	CAPTURED_PID=$!
	on_exit "kill -9 $CAPTURED_PID"
	for _ in $(seq 1 100); do
		[ "$(grep -c 'started for' "$log")" -gt "${started:-0}" ] && return 0
		kill -0 $CAPTURED_PID 2>/dev/null || { cat "$log" >&2; fail "pcapfs-captured exited at start"; }
		sleep 0.05
	done
	cat "$log" >&2
	fail "pcapfs-captured did not start"
}
stop_captured() {
	kill -TERM "$CAPTURED_PID"
	local rc=0
	wait "$CAPTURED_PID" || rc=$?
	[ $rc -eq 0 ] || fail "pcapfs-captured exited with $rc on SIGTERM"
}

# Wait until LOG matches the extended regex PATTERN (at most SECONDS).
wait_log() {
	local log=$1 pattern=$2 secs=${3:-10}
	for _ in $(seq 1 $((secs * 20))); do
		grep -Eq -- "$pattern" "$log" && return 0
		sleep 0.05
	done
	cat "$log" >&2
	fail "no log line /$pattern/ within $secs s"
}

# Compare the packet data (caplen, len, bytes) of a pcap file with a reference, in order;
# timestamps differ by nature (the capture stamps its own) and are not compared.
#   packets_match same GOT REF       the same packets
#   packets_match in-order GOT REF   GOT's packets appear in REF in order, unchanged (REF
#                                    with gaps: packets that arrived while nothing captured)
packets_match() {
	python3 - "$@" <<'PY'
import struct, sys
def recs(path):
    d = open(path, 'rb').read()
    off, out = 24, []
    while off + 16 <= len(d):
        caplen, length = struct.unpack_from('<II', d, off + 8)
        out.append((caplen, length, d[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return out
mode, got_path, ref_path = sys.argv[1:4]
got, ref = recs(got_path), recs(ref_path)
if mode == 'same':
    if got != ref:
        n = next((i for i in range(min(len(got), len(ref))) if got[i] != ref[i]), min(len(got), len(ref)))
        sys.exit(f'{got_path}: {len(got)} packets, {ref_path}: {len(ref)}; first difference at packet {n}')
else:
    j = 0
    for r in got:
        while j < len(ref) and ref[j] != r:
            j += 1
        if j == len(ref):
            sys.exit(f'{got_path}: a stored packet is not in the reference (or out of order)')
        j += 1
    print(f'ok - {got_path.split("/")[-1]}: {len(got)} of {len(ref)} packets stored, in order, unchanged')
PY
}
npackets() {
	python3 -c "
import struct, sys
d = open(sys.argv[1], 'rb').read(); off = 24; n = 0
while off + 16 <= len(d):
    off += 16 + struct.unpack_from('<I', d, off + 8)[0]; n += 1
print(n)" "$1"
}

# The first and last timestamp (epoch seconds) of a generated file, for reference.sh.
gen_range() {
	python3 -c "
import struct, sys
d = open(sys.argv[1], 'rb').read(); off = 24; first = last = None
while off + 16 <= len(d):
    s, f, caplen = struct.unpack_from('<III', d, off)
    t = s + f / 1e6
    first = t if first is None else first
    last = t
    off += 16 + caplen
print(int(first), int(last) + 2)" "$1"
}

# The window covering everything captured by this test: from its start to a minute ahead.
T0=$(($(date +%s) - 5))
window() { echo "$T0--$(($(date +%s) + 60))"; }

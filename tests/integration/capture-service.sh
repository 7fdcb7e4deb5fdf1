#!/bin/bash
# pcapfs-captured as a service: --user drops to that user keeping only CAP_NET_RAW (and
# the files it creates belong to the user); under a service manager (NOTIFY_SOCKET) it sends
# READY=1, STATUS= and WATCHDOG=1; SIGHUP reloads; bad command lines are refused with a
# precise message; --help documents every option.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/capture-lib.sh"
id nobody >/dev/null 2>&1 || skip "no user 'nobody'"

# Usage errors.
expect_fail 'no interface given' "$PCAPFS_CAPTURED" --spool "$T/none"
expect_fail "flush-interval '5ms': expected 50ms..60s" "$PCAPFS_CAPTURED" -i x --flush-interval 5ms
expect_fail "interface 'x' given twice" "$PCAPFS_CAPTURED" -i x -i x
expect_fail 'not a pcapfs spool' "$PCAPFS_CAPTURED" --spool "$T/none" -i lo
help=$("$PCAPFS_CAPTURED" --help)
for o in --spool --interface --filter --no-promiscuous --snaplen --buffer-size --queue-size \
	--flush-interval --durable --max-age --max-size --min-free --stats-interval --user; do
	grep -q -- "$o" <<<"$help" || fail "--help does not document $o"
done
pass "--help documents every option"

ctl --quiet init
"$PCAPFS_GEN" --packets 5000 --devices 5 --seed 3 --duration 2 --start $(($(date +%s) - 3600)) \
	-o "$T/gen.pcap" --registry "$T/devices.tsv"
register_devices "$T/devices.tsv" >/dev/null
chown -R nobody "$SPOOL"
chmod 755 "$T"
veth_add 1

# A service manager: a datagram socket that records what it is told.
python3 - "$T/notify.sock" "$T/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], 'a') as f:
    while True:
        f.write(s.recv(4096).decode() + '\n')
        f.flush()
PY
for _ in $(seq 1 50); do [ -S "$T/notify.sock" ] && break; sleep 0.05; done
chmod 666 "$T/notify.sock" # the daemon sends as nobody, as under systemd
LOG=$T/captured.log
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=1000000 start_captured "$LOG" -i b1 --user nobody
wait_log "$T/notify.log" 'READY=1' 5
wait_log "$T/notify.log" 'WATCHDOG=1' 5
wait_log "$T/notify.log" 'STATUS=b1 capturing' 10
pass "sd_notify: $(sort -u "$T/notify.log" | grep -v '^$' | cut -c1-60 | tr '\n' '|')"

# Identity and capabilities of the running daemon.
st=/proc/$CAPTURED_PID/status
uid=$(awk '/^Uid:/ {print $2 "," $3 "," $4}' "$st")
[ "$uid" = "$(id -u nobody),$(id -u nobody),$(id -u nobody)" ] || fail "uids: $uid"
capeff=$(awk '/^CapEff:/ {print $2}' "$st")
capbnd=$(awk '/^CapBnd:/ {print $2}' "$st")
[ "$capeff" = 0000000000002000 ] || fail "effective capabilities $capeff, expected only CAP_NET_RAW"
[ "$capbnd" = 0000000000002000 ] || fail "bounding set $capbnd, expected only CAP_NET_RAW"
grep -q '^NoNewPrivs:[[:space:]]*1' "$st" || fail "no_new_privs not set"
pass "running as nobody with CAP_NET_RAW only (CapEff $capeff, CapBnd $capbnd), no_new_privs"

replay 1 "$T/gen.pcap" --topspeed
kill -HUP "$CAPTURED_PID"
wait_log "$LOG" 'SIGHUP: reloading' 5
sleep 1.5
stop_captured
wait_log "$T/notify.log" 'STOPPING=1' 5
owners=$(find "$SPOOL/seg" -type f -printf '%u\n' | sort -u)
[ "$owners" = nobody ] || fail "segment files owned by: $owners"
ctl verify >/dev/null || fail "verify"
"$TESTS_DIR/reference.sh" -o "$T/ref.pcap" "$T/gen.pcap" "$T/devices.tsv" dev-004 $(gen_range "$T/gen.pcap")
ctl extract dev-004 "$(window)" -o "$T/x.pcap"
packets_match same "$T/x.pcap" "$T/ref.pcap" || fail "dev-004 differs from the reference"
pass "as nobody: $(npackets "$T/x.pcap") packets of dev-004 equal to the reference, files owned by nobody"

#!/bin/bash
# The built-in demo: installs dependencies, builds pcapfs, generates synthetic IoT traffic
# for 50 devices, registers the devices, captures the traffic live with pcapfs-captured
# while tcpreplay sends it through a veth pair between two private network namespaces
# (nothing leaves them), mounts the spool with the pcapfs filesystem and shows what is
# there: status, the device list, the mounted tree, one device's window read by tshark
# straight from the mount. Idempotent: the demo spool and namespaces are recreated (and the
# mount redone) on every run; the mount stays up for browsing until 'fusermount3 -u' or a
# reboot.
#   PCAPFS_DEMO_DIR      where the demo spool and capture go (default /var/tmp/pcapfs-demo)
#   PCAPFS_DEMO_PACKETS  packets to generate and replay (default 300000)
#   PCAPFS_DEMO_PPS      replay rate in packets per second (default 50000)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
meson compile -C build >/dev/null

D=${PCAPFS_DEMO_DIR:-/var/tmp/pcapfs-demo}
N=${PCAPFS_DEMO_PACKETS:-300000}
PPS=${PCAPFS_DEMO_PPS:-50000}
ctl() { build/src/pcapfsctl --spool "$D/spool" "$@"; }
M=$D/mnt
NS_A=pcapfs-demo-a NS_B=pcapfs-demo-b
# A mount left by an earlier run, also one whose daemon is gone ("Transport endpoint is not
# connected"): detach it.
fusermount3 -uz "$M" 2>/dev/null || true
if [ -s "$D/captured.pid" ]; then kill -TERM "$(cat "$D/captured.pid")" 2>/dev/null || true; sleep 1; fi
ip netns del "$NS_A" 2>/dev/null || true
ip netns del "$NS_B" 2>/dev/null || true
rm -rf "$D/spool" "$D/captured.pid"
mkdir -p "$D" "$M"

echo "== generating $N packets of 50 devices"
build/tests/gen/pcapfs-gen --devices 50 --packets "$N" --duration 3600 \
	--seed 1 -o "$D/capture.pcap" --registry "$D/devices.tsv"
ctl --quiet init
echo "== registering devices from $D/devices.tsv"
declare -A seen=()
while IFS=$'\t' read -r dev kind addr from until vlan; do
	case $dev in ''|'#'*|device) continue ;; esac
	case $kind in mac) opt=--mac ;; *) [[ $addr == */* ]] && opt=--net || opt=--ip ;; esac
	# Live capture stamps packets with the time they arrive: bindings hold for all time.
	[ "$from" = - ] || continue
	if [ -z "${seen[$dev]:-}" ]; then
		ctl device add "$dev" "$opt" "$addr" --tag demo
		seen[$dev]=1
	else
		ctl device set "$dev" "$opt" "$addr"
	fi
done <"$D/devices.tsv"

echo "== capturing live: tcpreplay --pps $PPS into veth a0 ($NS_A) -> b0 ($NS_B), pcapfs-captured -i b0"
ip netns add "$NS_A"
ip netns add "$NS_B"
for ns in "$NS_A" "$NS_B"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add pcapfs-demo0 type veth peer name pcapfs-demo1
ip link set pcapfs-demo0 netns "$NS_A"
ip link set pcapfs-demo1 netns "$NS_B"
ip -n "$NS_A" link set pcapfs-demo0 name a0
ip -n "$NS_B" link set pcapfs-demo1 name b0
ip -n "$NS_A" link set a0 mtu 9500 up
ip -n "$NS_B" link set b0 mtu 9500 up
for _ in $(seq 1 100); do
	ip -n "$NS_B" link show b0 | grep -q 'state UP' && ip -n "$NS_A" link show a0 | grep -q 'state UP' && break
	sleep 0.05
done
ip netns exec "$NS_B" build/captured/pcapfs-captured --spool "$D/spool" -i b0 >"$D/captured.log" 2>&1 &
echo $! >"$D/captured.pid"
for _ in $(seq 1 100); do grep -q 'started for' "$D/captured.log" && break; sleep 0.05; done
ip netns exec "$NS_A" tcpreplay -q --pps "$PPS" -i a0 "$D/capture.pcap" 2>&1 | grep -E 'Actual|Rated' || true
sleep 1.5 # the flush interval: everything captured is readable now
echo "== while pcapfs-captured still runs (open segment), dev-007's last 10 minutes are readable:"
echo "   $(ctl extract --size dev-007 "$(($(date +%s) - 600))--$(date +%s)")"
kill -TERM "$(cat "$D/captured.pid")"
while kill -0 "$(cat "$D/captured.pid")" 2>/dev/null; do sleep 0.1; done
rm -f "$D/captured.pid"
ip netns del "$NS_A"
ip netns del "$NS_B"
echo "== pcapfs-captured stopped (SIGTERM seals the open segments); its log: $D/captured.log"
echo
ctl status
echo
ctl device list >"$D/devices.txt"
head -12 "$D/devices.txt"
echo "   ... ($(($(wc -l <"$D/devices.txt") - 1)) devices)"
echo
# Every open is recorded in Linux audit; without a running auditd the demo serves anyway.
audit=required
if [ "$(auditctl -s 2>/dev/null | awk '$1 == "enabled" {print $2}')" != 1 ]; then
	audit=best-effort
	echo "(kernel auditing is off here: mounting with audit=best-effort)"
fi
# The account check's PAM service, as an installation puts it (without it PAM would use its
# "other" service); an existing one is left as it is.
if [ ! -e /etc/pam.d/pcapfs ]; then
	echo "== installing the PAM service file: systemd/pcapfs.pam -> /etc/pam.d/pcapfs"
	install -m 0644 systemd/pcapfs.pam /etc/pam.d/pcapfs
fi
echo "== mounting the spool: build/mountfs/pcapfs $D/spool $M -o audit=$audit"
build/mountfs/pcapfs "$D/spool" "$M" -o audit=$audit
echo "\$ ls $M $M/pcap | head"
ls "$M"
ls "$M/pcap" | head -5
echo "   ..."
echo "\$ ls -l $M/pcap/dev-007"
ls -l "$M/pcap/dev-007"
# Any window by name: the last 10 minutes, in epoch seconds.
now=$(date +%s)
W="$((now - 600))--$now"
F="$M/pcap/dev-007/$W.pcap"
echo
echo "== any window by name: $F"
capinfos -c -u "$F" | sed 1d
tshark -r "$F" -c 5 2>/dev/null || true
echo
echo "== the same bytes from pcapfsctl extract:"
ctl extract dev-007 "$W" -o "$D/dev-007.pcap"
cmp "$F" "$D/dev-007.pcap" && echo "identical ($(stat -c %s "$D/dev-007.pcap") bytes)"
echo
echo "== who read what: the query log (pcapfsctl audit; also $M/audit/<day>.csv)"
ctl audit --since -10m --limit 8 2>/dev/null | cut -c1-150
echo
echo "The spool is $D/spool, mounted on $M (unmount: fusermount3 -u $M). Try:"
echo "  ls -l $M/pcap/dev-003/"
echo "  tshark -r '$M/pcap/dev-001/$(date -u -d @$((now - 3600)) +%Y-%m-%dT%H:%M:%SZ)--$(date -u -d @"$now" +%Y-%m-%dT%H:%M:%SZ).pcap' | head"
echo "  build/src/pcapfsctl --spool $D/spool device show dev-001"
echo "  build/src/pcapfsctl --spool $D/spool audit --device dev-007"

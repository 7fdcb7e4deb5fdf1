#!/bin/bash
# The built-in demo: installs dependencies, builds pcapfs, generates an hour of synthetic IoT
# traffic for 50 devices, registers the devices, imports the capture into a demo spool and
# shows what is there: status, the device list, one device's window extracted and read by
# tshark. Idempotent: the demo spool is recreated on every run.
#   PCAPFS_DEMO_DIR   where the demo spool and capture go (default /var/tmp/pcapfs-demo)
#   PCAPFS_DEMO_PACKETS  packets to generate (default 300000)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
meson compile -C build >/dev/null

D=${PCAPFS_DEMO_DIR:-/var/tmp/pcapfs-demo}
N=${PCAPFS_DEMO_PACKETS:-300000}
ctl() { build/src/pcapfsctl --spool "$D/spool" "$@"; }
rm -rf "$D/spool"
mkdir -p "$D"

echo "== generating $N packets of 50 devices over one hour (2026-11-22 10:00-11:00 UTC)"
build/tests/gen/pcapfs-gen --devices 50 --packets "$N" --start 1795341600 --duration 3600 \
	--seed 1 -o "$D/capture.pcap" --registry "$D/devices.tsv"
ctl --quiet init
echo "== registering devices from $D/devices.tsv"
declare -A seen=()
while IFS=$'\t' read -r dev kind addr from until vlan; do
	case $dev in ''|'#'*|device) continue ;; esac
	case $kind in mac) opt=--mac ;; *) [[ $addr == */* ]] && opt=--net || opt=--ip ;; esac
	args=("$opt" "$addr")
	[ "$from" = - ] || args+=(--from "$from")
	[ "$until" = - ] || args+=(--until "$until")
	if [ -z "${seen[$dev]:-}" ]; then
		ctl device add "$dev" "${args[@]}" --tag demo
		seen[$dev]=1
	else
		ctl device set "$dev" "${args[@]}"
	fi
done <"$D/devices.tsv"
echo "== importing"
ctl import "$D/capture.pcap"
echo
ctl status
echo
ctl device list >"$D/devices.txt"
head -12 "$D/devices.txt"
echo "   ... ($(($(wc -l <"$D/devices.txt") - 1)) devices)"
echo
W=20261122T101500Z--20261122T103000Z
echo "== pcapfsctl extract dev-007 $W -o $D/dev-007.pcap"
ctl extract dev-007 $W -o "$D/dev-007.pcap"
capinfos -c -u "$D/dev-007.pcap" | sed 1d
tshark -r "$D/dev-007.pcap" -c 5 2>/dev/null || true
echo
echo "The spool is $D/spool. Try:"
echo "  build/src/pcapfsctl --spool $D/spool device show dev-001"
echo "  build/src/pcapfsctl --spool $D/spool extract dev-003 2026-11-22T10:00:00Z--2026-11-22T10:05:00Z | tshark -r -"

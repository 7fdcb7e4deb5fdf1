#!/bin/bash
# The built-in demo: installs dependencies, builds pcapfs, generates an hour of synthetic IoT
# traffic for 50 devices, registers the devices, imports the capture into a demo spool,
# mounts it with the pcapfs filesystem and shows what is there: status, the device list, the
# mounted tree, one device's window read by tshark straight from the mount. Idempotent: the
# demo spool is recreated (and the mount redone) on every run; the mount stays up for
# browsing until 'fusermount3 -u' or a reboot.
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
M=$D/mnt
mountpoint -q "$M" 2>/dev/null && fusermount3 -u "$M"
rm -rf "$D/spool"
mkdir -p "$D" "$M"

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
# Every open is recorded in Linux audit; without a running auditd the demo serves anyway.
audit=required
if [ "$(auditctl -s 2>/dev/null | awk '$1 == "enabled" {print $2}')" != 1 ]; then
	audit=best-effort
	echo "(kernel auditing is off here: mounting with audit=best-effort)"
fi
echo "== mounting the spool: build/mountfs/pcapfs $D/spool $M -o audit=$audit"
build/mountfs/pcapfs "$D/spool" "$M" -o audit=$audit
echo "\$ ls $M $M/pcap | head"
ls "$M"
ls "$M/pcap" | head -5
echo "   ..."
echo "\$ ls -l $M/pcap/dev-007"
ls -l "$M/pcap/dev-007"
F="$M/pcap/dev-007/2026-11-22T10:15:00Z--2026-11-22T10:30:00Z.pcap"
echo
echo "== any window by name: $F"
capinfos -c -u "$F" | sed 1d
tshark -r "$F" -c 5 2>/dev/null || true
echo
echo "== the same bytes from pcapfsctl extract:"
ctl extract dev-007 20261122T101500Z--20261122T103000Z -o "$D/dev-007.pcap"
cmp "$F" "$D/dev-007.pcap" && echo "identical ($(stat -c %s "$D/dev-007.pcap") bytes)"
echo
echo "The spool is $D/spool, mounted on $M (unmount: fusermount3 -u $M). Try:"
echo "  ls -l $M/pcap/dev-003/"
echo "  tshark -r '$M/pcap/dev-001/1795341600--1795342200.pcap' | head"
echo "  build/src/pcapfsctl --spool $D/spool device show dev-001"

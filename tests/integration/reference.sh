#!/bin/bash
# reference.sh — the independent reference for a pcapfs window file.
#
# Prints the classic pcap that
#     tcpdump -r CAPTURE -w - '<device filter>'
# gives, cut to the window [START, END), using only editcap (time cut) and tcpdump (BPF):
# no pcapfs code is involved, so comparing its output with a file read from the mount tests
# pcapfs against libpcap.
#
# Device filter: a packet belongs to DEVICE if one of the device's addresses valid at the
# packet's time appears in it: Ethernet source or destination MAC; IPv4/IPv6 source or
# destination, also behind up to 4 VLAN tags (0x8100, 0x88a8, 0x9100); ARP sender or target
# IPv4 address. libpcap's 'vlan' keyword shifts the offsets of everything after it, so the
# filter nests: L3 or (vlan and (L3 or (vlan and (...)))), one level per tag.
#
# Time: half-open [START, END), compared exactly against the file's timestamps (editcap -A
# is inclusive, -B exclusive; both take epoch seconds with up to 9 fraction digits, the
# bounds are rounded up to the nanosecond, which keeps the comparison exact for integer-ns
# timestamps). When the device's address set changes inside the window (a registry
# validity boundary), the window is split there, each part is filtered with the addresses
# valid in it, and the parts are concatenated in time order.
#
# Output precision follows the input: microsecond pcap in, microsecond pcap out;
# nanosecond in, nanosecond out (tcpdump --time-stamp-precision=nano). Cost: one editcap
# pass over the capture per part, then tcpdump over the cut only.
set -euo pipefail

prog=${0##*/}
usage() {
	cat <<EOF
Usage: $prog [-o FILE] [--print-plan] CAPTURE REGISTRY DEVICE START END

Writes the packets of DEVICE in [START, END) (epoch seconds, fraction allowed) from the
classic pcap CAPTURE as a classic pcap, to standard output or FILE, exactly as tcpdump
writes them. REGISTRY is the TSV written by pcapfs-gen --registry:
    device<TAB>kind<TAB>address<TAB>from<TAB>until<TAB>vlan
(kind mac|ipv4|ipv6, addresses may be CIDRs; from/until epoch seconds or '-'; '#' lines
and the header line are skipped).
--print-plan prints the time parts and their BPF filters instead of a capture.
EOF
}

out=-
plan_only=0
while [ $# -gt 0 ]; do
	case $1 in
	-o) [ $# -ge 2 ] || { usage >&2; exit 2; }; out=$2; shift 2 ;;
	--print-plan) plan_only=1; shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	-*) echo "$prog: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -eq 5 ] || { usage >&2; exit 2; }
capture=$1 registry=$2 device=$3 start=$4 end=$5

PYTHON=${PYTHON:-python3}
for t in tcpdump editcap "$PYTHON"; do
	command -v "$t" >/dev/null || { echo "$prog: $t not found" >&2; exit 2; }
done
[ -r "$capture" ] || { echo "$prog: $capture: cannot read" >&2; exit 2; }
[ -r "$registry" ] || { echo "$prog: $registry: cannot read" >&2; exit 2; }

magic=$(head -c 4 "$capture" | od -An -tx1 | tr -d ' \n')
case $magic in
d4c3b2a1|a1b2c3d4) editfmt=pcap; tsprec=() ;;
4d3cb2a1|a1b23c4d) editfmt=nsecpcap; tsprec=(--time-stamp-precision=nano) ;;
*) echo "$prog: $capture: not a classic pcap file (magic $magic)" >&2; exit 2 ;;
esac

# The plan: one line per time part, "FROM<TAB>UNTIL<TAB>BPF", bounds as epoch seconds with
# 9 fraction digits. Consecutive parts with the same address set are merged.
plan=$("$PYTHON" - "$registry" "$device" "$start" "$end" <<'EOF'
import sys
from fractions import Fraction

registry, device, start, end = sys.argv[1:5]
MAX_TAGS = 4

def ns_ceil(text, what):
    try:
        v = Fraction(text)
    except (ValueError, ZeroDivisionError):
        sys.exit(f"reference.sh: {what}: '{text}' is not a number of epoch seconds")
    if v < 0 or v > 2**32:
        sys.exit(f"reference.sh: {what}: {text} is outside 0..4294967296")
    return -((-v * 10**9) // 1)

lo, hi = ns_ceil(start, "START"), ns_ceil(end, "END")
if hi <= lo:
    sys.exit(f"reference.sh: empty window: END {end} is not after START {start}")

bindings = []
with open(registry, encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        line = line.rstrip("\r\n")
        if not line or line.startswith("#") or line.startswith("device\t"):
            continue
        cols = line.split("\t")
        if len(cols) < 5:
            sys.exit(f"reference.sh: {registry}:{n}: expected device, kind, address, from, until")
        if cols[0] != device:
            continue
        kind, addr = cols[1], cols[2]
        if kind not in ("mac", "ipv4", "ipv6"):
            sys.exit(f"reference.sh: {registry}:{n}: unknown kind '{kind}'")
        b = ns_ceil(cols[3], "from") if cols[3] != "-" else None
        u = ns_ceil(cols[4], "until") if cols[4] != "-" else None
        bindings.append((kind, addr.lower(), b, u))
if not bindings:
    sys.exit(f"reference.sh: device '{device}' has no addresses in {registry}")

def bpf(active):
    macs = [f"ether host {a}" for k, a in active if k == "mac"]
    l3 = []
    for k, a in active:
        q = "net" if "/" in a else "host"
        if k == "ipv4":
            l3 += [f"ip {q} {a}", f"arp {q} {a}"]
        elif k == "ipv6":
            l3.append(f"ip6 {q} {a}")
    terms = macs
    if l3:
        g = " or ".join(l3)
        nested = g
        for _ in range(MAX_TAGS):
            nested = f"{g} or (vlan and ({nested}))"
        terms = macs + [nested]
    return " or ".join(terms)

cuts = sorted({t for _, _, b, u in bindings for t in (b, u) if t is not None and lo < t < hi})
edges = [lo] + cuts + [hi]
parts = []
for a, z in zip(edges, edges[1:]):
    active = sorted({(k, ad) for k, ad, b, u in bindings
                     if (b is None or b <= a) and (u is None or a < u)})
    if parts and parts[-1][2] == active:
        parts[-1][1] = z
    else:
        parts.append([a, z, active])

def fmt(ns):
    return f"{ns // 10**9}.{ns % 10**9:09d}"

# "-": no bound needed (every classic pcap timestamp is in [0, 2^32) seconds).
for a, z, active in parts:
    print(f"{fmt(a) if a > 0 else '-'}\t{fmt(z) if z < 2**32 * 10**9 else '-'}\t{bpf(active)}")
EOF
) || exit 2

if [ $plan_only = 1 ]; then
	printf '%s\n' "$plan"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pcapfs-ref.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The time cut of [FROM, UNTIL) ("-": unbounded) to standard output, as a pcap of the
# input's precision. editcap does it fast, but its epoch parser overflows at 2^31 seconds
# (2038), so bounds from there on are cut by the few lines of python3 below, with the same
# semantics: inclusive FROM, exclusive UNTIL, exact at the nanosecond.
past2038() {
	[ "$1" != - ] && [ "${1%%.*}" -ge 2147483648 ]
}

timecut() {
	local from=$1 until=$2 args=()
	if past2038 "$from" || past2038 "$until"; then
		"$PYTHON" - "$capture" "$from" "$until" <<'EOF'
import struct, sys
path, lo, hi = sys.argv[1:4]
lo = 0 if lo == "-" else int(lo.replace(".", ""))
hi = 2**64 if hi == "-" else int(hi.replace(".", ""))
out = sys.stdout.buffer
with open(path, "rb") as f:
    head = f.read(24)
    end = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    mult = 1 if head[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1000
    out.write(head)
    rec = struct.Struct(end + "IIII")
    while len(r := f.read(16)) == 16:
        sec, frac, caplen, _ = rec.unpack(r)
        if lo <= sec * 10**9 + frac * mult < hi:
            out.write(r + f.read(caplen))
        else:
            f.seek(caplen, 1)
EOF
	else
		[ "$from" = - ] || args+=(-A "$from")
		[ "$until" = - ] || args+=(-B "$until")
		editcap -F "$editfmt" "${args[@]}" "$capture" -
	fi
}

# One part: the time cut, then the device filter by tcpdump over the cut only. A part may
# be left with no address at all (every binding expired): then an unoptimized filter that
# matches nothing (optimized, libpcap refuses it: "expression rejects all packets") writes
# the header alone.
part() {
	local from=$1 until=$2 filter=$3 opt=()
	if [ -z "$filter" ]; then
		filter='ether[0] != ether[0]'
		opt=(-O)
	fi
	if [ "$from" = - ] && [ "$until" = - ]; then
		tcpdump "${tsprec[@]}" "${opt[@]}" -r "$capture" -w - "$filter" 2>"$tmp/tcpdump.err"
	else
		timecut "$from" "$until" 2>"$tmp/cut.err" |
			tcpdump "${tsprec[@]}" "${opt[@]}" -r - -w - "$filter" 2>"$tmp/tcpdump.err"
	fi || {
		echo "$prog: part [$from, $until) failed:" >&2
		cat "$tmp/cut.err" "$tmp/tcpdump.err" >&2 2>/dev/null
		return 1
	}
}

{
	first=1
	while IFS=$'\t' read -r from until filter; do
		if [ $first = 1 ]; then
			part "$from" "$until" "$filter"
			first=0
		else
			part "$from" "$until" "$filter" | tail -c +25
		fi
	done <<<"$plan"
} >"$tmp/out.pcap"

if [ "$out" = - ]; then
	cat "$tmp/out.pcap"
else
	mv "$tmp/out.pcap" "$out"
fi

#!/bin/bash
# reference-check.sh — cross-check reference.sh (tcpdump/BPF) against tshark display filters.
#
# reference.sh builds BPF filters by hand, and libpcap's 'vlan' keyword makes that easy to
# get wrong (it shifts every later offset). This script checks, for every device of a
# registry, that the packets and bytes reference.sh selects equal what tshark's dissectors
# select with the display filter
#     eth.addr==M || ip.addr==A || ipv6.addr==B
#       || arp.src.proto_ipv4==A || arp.dst.proto_ipv4==A
# (each address term limited to its validity with frame.time_epoch), over the whole
# capture and over extra windows: by default a 240 s window with fractional bounds around
# each validity boundary of the registry (an address reassignment); more with --window.
# Counts come from one tshark pass per 100 filters (-z io,stat, one column per filter). In
# the extra windows the devices whose addresses change there, and one device per VLAN
# depth, are also compared record by record with what tshark -Y ... -w writes.
# tshark 4.0 cannot compare times past 3942818048 s (year 2094); nothing later is checked.
# Exit status: 0 all equal, 1 a mismatch (listed on stderr), 2 usage or tool error.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "$0")" && pwd)
reference=$here/reference.sh
windows=()

usage() {
	cat <<EOF
Usage: $prog [--window START END]... [--reference PATH] CAPTURE REGISTRY
Compares per-device packet and byte counts of reference.sh with tshark display filters,
over the whole capture and each window; exits 1 on any mismatch.
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	--window) [ $# -ge 3 ] || { usage >&2; exit 2; }; windows+=("$2 $3"); shift 3 ;;
	--reference) [ $# -ge 2 ] || { usage >&2; exit 2; }; reference=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	-*) echo "$prog: unknown option '$1'" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || { usage >&2; exit 2; }
capture=$1 registry=$2
for t in tshark tcpdump editcap; do
	command -v $t >/dev/null || { echo "$prog: $t not found" >&2; exit 2; }
done
# Resolve the interpreter once: a version-manager shim can cost a second per start, and
# reference.sh runs once per (device, window). reference.sh honours $PYTHON too.
PYTHON=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)') || {
	echo "$prog: python3 not found" >&2
	exit 2
}
export PYTHON

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pcapfs-refcheck.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Checks: one line per (device, window): "DEVICE<TAB>START<TAB>END<TAB>EXACT<TAB>FILTER";
# EXACT=1 also compares the records byte for byte (one tshark run each, so only in the
# extra windows, and only for the devices whose addresses change there and one device per
# VLAN depth).
"$PYTHON" - "$registry" "${windows[@]}" >"$tmp/checks" <<'EOF'
import sys
from fractions import Fraction

registry, extra = sys.argv[1], sys.argv[2:]
devices, cuts, samples = {}, set(), {}
with open(registry, encoding="utf-8") as f:
    for line in f:
        line = line.rstrip("\r\n")
        if not line or line.startswith("#") or line.startswith("device\t"):
            continue
        cols = line.split("\t")
        dev, kind, addr, frm, until = cols[:5]
        devices.setdefault(dev, []).append((kind, addr.lower(), frm, until))
        vlan = cols[5] if len(cols) > 5 else "0"
        samples.setdefault(vlan, dev)
        cuts |= {t for t in (frm, until) if t != "-"}

def term(kind, addr, frm, until):
    if kind == "mac":
        t = f"eth.addr=={addr}"
    elif kind == "ipv4":
        t = f"(ip.addr=={addr} || arp.src.proto_ipv4=={addr} || arp.dst.proto_ipv4=={addr})"
    else:
        t = f"ipv6.addr=={addr}"
    if frm != "-":
        t += f" && frame.time_epoch >= {frm}"
    if until != "-":
        t += f" && frame.time_epoch < {until}"
    return f"({t})"

wins = [("0", "4294967296")]
for c in sorted(cuts, key=Fraction):
    c = Fraction(c)
    wins.append((max(Fraction(0), c - Fraction("120.000001")), c + Fraction("119.5")))
wins += [tuple(w.split()) for w in extra]

def dec(x):  # Fraction -> exact decimal string (denominators here are powers of 10)
    x = Fraction(x)
    s = f"{x.numerator // x.denominator}"
    frac = x - x.numerator // x.denominator
    if frac:
        digits = f"{frac.numerator * 10**9 // frac.denominator:09d}".rstrip("0")
        s += "." + digits
    return s

# tshark 4.0's time literals stop working past 3942818048 s (year 2094): bound only what
# needs it; captures and registries beyond that year cannot be checked.
for start, end in wins:
    start, end = dec(start), dec(end)
    bounds = ""
    if Fraction(start) > 0:
        bounds += f" && frame.time_epoch >= {start}"
    if Fraction(end) < 3942818048:
        bounds += f" && frame.time_epoch < {end}"
    for dev, binds in devices.items():
        f = " || ".join(term(*b) for b in binds)
        exact = 0
        if (start, end) != ("0", "4294967296"):
            changes = any(Fraction(start) < Fraction(t) < Fraction(end)
                          for b in binds for t in b[2:4] if t != "-")
            exact = int(changes or dev in samples.values())
        print(f"{dev}\t{start}\t{end}\t{exact}\t({f}){bounds}")
EOF

# tshark side: io,stat columns, 100 filters per pass.
: >"$tmp/tshark"
split -l 100 -d -a 4 "$tmp/checks" "$tmp/chunk."
for chunk in "$tmp"/chunk.*; do
	spec=io,stat,0
	while IFS=$'\t' read -r _ _ _ _ filter; do
		spec+=",$filter"
	done <"$chunk"
	tshark -n -r "$capture" -q -z "$spec" 2>"$tmp/tshark.err" >"$tmp/iostat" || {
		echo "$prog: tshark failed:" >&2
		cat "$tmp/tshark.err" >&2
		exit 2
	}
	# The single data row: "| 0.0 <> 60.0 | frames | bytes | frames | bytes | ..."
	"$PYTHON" - "$tmp/iostat" "$(wc -l <"$chunk")" >>"$tmp/tshark" <<'EOF'
import sys
rows = [l for l in open(sys.argv[1]) if "<>" in l]
if len(rows) != 1:
    sys.exit("reference-check.sh: cannot find the io,stat data row")
cells = [c.strip() for c in rows[0].strip().strip("|").split("|")][1:]
nums = [c for c in cells if c]
want = int(sys.argv[2])
if len(nums) != 2 * want:
    sys.exit(f"reference-check.sh: io,stat gave {len(nums)} numbers for {want} filters")
for i in range(want):
    print(f"{nums[2 * i]}\t{nums[2 * i + 1]}")
EOF
done

# tcpdump side: reference.sh per (device, window), then one python pass counts them all.
# For EXACT windows, tshark also writes its selection (from a cut one second wider on each
# side, so that its own time test decides the bounds) and the records must be identical.
case $(head -c 4 "$capture" | od -An -tx1 | tr -d ' \n') in
4d3cb2a1|a1b23c4d) fmt=nsecpcap ;;
*) fmt=pcap ;;
esac
: >"$tmp/exact"
i=0
wide=
while IFS=$'\t' read -r dev start end exact filter; do
	i=$((i + 1))
	"$reference" -o "$tmp/ref.$i.pcap" "$capture" "$registry" "$dev" "$start" "$end" </dev/null
	[ "$exact" = 1 ] || continue
	if [ "$wide" != "$start $end" ]; then
		wide="$start $end"
		lo=$(( ${start%%.*} - 1 )) hi=$(( ${end%%.*} + 2 ))
		if [ $lo -ge 0 ] && [ $hi -lt 2147483648 ]; then
			editcap -F $fmt -A $lo -B $hi "$capture" "$tmp/wide.pcap"
		else
			cp "$capture" "$tmp/wide.pcap"
		fi
	fi
	tshark -n -r "$tmp/wide.pcap" -Y "$filter" -F $fmt -w "$tmp/tshark.pcap" 2>"$tmp/tshark.err" || {
		echo "$prog: tshark failed:" >&2
		cat "$tmp/tshark.err" >&2
		exit 2
	}
	if ! cmp -s <(tail -c +25 "$tmp/tshark.pcap") <(tail -c +25 "$tmp/ref.$i.pcap"); then
		echo "MISMATCH $dev [$start, $end): records differ from tshark's" >>"$tmp/exact"
	fi
done <"$tmp/checks"
"$PYTHON" - "$tmp" "$i" >"$tmp/ref" <<'EOF'
import os, struct, sys
for i in range(1, int(sys.argv[2]) + 1):
    path = f"{sys.argv[1]}/ref.{i}.pcap"
    with open(path, "rb") as f:
        head = f.read(24)
        end = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        n = size = 0
        while len(r := f.read(16)) == 16:
            _, _, caplen, length = struct.unpack(end + "IIII", r)
            f.seek(caplen, 1)
            n += 1
            size += length
    os.unlink(path)
    print(f"{n}\t{size}")
EOF

paste "$tmp/checks" "$tmp/tshark" "$tmp/ref" | "$PYTHON" -c '
import sys
bad = total = 0
for line in sys.stdin:
    dev, start, end, _, _, tf, tb, rf, rb = line.rstrip("\n").split("\t")
    total += 1
    if (tf, tb) != (rf, rb):
        bad += 1
        print(f"MISMATCH {dev} [{start}, {end}): tshark {tf} packets {tb} bytes, "
              f"reference.sh {rf} packets {rb} bytes", file=sys.stderr)
for line in open(sys.argv[1]):
    bad += 1
    print(line, end="", file=sys.stderr)
print(f"reference-check: {total} (device, window) pairs, {bad} mismatches")
sys.exit(1 if bad else 0)
' "$tmp/exact"

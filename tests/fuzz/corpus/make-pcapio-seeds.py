#!/usr/bin/env python3
"""Writes the seed corpus of fuzz-pcapio into tests/fuzz/corpus/pcapio/: small valid
classic pcap and pcapng files in every byte order and precision, and one file for each
malformation the reader must reject. Run from anywhere; output is deterministic."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pcapio")
MAGIC_US, MAGIC_NS = 0xA1B2C3D4, 0xA1B23C4D


def payload(seed, n):
    return bytes((seed * 7 + i) & 0xFF for i in range(n))


def pcap(recs, magic=MAGIC_US, be=False, version=(2, 4), snaplen=65535, linktype=1):
    e = ">" if be else "<"
    out = struct.pack(e + "IHHiIII", magic, version[0], version[1], 0, 0, snaplen, linktype)
    for i, (sec, frac, caplen, length) in enumerate(recs):
        out += struct.pack(e + "IIII", sec, frac, caplen, length) + payload(i, caplen)
    return out


def block(e, btype, body, trailer=None):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n if trailer is None else trailer)


def shb(e, major=1):
    return block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, major, 0, -1))


def opt(e, code, value):
    return struct.pack(e + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def idb(e, linktype=1, snaplen=0, tsresol=None, tsoffset=None):
    body = struct.pack(e + "HHI", linktype, 0, snaplen)
    if tsresol is not None:
        body += opt(e, 9, bytes([tsresol]))
    if tsoffset is not None:
        body += opt(e, 14, struct.pack(e + "q", tsoffset))
    body += opt(e, 0, b"")
    return block(e, 1, body)


def epb(e, units, caplen, length=None, ifid=0, seed=0):
    body = struct.pack(e + "IIIII", ifid, units >> 32, units & 0xFFFFFFFF, caplen,
                       caplen if length is None else length)
    return block(e, 6, body + payload(seed, caplen))


def opb(e, units, caplen, ifid=0):
    body = struct.pack(e + "HHIIII", ifid, 0, units >> 32, units & 0xFFFFFFFF, caplen, caplen)
    return block(e, 2, body + payload(3, caplen))


def main():
    seeds = {}
    r3 = [(1700000000, 1, 60, 60), (1700000000, 2, 1, 1500), (1700000001, 999999, 42, 64)]
    seeds["pcap-us-le"] = pcap(r3)
    seeds["pcap-us-be"] = pcap(r3, be=True)
    seeds["pcap-ns-le"] = pcap([(1, 999999999, 20, 20), (2, 0, 8, 9)], magic=MAGIC_NS)
    seeds["pcap-ns-be"] = pcap([(1, 999999999, 20, 20)], magic=MAGIC_NS, be=True)
    seeds["pcap-v23"] = pcap(r3[:1], version=(2, 3))
    seeds["pcap-empty"] = pcap([])
    seeds["pcap-snaplen0"] = pcap([(1, 1, 300, 300)], snaplen=0, linktype=113)
    seeds["bad-magic"] = b"\x7fELF" + b"\0" * 28
    seeds["bad-gzip"] = b"\x1f\x8b\x08\0" + b"\0" * 20
    seeds["bad-version"] = pcap(r3, version=(2, 2))
    seeds["bad-trunc-global"] = pcap([])[:20]
    seeds["bad-trunc-rechdr"] = pcap(r3)[:-(42 + 10)]
    seeds["bad-trunc-rec"] = pcap(r3)[:-1]
    seeds["bad-caplen-snaplen"] = pcap([(1, 1, 100, 100)], snaplen=64)
    seeds["bad-caplen-max"] = pcap([(1, 1, 262145, 262145)], snaplen=0)[:24 + 16 + 64]
    seeds["bad-zero-length"] = pcap([(1, 1, 0, 0)])
    seeds["bad-caplen-len"] = pcap([(1, 1, 20, 19)])
    seeds["bad-usec"] = pcap([(1, 1000000, 20, 20)])
    seeds["bad-nsec"] = pcap([(1, 1000000000, 20, 20)], magic=MAGIC_NS)

    for e, tag in (("<", "le"), (">", "be")):
        seeds["ng-us-" + tag] = (shb(e) + block(e, 0xBAD, b"xyz") + idb(e, 1) + epb(e, 1700000000123456, 60, 64)
                                 + block(e, 5, b"\0" * 20) + opb(e, 1700000000123457, 10))
        seeds["ng-ns-" + tag] = shb(e) + idb(e, 113, 128, tsresol=9) + epb(e, 1700000000123456789, 70)
    e = "<"
    seeds["ng-ms"] = shb(e) + idb(e, 1, tsresol=3) + epb(e, 1700000000123, 20)
    seeds["ng-base2"] = shb(e) + idb(e, 1, tsresol=0x80 | 20) + epb(e, (1700000000 << 20) | 12345, 20)
    seeds["ng-base2-63"] = shb(e) + idb(e, 1, tsresol=0x80 | 63) + epb(e, (1 << 64) - 1, 20)
    seeds["ng-tsoffset"] = shb(e) + idb(e, 1, tsresol=6, tsoffset=1700000000) + epb(e, 5000001, 20)
    seeds["ng-two-sections"] = shb(e) + idb(e, 1) + epb(e, 1, 20) + shb(">") + block(">", 4, b"\0" * 4)
    seeds["ng-no-idb"] = shb(e)
    seeds["bad-ng-two-idb"] = shb(e) + idb(e, 1) + epb(e, 1, 20) + idb(e, 105) + epb(e, 2, 20, ifid=1)
    seeds["bad-ng-idb-next-section"] = shb(e) + idb(e, 1) + shb(e) + idb(e, 1) + epb(e, 2, 20)
    seeds["bad-ng-trailer"] = shb(e) + idb(e, 1) + block(e, 6, b"\0" * 40, trailer=48)
    seeds["bad-ng-spb"] = shb(e) + idb(e, 1) + block(e, 3, struct.pack("<I", 20) + payload(0, 20))
    seeds["bad-ng-undeclared"] = shb(e) + idb(e, 1) + epb(e, 1, 20, ifid=1)
    seeds["bad-ng-before-idb"] = shb(e) + epb(e, 1, 20) + idb(e, 1)
    seeds["bad-ng-too-large"] = shb(e) + idb(e, 1) + struct.pack("<II", 6, (16 << 20) + 4) + b"\0" * 64
    seeds["bad-ng-len-unaligned"] = shb(e) + struct.pack("<II", 1, 22) + b"\0" * 16
    seeds["bad-ng-trunc"] = (shb(e) + idb(e, 1) + epb(e, 1, 60))[:-3]
    seeds["bad-ng-caplen-block"] = shb(e) + idb(e, 1) + epb(e, 1, 20)[:20] + struct.pack("<II", 21, 21) + epb(e, 1, 20)[28:]
    seeds["bad-ng-snaplen"] = shb(e) + idb(e, 1, snaplen=16) + epb(e, 1, 20)
    seeds["bad-ng-version"] = shb(e, major=2)
    seeds["bad-ng-bom"] = shb(e)[:8] + b"\x11\x22\x33\x44" + shb(e)[12:]
    seeds["bad-ng-tsresol"] = shb(e) + idb(e, 1, tsresol=20) + epb(e, 1, 20)
    seeds["bad-ng-ts-range"] = shb(e) + idb(e, 1, tsresol=0) + epb(e, 1 << 32, 20)
    seeds["bad-ng-opt-overrun"] = shb(e) + block(e, 1, struct.pack("<HHIHH", 1, 0, 0, 9, 200))

    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {OUT}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""pcapgen.py - write IPv4 packets into a pcap file (Ethernet link type), for replay and for
injection into a test router. Packets are described in a small text format, one per line:

    src dst proto [sport dport] [key=value ...]

keys: ttl, tos, id, frag (flags+offset field, e.g. 0x2000), len (payload bytes), flags (tcp
flags as a number), smac, dmac, ihl_opts (hex bytes of IP options), csum=bad (IP checksum).
"""
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def build(src, dst, proto, sport=0, dport=0, ttl=64, tos=0, ident=1, frag=0, payload=0,
          tcpflags=0x02, opts=b"", badsum=False):
    if proto == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, tcpflags, 65535, 0, 0)
    elif proto in (17, 136):
        l4 = struct.pack("!HHHH", sport, dport, 8 + payload, 0)
    elif proto == 1:
        l4 = struct.pack("!BBHHH", sport, dport, 0, 0, 0)  # type, code
    elif proto == 132:
        l4 = struct.pack("!HHII", sport, dport, 0, 0)
    else:
        l4 = b""
    body = l4 + bytes(payload)
    if frag & 0x1FFF:
        body = bytes(payload) if payload else b"\0" * 8
    ihl = 5 + (len(opts) + 3) // 4
    opts = opts + b"\0" * (ihl * 4 - 20 - len(opts))
    tot = ihl * 4 + len(body)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, tot, ident, frag, ttl, proto, 0,
                      ip4(src), ip4(dst)) + opts
    c = csum(hdr)
    if badsum:
        c ^= 0x1234
    hdr = hdr[:10] + struct.pack("!H", c) + hdr[12:]
    return hdr + body


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def write_pcap(path, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, (frame) in enumerate(packets):
            f.write(struct.pack("<IIII", 1000 + i // 1000, (i % 1000) * 1000, len(frame), len(frame)))
            f.write(frame)


def parse_line(line):
    parts = line.split()
    src, dst, proto = parts[0], parts[1], int(parts[2])
    rest = parts[3:]
    sport = dport = 0
    if rest and "=" not in rest[0]:
        sport, dport = int(rest[0]), int(rest[1])
        rest = rest[2:]
    kv = dict(p.split("=", 1) for p in rest)
    ip = build(src, dst, proto, sport, dport, ttl=int(kv.get("ttl", 64)), tos=int(kv.get("tos", "0"), 0),
               ident=int(kv.get("id", 1)), frag=int(kv.get("frag", "0"), 0),
               payload=int(kv.get("len", 0)), tcpflags=int(kv.get("flags", "2"), 0),
               opts=bytes.fromhex(kv.get("ihl_opts", "")), badsum=kv.get("csum") == "bad")
    eth = mac(kv.get("dmac", "02:00:00:00:00:02")) + mac(kv.get("smac", "02:00:00:00:00:01")) + b"\x08\x00"
    return eth + ip


if __name__ == "__main__":
    out = sys.argv[1]
    pkts = [parse_line(l) for l in sys.stdin if l.strip() and not l.startswith("#")]
    write_pcap(out, pkts)

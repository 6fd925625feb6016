#!/usr/bin/env python3
"""pcap-inject.py - send every frame of a pcap file out of a network interface, as it is
(AF_PACKET, SOCK_RAW: no header is added or changed), in order, paced so that none is lost.

    pcap-inject.py [--batch N] [--gap-us N] IFACE FILE.pcap
    pcap-inject.py --ip [--batch N] [--gap-us N] FILE.pcap

Frames are sent in batches of --batch (default 32) with a pause of --gap-us microseconds
(default 300) between batches. A veth hands each frame to its peer's backlog at once; when the
backlog overflows, the veth counts a tx drop. The interface's tx_dropped counter is read
before and after: the program prints "sent N frames, D dropped" and exits 1 when a frame was
dropped (or could not be sent), 2 on a usage or file error.

With --ip, this host sends the IPv4 packets itself (the Ethernet header is stripped), through
a raw socket with IP_HDRINCL, each to its own destination address: they traverse OUTPUT and
POSTROUTING. The kernel keeps the header as it is, but for tot_len and the checksum (always
set), the source when 0.0.0.0 and the id when 0; it refuses packets longer than the route's
MTU. A packet that a netfilter rule drops makes sendto() fail with EPERM: those are counted
as "filtered", not as errors. Non-IPv4 frames are skipped.
"""
import argparse
import socket
import struct
import sys
import time


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError("%s: not a pcap file" % path)
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        endian = ">"
    else:
        raise ValueError("%s: not a pcap file (pcapng is not supported)" % path)
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise ValueError("%s: link type %d, not Ethernet" % (path, linktype))
    off, frames = 24, []
    while off + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        off += 16
        if off + caplen > len(data):
            raise ValueError("%s: truncated record" % path)
        frames.append(data[off:off + caplen])
        off += caplen
    return frames


def counter(iface, name):
    try:
        with open("/sys/class/net/%s/statistics/%s" % (iface, name)) as f:
            return int(f.read())
    except OSError:
        return 0


def send_ip(a, path):
    try:
        frames = read_pcap(path)
    except (OSError, ValueError) as e:
        print("pcap-inject: %s" % e, file=sys.stderr)
        return 2
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sent = filtered = failed = skipped = 0
    for i, fr in enumerate(frames):
        if len(fr) < 34 or fr[12:14] != b"\x08\x00":
            skipped += 1
            continue
        ip = fr[14:]
        try:
            s.sendto(ip, (socket.inet_ntoa(ip[16:20]), 0))
            sent += 1
        except PermissionError:
            filtered += 1  # a rule dropped it
        except OSError as e:
            failed += 1
            print("pcap-inject: packet %d: %s" % (i + 1, e), file=sys.stderr)
        if (i + 1) % a.batch == 0 and a.gap_us:
            time.sleep(a.gap_us / 1e6)
    print("sent %d packets, %d filtered, %d skipped, %d not sent" % (sent, filtered, skipped,
                                                                   failed))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--gap-us", type=int, default=300)
    ap.add_argument("--ip", action="store_true", help="send as this host (raw IPv4 socket)")
    ap.add_argument("args", nargs="+", metavar="IFACE FILE.pcap")
    a = ap.parse_args()
    if a.ip:
        if len(a.args) != 1:
            ap.error("--ip takes one argument: the capture")
        return send_ip(a, a.args[0])
    if len(a.args) != 2:
        ap.error("IFACE and FILE.pcap expected")
    a.iface, a.pcap = a.args
    try:
        frames = read_pcap(a.pcap)
    except (OSError, ValueError) as e:
        print("pcap-inject: %s" % e, file=sys.stderr)
        return 2
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: send only
    s.bind((a.iface, 0))
    dropped0 = counter(a.iface, "tx_dropped")
    failed = 0
    for i, fr in enumerate(frames):
        if len(fr) < 14:
            failed += 1
            continue
        try:
            s.send(fr)
        except OSError as e:
            failed += 1
            print("pcap-inject: frame %d: %s" % (i + 1, e), file=sys.stderr)
        if (i + 1) % a.batch == 0 and a.gap_us:
            time.sleep(a.gap_us / 1e6)
    time.sleep(0.05)
    dropped = counter(a.iface, "tx_dropped") - dropped0
    print("sent %d frames, %d dropped, %d not sent" % (len(frames) - failed, dropped, failed))
    return 1 if dropped or failed else 0


if __name__ == "__main__":
    sys.exit(main())

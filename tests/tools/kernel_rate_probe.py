#!/usr/bin/env python3
"""kernel_rate_probe.py - ask the running kernel what the rate and state matches do.

Builds three network namespaces, client -- router -- sink (pf-h3-c, pf-h3-r, pf-h3-s; client
198.18.3.2/24, router 198.18.3.1/24 and 198.19.3.1/24, sink 198.19.3.2/24), loads rules into
the router with iptables-legacy-restore, sends crafted IPv4 packets from the client with a
packet socket at controlled times (busy-waiting on the monotonic clock), and prints the
router's `iptables-legacy-save -c`. The sink drops everything, so forwarded connections stay
unanswered (conntrack keeps them as SYN_SENT/UNREPLIED). Run as root:

    python3 tests/tools/kernel_rate_probe.py SCENARIO

The scenarios below produced the kernel values recorded in tests/unit/test_eval_rate.c.
Timing is as exact as user space allows (about 0.1 ms); the phase of the kernel's jiffies
(4 ms at HZ=250) relative to the packets is random, so counts near a boundary can move by
one between runs: the unit test's scenarios were chosen away from such boundaries, or the
spread seen over several runs is recorded.
"""
import ctypes
import os
import socket
import struct
import subprocess
import sys
import time

C, R, S = "pf-h3-c", "pf-h3-r", "pf-h3-s"


def sh(cmd, check=True, inp=None):
    return subprocess.run(cmd, shell=True, check=check, input=inp, text=True,
                          capture_output=True).stdout


def setup():
    teardown()
    for n in (C, R, S):
        sh(f"ip netns add {n}")
    sh(f"ip link add c0 netns {C} type veth peer name r0 netns {R}")
    sh(f"ip link add s0 netns {S} type veth peer name r1 netns {R}")
    sh(f"ip -n {C} addr add 198.18.3.2/24 dev c0")
    sh(f"ip -n {R} addr add 198.18.3.1/24 dev r0")
    sh(f"ip -n {R} addr add 198.19.3.1/24 dev r1")
    sh(f"ip -n {S} addr add 198.19.3.2/24 dev s0")
    for n, devs in ((C, ["c0", "lo"]), (R, ["r0", "r1", "lo"]), (S, ["s0", "lo"])):
        for d in devs:
            sh(f"ip -n {n} link set {d} up")
    sh(f"ip -n {S} route add default via 198.19.3.1")
    sh(f"ip -n {C} route add default via 198.18.3.1")
    for k in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
              "net.ipv4.conf.default.rp_filter=0", "net.ipv4.conf.r0.rp_filter=0",
              "net.ipv4.conf.r1.rp_filter=0"):
        sh(f"ip netns exec {R} sysctl -qw {k}")
    sh(f"ip netns exec {S} iptables-legacy -t raw -A PREROUTING -j DROP")
    # static neighbours: no ARP traffic in the counters
    rmac = sh(f"ip -n {R} -o link show r0").split("link/ether ")[1].split()[0]
    cmac = sh(f"ip -n {C} -o link show c0").split("link/ether ")[1].split()[0]
    smac = sh(f"ip -n {S} -o link show s0").split("link/ether ")[1].split()[0]
    sh(f"ip -n {C} neigh add 198.18.3.1 lladdr {rmac} dev c0")
    sh(f"ip -n {R} neigh add 198.19.3.2 lladdr {smac} dev r1")
    return rmac, cmac


def teardown():
    for n in (C, R, S):
        sh(f"ip netns del {n}", check=False)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(src, dst, proto, payload, ttl=64, ident=0x1234):
    tot = 20 + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, ident, 0x4000, ttl, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def l4sum(src, dst, proto, seg):
    ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, len(seg))
    return csum(ph + seg)


def udp(src, dst, sport, dport, size=0, ttl=64):
    seg = struct.pack("!HHHH", sport, dport, 8 + size, 0) + b"x" * size
    c = l4sum(src, dst, 17, seg) or 0xFFFF
    seg = seg[:6] + struct.pack("!H", c) + seg[8:]
    return ip4(src, dst, 17, seg, ttl)


def tcp(src, dst, sport, dport, flags=0x02, seq=1000, ttl=64):
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 0x50, flags, 65535, 0, 0)
    c = l4sum(src, dst, 6, seg)
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    return ip4(src, dst, 6, seg, ttl)


def setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
        raise OSError(ctypes.get_errno(), "setns")


def send(schedule, rmac, cmac):
    """schedule: list of (seconds from start, ip packet bytes), sorted."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open(f"/var/run/netns/{C}", os.O_RDONLY)
    setns(fd)
    os.close(fd)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind(("c0", 0))
    setns(home)
    os.close(home)
    eth = bytes.fromhex(rmac.replace(":", "")) + bytes.fromhex(cmac.replace(":", "")) + b"\x08\x00"
    t0 = time.monotonic_ns()
    for t, pkt in schedule:
        target = t0 + int(t * 1e9)
        while time.monotonic_ns() < target:
            pass
        s.send(eth + pkt)
    s.close()


def restore(rules):
    sh(f"ip netns exec {R} iptables-legacy-restore", inp=rules)


def save():
    return sh(f"ip netns exec {R} iptables-legacy-save -c")


FWD = "198.19.3.2"


def scen_limit():
    restore("*raw\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p udp --dport 9 -m limit --limit 3/second --limit-burst 5\n"
            "-A PREROUTING -p udp --dport 9\nCOMMIT\n")
    return [(i * 0.010, udp("198.18.3.2", FWD, 1000, 9)) for i in range(1000)]


def scen_limit_slow():
    # 1/minute burst 2: 2 at once, then one per 60 s: over 130 s at 1 packet/s
    restore("*raw\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p udp --dport 9 -m limit --limit 1/minute --limit-burst 2\n"
            "-A PREROUTING -p udp --dport 9\nCOMMIT\n")
    return [(i * 1.0, udp("198.18.3.2", FWD, 1000, 9)) for i in range(131)]


def scen_hashlimit():
    # three sources; .10 at 20/s, .11 at 2/s, .12 at 5/s, for 5 s; upto 4/s burst 3
    restore("*raw\n:PREROUTING ACCEPT [0:0]\n:HL - [0:0]\n"
            "-A PREROUTING -p udp --dport 9 -m hashlimit --hashlimit-upto 4/sec "
            "--hashlimit-burst 3 --hashlimit-mode srcip --hashlimit-name h3a -j HL\n"
            "-A HL -s 198.18.5.10\n"
            "-A HL -s 198.18.5.11\n"
            "-A HL -s 198.18.5.12\nCOMMIT\n")
    sched = []
    for i in range(100):
        sched.append((i * 0.05, udp("198.18.5.10", FWD, 1000, 9)))
    for i in range(10):
        sched.append((i * 0.5 + 0.013, udp("198.18.5.11", FWD, 1000, 9)))
    for i in range(25):
        sched.append((i * 0.2 + 0.027, udp("198.18.5.12", FWD, 1000, 9)))
    return sorted(sched, key=lambda x: x[0])


def scen_hashlimit_bytes():
    # 10kb/s burst 20kb, one source, 472-byte packets (500 with headers... tot 500) at 50/s
    restore("*raw\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p udp --dport 9 -m hashlimit --hashlimit-upto 10kb/s "
            "--hashlimit-burst 20kb --hashlimit-mode srcip,dstport --hashlimit-name h3b\n"
            "-A PREROUTING -p udp --dport 9\nCOMMIT\n")
    return [(i * 0.02, udp("198.18.5.10", FWD, 1000, 9, size=472)) for i in range(250)]


def scen_hashlimit_bytes_noburst():
    restore("*raw\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p udp --dport 9 -m hashlimit --hashlimit-upto 10kb/s "
            "--hashlimit-mode srcip --hashlimit-name h3c\n"
            "-A PREROUTING -p udp --dport 9\nCOMMIT\n")
    return [(i * 0.02, udp("198.18.5.10", FWD, 1000, 9, size=472)) for i in range(250)]


def scen_hashlimit_max():
    # htable-size 4 max 4: the fifth key at once is dropped (hotdrop); expiry 500 ms,
    # gc every 1000 ms: after 2.5 s the entries are gone and new keys fit again
    restore("*raw\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p udp --dport 9 -m hashlimit --hashlimit-upto 100/sec "
            "--hashlimit-mode srcip --hashlimit-name h3d --hashlimit-htable-size 4 "
            "--hashlimit-htable-max 4 --hashlimit-htable-expire 500 "
            "--hashlimit-htable-gcinterval 1000\n"
            "-A PREROUTING -p udp --dport 9\nCOMMIT\n")
    sched = [(0.01 * i, udp(f"198.18.5.{10 + i}", FWD, 1000, 9)) for i in range(6)]
    # before the first collection (1 s after the rules were loaded, a few ms before the
    # first packet): an old key is found, a new one does not fit
    sched += [(0.9, udp("198.18.5.10", FWD, 1000, 9)), (0.91, udp("198.18.5.30", FWD, 1000, 9))]
    sched += [(2.5 + 0.01 * i, udp(f"198.18.5.{20 + i}", FWD, 1000, 9)) for i in range(6)]
    return sched


def scen_hashlimit_ratematch():
    # rate-match: 10/s per 1 s window (burst 5 + rate 10 = 15 a window); packets every
    # 60 ms for 2 s, then every 220 ms for 3 s
    restore("*raw\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p udp --dport 9 -m hashlimit --hashlimit-upto 10/sec "
            "--hashlimit-mode srcip --hashlimit-name h3r --hashlimit-rate-match\n"
            "-A PREROUTING -p udp --dport 9\nCOMMIT\n")
    sched = [(0.06 * i, udp("198.18.5.10", FWD, 1000, 9)) for i in range(34)]
    sched += [(2.1 + 0.22 * i, udp("198.18.5.10", FWD, 1000, 9)) for i in range(14)]
    return sched


def scen_hashlimit_shared():
    # two rules name one table: the first rule's mode (srcip) and burst (2) apply to both
    restore("*raw\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p udp --dport 1 -m hashlimit --hashlimit-upto 1/hour "
            "--hashlimit-burst 2 --hashlimit-mode srcip --hashlimit-name h3f\n"
            "-A PREROUTING -p udp --dport 2 -m hashlimit --hashlimit-upto 1/hour "
            "--hashlimit-burst 5 --hashlimit-mode dstip --hashlimit-name h3f\n"
            "COMMIT\n")
    return [(0.0, udp("10.1.1.1", "10.9.9.9", 1, 1)), (0.001, udp("10.1.1.1", "10.9.9.8", 1, 2)),
            (0.002, udp("10.1.1.1", "10.9.9.8", 1, 2))]


def scen_hashlimit_masks():
    # srcmask 24 + dstport keys, --hashlimit-above; a first fragment with 2 bytes of UDP
    restore("*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p udp\n"
            "-A PREROUTING -p udp -m hashlimit --hashlimit-above 1/hour --hashlimit-burst 2 "
            "--hashlimit-mode srcip,dstport --hashlimit-srcmask 24 --hashlimit-name h3e -j DROP\n"
            "-A PREROUTING -p udp\nCOMMIT\n")
    frag = bytearray(udp("10.1.3.3", "10.9.9.9", 3, 53)[:22])
    frag[2:4] = struct.pack("!H", 22)
    frag[6:8] = struct.pack("!H", 0x2000)
    frag[10:12] = b"\0\0"
    frag[10:12] = struct.pack("!H", csum(bytes(frag[:20])))
    return [(0.000, udp("10.1.1.1", "10.9.9.9", 1, 53)), (0.001, udp("10.1.1.2", "10.9.9.9", 2, 53)),
            (0.002, udp("10.1.1.3", "10.9.9.9", 3, 53)), (0.003, udp("10.1.1.3", "10.9.9.9", 3, 54)),
            (0.004, udp("10.1.2.3", "10.9.9.9", 3, 53)), (0.005, bytes(frag))]


def scen_recent():
    restore("*raw\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p udp --dport 7 -m recent --set --name r3\n"
            "-A PREROUTING -p udp --dport 8 -m recent --rcheck --seconds 2 --hitcount 2 --name r3\n"
            "-A PREROUTING -p udp --dport 9 -m recent --update --seconds 1 --name r3\n"
            "-A PREROUTING -p udp --dport 10 -m recent --rcheck --name r3\n"
            "-A PREROUTING -p udp --dport 11 -m recent --remove --name r3\n"
            "COMMIT\n")
    a = "198.18.5.10"
    return [
        (0.00, udp(a, FWD, 1, 8)),   # rcheck: not listed
        (0.10, udp(a, FWD, 1, 7)),   # set (1 stamp)
        (0.20, udp(a, FWD, 1, 8)),   # rcheck hitcount 2: 1 stamp -> no
        (0.30, udp(a, FWD, 1, 7)),   # set (2 stamps)
        (0.40, udp(a, FWD, 1, 8)),   # rcheck: 2 within 2 s -> match
        (2.25, udp(a, FWD, 1, 8)),   # stamps 0.1 and 0.3 -> 0.1 too old -> no
        (2.35, udp(a, FWD, 1, 9)),   # update seconds 1: 0.3 too old -> no, no update
        (2.40, udp(a, FWD, 1, 10)),  # rcheck: listed -> match
        (2.50, udp(a, FWD, 1, 7)),   # set: stamp 2.5
        (3.00, udp(a, FWD, 1, 9)),   # update: 2.5 within 1 s -> match, stamp 3.0
        (3.90, udp(a, FWD, 1, 9)),   # 3.0 within -> match, stamp 3.9
        (5.00, udp(a, FWD, 1, 9)),   # 3.9 is 1.1 s old -> no
        (5.10, udp(a, FWD, 1, 11)),  # remove -> match
        (5.20, udp(a, FWD, 1, 10)),  # rcheck -> no
        (5.30, udp(a, FWD, 1, 11)),  # remove, not listed -> no
    ]


def scen_recent_lru():
    # 101 addresses set: the first is evicted
    restore("*raw\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p udp --dport 7 -m recent --set --name r3l\n"
            "-A PREROUTING -p udp --dport 8 -m recent --rcheck --name r3l\n"
            "-A PREROUTING -p udp --dport 9 -m recent --rcheck --name r3l\n"
            "COMMIT\n")
    sched = [(0.001 * i, udp(f"198.18.6.{i}", FWD, 1, 7)) for i in range(1, 102)]
    sched += [(0.2, udp("198.18.6.1", FWD, 1, 8)), (0.21, udp("198.18.6.2", FWD, 1, 9))]
    return sched


def scen_recent_more():
    # --rdest with the list's mask, --rttl, "!", the TTL as before forwarding, --reap
    restore("*raw\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p udp --dport 7 -m recent --set --name m --mask 255.255.255.0 --rdest\n"
            "-A PREROUTING -p udp --dport 8 -m recent --rcheck --name m --rdest\n"
            "-A PREROUTING -p udp --dport 9 -m recent --rcheck --name m --rttl --rdest\n"
            "-A PREROUTING -p udp --dport 10 -m recent ! --rcheck --name m --rdest\n"
            "-A PREROUTING -p udp --dport 18 -m recent --rcheck --rttl --name t\n"
            "-A PREROUTING -p udp --dport 27 -m recent --set --name rp\n"
            "-A PREROUTING -p udp --dport 28 -m recent --rcheck --seconds 1 --reap --name rp\n"
            "-A PREROUTING -p udp --dport 29 -m recent --rcheck --name rp\n"
            "COMMIT\n*filter\n:FORWARD ACCEPT [0:0]\n"
            "-A FORWARD -p udp --dport 17 -m recent --set --name t\n"
            "-A FORWARD -p udp --dport 18 -m recent --rcheck --rttl --name t\n"
            "COMMIT\n")
    return [
        (0.000, udp("10.0.0.1", "10.7.7.7", 1, 7, ttl=64)),
        (0.001, udp("10.0.0.2", "10.7.7.200", 1, 8, ttl=60)),  # list mask /24: match
        (0.002, udp("10.0.0.2", "10.7.7.9", 1, 9, ttl=60)),    # rttl: recorded 64: no
        (0.003, udp("10.0.0.2", "10.7.7.9", 1, 9, ttl=64)),    # match
        (0.004, udp("10.0.0.2", "10.7.8.9", 1, 10, ttl=64)),   # ! rcheck, not listed: match
        (0.005, udp("10.0.0.2", "10.7.7.9", 1, 10, ttl=64)),   # listed: no
        (0.010, udp("10.0.0.1", FWD, 1, 17, ttl=64)),          # FORWARD: set, TTL 63 + 1
        (0.011, udp("10.0.0.1", FWD, 1, 18, ttl=64)),          # FORWARD rttl: match; raw: match
        (0.100, udp("10.0.0.1", "10.7.7.7", 1, 27)),
        (1.600, udp("10.0.0.2", "10.7.7.7", 1, 27)),
        (1.700, udp("10.0.0.2", "10.7.7.7", 1, 28)),  # match; .1 (oldest, 1.6 s) reaped
        (1.800, udp("10.0.0.1", "10.7.7.7", 1, 29)),  # no
        (1.810, udp("10.0.0.2", "10.7.7.7", 1, 29)),  # match
    ]


def scen_statistic():
    restore("*raw\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p udp --dport 9 -m statistic --mode nth --every 3 --packet 1\n"
            "-A PREROUTING -p udp --dport 9 -m statistic --mode nth --every 4 --packet 0\n"
            "-A PREROUTING -p udp --dport 9 -m statistic --mode random --probability 0.25\n"
            "COMMIT\n")
    return [(0.001 * i, udp("198.18.3.2", FWD, 1000, 9)) for i in range(100)]


def scen_connlimit():
    # after conntrack (mangle PREROUTING), forwarded SYNs to the silent sink
    restore("*mangle\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p tcp --syn -m connlimit --connlimit-above 2 --connlimit-mask 24\n"
            "-A PREROUTING -p tcp --syn -m connlimit --connlimit-upto 1 --connlimit-daddr\n"
            "-A PREROUTING -p tcp -m connlimit --connlimit-above 2 --connlimit-mask 32\n"
            "COMMIT\n")
    sched = []
    t = 0.0
    for src, sport in (("198.18.5.10", 2001), ("198.18.5.10", 2002), ("198.18.5.11", 2003),
                       ("198.18.5.10", 2001),  # retransmission: same connection
                       ("198.18.5.12", 2004), ("198.18.7.10", 2005)):
        sched.append((t, tcp(src, FWD, sport, 80)))
        t += 0.05
    # an RST of 198.18.5.10:2002 closes it; then a new SYN
    sched.append((t, tcp("198.18.5.10", FWD, 2002, 80, flags=0x04, seq=1001)))
    t += 0.05
    sched.append((t, tcp("198.18.5.10", FWD, 2006, 80)))
    return sched


def scen_connlimit_raw():
    # in raw PREROUTING (before conntrack) and in mangle; three SYNs, then a packet conntrack
    # finds INVALID (a SYN+FIN) from a fourth port, then a fifth SYN
    restore("*raw\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p tcp -m connlimit --connlimit-above 1 --connlimit-mask 0\n"
            "COMMIT\n*mangle\n:PREROUTING ACCEPT [0:0]\n"
            "-A PREROUTING -p tcp -m connlimit --connlimit-above 1 --connlimit-mask 0\n"
            "COMMIT\n")
    sched = [(0.05 * i, tcp("198.18.5.10", FWD, 3000 + i, 80)) for i in range(3)]
    sched.append((0.2, tcp("198.18.5.10", FWD, 3003, 80, flags=0x03)))
    sched.append((0.25, tcp("198.18.5.10", FWD, 3004, 80)))
    return sched


SCEN = {k[5:]: v for k, v in globals().items() if k.startswith("scen_")}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCEN:
        print("usage: kernel_rate_probe.py " + "|".join(SCEN), file=sys.stderr)
        return 2
    try:
        rmac, cmac = setup()
        sched = SCEN[sys.argv[1]]()
        send(sched, rmac, cmac)
        time.sleep(0.2)
        print(save())
        if sys.argv[1].startswith("connlimit"):
            print(sh(f"ip netns exec {R} cat /proc/net/nf_conntrack", check=False))
    finally:
        teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

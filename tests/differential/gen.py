#!/usr/bin/env python3
"""gen.py - seeded random rule sets and packet captures for the differential test against the
kernel (tests/integration/differential.sh).

    gen.py --seed N --rules OUT.rules --pcap OUT.pcap [--matches LIST] [--targets LIST]
           [--packets 2000] [--min-rules 10] [--max-rules 200] [--profile mixed|fragments|edge]

The rule set (iptables-restore format) fills the raw, mangle and filter tables: user chains
joined by -j and -g as a DAG (the kernel refuses loops), RETURN, ACCEPT/DROP, non-terminal
MARK rules followed by `-m mark` rules, mangling targets, and matches drawn from --matches
(default: all of EXTENSIONS; the core fields -s -d -p -i -o -f are always used).

The packets are Ethernet frames sent from the sender side of in0 to a router that forwards
198.18.0.0/15 traffic from in0 to out0 (addresses below); most are forwarded, a few go to the
router itself or are dropped by it (bad headers, martians, TTL 1, DF over the MTU, other
hosts' MACs), a mix of protocols, flags, options, TTLs, TOS, lengths and fragments.
Sources are kept out of every subnet the router has a route to, so the router can never send
an ICMP error or a reset back: no locally generated packet disturbs the counters.
--profile picks the mix: mixed (the default), fragments (every datagram fragmented, half of
them to the router), edge (malformed packets six times as often) or output (packets the
router sends itself, from sources that are not its own, to destinations behind out0).

Same seed, same arguments: same files (Python's random with an explicit seed).
"""
import argparse
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from pcapgen import csum, write_pcap  # noqa: E402

# ---- the topology (tests/integration/differential.sh sets up the same) ----
IN_MAC = "02:00:00:00:00:02"  # the router's in0
SND_MAC = "02:00:00:00:00:01"  # the sender's veth
IN_ADDR = "198.18.0.1"  # in0, 198.18.0.0/24
OUT_ADDR = "198.19.0.1"  # out0, 198.19.0.0/24; 198.19.0.0/16 routed via 198.19.0.2
OUT_MTU = 1400  # out0's (the capture has DF packets on both sides of it)
LOCAL_ADDRS = [IN_ADDR, OUT_ADDR]

EXTENSIONS = ["tcp", "udp", "icmp", "multiport", "iprange", "length", "ttl", "tos", "dscp",
              "tcpmss", "u32", "string", "mac", "pkttype", "addrtype", "statistic", "comment",
              "limit", "recent", "mark", "sctp", "hashlimit"]
TARGETS = ["ACCEPT", "DROP", "RETURN", "jump", "goto", "MARK", "LOG", "TTL", "DSCP", "TCPMSS",
           "REJECT", "none"]

TABLES = {
    "raw": ["PREROUTING", "OUTPUT"],
    "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    "filter": ["INPUT", "FORWARD", "OUTPUT"],
}
CHAIN_WEIGHT = {"PREROUTING": 3, "INPUT": 1, "FORWARD": 4, "OUTPUT": 0.4, "POSTROUTING": 2}
# --profile output: the router sends the packets itself (OUTPUT, then POSTROUTING)
CHAIN_WEIGHT_OUTPUT = {"PREROUTING": 0.5, "INPUT": 0.3, "FORWARD": 0.5, "OUTPUT": 4,
                       "POSTROUTING": 3}


def a2i(a):
    b = [int(x) for x in a.split(".")]
    return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]


def i2a(i):
    return "%d.%d.%d.%d" % ((i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255)


def macb(s):
    return bytes(int(x, 16) for x in s.split(":"))


class Pools:
    """Values shared by packets and rules, so that rules match some packets."""

    def __init__(self, rng):
        self.src = []
        for net in ("198.18.1.0", "198.18.2.0", "198.18.100.0", "198.18.200.0"):
            base = a2i(net)
            for _ in range(6):
                self.src.append(i2a(base + rng.randrange(1, 255)))
        self.dst = []
        for net in ("198.19.1.0", "198.19.2.0", "198.19.77.0", "198.19.200.0"):
            base = a2i(net)
            for _ in range(6):
                self.dst.append(i2a(base + rng.randrange(1, 255)))
        self.ports = [0, 1, 20, 21, 22, 23, 25, 53, 67, 80, 123, 443, 1024, 1025, 3306, 8080,
                      32768, 65535] + [rng.randrange(1, 65536) for _ in range(6)]
        self.smacs = ["02:00:00:00:00:01", "02:00:00:00:aa:01", "52:54:00:12:34:56",
                      "02:00:00:00:aa:02"]
        self.marks = [0, 1, 2, 3, 4, 0x10, 0xff, 0x100, 0xffffffff, 0x80000000]
        self.ttls = [0, 1, 2, 3, 63, 64, 65, 128, 254, 255]
        self.tos = [0, 0, 0x10, 0x08, 0x04, 0x02, 0xb8, 0x28, 0x48, 0xfc, 0x01, 0xff]
        self.words = ["GET ", "HTTP/1.1", "pktfilt", "password", "abc", "ABC", "\x00\x01\x02",
                      "xyzzy"]
        self.lengths = [20, 28, 40, 41, 44, 60, 64, 100, 128, 256, 576, 1000, 1400, 1401, 1500]


# ---------------------------------------------------------------------------------------
# rules


def q(s):
    """Quote a word for iptables-restore (double quotes, no quote inside)."""
    return '"%s"' % s


def neg(rng, p=0.2):
    return "! " if rng.random() < p else ""


def port_spec(rng, P):
    r = rng.random()
    a = rng.choice(P.ports)
    if r < 0.6:
        return str(a)
    b = rng.choice(P.ports)
    a, b = min(a, b), max(a, b)
    if r < 0.85:
        return "%d:%d" % (a, b)
    return ("%d:" % a) if r < 0.93 else (":%d" % b)


TCP_FLAGS = ["FIN", "SYN", "RST", "PSH", "ACK", "URG"]


def flag_set(rng):
    r = rng.random()
    if r < 0.08:
        return "ALL"
    if r < 0.12:
        return "NONE"
    k = rng.randrange(1, 5)
    return ",".join(sorted(rng.sample(TCP_FLAGS, k), key=TCP_FLAGS.index))


def m_tcp(rng, P, ctx):
    opts = []
    if rng.random() < 0.4:
        opts.append("%s--sport %s" % (neg(rng), port_spec(rng, P)))
    if rng.random() < 0.5:
        opts.append("%s--dport %s" % (neg(rng), port_spec(rng, P)))
    r = rng.random()
    if r < 0.15:
        opts.append("%s--syn" % neg(rng))
    elif r < 0.4:
        mask = flag_set(rng)
        if mask == "NONE":
            comp = "NONE"
        elif rng.random() < 0.8 and mask != "ALL":
            names = mask.split(",")
            comp = ",".join(n for n in names if rng.random() < 0.5) or "NONE"
        else:
            comp = flag_set(rng)
        opts.append("%s--tcp-flags %s %s" % (neg(rng), mask, comp))
    if rng.random() < 0.15:
        opts.append("%s--tcp-option %d" % (neg(rng), rng.choice([1, 2, 3, 4, 8, 30, 255])))
    if not opts:
        opts.append("--dport %s" % port_spec(rng, P))
    return "-m tcp " + " ".join(opts)


def m_udp(rng, P, ctx):
    opts = []
    if rng.random() < 0.5:
        opts.append("%s--sport %s" % (neg(rng), port_spec(rng, P)))
    if rng.random() < 0.6 or not opts:
        opts.append("%s--dport %s" % (neg(rng), port_spec(rng, P)))
    return "-m udp " + " ".join(opts)


ICMP_TYPES = ["any", "echo-request", "echo-reply", "destination-unreachable",
              "port-unreachable", "host-unreachable", "time-exceeded", "ttl-zero-during-transit",
              "parameter-problem", "redirect", "timestamp-request", "0", "3", "3/3", "3/4",
              "8", "8/0", "8/1", "11", "11/1", "12", "13", "5/1", "42"]


def m_icmp(rng, P, ctx):
    return "-m icmp %s--icmp-type %s" % (neg(rng), rng.choice(ICMP_TYPES))


def m_multiport(rng, P, ctx):
    which = rng.choice(["--sports", "--dports", "--ports"])
    items, used = [], 0
    for _ in range(rng.randrange(1, 6)):
        s = port_spec(rng, P)
        if s.startswith(":"):
            s = "0" + s
        if s.endswith(":"):
            s = s + "65535"
        if ":" in s and s.split(":")[0] == s.split(":")[1]:
            s = s.split(":")[0]  # multiport refuses a:a
        cost = 2 if ":" in s else 1
        if used + cost > 15:
            break
        items.append(s)
        used += cost
    return "-m multiport %s%s %s" % (neg(rng), which, ",".join(items))


def addr_near(rng, pool):
    return a2i(rng.choice(pool)) + rng.randrange(-3, 4)


def m_iprange(rng, P, ctx):
    opts = []
    for opt, pool in (("--src-range", P.src), ("--dst-range", P.dst)):
        if rng.random() < 0.6 or (not opts and opt == "--dst-range"):
            a, b = addr_near(rng, pool), addr_near(rng, pool)
            if rng.random() < 0.3:
                b = a + rng.randrange(0, 300)
            a, b = min(a, b), max(a, b)
            opts.append("%s%s %s-%s" % (neg(rng), opt, i2a(a), i2a(b)))
    return "-m iprange " + " ".join(opts)


def m_length(rng, P, ctx):
    a = rng.choice(P.lengths) + rng.randrange(-2, 3)
    a = max(0, a)
    if rng.random() < 0.3:
        return "-m length %s--length %d" % (neg(rng), a)
    b = max(a, rng.choice(P.lengths))
    return "-m length %s--length %d:%d" % (neg(rng), a, b)


def m_ttl(rng, P, ctx):
    v = rng.choice(P.ttls)
    r = rng.random()
    if r < 0.5:
        return "-m ttl %s--ttl-eq %d" % (neg(rng), v)
    if r < 0.75:
        return "-m ttl --ttl-lt %d" % v
    return "-m ttl --ttl-gt %d" % v


TOS_NAMES = ["Minimize-Delay", "Maximize-Throughput", "Maximize-Reliability", "Minimize-Cost",
             "Normal-Service"]


def m_tos(rng, P, ctx):
    if rng.random() < 0.25:
        return "-m tos %s--tos %s" % (neg(rng), rng.choice(TOS_NAMES))
    v = rng.choice(P.tos)
    m = rng.choice([0xff, 0x3f, 0xfc, 0x1c, 0xe0, 0x1e])
    return "-m tos %s--tos 0x%02x/0x%02x" % (neg(rng), v & m, m)


DSCP_CLASSES = ["CS0", "CS1", "CS2", "CS3", "CS4", "CS5", "CS6", "CS7", "BE", "EF", "AF11",
                "AF12", "AF13", "AF21", "AF22", "AF23", "AF31", "AF32", "AF33", "AF41", "AF42",
                "AF43"]


def m_dscp(rng, P, ctx):
    if rng.random() < 0.4:
        return "-m dscp %s--dscp-class %s" % (neg(rng), rng.choice(DSCP_CLASSES))
    return "-m dscp %s--dscp %d" % (neg(rng), rng.choice(P.tos) >> 2)


def m_tcpmss(rng, P, ctx):
    a = rng.choice([0, 88, 500, 536, 1000, 1360, 1400, 1460, 65535])
    if rng.random() < 0.4:
        return "-m tcpmss %s--mss %d" % (neg(rng), a)
    b = rng.choice([536, 1000, 1460, 1500, 65535])
    a, b = min(a, b), max(a, b)
    return "-m tcpmss %s--mss %d:%d" % (neg(rng), a, b)


def u32_test(rng, P):
    k = rng.randrange(10)
    if k == 0:
        a = rng.choice(P.lengths)
        b = max(a, rng.choice(P.lengths))
        return "0&0xFFFF=0x%x:0x%x" % (a, b)
    if k == 1:
        return "6&0xFF=0x%x" % rng.choice([1, 6, 17, 47, 132])
    if k == 2:
        return "12=0x%08x" % a2i(rng.choice(P.src))
    if k == 3:
        return "16&0xFFFFFF00=0x%08x" % (a2i(rng.choice(P.dst)) & 0xFFFFFF00)
    if k == 4:
        return "0>>22&0x3C@0>>16=%s" % u32_range(rng, P)
    if k == 5:
        return "0>>22&0x3C@0&0xFFFF=%s" % u32_range(rng, P)
    if k == 6:
        return "4&0x1FFF=0" if rng.random() < 0.5 else "4&0x3FFF=0x2000:0x3FFF"
    if k == 7:
        return "8>>24=%d" % rng.choice(P.ttls)
    if k == 8:
        return "0>>16&0xFF=0x%x" % rng.choice(P.tos)
    # the first 4 bytes of a TCP payload
    w = rng.choice(["GET ", "HTTP", "pktf", "abcd"]).encode()
    return "0>>22&0x3C@12>>26&0x3C@0=0x%08x" % struct.unpack("!I", w)[0]


def u32_range(rng, P):
    a = rng.choice(P.ports)
    if rng.random() < 0.6:
        return "%d" % a
    b = max(a, rng.choice(P.ports))
    return "%d:%d" % (a, b)


def m_u32(rng, P, ctx):
    tests = [u32_test(rng, P) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    return "-m u32 %s--u32 %s" % (neg(rng), q("&&".join(tests)))


def m_string(rng, P, ctx):
    algo = rng.choice(["bm", "kmp"])
    parts = ["-m string --algo %s" % algo]
    if rng.random() < 0.3:
        frm = rng.choice([0, 10, 20, 40, 60])
        to = frm + rng.choice([10, 50, 100, 1500])
        parts.append("--from %d --to %d" % (frm, to))
    w = rng.choice(P.words)
    if rng.random() < 0.2 or any(ord(c) < 32 for c in w):
        parts.append("%s--hex-string %s" % (neg(rng), q("|" + w.encode("latin-1").hex() + "|")))
    else:
        parts.append("%s--string %s" % (neg(rng), q(w.strip() or w)))
    if rng.random() < 0.2:
        parts.append("--icase")
    return " ".join(parts)


def m_mac(rng, P, ctx):
    if not ctx["hooks"] <= {"PREROUTING", "INPUT", "FORWARD"}:
        return None
    return "-m mac %s--mac-source %s" % (neg(rng), rng.choice(P.smacs))


def m_pkttype(rng, P, ctx):
    return "-m pkttype %s--pkt-type %s" % (neg(rng), rng.choice(["unicast", "broadcast",
                                                                  "multicast", "host"]))


ADDR_TYPES = ["UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "MULTICAST", "BLACKHOLE", "UNREACHABLE",
              "PROHIBIT"]


def m_addrtype(rng, P, ctx):
    parts = ["-m addrtype"]

    def types():
        k = rng.choice([1, 1, 1, 2])
        w = ["UNICAST", "LOCAL", "LOCAL", "BROADCAST", "MULTICAST"] + ADDR_TYPES
        return ",".join(sorted(set(rng.choice(w) for _ in range(k))))

    if rng.random() < 0.5:
        parts.append("%s--src-type %s" % (neg(rng), types()))
    if rng.random() < 0.7 or len(parts) == 1:
        parts.append("%s--dst-type %s" % (neg(rng), types()))
    h = ctx["hooks"]
    r = rng.random()
    if r < 0.2 and h <= {"PREROUTING", "INPUT", "FORWARD"}:
        parts.append("--limit-iface-in")
    elif r < 0.4 and h <= {"FORWARD", "OUTPUT", "POSTROUTING"}:
        parts.append("--limit-iface-out")
    return " ".join(parts)


def m_statistic(rng, P, ctx):
    every = rng.randrange(1, 8)
    return "-m statistic --mode nth %s--every %d --packet %d" % (neg(rng), every,
                                                                  rng.randrange(every))


def m_comment(rng, P, ctx):
    return "-m comment --comment %s" % q(rng.choice(["c", "a comment", "rule %d" % ctx["n"]]))


def m_limit(rng, P, ctx):
    if rng.random() < 0.5:
        # A burst the run never spends: always matches.
        return "-m limit --limit 10000/sec --limit-burst 10000"
    # A burst that is spent and not refilled within the run.
    return "-m limit --limit 1/hour --limit-burst %d" % rng.randrange(1, 20)


def m_hashlimit(rng, P, ctx):
    """Rates for which time cannot matter: a burst never spent, or spent and refilled only
    after an hour; buckets kept for an hour."""
    modes = sorted(set(rng.choice(["srcip", "dstip", "srcport", "dstport"])
                       for _ in range(rng.randrange(0, 3))),
                   key=["srcip", "srcport", "dstip", "dstport"].index)
    parts = ["-m hashlimit"]
    if rng.random() < 0.4:
        parts.append("--hashlimit-upto 10000/sec --hashlimit-burst 10000")
    else:
        parts.append("--hashlimit-%s 1/hour --hashlimit-burst %d" % (
            rng.choice(["upto", "above"]), rng.randrange(1, 30)))
    if modes:
        parts.append("--hashlimit-mode " + ",".join(modes))
        if "srcip" in modes and rng.random() < 0.3:
            parts.append("--hashlimit-srcmask %d" % rng.choice([8, 16, 24, 28]))
        if "dstip" in modes and rng.random() < 0.3:
            parts.append("--hashlimit-dstmask %d" % rng.choice([8, 16, 24, 28]))
    parts.append("--hashlimit-name h%d --hashlimit-htable-expire 3600000" % rng.randrange(1, 4))
    return " ".join(parts)


def m_recent(rng, P, ctx):
    name = rng.choice(["r1", "r2", "DEFAULT"])
    act = rng.choice(["--set", "--set", "--rcheck", "--rcheck", "--update", "--remove"])
    parts = ["-m recent --name %s" % name, rng.choice(["--rsource", "--rdest", ""])]
    if act in ("--rcheck", "--update"):
        parts.append("%s%s" % (neg(rng, 0.15), act))
        if rng.random() < 0.3:
            parts.append("--seconds 3600")
        if rng.random() < 0.5:
            parts.append("--hitcount %d" % rng.randrange(1, 6))
        if rng.random() < 0.15:
            parts.append("--rttl")
    else:
        parts.append(act)
    if rng.random() < 0.15:
        parts.append("--mask 255.255.255.0")
    return " ".join(p for p in parts if p)


SCTP_CHUNKS = [(0, "DATA"), (1, "INIT"), (2, "INIT_ACK"), (3, "SACK"), (4, "HEARTBEAT"),
               (6, "ABORT"), (7, "SHUTDOWN"), (10, "COOKIE_ECHO"), (11, "COOKIE_ACK"),
               (14, "SHUTDOWN_COMPLETE"), (64, "I_DATA"), (192, "FORWARD_TSN"),
               (193, "ASCONF"), (132, "PAD")]
SCTP_FLAG_LETTERS = {"DATA": "IUBE", "I_DATA": "IUBE", "ABORT": "T", "SHUTDOWN_COMPLETE": "T"}


def m_sctp(rng, P, ctx):
    opts = []
    if rng.random() < 0.4:
        opts.append("%s--sport %s" % (neg(rng), port_spec(rng, P)))
    if rng.random() < 0.4:
        opts.append("%s--dport %s" % (neg(rng), port_spec(rng, P)))
    if rng.random() < 0.6 or not opts:
        names = []
        for _ in range(rng.randrange(1, 4)):
            n = rng.choice(SCTP_CHUNKS)[1]
            letters = SCTP_FLAG_LETTERS.get(n)
            if letters and rng.random() < 0.4:
                n += ":" + "".join(c if rng.random() < 0.5 else c.lower()
                                   for c in rng.sample(letters, rng.randrange(1, len(letters) + 1)))
            names.append(n)
        opts.append("%s--chunk-types %s %s" % (neg(rng, 0.15), rng.choice(["any", "all", "only"]),
                                              ",".join(names)))
    return "-m sctp " + " ".join(opts)


def sctp_chunks(rng):
    out = b""
    for _ in range(rng.randrange(1, 4)):
        t = rng.choice(SCTP_CHUNKS)[0] if rng.random() < 0.9 else rng.randrange(256)
        flags = rng.randrange(256) if rng.random() < 0.5 else 0
        val = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 4, 12, 16])))
        ln = 4 + len(val)
        if rng.random() < 0.03 * EDGE:
            ln = rng.choice([0, 2, 3, 500])  # broken chunk length
        out += struct.pack("!BBH", t, flags, ln) + val + bytes((-len(val)) % 4)
    return out


def m_mark(rng, P, ctx):
    v = rng.choice(P.marks)
    if rng.random() < 0.5:
        return "-m mark %s--mark 0x%x" % (neg(rng), v)
    m = rng.choice([0xff, 0x1, 0x3, 0xf0, 0xffff0000, 0xffffffff])
    return "-m mark %s--mark 0x%x/0x%x" % (neg(rng), v & m, m)


MATCHES = {
    "tcp": m_tcp, "udp": m_udp, "icmp": m_icmp, "multiport": m_multiport,
    "iprange": m_iprange, "length": m_length, "ttl": m_ttl, "tos": m_tos, "dscp": m_dscp,
    "tcpmss": m_tcpmss, "u32": m_u32, "string": m_string, "mac": m_mac, "pkttype": m_pkttype,
    "addrtype": m_addrtype, "statistic": m_statistic, "comment": m_comment, "limit": m_limit,
    "recent": m_recent, "mark": m_mark, "sctp": m_sctp, "hashlimit": m_hashlimit,
}
PROTO_OF = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "tcpmss": "tcp", "sctp": "sctp"}
EXT_WEIGHT = {"tcp": 4, "udp": 3, "icmp": 2, "mark": 4, "u32": 2, "string": 2, "recent": 2}


def prefix(rng, pool):
    a = a2i(rng.choice(pool))
    plen = rng.choice([8, 15, 16, 20, 22, 24, 24, 26, 28, 30, 32, 32, 32, 32])
    return "%s/%d" % (i2a(a & (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF), plen)


def core_fields(rng, P, ctx, proto):
    parts = []
    r = rng.random()
    if r < 0.35:
        parts.append("%s-s %s" % (neg(rng, 0.15), prefix(rng, P.src)))
    if rng.random() < 0.3:
        pool = P.dst if rng.random() < 0.9 else LOCAL_ADDRS
        parts.append("%s-d %s" % (neg(rng, 0.15), prefix(rng, pool)))
    if proto:
        parts.append("-p %s" % proto)
    elif rng.random() < 0.25:
        p = rng.choice(["tcp", "udp", "icmp", "47", "132", "50", "all", "6"])
        if p == "all":
            parts.append("-p all")
        else:
            parts.append("%s-p %s" % (neg(rng, 0.2), p))
    h, builtin = ctx["hooks"], ctx["builtin"]
    if rng.random() < 0.15 and not (builtin and h & {"OUTPUT", "POSTROUTING"}):
        parts.append("%s-i %s" % (neg(rng, 0.25), rng.choice(["in0", "in0", "in+", "out0", "i+"])))
    if rng.random() < 0.12 and not (builtin and h & {"PREROUTING", "INPUT"}):
        parts.append("%s-o %s" % (neg(rng, 0.25), rng.choice(["out0", "out0", "out+", "in0"])))
    if rng.random() < 0.06:
        parts.append("%s-f" % neg(rng, 0.4))
    return parts


def gen_rule(rng, P, ctx, target, allowed):
    """One rule: core fields, matches, then the target text (already chosen)."""
    exts = []
    nm = rng.choice([0, 1, 1, 1, 2, 2, 3])
    cand = [e for e in allowed if e in MATCHES]
    weights = [EXT_WEIGHT.get(e, 1) for e in cand]
    proto = None
    for _ in range(nm):
        if not cand:
            break
        e = rng.choices(cand, weights)[0]
        need = PROTO_OF.get(e)
        if e == "multiport":
            need = proto or rng.choice(["tcp", "udp"])
            if need not in ("tcp", "udp"):
                continue
        if need:
            if proto and proto != need:
                continue
            proto = need
        exts.append(e)
    tparts = target
    if target.startswith("-j TCPMSS"):
        if proto not in (None, "tcp"):
            return None
        proto = "tcp"
        exts = [e for e in exts if e != "tcp"]
    if target.startswith("-j REJECT --reject-with tcp-reset"):
        if proto not in (None, "tcp"):
            return None
        proto = "tcp"
    parts = core_fields(rng, P, ctx, proto)
    terminal = target.split(" ")[:2] in (["-j", "ACCEPT"], ["-j", "DROP"], ["-j", "RETURN"]) or \
        target.startswith("-g ") or target.startswith("-j REJECT")
    if terminal and not exts and not parts and rng.random() < 0.9:
        return None  # an unconditional verdict hides the rest of the chain: rarely
    if target.startswith("-j TCPMSS"):
        parts.append("-m tcp --tcp-flags SYN,RST SYN" if rng.random() < 0.5 else "-m tcp --syn")
    for e in exts:
        m = MATCHES[e](rng, P, ctx)
        if m:
            parts.append(m)
    parts.append(tparts)
    return " ".join(p for p in parts if p)


def choose_target(rng, P, table, ctx, later_chains, allowed_t):
    """Target text for a rule in a chain: verdicts, jumps to later user chains (a DAG),
    non-terminal MARK and mangling targets."""
    opts = [("ACCEPT", 8), ("DROP", 3), ("RETURN", 5), ("MARK", 14), ("none", 9), ("LOG", 2)]
    if later_chains:
        opts += [("jump", 12), ("goto", 5)]
    if table == "mangle":
        opts += [("TTL", 3), ("DSCP", 3)]
        if "tcp" in allowed_t["matches"]:
            opts += [("TCPMSS", 2)]
    if table == "filter":
        opts += [("REJECT", 1)]
    opts = [(k, w) for k, w in opts if k in allowed_t["targets"]]
    if not opts:
        return "", None
    kind = rng.choices([k for k, _ in opts], [w for _, w in opts])[0]
    if kind in ("ACCEPT", "DROP", "RETURN"):
        return "-j " + kind, None
    if kind == "none":
        return "", None
    if kind in ("jump", "goto"):
        c = rng.choice(later_chains)
        return ("-j " if kind == "jump" else "-g ") + c, c
    if kind == "MARK":
        v, m = rng.choice(P.marks), rng.choice([0xffffffff, 0xff, 0x1, 0xf, 0xffff])
        return rng.choice([
            "-j MARK --set-xmark 0x%x/0x%x" % (v, m),
            "-j MARK --set-mark 0x%x" % v,
            "-j MARK --set-mark 0x%x/0x%x" % (v, m),
            "-j MARK --and-mark 0x%x" % m,
            "-j MARK --or-mark 0x%x" % v,
            "-j MARK --xor-mark 0x%x" % v,
        ]), None
    if kind == "LOG":
        return "-j LOG --log-prefix %s" % q("r%d: " % ctx["n"]), None
    if kind == "TTL":
        return rng.choice(["-j TTL --ttl-set %d" % rng.choice(P.ttls),
                           "-j TTL --ttl-dec %d" % rng.randrange(1, 4),
                           "-j TTL --ttl-inc %d" % rng.randrange(1, 4)]), None
    if kind == "DSCP":
        if rng.random() < 0.3:
            return "-j DSCP --set-dscp-class %s" % rng.choice(DSCP_CLASSES), None
        return "-j DSCP --set-dscp 0x%02x" % rng.randrange(64), None
    if kind == "TCPMSS":
        if ctx["hooks"] and ctx["hooks"] <= {"FORWARD", "OUTPUT", "POSTROUTING"} and \
                rng.random() < 0.5:
            return "-j TCPMSS --clamp-mss-to-pmtu", None
        return "-j TCPMSS --set-mss %d" % rng.choice([88, 536, 1000, 1300, 1460]), None
    if kind == "REJECT":
        return "-j REJECT --reject-with %s" % rng.choice(
            ["icmp-port-unreachable", "icmp-host-prohibited", "icmp-net-unreachable",
             "tcp-reset"]), None
    raise AssertionError(kind)


def gen_rules(rng, P, nrules, allowed):
    out = []
    w = [rng.uniform(0.5, 1.5) for _ in TABLES]
    shares = [int(nrules * x / sum(w)) for x in w]
    shares[-1] = nrules - sum(shares[:-1])
    for (table, builtins), share in zip(TABLES.items(), shares):
        nuser = rng.randrange(0, 5)
        users = ["u%s%d" % (table[0], i + 1) for i in range(nuser)]
        if rng.random() < 0.2 and users:
            users[0] = "chain-with.odd_name%d" % rng.randrange(10)
        chains = builtins + users
        # rules per chain
        cw = CHAIN_WEIGHT_OUTPUT if PROFILE == "output" else CHAIN_WEIGHT
        weights = [cw[c] for c in builtins] + [2.0] * nuser
        per = {c: 0 for c in chains}
        for _ in range(share):
            per[rng.choices(chains, weights)[0]] += 1
        # targets first (the DAG), then matches (which need the hooks reaching each chain)
        planned = {}
        edges = {c: set() for c in chains}
        for idx, c in enumerate(chains):
            later = users[idx - len(builtins) + 1:] if c in users else users
            planned[c] = []
            for k in range(per[c]):
                ctx = {"n": k + 1, "hooks": set(), "builtin": c in builtins}
                t, dest = choose_target(rng, P, table, ctx, later, allowed)
                planned[c].append(t)
                if dest:
                    edges[c].add(dest)
        hooks = {c: {c} if c in builtins else set() for c in chains}
        for c in chains:  # chains are in topological order
            for d in edges[c]:
                hooks[d] |= hooks[c]
        lines = ["*" + table]
        for c in builtins:
            pdrop = 0.2 if table == "filter" else 0.05
            pol = "DROP" if rng.random() < pdrop and c != "OUTPUT" else "ACCEPT"
            lines.append(":%s %s [0:0]" % (c, pol))
        for c in users:
            lines.append(":%s - [0:0]" % c)
        for c in chains:
            for k, t in enumerate(planned[c]):
                ctx = {"n": k + 1, "hooks": hooks[c], "builtin": c in builtins}
                if t.startswith("-j TCPMSS --clamp") and not (
                        hooks[c] <= {"FORWARD", "OUTPUT", "POSTROUTING"}):
                    t = "-j TCPMSS --set-mss 1000"
                for _ in range(10):
                    r = gen_rule(rng, P, ctx, t, allowed["matches"])
                    if r is not None:
                        break
                else:
                    r = t
                lines.append(("-A %s %s" % (c, r)).rstrip())
        lines.append("COMMIT")
        out.append("\n".join(lines))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------
# packets


def tcp_options(rng, syn):
    opts = b""
    if rng.random() < (0.7 if syn else 0.15):
        opts += struct.pack("!BBH", 2, 4, rng.choice([536, 1000, 1360, 1400, 1460, 8960, 100]))
    if rng.random() < 0.2:
        opts += b"\x01\x03\x03" + bytes([rng.randrange(15)])
    if rng.random() < 0.2:
        opts += b"\x04\x02"
    if rng.random() < 0.15:
        opts += b"\x01\x01\x08\x0a" + bytes(rng.randrange(256) for _ in range(8))
    if rng.random() < 0.05:
        opts += bytes([30, 4, 0, 0])
    if rng.random() < 0.04 * EDGE:  # malformed: a length of 0 or 1, or past the header
        opts += bytes([rng.choice([2, 3, 30]), rng.choice([0, 1, 40])])
    if rng.random() < 0.05:
        opts += b"\x00"
    while len(opts) % 4:
        opts += b"\x00" if rng.random() < 0.5 else b"\x01"
    return opts[:40]


def payload_bytes(rng, P, n):
    b = bytearray(rng.randrange(256) for _ in range(n))
    if n and rng.random() < 0.35:
        w = rng.choice(P.words)
        if rng.random() < 0.3:
            w = w.lower() if rng.random() < 0.5 else w.upper()
        w = w.encode("latin-1")
        if len(w) <= n:
            off = 0 if rng.random() < 0.4 else rng.randrange(n - len(w) + 1)
            b[off:off + len(w)] = w
    return bytes(b)


def pick_len(rng):
    r = rng.random()
    if r < 0.3:
        return 0
    if r < 0.6:
        return rng.randrange(1, 65)
    if r < 0.85:
        return rng.randrange(64, 513)
    return rng.randrange(512, 1473)


IP_OPTIONS = [
    b"\x01\x01\x01\x01",  # NOP
    b"\x94\x04\x00\x00",  # router alert
    b"\x88\x04\x12\x34",  # stream id
    b"\x1e\x04\xaa\xbb",  # unknown option
    b"\x00\x00\x00\x00",  # end of list
    b"\x01\x94\x04\x00\x00\x00\x00\x00",
]
IP_OPTIONS_BAD = [
    b"\x1e\x01\x00\x00",  # length 1
    b"\x1e\x09\x00\x00",  # runs past the header
    b"\x83\x07\x04\xc6\x13\x01\x01\x00",  # loose source route: refused
    b"\x89\x07\x04\xc6\x13\x01\x01\x00",  # strict source route: refused
]


def ip_header(tos, tot, ident, frag, ttl, proto, src, dst, opts=b""):
    ihl = 5 + len(opts) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, tot, ident, frag, ttl, proto, 0,
                      bytes(int(x) for x in src.split(".")),
                      bytes(int(x) for x in dst.split("."))) + opts
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]


def fragment_series(rng, P, eth, tos, ident, ttl, proto, src, dst, body):
    """A datagram cut into 2 to 4 fragments, sent in order or not, sometimes with one lost,
    duplicated or overlapping (the kernel then discards the datagram), or with ECN bits that
    differ between fragments.

    Never cut through a word of P.words (any case): the kernel's reassembled packet is not
    linear (a block per fragment, but for fragments copied into the first one's spare room,
    which depends on the allocator's rounding), and string --algo bm searches each block on
    its own (lib/ts_bm.c), so it misses a word split between fragments: a kernel quirk
    pktfilt does not model."""
    body = body[:1380 if PROFILE == "output" else 1480]  # every fragment fits the MTU
    cuts = sorted(set(rng.randrange(1, (len(body) + 7) // 8) * 8
                      for _ in range(rng.randrange(1, 4))))
    low = body.lower()
    inside = set()
    for w in P.words:
        w = w.lower().encode("latin-1")
        k = low.find(w)
        while k >= 0:
            inside.update(range(k + 1, k + len(w)))
            k = low.find(w, k + 1)
    cuts = [c for c in cuts if c < len(body) and c not in inside]
    bounds = [0] + cuts + [len(body)]
    frags = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    r = rng.random()
    if r < 0.25:
        rng.shuffle(frags)
    elif r < 0.35 and len(frags) > 1:
        frags.pop(rng.randrange(len(frags)))  # one lost: never complete
    elif r < 0.45:
        frags.insert(rng.randrange(len(frags)), rng.choice(frags))  # a duplicate
    elif r < 0.52:
        a, b = rng.choice(frags)  # an overlap: a fragment shifted by 8 bytes
        if a >= 8:
            frags.insert(rng.randrange(len(frags)), (a - 8, min(b, len(body)) - 8 or 8))
    elif r < 0.57:
        a, b = rng.choice(frags)  # a fragment covering two runs
        frags.append((a, len(body)))
    tos_of = {}
    if rng.random() < 0.1:
        for a, _ in frags:
            tos_of[a] = (tos & ~3) | rng.randrange(4)
    df = 0x4000 if rng.random() < 0.15 else 0
    out = []
    for a, b in frags:
        more = 0x2000 if b < len(body) else 0
        if more and rng.random() < 0.05:
            b = min(len(body), b + rng.randrange(1, 8))  # MF with a length not a multiple of 8
        piece = body[a:b]
        hdr = ip_header(tos_of.get(a, tos), 20 + len(piece), ident, (a // 8) | more | df, ttl,
                        proto, src, dst)
        out.append(eth + hdr + piece)
    return out


PROFILE = "mixed"  # --profile
EDGE = 1.0  # how much more often than usual packets are malformed (--profile edge: 6)


def gen_packet(rng, P):
    """One Ethernet frame, or a few (the fragments of a datagram)."""
    frag_only = PROFILE == "fragments"
    # --profile output: packets the router itself sends through a raw socket (IP_HDRINCL),
    # so nothing that socket refuses or rewrites: no bad header, no id 0, no more than
    # out0's MTU, unicast destinations behind out0 only.
    out_only = PROFILE == "output"
    # link layer
    r = 0 if frag_only or out_only else rng.random()
    if r < 0.92:
        dmac = IN_MAC
    elif r < 0.95:
        dmac = "ff:ff:ff:ff:ff:ff"
    elif r < 0.97:
        dmac = rng.choice(["01:00:5e:00:00:fb", "33:33:00:00:00:01"])
    else:
        dmac = "02:00:00:00:00:99"  # another host's: dropped before PREROUTING
    smac = rng.choice(P.smacs)
    eth = macb(dmac) + macb(smac)
    if rng.random() < 0.01 and not frag_only and not out_only:
        return [eth + rng.choice([b"\x88\xb5", b"\x86\xdd"]) + bytes(rng.randrange(256)
                                                                     for _ in range(46))]
    eth += b"\x08\x00"

    # addresses
    r = rng.random()
    src = rng.choice(P.src) if r < 0.8 else i2a(a2i("198.18.1.0") + rng.randrange(0xfeff))
    r = rng.random()
    if r < 0.85:
        dst = rng.choice(P.dst)
    elif r < 0.945:
        dst = i2a(a2i("198.19.1.0") + rng.randrange(0xfeff))
    elif r < 0.965:
        dst = rng.choice(LOCAL_ADDRS)
    elif r < 0.972:
        dst = "255.255.255.255"
    elif r < 0.975:
        dst = rng.choice(["198.18.0.255", "198.19.0.255"])  # subnet broadcasts: local
    elif r < 0.98:
        dst = "224.0.0.1"  # all hosts: the router is a member
    elif r < 0.985:
        dst = rng.choice(["239.1.2.3", "224.0.0.9"])
    elif r < 0.99:
        dst = rng.choice(["127.0.0.1", "0.0.0.0"])
    else:
        dst = rng.choice(P.dst)
        src = rng.choice(["0.0.0.0", "127.0.0.1", "224.0.0.9", "255.255.255.255"])
    if rng.random() < 0.003:
        src, dst = "0.0.0.0", "255.255.255.255"
    if frag_only:
        dst = rng.choice(LOCAL_ADDRS) if rng.random() < 0.5 else rng.choice(P.dst)
    if out_only:
        dst = rng.choice(P.dst) if rng.random() < 0.9 else i2a(a2i("198.19.1.0") +
                                                               rng.randrange(0xfeff))
        if src in ("0.0.0.0", "255.255.255.255", "224.0.0.9", "127.0.0.1"):
            # The kernel rewrites 0.0.0.0 and refuses 127.0.0.1 (EINVAL). Never a source of
            # the router's either: REJECT's answer would come back through lo.
            src = rng.choice(P.src)

    # protocol
    r = rng.random()
    if r < 0.45:
        proto = 6
    elif r < 0.72:
        proto = 17
    elif r < 0.85:
        proto = 1
    elif r < 0.92:
        proto = 132
    else:
        proto = rng.choice([47, 50, 0, 89, 253])
    local = dst in LOCAL_ADDRS or dst in ("255.255.255.255", "224.0.0.1", "198.18.0.255",
                                          "198.19.0.255")

    # IP fields
    r = rng.random()
    ttl = 64 if r < 0.6 else rng.choice(P.ttls)
    tos = 0 if rng.random() < 0.6 else rng.choice(P.tos)
    ident = rng.randrange(1 if out_only else 0, 65536)
    plen = pick_len(rng)
    if frag_only:
        plen = max(plen, rng.randrange(16, 600))
    df = rng.random() < 0.3

    # transport
    l4 = b""
    if proto == 6:
        sport, dport = rng.choice(P.ports), rng.choice(P.ports)
        flags = rng.choice([0x02, 0x02, 0x12, 0x10, 0x10, 0x18, 0x11, 0x04, 0x14, 0x03, 0x00,
                            0x3f, 0x29, rng.randrange(256)])
        opts = tcp_options(rng, flags & 0x02)
        doff = 5 + len(opts) // 4
        if rng.random() < 0.03 * EDGE:
            doff = rng.choice([0, 4, 15])  # lying data offset
        l4 = struct.pack("!HHIIBBHHH", sport, dport, rng.randrange(1 << 32),
                         rng.randrange(1 << 32), doff << 4, flags, 65535, rng.randrange(65536),
                         0) + opts
    elif proto == 17:
        sport, dport = rng.choice(P.ports), rng.choice(P.ports)
        l4 = struct.pack("!HHHH", sport, dport, 8 + plen, rng.randrange(65536))
    elif proto == 1:
        if local:
            t, c = 8, 0  # an echo request: the reply has no route back
        else:
            t, c = rng.choice([(8, 0), (0, 0), (3, 0), (3, 1), (3, 3), (3, 4), (11, 0),
                               (11, 1), (5, 1), (12, 0), (13, 0), (42, 0),
                               (rng.randrange(256), rng.randrange(256))])
        l4 = struct.pack("!BBHHH", t, c, 0, rng.randrange(65536), rng.randrange(65536))
    elif proto == 132:
        l4 = struct.pack("!HHII", rng.choice(P.ports), rng.choice(P.ports), 0, 0) + \
            sctp_chunks(rng)
        plen = 0 if rng.random() < 0.8 else plen
    body = l4 + payload_bytes(rng, P, plen)

    # fragments
    frag = 0x4000 if df else 0
    r = rng.random() / EDGE
    if r < 0.02:  # first fragment
        frag = 0x2000
        n = max(len(body) // 8 * 8, (len(l4) + 7) // 8 * 8, 8)
        body = (body + bytes(8))[:n]
    elif r < 0.035:  # middle or last fragment
        frag = rng.randrange(1, 180) | (0x2000 if rng.random() < 0.6 else 0)
        body = payload_bytes(rng, P, rng.choice([8, 16, 64, 200, 1000]))
    elif r < 0.045 and l4:  # first fragment too short for its transport header
        frag = 0x2000
        body = body[: rng.randrange(0, len(l4))]
    elif r < 0.05 and proto == 6:  # the "evil" TCP fragment at offset 8 bytes
        frag = 1 | (0x2000 if rng.random() < 0.5 else 0)
        body = payload_bytes(rng, P, 16)
    elif r < 0.055 and l4:  # not a fragment, but shorter than its transport header
        body = body[: rng.randrange(0, len(l4))]
    if (frag_only or rng.random() < 0.035) and len(body) >= 16:
        return fragment_series(rng, P, eth, tos, ident, ttl, proto, src, dst, body)

    # IP options
    opts = b""
    if rng.random() < 0.03 * EDGE:
        opts = rng.choice(IP_OPTIONS)
        if rng.random() < 0.3 and not out_only:
            opts = rng.choice(IP_OPTIONS_BAD)
    ihl = 5 + len(opts) // 4
    tot = ihl * 4 + len(body)
    mtu = OUT_MTU if out_only else 1500
    if tot > mtu:
        body = body[: mtu - ihl * 4]
        tot = mtu
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, tot, ident, frag, ttl, proto, 0,
                      bytes(int(x) for x in src.split(".")),
                      bytes(int(x) for x in dst.split("."))) + opts
    # header damage
    r = 1 if out_only else rng.random()
    bad_csum = False
    if r < 0.015:
        bad_csum = True
    elif r < 0.02:
        hdr = struct.pack("!B", 0x40 | rng.randrange(5)) + hdr[1:]  # ihl < 5
    elif r < 0.025:
        hdr = hdr[:2] + struct.pack("!H", tot + rng.randrange(1, 100)) + hdr[4:]  # too long
    elif r < 0.028:
        hdr = hdr[:2] + struct.pack("!H", rng.randrange(0, 20)) + hdr[4:]  # shorter than ihl
    elif r < 0.03:
        hdr = struct.pack("!B", 0x60 | ihl) + hdr[1:]  # version 6
    c = csum(hdr)
    if bad_csum:
        c ^= 1 << rng.randrange(16)
    hdr = hdr[:10] + struct.pack("!H", c) + hdr[12:]
    frame = eth + hdr + body
    if rng.random() < 0.05 and not out_only:
        frame += bytes(rng.randrange(1, 20))  # trailing bytes beyond tot_len
    return [frame[:1514]]  # the sender's MTU


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--rules")
    ap.add_argument("--pcap")
    ap.add_argument("--packets", type=int, default=2000)
    ap.add_argument("--profile", choices=["mixed", "fragments", "edge", "output"],
                    default="mixed",
                    help="fragments: every datagram cut into fragments, half of them to the "
                    "router itself (reassembly before INPUT); edge: six times more truncated "
                    "transport headers, odd fragments, broken TCP/SCTP/IP options; output: packets the "
                    "router sends itself, rules mostly in OUTPUT and POSTROUTING")
    ap.add_argument("--min-rules", type=int, default=10)
    ap.add_argument("--max-rules", type=int, default=200)
    ap.add_argument("--matches", default=",".join(EXTENSIONS),
                    help="extensions to use, comma-separated (empty: core fields only)")
    ap.add_argument("--targets", default=",".join(TARGETS),
                    help="targets to use, comma-separated (jump, goto and none included)")
    a = ap.parse_args()
    matches = [m for m in a.matches.split(",") if m]
    for m in matches:
        if m not in MATCHES:
            ap.error("unknown match `%s' (known: %s)" % (m, ",".join(EXTENSIONS)))
    targets = [t for t in a.targets.split(",") if t]
    for t in targets:
        if t not in TARGETS:
            ap.error("unknown target `%s' (known: %s)" % (t, ",".join(TARGETS)))
    global PROFILE, EDGE
    PROFILE = a.profile
    EDGE = 6.0 if a.profile == "edge" else 1.0
    rng = random.Random(a.seed)
    P = Pools(rng)
    rules_seed, pcap_seed = rng.getrandbits(64), rng.getrandbits(64)
    if a.rules:
        rrng = random.Random(rules_seed)
        n = rrng.randrange(a.min_rules, a.max_rules + 1)
        text = gen_rules(rrng, P, n,
                         {"matches": matches, "targets": targets})
        with open(a.rules, "w") as f:
            f.write("# gen.py --seed %d --matches %s --targets %s\n" % (a.seed, a.matches,
                                                                       a.targets))
            f.write(text)
    if a.pcap:
        prng = random.Random(pcap_seed)
        frames = []
        while len(frames) < a.packets:
            frames += gen_packet(prng, P)
        write_pcap(a.pcap, frames[:a.packets])


if __name__ == "__main__":
    main()

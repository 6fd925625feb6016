#!/usr/bin/env bash
# replay_bench.sh - packets per second of pktfilt-replay: ClassBench's acl1_10k filter set
# (../shared/bench/rulesets/acl1_10k.rules, 9,816 rules in one user chain) judging 1,000,000
# packets made from its header trace (acl1_10k.trace, "src dst sport dport proto" lines,
# cycled), with the linear matcher, in a Release build of our own (build-rel).
# Prints the CPU time (user+sys) of the run, less that of the same run over one packet (loading
# the rules, opening the capture, printing the counters), and packets/s from it.
# Usage: bench/replay_bench.sh [packets] [matcher]   (defaults 1000000 linear)
#   PKTFILT_BUILD=dir picks the build (default build-rel: configured when missing, and
#   pktfilt-replay brought up to date).
set -euo pipefail
cd "$(dirname "$0")/.."
npackets=${1:-1000000}
matcher=${2:-linear}
sets=../shared/bench/rulesets
[ -f "$sets/acl1_10k.rules" ] && [ -f "$sets/acl1_10k.trace" ] ||
    { echo "SKIP: replay_bench: $sets/acl1_10k.{rules,trace} missing (no ../shared)"; exit 0; }
command -v python3 >/dev/null || { echo "SKIP: replay_bench: python3 missing"; exit 0; }
build=${PKTFILT_BUILD:-build-rel}
[ -f "$build/CMakeCache.txt" ] ||
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPKTFILT_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target pktfilt-replay >/dev/null
replay=$build/tools/pktfilt-replay
mkdir -p "$build/bench"
pcap=$build/bench/acl1_10k_$npackets.pcap
one=$build/bench/acl1_10k_1.pcap

# The capture: Ethernet, IPv4 (TTL 64, valid checksum), then a TCP header (SYN) for protocol 6,
# a UDP header for 17, 8 zero bytes for any other protocol. Made once, kept in the build dir.
if [ ! -s "$pcap" ] || [ "$sets/acl1_10k.trace" -nt "$pcap" ]; then
    python3 - "$sets/acl1_10k.trace" "$pcap" "$npackets" "$one" <<'PY'
import struct, sys
trace, out, n, one = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def csum(b):
    s = sum(struct.unpack("!10H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF
eth = bytes.fromhex("020000000002" "020000000001" "0800")
frames = []
with open(trace) as f:
    for line in f:
        p = line.split()
        if len(p) < 5:
            continue
        src, dst = (bytes(int(x) for x in a.split(".")) for a in p[:2])
        sport, dport, proto = int(p[2]), int(p[3]), int(p[4])
        if proto == 6:
            l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 65535, 0, 0)
        elif proto == 17:
            l4 = struct.pack("!HHHH", sport, dport, 8, 0)
        else:
            l4 = bytes(8)
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0, src, dst)
        hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
        frames.append(eth + hdr + l4)
def write(path, count):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        recs = [struct.pack("<II", len(fr), len(fr)) + fr for fr in frames]
        for i in range(count):
            f.write(struct.pack("<II", 1000 + i // 1000000, i % 1000000))
            f.write(recs[i % len(recs)])
write(out, n)
write(one, 1)
PY
fi

cpu() { # seconds of user+sys CPU of one run over the capture $1
    local TIMEFORMAT='%U %S'
    { time "$replay" --matcher "$matcher" --rules "$sets/acl1_10k.rules" --pcap "$1" \
        >/dev/null 2>"$build/bench/replay.err"; } 2>&1 | awk '{print $1 + $2}'
}
base=$(cpu "$one")
total=$(cpu "$pcap")
tail -1 "$build/bench/replay.err"
awk -v t="$total" -v b="$base" -v n="$npackets" -v m="$matcher" 'BEGIN {
    c = t - b; if (c <= 0) c = 0.001
    printf "replay_bench: acl1_10k, %d packets, %s matcher: %.2f s CPU (%.2f s with loading), %.0f packets/s\n", n, m, c, t, n / c
}'

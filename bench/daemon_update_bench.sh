#!/usr/bin/env bash
# daemon_update_bench.sh - one-rule changes on a live 100k-rule set, side by side:
# `iptables-legacy -A/-D` on the rules loaded in the kernel (iptables-legacy-restore, namespace
# pf-upd-ipt) against `pktfilt -A/-D` on pktfiltd holding the same rules (namespace pf-upd-pfd,
# two queues). Commands alternate (kernel, daemon, kernel, ...) so that both see the same
# machine; the median wall time of each is reported, and the ratio. Target (issue 5): pktfilt
# takes at most a fiftieth of iptables-legacy.
# Rules: ../shared/bench/rulesets/acl1_100k.rules when present, else 100k generated ones.
# Needs root. Usage: bench/daemon_update_bench.sh [runs]   (PKTFILT_BUILD=dir, default build-rel)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-21}
build=${PKTFILT_BUILD:-build-rel}
if [ ! -x "$build/daemon/pktfiltd" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPKTFILT_TESTS=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)" >/dev/null
fi
build=$(cd "$build" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: daemon_update_bench needs root"; exit 0; }
for c in iptables-legacy iptables-legacy-restore python3; do
    command -v $c >/dev/null || { echo "SKIP: $c missing"; exit 0; }
done
K=pf-upd-ipt P=pf-upd-pfd
tmp=$(mktemp -d)
dpid=
cleanup() {
    [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
    for ns in $K $P; do ip netns del $ns 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
for ns in $K $P; do ip netns del $ns 2>/dev/null || true; ip netns add $ns; done

rules=../shared/bench/rulesets/acl1_100k.rules
chain=CB
if [ ! -f "$rules" ]; then
    rules=$tmp/gen100k.rules
    chain=GEN
    python3 - "$rules" <<'PY'
import random, sys
random.seed(11)
with open(sys.argv[1], "w") as f:
    f.write("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:GEN - [0:0]\n")
    f.write("-A FORWARD -j GEN\n")
    for i in range(100000):
        a = random.getrandbits(32)
        f.write("-A GEN -s %d.%d.%d.%d/32 -d 198.%d.%d.%d/32 -p tcp -m tcp --dport %d -j %s\n" %
                (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, 18 + (i >> 16),
                 (i >> 8) & 255, i & 255, 1 + i % 65535, ("ACCEPT", "DROP")[i % 2]))
    f.write("COMMIT\n")
PY
fi
nrules=$(grep -c '^-A' "$rules")

echo "loading $nrules rules ($rules) into the kernel and into pktfiltd..."
ip netns exec $K iptables-legacy-restore <"$rules"
cp "$rules" "$tmp/rules.v4"
sock=$tmp/pktfiltd.sock
ip netns exec $P "$build/daemon/pktfiltd" --queues 0-1 --rules "$tmp/rules.v4" --socket "$sock" \
    >"$tmp/daemon.log" 2>&1 &
dpid=$!
export PKTFILT_SOCKET=$sock
unset PKTFILT_STATE
for _ in $(seq 600); do
    "$build/tools/pktfilt" --stats >/dev/null 2>&1 && break
    kill -0 "$dpid" 2>/dev/null || { echo "pktfiltd died:"; cat "$tmp/daemon.log"; exit 1; }
    sleep 0.1
done
have=$("$build/tools/pktfilt" -S $chain | grep -c '^-A' || true)
echo "pktfiltd holds $have rules in $chain"
sleep 1.5 # let the daemon's start settle (its rules file is written once)

# The timing loop runs in the kernel's namespace; pktfilt reaches the daemon by its socket.
ip netns exec $K python3 - "$runs" "$build/tools/pktfilt" "$chain" <<'PY'
import statistics, subprocess, sys, time
runs, pf, chain = int(sys.argv[1]), sys.argv[2], sys.argv[3]
spec = ["-s", "198.18.7.7/32", "-p", "tcp", "-m", "tcp", "--dport", "9", "-j", "ACCEPT"]
cases = [("-A (append)", ["-A", chain] + spec), ("-D (by rule)", ["-D", chain] + spec),
         ("-I 1 (insert first)", ["-I", chain, "1"] + spec), ("-D 1 (by number)", ["-D", chain, "1"])]
prog = {"iptables-legacy": ["iptables-legacy"], "pktfilt": [pf]}
t = {(c, p): [] for c, _ in cases for p in prog}
def run(cmd):
    a = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    b = time.perf_counter()
    if r.returncode:
        sys.exit("failed: %s: %s" % (" ".join(cmd), r.stderr.decode()))
    return b - a
for i in range(runs):
    for name, args in cases:
        for p in ("iptables-legacy", "pktfilt") if i % 2 == 0 else ("pktfilt", "iptables-legacy"):
            t[(name, p)].append(run(prog[p] + args))
print("%-22s %16s %12s %8s" % ("median of %d" % runs, "iptables-legacy", "pktfilt", "ratio"))
worst = 0.0
for name, _ in cases:
    k = statistics.median(t[(name, "iptables-legacy")])
    d = statistics.median(t[(name, "pktfilt")])
    ratio = k / d
    print("%-22s %13.1f ms %9.2f ms %7.0fx" % (name, k * 1e3, d * 1e3, ratio))
    if name.startswith("-A") or name.startswith("-D (by rule)"):
        worst = ratio if not worst else min(worst, ratio)
print("pktfilt -A/-D: %.0fx faster than iptables-legacy (target: 50x) -> %s" %
      (worst, "PASS" if worst >= 50 else "MISS"))
PY
echo "(one pktfilt run includes the CLI's start, the daemon applying the change to both"
echo " queues' engines and the journal's fdatasync)"

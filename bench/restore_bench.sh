#!/usr/bin/env bash
# restore_bench.sh - pktfilt-restore against iptables-legacy-restore on the same files, side by
# side in one run: median wall time, CPU time (user+sys) and peak memory over several runs.
# Files: ../shared/bench/rulesets/acl1_100k.rules (when present) and a 100k-rule file of ours.
# Needs root (iptables-legacy runs in a private network namespace).
# Usage: bench/restore_bench.sh [runs]   (PKTFILT_BUILD=dir to pick the build, default build-rel)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
build=${PKTFILT_BUILD:-build-rel}
if [ ! -x "$build/tools/pktfilt-restore" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPKTFILT_TESTS=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)" >/dev/null
fi
[ "$(id -u)" -eq 0 ] || { echo "SKIP: restore_bench needs root for iptables-legacy"; exit 0; }
command -v iptables-legacy-restore >/dev/null || { echo "SKIP: iptables-legacy-restore missing"; exit 0; }
tmp=$(mktemp -d)
ns=pf-bench-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
ip netns add "$ns"

# Our own 100k file: random /32 sources, distinct destinations, ports, three targets.
python3 - "$tmp/own100k.rules" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    f.write("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:OWN - [0:0]\n")
    f.write("-A FORWARD -j OWN\n")
    for i in range(100000):
        a = random.getrandbits(32)
        src = "%d.%d.%d.%d/32" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255)
        dst = "198.%d.%d.%d/32" % (18 + (i >> 16), (i >> 8) & 255, i & 255)
        tgt = ("ACCEPT", "DROP", "RETURN")[i % 3]
        if i % 2:
            f.write("-A OWN -s %s -d %s -p tcp -m tcp --dport %d -j %s\n" % (src, dst, 1 + i % 65535, tgt))
        else:
            f.write("-A OWN -s %s -d %s -j %s\n" % (src, dst, tgt))
    f.write("COMMIT\n")
PY

files=("$tmp/own100k.rules")
shared=../shared/bench/rulesets/acl1_100k.rules
if [ -f "$shared" ]; then files=("$shared" "${files[@]}"); else echo "note: $shared missing, using our own file only"; fi

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # label, command...
    local label=$1; shift
    : >"$tmp/m"
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %U %S %M" -o "$tmp/t" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; return 1; }
        cat "$tmp/t" >>"$tmp/m"
    done
    wall=$(awk '{print $1}' "$tmp/m" | median)
    cpu=$(awk '{print $2+$3}' "$tmp/m" | median)
    mem=$(awk '{print $4}' "$tmp/m" | median)
    printf '%-28s wall %6.3f s  cpu %6.3f s  peak %7d KB\n' "$label" "$wall" "$cpu" "$mem"
    echo "$wall $cpu $mem" >"$tmp/last"
}

for f in "${files[@]}"; do
    echo "== $(basename "$f") ($(grep -c '^-A' "$f") rules), $runs runs each, medians"
    measure "iptables-legacy-restore" ip netns exec "$ns" iptables-legacy-restore "$f"; read -r iw ic im <"$tmp/last"
    export PKTFILT_STATE=$tmp/state PKTFILT_LOCK=$tmp/lock
    rm -f "$tmp/state"
    measure "pktfilt-restore" "$build/tools/pktfilt-restore" "$f"; read -r pw pc pm <"$tmp/last"
    awk -v pw="$pw" -v iw="$iw" -v pc="$pc" -v ic="$ic" -v pm="$pm" -v im="$im" 'BEGIN {
        printf "ratio pktfilt/iptables: wall %.2f  cpu %.2f  memory %.2f  (targets: time <= 0.50, memory <= 1.00)\n", pw/iw, pc/ic, pm/im }'
    # The saved text must be iptables-legacy's, byte for byte.
    ip netns exec "$ns" iptables-legacy-save | grep -v '^#' >"$tmp/ipt.save"
    "$build/tools/pktfilt-save" | grep -v '^#' >"$tmp/pf.save"
    if cmp -s "$tmp/ipt.save" "$tmp/pf.save"; then echo "save output: identical"; else echo "save output: DIFFERS"; diff "$tmp/ipt.save" "$tmp/pf.save" | head -5; fi
    ip netns exec "$ns" iptables-legacy -F; ip netns exec "$ns" iptables-legacy -X
done

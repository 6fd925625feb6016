#!/usr/bin/env bash
# daemon_bench.sh - packets per second through a firewall namespace (issue 5's bench):
#
#   pf-bch-snd (198.18.81.2, .10-.17) -- pf-bch-fw (198.18.81.1 | 198.18.82.1) -- pf-bch-rcv (198.18.82.2)
#
# A UDP sender (bench/udp_blast: sendmmsg, 18-byte payloads, 8 flows from 8 source addresses)
# sends as fast as it can for BENCH_SECONDS; the receiver's raw table drops the datagrams and
# its interface counts them (rx_packets, sampled after a second of warm-up). Measured:
#   (a) kernel   the kernel forwarding, no rules
#   (b) iptables iptables-legacy, N rules in FORWARD (-s 10.x.y.z/32 -p udp --dport P -j ACCEPT,
#                which the traffic does not match), then one that matches, policy DROP
#   (c) nfq      FORWARD -j NFQUEUE to bench/nfq_accept (accepts everything; recvmmsg batches,
#                one batch verdict per batch, 256-byte copy range: pktfiltd's way)
#   (d) pktfiltd the same kernel rule, pktfiltd judging the same N rules
# for N = 0, 1k, 10k, 100k, in rounds (a b c d, best of BENCH_REPS rounds); then one queue
# against two (--queue-num against --queue-balance A:B, 8 flows) at N = 10k.
# With no fail-open: a packet that finds the queue full is dropped, so what passes is what
# was judged. User-space programs are pinned to the last CPU, the sender to the first, all at
# nice -10 (the machine may be shared: other work then disturbs the measurements less).
#
# Usage: bench/daemon_bench.sh [--no-doc]   (root; ~6 minutes with the defaults)
#   BENCH_NS="0 1000 10000 100000"  BENCH_SECONDS=4  BENCH_REPS=3 (best of)
#   PKTFILT_BUILD=dir (default build-rel; configured and built when missing)
#   BENCH_PFD_OPTS="--batch 256": more pktfiltd options;  BENCH_PERF=1: perf record of the user-space CPU during the first (d) of each N, in
#   $PKTFILT_BUILD/bench/perf.pktfiltd.N.data;  BENCH_VERBOSE=1: pktfilt --stats after each N
# Prints a table; appends it with a plot to docs/performance.md (section daemon-bench) unless
# --no-doc.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
doc=1
[ "${1:-}" = "--no-doc" ] && doc=0
if [ "$(id -u)" -ne 0 ]; then
    echo "daemon_bench: SKIP (needs root: network namespaces and NFQUEUE)"
    exit 0
fi
for c in ip iptables-legacy iptables-legacy-restore python3 taskset; do
    command -v "$c" >/dev/null || { echo "daemon_bench: SKIP ($c missing)"; exit 0; }
done
NS=${BENCH_NS:-0 1000 10000 100000}
SECS=${BENCH_SECONDS:-4}
REPS=${BENCH_REPS:-3}
build=${PKTFILT_BUILD:-build-rel}
if [ ! -x "$build/daemon/pktfiltd" ] || [ ! -x "$build/bench/udp_blast" ] ||
    [ ! -x "$build/bench/nfq_accept" ] || [ -n "${REBUILD:-}" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPKTFILT_TESTS=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)" --target pktfiltd pktfilt_cli udp_blast nfq_accept >/dev/null
fi
build=$(cd "$build" && pwd)
pfd=$build/daemon/pktfiltd
blast=$build/bench/udp_blast
nfq=$build/bench/nfq_accept
ncpu=$(nproc)
last=$((ncpu - 1))

S=pf-bch-snd F=pf-bch-fw R=pf-bch-rcv
tmp=$(mktemp -d)
cleanup() {
    for ns in $S $F $R; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for ns in $S $F $R; do ip netns del "$ns" 2>/dev/null; ip netns add "$ns" || exit 1; done
ip -n $S link add veth0 type veth peer name snd0 netns $F
ip -n $R link add veth0 type veth peer name rcv0 netns $F
ip -n $S addr add 198.18.81.2/24 dev veth0
srcs=198.18.81.2
for i in $(seq 10 16); do
    ip -n $S addr add 198.18.81.$i/24 dev veth0
    srcs=$srcs,198.18.81.$i
done
ip -n $F addr add 198.18.81.1/24 dev snd0
ip -n $F addr add 198.18.82.1/24 dev rcv0
ip -n $R addr add 198.18.82.2/24 dev veth0
for ns in $S $F $R; do ip -n $ns link set lo up; done
ip -n $S link set veth0 up
ip -n $R link set veth0 up
ip -n $F link set snd0 up
ip -n $F link set rcv0 up
ip -n $S route add default via 198.18.81.1
ip -n $R route add default via 198.18.82.1
ip netns exec $F sysctl -qw net.ipv4.ip_forward=1
# the receiver counts (interface rx) and drops: no socket, no ICMP back
ip netns exec $R iptables-legacy -t raw -A PREROUTING -p udp -j DROP
# neighbours resolved before the first measurement
ip netns exec $S ping -c 1 -W 2 198.18.82.2 >/dev/null 2>&1 ||
    ip netns exec $S ping -c 1 -W 2 198.18.82.1 >/dev/null 2>&1

fw() { ip netns exec $F "$@"; }
rx() { ip netns exec $R cat /sys/class/net/veth0/statistics/rx_packets; }
now() { date +%s.%N; }

# One measurement: packets/s received while the sender runs flat out.
measure() {
    ip netns exec $S nice -n -10 taskset -c 0 "$blast" -d 198.18.82.2:5001 -s "$srcs" -t "$SECS" \
        >"$tmp/blast.out" 2>&1 &
    local bp=$!
    sleep 1
    local c1 t1 c2 t2
    c1=$(rx); t1=$(now)
    sleep "$(awk -v s="$SECS" 'BEGIN { print s - 1.5 }')"
    c2=$(rx); t2=$(now)
    wait $bp
    awk -v a="$c1" -v b="$c2" -v s="$t1" -v e="$t2" 'BEGIN { printf "%.0f\n", (b - a) / (e - s) }'
}
max() { [ "$1" -gt "$2" ] && echo "$1" || echo "$2"; }

# The rule set: N rules the traffic does not match, then the one it matches.
make_rules() { # N file
    awk -v n="$1" 'BEGIN {
        print "*filter"
        print ":INPUT ACCEPT [0:0]"; print ":FORWARD DROP [0:0]"; print ":OUTPUT ACCEPT [0:0]"
        for (i = 0; i < n; i++)
            printf "-A FORWARD -s 10.%d.%d.%d/32 -p udp -m udp --dport %d -j ACCEPT\n", \
                int(i / 65536) % 256, int(i / 256) % 256, i % 256, 1024 + i % 50000
        print "-A FORWARD -d 198.18.82.2/32 -p udp -m udp --dport 5001 -j ACCEPT"
        print "COMMIT"
    }' >"$2"
}
# The firewall's kernel FORWARD chain for each mode.
kernel_none() {
    fw iptables-legacy -F FORWARD
    fw iptables-legacy -P FORWARD ACCEPT
}
kernel_rules() { fw iptables-legacy-restore <"$tmp/rules.v4"; }
kernel_queue() { # NFQUEUE spec: "--queue-num Q" or "--queue-balance A:B"
    kernel_none
    fw iptables-legacy -A FORWARD -j NFQUEUE $1
}

# User-space programs in the firewall, pinned, resident while their N lasts: the kernel rule
# chooses which one gets the traffic, so that their measurements interleave.
declare -A pids
start_prog() { # name cpus command...
    local name=$1 cpus=$2; shift 2
    # not through a shell function: $! must be the program (ip netns exec, nice and taskset
    # exec it)
    ip netns exec $F nice -n -10 taskset -c "$cpus" "$@" >"$tmp/$name.log" 2>&1 &
    pids[$name]=$!
}
stop_prog() { # name
    local p=${pids[$1]:-}
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    pids[$1]=
}
queue_bound() { # queue number
    fw awk -v q="$1" '$1 == q { f = 1 } END { exit !f }' /proc/net/netfilter/nfnetlink_queue 2>/dev/null
}
wait_bound() { # name queue...
    local name=$1; shift
    for q in "$@"; do
        for _ in $(seq 1200); do
            queue_bound "$q" && break
            kill -0 "${pids[$name]}" 2>/dev/null || break
            sleep 0.1
        done
        queue_bound "$q" || { echo "daemon_bench: $name did not bind queue $q" >&2;
            cat "$tmp/$name.log" >&2; exit 1; }
    done
}
perf_start() { # tag: profile the user-space CPU during the next measurement
    [ -n "${BENCH_PERF:-}" ] || return 0
    (sleep 1; perf record -q -g -C "$last" -o "$build/bench/perf.$1.data" -- sleep 2) \
        >/dev/null 2>&1 &
}
pfd_stats() { ip netns exec $F env PKTFILT_SOCKET="$tmp/pfd.sock" "$build/tools/pktfilt" --stats; }

res=$tmp/results.tsv
printf 'N\tkernel\tiptables\tnfq\tpktfiltd\n' >"$res"
for n in $NS; do
    make_rules "$n" "$tmp/rules.v4"
    start_prog nfq "$last" "$nfq" -q 1
    start_prog pfd "$last" "$pfd" --queues 0 --rules "$tmp/rules.v4" --socket "$tmp/pfd.sock" \
        --no-fail-open ${BENCH_PFD_OPTS:-}
    wait_bound nfq 1
    wait_bound pfd 0
    a=0 b=0 c=0 d=0
    for r in $(seq "$REPS"); do
        kernel_none
        a=$(max "$a" "$(measure)")
        kernel_rules
        b=$(max "$b" "$(measure)")
        kernel_queue "--queue-num 1"
        c=$(max "$c" "$(measure)")
        kernel_queue "--queue-num 0"
        [ "$r" = 1 ] && perf_start "pktfiltd.$n"
        d=$(max "$d" "$(measure)")
    done
    pfd_stats >"$tmp/stats.$n" 2>&1
    stop_prog pfd
    stop_prog nfq
    kernel_none
    printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$a" "$b" "$c" "$d" >>"$res"
    echo "daemon_bench: N=$n: (a) kernel $a, (b) iptables-legacy $b, (c) NFQUEUE accept-all $c, (d) pktfiltd $d packets/s"
    [ -n "${BENCH_VERBOSE:-}" ] && cat "$tmp/stats.$n"
done

# One queue against two, at N = 10k (or the largest N): pktfiltd serves queues 0-1, nfq_accept
# 2-3; one queue is --queue-num, two are --queue-balance (8 flows: 8 source addresses).
qn=10000
case " $NS " in *" 10000 "*) ;; *) qn=$(echo "$NS" | awk '{ print $NF }') ;; esac
if [ "$ncpu" -ge 2 ]; then two="$last,0"; else two=0; fi
make_rules "$qn" "$tmp/rules.v4"
start_prog nfq "$two" "$nfq" -q 2-3 -c "$two"
start_prog pfd "$two" "$pfd" --queues 0-1 --rules "$tmp/rules.v4" --socket "$tmp/pfd.sock" \
    --no-fail-open --cpus "$two"
wait_bound nfq 2 3
wait_bound pfd 0 1
c1=0 c2=0 d1=0 d2=0
for r in $(seq "$REPS"); do
    kernel_queue "--queue-num 2"
    c1=$(max "$c1" "$(measure)")
    kernel_queue "--queue-balance 2:3"
    c2=$(max "$c2" "$(measure)")
    kernel_queue "--queue-num 0"
    d1=$(max "$d1" "$(measure)")
    p0=$(pfd_stats | awk '$1 == "0" { print $2 }')
    p1=$(pfd_stats | awk '$1 == "1" { print $2 }')
    kernel_queue "--queue-balance 0:1"
    d2=$(max "$d2" "$(measure)")
done
q0=$(($(pfd_stats | awk '$1 == "0" { print $2 }') - p0))
q1=$(($(pfd_stats | awk '$1 == "1" { print $2 }') - p1))
stop_prog pfd
stop_prog nfq
kernel_none
printf 'queues\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$qn" "$c1" "$c2" "$d1" "$d2" "$q0" "$q1" >>"$res"

host="$(uname -r), $ncpu CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))"
mkdir -p "$build/bench" && cp "$res" "$build/bench/daemon_bench.tsv" # to redo the report
python3 bench/daemon_bench_report.py "$res" "$SECS" "$REPS" "$host" "$doc" "$ncpu"

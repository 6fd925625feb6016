#!/usr/bin/env bash
# daemon_metrics.sh - pktfiltd's Prometheus endpoint (--metrics-listen) and --cpus, on real
# traffic between network namespaces:
#   pf-met-cli (198.18.63.2) -- pf-met-fw (198.18.63.1 | 198.18.64.1) -- pf-met-srv (198.18.64.2)
# The firewall queues FORWARD to pktfiltd's two queues, with rules accepting ICMP and UDP port 9, rejecting
# UDP 53, dropping the rest. Checked: no listener without the option; with it, the text is
# well-formed exposition format (HELP and TYPE before each family, cumulative histograms whose
# +Inf bucket is their count); per-queue packets and verdicts by kind follow the traffic and
# agree with `pktfilt --stats`; a flood into a 4-packet queue shows up as the kernel's queue
# drops; other paths answer 404; --cpus pins the workers; a bad --cpus is refused. About 10 s.
set -u
build=${PKTFILT_BUILD:-build}
build=$(cd "$build" && pwd)
cli=$build/tools/pktfilt
pfd=$build/daemon/pktfiltd
blast=$build/bench/udp_blast
if [ "$(id -u)" -ne 0 ]; then
    echo "daemon_metrics.sh: SKIPPED (needs root: network namespaces and NFQUEUE)"
    exit 0
fi
for c in ip iptables-legacy ping python3 ss; do
    if ! command -v "$c" >/dev/null; then
        echo "daemon_metrics.sh: SKIPPED ($c not installed; scripts/deps.sh installs it)"
        exit 0
    fi
done
[ -x "$pfd" ] || { echo "daemon_metrics.sh: FAIL: $pfd not built"; exit 1; }

. "$(dirname "$0")/lib/daemon_topology.sh"
url=http://127.0.0.1:9464/metrics

# GET a path of the endpoint: prints the body, or "HTTP <code>" for an error status
get() {
    in_ns $F python3 -c '
import sys, urllib.error, urllib.request
try:
    sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())
except urllib.error.HTTPError as e:
    print("HTTP %d" % e.code)' "$1"
}
metrics() { get "$url"; }

topology_up pf-met 63 64
in_ns $S iptables-legacy -t raw -A PREROUTING -p udp --dport 9 -j DROP # the flood's sink
# FORWARD only (by hand, not --install-hooks): the endpoint's own loopback traffic is not
# queued, so that the counts read through it are exact.
in_ns $F iptables-legacy -A FORWARD -j NFQUEUE --queue-balance 0:1 --queue-bypass

cat >"$rules" <<'EOF'
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p icmp -j ACCEPT
-A FORWARD -p udp -m udp --dport 9 -j ACCEPT
-A FORWARD -p udp -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable
COMMIT
EOF

start_daemon() { # extra options...
    # not through a shell function: $! must be the daemon (ip netns exec execs it)
    ip netns exec $F "$pfd" --queues 0-1 --rules "$rules" --socket "$sock" "$@" \
        >>"$tmp/daemon.log" 2>&1 &
    dpid=$!
    for _ in $(seq 100); do
        in_ns $F env PKTFILT_SOCKET="$sock" "$cli" --stats >/dev/null 2>&1 && return 0
        kill -0 "$dpid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
stop_daemon() {
    kill -TERM "$dpid"
    wait "$dpid"
    local rc=$?
    dpid=
    return $rc
}

# Off by default: no listening TCP socket in the firewall.
check "pktfiltd starts without --metrics-listen" start_daemon
check "no metrics listener by default" test -z "$(in_ns $F ss -Hltn)"
check "stops (SIGTERM, exit 0)" stop_daemon

check "a bad --cpus is refused (exit 2)" test "$(in_ns $F "$pfd" --cpus 0-x >/dev/null 2>&1; echo $?)" = 2
check "--cpus of a CPU we may not use is refused" fails in_ns $F "$pfd" --cpus 4096
check "a bad --metrics-listen stops the start" fails in_ns $F "$pfd" --rules "$rules" \
    --socket "$sock" --metrics-listen 198.18.99.99:9464

check "pktfiltd starts with --metrics-listen and --cpus" \
    start_daemon --metrics-listen 127.0.0.1:9464 --cpus 0 --queue-maxlen 4 --no-fail-open
check "the endpoint listens on 127.0.0.1:9464" quiet in_ns $F ss -Hltn "sport = :9464"
pinned=0
for t in /proc/"$dpid"/task/*; do
    case $(cat "$t/comm") in pktfiltd-q*)
        [ "$(awk '/Cpus_allowed_list/ { print $2 }' "$t/status")" = 0 ] && pinned=$((pinned + 1)) ;;
    esac
done
check "--cpus 0 pins both workers to CPU 0 ($pinned)" test "$pinned" = 2

# Traffic: 10 pings (20 packets forwarded), one UDP 53 probe (rejected), one TCP SYN (dropped).
check "ping passes" quiet in_ns $C ping -c 10 -i 0.05 -W 2 -q 198.18.64.2
in_ns $C python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
s.connect(("198.18.64.2", 53)); s.send(b"probe")
try: s.recv(10)
except OSError: pass
t = socket.socket(); t.settimeout(0.5)
try: t.connect(("198.18.64.2", 80))
except OSError: pass'
metrics >"$tmp/m1"
check "the endpoint answers" test -s "$tmp/m1"
python3 - "$tmp/m1" >"$tmp/lint" 2>&1 <<'EOF'
import re, sys
ok, fams, seen = True, {}, set()
line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|\+Inf)$')
for ln in open(sys.argv[1]):
    ln = ln.rstrip("\n")
    if ln.startswith("# HELP "):
        seen.add(ln.split()[2])
        continue
    if ln.startswith("# TYPE "):
        _, _, name, typ = ln.split()
        if name not in seen: print("TYPE before HELP:", name); ok = False
        fams[name] = typ
        continue
    m = line_re.match(ln)
    if not m: print("bad line:", ln); ok = False; continue
    name = m.group(1)
    base = re.sub(r'_(bucket|sum|count)$', '', name)
    if name not in fams and not (base in fams and fams[base] == "histogram"):
        print("no TYPE for", name); ok = False
# histograms: cumulative buckets, +Inf == count
series = {}
for ln in open(sys.argv[1]):
    m = re.match(r'^(\w+)_bucket\{queue="(\d+)",le="([^"]+)"\} (\d+)$', ln)
    if m: series.setdefault((m.group(1), m.group(2)), []).append((m.group(3), int(m.group(4))))
    m = re.match(r'^(\w+)_count\{queue="(\d+)"\} (\d+)$', ln)
    if m: series.setdefault((m.group(1), m.group(2)), []).append(("count", int(m.group(3))))
for k, v in series.items():
    counts = [c for le, c in v if le != "count"]
    if counts != sorted(counts): print("not cumulative:", k); ok = False
    inf = [c for le, c in v if le == "+Inf"]; cnt = [c for le, c in v if le == "count"]
    if inf != cnt or not inf: print("+Inf != count:", k); ok = False
print("histograms", len(series))
sys.exit(0 if ok else 1)
EOF
check "the text is well-formed exposition format ($(tail -1 "$tmp/lint"))" test $? -eq 0
[ -n "${VERBOSE:-}" ] && { cat "$tmp/lint"; cat "$tmp/m1"; }
pk=$(awk 'index($1, "pktfiltd_packets_total{") == 1 { s += $2 } END { print s + 0 }' "$tmp/m1")
acc=$(awk '/^pktfiltd_verdicts_total\{.*verdict="accept"/ { s += $2 } END { print s + 0 }' "$tmp/m1")
rej=$(awk '/^pktfiltd_verdicts_total\{.*verdict="reject"/ { s += $2 } END { print s + 0 }' "$tmp/m1")
drp=$(awk '/^pktfiltd_verdicts_total\{.*verdict="drop"/ { s += $2 } END { print s + 0 }' "$tmp/m1")
check "packets counted: 20 pings, the probe, the SYN (>= 22: $pk)" test "$pk" -ge 22
check "accept verdicts >= 20 ($acc)" test "$acc" -ge 20
check "one reject verdict ($rej)" test "$rej" -eq 1
check "drop verdicts >= 1 ($drp)" test "$drp" -ge 1
check "both queues are series" test "$(grep -c '^pktfiltd_packets_total{queue="[01]"}' "$tmp/m1")" = 2
lat=$(awk '/^pktfiltd_latency_seconds_count/ { s += $2 } END { print s + 0 }' "$tmp/m1")
bsum=$(awk '/^pktfiltd_batch_size_sum/ { s += $2 } END { print s + 0 }' "$tmp/m1")
check "the latency histogram counts every packet ($lat = $pk)" test "$lat" = "$pk"
check "batch sizes sum to the packets ($bsum = $pk)" test "$bsum" = "$pk"
check "the kernel's per-queue drops are exposed" \
    test "$(grep -c '^pktfiltd_kernel_queue_dropped_total{queue=' "$tmp/m1")" = 2
check "ENOBUFS counted per queue" test "$(grep -c '^pktfiltd_enobufs_total{queue=' "$tmp/m1")" = 2
check "the generation is exposed" grep -q '^pktfiltd_ruleset_generation [1-9]' "$tmp/m1"
# The same numbers as pktfilt --stats (no traffic in between).
stats=$(in_ns $F env PKTFILT_SOCKET="$sock" "$cli" --stats)
spk=$(echo "$stats" | awk '$1 == "all" { print $2 }')
srej=$(echo "$stats" | awk '$1 == "all" { print $6 }')
check "pktfilt --stats agrees (packets $spk = $pk, rejects $srej = $rej)" \
    test "$spk" = "$pk" -a "$srej" = "$rej"
check "other paths: 404" test "$(get "${url%/metrics}/x")" = "HTTP 404"

# A flood into 4-packet queues: the kernel's queue drops are exposed (without fail-open: with
# it, the kernel accepts what does not fit and counts nothing).
if [ -x "$blast" ]; then
    in_ns $C "$blast" -d 198.18.64.2:9 -s 198.18.63.2 -t 1 -b 256 >/dev/null 2>&1
    metrics >"$tmp/m2"
    qd=$(awk '/^pktfiltd_kernel_queue_dropped_total/ { s += $2 } END { print s + 0 }' "$tmp/m2")
    check "a flood into a 4-packet queue: kernel queue drops exposed ($qd > 0)" test "$qd" -gt 0
    sqd=$(in_ns $F env PKTFILT_SOCKET="$sock" "$cli" --stats | awk '$1 ~ /^[0-9]+$/ { s += $12 } END { print s + 0 }')
    check "and pktfilt --stats shows them too ($sqd)" test "$sqd" -ge "$qd"
fi

check "SIGTERM: exit 0 with the metrics thread" stop_daemon
check "the listener is gone" test -z "$(in_ns $F ss -Hltn)"
check "no sanitizer report in the daemon's log" fails grep -Eq "Sanitizer|runtime error" "$tmp/daemon.log"

if [ $fail -ne 0 ]; then
    echo "--- daemon log"; tail -30 "$tmp/daemon.log"
fi
echo "daemon_metrics.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]

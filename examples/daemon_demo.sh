#!/usr/bin/env bash
# daemon_demo.sh - the main job (./run.sh): pktfiltd filtering real traffic between network
# namespaces, on veth pairs:
#
#   pf-demo-cli (198.18.91.2) -- pf-demo-fw (198.18.91.1 | 198.18.92.1) -- pf-demo-srv (198.18.92.2)
#
# The firewall's kernel queues its traffic (NFQUEUE) to pktfiltd, whose rules allow ping and
# TCP port 80 and reject UDP port 53; everything else is dropped by the FORWARD policy. Real
# ping, an HTTP transfer and UDP/TCP probes show the outcomes; `pktfilt -L -v -n` shows the
# daemon's live counters; a rule inserted with `pktfilt -I` takes effect on the next packets.
# Everything is removed at the end, whatever happens. Exit status 0 when every outcome is the
# one the rules say.
#
# Without root (no namespaces, no NFQUEUE): the same rules judge a generated capture offline
# with pktfilt-replay instead.
#
# Usage: examples/daemon_demo.sh [BUILD_DIR]   (default build)
set -uo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
cli=$build/tools/pktfilt
pfd=$build/daemon/pktfiltd
replay=$build/tools/pktfilt-replay
tmp=$(mktemp -d)
rules=$tmp/rules.v4
cat >"$rules" <<'EOF'
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A FORWARD -p icmp -m icmp --icmp-type 0 -j ACCEPT
-A FORWARD -p tcp -m tcp --dport 80 -j ACCEPT
-A FORWARD -p tcp -m tcp --sport 80 -j ACCEPT
-A FORWARD -p udp -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable
COMMIT
EOF
bad=0
say() { printf '\n== %s\n' "$*"; }
show() { echo "\$ $*"; }
expect() { # what, got, wanted
    if [ "$2" = "$3" ]; then
        printf '   %-44s %-9s (as the rules say)\n' "$1" "$2"
    else
        printf '   %-44s %-9s (EXPECTED %s)\n' "$1" "$2" "$3"
        bad=1
    fi
}

# ---------------------------------------------------------------- offline (not root)
if [ "$(id -u)" -ne 0 ]; then
    trap 'rm -rf "$tmp"' EXIT
    echo "pktfiltd needs root (network namespaces, NFQUEUE): replaying a capture offline instead."
    say "the rules (iptables-save format)"
    cat "$rules"
    say "a capture: client 198.18.91.2 -> server 198.18.92.2, and the replies"
    python3 tests/tools/pcapgen.py "$tmp/trace.pcap" <<'EOF'
# ping: echo request (type 8) and its reply
198.18.91.2 198.18.92.2 1 8 0 len=56
198.18.92.2 198.18.91.2 1 0 0 len=56
# TCP to port 80: SYN, the server's SYN+ACK
198.18.91.2 198.18.92.2 6 40000 80 flags=2
198.18.92.2 198.18.91.2 6 80 40000 flags=18
# UDP to port 53 (DNS), to 5353, TCP to port 22
198.18.91.2 198.18.92.2 17 40001 53 len=30
198.18.91.2 198.18.92.2 17 40002 5353 len=30
198.18.91.2 198.18.92.2 6 40003 22 flags=2
EOF
    printf '   %s\n' "ICMP echo request, echo reply" "TCP SYN to 80, SYN+ACK from 80" \
        "UDP to 53, UDP to 5353, TCP SYN to 22"
    say "judged as a Linux router forwarding them would"
    show pktfilt-replay --rules rules.v4 --pcap trace.pcap --path forward -i cli0 -o srv0 --trace
    "$replay" --rules "$rules" --pcap "$tmp/trace.pcap" --path forward -i cli0 -o srv0 --trace \
        >"$tmp/out" 2>"$tmp/err"
    rc=$?
    cat "$tmp/err" "$tmp/out"
    [ $rc -eq 0 ] || exit $rc
    cnt() { awk -v r="$1" 'index($0, r) { sub(/^\[/, ""); split($1, a, ":"); print a[1] + 0; exit }' "$tmp/out"; }
    say "outcomes"
    expect "ping (echo request + reply) accepted" "$(($(cnt '--icmp-type 8 -j') + $(cnt '--icmp-type 0 -j')))" 2
    expect "TCP port 80 (both directions) accepted" "$(($(cnt '--dport 80 -j') + $(cnt '--sport 80 -j')))" 2
    expect "UDP port 53 rejected" "$(cnt 'REJECT')" 1
    expect "the rest dropped by the FORWARD policy" \
        "$(awk '/^:FORWARD/ { sub(/^\[/, "", $3); split($3, a, ":"); print a[1] }' "$tmp/out")" 2
    echo
    echo "As root, ./run.sh shows the daemon filtering real traffic between network namespaces."
    exit $bad
fi

# ---------------------------------------------------------------- live (root)
for c in ip iptables-legacy python3 ping; do
    command -v "$c" >/dev/null || { echo "daemon_demo: $c is missing (scripts/deps.sh installs it)"; exit 1; }
done
C=pf-demo-cli F=pf-demo-fw S=pf-demo-srv
sock=$tmp/pktfiltd.sock
dpid=
cleanup() {
    [ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null && sleep 0.3 && kill -9 "$dpid" 2>/dev/null
    for ns in $C $F $S; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
pf() { in_ns $F env -u PKTFILT_STATE PKTFILT_SOCKET="$sock" "$cli" "$@"; }

say "three network namespaces: client -- firewall -- server"
for ns in $C $F $S; do ip netns del "$ns" 2>/dev/null; ip netns add "$ns" || exit 1; done
ip -n $C link add veth0 type veth peer name cli0 netns $F
ip -n $S link add veth0 type veth peer name srv0 netns $F
ip -n $C addr add 198.18.91.2/24 dev veth0
ip -n $F addr add 198.18.91.1/24 dev cli0
ip -n $F addr add 198.18.92.1/24 dev srv0
ip -n $S addr add 198.18.92.2/24 dev veth0
for ns in $C $F $S; do ip -n $ns link set lo up; done
ip -n $C link set veth0 up
ip -n $S link set veth0 up
ip -n $F link set cli0 up
ip -n $F link set srv0 up
ip -n $C route add default via 198.18.91.1
ip -n $S route add default via 198.18.92.1
in_ns $F sysctl -qw net.ipv4.ip_forward=1
echo "   $C 198.18.91.2 -- $F 198.18.91.1 | 198.18.92.1 -- $S 198.18.92.2"

# The server: HTTP on 80 and 8080 (a 2 MB file), UDP echo on 53 and 5353: it answers
# everything, so only the firewall can refuse.
mkdir -p "$tmp/www"
head -c 2097152 /dev/urandom >"$tmp/www/file"
for port in 80 8080; do
    in_ns $S python3 -m http.server $port --bind 198.18.92.2 --directory "$tmp/www" >/dev/null 2>&1 &
done
cat >"$tmp/udpecho.py" <<'EOF'
import select, socket
socks = []
for port in (53, 5353):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("198.18.92.2", port))
    socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        data, addr = s.recvfrom(2048)
        s.sendto(data, addr)
EOF
in_ns $S python3 "$tmp/udpecho.py" >/dev/null 2>&1 &
cat >"$tmp/probe.py" <<'EOF'
import socket, sys, time, urllib.request
kind, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
if kind == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.connect(("198.18.92.2", port))
    try:
        s.send(b"probe"); s.recv(100); print("reply")
    except ConnectionRefusedError:
        print("refused")
    except socket.timeout:
        print("timeout")
else:
    t0 = time.time()
    try:
        with urllib.request.urlopen("http://198.18.92.2:%d/file" % port, timeout=timeout) as r:
            n = len(r.read())
        print("%d %.2f" % (n, time.time() - t0))
    except Exception as e:
        print("0 %s" % type(e).__name__)
EOF
probe() { in_ns $C python3 "$tmp/probe.py" "$@"; }
listening() { # the three servers are up in the server namespace
    [ "$(in_ns $S ss -Hltn 'sport = :80 or sport = :8080' | wc -l)" = 2 ] &&
        [ "$(in_ns $S ss -Hlun 'sport = :53 or sport = :5353' | wc -l)" = 2 ]
}
for _ in $(seq 100); do listening && break; sleep 0.1; done
listening || { echo "daemon_demo: the test servers did not start"; exit 1; }

say "the rules"
cat "$rules"

say "start the daemon in the firewall (two queues, kernel hooks installed by the daemon)"
show pktfiltd --queues 0-1 --rules rules.v4 --install-hooks -v
# (not through a shell function: $! must be the daemon, which ip netns exec execs)
ip netns exec $F "$pfd" --queues 0-1 --rules "$rules" --socket "$sock" --install-hooks -v \
    >"$tmp/daemon.log" 2>&1 &
dpid=$!
for _ in $(seq 100); do pf --stats >/dev/null 2>&1 && break; sleep 0.1; done
pf --stats >/dev/null 2>&1 || { echo "pktfiltd did not start:"; cat "$tmp/daemon.log"; exit 1; }
sed 's/^/   /' "$tmp/daemon.log"
show iptables-legacy -S PKTFILTD "  # the kernel side: traffic to the queues"
in_ns $F iptables-legacy -S PKTFILTD | sed 's/^/   /'

say "real traffic from the client"
show ping -c 3 198.18.92.2
in_ns $C ping -c 3 -i 0.2 -W 2 198.18.92.2 | sed 's/^/   /'
expect "ping 198.18.92.2" "$(in_ns $C ping -c 1 -W 2 -q 198.18.92.2 >/dev/null 2>&1 && echo passes || echo fails)" passes
read -r n t <<<"$(probe tcp 80 10)"
expect "HTTP on TCP 80 ($n bytes in ${t}s)" "$([ "$n" = 2097152 ] && echo passes || echo fails)" passes
expect "UDP 53 (DNS)" "$(probe udp 53 2)" refused
expect "UDP 5353 (no rule: policy DROP)" "$(probe udp 5353 1)" timeout
read -r n t <<<"$(probe tcp 8080 2)"
expect "HTTP on TCP 8080 (no rule: policy DROP)" "$([ "$n" = 2097152 ] && echo passes || echo dropped)" dropped

say "the daemon's live counters, with the usual command"
show pktfilt -L FORWARD -v -n
pf -L FORWARD -v -n | sed 's/^/   /'

say "change the rules while it runs: allow TCP 8080"
show pktfilt -I FORWARD 5 -p tcp --dport 8080 -j ACCEPT
pf -I FORWARD 5 -p tcp --dport 8080 -j ACCEPT
show pktfilt -I FORWARD 6 -p tcp --sport 8080 -j ACCEPT
pf -I FORWARD 6 -p tcp --sport 8080 -j ACCEPT
read -r n t <<<"$(probe tcp 8080 10)"
expect "HTTP on TCP 8080 now ($n bytes in ${t}s)" "$([ "$n" = 2097152 ] && echo passes || echo dropped)" passes
show pktfilt -S FORWARD
pf -S FORWARD | sed 's/^/   /'
show pktfilt -L FORWARD -v -n -x "  # the other rules kept their counters"
pf -L FORWARD -v -n -x | sed 's/^/   /'

say "the daemon's statistics"
show pktfilt --stats
pf --stats | sed 's/^/   /'

say "stop the daemon: it removes its kernel hooks and saves the rules with their counters"
show kill -TERM pktfiltd
kill -TERM "$dpid"
wait "$dpid"
rc=$?
dpid=
expect "pktfiltd exit status" "$rc" 0
expect "kernel hooks left behind" "$(in_ns $F iptables-legacy -S PKTFILTD >/dev/null 2>&1 && echo yes || echo none)" none
show "grep 8080 rules.v4"
grep 8080 "$rules" | sed 's/^/   /'

echo
if [ $bad -eq 0 ]; then
    echo "daemon_demo: every outcome as the rules say; namespaces removed."
else
    echo "daemon_demo: some outcomes differ from the rules (see EXPECTED above); daemon log:"
    sed 's/^/   /' "$tmp/daemon.log"
fi
exit $bad

#!/usr/bin/env bash
# daemon.sh - pktfiltd filtering real traffic. Three network namespaces on veth pairs:
#   pf-dmn-cli (198.18.61.2) -- pf-dmn-fw (198.18.61.1 | 198.18.62.1) -- pf-dmn-srv (198.18.62.2)
# The firewall runs pktfiltd --install-hooks on two queues with rules allowing TCP port 80
# and ICMP echo, rejecting UDP 53, dropping the rest. Checked: ping, a TCP transfer, UDP probes
# (53 rejected with an ICMP error, 5353 dropped), `pktfilt -L -v -n` against the daemon shows
# live counters, a rule inserted with `pktfilt -I` takes effect on the next packets and keeps
# the other rules' counters, INPUT and addrtype, the header-only copy range, pktfilt-save and
# pktfilt-restore (a full restore keeps a recent list its rules name, renews a limit bucket),
# a limit rule's bucket shared by both queues, the socket's permissions,
# --stats, verdicts carrying a mark (MARK) and a changed packet (TTL), a rules file with an
# error refused on SIGHUP (running rules stay), kill -9 letting traffic through
# (--queue-bypass) and a restart coming back with the same rules, SIGTERM removing the kernel
# hooks. About 25 s.
set -u
build=${PKTFILT_BUILD:-build}
build=$(cd "$build" && pwd)
cli=$build/tools/pktfilt
pfd=$build/daemon/pktfiltd
if [ "$(id -u)" -ne 0 ]; then
    echo "daemon.sh: SKIPPED (needs root: network namespaces and NFQUEUE)"
    exit 0
fi
for c in ip iptables-legacy ping python3 curl; do
    if ! command -v "$c" >/dev/null; then
        echo "daemon.sh: SKIPPED ($c not installed; scripts/deps.sh installs it)"
        exit 0
    fi
done
[ -x "$pfd" ] || { echo "daemon.sh: FAIL: $pfd not built"; exit 1; }

. "$(dirname "$0")/lib/daemon_topology.sh"

out_has() { local pat=$1; shift; "$@" 2>/dev/null | grep -Eq -- "$pat"; } # pattern, command...
err_has() { local pat=$1; shift; "$@" 2>&1 >/dev/null | grep -Eq -- "$pat"; }
# The CLI talks to the daemon (no state file named).
pf() { in_ns $F env -u PKTFILT_STATE PKTFILT_SOCKET="$sock" "$cli" "$@"; }
pf_save() { in_ns $F env -u PKTFILT_STATE PKTFILT_SOCKET="$sock" "$build/tools/pktfilt-save" "$@"; }

topology_up pf-dmn 61 62

# Servers: HTTP on 80 and 8080 (a 4 MB file), UDP echo on 53 and 5353 (so that only the
# firewall can refuse: the server itself answers every probe).
mkdir -p "$tmp/www"
head -c 4194304 /dev/urandom >"$tmp/www/big"
for port in 80 8080; do
    ip netns exec $S python3 -m http.server $port --bind 198.18.62.2 --directory "$tmp/www" >/dev/null 2>&1 &
    disown
done
cat >"$tmp/udpecho.py" <<'EOF'
import select, socket
socks = []
for port in (53, 5353):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("198.18.62.2", port))
    socks.append(s)
while True:
    ready, _, _ = select.select(socks, [], [])
    for s in ready:
        data, addr = s.recvfrom(2048)
        s.sendto(data, addr)
EOF
cat >"$tmp/udpprobe.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(float(sys.argv[3]))
s.connect((sys.argv[1], int(sys.argv[2])))
try:
    s.send(b"probe")
    s.recv(100)
    print("reply")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
EOF
ip netns exec $S python3 "$tmp/udpecho.py" &
disown
udp() { in_ns $C python3 "$tmp/udpprobe.py" 198.18.62.2 "$1" "${2:-1.5}"; }
http() { # port -> bytes received (0 on failure)
    in_ns $C curl -s -o /dev/null --max-time "${2:-5}" -w '%{size_download}' "http://198.18.62.2:$1/big" 2>/dev/null || true
}
for _ in $(seq 50); do
    [ "$(http 80 1)" = 4194304 ] && [ "$(http 8080 1)" = 4194304 ] && [ "$(udp 53 0.5)" = reply ] && break
    sleep 0.2
done
check "servers up before the firewall" test "$(udp 5353 0.5)" = reply

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

start_daemon() {
    # not through a shell function: $! must be the daemon (ip netns exec execs it)
    ip netns exec $F "$pfd" --queues 0-1 --rules "$rules" --socket "$sock" --install-hooks -v \
        >>"$tmp/daemon.log" 2>&1 &
    dpid=$!
    for _ in $(seq 100); do
        # --stats answers only from the daemon (-S would fall back to a state file)
        [ -S "$sock" ] && pf --stats >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
check "pktfiltd starts" start_daemon
check "kernel hooks installed (FORWARD jumps to PKTFILTD)" \
    in_ns $F iptables-legacy -C FORWARD -j PKTFILTD
check "the hook queues to 0:1 with bypass" \
    out_has '--queue-balance 0:1 --queue-bypass' in_ns $F iptables-legacy -S PKTFILTD

# Traffic as the rules say.
check "ping passes" quiet in_ns $C ping -c 3 -i 0.2 -W 2 -q 198.18.62.2
check "TCP transfer on port 80 passes (4 MB)" test "$(http 80 20)" = 4194304
check "UDP 53 is rejected (ICMP port unreachable)" test "$(udp 53)" = refused
check "UDP 5353 is dropped (policy)" test "$(udp 5353 1)" = timeout
check "TCP 8080 is dropped (policy)" test "$(http 8080 2)" = 0

# Live counters through the CLI: pkts column of each FORWARD rule (exact, -x).
counters() { pf -L FORWARD -v -n -x | awk 'NR > 2 { print $1 }' | tr '\n' ' '; }
c1=$(counters)
read -r ping_req ping_rep tcp_in tcp_out rej <<<"$c1"
check "-L -v shows the echo requests counted ($ping_req >= 3)" test "${ping_req:-0}" -ge 3
check "-L -v shows the echo replies counted ($ping_rep >= 3)" test "${ping_rep:-0}" -ge 3
check "-L -v shows the TCP transfer counted ($tcp_in, $tcp_out)" \
    test "${tcp_in:-0}" -gt 10 -a "${tcp_out:-0}" -gt 10
check "-L -v shows the rejected probe counted ($rej)" test "${rej:-0}" -ge 1
pol=$(pf -L FORWARD -v -n -x | head -1)
check "policy counters are live ($pol)" out_has 'policy DROP [1-9][0-9]* packets' echo "$pol"
check "pktfilt-save -c from the daemon has the counters" \
    out_has '^\[[1-9][0-9]*:[0-9]+\] -A FORWARD -p tcp -m tcp --dport 80 -j ACCEPT' pf_save -c

# A rule inserted with the CLI takes effect on the next packets; other counters carry over.
check "pktfilt -I (dport 8080)" pf -I FORWARD 1 -p tcp --dport 8080 -j ACCEPT
check "pktfilt -I (sport 8080)" pf -I FORWARD 2 -p tcp --sport 8080 -j ACCEPT
check "TCP 8080 passes after the insert" test "$(http 8080 20)" = 4194304
c2=$(counters)
read -r _ _ ping_req2 _ tcp_in2 _ _ <<<"$c2"
check "counters of unchanged rules carried over ($ping_req -> $ping_req2, $tcp_in -> $tcp_in2)" \
    test "${ping_req2:-0}" -ge "$ping_req" -a "${tcp_in2:-0}" -ge "$tcp_in"
# persisted: in the journal at once, in the rules file after the journal's compaction
check "the change is persisted (rules file or its journal)" \
    grep -qa -- "--dport.8080.-j.ACCEPT" "$rules" "$rules.journal"
check "pktfilt -D by number" pf -D FORWARD 2
check "after -D the return direction of 8080 is dropped again" test "$(http 8080 2)" = 0
check "re-add with -A" pf -A FORWARD -p tcp --sport 8080 -j ACCEPT
check "a bad command is refused" fails pf -A FORWARD -j NOSUCH
check "and the error is iptables' own" err_has "Couldn't load target" pf -A FORWARD -j NOSUCH

# While pings flow, a rule inserted with -I takes effect on the next packets.
in_ns $C ping -c 30 -i 0.1 -W 1 198.18.62.2 >"$tmp/ping.out" 2>&1 &
ping_pid=$!
sleep 1
check "pktfilt -I of a DROP rule while pings flow" pf -I FORWARD 1 -p icmp -j DROP
wait $ping_pid
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$tmp/ping.out")
dropped=$(pf -L FORWARD 1 -v -n -x | awk '{ print $1 }')
check "pings passed before the insert and stopped after ($got of 30 received)" \
    test "${got:-0}" -ge 5 -a "${got:-0}" -le 25
check "the inserted rule counted the rest (${dropped:-?} >= $((30 - ${got:-0})))" \
    test "${dropped:-0}" -ge $((30 - ${got:-0}))
check "pktfilt -D of the DROP rule" pf -D FORWARD -p icmp -j DROP

# INPUT is judged too, and addrtype knows the firewall's own addresses.
check "ping to the firewall itself passes" quiet in_ns $C ping -c 1 -W 2 198.18.61.1
check "pktfilt -I INPUT (addrtype LOCAL)" pf -I INPUT 1 -p icmp -m addrtype --dst-type LOCAL -j DROP
check "ping to the firewall is dropped now" fails in_ns $C ping -c 1 -W 1 198.18.61.1
check "forwarded pings are not LOCAL: they pass" quiet in_ns $C ping -c 1 -W 2 198.18.62.2
check "pktfilt -D INPUT 1" pf -D INPUT 1

# Without REJECT the rule set reads only headers: the copy range shrinks, traffic still
# flows as the rules say (the engine sees the real packet length).
check "rule 6 is the REJECT rule" out_has '^6 +REJECT ' pf -L FORWARD -n --line-numbers
check "pktfilt -R: REJECT becomes DROP" pf -R FORWARD 6 -p udp --dport 53 -j DROP
check "header-only copy range" out_has '^copy range 256 bytes' pf --stats
check "TCP transfer with headers only (4 MB)" test "$(http 80 20)" = 4194304
check "UDP 53 dropped now" test "$(udp 53 1)" = timeout
check "pktfilt -R back to REJECT" \
    pf -R FORWARD 6 -p udp --dport 53 -j REJECT --reject-with icmp-port-unreachable
check "whole-packet copy range again" out_has '^copy range 65535 bytes' pf --stats
check "UDP 53 rejected again" test "$(udp 53)" = refused

# pktfilt-save and pktfilt-restore act on the daemon too.
check "pktfilt-save prints iptables-save's comment lines" out_has '^# Generated by pktfilt-save' pf_save
printf '*filter\n-A INPUT -s 198.18.99.0/24 -j DROP\nCOMMIT\n' >"$tmp/add.v4"
check "pktfilt-restore --noflush through the daemon" \
    in_ns $F env -u PKTFILT_STATE PKTFILT_SOCKET="$sock" "$build/tools/pktfilt-restore" --noflush "$tmp/add.v4"
check "the restored rule is live" out_has '^-A INPUT -s 198.18.99.0/24 -j DROP' pf -S INPUT
check "and the FORWARD rules were kept" out_has '--dport 8080' pf -S FORWARD

# A full pktfilt-restore is a new generation, as iptables-restore replaces the kernel's table:
# per-rule state starts again (a limit rule's bucket is full again) but a recent list that the
# new rule set still names is kept (xt_recent keeps its lists by name, per namespace), and one
# no rule names any more is gone. Three counting rules (no target) at the end of FORWARD: the
# datagrams to 5353/5354 are dropped by the policy anyway.
pf_restore() { in_ns $F env -u PKTFILT_STATE PKTFILT_SOCKET="$sock" "$build/tools/pktfilt-restore" "$@"; }
fwd_policy() { pf -L FORWARD -v -n -x | sed -n '1s/.*policy DROP \([0-9]*\) packets.*/\1/p'; }
to_srv() { # port count: datagrams from the client, judged (all end at the policy) on return
    local p0 n
    p0=$(fwd_policy)
    in_ns $C python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[2])):
    s.sendto(b"x", ("198.18.62.2", int(sys.argv[1])))' "$1" "$2"
    for n in $(seq 50); do
        [ "$(fwd_policy)" -ge $((${p0:-0} + $2)) ] 2>/dev/null && return
        sleep 0.1
    done
}
last3() { pf -L FORWARD -v -n -x | tail -3 | awk '{ print $1 }' | tr '\n' ' '; } # set rcheck limit
delta() { # before after: the three differences
    local -a b=($1) a=($2)
    echo "$((${a[0]:-0} - ${b[0]:-0})) $((${a[1]:-0} - ${b[1]:-0})) $((${a[2]:-0} - ${b[2]:-0}))"
}
pf_save >"$tmp/orig.v4"
printf '%s\n' '-A FORWARD -p udp --dport 5353 -m recent --set --name pfx' \
    '-A FORWARD -p udp --dport 5354 -m recent --rcheck --name pfx' \
    '-A FORWARD -p udp --dport 5354 -m limit --limit 1/hour --limit-burst 2' >"$tmp/recent.rules"
awk -v extra="$tmp/recent.rules" '/^\*/ { t = $0 }
    t == "*filter" && /^COMMIT/ { while ((getline l < extra) > 0) print l }
    { print }' "$tmp/orig.v4" >"$tmp/recent.v4"
check "pktfilt-restore (full) of the rules with a recent list" pf_restore "$tmp/recent.v4"
c0=$(last3)
to_srv 5354 3 # not in the list yet; the bucket of 2 used up
to_srv 5353 1 # --set
to_srv 5354 1 # now in the list
d=$(delta "$c0" "$(last3)")
check "generation 1: set 1, rcheck 1 of 4, limit 2 of 4 ($d)" test "$d" = "1 1 2"
check "pktfilt-restore (full) again: a new generation naming the list" pf_restore "$tmp/recent.v4"
c0=$(last3)
to_srv 5354 3
d=$(delta "$c0" "$(last3)")
check "the recent list survived the restore, the limit bucket did not (rcheck 3, limit 2: $d)" \
    test "$d" = "0 3 2"
check "pktfilt-restore (full) of rules without the list" pf_restore "$tmp/orig.v4"
check "pktfilt-restore (full) naming the list again" pf_restore "$tmp/recent.v4"
c0=$(last3)
to_srv 5354 1
d=$(delta "$c0" "$(last3)")
check "a list no rule named was freed: a new, empty one (rcheck 0: $d)" test "$d" = "0 0 1"
check "pktfilt-restore (full) of the rules before" pf_restore "$tmp/orig.v4"
check "the recent rules are gone" fails out_has 'recent' pf -S FORWARD

# Two workers, one rule state (a state domain): a limit rule's bucket is shared by both
# queues' engines, as by the kernel's CPUs. 16 datagrams from 8 client addresses (NFQUEUE's
# balance hashes the addresses: both queues get some, all but surely): 3 match, not 3 a queue.
for i in $(seq 10 17); do ip -n $C addr add 198.18.61.$i/24 dev veth0; done
check "pktfilt -I of a limit rule (burst 3)" \
    pf -I FORWARD 1 -p udp --dport 5353 -m limit --limit 1/hour --limit-burst 3
in_ns $C python3 -c '
import socket
for i in range(10, 18):
    for _ in range(2):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("198.18.61.%d" % i, 0))
        s.sendto(b"x", ("198.18.62.2", 5353))
        s.close()'
sleep 0.5
lim=$(pf -L FORWARD 1 -v -n -x | awk '{ print $1 }')
check "the limit rule matched 3 of 16 datagrams over two queues (${lim:-?})" test "${lim:-0}" = 3
check "pktfilt -D of the limit rule" pf -D FORWARD 1
for i in $(seq 10 17); do ip -n $C addr del 198.18.61.$i/24 dev veth0; done

# The control socket: mode 0600, and only uid 0 is served (SO_PEERCRED).
check "control socket mode 0600" test "$(stat -c %a "$sock")" = 600
if command -v setpriv >/dev/null; then
    chmod 711 "$tmp"; chmod 666 "$sock" # let the client reach the daemon
    check "a non-root client is refused" err_has 'permission denied' \
        env PKTFILT_SOCKET="$sock" setpriv --reuid 65534 --regid 65534 --clear-groups "$cli" --stats
    chmod 600 "$sock"; chmod 700 "$tmp"
fi

# pktfilt --stats.
stats=$(pf --stats)
[ -n "${DAEMON_SH_VERBOSE:-}" ] && echo "$stats"
check "--stats reports both queues" out_has '^1 +[0-9]+' echo "$stats"
check "--stats counts the rejects" test "$(echo "$stats" | awk '$1 == "all" { print $6 }')" -ge 1

# Verdicts carry the new mark (MARK) and the changed packet (TTL). The kernel's security
# table runs after the filter table's NFQUEUE hook: it counts the packets marked 7.
in_ns $F iptables-legacy -t security -A FORWARD -m mark --mark 0x7
check "pktfilt -t mangle -A FORWARD ... -j MARK" pf -t mangle -A FORWARD -p icmp -j MARK --set-mark 7
check "a mangle rule adds the PREROUTING hook" in_ns $F iptables-legacy -t mangle -C PREROUTING -j PKTFILTD
check "pings still pass" quiet in_ns $C ping -c 3 -i 0.2 -W 2 198.18.62.2
marked=$(in_ns $F iptables-legacy -t security -L FORWARD -v -n -x | awk 'NR == 3 { print $1 }')
check "the kernel got the mark from the verdict (${marked:-0} packets marked 7)" test "${marked:-0}" -ge 6
check "pktfilt -t mangle -A POSTROUTING ... -j TTL" \
    pf -t mangle -A POSTROUTING -d 198.18.61.2 -p icmp -j TTL --ttl-set 33
check "the kernel sent our changed packet (reply ttl=33)" out_has 'ttl=33' in_ns $C ping -c 2 -i 0.2 -W 2 198.18.62.2
check "pktfilt -t mangle -F" pf -t mangle -F
check "ttl back to normal" out_has 'ttl=63' in_ns $C ping -c 1 -W 2 198.18.62.2

# SIGHUP: a file with an error is refused, with its line number; the running rules stay.
cp "$rules" "$tmp/good.v4"
printf '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --bogus 1 -j ACCEPT\nCOMMIT\n' >"$rules"
kill -HUP "$dpid"
sleep 0.5
check "SIGHUP with a bad file: refused with its line number" grep -q "line 3" "$tmp/daemon.log"
check "the running rules stay (8080 rule still listed)" out_has '--dport 8080' pf -S FORWARD
check "and still filter (UDP 53 rejected)" test "$(udp 53)" = refused
cp "$tmp/good.v4" "$rules"
kill -HUP "$dpid"
sleep 0.5
saved=$(pf -S FORWARD)

# kill -9: --queue-bypass lets traffic through while the daemon is down; a restart comes
# back with the same rules and filters again.
kill -9 "$dpid"; wait "$dpid" 2>/dev/null; dpid=
check "daemon down: UDP 5353 bypasses the queue" test "$(udp 5353 1)" = reply
check "daemon down: the rules file has the live rules" \
    test "$(in_ns $F "$cli" --state "$rules" -S FORWARD)" = "$saved"
check "restart after kill -9" start_daemon
after=$(pf -S FORWARD)
check "same rules after the restart" test "$after" = "$saved"
[ "$after" = "$saved" ] || { echo "before: $saved"; echo "after: $after"; }
check "after restart: UDP 5353 dropped again" test "$(udp 5353 1)" = timeout
check "after restart: UDP 53 rejected" test "$(udp 53)" = refused
check "after restart: TCP 8080 passes" test "$(http 8080 20)" = 4194304
check "after restart: ping passes" quiet in_ns $C ping -c 2 -i 0.2 -W 2 -q 198.18.62.2

# SIGTERM: hooks removed, daemon gone.
kill -TERM "$dpid"
for _ in $(seq 50); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
check "SIGTERM stops the daemon" fails kill -0 "$dpid"
wait "$dpid"
check "and it exits 0" test $? -eq 0
dpid=
check "no sanitizer report in the daemon's log" fails grep -Eq "Sanitizer|runtime error" "$tmp/daemon.log"
check "SIGTERM removes the kernel hooks" fails in_ns $F iptables-legacy -S PKTFILTD
check "no hook left in FORWARD" fails out_has PKTFILTD in_ns $F iptables-legacy -S FORWARD
check "nor in mangle PREROUTING" fails out_has PKTFILTD in_ns $F iptables-legacy -t mangle -S PREROUTING

if [ $fail -ne 0 ]; then
    echo "--- daemon log"; tail -30 "$tmp/daemon.log"
fi
echo "daemon.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]

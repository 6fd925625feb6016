# daemon_topology.sh - sourced by the pktfiltd integration tests (daemon.sh, daemon_churn.sh,
# daemon_metrics.sh): the client — firewall — server namespaces on veth pairs, their cleanup,
# and the test helpers. Not a test itself (test.sh runs tests/integration/*.sh only).
#
#   topology_up PREFIX A B
#     namespaces C=PREFIX-cli, F=PREFIX-fw, S=PREFIX-srv; client 198.18.A.2 (veth0) — cli0
#     198.18.A.1 [firewall, forwarding on] srv0 198.18.B.1 — 198.18.B.2 (veth0) server, each
#     end's default route through the firewall.
# Also sets tmp (a private directory), sock and rules (the daemon's socket and rules file in
# it), pass/fail counters, dpid (the daemon's pid, killed on exit), and an EXIT trap that
# kills everything left in the namespaces and removes them and tmp.

tmp=$(mktemp -d)
sock=$tmp/pktfiltd.sock
rules=$tmp/rules.v4
pass=0 fail=0
dpid=
C= F= S=

cleanup() {
    [ -n "$dpid" ] && kill -9 "$dpid" 2>/dev/null
    # this script's own background jobs too (servers started with ip netns exec), in case
    # their namespace went away under them
    jobs -p | xargs -r kill -9 2>/dev/null
    for ns in $C $F $S; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

check() { # description, condition-command...
    local d=$1; shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $d"; fi
}
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
quiet() { "$@" >/dev/null 2>&1; }
fails() { ! "$@" >/dev/null 2>&1; }

topology_up() { # prefix, client subnet octet, server subnet octet
    local p=$1 a=$2 b=$3 ns
    C=$p-cli F=$p-fw S=$p-srv
    for ns in $C $F $S; do ip netns del "$ns" 2>/dev/null; ip netns add "$ns" || exit 1; done
    ip -n $C link add veth0 type veth peer name cli0 netns $F
    ip -n $S link add veth0 type veth peer name srv0 netns $F
    ip -n $C addr add 198.18.$a.2/24 dev veth0
    ip -n $F addr add 198.18.$a.1/24 dev cli0
    ip -n $F addr add 198.18.$b.1/24 dev srv0
    ip -n $S addr add 198.18.$b.2/24 dev veth0
    for ns in $C $F $S; do ip -n $ns link set lo up; done
    ip -n $C link set veth0 up; ip -n $S link set veth0 up
    ip -n $F link set cli0 up; ip -n $F link set srv0 up
    ip -n $C route add default via 198.18.$a.1
    ip -n $S route add default via 198.18.$b.1
    in_ns $F sysctl -qw net.ipv4.ip_forward=1
}

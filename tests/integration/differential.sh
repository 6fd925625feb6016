#!/usr/bin/env bash
# differential.sh - pktfilt against the kernel: random rule sets (raw, mangle and filter, user
# chains, -j, -g, RETURN, MARK then -m mark, mangling targets, the matches of --matches) are
# loaded into a router made of network namespaces with iptables-legacy, random packets are
# sent through it, and its per-rule counters are compared with those pktfilt-replay computes
# from the same rules and the same capture. --trace is checked too: the rules the replay's
# trace names are exactly those whose counters moved.
#
#   sender (pf-diff-snd: snd0) ==veth== in0 [router pf-diff-rtr] out0 ==veth== rcv0 (pf-diff-rcv)
#   in0 198.18.0.1/24, out0 198.19.0.1/24 (MTU 1400), 198.19.0.0/16 via 198.19.0.2 (rcv0).
#   Packets come from 198.18.1.0-198.18.255.255, which the router has no route back to: it can
#   never answer (ICMP errors, resets), so no locally generated packet touches the counters.
#
# Environment:
#   PF_DIFF_SEEDS=N        how many seeds (default 40), from PF_DIFF_SEED_START (default 1)
#   PF_DIFF_SEED=N         run this one seed only
#   PF_DIFF_MATCHES=LIST   extensions the rule sets use (gen.py --matches; default below)
#   PF_DIFF_TARGETS=LIST   targets (gen.py --targets; default all)
#   PF_DIFF_PACKETS=N      packets per seed (default 2000)
#   PF_DIFF_MATCHERS=LIST  the replay's matchers to check (default "linear hashed")
#   PF_DIFF_PROFILE=P      gen.py --profile: mixed, fragments, edge or output; default auto:
#                          by seed % 8: 3 and 7 fragments, 1 and 5 edge (malformed packets),
#                          6 output (the router sends the packets: OUTPUT, POSTROUTING), else
#                          mixed
#   PF_DIFF_KEEP=DIR       where the files of a failing seed are kept (default a new
#                          directory under /tmp); PF_DIFF_KEEP_ALL=1 keeps passing seeds too
#   PKTFILT_BUILD          the build directory (default ./build)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${PKTFILT_BUILD:-build}
replay=$build/tools/pktfilt-replay
gen=$root/tests/differential/gen.py
compare=$root/tests/differential/compare.py
inject=$root/tests/tools/pcap-inject.py

# The matches the rule sets use by default: those whose evaluation agrees with the kernel
# (every match gen.py knows, today). PF_DIFF_MATCHES= (empty) uses the core fields only.
default_matches=tcp,udp,icmp,multiport,iprange,length,ttl,tos,dscp,tcpmss,u32,string,mac,pkttype
default_matches=$default_matches,addrtype,statistic,comment,limit,recent,mark,sctp,hashlimit
matches=${PF_DIFF_MATCHES-$default_matches}
targets=${PF_DIFF_TARGETS:-}
packets=${PF_DIFF_PACKETS:-2000}
matchers=${PF_DIFF_MATCHERS:-linear hashed}
hung= # matchers that ran into the timeout: not run again
profile_env=${PF_DIFF_PROFILE:-auto}

skip() { echo "SKIP: differential: $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, iptables)"
for c in iptables-legacy-restore iptables-legacy-save iptables-legacy ip python3; do
    command -v "$c" >/dev/null || skip "$c is missing"
done
[ -x "$replay" ] || { echo "FAIL: differential: $replay is missing (PKTFILT_BUILD?)"; exit 1; }

SND=pf-diff-snd RTR=pf-diff-rtr RCV=pf-diff-rcv
IN_MAC=02:00:00:00:00:02 SND_MAC=02:00:00:00:00:01
OUT_MAC=02:00:00:00:01:01 RCV_MAC=02:00:00:00:01:02

# One run at a time: the namespace names are fixed.
if command -v flock >/dev/null; then
    exec 9>/tmp/pf-diff.lock
    flock -n 9 || { echo "differential: waiting for another run to finish"; flock 9; }
fi
work=$(mktemp -d /tmp/pf-diff.XXXXXX)
keep=${PF_DIFF_KEEP:-}
cleanup_ns() {
    for ns in $SND $RTR $RCV; do ip netns del "$ns" 2>/dev/null; done
}
trap 'cleanup_ns; rm -rf "$work"' EXIT

in_rtr() { ip netns exec $RTR "$@"; }

setup() {
    cleanup_ns
    ip netns add $SND && ip netns add $RTR && ip netns add $RCV || return 1
    for ns in $SND $RTR $RCV; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
            net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
        ip -n "$ns" link set lo up
    done
    ip link add snd0 netns $SND address $SND_MAC type veth peer name in0 netns $RTR \
        address $IN_MAC || return 1
    ip link add out0 netns $RTR address $OUT_MAC mtu 1400 type veth peer name rcv0 \
        netns $RCV address $RCV_MAC mtu 1400 || return 1
    in_rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
        net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.in0.rp_filter=0 \
        net.ipv4.conf.out0.rp_filter=0 net.ipv4.conf.all.accept_source_route=0 || return 1
    ip -n $RTR addr add 198.18.0.1/24 brd + dev in0 &&
        ip -n $RTR addr add 198.19.0.1/24 brd + dev out0 &&
        ip -n $RCV addr add 198.19.0.2/24 dev rcv0 &&
        ip -n $SND link set snd0 up && ip -n $RTR link set in0 up &&
        ip -n $RTR link set out0 up && ip -n $RCV link set rcv0 up &&
        ip -n $RTR neigh replace 198.19.0.2 lladdr $RCV_MAC dev out0 nud permanent &&
        ip -n $RTR route add 198.19.0.0/16 via 198.19.0.2 dev out0 || return 1
}

rx_packets() { in_rtr cat /sys/class/net/in0/statistics/rx_packets; }

# One seed: 0 same counters, 1 a difference (files kept), 2 the harness failed.
run_seed() {
    local seed=$1 d=$work/seed-$seed
    profile=$profile_env
    if [ "$profile" = auto ]; then
        case $((seed % 8)) in
        1 | 5) profile=edge ;; 3 | 7) profile=fragments ;; 6) profile=output ;; *) profile=mixed ;;
        esac
    fi
    mkdir -p "$d"
    local genargs=(--seed "$seed" --packets "$packets" --matches "$matches" --profile "$profile")
    [ -n "$targets" ] && genargs+=(--targets "$targets")
    python3 "$gen" "${genargs[@]}" --rules "$d/rules" --pcap "$d/packets.pcap" ||
        { echo "seed $seed: gen.py failed"; return 2; }
    setup || { echo "seed $seed: cannot set up the namespaces"; return 2; }
    if ! in_rtr iptables-legacy-restore <"$d/rules" 2>"$d/restore.err"; then
        echo "seed $seed: the kernel refused the rule set (a generator bug):"
        cat "$d/restore.err"
        local l
        l=$(grep -o "line [0-9]*" "$d/restore.err" | head -1 | cut -d' ' -f2)
        [ -n "$l" ] && sed -n "${l}p" "$d/rules"
        return 2
    fi
    local tables=()
    for t in raw mangle filter; do
        grep -q "^\*$t\$" "$d/rules" && tables+=("$t") && in_rtr iptables-legacy -t "$t" -Z
    done
    local rx0 rx1 nframes path=forward
    rx0=$(rx_packets)
    if [ "$profile" = output ]; then
        # The router sends the packets itself: OUTPUT, then POSTROUTING.
        path=output
        in_rtr python3 "$inject" --ip "$d/packets.pcap" >"$d/inject.out" 2>&1 ||
            { echo "seed $seed: the router could not send: $(tail -3 "$d/inject.out")"; return 2; }
    else
        ip netns exec $SND python3 "$inject" snd0 "$d/packets.pcap" >"$d/inject.out" 2>&1 ||
            { echo "seed $seed: injection lost frames: $(cat "$d/inject.out")"; return 2; }
    fi
    # veth hands frames to the backlog of a CPU; wait until every backlog is empty (the 12th
    # column of softnet_stat), for at most 5 s, then a little more.
    local i=0
    while [ $i -lt 100 ] && awk '$12 != "00000000" { busy = 1 } END { exit !busy }' \
        /proc/net/softnet_stat 2>/dev/null; do
        sleep 0.05
        i=$((i + 1))
    done
    sleep 0.1
    rx1=$(rx_packets)
    nframes=$(sed -n 's/^sent \([0-9]*\) frames.*/\1/p' "$d/inject.out")
    if [ $path = forward ] && [ "$((rx1 - rx0))" -ne "$nframes" ]; then
        echo "seed $seed: in0 received $((rx1 - rx0)) of $nframes frames"
        return 2
    fi
    : >"$d/kernel.save"
    for t in "${tables[@]}"; do in_rtr iptables-legacy-save -c -t "$t" >>"$d/kernel.save"; done
    local rargs=(--path $path -i in0 -o out0 --rules "$d/rules" --pcap "$d/packets.pcap"
        --local 198.18.0.1,198.19.0.1 --addr in0=198.18.0.1/24 --addr out0=198.19.0.1/24
        --route 198.19.0.0/16=out0 --in-mac $IN_MAC --mtu 1400 --trace)
    local ts m status=0 summary=
    ts=$(IFS=,; echo "${tables[*]}")
    : >"$d/compare.out"
    for m in $matchers; do
        case " $hung " in *" $m "*) continue ;; esac # it hung before: once is enough
        echo "$(cd "$(dirname "$replay")" && pwd)/pktfilt-replay --matcher $m ${rargs[*]}" |
            sed "s|$d/||g" >>"$d/replay.cmd" # run in the directory of the files
        timeout 30 "$replay" --matcher "$m" "${rargs[@]}" >"$d/replay.$m.out" 2>"$d/replay.$m.err"
        local rc=$?
        grep '^TRACE ' "$d/replay.$m.out" >"$d/trace.$m"
        grep -v '^TRACE ' "$d/replay.$m.out" >"$d/replay.$m.save"
        rm -f "$d/replay.$m.out"
        [ $rc -eq 124 ] && hung="$hung $m"
        if [ $rc -ne 0 ]; then
            echo "DIFF pktfilt-replay --matcher $m failed ($rc$([ $rc -eq 124 ] && echo ": no end in 30 s")): $(head -1 "$d/replay.$m.err")" >>"$d/compare.out"
            status=1
            continue
        fi
        python3 "$compare" "$d/kernel.save" "$d/replay.$m.save" --trace "$d/trace.$m" \
            --tables "$ts" >"$d/compare.$m.out" 2>&1 || status=1
        sed "s/^DIFF /DIFF [$m] /" "$d/compare.$m.out" | grep '^DIFF' >>"$d/compare.out"
        summary=$(tail -1 "$d/compare.$m.out")
    done
    echo "${summary:-no comparison} (matchers: $matchers)" >>"$d/compare.out"
    return $status
}

keep_files() { # seed
    local seed=$1
    [ -n "$keep" ] || keep=$(mktemp -d /tmp/pf-diff-kept.XXXXXX)
    mkdir -p "$keep"
    rm -rf "${keep:?}/seed-$seed"
    cp -r "$work/seed-$seed" "$keep/"
    {
        echo "# reproduce (as root, from the source tree):"
        echo "python3 tests/differential/gen.py --seed $seed --packets $packets --profile $profile --matches '$matches'${targets:+ --targets '$targets'} --rules rules --pcap packets.pcap"
        echo "PF_DIFF_SEED=$seed PF_DIFF_PROFILE=$profile PF_DIFF_MATCHES='$matches'${targets:+ PF_DIFF_TARGETS='$targets'} bash tests/integration/differential.sh"
        cat "$work/seed-$seed/replay.cmd" 2>/dev/null
    } >"$keep/seed-$seed/REPRODUCE"
    echo "    files kept in $keep/seed-$seed"
}

if [ -n "${PF_DIFF_SEED:-}" ]; then
    seeds=$PF_DIFF_SEED
else
    start=${PF_DIFF_SEED_START:-1}
    seeds=$(seq "$start" $((start + ${PF_DIFF_SEEDS:-40} - 1)))
fi

echo "differential: matches '${matches:-<core fields only>}', targets '${targets:-<all>}'"
pass=0 fail=0 broken=0 t0=$(date +%s)
for seed in $seeds; do
    run_seed "$seed"
    rc=$?
    case $rc in
    0)
        pass=$((pass + 1))
        [ -n "${PF_DIFF_KEEP_ALL:-}" ] && keep_files "$seed" >/dev/null
        [ -n "${PF_DIFF_VERBOSE:-}" ] && echo "seed $seed: $(tail -1 "$work/seed-$seed/compare.out")"
        ;;
    1)
        fail=$((fail + 1))
        echo "FAIL: differential seed $seed: $(tail -1 "$work/seed-$seed/compare.out" 2>/dev/null)"
        grep '^DIFF' "$work/seed-$seed/compare.out" 2>/dev/null | head -${PF_DIFF_SHOW:-12}
        keep_files "$seed"
        ;;
    *)
        broken=$((broken + 1))
        echo "FAIL: differential seed $seed: the harness failed"
        keep_files "$seed"
        ;;
    esac
    rm -rf "${work:?}/seed-$seed"
done
cleanup_ns
echo "differential: $((fail + broken)) of $((pass + fail + broken)) seeds differ or failed ($(($(date +%s) - t0)) s)"
[ -n "$hung" ] && echo "differential: pktfilt-replay hung with --matcher$hung (not run after that)"
echo "differential: $pass passed, $((fail + broken)) failed"
[ $((fail + broken)) -eq 0 ]

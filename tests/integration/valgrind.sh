#!/usr/bin/env bash
# valgrind.sh - the CLI (commands, listings, save, restore) and pktfilt-replay under valgrind:
# no invalid access and no leak.
set -u
build=${PKTFILT_BUILD:-build}
command -v valgrind >/dev/null || { echo "SKIP: valgrind not installed"; [ "${CI:-}" = true ] && exit 1; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PKTFILT_STATE=$tmp/state
pass=0 fail=0
vg() { # description, command...
    local d=$1; shift
    if valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=99 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null; then :; fi
    if grep -q "==[0-9]*==" "$tmp/err"; then
        fail=$((fail + 1)); echo "FAIL: $d"; head -30 "$tmp/err"
    else
        pass=$((pass + 1))
    fi
}
P=$build/tools/pktfilt
vg "-N" "$P" -N WEB
vg "-A with matches" "$P" -A INPUT -p tcp -m multiport --dports 80,443 -m comment --comment "a b" -j WEB
vg "-A with expansion" "$P" -A WEB -s 198.18.0.1,198.18.0.2 -m limit --limit 3/min -j LOG --log-prefix "x "
vg "-A error" "$P" -A INPUT -p tcp --dport 99999
vg "-I" "$P" -I INPUT 1 -m conntrack --ctstate ESTABLISHED -j ACCEPT
vg "-L" "$P" -L -n -v -x --line-numbers
vg "-S" "$P" -S
vg "-D" "$P" -D INPUT 1
vg "-X error" "$P" -X WEB
vg "save" "$build/tools/pktfilt-save" -c
"$build/tools/pktfilt-save" >"$tmp/saved"
vg "restore" "$build/tools/pktfilt-restore" "$tmp/saved"
printf '*filter\n-A INPUT -j ACCEPT\n-A INPUT --bogus\nCOMMIT\n' >"$tmp/bad"
vg "restore error" "$build/tools/pktfilt-restore" "$tmp/bad"
if [ -x "$build/tools/pktfilt-replay" ] && command -v python3 >/dev/null; then
    printf '198.18.0.1 198.19.0.1 6 1234 80\n198.18.0.1 198.19.0.1 17 53 53 len=100\n198.18.0.2 198.19.0.1 1 8 0\n198.18.0.2 198.19.0.1 6 1 2 frag=0x0003\n' |
        python3 tests/tools/pcapgen.py "$tmp/p.pcap"
    vg "replay" "$build/tools/pktfilt-replay" --trace --rules "$tmp/saved" --pcap "$tmp/p.pcap"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

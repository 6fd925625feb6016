#!/usr/bin/env bash
# demo.sh - a short tour of the pktfilt CLI: user chains, extensions, listings, mistakes reported
# as iptables reports them, and save/restore. Uses a private state file; changes nothing else.
set -uo pipefail
bin=${1:-build/tools}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export PKTFILT_STATE=$dir/rules.v4
run() { echo "\$ pktfilt $*"; "$bin/pktfilt" "$@"; echo "  (exit $?)"; }

run -N WEB
run -A INPUT -i lo -j ACCEPT
run -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
run -A INPUT -p tcp -m multiport --dports 80,443 -j WEB
run -A WEB -s 198.18.0.0/24,198.19.0.0/24 -m comment --comment "lab nets" -j ACCEPT
run -A WEB -m limit --limit 5/min -j LOG --log-prefix "web drop: "
run -A WEB -j DROP
run -t nat -A POSTROUTING -s 198.18.0.0/15 -o eth0 -j MASQUERADE
run -P INPUT DROP
run -S
run -L -n -v --line-numbers
echo "# mistakes are reported in iptables' words and change nothing:"
run -A INPUT -p tcp --dport 99999 -j ACCEPT
run -X WEB
run -A INPUT -j NOSUCHCHAIN
echo "\$ pktfilt-save > saved.rules"
"$bin/pktfilt-save" > "$dir/saved.rules"
cat "$dir/saved.rules"
echo "\$ pktfilt -F; pktfilt -X; pktfilt-restore < saved.rules"
"$bin/pktfilt" -F; "$bin/pktfilt" -X
"$bin/pktfilt-restore" < "$dir/saved.rules"
run -S WEB

#!/usr/bin/env bash
# deps.sh - install the Debian packages pktfilt needs to build and test, when missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config check uthash-dev libmnl-dev libnetfilter-queue-dev
      libnfnetlink-dev libpcap-dev liburcu-dev iptables ipset iproute2 netbase valgrind time python3
      iputils-ping curl)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

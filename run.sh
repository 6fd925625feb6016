#!/usr/bin/env bash
# run.sh - build pktfilt and run the main job: pktfiltd filtering real traffic between network
# namespaces (client -- firewall -- server), with the rules changed live through the usual
# pktfilt commands (examples/daemon_demo.sh). Not root: the same rules judge a generated
# capture offline with pktfilt-replay instead. The CLI tour: examples/demo.sh.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
exec bash examples/daemon_demo.sh build

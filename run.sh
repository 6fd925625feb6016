#!/usr/bin/env bash
# run.sh - build pktfilt and run the main job: for now a demo of the CLI and save/restore on a
# private state file (the NFQUEUE daemon demo will replace it).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
exec bash examples/demo.sh build/tools

#!/usr/bin/env bash
# test.sh - build pktfilt twice (normal, and with ASan+UBSan) and run every test on both:
# the Check unit tests (ctest), then the conformance tests against iptables-legacy (root).
set -uo pipefail
cd "$(dirname "$0")"
bash scripts/deps.sh || exit 1
jobs=$(nproc 2>/dev/null || echo 2)
fail=0

build() { # dir, extra cmake args...
    local dir=$1; shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.cmake.log" 2>&1 ||
        { cat "$dir.cmake.log"; return 1; }
    cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; return 1; }
}

mkdir -p build build-asan
echo "== build (normal)"
build build || exit 1
echo "== build (ASan+UBSan)"
build build-asan -DPKTFILT_SANITIZE=ON || exit 1

echo "== unit tests (normal)"
(cd build && ctest --output-on-failure) || fail=1
echo "== unit tests (ASan+UBSan)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure) || fail=1

echo "== conformance against iptables-legacy (normal build)"
for t in tests/conformance/run-corpus.sh tests/conformance/run-iptables-t.sh tests/conformance/run-realworld.sh; do
    [ -f "$t" ] || continue
    echo "-- $t"
    PKTFILT_BIN=$PWD/build/tools/pktfilt bash "$t" || fail=1
done
echo "== conformance corpus under ASan+UBSan"
if [ -f tests/conformance/run-corpus.sh ]; then
    ASAN_OPTIONS=detect_leaks=1 PKTFILT_BIN=$PWD/build-asan/tools/pktfilt bash tests/conformance/run-corpus.sh || fail=1
fi
echo "== integration tests"
for t in tests/integration/*.sh; do
    [ -f "$t" ] || continue
    echo "-- $t"
    PKTFILT_BUILD=$PWD/build bash "$t" || fail=1
done

if [ $fail -ne 0 ]; then echo "test.sh: FAILED"; exit 1; fi
echo "test.sh: all tests passed"

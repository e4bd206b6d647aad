#!/usr/bin/env bash
# Builds the libFuzzer target with clang (ASan + UBSan) into ./build-fuzz and
# runs it on the seed corpus for SECONDS (default 600). New inputs go to
# build-fuzz/corpus; a crash leaves build-fuzz/crash-* to reproduce with
#   build-fuzz/tests/fuzz/fuzz_framing build-fuzz/crash-...
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
scripts/setup.sh --test >/dev/null
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DH264LINK_FUZZ=ON -DH264LINK_BUILD_TESTS=OFF -DH264LINK_WERROR=OFF >/dev/null
cmake --build build-fuzz --target fuzz_framing
mkdir -p build-fuzz/corpus
cd build-fuzz
./tests/fuzz/fuzz_framing corpus ../tests/fuzz/corpus -max_total_time="$seconds" \
  -max_len=4096 -print_final_stats=1 -artifact_prefix=./

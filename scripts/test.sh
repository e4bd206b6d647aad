#!/usr/bin/env bash
# Installs, builds, and runs the whole test suite (CTest). GUI tests get their
# own Xvfb server. Extra arguments go to ctest, e.g. `scripts/test.sh -L unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
cd build
ctest --output-on-failure --timeout 600 "$@"

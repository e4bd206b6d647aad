#!/usr/bin/env bash
# Builds the Debian package: a Release build (no tests) in build-package/,
# with Debian's hardening flags, then CPack.
#   scripts/package.sh        -> build-package/h264link_VERSION_amd64.deb
# Needs the build packages (scripts/setup.sh) and help2man and dpkg-dev
# (scripts/setup.sh --test installs both).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in help2man dpkg-shlibdeps dpkg-buildflags; do
  command -v "$tool" >/dev/null || { echo "package: $tool is missing (scripts/setup.sh --test installs it)"; exit 1; }
done
export DEB_BUILD_MAINT_OPTIONS=hardening=+all # bindnow and PIE too, as Debian builds packages
cmake -S . -B build-package -G Ninja -DCMAKE_BUILD_TYPE=Release -DH264LINK_BUILD_TESTS=OFF \
  -DCMAKE_CXX_FLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)" \
  -DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)"
cmake --build build-package --parallel --target sender receiver man_pages package_changelog
rm -f build-package/h264link_*.deb
(cd build-package && cpack -G DEB)
ls build-package/h264link_*_amd64.deb

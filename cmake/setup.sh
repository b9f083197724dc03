#!/usr/bin/env bash
# Installs what autointerp needs from Debian 12 packages, and nothing when all is there.
# Usage: cmake/setup.sh [extra-package ...]   (chromium is for the HTML report's browser test)
set -euo pipefail
packages=(libboost1.81-dev libboost-json1.81-dev libssl-dev libzstd-dev libgtest-dev
          libbenchmark-dev libcli11-dev libopenblas-dev cmake g++ make zstd ccache chromium
          dpkg-dev file "$@")  # cpack -G DEB runs dpkg-shlibdeps (dpkg-dev), which needs file
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "setup: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}" ||
  { "${sudo_cmd[@]}" apt-get update && "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; }

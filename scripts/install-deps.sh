#!/usr/bin/env bash
# install-deps.sh - install memgate's build, runtime and test dependencies (Debian/Ubuntu)
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config git ca-certificates
  libcjson-dev libyaml-dev libgit2-dev libcurl4-openssl-dev libdw-dev libelf-dev
  python3 python3-jsonschema valgrind heaptrack time binutils elfutils
)
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

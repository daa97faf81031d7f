#!/usr/bin/env bash
# install-deps.sh - the packages memgate builds with, on a Debian/Ubuntu runner (the action's first step)
set -euo pipefail
pkgs=(build-essential cmake pkg-config libcjson-dev libyaml-dev libgit2-dev
      libcurl4-openssl-dev libdw-dev libelf-dev libiberty-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
echo "memgate: installing ${missing[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# install-deps.sh - install memgate's build, runtime and test dependencies (Debian/Ubuntu)
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config git ca-certificates
  libcjson-dev libyaml-dev libgit2-dev libcurl4-openssl-dev libdw-dev libelf-dev libiberty-dev
  python3 python3-jsonschema valgrind heaptrack time binutils elfutils cmark-gfm strace
  chromium libgtest-dev dwz
)
# Node.js and npm: Debian's, unless the machine already has them (NodeSource's
# nodejs package bundles npm and conflicts with Debian's npm package)
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
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

# The tests' npm tools (tests/node/package.json: GitHub's OpenAPI description
# and webhook payloads, the action/workflow validators, playwright-core,
# speedscope's schema), exactly as package-lock.json pins them.
here=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$here/tests/node/node_modules" ] ||
   [ "$here/tests/node/package-lock.json" -nt "$here/tests/node/node_modules/.package-lock.json" ]; then
  echo "installing the tests' npm tools (tests/node)"
  (cd "$here/tests/node" && npm ci --no-audit --no-fund --loglevel=error)
fi

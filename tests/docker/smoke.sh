#!/bin/sh
# smoke.sh - build the Dockerfile and gate a Linux test program in the image, as a
# macOS or Windows user would (README, "Docker")
#
# usage: tests/docker/smoke.sh BUILD_DIR   (BUILD_DIR: a build of this tree, for fx_basic)
# Needs a running Docker daemon.  Without access to Docker Hub, a debian:bookworm
# base image is made first from Debian's archive with debootstrap (about 40 s).
# Not a ctest: CI machines have no Docker daemon; run it by hand after changing
# the Dockerfile or the runtime dependencies.
set -u
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
check() { what=$1; shift; "$@" || { echo "FAIL: $what" >&2; fail=1; }; }

if ! docker image inspect debian:bookworm >/dev/null 2>&1 &&
   ! docker pull -q debian:bookworm >/dev/null 2>&1; then
	echo "smoke: no debian:bookworm image: making one with debootstrap"
	debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >/dev/null || exit 1
	tar -C "$work/rootfs" -c . | docker import - debian:bookworm >/dev/null
	rm -rf "$work/rootfs"
fi
docker image inspect debian:bookworm-slim >/dev/null 2>&1 ||
	docker pull -q debian:bookworm-slim >/dev/null 2>&1 ||
	docker tag debian:bookworm debian:bookworm-slim
git clone -q "$src" "$work/ctx" || exit 1
docker build -q -t memgate-smoke "$work/ctx" >/dev/null || { echo "FAIL: docker build" >&2; exit 1; }

mkdir "$work/repo" && cd "$work/repo" || exit 1
cp "$build/tests/fx_basic" .
git init -q -b main . && git config user.email t@example.com && git config user.name test
printf 'version: 1\ntests:\n  - name: b\n    run: [./fx_basic]\n' > memgate.yml
printf 'profiles/\n' > .gitignore
run() { docker run --rm -v "$work/repo":/work -w /work memgate-smoke "$@"; }
check "run in the image" run run
check "accept in the image" run accept --reason smoke
git add -A && git commit -qm base
run check -v > out.txt 2>&1; rc=$?
check "check passes in the image (got $rc)" [ "$rc" = 0 ]
check "leaks gated by kind in the image" grep -Eq '^b +definitely_lost_bytes +0 +0 ' out.txt
check "leaked bytes exact" grep -Eq '^b +leaked_bytes +200 +200 ' out.txt
docker image rm -f memgate-smoke >/dev/null
[ $fail = 0 ] && echo "ok: the image builds and gates a test"
exit $fail

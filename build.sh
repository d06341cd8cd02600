#!/usr/bin/env bash
# shiftc build script.
#   ./build.sh          install missing Debian packages, build build/shiftc
#   ./build.sh test     ... and run every test (unit, sanitizers, end-to-end, ONNX conformance)
#   ./build.sh demo     ... and compile the bundled CNN, run it, report accuracy and size
#   ./build.sh clean
set -euo pipefail
cd "$(dirname "$0")"

# What each package is for: see README.md, "Dependencies".
BUILD_PKGS=(gcc make binutils protobuf-c-compiler libprotobuf-c-dev libonnx-dev libcmocka-dev)
TEST_PKGS=(clang python3-numpy python3-onnx python3-torch dataset-fashion-mnist)

need_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "build.sh: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

build() {
    need_packages "${BUILD_PKGS[@]}"
    make -j"$(nproc)" all
}

case "${1:-build}" in
build)
    build
    ;;
test)
    need_packages "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"
    build
    exec tests/run_all.sh
    ;;
demo)
    build
    exec tests/demo.sh
    ;;
clean)
    make clean
    ;;
*)
    echo "usage: ./build.sh [build|test|demo|clean]" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# shiftc build script.
#   ./build.sh          install missing Debian packages, build build/shiftc
#   ./build.sh test     ... and run every test (unit, sanitizers, end-to-end, ONNX conformance)
#   ./build.sh demo     ... and compile the bundled CNN for Cortex-M4, run it on the emulated
#                       board, report accuracy, flash, RAM and instructions per inference
#   ./build.sh clean
set -euo pipefail
cd "$(dirname "$0")"

# What each package is for: see README.md, "Dependencies".
BUILD_PKGS=(gcc make binutils protobuf-c-compiler libprotobuf-c-dev libonnx-dev libcmocka-dev libclang-dev liblua5.4-dev libcjson-dev)
# the targets (tests/targets.sh): cross toolchains, picolibc, QEMU, callgrind
TARGET_PKGS=(gcc-aarch64-linux-gnu gcc-riscv64-linux-gnu qemu-user
             gcc-arm-none-eabi picolibc-arm-none-eabi qemu-system-arm
             gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc valgrind)
TEST_PKGS=(clang libclang-rt-14-dev python3-numpy python3-onnx python3-torch python3-pil chromium dataset-fashion-mnist "${TARGET_PKGS[@]}")
# the demo: the CNN on the emulated Cortex-M4 board, accuracy computed with numpy
DEMO_PKGS=(gcc-arm-none-eabi picolibc-arm-none-eabi qemu-system-arm python3-numpy)

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
    need_packages "${BUILD_PKGS[@]}" "${DEMO_PKGS[@]}"
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

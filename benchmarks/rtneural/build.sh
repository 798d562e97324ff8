#!/usr/bin/env bash
# Build the RTNeural streaming benchmark (not part of CI; see README.md).
#
#   benchmarks/rtneural/build.sh [RTNEURAL_DIR] [XSIMD_DIR]
#
# or set RTNEURAL_DIR / XSIMD_DIR in the environment. XSIMD_DIR defaults to
# $RTNEURAL_DIR/modules/xsimd (the submodule). Other variables: BUILD_DIR (default
# benchmarks/rtneural/build, git-ignored), CXX (g++), CXXFLAGS (-O3 -march=native -std=c++17),
# RTNEURAL_COMMIT / XSIMD_COMMIT (commit ids to report when the folders are not git checkouts).
# The binary is $BUILD_DIR/bench_rtneural.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RTNEURAL_DIR="${1:-${RTNEURAL_DIR:-}}"
XSIMD_DIR="${2:-${XSIMD_DIR:-${RTNEURAL_DIR:+$RTNEURAL_DIR/modules/xsimd}}}"
BUILD_DIR="${BUILD_DIR:-$here/build}"
CXX="${CXX:-g++}"
CXXFLAGS="${CXXFLAGS:--O3 -march=native -std=c++17}"

die() {
    echo "build.sh: $*" >&2
    echo "Get the sources (see $here/README.md):" >&2
    echo "  git clone https://github.com/jatinchowdhury18/RTNeural && git -C RTNeural checkout 1fb1f07 && git -C RTNeural submodule update --init" >&2
    echo "then: RTNEURAL_DIR=\$PWD/RTNeural $0   (or $0 RTNeural [xsimd])" >&2
    exit 1
}
[[ -n "$RTNEURAL_DIR" ]] || die "RTNEURAL_DIR is not set"
[[ -f "$RTNEURAL_DIR/RTNeural/RTNeural.h" ]] || die "no RTNeural sources in '$RTNEURAL_DIR' (missing RTNeural/RTNeural.h)"
[[ -f "$RTNEURAL_DIR/modules/Eigen/Eigen/Dense" ]] || die "no Eigen in '$RTNEURAL_DIR/modules/Eigen'"
[[ -f "$RTNEURAL_DIR/modules/json/json.hpp" ]] || die "no nlohmann json in '$RTNEURAL_DIR/modules/json'"
[[ -f "$XSIMD_DIR/include/xsimd/xsimd.hpp" ]] || die "no xsimd in '$XSIMD_DIR' (missing include/xsimd/xsimd.hpp; run 'git submodule update --init' in RTNeural or set XSIMD_DIR)"
RTNEURAL_DIR="$(cd "$RTNEURAL_DIR" && pwd)"
XSIMD_DIR="$(cd "$XSIMD_DIR" && pwd)"

commit_of() { # $1 = folder, $2 = fallback; the folder's own git commit if it is a checkout's top level
    local top
    top="$(git -C "$1" rev-parse --show-toplevel 2>/dev/null || true)"
    if [[ -n "$top" && "$(cd "$top" && pwd)" == "$1" ]]; then git -C "$1" rev-parse --short=8 HEAD; else echo "$2"; fi
}
rtn_commit="$(commit_of "$RTNEURAL_DIR" "${RTNEURAL_COMMIT:-unknown}")"
xs_commit="$(commit_of "$XSIMD_DIR" "${XSIMD_COMMIT:-unknown}")"

# xsimd's batch<float> is as wide as the widest ISA the flags enable, and RTNeural's xsimd code
# stores batches with store_aligned into alignas(RTNEURAL_DEFAULT_ALIGNMENT) buffers, so the
# alignment must be 64 under AVX-512. RTNeural's Eigen code accepts only 8/16/32.
predef="$($CXX $CXXFLAGS -dM -E -x c++ /dev/null)"
if grep -q '__AVX512F__' <<<"$predef"; then xs_align=64; elif grep -q '__AVX__' <<<"$predef"; then xs_align=32; else xs_align=16; fi
if grep -q '__AVX__' <<<"$predef"; then eigen_align=32; else eigen_align=16; fi

mkdir -p "$BUILD_DIR"
cat >"$BUILD_DIR/build_info.h" <<EOF
#define BENCH_RTNEURAL_COMMIT "$rtn_commit"
#define BENCH_XSIMD_COMMIT "$xs_commit"
#define BENCH_FLAGS "$CXXFLAGS"
EOF

src="$here/bench_rtneural.cpp"
common=(-I"$RTNEURAL_DIR" -I"$RTNEURAL_DIR/modules/json")
xsimd_defs=(-DRTNEURAL_USE_XSIMD=1 -DRTNEURAL_NAMESPACE=RTNeuralXsimd -DRTNEURAL_DEFAULT_ALIGNMENT=$xs_align -I"$XSIMD_DIR/include")
eigen_defs=(-DRTNEURAL_USE_EIGEN=1 -DRTNEURAL_NAMESPACE=RTNeuralEigen -DRTNEURAL_DEFAULT_ALIGNMENT=$eigen_align -I"$RTNEURAL_DIR/modules/Eigen")

echo "RTNeural $rtn_commit ($RTNEURAL_DIR), xsimd $xs_commit ($XSIMD_DIR)"
echo "$CXX $CXXFLAGS; alignment xsimd $xs_align, Eigen $eigen_align; output in $BUILD_DIR"
pids=()
run_bg() { echo "+ $*"; "$@" & pids+=($!); }
run_bg $CXX $CXXFLAGS "${common[@]}" "${xsimd_defs[@]}" -DBENCH_PART_XSIMD -c "$src" -o "$BUILD_DIR/engine_xsimd.o"
run_bg $CXX $CXXFLAGS "${common[@]}" "${eigen_defs[@]}" -DBENCH_PART_EIGEN -c "$src" -o "$BUILD_DIR/engine_eigen.o"
# RTNeural's own translation unit (explicit instantiations of Model/Layer), Eigen build
run_bg $CXX $CXXFLAGS "${common[@]}" "${eigen_defs[@]}" -c "$RTNEURAL_DIR/RTNeural/RTNeural.cpp" -o "$BUILD_DIR/rtneural_eigen.o"
run_bg $CXX $CXXFLAGS -I"$BUILD_DIR" -DBENCH_PART_MAIN -c "$src" -o "$BUILD_DIR/main.o"
for pid in "${pids[@]}"; do wait "$pid"; done # set -e: stops at the first failed compile
echo "+ link"
$CXX $CXXFLAGS "$BUILD_DIR"/{main,engine_xsimd,engine_eigen,rtneural_eigen}.o -o "$BUILD_DIR/bench_rtneural"
echo "built $BUILD_DIR/bench_rtneural"

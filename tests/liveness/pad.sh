#!/usr/bin/env bash
# pad.sh — SYNTHETIC APCER/BPCER of the liveness checks (action, photinus, silent), from
# sequences that tests/liveness/synth.h generates out of the real face images of images.tsv.
# Prints a Markdown table (docs/liveness.md quotes it).
#
#   tests/liveness/pad.sh [trials per face]      (default 6)
#
# Needs the converted models (deploy/models/fetch.sh) and the Debian image packages; no node.
# Takes ~1 minute per trial on one core. Work files: build/release/liveness/.
set -euo pipefail
LV_NAME=pad
. "$(dirname "$0")/common.sh"
cd "$LV_REPO"
trials=${1:-6}

lv_models
make -s BUILD=release build/release/lib/libshiren-liveness.a build/release/lib/libshiren-common.a
out=build/release/liveness
mkdir -p "$out"
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iservices -Itests/liveness \
	tests/liveness/pad_report.c build/release/lib/libshiren-liveness.a \
	build/release/lib/libshiren-common.a $(pkg-config --libs openssl) \
	-lopenblas -ljpeg -lpng -lm -o "$out/pad_report"
lv_blas_env "$out/pad_report"
mapfile -t images < <(lv_images)
echo "pad: $(nproc) CPU(s), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}, $trials trial(s) per face" >&2
"$out/pad_report" "$LV_MODELS" "$trials" "${images[@]}"

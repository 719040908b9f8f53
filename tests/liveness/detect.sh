#!/usr/bin/env bash
# detect.sh — BlazeFace short range (liveness_detect) on real images: faces found in the 9 face
# images of images.tsv (each detection overlapping a face-api reference box of faces.tsv, one
# face exactly where the reference has one), none in the 5 images of negatives.tsv.
#
#   tests/liveness/detect.sh
#
# Needs what parity.sh needs, except node. Work files: build/release/liveness/.
set -euo pipefail
LV_NAME=detect
. "$(dirname "$0")/common.sh"
cd "$LV_REPO"

lv_models
make -s BUILD=release build/release/lib/libshiren-liveness.a
out=build/release/liveness
mkdir -p "$out"
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iservices tests/liveness/detect_check.c \
	build/release/lib/libshiren-liveness.a -lopenblas -ljpeg -lpng -lm -o "$out/detect_check"
lv_blas_env "$out/detect_check"

mapfile -t faces < <(lv_images)
mapfile -t negatives < <(lv_images "$LV_DIR/negatives.tsv")
model="$LV_MODELS/face_detection_short_range.shnn"
rc=0
"$out/detect_check" pos "$model" tests/liveness/faces.tsv "${faces[@]}" || rc=1
"$out/detect_check" neg "$model" "${negatives[@]}" || rc=1
exit $rc

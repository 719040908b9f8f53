#!/usr/bin/env bash
# parity.sh — the C descriptor network against the Node peer (face-api 1.7.15 on tfjs-wasm),
# same weight bytes, same 150x150 chips. Prints max_abs_diff=<value>; exit 1 if any component
# differs by more than 1e-3 or any same/different decision at distance 0.6 differs.
#
#   tests/liveness/parity.sh            use the committed face boxes (tests/liveness/faces.tsv)
#   tests/liveness/parity.sh --detect   re-detect the boxes with the peer first and rewrite faces.tsv
#
# Needs: npm (registry), node 20, cc, libopenblas-dev libjpeg62-turbo-dev libpng-dev, and the
# Debian image packages python3-skimage opencv-doc facedetect. Work files: build/release/liveness/.
set -euo pipefail
LV_NAME=parity
. "$(dirname "$0")/common.sh"
cd "$LV_REPO"

lv_models
lv_peer_install
make -s BUILD=release build/release/lib/libshiren-liveness.a
out=build/release/liveness
mkdir -p "$out"
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iservices tests/liveness/parity.c \
	build/release/lib/libshiren-liveness.a -lopenblas -ljpeg -lpng -lm -o "$out/parity"
lv_blas_env "$out/parity"

work="$out/parity-work"
rm -rf "$work"
mkdir -p "$work/full" "$work/crops"
mapfile -t images < <(lv_images)
"$out/parity" decode "$work" "${images[@]}"

if [ "${1:-}" = "--detect" ] || [ ! -f tests/liveness/faces.tsv ]; then
	args=()
	for it in "${images[@]}"; do
		args+=("${it%%=*}=$work/full/${it%%=*}.ppm")
	done
	# detection only picks the boxes, so its weights come from the peer's own package
	# (integrity-checked by npm ci), not from the engine's verified set
	node tests/liveness/peer.js detect tests/liveness/node_modules/@vladmandic/face-api/model \
		tests/liveness/faces.tsv "${args[@]}"
	echo "parity: rewrote tests/liveness/faces.tsv"
fi

"$out/parity" crops "$work" tests/liveness/faces.tsv
node tests/liveness/peer.js describe "$LV_VERIFIED" "$work/peer.json" "$work/crops"
"$out/parity" compare "$work" "$LV_MODELS/face_recognition.shnn" "$work/peer.json"

#!/usr/bin/env bash
# mesh.sh — face mesh checks on the real images of images.tsv:
#   1. parity: our mesh network against the reference TFLite interpreter (LiteRT) on the chips
#      our pipeline cut (max |diff| <= 1e-3 chip pixels, else exit 1);
#   2. the mesh <-> face-api 68-point correspondence (tests/liveness/mesh_map.py) and its
#      residuals: where the eye/lip indices of liveness_face.c come from;
#   3. alignment: the landmark-aligned descriptor chip against the detector-box crop under
#      rotations, scaling, mirroring and shifts (align_check; exit 1 if it does worse).
#
#   tests/liveness/mesh.sh
#
# Needs what parity.sh needs, plus PyPI for the test-only interpreter: ai-edge-litert (pinned
# below) in a virtualenv under the cache (${SHIREN_CACHE:-~/.cache/shiren}/venv-litert).
# Work files: build/release/liveness/mesh-work/.
set -euo pipefail
LV_NAME=mesh
. "$(dirname "$0")/common.sh"
cd "$LV_REPO"
LITERT_VERSION=2.3.0

lv_models
lv_peer_install
make -s BUILD=release build/release/lib/libshiren-liveness.a
out=build/release/liveness
mkdir -p "$out"
for t in mesh_check align_check; do
	cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iservices "tests/liveness/$t.c" \
		build/release/lib/libshiren-liveness.a -lopenblas -ljpeg -lpng -lm -o "$out/$t"
done
lv_blas_env "$out/mesh_check"

venv="${SHIREN_CACHE:-$HOME/.cache/shiren}/venv-litert"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import ai_edge_litert" 2>/dev/null; then
	echo "mesh: installing ai-edge-litert $LITERT_VERSION into $venv (test-only)" >&2
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q "ai-edge-litert==$LITERT_VERSION" || lv_die "pip install failed"
fi

work="$out/mesh-work"
rm -rf "$work"
mkdir -p "$work/full"
mapfile -t images < <(lv_images)
M="$LV_MODELS"
"$out/mesh_check" run "$M/face_detection_short_range.shnn" "$M/face_landmark.shnn" \
	"$M/face_geometry.shnn" "$work" "${images[@]}"
rc=0
"$venv/bin/python" tests/liveness/mesh_parity.py "$LV_VERIFIED/face_landmark.tflite" "$work" \
	2> >(grep -v '^INFO: Created TensorFlow Lite' >&2) || rc=1

# the peer's 68 points on the same decoded pixels
"$out/mesh_check" decode "$work/full" "${images[@]}"
args=()
for it in "${images[@]}"; do
	args+=("${it%%=*}=$work/full/${it%%=*}.ppm")
done
node tests/liveness/peer.js landmarks tests/liveness/node_modules/@vladmandic/face-api/model \
	"$work/lm68.tsv" "${args[@]}"
python3 tests/liveness/mesh_map.py "$work/mesh.tsv" "$work/lm68.tsv" >"$work/map.tsv"
grep -E '^# ' "$work/map.tsv" | sed 's/^# /mesh: /'
awk -F'\t' '$1 ~ /^(36|37|38|39|40|41|48|54|60|61|62|63|64|65|66|67|30)$/ {
	printf "mesh: 68-point %s -> mesh %s (%.3f iod)\n", $1, $2, $3 }' "$work/map.tsv"

"$out/align_check" "$M/face_detection_short_range.shnn" "$M/face_landmark.shnn" \
	"$M/face_geometry.shnn" "$M/face_recognition.shnn" "${images[@]}" || rc=1
exit $rc

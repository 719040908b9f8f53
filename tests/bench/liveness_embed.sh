#!/usr/bin/env bash
# liveness_embed.sh — decode + chip + 128-D descriptor per image: the C engine
# (build/release/bench/bench_liveness_embed, one BLAS thread) against the Node peer
# (face-api 1.7.15, tfjs-wasm) on the same images and face boxes, printing both and the ratio.
#
#   tests/bench/liveness_embed.sh [reps]      (default 20 timed runs per image, after a warm-up)
#
# Images: tests/liveness/images.tsv (hash-checked); boxes: tests/liveness/faces.tsv.
set -euo pipefail
LV_NAME=bench
. "$(dirname "$0")/../liveness/common.sh"
cd "$LV_REPO"
reps=${1:-20}

lv_models
lv_peer_install
make -s BUILD=release build/release/bench/bench_liveness_embed
bin=build/release/bench/bench_liveness_embed
lv_blas_env "$bin"
mapfile -t images < <(lv_images)

echo "bench: $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
	"load $(cut -d' ' -f1-3 /proc/loadavg), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}"
c_out=$("$bin" "$LV_MODELS/face_recognition.shnn" tests/liveness/faces.tsv "$reps" "${images[@]}")
echo "$c_out"
p_out=$(node tests/liveness/peer.js bench "$LV_VERIFIED" tests/liveness/faces.tsv "$reps" "${images[@]}")
echo "$p_out"

val() { # key, text
	grep -o "$1=[0-9.]*" <<<"$2" | head -1 | cut -d= -f2
}
for q in p50 p99; do
	c=$(val "c_total_${q}_ms" "$c_out")
	p=$(val "peer_total_${q}_ms" "$p_out")
	awk -v q="$q" -v c="$c" -v p="$p" \
		'BEGIN { printf "bench: decode+embed %s: C %.2f ms, peer %.2f ms, peer/C %.1fx\n", q, c, p, p / c }'
done

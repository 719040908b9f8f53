#!/usr/bin/env bash
# liveness_embed.sh — liveness engine timing against the Node peer (face-api 1.7.15,
# tfjs-wasm), one BLAS thread, both sides in the same run:
#   1. decode + chip + 128-D descriptor per image (bench_liveness_embed) on the images of
#      tests/liveness/images.tsv with the boxes of tests/liveness/faces.tsv;
#   2. the whole photo pipeline, decode + detect + landmarks + aligned descriptor
#      (bench_liveness_pipeline: BlazeFace, face mesh x2, pose, quality, descriptor; the peer:
#      SSD MobileNet v1, 68 landmarks, descriptor) on 640x480 JPEG selfies framed from those
#      images, with resident memory per worker.
#
#   tests/bench/liveness_embed.sh [reps]      (default 20 timed runs per image, after a warm-up)
set -euo pipefail
LV_NAME=bench
. "$(dirname "$0")/../liveness/common.sh"
cd "$LV_REPO"
reps=${1:-20}

lv_models
lv_peer_install
make -s BUILD=release build/release/bench/bench_liveness_embed \
	build/release/bench/bench_liveness_pipeline
bin=build/release/bench/bench_liveness_embed
pipe=build/release/bench/bench_liveness_pipeline
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

selfies=build/release/liveness/selfies
rm -rf "$selfies"
mkdir -p "$selfies"
"$pipe" selfies "$LV_MODELS" "$selfies" "${images[@]}"
mapfile -t shots < <(for f in "$selfies"/*.jpg; do echo "$(basename "$f" .jpg)=$f"; done)
[ "${#shots[@]}" -gt 0 ] || lv_die "no selfies were made"
c_out=$("$pipe" run "$LV_MODELS" "$reps" "${shots[@]}")
echo "$c_out"
p_out=$(node tests/liveness/peer.js pipeline tests/liveness/node_modules/@vladmandic/face-api/model \
	"$reps" "${shots[@]}")
echo "$p_out"
for q in p50 p99; do
	c=$(val "c_pipe_${q}_ms" "$c_out")
	p=$(val "peer_pipe_${q}_ms" "$p_out")
	awk -v q="$q" -v c="$c" -v p="$p" -v n="${#shots[@]}" \
		'BEGIN { printf "bench: 640x480 selfie (%d images) decode+detect+landmarks+embed %s: C %.2f ms, peer %.2f ms, peer/C %.1fx\n", n, q, c, p, p / c }'
done

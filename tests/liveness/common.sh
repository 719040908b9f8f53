# common.sh — sourced by tests/liveness/parity.sh and tests/bench/liveness_embed.sh.
# Paths, the verified image list, the peer's node_modules and the BLAS environment.
# shellcheck shell=bash

LV_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LV_DIR="$LV_REPO/tests/liveness"
LV_CACHE="${SHIREN_CACHE:-$HOME/.cache/shiren}/models"
LV_VERIFIED="$LV_CACHE/verified"
LV_MODELS="${SHIREN_MODEL_DIR:-$LV_REPO/build/models}"

lv_die() {
	echo "${LV_NAME:-liveness}: $*" >&2
	exit 1
}

# Verified model files and converted .shnn (idempotent, offline once cached).
lv_models() {
	"$LV_REPO/deploy/models/fetch.sh" >/dev/null || lv_die "deploy/models/fetch.sh failed"
}

# Prints "name=path" for every image in images.tsv (or the list file given) after checking
# its SHA-256.
lv_images() {
	local list="${1:-$LV_DIR/images.tsv}" name src path sha file got
	while IFS=$'\t' read -r name src path sha; do
		case "$name" in '' | '#'*) continue ;; esac
		case "$src" in
		deb:*) file=$path ;;
		npm) file="$LV_VERIFIED/$path" ;;
		*) lv_die "images.tsv: bad source '$src' for $name" ;;
		esac
		if [ ! -f "$file" ]; then
			case "$src" in
			deb:*) lv_die "missing $file: apt-get install -y ${src#deb:}" ;;
			*) lv_die "missing $file: run deploy/models/fetch.sh" ;;
			esac
		fi
		got=$(sha256sum "$file" | cut -d' ' -f1)
		[ "$got" = "$sha" ] || lv_die "$file: SHA-256 $got, images.tsv expects $sha"
		echo "$name=$file"
	done <"$list"
}

# The Node peer: npm ci from the committed lock file, no package scripts.
lv_peer_install() {
	command -v node >/dev/null || lv_die "node not found"
	if [ ! -d "$LV_DIR/node_modules/@vladmandic/face-api" ] ||
		[ "$LV_DIR/package-lock.json" -nt "$LV_DIR/node_modules/.package-lock.json" ]; then
		(cd "$LV_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
			lv_die "npm ci failed in tests/liveness"
	fi
}

# One BLAS thread (the service runs requests side by side). If OpenBLAS does not recognise
# the CPU it falls back to SSE3 "Prescott" kernels; on an AVX2 machine pick Haswell instead,
# unless the caller already chose (see docs/liveness.md).
lv_blas_env() {
	export OPENBLAS_NUM_THREADS=1
	if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
		local core
		core=$("$1" --blas-core 2>/dev/null || true)
		case "$core" in
		Prescott | Core2 | Penryn | Dunnington | Nehalem | Atom | Katmai | Coppermine | \
			Northwood | Banias | unknown)
			echo "${LV_NAME:-liveness}: OpenBLAS picked '$core' on an AVX2 CPU;" \
				"using OPENBLAS_CORETYPE=Haswell" >&2
			export OPENBLAS_CORETYPE=Haswell
			;;
		esac
	fi
}

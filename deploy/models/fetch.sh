#!/usr/bin/env bash
# fetch.sh — fetch, verify and convert the face model files listed in deploy/models/manifest.tsv.
#
#   deploy/models/fetch.sh [--no-convert]
#
# 1. `npm pack <pkg>@<version>` for every package in the manifest into the cache. npm pack only
#    downloads the tarball: nothing is installed and no package script runs (--ignore-scripts
#    is passed as well, belt and braces).
# 2. Extract each tarball (once) under the cache, copy every listed file (or byte slice of a
#    packed file) to <cache>/verified/<id> and check its SHA-256 against the manifest. Any
#    mismatch stops the script with the file, the expected and the actual hash, exit 1.
# 3. Convert the verified weights into our flat .shnn format (deploy/models/convert, Python 3
#    standard library only) under ${SHIREN_MODEL_DIR:-<repo>/build/models}.
#
# Cache: ${SHIREN_CACHE:-$HOME/.cache/shiren}/models, so a fresh clone on the same machine does
# not download again. Verification runs on every call, cached or not.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
manifest="${SHIREN_MODEL_MANIFEST:-$here/manifest.tsv}" # override: tests only
cache="${SHIREN_CACHE:-$HOME/.cache/shiren}/models"
out="${SHIREN_MODEL_DIR:-$repo/build/models}"
convert=1
[ "${1:-}" = "--no-convert" ] && convert=0

die() {
	echo "fetch.sh: $*" >&2
	exit 1
}

command -v npm >/dev/null || die "npm not found (Node 20 + npm are required to fetch packages)"
command -v sha256sum >/dev/null || die "sha256sum not found"
mkdir -p "$cache/tgz" "$cache/pkg" "$cache/verified"

# The tarball name npm pack gives: @scope/name -> scope-name-<version>.tgz
tgz_name() {
	local n=${1#@}
	echo "${n//\//-}-$2.tgz"
}

# Download (if absent) and extract one package; prints the extracted package/ directory.
unpack() {
	local pkg=$1 ver=$2 tgz dir tmp
	tgz="$cache/tgz/$(tgz_name "$pkg" "$ver")"
	dir="$cache/pkg/$(tgz_name "$pkg" "$ver")"
	dir=${dir%.tgz}
	if [ ! -f "$tgz" ]; then
		echo "fetch.sh: npm pack $pkg@$ver" >&2
		tmp=$(mktemp -d "$cache/tgz/.pack.XXXXXX")
		(cd "$tmp" && npm pack "$pkg@$ver" --ignore-scripts --silent >/dev/null) ||
			die "npm pack $pkg@$ver failed"
		[ -f "$tmp/$(basename "$tgz")" ] || die "npm pack $pkg@$ver did not produce $(basename "$tgz")"
		mv "$tmp/$(basename "$tgz")" "$tgz"
		rmdir "$tmp"
	fi
	if [ ! -d "$dir/package" ]; then
		tmp=$(mktemp -d "$cache/pkg/.x.XXXXXX")
		tar --no-same-owner --no-same-permissions -xzf "$tgz" -C "$tmp" ||
			die "cannot extract $tgz"
		rm -rf "$dir"
		mv "$tmp" "$dir"
	fi
	echo "$dir/package"
}

verify_one() {
	local id=$1 pkg=$2 ver=$3 path=$4 slice=$5 want=$6 root src dst got off len where
	case "$id/$path" in
	*..* | /* | */./*) die "manifest: unsafe id or path: $id $path" ;;
	esac
	root=$(unpack "$pkg" "$ver")
	src="$root/$path"
	[ -f "$src" ] || die "$pkg@$ver has no file $path"
	dst="$cache/verified/$id"
	if [ "$slice" = "-" ]; then
		cp "$src" "$dst.tmp"
	else
		[[ "$slice" =~ ^([0-9]+)\+([0-9]+)$ ]] || die "manifest: bad slice '$slice' for $id"
		off=${BASH_REMATCH[1]}
		len=${BASH_REMATCH[2]}
		dd if="$src" of="$dst.tmp" bs=65536 iflag=skip_bytes,count_bytes skip="$off" \
			count="$len" status=none
	fi
	chmod 0644 "$dst.tmp"
	got=$(sha256sum "$dst.tmp" | cut -d' ' -f1)
	if [ "$got" != "$want" ]; then
		rm -f "$dst.tmp" "$dst" # never leave a file that no longer matches the manifest
		where="$pkg@$ver:$path"
		[ "$slice" = "-" ] || where="$where bytes $slice"
		echo "fetch.sh: SHA-256 MISMATCH for $id ($where)" >&2
		echo "  expected $want" >&2
		echo "  actual   $got" >&2
		exit 1
	fi
	mv "$dst.tmp" "$dst"
	echo "fetch.sh: ok $id $got"
}

n=0
declare -A seen=()
while IFS=$'\t' read -r id pkg ver path slice sha rest; do
	case "$id" in '' | '#'*) continue ;; esac
	[ -n "$sha" ] && [ -z "${rest:-}" ] || die "manifest: malformed line for '$id' (need 6 tab-separated columns)"
	[[ "$sha" =~ ^[0-9a-f]{64}$ ]] || die "manifest: bad sha256 for $id"
	[[ "$ver" =~ ^[0-9][0-9A-Za-z.+-]*$ ]] || die "manifest: $id: version '$ver' is not pinned"
	[ -z "${seen[$id]:-}" ] || die "manifest: duplicate id $id"
	seen[$id]=1
	verify_one "$id" "$pkg" "$ver" "$path" "$slice" "$sha"
	n=$((n + 1))
done <"$manifest"
[ "$n" -gt 0 ] || die "manifest lists no files"
echo "fetch.sh: $n files verified in $cache/verified"

[ "$convert" -eq 1 ] || exit 0
command -v python3 >/dev/null || die "python3 not found (needed by deploy/models/convert)"
mkdir -p "$out"
python3 "$here/convert" tfjs "$cache/verified/face_recognition_model-weights_manifest.json" \
	"$out/face_recognition.shnn" --name face_recognition
python3 "$here/convert" tflite "$cache/verified/face_detection_short_range.tflite" \
	"$out/face_detection_short_range.shnn" --name face_detection_short
python3 "$here/convert" tflite "$cache/verified/face_landmark.tflite" \
	"$out/face_landmark.shnn" --name face_landmark
python3 "$here/convert" geometry "$cache/verified/geometry_pipeline_metadata_landmarks.binarypb" \
	"$out/face_geometry.shnn" --name face_geometry
echo "fetch.sh: models in $out"

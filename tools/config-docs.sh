#!/usr/bin/env bash
# Regenerates (or, with --check, verifies) the per-service configuration tables of
# docs/deployment.md between the "BEGIN generated config" / "END generated config" markers,
# from the binaries' own `--config-markdown`. `make docs-check` (part of `make test`) fails when
# a service's configuration table changed and the document was not regenerated.
# Usage: tools/config-docs.sh [--check] [build-dir]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
bin=${1:-$root/build/debug}/bin
doc=$root/docs/deployment.md
gen=$(mktemp)
out=$(mktemp)
trap 'rm -f "$gen" "$out"' EXIT
for svc in intake upstream liveness exporter metering; do
	printf '### shiren-%s\n\n' "$svc"
	"$bin/shiren-$svc" --config-markdown
	printf '\n'
done >"$gen"
begin='<!-- BEGIN generated config: tools/config-docs.sh -->'
end='<!-- END generated config -->'
grep -qxF "$begin" "$doc" && grep -qxF "$end" "$doc" || {
	echo "config-docs: markers missing in $doc" >&2
	exit 1
}
awk -v b="$begin" -v e="$end" -v g="$gen" '
	$0 == b { print; while ((getline l < g) > 0) print l; skip = 1; next }
	$0 == e { skip = 0 }
	!skip { print }' "$doc" >"$out"
if [ "$check" = 1 ]; then
	if ! cmp -s "$doc" "$out"; then
		diff -u "$doc" "$out" | head -40 >&2 || true
		echo "config-docs: docs/deployment.md is stale; run tools/config-docs.sh" >&2
		exit 1
	fi
	echo "config-docs: ok"
else
	cp "$out" "$doc"
fi

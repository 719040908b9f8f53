#!/usr/bin/env bash
# Brings up the local stack (PostgreSQL, Kafka, S3 under var/), runs the integration suite
# against it with the binaries of build dir $1, and tears the stack down whatever happened.
# SHIREN_KEEP_STACK=1 leaves the stack running afterwards (for debugging).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build/debug}
cd "$root"
started_here=0
if [ "${SHIREN_KEEP_STACK:-0}" != 1 ]; then
	trap 'deploy/local/down.sh >/dev/null 2>&1 || true' EXIT
fi
deploy/local/up.sh
export SHIREN_BUILD_DIR="$build"
python3 -m pytest -q -p no:cacheprovider tests/integration "${@:2}"

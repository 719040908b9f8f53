#!/usr/bin/env bash
# Stops the local stack: down.sh [--wipe] [pg] [kafka] [s3] (default: all). Each server gets
# TERM (PostgreSQL: INT, its fast shutdown), 30 s, then KILL. Harmless when nothing runs.
# --wipe also deletes the data of the stopped servers (var/pg, var/kafka, var/s3).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
. "$HERE/lib.sh"

wipe=0
want=()
for a in "$@"; do
	case $a in
	--wipe) wipe=1 ;;
	pg | kafka | s3) want+=("$a") ;;
	*) die "unknown argument '$a' (use: [--wipe] [pg] [kafka] [s3])" ;;
	esac
done
[ ${#want[@]} -gt 0 ] || want=(s3 kafka pg)

pids=()
for s in "${want[@]}"; do
	"${s}_stop" &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
[ $rc = 0 ] || exit 1

if [ $wipe = 1 ]; then
	for s in "${want[@]}"; do rm -rf "${VAR:?}/$s"; done
fi

#!/usr/bin/env bash
# Starts the local stack on loopback, state under var/: up.sh [pg] [kafka] [s3] (default: all).
# A server already running and ready is left alone. Writes var/master.key (once) and
# var/stack.env. Silent on success.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
. "$HERE/lib.sh"

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(pg kafka s3)
for s in "${want[@]}"; do
	case $s in pg | kafka | s3) ;; *) die "unknown server '$s' (use: pg kafka s3)" ;; esac
done

mkdir -p "$VAR"
# a slow server (Kafka's JVM) starts while the others come up
pids=()
for s in "${want[@]}"; do
	"${s}_start" &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
[ $rc = 0 ] || exit 1

# master key: 32 random bytes, Base64, generated once
if [ ! -s "$VAR/master.key" ]; then
	(umask 077 && head -c 32 /dev/urandom | base64 >"$VAR/master.key.tmp")
	mv -f "$VAR/master.key.tmp" "$VAR/master.key"
fi

env_text="# written by deploy/local/up.sh; source it: . var/stack.env
export SHIREN_PG_DSN='host=127.0.0.1 port=$PG_PORT dbname=shiren user=shiren'
export SHIREN_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export SHIREN_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export SHIREN_S3_ACCESS_KEY=$S3_ACCESS_KEY
export SHIREN_S3_SECRET_KEY=$S3_SECRET_KEY
export SHIREN_MASTER_KEY_FILE='$VAR/master.key'
export SHIREN_SQL_DIR='$ROOT/deploy/sql'"
if [ "$(cat "$VAR/stack.env" 2>/dev/null)" != "$env_text" ]; then
	printf '%s\n' "$env_text" >"$VAR/stack.env.tmp"
	mv -f "$VAR/stack.env.tmp" "$VAR/stack.env"
fi

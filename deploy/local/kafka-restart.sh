#!/usr/bin/env bash
# Restarts only the Kafka broker (data kept) and waits until it is ready again. For failure
# tests: "the broker restarts mid-run". Prints nothing on success.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
. "$HERE/lib.sh"

kafka_stop
kafka_start

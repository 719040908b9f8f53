#!/usr/bin/env bash
# Starts, stops or shows the five shiren services on the local stack.
#   deploy/local/services.sh start BUILD_DIR   start each service (logs var/log/, pids var/run/)
#   deploy/local/services.sh stop              SIGTERM each, wait for the drain
#   deploy/local/services.sh status            /readyz of each
# Services read var/stack.env (written by up.sh); admin ports 9101..9105.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
svcs=(intake upstream liveness exporter metering)
declare -A port=([intake]=9101 [upstream]=9102 [liveness]=9103 [exporter]=9104 [metering]=9105)

ready() { curl -fsS --max-time 2 "http://127.0.0.1:${port[$1]}/readyz" >/dev/null 2>&1; }

start() {
	local build=${1:-build/debug}
	[ -f var/stack.env ] || { echo "services: var/stack.env missing; run make up" >&2; exit 1; }
	# shellcheck disable=SC1091
	. var/stack.env
	mkdir -p var/log var/run
	for s in "${svcs[@]}"; do
		pidf=var/run/$s.pid
		if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
			continue
		fi
		"$build/bin/shiren-$s" >>"var/log/$s.log" 2>&1 &
		echo $! >"$pidf"
	done
	for s in "${svcs[@]}"; do
		for _ in $(seq 1 100); do
			ready "$s" && break
			kill -0 "$(cat "var/run/$s.pid")" 2>/dev/null || {
				echo "services: shiren-$s exited; last log lines:" >&2
				tail -5 "var/log/$s.log" >&2; exit 1; }
			sleep 0.2
		done
		ready "$s" || { echo "services: shiren-$s not ready after 20 s" >&2; exit 1; }
		echo "services: shiren-$s ready (admin 127.0.0.1:${port[$s]})"
	done
}

stop() {
	for s in "${svcs[@]}"; do
		pidf=var/run/$s.pid
		[ -f "$pidf" ] || continue
		pid=$(cat "$pidf")
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid"
			for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
			kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
		fi
		rm -f "$pidf"
	done
}

status() {
	for s in "${svcs[@]}"; do
		printf 'shiren-%-9s ' "$s"
		curl -sS --max-time 2 "http://127.0.0.1:${port[$s]}/readyz" 2>/dev/null || echo "down"
	done
}

case "${1:-}" in
start) start "${2:-build/debug}" ;;
stop) stop ;;
status) status ;;
*) echo "usage: $0 start [BUILD_DIR] | stop | status" >&2; exit 64 ;;
esac

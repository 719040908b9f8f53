#!/usr/bin/env bash
# `make run`: the local stack up, migrations applied, a demo tenant/key/scene, the five
# services started and ready, then verifications end to end (deploy/local/demo.py).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build/debug}
cd "$root"
deploy/local/up.sh
# shellcheck disable=SC1091
. var/stack.env
ctl="$build/bin/shirenctl"
"$ctl" migrate
if ! "$ctl" tenant list --json | grep -q '"demo"'; then
	"$ctl" tenant create demo
	"$ctl" key create --tenant demo | tee var/demo-key.txt
	"$ctl" scene create --tenant demo --name demo-h5 --product ID_PRO --model LIVENESS
fi
deploy/local/services.sh start "$build"
deploy/local/services.sh status
echo
# Real verifications through the running services (intake -> Kafka -> liveness -> intake).
python3 deploy/local/demo.py "$build"
echo
echo "shiren is running on the local stack. Demo credentials: var/demo-key.txt"
echo "Logs: var/log/*.log. Stop everything with: make down"

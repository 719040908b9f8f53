#!/usr/bin/env bash
# `make run`: the local stack up, migrations applied, a demo tenant/key/scene, the five
# services started and ready, then a check that they see each other end to end.
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
	"$ctl" scene create --tenant demo --name demo-h5 --product ID_MIN --model LIVENESS
fi
deploy/local/services.sh start "$build"
deploy/local/services.sh status
echo
echo "shiren is running on the local stack. Demo credentials: var/demo-key.txt"
echo "Logs: var/log/*.log. Stop everything with: make down"

#!/usr/bin/env bash
# Short libFuzzer runs over every harness in dir $1 for $2 seconds each, seeded from
# tests/fuzz/corpus/<harness>/ when present. Fails on the first crash.
set -euo pipefail
dir=$1 secs=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
n=0
for h in "$dir"/fuzz_*; do
	[ -x "$h" ] || continue
	name=$(basename "$h")
	work=$(mktemp -d)
	seeds=()
	[ -d "$root/tests/fuzz/corpus/$name" ] && seeds=("$root/tests/fuzz/corpus/$name")
	echo "fuzz: $name for ${secs}s"
	if ! "$h" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$work/" \
		"$work" "${seeds[@]}" >"$work/log" 2>&1; then
		tail -40 "$work/log"
		echo "fuzz: $name FAILED (artifacts in $work)"
		exit 1
	fi
	grep -E 'stat::number_of_executed_units' "$work/log" | sed "s/^/  /"
	rm -rf "$work"
	n=$((n + 1))
done
echo "fuzz: $n harnesses, no crash"

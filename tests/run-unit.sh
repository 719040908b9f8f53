#!/usr/bin/env bash
# Runs every unit-test binary given on the command line and prints one closing tally.
set -u
pass=0 fail=0 bad=0
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	printf '%s\n' "$out" | grep -v '^$'
	line=$(printf '%s\n' "$out" | grep -E ': [0-9]+ passed, [0-9]+ failed$' | tail -1)
	if [ -z "$line" ]; then
		echo "unit: $t exited $rc without a tally"; bad=$((bad + 1)); continue
	fi
	p=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/' <<<"$line")
	f=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/' <<<"$line")
	pass=$((pass + p)); fail=$((fail + f))
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && { echo "unit: $t exited $rc"; bad=$((bad + 1)); }
done
echo "unit: $pass passed, $((fail + bad)) failed"
[ $((fail + bad)) -eq 0 ]

#!/bin/sh
# san-run.sh - run a test binary built with the sanitizers, and fail when
# its output holds a LeakSanitizer report, also when it exits 0: Criterion
# runs each test in a worker whose leak report, made at its exit, Criterion
# does not count as a failure.  Usage: sh tests/san-run.sh PROGRAM ARGS...
log=$(mktemp) || exit 1
trap 'rm -f "$log" "$st"' EXIT
st=$(mktemp) || exit 1
{ "$@" 2>&1; echo $? > "$st"; } | tee "$log"
status=$(cat "$st")
if grep -q 'ERROR: LeakSanitizer' "$log"; then
	echo "san-run: $1: a leak was reported (above)" >&2
	[ "$status" = 0 ] && status=1
fi
exit "$status"

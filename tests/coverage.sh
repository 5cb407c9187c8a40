#!/bin/sh
# coverage.sh BUILD - line coverage per source file of the library and the
# CLI, from the gcov data that the tests left in BUILD (make coverage).
# gcov ships with gcc: no other tool is needed.
set -eu
b=${1:-build-cov}
cd "$(dirname "$0")/.."
printf '%-32s %8s %8s\n' file lines covered
for src in engine/*.c projections/*.c tools/*.c; do
	gcov -n -o "$b/$(dirname "$src")" "$src" 2>/dev/null |
		awk -v f="$src" '
			$1 == "File" { cur = $2; gsub(/\x27/, "", cur) }
			$1 == "Lines" && cur == f {
				split($2, p, ":"); pct = p[2]; sub(/%/, "", pct)
				printf "%-32s %8d %7.1f%%\n", f, $4, pct
				n += $4; hit += $4 * pct / 100; exit
			}'
done | tee "$b/coverage.txt"
awk '{ n += $2; hit += $2 * $3 / 100 }
	END { printf "%-32s %8d %7.1f%%\n", "total", n, 100 * hit / n }' \
	"$b/coverage.txt"

#!/bin/sh
# bench/run.sh - run the benchmark programs and regenerate docs/benchmarks.md.
#
#   sh bench/run.sh [BUILD_DIR]        (make bench calls it with build)
#
# Every executable in BUILD_DIR/bench/ is run as
#   BIN $BENCH_ARGS --dir bench/data --out FRAGMENT
# and its fragment, headed by the conditions of the run, replaces the text
# between "<!-- NAME:begin -->" and "<!-- NAME:end -->" in
# docs/benchmarks.md (NAME = the binary's name).  Sections of other
# benchmarks and text outside the markers are kept; a missing section is
# appended.  A benchmark that fails leaves its old section untouched and
# makes this script exit 1.
#
# Environment:
#   BENCH_ARGS   extra arguments for every benchmark, e.g. "--quick"
#   BENCH_ONLY   run only this benchmark (e.g. bench_append)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${1:-build}
doc=docs/benchmarks.md
data=bench/data
args=${BENCH_ARGS:-}
only=${BENCH_ONLY:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tasklog-bench.XXXXXX")
cleanup() { rm -rf "$tmp" "$data"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -d "$build/bench" ] || { echo "run.sh: no $build/bench (run make bench)" >&2; exit 1; }
mkdir -p docs
rm -rf "$data"
mkdir -p "$data"

if [ ! -f "$doc" ]; then
	cat > "$doc" <<'EOF'
# Benchmarks

Measured figures of tasklog against the obvious alternatives, on the
project's machine class (see `LIMITS.md` of the shared spec for the raw
limits of that class). `make bench` builds every `bench/*.c` and runs
`bench/run.sh`, which rewrites only the text between a benchmark's
`<!-- NAME:begin -->` and `<!-- NAME:end -->` markers; text outside the
markers is kept. `BENCH_ARGS=--quick make bench` is a smoke run whose
figures mean nothing.
EOF
fi

# ---- conditions of this run ------------------------------------------------
first() { sed -n "s/^$1[[:space:]]*:[[:space:]]*//p" "$2" 2>/dev/null | head -n 1; }
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }

cpu_model=$(first 'model name' /proc/cpuinfo)
cpu_mhz=$(first 'cpu MHz' /proc/cpuinfo)
ncpu=$(nproc 2>/dev/null || echo "?")
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
vm=$(systemd-detect-virt --vm 2>/dev/null || true)
ct=$(systemd-detect-virt --container 2>/dev/null || true)
if [ -z "$vm" ] || [ "$vm" = none ]; then
	if grep -qw hypervisor /proc/cpuinfo 2>/dev/null; then
		vm="a hypervisor"
	else
		vm="none"
	fi
fi
virt="VM: $vm"
[ -z "$ct" ] || [ "$ct" = none ] || virt="$virt, container: $ct"
kernel=$(uname -sr)
os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}" || echo "?")
fs_line=$(df -PT "$data" 2>/dev/null | awk 'NR == 2 { print $1, $2 }')
dev=${fs_line%% *}
fstype=${fs_line#* }
mntopts=$(awk -v d="$dev" '$1 == d { print $4; exit }' /proc/mounts 2>/dev/null)
blk=$(basename "$dev" 2>/dev/null | sed 's/[0-9]*$//')
wcache=$(cat "/sys/block/$blk/queue/write_cache" 2>/dev/null || echo "?")
rot=$(cat "/sys/block/$blk/queue/rotational" 2>/dev/null || echo "?")
rot="rotational=$rot"
ccver=$(${CC:-cc} --version 2>/dev/null | head -n 1)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
git diff --quiet HEAD -- engine projections 2>/dev/null || commit="$commit (engine with uncommitted changes)"
when=$(date -u +%Y-%m-%dT%H:%MZ)

cat > "$tmp/conditions.md" <<EOF
Conditions of this run ($when, commit $commit):

- CPU: $ncpu x ${cpu_model:-?} (${cpu_mhz:-?} MHz), $mem RAM, $virt
- OS: $os, kernel $kernel
- Disk: $fstype on $dev (${mntopts:-?}), $rot, write cache: $wcache
- Libraries (Debian packages): LMDB $(pkgver liblmdb0), SQLite $(pkgver libsqlite3-0), msgpack-c $(pkgver libmsgpackc2), libsodium $(pkgver libsodium23); compiler: $ccver, -O2
- Durability: fsync at every commit (LMDB default sync mode, SQLite \`synchronous=FULL\` in WAL mode); nothing else ran on purpose, but the machine is a shared VM
- Arguments: ${args:-none}
EOF

# ---- replace one section -------------------------------------------------
replace_section() {
	name=$1
	content=$2
	begin="<!-- $name:begin -->"
	end="<!-- $name:end -->"
	if grep -qxF "$begin" "$doc" && grep -qxF "$end" "$doc"; then
		awk -v b="$begin" -v e="$end" -v f="$content" '
			$0 == b { print; while ((getline l < f) > 0) print l;
				  close(f); skip = 1; next }
			$0 == e { skip = 0 }
			!skip { print }' "$doc" > "$tmp/doc.md"
	else
		{ cat "$doc"; printf '\n%s\n' "$begin"; cat "$content";
		  printf '%s\n' "$end"; } > "$tmp/doc.md"
	fi
	cat "$tmp/doc.md" > "$doc"
}

# ---- run ---------------------------------------------------------------
status=0
ran=0
for bin in "$build"/bench/*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	name=$(basename "$bin")
	[ -z "$only" ] || [ "$name" = "$only" ] || continue
	echo "== $name $args"
	frag="$tmp/$name.md"
	# shellcheck disable=SC2086 # BENCH_ARGS is a word list
	if "$bin" $args --dir "$data" --out "$frag"; then
		# The fragment's first line is its heading; the conditions
		# follow it.
		{ head -n 1 "$frag"; echo; cat "$tmp/conditions.md";
		  tail -n +2 "$frag"; } > "$tmp/$name.section"
		replace_section "$name" "$tmp/$name.section"
		ran=$((ran + 1))
	else
		echo "run.sh: $name failed; its section in $doc is unchanged" >&2
		status=1
	fi
done
[ "$ran" -gt 0 ] || [ "$status" -ne 0 ] || echo "run.sh: no benchmark found in $build/bench" >&2
[ "$ran" -eq 0 ] || echo "== wrote $doc"
exit $status

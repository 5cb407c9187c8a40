#!/bin/sh
# check.sh - `make install` as a user of the library sees it: install into a
# staging DESTDIR, then, with nothing but what was installed (tasklog.pc,
# the headers, the libraries, the CLI):
#   - compile each public header alone, first in its translation unit;
#   - build tests/install/consumer.c against libtasklog.so and against
#     libtasklog.a, with the flags pkg-config gives, and run both;
#   - check that the shared build loads the installed libtasklog.so.$SOVER and
#     the static one does not need it;
#   - run the installed CLI on the workspace the library wrote.
# Run by `make test-install` (part of `make test`).
set -eu
: "${SOVER:?SOVER, the soname number, comes from the Makefile}"

cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=/usr/local
root=$tmp/root$prefix

${MAKE:-make} -s install PREFIX=$prefix DESTDIR="$tmp/root" >/dev/null

fail() {
	echo "test-install: $*" >&2
	exit 1
}

for f in bin/tasklog lib/libtasklog.a lib/libtasklog.so lib/libtasklog.so.$SOVER \
	lib/pkgconfig/tasklog.pc include/tasklog.h include/tasklog_view.h \
	include/tasklog_msgpack.h include/tasklog_projections.h \
	share/doc/tasklog/cli.md share/doc/tasklog/events.md; do
	[ -e "$root/$f" ] || fail "not installed: $prefix/$f"
done

# pkg-config reads the staged .pc as if it were installed at $prefix.
export PKG_CONFIG_PATH="$root/lib/pkgconfig"
pc() { pkg-config --define-variable=prefix="$root" "$@" tasklog; }
[ "$(pc --modversion)" = "$(sed -n 's/^#define TL_VERSION "\(.*\)"/\1/p' \
	engine/tasklog.h)" ] ||
	fail "tasklog.pc version $(pc --modversion)"
cflags="-std=c11 -Wall -Wextra -Werror $(pc --cflags)"

for h in tasklog.h tasklog_view.h tasklog_msgpack.h tasklog_projections.h; do
	printf '#include <%s>\nint tl_check_%s;\n' "$h" \
		"$(echo "$h" | tr . _)" >"$tmp/h.c"
	${CC:-cc} $cflags -c "$tmp/h.c" -o "$tmp/h.o" ||
		fail "$h does not compile on its own"
done

# The shared library exports exactly the functions and objects the headers
# declare with TL_API, and nothing of the engine's insides.
grep -h '^TL_API ' "$root"/include/tasklog*.h |
	sed -E -e 's/^[^(]*[ *](tl_[a-z0-9_]+)\(.*/\1/' \
		-e 's/^TL_API extern .*[ *](tl_[a-z0-9_]+)(\[[^]]*\])?;.*/\1/' |
	sort >"$tmp/declared"
if grep -v '^tl_[a-z0-9_]*$' "$tmp/declared" >&2; then
	fail "TL_API declarations this script cannot read (above)"
fi
# ... and every function or object they declare is marked so.
if grep -hE '^[A-Za-z]' "$root"/include/tasklog*.h |
	grep -vE '^(static|typedef|enum|struct [a-z_]+ *\{?$|extern "C")' |
	grep -E '[ *]tl_[a-z0-9_]+(\(|\[)' | grep -v '^TL_API' >&2; then
	fail "public declarations without TL_API (above)"
fi
nm -D --defined-only "$root/lib/libtasklog.so" | awk '{ print $3 }' |
	sort >"$tmp/exported"
[ -s "$tmp/declared" ] || fail "no TL_API declaration found"
if ! cmp -s "$tmp/declared" "$tmp/exported"; then
	diff "$tmp/declared" "$tmp/exported" >&2 || :
	fail "libtasklog.so exports differ from the TL_API declarations (<: declared only, >: exported only)"
fi

${CC:-cc} $cflags -o "$tmp/consumer-shared" tests/install/consumer.c \
	$(pc --libs) -Wl,-rpath,"$root/lib"
${CC:-cc} $cflags -o "$tmp/consumer-static" tests/install/consumer.c \
	-Wl,--as-needed -Wl,-Bstatic -ltasklog -Wl,-Bdynamic \
	$(pc --static --libs)

readelf -d "$tmp/consumer-shared" | grep -q "NEEDED.*libtasklog\\.so\\.$SOVER" ||
	fail "the shared build does not load libtasklog.so.$SOVER"
ldd "$tmp/consumer-shared" | grep -q "libtasklog.so.$SOVER => $root/lib/" ||
	fail "the shared build does not find the installed library"
if readelf -d "$tmp/consumer-static" | grep -q 'NEEDED.*libtasklog'; then
	fail "the static build still needs libtasklog.so"
fi

"$tmp/consumer-shared" "$tmp/ws-shared"
"$tmp/consumer-static" "$tmp/ws-static"

# The installed CLI reads what the library wrote.
out=$("$root/bin/tasklog" --db "$tmp/ws-shared" task list --assignee alice \
	--as admin --json)
n=$(printf '%s' "$out" | grep -o '"title"' | wc -l)
[ "$n" -eq 3 ] || fail "the CLI lists $n of alice's 3 tasks: $out"
"$root/bin/tasklog" --db "$tmp/ws-static" verify >/dev/null ||
	fail "the CLI's verify fails on the static build's workspace"
echo "test-install: ok"

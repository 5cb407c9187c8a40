# tasklog - top-level Makefile.
#
# Targets:
#   make            build the library (libtasklog.a/.so) and the tasklog CLI
#   make run        install missing packages, build, run the demo on $TASKLOG_DB (else ./tasklog-data)
#   make test       install missing packages, build, run every test, then the
#                   unit, fault and end-to-end tests again under
#                   AddressSanitizer+UBSan
#   make test-unit  unit + end-to-end tests only (no sanitizer pass)
#   make test-san   the sanitizer pass only
#   make test-clang build everything with clang (-Werror), run the unit tests
#   make test-install  install into a staging DESTDIR, build a program
#                   against it with pkg-config (shared and static), run it
#   make bench      build and run the benchmarks (writes docs/benchmarks.md)
#   make fuzz       build the libFuzzer targets fuzz/fuzz_*.c with clang,
#                   ASan and UBSan into build-fuzz/, run each FUZZ_SECONDS
#                   (not part of make test; see docs/testing.md)
#   make coverage   the tests on a gcov build; line coverage per file
#   make install    install the CLI, the library, its headers, tasklog.pc and docs
#   make deps       install the Debian packages that are missing
#
# Knobs:
#   V=1                   show full command lines
#   SAN=address,undefined build with these sanitizers (into build-san/)
#   COVERAGE=1            build with gcov instrumentation at -O0 (into build-cov/);
#                         `make coverage` runs the tests so and reports
#   PREFIX=/usr/local     install prefix; DESTDIR for staged installs
#   CRASH_ROUNDS=20       rounds of the kill -9 test
#   FUZZ_SECONDS=60       run time of each fuzz target

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
CRASH_ROUNDS ?= 20
VERSION := $(shell sed -n 's/^\#define TL_VERSION "\(.*\)"/\1/p' engine/tasklog.h)
# The ABI: the soname's number, raised whenever a program built against
# the headers of an earlier release could misuse this one (a public
# struct that grew or changed, an enum's values moved).
SOVER := 1

ifneq ($(COVERAGE),)
B := build-cov
SANFLAGS := --coverage
CFLAGS := -O0 -g
else ifeq ($(SAN),)
B := build
SANFLAGS :=
else
B := build-san
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# A sanitizer's runtime may own malloc: the fault tests interpose it only
# without one (tests/fault.c, tests/e2e_oom.c).
CPPFLAGS += -DTL_SANITIZER
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -Iengine -Iprojections -MMD -MP
ALL_CFLAGS = $(WARN) $(CFLAGS) $(SANFLAGS) -fPIC -fvisibility=hidden $(CPPFLAGS)
LIBS    := -llmdb -lmsgpackc -lsodium -lutf8proc -lm -pthread
TOOLLIBS := -ljansson

# Debian packages needed to build and test.
DEB_PKGS := build-essential pkg-config liblmdb-dev libmsgpack-dev libev-dev \
	libcriterion-dev libsodium-dev libutf8proc-dev libjansson-dev \
	libsqlite3-dev tzdata

LIB_SRC   := $(wildcard engine/*.c) $(wildcard projections/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(B)/%.o)
TOOL_SRC  := $(wildcard tools/*.c)
TOOL_OBJ  := $(TOOL_SRC:%.c=$(B)/%.o)
UNIT_SRC  := $(wildcard tests/unit_*.c)
E2E_SRC   := $(wildcard tests/e2e_*.c)
TESTLIB_SRC := tests/testutil.c

all: $(B)/libtasklog.a $(B)/libtasklog.so $(B)/tasklog

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/libtasklog.a: $(LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/libtasklog.so: $(LIB_OBJ) Makefile
	$(Q)$(CC) -shared -Wl,-soname,libtasklog.so.$(SOVER) $(SANFLAGS) -o $@ \
		$(filter %.o,$^) $(LIBS)

$(B)/tasklog: $(TOOL_OBJ) $(B)/libtasklog.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(SANFLAGS) -o $@ $(TOOL_OBJ) $(B)/libtasklog.a $(LIBS) $(TOOLLIBS)

# (unit_json.c tests the CLI's JSON conversion: tools/json.o; unit_progress.c
# its progress bars: tools/progress.o)
$(B)/tests/unit: $(UNIT_SRC:%.c=$(B)/%.o) $(TESTLIB_SRC:%.c=$(B)/%.o) \
		$(B)/tools/json.o $(B)/tools/progress.o $(B)/libtasklog.a
	$(Q)$(CC) $(SANFLAGS) -o $@ $^ $(LIBS) $(TOOLLIBS) -lcriterion

$(B)/tests/e2e: $(E2E_SRC:%.c=$(B)/%.o) $(TESTLIB_SRC:%.c=$(B)/%.o) $(B)/libtasklog.a
	$(Q)$(CC) $(SANFLAGS) -o $@ $^ $(LIBS) $(TOOLLIBS) -lcriterion

# Injected faults (tests/fault.c): it defines malloc and the write calls;
# under a sanitizer, which owns malloc, the library's own allocations are
# counted through --wrap.
FAULT_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup \
	-Wl,--wrap=mdb_put,--wrap=mdb_cursor_del,--wrap=mdb_txn_commit \
	-Wl,--wrap=mdb_env_open
$(B)/tests/fault: $(B)/tests/fault.o $(TESTLIB_SRC:%.c=$(B)/%.o) \
		$(B)/libtasklog.a
	$(Q)$(CC) $(SANFLAGS) -o $@ $^ $(FAULT_WRAP) $(LIBS) $(TOOLLIBS) \
		-lcriterion -ldl

# Preloaded into the CLI by tests/e2e_oom.c: the k-th allocation fails.
# Built plain in every build (no sanitizer, no coverage: a preloaded
# library must not need their runtimes).
$(B)/tests/failalloc.so: tests/failalloc.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(WARN) -O2 -g -fPIC -shared -D_GNU_SOURCE -o $@ $< -ldl

# ---- packages ----------------------------------------------------------
deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		if [ -n "$$SUDO" ] && ! command -v sudo >/dev/null; then \
			echo "make deps: installing these needs root, and there is no sudo here: as root, run apt-get update && apt-get install -y$$missing" >&2; \
			exit 1; fi; \
		$$SUDO apt-get update && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y $$missing; \
	fi

# ---- the main job ----------------------------------------------------------
run: deps
	$(MAKE) all
	TASKLOG=$(B)/tasklog sh tools/demo.sh

# ---- tests -----------------------------------------------------------------
test: deps
	$(MAKE) test-unit
	$(MAKE) test-install
	$(MAKE) test-san

test-unit: all $(B)/tests/unit $(B)/tests/e2e $(B)/tests/fault \
		$(B)/tests/failalloc.so
	sh tests/run.sh $(B)/tests/unit --jobs 2
	GLIBC_TUNABLES=glibc.malloc.tcache_count=0 \
		sh tests/run.sh $(B)/tests/fault --jobs 2
	TASKLOG_BIN=$(CURDIR)/$(B)/tasklog CRASH_ROUNDS=$(CRASH_ROUNDS) \
		TL_FAILALLOC=$(CURDIR)/$(B)/tests/failalloc.so \
		sh tests/run.sh $(B)/tests/e2e --jobs 2

# make install as a user of the library sees it (tests/install/check.sh).
test-install: all
	MAKE="$(MAKE)" SOVER=$(SOVER) sh tests/install/check.sh

test-san:
	$(MAKE) SAN=address,undefined build-san/tests/unit build-san/tests/e2e \
		build-san/tests/fault build-san/tasklog
	ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 \
		UBSAN_OPTIONS=print_stacktrace=1 \
		sh tests/run.sh build-san/tests/unit --jobs 2
	ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 \
		UBSAN_OPTIONS=print_stacktrace=1 \
		sh tests/run.sh build-san/tests/fault --jobs 2
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		TASKLOG_BIN=$(CURDIR)/build-san/tasklog CRASH_ROUNDS=3 \
		TL_CLI_LSAN_OPTIONS=exitcode=23:suppressions=$(CURDIR)/tests/lsan.supp \
		sh tests/run.sh build-san/tests/e2e --jobs 2

# Everything built with clang into build-clang/ (-Werror as always: a
# warning gcc does not give fails it), then the unit tests run on it (not
# in make test; clang comes from Debian's package, as for make fuzz).
test-clang: fuzz-deps
	$(MAKE) CC=clang B=build-clang all build-clang/tests/unit \
		build-clang/tests/e2e build-clang/tests/fault \
		$(BENCH_SRC:bench/%.c=build-clang/bench/%)
	sh tests/run.sh build-clang/tests/unit --jobs 2

# Line coverage of the library and the CLI by every test (not in make test).
coverage: deps
	rm -rf build-cov
	$(MAKE) COVERAGE=1 build-cov/tests/unit build-cov/tests/e2e \
		build-cov/tests/fault build-cov/tasklog \
		build-cov/tests/failalloc.so
	# The e2e tests run the CLI as another user too (nobody): it must
	# be able to write the counters (.gcda) beside the objects.
	chmod -R a+rwX build-cov
	umask 0 && build-cov/tests/unit --jobs 2
	umask 0 && build-cov/tests/fault --jobs 2
	umask 0 && TASKLOG_BIN=$(CURDIR)/build-cov/tasklog CRASH_ROUNDS=3 \
		TL_FAILALLOC=$(CURDIR)/build-cov/tests/failalloc.so \
		build-cov/tests/e2e --jobs 2
	sh tests/coverage.sh build-cov

# ---- benchmarks --------------------------------------------------------------
BENCH_SRC := $(wildcard bench/bench_*.c)
$(B)/bench/%: bench/%.c bench/util.c bench/util.h $(B)/libtasklog.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(WARN) -O2 -g $(CPPFLAGS) -Ibench -o $@ $< bench/util.c $(B)/libtasklog.a $(LIBS) -lsqlite3

bench: deps
	$(MAKE) all $(BENCH_SRC:bench/%.c=$(B)/bench/%)
	sh bench/run.sh $(B)

# ---- fuzzing -------------------------------------------------------------------
# Each target is built from all the library sources at once; the corpus
# grows in build-fuzz/corpus/NAME, seeded from fuzz/seeds/NAME, and a crash
# is written to build-fuzz/NAME-crash-*.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_BINS    := $(patsubst fuzz/%.c,build-fuzz/%,$(wildcard fuzz/fuzz_*.c))

build-fuzz/fuzz_%: fuzz/fuzz_%.c $(LIB_SRC) $(wildcard engine/*.h projections/*.h fuzz/*.h)
	@mkdir -p build-fuzz
	$(Q)$(FUZZ_CC) $(WARN) $(FUZZ_FLAGS) -D_GNU_SOURCE -Iengine -Iprojections \
		-Ifuzz -o $@ $< $(LIB_SRC) $(LIBS)

# import's reading of its input is the command line's (tools/import.c).
build-fuzz/fuzz_import_cli: fuzz/fuzz_import_cli.c tools/import.c tools/json.c \
		$(LIB_SRC) $(wildcard engine/*.h projections/*.h tools/*.h fuzz/*.h)
	@mkdir -p build-fuzz
	$(Q)$(FUZZ_CC) $(WARN) $(FUZZ_FLAGS) -D_GNU_SOURCE -Iengine -Iprojections \
		-Itools -o $@ $< tools/import.c tools/json.c $(LIB_SRC) \
		$(LIBS) $(TOOLLIBS)

fuzz-deps: deps
	@missing=""; for p in clang libclang-rt-14-dev; do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y $$missing; \
	fi

fuzz: fuzz-deps
	$(MAKE) $(FUZZ_BINS)
	@mkdir -p build-fuzz/seeds-tzif && for z in UTC Europe/Berlin \
		America/Los_Angeles Pacific/Auckland Australia/Lord_Howe \
		America/Sao_Paulo Asia/Tehran Africa/Casablanca; do \
		{ printf '\0\0\0\0\0\0\0\0'; cat /usr/share/zoneinfo/$$z; } \
		> build-fuzz/seeds-tzif/$$(echo $$z | tr / _); done
	@for f in $(FUZZ_BINS); do n=$${f#build-fuzz/}; \
		mkdir -p build-fuzz/corpus/$$n && \
		echo "  FUZZ    $$n ($(FUZZ_SECONDS) s)" && \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=build-fuzz/$$n- \
			build-fuzz/corpus/$$n \
			$$(if [ $$n = fuzz_tzif ]; then echo build-fuzz/seeds-tzif; \
			   else echo fuzz/seeds/$$n; fi) || exit 1; done

# ---- install -----------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(B)/tasklog $(DESTDIR)$(PREFIX)/bin/tasklog
	install -m 644 $(B)/libtasklog.a $(DESTDIR)$(PREFIX)/lib/libtasklog.a
	install -m 755 $(B)/libtasklog.so $(DESTDIR)$(PREFIX)/lib/libtasklog.so.$(VERSION)
	ln -sf libtasklog.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libtasklog.so.$(SOVER)
	ln -sf libtasklog.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/libtasklog.so
	install -m 644 engine/tasklog.h engine/tasklog_view.h engine/tasklog_msgpack.h \
		projections/tasklog_projections.h $(DESTDIR)$(PREFIX)/include/
	install -d $(DESTDIR)$(PREFIX)/share/doc/tasklog
	install -m 644 docs/cli.md docs/events.md docs/format.md \
		docs/durability.md docs/operations.md \
		$(DESTDIR)$(PREFIX)/share/doc/tasklog/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
		tasklog.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tasklog.pc

clean:
	rm -rf build build-san build-fuzz build-cov build-clang

.PHONY: all deps run test test-unit test-install test-san test-clang coverage bench fuzz fuzz-deps install clean

-include $(shell find build build-san build-cov build-clang -name '*.d' 2>/dev/null)

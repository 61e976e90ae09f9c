# Journey - build, run, test, benchmark.
#
#   make run      install what is missing, build (release), start the server with a demo project
#   make test     install what is missing, build, run every suite, print "N passed, N failed"
#   make          build the debug binary (build/debug/journey)
#   make BUILD=release|debug|asan
#   make bench    run the benchmarks in bench/ (release build)
#   make fuzz     build and briefly run the fuzz targets (clang, libFuzzer)
#   make lint     clang-format check + clang-tidy
#
# Everything lands in build/$(BUILD)/: objects, libjourney.a, the journey
# binary and the unit-test binaries (tests/<subsystem>/test_*.c, one binary each).

BUILD ?= debug
BUILDDIR := build/$(BUILD)
CC ?= gcc

PKGS := libmicrohttpd libcjson sqlite3 zlib libxxhash libcurl openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wvla -Wno-unused-parameter -Wno-format-truncation
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -pthread -Isrc -Itests $(WARN) $(PKG_CFLAGS) -MMD -MP
LDLIBS := $(PKG_LIBS) -lwslay -lxgboost -lm -pthread

ifeq ($(BUILD),release)
  OPT := -O2 -g -DNDEBUG
else ifeq ($(BUILD),asan)
  OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=address,undefined
else ifeq ($(BUILD),debug)
  OPT := -Og -g3
else
  $(error BUILD must be debug, release or asan)
endif

CFLAGS := $(CFLAGS_BASE) $(OPT) $(EXTRA_CFLAGS)

LIB_SRC := $(shell find src -name '*.c' ! -name main.c | sort)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILDDIR)/%.o)
LIB := $(BUILDDIR)/libjourney.a
BIN := $(BUILDDIR)/journey

TEST_SRC := $(shell find tests -name 'test_*.c' | sort)
TEST_SUPPORT_SRC := $(shell find tests -name 'support_*.c' | sort)
TEST_SUPPORT_OBJ := $(TEST_SUPPORT_SRC:%.c=$(BUILDDIR)/%.o)
TEST_BIN := $(TEST_SRC:%.c=$(BUILDDIR)/%)

.PHONY: all deps web run test unit-tests bench bench-bin fuzz lint format clean compile_commands.json
all: $(BIN)

$(BUILDDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BIN): $(BUILDDIR)/src/main.o $(LIB)
	@echo "  LINK    $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILDDIR)/tests/%: $(BUILDDIR)/tests/%.o $(TEST_SUPPORT_OBJ) $(LIB)
	@echo "  LINK    $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

unit-tests: $(TEST_BIN)

# C benchmark drivers in bench/ link the library like the tests do.
BENCH_SRC := $(wildcard bench/*_bench.c)
BENCH_BIN := $(BENCH_SRC:%.c=$(BUILDDIR)/%)
$(BUILDDIR)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@
bench-bin: $(BENCH_BIN)

# Debian packages (idempotent; apt-get only when something is missing) and npm packages.
deps:
	@scripts/install-deps.sh
	@scripts/install-npm.sh

web: deps
	node web/build.mjs

run: deps
	$(MAKE) BUILD=release all
	node web/build.mjs
	scripts/run-demo.sh

test: deps
	scripts/test.sh

bench: deps
	$(MAKE) BUILD=release all
	bench/run-all.sh

fuzz:
	$(MAKE) -C fuzz run

lint:
	clang-format --dry-run --Werror $(shell find src tests fuzz bench -name '*.[ch]')
	clang-tidy --quiet $(LIB_SRC) src/main.c -- $(CFLAGS_BASE)

format:
	clang-format -i $(shell find src tests fuzz bench -name '*.[ch]')

compile_commands.json:
	$(MAKE) clean-debug
	bear -- $(MAKE) BUILD=debug all unit-tests

clean-debug:
	rm -rf build/debug

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(BUILDDIR)/src/main.d $(TEST_SRC:%.c=$(BUILDDIR)/%.d)

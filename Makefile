# Kassa - plain Makefile with pkg-config.
#   make            -> build/kassa (release: -O2, assertions on)
#   make asan       -> build-asan/kassa (AddressSanitizer + UndefinedBehaviorSanitizer)
#   make unit       -> cmocka unit tests under ASan+UBSan
#   make sim-long SEEDS=N -> the deterministic simulation over N seeds (tests/unit/test_simulation.c)
#   make test       -> everything the README's test command runs (see scripts/test.sh)
#   make format     -> clang-format -i on every C file;  make check-format / make lint
#   make check-layers -> includes point down DESIGN.md's layers, no circle in src/gateway (in lint)
#   make fuzz       -> libFuzzer targets (clang) under build-fuzz/
#   make fuzz-run   -> each target FUZZ_SECONDS (15) from fuzz/corpus/; make fuzz-long: hours

PKGS    := libmicrohttpd jansson libcrypto libsodium libcurl libqrencode sqlite3 libpq xlsxwriter
CC      ?= cc
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter -Wvla -Wpointer-arith
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -g $(WARN) $(shell pkg-config --cflags $(PKGS))
LIBS    := $(shell pkg-config --libs $(PKGS)) -lpthread -lm

SRC_ALL := $(shell find src -name '*.c' | sort)
SRC_LIB := $(filter-out src/main.c,$(SRC_ALL))
UNIT_SRC := $(wildcard tests/unit/test_*.c)

BUILD      ?= build
OPT        ?= -O2
SANITIZE   ?=
CFLAGS     := $(CFLAGS_COMMON) $(OPT) $(SANITIZE)
LDFLAGS    := $(SANITIZE)

OBJ_LIB := $(SRC_LIB:src/%.c=$(BUILD)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all asan unit unit-run test format check-format lint check-layers fuzz fuzz-run fuzz-long bench soak soak-failover sim-long clean
all: $(BUILD)/kassa

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libkassa.a: $(OBJ_LIB)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/kassa: $(BUILD)/obj/main.o $(BUILD)/libkassa.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libkassa.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(BUILD)/libkassa.a $(LIBS) -lcmocka

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SANITIZE="$(SAN)" build-asan/kassa

unit:
	$(MAKE) BUILD=build-asan OPT=-O1 SANITIZE="$(SAN)" unit-run

unit-run: $(UNIT_BIN)
	@rc=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t || rc=1; done; exit $$rc

test:
	bash scripts/test.sh

# The long crash and fault runs (not in CI); figures go to tests/SOAK.md.
SEEDS ?= 200
# The deterministic simulation over many seeds (tests/unit/test_simulation.c):
# make sim-long SEEDS=N [STEPS=M] [BASE=B]; figures at the end, see tests/SOAK.md.
sim-long:
	$(MAKE) BUILD=build-asan OPT=-O1 SANITIZE="$(SAN)" build-asan/tests/test_simulation
	KASSA_SIM_SEEDS=$(or $(SEEDS),100) KASSA_SIM_STEPS=$(or $(STEPS),300) \
	    KASSA_SIM_BASE=$(or $(BASE),1000) build-asan/tests/test_simulation

soak:
	bash scripts/soak.sh $(SEEDS)

format:
	clang-format -i $(shell find src tests fuzz bench -name '*.[ch]' 2>/dev/null)

check-format:
	clang-format --dry-run --Werror $(shell find src tests fuzz bench -name '*.[ch]' 2>/dev/null)

# Banned calls (curl's checksrc idea): unbounded or error-blind libc functions;
# and the layers of DESIGN.md (check-layers).
lint: check-layers
	@! grep -nE '\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|strtok)\s*\(' $(SRC_ALL) \
	  || (echo "lint: banned function (use snprintf, buf_*, strtoll with checks)"; exit 1)

# Includes point down the layers, no circle inside the gateway (the script says
# how); its self-test plants an upward include and sideways calls and must see them refused.
check-layers:
	@bash scripts/check-layers.sh --self-test
	@bash scripts/check-layers.sh src

FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_SAN := -fno-sanitize-recover=undefined -fno-omit-frame-pointer
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPT=-O1 \
	  SANITIZE="-fsanitize=fuzzer-no-link,address,undefined $(FUZZ_SAN)" build-fuzz/libkassa.a
	@mkdir -p build-fuzz/bin
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  clang $(CFLAGS_COMMON) -O1 -fsanitize=fuzzer,address,undefined $(FUZZ_SAN) -Isrc \
	    -o build-fuzz/bin/$$n $$f build-fuzz/libkassa.a $(LIBS) || exit 1; done

# A short run of every target (the test suite's step) and a long one (hours:
# FUZZ_LONG_SECONDS per target, default 3600); both print executions per target.
FUZZ_SECONDS ?= 15
FUZZ_LONG_SECONDS ?= 3600
fuzz-run: fuzz
	bash fuzz/run.sh $(FUZZ_SECONDS)
fuzz-long: fuzz
	bash fuzz/run.sh $(FUZZ_LONG_SECONDS)

bench:
	bash bench/run.sh

# Not in CI: Patroni + etcd + HAProxy, the primary killed under load (tests/SOAK.md).
soak-failover: all
	bash scripts/soak-failover.sh sync

clean:
	rm -rf build build-asan build-fuzz

# Debian package (debian/, docs/operations.md): builds in a copy of the tree under build-deb/
# (tracked and new files, mtimes kept so a second run only recompiles what changed) and leaves
# build-deb/kassa_<version>_amd64.deb. The changelog's version must be the binary's.
.PHONY: deb
DEB_VERSION = $(shell dpkg-parsechangelog -S Version 2>/dev/null)
deb:
	@v=$$(sed -n 's/.*define KASSA_VERSION *"\(.*\)"/\1/p' src/main.c); \
	  [ "$$v" = "$(DEB_VERSION)" ] || { echo "deb: debian/changelog says $(DEB_VERSION), src/main.c $$v"; exit 1; }
	@mkdir -p build-deb/kassa-$(DEB_VERSION)
	git ls-files -co --exclude-standard | grep -v '^node_modules' > build-deb/files.txt
	tar -cf - -T build-deb/files.txt | tar -xf - -C build-deb/kassa-$(DEB_VERSION)
	cd build-deb/kassa-$(DEB_VERSION) && find src tests scripts docs -type f | grep -vxFf ../files.txt | xargs -r rm -f
	cd build-deb/kassa-$(DEB_VERSION) && dpkg-buildpackage -b -us -uc --no-pre-clean --no-sign
	@ls -l build-deb/kassa_$(DEB_VERSION)_amd64.deb

-include $(OBJ_LIB:.o=.d) $(BUILD)/obj/main.d

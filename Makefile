# Kassa - plain Makefile with pkg-config.
#   make            -> build/kassa (release: -O2, assertions on)
#   make asan       -> build-asan/kassa (AddressSanitizer + UndefinedBehaviorSanitizer)
#   make unit       -> cmocka unit tests under ASan+UBSan
#   make test       -> everything the README's test command runs (see scripts/test.sh)
#   make format     -> clang-format -i on every C file;  make check-format / make lint
#   make fuzz       -> libFuzzer targets (clang) under build-fuzz/

PKGS    := libmicrohttpd jansson libcrypto libsodium libcurl libqrencode sqlite3 libpq
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

.PHONY: all asan unit unit-run test format check-format lint fuzz bench soak-failover clean
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

format:
	clang-format -i $(shell find src tests fuzz bench -name '*.[ch]' 2>/dev/null)

check-format:
	clang-format --dry-run --Werror $(shell find src tests fuzz bench -name '*.[ch]' 2>/dev/null)

# Banned calls (curl's checksrc idea): unbounded or error-blind libc functions.
lint:
	@! grep -nE '\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|strtok)\s*\(' $(SRC_ALL) \
	  || (echo "lint: banned function (use snprintf, buf_*, strtoll with checks)"; exit 1)

FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPT=-O1 \
	  SANITIZE="-fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libkassa.a
	@mkdir -p build-fuzz/bin
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  clang $(CFLAGS_COMMON) -O1 -fsanitize=fuzzer,address,undefined -Isrc -o build-fuzz/bin/$$n $$f \
	    build-fuzz/libkassa.a $(LIBS) || exit 1; done

bench:
	bash bench/run.sh

# Not in CI: Patroni + etcd + HAProxy, the primary killed under load (tests/SOAK.md).
soak-failover: all
	bash scripts/soak-failover.sh sync

clean:
	rm -rf build build-asan build-fuzz

-include $(OBJ_LIB:.o=.d) $(BUILD)/obj/main.d

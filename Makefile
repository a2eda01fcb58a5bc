# fntrace — top-level build.
#
# Every component folder has a module.mk that says what it builds; this file holds
# the rules they share.  Convention (so module.mk files stay a few lines):
#   - lib/*.c                   -> build/lib/libfntrace.a   (shared code, no main)
#   - COMPONENT/*.c but main.c  -> build/lib/libfntrace-COMPONENT.a
#   - COMPONENT/main.c          -> build/bin/BINARY (named in COMPONENT/module.mk)
#   - tests/unit/test_*.c       -> build/tests/test_*  (cmocka, linked with every lib)
#   - tests/fuzz/fuzz_*.c       -> build/fuzz/fuzz_*   (libFuzzer, clang)
# Library flags come from pkg-config and are evaluated lazily, so `make deps` can run
# on a machine where none of the -dev packages are installed yet.

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
VERSION  := 0.1.0

PKGS     := libmicrohttpd libcjson libcurl libelf zlib libseccomp libbpf
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong
OPT      ?= -O2 -g
SAN      ?=
CFLAGS   := -std=gnu11 $(OPT) $(WARN) $(HARDEN) -fno-omit-frame-pointer $(SAN) \
            -DFNTRACE_VERSION='"$(VERSION)"' -Ilib -I$(BUILD)/gen
LDFLAGS  := $(SAN) -Wl,--as-needed
LDLIBS    = $(PKG_LIBS) -lpthread -lm

COMPONENTS :=
BINS       :=
LIBS       :=
GEN_SRCS   :=
TEST_PKGS  := cmocka

.PHONY: all deps test asan fuzz bench demo demo-docker templates install clean unit
all:

include $(wildcard */module.mk)

COMMON_SRCS := $(wildcard lib/*.c)
COMMON_LIB  := $(BUILD)/lib/libfntrace.a
COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/obj/%.o)

# component static libraries: COMPONENT/*.c without main.c, plus generated sources
define component_rules
$(1)_SRCS := $$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c)) $$($(1)_GEN)
$(1)_OBJS := $$(patsubst %.c,$(BUILD)/obj/%.o,$$(patsubst $(BUILD)/%,%,$$($(1)_SRCS)))
$(BUILD)/lib/libfntrace-$(1).a: $$($(1)_OBJS)
	@mkdir -p $$(@D)
	$$(AR) rcs $$@ $$^
LIBS += $(BUILD)/lib/libfntrace-$(1).a
endef
$(foreach c,$(COMPONENTS),$(eval $(call component_rules,$(c))))

ALL_LIBS := $(LIBS) $(COMMON_LIB)

$(COMMON_LIB): $(COMMON_OBJS)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/obj/%.o: %.c | gen
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

# binaries: BIN_name := path/to/main.c (set in module.mk)
define bin_rule
$(BUILD)/bin/$(1): $(BUILD)/obj/$(patsubst %.c,%.o,$(BIN_$(1))) $(ALL_LIBS)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $(ALL_LIBS) $$(LDLIBS) $$(BIN_$(1)_LDLIBS)
endef
$(foreach b,$(BINS),$(eval $(call bin_rule,$(b))))

.PHONY: gen
gen: $(GEN_SRCS)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(ALL_LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LDLIBS) $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

# helper programs the tests run (workloads etc.): tests/progs/*.c, one file each
PROG_SRCS := $(wildcard tests/progs/*.c)
PROG_BINS := $(PROG_SRCS:tests/progs/%.c=$(BUILD)/tests/progs/%)
$(BUILD)/tests/progs/%: tests/progs/%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -g -fno-omit-frame-pointer -o $@ $< -lpthread -lm

all: $(ALL_LIBS) $(BINS:%=$(BUILD)/bin/%) $(UNIT_BINS) $(PROG_BINS)

deps:
	@tools/deps.sh

# `make test`: install what is missing, build, run every suite; non-zero on any failure.
test:
	@tools/deps.sh
	@$(MAKE) --no-print-directory -j2 all
	@BUILD=$(BUILD) tests/run

asan:
	@tools/deps.sh
	@$(MAKE) --no-print-directory -j2 BUILD=build-asan CC=clang \
	    SAN='-fsanitize=address,undefined -fno-sanitize-recover=undefined' OPT='-O1 -g' all
	@BUILD=build-asan FNTRACE_ASAN=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 tests/run

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_TIME ?= 30
fuzz:
	@tools/deps.sh
	@$(MAKE) --no-print-directory -j2 BUILD=build-fuzz CC=clang \
	    SAN='-fsanitize=fuzzer-no-link,address,undefined' OPT='-O1 -g' $(ALL_LIBS:$(BUILD)/%=build-fuzz/%)
	@BUILD=build-fuzz FUZZ_TIME=$(FUZZ_TIME) tools/fuzz.sh $(FUZZ_SRCS)

bench:
	@tools/deps.sh
	@$(MAKE) --no-print-directory -j2 all
	@BUILD=$(BUILD) bench/run

demo:
	@tools/deps.sh
	@$(MAKE) --no-print-directory -j2 all
	@BUILD=$(BUILD) tools/demo.sh

# `make demo-docker`: docker-compose.yml (collector, flamescope, a traced function) on
# this machine's Docker; `make templates`: the OpenFaaS and Azure templates with fntrace's
# source inside, ready to copy (faas-cli looks for template/c-fntrace).
demo-docker:
	@tools/demo-docker.sh

templates:
	@tools/docker/context.sh handler/templates/openfaas/c-fntrace $(BUILD)/templates/openfaas/template/c-fntrace
	@tools/docker/context.sh handler/templates/azure $(BUILD)/templates/azure
	@echo "templates: $(BUILD)/templates/openfaas/template/c-fntrace $(BUILD)/templates/azure"

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	for b in $(BINS); do install -m 755 $(BUILD)/bin/$$b $(DESTDIR)$(PREFIX)/bin/; done
	for l in $(ALL_LIBS); do install -m 644 $$l $(DESTDIR)$(PREFIX)/lib/; done
	for h in $(INSTALL_HEADERS); do install -m 644 $$h $(DESTDIR)$(PREFIX)/include/; done

clean:
	rm -rf build build-asan build-fuzz

# (build/docker-cache holds the Docker tests' daemon data and base image: not ours to scan)
-include $(shell find $(BUILD) build-asan build-fuzz -name docker-cache -prune -o -name '*.d' -type f -print 2>/dev/null)

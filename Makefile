# fntrace — top-level build.
#
# Every component folder has a module.mk that says what it builds; this file holds
# the rules they share.  Convention (so module.mk files stay a few lines):
#   - lib/*.c                   -> build/lib/libfntrace.a   (shared code, no main)
#   - COMPONENT/*.c but main.c  -> build/lib/libfntrace-COMPONENT.a
#   - COMPONENT/main.c          -> build/bin/BINARY (named in COMPONENT/module.mk)
#   - tests/unit/test_*.c       -> build/tests/test_*  (cmocka, linked with what it tests)
#   - tests/fuzz/fuzz_*.c       -> build/fuzz/fuzz_*   (libFuzzer, clang)
# Layering: a component's module.mk declares what it may use, and the rules below give
# each component exactly that and nothing more:
#   COMPONENT_USES  := other components whose headers and library it uses (lib/ always)
#   COMPONENT_PKGS  := pkg-config packages its own code calls
#   COMPONENT_TESTS := the tests/unit/test_*.c (without .c) that test it
# Its sources compile with -ICOMPONENT, -IUSED... and -Ilib only; its binaries and tests
# link its library, the libraries of what it uses (transitively) and libfntrace.a, plus
# those packages.  A test no component claims tests lib/ and links libfntrace.a only.
# docs/architecture.md draws the same graph; tests/e2e/test_architecture.py checks that
# the drawing, these declarations and the actual #include lines agree.
# Library flags come from pkg-config and are evaluated lazily, so `make deps` can run
# on a machine where none of the -dev packages are installed yet.

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
VERSION  := 0.1.0

pkg_cflags = $(if $(1),$(shell pkg-config --cflags $(1) 2>/dev/null))
pkg_libs   = $(if $(1),$(shell pkg-config --libs $(1) 2>/dev/null))

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong
OPT      ?= -O2 -g
SAN      ?=
# frame pointers, and no sibling calls: a tail call replaces its caller's frame, so the
# samples of a function that ends in a call would go to its caller's caller, and
# fntrace's profiles of itself (make bench) would hide where its time goes
CFLAGS   := -std=gnu11 $(OPT) $(WARN) $(HARDEN) -fno-omit-frame-pointer \
            -fno-optimize-sibling-calls $(SAN) -DFNTRACE_VERSION='"$(VERSION)"' -Ilib
LDFLAGS  := $(SAN) -Wl,--as-needed
# what libfntrace.a needs (lib_PKGS in lib/module.mk); components add their own
LDLIBS    = $(call pkg_libs,$(lib_PKGS)) -lpthread -lm

COMPONENTS :=
PUBLIC_LIBS :=
BINS       :=
LIBS       :=
GEN_SRCS   :=
TEST_PKGS  := cmocka

.PHONY: all deps test asan fuzz bench demo demo-docker templates install clean unit checksrc
all:

include $(wildcard */module.mk)

COMMON_SRCS := $(wildcard lib/*.c)
COMMON_LIB  := $(BUILD)/lib/libfntrace.a
COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/obj/%.o)

# uses_of(c): c's USES, transitively (a cycle is a layering error the architecture test
# reports; make would recurse forever, so the recursion stops at depth 8)
uses_of = $(if $(word 8,$(2)),,$(foreach u,$($(1)_USES),$(u) $(call uses_of,$(u),$(2) x)))
comp_closure = $(sort $(1) $(call uses_of,$(1)))
comp_pkgs    = $(sort $(lib_PKGS) $(foreach c,$(call comp_closure,$(1)),$($(c)_PKGS)))
comp_libs    = $(foreach c,$(call comp_closure,$(1)),$(BUILD)/lib/libfntrace-$(c).a) $(COMMON_LIB)
comp_incs    = -I$(1) $(foreach u,$($(1)_USES),-I$(u))
# link line of a program of component c (group: the archives may reference each other)
comp_link    = -Wl,--start-group $(call comp_libs,$(1)) -Wl,--end-group \
               $(call pkg_libs,$(call comp_pkgs,$(1))) -lpthread -lm

# component static libraries: COMPONENT/*.c without main.c, plus generated sources.
# Everything under COMPONENT/ (main.c, examples/) and its generated sources compile with
# the component's include path and package flags.
define component_rules
$(1)_SRCS := $$(filter-out $(1)/main.c,$$(wildcard $(1)/*.c)) $$($(1)_GEN)
$(1)_OBJS := $$(patsubst %.c,$(BUILD)/obj/%.o,$$(patsubst $(BUILD)/%,%,$$($(1)_SRCS)))
$(BUILD)/obj/$(1)/%.o $$(patsubst %.c,$(BUILD)/obj/%.o,$$(patsubst $(BUILD)/%,%,$$($(1)_GEN))): \
    COMP_CFLAGS = $$(call comp_incs,$(1)) $$(call pkg_cflags,$$(call comp_pkgs,$(1)))
# (rebuilt from scratch, and also when a file of the folder is added, removed or renamed:
# the folder and this Makefile are prerequisites, so a renamed module never leaves its
# old object behind, as tracer/upload.o stayed in libfntrace-tracer.a after the rename)
$(BUILD)/lib/libfntrace-$(1).a: $$($(1)_OBJS) $(1) Makefile
	@mkdir -p $$(@D)
	rm -f $$@ && $$(AR) rcs $$@ $$(filter %.o,$$^)
LIBS += $(BUILD)/lib/libfntrace-$(1).a
endef
$(foreach c,$(COMPONENTS),$(eval $(call component_rules,$(c))))

ALL_LIBS := $(LIBS) $(COMMON_LIB)

$(COMMON_LIB): $(COMMON_OBJS) lib Makefile
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $(filter %.o,$^)

COMP_CFLAGS = $(call pkg_cflags,$(lib_PKGS))
$(BUILD)/obj/%.o: %.c | gen
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(COMP_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(COMP_CFLAGS) -MMD -MP -c $< -o $@

# binaries: BIN_name := COMPONENT/.../main.c (set in module.mk); the folder names the
# component whose libraries it links; BIN_name_LDLIBS adds to its link line.
bin_comp = $(firstword $(subst /, ,$(BIN_$(1))))
define bin_rule
$(BUILD)/bin/$(1): $(BUILD)/obj/$(patsubst %.c,%.o,$(BIN_$(1))) $$(call comp_libs,$(call bin_comp,$(1)))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $$(call comp_link,$(call bin_comp,$(1))) $$(BIN_$(1)_LDLIBS)
endef
$(foreach b,$(BINS),$(eval $(call bin_rule,$(b))))

.PHONY: gen
gen: $(GEN_SRCS)

# installed libraries: PUBLIC_LIBS += NAME with NAME_COMP (the component), NAME_SYMBOLS
# (glob of the symbols it exports) and NAME_DESC (module.mk).  libNAME.a is one
# relocatable object: the component's modules and every archive member they need, with
# every global symbol but NAME_SYMBOLS made local, so a program linking it sees the API
# and nothing of fntrace's internals.  NAME.pc is written at install time.
OBJCOPY ?= objcopy
define public_lib_rule
$(BUILD)/lib/lib$(1).a: $$(call comp_libs,$$($(1)_COMP))
	@mkdir -p $(BUILD)/obj/public
	$$(LD) -r -o $(BUILD)/obj/public/$(1).o --whole-archive $(BUILD)/lib/libfntrace-$$($(1)_COMP).a \
	    --no-whole-archive --start-group $$(call comp_libs,$$($(1)_COMP)) --end-group
	$$(OBJCOPY) --wildcard --keep-global-symbol='$$($(1)_SYMBOLS)' $(BUILD)/obj/public/$(1).o
	rm -f $$@ && $$(AR) rcs $$@ $(BUILD)/obj/public/$(1).o
all: $(BUILD)/lib/lib$(1).a
endef
$(foreach l,$(PUBLIC_LIBS),$(eval $(call public_lib_rule,$(l))))
# NAME.pc is relocatable (prefix from its own place, lib/pkgconfig under the prefix), so
# it also works straight out of a DESTDIR staging tree with PKG_CONFIG_PATH pointing there
pc_head  = prefix=$${pcfiledir}/../..\nincludedir=$${prefix}/include\nlibdir=$${prefix}/lib\n\n
pc_text  = $(pc_head)Name: $(1)\nDescription: $($(1)_DESC)\nVersion: $(VERSION)\nRequires: $(call comp_pkgs,$($(1)_COMP))\nCflags: -I$${includedir}\nLibs: -L$${libdir} -l$(1) -lpthread -lm\n

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/obj/%.o)
# the component a test tests (COMPONENT_TESTS), empty for lib/; TEST_PKGS and the test's
# own TEST_PKGS (test_NAME_PKGS, e.g. a client library it drives the code with) add to it
test_comp = $(firstword $(foreach c,$(COMPONENTS),$(if $(filter $(1),$($(c)_TESTS)),$(c))))
define unit_rule
$(BUILD)/obj/tests/unit/$(1).o: COMP_CFLAGS = $(if $(2),$$(call comp_incs,$(2))) $$(call pkg_cflags,$(if $(2),$$(call comp_pkgs,$(2)),$$(lib_PKGS)) $$(TEST_PKGS) $$($(1)_PKGS))
$(BUILD)/tests/$(1): $(BUILD)/obj/tests/unit/$(1).o $(if $(2),$$(call comp_libs,$(2)),$$(COMMON_LIB))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $(if $(2),$$(call comp_link,$(2)),$$(COMMON_LIB) $$(LDLIBS)) $$(call pkg_libs,$$(TEST_PKGS) $$($(1)_PKGS))
endef
$(foreach t,$(UNIT_SRCS:tests/unit/%.c=%),$(eval $(call unit_rule,$(t),$(call test_comp,$(t)))))
# the test objects are not intermediates: keep them, so a second `make` relinks nothing
.SECONDARY: $(UNIT_OBJS)

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
	@BUILD=$(BUILD) DEMO_PARENT=$$PPID exec tools/demo.sh

# `make demo-docker`: docker-compose.yml (collector, flamescope, a traced function) on
# this machine's Docker; `make templates`: the OpenFaaS and Azure templates with fntrace's
# source inside, ready to copy (faas-cli looks for template/c-fntrace).
demo-docker:
	@tools/demo-docker.sh

templates:
	@tools/docker/context.sh handler/templates/openfaas/c-fntrace $(BUILD)/templates/openfaas/template/c-fntrace
	@tools/docker/context.sh handler/templates/azure $(BUILD)/templates/azure
	@echo "templates: $(BUILD)/templates/openfaas/template/c-fntrace $(BUILD)/templates/azure"

# the programs, the public libraries with their headers and pkg-config files (the
# internal libfntrace*.a archives are build products only: nothing outside uses them)
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	for b in $(BINS); do install -m 755 $(BUILD)/bin/$$b $(DESTDIR)$(PREFIX)/bin/; done
	for l in $(PUBLIC_LIBS); do install -m 644 $(BUILD)/lib/lib$$l.a $(DESTDIR)$(PREFIX)/lib/; done
	for h in $(INSTALL_HEADERS); do install -m 644 $$h $(DESTDIR)$(PREFIX)/include/; done
	$(foreach l,$(PUBLIC_LIBS),printf '$(call pc_text,$(l))' >$(DESTDIR)$(PREFIX)/lib/pkgconfig/$(l).pc;)

checksrc:
	@tools/checksrc

clean:
	rm -rf build build-asan build-fuzz

# (build/docker-cache holds the Docker tests' daemon data and base image: not ours to scan)
-include $(shell find $(BUILD) build-asan build-fuzz -name docker-cache -prune -o -name '*.d' -type f -print 2>/dev/null)

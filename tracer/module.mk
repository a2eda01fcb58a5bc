# tracer: the sampling profiler library (libfntrace-tracer.a) and the fntrace command
COMPONENTS += tracer
tracer_USES  :=                       # lib/ only
tracer_PKGS  := libelf libcurl zlib libbpf libcjson  # symbolizer: libelf; upload: libcurl,
                                      # zlib; bpf backend: libbpf; cgroupmap: cJSON
tracer_TESTS := test_tracer test_symbolizer test_tracer_upload test_timer_sampler \
                test_cgroupmap
BINS += fntrace
BIN_fntrace := tracer/main.c

# The BPF backend (tracer/bpf): a CO-RE object compiled by clang -target bpf against a
# vmlinux.h dumped from the running kernel's BTF, and its libbpf skeleton header, all
# generated into $(BUILD)/gen; bpf_sampler.c includes the skeleton (the object is
# embedded in it).
BPF_CLANG ?= clang
BPFTOOL   ?= bpftool
BTF_VMLINUX ?= /sys/kernel/btf/vmlinux
BPF_ARCH  := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' -e 's/s390x/s390/')
$(BUILD)/gen/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file $(BTF_VMLINUX) format c > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/profile.bpf.o: tracer/bpf/profile.bpf.c tracer/bpf/profile.h $(BUILD)/gen/vmlinux.h
	$(BPF_CLANG) -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -g -O2 -Wall -Werror \
	    -I$(BUILD)/gen -Itracer/bpf -c $< -o $@
$(BUILD)/gen/profile.skel.h: $(BUILD)/gen/profile.bpf.o
	$(BPFTOOL) gen skeleton $< name profile_bpf > $@.tmp && mv $@.tmp $@
# The kernel types and fields the program reads, cut from the build kernel's BTF (bpftool
# gen min_core_btf: ~400 bytes), and that kernel's /sys/kernel/notes (its build id): on the
# kernel it was built on, libbpf relocates against these instead of parsing the kernel's
# 5 MB BTF at every start (bpf_sampler.c, core_btf()).  Only when BTF_VMLINUX is the
# running kernel's is its build id recorded.
KERNEL_NOTES := $(if $(filter /sys/kernel/btf/vmlinux,$(BTF_VMLINUX)),/sys/kernel/notes)
$(BUILD)/gen/profile.min.btf: $(BUILD)/gen/profile.bpf.o
	$(BPFTOOL) gen min_core_btf $(BTF_VMLINUX) $@.tmp $< && mv $@.tmp $@
$(BUILD)/gen/profile_btf.h: $(BUILD)/gen/profile.min.btf tools/bin2c.sh
	{ tools/bin2c.sh profile_min_btf $< && tools/bin2c.sh profile_btf_notes $(KERNEL_NOTES); } \
	    > $@.tmp && mv $@.tmp $@
GEN_SRCS += $(BUILD)/gen/profile.skel.h $(BUILD)/gen/profile_btf.h
# the skeleton header and the BTF header are the generated files tracer code includes
$(BUILD)/obj/tracer/bpf_sampler.o: COMP_CFLAGS += -I$(BUILD)/gen
$(BUILD)/obj/tracer/bpf_sampler.o: $(BUILD)/gen/profile.skel.h $(BUILD)/gen/profile_btf.h

# tests/progs/selftrace: a test program that links the tracer library and samples itself
# (the in-process samplers' end-to-end tests), around tests/progs/hotspots.c's workload
SELFTRACE := $(BUILD)/tests/progs/selftrace
$(BUILD)/obj/tests/progs/selftrace/selftrace.o: COMP_CFLAGS = $(call comp_incs,tracer) $(call pkg_cflags,$(call comp_pkgs,tracer))
$(BUILD)/obj/tests/progs/selftrace/hotspots.o: tests/progs/hotspots.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(OPT) -fno-omit-frame-pointer $(SAN) -Dmain=hotspots_main -c $< -o $@
$(SELFTRACE): $(BUILD)/obj/tests/progs/selftrace/selftrace.o $(BUILD)/obj/tests/progs/selftrace/hotspots.o \
              $(BUILD)/lib/libfntrace-tracer.a $(BUILD)/lib/libfntrace.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(call comp_link,tracer)
all: $(SELFTRACE)

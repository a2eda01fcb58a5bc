# tracer: the sampling profiler library (libfntrace-tracer.a) and the fntrace command
COMPONENTS += tracer
tracer_USES  :=                       # lib/ only
tracer_PKGS  := libelf libcurl zlib   # symbolizer: libelf; upload: libcurl, zlib
tracer_TESTS := test_tracer test_symbolizer test_tracer_upload test_timer_sampler
BINS += fntrace
BIN_fntrace := tracer/main.c
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

# bench/module.mk — helper programs for the benchmarks (bench/bench_*.sh), linked with
# the shared library; built by `make all`, never installed.
#   bench/NAME.c -> $(BUILD)/bench/bin/NAME
BENCH_PROGS := $(patsubst bench/%.c,$(BUILD)/bench/bin/%,$(wildcard bench/*.c))
$(BUILD)/bench/bin/%: $(BUILD)/obj/bench/%.o $(BUILD)/lib/libfntrace.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/lib/libfntrace.a $(LDLIBS)
all: $(BENCH_PROGS)
.SECONDARY: $(patsubst bench/%.c,$(BUILD)/obj/bench/%.o,$(wildcard bench/*.c))

COMPONENTS += collector            # collector/*.c except main.c -> libfntrace-collector.a
BINS += fntrace-collector
BIN_fntrace-collector := collector/main.c

# collector: the trace collector service (libfntrace-collector.a, fntrace-collector)
COMPONENTS += collector            # collector/*.c except main.c -> libfntrace-collector.a
collector_USES  := flamescope      # its index files (flamescope/idxfile.h), written at commit
collector_PKGS  := libcjson zlib
collector_TESTS := test_bodycheck test_idem
BINS += fntrace-collector
BIN_fntrace-collector := collector/main.c

# tracer: the sampling profiler library (libfntrace-tracer.a) and the fntrace command
COMPONENTS += tracer
tracer_USES  :=                       # lib/ only
tracer_PKGS  := libelf libcurl zlib   # symbolizer: libelf; upload: libcurl, zlib
tracer_TESTS := test_tracer test_symbolizer test_tracer_upload
BINS += fntrace
BIN_fntrace := tracer/main.c

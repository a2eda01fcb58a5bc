# tracer: the sampling profiler library (libfntrace-tracer.a) and the fntrace command
COMPONENTS += tracer
BINS += fntrace
BIN_fntrace := tracer/main.c

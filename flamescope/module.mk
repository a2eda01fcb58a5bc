COMPONENTS += flamescope           # flamescope/*.c except main.c -> libfntrace-flamescope.a
BINS += fntrace-flamescope
BIN_fntrace-flamescope := flamescope/main.c

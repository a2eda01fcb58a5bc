# seccomp: Docker-format seccomp profiles (profiles/*.json) and the fntrace-seccomp
# command (derive / diff / check / exec); modules -> libfntrace-seccomp.a
COMPONENTS += seccomp
BINS += fntrace-seccomp
BIN_fntrace-seccomp := seccomp/main.c

# seccomp: Docker-format seccomp profiles (profiles/*.json) and the fntrace-seccomp
# command (derive / diff / check / exec); modules -> libfntrace-seccomp.a
COMPONENTS += seccomp
BINS += fntrace-seccomp
BIN_fntrace-seccomp := seccomp/main.c

# the profiles go beside the program: PREFIX/share/fntrace/seccomp/*.json
.PHONY: install-seccomp-profiles
install: install-seccomp-profiles
install-seccomp-profiles:
	install -d $(DESTDIR)$(PREFIX)/share/fntrace/seccomp
	install -m 644 seccomp/profiles/*.json $(DESTDIR)$(PREFIX)/share/fntrace/seccomp/

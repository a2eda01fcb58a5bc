# seccomp: Docker-format seccomp profiles (profiles/*.json) and the fntrace-seccomp
# command (derive / diff / check / exec); modules -> libfntrace-seccomp.a
COMPONENTS += seccomp
seccomp_USES  :=                      # lib/ only
seccomp_PKGS  := libcjson libseccomp  # profile parser: cJSON; filter: libseccomp
seccomp_TESTS := test_seccomp
BINS += fntrace-seccomp
BIN_fntrace-seccomp := seccomp/main.c

# the profiles go beside the program: PREFIX/share/fntrace/seccomp/*.json
.PHONY: install-seccomp-profiles
install: install-seccomp-profiles
install-seccomp-profiles:
	install -d $(DESTDIR)$(PREFIX)/share/fntrace/seccomp
	install -m 644 seccomp/profiles/*.json $(DESTDIR)$(PREFIX)/share/fntrace/seccomp/

# lib/module.mk — lib/ is the shared floor (libfntrace.a, built by the top-level Makefile):
# every component may include its headers and every program links it.
#   lib_PKGS:  the pkg-config packages lib/*.c calls (httpd: libmicrohttpd and cJSON for
#              the JSON errors; perfscript: zlib; store_azblob: libcurl, and libcrypto for
#              Shared Key's HMAC-SHA256)
#   lib_TESTS: its unit tests (also the default for a test no component claims)
lib_PKGS  := libmicrohttpd libcjson zlib libcurl libcrypto
lib_TESTS := test_httpd test_perfscript test_plthook test_store test_store_seam test_units
test_httpd_PKGS := libcurl          # the test's HTTP client

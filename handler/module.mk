# handler: libfnhandler (the function runtime) and the example function app.
COMPONENTS += handler                 # handler/*.c -> libfntrace-handler.a
handler_USES  := tracer               # tracing.c runs the tracer library and its uploader
handler_PKGS  := libmicrohttpd libcjson
handler_TESTS := test_fnhandler test_bindings
BINS += fnhandler-examples
BIN_fnhandler-examples := handler/examples/main.c
BINS += fnhandler                     # the developer's tool: fnhandler new KIND -n NAME
BIN_fnhandler := handler/tools/fnhandler.c
INSTALL_HEADERS += handler/fnhandler.h
# the installed library (rules in the Makefile): libfnhandler.a is handler + tracer + lib
# in one object whose only global symbols are fn_* (the API in fnhandler.h), and
# fnhandler.pc says how to compile and link against it
PUBLIC_LIBS += fnhandler
fnhandler_COMP    := handler
fnhandler_SYMBOLS := fn_*
fnhandler_DESC    := fntrace function runtime: C functions as an Azure Functions custom handler, an OpenFaaS function or a local HTTP service

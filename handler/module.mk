# handler: libfnhandler (the function runtime) and the example function app.
COMPONENTS += handler                 # handler/*.c -> libfntrace-handler.a
BINS += fnhandler-examples
BIN_fnhandler-examples := handler/examples/main.c
BINS += fnhandler                     # the developer's tool: fnhandler new KIND -n NAME
BIN_fnhandler := handler/tools/fnhandler.c
INSTALL_HEADERS += handler/fnhandler.h
# user code includes <fnhandler.h>; tracing.c uses the tracer library (tracer/)
CFLAGS += -Ihandler -Itracer

/* tracing — see tracing.h.  (Placeholder until the tracer library lands.) */
#include "tracing.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

int tracing_start(struct fn_app *app, struct tracing **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *on = getenv("FNTRACE");
    if (on && strcmp(on, "0") && *on)
        log_warn("tracing is not available in this build; serving without it", "FNTRACE=%s", on);
    return 0;
}

void tracing_stop(struct tracing *tr) { (void)tr; }

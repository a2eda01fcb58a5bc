/* jsonerr — see jsonerr.h. */
#include "jsonerr.h"

#include <cjson/cJSON.h>
#include <stdio.h>

struct cJSON *json_error_v(char *msg, size_t msglen, const char *fmt, va_list ap)
{
    if (msglen) vsnprintf(msg, msglen, fmt, ap);
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddStringToObject(o, "error", msglen ? msg : "")) {
        cJSON_Delete(o);
        o = NULL;
    }
    return o;
}

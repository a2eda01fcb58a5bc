/* fterr — see fterr.h.  The two tables below are the only place that names fntrace's
 * own errors and the only place that maps any error to an HTTP status. */
#include "fterr.h"

#include <errno.h>
#include <string.h>

static const char *const ft_messages[FT_ERR__END - FT_ERR__START] = {
    [FT_ERR_NOT_PERF - FT_ERR__START] = "not perf script text",
    [FT_ERR_BAD_GZIP - FT_ERR__START] = "corrupt or truncated gzip",
    [FT_ERR_BAD_NAME - FT_ERR__START] = "invalid trace name",
    [FT_ERR_BAD_ID - FT_ERR__START] = "invalid trace id",
    [FT_ERR_TOO_LARGE - FT_ERR__START] = "over the size limit",
    [FT_ERR_OVER_BUDGET - FT_ERR__START] = "over the memory budget",
    [FT_ERR_EMPTY - FT_ERR__START] = "no samples to answer from",
    [FT_ERR_BAD_INPUT - FT_ERR__START] = "malformed input",
    [FT_ERR_UNAUTHORIZED - FT_ERR__START] = "missing or wrong credentials",
    [FT_ERR_STORE_DOWN - FT_ERR__START] = "the store is unavailable",
    [FT_ERR_CORRUPT - FT_ERR__START] = "damaged file",
    [FT_ERR_UNSUPPORTED - FT_ERR__START] = "not supported by this build",
    [FT_ERR_NO_TARGET - FT_ERR__START] = "cannot start, find or trace the target",
    [FT_ERR_BODY_TYPE - FT_ERR__START] = "request body is not perf script text",
    [FT_ERR_BODY_GZIP - FT_ERR__START] = "request body is not valid gzip",
};

const char *ft_strerror(int err)
{
    if (err < 0) err = -err;
    if (err >= FT_ERR__START && err < FT_ERR__END && ft_messages[err - FT_ERR__START])
        return ft_messages[err - FT_ERR__START];
    return strerror(err);
}

int ft_http_status(int err)
{
    if (err < 0) err = -err;
    switch (err) {
    case FT_ERR_BAD_NAME: case FT_ERR_BAD_ID: case FT_ERR_BAD_INPUT: case FT_ERR_BODY_GZIP:
    case EINVAL: case EISDIR: case ENAMETOOLONG: case ENOTDIR: case ELOOP:
        return 400;
    case FT_ERR_UNAUTHORIZED: return 401;
    case EACCES: case EPERM: return 403;
    case ENOENT: case FT_ERR_NO_TARGET: return 404;
    case FT_ERR_TOO_LARGE: case EFBIG: return 413;
    case FT_ERR_BODY_TYPE: return 415;
    case EBUSY: return 409;          /* the same Idempotency-Key is being uploaded */
    case ERANGE: return 416;
    case FT_ERR_NOT_PERF: case FT_ERR_BAD_GZIP: case FT_ERR_CORRUPT: case FT_ERR_EMPTY:
    case EBADMSG: case EILSEQ:
        return 422;
    case FT_ERR_UNSUPPORTED: return 501;
    case FT_ERR_STORE_DOWN: case ENOMEM: case EAGAIN: return 503;
    case FT_ERR_OVER_BUDGET: case ENOSPC: case EDQUOT: return 507;
    default: return 500;
    }
}

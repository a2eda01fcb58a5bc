/* fuzz_idem: bytes as an Idempotency-Key header value, as the collector's key journal
 * (.idempotency, read at startup: a hostile store may hold anything there), and as text
 * for lib/utf8.  A parsed key is printable and bounded; a fixed text is valid UTF-8 and
 * a cut never ends inside a character. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../collector/idem.h"
#include "log.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char key[IDEM_KEY_MAX + 1];
    if (idem_key_parse((const char *)data, size, key) == 0) {
        size_t n = strlen(key);
        if (!n || n > IDEM_KEY_MAX) abort();
        for (size_t i = 0; i < n; i++)
            if (key[i] <= 0x20 || key[i] >= 0x7f) abort();
    }
    size_t fl;
    char *fixed = utf8_fix((const char *)data, size, &fl);
    if (fixed && !utf8_valid(fixed, fl)) abort();
    free(fixed);
    size_t cut = utf8_cut((const char *)data, size);
    if (cut > size) abort();
    if (utf8_valid((const char *)data, size) && cut != size) abort();
    /* the journal */
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/fuzz_idem.XXXXXX");
        if (!mkdtemp(dir)) return 0;
        log_set_level(LOG_ERROR);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/.idempotency", dir);
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    char err[256];
    struct idem *ix = idem_open(dir, 0, err, sizeof err);
    if (ix) {
        char id[STORE_ID_MAX + 1];
        uint64_t bytes;
        if (idem_claim(ix, "probe", id, &bytes) == 1 && !store_id_valid(id)) abort();
        idem_close(ix);
    }
    return 0;
}

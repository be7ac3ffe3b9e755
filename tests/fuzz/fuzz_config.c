/*
 * Fuzz target: bytes as a config. Whatever loads is then used: every SLI classifies a few
 * lines of each built-in shape and explains the result, so compiled rules get exercised too.
 * The SLIs are prepared (slt_sli_prepare): the fast and batched classes, which use the
 * prepared tables, must equal the explained one, which runs every atom.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slt/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const lines[] = {
    ("10.0.0.1 - - [10/Oct/2023:13:55:36 +0000] \"POST /api/checkout HTTP/1.1\" 503 12 \"-\" "
     "\"curl/8\" 0.512 0.510"),
    "10.0.0.1 - - [10/Oct/2023:13:55:36 +0000] \"GET /search?q=a HTTP/1.1\" 200 1 \"-\" \"-\"",
    "{\"ts\":\"2023-10-10T12:00:00Z\",\"status\":404,\"request_time\":0.1,\"tenant\":{\"id\":\"a\"}"
    "}",
    "2023-10-10T12:00:00Z acme 200 251",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slt_config *cfg = NULL;
    struct slt_matcher *m;
    char err[512], why[512];
    size_t i, j, k;

    if (slt_config_load_string("fuzz.yaml", (const char *)data, size, &cfg, err, sizeof(err)))
        return 0;
    m = slt_matcher_new();
    for (k = 0; k < cfg->nslis; k++)
        (void)slt_sli_prepare(&cfg->slis[k]);
    for (i = 0; m && i < cfg->ninputs; i++) {
        struct slt_parser *p = slt_parser_new(cfg->inputs[i].fmt, cfg->inputs[i].max_line);

        for (j = 0; p && j < sizeof(lines) / sizeof(lines[0]); j++) {
            struct slt_record rec;

            if (slt_parse(p, lines[j], strlen(lines[j]), &rec) != SLT_UP_OK)
                continue;
            for (k = 0; k < cfg->nslis; k++) {
                struct slt_decision d;
                const struct slt_sli *one = &cfg->slis[k];
                unsigned char batch = 0xff;
                enum slt_class cls, fast;

                if (cfg->slis[k].input_idx != i)
                    continue;
                cls = slt_sli_classify(&cfg->slis[k], &rec, m, &d);
                slt_decision_format(&d, &rec, why, sizeof(why));
                fast = slt_sli_classify(&cfg->slis[k], &rec, m, NULL);
                slt_slis_classify(&one, 1, &rec, m, &batch);
                if (fast != cls || batch != (unsigned char)cls)
                    abort();
            }
        }
        slt_parser_free(p);
    }
    slt_matcher_free(m);
    slt_config_free(cfg);
    return 0;
}

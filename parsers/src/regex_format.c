/* Placeholder until user regex formats land (replaced by the config/rules work). */
#include <stdio.h>

#include "format_internal.h"

int slt__regex_format_new(const struct slt_format_spec *spec, struct slt_format **out, char *err,
                          size_t errlen)
{
    (void)out;
    snprintf(err, errlen, "format '%s': regex formats are not built yet", spec->name);
    return SLT_ECONFIG;
}

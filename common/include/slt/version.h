/* What was built: the version of the sources and their git revision (cmake/build_info.cmake). */
#ifndef SLT_VERSION_H
#define SLT_VERSION_H

#include <stdio.h>

#include "slt/common.h"

/*
 * Prints "<prog> <version> (git <revision>)\n" to f: the answer to --version. The version is
 * "0.1.0"; the revision is the short git revision of the build ("3f2a1c9d0b7e", "-dirty" when
 * there were local changes), $SLT_GIT_REVISION when set at build time, or "unknown" outside a
 * checkout.
 */
void slt_print_version(FILE *f, const char *prog);
/* Appends the slitail_build_info gauge (HELP, TYPE and its one sample, value 1) to b. */
int slt_build_info_prom(struct slt_buf *b);

#endif

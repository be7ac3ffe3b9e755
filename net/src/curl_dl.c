/* The one libcurl loader (see slt/curl_dl.h). */
#include "slt/curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "slt/common.h"

struct slt_curl_api slt__curl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc = SLT_ENOTFOUND;
static char load_err[512];

static void load(void)
{
    struct slt_curl_api t;
    const char *e;
    void *dl;

    /* RTLD_LOCAL: libcurl's symbols (and its TLS library's) stay out of the global scope */
    dl = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        e = dlerror();
        snprintf(load_err, sizeof(load_err),
                 "cannot load libcurl: %s (install the Debian package libcurl4)",
                 e ? e : "libcurl.so.4 not found");
        return;
    }
#define SLT_CURL_SYM(name, ret, params)                                                            \
    if (!(*(void **)&t.name = dlsym(dl, "curl_" #name))) {                                         \
        snprintf(load_err, sizeof(load_err),                                                       \
                 "cannot load libcurl: libcurl.so.4 has no curl_" #name);                          \
        dlclose(dl);                                                                               \
        return;                                                                                    \
    }
    SLT_CURL_FUNCS(SLT_CURL_SYM)
#undef SLT_CURL_SYM
    slt__curl = t;
    load_rc = 0;
}

int slt_curl_load(char *err, size_t errlen)
{
    pthread_once(&load_once, load);
    if (load_rc < 0 && err && errlen > 0)
        snprintf(err, errlen, "%s", load_err);
    return load_rc;
}

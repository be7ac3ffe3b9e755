/*
 * libcurl for slitail-agent, loaded when first used (an S3 input) rather than at start.
 *
 * Linked, libcurl (Debian's, with librtmp, GnuTLS, Kerberos, LDAP, libssh2 ... behind it) maps
 * and relocates some 40 libraries into every agent: about 3.5 MiB of resident pages before
 * a line is read, most of the agent's 10 MiB bound (docs/AGENT.md, "Bounds"). The agent binary
 * alone defines the libcurl calls it makes, here, as forwarders to the library opened with
 * dlopen() on the first call; linked with --as-needed, it then does not need libcurl at start.
 * The unit tests and the other binaries link libcurl as usual.
 *
 * The variadic calls take exactly one argument, whose type the option number's range says
 * (curl/curl.h: CURLOPTTYPE_*), as libcurl itself reads them.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>

#define CURL_DISABLE_TYPECHECK /* the forwarders below are the functions those macros wrap */
#include <curl/curl.h>

#define CURL_FNS(X)                                                                                \
    X(CURLcode, curl_global_init, (long flags))                                                    \
    X(void, curl_global_cleanup, (void))                                                           \
    X(CURL *, curl_easy_init, (void))                                                              \
    X(void, curl_easy_cleanup, (CURL * e))                                                         \
    X(CURLcode, curl_easy_setopt, (CURL * e, CURLoption o, ...))                                   \
    X(CURLcode, curl_easy_getinfo, (CURL * e, CURLINFO i, ...))                                    \
    X(CURLcode, curl_easy_pause, (CURL * e, int bitmask))                                          \
    X(const char *, curl_easy_strerror, (CURLcode c))                                              \
    X(CURLM *, curl_multi_init, (void))                                                            \
    X(CURLMcode, curl_multi_cleanup, (CURLM * m))                                                  \
    X(CURLMcode, curl_multi_add_handle, (CURLM * m, CURL * e))                                     \
    X(CURLMcode, curl_multi_remove_handle, (CURLM * m, CURL * e))                                  \
    X(CURLMcode, curl_multi_setopt, (CURLM * m, CURLMoption o, ...))                               \
    X(CURLMcode, curl_multi_assign, (CURLM * m, curl_socket_t s, void *p))                         \
    X(CURLMsg *, curl_multi_info_read, (CURLM * m, int *left))                                     \
    X(CURLMcode, curl_multi_socket_action, (CURLM * m, curl_socket_t s, int ev, int *running))     \
    X(struct curl_slist *, curl_slist_append, (struct curl_slist * l, const char *s))              \
    X(void, curl_slist_free_all, (struct curl_slist * l))

#define DECLARE(ret, name, args) static ret(*p_##name) args;
CURL_FNS(DECLARE)

static int loaded; /* 1 loaded, -1 cannot be */

static int load(void)
{
    void *h;

    if (loaded)
        return loaded > 0;
    loaded = -1;
    h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return 0;
#define RESOLVE(ret, name, args)                                                                   \
    *(void **)&p_##name = dlsym(h, #name);                                                         \
    if (!p_##name)                                                                                 \
        return 0;
    CURL_FNS(RESOLVE)
    loaded = 1;
    return 1;
}

CURLcode curl_global_init(long flags)
{
    return load() ? p_curl_global_init(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
    if (loaded > 0)
        p_curl_global_cleanup();
}

CURL *curl_easy_init(void)
{
    return load() ? p_curl_easy_init() : NULL;
}

void curl_easy_cleanup(CURL *e)
{
    if (loaded > 0)
        p_curl_easy_cleanup(e);
}

CURLcode curl_easy_setopt(CURL *e, CURLoption o, ...)
{
    va_list ap;
    CURLcode rc;

    if (!load())
        return CURLE_FAILED_INIT;
    va_start(ap, o);
    if (o < CURLOPTTYPE_OBJECTPOINT)
        rc = p_curl_easy_setopt(e, o, va_arg(ap, long));
    else if (o >= CURLOPTTYPE_OFF_T && o < CURLOPTTYPE_BLOB)
        rc = p_curl_easy_setopt(e, o, va_arg(ap, curl_off_t));
    else
        rc = p_curl_easy_setopt(e, o, va_arg(ap, void *)); /* data and function pointers */
    va_end(ap);
    return rc;
}

CURLcode curl_easy_getinfo(CURL *e, CURLINFO i, ...)
{
    va_list ap;
    CURLcode rc;

    if (!load())
        return CURLE_FAILED_INIT;
    va_start(ap, i);
    rc = p_curl_easy_getinfo(e, i, va_arg(ap, void *)); /* always a pointer to the answer */
    va_end(ap);
    return rc;
}

CURLcode curl_easy_pause(CURL *e, int bitmask)
{
    return load() ? p_curl_easy_pause(e, bitmask) : CURLE_FAILED_INIT;
}

const char *curl_easy_strerror(CURLcode c)
{
    return load() ? p_curl_easy_strerror(c) : "libcurl.so.4 cannot be loaded";
}

CURLM *curl_multi_init(void)
{
    return load() ? p_curl_multi_init() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
    return load() ? p_curl_multi_cleanup(m) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *e)
{
    return load() ? p_curl_multi_add_handle(m, e) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *e)
{
    return load() ? p_curl_multi_remove_handle(m, e) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption o, ...)
{
    va_list ap;
    CURLMcode rc;

    if (!load())
        return CURLM_INTERNAL_ERROR;
    va_start(ap, o);
    if (o < CURLOPTTYPE_OBJECTPOINT)
        rc = p_curl_multi_setopt(m, o, va_arg(ap, long));
    else if (o >= CURLOPTTYPE_OFF_T && o < CURLOPTTYPE_BLOB)
        rc = p_curl_multi_setopt(m, o, va_arg(ap, curl_off_t));
    else
        rc = p_curl_multi_setopt(m, o, va_arg(ap, void *));
    va_end(ap);
    return rc;
}

CURLMcode curl_multi_assign(CURLM *m, curl_socket_t s, void *p)
{
    return load() ? p_curl_multi_assign(m, s, p) : CURLM_INTERNAL_ERROR;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
    return load() ? p_curl_multi_info_read(m, left) : NULL;
}

CURLMcode curl_multi_socket_action(CURLM *m, curl_socket_t s, int ev, int *running)
{
    return load() ? p_curl_multi_socket_action(m, s, ev, running) : CURLM_INTERNAL_ERROR;
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
    return load() ? p_curl_slist_append(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
    if (loaded > 0)
        p_curl_slist_free_all(l);
}

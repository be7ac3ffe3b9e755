/*
 * libcurl, loaded when first used: the one loader of the tree.
 *
 * Linking libcurl maps it and its dependency chain (gnutls, krb5, ldap, ssh2, nghttp2,
 * p11-kit...: ~38 shared objects, ~5 MB resident) into every process at start, even an agent
 * without any S3 input. Nothing links libcurl; slt_curl_load() dlopen()s "libcurl.so.4"
 * (Debian package libcurl4) the first time a user needs it: slt_curl_uv_new() (the agent's S3
 * inputs, the aggregator's outgoing HTTP on its first request) and `slitail query`.
 *
 * Users include this header instead of <curl/curl.h>: it brings curl's types and constants,
 * and the function names curl_easy_init, curl_easy_setopt, ... become calls through the
 * table slt__curl. Calling one of them before slt_curl_load() returned 0 is a bug (a NULL
 * function pointer). curl's compile-time type checks of curl_easy_setopt's arguments
 * (typecheck-gcc.h) are off for these users.
 */
#ifndef SLT_CURL_DL_H
#define SLT_CURL_DL_H

#include <stddef.h>

#ifndef CURL_DISABLE_TYPECHECK
#define CURL_DISABLE_TYPECHECK 1
#endif
#include <curl/curl.h>

/* XX(name without the curl_ prefix, return type, parameters): every function the tree uses. */
#define SLT_CURL_FUNCS(XX)                                                                         \
    XX(global_init, CURLcode, (long flags))                                                        \
    XX(global_cleanup, void, (void))                                                               \
    XX(easy_init, CURL *, (void))                                                                  \
    XX(easy_setopt, CURLcode, (CURL * e, CURLoption opt, ...))                                     \
    XX(easy_getinfo, CURLcode, (CURL * e, CURLINFO info, ...))                                     \
    XX(easy_perform, CURLcode, (CURL * e))                                                         \
    XX(easy_pause, CURLcode, (CURL * e, int bitmask))                                              \
    XX(easy_cleanup, void, (CURL * e))                                                             \
    XX(easy_strerror, const char *, (CURLcode c))                                                  \
    XX(slist_append, struct curl_slist *, (struct curl_slist * l, const char *s))                  \
    XX(slist_free_all, void, (struct curl_slist * l))                                              \
    XX(multi_init, CURLM *, (void))                                                                \
    XX(multi_setopt, CURLMcode, (CURLM * m, CURLMoption opt, ...))                                 \
    XX(multi_add_handle, CURLMcode, (CURLM * m, CURL * e))                                         \
    XX(multi_remove_handle, CURLMcode, (CURLM * m, CURL * e))                                      \
    XX(multi_socket_action, CURLMcode, (CURLM * m, curl_socket_t s, int ev_bitmask, int *running)) \
    XX(multi_assign, CURLMcode, (CURLM * m, curl_socket_t s, void *sockp))                         \
    XX(multi_info_read, CURLMsg *, (CURLM * m, int *msgs_in_queue))                                \
    XX(multi_cleanup, CURLMcode, (CURLM * m))

struct slt_curl_api {
#define SLT_CURL_FIELD(name, ret, params) ret(*name) params;
    SLT_CURL_FUNCS(SLT_CURL_FIELD)
#undef SLT_CURL_FIELD
};

/* Filled by slt_curl_load(); read only after it returned 0. */
extern struct slt_curl_api slt__curl;

/*
 * Loads libcurl.so.4 (RTLD_NOW | RTLD_LOCAL) and fills slt__curl, once per process: later
 * calls return the first result at once (thread-safe). Never unloaded. Returns 0, or
 * SLT_ENOTFOUND with a message in err (libcurl missing: "install the Debian package libcurl4",
 * or a function missing from it) when err is not NULL.
 */
int slt_curl_load(char *err, size_t errlen);

#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init slt__curl.global_init
#define curl_global_cleanup slt__curl.global_cleanup
#define curl_easy_init slt__curl.easy_init
#define curl_easy_setopt slt__curl.easy_setopt
#define curl_easy_getinfo slt__curl.easy_getinfo
#define curl_easy_perform slt__curl.easy_perform
#define curl_easy_pause slt__curl.easy_pause
#define curl_easy_cleanup slt__curl.easy_cleanup
#define curl_easy_strerror slt__curl.easy_strerror
#define curl_slist_append slt__curl.slist_append
#define curl_slist_free_all slt__curl.slist_free_all
#define curl_multi_init slt__curl.multi_init
#define curl_multi_setopt slt__curl.multi_setopt
#define curl_multi_add_handle slt__curl.multi_add_handle
#define curl_multi_remove_handle slt__curl.multi_remove_handle
#define curl_multi_socket_action slt__curl.multi_socket_action
#define curl_multi_assign slt__curl.multi_assign
#define curl_multi_info_read slt__curl.multi_info_read
#define curl_multi_cleanup slt__curl.multi_cleanup

#endif

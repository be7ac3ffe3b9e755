/*
 * TLS behind the connection ops table: OpenSSL with memory BIOs between the socket and the
 * user's callbacks, so libuv stays in charge of all I/O.
 *
 * Ciphertext read from the socket goes into the read BIO; SSL_do_handshake / SSL_read turn it
 * into plaintext delivered through the user's alloc/read callbacks; whatever OpenSSL writes
 * into the write BIO (handshake messages, records, alerts) goes to the socket at once. Until
 * the handshake ends the socket is read whatever the user asked, user writes wait in a list,
 * and a client's connect_cb waits for the handshake. After it, reading the socket follows
 * the user's read_start/read_stop, so TCP pushes back as on plain TCP; plaintext OpenSSL still
 * holds when reading restarts is delivered from a zero timer, never from inside read_start.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conn_internal.h"
#include "slt/tls.h"

#define COMPONENT "tls"
#define RBUF_SIZE (16 * 1024)
#define DELIVER_CHUNK (64 * 1024)

struct slt_tls {
    SSL_CTX *ctx;
    enum slt_tls_role role;
    int client_certs; /* server: client certificates required */
    int refs;
    char what[32];
    struct slt_tls_counters n;
};

struct pending_write {
    struct pending_write *next;
    const char *p;
    size_t len;
    slt_conn_write_cb cb;
    void *arg;
};

struct slt_tls_conn {
    struct slt_tls *tls;
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    int server;
    int done;        /* the handshake ended well */
    int failed;      /* a TLS error was reported */
    int eof;         /* the socket said EOF */
    int pending_err; /* an error for the user's next read */
    int got_bytes;
    unsigned char first;
    uv_timer_t kick;
    struct pending_write *pw, **pw_tail;
    char rbuf[RBUF_SIZE];
};

/* ------------------------------------------------------------------------------------------ */
/* Contexts                                                                                    */

/* The reason's label ("plaintext", "unknown_ca", "expired", "bad_name", "no_cert", "other"). */
static const char *slt_tls_reason_name(enum slt_tls_reason r)
{
    static const char *const names[SLT_TLS_R__COUNT] = {"plaintext", "unknown_ca", "expired",
                                                        "bad_name",  "no_cert",    "other"};

    return (unsigned)r < SLT_TLS_R__COUNT ? names[r] : "other";
}

/* The first OpenSSL error in words, and the queue emptied. */
static void ssl_errstr(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    snprintf(buf, len, "%s", r ? r : "unknown error");
    ERR_clear_error();
}

static SSL_CTX *make_ctx(enum slt_tls_role role, const struct slt_tls_opts *o, char *err,
                         size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(role == SLT_TLS_SERVER ? TLS_server_method() : TLS_client_method());
    char why[200];

    ERR_clear_error();
    if (!ctx) {
        snprintf(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (role == SLT_TLS_SERVER && (!o->cert_file || !o->key_file)) {
        snprintf(err, errlen, "a TLS listener needs cert_file and key_file");
        goto fail;
    }
    if (o->cert_file && SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
        ssl_errstr(why, sizeof(why));
        snprintf(err, errlen, "cannot load cert_file '%s': %s", o->cert_file, why);
        goto fail;
    }
    if (o->key_file && SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1) {
        ssl_errstr(why, sizeof(why));
        snprintf(err, errlen, "cannot load key_file '%s': %s", o->key_file, why);
        goto fail;
    }
    if (o->cert_file && SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "key_file '%s' does not match cert_file '%s'", o->key_file,
                 o->cert_file);
        goto fail;
    }
    if (role == SLT_TLS_SERVER) {
        if (o->ca_file) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);

            if (!names || SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
                ssl_errstr(why, sizeof(why));
                snprintf(err, errlen, "cannot load client_ca_file '%s': %s", o->ca_file, why);
                if (names)
                    sk_X509_NAME_pop_free(names, X509_NAME_free);
                goto fail;
            }
            SSL_CTX_set_client_CA_list(ctx, names);
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"slitail", 7);
    } else {
        if (o->ca_file ? SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1
                       : SSL_CTX_set_default_verify_paths(ctx) != 1) {
            ssl_errstr(why, sizeof(why));
            snprintf(err, errlen, "cannot load ca_file '%s': %s",
                     o->ca_file ? o->ca_file : "(system store)", why);
            goto fail;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

int slt_tls_new(enum slt_tls_role role, const struct slt_tls_opts *opts, const char *what,
                struct slt_tls **out, char *err, size_t errlen)
{
    struct slt_tls *t = slt_calloc(1, sizeof(*t));

    if (!t) {
        snprintf(err, errlen, "out of memory");
        return SLT_ENOMEM;
    }
    t->ctx = make_ctx(role, opts, err, errlen);
    if (!t->ctx) {
        slt_free(t);
        return SLT_ECONFIG;
    }
    t->role = role;
    t->client_certs = role == SLT_TLS_SERVER && opts->ca_file != NULL;
    t->refs = 1;
    snprintf(t->what, sizeof(t->what), "%s", what ? what : "tls");
    *out = t;
    return 0;
}

int slt_tls_reload(struct slt_tls *t, const struct slt_tls_opts *opts, char *err, size_t errlen)
{
    SSL_CTX *ctx = make_ctx(t->role, opts, err, errlen);

    if (!ctx) {
        t->n.reload_failures++;
        return SLT_ECONFIG;
    }
    /* connections made with the old context hold their own reference to it */
    SSL_CTX_free(t->ctx);
    t->ctx = ctx;
    t->client_certs = t->role == SLT_TLS_SERVER && opts->ca_file != NULL;
    t->n.reloads++;
    return 0;
}

int slt_tls_requires_client_cert(const struct slt_tls *t)
{
    return t && t->client_certs;
}

const struct slt_tls_counters *slt_tls_counters(const struct slt_tls *t)
{
    return &t->n;
}

void slt_tls_free(struct slt_tls *t)
{
    if (!t || --t->refs > 0)
        return;
    SSL_CTX_free(t->ctx);
    slt_free(t);
}

int slt_tls_prom(struct slt_buf *b, const char *prefix, struct slt_tls *const *tls,
                 const char *const *names, size_t n)
{
    size_t i;
    int r, rc = 0;

    rc |= slt_buf_printf(b,
                         "# HELP %s_tls_handshakes_total TLS handshakes completed.\n"
                         "# TYPE %s_tls_handshakes_total counter\n",
                         prefix, prefix);
    for (i = 0; i < n; i++)
        if (tls[i])
            rc |= slt_buf_printf(b, "%s_tls_handshakes_total{listener=\"%s\"} %llu\n", prefix,
                                 names[i], (unsigned long long)tls[i]->n.handshakes);
    rc |= slt_buf_printf(b,
                         "# HELP %s_tls_handshake_failures_total TLS handshakes or records that "
                         "failed, by reason.\n# TYPE %s_tls_handshake_failures_total counter\n",
                         prefix, prefix);
    for (i = 0; i < n; i++)
        for (r = 0; tls[i] && r < SLT_TLS_R__COUNT; r++)
            rc |= slt_buf_printf(b,
                                 "%s_tls_handshake_failures_total{listener=\"%s\",reason=\"%s\"} "
                                 "%llu\n",
                                 prefix, names[i], slt_tls_reason_name((enum slt_tls_reason)r),
                                 (unsigned long long)tls[i]->n.failures[r]);
    rc |= slt_buf_printf(b,
                         "# HELP %s_tls_reloads_total Certificate reloads (SIGHUP), by outcome.\n"
                         "# TYPE %s_tls_reloads_total counter\n",
                         prefix, prefix);
    for (i = 0; i < n; i++)
        if (tls[i])
            rc |= slt_buf_printf(b,
                                 "%s_tls_reloads_total{listener=\"%s\",result=\"ok\"} %llu\n"
                                 "%s_tls_reloads_total{listener=\"%s\",result=\"failed\"} %llu\n",
                                 prefix, names[i], (unsigned long long)tls[i]->n.reloads, prefix,
                                 names[i], (unsigned long long)tls[i]->n.reload_failures);
    return rc ? SLT_ELIMIT : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Failures in words                                                                           */

static enum slt_tls_reason verify_reason(long v)
{
    switch (v) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return SLT_TLS_R_EXPIRED;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
    case X509_V_ERR_EMAIL_MISMATCH:
        return SLT_TLS_R_BAD_NAME;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_CERT_UNTRUSTED:
        return SLT_TLS_R_UNKNOWN_CA;
    default:
        return SLT_TLS_R_OTHER;
    }
}

/* Sets c->err and counts the failure (once per connection); returns nothing the user needs. */
static void describe_failure(struct slt_conn *c, const char *io_error)
{
    struct slt_tls_conn *t = c->tls;
    enum slt_tls_reason why = SLT_TLS_R_OTHER;
    unsigned long e = ERR_peek_error();
    long v = t->ssl ? SSL_get_verify_result(t->ssl) : X509_V_OK;
    const char *stage = t->done ? "TLS error" : "TLS handshake failed";
    const char *peer = t->server ? "client" : "server";

    if (t->failed)
        return;
    t->failed = 1;
    if (t->server && t->got_bytes && t->first != 0x16 && !t->done) {
        why = SLT_TLS_R_PLAINTEXT;
        snprintf(c->err, sizeof(c->err),
                 "%s: the client does not speak TLS (plaintext on a TLS "
                 "port?)",
                 stage);
    } else if (v != X509_V_OK) {
        why = verify_reason(v);
        snprintf(c->err, sizeof(c->err), "%s: the %s's certificate is refused: %s", stage, peer,
                 X509_verify_cert_error_string(v));
    } else if (e) {
        int reason = ERR_GET_REASON(e);

        switch (reason) {
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
            why = SLT_TLS_R_NO_CERT;
            break;
        case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
            why = SLT_TLS_R_UNKNOWN_CA;
            break;
        case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
            why = SLT_TLS_R_EXPIRED;
            break;
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_HTTP_REQUEST:
        case SSL_R_PACKET_LENGTH_TOO_LONG:
        case SSL_R_UNEXPECTED_EOF_WHILE_READING:
            why = t->done ? SLT_TLS_R_OTHER : SLT_TLS_R_PLAINTEXT;
            break;
        default:
            break;
        }
        snprintf(c->err, sizeof(c->err), "%s: %s%s", stage, ERR_reason_error_string(e),
                 why == SLT_TLS_R_NO_CERT && t->server ? " (the client sent no certificate)"
                 : why == SLT_TLS_R_NO_CERT            ? " (the server wants a client certificate)"
                 : why == SLT_TLS_R_PLAINTEXT && !t->server
                     ? " (the server does not speak TLS: plaintext port?)"
                 : reason == SSL_R_TLSV1_ALERT_UNKNOWN_CA ||
                         reason == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED ||
                         reason == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE
                     ? " (the peer refused our certificate)"
                     : "");
    } else {
        snprintf(c->err, sizeof(c->err), "%s: %s", stage,
                 io_error ? io_error : "connection closed during the handshake");
    }
    ERR_clear_error();
    t->tls->n.failures[why]++;
}

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                 */

/* Sends what OpenSSL wrote; cb (may be NULL) runs when it is out, accounting user_len. */
static int flush_out(struct slt_conn *c, slt_conn_write_cb cb, void *arg, size_t user_len)
{
    struct slt_tls_conn *t = c->tls;
    size_t n = BIO_ctrl_pending(t->wbio);
    struct slt__conn_wreq *w;
    int rc;

    if (n == 0 && !cb)
        return 0;
    if (n > UINT32_MAX)
        return SLT_ELIMIT;
    w = slt_malloc(sizeof(*w) + n);
    if (!w)
        return SLT_ENOMEM;
    if (n > 0 && BIO_read(t->wbio, w->data, (int)n) != (int)n) {
        slt_free(w);
        return SLT_EPROTO;
    }
    w->cb = cb;
    w->arg = arg;
    w->len = user_len;
    rc = slt__conn_write_owned(c, w, n);
    if (rc < 0)
        slt_free(w);
    return rc;
}

static void flush_quiet(struct slt_conn *c)
{
    if (!c->closing)
        (void)flush_out(c, NULL, NULL, 0);
}

static int do_write(struct slt_conn *c, const char *p, size_t len, slt_conn_write_cb cb, void *arg)
{
    struct slt_tls_conn *t = c->tls;
    int r;

    if (len > INT_MAX)
        return SLT_ELIMIT;
    if (len > 0) {
        ERR_clear_error();
        r = SSL_write(t->ssl, p, (int)len);
        if (r <= 0) {
            describe_failure(c, NULL);
            return SLT_EPROTO;
        }
    }
    return flush_out(c, cb, arg, len);
}

static void deliver(struct slt_conn *c);

static void on_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct slt_conn *c = h->data;

    (void)suggested;
    *buf = uv_buf_init(c->tls->rbuf, sizeof(c->tls->rbuf));
}

/* The handshake failed: the client's connect_cb or the server user's next read hears it. */
static void handshake_failed(struct slt_conn *c)
{
    struct slt_tls_conn *t = c->tls;

    flush_quiet(c); /* the alert */
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (!t->server) {
        c->connect_cb(c, SLT_EPROTO);
        return;
    }
    t->pending_err = SLT_EPROTO;
    deliver(c);
}

/* Runs the handshake on what was read, then hands plaintext to the user. */
static void progress(struct slt_conn *c)
{
    struct slt_tls_conn *t = c->tls;
    struct pending_write *w;
    int r;

    if (c->closing || t->failed)
        return;
    if (!t->done) {
        ERR_clear_error();
        r = SSL_do_handshake(t->ssl);
        if (r != 1) {
            int e = SSL_get_error(t->ssl, r);

            flush_quiet(c);
            if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && !t->eof)
                return;
            describe_failure(c, t->eof ? "connection closed during the handshake" : NULL);
            handshake_failed(c);
            return;
        }
        t->done = 1;
        t->tls->n.handshakes++;
        flush_quiet(c);
        /* writes made during the handshake go out now, in order */
        while ((w = t->pw) != NULL && !c->closing) {
            int rc;

            t->pw = w->next;
            if (!t->pw)
                t->pw_tail = &t->pw;
            c->write_queued -= w->len;
            rc = do_write(c, w->p, w->len, w->cb, w->arg);
            if (rc < 0 && w->cb)
                w->cb(c, rc, w->arg);
            slt_free(w);
        }
        if (c->closing)
            return;
        if (!c->reading)
            uv_read_stop((uv_stream_t *)&c->tcp);
        if (!t->server) {
            c->connect_cb(c, 0);
            if (c->closing)
                return;
        }
    }
    deliver(c);
}

static void deliver(struct slt_conn *c)
{
    struct slt_tls_conn *t = c->tls;

    while (c->reading && !c->closing) {
        char *p = NULL;
        size_t room = 0;
        int n, e;

        if (t->pending_err) {
            e = t->pending_err;
            t->pending_err = 0;
            c->read_cb(c, e);
            return;
        }
        if (!t->done)
            return;
        c->alloc_cb(c, DELIVER_CHUNK, &p, &room);
        if (room == 0 || !p) {
            c->read_cb(c, UV_ENOBUFS);
            return;
        }
        ERR_clear_error();
        n = SSL_read(t->ssl, p, room > INT_MAX ? INT_MAX : (int)room);
        if (n > 0) {
            c->read_cb(c, n);
            continue;
        }
        e = SSL_get_error(t->ssl, n);
        flush_quiet(c);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (t->eof)
                c->read_cb(c, UV_EOF);
            return;
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            c->read_cb(c, UV_EOF);
            return;
        }
        describe_failure(c, NULL);
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->read_cb(c, SLT_EPROTO);
        return;
    }
    flush_quiet(c);
}

static void on_tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct slt_conn *c = s->data;
    struct slt_tls_conn *t = c->tls;

    (void)buf;
    if (c->closing || nread == 0)
        return;
    if (nread < 0) {
        uv_read_stop(s);
        t->eof = 1;
        if (!t->done) {
            if (!t->got_bytes) {
                /* connected and left without a byte (a port check): no TLS failure */
                snprintf(c->err, sizeof(c->err), "closed before the TLS handshake");
                t->failed = 1;
                if (!t->server) {
                    c->connect_cb(c, (int)nread);
                    return;
                }
                t->pending_err = (int)nread;
                deliver(c);
                return;
            }
            describe_failure(c, nread == UV_EOF ? "connection closed during the handshake"
                                                : uv_strerror((int)nread));
            handshake_failed(c);
            return;
        }
        if (nread != UV_EOF)
            t->pending_err = (int)nread;
        deliver(c);
        return;
    }
    if (!t->got_bytes) {
        t->got_bytes = 1;
        t->first = (unsigned char)t->rbuf[0];
    }
    if (BIO_write(t->rbio, t->rbuf, (int)nread) != (int)nread) {
        snprintf(c->err, sizeof(c->err), "TLS: out of memory");
        t->failed = 1;
        t->pending_err = SLT_ENOMEM;
        if (!t->done && !t->server) {
            c->connect_cb(c, SLT_ENOMEM);
            return;
        }
        deliver(c);
        return;
    }
    progress(c);
}

static void on_kick(uv_timer_t *tm)
{
    struct slt_conn *c = tm->data;

    if (!c->closing)
        deliver(c);
}

static int tls_read_start(struct slt_conn *c)
{
    struct slt_tls_conn *t = c->tls;
    int rc = 0;

    if (!t->eof && !t->failed) {
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_tcp_alloc, on_tcp_read);
        if (rc == UV_EALREADY)
            rc = 0;
    }
    /* plaintext (or an error) OpenSSL or we already hold: hand it over from the loop */
    if (rc == 0 && (t->done || t->pending_err))
        uv_timer_start(&t->kick, on_kick, 0, 0);
    return rc;
}

static void tls_read_stop(struct slt_conn *c)
{
    struct slt_tls_conn *t = c->tls;

    uv_timer_stop(&t->kick);
    if (t->done) /* the handshake reads whatever the user wants */
        uv_read_stop((uv_stream_t *)&c->tcp);
}

static int tls_write(struct slt_conn *c, const char *p, size_t len, slt_conn_write_cb cb, void *arg)
{
    struct slt_tls_conn *t = c->tls;
    struct pending_write *w;

    if (t->failed)
        return SLT_EPROTO;
    if (t->done)
        return do_write(c, p, len, cb, arg);
    w = slt_calloc(1, sizeof(*w));
    if (!w)
        return SLT_ENOMEM;
    w->p = p;
    w->len = len;
    w->cb = cb;
    w->arg = arg;
    *t->pw_tail = w;
    t->pw_tail = &w->next;
    c->write_queued += len;
    return 0;
}

static void tls_close(struct slt_conn *c)
{
    struct slt_tls_conn *t = c->tls;

    uv_timer_stop(&t->kick);
    uv_close((uv_handle_t *)&c->tcp, slt__conn_handle_closed);
    uv_close((uv_handle_t *)&t->kick, slt__conn_handle_closed);
}

static const struct slt_conn_ops tls_ops = {
    .name = "tls",
    .read_start = tls_read_start,
    .read_stop = tls_read_stop,
    .write = tls_write,
    .close = tls_close,
};

static int is_ip(const char *s)
{
    unsigned char buf[16];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int slt__tls_conn_attach(struct slt_conn *c, struct slt_tls *tls, int server,
                         const char *server_name)
{
    struct slt_tls_conn *t = slt_calloc(1, sizeof(*t));

    if (!t)
        return SLT_ENOMEM;
    t->ssl = SSL_new(tls->ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        SSL_free(t->ssl);
        slt_free(t);
        ERR_clear_error();
        return SLT_ENOMEM;
    }
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    t->server = server;
    t->pw_tail = &t->pw;
    if (server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (server_name && *server_name) {
            int ok;

            if (is_ip(server_name)) {
                ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), server_name);
            } else {
                ok = SSL_set_tlsext_host_name(t->ssl, server_name) == 1 &&
                     SSL_set1_host(t->ssl, server_name) == 1;
            }
            if (!ok) {
                SSL_free(t->ssl);
                slt_free(t);
                ERR_clear_error();
                return SLT_EINVAL;
            }
        }
    }
    t->tls = tls;
    tls->refs++;
    uv_timer_init(c->loop, &t->kick);
    t->kick.data = c;
    c->open_handles++;
    c->tls = t;
    c->ops = &tls_ops;
    if (server)
        (void)uv_read_start((uv_stream_t *)&c->tcp, on_tcp_alloc, on_tcp_read);
    return 0;
}

void slt__tls_conn_start(struct slt_conn *c)
{
    struct slt_tls_conn *t = c->tls;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_tcp_alloc, on_tcp_read);

    if (rc < 0) {
        snprintf(c->err, sizeof(c->err), "cannot read: %s", uv_strerror(rc));
        t->failed = 1;
        c->connect_cb(c, rc);
        return;
    }
    progress(c); /* ClientHello */
}

void slt__tls_conn_free(struct slt_conn *c)
{
    struct slt_tls_conn *t = c->tls;
    struct pending_write *w;

    while ((w = t->pw) != NULL) {
        t->pw = w->next;
        c->write_queued -= w->len;
        if (w->cb)
            w->cb(c, UV_ECANCELED, w->arg);
        slt_free(w);
    }
    SSL_free(t->ssl);
    slt_tls_free(t->tls);
    slt_free(t);
    c->tls = NULL;
}

static int name_eq(const unsigned char *p, int len, const char *name, size_t nlen)
{
    return len >= 0 && (size_t)len == nlen && !memchr(p, '\0', (size_t)len) &&
           strncasecmp((const char *)p, name, nlen) == 0;
}

int slt_conn_peer_cert_has_name(const struct slt_conn *c, const char *name, size_t len)
{
    struct slt_tls_conn *t = c->tls;
    GENERAL_NAMES *gens;
    X509_NAME *subj;
    X509 *x;
    int i, found = 0;

    if (!t || !t->done || SSL_get_verify_result(t->ssl) != X509_V_OK)
        return 0;
    x = SSL_get1_peer_certificate(t->ssl);
    if (!x)
        return 0;
    subj = X509_get_subject_name(x);
    for (i = -1; !found && (i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0;) {
        ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));

        found = name_eq(ASN1_STRING_get0_data(d), ASN1_STRING_length(d), name, len);
    }
    gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (i = 0; !found && gens && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

        if (g->type == GEN_DNS)
            found = name_eq(ASN1_STRING_get0_data(g->d.dNSName), ASN1_STRING_length(g->d.dNSName),
                            name, len);
    }
    GENERAL_NAMES_free(gens);
    X509_free(x);
    return found;
}

/* TLS behind the connection ops table: not built yet, every TLS request is refused. */
#include "conn_internal.h"

int slt__tls_conn_attach(struct slt_conn *c, struct slt_tls *tls, int server,
                         const char *server_name)
{
    (void)c;
    (void)tls;
    (void)server;
    (void)server_name;
    return SLT_EINVAL;
}

void slt__tls_conn_free(struct slt_conn *c)
{
    (void)c;
}

void slt__tls_conn_start(struct slt_conn *c)
{
    (void)c;
}

int slt_conn_peer_cert_has_name(const struct slt_conn *c, const char *name, size_t len)
{
    (void)c;
    (void)name;
    (void)len;
    return 0;
}

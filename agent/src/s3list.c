/* ListObjectsV2 XML with libexpat: see s3list.h. */
#include "s3list.h"

#include <expat.h>
#include <stdlib.h>
#include <string.h>

#include "slt/common.h"

#define TEXT_MAX 4096

enum where { W_NONE, W_KEY, W_SIZE, W_TRUNC, W_TOKEN, W_CODE, W_MESSAGE };

struct pctx {
    struct slt_s3list *l;
    XML_Parser p;
    int depth;
    int root; /* 1 ListBucketResult, 2 Error */
    int in_contents;
    enum where w;
    char text[TEXT_MAX + 1];
    size_t tlen;
    int rc;
    /* the Contents being read */
    char *key;
    uint64_t size;
};

static void stop(struct pctx *c, int rc)
{
    if (c->rc == 0)
        c->rc = rc;
    XML_StopParser(c->p, XML_FALSE);
}

/* Element name without a namespace prefix ("ns:Key" or "uri Key" with namespace handling). */
static const char *local(const char *name)
{
    const char *s = strrchr(name, ':');

    return s ? s + 1 : name;
}

static void on_start(void *data, const char *name, const char **attrs)
{
    struct pctx *c = data;
    const char *n = local(name);

    (void)attrs;
    c->depth++;
    c->w = W_NONE;
    c->tlen = 0;
    if (c->depth == 1) {
        if (strcmp(n, "ListBucketResult") == 0)
            c->root = 1;
        else if (strcmp(n, "Error") == 0)
            c->root = 2;
        else
            stop(c, SLT_EPARSE);
        return;
    }
    if (c->root == 1 && c->depth == 2 && strcmp(n, "Contents") == 0) {
        c->in_contents = 1;
        slt_free(c->key);
        c->key = NULL;
        c->size = 0;
        return;
    }
    if (c->root == 1 && c->depth == 3 && c->in_contents) {
        if (strcmp(n, "Key") == 0)
            c->w = W_KEY;
        else if (strcmp(n, "Size") == 0)
            c->w = W_SIZE;
        return;
    }
    if (c->root == 1 && c->depth == 2) {
        if (strcmp(n, "IsTruncated") == 0)
            c->w = W_TRUNC;
        else if (strcmp(n, "NextContinuationToken") == 0)
            c->w = W_TOKEN;
        return;
    }
    if (c->root == 2 && c->depth == 2) {
        if (strcmp(n, "Code") == 0)
            c->w = W_CODE;
        else if (strcmp(n, "Message") == 0)
            c->w = W_MESSAGE;
    }
}

static void on_text(void *data, const char *s, int len)
{
    struct pctx *c = data;

    if (c->w == W_NONE || len <= 0)
        return;
    if (c->tlen + (size_t)len > TEXT_MAX) {
        stop(c, SLT_ELIMIT);
        return;
    }
    memcpy(c->text + c->tlen, s, (size_t)len);
    c->tlen += (size_t)len;
}

static char *dup_text(struct pctx *c)
{
    char *s = slt_malloc(c->tlen + 1);

    if (!s) {
        stop(c, SLT_ENOMEM);
        return NULL;
    }
    memcpy(s, c->text, c->tlen);
    s[c->tlen] = '\0';
    return s;
}

static void on_end(void *data, const char *name)
{
    struct pctx *c = data;
    const char *n = local(name);
    struct slt_s3list *l = c->l;

    c->text[c->tlen] = '\0';
    switch (c->w) {
    case W_KEY:
        if (c->tlen == 0 || c->tlen > SLT_S3LIST_MAX_KEY || memchr(c->text, '\0', c->tlen)) {
            stop(c, c->tlen > SLT_S3LIST_MAX_KEY ? SLT_ELIMIT : SLT_EPARSE);
            break;
        }
        slt_free(c->key);
        c->key = dup_text(c);
        break;
    case W_SIZE: {
        char *end;
        unsigned long long v = strtoull(c->text, &end, 10);

        if (c->tlen == 0 || *end || c->text[0] == '-')
            stop(c, SLT_EPARSE);
        c->size = v;
        break;
    }
    case W_TRUNC:
        l->truncated = strcmp(c->text, "true") == 0;
        break;
    case W_TOKEN:
        slt_free(l->next_token);
        l->next_token = dup_text(c);
        break;
    case W_CODE:
        slt_free(l->error_code);
        l->error_code = dup_text(c);
        break;
    case W_MESSAGE:
        slt_free(l->error_message);
        l->error_message = dup_text(c);
        break;
    case W_NONE:
        break;
    }
    c->w = W_NONE;
    c->tlen = 0;
    if (c->root == 1 && c->depth == 2 && c->in_contents && strcmp(n, "Contents") == 0) {
        c->in_contents = 0;
        if (!c->key) {
            stop(c, SLT_EPARSE);
        } else if (l->nkeys >= SLT_S3LIST_MAX_KEYS) {
            stop(c, SLT_ELIMIT);
        } else {
            l->keys[l->nkeys].key = c->key;
            l->keys[l->nkeys].size = c->size;
            l->nkeys++;
            c->key = NULL;
        }
    }
    c->depth--;
}

void slt_s3list_init(struct slt_s3list *l)
{
    memset(l, 0, sizeof(*l));
}

void slt_s3list_release(struct slt_s3list *l)
{
    size_t i;

    for (i = 0; i < l->nkeys; i++)
        slt_free(l->keys[i].key);
    slt_free(l->keys);
    slt_free(l->next_token);
    slt_free(l->error_code);
    slt_free(l->error_message);
    memset(l, 0, sizeof(*l));
}

/* An entity declaration (billion laughs) is refused outright: S3 never sends one. */
static void on_entity_decl(void *data, const XML_Char *name, int is_param, const XML_Char *value,
                           int value_len, const XML_Char *base, const XML_Char *system_id,
                           const XML_Char *public_id, const XML_Char *notation)
{
    struct pctx *c = data;

    (void)name;
    (void)is_param;
    (void)value;
    (void)value_len;
    (void)base;
    (void)system_id;
    (void)public_id;
    (void)notation;
    stop(c, SLT_EPARSE);
}

int slt_s3list_parse(struct slt_s3list *l, const char *xml, size_t len)
{
    struct pctx c;
    int rc;

    slt_s3list_release(l);
    if (len > INT32_MAX)
        return SLT_ELIMIT;
    memset(&c, 0, sizeof(c));
    c.l = l;
    l->keys = slt_calloc(SLT_S3LIST_MAX_KEYS, sizeof(*l->keys));
    c.p = XML_ParserCreate("UTF-8");
    if (!l->keys || !c.p) {
        if (c.p)
            XML_ParserFree(c.p);
        slt_s3list_release(l);
        return SLT_ENOMEM;
    }
    XML_SetUserData(c.p, &c);
    XML_SetElementHandler(c.p, on_start, on_end);
    XML_SetCharacterDataHandler(c.p, on_text);
    XML_SetEntityDeclHandler(c.p, on_entity_decl);
    if (XML_Parse(c.p, xml, (int)len, XML_TRUE) == XML_STATUS_ERROR && c.rc == 0)
        c.rc = SLT_EPARSE;
    if (c.rc == 0 && c.root == 0)
        c.rc = SLT_EPARSE;
    rc = c.rc;
    XML_ParserFree(c.p);
    slt_free(c.key);
    if (rc < 0)
        slt_s3list_release(l);
    return rc;
}

/*
 * The built-in formats of issue 10: haproxy_http, envoy, traefik_json, ingress_nginx,
 * cloudfront and w3c. Every line here is a real one from a public source, cited where it is
 * used (tests/data/iis/SOURCES.md and ../shared/data/real/SOURCES.md describe the files), or a
 * variation of one that says so.
 */
#include "test_parser_helpers.h"

/* An own field of fmt (envoy's response_flags, a W3C column name...) is want (NULL: absent). */
static void own_is(const struct slt_record *rec, const char *name, const char *want)
{
    int key = slt_format_field_key(fmt, name, strlen(name));
    struct slt_str s;
    char got[1024];

    assert_true(key >= SLT_F__COUNT);
    s = slt_record_get(rec, key);
    if (!want) {
        if (s.p)
            fail_msg("field %s: want absent, got '%.*s'", name, (int)s.len, s.p);
        return;
    }
    if (!s.p)
        fail_msg("field %s: want '%s', got absent", name, want);
    snprintf(got, sizeof(got), "%.*s", (int)s.len, s.p);
    assert_string_equal(got, want);
}

/*
 * W3C columns named by rules get their keys when the config loads, before parsers are made:
 * name them, then start a new parser.
 */
static void name_columns(const char *const *names)
{
    for (; *names; names++)
        assert_true(slt_format_field_key(fmt, *names, strlen(*names)) >= SLT_F__COUNT);
    slt_parser_free(parser);
    parser = slt_parser_new(fmt, 0);
    assert_non_null(parser);
}

/* ---- haproxy_http ---- */

/* HAProxy's configuration manual, section 8.2.3 "HTTP log format", its example. */
#define HAPROXY_DOC                                                                                \
    "Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] "         \
    "http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "              \
    "\"GET /index.html HTTP/1.1\""
/* tstack/lnav test/logfile_haproxy.0 (real traffic, BSD-2-Clause), lines 1, 4 and 14. */
#define LNAV_HAPROXY_START "Feb 25 16:19:38 192.168.4.2 haproxy[1]: Proxy prod_http_in started."
#define LNAV_HAPROXY_4                                                                             \
    "Feb 25 16:19:49 192.168.4.2 haproxy[7]: 141.35.244.171:53332 [25/Feb/2019:16:19:48.143] "     \
    "prod_http_in~ bk_admin/nginx_sonst 0/0/7/1457/1487 200 11394 - - ---- 2/1/0/0/0 0/0 "         \
    "{Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:65.0) Gecko/20100101 Firefox/65.0} {} "          \
    "\"GET /admin/colt/administration?survey=130&input_stats=1&ajax=1&&ajax=1&refresh=1&"          \
    "ihandle=1 HTTP/1.1\""
#define LNAV_HAPROXY_14                                                                            \
    "Feb 25 16:20:15 192.168.4.2 haproxy[7]: 95.216.197.33:56224 [25/Feb/2019:16:20:10.111] "      \
    "prod_http_in/sktst2: SSL handshake failure"

static void test_haproxy_documented_line(void **state)
{
    struct slt_record rec;

    (void)state;
    use("haproxy_http");
    assert_true(slt_format_has_latency(fmt));
    assert_int_equal(parse(HAPROXY_DOC, &rec), SLT_UP_OK);
    assert_int_equal(rec.time, slt_time_from_civil(2009, 2, 6, 12, 14, 14));
    assert_int_equal(rec.time_frac_us, 655000);
    assert_int_equal(rec.status, 200);
    assert_int_equal(rec.latency_us, 109000);
    assert_int_equal(rec.upstream_us, 69000);
    field_is(&rec, SLT_F_CLIENT, "10.0.1.2:33317");
    field_is(&rec, SLT_F_TIME, "06/Feb/2009:12:14:14.655");
    field_is(&rec, SLT_F_LATENCY, "10/0/30/69/109");
    field_is(&rec, SLT_F_UPSTREAM_LATENCY, "69");
    field_is(&rec, SLT_F_BYTES, "2750");
    field_is(&rec, SLT_F_METHOD, "GET");
    field_is(&rec, SLT_F_PATH, "/index.html");
    field_is(&rec, SLT_F_PROTOCOL, "HTTP/1.1");
    field_is(&rec, SLT_F_ERROR_REASON, "----");
    own_is(&rec, "frontend", "http-in");
    own_is(&rec, "backend", "static");
    own_is(&rec, "server", "srv1");
    own_is(&rec, "termination_state", "----");
}

static void test_haproxy_real_lines_and_messages(void **state)
{
    struct slt_record rec;

    (void)state;
    use("haproxy_http");
    assert_int_equal(parse(LNAV_HAPROXY_4, &rec), SLT_UP_OK);
    assert_int_equal(rec.latency_us, 1487000);
    assert_int_equal(rec.upstream_us, 1457000);
    field_is(&rec, SLT_F_PATH,
             "/admin/colt/administration?survey=130&input_stats=1&ajax=1&&ajax=1"
             "&refresh=1&ihandle=1");
    own_is(&rec, "frontend", "prod_http_in~");
    own_is(&rec, "backend", "bk_admin");
    assert_int_equal(parse(LNAV_HAPROXY_START, &rec), SLT_UP_NOT_ACCESS);
    assert_int_equal(parse(LNAV_HAPROXY_14, &rec), SLT_UP_NOT_ACCESS);
    /* variations of the documented line: without the syslog prefix (log to stdout), aborted
     * (-1 timers, status -1 = 000), logasap's "+", TCP mode, a request HAProxy cut short */
    assert_int_equal(parse("10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 "
                           "10/0/-1/-1/20 -1 0 - - CD-- 1/1/1/1/0 0/0 \"GET / HTTP/1.1\"",
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.status, 0);
    assert_int_equal(rec.latency_us, 20000);
    assert_int_equal(rec.upstream_us, -1);
    field_is(&rec, SLT_F_ERROR_REASON, "CD--");
    assert_int_equal(parse("10.0.1.2:33317 [06/Feb/2009:12:14:14.655] fe be/s 1/0/2/3/+9 200 5 - "
                           "- ---- 1/1/1/1/0 0/0 \"GET /x HTTP/1.1\"",
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.latency_us, 9000);
    assert_int_equal(parse("10.0.1.2:33317 [06/Feb/2009:12:14:14.655] fe be/s 0/0/5007 212 -- "
                           "0/0/0/0/3 0/0",
                           &rec),
                     SLT_UP_NOT_ACCESS);
    assert_int_equal(parse("10.0.1.2:33317 [06/Feb/2009:12:14:14.655] fe be/s 1/0/2/3/9 200 5 - "
                           "- ---- 1/1/1/1/0 0/0 \"GET /very-long",
                           &rec),
                     SLT_UP_OK);
    field_is(&rec, SLT_F_PATH, "/very-long");
    assert_int_equal(
        parse("10.0.1.2:33317 [06/Feb/2009:12:14:14.655] fe be/s 1/0/2/3/x 200 5", &rec),
        SLT_UP_LATENCY);
    assert_int_equal(
        parse("10.0.1.2:33317 [06/Feb/2009:12:14:14.655] fe be/s 1/0/2/3/9 2000 5", &rec),
        SLT_UP_STATUS);
    assert_int_equal(
        parse("10.0.1.2:33317 [31/Feb/2009:12:14:14.655] fe be/s 1/0/2/3/9 200 5", &rec),
        SLT_UP_TIME);
    assert_int_equal(parse("nothing like it", &rec), SLT_UP_SYNTAX);
}

/* ---- envoy ---- */

/* Envoy's documentation, "Default format string", its example line. */
#define ENVOY_DOC                                                                                  \
    "[2016-04-15T20:17:00.310Z] \"POST /api/v1/locations HTTP/2\" 204 - 154 0 226 100 "            \
    "\"10.0.35.28\" \"nsq2http\" \"cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2\" \"locations\" "          \
    "\"tcp://10.0.2.1:80\""
/* Istio's documentation, "Envoy Access Logs" task: the sleep pod's istio-proxy log line. */
#define ISTIO_DOC                                                                                  \
    "[2020-11-25T21:26:18.409Z] \"GET /status/418 HTTP/1.1\" 418 - via_upstream - \"-\" 0 135 4 "  \
    "4 \"-\" \"curl/7.73.0-DEV\" \"84961386-6d84-929d-98bd-c5aee93b5c88\" \"httpbin:8000\" "       \
    "\"10.44.1.27:80\" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 "             \
    "10.0.45.184:8000 10.44.1.23:46520 - default"

static void test_envoy_default_and_istio_lines(void **state)
{
    struct slt_record rec;

    (void)state;
    use("envoy");
    assert_int_equal(parse(ENVOY_DOC, &rec), SLT_UP_OK);
    assert_int_equal(rec.time, slt_time_from_civil(2016, 4, 15, 20, 17, 0));
    assert_int_equal(rec.time_frac_us, 310000);
    assert_int_equal(rec.status, 204);
    assert_int_equal(rec.latency_us, 226000);
    assert_int_equal(rec.upstream_us, 100000);
    field_is(&rec, SLT_F_METHOD, "POST");
    field_is(&rec, SLT_F_PATH, "/api/v1/locations");
    field_is(&rec, SLT_F_PROTOCOL, "HTTP/2");
    field_is(&rec, SLT_F_BYTES, "0");
    field_is(&rec, SLT_F_XFF, "10.0.35.28");
    field_is(&rec, SLT_F_USER_AGENT, "nsq2http");
    field_is(&rec, SLT_F_HOST, "locations");
    field_is(&rec, SLT_F_ERROR_REASON, "-");
    own_is(&rec, "request_id", "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2");
    own_is(&rec, "upstream_host", "tcp://10.0.2.1:80");
    own_is(&rec, "response_code_details", NULL);

    assert_int_equal(parse(ISTIO_DOC, &rec), SLT_UP_OK);
    assert_int_equal(rec.status, 418);
    assert_int_equal(rec.latency_us, 4000);
    assert_int_equal(rec.upstream_us, 4000);
    field_is(&rec, SLT_F_BYTES, "135");
    field_is(&rec, SLT_F_HOST, "httpbin:8000");
    field_is(&rec, SLT_F_USER_AGENT, "curl/7.73.0-DEV");
    own_is(&rec, "response_code_details", "via_upstream");
    own_is(&rec, "upstream_host", "10.44.1.27:80");

    /* variations: response code 0 (the client left before a response: 000, flag DC), a TCP
     * proxy line, a bad time, a line cut short */
    assert_int_equal(parse("[2016-04-15T20:17:00.310Z] \"GET / HTTP/1.1\" 0 DC 0 0 5 - \"-\" "
                           "\"curl/8\" \"id\" \"h\" \"-\"",
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.status, 0);
    assert_int_equal(rec.upstream_us, -1);
    field_is(&rec, SLT_F_ERROR_REASON, "DC");
    own_is(&rec, "response_flags", "DC");
    assert_int_equal(parse("[2016-04-15T20:17:00.310Z] \"- - -\" - - 0 0 5 - \"-\" \"-\" \"-\" "
                           "\"-\" \"10.0.2.1:80\"",
                           &rec),
                     SLT_UP_NOT_ACCESS);
    assert_int_equal(parse("[2016-04-15 20:17] \"GET / HTTP/1.1\" 200 - 0 0 5", &rec), SLT_UP_TIME);
    assert_int_equal(parse("[2016-04-15T20:17:00.310Z] \"GET / HTTP/1.1\" 200 - 0 0", &rec),
                     SLT_UP_SYNTAX);
    assert_int_equal(parse("GET / 200", &rec), SLT_UP_SYNTAX);
}

/* ---- traefik_json ---- */

/* A line its authors copied from their production Traefik access log, in a public test file
 * (sentinel_core, tests of normalizers/traefik_access). */
#define TRAEFIK_REAL                                                                               \
    "{\"ClientAddr\":\"148.113.255.4:52654\",\"ClientHost\":\"148.113.255.4\",\"ClientPort\":"     \
    "\"52654\",\"ClientUsername\":\"-\",\"DownstreamContentSize\":397,\"DownstreamStatus\":200,"   \
    "\"Duration\":3454189,\"OriginContentSize\":397,\"OriginDuration\":3427197,\"OriginStatus\":"  \
    "200,\"Overhead\":26992,\"RequestAddr\":\"sentinel.apps.auditflow.ca\",\"RequestContentSize\"" \
    ":0,\"RequestCount\":5,\"RequestHost\":\"sentinel.apps.auditflow.ca\",\"RequestMethod\":"      \
    "\"GET\",\"RequestPath\":\"/.env\",\"RequestPort\":\"-\",\"RequestProtocol\":\"HTTP/2.0\","    \
    "\"RequestScheme\":\"https\",\"RetryAttempts\":0,\"RouterName\":\"sentinel@docker\","          \
    "\"ServiceAddr\":\"10.0.1.8:8000\",\"ServiceName\":\"sentinel@docker\",\"ServiceURL\":"        \
    "\"http://10.0.1.8:8000\",\"StartLocal\":\"2026-09-29T23:05:40.189830187Z\",\"StartUTC\":"     \
    "\"2026-09-29T23:05:40.189830187Z\",\"TLSCipher\":\"TLS_AES_128_GCM_SHA256\",\"TLSVersion\":"  \
    "\"1.3\",\"entryPointName\":\"https\",\"level\":\"info\",\"msg\":\"\",\"request_User-Agent\":" \
    "\"test-scanner/1.0\",\"time\":\"2026-09-29T23:05:40Z\"}"

static void test_traefik_json_real_line(void **state)
{
    struct slt_record rec;
    struct slt_str s;
    int key;

    (void)state;
    use("traefik_json");
    assert_true(slt_format_has_latency(fmt));
    key = slt_format_field_key(fmt, "ServiceName", 11); /* any other key, named by a rule */
    assert_true(key >= SLT_F__COUNT);
    assert_int_equal(parse(TRAEFIK_REAL, &rec), SLT_UP_OK);
    assert_int_equal(rec.time, slt_time_from_civil(2026, 9, 29, 23, 5, 40));
    assert_int_equal(rec.time_frac_us, 189830);
    assert_int_equal(rec.status, 200);
    assert_int_equal(rec.latency_us, 3454);  /* 3454189 ns */
    assert_int_equal(rec.upstream_us, 3427); /* OriginDuration */
    field_is(&rec, SLT_F_METHOD, "GET");
    field_is(&rec, SLT_F_PATH, "/.env");
    field_is(&rec, SLT_F_PROTOCOL, "HTTP/2.0");
    field_is(&rec, SLT_F_HOST, "sentinel.apps.auditflow.ca");
    field_is(&rec, SLT_F_CLIENT, "148.113.255.4");
    field_is(&rec, SLT_F_USER_AGENT, "test-scanner/1.0");
    field_is(&rec, SLT_F_BYTES, "397");
    field_is(&rec, SLT_F_TARGET_STATUS, "200");
    field_is(&rec, SLT_F_TYPE, "https");
    s = slt_record_get(&rec, key);
    assert_int_equal(s.len, 15);
    assert_memory_equal(s.p, "sentinel@docker", 15);
    /* a Traefik log line that is not an access entry; status 0 (no response) */
    assert_int_equal(parse("{\"level\":\"info\",\"msg\":\"Configuration loaded from flags.\","
                           "\"time\":\"2024-01-01T00:00:00Z\"}",
                           &rec),
                     SLT_UP_NOT_ACCESS);
    assert_int_equal(parse("{\"DownstreamStatus\":0,\"Duration\":1000000,\"StartUTC\":"
                           "\"2024-01-01T00:00:00.5Z\"}",
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.status, 0);
    assert_int_equal(rec.latency_us, 1000);
}

/* ---- ingress_nginx ---- */

/* A public ingress-nginx troubleshooting walkthrough: the controller's log line. */
#define INGRESS_404                                                                                \
    "127.0.0.1 - - [13/Nov/2022:02:17:47 +0000] \"GET /path-a/path.html HTTP/2.0\" 404 19 \"-\" "  \
    "\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "          \
    "Chrome/107.0.0.0 Safari/537.36\" 485 0.000 [default-service-a-80] [] 10.244.0.8:80 19 "       \
    "0.000 404 206ed4b88b712564fc073c3adb845dff"
/* Azure AKS documentation (Private Link Service with ingress-nginx): the controller's log. */
#define INGRESS_AKS                                                                                \
    "10.3.0.5 - - [23/Apr/2021:12:59:38 +0000] \"GET /WeatherForecast HTTP/2.0\" 200 508 \"-\" "   \
    "\"curl/7.58.0\" 70 0.001 [default-helloservice-80] [] 10.244.0.37:80 520 0.000 200 "          \
    "f4a0e8af30821cda341c04cdc45ed9a8"

static void test_ingress_nginx_upstreaminfo(void **state)
{
    struct slt_record rec;

    (void)state;
    use("ingress_nginx");
    assert_int_equal(parse(INGRESS_404, &rec), SLT_UP_OK);
    assert_int_equal(rec.time, slt_time_from_civil(2022, 11, 13, 2, 17, 47));
    assert_int_equal(rec.status, 404);
    assert_int_equal(rec.latency_us, 0);
    assert_int_equal(rec.upstream_us, 0);
    field_is(&rec, SLT_F_PATH, "/path-a/path.html");
    field_is(&rec, SLT_F_TARGET_STATUS, "404");
    own_is(&rec, "proxy_upstream_name", "default-service-a-80");
    own_is(&rec, "proxy_alternative_upstream_name", "");
    own_is(&rec, "upstream_addr", "10.244.0.8:80");
    own_is(&rec, "request_length", "485");
    own_is(&rec, "req_id", "206ed4b88b712564fc073c3adb845dff");

    assert_int_equal(parse(INGRESS_AKS, &rec), SLT_UP_OK);
    assert_int_equal(rec.status, 200);
    assert_int_equal(rec.latency_us, 1000);
    field_is(&rec, SLT_F_USER_AGENT, "curl/7.58.0");
    own_is(&rec, "proxy_upstream_name", "default-helloservice-80");

    /* variations of the AKS line: two upstreams tried (", ") then a redirect (" : ") */
    assert_int_equal(parse("10.3.0.5 - - [23/Apr/2021:12:59:38 +0000] \"GET / HTTP/1.1\" 502 5 "
                           "\"-\" \"curl/8\" 70 0.050 [ns-svc-80] [ns-svc-canary-80] "
                           "10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80 0, 0 : 5 0.010, 0.020 : 0.015 "
                           "502, 502 : 502 f4a0e8af30821cda341c04cdc45ed9a8",
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.upstream_us, 45000);
    field_is(&rec, SLT_F_UPSTREAM_LATENCY, "0.010, 0.020 : 0.015");
    field_is(&rec, SLT_F_TARGET_STATUS, "502, 502 : 502");
    own_is(&rec, "upstream_addr", "10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80");
    own_is(&rec, "proxy_alternative_upstream_name", "ns-svc-canary-80");
    own_is(&rec, "req_id", "f4a0e8af30821cda341c04cdc45ed9a8");
    /* no upstream (the default backend's 404): "-" everywhere */
    assert_int_equal(parse("10.3.0.5 - - [23/Apr/2021:12:59:38 +0000] \"GET / HTTP/1.1\" 404 5 "
                           "\"-\" \"curl/8\" 70 0.000 [upstream-default-backend] [] - - - - "
                           "f4a0e8af30821cda341c04cdc45ed9a8",
                           &rec),
                     SLT_UP_OK);
    assert_int_equal(rec.upstream_us, -1);
    /* a plain combined line is not this format */
    assert_int_equal(parse("10.3.0.5 - - [23/Apr/2021:12:59:38 +0000] \"GET / HTTP/1.1\" 200 5 "
                           "\"-\" \"curl/8\"",
                           &rec),
                     SLT_UP_LATENCY);
}

/* ---- cloudfront and w3c: headers, per stream ---- */

/* elastic/integrations packages/aws/data_stream/cloudfront_logs test-cloudfront.log (ELv2):
 * its #Fields: line and records 6, 8 and 12 (the last, 31 of 33 fields). */
#define CF_FIELDS                                                                                  \
    "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "   \
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "     \
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "       \
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "      \
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "               \
    "sc-range-start sc-range-end"
#define CF_CURL_502                                                                                \
    "2019-12-13\t22:37:02\tSEA19-C2\t900\t89.160.20.112\tGET\td111111abcdef8.cloudfront.net\t/"    \
    "\t502\t-\tcurl/"                                                                              \
    "7.55.1\t-\t-\tError\tkBkDzGnceVtWHqSCqBUqtA_cEs2T3tFUBbnBNkB9El_uVRhHgcZfcw==\twww.example."  \
    "com\thttp\t387\t0.103\t-\t-\t-\tError\tHTTP/1.1\t-\t-\t12644\t0.103\tOriginDnsError\ttext/"   \
    "html\t507\t-\t-"
#define CF_000                                                                                     \
    "2022-04-19\t12:29:36\tSEA19-C2\t10157\t81.2.69.143\tPOST\td111111abcdef8.cloudfront.net\t/"   \
    "getApplications\t000\thttps://test.com/global\tMozilla/"                                      \
    "5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/"                                   \
    "537.36%20(KHTML,%20like%20Gecko)%20Chrome/100.0.4896.127%20Safari/"                           \
    "537.36\tsource=global\t-\tMiss\thrsHM5OM6sTIXUleC1G20YtDxMf5Cq0Jbz0pwhVpod2kgEn_W6akCQ=="     \
    "\ttest.com\thttps\t1057\t0.238\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tMiss\tHTTP/"              \
    "2.0\t-\t-\t4203\t0.238\tMiss\tapplication/json;charset=UTF-8\t-\t-\t-"
#define CF_SHORT                                                                                   \
    "2024-07-13\t15:29:45\tEWR53-C1\t198083\t127.0.0.1\tGET\txxxxxxxxxxxxx.cloudfront.net\t/"      \
    "en(test)\t404\thttps://domain.tld/\tUser-Agent:%20Mozilla/"                                   \
    "4.0%20(compatible;%20MSIE%207.0;%20Windows%20NT%205.1;%20360SE)\t-"                           \
    "\tcookie\tError\tsomevalidbase64==\tdomain.tld\thttps\t609\t0.318\t-\tTLSv1.3\tTLS_AES_128_"  \
    "GCM_SHA256\tError\tHTTP/1.1\t-\t-\t50294\t0.318\tError\ttext/html\t-"

static void test_cloudfront_standard_log(void **state)
{
    struct slt_record rec;

    static const char *const cols[] = {"x-edge-result-type", "x-edge-location", NULL};

    (void)state;
    use("cloudfront");
    name_columns(cols);
    assert_true(slt_format_has_header(fmt));
    assert_int_equal(slt_parser_stream_has_header(parser), 0);
    /* the documented columns without a header */
    assert_int_equal(parse(CF_CURL_502, &rec), SLT_UP_OK);
    assert_int_equal(rec.time, slt_time_from_civil(2019, 12, 13, 22, 37, 2));
    assert_int_equal(rec.status, 502);
    assert_int_equal(rec.latency_us, 103000);
    field_is(&rec, SLT_F_METHOD, "GET");
    field_is(&rec, SLT_F_PATH, "/");
    field_is(&rec, SLT_F_HOST, "www.example.com");
    field_is(&rec, SLT_F_CLIENT, "89.160.20.112");
    field_is(&rec, SLT_F_USER_AGENT, "curl/7.55.1");
    field_is(&rec, SLT_F_PROTOCOL, "HTTP/1.1");
    field_is(&rec, SLT_F_TYPE, "http");
    field_is(&rec, SLT_F_BYTES, "900");
    own_is(&rec, "x-edge-result-type", "Error");
    own_is(&rec, "x-edge-location", "SEA19-C2");
    assert_int_equal(parse("#Version: 1.0", &rec), SLT_UP_NOT_ACCESS);
    assert_int_equal(parse(CF_FIELDS, &rec), SLT_UP_NOT_ACCESS);
    assert_int_equal(slt_parser_stream_has_header(parser), 1);
    assert_int_equal(parse(CF_000, &rec), SLT_UP_OK);
    assert_int_equal(rec.status, 0);
    field_is(&rec, SLT_F_STATUS, "000");
    field_is(&rec, SLT_F_METHOD, "POST");
    assert_int_equal(parse(CF_SHORT, &rec), SLT_UP_OK);
    assert_int_equal(rec.status, 404);
    field_is(&rec, SLT_F_PATH, "/en(test)");
    /* a header that moves the columns: values read by their new places */
    assert_int_equal(parse("#Fields: time date sc-status time-taken cs-method", &rec),
                     SLT_UP_NOT_ACCESS);
    assert_int_equal(parse("22:37:02\t2019-12-13\t503\t0.250\tPUT", &rec), SLT_UP_OK);
    assert_int_equal(rec.time, slt_time_from_civil(2019, 12, 13, 22, 37, 2));
    assert_int_equal(rec.status, 503);
    assert_int_equal(rec.latency_us, 250000);
    field_is(&rec, SLT_F_TIME, "22:37:02");
    field_is(&rec, SLT_F_METHOD, "PUT");
    field_is(&rec, SLT_F_PATH, NULL);
}

/* tests/data/iis/u_ex100815.log (IIS 7.0) and u_ex160110.log (IIS 8.5): see SOURCES.md. */
#define IIS7_FIELDS                                                                                \
    "#Fields: date time s-sitename s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username "    \
    "c-ip cs(User-Agent) sc-status sc-substatus sc-win32-status sc-bytes cs-bytes time-taken"
#define IIS7_LINE                                                                                  \
    "2010-08-15 03:53:32 W3SVC20 67.222.136.138 GET /robots.txt - 80 - 66.249.71.164 "             \
    "Googlebot-Image/1.0 404 0 2 1405 211 22"
#define IIS85_LINE                                                                                 \
    "2016-01-10 00:29:52 172.31.22.76 GET / - 80 - 66.249.66.155 "                                 \
    "Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html) - 200 0 0 1183"

static void test_w3c_iis_header_per_stream(void **state)
{
    struct slt_record rec;

    static const char *const cols[] = {"cs-uri-query", "sc-win32-status", "S-SiteName", NULL};

    (void)state;
    use("w3c");
    name_columns(cols);
    /* IIS's default columns before any header: the 8.5 line reads right */
    assert_int_equal(parse(IIS85_LINE, &rec), SLT_UP_OK);
    assert_int_equal(rec.time, slt_time_from_civil(2016, 1, 10, 0, 29, 52));
    assert_int_equal(rec.status, 200);
    assert_int_equal(rec.latency_us, 1183000); /* IIS: milliseconds */
    field_is(&rec, SLT_F_TIME, "2016-01-10 00:29:52");
    field_is(&rec, SLT_F_PATH, "/");
    field_is(&rec, SLT_F_CLIENT, "66.249.66.155");
    field_is(&rec, SLT_F_USER_AGENT,
             "Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html)");
    field_is(&rec, SLT_F_REFERER, "-");
    own_is(&rec, "cs-uri-query", "-");
    own_is(&rec, "sc-win32-status", "0");

    /* stream 7 gets the IIS 7.0 header; stream 0 keeps the defaults */
    slt_parser_stream(parser, 7);
    assert_int_equal(slt_parser_stream_has_header(parser), 0);
    assert_int_equal(parse("#Software: Microsoft Internet Information Services 7.0", &rec),
                     SLT_UP_NOT_ACCESS);
    assert_int_equal(parse(IIS7_FIELDS, &rec), SLT_UP_NOT_ACCESS);
    assert_int_equal(slt_parser_stream_has_header(parser), 1);
    assert_int_equal(parse(IIS7_LINE, &rec), SLT_UP_OK);
    assert_int_equal(rec.status, 404);
    assert_int_equal(rec.latency_us, 22000);
    field_is(&rec, SLT_F_BYTES, "1405");
    field_is(&rec, SLT_F_USER_AGENT, "Googlebot-Image/1.0");
    own_is(&rec, "s-sitename", "W3SVC20");
    slt_parser_stream(parser, 0);
    assert_int_equal(slt_parser_stream_has_header(parser), 0);
    assert_int_equal(parse(IIS85_LINE, &rec), SLT_UP_OK);
    assert_int_equal(rec.status, 200);
    own_is(&rec, "s-sitename", NULL);
    slt_parser_stream(parser, 7);
    assert_int_equal(parse(IIS7_LINE, &rec), SLT_UP_OK);
    assert_int_equal(rec.status, 404);

    /* no date column: the #Date: directive's; a time-taken with a '.' is seconds */
    assert_int_equal(parse("#Fields: time cs-method cs-uri sc-status time-taken", &rec),
                     SLT_UP_NOT_ACCESS);
    assert_int_equal(parse("10:00:00 GET /x?y=1 200 0.5", &rec), SLT_UP_TIME);
    assert_int_equal(parse("#Date: 2010-08-15 00:00:00", &rec), SLT_UP_NOT_ACCESS);
    assert_int_equal(parse("10:00:00 GET /x?y=1 200 0.5", &rec), SLT_UP_OK);
    assert_int_equal(rec.time, slt_time_from_civil(2010, 8, 15, 10, 0, 0));
    assert_int_equal(rec.latency_us, 500000);
    field_is(&rec, SLT_F_PATH, "/x?y=1");
    /* quoted values, a header without sc-status, bad values */
    assert_int_equal(parse("10:00:00 \"GET\" \"/a b\" 201 3", &rec), SLT_UP_OK);
    field_is(&rec, SLT_F_PATH, "/a b");
    assert_int_equal(rec.status, 201);
    assert_int_equal(parse("#Fields: date time cs-method", &rec), SLT_UP_NOT_ACCESS);
    assert_int_equal(parse("2010-08-15 10:00:00 GET", &rec), SLT_UP_STATUS);
    assert_int_equal(parse("#Fields: date time sc-status", &rec), SLT_UP_NOT_ACCESS);
    assert_int_equal(parse("2010-08-15 25:00:00 200", &rec), SLT_UP_TIME);
    assert_int_equal(parse("2010-08-15 10:00:00 2x0", &rec), SLT_UP_STATUS);
}

/* More streams than the bound: the least recently used is forgotten, nothing else. */
static void test_w3c_streams_are_bounded(void **state)
{
    struct slt_record rec;
    uint64_t id;

    (void)state;
    use("w3c");
    for (id = 1; id <= SLT_PARSER_MAX_STREAMS + 10; id++) {
        slt_parser_stream(parser, id);
        assert_int_equal(parse("#Fields: date time sc-status", &rec), SLT_UP_NOT_ACCESS);
    }
    slt_parser_stream(parser, SLT_PARSER_MAX_STREAMS + 10);
    assert_int_equal(slt_parser_stream_has_header(parser), 1);
    slt_parser_stream(parser, 1); /* forgotten: the defaults again */
    assert_int_equal(slt_parser_stream_has_header(parser), 0);
    assert_int_equal(parse(IIS85_LINE, &rec), SLT_UP_OK);
}

/* Every new format is listed, and no other new format takes its line (cloudfront and w3c read
 * each other's, by design: a W3C line is a W3C line). */
static void test_new_formats_reject_each_others_lines(void **state)
{
    static const char *const names[] = {"haproxy_http",  "envoy",      "traefik_json",
                                        "ingress_nginx", "cloudfront", "w3c"};
    static const char *const lines[] = {HAPROXY_DOC, ENVOY_DOC,   TRAEFIK_REAL,
                                        INGRESS_404, CF_CURL_502, IIS85_LINE};
    const char *const *all = slt_format_builtin_names();
    struct slt_record rec;
    size_t i, j, k;

    (void)state;
    for (i = 0; i < 6; i++) {
        for (k = 0; all[k] && strcmp(all[k], names[i]) != 0; k++)
            ;
        assert_non_null(all[k]);
        use(names[i]);
        for (j = 0; j < 6; j++) {
            int r = parse(lines[j], &rec);

            if (i == j)
                assert_int_equal(r, SLT_UP_OK);
            else if (r == SLT_UP_OK && !(i >= 4 && j >= 4))
                fail_msg("format %s parsed the %s line", names[i], names[j]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_haproxy_documented_line, teardown),
        cmocka_unit_test_teardown(test_haproxy_real_lines_and_messages, teardown),
        cmocka_unit_test_teardown(test_envoy_default_and_istio_lines, teardown),
        cmocka_unit_test_teardown(test_traefik_json_real_line, teardown),
        cmocka_unit_test_teardown(test_ingress_nginx_upstreaminfo, teardown),
        cmocka_unit_test_teardown(test_cloudfront_standard_log, teardown),
        cmocka_unit_test_teardown(test_w3c_iis_header_per_stream, teardown),
        cmocka_unit_test_teardown(test_w3c_streams_are_bounded, teardown),
        cmocka_unit_test_teardown(test_new_formats_reject_each_others_lines, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

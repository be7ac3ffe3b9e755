/* The YAML config loader: the example from the issue loads, every error names file:line:col. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_internal.h"
#include "slt/config.h"

static const char example[] =
    "formats:                 # user formats; built-ins need no entry\n"
    "  - name: myapp\n"
    "    regex: '^(?<client>\\S+) \\S+ \\S+ \\[(?<time>[^\\]]+)\\] \"(?<method>\\S+) "
    "(?<path>\\S+)[^\"]*\" (?<status>\\d{3}) .* (?<latency>[\\d.]+)$'\n"
    "    time_layout: '%d/%b/%Y:%H:%M:%S %z'\n"
    "    latency_unit: s        # s | ms | us\n"
    "inputs:\n"
    "  - name: web\n"
    "    format: nginx_timed    # a built-in or a name from formats:\n"
    "    paths: ['/var/log/nginx/access.log']\n"
    "slis:\n"
    "  - name: checkout-availability\n"
    "    input: web\n"
    "    match:   { path: '^/api/checkout', method: '^POST$' }   # which requests\n"
    "    exclude: { status: '^4' }                              # not counted at all\n"
    "    bad:     { status: '^5' }                              # everything else is good\n"
    "  - name: search-latency\n"
    "    input: web\n"
    "    match:   { path: '^/search' }\n"
    "    exclude: { status: '^[45]' }\n"
    "    bad:     { latency_over: 300ms }\n"
    "slos:\n"
    "  - { name: checkout, sli: checkout-availability, objective: 99.9, window: 28d }\n";

/* Loads text as "t.yaml"; returns the code and leaves the message in err. */
static int load(const char *text, struct slt_config **cfg, char *err, size_t errlen)
{
    return slt_config_load_string("t.yaml", text, strlen(text), cfg, err, errlen);
}

/* Asserts text is rejected with exactly msg. */
static void assert_rejected(const char *text, const char *msg)
{
    struct slt_config *cfg = NULL;
    char err[512] = "";
    int rc = load(text, &cfg, err, sizeof(err));

    assert_int_equal(rc, SLT_ECONFIG);
    assert_null(cfg);
    assert_string_equal(err, msg);
}

static void test_issue_example_loads(void **state)
{
    struct slt_config *cfg = NULL;
    char err[512] = "";

    (void)state;
    assert_int_equal(load(example, &cfg, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(cfg->nformats, 1);
    assert_int_equal(cfg->ninputs, 1);
    assert_string_equal(cfg->inputs[0].name, "web");
    assert_string_equal(cfg->inputs[0].format_name, "nginx_timed");
    assert_non_null(cfg->inputs[0].fmt);
    assert_int_equal(cfg->inputs[0].npaths, 1);
    assert_string_equal(cfg->inputs[0].paths[0], "/var/log/nginx/access.log");
    assert_int_equal(cfg->inputs[0].read_from_beginning, 0);
    assert_int_equal(cfg->inputs[0].max_line, 65536);
    assert_int_equal(cfg->nslis, 2);
    assert_string_equal(cfg->slis[0].name, "checkout-availability");
    assert_int_equal(cfg->slis[0].input_idx, 0);
    assert_int_equal(cfg->slis[0].match.present, 1);
    assert_int_equal(cfg->slis[0].match.nmaps, 1);
    assert_int_equal(cfg->slis[0].match.maps[0].natoms, 2);
    assert_int_equal(cfg->slis[1].bad.maps[0].atoms[0].kind, SLT_ATOM_LATENCY_OVER);
    assert_int_equal(cfg->slis[1].bad.maps[0].atoms[0].us, 300000);
    assert_int_equal(cfg->nslos, 1);
    assert_string_equal(cfg->slos[0].sli, "checkout-availability");
    assert_int_equal(cfg->slos[0].sli_idx, 0);
    assert_true(cfg->slos[0].objective > 99.89 && cfg->slos[0].objective < 99.91);
    assert_int_equal(cfg->slos[0].window_s, 28 * 86400);
    assert_int_equal(slt_config_input_index(cfg, "web"), 0);
    assert_int_equal(slt_config_input_index(cfg, "nope"), -1);
    assert_int_equal(slt_config_sli_index(cfg, "search-latency"), 1);
    slt_config_free(cfg);
}

static void test_defaults_are_applied_when_sections_are_absent(void **state)
{
    struct slt_config *cfg = NULL;
    char err[512] = "", host[256] = "";

    (void)state;
    assert_int_equal(load("inputs: [{name: a, format: nginx_combined}]\n", &cfg, err, sizeof(err)),
                     0);
    gethostname(host, sizeof(host) - 1);
    assert_string_equal(cfg->agent.id, host);
    assert_int_equal(cfg->agent.naggregators, 1);
    assert_string_equal(cfg->agent.aggregators[0], "127.0.0.1:7433");
    assert_null(cfg->agent.token_file);
    assert_string_equal(cfg->agent.state_dir, "/var/lib/slitail");
    assert_int_equal(cfg->agent.flush_interval_ms, 2000);
    assert_int_equal(cfg->agent.spool_max_bytes, 256ULL * 1024 * 1024);
    assert_int_equal(cfg->agent.spool_retention_s, 600);
    assert_int_equal(cfg->agent.minutes_kept, 1440);
    assert_null(cfg->agent.status_listen);
    assert_int_equal(cfg->agent.poll_interval_ms, 1000);
    assert_int_equal(cfg->agent.ack_timeout_ms, 5000);
    assert_string_equal(cfg->aggregator.listen, "127.0.0.1:7433");
    assert_string_equal(cfg->aggregator.http_listen, "127.0.0.1:7480");
    assert_string_equal(cfg->aggregator.redis, "redis://127.0.0.1:6379/0");
    assert_null(cfg->aggregator.token_file);
    assert_int_equal(cfg->aggregator.max_frame, 1024 * 1024);
    assert_int_equal(cfg->aggregator.max_agents, 10000);
    assert_int_equal(cfg->aggregator.minute_retention_s, 2 * 86400);
    assert_int_equal(cfg->aggregator.hour_retention_s, 35 * 86400);
    assert_int_equal(cfg->aggregator.day_retention_s, 400 * 86400);
    assert_int_equal(cfg->aggregator.redis_timeout_ms, 2000);
    assert_int_equal(cfg->aggregator.default_window_s, 3600);
    slt_config_free(cfg);
}

static void test_agent_and_aggregator_sections_set_every_key(void **state)
{
    static const char text[] =
        "inputs:\n"
        "  - {name: web, format: nginx_timed, paths: [/a.log, '/b/*.log'], read_from: beginning,\n"
        "     max_line: 16KiB}\n"
        "agent:\n"
        "  id: web-1\n"
        "  aggregators: ['10.0.0.1:7433', '10.0.0.2:7433']\n"
        "  token_file: /etc/slitail/token\n"
        "  state_dir: /tmp/st\n"
        "  flush_interval: 100ms\n"
        "  spool_max: 64MiB\n"
        "  spool_retention: 1h\n"
        "  minutes_kept: 60\n"
        "  status_listen: 127.0.0.1:7434\n"
        "  poll_interval: 250ms\n"
        "  ack_timeout: 1.5s\n"
        "aggregator:\n"
        "  listen: 0.0.0.0:9000\n"
        "  http_listen: 127.0.0.1:9001\n"
        "  redis: unix:///run/redis.sock\n"
        "  token_file: /t\n"
        "  max_frame: 2MiB\n"
        "  max_agents: 5\n"
        "  minute_retention: 3d\n"
        "  hour_retention: 40d\n"
        "  day_retention: 1000d\n"
        "  redis_timeout: 500ms\n"
        "  default_window: 30m\n";
    struct slt_config *cfg = NULL;
    char err[512] = "";

    (void)state;
    assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(cfg->inputs[0].npaths, 2);
    assert_string_equal(cfg->inputs[0].paths[1], "/b/*.log");
    assert_int_equal(cfg->inputs[0].read_from_beginning, 1);
    assert_int_equal(cfg->inputs[0].max_line, 16384);
    assert_string_equal(cfg->agent.id, "web-1");
    assert_int_equal(cfg->agent.naggregators, 2);
    assert_string_equal(cfg->agent.aggregators[1], "10.0.0.2:7433");
    assert_string_equal(cfg->agent.token_file, "/etc/slitail/token");
    assert_string_equal(cfg->agent.state_dir, "/tmp/st");
    assert_int_equal(cfg->agent.flush_interval_ms, 100);
    assert_int_equal(cfg->agent.spool_max_bytes, 64ULL * 1024 * 1024);
    assert_int_equal(cfg->agent.spool_retention_s, 3600);
    assert_int_equal(cfg->agent.minutes_kept, 60);
    assert_string_equal(cfg->agent.status_listen, "127.0.0.1:7434");
    assert_int_equal(cfg->agent.poll_interval_ms, 250);
    assert_int_equal(cfg->agent.ack_timeout_ms, 1500);
    assert_string_equal(cfg->aggregator.listen, "0.0.0.0:9000");
    assert_string_equal(cfg->aggregator.http_listen, "127.0.0.1:9001");
    assert_string_equal(cfg->aggregator.redis, "unix:///run/redis.sock");
    assert_string_equal(cfg->aggregator.token_file, "/t");
    assert_int_equal(cfg->aggregator.max_frame, 2 * 1024 * 1024);
    assert_int_equal(cfg->aggregator.max_agents, 5);
    assert_int_equal(cfg->aggregator.minute_retention_s, 3 * 86400);
    assert_int_equal(cfg->aggregator.hour_retention_s, 40 * 86400);
    assert_int_equal(cfg->aggregator.day_retention_s, 1000 * 86400);
    assert_int_equal(cfg->aggregator.redis_timeout_ms, 500);
    assert_int_equal(cfg->aggregator.default_window_s, 1800);
    slt_config_free(cfg);
}

static void test_an_empty_value_keeps_the_default(void **state)
{
    struct slt_config *cfg = NULL;
    char err[512] = "";

    (void)state;
    assert_int_equal(load("agent:\n  flush_interval:\n  token_file: ~\n"
                          "inputs: [{name: a, format: nginx_timed, paths: ~}]\n"
                          "slis: [{name: s, match: ~}]\n",
                          &cfg, err, sizeof(err)),
                     0);
    assert_int_equal(cfg->agent.flush_interval_ms, 2000);
    assert_null(cfg->agent.token_file);
    assert_int_equal(cfg->inputs[0].npaths, 0);
    assert_int_equal(cfg->slis[0].match.present, 0);
    slt_config_free(cfg);
    assert_rejected("inputs: [{name: a, format: }]\n",
                    "t.yaml:1:20: input 'a': 'format' needs a value");
}

static void test_a_single_aggregator_string_is_a_list_of_one(void **state)
{
    struct slt_config *cfg = NULL;
    char err[512] = "";

    (void)state;
    assert_int_equal(load("agent: {aggregators: 'h:1'}\n", &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg->agent.naggregators, 1);
    assert_string_equal(cfg->agent.aggregators[0], "h:1");
    slt_config_free(cfg);
}

static void test_empty_config_loads_with_defaults(void **state)
{
    struct slt_config *cfg = NULL;
    char err[512] = "";

    (void)state;
    assert_int_equal(load("# nothing\n", &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg->ninputs, 0);
    assert_int_equal(cfg->agent.flush_interval_ms, 2000);
    slt_config_free(cfg);
}

static void test_unknown_input_names_the_value(void **state)
{
    (void)state;
    assert_rejected("inputs: [{name: web, format: nginx_timed}]\n"
                    "slis:\n"
                    "  - name: x\n"
                    "    input: webb\n",
                    "t.yaml:4:12: sli 'x': unknown input 'webb'");
}

static void test_unknown_key_in_sli_names_the_key(void **state)
{
    (void)state;
    assert_rejected("inputs: [{name: web, format: nginx_timed}]\n"
                    "slis:\n"
                    "  - name: x\n"
                    "    exlude: {status: '^4'}\n",
                    "t.yaml:4:5: unknown key 'exlude' in sli 'x'");
}

static void test_unknown_key_in_agent_and_top_level(void **state)
{
    (void)state;
    assert_rejected("agent:\n  flush: 2s\n", "t.yaml:2:3: unknown key 'flush' in agent");
    assert_rejected("aggregator:\n  listen: a:1\n  port: 3\n",
                    "t.yaml:3:3: unknown key 'port' in aggregator");
    assert_rejected("slis: []\nsli: []\n",
                    "t.yaml:2:1: unknown key 'sli' at top level (sections are formats, inputs, "
                    "slis, slos, agent, aggregator, alerting)");
}

static void test_bad_format_regex_gives_pcre2_offset(void **state)
{
    (void)state;
    assert_rejected("formats:\n"
                    "  - name: myapp\n"
                    "    regex: '^(?<time>\\S+) (?<status>\\d+'\n",
                    "t.yaml:3:12: format 'myapp': bad regex at offset 27: missing closing "
                    "parenthesis");
}

static void test_bad_condition_regex_gives_pcre2_offset(void **state)
{
    (void)state;
    assert_rejected("inputs: [{name: web, format: nginx_timed}]\n"
                    "slis:\n"
                    "  - name: x\n"
                    "    match: {path: '^/a(b'}\n",
                    "t.yaml:4:19: sli 'x': bad regex for 'path' at offset 5: missing closing "
                    "parenthesis");
}

static void test_duplicate_names_are_rejected(void **state)
{
    (void)state;
    assert_rejected("inputs:\n"
                    "  - {name: web, format: nginx_timed}\n"
                    "  - {name: web, format: nginx_combined}\n",
                    "t.yaml:3:12: duplicate input name 'web' (first defined at line 2)");
    assert_rejected("inputs: [{name: web, format: nginx_timed}]\n"
                    "slis:\n"
                    "  - {name: a}\n"
                    "  - {name: a}\n",
                    "t.yaml:4:12: duplicate sli name 'a' (first defined at line 3)");
    assert_rejected("inputs: [{name: web, format: nginx_timed}]\n"
                    "slis: [{name: a}]\n"
                    "slos:\n"
                    "  - {name: s, sli: a, objective: 99}\n"
                    "  - {name: s, sli: a, objective: 99}\n",
                    "t.yaml:5:12: duplicate slo name 's' (first defined at line 4)");
    assert_rejected("formats:\n"
                    "  - {name: f, regex: '(?<time>.*)'}\n"
                    "  - {name: f, regex: '(?<time>.*)'}\n",
                    "t.yaml:3:12: duplicate format name 'f' (first defined at line 2)");
}

static void test_format_needs_exactly_one_of_regex_and_json(void **state)
{
    (void)state;
    assert_rejected("formats:\n  - {name: f, time_layout: '%s'}\n",
                    "t.yaml:2:5: format 'f': missing key 'regex' (or 'json')");
    assert_rejected("formats:\n  - {name: f, regex: '(?<time>.)', json: {}}\n",
                    "t.yaml:2:42: format 'f': give either 'regex' or 'json', not both");
    assert_rejected("formats:\n  - {name: f, json: {tenant: a.b}}\n",
                    "t.yaml:2:22: format 'f': 'tenant' is not a canonical field (time, status, "
                    "latency, method, path, host, client, ...); use the dotted path in "
                    "conditions instead");
    assert_rejected("formats:\n  - {name: nginx_timed, regex: '(?<time>.)'}\n",
                    "t.yaml:2:12: format 'nginx_timed': 'nginx_timed' is the name of a built-in "
                    "format");
}

static void test_unknown_format_lists_the_builtins(void **state)
{
    (void)state;
    assert_rejected("inputs:\n"
                    "  - name: web\n"
                    "    format: ngnix\n",
                    "t.yaml:3:13: input 'web': unknown format 'ngnix' (built-in formats: "
                    "nginx_combined, nginx_main, nginx_timed, apache_common, apache_combined, "
                    "alb, json, haproxy_http, envoy, traefik_json, ingress_nginx, cloudfront, "
                    "w3c; or define it under formats:)");
}

static void test_unknown_field_for_the_format_is_rejected(void **state)
{
    (void)state;
    assert_rejected("inputs: [{name: web, format: nginx_timed}]\n"
                    "slis:\n"
                    "  - name: x\n"
                    "    bad: {pth: '^/'}\n",
                    "t.yaml:4:11: sli 'x': format 'nginx_timed' has no field 'pth'");
}

static void test_latency_on_a_format_without_latency_is_rejected(void **state)
{
    (void)state;
    assert_rejected("inputs: [{name: web, format: nginx_combined}]\n"
                    "slis:\n"
                    "  - name: x\n"
                    "    bad: {latency_over: 1s}\n",
                    "t.yaml:4:11: sli 'x': format 'nginx_combined' has no latency, so "
                    "'latency_over' cannot be used");
}

static void test_bad_durations_and_sizes_are_rejected(void **state)
{
    (void)state;
    assert_rejected("agent: {flush_interval: 2 seconds}\n",
                    "t.yaml:1:25: agent: bad duration '2 seconds' for 'flush_interval' (use e.g. "
                    "300ms, 2s, 5m, 28d)");
    assert_rejected("agent: {flush_interval: 2}\n",
                    "t.yaml:1:25: agent: bad duration '2' for 'flush_interval' (use e.g. 300ms, "
                    "2s, 5m, 28d)");
    assert_rejected("agent: {flush_interval: 50ms}\n",
                    "t.yaml:1:25: agent: 'flush_interval' must be between 100ms and 1h, got "
                    "'50ms'");
    assert_rejected("agent: {spool_retention: 1500ms}\n",
                    "t.yaml:1:26: agent: 'spool_retention' must be a whole number of s, got "
                    "'1500ms'");
    assert_rejected("agent: {spool_max: lots}\n",
                    "t.yaml:1:20: agent: bad size 'lots' for 'spool_max' (use e.g. 4096, 64KiB, "
                    "256MiB)");
    assert_rejected("aggregator: {max_frame: 1GiB}\n",
                    "t.yaml:1:25: aggregator: 'max_frame' must be between 4KiB and 64MiB, got "
                    "'1GiB'");
    assert_rejected("inputs: [{name: web, format: nginx_timed}]\n"
                    "slis:\n"
                    "  - name: x\n"
                    "    bad: {latency_over: 300}\n",
                    "t.yaml:4:25: sli 'x': bad duration '300' for 'latency_over' (give a unit: "
                    "e.g. 300ms, 1.5s, 250us)");
}

static void test_objective_must_be_strictly_between_0_and_100(void **state)
{
    (void)state;
    assert_rejected("inputs: [{name: web, format: nginx_timed}]\n"
                    "slis: [{name: a}]\n"
                    "slos: [{name: s, sli: a, objective: 100}]\n",
                    "t.yaml:3:37: slo 's': 'objective' must be between 0 and 100 (both "
                    "excluded), got '100'");
    assert_rejected("inputs: [{name: web, format: nginx_timed}]\n"
                    "slis: [{name: a}]\n"
                    "slos: [{name: s, sli: a, objective: 0}]\n",
                    "t.yaml:3:37: slo 's': 'objective' must be between 0 and 100 (both "
                    "excluded), got '0'");
    assert_rejected("inputs: [{name: web, format: nginx_timed}]\n"
                    "slis: [{name: a}]\n"
                    "slos: [{name: s, sli: a, objective: high}]\n",
                    "t.yaml:3:37: slo 's': 'objective' must be a number, got 'high'");
    assert_rejected("inputs: [{name: web, format: nginx_timed}]\n"
                    "slis: [{name: a}]\n"
                    "slos: [{name: s, sli: b, objective: 99}]\n",
                    "t.yaml:3:23: slo 's': unknown sli 'b'");
}

static void test_addresses_are_checked(void **state)
{
    (void)state;
    assert_rejected("agent: {aggregators: ['10.0.0.1:7433', '10.0.0.2']}\n",
                    "t.yaml:1:40: agent: 'aggregators' must be host:port, got '10.0.0.2'");
    assert_rejected("agent: {aggregators: ':7433'}\n",
                    "t.yaml:1:22: agent: 'aggregators' must be host:port, got ':7433'");
    assert_rejected("aggregator: {listen: '127.0.0.1:99999'}\n",
                    "t.yaml:1:22: aggregator: 'listen' has a bad port (want 0 to 65535), got "
                    "'127.0.0.1:99999'");
    assert_rejected("aggregator: {http_listen: '[::1]7480'}\n",
                    "t.yaml:1:27: aggregator: 'http_listen' must be [v6addr]:port, got "
                    "'[::1]7480'");
    assert_rejected("aggregator: {redis: 'rediss://u:secret@h:6379'}\n",
                    "t.yaml:1:21: aggregator: 'redis' must start with redis:// or unix:// (TLS "
                    "is not supported)");
}

static void test_alerting_is_off_by_default(void **state)
{
    struct slt_config *cfg = NULL;
    char err[512] = "";

    (void)state;
    assert_int_equal(load("alerting:\n", &cfg, err, sizeof(err)), 0);
    assert_null(cfg->alerting.alertmanager);
    assert_null(cfg->alerting.webhook);
    assert_null(cfg->alerting.external_url);
    assert_int_equal(cfg->alerting.interval_ms, 30000);
    assert_int_equal(cfg->alerting.timeout_ms, 5000);
    assert_int_equal(cfg->alerting.nlabels, 0);
    slt_config_free(cfg);
}

static void test_alerting_sets_every_key_and_sorts_labels(void **state)
{
    struct slt_config *cfg = NULL;
    char err[512] = "";

    (void)state;
    assert_int_equal(load("alerting:\n"
                          "  interval: 1s\n"
                          "  alertmanager: http://127.0.0.1:9093\n"
                          "  webhook: http://hooks.example:8080/hook?x=1\n"
                          "  labels: { team: shop, env: prod }\n"
                          "  timeout: 250ms\n"
                          "  external_url: https://slo.example/\n",
                          &cfg, err, sizeof(err)),
                     0);
    assert_int_equal(cfg->alerting.interval_ms, 1000);
    assert_int_equal(cfg->alerting.timeout_ms, 250);
    assert_string_equal(cfg->alerting.alertmanager, "http://127.0.0.1:9093");
    assert_string_equal(cfg->alerting.webhook, "http://hooks.example:8080/hook?x=1");
    assert_string_equal(cfg->alerting.external_url, "https://slo.example/");
    assert_int_equal(cfg->alerting.nlabels, 2);
    assert_string_equal(cfg->alerting.labels[0].name, "env");
    assert_string_equal(cfg->alerting.labels[0].value, "prod");
    assert_string_equal(cfg->alerting.labels[1].name, "team");
    assert_string_equal(cfg->alerting.labels[1].value, "shop");
    slt_config_free(cfg);
}

static void test_alerting_urls_and_labels_are_checked(void **state)
{
    (void)state;
    assert_rejected("alerting:\n  alertmanager: ftp://am:9093\n",
                    "t.yaml:2:17: alerting: 'alertmanager' must be an http:// or https:// URL "
                    "like https://host:port/path, got 'ftp://am:9093'");
    assert_rejected("alerting:\n  webhook: http://h:0/x\n",
                    "t.yaml:2:12: alerting: 'webhook' has a bad port (want 1 to 65535), got "
                    "'http://h:0/x'");
    assert_rejected("alerting:\n  webhook: 'http:///x'\n",
                    "t.yaml:2:12: alerting: 'webhook' has no host, got 'http:///x'");
    assert_rejected("alerting:\n  webhook: 'http://u:p@h/x'\n",
                    "t.yaml:2:12: alerting: 'webhook' must not hold user:password@ (not "
                    "supported), got 'http://u:p@h/x'");
    assert_rejected("alerting:\n  webhook: 'http://h/a b'\n",
                    "t.yaml:2:12: alerting: 'webhook' has a space, control byte or '#' in the "
                    "path, got 'http://h/a b'");
    assert_rejected("alerting:\n  webhook: 'h:80'\n",
                    "t.yaml:2:12: alerting: 'webhook' must be an http:// or https:// URL like "
                    "https://host:port/path, got 'h:80'");
    assert_rejected("alerting:\n  interval: 10ms\n",
                    "t.yaml:2:13: alerting: 'interval' must be between 1s and 1h, got '10ms'");
    assert_rejected("alerting:\n  labels: { severity: low }\n",
                    "t.yaml:2:13: alerting: label 'severity' is set by slitail and cannot be "
                    "configured");
    assert_rejected("alerting:\n  labels: { 9team: x }\n",
                    "t.yaml:2:13: alerting: label names must be letters, digits and '_' (not "
                    "first), at most 128 bytes");
    assert_rejected("alerting:\n  labels: { team: [a] }\n",
                    "t.yaml:2:19: alerting: label 'team' must be a string, got a list");
    assert_rejected("alerting:\n  labels: [team]\n",
                    "t.yaml:2:11: alerting: 'labels' must be a map, got a list");
    assert_rejected("alerting:\n  pager: x\n", "t.yaml:2:3: unknown key 'pager' in alerting");
}

static void test_http_url_parse_splits_host_port_and_path(void **state)
{
    struct slt_http_url u;
    char msg[128];

    (void)state;
    assert_int_equal(slt_http_url_parse("http://am", &u, msg, sizeof(msg)), 0);
    assert_string_equal(u.host, "am");
    assert_int_equal(u.port, 80);
    assert_string_equal(u.path, "/");
    assert_int_equal(slt_http_url_parse("http://[::1]:9093/a/b?c=d", &u, msg, sizeof(msg)), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 9093);
    assert_string_equal(u.path, "/a/b?c=d");
    assert_int_equal(slt_http_url_parse("http://h:65536/", &u, msg, sizeof(msg)), SLT_EINVAL);
    assert_int_equal(slt_http_url_parse("http://h:/", &u, msg, sizeof(msg)), SLT_EINVAL);
    assert_int_equal(slt_http_url_parse("http://[zz]/", &u, msg, sizeof(msg)), SLT_EINVAL);
    assert_int_equal(slt_http_url_parse("http://h!x/", &u, msg, sizeof(msg)), SLT_EINVAL);
}

static void test_slo_window_must_fit_the_day_retention(void **state)
{
    (void)state;
    assert_rejected("inputs: [{name: web, format: nginx_timed}]\n"
                    "slis: [{name: a}]\n"
                    "slos: [{name: s, sli: a, objective: 99, window: 90d}]\n"
                    "aggregator: {day_retention: 60d}\n",
                    "t.yaml:3:49: slo 's': window 90d is longer than aggregator.day_retention "
                    "(60d)");
}

static void test_missing_required_key_points_at_the_entry(void **state)
{
    (void)state;
    assert_rejected("inputs:\n  - name: web\n", "t.yaml:2:5: input 'web': missing key 'format'");
    assert_rejected("inputs:\n  - {format: nginx_timed}\n",
                    "t.yaml:2:5: input #1: missing key 'name'");
}

static void test_sli_input_may_be_left_out_only_with_one_input(void **state)
{
    struct slt_config *cfg = NULL;
    char err[512] = "";

    (void)state;
    assert_int_equal(load("inputs: [{name: web, format: nginx_timed}]\nslis: [{name: a}]\n", &cfg,
                          err, sizeof(err)),
                     0);
    assert_string_equal(cfg->slis[0].input, "web");
    slt_config_free(cfg);
    assert_rejected("inputs: [{name: a, format: nginx_timed}, {name: b, format: nginx_timed}]\n"
                    "slis: [{name: s}]\n",
                    "t.yaml:2:8: sli 's': missing key 'input' (needed when there is not exactly "
                    "one input)");
}

static void test_yaml_syntax_errors_have_a_position(void **state)
{
    (void)state;
    assert_rejected("inputs:\n  - name: [web\n",
                    "t.yaml:3:1: invalid yaml: did not find expected ',' or ']' while parsing a "
                    "flow sequence");
    assert_rejected("a: 1\n---\nb: 2\n", "t.yaml:3:1: only one yaml document is allowed");
}

/* libyaml is quadratic in flow nesting: a deep file must be refused at once, not after minutes. */
static void test_deep_nesting_and_anchor_floods_are_refused_quickly(void **state)
{
    size_t n = 400000, k = 0;
    char *b = malloc(2 * n + 16), err[256];
    struct slt_config *cfg = NULL;
    uint64_t t0 = slt_mono_ns();

    (void)state;
    assert_non_null(b);
    memcpy(b, "agent: ", 7);
    memset(b + 7, '[', n);
    memset(b + 7 + n, ']', n);
    assert_int_equal(slt_config_load_string("t.yaml", b, 2 * n + 7, &cfg, err, sizeof(err)),
                     SLT_ECONFIG);
    assert_string_equal(err, "t.yaml:1:39: config is nested too deeply (more than 32 levels)");
    while (k < 100000)
        k += (size_t)sprintf(b + k, "- &a%zu x\n", k);
    assert_int_equal(slt_config_load_string("t.yaml", b, k, &cfg, err, sizeof(err)), SLT_ECONFIG);
    assert_string_equal(err, "t.yaml:257:3: too many anchors and aliases (more than 256)");
    assert_true(slt_mono_ns() - t0 < 5000000000ULL);
    assert_null(cfg);
    free(b);
}

static void test_wrong_types_say_what_was_expected(void **state)
{
    (void)state;
    assert_rejected("inputs: {name: web}\n", "t.yaml:1:9: 'inputs' must be a list, got a map");
    assert_rejected("agent: [1]\n", "t.yaml:1:8: agent must be a map, got a list");
    assert_rejected("inputs: [{name: web, format: nginx_timed, read_from: start}]\n",
                    "t.yaml:1:54: input 'web': 'read_from' must be one of end|beginning, got "
                    "'start'");
    assert_rejected("inputs: [{name: web, format: [a]}]\n",
                    "t.yaml:1:30: input 'web': 'format' must be a string, got a list");
    assert_rejected("inputs: [{name: 'a b', format: nginx_timed}]\n",
                    "t.yaml:1:17: input 'a b': bad name 'a b' (use 1 to 64 letters, digits, '.', "
                    "'_' or '-')");
}

static void test_duplicate_keys_are_rejected(void **state)
{
    (void)state;
    assert_rejected("agent:\n  id: a\n  id: b\n", "t.yaml:3:3: duplicate key 'id' in agent");
    assert_rejected("agent: {}\nagent: {}\n", "t.yaml:2:1: duplicate section 'agent'");
}

static void test_load_file_reports_the_path(void **state)
{
    char path[] = "/tmp/slt_cfg_XXXXXX";
    struct slt_config *cfg = NULL;
    char err[512] = "", want[600];
    int fd = mkstemp(path);
    static const char text[] = "agent:\n  nope: 1\n";

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    assert_int_equal(slt_config_load_file(path, &cfg, err, sizeof(err)), SLT_ECONFIG);
    snprintf(want, sizeof(want), "%s:2:3: unknown key 'nope' in agent", path);
    assert_string_equal(err, want);
    unlink(path);
    assert_int_equal(slt_config_load_file(path, &cfg, err, sizeof(err)), -2 /* ENOENT */);
    assert_null(cfg);
}

static void test_default_config_has_availability_and_latency(void **state)
{
    struct slt_config *cfg = NULL;
    char err[512] = "";

    (void)state;
    assert_int_equal(slt_config_default("nginx_timed", 500000, &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg->ninputs, 1);
    assert_string_equal(cfg->inputs[0].name, "default");
    assert_int_equal(cfg->nslis, 2);
    assert_string_equal(cfg->slis[0].name, "availability");
    assert_string_equal(cfg->slis[1].name, "latency");
    assert_int_equal(cfg->slis[1].bad.maps[0].atoms[0].us, 500000);
    slt_config_free(cfg);
    assert_int_equal(slt_config_default("nginx_combined", 500000, &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg->nslis, 1);
    slt_config_free(cfg);
    assert_int_equal(slt_config_default("nginx", 500000, &cfg, err, sizeof(err)), SLT_ENOTFOUND);
    assert_null(cfg);
}

static void test_alloc_failures_never_crash(void **state)
{
    static const char other[] =
        "formats:\n"
        "  - {name: app, json: {status: code, time: ts}, latency_unit: ms}\n"
        "  - {name: rx, regex: '^(?<time>\\S+) (?<t>\\w+) (?<status>\\d+)$'}\n"
        "inputs: [{name: a, format: app, paths: [x, y]}, {name: r, format: rx}]\n"
        "slis:\n"
        "  - {name: s, input: a, match: {tenant.id: '^a$'}, bad: [{status: [5xx, 429]}, "
        "{latency_over: 1s}]}\n"
        "  - {name: t, input: r, match: {not: {t: x}}, exclude: {status: 4xx}}\n"
        "slos: [{name: o, sli: t, objective: 99}]\n"
        "agent: {id: a, aggregators: ['h:1', 'h:2'], status_listen: ':0'}\n"
        "aggregator: {token_file: /t}\n"
        "alerting: {alertmanager: 'http://am:9093', webhook: 'http://h/x', labels: {team: shop, "
        "env: prod}, external_url: 'https://slo.example'}\n";
    const char *const texts[] = {example, other};
    struct slt_config *cfg;
    char err[512];
    size_t t;
    long n;
    int rc;

    (void)state;
    for (t = 0; t < SLT_ARRAY_SIZE(texts); t++) {
        for (n = 0; n < 5000; n++) {
            cfg = NULL;
            slt_alloc_fail_after(n);
            rc = load(texts[t], &cfg, err, sizeof(err));
            slt_alloc_fail_after(-1);
            if (rc == 0) {
                slt_config_free(cfg);
                break;
            }
            /*
             * slt_format_field_key() cannot say "out of memory" when a JSON format adds a
             * path, so text 1 may also be rejected as config; never anything else.
             */
            if (rc != SLT_ENOMEM && (t == 0 || rc != SLT_ECONFIG))
                fail_msg("text %zu, allocation %ld: %d %s", t, n, rc, err);
            assert_null(cfg);
        }
        assert_true(n < 5000);
    }
}

/* docs/CONFIG.md holds the key reference exactly as the key table generates it. */
static void test_config_md_key_reference_matches_the_table(void **state)
{
    static const char begin[] = "<!-- keys:begin", end[] = "<!-- keys:end -->";
    struct slt_buf want, doc;
    char chunk[4096], *b, *e;
    size_t n, i, nkeys;
    const struct slt__config_key *keys = slt__config_keys(&nkeys);
    FILE *fp = fopen(SLT_SOURCE_DIR "/docs/CONFIG.md", "r");

    (void)state;
    assert_non_null(fp);
    slt_buf_init(&doc, 1 << 20);
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        assert_int_equal(slt_buf_append(&doc, chunk, n), 0);
    fclose(fp);
    assert_int_equal(slt_buf_append(&doc, "", 1), 0);
    b = strstr(doc.p, begin);
    assert_non_null(b);
    b = strchr(b, '\n');
    assert_non_null(b);
    b++;
    e = strstr(b, end);
    assert_non_null(e);
    slt_buf_init(&want, 1 << 20);
    assert_int_equal(slt__config_doc_keys(&want), 0);
    if ((size_t)(e - b) != want.len || memcmp(b, want.p, want.len) != 0) {
        FILE *out = fopen(SLT_BIN_DIR "/../CONFIG.keys.md", "w");

        if (out) {
            fwrite(want.p, 1, want.len, out);
            fclose(out);
        }
        fail_msg("docs/CONFIG.md is out of date: replace its key reference with %s",
                 SLT_BIN_DIR "/../CONFIG.keys.md");
    }
    /* and every key has a help text and a row */
    for (i = 0; i < nkeys; i++) {
        char row[128];

        assert_non_null(keys[i].help);
        snprintf(row, sizeof(row), "| `%s` |", keys[i].name);
        assert_non_null(strstr(b, row));
    }
    slt_buf_release(&want);
    slt_buf_release(&doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_example_loads),
        cmocka_unit_test(test_defaults_are_applied_when_sections_are_absent),
        cmocka_unit_test(test_agent_and_aggregator_sections_set_every_key),
        cmocka_unit_test(test_an_empty_value_keeps_the_default),
        cmocka_unit_test(test_a_single_aggregator_string_is_a_list_of_one),
        cmocka_unit_test(test_empty_config_loads_with_defaults),
        cmocka_unit_test(test_unknown_input_names_the_value),
        cmocka_unit_test(test_unknown_key_in_sli_names_the_key),
        cmocka_unit_test(test_unknown_key_in_agent_and_top_level),
        cmocka_unit_test(test_bad_format_regex_gives_pcre2_offset),
        cmocka_unit_test(test_bad_condition_regex_gives_pcre2_offset),
        cmocka_unit_test(test_duplicate_names_are_rejected),
        cmocka_unit_test(test_format_needs_exactly_one_of_regex_and_json),
        cmocka_unit_test(test_unknown_format_lists_the_builtins),
        cmocka_unit_test(test_unknown_field_for_the_format_is_rejected),
        cmocka_unit_test(test_latency_on_a_format_without_latency_is_rejected),
        cmocka_unit_test(test_bad_durations_and_sizes_are_rejected),
        cmocka_unit_test(test_objective_must_be_strictly_between_0_and_100),
        cmocka_unit_test(test_alerting_is_off_by_default),
        cmocka_unit_test(test_alerting_sets_every_key_and_sorts_labels),
        cmocka_unit_test(test_alerting_urls_and_labels_are_checked),
        cmocka_unit_test(test_http_url_parse_splits_host_port_and_path),
        cmocka_unit_test(test_addresses_are_checked),
        cmocka_unit_test(test_slo_window_must_fit_the_day_retention),
        cmocka_unit_test(test_missing_required_key_points_at_the_entry),
        cmocka_unit_test(test_sli_input_may_be_left_out_only_with_one_input),
        cmocka_unit_test(test_yaml_syntax_errors_have_a_position),
        cmocka_unit_test(test_deep_nesting_and_anchor_floods_are_refused_quickly),
        cmocka_unit_test(test_wrong_types_say_what_was_expected),
        cmocka_unit_test(test_duplicate_keys_are_rejected),
        cmocka_unit_test(test_load_file_reports_the_path),
        cmocka_unit_test(test_default_config_has_availability_and_latency),
        cmocka_unit_test(test_alloc_failures_never_crash),
        cmocka_unit_test(test_config_md_key_reference_matches_the_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Prometheus text format: label escaping and the aggregator's own metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "metrics_prom.h"
#include "slt/common.h"
#include "stats.h"

static void test_aggregator_stats_render_every_family_once(void **state)
{
    struct slt_aggr_stats st;
    struct slt_buf b;

    (void)state;
    memset(&st, 0, sizeof(st));
    st.batches_applied = 5;
    st.batches_gap = 2;
    st.connected_agents = 3;
    st.redis_latency_bucket[0] = 1; /* cumulative, as stats.h says */
    st.redis_latency_bucket[11] = 4;
    st.redis_latency_count = 4;
    st.redis_latency_sum = 0.5;
    st.alerts_firing = 2;
    st.alert_notifications_sent[SLT_ALERT_TARGET_ALERTMANAGER] = 9;
    st.alert_notifications_failed[SLT_ALERT_TARGET_WEBHOOK] = 4;
    slt_buf_init(&b, 1 << 20);
    assert_int_equal(slt_prom_aggr_stats(&b, &st), 0);
    assert_int_equal(slt_buf_append(&b, "", 1), 0);
    assert_non_null(strstr(b.p, "slitail_aggregator_batches_total{outcome=\"applied\"} 5\n"));
    assert_non_null(strstr(b.p, "slitail_aggregator_batches_total{outcome=\"gap\"} 2\n"));
    assert_non_null(strstr(b.p, "slitail_aggregator_connected_agents 3\n"));
    assert_non_null(strstr(b.p, "# TYPE slitail_aggregator_redis_latency_seconds histogram\n"));
    assert_non_null(
        strstr(b.p, "slitail_aggregator_redis_latency_seconds_bucket{le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(b.p, "slitail_aggregator_redis_latency_seconds_bucket{le=\"2.5\"} 4\n"));
    assert_non_null(
        strstr(b.p, "slitail_aggregator_redis_latency_seconds_bucket{le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(b.p, "slitail_aggregator_redis_latency_seconds_count 4\n"));
    assert_non_null(strstr(b.p, "slitail_alerts_firing 2\n"));
    assert_non_null(strstr(
        b.p, "slitail_alert_notifications_total{target=\"alertmanager\",outcome=\"sent\"} 9\n"));
    assert_non_null(strstr(
        b.p, "slitail_alert_notifications_total{target=\"webhook\",outcome=\"failed\"} 4\n"));
    /* one TYPE line per family */
    {
        const char *p = b.p;
        int n = 0;

        while ((p = strstr(p, "# TYPE slitail_aggregator_batches_total ")) != NULL) {
            n++;
            p++;
        }
        assert_int_equal(n, 1);
    }
    slt_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregator_stats_render_every_family_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

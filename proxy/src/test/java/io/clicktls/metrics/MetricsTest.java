package io.clicktls.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.clicktls.testing.KnownSeries;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class MetricsTest {

    private final Metrics metrics = new Metrics();

    @Test
    void handshakeDurationLandsInMillisecondBuckets() {
        metrics.handshakeDuration(Duration.ofMillis(3).toNanos());

        String scrape = metrics.scrape();
        assertThat(scrape)
                .contains("# HELP clicktls_tls_handshake_seconds ")
                .contains("clicktls_tls_handshake_seconds_bucket{le=\"0.002\"} 0")
                .contains("clicktls_tls_handshake_seconds_bucket{le=\"0.005\"} 1")
                .contains("clicktls_tls_handshake_seconds_count 1");
    }

    @Test
    void everyHandshakeBucketFromOneMillisecondToTenSecondsIsExposed() {
        String scrape = metrics.scrape();

        assertThat(Metrics.HANDSHAKE_BUCKETS).first().isEqualTo(Duration.ofMillis(1));
        assertThat(Metrics.HANDSHAKE_BUCKETS).last().isEqualTo(Duration.ofSeconds(10));
        for (Duration bucket : Metrics.HANDSHAKE_BUCKETS) {
            assertThat(scrape)
                    .contains("clicktls_tls_handshake_seconds_bucket{le=\"" + (bucket.toNanos() / 1e9) + "\"}");
        }
    }

    @Test
    void cacheHookExposesHitsAndMissesUnderTheCacheName() {
        Cache<String, String> cache =
                Caffeine.newBuilder().recordStats().maximumSize(10).build();
        metrics.cache("ask_decisions", cache);
        metrics.cache("ask_decisions", cache); // a second call is ignored, not an error

        cache.put("a", "1");
        cache.getIfPresent("a");
        cache.getIfPresent("b");

        assertThat(metrics.scrape())
                .contains("cache_gets_total{cache=\"ask_decisions\",result=\"hit\"} 1.0")
                .contains("cache_gets_total{cache=\"ask_decisions\",result=\"miss\"} 1.0")
                .contains("cache_size{cache=\"ask_decisions\"} 1.0");
    }

    @Test
    void rejectedReloadTurnsTheLastReloadGaugeToZeroUntilAnAcceptedOne() {
        assertThat(metrics.scrape()).contains("clicktls_config_last_reload_successful 1.0");

        metrics.configReload("rejected");
        assertThat(metrics.scrape())
                .contains("clicktls_config_last_reload_successful 0.0")
                .contains("clicktls_config_reloads_total{result=\"rejected\"} 1.0");

        metrics.configReload("ok");
        assertThat(metrics.scrape()).contains("clicktls_config_last_reload_successful 1.0");
    }

    @Test
    void runtimeBindersAddJvmAndProcessSeriesOnceAndCloseCleanly() {
        metrics.bindRuntime();
        metrics.bindRuntime();

        String scrape = metrics.scrape();
        assertThat(scrape)
                .contains("jvm_memory_used_bytes")
                .contains("jvm_threads_live_threads")
                .contains("jvm_memory_usage_after_gc{area=\"heap\",pool=\"long-lived\"}")
                .contains("process_cpu_seconds_total")
                .contains("system_cpu_cores")
                .doesNotContain("process_cpu_time_ns_total")
                .doesNotContain("system_cpu_count ");
        metrics.close();
    }

    @Test
    void everySeriesWithLabelValuesKnownInAdvanceIsExportedAtZeroFromTheStart() {
        String scrape = metrics.scrape();

        assertThat(scrape).contains(KnownSeries.atZero());
        assertThat(scrape)
                .contains("clicktls_config_reloads_total{result=\"ok\"} 0.0")
                .contains("clicktls_config_reloads_total{result=\"rejected\"} 0.0")
                .contains("clicktls_certificates_issued_total{result=\"ok\"} 0.0")
                .contains("clicktls_certificates_issued_total{result=\"failed\"} 0.0")
                .contains("clicktls_admin_actions_total{action=\"renew\"} 0.0")
                .contains("clicktls_client_errors_total{kind=\"http2\"} 0.0")
                .contains("clicktls_unexpected_errors_total 0.0")
                .contains("clicktls_connections_refused_total{reason=\"max_connections\"} 0.0")
                .contains("clicktls_connections_refused_total{reason=\"max_connections_per_client\"} 0.0")
                .contains("clicktls_accept_errors_total{reason=\"out_of_descriptors\"} 0.0")
                .contains("clicktls_connections{listener=\"https\"} 0.0")
                .contains("clicktls_connections{listener=\"http\"} 0.0");
    }

    @Test
    void openConnectionsGaugeFollowsOpensAndClosesPerListener() {
        metrics.connectionOpened("https");
        metrics.connectionOpened("https");
        metrics.connectionOpened("http");
        metrics.connectionClosed("https");

        assertThat(metrics.scrape())
                .contains("clicktls_connections{listener=\"https\"} 1.0")
                .contains("clicktls_connections{listener=\"http\"} 1.0");
    }
}

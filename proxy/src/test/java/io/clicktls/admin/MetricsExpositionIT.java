package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.testing.KnownSeries;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Real scrapes of a node, before and after it served some traffic, checked by Prometheus' own linter. */
class MetricsExpositionIT {

    @TempDir
    Path dir;

    @RegisterExtension
    final StandInNode site = StandInNode.startingFrom(platform ->
            RunningNode.config(dir).platform("stand-in", platform.port()).domains("stand-in", "links.example.test"));

    /**
     * A scrape of a node that has served nothing yet: every series whose labels are known in advance is already
     * there at 0 (Prometheus' "avoid missing metrics": {@code rate()} and alerts on a series that appears only with
     * its first event miss that event), and promtool accepts the exposition.
     */
    @Test
    void everySeriesKnownInAdvanceIsScrapedAtZeroRightAfterStartAndPassesPromtool() throws Exception {
        String scrape = scrape();

        assertThat(scrape).contains(KnownSeries.atZero());
        assertThat(scrape).contains(KnownSeries.storageAtZero("file"));
        assertThat(scrape)
                .contains("clicktls_connections{listener=\"https\"} 0.0")
                .contains("clicktls_connections{listener=\"http\"} 0.0")
                .containsPattern("clicktls_connections_limit \\d+")
                .contains("clicktls_unexpected_errors_total 0.0")
                .contains("clicktls_certificate_issuance_seconds_count 0")
                .contains("clicktls_upstream_seconds_count 0")
                .contains("clicktls_tls_handshake_seconds_count 0")
                // the configured issuer (the internal CA here) and the issuer of certificates no longer configured
                .contains("clicktls_certificate_issuance_failures_total{issuer=\"internal\",reason=\"outage\"} 0.0")
                .contains("clicktls_certificate_issuance_failures_total{issuer=\"internal\",reason=\"other\"} 0.0")
                .contains("clicktls_certificates_stored{issuer=\"internal\",state=\"valid\"} 0.0")
                .contains("clicktls_certificates_stored{issuer=\"other\",state=\"expired\"} 0.0");

        ExternalTool.Run lint = ExternalTool.PROMTOOL.require().run(scrape, 30, "check", "metrics");
        assertThat(lint.output()).as("promtool check metrics").isEmpty();
        assertThat(lint.exitCode()).isZero();
    }

    @Test
    void scrapeAfterTrafficPassesPromtoolWithoutAComplaint() throws Exception {
        ExternalTool promtool = ExternalTool.PROMTOOL.require();
        assertThat(site.node().https("links.example.test", "/ls/click?upn=a").status())
                .isEqualTo(302);
        site.node().https("links.example.test", "/page");
        site.node().https("unknown.example.test", "/");
        site.node().http("links.example.test", "/ls/click?upn=b");

        String scrape = scrape();
        ExternalTool.Run lint = promtool.run(scrape, 30, "check", "metrics");

        assertThat(lint.output()).as("promtool check metrics").isEmpty();
        assertThat(lint.exitCode()).isZero();
        assertThat(scrape)
                .contains("# HELP clicktls_tls_handshakes_total ")
                .contains("clicktls_tls_handshake_seconds_bucket{le=\"0.001\"}")
                .contains("clicktls_tls_handshake_seconds_bucket{le=\"10.0\"}")
                .contains("jvm_memory_used_bytes")
                .contains("jvm_gc_")
                .contains("jvm_memory_usage_after_gc{area=\"heap\",pool=\"long-lived\"}")
                .contains("jvm_threads_live_threads")
                .contains("jvm_classes_loaded_classes")
                .contains("process_cpu_usage")
                .contains("process_uptime_seconds")
                .contains("netty_allocator_memory_used")
                .contains("netty_eventexecutor_tasks_pending")
                .containsPattern("clicktls_tls_handshake_seconds_count 2\\b") // the two served, not the refused
                .contains("cache_size{cache=\"certificates\"} 1.0")
                .contains("cache_gets_total{cache=\"certificates\",result=\"hit\"}")
                .contains("cache_size{cache=\"issuance_failures\"}")
                .contains("cache_size{cache=\"ask_decisions\"}")
                .doesNotContain("links.example.test");
        assertEveryFamilyHasHelp(scrape);
    }

    private static void assertEveryFamilyHasHelp(String scrape) {
        for (String line : scrape.split("\n")) {
            if (line.startsWith("# TYPE ")) {
                String family = line.split(" ")[2];
                assertThat(scrape).as("HELP for " + family).containsPattern("# HELP " + family + " \\S");
            }
        }
    }

    private String scrape() throws Exception {
        HttpResponse<String> response = site.node().adminGet("/metrics");
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }
}

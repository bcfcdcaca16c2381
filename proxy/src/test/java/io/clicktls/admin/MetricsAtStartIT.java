package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.ClickTlsServer;
import io.clicktls.config.ConfigLoader;
import io.clicktls.metrics.Metrics;
import io.clicktls.testing.StandInPlatform;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A scrape of a node that has served nothing yet: every series whose labels are known in advance is already there
 * at 0 (Prometheus' "avoid missing metrics": {@code rate()} and alerts on a series that appears only with its first
 * event miss that event), and promtool accepts the exposition.
 */
class MetricsAtStartIT {

    @TempDir
    Path dir;

    private StandInPlatform platform;
    private ClickTlsServer server;

    @BeforeEach
    void start() throws Exception {
        platform = StandInPlatform.start();
        Path config = dir.resolve("clicktls.yml");
        Files.writeString(
                config,
                """
                listen:
                  https: 127.0.0.1:0
                  http: 127.0.0.1:0
                  admin: 127.0.0.1:0
                storage:
                  directory: data
                platforms:
                  stand-in:
                    upstream: http://127.0.0.1:%d
                domains:
                  - name: links.example.test
                    platform: stand-in
                """
                        .formatted(platform.port()));
        server = ClickTlsServer.start(ConfigLoader.load(config), null);
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        platform.close();
    }

    @Test
    void everySeriesKnownInAdvanceIsScrapedAtZeroRightAfterStartAndPassesPromtool() throws Exception {
        String scrape = scrape();

        for (String kind : Metrics.UPGRADE_KINDS) {
            assertThat(scrape).contains("clicktls_links_upgraded_total{kind=\"" + kind + "\"} 0.0");
        }
        for (String reason : Metrics.DENIAL_REASONS) {
            assertThat(scrape).contains("clicktls_on_demand_denied_total{reason=\"" + reason + "\"} 0.0");
        }
        for (String result : Metrics.HANDSHAKE_RESULTS) {
            assertThat(scrape).contains("clicktls_tls_handshakes_total{result=\"" + result + "\"} 0.0");
        }
        for (String result : Metrics.RELOAD_RESULTS) {
            assertThat(scrape).contains("clicktls_config_reloads_total{result=\"" + result + "\"} 0.0");
        }
        for (String result : Metrics.ISSUANCE_RESULTS) {
            assertThat(scrape).contains("clicktls_certificates_issued_total{result=\"" + result + "\"} 0.0");
        }
        for (String action : Metrics.ADMIN_ACTIONS) {
            assertThat(scrape).contains("clicktls_admin_actions_total{action=\"" + action + "\"} 0.0");
        }
        for (String kind : Metrics.CLIENT_ERROR_KINDS) {
            assertThat(scrape).contains("clicktls_client_errors_total{kind=\"" + kind + "\"} 0.0");
        }
        for (String reason : Metrics.REFUSAL_REASONS) {
            assertThat(scrape).contains("clicktls_connections_refused_total{reason=\"" + reason + "\"} 0.0");
        }
        for (String reason : Metrics.ACCEPT_ERROR_REASONS) {
            assertThat(scrape).contains("clicktls_accept_errors_total{reason=\"" + reason + "\"} 0.0");
        }
        assertThat(scrape)
                .contains("clicktls_connections{listener=\"https\"} 0.0")
                .contains("clicktls_connections{listener=\"http\"} 0.0")
                .containsPattern("clicktls_connections_limit \\d+")
                .contains("clicktls_unexpected_errors_total 0.0")
                .contains("clicktls_certificate_issuance_seconds_count 0")
                .contains("clicktls_upstream_seconds_count 0")
                .contains("clicktls_tls_handshake_seconds_count 0");

        ExternalTool.Run lint = ExternalTool.PROMTOOL.require().run(scrape, 30, "check", "metrics");
        assertThat(lint.output()).as("promtool check metrics").isEmpty();
        assertThat(lint.exitCode()).isZero();
    }

    private String scrape() throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.adminPort() + "/metrics"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }
}

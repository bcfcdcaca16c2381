package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.ClickTlsServer;
import io.clicktls.config.ConfigLoader;
import io.clicktls.testing.Curl;
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

/** A real scrape of a node that has served some traffic, checked by Prometheus' own linter. */
class MetricsExpositionIT {

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
    void scrapeAfterTrafficPassesPromtoolWithoutAComplaint() throws Exception {
        ExternalTool promtool = ExternalTool.PROMTOOL.require();
        Path root = dir.resolve("data/ca/root.pem");
        assertThat(Curl.https(root, server.httpsPort(), "links.example.test", "/ls/click?upn=a")
                        .status())
                .isEqualTo(302);
        Curl.https(root, server.httpsPort(), "links.example.test", "/page");
        Curl.https(root, server.httpsPort(), "unknown.example.test", "/");
        Curl.http(server.httpPort(), "links.example.test", "/ls/click?upn=b");

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
        HttpResponse<String> response = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.adminPort() + "/metrics"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }
}

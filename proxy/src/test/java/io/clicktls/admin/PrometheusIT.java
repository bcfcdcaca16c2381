package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.LocalServers;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The files in {@code docker/} as an operator uses them: promtool accepts the rules, their unit tests and the
 * scrape config; a real Prometheus scrapes a node through its bearer token, loads the rules and can query the
 * series; every series the dashboard and the alerts name exists in a real scrape.
 */
class PrometheusIT {

    private static final String TOKEN = "prometheus-it-token-0123456789";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SERIES_NAME = Pattern.compile("\\b((?:clicktls|jvm|process|netty|system)_[a-z_]+)");

    @TempDir
    Path dir;

    private final HttpClient client = HttpClient.newHttpClient();
    private Process prometheus;

    @RegisterExtension
    final StandInNode site = StandInNode.startingFrom(platform -> config("links.example.test"));

    private RunningNode.Config config(String... domains) {
        return RunningNode.config(dir)
                .set("admin.token", TOKEN)
                // two issuers, so that the series of a fallback exist; the second is never asked (the first issues)
                .set("certificates.issuers", "[internal, {name: spare, directory: \"http://127.0.0.1:9/directory\"}]")
                .platform("stand-in", site.platform().port())
                .domains("stand-in", domains);
    }

    @AfterEach
    void stop() throws Exception {
        if (prometheus != null) {
            prometheus.destroy();
            if (!prometheus.waitFor(5, TimeUnit.SECONDS)) {
                prometheus.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    private static Path docker() {
        String root = System.getenv("CLICKTLS_REPO_ROOT");
        Path base = root != null ? Path.of(root) : Path.of("..");
        return base.resolve("docker").toAbsolutePath().normalize();
    }

    @Test
    void promtoolAcceptsTheRulesTheirTestsAndTheScrapeConfig() throws Exception {
        ExternalTool promtool = ExternalTool.PROMTOOL.require();

        ExternalTool.Run rules = promtool.run(
                null, 30, "check", "rules", docker().resolve("alerts.yml").toString());
        ExternalTool.Run tests = promtool.run(
                null, 60, "test", "rules", docker().resolve("alerts-test.yml").toString());
        ExternalTool.Run config = promtool.run(
                null, 30, "check", "config", docker().resolve("prometheus.yml").toString());

        assertThat(rules.exitCode()).as(rules.output()).isZero();
        assertThat(rules.output()).contains("SUCCESS: 11 rules found");
        assertThat(tests.exitCode()).as(tests.output()).isZero();
        assertThat(config.exitCode()).as(config.output()).isZero();
    }

    @Test
    void realPrometheusScrapesTheNodeWithItsTokenAndLoadsTheAlertRules() throws Exception {
        ExternalTool binary = ExternalTool.PROMETHEUS.require();
        site.node().https("links.example.test", "/open.gif");
        int port = LocalServers.freePort();
        Path config = dir.resolve("prometheus.yml");
        Files.writeString(
                config,
                """
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                rule_files:
                  - %s
                scrape_configs:
                  - job_name: clicktls
                    authorization:
                      type: Bearer
                      credentials: %s
                    static_configs:
                      - targets: ["127.0.0.1:%d"]
                """
                        .formatted(
                                docker().resolve("alerts.yml"),
                                TOKEN,
                                site.node().adminPort()));
        Path storage = Files.createDirectories(dir.resolve("tsdb"));
        prometheus = binary.start(
                dir.resolve("prometheus.log"),
                "--config.file=" + config,
                "--storage.tsdb.path=" + storage,
                "--web.listen-address=127.0.0.1:" + port);

        JsonNode target = await(Duration.ofSeconds(40), "prometheus scrapes the node", () -> {
            JsonNode targets = api(port, "/api/v1/targets");
            JsonNode first = targets == null ? null : targets.at("/data/activeTargets/0");
            return first != null && "up".equals(first.path("health").asText()) ? first : null;
        });
        JsonNode series = await(Duration.ofSeconds(20), "prometheus has the handshake series", () -> {
            JsonNode result = api(
                    port,
                    "/api/v1/query?query="
                            + URLEncoder.encode("clicktls_tls_handshakes_total > 0", StandardCharsets.UTF_8));
            return result != null && result.at("/data/result").size() > 0 ? result : null;
        });
        JsonNode rules = api(port, "/api/v1/rules");

        assertThat(target.path("labels").path("job").asText()).isEqualTo("clicktls");
        assertThat(series.at("/data/result/0/metric/result").asText()).isEqualTo("ok");
        assertThat(rules.at("/data/groups/0/name").asText()).isEqualTo("clicktls");
        assertThat(rules.at("/data/groups/0/rules")).hasSize(11);
        assertThat(rules.at("/data/groups/0/rules").findValuesAsText("health")).containsOnly("ok");
    }

    @Test
    void everySeriesTheDashboardAndAlertsNameExistsInARealScrape() throws Exception {
        site.node().https("links.example.test", "/open.gif");
        site.node().https("links.example.test", "/page");
        site.node().https("not-configured.example.test", "/");
        site.node().http("links.example.test", "/ls/click");
        config("links.example.test", "other.example.test").write();
        await(
                Duration.ofSeconds(5),
                "the node reloaded its config",
                () -> scrape().contains("clicktls_config_reloads_total{result=\"ok\"} 1.0") ? Boolean.TRUE : null);
        // jvm_gc_pause_seconds exists once a collection has been reported, which the JVM does asynchronously
        String scrape = await(Duration.ofSeconds(10), "a GC pause is reported", () -> {
            System.gc();
            String text = scrape();
            return text.contains("jvm_gc_pause_seconds_sum") ? text : null;
        });
        Set<String> named = new TreeSet<>();
        collect(Files.readString(docker().resolve("grafana-dashboard.json")), named);
        collect(Files.readString(docker().resolve("alerts.yml")), named);

        assertThat(named)
                .contains(
                        "clicktls_tls_handshake_seconds_bucket",
                        "clicktls_requests_total",
                        "clicktls_certificate_expiry_earliest_seconds",
                        "clicktls_config_last_reload_successful");
        for (String name : named) {
            assertThat(scrape).as("a series named " + name).containsPattern("(?m)^" + name + "[{ ]");
        }
        JsonNode dashboard =
                JSON.readTree(docker().resolve("grafana-dashboard.json").toFile());
        assertThat(dashboard.get("panels").size()).isGreaterThan(10);
        assertThat(dashboard.findValuesAsText("description")).doesNotContain("");
    }

    private static void collect(String text, Set<String> names) {
        Matcher matcher = SERIES_NAME.matcher(text);
        while (matcher.find()) {
            names.add(matcher.group(1));
        }
    }

    private String scrape() throws Exception {
        HttpResponse<String> response = site.node().adminGet("/metrics", "Authorization", "Bearer " + TOKEN);
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }

    private JsonNode api(int port, String path) {
        try {
            HttpResponse<String> response = client.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                            .timeout(Duration.ofSeconds(2))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            return response.statusCode() == 200 ? JSON.readTree(response.body()) : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** {@link Eventually#value}, failing at once when Prometheus exits, and with its log when time runs out. */
    private <T> T await(Duration limit, String what, Eventually.Probe<T> probe) throws Exception {
        Path log = dir.resolve("prometheus.log");
        try {
            return Eventually.value(limit, what, () -> {
                if (prometheus != null && !prometheus.isAlive()) {
                    throw new IllegalStateException("prometheus exited: " + Files.readString(log));
                }
                return probe.get();
            });
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + (prometheus == null ? "" : "\n" + Files.readString(log)), e);
        }
    }
}

package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.clicktls.admin.ChallTestDns;
import io.clicktls.storage.StorageKeys;
import io.clicktls.storage.postgres.PostgresSettings;
import io.clicktls.testing.Curl;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.PostgresServer;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInPlatform;
import java.math.BigInteger;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two nodes on a real PostgreSQL (internal CA), the database stopped for 30 s while clicks keep coming: every click
 * on a stored name is served, a new name is refused cleanly (the handshake with an alert, plain http proxied) with
 * the reason on {@code /healthz}, the status API and the metrics, a node restarted meanwhile serves from its local
 * copy, and everything recovers by itself once the database is back.
 */
class DatabaseOutageIT {

    private static final Duration OUTAGE = Duration.ofSeconds(30);
    private static final List<String> STORED = List.of("a.shop.test", "b.shop.test");
    private static final ObjectMapper JSON = new ObjectMapper();

    // the status API checks DNS for the names it shows: never the real DNS
    @RegisterExtension
    static final ChallTestDns.PerClass dns = ChallTestDns.perClass();

    @TempDir
    Path dir;

    @Test
    void storedNamesAreServedThroughAnOutageANewNameWaitsForItAndARestartedNodeServesFromItsCopy() throws Exception {
        try (PostgresServer database = PostgresServer.start(dir.resolve("pg"));
                StandInPlatform platform = StandInPlatform.start()) {
            PostgresSettings settings = database.freshSettings();
            try (RunningNode nodeA = node("a", settings, platform);
                    RunningNode nodeB = node("b", settings, platform)) {
                Path root = internalRoot(database, settings);
                nodeA.trust(root);
                nodeB.trust(root);
                throughAnOutage(database, settings, nodeA, nodeB);
            }
        }
    }

    private void throughAnOutage(
            PostgresServer database, PostgresSettings settings, RunningNode nodeA, RunningNode nodeB) throws Exception {
        for (String name : STORED) {
            assertThat(nodeA.https(name, "/open.gif").status()).isEqualTo(200);
        }
        assertThat(nodeB.https("a.shop.test", "/open.gif").status())
                .as("read from the database")
                .isEqualTo(200);
        BigInteger serial = serial(nodeA, "a.shop.test");

        ConcurrentLinkedQueue<String> results = new ConcurrentLinkedQueue<>();
        AtomicBoolean clicking = new AtomicBoolean(true);
        List<Thread> clickers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            String name = STORED.get(i % STORED.size());
            Thread clicker = new Thread(() -> {
                while (clicking.get()) {
                    results.add(outcome(() -> nodeA.https(name, "/open.gif")));
                }
            });
            clicker.start();
            clickers.add(clicker);
        }

        Eventually.holds(Duration.ofSeconds(10), "clicks before the outage", () -> results.size() >= 3);
        database.stop();
        long outageStart = System.nanoTime();

        String health = Eventually.value(Duration.ofSeconds(20), "node A sees the outage", () -> {
            String body = nodeA.adminGet("/healthz").body();
            return body.startsWith("degraded: ") ? body : null;
        });
        assertThat(health).startsWith("degraded: PostgreSQL at " + settings.url() + " unreachable since ");
        assertThat(nodeA.adminGet("/healthz").statusCode()).isEqualTo(200);

        Curl.Result refused = nodeA.https("new.shop.test", "/open.gif");
        assertThat(refused.exitCode())
                .as("no certificate while the database is down")
                .isNotZero();
        assertThat(refused.stderr()).contains("alert internal error");
        assertThat(nodeA.http("new.shop.test", "/open.gif").status())
                .as("plain http keeps working")
                .isEqualTo(200);
        String scrape = nodeA.adminGet("/metrics").body();
        assertThat(series(scrape, "clicktls_on_demand_denied_total{reason=\"storage_unavailable\"}"))
                .isGreaterThanOrEqualTo(1);
        assertThat(series(scrape, "clicktls_storage_up{backend=\"postgres\"}")).isZero();
        assertThat(series(scrape, "clicktls_storage_errors_total{backend=\"postgres\",operation=\"load\"}"))
                .isGreaterThanOrEqualTo(1);
        JsonNode page =
                JSON.readTree(nodeA.adminGet("/api/domains?q=new.shop.test").body());
        assertThat(page.get("degraded").asText()).contains("PostgreSQL", "new certificates wait");
        assertThat(page.at("/orders_in_flight/unavailable").asText())
                .as("the orders in flight on other nodes cannot be listed, and the page says so")
                .contains("PostgreSQL");
        HttpResponse<String> status = nodeA.adminGet("/status");
        assertThat(status.statusCode()).isEqualTo(200);
        assertThat(status.body()).contains("Orders in flight on other nodes are not shown: ", "a.shop.test");

        nodeB.restart();
        for (int i = 0; i < 5; i++) {
            Curl.Result click = nodeB.https("a.shop.test", "/open.gif");
            assertThat(click.status()).as(click.stderr()).isEqualTo(200);
        }
        assertThat(serial(nodeB, "a.shop.test"))
                .as("the certificate it served before, from its local copy")
                .isEqualTo(serial);
        assertThat(nodeB.adminGet("/healthz").body()).contains("not connected since the node started");

        long left = OUTAGE.toMillis()
                - Duration.ofNanos(System.nanoTime() - outageStart).toMillis();
        Thread.sleep(Math.max(0, left)); // the outage's length is the test's subject, not a guess at a wait
        database.restart();

        Duration recovered =
                Eventually.holds(Duration.ofSeconds(30), "node A recovers", () -> nodeA.adminGet("/healthz")
                        .body()
                        .equals("ok\n"));
        Curl.Result issued = nodeA.https("new.shop.test", "/open.gif");
        assertThat(issued.status()).as(issued.stderr()).isEqualTo(200);
        clicking.set(false);
        for (Thread clicker : clickers) {
            clicker.join();
        }
        Eventually.holds(Duration.ofSeconds(30), "node B connects", () -> nodeB.adminGet("/healthz")
                .body()
                .equals("ok\n"));
        assertThat(nodeB.https("new.shop.test", "/open.gif").status())
                .as("read from the database again")
                .isEqualTo(200);
        assertThat(series(nodeA.adminGet("/metrics").body(), "clicktls_storage_up{backend=\"postgres\"}"))
                .isEqualTo(1);

        Map<String, Integer> counts = new TreeMap<>();
        results.forEach(result -> counts.merge(result, 1, Integer::sum));
        System.out.println("clicks on stored names through the outage: " + counts + "; node A healthy again "
                + recovered.toMillis() + " ms after the database was back");
        assertThat(counts).containsOnlyKeys("200");
        assertThat(counts.get("200")).as("clicks made").isGreaterThanOrEqualTo(20);
    }

    private RunningNode node(String name, PostgresSettings settings, StandInPlatform platform) throws Exception {
        Path folder = Files.createDirectories(dir.resolve(name));
        return RunningNode.start(RunningNode.config(folder)
                .postgres(settings)
                .set("tuning.dns_server", dns.server().hostPort())
                .platform("stand-in", platform.port())
                .domains("stand-in", "*.shop.test"));
    }

    /** The internal CA's root, as the nodes made it in the database (not through their local copies). */
    private Path internalRoot(PostgresServer database, PostgresSettings settings) throws Exception {
        try (Connection connection = database.connect();
                PreparedStatement select = connection.prepareStatement(
                        "select value from " + settings.schema() + ".entry where key = ?")) {
            select.setString(1, StorageKeys.CA_ROOT);
            try (ResultSet row = select.executeQuery()) {
                assertThat(row.next()).as("the root in the database").isTrue();
                return Files.write(dir.resolve("root.pem"), row.getBytes(1));
            }
        }
    }

    /** What a click got: its status, or how curl failed. */
    private static String outcome(java.util.concurrent.Callable<Curl.Result> click) {
        try {
            Curl.Result result = click.call();
            return result.exitCode() == 0 ? String.valueOf(result.status()) : "curl " + result.exitCode();
        } catch (Exception e) {
            return e.toString();
        }
    }

    private static BigInteger serial(RunningNode node, String name) {
        return node.server().certificates().cached(name).orElseThrow().leaf().getSerialNumber();
    }

    private static double series(String scrape, String series) {
        Matcher value =
                Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(scrape);
        assertThat(value.find()).as(series + " in\n" + scrape).isTrue();
        return Double.parseDouble(value.group(1));
    }
}

package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.clicktls.admin.ChallTestDns;
import io.clicktls.certificates.CertificatePrefetch;
import io.clicktls.certificates.RenewalScheduler;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.PerClass;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInPlatform;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exact names listed in {@code domains} get their certificates before anyone connects: a whole node with the
 * internal CA, config reloads through the file, the result read from storage and {@code /api/domains}; never a
 * handshake. Wildcard entries and {@code prefetch: false} get nothing; a name whose DNS does not lead here waits, with
 * the reason on the API, and is issued once it does (pebble-challtestsrv as the DNS server).
 */
class PrefetchIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration ISSUED_WITHIN = Duration.ofSeconds(30);
    /** Retries quick enough for a test; the DNS check's own cache (5 s at least) still applies. */
    private static final CertificatePrefetch.Settings QUICK =
            new CertificatePrefetch.Settings(2, Duration.ofMillis(500), Duration.ofSeconds(2));

    @RegisterExtension
    static final PerClass<StandInPlatform> platform = PerClass.of(StandInPlatform::start);

    @TempDir
    Path dir;

    private RunningNode node;

    @AfterEach
    void stopNode() {
        if (node != null) {
            node.close();
        }
    }

    private RunningNode start(RunningNode.Config config) throws Exception {
        node = RunningNode.start(
                config,
                c -> ClickTlsServer.start(c, null, Clock.systemUTC(), RenewalScheduler.Settings.DEFAULTS, QUICK));
        return node;
    }

    private RunningNode.Config config() {
        return RunningNode.config(dir).platform("stand-in", platform.get().port());
    }

    @Test
    void aReloadThatAddsThreeExactNamesGetsThreeCertificatesWithoutAHandshake() throws Exception {
        RunningNode.Config config = config().domains("stand-in", "first.prefetch.test", "*.wild.prefetch.test");
        start(config);
        awaitStored("first.prefetch.test");

        List<String> added = List.of("a.prefetch.test", "b.prefetch.test", "c.prefetch.test");
        config.domains("stand-in", added.toArray(String[]::new)).replace();

        for (String name : added) {
            awaitStored(name);
            JsonNode status = domain(name);
            assertThat(status.path("state").asText()).as(name).isEqualTo("valid");
            assertThat(status.path("certificate").path("not_after").isTextual())
                    .as(name)
                    .isTrue();
        }
        // the wildcard pattern stays on demand: nothing under it, nothing for the pattern
        assertThat(storedNames())
                .containsExactlyInAnyOrder(
                        "first.prefetch.test", "a.prefetch.test", "b.prefetch.test", "c.prefetch.test");
        assertThat(scrape()).contains("clicktls_tls_handshakes_total{result=\"ok\"} 0.0");
    }

    @Test
    void prefetchFalseLeavesListedNamesToTheirFirstHandshakeUntilTurnedOn() throws Exception {
        RunningNode.Config config = config().set("certificates.on_demand.prefetch", "false")
                .domains("stand-in", "off.prefetch.test", "also-off.prefetch.test");
        start(config);
        // the point: a window in which prefetch, were it on, would have issued (it starts after the index scan, 2 s
        // after start); nothing marks that it did not
        Thread.sleep(5_000);
        assertThat(storedNames()).isEmpty();

        config.set("certificates.on_demand.prefetch", "true").replace();
        awaitStored("off.prefetch.test");
        awaitStored("also-off.prefetch.test");
    }

    @Test
    void aNameWhoseDnsPointsElsewhereWaitsWithItsReasonAndIsIssuedOnceItPointsHere() throws Exception {
        try (ChallTestDns dns = ChallTestDns.start()) {
            dns.addA("held.prefetch.test", "192.0.2.7");
            RunningNode.Config config = config().set("certificates.on_demand.expect_dns", "[127.0.0.1]")
                    .set("certificates.on_demand.dns_server", dns.hostPort())
                    .domains("stand-in", "ready.prefetch.test", "held.prefetch.test");
            start(config);

            awaitStored("ready.prefetch.test");
            JsonNode held = Eventually.value(ISSUED_WITHIN, "held.prefetch.test waits for DNS", () -> {
                JsonNode status = domain("held.prefetch.test");
                return status.path("hold").isObject() ? status : null;
            });
            assertThat(held.path("certificate").isNull()).isTrue();
            assertThat(held.path("state").asText()).isEqualTo("waiting_for_dns");
            assertThat(held.path("hold").path("kind").asText()).isEqualTo("dns");
            assertThat(held.path("hold").path("reason").asText())
                    .startsWith("waiting for DNS")
                    .contains("192.0.2.7");
            assertThat(held.path("hold").path("expected").toString()).isEqualTo("[\"127.0.0.1\"]");
            assertThat(Instant.parse(held.path("hold").path("until").asText()))
                    .as("when it is tried next")
                    .isAfter(Instant.now().minusSeconds(60));
            String page = node.adminGet("/status?q=held.prefetch.test").body();
            assertThat(page)
                    .contains("s-waiting_for_dns")
                    .contains("resolves to 192.0.2.7")
                    .contains("should lead to 127.0.0.1")
                    .contains("tried again ");
            assertThat(storedNames()).doesNotContain("held.prefetch.test");

            dns.addA("held.prefetch.test", "127.0.0.1");
            awaitStored("held.prefetch.test");
            JsonNode issued = domain("held.prefetch.test");
            assertThat(issued.path("state").asText()).isEqualTo("valid");
            assertThat(issued.path("hold").isNull()).isTrue();
        }
    }

    private void awaitStored(String name) throws Exception {
        Eventually.holds(
                ISSUED_WITHIN,
                name + " has a stored certificate",
                () -> Files.exists(
                        node.storage().resolve("certificates").resolve(name).resolve("meta.json")));
    }

    private List<String> storedNames() throws Exception {
        Path certificates = node.storage().resolve("certificates");
        if (!Files.isDirectory(certificates)) {
            return List.of();
        }
        try (Stream<Path> names = Files.list(certificates)) {
            return names.filter(path -> Files.exists(path.resolve("meta.json")))
                    .map(path -> path.getFileName().toString())
                    .toList();
        }
    }

    private JsonNode domain(String name) throws Exception {
        return JSON.readTree(node.adminGet("/api/domains/" + name).body());
    }

    private String scrape() throws Exception {
        return node.adminGet("/metrics").body();
    }
}

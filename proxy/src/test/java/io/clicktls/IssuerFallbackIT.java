package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.clicktls.certificates.RenewalScheduler;
import io.clicktls.testing.AcmeStandIn;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.LocalServers;
import io.clicktls.testing.MutableClock;
import io.clicktls.testing.Pebble;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInPlatform;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole node with two issuers in {@code certificates.issuers}: a first CA that rate-limits new orders (a stand-in
 * answering newOrder with RFC 8555's {@code rateLimited} and a Retry-After) before Pebble; a first Pebble that is down,
 * then back; a first CA whose directory does not offer the configured profile.
 */
class IssuerFallbackIT {

    private static final int HTTPS_PORT = LocalServers.freePort();
    private static final int HTTP_PORT = LocalServers.freePort();
    private static final Duration ISSUED_WITHIN = Duration.ofSeconds(60);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** What a test started, closed in reverse order after it. */
    private final Deque<AutoCloseable> started = new ArrayDeque<>();

    private RunningNode node;

    @AfterEach
    void closeWhatWasStarted() throws Exception {
        while (!started.isEmpty()) {
            started.pop().close();
        }
    }

    private <T extends AutoCloseable> T started(T resource) {
        started.push(resource);
        return resource;
    }

    /** Pebble validating against the node's listeners: a CA that issues. */
    private Pebble pebble() {
        return started(Pebble.builder().httpPort(HTTP_PORT).tlsPort(HTTPS_PORT).start());
    }

    /** The issuers {@code [first, second]} (YAML flow maps) in front of the stand-in platform, serving {@code name}. */
    private RunningNode.Config config(String first, String second, String name) throws Exception {
        StandInPlatform platform = started(StandInPlatform.start());
        return RunningNode.config(dir)
                .listeners(HTTPS_PORT, HTTP_PORT)
                .set("certificates.issuers", "[" + first + ", " + second + "]")
                .platform("stand-in", platform.port())
                .domains("stand-in", name);
    }

    /** An entry of {@code certificates.issuers} for a Pebble CA. */
    private static String issuer(String label, Pebble ca) {
        return "{name: " + label + ", directory: \"" + ca.directoryUrl() + "\", trusted_ca: \"" + ca.trustedCaFile()
                + "\", challenges: [http-01]}";
    }

    private static String issuer(String label, URI directory, String more) {
        return "{name: " + label + ", directory: \"" + directory + "\"" + more + "}";
    }

    @Test
    void aFirstIssuerThatRateLimitsNewOrdersLeavesTheNameToTheSecondWhichIsRecorded() throws Exception {
        AcmeStandIn first = started(AcmeStandIn.start("{}"));
        first.rateLimitNewOrders(Duration.ofHours(3));
        String name = "limited.fallback.test";
        node = started(
                RunningNode.start(config(issuer("first", first.directoryUrl(), ""), issuer("second", pebble()), name)));

        // listed exactly: issued ahead of the first click, through the same issuers a handshake would use
        awaitIssuedBy(name, "second");

        assertThat(first.newOrders())
                .as("the first issuer was asked, and rate-limited the order")
                .hasSize(1);
        JsonNode status = JSON.readTree(node.adminGet("/api/domains/" + name).body());
        assertThat(status.path("state").asText()).isEqualTo("valid");
        assertThat(status.path("certificate").path("issued_by").asText()).isEqualTo("second");
        assertThat(node.adminGet("/metrics").body())
                .contains("clicktls_certificate_issuance_failures_total{issuer=\"first\",reason=\"rate_limited\"} 1.0")
                .contains("clicktls_issuer_fallbacks_total{from=\"first\",to=\"second\"} 1.0")
                .contains("clicktls_certificates_stored{issuer=\"second\",state=\"valid\"}");
    }

    @Test
    void whileTheFirstCaIsDownTheSecondIssuesAndTheRenewalGoesBackToTheFirstOnceItIsUp() throws Exception {
        String name = "back.fallback.test";
        Pebble first = pebble();
        first.stop();
        MutableClock clock = new MutableClock(Instant.now());
        node = started(RunningNode.start(
                config(issuer("first", first), issuer("second", pebble()), name),
                c -> ClickTlsServer.start(c, null, clock, RenewalScheduler.Settings.DEFAULTS)));
        awaitIssuedBy(name, "second");

        first.start();
        clock.advance(Duration.ofMinutes(1)); // past the first issuer's outage backoff (30 s)
        HttpResponse<String> renew = node.adminSend("POST", "/api/domains/" + name + "/certificate", null);

        assertThat(renew.statusCode()).as(renew.body()).isLessThan(300);
        awaitIssuedBy(name, "first");
        assertThat(node.adminGet("/metrics").body())
                .contains("clicktls_certificate_issuance_failures_total{issuer=\"first\",reason=\"outage\"} 1.0")
                .contains("clicktls_issuer_fallbacks_total{from=\"first\",to=\"second\"} 1.0");
    }

    @Test
    void aProfileTheFirstDirectoryDoesNotOfferStopsTheStartNamingTheOfferedOnes() throws Exception {
        AcmeStandIn first =
                started(AcmeStandIn.start("{\"profiles\": {\"classic\": \"90 days\", \"tlsserver\": \"\"}}"));
        AcmeStandIn second = started(AcmeStandIn.start("{}"));
        RunningNode.Config config = config(
                issuer("first", first.directoryUrl(), ", profile: shortlived"),
                issuer("second", second.directoryUrl(), ""),
                "profile.fallback.test");

        assertThatThrownBy(() -> started(RunningNode.start(config)))
                .hasStackTraceContaining("certificates.issuers[0].profile: 'shortlived' is not offered by first")
                .hasStackTraceContaining("it offers: classic, tlsserver");
        assertThat(first.newOrders()).as("no order was placed").isEmpty();
    }

    /** Waits until the stored certificate of {@code name} (its meta.json) was signed by {@code issuer}. */
    private void awaitIssuedBy(String name, String issuer) throws Exception {
        Path meta = node.storage().resolve("certificates").resolve(name).resolve("meta.json");
        Eventually.holds(
                ISSUED_WITHIN,
                name + " has a certificate from " + issuer,
                () -> Files.exists(meta)
                        && issuer.equals(
                                JSON.readTree(meta.toFile()).path("issuer").asText()));
    }
}

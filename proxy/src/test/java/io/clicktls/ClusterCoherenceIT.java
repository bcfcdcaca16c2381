package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.clicktls.storage.Storage;
import io.clicktls.storage.StorageKeys;
import io.clicktls.storage.postgres.PostgresStorage;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.NodeCluster;
import io.clicktls.testing.RunningNode;
import java.io.IOException;
import java.math.BigInteger;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nodes sharing one PostgreSQL act as one: what one node issues, renews or forgets, every node serves or drops within
 * 2 s; a session ticket from one node resumes on another; and the order limit counts every node's orders.
 */
class ClusterCoherenceIT {

    private static final String NAME = "links.shop.test";
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    final NodeCluster cluster = new NodeCluster();

    /** Internal CA, a platform that is not there (a 502 is answer enough), the names listed, no issuing ahead. */
    private static RunningNode.Config shape(RunningNode.Config config, String... names) {
        return config.set("certificates.issuer", "internal")
                .set("certificates.on_demand.prefetch", "false")
                .platform("shop", 1)
                .domains("shop", names);
    }

    @Test
    void aRenewalAndAForgetOnNodeAAreSeenByNodeCWithinTwoSeconds() throws Exception {
        List<RunningNode> nodes = cluster.start(config -> shape(config, NAME), "a", "b", "c");
        RunningNode a = nodes.get(0);
        RunningNode c = nodes.get(2);
        BigInteger first = served(a, NAME);
        assertThat(served(c, NAME)).as("node C serves what node A issued").isEqualTo(first);

        HttpResponse<String> renew = a.adminSend("POST", "/api/domains/" + NAME + "/certificate", null);
        assertThat(renew.statusCode()).as(renew.body()).isEqualTo(202);
        BigInteger renewed = Eventually.value(Duration.ofSeconds(20), "node A renewed", () -> {
            BigInteger now = stored(NAME);
            return now == null || now.equals(first) ? null : now;
        });
        Eventually.holds(Duration.ofSeconds(2), "node C serves the renewed certificate", () -> served(c, NAME)
                .equals(renewed));
        assertThat(domain(c, NAME).at("/certificate/issued_by_node").asText()).isEqualTo("a");

        HttpResponse<String> forget = a.adminSend("DELETE", "/api/domains/" + NAME + "/certificate", null);
        assertThat(forget.statusCode()).as(forget.body()).isEqualTo(200);
        Eventually.holds(
                Duration.ofSeconds(2),
                "node C dropped the forgotten certificate from memory",
                () -> c.server().certificates().cached(NAME).isEmpty());
        assertThat(served(c, NAME))
                .as("node C's next handshake gets a new certificate")
                .isNotEqualTo(renewed);
    }

    @Test
    void nodeBListsTheNamesUnderAWildcardThatNodeAIsOrderingOrHasIssued() throws Exception {
        List<RunningNode> nodes = cluster.start(config -> shape(config, "*.shop.test"), "a", "b");
        RunningNode a = nodes.get(0);
        RunningNode b = nodes.get(1);
        served(a, "issued.shop.test");

        // node A's first order for a name under the wildcard, held as node A's orders hold it
        try (PostgresStorage asNodeA = cluster.storageAs("a");
                Storage.Lease ordering = asNodeA.tryLease(
                                StorageKeys.orderLease("ordering.shop.test"), Duration.ofMinutes(2))
                        .orElseThrow()) {
            JsonNode page = JSON.readTree(b.adminGet("/api/domains?q=shop.test").body());
            JsonNode row = row(page, "ordering.shop.test");
            assertThat(row).as(page.toString()).isNotNull();
            assertThat(row.path("state").asText()).isEqualTo("issuing");
            assertThat(row.at("/lease/node").asText()).isEqualTo("a");
            assertThat(Instant.parse(row.at("/lease/until").asText()))
                    .isAfter(Instant.parse(row.at("/lease/since").asText()).plusSeconds(100));
            assertThat(row.at("/allowed_by/kind").asText()).isEqualTo("wildcard");
            assertThat(row.at("/allowed_by/entry").asText()).isEqualTo("*.shop.test");
            assertThat(page.at("/orders_in_flight/count").asInt())
                    .as(page.toString())
                    .isEqualTo(1);
            assertThat(b.adminGet("/status?q=ordering").body())
                    .contains("data-name=\"ordering.shop.test\" data-state=\"issuing\"")
                    .contains("ordering on a since");
            Eventually.holds(Duration.ofSeconds(15), "node B lists the name node A issued under the wildcard", () -> {
                JsonNode issued =
                        row(JSON.readTree(b.adminGet("/api/domains?q=shop.test").body()), "issued.shop.test");
                return issued != null
                        && issued.at("/certificate/issued_by_node").asText().equals("a");
            });
        }
        assertThat(row(JSON.readTree(b.adminGet("/api/domains").body()), "ordering.shop.test"))
                .as("a name whose order ended without a certificate is no longer listed")
                .isNull();
    }

    /** The row of {@code name} on a page of {@code /api/domains}, or {@code null}. */
    private static JsonNode row(JsonNode page, String name) {
        for (JsonNode domain : page.path("domains")) {
            if (domain.path("name").asText().equals(name)) {
                return domain;
            }
        }
        return null;
    }

    @Test
    void aTls13TicketFromNodeAResumesOnNodeB() throws Exception {
        List<RunningNode> nodes = cluster.start(config -> shape(config, NAME), "a", "b");
        Path session = cluster.directory().resolve("session.pem");
        Path root = cluster.directory().resolve("root.pem");

        String onA = openssl(nodes.get(0), root, "-sess_out", session.toString());
        String onB = openssl(nodes.get(1), root, "-sess_in", session.toString());

        assertThat(onA).contains("New, TLSv1.3");
        assertThat(onB).as("node B resumes node A's session").contains("Reused, TLSv1.3");
    }

    @Test
    void aTls13TicketResumesAfterARestartOnFileStorage(@TempDir Path dir) throws Exception {
        try (RunningNode node = RunningNode.start(shape(RunningNode.config(dir), NAME))) {
            Path session = dir.resolve("session.pem");
            String before = openssl(node, node.internalRoot(), "-sess_out", session.toString());

            node.restart();

            assertThat(before).contains("New, TLSv1.3");
            assertThat(openssl(node, node.internalRoot(), "-sess_in", session.toString()))
                    .as("the restarted node resumes its session from before")
                    .contains("Reused, TLSv1.3");
        }
    }

    @Test
    void threeNodesWithAnOrderLimitOfTwoPlaceTwoOrdersTogether() throws Exception {
        String[] names = new String[9];
        for (int i = 0; i < names.length; i++) {
            names[i] = "n" + i + ".shop" + i + ".test";
        }
        List<RunningNode> nodes = cluster.start(
                config -> shape(config, names).set("certificates.limits.orders_per_3h", "2"), "a", "b", "c");

        ExecutorService clients = Executors.newFixedThreadPool(names.length);
        List<Future<Boolean>> handshakes = new ArrayList<>();
        for (int i = 0; i < names.length; i++) {
            RunningNode node = nodes.get(i % nodes.size());
            String name = names[i];
            handshakes.add(clients.submit(() -> {
                try {
                    served(node, name);
                    return true;
                } catch (IOException refused) {
                    return false;
                }
            }));
        }
        int served = 0;
        for (Future<Boolean> handshake : handshakes) {
            served += handshake.get(60, TimeUnit.SECONDS) ? 1 : 0;
        }
        clients.shutdown();

        List<String> stored;
        try (PostgresStorage storage = cluster.storage()) {
            stored = storage.list(StorageKeys.CERTIFICATES).stream()
                    .filter(key -> key.endsWith("/" + StorageKeys.META_FILE))
                    .toList();
        }
        assertThat(stored).as("certificates issued by the three nodes together").hasSize(2);
        assertThat(served).as("handshakes served").isEqualTo(2);
    }

    /** The serial of the certificate {@code node} serves for {@code name}. */
    private static BigInteger served(RunningNode node, String name) throws Exception {
        try (SSLSocket socket = node.tlsSocket(name)) {
            return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
        }
    }

    /** The serial of the certificate stored for {@code name}, or {@code null}. */
    private BigInteger stored(String name) throws Exception {
        try (PostgresStorage storage = cluster.storage()) {
            return storage.load(StorageKeys.certificate(name, StorageKeys.META_FILE))
                    .map(meta -> {
                        try {
                            return new BigInteger(
                                    JSON.readTree(meta).get("serial").asText(), 16);
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    })
                    .orElse(null);
        }
    }

    private static JsonNode domain(RunningNode node, String name) throws Exception {
        HttpResponse<String> response = node.adminGet("/api/domains/" + name);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    /**
     * One request over TLS 1.3 with openssl, which shows whether the session was new or resumed. The ticket comes
     * after the handshake, with the response: send a request and read until the node closes.
     */
    private static String openssl(RunningNode node, Path root, String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of(
                "openssl",
                "s_client",
                "-connect",
                "127.0.0.1:" + node.httpsPort(),
                "-servername",
                NAME,
                "-CAfile",
                root.toString(),
                "-tls1_3",
                "-ign_eof"));
        command.addAll(List.of(options));
        Process openssl = new ProcessBuilder(command).redirectErrorStream(true).start();
        openssl.getOutputStream()
                .write(("GET / HTTP/1.1\r\nHost: " + NAME + "\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
        openssl.getOutputStream().close();
        String output = new String(openssl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(openssl.waitFor(15, TimeUnit.SECONDS)).isTrue();
        return output;
    }
}

package io.clicktls.acme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.clicktls.certificates.IssuanceException;
import io.clicktls.config.Acme;
import io.clicktls.config.Acme.ChallengeType;
import io.clicktls.config.Certificates;
import io.clicktls.testing.InMemoryStorage;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.shredzone.acme4j.toolbox.JSON;

/**
 * ACME profiles (draft-ietf-acme-profiles) against a directory served by the test: Pebble 2.4 has none. The server
 * answers the directory, nonces and accounts, and records each newOrder request's JWS payload.
 */
class AcmeProfileTest {

    private final List<JSON> newOrders = new CopyOnWriteArrayList<>();
    private HttpServer server;
    private String profilesJson = "{\"classic\": \"90 days\", \"shortlived\": \"6 days\"}";

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    @Test
    void aProfileTheDirectoryOffersPassesTheStartCheck() throws Exception {
        try (AcmeIssuer issuer = issuer("shortlived")) {
            issuer.checkProfile();
        }
    }

    @Test
    void aProfileTheDirectoryDoesNotOfferIsRefusedNamingTheOffered() throws Exception {
        try (AcmeIssuer issuer = issuer("shortlive")) {
            assertThatThrownBy(issuer::checkProfile)
                    .isInstanceOf(AcmeIssuer.ProfileNotOfferedException.class)
                    .hasMessageContaining("'shortlive' is not offered by 127.0.0.1")
                    .hasMessageEndingWith("it offers: classic, shortlived");
        }
    }

    @Test
    void aDirectoryWithoutProfilesRefusesAnyProfile() throws Exception {
        profilesJson = null;
        try (AcmeIssuer issuer = issuer("classic")) {
            assertThatThrownBy(issuer::checkProfile)
                    .isInstanceOf(AcmeIssuer.ProfileNotOfferedException.class)
                    .hasMessageContaining("its directory lists no profiles");
        }
    }

    @Test
    void theNewOrderRequestCarriesTheConfiguredProfile() throws Exception {
        try (AcmeIssuer issuer = issuer("shortlived")) {
            assertThatThrownBy(() -> issuer.issue("links.shop.test")).isInstanceOf(IssuanceException.class);
        }
        assertThat(newOrders).hasSize(1);
        assertThat(newOrders.get(0).get("profile").asString()).isEqualTo("shortlived");
        assertThat(newOrders
                        .get(0)
                        .get("identifiers")
                        .asArray()
                        .get(0)
                        .asObject()
                        .get("value")
                        .asString())
                .isEqualTo("links.shop.test");
    }

    @Test
    void withoutAProfileTheNewOrderRequestHasNone() throws Exception {
        try (AcmeIssuer issuer = issuer(null)) {
            issuer.checkProfile(); // nothing to check, nothing asked
            assertThatThrownBy(() -> issuer.issue("links.shop.test")).isInstanceOf(IssuanceException.class);
        }
        assertThat(newOrders).hasSize(1);
        assertThat(newOrders.get(0).contains("profile")).isFalse();
    }

    private AcmeIssuer issuer(String profile) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        String base = "http://127.0.0.1:" + server.getAddress().getPort();
        server.createContext("/dir", exchange -> {
            String meta = profilesJson == null ? "{}" : "{\"profiles\": " + profilesJson + "}";
            answer(
                    exchange,
                    200,
                    "{\"newNonce\": \"" + base + "/nonce\", \"newAccount\": \"" + base + "/account\", \"newOrder\": \""
                            + base + "/order\", \"meta\": " + meta + "}");
        });
        server.createContext("/nonce", exchange -> answer(exchange, 200, null));
        server.createContext("/account", exchange -> {
            exchange.getRequestBody().readAllBytes();
            exchange.getResponseHeaders().add("Location", base + "/account/1");
            answer(exchange, 201, "{\"status\": \"valid\"}");
        });
        server.createContext("/order", exchange -> {
            JSON jws = JSON.parse(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            newOrders.add(JSON.parse(
                    new String(Base64.getUrlDecoder().decode(jws.get("payload").asString()), StandardCharsets.UTF_8)));
            // refused, so that the order ends here: only its request matters
            exchange.getResponseHeaders().add("Content-Type", "application/problem+json");
            answer(
                    exchange,
                    400,
                    "{\"type\": \"urn:ietf:params:acme:error:rejectedIdentifier\", \"detail\": \"test\"}");
        });
        server.start();
        var storage = new InMemoryStorage();
        var settings = new Acme(URI.create(base + "/dir"), null, null, List.of(ChallengeType.HTTP_01), null, profile);
        return new AcmeIssuer(
                settings, Certificates.KeyType.EC256, storage, new ChallengeStore(storage), Clock.systemUTC());
    }

    private static void answer(HttpExchange exchange, int status, String json) throws IOException {
        exchange.getResponseHeaders().add("Replay-Nonce", "bm9uY2U" + System.nanoTime());
        exchange.getResponseHeaders().add("Cache-Control", "no-store");
        if (json == null) {
            exchange.sendResponseHeaders(status, -1);
        } else {
            if (!exchange.getResponseHeaders().containsKey("Content-Type")) {
                exchange.getResponseHeaders().add("Content-Type", "application/json");
            }
            byte[] body = json.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, body.length);
            exchange.getResponseBody().write(body);
        }
        exchange.close();
    }
}

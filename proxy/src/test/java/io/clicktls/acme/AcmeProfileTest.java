package io.clicktls.acme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.certificates.IssuanceException;
import io.clicktls.config.Acme;
import io.clicktls.config.Acme.ChallengeType;
import io.clicktls.config.Certificates;
import io.clicktls.testing.AcmeStandIn;
import io.clicktls.testing.InMemoryStorage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.shredzone.acme4j.toolbox.JSON;

/**
 * ACME profiles (draft-ietf-acme-profiles) against a directory served by the test ({@link AcmeStandIn}): Pebble 2.4
 * has none.
 */
class AcmeProfileTest {

    private AcmeStandIn server;
    private String profilesJson = "{\"classic\": \"90 days\", \"shortlived\": \"6 days\"}";

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
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
        assertThat(newOrders()).hasSize(1);
        assertThat(newOrders().get(0).get("profile").asString()).isEqualTo("shortlived");
        assertThat(newOrders()
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
        assertThat(newOrders()).hasSize(1);
        assertThat(newOrders().get(0).contains("profile")).isFalse();
    }

    private AcmeIssuer issuer(String profile) throws IOException {
        server = AcmeStandIn.start(profilesJson == null ? "{}" : "{\"profiles\": " + profilesJson + "}");
        var storage = new InMemoryStorage();
        var settings = new Acme(server.directoryUrl(), null, null, List.of(ChallengeType.HTTP_01), null, profile);
        return new AcmeIssuer(
                settings, Certificates.KeyType.EC256, storage, new ChallengeStore(storage), Clock.systemUTC());
    }

    /** The payloads of the newOrder requests the CA received (refused, so that each order ends there). */
    private List<JSON> newOrders() {
        return server.newOrders().stream()
                .map(jws -> JSON.parse(new String(
                        Base64.getUrlDecoder()
                                .decode(JSON.parse(jws).get("payload").asString()),
                        StandardCharsets.UTF_8)))
                .toList();
    }
}

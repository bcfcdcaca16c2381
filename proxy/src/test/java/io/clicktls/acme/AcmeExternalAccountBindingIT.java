package io.clicktls.acme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.config.Acme;
import io.clicktls.config.Acme.ChallengeType;
import io.clicktls.config.Certificates;
import io.clicktls.issuance.IssuanceException;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.testing.Pebble;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** External account binding against a Pebble that requires it, as ZeroSSL and Google Trust Services do. */
class AcmeExternalAccountBindingIT {

    private static final String KID = "kid-1";
    private static final String HMAC_KEY = randomKey();

    private static ChallengeResponders responders;
    private static Pebble pebble;

    private final List<AcmeIssuer> issuers = new ArrayList<>();

    @BeforeAll
    static void startCa() throws Exception {
        responders = new ChallengeResponders();
        pebble = Pebble.builder()
                .httpPort(responders.httpPort())
                .tlsPort(responders.tlsPort())
                .requireExternalAccountBinding(KID, HMAC_KEY)
                .start();
    }

    @AfterAll
    static void stopCa() {
        if (pebble != null) {
            pebble.close();
        }
        if (responders != null) {
            responders.close();
        }
    }

    @AfterEach
    void closeIssuers() {
        issuers.forEach(AcmeIssuer::close);
    }

    @Test
    void withTheBindingAnAccountRegistersAndACertificateIsIssued() throws Exception {
        var storage = new InMemoryStorage();
        var issuer = issuer(storage, new Acme.ExternalAccountBinding(KID, HMAC_KEY));
        String name = uniqueName("eab");

        CertifiedKey issued = issuer.issue(name);

        assertThat(issued.name()).isEqualTo(name);
        assertThat(issued.validAt(Instant.now())).isTrue();
        assertThat(issued.chain().get(issued.chain().size() - 1).getIssuerX500Principal())
                .isEqualTo(pebble.rootCertificate().getSubjectX500Principal());
        assertThat(storage.load(AcmeIssuer.ACCOUNT))
                .as("account stored for the next start")
                .isPresent();
    }

    @Test
    void withoutTheBindingNoAccountIsMadeAndTheErrorNamesTheSetting() throws Exception {
        int accounts = pebble.accountCount();
        var issuer = issuer(new InMemoryStorage(), null);

        assertThatThrownBy(() -> issuer.issue(uniqueName("no-eab")))
                .isInstanceOf(IssuanceException.class)
                .hasMessageContaining("requires external account binding")
                .hasMessageContaining("certificates.acme.eab")
                .satisfies(e -> System.out.println("[eab] " + e.getMessage()));
        assertThat(pebble.accountCount()).isEqualTo(accounts);
    }

    @Test
    void aWrongHmacKeyIsRefusedByTheCaAndTheKeyIsNotInTheMessage() throws Exception {
        String wrongKey = randomKey();
        var issuer = issuer(new InMemoryStorage(), new Acme.ExternalAccountBinding(KID, wrongKey));

        assertThatThrownBy(() -> issuer.issue(uniqueName("wrong-key")))
                .isInstanceOf(IssuanceException.class)
                .hasMessageStartingWith(
                        "127.0.0.1 refused the ACME account with external account binding, kid " + KID + ": ")
                .satisfies(
                        e -> assertThat(e.getMessage()).doesNotContain(wrongKey).doesNotContain(HMAC_KEY))
                .satisfies(e -> System.out.println("[eab] CA's words: " + e.getMessage()));
    }

    @Test
    void anUnknownKeyIdIsRefusedByTheCa() throws Exception {
        var issuer = issuer(new InMemoryStorage(), new Acme.ExternalAccountBinding("kid-unknown", HMAC_KEY));

        assertThatThrownBy(() -> issuer.issue(uniqueName("unknown-kid")))
                .isInstanceOf(IssuanceException.class)
                .hasMessageStartingWith("127.0.0.1 refused the ACME account with external account binding, kid "
                        + "kid-unknown: unauthorized: ");
    }

    private AcmeIssuer issuer(InMemoryStorage storage, Acme.ExternalAccountBinding eab) throws Exception {
        var challengeStore = new ChallengeStore(storage);
        responders.current = challengeStore;
        var settings = new Acme(
                pebble.directoryUrl(), "ops@example.com", pebble.trustedCaFile(), List.of(ChallengeType.HTTP_01), eab);
        var issuer = new AcmeIssuer(settings, Certificates.KeyType.EC256, storage, challengeStore, Clock.systemUTC());
        issuers.add(issuer);
        return issuer;
    }

    private static String randomKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(key);
    }

    private static String uniqueName(String label) {
        return label + "-" + UUID.randomUUID().toString().substring(0, 8) + ".clicktls.test";
    }
}

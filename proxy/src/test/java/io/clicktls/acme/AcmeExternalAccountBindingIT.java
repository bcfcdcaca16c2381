package io.clicktls.acme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.certificates.IssuanceException;
import io.clicktls.config.Acme;
import io.clicktls.config.Acme.ChallengeType;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.StorageKeys;
import io.clicktls.testing.InMemoryStorage;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** External account binding against a Pebble that requires it, as ZeroSSL and Google Trust Services do. */
class AcmeExternalAccountBindingIT {

    private static final String KID = "kid-1";
    private static final String HMAC_KEY = randomKey();

    @RegisterExtension
    static final PebbleAcme.PerClass ca =
            PebbleAcme.perClass(builder -> builder.requireExternalAccountBinding(KID, HMAC_KEY));

    @Test
    void withTheBindingAnAccountRegistersAndACertificateIsIssued() throws Exception {
        var storage = new InMemoryStorage();
        var issuer = issuer(storage, new Acme.ExternalAccountBinding(KID, HMAC_KEY));
        String name = PebbleAcme.uniqueName("eab");

        CertifiedKey issued = issuer.issue(name);

        assertThat(issued.name()).isEqualTo(name);
        assertThat(issued.validAt(Instant.now())).isTrue();
        assertThat(issued.chain().get(issued.chain().size() - 1).getIssuerX500Principal())
                .isEqualTo(ca.get().pebble.rootCertificate().getSubjectX500Principal());
        assertThat(storage.load(StorageKeys.ACCOUNT))
                .as("account stored for the next start")
                .isPresent();
    }

    @Test
    void withoutTheBindingNoAccountIsMadeAndTheErrorNamesTheSetting() throws Exception {
        int accounts = ca.get().pebble.accountCount();
        var issuer = issuer(new InMemoryStorage(), null);

        assertThatThrownBy(() -> issuer.issue(PebbleAcme.uniqueName("no-eab")))
                .isInstanceOf(IssuanceException.class)
                .hasMessageContaining("requires external account binding")
                .hasMessageContaining("certificates.acme.eab")
                .satisfies(e -> System.out.println("[eab] " + e.getMessage()));
        assertThat(ca.get().pebble.accountCount()).isEqualTo(accounts);
    }

    @Test
    void aWrongHmacKeyIsRefusedByTheCaAndTheKeyIsNotInTheMessage() throws Exception {
        String wrongKey = randomKey();
        var issuer = issuer(new InMemoryStorage(), new Acme.ExternalAccountBinding(KID, wrongKey));

        assertThatThrownBy(() -> issuer.issue(PebbleAcme.uniqueName("wrong-key")))
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

        assertThatThrownBy(() -> issuer.issue(PebbleAcme.uniqueName("unknown-kid")))
                .isInstanceOf(IssuanceException.class)
                .hasMessageStartingWith("127.0.0.1 refused the ACME account with external account binding, kid "
                        + "kid-unknown: unauthorized: ");
    }

    private AcmeIssuer issuer(InMemoryStorage storage, Acme.ExternalAccountBinding eab) throws Exception {
        return ca.get().issuer(storage, List.of(ChallengeType.HTTP_01), eab);
    }

    private static String randomKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(key);
    }
}

package io.clicktls.acme;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.certificates.FallbackIssuer;
import io.clicktls.config.Acme;
import io.clicktls.config.Acme.ChallengeType;
import io.clicktls.config.Certificates;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.CertificateStore;
import io.clicktls.testing.InMemoryStorage;
import io.clicktls.testing.MutableClock;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two Pebble CAs as two issuers in order, the second requiring external account binding (as ZeroSSL does): while the
 * first is down, names are issued by the second and recorded as such; once it is back, orders go to the first again.
 */
class FallbackIssuerIT {

    private static final String KID = "kid-fallback";
    private static final String HMAC_KEY = randomKey();

    private PebbleAcme first;
    private PebbleAcme second;
    private final List<AcmeIssuer> issuers = new ArrayList<>();
    private final InMemoryStorage storage = new InMemoryStorage();
    private final ChallengeStore challenges = new ChallengeStore(storage);
    private final MutableClock clock = new MutableClock(Instant.now());

    @BeforeEach
    void startCas() throws Exception {
        first = PebbleAcme.start();
        second = PebbleAcme.start(builder -> builder.requireExternalAccountBinding(KID, HMAC_KEY));
        // both CAs validate against the same answers
        first.responders.current = challenges;
        second.responders.current = challenges;
    }

    @AfterEach
    void stopCas() {
        issuers.forEach(AcmeIssuer::close);
        if (first != null) {
            first.close();
        }
        if (second != null) {
            second.close();
        }
    }

    @Test
    void whileTheFirstCaIsDownANewNameIsIssuedByTheSecondAndRecordedAsSuch() throws Exception {
        FallbackIssuer fallback = fallback();
        var store = new CertificateStore(storage);
        first.pebble.stop();
        String name = PebbleAcme.uniqueName("fallback");

        CertifiedKey issued = fallback.issue(name);
        store.save(issued);

        assertThat(issued.issuer()).isEqualTo("second");
        assertThat(issued.chain().get(issued.chain().size() - 1).getIssuerX500Principal())
                .isEqualTo(second.pebble.rootCertificate().getSubjectX500Principal());
        assertThat(store.load(name).orElseThrow().issuer())
                .as("the issuer recorded with the stored certificate")
                .isEqualTo("second");
        store.scanIndex();
        assertThat(store.indexed(name).orElseThrow().issuer()).isEqualTo("second");
    }

    @Test
    void onceTheFirstCaIsBackTheNextRenewalGoesToIt() throws Exception {
        FallbackIssuer fallback = fallback();
        first.pebble.stop();
        String name = PebbleAcme.uniqueName("back");
        assertThat(fallback.issue(name).issuer()).isEqualTo("second");

        first.pebble.start();
        clock.advance(Duration.ofMinutes(1)); // past the first issuer's outage backoff
        CertifiedKey renewed = fallback.issue(name);

        assertThat(renewed.issuer()).isEqualTo("first");
        assertThat(renewed.chain().get(renewed.chain().size() - 1).getIssuerX500Principal())
                .isEqualTo(first.pebble.rootCertificate().getSubjectX500Principal());
    }

    private FallbackIssuer fallback() throws Exception {
        var firstSettings = new Acme(
                first.pebble.directoryUrl(),
                "ops@example.com",
                first.pebble.trustedCaFile(),
                List.of(ChallengeType.HTTP_01));
        var secondSettings = new Acme(
                second.pebble.directoryUrl(),
                "ops@example.com",
                second.pebble.trustedCaFile(),
                List.of(ChallengeType.HTTP_01),
                new Acme.ExternalAccountBinding(KID, HMAC_KEY));
        issuers.add(new AcmeIssuer(firstSettings, Certificates.KeyType.EC256, storage, challenges, clock, "first"));
        issuers.add(new AcmeIssuer(secondSettings, Certificates.KeyType.EC256, storage, challenges, clock, "second"));
        return new FallbackIssuer(issuers, clock);
    }

    private static String randomKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(key);
    }
}

package io.clicktls.acme;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.certificates.IssuanceException;
import io.clicktls.config.Acme;
import io.clicktls.config.Acme.ChallengeType;
import io.clicktls.config.Certificates;
import io.clicktls.testing.InMemoryStorage;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URL;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.shredzone.acme4j.Problem;
import org.shredzone.acme4j.exception.AcmeNetworkException;
import org.shredzone.acme4j.exception.AcmeRateLimitedException;
import org.shredzone.acme4j.exception.AcmeServerException;
import org.shredzone.acme4j.toolbox.JSON;

class AcmeIssuerTest {

    private static final Instant NOW = Instant.parse("2026-11-25T12:00:00Z");

    private final AcmeIssuer issuer = issuer(List.of(ChallengeType.TLS_ALPN_01, ChallengeType.HTTP_01));

    @AfterEach
    void close() {
        issuer.close();
    }

    @Test
    void labelIsTheDirectorysHost() {
        assertThat(issuer.label()).isEqualTo("acme-v02.api.letsencrypt.org");
    }

    @Test
    void rateLimitCarriesTheCasRetryAfter() throws Exception {
        Instant retryAfter = NOW.plus(Duration.ofHours(3));
        var limited = new AcmeRateLimitedException(
                problem("rateLimited", "too many certificates (5) already issued for this exact set of identifiers"),
                retryAfter,
                List.of());

        IssuanceException failure = issuer.failure("links.shop.test", limited);

        assertThat(failure.retryAfter()).isEqualTo(retryAfter);
        assertThat(failure.getMessage())
                .isEqualTo("rate limited by acme-v02.api.letsencrypt.org: rateLimited: "
                        + "too many certificates (5) already issued for this exact set of identifiers");
    }

    @Test
    void rateLimitWithoutRetryAfterWaitsAnHour() throws Exception {
        var limited = new AcmeRateLimitedException(problem("rateLimited", "slow down"), null, List.of());

        assertThat(issuer.failure("links.shop.test", limited).retryAfter()).isEqualTo(NOW.plus(Duration.ofHours(1)));
    }

    @Test
    void unreachableCaIsSaidSoWithAShortRetry() {
        var down = new AcmeNetworkException(new IOException(new ConnectException("Connection refused")));

        IssuanceException failure = issuer.failure("links.shop.test", down);

        assertThat(failure.getMessage()).isEqualTo("CA unreachable: acme-v02.api.letsencrypt.org: Connection refused");
        assertThat(failure.retryAfter()).isEqualTo(NOW.plus(AcmeIssuer.UNREACHABLE_RETRY));
    }

    @Test
    void refusalQuotesTheCaIncludingSubproblems() throws Exception {
        var json = JSON.parse(
                """
                {"type": "urn:ietf:params:acme:error:rejectedIdentifier",
                 "detail": "Error creating new order :: Cannot issue for 2 names",
                 "subproblems": [{"type": "urn:ietf:params:acme:error:rejectedIdentifier",
                                  "detail": "Domain name is on the blocklist",
                                  "identifier": {"type": "dns", "value": "links.shop.test"}}]}
                """);
        var refused = new AcmeServerException(new Problem(json, new URL("https://ca.test/acme/new-order")));

        IssuanceException failure = issuer.failure("links.shop.test", refused);

        assertThat(failure.getMessage())
                .isEqualTo("the CA refused links.shop.test: rejectedIdentifier: "
                        + "Error creating new order :: Cannot issue for 2 names; "
                        + "links.shop.test: rejectedIdentifier: Domain name is on the blocklist");
        assertThat(failure.retryAfter()).isNull();
    }

    @Test
    void configuredChallengeOrderHoldsUntilATypeFails() {
        assertThat(issuer.preference("links.shop.test"))
                .containsExactly(ChallengeType.TLS_ALPN_01, ChallengeType.HTTP_01);
    }

    private static Problem problem(String type, String detail) throws Exception {
        var json =
                JSON.parse("{\"type\": \"urn:ietf:params:acme:error:" + type + "\", \"detail\": \"" + detail + "\"}");
        return new Problem(json, new URL("https://ca.test/acme/new-order"));
    }

    private static AcmeIssuer issuer(List<ChallengeType> challenges) {
        var storage = new InMemoryStorage();
        var settings = new Acme(URI.create("https://acme-v02.api.letsencrypt.org/directory"), null, null, challenges);
        try {
            return new AcmeIssuer(
                    settings,
                    Certificates.KeyType.EC256,
                    storage,
                    new ChallengeStore(storage),
                    Clock.fixed(NOW, ZoneOffset.UTC));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}

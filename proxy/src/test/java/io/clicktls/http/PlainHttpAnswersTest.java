package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.acme.Challenges;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.config.Domain;
import io.clicktls.config.DomainTable;
import io.clicktls.config.Platform;
import io.clicktls.config.Upgrade;
import io.clicktls.metrics.Metrics;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.testing.ConfigInCode;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class PlainHttpAnswersTest {

    private static final ThrowawayCa PKI = new ThrowawayCa();

    private final FakeCertificates certificates = new FakeCertificates(PKI);
    private final Metrics metrics = new Metrics();
    private final ConfigSnapshot snapshot = ConfigSnapshot.of(ConfigInCode.internalIssuer(
            Path.of("data"),
            Duration.ofMillis(200),
            Map.of("p", new Platform("p", URI.create("https://sendgrid.net"), Platform.HostHeader.PRESERVE)),
            List.of(new Domain("links.shop.test", "p")),
            new Upgrade(Upgrade.HttpMode.REDIRECT, true, true)));
    private final DomainTable.Route route =
            snapshot.domains().find("links.shop.test").orElseThrow();

    @Test
    void redirectOnPort443LeavesThePortOut() throws Exception {
        certificates.inHand("links.shop.test");

        FullHttpResponse response = answers(443)
                .answer(get("/a%2F//b?c"), "/a%2F//b?c", "links.shop.test", route)
                .toCompletableFuture()
                .get(1, TimeUnit.SECONDS);

        assertThat(response.status().code()).isEqualTo(308);
        assertThat(response.headers().get("location")).isEqualTo("https://links.shop.test/a%2F//b?c");
        assertThat(metrics.scrape()).contains("clicktls_links_upgraded_total{kind=\"redirect\"} 1.0");
        response.release();
    }

    @Test
    void certificateThatDoesNotComeWithinTheWaitMeansForwarding() throws Exception {
        certificates.issuable("links.shop.test", Duration.ofSeconds(5));

        long start = System.nanoTime();
        FullHttpResponse response = answers(443)
                .answer(get("/x"), "/x", "links.shop.test", route)
                .toCompletableFuture()
                .get(2, TimeUnit.SECONDS);

        assertThat(response).isNull();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
    }

    @Test
    void hostsNotServedAndOtherPathsAreLeftToTheProxy() {
        assertThat(answers(443).answer(get("/x"), "/x", "unknown.example", null))
                .isNull();
    }

    @Test
    void challengeAnswerComesFromTheBlockingExecutor() throws Exception {
        Thread[] lookupThread = new Thread[1];
        Challenges challenges = new Challenges() {
            @Override
            public Optional<String> httpKeyAuthorization(String token) {
                lookupThread[0] = Thread.currentThread();
                return token.equals("abc") ? Optional.of("abc.key") : Optional.empty();
            }

            @Override
            public Optional<CertifiedKey> tlsAlpnCertificate(String name) {
                return Optional.empty();
            }
        };
        Thread[] executorThread = new Thread[1];
        PlainHttpAnswers answers = new PlainHttpAnswers(
                () -> snapshot,
                certificates,
                challenges,
                task -> {
                    Thread thread = new Thread(task);
                    executorThread[0] = thread;
                    thread.start();
                },
                () -> 443,
                metrics,
                null);

        FullHttpResponse found = answers.answer(
                        get("/.well-known/acme-challenge/abc"), "/.well-known/acme-challenge/abc", null, null)
                .toCompletableFuture()
                .get(1, TimeUnit.SECONDS);

        assertThat(found.status().code()).isEqualTo(200);
        assertThat(found.content().toString(StandardCharsets.US_ASCII)).isEqualTo("abc.key");
        assertThat(lookupThread[0]).isSameAs(executorThread[0]);
        found.release();
    }

    private PlainHttpAnswers answers(int httpsPort) {
        return new PlainHttpAnswers(
                () -> snapshot, certificates, Challenges.NONE, Runnable::run, () -> httpsPort, metrics, null);
    }

    private static HttpRequest get(String uri) {
        return new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri);
    }
}

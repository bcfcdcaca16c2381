package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.config.Upgrade;
import io.clicktls.testing.Curl;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The plain-http listener: ACME http-01, the 308 to https, and forwarding as it is. */
class PlainHttpListenerIT extends ProxyFixture {

    private static final String SES_STYLE = "/CL0/https:%2F%2Fexample.com%2F/1/abc==/x?y=%2F";

    @Test
    void trackedDomainWithItsCertificateInHandIsRedirectedToHttpsWithTheExactPath() throws Exception {
        certificates.inHand("links.shop.test");

        Curl.Result result = curlHttp("links.shop.test", SES_STYLE + "&z=//a");

        assertThat(result.status()).isEqualTo(308);
        assertThat(result.header("location"))
                .isEqualTo("https://links.shop.test:" + proxy.httpsPort() + SES_STYLE + "&z=//a");
        assertThat(result.header("content-length")).isEqualTo(String.valueOf(result.body().length));
        assertThat(standIn.requests()).isEmpty();
        assertThat(metrics.scrape()).containsPattern("clicktls_links_upgraded_total\\{kind=\"redirect\"} [1-9]");
    }

    @Test
    void redirectKeepsTheConnectionForTheNextRequest() throws Exception {
        certificates.inHand("links.shop.test");

        String responses = rawHttp("GET /a HTTP/1.1\r\nHost: links.shop.test\r\n\r\n"
                + "GET /b?c=%2F HTTP/1.1\r\nHost: links.shop.test\r\nConnection: close\r\n\r\n");

        assertThat(responses).contains("location: https://links.shop.test:" + proxy.httpsPort() + "/a\r\n");
        assertThat(responses).contains("location: https://links.shop.test:" + proxy.httpsPort() + "/b?c=%2F\r\n");
        assertThat(responses).doesNotContain("<<timeout");
        assertThat(responses.indexOf("/a\r\n")).isLessThan(responses.indexOf("/b?c=%2F\r\n"));
    }

    @Test
    void certificateIssuedWithinTheHandshakeWaitStillGivesTheRedirect() throws Exception {
        certificates.issuable("new.shop.test", HANDSHAKE_WAIT.dividedBy(4));

        Curl.Result result = curlHttp("new.shop.test", "/ls/click?upn=1");

        assertThat(result.status()).isEqualTo(308);
        assertThat(result.header("location"))
                .isEqualTo("https://new.shop.test:" + proxy.httpsPort() + "/ls/click?upn=1");
    }

    @Test
    void withoutACertificateTheRequestIsForwardedAsItIs() throws Exception {
        Curl.Result refused = curlHttp("refused.shop.test", "/ls/click?upn=1");
        assertThat(refused.status()).isEqualTo(302);
        assertThat(refused.header("location")).isEqualTo("https://destination.example/landing?x=1");

        certificates.issuable("late.shop.test", HANDSHAKE_WAIT.multipliedBy(3));
        long start = System.nanoTime();
        Curl.Result late = curlHttp("late.shop.test", "/back");
        assertThat(late.status()).isEqualTo(302);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(HANDSHAKE_WAIT.plusSeconds(2));
        assertThat(late.header("location")).isEqualTo("http://late.shop.test:" + proxy.httpPort() + "/landing");
        assertThat(standIn.last().header("x-forwarded-proto")).isEqualTo("http");
    }

    @Test
    void upgradeHttpProxyForwardsEvenWithACertificate() throws Exception {
        upgradeHttp(Upgrade.HttpMode.PROXY);
        certificates.inHand("links.shop.test");

        Curl.Result result = curlHttp("links.shop.test", SES_STYLE);

        assertThat(result.status()).isEqualTo(404);
        assertThat(standIn.last().rawUri()).isEqualTo(SES_STYLE);
        assertThat(standIn.last().header("x-forwarded-proto")).isEqualTo("http");
        assertThat(standIn.last().header("host")).isEqualTo("links.shop.test:" + proxy.httpPort());
    }

    @Test
    void acmeChallengeIsAnsweredForAnyHostAndNeverForwarded() throws Exception {
        challengeAnswers.put("tok_EN-123", "tok_EN-123.thumbprint");
        upgradeHttp(Upgrade.HttpMode.PROXY);

        Curl.Result tracked = curlHttp("links.shop.test", "/.well-known/acme-challenge/tok_EN-123");
        Curl.Result untracked = curlHttp("anything.example", "/.well-known/acme-challenge/tok_EN-123");
        Curl.Result unknown = curlHttp("links.shop.test", "/.well-known/acme-challenge/unknown");
        Curl.Result malformed = curlHttp("links.shop.test", "/.well-known/acme-challenge/../../etc/passwd");

        assertThat(tracked.status()).isEqualTo(200);
        assertThat(tracked.text()).isEqualTo("tok_EN-123.thumbprint");
        assertThat(untracked.status()).isEqualTo(200);
        assertThat(untracked.text()).isEqualTo("tok_EN-123.thumbprint");
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(malformed.status()).isEqualTo(404);
        assertThat(standIn.requests()).isEmpty();
    }

    @Test
    void hostNotServedIsMisdirected() throws Exception {
        Curl.Result result = curlHttp("example.org", "/ls/click");

        assertThat(result.status()).isEqualTo(421);
        assertThat(standIn.requests()).isEmpty();
    }

    @Test
    void missingHostIsBadRequest() throws Exception {
        assertThat(rawHttp("GET /ls/click HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400 ");
        assertThat(rawHttp("GET /ls/click HTTP/1.0\r\n\r\n")).startsWith("HTTP/1.1 400 ");
        assertThat(standIn.requests()).isEmpty();
    }

    @Test
    void jdkHttpClientThroughTheListenerGetsTheRedirectAndTheForwardedResponse() throws Exception {
        certificates.inHand("links.shop.test");
        // The JDK client sends the absolute form to a proxy: the listener takes the authority from it.
        HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER)
                .proxy(ProxySelector.of(new InetSocketAddress("127.0.0.1", proxy.httpPort())))
                .build();

        HttpResponse<String> redirect = client.send(
                HttpRequest.newBuilder(URI.create("http://links.shop.test/ls/click?upn=a%2Fb"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> forwarded = client.send(
                HttpRequest.newBuilder(URI.create("http://uncertified.shop.test/echo?x=1"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(redirect.statusCode()).isEqualTo(308);
        assertThat(redirect.headers().firstValue("location"))
                .hasValue("https://links.shop.test:" + proxy.httpsPort() + "/ls/click?upn=a%2Fb");
        assertThat(forwarded.statusCode()).isEqualTo(200);
        assertThat(forwarded.body()).startsWith("GET /echo?x=1\n").contains("host: uncertified.shop.test\n");
    }

    @Test
    void postToAnUncertifiedDomainIsForwardedWithItsBody() throws Exception {
        Curl.Result result = curlHttp("links.shop.test", "/unsubscribe", "--data-binary", "email=a%40b.example");

        assertThat(result.status()).isEqualTo(200);
        assertThat(result.text()).isEqualTo("email=a%40b.example");
    }
}

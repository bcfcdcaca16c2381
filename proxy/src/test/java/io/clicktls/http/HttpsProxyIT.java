package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.testing.StandInPlatform;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HttpsProxyIT extends ProxyFixture {

    @ParameterizedTest
    @ValueSource(strings = {"--http1.1", "--http2"})
    void platformRedirectPassesThroughUnchanged(String protocol) throws Exception {
        CurlResult result = curlHttps("links.shop.test", "/ls/click?upn=abc123", protocol);

        assertThat(result.status()).as(result.stderr()).isEqualTo(302);
        assertThat(result.header("location")).isEqualTo("https://destination.example/landing?x=1");
        assertThat(result.httpVersion()).isEqualTo(protocol.equals("--http2") ? "2" : "1.1");
        assertThat(standIn.requests("/ls/click")).hasSize(1);
        StandInPlatform.Received received = standIn.last();
        assertThat(received.rawUri()).isEqualTo("/ls/click?upn=abc123");
        assertThat(received.header("host")).isEqualTo("links.shop.test:" + proxy.httpsPort());
    }
}

package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import org.junit.jupiter.api.Test;

class RequestTargetTest {

    @Test
    void originFormIsKeptByteForByte() {
        String target = "/CL0/https:%2F%2Fexample.com%2F/1/abc==/x?y=%2F&z=//a/../b";

        ProxyHandler.RequestTarget parsed = ProxyHandler.RequestTarget.of(request(HttpMethod.GET, target));

        assertThat(parsed.path()).isEqualTo(target);
        assertThat(parsed.authority()).isNull();
    }

    @Test
    void absoluteFormGivesTheAuthorityAndTheUntouchedPath() {
        ProxyHandler.RequestTarget parsed =
                ProxyHandler.RequestTarget.of(request(HttpMethod.GET, "HTTP://Links.Shop.test:80//a%2F?b=/c"));
        ProxyHandler.RequestTarget bare =
                ProxyHandler.RequestTarget.of(request(HttpMethod.GET, "https://links.shop.test?x=1"));

        assertThat(parsed.authority()).isEqualTo("Links.Shop.test:80");
        assertThat(parsed.path()).isEqualTo("//a%2F?b=/c");
        assertThat(bare.authority()).isEqualTo("links.shop.test");
        assertThat(bare.path()).isEqualTo("/?x=1");
    }

    @Test
    void formsAReverseProxyCannotForwardAreRefused() {
        assertThat(ProxyHandler.RequestTarget.of(request(HttpMethod.CONNECT, "links.shop.test:443")))
                .isNull();
        assertThat(ProxyHandler.RequestTarget.of(request(HttpMethod.GET, "*"))).isNull();
        assertThat(ProxyHandler.RequestTarget.of(request(HttpMethod.OPTIONS, "*")))
                .isNotNull();
        assertThat(ProxyHandler.RequestTarget.of(request(HttpMethod.GET, "ftp://x/y")))
                .isNull();
        assertThat(ProxyHandler.RequestTarget.of(request(HttpMethod.GET, "http://user@x/y")))
                .isNull();
        assertThat(ProxyHandler.RequestTarget.of(request(HttpMethod.GET, "http:///y")))
                .isNull();
    }

    @Test
    void hostNameDropsThePortAndCaseAndATrailingDot() {
        assertThat(ProxyHandler.hostName("Links.Shop.TEST:8443")).isEqualTo("links.shop.test");
        assertThat(ProxyHandler.hostName("links.shop.test.")).isEqualTo("links.shop.test");
        assertThat(ProxyHandler.hostName("[2001:DB8::1]:443")).isEqualTo("2001:db8::1");
        assertThat(ProxyHandler.hostName("links.shop.test:https")).isNull();
        assertThat(ProxyHandler.hostName(" ")).isNull();
        assertThat(ProxyHandler.hostName(null)).isNull();
    }

    private static DefaultHttpRequest request(HttpMethod method, String uri) {
        return new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, uri);
    }
}

package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class LocationRewriterTest {

    private static final Predicate<String> READY = Set.of("links.shop.com", "email.brand.test")::contains;
    private static final LinkPorts STANDARD = LinkPorts.STANDARD;
    /** The quickstart's listeners: https on 8443, http on 8080. */
    private static final LinkPorts QUICKSTART = LinkPorts.of(8443, 8080);

    /** {@code https/http/boundHttps} as {@link LinkPorts} takes them, e.g. {@code 9443/8080/8443} */
    private static LinkPorts listeners(String ports) {
        String[] each = ports.split("/");
        return new LinkPorts(Integer.parseInt(each[0]), Integer.parseInt(each[1]), Integer.parseInt(each[2]));
    }

    @ParameterizedTest(name = "{1} behind listeners {0}")
    @CsvSource(
            delimiter = '|',
            value = {
                // the production listeners, 443 and 80
                "443/80/443 | http://links.shop.com/ls/click?upn=a1&b=2#top | https://links.shop.com/ls/click?upn=a1&b=2#top",
                "443/80/443 | http://links.shop.com | https://links.shop.com",
                "443/80/443 | http://links.shop.com/ | https://links.shop.com/",
                "443/80/443 | http://links.shop.com?q=1 | https://links.shop.com?q=1",
                "443/80/443 | http://links.shop.com#f | https://links.shop.com#f",
                "443/80/443 | HTTP://links.shop.com/x | https://links.shop.com/x",
                "443/80/443 | Http://Links.Shop.COM/X | https://Links.Shop.COM/X",
                "443/80/443 | http://links.shop.com:80/ls/click | https://links.shop.com/ls/click",
                "443/80/443 | http://links.shop.com:80 | https://links.shop.com",
                "443/80/443 | http://links.shop.com:80?x | https://links.shop.com?x",
                "443/80/443 | http://email.brand.test/wf/click?upn=x | https://email.brand.test/wf/click?upn=x",
                "443/80/443 | http://links.shop.com/@evil.net | https://links.shop.com/@evil.net",
                // on non-standard listeners (the quickstart's: https on 8443, http on 8080) a link without port or
                // with one of the proxy's ports gets the https port
                "8443/8080/8443 | http://links.shop.com/landing | https://links.shop.com:8443/landing",
                "8443/8080/8443 | http://links.shop.com | https://links.shop.com:8443",
                "8443/8080/8443 | http://links.shop.com:80/landing | https://links.shop.com:8443/landing",
                "8443/8080/8443 | http://links.shop.com:8080/landing | https://links.shop.com:8443/landing",
                "8443/8080/8443 | http://links.shop.com:8443/landing | https://links.shop.com:8443/landing",
                "8443/8080/8443 | http://links.shop.com:8443 | https://links.shop.com:8443",
                "8443/8080/8443 | http://links.shop.com:8443?q=1 | https://links.shop.com:8443?q=1",
                "8443/8080/8443 | HTTP://Links.Shop.COM:8443#f | https://Links.Shop.COM:8443#f",
                // with the standard listeners an http link to port 443 is ours too (8443 is another service)
                "443/80/443 | http://links.shop.com:80/x | https://links.shop.com/x",
                "443/80/443 | http://links.shop.com:443/x | https://links.shop.com/x",
                // an https port of 443 is left out even when the http listener is elsewhere
                "443/8080/443 | http://links.shop.com:8080/x | https://links.shop.com/x",
                "443/8080/443 | http://links.shop.com/x | https://links.shop.com/x",
                // behind a port mapping the bound and the public https ports are both ours; the public one is written
                "443/8080/8443 | http://links.shop.com:8443/x | https://links.shop.com/x",
                "9443/8080/8443 | http://links.shop.com:9443/x | https://links.shop.com:9443/x",
                "9443/8080/8443 | http://links.shop.com:8443/x | https://links.shop.com:9443/x",
                // while the http listener is not bound the https port still is the proxy's
                "8443/-1/8443 | http://links.shop.com:8443/x | https://links.shop.com:8443/x",
            })
    void absoluteHttpLocationOfAReadyHostIsUpgraded(String ports, String location, String expected) {
        assertThat(LocationRewriter.upgrade(location, READY, listeners(ports))).isEqualTo(expected);
    }

    /** The look-alikes both rewriters leave alone, and those particular to this one. */
    static Stream<String> otherLocations() {
        return LookalikeLinks.commonAnd(
                "http://user:secret@links.shop.com/",
                "http://links.shop.com:8080/ls/click",
                "http://links.shop.com:8443/ls/click",
                "http://links.shop.com\\@evil.net/",
                "http://links.shop.com%2eevil.net/",
                "http://links.shop.com_/",
                "http://[::1]/",
                "http://",
                "http:links.shop.com/",
                "//links.shop.com/ls/click",
                "/ls/click?upn=1",
                "ftp://links.shop.com/",
                "http://www.example.com/?u=http://links.shop.com/",
                "http://other.test/",
                "");
    }

    @ParameterizedTest
    @MethodSource("otherLocations")
    void anyOtherLocationIsLeftAsTheSameString(String location) {
        assertThat(LocationRewriter.upgrade(location, READY, STANDARD)).isSameAs(location);
    }

    @Test
    void nullStaysNull() {
        assertThat(LocationRewriter.upgrade(null, READY, STANDARD)).isNull();
    }

    @Test
    void theReadinessQuestionIsAskedWithTheLowerCaseHostOnly() {
        List<String> asked = new ArrayList<>();
        LocationRewriter.upgrade("http://LINKS.Shop.com:80/P?Q#F", host -> asked.add(host) && false, STANDARD);
        assertThat(asked).containsExactly("links.shop.com");
    }

    @Test
    void aHostThatIsNotReadyKeepsTheLinkAsItIs() {
        String location = "http://links.shop.com/ls/click";
        assertThat(LocationRewriter.upgrade(location, host -> false, STANDARD)).isSameAs(location);
    }

    @Test
    void pathQueryAndFragmentAreKeptByteForByte() {
        String rest = "/a%20b/%C3%BC/ü;p=1?q=%2F&r=a+b&s=http://links.shop.com/#frag?x";
        assertThat(LocationRewriter.upgrade("http://links.shop.com" + rest, READY, STANDARD))
                .isEqualTo("https://links.shop.com" + rest);
    }

    @Test
    void aHostLongerThanDnsAllowsIsLeftAlone() {
        String label = "a".repeat(63);
        String host253 = String.join(".", label, label, label, "a".repeat(61));
        String host254 = "b" + host253;
        assertThat(LocationRewriter.upgrade("http://" + host253 + "/", host -> true, STANDARD))
                .isEqualTo("https://" + host253 + "/");
        String tooLong = "http://" + host254 + "/";
        assertThat(LocationRewriter.upgrade(tooLong, host -> true, STANDARD)).isSameAs(tooLong);
        String longLabel = "http://" + "c".repeat(64) + ".shop.com/";
        assertThat(LocationRewriter.upgrade(longLabel, host -> true, STANDARD)).isSameAs(longLabel);
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "http://links.shop.com:9000/",
                "http://links.shop.com:443/",
                "http://links.shop.com:8444/",
                "http://links.shop.com:08443/",
                "http://links.shop.com:84430/",
                "http://links.shop.com:65536/",
                "http://links.shop.com:0/",
                "http://links.shop.com:/",
                "http://links.shop.com:8443@evil.net/",
                "http://links.shop.com:8443:8443/",
                "http://links.shop.com:8443\\evil.net/",
                "http://links.shop.com:8443x/",
                "http://links.shop.com.evil.net:8443/",
                "http://other.test:8443/",
            })
    void onNonStandardListenersAnyOtherPortOrLookAlikeIsLeftAlone(String location) {
        assertThat(LocationRewriter.upgrade(location, READY, QUICKSTART)).isSameAs(location);
    }

    @Test
    void withTheStandardListenersPort8443IsAnotherService() {
        String other = "http://links.shop.com:8443/x";
        assertThat(LocationRewriter.upgrade(other, READY, STANDARD)).isSameAs(other);
    }

    @Test
    void whileTheHttpListenerIsNotBoundItsPortCannotBeMatched() {
        String other = "http://links.shop.com:8080/x";
        assertThat(LocationRewriter.upgrade(other, READY, new LinkPorts(8443, -1, 8443)))
                .isSameAs(other);
    }
}

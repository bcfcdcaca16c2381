package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class LocationRewriterTest {

    private static final Predicate<String> READY = Set.of("links.shop.com", "email.brand.test")::contains;

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "http://links.shop.com/ls/click?upn=a1&b=2#top | https://links.shop.com/ls/click?upn=a1&b=2#top",
        "http://links.shop.com | https://links.shop.com",
        "http://links.shop.com/ | https://links.shop.com/",
        "http://links.shop.com?q=1 | https://links.shop.com?q=1",
        "http://links.shop.com#f | https://links.shop.com#f",
        "HTTP://links.shop.com/x | https://links.shop.com/x",
        "Http://Links.Shop.COM/X | https://Links.Shop.COM/X",
        "http://links.shop.com:80/ls/click | https://links.shop.com/ls/click",
        "http://links.shop.com:80 | https://links.shop.com",
        "http://links.shop.com:80?x | https://links.shop.com?x",
        "http://email.brand.test/wf/click?upn=x | https://email.brand.test/wf/click?upn=x",
        "http://links.shop.com/@evil.net | https://links.shop.com/@evil.net",
    })
    void absoluteHttpLocationOfAReadyHostIsUpgraded(String location, String expected) {
        assertThat(LocationRewriter.upgrade(location, READY)).isEqualTo(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "http://links.shop.com.evil.net/",
        "http://xlinks.shop.com/",
        "http://links.shop.com@evil.net/",
        "http://user@links.shop.com/",
        "http://user:secret@links.shop.com/",
        "http://links.shop.com:80@evil.net/",
        "http://links.shop.com:8080/ls/click",
        "http://links.shop.com:443/",
        "http://links.shop.com:/",
        "http://links.shop.com:080/",
        "http://links.shop.com:800/",
        "http://links.shop.com./",
        "http://links.shop.com\\@evil.net/",
        "http://links.shop.com%2eevil.net/",
        "http://links.shop.com_/",
        "http://[::1]/",
        "http:///links.shop.com/",
        "http://",
        "http:/links.shop.com/",
        "http:links.shop.com/",
        "//links.shop.com/ls/click",
        "/ls/click?upn=1",
        "https://links.shop.com/",
        "ftp://links.shop.com/",
        "xhttp://links.shop.com/",
        "http://www.example.com/?u=http://links.shop.com/",
        "http://other.test/",
        "",
    })
    void anyOtherLocationIsLeftAsTheSameString(String location) {
        assertThat(LocationRewriter.upgrade(location, READY)).isSameAs(location);
    }

    @Test
    void nullStaysNull() {
        assertThat(LocationRewriter.upgrade(null, READY)).isNull();
    }

    @Test
    void theReadinessQuestionIsAskedWithTheLowerCaseHostOnly() {
        List<String> asked = new ArrayList<>();
        LocationRewriter.upgrade("http://LINKS.Shop.com:80/P?Q#F", host -> asked.add(host) && false);
        assertThat(asked).containsExactly("links.shop.com");
    }

    @Test
    void aHostThatIsNotReadyKeepsTheLinkAsItIs() {
        String location = "http://links.shop.com/ls/click";
        assertThat(LocationRewriter.upgrade(location, host -> false)).isSameAs(location);
    }

    @Test
    void pathQueryAndFragmentAreKeptByteForByte() {
        String rest = "/a%20b/%C3%BC/ü;p=1?q=%2F&r=a+b&s=http://links.shop.com/#frag?x";
        assertThat(LocationRewriter.upgrade("http://links.shop.com" + rest, READY))
                .isEqualTo("https://links.shop.com" + rest);
    }

    @Test
    void aHostLongerThanDnsAllowsIsLeftAlone() {
        String label = "a".repeat(63);
        String host253 = String.join(".", label, label, label, "a".repeat(61));
        String host254 = "b" + host253;
        assertThat(LocationRewriter.upgrade("http://" + host253 + "/", host -> true))
                .isEqualTo("https://" + host253 + "/");
        String tooLong = "http://" + host254 + "/";
        assertThat(LocationRewriter.upgrade(tooLong, host -> true)).isSameAs(tooLong);
        String longLabel = "http://" + "c".repeat(64) + ".shop.com/";
        assertThat(LocationRewriter.upgrade(longLabel, host -> true)).isSameAs(longLabel);
    }
}

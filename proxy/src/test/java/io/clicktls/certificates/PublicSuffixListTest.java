package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.StringReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PublicSuffixListTest {

    private final PublicSuffixList bundled = PublicSuffixList.bundled();

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
        "links.shop.com, shop.com",
        "shop.com, shop.com",
        "www.www.links.shop.com, shop.com",
        "links.shop.co.uk, shop.co.uk",
        "a.b.example.github.io, example.github.io",
        "links.example.test, example.test",
        // *.ck with the exception !www.ck
        "a.b.ck, a.b.ck",
        "x.www.ck, www.ck",
        "www.ck, www.ck",
        // *.kawasaki.jp with the exception !city.kawasaki.jp
        "shop.anything.kawasaki.jp, shop.anything.kawasaki.jp",
        "links.city.kawasaki.jp, city.kawasaki.jp",
        // an internationalized rule (公司.cn), kept in punycode
        "links.shop.xn--55qx5d.cn, shop.xn--55qx5d.cn",
    })
    void registeredDomainIsThePublicSuffixAndOneMoreLabel(String name, String registered) {
        assertThat(bundled.registeredDomain(name)).contains(registered);
    }

    @ParameterizedTest
    @CsvSource({"com", "co.uk", "github.io", "anything.ck", "anything.kawasaki.jp", "xn--55qx5d.cn", "test"})
    void publicSuffixesHaveNoRegisteredDomain(String name) {
        assertThat(bundled.isPublicSuffix(name)).isTrue();
        assertThat(bundled.registeredDomain(name)).isEmpty();
    }

    @Test
    void exceptionRulesBeatTheWildcardTheyExcept() {
        assertThat(bundled.publicSuffix("www.ck")).isEqualTo("ck");
        assertThat(bundled.isPublicSuffix("www.ck")).isFalse();
        assertThat(bundled.publicSuffix("other.ck")).isEqualTo("other.ck");
    }

    @Test
    void aNameNoRuleMatchesHasItsLastLabelAsSuffix() {
        assertThat(bundled.publicSuffix("links.shop.nosuchtld")).isEqualTo("nosuchtld");
        assertThat(bundled.registeredDomain("links.shop.nosuchtld")).contains("shop.nosuchtld");
    }

    @Test
    void aSmallListIsReadWithCommentsWildcardsAndExceptions() throws Exception {
        PublicSuffixList list = PublicSuffixList.parse(
                new StringReader(
                        """
                // a comment
                com
                *.wild.com
                !keep.wild.com

                tail.org  everything after the first word is ignored
                """));

        assertThat(list.registeredDomain("a.b.com")).contains("b.com");
        assertThat(list.registeredDomain("a.b.wild.com")).contains("a.b.wild.com");
        assertThat(list.isPublicSuffix("b.wild.com")).isTrue();
        assertThat(list.registeredDomain("x.keep.wild.com")).contains("keep.wild.com");
        assertThat(list.registeredDomain("x.y.tail.org")).contains("y.tail.org");
    }
}

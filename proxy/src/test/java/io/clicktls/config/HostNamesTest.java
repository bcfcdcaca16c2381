package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class HostNamesTest {

    private static final String LABEL_63 = "a".repeat(63);
    private static final String NAME_253 = (LABEL_63 + ".").repeat(3) + "a".repeat(61);

    @ParameterizedTest
    @ValueSource(
            strings = {
                "a.test",
                "links.shop.test",
                "1password.com",
                "xn--caf-dma.test",
                "links.xn--caf-dma.test",
                "a-b.test",
                "123.example",
                "localhost",
                "co.uk" // a public suffix: the policy's rule, not a syntax one
            })
    void hostNamesACaCouldIssueForAreValid(String name) {
        assertThat(HostNames.isValid(name)).isTrue();
        assertThat(HostNames.explain(name)).isNull();
    }

    @Test
    void lengthLimitsOfNamesAndLabelsHold() {
        assertThat(HostNames.isValid(LABEL_63 + ".test")).isTrue();
        assertThat(NAME_253).hasSize(253);
        assertThat(HostNames.isValid(NAME_253)).isTrue();
    }

    static Stream<Arguments> invalidNames() {
        return Stream.of(
                Arguments.of("", "is empty"),
                Arguments.of(NAME_253 + "a", "is longer than 253 characters"),
                Arguments.of("a".repeat(64) + ".test", "has a label longer than 63 characters"),
                Arguments.of("a..b", "has an empty label"),
                Arguments.of(".a.test", "has an empty label"),
                Arguments.of("-a.test", "has a label that starts or ends with '-'"),
                Arguments.of("a-.test", "has a label that starts or ends with '-'"),
                Arguments.of("a_b.test", "has the character '_'"),
                Arguments.of("a b.test", "has the character ' '"),
                Arguments.of("../../acme/account-key.pem", "has an empty label"),
                Arguments.of("a/b.test", "has the character '/'"),
                Arguments.of("*.shop.test", "is a wildcard, which is not allowed here"),
                Arguments.of("a.*.test", "has '*' somewhere other than a leading '*.' label"),
                Arguments.of("127.0.0.1", "is an IP address"),
                Arguments.of("10.0.0.300", "is an IP address"),
                Arguments.of("::1", "is an IP address"),
                Arguments.of("[::1]", "has the character '['"),
                Arguments.of("links.shop.test:443", "is an IP address"),
                Arguments.of("a.test.", "ends with a dot"),
                Arguments.of("UPPER.test", "has upper-case letters"),
                Arguments.of("caf\u00e9.test", "has the non-ASCII character '\u00e9' (expected: punycode)"),
                Arguments.of("ab--cd.test", "has a label with '--' in third and fourth place that is not punycode"),
                Arguments.of("xn--a.test", "has a label with '--' in third and fourth place that is not punycode"),
                Arguments.of("xn--.test", "has a label that starts or ends with '-'"),
                Arguments.of("links.xn--zz-.test", "has a label that starts or ends with '-'"),
                Arguments.of("xn--zzzz.test", "has a label with '--' in third and fourth place that is not punycode"));
    }

    @ParameterizedTest
    @MethodSource("invalidNames")
    void invalidNamesAreExplained(String name, String explanation) {
        assertThat(HostNames.isValid(name)).isFalse();
        assertThat(HostNames.explain(name)).startsWith(explanation);
    }

    @Test
    void aMissingNameIsInvalid() {
        assertThat(HostNames.isValid(null)).isFalse();
        assertThat(HostNames.explain(null)).isEqualTo("is missing");
    }

    @ParameterizedTest
    @CsvSource({
        "links.shop.test, links.shop.test",
        "LINKS.Shop.Test, links.shop.test",
        "links.shop.test., links.shop.test",
        "Links.Shop.Test., links.shop.test",
        "a..b, a..b"
    })
    void normalizingLowersCaseAndDropsOneTrailingDot(String raw, String normal) {
        assertThat(HostNames.normalize(raw)).isEqualTo(normal);
    }

    @Test
    void aNameInNormalFormIsReturnedAsIs() {
        String name = "links.shop.test";
        assertThat(HostNames.normalize(name)).isSameAs(name);
        assertThat(HostNames.check(name, false, new StringBuilder())).isSameAs(name);
    }

    @ParameterizedTest
    @CsvSource({
        "Links.Shop.Test., false, links.shop.test",
        "caf\u00e9.test, false, xn--caf-dma.test",
        "*.Shop.Test, true, *.shop.test"
    })
    void theConfigsCheckNormalizesIncludingPunycode(String raw, boolean wildcard, String normal) {
        assertThat(HostNames.check(raw, wildcard, new StringBuilder())).isEqualTo(normal);
    }

    @ParameterizedTest
    @CsvSource({
        "a.test.., has an empty label",
        "*.test, is a wildcard over a top-level name",
        "UPPER_CASE.test, has the character '_'",
        "ab--cd.test, has a label with '--' in third and fourth place"
    })
    void theConfigsCheckExplainsWhatNormalizingCannotMend(String raw, String explanation) {
        StringBuilder problem = new StringBuilder();
        assertThat(HostNames.check(raw, true, problem)).isNull();
        assertThat(problem.toString()).startsWith(explanation);
    }

    @ParameterizedTest
    @CsvSource({"127.0.0.1, /127.0.0.1", "::1, /0:0:0:0:0:0:0:1", "[::1], /0:0:0:0:0:0:0:1", "10.0.0.255, /10.0.0.255"})
    void ipLiteralsAreParsedWithoutALookup(String text, String address) {
        assertThat(HostNames.ipLiteral(text)).hasToString(address);
    }

    @ParameterizedTest
    @ValueSource(strings = {"links.shop.test", "localhost", "10.0.0.300", "1.2.3", "[links.shop.test]", "::g"})
    void namesAndBrokenAddressesAreNoIpLiterals(String text) {
        assertThat(HostNames.ipLiteral(text)).isNull();
    }
}

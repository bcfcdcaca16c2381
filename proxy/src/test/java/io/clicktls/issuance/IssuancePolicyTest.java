package io.clicktls.issuance;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.config.ConfigSnapshot;
import io.clicktls.testing.TestPki;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IssuancePolicyTest {

    private final IssuancePolicy policy = new IssuancePolicy();
    private final ConfigSnapshot config = ConfigSnapshot.of(TestPki.config(
            Path.of("/tmp/unused"), Duration.ofSeconds(1), List.of("links.example.com", "*.shop.test")));

    @Test
    void configuredExactAndWildcardNamesAreAllowed() {
        assertThat(policy.decide("links.example.com", config).allowed()).isTrue();
        assertThat(policy.decide("links.shop.test", config).allowed()).isTrue();
        assertThat(policy.decide("links.shop.test", config).reason()).isNull();
    }

    @Test
    void validNamesOutsideTheDomainTableAreNotConfigured() {
        assertThat(policy.decide("example.com", config)).isEqualTo(IssuancePolicy.Decision.refuse("not_configured"));
        assertThat(policy.decide("a.b.shop.test", config).reason()).isEqualTo(IssuancePolicy.NOT_CONFIGURED);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "127.0.0.1", "10.0.0.300", "::1", "[::1]", "a..b", ".a.test", "a.test.", "-a.test",
        "a-.test", "a_b.test", "*.shop.test", "UPPER.test", "caf\u00e9.test", "a b.test", "links.shop.test:443"})
    void namesThatAreNotHostNamesAreInvalid(String name) {
        assertThat(policy.decide(name, config).reason()).isEqualTo(IssuancePolicy.INVALID_NAME);
    }

    @Test
    void lengthLimitsOfNamesAndLabelsHold() {
        String label63 = "a".repeat(63);
        assertThat(IssuancePolicy.validHostName(label63 + ".test")).isTrue();
        assertThat(IssuancePolicy.validHostName(label63 + "a.test")).isFalse();
        String name253 = (label63 + ".").repeat(3) + "a".repeat(61);
        assertThat(name253).hasSize(253);
        assertThat(IssuancePolicy.validHostName(name253)).isTrue();
        assertThat(IssuancePolicy.validHostName(name253 + "a")).isFalse();
        assertThat(IssuancePolicy.validHostName(null)).isFalse();
        assertThat(IssuancePolicy.validHostName("xn--caf-dma.test")).isTrue();
        assertThat(IssuancePolicy.validHostName("1password.com")).isTrue();
    }
}

package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class DomainTableTest {

    private final Platform sendgrid =
            new Platform("sendgrid", URI.create("https://sendgrid.net"), Platform.HostHeader.PRESERVE);
    private final Platform standIn =
            new Platform("stand-in", URI.create("http://127.0.0.1:8081"), Platform.HostHeader.PRESERVE);
    private final DomainTable table = new DomainTable(
            List.of(new Domain("links.example.com", "sendgrid"), new Domain("*.shop.test", "stand-in")),
            Map.of("sendgrid", sendgrid, "stand-in", standIn));

    @Test
    void exactNameMatchesIgnoringCaseAndTrailingDot() {
        assertThat(platformFor("links.example.com")).contains(sendgrid);
        assertThat(platformFor("LINKS.Example.COM.")).contains(sendgrid);
    }

    @Test
    void wildcardMatchesExactlyOneMoreLabel() {
        assertThat(platformFor("links.shop.test")).contains(standIn);
        assertThat(table.find("shop.test")).isEmpty();
        assertThat(table.find("a.b.shop.test")).isEmpty();
    }

    @Test
    void unknownAndEmptyNamesAreNotServed() {
        assertThat(table.find("example.com")).isEmpty();
        assertThat(table.find("")).isEmpty();
        assertThat(table.find(null)).isEmpty();
        assertThat(table.serves("evil.example.com")).isFalse();
    }

    @Test
    void domainWithUnknownPlatformIsRejected() {
        assertThatThrownBy(() -> new DomainTable(List.of(new Domain("a.test", "nope")), Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("nope");
    }

    private Optional<Platform> platformFor(String name) {
        return table.find(name).map(DomainTable.Route::platform);
    }
}

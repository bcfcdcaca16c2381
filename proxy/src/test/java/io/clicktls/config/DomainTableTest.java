package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.util.List;
import java.util.Map;
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
        assertThat(table.find("links.example.com"))
                .get()
                .extracting(DomainTable.Route::platform)
                .isEqualTo(sendgrid);
        assertThat(table.find("LINKS.Example.COM."))
                .get()
                .extracting(DomainTable.Route::platform)
                .isEqualTo(sendgrid);
    }

    @Test
    void wildcardMatchesExactlyOneMoreLabel() {
        assertThat(table.find("links.shop.test"))
                .get()
                .extracting(DomainTable.Route::platform)
                .isEqualTo(standIn);
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
}

package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

class ConnectionNamesTest {

    @Test
    void wildcardCoversExactlyOneLabel() {
        assertThat(ConnectionNames.nameCovers("*.shop.test", "links.shop.test")).isTrue();
        assertThat(ConnectionNames.nameCovers("*.shop.test", "a.b.shop.test")).isFalse();
        assertThat(ConnectionNames.nameCovers("*.shop.test", "shop.test")).isFalse();
        assertThat(ConnectionNames.nameCovers("links.shop.test", "links.shop.test"))
                .isTrue();
        assertThat(ConnectionNames.nameCovers("links.shop.test", "other.shop.test"))
                .isFalse();
    }

    @Test
    void serverNameRecordedOnTheConnectionDecides() {
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.attr(ProxyServer.SERVER_NAME).set("Links.Shop.Test");

        assertThat(ConnectionNames.hostMatches(channel, "links.shop.test")).isTrue();
        assertThat(ConnectionNames.hostMatches(channel, "other.shop.test")).isFalse();
    }

    @Test
    void connectionWithoutTlsMatchesNoHost() {
        assertThat(ConnectionNames.hostMatches(new EmbeddedChannel(), "links.shop.test"))
                .isFalse();
    }
}

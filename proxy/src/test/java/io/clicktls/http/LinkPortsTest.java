package io.clicktls.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class LinkPortsTest {

    @Test
    void theStandardListenersOwnPorts80And443AndWriteNoPort() {
        assertThat(LinkPorts.STANDARD.upgrades(80)).isTrue();
        assertThat(LinkPorts.STANDARD.upgrades(443)).isTrue();
        assertThat(LinkPorts.STANDARD.upgrades(8080)).isFalse();
        assertThat(LinkPorts.STANDARD.upgrades(8443)).isFalse();
        assertThat(LinkPorts.STANDARD.httpsSuffix()).isEmpty();
    }

    @Test
    void otherListenersOwnTheirPortsAnd80AndWriteThePublicHttpsPort() {
        LinkPorts ports = new LinkPorts(9443, 8080, 8443);
        assertThat(ports.upgrades(80)).isTrue();
        assertThat(ports.upgrades(8080)).isTrue();
        assertThat(ports.upgrades(8443)).isTrue();
        assertThat(ports.upgrades(9443)).isTrue();
        assertThat(ports.upgrades(443)).isFalse();
        assertThat(ports.upgrades(9000)).isFalse();
        assertThat(ports.httpsSuffix()).isEqualTo(":9443");
    }

    @Test
    void anUnboundHttpListenerMatchesNoPort() {
        LinkPorts ports = new LinkPorts(8443, -1, 8443);
        assertThat(ports.upgrades(-1)).isFalse();
        assertThat(ports.upgrades(8443)).isTrue();
    }

    @Test
    void portsOutOfRangeAreRejected() {
        assertThatThrownBy(() -> LinkPorts.of(0, 80)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> LinkPorts.of(443, 65536)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new LinkPorts(443, 80, -1)).isInstanceOf(IllegalArgumentException.class);
    }
}

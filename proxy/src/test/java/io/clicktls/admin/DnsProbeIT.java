package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class DnsProbeIT {

    private static ChallTestDns dns;
    private static DnsProbe probe;

    @BeforeAll
    static void start() throws Exception {
        dns = ChallTestDns.start();
        probe = DnsProbe.create(dns.address(), Duration.ofSeconds(2));
    }

    @AfterAll
    static void stop() {
        if (probe != null) {
            probe.close();
        }
        if (dns != null) {
            dns.close();
        }
    }

    @Test
    void plainNameResolvesToTheServersDefaultAddress() throws Exception {
        DnsProbe.Resolution resolution = probe.resolve("plain.example.test").get(5, TimeUnit.SECONDS);

        assertThat(resolution.problem()).isNull();
        assertThat(resolution.cnameChain()).isEmpty();
        assertThat(resolution.addresses()).containsExactly(InetAddress.getByName("127.0.0.1"));
    }

    @Test
    void cnameChainIsFollowedToTheAddressesAtItsEnd() throws Exception {
        dns.setCname("links.chain.test", "hop.chain.test");
        dns.setCname("hop.chain.test", "proxy.chain.test");
        dns.addA("proxy.chain.test", "10.1.2.3");
        dns.addAaaa("proxy.chain.test", "2001:db8::7");

        DnsProbe.Resolution resolution = probe.resolve("Links.Chain.Test.").get(5, TimeUnit.SECONDS);

        assertThat(resolution.problem()).isNull();
        assertThat(resolution.cnameChain()).containsExactly("hop.chain.test", "proxy.chain.test");
        assertThat(resolution.canonicalName()).isEqualTo("proxy.chain.test");
        assertThat(resolution.addresses())
                .containsExactly(InetAddress.getByName("10.1.2.3"), InetAddress.getByName("2001:db8::7"));
    }

    @Test
    void caaIsFoundAtTheClosestNameUpTheTree() throws Exception {
        dns.addCaa("caa.test", "issue", "letsencrypt.org", "iodef", "mailto:ops@caa.test");

        DnsProbe.CaaLookup lookup = probe.caa("links.shop.caa.test").get(5, TimeUnit.SECONDS);

        assertThat(lookup.problem()).isNull();
        assertThat(lookup.foundAt()).isEqualTo("caa.test");
        assertThat(lookup.records()).containsExactly(
                new DnsProbe.CaaRecord(0, "issue", "letsencrypt.org"),
                new DnsProbe.CaaRecord(0, "iodef", "mailto:ops@caa.test"));
    }

    @Test
    void nameWithoutCaaAnywhereHasNone() throws Exception {
        DnsProbe.CaaLookup lookup = probe.caa("links.nocaa.test").get(5, TimeUnit.SECONDS);

        assertThat(lookup.problem()).isNull();
        assertThat(lookup.foundAt()).isNull();
        assertThat(lookup.records()).isEmpty();
    }

    @Test
    void servfailIsReportedAsAProblem() throws Exception {
        dns.setServfail("broken.test");

        DnsProbe.Resolution resolution = probe.resolve("broken.test").get(10, TimeUnit.SECONDS);

        assertThat(resolution.resolved()).isFalse();
        assertThat(resolution.problem()).isNotBlank();
    }
}

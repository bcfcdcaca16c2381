package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.testing.Pebble;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The DNS check against pebble-challtestsrv, with records set per name through its management API. */
class DnsCheckIT {

    private static final List<String> PROXY = List.of("proxy.example.net");

    private static Pebble pebble;
    private static DnsCheck dns;

    @BeforeAll
    static void start() {
        pebble = Pebble.builder().start();
        String[] server = pebble.dnsServer().split(":");
        dns = DnsCheck.create(new InetSocketAddress(server[0], Integer.parseInt(server[1])), Duration.ofSeconds(2));
        pebble.addA("proxy.example.net", "10.9.9.9");
    }

    @AfterAll
    static void stop() {
        if (dns != null) {
            dns.close();
        }
        if (pebble != null) {
            pebble.close();
        }
    }

    @Test
    void aNameWhoseAddressIsAnExpectedAddressPointsHere() {
        DnsCheck.Report report =
                dns.check("plain.default.test", List.of("127.0.0.1")).join();

        assertThat(report.verdict()).isEqualTo(DnsCheck.Verdict.POINTS_HERE);
        assertThat(report.chain()).isEmpty();
        assertThat(report.addresses()).extracting(InetAddress::getHostAddress).containsExactly("127.0.0.1");
        assertThat(report.explanation())
                .isEqualTo("plain.default.test resolves to 127.0.0.1, an address of this proxy");
    }

    @Test
    void aCnameChainEndingAtTheProxysNamePointsHereAndListsEveryHop() {
        pebble.setCname("www.www.links.chain.test", "www.links.chain.test");
        pebble.setCname("www.links.chain.test", "links.chain.test");
        pebble.setCname("links.chain.test", "proxy.example.net");

        DnsCheck.Report report = dns.check("www.www.links.chain.test", PROXY).join();

        assertThat(report.verdict()).isEqualTo(DnsCheck.Verdict.POINTS_HERE);
        assertThat(report.chain())
                .containsExactly(
                        new DnsCheck.Hop("www.www.links.chain.test", "www.links.chain.test"),
                        new DnsCheck.Hop("www.links.chain.test", "links.chain.test"),
                        new DnsCheck.Hop("links.chain.test", "proxy.example.net"));
        assertThat(report.canonicalName()).isEqualTo("proxy.example.net");
        assertThat(report.addresses()).extracting(InetAddress::getHostAddress).containsExactly("10.9.9.9");
    }

    @Test
    void aCnameToThePlatformIsExplainedWithWhatToChange() {
        pebble.setCname("links.shop.test", "sendgrid.net");
        pebble.addA("sendgrid.net", "10.1.2.3");

        DnsCheck.Report report = dns.check("links.shop.test", PROXY).join();

        assertThat(report.verdict()).isEqualTo(DnsCheck.Verdict.POINTS_ELSEWHERE);
        assertThat(report.explanation())
                .isEqualTo("links.shop.test is a CNAME to sendgrid.net: point it at proxy.example.net");
        assertThat(report.addresses()).extracting(InetAddress::getHostAddress).containsExactly("10.1.2.3");
    }

    @Test
    void addressesOfTheExpectedNamesCountAsThisProxysAddresses() {
        pebble.addA("apex.shop.test", "10.9.9.9");
        pebble.addA("other.shop.test", "10.7.7.7");

        assertThat(dns.check("apex.shop.test", PROXY).join().verdict()).isEqualTo(DnsCheck.Verdict.POINTS_HERE);
        DnsCheck.Report other = dns.check("other.shop.test", PROXY).join();
        assertThat(other.verdict()).isEqualTo(DnsCheck.Verdict.POINTS_ELSEWHERE);
        assertThat(other.explanation())
                .isEqualTo("other.shop.test resolves to 10.7.7.7, not to this proxy:"
                        + " replace its A/AAAA records by a CNAME to proxy.example.net");
    }

    @Test
    void aCnameLoopLeadsNowhere() {
        pebble.setCname("loop-a.shop.test", "loop-b.shop.test");
        pebble.setCname("loop-b.shop.test", "loop-a.shop.test");

        DnsCheck.Report report = dns.check("loop-a.shop.test", PROXY).join();

        assertThat(report.verdict()).isEqualTo(DnsCheck.Verdict.NOT_FOUND);
        assertThat(report.explanation()).contains("CNAME loop");
    }

    @Test
    void reportsAreCachedBrieflySoABurstCostsOneLookup() {
        pebble.addA("cached.shop.test", "10.9.9.9");
        DnsCheck.Report first = dns.check("cached.shop.test", PROXY).join();
        pebble.clearA("cached.shop.test");
        pebble.addA("cached.shop.test", "10.6.6.6");

        DnsCheck.Report second = dns.check("cached.shop.test", PROXY).join();

        assertThat(second).isSameAs(first);
        assertThat(dns.check("cached.shop.test", List.of("127.0.0.1")).join().verdict())
                .as("other expectations are looked up anew")
                .isEqualTo(DnsCheck.Verdict.POINTS_ELSEWHERE);
    }

    @Test
    void aServerThatDoesNotAnswerMakesTheCheckUnavailableNotNegative() throws Exception {
        int silent;
        try (ServerSocket unused = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            silent = unused.getLocalPort(); // nothing answers UDP there
        }
        try (DnsCheck nowhere = DnsCheck.create(new InetSocketAddress("127.0.0.1", silent), Duration.ofMillis(300))) {
            DnsCheck.Report report = nowhere.check("links.shop.test", PROXY).join();

            assertThat(report.verdict()).isEqualTo(DnsCheck.Verdict.UNAVAILABLE);
        }
    }

    @Test
    void caaRecordsAreFoundByClimbingTowardsTheRoot() {
        pebble.addCaaIssue("caa.shop.test", "letsencrypt.org");

        DnsCheck.CaaReport below = dns.caa("links.www.caa.shop.test").join();
        DnsCheck.CaaReport none = dns.caa("links.nocaa.test").join();

        assertThat(below.foundAt()).isEqualTo("caa.shop.test");
        assertThat(below.records()).containsExactly(new DnsCheck.CaaRecord(0, "issue", "letsencrypt.org"));
        assertThat(below.permits("letsencrypt.org")).isTrue();
        assertThat(below.permits("pki.goog")).isFalse();
        assertThat(none.foundAt()).isNull();
        assertThat(none.complete()).isTrue();
        assertThat(none.permits("pki.goog")).isTrue();
    }
}

package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.admin.DomainStatusSource.CaPolicy;
import io.clicktls.certificates.DnsCheck;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The status page's DNS column, through {@link DnsCheck}, against pebble-challtestsrv's DNS. */
class DomainDnsIT {

    private static final CaPolicy LETS_ENCRYPT =
            new CaPolicy("acme-v02.api.letsencrypt.org", true, List.of("letsencrypt.org"));

    @RegisterExtension
    static final ChallTestDns.PerClass dns = ChallTestDns.perClass();

    private static DnsCheck check;
    private static DomainDns domains;

    @BeforeAll
    static void start() throws Exception {
        check = DnsCheck.create(dns.server().address(), Duration.ofSeconds(2));
        domains = new DomainDns(check, Clock.systemUTC());
    }

    @AfterAll
    static void stop() {
        if (check != null) {
            check.close();
        }
    }

    private static DnsStatus status(String name, String platformHost, List<String> expected, CaPolicy ca)
            throws Exception {
        return domains.check(name, platformHost, expected, ca).get(10, TimeUnit.SECONDS);
    }

    @Test
    void cnameChainToTheExpectedNameIsOkWithItsAddressesShownAndCachedForThePage() throws Exception {
        dns.server().setCname("links.chain.test", "hop.chain.test");
        dns.server().setCname("hop.chain.test", "proxy.chain.test");
        dns.server().addA("proxy.chain.test", "10.1.2.3");
        dns.server().addAaaa("proxy.chain.test", "2001:db8::7");

        DnsStatus status = status("links.chain.test", "sendgrid.net", List.of("proxy.chain.test"), CaPolicy.INTERNAL);

        assertThat(status.verdict()).isEqualTo(DnsStatus.Verdict.OK);
        assertThat(status.cnameChain()).containsExactly("hop.chain.test", "proxy.chain.test");
        assertThat(status.addresses()).containsExactly("10.1.2.3", "2001:db8:0:0:0:0:0:7");
        assertThat(domains.cached("links.chain.test")).contains(status);
    }

    @Test
    void withoutExpectedTargetsTheNameIsShownNotJudged() throws Exception {
        DnsStatus status = status("plain.example.test", null, List.of(), CaPolicy.INTERNAL);

        assertThat(status.verdict()).isEqualTo(DnsStatus.Verdict.UNKNOWN);
        assertThat(status.summary()).isEqualTo("plain.example.test resolves to 127.0.0.1");
    }

    @Test
    void cnameToThePlatformIsWrong() throws Exception {
        dns.server().setCname("links.bypass.test", "u123.wl.sendgrid.test");
        dns.server().addA("u123.wl.sendgrid.test", "10.9.9.9");

        DnsStatus status = status("links.bypass.test", "sendgrid.test", List.of("proxy.chain.test"), CaPolicy.INTERNAL);

        assertThat(status.verdict()).isEqualTo(DnsStatus.Verdict.WRONG);
        assertThat(status.fix())
                .isEqualTo(
                        "point links.bypass.test at proxy.chain.test (a CNAME record) instead of u123.wl.sendgrid.test");
    }

    @Test
    void caaIsFoundAtTheClosestNameUpTheTreeAndJudgedAgainstTheCa() throws Exception {
        dns.server().addCaa("caa.test", "issue", "digicert.com", "iodef", "mailto:ops@caa.test");

        DnsStatus status = status("links.shop.caa.test", null, List.of(), LETS_ENCRYPT);

        assertThat(status.caaVerdict()).isEqualTo(DnsStatus.Verdict.WRONG);
        assertThat(status.caaSummary())
                .startsWith("CAA at caa.test (0 issue \"digicert.com\", 0 iodef")
                .endsWith("allows only digicert.com, not letsencrypt.org");
        assertThat(status.caaFix()).isEqualTo("add a CAA record at caa.test: 0 issue \"letsencrypt.org\"");
    }

    @Test
    void servfailIsAFailedCheck() throws Exception {
        dns.server().setServfail("broken.test");

        DnsStatus status = status("broken.test", null, List.of("proxy.chain.test"), CaPolicy.INTERNAL);

        assertThat(status.verdict()).isEqualTo(DnsStatus.Verdict.FAILED);
        assertThat(status.healthy()).isFalse();
        assertThat(status.fix()).isNotBlank();
    }
}

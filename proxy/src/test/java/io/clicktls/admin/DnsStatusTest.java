package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.admin.DomainStatusSource.CaPolicy;
import io.clicktls.certificates.DnsCheck;
import io.clicktls.certificates.DnsCheck.CaaRecord;
import io.clicktls.certificates.DnsCheck.CaaReport;
import io.clicktls.certificates.DnsCheck.Hop;
import io.clicktls.certificates.DnsCheck.Verdict;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DnsStatusTest {

    private static final Instant NOW = Instant.parse("2026-11-25T12:00:00Z");
    private static final CaPolicy LETS_ENCRYPT =
            new CaPolicy("acme-v02.api.letsencrypt.org", true, List.of("letsencrypt.org"));
    private static final CaaReport NO_CAA = new CaaReport("a.shop.com", null, List.of(), true);
    private static final List<String> PROXY = List.of("proxy.example.net");

    private static DnsCheck.Report report(
            String name,
            List<Hop> chain,
            Verdict verdict,
            String explanation,
            List<String> expected,
            String... addresses)
            throws Exception {
        List<InetAddress> parsed = new ArrayList<>();
        for (String address : addresses) {
            parsed.add(InetAddress.getByName(address));
        }
        return new DnsCheck.Report(name, chain, parsed, verdict, explanation, expected, Duration.ofSeconds(30));
    }

    /** The status of {@code links.shop.com}, with no CAA records, under Let's Encrypt. */
    private static DnsStatus linksShopCom(
            String platform,
            List<Hop> chain,
            Verdict verdict,
            String explanation,
            List<String> expected,
            String... addresses)
            throws Exception {
        return DnsStatus.of(
                report("links.shop.com", chain, verdict, explanation, expected, addresses),
                NO_CAA,
                platform,
                LETS_ENCRYPT,
                NOW);
    }

    private static DnsStatus plain(CaaReport caa, CaPolicy ca) throws Exception {
        return DnsStatus.of(
                report(
                        "a.shop.com",
                        List.of(),
                        Verdict.POINTS_HERE,
                        "a.shop.com resolves to 192.0.2.1," + " an address of this proxy",
                        List.of("192.0.2.1"),
                        "192.0.2.1"),
                caa,
                null,
                ca,
                NOW);
    }

    @Test
    void cnameToTheExpectedNameIsOkWithDnsChecksExplanation() throws Exception {
        DnsStatus status = linksShopCom(
                "sendgrid.net",
                List.of(new Hop("links.shop.com", "proxy.example.net")),
                Verdict.POINTS_HERE,
                "links.shop.com is a CNAME to proxy.example.net (links.shop.com → proxy.example.net)",
                PROXY,
                "192.0.2.10");

        assertThat(status.verdict()).isEqualTo(DnsStatus.Verdict.OK);
        assertThat(status.summary())
                .isEqualTo("links.shop.com is a CNAME to proxy.example.net (links.shop.com → proxy.example.net)");
        assertThat(status.cnameChain()).containsExactly("proxy.example.net");
        assertThat(status.addresses()).containsExactly("192.0.2.10");
        assertThat(status.fix()).isNull();
        assertThat(status.healthy()).isTrue();
    }

    @Test
    void cnameToThePlatformIsWrongWithAFixNamingTheProxy() throws Exception {
        DnsStatus status = linksShopCom(
                "sendgrid.net",
                List.of(new Hop("links.shop.com", "sendgrid.net")),
                Verdict.POINTS_ELSEWHERE,
                "links.shop.com is a CNAME to sendgrid.net: point it at proxy.example.net",
                PROXY,
                "167.89.118.1");

        assertThat(status.verdict()).isEqualTo(DnsStatus.Verdict.WRONG);
        assertThat(status.summary())
                .isEqualTo(
                        "links.shop.com is a CNAME to sendgrid.net, the email platform itself: clicks bypass clicktls");
        assertThat(status.fix())
                .isEqualTo("point links.shop.com at proxy.example.net (a CNAME record) instead of sendgrid.net");
    }

    @Test
    void pointingElsewhereSplitsDnsChecksExplanationIntoWhatWasFoundAndTheFix() throws Exception {
        DnsStatus status = linksShopCom(
                null,
                List.of(),
                Verdict.POINTS_ELSEWHERE,
                "links.shop.com resolves to 198.51.100.7, not to this proxy: replace its A/AAAA records by a CNAME"
                        + " to proxy.example.net",
                PROXY,
                "198.51.100.7");

        assertThat(status.verdict()).isEqualTo(DnsStatus.Verdict.WRONG);
        assertThat(status.summary()).isEqualTo("links.shop.com resolves to 198.51.100.7, not to this proxy");
        assertThat(status.fix()).isEqualTo("replace its A/AAAA records by a CNAME to proxy.example.net");
        assertThat(status.healthy()).isFalse();
    }

    @Test
    void unresolvableNameFailsWithAFixToAddTheCname() throws Exception {
        DnsStatus status = linksShopCom(
                null,
                List.of(),
                Verdict.NOT_FOUND,
                "links.shop.com does not resolve (NXDOMAIN): add a CNAME from links.shop.com to proxy.example.net",
                PROXY);

        assertThat(status.verdict()).isEqualTo(DnsStatus.Verdict.FAILED);
        assertThat(status.summary()).isEqualTo("links.shop.com does not resolve (NXDOMAIN)");
        assertThat(status.fix()).isEqualTo("add a CNAME from links.shop.com to proxy.example.net");
    }

    @Test
    void aLookupThatCouldNotBeMadeFailsWithAFix() throws Exception {
        DnsStatus status = linksShopCom(
                null,
                List.of(),
                Verdict.UNAVAILABLE,
                "DNS could not answer for links.shop.com (SERVFAIL); try again later",
                PROXY);

        assertThat(status.verdict()).isEqualTo(DnsStatus.Verdict.FAILED);
        assertThat(status.summary()).contains("SERVFAIL");
        assertThat(status.fix()).isNotBlank();
    }

    @Test
    void withoutExpectationsTheVerdictIsUnknownButHealthyAndSaysWhereTheNamePoints() throws Exception {
        DnsStatus status = linksShopCom(
                null,
                List.of(new Hop("links.shop.com", "x.example.org")),
                Verdict.POINTS_ELSEWHERE,
                "ignored",
                List.of(),
                "192.0.2.10");

        assertThat(status.verdict()).isEqualTo(DnsStatus.Verdict.UNKNOWN);
        assertThat(status.summary())
                .isEqualTo("links.shop.com is a CNAME to x.example.org, which resolves to 192.0.2.10");
        assertThat(status.healthy()).isTrue();
    }

    @Test
    void caaNamingAnotherCaIsWrongWithTheRecordToAdd() throws Exception {
        CaaReport caa = new CaaReport(
                "a.shop.com",
                "shop.com",
                List.of(new CaaRecord(0, "issue", "digicert.com; cansignhttpexchanges=yes")),
                true);

        DnsStatus status = plain(caa, LETS_ENCRYPT);

        assertThat(status.caaVerdict()).isEqualTo(DnsStatus.Verdict.WRONG);
        assertThat(status.caaSummary()).endsWith("allows only digicert.com, not letsencrypt.org");
        assertThat(status.caaFix()).isEqualTo("add a CAA record at shop.com: 0 issue \"letsencrypt.org\"");
    }

    @Test
    void caaNamingTheCaOrOnlyIodefIsOk() throws Exception {
        CaaReport allows = new CaaReport(
                "a.shop.com",
                "shop.com",
                List.of(new CaaRecord(0, "issue", "digicert.com"), new CaaRecord(0, "issue", "letsencrypt.org")),
                true);
        CaaReport iodef =
                new CaaReport("a.shop.com", "shop.com", List.of(new CaaRecord(0, "iodef", "mailto:x@shop.com")), true);

        assertThat(plain(allows, LETS_ENCRYPT).caaVerdict()).isEqualTo(DnsStatus.Verdict.OK);
        assertThat(plain(iodef, LETS_ENCRYPT).caaVerdict()).isEqualTo(DnsStatus.Verdict.OK);
    }

    @Test
    void criticalUnknownCaaPropertyForbidsEveryCa() throws Exception {
        CaaReport caa = new CaaReport(
                "a.shop.com",
                "shop.com",
                List.of(new CaaRecord(128, "tbs", "x"), new CaaRecord(0, "issue", "letsencrypt.org")),
                true);

        assertThat(plain(caa, LETS_ENCRYPT).caaVerdict()).isEqualTo(DnsStatus.Verdict.WRONG);
    }

    @Test
    void aFailedCaaLookupFailsBecauseTheCaWouldRefuse() throws Exception {
        DnsStatus status = plain(new CaaReport("a.shop.com", null, List.of(), false), LETS_ENCRYPT);

        assertThat(status.caaVerdict()).isEqualTo(DnsStatus.Verdict.FAILED);
        assertThat(status.caaFix()).contains("answer CAA queries");
        assertThat(status.healthy()).isFalse();
    }

    @Test
    void internalCaIgnoresCaa() throws Exception {
        CaaReport caa = new CaaReport("a.shop.com", "shop.com", List.of(new CaaRecord(0, "issue", ";")), true);

        assertThat(plain(caa, CaPolicy.INTERNAL).caaVerdict()).isEqualTo(DnsStatus.Verdict.OK);
        assertThat(plain(null, CaPolicy.INTERNAL).caaVerdict()).isEqualTo(DnsStatus.Verdict.OK);
    }
}

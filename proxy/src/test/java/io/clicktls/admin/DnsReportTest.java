package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.admin.DomainStatusSource.CaPolicy;
import java.net.InetAddress;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DnsReportTest {

    private static final Instant NOW = Instant.parse("2026-11-25T12:00:00Z");
    private static final CaPolicy LETS_ENCRYPT = new CaPolicy("acme-v02.api.letsencrypt.org", true,
            List.of("letsencrypt.org"));
    private static final DnsProbe.CaaLookup NO_CAA = new DnsProbe.CaaLookup(null, List.of(), null);

    private static DnsProbe.Resolution resolution(String name, List<String> chain, String... addresses)
            throws Exception {
        List<InetAddress> parsed = new java.util.ArrayList<>();
        for (String address : addresses) {
            parsed.add(InetAddress.getByName(address));
        }
        return new DnsProbe.Resolution(name, chain, parsed, null);
    }

    @Test
    void cnameToTheExpectedNameIsOk() throws Exception {
        DnsReport report = DnsReport.judge(resolution("links.shop.com", List.of("proxy.example.net"), "192.0.2.10"),
                NO_CAA, List.of("proxy.example.net"), Set.of(), "sendgrid.net", LETS_ENCRYPT, NOW);

        assertThat(report.verdict()).isEqualTo(DnsReport.Verdict.OK);
        assertThat(report.summary())
                .isEqualTo("links.shop.com is a CNAME to proxy.example.net, which resolves to 192.0.2.10");
        assertThat(report.healthy()).isTrue();
    }

    @Test
    void cnameToThePlatformIsWrongWithAFixNamingTheProxy() throws Exception {
        DnsReport report = DnsReport.judge(resolution("links.shop.com", List.of("sendgrid.net"), "167.89.118.1"),
                NO_CAA, List.of("proxy.example.net"), Set.of(), "sendgrid.net", LETS_ENCRYPT, NOW);

        assertThat(report.verdict()).isEqualTo(DnsReport.Verdict.WRONG);
        assertThat(report.summary()).isEqualTo(
                "links.shop.com is a CNAME to sendgrid.net, the email platform itself: clicks bypass clicktls");
        assertThat(report.fix())
                .isEqualTo("point links.shop.com at proxy.example.net (a CNAME record) instead of sendgrid.net");
    }

    @Test
    void addressMatchingAnExpectedAddressIsOk() throws Exception {
        DnsReport report = DnsReport.judge(resolution("links.shop.com", List.of(), "192.0.2.10"), NO_CAA,
                List.of(), Set.of(InetAddress.getByName("192.0.2.10")), null, LETS_ENCRYPT, NOW);

        assertThat(report.verdict()).isEqualTo(DnsReport.Verdict.OK);
    }

    @Test
    void unresolvableNameFailsWithAFixToAddTheCname() {
        DnsReport report = DnsReport.judge(new DnsProbe.Resolution("links.shop.com", List.of(), List.of(),
                "links.shop.com does not exist (NXDOMAIN)"), NO_CAA, List.of("proxy.example.net"), Set.of(), null,
                LETS_ENCRYPT, NOW);

        assertThat(report.verdict()).isEqualTo(DnsReport.Verdict.FAILED);
        assertThat(report.fix()).isEqualTo("add a CNAME record for links.shop.com pointing at proxy.example.net");
    }

    @Test
    void withoutExpectationsTheVerdictIsUnknownButHealthy() throws Exception {
        DnsReport report = DnsReport.judge(resolution("links.shop.com", List.of(), "192.0.2.10"), NO_CAA,
                List.of(), Set.of(), null, LETS_ENCRYPT, NOW);

        assertThat(report.verdict()).isEqualTo(DnsReport.Verdict.UNKNOWN);
        assertThat(report.healthy()).isTrue();
    }

    @Test
    void caaNamingAnotherCaIsWrongWithTheRecordToAdd() throws Exception {
        DnsProbe.CaaLookup caa = new DnsProbe.CaaLookup("shop.com",
                List.of(new DnsProbe.CaaRecord(0, "issue", "digicert.com; cansignhttpexchanges=yes")), null);

        DnsReport report = DnsReport.judge(resolution("links.shop.com", List.of(), "192.0.2.10"), caa, List.of(),
                Set.of(), null, LETS_ENCRYPT, NOW);

        assertThat(report.caaVerdict()).isEqualTo(DnsReport.Verdict.WRONG);
        assertThat(report.caaSummary()).endsWith("allows only digicert.com, not letsencrypt.org");
        assertThat(report.caaFix()).isEqualTo("add a CAA record at shop.com: 0 issue \"letsencrypt.org\"");
    }

    @Test
    void caaNamingTheCaOrOnlyIodefIsOk() throws Exception {
        DnsProbe.CaaLookup allows = new DnsProbe.CaaLookup("shop.com", List.of(
                new DnsProbe.CaaRecord(0, "issue", "digicert.com"),
                new DnsProbe.CaaRecord(0, "issue", "letsencrypt.org")),
                null);
        DnsProbe.CaaLookup iodef = new DnsProbe.CaaLookup("shop.com",
                List.of(new DnsProbe.CaaRecord(0, "iodef", "mailto:x@shop.com")), null);

        assertThat(DnsReport.judge(resolution("a.shop.com", List.of(), "192.0.2.1"), allows, List.of(), Set.of(), null,
                LETS_ENCRYPT, NOW).caaVerdict()).isEqualTo(DnsReport.Verdict.OK);
        assertThat(DnsReport.judge(resolution("a.shop.com", List.of(), "192.0.2.1"), iodef, List.of(), Set.of(), null,
                LETS_ENCRYPT, NOW).caaVerdict()).isEqualTo(DnsReport.Verdict.OK);
    }

    @Test
    void criticalUnknownCaaPropertyForbidsEveryCa() throws Exception {
        DnsProbe.CaaLookup caa = new DnsProbe.CaaLookup("shop.com",
                List.of(new DnsProbe.CaaRecord(128, "tbs", "x"), new DnsProbe.CaaRecord(0, "issue", "letsencrypt.org")),
                null);

        assertThat(DnsReport.judge(resolution("a.shop.com", List.of(), "192.0.2.1"), caa, List.of(), Set.of(), null,
                LETS_ENCRYPT, NOW).caaVerdict()).isEqualTo(DnsReport.Verdict.WRONG);
    }

    @Test
    void internalCaIgnoresCaa() throws Exception {
        DnsProbe.CaaLookup caa = new DnsProbe.CaaLookup("shop.com", List.of(new DnsProbe.CaaRecord(0, "issue", ";")),
                null);

        DnsReport report = DnsReport.judge(resolution("a.shop.com", List.of(), "192.0.2.1"), caa, List.of(),
                Set.of(), null, CaPolicy.INTERNAL, NOW);

        assertThat(report.caaVerdict()).isEqualTo(DnsReport.Verdict.OK);
    }
}

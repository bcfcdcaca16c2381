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
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

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

    /** The CAA records found at {@code shop.com}, the closest ancestor of {@code a.shop.com} that has any. */
    private static CaaReport caaAtShopCom(CaaRecord... records) {
        return new CaaReport("a.shop.com", "shop.com", List.of(records), true);
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

    /**
     * Where {@code links.shop.com} points (no CAA records, Let's Encrypt): what DnsCheck found and said, and the
     * verdict, summary, fix and health the status page shows for it.
     */
    static Stream<Arguments> whereTheNamePoints() {
        return Stream.of(
                Arguments.of(
                        "a CNAME to the expected name is OK with DnsCheck's explanation",
                        "sendgrid.net",
                        List.of(new Hop("links.shop.com", "proxy.example.net")),
                        Verdict.POINTS_HERE,
                        "links.shop.com is a CNAME to proxy.example.net (links.shop.com → proxy.example.net)",
                        PROXY,
                        List.of("192.0.2.10"),
                        DnsStatus.Verdict.OK,
                        "links.shop.com is a CNAME to proxy.example.net (links.shop.com → proxy.example.net)",
                        null,
                        true),
                Arguments.of(
                        "a CNAME to the platform is wrong, with a fix naming the proxy",
                        "sendgrid.net",
                        List.of(new Hop("links.shop.com", "sendgrid.net")),
                        Verdict.POINTS_ELSEWHERE,
                        "links.shop.com is a CNAME to sendgrid.net: point it at proxy.example.net",
                        PROXY,
                        List.of("167.89.118.1"),
                        DnsStatus.Verdict.WRONG,
                        "links.shop.com is a CNAME to sendgrid.net, the email platform itself: clicks bypass clicktls",
                        "point links.shop.com at proxy.example.net (a CNAME record) instead of sendgrid.net",
                        false),
                Arguments.of(
                        "pointing elsewhere splits DnsCheck's explanation into what was found and the fix",
                        null,
                        List.of(),
                        Verdict.POINTS_ELSEWHERE,
                        "links.shop.com resolves to 198.51.100.7, not to this proxy: replace its A/AAAA records by a"
                                + " CNAME to proxy.example.net",
                        PROXY,
                        List.of("198.51.100.7"),
                        DnsStatus.Verdict.WRONG,
                        "links.shop.com resolves to 198.51.100.7, not to this proxy",
                        "replace its A/AAAA records by a CNAME to proxy.example.net",
                        false),
                Arguments.of(
                        "an unresolvable name fails, with a fix to add the CNAME",
                        null,
                        List.of(),
                        Verdict.NOT_FOUND,
                        "links.shop.com does not resolve (NXDOMAIN): add a CNAME from links.shop.com to"
                                + " proxy.example.net",
                        PROXY,
                        List.of(),
                        DnsStatus.Verdict.FAILED,
                        "links.shop.com does not resolve (NXDOMAIN)",
                        "add a CNAME from links.shop.com to proxy.example.net",
                        false),
                Arguments.of(
                        "a lookup that could not be made fails, with a fix",
                        null,
                        List.of(),
                        Verdict.UNAVAILABLE,
                        "DNS could not answer for links.shop.com (SERVFAIL); try again later",
                        PROXY,
                        List.of(),
                        DnsStatus.Verdict.FAILED,
                        "DNS could not answer for links.shop.com (SERVFAIL); try again later",
                        "check that the DNS servers of links.shop.com answer, then run the check again",
                        false),
                Arguments.of(
                        "without expectations the verdict is unknown but healthy, and says where the name points",
                        null,
                        List.of(new Hop("links.shop.com", "x.example.org")),
                        Verdict.POINTS_ELSEWHERE,
                        "ignored",
                        List.of(),
                        List.of("192.0.2.10"),
                        DnsStatus.Verdict.UNKNOWN,
                        "links.shop.com is a CNAME to x.example.org, which resolves to 192.0.2.10",
                        null,
                        true));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void whereTheNamePoints(
            String behaviour,
            String platform,
            List<Hop> chain,
            Verdict found,
            String explanation,
            List<String> expected,
            List<String> addresses,
            DnsStatus.Verdict verdict,
            String summary,
            String fix,
            boolean healthy)
            throws Exception {
        DnsStatus status = DnsStatus.of(
                report("links.shop.com", chain, found, explanation, expected, addresses.toArray(String[]::new)),
                NO_CAA,
                platform,
                LETS_ENCRYPT,
                NOW);

        assertThat(status.verdict()).isEqualTo(verdict);
        assertThat(status.summary()).isEqualTo(summary);
        assertThat(status.fix()).isEqualTo(fix);
        assertThat(status.healthy()).isEqualTo(healthy);
        assertThat(status.cnameChain())
                .containsExactlyElementsOf(chain.stream().map(Hop::target).toList());
        assertThat(status.addresses()).containsExactlyElementsOf(addresses);
    }

    @Test
    void caaNamingAnotherCaIsWrongWithTheRecordToAdd() throws Exception {
        CaaReport caa = caaAtShopCom(new CaaRecord(0, "issue", "digicert.com; cansignhttpexchanges=yes"));

        DnsStatus status = plain(caa, LETS_ENCRYPT);

        assertThat(status.caaVerdict()).isEqualTo(DnsStatus.Verdict.WRONG);
        assertThat(status.caaSummary()).endsWith("allows only digicert.com, not letsencrypt.org");
        assertThat(status.caaFix()).isEqualTo("add a CAA record at shop.com: 0 issue \"letsencrypt.org\"");
    }

    @Test
    void caaNamingTheCaOrOnlyIodefIsOk() throws Exception {
        CaaReport allows =
                caaAtShopCom(new CaaRecord(0, "issue", "digicert.com"), new CaaRecord(0, "issue", "letsencrypt.org"));
        CaaReport iodef = caaAtShopCom(new CaaRecord(0, "iodef", "mailto:x@shop.com"));

        assertThat(plain(allows, LETS_ENCRYPT).caaVerdict()).isEqualTo(DnsStatus.Verdict.OK);
        assertThat(plain(iodef, LETS_ENCRYPT).caaVerdict()).isEqualTo(DnsStatus.Verdict.OK);
    }

    @Test
    void criticalUnknownCaaPropertyForbidsEveryCa() throws Exception {
        CaaReport caa = caaAtShopCom(new CaaRecord(128, "tbs", "x"), new CaaRecord(0, "issue", "letsencrypt.org"));

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
        CaaReport caa = caaAtShopCom(new CaaRecord(0, "issue", ";"));

        assertThat(plain(caa, CaPolicy.INTERNAL).caaVerdict()).isEqualTo(DnsStatus.Verdict.OK);
        assertThat(plain(null, CaPolicy.INTERNAL).caaVerdict()).isEqualTo(DnsStatus.Verdict.OK);
    }
}

package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.clicktls.certificates.CertificateCleanup;
import io.clicktls.certificates.IssuanceFailure;
import io.clicktls.storage.Storage;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class StatusPageTest {

    private static final Instant NOW = Instant.parse("2026-11-25T12:00:00Z");

    private static DomainStatus failed(String name, String message) {
        return new DomainStatus(
                name,
                false,
                true,
                "sendgrid",
                CertificateState.FAILED,
                null,
                null,
                false,
                new IssuanceFailure(message, NOW.minusSeconds(60), 2, NOW.plusSeconds(3600)),
                null,
                null,
                null,
                null,
                null);
    }

    @Test
    void everythingFromOutsideIsEscaped() {
        DomainDirectory.Page page = new DomainDirectory.Page(
                "<q>\"",
                1,
                50,
                1,
                1,
                List.of(failed("links.shop.test", "<script>alert('x')</script> & more")),
                new DomainDirectory.InFlight(0, false, "<i>db</i>"));

        String html = StatusPage.render(page, "token\"<", "<b>done</b>", NOW);

        assertThat(html)
                .doesNotContain("<script>")
                .doesNotContain("<b>done</b>")
                .doesNotContain("token\"<")
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more")
                .contains("value=\"&lt;q&gt;&quot;\"")
                .contains("&lt;b&gt;done&lt;/b&gt;")
                .contains("not shown: &lt;i&gt;db&lt;/i&gt;");
    }

    @Test
    void failedRowShowsTheMessageWhenAndHowOftenWithRenewAndForgetForms() {
        DomainDirectory.Page page = new DomainDirectory.Page(
                "",
                1,
                50,
                1,
                1,
                List.of(failed("links.shop.test", "rateLimited: too many certificates")),
                DomainDirectory.InFlight.NONE);

        String html = StatusPage.render(page, "abc123", null, NOW);

        assertThat(html)
                .contains("data-state=\"failed\"")
                .contains("rateLimited: too many certificates")
                .contains("2 failures in a row")
                .contains("retry after 2026-11-25 13:00 UTC")
                .contains("action=\"/api/domains/links.shop.test/certificate\"")
                .contains("name=\"action\" value=\"renew\"")
                .contains("name=\"action\" value=\"forget\"")
                .contains("name=\"form_token\" value=\"abc123\"")
                .doesNotContain("<script");
    }

    @Test
    void holdRemovalAndDnsFixAreShownOnThePageAndInTheApi() throws Exception {
        DnsStatus dns = new DnsStatus(
                "links.shop.test",
                NOW,
                DnsStatus.Verdict.WRONG,
                "links.shop.test resolves to 198.51.100.7, not to this proxy",
                "replace its A/AAAA records by a" + " CNAME to proxy.example.net",
                List.of(),
                List.of("198.51.100.7"),
                DnsStatus.Verdict.OK,
                "no CAA records: any CA may issue",
                null);
        DomainStatus status = new DomainStatus(
                "links.shop.test",
                false,
                false,
                null,
                CertificateState.NONE,
                null,
                null,
                false,
                null,
                new Hold("too many certificates for shop.test this week", NOW.plusSeconds(7200)),
                new CertificateCleanup.Mark(
                        "links.shop.test", NOW.minusSeconds(60), "not_configured", NOW.plus(Duration.ofDays(7))),
                dns,
                new Storage.LeaseHolder("node-<b>", NOW.minusSeconds(5), NOW.plusSeconds(25)),
                null);

        String html = StatusPage.render(
                new DomainDirectory.Page("", 1, 50, 1, 0, List.of(status), DomainDirectory.InFlight.NONE),
                "t",
                null,
                NOW);
        JsonNode json = new ObjectMapper().readTree(StatusJson.one(status));

        assertThat(html)
                .contains("Held back: too many certificates for shop.test this week")
                .contains("until 2026-11-25 14:00 UTC")
                .contains("No longer allowed (not_configured): deleted after 2026-12-02 12:00 UTC unless allowed again")
                .contains("Resolves to 198.51.100.7, not to this proxy")
                .contains("replace its A/AAAA records by a CNAME to proxy.example.net")
                .contains("ordering on node-&lt;b&gt; since 2026-11-25 11:59 UTC");
        assertThat(json.path("lease").path("node").asText()).isEqualTo("node-<b>");
        assertThat(json.path("lease").path("until").asText()).isEqualTo("2026-11-25T12:00:25Z");
        assertThat(json.path("marked").path("reason").asText()).isEqualTo("not_configured");
        assertThat(json.path("marked").path("since").asText()).isEqualTo("2026-11-25T11:59:00Z");
        assertThat(json.path("marked").path("delete_after").asText()).isEqualTo("2026-12-02T12:00:00Z");
        assertThat(json.path("hold").path("reason").asText())
                .isEqualTo("too many certificates for shop.test this week");
        assertThat(json.path("dns").path("verdict").asText()).isEqualTo("wrong");
        assertThat(json.path("dns").path("fix").asText())
                .isEqualTo("replace its A/AAAA records by a CNAME to proxy.example.net");
    }

    @Test
    void pagingLinksKeepTheQuery() {
        DomainDirectory.Page page =
                new DomainDirectory.Page("shop & co", 2, 10, 35, 0, List.of(), DomainDirectory.InFlight.NONE);

        String html = StatusPage.render(page, "t", null, NOW);

        assertThat(html)
                .contains("Page 2 of 4")
                .contains("href=\"/status?q=shop+%26+co&amp;page=1&amp;size=10\"")
                .contains("href=\"/status?q=shop+%26+co&amp;page=3&amp;size=10\"");
    }

    @Test
    void relativeTimesReadAtAGlance() {
        assertThat(StatusPage.relative(NOW.plus(Duration.ofDays(89)), NOW)).isEqualTo("in 89 days");
        assertThat(StatusPage.relative(NOW.minus(Duration.ofHours(3)), NOW)).isEqualTo("3 hours ago");
        assertThat(StatusPage.relative(NOW.plusSeconds(30), NOW)).isEqualTo("now");
    }

    @Test
    void aCertificateNotPersistedIsShownAsSuchOnThePageAndInTheApiWithTheNodeDegraded() throws Exception {
        CertificateFacts served = new CertificateFacts(
                        NOW.minus(Duration.ofDays(1)),
                        NOW.plus(Duration.ofDays(89)),
                        "internal",
                        "local CA",
                        "0A",
                        true)
                .withNotPersisted("No space left on device <disk>");
        DomainStatus row = new DomainStatus(
                "new.shop.test",
                false,
                true,
                "sendgrid",
                CertificateState.VALID,
                served,
                NOW.plus(Duration.ofDays(59)),
                false,
                null,
                null,
                null,
                null,
                null,
                null);
        DomainDirectory.Page page =
                new DomainDirectory.Page("", 1, 50, 1, 0, List.of(row), DomainDirectory.InFlight.NONE);
        String degraded = "storage not writable: 3 items not persisted (certificate 3)";

        String html = StatusPage.render(page, "abc123", null, degraded, NOW);
        JsonNode json = new ObjectMapper().readTree(StatusJson.page(page, degraded, NOW));

        assertThat(html)
                .contains("not persisted: No space left on device &lt;disk&gt;")
                .contains("<b>Degraded:</b> storage not writable: 3 items not persisted (certificate 3)");
        assertThat(json.get("health").asText()).isEqualTo("degraded");
        assertThat(json.get("degraded").asText()).isEqualTo(degraded);
        JsonNode certificate = json.get("domains").get(0).get("certificate");
        assertThat(certificate.get("persisted").asBoolean()).isFalse();
        assertThat(certificate.get("not_persisted").asText()).isEqualTo("No space left on device <disk>");

        String healthy = StatusPage.render(page, "abc123", null, NOW);
        JsonNode persisted = new ObjectMapper()
                .readTree(StatusJson.one(new DomainStatus(
                        "new.shop.test",
                        false,
                        true,
                        "sendgrid",
                        CertificateState.VALID,
                        served.withNotPersisted(null),
                        null,
                        false,
                        null,
                        null,
                        null,
                        null,
                        null,
                        null)));
        assertThat(healthy).doesNotContain("Degraded:");
        assertThat(persisted.get("certificate").get("persisted").asBoolean()).isTrue();
        assertThat(persisted.get("certificate").get("not_persisted").isNull()).isTrue();
    }
}

package io.clicktls.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.clicktls.testing.Curl;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInNode;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The admin listener of a whole node (internal CA), with DNS from pebble-challtestsrv. */
class AdminServerIT {

    private static final String TOKEN = "test-admin-token-0123456789";
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final ChallTestDns.PerClass dns = ChallTestDns.perClass();

    @TempDir
    Path dir;

    @RegisterExtension
    final StandInNode site = StandInNode.startedByEachTest();

    private RunningNode node;

    private void start(String adminSection, String... domains) throws Exception {
        node = site.start(platform -> RunningNode.config(dir)
                .set("tuning.dns_server", dns.server().hostPort())
                .platform("stand-in", "http://stand-in.platform.test:" + platform.port())
                .domains("stand-in", domains)
                .yaml(adminSection));
    }

    private Curl.Result click(String host) throws Exception {
        return node.https(host, "/open.gif");
    }

    private HttpResponse<String> get(String path, String... headers) throws Exception {
        return node.adminGet(path, headers);
    }

    private HttpResponse<String> send(String method, String path, String body, String... headers) throws Exception {
        return node.adminSend(method, path, body, headers);
    }

    private JsonNode domain(String name) throws Exception {
        HttpResponse<String> response = get("/api/domains/" + name);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    @Test
    void issuedCertificateShowsUpWithItsExpiryIssuerRenewalPlanAndDns() throws Exception {
        start("", "links.example.test", "*.shop.test");
        assertThat(click("links.example.test").status())
                .as("a TLS session, whatever the upstream")
                .isNotZero();

        JsonNode links = domain("links.example.test");

        assertThat(links.get("state").asText()).isEqualTo("valid");
        assertThat(links.get("platform").asText()).isEqualTo("stand-in");
        assertThat(links.get("configured").asBoolean()).isTrue();
        assertThat(Instant.parse(links.at("/certificate/not_after").asText())).isAfter(Instant.now());
        assertThat(links.at("/certificate/issued_by").asText()).isEqualTo("internal");
        assertThat(links.at("/certificate/issuer").asText()).isNotBlank();
        assertThat(links.at("/certificate/in_memory").asBoolean()).isTrue();
        assertThat(links.get("last_error").isNull()).isTrue();
        assertThat(links.at("/dns/addresses/0").asText()).isEqualTo("127.0.0.1");
        assertThat(links.at("/dns/caa_verdict").asText()).isEqualTo("ok");

        JsonNode list = JSON.readTree(get("/api/domains").body());
        assertThat(list.get("total").asInt()).isEqualTo(2);
        assertThat(list.findValuesAsText("name")).containsExactly("*.shop.test", "links.example.test");
        assertThat(list.at("/domains/0/kind").asText()).isEqualTo("pattern");
    }

    @Test
    void dnsPointingAtThePlatformItselfIsCalledOutWithAFix() throws Exception {
        start("", "bypass.example.test");
        dns.server().setCname("bypass.example.test", "stand-in.platform.test");

        JsonNode bypass = domain("bypass.example.test");

        assertThat(bypass.at("/dns/verdict").asText()).isEqualTo("wrong");
        assertThat(bypass.at("/dns/summary").asText())
                .isEqualTo("bypass.example.test is a CNAME to stand-in.platform.test, the email platform itself:"
                        + " clicks bypass clicktls");
        assertThat(bypass.at("/dns/fix").asText()).startsWith("point bypass.example.test at ");
    }

    @Test
    void searchAndPagingWalkThousandsOfDomains() throws Exception {
        String[] names = new String[1200];
        for (int i = 0; i < names.length; i++) {
            names[i] = String.format("links-%04d.example.test", i);
        }
        start("", names);

        JsonNode first = JSON.readTree(get("/api/domains?size=100").body());
        JsonNode search =
                JSON.readTree(get("/api/domains?q=LINKS-11&size=40&page=3").body());
        JsonNode beyond =
                JSON.readTree(get("/api/domains?q=links-11&size=40&page=99").body());

        assertThat(first.get("total").asInt()).isEqualTo(1200);
        assertThat(first.get("pages").asInt()).isEqualTo(12);
        assertThat(first.get("domains")).hasSize(100);
        assertThat(search.get("total").asInt()).isEqualTo(100);
        assertThat(search.get("page").asInt()).isEqualTo(3);
        assertThat(search.findValuesAsText("name")).hasSize(20).first().isEqualTo("links-1180.example.test");
        assertThat(beyond.get("page").asInt()).as("clamped to the last page").isEqualTo(3);
        HttpResponse<String> html = get("/status?q=links-0007");
        assertThat(html.body()).contains("links-0007.example.test").doesNotContain("links-0008.example.test");
    }

    @Test
    void renewNowReplacesTheCertificateAndForgetDeletesIt() throws Exception {
        start("", "links.example.test");
        click("links.example.test");
        String serial = domain("links.example.test").at("/certificate/serial").asText();

        HttpResponse<String> renew = send("POST", "/api/domains/links.example.test/certificate", null);
        assertThat(renew.statusCode()).as(renew.body()).isEqualTo(202);
        assertThat(JSON.readTree(renew.body()).get("status").asText()).isEqualTo("started");
        String renewed = Eventually.value(Duration.ofSeconds(10), "a renewed certificate is shown", () -> {
            String now = domain("links.example.test").at("/certificate/serial").asText();
            return now.equals(serial) ? null : now;
        });
        assertThat(renewed).isNotEqualTo(serial);

        HttpResponse<String> forget = send("DELETE", "/api/domains/links.example.test/certificate", null);
        assertThat(forget.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(forget.body()).get("status").asText()).isEqualTo("forgotten");
        assertThat(domain("links.example.test").get("state").asText()).isEqualTo("none");
        assertThat(Files.exists(dir.resolve("data/certificates/links.example.test/chain.pem")))
                .isFalse();
    }

    @Test
    void renewingANameOutsideTheConfigIsRefused() throws Exception {
        start("", "links.example.test");

        HttpResponse<String> renew = send("POST", "/api/domains/other.example.test/certificate", null);

        assertThat(renew.statusCode()).isEqualTo(409);
        assertThat(renew.body()).contains("other.example.test is not in the config's domains");
    }

    @Test
    void tokenGuardsEveryPathButHealthz() throws Exception {
        start("admin:\n  token: " + TOKEN + "\n", "links.example.test");

        assertThat(get("/healthz").statusCode()).isEqualTo(200);
        HttpResponse<String> anonymous = get("/metrics");
        assertThat(anonymous.statusCode()).isEqualTo(401);
        assertThat(anonymous.headers().allValues("www-authenticate")).anyMatch(v -> v.startsWith("Basic "));
        assertThat(get("/api/domains").statusCode()).isEqualTo(401);
        assertThat(get("/status").statusCode()).isEqualTo(401);
        assertThat(get("/metrics", "Authorization", "Bearer wrong-token-0123456789")
                        .statusCode())
                .isEqualTo(401);
        assertThat(send("DELETE", "/api/domains/links.example.test/certificate", null)
                        .statusCode())
                .isEqualTo(401);

        assertThat(get("/metrics", "Authorization", "Bearer " + TOKEN).statusCode())
                .isEqualTo(200);
        String basic = Base64.getEncoder().encodeToString(("admin:" + TOKEN).getBytes(StandardCharsets.UTF_8));
        assertThat(get("/status", "Authorization", "Basic " + basic).statusCode())
                .isEqualTo(200);
    }

    @Test
    void browserChangesNeedTheSameOriginAndThePagesFormToken() throws Exception {
        start("", "links.example.test");
        click("links.example.test");
        String origin = "http://127.0.0.1:" + node.adminPort();
        String page = get("/status").body();
        Matcher token =
                Pattern.compile("name=\"form_token\" value=\"([0-9a-f]+)\"").matcher(page);
        assertThat(token.find()).as("the page embeds the form token").isTrue();
        String form = "Content-Type";
        String urlencoded = "application/x-www-form-urlencoded";

        HttpResponse<String> crossSite = send(
                "POST",
                "/api/domains/links.example.test/certificate",
                "action=forget&form_token=" + token.group(1),
                form,
                urlencoded,
                "Origin",
                "http://evil.example");
        HttpResponse<String> noToken = send(
                "POST",
                "/api/domains/links.example.test/certificate",
                "action=forget",
                form,
                urlencoded,
                "Origin",
                origin);
        HttpResponse<String> sameSite = send(
                "POST",
                "/api/domains/links.example.test/certificate",
                "action=forget&form_token=" + token.group(1) + "&return=%2Fstatus%3Fq%3Dlinks",
                form,
                urlencoded,
                "Origin",
                origin);

        assertThat(crossSite.statusCode()).isEqualTo(403);
        assertThat(noToken.statusCode()).isEqualTo(403);
        assertThat(sameSite.statusCode()).isEqualTo(303);
        assertThat(sameSite.headers().firstValue("location").orElseThrow())
                .startsWith("/status?q=links&notice=Forgot+the+certificate+of+links.example.test");
        assertThat(domain("links.example.test").get("state").asText()).isEqualTo("none");
    }

    @Test
    void tokenlessListenerAnswersOnlyToLocalHostNames() throws Exception {
        start("", "links.example.test");

        Curl.Result rebound = Curl.run(List.of(
                "-H", "Host: rebound.attacker.example", "http://127.0.0.1:" + node.adminPort() + "/api/domains"));
        assertThat(rebound.status()).isEqualTo(403);
        assertThat(get("/api/domains").statusCode()).isEqualTo(200);
    }

    @Test
    void statusPageIsHtmlWithProtectiveHeaders() throws Exception {
        start("", "links.example.test");

        HttpResponse<String> page = get("/status");

        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("content-type").orElseThrow()).startsWith("text/html");
        assertThat(page.headers().firstValue("content-security-policy").orElseThrow())
                .contains("frame-ancestors 'none'");
        assertThat(page.headers().firstValue("x-frame-options")).contains("DENY");
        assertThat(page.body())
                .contains("<table")
                .contains("links.example.test")
                .doesNotContain("<script");
    }
}

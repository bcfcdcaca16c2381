package io.clicktls;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.testing.Curl;
import io.clicktls.testing.Eventually;
import io.clicktls.testing.RunningNode;
import io.clicktls.testing.StandInNode;
import io.clicktls.testing.StandInPlatform;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-domain options on the whole node (issue 16 item 4): app-link files under {@code /.well-known/} served by the
 * node itself on both listeners, and {@code upgrade} set per domain.
 */
class WellKnownIT {

    private static final String ASSETLINKS = "/.well-known/assetlinks.json";
    private static final String AASA = "/.well-known/apple-app-site-association";
    /** Android's format, with a non-ASCII byte and no final newline, to be served as it is. */
    private static final byte[] ASSETLINKS_BYTES =
            ("[{\"relation\":[\"delegate_permission/common.handle_all_urls\"],\"target\":{\"namespace\":\"android_app\","
                            + "\"package_name\":\"com.exämple.app\",\"sha256_cert_fingerprints\":[\"14:6D\"]}}]")
                    .getBytes(StandardCharsets.UTF_8);

    private static final byte[] AASA_BYTES =
            "{\"applinks\":{\"details\":[{\"appIDs\":[\"ABCDE12345.com.example.app\"],\"components\":[{\"/\":\"/*\"}]}]}}\n"
                    .getBytes(StandardCharsets.UTF_8);

    private static final String DOMAINS =
            """
            domains:
              - name: app.example.test
                platform: stand-in
                well_known:
                  assetlinks.json: files/assetlinks.json
                  apple-app-site-association: files/aasa
              - name: links.example.test
                platform: stand-in
              - name: proxied.example.test
                platform: stand-in
                upgrade: { http: proxy }
              - name: noloc.example.test
                platform: stand-in
                upgrade: { location: false }
            """;

    @TempDir
    Path dir;

    private RunningNode.Config config;

    @RegisterExtension
    final StandInNode site = StandInNode.startingFrom(platform -> {
        Files.createDirectories(dir.resolve("files"));
        Files.write(dir.resolve("files/assetlinks.json"), ASSETLINKS_BYTES);
        Files.write(dir.resolve("files/aasa"), AASA_BYTES);
        config = RunningNode.config(dir).platform("stand-in", platform.port()).yaml(DOMAINS);
        return config;
    });

    @Test
    void wellKnownFilesAreServedByteForByteWithTheirTypeOnBothListenersAndNeverForwarded() throws Exception {
        Curl.Result httpsAssetlinks = site.node().https("app.example.test", ASSETLINKS);
        Curl.Result httpsAasa = site.node().https("app.example.test", AASA);
        Curl.Result httpAssetlinks = site.node().http("app.example.test", ASSETLINKS);
        Curl.Result httpAasa = site.node().http("app.example.test", AASA + "?ref=verifier");

        for (Curl.Result served : new Curl.Result[] {httpsAssetlinks, httpAssetlinks}) {
            assertThat(served.status()).as(served.stderr()).isEqualTo(200);
            assertThat(served.body()).isEqualTo(ASSETLINKS_BYTES);
            assertThat(served.header("content-type")).isEqualTo("application/json");
            assertThat(served.header("location")).isNull();
        }
        for (Curl.Result served : new Curl.Result[] {httpsAasa, httpAasa}) {
            assertThat(served.status()).as(served.stderr()).isEqualTo(200);
            assertThat(served.body()).isEqualTo(AASA_BYTES);
            assertThat(served.header("content-type")).isEqualTo("application/json");
        }
        Curl.Result head = site.node().http("app.example.test", ASSETLINKS, "-I");
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.header("content-length")).isEqualTo(String.valueOf(ASSETLINKS_BYTES.length));
        // curl -I writes the header block where the body goes: nothing of the file may follow it
        assertThat(head.text()).endsWith("\r\n\r\n").doesNotContain("relation");
        assertThat(site.platform().requests())
                .as("nothing reached the platform")
                .isEmpty();
        // the same domain's other paths do get the 308 now that its certificate is in hand: the file was no accident
        assertThat(site.node().http("app.example.test", "/open.gif").status()).isEqualTo(308);
    }

    @Test
    void aPlatformThatAnswersTheSamePathDoesNotReplaceTheDomainsFile() throws Exception {
        Curl.Result otherDomain = site.node().https("links.example.test", ASSETLINKS);
        assertThat(otherDomain.body())
                .as("a domain without the file gets the platform's answer")
                .isEqualTo(StandInPlatform.PLATFORM_ASSETLINKS);
        site.platform().reset();

        Curl.Result own = site.node().https("app.example.test", ASSETLINKS);

        assertThat(own.status()).isEqualTo(200);
        assertThat(own.body()).isEqualTo(ASSETLINKS_BYTES);
        assertThat(site.platform().requests()).isEmpty();
    }

    @Test
    void perDomainHttpProxyForwardsPlainHttpClicksWhileAnotherDomainStillGetsThe308() throws Exception {
        // certificates in hand for both: the 308 is only sent for a name that can be reached over https
        assertThat(site.node().https("proxied.example.test", "/open.gif").status())
                .isEqualTo(200);
        assertThat(site.node().https("links.example.test", "/open.gif").status())
                .isEqualTo(200);
        site.platform().reset();

        Curl.Result proxied = site.node().http("proxied.example.test", "/ls/click?upn=1");
        Curl.Result redirected = site.node().http("links.example.test", "/ls/click?upn=1");

        assertThat(proxied.status()).isEqualTo(302);
        assertThat(proxied.header("location")).isEqualTo("https://destination.example/landing?x=1");
        assertThat(site.platform().requests("/ls/click")).hasSize(1);
        assertThat(site.platform().last().header("x-forwarded-proto")).isEqualTo("http");
        assertThat(redirected.status()).isEqualTo(308);
        assertThat(redirected.header("location"))
                .isEqualTo("https://links.example.test:" + site.node().httpsPort() + "/ls/click?upn=1");
    }

    @Test
    void perDomainLocationFalseLeavesTheLocationHeaderAlone() throws Exception {
        Curl.Result upgraded = site.node().https("links.example.test", "/back");
        Curl.Result untouched = site.node().https("noloc.example.test", "/back");

        assertThat(upgraded.status()).isEqualTo(302);
        assertThat(upgraded.header("location")).startsWith("https://links.example.test");
        assertThat(untouched.status()).isEqualTo(302);
        assertThat(untouched.header("location"))
                .as("the platform's own Location")
                .isEqualTo("http://noloc.example.test:" + site.node().httpsPort() + "/landing");
    }

    @Test
    void aConfigReloadServesTheWellKnownFilesNewContent() throws Exception {
        assertThat(site.node().https("app.example.test", ASSETLINKS).body()).isEqualTo(ASSETLINKS_BYTES);
        byte[] edited = "[{\"relation\":[],\"target\":{}}]\n".getBytes(StandardCharsets.UTF_8);

        Files.write(dir.resolve("files/assetlinks.json"), edited);
        config.replace(config.render() + "# assetlinks.json edited\n");

        Eventually.holds(
                Duration.ofSeconds(5),
                "the new bytes are served over https",
                () -> java.util.Arrays.equals(
                        site.node().https("app.example.test", ASSETLINKS).body(), edited));
        assertThat(site.node().http("app.example.test", ASSETLINKS).body()).isEqualTo(edited);
        assertThat(site.platform().requests()).isEmpty();
    }
}

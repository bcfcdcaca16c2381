package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.clicktls.platform.PlatformPresets;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class ConfigLoaderTest {

    private static final Path BASE = Path.of("/srv/clicktls/config");

    private static final String MINIMAL = TestConfigs.MINIMAL;

    @TempDir
    Path tempDir;

    // ---- what a valid file becomes

    @Test
    void everyKeyButPlatformsAndDomainsHasADefault() throws Exception {
        ClickTlsConfig config = parse(MINIMAL);

        assertThat(config.listen())
                .isEqualTo(new Listen(
                        new Endpoint("0.0.0.0", 8443), new Endpoint("0.0.0.0", 8080), new Endpoint("127.0.0.1", 9090)));
        assertThat(config.storage().directory()).isEqualTo(BASE.resolve("data"));
        Certificates certificates = config.certificates();
        assertThat(certificates.issuer()).isEqualTo(Certificates.IssuerKind.INTERNAL);
        assertThat(certificates.keyType()).isEqualTo(Certificates.KeyType.EC256);
        assertThat(certificates.acme().directory())
                .isEqualTo(URI.create("https://acme-v02.api.letsencrypt.org/directory"));
        assertThat(certificates.acme().email()).isNull();
        assertThat(certificates.acme().trustedCa()).isNull();
        assertThat(certificates.acme().challenges())
                .containsExactly(Acme.ChallengeType.TLS_ALPN_01, Acme.ChallengeType.HTTP_01);
        assertThat(certificates.onDemand()).isEqualTo(new OnDemand(null, Duration.ofSeconds(10)));
        assertThat(config.upgrade()).isEqualTo(new Upgrade(Upgrade.HttpMode.REDIRECT, true, true));
        assertThat(config.domains()).containsExactly(new Domain("links.example.com", "sg"));
        assertThat(config.source()).isNull();
    }

    @Test
    void everyKeyIsReadWhenGiven() throws Exception {
        Files.writeString(tempDir.resolve("pebble.pem"), "not checked for content here");
        ClickTlsConfig config = ConfigLoader.parse(
                """
                listen:
                  https: "[::]:443"
                  http: 127.0.0.1:0
                  admin: localhost:9191
                storage:
                  directory: state
                certificates:
                  issuer: acme
                  key_type: rsa2048
                  acme:
                    directory: http://127.0.0.1:14000/dir
                    email: ops@example.com
                    trusted_ca: pebble.pem
                    challenges: [http-01]
                  on_demand:
                    ask: http://127.0.0.1:3000/allow?token=x
                    handshake_wait: 500ms
                platforms:
                  custom:
                    upstream: HTTPS://Upstream.Example.net:8443/
                    host_header: upstream
                domains: []
                upgrade:
                  http: proxy
                  location: false
                  html: false
                """,
                "full.yml",
                tempDir);

        assertThat(config.listen())
                .isEqualTo(new Listen(
                        new Endpoint("::", 443), new Endpoint("127.0.0.1", 0), new Endpoint("localhost", 9191)));
        assertThat(config.listen().https()).hasToString("[::]:443");
        assertThat(config.storage().directory()).isEqualTo(tempDir.resolve("state"));
        assertThat(config.certificates())
                .isEqualTo(new Certificates(
                        Certificates.IssuerKind.ACME,
                        Certificates.KeyType.RSA2048,
                        new Acme(
                                URI.create("http://127.0.0.1:14000/dir"),
                                "ops@example.com",
                                tempDir.resolve("pebble.pem"),
                                List.of(Acme.ChallengeType.HTTP_01)),
                        new OnDemand(URI.create("http://127.0.0.1:3000/allow?token=x"), Duration.ofMillis(500))));
        assertThat(config.platforms())
                .containsExactlyEntriesOf(java.util.Map.of(
                        "custom",
                        new Platform(
                                "custom",
                                URI.create("https://upstream.example.net:8443"),
                                Platform.HostHeader.UPSTREAM)));
        assertThat(config.domains()).isEmpty();
        assertThat(config.upgrade()).isEqualTo(new Upgrade(Upgrade.HttpMode.PROXY, false, false));
    }

    @ParameterizedTest
    @CsvSource({
        "sendgrid, https://sendgrid.net",
        "sendgrid-eu, https://eu.sendgrid.net",
        "mailgun, http://mailgun.org",
        "mailgun-eu, http://eu.mailgun.org",
        "sparkpost, https://spgo.io",
        "sparkpost-eu, https://eu.spgo.io",
        "customerio, https://track.customer.io",
        "customerio-eu, https://track-eu.customer.io",
        "iterable, https://links.iterable.com",
        "iterable-eu, https://links.eu.iterable.com",
    })
    void presetResolvesToItsUpstreamWithHostPreserved(String preset, String upstream) throws Exception {
        ClickTlsConfig config = parse("platforms:\n  p: { preset: " + preset + " }\ndomains: []\n");

        assertThat(config.platforms().get("p"))
                .isEqualTo(new Platform("p", URI.create(upstream), Platform.HostHeader.PRESERVE));
    }

    @Test
    void amazonSesPresetBuildsItsUpstreamFromTheRegion() throws Exception {
        ClickTlsConfig config = parse("platforms:\n  ses: { preset: amazon-ses, region: eu-west-1 }\ndomains: []\n");

        assertThat(config.platforms().get("ses").upstream()).isEqualTo(URI.create("https://r.eu-west-1.awstrack.me"));
        assertThat(PlatformPresets.names()).hasSize(11).contains("amazon-ses");
    }

    @Test
    void hostHeaderOverridesThePresets() throws Exception {
        ClickTlsConfig config = parse("platforms:\n  sg: { preset: sendgrid, host_header: upstream }\ndomains: []\n");

        assertThat(config.platforms().get("sg").hostHeader()).isEqualTo(Platform.HostHeader.UPSTREAM);
    }

    @Test
    void domainNamesAreLowerCasedWithoutTrailingDotAndInPunycode() throws Exception {
        ClickTlsConfig config = parse(
                """
                platforms:
                  sg: { preset: sendgrid }
                domains:
                  - { name: Links.EXAMPLE.com., platform: sg }
                  - { name: "*.Shop.Test", platform: sg }
                  - { name: klick.bücher.example, platform: sg }
                """);

        assertThat(config.domains())
                .extracting(Domain::name)
                .containsExactly("links.example.com", "*.shop.test", "klick.xn--bcher-kva.example");
    }

    @Test
    void relativePathsResolveAgainstTheFilesFolder() throws Exception {
        Path folder = Files.createDirectories(tempDir.resolve("etc/clicktls"));
        Files.writeString(folder.resolve("ca.pem"), "pem");
        Path file = folder.resolve("clicktls.yml");
        Files.writeString(
                file,
                """
                storage:
                  directory: ../../data
                certificates:
                  issuer: acme
                  acme:
                    trusted_ca: ca.pem
                """
                        + MINIMAL);

        ClickTlsConfig config = ConfigLoader.load(file);

        assertThat(config.storage().directory())
                .isEqualTo(tempDir.resolve("data").toAbsolutePath());
        assertThat(config.certificates().acme().trustedCa())
                .isEqualTo(folder.resolve("ca.pem").toAbsolutePath());
        assertThat(config.source()).isEqualTo(file.toAbsolutePath());
    }

    @Test
    void storageDefaultsToDataNextToTheFile() throws Exception {
        Path file = tempDir.resolve("clicktls.yml");
        Files.writeString(file, MINIMAL);

        assertThat(ConfigLoader.load(file).storage().directory())
                .isEqualTo(tempDir.resolve("data").toAbsolutePath());
    }

    @ParameterizedTest
    @CsvSource({"500ms, PT0.5S", "30s, PT30S", "10m, PT10M", "12h, PT12H", "30d, PT720H"})
    void durationsTakeOneUnit(String text, Duration expected) throws Exception {
        ClickTlsConfig config = parse("certificates:\n  on_demand:\n    handshake_wait: " + text + "\n" + MINIMAL);

        assertThat(config.certificates().onDemand().handshakeWait()).isEqualTo(expected);
    }

    @Test
    void emptySectionsAndAnEmptyDomainListAreFine() throws Exception {
        ClickTlsConfig config = parse("listen:\nstorage:\ncertificates:\n  acme:\nupgrade:\nplatforms:\ndomains:\n");

        assertThat(config.domains()).isEmpty();
        assertThat(config.platforms()).isEmpty();
        assertThat(config.listen().https().port()).isEqualTo(8443);
    }

    // ---- problems, each at its line and column

    @Test
    void unknownKeyNamesItsSectionAndTheKeysExpected() {
        assertThat(problems("listen:\n  listn: 0.0.0.0:1\n" + MINIMAL))
                .containsExactly(
                        "test.yml:2:3: unknown key 'listn' under 'listen' (expected: https, http, admin, proxy_protocol)");
        assertThat(problems("domain:\n" + MINIMAL))
                .containsExactly("test.yml:1:1: unknown key 'domain' (expected: "
                        + "listen, storage, certificates, platforms, domains, domains_file, upgrade, admin, limits,"
                        + " tuning, node)");
        assertThat(problems("platforms:\n  sg: { preset: sendgrid, regoin: x }\ndomains: []\n"))
                .containsExactly("test.yml:2:27: unknown key 'regoin' under 'platforms.sg' "
                        + "(expected: preset, region, upstream, host_header, upgrade, well_known)");
    }

    @Test
    void portOutOfRangeIsReportedAtTheValue() {
        assertThat(problems("listen:\n  https: 0.0.0.0:70000\n" + MINIMAL))
                .containsExactly("test.yml:2:10: listen.https: port 70000 (expected: 1-65535 or 0)");
    }

    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            quoteCharacter = '"',
            value = {
                "0.0.0.0        | listen.http: '0.0.0.0' (expected: host:port such as 0.0.0.0:8443 or [::]:443)",
                "8080           | listen.http: '8080' (expected: host:port such as 0.0.0.0:8443 or [::]:443)",
                "'::1:8080'     | listen.http: '::1:8080' (expected: an IPv6 address in brackets, such as [::]:443)",
                "'[::1]8080'    | listen.http: '[::1]8080' (expected: host:port such as 0.0.0.0:8443 or [::]:443)",
                "'[zz::1]:8080' | listen.http: 'zz::1' is not an IPv6 address (expected: host:port such as 0.0.0.0:8443 "
                        + "or [::]:443)",
                "300.1.1.1:80   | listen.http: host '300.1.1.1' is not an IPv4 address (expected: host:port such as "
                        + "0.0.0.0:8443 or [::]:443)",
                "bad_host:80    | listen.http: host 'bad_host' has the character '_' (expected: host:port such as "
                        + "0.0.0.0:8443 or [::]:443)",
                "0.0.0.0:http   | listen.http: port http (expected: 1-65535 or 0)",
                "'0.0.0.0:'     | listen.http: port missing (expected: 1-65535 or 0)",
            })
    void malformedListenAddressesAreRejected(String value, String message) {
        assertThat(problems("listen:\n  http: " + value + "\n" + MINIMAL)).containsExactly("test.yml:2:9: " + message);
    }

    @ParameterizedTest
    @ValueSource(strings = {"10", "10 s", "1.5s", "-1s", "10sec", "s", "1234567890s"})
    void durationWithoutAUnitOrWithAnUnknownOneIsRejected(String value) {
        assertThat(problems("certificates:\n  on_demand:\n    handshake_wait: '" + value + "'\n" + MINIMAL))
                .containsExactly("test.yml:3:21: certificates.on_demand.handshake_wait: '" + value
                        + "' (expected: a duration such as 500ms, 30s, 10m, 12h or 30d)");
    }

    @Test
    void handshakeWaitMustBeMoreThanZero() {
        assertThat(problems("certificates:\n  on_demand:\n    handshake_wait: 0s\n" + MINIMAL))
                .containsExactly("test.yml:3:21: certificates.on_demand.handshake_wait: '0s' (expected: more than 0)");
    }

    @Test
    void enumValuesListWhatIsExpected() {
        assertThat(
                        problems(
                                """
                certificates:
                  issuer: letsencrypt
                  key_type: ed25519
                  acme:
                    challenges: [tls-alpn-01, dns-01, tls-alpn-01]
                platforms:
                  p: { upstream: 'http://127.0.0.1:1', host_header: keep }
                domains: []
                upgrade:
                  http: 301
                  html: yes
                """))
                .containsExactly(
                        "test.yml:2:11: certificates.issuer: 'letsencrypt' (expected: internal or acme)",
                        "test.yml:3:13: certificates.key_type: 'ed25519' (expected: ec256, ec384, rsa2048 or rsa4096)",
                        "test.yml:5:31: certificates.acme.challenges[1]: 'dns-01' (expected: tls-alpn-01 or http-01)",
                        "test.yml:5:39: certificates.acme.challenges[2]: 'tls-alpn-01' is listed twice",
                        "test.yml:7:53: platforms.p.host_header: 'keep' (expected: preserve or upstream)",
                        "test.yml:10:9: upgrade.http: '301' (expected: redirect or proxy)",
                        "test.yml:11:9: upgrade.html: 'yes' (expected: true or false)");
    }

    @Test
    void challengesMustBeANonEmptyList() {
        assertThat(problems("certificates:\n  acme:\n    challenges: http-01\n" + MINIMAL))
                .containsExactly("test.yml:3:17: certificates.acme.challenges: 'http-01' (expected: a list such as "
                        + "[tls-alpn-01, http-01])");
        assertThat(problems("certificates:\n  acme:\n    challenges: []\n" + MINIMAL))
                .containsExactly(
                        "test.yml:3:17: certificates.acme.challenges: empty (expected: a list such as [tls-alpn-01, http-01])");
    }

    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            quoteCharacter = '"',
            value = {
                "ftp://sendgrid.net            | 'ftp://sendgrid.net' (expected: an http:// or https:// URL with a host "
                        + "and no path, such as https://sendgrid.net)",
                "sendgrid.net                  | 'sendgrid.net' (expected: an http:// or https:// URL with a host and no "
                        + "path, such as https://sendgrid.net)",
                "https://sendgrid.net/ls/click | 'https://sendgrid.net/ls/click' has a path or query (expected: an http:// "
                        + "or https:// URL with a host and no path, such as https://sendgrid.net)",
                "https://sendgrid.net?x=1      | 'https://sendgrid.net?x=1' has a path or query (expected: an http:// or "
                        + "https:// URL with a host and no path, such as https://sendgrid.net)",
                "https://                      | 'https://' is not a URL: Expected authority (expected: an http:// or "
                        + "https:// URL with a host and no path, such as https://sendgrid.net)",
                "https://u:p@sendgrid.net      | 'https://u:p@sendgrid.net' has no usable host (expected: an http:// or "
                        + "https:// URL with a host and no path, such as https://sendgrid.net)",
                "http://127.0.0.1:0            | port 0 (expected: 1-65535)",
            })
    void upstreamMustBeAnHttpOrHttpsOriginWithoutPath(String url, String message) {
        assertThat(problems("platforms:\n  p:\n    upstream: '" + url + "'\ndomains: []\n"))
                .containsExactly("test.yml:3:15: platforms.p.upstream: " + message);
    }

    @Test
    void askMustBeAnHttpUrl() {
        assertThat(problems("certificates:\n  on_demand:\n    ask: file:///etc/allow\n" + MINIMAL))
                .containsExactly(
                        "test.yml:3:10: certificates.on_demand.ask: 'file:///etc/allow' (expected: an http:// or https:// "
                                + "URL such as http://127.0.0.1:3000/allow)");
    }

    @Test
    void acmeDirectoryMayUsePlainHttpOnlyOnLoopback() throws Exception {
        assertThat(problems("certificates:\n  acme:\n    directory: http://acme.example.com/dir\n" + MINIMAL))
                .containsExactly("test.yml:3:16: certificates.acme.directory: 'http://acme.example.com/dir' "
                        + "(expected: an https:// URL, or http:// to 127.0.0.1 or localhost)");
        assertThat(parse("certificates:\n  acme:\n    directory: http://localhost:14000/dir\n" + MINIMAL)
                        .certificates()
                        .acme()
                        .directory())
                .isEqualTo(URI.create("http://localhost:14000/dir"));
    }

    @Test
    void acmeEmailMustLookLikeOne() {
        assertThat(problems("certificates:\n  acme:\n    email: ops at example.com\n" + MINIMAL))
                .containsExactly(
                        "test.yml:3:12: certificates.acme.email: 'ops at example.com' (expected: an e-mail address such as "
                                + "ops@example.com)");
    }

    @Test
    void trustedCaMustBeReadableWhenTheAcmeIssuerIsUsed() throws Exception {
        String yaml = "certificates:\n  issuer: ISSUER\n  acme:\n    trusted_ca: missing.pem\n" + MINIMAL;

        assertThat(ConfigLoader.parse(yaml.replace("ISSUER", "internal"), "test.yml", tempDir)
                        .certificates()
                        .acme()
                        .trustedCa())
                .isEqualTo(tempDir.resolve("missing.pem"));
        assertThat(TestConfigs.problems(yaml.replace("ISSUER", "acme"), tempDir))
                .containsExactly("test.yml:4:17: certificates.acme.trusted_ca: 'missing.pem' is not a readable "
                        + "file at " + tempDir.resolve("missing.pem") + " (expected: a PEM file)");
    }

    @ParameterizedTest
    @MethodSource("invalidDomainNames")
    void invalidDomainNameIsReportedWithTheReason(String name, String reason) {
        assertThat(problems("platforms:\n  sg: { preset: sendgrid }\ndomains:\n  - name: '" + name
                        + "'\n    platform: sg\n"))
                .containsExactly("test.yml:4:11: domains[0].name: '" + name + "' " + reason
                        + " (expected: a DNS name such as links.example.com, or *.example.com)");
    }

    static Stream<Arguments> invalidDomainNames() {
        String label64 = "a".repeat(64);
        String name254 = ("a".repeat(49) + ".").repeat(5) + "abcd";
        return Stream.of(
                Arguments.of("a..example.com", "has an empty label"),
                Arguments.of(".example.com", "has an empty label"),
                Arguments.of("links.example.com..", "has an empty label"),
                Arguments.of("LINKS..example.com", "has an empty label"),
                Arguments.of("bücher..example", "cannot be converted to ASCII (punycode)"),
                Arguments.of("-a.example.com", "has a label that starts or ends with '-'"),
                Arguments.of("a-.example.com", "has a label that starts or ends with '-'"),
                Arguments.of("*.com", "is a wildcard over a top-level name"),
                Arguments.of("*", "has '*' somewhere other than a leading '*.' label"),
                Arguments.of("a.*.example.com", "has '*' somewhere other than a leading '*.' label"),
                Arguments.of("*.*.example.com", "has '*' somewhere other than a leading '*.' label"),
                Arguments.of("l*nks.example.com", "has '*' somewhere other than a leading '*.' label"),
                Arguments.of("10.0.0.1", "is an IP address"),
                Arguments.of("2001:db8::1", "is an IP address"),
                Arguments.of("links_1.example.com", "has the character '_'"),
                Arguments.of("links example.com", "has the character ' '"),
                Arguments.of(label64 + ".example.com", "has a label longer than 63 characters"),
                Arguments.of(name254, "is longer than 253 characters"));
    }

    @Test
    void longestValidNamesAreAccepted() throws Exception {
        String name253 = ("a".repeat(49) + ".").repeat(5) + "abc";
        String label63 = "b".repeat(63) + ".example.com";

        assertThat(parse("platforms:\n  sg: { preset: sendgrid }\ndomains:\n  - { name: " + name253
                                + ", platform: sg }\n  - { name: " + label63 + ", platform: sg }\n")
                        .domains())
                .extracting(Domain::name)
                .containsExactly(name253, label63);
        assertThat(parse("platforms:\n  sg: { preset: sendgrid }\ndomains:\n  - { name: "
                                + name253.toUpperCase(Locale.ROOT) + "., platform: sg }\n")
                        .domains())
                .extracting(Domain::name)
                .containsExactly(name253);
    }

    @Test
    void domainWithAnUnknownPlatformNamesTheKnownOnes() {
        assertThat(
                        problems(
                                """
                platforms:
                  sg: { preset: sendgrid }
                  mg: { preset: mailgun }
                domains:
                  - name: links.example.com
                    platform: sendgird
                """))
                .containsExactly("test.yml:6:15: domains[0].platform: 'sendgird' is not defined under "
                        + "'platforms' (expected: one of mg, sg)");
    }

    @Test
    void duplicateDomainIsReportedAtTheSecondWithTheFirstsLine() {
        assertThat(
                        problems(
                                """
                platforms:
                  sg: { preset: sendgrid }
                domains:
                  - name: links.example.com
                    platform: sg
                  - name: LINKS.example.com.
                    platform: sg
                """))
                .containsExactly(
                        "test.yml:6:11: domains[1].name: 'links.example.com' is listed twice (first at line 4)");
    }

    @Test
    void domainEntryNeedsBothKeysAndNoOthers() {
        assertThat(
                        problems(
                                """
                platforms:
                  sg: { preset: sendgrid }
                domains:
                  - name: links.example.com
                  - platform: sg
                    nmae: x.example.com
                  - links.example.com
                  - name:
                    platform: sg
                """))
                .containsExactly(
                        "test.yml:4:5: domains[0]: missing key 'platform' (expected: a platform defined under 'platforms')",
                        "test.yml:5:5: domains[1]: missing key 'name' (expected: a DNS name such as links.example.com, or "
                                + "*.example.com)",
                        "test.yml:6:5: unknown key 'nmae' under 'domains[1]' (expected: name, platform, upgrade, well_known)",
                        "test.yml:7:5: domains[2]: 'links.example.com' (expected: { name: HOST, platform: PLATFORM })",
                        "test.yml:8:5: domains[3].name: empty (expected: a DNS name such as links.example.com, or "
                                + "*.example.com)");
    }

    @Test
    void platformProblemsAreEachReported() {
        assertThat(
                        problems(
                                """
                platforms:
                  none: { host_header: preserve }
                  both: { preset: sendgrid, upstream: 'https://sendgrid.net' }
                  typo: { preset: sendgird }
                  ses: { preset: amazon-ses }
                  ses2: { preset: amazon-ses, region: US-EAST-1 }
                  sg: { preset: sendgrid, region: us-east-1 }
                  own: { upstream: 'http://127.0.0.1:1', region: us-east-1 }
                  scalar: sendgrid
                  "bad name": { preset: sendgrid }
                domains: []
                """))
                .containsExactly(
                        "test.yml:2:9: platforms.none: neither 'preset' nor 'upstream' given "
                                + "(expected: { preset: NAME } or { upstream: URL })",
                        "test.yml:3:29: platforms.both: both 'preset' and 'upstream' given (expected: one of them)",
                        "test.yml:4:19: platforms.typo.preset: 'sendgird' (expected: one of sendgrid, sendgrid-eu, mailgun, "
                                + "mailgun-eu, sparkpost, sparkpost-eu, amazon-ses, customerio, customerio-eu, iterable, "
                                + "iterable-eu)",
                        "test.yml:5:8: platforms.ses: preset 'amazon-ses' needs a region "
                                + "(expected: region: us-east-1 or another AWS region)",
                        "test.yml:6:39: platforms.ses2.region: 'US-EAST-1' (expected: an AWS region such as us-east-1)",
                        "test.yml:7:35: platforms.sg.region: preset 'sendgrid' takes no region",
                        "test.yml:8:50: platforms.own.region: only a preset takes a region",
                        "test.yml:9:11: platforms.scalar: 'sendgrid' (expected: { preset: NAME } or { upstream: URL })",
                        "test.yml:10:3: platforms: name 'bad name' (expected: up to 64 letters, digits, '-', '_' or '.', "
                                + "starting with a letter or digit)");
    }

    @Test
    void platformsAndDomainsAreRequired() {
        assertThat(problems("listen:\n  https: 0.0.0.0:443\n"))
                .containsExactly(
                        "test.yml:1:1: missing key 'platforms' (expected: a map from platform names to { preset: NAME } or "
                                + "{ upstream: URL })",
                        "test.yml:1:1: missing key 'domains' (expected: a list of { name: HOST, platform: PLATFORM })");
        assertThat(problems("")).hasSize(2);
    }

    @Test
    void domainsMustBeAList() {
        assertThat(problems("platforms: {}\ndomains:\n  links.example.com: sg\n"))
                .containsExactly(
                        "test.yml:3:3: domains: a map (expected: a list of { name: HOST, platform: PLATFORM })");
    }

    @Test
    void sectionThatIsNotAMapIsReported() {
        assertThat(problems("listen: 0.0.0.0:443\n" + MINIMAL))
                .containsExactly("test.yml:1:9: listen: '0.0.0.0:443' (expected: a map of settings)");
    }

    @Test
    void yamlSyntaxErrorCarriesTheParsersPosition() {
        assertThat(problems("listen:\n  https: 0.0.0.0:8443\n   http: 0.0.0.0:8080\n"))
                .singleElement()
                .asString()
                .startsWith("test.yml:3:8: YAML syntax: mapping values are not allowed here");
        assertThat(problems("platforms: {\ndomains: []\n"))
                .singleElement()
                .asString()
                .startsWith("test.yml:3:1: YAML syntax: ");
        assertThat(problems("listen:\n\thttps: 0.0.0.0:1\n"))
                .singleElement()
                .asString()
                .startsWith("test.yml:2:1: YAML syntax: ");
    }

    @Test
    void duplicateKeysAliasesAndSecondDocumentsAreRejected() {
        assertThat(problems("listen:\n  https: 0.0.0.0:1\n  https: 0.0.0.0:2\n" + MINIMAL))
                .containsExactly("test.yml:3:3: duplicate key 'https' (first at line 2)");
        assertThat(problems("listen:\n  https: &a 0.0.0.0:1\n  http: *a\n" + MINIMAL))
                .containsExactly("test.yml:3:9: alias *a (expected: a plain value; aliases are not supported)");
        assertThat(problems(MINIMAL + "---\n" + MINIMAL))
                .containsExactly("test.yml:7:1: a second YAML document starts here (expected: one document)");
    }

    @Test
    void aMillionAliasesAreRejectedAfterTheFirstFewWithoutReadingTheRest() throws Exception {
        // 1,000,000 aliases of one anchor: reading stops at the first few instead of reporting each
        StringBuilder yaml = new StringBuilder(6_000_000);
        yaml.append("a: &a x\nb: [");
        for (int i = 0; i < 1_000_000; i++) {
            yaml.append(i == 0 ? "*a" : ",*a");
        }
        yaml.append("]\n");
        Path file = tempDir.resolve("aliases.yml");
        Files.writeString(file, yaml);

        assertThatThrownBy(() -> ConfigLoader.load(file)).isInstanceOfSatisfying(ConfigException.class, e -> {
            assertThat(e.problems()).hasSizeLessThanOrEqualTo(YamlTree.MAX_ALIASES + 1);
            assertThat(e.problems().get(0))
                    .hasToString(file + ":2:5: alias *a (expected: a plain value; aliases are not supported)");
            assertThat(e.problems())
                    .last()
                    .asString()
                    .startsWith(file + ":2:")
                    .endsWith(": more than " + YamlTree.MAX_ALIASES
                            + " aliases; the rest of the file was not read"
                            + " (expected: plain values; aliases are not supported)");
        });
    }

    @Test
    void billionLaughsIsRejectedWithoutExpandingItsAliases() {
        StringBuilder yaml = new StringBuilder("lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (int level = 1; level <= 9; level++) {
            yaml.append("lol").append(level).append(": &l").append(level).append(" [");
            for (int i = 0; i < 9; i++) {
                yaml.append(i == 0 ? "" : ", ").append("*l").append(level - 1);
            }
            yaml.append("]\n");
        }

        List<String> problems = problems(yaml.toString());

        assertThat(problems).hasSizeLessThanOrEqualTo(YamlTree.MAX_ALIASES + 1);
        assertThat(problems.get(0))
                .isEqualTo("test.yml:2:12: alias *l0 (expected: a plain value; aliases are not supported)");
    }

    @Test
    void deeplyNestedDocumentIsRejectedAtTheLevelTooDeep() {
        String yaml = "a: " + "[".repeat(100_000) + "]".repeat(100_000) + "\n";

        assertThat(problems(yaml))
                .singleElement()
                .isEqualTo("test.yml:1:" + (4 + YamlTree.MAX_DEPTH)
                        + ": nested more than " + YamlTree.MAX_DEPTH
                        + " levels deep; the rest of the file was not read (expected: a config a few levels deep)");
    }

    @Test
    void tenThousandProblemsAreReportedAsTheFirstHundredAndACount() {
        StringBuilder yaml = new StringBuilder("platforms:\n  sg: { preset: sendgrid }\ndomains:\n");
        for (int i = 0; i < 10_000; i++) {
            yaml.append("  - { name: 'bad..").append(i).append(".example.com', platform: sg }\n");
        }

        ConfigException e = assertThrows(ConfigException.class, () -> parse(yaml.toString()));

        assertThat(e.problems()).hasSize(10_000);
        List<String> lines = e.reportLines();
        assertThat(lines).hasSize(ConfigException.REPORTED_PROBLEMS + 1);
        assertThat(lines.get(0)).startsWith("test.yml:4:13: domains[0].name: 'bad..0.example.com'");
        assertThat(lines.get(ConfigException.REPORTED_PROBLEMS)).isEqualTo("and 9900 more problems");
        assertThat(e.getMessage().lines()).hasSize(ConfigException.REPORTED_PROBLEMS + 2);
    }

    @Test
    void tuningIsReadWithDefaultsForWhatIsLeftOut() throws Exception {
        assertThat(parse(MINIMAL).tuning()).isEqualTo(Tuning.DEFAULTS);
        assertThat(Tuning.DEFAULTS).isEqualTo(new Tuning(Tuning.TransportKind.AUTO, 0, null));
        assertThat(parse(MINIMAL + "tuning:\n  transport: nio\n  event_loops: 3\n  dns_server: 127.0.0.1:5353\n")
                        .tuning())
                .isEqualTo(new Tuning(Tuning.TransportKind.NIO, 3, new Endpoint("127.0.0.1", 5353)));
        assertThat(parse(MINIMAL + "tuning:\n  transport: io_uring\n").tuning().transport())
                .isEqualTo(Tuning.TransportKind.IO_URING);
    }

    @Test
    void theNodeNameDefaultsToTheHostNameAndMayBeSet() throws Exception {
        assertThat(parse(MINIMAL).node()).isEqualTo(NodeIdentity.DEFAULTS);
        assertThat(NodeIdentity.DEFAULTS.name()).isNotBlank();
        assertThat(parse(MINIMAL + "node:\n  name: edge-2.fra\n").node().name()).isEqualTo("edge-2.fra");
    }

    @Test
    void aBadNodeNameIsReportedAtTheValue() {
        assertThat(problems(MINIMAL + "node:\n  name: edge 2/a\n  zone: x\n"))
                .containsExactly(
                        "test.yml:7:9: node.name: edge 2/a (expected: 1-63 letters, digits, '.', '_' or '-', starting"
                                + " with a letter or digit, such as the host name)",
                        "test.yml:8:3: unknown key 'zone' under 'node' (expected: name)");
    }

    @Test
    void badTuningValuesAreReportedAtTheValue() {
        assertThat(problems(MINIMAL + "tuning:\n  transport: kqueue\n  event_loops: -1\n  dns_server: dns.local:53\n"
                        + "  loop_stall: 500us\n"))
                .containsExactly(
                        "test.yml:7:14: tuning.transport: 'kqueue' (expected: auto, epoll, io_uring or nio)",
                        "test.yml:8:16: tuning.event_loops: '-1' (expected: 0 for one per core, or a whole number"
                                + " from 1 to 1024)",
                        "test.yml:9:15: tuning.dns_server: host 'dns.local' is not an IP address"
                                + " (expected: an IP address and port such as 127.0.0.1:53)",
                        "test.yml:10:3: unknown key 'loop_stall' under 'tuning'"
                                + " (expected: transport, event_loops, dns_server)");
    }

    // ---- domains_file

    private static final String TWO_PLATFORMS =
            """
            platforms:
              sg: { preset: sendgrid }
              ses: { preset: amazon-ses, region: us-east-1 }
            """;

    private Path configWithDomainsFile(String yaml, String names) throws IOException {
        Files.writeString(tempDir.resolve("names.txt"), names);
        Path file = tempDir.resolve("clicktls.yml");
        Files.writeString(file, yaml + "domains_file: names.txt\n");
        return file;
    }

    @Test
    void domainsFileEntriesFollowTheDomainsListWithCommentsAndBlankLinesSkipped() throws Exception {
        Path file = configWithDomainsFile(
                TWO_PLATFORMS + "domains:\n  - { name: links.example.com, platform: sg }\n",
                """
                # names moved out of the config

                links.a.example.com sg
                  LINKS.B.Example.com.\tses   # normalized like a domains: entry
                *.c.example.com sg
                *.d.example.com ses #a comment after a space\r
                """);

        ClickTlsConfig config = ConfigLoader.load(file);

        assertThat(config.domains())
                .containsExactly(
                        new Domain("links.example.com", "sg"),
                        new Domain("links.a.example.com", "sg"),
                        new Domain("links.b.example.com", "ses"),
                        new Domain("*.c.example.com", "sg"),
                        new Domain("*.d.example.com", "ses"));
        assertThat(config.domainsFile()).isEqualTo(tempDir.resolve("names.txt").toAbsolutePath());
        assertThat(DomainTable.of(config).serves("x.d.example.com")).isTrue();
    }

    @Test
    void domainsFileMayLeaveThePlatformOutWhenThereIsOnlyOneAndReplaceTheDomainsKey() throws Exception {
        Path file = configWithDomainsFile("platforms:\n  sg: { preset: sendgrid }\n", "links.example.com\n");

        assertThat(ConfigLoader.load(file).domains()).containsExactly(new Domain("links.example.com", "sg"));
    }

    @Test
    void everyBadLineOfTheDomainsFileIsReportedAtItsLineAndColumn() throws Exception {
        Path file = configWithDomainsFile(
                TWO_PLATFORMS + "domains:\n  - { name: links.example.com, platform: sg }\n",
                """
                ok.example.com sg
                bad..example.com sg
                  ok2.example.com mailchimp
                ok3.example.com sg extra
                ok4.example.com
                ok.example.com ses
                links.example.com sg
                """);
        Path names = tempDir.resolve("names.txt");

        assertThatThrownBy(() -> ConfigLoader.load(file))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems())
                        .extracting(ConfigProblem::toString)
                        .containsExactly(
                                names + ":2:1: 'bad..example.com' has an empty label"
                                        + " (expected: a DNS name such as links.example.com, or *.example.com)",
                                names + ":3:19: platform 'mailchimp' is not defined under 'platforms'"
                                        + " (expected: one of ses, sg)",
                                names + ":4:20: unexpected 'extra'"
                                        + " (expected: NAME [PLATFORM] on a line, then at most a # comment)",
                                names + ":5:16: 'ok4.example.com' has no platform"
                                        + " (expected: NAME PLATFORM, since more than one platform is defined"
                                        + " under 'platforms')",
                                names + ":6:1: 'ok.example.com' is listed twice (first at line 1)",
                                names + ":7:1: 'links.example.com' is also listed under 'domains' in " + file
                                        + " at line 5 (expected: each name in one place)"));
    }

    @Test
    void missingDomainsFileIsReportedAtTheKey() throws Exception {
        Path file = tempDir.resolve("clicktls.yml");
        Files.writeString(file, "platforms:\n  sg: { preset: sendgrid }\ndomains_file: absent.txt\n");

        assertThatThrownBy(() -> ConfigLoader.load(file))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems())
                        .extracting(ConfigProblem::toString)
                        .containsExactly(file + ":3:15: domains_file: 'absent.txt' is not a readable file at "
                                + tempDir.resolve("absent.txt").toAbsolutePath()
                                + " (expected: a file of NAME [PLATFORM] lines)"));
    }

    @Test
    void topLevelMustBeAMap() {
        assertThat(problems("- a\n- b\n"))
                .containsExactly("test.yml:1:1: the file holds a list (expected: a map with the keys listen, storage,"
                        + " certificates, platforms, domains, domains_file, upgrade, admin, limits, tuning, node)");
    }

    @Test
    void everyProblemInAFileIsReportedAtOnceInFileOrder() {
        List<String> problems = problems(
                """
                listen:
                  https: 0.0.0.0:99999
                  htps: 0.0.0.0:1
                certificates:
                  issuer: acme2
                platforms:
                  sg: { preset: sendgrid }
                domains:
                  - { name: a..b, platform: sg }
                  - { name: ok.example.com, platform: nope }
                upgrade:
                  http: redirect
                """);

        assertThat(problems).hasSize(5);
        assertThat(problems)
                .extracting(p -> p.substring(0, p.indexOf(": ")))
                .containsExactly("test.yml:2:10", "test.yml:3:3", "test.yml:5:11", "test.yml:9:13", "test.yml:10:39");
    }

    @Test
    void missingOrUnreadableFileIsOneProblemAtTheStart() throws IOException {
        Path missing = tempDir.resolve("nope.yml");
        assertThatThrownBy(() -> ConfigLoader.load(missing))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems())
                        .extracting(String::valueOf)
                        .containsExactly(missing + ":1:1: cannot read the file: it does not exist"));

        Path latin1 = tempDir.resolve("latin1.yml");
        Files.write(latin1, new byte[] {'a', ':', ' ', (byte) 0xE9, '\n'});
        assertThatThrownBy(() -> ConfigLoader.load(latin1))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems())
                        .extracting(String::valueOf)
                        .containsExactly(latin1 + ":1:1: the file is not UTF-8 text"));
    }

    @Test
    void problemsAreNamedByTheFileAsGiven() throws Exception {
        Path file = tempDir.resolve("bad.yml");
        Files.writeString(file, "listen:\n  https: x\n" + MINIMAL);

        assertThatThrownBy(() -> ConfigLoader.load(file)).isInstanceOfSatisfying(ConfigException.class, e -> {
            assertThat(e.problems()).singleElement().satisfies(p -> {
                assertThat(p.file()).isEqualTo(file.toString());
                assertThat(p.line()).isEqualTo(2);
                assertThat(p.column()).isEqualTo(10);
            });
            assertThat(e.getMessage())
                    .isEqualTo("1 problem in config:\n" + file
                            + ":2:10: listen.https: 'x' (expected: host:port such as 0.0.0.0:8443 or [::]:443)");
        });
    }

    // ---- the files users start from

    @Test
    void theShippedConfigAndEveryExampleLoad() throws Exception {
        Path configDir = repoRoot().resolve("config");
        List<Path> files;
        try (Stream<Path> examples = Files.list(configDir.resolve("examples"))) {
            files = Stream.concat(Stream.of(configDir.resolve("clicktls.yml")), examples.sorted())
                    .collect(Collectors.toList());
        }

        for (Path file : files) {
            ClickTlsConfig config = ConfigLoader.load(file);
            assertThat(config.domains()).as(file.toString()).isNotEmpty();
            assertThat(config.platforms()).as(file.toString()).isNotEmpty();
        }
        assertThat(files.stream().map(f -> f.getFileName().toString()))
                .containsAll(
                        PlatformPresets.names().stream().map(n -> n + ".yml").collect(Collectors.toList()));
    }

    @Test
    void shippedConfigServesTheExampleDomainsFromTheStandIn() throws Exception {
        ClickTlsConfig config = ConfigLoader.load(repoRoot().resolve("config/clicktls.yml"));

        assertThat(config.certificates().issuer()).isEqualTo(Certificates.IssuerKind.INTERNAL);
        assertThat(config.storage().directory())
                .isEqualTo(repoRoot().resolve("data").toAbsolutePath().normalize());
        DomainTable table = DomainTable.of(config);
        assertThat(table.find("links.example.test"))
                .get()
                .extracting(r -> r.platform().upstream())
                .isEqualTo(URI.create("http://127.0.0.1:8081"));
        assertThat(table.serves("a.shop.test")).isTrue();
    }

    @Test
    void embeddedDefaultIsTheShippedConfig() throws Exception {
        ClickTlsConfig embedded = ConfigLoader.loadDefault();
        ClickTlsConfig shipped = ConfigLoader.load(repoRoot().resolve("config/clicktls.yml"));

        assertThat(embedded.domains()).isEqualTo(shipped.domains());
        assertThat(embedded.platforms()).isEqualTo(shipped.platforms());
        assertThat(embedded.listen()).isEqualTo(shipped.listen());
        assertThat(embedded.storage().directory())
                .as("the embedded copy resolves as if it stood at ./config/clicktls.yml")
                .isEqualTo(Path.of("data").toAbsolutePath().normalize());
    }

    @Test
    void hundredThousandDomainsLoad() throws Exception {
        int count = 100_000;
        StringBuilder yaml = new StringBuilder(count * 60);
        yaml.append("platforms:\n  sg: { preset: sendgrid }\n  ses: { preset: amazon-ses, region: us-east-1 }\n");
        yaml.append("domains:\n");
        for (int i = 0; i < count; i++) {
            yaml.append("  - name: ")
                    .append(i % 2 == 0 ? "links" : "'*.click")
                    .append(i)
                    .append(".example.com")
                    .append(i % 2 == 0 ? "\n" : "'\n")
                    .append("    platform: ")
                    .append(i % 3 == 0 ? "ses" : "sg")
                    .append('\n');
        }

        ClickTlsConfig config = ConfigLoader.parse(yaml.toString(), "big.yml", BASE);

        assertThat(config.domains()).hasSize(count);
        assertThat(config.domains().get(count - 1)).isEqualTo(new Domain("*.click99999.example.com", "ses"));
        assertThat(DomainTable.of(config).size()).isEqualTo(count);
    }

    // ---- limits:

    @Test
    void connectionLimitsDefaultToDerivedTotalAndNoPerClientLimit() throws Exception {
        assertThat(parse(MINIMAL).limits()).isEqualTo(ConnectionLimits.DEFAULTS);
        assertThat(parse("limits:\n  max_connections: auto\n  max_connections_per_client: off\n" + MINIMAL)
                        .limits())
                .isEqualTo(new ConnectionLimits(ConnectionLimits.AUTO, ConnectionLimits.OFF));
    }

    @Test
    void connectionLimitsAreReadWhenGiven() throws Exception {
        ClickTlsConfig config =
                parse("limits:\n  max_connections: 20000\n  max_connections_per_client: 200\n" + MINIMAL);

        assertThat(config.limits()).isEqualTo(new ConnectionLimits(20000, 200));
        assertThat(config.limits().perClientLimited()).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-5", "many", "1.5", "2000000", "off"})
    void maxConnectionsMustBeAPositiveCountOrAuto(String value) {
        assertThat(problems("limits:\n  max_connections: " + value + "\n" + MINIMAL))
                .containsExactly("test.yml:2:20: limits.max_connections: '" + value
                        + "' (expected: a whole number from 1 to 1000000, or auto)");
    }

    @Test
    void perClientLimitTakesOffButNotAuto() {
        assertThat(problems("limits:\n  max_connections_per_client: auto\n" + MINIMAL))
                .containsExactly("test.yml:2:31: limits.max_connections_per_client: 'auto' "
                        + "(expected: a whole number from 1 to 1000000, or off)");
    }

    @Test
    void unknownKeyUnderLimitsListsTheTwoKeys() {
        assertThat(problems("limits:\n  max_conections: 10\n" + MINIMAL))
                .containsExactly("test.yml:2:3: unknown key 'max_conections' under 'limits' "
                        + "(expected: max_connections, max_connections_per_client)");
    }

    // ---- per-domain options: upgrade and well_known

    private static final String PER_DOMAIN =
            """
            upgrade:
              html: false
            platforms:
              sp:
                preset: sparkpost
                upgrade: { http: proxy }
                well_known:
                  assetlinks.json: files/assetlinks.json
              sg: { preset: sendgrid }
            domains:
              - name: links.example.com
                platform: sp
              - name: app.example.com
                platform: sp
                upgrade: { location: false }
                well_known:
                  /.well-known/apple-app-site-association: files/aasa
              - name: plain.example.com
                platform: sg
            domains_file: names.txt
            """;

    private void writeWellKnownFiles() throws IOException {
        Files.createDirectories(tempDir.resolve("files"));
        Files.writeString(tempDir.resolve("files/assetlinks.json"), "[{\"relation\": []}]\n");
        Files.write(tempDir.resolve("files/aasa"), new byte[] {'{', '}', (byte) 0xff});
        Files.writeString(tempDir.resolve("names.txt"), "file.example.com sp\n");
    }

    @Test
    void domainsAndPlatformsSetUpgradeAndWellKnownFilesOverTheTopLevel() throws Exception {
        writeWellKnownFiles();

        ClickTlsConfig config = ConfigLoader.parse(PER_DOMAIN, "test.yml", tempDir);
        DomainTable table = DomainTable.of(config);
        DomainOptions links = table.find("links.example.com").orElseThrow().options();
        DomainOptions app = table.find("app.example.com").orElseThrow().options();
        DomainOptions fromFile = table.find("file.example.com").orElseThrow().options();
        DomainOptions plain = table.find("plain.example.com").orElseThrow().options();

        assertThat(config.upgrade()).isEqualTo(new Upgrade(Upgrade.HttpMode.REDIRECT, true, false));
        assertThat(links.upgrade()).isEqualTo(new Upgrade(Upgrade.HttpMode.PROXY, true, false));
        assertThat(app.upgrade()).isEqualTo(new Upgrade(Upgrade.HttpMode.PROXY, false, false));
        assertThat(fromFile)
                .as("a domains_file line takes its platform's options")
                .isSameAs(links);
        assertThat(plain.upgradeOr(config.upgrade())).isEqualTo(config.upgrade());
        assertThat(plain.wellKnown()).isEmpty();
        assertThat(links.wellKnown()).containsOnlyKeys("/.well-known/assetlinks.json");
        assertThat(app.wellKnown())
                .containsOnlyKeys("/.well-known/assetlinks.json", "/.well-known/apple-app-site-association");
        WellKnownFile aasa = app.wellKnown("/.well-known/apple-app-site-association");
        assertThat(aasa.content()).containsExactly('{', '}', (byte) 0xff);
        assertThat(aasa.contentType()).isEqualTo("application/json");
        assertThat(links.wellKnown("/.well-known/assetlinks.json").contentType())
                .isEqualTo("application/json");
    }

    @Test
    void missingWellKnownFileIsReportedAtItsValue() throws Exception {
        writeWellKnownFiles();
        Files.delete(tempDir.resolve("files/aasa"));

        assertThat(TestConfigs.problems(PER_DOMAIN, tempDir))
                .containsExactly("test.yml:17:48: domains[1].well_known./.well-known/apple-app-site-association:"
                        + " 'files/aasa' is not a readable file at " + tempDir.resolve("files/aasa")
                        + " (expected: a readable file of at most 1048576 bytes)");
    }

    @Test
    void wellKnownFileOverOneMebibyteIsRejected() throws Exception {
        writeWellKnownFiles();
        Files.write(tempDir.resolve("files/assetlinks.json"), new byte[1024 * 1024 + 1]);

        assertThat(TestConfigs.problems(PER_DOMAIN, tempDir))
                .containsExactly("test.yml:8:24: platforms.sp.well_known.assetlinks.json: "
                        + tempDir.resolve("files/assetlinks.json") + " holds 1048577 bytes"
                        + " (expected: a readable file of at most 1048576 bytes)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"/robots.txt", "../secret", "/.well-known/../x", "a//b", "assetlinks.json?x=1", "a%2Fb"})
    void wellKnownPathOutsideWellKnownIsRejected(String path) throws Exception {
        assertThat(wellKnownPathProblems(path))
                .containsExactly("test.yml:7:7: domains[0].well_known: '" + path + "' (expected: a path under"
                        + " /.well-known/ such as apple-app-site-association or assetlinks.json)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"acme-challenge/token", "/.well-known/acme-challenge/token", "acme-challenge"})
    void wellKnownPathUnderAcmeChallengeIsRejected(String path) throws Exception {
        assertThat(wellKnownPathProblems(path))
                .containsExactly("test.yml:7:7: domains[0].well_known: '" + path + "' is reserved for ACME"
                        + " http-01 challenges (expected: a path under /.well-known/ such as"
                        + " apple-app-site-association or assetlinks.json)");
    }

    @Test
    void perDomainUpgradeValuesAreCheckedLikeTheTopLevelOnes() {
        assertThat(problems(MINIMAL + "    upgrade: { http: 301, colour: red }\n"))
                .containsExactly(
                        "test.yml:6:22: domains[0].upgrade.http: '301' (expected: redirect or proxy)",
                        "test.yml:6:27: unknown key 'colour' under 'domains[0].upgrade' (expected: http, location,"
                                + " html)");
    }

    // ---- helpers

    /** The problems of a domain serving {@code file.json} at the well-known {@code path}. */
    private List<String> wellKnownPathProblems(String path) throws IOException {
        Files.writeString(tempDir.resolve("file.json"), "{}");
        return TestConfigs.problems(MINIMAL + "    well_known:\n      \"" + path + "\": file.json\n", tempDir);
    }

    private static ClickTlsConfig parse(String yaml) throws ConfigException {
        return TestConfigs.parse(yaml, BASE);
    }

    private static List<String> problems(String yaml) {
        return TestConfigs.problems(yaml, BASE);
    }

    static Path repoRoot() {
        Path dir = Path.of("").toAbsolutePath();
        for (Path candidate = dir; candidate != null; candidate = candidate.getParent()) {
            if (Files.isDirectory(candidate.resolve("config/examples"))
                    && Files.isDirectory(candidate.resolve("proxy"))) {
                return candidate;
            }
        }
        throw new IllegalStateException("no repository root above " + dir);
    }
}

package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The keys of on-demand issuance, rate limits and cleanup: defaults, values, and problems with their position. */
class OnDemandConfigTest {

    private static final Path BASE = Path.of("/srv/clicktls/config");
    private static final String REST = TestConfigs.WITH_ON_DEMAND_PLATFORM;

    @Test
    void leftOutKeysHaveTheirDefaults() throws Exception {
        Certificates certificates = parse(REST).certificates();

        OnDemand onDemand = certificates.onDemand();
        assertThat(onDemand.askTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(onDemand.askCache()).isEqualTo(new OnDemand.AskCache(Duration.ofHours(1), Duration.ofMinutes(5)));
        assertThat(onDemand.platform()).isNull();
        assertThat(onDemand.expectDns()).isEmpty();
        assertThat(onDemand.dnsCheck()).isFalse();
        assertThat(onDemand.dnsServer()).isNull();
        assertThat(onDemand.pendingHandshakes()).isEqualTo(new OnDemand.PendingHandshakes(16, 512));
        assertThat(onDemand.prefetch()).isTrue();
        assertThat(certificates.limits()).isEqualTo(new Certificates.Limits(250, 40, 4, 10));
        assertThat(certificates.cleanup()).isEqualTo(new Certificates.Cleanup(Duration.ofDays(30)));
    }

    @Test
    void everyNewKeyIsReadWhenGiven() throws Exception {
        ClickTlsConfig config = parse(
                """
                certificates:
                  on_demand:
                    ask: http://127.0.0.1:3000/allow
                    ask_timeout: 500ms
                    ask_cache: { allow: 2h, deny: 30s }
                    platform: other
                    expect_dns: [Proxy.Example.NET, 203.0.113.7, "2001:DB8::7"]
                    dns_server: 127.0.0.1:8053
                    pending_handshakes: { per_client: 4, total: 100 }
                    prefetch: false
                  limits:
                    orders_per_3h: 10
                    certificates_per_registered_domain_per_week: 5
                    failed_validations_per_name_per_hour: 2
                    new_names_per_client_per_registered_domain_per_week: 3
                  cleanup:
                    grace: 7d
                """
                        + REST);

        OnDemand onDemand = config.certificates().onDemand();
        assertThat(onDemand.ask()).isEqualTo(URI.create("http://127.0.0.1:3000/allow"));
        assertThat(onDemand.askTimeout()).isEqualTo(Duration.ofMillis(500));
        assertThat(onDemand.askCache()).isEqualTo(new OnDemand.AskCache(Duration.ofHours(2), Duration.ofSeconds(30)));
        assertThat(onDemand.platform()).isEqualTo("other");
        assertThat(onDemand.expectDns()).containsExactly("proxy.example.net", "203.0.113.7", "2001:db8::7");
        assertThat(onDemand.dnsServer()).isEqualTo(new Endpoint("127.0.0.1", 8053));
        assertThat(onDemand.pendingHandshakes()).isEqualTo(new OnDemand.PendingHandshakes(4, 100));
        assertThat(onDemand.prefetch()).isFalse();
        assertThat(config.certificates().limits()).isEqualTo(new Certificates.Limits(10, 5, 2, 3));
        assertThat(config.certificates().cleanup().grace()).isEqualTo(Duration.ofDays(7));
        assertThat(ConfigSnapshot.of(config).domains().onDemandPlatform())
                .get()
                .extracting(Platform::name)
                .isEqualTo("other");
    }

    @Test
    void badValuesAreReportedWithTheirLineAndColumn() {
        assertThat(problems(
                        """
                certificates:
                  on_demand:
                    ask: http://127.0.0.1:3000/allow
                    ask_timeout: 0s
                    ask_cache: { allow: soon, denied: 5m }
                    platform: nowhere
                    expect_dns: [proxy..example.net, 300.1.2.3, proxy.example.net, proxy.example.net]
                    dns_server: dns.example.net:53
                    pending_handshakes: { per_client: 20, total: 10 }
                  limits:
                    orders_per_3h: 0
                    certificates_per_registered_domain_per_week: lots
                  cleanup:
                    grace: -1d
                """
                                + REST))
                .containsExactly(
                        "test.yml:4:18: certificates.on_demand.ask_timeout: '0s' (expected: more than 0)",
                        "test.yml:5:25: certificates.on_demand.ask_cache.allow: 'soon'"
                                + " (expected: a duration such as 500ms, 30s, 10m, 12h or 30d)",
                        "test.yml:5:31: unknown key 'denied' under 'certificates.on_demand.ask_cache' (expected: allow, deny)",
                        "test.yml:6:15: certificates.on_demand.platform: 'nowhere' is not defined under 'platforms'"
                                + " (expected: one of other, sg)",
                        "test.yml:7:18: certificates.on_demand.expect_dns[0]: 'proxy..example.net'"
                                + " (expected: a host name such as proxy.example.net, or an IP address)",
                        "test.yml:7:38: certificates.on_demand.expect_dns[1]: '300.1.2.3'"
                                + " (expected: a host name such as proxy.example.net, or an IP address)",
                        "test.yml:7:68: certificates.on_demand.expect_dns[3]: 'proxy.example.net' is listed twice",
                        "test.yml:8:17: certificates.on_demand.dns_server: host 'dns.example.net' is not an IP address"
                                + " (expected: an IP address and port such as 127.0.0.1:53)",
                        "test.yml:9:25: certificates.on_demand.pending_handshakes: per_client 20 is more than total 10"
                                + " (expected: per_client <= total)",
                        "test.yml:11:20: certificates.limits.orders_per_3h: '0' (expected: a whole number from 1 to 1000000)",
                        "test.yml:12:50: certificates.limits.certificates_per_registered_domain_per_week: 'lots'"
                                + " (expected: a whole number from 1 to 1000000)",
                        "test.yml:14:12: certificates.cleanup.grace: '-1d'"
                                + " (expected: a duration such as 500ms, 30s, 10m, 12h or 30d)");
    }

    @Test
    void anOnDemandPlatformWithoutAskIsAProblem() {
        assertThat(problems(
                        """
                certificates:
                  on_demand:
                    platform: other
                """
                                + REST))
                .containsExactly("test.yml:3:15: certificates.on_demand.platform: 'other' is set but"
                        + " certificates.on_demand.ask is not (expected: an ask endpoint to say which names it takes)");
    }

    @Test
    void unknownKeysUnderTheNewSectionsAreProblems() {
        assertThat(problems(
                        """
                certificates:
                  limits:
                    orders_per_hour: 5
                  cleanup:
                    grace_period: 1d
                """
                                + REST))
                .containsExactly(
                        "test.yml:3:5: unknown key 'orders_per_hour' under 'certificates.limits' (expected: orders_per_3h,"
                                + " certificates_per_registered_domain_per_week, failed_validations_per_name_per_hour,"
                                + " new_names_per_client_per_registered_domain_per_week)",
                        "test.yml:5:5: unknown key 'grace_period' under 'certificates.cleanup' (expected: grace)");
    }

    private static ClickTlsConfig parse(String yaml) throws ConfigException {
        return TestConfigs.parse(yaml, BASE);
    }

    private static List<String> problems(String yaml) {
        return TestConfigs.problems(yaml, BASE);
    }
}

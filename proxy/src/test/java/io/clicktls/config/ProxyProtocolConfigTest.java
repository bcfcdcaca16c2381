package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code listen.proxy_protocol.from}: which load balancers send PROXY protocol headers. */
class ProxyProtocolConfigTest {

    private static final Path BASE = Path.of("/srv/clicktls/config");

    @Test
    void absentMeansOff() throws Exception {
        ProxyProtocol off =
                TestConfigs.parse(TestConfigs.MINIMAL, BASE).listen().proxyProtocol();

        assertThat(off.enabled()).isFalse();
        assertThat(off.trusts(InetAddress.getByName("127.0.0.1"))).isFalse();
    }

    @Test
    void bareAddressesStandForThemselvesAndBlocksForTheirRange() throws Exception {
        ProxyProtocol from = read("[10.0.0.0/8, 192.0.2.7, '2001:db8::/32', '::1']");

        assertThat(from.from())
                .extracting(AddressRange::toString)
                .containsExactly("10.0.0.0/8", "192.0.2.7/32", "2001:db8:0:0:0:0:0:0/32", "0:0:0:0:0:0:0:1/128");
        assertThat(from.trusts(InetAddress.getByName("10.255.1.2"))).isTrue();
        assertThat(from.trusts(InetAddress.getByName("11.0.0.1"))).isFalse();
        assertThat(from.trusts(InetAddress.getByName("192.0.2.7"))).isTrue();
        assertThat(from.trusts(InetAddress.getByName("192.0.2.8"))).isFalse();
        assertThat(from.trusts(InetAddress.getByName("2001:db8:ffff::1"))).isTrue();
        assertThat(from.trusts(InetAddress.getByName("2001:db9::1"))).isFalse();
        assertThat(from.trusts(InetAddress.getByName("::1"))).isTrue();
        assertThat(from.trusts(InetAddress.getByName("::2"))).isFalse();
    }

    @Test
    void prefixesThatEndInsideAByteCompareOnlyTheirBits() throws Exception {
        ProxyProtocol from = read("[172.16.0.0/12, '0.0.0.0/0']");
        AddressRange twelve = from.from().get(0);

        assertThat(twelve.contains(InetAddress.getByName("172.31.255.255"))).isTrue();
        assertThat(twelve.contains(InetAddress.getByName("172.32.0.0"))).isFalse();
        assertThat(twelve.contains(InetAddress.getByName("172.15.255.255"))).isFalse();
        assertThat(from.from().get(1).contains(InetAddress.getByName("203.0.113.9")))
                .isTrue();
        assertThat(from.from().get(1).contains(InetAddress.getByName("2001:db8::1")))
                .as("an IPv4 block never holds an IPv6 address")
                .isFalse();
    }

    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            quoteCharacter = '"',
            value = {
                "[10.0.0.0/33]     | 3:12: listen.proxy_protocol.from[0]: '10.0.0.0/33' has a prefix length other than"
                        + " 0-32",
                "[lb.example.com]  | 3:12: listen.proxy_protocol.from[0]: 'lb.example.com' is not an IP address (host"
                        + " names are not resolved here)",
                "[10.0.0.0/8, 10.1] | 3:24: listen.proxy_protocol.from[1]: '10.1' is not an IP address (host names are"
                        + " not resolved here)",
                "['2001:db8::/129'] | 3:12: listen.proxy_protocol.from[0]: '2001:db8::/129' has a prefix length other"
                        + " than 0-128",
                "[10.0.0.0/]       | 3:12: listen.proxy_protocol.from[0]: '10.0.0.0/' has a prefix length other than"
                        + " 0-32",
                "['::ffff:10.0.0.1'] | 3:12: listen.proxy_protocol.from[0]: '::ffff:10.0.0.1' is an IPv4-mapped IPv6"
                        + " address: write it as IPv4",
            })
    void badRangesAreReportedAtTheirLineAndColumn(String list, String message) {
        assertThat(problems(list))
                .containsExactly("test.yml:" + message + " (expected: " + ListenReader.RANGE_EXPECTED + ")");
    }

    @Test
    void aSingleAddressOrAnEmptyListIsReported() {
        assertThat(problems("10.0.0.1"))
                .containsExactly("test.yml:3:11: listen.proxy_protocol.from: '10.0.0.1' (expected: "
                        + ListenReader.RANGES_EXPECTED + ")");
        assertThat(problems("[]"))
                .containsExactly("test.yml:3:11: listen.proxy_protocol.from: empty (leave proxy_protocol out to read"
                        + " no headers) (expected: " + ListenReader.RANGES_EXPECTED + ")");
    }

    @Test
    void unknownKeyUnderProxyProtocolIsReported() {
        assertThat(TestConfigs.problems(
                        "listen:\n  proxy_protocol:\n    form: [10.0.0.1]\n" + TestConfigs.MINIMAL, BASE))
                .containsExactly("test.yml:3:5: unknown key 'form' under 'listen.proxy_protocol' (expected: from)");
    }

    private static ProxyProtocol read(String list) throws ConfigException {
        return TestConfigs.parse(yaml(list), BASE).listen().proxyProtocol();
    }

    private static List<String> problems(String list) {
        return TestConfigs.problems(yaml(list), BASE);
    }

    private static String yaml(String list) {
        return "listen:\n  proxy_protocol:\n    from: " + list + "\n" + TestConfigs.MINIMAL;
    }
}

package io.clicktls.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.ClickTlsServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DoctorCommandTest {

    @TempDir
    Path dir;

    @Test
    void optionsAreReadInAnyOrderAndTheDomainNormalized() {
        DoctorCommand.Options options = DoctorCommand.parse(List.of(
                "Links.Shop.COM.",
                "--expect",
                "proxy.example.net",
                "--config=clicktls.yml",
                "--expect=192.0.2.7",
                "--dns-server",
                "127.0.0.1:8053",
                "--trust",
                "root.pem",
                "--https",
                "[::1]:8443",
                "--admin",
                "http://127.0.0.1:9090"));

        assertThat(options.domain()).isEqualTo("links.shop.com");
        assertThat(options.config()).isEqualTo(Path.of("clicktls.yml"));
        assertThat(options.expect()).containsExactly("proxy.example.net", "192.0.2.7");
        assertThat(options.dnsServer().getHostString()).isEqualTo("127.0.0.1");
        assertThat(options.dnsServer().getPort()).isEqualTo(8053);
        assertThat(options.trust()).containsExactly(Path.of("root.pem"));
        assertThat(options.https().getHostString()).isEqualTo("::1");
        assertThat(options.admin()).isEqualTo("http://127.0.0.1:9090");
    }

    @Test
    void withoutADomainDoctorChecksTheNodeItself() {
        DoctorCommand.Options options = DoctorCommand.parse(List.of("--config", "c.yml"));

        assertThat(options.domain()).isNull();
        assertThat(options.config()).isEqualTo(Path.of("c.yml"));
    }

    @Test
    void badUsageIsExplained() {
        assertThatThrownBy(() -> DoctorCommand.parse(List.of("a.test"))).hasMessageContaining("--config FILE");
        assertThatThrownBy(() -> DoctorCommand.parse(List.of("--config", "c", "a.test", "b.test")))
                .hasMessageContaining("one DOMAIN only");
        assertThatThrownBy(() -> DoctorCommand.parse(List.of("--config", "c", "--dns-server", "nope", "a.test")))
                .hasMessageContaining("--dns-server: nope (expected: HOST:PORT)");
        assertThatThrownBy(() -> DoctorCommand.parse(List.of("--config", "c", "--bogus", "a.test")))
                .hasMessageContaining("unknown option --bogus");
    }

    @Test
    void configThatDoesNotLoadIsACrossWithItsProblemsAndExitTwo() throws Exception {
        Path config = dir.resolve("bad.yml");
        Files.writeString(config, "listen:\n  https: 0.0.0.0:70000\nplatforms: {}\ndomains: []\n");
        ByteArrayOutputStream out = new ByteArrayOutputStream();

        int code = DoctorCommand.run(
                List.of("--config", config.toString(), "links.shop.test"),
                ClickTlsServer::existingStorage,
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(new ByteArrayOutputStream()));

        assertThat(code).isEqualTo(2);
        assertThat(out.toString(StandardCharsets.UTF_8))
                .startsWith("✘ config: " + config + " does not load:")
                .contains(config + ":2:10: listen.https: port 70000 (expected: 1-65535 or 0)");
    }
}

package io.clicktls.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.config.Certificates;
import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigLoader;
import io.clicktls.config.Domain;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The YAML that {@link RunningNode.Config} writes is a config the node reads as the builder said. */
class RunningNodeConfigTest {

    @TempDir
    Path dir;

    @Test
    void builtConfigLoadsWithEveryPartWhereTheBuilderPutIt() throws Exception {
        RunningNode.Config config = RunningNode.config(dir)
                .listeners(8443, 8080)
                .storage("state")
                .acme(URI.create("https://127.0.0.1:14000/dir"), dir.resolve("ca.pem"), "tls-alpn-01, http-01")
                .set("certificates.on_demand.handshake_wait", "7s")
                .set("certificates.limits.orders_per_3h", "2")
                .platform("stand-in", 9000)
                .domains("stand-in", "links.example.test", "*.shop.test")
                .upgrade(true, false)
                .yaml("admin:\n  token: builder-test-token-0123456789");
        Files.writeString(dir.resolve("ca.pem"), "");

        ClickTlsConfig loaded = ConfigLoader.load(config.write());

        assertThat(config.file()).isEqualTo(dir.resolve("clicktls.yml"));
        assertThat(loaded.listen().https().port()).isEqualTo(8443);
        assertThat(loaded.listen().http().port()).isEqualTo(8080);
        assertThat(loaded.listen().admin().port()).isZero();
        assertThat(loaded.storage().directory()).isEqualTo(dir.resolve("state"));
        assertThat(loaded.certificates().issuer()).isEqualTo(Certificates.IssuerKind.ACME);
        assertThat(loaded.certificates().onDemand().handshakeWait()).isEqualTo(Duration.ofSeconds(7));
        assertThat(loaded.certificates().limits().ordersPer3h()).isEqualTo(2);
        assertThat(loaded.platforms().get("stand-in").upstream()).isEqualTo(URI.create("http://127.0.0.1:9000"));
        assertThat(loaded.domains())
                .containsExactly(new Domain("links.example.test", "stand-in"), new Domain("*.shop.test", "stand-in"));
        assertThat(loaded.upgrade().location()).isTrue();
        assertThat(loaded.upgrade().html()).isFalse();
        assertThat(loaded.admin().token()).isEqualTo("builder-test-token-0123456789");
    }

    @Test
    void replaceSwapsTheFileForTheTextGiven() throws Exception {
        RunningNode.Config config =
                RunningNode.config(dir).platform("stand-in", 9000).domains("stand-in", "a.example.test");
        config.write();

        config.clearDomains().domains("stand-in", "b.example.test").replace();

        assertThat(ConfigLoader.load(config.file()).domains())
                .containsExactly(new Domain("b.example.test", "stand-in"));
        assertThat(dir.resolve("clicktls.yml.tmp")).doesNotExist();
    }
}

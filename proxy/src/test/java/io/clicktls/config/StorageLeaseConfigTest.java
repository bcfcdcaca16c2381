package io.clicktls.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** {@code storage.lease}: how long a node's claim on ordering a name lasts in a cluster. */
class StorageLeaseConfigTest {

    private static final Path BASE = Path.of("/srv/clicktls/config");

    @Test
    void leftOutTheLeaseLastsThirtySeconds() throws Exception {
        ClickTlsConfig config = TestConfigs.parse(TestConfigs.MINIMAL, BASE);

        assertThat(config.storage().lease()).isEqualTo(Duration.ofSeconds(30));
    }

    @Test
    void aGivenLeaseIsRead() throws Exception {
        ClickTlsConfig config = TestConfigs.parse("storage:\n  lease: 5s\n" + TestConfigs.MINIMAL, BASE);

        assertThat(config.storage().lease()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void aLeaseOfNothingIsRefusedWithItsPlace() {
        assertThat(TestConfigs.problems("storage:\n  lease: 0s\n" + TestConfigs.MINIMAL, BASE))
                .singleElement()
                .asString()
                .contains("test.yml:2:")
                .contains("storage.lease");
    }
}

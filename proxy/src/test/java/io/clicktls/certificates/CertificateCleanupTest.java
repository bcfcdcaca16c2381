package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;

import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.Domain;
import io.clicktls.testing.InternalCaStack;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CertificateCleanupTest {

    @TempDir
    Path dir;

    private InternalCaStack pki;
    private CertificateCleanup cleanup;

    @BeforeEach
    void setUp() throws Exception {
        pki = InternalCaStack.create(dir, "kept.shop.test", "removed.shop.test");
        pki.store.save(pki.internalIssuer.issue("kept.shop.test"));
        pki.store.save(pki.internalIssuer.issue("removed.shop.test"));
        cleanup = newCleanup();
    }

    private CertificateCleanup newCleanup() throws Exception {
        CertificateCleanup made = new CertificateCleanup(
                pki.config, pki.store, new IssuancePolicy(), pki.store::delete, Runnable::run, pki.clock);
        made.load();
        return made;
    }

    @AfterEach
    void tearDown() {
        pki.close();
    }

    @Test
    void aNameRemovedFromTheConfigIsNotRenewedAndItsCertificateGoesAfterTheGracePeriod() throws Exception {
        assertThat(cleanup.runOnce()).isEqualTo(new CertificateCleanup.Pass(2, 0, 0, 0, 0));
        removeFromConfig();

        assertThat(cleanup.runOnce()).isEqualTo(new CertificateCleanup.Pass(2, 1, 0, 0, 0));
        assertThat(cleanup.renewable("removed.shop.test")).isFalse();
        assertThat(cleanup.renewable("kept.shop.test")).isTrue();
        assertThat(cleanup.marked("removed.shop.test"))
                .get()
                .extracting(CertificateCleanup.Mark::reason)
                .isEqualTo(Refusal.NOT_CONFIGURED.label());

        pki.clock.advance(Duration.ofDays(29));
        assertThat(cleanup.runOnce().deleted()).isZero();
        assertThat(pki.store.names()).contains("removed.shop.test");

        pki.clock.advance(Duration.ofDays(1));
        assertThat(cleanup.runOnce().deleted()).isEqualTo(1);
        assertThat(pki.store.names()).containsExactly("kept.shop.test");
        assertThat(cleanup.marked("removed.shop.test")).isEmpty();
    }

    @Test
    void aNameAllowedAgainWithinTheGracePeriodIsKeptAndRenewedAsUsual() throws Exception {
        ClickTlsConfig original = pki.config.get().config();
        removeFromConfig();
        cleanup.runOnce();
        pki.config.replace(original);
        pki.clock.advance(Duration.ofDays(40));

        assertThat(cleanup.runOnce().cleared()).isEqualTo(1);

        assertThat(cleanup.renewable("removed.shop.test")).isTrue();
        assertThat(pki.store.names()).contains("removed.shop.test");
    }

    @Test
    void theGracePeriodSurvivesARestart() throws Exception {
        removeFromConfig();
        cleanup.runOnce();
        pki.clock.advance(Duration.ofDays(31));

        CertificateCleanup restarted = newCleanup();

        assertThat(restarted.renewable("removed.shop.test")).isFalse();
        assertThat(restarted.runOnce().deleted()).isEqualTo(1);
    }

    private void removeFromConfig() {
        ClickTlsConfig config = pki.config.get().config();
        pki.config.replace(new ClickTlsConfig(
                config.listen(),
                config.storage(),
                config.certificates(),
                config.platforms(),
                List.of(new Domain("kept.shop.test", "stand-in")),
                config.upgrade(),
                config.source()));
    }
}

package io.clicktls.certificates;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.clicktls.config.Certificates;
import io.clicktls.config.ClickTlsConfig;
import io.clicktls.config.ConfigSnapshot;
import io.clicktls.pki.CertifiedKey;
import io.clicktls.storage.FileStorage;
import io.clicktls.testing.InternalCaStack;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.util.Date;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InternalIssuerTest {

    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

    @TempDir
    Path directory;

    private InternalCaStack pki;

    @BeforeEach
    void setUp() throws Exception {
        pki = InternalCaStack.create(directory, "links.shop.test");
    }

    @AfterEach
    void tearDown() throws Exception {
        pki.close();
    }

    @Test
    void leafChainValidatesAgainstTheRootWithPkix() throws Exception {
        CertifiedKey issued = pki.internalIssuer.issue("links.shop.test");

        CertificateFactory factory = CertificateFactory.getInstance("X.509");
        PKIXParameters parameters = new PKIXParameters(Set.of(new TrustAnchor(pki.root(), null)));
        parameters.setRevocationEnabled(false);
        CertPathValidator.getInstance("PKIX").validate(factory.generateCertPath(issued.chain()), parameters);

        assertThat(issued.chain()).hasSize(1);
        assertThat(issued.issuer()).isEqualTo("internal");
    }

    @Test
    void leafNamesExactlyTheHostForServerAuthForNinetyDays() throws Exception {
        X509Certificate leaf = pki.internalIssuer.issue("links.shop.test").leaf();

        assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(2, "links.shop.test"));
        assertThat(leaf.getExtendedKeyUsage()).containsExactly(SERVER_AUTH);
        assertThat(leaf.getKeyUsage()[0]).as("digitalSignature").isTrue();
        assertThat(leaf.getKeyUsage()[2]).as("keyEncipherment, only for RSA").isFalse();
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
        assertThat(Duration.between(pki.clock.instant(), leaf.getNotAfter().toInstant())
                        .toSeconds())
                .isCloseTo(Duration.ofDays(90).toSeconds(), within(1L)); // certificates keep whole seconds
        assertThat(leaf.getNotBefore()).isBefore(Date.from(pki.clock.instant()));
        assertThat(leaf.getSerialNumber().bitLength()).isBetween(64, 128);
        assertThat(leaf.getPublicKey().getAlgorithm()).isEqualTo("EC");
    }

    @Test
    void serialsDifferBetweenCertificates() throws Exception {
        assertThat(pki.internalIssuer.issue("links.shop.test").leaf().getSerialNumber())
                .isNotEqualTo(pki.internalIssuer.issue("links.shop.test").leaf().getSerialNumber());
    }

    @Test
    void rootIsATenYearEcCaStoredUnderCa() throws Exception {
        X509Certificate root = pki.root();

        assertThat(root.getBasicConstraints()).isGreaterThanOrEqualTo(0);
        assertThat(root.getKeyUsage()[5]).as("keyCertSign").isTrue();
        assertThat(root.getKeyUsage()[6]).as("cRLSign").isTrue();
        assertThat(root.getSubjectX500Principal().getName()).contains("CN=clicktls local CA ");
        assertThat(root.getPublicKey().getAlgorithm()).isEqualTo("EC");
        assertThat(Duration.between(pki.clock.instant(), root.getNotAfter().toInstant())
                        .toSeconds())
                .isCloseTo(Duration.ofDays(3650).toSeconds(), within(1L));
        assertThat(directory.resolve("ca/root.pem")).exists();
        assertThat(directory.resolve("ca/root-key.pem")).exists();
        assertThat(Files.readString(directory.resolve("ca/root.pem"))).startsWith("-----BEGIN CERTIFICATE-----");
    }

    @Test
    void theSameRootIsUsedAfterARestart() throws Exception {
        InternalIssuer again = InternalIssuer.open(new FileStorage(directory), pki.config);

        assertThat(again.root()).isEqualTo(pki.root());
        X509Certificate leaf = again.issue("links.shop.test").leaf();
        leaf.verify(pki.root().getPublicKey());
    }

    @Test
    void aRootWithoutItsKeyIsRefusedRatherThanReplaced() throws Exception {
        Files.delete(directory.resolve("ca/root-key.pem"));

        assertThatThrownBy(() -> InternalIssuer.open(new FileStorage(directory), pki.config))
                .hasMessageContaining("half there");
    }

    @Test
    void rsaKeyTypeGivesRsaLeavesWithKeyEncipherment() throws Exception {
        ClickTlsConfig base = pki.config.get().config();
        Certificates rsa = new Certificates(
                base.certificates().issuer(),
                Certificates.KeyType.RSA2048,
                base.certificates().acme(),
                base.certificates().onDemand());
        ConfigSnapshot snapshot = ConfigSnapshot.of(new ClickTlsConfig(
                base.listen(), base.storage(), rsa, base.platforms(), base.domains(), base.upgrade(), base.source()));
        InternalIssuer issuer = InternalIssuer.open(new FileStorage(directory), () -> snapshot);

        X509Certificate leaf = issuer.issue("links.shop.test").leaf();

        assertThat(((RSAPublicKey) leaf.getPublicKey()).getModulus().bitLength())
                .isEqualTo(2048);
        assertThat(leaf.getKeyUsage()[2]).as("keyEncipherment").isTrue();
    }

    @Test
    void namesThatAreNotHostNamesAreNotIssued() {
        assertThatThrownBy(() -> pki.internalIssuer.issue("*.shop.test")).isInstanceOf(IssuanceException.class);
        assertThatThrownBy(() -> pki.internalIssuer.issue("127.0.0.1")).isInstanceOf(IssuanceException.class);
    }
}

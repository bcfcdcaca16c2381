package io.clicktls.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.ssl.OpenSslX509KeyManagerFactory;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.Date;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;

class CertifiedKeyManagerFactoryTest {

    @Test
    void theFactoryIsNettysPreconvertingOneAndServesTheGivenKeyAndChainAsTheyAre() throws Exception {
        KeyPair pair = ecKeyPair(null);
        X509Certificate[] chain = {selfSigned(pair)};

        KeyManagerFactory factory = CertifiedKeyManagerFactory.forBoringSsl(pair.getPrivate(), chain);

        assertThat(factory).isInstanceOf(OpenSslX509KeyManagerFactory.class);
        X509ExtendedKeyManager manager = onlyManager(factory);
        String alias = manager.chooseEngineServerAlias("EC", null, null);
        assertThat(alias).isNotNull();
        assertThat(manager.getPrivateKey(alias)).isSameAs(pair.getPrivate());
        assertThat(manager.getCertificateChain(alias)).isSameAs(chain);
    }

    @Test
    void anEcKeyIsChosenForEcKeyTypesOnlyEvenWhenBouncyCastleNamesItEcdsa() throws Exception {
        KeyPair pair = ecKeyPair(new BouncyCastleProvider());
        assertThat(pair.getPrivate().getAlgorithm()).isEqualTo("ECDSA");

        X509ExtendedKeyManager manager = onlyManager(
                CertifiedKeyManagerFactory.forBoringSsl(pair.getPrivate(), new X509Certificate[] {selfSigned(pair)}));

        assertThat(manager.chooseEngineServerAlias("EC", null, null)).isNotNull();
        assertThat(manager.chooseEngineServerAlias("EC_EC", null, null)).isNotNull();
        assertThat(manager.chooseEngineServerAlias("RSA", null, null)).isNull();
        assertThat(manager.getClientAliases("EC", null)).isNull();
    }

    private static X509ExtendedKeyManager onlyManager(KeyManagerFactory factory) {
        KeyManager[] managers = factory.getKeyManagers();
        assertThat(managers).hasSize(1);
        assertThat(managers[0]).isInstanceOf(X509ExtendedKeyManager.class);
        return (X509ExtendedKeyManager) managers[0];
    }

    private static KeyPair ecKeyPair(java.security.Provider provider) throws Exception {
        KeyPairGenerator generator =
                provider == null ? KeyPairGenerator.getInstance("EC") : KeyPairGenerator.getInstance("ECDSA", provider);
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        return generator.generateKeyPair();
    }

    private static X509Certificate selfSigned(KeyPair pair) throws Exception {
        X500Name subject = new X500Name("CN=keys.shop.test");
        Instant now = Instant.now();
        var builder = new JcaX509v3CertificateBuilder(
                subject,
                BigInteger.ONE,
                Date.from(now.minusSeconds(60)),
                Date.from(now.plusSeconds(3600)),
                subject,
                pair.getPublic());
        var signer = new JcaContentSignerBuilder("SHA256withECDSA")
                .setProvider(new BouncyCastleProvider())
                .build(pair.getPrivate());
        return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
    }
}

package io.clicktls.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.clicktls.certificates.InternalIssuer;
import io.clicktls.config.Certificates.KeyType;
import io.clicktls.testing.InternalCaStack;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.Security;
import java.security.Signature;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.RSAPrivateKey;
import java.util.List;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class PemTest {

    @TempDir
    Path directory;

    @ParameterizedTest
    @EnumSource(
            value = KeyType.class,
            names = {"EC256", "EC384", "RSA2048"})
    void privateKeysSurviveEncodingAndStillSign(KeyType type) throws Exception {
        KeyPair pair = KeyPairs.generate(type);
        byte[] pem = Pem.encodeKey(pair.getPrivate());

        PrivateKey decoded = Pem.decodeKey(pem);

        assertThat(new String(pem, StandardCharsets.US_ASCII)).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(decoded.getEncoded()).isEqualTo(pair.getPrivate().getEncoded());
        String algorithm = type.name().startsWith("EC") ? "SHA256withECDSA" : "SHA256withRSA";
        Signature signer = Signature.getInstance(algorithm);
        signer.initSign(decoded);
        signer.update(new byte[] {1, 2, 3});
        Signature verifier = Signature.getInstance(algorithm);
        verifier.initVerify(pair.getPublic());
        verifier.update(new byte[] {1, 2, 3});
        assertThat(verifier.verify(signer.sign())).isTrue();
    }

    @Test
    void keyTypesHaveTheirCurvesAndSizes() {
        assertThat(((ECPrivateKey) KeyPairs.generate(KeyType.EC256).getPrivate())
                        .getParams()
                        .getOrder()
                        .bitLength())
                .isEqualTo(256);
        assertThat(((ECPrivateKey) KeyPairs.generate(KeyType.EC384).getPrivate())
                        .getParams()
                        .getOrder()
                        .bitLength())
                .isEqualTo(384);
        assertThat(((RSAPrivateKey) KeyPairs.generate(KeyType.RSA2048).getPrivate())
                        .getModulus()
                        .bitLength())
                .isEqualTo(2048);
        assertThat(KeyPairs.algorithm(KeyType.RSA4096)).isEqualTo("RSA");
    }

    @Test
    void chainsSurviveEncodingInOrder() throws Exception {
        try (InternalCaStack pki = InternalCaStack.create(directory, "a.test")) {
            InternalIssuer issuer = pki.internalIssuer;
            CertifiedKey leaf = issuer.issue("a.test");
            List<java.security.cert.X509Certificate> chain = List.of(leaf.leaf(), issuer.root());

            List<java.security.cert.X509Certificate> decoded = Pem.decodeChain(Pem.encodeChain(chain));

            assertThat(decoded).containsExactlyElementsOf(chain);
        }
    }

    @Test
    void garbageAndWrongContentAreIoExceptions() throws Exception {
        assertThatThrownBy(() -> Pem.decodeChain("".getBytes(StandardCharsets.US_ASCII)))
                .isInstanceOf(IOException.class);
        assertThatThrownBy(() ->
                        Pem.decodeChain("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n"
                                .getBytes(StandardCharsets.US_ASCII)))
                .isInstanceOf(IOException.class);
        assertThatThrownBy(() -> Pem.decodeKey("nothing".getBytes(StandardCharsets.US_ASCII)))
                .isInstanceOf(IOException.class);
        byte[] keyPem = Pem.encodeKey(KeyPairs.generate(KeyType.EC256).getPrivate());
        assertThatThrownBy(() -> Pem.decodeChain(keyPem)).isInstanceOf(IOException.class);
        byte[] twoKeys = (new String(keyPem, StandardCharsets.US_ASCII) + new String(keyPem, StandardCharsets.US_ASCII))
                .getBytes(StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> Pem.decodeKey(twoKeys)).isInstanceOf(IOException.class);
    }

    @Test
    void traditionalOpenSslKeysStillDecodeToTheSameKey() throws Exception {
        // RSA only: Bouncy Castle writes a JDK EC key's traditional form without its curve, which no reader accepts
        KeyPair pair = KeyPairs.generate(KeyType.RSA2048);
        StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
            writer.writeObject(pair.getPrivate()); // "RSA PRIVATE KEY"
        }
        assertThat(text.toString()).doesNotStartWith("-----BEGIN PRIVATE KEY-----");

        PrivateKey decoded = Pem.decodeKey(text.toString().getBytes(StandardCharsets.US_ASCII));

        assertThat(decoded.getEncoded()).isEqualTo(pair.getPrivate().getEncoded());
    }

    @Test
    void explanatoryTextAroundBlocksIsSkippedButStrayCharactersInsideAreRejected() throws Exception {
        String key =
                new String(Pem.encodeKey(KeyPairs.generate(KeyType.EC256).getPrivate()), StandardCharsets.US_ASCII);

        assertThat(Pem.decodeKey(("a comment\r\n" + key.replace("\n", "\r\n") + "trailing text\n")
                        .getBytes(StandardCharsets.US_ASCII)))
                .isNotNull();
        String broken = key.replaceFirst("\n([A-Za-z0-9+/]{10})", "\n$1!");
        assertThatThrownBy(() -> Pem.decodeKey(broken.getBytes(StandardCharsets.US_ASCII)))
                .isInstanceOf(IOException.class);
        String unterminated = key.substring(0, key.indexOf("-----END"));
        assertThatThrownBy(() -> Pem.decodeKey(unterminated.getBytes(StandardCharsets.US_ASCII)))
                .isInstanceOf(IOException.class);
    }

    @Test
    void decodedKeysComeFromTheJdkEvenWithBouncyCastleRegistered() throws Exception {
        JcaProviders.registerBouncyCastle();
        for (KeyType type : List.of(KeyType.EC256, KeyType.RSA2048)) {
            KeyPair pair = KeyPairs.generate(type);

            PrivateKey decoded = Pem.decodeKey(Pem.encodeKey(pair.getPrivate()));

            assertThat(decoded.getClass().getName()).startsWith("sun.security.");
            assertThat(decoded.getEncoded()).isEqualTo(pair.getPrivate().getEncoded());
        }
    }

    @Test
    void bouncyCastleIsRegisteredOnceHoweverOftenAsked() {
        JcaProviders.registerBouncyCastle();
        JcaProviders.registerBouncyCastle();

        long registered = java.util.Arrays.stream(Security.getProviders())
                .filter(provider -> provider.getName().equals(BouncyCastleProvider.PROVIDER_NAME))
                .count();
        assertThat(registered).isEqualTo(1);
    }
}
